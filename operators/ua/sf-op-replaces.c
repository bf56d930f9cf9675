/* sf-op-replaces.c: the transfer target's side of Replaces (RFC 3891 3): a new
 * INVITE that names one of our dialogs in a Replaces header takes that
 * dialog's place.  OpReplaces (Idle) finds the call whose dialog matches and
 * refuses what RFC 3891 3 refuses (400, 481, 486, 603), or marks the new call
 * as replacing it; the new call is then answered at once, without a 1xx
 * (OpRing, OpAnswerReplacing), and once our 2xx went out OpEndReplaced ends
 * the old call: BYE for a confirmed dialog, CANCEL for an early one we
 * initiated (call_end reason replaced).  ua.replaces = off turns it off: the
 * header is then ignored, as by a UA that does not support it (RFC 3891 3),
 * and neither Supported nor Require lists replaces. */
#include "config.h"
#include "sf-ua-call.h"
#include "sf-replaces.h"
#include "framework/sf-endpoint.h"
#include "framework/sf-json.h"
#include "states/sf-instance.h"
#include "states/sf-machine.h"
#include "sip/sf-sip-build.h"
#include <string.h>

gboolean
sf_ua_replaces_on (SfCtx *ctx)
{
  SfConfig *cfg = sf_endpoint_config (sf_ctx_endpoint (ctx));
  return (cfg == NULL || sf_config_get_bool (cfg, "ua", "replaces")) && sf_ua_flow_binds (ctx, "OpReplaces");
}

/* The INVITE's Replaces header lines: how many, and the first. */
static guint
replaces_lines (SfSipMsg *m, const SfSipHdr **first)
{
  guint n = 0;
  *first = NULL;
  for (guint i = 0; i < sf_sip_msg_n_headers (m); i++) {
    const SfSipHdr *h = sf_sip_msg_header (m, i);
    if (h->id == SF_SIP_HDR_OTHER && sf_sip_str_caseeq (h->name, "Replaces")) {
      if (n++ == 0)
        *first = h;
    }
  }
  return n;
}

/* RFC 3891 3: a tag of "0" (an RFC 2543 peer's) matches "0" and no tag. */
static gboolean
tag_matches (const char *ours, const char *asked)
{
  if (ours == NULL || *ours == '\0')
    return strcmp (asked, "0") == 0;
  return strcmp (ours, asked) == 0;
}

/* Refuses the new INVITE of @e with @status (and @reason as the phrase when
 * not NULL): its call ends (call_end reason @why), a replaces_refused event. */
static SfOpResult
refuse (SfCtx *ctx, SfSipEvent *e, guint status, const char *phrase, const char *why, const char *detail)
{
  SfUaCall *call = sf_ua_call_screened (ctx, e);
  g_info ("%s: INVITE with Replaces refused %u: %s", sf_ctx_handle (ctx), status, detail);
  g_autoptr (SfSipMsg) r = sf_sip_create_response (e->msg, status, phrase, call->tag, NULL);
  if (r == NULL)
    r = sf_sip_create_response (e->msg, status, NULL, call->tag, NULL);
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
  sf_ua_call_set_reason (call, why, status);
  GString *f = g_string_new (NULL);
  g_string_append_printf (f, "\"status\":%u,\"why\":", status);
  sf_json_append_string (f, detail);
  sf_ctx_emit (ctx, "replaces_refused", f->str);
  g_string_free (f, TRUE);
  return SF_OP_OUTCOME (0);
}

static const char *const replaces_outcomes[] = { "refused", NULL };

/* The live call that took @old's place (OpReplaces marked it in
 * old->replaced_by), or NULL: none, or it ended before its 2xx (a 488, a
 * CANCEL...: RFC 3891 3, the old call must then stay). */
static SfInstance *
replacing_call (SfEndpoint *ep, SfInstance *old_inst, SfUaCall *old)
{
  if (old->replaced_by == NULL)
    return NULL;
  SfInstance *inst = sf_endpoint_lookup_handle (ep, old->replaced_by);
  SfUaCall *c = inst != NULL && !sf_instance_ended (inst) ? sf_ua_call_of (ep, inst) : NULL;
  if (c == NULL || g_strcmp0 (c->replaces, sf_instance_handle (old_inst)) != 0)
    return NULL;
  return inst;
}

/* A new INVITE with Replaces (RFC 3891 3): two or more Replaces lines, or a
 * malformed one: 400 naming it; no call of ours whose dialog has that
 * Call-ID, our tag as to-tag and the peer's as from-tag: 481; the call found
 * is ending or over: 603; an early dialog the peer initiated (we ring): 481;
 * a confirmed dialog and early-only: 486.  Each of those ends the new call
 * (outcome refused).  Otherwise the new call replaces the one found (its
 * handle kept in call->replaces) and the INVITE goes on to the next operators
 * (OpRing answers it at once).  Without a Replaces line, or with ua.replaces
 * off: not ours. */
static SfOpResult
sf_op_replaces (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *kept = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "INVITE") != 0 || e == NULL || e->txn == NULL ||
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL || (kept != NULL && kept->invite != NULL))
    return SF_OP_SKIP;
  const SfSipHdr *h;
  guint n = replaces_lines (e->msg, &h);
  if (n == 0 || !sf_ua_replaces_on (ctx))
    return SF_OP_SKIP;
  if (n > 1)
    return refuse (ctx, e, 400, "Bad Request (more than one Replaces)", "bad_replaces",
                   "more than one Replaces header");
  g_autoptr (GError) error = NULL;
  g_autoptr (SfReplaces) rep = sf_replaces_parse (h->value.p, h->value.len, &error);
  if (rep == NULL) {
    g_autofree char *phrase = g_strdup_printf ("Bad Replaces (%s)", error->message);
    g_autofree char *detail = g_strdup_printf ("malformed Replaces: %s", error->message);
    return refuse (ctx, e, 400, phrase, "bad_replaces", detail);
  }
  /* The dialog: Call-ID, to-tag our local tag, from-tag the remote one (RFC
   * 3891 3), among the calls of this machine (the instances of one endpoint
   * are bounded by ua.max_calls and the stack's limits). */
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfInstance *self = sf_ctx_instance (ctx);
  g_autoptr (GPtrArray) all = sf_endpoint_instances (ep);
  SfInstance *found = NULL;
  SfUaCall *old = NULL;
  for (guint i = 0; i < all->len && found == NULL; i++) {
    SfInstance *inst = all->pdata[i];
    if (inst == self || sf_instance_machine (inst) != sf_instance_machine (self))
      continue;
    SfUaCall *c = sf_ua_call_of (ep, inst);
    if (c == NULL || c->dialog == NULL || g_strcmp0 (c->dialog->call_id, rep->call_id) != 0 ||
        !tag_matches (c->dialog->local_tag, rep->to_tag) || !tag_matches (c->dialog->remote_tag, rep->from_tag))
      continue;
    found = inst;
    old = c;
  }
  if (found == NULL)
    return refuse (ctx, e, 481, "Call/Transaction Does Not Exist (Replaces)", "replaces_no_dialog",
                   "no dialog matches Replaces");
  const char *handle = sf_instance_handle (found);
  if (sf_instance_ended (found) || old->ended_emitted || old->reason != NULL || old->cancelling ||
      g_strcmp0 (sf_instance_state (found), "HangingUp") == 0 || g_strcmp0 (sf_instance_state (found), "AckWait") == 0)
    return refuse (ctx, e, 603, "Declined (the dialog Replaces names has ended)", "replaces_ended",
                   "the dialog Replaces names has ended");
  /* Another INVITE took this dialog already, not answered yet (a burst of
   * replacing INVITEs, each would otherwise be answered past ua.max_calls and
   * hang the old call up again): for this one the dialog is as good as over. */
  if (replacing_call (ep, found, old) != NULL)
    return refuse (ctx, e, 603, "Declined (the dialog Replaces names is being replaced)", "replaces_ended",
                   "the dialog Replaces names is being replaced by another call");
  if (old->dialog->early && old->incoming)
    return refuse (ctx, e, 481, "Call/Transaction Does Not Exist (an early dialog we did not initiate)",
                   "replaces_no_dialog", "Replaces names an early dialog we did not initiate");
  if (!old->dialog->early && rep->early_only)
    return refuse (ctx, e, 486, "Busy Here (early-only, the dialog is confirmed)", "replaces_busy",
                   "early-only, and the dialog Replaces names is confirmed");
  /* Accepted: the INVITE goes on (OpRing, answered at once).  RFC 3891 3 asks
   * the replacement to be authorized as strongly as the dialog replaced was:
   * this UA authenticates no caller, so knowing the dialog's Call-ID and tags
   * is all it takes (docs/ua.md "Replaces": ua.replaces = off refuses that). */
  SfUaCall *call = sf_ua_call (ctx);
  g_free (call->replaces);
  call->replaces = g_strdup (handle);
  g_free (old->replaced_by);
  old->replaced_by = g_strdup (sf_ctx_handle (ctx)); /* taken at once: see replacing_call */
  g_info ("%s: INVITE replaces %s (%s dialog)", sf_ctx_handle (ctx), handle, old->dialog->early ? "early" : "confirmed");
  return SF_OP_CONTINUE;
}

/* Entry of Ringing: a call that replaces another is answered at once, no
 * user asked (RFC 3891 3: it takes a dialog already accepted). */
static SfOpResult
sf_op_answer_replacing (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->replaces == NULL)
    return SF_OP_CONTINUE;
  sf_ctx_post_self (ctx, sf_event_new (SF_EV_DEVICE, "answer", NULL));
  return SF_OP_CONTINUE;
}

/* Entry of Answered: our 2xx to the replacing INVITE went; the old call ends
 * (RFC 3891 3): its reason becomes replaced and it hangs up, which is a BYE
 * in a confirmed dialog and a CANCEL for our INVITE still early.  A call
 * already gone meanwhile: nothing to do. */
static SfOpResult
sf_op_end_replaced (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (call == NULL || call->replaces == NULL)
    return SF_OP_CONTINUE;
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfInstance *inst = sf_endpoint_lookup_handle (ep, call->replaces);
  SfUaCall *old = inst != NULL && !sf_instance_ended (inst) ? sf_ua_call_of (ep, inst) : NULL;
  if (old != NULL && g_strcmp0 (old->replaced_by, sf_ctx_handle (ctx)) != 0)
    old = NULL; /* not ours to end (another call took it: cannot happen while OpReplaces marks it) */
  GString *f = g_string_new ("\"replaces\":");
  sf_json_append_string (f, call->replaces);
  if (old == NULL) {
    g_info ("%s: the call replaced, %s, is gone already", sf_ctx_handle (ctx), call->replaces);
    g_string_append (f, ",\"action\":\"none\"");
  } else {
    gboolean early = old->dialog != NULL && old->dialog->early;
    sf_ua_call_set_reason (old, "replaced", 0);
    sf_endpoint_post (ep, inst, sf_event_new (SF_EV_DEVICE, "hangup", NULL));
    g_string_append_printf (f, ",\"action\":\"%s\"", early ? "cancel" : "bye");
  }
  sf_ctx_emit (ctx, "replaced", f->str);
  g_string_free (f, TRUE);
  return SF_OP_CONTINUE;
}

const SfOperatorDef sf_op_replaces_table[] = {
  { "OpReplaces", sf_op_replaces, SF_Q_NORMAL, SF_EV_SIP, 0, replaces_outcomes, SF_ARG_NONE, NULL,
    NULL,
    "takes a new INVITE with a Replaces header (ua.replaces on): finds the call whose dialog it names (Call-ID, "
    "to-tag our tag, from-tag the peer's); 400 for two Replaces or a malformed one, 481 for no such dialog or an "
    "early one we did not initiate, 603 for one ending or over, 486 for early-only on a confirmed one: outcome "
    "refused; else the new call replaces that one and the INVITE goes on (OpRing answers it at once)",
    "sip:INVITE", NULL, "RFC 3891 3" },
  { "OpAnswerReplacing", sf_op_answer_replacing, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "entry of the ringing state: a call that replaces another (OpReplaces) is answered at once (device:answer "
    "posted to itself)", "*", NULL, "RFC 3891 3" },
  { "OpEndReplaced", sf_op_end_replaced, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "entry of the answered state: the call this one replaces ends, its call_end reason replaced (a BYE, or a "
    "CANCEL for our INVITE still early); a replaced event names it", "*", NULL, "RFC 3891 3" },
};
const gsize sf_op_replaces_table_len = G_N_ELEMENTS (sf_op_replaces_table);
