/* sf-txn-send.c: sending: responses back the way their request came (RFC 3261
 * 18.2.2), stateless answers (8.2.7: the To tag made from the transaction key),
 * the transport a request goes over (18.1.1, RFC 3263 4.1) and its next hop
 * located by RFC 3263 (sip/sf-sip-resolve.h) before its client transaction
 * starts. */
#include "config.h"
#include "sf-stack-private.h"
#include "framework/sf-json.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-resolve.h"
#include "sip/sf-sip-txn-key.h"
#include <string.h>

gboolean
sf_stack_send_response (SfStack *s, SfSipMsg *resp, const SfSipPeer *to)
{
  g_autoptr (GError) error = NULL;
  if (!sf_sip_transport_send_response (s->tp, resp, to, &error)) {
    g_warning ("sending %u: %s", sf_sip_msg_status (resp), error->message);
    return FALSE;
  }
  s->stats.responses_sent++;
  return TRUE;
}

/* 8.2.7: a stateless answer's To tag is the same for every retransmission of
 * its request: made from the request's transaction key (17.2.3), so the ACK
 * for a non-2xx answer (the INVITE's branch, 17.1.1.3) is known by it too. */
char *
sf_stack_stateless_tag (SfSipMsg *req, const char *method)
{
  g_autofree char *key = sf_sip_txn_server_key_for (req, method);
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key != NULL ? key : "", -1);
  return g_strdup_printf ("sfs%.16s", hash);
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
  GString *ev = sf_json_begin ("stateless_answer");
  sf_json_add_int (ev, "status", status);
  g_autofree char *rs = sf_sip_str_dup (sf_sip_msg_reason (r));
  sf_json_add_str (ev, "reason", rs);
  g_autofree char *method = sf_sip_str_dup (sf_sip_msg_method (req));
  sf_json_add_str (ev, "method", method);
  g_autofree char *cid = sf_sip_str_dup (sf_sip_msg_call_id (req));
  sf_json_add_str (ev, "call_id", cid);
  if (to != NULL && to->remote != NULL) {
    g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (to->remote));
    g_autofree char *src = g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (to->remote));
    sf_json_add_str (ev, "source", src);
  }
  sf_endpoint_emit_line (s->ep, sf_json_end (ev));
  return TRUE;
}

typedef struct {
  SfStack *s;
  char *tu;          /* owned, nullable: the TU's handle (it may end while the lookup runs); NULL: send statelessly */
  SfSipMsg *req;     /* owned ref */
  SfSipProto proto;  /* sf_stack_proto_for() the next hop: what the request's Via names */
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
  /* The first target this element can reach (an IPv6 address is no use with IPv4 sockets only). */
  SfSipTarget *t = NULL;
  for (guint i = 0; targets != NULL && i < targets->len; i++)
    ((SfSipTarget *) targets->pdata[i])->proto = l->proto; /* the resolver's default is UDP */
  for (guint i = 0; targets != NULL && i < targets->len && t == NULL; i++)
    if (sf_sip_transport_can_send (l->s->tp, ((SfSipTarget *) targets->pdata[i])->proto,
                                   ((SfSipTarget *) targets->pdata[i])->addr))
      t = targets->pdata[i];
  if (l->tu == NULL) {
    if (t == NULL || !sf_stack_send_request (l->s, l->req, t->proto, t->addr))
      g_warning ("%.*s not sent: %s", (int) sf_sip_msg_method (l->req).len, sf_sip_msg_method (l->req).p,
                 why != NULL ? why : "no reachable target");
    return;
  }
  SfInstance *tu = sf_endpoint_lookup_handle (l->s->ep, l->tu);
  if (tu == NULL)
    return;
  g_autoptr (GError) error = NULL;
  if (t == NULL || sf_stack_request (l->s, tu, l->req, t->proto, t->addr, &error) == NULL)
    sf_endpoint_post_always (l->s->ep, tu,
                             sf_event_new_full (SF_EV_TXN, "transport_error",
                                                why != NULL ? why : error != NULL ? error->message : "no target",
                                                sf_sip_msg_ref (l->req), (GDestroyNotify) sf_sip_msg_unref));
}

static void
on_located (GObject *src, GAsyncResult *res, gpointer data)
{
  Locate *l = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) targets = sf_sip_resolve_finish (res, &error);
  /* The stack went while the lookup ran (a quit during a DNS query): l->s is gone. */
  if (!g_cancellable_is_cancelled (l->gone))
    located (l, targets, error != NULL ? error->message : NULL);
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
  l->proto = sf_stack_proto_for (s, target);
  g_autoptr (GPtrArray) numeric = sf_sip_resolve_numeric (target);
  if (numeric != NULL || s->no_lookups) {
    located (l, numeric, numeric != NULL ? NULL : "name lookups are off");
    locate_free (l);
    return;
  }
  l->gone = g_object_ref (s->lookups);
  sf_sip_resolve_async (target, s->lookups, on_located, l);
}

SfSipProto
sf_stack_proto_for (SfStack *s, const SfSipUri *uri)
{
  const SfSipParam *tp = uri != NULL ? sf_sip_uri_param (uri, "transport") : NULL;
  /* a sips URI is reached over TLS whatever its transport= (RFC 5630 3.1.3:
   * ;transport=tcp on a sips URI means TLS over TCP) */
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

gboolean
sf_stack_send_request_error (SfStack *s, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest, GError **error)
{
  const SfSipUri *ruri = sf_sip_msg_ruri (req);
  /* RFC 5630 3.1.3: a sips Request-URI goes over TLS on every hop we choose */
  if (ruri != NULL && ruri->kind == SF_URI_SIPS && proto != SF_SIP_TLS) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "a sips: request is not sent over %s",
                 sf_sip_proto_via (proto));
    return FALSE;
  }
  g_autoptr (GBytes) wire = sf_sip_msg_serialize (req);
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
