/* test-workers.c: two stateful proxies (xml/proxy.xml) as the two workers of
 * one set, in one thread on fake clocks (framework/sf-workers.h,
 * docs/workers.md step 1).  Each worker has its own loopback socket; every
 * message is sent to the worker that does NOT own its Call-ID, which hands the
 * bytes to the owner through its inbox.  One UDP socket plays the caller and
 * the called party (the Request-URI names it), as in test-proxy.c.
 *  - forwarded: (a) an INVITE, its 180 and its 200 read by the non-owner are
 *    forwarded once each, by the owner (16.6, 16.7); (d) the ACK for the 2xx
 *    and the BYE through the non-owner are forwarded, and so is the BYE's 200;
 *    the non-owner holds no instance, its inbox counts are the hand-offs
 *  - cancel: (b) a CANCEL read by the non-owner while the INVITE rings is
 *    answered 200 and forwarded (9.2, 16.10); the 487 is ACKed downstream
 *    (17.1.1.3) and goes upstream; the caller's ACK for it is absorbed
 *  - retransmissions: (c) the INVITE retransmitted through both workers at
 *    T1 and 2T1 makes one server transaction: it is forwarded once, and each
 *    retransmission is answered with the last provisional response (16.7 /
 *    17.2.1) instead
 *  - handles: (e) the two workers' handles and ids never collide: worker w of 2
 *    numbers w + 1, w + 3, ...
 *  - listener_source: by default (core.worker_source = listener) a worker
 *    forwards from the listener, named in its Via, and opens no socket
 *  - own_socket: with core.worker_source = own, a worker forwards from a UDP socket of its own and names
 *    it in its Via (not the listener's port, which Record-Route keeps); the
 *    180, the CANCEL's 200 and the 487 sent there are run by that worker with
 *    no hand-off, whatever worker read the request; its CANCEL and its ACK
 *    leave from there too; a request sent there is refused, unanswered
 *    (docs/workers.md, "A socket of each worker's own")
 *  - own_stray: with own, a 2xx arriving at the own socket after its
 *    transaction ended is forwarded statelessly from the listener, not from
 *    that socket; the ACK for a 2xx leaves from the listener
 *  - own_binding: with own, a target from a location binding, a forwarded
 *    REGISTER and a request inside a dialog leave from the listener; a
 *    Request-URI target out of a dialog from the own socket
 *  - alone: (f) a set of one installs no steer hook: a worker alone never scans
 *  - drawn_home: the Call-IDs a worker draws for requests it starts
 *    (sf_stack_new_call_id) hash to it, for N = 2, 3 and 8
 * Step 2, the shared state (the proxy's registrar set up on each worker and
 * joined, sf_registrar_join_workers):
 *  - fork: (g) bob's two devices REGISTER through different workers (one
 *    REGISTER owned by each), both bindings in worker 0's location; an
 *    INVITE for bob owned by worker 1 and read by worker 0 is forked to both
 *    (its lookup crossing to worker 0 and back); the 200 of one device read by
 *    the non-owner goes upstream once, the other device is cancelled and its
 *    487 ACKed, not forwarded (16.7, 16.10)
 *  - cseq_order: (h) a re-REGISTER with a lower CSeq read by the other worker
 *    is refused (10.3 step 7: 500), a higher one taken
 *  - nonce: (i) with registrar.users, a nonce issued by worker 0 is taken by
 *    worker 1 (one digest server: separate ones would answer stale=true); the
 *    same nonce count replayed through either worker is refused (401, not
 *    stale); a new nonce's nc=1 checked after its nc=2 (two workers) is taken,
 *    then refused as a replay (the digest server's window of counts)
 *  - answer_here: with sf_stack_workers_answer_here (a flow that answers
 *    every request itself), a REGISTER is answered by the worker that read
 *    it, whatever its Call-ID: no hand-off; its retransmission read there is
 *    absorbed by that worker's transaction; a lower CSeq of the same Call-ID
 *    read by the other worker is refused by worker 0's location (10.3 step
 *    7), its ask and answer the only crossings; a response still goes to its
 *    Call-ID's owner
 *  - rate: (j) sip.rate_limit counts a source whose requests are owned by
 *    both workers in one bucket: of four new requests at once (a burst of
 *    two), two pass, whichever worker owns them
 *  - lists: the file lists of one registry reload without another's
 *  - location_layer: sf-location-worker.c alone: an update through worker 1
 *    held by worker 0; requests in flight when either location closes freed;
 *    a lookup worker 1 made after worker 0's location closed answered
 *    unavailable, not left waiting
 *  - location_flow_closed: a WebSocket flow closed on worker 1: its
 *    bindings leave worker 0's location (handed there), another flow's stay
 *  - home_inline: worker 0's location answering inside the call that asks:
 *    each request handed back once and freed once
 *  - asks_bounded: past its max_asks in flight, worker 1's location
 *    answers a lookup or an update at once as busy, counted
 *  - shares: the set refuses new work at sip.max_instances live server
 *    transactions, whichever worker holds them; one worker may hold more
 *    than max / 2
 *  - one_source: a source reusing one Call-ID is refused at its
 *    sip.max_per_source, and the worker it fills still takes another
 *    source's call; one_source_of_three: at three workers, at 2
 *    max_per_source / 3 at one worker
 *  - held_keyed: sources sharing an unkeyed string hash's stripe are spread
 *    over the per-source table's stripes by its keyed hash
 * Step 3, continued:
 *  - inbox_bounded: worker 0 not turning (its inbox on a context of its
 *    own), a flood of datagrams it owns read by worker 1 past its inbox's
 *    bound (items, then bytes) is dropped and counted, what waits stays
 *    within the bound, a backlog runs SF_WORKERS_RUN_MAX a turn, and worker
 *    0 then serves what waited and a new request
 *  - inbox_order: items run in the order posted across the inbox ring's wrap
 *    and growth, hands past the offers' bound; an offer to a full inbox is
 *    refused; what waits when the set goes is destroyed once, not run
 *  - wake_later: offers whose wake-up waits for the end of the reader's batch
 *    (sf_workers_offer_later) reach an owner asleep in poll, on a thread of
 *    its own, once sf_workers_wake runs: one wake-up for two */
#include "config.h"
#include "sf-test.h"
#include "operators/transaction/sf-stack.h"
#include "operators/proxy/sf-proxy.h"
#include "operators/registrar/sf-registrar.h"
#include "operators/registrar/sf-location-store.h"
#include "framework/sf-workers.h"
#include "framework/sf-clock.h"
#include "framework/sf-flow.h"
#include "sip/sf-sip-route.h"
#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  SfTestStack *px[3];
  guint n;            /* workers: 2, or 3 */
  SfWorkers *set;
  GSocket *peer;      /* unowned: px[0]'s peer plays every party */
  guint port;         /* its port */
  gboolean registrar; /* each worker has the registrar's state (step 2) */
} Wk;

static const guint64 test_key[2] = { 0x5346574f524b4552ULL, 0x73697066666c6f77ULL };

/* A proxy (xml/proxy.xml); with @registrar its registrar state too, after
 * the settings @sets (NULL-terminated, nullable; proxy.trusted is loopback
 * unless they say otherwise). */
static SfTestStack *
proxy_new_with (const char *const *sets, gboolean registrar)
{
  SfTestEnv *env = sf_test_env_new ();
  CU_ASSERT_TRUE (sf_config_set (env->cfg, "proxy.trusted=127.0.0.0/8", NULL));
  for (const char *const *x = sets; x != NULL && *x != NULL; x++)
    CU_ASSERT_TRUE (sf_config_set (env->cfg, *x, NULL));
  CU_ASSERT_TRUE (sf_proxy_setup (env->ep, env->cfg, NULL));
  if (registrar)
    CU_ASSERT_TRUE (sf_registrar_setup (env->ep, env->cfg, NULL));
  sf_endpoint_attach (env->ep, NULL);
  SfMachine *tu = sf_loader_load (env->loader, SF_SRCDIR "/xml/proxy.xml", NULL);
  g_assert (tu != NULL);
  SfTestStack *t = sf_test_stack_new (env, tu);
  sf_stack_set_gate (t->stack, &sf_proxy_gate);
  return t;
}

static SfTestStack *
proxy_new (void)
{
  return proxy_new_with (NULL, FALSE);
}

static void
proxy_registrar_teardown (SfEndpoint *ep)
{
  sf_proxy_teardown (ep);
  sf_registrar_teardown (ep);
}

/* @n workers; with @registrar each has the registrar's state, joined;
 * worker 0's inbox on @ctx0 (NULL: the default context). */
static Wk *
wk_setup_ctx (const char *const *sets, gboolean registrar, guint n, GMainContext *ctx0)
{
  Wk *w = g_new0 (Wk, 1);
  w->n = n;
  w->set = sf_workers_new (n, test_key);
  w->registrar = registrar;
  for (guint i = 0; i < n; i++) {
    w->px[i] = proxy_new_with (sets, registrar);
    sf_stack_join_workers (w->px[i]->stack, w->set, i, i == 0 ? ctx0 : NULL);
    if (registrar)
      sf_registrar_join_workers (w->px[i]->env->ep, w->set, i);
  }
  w->peer = w->px[0]->peer;
  w->port = w->px[0]->port;
  return w;
}

static Wk *
wk_setup_n (const char *const *sets, gboolean registrar, guint n)
{
  return wk_setup_ctx (sets, registrar, n, NULL);
}

/* Two workers; with @registrar each has the registrar's state, joined. */
static Wk *
wk_setup_with (const char *const *sets, gboolean registrar)
{
  return wk_setup_n (sets, registrar, 2);
}

static Wk *
wk_setup (void)
{
  return wk_setup_with (NULL, FALSE);
}

static void
wk_free (Wk *w)
{
  /* Workers 1..N-1 first (their locations ask worker 0's, which must outlive
   * them: sf-location.h), then worker 0, then the set; no inbox runs in
   * between, and what is left in one is freed with the set, its destroy
   * touching no engine. */
  for (guint i = w->n; i-- > 0;)
    sf_test_stack_free (w->px[i], w->registrar ? proxy_registrar_teardown : sf_proxy_teardown);
  sf_workers_free (w->set);
  g_free (w);
}

/* A Call-ID that worker @owner owns (transfer full). */
static char *
call_id_for (Wk *w, guint owner, const char *tag)
{
  for (guint i = 0;; i++) {
    char *id = g_strdup_printf ("wk-%s-%u@test", tag, i);
    if (sf_workers_route (w->set, id, strlen (id)) == owner)
      return id;
    g_free (id);
  }
}

/* Sends @text from the peer to worker @i's socket. */
static void
send_to (Wk *w, guint i, const char *text)
{
  g_socket_send_to (w->peer, G_SOCKET_ADDRESS (w->px[i]->to), text, strlen (text), NULL, NULL);
}

/* Every datagram the peer gets once the main context has run dry (the
 * sockets are on loopback: what is sent is there at once), in order.  The
 * workers' inboxes are sources of that context, so hand-offs run too. */
static GPtrArray *
recv_all (Wk *w)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (int round = 0; round < 50; round++) {
    for (int i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
      ;
    gboolean any = FALSE;
    while (g_socket_condition_check (w->peer, G_IO_IN)) {
      char buf[8192];
      gssize got = g_socket_receive (w->peer, buf, sizeof buf - 1, NULL, NULL);
      if (got <= 0)
        break;
      g_ptr_array_add (out, g_strndup (buf, (gsize) got));
      any = TRUE;
    }
    if (!any)
      break;
  }
  return out;
}

/* How many of @msgs start with @start; *@first (nullable) gets the first (unowned). */
static guint
count (GPtrArray *msgs, const char *start, const char **first)
{
  guint n = 0;
  for (guint i = 0; i < msgs->len; i++)
    if (g_str_has_prefix (msgs->pdata[i], start)) {
      if (n++ == 0 && first != NULL)
        *first = msgs->pdata[i];
    }
  return n;
}

/* Nothing more was sent. */
static gboolean
quiet (Wk *w)
{
  g_autoptr (GPtrArray) got = recv_all (w);
  for (guint i = 0; i < got->len; i++)
    g_printerr ("\nworkers: unexpected: %.60s\n", (const char *) got->pdata[i]);
  return got->len == 0;
}

/* A response @status to @req as the called party (8.2.6), as test-proxy.c. */
static char *
respond (const char *req, guint status, const char *reason)
{
  GString *r = g_string_new (NULL);
  g_string_append_printf (r, "SIP/2.0 %u %s\r\n", status, reason);
  g_auto (GStrv) lines = g_strsplit (req, "\r\n", -1);
  for (char **l = lines; *l != NULL && **l != '\0'; l++) {
    if (g_str_has_prefix (*l, "Via:") || g_str_has_prefix (*l, "From:") || g_str_has_prefix (*l, "Call-ID:") ||
        g_str_has_prefix (*l, "CSeq:"))
      g_string_append_printf (r, "%s\r\n", *l);
    else if (g_str_has_prefix (*l, "To:"))
      g_string_append_printf (r, "%s%s\r\n", *l, strstr (*l, "tag=") == NULL ? ";tag=callee1" : "");
  }
  g_string_append (r, "Content-Length: 0\r\n\r\n");
  return g_string_free (r, FALSE);
}

/* A request from the caller to the called party (the peer) in call @cid. */
static char *
request (Wk *w, const char *method, const char *branch, const char *cid, const char *to_tag, guint cseq)
{
  return g_strdup_printf ("%s sip:callee@127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\n"
                          "Max-Forwards: 70\r\nFrom: <sip:caller@example.net>;tag=c1\r\n"
                          "To: <sip:callee@example.org>%s%s\r\nCall-ID: %s\r\nCSeq: %u %s\r\n"
                          "Contact: <sip:caller@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
                          method, w->port, w->port, branch, to_tag != NULL ? ";tag=" : "", to_tag != NULL ? to_tag : "",
                          cid, cseq, method, w->port);
}

static guint64
handed (Wk *w, guint i, gboolean out)
{
  SfWorkerStats st;
  sf_workers_stats (w->set, i, &st);
  return out ? st.handed_out : st.handed_in;
}

static void
forwarded (void)
{
  Wk *w = wk_setup ();
  g_autofree char *cid = call_id_for (w, 1, "a");
  /* (a) the INVITE through worker 0, which does not own it */
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKwa1", cid, NULL, 1);
  send_to (w, 0, inv);
  g_autoptr (GPtrArray) got = recv_all (w);
  const char *fwd = NULL;
  CU_ASSERT_EQUAL_FATAL (count (got, "INVITE ", &fwd), 1);
  g_autofree char *fwd_copy = g_strdup (fwd);
  /* the owner forwarded it: its Record-Route names worker 1's port */
  g_autofree char *rr = g_strdup_printf ("Record-Route: <sip:127.0.0.1:%u", g_inet_socket_address_get_port (w->px[1]->to));
  CU_ASSERT_PTR_NOT_NULL (strstr (fwd_copy, rr));
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 1);
  CU_ASSERT_EQUAL (handed (w, 1, FALSE), 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  CU_ASSERT_TRUE (sf_endpoint_n_instances (w->px[1]->env->ep) > 0);
  /* its 180 and 200 through worker 0: each forwarded upstream once */
  g_autofree char *r180 = respond (fwd_copy, 180, "Ringing");
  send_to (w, 0, r180);
  g_autoptr (GPtrArray) up1 = recv_all (w);
  CU_ASSERT_EQUAL (count (up1, "SIP/2.0 180", NULL), 1);
  g_autofree char *r200 = respond (fwd_copy, 200, "OK");
  send_to (w, 0, r200);
  g_autoptr (GPtrArray) up2 = recv_all (w);
  CU_ASSERT_EQUAL (count (up2, "SIP/2.0 200", NULL), 1);
  CU_ASSERT_TRUE (quiet (w));
  /* (d) the ACK for the 2xx and the BYE through worker 0: forwarded */
  g_autofree char *ack = request (w, "ACK", "z9hG4bKwa2", cid, "callee1", 1);
  send_to (w, 0, ack);
  g_autoptr (GPtrArray) down1 = recv_all (w);
  CU_ASSERT_EQUAL (count (down1, "ACK ", NULL), 1);
  g_autofree char *bye = request (w, "BYE", "z9hG4bKwa3", cid, "callee1", 2);
  send_to (w, 0, bye);
  g_autoptr (GPtrArray) down2 = recv_all (w);
  const char *fbye = NULL;
  CU_ASSERT_EQUAL_FATAL (count (down2, "BYE ", &fbye), 1);
  g_autofree char *bye_ok = respond (fbye, 200, "OK");
  send_to (w, 0, bye_ok);
  g_autoptr (GPtrArray) up3 = recv_all (w);
  CU_ASSERT_EQUAL (count (up3, "SIP/2.0 200", NULL), 1);
  CU_ASSERT_TRUE (quiet (w));
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 6);
  CU_ASSERT_EQUAL (handed (w, 1, FALSE), 6);
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 0);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  /* every instance ends by its timers, the clocks moving together */
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w)); /* what the timers sent on the way */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  wk_free (w);
}

/* The first datagram the peer gets once the context ran dry (transfer
 * full; "" for none), *@from_port its source port. */
static char *
recv_one (Wk *w, guint *from_port)
{
  for (int i = 0; i < 1000 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  *from_port = 0;
  if (!g_socket_condition_check (w->peer, G_IO_IN))
    return g_strdup ("");
  char buf[8192];
  GSocketAddress *src = NULL;
  gssize got = g_socket_receive_from (w->peer, &src, buf, sizeof buf - 1, NULL, NULL);
  if (src != NULL) {
    *from_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (src));
    g_object_unref (src);
  }
  return g_strndup (buf, got > 0 ? (gsize) got : 0);
}

/* The port of @msg's top Via (0: none). */
static guint
via_port (const char *msg)
{
  const char *v = strstr (msg, "\r\nVia: SIP/2.0/UDP 127.0.0.1:");
  return v != NULL ? (guint) g_ascii_strtoull (v + strlen ("\r\nVia: SIP/2.0/UDP 127.0.0.1:"), NULL, 10) : 0;
}

/* Sends @text from the peer to 127.0.0.1:@port. */
static void
send_port (Wk *w, guint port, const char *text)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) to = g_inet_socket_address_new (lo, (guint16) port);
  g_socket_send_to (w->peer, to, text, strlen (text), NULL, NULL);
}

/* core.worker_source = own on every worker of @w (before anything is forwarded). */
static void
own_source (Wk *w)
{
  for (guint i = 0; i < w->n; i++)
    sf_stack_workers_own_source (w->px[i]->stack);
}

/* An INVITE owned by worker 1 (its Call-ID in *@cid, transfer full, branch
 * z9hG4bK@tag) read by worker 0: the INVITE worker 1 forwards (transfer
 * full; "" for none), *@src its source port. */
static char *
invite_across (Wk *w, const char *tag, char **cid, guint *src)
{
  *cid = call_id_for (w, 1, tag);
  g_autofree char *branch = g_strconcat ("z9hG4bK", tag, NULL);
  g_autofree char *inv = request (w, "INVITE", branch, *cid, NULL, 1);
  send_to (w, 0, inv);
  return recv_one (w, src);
}

/* By default (core.worker_source = listener) a worker forwards from the
 * listener and names it in its Via: no socket of its own. */
static void
listener_source (void)
{
  Wk *w = wk_setup ();
  guint l1 = g_inet_socket_address_get_port (w->px[1]->to);
  g_autofree char *cid = NULL;
  guint src = 0;
  g_autofree char *fwd = invite_across (w, "lsn1", &cid, &src);
  CU_ASSERT_FATAL (g_str_has_prefix (fwd, "INVITE "));
  CU_ASSERT_EQUAL (via_port (fwd), l1);
  CU_ASSERT_EQUAL (src, l1);
  CU_ASSERT_PTR_NULL (sf_stack_home_sent_by (w->px[0]->stack));
  CU_ASSERT_PTR_NULL (sf_stack_home_sent_by (w->px[1]->stack));
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  wk_free (w);
}

/* The caller's CANCEL (@branch, @cid) of the INVITE forwarded as @fwd from
 * the own socket at @home, read by worker @reader: 200 upstream and the
 * CANCEL downstream from @home; its 200 and the 487 sent to @home: the 487
 * upstream and its ACK downstream from @home.  TRUE when all of that. */
static gboolean
cancel_at_home (Wk *w, guint reader, const char *branch, const char *cid, const char *fwd, guint home)
{
  g_autofree char *can = request (w, "CANCEL", branch, cid, NULL, 1);
  send_to (w, reader, can);
  g_autoptr (GPtrArray) c = recv_all (w);
  const char *fcancel = NULL;
  if (count (c, "SIP/2.0 200", NULL) != 1 || count (c, "CANCEL ", &fcancel) != 1 || via_port (fcancel) != home)
    return FALSE;
  g_autofree char *cancel_ok = respond (fcancel, 200, "OK");
  g_autofree char *r487 = respond (fwd, 487, "Request Terminated");
  send_port (w, home, cancel_ok);
  send_port (w, home, r487);
  g_autoptr (GPtrArray) e = recv_all (w);
  const char *ack = NULL;
  return count (e, "SIP/2.0 487", NULL) == 1 && count (e, "ACK ", &ack) == 1 && via_port (ack) == home;
}

static void
own_socket (void)
{
  Wk *w = wk_setup ();
  own_source (w);
  guint l0 = g_inet_socket_address_get_port (w->px[0]->to), l1 = g_inet_socket_address_get_port (w->px[1]->to);
  g_autofree char *cid = NULL;
  guint src = 0;
  g_autofree char *fwd = invite_across (w, "own1", &cid, &src); /* read by worker 0, handed to worker 1 */
  CU_ASSERT_FATAL (g_str_has_prefix (fwd, "INVITE "));
  guint home = via_port (fwd);
  CU_ASSERT_TRUE (home != 0 && home != l0 && home != l1); /* not a listener's */
  CU_ASSERT_EQUAL (src, home);                              /* and it left from there */
  g_autofree char *rr = g_strdup_printf ("Record-Route: <sip:127.0.0.1:%u", l1);
  CU_ASSERT_PTR_NOT_NULL (strstr (fwd, rr)); /* the dialog's requests come to the listener */
  CU_ASSERT_TRUE (quiet (w));
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 1);
  /* the 180 to the Via: run by worker 1, no hand-off */
  g_autofree char *r180 = respond (fwd, 180, "Ringing");
  send_port (w, home, r180);
  g_autoptr (GPtrArray) up = recv_all (w);
  CU_ASSERT_EQUAL (count (up, "SIP/2.0 180", NULL), 1);
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 1);
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 0);
  /* the CANCEL read by worker 0: handed over, 200 upstream, CANCEL downstream
   * from worker 1's socket; its 200 and the 487 to the Via: run there, the
   * 487 ACKed from there and sent up, none of them handed over */
  CU_ASSERT_TRUE (cancel_at_home (w, 0, "z9hG4bKown1", cid, fwd, home));
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 2);
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 0);
  /* a request to that socket: refused, unanswered, nothing made */
  guint64 refused = sf_stack_stats (w->px[1]->stack)->refused;
  guint live = sf_endpoint_n_instances (w->px[1]->env->ep);
  g_autofree char *opt = request (w, "OPTIONS", "z9hG4bKown2", cid, NULL, 2);
  send_port (w, home, opt);
  CU_ASSERT_TRUE (quiet (w));
  CU_ASSERT_EQUAL (sf_stack_stats (w->px[1]->stack)->refused, refused + 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), live);
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  wk_free (w);
}

/* With core.worker_source = own, a 2xx that comes to a worker's own socket
 * after its transaction ended (a stray, forwarded statelessly: 16.7 step
 * 10) goes upstream from the listener, the address the caller sent to, not
 * from that socket; the ACK for the 2xx leaves from the listener too. */
static void
own_stray (void)
{
  Wk *w = wk_setup ();
  own_source (w);
  guint l1 = g_inet_socket_address_get_port (w->px[1]->to);
  g_autofree char *cid = call_id_for (w, 1, "ostray");
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKostray1", cid, NULL, 1);
  send_to (w, 1, inv);
  guint src = 0;
  g_autofree char *fwd = recv_one (w, &src);
  CU_ASSERT_FATAL (g_str_has_prefix (fwd, "INVITE "));
  guint home = via_port (fwd);
  CU_ASSERT_TRUE (home != 0 && home != l1);
  g_autofree char *r200 = respond (fwd, 200, "OK");
  send_port (w, home, r200);
  g_autoptr (GPtrArray) up = recv_all (w);
  CU_ASSERT_EQUAL (count (up, "SIP/2.0 200", NULL), 1);
  /* the ACK for the 2xx: from the listener, named in its Via */
  g_autofree char *ack = request (w, "ACK", "z9hG4bKostray2", cid, "callee1", 1);
  send_to (w, 1, ack);
  g_autofree char *fack = recv_one (w, &src);
  CU_ASSERT_FATAL (g_str_has_prefix (fack, "ACK "));
  CU_ASSERT_EQUAL (src, l1);
  CU_ASSERT_EQUAL (via_port (fack), l1);
  /* every transaction over, the 2xx again to the own socket: a stray */
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  guint64 stateless = sf_stack_stats (w->px[1]->stack)->stateless;
  send_port (w, home, r200);
  g_autofree char *again = recv_one (w, &src);
  CU_ASSERT_TRUE (g_str_has_prefix (again, "SIP/2.0 200"));
  CU_ASSERT_EQUAL (src, l1);
  CU_ASSERT_EQUAL (sf_stack_stats (w->px[1]->stack)->stateless, stateless + 1);
  CU_ASSERT_TRUE (quiet (w));
  wk_free (w);
}

static void
cancel (void)
{
  Wk *w = wk_setup ();
  g_autofree char *cid = call_id_for (w, 1, "b");
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKwb1", cid, NULL, 1);
  send_to (w, 0, inv);
  g_autoptr (GPtrArray) got = recv_all (w);
  const char *fwd = NULL;
  CU_ASSERT_EQUAL_FATAL (count (got, "INVITE ", &fwd), 1);
  g_autofree char *fwd_copy = g_strdup (fwd);
  g_autofree char *r180 = respond (fwd_copy, 180, "Ringing");
  send_to (w, 0, r180);
  g_autoptr (GPtrArray) up1 = recv_all (w);
  CU_ASSERT_EQUAL (count (up1, "SIP/2.0 180", NULL), 1);
  /* (b) the CANCEL through worker 0: 200 upstream, CANCEL downstream */
  g_autofree char *can = request (w, "CANCEL", "z9hG4bKwb1", cid, NULL, 1);
  send_to (w, 0, can);
  g_autoptr (GPtrArray) c = recv_all (w);
  const char *fcancel = NULL;
  CU_ASSERT_EQUAL (count (c, "SIP/2.0 200", NULL), 1);
  CU_ASSERT_EQUAL_FATAL (count (c, "CANCEL ", &fcancel), 1);
  g_autofree char *cancel_ok = respond (fcancel, 200, "OK");
  g_autofree char *r487 = respond (fwd_copy, 487, "Request Terminated");
  send_to (w, 0, cancel_ok);
  send_to (w, 0, r487);
  /* the 487 ACKed downstream by the client transaction, and sent upstream */
  g_autoptr (GPtrArray) e = recv_all (w);
  CU_ASSERT_EQUAL (count (e, "ACK ", NULL), 1);
  CU_ASSERT_EQUAL (count (e, "SIP/2.0 487", NULL), 1);
  /* the caller's ACK for the 487, through worker 0: absorbed by the INVITE's server transaction */
  g_autofree char *ack = request (w, "ACK", "z9hG4bKwb1", cid, "callee1", 1);
  send_to (w, 0, ack);
  CU_ASSERT_TRUE (quiet (w));
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 6);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w)); /* what the timers sent on the way */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  wk_free (w);
}

static void
retransmissions (void)
{
  Wk *w = wk_setup ();
  g_autofree char *cid = call_id_for (w, 1, "c");
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKwc1", cid, NULL, 1);
  send_to (w, 0, inv);
  g_autoptr (GPtrArray) got = recv_all (w);
  const char *fwd = NULL;
  CU_ASSERT_EQUAL_FATAL (count (got, "INVITE ", &fwd), 1);
  g_autofree char *fwd_copy = g_strdup (fwd);
  g_autofree char *r180 = respond (fwd_copy, 180, "Ringing");
  send_to (w, 0, r180);
  g_autoptr (GPtrArray) up = recv_all (w);
  CU_ASSERT_EQUAL (count (up, "SIP/2.0 180", NULL), 1);
  /* (c) the caller's retransmissions at T1 (through the owner) and 2T1 (through the other) */
  sf_workers_advance (w->set, 500);
  send_to (w, 1, inv);
  g_autoptr (GPtrArray) r1 = recv_all (w);
  CU_ASSERT_EQUAL (count (r1, "SIP/2.0 180", NULL), 1); /* the last provisional response again */
  sf_workers_advance (w->set, 1000);
  send_to (w, 0, inv);
  g_autoptr (GPtrArray) r2 = recv_all (w);
  CU_ASSERT_EQUAL (count (r2, "SIP/2.0 180", NULL), 1);
  CU_ASSERT_TRUE (quiet (w));
  /* one server transaction, on the owner: the INVITE was never forwarded again */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 3); /* INVITE, 180, INVITE; the one sent to the owner stayed there */
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 0);
  g_autofree char *r486 = respond (fwd_copy, 486, "Busy Here");
  send_to (w, 0, r486);
  g_autoptr (GPtrArray) fin = recv_all (w);
  CU_ASSERT_EQUAL (count (fin, "SIP/2.0 486", NULL), 1);
  CU_ASSERT_EQUAL (count (fin, "ACK ", NULL), 1);
  g_autofree char *ack = request (w, "ACK", "z9hG4bKwc1", cid, "callee1", 1);
  send_to (w, 1, ack);
  CU_ASSERT_TRUE (quiet (w));
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w)); /* what the timers sent on the way */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  wk_free (w);
}

/* The handles named in @lines ("instance":"t3", "call":"c1"), worker @w's:
 * each must have a number n with (n - 1) mod 2 = @w, and none may be one the
 * other worker named.  *@n counts the distinct ones, *@wrong the others. */
static void
handles_of (GPtrArray *lines, GHashTable *seen, guint w, guint *n, guint *wrong)
{
  static const char *const fields[] = { "\"instance\":\"", "\"call\":\"" };
  for (guint i = 0; i < lines->len; i++)
    for (gsize f = 0; f < G_N_ELEMENTS (fields); f++) {
      const char *h = strstr (lines->pdata[i], fields[f]);
      if (h == NULL)
        continue;
      h += strlen (fields[f]);
      const char *q = strchr (h, '"');
      if (q == NULL)
        continue;
      g_autofree char *handle = g_strndup (h, (gsize) (q - h));
      const char *d = handle;
      while (*d != '\0' && !g_ascii_isdigit (*d))
        d++;
      guint64 num = g_ascii_strtoull (d, NULL, 10);
      gpointer other;
      if (num == 0 || (num - 1) % 2 != w)
        (*wrong)++;
      if (g_hash_table_lookup_extended (seen, handle, NULL, &other)) {
        if (GPOINTER_TO_UINT (other) != w)
          (*wrong)++;
        continue;
      }
      g_hash_table_insert (seen, g_steal_pointer (&handle), GUINT_TO_POINTER (w));
      (*n)++;
    }
}

static void
handles (void)
{
  Wk *w = wk_setup ();
  /* (e) one call owned by each worker */
  for (guint owner = 0; owner < 2; owner++) {
    g_autofree char *cid = call_id_for (w, owner, "e");
    g_autofree char *inv = request (w, "INVITE", owner == 0 ? "z9hG4bKwe0" : "z9hG4bKwe1", cid, NULL, 1);
    send_to (w, 1 - owner, inv);
    g_autoptr (GPtrArray) got = recv_all (w);
    const char *fwd = NULL;
    CU_ASSERT_EQUAL_FATAL (count (got, "INVITE ", &fwd), 1);
    g_autofree char *r486 = respond (fwd, 486, "Busy Here");
    send_to (w, 1 - owner, r486);
    g_autoptr (GPtrArray) fin = recv_all (w);
    CU_ASSERT_EQUAL (count (fin, "SIP/2.0 486", NULL), 1);
  }
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint n0 = 0, n1 = 0, wrong = 0;
  handles_of (w->px[0]->env->lines, seen, 0, &n0, &wrong);
  handles_of (w->px[1]->env->lines, seen, 1, &n1, &wrong);
  CU_ASSERT_TRUE (n0 >= 2 && n1 >= 2); /* a server and a client transaction at least, each */
  CU_ASSERT_EQUAL (wrong, 0);          /* worker 0's are odd (1, 3, ...), worker 1's even */
  wk_free (w);
}

static void
alone (void)
{
  /* (f) */
  SfTestStack *t = proxy_new ();
  g_autoptr (SfWorkers) set = sf_workers_new (1, test_key);
  sf_stack_join_workers (t->stack, set, 0, NULL);
  CU_ASSERT_FALSE (sf_sip_transport_steers (sf_stack_transport (t->stack)));
  CU_ASSERT_EQUAL (sf_workers_route (set, "anything", 8), 0);
  sf_workers_free (g_steal_pointer (&set));
  sf_test_stack_free (t, sf_proxy_teardown);
  /* and a worker of two steers */
  Wk *w = wk_setup ();
  CU_ASSERT_TRUE (sf_sip_transport_steers (sf_stack_transport (w->px[0]->stack)));
  wk_free (w);
}

static void
drawn_home (void)
{
  static const guint ns[] = { 2, 3, 8 };
  for (gsize k = 0; k < G_N_ELEMENTS (ns); k++) {
    SfTestStack *t = proxy_new ();
    SfWorkers *set = sf_workers_new (ns[k], test_key);
    sf_stack_join_workers (t->stack, set, ns[k] - 1, NULL); /* the others need not exist to draw */
    for (guint i = 0; i < 50; i++) {
      g_autofree char *id = sf_stack_new_call_id (t->stack, "127.0.0.1:5060");
      CU_ASSERT_TRUE (g_str_has_suffix (id, "@127.0.0.1"));
      CU_ASSERT_EQUAL (sf_workers_route (set, id, strlen (id)), ns[k] - 1);
    }
    sf_workers_free (set);
    sf_test_stack_free (t, sf_proxy_teardown);
  }
}

/* ---- step 2: the shared state ---- */

/* A REGISTER for bob@sipflow.test binding sip:@user@ the peer (@auth, nullable:
 * an Authorization value). */
static char *
register_msg (Wk *w, const char *cid, guint cseq, const char *user, const char *auth)
{
  static guint branch;
  branch++;
  return g_strdup_printf ("REGISTER sip:sipflow.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKreg%u\r\n"
                          "Max-Forwards: 70\r\nFrom: <sip:bob@sipflow.test>;tag=r%u\r\nTo: <sip:bob@sipflow.test>\r\n"
                          "Call-ID: %s\r\nCSeq: %u REGISTER\r\nContact: <sip:%s@127.0.0.1:%u>\r\nExpires: 3600\r\n"
                          "%s%s%sContent-Length: 0\r\n\r\n",
                          w->port, branch, branch, cid, cseq, user, w->port, auth != NULL ? "Authorization: " : "",
                          auth != NULL ? auth : "", auth != NULL ? "\r\n" : "");
}

/* Sends @text (taken) to worker @i: does its one response start with
 * @start?  *@out (nullable) gets the response (transfer full). */
static gboolean
answered (Wk *w, guint i, char *text, const char *start, char **out)
{
  send_to (w, i, text);
  g_free (text);
  g_autoptr (GPtrArray) all = recv_all (w);
  CU_ASSERT_EQUAL (all->len, 1);
  char *got = g_strdup (all->len > 0 ? (const char *) all->pdata[0] : "");
  gboolean ok = g_str_has_prefix (got, start);
  if (!ok)
    g_printerr ("\nworkers: expected %s, got: %.60s\n", start, got);
  if (out != NULL)
    *out = got;
  else
    g_free (got);
  return ok;
}

/* The number of Contact header lines of @msg. */
static guint
contacts (const char *msg)
{
  guint n = 0;
  for (const char *p = strstr (msg, "\r\nContact:"); p != NULL; p = strstr (p + 1, "\r\nContact:"))
    n++;
  return n;
}

static void
fork_across (void)
{
  Wk *w = wk_setup_with (NULL, TRUE);
  /* (g) device 1's REGISTER owned by worker 0, read by worker 1; device 2's the other way */
  g_autofree char *rc0 = call_id_for (w, 0, "g-reg");
  g_autofree char *rc1 = call_id_for (w, 1, "g-reg");
  g_autofree char *ok2 = NULL;
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, rc0, 1, "bob1", NULL), "SIP/2.0 200", NULL));
  CU_ASSERT_TRUE (answered (w, 0, register_msg (w, rc1, 1, "bob2", NULL), "SIP/2.0 200", &ok2));
  CU_ASSERT_EQUAL (contacts (ok2), 2); /* worker 1's REGISTER sees device 1's binding: one location */
  CU_ASSERT_EQUAL (sf_location_size (sf_registrar_location (w->px[0]->env->ep)), 2);
  CU_ASSERT_EQUAL (sf_location_size (sf_registrar_location (w->px[1]->env->ep)), 0);
  /* the INVITE for bob, owned by worker 1, read by worker 0: forked to both devices */
  g_autofree char *cid = call_id_for (w, 1, "g-inv");
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:bob@sipflow.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKwg1\r\nMax-Forwards: 70\r\n"
    "From: <sip:caller@example.net>;tag=c1\r\nTo: <sip:bob@sipflow.test>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
    "Contact: <sip:caller@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    w->port, cid, w->port);
  guint before0 = sf_endpoint_n_instances (w->px[0]->env->ep); /* device 1's REGISTER transaction */
  send_to (w, 0, inv);
  g_autoptr (GPtrArray) got = recv_all (w);
  CU_ASSERT_EQUAL_FATAL (count (got, "INVITE ", NULL), 2);
  g_autofree char *to1 = NULL, *to2 = NULL;
  for (guint i = 0; i < got->len; i++) {
    if (g_str_has_prefix (got->pdata[i], "INVITE sip:bob1@"))
      to1 = g_strdup (got->pdata[i]);
    else if (g_str_has_prefix (got->pdata[i], "INVITE sip:bob2@"))
      to2 = g_strdup (got->pdata[i]);
  }
  CU_ASSERT_FATAL (to1 != NULL && to2 != NULL);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), before0); /* the call is on its owner */
  /* both ring; device 1 answers, through worker 0 */
  g_autofree char *ring1 = respond (to1, 180, "Ringing");
  g_autofree char *ring2 = respond (to2, 180, "Ringing");
  send_to (w, 0, ring1);
  send_to (w, 1, ring2);
  g_autoptr (GPtrArray) up1 = recv_all (w);
  CU_ASSERT_EQUAL (count (up1, "SIP/2.0 180", NULL), 2);
  g_autofree char *ok = respond (to1, 200, "OK");
  send_to (w, 0, ok);
  g_autoptr (GPtrArray) up2 = recv_all (w);
  const char *fcancel = NULL;
  CU_ASSERT_EQUAL (count (up2, "SIP/2.0 200", NULL), 1);            /* upstream, once */
  CU_ASSERT_EQUAL_FATAL (count (up2, "CANCEL sip:bob2@", &fcancel), 1); /* the other fork cancelled (16.7 step 10) */
  CU_ASSERT_EQUAL (count (up2, "CANCEL ", NULL), 1);
  g_autofree char *cancel_ok = respond (fcancel, 200, "OK");
  g_autofree char *r487 = respond (to2, 487, "Request Terminated");
  send_to (w, 0, cancel_ok);
  send_to (w, 0, r487);
  g_autoptr (GPtrArray) end = recv_all (w);
  CU_ASSERT_EQUAL (count (end, "ACK sip:bob2@", NULL), 1); /* the 487 ACKed downstream (17.1.1.3) */
  CU_ASSERT_EQUAL (count (end, "SIP/2.0 487", NULL), 0);   /* and not sent upstream: a 2xx went (16.7) */
  CU_ASSERT_TRUE (quiet (w));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), before0);
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w)); /* what the timers sent on the way */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  wk_free (w);
}

static void
cseq_order (void)
{
  Wk *w = wk_setup_with (NULL, TRUE);
  /* (h) owned by worker 1, whose location is worker 0's through the inboxes */
  g_autofree char *cid = call_id_for (w, 1, "h");
  CU_ASSERT_TRUE (answered (w, 0, register_msg (w, cid, 5, "bob1", NULL), "SIP/2.0 200", NULL));
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, cid, 4, "bob1", NULL), "SIP/2.0 500", NULL)); /* lower */
  CU_ASSERT_TRUE (answered (w, 0, register_msg (w, cid, 5, "bob1", NULL), "SIP/2.0 500", NULL)); /* the same */
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, cid, 6, "bob1", NULL), "SIP/2.0 200", NULL)); /* higher */
  CU_ASSERT_EQUAL (sf_location_size (sf_registrar_location (w->px[0]->env->ep)), 1);
  wk_free (w);
}

/* Two workers with claims on (at most @max, each living @life_ms after its
 * last use) and core.worker_source = own. */
static Wk *
wk_claims_with (const char *const *sets, guint max, guint life_ms)
{
  Wk *w = wk_setup_with (sets, FALSE);
  sf_workers_set_claims (w->set, max, life_ms);
  own_source (w);
  return w;
}

static Wk *
wk_claims (guint max, guint life_ms)
{
  return wk_claims_with (NULL, max, life_ms);
}

/* Who routes Call-ID @cid now (worker 0's fake clock): its claim's worker,
 * else the hash's.  An ending claim is not moved on by asking. */
static guint
owner_now (Wk *w, const char *cid)
{
  return sf_workers_owner (w->set, cid, strlen (cid), sf_clock_now_us (sf_endpoint_clock (w->px[0]->env->ep)));
}

/* An INVITE of a Call-ID worker 1 hashes, read by worker 0 and claimed
 * there (*@cid transfer full): the INVITE forwarded (transfer full), *@home
 * worker 0's own port it left from. */
static char *
claimed_invite (Wk *w, const char *tag, char **cid, guint *home)
{
  *cid = call_id_for (w, 1, tag);
  g_autofree char *branch = g_strdup_printf ("z9hG4bK%s1", tag);
  g_autofree char *inv = request (w, "INVITE", branch, *cid, NULL, 1);
  send_to (w, 0, inv);
  char *fwd = recv_one (w, home);
  CU_ASSERT_FATAL (g_str_has_prefix (fwd, "INVITE "));
  CU_ASSERT_EQUAL (owner_now (w, *cid), 0);
  return fwd;
}

/* A completed call: its claim outlives the 200 (the ACK and the BYE read by
 * worker 1 go to worker 0), ends after the BYE's final response plus the
 * non-INVITE server transaction's Timer J (64*T1) and T4, not before: a
 * retransmitted BYE in that window still meets its transaction. */
static void
claim_bye (void)
{
  Wk *w = wk_claims (16, SF_WORKERS_CLAIM_MS);
  g_autofree char *cid = NULL;
  guint home = 0;
  g_autofree char *fwd = claimed_invite (w, "clb", &cid, &home);
  g_autofree char *ok = respond (fwd, 200, "OK");
  send_port (w, home, ok);
  g_autoptr (GPtrArray) up = recv_all (w);
  CU_ASSERT_EQUAL (count (up, "SIP/2.0 200", NULL), 1);
  sf_workers_advance (w->set, 60 * 1000); /* a minute's call: still claimed */
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (owner_now (w, cid), 0);
  g_autofree char *ack = request (w, "ACK", "z9hG4bKclb2", cid, "callee1", 1);
  send_to (w, 1, ack);
  g_autoptr (GPtrArray) a = recv_all (w);
  CU_ASSERT_EQUAL (count (a, "ACK ", NULL), 1);
  g_autofree char *bye = request (w, "BYE", "z9hG4bKclb3", cid, "callee1", 2);
  send_to (w, 1, bye);
  const char *fbye = NULL;
  g_autoptr (GPtrArray) b = recv_all (w);
  CU_ASSERT_EQUAL_FATAL (count (b, "BYE ", &fbye), 1);
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 2);
  g_autofree char *bye_ok = respond (fbye, 200, "OK");
  send_port (w, via_port (fbye), bye_ok); /* in a dialog: from the listener (own_binding) */
  g_autoptr (GPtrArray) e = recv_all (w);
  CU_ASSERT_EQUAL (count (e, "SIP/2.0 200", NULL), 1);
  /* 30 s on, within Timer J (64*500 ms): the BYE again, to worker 0, answered there */
  sf_workers_advance (w->set, 30 * 1000);
  g_ptr_array_unref (recv_all (w));
  send_to (w, 1, bye);
  g_autoptr (GPtrArray) r = recv_all (w);
  CU_ASSERT_EQUAL (count (r, "SIP/2.0 200", NULL), 1);
  CU_ASSERT_EQUAL (count (r, "BYE ", NULL), 0);
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 3);
  /* 36 s: still claimed (Timer J and T4, 37 s), the retransmission having
   * not moved its end on: gone 2 s later */
  sf_workers_advance (w->set, 6000);
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (owner_now (w, cid), 0);
  sf_workers_advance (w->set, 2000);
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (owner_now (w, cid), 1);
  CU_ASSERT_EQUAL (sf_workers_claims (w->set), 0);
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  wk_free (w);
}

/* A failed call, with T1 shortened to 100 ms: its claim ends after the
 * INVITE server transaction's Timer H (64*T1) and I (T4), the window in
 * which it absorbs the ACK or a retransmitted INVITE, not 240 s after. */
static void
claim_failed (void)
{
  const char *const sets[] = { "sip.t1_ms=100", NULL };
  Wk *w = wk_claims_with (sets, 16, SF_WORKERS_CLAIM_MS);
  g_autofree char *cid = NULL;
  guint home = 0;
  g_autofree char *fwd = claimed_invite (w, "clx", &cid, &home);
  g_autofree char *busy = respond (fwd, 486, "Busy Here");
  send_port (w, home, busy);
  g_autoptr (GPtrArray) e = recv_all (w);
  CU_ASSERT_EQUAL (count (e, "SIP/2.0 486", NULL), 1);
  CU_ASSERT_EQUAL (count (e, "ACK ", NULL), 1);
  sf_workers_advance (w->set, 6000); /* within Timer H, 6.4 s */
  g_ptr_array_unref (recv_all (w));
  g_autofree char *ack = request (w, "ACK", "z9hG4bKclx1", cid, "callee1", 1);
  send_to (w, 1, ack); /* the caller's ACK: handed to worker 0, absorbed there */
  CU_ASSERT_TRUE (quiet (w));
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 1);
  sf_workers_advance (w->set, 5000); /* 11 s: Timer I (T4) past, the claim's window (6.4 s + 5 s) not */
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (owner_now (w, cid), 0);
  sf_workers_advance (w->set, 1000);
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (owner_now (w, cid), 1);
  CU_ASSERT_EQUAL (sf_workers_claims (w->set), 0);
  wk_free (w);
}

/* The table alone, on a clock of its own: an ending claim keeps its end
 * whatever routes by it, never later than its idle end; a new INVITE makes
 * it live again; and 2,000 calls at 5 a second, each ended a second after
 * its INVITE, go through a table of 256 without ever filling it (each
 * reader keeps its own calls), where claims living 240 s would fill it
 * after 51 s. */
static void
claim_rate (void)
{
  SfWorkers *set = sf_workers_new (2, test_key);
  sf_workers_set_claims (set, 256, 10 * 1000);
  const gint64 s = G_USEC_PER_SEC;
  g_autofree char *a = NULL;
  for (guint i = 0; a == NULL || sf_workers_route (set, a, strlen (a)) != 1; i++) {
    g_free (a);
    a = g_strdup_printf ("clr-%u@test", i);
  }
  gsize la = strlen (a);
  CU_ASSERT_EQUAL (sf_workers_claim (set, 0, a, la, 0), 0);
  sf_workers_claim_end (set, a, la, NULL, 1 * s, 37 * 1000); /* its idle end, at 10 s, is sooner */
  CU_ASSERT_EQUAL (sf_workers_owner (set, a, la, 9 * s), 0);
  CU_ASSERT_EQUAL (sf_workers_owner (set, a, la, 10 * s + 1), 1);
  CU_ASSERT_EQUAL (sf_workers_claim (set, 0, a, la, 20 * s), 0);
  sf_workers_claim_end (set, a, la, NULL, 21 * s, 3000);
  CU_ASSERT_EQUAL (sf_workers_owner (set, a, la, 23 * s), 0);
  CU_ASSERT_EQUAL (sf_workers_owner (set, a, la, 24 * s - 1), 0); /* not moved on by the last */
  CU_ASSERT_EQUAL (sf_workers_claim (set, 0, a, la, 24 * s - 1), 0); /* an INVITE: live again */
  CU_ASSERT_EQUAL (sf_workers_owner (set, a, la, 33 * s), 0);
  CU_ASSERT_EQUAL (sf_workers_owner (set, a, la, 44 * s), 1);
  sf_workers_free (set);
  set = sf_workers_new (2, test_key);
  sf_workers_set_claims (set, 256, SF_WORKERS_CLAIM_MS);
  guint kept = 0, most = 0;
  for (guint i = 0; i < 2000; i++) {
    gint64 now = 100 * s + i * s / 5;
    g_autofree char *id = g_strdup_printf ("rate-%u@test", i);
    kept += sf_workers_claim (set, i % 2, id, strlen (id), now) == i % 2;
    most = MAX (most, sf_workers_claims (set));
    if (i > 0) { /* the previous call's BYE answered */
      g_autofree char *prev = g_strdup_printf ("rate-%u@test", i - 1);
      sf_workers_claim_end (set, prev, strlen (prev), NULL, now, 37 * 1000);
    }
  }
  CU_ASSERT_EQUAL (kept, 2000);
  CU_ASSERT_TRUE (most <= 256);
  sf_workers_free (set);
}

/* An INVITE whose Call-ID hashes to worker 1, read by worker 0, is claimed
 * there: worker 0 forwards it from its own socket, its retransmission and
 * its CANCEL read by worker 1 are handed to worker 0 (one server
 * transaction: the INVITE is not forwarded again), the caller's ACK for the
 * 487 read by worker 0 is absorbed there. */
static void
claim_call (void)
{
  Wk *w = wk_claims (16, SF_WORKERS_CLAIM_MS);
  g_autofree char *cid = call_id_for (w, 1, "cl1");
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKcl1", cid, NULL, 1);
  send_to (w, 0, inv);
  guint src = 0;
  g_autofree char *fwd = recv_one (w, &src);
  CU_ASSERT_FATAL (g_str_has_prefix (fwd, "INVITE "));
  guint home = via_port (fwd);
  CU_ASSERT_EQUAL (src, home);
  g_autofree char *own0 = g_strdup_printf ("127.0.0.1:%u", home);
  CU_ASSERT_STRING_EQUAL (sf_stack_home_sent_by (w->px[0]->stack), own0); /* worker 0's own socket */
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 0);
  CU_ASSERT_EQUAL (sf_workers_claims (w->set), 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  g_autofree char *r180 = respond (fwd, 180, "Ringing");
  send_port (w, home, r180);
  g_autoptr (GPtrArray) up = recv_all (w);
  CU_ASSERT_EQUAL (count (up, "SIP/2.0 180", NULL), 1);
  /* the retransmission from another source (worker 1's socket): to worker 0, the 180 again */
  sf_workers_advance (w->set, 500);
  send_to (w, 1, inv);
  g_autoptr (GPtrArray) r1 = recv_all (w);
  CU_ASSERT_EQUAL (count (r1, "SIP/2.0 180", NULL), 1);
  CU_ASSERT_EQUAL (count (r1, "INVITE ", NULL), 0);
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 1);
  /* the CANCEL through worker 1: handed to worker 0, which cancels from its socket */
  CU_ASSERT_TRUE (cancel_at_home (w, 1, "z9hG4bKcl1", cid, fwd, home));
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 2);
  g_autofree char *ack = request (w, "ACK", "z9hG4bKcl1", cid, "callee1", 1);
  send_to (w, 0, ack);
  CU_ASSERT_TRUE (quiet (w));
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 0);
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 2);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  wk_free (w);
}

/* The first copy of an INVITE read by the worker its Call-ID hashes to
 * claims it too: a copy read by the other worker after (another source)
 * follows that claim, and is absorbed there, not forwarded twice. */
static void
claim_first (void)
{
  Wk *w = wk_claims (16, SF_WORKERS_CLAIM_MS);
  g_autofree char *cid = call_id_for (w, 1, "cl2");
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKcl2", cid, NULL, 1);
  send_to (w, 1, inv);
  g_autoptr (GPtrArray) got = recv_all (w);
  const char *fwd = NULL;
  CU_ASSERT_EQUAL_FATAL (count (got, "INVITE ", &fwd), 1);
  g_autofree char *fwd_copy = g_strdup (fwd);
  CU_ASSERT_EQUAL (sf_workers_claims (w->set), 1);
  g_autofree char *r180 = respond (fwd_copy, 180, "Ringing");
  send_port (w, via_port (fwd_copy), r180);
  g_ptr_array_unref (recv_all (w));
  send_to (w, 0, inv);
  g_autoptr (GPtrArray) again = recv_all (w);
  CU_ASSERT_EQUAL (count (again, "INVITE ", NULL), 0);
  CU_ASSERT_EQUAL (count (again, "SIP/2.0 180", NULL), 1); /* the retransmission answered by the one transaction */
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  g_autofree char *r486 = respond (fwd_copy, 486, "Busy Here");
  send_port (w, via_port (fwd_copy), r486);
  g_ptr_array_unref (recv_all (w));
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  wk_free (w);
}

/* A full table claims nothing (the hash rule: the INVITE goes to worker 1),
 * and nothing for SF_WORKERS_CLAIM_HOLD_MS after, even once a claim ended;
 * then claims again.  A claim ends @life after its last use (fake clock):
 * then its Call-ID's messages follow the hash. */
static void
claim_full (void)
{
  Wk *w = wk_claims (1, 10 * 1000);
  g_autofree char *a = call_id_for (w, 1, "clf-a");
  g_autofree char *b = call_id_for (w, 1, "clf-b");
  g_autofree char *c = call_id_for (w, 1, "clf-c");
  /* A: claimed by worker 0 */
  CU_ASSERT_EQUAL (sf_workers_claim (w->set, 0, a, strlen (a), 0), 0);
  CU_ASSERT_EQUAL (sf_workers_owner (w->set, a, strlen (a), 0), 0);
  CU_ASSERT_EQUAL (sf_workers_claim (w->set, 1, a, strlen (a), 0), 0); /* first come */
  /* B: the table full, the hash's worker, and no claim made */
  CU_ASSERT_EQUAL (sf_workers_claim (w->set, 0, b, strlen (b), 1000), 1);
  CU_ASSERT_EQUAL (sf_workers_claims (w->set), 1);
  /* A's claim ended (10 s after its last use at 0 s): the hash; C finds the table held for 64 s */
  CU_ASSERT_EQUAL (sf_workers_owner (w->set, a, strlen (a), 10 * G_USEC_PER_SEC + 1), 1);
  CU_ASSERT_EQUAL (sf_workers_claims (w->set), 0);
  CU_ASSERT_EQUAL (sf_workers_claim (w->set, 0, c, strlen (c), 20 * G_USEC_PER_SEC), 1);
  CU_ASSERT_EQUAL (sf_workers_claims (w->set), 0);
  /* past the hold, for a claim's life (10 s): claimed for the hash's worker,
   * where the hold sent C's INVITE */
  gint64 later = 1000 + SF_WORKERS_CLAIM_HOLD_MS * G_GINT64_CONSTANT (1000) + 1;
  CU_ASSERT_EQUAL (sf_workers_claim (w->set, 0, c, strlen (c), later), 1);
  CU_ASSERT_EQUAL (sf_workers_claims (w->set), 1);
  CU_ASSERT_EQUAL (sf_workers_owner (w->set, c, strlen (c), later + 1), 1);
  /* then the reader's again */
  g_autofree char *d = call_id_for (w, 1, "clf-d");
  later += 11 * G_USEC_PER_SEC; /* C ended (its last use at later + 1) */
  CU_ASSERT_EQUAL (sf_workers_claim (w->set, 0, d, strlen (d), later), 0);
  CU_ASSERT_EQUAL (sf_workers_owner (w->set, d, strlen (d), later + 9 * G_USEC_PER_SEC), 0); /* used: moved on */
  CU_ASSERT_EQUAL (sf_workers_owner (w->set, d, strlen (d), later + 18 * G_USEC_PER_SEC), 0);
  CU_ASSERT_EQUAL (sf_workers_owner (w->set, d, strlen (d), later + 29 * G_USEC_PER_SEC), 1); /* 11 s unused */
  wk_free (w);
}

/* The claims' table against a model: 15 Call-IDs in a table of 32 slots
 * (max 16: never full, so every new claim is made), probes that wrap round
 * its end, ended claims deleted by shifting back (on a lookup, by the small
 * sweep, by the whole sweep): 200,000 random claims, lookups, ends and clock
 * steps; a live claim always routes to its worker, an ended one by the hash.
 * A deletion that broke a probe chain would send a live call's messages to
 * the other worker. */
static void
claim_model (void)
{
  Wk *w = wk_claims (16, 10 * 1000);
  enum { IDS = 15 };
  char *ids[IDS];
  struct { gboolean live, ending; guint owner; gint64 end; } m[IDS] = { 0 };
  for (guint i = 0; i < IDS; i++)
    ids[i] = g_strdup_printf ("model-%u@test", i);
  const gint64 life = 10 * G_USEC_PER_SEC;
  GRand *r = g_rand_new_with_seed (25);
  gint64 now = 1;
  guint bad = 0, made = 0, ended = 0;
  for (guint step = 0; step < 200000; step++) {
    guint k = (guint) g_rand_int_range (r, 0, IDS);
    const char *id = ids[k];
    gsize len = strlen (id);
    guint hash = sf_workers_route (w->set, id, len);
    if (m[k].live && m[k].end <= now)
      m[k].live = FALSE, ended++;
    switch (g_rand_int_range (r, 0, 4)) {
    case 0: { /* an INVITE read by worker 0 or 1 */
      guint reader = (guint) g_rand_int_range (r, 0, 2);
      guint o = sf_workers_claim (w->set, reader, id, len, now);
      if (m[k].live)
        bad += o != m[k].owner;
      else {
        bad += o != reader && o != hash;
        m[k].owner = o;
        made++;
      }
      m[k].live = TRUE, m[k].ending = FALSE, m[k].end = now + life;
      break;
    }
    case 1: /* a lookup: the claim's worker, moved on unless ending */
      bad += sf_workers_owner (w->set, id, len, now) != (m[k].live ? m[k].owner : hash);
      if (m[k].live && !m[k].ending)
        m[k].end = now + life;
      break;
    case 2: { /* its call ended */
      guint within = (guint) g_rand_int_range (r, 0, 12000);
      sf_workers_claim_end (w->set, id, len, NULL, now, within);
      if (m[k].live)
        m[k].ending = TRUE, m[k].end = MIN (m[k].end, now + (gint64) within * 1000);
      break;
    }
    default: /* time goes on */
      now += g_rand_int_range (r, 0, 3 * G_USEC_PER_SEC);
      if (g_rand_int_range (r, 0, 8) == 0)
        sf_workers_claims_live (w->set, now); /* the whole sweep */
      break;
    }
    CU_ASSERT_TRUE (sf_workers_claims (w->set) <= 16);
  }
  CU_ASSERT_EQUAL (bad, 0);
  CU_ASSERT_TRUE (made > 10000 && ended > 10000); /* claims were made and deleted throughout */
  g_rand_free (r);
  for (guint i = 0; i < IDS; i++)
    g_free (ids[i]);
  wk_free (w);
}

/* One source (a trunk: every INVITE read by worker 0) does not bring every
 * call to worker 0: once it holds a quarter more claims than worker 1 (and
 * 64), a Call-ID that hashes to worker 1 is claimed for worker 1; one that
 * hashes to worker 0 stays there. */
static void
claim_balance (void)
{
  Wk *w = wk_claims (4096, SF_WORKERS_CLAIM_MS);
  guint on[2] = { 0, 0 }, moved = 0;
  for (guint i = 0; i < 2000; i++) {
    g_autofree char *id = g_strdup_printf ("trunk-%u@test", i);
    guint o = sf_workers_claim (w->set, 0, id, strlen (id), 0);
    on[o]++;
    if (o == 1)
      CU_ASSERT_EQUAL (sf_workers_route (w->set, id, strlen (id)), 1); /* only what hashes there */
    moved += o != sf_workers_route (w->set, id, strlen (id));
    CU_ASSERT_EQUAL (sf_workers_owner (w->set, id, strlen (id), 0), o);
  }
  CU_ASSERT_EQUAL (on[0] + on[1], 2000);
  CU_ASSERT_TRUE (on[1] > 800);                        /* both workers carry the trunk */
  CU_ASSERT_TRUE (on[0] <= on[1] + on[1] / 4 + 65);   /* within the bound */
  CU_ASSERT_TRUE (moved > 100);                        /* and worker 0 still keeps what it may */
  wk_free (w);
}

/* Through the stacks, on their fake clocks: a provisional at the claiming
 * worker's own socket keeps its claim on (an INVITE ringing longer than a
 * claim lives, then cancelled through the other worker, still meets its
 * transaction); once the claim ended, a BYE read by worker 0 goes by the
 * hash, to worker 1. */
static void
claim_expiry (void)
{
  Wk *w = wk_claims (16, 10 * 1000);
  g_autofree char *cid = call_id_for (w, 1, "cle");
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKcle1", cid, NULL, 1);
  send_to (w, 0, inv);
  guint src = 0;
  g_autofree char *fwd = recv_one (w, &src);
  CU_ASSERT_FATAL (g_str_has_prefix (fwd, "INVITE "));
  guint home = via_port (fwd);
  g_autofree char *r180 = respond (fwd, 180, "Ringing");
  for (int i = 0; i < 3; i++) { /* 24 s of ringing, a 180 each 8 s */
    sf_workers_advance (w->set, 8000);
    send_port (w, home, r180);
    g_ptr_array_unref (recv_all (w));
  }
  CU_ASSERT_EQUAL (handed (w, 0, TRUE) + handed (w, 1, TRUE), 0);
  CU_ASSERT_TRUE (cancel_at_home (w, 1, "z9hG4bKcle1", cid, fwd, home));
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 1);
  g_autofree char *ack = request (w, "ACK", "z9hG4bKcle1", cid, "callee1", 1);
  send_to (w, 0, ack);
  CU_ASSERT_TRUE (quiet (w));
  /* 33 s later the claim has ended: a BYE read by worker 0 is worker 1's */
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  g_autofree char *bye = request (w, "BYE", "z9hG4bKcle2", cid, "callee1", 2);
  send_to (w, 0, bye);
  g_autoptr (GPtrArray) b = recv_all (w);
  CU_ASSERT_EQUAL (count (b, "BYE ", NULL), 1);
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 1);
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  wk_free (w);
}

/* Forwards one OPTIONS (To tag @to_tag, nullable) of a new Call-ID worker 1
 * owns (@tag) read by worker 1, answers it 200 to the forward's Via, and
 * returns the port it left from (0: not forwarded, or its Via named another
 * port than the one it left from). */
static guint
forward_one (Wk *w, const char *tag, const char *branch, const char *to_tag)
{
  g_autofree char *cid = call_id_for (w, 1, tag);
  g_autofree char *opt = request (w, "OPTIONS", branch, cid, to_tag, to_tag != NULL ? 2 : 1);
  send_to (w, 1, opt);
  guint src = 0;
  g_autofree char *fopt = recv_one (w, &src);
  CU_ASSERT_FATAL (g_str_has_prefix (fopt, "OPTIONS "));
  CU_ASSERT_EQUAL (via_port (fopt), src);
  g_autofree char *ok = respond (fopt, 200, "OK");
  send_port (w, src, ok);
  g_autoptr (GPtrArray) up = recv_all (w);
  CU_ASSERT_EQUAL (count (up, "SIP/2.0 200", NULL), 1); /* its answer, back upstream */
  return via_port (fopt) == src ? src : 0;
}

/* With core.worker_source = own, a target from a location binding (not
 * behind NAT here: no flow, no hop) and a forwarded REGISTER still leave
 * from the listener, the address the binding registered with and the one a
 * registrar records; a target from the Request-URI leaves from the own
 * socket. */
static void
own_binding (void)
{
  Wk *w = wk_setup_with (NULL, TRUE);
  own_source (w);
  guint l1 = g_inet_socket_address_get_port (w->px[1]->to);
  g_autofree char *rc = call_id_for (w, 1, "ob-reg");
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, rc, 1, "bob1", NULL), "SIP/2.0 200", NULL));
  g_autofree char *cid = call_id_for (w, 1, "ob-inv");
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:bob@sipflow.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKob1\r\nMax-Forwards: 70\r\n"
    "From: <sip:caller@example.net>;tag=c1\r\nTo: <sip:bob@sipflow.test>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
    "Contact: <sip:caller@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    w->port, cid, w->port);
  send_to (w, 0, inv);
  guint src = 0;
  g_autofree char *fwd = recv_one (w, &src);
  CU_ASSERT_FATAL (g_str_has_prefix (fwd, "INVITE sip:bob1@"));
  CU_ASSERT_EQUAL (src, l1);
  CU_ASSERT_EQUAL (via_port (fwd), l1);
  g_autofree char *r486 = respond (fwd, 486, "Busy Here");
  send_port (w, l1, r486);
  g_autoptr (GPtrArray) up = recv_all (w); /* the ACK down, the 486 up */
  CU_ASSERT_EQUAL (count (up, "SIP/2.0 486", NULL), 1);
  /* a REGISTER for a domain not ours: forwarded, from the listener */
  g_autofree char *fc = call_id_for (w, 1, "ob-fwd");
  g_autofree char *reg = g_strdup_printf (
    "REGISTER sip:127.0.0.1:%u SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKob2\r\nMax-Forwards: 70\r\n"
    "From: <sip:carol@example.org>;tag=r1\r\nTo: <sip:carol@example.org>\r\nCall-ID: %s\r\nCSeq: 1 REGISTER\r\n"
    "Contact: <sip:carol@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    w->port, w->port, fc, w->port);
  send_to (w, 1, reg);
  g_autofree char *freg = recv_one (w, &src);
  CU_ASSERT_FATAL (g_str_has_prefix (freg, "REGISTER "));
  CU_ASSERT_EQUAL (src, l1);
  CU_ASSERT_EQUAL (via_port (freg), l1);
  g_autofree char *reg_ok = respond (freg, 200, "OK");
  send_port (w, l1, reg_ok);
  g_ptr_array_unref (recv_all (w));
  /* a Request-URI target: from the own socket */
  guint osrc = forward_one (w, "ob-ruri", "z9hG4bKob3", NULL);
  CU_ASSERT_TRUE (osrc != 0 && osrc != l1);
  /* the same target inside a dialog (a To tag): from the listener, since
   * the proxy cannot tell whether it is a registered UA behind a firewall */
  CU_ASSERT_EQUAL (forward_one (w, "ob-dlg", "z9hG4bKob4", "d1"), l1);
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  wk_free (w);
}

static void
answer_here (void)
{
  Wk *w = wk_setup_with (NULL, TRUE);
  for (guint i = 0; i < w->n; i++)
    sf_stack_workers_answer_here (w->px[i]->stack);
  g_autofree char *cid = call_id_for (w, 1, "here");
  g_autofree char *reg = register_msg (w, cid, 5, "bob1", NULL);
  send_to (w, 0, reg);
  g_autoptr (GPtrArray) got = recv_all (w);
  CU_ASSERT_EQUAL (count (got, "SIP/2.0 200", NULL), 1);
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 0); /* answered where read: worker 0, which holds the location */
  CU_ASSERT_EQUAL (handed (w, 1, FALSE), 0);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  guint held = sf_endpoint_n_instances (w->px[0]->env->ep);
  CU_ASSERT_TRUE (held > 0); /* its server transaction */
  /* the retransmission, from the same source to the same socket: absorbed
   * by that transaction, the 200 sent again, nothing new */
  send_to (w, 0, reg);
  g_autoptr (GPtrArray) again = recv_all (w);
  CU_ASSERT_EQUAL (again->len, 1);
  CU_ASSERT_EQUAL (count (again, "SIP/2.0 200", NULL), 1);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), held);
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 0);
  /* the same Call-ID from another source (worker 1's socket), a lower CSeq:
   * worker 1 answers, the order checked in worker 0's location */
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, cid, 4, "bob1", NULL), "SIP/2.0 500", NULL));
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), 1); /* its location ask */
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), 1); /* and the answer */
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, cid, 6, "bob1", NULL), "SIP/2.0 200", NULL));
  CU_ASSERT_EQUAL (sf_location_size (sf_registrar_location (w->px[0]->env->ep)), 1);
  /* a response keeps the Call-ID rule: read by worker 0, run by worker 1 */
  guint64 out0 = handed (w, 0, TRUE);
  g_autofree char *resp = g_strdup_printf ("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKstray\r\n"
                                           "From: <sip:a@example.net>;tag=1\r\nTo: <sip:b@example.net>;tag=2\r\n"
                                           "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
                                           w->port, cid);
  send_to (w, 0, resp);
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (handed (w, 0, TRUE), out0 + 1);
  sf_workers_advance (w->set, 64 * 500 + 1000);
  wk_free (w);
}

/* The Authorization value answering @challenge (a 401) as bob with nonce count @nc. */
static char *
credentials (const char *challenge, guint32 nc)
{
  const char *n = strstr (challenge, "nonce=\"");
  CU_ASSERT_PTR_NOT_NULL_FATAL (n);
  n += 7;
  g_autofree char *nonce = g_strndup (n, (gsize) (strchr (n, '"') - n));
  SfDigestChallenge c = { SF_DIGEST_MD5, (char *) "sipflow.test", nonce, NULL, TRUE, FALSE };
  return sf_digest_authorization (&c, "bob", "secret", "REGISTER", "sip:sipflow.test", "0a4f113b", nc);
}

static void
nonce (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sipflow-workers-XXXXXX", NULL);
  g_autofree char *users = g_build_filename (dir, "users", NULL);
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (users, "bob:secret\n", -1, NULL));
  g_autofree char *set = g_strdup_printf ("registrar.users=%s", users);
  const char *const sets[] = { set, NULL };
  Wk *w = wk_setup_with (sets, TRUE);
  /* (i) challenged by worker 0 */
  g_autofree char *c0 = call_id_for (w, 0, "i");
  g_autofree char *ch = NULL;
  CU_ASSERT_TRUE_FATAL (answered (w, 0, register_msg (w, c0, 1, "bob1", NULL), "SIP/2.0 401", &ch));
  /* its nonce taken by worker 1, in a REGISTER of another Call-ID (a UA reusing a nonce) */
  g_autofree char *auth = credentials (ch, 1);
  g_autofree char *c1 = call_id_for (w, 1, "i");
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, c1, 1, "bob1", auth), "SIP/2.0 200", NULL));
  /* the same nonce count again, through worker 1 and through worker 0: a replay, not a stale nonce */
  g_autofree char *r1 = NULL, *r0 = NULL;
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, c1, 2, "bob1", auth), "SIP/2.0 401", &r1));
  CU_ASSERT_PTR_NULL (strstr (r1, "stale=true"));
  CU_ASSERT_TRUE (answered (w, 0, register_msg (w, c0, 2, "bob1", auth), "SIP/2.0 401", &r0));
  CU_ASSERT_PTR_NULL (strstr (r0, "stale=true"));
  /* the next count is good, on worker 0 */
  g_autofree char *auth2 = credentials (ch, 2);
  CU_ASSERT_TRUE (answered (w, 0, register_msg (w, c0, 3, "bob1", auth2), "SIP/2.0 200", NULL));
  /* a new nonce's requests checked out of order, as two workers may: nc=1
   * after nc=2 is taken (never seen within the window), then refused */
  g_autofree char *ch2 = NULL;
  CU_ASSERT_TRUE_FATAL (answered (w, 0, register_msg (w, c0, 4, "bob1", NULL), "SIP/2.0 401", &ch2));
  g_autofree char *late1 = credentials (ch2, 1);
  g_autofree char *late2 = credentials (ch2, 2);
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, c1, 3, "bob1", late2), "SIP/2.0 200", NULL));
  CU_ASSERT_TRUE (answered (w, 0, register_msg (w, c0, 5, "bob1", late1), "SIP/2.0 200", NULL));
  g_autofree char *again = NULL;
  CU_ASSERT_TRUE (answered (w, 1, register_msg (w, c1, 4, "bob1", late1), "SIP/2.0 401", &again));
  CU_ASSERT_PTR_NULL (strstr (again, "stale=true"));
  wk_free (w);
  g_unlink (users);
  g_rmdir (dir);
}

static void
rate (void)
{
  /* (j) the peer (loopback) is not trusted here: its requests are counted */
  const char *const sets[] = { "proxy.trusted=192.0.2.1/32", "sip.rate_limit=1", NULL };
  Wk *w = wk_setup_with (sets, TRUE);
  for (guint i = 0; i < 4; i++) {
    g_autofree char *tag = g_strdup_printf ("j%u", i);
    g_autofree char *cid = call_id_for (w, i % 2, tag);
    g_autofree char *branch = g_strdup_printf ("z9hG4bKwj%u", i);
    g_autofree char *opt = g_strdup_printf (
      "OPTIONS sip:nobody@sipflow.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
      "From: <sip:caller@example.net>;tag=c1\r\nTo: <sip:nobody@sipflow.test>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n"
      "Content-Length: 0\r\n\r\n",
      w->port, branch, cid);
    send_to (w, i % 2, opt);
  }
  g_autoptr (GPtrArray) got = recv_all (w);
  CU_ASSERT_EQUAL (got->len, 2); /* a burst of two for the source, both workers together */
  guint64 limited = sf_stack_stats (w->px[0]->stack)->rate_limited + sf_stack_stats (w->px[1]->stack)->rate_limited;
  CU_ASSERT_EQUAL (limited, 2); /* separate tables: none (each worker would allow its own two) */
  wk_free (w);
}

static void
lists (void)
{
  /* the file lists of one registry are reloaded without touching another's:
   * each worker reloads its own, in its own thread (framework/sf-flow.h) */
  g_autofree char *dir = g_dir_make_tmp ("sipflow-lists-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "list", NULL);
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (path, "old\n", -1, NULL));
  int a, b; /* two owners: stand-ins for two workers' registries */
  SfFlowList *la = sf_flow_list_new_file_of (path, &a, NULL);
  SfFlowList *lb = sf_flow_list_new_file_of (path, &b, NULL);
  CU_ASSERT_FATAL (la != NULL && lb != NULL);
  CU_ASSERT_TRUE (sf_flow_list_contains (la, "old", 0));
  CU_ASSERT_TRUE (sf_flow_list_contains (lb, "old", 0));
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (path, "new\n", -1, NULL));
  CU_ASSERT_EQUAL (sf_flow_lists_reload_of (&a, NULL), 1);
  CU_ASSERT_TRUE (sf_flow_list_contains (la, "new", 0));
  CU_ASSERT_FALSE (sf_flow_list_contains (lb, "new", 0)); /* not reloaded: worker b's to do */
  CU_ASSERT_TRUE (sf_flow_list_contains (lb, "old", 0));
  CU_ASSERT_EQUAL (sf_flow_lists_reload_of (&b, NULL), 1);
  CU_ASSERT_TRUE (sf_flow_list_contains (lb, "new", 0));
  sf_flow_list_unref (la);
  sf_flow_list_unref (lb);
  g_unlink (path);
  g_rmdir (dir);
}

/* Runs every inbox of @set and the main context until *@done or nothing moves. */
static void
pump (SfWorkers *set, const gboolean *done)
{
  for (guint i = 0; i < 100 && !*done; i++) {
    guint moved = sf_workers_drain (set);
    while (g_main_context_iteration (NULL, FALSE))
      moved++;
    if (moved == 0)
      break;
  }
}

typedef struct {
  gboolean done, freed;
  guint bindings;
} Outcome;

static void
got_result (SfLocationResult *r, gpointer data)
{
  Outcome *o = data;
  o->done = TRUE;
  o->bindings = r->error == NULL ? r->bindings->len : G_MAXUINT;
  sf_location_result_free (r);
}

static void
outcome_freed (gpointer data)
{
  ((Outcome *) data)->freed = TRUE;
}

/* Worker 1's location over worker 0's @home, @max_asks in flight (0: no limit). */
typedef struct {
  SfClock *clock;
  SfWorkers *set;
  SfLocation *home, *w1;
} Layer;

static void
layer_init (Layer *l, SfLocStore *store, guint max_asks)
{
  l->clock = sf_clock_new_fake (0);
  l->set = sf_workers_new (2, test_key);
  l->home = store != NULL ? sf_location_new_over (l->clock, store) : sf_location_new_memory (l->clock);
  l->w1 = sf_location_new_worker (l->clock, l->set, 1, l->home, max_asks);
}

/* Frees what is left, in the contract's order: worker 1's, worker 0's, the set. */
static void
layer_clear (Layer *l)
{
  g_clear_pointer (&l->w1, sf_location_free);
  g_clear_pointer (&l->home, sf_location_free);
  sf_workers_free (l->set);
  sf_clock_free (l->clock);
}

static void got_error (SfLocationResult *r, gpointer data);

static void
location_layer (void)
{
  /* the worker layer alone: worker 1's update lands in worker 0's location
   * and its result comes back; a request in flight when the asking location
   * closes, or when worker 0's does, is freed, never delivered (ASan) */
  SfClock *clock = sf_clock_new_fake (0);
  SfWorkers *set = sf_workers_new (2, test_key);
  SfLocation *home = sf_location_new_memory (clock);
  SfLocation *w1 = sf_location_new_worker (clock, set, 1, home, 0);
  SfLocChange c = { "sip:bob@192.0.2.1", 1.0, 3600, NULL, 0 };
  Outcome up = { 0 };
  sf_location_update (w1, "sip:bob@sipflow.test", "cid", 1, NULL, FALSE, &c, 1, got_result, &up, NULL);
  CU_ASSERT_FALSE (up.done); /* never from inside the call that asked */
  pump (set, &up.done);
  CU_ASSERT_TRUE (up.done);
  CU_ASSERT_EQUAL (up.bindings, 1);
  CU_ASSERT_EQUAL (sf_location_size (home), 1);
  CU_ASSERT_EQUAL (sf_location_size (w1), 0);
  /* asked, then the asking location closes before the answer */
  Outcome gone = { 0 };
  sf_location_lookup (w1, "sip:bob@sipflow.test", got_result, &gone, outcome_freed);
  sf_workers_drain (set); /* worker 0 has it now */
  sf_location_free (w1);
  CU_ASSERT_TRUE (gone.freed);
  pump (set, &gone.done);
  CU_ASSERT_FALSE (gone.done);
  /* asked (read from the mirror), then worker 0's location closes: the
   * answer read is delivered; one asked after is answered unavailable */
  SfLocation *w1b = sf_location_new_worker (clock, set, 1, home, 0);
  Outcome read = { 0 };
  sf_location_lookup (w1b, "sip:bob@sipflow.test", got_result, &read, outcome_freed);
  sf_workers_drain (set);
  sf_location_free (home);
  pump (set, &read.done);
  CU_ASSERT_TRUE (read.done && !read.freed); /* delivered: the data is the callback's */
  CU_ASSERT_EQUAL (read.bindings, 1);
  Outcome late = { 0 };
  sf_location_lookup (w1b, "sip:bob@sipflow.test", got_error, &late, outcome_freed);
  CU_ASSERT_FALSE (late.done);
  pump (set, &late.done);
  CU_ASSERT_TRUE (late.done && !late.freed);
  CU_ASSERT_EQUAL (late.bindings, SF_LOCATION_ERROR_UNAVAILABLE);
  sf_location_free (w1b);
  sf_workers_free (set);
  sf_clock_free (clock);
}

static void
location_flow_closed (void)
{
  /* a WebSocket flow that closes on worker 1: its bindings go from worker
   * 0's location (RFC 7118 5), handed there; another flow's stay */
  Layer l;
  layer_init (&l, NULL, 0);
  SfLocOrigin ws = { "127.0.0.1:5555", "ws", "127.0.0.1:8080", "ws:127.0.0.1:5555", NULL, NULL };
  SfLocOrigin other = { "127.0.0.1:6666", "ws", "127.0.0.1:8080", "ws:127.0.0.1:6666", NULL, NULL };
  SfLocChange c1 = { "sip:carol@a.invalid", 1.0, 3600, NULL, 0 };
  SfLocChange c2 = { "sip:erin@b.invalid", 1.0, 3600, NULL, 0 };
  Outcome u1 = { 0 }, u2 = { 0 };
  sf_location_update (l.w1, "sip:carol@sipflow.test", "c1", 1, &ws, FALSE, &c1, 1, got_result, &u1, NULL);
  sf_location_update (l.w1, "sip:erin@sipflow.test", "c2", 1, &other, FALSE, &c2, 1, got_result, &u2, NULL);
  pump (l.set, &u2.done);
  CU_ASSERT_TRUE (u1.done && u2.done);
  CU_ASSERT_EQUAL_FATAL (sf_location_size (l.home), 2);
  SfWorkerStats st;
  sf_workers_stats (l.set, 0, &st);
  guint64 in = st.handed_in;
  CU_ASSERT_EQUAL (sf_location_remove_flow (l.w1, "ws:127.0.0.1:5555"), 0); /* none here: worker 0's */
  gboolean never = FALSE;
  pump (l.set, &never);
  sf_workers_stats (l.set, 0, &st);
  CU_ASSERT_EQUAL (st.handed_in, in + 1);
  CU_ASSERT_EQUAL (sf_location_size (l.home), 1);
  Outcome left = { 0 };
  sf_location_lookup (l.home, "sip:erin@sipflow.test", got_result, &left, NULL);
  pump (l.set, &left.done);
  CU_ASSERT_EQUAL (left.bindings, 1);
  /* on worker 0 itself: at once */
  CU_ASSERT_EQUAL (sf_location_remove_flow (l.home, "ws:127.0.0.1:6666"), 1);
  CU_ASSERT_EQUAL (sf_location_size (l.home), 0);
  layer_clear (&l);
}

static void
got_error (SfLocationResult *r, gpointer data)
{
  Outcome *o = data;
  o->done = TRUE;
  o->bindings = r->error != NULL ? (guint) r->error->code : G_MAXUINT;
  sf_location_result_free (r);
}

/* A store of the shared kind that answers inside the call that asks (none
 * does today; the worker layer must not depend on it). */
static void
inline_close (SfLocStore *s)
{
  g_free (s);
}

static void
inline_lookup (SfLocStore *s, const char *aor, gint64 now, gpointer data)
{
  (void) aor;
  (void) now;
  s->answered (NULL, g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free), data);
}

static void
inline_update (SfLocStore *s, const char *aor, const SfLocUpdate *u, gint64 now, gpointer data)
{
  (void) u;
  inline_lookup (s, aor, now, data);
}

static const SfLocStoreClass inline_class = { .close = inline_close, .lookup = inline_lookup, .update = inline_update };

static void
home_inline (void)
{
  /* worker 0's location answers inside sf_location_lookup()/update(): the
   * request is handed back once and freed once (ASan) */
  SfLocStore *store = g_new0 (SfLocStore, 1);
  store->klass = &inline_class;
  Layer l;
  layer_init (&l, store, 0);
  Outcome look = { 0 }, up = { 0 };
  sf_location_lookup (l.w1, "sip:bob@sipflow.test", got_result, &look, NULL);
  pump (l.set, &look.done);
  CU_ASSERT_TRUE (look.done);
  CU_ASSERT_EQUAL (look.bindings, 0);
  SfLocChange c = { "sip:bob@192.0.2.1", 1.0, 3600, NULL, 0 };
  sf_location_update (l.w1, "sip:bob@sipflow.test", "cid", 1, NULL, FALSE, &c, 1, got_result, &up, NULL);
  pump (l.set, &up.done);
  CU_ASSERT_TRUE (up.done);
  layer_clear (&l);
}

static void
asks_bounded (void)
{
  /* worker 1 asks worker 0, which does not run: past max_asks (2) updates
   * in flight the next is answered at once (in the next iteration, worker 0
   * still stopped) as a store that could not write; counted.  A lookup does
   * not ask: worker 0's mirror answers it, busy or not (as it was: nothing
   * yet).  Once answered, asking works again. */
  Layer l;
  layer_init (&l, NULL, 2);
  Outcome held[2] = { { 0 }, { 0 } }, look = { 0 }, busy_up = { 0 };
  const char *contacts[] = { "sip:bob@192.0.2.1", "sip:bob@192.0.2.2", "sip:bob@192.0.2.3" };
  for (guint i = 0; i < 2; i++) {
    SfLocChange c = { contacts[i], 1.0, 3600, NULL, 0 };
    sf_location_update (l.w1, "sip:bob@sipflow.test", "cid", i + 1, NULL, FALSE, &c, 1, got_result, &held[i], NULL);
  }
  SfLocChange c = { contacts[2], 1.0, 3600, NULL, 0 };
  sf_location_update (l.w1, "sip:bob@sipflow.test", "cid", 3, NULL, FALSE, &c, 1, got_error, &busy_up, NULL);
  sf_location_lookup (l.w1, "sip:bob@sipflow.test", got_result, &look, NULL);
  CU_ASSERT_FALSE (busy_up.done || look.done); /* never from inside the call that asked */
  while (g_main_context_iteration (NULL, FALSE)) /* the asker's context only: no inbox drained */
    ;
  CU_ASSERT_TRUE (busy_up.done);
  CU_ASSERT_EQUAL (busy_up.bindings, SF_LOCATION_ERROR_STORE_FAILED);
  CU_ASSERT_TRUE (look.done);
  CU_ASSERT_EQUAL (look.bindings, 0);
  CU_ASSERT_FALSE (held[0].done || held[1].done);
  CU_ASSERT_EQUAL (sf_location_worker_busy (l.w1), 1);
  pump (l.set, &held[1].done);
  CU_ASSERT_TRUE (held[0].done && held[1].done);
  CU_ASSERT_EQUAL (held[1].bindings, 2);
  CU_ASSERT_EQUAL (sf_location_size (l.home), 2); /* the busy update never reached worker 0 */
  Outcome again = { 0 };
  sf_location_lookup (l.w1, "sip:bob@sipflow.test", got_result, &again, NULL);
  pump (l.set, &again.done);
  CU_ASSERT_TRUE (again.done);
  CU_ASSERT_EQUAL (again.bindings, 2);
  CU_ASSERT_EQUAL (sf_location_worker_busy (l.w1), 1);
  layer_clear (&l);
}

static void
shares (void)
{
  /* sip.max_instances bounds the set: its live server transactions, counted
   * in the shared table, whichever worker holds them; a worker alone may
   * hold more than max/N (up to 2 max/N instances).  REGISTERs (a
   * transaction each, living until Timer J) from a trusted source: 12 owned
   * by worker 0 (past its share of 8), 4 by worker 1; the 17th is refused
   * by worker 1, which holds only 4. */
  const char *const sets[] = { "sip.max_instances=16", NULL };
  Wk *w = wk_setup_with (sets, TRUE);
  for (guint i = 0; i < 16; i++) {
    g_autofree char *tag = g_strdup_printf ("s%u", i);
    g_autofree char *cid = call_id_for (w, i < 12 ? 0 : 1, tag);
    CU_ASSERT_TRUE (answered (w, i % 2, register_msg (w, cid, 1, "bob1", NULL), "SIP/2.0 200", NULL));
  }
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 12);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 4);
  g_autofree char *cid = call_id_for (w, 1, "s16");
  CU_ASSERT_TRUE (answered (w, 0, register_msg (w, cid, 1, "bob1", NULL), "SIP/2.0 503", NULL));
  CU_ASSERT_EQUAL (sf_stack_stats (w->px[1]->stack)->overloaded, 1);
  wk_free (w);
}

/* A UDP socket on @addr (a loopback address): another source than the peer. */
static GSocket *
source_new (const char *addr, guint *port)
{
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string (addr, 0);
  CU_ASSERT_TRUE_FATAL (g_socket_bind (sock, any, FALSE, NULL));
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (sock, NULL);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  return sock;
}

/* From @sock (@addr:@port), to worker @i: INVITE number @n of call @cid,
 * for a user of ours not registered.  The status @sock is answered (0:
 * none): 480 taken (its server transaction alive until Timer H), 503
 * refused. */
static guint
invite_from (Wk *w, GSocket *sock, const char *addr, guint port, guint i, const char *cid, guint n)
{
  static guint branch;
  branch++;
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:nobody@sipflow.test SIP/2.0\r\nVia: SIP/2.0/UDP %s:%u;branch=z9hG4bKwo%u\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:caller@example.net>;tag=c1\r\nTo: <sip:callee@example.org>\r\n"
    "Call-ID: %s\r\nCSeq: %u INVITE\r\nContact: <sip:caller@%s:%u>\r\nContent-Length: 0\r\n\r\n",
    addr, port, branch, cid, n + 1, addr, port);
  g_socket_send_to (sock, G_SOCKET_ADDRESS (w->px[i]->to), inv, strlen (inv), NULL, NULL);
  g_ptr_array_unref (recv_all (w)); /* runs the workers; the peer's copies dropped */
  guint status = 0;
  while (g_socket_condition_check (sock, G_IO_IN)) {
    char buf[4096];
    gssize got = g_socket_receive (sock, buf, sizeof buf - 1, NULL, NULL);
    if (got <= 0)
      break;
    buf[got] = '\0';
    status = (guint) atoi (buf + 8);
  }
  return status;
}

/* From @a (127.0.0.1:@pa), INVITEs of the one call @cid through each worker
 * in turn until one is refused (10 at most): how many were taken; *@n gets
 * how many were sent. */
static guint
fill_one_call (Wk *w, GSocket *a, guint pa, const char *cid, guint *n)
{
  guint taken = 0;
  for (guint status = 480; status == 480 && *n < 10; (*n)++) {
    status = invite_from (w, a, "127.0.0.1", pa, *n % w->n, cid, *n);
    taken += status == 480;
  }
  return taken;
}

static void
one_source (void)
{
  /* One source reusing one Call-ID sends all its requests to one worker:
   * it is refused there at its sip.max_per_source (here max / 2), and the
   * worker (bound at 2 max / N) still takes another source's call.  (With
   * the share max/N, the first source filled worker 1 and the second got
   * 503.) */
  const char *const sets[] = { "proxy.trusted=192.0.2.1/32", "sip.max_instances=16", "sip.max_per_source=8", NULL };
  Wk *w = wk_setup_with (sets, TRUE);
  guint pa, pb;
  g_autoptr (GSocket) a = source_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) b = source_new ("127.0.0.2", &pb);
  g_autofree char *cid = call_id_for (w, 1, "o");
  guint n = 0, taken = fill_one_call (w, a, pa, cid, &n);
  CU_ASSERT_EQUAL (taken, 8); /* its max_per_source, then 503 */
  g_autofree char *cid_a0 = call_id_for (w, 0, "o");
  CU_ASSERT_EQUAL (invite_from (w, a, "127.0.0.1", pa, 0, cid_a0, 0), 503); /* in the set, wherever */
  g_autofree char *cid_b = call_id_for (w, 1, "ob");
  CU_ASSERT_EQUAL (invite_from (w, b, "127.0.0.2", pb, 1, cid_b, 0), 480); /* worker 1 takes another source */
  CU_ASSERT_EQUAL (sf_stack_stats (w->px[1]->stack)->overloaded, 1);
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w)); /* what the timers sent on the way */
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  CU_ASSERT_EQUAL (invite_from (w, a, "127.0.0.1", pa, 1, cid, n), 480); /* its holds ended with them */
  wk_free (w);
}

static void
one_source_of_three (void)
{
  /* At three workers, a worker's bound is 2 max / 3 (10 instances here) and
   * one source holds at most 2 max_per_source / 3 at one worker (5, under
   * its 8 in the set), so a source reusing one Call-ID leaves its worker
   * room for others; its other calls still go, on other workers. */
  const char *const sets[] = { "proxy.trusted=192.0.2.1/32", "sip.max_instances=16", "sip.max_per_source=8", NULL };
  Wk *w = wk_setup_n (sets, TRUE, 3);
  guint pa, pb;
  g_autoptr (GSocket) a = source_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) b = source_new ("127.0.0.2", &pb);
  g_autofree char *cid = call_id_for (w, 2, "t");
  guint n = 0, taken = fill_one_call (w, a, pa, cid, &n);
  CU_ASSERT_EQUAL (taken, 5); /* 2 * 8 / 3 at worker 2 */
  g_autofree char *cid_a0 = call_id_for (w, 0, "t");
  CU_ASSERT_EQUAL (invite_from (w, a, "127.0.0.1", pa, 0, cid_a0, 0), 480); /* another worker: its share in the set */
  for (guint i = 0; i < 5; i++) {
    g_autofree char *tag = g_strdup_printf ("tb%u", i);
    g_autofree char *cid_b = call_id_for (w, 2, tag);
    CU_ASSERT_EQUAL (invite_from (w, b, "127.0.0.2", pb, i % 3, cid_b, 0), 480); /* worker 2 takes b's calls */
  }
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[2]->env->ep), 10);
  guint pc;
  g_autoptr (GSocket) c = source_new ("127.0.0.3", &pc);
  g_autofree char *cid_c = call_id_for (w, 2, "tc");
  CU_ASSERT_EQUAL (invite_from (w, c, "127.0.0.3", pc, 0, cid_c, 0), 503); /* worker 2 at its bound */
  sf_workers_advance (w->set, 64 * 500 + 1000);
  g_ptr_array_unref (recv_all (w));
  for (guint i = 0; i < 3; i++)
    CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[i]->env->ep), 0);
  wk_free (w);
}

static void
held_keyed (void)
{
  /* 24 sources whose addresses share g_str_hash modulo 16 (one stripe of the
   * per-source table, unkeyed) each hold a transaction: the table's keyed
   * hash spreads them (all in one stripe: a chance of 16^-23). */
  const char *const sets[] = { "proxy.trusted=192.0.2.1/32", NULL };
  Wk *w = wk_setup_with (sets, TRUE);
  g_autofree char *cid = call_id_for (w, 0, "hk");
  guint found = 0;
  for (guint i = 1; found < 24 && i < 65000; i++) {
    g_autofree char *addr = g_strdup_printf ("127.0.%u.%u", i / 254, i % 254 + 1);
    if (g_str_hash (addr) % 16 != 0)
      continue;
    guint port;
    g_autoptr (GSocket) sock = source_new (addr, &port);
    CU_ASSERT_EQUAL (invite_from (w, sock, addr, port, 0, cid, found), 480);
    found++;
  }
  CU_ASSERT_EQUAL_FATAL (found, 24);
  CU_ASSERT_TRUE (sf_stack_held_stripes_for_test (w->px[0]->stack) > 1);
  wk_free (w);
}

/* recv_all with worker 0's inbox on @ctx0: both contexts turned until
 * nothing moves and nothing waits in worker 0's inbox. */
static GPtrArray *
recv_all_ctx (Wk *w, GMainContext *ctx0)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  for (int round = 0; round < 50; round++) {
    gboolean moved = FALSE;
    for (int i = 0; i < 1000 && g_main_context_iteration (ctx0, FALSE); i++)
      moved = TRUE;
    g_autoptr (GPtrArray) got = recv_all (w);
    for (guint i = 0; i < got->len; i++)
      g_ptr_array_add (out, g_strdup (got->pdata[i]));
    SfWorkerStats st;
    sf_workers_stats (w->set, 0, &st);
    if (!moved && got->len == 0 && st.waiting == 0)
      break;
  }
  return out;
}

static void
bump (gpointer data)
{
  (*(guint *) data)++;
}

static void
inbox_bounded (void)
{
  /* Worker 0's inbox is on a context of its own, turned by hand: worker 0
   * busy (its thread not turning) while worker 1 reads a flood it owns. */
  g_autoptr (GMainContext) ctx0 = g_main_context_new ();
  Wk *w = wk_setup_ctx (NULL, FALSE, 2, ctx0);
  SfWorkerStats st;
  /* A backlog runs a slice (SF_WORKERS_RUN_MAX) per turn of the context. */
  guint ran = 0;
  for (guint i = 0; i < SF_WORKERS_RUN_MAX * 2 + 10; i++)
    CU_ASSERT_TRUE (sf_workers_offer (w->set, 1, 0, bump, &ran, NULL, 0));
  CU_ASSERT_TRUE (g_main_context_iteration (ctx0, FALSE));
  CU_ASSERT_EQUAL (ran, SF_WORKERS_RUN_MAX);
  CU_ASSERT_TRUE (g_main_context_iteration (ctx0, FALSE));
  CU_ASSERT_EQUAL (ran, SF_WORKERS_RUN_MAX * 2);
  CU_ASSERT_TRUE (g_main_context_iteration (ctx0, FALSE));
  CU_ASSERT_EQUAL (ran, SF_WORKERS_RUN_MAX * 2 + 10);
  CU_ASSERT_FALSE (g_main_context_iteration (ctx0, FALSE)); /* empty: not ready */

  /* The flood: 64 INVITEs owned by worker 0, read by worker 1, past an
   * inbox of 16: 16 wait, 48 are dropped and counted. */
  sf_workers_set_inbox_max (w->set, 16, SF_WORKERS_INBOX_MAX_BYTES);
  gsize longest = 0;
  for (guint k = 0; k < 64; k++) {
    g_autofree char *tag = g_strdup_printf ("f%u", k);
    g_autofree char *cid = call_id_for (w, 0, tag);
    g_autofree char *branch = g_strdup_printf ("z9hG4bKfl%u", k);
    g_autofree char *inv = request (w, "INVITE", branch, cid, NULL, 1);
    longest = MAX (longest, strlen (inv));
    send_to (w, 1, inv);
  }
  g_ptr_array_unref (recv_all (w)); /* worker 1 reads them all; worker 0's inbox does not run */
  sf_workers_stats (w->set, 0, &st);
  CU_ASSERT_EQUAL (st.dropped, 48);
  CU_ASSERT_EQUAL (st.waiting, 16);
  CU_ASSERT_TRUE (st.waiting_bytes > 0 && st.waiting_bytes <= 16 * longest); /* memory bounded */
  CU_ASSERT_EQUAL (handed (w, 1, TRUE), SF_WORKERS_RUN_MAX * 2 + 10 + 16);
  /* The bound in bytes: room for two more messages' bytes, not for 17 */
  sf_workers_set_inbox_max (w->set, 1000, st.waiting_bytes + 2 * longest);
  for (guint k = 0; k < 4; k++) {
    g_autofree char *tag = g_strdup_printf ("b%u", k);
    g_autofree char *cid = call_id_for (w, 0, tag);
    g_autofree char *branch = g_strdup_printf ("z9hG4bKfb%u", k);
    g_autofree char *inv = request (w, "INVITE", branch, cid, NULL, 1);
    send_to (w, 1, inv);
  }
  g_ptr_array_unref (recv_all (w));
  sf_workers_stats (w->set, 0, &st);
  CU_ASSERT_EQUAL (st.waiting, 18);
  CU_ASSERT_EQUAL (st.dropped, 50);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0); /* nothing made for what waits */

  /* Worker 0 turns again: what waited is served, each forwarded once */
  g_autoptr (GPtrArray) got = recv_all_ctx (w, ctx0);
  CU_ASSERT_EQUAL (count (got, "INVITE ", NULL), 18);
  /* and a legitimate request after the flood is served */
  g_autofree char *cid = call_id_for (w, 0, "legit");
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKlegit", cid, NULL, 1);
  send_to (w, 1, inv);
  g_autoptr (GPtrArray) got2 = recv_all_ctx (w, ctx0);
  const char *fwd = NULL;
  CU_ASSERT_EQUAL (count (got2, "INVITE ", &fwd), 1);
  CU_ASSERT_PTR_NOT_NULL (fwd != NULL ? strstr (fwd, cid) : NULL);
  sf_workers_stats (w->set, 0, &st);
  CU_ASSERT_EQUAL (st.dropped, 50);
  CU_ASSERT_EQUAL (st.waiting, 0);
  CU_ASSERT_EQUAL (st.waiting_bytes, 0);
  /* every instance ends by its timers: the callee never answers (Timer B,
   * the proxy's Timer C of three minutes, then Timer H of the 408) */
  sf_workers_advance (w->set, 300 * 1000);
  g_ptr_array_unref (recv_all_ctx (w, ctx0));
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[0]->env->ep), 0);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (w->px[1]->env->ep), 0);
  wk_free (w);
}

typedef struct {
  GArray *seen;   /* guint: the items' numbers in the order they ran */
  guint freed;    /* items destroyed */
} Order;

typedef struct {
  Order *o;
  guint n;
} Numbered;

static void
numbered_run (gpointer data)
{
  Numbered *x = data;
  g_array_append_val (x->o->seen, x->n);
}

static void
numbered_free (gpointer data)
{
  Numbered *x = data;
  x->o->freed++;
  g_free (x);
}

static void
post_numbered (SfWorkers *set, Order *o, guint n, gboolean offer)
{
  Numbered *x = g_new (Numbered, 1);
  *x = (Numbered) { o, n };
  if (offer) {
    CU_ASSERT_TRUE (sf_workers_offer (set, 1, 0, numbered_run, x, numbered_free, 10));
  } else {
    sf_workers_hand (set, 1, 0, numbered_run, x, numbered_free);
  }
}

/* The inbox is a ring that grows: items run in the order posted across its
 * wrap and its growth, hands (unbounded) past the offers' bound, and what
 * still waits when the set goes is destroyed, once each. */
static void
inbox_order (void)
{
  g_autoptr (GMainContext) ctx0 = g_main_context_new ();
  Wk *w = wk_setup_ctx (NULL, FALSE, 2, ctx0);
  Order o = { g_array_new (FALSE, FALSE, sizeof (guint)), 0 };
  guint next = 0;
  for (; next < 100; next++)
    post_numbered (w->set, &o, next, TRUE);
  CU_ASSERT_TRUE (g_main_context_iteration (ctx0, FALSE)); /* 64 run: the head moves on */
  for (; next < 250; next++) /* wraps, then grows with the head inside the ring */
    post_numbered (w->set, &o, next, TRUE);
  sf_workers_set_inbox_max (w->set, 16, SF_WORKERS_INBOX_MAX_BYTES);
  CU_ASSERT_FALSE (sf_workers_offer (w->set, 1, 0, numbered_run, NULL, NULL, 10)); /* full: refused */
  for (; next < 600; next++) /* hands are bounded by their callers, not the inbox */
    post_numbered (w->set, &o, next, FALSE);
  for (guint turn = 0; turn < 100 && g_main_context_iteration (ctx0, FALSE); turn++)
    ;
  CU_ASSERT_EQUAL_FATAL (o.seen->len, 600);
  gboolean in_order = TRUE;
  for (guint k = 0; k < o.seen->len; k++)
    in_order = in_order && g_array_index (o.seen, guint, k) == k;
  CU_ASSERT_TRUE (in_order);
  CU_ASSERT_EQUAL (o.freed, 600);
  SfWorkerStats st;
  sf_workers_stats (w->set, 0, &st);
  CU_ASSERT_EQUAL (st.waiting, 0);
  CU_ASSERT_EQUAL (st.waiting_bytes, 0);
  CU_ASSERT_EQUAL (st.dropped, 1);
  /* Left waiting when the set goes: destroyed with it, not run */
  sf_workers_close (w->set);
  for (guint k = 0; k < 5; k++)
    post_numbered (w->set, &o, next++, FALSE);
  sf_workers_stats (w->set, 0, &st);
  CU_ASSERT_EQUAL (st.waiting, 5);
  wk_free (w);
  CU_ASSERT_EQUAL (o.seen->len, 600);
  CU_ASSERT_EQUAL (o.freed, 605);
  g_array_unref (o.seen);
}

/* Worker 0's thread for wake_later: it turns ctx0 until its item ran or the
 * test gives up, and says when it waits in poll. */
static struct {
  GMutex lock;
  GCond cond;
  gboolean polling, ran, give_up;
  gboolean busy, release; /* busy_run: running in worker 0; may return */
} later;

static gint
later_poll (GPollFD *fds, guint n, gint timeout)
{
  g_mutex_lock (&later.lock);
  later.polling = TRUE;
  g_cond_broadcast (&later.cond);
  g_mutex_unlock (&later.lock);
  gint r = g_poll (fds, n, timeout);
  g_mutex_lock (&later.lock);
  later.polling = FALSE;
  g_mutex_unlock (&later.lock);
  return r;
}

static void
later_run (gpointer data)
{
  (void) data;
  g_mutex_lock (&later.lock);
  later.ran = TRUE;
  g_cond_broadcast (&later.cond);
  g_mutex_unlock (&later.lock);
}

static gpointer
later_thread (gpointer data)
{
  GMainContext *ctx = data;
  g_main_context_push_thread_default (ctx);
  for (;;) {
    g_mutex_lock (&later.lock);
    gboolean stop = later.ran || later.give_up;
    g_mutex_unlock (&later.lock);
    if (stop)
      break;
    g_main_context_iteration (ctx, TRUE);
  }
  g_main_context_pop_thread_default (ctx);
  return NULL;
}

/* Waits (5 s at most) until @flag is set; under later.lock. */
static gboolean
later_wait (gboolean *flag)
{
  gint64 end = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
  while (!*flag)
    if (!g_cond_wait_until (&later.cond, &later.lock, end))
      break;
  return *flag;
}

/* Starts worker 0's thread on @ctx0 and waits until it sleeps in poll
 * (nothing ready). */
static GThread *
owner_start (GMainContext *ctx0)
{
  g_main_context_set_poll_func (ctx0, later_poll);
  later.polling = later.ran = later.give_up = later.busy = later.release = FALSE;
  GThread *th = g_thread_new ("worker 0", later_thread, ctx0);
  g_mutex_lock (&later.lock);
  CU_ASSERT_TRUE (later_wait (&later.polling));
  g_mutex_unlock (&later.lock);
  return th;
}

/* Waits (5 s at most) until later_run ran in worker 0, then stops its
 * thread; returns whether it ran. */
static gboolean
owner_stop (GThread *th, GMainContext *ctx0)
{
  g_mutex_lock (&later.lock);
  later.release = TRUE;
  g_cond_broadcast (&later.cond);
  gboolean ran = later_wait (&later.ran);
  later.give_up = TRUE;
  g_mutex_unlock (&later.lock);
  g_main_context_wakeup (ctx0);
  g_thread_join (th);
  g_main_context_set_poll_func (ctx0, g_poll);
  return ran;
}

static guint64
wakeups_of (Wk *w, guint index)
{
  SfWorkerStats st;
  sf_workers_stats (w->set, index, &st);
  return st.wakeups;
}

/* An offer whose wake-up is held back (sf_workers_offer_later, one per
 * batch) still reaches an owner asleep in poll: sf_workers_wake wakes it.
 * Without the wake the owner would sleep on (its poll has no timeout) and
 * the wait would end in failure after 5 s. */
static void
wake_later (void)
{
  g_autoptr (GMainContext) ctx0 = g_main_context_new ();
  Wk *w = wk_setup_ctx (NULL, FALSE, 2, ctx0);
  GThread *th = owner_start (ctx0);
  CU_ASSERT_TRUE (sf_workers_offer_later (w->set, 1, 0, later_run, NULL, NULL, 10));
  CU_ASSERT_TRUE (sf_workers_offer_later (w->set, 1, 0, later_run, NULL, NULL, 10)); /* one wake for both */
  sf_workers_wake (w->set, 1);
  CU_ASSERT_TRUE (owner_stop (th, ctx0));
  CU_ASSERT_EQUAL (wakeups_of (w, 0), 1);
  wk_free (w);
}

/* A hand-off to an owner asleep in poll wakes it (sf_workers_hand, the
 * immediate wake-up): without the wake (its inbox's "asleep" flag not set, or
 * not read) it would sleep on, and the wait fail after 5 s. */
static void
wake_asleep (void)
{
  g_autoptr (GMainContext) ctx0 = g_main_context_new ();
  Wk *w = wk_setup_ctx (NULL, FALSE, 2, ctx0);
  GThread *th = owner_start (ctx0);
  sf_workers_hand (w->set, 1, 0, later_run, NULL, NULL);
  CU_ASSERT_TRUE (owner_stop (th, ctx0));
  CU_ASSERT_EQUAL (wakeups_of (w, 0), 1);
  wk_free (w);
}

/* Worker 0 busy: says so, and holds its thread until the test releases it. */
static void
busy_run (gpointer data)
{
  (void) data;
  g_mutex_lock (&later.lock);
  later.busy = TRUE;
  g_cond_broadcast (&later.cond);
  gint64 end = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
  while (!later.release)
    if (!g_cond_wait_until (&later.cond, &later.lock, end))
      break;
  g_mutex_unlock (&later.lock);
}

/* A hand-off to an owner that is awake (running an item of its inbox) does
 * not write its context's eventfd (no wake-up counted), and still runs: the
 * owner finds it before it next sleeps.  A poster that woke every time would
 * count two wake-ups; an owner that slept past it would fail the wait. */
static void
busy_no_wake (void)
{
  g_autoptr (GMainContext) ctx0 = g_main_context_new ();
  Wk *w = wk_setup_ctx (NULL, FALSE, 2, ctx0);
  GThread *th = owner_start (ctx0);
  sf_workers_hand (w->set, 1, 0, busy_run, NULL, NULL); /* asleep: woken */
  g_mutex_lock (&later.lock);
  CU_ASSERT_TRUE (later_wait (&later.busy));
  g_mutex_unlock (&later.lock);
  sf_workers_hand (w->set, 1, 0, later_run, NULL, NULL); /* busy: not woken */
  CU_ASSERT_EQUAL (wakeups_of (w, 0), 1);
  CU_ASSERT_TRUE (owner_stop (th, ctx0));
  CU_ASSERT_EQUAL (wakeups_of (w, 0), 1);
  SfWorkerStats st;
  sf_workers_stats (w->set, 0, &st);
  CU_ASSERT_EQUAL (st.handed_in, 2);
  wk_free (w);
}

/* An INVITE behind a CRLF (the parser skips it) is claimed as a plain one:
 * else it goes by the hash, unclaimed, and its retransmission without the
 * CRLF, read by the same worker, claims there: a second server transaction,
 * the INVITE forwarded twice. */
static void
claim_crlf (void)
{
  Wk *w = wk_claims (16, SF_WORKERS_CLAIM_MS);
  g_autofree char *cid = call_id_for (w, 1, "clcrlf");
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKclcrlf", cid, NULL, 1);
  g_autofree char *crlf = g_strconcat ("\r\n", inv, NULL);
  send_to (w, 0, crlf);
  g_autoptr (GPtrArray) a = recv_all (w);
  const char *fwd = NULL;
  CU_ASSERT_EQUAL_FATAL (count (a, "INVITE ", &fwd), 1);
  CU_ASSERT_EQUAL (sf_workers_claims (w->set), 1);
  g_autofree char *fwd1 = g_strdup (fwd);
  g_autofree char *r180 = respond (fwd1, 180, "Ringing");
  send_port (w, via_port (fwd1), r180);
  g_ptr_array_unref (recv_all (w));
  sf_workers_advance (w->set, 500);
  send_to (w, 0, inv); /* the retransmission, plain */
  g_autoptr (GPtrArray) b = recv_all (w);
  CU_ASSERT_EQUAL (count (b, "INVITE ", NULL), 0); /* absorbed, not forwarded again */
  sf_workers_advance (w->set, 200 * 1000);
  g_ptr_array_unref (recv_all (w));
  wk_free (w);
}

/* The hold's tail: a full table at t0 holds claims to t0 + 64 s; an INVITE
 * at t0 + 60 s goes by the hash (worker 1), unclaimed; at t0 + 65 s another
 * INVITE of its Call-ID read by worker 0 (its retransmission, or anyone's
 * with that Call-ID) claims for the hash's worker, where the first one's
 * transaction is: the retransmission is absorbed there, and the caller's
 * CANCEL read by worker 0 finds it (not a 481). */
static void
hold_tail (gboolean same_branch)
{
  Wk *w = wk_claims (1, 10 * 1000);
  gint64 t0 = sf_clock_now_us (sf_endpoint_clock (w->px[0]->env->ep));
  g_autofree char *a = call_id_for (w, 1, "clht-a");
  g_autofree char *b = call_id_for (w, 1, "clht-b");
  sf_workers_claim (w->set, 0, a, strlen (a), t0);
  CU_ASSERT_EQUAL (sf_workers_claim (w->set, 0, b, strlen (b), t0), 1); /* full: held to t0 + 64 s */
  sf_workers_advance (w->set, 60 * 1000);
  g_autofree char *cid = call_id_for (w, 1, same_branch ? "clht-v" : "clht-w");
  g_autofree char *inv = request (w, "INVITE", "z9hG4bKclhtv", cid, NULL, 1);
  send_to (w, 0, inv);
  g_autoptr (GPtrArray) x = recv_all (w);
  const char *fwd = NULL;
  CU_ASSERT_EQUAL_FATAL (count (x, "INVITE ", &fwd), 1);
  g_autofree char *fwd1 = g_strdup (fwd);
  g_autofree char *r180 = respond (fwd1, 180, "Ringing");
  send_port (w, via_port (fwd1), r180);
  g_ptr_array_unref (recv_all (w));
  sf_workers_advance (w->set, 5 * 1000); /* t0 + 65 s: the hold over */
  g_autofree char *inv2 = same_branch ? g_strdup (inv) : request (w, "INVITE", "z9hG4bKclhtx", cid, NULL, 1);
  send_to (w, 0, inv2);
  g_autoptr (GPtrArray) y = recv_all (w);
  if (same_branch)
    CU_ASSERT_EQUAL (count (y, "INVITE ", NULL), 0); /* absorbed by its transaction */
  g_autofree char *can = request (w, "CANCEL", "z9hG4bKclhtv", cid, NULL, 1);
  send_to (w, 0, can);
  g_autoptr (GPtrArray) z = recv_all (w);
  CU_ASSERT_EQUAL (count (z, "SIP/2.0 481", NULL), 0);
  CU_ASSERT_EQUAL (count (z, "SIP/2.0 200", NULL), 1); /* the CANCEL's */
  sf_workers_advance (w->set, 200 * 1000);
  g_ptr_array_unref (recv_all (w));
  wk_free (w);
}
static void
claim_hold_tail_retx (void)
{
  hold_tail (TRUE);
}
static void
claim_hold_tail_other (void)
{
  hold_tail (FALSE);
}

/* The balance counts load that decays: 40,000 claims worker 1 took in one
 * burst (junk INVITEs never answered) weigh nothing 5 minutes later, when a
 * trunk read by worker 0 (100 calls a second) spreads again over both
 * workers; a count of the claims held would keep the ended ones (until a
 * sweep passes them) and leave every trunk call on worker 0. */
static void
claim_pin (void)
{
  SfWorkers *set = sf_workers_new (2, test_key);
  sf_workers_set_claims (set, SF_WORKERS_CLAIMS_MAX, SF_WORKERS_CLAIM_MS);
  gint64 t = G_USEC_PER_SEC;
  for (guint i = 0; i < 40000; i++) {
    g_autofree char *id = g_strdup_printf ("junk-%u", i);
    sf_workers_claim (set, 1, id, strlen (id), t);
  }
  gint64 when = t + 300 * G_USEC_PER_SEC;
  guint on[2] = { 0, 0 };
  for (guint i = 0; i < 5000; i++) {
    g_autofree char *id = g_strdup_printf ("trunk-%u", i);
    on[sf_workers_claim (set, 0, id, strlen (id), when + i * 10000)]++;
  }
  CU_ASSERT_TRUE (on[1] > 1800);                    /* both carry it */
  CU_ASSERT_TRUE (on[0] <= on[1] + on[1] / 2);      /* 5:4 and 64 in 5 to 10 s: 1.4:1 at 100 a second */
  sf_workers_free (set);
}

/* Ended claims leave the table without the hold.  A table full of ended
 * claims (16 of 16) takes 16 new ones at once, each for its reader: the
 * whole sweep empties it when the small one has not, no 64 s of the hash
 * rule (without the whole sweep the table fills and holds).  Then the small sweep:
 * 30 ended claims of 64, and 33 new ones (66 slots looked at of 128, never
 * full, so no whole sweep) leave fewer than the 63 a table without it would
 * hold. */
static void
claim_sweeps (void)
{
  SfWorkers *set = sf_workers_new (2, test_key);
  sf_workers_set_claims (set, 16, 1000);
  gint64 t = G_USEC_PER_SEC;
  for (guint i = 0; i < 16; i++) {
    g_autofree char *id = g_strdup_printf ("sw-%u", i);
    sf_workers_claim (set, 0, id, strlen (id), t);
  }
  CU_ASSERT_EQUAL (sf_workers_claims (set), 16);
  t += 2 * G_USEC_PER_SEC; /* all ended */
  guint n = 0;
  for (guint i = 0; n < 16; i++) {
    g_autofree char *id = g_strdup_printf ("sw-new-%u", i);
    if (sf_workers_route (set, id, strlen (id)) != 1)
      continue;
    CU_ASSERT_EQUAL (sf_workers_claim (set, 0, id, strlen (id), t), 0); /* the reader's: claimed, no hold */
    n++;
  }
  CU_ASSERT_EQUAL (sf_workers_claims (set), 16);
  sf_workers_free (set);

  set = sf_workers_new (2, test_key);
  sf_workers_set_claims (set, 64, 1000);
  t = G_USEC_PER_SEC;
  for (guint i = 0; i < 30; i++) {
    g_autofree char *id = g_strdup_printf ("ss-%u", i);
    sf_workers_claim (set, i & 1, id, strlen (id), t);
  }
  t += 2 * G_USEC_PER_SEC;
  for (guint i = 0; i < 33; i++) {
    g_autofree char *id = g_strdup_printf ("ss-new-%u", i);
    sf_workers_claim (set, i & 1, id, strlen (id), t);
  }
  CU_ASSERT_TRUE (sf_workers_claims (set) < 58);
  sf_workers_free (set);
}

/* The claim is the call's, not the Call-ID's: while a call rings, anyone's
 * INVITE with its Call-ID refused (486) and anyone's BYE, refused (481) or
 * accepted (200: sent to a UAS of the sender's choosing) do not end it; the caller's CANCEL long after (past the window such an end would
 * have left, 11.4 s here) read by worker 1 still meets the INVITE at worker
 * 0 (200, 487 from the callee), not 481 at the hash's worker. */
static void
claim_foreign (void)
{
  const char *const sets[] = { "sip.t1_ms=100", NULL };
  Wk *w = wk_claims_with (sets, 16, SF_WORKERS_CLAIM_MS);
  g_autofree char *cid = NULL;
  guint home = 0;
  g_autofree char *fwd = claimed_invite (w, "clfo", &cid, &home);
  g_autofree char *r180 = respond (fwd, 180, "Ringing");
  send_port (w, home, r180);
  g_ptr_array_unref (recv_all (w));
  const char *methods[] = { "INVITE", "BYE", "BYE" };
  const guint status[] = { 486, 481, 200 }; /* the last: a BYE to a UAS the sender chose, accepted */
  for (guint k = 0; k < 3; k++) {
    g_autofree char *branch = g_strdup_printf ("z9hG4bKclfoatk%u", k);
    g_autofree char *atk = request (w, methods[k], branch, cid, NULL, 7);
    send_to (w, 1, atk);
    g_autoptr (GPtrArray) a = recv_all (w);
    g_autofree char *start = g_strdup_printf ("%s ", methods[k]);
    const char *f = NULL;
    CU_ASSERT_EQUAL_FATAL (count (a, start, &f), 1);
    g_autofree char *f1 = g_strdup (f);
    g_autofree char *no = respond (f1, status[k], "No");
    send_port (w, via_port (f1), no);
    g_autoptr (GPtrArray) b = recv_all (w);
    g_autofree char *st = g_strdup_printf ("SIP/2.0 %u", status[k]);
    CU_ASSERT_EQUAL (count (b, st, NULL), 1); /* refused upstream */
  }
  sf_workers_advance (w->set, 12000); /* past 64*T1 + T4 */
  g_ptr_array_unref (recv_all (w));
  CU_ASSERT_EQUAL (owner_now (w, cid), 0);
  g_autofree char *can = request (w, "CANCEL", "z9hG4bKclfo1", cid, NULL, 1);
  send_to (w, 1, can);
  g_autoptr (GPtrArray) z = recv_all (w);
  CU_ASSERT_EQUAL (count (z, "SIP/2.0 481", NULL), 0);
  CU_ASSERT_EQUAL (count (z, "SIP/2.0 200", NULL), 1);
  sf_workers_advance (w->set, 200 * 1000);
  g_ptr_array_unref (recv_all (w));
  wk_free (w);
}

void
sf_test_register_workers (void)
{
  CU_pSuite s = CU_add_suite ("workers", NULL, NULL);
  CU_add_test (s, "forwarded", forwarded);
  CU_add_test (s, "cancel", cancel);
  CU_add_test (s, "retransmissions", retransmissions);
  CU_add_test (s, "handles", handles);
  CU_add_test (s, "listener_source", listener_source);
  CU_add_test (s, "own_socket", own_socket);
  CU_add_test (s, "own_stray", own_stray);
  CU_add_test (s, "own_binding", own_binding);
  CU_add_test (s, "claim_call", claim_call);
  CU_add_test (s, "claim_first", claim_first);
  CU_add_test (s, "claim_full", claim_full);
  CU_add_test (s, "claim_model", claim_model);
  CU_add_test (s, "claim_balance", claim_balance);
  CU_add_test (s, "claim_expiry", claim_expiry);
  CU_add_test (s, "claim_crlf", claim_crlf);
  CU_add_test (s, "claim_pin", claim_pin);
  CU_add_test (s, "claim_sweeps", claim_sweeps);
  CU_add_test (s, "claim_foreign", claim_foreign);
  CU_add_test (s, "claim_hold_tail_retx", claim_hold_tail_retx);
  CU_add_test (s, "claim_hold_tail_other", claim_hold_tail_other);
  CU_add_test (s, "claim_bye", claim_bye);
  CU_add_test (s, "claim_failed", claim_failed);
  CU_add_test (s, "claim_rate", claim_rate);
  CU_add_test (s, "alone", alone);
  CU_add_test (s, "drawn_home", drawn_home);
  CU_add_test (s, "fork", fork_across);
  CU_add_test (s, "cseq_order", cseq_order);
  CU_add_test (s, "nonce", nonce);
  CU_add_test (s, "answer_here", answer_here);
  CU_add_test (s, "rate", rate);
  CU_add_test (s, "lists", lists);
  CU_add_test (s, "location_layer", location_layer);
  CU_add_test (s, "location_flow_closed", location_flow_closed);
  CU_add_test (s, "home_inline", home_inline);
  CU_add_test (s, "asks_bounded", asks_bounded);
  CU_add_test (s, "shares", shares);
  CU_add_test (s, "one_source", one_source);
  CU_add_test (s, "one_source_of_three", one_source_of_three);
  CU_add_test (s, "held_keyed", held_keyed);
  CU_add_test (s, "inbox_bounded", inbox_bounded);
  CU_add_test (s, "inbox_order", inbox_order);
  CU_add_test (s, "wake_later", wake_later);
  CU_add_test (s, "wake_asleep", wake_asleep);
  CU_add_test (s, "busy_no_wake", busy_no_wake);
}
