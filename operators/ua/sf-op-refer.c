/* sf-op-refer.c: REFER (RFC 3515) with norefersub (RFC 4488), call transfer
 * (RFC 5589), in the user agent's two REFER roles.
 *
 * Transferor: the control command 'transfer CALL URI' (blind) or 'transfer
 * CALL CALL2' (attended: Refer-To is CALL2's remote target with an embedded
 * Replaces naming CALL2's dialog, RFC 3891 6.1, RFC 5589 7) makes an instance
 * of the subscription machine (xml/subscription.xml) that sends the REFER in
 * CALL's dialog, holding a reference to it (RFC 5057: the REFER, its NOTIFYs
 * and the call's BYE share the dialog's CSeq and target).  The instance is
 * the implicit subscription's subscriber (RFC 3515 2.4.4), keyed "Call-ID|our
 * tag" in scope subscription, where the stack sends the NOTIFYs of the dialog
 * (also one that beats the REFER's 2xx); OpNotify checks them (Event refer
 * with id the REFER's CSeq, 2.4.6; a message/sipfrag body, 2.4.5) and
 * sf_ua_refer_notified writes a transfer event per NOTIFY; a final 2xx sets
 * CALL's reason to transferred and sends it device:hangup, so it ends with a
 * BYE (call_end reason transferred); a failure leaves CALL as it is.
 *
 * Transferee: a REFER in a call's confirmed dialog (InCall, Onhold: OpRefer)
 * is checked (the dialog's CSeq, 12.2.2; exactly one Refer-To, 2.4.2: 400; a
 * sip/sips URI, method INVITE or none: 403 / 501; Refer-Sub, RFC 4488: 400),
 * then ua.refer's policy (off, same_domain, any: 403), one transfer at a time
 * per call (491), ua.max_calls (503: the referred call is one more), the
 * subscription limits (503, 403); then 202.  Unless the
 * REFER says Refer-Sub: false (RFC 4488 4: honoured, the 202 says so too, no
 * NOTIFY), a notifier instance of the subscription machine holds a reference
 * to the dialog and sends NOTIFY 100 Trying at once (2.4.4), a NOTIFY per
 * progress of the referred call and a final one (terminated;reason=noresource),
 * one at a time, bounded by its own timer (SF_REFER_EXPIRES).  The referred call
 * is a new instance of the UA's machine whose INVITE carries Referred-By and
 * the embedded Replaces (invite_extra); its progress reaches the notifier as
 * device:refer_progress (sf_ua_refer_progress).  A REFER outside a dialog, or
 * in a call that is not up: 403 (OpReferRefused). */
#include "config.h"
#include "sf-ua-call.h"
#include "sf-subscribe.h"
#include "sf-ua-sub.h"
#include "sf-refer.h"
#include "operators/sf-modules.h"
#include "framework/sf-endpoint.h"
#include "framework/sf-clock.h"
#include "framework/sf-module.h"
#include "framework/sf-json.h"
#include "states/sf-instance.h"
#include "states/sf-machine.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include "sip/sf-sip-txn-key.h"
#include <string.h>

/* The live instance with @handle, NULL when it ended or never was. */
static SfInstance *
live (SfEndpoint *ep, const char *handle)
{
  SfInstance *inst = handle != NULL ? sf_endpoint_lookup_handle (ep, handle) : NULL;
  return inst != NULL && !sf_instance_ended (inst) ? inst : NULL;
}

/* The "transfer" event: @state, the role, what is known. */
static void
emit_transfer (SfCtx *ctx, const char *role, const char *state, const char *call, guint status, const char *reason,
               const char *target)
{
  GString *f = g_string_new ("\"role\":");
  sf_json_append_string (f, role);
  g_string_append (f, ",\"state\":");
  sf_json_append_string (f, state);
  if (call != NULL) {
    g_string_append (f, ",\"transferred_call\":");
    sf_json_append_string (f, call);
  }
  if (status != 0)
    g_string_append_printf (f, ",\"status\":%u", status);
  if (reason != NULL) {
    g_string_append (f, ",\"reason\":");
    sf_json_append_string (f, reason);
  }
  if (target != NULL) {
    g_string_append (f, ",\"target\":");
    sf_json_append_string (f, target);
  }
  sf_ctx_emit (ctx, "transfer", f->str);
  g_string_free (f, TRUE);
}

/* The state of a transfer for a sipfrag status (RFC 5589 6). */
static const char *
frag_state (guint status)
{
  return status < 180 ? "trying" : status < 200 ? "ringing" : status < 300 ? "succeeded" : "failed";
}

/* ================= transferor ================= */

/* device:refer "CALL TARGET" in a new subscription instance (the control's
 * 'transfer'): TARGET a URI (blind) or the handle of another call (attended:
 * its remote target with the embedded Replaces of its dialog, RFC 5589 7).
 * The REFER goes in CALL's dialog, shared (a reference); the instance is
 * keyed by its Call-ID and our tag; its expiry timer bounds the wait for the
 * NOTIFYs (SF_REFER_EXPIRES until a NOTIFY says otherwise).  Then
 * transitions; error when the call has no confirmed dialog or the REFER
 * cannot go. */
static SfOpResult
sf_op_send_refer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, "refer") != 0 || ev->arg == NULL)
    return SF_OP_SKIP;
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  Sub *s = sf_ua_sub_new_of (sf_ua_inst (ctx));
  s->refer = TRUE;
  g_free (s->package);
  s->package = g_strdup ("refer");
  g_auto (GStrv) w = g_strsplit (ev->arg, " ", 2);
  if (w[0] == NULL || w[1] == NULL) {
    s->reason = g_strdup ("bad arguments");
    return SF_OP_ERROR;
  }
  g_free (s->refer_call);
  s->refer_call = g_strdup (w[0]);
  SfInstance *ci = live (ep, w[0]);
  SfUaCall *call = ci != NULL ? sf_ua_call_of (ep, ci) : NULL;
  g_autofree char *refer_to = NULL;
  if (call == NULL || call->dialog == NULL || call->dialog->early) {
    s->reason = g_strdup ("the call has no confirmed dialog");
    emit_transfer (ctx, "transferor", "failed", s->refer_call, 0, s->reason, NULL);
    return SF_OP_ERROR;
  }
  gboolean attended = strchr (w[1], ':') == NULL; /* a handle, not a URI (the control checked which) */
  SfInstance *c2 = attended ? live (ep, w[1]) : NULL;
  if (attended && c2 == NULL) {
    /* it ended since the command: never a Refer-To made of a handle */
    s->reason = g_strdup ("the second call has ended");
    emit_transfer (ctx, "transferor", "failed", s->refer_call, 0, s->reason, NULL);
    return SF_OP_ERROR;
  }
  if (c2 != NULL) {
    SfUaCall *call2 = sf_ua_call_of (ep, c2);
    if (call2 == NULL || call2->dialog == NULL || call2->dialog->early || call2->dialog->remote_tag == NULL) {
      s->reason = g_strdup ("the second call has no confirmed dialog");
      emit_transfer (ctx, "transferor", "failed", s->refer_call, 0, s->reason, NULL);
      return SF_OP_ERROR;
    }
    /* the target URI without its headers; Replaces names CALL2's dialog as
     * the transfer target sees it: to-tag its tag, from-tag ours (RFC 3891 3) */
    g_autofree char *t = g_strdup (call2->dialog->remote_target);
    char *q = strchr (t, '?');
    if (q != NULL)
      *q = '\0';
    refer_to = sf_refer_to_with_replaces (t, call2->dialog->call_id, call2->dialog->remote_tag,
                                          call2->dialog->local_tag);
  } else {
    refer_to = g_strdup_printf ("<%s>", w[1]);
  }
  s->target = g_strdup (refer_to);
  s->dialog = sf_sip_dialog_ref (call->dialog);
  SfStack *st = sf_stack_from_ctx (ctx);
  g_auto (SfUaHop) hop = { 0 };
  if (st == NULL || !sf_ua_hop (ctx, sf_ua_dialog_hop (s->dialog), &hop)) {
    s->reason = g_strdup ("no socket");
    return SF_OP_ERROR;
  }
  g_autofree char *contact = sf_ua_contact (ctx, hop.local, hop.contact_proto, hop.sips);
  g_autofree char *rt = g_strdup_printf ("Refer-To: %s", refer_to);
  g_autofree char *self = sf_ua_from (ctx, hop.local);
  g_autofree char *rb = g_strdup_printf ("Referred-By: %s", self);
  const char *extra[] = { rt, rb, "Supported: norefersub", NULL };
  /* REFER has a Contact (RFC 3515 2.4.1: it may make a dialog, 12.1.2) */
  SfSipDialogRequest r = { .method = "REFER", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .contact = contact, .extra = extra };
  g_autofree char *next_hop = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) req = sf_sip_dialog_create_request (s->dialog, &r, &next_hop, &error);
  if (req == NULL) {
    g_warning ("%s: REFER: %s", sf_ctx_handle (ctx), error->message);
    s->reason = g_strdup ("the REFER could not be made");
    return SF_OP_ERROR;
  }
  s->cseq = sf_sip_msg_cseq (req)->number;
  s->event_id = g_strdup_printf ("%u", s->cseq); /* the NOTIFYs' Event id (RFC 3515 2.4.6) */
  s->first_refer = call->refers_sent++ == 0;
  /* our bound on the wait: a NOTIFY's expires may shorten it, never stretch
   * it (OpNotify), so a transferee cannot keep this instance and its
   * reference to the dialog for ever with active;expires=4294967295 */
  s->granted = SF_REFER_EXPIRES;
  s->call_id = g_strdup (s->dialog->call_id);
  s->tag = g_strdup (s->dialog->local_tag);
  s->uri = g_strdup (s->dialog->remote_target);
  g_autofree char *key = sf_sip_txn_call_key (s->call_id, s->tag);
  if (!sf_endpoint_set_key (ep, sf_ctx_instance (ctx), key)) {
    s->reason = g_strdup ("another subscription has this dialog");
    return SF_OP_ERROR;
  }
  g_clear_pointer (&s->last, sf_sip_msg_unref);
  s->last = sf_sip_msg_ref (req);
  sf_stack_request_to (st, sf_ctx_instance (ctx), req, next_hop);
  sf_ctx_timer_start (ctx, "expires", (guint64) SF_REFER_EXPIRES * 1000);
  emit_transfer (ctx, "transferor", "referring", s->refer_call, 0, NULL, refer_to);
  return SF_OP_TRANSITION;
}

static const char *const refer_response_outcomes[] = { "accepted", "failed", NULL };

/* The final response to our REFER, or its transaction's failure: 2xx
 * accepted (the subscription lives until its final NOTIFY or its expiry; a
 * 2xx with Refer-Sub: false has none, RFC 4488 4: failed, reason
 * norefersub, the call stays); another final status, a timeout, a
 * transport error: failed (a transfer event; the call stays). */
static SfOpResult
sf_op_refer_response (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  Sub *s = sf_ua_sub_peek (ctx);
  if (s == NULL || !s->refer || s->notifier)
    return SF_OP_SKIP;
  guint status;
  SfSipMsg *msg = NULL;
  if (ev->kind == SF_EV_TXN) {
    /* a NOTIFY that beat the 202, whose answer failed, is the peer's request, not our REFER */
    SfSipMsg *failed = s->tag != NULL ? sf_ua_failed_from (ev, (SfSipStr) { s->tag, strlen (s->tag) }) : NULL;
    if (failed == NULL || !sf_sip_str_eq (sf_sip_msg_method (failed), "REFER"))
      return SF_OP_SKIP;
    status = strcmp (ev->name, "timeout") == 0 ? 408 : 503;
  } else {
    SfSipEvent *e = ev->payload;
    if (strcmp (ev->name, "response") != 0 || e == NULL)
      return SF_OP_SKIP;
    msg = e->msg;
    const SfSipValue *cs = sf_sip_msg_cseq (msg);
    if (!sf_sip_str_eq (cs->text, "REFER") || cs->number != s->cseq)
      return SF_OP_SKIP;
    status = sf_sip_msg_status (msg);
    if (status < 200)
      return SF_OP_DONE;
  }
  s->status = status;
  if (status >= 300) {
    g_autofree char *phrase = msg != NULL ? sf_sip_str_dup (sf_sip_msg_reason (msg)) : NULL;
    s->reason = g_strdup ("refused");
    emit_transfer (ctx, "transferor", "failed", s->refer_call, status, phrase, NULL);
    return SF_OP_OUTCOME (1);
  }
  guint n = 0;
  const SfSipHdr *h = sf_sub_header (msg, "Refer-Sub", 0, &n);
  gboolean sub = TRUE;
  if (h != NULL && n == 1 && sf_refer_parse_refer_sub (h->value, &sub, NULL) && !sub) {
    /* no NOTIFY will come: we cannot learn the outcome, the call stays */
    s->reason = g_strdup ("norefersub");
    emit_transfer (ctx, "transferor", "accepted", s->refer_call, status, "no subscription", NULL);
    return SF_OP_OUTCOME (1);
  }
  emit_transfer (ctx, "transferor", "accepted", s->refer_call, status, NULL, NULL);
  return SF_OP_OUTCOME (0);
}

void
sf_ua_refer_notified (SfCtx *ctx, Sub *s, guint status, const char *reason, gboolean terminated)
{
  if (s->notifier)
    return;
  s->frag_status = status;
  emit_transfer (ctx, "transferor", frag_state (status), s->refer_call, status, reason, NULL);
  if (status >= 200 && status < 300) {
    /* RFC 5589 6.1: the transfer succeeded; the transferor ends its call */
    /* the call's own hang-up path sends the BYE (whatever state it is in:
     * InCall, Onhold, a re-INVITE pending), its reason set first (the first
     * reason wins) */
    SfInstance *ci = live (sf_ctx_endpoint (ctx), s->refer_call);
    SfUaCall *call = ci != NULL ? sf_ua_call_of (sf_ctx_endpoint (ctx), ci) : NULL;
    if (call != NULL) {
      sf_ua_call_set_reason (call, "transferred", 0);
      sf_endpoint_post (sf_ctx_endpoint (ctx), ci, sf_event_new (SF_EV_DEVICE, "hangup", NULL));
    }
  }
}

/* ================= transferee ================= */

/* Answers @e with @status and the lines @lines (nullable). */
static gboolean
respond (SfCtx *ctx, SfSipEvent *e, guint status, const char *why, const char *tag, const char *const *lines)
{
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, status, why, tag, lines, NULL);
  return r != NULL && sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r);
}

static void
emit_refused (SfCtx *ctx, guint status, const char *why)
{
  emit_transfer (ctx, "transferee", "refused", NULL, status, why, NULL);
}

/* Is @host our domain (ua.uri's host; case-insensitive, RFC 3261 19.1.4)? */
static gboolean
our_domain (SfCtx *ctx, const char *host)
{
  const char *uri = sf_ua_cfg (ctx, "uri");
  if (uri == NULL || host == NULL)
    return FALSE;
  g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (uri, strlen (uri)), NULL, NULL);
  g_autofree char *ours = u != NULL ? sf_sip_host_dup (u->host) : NULL;
  return ours != NULL && g_ascii_strcasecmp (ours, host) == 0;
}

/* The live calls of @ctx's machine, its own included (as OpBusyHere counts
 * them for an incoming INVITE, sf-op-ua.c). */
static guint
calls_alive (SfCtx *ctx)
{
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfMachine *m = sf_instance_machine (sf_ctx_instance (ctx));
  g_autoptr (GPtrArray) all = sf_endpoint_instances (ep);
  guint n = 0;
  for (guint i = 0; i < all->len; i++)
    if (sf_instance_machine (all->pdata[i]) == m && !sf_instance_ended (all->pdata[i]) &&
        !sf_ua_message_alone (ep, all->pdata[i]))
      n++;
  return n;
}

/* ua.refer's same_domain for a target: its host, and its maddr when it has
 * one (the INVITE would go to the maddr whatever the host says, RFC 3261
 * 19.1.1, sf-sip-resolve.c), are our domain. */
static gboolean
in_our_domain (SfCtx *ctx, const char *host, const char *maddr)
{
  return our_domain (ctx, host) && (maddr == NULL || our_domain (ctx, maddr));
}

gboolean
sf_ua_refer_allows (SfCtx *ctx, const SfSipUri *u)
{
  const char *policy = sf_ua_cfg (ctx, "refer");
  if (g_strcmp0 (policy, "any") == 0)
    return TRUE;
  if (g_strcmp0 (policy, "off") == 0 || (u->kind != SF_URI_SIP && u->kind != SF_URI_SIPS))
    return FALSE;
  g_autofree char *host = sf_sip_host_dup (u->host);
  const SfSipParam *ma = sf_sip_uri_param (u, "maddr");
  g_autofree char *maddr = ma == NULL ? NULL : ma->value.p != NULL ? sf_sip_host_dup (ma->value) : g_strdup ("");
  return in_our_domain (ctx, host, maddr);
}

/* The subscription limits for a REFER's notifier (RFC 6665 4.2.1: they count
 * notifiers too): 503 past ua.max_subscriptions, 403 past the per-peer one,
 * else 0; *@why the reason phrase. */
static guint
notifier_limit (SfCtx *ctx, SfSipEvent *e, const char **why)
{
  g_autofree char *peer = e->peer.remote != NULL
                            ? g_inet_address_to_string (g_inet_socket_address_get_address (e->peer.remote))
                            : g_strdup ("");
  guint with_peer = 0;
  if (sf_ua_sub_count (ctx, peer, &with_peer) >= (guint) sf_ua_cfg_int (ctx, "max_subscriptions")) {
    *why = "Too Many Subscriptions";
    return 503;
  }
  if (with_peer >= (guint) sf_ua_cfg_int (ctx, "max_subscriptions_per_peer")) {
    *why = "Too Many Subscriptions From You";
    return 403;
  }
  return 0;
}

/* Referred-By for the referred call (RFC 3892): the REFER's, unfolded and
 * without control bytes, else its From's URI, or NULL when not @from_ok
 * (transfer full). */
static char *
referred_by_of (SfSipMsg *refer, gboolean from_ok)
{
  guint n = 0;
  const SfSipHdr *rb = sf_sub_header (refer, "Referred-By", 'b', &n);
  if (rb != NULL && n == 1 && rb->value.len > 0 && rb->value.len <= 512) {
    /* unfolded (RFC 3261 7.3.1: a fold is LWS): the line goes into our INVITE,
     * and a peer that does not know folding would read a folded line as a
     * header of its own; no control byte either (our parser lets one through
     * as a quoted-pair): a space instead, so a quoted-pair stays one */
    GString *v = g_string_sized_new (rb->value.len);
    for (gsize i = 0; i < rb->value.len; i++) {
      guchar c = (guchar) rb->value.p[i];
      if (c != '\r' && c != '\n')
        g_string_append_c (v, (c >= 0x20 && c != 0x7f) || c == '\t' ? (char) c : ' ');
    }
    return g_string_free (v, FALSE);
  }
  const SfSipValue *from = sf_sip_msg_from (refer);
  if (!from_ok)
    return NULL;
  return from != NULL && from->uri != NULL ? g_strdup_printf ("<%.*s>", (int) from->uri->raw.len, from->uri->raw.p)
                                           : g_strdup ("<sip:anonymous@anonymous.invalid>");
}

/* A notifier instance of @subm for the REFER @e accepted in @call's dialog
 * (its implicit subscription, RFC 3515 2.4.4), told to start (NOTIFY 100). */
static void
start_notifier (SfCtx *ctx, SfInstance *ni, SfSipEvent *e, SfUaCall *call, const SfReferTo *rt, const char *peer,
                const char *refer_call)
{
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfUaInstance *nui = sf_instance_module_slot_ensure (ep, ni, &sf_ua_module, sf_ua_inst_new, sf_ua_inst_free);
  Sub *s = sf_ua_sub_new_of (nui);
  s->refer = TRUE;
  s->notifier = TRUE;
  s->package = g_strdup ("refer");
  s->event_id = g_strdup_printf ("%u", (guint) sf_sip_msg_cseq (e->msg)->number);
  s->dialog = sf_sip_dialog_ref (call->dialog);
  s->uri = g_strdup (rt->uri);
  s->peer = g_strdup (peer);
  s->refer_call = g_strdup (refer_call);
  sf_endpoint_post (ep, ni, sf_event_new (SF_EV_DEVICE, "refer_notify", NULL));
}

/* A B2BUA leg's REFER once its checks are done: @refuse (with @why), else
 * 202, the notifier, and child:refer to the bridge, which makes the referred
 * call as a leg of its own and gives it the notifier (sf-ua-leg.h). */
static SfOpResult
refer_for_bridge (SfCtx *ctx, SfSipEvent *e, SfUaCall *call, const SfReferTo *rt, gboolean want_sub, guint refuse,
                  const char *why)
{
  if (refuse != 0) {
    emit_refused (ctx, refuse, why);
    const char *const lines[] = { "Retry-After: 30", NULL };
    return respond (ctx, e, refuse, why, NULL, refuse == 503 ? lines : NULL) ? SF_OP_DONE : SF_OP_ERROR;
  }
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  g_autoptr (GError) error = NULL;
  SfMachine *subm = want_sub ? sf_machine_lookup_import (sf_instance_machine (sf_ctx_instance (ctx)), "subscription")
                             : NULL;
  SfInstance *ni = subm != NULL ? sf_endpoint_create (ep, subm, NULL, NULL, &error) : NULL;
  if (want_sub && ni == NULL) {
    emit_refused (ctx, 500, error != NULL ? error->message : "no subscription machine");
    return respond (ctx, e, 500, "Cannot Follow The REFER Now", NULL, NULL) ? SF_OP_DONE : SF_OP_ERROR;
  }
  const char *const lines_sub[] = { "Supported: norefersub", NULL };
  const char *const lines_nosub[] = { "Refer-Sub: false", "Supported: norefersub", NULL };
  if (!respond (ctx, e, 202, NULL, NULL, want_sub ? lines_sub : lines_nosub)) {
    if (ni != NULL)
      sf_endpoint_end (ep, ni, "refer not answered");
    return SF_OP_ERROR;
  }
  g_autofree char *peer = e->peer.remote != NULL
                            ? g_inet_address_to_string (g_inet_socket_address_get_address (e->peer.remote))
                            : g_strdup ("");
  if (ni != NULL)
    start_notifier (ctx, ni, e, call, rt, peer, NULL);
  SfUaLegNote *n = sf_ua_leg_note_new (0, NULL, rt->uri);
  n->lines = g_ptr_array_new_with_free_func (g_free);
  /* the caller's own From never reaches the B side (topology hiding,
   * docs/b2bua.md): an A leg passes a Referred-By the REFER carries, and
   * makes none from its From */
  g_autofree char *rb = referred_by_of (e->msg, !call->leg->a_side);
  if (rb != NULL)
    g_ptr_array_add (n->lines, g_strdup_printf ("Referred-By: %s", rb));
  if (rt->replaces != NULL)
    g_ptr_array_add (n->lines, g_strdup_printf ("Replaces: %s", rt->replaces));
  n->reason = g_steal_pointer (&rb);
  n->notifier = ni != NULL ? g_strdup (sf_instance_handle (ni)) : NULL;
  n->msg = sf_sip_msg_ref (e->msg);
  GString *f = g_string_new ("\"role\":\"transferee\",\"state\":\"accepted\",\"status\":202,\"target\":");
  sf_json_append_string (f, rt->uri);
  g_string_append_printf (f, ",\"bridge\":true,\"replaces\":%s,\"subscription\":", rt->replaces != NULL ? "true" : "false");
  if (ni != NULL)
    sf_json_append_string (f, sf_instance_handle (ni));
  else
    g_string_append (f, "null");
  sf_ctx_emit (ctx, "transfer", f->str);
  g_string_free (f, TRUE);
  sf_ua_leg_notify (ctx, SF_UA_LEG_UP_REFER, n);
  return SF_OP_DONE;
}

/* A REFER in the call's confirmed dialog (InCall, Onhold): see the file's
 * comment.  The call goes on whatever comes of it (the transferor ends it). */
static SfOpResult
sf_op_refer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfUaCall *call = sf_ua_call_peek (ctx);
  if (strcmp (ev->name, "REFER") != 0 || e == NULL || e->txn == NULL || call == NULL ||
      sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL)
    return SF_OP_SKIP;
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  guint status = 200;
  if (call->dialog == NULL || call->dialog->early || !sf_sip_dialog_request_in (call->dialog, e->msg, &status)) {
    /* no confirmed dialog (none, or early: request_in was not asked): 481,
     * never the 200 status starts with */
    status = call->dialog == NULL || call->dialog->early ? 481 : status;
    emit_refused (ctx, status, "dialog");
    return respond (ctx, e, status, NULL, NULL, NULL) ? SF_OP_DONE : SF_OP_ERROR;
  }
  /* Refer-To: exactly one (RFC 3515 2.4.2) */
  guint n = 0;
  const SfSipHdr *h = sf_sub_header (e->msg, "Refer-To", 'r', &n);
  g_autoptr (GError) error = NULL;
  g_auto (SfReferTo) rt = { 0 };
  if (h == NULL || n != 1 || !sf_refer_parse_refer_to (h->value, &rt, &error)) {
    g_autofree char *why = g_strdup_printf ("Bad Refer-To header: %s", error != NULL ? error->message
                                                                         : n == 0 ? "missing" : "more than one");
    emit_refused (ctx, 400, why);
    return respond (ctx, e, 400, why, NULL, NULL) ? SF_OP_DONE : SF_OP_ERROR;
  }
  /* Refer-Sub (RFC 4488 4): one, true or false */
  gboolean want_sub = TRUE;
  const SfSipHdr *rs = sf_sub_header (e->msg, "Refer-Sub", 0, &n);
  if (rs != NULL && (n != 1 || !sf_refer_parse_refer_sub (rs->value, &want_sub, &error))) {
    g_autofree char *why = g_strdup_printf ("Bad Refer-Sub header: %s", error != NULL ? error->message : "more than one");
    emit_refused (ctx, 400, why);
    return respond (ctx, e, 400, why, NULL, NULL) ? SF_OP_DONE : SF_OP_ERROR;
  }
  /* what we refer to: a SIP call (RFC 5589); another scheme is refused (403,
   * RFC 3515 2.4.2 leaves the answer to us), another method not done (501) */
  const char *why = NULL;
  guint refuse = 0;
  if (!rt.sip) {
    refuse = 403;
    why = "Refer-To: only sip and sips URIs are followed";
  } else if (rt.method != NULL && g_ascii_strcasecmp (rt.method, "INVITE") != 0) {
    refuse = 501;
    why = "Refer-To: only method INVITE is followed";
  }
  /* A B2BUA's leg: the bridge decides (b2bua.refer, one transfer at a time,
   * its own bounds) and performs the transfer with a leg of its own. */
  if (call->leg != NULL) {
    if (refuse == 0)
      refuse = sf_ua_leg_refer_check (ctx, rt.host, rt.maddr, &why);
    if (refuse == 0 && want_sub) /* each accepted REFER is a notifier: bounded as the UA's */
      refuse = notifier_limit (ctx, e, &why);
    return refer_for_bridge (ctx, e, call, &rt, want_sub, refuse, why);
  }
  /* ua.refer (toll fraud: a REFER must not make the UA call anywhere) */
  const char *policy = sf_ua_cfg (ctx, "refer");
  if (refuse == 0 && g_strcmp0 (policy, "off") == 0) {
    refuse = 403;
    why = "REFER refused by policy (ua.refer is off)";
  } else if (refuse == 0 && g_strcmp0 (policy, "any") != 0 && !in_our_domain (ctx, rt.host, rt.maddr)) {
    refuse = 403;
    why = "REFER refused by policy (ua.refer is same_domain: the target is not in our domain)";
  }
  /* one transfer at a time per call */
  if (refuse == 0 && live (ep, call->refer_child) != NULL) {
    refuse = 491;
    why = "A transfer of this call is in progress";
  }
  /* ua.max_calls bounds the referred calls too: each REFER is one more call,
   * and the peer of a referred call may REFER it in turn (a chain of calls
   * the transferee never hangs up, RFC 5589 leaves that to the transferor) */
  if (refuse == 0 && calls_alive (ctx) >= (guint) sf_ua_cfg_int (ctx, "max_calls")) {
    const char *const lines[] = { "Retry-After: 30", NULL };
    emit_refused (ctx, 503, "max_calls");
    return respond (ctx, e, 503, "Too Many Calls", NULL, lines) ? SF_OP_DONE : SF_OP_ERROR;
  }
  /* the subscription limits count notifiers too (RFC 6665 4.2.1) */
  g_autofree char *peer = e->peer.remote != NULL
                            ? g_inet_address_to_string (g_inet_socket_address_get_address (e->peer.remote))
                            : g_strdup ("");
  guint with_peer = 0;
  if (refuse == 0 && want_sub) {
    guint all = sf_ua_sub_count (ctx, peer, &with_peer);
    if (all >= (guint) sf_ua_cfg_int (ctx, "max_subscriptions")) {
      const char *const lines[] = { "Retry-After: 30", NULL };
      emit_refused (ctx, 503, "max_subscriptions");
      return respond (ctx, e, 503, "Too Many Subscriptions", NULL, lines) ? SF_OP_DONE : SF_OP_ERROR;
    }
    if (with_peer >= (guint) sf_ua_cfg_int (ctx, "max_subscriptions_per_peer")) {
      refuse = 403;
      why = "Too Many Subscriptions From You";
    }
  }
  if (refuse != 0) {
    emit_refused (ctx, refuse, why);
    return respond (ctx, e, refuse, why, NULL, NULL) ? SF_OP_DONE : SF_OP_ERROR;
  }
  /* the referred call: a new instance of this machine (as the control's 'call URI') */
  SfMachine *mm = sf_instance_machine (sf_ctx_instance (ctx));
  SfMachine *subm = want_sub ? sf_machine_lookup_import (mm, "subscription") : NULL;
  SfInstance *rc = sf_endpoint_create (ep, mm, NULL, NULL, &error);
  SfInstance *ni = rc != NULL && want_sub && subm != NULL ? sf_endpoint_create (ep, subm, NULL, NULL, &error) : NULL;
  if (rc == NULL || (want_sub && ni == NULL)) {
    if (rc != NULL)
      sf_endpoint_end (ep, rc, "refer refused");
    emit_refused (ctx, 500, error != NULL ? error->message : "no subscription machine");
    return respond (ctx, e, 500, "Cannot Follow The REFER Now", NULL, NULL) ? SF_OP_DONE : SF_OP_ERROR;
  }
  const char *const lines_sub[] = { "Supported: norefersub", NULL };
  const char *const lines_nosub[] = { "Refer-Sub: false", "Supported: norefersub", NULL };
  if (!respond (ctx, e, 202, NULL, NULL, want_sub ? lines_sub : lines_nosub)) {
    sf_endpoint_end (ep, rc, "refer not answered");
    if (ni != NULL)
      sf_endpoint_end (ep, ni, "refer not answered");
    return SF_OP_ERROR;
  }
  g_free (call->refer_child);
  call->refer_child = g_strdup (sf_instance_handle (rc));
  SfUaInstance *rui = sf_instance_module_slot_ensure (ep, rc, &sf_ua_module, sf_ua_inst_new, sf_ua_inst_free);
  SfUaCall *rcall = sf_ua_call_ensure (rui);
  rcall->invite_extra = g_ptr_array_new_with_free_func (g_free);
  /* Referred-By (RFC 3892): the REFER's, else its From's URI */
  rcall->referred_by = referred_by_of (e->msg, TRUE);
  g_ptr_array_add (rcall->invite_extra, g_strdup_printf ("Referred-By: %s", rcall->referred_by));
  if (rt.replaces != NULL)
    g_ptr_array_add (rcall->invite_extra, g_strdup_printf ("Replaces: %s", rt.replaces));
  if (ni != NULL) {
    rcall->refer_notifier = g_strdup (sf_instance_handle (ni));
    start_notifier (ctx, ni, e, call, &rt, peer, sf_instance_handle (rc));
  }
  sf_endpoint_post (ep, rc, sf_event_new (SF_EV_DEVICE, "call", rt.uri));
  GString *f = g_string_new ("\"role\":\"transferee\",\"state\":\"accepted\",\"status\":202,\"target\":");
  sf_json_append_string (f, rt.uri);
  g_string_append (f, ",\"referred_call\":");
  sf_json_append_string (f, sf_instance_handle (rc));
  g_string_append_printf (f, ",\"replaces\":%s,\"subscription\":", rt.replaces != NULL ? "true" : "false");
  if (ni != NULL)
    sf_json_append_string (f, sf_instance_handle (ni));
  else
    g_string_append (f, "null");
  sf_ctx_emit (ctx, "transfer", f->str);
  g_string_free (f, TRUE);
  return SF_OP_DONE;
}

/* A REFER the call cannot take: outside a dialog (the UA follows REFERs in
 * a call only: 403; the instance ends), or in a call hanging up (403). */
static SfOpResult
sf_op_refer_refused (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "REFER") != 0 || e == NULL || e->txn == NULL)
    return SF_OP_SKIP;
  gboolean alone = sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL;
  g_autofree char *tag = alone ? sf_sip_random_tag () : NULL;
  const char *why = alone ? "REFER outside a dialog is not accepted" : "No transfer in this call state";
  emit_refused (ctx, 403, why);
  if (!respond (ctx, e, 403, why, tag, NULL))
    return SF_OP_ERROR;
  return alone ? SF_OP_TRANSITION : SF_OP_DONE;
}

/* ================= the notifier (transferee) ================= */

/* Our NOTIFY in the shared dialog with the sipfrag of @s's frag_status
 * (RFC 3515 2.4.5), active;expires=LEFT or, when @final,
 * terminated;reason=@why (2.4.7).  One at a time: notify_out. */
static gboolean
send_notify (SfCtx *ctx, Sub *s, gboolean final, const char *why)
{
  SfStack *st = sf_stack_from_ctx (ctx);
  g_auto (SfUaHop) hop = { 0 };
  if (st == NULL || s->dialog == NULL || !sf_ua_hop (ctx, sf_ua_dialog_hop (s->dialog), &hop))
    return FALSE;
  g_autofree char *contact = sf_ua_contact (ctx, hop.local, hop.contact_proto, hop.sips);
  g_autofree char *evl = g_strdup_printf ("Event: refer;id=%s", s->event_id);
  /* what is left of the subscription (RFC 6665 4.2.2: the expires= of a
   * NOTIFY is the time remaining), at least 1 s while it is active */
  gint64 now = sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx)));
  gint64 left = s->ends_us > now ? (s->ends_us - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC : 1;
  g_autofree char *ss = final ? g_strdup_printf ("Subscription-State: terminated;reason=%s", why)
                              : g_strdup_printf ("Subscription-State: active;expires=%" G_GINT64_FORMAT, left);
  const char *extra[] = { evl, ss, NULL };
  g_autofree char *body = g_strdup_printf ("SIP/2.0 %u %s\r\n", s->frag_status,
                                           s->frag_reason != NULL ? s->frag_reason : "");
  SfSipDialogRequest r = { .method = "NOTIFY", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                           .contact = contact, .extra = extra, .content_type = "message/sipfrag;version=2.0",
                           .body = body, .body_len = strlen (body) };
  g_autofree char *next_hop = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) req = sf_sip_dialog_create_request (s->dialog, &r, &next_hop, &error);
  if (req == NULL) {
    g_warning ("%s: NOTIFY: %s", sf_ctx_handle (ctx), error->message);
    return FALSE;
  }
  s->cseq = sf_sip_msg_cseq (req)->number;
  s->notify_out = TRUE;
  s->queued = FALSE;
  s->final_sent = final;
  sf_stack_request_to (st, sf_ctx_instance (ctx), req, next_hop);
  emit_transfer (ctx, "transferee", frag_state (s->frag_status), s->refer_call, s->frag_status, s->frag_reason, NULL);
  return TRUE;
}

/* device:refer_notify (OpRefer made the instance): NOTIFY 100 Trying at
 * once (RFC 3515 2.4.4), the expiry timer started (SF_REFER_EXPIRES); then
 * transitions; error when it cannot go. */
static SfOpResult
sf_op_refer_notifier_start (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  Sub *s = sf_ua_sub_peek (ctx);
  if (strcmp (ev->name, "refer_notify") != 0 || s == NULL || !s->notifier)
    return SF_OP_SKIP;
  s->granted = SF_REFER_EXPIRES;
  s->ends_us = sf_clock_now_us (sf_endpoint_clock (sf_ctx_endpoint (ctx))) + (gint64) SF_REFER_EXPIRES * G_USEC_PER_SEC;
  s->frag_status = 100;
  s->frag_reason = g_strdup ("Trying");
  sf_ctx_timer_start (ctx, "expires", (guint64) SF_REFER_EXPIRES * 1000);
  if (!send_notify (ctx, s, FALSE, NULL)) {
    s->reason = g_strdup ("notify_failed");
    return SF_OP_ERROR;
  }
  return SF_OP_TRANSITION;
}

/* The reason phrase of our sipfrag from the referred call's response: what
 * its peer said (printable, but any length, and not always UTF-8: RFC 3261
 * 25.1 asks for UTF-8, old peers send Latin-1), made what a transferor's
 * strict parser takes (ours, sf_refer_parse_sipfrag: UTF-8, at most
 * SF_REFER_MAX_REASON bytes), cut at a character's boundary; else the
 * transferor answers our NOTIFY 400 and never learns the outcome. */
static char *
frag_reason_of (const char *r)
{
  g_autofree char *v = g_utf8_make_valid (r, -1);
  const char *p = v;
  while (*p != '\0') {
    const char *next = g_utf8_next_char (p);
    if ((gsize) (next - v) > SF_REFER_MAX_REASON)
      break;
    p = next;
  }
  return g_strndup (v, (gsize) (p - v));
}

static const char *const notify_progress_outcomes[] = { "final", "failed", NULL };

/* device:refer_progress "STATUS REASON" (the referred call's, through
 * sf_ua_refer_progress) or timer:expires: a NOTIFY with that status line;
 * a final status (or the expiry: terminated;reason=timeout with the last
 * status) ends the subscription (outcome final).  While a NOTIFY waits for
 * its response, the newest status waits for it (one at a time). */
static SfOpResult
sf_op_refer_notify (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  Sub *s = sf_ua_sub_peek (ctx);
  if (s == NULL || !s->notifier || s->final_sent)
    return SF_OP_SKIP;
  gboolean expired = ev->kind == SF_EV_TIMER && strcmp (ev->name, "expires") == 0;
  guint status = s->frag_status;
  if (!expired) {
    if (ev->kind != SF_EV_DEVICE || strcmp (ev->name, "refer_progress") != 0 || ev->arg == NULL)
      return SF_OP_SKIP;
    char *end = NULL;
    guint64 v = g_ascii_strtoull (ev->arg, &end, 10);
    if (v < 100 || v > 699 || end == NULL || (*end != ' ' && *end != '\0'))
      return SF_OP_DONE;
    status = (guint) v;
    if (status < 200 && status == s->frag_status)
      return SF_OP_DONE; /* nothing new */
    g_free (s->frag_reason);
    s->frag_reason = frag_reason_of (*end == ' ' ? end + 1 : "");
    s->frag_status = status;
  }
  gboolean final = expired || status >= 200;
  if (final)
    sf_ctx_timer_cancel (ctx, "expires");
  if (s->notify_out) {
    s->queued = TRUE;
    if (final && s->reason == NULL)
      s->reason = g_strdup (expired ? "timeout" : "noresource");
    return final ? SF_OP_OUTCOME (0) : SF_OP_DONE;
  }
  if (!send_notify (ctx, s, final, expired ? "timeout" : "noresource")) {
    g_free (s->reason);
    s->reason = g_strdup ("notify_failed");
    return SF_OP_OUTCOME (1); /* nothing out to wait for: it ends here */
  }
  return final ? SF_OP_OUTCOME (0) : SF_OP_DONE;
}

static const char *const notify_answered_outcomes[] = { "ended", "failed", NULL };

/* The response to our NOTIFY (or its transaction's failure): a 2xx sends
 * the status that waited, if any; after the final NOTIFY, ended; a 481, any
 * other error, a timeout: failed (the subscription is gone, RFC 6665 4.2.2). */
static SfOpResult
sf_op_refer_notify_answered (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  Sub *s = sf_ua_sub_peek (ctx);
  if (s == NULL || !s->notifier || !s->notify_out)
    return SF_OP_SKIP;
  guint status;
  if (ev->kind == SF_EV_TXN) {
    status = 408;
  } else {
    SfSipEvent *e = ev->payload;
    if (strcmp (ev->name, "response") != 0 || e == NULL)
      return SF_OP_SKIP;
    const SfSipValue *cs = sf_sip_msg_cseq (e->msg);
    if (!sf_sip_str_eq (cs->text, "NOTIFY") || cs->number != s->cseq)
      return SF_OP_SKIP;
    status = sf_sip_msg_status (e->msg);
    if (status < 200)
      return SF_OP_DONE;
  }
  s->notify_out = FALSE;
  if (status >= 300) {
    g_free (s->reason);
    s->reason = g_strdup_printf ("notify_failed_%u", status);
    return SF_OP_OUTCOME (1);
  }
  if (s->final_sent)
    return SF_OP_OUTCOME (0);
  if (s->queued) {
    gboolean final = s->frag_status >= 200 || s->reason != NULL;
    if (!send_notify (ctx, s, final, s->reason != NULL ? s->reason : "noresource"))
      return SF_OP_OUTCOME (1);
  }
  return SF_OP_DONE;
}

void
sf_ua_refer_progress (SfCtx *ctx, SfUaCall *call, guint status, const char *reason)
{
  if (call->refer_notifier == NULL || call->refer_reported || status <= 100)
    return;
  if (status >= 200)
    call->refer_reported = TRUE;
  SfInstance *ni = live (sf_ctx_endpoint (ctx), call->refer_notifier);
  if (ni == NULL)
    return;
  g_autofree char *arg = g_strdup_printf ("%u %s", status, reason != NULL ? reason : "");
  sf_endpoint_post (sf_ctx_endpoint (ctx), ni, sf_event_new (SF_EV_DEVICE, "refer_progress", arg));
}

const SfOperatorDef sf_op_refer_table[] = {
  { "OpSendRefer", sf_op_send_refer, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "on device:refer 'CALL TARGET' (the control's transfer): a REFER in CALL's confirmed dialog (shared, RFC 5057) "
    "with Refer-To TARGET (a URI: blind; another call: its remote target with an embedded Replaces of its dialog, "
    "RFC 5589 7), Referred-By, our Contact; the instance keyed by the dialog's Call-ID and our tag (its NOTIFYs "
    "come here), timer expires started; then transitions; error when CALL has no confirmed dialog",
    "device:refer", NULL, "RFC 3515 2.4.1" },
  { "OpReferResponse", sf_op_refer_response, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN, 0, refer_response_outcomes,
    SF_ARG_NONE, NULL, NULL,
    "the final response to our REFER: 2xx accepted (a transfer event; with Refer-Sub: false, failed: no NOTIFY will "
    "tell the outcome); another status, a timeout, a transport error: failed (the call stays)",
    "sip:response|txn:timeout|txn:transport_error", NULL, "RFC 3515 2.4.4, RFC 4488 4" },
  { "OpRefer", sf_op_refer, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a REFER in the call's confirmed dialog: 481/500 (12.2.2); Refer-To one, well formed (400 naming it), sip/sips "
    "(403), method INVITE (501); Refer-Sub (400); ua.refer off or same_domain with a foreign host: 403; a transfer "
    "of the call in progress: 491; ua.max_calls calls alive: 503; the subscription limits: 503, 403; then 202 (Refer-Sub: false honoured: no "
    "subscription), a notifier instance of the subscription machine, and the referred call (a new instance whose "
    "INVITE carries Referred-By and the embedded Replaces); the call goes on",
    "sip:REFER", NULL, "RFC 3515 2.4.2, RFC 4488 4" },
  { "OpReferRefused", sf_op_refer_refused, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "a REFER outside a dialog: 403 (this UA follows REFERs in a call only); transitions", "sip:REFER", NULL,
    "RFC 3515 2.4.2" },
  { "OpReferNotNow", sf_op_refer_refused, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a REFER in a call hanging up (HangingUp): 403; the call goes on (a REFER in an early dialog gets 481 from OpRefer)",
    "sip:REFER", NULL, "RFC 3515 2.4.2" },
  { "OpReferNotifierStart", sf_op_refer_notifier_start, SF_Q_NORMAL, SF_EV_DEVICE, SF_OPF_TRANSITIONS, NULL,
    SF_ARG_NONE, NULL, NULL,
    "device:refer_notify in a notifier instance made by OpRefer: NOTIFY 100 Trying (active;expires=120) at once, "
    "timer expires started; then transitions; error when it cannot go", "device:refer_notify", NULL,
    "RFC 3515 2.4.4" },
  { "OpReferNotify", sf_op_refer_notify, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, 0, notify_progress_outcomes,
    SF_ARG_NONE, NULL, NULL,
    "device:refer_progress 'STATUS REASON' (the referred call's) or timer:expires: a NOTIFY with that sipfrag "
    "status line (one at a time: a newer one waits for the answer); a final status (terminated;reason=noresource) "
    "or the expiry (terminated;reason=timeout): outcome final; a NOTIFY that cannot go: failed",
    "device:refer_progress|timer:expires", NULL,
    "RFC 3515 2.4.5, 2.4.7" },
  { "OpReferNotifyAnswered", sf_op_refer_notify_answered, SF_Q_NORMAL, SF_EV_SIP | SF_EV_TXN, 0,
    notify_answered_outcomes, SF_ARG_NONE, NULL, NULL,
    "the response to our NOTIFY: 2xx sends the status that waited; after the final NOTIFY ended; an error, a "
    "timeout: failed (RFC 6665 4.2.2)", "sip:response|txn:timeout|txn:transport_error", NULL, "RFC 6665 4.2.2" },
};
const gsize sf_op_refer_table_len = G_N_ELEMENTS (sf_op_refer_table);
