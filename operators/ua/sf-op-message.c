/* sf-op-message.c: MESSAGE (RFC 3428), instant messages, in both roles.  A
 * MESSAGE is a request of its own: no dialog, no session, no ACK; it is
 * answered at once, its body being the message.
 *
 * Received outside a dialog, it makes a new instance of the UA flow, as an
 * OPTIONS does (OpMessage in Idle): 404 for a user other than ua.uri's (as an
 * INVITE), 420 for a Require we do not support, 415 with Accept for a body
 * that is not text, 413 past SF_UA_MESSAGE_MAX_BODY bytes, else 200 and a
 * "message" event; the instance ends at once in the final state Queried
 * (an OPTIONS's), so a flood of MESSAGEs holds no state past its
 * transactions: sip.rate_limit, sip.max_per_source and sip.max_instances
 * bound those.  Inside a call's dialog (RFC 3428 2 allows it) OpDialogMessage in
 * the catch-all state answers it the same way after the dialog checks of 12.2.2.
 *
 * Sent: the control command 'message URI TEXT' makes a new instance whose
 * device:message OpSendMessage turns into a MESSAGE outside any dialog
 * (MessagePending); OpMessageChallenge answers a 401/407 with ua's
 * credentials (bounded: SF_UA_MAX_CHALLENGES) and OpMessageAnswered writes
 * "message_sent" with the final status (a timeout: 408, a transport error:
 * 503).  'message CALL TEXT' sends it in that call's dialog
 * (OpSendDialogMessage, OpDialogMessageAnswered): the call goes on. */
#include "config.h"
#include "sf-ua-call.h"
#include "framework/sf-json.h"
#include "framework/sf-endpoint.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include <string.h>

struct _SfUaMsg {
  SfSipMsg *out;      /* our MESSAGE outside a dialog, the one sent last (after a challenge) */
  SfUaAuth auth;      /* the challenges answered for it (22.2, 22.3) */
  guint dialog_out;   /* our MESSAGEs in the call's dialog without a final response (SF_UA_MESSAGE_MAX_OUT) */
};

void
sf_ua_msg_free (SfUaMsg *m)
{
  g_clear_pointer (&m->out, sf_sip_msg_unref);
  sf_ua_auth_clear (&m->auth);
  g_free (m);
}

static SfUaMsg *
msg_of (SfCtx *ctx)
{
  SfUaInstance *ui = sf_ua_inst (ctx);
  if (ui->msg == NULL)
    ui->msg = g_new0 (SfUaMsg, 1);
  return ui->msg;
}

/* What we take (415's Accept, RFC 3261 21.4.13; RFC 3428 7). */
#define MESSAGE_ACCEPT "Accept: text/plain, text/*"
#define MESSAGE_TYPE "text/plain;charset=UTF-8"

/* ---- receiving ---- */

/* A Content-Type parameter's value without its quotes (7.3.1: quoted-string or token). */
static gboolean
param_is (const SfSipParam *p, const char *lit)
{
  SfSipStr v = p->value;
  if (v.len >= 2 && v.p[0] == '"' && v.p[v.len - 1] == '"')
    v = sf_sip_str (v.p + 1, v.len - 2);
  return sf_sip_str_caseeq (v, lit);
}

guint
sf_ua_message_body_status (SfSipMsg *req, char **line, const char **reason)
{
  *line = NULL;
  *reason = NULL;
  /* 8.2.3: an encoding we do not apply, in any value of any Content-Encoding
   * header (20.12: a list, applied in order), or one we cannot read: not only
   * the first ("identity, gzip" was taken as text) */
  SfSipValues *encs = sf_sip_msg_values (req, SF_SIP_HDR_CONTENT_ENCODING, NULL);
  for (guint i = 0; encs == NULL || i < encs->len; i++)
    if (encs == NULL || !sf_sip_str_caseeq (((const SfSipValue *) encs->pdata[i])->text, "identity")) {
      *line = g_strdup ("Accept-Encoding: identity");
      return 415;
    }
  SfSipStr body = sf_sip_msg_body (req);
  if (body.len == 0)
    return 0; /* an empty message: taken, its type does not matter */
  const SfSipValue *ct = sf_sip_msg_value (req, SF_SIP_HDR_CONTENT_TYPE, NULL);
  const SfSipParam *charset = ct != NULL ? sf_sip_value_param (ct, "charset") : NULL;
  if (ct == NULL || ct->text.len < 5 || g_ascii_strncasecmp (ct->text.p, "text/", 5) != 0 ||
      (charset != NULL && !param_is (charset, "UTF-8") && !param_is (charset, "US-ASCII"))) {
    *line = g_strdup (MESSAGE_ACCEPT); /* RFC 3428 7: a type we do not understand */
    return 415;
  }
  if (body.len > SF_UA_MESSAGE_MAX_BODY)
    return 413; /* RFC 3428 8: 1300 bytes; not temporary, no Retry-After (21.4.11) */
  if (memchr (body.p, '\0', body.len) != NULL || !g_utf8_validate (body.p, (gssize) body.len, NULL)) {
    *reason = "Body Is Not UTF-8 Text";
    return 400;
  }
  return 0;
}

/* Why a MESSAGE received cannot be taken: a Require we do not support (420
 * with Unsupported, 8.2.2.3), then its body (sf_ua_message_body_status); 0
 * when it is taken. */
static guint
screen (SfCtx *ctx, SfSipMsg *req, char **line, const char **reason)
{
  char *unsupported = sf_ua_unsupported (ctx, req);
  if (unsupported != NULL) {
    *line = unsupported;
    *reason = NULL;
    return 420;
  }
  return sf_ua_message_body_status (req, line, reason);
}

/* Answers the MESSAGE of @e with @status: with To tag @tag (outside a dialog,
 * 8.2.6.2), the header @line (nullable); a 2xx has no Contact and no body
 * (RFC 3428 7). */
static gboolean
respond (SfCtx *ctx, SfSipEvent *e, guint status, const char *reason, const char *tag, const char *line)
{
  const char *const lines[] = { line, NULL };
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, status, reason, tag, line != NULL ? lines : NULL, NULL);
  if (r == NULL) /* an Unsupported line too long for a message: answered all the same */
    r = sf_sip_create_response (e->msg, 500, "Response Too Large", tag, NULL);
  return r != NULL && sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r);
}

/* A From or To value's URI as written (transfer full). */
static char *
uri_of (const SfSipValue *v)
{
  return sf_sip_str_dup (v->uri != NULL ? v->uri->raw : v->raw);
}

/* The "message" event: a MESSAGE taken (200), its From and To URIs, type and
 * body (JSON strings, escaped), and whether it came in a call's dialog. */
static void
emit_message (SfCtx *ctx, SfSipMsg *req, gboolean in_dialog)
{
  const SfSipValue *ct = sf_sip_msg_value (req, SF_SIP_HDR_CONTENT_TYPE, NULL);
  SfSipStr body = sf_sip_msg_body (req);
  g_autofree char *f = uri_of (sf_sip_msg_from (req)), *t = uri_of (sf_sip_msg_to (req));
  g_autofree char *type = ct != NULL && body.len > 0 ? sf_sip_str_dup (ct->raw) : NULL;
  g_autofree char *text = sf_sip_str_dup (body);
  GString *out = g_string_new ("\"status\":200,\"from\":");
  sf_json_append_string (out, f);
  g_string_append (out, ",\"to\":");
  sf_json_append_string (out, t);
  g_string_append (out, ",\"content_type\":");
  sf_json_append_string (out, type);
  g_string_append_printf (out, ",\"bytes\":%" G_GSIZE_FORMAT ",\"in_dialog\":%s,\"body\":", body.len,
                          in_dialog ? "true" : "false");
  sf_json_append_string (out, text);
  sf_ctx_emit (ctx, "message", out->str);
  g_string_free (out, TRUE);
}

/* The "message_refused" event: a MESSAGE answered @status, not taken. */
static void
emit_refused (SfCtx *ctx, SfSipMsg *req, guint status, gboolean in_dialog)
{
  g_autofree char *f = uri_of (sf_sip_msg_from (req));
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "\"status\":%u,\"in_dialog\":%s,\"from\":", status, in_dialog ? "true" : "false");
  sf_json_append_string (out, f);
  sf_ctx_emit (ctx, "message_refused", out->str);
  g_string_free (out, TRUE);
}

static const char *const message_outcomes[] = { "refused", NULL };

/* A MESSAGE outside a dialog (RFC 3428 7): for a user other than ua.uri's 404
 * (8.2.2.1, as OpCheckCallee's INVITE), then screen's checks (420, 415, 413,
 * 400: outcome refused, a message_refused event), else 200 (not 202: we are
 * the recipient and the message is delivered, as the event line, once we
 * answer) and the message event; then transitions.  The instance holds
 * nothing: it ends in the final state it goes to. */
static SfOpResult
sf_op_message (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "MESSAGE") != 0 || e == NULL || e->txn == NULL ||
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL)
    return SF_OP_SKIP; /* in a dialog: OpDialogMessage's, or the stack's 481 */
  sf_ua_call_set_call_id (ctx, sf_sip_msg_call_id (e->msg));
  g_autofree char *tag = sf_sip_random_tag ();
  g_autofree char *user = sf_ua_user (ctx);
  const SfSipUri *ruri = sf_sip_msg_ruri (e->msg);
  gsize asked_len = 0;
  g_autofree char *asked = user != NULL && ruri != NULL ? sf_sip_unescape (ruri->user, &asked_len) : NULL;
  guint status = 0;
  g_autofree char *line = NULL;
  const char *reason = NULL;
  /* the whole user compared unescaped (RFC 3261 19.1.4): "gil%00evil" is not "gil" */
  if (user != NULL && ruri != NULL && (asked == NULL || asked_len != strlen (asked) || strcmp (asked, user) != 0))
    status = 404;
  else
    status = screen (ctx, e->msg, &line, &reason);
  if (!respond (ctx, e, status != 0 ? status : 200, reason, tag, line))
    return SF_OP_ERROR;
  if (status != 0) {
    g_info ("%s: MESSAGE refused with %u", sf_ctx_handle (ctx), status);
    emit_refused (ctx, e->msg, status, FALSE);
    return SF_OP_OUTCOME (0);
  }
  emit_message (ctx, e->msg, FALSE);
  return SF_OP_TRANSITION;
}

/* A MESSAGE inside the call's dialog: CSeq and dialog checked as for a
 * re-INVITE (12.2.2: 481, 500), then screen's checks, else 200 and the
 * message event on the call's instance; the call goes on. */
static SfOpResult
sf_op_dialog_message (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "MESSAGE") != 0 || e == NULL || e->txn == NULL || call == NULL ||
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL)
    return SF_OP_SKIP;
  guint status = 200;
  g_autofree char *line = NULL;
  const char *reason = NULL;
  if (call->dialog == NULL) /* no dialog of ours yet (ringing): not one we know (12.2.2) */
    status = 481;
  else if (sf_sip_dialog_request_in (call->dialog, e->msg, &status))
    status = screen (ctx, e->msg, &line, &reason);
  if (!respond (ctx, e, status != 0 ? status : 200, reason, NULL, line))
    return SF_OP_ERROR;
  if (status != 0)
    emit_refused (ctx, e->msg, status, TRUE);
  else
    emit_message (ctx, e->msg, TRUE);
  return SF_OP_DONE;
}

/* ---- sending ---- */

/* The "message_sent" event: what came of our MESSAGE. */
static void
emit_sent (SfCtx *ctx, guint status, const char *reason, gboolean in_dialog)
{
  GString *out = g_string_new (NULL);
  g_string_append_printf (out, "\"status\":%u,\"in_dialog\":%s,\"reason\":", status, in_dialog ? "true" : "false");
  sf_json_append_string (out, reason);
  sf_ctx_emit (ctx, "message_sent", out->str);
  g_string_free (out, TRUE);
}

/* Our MESSAGE to @ruri outside any dialog (RFC 3428 4), or again after a
 * challenge (same Call-ID, From tag and To, CSeq one more: 8.1.3.5, 22.2)
 * with the credentials answered so far: through ua.outbound_proxy as a loose
 * route, over the transport its first hop asks for (sf_ua_hop); no Contact
 * (it makes no dialog). */
static gboolean
send_message (SfCtx *ctx, SfUaMsg *m, const char *ruri, const char *text, GError **error)
{
  g_autofree char *route = sf_ua_outbound_route (ctx);
  g_auto (SfUaHop) hop = { 0 };
  if (!sf_ua_hop (ctx, route != NULL ? route : ruri, &hop)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "no socket to send from (use --listen udp:ADDR:PORT)");
    return FALSE;
  }
  g_autofree char *from = sf_ua_from (ctx, hop.local);
  g_autofree char *to = NULL, *call_id = NULL, *from_tag = NULL;
  guint32 cseq = 1;
  if (m->out != NULL) {
    to = sf_sip_str_dup (sf_sip_msg_to (m->out)->raw);
    call_id = sf_sip_str_dup (sf_sip_msg_call_id (m->out));
    const SfSipParam *ft = sf_sip_value_param (sf_sip_msg_from (m->out), "tag");
    from_tag = ft != NULL ? sf_sip_str_dup (ft->value) : NULL;
    cseq = (guint32) sf_sip_msg_cseq (m->out)->number + 1;
  } else {
    to = g_strdup_printf ("<%s>", ruri);
  }
  const char *routes[] = { route, NULL };
  const char *extra[3];
  SfSipRequestSpec spec = { .method = "MESSAGE", .ruri = ruri, .from = from, .from_tag = from_tag, .to = to,
                            .call_id = call_id, .cseq = cseq, .via_sent_by = hop.local,
                            .transport = sf_ua_hop_transport (&hop), .route = route != NULL ? routes : NULL,
                            .extra = sf_ua_auth_lines (&m->auth, extra), .content_type = MESSAGE_TYPE,
                            .body = text, .body_len = strlen (text) };
  SfSipMsg *req = sf_sip_create_request (&spec, error);
  if (req == NULL)
    return FALSE;
  if (m->out == NULL)
    sf_ua_call_set_call_id (ctx, sf_sip_msg_call_id (req));
  g_clear_pointer (&m->out, sf_sip_msg_unref);
  m->out = req;
  sf_stack_request_located (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), req);
  return TRUE;
}

/* Splits device:message's arg "URI TEXT" (the control command's). */
static gboolean
split_arg (const char *arg, char **uri, const char **text)
{
  const char *sp = arg != NULL ? strchr (arg, ' ') : NULL;
  if (sp == NULL)
    return FALSE;
  *uri = g_strndup (arg, (gsize) (sp - arg));
  *text = sp + 1;
  return TRUE;
}

static const char *const send_outcomes[] = { "failed", NULL };

/* device:message "URI TEXT" in a new instance: our MESSAGE with TEXT as
 * text/plain;charset=UTF-8 (send_message); then transitions.  It cannot go
 * (no socket, text too long, not a URI): message_sent with status 503 and
 * outcome failed.  An instance holding a call leaves it to
 * OpSendDialogMessage. */
static SfOpResult
sf_op_send_message (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  g_autofree char *uri = NULL;
  const char *text = NULL;
  if (strcmp (ev->name, "message") != 0 || (call != NULL && call->dialog != NULL) || !split_arg (ev->arg, &uri, &text))
    return SF_OP_SKIP;
  g_autoptr (GError) error = NULL;
  if (strlen (text) > SF_UA_MESSAGE_MAX_BODY)
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "the text has more than %d bytes (RFC 3428 8)",
                 SF_UA_MESSAGE_MAX_BODY);
  else
    send_message (ctx, msg_of (ctx), uri, text, &error);
  if (error != NULL) {
    g_warning ("%s: message %s: %s", sf_ctx_handle (ctx), uri, error->message);
    emit_sent (ctx, 503, error->message, FALSE);
    return SF_OP_OUTCOME (0);
  }
  return SF_OP_TRANSITION;
}

/* What @ev is about: a response's message, or the request of a transaction
 * that failed (timeout, transport error); NULL for anything else. */
static SfSipMsg *
event_msg (SfEvent *ev)
{
  if (ev->kind == SF_EV_SIP && strcmp (ev->name, "response") == 0 && ev->payload != NULL)
    return ((SfSipEvent *) ev->payload)->msg;
  if (ev->kind == SF_EV_TXN && (strcmp (ev->name, "timeout") == 0 || strcmp (ev->name, "transport_error") == 0))
    return ev->payload;
  return NULL;
}

/* message_sent for @ev about our MESSAGE @msg (event_msg): the final
 * response's status and reason, 408 for a timeout, 503 for a transport error
 * (8.1.3.1); FALSE (nothing written) for a 1xx. */
static gboolean
emit_outcome (SfCtx *ctx, SfEvent *ev, SfSipMsg *msg, gboolean in_dialog)
{
  if (ev->kind == SF_EV_TXN) {
    gboolean timeout = strcmp (ev->name, "timeout") == 0;
    emit_sent (ctx, timeout ? 408 : 503, timeout ? "timeout" : "transport error", in_dialog);
    return TRUE;
  }
  guint status = sf_sip_msg_status (msg);
  if (status < 200)
    return FALSE;
  g_autofree char *reason = sf_sip_str_dup (sf_sip_msg_reason (msg));
  emit_sent (ctx, status, reason, in_dialog);
  return TRUE;
}

/* Is @ev a response to (or the failure of) the MESSAGE we sent last? */
static gboolean
about_our_message (SfUaMsg *m, SfEvent *ev)
{
  SfSipMsg *msg = m != NULL && m->out != NULL ? event_msg (ev) : NULL;
  if (msg == NULL || (ev->kind == SF_EV_TXN && sf_ua_failed_from (ev, sf_ua_from_tag (m->out)) == NULL))
    return FALSE; /* a failure of a MESSAGE the peer sent is not ours */
  const SfSipValue *cs = sf_sip_msg_cseq (msg);
  return sf_sip_str_eq (cs->text, "MESSAGE") && cs->number == sf_sip_msg_cseq (m->out)->number;
}

/* A 401 or 407 to our MESSAGE: sent again with credentials for the challenge
 * (22.2, 22.3), once per nonce and at most SF_UA_MAX_CHALLENGES times
 * (sf_ua_credentials); one it cannot answer is OpMessageAnswered's. */
static SfOpResult
sf_op_message_challenge (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaInstance *ui = sf_ua_inst (ctx);
  SfUaMsg *m = ui->msg;
  if (ev->kind != SF_EV_SIP || !about_our_message (m, ev))
    return SF_OP_SKIP;
  SfSipEvent *e = ev->payload;
  guint status = sf_sip_msg_status (e->msg);
  if (status != 401 && status != 407)
    return SF_OP_SKIP;
  g_autoptr (GError) error = NULL;
  g_autofree char *ruri = sf_sip_str_dup (sf_sip_msg_ruri (m->out)->raw);
  SfSipStr body = sf_sip_msg_body (m->out);
  g_autofree char *text = sf_sip_str_dup (body);
  if (!sf_ua_credentials (ctx, m->out, e->msg, &m->auth, &error) || !send_message (ctx, m, ruri, text, &error)) {
    g_warning ("%s: MESSAGE %u: %s", sf_ctx_handle (ctx), status, error->message);
    return SF_OP_SKIP;
  }
  g_autofree char *fields = g_strdup_printf ("\"status\":%u,\"method\":\"MESSAGE\"", status);
  sf_ctx_emit (ctx, "authenticating", fields);
  return SF_OP_DONE;
}

/* The final response to our MESSAGE, whatever it says (RFC 3428 4: nothing
 * is followed, a 3xx included), or its transaction's failure (408 for a
 * timeout, 503 for a transport error, 8.1.3.1), or the shutdown (0): the
 * message_sent event, then transitions.  A 1xx changes nothing. */
static SfOpResult
sf_op_message_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaInstance *ui = sf_ua_inst (ctx);
  if (ev->kind == SF_EV_DEVICE) {
    if (strcmp (ev->name, "shutdown") != 0)
      return SF_OP_SKIP;
    emit_sent (ctx, 0, "shutdown", FALSE);
    return SF_OP_TRANSITION;
  }
  if (!about_our_message (ui->msg, ev))
    return SF_OP_SKIP;
  return emit_outcome (ctx, ev, event_msg (ev), FALSE) ? SF_OP_TRANSITION : SF_OP_DONE;
}

/* device:message TEXT to a call whose dialog is up: our MESSAGE in it
 * (12.2.1.1; no Contact: MESSAGE refreshes no target), at most
 * SF_UA_MESSAGE_MAX_OUT without their final responses; one that cannot go
 * writes message_sent with 503.  The call goes on. */
static SfOpResult
sf_op_send_dialog_message (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "message") != 0 || call == NULL || ev->arg == NULL)
    return SF_OP_SKIP;
  SfUaMsg *m = msg_of (ctx);
  g_autoptr (GError) error = NULL;
  g_auto (SfUaHop) hop = { 0 };
  if (call->dialog == NULL || call->dialog->early)
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "the call has no confirmed dialog yet");
  else if (call->reason != NULL) /* our BYE went (or the call is ending otherwise): the dialog is going (15) */
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the call is ending (%s)", call->reason);
  else if (strlen (ev->arg) > SF_UA_MESSAGE_MAX_BODY)
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "the text has more than %d bytes (RFC 3428 8)",
                 SF_UA_MESSAGE_MAX_BODY);
  else if (m->dialog_out >= SF_UA_MESSAGE_MAX_OUT)
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_BUSY, "%d MESSAGEs of this call wait for their answers already",
                 SF_UA_MESSAGE_MAX_OUT);
  else if (!sf_ua_hop (ctx, sf_ua_dialog_hop (call->dialog), &hop))
    g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "no socket to send from");
  if (error == NULL) {
    SfSipDialogRequest r = { .method = "MESSAGE", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                             .content_type = MESSAGE_TYPE, .body = ev->arg, .body_len = strlen (ev->arg) };
    g_autofree char *next_hop = NULL;
    SfSipMsg *req = sf_sip_dialog_create_request (call->dialog, &r, &next_hop, &error);
    if (req != NULL) {
      m->dialog_out++;
      sf_stack_request_to (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), req, next_hop);
      sf_sip_msg_unref (req);
    }
  }
  if (error != NULL) {
    g_warning ("%s: message: %s", sf_ctx_handle (ctx), error->message);
    emit_sent (ctx, 503, error->message, TRUE);
  }
  return SF_OP_DONE;
}

/* The final response to one of our MESSAGEs in the call's dialog, or its
 * transaction's failure: message_sent with the status (408, 503 for a
 * timeout or transport error); the call goes on (a 481 or 408 is left to the
 * call's next request to find out, 12.2.1.2: a gap). */
static SfOpResult
sf_op_dialog_message_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaInstance *ui = sf_ua_inst (ctx);
  SfUaMsg *m = ui->msg;
  if (m == NULL || m->dialog_out == 0 || ui->call == NULL)
    return SF_OP_SKIP;
  /* a failure of a MESSAGE the peer sent in the dialog is not one of ours */
  SfSipMsg *msg = ev->kind == SF_EV_TXN ? sf_ua_failed_request (ui->call, ev) : event_msg (ev);
  if (msg == NULL || !sf_sip_str_eq (sf_sip_msg_cseq (msg)->text, "MESSAGE"))
    return SF_OP_SKIP;
  if (emit_outcome (ctx, ev, msg, TRUE))
    m->dialog_out--;
  return SF_OP_DONE;
}

const SfOperatorDef sf_op_message_table[] = {
  { "OpMessage", sf_op_message, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, message_outcomes, SF_ARG_NONE, NULL, NULL,
    "takes a MESSAGE outside a dialog: 404 for a user other than ua.uri's, 420 for a Require not supported, 415 "
    "with Accept for a body that is not UTF-8 text, 413 past 1300 bytes, 400 for a body with NUL or bad UTF-8 "
    "(outcome refused, a message_refused event); else 200 without Contact or body and the message event (from, "
    "to, content_type, body); then transitions", "sip:MESSAGE", NULL, "RFC 3428 7" },
  { "OpDialogMessage", sf_op_dialog_message, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a MESSAGE inside the call's dialog: 481 for another dialog, 500 for a CSeq out of order (12.2.2), then "
    "OpMessage's checks (420, 415, 413, 400: message_refused), else 200 and the message event; the call goes on",
    "sip:MESSAGE", NULL, "RFC 3428 2, RFC 3261 12.2.2" },
  { "OpSendMessage", sf_op_send_message, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS, send_outcomes, SF_ARG_NONE,
    NULL, NULL,
    "on the control command 'message URI TEXT' in a new instance: a MESSAGE outside any dialog with TEXT as "
    "text/plain;charset=UTF-8, a new Call-ID, through ua.outbound_proxy or to the target located by RFC 3263; "
    "then transitions; one that cannot go writes message_sent with 503 (outcome failed)", "device:message", NULL,
    "RFC 3428 4" },
  { "OpMessageChallenge", sf_op_message_challenge, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a 401 or 407 to our MESSAGE: sent again with digest credentials for the challenge (CSeq one more), "
    "once per nonce, at most 3 times; one it cannot answer is left to OpMessageAnswered",
    "sip:response 401|sip:response 407", NULL, "RFC 3261 22.2" },
  { "OpMessageAnswered", sf_op_message_answered, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN | SF_EV_DEVICE,
    SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes the final response to our MESSAGE (nothing followed: a 3xx ends it too), its transaction's timeout "
    "(408) or transport error (503), or device:shutdown (0): the message_sent event with the status, then "
    "transitions; a 1xx changes nothing", "sip:response|txn:timeout|txn:transport_error|device:shutdown", NULL,
    "RFC 3428 4" },
  { "OpSendDialogMessage", sf_op_send_dialog_message, SF_Q_NORMAL, SF_EV_DEVICE, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "on the control command 'message CALL TEXT': a MESSAGE in the call's confirmed dialog with TEXT as "
    "text/plain;charset=UTF-8, at most 8 waiting for their answers; one that cannot go writes message_sent with "
    "503; the call goes on", "device:message", NULL, "RFC 3428 2, RFC 3261 12.2.1.1" },
  { "OpDialogMessageAnswered", sf_op_dialog_message_answered, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN, 0, NULL,
    SF_ARG_NONE, NULL, NULL,
    "takes the final response to one of our MESSAGEs in the call's dialog, or its transaction's timeout (408) or "
    "transport error (503): the message_sent event; the call goes on", "sip:response|txn:timeout|txn:transport_error",
    NULL, "RFC 3428 4" },
};
const gsize sf_op_message_table_len = G_N_ELEMENTS (sf_op_message_table);
