/* sf-ua-leg.c: a ua.xml call instance as one leg of a B2BUA bridge (see
 * sf-ua-leg.h for the contract, docs/ua.md "Leg mode (B2BUA)"). */
#include "config.h"
#include "sf-ua-leg.h"
#include "sf-ua-call.h"
#include "operators/sf-modules.h"
#include "framework/sf-module.h"
#include "states/sf-ctx.h"

SfUaLegNote *
sf_ua_leg_note_new (guint status, const char *ctype, const char *body)
{
  SfUaLegNote *n = g_new0 (SfUaLegNote, 1);
  n->status = status;
  n->ctype = g_strdup (ctype);
  n->body = g_strdup (body);
  return n;
}

void
sf_ua_leg_note_clear (SfUaLegNote *n)
{
  if (n == NULL)
    return;
  g_clear_pointer (&n->method, g_free);
  g_clear_pointer (&n->ctype, g_free);
  g_clear_pointer (&n->body, g_free);
  g_clear_pointer (&n->reason, g_free);
  g_clear_pointer (&n->lines, g_ptr_array_unref);
  g_clear_pointer (&n->msg, sf_sip_msg_unref);
  g_clear_pointer (&n->notifier, g_free);
  n->status = 0;
}

void
sf_ua_leg_note_free (SfUaLegNote *n)
{
  if (n == NULL)
    return;
  sf_ua_leg_note_clear (n);
  g_free (n);
}

void
sf_ua_leg_call_free (SfUaLegCall *c)
{
  if (c == NULL)
    return;
  g_free (c->target);
  g_free (c->from);
  sf_ua_leg_note_clear (&c->offer);
  g_free (c->refer_notifier);
  g_free (c->referred_by);
  g_free (c);
}

gboolean
sf_ua_leg_is_a (const SfUaLeg *leg)
{
  return leg != NULL && leg->a_side;
}

const char *
sf_ua_leg_bridge (const SfUaLeg *leg)
{
  return leg != NULL ? leg->bridge : NULL;
}

void
sf_ua_leg_free (SfUaLeg *leg)
{
  if (leg == NULL)
    return;
  g_free (leg->bridge);
  g_free (leg->target);
  g_free (leg->from);
  g_free (leg->offer_ctype);
  g_clear_pointer (&leg->lines, g_ptr_array_unref);
  g_clear_pointer (&leg->pending, sf_sip_event_free);
  g_clear_pointer (&leg->relay_out, sf_sip_msg_unref);
  g_free (leg->last_sdp);
  sf_ua_leg_note_free (leg->reoffer_held);
  g_free (leg);
}

void
sf_ua_leg_attach (SfEndpoint *ep, SfInstance *inst, const char *bridge, gboolean a_side)
{
  SfUaInstance *ui = sf_instance_module_slot_ensure (ep, inst, &sf_ua_module, sf_ua_inst_new, sf_ua_inst_free);
  if (ui == NULL)
    return;
  SfUaCall *call = sf_ua_call_ensure (ui);
  sf_ua_leg_free (call->leg);
  call->leg = g_new0 (SfUaLeg, 1);
  call->leg->bridge = g_strdup (bridge);
  call->leg->a_side = a_side;
}

void
sf_ua_leg_set_refer_check (SfEndpoint *ep, SfInstance *inst, SfUaLegReferCheck check)
{
  SfUaInstance *ui = sf_instance_module_slot (ep, inst, &sf_ua_module);
  SfUaCall *call = ui != NULL ? ui->call : NULL;
  if (call != NULL && call->leg != NULL)
    call->leg->refer_check = check;
}

guint
sf_ua_leg_refer_check (SfCtx *ctx, const char *host, const char *maddr, const char **why)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  SfUaLeg *leg = call != NULL ? call->leg : NULL;
  if (leg == NULL || leg->refer_check == NULL) {
    *why = "No transfer through this call";
    return 403;
  }
  return leg->refer_check (sf_ctx_endpoint (ctx), leg->bridge, sf_ctx_handle (ctx), host, maddr, why);
}

void
sf_ua_leg_notify (SfCtx *ctx, const char *what, SfUaLegNote *note)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->leg == NULL) {
    sf_ua_leg_note_free (note);
    return;
  }
  if (note == NULL)
    note = g_new0 (SfUaLegNote, 1);
  /* The bridge is the parent (it spawned the leg): child:WHAT, arg = our handle. */
  sf_ctx_post_parent (ctx, sf_event_new_full (SF_EV_CHILD, what, sf_ctx_handle (ctx), note,
                                              (GDestroyNotify) sf_ua_leg_note_free));
}

void
sf_ua_leg_notify_msg (SfCtx *ctx, const char *what, SfSipMsg *m, const char *method)
{
  SfUaLegNote *n = g_new0 (SfUaLegNote, 1);
  n->method = g_strdup (method);
  if (!sf_sip_msg_is_request (m)) {
    n->status = sf_sip_msg_status (m);
    n->reason = sf_sip_str_dup (sf_sip_msg_reason (m));
  }
  SfSipStr body = sf_sip_msg_body (m);
  if (body.len > 0) {
    const SfSipValue *ct = sf_sip_msg_value (m, SF_SIP_HDR_CONTENT_TYPE, NULL);
    /* the media type alone (7.3.1: any case), without its parameters */
    n->ctype = ct != NULL ? g_ascii_strdown (ct->text.p, ct->text.len) : g_strdup ("application/octet-stream");
    n->body = g_strndup (body.p, body.len);
  }
  n->msg = sf_sip_msg_ref (m);
  sf_ua_leg_notify (ctx, what, n);
}
