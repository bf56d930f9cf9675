/* test-txn.c: the server transaction machines (xml/transaction/ist.xml and
 * nist.xml) and the UAS flow, on the fake clock: every timer fires by advancing
 * time, never by sleeping.  A plain UDP socket on loopback plays the peer.
 *  - invite_answered: 100, 180, 200; the 2xx retransmitted at T1, 2T1, 4T1 up to T2
 *    until the ACK (13.3.1.4); Timer L ends the INVITE transaction (RFC 6026); a BYE
 *    gets 200, its retransmission the same 200 again; Timer J ends it (17.2.2)
 *  - invite_rejected_no_ack: 486 retransmitted by Timer G (T1 doubling to T2) until
 *    Timer H (64*T1) ends the transaction (17.2.1)
 *  - invite_rejected_acked: the ACK stops Timer G; its retransmission is absorbed;
 *    Timer I (T4) ends the transaction
 *  - untaken_requests: what the flow does not take is answered by the framework:
 *    405 for a known method, 501 for an unknown one, 481 for a BYE in no dialog;
 *    a retransmitted request gets the same answer; Timer J ends each transaction */
#include "config.h"
#include "sf-test.h"
#include "framework/sf-stack.h"
#include <string.h>

typedef struct {
  SfTestEnv *env;
  SfStack *stack;
  SfMachine *tu;
  GSocket *peer;
  GInetSocketAddress *to;
  guint peer_port;
} Txn;

static Txn *
txn_setup (SfMachine *tu)
{
  Txn *t = g_new0 (Txn, 1);
  t->env = sf_test_env_new ();
  CU_ASSERT_TRUE (sf_stack_declare_config (t->env->cfg, NULL));
  sf_endpoint_attach (t->env->ep, NULL);
  t->tu = tu;
  g_autoptr (GError) error = NULL;
  t->stack = sf_stack_new (t->env->ep, t->env->loader, tu, &error);
  g_assert (t->stack != NULL);
  g_assert (sf_stack_listen (t->stack, "udp:127.0.0.1:0", NULL));
  const char *line = t->env->lines->pdata[t->env->lines->len - 1];
  guint port = (guint) g_ascii_strtoull (strstr (line, "\"port\":") + 7, NULL, 10);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  t->to = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (lo, (guint16) port));
  t->peer = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert (g_socket_bind (t->peer, any, FALSE, NULL));
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (t->peer, NULL);
  t->peer_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  g_socket_set_blocking (t->peer, FALSE);
  return t;
}

static void
txn_free (Txn *t)
{
  g_autoptr (GPtrArray) left = sf_endpoint_instances (t->env->ep);
  for (guint i = 0; i < left->len; i++)
    sf_endpoint_kill (t->env->ep, left->pdata[i], "test end");
  sf_stack_free (t->stack);
  sf_machine_unref (t->tu);
  g_object_unref (t->peer);
  g_object_unref (t->to);
  sf_test_env_free (t->env);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_free (t);
}

/* Sends a request; %PORT% becomes the peer's port. */
static void
send_req (Txn *t, const char *method, const char *branch, const char *cseq_method, const char *to_tag)
{
  g_autofree char *text = g_strdup_printf (
    "%s sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:uas@127.0.0.1>%s%s\r\nCall-ID: txn-test@127.0.0.1\r\n"
    "CSeq: %u %s\r\nContent-Length: 0\r\n\r\n",
    method, t->peer_port, branch, to_tag != NULL ? ";tag=" : "", to_tag != NULL ? to_tag : "",
    strcmp (cseq_method, "BYE") == 0 ? 2 : 1, cseq_method);
  g_socket_send_to (t->peer, G_SOCKET_ADDRESS (t->to), text, strlen (text), NULL, NULL);
}

static gboolean
timed_out (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* The next datagram's status code (0 for none within 5 s of real time while the
 * main loop turns: the stack receives and answers from it). */
static guint
recv_status (Txn *t, char **to_tag)
{
  gboolean out = FALSE;
  guint id = g_timeout_add (5000, timed_out, &out);
  while (!out && !g_socket_condition_check (t->peer, G_IO_IN))
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  char buf[4096];
  gssize n = g_socket_receive (t->peer, buf, sizeof buf - 1, NULL, NULL);
  if (n <= 12)
    return 0;
  buf[n] = '\0';
  if (to_tag != NULL) {
    const char *tg = strstr (buf, "\r\nTo: ");
    tg = tg != NULL ? strstr (tg, ";tag=") : NULL;
    *to_tag = tg != NULL ? g_strndup (tg + 5, strcspn (tg + 5, "\r\n;")) : NULL;
  }
  return (guint) g_ascii_strtoull (buf + 8, NULL, 10);
}

/* Nothing more was sent: the main loop is run dry first (bounded). */
static gboolean
nothing_sent (Txn *t)
{
  for (int i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  return !g_socket_condition_check (t->peer, G_IO_IN);
}

static void
advance (Txn *t, guint ms)
{
  sf_endpoint_advance (t->env->ep, ms);
}

static SfMachine *
load_flow (SfTestEnv *env, const char *path)
{
  return sf_loader_load (env->loader, path, NULL);
}

static void
invite_answered (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (load_flow (scratch, SF_SRCDIR "/xml/examples/uas-answer.xml"));
  sf_test_env_free (scratch);
  send_req (t, "INVITE", "z9hG4bKinv1", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 100);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  advance (t, 0); /* the flow answers on timer answer=0ms */
  g_autofree char *tag = NULL;
  CU_ASSERT_EQUAL (recv_status (t, &tag), 200);
  CU_ASSERT_PTR_NOT_NULL_FATAL (tag);
  /* 2xx retransmissions at 500, 1500, 3500, 7500, 11500 ms: doubling up to T2 = 4 s. */
  static const guint gaps[] = { 500, 1000, 2000, 4000, 4000 };
  for (gsize i = 0; i < G_N_ELEMENTS (gaps); i++) {
    advance (t, gaps[i] - 1);
    CU_ASSERT_TRUE (nothing_sent (t));
    advance (t, 1);
    CU_ASSERT_EQUAL (recv_status (t, NULL), 200);
  }
  /* The ACK (a transaction of its own) stops them. */
  send_req (t, "ACK", "z9hG4bKack1", "ACK", tag);
  CU_ASSERT_TRUE (nothing_sent (t));
  advance (t, 8000);
  CU_ASSERT_TRUE (nothing_sent (t));
  /* Timer L (64*T1 after the 2xx) has ended the INVITE transaction: the call alone is left. */
  advance (t, 32000);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  /* BYE: 200; the same BYE again: the same 200 from the transaction; Timer J ends it. */
  send_req (t, "BYE", "z9hG4bKbye1", "BYE", tag);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 200);
  send_req (t, "BYE", "z9hG4bKbye1", "BYE", tag);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 200);
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->retransmissions_absorbed, 1);
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->calls_ended, 1);
  advance (t, 32000 - 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1); /* the BYE's transaction, in Completed */
  advance (t, 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  txn_free (t);
}

static const char reject_flow[] =
  "<flow version=\"1\" name=\"rejecter\" initial=\"Idle\">"
  "<state name=\"Idle\"><normal><op name=\"OpReject\" arg=\"486\" next=\"Done\"/></normal></state>"
  "<state name=\"Done\" final=\"true\"/></flow>";

static void
invite_rejected_no_ack (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "rejecter.xml", reject_flow));
  sf_test_env_free (scratch);
  send_req (t, "INVITE", "z9hG4bKinv2", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 100);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 486);
  /* Timer G: 500, 1000, 2000, then 4000 each, until Timer H at 32 s. */
  guint at = 0, interval = 500, resent = 0;
  while (at + interval < 32000) {
    advance (t, interval);
    at += interval;
    if (recv_status (t, NULL) == 486)
      resent++;
    interval = MIN (interval * 2, 4000);
  }
  CU_ASSERT_EQUAL (resent, 10); /* 500 1500 3500 7500 11500 ... 31500 */
  advance (t, 32000 - at);
  CU_ASSERT_TRUE (nothing_sent (t));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0); /* Timer H ended it */
  txn_free (t);
}

static void
invite_rejected_acked (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "rejecter.xml", reject_flow));
  sf_test_env_free (scratch);
  send_req (t, "INVITE", "z9hG4bKinv3", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 100);
  g_autofree char *tag = NULL;
  CU_ASSERT_EQUAL (recv_status (t, &tag), 486);
  /* The ACK for a non-2xx response belongs to the INVITE's transaction (same branch). */
  send_req (t, "ACK", "z9hG4bKinv3", "ACK", tag);
  CU_ASSERT_TRUE (nothing_sent (t));
  advance (t, 4000);
  CU_ASSERT_TRUE (nothing_sent (t)); /* Timer G stopped */
  send_req (t, "ACK", "z9hG4bKinv3", "ACK", tag);
  CU_ASSERT_TRUE (nothing_sent (t)); /* absorbed in Confirmed */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  advance (t, 1000); /* Timer I = T4 = 5 s after the ACK */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  txn_free (t);
}

static void
untaken_requests (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (load_flow (scratch, SF_SRCDIR "/xml/examples/uas-answer.xml"));
  sf_test_env_free (scratch);
  send_req (t, "OPTIONS", "z9hG4bKopt1", "OPTIONS", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 405);
  send_req (t, "OPTIONS", "z9hG4bKopt1", "OPTIONS", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 405); /* a retransmission: the same answer */
  send_req (t, "FROB", "z9hG4bKfrob1", "FROB", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 501);
  send_req (t, "BYE", "z9hG4bKbye9", "BYE", "nosuchtag");
  CU_ASSERT_EQUAL (recv_status (t, NULL), 481);
  advance (t, 32000);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  txn_free (t);
}

void
sf_test_register_txn (void)
{
  CU_pSuite s = CU_add_suite ("transaction", NULL, NULL);
  SF_ADD_TEST (s, invite_answered);
  SF_ADD_TEST (s, invite_rejected_no_ack);
  SF_ADD_TEST (s, invite_rejected_acked);
  SF_ADD_TEST (s, untaken_requests);
}
