/* sf-sip-flow-token.c: flow tokens (see sf-sip-flow-token.h). */
#include "config.h"
#include "sf-sip-flow-token.h"
#include <string.h>

#define MAC_HEX 32 /* 128 bits of HMAC-SHA-256 */

static const char hex[] = "0123456789abcdef";
/* PROTO, indexed by SfSipProto: UDP, TCP, TLS, WS, WSS */
static const char proto_letter[5] = { 'u', 't', 's', 'w', 'x' };

#define CONN_HEX 16 /* TCP: the connection's id and the boot value, 8 digits each */

/* the MAC over @head and, for a Record-Route token, a NUL and the Call-ID
 * (which holds no NUL: the parser refuses one) */
static void
mac_of (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], const char *head, gsize len, SfSipStr call_id, char out[MAC_HEX])
{
  GHmac *h = g_hmac_new (G_CHECKSUM_SHA256, key, SF_FLOW_TOKEN_KEY_LEN);
  g_hmac_update (h, (const guchar *) head, (gssize) len);
  if (head[0] == SF_FLOW_TOKEN_RR) {
    g_hmac_update (h, (const guchar *) "", 1);
    if (call_id.p != NULL && call_id.len > 0)
      g_hmac_update (h, (const guchar *) call_id.p, (gssize) call_id.len);
  }
  guint8 d[32];
  gsize dl = sizeof d;
  g_hmac_get_digest (h, d, &dl);
  g_hmac_unref (h);
  for (int i = 0; i < MAC_HEX / 2; i++) {
    out[2 * i] = hex[d[i] >> 4];
    out[2 * i + 1] = hex[d[i] & 15];
  }
  memset (d, 0, sizeof d);
}

void
sf_flow_token_flow_clear (SfFlowTokenFlow *f)
{
  g_clear_object (&f->addr);
  f->conn = f->boot = 0;
}

void
sf_flow_token_flow_of (SfFlowTokenFlow *f, const SfSipPeer *peer, guint32 boot)
{
  f->proto = peer->proto;
  f->addr = peer->remote != NULL ? g_object_ref (peer->remote) : NULL;
  f->conn = sf_sip_proto_is_stream (peer->proto) ? peer->conn : 0;
  f->boot = sf_sip_proto_is_stream (peer->proto) ? boot : 0;
}

char *
sf_flow_token_make (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], SfFlowTokenKind kind, const SfFlowTokenFlow *flow,
                    SfSipStr call_id)
{
  if (flow == NULL || flow->addr == NULL || (sf_sip_proto_is_stream (flow->proto) && flow->conn == 0))
    return NULL;
  GInetAddress *ip = g_inet_socket_address_get_address (flow->addr);
  gsize n = g_inet_address_get_native_size (ip);
  if (n != 4 && n != 16)
    return NULL;
  const guint8 *bytes = g_inet_address_to_bytes (ip);
  guint port = g_inet_socket_address_get_port (flow->addr);
  GString *t = g_string_sized_new (2 + 2 * n + 4 + CONN_HEX + MAC_HEX + 1);
  g_string_append_c (t, (char) kind);
  g_string_append_c (t, proto_letter[flow->proto]);
  for (gsize i = 0; i < n; i++) {
    g_string_append_c (t, hex[bytes[i] >> 4]);
    g_string_append_c (t, hex[bytes[i] & 15]);
  }
  g_string_append_printf (t, "%04x", port & 0xffff);
  if (sf_sip_proto_is_stream (flow->proto))
    g_string_append_printf (t, "%08x%08x", (guint) flow->conn, (guint) flow->boot);
  char mac[MAC_HEX];
  mac_of (key, t->str, t->len, call_id, mac);
  g_string_append_len (t, mac, MAC_HEX);
  return g_string_free (t, FALSE);
}

static int
nibble (char c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* @len hex digits at @p; -1 when one is not */
static gint64
hex_value (const char *p, gsize len)
{
  gint64 v = 0;
  for (gsize i = 0; i < len; i++) {
    int d = nibble (p[i]);
    if (d < 0)
      return -1;
    v = v << 4 | d;
  }
  return v;
}

gboolean
sf_flow_token_check (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], SfFlowTokenKind kind, SfSipStr token,
                     SfSipStr call_id, SfFlowTokenFlow *flow)
{
  const char *letter = token.p != NULL && token.len >= 2 ? memchr (proto_letter, token.p[1], sizeof proto_letter) : NULL;
  if (token.p == NULL || token.len < 2 || token.p[0] != (char) kind || letter == NULL)
    return FALSE;
  gboolean tcp = token.p[1] != 'u'; /* a connection: TCP ('t'), TLS ('s'), WS ('w') or WSS ('x') */
  gsize extra = tcp ? CONN_HEX : 0;
  if (token.len != 2 + 8 + 4 + extra + MAC_HEX && token.len != 2 + 32 + 4 + extra + MAC_HEX)
    return FALSE;
  gsize n = (token.len - 2 - 4 - extra - MAC_HEX) / 2;
  guint8 bytes[16];
  for (gsize i = 0; i < n; i++) {
    gint64 b = hex_value (token.p + 2 + 2 * i, 2);
    if (b < 0)
      return FALSE;
    bytes[i] = (guint8) b;
  }
  gint64 port = hex_value (token.p + 2 + 2 * n, 4);
  gint64 conn = tcp ? hex_value (token.p + 6 + 2 * n, 8) : 0;
  gint64 boot = tcp ? hex_value (token.p + 14 + 2 * n, 8) : 0;
  if (port < 0 || conn < 0 || boot < 0)
    return FALSE;
  /* the MAC is over the head as written, in lower case: what make() wrote */
  char head[2 + 32 + 4 + CONN_HEX];
  gsize hl = token.len - MAC_HEX;
  for (gsize i = 0; i < hl; i++)
    head[i] = (char) g_ascii_tolower (token.p[i]);
  char want[MAC_HEX];
  mac_of (key, head, hl, call_id, want);
  guint8 diff = 0;
  for (gsize i = 0; i < MAC_HEX; i++)
    diff |= (guint8) (g_ascii_tolower (token.p[hl + i]) ^ want[i]);
  if (diff != 0 || port == 0 || (tcp && conn == 0))
    return FALSE;
  if (flow != NULL) {
    flow->proto = (SfSipProto) (letter - proto_letter);
    g_autoptr (GInetAddress) ip = g_inet_address_new_from_bytes (bytes, n == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
    flow->addr = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, (guint16) port));
    flow->conn = (guint32) conn;
    flow->boot = (guint32) boot;
  }
  return TRUE;
}

char *
sf_flow_token_hop (const SfFlowTokenFlow *flow)
{
  g_autofree char *a = flow != NULL ? sf_sip_addr_to_string (flow->addr) : NULL;
  return a != NULL ? g_strdup_printf ("sip:%s;transport=%s", a, sf_sip_proto_name (flow->proto)) : NULL;
}

gboolean
sf_flow_token_same_flow (const SfSipPeer *from, guint32 boot, const SfFlowTokenFlow *flow)
{
  if (from == NULL || from->remote == NULL || flow == NULL || flow->addr == NULL || from->proto != flow->proto)
    return FALSE;
  if (sf_sip_proto_is_stream (flow->proto) && (from->conn != flow->conn || boot != flow->boot))
    return FALSE;
  return g_inet_socket_address_get_port (from->remote) == g_inet_socket_address_get_port (flow->addr) &&
         g_inet_address_equal (g_inet_socket_address_get_address (from->remote),
                               g_inet_socket_address_get_address (flow->addr));
}
