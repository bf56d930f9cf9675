/* sf-op-bridge.c: the B2BUA bridge's operators (xml/b2bua.xml, docs/b2bua.md).
 *
 * A bridge is an instance of scope "call" that owns two ua.xml legs as its
 * children: A takes the caller's INVITE (the bridge hands it the call's key and
 * the request: sf_ctx_hand_key, sf_stack_hand_over), B calls the target the
 * flow chose with an INVITE built from nothing of A's but what the bridge puts
 * in SfUaLegCall (RFC 3261 has a B2BUA act as a UAS on one side and a UAC on
 * the other, 6 "Back-to-Back User Agent": so B's INVITE is a new request, new
 * Call-ID, tags, Via, Contact).  Legs report with child:NAME events, the bridge
 * drives them with device:NAME events (operators/ua/sf-ua-leg.h).  Every
 * device event carries a note as payload: that is how sipflow run tells it
 * from a typed command (docs/engine.md). */
#include "config.h"
#include "sf-b2bua.h"
#include "framework/sf-flow.h"
#include "framework/sf-json.h"
#include "operators/transaction/sf-stack.h"
#include "operators/ua/sf-ua-call.h"
#include "operators/ua/sf-ua-leg.h"
#include "media/sf-media.h"
#include "sip/sf-sip-msg.h"
#include "sipflow/sf-message.h"
#include <string.h>

/* The header lines OpBridgeCall may carry for the flow: at most this many. */
#define SF_B2B_MAX_LINES 16

static void
call_free (gpointer p)
{
  SfB2bCall *c = p;
  if (c == NULL)
    return;
  if (c->counted && c->st != NULL && c->st->live > 0)
    c->st->live--;
  g_free (c->a);
  g_free (c->b);
  g_free (c->a_call_id);
  g_free (c->b_call_id);
  g_free (c->a_reason);
  g_free (c->b_reason);
  g_free (c->offer_ctype);
  g_free (c->offer);
  g_clear_pointer (&c->lines, g_ptr_array_unref);
  sf_sdp_bridge_side_clear (&c->to_a);
  sf_sdp_bridge_side_clear (&c->to_b);
  sf_media_relay_free (c->relay);
  g_free (c);
}

static gpointer
call_new (void)
{
  return g_new0 (SfB2bCall, 1);
}

SfB2bCall *
sf_b2b_call (SfCtx *ctx)
{
  SfB2bCall *c = sf_ctx_module_slot_ensure (ctx, &sf_b2bua_module, call_new, call_free);
  if (c != NULL && c->st == NULL)
    c->st = sf_module_state (sf_ctx_endpoint (ctx), &sf_b2bua_module);
  return c;
}

static SfSipEvent *
sip_request (SfEvent *ev)
{
  SfSipEvent *e = sf_event_kind (ev) == SF_EV_SIP ? sf_event_payload (ev) : NULL;
  return e != NULL && e->msg != NULL && sf_sip_msg_is_request (e->msg) ? e : NULL;
}

static char *
str_dup (SfSipStr s)
{
  return sf_sip_str_dup (s);
}

/* Which leg an up event comes from: 'a', 'b', or 0 (a leg replaced by
 * failover, or none of ours). */
static char
side_of (SfB2bCall *c, SfEvent *ev)
{
  const char *h = NULL;
  if (strcmp (sf_event_name (ev), "end") == 0) {
    const SfChildEnd *ce = sf_event_payload (ev);
    h = ce != NULL ? ce->handle : NULL;
  } else {
    h = sf_event_arg (ev);
  }
  if (h == NULL)
    return 0;
  if (c->a != NULL && strcmp (h, c->a) == 0)
    return 'a';
  if (c->b != NULL && strcmp (h, c->b) == 0)
    return 'b';
  return 0;
}

/* B's Call-ID, for the bridge's events: from the message a note of B's came
 * from (a response to B's INVITE), else from the leg's INVITE while the leg
 * lives (a leg that ended is gone by the time its last note is read). */
static void
learn_b_call_id (SfCtx *ctx, SfB2bCall *c, SfEvent *ev)
{
  if (c->b_call_id != NULL || c->b == NULL)
    return;
  const SfUaLegNote *n = ev != NULL && sf_event_kind (ev) == SF_EV_CHILD && strcmp (sf_event_name (ev), "end") != 0
                           ? sf_event_payload (ev) : NULL;
  if (n != NULL && n->msg != NULL) {
    c->b_call_id = str_dup (sf_sip_msg_call_id (n->msg));
    return;
  }
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfInstance *b = sf_endpoint_lookup_handle (ep, c->b);
  SfUaCall *call = b != NULL ? sf_ua_call_of (ep, b) : NULL;
  if (call != NULL && call->invite_out != NULL)
    c->b_call_id = str_dup (sf_sip_msg_call_id (call->invite_out));
}

/* Sends device:@name with @note (transfer full; NULL: an empty one) to leg
 * @handle; FALSE when it is gone. */
static gboolean
drive (SfCtx *ctx, const char *handle, const char *name, const char *arg, SfUaLegNote *note)
{
  if (note == NULL)
    note = sf_ua_leg_note_new (0, NULL, NULL);
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfInstance *leg = handle != NULL ? sf_endpoint_lookup_handle (ep, handle) : NULL;
  if (leg == NULL) {
    sf_ua_leg_note_free (note);
    return FALSE;
  }
  return sf_endpoint_post (ep, leg, sf_event_new_full (SF_EV_DEVICE, name, arg, note, (GDestroyNotify) sf_ua_leg_note_free));
}

static void
set_fields (SfCtx *ctx, SfB2bCall *c)
{
  GString *f = g_string_new ("\"call_id\":");
  sf_json_append_string (f, c->a_call_id != NULL ? c->a_call_id : "");
  if (c->b_call_id != NULL) {
    g_string_append (f, ",\"b_call_id\":");
    sf_json_append_string (f, c->b_call_id);
  }
  sf_endpoint_set_event_fields (sf_ctx_instance (ctx), g_string_free (f, FALSE));
}

static SfInstance *
spawn_leg (SfCtx *ctx, gboolean a_side)
{
  g_autoptr (GError) error = NULL;
  SfInstance *leg = sf_ctx_spawn (ctx, "leg", NULL, &error);
  if (leg == NULL) {
    g_warning ("%s: cannot make the %s leg: %s", sf_ctx_handle (ctx), a_side ? "A" : "B", error->message);
    return NULL;
  }
  sf_ua_leg_attach (sf_ctx_endpoint (ctx), leg, sf_ctx_handle (ctx), a_side);
  return leg;
}

/* ---- OpBridgeAccept ---- */

static const char *const accept_outcomes[] = { "refused", "alone", NULL };

/* The caller's request: b2bua.max_calls bounds the bridges (503 with
 * Retry-After past it, RFC 3261 21.5.4); the A leg is made, given the call's
 * key (later requests of the call go straight to it) and the request.  An
 * INVITE: CONTINUE (OpBridgeCall comes next); another request outside a
 * dialog (OPTIONS, MESSAGE): outcome alone, the leg answers it and ends. */
static SfOpResult
sf_op_bridge_accept (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = sip_request (ev);
  if (e == NULL)
    return SF_OP_SKIP;
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || c->st == NULL || c->a != NULL)
    return SF_OP_SKIP;
  gboolean invite = strcmp (sf_event_name (ev), "INVITE") == 0;
  c->invite = invite;
  c->a_call_id = str_dup (sf_sip_msg_call_id (e->msg));
  c->start_us = sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx)));
  set_fields (ctx, c);
  if (invite && c->st->max_calls > 0 && c->st->live >= c->st->max_calls) {
    const char *const lines[] = { "Retry-After: 5", NULL };
    c->a_status = 503;
    c->ended_by = "bridge";
    if (!sf_message_reply (ctx, sf_message_from_event (ev), 503, "Too Many Calls", lines, NULL))
      return SF_OP_ERROR;
    return SF_OP_OUTCOME (0);
  }
  SfInstance *a = spawn_leg (ctx, TRUE);
  if (a == NULL) {
    sf_message_reply (ctx, sf_message_from_event (ev), 500, "Cannot Bridge", NULL, NULL);
    c->a_status = 500;
    c->ended_by = "bridge";
    return SF_OP_OUTCOME (0);
  }
  c->a = g_strdup (sf_instance_handle (a));
  if (invite) {
    c->counted = TRUE;
    c->st->live++;
  }
  /* The key first: what the stack reads after this event goes to A. */
  sf_ctx_hand_key (ctx, a);
  if (!sf_stack_hand_over (ctx, ev, a))
    return SF_OP_ERROR;
  return invite ? SF_OP_CONTINUE : SF_OP_OUTCOME (1);
}

/* ---- OpBridgeCall ---- */

/* The request came from this host: a loopback source, or our own address. */
static gboolean
same_host (const SfSipPeer *p)
{
  GInetAddress *r = p->remote != NULL ? g_inet_socket_address_get_address (p->remote) : NULL;
  GInetAddress *l = p->local != NULL ? g_inet_socket_address_get_address (p->local) : NULL;
  return r != NULL && (g_inet_address_get_is_loopback (r) || (l != NULL && g_inet_address_equal (r, l)));
}

/* "TARGET [| Name: value]...": the host of TARGET comes from the flow or the
 * configuration (a literal, or ${cfg...}), never from the request: a B2BUA
 * whose callee a caller chooses is an open relay (docs/security.md). */
typedef struct {
  char *target;
  GPtrArray *lines;  /* char* templates */
} CallArg;

static void
call_arg_free (gpointer p)
{
  CallArg *a = p;
  g_free (a->target);
  g_ptr_array_unref (a->lines);
  g_free (a);
}

static gboolean
fixup_call (const char *text, gpointer *out, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, "|", -1);
  g_autofree char *u = g_strstrip (g_strdup (parts[0]));
  gboolean whole_cfg = g_str_has_prefix (u, "${cfg.") && strchr (u, '}') == u + strlen (u) - 1;
  if (!whole_cfg) {
    if (strchr (u, ':') == NULL || g_str_has_prefix (u, "${")) {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "'%s' is not a URI (sip:user@host) nor a ${cfg...} value", u);
      return FALSE;
    }
    const char *at = strrchr (u, '@');
    const char *host = at != NULL ? at + 1 : strchr (u, ':') + 1;
    for (const char *d = strstr (host, "${"); d != NULL; d = strstr (d + 2, "${"))
      if (!g_str_has_prefix (d, "${cfg.")) {
        g_set_error (error, SF_OP_ARG_ERROR, 0, "the host of '%s' reads '%s': a bridged call's host must come from "
                     "the flow or the configuration, so a caller cannot choose where we call", u, d);
        return FALSE;
      }
  }
  CallArg *a = g_new0 (CallArg, 1);
  a->target = g_steal_pointer (&u);
  a->lines = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 1; parts[i] != NULL; i++) {
    g_autofree char *l = g_strstrip (g_strdup (parts[i]));
    const char *colon = strchr (l, ':');
    if (colon == NULL || colon == l || a->lines->len >= SF_B2B_MAX_LINES) {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "'%s' is no header line 'Name: value' (at most %d)", l, SF_B2B_MAX_LINES);
      call_arg_free (a);
      return FALSE;
    }
    g_ptr_array_add (a->lines, g_steal_pointer (&l));
  }
  *out = a;
  return TRUE;
}

static const char *const call_outcomes[] = { "refused", NULL };

/* Starts (or restarts, for failover) the B leg towards @target. */
static gboolean
call_b (SfCtx *ctx, SfB2bCall *c, const char *target)
{
  SfInstance *b = spawn_leg (ctx, FALSE);
  if (b == NULL)
    return FALSE;
  g_free (c->b);
  c->b = g_strdup (sf_instance_handle (b));
  g_clear_pointer (&c->b_call_id, g_free);
  c->b_status = 0;
  g_clear_pointer (&c->b_reason, g_free);
  SfUaLegCall *lc = g_new0 (SfUaLegCall, 1);
  lc->target = g_strdup (target);
  lc->from = g_strdup (c->st->from);
  lc->max_forwards = c->max_forwards;
  lc->offer.ctype = g_strdup (c->offer_ctype);
  lc->offer.body = g_strdup (c->offer);
  if (c->lines != NULL && c->lines->len > 0) {
    lc->offer.lines = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i < c->lines->len; i++)
      g_ptr_array_add (lc->offer.lines, g_strdup (g_ptr_array_index (c->lines, i)));
  }
  return sf_endpoint_post (sf_ctx_endpoint (ctx), b,
                           sf_event_new_full (SF_EV_DEVICE, SF_UA_LEG_DOWN_CALL, target, lc,
                                              (GDestroyNotify) sf_ua_leg_call_free));
}

/* Whether B's INVITE to @target, and to every failover target after it,
 * leaves over TLS (the outbound proxy's hop when there is one, as
 * sf-op-uac.c sends it). */
static gboolean
b_over_tls (SfCtx *ctx, const SfB2bCall *c, const char *target)
{
  g_autofree char *route = sf_ua_outbound_route (ctx);
  for (guint i = 0; target != NULL; target = c->st->targets != NULL ? c->st->targets[i++] : NULL) {
    g_auto (SfUaHop) hop = { 0 };
    if (!sf_ua_hop (ctx, route != NULL ? route : target, &hop) || hop.proto != SF_SIP_TLS)
      return FALSE;
  }
  return TRUE;
}

/* Our address toward B when B is reached in the other family than the
 * caller reached us in (@host): the address of our socket B's INVITE leaves
 * from (sf_ua_hop, as sf-op-uac.c sends it), without brackets; NULL when it is
 * of @host's family, or unknown or a wildcard (then @host is used for B too). */
static char *
b_local_host (SfCtx *ctx, const char *target, const char *host)
{
  g_autofree char *route = sf_ua_outbound_route (ctx);
  g_auto (SfUaHop) hop = { 0 };
  if (!sf_ua_hop (ctx, route != NULL ? route : target, &hop))
    return NULL;
  const char *l = hop.local;
  g_autofree char *ip = l[0] == '[' ? g_strndup (l + 1, strcspn (l + 1, "]")) : g_strndup (l, strcspn (l, ":"));
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (ip);
  if (ia == NULL || g_inet_address_get_is_any (ia) || (strchr (ip, ':') != NULL) == (strchr (host, ':') != NULL))
    return NULL;
  return g_steal_pointer (&ip);
}

/* The caller's INVITE: Max-Forwards 0 gets 483 and no B leg (RFC 3261
 * 16.3 step 3 in spirit; RFC 7332: a B2BUA that resets it can loop for ever),
 * else B's INVITE carries A's minus one; B's leg calls the target of the arg
 * with A's offer and the lines the arg lists (the only headers of A's that
 * reach B).  An empty target: SKIP (the next operator refuses the call). */
static SfOpResult
sf_op_bridge_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const CallArg *ca = arg;
  SfSipEvent *e = sip_request (ev);
  SfB2bCall *c = sf_b2b_call (ctx);
  if (e == NULL || c == NULL || c->a == NULL || strcmp (sf_event_name (ev), "INVITE") != 0)
    return SF_OP_SKIP;
  g_autofree char *target = sf_ctx_expand_mode (ctx, ev, ca->target, SF_EXPAND_URI);
  if (*target == '\0')
    return SF_OP_SKIP;
  if (!g_str_has_prefix (target, "sip:") && !g_str_has_prefix (target, "sips:")) {
    sf_log (ctx, G_LOG_LEVEL_WARNING, "target '%s' is no sip: or sips: URI", target);
    return SF_OP_SKIP;
  }
  gint64 mf = sf_sip_msg_max_forwards (e->msg);
  if (mf == 0) {
    SfUaLegNote *n = sf_ua_leg_note_new (483, NULL, NULL);
    drive (ctx, c->a, SF_UA_LEG_DOWN_REJECT, "483", n);
    c->a_status = 483;
    c->ended_by = "bridge";
    return SF_OP_OUTCOME (0);
  }
  c->max_forwards = mf < 0 ? 69 : (guint) MIN (mf, 256) - 1;
  SfSipStr body = sf_sip_msg_body (e->msg);
  const SfSipHdr *ct = sf_sip_msg_find (e->msg, SF_SIP_HDR_CONTENT_TYPE);
  if (!c->sides_set) {
    /* Our address as the caller reached us: o= (and c=, anchored) of both sides. */
    g_autofree char *host = g_inet_address_to_string (g_inet_socket_address_get_address (e->peer.local));
    /* Each side's relay port in the family that side is reached in
     * (docs/media.md "IPv6"): A's the caller's, B's our hop's toward B. */
    g_autofree char *b_host = b_local_host (ctx, target, host);
    const char *relay_addr = NULL, *bh = b_host != NULL ? b_host : host;
    if (c->st->media == SF_B2B_MEDIA_ANCHOR && sf_ua_media (ctx) != NULL) {
      g_autoptr (GError) error = NULL;
      c->relay = sf_media_relay_new_full (sf_ua_media (ctx), sf_ctx_handle (ctx), strchr (host, ':') != NULL,
                                          strchr (bh, ':') != NULL, &error);
      if (c->relay == NULL)
        sf_log (ctx, G_LOG_LEVEL_WARNING, "%s", error->message);
      else if (!sf_media_relay_set_latch (c->relay, c->st->latch, c->st->relatch_ms, c->st->rtp_timeout_ms, &error))
        sf_log (ctx, G_LOG_LEVEL_WARNING, "%s", error->message);
      /* A caller that is not on this host names no address of it in its SDP:
       * else a stranger who reaches our B port before B talks has its packets
       * sent, from our address, to a service of ours (B, the callee the flow
       * chose, may be on this host). */
      if (c->relay != NULL)
        sf_media_relay_deny_local (c->relay, SF_RELAY_A, !same_host (&e->peer));
      relay_addr = host;
    }
    sf_sdp_bridge_side_init (&c->to_a, host, relay_addr, c->relay != NULL ? sf_media_relay_port (c->relay, SF_RELAY_A) : 0);
    sf_sdp_bridge_side_init (&c->to_b, bh, relay_addr != NULL ? bh : NULL,
                             c->relay != NULL ? sf_media_relay_port (c->relay, SF_RELAY_B) : 0);
    /* RFC 4568 8: SDES keys cross only when both hops are TLS (an SRTP call's
     * keys go both ways: the offer's to the answerer, the answer's back), or
     * media.srtp_insecure_signalling allows keys in the clear. */
    gboolean keys = FALSE;
    if (sf_ua_media (ctx) != NULL)
      sf_media_srtp (sf_ua_media (ctx), &keys);
    c->to_a.crypto_ok = c->to_b.crypto_ok = keys || (sf_stack_event_over_tls (e) && b_over_tls (ctx, c, target));
    c->sides_set = TRUE;
  }
  if (c->st->media == SF_B2B_MEDIA_ANCHOR && c->relay == NULL) {
    drive (ctx, c->a, SF_UA_LEG_DOWN_REJECT, "503", sf_ua_leg_note_new (503, NULL, NULL));
    c->a_status = 503;
    c->ended_by = "bridge";
    return SF_OP_OUTCOME (0);
  }
  if (body.len > 0 && ct != NULL) {
    g_autoptr (GError) error = NULL;
    g_auto (SfSdpPeer) peer = { 0 };
    char *sdp = sf_sdp_bridge_rewrite (body.p, body.len, &c->to_b, &peer, &error);
    if (sdp == NULL) {
      sf_log (ctx, G_LOG_LEVEL_INFO, "the caller's SDP: %s", error->message);
      drive (ctx, c->a, SF_UA_LEG_DOWN_REJECT, "488", sf_ua_leg_note_new (488, NULL, NULL));
      c->a_status = 488;
      c->ended_by = "bridge";
      return SF_OP_OUTCOME (0);
    }
    if (c->relay != NULL) {
      sf_media_relay_set_peer (c->relay, SF_RELAY_A, peer.hold ? NULL : peer.addr, peer.port, NULL);
      sf_media_relay_set_dtmf (c->relay, SF_RELAY_A, peer.dtmf_pt, NULL);
    }
    g_free (c->offer_ctype);
    g_free (c->offer);
    c->offer_ctype = str_dup (ct->value);
    c->offer = sdp;
  }
  g_clear_pointer (&c->lines, g_ptr_array_unref);
  c->lines = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < ca->lines->len; i++) {
    g_autofree char *l = sf_ctx_expand_mode (ctx, ev, g_ptr_array_index (ca->lines, i), SF_EXPAND_HEADER);
    const char *colon = strchr (l, ':');
    if (colon != NULL && colon[1 + strspn (colon + 1, " \t")] != '\0') /* "Name:" with no value: left out */
      g_ptr_array_add (c->lines, g_steal_pointer (&l));
  }
  if (!call_b (ctx, c, target)) {
    drive (ctx, c->a, SF_UA_LEG_DOWN_REJECT, "500", sf_ua_leg_note_new (500, NULL, NULL));
    c->ended_by = "bridge";
    return SF_OP_OUTCOME (0);
  }
  return SF_OP_TRANSITION;
}

/* ---- OpBridgeReject ---- */

static gboolean
fixup_status (const char *text, gpointer *out, GError **error)
{
  char *end = NULL;
  guint64 v = g_ascii_strtoull (text, &end, 10);
  if (end == text || *end != '\0' || v < 300 || v > 699) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "'%s' is no final status 300-699", text);
    return FALSE;
  }
  *out = GUINT_TO_POINTER ((guint) v);
  return TRUE;
}

/* Refuses the caller's call with the arg's status through the A leg. */
static SfOpResult
sf_op_bridge_reject (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || c->a == NULL)
    return SF_OP_SKIP;
  guint status = GPOINTER_TO_UINT (arg);
  char code[8];
  g_snprintf (code, sizeof code, "%u", status);
  drive (ctx, c->a, SF_UA_LEG_DOWN_REJECT, code, sf_ua_leg_note_new (status, NULL, NULL));
  c->a_status = status;
  c->ended_by = "bridge";
  return SF_OP_TRANSITION;
}

/* ---- B's progress and answer ---- */

static SfUaLegNote *
copy_note (const SfUaLegNote *n, guint status)
{
  return sf_ua_leg_note_new (status, n != NULL ? n->ctype : NULL, n != NULL ? n->body : NULL);
}

/* @n from side @from for the other side: its SDP rewritten for that side (o=
 * ours; anchored, the relay's c= and port, and the relay told where @from
 * receives); a note without a body copied; NULL when the SDP is unreadable. */
static SfUaLegNote *
note_across (SfB2bCall *c, char from, const SfUaLegNote *n, guint status)
{
  if (n == NULL || n->body == NULL || !c->sides_set)
    return copy_note (n, status);
  g_auto (SfSdpPeer) peer = { 0 };
  g_autofree char *sdp = sf_sdp_bridge_rewrite (n->body, strlen (n->body), from == 'a' ? &c->to_b : &c->to_a, &peer,
                                                NULL);
  if (sdp == NULL)
    return NULL;
  if (c->relay != NULL) {
    SfRelaySide side = from == 'a' ? SF_RELAY_A : SF_RELAY_B;
    sf_media_relay_set_peer (c->relay, side, peer.hold ? NULL : peer.addr, peer.port, NULL);
    sf_media_relay_set_dtmf (c->relay, side, peer.dtmf_pt, NULL);
  }
  return sf_ua_leg_note_new (status, n->ctype, sdp);
}

/* B's 18x: A gets 180 or 183 with B's SDP (early media), our own reason
 * phrase; nothing else of B's response (RFC 3261 6: each side its own dialog). */
static SfOpResult
sf_op_bridge_progress (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || side_of (c, ev) != 'b')
    return SF_OP_SKIP;
  learn_b_call_id (ctx, c, ev);
  set_fields (ctx, c);
  const SfUaLegNote *n = sf_event_payload (ev);
  guint status = n != NULL && n->status == 183 ? 183 : 180;
  SfUaLegNote *out = note_across (c, 'b', n, status);
  drive (ctx, c->a, SF_UA_LEG_DOWN_PROGRESS, NULL, out != NULL ? out : copy_note (NULL, status));
  return SF_OP_DONE;
}

/* B answered: A gets 200 with B's answer; transitions. */
static SfOpResult
sf_op_bridge_answer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || side_of (c, ev) != 'b')
    return SF_OP_SKIP;
  learn_b_call_id (ctx, c, ev);
  set_fields (ctx, c);
  const SfUaLegNote *n = sf_event_payload (ev);
  c->answered = TRUE;
  c->b_status = 200;
  c->answer_us = sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx)));
  SfUaLegNote *out = note_across (c, 'b', n, 200);
  if (out == NULL) /* B's answer unreadable: A gets none, the call ends on both sides */
    out = sf_ua_leg_note_new (500, NULL, NULL);
  drive (ctx, c->a, out->status == 200 ? SF_UA_LEG_DOWN_ANSWER : SF_UA_LEG_DOWN_REJECT, out->status == 200 ? NULL : "500",
         out);
  return SF_OP_TRANSITION;
}

/* Records what a leg's child:call_end or child:end says; forgets a leg that
 * ended.  Returns its side. */
static char
note_end (SfCtx *ctx, SfB2bCall *c, SfEvent *ev)
{
  char side = side_of (c, ev);
  if (side == 0)
    return 0;
  if (side == 'b')
    learn_b_call_id (ctx, c, ev);
  gboolean end = strcmp (sf_event_name (ev), "end") == 0;
  const SfUaLegNote *n = end ? NULL : sf_event_payload (ev);
  if (n != NULL) {
    guint *status = side == 'a' ? &c->a_status : &c->b_status;
    char **reason = side == 'a' ? &c->a_reason : &c->b_reason;
    if (n->status != 0 && (*status == 0 || !c->answered))
      *status = n->status;
    if (*reason == NULL && n->reason != NULL)
      *reason = g_strdup (n->reason);
  }
  if (end) {
    if (side == 'a')
      g_clear_pointer (&c->a, g_free);
    else
      g_clear_pointer (&c->b, g_free);
  }
  return side;
}

static const char *const failed_outcomes[] = { "retry", "failed", NULL };

static gboolean
fails_over (const SfB2bState *st, guint status)
{
  for (guint i = 0; i < st->failover->len; i++)
    if (g_array_index (st->failover, guint, i) == status)
      return TRUE;
  return FALSE;
}

/* B failed before answering (its child:call_end, or its end): the next
 * b2bua.failover target when its status is one of failover_on (outcome
 * retry), else A gets B's status through b2bua.status_map (outcome failed).
 * B's reason phrase, Warning, Retry-After and Contact are never copied. */
static SfOpResult
sf_op_bridge_failed (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || side_of (c, ev) != 'b')
    return SF_OP_SKIP;
  note_end (ctx, c, ev);
  set_fields (ctx, c);
  const SfUaLegNote *n = strcmp (sf_event_name (ev), "end") == 0 ? NULL : sf_event_payload (ev);
  guint status = c->b_status;
  gboolean timeout = status == 0 && (n == NULL || n->reason == NULL || strstr (n->reason, "timeout") != NULL ||
                                     strstr (n->reason, "no_answer") != NULL);
  if (status == 0)
    status = timeout ? 408 : 500; /* Timer B: 408; a transport error or the leg's own failure: 500 */
  if (c->st->targets != NULL && c->next_target < g_strv_length (c->st->targets) && fails_over (c->st, status)) {
    const char *next = c->st->targets[c->next_target++];
    g_autofree char *old = g_strdup (c->b);
    if (old != NULL)
      drive (ctx, old, SF_UA_LEG_DOWN_HANGUP, NULL, NULL); /* its own end is ignored from now on */
    GString *f = g_string_new (NULL);
    g_string_append_printf (f, "\"status\":%u,\"target\":", status);
    sf_json_append_string (f, next);
    g_autofree char *fields = g_string_free (f, FALSE);
    sf_ctx_emit (ctx, "bridge_failover", fields);
    if (call_b (ctx, c, next))
      return SF_OP_OUTCOME (0);
  }
  guint mapped = sf_b2b_map_status (c->st, status);
  char code[8];
  g_snprintf (code, sizeof code, "%u", mapped);
  drive (ctx, c->a, SF_UA_LEG_DOWN_REJECT, code, sf_ua_leg_note_new (mapped, NULL, NULL));
  c->a_status = mapped;
  if (c->ended_by == NULL)
    c->ended_by = "b";
  return SF_OP_OUTCOME (1);
}

/* A leg's call ended (child:call_end or child:end), or the bridge is told
 * to stop (device:shutdown, a guard): the other leg is hung up (CANCEL before
 * its answer, BYE after); transitions. */
static SfOpResult
sf_op_bridge_hangup (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL)
    return SF_OP_SKIP;
  if (sf_event_kind (ev) == SF_EV_CHILD) {
    char side = note_end (ctx, c, ev);
    if (side == 0)
      return SF_OP_DONE; /* a leg replaced by failover: its end says nothing of the call */
    if (c->ended_by == NULL)
      c->ended_by = side == 'a' ? "a" : "b";
    set_fields (ctx, c);
    const char *other = side == 'a' ? c->b : c->a;
    drive (ctx, other, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
    return SF_OP_TRANSITION;
  }
  if (c->ended_by == NULL)
    c->ended_by = "bridge";
  drive (ctx, c->a, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  drive (ctx, c->b, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  return SF_OP_TRANSITION;
}


/* ---- offers in the call: hold, resume, re-INVITE and UPDATE ---- */

/* A leg kept a re-INVITE or UPDATE with an offer (child:offer): the other
 * leg sends it in its own dialog (device:reoffer).  One offer at a time
 * through the bridge: a second gets 491 (RFC 3261 14.1, RFC 3311 5.2); with
 * no other leg, 500. */
static SfOpResult
sf_op_bridge_offer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  char side = c != NULL ? side_of (c, ev) : 0;
  if (side == 0)
    return SF_OP_SKIP;
  const char *from = side == 'a' ? c->a : c->b;
  const char *other = side == 'a' ? c->b : c->a;
  const SfUaLegNote *n = sf_event_payload (ev);
  if (c->offer_from != 0) {
    drive (ctx, from, SF_UA_LEG_DOWN_REANSWER, NULL, sf_ua_leg_note_new (491, NULL, NULL));
    return SF_OP_DONE;
  }
  SfUaLegNote *out = note_across (c, side, n, 0);
  if (out == NULL) { /* RFC 3261 14.2: an offer we cannot take, 488, the session as it was */
    drive (ctx, from, SF_UA_LEG_DOWN_REANSWER, NULL, sf_ua_leg_note_new (488, NULL, NULL));
    return SF_OP_DONE;
  }
  out->method = g_strdup (n != NULL ? n->method : NULL);
  if (!drive (ctx, other, SF_UA_LEG_DOWN_REOFFER, NULL, out)) {
    drive (ctx, from, SF_UA_LEG_DOWN_REANSWER, NULL, sf_ua_leg_note_new (500, NULL, NULL));
    return SF_OP_DONE;
  }
  c->offer_from = side;
  return SF_OP_DONE;
}

/* The other leg's answer to the relayed offer (child:offer_answered): the kept
 * request gets it (device:reanswer): a 2xx with the answer, a 491 as 491 (the
 * offerer retries, 14.1), another failure as its status (500 for none). */
static SfOpResult
sf_op_bridge_offer_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  char side = c != NULL ? side_of (c, ev) : 0;
  if (side == 0 || c->offer_from == 0 || side == c->offer_from)
    return side == 0 ? SF_OP_SKIP : SF_OP_DONE; /* a stale answer: nothing waits for it */
  const char *offerer = c->offer_from == 'a' ? c->a : c->b;
  c->offer_from = 0;
  const SfUaLegNote *n = sf_event_payload (ev);
  guint status = n != NULL ? n->status : 0;
  if (status < 200 || status > 699)
    status = 500;
  SfUaLegNote *out = status < 300 ? note_across (c, side, n, 200) : sf_ua_leg_note_new (status, NULL, NULL);
  if (out == NULL)
    out = sf_ua_leg_note_new (500, NULL, NULL);
  drive (ctx, offerer, SF_UA_LEG_DOWN_REANSWER, NULL, out);
  if (status == 408 || status == 481) {
    /* RFC 3261 12.2.1.2: a 481 or 408, or no response at all, to a request in
     * the dialog: the dialog is gone, and the call with it (the legs' ends
     * move the bridge to Ending). */
    if (c->ended_by == NULL)
      c->ended_by = side == 'a' ? "a" : "b";
    drive (ctx, c->a, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
    drive (ctx, c->b, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  }
  return SF_OP_DONE;
}


/* A leg answered an INFO in its dialog (child:info): the other leg sends one
 * with the same body (DTMF as application/dtmf-relay, RFC 6086 allows any
 * package the peers agree on); its answer is not relayed back. */
static SfOpResult
sf_op_bridge_info (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  char side = c != NULL ? side_of (c, ev) : 0;
  if (side == 0)
    return SF_OP_SKIP;
  const SfUaLegNote *n = sf_event_payload (ev);
  drive (ctx, side == 'a' ? c->b : c->a, SF_UA_LEG_DOWN_INFO, NULL, copy_note (n, 0));
  return SF_OP_DONE;
}

/* ---- OpBridgeRelay: the race window ---- */

/* A request that reached the bridge itself after it handed the call's key to
 * its A leg: one the stack routed in the same read as the INVITE (a CANCEL
 * read before the bridge ran), which only the key's old holder could be
 * found by.  It goes on to A.  With no A leg: SKIP (the stack answers it). */
static SfOpResult
sf_op_bridge_relay (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (sip_request (ev) == NULL || c == NULL || c->a == NULL)
    return SF_OP_SKIP;
  SfInstance *a = sf_endpoint_lookup_handle (sf_ctx_endpoint (ctx), c->a);
  if (a == NULL || !sf_stack_hand_over (ctx, ev, a))
    return SF_OP_SKIP;
  return SF_OP_DONE;
}

/* ---- Ending ---- */

/* Entry of Ending: when no leg is left, a child:end of no leg is posted so
 * OpBridgeGone ends the bridge (an entry queue cannot transition). */
static SfOpResult
sf_op_bridge_check_gone (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c != NULL && c->a == NULL && c->b == NULL)
    sf_ctx_post_self (ctx, sf_event_new (SF_EV_CHILD, "end", NULL));
  return SF_OP_CONTINUE;
}

/* A leg ended: transitions when none is left.  The guard timer: what legs are
 * left are ended at once (they had 40 s to finish their transactions). */
static SfOpResult
sf_op_bridge_gone (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL)
    return SF_OP_SKIP;
  if (sf_event_kind (ev) == SF_EV_TIMER) {
    SfEndpoint *ep = sf_ctx_endpoint (ctx);
    const char *legs[] = { c->a, c->b };
    for (guint i = 0; i < 2; i++) {
      SfInstance *l = legs[i] != NULL ? sf_endpoint_lookup_handle (ep, legs[i]) : NULL;
      if (l != NULL)
        sf_endpoint_end (ep, l, "bridge guard");
    }
    g_clear_pointer (&c->a, g_free);
    g_clear_pointer (&c->b, g_free);
    return SF_OP_TRANSITION;
  }
  if (strcmp (sf_event_name (ev), "end") == 0)
    note_end (ctx, c, ev);
  else
    note_end (ctx, c, ev); /* call_end: statuses and reasons */
  return c->a == NULL && c->b == NULL ? SF_OP_TRANSITION : SF_OP_DONE;
}

/* Entry of Ended: the call's one line, both Call-IDs paired (docs/b2bua.md). */
static SfOpResult
sf_op_bridge_ended (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || !c->invite)
    return SF_OP_CONTINUE; /* an OPTIONS or MESSAGE its leg answered: no call to report */
  gint64 now = sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx)));
  /* The line names both Call-IDs itself: the instance's fields keep A's only,
   * so no key is written twice. */
  GString *cf = g_string_new ("\"call_id\":");
  sf_json_append_string (cf, c->a_call_id != NULL ? c->a_call_id : "");
  sf_endpoint_set_event_fields (sf_ctx_instance (ctx), g_string_free (cf, FALSE));
  GString *f = g_string_new ("\"a_call_id\":");
  sf_json_append_string (f, c->a_call_id != NULL ? c->a_call_id : "");
  g_string_append (f, ",\"b_call_id\":");
  sf_json_append_string (f, c->b_call_id != NULL ? c->b_call_id : "");
  g_string_append_printf (f, ",\"a_status\":%u,\"b_status\":%u,\"a_reason\":", c->a_status, c->b_status);
  sf_json_append_string (f, c->a_reason != NULL ? c->a_reason : "");
  g_string_append (f, ",\"b_reason\":");
  sf_json_append_string (f, c->b_reason != NULL ? c->b_reason : "");
  g_string_append (f, ",\"ended_by\":");
  sf_json_append_string (f, c->ended_by != NULL ? c->ended_by : "");
  g_string_append_printf (f, ",\"answered\":%s,\"duration_s\":%.3f", c->answered ? "true" : "false",
                          c->start_us > 0 ? (now - c->start_us) / 1e6 : 0.0);
  g_autofree char *fields = g_string_free (f, FALSE);
  sf_ctx_emit (ctx, "bridge_end", fields);
  return SF_OP_CONTINUE;
}

const SfOperatorDef sf_op_bridge_table[] = {
  { "OpBridgeAccept", sf_op_bridge_accept, SF_Q_NORMAL, SF_EV_SIP, 0, accept_outcomes, SF_ARG_NONE, NULL, NULL,
    "the caller's request: past b2bua.max_calls an INVITE gets 503 with Retry-After (outcome refused); else the A "
    "leg is made, handed the call's key and the request: an INVITE continues (OpBridgeCall next), another request "
    "(OPTIONS, MESSAGE) is the leg's alone (outcome alone)", "sip", NULL, "RFC 3261 6, 21.5.4" },
  { "OpBridgeCall", sf_op_bridge_call, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS | SF_OPF_EXPR_ARG, call_outcomes,
    SF_ARG_REQUIRED, fixup_call, call_arg_free,
    "makes the B leg call the target of its arg (its host from the flow or the configuration only) with A's offer, "
    "Max-Forwards A's minus one, and the header lines the arg lists (no other header of A's); Max-Forwards 0: A gets "
    "483 (outcome refused); an empty target: SKIP; then transitions", "sip:INVITE",
    "TARGET [| Name: value]...", "RFC 3261 16.3, RFC 7332" },
  { "OpBridgeReject", sf_op_bridge_reject, SF_Q_NORMAL, SF_EV_ANY, SF_OPF_TRANSITIONS, NULL, SF_ARG_REQUIRED,
    fixup_status, NULL, "refuses the caller's call with the arg's status through the A leg; transitions", NULL,
    "CODE", "RFC 3261 13.3.1.3" },
  { "OpBridgeProgress", sf_op_bridge_progress, SF_Q_NORMAL, SF_EV_CHILD, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "B's 18x: A gets 180 or 183 with B's SDP (our reason phrase, nothing else of B's)", "child:progress", NULL,
    "RFC 3261 13.3.1.1" },
  { "OpBridgeAnswer", sf_op_bridge_answer, SF_Q_NORMAL, SF_EV_CHILD, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL,
    NULL, "B answered: A gets 200 with B's answer; transitions", "child:answered", NULL, "RFC 3261 13.3.1.4" },
  { "OpBridgeFailed", sf_op_bridge_failed, SF_Q_NORMAL, SF_EV_CHILD, 0, failed_outcomes, SF_ARG_NONE, NULL, NULL,
    "B failed before answering: the next b2bua.failover target for a status of b2bua.failover_on (outcome retry), "
    "else A gets B's status through b2bua.status_map (outcome failed); A's events are left to others",
    "child:call_end|child:end", NULL, "RFC 3261 16.7" },
  { "OpBridgeHangup", sf_op_bridge_hangup, SF_Q_NORMAL, SF_EV_CHILD | SF_EV_DEVICE | SF_EV_TIMER | SF_EV_MEDIA,
    SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "a leg's call ended (child:call_end or child:end): the other leg is hung up (CANCEL or BYE as its state says); "
    "on another event (device:shutdown) both are; transitions", NULL, NULL, "RFC 3261 9.1, 15.1" },
  { "OpBridgeOffer", sf_op_bridge_offer, SF_Q_NORMAL, SF_EV_CHILD, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a leg kept a re-INVITE or UPDATE with an offer: the other leg sends it in its own dialog; a second offer while "
    "one is relayed gets 491, an offer with no other leg 500", "child:offer", NULL, "RFC 3261 14.1, RFC 3311 5.2" },
  { "OpBridgeOfferAnswered", sf_op_bridge_offer_answered, SF_Q_NORMAL, SF_EV_CHILD, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "the other leg's answer to the relayed offer answers the kept request: 200 with the SDP, 491 as 491, another "
    "failure as its status", "child:offer_answered", NULL, "RFC 3264 8" },
  { "OpBridgeInfo", sf_op_bridge_info, SF_Q_NORMAL, SF_EV_CHILD, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a leg answered an INFO in its dialog: the other leg sends one with the same Content-Type and body (its answer "
    "is not relayed)", "child:info", NULL, "RFC 6086 4.2" },
  { "OpBridgeRelay", sf_op_bridge_relay, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a request that reached the bridge after it handed the call to its A leg (a CANCEL read with the INVITE) goes "
    "on to A", "sip", NULL, "RFC 3261 9.2" },
  { "OpBridgeCheckGone", sf_op_bridge_check_gone, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "when no leg is left, posts the bridge a child:end so OpBridgeGone ends it", NULL, NULL, NULL },
  { "OpBridgeGone", sf_op_bridge_gone, SF_Q_NORMAL, SF_EV_CHILD | SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE,
    NULL, NULL,
    "a leg ended: transitions when none is left; on a timer (the end guard) ends the legs left and transitions",
    "child:end|child:call_end|timer:end_guard", NULL, NULL },
  { "OpBridgeEnded", sf_op_bridge_ended, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "writes the bridge_end event: both Call-IDs, the legs' statuses and reasons, who ended it, the duration", NULL,
    NULL, NULL },
};
const gsize sf_op_bridge_table_len = G_N_ELEMENTS (sf_op_bridge_table);
