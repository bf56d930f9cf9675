/* sf-op-uac.c: the calling side of the user agent, named after VOCAL's
 * (OpStartCall, OpFarEndResponse, OpHangup...): an INVITE with an SDP offer sent
 * by RFC 3263 location (17.1 client transaction), the UAC dialog from the 2xx
 * (12.1.2) with its ACK (13.2.2.4), the BYE through the dialog (15.1.1).  The
 * user-agent issue adds CANCEL, redirects, authentication and offer/answer. */
#include "config.h"
#include "framework/sf-operator.h"
#include "framework/sf-stack.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-dialog.h"
#include "media/sf-media-sdp.h"
#include <string.h>

#define INVITE_OUT "uac.invite"  /* SfSipMsg (owned): the INVITE we sent */
#define ACK_OUT "uac.ack"        /* SfSipMsg (owned): the ACK for the 2xx, resent for its retransmissions */
#define DIALOG "ua.dialog"       /* SfSipDialog (owned), shared with the UAS operators' name */

/* The SDP offer for "host:port" (an IPv6 host in brackets). */
static char *
sdp_offer (const char *local)
{
  g_autofree char *ip = g_strdup (local[0] == '[' ? local + 1 : local);
  char *end = local[0] == '[' ? strchr (ip, ']') : strrchr (ip, ':');
  if (end != NULL)
    *end = '\0';
  return sf_media_sdp_pcmu (ip, 40002, "2");
}

/* device:call URI: the INVITE with an SDP offer, located and sent (8.1, 13.2.1). */
static SfOpResult
sf_op_start_call (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "call") != 0 || ev->arg == NULL)
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  g_autofree char *local = s != NULL ? sf_stack_local (s, SF_SIP_UDP) : NULL;
  if (local == NULL) {
    g_warning ("%s: call: no UDP socket to call from (use --listen udp:ADDR:PORT)", sf_ctx_handle (ctx));
    return SF_OP_ERROR;
  }
  g_autofree char *from = g_strdup_printf ("<sip:sipflow@%s>", local);
  g_autofree char *to = g_strdup_printf ("<%s>", ev->arg);
  g_autofree char *contact = g_strdup_printf ("<sip:sipflow@%s>", local);
  g_autofree char *sdp = sdp_offer (local);
  SfSipRequestSpec spec = { .method = "INVITE", .ruri = ev->arg, .from = from, .to = to, .via_sent_by = local,
                            .contact = contact, .content_type = "application/sdp", .body = sdp, .body_len = strlen (sdp) };
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) inv = sf_sip_create_request (&spec, &error);
  if (inv == NULL) {
    g_warning ("%s: call %s: %s", sf_ctx_handle (ctx), ev->arg, error->message);
    return SF_OP_ERROR;
  }
  sf_ctx_set_data (ctx, INVITE_OUT, sf_sip_msg_ref (inv), (GDestroyNotify) sf_sip_msg_unref);
  sf_stack_request_located (s, sf_ctx_instance (ctx), inv);
  return SF_OP_TRANSITION;
}

static const char *const far_end_outcomes[] = { "ringing", "answered", "busy", "failed", NULL };

/* A response to our INVITE: 1xx ringing; 2xx answered (the dialog is made, the
 * call re-keyed by its remote tag, the ACK sent, 13.2.2.4); 486/600 busy; others
 * failed.  Responses to other requests are not its business. */
static SfOpResult
sf_op_far_end_response (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfSipMsg *inv = sf_ctx_get_data (ctx, INVITE_OUT);
  if (strcmp (ev->name, "response") != 0 || e == NULL || inv == NULL ||
      !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "INVITE"))
    return SF_OP_SKIP;
  guint status = sf_sip_msg_status (e->msg);
  SfSipDialog *early = sf_ctx_get_data (ctx, DIALOG);
  const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (e->msg), "tag");
  if (status < 200) {
    /* 12.1.2: a 1xx with a To tag (and a Contact) makes an early dialog. */
    if (status > 100 && early == NULL && tt != NULL && sf_sip_msg_find (e->msg, SF_SIP_HDR_CONTACT) != NULL) {
      SfSipDialog *d = sf_sip_dialog_new_uac (inv, e->msg, NULL);
      if (d != NULL) {
        sf_ctx_set_data (ctx, DIALOG, d, (GDestroyNotify) sf_sip_dialog_free);
        sf_ctx_emit (ctx, "dialog", "\"dialog_state\":\"early\"");
      }
    }
    return status > 100 ? SF_OP_OUTCOME (0) : SF_OP_DONE;
  }
  if (status >= 300) {
    /* A non-2xx final response ends the early dialog (12.3). */
    if (early != NULL) {
      sf_ctx_set_data (ctx, DIALOG, NULL, NULL);
      sf_ctx_emit (ctx, "dialog", "\"dialog_state\":\"terminated\"");
    }
    return SF_OP_OUTCOME (status == 486 || status == 600 ? 2 : 3);
  }
  SfStack *s = sf_stack_from_ctx (ctx);
  g_autoptr (GError) error = NULL;
  SfSipDialog *d = NULL;
  if (early != NULL && tt != NULL && sf_sip_str_eq (tt->value, early->remote_tag)) {
    /* The same dialog: confirmed, its route set and target from the 2xx (12.1.2). */
    if (!sf_sip_dialog_update_uac (early, e->msg, FALSE, &error))
      return SF_OP_OUTCOME (3);
    d = early;
  } else {
    d = sf_sip_dialog_new_uac (inv, e->msg, &error);
    if (d == NULL) {
      g_warning ("%s: 2xx without a dialog: %s", sf_ctx_handle (ctx), error->message);
      return SF_OP_OUTCOME (3);
    }
    sf_ctx_set_data (ctx, DIALOG, d, (GDestroyNotify) sf_sip_dialog_free);
  }
  sf_ctx_emit (ctx, "dialog", "\"dialog_state\":\"confirmed\"");
  g_autofree char *key = sf_stack_call_key (d->call_id, d->remote_tag);
  sf_endpoint_set_key (sf_ctx_endpoint (ctx), sf_ctx_instance (ctx), key);
  g_autofree char *local = sf_stack_local (s, SF_SIP_UDP);
  SfSipDialogRequest r = { .method = "ACK", .via_sent_by = local, .cseq = (guint32) sf_sip_msg_cseq (inv)->number };
  g_autoptr (SfSipMsg) ack = sf_sip_dialog_create_request (d, &r, NULL, &error);
  if (ack == NULL)
    return SF_OP_ERROR;
  sf_stack_send_request_located (s, ack); /* by its Route or Request-URI, like any request */
  sf_ctx_set_data (ctx, ACK_OUT, sf_sip_msg_ref (ack), (GDestroyNotify) sf_sip_msg_unref);
  return SF_OP_OUTCOME (1);
}

/* A retransmitted 2xx (its ACK was lost): the same ACK again (13.2.2.4). */
static SfOpResult
sf_op_ack_again (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfSipMsg *ack = sf_ctx_get_data (ctx, ACK_OUT);
  if (strcmp (ev->name, "response") != 0 || e == NULL || ack == NULL ||
      sf_sip_msg_status (e->msg) / 100 != 2 || !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "INVITE"))
    return SF_OP_SKIP;
  sf_stack_send_request_located (sf_stack_from_ctx (ctx), ack);
  return SF_OP_DONE;
}

/* device:hangup or timer:hangup: BYE through the dialog (15.1.1). */
static SfOpResult
sf_op_hangup (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "hangup") != 0)
    return SF_OP_SKIP;
  SfSipDialog *d = sf_ctx_get_data (ctx, DIALOG);
  SfStack *s = sf_stack_from_ctx (ctx);
  if (d == NULL || s == NULL)
    return SF_OP_SKIP;
  g_autofree char *local = sf_stack_local (s, SF_SIP_UDP);
  SfSipDialogRequest r = { .method = "BYE", .via_sent_by = local };
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) bye = sf_sip_dialog_create_request (d, &r, NULL, &error);
  if (bye == NULL)
    return SF_OP_ERROR;
  sf_stack_request_located (s, sf_ctx_instance (ctx), bye);
  return SF_OP_TRANSITION;
}

/* The final response to our BYE: the call is over, whatever it says (15.1.1). */
static SfOpResult
sf_op_bye_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "response") != 0 || e == NULL || !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "BYE") ||
      sf_sip_msg_status (e->msg) < 200)
    return SF_OP_SKIP;
  return SF_OP_TRANSITION;
}

const SfOperatorDef sf_op_uac_table[] = {
  { "OpStartCall", sf_op_start_call, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "on device:call URI: an INVITE with an SDP offer, located by RFC 3263 and sent (13.2.1)" },
  { "OpFarEndResponse", sf_op_far_end_response, SF_Q_NORMAL, SF_EV_SIP, 0, far_end_outcomes, SF_ARG_NONE, NULL,
    NULL, "a response to our INVITE: outcome ringing, answered (dialog made, ACK sent), busy or failed" },
  { "OpAckAgain", sf_op_ack_again, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a retransmitted 2xx: the same ACK again (13.2.2.4)" },
  { "OpHangup", sf_op_hangup, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL,
    NULL, "on device:hangup or timer:hangup: BYE through the dialog (15.1.1)" },
  { "OpByeAnswered", sf_op_bye_answered, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes the final response to our BYE; the call is over" },
};
const gsize sf_op_uac_table_len = G_N_ELEMENTS (sf_op_uac_table);
