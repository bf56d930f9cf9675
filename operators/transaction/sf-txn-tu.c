/* sf-txn-tu.c: the hand-over to the transaction user (RFC 3261 17.2: a server
 * transaction gives its request to the TU, and the TU its responses to the
 * transaction): a UA's request goes to its call, found by Call-ID and remote
 * tag, or to a new call outside a dialog (a MESSAGE or OPTIONS there: a new
 * instance each, keyed by its transaction); a request inside a dialog no call
 * has gets 481 (12.2.2); a proxy's (the gate's per_transaction) to its own
 * request instance, a CANCEL to its INVITE's with 200 at once (16.10, 9.2).  What the TU does not
 * take is answered by the policy of sf-txn-answers.h. */
#include "config.h"
#include "sf-stack-private.h"
#include "operators/transaction/sf-txn-answers.h"
#include "sipflow/sf-config.h"
#include "states/sf-machine.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-txn-key.h"
#include <string.h>

SfSipEvent *
sf_sip_event_new (SfSipMsg *msg, const SfSipPeer *peer, const char *txn)
{
  /* the handle in the same block: one allocation less (17 events a proxied call) */
  gsize tlen = txn != NULL ? strlen (txn) + 1 : 0;
  SfSipEvent *e = g_malloc (sizeof (SfSipEvent) + tlen); /* not calloc: it passes by malloc's cache */
  *e = (SfSipEvent) { .msg = msg != NULL ? sf_sip_msg_ref (msg) : NULL };
  if (peer != NULL)
    sf_sip_peer_copy (&e->peer, peer);
  e->txn = txn != NULL ? memcpy (e + 1, txn, tlen) : NULL;
  return e;
}

void
sf_sip_event_free (SfSipEvent *e)
{
  if (e == NULL)
    return;
  if (e->msg != NULL)
    sf_sip_msg_unref (e->msg);
  sf_sip_peer_clear (&e->peer);
  g_free (e); /* txn with it */
}

gboolean
sf_stack_respond (SfStack *s, const char *txn, SfSipMsg *resp)
{
  SfInstance *t = txn != NULL ? sf_endpoint_lookup_handle (s->ep, txn) : NULL;
  if (t == NULL)
    return FALSE; /* the transaction is gone (it timed out): nothing can be sent */
  char status[24]; /* its arg is the status, as a response event's: the trace and the state events show it */
  sf_sip_uint_text (status, sf_sip_msg_status (resp));
  sf_endpoint_post_always (s->ep, t, sf_event_new_full (SF_EV_TXN, "respond", status, sf_sip_event_new (resp, NULL, NULL),
                                                       (GDestroyNotify) sf_sip_event_free));
  return TRUE;
}

char *
sf_stack_call_key (const char *call_id, const char *remote_tag)
{
  return sf_sip_txn_call_key (call_id, remote_tag);
}

/* Server transaction @txn tells @tu of a timeout (Timer H): kept by handle, so
 * a TU that ended is not found. */
static void
set_tu (SfStack *s, SfInstance *txn, SfInstance *tu)
{
  SfTxnInstance *t = sf_txn_inst_of (s->ep, txn);
  g_free (t->tu);
  t->tu = g_strdup (sf_instance_handle (tu));
}

/* A proxy (the gate's per_transaction): each server transaction has its own
 * request instance, keyed as the transaction; a CANCEL goes to its INVITE's
 * (16.10), and gets 200 when that is gone (the INVITE has its final response:
 * 9.2). */
static gboolean
to_request (SfStack *s, SfSipEvent *e, const char *method)
{
  gboolean cancel = strcmp (method, "CANCEL") == 0;
  g_autofree char *key = cancel ? sf_sip_txn_cancel_target_key (e->msg) : sf_sip_txn_server_key_for (e->msg, method);
  SfInstance *r = sf_endpoint_lookup (s->ep, s->tu->scope, key);
  if (cancel) {
    /* 16.10: the CANCEL gets 200 at once, whatever becomes of the request (its
     * instance may end before the CANCEL is dispatched); then the instance hears it. */
    g_autoptr (SfSipMsg) ok = sf_txn_answers_build (sf_txn_answers_default (), e->msg, 200);
    if (ok != NULL)
      sf_stack_respond (s, e->txn, ok);
    if (r != NULL)
      sf_endpoint_post_always (s->ep, r, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (e->msg, &e->peer, e->txn),
                                                           (GDestroyNotify) sf_sip_event_free));
    return TRUE;
  }
  if (r == NULL) {
    g_autoptr (GError) error = NULL;
    r = sf_endpoint_create (s->ep, s->tu, key, NULL, &error);
    if (r == NULL) {
      g_autoptr (SfSipMsg) resp = sf_txn_answers_build (sf_txn_answers_default (), e->msg, 503);
      return resp != NULL && sf_stack_respond (s, e->txn, resp);
    }
  }
  SfInstance *txn = e->txn != NULL ? sf_endpoint_lookup_handle (s->ep, e->txn) : NULL;
  if (txn != NULL)
    set_tu (s, txn, r);
  sf_endpoint_post_always (s->ep, r, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (e->msg, &e->peer, e->txn),
                                                       (GDestroyNotify) sf_sip_event_free));
  return TRUE;
}

/* RFC 6665 4.1.2.4, 4.1.3: a NOTIFY (or a SUBSCRIBE inside a subscription's
 * dialog) belongs to its subscription, an instance of scope "subscription"
 * keyed by Call-ID and our tag (the request's To tag): so a NOTIFY that comes
 * before our SUBSCRIBE's 2xx, or from a fork (another From tag), finds it,
 * and the subscription decides (operators/ua/sf-op-subscribe.c). */
static SfInstance *
subscription_of (SfStack *s, SfSipMsg *msg, const char *method)
{
  if (strcmp (method, "NOTIFY") != 0 && strcmp (method, "SUBSCRIBE") != 0)
    return NULL;
  const SfSipParam *tag = sf_sip_value_param (sf_sip_msg_to (msg), "tag");
  if (tag == NULL)
    return NULL;
  g_autofree char *cid = sf_sip_str_dup (sf_sip_msg_call_id (msg));
  g_autofree char *t = sf_sip_str_dup (tag->value);
  g_autofree char *key = sf_sip_txn_call_key (cid, t);
  return sf_endpoint_lookup (s->ep, SF_STACK_SUBSCRIPTION_SCOPE, key);
}

/* RFC 3891 3: Replaces belongs in an INVITE; a UA that supports it (its flow
 * binds OpReplaces, ua.replaces on: sf_ua_replaces_on) refuses any other
 * request carrying one with 400.  An ACK is never answered, and a CANCEL goes
 * with its INVITE (a 400 to it would leave the INVITE ringing): both taken as
 * they are.  A UA without Replaces ignores the header (RFC 3261 8.2.2). */
static gboolean
stray_replaces (SfStack *s, SfSipEvent *e, const char *method)
{
  if (strcmp (method, "INVITE") == 0 || strcmp (method, "ACK") == 0 || strcmp (method, "CANCEL") == 0 ||
      !sf_machine_binds (s->tu, "OpReplaces"))
    return FALSE;
  SfConfig *cfg = sf_endpoint_config (s->ep);
  if (cfg != NULL && !sf_config_get_bool (cfg, "ua", "replaces"))
    return FALSE;
  for (guint i = 0; i < sf_sip_msg_n_headers (e->msg); i++) {
    const SfSipHdr *h = sf_sip_msg_header (e->msg, i);
    if (h->id == SF_SIP_HDR_OTHER && sf_sip_str_caseeq (h->name, "Replaces")) {
      g_autofree char *tag = sf_sip_random_tag ();
      g_autoptr (SfSipMsg) r = sf_sip_create_response (e->msg, 400, "Bad Request (Replaces in a request other than INVITE)",
                                                       tag, NULL);
      if (r != NULL)
        sf_stack_respond (s, e->txn, r);
      return TRUE;
    }
  }
  return FALSE;
}

gboolean
sf_stack_to_tu (SfStack *s, SfSipEvent *e)
{
  if (sf_stack_per_transaction (s)) {
    g_autofree char *m = sf_sip_str_dup (sf_sip_msg_method (e->msg));
    return to_request (s, e, m);
  }
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (e->msg));
  if (stray_replaces (s, e, method))
    return TRUE;
  /* A MESSAGE or an OPTIONS outside a dialog is a request of its own (RFC
   * 3428 4, RFC 3261 11: it makes no dialog, and a series of them may share
   * Call-ID and From tag): its own instance, keyed by its transaction.  Keyed
   * by call, one queued to an instance that ended with the request before it
   * was dropped, unanswered until the guard's 500 (8.2: every request is
   * answered). */
  /* SUBSCRIBE and NOTIFY without To tag too: the UA refuses the first (no
   * package served: 489, 403, 503) and the second (481) at once, ending the
   * instance; a package served later makes its notifier dialog's own key. */
  /* REFER without To tag too: outside a dialog (also one naming a ringing
   * call's Call-ID and From tag, which baresip sends for an early transfer),
   * refused at once by OpReferRefused (403), not given to the call. */
  gboolean alone = (strcmp (method, "MESSAGE") == 0 || strcmp (method, "OPTIONS") == 0 ||
                    strcmp (method, "SUBSCRIBE") == 0 || strcmp (method, "NOTIFY") == 0 ||
                    strcmp (method, "REFER") == 0) &&
                   sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") == NULL;
  g_autofree char *ck = alone ? sf_sip_txn_server_key_for (e->msg, method) : sf_sip_txn_call_key_of (e->msg);
  SfInstance *call = subscription_of (s, e->msg, method);
  if (call == NULL)
    call = sf_endpoint_lookup (s->ep, s->tu->scope, ck);
  if (call == NULL) {
    if (sf_sip_value_param (sf_sip_msg_to (e->msg), "tag") != NULL) {
      g_autoptr (SfSipMsg) r = sf_txn_answers_build (sf_txn_answers_default (), e->msg, 481);
      return r != NULL && sf_stack_respond (s, e->txn, r); /* inside an unknown dialog (12.2.2) */
    }
    g_autoptr (GError) error = NULL;
    call = sf_endpoint_create (s->ep, s->tu, ck, NULL, &error);
    if (call == NULL) {
      g_autoptr (SfSipMsg) r = sf_txn_answers_build (sf_txn_answers_default (), e->msg, 503);
      return r != NULL && sf_stack_respond (s, e->txn, r);
    }
    sf_txn_inst_of (s->ep, call)->fresh = TRUE;
  }
  /* The transaction tells its user of a timeout (Timer H). */
  SfInstance *txn = e->txn != NULL ? sf_endpoint_lookup_handle (s->ep, e->txn) : NULL;
  if (txn != NULL)
    set_tu (s, txn, call);
  /* The transaction is committed to this request: its call must hear it. */
  sf_endpoint_post_always (s->ep, call, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (e->msg, &e->peer, e->txn),
                                                          (GDestroyNotify) sf_sip_event_free));
  return TRUE;
}

gboolean
sf_stack_hand_over (SfCtx *ctx, SfEvent *ev, SfInstance *to)
{
  g_return_val_if_fail (ctx != NULL && ev != NULL && to != NULL, FALSE);
  SfEndpoint *ep = sf_ctx_endpoint (ctx);
  SfInstance *from = sf_ctx_instance (ctx);
  if (ev->kind != SF_EV_SIP || ev->payload == NULL || to == from || sf_instance_ended (to))
    return FALSE;
  SfSipEvent *e = ev->payload;
  if (e->msg == NULL || !sf_sip_msg_is_request (e->msg))
    return FALSE;
  SfStack *s = sf_stack_from_ctx (ctx);
  /* The server transaction reports its timeout (Timer H) to its new user. */
  SfInstance *txn = e->txn != NULL ? sf_endpoint_lookup_handle (ep, e->txn) : NULL;
  if (txn != NULL && s != NULL)
    set_tu (s, txn, to);
  /* "Made for this request" goes with the request: the untaken answer ends the
   * instance that now holds it, not the one that passed it on. */
  SfTxnInstance *tf = sf_txn_inst_peek_of (ep, from);
  if (tf != NULL && tf->fresh) {
    tf->fresh = FALSE;
    sf_txn_inst_of (ep, to)->fresh = TRUE;
  }
  /* The transaction is committed to this request: like sf_stack_to_tu, never dropped for a full queue. */
  sf_endpoint_post_always (ep, to, sf_event_new_full (SF_EV_SIP, ev->name, ev->arg, sf_sip_event_new (e->msg, &e->peer, e->txn),
                                                     (GDestroyNotify) sf_sip_event_free));
  return TRUE;
}

/* docs/architecture.md: a request nothing takes still gets an answer. */
void
sf_stack_untaken (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, gpointer data)
{
  SfStack *s = data;
  /* the TU's instances and those of its scope (a bridge's legs: ua.xml's
   * machine under b2bua.xml, docs/b2bua.md, which requests reach after a
   * hand-over), and the subscriptions requests are routed to (subscription_of) */
  gboolean ours = sf_instance_machine (inst) == s->tu || strcmp (sf_instance_machine (inst)->scope, s->tu->scope) == 0 ||
                  strcmp (sf_instance_machine (inst)->scope, SF_STACK_SUBSCRIPTION_SCOPE) == 0;
  if (ev->kind != SF_EV_SIP || ev->payload == NULL || !ours) {
    if (s->chained != NULL)
      s->chained (ep, inst, ev, s->chained_data);
    return;
  }
  SfSipEvent *e = ev->payload;
  if (!sf_sip_msg_is_request (e->msg))
    return;
  const SfTxnAnswers *policy = sf_txn_answers_default ();
  SfTxnInstance *t = sf_txn_inst_peek_of (ep, inst);
  guint status = sf_txn_answers_untaken (policy, e->msg, t != NULL ? t->local_tag : NULL);
  if (status == 0) {
    s->stats.stray_acks++; /* an ACK is never answered: one the call did not take is dropped (12.2.2) */
    return;
  }
  g_autoptr (SfSipMsg) r = sf_txn_answers_build (policy, e->msg, status);
  if (r != NULL)
    sf_stack_respond (s, e->txn, r);
  if (status == 200)
    return; /* a CANCEL: the call goes on */
  /* A call made for this request alone, that took nothing, ends. */
  if (t != NULL && t->fresh && strcmp (sf_instance_state (inst), sf_instance_machine (inst)->initial->name) == 0)
    sf_endpoint_end (ep, inst, "request not taken");
}
