/* test-ua-leg.c: xml/ua.xml instances as legs of a B2BUA bridge (leg mode,
 * operators/ua/sf-ua-leg.h), on the fake clock, a peer socket playing the
 * caller or the callee, and a parent instance standing in for the bridge that
 * records the child:* events its legs post.
 *  - a_leg: the A leg takes the caller's INVITE and sends nothing of its own
 *    (no 180, no SDP of ours); device:progress 183 with the bridge's SDP goes
 *    out as a 183 with that SDP; device:answer's SDP is the 200's; a
 *    re-INVITE's offer waits for the bridge (child:offer) and device:reanswer
 *    answers it; an INFO gets 200 and child:info; the caller's BYE: child:call_end
 *  - a_leg_reliable: a caller that requires 100rel gets the relayed 180
 *    reliably, without SDP of ours (RFC 3262 3)
 *  - b_leg: device:call's SfUaLegCall alone makes the INVITE: its target,
 *    From, Max-Forwards (RFC 7332), offer and the flow's header lines (a line
 *    with a line break left out); child:progress, child:answered (the 2xx's
 *    SDP), device:hangup's BYE and child:call_end
 *  - b_leg_fails: a 486 from the callee: child:call_end {486}
 *  - a plain UA's INFO: not taken (405 as before) */
#include "config.h"
#include "sf-test.h"
#include "operators/ua/sf-ua-leg.h"
#include "states/sf-instance.h"
#include "states/sf-machine.h"
#include "states/sf-ctx.h"
#include <string.h>

/* ---- the bridge's stand-in: records every child:* event and its note ---- */

typedef struct {
  char *what;
  guint status;
  char *method, *ctype, *body, *reason;
} Rec;

static GPtrArray *recs; /* Rec* */

static void
rec_free (gpointer p)
{
  Rec *r = p;
  g_free (r->what);
  g_free (r->method);
  g_free (r->ctype);
  g_free (r->body);
  g_free (r->reason);
  g_free (r);
}

static SfOpResult
t_leg_record (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (sf_event_kind (ev) != SF_EV_CHILD || strcmp (sf_event_name (ev), "end") == 0)
    return SF_OP_DONE;
  SfUaLegNote *n = sf_event_payload (ev);
  Rec *r = g_new0 (Rec, 1);
  r->what = g_strdup (sf_event_name (ev));
  if (n != NULL) {
    r->status = n->status;
    r->method = g_strdup (n->method);
    r->ctype = g_strdup (n->ctype);
    r->body = g_strdup (n->body);
    r->reason = g_strdup (n->reason);
  }
  g_ptr_array_add (recs, r);
  return SF_OP_DONE;
}

static const SfOperatorDef leg_test_ops[] = {
  { "TLegRecord", t_leg_record, SF_Q_NORMAL, SF_EV_CHILD, 0, NULL, SF_ARG_NONE, NULL, NULL, "test", NULL, NULL, NULL },
};

/* The first record of child:@what (NULL when none). */
static Rec *
rec (const char *what)
{
  for (guint i = 0; recs != NULL && i < recs->len; i++)
    if (strcmp (((Rec *) recs->pdata[i])->what, what) == 0)
      return recs->pdata[i];
  return NULL;
}

static const char bridge_xml[] =
  "<flow version=\"2\" name=\"bridge\" scope=\"task\" initial=\"Up\">\n"
  "  <import name=\"leg\" src=\"" SF_SRCDIR "/xml/ua.xml\"/>\n"
  "  <state name=\"Up\"><normal><op name=\"TLegRecord\" on=\"child\"/></normal></state>\n"
  "</flow>\n";

typedef struct {
  SfTestStack *t;
  SfInstance *bridge;
  SfMachine *bm;   /* owned: the bridge's stand-in */
  SfMachine *legm; /* its import of ua.xml */
} Lt;

static Lt *
lt_new (const char *const *settings)
{
  if (recs == NULL)
    recs = g_ptr_array_new_with_free_func (rec_free);
  g_ptr_array_set_size (recs, 0);
  SfTestEnv *env = sf_test_env_new ();
  g_autoptr (GError) error = NULL;
  g_assert (sf_registry_add (env->reg, NULL, leg_test_ops, G_N_ELEMENTS (leg_test_ops), &error));
  g_assert (sf_config_set (env->cfg, "media.backend=null", NULL));
  for (guint i = 0; settings != NULL && settings[i] != NULL; i++)
    g_assert (sf_config_set (env->cfg, settings[i], NULL));
  sf_endpoint_attach (env->ep, NULL);
  SfMachine *tu = sf_loader_load (env->loader, SF_SRCDIR "/xml/ua.xml", NULL);
  g_assert (tu != NULL);
  SfMachine *bm = sf_test_load (env, "bridge.xml", bridge_xml);
  g_assert (bm != NULL);
  Lt *l = g_new0 (Lt, 1);
  l->t = sf_test_stack_new (env, tu);
  l->bm = bm;
  l->legm = sf_machine_lookup_import (bm, "leg");
  g_assert (l->legm != NULL);
  l->bridge = sf_endpoint_create (env->ep, bm, "b1", NULL, &error);
  g_assert (l->bridge != NULL);
  return l;
}

static void
lt_free (Lt *l)
{
  sf_test_stack_free (l->t, NULL);
  sf_machine_unref (l->bm);
  g_free (l);
  g_ptr_array_set_size (recs, 0);
}

/* A leg of the bridge: keyed by @key (the A leg: the caller's call key, where
 * the stack finds it as the engine's hand-over would), or none (the B leg). */
static SfInstance *
lt_leg (Lt *l, const char *key, gboolean a_side)
{
  g_autoptr (GError) error = NULL;
  SfInstance *leg = sf_endpoint_create (l->t->env->ep, l->legm, key, l->bridge, &error);
  g_assert (leg != NULL);
  sf_ua_leg_attach (l->t->env->ep, leg, sf_instance_handle (l->bridge), a_side);
  return leg;
}

/* Whether the instance @handle ended (it may be freed already: looked up by handle). */
static gboolean
lt_gone (Lt *l, const char *handle)
{
  SfInstance *i = sf_endpoint_lookup_handle (l->t->env->ep, handle);
  return i == NULL || sf_instance_ended (i);
}

static void
lt_send (Lt *l, const char *text)
{
  g_autofree char *port = g_strdup_printf ("%u", l->t->port);
  g_auto (GStrv) parts = g_strsplit (text, "%PORT%", -1);
  g_autofree char *out = g_strjoinv (port, parts);
  g_socket_send_to (l->t->peer, G_SOCKET_ADDRESS (l->t->to), out, strlen (out), NULL, NULL);
}

/* The next datagram that is not a 100 Trying (transfer full; NULL when none). */
static char *
lt_recv (Lt *l)
{
  for (;;) {
    if (!sf_test_peer_wait (l->t->peer))
      return NULL;
    char buf[8192];
    gssize n = g_socket_receive (l->t->peer, buf, sizeof buf - 1, NULL, NULL);
    if (n <= 0)
      return NULL;
    if (!g_str_has_prefix (buf, "SIP/2.0 100 "))
      return g_strndup (buf, (gsize) n);
  }
}

static void
lt_post (Lt *l, SfInstance *leg, const char *name, gpointer payload, GDestroyNotify free_fn)
{
  sf_endpoint_post (l->t->env->ep, leg, sf_event_new_full (SF_EV_DEVICE, name, NULL, payload, free_fn));
  sf_endpoint_advance (l->t->env->ep, 0);
}

static char *
hdr (const char *m, const char *name)
{
  g_autofree char *needle = g_strdup_printf ("\r\n%s: ", name);
  const char *p = m != NULL ? strstr (m, needle) : NULL;
  return p != NULL ? g_strndup (p + strlen (needle), strcspn (p + strlen (needle), "\r\n")) : NULL;
}

static const char *
body_of (const char *m)
{
  const char *p = m != NULL ? strstr (m, "\r\n\r\n") : NULL;
  return p != NULL ? p + 4 : "";
}

#define A_OFFER                                                                                            \
  "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n" \
  "a=rtpmap:0 PCMU/8000\r\n"
#define B_ANSWER                                                                                           \
  "v=0\r\no=bridge 7 7 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n" \
  "a=rtpmap:0 PCMU/8000\r\n"
#define A_REOFFER                                                                                          \
  "v=0\r\no=alice 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n" \
  "a=sendonly\r\n"
#define B_REANSWER                                                                                         \
  "v=0\r\no=bridge 7 8 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n" \
  "a=recvonly\r\n"

static SfUaLegNote *
note (guint status, const char *body)
{
  return sf_ua_leg_note_new (status, body != NULL ? "application/sdp" : NULL, body);
}

/* The caller's INVITE (@extra: further header lines, each ending CRLF). */
static void
a_invite (Lt *l, const char *extra)
{
  g_autofree char *inv = g_strdup_printf (
    "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKla1\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=al1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: leg-a@127.0.0.1\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:%%PORT%%>\r\n%sContent-Type: application/sdp\r\n"
    "Content-Length: %zu\r\n\r\n%s", extra, strlen (A_OFFER), A_OFFER);
  lt_send (l, inv);
}

static void
a_leg (void)
{
  const char *const set[] = { "ua.auto_answer=0", NULL }; /* a leg answers only when the bridge says */
  Lt *l = lt_new (set);
  g_autofree char *key = sf_stack_call_key ("leg-a@127.0.0.1", "al1");
  SfInstance *a = lt_leg (l, key, TRUE);
  g_autofree char *ah = g_strdup (sf_instance_handle (a));
  a_invite (l, "");
  /* no 180, no 200 of its own: the leg waits for the bridge */
  CU_ASSERT_TRUE (sf_test_peer_quiet (l->t->peer));
  sf_endpoint_advance (l->t->env->ep, 0);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (a), "Ringing");
  /* the callee's 183 with SDP, relayed */
  lt_post (l, a, SF_UA_LEG_DOWN_PROGRESS, note (183, B_ANSWER), (GDestroyNotify) sf_ua_leg_note_free);
  g_autofree char *p = lt_recv (l);
  CU_ASSERT_TRUE_FATAL (p != NULL && g_str_has_prefix (p, "SIP/2.0 183"));
  CU_ASSERT_STRING_EQUAL (body_of (p), B_ANSWER);
  g_autofree char *req = hdr (p, "Require");
  CU_ASSERT_PTR_NULL (req); /* the caller did not ask for 100rel */
  /* the answer */
  lt_post (l, a, SF_UA_LEG_DOWN_ANSWER, note (200, B_ANSWER), (GDestroyNotify) sf_ua_leg_note_free);
  g_autofree char *ok = lt_recv (l);
  CU_ASSERT_TRUE_FATAL (ok != NULL && g_str_has_prefix (ok, "SIP/2.0 200"));
  CU_ASSERT_STRING_EQUAL (body_of (ok), B_ANSWER);
  g_autofree char *to = hdr (ok, "To");
  const char *tg = strstr (to, ";tag=");
  CU_ASSERT_PTR_NOT_NULL_FATAL (tg);
  g_autofree char *tag = g_strndup (tg + 5, strcspn (tg + 5, ";>"));
  g_autofree char *ack = g_strdup_printf (
    "ACK sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKlaack\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=al1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: leg-a@127.0.0.1\r\n"
    "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", tag);
  lt_send (l, ack);
  CU_ASSERT_TRUE (sf_test_peer_quiet (l->t->peer));
  CU_ASSERT_STRING_EQUAL (sf_instance_state (a), "InCall");
  /* a re-INVITE (hold): the offer goes to the bridge, unanswered meanwhile */
  g_autofree char *re = g_strdup_printf (
    "INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKla2\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=al1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: leg-a@127.0.0.1\r\n"
    "CSeq: 2 INVITE\r\nContact: <sip:alice@127.0.0.1:%%PORT%%>\r\nContent-Type: application/sdp\r\n"
    "Content-Length: %zu\r\n\r\n%s", tag, strlen (A_REOFFER), A_REOFFER);
  lt_send (l, re);
  CU_ASSERT_TRUE (sf_test_peer_quiet (l->t->peer));
  sf_endpoint_advance (l->t->env->ep, 0);
  Rec *o = rec (SF_UA_LEG_UP_OFFER);
  CU_ASSERT_PTR_NOT_NULL_FATAL (o);
  CU_ASSERT_STRING_EQUAL (o->method, "INVITE");
  CU_ASSERT_STRING_EQUAL (o->body, A_REOFFER);
  CU_ASSERT_STRING_EQUAL (o->ctype, "application/sdp");
  lt_post (l, a, SF_UA_LEG_DOWN_REANSWER, note (200, B_REANSWER), (GDestroyNotify) sf_ua_leg_note_free);
  g_autofree char *ok2 = lt_recv (l);
  CU_ASSERT_TRUE_FATAL (ok2 != NULL && g_str_has_prefix (ok2, "SIP/2.0 200"));
  CU_ASSERT_STRING_EQUAL (body_of (ok2), B_REANSWER);
  g_autofree char *cs2 = hdr (ok2, "CSeq");
  CU_ASSERT_STRING_EQUAL (cs2, "2 INVITE");
  g_autofree char *ack2 = g_strdup_printf (
    "ACK sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKlaack2\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=al1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: leg-a@127.0.0.1\r\n"
    "CSeq: 2 ACK\r\nContent-Length: 0\r\n\r\n", tag);
  lt_send (l, ack2);
  CU_ASSERT_TRUE (sf_test_peer_quiet (l->t->peer)); /* the 2xx is not sent again */
  /* INFO: 200, child:info */
  g_autofree char *info = g_strdup_printf (
    "INFO sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKla3\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=al1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: leg-a@127.0.0.1\r\n"
    "CSeq: 3 INFO\r\nContent-Type: application/dtmf-relay\r\nContent-Length: 24\r\n\r\nSignal=5\r\nDuration=160\r\n",
    tag);
  lt_send (l, info);
  g_autofree char *iok = lt_recv (l);
  CU_ASSERT_TRUE (iok != NULL && g_str_has_prefix (iok, "SIP/2.0 200"));
  sf_endpoint_advance (l->t->env->ep, 0);
  Rec *in = rec (SF_UA_LEG_UP_INFO);
  CU_ASSERT_PTR_NOT_NULL_FATAL (in);
  CU_ASSERT_STRING_EQUAL (in->ctype, "application/dtmf-relay");
  CU_ASSERT_STRING_EQUAL (in->body, "Signal=5\r\nDuration=160\r\n");
  CU_ASSERT_PTR_NULL (rec (SF_UA_LEG_UP_CALL_END));
  /* the caller hangs up */
  g_autofree char *bye = g_strdup_printf (
    "BYE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%%PORT%%;branch=z9hG4bKla4\r\nMax-Forwards: 70\r\n"
    "From: <sip:alice@127.0.0.1>;tag=al1\r\nTo: <sip:bob@127.0.0.1>;tag=%s\r\nCall-ID: leg-a@127.0.0.1\r\n"
    "CSeq: 4 BYE\r\nContent-Length: 0\r\n\r\n", tag);
  lt_send (l, bye);
  g_autofree char *bok = lt_recv (l);
  CU_ASSERT_TRUE (bok != NULL && g_str_has_prefix (bok, "SIP/2.0 200"));
  sf_endpoint_advance (l->t->env->ep, 0);
  Rec *e = rec (SF_UA_LEG_UP_CALL_END);
  CU_ASSERT_PTR_NOT_NULL_FATAL (e);
  CU_ASSERT_EQUAL (e->status, 200);
  CU_ASSERT_PTR_NOT_NULL (e->reason);
  CU_ASSERT_TRUE (lt_gone (l, ah));
  lt_free (l);
}

static void
a_leg_reliable (void)
{
  Lt *l = lt_new (NULL);
  g_autofree char *key = sf_stack_call_key ("leg-a@127.0.0.1", "al1");
  SfInstance *a = lt_leg (l, key, TRUE);
  a_invite (l, "Require: 100rel\r\n");
  CU_ASSERT_TRUE (sf_test_peer_quiet (l->t->peer));
  lt_post (l, a, SF_UA_LEG_DOWN_PROGRESS, note (180, NULL), (GDestroyNotify) sf_ua_leg_note_free);
  g_autofree char *p = lt_recv (l);
  CU_ASSERT_TRUE_FATAL (p != NULL && g_str_has_prefix (p, "SIP/2.0 180"));
  g_autofree char *req = hdr (p, "Require"), *rseq = hdr (p, "RSeq");
  CU_ASSERT_STRING_EQUAL (req, "100rel");
  CU_ASSERT_PTR_NOT_NULL (rseq);
  CU_ASSERT_STRING_EQUAL (body_of (p), ""); /* no SDP of ours */
  /* the bridge gives up (the callee failed): the mapped status */
  lt_post (l, a, SF_UA_LEG_DOWN_REJECT, note (480, NULL), (GDestroyNotify) sf_ua_leg_note_free);
  g_autofree char *f = NULL;
  do {
    g_free (f);
    f = lt_recv (l); /* the 180 again until then (RFC 3262 3) */
  } while (f != NULL && g_str_has_prefix (f, "SIP/2.0 180"));
  CU_ASSERT_TRUE (f != NULL && g_str_has_prefix (f, "SIP/2.0 480"));
  sf_endpoint_advance (l->t->env->ep, 0);
  Rec *e = rec (SF_UA_LEG_UP_CALL_END);
  CU_ASSERT_PTR_NOT_NULL_FATAL (e);
  CU_ASSERT_EQUAL (e->status, 480);
  lt_free (l);
}

/* The B leg calls the peer; the INVITE it got (transfer full). */
static char *
b_call (Lt *l, SfInstance **b_out)
{
  SfInstance *b = lt_leg (l, NULL, FALSE);
  SfUaLegCall *c = g_new0 (SfUaLegCall, 1);
  c->target = g_strdup_printf ("sip:carol@127.0.0.1:%u", l->t->port);
  c->from = g_strdup ("<sip:alice@example.com>");
  c->max_forwards = 42;
  c->offer.ctype = g_strdup ("application/sdp");
  c->offer.body = g_strdup (A_OFFER);
  c->offer.lines = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (c->offer.lines, g_strdup ("X-Flow: chosen"));
  g_ptr_array_add (c->offer.lines, g_strdup ("X-Bad: a\r\nVia: injected"));
  lt_post (l, b, SF_UA_LEG_DOWN_CALL, c, (GDestroyNotify) sf_ua_leg_call_free);
  *b_out = b;
  return lt_recv (l);
}

/* A response to @req with @status_line, our tag, and an optional SDP body. */
static void
b_reply (Lt *l, const char *req, const char *status_line, const char *sdp)
{
  g_autofree char *via = hdr (req, "Via"), *from = hdr (req, "From"), *to = hdr (req, "To");
  g_autofree char *cid = hdr (req, "Call-ID"), *cseq = hdr (req, "CSeq");
  g_autofree char *r = g_strdup_printf (
    "SIP/2.0 %s\r\nVia: %s\r\nFrom: %s\r\nTo: %s;tag=ca1\r\nCall-ID: %s\r\nCSeq: %s\r\n"
    "Contact: <sip:carol@127.0.0.1:%%PORT%%>\r\n%sContent-Length: %zu\r\n\r\n%s",
    status_line, via, from, to, cid, cseq, sdp != NULL ? "Content-Type: application/sdp\r\n" : "",
    sdp != NULL ? strlen (sdp) : 0, sdp != NULL ? sdp : "");
  lt_send (l, r);
}

static void
b_leg (void)
{
  Lt *l = lt_new (NULL);
  SfInstance *b = NULL;
  g_autofree char *inv = b_call (l, &b);
  g_autofree char *bh = g_strdup (sf_instance_handle (b));
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE sip:carol@127.0.0.1:"));
  g_autofree char *mf = hdr (inv, "Max-Forwards"), *from = hdr (inv, "From"), *xf = hdr (inv, "X-Flow");
  g_autofree char *xb = hdr (inv, "X-Bad"), *cid = hdr (inv, "Call-ID");
  CU_ASSERT_STRING_EQUAL (mf, "42");
  CU_ASSERT_TRUE (g_str_has_prefix (from, "<sip:alice@example.com>;tag="));
  CU_ASSERT_STRING_EQUAL (xf, "chosen");
  CU_ASSERT_PTR_NULL (xb); /* a line with a line break: never sent */
  CU_ASSERT_PTR_NULL (strstr (inv, "injected"));
  CU_ASSERT_STRING_EQUAL (body_of (inv), A_OFFER);
  CU_ASSERT_PTR_NULL (strstr (cid, "leg-a")); /* a Call-ID of its own */
  /* ringing, then the answer */
  b_reply (l, inv, "180 Ringing", NULL);
  CU_ASSERT_TRUE (sf_test_peer_quiet (l->t->peer));
  sf_endpoint_advance (l->t->env->ep, 0);
  Rec *p = rec (SF_UA_LEG_UP_PROGRESS);
  CU_ASSERT_PTR_NOT_NULL_FATAL (p);
  CU_ASSERT_EQUAL (p->status, 180);
  CU_ASSERT_PTR_NULL (p->body);
  b_reply (l, inv, "200 OK", B_ANSWER);
  g_autofree char *ack = lt_recv (l);
  CU_ASSERT_TRUE (ack != NULL && g_str_has_prefix (ack, "ACK "));
  sf_endpoint_advance (l->t->env->ep, 0);
  Rec *an = rec (SF_UA_LEG_UP_ANSWERED);
  CU_ASSERT_PTR_NOT_NULL_FATAL (an);
  CU_ASSERT_EQUAL (an->status, 200);
  CU_ASSERT_STRING_EQUAL (an->body, B_ANSWER);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (b), "InCall");
  /* the bridge relays the other side's offer: a re-INVITE with it */
  SfUaLegNote *ro = note (0, A_REOFFER);
  lt_post (l, b, SF_UA_LEG_DOWN_REOFFER, ro, (GDestroyNotify) sf_ua_leg_note_free);
  g_autofree char *re = lt_recv (l);
  CU_ASSERT_TRUE_FATAL (re != NULL && g_str_has_prefix (re, "INVITE "));
  CU_ASSERT_STRING_EQUAL (body_of (re), A_REOFFER);
  b_reply (l, re, "200 OK", B_REANSWER);
  g_autofree char *ack2 = lt_recv (l);
  CU_ASSERT_TRUE (ack2 != NULL && g_str_has_prefix (ack2, "ACK "));
  g_autofree char *acs = hdr (ack2, "CSeq"), *rcs = hdr (re, "CSeq");
  CU_ASSERT_EQUAL (atoi (acs), atoi (rcs));
  sf_endpoint_advance (l->t->env->ep, 0);
  Rec *oa = rec (SF_UA_LEG_UP_OFFER_ANSWERED);
  CU_ASSERT_PTR_NOT_NULL_FATAL (oa);
  CU_ASSERT_EQUAL (oa->status, 200);
  CU_ASSERT_STRING_EQUAL (oa->body, B_REANSWER);
  CU_ASSERT_STRING_EQUAL (sf_instance_state (b), "InCall");
  /* the bridge hangs up */
  lt_post (l, b, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  g_autofree char *bye = lt_recv (l);
  CU_ASSERT_TRUE_FATAL (bye != NULL && g_str_has_prefix (bye, "BYE "));
  b_reply (l, bye, "200 OK", NULL);
  CU_ASSERT_TRUE (sf_test_peer_quiet (l->t->peer));
  sf_endpoint_advance (l->t->env->ep, 0);
  Rec *e = rec (SF_UA_LEG_UP_CALL_END);
  CU_ASSERT_PTR_NOT_NULL_FATAL (e);
  CU_ASSERT_EQUAL (e->status, 200);
  CU_ASSERT_TRUE (lt_gone (l, bh));
  lt_free (l);
}

static void
b_leg_fails (void)
{
  Lt *l = lt_new (NULL);
  SfInstance *b = NULL;
  g_autofree char *inv = b_call (l, &b);
  g_autofree char *bh = g_strdup (sf_instance_handle (b));
  CU_ASSERT_TRUE_FATAL (inv != NULL && g_str_has_prefix (inv, "INVITE "));
  b_reply (l, inv, "486 Busy Here", NULL);
  g_autofree char *ack = lt_recv (l); /* the transaction's ACK (17.1.1.3) */
  CU_ASSERT_TRUE (ack != NULL && g_str_has_prefix (ack, "ACK "));
  sf_endpoint_advance (l->t->env->ep, 0);
  CU_ASSERT_PTR_NULL (rec (SF_UA_LEG_UP_ANSWERED));
  Rec *e = rec (SF_UA_LEG_UP_CALL_END);
  CU_ASSERT_PTR_NOT_NULL_FATAL (e);
  CU_ASSERT_EQUAL (e->status, 486);
  CU_ASSERT_STRING_EQUAL (e->reason, "busy");
  CU_ASSERT_TRUE (lt_gone (l, bh));
  lt_free (l);
}

void
sf_test_register_ua_leg (void)
{
  CU_pSuite s = CU_add_suite ("ua-leg", NULL, NULL);
  CU_add_test (s, "A leg: relayed progress, answer, re-INVITE, INFO, BYE", a_leg);
  CU_add_test (s, "A leg: a reliable 180 without SDP, the bridge's reject", a_leg_reliable);
  CU_add_test (s, "B leg: the INVITE from SfUaLegCall only, answered, re-offered, hung up", b_leg);
  CU_add_test (s, "B leg: the callee busy", b_leg_fails);
}
