/* sf-txn-message.c: the SDK's message API (include/sipflow/sf-message.h) over the
 * message layer (sip/) and the stack's server transactions.  The public types
 * are the internal ones under opaque names: an SfMessage is the SfSipEvent an
 * SF_EV_SIP event carries, an SfUri an SfSipUri, an SfSlice an SfSipStr; so
 * nothing is copied or parsed twice. */
#include "config.h"
#include "sipflow/sf-message.h"
#include "operators/transaction/sf-stack.h"
#include "states/sf-ctx.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-msg.h"
#include "sip/sf-sip-uri.h"
#include <string.h>

G_STATIC_ASSERT (sizeof (SfSlice) == sizeof (SfSipStr));
G_STATIC_ASSERT (G_STRUCT_OFFSET (SfSlice, ptr) == G_STRUCT_OFFSET (SfSipStr, p));
G_STATIC_ASSERT (G_STRUCT_OFFSET (SfSlice, len) == G_STRUCT_OFFSET (SfSipStr, len));

G_DEFINE_QUARK (sf-message-error-quark, sf_message_error)

static inline SfSlice
slice (SfSipStr s)
{
  return (SfSlice) { s.p, s.len };
}

static inline SfSipStr
str (SfSlice s)
{
  return (SfSipStr) { s.ptr, s.len };
}

static inline SfSipEvent *
sip_event (SfMessage *msg)
{
  return (SfSipEvent *) msg;
}

static inline const SfSipUri *
sip_uri (const SfUri *uri)
{
  return (const SfSipUri *) uri;
}

/* ---- slices ---- */
gboolean
sf_slice_equal (SfSlice s, const char *text)
{
  return sf_sip_str_eq (str (s), text);
}

gboolean
sf_slice_caseequal (SfSlice s, const char *text)
{
  return sf_sip_str_caseeq (str (s), text);
}

char *
sf_slice_dup (SfSlice s)
{
  return sf_sip_str_dup (str (s));
}

char *
sf_slice_unescape (SfSlice s)
{
  return sf_sip_unescape (str (s), NULL);
}

/* ---- the message ---- */
SfMessage *
sf_message_from_event (SfEvent *ev)
{
  /* Only the stack's payload: an SF_EV_SIP event may carry none ("cancel"). */
  if (ev == NULL || ev->kind != SF_EV_SIP || ev->payload == NULL ||
      ev->payload_free != (GDestroyNotify) sf_sip_event_free)
    return NULL;
  return (SfMessage *) ev->payload;
}

gboolean
sf_message_is_request (SfMessage *msg)
{
  g_return_val_if_fail (msg != NULL, FALSE);
  return sf_sip_msg_is_request (sip_event (msg)->msg);
}

SfSlice
sf_message_method (SfMessage *msg)
{
  g_return_val_if_fail (msg != NULL, ((SfSlice) { NULL, 0 }));
  SfSipMsg *m = sip_event (msg)->msg;
  return sf_sip_msg_is_request (m) ? slice (sf_sip_msg_method (m)) : (SfSlice) { NULL, 0 };
}

const SfUri *
sf_message_request_uri (SfMessage *msg)
{
  g_return_val_if_fail (msg != NULL, NULL);
  SfSipMsg *m = sip_event (msg)->msg;
  return sf_sip_msg_is_request (m) ? (const SfUri *) sf_sip_msg_ruri (m) : NULL;
}

guint
sf_message_status (SfMessage *msg)
{
  g_return_val_if_fail (msg != NULL, 0);
  SfSipMsg *m = sip_event (msg)->msg;
  return sf_sip_msg_is_request (m) ? 0 : sf_sip_msg_status (m);
}

SfSlice
sf_message_reason (SfMessage *msg)
{
  g_return_val_if_fail (msg != NULL, ((SfSlice) { NULL, 0 }));
  SfSipMsg *m = sip_event (msg)->msg;
  return sf_sip_msg_is_request (m) ? (SfSlice) { NULL, 0 } : slice (sf_sip_msg_reason (m));
}

SfSlice
sf_message_body (SfMessage *msg)
{
  g_return_val_if_fail (msg != NULL, ((SfSlice) { NULL, 0 }));
  return slice (sf_sip_msg_body (sip_event (msg)->msg));
}

char *
sf_message_source (SfMessage *msg, guint *port)
{
  g_return_val_if_fail (msg != NULL, NULL);
  GInetSocketAddress *remote = sip_event (msg)->peer.remote;
  if (remote == NULL) {
    if (port != NULL)
      *port = 0;
    return NULL;
  }
  if (port != NULL)
    *port = g_inet_socket_address_get_port (remote);
  return g_inet_address_to_string (g_inet_socket_address_get_address (remote));
}

const char *
sf_message_transport (SfMessage *msg)
{
  g_return_val_if_fail (msg != NULL, "");
  return sf_sip_proto_name (sip_event (msg)->peer.proto);
}

/* The parsed values of header @name when sipflow knows it and it parses
 * (transfer none), else NULL: then its lines are its values. */
static SfSipValues *
known_values (SfSipMsg *m, const char *name, SfSipHdrId *id)
{
  *id = sf_sip_hdr_lookup (sf_sip_str (name, strlen (name)));
  if (*id == SF_SIP_HDR_OTHER)
    return NULL;
  return sf_sip_msg_values (m, *id, NULL);
}

gboolean
sf_message_header (SfMessage *msg, const char *name, guint n, SfSlice *value)
{
  g_return_val_if_fail (msg != NULL && name != NULL, FALSE);
  SfSipMsg *m = sip_event (msg)->msg;
  SfSipHdrId id;
  SfSipValues *values = known_values (m, name, &id);
  if (values != NULL && sf_sip_hdr_info (id)->shape == SF_SIP_HDR_LIST) {
    if (n >= values->len)
      return FALSE;
    if (value != NULL)
      *value = slice (((const SfSipValue *) g_ptr_array_index (values, n))->raw);
    return TRUE;
  }
  for (guint i = 0; i < sf_sip_msg_n_headers (m); i++) {
    const SfSipHdr *h = sf_sip_msg_header (m, i);
    gboolean match = id != SF_SIP_HDR_OTHER ? h->id == id : sf_sip_str_caseeq (h->name, name);
    if (match && n-- == 0) {
      if (value != NULL)
        *value = slice (h->value);
      return TRUE;
    }
  }
  return FALSE;
}

guint
sf_message_header_count (SfMessage *msg, const char *name)
{
  g_return_val_if_fail (msg != NULL && name != NULL, 0);
  guint n = 0;
  while (sf_message_header (msg, name, n, NULL))
    n++;
  return n;
}

/* The @n-th parsed value of a header sipflow knows, or NULL. */
static const SfSipValue *
nth_value (SfMessage *msg, const char *name, guint n)
{
  SfSipHdrId id;
  SfSipValues *values = known_values (sip_event (msg)->msg, name, &id);
  return values != NULL && n < values->len ? g_ptr_array_index (values, n) : NULL;
}

const SfUri *
sf_message_header_uri (SfMessage *msg, const char *name, guint n)
{
  g_return_val_if_fail (msg != NULL && name != NULL, NULL);
  const SfSipValue *v = nth_value (msg, name, n);
  return v != NULL && v->kind == SF_SIP_VAL_NAMEADDR ? (const SfUri *) v->uri : NULL;
}

static gboolean
param_value (const SfSipParam *p, SfSlice *value)
{
  if (p == NULL)
    return FALSE;
  if (value != NULL)
    *value = slice (p->value);
  return TRUE;
}

gboolean
sf_message_header_param (SfMessage *msg, const char *name, guint n, const char *param, SfSlice *value)
{
  g_return_val_if_fail (msg != NULL && name != NULL, FALSE);
  const SfSipValue *v = nth_value (msg, name, n);
  return v != NULL && param_value (sf_sip_value_param (v, param), value);
}

/* ---- URIs ---- */
SfUri *
sf_uri_parse (const char *text, gsize len, GError **error)
{
  g_autoptr (GError) local = NULL;
  SfSipUri *uri = sf_sip_uri_parse (sf_sip_str (text, len), text, &local);
  if (uri == NULL)
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_SYNTAX, "%s", local->message);
  return (SfUri *) uri;
}

void
sf_uri_free (SfUri *uri)
{
  sf_sip_uri_free ((SfSipUri *) uri);
}

SfSlice
sf_uri_text (const SfUri *uri)
{
  g_return_val_if_fail (uri != NULL, ((SfSlice) { NULL, 0 }));
  return slice (sip_uri (uri)->raw);
}

SfSlice
sf_uri_scheme (const SfUri *uri)
{
  g_return_val_if_fail (uri != NULL, ((SfSlice) { NULL, 0 }));
  return slice (sip_uri (uri)->scheme);
}

SfSlice
sf_uri_user (const SfUri *uri)
{
  g_return_val_if_fail (uri != NULL, ((SfSlice) { NULL, 0 }));
  return slice (sip_uri (uri)->user);
}

SfSlice
sf_uri_host (const SfUri *uri)
{
  g_return_val_if_fail (uri != NULL, ((SfSlice) { NULL, 0 }));
  return slice (sip_uri (uri)->host);
}

guint
sf_uri_port (const SfUri *uri)
{
  g_return_val_if_fail (uri != NULL, 0);
  return sip_uri (uri)->port;
}

gboolean
sf_uri_param (const SfUri *uri, const char *name, SfSlice *value)
{
  g_return_val_if_fail (uri != NULL && name != NULL, FALSE);
  return param_value (sf_sip_uri_param (sip_uri (uri), name), value);
}

/* ---- answering ---- */
/* The To tag of the instance's responses (8.2.6.2): the one its user agent
 * set, else a new one kept as the instance's local tag, which the stack also
 * reads to answer requests no operator takes (12.2.2).  (transfer none) */
static const char *
local_tag (SfCtx *ctx, char **fresh)
{
  if (sf_ctx_instance (ctx) == NULL)
    return *fresh = sf_sip_random_tag ();
  if (sf_stack_local_tag (ctx) == NULL) {
    g_autofree char *t = sf_sip_random_tag ();
    sf_stack_set_local_tag (ctx, t);
  }
  return sf_stack_local_tag (ctx);
}

gboolean
sf_message_reply (SfCtx *ctx, SfMessage *req, guint status, const char *reason, const char *const *headers,
                  GError **error)
{
  g_return_val_if_fail (req != NULL, FALSE);
  SfSipEvent *e = sip_event (req);
  SfStack *s = NULL;
  if (ctx == NULL || !sf_sip_msg_is_request (e->msg) || e->txn == NULL || (s = sf_stack_from_ctx (ctx)) == NULL) {
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_NO_TRANSACTION, "no server transaction to answer on");
    return FALSE;
  }
  if (status < 100 || status > 699) {
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_BAD_STATUS, "status %u is not 100..699", status);
    return FALSE;
  }
  g_autofree char *fresh = NULL;
  const char *tag = status > 100 ? local_tag (ctx, &fresh) : NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (SfSipMsg) r = sf_sip_create_response_with (e->msg, status, reason, tag, headers, &local);
  if (r == NULL) {
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_BAD_STATUS, "response %u not built: %s", status,
                 local->message);
    return FALSE;
  }
  if (!sf_stack_respond (s, e->txn, r)) {
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_SEND, "transaction %s did not take the %u", e->txn, status);
    return FALSE;
  }
  return TRUE;
}

/* ---- logging ---- */
gboolean
sf_message_send_request (SfCtx *ctx, const char *method, const char *ruri, const char *from, const char *to,
                         const char *const *headers, const char *content_type, const char *body, gsize body_len,
                         GError **error)
{
  g_return_val_if_fail (ctx != NULL && method != NULL && ruri != NULL && from != NULL && to != NULL, FALSE);
  if (g_ascii_strcasecmp (method, "INVITE") == 0 || g_ascii_strcasecmp (method, "ACK") == 0 ||
      g_ascii_strcasecmp (method, "CANCEL") == 0) {
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_BAD_STATUS,
                 "%s is not sent this way (an INVITE needs the UA's dialog handling; ACK and CANCEL belong to one)",
                 method);
    return FALSE;
  }
  if (sf_ctx_instance (ctx) == NULL) {
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_NO_TRANSACTION, "no instance to hear the responses");
    return FALSE;
  }
  SfStack *s = sf_stack_from_ctx (ctx);
  g_autoptr (SfSipUri) uri = sf_sip_uri_parse (sf_sip_str (ruri, strlen (ruri)), ruri, NULL);
  if (uri == NULL) {
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_SYNTAX, "'%s' is not a SIP URI", ruri);
    return FALSE;
  }
  SfSipProto proto = s != NULL ? sf_stack_proto_for (s, uri) : SF_SIP_UDP;
  g_autofree char *local = s != NULL ? sf_stack_local (s, proto) : NULL;
  if (local == NULL) {
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_NO_STACK, "no SIP socket for %s to send %s to %s",
                 sf_sip_proto_via (proto), method, ruri);
    return FALSE;
  }
  SfSipRequestSpec spec = { .method = method, .ruri = ruri, .from = from, .to = to, .via_sent_by = local,
                            .transport = sf_sip_proto_via (proto), .extra = headers,
                            .content_type = content_type, .body = body, .body_len = body != NULL ? body_len : 0 };
  g_autoptr (GError) local_error = NULL;
  g_autoptr (SfSipMsg) req = sf_sip_create_request (&spec, &local_error);
  if (req == NULL) {
    g_set_error (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_SYNTAX, "%s not built: %s", method, local_error->message);
    return FALSE;
  }
  sf_stack_request_located (s, sf_ctx_instance (ctx), req);
  return TRUE;
}

void
sf_log (SfCtx *ctx, GLogLevelFlags level, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  level &= G_LOG_LEVEL_MASK;
  level &= ~level + 1; /* one level: the most severe given */
  if (level & G_LOG_LEVEL_ERROR)
    level = G_LOG_LEVEL_CRITICAL;
  if (level == 0)
    level = G_LOG_LEVEL_MESSAGE;
  if (ctx == NULL)
    g_log_structured (G_LOG_DOMAIN, level, "MESSAGE", "%s", text);
  else /* a context before any instance (a flow's admission) has no handle */
    g_log_structured (G_LOG_DOMAIN, level, "MESSAGE", "%s %s: %s",
                      sf_ctx_instance (ctx) != NULL ? sf_ctx_handle (ctx) : "-", sf_ctx_op_name (ctx), text);
}
