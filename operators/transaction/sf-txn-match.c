/* sf-txn-match.c: what comes in, matched to its transaction and dispatched
 * (RFC 3261 17.1.3 client transactions, 17.2.3 server transactions, 9.2 a
 * CANCEL and the INVITE it cancels; the keys are sip/sf-sip-txn-key.h's): a
 * response to its client transaction, a request to its server transaction or
 * to a new one (after overload control, sf-txn-overload.c, and the flow's gate),
 * the ACK for a 2xx to its call (17.1.1.3: a transaction of its own); client
 * transactions started (17.1) and told of transport failures (17.1.4). */
#include "config.h"
#include "sf-stack-private.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-txn-key.h"
#include "framework/sf-endpoint-private.h" /* sf_endpoint_lookup_id: a datagram's sender */
#include "framework/sf-json.h"
#include <string.h>

SfInstance *
sf_stack_client_txn (SfStack *s, SfInstance *tu, SfSipMsg *req)
{
  g_autofree char *key = sf_sip_txn_client_key (req);
  if (key == NULL)
    return NULL;
  SfTxnInstance *t = tu != NULL ? sf_txn_inst_peek_of (s->ep, tu) : NULL;
  const char *moved = t != NULL && t->moved != NULL ? g_hash_table_lookup (t->moved, key) : NULL;
  return sf_endpoint_lookup (s->ep, "transaction", moved != NULL ? moved : key);
}

static void on_recv (SfStack *s, SfSipMsg *msg, const SfSipPeer *from);

void
sf_stack_on_recv (SfSipMsg *msg, const SfSipPeer *from, gpointer data)
{
  on_recv (data, msg, from);
  sf_stack_tap_flush (data); /* its sip_in, now that its transaction is known */
}

static void
on_recv (SfStack *s, SfSipMsg *msg, const SfSipPeer *from)
{
  if (!sf_sip_msg_is_request (msg)) {
    g_autofree char *ck = sf_sip_txn_client_key (msg);
    SfInstance *ct = ck != NULL ? sf_endpoint_lookup (s->ep, "transaction", ck) : NULL;
    if (ct == NULL) {
      s->stats.stray_responses++;
      if (s->gate.stray != NULL && sf_stack_rate_ok (s, from))
        sf_stack_gate_stray (s, msg, from); /* a proxy's: forwarded as a stateless proxy would (16.7, 16.11) */
      return; /* no transaction: dropped (17.1.3) */
    }
    char status[24]; /* the arg of a response event is its status code: on="sip:response 3xx" reads it */
    sf_sip_uint_text (status, sf_sip_msg_status (msg));
    sf_endpoint_post (s->ep, ct, sf_event_new_full (SF_EV_SIP, "response", status, sf_sip_event_new (msg, from, NULL),
                                                    (GDestroyNotify) sf_sip_event_free));
    return;
  }
  s->stats.requests++;
  /* the method as a C string: on the stack when it fits (every common one) */
  SfSipStr ms = sf_sip_msg_method (msg);
  char mbuf[32];
  g_autofree char *long_method = ms.len < sizeof mbuf ? NULL : sf_sip_str_dup (ms);
  const char *method = long_method;
  if (method == NULL) {
    if (ms.len > 0) /* a validated request has a method: never 0 */
      memcpy (mbuf, ms.p, ms.len);
    mbuf[ms.len] = '\0';
    method = mbuf;
  }
  gboolean ack = strcmp (method, "ACK") == 0;
  g_autofree char *key = sf_sip_txn_server_key_for (msg, ack ? "INVITE" : method); /* an ACK: its INVITE's */
  if (key == NULL)
    return; /* the transport hands on validated messages only: never */
  SfInstance *txn = sf_endpoint_lookup (s->ep, "transaction", key);
  if (txn != NULL) {
    sf_endpoint_post (s->ep, txn, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (msg, from, sf_instance_handle (txn)),
                                                     (GDestroyNotify) sf_sip_event_free));
    return;
  }
  if (ack) {
    /* The ACK for a non-2xx answer we made statelessly: nothing to hand it to (a
     * proxy must not forward it: 16.11 forwards the ACK for a 2xx). */
    const SfSipParam *tt = sf_sip_value_param (sf_sip_msg_to (msg), "tag");
    g_autofree char *ours = tt != NULL && tt->value.len > 3 && strncmp (tt->value.p, "sfs", 3) == 0 ? sf_stack_stateless_tag (msg, "INVITE") : NULL;
    if (ours != NULL && sf_sip_str_eq (tt->value, ours)) {
      s->stats.retransmissions_absorbed++;
      return;
    }
  }
  /* New work: the source's rate (ACKs included: a proxy relays them); 503
   * while shutting down; what the flow decides without state; the bound on
   * all live state (an ACK for a 2xx is part of a call's, never refused by
   * it) (docs/security.md). */
  gboolean cancel = strcmp (method, "CANCEL") == 0;
  if (!sf_stack_rate_ok (s, from)) {
    s->stats.rate_limited++;
    return;
  }
  g_autofree char *ck = sf_sip_txn_call_key_of (msg);
  SfInstance *call = sf_endpoint_lookup (s->ep, s->tu->scope, ck);
  if (sf_endpoint_shutting_down (s->ep) && sf_stack_starts_new_work (s, msg, method, call)) {
    sf_stack_refuse_shutting_down (s, msg, from, method);
    return;
  }
  if (!cancel && sf_stack_gate_admit (s, msg, from))
    return;
  if (!ack && sf_endpoint_n_instances (s->ep) >= s->max_instances) {
    s->stats.overloaded++;
    const char *const lines[] = { "Retry-After: 5", NULL };
    sf_stack_answer_stateless (s, msg, from, 503, "Overloaded", lines);
    return;
  }
  if (ack && sf_stack_per_transaction (s)) {
    /* A proxy (per_transaction): the ACK for a 2xx gets a request instance of its own, which
     * forwards it without a transaction (16.11, 17.1.1.3). */
    g_autoptr (GError) error = NULL;
    SfInstance *r = sf_endpoint_create (s->ep, s->tu, NULL, NULL, &error);
    if (r == NULL) {
      g_warning ("ACK not taken: %s", error->message);
      return;
    }
    sf_endpoint_post_always (s->ep, r, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (msg, from, NULL),
                                                         (GDestroyNotify) sf_sip_event_free));
    return;
  }
  if (ack) {
    /* The ACK for a 2xx is a transaction of its own (17.1.1.3): straight to the call. */
    if (call != NULL)
      sf_endpoint_post (s->ep, call, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (msg, from, NULL),
                                                        (GDestroyNotify) sf_sip_event_free));
    else
      s->stats.stray_acks++;
    return;
  }
  if (cancel) {
    /* 9.2: a CANCEL for an INVITE this element knows gets its own (non-INVITE)
     * transaction and goes to the call; one that matches nothing gets 481. */
    g_autofree char *ikey = sf_sip_txn_cancel_target_key (msg);
    if (sf_endpoint_lookup (s->ep, "transaction", ikey) == NULL) {
      /* A CANCEL of a non-INVITE request (9.1 says not to send one, not how to
       * answer it): that request's transaction answered before it ended (17.2.2
       * sends the final response at once), so the CANCEL has no effect: 200
       * (9.2).  Only a CANCEL that matches nothing gets 481. */
      static const char *const non_invite[] = { "MESSAGE", "OPTIONS", "SUBSCRIBE", "NOTIFY", "REFER", "BYE",
                                                "INFO", "UPDATE", "PRACK", "REGISTER", "PUBLISH" };
      guint status = 481;
      for (guint i = 0; i < G_N_ELEMENTS (non_invite) && status == 481; i++) {
        g_autofree char *nkey = sf_sip_txn_server_key_for (msg, non_invite[i]);
        if (nkey != NULL && sf_endpoint_lookup (s->ep, "transaction", nkey) != NULL)
          status = 200;
      }
      sf_stack_answer_stateless (s, msg, from, status, NULL, NULL);
      return;
    }
  }
  SfMachine *m = strcmp (method, "INVITE") == 0 ? s->ist : s->nist;
  g_autofree char *source = sf_stack_source_over_share (s, from);
  if (source == NULL) {
    s->stats.overloaded++;
    const char *const lines[] = { "Retry-After: 5", NULL };
    sf_stack_answer_stateless (s, msg, from, 503, "Overloaded", lines);
    return;
  }
  g_autoptr (GError) error = NULL;
  txn = sf_endpoint_create (s->ep, m, key, NULL, &error);
  if (txn == NULL) {
    g_warning ("%s not taken: %s", method, error->message);
    sf_stack_answer_stateless (s, msg, from, 503, NULL, NULL);
    return;
  }
  sf_stack_source_hold (s, txn, g_steal_pointer (&source)); /* counted for the source and the set, when they count */
  s->stats.transactions++;
  sf_endpoint_post_always (s->ep, txn, sf_event_new_full (SF_EV_SIP, method, NULL, sf_sip_event_new (msg, from, sf_instance_handle (txn)),
                                                          (GDestroyNotify) sf_sip_event_free));
}

/* A connection failed: every client transaction sending there hears it. */
void
sf_stack_on_send_error (SfSipProto proto, GInetSocketAddress *dest, const GError *error, gpointer data)
{
  SfStack *s = data;
  g_autoptr (GPtrArray) all = sf_endpoint_instances (s->ep);
  for (guint i = 0; i < all->len; i++) {
    SfInstance *inst = all->pdata[i];
    SfTxnInstance *t = sf_txn_inst_peek_of (s->ep, inst);
    SfClientTxn *c = t != NULL ? t->client : NULL;
    if (c != NULL && c->proto == proto &&
        g_inet_socket_address_get_port (c->dest) == g_inet_socket_address_get_port (dest) &&
        g_inet_address_equal (g_inet_socket_address_get_address (c->dest), g_inet_socket_address_get_address (dest)))
      sf_endpoint_post (s->ep, inst, sf_event_new (SF_EV_TXN, "transport_error", error->message));
  }
}

/* A UDP datagram that failed at the end of the turn it was sent in: the
 * transaction that sent it hears txn:transport_error, as a send that failed at
 * once tells it (17.1.4, 17.2.4).  Which one sent it is @sender, the instance
 * id it was queued under (sf_stack_send_response_by, _request_by), never the
 * key the bytes name: a stateless answer (a 400 copies the Via and CSeq of
 * whatever came in) names the transaction of anyone whose branch and sent-by
 * the sender copied, and its failure must not end that transaction (a third
 * party could kill a ringing call with one datagram); it goes in nobody's
 * name.  The id is never reused and not found once its instance ended, so a
 * datagram outliving its transaction tells nobody.  What no live transaction
 * sent (a stateless answer, a forwarded stray, an ACK) is noted only, at
 * debug: a peer can make them fail.  A send_failed line follows the
 * datagram's sip_out, written when it was queued (docs/sip.md). */
void
sf_stack_on_udp_failed (GInetSocketAddress *dest, GBytes *wire, guint64 sender, const GError *error, gpointer data)
{
  SfStack *s = data;
  SfInstance *t = sender != 0 ? sf_endpoint_lookup_id (s->ep, sender) : NULL;
  gsize len;
  const char *d = g_bytes_get_data (wire, &len);
  gsize end = 0;
  while (end < len && end < 512 && d[end] != '\r' && d[end] != '\n')
    end++;
  /* the log names a response by its status, a request by its method: not the
   * reason phrase or Request-URI, which may be a peer's text */
  gboolean response = end >= 11 && memcmp (d, "SIP/2.0 ", 8) == 0;
  gsize word = 0;
  while (word < end && d[word] != ' ')
    word++;
  if (t != NULL && response)
    sf_stack_warn_send (s, sf_instance_handle (t), d + 8, error->message);
  else if (response)
    g_debug ("%.3s not sent: %s", d + 8, error->message);
  else
    g_debug ("%.*s not sent: %s", (int) word, d, error->message);
  /* A transaction's failure is one of its events (it ends it, or its TU
   * hears it: the default stream says why); a datagram nobody sent is a
   * detail of the sip_out lines, written with them only (--messages): a
   * peer can make those fail at will. */
  if (sf_endpoint_emits (s->ep, t != NULL ? SF_EVC_TRANSACTION : SF_EVC_MESSAGE)) {
    GString *ev = sf_json_begin ("send_failed");
    sf_json_add_str (ev, "proto", sf_sip_proto_name (SF_SIP_UDP));
    g_autofree char *r = sf_sip_addr_to_string (dest);
    sf_json_add_str (ev, "remote", r);
    g_autofree char *start = g_strndup (d, end);
    sf_json_add_str (ev, "start", start);
    sf_json_add_str (ev, "error", error->message);
    if (t != NULL)
      sf_json_add_str (ev, "transaction", sf_instance_handle (t));
    sf_endpoint_emit_line (s->ep, sf_json_end (ev));
  }
  if (t != NULL)
    sf_endpoint_post (s->ep, t, sf_event_new (SF_EV_TXN, "transport_error", error->message));
}

void
sf_txn_client_free (SfClientTxn *c)
{
  sf_sip_msg_unref (c->req);
  g_object_unref (c->dest);
  if (c->targets != NULL)
    g_ptr_array_unref (c->targets);
  g_free (c);
}

SfInstance *
sf_stack_request (SfStack *s, SfInstance *tu, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest, GError **error)
{
  return sf_stack_request_targets (s, tu, req, proto, dest, NULL, error);
}

SfInstance *
sf_stack_request_targets (SfStack *s, SfInstance *tu, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest,
                          GPtrArray *targets, GError **error)
{
  g_autoptr (GPtrArray) rest = targets;
  g_autofree char *key = sf_sip_txn_client_key (req);
  if (key == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "a request without Via or CSeq");
    return NULL;
  }
  SfMachine *m = sf_sip_str_eq (sf_sip_msg_method (req), "INVITE") ? s->ict : s->nict;
  SfInstance *t = sf_endpoint_create (s->ep, m, key, tu, error);
  if (t == NULL)
    return NULL;
  SfClientTxn *c = g_new0 (SfClientTxn, 1);
  c->req = sf_sip_msg_ref (req);
  c->proto = proto;
  c->dest = g_object_ref (dest);
  c->targets = rest != NULL && rest->len > 0 ? g_steal_pointer (&rest) : NULL;
  SfTxnInstance *ti = sf_txn_inst_of (s->ep, t);
  g_clear_pointer (&ti->client, sf_txn_client_free);
  ti->client = c;
  s->stats.transactions++;
  return t;
}

void
sf_stack_request_cancel (SfStack *s, SfInstance *tu, SfSipMsg *invite, SfSipMsg *cancel)
{
  SfInstance *ict = sf_stack_client_txn (s, tu, invite);
  SfTxnInstance *t = ict != NULL ? sf_txn_inst_peek_of (s->ep, ict) : NULL;
  SfClientTxn *c = t != NULL ? t->client : NULL;
  g_autoptr (GError) error = NULL;
  /* A cancelled INVITE is not wanted anywhere: a 503 or Timer B after the
   * CANCEL ends it here, it does not move to the next target (RFC 3263 4.3),
   * which would ring a phone for a call already given up. */
  if (c != NULL)
    g_clear_pointer (&c->targets, g_ptr_array_unref);
  /* 9.1: the CANCEL's Via is the INVITE's as sent: another branch or transport
   * when the location rewrote it or the INVITE failed over (RFC 3263 4.3) */
  g_autoptr (SfSipMsg) sent = c != NULL ? sf_stack_via_like (cancel, c->req) : NULL;
  if (sent == NULL || sf_stack_request (s, tu, sent, c->proto, c->dest, &error) == NULL)
    sf_stack_request_located (s, tu, cancel);
}

