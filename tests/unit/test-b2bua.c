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
 *    the callee's own answers kept), configured rows first, bad rows refused */
#include "config.h"
#include "sf-test.h"
#include "operators/b2bua/sf-b2bua.h"
#include "states/sf-ctx.h"
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
  const char *const builtin[] = { "3xx=480", "401=403", "407=403", "408=408", "481=500", "483=500", "491=500",
                                  "503=500", NULL };
  CU_ASSERT_TRUE (sf_b2b_parse_map (builtin, st.status_map, NULL));
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 486), 600);
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 502), 480);  /* the class row */
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 503), 500);  /* an exact row wins over a class */
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 302), 480);
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 407), 403);
  CU_ASSERT_EQUAL (sf_b2b_map_status (&st, 483), 500);
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

void
sf_test_register_b2bua (void)
{
  CU_pSuite s = CU_add_suite ("b2bua", NULL, NULL);
  SF_ADD_TEST (s, test_move_key);
  SF_ADD_TEST (s, test_hand_over);
  SF_ADD_TEST (s, test_status_map);
}
