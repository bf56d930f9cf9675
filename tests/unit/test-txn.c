/* test-txn.c: the server transaction machines (xml/transaction/ist.xml and
 * nist.xml) and the UAS flow, on the fake clock: every timer fires by advancing
 * time, never by sleeping.  A plain UDP socket on loopback plays the peer.
 *  - invite_answered: 180 (no 100: the TU answered at once), 200; the 2xx retransmitted at T1, 2T1, 4T1 up to T2
 *    until the ACK (13.3.1.4); Timer L ends the INVITE transaction (RFC 6026); a BYE
 *    gets 200, its retransmission the same 200 again; Timer J ends it (17.2.2); a
 *    BYE with a CSeq not above the INVITE's gets 500 and the call goes on (12.2.2)
 *  - invite_rejected_no_ack: 486 retransmitted by Timer G (T1 doubling to T2) until
 *    Timer H (64*T1) ends the transaction (17.2.1)
 *  - invite_rejected_acked: the ACK stops Timer G; its retransmission is absorbed;
 *    Timer I (T4) ends the transaction
 *  - target_refresh: a re-INVITE with a new Contact gets 200 and refreshes the remote
 *    target (12.2.2, 14.2): the BYE the call then sends on "hangup" goes there
 *  - early_dialog_rejected: the calling flow makes an early dialog from a 180 with a tag
 *    and a Contact, and a 486 ends it (12.1.2, 12.3); the call goes to Busy
 *  - cancelled: a second INVITE of a ringing call gets 482 (8.2.2.2); a CANCEL of
 *    the ringing call gets 200, the INVITE 487, whose ACK
 *    (same branch) ends the INVITE transaction (9.2, 17.2.1)
 *  - rfc2543_ack_for_2xx: an RFC 2543 client's ACK for our 2xx matches the INVITE
 *    server transaction (in RFC 6026's Accepted): passed to the call, which is up
 *  - rfc2543_matching: a request without the magic cookie (RFC 2543) is matched by
 *    Request-URI, From tag, Call-ID, CSeq and top Via (17.2.3): its retransmission is
 *    absorbed, not a second call
 *  - server_send_fails: a response retransmission that cannot be sent (a send
 *    filter refuses it) ends the INVITE and the non-INVITE server transaction at
 *    once, Completed -> Terminated (17.2.4, Figures 7 and 8)
 *  - failed_send_owner (sends batched, the queue flushed at the turn's end): a
 *    datagram that failed there ends the transaction that sent it, not one whose
 *    key a stateless 400 names; a send_failed line for each
 *  - failed_send_513: the same for the 513 sent in place of an oversize 486 (the
 *    transaction keeps the 486: only the sender's id names it)
 *  - failed_send_rfc2543: the same for an RFC 2543 transaction (no key finds it
 *    from its response: the sender's id does); a transaction that ended before
 *    its datagram failed tells nobody
 *  - accepted_send_fails: a 2xx that fails after the INVITE server transaction
 *    entered Accepted: the TU hears txn:transport_error, the transaction stays
 *    (absorbs the INVITE's retransmission) until Timer L (RFC 6026 7.1)
 *  - failed_send_warnings: a transaction's failed responses are logged once, then
 *    a line per 10 s with the count left out (fake clock); the rest at the end
 *  - untaken_requests: what the flow does not take is answered by the framework:
 *    405 for a known method, 501 for an unknown one, 481 for a BYE in no dialog;
 *    a retransmitted request gets the same answer; Timer J ends each transaction
 *  - nict_answered: the request retransmitted by Timer E (T1 doubling to T2); a
 *    provisional makes E fire at T2; the final response reaches the TU once, a
 *    retransmitted one is absorbed; Timer K ends the transaction (17.1.2)
 *  - sdk_send_request: the SDK's sf_message_send_request from a flow instance:
 *    the OPTIONS on the wire with our Via and the caller's header, its 200 back
 *    to the instance; an INVITE and a bad URI refused
 *  - nict_timeout: Timer F (64*T1): the TU hears txn:timeout
 *  - ict_rejected: Timer A doubles without cap; a provisional stops it; a 486 reaches
 *    the TU and is ACKed (17.1.1.3), its retransmission ACKed again; Timer D ends it
 *  - ict_accepted: a 2xx reaches the TU, its retransmission too (RFC 6026); Timer M
 *    ends the transaction; Timer B gives txn:timeout when nothing answers
 *  - located: a request sent by RFC 3263 location: to a numeric Request-URI at once,
 *    through a Route naming localhost after an A lookup (/etc/hosts); a name that does
 *    not resolve (.invalid, RFC 2606) gives the TU txn:transport_error
 *  - tcp_connect_refused: a client transaction over TCP to a closed port: the TU
 *    hears txn:transport_error and the transaction ends (17.1.4)
 *  - guard_nist, guard_ist: a TU that never answers: the guard timer (132*T1,
 *    480*T1) sends 500, the TU hears txn:timeout, the transaction ends
 *  - guard_ringing: an INVITE that sent 180 is exempt from the guard
 *  - guard_after_answer: a final response just before the guard: it never fires
 *  - trying_timer: 100 Trying only when the TU sent nothing within 200 ms
 *    (17.2.1): a 180 at 150 ms quenches it; a silent TU gets exactly one 100 at
 *    200 ms; a retransmitted INVITE gets the last response again (100, then 180)
 *  - rate_recovers: sip.rate_limit=10: a source has 20 (two seconds' worth), the 21st is
 *    refused at any port, another source is not; a second later 10 more, then refused
 *  - rate_trusted_and_off: a trusted source (gate.trusted) is never refused; 0: no limit
 *  - rate_ipv6_prefix: two IPv6 addresses of one /64 share a bucket, of two /64s do not;
 *    an IPv4-mapped address shares with its IPv4 form, both ways
 *  - rate_table_full: a table of 4 sources: a fifth evicts the least recently seen one
 *    (which comes back with a fresh bucket) and is itself limited; 1,000 more new
 *    sources are each limited, the table stays at 4
 *  - rate_table_no_scan: the full 65,536-source table, then 65,536 more new sources,
 *    each limited after its burst (the old table scanned all 65,536 for each of them and
 *    let it through unlimited)
 *  - default_answers: the policy object alone: an ACK nothing, a CANCEL 200 with
 *    its To as received, a To tag not the call's 481, a known method 405 with
 *    Allow and a fresh To tag, an unknown one 501, the call's own tag 405 (12.2.2,
 *    21.4.6, 21.5.2, 9.2)
 *  - stack_local: our socket's "host:port" for a protocol, the same each time,
 *    none without a socket of that protocol, one bound later found */
#include "config.h"
#include "sf-test.h"
#include "operators/transaction/sf-stack.h"
#include "operators/transaction/sf-stack-private.h"
#include "operators/transaction/sf-txn-answers.h"
#include "sip/sf-sip-build.h"
#include "sipflow/sf-message.h"
#include <errno.h>
#include <string.h>

typedef SfTestStack Txn;

static void
trace_stderr (const char *line, gpointer data)
{
  g_printerr ("trace: %s\n", line);
}

static Txn *
txn_setup (SfMachine *tu)
{
  SfTestEnv *env = sf_test_env_new ();
  if (g_getenv ("SF_TEST_TRACE") != NULL)
    sf_endpoint_set_trace (env->ep, trace_stderr, NULL);
  sf_endpoint_attach (env->ep, NULL);
  return sf_test_stack_new (env, tu);
}

static void
txn_free (Txn *t)
{
  sf_test_stack_free (t, NULL);
}

/* Sends a request; %PORT% becomes the peer's port. */
static void
send_req (Txn *t, const char *method, const char *branch, const char *cseq_method, const char *to_tag)
{
  g_autofree char *text = g_strdup_printf (
    "%s sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:uas@127.0.0.1>%s%s\r\nCall-ID: txn-test@127.0.0.1\r\n"
    "CSeq: %u %s\r\nContact: <sip:peer@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    method, t->port, branch, to_tag != NULL ? ";tag=" : "", to_tag != NULL ? to_tag : "",
    strcmp (cseq_method, "BYE") == 0 ? 2 : 1, strcmp (cseq_method, "BYE1") == 0 ? "BYE" : cseq_method, t->port);
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
  sf_test_peer_wait (t->peer);
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
  return sf_test_peer_quiet (t->peer);
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
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180); /* at once: no 100 owed (17.2.1) */
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
  /* An INFO inside the call: not served, 405; with a To tag not ours: not this dialog, 481. */
  send_req (t, "INFO", "z9hG4bKinfo1", "INFO", tag);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 405);
  send_req (t, "INFO", "z9hG4bKinfo2", "INFO", "someoneelse");
  CU_ASSERT_EQUAL (recv_status (t, NULL), 481);
  /* A BYE whose CSeq is not above the INVITE's: out of order, 500, the call stays up. */
  send_req (t, "BYE", "z9hG4bKbye0", "BYE1", tag);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 500);
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->calls_ended, 0);
  /* BYE: 200; the same BYE again: the same 200 from the transaction; Timer J ends it. */
  send_req (t, "BYE", "z9hG4bKbye1", "BYE", tag);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 200);
  send_req (t, "BYE", "z9hG4bKbye1", "BYE", tag);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 200);
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->retransmissions_absorbed, 1);
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->calls_ended, 1);
  advance (t, 32000 - 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 4); /* two INFO and two BYE transactions, in Completed */
  advance (t, 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  txn_free (t);
}

/* RFC 6026 (Accepted): the ACK of an RFC 2543 client for our 2xx, whose key (no
 * magic cookie: Request-URI, From tag, Call-ID, CSeq number, top Via) is the
 * INVITE's, reaches the INVITE server transaction: it is passed to the TU. */
static void
rfc2543_ack_for_2xx (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (load_flow (scratch, SF_SRCDIR "/xml/examples/uas-answer.xml"));
  sf_test_env_free (scratch);
  send_req (t, "INVITE", "old2543branch", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  advance (t, 0);
  g_autofree char *tag = NULL;
  CU_ASSERT_EQUAL (recv_status (t, &tag), 200);
  CU_ASSERT_PTR_NOT_NULL_FATAL (tag);
  send_req (t, "ACK", "old2543branch", "ACK", tag);
  CU_ASSERT_TRUE (nothing_sent (t));
  advance (t, 4000);
  CU_ASSERT_TRUE (nothing_sent (t)); /* the call had its ACK: no 2xx retransmission */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"to\":\"InCall\"", NULL), 1);
  txn_free (t);
}

static SfSipMsg *recv_request (Txn *t);
static void reply (Txn *t, SfSipMsg *req, guint status, const char *tag);

static void
target_refresh (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (load_flow (scratch, SF_SRCDIR "/xml/examples/uas-answer.xml"));
  sf_test_env_free (scratch);
  send_req (t, "INVITE", "z9hG4bKrt1", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  advance (t, 0);
  g_autofree char *tag = NULL;
  CU_ASSERT_EQUAL (recv_status (t, &tag), 200);
  send_req (t, "ACK", "z9hG4bKrt2", "ACK", tag);
  CU_ASSERT_TRUE (nothing_sent (t));
  /* The re-INVITE moves the peer to another target. */
  g_autofree char *re = g_strdup_printf (
    "INVITE sip:sipflow@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKrt3\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:uas@127.0.0.1>;tag=%s\r\nCall-ID: txn-test@127.0.0.1\r\n"
    "CSeq: 2 INVITE\r\nContact: <sip:moved@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    t->port, tag, t->port);
  g_socket_send_to (t->peer, G_SOCKET_ADDRESS (t->to), re, strlen (re), NULL, NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 200);
  send_req (t, "ACK", "z9hG4bKrt4", "ACK", tag);
  /* Hang up: the BYE goes to the refreshed target. */
  SfInstance *call = sf_endpoint_lookup_handle (t->env->ep, "c1");
  CU_ASSERT_PTR_NOT_NULL_FATAL (call);
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "hangup", NULL));
  sf_endpoint_drain (t->env->ep);
  g_autoptr (SfSipMsg) bye = recv_request (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (bye);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_method (bye), "BYE"));
  g_autofree char *expect = g_strdup_printf ("sip:moved@127.0.0.1:%u", t->port);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_ruri (bye)->raw, expect));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_value_param (sf_sip_msg_to (bye), "tag")->value, "peer1"));
  reply (t, bye, 200, "peer1");
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->calls_ended, 1);
  txn_free (t);
}

static void
early_dialog_rejected (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (load_flow (scratch, SF_SRCDIR "/xml/examples/uac-call.xml"));
  sf_test_env_free (scratch);
  SfInstance *call = sf_endpoint_create (t->env->ep, t->tu, NULL, NULL, NULL);
  g_autofree char *uri = g_strdup_printf ("sip:bob@127.0.0.1:%u", t->port);
  sf_endpoint_post (t->env->ep, call, sf_event_new (SF_EV_DEVICE, "call", uri));
  sf_endpoint_drain (t->env->ep);
  g_autoptr (SfSipMsg) inv = recv_request (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (inv);
  g_autofree char *offer = sf_sip_str_dup (sf_sip_msg_body (inv));
  CU_ASSERT_PTR_NOT_NULL (strstr (offer, "m=audio")); /* an SDP offer */
  /* 180 with a tag and a Contact: an early dialog. */
  g_autoptr (SfSipMsg) base = sf_sip_create_response (inv, 180, NULL, "bobtag", NULL);
  SfSipBuilder *b = sf_sip_builder_response (180, NULL);
  for (guint i = 0; i < sf_sip_msg_n_headers (base); i++)
    if (sf_sip_msg_header (base, i)->id != SF_SIP_HDR_CONTENT_LENGTH)
      sf_sip_builder_add_line (b, sf_sip_msg_header (base, i));
  sf_sip_builder_add (b, "Contact", "<sip:bob@127.0.0.1:%u>", t->port);
  g_autoptr (SfSipMsg) ringing = sf_sip_builder_finish (b, NULL);
  g_autoptr (GBytes) w = sf_sip_msg_serialize (ringing);
  g_socket_send_to (t->peer, G_SOCKET_ADDRESS (t->to), g_bytes_get_data (w, NULL), g_bytes_get_size (w), NULL, NULL);
  for (int i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"dialog_state\":\"early\"", NULL), 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (call), "Ringback");
  reply (t, inv, 486, "bobtag");
  g_autoptr (SfSipMsg) ack = recv_request (t); /* the transaction's ACK for the 486 */
  CU_ASSERT_TRUE (ack != NULL && sf_sip_str_eq (sf_sip_msg_method (ack), "ACK"));
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"dialog_state\":\"terminated\"", NULL), 1);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"busy\"", NULL), 1);
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

static const char slow_flow[] =
  "<flow version=\"1\" name=\"slow\" initial=\"Idle\">"
  "<state name=\"Idle\"><normal><op name=\"OpRing\" next=\"Ringing\"/></normal></state>"
  "<state name=\"Ringing\"><entry><op name=\"OpStartTimer\" arg=\"answer=10s\"/></entry>"
  "<normal><op name=\"OpAnswerCall\" next=\"Up\"/><op name=\"OpRingCancel\" next=\"End\"/>"
  "<op name=\"OpRefuse\" arg=\"INVITE=482\"/></normal></state>"
  "<state name=\"Up\"/><state name=\"End\" final=\"true\"/></flow>";

static void
cancelled (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "slow.xml", slow_flow));
  sf_test_env_free (scratch);
  send_req (t, "INVITE", "z9hG4bKinv5", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  /* A second INVITE of the same call (another branch) while ringing: 482 (8.2.2.2),
   * through a transaction of its own, which its ACK confirms. */
  send_req (t, "INVITE", "z9hG4bKinv5b", "INVITE", NULL);
  g_autofree char *tag482 = NULL;
  CU_ASSERT_EQUAL (recv_status (t, &tag482), 482);
  send_req (t, "ACK", "z9hG4bKinv5b", "ACK", tag482);
  CU_ASSERT_TRUE (nothing_sent (t));
  /* A CANCEL has the INVITE's branch and CSeq number (9.1). */
  send_req (t, "CANCEL", "z9hG4bKinv5", "CANCEL", NULL);
  guint a = recv_status (t, NULL);
  g_autofree char *tag = NULL;
  guint b = recv_status (t, &tag);
  CU_ASSERT_TRUE ((a == 200 && b == 487) || (a == 487 && b == 200));
  /* The CANCEL has a transaction of its own: its retransmission gets the same 200. */
  send_req (t, "CANCEL", "z9hG4bKinv5", "CANCEL", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 200);
  send_req (t, "ACK", "z9hG4bKinv5", "ACK", tag);
  CU_ASSERT_TRUE (nothing_sent (t));
  advance (t, 5000); /* Timer I ends the INVITE's transaction */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1); /* the CANCEL's, in Completed */
  advance (t, 27000); /* Timer J */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  /* A CANCEL that matches nothing: 481. */
  send_req (t, "CANCEL", "z9hG4bKnone", "CANCEL", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 481);
  txn_free (t);
}

static void
rfc2543_matching (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "slow.xml", slow_flow));
  sf_test_env_free (scratch);
  send_req (t, "INVITE", "oldstyle1", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  send_req (t, "INVITE", "oldstyle1", "INVITE", NULL); /* retransmission: the last response again */
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  CU_ASSERT_TRUE (nothing_sent (t));
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->retransmissions_absorbed, 1);
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->transactions, 1);
  txn_free (t);
}

/* A send filter that refuses everything: the socket "fails". */
static gboolean
refuse_all (SfSipProto proto, GInetSocketAddress *dest, GBytes *wire, gpointer data)
{
  (*(guint *) data)++;
  return FALSE;
}

/* 17.2.4 (Figures 7 and 8): a response retransmission that cannot be sent ends the
 * server transaction at once (Completed -> Terminated, the TU told), not at Timer H/J. */
static void
server_send_fails (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "rejecter.xml", reject_flow));
  sf_test_env_free (scratch);
  send_req (t, "INVITE", "z9hG4bKinvfail", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 486);
  guint refused = 0;
  sf_sip_transport_set_send_filter (sf_stack_transport (t->stack), refuse_all, &refused);
  advance (t, 500); /* Timer G: the 486 again, refused */
  CU_ASSERT_TRUE (refused >= 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"instance_end\"", "\"machine\":\"ist\"", "\"state\":\"Terminated\"",
                                  NULL), 1);
  sf_sip_transport_set_send_filter (sf_stack_transport (t->stack), NULL, NULL);
  /* A non-INVITE: a retransmitted request whose answer cannot go out again. */
  send_req (t, "OPTIONS", "z9hG4bKoptfail", "OPTIONS", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 405);
  sf_sip_transport_set_send_filter (sf_stack_transport (t->stack), refuse_all, &refused);
  send_req (t, "OPTIONS", "z9hG4bKoptfail", "OPTIONS", NULL);
  CU_ASSERT_TRUE (nothing_sent (t));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0); /* before Timer J (32 s) */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"instance_end\"", "\"machine\":\"nist\"", "\"state\":\"Terminated\"",
                                  NULL), 1);
  sf_sip_transport_set_send_filter (sf_stack_transport (t->stack), NULL, NULL);
  txn_free (t);
}

/* Test stacks send at once (the fake clock: the loop is not turned between
 * an advance and the read of the socket).  Batched, the way a running stack
 * sends: what a turn made leaves when the loop turns (recv_status,
 * nothing_sent), or at flush_turn after an advance. */
static void
batched (Txn *t)
{
  sf_sip_transport_set_udp_batch (sf_stack_transport (t->stack), TRUE);
}

/* The turn's end: the queued datagrams sent, what failed told and handled. */
static void
flush_turn (Txn *t)
{
  sf_sip_transport_flush (sf_stack_transport (t->stack));
  sf_endpoint_drain (t->env->ep);
}

/* recv_status for a batched stack: the loop turned without blocking until
 * the peer has the answer (the turn that queued it flushes it before it would
 * sleep, and the peer's socket is not one the loop polls: a blocking turn
 * would wait for recv_status's 5 s timeout). */
static guint
recv_batched (Txn *t)
{
  for (guint i = 0; i < 1000 && !g_socket_condition_check (t->peer, G_IO_IN); i++)
    g_main_context_iteration (NULL, FALSE);
  return recv_status (t, NULL);
}

/* The next @n datagrams of the queue fail as if the kernel refused them
 * (EINVAL: not a loss, so a transport error). */
static void
fail_next (Txn *t, guint n)
{
  sf_sip_transport_fail_sends (sf_stack_transport (t->stack), EINVAL, n);
}

/* A datagram that fails at the end of its turn (sf_stack_on_udp_failed) ends
 * only the transaction that sent it.  The attack: a request that the
 * transport answers statelessly (a 400 copies its Via and CSeq), carrying a
 * ringing caller's branch and sent-by, whose 400 cannot go (source port 0:
 * EINVAL; or padded past the datagram size: EMSGSIZE).  Found by its key,
 * the 400's failure ended the caller's INVITE transaction; the 400 goes in
 * nobody's name now. */
static void
failed_send_owner (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "rejecter.xml", reject_flow));
  sf_test_env_free (scratch);
  batched (t);
  sf_endpoint_set_messages (t->env->ep, SF_MESSAGES_ON); /* the line of a datagram nobody sent */
  const SfSipTransportStats *st = sf_sip_transport_stats (sf_stack_transport (t->stack));
  send_req (t, "INVITE", "z9hG4bKvictim", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_batched (t), 486);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1); /* the IST, Completed */
  /* the victim's Via and CSeq on a request whose CSeq names another method: a 400 */
  g_autofree char *forged = g_strdup_printf (
    "INVITE sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKvictim\r\nMax-Forwards: 70\r\n"
    "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:uas@127.0.0.1>\r\nCall-ID: other@127.0.0.1\r\n"
    "CSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n", t->port);
  fail_next (t, 1);
  g_socket_send_to (t->peer, G_SOCKET_ADDRESS (t->to), forged, strlen (forged), NULL, NULL);
  for (guint i = 0; i < 100 && st->send_errors == 0; i++)
    g_main_context_iteration (NULL, FALSE); /* read, answered, the answer failed at the turn's end */
  CU_ASSERT_EQUAL (st->send_errors, 1);
  CU_ASSERT_EQUAL (st->bad_requests, 1);
  sf_endpoint_drain (t->env->ep);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"instance_end\"", "\"machine\":\"ist\"", NULL), 0);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", "\"start\":\"SIP/2.0 400 ", NULL), 1);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", "\"transaction\"", NULL), 0);
  /* its own 486 (Timer G) failing: that ends it (17.2.4) */
  fail_next (t, 1);
  advance (t, 500);
  flush_turn (t);
  CU_ASSERT_EQUAL (st->send_errors, 2);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"instance_end\"", "\"machine\":\"ist\"", "\"state\":\"Terminated\"",
                                  NULL), 1);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", "\"start\":\"SIP/2.0 486 ", "\"transaction\"", NULL), 1);
  txn_free (t);
}

/* An INVITE near the UDP limit, its size in Via lines, without Max-Forwards:
 * the 486 copying them (with a To tag) passes the limit, and a bare 513 goes
 * in its place (docs/sip.md).  The transaction keeps the 486:
 * the 513's bytes are not its own, and only the sender's name tells whose
 * failed. */
static void
failed_send_513 (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "rejecter.xml", reject_flow));
  sf_test_env_free (scratch);
  batched (t);
  g_autofree char *head = g_strdup_printf (
    "INVITE sip:uas@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKbig513\r\n", t->port);
  const char *tail = "From: <sip:peer@127.0.0.1>;tag=peer1\r\nTo: <sip:uas@127.0.0.1>\r\nCall-ID: big513@127.0.0.1\r\n"
                     "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  GString *m = g_string_new (head);
  /* The 486 is 102 bytes longer than its INVITE (a status line for the
   * request line, a To tag): between the UDP limit (65,507) and the largest
   * message built (64 KiB), as an INVITE of 65,406 to 65,434 bytes makes it. */
  gsize total = 65420;
  gsize room = total - strlen (head) - strlen (tail);
  for (guint k = 0; room > 0; k++) { /* lines under the 8 KiB line limit */
    gsize n = MIN (8000, room);
    g_autofree char *pre = g_strdup_printf ("Via: SIP/2.0/UDP h%u.example.com;branch=z9hG4bKx%u;p=", k, k);
    g_string_append (m, pre);
    for (gsize i = strlen (pre) + 2; i < n; i++)
      g_string_append_c (m, 'a');
    g_string_append (m, "\r\n");
    room -= n;
  }
  g_string_append (m, tail);
  CU_ASSERT_EQUAL_FATAL (m->len, total);
  g_socket_send_to (t->peer, G_SOCKET_ADDRESS (t->to), m->str, m->len, NULL, NULL);
  g_string_free (m, TRUE);
  CU_ASSERT_EQUAL (recv_batched (t), 513);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  fail_next (t, 1);
  advance (t, 500); /* Timer G: the 486 again, a 513 in its place */
  flush_turn (t);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0); /* not at Timer H */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", "\"start\":\"SIP/2.0 513 ", "\"transaction\"", NULL), 1);
  txn_free (t);
}

/* The same for an RFC 2543 client's INVITE (no magic cookie): a response has
 * no key that finds its transaction (17.2.3 matches a request by its
 * Request-URI), so only the sender's name tells whose 486 failed. */
static void
failed_send_rfc2543 (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "rejecter.xml", reject_flow));
  sf_test_env_free (scratch);
  batched (t);
  send_req (t, "INVITE", "oldstyle2", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_batched (t), 486);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  fail_next (t, 1);
  advance (t, 500); /* Timer G */
  flush_turn (t);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 0); /* not at Timer H */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"instance_end\"", "\"machine\":\"ist\"", "\"state\":\"Terminated\"",
                                  NULL), 1);
  /* A transaction that ended before its datagram failed: its id finds nothing
   * (ids are never reused), the next transaction is not told. */
  sf_endpoint_set_messages (t->env->ep, SF_MESSAGES_ON); /* the line of a datagram nobody's now */
  send_req (t, "INVITE", "z9hG4bKgone", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_batched (t), 486);
  g_autoptr (GPtrArray) live = sf_endpoint_instances (t->env->ep);
  CU_ASSERT_EQUAL_FATAL (live->len, 1);
  fail_next (t, 1);
  advance (t, 500); /* its 486 again, queued */
  sf_endpoint_kill (t->env->ep, live->pdata[0], "test");
  sf_endpoint_drain (t->env->ep);
  send_req (t, "INVITE", "z9hG4bKnext", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_batched (t), 486); /* the loop's turn sent both: the old one failed */
  sf_endpoint_drain (t->env->ep);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", "\"start\":\"SIP/2.0 486 ", NULL), 2);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", "\"transaction\"", NULL), 1);
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

/* ---- client transactions ---- */

static GPtrArray *tu_seen; /* "response:200", "timeout", ... */

static SfOpResult
t_tu_record (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->kind == SF_EV_SIP ? ev->payload : NULL;
  if (e != NULL && !sf_sip_msg_is_request (e->msg))
    g_ptr_array_add (tu_seen, g_strdup_printf ("response:%u", sf_sip_msg_status (e->msg)));
  else
    g_ptr_array_add (tu_seen, g_strdup (ev->name));
  return SF_OP_DONE;
}

/* device:send URI (the SDK, include/sipflow/sf-message.h): an OPTIONS to URI;
 * device:send-invite URI: an INVITE, which the SDK refuses.  Records "sent" or
 * "error:CODE". */
static SfOpResult
t_sdk_send (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const char *name = sf_event_name (ev);
  if (strcmp (name, "send") != 0 && strcmp (name, "send-invite") != 0)
    return SF_OP_SKIP;
  const char *headers[] = { "Subject: from the SDK", NULL };
  g_autoptr (GError) error = NULL;
  gboolean ok = sf_message_send_request (ctx, strcmp (name, "send") == 0 ? "OPTIONS" : "INVITE", sf_event_arg (ev),
                                         "<sip:uac@127.0.0.1>", "<sip:peer@127.0.0.1>", headers, NULL, NULL, 0,
                                         &error);
  g_ptr_array_add (tu_seen, ok ? g_strdup ("sent") : g_strdup_printf ("error:%d", error->code));
  return SF_OP_DONE;
}

static const SfOperatorDef tu_ops[] = {
  { "TTuRecord", t_tu_record, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN, 0, NULL, SF_ARG_NONE, NULL, NULL, "test", NULL, NULL, NULL },
  { "TSdkSend", t_sdk_send, SF_Q_NORMAL, SF_EV_DEVICE, 0, NULL, SF_ARG_NONE, NULL, NULL, "test", NULL, NULL, NULL },
};

static const char tu_flow[] =
  "<flow version=\"1\" name=\"tu\" initial=\"A\"><state name=\"A\"><normal><op name=\"TSdkSend\"/>"
  "<op name=\"TTuRecord\"/></normal></state></flow>";

static SfMachine *
tu_machine (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  sf_registry_add (scratch->reg, NULL, tu_ops, G_N_ELEMENTS (tu_ops), NULL);
  SfMachine *m = sf_test_load (scratch, "tu.xml", tu_flow);
  sf_test_env_free (scratch);
  return m;
}

/* The next datagram the peer got (NULL for none within 5 s): a request from the stack. */
static SfSipMsg *
recv_request (Txn *t)
{
  sf_test_peer_wait (t->peer);
  char buf[4096];
  gssize n = g_socket_receive (t->peer, buf, sizeof buf, NULL, NULL);
  if (n <= 0)
    return NULL;
  g_autoptr (GBytes) b = g_bytes_new (buf, (gsize) n);
  return sf_sip_msg_parse (b, NULL);
}

static void
reply (Txn *t, SfSipMsg *req, guint status, const char *tag)
{
  g_autoptr (SfSipMsg) r = sf_sip_create_response (req, status, NULL, tag, NULL);
  g_autoptr (GBytes) w = sf_sip_msg_serialize (r);
  g_socket_send_to (t->peer, G_SOCKET_ADDRESS (t->to), g_bytes_get_data (w, NULL), g_bytes_get_size (w), NULL, NULL);
  /* Let the stack read it and the TU hear it. */
  for (int i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

/* Starts a client transaction for @method from a new TU instance. */
static SfInstance *
client (Txn *t, const char *method)
{
  g_autofree char *ruri = g_strdup_printf ("sip:peer@127.0.0.1:%u", t->port);
  g_autofree char *sent_by = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (t->to));
  SfSipRequestSpec spec = { .method = method, .ruri = ruri, .from = "<sip:uac@127.0.0.1>", .to = "<sip:peer@127.0.0.1>",
                            .via_sent_by = sent_by };
  g_autoptr (SfSipMsg) req = sf_sip_create_request (&spec, NULL);
  SfInstance *tu = sf_endpoint_create (t->env->ep, t->tu, NULL, NULL, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) dest = g_inet_socket_address_new (lo, (guint16) t->port);
  SfInstance *ct = sf_stack_request (t->stack, tu, req, SF_SIP_UDP, G_INET_SOCKET_ADDRESS (dest), NULL);
  g_assert (ct != NULL);
  sf_endpoint_drain (t->env->ep);
  return ct;
}

static char *
seen (void)
{
  g_ptr_array_add (tu_seen, NULL);
  char *s = g_strjoinv (" ", (char **) tu_seen->pdata);
  g_ptr_array_set_size (tu_seen, 0);
  return s;
}

static Txn *
client_setup (void)
{
  if (tu_seen == NULL)
    tu_seen = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_set_size (tu_seen, 0);
  Txn *t = txn_setup (tu_machine ());
  sf_registry_add (t->env->reg, NULL, tu_ops, G_N_ELEMENTS (tu_ops), NULL);
  return t;
}

/* Advances @ms and says whether the peer got a retransmission of @method. */
static gboolean
resent_after (Txn *t, guint ms, const char *method)
{
  advance (t, ms);
  if (!g_socket_condition_check (t->peer, G_IO_IN))
    return FALSE;
  g_autoptr (SfSipMsg) m = recv_request (t);
  return m != NULL && sf_sip_str_eq (sf_sip_msg_method (m), method);
}

/* The SDK's sf_message_send_request: an OPTIONS from a flow instance on a
 * client transaction of its own; the peer gets it with our Via and the extra
 * header, its 200 comes back to the instance; an INVITE and a bad URI are refused. */
static void
sdk_send_request (void)
{
  Txn *t = client_setup ();
  SfInstance *tu = sf_endpoint_create (t->env->ep, t->tu, NULL, NULL, NULL);
  g_autofree char *ruri = g_strdup_printf ("sip:peer@127.0.0.1:%u", t->port);
  sf_endpoint_post (t->env->ep, tu, sf_event_new (SF_EV_DEVICE, "send", ruri));
  sf_endpoint_drain (t->env->ep);
  g_autoptr (SfSipMsg) req = recv_request (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (req);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_method (req), "OPTIONS"));
  const SfSipValue *via = sf_sip_msg_value (req, SF_SIP_HDR_VIA, NULL);
  CU_ASSERT_PTR_NOT_NULL (via);
  g_autoptr (GBytes) bytes = sf_sip_msg_serialize (req);
  g_autofree char *wire = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  CU_ASSERT_PTR_NOT_NULL (strstr (wire, "Subject: from the SDK\r\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (wire, "SIP/2.0/UDP 127.0.0.1:"));
  reply (t, req, 200, "p1");
  sf_endpoint_drain (t->env->ep);
  sf_endpoint_post (t->env->ep, tu, sf_event_new (SF_EV_DEVICE, "send-invite", ruri));
  sf_endpoint_post (t->env->ep, tu, sf_event_new (SF_EV_DEVICE, "send", "not a uri"));
  sf_endpoint_drain (t->env->ep);
  g_autofree char *s = seen ();
  g_autofree char *want = g_strdup_printf ("sent response:200 error:%d error:%d", SF_MESSAGE_ERROR_BAD_STATUS,
                                           SF_MESSAGE_ERROR_SYNTAX);
  CU_ASSERT_STRING_EQUAL (s, want);
  txn_free (t);
}

static void
nict_answered (void)
{
  Txn *t = client_setup ();
  client (t, "OPTIONS");
  g_autoptr (SfSipMsg) req = recv_request (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (req);
  /* Timer E: 500, 1000, 2000, 4000, 4000 (capped at T2). */
  CU_ASSERT_FALSE (resent_after (t, 499, "OPTIONS"));
  CU_ASSERT_TRUE (resent_after (t, 1, "OPTIONS"));
  CU_ASSERT_TRUE (resent_after (t, 1000, "OPTIONS"));
  CU_ASSERT_TRUE (resent_after (t, 2000, "OPTIONS"));
  CU_ASSERT_TRUE (resent_after (t, 4000, "OPTIONS"));
  CU_ASSERT_TRUE (resent_after (t, 4000, "OPTIONS"));
  /* A provisional: E now fires at T2. */
  reply (t, req, 100, NULL);
  CU_ASSERT_FALSE (resent_after (t, 3999, "OPTIONS"));
  CU_ASSERT_TRUE (resent_after (t, 1, "OPTIONS"));
  reply (t, req, 200, "p1");
  reply (t, req, 200, "p1"); /* a retransmission: absorbed in Completed */
  g_autofree char *s = seen ();
  CU_ASSERT_STRING_EQUAL (s, "response:100 response:200");
  CU_ASSERT_FALSE (resent_after (t, 4000, "OPTIONS"));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 2); /* TU, and the transaction in Completed */
  advance (t, 1000); /* Timer K = T4 */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  txn_free (t);
}

static void
nict_timeout (void)
{
  Txn *t = client_setup ();
  client (t, "OPTIONS");
  g_autoptr (SfSipMsg) req = recv_request (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (req);
  advance (t, 31999);
  g_autofree char *s1 = seen ();
  CU_ASSERT_STRING_EQUAL (s1, "");
  advance (t, 1);
  g_autofree char *s2 = seen ();
  CU_ASSERT_STRING_EQUAL (s2, "timeout");
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  txn_free (t);
}

static void
ict_rejected (void)
{
  Txn *t = client_setup ();
  client (t, "INVITE");
  g_autoptr (SfSipMsg) req = recv_request (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (req);
  /* Timer A: 500, 1000, 2000, 4000, 8000: no cap at T2. */
  CU_ASSERT_TRUE (resent_after (t, 500, "INVITE"));
  CU_ASSERT_TRUE (resent_after (t, 1000, "INVITE"));
  CU_ASSERT_TRUE (resent_after (t, 2000, "INVITE"));
  CU_ASSERT_TRUE (resent_after (t, 4000, "INVITE"));
  CU_ASSERT_FALSE (resent_after (t, 7999, "INVITE"));
  CU_ASSERT_TRUE (resent_after (t, 1, "INVITE"));
  reply (t, req, 180, "p2");
  CU_ASSERT_FALSE (resent_after (t, 20000, "INVITE")); /* Proceeding: no retransmission, no Timer B */
  reply (t, req, 486, "p2");
  g_autoptr (SfSipMsg) ack = recv_request (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ack);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_method (ack), "ACK"));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_value_param (sf_sip_msg_to (ack), "tag")->value, "p2"));
  CU_ASSERT_TRUE (sf_sip_str_caseeq_str (sf_sip_value_param (sf_sip_msg_top_via (ack), "branch")->value,
                                         sf_sip_value_param (sf_sip_msg_top_via (req), "branch")->value));
  reply (t, req, 486, "p2");
  g_autoptr (SfSipMsg) ack2 = recv_request (t);
  CU_ASSERT_TRUE (ack2 != NULL && sf_sip_str_eq (sf_sip_msg_method (ack2), "ACK"));
  g_autofree char *s = seen ();
  CU_ASSERT_STRING_EQUAL (s, "response:180 response:486");
  advance (t, 32000); /* Timer D */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  txn_free (t);
}

static void
ict_accepted (void)
{
  Txn *t = client_setup ();
  client (t, "INVITE");
  g_autoptr (SfSipMsg) req = recv_request (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (req);
  reply (t, req, 200, "p3");
  reply (t, req, 200, "p3");
  g_autofree char *s = seen ();
  CU_ASSERT_STRING_EQUAL (s, "response:200 response:200"); /* RFC 6026: the TU ACKs each */
  CU_ASSERT_TRUE (nothing_sent (t)); /* the ACK for a 2xx is the TU's, not the transaction's */
  advance (t, 32000); /* Timer M */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1);
  /* Timer B: nothing answers an INVITE. */
  client (t, "INVITE");
  g_autoptr (SfSipMsg) req2 = recv_request (t);
  advance (t, 32000);
  g_autofree char *s2 = seen ();
  CU_ASSERT_STRING_EQUAL (s2, "timeout");
  txn_free (t);
}

static void
tcp_connect_refused (void)
{
  Txn *t = client_setup ();
  /* A port nobody listens on: the peer socket's own port, over TCP. */
  g_autofree char *ruri = g_strdup_printf ("sip:peer@127.0.0.1:%u;transport=tcp", t->port);
  g_autofree char *sent_by = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (t->to));
  SfSipRequestSpec spec = { .method = "OPTIONS", .ruri = ruri, .from = "<sip:uac@127.0.0.1>", .to = "<sip:peer@127.0.0.1>",
                            .via_sent_by = sent_by, .transport = "TCP" };
  g_autoptr (SfSipMsg) req = sf_sip_create_request (&spec, NULL);
  SfInstance *tu = sf_endpoint_create (t->env->ep, t->tu, NULL, NULL, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) dest = g_inet_socket_address_new (lo, (guint16) t->port);
  CU_ASSERT_PTR_NOT_NULL_FATAL (sf_stack_request (t->stack, tu, req, SF_SIP_TCP, G_INET_SOCKET_ADDRESS (dest), NULL));
  sf_endpoint_drain (t->env->ep);
  /* The refusal arrives through the main loop: wait for the TU to hear it (5 s at most). */
  gboolean out = FALSE;
  guint id = g_timeout_add (5000, timed_out, &out);
  while (!out && tu_seen->len == 0)
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  g_autofree char *s = seen ();
  CU_ASSERT_STRING_EQUAL (s, "transport_error");
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (t->env->ep), 1); /* the transaction ended; the TU is left */
  txn_free (t);
}

/* A call answered with 200 at once; what its transactions tell it of failures, recorded. */
static const char accept_flow[] =
  "<flow version=\"2\" name=\"accepter\" scope=\"call\" initial=\"Idle\">"
  "<state name=\"Idle\"><normal><op name=\"OpRing\" on=\"sip:INVITE\" next=\"Ringing\"/></normal></state>"
  "<state name=\"Ringing\"><entry><op name=\"OpStartTimer\" arg=\"answer=0ms\"/></entry>"
  "<normal><op name=\"OpAnswerCall\" on=\"timer:answer\" next=\"Answered\"/></normal></state>"
  "<state name=\"Answered\"><normal><op name=\"TTuRecord\" on=\"txn:transport_error|txn:timeout\"/></normal></state>"
  "</flow>";

/* RFC 6026 7.1: the 2xx leaves at the end of the turn, after the INVITE server
 * transaction entered Accepted; its failure there is told to the TU, and the
 * transaction stays until Timer L (the state is not discarded for a transport
 * error).  Accepted mapped no transport error: the TU was never told. */
static void
accepted_send_fails (void)
{
  if (tu_seen == NULL)
    tu_seen = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_set_size (tu_seen, 0);
  SfTestEnv *scratch = sf_test_env_new ();
  sf_registry_add (scratch->reg, NULL, tu_ops, G_N_ELEMENTS (tu_ops), NULL);
  Txn *t = txn_setup (sf_test_load (scratch, "accepter.xml", accept_flow));
  sf_test_env_free (scratch);
  batched (t);
  send_req (t, "INVITE", "z9hG4bKacc1", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_batched (t), 180);
  fail_next (t, 1);
  advance (t, 0); /* the 200, queued; the IST in Accepted */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"machine\":\"ist\"", "\"to\":\"Accepted\"", NULL), 1);
  flush_turn (t);
  g_autofree char *s1 = seen ();
  CU_ASSERT_STRING_EQUAL (s1, "transport_error");
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"instance_end\"", "\"machine\":\"ist\"", NULL), 0);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", "\"start\":\"SIP/2.0 200 ", "\"transaction\"", NULL), 1);
  /* still there: the INVITE's retransmission is absorbed, not a new call */
  send_req (t, "INVITE", "z9hG4bKacc1", "INVITE", NULL);
  CU_ASSERT_TRUE (nothing_sent (t));
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->transactions, 1);
  advance (t, 64 * 500); /* Timer L */
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"instance_end\"", "\"machine\":\"ist\"", "\"state\":\"Terminated\"",
                                  NULL), 1);
  g_autofree char *s2 = seen ();
  CU_ASSERT_STRING_EQUAL (s2, ""); /* Timer L tells nobody */
  txn_free (t);
}

/* One INVITE from the peer, answered 486 by the rejecter, the 486 failing at
 * the turn's end (as a Via that cannot be reached makes it fail). */
static void
invite_whose_answer_fails (Txn *t, guint n)
{
  const SfSipTransportStats *st = sf_sip_transport_stats (sf_stack_transport (t->stack));
  guint64 before = st->send_errors;
  g_autofree char *branch = g_strdup_printf ("z9hG4bKwarn%u", n);
  fail_next (t, 1);
  send_req (t, "INVITE", branch, "INVITE", NULL);
  for (guint i = 0; i < 1000 && st->send_errors == before; i++)
    g_main_context_iteration (NULL, FALSE);
  sf_endpoint_drain (t->env->ep);
}

/* A transaction's failed response is logged once, then at most a line per
 * 10 s (on the endpoint's clock) with the count left out: a peer whose every
 * request draws an answer that cannot be sent drew a warning line each.  The
 * count still held is said when the stack goes. */
static void
failed_send_warnings (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "rejecter.xml", reject_flow));
  sf_test_env_free (scratch);
  batched (t);
  guint n = 0;
  for (; n < 5; n++)
    invite_whose_answer_fails (t, n);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", "\"transaction\"", NULL), 5);
  CU_ASSERT_EQUAL (t->stack->send_warn_quiet, 4); /* the first logged, four held */
  advance (t, SF_STACK_SEND_WARN_EVERY_S * 1000 - 1);
  invite_whose_answer_fails (t, n++);
  CU_ASSERT_EQUAL (t->stack->send_warn_quiet, 5); /* still within the window */
  advance (t, 1);
  invite_whose_answer_fails (t, n++);
  CU_ASSERT_EQUAL (t->stack->send_warn_quiet, 0); /* a line, saying the five */
  invite_whose_answer_fails (t, n++);
  invite_whose_answer_fails (t, n++);
  CU_ASSERT_EQUAL (t->stack->send_warn_quiet, 2);
  CU_ASSERT_EQUAL (sf_test_count (t->env, "\"event\":\"send_failed\"", "\"transaction\"", NULL), n);
  sf_stack_send_warn_flush (t->stack); /* what the stack's end says */
  CU_ASSERT_EQUAL (t->stack->send_warn_quiet, 0);
  txn_free (t);
}

static void
located (void)
{
  Txn *t = client_setup ();
  g_autofree char *sent_by = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (t->to));
  g_autofree char *ruri = g_strdup_printf ("sip:peer@127.0.0.1:%u", t->port);
  SfSipRequestSpec spec = { .method = "OPTIONS", .ruri = ruri, .from = "<sip:uac@127.0.0.1>", .to = "<sip:peer@127.0.0.1>",
                            .via_sent_by = sent_by };
  g_autoptr (SfSipMsg) req = sf_sip_create_request (&spec, NULL);
  SfInstance *tu = sf_endpoint_create (t->env->ep, t->tu, NULL, NULL, NULL);
  sf_stack_request_located (t->stack, tu, req);
  sf_endpoint_drain (t->env->ep);
  g_autoptr (SfSipMsg) got = recv_request (t);
  CU_ASSERT_TRUE (got != NULL && sf_sip_str_eq (sf_sip_msg_method (got), "OPTIONS"));
  /* Through a Route naming localhost: an A/AAAA lookup first. */
  g_autofree char *route = g_strdup_printf ("<sip:localhost:%u;lr>", t->port);
  const char *routes[] = { route, NULL };
  SfSipRequestSpec spec2 = { .method = "MESSAGE", .ruri = "sip:someone@example.invalid", .from = "<sip:uac@127.0.0.1>",
                             .to = "<sip:someone@example.invalid>", .via_sent_by = sent_by, .route = routes };
  g_autoptr (SfSipMsg) req2 = sf_sip_create_request (&spec2, NULL);
  sf_stack_request_located (t->stack, tu, req2);
  /* The lookup answers through the main loop; with IPv4 sockets only, an IPv4 target is chosen. */
  g_autoptr (SfSipMsg) got2 = recv_request (t);
  CU_ASSERT_PTR_NOT_NULL_FATAL (got2);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_method (got2), "MESSAGE"));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_ruri (got2)->raw, "sip:someone@example.invalid"));
  /* A name that does not resolve: the TU hears transport_error. */
  SfSipRequestSpec spec3 = { .method = "MESSAGE", .ruri = "sip:someone@nonexistent.invalid:5060",
                             .from = "<sip:uac@127.0.0.1>", .to = "<sip:someone@nonexistent.invalid>",
                             .via_sent_by = sent_by };
  g_autoptr (SfSipMsg) req3 = sf_sip_create_request (&spec3, NULL);
  g_ptr_array_set_size (tu_seen, 0);
  sf_stack_request_located (t->stack, tu, req3);
  gboolean out = FALSE;
  guint id = g_timeout_add (10000, timed_out, &out);
  while (!out && tu_seen->len == 0)
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  g_autofree char *s3 = seen ();
  CU_ASSERT_STRING_EQUAL (s3, "transport_error");
  txn_free (t);
}

/* ---- the guard timer (nist.xml, ist.xml: OpTxnGuard) ---- */

/* The first live instance of machine @name, or NULL. */
static SfInstance *
find_instance (Txn *t, const char *name)
{
  g_autoptr (GPtrArray) all = sf_endpoint_instances (t->env->ep);
  for (guint i = 0; i < all->len; i++)
    if (strcmp (sf_instance_machine (all->pdata[i])->name, name) == 0)
      return all->pdata[i];
  return NULL;
}

/* A TU that takes every request and never answers: at 132*T1 the non-INVITE
 * transaction answers 500 itself, the TU hears txn:timeout, Completed absorbs
 * a retransmission with the same 500, and Timer J ends it. */
static void
guard_nist (void)
{
  Txn *t = client_setup ();
  send_req (t, "OPTIONS", "z9hG4bKguard1", "OPTIONS", NULL);
  CU_ASSERT_TRUE (nothing_sent (t));
  g_autofree char *s1 = seen ();
  CU_ASSERT_STRING_EQUAL (s1, "OPTIONS");
  CU_ASSERT_PTR_NOT_NULL (find_instance (t, "nist"));
  advance (t, 132 * 500 - 1);
  CU_ASSERT_TRUE (nothing_sent (t));
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->guarded, 0);
  advance (t, 1);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 500);
  g_autofree char *s2 = seen ();
  CU_ASSERT_STRING_EQUAL (s2, "timeout");
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->guarded, 1);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (find_instance (t, "nist")), "Completed");
  send_req (t, "OPTIONS", "z9hG4bKguard1", "OPTIONS", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 500);
  advance (t, 32000); /* Timer J */
  CU_ASSERT_PTR_NULL (find_instance (t, "nist"));
  CU_ASSERT_TRUE (nothing_sent (t));
  txn_free (t);
}

/* The same for an INVITE that never rang: 100 at 200 ms, 500 at 480*T1, its
 * ACK confirms it and Timer I ends it. */
static void
guard_ist (void)
{
  Txn *t = client_setup ();
  send_req (t, "INVITE", "z9hG4bKguard2", "INVITE", NULL);
  CU_ASSERT_TRUE (nothing_sent (t));
  advance (t, 200);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 100);
  advance (t, 480 * 500 - 200 - 1);
  CU_ASSERT_TRUE (nothing_sent (t));
  advance (t, 1);
  g_autofree char *tag = NULL;
  CU_ASSERT_EQUAL (recv_status (t, &tag), 500);
  g_autofree char *s = seen ();
  CU_ASSERT_STRING_EQUAL (s, "INVITE timeout");
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->guarded, 1);
  send_req (t, "ACK", "z9hG4bKguard2", "ACK", tag);
  CU_ASSERT_TRUE (nothing_sent (t));
  CU_ASSERT_STRING_EQUAL (sf_instance_state (find_instance (t, "ist")), "Confirmed");
  advance (t, 5000); /* Timer I */
  CU_ASSERT_PTR_NULL (find_instance (t, "ist"));
  txn_free (t);
}

static const char ring_flow[] =
  "<flow version=\"1\" name=\"ring\" initial=\"Idle\">"
  "<state name=\"Idle\"><normal><op name=\"OpRing\" next=\"Ringing\"/></normal></state>"
  "<state name=\"Ringing\"><normal><op name=\"OpIgnore\"/></normal></state></flow>";

/* An INVITE that rang (180) is exempt: the guard fires and is dropped, the
 * transaction stays in Proceeding (the TU's own timers govern it). */
static void
guard_ringing (void)
{
  SfTestEnv *scratch = sf_test_env_new ();
  Txn *t = txn_setup (sf_test_load (scratch, "ring.xml", ring_flow));
  sf_test_env_free (scratch);
  send_req (t, "INVITE", "z9hG4bKguard3", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  advance (t, 480 * 500 + 1000);
  CU_ASSERT_TRUE (nothing_sent (t));
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->guarded, 0);
  SfInstance *ist = find_instance (t, "ist");
  CU_ASSERT_PTR_NOT_NULL_FATAL (ist);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (ist), "Proceeding");
  txn_free (t);
}

/* A final response just before the guard would fire: it goes out, and the
 * guard never does (cancelled in Completed), for both machines. */
static void
guard_after_answer (void)
{
  Txn *t = client_setup ();
  send_req (t, "OPTIONS", "z9hG4bKguard4", "OPTIONS", NULL);
  send_req (t, "INVITE", "z9hG4bKguard5", "INVITE", NULL);
  CU_ASSERT_TRUE (nothing_sent (t));
  SfInstance *nist = find_instance (t, "nist"), *ist = find_instance (t, "ist");
  CU_ASSERT_PTR_NOT_NULL_FATAL (nist);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ist);
  SfSipEvent *opt = sf_stack_txn_request_for_test (t->env->ep, nist);
  SfSipEvent *inv = sf_stack_txn_request_for_test (t->env->ep, ist);
  advance (t, 200); /* the INVITE's TU is silent: 100 Trying (17.2.1) */
  CU_ASSERT_EQUAL (recv_status (t, NULL), 100);
  advance (t, 132 * 500 - 200 - 1);
  g_autoptr (SfSipMsg) ok = sf_sip_create_response (opt->msg, 200, NULL, "g4", NULL);
  CU_ASSERT_TRUE (sf_stack_respond (t->stack, sf_instance_handle (nist), ok));
  sf_endpoint_drain (t->env->ep);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 200);
  advance (t, 480 * 500 - 132 * 500 - 1);
  g_autoptr (SfSipMsg) busy = sf_sip_create_response (inv->msg, 486, NULL, "g5", NULL);
  CU_ASSERT_TRUE (sf_stack_respond (t->stack, sf_instance_handle (ist), busy));
  sf_endpoint_drain (t->env->ep);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 486);
  send_req (t, "ACK", "z9hG4bKguard5", "ACK", "g5");
  advance (t, 2); /* both guards' deadlines pass */
  CU_ASSERT_TRUE (nothing_sent (t));
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->guarded, 0);
  advance (t, 64 * 500);
  CU_ASSERT_PTR_NULL (find_instance (t, "nist"));
  CU_ASSERT_PTR_NULL (find_instance (t, "ist"));
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->guarded, 0);
  txn_free (t);
}

/* 17.2.1: 100 Trying only when the TU sends nothing within 200 ms.  A TU that
 * answers 180 at 150 ms: no 100, ever.  One that is silent: exactly one 100
 * at 200 ms; a retransmitted INVITE gets that 100 again, and once the TU's 180
 * went out, the 180. */
static void
trying_timer (void)
{
  Txn *t = client_setup ();
  send_req (t, "INVITE", "z9hG4bKtry1", "INVITE", NULL);
  CU_ASSERT_TRUE (nothing_sent (t)); /* no 100 at once */
  g_autofree char *s1 = seen ();
  CU_ASSERT_STRING_EQUAL (s1, "INVITE");
  SfInstance *ist = find_instance (t, "ist");
  CU_ASSERT_PTR_NOT_NULL_FATAL (ist);
  SfSipEvent *inv = sf_stack_txn_request_for_test (t->env->ep, ist);
  advance (t, 150);
  CU_ASSERT_TRUE (nothing_sent (t));
  g_autoptr (SfSipMsg) ringing = sf_sip_create_response (inv->msg, 180, NULL, "t1", NULL);
  CU_ASSERT_TRUE (sf_stack_respond (t->stack, sf_instance_handle (ist), ringing));
  sf_endpoint_drain (t->env->ep);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  advance (t, 1000);
  CU_ASSERT_TRUE (nothing_sent (t)); /* the timer died with the 180: no 100 after it */
  send_req (t, "INVITE", "z9hG4bKtry1", "INVITE", NULL);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);

  /* A TU that says nothing: one 100 at 200 ms, not before, not twice. */
  send_req (t, "INVITE", "z9hG4bKtry2", "INVITE", NULL);
  CU_ASSERT_TRUE (nothing_sent (t));
  g_autofree char *s2 = seen ();
  CU_ASSERT_STRING_EQUAL (s2, "INVITE");
  advance (t, 199);
  CU_ASSERT_TRUE (nothing_sent (t));
  advance (t, 1);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 100);
  advance (t, 5000);
  CU_ASSERT_TRUE (nothing_sent (t));
  send_req (t, "INVITE", "z9hG4bKtry2", "INVITE", NULL); /* a retransmission: the 100 again */
  CU_ASSERT_EQUAL (recv_status (t, NULL), 100);
  CU_ASSERT_TRUE (nothing_sent (t));
  SfInstance *ist2 = NULL;
  g_autoptr (GPtrArray) all = sf_endpoint_instances (t->env->ep);
  for (guint i = 0; i < all->len; i++)
    if (all->pdata[i] != ist && strcmp (sf_instance_machine (all->pdata[i])->name, "ist") == 0)
      ist2 = all->pdata[i];
  CU_ASSERT_PTR_NOT_NULL_FATAL (ist2);
  SfSipEvent *inv2 = sf_stack_txn_request_for_test (t->env->ep, ist2);
  g_autoptr (SfSipMsg) ringing2 = sf_sip_create_response (inv2->msg, 180, NULL, "t2", NULL);
  CU_ASSERT_TRUE (sf_stack_respond (t->stack, sf_instance_handle (ist2), ringing2));
  sf_endpoint_drain (t->env->ep);
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  send_req (t, "INVITE", "z9hG4bKtry2", "INVITE", NULL); /* now the 180 (17.2.1) */
  CU_ASSERT_EQUAL (recv_status (t, NULL), 180);
  CU_ASSERT_TRUE (nothing_sent (t));
  CU_ASSERT_EQUAL (sf_stack_stats (t->stack)->retransmissions_absorbed, 3);
  txn_free (t);
}

/* A stack (not listening) on @env's fake clock with @set (sip.KEY=VALUE). */
static SfStack *
rate_stack (SfTestEnv *env, const char *set)
{
  CU_ASSERT_TRUE (sf_config_set (env->cfg, set, NULL));
  sf_endpoint_attach (env->ep, NULL);
  SfTestEnv *scratch = sf_test_env_new ();
  SfMachine *tu = sf_test_load (scratch, "rejecter.xml", reject_flow);
  sf_test_env_free (scratch);
  SfStack *s = sf_stack_new (env->ep, env->loader, tu, NULL);
  g_assert (s != NULL);
  sf_machine_unref (tu);
  return s;
}

/* How many of @n requests from @addr are let through. */
static guint
rate_passed (SfStack *s, const char *addr, guint n)
{
  guint ok = 0;
  for (guint i = 0; i < n; i++)
    ok += sf_stack_rate_ok_for_test (s, addr, 5060 + i) ? 1 : 0;
  return ok;
}

static void
rate_recovers (void)
{
  SfTestEnv *env = sf_test_env_new ();
  SfStack *s = rate_stack (env, "sip.rate_limit=10");
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.1", 20), 20);
  CU_ASSERT_FALSE (sf_stack_rate_ok_for_test (s, "192.0.2.1", 5060));
  CU_ASSERT_FALSE (sf_stack_rate_ok_for_test (s, "192.0.2.1", 40000));
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.2", 25), 20);
  sf_endpoint_advance (env->ep, 1000);
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.1", 15), 10);
  sf_endpoint_advance (env->ep, 100);
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.1", 5), 1);
  sf_endpoint_advance (env->ep, 10000); /* a long rest: still two seconds' worth at most */
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.1", 30), 20);
  CU_ASSERT_EQUAL (sf_stack_rate_sources_for_test (s), 2);
  sf_stack_free (s);
  sf_test_env_free (env);
}

static gboolean
trust_192_0_2_9 (SfCtx *ctx, const SfSipPeer *from, gpointer data)
{
  g_autofree char *a = g_inet_address_to_string (g_inet_socket_address_get_address (from->remote));
  return strcmp (a, "192.0.2.9") == 0;
}

static void
rate_trusted_and_off (void)
{
  SfTestEnv *env = sf_test_env_new ();
  SfStack *s = rate_stack (env, "sip.rate_limit=1");
  SfStackGate gate = { .trusted = trust_192_0_2_9 };
  sf_stack_set_gate (s, &gate);
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.9", 1000), 1000);
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.10", 10), 2);
  CU_ASSERT_EQUAL (sf_stack_rate_sources_for_test (s), 1); /* the trusted one is not tracked */
  sf_stack_free (s);
  sf_test_env_free (env);

  env = sf_test_env_new ();
  s = rate_stack (env, "sip.rate_limit=0");
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.10", 1000), 1000);
  CU_ASSERT_EQUAL (sf_stack_rate_sources_for_test (s), 0);
  sf_stack_free (s);
  sf_test_env_free (env);
}

static void
rate_ipv6_prefix (void)
{
  SfTestEnv *env = sf_test_env_new ();
  SfStack *s = rate_stack (env, "sip.rate_limit=1");
  /* one /64: one bucket of 2 */
  CU_ASSERT_EQUAL (rate_passed (s, "2001:db8:1:2::1", 1), 1);
  CU_ASSERT_EQUAL (rate_passed (s, "2001:db8:1:2:ffff:ffff:ffff:fffe", 1), 1);
  CU_ASSERT_EQUAL (rate_passed (s, "2001:db8:1:2:1234:5678:9abc:def0", 3), 0);
  /* the next /64, and one that differs in its first bits only: their own */
  CU_ASSERT_EQUAL (rate_passed (s, "2001:db8:1:3::1", 3), 2);
  CU_ASSERT_EQUAL (rate_passed (s, "3001:db8:1:2::1", 3), 2);
  /* IPv4-mapped and IPv4: one bucket, whichever comes first */
  CU_ASSERT_EQUAL (rate_passed (s, "::ffff:192.0.2.7", 1), 1);
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.7", 3), 1);
  CU_ASSERT_EQUAL (rate_passed (s, "::ffff:192.0.2.7", 1), 0);
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.8", 2), 2);
  CU_ASSERT_EQUAL (rate_passed (s, "::ffff:192.0.2.8", 2), 0);
  /* ...and not with another IPv4 address, nor with an IPv6 /64 holding those bytes */
  CU_ASSERT_EQUAL (rate_passed (s, "192.0.2.6", 3), 2);
  CU_ASSERT_EQUAL (rate_passed (s, "c000:207::1", 3), 2);
  CU_ASSERT_EQUAL (sf_stack_rate_sources_for_test (s), 7);
  sf_stack_free (s);
  sf_test_env_free (env);
}

static void
rate_table_full (void)
{
  SfTestEnv *env = sf_test_env_new ();
  SfStack *s = rate_stack (env, "sip.rate_limit=1");
  sf_stack_set_rate_sources_for_test (s, 4);
  const char *src[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4" };
  for (guint i = 0; i < 4; i++)
    CU_ASSERT_EQUAL (rate_passed (s, src[i], 3), 2);
  CU_ASSERT_EQUAL (rate_passed (s, "10.0.0.1", 1), 0); /* seen again: now the most recent */
  CU_ASSERT_EQUAL (sf_stack_rate_sources_for_test (s), 4);
  /* A fifth source: counted like any (never let through unlimited); 10.0.0.2,
   * the least recently seen, is forgotten. */
  CU_ASSERT_EQUAL (rate_passed (s, "10.0.0.5", 5), 2);
  CU_ASSERT_EQUAL (sf_stack_rate_sources_for_test (s), 4);
  CU_ASSERT_EQUAL (sf_stack_stats (s)->rate_evicted, 1);
  CU_ASSERT_EQUAL (rate_passed (s, "10.0.0.1", 1), 0);     /* kept */
  CU_ASSERT_EQUAL (rate_passed (s, "10.0.0.2", 3), 2);     /* forgotten: a fresh bucket (evicts 10.0.0.3) */
  CU_ASSERT_EQUAL (rate_passed (s, "10.0.0.4", 1), 0);     /* kept */
  CU_ASSERT_EQUAL (sf_stack_stats (s)->rate_evicted, 2);
  /* Many new sources: each one limited after its burst; the table stays at 4. */
  guint limited = 0;
  for (guint i = 0; i < 1000; i++) {
    g_autofree char *a = g_strdup_printf ("2001:db8:%x::1", i);
    limited += rate_passed (s, a, 3) == 2 ? 1 : 0;
  }
  CU_ASSERT_EQUAL (limited, 1000);
  CU_ASSERT_EQUAL (sf_stack_rate_sources_for_test (s), 4);
  CU_ASSERT_EQUAL (sf_stack_stats (s)->rate_evicted, 1002);
  sf_stack_free (s);
  sf_test_env_free (env);
}

static void
rate_table_no_scan (void)
{
  SfTestEnv *env = sf_test_env_new ();
  SfStack *s = rate_stack (env, "sip.rate_limit=1");
  guint limited = 0, n = 2 * 65536;
  for (guint i = 0; i < n; i++) {
    char a[32];
    g_snprintf (a, sizeof a, "10.%u.%u.%u", i >> 16, (i >> 8) & 0xff, i & 0xff);
    limited += rate_passed (s, a, 3) == 2 ? 1 : 0;
  }
  CU_ASSERT_EQUAL (limited, n);
  CU_ASSERT_EQUAL (sf_stack_rate_sources_for_test (s), 65536);
  CU_ASSERT_EQUAL (sf_stack_stats (s)->rate_evicted, 65536);
  sf_stack_free (s);
  sf_test_env_free (env);
}

static SfSipMsg *
answers_req (const char *method, const char *to_tag)
{
  g_autofree char *to = to_tag != NULL ? g_strdup_printf (";tag=%s", to_tag) : g_strdup ("");
  g_autofree char *text = g_strdup_printf ("%s sip:bob@127.0.0.1 SIP/2.0\r\n"
                                           "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKans\r\n"
                                           "From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>%s\r\n"
                                           "Call-ID: answers@test\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\n"
                                           "Content-Length: 0\r\n\r\n",
                                           method, to, method);
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  return sf_sip_msg_parse (b, NULL);
}

static void
default_answers (void)
{
  const SfTxnAnswers *p = sf_txn_answers_default ();
  g_autoptr (SfSipMsg) ack = answers_req ("ACK", "x");
  g_autoptr (SfSipMsg) cancel = answers_req ("CANCEL", NULL);
  g_autoptr (SfSipMsg) bye = answers_req ("BYE", "other");
  g_autoptr (SfSipMsg) info = answers_req ("INFO", NULL);
  g_autoptr (SfSipMsg) foo = answers_req ("FOO", NULL);
  g_autoptr (SfSipMsg) mine = answers_req ("INFO", "mine");
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, ack, NULL), 0);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, cancel, NULL), 200);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, bye, "mine"), 481);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, bye, NULL), 481);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, info, NULL), 405);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, foo, NULL), 501);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, mine, "mine"), 405);
  g_autoptr (SfSipMsg) r405 = sf_txn_answers_build (p, info, 405);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r405);
  const SfSipHdr *allow = sf_sip_msg_find (r405, SF_SIP_HDR_ALLOW);
  CU_ASSERT_PTR_NOT_NULL_FATAL (allow);
  CU_ASSERT_TRUE (sf_sip_str_eq (allow->value, SF_STACK_ALLOW));
  CU_ASSERT_PTR_NOT_NULL (sf_sip_value_param (sf_sip_msg_to (r405), "tag"));
  g_autoptr (SfSipMsg) r200 = sf_txn_answers_build (p, cancel, 200);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r200);
  CU_ASSERT_PTR_NULL (sf_sip_value_param (sf_sip_msg_to (r200), "tag"));
  CU_ASSERT_PTR_NULL (sf_sip_msg_find (r200, SF_SIP_HDR_ALLOW));
  g_autoptr (SfSipMsg) r481 = sf_txn_answers_build (p, cancel, 481);
  CU_ASSERT_PTR_NOT_NULL (sf_sip_value_param (sf_sip_msg_to (r481), "tag")); /* only a CANCEL's 200 keeps its To */
}

/* A peer's names (a Contact, a Record-Route) cannot make the DNS lookups in
 * flight unbounded: past SF_STACK_MAX_LOOKUPS, a request to a name fails at
 * once and is counted.  The DNS server here never answers. */
static void
lookups_bounded (void)
{
  g_autoptr (GSocket) silent = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  CU_ASSERT_TRUE_FATAL (g_socket_bind (silent, any, FALSE, NULL));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (silent, NULL);
  g_autofree char *set = g_strdup_printf ("sip.dns_servers=127.0.0.1:%u",
                                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  SfTestEnv *env = sf_test_env_new ();
  SfStack *s = rate_stack (env, set);
  const char *text = "OPTIONS sip:x@silent.invalid SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKdns\r\n"
                     "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@silent.invalid>\r\nCall-ID: dns-bound\r\n"
                     "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  g_autoptr (GBytes) b = g_bytes_new_static (text, strlen (text));
  g_autoptr (SfSipMsg) req = sf_sip_msg_parse (b, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (req);
  for (guint i = 0; i < SF_STACK_MAX_LOOKUPS + 6; i++)
    sf_stack_send_request_located (s, req);
  CU_ASSERT_EQUAL (sf_stack_stats (s)->lookups_refused, 6);
  sf_stack_free (s); /* the lookups in flight are cancelled: their answers touch nothing */
  sf_test_env_free (env);
}

/* sf_stack_local: the address of our socket for a protocol as "host:port",
 * the same text each time (kept: sf-stack.c), NULL without such a socket,
 * a socket bound later found too. */
static void
stack_local (void)
{
  Txn *t = client_setup ();
  const GPtrArray *listened = sf_stack_listened (t->stack);
  CU_ASSERT_EQUAL_FATAL (listened->len, 1);
  g_autofree char *a = sf_stack_local (t->stack, SF_SIP_UDP);
  g_autofree char *b = sf_stack_local (t->stack, SF_SIP_UDP);
  g_autofree char *udp = g_strconcat ("udp:", a, NULL);
  CU_ASSERT_STRING_EQUAL (udp, listened->pdata[0]);
  CU_ASSERT_STRING_EQUAL (a, b);
  CU_ASSERT_PTR_NOT_EQUAL (a, b); /* each the caller's */
  CU_ASSERT_PTR_NULL (sf_stack_local (t->stack, SF_SIP_TCP));
  CU_ASSERT_TRUE_FATAL (sf_stack_listen (t->stack, "tcp:127.0.0.1:0", NULL));
  g_autofree char *c = sf_stack_local (t->stack, SF_SIP_TCP);
  g_autofree char *tcp = g_strconcat ("tcp:", c, NULL);
  CU_ASSERT_STRING_EQUAL (tcp, listened->pdata[1]);
  g_autofree char *a2 = sf_stack_local (t->stack, SF_SIP_UDP);
  CU_ASSERT_STRING_EQUAL (a2, a);
  txn_free (t);
}

void
sf_test_register_txn (void)
{
  CU_pSuite s = CU_add_suite ("transaction", NULL, NULL);
  SF_ADD_TEST (s, invite_answered);
  SF_ADD_TEST (s, invite_rejected_no_ack);
  SF_ADD_TEST (s, invite_rejected_acked);
  SF_ADD_TEST (s, target_refresh);
  SF_ADD_TEST (s, early_dialog_rejected);
  SF_ADD_TEST (s, cancelled);
  SF_ADD_TEST (s, rfc2543_matching);
  SF_ADD_TEST (s, rfc2543_ack_for_2xx);
  SF_ADD_TEST (s, untaken_requests);
  SF_ADD_TEST (s, server_send_fails);
  SF_ADD_TEST (s, failed_send_owner);
  SF_ADD_TEST (s, failed_send_rfc2543);
  SF_ADD_TEST (s, failed_send_513);
  SF_ADD_TEST (s, accepted_send_fails);
  SF_ADD_TEST (s, failed_send_warnings);
  SF_ADD_TEST (s, nict_answered);
  SF_ADD_TEST (s, sdk_send_request);
  SF_ADD_TEST (s, nict_timeout);
  SF_ADD_TEST (s, ict_rejected);
  SF_ADD_TEST (s, ict_accepted);
  SF_ADD_TEST (s, located);
  SF_ADD_TEST (s, tcp_connect_refused);
  SF_ADD_TEST (s, guard_nist);
  SF_ADD_TEST (s, guard_ist);
  SF_ADD_TEST (s, guard_ringing);
  SF_ADD_TEST (s, guard_after_answer);
  SF_ADD_TEST (s, trying_timer);
  SF_ADD_TEST (s, rate_recovers);
  SF_ADD_TEST (s, rate_trusted_and_off);
  SF_ADD_TEST (s, rate_ipv6_prefix);
  SF_ADD_TEST (s, rate_table_full);
  SF_ADD_TEST (s, rate_table_no_scan);
  SF_ADD_TEST (s, lookups_bounded);
  SF_ADD_TEST (s, default_answers);
  SF_ADD_TEST (s, stack_local);
}
