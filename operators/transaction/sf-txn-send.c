/* sf-txn-send.c: sending: responses back the way their request came (RFC 3261
 * 18.2.2), stateless answers (8.2.7: the To tag made from the transaction key),
 * the transport a request goes over (18.1.1, RFC 3263 4.1) and its next hop
 * located by RFC 3263 (sip/sf-sip-resolve.h) before its client transaction
 * starts. */
#include "config.h"
#include "sf-stack-private.h"
#include "framework/sf-clock.h"
#include "framework/sf-json.h"
#include "framework/sf-secret.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-resolve.h"
#include "sip/sf-sip-txn-key.h"
#include "states/sf-instance-private.h" /* the instance's id: what its queued datagrams name */
#include <string.h>

/* A peer draws a failed response for each request whose Via cannot be
 * reached, a warning line each datagram it sends if each were logged: the
 * first is, then a line per window with the count (the sqlite store's write
 * warnings do the same). */
void
sf_stack_warn_send (SfStack *s, const char *txn, const char *status, const char *why)
{
  gint64 now = sf_clock_now_us (sf_endpoint_clock (s->ep));
  if (now < s->send_warn_next) {
    s->send_warn_quiet++;
    return;
  }
  g_autofree char *more =
    s->send_warn_quiet > 0 ? g_strdup_printf (" (and %u more failed responses before it, not logged each)", s->send_warn_quiet)
                           : NULL;
  g_warning ("%s%ssending %.3s: %s%s", txn != NULL ? txn : "", txn != NULL ? ": " : "", status, why,
             more != NULL ? more : "");
  s->send_warn_quiet = 0;
  s->send_warn_next = now + SF_STACK_SEND_WARN_EVERY_S * G_USEC_PER_SEC;
}

void
sf_stack_send_warn_flush (SfStack *s)
{
  if (s->send_warn_quiet > 0)
    g_warning ("%u more failed responses (not logged each)", s->send_warn_quiet);
  s->send_warn_quiet = 0;
}

gboolean
sf_stack_send_response (SfStack *s, SfSipMsg *resp, const SfSipPeer *to)
{
  g_autoptr (GError) error = NULL;
  if (!sf_sip_transport_send_response (s->tp, resp, to, &error)) {
    char status[24];
    sf_sip_uint_text (status, sf_sip_msg_status (resp));
    sf_stack_warn_send (s, NULL, status, error->message);
    return FALSE;
  }
  s->stats.responses_sent++;
  return TRUE;
}

/* The transport queues what @txn sends in its name (its instance id: never
 * reused, and not found once the instance ended), so a datagram that fails at
 * the end of the turn is told to the transaction that sent it and to no other
 * (sf_stack_on_udp_failed); everything else is sent in nobody's name. */
gboolean
sf_stack_send_response_by (SfStack *s, SfInstance *txn, SfSipMsg *resp, const SfSipPeer *to)
{
  guint64 was = sf_sip_transport_set_sender (s->tp, txn->id);
  gboolean ok = sf_stack_send_response (s, resp, to);
  sf_sip_transport_set_sender (s->tp, was);
  return ok;
}

gboolean
sf_stack_send_request_by (SfStack *s, SfInstance *txn, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest)
{
  guint64 was = sf_sip_transport_set_sender (s->tp, txn->id);
  gboolean ok = sf_stack_send_request (s, req, proto, dest);
  sf_sip_transport_set_sender (s->tp, was);
  return ok;
}

/* 8.2.7: a stateless answer's To tag is the same for every retransmission of
 * its request: made from the request's transaction key (17.2.3), so the ACK
 * for a non-2xx answer (the INVITE's branch, 17.1.1.3) is known by it too. */
char *
sf_stack_stateless_tag (SfSipMsg *req, const char *method)
{
  g_autofree char *key = sf_sip_txn_server_key_for (req, method);
  char tag[3 + 17] = "sfs";
  sf_hash_hex (key != NULL ? key : "", key != NULL ? strlen (key) : 0, tag + 3);
  return g_strdup (tag);
}

gboolean
sf_stack_answer_stateless (SfStack *s, SfSipMsg *req, const SfSipPeer *to, guint status, const char *reason,
                           const char *const *lines)
{
  g_autofree char *m = sf_sip_str_dup (sf_sip_msg_method (req));
  g_autofree char *tag = sf_stack_stateless_tag (req, m);
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (req, status, reason, tag, lines, NULL);
  if (r == NULL || !sf_stack_send_response (s, r, to))
    return FALSE;
  s->stats.stateless++;
  if (!sf_endpoint_emits (s->ep, SF_EVC_TRANSACTION))
    return TRUE;
  GString *ev = sf_json_begin ("stateless_answer");
  sf_json_add_int (ev, "status", status);
  g_autofree char *rs = sf_sip_str_dup (sf_sip_msg_reason (r));
  sf_json_add_str_k (ev, "reason", rs); /* keys made when compiling, not scanned a line */
  sf_json_add_str_k (ev, "method", m);
  g_autofree char *cid = sf_sip_str_dup (sf_sip_msg_call_id (req));
  sf_json_add_str_k (ev, "call_id", cid);
  if (to != NULL && to->remote != NULL) {
    /* "ip:port", an IPv6 address without brackets (as this line always had
     * it); an IPv4 one written by hand (sf_sip_addr_to_string: once a REGISTER's 401) */
    GInetAddress *ip = g_inet_socket_address_get_address (to->remote);
    g_autofree char *text = g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV4 ? sf_sip_addr_to_string (to->remote) : NULL;
    if (text == NULL) {
      g_autofree char *v6 = g_inet_address_to_string (ip);
      text = g_strdup_printf ("%s:%u", v6, g_inet_socket_address_get_port (to->remote));
    }
    sf_json_add_str_k (ev, "source", text);
  }
  sf_endpoint_emit_line (s->ep, sf_json_end (ev));
  return TRUE;
}

guint
sf_stack_protos (SfStack *s)
{
  guint p = 0;
  if (sf_sip_transport_local (s->tp, SF_SIP_UDP) != NULL)
    p |= SF_SIP_PROTO_BIT (SF_SIP_UDP);
  if (sf_sip_transport_local (s->tp, SF_SIP_TCP) != NULL)
    p |= SF_SIP_PROTO_BIT (SF_SIP_TCP);
  if (sf_stack_tls_ready (s))
    p |= SF_SIP_PROTO_BIT (SF_SIP_TLS);
  /* listening on nothing (a test's stack): what it can send on */
  return p != 0 ? p : SF_SIP_PROTO_BIT (SF_SIP_UDP) | SF_SIP_PROTO_BIT (SF_SIP_TCP);
}

gboolean
sf_stack_tls_ready (SfStack *s)
{
  /* Every stack has a TLS client configuration (the system's CAs at least:
   * sf_stack_tls_load), so TLS targets can always be reached; a server's
   * certificate is checked against the URI's host when connecting. */
  return s != NULL;
}

/* A target this element can send to: a transport it has (an IPv6 address is no
 * use with IPv4 sockets only; TLS only once it speaks it). */
static gboolean
reachable (SfStack *s, const SfSipTarget *t)
{
  if (t->proto == SF_SIP_TLS && !sf_stack_tls_ready (s))
    return FALSE;
  return sf_sip_transport_can_send (s->tp, t->proto, t->addr);
}

static const char *
via_proto (SfSipProto p)
{
  return sf_sip_proto_via (p);
}

/* @msg with its top Via value replaced by @text: the bytes spliced and parsed
 * again (the value is a slice of the message's bytes). */
static SfSipMsg *
replace_top_via (SfSipMsg *msg, const char *text)
{
  const SfSipValue *v = sf_sip_msg_top_via (msg);
  if (v == NULL)
    return NULL;
  GString *out = g_string_new (NULL);
  gboolean done = FALSE;
  g_autoptr (GBytes) wire = sf_sip_msg_serialize (msg);
  /* the serialized message has the same lines: find the Via line by its place among the headers */
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    const SfSipHdr *h = sf_sip_msg_header (msg, i);
    if (done || v->raw.p < h->line.p || v->raw.p >= h->line.p + h->line.len) {
      g_string_append_len (out, h->line.p, (gssize) h->line.len);
      continue;
    }
    g_string_append_len (out, h->line.p, v->raw.p - h->line.p);
    g_string_append (out, text);
    g_string_append_len (out, v->raw.p + v->raw.len, (gssize) (h->line.p + h->line.len - (v->raw.p + v->raw.len)));
    done = TRUE;
  }
  if (!done) {
    g_string_free (out, TRUE);
    return NULL;
  }
  /* start line, the headers, the blank line, the body: as sf_sip_msg_serialize() writes them */
  gsize size;
  const char *all = g_bytes_get_data (wire, &size);
  const char *eol = memchr (all, '\n', size);
  if (eol == NULL) {
    g_string_free (out, TRUE);
    return NULL;
  }
  g_string_prepend_len (out, all, eol - all + 1);
  SfSipStr body = sf_sip_msg_body (msg);
  g_string_append (out, "\r\n");
  g_string_append_len (out, body.p, (gssize) body.len);
  g_autoptr (GBytes) bytes = g_string_free_to_bytes (out);
  return sf_sip_msg_parse (bytes, NULL);
}

SfSipMsg *
sf_stack_via_for (SfStack *s, SfSipMsg *req, SfSipProto proto, const char *branch)
{
  const SfSipValue *v = sf_sip_msg_top_via (req);
  if (v == NULL)
    return NULL;
  gboolean same_proto = sf_sip_str_caseeq (v->transport, via_proto (proto));
  if (same_proto && branch == NULL)
    return sf_sip_msg_ref (req);
  GString *text = g_string_new (NULL);
  g_string_append_printf (text, "SIP/2.0/%s ", via_proto (proto));
  /* 18.1.1: the sent-by of the transport it goes over, when this element listens on it */
  g_autofree char *local = same_proto ? NULL : sf_stack_local (s, proto);
  if (local != NULL) {
    g_string_append (text, local);
  } else {
    g_string_append_len (text, v->host.p, (gssize) v->host.len);
    if (v->port != 0)
      g_string_append_printf (text, ":%u", v->port);
  }
  for (guint i = 0; i < v->n_params; i++) {
    const SfSipParam *p = &v->params[i];
    g_string_append_c (text, ';');
    g_string_append_len (text, p->name.p, (gssize) p->name.len);
    if (branch != NULL && sf_sip_str_caseeq (p->name, "branch")) {
      g_string_append_printf (text, "=%s", branch);
    } else if (sf_sip_str_is_set (p->value)) {
      g_string_append_c (text, '=');
      g_string_append_len (text, p->value.p, (gssize) p->value.len);
    }
  }
  g_autofree char *t = g_string_free (text, FALSE);
  return replace_top_via (req, t);
}

SfSipMsg *
sf_stack_via_like (SfSipMsg *msg, SfSipMsg *like)
{
  const SfSipValue *a = sf_sip_msg_top_via (msg);
  const SfSipValue *b = sf_sip_msg_top_via (like);
  if (a == NULL || b == NULL)
    return NULL;
  if (a->raw.len == b->raw.len && memcmp (a->raw.p, b->raw.p, a->raw.len) == 0)
    return sf_sip_msg_ref (msg);
  g_autofree char *text = sf_sip_str_dup (b->raw);
  return replace_top_via (msg, text);
}

typedef struct {
  SfStack *s;
  char *tu;          /* owned, nullable: the TU's handle (it may end while the lookup runs); NULL: send statelessly */
  SfSipMsg *req;     /* owned ref */
  GCancellable *gone; /* owned ref: the stack's; cancelled once the stack is freed */
} Locate;

static void
locate_free (Locate *l)
{
  g_free (l->tu);
  sf_sip_msg_unref (l->req);
  g_clear_object (&l->gone);
  g_free (l);
}

static void
located (Locate *l, GPtrArray *targets, const char *why)
{
  /* The targets this element can reach, in the order found; the first gets the
   * request, the others wait for a failover (RFC 3263 4.3). */
  g_autoptr (GPtrArray) usable = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_target_free);
  for (guint i = 0; targets != NULL && i < targets->len; i++)
    if (reachable (l->s, targets->pdata[i]))
      g_ptr_array_add (usable, sf_sip_target_copy (targets->pdata[i]));
  SfSipTarget *t = usable->len > 0 ? usable->pdata[0] : NULL;
  /* 18.1.1: the Via names the transport the location picked */
  g_autoptr (SfSipMsg) req = t != NULL ? sf_stack_via_for (l->s, l->req, t->proto, NULL) : NULL;
  if (l->tu == NULL) {
    if (req == NULL || !sf_stack_send_request (l->s, req, t->proto, t->addr))
      g_warning ("%.*s not sent: %s", (int) sf_sip_msg_method (l->req).len, sf_sip_msg_method (l->req).p,
                 why != NULL ? why : "no reachable target");
    return;
  }
  SfInstance *tu = sf_endpoint_lookup_handle (l->s->ep, l->tu);
  if (tu == NULL)
    return;
  g_autoptr (GError) error = NULL;
  if (req == NULL) {
    sf_endpoint_post_always (l->s->ep, tu,
                             sf_event_new_full (SF_EV_TXN, "transport_error", why != NULL ? why : "no reachable target",
                                                sf_sip_msg_ref (l->req), (GDestroyNotify) sf_sip_msg_unref));
    return;
  }
  SfSipProto proto = t->proto;
  g_autoptr (GInetSocketAddress) dest = g_object_ref (t->addr);
  g_ptr_array_remove_index (usable, 0);
  if (sf_stack_request_targets (l->s, tu, req, proto, dest, g_steal_pointer (&usable), &error) == NULL)
    sf_endpoint_post_always (l->s->ep, tu,
                             sf_event_new_full (SF_EV_TXN, "transport_error", error->message, sf_sip_msg_ref (l->req),
                                                (GDestroyNotify) sf_sip_msg_unref));
}

static void
on_located (GObject *src, GAsyncResult *res, gpointer data)
{
  Locate *l = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) targets = sf_sip_resolve_finish (res, &error);
  /* The stack went while the lookup ran (a quit during a DNS query): l->s is gone. */
  if (!g_cancellable_is_cancelled (l->gone)) {
    l->s->lookups_running--;
    located (l, targets, error != NULL ? error->message : NULL);
  }
  locate_free (l);
}

/* @hop (nullable): the URI the request goes to, when its sender knows better
 * than its first Route (a strict router first in a dialog's route set gets the
 * Request-URI: 8.1.2, 12.2.1.1). */
static void
locate (SfStack *s, SfInstance *tu, SfSipMsg *req, const char *hop)
{
  const SfSipValue *route = sf_sip_msg_value (req, SF_SIP_HDR_ROUTE, NULL);
  g_autoptr (SfSipUri) hop_uri = hop != NULL ? sf_sip_uri_parse (sf_sip_str (hop, strlen (hop)), NULL, NULL) : NULL;
  const SfSipUri *target = hop_uri != NULL                      ? hop_uri
                           : route != NULL && route->uri != NULL ? route->uri
                                                                 : sf_sip_msg_ruri (req);
  Locate *l = g_new0 (Locate, 1);
  l->s = s;
  l->tu = tu != NULL ? g_strdup (sf_instance_handle (tu)) : NULL;
  l->req = sf_sip_msg_ref (req);
  guint protos = sf_stack_protos (s);
  g_autoptr (GPtrArray) numeric = sf_sip_resolve_numeric (target, protos);
  if (numeric != NULL || s->no_lookups) {
    located (l, numeric, numeric != NULL ? NULL : "name lookups are off");
    locate_free (l);
    return;
  }
  if (s->lookups_running >= SF_STACK_MAX_LOOKUPS) {
    /* Each lookup is up to ~36 queries (NAPTR, SRVs, A/AAAA, each tried
     * again): names chosen by peers (a Contact, a Record-Route) must not make
     * the DNS traffic or the pending state unbounded.  The request fails as
     * one whose name finds nothing would; counted. */
    sf_stack_count (s, SF_STACK_STAT_LOOKUPS_REFUSED);
    located (l, NULL, "too many DNS lookups in flight (SF_STACK_MAX_LOOKUPS)");
    locate_free (l);
    return;
  }
  s->lookups_running++;
  l->gone = g_object_ref (s->lookups);
  sf_sip_resolve_async (s->resolver, target, protos, s->lookups, on_located, l);
}

/* The branch of the request that replaces @old on the next target: the same
 * with ".fN" (the Nth failover) at its end, so a proxy's loop hash at its
 * start stays (16.6 step 8), and it is new (RFC 3263 4.3). */
static char *
next_branch (SfSipStr old)
{
  g_autofree char *b = sf_sip_str_dup (old);
  char *mark = g_strrstr (b, ".f");
  guint n = 0;
  if (mark != NULL && mark[2] != '\0' && strspn (mark + 2, "0123456789") == strlen (mark + 2)) {
    n = (guint) g_ascii_strtoull (mark + 2, NULL, 10);
    *mark = '\0';
  }
  return g_strdup_printf ("%s.f%u", b, n + 1);
}

/* The TU's request @old_key is now sent by the transaction of @new_key: lookups
 * by the old key find it (sf_stack_client_txn).  Bounded: a TU remembers
 * SF_STACK_MAX_MOVED of them, those of ended transactions forgotten first. */
#define SF_STACK_MAX_MOVED 32

static void
remember_moved (SfStack *s, SfInstance *tu, const char *old_key, const char *new_key)
{
  SfTxnInstance *t = sf_txn_inst_of (s->ep, tu);
  if (t->moved == NULL)
    t->moved = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (g_hash_table_size (t->moved) >= SF_STACK_MAX_MOVED) {
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init (&it, t->moved);
    while (g_hash_table_iter_next (&it, &k, &v))
      if (sf_endpoint_lookup (s->ep, "transaction", v) == NULL)
        g_hash_table_iter_remove (&it);
    if (g_hash_table_size (t->moved) >= SF_STACK_MAX_MOVED)
      g_hash_table_remove_all (t->moved);
  }
  /* a chain (A failed over to B, B to C): A's lookups go to C at once */
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, t->moved);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (strcmp (v, old_key) == 0)
      g_hash_table_iter_replace (&it, g_strdup (new_key));
  g_hash_table_insert (t->moved, g_strdup (old_key), g_strdup (new_key));
}

gboolean
sf_stack_failover (SfStack *s, SfInstance *txn, const char *why)
{
  SfTxnInstance *ti = sf_txn_inst_peek_of (s->ep, txn);
  SfClientTxn *c = ti != NULL ? ti->client : NULL;
  SfInstance *tu = sf_instance_parent (txn);
  const SfSipValue *via = c != NULL ? sf_sip_msg_top_via (c->req) : NULL;
  const SfSipParam *branch = via != NULL ? sf_sip_value_param (via, "branch") : NULL;
  if (c == NULL || c->targets == NULL || tu == NULL || sf_instance_ended (tu) || branch == NULL)
    return FALSE;
  while (c->targets->len > 0) {
    SfSipTarget *next = g_ptr_array_steal_index (c->targets, 0);
    g_autofree char *nb = next_branch (branch->value);
    g_autoptr (SfSipMsg) req = reachable (s, next) ? sf_stack_via_for (s, c->req, next->proto, nb) : NULL;
    if (req == NULL) {
      sf_sip_target_free (next);
      continue;
    }
    g_autofree char *old_key = sf_sip_txn_client_key (c->req);
    g_autofree char *new_key = sf_sip_txn_client_key (req);
    g_autoptr (GError) error = NULL;
    GPtrArray *rest = g_steal_pointer (&c->targets);
    SfInstance *nt = sf_stack_request_targets (s, tu, req, next->proto, next->addr, rest, &error);
    if (nt == NULL) {
      g_warning ("%s: no failover to the next target: %s", sf_instance_handle (txn), error->message);
      sf_sip_target_free (next);
      return FALSE;
    }
    remember_moved (s, tu, old_key, new_key);
    if (!sf_endpoint_emits (s->ep, SF_EVC_TRANSACTION)) {
      sf_sip_target_free (next);
      return TRUE;
    }
    GString *ev = sf_json_begin ("failover");
    sf_json_add_str (ev, "txn", sf_instance_handle (txn));
    sf_json_add_str (ev, "to_txn", sf_instance_handle (nt));
    sf_json_add_str (ev, "why", why);
    g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (req));
    sf_json_add_str (ev, "method", method);
    g_autofree char *from = sf_sip_peer_to_string (c->proto, c->dest);
    sf_json_add_str (ev, "from", from);
    g_autofree char *to = sf_sip_target_to_string (next);
    sf_json_add_str (ev, "to", to);
    if (next->name != NULL)
      sf_json_add_str (ev, "name", next->name);
    sf_endpoint_emit_line (s->ep, sf_json_end (ev));
    sf_sip_target_free (next);
    return TRUE;
  }
  return FALSE;
}

SfSipProto
sf_stack_proto_for (SfStack *s, const SfSipUri *uri)
{
  const SfSipParam *tp = uri != NULL ? sf_sip_uri_param (uri, "transport") : NULL;
  /* a sips URI is reached over TLS whatever its transport= (RFC 5630 3.1.3:
   * ;transport=tcp on a sips URI means TLS over TCP) */
  SfSipProto named;
  if (tp != NULL && sf_sip_proto_is_ws (sf_sip_proto_from_name (tp->value, &named) ? named : SF_SIP_UDP))
    return uri->kind == SF_URI_SIPS ? SF_SIP_WSS : named; /* RFC 7118 5: sips over ws is WSS */
  if ((uri != NULL && uri->kind == SF_URI_SIPS) || (tp != NULL && sf_sip_str_caseeq (tp->value, "tls")))
    return SF_SIP_TLS;
  if (tp != NULL && sf_sip_str_caseeq (tp->value, "tcp"))
    return SF_SIP_TCP;
  if (tp != NULL && sf_sip_str_caseeq (tp->value, "udp"))
    return SF_SIP_UDP;
  /* 4.1: UDP for a sip URI that names no transport, when we have it */
  return sf_sip_transport_local (s->tp, SF_SIP_UDP) != NULL ? SF_SIP_UDP : SF_SIP_TCP;
}

void
sf_stack_request_located (SfStack *s, SfInstance *tu, SfSipMsg *req)
{
  g_return_if_fail (tu != NULL);
  locate (s, tu, req, NULL);
}

void
sf_stack_send_request_located (SfStack *s, SfSipMsg *req)
{
  locate (s, NULL, req, NULL);
}

void
sf_stack_request_to (SfStack *s, SfInstance *tu, SfSipMsg *req, const char *next_hop)
{
  g_return_if_fail (tu != NULL);
  locate (s, tu, req, next_hop);
}

void
sf_stack_send_request_to (SfStack *s, SfSipMsg *req, const char *next_hop)
{
  locate (s, NULL, req, next_hop);
}

/* The name a TLS server's certificate must carry (RFC 5922 7.2): the host of
 * the URI the request was located by (its first Route, else its Request-URI),
 * not an SRV target nor an address found for it; NULL for a numeric host (the
 * address is then checked against the certificate's IP names). */
static char *
tls_name (SfSipMsg *req)
{
  const SfSipValue *route = sf_sip_msg_value (req, SF_SIP_HDR_ROUTE, NULL);
  const SfSipUri *uri = route != NULL && route->uri != NULL ? route->uri : sf_sip_msg_ruri (req);
  if (uri == NULL || uri->host_kind != SF_HOST_NAME)
    return NULL;
  return sf_sip_str_dup (uri->host);
}

/* Does @req's top Via name this worker's own socket (sf_stack_home_sent_by),
 * and is @dest of its address family?  Then it leaves from there, where its
 * responses are to come back.  A destination of the other family (the Via was
 * written before the name was resolved) is sent to from that family's
 * listener: its responses go to their source (received, rport: 18.2.2) and
 * reach this worker by their Call-ID. */
static gboolean
names_home (SfStack *s, SfSipMsg *req, GInetSocketAddress *dest)
{
  const SfSipValue *v = sf_sip_msg_top_via (req);
  SfSipIp ip;
  return v != NULL && v->port == g_inet_socket_address_get_port (s->home) &&
         g_inet_address_get_family (g_inet_socket_address_get_address (dest)) ==
           g_inet_address_get_family (g_inet_socket_address_get_address (s->home)) &&
         sf_sip_ip_parse (v->host, &ip) && sf_sip_transport_is_local (s->tp, &ip, v->port);
}

gboolean
sf_stack_send_request_error (SfStack *s, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest, GError **error)
{
  const SfSipUri *ruri = sf_sip_msg_ruri (req);
  /* RFC 5630 3.1.3: a sips Request-URI goes over TLS on every hop we choose */
  if (ruri != NULL && ruri->kind == SF_URI_SIPS && proto != SF_SIP_TLS && proto != SF_SIP_WSS) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "a sips: request is not sent over %s",
                 sf_sip_proto_via (proto));
    return FALSE;
  }
  g_autoptr (GBytes) wire = sf_sip_msg_serialize (req);
  if (proto == SF_SIP_UDP && s->home != NULL && names_home (s, req, dest))
    return sf_sip_transport_send_udp_from (s->tp, s->home, dest, wire, error);
  g_autofree char *name = proto == SF_SIP_TLS ? tls_name (req) : NULL;
  return sf_sip_transport_send_named (s->tp, proto, dest, 0, name, wire, error);
}

gboolean
sf_stack_event_over_tls (const SfSipEvent *ev)
{
  return ev != NULL && ev->peer.proto == SF_SIP_TLS;
}

gboolean
sf_stack_send_request (SfStack *s, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest)
{
  g_autoptr (GError) error = NULL;
  if (sf_stack_send_request_error (s, req, proto, dest, &error))
    return TRUE;
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED)) /* the test filter */
    g_debug ("%.*s not sent: %s", (int) sf_sip_msg_method (req).len, sf_sip_msg_method (req).p, error->message);
  return FALSE;
}
