/* sf-op-update.c: UPDATE (RFC 3311) in both roles, and the glare rule of RFC
 * 3261 14.1 that UPDATE shares with re-INVITE.  An UPDATE changes the session
 * (an offer, answered in its 2xx) or refreshes the remote target (and, with
 * session timers, the session) without SDP, inside an early or a confirmed
 * dialog, and is answered at once: no ACK, no user approval.  The call keeps
 * one offer at a time in either direction (RFC 3264 4): the offer/answer state
 * of SfUaCall (offer_out, offer_in, oa_done) decides 491 and 500 (RFC 3311
 * 5.2) and whether we may offer (5.1).  The flow (xml/ua.xml) binds OpUpdate
 * in every state (the catch-all state), OpSendUpdate and OpUpdateAnswered in
 * the states where we may send one: no state of its own, the call stays where
 * it is while our UPDATE is out. */
#include "config.h"
#include "sf-ua-call.h"
#include "operators/sf-modules.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include <glib/gstdio.h>
#include <string.h>

/* ---- ua.offer_file ---- */

/* The ua module's state, one per endpoint (so per worker: docs/workers.md):
 * ua.offer_file's text, read when the configuration is checked (at start,
 * and again by a reload, which swaps it in on the endpoint's own thread): an
 * offer never waits for a disk, and no thread reads what another replaces. */
struct _SfUaState {
  char *offer_file_text;   /* owned, nullable: ua.offer_file unset */
};

/* Checks ua.offer_file (readable, at most SF_UA_OFFER_FILE_MAX bytes, SDP);
 * *@out gets its text (NULL when unset). */
static gboolean
offer_file_read (SfConfig *cfg, char **out, GError **error)
{
  *out = NULL;
  const char *path = sf_config_get_string (cfg, "ua", "offer_file");
  if (path == NULL)
    return TRUE;
  const char *src = sf_config_get_source (cfg, "ua", "offer_file");
  GStatBuf st;
  g_autoptr (GError) e = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: ua.offer_file: '%s' is not a file we can read",
                 src, path);
    return FALSE;
  }
  if (st.st_size > SF_UA_OFFER_FILE_MAX) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "%s: ua.offer_file: '%s' has %lld bytes, more than the %d an offer may have", src, path,
                 (long long) st.st_size, SF_UA_OFFER_FILE_MAX);
    return FALSE;
  }
  if (!g_file_get_contents (path, &text, &len, &e)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: ua.offer_file: %s", src, e->message);
    return FALSE;
  }
  if (len == 0 || len > SF_UA_OFFER_FILE_MAX || memchr (text, '\0', len) != NULL) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "%s: ua.offer_file: '%s' is not SDP (empty, too large or binary)", src, path);
    return FALSE;
  }
  /* Readable as SDP: a session of ours answers it; only a malformed offer is
   * refused here (one without a codec in common is the user's test to make). */
  static const char *const codecs[] = { "PCMU", "PCMA", "opus", NULL };
  g_autoptr (SfSdpSession) s = sf_sdp_session_new ("127.0.0.1", 9, codecs, NULL);
  g_autofree char *answer = s != NULL ? sf_sdp_session_answer (s, text, len, SF_SDP_SENDRECV, NULL, &e) : NULL;
  if (answer == NULL && e != NULL && g_error_matches (e, SF_SDP_ERROR, SF_SDP_ERROR_MALFORMED)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: ua.offer_file: '%s' is not SDP: %s", src,
                 path, e->message);
    return FALSE;
  }
  *out = g_steal_pointer (&text);
  return TRUE;
}

SfUaState *
sf_ua_state_new (SfConfig *cfg, GError **error)
{
  char *text = NULL;
  if (!sf_ua_check_config (cfg, error) || !offer_file_read (cfg, &text, error))
    return NULL;
  SfUaState *st = g_new0 (SfUaState, 1);
  st->offer_file_text = text;
  return st;
}

void
sf_ua_state_free (SfUaState *st)
{
  if (st == NULL)
    return;
  g_free (st->offer_file_text);
  g_free (st);
}

void
sf_ua_state_commit (SfUaState *st, SfUaState *n)
{
  char *text = st->offer_file_text;
  st->offer_file_text = n->offer_file_text;
  n->offer_file_text = text;
  sf_ua_state_free (n);
}

char *
sf_ua_state_offer (const SfUaState *st, SfCtx *ctx, SfUaCall *call, SfSdpDir dir)
{
  /* The session makes its offer even when the file's goes instead: the answer
   * is checked against it (RFC 3264 7), and its o= version keeps counting. */
  char *own = sf_sdp_session_offer (call->sdp, dir);
  if (st == NULL || st->offer_file_text == NULL)
    return own;
  g_free (own);
  g_info ("%s: offering ua.offer_file's SDP", ctx != NULL ? sf_ctx_handle (ctx) : "ua");
  return g_strdup (st->offer_file_text);
}

char *
sf_ua_offer (SfCtx *ctx, SfUaCall *call, SfSdpDir dir)
{
  SfUaState *st = ctx != NULL ? sf_module_state (sf_ctx_endpoint (ctx), &sf_ua_module) : NULL;
  return sf_ua_state_offer (st, ctx, call, dir);
}

/* ---- glare (RFC 3261 14.1) ---- */

guint
sf_ua_glare_ms (const SfUaCall *call)
{
  /* 14.1: the owner of the Call-ID (the UAC of the dialog's INVITE) waits 2.1
   * to 4 s, in units of 10 ms; the other 0 to 2 s, so that its request goes
   * first and the two do not cross again. */
  return call->incoming ? 10 * (guint) g_random_int_range (0, 201) : 10 * (guint) g_random_int_range (210, 401);
}

void
sf_ua_glare (SfCtx *ctx, SfUaCall *call, const char *method, const char *timer)
{
  guint ms = sf_ua_glare_ms (call);
  sf_ctx_timer_start (ctx, timer, ms);
  GString *f = g_string_new ("\"method\":");
  sf_json_append_string (f, method);
  g_string_append_printf (f, ",\"retry_ms\":%u", ms);
  sf_ctx_emit (ctx, "glare", f->str);
  g_string_free (f, TRUE);
}

/* ---- receiving ---- */

/* The "update" event: an UPDATE received (dir in) and the status we answered,
 * or ours (dir out) and what came of it. */
static void
emit_update (SfCtx *ctx, const char *dir, gboolean offer, guint status, const char *result)
{
  GString *f = g_string_new ("\"dir\":");
  sf_json_append_string (f, dir);
  g_string_append_printf (f, ",\"offer\":%s,\"status\":%u", offer ? "true" : "false", status);
  if (result != NULL) {
    g_string_append (f, ",\"result\":");
    sf_json_append_string (f, result);
  }
  sf_ctx_emit (ctx, "update", f->str);
  g_string_free (f, TRUE);
}

/* A response to the UPDATE of @e with @status and the further header @line
 * (nullable), without Contact or body; FALSE when it could not go. */
static gboolean
respond_bare (SfCtx *ctx, SfSipEvent *e, guint status, const char *line)
{
  const char *const lines[] = { line, NULL };
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, status, NULL, NULL, line != NULL ? lines : NULL, NULL);
  return r != NULL && sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r);
}

/* An UPDATE in the call's dialog, early or confirmed (RFC 3311 5.2): CSeq and
 * dialog checked as for a re-INVITE (12.2.2: 481, 500), its Contact refreshes
 * the remote target; Require we do not support: 420.  Without SDP: 200
 * without SDP (a target or session refresh).  With an offer: 491 while an
 * offer of ours waits for its answer, 500 with Retry-After while one of the
 * peer's waits for ours or the first exchange is not complete (an early dialog
 * without a reliable answer: 5.1); else our answer in the 200 and the media
 * follows (a sendonly offer holds us), or 488 and the session unchanged. */
static SfOpResult
sf_op_update (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "UPDATE") != 0 || e == NULL || e->txn == NULL || call == NULL)
    return SF_OP_SKIP; /* no call here: the stack answers (481: an UPDATE lives in a dialog) */
  SfSipStr offer;
  gboolean has_offer = sf_ua_sdp_body (e->msg, &offer);
  guint status = 200;
  if (call->dialog == NULL || !sf_sip_dialog_request_in (call->dialog, e->msg, &status)) {
    respond_bare (ctx, e, call->dialog == NULL ? 481 : status, NULL);
    emit_update (ctx, "in", has_offer, call->dialog == NULL ? 481 : status, NULL);
    return SF_OP_DONE;
  }
  g_autofree char *unsupported = sf_ua_unsupported (ctx, e->msg);
  if (unsupported != NULL) { /* 8.2.2.3 */
    if (!respond_bare (ctx, e, 420, unsupported))
      respond_bare (ctx, e, 500, NULL); /* Unsupported too large for a message: answered all the same */
    emit_update (ctx, "in", has_offer, 420, NULL);
    return SF_OP_DONE;
  }
  if (!has_offer && sf_sip_msg_body (e->msg).len > 0) { /* a body we cannot read (21.4.13) */
    respond_bare (ctx, e, 415, "Accept: application/sdp");
    emit_update (ctx, "in", FALSE, 415, NULL);
    return SF_OP_DONE;
  }
  if (!has_offer) {
    g_autoptr (SfSipMsg) ok = sf_ua_build_response (ctx, e->msg, &e->peer, 200, NULL, NULL, NULL, NULL);
    if (ok == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, ok))
      return SF_OP_ERROR;
    emit_update (ctx, "in", FALSE, 200, NULL);
    return SF_OP_DONE;
  }
  if (call->offer_out || call->reinvite_out != NULL) {
    /* 5.2: our own offer waits for its answer: glare, the peer retries (14.1). */
    respond_bare (ctx, e, 491, NULL);
    emit_update (ctx, "in", TRUE, 491, NULL);
    return SF_OP_DONE;
  }
  if (call->leg != NULL && !call->offer_in && call->oa_done) {
    emit_update (ctx, "in", TRUE, 0, "relayed");
    return sf_ua_leg_offer_in (ctx, call, e, "UPDATE"); /* a B2BUA leg: the bridge relays the offer */
  }
  if (call->offer_in || !call->oa_done || call->sdp == NULL) {
    /* 5.2: an offer of the peer we have not answered (for good: an answer in
     * an unreliable 1xx is not one), or no exchange completed yet (5.1 forbids
     * this offer): 500 with a Retry-After of 0 to 10 s. */
    g_autofree char *after = g_strdup_printf ("Retry-After: %d", g_random_int_range (0, 11));
    respond_bare (ctx, e, 500, after);
    emit_update (ctx, "in", TRUE, 500, NULL);
    return SF_OP_DONE;
  }
  g_autoptr (GError) error = NULL;
  g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
  g_autofree char *answer = sf_sdp_session_answer (call->sdp, offer.p, offer.len, call->want_dir, &m, &error);
  if (answer == NULL) {
    /* 5.2: an offer we cannot take: 488, the session as it was (RFC 3264 6). */
    g_info ("%s: UPDATE refused with 488: %s", sf_ctx_handle (ctx), error->message);
    respond_bare (ctx, e, 488, NULL);
    GString *f = g_string_new ("\"message\":");
    sf_json_append_string (f, error->message);
    sf_ctx_emit (ctx, "sdp_refused", f->str);
    g_string_free (f, TRUE);
    emit_update (ctx, "in", TRUE, 488, NULL);
    return SF_OP_DONE;
  }
  g_autoptr (SfSipMsg) ok = sf_ua_build_response (ctx, e->msg, &e->peer, 200, NULL, "application/sdp", answer, NULL);
  if (ok == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, ok))
    return SF_OP_ERROR;
  sf_ua_call_take_media (call, &m);
  if (call->incoming && !call->final_sent) {
    /* An early dialog of ours: the 2xx to the INVITE repeats the latest SDP
     * we sent, this answer (RFC 3261 13.2.1, RFC 6337 3.1.1), as OpPrack does
     * for a PRACK's offer; not the reliable 1xx's, its o= version older. */
    g_free (call->pending_answer);
    call->pending_answer = g_strdup (answer);
    g_free (call->rel_body);
    call->rel_body = g_strdup (answer);
  }
  emit_update (ctx, "in", TRUE, 200, NULL);
  SfSdpDir remote = sf_sdp_session_remote_dir (call->sdp);
  sf_ua_media_follow (ctx, call, remote == SF_SDP_SENDONLY || remote == SF_SDP_INACTIVE ? "held" : "update");
  return SF_OP_DONE;
}

/* ---- sending ---- */

const char *
sf_ua_update_refusal (const SfUaCall *call, gboolean offer)
{
  if (call->dialog == NULL)
    return "no dialog yet (an UPDATE goes inside an early or confirmed dialog)";
  if (call->update_out != NULL || call->update_due)
    return "our UPDATE is under way";
  if (!offer)
    return NULL;
  if (call->sdp == NULL)
    return "no session to offer";
  if (!call->oa_done)
    return "the initial offer/answer is not complete: an early dialog takes an offer in an UPDATE only after a "
           "reliable answer (RFC 3311 5.1: 100rel)";
  if (call->reinvite_out != NULL)
    return "our re-INVITE's offer waits for its answer";
  if (call->offer_out)
    return "our offer waits for its answer";
  if (call->offer_in)
    return "the peer's offer waits for our answer";
  return NULL;
}

gboolean
sf_ua_send_update (SfCtx *ctx, SfUaCall *call, gboolean offer, GError **error)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  g_auto (SfUaHop) hop = { 0 };
  if (s == NULL || !sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop)) {
    g_set_error (error, SF_SDP_ERROR, SF_SDP_ERROR_NOT_ACCEPTABLE, "no socket to send from");
    return FALSE;
  }
  g_autofree char *contact = sf_ua_contact (ctx, hop.local, hop.contact_proto, hop.sips);
  g_autofree char *body = offer ? sf_ua_offer (ctx, call, call->want_dir) : NULL;
  SfSipDialogRequest r = { .method = "UPDATE", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .contact = contact, .content_type = body != NULL ? "application/sdp" : NULL,
                           .body = body, .body_len = body != NULL ? strlen (body) : 0 };
  g_autofree char *next_hop = NULL;
  SfSipMsg *upd = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, error);
  if (upd == NULL)
    return FALSE;
  call->update_out = upd;
  call->update_offer = offer;
  call->update_due = FALSE;
  if (offer)
    call->offer_out = TRUE;
  sf_stack_request_to (s, sf_ctx_instance (ctx), upd, next_hop); /* 8.1.2, 12.2.1.1 */
  return TRUE;
}

/* device:update [nosdp]: an UPDATE with a new offer, or without SDP; refused
 * with an error event saying why when it may not go (sf_ua_update_refusal).
 * timer:update_glare: ours that got 491 goes again (14.1), as it was. */
static SfOpResult
sf_op_send_update (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  gboolean retry = ev->kind == SF_EV_TIMER;
  if (call == NULL || strcmp (ev->name, retry ? "update_glare" : "update") != 0 || (retry && !call->update_due))
    return SF_OP_SKIP;
  gboolean offer;
  if (retry) {
    offer = call->update_offer;
    call->update_due = FALSE;
  } else {
    offer = ev->arg == NULL || strcmp (ev->arg, "nosdp") != 0;
  }
  g_autoptr (GError) error = NULL;
  const char *why = sf_ua_update_refusal (call, offer);
  if (why == NULL && sf_ua_send_update (ctx, call, offer, &error))
    return SF_OP_DONE;
  g_autofree char *msg = g_strdup_printf ("update%s: %s", retry ? " (after 491)" : "", why != NULL ? why : error->message);
  if (retry) {
    /* The retry cannot go (the peer's offer came first and waits, say): it is
     * dropped, the session as the peer's request left it. */
    call->update_glares = 0;
    emit_update (ctx, "out", offer, 491, "refused");
  }
  GString *f = g_string_new ("\"message\":");
  sf_json_append_string (f, msg);
  sf_ctx_emit (ctx, "error", f->str);
  g_string_free (f, TRUE);
  return SF_OP_DONE;
}

static const char *const update_outcomes[] = { "dialog_gone", "sdp_failed", NULL };

/* The final response to our UPDATE (RFC 3311 5.3), or its transaction's
 * failure; responses to other requests are not its business.  2xx: the
 * remote target from its Contact (12.2.1.2), the answer taken and the media
 * follows (none usable: outcome sdp_failed, the call ends as for a
 * re-INVITE); 491: sent again after the 14.1 interval (timer update_glare,
 * at most SF_UA_MAX_GLARES in a row); 481, 408, a timeout or a transport
 * error: the dialog is gone (12.2.1.2), outcome dialog_gone; any other
 * (488, 401, 407: credentials are not answered for UPDATE): the session
 * unchanged.  In an early dialog no outcome: the INVITE's final response
 * decides the call. */
static SfOpResult
sf_op_update_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->update_out == NULL)
    return SF_OP_SKIP;
  guint32 cseq = (guint32) sf_sip_msg_cseq (call->update_out)->number;
  SfSipMsg *resp = NULL;
  guint status;
  if (ev->kind == SF_EV_TXN) {
    SfSipMsg *failed = sf_ua_failed_request (call, ev); /* a failure of the peer's UPDATE is not ours */
    if (failed == NULL || !sf_sip_str_eq (sf_sip_msg_method (failed), "UPDATE") || sf_sip_msg_cseq (failed)->number != cseq)
      return SF_OP_SKIP;
    status = strcmp (ev->name, "timeout") == 0 ? 408 : 503;
  } else {
    SfSipEvent *e = ev->payload;
    if (ev->kind != SF_EV_SIP || strcmp (ev->name, "response") != 0 || e == NULL ||
        !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "UPDATE") || sf_sip_msg_cseq (e->msg)->number != cseq)
      return SF_OP_SKIP;
    status = sf_sip_msg_status (e->msg);
    if (status < 200)
      return SF_OP_DONE; /* a 100 Trying from a proxy */
    resp = e->msg;
  }
  g_autoptr (SfSipMsg) upd = g_steal_pointer (&call->update_out);
  gboolean offer = call->update_offer;
  gboolean early = call->dialog == NULL || call->dialog->early;
  if (offer)
    call->offer_out = FALSE;
  const SfSipParam *sent_to = sf_sip_value_param (sf_sip_msg_to (upd), "tag"); /* none: a null remote tag */
  if (call->dialog == NULL || !sf_sip_str_eq (sent_to != NULL ? sent_to->value : sf_sip_str ("", 0),
                                              call->dialog->remote_tag != NULL ? call->dialog->remote_tag : "")) {
    /* Sent in the early dialog of a fork; another's 2xx confirmed the call
     * (12.1.2) or a final response ended it (12.3): this response is of a
     * dialog that is not the call's.  Its Contact and answer are not ours to
     * take (12.2.1.2: a target refresh updates its own dialog), nor is a
     * retry after 491. */
    call->update_glares = 0;
    emit_update (ctx, "out", offer, status, "dialog_gone");
    return SF_OP_DONE;
  }
  if (status == 491 && call->update_glares < SF_UA_MAX_GLARES) {
    call->update_glares++;
    call->update_due = TRUE;
    emit_update (ctx, "out", offer, status, "glare");
    sf_ua_glare (ctx, call, "UPDATE", "update_glare");
    return SF_OP_DONE;
  }
  call->update_glares = 0;
  if (resp == NULL || status == 481 || status == 408) {
    emit_update (ctx, "out", offer, status, "dialog_gone");
    if (early)
      return SF_OP_DONE;
    sf_ua_call_set_reason (call, "dialog_gone", status);
    return SF_OP_OUTCOME (0);
  }
  if (status >= 300) {
    if (status == 401 || status == 407)
      g_info ("%s: UPDATE challenged (%u): credentials are not answered for UPDATE", sf_ctx_handle (ctx), status);
    emit_update (ctx, "out", offer, status, "refused"); /* 5.3: the session as it was */
    return SF_OP_DONE;
  }
  if (!early)
    sf_sip_dialog_update_uac (call->dialog, resp, TRUE, NULL); /* 12.2.1.2: the 2xx's Contact */
  if (!offer) {
    emit_update (ctx, "out", FALSE, status, "accepted");
    return SF_OP_DONE;
  }
  SfSipStr answer;
  g_autoptr (GError) error = NULL;
  g_auto (SfSdpMedia) m = { .dtmf_pt = -1 };
  g_autofree char *why = NULL;
  if (!sf_ua_sdp_body (resp, &answer))
    why = g_strdup_printf ("the %u to our UPDATE has no SDP answer to its offer", status);
  else if (!sf_sdp_session_take_answer (call->sdp, answer.p, answer.len, &m, &error))
    why = g_strdup_printf ("the SDP answer in the %u to our UPDATE: %s", status, error->message);
  if (why != NULL) {
    emit_update (ctx, "out", TRUE, status, "sdp_failed");
    if (early) {
      g_warning ("%s: %s", sf_ctx_handle (ctx), why);
      return SF_OP_DONE;
    }
    sf_ua_call_sdp_failed (ctx, call, why);
    return SF_OP_OUTCOME (1);
  }
  sf_ua_call_take_media (call, &m);
  emit_update (ctx, "out", TRUE, status, "accepted");
  sf_ua_media_follow (ctx, call, "update");
  return SF_OP_DONE;
}

const SfOperatorDef sf_op_update_table[] = {
  { "OpUpdate", sf_op_update, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes an UPDATE in the call's early or confirmed dialog: CSeq and dialog checked (481, 500), Contact "
    "refreshes the remote target, Require we lack 420; without SDP 200 without SDP; an offer gets 491 while ours "
    "waits, 500 with Retry-After while the peer's waits or no exchange completed yet, else our answer in the 200 "
    "(the media follows; a sendonly offer holds us) or 488 (session unchanged); the call goes on",
    "sip:UPDATE", NULL, "RFC 3311 5.2" },
  { "OpSendUpdate", sf_op_send_update, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "on the control command 'update [nosdp]': an UPDATE with a new offer (the session as it is, its version one "
    "higher) or without SDP, refused with an error event when it may not go (an offer pending either way, no "
    "exchange complete in an early dialog, an UPDATE under way); on timer:update_glare our UPDATE refused 491 goes "
    "again", "device:update|timer:update_glare", NULL, "RFC 3311 5.1" },
  { "OpUpdateAnswered", sf_op_update_answered, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN, 0, update_outcomes, SF_ARG_NONE,
    NULL, NULL,
    "takes the final response to our UPDATE (not another request's): 2xx takes the answer, the media follows (none "
    "usable: outcome sdp_failed); 491 starts timer update_glare (14.1, bounded); 481, 408, timeout or transport "
    "error: outcome dialog_gone (none in an early dialog); other failures leave the session unchanged",
    "sip:response|txn:timeout|txn:transport_error", NULL, "RFC 3311 5.3" },
};
const gsize sf_op_update_table_len = G_N_ELEMENTS (sf_op_update_table);
