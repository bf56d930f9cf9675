/* sf-op-ua.c: the answering side of the user agent, named after VOCAL's
 * (OpRing, OpStartRinging, OpAnswerCall, OpAck, OpEndCall...): RFC 3261 13.3
 * (the UAS core for INVITE), 15.1.2 (BYE), 9.2 (CANCEL), 14.2 (re-INVITE) and
 * RFC 3264 6 (the answer to an offer).  What a call keeps is an SfUaCall
 * (sf-ua-call.h). */
#include "config.h"
#include "sf-ua-call.h"
#include "sf-session-timer.h"
#include "framework/sf-endpoint.h"
#include "framework/sf-clock.h"
#include "framework/sf-json.h"
#include "framework/sf-flow.h"
#include "sipflow/sf-message.h"
#include "operators/registrar/sf-registrar.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include "sf-subscribe.h"
#include <string.h>

/* What the UA takes: one list for its 2xx, its answers to OPTIONS and the
 * stack's 405s (21.4.6; operators/transaction/sf-stack.h). */
#define ALLOW SF_STACK_ALLOW

/* "ADDR:PORT" of the socket a request came in on (transfer full). */
static char *
local_of (const SfSipPeer *p)
{
  if (p->local == NULL)
    return g_strdup ("127.0.0.1:5060");
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (p->local));
  gboolean v6 = strchr (ip, ':') != NULL;
  return g_strdup_printf ("%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "", g_inet_socket_address_get_port (p->local));
}

/* A response to @req with @tag, our Contact and Allow, an optional body and an
 * optional further header line (Contact of a 3xx replaces ours). */
SfSipMsg *
sf_ua_build_response (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *peer, guint status, const char *tag,
                      const char *ctype, const char *body, const char *contact_override)
{
  g_autoptr (SfSipMsg) base = sf_sip_create_response (req, status, NULL, tag, NULL);
  if (base == NULL)
    return NULL;
  if (status < 101)
    return g_steal_pointer (&base);
  g_autofree char *reason = sf_sip_str_dup (sf_sip_msg_reason (base));
  SfSipBuilder *b = sf_sip_builder_response (status, reason);
  for (guint i = 0; i < sf_sip_msg_n_headers (base); i++) {
    const SfSipHdr *h = sf_sip_msg_header (base, i);
    if (h->id != SF_SIP_HDR_CONTENT_LENGTH)
      sf_sip_builder_add_line (b, h);
  }
  if (contact_override != NULL) {
    sf_sip_builder_add (b, "Contact", "%s", contact_override);
  } else if (status < 300) {
    /* sip.advertise, when set, else the socket the request came in on */
    SfStack *st = sf_stack_from_ctx (ctx);
    g_autofree char *local = st != NULL && sf_stack_advertised (st) != NULL ? sf_stack_local (st, peer->proto) : NULL;
    if (local == NULL)
      local = local_of (peer);
    const SfSipUri *ruri = sf_sip_msg_ruri (req);
    g_autofree char *contact = sf_ua_contact (ctx, local, peer->proto, ruri != NULL && ruri->kind == SF_URI_SIPS);
    sf_sip_builder_add (b, "Contact", "%s", contact);
  }
  sf_sip_builder_add (b, "Allow", ALLOW);
  sf_ua_se_response_lines (ctx, req, status, b); /* a 2xx to INVITE or UPDATE: Session-Expires (RFC 4028 9) */
  if (ctype != NULL)
    sf_sip_builder_body (b, ctype, body, strlen (body));
  return sf_sip_builder_finish (b, NULL);
}

/* A response to the kept INVITE, sent through its server transaction; a final
 * one is remembered so the call's end does not answer twice.  Returns the
 * response sent (transfer full), NULL when it could not be built or sent. */
static SfSipMsg *
answer_invite (SfCtx *ctx, SfUaCall *call, guint status, const char *ctype, const char *body, const char *contact)
{
  if (call->invite == NULL)
    return NULL;
  SfSipMsg *r = sf_ua_build_response (ctx, call->invite->msg, &call->invite->peer, status, call->tag, ctype, body, contact);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), call->invite->txn, r)) {
    g_clear_pointer (&r, sf_sip_msg_unref);
    return NULL;
  }
  if (status >= 200) {
    call->final_sent = TRUE;
    if (call->status == 0)
      call->status = status;
  }
  return r;
}

/* 12.1.1: the dialog our response @r creates, kept (an early one replaced by the confirmed one). */
static void
keep_dialog (SfCtx *ctx, SfUaCall *call, SfSipMsg *r)
{
  g_autoptr (GError) error = NULL;
  SfSipDialog *d = sf_sip_dialog_new_uas (call->invite->msg, r, &error);
  if (d == NULL) {
    g_info ("%s: no dialog: %s", sf_ctx_handle (ctx), error->message); /* e.g. an INVITE without Contact */
    return;
  }
  SfSipDialog *was = call->dialog;
  if (was != NULL && was->early && g_strcmp0 (was->local_tag, d->local_tag) == 0) {
    /* The early dialog confirmed is the same dialog (12.1): the requests in it
     * (PRACK, UPDATE: RFC 3262, RFC 3311) moved its remote CSeq (12.2.2: a
     * lower one is out of order) and an UPDATE refreshed its target (RFC
     * 3311 5.2); a dialog made anew from the INVITE would forget both. */
    d->remote_cseq = MAX (d->remote_cseq, was->remote_cseq);
    d->local_cseq = MAX (d->local_cseq, was->local_cseq);
    g_free (d->remote_target);
    d->remote_target = g_strdup (was->remote_target);
  }
  g_clear_pointer (&call->dialog, sf_sip_dialog_free);
  call->dialog = d;
  sf_ctx_emit (ctx, "dialog", d->early ? "\"dialog_state\":\"early\"" : "\"dialog_state\":\"confirmed\"");
}

/* A simple response (no Contact) to @e through its own transaction. */
static gboolean
respond_plain (SfCtx *ctx, SfSipEvent *e, guint status, const char *tag)
{
  g_autoptr (SfSipMsg) r = sf_sip_create_response (e->msg, status, NULL, tag, NULL);
  return r != NULL && sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r);
}

/* An INVITE outside a dialog, for a call that keeps none yet (a second one in
 * the same instance is not a new call: OpRefuse's 482, or the flow's business). */
static gboolean
is_new_invite (SfCtx *ctx, SfEvent *ev)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *kept = sf_ua_call_peek (ctx);
  return strcmp (ev->name, "INVITE") == 0 && e != NULL && sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL &&
         (kept == NULL || kept->invite == NULL);
}

/* A body that is SDP (Content-Type application/sdp), or NULL. */
static gboolean
sdp_body (SfSipMsg *m, SfSipStr *out)
{
  SfSipStr body = sf_sip_msg_body (m);
  if (body.len == 0)
    return FALSE;
  const SfSipValue *ct = sf_sip_msg_value (m, SF_SIP_HDR_CONTENT_TYPE, NULL);
  if (ct == NULL || !sf_sip_str_caseeq (ct->text, "application/sdp")) /* media types: any case (7.3.1) */
    return FALSE;
  *out = body;
  return TRUE;
}

gboolean
sf_ua_sdp_body (SfSipMsg *m, SfSipStr *out)
{
  return sdp_body (m, out);
}

/* Writes a "media" event with the negotiated stream. */
static void
emit_media (SfCtx *ctx, SfUaCall *call, const char *why)
{
  g_autofree char *m = sf_sdp_media_json (&call->media);
  GString *f = g_string_new ("\"why\":");
  sf_json_append_string (f, why);
  g_string_append_printf (f, ",%s", m);
  sf_ctx_emit (ctx, "media", f->str);
  g_string_free (f, TRUE);
}

/* The stream follows a new negotiation (hold, resume, new remote address). */
static void
media_follow (SfCtx *ctx, SfUaCall *call, const char *why)
{
  emit_media (ctx, call, why);
  if (call->stream != NULL) {
    g_autoptr (GError) error = NULL;
    if (!sf_media_update (call->stream, &call->media, &error))
      g_warning ("%s: media: %s", sf_ctx_handle (ctx), error->message);
  }
}

void
sf_ua_media_follow (SfCtx *ctx, SfUaCall *call, const char *why)
{
  media_follow (ctx, call, why);
}

/* ---- screening a new INVITE ---- */

/* The call of an INVITE refused at once: kept (for call_end), marked answered. */
SfUaCall *
sf_ua_call_screened (SfCtx *ctx, SfSipEvent *e)
{
  SfUaCall *call = sf_ua_call (ctx);
  call->incoming = TRUE;
  call->invite = sf_sip_event_new (e->msg, &e->peer, e->txn);
  call->tag = sf_sip_random_tag ();
  sf_stack_set_local_tag (ctx, call->tag);
  sf_ua_call_set_call_id (ctx, sf_sip_msg_call_id (e->msg));
  call->final_sent = TRUE;
  return call;
}

/* 8.2.2.1: an INVITE for a user other than ua.uri's gets 404 (with ua.uri unset, every user is ours). */
static SfOpResult
sf_op_check_callee (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *kept = sf_ua_call_peek (ctx);
  if (!is_new_invite (ctx, ev) || (kept != NULL && kept->leg != NULL)) /* a B2BUA leg: the bridge screens */
    return SF_OP_SKIP;
  SfSipEvent *e = ev->payload;
  g_autofree char *user = sf_ua_user (ctx);
  const SfSipUri *ruri = sf_sip_msg_ruri (e->msg);
  if (user == NULL || ruri == NULL)
    return SF_OP_SKIP;
  gsize asked_len = 0;
  g_autofree char *asked = sf_sip_unescape (ruri->user, &asked_len);
  if (asked != NULL && asked_len == strlen (asked) && strcmp (asked, user) == 0) /* all of it (19.1.4): no %00 */
    return SF_OP_SKIP;
  SfUaCall *call = sf_ua_call_screened (ctx, e);
  if (!respond_plain (ctx, e, 404, call->tag))
    return SF_OP_ERROR;
  sf_ua_call_set_reason (call, "not_found", 404);
  return SF_OP_TRANSITION;
}

/* 8.2.2.3: a request this UA serves (INVITE, BYE, OPTIONS; not ACK or CANCEL,
 * whose Require is not to be checked) whose Require names option tags gets 420
 * Bad Extension with Unsupported listing those the UA does not support
 * (sf_ua_supports: 100rel unless ua.100rel is off), across every Require
 * line (Supported alone is no obligation).  A new INVITE: its call ends (outcome invite, call_end
 * bad_extension); any other request to an instance holding no call (an
 * OPTIONS): outcome alone; inside a call: refused, the call goes on. */
static const char *const extension_outcomes[] = { "invite", "alone", NULL };

static SfOpResult
sf_op_bad_extension (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (e == NULL || e->txn == NULL || !sf_sip_msg_is_request (e->msg) ||
      (strcmp (ev->name, "INVITE") != 0 && strcmp (ev->name, "BYE") != 0 && strcmp (ev->name, "OPTIONS") != 0))
    return SF_OP_SKIP;
  g_autofree char *unsupported = sf_ua_unsupported (ctx, e->msg);
  if (unsupported == NULL)
    return SF_OP_SKIP;
  const char *const lines[] = { unsupported, NULL };
  gboolean invite = is_new_invite (ctx, ev);
  gboolean alone = !invite && sf_ua_call_peek (ctx) == NULL;
  g_autofree char *own = NULL;
  const char *tag = NULL; /* a To tag only outside a dialog (8.2.6.2) */
  if (invite)
    tag = sf_ua_call_screened (ctx, e)->tag;
  else if (sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL)
    tag = own = sf_sip_random_tag ();
  g_info ("%s: %s with %s: 420 (8.2.2.3)", sf_ctx_handle (ctx), ev->name, unsupported);
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, 420, NULL, tag, lines, NULL);
  if (r == NULL)
    r = sf_sip_create_response (e->msg, 500, "Response Too Large", tag, NULL);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
  if (invite) {
    sf_ua_call_set_reason (sf_ua_call_peek (ctx), "bad_extension", 420);
    return SF_OP_OUTCOME (0);
  }
  return alone ? SF_OP_OUTCOME (1) : SF_OP_DONE;
}

/* The calls of this machine alive now, this one aside.  Our MESSAGE outside a
 * dialog (MessagePending: RFC 3428 4, no call, no dialog) is none: it took a
 * slot for as long as its far end kept it waiting (Timer F, again after each
 * challenge), and an INVITE got 486 meanwhile. */
static guint
calls_up (SfCtx *ctx)
{
  SfInstance *self = sf_ctx_instance (ctx);
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  g_autoptr (GPtrArray) all = sf_endpoint_instances (ep);
  guint n = 0;
  for (guint i = 0; i < all->len; i++)
    if (all->pdata[i] != self && sf_instance_machine (all->pdata[i]) == sf_instance_machine (self) &&
        !sf_instance_ended (all->pdata[i]) && !sf_ua_message_alone (ep, all->pdata[i]))
      n++;
  return n;
}

/* A new INVITE when ua.max_calls calls are up already: 486 Busy Here. */
typedef struct _RedirectArg RedirectArg;
static char *redirect_contacts (SfCtx *ctx, SfEvent *ev, const RedirectArg *r);
static guint redirect_status (const RedirectArg *r);

/* The "redirected" event line: where a call went (OpRedirectCall, OpBusyHere). */
static void
emit_redirected (SfCtx *ctx, guint status, const char *contact)
{
  GString *f = g_string_new (NULL);
  g_string_append_printf (f, "\"status\":%u,\"contact\":", status);
  sf_json_append_string (f, contact);
  sf_ctx_emit (ctx, "redirected", f->str);
  g_string_free (f, TRUE);
}

/* ua.max_calls calls up: 486 Busy Here, or, with an arg, forwarded on busy:
 * the redirection the arg names ("302 ${cfg.flow.busy}"), as OpRedirectCall's. */
static SfOpResult
sf_op_busy_here (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *replacing = sf_ua_call_peek (ctx);
  if (!is_new_invite (ctx, ev) || (replacing != NULL && replacing->leg != NULL) || /* a leg: b2bua.max_calls */
      calls_up (ctx) < (guint) sf_ua_cfg_int (ctx, "max_calls") ||
      (replacing != NULL && replacing->replaces != NULL)) /* it takes the place of a call (RFC 3891): no more calls up */
    return SF_OP_SKIP;
  SfUaCall *call = sf_ua_call_screened (ctx, ev->payload);
  g_autofree char *contact = arg != NULL ? redirect_contacts (ctx, ev, arg) : NULL;
  if (contact != NULL) {
    guint status = redirect_status (arg);
    SfSipEvent *e = ev->payload;
    g_autoptr (SfSipMsg) r = sf_ua_build_response (ctx, e->msg, &e->peer, status, call->tag, NULL, NULL, contact);
    if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
      return SF_OP_ERROR;
    sf_ua_call_set_reason (call, "forwarded_busy", status);
    emit_redirected (ctx, status, contact);
    return SF_OP_TRANSITION;
  }
  if (!respond_plain (ctx, ev->payload, 486, call->tag))
    return SF_OP_ERROR;
  sf_ua_call_set_reason (call, "max_calls", 486);
  return SF_OP_TRANSITION;
}

/* What an answer to OPTIONS says we take (11.2). */
static const char *const caps[] = { "Allow: " ALLOW, "Accept: application/sdp", "Accept-Encoding: identity",
                                    "Accept-Language: en", NULL };
/* and Supported (sf_ua_supported_line), and the event packages we serve when
 * there are any (Allow-Events, RFC 6665 4.4.4; NULL ends the list) */
#define CAPS_WITH(sup) { caps[0], caps[1], caps[2], caps[3], (sup), sf_sub_allow_events_line (), NULL }

/* An OPTIONS outside a dialog (11.2): 200 with what we take (Allow, Accept,
 * Accept-Encoding, Accept-Language, Supported), or 486 when ua.max_calls calls
 * are up, as an INVITE would get; the instance ends. */
static SfOpResult
sf_op_options (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "OPTIONS") != 0 || e == NULL || sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL)
    return SF_OP_SKIP;
  gboolean busy = calls_up (ctx) >= (guint) sf_ua_cfg_int (ctx, "max_calls");
  g_autofree char *tag = sf_sip_random_tag ();
  g_autofree char *sup = sf_ua_supported_line (ctx);
  const char *const lines[] = CAPS_WITH (sup);
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, busy ? 486 : 200, NULL, tag, lines, NULL);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
  return SF_OP_TRANSITION;
}

/* An OPTIONS inside the call's dialog (11: a UA that advertises OPTIONS
 * answers it in a dialog too): 200 with the same Allow, Accept and Supported
 * as outside; not our dialog's To tag: 481, a CSeq out of order: 500 (12.2.2).
 * The call goes on. */
static SfOpResult
sf_op_dialog_options (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "OPTIONS") != 0 || e == NULL || call == NULL || call->dialog == NULL ||
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL)
    return SF_OP_SKIP;
  guint status = 200;
  sf_sip_dialog_request_in (call->dialog, e->msg, &status);
  g_autofree char *sup = sf_ua_supported_line (ctx);
  const char *const lines[] = CAPS_WITH (sup);
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, status, NULL, NULL, status == 200 ? lines : NULL, NULL);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
  return SF_OP_DONE;
}

static const char *const ring_outcomes[] = { "refused", NULL };

/* An INVITE: kept with our To tag (13.3.1.1), its offer answered now (a bad or
 * unacceptable one gets 488, outcome refused), then 180 Ringing, or, for
 * @early, 183 Session Progress carrying the answer (RFC 3960's early media:
 * the stream may start before the call is answered).  The answer goes with
 * the 200 too, the same (RFC 3264 4: an answer in an unreliable 1xx is not
 * final, 13.2.1). */
static SfOpResult
ring (SfCtx *ctx, SfEvent *ev, gboolean early)
{
  if (!is_new_invite (ctx, ev))
    return SF_OP_SKIP;
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call (ctx);
  call->incoming = TRUE;
  call->invite = sf_sip_event_new (e->msg, &e->peer, e->txn);
  call->tag = sf_sip_random_tag ();
  sf_stack_set_local_tag (ctx, call->tag);
  sf_ua_call_set_call_id (ctx, sf_sip_msg_call_id (e->msg));
  if (sf_sip_msg_value (e->msg, SF_SIP_HDR_CONTACT, NULL) == NULL) {
    /* 8.1.1.8: an INVITE MUST have a Contact, or there is no dialog to hang up later. */
    g_autoptr (SfSipMsg) r = sf_sip_create_response (e->msg, 400, "Missing Contact", call->tag, NULL);
    if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
      return SF_OP_ERROR;
    call->final_sent = TRUE;
    sf_ua_call_set_reason (call, "bad_request", 400);
    return SF_OP_OUTCOME (0);
  }
  SfSipStr offer;
  if (call->leg != NULL && sdp_body (e->msg, &offer)) {
    /* a B2BUA leg: the offer is the bridge's to relay; the answer comes with
     * device:progress or device:answer (docs/ua.md "Leg mode") */
    call->offer_in = TRUE;
  } else if (sdp_body (e->msg, &offer)) {
    g_autofree char *local = local_of (&e->peer);
    g_autofree char *host = sf_ua_host_of (local);
    g_autoptr (GError) error = NULL;
    SfSdpSession *sdp = sf_ua_call_sdp (ctx, call, host, &error);
    if (sdp != NULL)
      call->pending_answer = sf_sdp_session_answer (sdp, offer.p, offer.len, SF_SDP_SENDRECV, &call->media, &error);
    if (call->pending_answer == NULL) {
      g_info ("%s: 488: %s", sf_ctx_handle (ctx), error->message);
      g_autoptr (SfSipMsg) r = sf_ua_build_response (ctx, e->msg, &e->peer, 488, call->tag, NULL, NULL, NULL);
      if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
        return SF_OP_ERROR;
      call->final_sent = TRUE;
      sf_ua_call_set_reason (call, "bad_offer", 488);
      GString *f = g_string_new ("\"message\":");
      sf_json_append_string (f, error->message);
      sf_ctx_emit (ctx, "sdp_refused", f->str);
      g_string_free (f, TRUE);
      return SF_OP_OUTCOME (0);
    }
    call->have_media = TRUE;
    call->offer_in = TRUE; /* answered for good only by the 200 (an unreliable 1xx's answer is not final, 13.2.1) */
  } else if (sf_sip_msg_body (e->msg).len > 0) {
    /* A body we cannot take (13.3.1: 415 with Accept, 21.4.13). */
    static const char *const accept[] = { "Accept: application/sdp", NULL };
    g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, 415, NULL, call->tag, accept, NULL);
    if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
      return SF_OP_ERROR;
    call->final_sent = TRUE;
    sf_ua_call_set_reason (call, "unsupported_body", 415);
    return SF_OP_OUTCOME (0);
  }
  g_autoptr (SfSipMsg) r = NULL;
  if (call->leg != NULL) {
    /* a B2BUA leg sends no 1xx of its own: the callee's progress comes as device:progress */
  } else if (call->replaces != NULL) {
    /* RFC 3891 3: it replaces a call already accepted (OpReplaces): no 1xx,
     * OpAnswerReplacing answers it at once */
  } else if (sf_ua_prack_reliable (ctx, call, early)) {
    /* RFC 3262 3 (sf-op-prack.c): Require: 100rel and RSeq, the answer or our offer in it */
    r = sf_ua_prack_send_1xx (ctx, call, early ? 183 : 180);
    call->media_new = early && call->pending_answer != NULL; /* OpStartAudio starts the early stream */
    if (r == NULL) {
      /* No reliable 1xx could go (our offer for an INVITE without one cannot be
       * made: media.srtp = require on an insecure hop, no RTP port left): the
       * INVITE is refused at once (488, as an offer we cannot take), not left
       * unanswered with the call's instance in Idle for good. */
      g_autoptr (SfSipMsg) no = sf_ua_build_response (ctx, e->msg, &e->peer, 488, call->tag, NULL, NULL, NULL);
      if (no != NULL && sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, no))
        call->final_sent = TRUE;
      sf_ua_call_set_reason (call, "sdp_failed", 488);
      return SF_OP_OUTCOME (0);
    }
  } else if (early && call->pending_answer != NULL) {
    r = answer_invite (ctx, call, 183, "application/sdp", call->pending_answer, NULL);
    call->media_new = TRUE; /* OpStartAudio starts the early stream */
  } else {
    /* No offer: an answer may not go in an unreliable 1xx (13.2.1, and we do
     * no 100rel), so 183 carries none and there is no early media. */
    if (early)
      g_info ("%s: an INVITE without offer: 183 without early media", sf_ctx_handle (ctx));
    r = answer_invite (ctx, call, early ? 183 : 180, NULL, NULL, NULL);
  }
  if (r == NULL && call->replaces == NULL && call->leg == NULL)
    return SF_OP_ERROR;
  if (r != NULL)
    keep_dialog (ctx, call, r); /* early */
  GString *f = g_string_new (NULL);
  g_autofree char *from = sf_sip_str_dup (sf_sip_msg_from (e->msg)->raw);
  g_autofree char *to = sf_sip_str_dup (sf_sip_msg_to (e->msg)->raw);
  g_string_append (f, "\"from\":");
  sf_json_append_string (f, from);
  g_string_append (f, ",\"to\":");
  sf_json_append_string (f, to);
  if (call->replaces != NULL) {
    g_string_append (f, ",\"replaces\":");
    sf_json_append_string (f, call->replaces);
  }
  sf_ctx_emit (ctx, "incoming", f->str);
  g_string_free (f, TRUE);
  return SF_OP_TRANSITION;
}

static SfOpResult
sf_op_ring (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return ring (ctx, ev, FALSE);
}

static SfOpResult
sf_op_early_media (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return ring (ctx, ev, TRUE);
}

/* Entry of Ringing: the bell rings (the incoming event is out), and with
 * ua.auto_answer set the timer "answer" starts. */
static SfOpResult
sf_op_start_ringing (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  gint64 after = sf_ua_cfg_int (ctx, "auto_answer");
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (after >= 0 && (call == NULL || call->leg == NULL)) /* a leg answers when the bridge says */
    sf_ctx_timer_start (ctx, "answer", (guint64) after * 1000);
  /* every remote-made state ends by a timer: a caller that never sends CANCEL
   * gets 480 after ua.ring_timeout (its INVITE's Timer C, if a proxy runs one,
   * is about as long: 3 minutes, RFC 3261 16.6 step 11) */
  sf_ctx_timer_start (ctx, "ring_timeout", (guint64) sf_ua_cfg_int (ctx, "ring_timeout") * 1000);
  return SF_OP_CONTINUE;
}

/* Exit of Ringing: the bell stops. */
static SfOpResult
sf_op_stop_ringing (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  sf_ctx_timer_cancel (ctx, "answer");
  sf_ctx_timer_cancel (ctx, "ring_timeout");
  return SF_OP_CONTINUE;
}

/* Does the ACK @m carry our tag in To (12.2.2: the dialog's local tag, our To
 * tag as UAS)?  Without a call, nothing to compare: yes. */
static gboolean
ack_in_dialog (SfUaCall *call, SfSipMsg *m)
{
  const char *ours = call == NULL ? NULL : call->dialog != NULL ? call->dialog->local_tag : call->tag;
  if (ours == NULL)
    return TRUE;
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (m), "tag");
  return tt != NULL && sf_sip_str_eq (tt->value, ours);
}

/* Keeps @r, a 2xx to the request of @e, for retransmission until its ACK (13.3.1.4). */
static void
keep_2xx (SfCtx *ctx, SfUaCall *call, SfSipMsg *r, const SfSipPeer *peer, const char *txn)
{
  g_clear_pointer (&call->ok, sf_sip_msg_unref);
  call->ok = sf_sip_msg_ref (r);
  g_free (call->ok_txn);
  call->ok_txn = g_strdup (txn);
  sf_sip_peer_clear (&call->ok_peer);
  sf_sip_peer_copy (&call->ok_peer, peer);
  SfStack *s = sf_stack_from_ctx (ctx);
  guint t1 = sf_stack_timer_ms (s, '1');
  /* Over every transport: a UDP hop may lie beyond a TCP one (13.3.1.4). */
  sf_stack_backoff_start (ctx, "2xx", t1);
  sf_ctx_timer_start (ctx, "no_ack", 64 * (guint64) t1);
}

/* device:answer or timer:answer: 200 OK with the SDP answer (or, for an INVITE
 * without offer, our offer: the ACK brings the answer, 13.2.1), retransmitted
 * until the ACK. */
static SfOpResult
sf_op_answer_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "answer") != 0 || call == NULL || call->invite == NULL || call->final_sent)
    return SF_OP_SKIP;
  g_autofree char *sdp = NULL;
  SfUaLegNote *note = call->leg != NULL && ev->kind == SF_EV_DEVICE ? ev->payload : NULL;
  if (call->leg != NULL && call->rel_body != NULL && call->oa_done) {
    /* the offer was answered in our reliable 1xx (RFC 3262 5): the 2xx repeats
     * that answer, not another (RFC 3264 4: one answer per offer) */
    sdp = g_strdup (call->rel_body);
  } else if (call->leg != NULL) {
    if (note == NULL || note->body == NULL) {
      g_warning ("%s: answer: a B2BUA leg answers with the SDP the bridge gives, and none came", sf_ctx_handle (ctx));
      return SF_OP_SKIP;
    }
    sdp = g_strdup (note->body);
    if (call->offer_in) {
      call->offer_in = FALSE;
      call->oa_done = TRUE;
    } else {
      /* an INVITE without offer: the bridge's SDP is our offer, the ACK brings the answer (13.2.1) */
      call->ok_has_offer = TRUE;
      call->offer_out = TRUE;
    }
    g_free (call->leg->last_sdp);
    call->leg->last_sdp = g_strdup (sdp);
  } else if (call->pending_answer != NULL) {
    sdp = g_steal_pointer (&call->pending_answer);
    call->offer_in = FALSE;
    call->oa_done = TRUE;
  } else if (call->rel_body != NULL && call->oa_done) {
    sdp = g_strdup (call->rel_body); /* offer and answer went in the reliable 1xx and its PRACK (RFC 3262 5) */
  } else {
    g_autofree char *local = local_of (&call->invite->peer);
    g_autofree char *host = sf_ua_host_of (local);
    g_autoptr (GError) error = NULL;
    SfSdpSession *s = sf_ua_call_sdp (ctx, call, host, &error);
    if (s == NULL) {
      g_warning ("%s: answer: %s", sf_ctx_handle (ctx), error->message);
      return SF_OP_ERROR;
    }
    sdp = sf_sdp_session_offer (s, call->want_dir);
    call->ok_has_offer = TRUE;
    call->offer_out = TRUE; /* the ACK brings the answer (13.2.1) */
  }
  g_autoptr (SfSipMsg) r = answer_invite (ctx, call, 200, "application/sdp", sdp, NULL);
  if (r == NULL)
    return SF_OP_ERROR;
  keep_dialog (ctx, call, r); /* confirmed */
  keep_2xx (ctx, call, r, &call->invite->peer, call->invite->txn);
  call->up_us = sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx)));
  sf_stack_count (sf_stack_from_ctx (ctx), SF_STACK_STAT_CALLS_ANSWERED);
  return SF_OP_TRANSITION;
}

/* timer:2xx: the 2xx again, its interval doubled up to T2 (13.3.1.4); the ACK
 * of a re-INVITE's 2xx stops it (an INVITE's ACK is OpAck's). */
static SfOpResult
sf_op_resend_2xx (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL)
    return SF_OP_SKIP;
  if (ev->kind == SF_EV_SIP) {
    SfSipEvent *e = ev->payload;
    if (strcmp (ev->name, "ACK") != 0 || e == NULL || call->ok == NULL || !ack_in_dialog (call, e->msg) ||
        sf_sip_msg_cseq (e->msg)->number != sf_sip_msg_cseq (call->ok)->number)
      return SF_OP_SKIP; /* a late ACK of an earlier 2xx does not stop this one; another dialog's neither (12.2.2) */
    sf_ctx_timer_cancel (ctx, "2xx");
    sf_ctx_timer_cancel (ctx, "no_ack");
    SfSipStr answer;
    if (call->ok_has_offer && sdp_body (e->msg, &answer) && call->sdp != NULL) {
      g_autoptr (GError) error = NULL;
      g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
      if (sf_sdp_session_take_answer (call->sdp, answer.p, answer.len, &m, &error)) {
        sf_ua_call_take_media (call, &m);
        media_follow (ctx, call, "ack");
      } else {
        g_warning ("%s: the answer in the ACK: %s", sf_ctx_handle (ctx), error->message);
      }
    }
    if (call->ok_has_offer)
      call->offer_out = FALSE;
    call->ok_has_offer = FALSE;
    g_clear_pointer (&call->ok, sf_sip_msg_unref);
    return SF_OP_DONE;
  }
  if (strcmp (ev->name, "2xx") != 0 || call->ok == NULL)
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  /* Through the INVITE transaction in Accepted (RFC 6026 7.1); sent directly if it is gone. */
  if (sf_stack_respond (s, call->ok_txn, call->ok) || sf_stack_send_response (s, call->ok, &call->ok_peer))
    sf_stack_count (s, SF_STACK_STAT_RETRANSMISSIONS_SENT);
  sf_stack_backoff (ctx, "2xx", TRUE);
  return SF_OP_DONE;
}

static gboolean
fixup_status (const char *text, gpointer *out, GError **error)
{
  guint64 v;
  if (!sf_sip_str_to_u64 (sf_sip_str (text, strlen (text)), 699, &v) || v < 300) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected a final status code from 300 to 699, got '%s'", text);
    return FALSE;
  }
  *out = GUINT_TO_POINTER ((guint) v);
  return TRUE;
}

/* An INVITE, or device:reject [CODE] for the one kept: refused with CODE, else
 * the status ARG (486 Busy Here, 603 Decline...); on a timer or a media event
 * (an IVR's menu timing out, one digit too many), the INVITE kept with ARG. */
static SfOpResult
sf_op_reject (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call;
  guint status = GPOINTER_TO_UINT (arg);
  if (ev->kind == SF_EV_SIP) {
    if (!is_new_invite (ctx, ev))
      return SF_OP_SKIP;
    SfSipEvent *e = ev->payload;
    call = sf_ua_call (ctx);
    call->incoming = TRUE;
    call->invite = sf_sip_event_new (e->msg, &e->peer, e->txn);
    call->tag = sf_sip_random_tag ();
    sf_stack_set_local_tag (ctx, call->tag);
    sf_ua_call_set_call_id (ctx, sf_sip_msg_call_id (e->msg));
  } else {
    call = sf_ua_call_peek (ctx);
    if ((ev->kind == SF_EV_DEVICE && strcmp (ev->name, "reject") != 0) || call == NULL || call->invite == NULL ||
        call->final_sent)
      return SF_OP_SKIP;
    SfUaLegNote *note = call->leg != NULL && ev->kind == SF_EV_DEVICE ? ev->payload : NULL;
    if (ev->kind == SF_EV_DEVICE && ev->arg != NULL)
      status = (guint) g_ascii_strtoull (ev->arg, NULL, 10);
    else if (note != NULL && note->status >= 300 && note->status <= 699)
      status = note->status; /* the bridge's mapped status (docs/b2bua.md) */
  }
  g_autoptr (SfSipMsg) r = answer_invite (ctx, call, status, NULL, NULL, NULL);
  if (r == NULL)
    return SF_OP_ERROR;
  /* nobody answered in ua.ring_timeout: like the caller's own no_answer */
  gboolean unanswered = ev->kind == SF_EV_TIMER && strcmp (ev->name, "ring_timeout") == 0;
  sf_ua_call_set_reason (call, unanswered ? "no_answer" : "rejected", status);
  return SF_OP_TRANSITION;
}

/* The targets of a redirection (8.3, 21.3): "[CODE] URI [URI...]", CODE 300-399
 * (302 when not given), the URIs ${...} expressions read when it answers. */
struct _RedirectArg {
  guint status;
  char **targets;     /* owned, NULL-terminated */
};

static guint
redirect_status (const RedirectArg *r)
{
  return r->status;
}

static void
redirect_arg_free (gpointer p)
{
  RedirectArg *r = p;
  g_strfreev (r->targets);
  g_free (r);
}

static gboolean
fixup_redirect (const char *text, gpointer *out, GError **error)
{
  g_auto (GStrv) words = g_strsplit_set (text, " \t", -1);
  g_autoptr (GPtrArray) targets = g_ptr_array_new_with_free_func (g_free);
  guint status = 302;
  for (guint i = 0; words[i] != NULL; i++) {
    if (*words[i] == '\0')
      continue;
    if (targets->len == 0 && status == 302 && g_ascii_isdigit (*words[i])) {
      guint64 v;
      if (!sf_sip_str_to_u64 (sf_sip_str (words[i], strlen (words[i])), 399, &v) || v < 300) {
        g_set_error (error, SF_OP_ARG_ERROR, 0, "expected a redirection code from 300 to 399, got '%s'", words[i]);
        return FALSE;
      }
      status = (guint) v;
      continue;
    }
    if (strpbrk (words[i], "<>\"") != NULL || (strchr (words[i], ':') == NULL && strstr (words[i], "${") == NULL)) {
      g_set_error (error, SF_OP_ARG_ERROR, 0, "'%s' is not a URI (sip:user@host, or a ${...} that reads one)",
                   words[i]);
      return FALSE;
    }
    g_ptr_array_add (targets, g_strdup (words[i]));
  }
  if (targets->len == 0) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected [CODE] URI [URI...], got '%s'", text);
    return FALSE;
  }
  g_ptr_array_add (targets, NULL);
  RedirectArg *r = g_new0 (RedirectArg, 1);
  r->status = status;
  r->targets = (char **) g_ptr_array_steal (targets, NULL);
  *out = r;
  return TRUE;
}

/* The Contact header value of a redirection: each target read for @ev, checked to
 * be a URI (a value read from a peer cannot smuggle a parameter or header in);
 * NULL when none is (transfer full). */
static char *
redirect_contacts (SfCtx *ctx, SfEvent *ev, const RedirectArg *r)
{
  GString *c = g_string_new (NULL);
  for (guint i = 0; r->targets[i] != NULL; i++) {
    /* A value read into the URI is escaped: it cannot add a target, a host or a parameter. */
    g_autofree char *uri = sf_ctx_expand_mode (ctx, ev, r->targets[i], SF_EXPAND_URI);
    g_autoptr (SfUri) u = sf_uri_parse (uri, strlen (uri), NULL);
    if (u == NULL || strpbrk (uri, "<>\"\r\n ,") != NULL) {
      sf_log (ctx, G_LOG_LEVEL_WARNING, "redirect target '%s' is not a URI: left out", uri);
      continue;
    }
    g_string_append_printf (c, "%s<%s>", c->len > 0 ? ", " : "", uri);
  }
  if (c->len == 0) {
    g_string_free (c, TRUE);
    return NULL;
  }
  return g_string_free (c, FALSE);
}

/* The INVITE is redirected (8.3, 21.3.3): to the URI of the control command
 * 'redirect URI' (no arg), or to the targets of the arg on the binding's trigger
 * (on="timer:no_answer" arg="${cfg.flow.fallback}"; on="sip:INVITE" redirects a
 * new INVITE at once). */
static SfOpResult
sf_op_redirect_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const RedirectArg *r = arg;
  SfUaCall *call = sf_ua_call_peek (ctx);
  guint status = 302;
  g_autofree char *contact = NULL;
  if (r == NULL) {
    if (strcmp (ev->name, "redirect") != 0 || ev->arg == NULL || call == NULL || call->invite == NULL ||
        call->final_sent)
      return SF_OP_SKIP;
    contact = g_strdup_printf ("<%s>", ev->arg);
  } else {
    if (ev->kind == SF_EV_SIP) {
      if (!is_new_invite (ctx, ev))
        return SF_OP_SKIP;
      call = sf_ua_call_screened (ctx, ev->payload);
      call->final_sent = FALSE;
    } else if (call == NULL || call->invite == NULL || call->final_sent) {
      return SF_OP_SKIP;
    }
    status = r->status;
    contact = redirect_contacts (ctx, ev, r);
    if (contact == NULL) {
      SfSipMsg *failed = answer_invite (ctx, call, 500, NULL, NULL, NULL); /* the INVITE is answered all the same */
      if (failed != NULL)
        sf_sip_msg_unref (failed);
      sf_ua_call_set_reason (call, "redirect_failed", 500);
      return SF_OP_ERROR;
    }
  }
  g_autoptr (SfSipMsg) resp = answer_invite (ctx, call, status, NULL, NULL, contact);
  if (resp == NULL)
    return SF_OP_ERROR;
  sf_ua_call_set_reason (call, "redirected", status);
  emit_redirected (ctx, status, contact);
  return SF_OP_TRANSITION;
}

/* A CANCEL for the ringing call (9.2): 200 to the CANCEL through its own
 * transaction, then 487 Request Terminated to the INVITE. */
static SfOpResult
sf_op_ring_cancel (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "CANCEL") != 0 || e == NULL || call == NULL || call->invite == NULL)
    return SF_OP_SKIP;
  if (!respond_plain (ctx, e, 200, call->tag))
    return SF_OP_ERROR;
  if (!call->final_sent) {
    g_autoptr (SfSipMsg) r = answer_invite (ctx, call, 487, NULL, NULL, NULL);
    if (r == NULL)
      return SF_OP_ERROR;
  }
  sf_ua_call_set_reason (call, "cancelled", 487);
  return SF_OP_TRANSITION;
}

/* ---- B2BUA leg mode (sf-ua-leg.h; docs/ua.md "Leg mode (B2BUA)") ---- */

/* A re-INVITE or UPDATE @e in a leg's dialog (its checks done: in the dialog,
 * no glare with ours): an offer is kept unanswered for the bridge (child:offer;
 * OpRelayAnswer answers it on device:reanswer, or 500 on timer relay_guard); an
 * offer-less re-INVITE is answered here with the SDP we sent last, o= unchanged
 * (RFC 3264 8: a refresh changes nothing), its ACK bringing the answer (13.2.1). */
SfOpResult
sf_ua_leg_offer_in (SfCtx *ctx, SfUaCall *call, SfSipEvent *e, const char *method)
{
  SfUaLeg *leg = call->leg;
  SfSipStr offer;
  gboolean has_offer = sdp_body (e->msg, &offer);
  if (leg->ack_held && (has_offer || strcmp (method, "INVITE") == 0)) {
    /* our ACK waits for the caller's answer to this peer's offer in its 2xx
     * (OpRelayAck): our INVITE is not done (14.2: 491) and its offer is open
     * (RFC 3264 4) */
    respond_plain (ctx, e, 491, NULL);
    return SF_OP_DONE;
  }
  if (has_offer && (leg->pending != NULL || leg->relay_out != NULL)) {
    respond_plain (ctx, e, 491, NULL); /* one offer at a time through the bridge (RFC 3264 4; 14.2) */
    return SF_OP_DONE;
  }
  if (has_offer) {
    leg->pending = sf_sip_event_new (e->msg, &e->peer, e->txn);
    call->offer_in = TRUE;
    /* the peer's retransmissions are the transaction's; the bridge must answer
     * before the peer gives up (64*T1), so must we */
    guint t1 = sf_stack_timer_ms (sf_stack_from_ctx (ctx), '1');
    sf_ctx_timer_start (ctx, "relay_guard", 64 * (guint64) t1);
    sf_ua_leg_notify_msg (ctx, SF_UA_LEG_UP_OFFER, e->msg, method);
    return SF_OP_DONE;
  }
  if (strcmp (method, "INVITE") != 0)
    return SF_OP_SKIP; /* an UPDATE without offer: the plain path answers it */
  if (sf_sip_msg_body (e->msg).len > 0 || leg->last_sdp == NULL) {
    respond_plain (ctx, e, sf_sip_msg_body (e->msg).len > 0 ? 415 : 488, NULL);
    return SF_OP_DONE;
  }
  g_autoptr (SfSipMsg) ok =
    sf_ua_build_response (ctx, e->msg, &e->peer, 200, NULL, "application/sdp", leg->last_sdp, NULL);
  if (ok == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, ok))
    return SF_OP_ERROR;
  keep_2xx (ctx, call, ok, &e->peer, e->txn);
  call->ok_has_offer = TRUE;
  call->offer_out = TRUE;
  return SF_OP_DONE;
}

/* device:progress from the bridge (a leg facing the caller, ringing): the
 * callee's 1xx relayed, status 180 or 183 (the note's, else the arg's, else
 * 180) with the note's SDP if any; reliably (RFC 3262 3) when the caller
 * required 100rel, or supports it and the 1xx carries SDP.  An unreliable 1xx's
 * answer is not final (13.2.1): the 200 carries it again. */
static SfOpResult
sf_op_progress (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "progress") != 0 || call == NULL || call->leg == NULL || call->invite == NULL ||
      call->final_sent)
    return SF_OP_SKIP;
  SfUaLegNote *note = ev->payload;
  guint status = note != NULL && note->status != 0 ? note->status
                 : ev->arg != NULL                  ? (guint) g_ascii_strtoull (ev->arg, NULL, 10)
                                                    : 180;
  if (status <= 100 || status > 199)
    status = 180;
  const char *body = note != NULL && note->body != NULL && *note->body != '\0' &&
                         g_ascii_strcasecmp (note->ctype != NULL ? note->ctype : "", "application/sdp") == 0
                       ? note->body
                       : NULL;
  g_autoptr (SfSipMsg) r = NULL;
  if (call->rel_1xx != NULL) {
    /* RFC 3262 3: one reliable 1xx at a time; this one goes without SDP and unreliably */
    if (body != NULL)
      g_info ("%s: progress %u: our reliable 1xx is not PRACKed yet: sent without SDP", sf_ctx_handle (ctx), status);
    r = answer_invite (ctx, call, status, NULL, NULL, NULL);
  } else if (sf_ua_prack_reliable (ctx, call, body != NULL)) {
    if (body != NULL && call->offer_in && !call->oa_done) {
      g_free (call->pending_answer);
      call->pending_answer = g_strdup (body); /* sf_ua_prack_send_1xx sends it: the answer, for good */
      g_free (call->leg->last_sdp);
      call->leg->last_sdp = g_strdup (body);
    }
    r = sf_ua_prack_send_1xx (ctx, call, status);
  } else {
    r = answer_invite (ctx, call, status, body != NULL ? "application/sdp" : NULL, body, NULL);
  }
  if (r == NULL) {
    g_warning ("%s: progress %u could not go", sf_ctx_handle (ctx), status);
    return SF_OP_DONE;
  }
  if (call->dialog == NULL)
    keep_dialog (ctx, call, r); /* early (12.1.1) */
  return SF_OP_DONE;
}

/* device:reanswer from the bridge: the offer kept (leg_offer_in) answered with
 * the note's status (0: 200) and, on a 2xx, its SDP; a 2xx to a re-INVITE is
 * retransmitted until its ACK (13.3.1.4).  timer:relay_guard: the bridge took
 * too long, 500 with Retry-After (14.2's answer for a request we cannot serve now). */
static SfOpResult relay_answer (SfCtx *ctx, SfUaCall *call, SfSipEvent *e, SfEvent *ev);

static SfOpResult
sf_op_relay_answer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->leg == NULL || call->leg->pending == NULL ||
      (ev->kind == SF_EV_DEVICE && strcmp (ev->name, "reanswer") != 0) ||
      (ev->kind == SF_EV_TIMER && strcmp (ev->name, "relay_guard") != 0))
    return SF_OP_SKIP;
  SfSipEvent *e = g_steal_pointer (&call->leg->pending);
  SfOpResult res = relay_answer (ctx, call, e, ev);
  sf_sip_event_free (e);
  return res;
}

static SfOpResult
relay_answer (SfCtx *ctx, SfUaCall *call, SfSipEvent *e, SfEvent *ev)
{
  SfUaLeg *leg = call->leg;
  sf_ctx_timer_cancel (ctx, "relay_guard");
  call->offer_in = FALSE;
  SfUaLegNote *note = ev->kind == SF_EV_DEVICE ? ev->payload : NULL;
  guint status = ev->kind == SF_EV_TIMER ? 500 : note != NULL && note->status != 0 ? note->status : 200;
  if (status < 200 || status > 699)
    status = 500;
  const char *body = note != NULL ? note->body : NULL;
  if (status < 300 && (body == NULL || *body == '\0'))
    status = 488; /* an answer without SDP answers no offer (RFC 3264 6) */
  g_autoptr (SfSipMsg) r = NULL;
  if (status < 300) {
    r = sf_ua_build_response (ctx, e->msg, &e->peer, status, NULL, "application/sdp", body, NULL);
  } else if (status == 500) {
    g_autofree char *after = g_strdup_printf ("Retry-After: %d", g_random_int_range (0, 11));
    const char *const lines[] = { after, NULL };
    r = sf_sip_create_response_with (e->msg, 500, NULL, NULL, lines, NULL);
  } else {
    r = sf_sip_create_response (e->msg, status, NULL, NULL, NULL);
  }
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_DONE; /* the transaction is gone (the peer gave up): nothing to answer */
  if (status < 300) {
    g_free (leg->last_sdp);
    leg->last_sdp = g_strdup (body);
    if (sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "INVITE")) {
      keep_2xx (ctx, call, r, &e->peer, e->txn);
    } else if (call->incoming && !call->final_sent) {
      g_free (call->rel_body); /* an early UPDATE: the INVITE's 2xx repeats this answer (RFC 6337 3.1.1) */
      call->rel_body = g_strdup (body);
    }
  }
  return SF_OP_DONE;
}

/* An INFO in the call's dialog (RFC 6086): a leg answers 200 and tells the
 * bridge (child:info, its Content-Type and body); 481 for another dialog; a
 * plain UA does not take it (the stack's 405, as before). */
static SfOpResult
sf_op_info (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "INFO") != 0 || e == NULL || e->txn == NULL || call == NULL || call->leg == NULL)
    return SF_OP_SKIP;
  guint status = 200;
  if (call->dialog == NULL || !sf_sip_dialog_request_in (call->dialog, e->msg, &status)) {
    respond_plain (ctx, e, call->dialog == NULL ? 481 : status, NULL);
    return SF_OP_DONE;
  }
  if (!respond_plain (ctx, e, 200, NULL))
    return SF_OP_DONE;
  sf_ua_leg_notify_msg (ctx, SF_UA_LEG_UP_INFO, e->msg, "INFO");
  return SF_OP_DONE;
}

/* A re-INVITE inside the call (14.2): its Contact refreshes the remote target
 * (12.2.2), a CSeq out of order gets 500; its offer gets our answer (RFC 3264
 * 8: a sendonly offer is the peer putting us on hold, answered recvonly), a
 * bad one 488 and the call goes on unchanged (14.2); without an offer, the 200
 * carries ours.  The 2xx is retransmitted until the ACK. */
static SfOpResult
sf_op_re_invite (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "INVITE") != 0 || e == NULL || call == NULL || call->dialog == NULL ||
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL)
    return SF_OP_SKIP;
  guint status = 200;
  if (!sf_sip_dialog_request_in (call->dialog, e->msg, &status)) {
    respond_plain (ctx, e, status, NULL);
    return SF_OP_DONE;
  }
  if (call->reinvite_out != NULL || (call->update_out != NULL && call->update_offer)) {
    /* 14.2: ours is in progress (a re-INVITE, or an UPDATE with an offer: RFC
     * 3311 5.2): 491 Request Pending (glare; both sides retry later, 14.1). */
    respond_plain (ctx, e, 491, NULL);
    return SF_OP_DONE;
  }
  if (call->ok != NULL) {
    /* 14.2: the last INVITE's 2xx is not ACKed yet: 500 with a Retry-After of 0 to 10 s. */
    g_autofree char *after = g_strdup_printf ("Retry-After: %d", g_random_int_range (0, 11));
    const char *const lines[] = { after, NULL };
    g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, 500, NULL, NULL, lines, NULL);
    if (r != NULL)
      sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r);
    return SF_OP_DONE;
  }
  if (call->leg != NULL)
    return sf_ua_leg_offer_in (ctx, call, e, "INVITE");
  g_autofree char *local = local_of (&e->peer);
  g_autofree char *host = sf_ua_host_of (local);
  g_autoptr (GError) error = NULL;
  SfSdpSession *sdp = sf_ua_call_sdp (ctx, call, host, &error);
  if (sdp == NULL) {
    respond_plain (ctx, e, 500, NULL);
    return SF_OP_DONE;
  }
  SfSipStr offer;
  g_autofree char *body = NULL;
  gboolean has_offer = sdp_body (e->msg, &offer);
  if (has_offer) {
    g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
    body = sf_sdp_session_answer (sdp, offer.p, offer.len, call->want_dir, &m, &error);
    if (body == NULL) {
      g_info ("%s: re-INVITE refused with 488: %s", sf_ctx_handle (ctx), error->message);
      respond_plain (ctx, e, 488, NULL);
      return SF_OP_DONE;
    }
    sf_ua_call_take_media (call, &m);
  } else {
    body = sf_sdp_session_offer (sdp, call->want_dir);
  }
  g_autoptr (SfSipMsg) ok = sf_ua_build_response (ctx, e->msg, &e->peer, 200, NULL, "application/sdp", body, NULL);
  if (ok == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, ok))
    return SF_OP_ERROR;
  keep_2xx (ctx, call, ok, &e->peer, e->txn);
  call->ok_has_offer = !has_offer;
  call->offer_out = !has_offer; /* our 200's offer waits for the ACK's answer */
  if (has_offer) {
    SfSdpDir remote = sf_sdp_session_remote_dir (sdp);
    media_follow (ctx, call, remote == SF_SDP_SENDONLY || remote == SF_SDP_INACTIVE ? "held" : "reinvite");
  }
  return SF_OP_DONE;
}

static const char *const ack_outcomes[] = { "sdp_failed", NULL };

/* The ACK for our 2xx: the call is up (an offer in our 2xx finds its answer
 * here, RFC 3264 4); an ACK without an answer we can use: outcome sdp_failed
 * (the flow ends the call with a BYE).  An ACK whose To tag is not our
 * dialog's is not for it (12.2.2): not taken (the stack drops and counts it),
 * the 2xx goes on being retransmitted. */
static SfOpResult
sf_op_ack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "ACK") != 0 || e == NULL || !ack_in_dialog (call, e->msg) ||
      (call != NULL && call->ok != NULL && sf_sip_msg_cseq (e->msg)->number != sf_sip_msg_cseq (call->ok)->number))
    return SF_OP_SKIP;
  sf_ctx_timer_cancel (ctx, "2xx");
  sf_ctx_timer_cancel (ctx, "no_ack");
  g_autofree char *why = NULL;
  if (call != NULL) {
    SfSipStr answer;
    if (call->ok_has_offer && call->leg != NULL) {
      if (sdp_body (e->msg, &answer))
        sf_ua_leg_notify_msg (ctx, SF_UA_LEG_UP_ACK, e->msg, "ACK");
      else
        why = g_strdup ("the ACK has no SDP answer to the offer in our 2xx");
    } else if (call->ok_has_offer && call->sdp != NULL) {
      g_autoptr (GError) error = NULL;
      g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
      if (!sdp_body (e->msg, &answer))
        why = g_strdup ("the ACK has no SDP answer to the offer in our 2xx");
      else if (sf_sdp_session_take_answer (call->sdp, answer.p, answer.len, &m, &error))
        sf_ua_call_take_media (call, &m);
      else
        why = g_strdup_printf ("the SDP answer in the ACK: %s", error->message);
    }
    if (call->ok_has_offer) {
      call->offer_out = FALSE;
      call->oa_done = TRUE;
    }
    call->ok_has_offer = FALSE;
    g_clear_pointer (&call->ok, sf_sip_msg_unref);
  }
  if (why != NULL) {
    sf_ua_call_sdp_failed (ctx, call, why);
    return SF_OP_OUTCOME (0);
  }
  if (call != NULL && call->leg != NULL && call->leg->reoffer_held != NULL && call->reason == NULL) {
    /* a B2BUA leg: the offer the bridge gave while this ACK was awaited goes
     * now (OpRelayOffer, once the call is up); a call hung up meanwhile sends
     * none (its note goes with the leg) */
    sf_ctx_post_self (ctx, sf_event_new_full (SF_EV_DEVICE, SF_UA_LEG_DOWN_REOFFER, NULL,
                                              g_steal_pointer (&call->leg->reoffer_held),
                                              (GDestroyNotify) sf_ua_leg_note_free));
  }
  return SF_OP_TRANSITION;
}

/* A BYE: 200 OK through its transaction (15.1.2); the call ends. */
static SfOpResult
sf_op_end_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "BYE") != 0 || e == NULL)
    return SF_OP_SKIP;
  SfUaCall *call = sf_ua_call (ctx);
  guint status = 200;
  if (call->dialog != NULL && !sf_sip_dialog_request_in (call->dialog, e->msg, &status)) {
    /* 12.2.2: out of order (500); the call goes on. */
    respond_plain (ctx, e, status, NULL);
    return SF_OP_DONE;
  }
  if (!respond_plain (ctx, e, 200, NULL))
    return SF_OP_ERROR;
  if (call->invite != NULL && !call->final_sent) {
    /* A BYE on the early dialog: the INVITE gets 487 (15.1.2). */
    SfSipMsg *r = answer_invite (ctx, call, 487, NULL, NULL, NULL);
    if (r != NULL)
      sf_sip_msg_unref (r);
  }
  sf_ua_call_set_reason (call, "remote_bye", 0);
  return SF_OP_TRANSITION;
}

typedef struct {
  char *method;
  guint status;
} RefuseArg;

static void
refuse_arg_free (gpointer p)
{
  RefuseArg *a = p;
  g_free (a->method);
  g_free (a);
}

/* "INVITE=482": a method and a status from 300 to 699. */
static gboolean
fixup_refuse (const char *text, gpointer *out, GError **error)
{
  const char *eq = strchr (text, '=');
  guint64 v = 0;
  if (eq == NULL || eq == text || !sf_sip_str_to_u64 (sf_sip_str (eq + 1, strlen (eq + 1)), 699, &v) || v < 300) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected METHOD=STATUS (300-699), like 'INVITE=482', got '%s'", text);
    return FALSE;
  }
  RefuseArg *a = g_new0 (RefuseArg, 1);
  a->method = g_strndup (text, (gsize) (eq - text));
  a->status = (guint) v;
  *out = a;
  return TRUE;
}

/* A request of METHOD that this state does not serve: answered STATUS through its
 * own transaction (a second INVITE while ringing: 482, 8.2.2.2; a re-INVITE this
 * flow cannot do: 488); the call goes on. */
static SfOpResult
sf_op_refuse (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const RefuseArg *a = arg;
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, a->method) != 0 || e == NULL || e->txn == NULL)
    return SF_OP_SKIP;
  g_autofree char *tag = sf_sip_random_tag ();
  if (!respond_plain (ctx, e, a->status, tag))
    return SF_OP_ERROR;
  return SF_OP_DONE;
}

/* Entry of the final state: an INVITE still without a final response (hung up or
 * shut down while ringing) gets ARG, so its transaction can end. */
static SfOpResult
sf_op_finish_invite (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->invite == NULL || call->final_sent)
    return SF_OP_SKIP;
  g_autoptr (SfSipMsg) r = answer_invite (ctx, call, GPOINTER_TO_UINT (arg), NULL, NULL, NULL);
  if (r == NULL)
    return SF_OP_ERROR;
  sf_ua_call_set_reason (call, ev->kind == SF_EV_DEVICE ? ev->name : "ended", GPOINTER_TO_UINT (arg));
  return SF_OP_CONTINUE;
}

/* Entry of a final state: the call is over, however it ended: counted, and the
 * call_end event written (reason ARG when the operators recorded none). */
static SfOpResult
sf_op_call_ended (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  if (s != NULL)
    sf_stack_count (s, SF_STACK_STAT_CALLS_ENDED);
  SfUaCall *call = sf_ua_call (ctx);
  sf_ua_call_set_reason (call, arg != NULL ? arg : ev->kind == SF_EV_DEVICE ? ev->name : "ended", 0);
  sf_ua_call_emit_end (ctx, call);
  return SF_OP_CONTINUE;
}

const SfOperatorDef sf_op_ua_table[] = {
  { "OpCheckCallee", sf_op_check_callee, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a new INVITE for a user other than ua.uri's and answers it 404 Not Found, then transitions; with ua.uri "
    "unset every user is ours and the INVITE goes on to the next operator", "sip:INVITE", NULL, "RFC 3261 8.2.2.1" },
  { "OpBadExtension", sf_op_bad_extension, SF_Q_NORMAL, SF_EV_SIP, 0, extension_outcomes, SF_ARG_NONE, NULL, NULL,
    "refuses an INVITE, BYE or OPTIONS whose Require names an extension the UA does not support with 420 Bad "
    "Extension and Unsupported; outcome invite when it was a new INVITE (the call ends), alone when there is no call "
    "here, else the call goes on", "sip:INVITE|sip:BYE|sip:OPTIONS", NULL, "RFC 3261 8.2.2.3" },
  { "OpBusyHere", sf_op_busy_here, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS | SF_OPF_EXPR_ARG, NULL,
    SF_ARG_OPTIONAL, fixup_redirect, redirect_arg_free,
    "takes a new INVITE when ua.max_calls calls are up already and answers it 486 Busy Here, or, with an arg, "
    "forwards it on busy: the redirection of the arg, as OpRedirectCall's (arg=\"${cfg.flow.busy}\"); then "
    "transitions", "sip:INVITE", "[CODE] URI [URI...]", "RFC 3261 21.4.24, 8.3" },
  { "OpOptions", sf_op_options, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes an OPTIONS outside a dialog and answers 200 with what the UA takes (Allow, Accept, Accept-Encoding, "
    "Accept-Language, Supported), or 486 past ua.max_calls as an INVITE would get; then transitions",
    "sip:OPTIONS", NULL, "RFC 3261 11.2" },
  { "OpDialogOptions", sf_op_dialog_options, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "answers an OPTIONS inside the call's dialog with 200 and the same Allow, Accept and Supported as outside; 481 "
    "for another dialog, 500 for a CSeq out of order (12.2.2); the call goes on", "sip:OPTIONS", NULL,
    "RFC 3261 11" },
  { "OpRing", sf_op_ring, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, ring_outcomes, SF_ARG_NONE, NULL, NULL,
    "takes a new INVITE: keeps it with our To tag, answers its SDP offer now (the answer goes with the 200) and "
    "sends 180 Ringing, then transitions; an INVITE without Contact (400), with a body that is not SDP (415) or "
    "with an offer it cannot accept (488) gives outcome refused", "sip:INVITE", NULL, "RFC 3261 13.3.1.1" },
  { "OpEarlyMedia", sf_op_early_media, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, ring_outcomes, SF_ARG_NONE, NULL,
    NULL,
    "takes a new INVITE as OpRing does, but answers 183 Session Progress carrying the SDP answer instead of 180: "
    "early media (the gateway model), so the caller hears what the call plays (OpStartAudio, OpPlay) and sends "
    "DTMF before any final response, which may still be a redirection; the 200, if any, carries the same "
    "answer.  An INVITE without offer gets a 183 without SDP (an answer may not go in an unreliable 1xx) and no "
    "early media; outcome refused as OpRing's", "sip:INVITE", NULL, "RFC 3960 3, RFC 3261 13.3.1.1" },
  { "OpStartRinging", sf_op_start_ringing, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "entry of the ringing state: the bell rings; with ua.auto_answer set, the timer 'answer' starts (it fires as "
    "timer:answer, which OpAnswerCall takes); the timer 'ring_timeout' (ua.ring_timeout) bounds the ringing", "*", NULL, NULL },
  { "OpStopRinging", sf_op_stop_ringing, SF_Q_EXIT | SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "the bell stops: the timers 'answer' and 'ring_timeout' are cancelled", "*", NULL, NULL },
  { "OpAnswerCall", sf_op_answer_call, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL,
    SF_ARG_NONE, NULL, NULL,
    "answers the ringing INVITE with 200 OK and the SDP answer (or our offer, for an INVITE without one), "
    "retransmitted until the ACK (timers 2xx and no_ack), then transitions", "device:answer|timer:answer", NULL,
    "RFC 3261 13.3.1.4" },
  { "OpResend2xx", sf_op_resend_2xx, SF_Q_NORMAL, SF_EV_TIMER | SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "on timer:2xx sends the 2xx again, its interval doubled up to T2; takes the ACK of a re-INVITE's 2xx, which "
    "stops it (an INVITE's ACK is OpAck's)", "timer:2xx|sip:ACK", NULL, "RFC 3261 13.3.1.4" },
  { "OpReject", sf_op_reject, SF_Q_NORMAL, SF_EV_SIP | SF_EV_DEVICE | SF_EV_TIMER | SF_EV_MEDIA, SF_OPF_TRANSITIONS,
    NULL, SF_ARG_REQUIRED, fixup_status, NULL,
    "refuses a new INVITE with the status ARG, or, on the control command 'reject [CODE]', the INVITE kept "
    "(with CODE when given), or, on a timer or a media event, the INVITE kept with ARG (on=\"timer:menu\" "
    "arg=\"480\"; timer:ring_timeout: call_end reason no_answer); then transitions", "sip:INVITE|device:reject|timer|media", "STATUS (300-699: 486, 603)",
    "RFC 3261 13.3.1.3" },
  { "OpRedirectCall", sf_op_redirect_call, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER | SF_EV_SIP | SF_EV_MEDIA,
    SF_OPF_TRANSITIONS | SF_OPF_EXPR_ARG, NULL, SF_ARG_OPTIONAL, fixup_redirect, redirect_arg_free,
    "answers the INVITE kept with a redirection, then transitions: without an arg, on the control command "
    "'redirect URI', 302 with Contact: <URI>; with one, on its trigger (a timer, a command, or a new INVITE "
    "redirected at once, a digit received in early media), CODE (302 by default) with a Contact for each URI of "
    "the arg, read then (on=\"timer:no_answer\" arg=\"${cfg.flow.fallback}\"); a target that is no URI is left "
    "out, and with none left the INVITE gets 500", "device:redirect|device:reject|timer|sip:INVITE|media:dtmf",
    "[CODE] URI [URI...]",
    "RFC 3261 8.3, 21.3" },
  { "OpRingCancel", sf_op_ring_cancel, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a CANCEL of the ringing call: 200 to the CANCEL through its own transaction, 487 Request Terminated to "
    "the INVITE; then transitions", "sip:CANCEL", NULL, "RFC 3261 9.2" },
  { "OpReInvite", sf_op_re_invite, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a re-INVITE in the call: its Contact refreshes the remote target (12.2.2), its offer gets our answer "
    "(a sendonly offer puts us on hold: recvonly, RFC 3264 8) or 488, and a re-INVITE while ours is pending 491; "
    "the call goes on", "sip:INVITE", NULL, "RFC 3261 14.2" },
  { "OpProgress", sf_op_progress, SF_Q_NORMAL, SF_EV_DEVICE, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "B2BUA leg mode: on the bridge's device:progress sends the callee's provisional response to the ringing "
    "INVITE: 180 or 183 (the note's status) with the SDP the bridge gives, if any; reliably (RFC 3262) when the "
    "caller requires 100rel, or supports it and the 1xx carries SDP; the call stays ringing.  A plain UA does not "
    "take it", "device:progress", NULL, "RFC 3261 13.3.1.1, RFC 3262 3" },
  { "OpRelayAnswer", sf_op_relay_answer, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "B2BUA leg mode: answers the re-INVITE or UPDATE whose offer went to the bridge (child:offer) with the "
    "bridge's device:reanswer: its status (200 by default) and SDP (a 2xx to a re-INVITE retransmitted until the "
    "ACK); on timer:relay_guard (64*T1 without an answer) 500 with Retry-After", "device:reanswer|timer:relay_guard",
    NULL, "RFC 3261 14.2, RFC 3311 5.2" },
  { "OpInfo", sf_op_info, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "B2BUA leg mode: takes an INFO in the call's dialog, answers 200 and passes its Content-Type and body to the "
    "bridge (child:info); 481 outside the dialog.  A plain UA does not take it (405 as before)", "sip:INFO", NULL,
    "RFC 6086 4.2" },
  { "OpAck", sf_op_ack, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, ack_outcomes, SF_ARG_NONE, NULL, NULL,
    "takes the ACK for our 2xx: its retransmission stops and, when our 2xx carried the offer, the answer in the ACK "
    "is taken (none usable: outcome sdp_failed); a B2BUA leg's offer kept while the ACK was awaited goes now; then "
    "transitions", "sip:ACK", NULL, "RFC 3261 13.3.1.4" },
  { "OpRefuse", sf_op_refuse, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_REQUIRED, fixup_refuse, refuse_arg_free,
    "answers a request of METHOD that this state does not serve with STATUS through its own transaction (a second "
    "INVITE while ringing: 482; a re-INVITE this flow cannot do: 491 or 488); the call goes on", "sip",
    "METHOD=STATUS (INVITE=482; STATUS 300-699)", "RFC 3261 8.2.2.2" },
  { "OpFinishInvite", sf_op_finish_invite, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, fixup_status, NULL,
    "entry of a final state: an INVITE still without a final response (the call hung up or shut down while "
    "ringing) gets the status ARG, so its transaction can end", "*", "STATUS (300-699: 480, 487)",
    "RFC 3261 13.3.1" },
  { "OpCallEnded", sf_op_call_ended, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_OPTIONAL, NULL, NULL,
    "entry of a final state: the call is over, however it ended; it is counted and the call_end event written "
    "(reason, status, duration, media stats; ARG is the reason when the operators recorded none)", "*",
    "REASON (a word for call_end)", NULL },
  { "OpEndCall", sf_op_end_call, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a BYE: answers 200 OK (an INVITE still ringing gets 487) and transitions, the call ends; a BYE out of "
    "order gets 500 and the call goes on", "sip:BYE", NULL, "RFC 3261 15.1.2" },
};
const gsize sf_op_ua_table_len = G_N_ELEMENTS (sf_op_ua_table);
