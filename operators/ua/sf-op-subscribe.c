/* sf-op-subscribe.c: SIP-specific event notification (RFC 6665) as operators
 * of the subscription machine (xml/subscription.xml), one instance per
 * subscription, and the notifier role's refusals in the UA flow (xml/ua.xml).
 *
 * Subscriber (4.1): the control command 'subscribe URI [EVENT]' starts an
 * instance; its SUBSCRIBE (new Call-ID and tag, Event, Accept, Expires
 * ua.subscribe_expires, our Contact, ua.outbound_proxy as a loose Route) is
 * answered with credentials when challenged; the instance is keyed
 * "Call-ID|our tag" in scope "subscription", where the stack sends every
 * NOTIFY with that To tag (sf-txn-tu.c): one before the 2xx makes the dialog
 * (4.1.2.4), one from another From tag (a fork) gets 481 (4.1.2.4: we keep
 * one subscription per SUBSCRIBE; the forked notifier ends its own, 4.2.2).
 * Refreshed in the dialog before the granted expiry (4.1.2.2); a 481 to a
 * refresh ends it (no new one: the user asks again); at expiry without a
 * terminated NOTIFY it ends by its timer; 'unsubscribe' sends Expires: 0 and
 * waits (bounded) for the final NOTIFY (4.1.2.3).  Terminated with a reason
 * (4.1.3): deactivated and timeout subscribe again at once, probation and
 * giveup after retry-after (bounded, SF_SUB_MAX_RETRIES in a row), the others
 * give up.  Every NOTIFY writes a notify event; a message-summary one an mwi
 * event (RFC 3842).
 *
 * Notifier (4.2): refer only, whose subscriptions a REFER makes
 * (sf-op-refer.c): an incoming SUBSCRIBE gets 403 for refer, else 489
 * (8.3.2; Allow-Events: refer, 4.4.4) after its Event is checked (400), and
 * the limits
 * (ua.max_subscriptions: 503 with Retry-After; ua.max_subscriptions_per_peer:
 * 403) come before any state is made, so a served package cannot grow state
 * without bound. */
#include "config.h"
#include "sf-ua-call.h"
#include "sf-subscribe.h"
#include "sf-ua-sub.h"
#include "sf-refer.h"
#include "operators/sf-modules.h"
#include "framework/sf-endpoint.h"
#include "framework/sf-json.h"
#include "states/sf-instance.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-uri.h"
#include "sip/sf-sip-txn-key.h"
#include <string.h>


void
sf_ua_sub_free (SfUaSub *s)
{
  g_free (s->uri);
  g_free (s->package);
  g_free (s->event_id);
  g_free (s->call_id);
  g_free (s->tag);
  g_free (s->peer);
  g_clear_pointer (&s->last, sf_sip_msg_unref);
  sf_ua_auth_clear (&s->auth);
  g_clear_pointer (&s->dialog, sf_sip_dialog_free);
  g_free (s->state);
  g_free (s->reason);
  g_free (s->refer_call);
  g_free (s->target);
  g_free (s->frag_reason);
  g_free (s);
}

Sub *
sf_ua_sub_new_of (SfUaInstance *ui)
{
  if (ui->sub == NULL) {
    ui->sub = g_new0 (Sub, 1);
    ui->sub->granted = -1;
  }
  return ui->sub;
}

static Sub *
sub_of (SfCtx *ctx)
{
  return sf_ua_sub_new_of (sf_ua_inst (ctx));
}

Sub *
sf_ua_sub_peek (SfCtx *ctx)
{
  SfUaInstance *ui = sf_ctx_module_slot (ctx, &sf_ua_module);
  return ui != NULL ? ui->sub : NULL;
}

static void
set_reason (Sub *s, const char *reason)
{
  if (s->reason == NULL)
    s->reason = g_strdup (reason);
}

/* A "subscription" event: @state, the package, the target, and what is known. */
static void
emit_sub (SfCtx *ctx, Sub *s, const char *state, guint status, const char *why)
{
  GString *f = g_string_new ("\"state\":");
  sf_json_append_string (f, state);
  g_string_append (f, ",\"package\":");
  sf_json_append_string (f, s->package != NULL ? s->package : "");
  g_string_append (f, ",\"uri\":");
  sf_json_append_string (f, s->uri != NULL ? s->uri : "");
  if (s->call_id != NULL) {
    g_string_append (f, ",\"call_id\":");
    sf_json_append_string (f, s->call_id);
  }
  if (status != 0)
    g_string_append_printf (f, ",\"status\":%u", status);
  if (s->granted >= 0 && strcmp (state, "terminated") != 0)
    g_string_append_printf (f, ",\"expires\":%" G_GINT64_FORMAT, s->granted);
  if (why != NULL) {
    g_string_append (f, ",\"reason\":");
    sf_json_append_string (f, why);
  }
  sf_ctx_emit (ctx, "subscription", f->str);
  g_string_free (f, TRUE);
}

/* Live subscription instances of the endpoint, and those with @peer (NULL: not counted). */
static guint
count_subs (SfCtx *ctx, const char *peer, guint *with_peer)
{
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  g_autoptr (GPtrArray) all = sf_endpoint_instances (ep);
  guint n = 0, np = 0;
  for (guint i = 0; i < all->len; i++) {
    SfInstance *inst = all->pdata[i];
    if (inst == sf_ctx_instance (ctx) || sf_instance_ended (inst) ||
        strcmp (sf_instance_machine (inst)->scope, SF_STACK_SUBSCRIPTION_SCOPE) != 0)
      continue;
    n++;
    SfUaInstance *ui = sf_instance_module_slot (ep, inst, &sf_ua_module);
    if (peer != NULL && ui != NULL && ui->sub != NULL && ui->sub->peer != NULL && strcmp (ui->sub->peer, peer) == 0)
      np++;
  }
  if (with_peer != NULL)
    *with_peer = np;
  return n;
}

guint
sf_ua_sub_count (SfCtx *ctx, const char *peer, guint *with_peer)
{
  return count_subs (ctx, peer, with_peer);
}

/* The lines every SUBSCRIBE of @s carries (8.1.1, RFC 6665 3.1.1-3.1.2, RFC 3842 4):
 * Event, Expires, Accept (message-summary's), credentials. */
static void
sub_lines (Sub *s, gint64 expires, char **ev, char **exp, const char *out[6])
{
  *ev = g_strdup_printf ("Event: %s", s->package);
  *exp = g_strdup_printf ("Expires: %" G_GINT64_FORMAT, expires);
  const char *creds[3];
  sf_ua_auth_lines (&s->auth, creds);
  guint i = 0;
  out[i++] = *ev;
  out[i++] = *exp;
  if (strcmp (s->package, "message-summary") == 0)
    out[i++] = "Accept: application/simple-message-summary";
  out[i++] = creds[0];
  out[i++] = creds[0] != NULL ? creds[1] : NULL;
  out[i] = NULL;
}

/* A SUBSCRIBE asking for @expires seconds: inside the dialog when there is
 * one (a refresh or the removal, 4.1.2.2-3), else a new one (4.1.2.1) whose
 * Call-ID and tag key the instance (the stack finds it by them). */
static gboolean
send_subscribe (SfCtx *ctx, Sub *s, gint64 expires)
{
  SfStack *st = sf_stack_from_ctx (ctx);
  if (st == NULL)
    return FALSE;
  g_autofree char *ev = NULL, *exp = NULL;
  const char *extra[6];
  g_autoptr (GError) error = NULL;
  SfSipMsg *req = NULL;
  if (s->dialog != NULL) {
    g_auto (SfUaHop) hop = { 0 };
    if (!sf_ua_hop (ctx, sf_ua_dialog_hop (s->dialog), &hop))
      return FALSE;
    g_autofree char *contact = sf_ua_contact (ctx, hop.local, hop.contact_proto, hop.sips);
    sub_lines (s, expires, &ev, &exp, extra);
    SfSipDialogRequest r = { .method = "SUBSCRIBE", .via_sent_by = hop.local, .transport = sf_ua_hop_transport (&hop),
                             .contact = contact, .extra = extra };
    g_autofree char *next_hop = NULL;
    req = sf_sip_dialog_create_request (s->dialog, &r, &next_hop, &error);
    if (req == NULL) {
      g_warning ("%s: SUBSCRIBE: %s", sf_ctx_handle (ctx), error->message);
      return FALSE;
    }
    s->cseq = sf_sip_msg_cseq (req)->number;
    g_clear_pointer (&s->last, sf_sip_msg_unref);
    s->last = req;
    sf_stack_request_to (st, sf_ctx_instance (ctx), req, next_hop); /* the stack takes its own reference */
  } else {
    g_autofree char *route = sf_ua_outbound_route (ctx);
    g_auto (SfUaHop) hop = { 0 };
    if (!sf_ua_hop (ctx, route != NULL ? route : s->uri, &hop))
      return FALSE;
    g_autofree char *from = sf_ua_from (ctx, hop.local);
    g_autofree char *contact = sf_ua_contact (ctx, hop.local, hop.contact_proto, hop.sips);
    g_autofree char *to = g_strdup_printf ("<%s>", s->uri);
    sub_lines (s, expires, &ev, &exp, extra);
    const char *routes[] = { route, NULL };
    if (s->call_id == NULL) {
      s->tag = sf_sip_random_tag ();
      s->cseq = 0;
    }
    s->cseq++;
    SfSipRequestSpec spec = { .method = "SUBSCRIBE", .ruri = s->uri, .from = from, .from_tag = s->tag, .to = to,
                              .call_id = s->call_id, .cseq = s->cseq, .via_sent_by = hop.local,
                              .transport = sf_ua_hop_transport (&hop), .contact = contact,
                              .route = route != NULL ? routes : NULL, .extra = extra };
    req = sf_sip_create_request (&spec, &error);
    if (req == NULL) {
      g_warning ("%s: SUBSCRIBE: %s", sf_ctx_handle (ctx), error->message);
      return FALSE;
    }
    if (s->call_id == NULL) {
      s->call_id = sf_sip_str_dup (sf_sip_msg_call_id (req));
      /* the stack finds NOTIFYs by Call-ID and our tag (their To tag), before any 2xx */
      g_autofree char *key = sf_sip_txn_call_key (s->call_id, s->tag);
      sf_endpoint_set_key (sf_ctx_endpoint (ctx), sf_ctx_instance (ctx), key);
    }
    g_clear_pointer (&s->last, sf_sip_msg_unref);
    s->last = req;
    sf_stack_request_located (st, sf_ctx_instance (ctx), req);
  }
  s->removing = expires == 0;
  return TRUE;
}

static void
arm_expiry (SfCtx *ctx, Sub *s, gint64 granted)
{
  s->granted = granted;
  /* the refresh before the expiry, as the registration machine does: 30 s
   * before a long one, half way through a short one (4.1.2.2; in ms, so that
   * a 1 s subscription still refreshes before it expires) */
  guint64 refresh_ms = granted > 60 ? (guint64) (granted - 30) * 1000 : (guint64) granted * 500;
  if (!s->refer) /* REFER's implicit subscription is not refreshed: it lasts as the notifier says (RFC 3515 2.4.4) */
    sf_ctx_timer_start (ctx, "refresh", refresh_ms);
  sf_ctx_timer_start (ctx, "expires", (guint64) granted * 1000);
}

/* device:subscribe (arg "URI [EVENT]"), or timer:retry (a new subscription after a
 * terminated one asked for it, 4.1.3): a SUBSCRIBE outside a dialog. */
static SfOpResult
sf_op_subscribe (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  gboolean device = ev->kind == SF_EV_DEVICE && strcmp (ev->name, "subscribe") == 0;
  gboolean retry = ev->kind == SF_EV_TIMER && strcmp (ev->name, "retry") == 0;
  if (!device && !retry)
    return SF_OP_SKIP;
  Sub *s = sub_of (ctx);
  if (device) {
    g_auto (GStrv) w = g_strsplit (ev->arg != NULL ? ev->arg : "", " ", 2);
    if (w[0] == NULL || w[0][0] == '\0') {
      set_reason (s, "no URI");
      return SF_OP_ERROR;
    }
    g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (w[0], strlen (w[0])), NULL, NULL);
    s->uri = g_strdup (w[0]);
    s->package = g_strdup (w[1] != NULL ? w[1] : "message-summary");
    s->peer = u != NULL ? sf_sip_host_dup (u->host) : g_strdup (w[0]); /* as the per-peer count compares: no brackets */
    if (count_subs (ctx, NULL, NULL) >= (guint) sf_ua_cfg_int (ctx, "max_subscriptions")) {
      set_reason (s, "max_subscriptions");
      return SF_OP_ERROR;
    }
  } else {
    /* 4.1.3: a new subscription, a new dialog: Call-ID and tag new too */
    g_clear_pointer (&s->call_id, g_free);
    g_clear_pointer (&s->tag, g_free);
    g_clear_pointer (&s->dialog, sf_sip_dialog_free);
    s->granted = -1;
  }
  sf_ua_auth_clear (&s->auth);
  s->refreshing = FALSE;
  if (!send_subscribe (ctx, s, sf_ua_cfg_int (ctx, "subscribe_expires"))) {
    set_reason (s, "no route to the notifier");
    return SF_OP_ERROR;
  }
  emit_sub (ctx, s, "subscribing", 0, NULL);
  return SF_OP_TRANSITION;
}

/* timer:refresh: the SUBSCRIBE again in the dialog, before the expiry (4.1.2.2). */
static SfOpResult
sf_op_subscribe_refresh (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  Sub *s = sf_ua_sub_peek (ctx);
  if (strcmp (ev->name, "refresh") != 0 || s == NULL || s->dialog == NULL)
    return SF_OP_SKIP;
  sf_ua_auth_clear (&s->auth);
  s->refreshing = TRUE;
  if (!send_subscribe (ctx, s, sf_ua_cfg_int (ctx, "subscribe_expires")))
    return SF_OP_ERROR; /* the expiry timer still ends it */
  emit_sub (ctx, s, "refreshing", 0, NULL);
  return SF_OP_DONE;
}

/* Entry of Unsubscribing: Expires: 0 in the dialog (4.1.2.3); the final NOTIFY
 * is awaited for 64*T1, the timer named by the arg (it starts first: the
 * state ends by it even when the SUBSCRIBE could not go). */
static SfOpResult
sf_op_unsubscribe (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfStack *st = sf_stack_from_ctx (ctx);
  sf_ctx_timer_start (ctx, arg, 64 * (guint64) (st != NULL ? sf_stack_timer_ms (st, '1') : 500));
  Sub *s = sf_ua_sub_peek (ctx);
  if (s == NULL || s->dialog == NULL)
    return SF_OP_CONTINUE;
  sf_ctx_timer_cancel (ctx, "refresh");
  sf_ua_auth_clear (&s->auth);
  s->refreshing = FALSE;
  if (!send_subscribe (ctx, s, 0))
    return SF_OP_ERROR;
  emit_sub (ctx, s, "unsubscribing", 0, NULL);
  return SF_OP_CONTINUE;
}

/* device:unsubscribe before the SUBSCRIBE's final response: remembered, the
 * 2xx then leads to Unsubscribing (one SUBSCRIBE at a time). */
static SfOpResult
sf_op_unsubscribe_later (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  Sub *s = sf_ua_sub_peek (ctx);
  if (strcmp (ev->name, "unsubscribe") != 0 || s == NULL)
    return SF_OP_SKIP;
  s->unsubscribe = TRUE;
  return SF_OP_DONE;
}

static const char *const response_outcomes[] = { "subscribed", "kept", "failed", "unsubscribe", NULL };

/* The final response to our SUBSCRIBE: 401/407 answered with credentials
 * (bounded like OpAuthenticate), 423 retried with Min-Expires (4.1.2.1);
 * 2xx: subscribed (its Expires arms the refresh and the expiry, 4.1.2.1),
 * or unsubscribe when the user asked meanwhile; to a refresh: 481 failed
 * (4.1.2.2: the subscription is gone), another error kept (the last expiry
 * stands); to the first: failed. */
static SfOpResult
sf_op_subscribe_response (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  Sub *s = sf_ua_sub_peek (ctx);
  if (strcmp (ev->name, "response") != 0 || e == NULL || s == NULL || s->last == NULL ||
      !sf_sip_str_eq (sf_sip_msg_cseq (e->msg)->text, "SUBSCRIBE") || sf_sip_msg_cseq (e->msg)->number != s->cseq)
    return SF_OP_SKIP;
  guint status = sf_sip_msg_status (e->msg);
  if (status < 200)
    return SF_OP_DONE;
  s->status = status;
  gint64 asked = s->removing ? 0 : sf_ua_cfg_int (ctx, "subscribe_expires");
  if (status == 401 || status == 407) {
    g_autoptr (GError) error = NULL;
    if (sf_ua_credentials (ctx, s->last, e->msg, &s->auth, &error)) {
      emit_sub (ctx, s, "challenged", status, NULL);
      return send_subscribe (ctx, s, asked) ? SF_OP_DONE : SF_OP_ERROR;
    }
    if (s->refreshing) {
      emit_sub (ctx, s, "refresh_failed", status, error->message);
      return SF_OP_OUTCOME (1);
    }
    set_reason (s, "auth_failed");
    return SF_OP_OUTCOME (2); /* Terminated's entry writes the event */
  }
  if (status == 423 && !s->removing) {
    const SfSipValue *mv = sf_sip_msg_value (e->msg, SF_SIP_HDR_MIN_EXPIRES, NULL);
    gint64 min = mv != NULL ? (gint64) mv->number : 0;
    if (min > asked && min <= 86400 && s->auth.tries < SF_UA_MAX_CHALLENGES) {
      s->auth.tries++;
      emit_sub (ctx, s, "retrying", status, "423 Interval Too Brief");
      return send_subscribe (ctx, s, min) ? SF_OP_DONE : SF_OP_ERROR;
    }
  }
  if (status >= 300) {
    g_autofree char *phrase = sf_sip_str_dup (sf_sip_msg_reason (e->msg));
    if (s->removing) { /* the removal refused: it ends here anyway */
      set_reason (s, "unsubscribed");
      return SF_OP_OUTCOME (2);
    }
    if (s->refreshing && status != 481 && status != 408) {
      emit_sub (ctx, s, "refresh_failed", status, phrase);
      return SF_OP_OUTCOME (1);
    }
    set_reason (s, s->refreshing ? "refresh_refused" : "refused");
    return SF_OP_OUTCOME (2); /* Terminated's entry writes the event, with the status */
  }
  if (s->removing) /* the final NOTIFY ends it (4.1.2.3): no transition, Unsubscribing's entry would send again */
    return SF_OP_DONE;
  /* 2xx: the dialog (unless a NOTIFY made it first, 4.1.2.4) and its expiry */
  if (s->dialog == NULL) {
    g_autoptr (GError) error = NULL;
    s->dialog = sf_sip_dialog_new_uac (s->last, e->msg, &error);
    if (s->dialog == NULL)
      s->dialog = sf_sip_dialog_new_uac_fallback (s->last, e->msg); /* no Contact: toward where the SUBSCRIBE went */
  } else if (s->dialog->local_cseq < s->cseq) {
    s->dialog->local_cseq = s->cseq;
  }
  const SfSipValue *exp = sf_sip_msg_value (e->msg, SF_SIP_HDR_EXPIRES, NULL);
  /* the 2xx's Expires (RFC 6665 3.1.1: it MUST be there); absent or malformed: what we asked */
  gint64 granted = exp != NULL ? (gint64) exp->number : asked;
  if (granted > asked || granted <= 0)
    granted = asked; /* never longer than asked (4.2.1.1) */
  arm_expiry (ctx, s, granted);
  emit_sub (ctx, s, s->refreshing ? "refreshed" : "subscribed", status, NULL);
  if (s->unsubscribe)
    return SF_OP_OUTCOME (3);
  return SF_OP_OUTCOME (0);
}

/* The reason phrase of a 400 for header @name: @error's message, or that
 * there was none or more than one (@n lines). */
static char *
bad_header (const char *name, const GError *error, guint n)
{
  const char *what = error != NULL ? error->message : n == 0 ? "missing" : "more than one";
  return g_strdup_printf ("Bad %s header: %s", name, what);
}

/* Answers @e (a NOTIFY) with @status; @why as the reason phrase of an error. */
static gboolean
answer (SfCtx *ctx, SfSipEvent *e, guint status, const char *why)
{
  g_autoptr (SfSipMsg) r = NULL;
  if (status == 489) {
    const char *const lines[] = { sf_sub_allow_events_line (), NULL };
    r = sf_sip_create_response_with (e->msg, status, why, NULL, lines, NULL);
  } else {
    r = sf_sip_create_response (e->msg, status, why, NULL, NULL);
  }
  return r != NULL && sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r);
}

/* The notify and mwi events of one NOTIFY. */
static void
emit_notify (SfCtx *ctx, Sub *s, const SfSubState *st, SfSipMsg *msg, SfSipStr body, const SfSubMwi *mwi)
{
  GString *f = g_string_new ("\"package\":");
  sf_json_append_string (f, s->package);
  g_string_append (f, ",\"state\":");
  sf_json_append_string (f, st->state);
  if (st->reason != NULL) {
    g_string_append (f, ",\"reason\":");
    sf_json_append_string (f, st->reason);
  }
  if (st->expires >= 0)
    g_string_append_printf (f, ",\"expires\":%" G_GINT64_FORMAT, st->expires);
  if (st->retry_after >= 0)
    g_string_append_printf (f, ",\"retry_after\":%" G_GINT64_FORMAT, st->retry_after);
  const SfSipValue *ct = sf_sip_msg_value (msg, SF_SIP_HDR_CONTENT_TYPE, NULL);
  if (ct != NULL) {
    g_autofree char *t = sf_sip_str_dup (ct->text);
    g_string_append (f, ",\"content_type\":");
    sf_json_append_string (f, t);
  }
  /* the body is data from the network: escaped, never read as anything else */
  g_autofree char *b = g_strndup (body.p != NULL ? body.p : "", body.len);
  g_string_append (f, ",\"body\":");
  sf_json_append_string (f, g_utf8_validate (b, -1, NULL) ? b : "(not UTF-8)");
  sf_ctx_emit (ctx, "notify", f->str);
  g_string_free (f, TRUE);
  if (mwi == NULL)
    return;
  f = g_string_new ("\"waiting\":");
  g_string_append (f, mwi->waiting ? "\"yes\"" : "\"no\"");
  g_string_append (f, ",\"account\":");
  sf_json_append_string (f, mwi->account != NULL ? mwi->account : "");
  g_string_append_printf (f, ",\"new\":%u,\"old\":%u,\"new_urgent\":%u,\"old_urgent\":%u", mwi->voice_new,
                          mwi->voice_old, mwi->voice_new_urgent, mwi->voice_old_urgent);
  sf_ctx_emit (ctx, "mwi", f->str);
  g_string_free (f, TRUE);
}

static const char *const notify_outcomes[] = { "active", "pending", "terminated", "retry", NULL };

/* A NOTIFY for this subscription (the stack found it by Call-ID and To tag):
 * checked (Event the package, 489; Subscription-State, 400; a fork's From
 * tag, 481; CSeq order, 500), the dialog made by the first one (4.1.2.4), the
 * body read per package (message-summary: RFC 3842 5.2, in a multipart
 * body too), answered 200; outcome the state (4.1.3), retry when terminated
 * with a reason that asks for a new subscription (timer retry started). */
static SfOpResult
sf_op_notify (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  Sub *s = sf_ua_sub_peek (ctx);
  if (strcmp (ev->name, "NOTIFY") != 0 || e == NULL)
    return SF_OP_SKIP;
  if (s == NULL || s->call_id == NULL)
    return answer (ctx, e, 481, "Subscription Does Not Exist") ? SF_OP_DONE : SF_OP_ERROR;
  /* Event (RFC 6665 8.2.1): exactly one, our package */
  guint n = 0;
  const SfSipHdr *eh = sf_sub_header (e->msg, "Event", 'o', &n);
  g_autofree char *pkg = NULL, *id = NULL;
  g_autoptr (GError) error = NULL;
  if (eh == NULL || n != 1 || !sf_sub_parse_event (eh->value, &pkg, &id, &error)) {
    g_autofree char *why = bad_header ("Event", error, n);
    return answer (ctx, e, 400, why) ? SF_OP_DONE : SF_OP_ERROR;
  }
  if (strcmp (pkg, s->package) != 0)
    return answer (ctx, e, 489, NULL) ? SF_OP_DONE : SF_OP_ERROR;
  /* another id: another subscription, which we do not have; none: REFER's
   * NOTIFYs may omit it for the first REFER in the dialog only (RFC 3515
   * 2.4.6), so for a later one it names no subscription of ours */
  if (g_strcmp0 (id, s->event_id) != 0 && !(id == NULL && s->refer && !s->notifier && s->first_refer))
    return answer (ctx, e, 481, "Subscription Does Not Exist") ? SF_OP_DONE : SF_OP_ERROR;
  const SfSipHdr *sh = sf_sub_header (e->msg, "Subscription-State", 0, &n);
  g_auto (SfSubState) st = { 0 };
  if (sh == NULL || n != 1 || !sf_sub_parse_state (sh->value, &st, &error)) {
    g_autofree char *why = bad_header ("Subscription-State", error, n);
    return answer (ctx, e, 400, why) ? SF_OP_DONE : SF_OP_ERROR;
  }
  /* the dialog: the first NOTIFY makes it when no 2xx did (4.1.2.4); another
   * From tag is a fork we do not keep (481: its notifier ends it) */
  const SfSipParam *ft = sf_sip_value_param (sf_sip_msg_from (e->msg), "tag");
  g_autofree char *ftag = ft != NULL ? sf_sip_str_dup (ft->value) : NULL;
  if (ftag == NULL)
    return answer (ctx, e, 400, "Bad From header: a NOTIFY needs a tag") ? SF_OP_DONE : SF_OP_ERROR;
  if (s->dialog != NULL && s->dialog->remote_tag != NULL && s->dialog->remote_tag[0] != '\0' &&
      strcmp (s->dialog->remote_tag, ftag) != 0) {
    sf_ctx_emit (ctx, "subscription_fork", "\"refused\":481");
    return answer (ctx, e, 481, "Subscription Does Not Exist") ? SF_OP_DONE : SF_OP_ERROR;
  }
  /* the body: data from the network, bounded; message-summary's read strictly
   * (RFC 3842 5.2), other packages' kept as they are for the notify event */
  SfSipStr body = sf_sip_msg_body (e->msg);
  g_auto (SfSubMwi) mwi = { 0 };
  gboolean is_mwi = strcmp (s->package, "message-summary") == 0;
  if (body.len > SF_SUB_MAX_BODY)
    return answer (ctx, e, 413, NULL) ? SF_OP_DONE : SF_OP_ERROR;
  if (is_mwi && !sf_sub_body_of (e->msg, "application/simple-message-summary", &body, &error)) {
    g_autofree char *why = g_strdup_printf ("Bad body: %s", error->message);
    return answer (ctx, e, 400, why) ? SF_OP_DONE : SF_OP_ERROR;
  }
  if (is_mwi && body.len > 0 && !sf_sub_parse_mwi (body.p, body.len, &mwi, &error)) {
    g_autofree char *why = g_strdup_printf ("Bad %s", error->message);
    return answer (ctx, e, 400, why) ? SF_OP_DONE : SF_OP_ERROR;
  }
  /* refer (RFC 3515 2.4.5): every NOTIFY carries a message/sipfrag body that
   * begins with a Status-Line: the referred request's progress */
  guint frag_status = 0;
  g_autofree char *frag_reason = NULL;
  if (s->refer && (!sf_sub_body_of (e->msg, "message/sipfrag", &body, &error) ||
                   !sf_refer_parse_sipfrag (body.p, body.len, &frag_status, &frag_reason, &error))) {
    g_autofree char *why = g_strdup_printf ("Bad message/sipfrag body: %s", error != NULL ? error->message : "none");
    return answer (ctx, e, 400, why) ? SF_OP_DONE : SF_OP_ERROR;
  }
  if (s->dialog == NULL) {
    g_autoptr (SfSipMsg) ok = sf_sip_create_response (e->msg, 200, NULL, NULL, NULL);
    s->dialog = ok != NULL ? sf_sip_dialog_new_uas (e->msg, ok, &error) : NULL;
    if (s->dialog == NULL)
      return answer (ctx, e, 400, "Bad NOTIFY: no Contact to make the dialog from") ? SF_OP_DONE : SF_OP_ERROR;
    s->dialog->local_cseq = s->cseq; /* our SUBSCRIBE's CSeq goes on */
  } else {
    if (s->dialog->remote_tag == NULL || s->dialog->remote_tag[0] == '\0') {
      g_free (s->dialog->remote_tag);
      s->dialog->remote_tag = g_strdup (ftag);
    }
    guint status = 200;
    if (!sf_sip_dialog_request_in (s->dialog, e->msg, &status))
      return answer (ctx, e, status, NULL) ? SF_OP_DONE : SF_OP_ERROR;
    /* NOTIFY is a target refresh request (RFC 6665 4.1.2.4 / 3261 12.2) */
    const SfSipValue *c = sf_sip_msg_value (e->msg, SF_SIP_HDR_CONTACT, NULL);
    if (c != NULL && c->uri != NULL) {
      g_free (s->dialog->remote_target);
      s->dialog->remote_target = sf_sip_str_dup (c->uri->raw);
    }
  }
  if (!answer (ctx, e, 200, NULL))
    return SF_OP_ERROR;
  g_free (s->state);
  s->state = g_strdup (st.state);
  emit_notify (ctx, s, &st, e->msg, body, is_mwi && body.len > 0 ? &mwi : NULL);
  if (s->refer)
    sf_ua_refer_notified (ctx, s, frag_status, frag_reason, st.kind == SF_SUB_TERMINATED);
  if (st.kind != SF_SUB_TERMINATED) {
    s->retries = 0;
    /* a shorter expires than we hold: the notifier's word (4.1.2.2) */
    if (st.expires >= 0 && (s->granted < 0 || st.expires < s->granted) && !s->removing)
      arm_expiry (ctx, s, st.expires > 0 ? st.expires : 1);
    if (s->removing)
      return SF_OP_DONE; /* still waiting for the final NOTIFY: Unsubscribing stays, unentered */
    return SF_OP_OUTCOME (st.kind == SF_SUB_ACTIVE ? 0 : 1);
  }
  /* terminated (4.1.3): a reason that asks for a new subscription, and retry-after */
  const char *r = st.reason != NULL ? st.reason : "";
  set_reason (s, st.reason != NULL ? st.reason : "terminated");
  sf_ctx_timer_cancel (ctx, "refresh");
  sf_ctx_timer_cancel (ctx, "expires");
  /* deactivated: retry at once (SHOULD), timeout: may; retry-after means
   * nothing for them.  probation, giveup: later, after retry-after when given.
   * rejected, noresource, invariant, other: no retry. */
  gboolean now = strcmp (r, "deactivated") == 0 || strcmp (r, "timeout") == 0;
  gboolean later = strcmp (r, "probation") == 0 || strcmp (r, "giveup") == 0;
  if (s->refer || s->removing || s->unsubscribe || (!now && !later) || s->retries >= SF_SUB_MAX_RETRIES ||
      (later && st.retry_after > SF_SUB_MAX_RETRY_AFTER))
    return SF_OP_OUTCOME (2);
  s->retries++;
  g_clear_pointer (&s->reason, g_free);
  gint64 wait = now ? 0 : st.retry_after >= 0 ? st.retry_after : 30;
  sf_ctx_timer_start (ctx, "retry", (guint64) wait * 1000);
  emit_sub (ctx, s, "retrying", 0, r);
  return SF_OP_OUTCOME (3);
}

/* Entry of Terminated: the subscription event that ends it, every timer stopped. */
static SfOpResult
sf_op_subscription_ended (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  Sub *s = sf_ua_sub_peek (ctx);
  sf_ctx_timer_cancel (ctx, "refresh");
  sf_ctx_timer_cancel (ctx, "expires");
  sf_ctx_timer_cancel (ctx, "retry");
  if (s == NULL)
    return SF_OP_CONTINUE;
  if (arg != NULL)
    set_reason (s, arg);
  emit_sub (ctx, s, "terminated", s->status >= 300 ? s->status : 0, s->reason != NULL ? s->reason : "terminated");
  return SF_OP_CONTINUE;
}

/* timer:expires (no refresh took, no NOTIFY terminated it) or
 * timer:unsubscribe_guard (no final NOTIFY): the reason is the arg; transitions. */
static SfOpResult
sf_op_subscription_timeout (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  Sub *s = sf_ua_sub_peek (ctx);
  if (s != NULL)
    set_reason (s, arg != NULL ? arg : ev->name);
  return SF_OP_TRANSITION;
}

/* ---- the notifier role, in the UA flow ---- */

/* An incoming SUBSCRIBE outside a dialog (RFC 6665 4.2.1): its Event checked
 * (one, well formed: else 400 naming it), the limits (ua.max_subscriptions in
 * all: 503 with Retry-After, RFC 3261 21.5.4; ua.max_subscriptions_per_peer
 * from its source address: 403, 21.4.4), then the package: refer 403 (a
 * REFER makes those), another 489 Bad Event (8.3.2; with Allow-Events, 4.4.4).
 * The instance ends. */
static SfOpResult
sf_op_subscribe_refused (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "SUBSCRIBE") != 0 || e == NULL || sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL)
    return SF_OP_SKIP;
  g_autofree char *tag = sf_sip_random_tag ();
  guint n = 0;
  const SfSipHdr *eh = sf_sub_header (e->msg, "Event", 'o', &n);
  g_autofree char *pkg = NULL, *id = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) r = NULL;
  const SfSipValue *exp = NULL;
  if (eh == NULL || n != 1 || !sf_sub_parse_event (eh->value, &pkg, &id, &error)) {
    g_autofree char *why = bad_header ("Event", error, n);
    r = sf_sip_create_response (e->msg, 400, why, tag, NULL);
  } else if (sf_sip_msg_find (e->msg, SF_SIP_HDR_EXPIRES) != NULL &&
             ((exp = sf_sip_msg_value (e->msg, SF_SIP_HDR_EXPIRES, NULL)) == NULL || exp->number > G_MAXUINT32)) {
    r = sf_sip_create_response (e->msg, 400, "Bad Expires header", tag, NULL);
  } else {
    g_autofree char *peer = e->peer.remote != NULL
                              ? g_inet_address_to_string (g_inet_socket_address_get_address (e->peer.remote))
                              : g_strdup ("");
    guint with_peer = 0;
    guint all = count_subs (ctx, peer, &with_peer);
    if (all >= (guint) sf_ua_cfg_int (ctx, "max_subscriptions")) {
      const char *const lines[] = { "Retry-After: 30", NULL };
      r = sf_sip_create_response_with (e->msg, 503, "Too Many Subscriptions", tag, lines, NULL);
    } else if (with_peer >= (guint) sf_ua_cfg_int (ctx, "max_subscriptions_per_peer")) {
      r = sf_sip_create_response (e->msg, 403, "Too Many Subscriptions From You", tag, NULL);
    } else if (strcmp (pkg, "refer") == 0) {
      /* refer is served (SF_SUB_SERVED), but its subscriptions come with a
       * REFER (RFC 3515 2.4.4, RFC 7647 5): not by a SUBSCRIBE outside a dialog */
      r = sf_sip_create_response (e->msg, 403, "Refer Subscriptions Come With A REFER", tag, NULL);
    } else {
      /* no other package served (SF_SUB_SERVED): a Bad Event */
      const char *const lines[] = { sf_sub_allow_events_line (), NULL };
      r = sf_sip_create_response_with (e->msg, 489, NULL, tag, lines, NULL);
    }
  }
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
  GString *f = g_string_new ("\"status\":");
  g_string_append_printf (f, "%u,\"package\":", sf_sip_msg_status (r));
  sf_json_append_string (f, pkg != NULL ? pkg : "");
  sf_ctx_emit (ctx, "subscribe_refused", f->str);
  g_string_free (f, TRUE);
  return SF_OP_TRANSITION;
}

/* A NOTIFY that reached the UA flow matches no subscription (outside any
 * dialog: the stack answers one with an unknown To tag itself): 481 (RFC 6665
 * 4.1.3).  The instance ends.  In a call's dialog (OpDialogNoSubscription,
 * the flow's catch-all state): the NOTIFY 481 too, and a SUBSCRIBE there 481
 * for refer (a REFER's subscription that ended, or one we do not refresh:
 * docs/subscription.md) or 489 for another package (8.3.2); the call goes on.
 * Without it the framework's 405 answered, though Allow lists both. */
static SfOpResult
no_subscription (SfCtx *ctx, SfEvent *ev, gboolean in_dialog)
{
  SfSipEvent *e = ev->payload;
  gboolean notify = strcmp (ev->name, "NOTIFY") == 0;
  if (e == NULL || !(notify || (in_dialog && strcmp (ev->name, "SUBSCRIBE") == 0)))
    return SF_OP_SKIP;
  g_autofree char *tag = sf_sip_random_tag ();
  g_autoptr (SfSipMsg) r = NULL;
  g_autofree char *pkg = NULL, *id = NULL;
  g_autoptr (GError) error = NULL;
  guint n = 0;
  const SfSipHdr *eh = notify ? NULL : sf_sub_header (e->msg, "Event", 'o', &n);
  gboolean event_ok = eh != NULL && n == 1 && sf_sub_parse_event (eh->value, &pkg, &id, &error);
  if (notify || (event_ok && strcmp (pkg, "refer") == 0)) {
    r = sf_sip_create_response (e->msg, 481, "Subscription Does Not Exist", tag, NULL);
  } else if (!event_ok) {
    g_autofree char *why = bad_header ("Event", error, n);
    r = sf_sip_create_response (e->msg, 400, why, tag, NULL);
  } else {
    const char *const lines[] = { sf_sub_allow_events_line (), NULL };
    r = sf_sip_create_response_with (e->msg, 489, NULL, tag, lines, NULL);
  }
  if (r == NULL || !sf_stack_respond (sf_stack_from_ctx (ctx), e->txn, r))
    return SF_OP_ERROR;
  return in_dialog ? SF_OP_DONE : SF_OP_TRANSITION;
}

static SfOpResult
sf_op_no_subscription (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return no_subscription (ctx, ev, FALSE);
}

static SfOpResult
sf_op_dialog_no_subscription (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return no_subscription (ctx, ev, TRUE);
}

const SfOperatorDef sf_op_subscribe_table[] = {
  { "OpSubscribe", sf_op_subscribe, SF_Q_NORMAL, SF_EV_DEVICE | SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE,
    NULL, NULL,
    "on the control command 'subscribe URI [EVENT]' (default message-summary), or timer:retry: a SUBSCRIBE outside a "
    "dialog (new Call-ID and tag, which key the instance; Event, Accept, Expires ua.subscribe_expires, our Contact, "
    "ua.outbound_proxy as loose Route), then transitions; error when ua.max_subscriptions are up",
    "device:subscribe|timer:retry", NULL, "RFC 6665 4.1.2.1" },
  { "OpSubscribeResponse", sf_op_subscribe_response, SF_Q_NORMAL, SF_EV_SIP, 0, response_outcomes, SF_ARG_NONE, NULL,
    NULL,
    "takes the final response to our SUBSCRIBE: 401/407 answered with credentials (bounded), 423 retried with "
    "Min-Expires; 2xx subscribed (refresh and expiry timers from its Expires) or unsubscribe (asked meanwhile); to a "
    "refresh a 481 or 408 failed, another error kept; to the first SUBSCRIBE failed",
    "sip:response", NULL, "RFC 6665 4.1.2.1, 4.1.2.2" },
  { "OpNotify", sf_op_notify, SF_Q_NORMAL, SF_EV_SIP, 0, notify_outcomes, SF_ARG_NONE, NULL, NULL,
    "a NOTIFY of this subscription: Event (489; another id 481), Subscription-State (400), a fork's From tag "
    "(481), CSeq; the first makes the dialog if no 2xx did; the body read per package (message-summary, also in a "
    "multipart body; over 8192 bytes 413); 200; notify and mwi events; outcome active, pending, terminated, or retry (terminated with deactivated or "
    "timeout: at once; probation or giveup: after retry-after; bounded)",
    "sip:NOTIFY", NULL, "RFC 6665 4.1.3, 4.1.2.4; RFC 3842 5.2" },
  { "OpSubscribeRefresh", sf_op_subscribe_refresh, SF_Q_NORMAL, SF_EV_TIMER, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "timer:refresh: the SUBSCRIBE again in the dialog with Expires ua.subscribe_expires, before the granted expiry",
    "timer:refresh", NULL, "RFC 6665 4.1.2.2" },
  { "OpUnsubscribe", sf_op_unsubscribe, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, sf_op_fixup_name, g_free,
    "entry of Unsubscribing: the timer named by the arg started for 64*T1, then a SUBSCRIBE with Expires: 0 in the "
    "dialog; the final NOTIFY ends the subscription",
    "*", "TIMER", "RFC 6665 4.1.2.3" },
  { "OpUnsubscribeLater", sf_op_unsubscribe_later, SF_Q_NORMAL, SF_EV_DEVICE, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "device:unsubscribe while our first SUBSCRIBE has no final response: remembered, its 2xx leads to Unsubscribing",
    "device:unsubscribe", NULL, "RFC 6665 4.1.2.3" },
  { "OpSubscriptionEnded", sf_op_subscription_ended, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_OPTIONAL, NULL, NULL,
    "entry of Terminated: the subscription's timers stopped, a subscription event with state terminated and the "
    "reason (the arg when none was recorded)",
    "*", "REASON", "RFC 6665 4.1.3" },
  { "OpSubscriptionTimeout", sf_op_subscription_timeout, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL,
    SF_ARG_OPTIONAL, NULL, NULL,
    "timer:expires (the subscription ran out: no refresh took, 4.1.2.2) or timer:unsubscribe_guard (no final NOTIFY "
    "after Expires: 0): the reason is the arg (else the timer's name); transitions",
    "timer:expires|timer:unsubscribe_guard", "REASON", "RFC 6665 4.1.2.2, 4.1.2.3" },
  { "OpSubscribeRefused", sf_op_subscribe_refused, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL,
    NULL,
    "an incoming SUBSCRIBE outside a dialog: a bad Event or Expires 400, ua.max_subscriptions up 503 with Retry-After, "
    "ua.max_subscriptions_per_peer up 403, refer 403 (a REFER makes those), else 489 Bad Event with Allow-Events; "
    "transitions",
    "sip:SUBSCRIBE", NULL, "RFC 6665 4.2.1, 8.3.2" },
  { "OpNoSubscription", sf_op_no_subscription, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL,
    NULL,
    "a NOTIFY outside any subscription: 481; transitions", "sip:NOTIFY", NULL, "RFC 6665 4.1.3" },
  { "OpDialogNoSubscription", sf_op_dialog_no_subscription, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "in a call's dialog, a NOTIFY or SUBSCRIBE no subscription owns: NOTIFY 481; SUBSCRIBE 481 for refer, 400 "
    "without one Event, else 489 with Allow-Events; the call goes on",
    "sip:NOTIFY|sip:SUBSCRIBE", NULL, "RFC 6665 4.1.3, 8.3.2" },
};
const gsize sf_op_subscribe_table_len = G_N_ELEMENTS (sf_op_subscribe_table);
