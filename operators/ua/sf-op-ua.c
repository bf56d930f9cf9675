/* sf-op-ua.c: the first user-agent operators, named after VOCAL's (OpRing,
 * OpAnswerCall, OpAck, OpEndCall): enough for a UAS that answers (RFC 3261
 * 13.3, 15.1.2).  The user-agent issue extends them with offer/answer, calling,
 * rejecting, redirecting and holding.  Each call instance keeps the INVITE, its
 * To tag and the 2xx it sent. */
#include "config.h"
#include "framework/sf-operator.h"
#include "framework/sf-stack.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-dialog.h"
#include "media/sf-media-sdp.h"
#include <string.h>

#define INVITE "ua.invite"   /* SfSipEvent (owned) */
#define TAG "ua.tag"         /* char* (owned): our To tag */
#define OK2XX "ua.2xx"       /* SfSipMsg (owned) */
#define FINAL "ua.final"     /* set once the INVITE has its final response */
#define DIALOG "ua.dialog"   /* SfSipDialog (owned): from our 180 (early) or 200 */

/* 12.1.1: the dialog our response @r creates, kept (an early one replaced by the confirmed one). */
static void
keep_dialog (SfCtx *ctx, SfSipMsg *r)
{
  SfSipEvent *inv = sf_ctx_get_data (ctx, "ua.invite");
  g_autoptr (GError) error = NULL;
  SfSipDialog *d = sf_sip_dialog_new_uas (inv->msg, r, &error);
  if (d == NULL) {
    g_info ("%s: no dialog: %s", sf_ctx_handle (ctx), error->message); /* e.g. an INVITE without Contact */
    return;
  }
  sf_ctx_set_data (ctx, DIALOG, d, (GDestroyNotify) sf_sip_dialog_free);
}

/* Keeps the INVITE of @e and makes our To tag (13.3.1.1). */
static void
keep_invite (SfCtx *ctx, SfSipEvent *e)
{
  sf_ctx_set_data (ctx, INVITE, sf_sip_event_new (e->msg, &e->peer, e->txn), (GDestroyNotify) sf_sip_event_free);
  sf_ctx_set_data (ctx, TAG, sf_sip_random_tag (), g_free);
}

/* "<sip:sipflow@ADDR:PORT;transport=tcp>" for where the request came in. */
static char *
contact_for (const SfSipPeer *p)
{
  if (p->local == NULL)
    return g_strdup ("<sip:sipflow@127.0.0.1>");
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (p->local));
  gboolean v6 = strchr (ip, ':') != NULL;
  return g_strdup_printf ("<sip:sipflow@%s%s%s:%u%s>", v6 ? "[" : "", ip, v6 ? "]" : "",
                          g_inet_socket_address_get_port (p->local), p->proto == SF_SIP_TCP ? ";transport=tcp" : "");
}

/* A response to the kept INVITE with our tag and Contact, and an optional body. */
static SfSipMsg *
invite_response (SfCtx *ctx, guint status, const char *ctype, const char *body)
{
  SfSipEvent *inv = sf_ctx_get_data (ctx, INVITE);
  const char *tag = sf_ctx_get_data (ctx, TAG);
  g_autoptr (SfSipMsg) base = sf_sip_create_response (inv->msg, status, NULL, tag, NULL);
  if (base == NULL)
    return NULL;
  /* Rebuilt with Contact and body: a response is built once, so build it whole. */
  g_autofree char *reason = sf_sip_str_dup (sf_sip_msg_reason (base));
  SfSipBuilder *b = sf_sip_builder_response (status, reason);
  for (guint i = 0; i < sf_sip_msg_n_headers (base); i++) {
    const SfSipHdr *h = sf_sip_msg_header (base, i);
    if (h->id != SF_SIP_HDR_CONTENT_LENGTH)
      sf_sip_builder_add_line (b, h);
  }
  g_autofree char *contact = contact_for (&inv->peer);
  sf_sip_builder_add (b, "Contact", "%s", contact);
  sf_sip_builder_add (b, "Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS");
  if (ctype != NULL)
    sf_sip_builder_body (b, ctype, body, strlen (body));
  return sf_sip_builder_finish (b, NULL);
}

/* invite_response() sent through the kept INVITE's server transaction; a final
 * status is remembered (FINAL) so the call's end does not answer twice. Returns
 * the response sent (transfer full), NULL when it could not be built or sent. */
static SfSipMsg *
answer_invite (SfCtx *ctx, guint status, const char *ctype, const char *body)
{
  SfSipEvent *inv = sf_ctx_get_data (ctx, INVITE);
  SfSipMsg *r = invite_response (ctx, status, ctype, body);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), inv->txn, r)) {
    g_clear_pointer (&r, sf_sip_msg_unref);
    return NULL;
  }
  if (status >= 200)
    sf_ctx_set_data (ctx, FINAL, GINT_TO_POINTER (1), NULL);
  return r;
}

/* A fixed SDP answer: PCMU on an audio port of the local address (RFC 3264 is
 * the user agent's; this answer is enough for a peer that wants one). */
static char *
sdp_answer (const SfSipPeer *p)
{
  g_autofree char *ip = p->local != NULL ? g_inet_address_to_string (g_inet_socket_address_get_address (p->local))
                                         : g_strdup ("127.0.0.1");
  return sf_media_sdp_pcmu (ip, 40000, "1");
}

/* An INVITE: kept, 180 Ringing sent with a new To tag (13.3.1.1). */
static SfOpResult
sf_op_ring (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "INVITE") != 0 || e == NULL)
    return SF_OP_SKIP;
  keep_invite (ctx, e);
  g_autoptr (SfSipMsg) r = answer_invite (ctx, 180, NULL, NULL);
  if (r == NULL)
    return SF_OP_ERROR;
  keep_dialog (ctx, r); /* early */
  return SF_OP_TRANSITION;
}

/* device:answer or timer:answer: 200 OK with the SDP answer; its retransmission
 * runs until the ACK (13.3.1.4). */
static SfOpResult
sf_op_answer_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "answer") != 0)
    return SF_OP_SKIP;
  SfSipEvent *inv = sf_ctx_get_data (ctx, INVITE);
  if (inv == NULL)
    return SF_OP_SKIP;
  g_autofree char *sdp = sdp_answer (&inv->peer);
  g_autoptr (SfSipMsg) r = answer_invite (ctx, 200, "application/sdp", sdp);
  if (r == NULL)
    return SF_OP_ERROR;
  SfStack *s = sf_stack_from_ctx (ctx);
  sf_ctx_set_data (ctx, OK2XX, sf_sip_msg_ref (r), (GDestroyNotify) sf_sip_msg_unref);
  keep_dialog (ctx, r); /* confirmed */
  guint t1 = sf_stack_timer_ms (s, '1');
  if (inv->peer.proto == SF_SIP_UDP)
    sf_stack_backoff_start (ctx, "2xx", t1);
  sf_ctx_timer_start (ctx, "no_ack", 64 * (guint64) t1);
  sf_stack_count (s, "calls_answered");
  return SF_OP_TRANSITION;
}

/* timer:2xx: the 2xx again, interval doubled up to T2 (13.3.1.4). */
static SfOpResult
sf_op_resend_2xx (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "2xx") != 0)
    return SF_OP_SKIP;
  SfSipEvent *inv = sf_ctx_get_data (ctx, INVITE);
  SfSipMsg *ok = sf_ctx_get_data (ctx, OK2XX);
  SfStack *s = sf_stack_from_ctx (ctx);
  /* Through the INVITE transaction in Accepted (RFC 6026 7.1); sent directly if it is gone. */
  if (inv != NULL && ok != NULL && (sf_stack_respond (s, inv->txn, ok) || sf_stack_send_response (s, ok, &inv->peer)))
    sf_stack_count (s, "retransmissions_sent");
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

/* An INVITE (or device:reject): refused with the status ARG (486 Busy Here...). */
static SfOpResult
sf_op_reject (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (ev->kind == SF_EV_SIP) {
    if (strcmp (ev->name, "INVITE") != 0 || e == NULL)
      return SF_OP_SKIP;
    keep_invite (ctx, e);
  } else if (strcmp (ev->name, "reject") != 0) {
    return SF_OP_SKIP;
  }
  SfSipEvent *inv = sf_ctx_get_data (ctx, INVITE);
  if (inv == NULL)
    return SF_OP_SKIP;
  g_autoptr (SfSipMsg) r = answer_invite (ctx, GPOINTER_TO_UINT (arg), NULL, NULL);
  if (r == NULL)
    return SF_OP_ERROR;
  return SF_OP_TRANSITION;
}

/* A CANCEL for the ringing call (9.2): 200 to the CANCEL through its own
 * transaction, then 487 Request Terminated to the INVITE. */
static SfOpResult
sf_op_ring_cancel (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "CANCEL") != 0 || e == NULL)
    return SF_OP_SKIP;
  SfSipEvent *inv = sf_ctx_get_data (ctx, INVITE);
  if (inv == NULL)
    return SF_OP_SKIP;
  g_autoptr (SfSipMsg) ok = sf_sip_create_response (e->msg, 200, NULL, sf_ctx_get_data (ctx, TAG), NULL);
  if (ok == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, ok))
    return SF_OP_ERROR;
  g_autoptr (SfSipMsg) r = answer_invite (ctx, 487, NULL, NULL);
  if (r == NULL)
    return SF_OP_ERROR;
  return SF_OP_TRANSITION;
}

/* A re-INVITE inside the call (14.2): its Contact refreshes the remote target
 * (12.2.2), a CSeq out of order gets 500; answered 200 with the same SDP answer
 * (offer/answer proper is the user agent's).  The call stays where it is. */
static SfOpResult
sf_op_re_invite (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfSipDialog *d = sf_ctx_get_data (ctx, DIALOG);
  if (strcmp (ev->name, "INVITE") != 0 || e == NULL || d == NULL ||
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL)
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  guint status = 200;
  if (!sf_sip_dialog_request_in (d, e->msg, &status)) {
    g_autoptr (SfSipMsg) bad = sf_sip_create_response (e->msg, status, NULL, NULL, NULL);
    if (bad != NULL)
      sf_stack_respond (s, e->txn, bad);
    return SF_OP_DONE;
  }
  SfSipEvent *inv = sf_ctx_get_data (ctx, INVITE);
  g_autofree char *sdp = sdp_answer (&e->peer);
  g_autoptr (SfSipMsg) base = sf_sip_create_response (e->msg, 200, NULL, NULL, NULL);
  SfSipBuilder *b = sf_sip_builder_response (200, NULL);
  for (guint i = 0; base != NULL && i < sf_sip_msg_n_headers (base); i++)
    if (sf_sip_msg_header (base, i)->id != SF_SIP_HDR_CONTENT_LENGTH)
      sf_sip_builder_add_line (b, sf_sip_msg_header (base, i));
  g_autofree char *contact = contact_for (inv != NULL ? &inv->peer : &e->peer);
  sf_sip_builder_add (b, "Contact", "%s", contact);
  sf_sip_builder_body (b, "application/sdp", sdp, strlen (sdp));
  g_autoptr (SfSipMsg) ok = sf_sip_builder_finish (b, NULL);
  if (ok == NULL || !sf_stack_respond (s, e->txn, ok))
    return SF_OP_ERROR;
  return SF_OP_DONE;
}

/* The ACK for our 2xx: the call is up. */
static SfOpResult
sf_op_ack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "ACK") != 0)
    return SF_OP_SKIP;
  sf_ctx_timer_cancel (ctx, "2xx");
  sf_ctx_timer_cancel (ctx, "no_ack");
  return SF_OP_TRANSITION;
}

/* A BYE: 200 OK through its transaction (15.1.2); the call ends. */
static SfOpResult
sf_op_end_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "BYE") != 0 || e == NULL)
    return SF_OP_SKIP;
  SfSipDialog *d = sf_ctx_get_data (ctx, DIALOG);
  guint status = 200;
  if (d != NULL && !sf_sip_dialog_request_in (d, e->msg, &status)) {
    /* 12.2.2: out of order (500); the call goes on. */
    g_autoptr (SfSipMsg) bad = sf_sip_create_response (e->msg, status, NULL, NULL, NULL);
    if (bad != NULL)
      sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, bad);
    return SF_OP_DONE;
  }
  g_autoptr (SfSipMsg) r = sf_sip_create_response (e->msg, 200, NULL, NULL, NULL);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
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
  g_autoptr (SfSipMsg) r = sf_sip_create_response (e->msg, a->status, NULL, tag, NULL);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
  return SF_OP_DONE;
}

/* Entry of the final state: an INVITE still without a final response (hung up or
 * shut down while ringing) gets ARG, so its transaction can end. */
static SfOpResult
sf_op_finish_invite (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *inv = sf_ctx_get_data (ctx, INVITE);
  if (inv == NULL || sf_ctx_get_data (ctx, FINAL) != NULL)
    return SF_OP_SKIP;
  g_autoptr (SfSipMsg) r = answer_invite (ctx, GPOINTER_TO_UINT (arg), NULL, NULL);
  if (r == NULL)
    return SF_OP_ERROR;
  return SF_OP_CONTINUE;
}

/* Entry of the final state: counts the call as ended, however it ended. */
static SfOpResult
sf_op_call_ended (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfStack *s = sf_stack_from_ctx (ctx);
  if (s != NULL)
    sf_stack_count (s, "calls_ended");
  return SF_OP_CONTINUE;
}

const SfOperatorDef sf_op_ua_table[] = {
  { "OpRing", sf_op_ring, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes an INVITE: keeps it and sends 180 Ringing with a new To tag (13.3.1.1)" },
  { "OpAnswerCall", sf_op_answer_call, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL,
    SF_ARG_NONE, NULL, NULL, "on device:answer or timer:answer: 200 OK with an SDP answer, retransmitted until the ACK" },
  { "OpResend2xx", sf_op_resend_2xx, SF_Q_NORMAL, SF_EV_TIMER, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "on timer:2xx: the 2xx again, its interval doubled up to T2 (13.3.1.4)" },
  { "OpReject", sf_op_reject, SF_Q_NORMAL, SF_EV_SIP | SF_EV_DEVICE, SF_OPF_TRANSITIONS, NULL, SF_ARG_REQUIRED,
    fixup_status, NULL, "refuses the INVITE (or, on device:reject, the one kept) with the final status ARG" },
  { "OpRingCancel", sf_op_ring_cancel, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a CANCEL of the ringing call: 487 Request Terminated to the INVITE (9.2)" },
  { "OpReInvite", sf_op_re_invite, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a re-INVITE in the call: target refresh (12.2.2), 200 with the SDP answer (14.2); the call goes on" },
  { "OpAck", sf_op_ack, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes the ACK for the 2xx: stops its retransmission" },
  { "OpRefuse", sf_op_refuse, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_REQUIRED, fixup_refuse, refuse_arg_free,
    "answers a request METHOD this state does not serve with STATUS (arg METHOD=STATUS); the call goes on" },
  { "OpFinishInvite", sf_op_finish_invite, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, fixup_status, NULL,
    "gives the INVITE the final status ARG if it has none yet (a call ended while ringing)" },
  { "OpCallEnded", sf_op_call_ended, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "counts the call as ended in the stats (the final state's entry)" },
  { "OpEndCall", sf_op_end_call, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes a BYE: answers 200 OK (15.1.2); the call ends" },
};
const gsize sf_op_ua_table_len = G_N_ELEMENTS (sf_op_ua_table);
