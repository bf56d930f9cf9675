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
#include "sip/sf-sip-uri.h"
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
  g_free (c->sdp_from_a);
  g_free (c->sdp_from_b);
  g_free (c->target);
  g_free (c->xfer);
  g_free (c->xfer_target);
  g_free (c->xfer_sent);
  sf_ua_leg_note_free (c->xfer_answer);
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

/* The event comes from the referred call of a transfer in progress. */
static gboolean
is_xfer (SfB2bCall *c, SfEvent *ev)
{
  if (c->xfer == NULL)
    return FALSE;
  const char *h = NULL;
  if (strcmp (sf_event_name (ev), "end") == 0) {
    const SfChildEnd *ce = sf_event_payload (ev);
    h = ce != NULL ? ce->handle : NULL;
  } else {
    h = sf_event_arg (ev);
  }
  return h != NULL && strcmp (h, c->xfer) == 0;
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

/* The host of @uri (a sip/sips URI), lower case, transfer full; NULL when none. */
static char *
uri_host (const char *uri)
{
  g_autoptr (SfSipUri) u = uri != NULL ? sf_sip_uri_parse (sf_sip_str (uri, strlen (uri)), NULL, NULL) : NULL;
  if (u == NULL || (u->kind != SF_URI_SIP && u->kind != SF_URI_SIPS))
    return NULL;
  g_autofree char *h = sf_sip_host_dup (u->host);
  return h != NULL ? g_ascii_strdown (h, -1) : NULL;
}

/* b2bua.refer = target_domain: @host is the host of the URI this call's B
 * leg called, or of a b2bua.failover target: a host the configuration (or
 * the flow) chose, never one a caller named (docs/b2bua.md "Transfer"). */
static gboolean
target_domain (const SfB2bCall *c, const char *host)
{
  if (host == NULL)
    return FALSE;
  g_autofree char *t = uri_host (c->target);
  if (t != NULL && g_ascii_strcasecmp (t, host) == 0)
    return TRUE;
  for (guint i = 0; c->st->targets != NULL && c->st->targets[i] != NULL; i++) {
    g_autofree char *f = uri_host (c->st->targets[i]);
    if (f != NULL && g_ascii_strcasecmp (f, host) == 0)
      return TRUE;
  }
  return FALSE;
}

/* A leg's REFER (SfUaLegReferCheck): b2bua.refer's policy, a call that is up
 * (a REFER in an early dialog never gets here: the leg says 481), one
 * transfer at a time, and no offer crossing the bridge (RFC 3261 14.1: ours
 * would meet it, 491).  The maddr, where the INVITE would really go (RFC 3261
 * 19.1.1), is judged with the host. */
static guint
refer_check (SfEndpoint *ep, const char *bridge, const char *leg, const char *host, const char *maddr,
             const char **why)
{
  SfInstance *bi = sf_endpoint_lookup_handle (ep, bridge);
  SfB2bCall *c = bi != NULL && !sf_instance_ended (bi) ? sf_instance_module_slot (ep, bi, &sf_b2bua_module) : NULL;
  if (c == NULL || c->st == NULL) {
    *why = "No transfer in this call state";
    return 403;
  }
  char side = c->a != NULL && strcmp (leg, c->a) == 0 ? 'a' : c->b != NULL && strcmp (leg, c->b) == 0 ? 'b' : 0;
  if (c->st->refer == SF_B2B_REFER_OFF) {
    *why = "REFER refused by policy (b2bua.refer is off)";
    return 403;
  }
  if (side == 'a' && !c->st->refer_from_any) {
    /* the caller is nobody we chose: a REFER of theirs would have us call
     * any user (a premium number at a trunk) or port of an allowed host */
    *why = "REFER refused by policy (b2bua.refer_from is b: only the called side may transfer)";
    return 403;
  }
  if (side == 0 || !c->answered || c->ended_by != NULL || c->a == NULL || c->b == NULL) {
    *why = "No transfer in this call state";
    return 403;
  }
  if (c->st->refer == SF_B2B_REFER_TARGET_DOMAIN && (!target_domain (c, host) || (maddr != NULL && !target_domain (c, maddr)))) {
    *why = "REFER refused by policy (b2bua.refer is target_domain: the target is not a host we call)";
    return 403;
  }
  if (c->xfer != NULL) {
    *why = "A transfer of this call is in progress";
    return 491;
  }
  if (c->offer_from != 0) {
    *why = "An offer is crossing this call";
    return 491;
  }
  return 0;
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
  sf_ua_leg_set_refer_check (sf_ctx_endpoint (ctx), leg, refer_check);
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
  g_free (c->target);
  c->target = g_strdup (target);
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

/* Whether an INVITE of ours to @target leaves over TLS (the outbound proxy's
 * hop when there is one, as sf-op-uac.c sends it). */
static gboolean
hop_over_tls (SfCtx *ctx, const char *target)
{
  g_autofree char *route = sf_ua_outbound_route (ctx);
  g_auto (SfUaHop) hop = { 0 };
  return sf_ua_hop (ctx, route != NULL ? route : target, &hop) && hop.proto == SF_SIP_TLS;
}

/* media.srtp_insecure_signalling: SDES keys may cross a hop that is not TLS. */
static gboolean
keys_in_clear (SfCtx *ctx)
{
  gboolean keys = FALSE;
  if (sf_ua_media (ctx) != NULL)
    sf_media_srtp (sf_ua_media (ctx), &keys);
  return keys;
}

/* Whether B's INVITE to @target, and to every failover target after it,
 * leaves over TLS (the outbound proxy's hop when there is one, as
 * sf-op-uac.c sends it). */
static gboolean
b_over_tls (SfCtx *ctx, const SfB2bCall *c, const char *target)
{
  for (guint i = 0; target != NULL; target = c->st->targets != NULL ? c->st->targets[i++] : NULL)
    if (!hop_over_tls (ctx, target))
      return FALSE;
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
    c->to_a.crypto_ok = c->to_b.crypto_ok =
      keys_in_clear (ctx) || (sf_stack_event_over_tls (e) && b_over_tls (ctx, c, target));
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
    g_free (c->sdp_from_a);
    c->sdp_from_a = g_strndup (body.p, body.len);
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
  char **last = from == 'a' ? &c->sdp_from_a : &c->sdp_from_b;
  g_free (*last);
  *last = g_strdup (n->body);
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

/* Do SDPs @x and @y describe the same media: every line the same but the
 * session's own (v=, o=, s=, t=: a version counted up changes nothing the
 * peer sends to, RFC 3264 8)?  Line ends CRLF or LF (a peer's SDP as it
 * came); NULL only equals NULL. */
static gboolean
sdp_same_media (const char *x, const char *y)
{
  if (x == NULL || y == NULL)
    return x == y;
  g_auto (GStrv) lx = g_strsplit (x, "\n", -1);
  g_auto (GStrv) ly = g_strsplit (y, "\n", -1);
  guint i = 0, j = 0;
  for (;;) {
    while (lx[i] != NULL && (*g_strchomp (lx[i]) == '\0' || strchr ("vost", lx[i][0]) != NULL))
      i++;
    while (ly[j] != NULL && (*g_strchomp (ly[j]) == '\0' || strchr ("vost", ly[j][0]) != NULL))
      j++;
    if (lx[i] == NULL || ly[j] == NULL)
      return lx[i] == NULL && ly[j] == NULL;
    if (strcmp (lx[i++], ly[j++]) != 0)
      return FALSE;
  }
}

/* B's 2xx answer @sdp (rewritten for A) after A's leg sent an answer in a
 * reliable 1xx: that answer is the one of A's offer for good (RFC 3261
 * 13.2.1, RFC 3262 5), so A's 200 repeats it (the leg does), and when B's 2xx
 * answered with other media (another codec, address or stream: a forked B, a
 * callee that changed its mind) A gets B's SDP as a new offer of ours (RFC
 * 3264 8), by UPDATE when A's INVITE allows it (RFC 3311), else by re-INVITE;
 * the leg sends it once A's ACK came.  Its answer is the bridge's own:
 * offer_from 'o', nothing to reanswer.  An unreliable 1xx's answer is not
 * final (13.2.1): A's 200 carries B's answer, and nothing more goes. */
static void
reoffer_a_if_changed (SfCtx *ctx, SfB2bCall *c, const char *sdp)
{
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfInstance *a = c->a != NULL ? sf_endpoint_lookup_handle (ep, c->a) : NULL;
  SfUaCall *call = a != NULL ? sf_ua_call_of (ep, a) : NULL;
  if (sdp == NULL || call == NULL || call->invite == NULL || call->rel_body == NULL || !call->oa_done ||
      c->offer_from != 0 || sdp_same_media (call->rel_body, sdp))
    return;
  gboolean update = FALSE;
  SfSipValues *allow = sf_sip_msg_values (call->invite->msg, SF_SIP_HDR_ALLOW, NULL);
  for (guint i = 0; allow != NULL && i < allow->len && !update; i++)
    update = sf_sip_str_eq (((SfSipValue *) allow->pdata[i])->text, "UPDATE"); /* methods: case-sensitive (7.1) */
  SfUaLegNote *n = sf_ua_leg_note_new (0, "application/sdp", sdp);
  n->method = g_strdup (update ? "UPDATE" : "INVITE");
  if (drive (ctx, c->a, SF_UA_LEG_DOWN_REOFFER, NULL, n))
    c->offer_from = 'o';
}

/* B answered: A gets 200 with B's answer (or the one of A's reliable 1xx, then
 * B's as a new offer when it differs: reoffer_a_if_changed); transitions. */
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
  g_autofree char *sdp = out->status == 200 ? g_strdup (out->body) : NULL;
  drive (ctx, c->a, out->status == 200 ? SF_UA_LEG_DOWN_ANSWER : SF_UA_LEG_DOWN_REJECT, out->status == 200 ? NULL : "500",
         out);
  reoffer_a_if_changed (ctx, c, sdp);
  return SF_OP_TRANSITION;
}

/* Records what a leg's child:call_end or child:end says; forgets a leg that
 * ended.  Returns its side. */
static char
note_end (SfCtx *ctx, SfB2bCall *c, SfEvent *ev)
{
  char side = side_of (c, ev);
  if (side == 0) {
    if (is_xfer (c, ev) && strcmp (sf_event_name (ev), "end") == 0)
      g_clear_pointer (&c->xfer, g_free);
    return 0;
  }
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
      return SF_OP_DONE; /* a leg replaced by failover or a transfer: its end says nothing of the call */
    if (c->xfer != NULL && side == c->xfer_side && c->ended_by == NULL)
      return SF_OP_DONE; /* the transferor hung up before the referred call answered (a blind transfer, RFC 5589
                            6): the other side waits for that call (OpBridgeTransferFailed ends it if it fails) */
    if (c->ended_by == NULL)
      c->ended_by = side == 'a' ? "a" : "b";
    set_fields (ctx, c);
    const char *other = side == 'a' ? c->b : c->a;
    drive (ctx, other, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
    drive (ctx, c->xfer, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
    return SF_OP_TRANSITION;
  }
  if (c->ended_by == NULL)
    c->ended_by = "bridge";
  drive (ctx, c->a, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  drive (ctx, c->b, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  drive (ctx, c->xfer, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  return SF_OP_TRANSITION;
}


/* ---- offers in the call: hold, resume, re-INVITE and UPDATE ---- */

static void transfer_offer_answered (SfCtx *ctx, SfB2bCall *c, char side, const SfUaLegNote *n, guint status);
static gboolean transfer_reoffer (SfCtx *ctx, SfB2bCall *c);

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
  const SfUaLegNote *n = sf_event_payload (ev);
  guint status = n != NULL ? n->status : 0;
  if (status < 200 || status > 699)
    status = 500;
  if (c->offer_from == 't' || c->offer_from == 'T') {
    transfer_offer_answered (ctx, c, side, n, status);
    return SF_OP_DONE;
  }
  const char *offerer = c->offer_from == 'a' ? c->a : c->offer_from == 'b' ? c->b : NULL; /* 'o': ours, nothing to
                                                                                            reanswer */
  c->offer_from = 0;
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
    drive (ctx, c->xfer, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  } else if (c->xfer_answer != NULL) {
    transfer_reoffer (ctx, c); /* a transfer's offer waited for this one */
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

/* A's ACK brought the answer to the offer our 200 carried (child:ack): when
 * A's INVITE had no offer, that offer was B's, in B's 2xx, and B's leg holds
 * its ACK for this answer (RFC 3261 13.2.1): it goes across (rewritten for B;
 * anchored, the relay learns where A receives) as device:ack.  An answer we
 * cannot read goes as none: B's leg ACKs without body and hangs up (its end
 * ends A's).  An ACK of an offer-less re-INVITE A's leg answered itself, with
 * B holding nothing, goes nowhere (the offer repeated A's last view of B, RFC
 * 3264 8). */
static SfOpResult
sf_op_bridge_ack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || side_of (c, ev) != 'a' || c->b == NULL)
    return c == NULL ? SF_OP_SKIP : SF_OP_DONE;
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfInstance *b = sf_endpoint_lookup_handle (ep, c->b);
  SfUaCall *bcall = b != NULL ? sf_ua_call_of (ep, b) : NULL;
  if (bcall == NULL || bcall->leg == NULL || !bcall->leg->ack_held)
    return SF_OP_DONE;
  SfUaLegNote *out = note_across (c, 'a', sf_event_payload (ev), 0);
  if (out == NULL)
    sf_log (ctx, G_LOG_LEVEL_INFO, "the caller's answer in its ACK is unreadable: B's ACK goes without it");
  drive (ctx, c->b, SF_UA_LEG_DOWN_ACK, NULL, out);
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

/* ---- transfer: a REFER from either side (docs/b2bua.md "Transfer") ---- */

/* The "bridge_transfer" event. */
static void
emit_xfer (SfCtx *ctx, SfB2bCall *c, const char *state, guint status)
{
  GString *f = g_string_new ("\"state\":");
  sf_json_append_string (f, state);
  g_string_append_printf (f, ",\"side\":\"%c\",\"target\":", c->xfer_side != 0 ? c->xfer_side : '?');
  sf_json_append_string (f, c->xfer_target != NULL ? c->xfer_target : "");
  if (status != 0)
    g_string_append_printf (f, ",\"status\":%u", status);
  sf_ctx_emit (ctx, "bridge_transfer", f->str);
  g_string_free (f, TRUE);
}

/* Both legs (and a referred call) hung up: the call cannot go on. */
static void
hang_up_all (SfCtx *ctx, SfB2bCall *c)
{
  if (c->ended_by == NULL)
    c->ended_by = "bridge";
  drive (ctx, c->a, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  drive (ctx, c->b, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  drive (ctx, c->xfer, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
}

/* A leg accepted a REFER (child:refer, after refer_check said yes): the
 * bridge is the transferee.  The referred call is a new leg on the
 * transferor's side that calls the Refer-To with the INVITE lines the leg
 * made (Referred-By, an embedded Replaces) and, as its offer, the last SDP
 * the side that stays sent us (RFC 3725 4.1's flow, the offer already known);
 * its progress goes to the REFER's notifier (NOTIFYs with sipfrag, RFC 3515
 * 2.4.5) through the leg itself.  A REFER that raced a change of the call (the
 * check said yes, the call moved on): the notifier is told 503. */
static SfOpResult
sf_op_bridge_refer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  char side = c != NULL ? side_of (c, ev) : 0;
  const SfUaLegNote *n = sf_event_payload (ev);
  if (side == 0 || n == NULL || n->body == NULL)
    return SF_OP_SKIP;
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  /* RFC 4568 8: the new party gets SDES keys only over TLS, like B (and
   * then the side that stays gets none from it either) */
  if (c->to_a.crypto_ok && !keys_in_clear (ctx) && !hop_over_tls (ctx, n->body))
    c->to_a.crypto_ok = c->to_b.crypto_ok = FALSE;
  const char *stay = side == 'a' ? c->sdp_from_b : c->sdp_from_a;
  g_autofree char *offer = NULL;
  if (stay != NULL && c->sides_set)
    offer = sf_sdp_bridge_rewrite (stay, strlen (stay), side == 'a' ? &c->to_a : &c->to_b, NULL, NULL);
  SfInstance *leg = NULL;
  if (c->xfer == NULL && c->answered && c->ended_by == NULL && c->a != NULL && c->b != NULL && offer != NULL)
    leg = spawn_leg (ctx, FALSE);
  if (leg == NULL) {
    /* no offer to make (the call has no SDP of the side that stays), or the
     * call moved on since the check: the REFER's outcome is a failure */
    SfInstance *ni = n->notifier != NULL ? sf_endpoint_lookup_handle (ep, n->notifier) : NULL;
    if (ni != NULL && !sf_instance_ended (ni))
      sf_endpoint_post (ep, ni, sf_event_new (SF_EV_DEVICE, "refer_progress", "503 Service Unavailable"));
    sf_log (ctx, G_LOG_LEVEL_INFO, "transfer to %s not made (the call changed, or no SDP to offer)", n->body);
    return SF_OP_DONE;
  }
  g_free (c->xfer);
  c->xfer = g_strdup (sf_instance_handle (leg));
  c->xfer_side = side;
  g_free (c->xfer_target);
  c->xfer_target = g_strdup (n->body);
  g_free (c->xfer_sent);
  c->xfer_sent = g_strdup (stay);
  g_clear_pointer (&c->xfer_answer, sf_ua_leg_note_free);
  SfUaLegCall *lc = g_new0 (SfUaLegCall, 1);
  lc->target = g_strdup (n->body);
  lc->from = g_strdup (c->st->from);
  lc->max_forwards = c->max_forwards;
  lc->offer.ctype = g_strdup ("application/sdp");
  lc->offer.body = g_steal_pointer (&offer);
  lc->offer.lines = n->lines != NULL ? g_ptr_array_ref (n->lines) : NULL;
  lc->refer_notifier = g_strdup (n->notifier);
  lc->referred_by = g_strdup (n->reason);
  emit_xfer (ctx, c, "started", 0);
  sf_endpoint_post (ep, leg, sf_event_new_full (SF_EV_DEVICE, SF_UA_LEG_DOWN_CALL, lc->target, lc,
                                                (GDestroyNotify) sf_ua_leg_call_free));
  return SF_OP_DONE;
}

/* The side that stays gets the referred call's SDP as an offer (a re-INVITE
 * in its dialog: RFC 3264 8, its peer changed); FALSE when it cannot go (the
 * call is hung up). */
static gboolean
transfer_reoffer (SfCtx *ctx, SfB2bCall *c)
{
  char x = c->xfer_side, y = x == 'a' ? 'b' : 'a';
  SfUaLegNote *out = note_across (c, x, c->xfer_answer, 0);
  if (out == NULL || !drive (ctx, y == 'a' ? c->a : c->b, SF_UA_LEG_DOWN_REOFFER, NULL, out)) {
    if (out == NULL)
      sf_log (ctx, G_LOG_LEVEL_INFO, "the referred call's SDP is unreadable: the call ends");
    hang_up_all (ctx, c);
    return FALSE;
  }
  c->offer_from = 't';
  return TRUE;
}

/* The answer to the bridge's own offer of a transfer ('t': the side that
 * stays answers the referred call's SDP; 'T': the referred call answers the
 * side that stays's new SDP).  A 491 (an offer of that side's own crossed
 * ours, RFC 3261 14.1) is tried again by timer:xfer_retry; another failure
 * ends the call: its media no longer meet. */
static void
transfer_offer_answered (SfCtx *ctx, SfB2bCall *c, char side, const SfUaLegNote *n, guint status)
{
  char kind = c->offer_from;
  c->offer_from = 0;
  if (kind == 'T') { /* the referred call's answer: the relay learns where it receives */
    if (status < 300) {
      SfUaLegNote *out = note_across (c, side, n, 0);
      sf_ua_leg_note_free (out);
    } else if (status == 408 || status == 481) {
      hang_up_all (ctx, c);
    }
    return;
  }
  if (status == 491 && c->xfer_answer != NULL) {
    /* 14.1: 2.1 to 4 s when we own the dialog's Call-ID (side b, the call we
     * made), else up to 2 s */
    guint ms = side == 'b' ? (guint) g_random_int_range (2100, 4001) : (guint) g_random_int_range (10, 2001);
    sf_ctx_timer_start (ctx, "xfer_retry", ms);
    return;
  }
  if (status >= 300) {
    sf_log (ctx, G_LOG_LEVEL_INFO, "the transferred call's re-INVITE got %u: the call ends", status);
    g_clear_pointer (&c->xfer_answer, sf_ua_leg_note_free);
    hang_up_all (ctx, c);
    return;
  }
  g_clear_pointer (&c->xfer_answer, sf_ua_leg_note_free);
  SfUaLegNote *out = note_across (c, side, n, 0);
  if (out == NULL) {
    hang_up_all (ctx, c);
    return;
  }
  /* The referred call was offered what this side sent before; an answer
   * that moved its media (a new port, pass mode) must reach it too. */
  if (!sdp_same_media (c->xfer_sent, n != NULL ? n->body : NULL)) {
    g_free (c->xfer_sent);
    c->xfer_sent = g_strdup (n->body);
    if (drive (ctx, c->xfer_side == 'a' ? c->a : c->b, SF_UA_LEG_DOWN_REOFFER, NULL, out))
      c->offer_from = 'T';
    return;
  }
  sf_ua_leg_note_free (out);
}

static const char *const xfer_answered_outcomes[] = { "failed", NULL };

/* The referred call answered: it takes the transferor's place (the
 * transferor's leg, if still up, gets a BYE: its NOTIFY 200 went first, RFC
 * 5589 6 has the transferor end it anyway), and the side that stays gets its
 * SDP as an offer.  An offer crossing between the old legs: the staying
 * side's kept one is refused 491 (it offers again, 14.1, now to the referred
 * call); our offer waits for one of the transferor's (OpBridgeOfferAnswered). */
static SfOpResult
sf_op_bridge_transfer_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || !is_xfer (c, ev))
    return SF_OP_SKIP;
  const SfUaLegNote *n = sf_event_payload (ev);
  char x = c->xfer_side, y = x == 'a' ? 'b' : 'a';
  char **xh = x == 'a' ? &c->a : &c->b;
  g_autofree char *old = g_steal_pointer (xh);
  *xh = g_steal_pointer (&c->xfer);
  if (old != NULL)
    drive (ctx, old, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  if (x == 'b')
    learn_b_call_id (ctx, c, ev);
  c->transfers++;
  emit_xfer (ctx, c, "succeeded", 200);
  sf_ua_leg_note_free (c->xfer_answer);
  c->xfer_answer = copy_note (n, 200);
  if (c->offer_from == y) {
    drive (ctx, y == 'a' ? c->a : c->b, SF_UA_LEG_DOWN_REANSWER, NULL, sf_ua_leg_note_new (491, NULL, NULL));
    c->offer_from = 0;
  }
  if (c->offer_from != 0)
    return SF_OP_DONE;
  return transfer_reoffer (ctx, c) ? SF_OP_DONE : SF_OP_OUTCOME (0);
}

static const char *const xfer_failed_outcomes[] = { "ended", NULL };

/* The referred call failed (its call_end before an answer): its notifier has
 * told the transferor (the leg's own sipfrag NOTIFY); the call goes on as it
 * was, unless the transferor hung up meanwhile: then the side that stays is
 * hung up (outcome ended). */
static SfOpResult
sf_op_bridge_transfer_failed (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || !is_xfer (c, ev))
    return SF_OP_SKIP;
  gboolean end = strcmp (sf_event_name (ev), "end") == 0;
  const SfUaLegNote *n = end ? NULL : sf_event_payload (ev);
  emit_xfer (ctx, c, "failed", n != NULL ? n->status : 0);
  char x = c->xfer_side;
  g_clear_pointer (&c->xfer, g_free); /* its end, if it comes after, is no one's */
  if ((x == 'a' ? c->a : c->b) != NULL)
    return SF_OP_DONE;
  if (c->ended_by == NULL)
    c->ended_by = x == 'a' ? "a" : "b";
  drive (ctx, x == 'a' ? c->b : c->a, SF_UA_LEG_DOWN_HANGUP, NULL, NULL);
  return SF_OP_OUTCOME (0);
}

/* timer:xfer_retry: the transfer's offer again after a 491. */
static SfOpResult
sf_op_bridge_transfer_retry (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c == NULL || c->xfer_answer == NULL)
    return SF_OP_DONE;
  if (c->offer_from != 0) /* another offer crosses: ours follows it (OpBridgeOfferAnswered) */
    return SF_OP_DONE;
  return transfer_reoffer (ctx, c) ? SF_OP_DONE : SF_OP_OUTCOME (0);
}

/* ---- Ending ---- */

/* Entry of Ending: when no leg is left, a child:end of no leg is posted so
 * OpBridgeGone ends the bridge (an entry queue cannot transition). */
static SfOpResult
sf_op_bridge_check_gone (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfB2bCall *c = sf_b2b_call (ctx);
  if (c != NULL && c->a == NULL && c->b == NULL && c->xfer == NULL)
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
    const char *legs[] = { c->a, c->b, c->xfer };
    for (guint i = 0; i < G_N_ELEMENTS (legs); i++) {
      SfInstance *l = legs[i] != NULL ? sf_endpoint_lookup_handle (ep, legs[i]) : NULL;
      if (l != NULL)
        sf_endpoint_end (ep, l, "bridge guard");
    }
    g_clear_pointer (&c->a, g_free);
    g_clear_pointer (&c->b, g_free);
    g_clear_pointer (&c->xfer, g_free);
    return SF_OP_TRANSITION;
  }
  note_end (ctx, c, ev); /* end: the leg forgotten; call_end: statuses and reasons */
  return c->a == NULL && c->b == NULL && c->xfer == NULL ? SF_OP_TRANSITION : SF_OP_DONE;
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
  g_string_append_printf (f, ",\"transfers\":%u", c->transfers);
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
    NULL, "B answered: A gets 200 with B's answer (after a reliable 1xx, that 1xx's answer again, and B's SDP as "
    "our offer once A's ACK came when its media differ); transitions", "child:answered", NULL,
    "RFC 3261 13.3.1.4, 13.2.1" },
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
  { "OpBridgeAck", sf_op_bridge_ack, SF_Q_NORMAL, SF_EV_CHILD, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "A's ACK answered the offer our 200 carried, B's from its 2xx to an INVITE without offer: B's leg sends its "
    "held ACK with the answer (device:ack; an unreadable one: none, and B's leg hangs up)", "child:ack", NULL,
    "RFC 3261 13.2.1, RFC 3264 4" },
  { "OpBridgeInfo", sf_op_bridge_info, SF_Q_NORMAL, SF_EV_CHILD, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a leg answered an INFO in its dialog: the other leg sends one with the same Content-Type and body (its answer "
    "is not relayed)", "child:info", NULL, "RFC 6086 4.2" },
  { "OpBridgeRefer", sf_op_bridge_refer, SF_Q_NORMAL, SF_EV_CHILD, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a leg accepted a REFER (b2bua.refer allowed it): the referred call is a new leg on the transferor's side, "
    "calling the Refer-To with the side that stays's last SDP as its offer; its progress goes to the REFER's "
    "notifier", "child:refer", NULL, "RFC 3515 2.4.4, RFC 5589 6" },
  { "OpBridgeTransferAnswered", sf_op_bridge_transfer_answered, SF_Q_NORMAL, SF_EV_CHILD, 0,
    xfer_answered_outcomes, SF_ARG_NONE, NULL, NULL,
    "the referred call answered: it takes the transferor's place (the transferor's leg hung up) and the side that "
    "stays gets its SDP in a re-INVITE; outcome failed when that cannot go (the call is hung up)", "child:answered",
    NULL, "RFC 3264 8, RFC 5589 6" },
  { "OpBridgeTransferFailed", sf_op_bridge_transfer_failed, SF_Q_NORMAL, SF_EV_CHILD, 0,
    xfer_failed_outcomes, SF_ARG_NONE, NULL, NULL,
    "the referred call failed before answering: the call goes on, unless the transferor hung up meanwhile: then the "
    "side that stays is hung up (outcome ended)", "child:call_end|child:end", NULL, "RFC 5589 6" },
  { "OpBridgeTransferRetry", sf_op_bridge_transfer_retry, SF_Q_NORMAL, SF_EV_TIMER, 0,
    xfer_answered_outcomes, SF_ARG_NONE, NULL, NULL,
    "the transfer's re-INVITE again after a 491 (RFC 3261 14.1); outcome failed when it cannot go",
    "timer:xfer_retry", NULL, "RFC 3261 14.1" },
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
