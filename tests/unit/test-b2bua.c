/* test-b2bua.c: the engine's hand-over of a call from a bridge to its leg, and
 * the B2BUA bridge's pure parts (docs/b2bua.md, docs/engine.md "Handing a call
 * over"), on the fake clock; a UDP socket on loopback plays the caller.
 *  - move_key: sf_endpoint_move_key moves a key within a scope (the lookup
 *    finds the new holder, the old one is keyless); refused across scopes, from
 *    a keyless instance, onto itself
 *  - hand_over: a bridge flow hands its child leg the call's key
 *    (sf_ctx_hand_key, refused for an instance not its child) and the INVITE
 *    (sf_stack_hand_over): the leg answers it (RFC 3261 17.2: the server
 *    transaction follows its new user); a later request of the call goes
 *    straight to the leg, and one the leg does not take is answered at once by
 *    the stack (21.4.6: 405; before, only the guard's 500 came, 132*T1 later)
 *    as the leg is of the TU's scope; zero instances once the transactions end
 *  - status_map: the built-in rows (3xx 480, 401/407 403, per-hop 500, 503 500,
 *    the callee's own answers kept), configured rows first, bad rows refused
 *  - bridge_hides: xml/b2bua.xml with two peers, A and B: B's INVITE shares no
 *    Call-ID, tag, Via branch, Contact, From user, User-Agent or X- header with
 *    A's (RFC 3261 6: a B2BUA's UAC side makes its own request) and carries
 *    Max-Forwards A's minus one (RFC 7332 3); B's 180 reaches A as 180, its 486
 *    as 486, without
 *    B's reason phrase, Warning, Contact or tag; the bridge_end event pairs both
 *    Call-IDs and statuses; zero instances at the end
 *  - bridge_max_forwards_zero: A's Max-Forwards 0 gets 483 (RFC 3261 16.3
 *    step 3, RFC 7332 3), and no B leg is made
 *  - bridge_status_map: B's 503, 401, 408 and 603 reach A as 500, 403, 408 and
 *    603; b2bua.status_map's own row (486=600) wins
 *  - bridge_up_a_hangs_up, bridge_up_b_hangs_up: B answers with its SDP, A gets
 *    200 with it (pass mode) and neither B's tag nor Contact; both sides ACK; a
 *    BYE from either side gets 200 and the other side gets a BYE in its own
 *    dialog (RFC 3261 15.1); bridge_end says who ended it; zero instances
 *  - bridge_rtp_timeout: media:rtp_timeout (the relay's, b2bua.rtp_timeout) in
 *    a call that is up sends both legs a BYE; bridge_end says the bridge ended it
 *  - bridge_reinvite: A holds (re-INVITE, a=sendonly): B gets a re-INVITE in
 *    its own dialog with A's offer, B's 200 answer reaches A's 200 (RFC 3264
 *    8.4); the call then ends cleanly
 *  - bridge_reinvite_unanswered: B answers the relayed re-INVITE with 100 only:
 *    after 64*T1 A's re-INVITE has a final failure, B's re-INVITE is given up
 *    and the call ends on both sides; zero instances
 *  - bridge_relay_peer_reinvite_fails: B's own re-INVITE with the CSeq number
 *    of the one relayed to it, its 200 failing in Accepted (RFC 6026 7.1), is
 *    not taken for the failure of the relayed one: A hears nothing yet
 *  - bridge_info: an INFO from A in the call gets 200 from A's leg, and B gets
 *    an INFO in its own dialog with the same Content-Type and body (RFC 6086)
 *  - bridge_failover: B's 503 with b2bua.failover set: a bridge_failover event,
 *    C gets an INVITE of its own (another Call-ID than B's, nothing of A's);
 *    C's 486 reaches A (no target left)
 *  - bridge_loop_status: with failover set, B's 483 (and 482) reach A as they
 *    are and fail nothing over, so a loop through us unwinds once instead of
 *    every hop retrying its failover targets
 *  - bridge_max_calls: b2bua.max_calls=1: a second INVITE while the first rings
 *    gets 503 with Retry-After (RFC 3261 21.5.4) and makes no B leg
 *  - bridge_options: an OPTIONS outside a dialog is answered 200 by a lone A
 *    leg (11.2); nothing reaches B; zero instances
 *  - bridge_setup: b2bua.media=anchor sets up (the relay serves it), a latch outside its list is refused; a bad
 *    status_map or failover row names its key; a UA flow gets no bridge state
 *  - bridge_target_checks: a flow whose OpBridgeCall target host reads the
 *    request, a header or a variable does not load (no open relay); a user
 *    part from the request and a header line the flow lists do; b2bua.from is
 *    B's From (with our tag); B's 480 reaches A
 *  - bridge_cancel_window: an INVITE and its CANCEL read in one batch: the
 *    CANCEL finds the bridge, which still held the key, and OpBridgeRelay takes
 *    it on to A: 200 for the CANCEL, 487 for the INVITE (RFC 3261 9.2); B's
 *    INVITE is cancelled; zero instances at the end */
#include "config.h"
#include "sf-test-b2b.h"
#include "operators/b2bua/sf-b2bua.h"
#include "operators/sf-modules.h"
#include "operators/transaction/sf-stack.h"
#include "states/sf-ctx.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

static void
test_move_key (void)
{
  SfTestEnv *env = sf_test_env_new ();
  SfMachine *m = sf_test_load (env, "c.xml",
                               "<flow version=\"2\" name=\"c\" scope=\"call\" initial=\"A\"><state name=\"A\"/></flow>");
  SfMachine *r = sf_test_load (env, "r.xml",
                               "<flow version=\"2\" name=\"r\" scope=\"request\" initial=\"A\"><state name=\"A\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  SfInstance *a = sf_endpoint_create (env->ep, m, "cid|tag", NULL, NULL);
  SfInstance *b = sf_endpoint_create (env->ep, m, "other", NULL, NULL);
  SfInstance *x = sf_endpoint_create (env->ep, r, NULL, NULL, NULL);
  CU_ASSERT_FALSE (sf_endpoint_move_key (env->ep, a, x));  /* another scope */
  CU_ASSERT_FALSE (sf_endpoint_move_key (env->ep, a, a));
  CU_ASSERT_TRUE (sf_endpoint_move_key (env->ep, a, b));
  CU_ASSERT_PTR_EQUAL (sf_endpoint_lookup (env->ep, "call", "cid|tag"), b);
  CU_ASSERT_PTR_NULL (sf_endpoint_lookup (env->ep, "call", "other")); /* b's own key is gone */
  CU_ASSERT_FALSE (sf_endpoint_move_key (env->ep, a, b));  /* a is keyless now */
  /* a can take a key again, and ends without touching b's */
  CU_ASSERT_TRUE (sf_endpoint_set_key (env->ep, a, "new"));
  sf_endpoint_kill (env->ep, a, "test");
  CU_ASSERT_PTR_EQUAL (sf_endpoint_lookup (env->ep, "call", "cid|tag"), b);
  sf_endpoint_drain (env->ep);
  sf_machine_unref (m);
  sf_machine_unref (r);
  sf_test_env_free (env);
}

/* THandOver: spawns "leg", hands it the key and the request (once). */
static SfOpResult
t_hand_over (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfInstance *self = sf_ctx_instance (ctx);
  /* not a child: refused */
  SfInstance *stranger = sf_endpoint_create (sf_ctx_endpoint (ctx), sf_instance_machine (self), NULL, NULL, NULL);
  CU_ASSERT_FALSE (sf_ctx_hand_key (ctx, stranger));
  sf_endpoint_kill (sf_ctx_endpoint (ctx), stranger, "test");
  SfInstance *leg = sf_ctx_spawn (ctx, "leg", NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (leg);
  CU_ASSERT_TRUE (sf_ctx_hand_key (ctx, leg));
  CU_ASSERT_TRUE (sf_stack_hand_over (ctx, ev, leg));
  return SF_OP_TRANSITION;
}

static const SfOperatorDef hand_ops[] = {
  { "THandOver", t_hand_over, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL, "test", NULL,
    NULL, NULL },
};

static void
send_text (SfTestStack *t, const char *method, const char *branch, guint cseq)
{
  g_autofree char *text = g_strdup_printf (
    "%s sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
    "From: <sip:a@127.0.0.1>;tag=atag\r\nTo: <sip:b2b@127.0.0.1>\r\nCall-ID: hand-over@127.0.0.1\r\n"
    "CSeq: %u %s\r\nContact: <sip:a@127.0.0.1:%u>\r\nContent-Length: 0\r\n\r\n",
    method, t->port, branch, cseq, method, t->port);
  g_socket_send_to (t->peer, G_SOCKET_ADDRESS (t->to), text, strlen (text), NULL, NULL);
}

static guint
recv_status (SfTestStack *t)
{
  if (!sf_test_peer_wait (t->peer))
    return 0;
  char buf[4096];
  gssize n = g_socket_receive (t->peer, buf, sizeof buf - 1, NULL, NULL);
  if (n <= 12)
    return 0;
  buf[n] = '\0';
  return (guint) g_ascii_strtoull (buf + 8, NULL, 10);
}

static void
test_hand_over (void)
{
  SfTestEnv *env = sf_test_env_new ();
  CU_ASSERT_TRUE_FATAL (sf_registry_add (env->reg, NULL, hand_ops, G_N_ELEMENTS (hand_ops), NULL));
  sf_config_set (env->cfg, "sip.t1_ms=100", NULL);
  sf_endpoint_attach (env->ep, NULL);
  g_autofree char *dir = g_dir_make_tmp ("sf-b2b-XXXXXX", NULL);
  g_autofree char *bridge = g_build_filename (dir, "bridge.xml", NULL);
  g_autofree char *leg = g_build_filename (dir, "leg.xml", NULL);
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (
    bridge,
    "<flow version=\"2\" name=\"bridge\" scope=\"call\" initial=\"Idle\"><import name=\"leg\" src=\"leg.xml\"/>"
    "<state name=\"Idle\"><normal><op name=\"THandOver\" on=\"sip:INVITE\" next=\"Wait\"/></normal></state>"
    "<state name=\"Wait\"><normal><op name=\"OpGo\" on=\"child:end\" next=\"Done\"/></normal></state>"
    "<state name=\"Done\" final=\"true\"/></flow>", -1, NULL));
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (
    leg,
    "<flow version=\"2\" name=\"leg\" scope=\"call\" initial=\"Idle\">"
    "<state name=\"Idle\"><normal><op name=\"OpReply\" on=\"sip:INVITE\" arg=\"200\" next=\"Up\"/></normal></state>"
    "<state name=\"Up\"><normal><op name=\"OpReply\" on=\"sip:BYE\" arg=\"200\" next=\"Done\"/></normal></state>"
    "<state name=\"Done\" final=\"true\"/></flow>", -1, NULL));
  SfMachine *m = sf_loader_load (env->loader, bridge, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfTestStack *t = sf_test_stack_new (env, m);
  send_text (t, "INVITE", "z9hG4bK-ho-1", 1);
  CU_ASSERT_EQUAL (recv_status (t), 200); /* the leg answered the bridge's request */
  g_autofree char *key = sf_stack_call_key ("hand-over@127.0.0.1", "atag");
  SfInstance *holder = sf_endpoint_lookup (env->ep, "call", key);
  CU_ASSERT_PTR_NOT_NULL_FATAL (holder);
  CU_ASSERT_STRING_EQUAL (sf_instance_machine (holder)->name, "leg");
  /* An INFO of the call: the leg does not take it; answered at once (405) */
  send_text (t, "INFO", "z9hG4bK-ho-2", 2);
  CU_ASSERT_EQUAL (recv_status (t), 405);
  /* the leg ends on a BYE; the bridge hears child:end and ends */
  send_text (t, "BYE", "z9hG4bK-ho-3", 3);
  CU_ASSERT_EQUAL (recv_status (t), 200);
  sf_endpoint_advance (env->ep, 64 * 100 + 1000); /* Timers H, J at 64*T1 */
  sf_endpoint_drain (env->ep);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (env, "\"event\":\"instance_end\"", "\"state\":\"Done\"", NULL), 2); /* the leg, then its bridge */
  sf_test_stack_free (t, NULL);
  g_unlink (bridge);
  g_unlink (leg);
  g_rmdir (dir);
}

static void
test_status_map (void)
{
  SfB2bState st = { 0 };
  st.status_map = g_array_new (FALSE, FALSE, sizeof (SfB2bMapRow));
  const char *const rows[] = { "486=600", "5xx=480", NULL };
  CU_ASSERT_TRUE (sf_b2b_parse_map (rows, st.status_map, NULL));
  /* the built-in rows after the configured ones, as the module appends them */
  const char *const builtin[] = { "3xx=480", "401=403", "407=403", "408=408", "481=500", "491=500",
                                  "503=500", NULL };
  CU_ASSERT_TRUE (sf_b2b_parse_map (builtin, st.status_map, NULL));
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 486), 600);
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 502), 480);  /* the class row */
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 503), 500);  /* an exact row wins over a class */
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 302), 480);
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 407), 403);
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 481), 500);
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 603), 603);  /* the callee's own answer */
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 404), 404);
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 180), 500);  /* no final status: ours */
  const char *const bad[][2] = { { "486", NULL }, { "99=500", NULL }, { "486=200", NULL }, { "7xx=500", NULL },
                                 { "486=", NULL } };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) e = NULL;
    CU_ASSERT_FALSE (sf_b2b_parse_map (bad[i], st.status_map, &e));
    CU_ASSERT_PTR_NOT_NULL (e != NULL ? strstr (e->message, "b2bua.status_map") : NULL);
  }
  g_array_unref (st.status_map);
}


/* ---- the bridge, xml/b2bua.xml, between two peers ---- */

#define A_SDP "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"

static void
a_invite (SfTestB2b *x, guint max_forwards, const char *branch)
{
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: %u\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: <sip:b2b@127.0.0.1>\r\nCall-ID: a-call@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:%u>\r\nX-Secret: leak\r\nUser-Agent: alice-phone\r\n"
    "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
    x->t->port, branch, max_forwards, x->t->port, strlen (A_SDP), A_SDP);
  sf_test_send (x->t->peer, x->t->to, inv);
}

static void
a_cancel (SfTestB2b *x, const char *branch)
{
  g_autofree char *c = g_strdup_printf (
    "CANCEL sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: <sip:b2b@127.0.0.1>\r\nCall-ID: a-call@127.0.0.1\r\n"
    "CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n", x->t->port, branch);
  sf_test_send (x->t->peer, x->t->to, c);
}

/* A's ACK for a final response @resp (>= 300) to its INVITE of @branch. */
static void
a_ack (SfTestB2b *x, const char *resp, const char *branch)
{
  g_autofree char *to = sf_test_header (resp, "To");
  g_autofree char *ack = g_strdup_printf (
    "ACK sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\n"
    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", x->t->port, branch, to != NULL ? to : "");
  sf_test_send (x->t->peer, x->t->to, ack);
}

/* B answers @req with @status (a To tag of its own). */
static void
b_respond (SfTestB2b *x, const char *req, guint status)
{
  g_autofree char *via = sf_test_header (req, "Via");
  g_autofree char *from = sf_test_header (req, "From");
  g_autofree char *to = sf_test_header (req, "To");
  g_autofree char *cid = sf_test_header (req, "Call-ID");
  g_autofree char *cseq = sf_test_header (req, "CSeq");
  g_autofree char *r = g_strdup_printf ("SIP/2.0 %u Whatever B Says\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=bobtag\r\n"
                                        "Call-ID: %s\r\nCSeq: %s\r\nWarning: 399 bob.internal \"secret\"\r\n"
                                        "Contact: <sip:bob@10.9.9.9>\r\nContent-Length: 0\r\n\r\n",
                                        status, via, from, to, cid, cseq);
  sf_test_send (x->b, x->bto, r);
}

/* B's INVITE after A's: the checks of topology hiding.  Returns it (transfer full). */
static char *
b_invite (SfTestB2b *x, guint a_max_forwards)
{
  char *inv = sf_test_recv (x->b, FALSE);
  CU_ASSERT_PTR_NOT_NULL_FATAL (inv);
  CU_ASSERT_TRUE (g_str_has_prefix (inv, "INVITE sip:bob@127.0.0.1"));
  g_autofree char *cid = sf_test_header (inv, "Call-ID");
  g_autofree char *via = sf_test_header (inv, "Via");
  g_autofree char *from = sf_test_header (inv, "From");
  g_autofree char *contact = sf_test_header (inv, "Contact");
  g_autofree char *mf = sf_test_header (inv, "Max-Forwards");
  CU_ASSERT_TRUE (cid != NULL && strstr (cid, "a-call") == NULL);
  CU_ASSERT_TRUE (via != NULL && strstr (via, "z9hG4bK-a") == NULL);
  CU_ASSERT_TRUE (from != NULL && strstr (from, "alicetag") == NULL && strstr (from, "alice") == NULL);
  CU_ASSERT_TRUE (contact != NULL && strstr (contact, "alice") == NULL);
  CU_ASSERT_PTR_NULL (strstr (inv, "X-Secret"));
  CU_ASSERT_PTR_NULL (strstr (inv, "alice-phone"));
  g_autofree char *want = g_strdup_printf ("%u", a_max_forwards - 1);
  CU_ASSERT_STRING_EQUAL (mf != NULL ? mf : "", want); /* RFC 7332 3 */
  return inv;
}

static void
bridge_hides (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  a_invite (x, 10, "z9hG4bK-a1");
  g_autofree char *inv = b_invite (x, 10);
  /* B rings: A hears 180 (the A leg is silent until the bridge drives it) */
  b_respond (x, inv, 180);
  g_autofree char *ringing = sf_test_recv (x->t->peer, FALSE);
  CU_ASSERT_TRUE (ringing != NULL && g_str_has_prefix (ringing, "SIP/2.0 180") && strstr (ringing, "bobtag") == NULL);
  b_respond (x, inv, 486);
  g_autofree char *resp = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &resp), 486);
  CU_ASSERT_TRUE (resp != NULL && strstr (resp, "Whatever B Says") == NULL && strstr (resp, "bob.internal") == NULL &&
                  strstr (resp, "10.9.9.9") == NULL && strstr (resp, "bobtag") == NULL);
  if (resp != NULL)
    a_ack (x, resp, "z9hG4bK-a1");
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  g_autofree char *bcid = sf_test_header (inv, "Call-ID");
  g_autofree char *bfield = g_strdup_printf ("\"b_call_id\":\"%s\"", bcid);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"a_call_id\":\"a-call@127.0.0.1\"", bfield,
                                  "\"b_status\":486", "\"a_status\":486", NULL), 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL (sf_test_b2b_state ());
  CU_ASSERT_EQUAL (sf_test_b2b_state ()->live, 0);
  sf_test_b2b_free (x);
}

static void
bridge_max_forwards_zero (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  a_invite (x, 0, "z9hG4bK-a0");
  g_autofree char *resp = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &resp), 483);
  if (resp != NULL)
    a_ack (x, resp, "z9hG4bK-a0");
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->b)); /* no B leg */
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"a_status\":483", "\"ended_by\":\"bridge\"",
                                  NULL), 1);
  sf_test_b2b_free (x);
}

static void
bridge_status_map (void)
{
  const struct { guint b, a; const char *set; } rows[] = {
    { 503, 500, NULL }, { 401, 403, NULL }, { 408, 408, NULL }, { 603, 603, NULL },
    { 486, 600, "b2bua.status_map=486=600" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    SfTestB2b *x = sf_test_b2b_new (rows[i].set, 0);
    a_invite (x, 70, "z9hG4bK-am");
    g_autofree char *inv = b_invite (x, 70);
    b_respond (x, inv, rows[i].b);
    g_autofree char *resp = NULL;
    guint got = sf_test_recv_final (x->t->peer, &resp);
    CU_ASSERT_EQUAL (got, rows[i].a);
    if (got != rows[i].a)
      g_printerr ("status map: B %u gave A %u, not %u\n", rows[i].b, got, rows[i].a);
    if (resp != NULL)
      a_ack (x, resp, "z9hG4bK-am");
    sf_test_b2b_settle (x);
    CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
    sf_test_b2b_free (x);
  }
}


#define B_SDP "v=0\r\no=bob 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 42000 RTP/AVP 0\r\n"

/* B answers @req 200 with its SDP. */
static void
b_answer (SfTestB2b *x, const char *req)
{
  g_autofree char *via = sf_test_header (req, "Via");
  g_autofree char *from = sf_test_header (req, "From");
  g_autofree char *to = sf_test_header (req, "To");
  g_autofree char *cid = sf_test_header (req, "Call-ID");
  g_autofree char *cseq = sf_test_header (req, "CSeq");
  g_autofree char *r = g_strdup_printf ("SIP/2.0 200 OK\r\nVia: %s\r\nFrom: %s\r\nTo: %s%s\r\nCall-ID: %s\r\n"
                                        "CSeq: %s\r\nContact: <sip:bob@127.0.0.1:%u>\r\nContent-Type: application/sdp\r\n"
                                        "Content-Length: %zu\r\n\r\n%s",
                                        via, from, to, strstr (to, ";tag=") != NULL ? "" : ";tag=bobtag", cid, cseq,
                                        x->bport, strlen (B_SDP), B_SDP);
  sf_test_send (x->b, x->bto, r);
}

/* A request in A's dialog (@method, CSeq @n) after the 200 @ok. */
static void
a_in_dialog (SfTestB2b *x, const char *ok, const char *method, guint n, const char *branch)
{
  g_autofree char *to = sf_test_header (ok, "To");
  g_autofree char *contact = sf_test_header (ok, "Contact");
  g_autofree char *ruri = contact != NULL ? g_strndup (contact + 1, strcspn (contact + 1, ">")) : g_strdup ("sip:b2b@127.0.0.1");
  g_autofree char *m = g_strdup_printf (
    "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\n"
    "CSeq: %u %s\r\nContent-Length: 0\r\n\r\n", method, ruri, x->t->port, branch, to, n, method);
  sf_test_send (x->t->peer, x->t->to, m);
}

/* A request @method (CSeq @n, header lines @extra) in B's dialog after B's
 * 200 to @inv. */
static void
b_in_dialog (SfTestB2b *x, const char *inv, const char *method, guint n, const char *branch, const char *extra)
{
  g_autofree char *from = sf_test_header (inv, "From");
  g_autofree char *to = sf_test_header (inv, "To");
  g_autofree char *cid = sf_test_header (inv, "Call-ID");
  g_autofree char *contact = sf_test_header (inv, "Contact");
  g_autofree char *ruri = g_strndup (contact + 1, strcspn (contact + 1, ">"));
  g_autofree char *m = g_strdup_printf (
    "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
    "From: %s;tag=bobtag\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u %s\r\nContact: <sip:bob@127.0.0.1:%u>\r\n"
    "%sContent-Length: 0\r\n\r\n", method, ruri, x->bport, branch, to, from, cid, n, method, x->bport, extra);
  sf_test_send (x->b, x->bto, m);
}

/* B's BYE (CSeq 1) after B's 200 to @inv. */
static void
b_bye (SfTestB2b *x, const char *inv)
{
  b_in_dialog (x, inv, "BYE", 1, "z9hG4bK-bbye", "");
}

/* A calls, B answers; both ACKed.  Returns A's 200 and B's INVITE (transfer full). */
static void
call_up (SfTestB2b *x, char **a_ok, char **b_inv)
{
  a_invite (x, 70, "z9hG4bK-au");
  *b_inv = b_invite (x, 70);
  b_answer (x, *b_inv);
  g_autofree char *ack = sf_test_recv (x->b, FALSE); /* the B leg's ACK for B's 2xx */
  CU_ASSERT_TRUE (ack != NULL && g_str_has_prefix (ack, "ACK "));
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, a_ok), 200);
  CU_ASSERT_TRUE_FATAL (*a_ok != NULL);
  /* A's 200 carries B's SDP session (pass mode), not B's tag or Contact */
  CU_ASSERT_PTR_NOT_NULL (strstr (*a_ok, "m=audio 42000"));
  CU_ASSERT_PTR_NULL (strstr (*a_ok, "bobtag"));
  g_autofree char *to = sf_test_header (*a_ok, "To");
  g_autofree char *ackm = g_strdup_printf (
    "ACK sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-auack\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\n"
    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", x->t->port, to);
  sf_test_send (x->t->peer, x->t->to, ackm);
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->t->peer));
}

static void
bridge_up_a_hangs_up (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *ok = NULL, *inv = NULL;
  call_up (x, &ok, &inv);
  a_in_dialog (x, ok, "BYE", 2, "z9hG4bK-abye");
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, NULL), 200);
  g_autofree char *bye = sf_test_recv (x->b, FALSE); /* B gets a BYE in its own dialog */
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  g_autofree char *cid = sf_test_header (bye, "Call-ID");
  g_autofree char *icid = sf_test_header (inv, "Call-ID");
  CU_ASSERT_STRING_EQUAL (cid, icid);
  b_respond (x, bye, 200);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  g_autofree char *bfield = g_strdup_printf ("\"b_call_id\":\"%s\"", icid);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", bfield, "\"answered\":true",
                                  "\"ended_by\":\"a\"", NULL), 1);
  sf_test_b2b_free (x);
}

/* The relay's rtp_timeout (b2bua.rtp_timeout: both parties gone without a
 * BYE) reached the bridge and was only written down: the call, its legs and
 * the relay's two port pairs stayed up for ever.  Now both legs get a BYE. */
static void
bridge_rtp_timeout (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *ok = NULL, *inv = NULL;
  call_up (x, &ok, &inv);
  SfEndpoint *ep = x->t->env->ep;
  SfInstance *bridge = sf_endpoint_lookup_handle (ep, "c1");
  CU_ASSERT_PTR_NOT_NULL_FATAL (bridge);
  sf_endpoint_post (ep, bridge, sf_event_new (SF_EV_MEDIA, "rtp_timeout", NULL));
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_autofree char *bye = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  b_respond (x, bye, 200);
  g_autofree char *abye = sf_test_recv (x->t->peer, FALSE);
  CU_ASSERT_TRUE_FATAL (abye != NULL && g_str_has_prefix (abye, "BYE "));
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"ended_by\":\"bridge\"", NULL), 1);
  sf_test_b2b_free (x);
}

static void
bridge_up_b_hangs_up (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *ok = NULL, *inv = NULL;
  call_up (x, &ok, &inv);
  b_bye (x, inv);
  g_autofree char *bok = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE (bok != NULL && g_str_has_prefix (bok, "SIP/2.0 200"));
  g_autofree char *bye = sf_test_recv (x->t->peer, FALSE); /* A gets a BYE in its own dialog */
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  g_autofree char *cid = sf_test_header (bye, "Call-ID");
  CU_ASSERT_STRING_EQUAL (cid, "a-call@127.0.0.1");
  g_autofree char *via = sf_test_header (bye, "Via");
  g_autofree char *from = sf_test_header (bye, "From");
  g_autofree char *to = sf_test_header (bye, "To");
  g_autofree char *cseq = sf_test_header (bye, "CSeq");
  g_autofree char *r = g_strdup_printf ("SIP/2.0 200 OK\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
                                        "Content-Length: 0\r\n\r\n", via, from, to, cid, cseq);
  sf_test_send (x->t->peer, x->t->to, r);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"answered\":true", "\"ended_by\":\"b\"", NULL), 1);
  sf_test_b2b_free (x);
}


static void
bridge_failover (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, SF_TEST_B2B_C);
  a_invite (x, 70, "z9hG4bK-af");
  g_autofree char *inv = b_invite (x, 70);
  b_respond (x, inv, 503);
  /* C gets a new INVITE: a new Call-ID, not B's, nothing of A's */
  g_autofree char *cinv = sf_test_recv (x->c, FALSE);
  CU_ASSERT_TRUE_FATAL (cinv != NULL && g_str_has_prefix (cinv, "INVITE sip:carol@127.0.0.1"));
  g_autofree char *bcid = sf_test_header (inv, "Call-ID");
  g_autofree char *ccid = sf_test_header (cinv, "Call-ID");
  CU_ASSERT_STRING_NOT_EQUAL (bcid, ccid);
  CU_ASSERT_PTR_NULL (strstr (cinv, "a-call"));
  CU_ASSERT_PTR_NULL (strstr (cinv, "X-Secret"));
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_failover\"", "\"status\":503", "carol", NULL), 1);
  /* C is busy: no target left, A gets C's 486 */
  g_autofree char *via = sf_test_header (cinv, "Via");
  g_autofree char *from = sf_test_header (cinv, "From");
  g_autofree char *to = sf_test_header (cinv, "To");
  g_autofree char *cseq = sf_test_header (cinv, "CSeq");
  g_autofree char *r = g_strdup_printf ("SIP/2.0 486 Busy Here\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=caroltag\r\n"
                                        "Call-ID: %s\r\nCSeq: %s\r\nContent-Length: 0\r\n\r\n", via, from, to, ccid, cseq);
  sf_test_send (x->c, x->cto, r);
  g_autofree char *resp = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &resp), 486);
  if (resp != NULL)
    a_ack (x, resp, "z9hG4bK-af");
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}

/* A loop through the bridge (a target, or a proxy behind it, that routes back
 * to us): Max-Forwards ends it with 483 at the last hop, but each bridge
 * before it turned 483 into 500, a failover_on status, so every hop tried
 * its failover targets again: (1 + targets)^70 INVITEs from one.  482 and 483
 * go back as they are (they are about A's request: its Max-Forwards crossed),
 * and they are no failover status: the loop unwinds once. */
static void
bridge_loop_status (void)
{
  const guint codes[] = { 483, 482 };
  for (guint i = 0; i < G_N_ELEMENTS (codes); i++) {
    SfTestB2b *x = sf_test_b2b_new (NULL, SF_TEST_B2B_C);
    a_invite (x, 3, "z9hG4bK-al");
    g_autofree char *inv = b_invite (x, 3);
    b_respond (x, inv, codes[i]);
    g_autofree char *resp = NULL;
    CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &resp), codes[i]);
    if (resp != NULL)
      a_ack (x, resp, "z9hG4bK-al");
    sf_test_b2b_settle (x);
    CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_failover\"", NULL), 0);
    g_autofree char *cinv = sf_test_recv (x->c, FALSE);
    CU_ASSERT_PTR_NULL (cinv);
    CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
    sf_test_b2b_free (x);
  }
}

static void
bridge_max_calls (void)
{
  SfTestB2b *x = sf_test_b2b_new ("b2bua.max_calls=1", 0);
  a_invite (x, 70, "z9hG4bK-mc1");
  g_autofree char *inv = b_invite (x, 70);
  /* a second call while the first rings: 503 with Retry-After, no B leg */
  g_autofree char *m = g_strdup_printf (
    "INVITE sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-mc2\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:dave@127.0.0.1>;tag=davetag\r\nTo: <sip:b2b@127.0.0.1>\r\n"
    "Call-ID: second@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:dave@127.0.0.1:%u>\r\n"
    "Content-Length: 0\r\n\r\n", x->t->port, x->t->port);
  sf_test_send (x->t->peer, x->t->to, m);
  g_autofree char *resp = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &resp), 503);
  g_autofree char *ra = resp != NULL ? sf_test_header (resp, "Retry-After") : NULL;
  CU_ASSERT_STRING_EQUAL (ra != NULL ? ra : "", "5");
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->b));
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"a_call_id\":\"second@127.0.0.1\"",
                                  "\"a_status\":503", "\"ended_by\":\"bridge\"", NULL), 1);
  /* the first call ends: B is busy */
  b_respond (x, inv, 486);
  g_autofree char *busy = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &busy), 486);
  if (busy != NULL)
    a_ack (x, busy, "z9hG4bK-mc1");
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_b2b_state ()->live, 0);
  sf_test_b2b_free (x);
}

static void
bridge_options (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *m = g_strdup_printf (
    "OPTIONS sip:b2b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-opt\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: <sip:b2b@127.0.0.1>\r\nCall-ID: opt@127.0.0.1\r\n"
    "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", x->t->port);
  sf_test_send (x->t->peer, x->t->to, m);
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, NULL), 200); /* the A leg answers, as a UA (RFC 3261 11.2) */
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->b));        /* nothing goes to B */
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", NULL), 0); /* no call */
  CU_ASSERT_EQUAL (sf_test_b2b_state ()->live, 0);
  sf_test_b2b_free (x);
}

/* [b2bua] checked at setup: anchored media (the relay), a latch from its list,
 * a bad status_map row names its key; a flow that does not bridge gets no state. */
static void
bridge_setup (void)
{
  SfTestEnv *env = sf_test_env_new ();
  SfMachine *flow = sf_loader_load (env->loader, SF_SRCDIR "/xml/b2bua.xml", NULL);
  SfMachine *ua = sf_loader_load (env->loader, SF_SRCDIR "/xml/ua.xml", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (flow);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ua);
  SfModuleEnv me = { .ep = env->ep, .cfg = env->cfg, .loader = env->loader, .flow = flow };
  gpointer state = NULL;
  g_autoptr (GError) e1 = NULL;
  CU_ASSERT_TRUE (sf_b2bua_module.setup (&me, &state, &e1));
  CU_ASSERT_PTR_NOT_NULL (state);
  g_clear_pointer (&state, sf_b2bua_module.teardown);
  g_assert (sf_config_set (env->cfg, "b2bua.media=anchor", NULL)); /* the relay (media/sf-media-relay.h) serves it */
  g_autoptr (GError) e2 = NULL;
  CU_ASSERT_TRUE (sf_b2bua_module.setup (&me, &state, &e2));
  CU_ASSERT_PTR_NOT_NULL (state);
  g_clear_pointer (&state, sf_b2bua_module.teardown);
  CU_ASSERT_FALSE (sf_config_set (env->cfg, "b2bua.latch=sometimes", NULL)); /* not one of any|sdp_host|off */
  me.flow = ua; /* a UA: nothing to set up, whatever [b2bua] says */
  CU_ASSERT_TRUE (sf_b2bua_module.setup (&me, &state, NULL));
  CU_ASSERT_PTR_NULL (state);
  me.flow = flow;
  g_assert (sf_config_set (env->cfg, "b2bua.media=pass", NULL));
  g_assert (sf_config_set (env->cfg, "b2bua.status_map=486=600,oops", NULL));
  g_autoptr (GError) e3 = NULL;
  CU_ASSERT_FALSE (sf_b2bua_module.setup (&me, &state, &e3));
  CU_ASSERT_TRUE (e3 != NULL && strstr (e3->message, "b2bua.status_map") != NULL && strstr (e3->message, "oops") != NULL);
  g_assert (sf_config_set (env->cfg, "b2bua.status_map=486=600", NULL));
  g_assert (sf_config_set (env->cfg, "b2bua.failover=tel:+1555", NULL));
  g_autoptr (GError) e4 = NULL;
  CU_ASSERT_FALSE (sf_b2bua_module.setup (&me, &state, &e4));
  CU_ASSERT_TRUE (e4 != NULL && strstr (e4->message, "b2bua.failover") != NULL);
  sf_machine_unref (flow);
  sf_machine_unref (ua);
  sf_test_env_free (env);
}


/* No open relay: OpBridgeCall's target host must come from the flow or the
 * configuration, checked when the flow loads; the user part may come from the
 * request (escaped).  b2bua.from is B's From. */
static void
bridge_target_checks (void)
{
  SfTestEnv *env = sf_test_env_new ();
  SfMachine *ok = sf_test_load (env, "ok.xml",
    "<flow version=\"2\" name=\"b\" scope=\"call\" initial=\"Idle\">"
    "<state name=\"Idle\"><normal><op name=\"OpBridgeCall\" on=\"sip:INVITE\" "
    "arg=\"sip:${ruri.user}@gw.example.com | P-Asserted-Identity: ${hdr.P-Asserted-Identity}\" next=\"Done\"/>"
    "</normal></state><state name=\"Done\" final=\"true\"/></flow>");
  CU_ASSERT_PTR_NOT_NULL (ok);
  if (ok != NULL)
    sf_machine_unref (ok);
  const char *bad[] = { "sip:bob@${ruri.host}", "${hdr.X-Target}", "sip:${ruri.user}@${var.host}", "bob" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree char *xml = g_strdup_printf (
      "<flow version=\"2\" name=\"b\" scope=\"call\" initial=\"Idle\">"
      "<var name=\"host\" value=\"\"/>"
      "<state name=\"Idle\"><normal><op name=\"OpBridgeCall\" on=\"sip:INVITE\" arg=\"%s\" next=\"Done\"/></normal></state>"
      "<state name=\"Done\" final=\"true\"/></flow>", bad[i]);
    SfTestEnv *e = sf_test_env_new (); /* its own loader: each refusal for its own reason */
    SfMachine *m = sf_test_load (e, "bad.xml", xml);
    CU_ASSERT_PTR_NULL (m);
    CU_ASSERT_TRUE (sf_test_has_diag (e->loader, 0, FALSE, "bad arg for 'OpBridgeCall'"));
    if (m != NULL)
      sf_machine_unref (m);
    sf_test_env_free (e);
  }
  sf_test_env_free (env);

  SfTestB2b *x = sf_test_b2b_new ("b2bua.from=<sip:gateway@b2b.example.com>", 0);
  a_invite (x, 70, "z9hG4bK-af2");
  g_autofree char *inv = b_invite (x, 70);
  g_autofree char *from = sf_test_header (inv, "From");
  CU_ASSERT_TRUE (from != NULL && g_str_has_prefix (from, "<sip:gateway@b2b.example.com>;tag="));
  b_respond (x, inv, 480);
  g_autofree char *resp = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &resp), 480);
  if (resp != NULL)
    a_ack (x, resp, "z9hG4bK-af2");
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}


#define A_HOLD "v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendonly\r\n"

/* A puts the call on hold (a re-INVITE with an offer, RFC 3264 8.4): B gets a
 * re-INVITE in its own dialog with A's offer, B's answer reaches A in the 200. */
static void
bridge_reinvite (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *ok = NULL, *inv = NULL;
  call_up (x, &ok, &inv);
  g_autofree char *to = sf_test_header (ok, "To");
  g_autofree char *contact = sf_test_header (ok, "Contact");
  g_autofree char *ruri = g_strndup (contact + 1, strcspn (contact + 1, ">"));
  g_autofree char *re = g_strdup_printf (
    "INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-are\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\nCSeq: 2 INVITE\r\n"
    "Contact: <sip:alice@127.0.0.1:%u>\r\nContent-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
    ruri, x->t->port, to, x->t->port, strlen (A_HOLD), A_HOLD);
  sf_test_send (x->t->peer, x->t->to, re);
  g_autofree char *bre = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE_FATAL (bre != NULL && g_str_has_prefix (bre, "INVITE "));
  g_autofree char *bcid = sf_test_header (bre, "Call-ID");
  g_autofree char *icid = sf_test_header (inv, "Call-ID");
  CU_ASSERT_STRING_EQUAL (bcid, icid);                      /* B's own dialog */
  CU_ASSERT_PTR_NOT_NULL (strstr (bre, "a=sendonly"));      /* A's offer */
  CU_ASSERT_PTR_NULL (strstr (bre, "a-call"));
  b_answer (x, bre);
  g_autofree char *back = sf_test_recv (x->b, FALSE);                   /* the B leg's ACK */
  CU_ASSERT_TRUE (back != NULL && g_str_has_prefix (back, "ACK "));
  g_autofree char *aok = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &aok), 200);
  CU_ASSERT_TRUE (aok != NULL && strstr (aok, "m=audio 42000") != NULL); /* B's answer */
  g_autofree char *ack = g_strdup_printf (
    "ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-areack\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\nCSeq: 2 ACK\r\n"
    "Content-Length: 0\r\n\r\n", ruri, x->t->port, to);
  sf_test_send (x->t->peer, x->t->to, ack);
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->t->peer));
  /* and the call still ends cleanly */
  a_in_dialog (x, ok, "BYE", 3, "z9hG4bK-abye2");
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, NULL), 200);
  g_autofree char *bye = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  b_respond (x, bye, 200);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}


/* A's re-INVITE (CSeq @n, branch @branch) with A_HOLD in the call of @ok. */
static void
a_reinvite (SfTestB2b *x, const char *ok, guint n, const char *branch)
{
  g_autofree char *to = sf_test_header (ok, "To");
  g_autofree char *contact = sf_test_header (ok, "Contact");
  g_autofree char *ruri = g_strndup (contact + 1, strcspn (contact + 1, ">"));
  g_autofree char *re = g_strdup_printf (
    "INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=%s\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\nCSeq: %u INVITE\r\n"
    "Contact: <sip:alice@127.0.0.1:%u>\r\nContent-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
    ruri, x->t->port, branch, to, n, x->t->port, strlen (A_HOLD), A_HOLD);
  sf_test_send (x->t->peer, x->t->to, re);
}

/* A call up, A's re-INVITE (hold) relayed to B: what B received (NULL when
 * nothing or no INVITE came). */
static char *
relayed_reinvite (SfTestB2b *x, char **ok, char **inv)
{
  call_up (x, ok, inv);
  a_reinvite (x, *ok, 2, "z9hG4bK-arx");
  char *bre = sf_test_recv (x->b, FALSE);
  if (bre != NULL && !g_str_has_prefix (bre, "INVITE "))
    g_clear_pointer (&bre, g_free);
  return bre;
}

/* A hostile B answers the relayed re-INVITE with 100 and nothing more (an
 * INVITE client transaction has no timer left then, RFC 3261 17.1.1.2): A's
 * kept re-INVITE gets 500 at the leg's relay_guard, but the B leg kept its
 * re-INVITE and the bridge its open offer for the rest of the call, so every
 * later hold or resume of either side got 491.  The B leg gives up its
 * re-INVITE after 64*T1 as a UA gives up its own (reinvite_guard): the call
 * ends (RFC 3261 12.2.1.2 treats a re-INVITE that got no answer as the
 * dialog gone). */
static void
bridge_reinvite_unanswered (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *ok = NULL, *inv = NULL;
  g_autofree char *bre = relayed_reinvite (x, &ok, &inv);
  CU_ASSERT_TRUE_FATAL (bre != NULL);
  b_respond (x, bre, 100);
  /* 64*T1 (6.4 s) and more: A's re-INVITE is answered, B's call ends */
  for (guint i = 0; i < 80; i++) {
    sf_endpoint_advance (x->t->env->ep, 100);
    while (g_main_context_iteration (NULL, FALSE))
      ;
  }
  g_autofree char *resp = NULL;
  guint st = sf_test_recv_final (x->t->peer, &resp);
  CU_ASSERT (st >= 400);
  /* what B got after its 100: a CANCEL of the re-INVITE, or a BYE */
  gboolean b_told = FALSE;
  for (char *m = sf_test_recv (x->b, FALSE); m != NULL; g_free (m), m = sf_test_recv (x->b, FALSE)) {
    if (g_str_has_prefix (m, "BYE "))
      b_respond (x, m, 200), b_told = TRUE;
    else if (g_str_has_prefix (m, "CANCEL "))
      b_told = TRUE;
  }
  CU_ASSERT_TRUE (b_told);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}


/* An INFO from A (SIP INFO DTMF) in the call: A gets 200 from its leg, B gets
 * an INFO in its own dialog with the same body (RFC 6086). */
static void
bridge_info (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *ok = NULL, *inv = NULL;
  call_up (x, &ok, &inv);
  g_autofree char *to = sf_test_header (ok, "To");
  g_autofree char *contact = sf_test_header (ok, "Contact");
  g_autofree char *ruri = g_strndup (contact + 1, strcspn (contact + 1, ">"));
  const char *dtmf = "Signal=5\r\nDuration=160\r\n";
  g_autofree char *info = g_strdup_printf (
    "INFO %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-ainfo\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\nCSeq: 2 INFO\r\n"
    "Content-Type: application/dtmf-relay\r\nContent-Length: %zu\r\n\r\n%s", ruri, x->t->port, to, strlen (dtmf), dtmf);
  sf_test_send (x->t->peer, x->t->to, info);
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, NULL), 200);
  g_autofree char *binfo = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE_FATAL (binfo != NULL && g_str_has_prefix (binfo, "INFO "));
  g_autofree char *ct = sf_test_header (binfo, "Content-Type");
  CU_ASSERT_STRING_EQUAL (ct != NULL ? ct : "", "application/dtmf-relay");
  CU_ASSERT_PTR_NOT_NULL (strstr (binfo, "Signal=5"));
  g_autofree char *bcid = sf_test_header (binfo, "Call-ID");
  g_autofree char *icid = sf_test_header (inv, "Call-ID");
  CU_ASSERT_STRING_EQUAL (bcid, icid);
  b_respond (x, binfo, 200);
  a_in_dialog (x, ok, "BYE", 3, "z9hG4bK-abye3");
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, NULL), 200);
  g_autofree char *bye = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  b_respond (x, bye, 200);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}

static void
bridge_cancel_window (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  sf_endpoint_set_messages (x->t->env->ep, SF_MESSAGES_ON); /* step events name the operators that acted */
  /* both datagrams wait on the socket: one read takes them (one batch) */
  a_invite (x, 70, "z9hG4bK-aw");
  a_cancel (x, "z9hG4bK-aw");
  /* A hears: the CANCEL's 200 and the INVITE's 487 (after a 180 when it rang) */
  gboolean cancel_ok = FALSE;
  g_autofree char *final = NULL;
  for (guint i = 0; i < 4 && (!cancel_ok || final == NULL); i++) {
    g_autofree char *m = sf_test_recv (x->t->peer, FALSE);
    if (m == NULL)
      break;
    g_autofree char *cseq = sf_test_header (m, "CSeq");
    if (g_str_has_prefix (m, "SIP/2.0 200") && cseq != NULL && strstr (cseq, "CANCEL") != NULL)
      cancel_ok = TRUE;
    else if (g_ascii_strtoull (m + 8, NULL, 10) >= 200 && cseq != NULL && strstr (cseq, "INVITE") != NULL)
      final = g_steal_pointer (&m);
  }
  CU_ASSERT_TRUE (cancel_ok);
  CU_ASSERT_TRUE_FATAL (final != NULL);
  CU_ASSERT_TRUE (g_str_has_prefix (final, "SIP/2.0 487"));
  CU_ASSERT_TRUE (sf_test_count (x->t->env, "\"event\":\"step\"", "OpBridgeRelay", NULL) >= 1); /* the window was hit */
  a_ack (x, final, "z9hG4bK-aw");
  /* B's INVITE went before the bridge heard A's end: B rings, and the CANCEL
   * that waited for a provisional (9.1) follows */
  g_autofree char *inv = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE"));
  b_respond (x, inv, 180);
  g_autofree char *cancel = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE_FATAL (cancel != NULL && g_str_has_prefix (cancel, "CANCEL"));
  b_respond (x, cancel, 200);
  b_respond (x, inv, 487);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}

/* ---- transfer through the bridge (b2bua.refer, docs/b2bua.md "Transfer") ---- */

#define C_SDP "v=0\r\no=carol 5 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 44000 RTP/AVP 0\r\n"

/* The next @n datagrams on @sock, each matched to the first of @prefixes
 * (in any order) that it starts with; @out[i] the one of prefixes[i]
 * (transfer full), NULL when none came. */
static void
recv_each (GSocket *sock, guint n, const char *const *prefixes, char **out)
{
  for (guint i = 0; i < n; i++) {
    char *m = sf_test_recv (sock, FALSE);
    if (m == NULL)
      return;
    guint k = 0;
    while (k < n && (out[k] != NULL || !g_str_has_prefix (m, prefixes[k])))
      k++;
    if (k < n)
      out[k] = m;
    else {
      g_printerr ("unexpected: %.60s\n", m);
      g_free (m);
    }
  }
}

/* B refers A to C (b2bua.refer=target_domain, C on the target's host): 202
 * and NOTIFY 100 to B; C gets an INVITE of the bridge's with Referred-By and
 * A's SDP (pass mode), nothing of A's dialog; C's answer: B gets the NOTIFY
 * 200 and a BYE (its leg replaced), A a re-INVITE with C's SDP (RFC 3264 8);
 * A's BYE then reaches C.  bridge_end counts the transfer; zero instances. */
static void
bridge_transfer (void)
{
  SfTestB2b *x = sf_test_b2b_new ("b2bua.refer=target_domain", SF_TEST_B2B_C);
  g_autofree char *ok = NULL, *inv = NULL;
  call_up (x, &ok, &inv);
  g_autofree char *rt = g_strdup_printf ("Refer-To: <sip:carol@127.0.0.1:%u>\r\nReferred-By: <sip:bob@127.0.0.1>\r\n",
                                         x->cport);
  b_in_dialog (x, inv, "REFER", 2, "z9hG4bK-bref", rt);
  const char *const p1[] = { "SIP/2.0 202", "NOTIFY " };
  char *m1[2] = { NULL, NULL };
  recv_each (x->b, 2, p1, m1);
  CU_ASSERT_PTR_NOT_NULL (m1[0]);
  CU_ASSERT_TRUE_FATAL (m1[1] != NULL && strstr (m1[1], "SIP/2.0 100") != NULL && strstr (m1[1], "Event: refer") != NULL);
  sf_test_reply (x->b, x->bto, m1[1], 200, NULL, x->bport, NULL);
  /* C's INVITE: ours, with A's offer */
  g_autofree char *cinv = sf_test_recv (x->c, FALSE);
  CU_ASSERT_TRUE_FATAL (cinv != NULL && g_str_has_prefix (cinv, "INVITE sip:carol@127.0.0.1"));
  CU_ASSERT_PTR_NOT_NULL (strstr (cinv, "Referred-By: <sip:bob@127.0.0.1>"));
  CU_ASSERT_PTR_NOT_NULL (strstr (cinv, "m=audio 40000"));
  CU_ASSERT_PTR_NULL (strstr (cinv, "a-call"));
  CU_ASSERT_PTR_NULL (strstr (cinv, "alicetag"));
  sf_test_reply (x->c, x->cto, cinv, 200, "caroltag", x->cport, C_SDP);
  g_autofree char *cack = sf_test_recv (x->c, FALSE);
  CU_ASSERT_TRUE (cack != NULL && g_str_has_prefix (cack, "ACK "));
  /* B: the NOTIFY of C's 200, and a BYE */
  const char *const p2[] = { "NOTIFY ", "BYE " };
  char *m2[2] = { NULL, NULL };
  recv_each (x->b, 2, p2, m2);
  CU_ASSERT_TRUE (m2[0] != NULL && strstr (m2[0], "SIP/2.0 200") != NULL);
  CU_ASSERT_PTR_NOT_NULL (m2[1]);
  for (guint i = 0; i < 2; i++)
    if (m2[i] != NULL)
      sf_test_reply (x->b, x->bto, m2[i], 200, NULL, x->bport, NULL);
  /* A: a re-INVITE with C's media; its answer is what C was offered: C hears nothing more */
  g_autofree char *are = sf_test_recv (x->t->peer, FALSE);
  CU_ASSERT_TRUE_FATAL (are != NULL && g_str_has_prefix (are, "INVITE ") && strstr (are, "m=audio 44000") != NULL);
  CU_ASSERT_PTR_NULL (strstr (are, "carol"));
  sf_test_reply (x->t->peer, x->t->to, are, 200, NULL, x->t->port, A_SDP);
  g_autofree char *aack = sf_test_recv (x->t->peer, FALSE);
  CU_ASSERT_TRUE (aack != NULL && g_str_has_prefix (aack, "ACK "));
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->c));
  /* A hangs up: C gets the BYE */
  a_in_dialog (x, ok, "BYE", 2, "z9hG4bK-abyet");
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, NULL), 200);
  g_autofree char *cbye = sf_test_recv (x->c, FALSE);
  CU_ASSERT_TRUE_FATAL (cbye != NULL && g_str_has_prefix (cbye, "BYE "));
  sf_test_reply (x->c, x->cto, cbye, 200, NULL, x->cport, NULL);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_transfer\"", "\"state\":\"succeeded\"", NULL), 1);
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"transfers\":1", "\"ended_by\":\"a\"", NULL),
                   1);
  for (guint i = 0; i < 2; i++) {
    g_free (m1[i]);
    g_free (m2[i]);
  }
  sf_test_b2b_free (x);
}

/* A REFER the policy refuses gets 403 naming it, and the call goes on:
 * b2bua.refer off (the default), and target_domain with a host we never call
 * (a caller must not make us call anywhere: toll fraud). */
static void
bridge_transfer_refused (void)
{
  const struct { const char *set, *target, *why; } rows[] = {
    { NULL, "sip:carol@127.0.0.1", "b2bua.refer is off" },
    { "b2bua.refer=target_domain", "sip:carol@192.0.2.7", "target_domain" },
    { "b2bua.refer=target_domain", "sip:carol@127.0.0.1;maddr=192.0.2.7", "target_domain" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++) {
    SfTestB2b *x = sf_test_b2b_new (rows[i].set, 0);
    g_autofree char *ok = NULL, *inv = NULL;
    call_up (x, &ok, &inv);
    g_autofree char *rt = g_strdup_printf ("Refer-To: <%s>\r\n", rows[i].target);
    b_in_dialog (x, inv, "REFER", 2, "z9hG4bK-bref", rt);
    g_autofree char *r = sf_test_recv (x->b, FALSE);
    CU_ASSERT_TRUE (r != NULL && g_str_has_prefix (r, "SIP/2.0 403") && strstr (r, rows[i].why) != NULL);
    CU_ASSERT_TRUE (sf_test_peer_quiet (x->b)); /* no NOTIFY */
    b_in_dialog (x, inv, "BYE", 3, "z9hG4bK-bbye3", "");
    g_autofree char *bok = sf_test_recv (x->b, FALSE);
    CU_ASSERT_TRUE (bok != NULL && g_str_has_prefix (bok, "SIP/2.0 200"));
    g_autofree char *abye = sf_test_recv (x->t->peer, FALSE);
    CU_ASSERT_TRUE_FATAL (abye != NULL && g_str_has_prefix (abye, "BYE "));
    sf_test_reply (x->t->peer, x->t->to, abye, 200, NULL, x->t->port, NULL);
    sf_test_b2b_settle (x);
    CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
    CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", "\"transfers\":0", NULL), 1);
    sf_test_b2b_free (x);
  }
}

/* A blind transfer whose transferor hangs up at once (RFC 5589 6 allows it):
 * A is kept for C.  C busy: A gets a BYE (the call cannot go on); C answers:
 * A gets C's SDP.  Either way B hears the outcome in a NOTIFY. */
static void
bridge_transfer_blind (void)
{
  const guint c_status[] = { 486, 200 };
  for (guint i = 0; i < G_N_ELEMENTS (c_status); i++) {
    SfTestB2b *x = sf_test_b2b_new ("b2bua.refer=any", SF_TEST_B2B_C);
    g_autofree char *ok = NULL, *inv = NULL;
    call_up (x, &ok, &inv);
    g_autofree char *rt = g_strdup_printf ("Refer-To: sip:carol@127.0.0.1:%u\r\n", x->cport);
    b_in_dialog (x, inv, "REFER", 2, "z9hG4bK-bref", rt);
    const char *const p1[] = { "SIP/2.0 202", "NOTIFY " };
    char *m1[2] = { NULL, NULL };
    recv_each (x->b, 2, p1, m1);
    CU_ASSERT_PTR_NOT_NULL (m1[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL (m1[1]);
    sf_test_reply (x->b, x->bto, m1[1], 200, NULL, x->bport, NULL);
    b_in_dialog (x, inv, "BYE", 3, "z9hG4bK-bbye3", "");
    g_autofree char *bok = sf_test_recv (x->b, FALSE);
    CU_ASSERT_TRUE (bok != NULL && g_str_has_prefix (bok, "SIP/2.0 200"));
    CU_ASSERT_TRUE (sf_test_peer_quiet (x->t->peer)); /* A waits for C */
    g_autofree char *cinv = sf_test_recv (x->c, FALSE);
    CU_ASSERT_TRUE_FATAL (cinv != NULL && g_str_has_prefix (cinv, "INVITE "));
    CU_ASSERT_PTR_NOT_NULL (strstr (cinv, "Referred-By: <sip:bob@127.0.0.1:")); /* none in the REFER: its From's URI */
    sf_test_reply (x->c, x->cto, cinv, c_status[i], "caroltag", x->cport, c_status[i] == 200 ? C_SDP : NULL);
    g_autofree char *cack = sf_test_recv (x->c, FALSE);
    CU_ASSERT_TRUE (cack != NULL && g_str_has_prefix (cack, "ACK "));
    g_autofree char *notify = sf_test_recv (x->b, FALSE);
    g_autofree char *frag = g_strdup_printf ("SIP/2.0 %u", c_status[i]);
    CU_ASSERT_TRUE (notify != NULL && g_str_has_prefix (notify, "NOTIFY ") && strstr (notify, frag) != NULL);
    if (notify != NULL)
      sf_test_reply (x->b, x->bto, notify, 200, NULL, x->bport, NULL);
    g_autofree char *am = sf_test_recv (x->t->peer, FALSE);
    if (c_status[i] == 486) {
      CU_ASSERT_TRUE_FATAL (am != NULL && g_str_has_prefix (am, "BYE "));
      sf_test_reply (x->t->peer, x->t->to, am, 200, NULL, x->t->port, NULL);
    } else {
      CU_ASSERT_TRUE_FATAL (am != NULL && g_str_has_prefix (am, "INVITE ") && strstr (am, "m=audio 44000") != NULL);
      sf_test_reply (x->t->peer, x->t->to, am, 200, NULL, x->t->port, A_SDP);
      g_autofree char *aack = sf_test_recv (x->t->peer, FALSE);
      CU_ASSERT_TRUE (aack != NULL && g_str_has_prefix (aack, "ACK "));
      a_in_dialog (x, ok, "BYE", 2, "z9hG4bK-abyeb");
      CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, NULL), 200);
      g_autofree char *cbye = sf_test_recv (x->c, FALSE);
      CU_ASSERT_TRUE_FATAL (cbye != NULL && g_str_has_prefix (cbye, "BYE "));
      sf_test_reply (x->c, x->cto, cbye, 200, NULL, x->cport, NULL);
    }
    sf_test_b2b_settle (x);
    CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
    CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_transfer\"",
                                    c_status[i] == 200 ? "\"state\":\"succeeded\"" : "\"state\":\"failed\"", NULL), 1);
    CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"bridge_end\"", c_status[i] == 200 ? "\"transfers\":1"
                                                                                               : "\"transfers\":0", NULL), 1);
    g_free (m1[0]);
    g_free (m1[1]);
    sf_test_b2b_free (x);
  }
}

/* A REFER of a leg makes a notifier (the implicit subscription), as a UA's
 * does: the subscription limits count it too (RFC 6665 4.2.1; the UA's
 * OpRefer: 503 past ua.max_subscriptions, 403 past the per-peer one).  B
 * refers again each time the referred call fails (C busy) and never answers
 * a NOTIFY: past the limit its REFER is refused, no notifier more. */
static void
bridge_transfer_notifier_limit (void)
{
  SfTestB2b *x = sf_test_b2b_new ("b2bua.refer=any", SF_TEST_B2B_C);
  g_assert (sf_config_set (x->t->env->cfg, "ua.max_subscriptions=2", NULL));
  g_autofree char *ok = NULL, *inv = NULL;
  call_up (x, &ok, &inv);
  g_autofree char *rt = g_strdup_printf ("Refer-To: <sip:carol@127.0.0.1:%u>\r\n", x->cport);
  for (guint i = 0; i < 2; i++) {
    g_autofree char *branch = g_strdup_printf ("z9hG4bK-bref%u", i);
    b_in_dialog (x, inv, "REFER", 2 + i, branch, rt);
    gboolean accepted = FALSE; /* the 202; the NOTIFYs are never answered */
    for (char *m; !accepted && (m = sf_test_recv (x->b, FALSE)) != NULL; g_free (m))
      accepted = g_str_has_prefix (m, "SIP/2.0 202");
    CU_ASSERT_TRUE (accepted);
    g_autofree char *cinv = sf_test_recv (x->c, FALSE);
    CU_ASSERT_TRUE_FATAL (cinv != NULL && g_str_has_prefix (cinv, "INVITE "));
    sf_test_reply (x->c, x->cto, cinv, 486, "caroltag", x->cport, NULL);
    g_autofree char *cack = sf_test_recv (x->c, FALSE);
    CU_ASSERT_TRUE (cack != NULL && g_str_has_prefix (cack, "ACK "));
    while (!sf_test_peer_quiet (x->b))
      g_free (sf_test_recv (x->b, FALSE));
  }
  b_in_dialog (x, inv, "REFER", 4, "z9hG4bK-bref2", rt);
  g_autofree char *r = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE (r != NULL && g_str_has_prefix (r, "SIP/2.0 503"));
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->c)); /* no third referred call */
  b_in_dialog (x, inv, "BYE", 5, "z9hG4bK-bbye5", "");
  const char *const p2[] = { "SIP/2.0 200" };
  char *m2[1] = { NULL };
  recv_each (x->b, 1, p2, m2);
  g_free (m2[0]);
  g_autofree char *abye = sf_test_recv (x->t->peer, FALSE);
  CU_ASSERT_TRUE_FATAL (abye != NULL && g_str_has_prefix (abye, "BYE "));
  sf_test_reply (x->t->peer, x->t->to, abye, 200, NULL, x->t->port, NULL);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}

/* The relay's rule that the source an SDP names exactly latches at once (a
 * transfer's new party over the old party's last packets) must not give
 * that address a standing right: a party behind NAT names its private
 * address, talks from its public one, and a stranger who can send from the
 * private address and port (a host that has it on our side of the NAT, a
 * spoofer) would take the stream in the middle of the call, the caller's
 * own packets then dropped by the guard.  Past the first relatch_ms after
 * the SDP came, the named source waits for the guard as any other. */
static void
bridge_latch_named_window (void)
{
  const gint64 ms = 1000;
  SfRelayLatchState st;
  sf_media_relay_latch_reset (&st, SF_RELAY_LATCH_ANY, 1000, "192.168.1.100");
  st.sdp_port = 4000;
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.5", 61000, 0), SF_RELAY_LATCH);
  for (gint64 t = 20; t <= 5000; t += 20)
    sf_media_relay_latch_check (&st, "203.0.113.5", 61000, t * ms);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "192.168.1.100", 4000, 5010 * ms), SF_RELAY_DROP);
  CU_ASSERT_STRING_EQUAL (st.addr, "203.0.113.5");
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.5", 61000, 5020 * ms), SF_RELAY_TAKE);
  /* right after the SDP (the transfer's case) the named source still wins */
  sf_media_relay_latch_reset (&st, SF_RELAY_LATCH_ANY, 1000, "192.0.2.1");
  st.sdp_port = 40000;
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 5000, 9000 * ms), SF_RELAY_LATCH);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "192.0.2.1", 40000, 9300 * ms), SF_RELAY_LATCH);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 5000, 9310 * ms), SF_RELAY_DROP);
}

/* A (the caller, hidden from the B side: bridge_hides) refers B's side to C
 * with a REFER without Referred-By: C's INVITE names nothing of A's (no
 * Referred-By made from A's From); the call goes on when C is busy. */
/* A's REFER (CSeq 2, Refer-Sub: false) to C in the call of @ok. */
static void
a_refer (SfTestB2b *x, const char *ok)
{
  g_autofree char *to = sf_test_header (ok, "To");
  g_autofree char *contact = sf_test_header (ok, "Contact");
  g_autofree char *ruri = g_strndup (contact + 1, strcspn (contact + 1, ">"));
  g_autofree char *refer = g_strdup_printf (
    "REFER %s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bK-aref\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=alicetag\r\nTo: %s\r\nCall-ID: a-call@127.0.0.1\r\nCSeq: 2 REFER\r\n"
    "Contact: <sip:alice@127.0.0.1:%u>\r\nRefer-To: <sip:carol@127.0.0.1:%u>\r\nRefer-Sub: false\r\n"
    "Content-Length: 0\r\n\r\n", ruri, x->t->port, to, x->t->port, x->cport);
  sf_test_send (x->t->peer, x->t->to, refer);
}

/* The caller's REFER with b2bua.refer_from at its default (b): 403 naming
 * it, even with b2bua.refer=any (the caller is nobody we chose), and the
 * call goes on. */
static void
bridge_transfer_a_refused (void)
{
  SfTestB2b *x = sf_test_b2b_new ("b2bua.refer=any", SF_TEST_B2B_C);
  g_autofree char *ok = NULL, *inv = NULL;
  call_up (x, &ok, &inv);
  a_refer (x, ok);
  g_autofree char *r = sf_test_recv (x->t->peer, FALSE);
  CU_ASSERT_TRUE (r != NULL && g_str_has_prefix (r, "SIP/2.0 403") && strstr (r, "refer_from") != NULL);
  CU_ASSERT_TRUE (sf_test_peer_quiet (x->c));
  a_in_dialog (x, ok, "BYE", 3, "z9hG4bK-abyer");
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, NULL), 200);
  g_autofree char *bye = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  b_respond (x, bye, 200);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}

static void
bridge_transfer_a_hidden (void)
{
  SfTestB2b *x = sf_test_b2b_new ("b2bua.refer=any b2bua.refer_from=any", SF_TEST_B2B_C);
  g_autofree char *ok = NULL, *inv = NULL;
  call_up (x, &ok, &inv);
  a_refer (x, ok);
  g_autofree char *r = sf_test_recv (x->t->peer, FALSE);
  CU_ASSERT_TRUE (r != NULL && g_str_has_prefix (r, "SIP/2.0 202"));
  g_autofree char *cinv = sf_test_recv (x->c, FALSE);
  CU_ASSERT_TRUE_FATAL (cinv != NULL && g_str_has_prefix (cinv, "INVITE sip:carol@"));
  CU_ASSERT_PTR_NULL (strstr (cinv, "alice"));
  sf_test_reply (x->c, x->cto, cinv, 486, "caroltag", x->cport, NULL);
  g_autofree char *cack = sf_test_recv (x->c, FALSE);
  CU_ASSERT_TRUE (cack != NULL && g_str_has_prefix (cack, "ACK "));
  a_in_dialog (x, ok, "BYE", 3, "z9hG4bK-abyeh");
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, NULL), 200);
  g_autofree char *bye = sf_test_recv (x->b, FALSE);
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  b_respond (x, bye, 200);
  sf_test_b2b_settle (x);
  CU_ASSERT_EQUAL (sf_endpoint_n_instances (x->t->env->ep), 0);
  sf_test_b2b_free (x);
}

/* A held call: the B leg relays A's re-INVITE to B (CSeq n in the leg's
 * dialog, waiting for B's answer).  B sends its own offer-less re-INVITE with
 * the same CSeq number n (its own CSeq space, 12.2.1.1): the leg answers it 200
 * and the INVITE server transaction enters Accepted, where the 200 fails at the
 * turn's end (a Via that cannot be reached) and the TU hears it (RFC 6026 7.1).
 * That failure is of a request B sent, not of the re-INVITE the leg relayed:
 * A hears nothing until B answers ours (a failure taken by method and CSeq
 * number gave A a 408). */
static void
bridge_relay_peer_reinvite_fails (void)
{
  SfTestB2b *x = sf_test_b2b_new (NULL, 0);
  g_autofree char *ok = NULL, *inv = NULL;
  g_autofree char *bre = relayed_reinvite (x, &ok, &inv);
  CU_ASSERT_TRUE_FATAL (bre != NULL);
  g_autofree char *cseq = sf_test_header (bre, "CSeq");
  guint n = (guint) g_ascii_strtoull (cseq, NULL, 10);
  SfSipTransport *tp = sf_stack_transport (x->t->stack);
  sf_sip_transport_set_udp_batch (tp, TRUE);
  sf_sip_transport_fail_sends (tp, EINVAL, 1);
  b_in_dialog (x, inv, "INVITE", n, "z9hG4bK-bcoll", "");
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 50; i++)
      g_main_context_iteration (NULL, FALSE);
    sf_sip_transport_flush (tp);
    sf_endpoint_drain (x->t->env->ep);
  }
  sf_sip_transport_set_udp_batch (tp, FALSE);
  /* the 200 to B's re-INVITE failed, in its transaction's name */
  CU_ASSERT_EQUAL (sf_test_count (x->t->env, "\"event\":\"send_failed\"", "\"transaction\"", NULL), 1);
  g_autofree char *aresp = NULL;
  CU_ASSERT_EQUAL (sf_test_recv_final (x->t->peer, &aresp), 0);
  sf_test_b2b_free (x);
}

void
sf_test_register_b2bua (void)
{
  CU_pSuite s = CU_add_suite ("b2bua", NULL, NULL);
  SF_ADD_TEST (s, test_move_key);
  SF_ADD_TEST (s, test_hand_over);
  SF_ADD_TEST (s, test_status_map);
  SF_ADD_TEST (s, bridge_hides);
  SF_ADD_TEST (s, bridge_max_forwards_zero);
  SF_ADD_TEST (s, bridge_status_map);
  SF_ADD_TEST (s, bridge_cancel_window);
  SF_ADD_TEST (s, bridge_up_a_hangs_up);
  SF_ADD_TEST (s, bridge_up_b_hangs_up);
  SF_ADD_TEST (s, bridge_reinvite);
  SF_ADD_TEST (s, bridge_relay_peer_reinvite_fails);
  SF_ADD_TEST (s, bridge_info);
  SF_ADD_TEST (s, bridge_failover);
  SF_ADD_TEST (s, bridge_reinvite_unanswered);
  SF_ADD_TEST (s, bridge_rtp_timeout);
  SF_ADD_TEST (s, bridge_loop_status);
  SF_ADD_TEST (s, bridge_max_calls);
  SF_ADD_TEST (s, bridge_options);
  SF_ADD_TEST (s, bridge_setup);
  SF_ADD_TEST (s, bridge_target_checks);
  SF_ADD_TEST (s, bridge_transfer);
  SF_ADD_TEST (s, bridge_transfer_refused);
  SF_ADD_TEST (s, bridge_transfer_blind);
  SF_ADD_TEST (s, bridge_transfer_notifier_limit);
  SF_ADD_TEST (s, bridge_latch_named_window);
  SF_ADD_TEST (s, bridge_transfer_a_hidden);
  SF_ADD_TEST (s, bridge_transfer_a_refused);
}
