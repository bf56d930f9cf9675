/* sf-sip-flow-token.c: flow tokens (see sf-sip-flow-token.h). */
#include "config.h"
#include "sf-sip-flow-token.h"
#include <string.h>

#define MAC_HEX 32 /* 128 bits of HMAC-SHA-256 */

static const char hex[] = "0123456789abcdef";

static void
mac_of (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], const char *head, gsize len, char out[MAC_HEX])
{
  GHmac *h = g_hmac_new (G_CHECKSUM_SHA256, key, SF_FLOW_TOKEN_KEY_LEN);
  g_hmac_update (h, (const guchar *) head, (gssize) len);
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

char *
sf_flow_token_make (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], SfFlowTokenKind kind, SfSipProto proto,
                    GInetSocketAddress *addr)
{
  if (addr == NULL)
    return NULL;
  GInetAddress *ip = g_inet_socket_address_get_address (addr);
  gsize n = g_inet_address_get_native_size (ip);
  if (n != 4 && n != 16)
    return NULL;
  const guint8 *bytes = g_inet_address_to_bytes (ip);
  guint port = g_inet_socket_address_get_port (addr);
  GString *t = g_string_sized_new (2 + 2 * n + 4 + MAC_HEX + 1);
  g_string_append_c (t, (char) kind);
  g_string_append_c (t, proto == SF_SIP_TCP ? 't' : 'u');
  for (gsize i = 0; i < n; i++) {
    g_string_append_c (t, hex[bytes[i] >> 4]);
    g_string_append_c (t, hex[bytes[i] & 15]);
  }
  g_string_append_printf (t, "%04x", port & 0xffff);
  char mac[MAC_HEX];
  mac_of (key, t->str, t->len, mac);
  g_string_append_len (t, mac, MAC_HEX);
  return g_string_free (t, FALSE);
}

static int
nibble (char c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

gboolean
sf_flow_token_check (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], SfFlowTokenKind kind, SfSipStr token,
                     SfSipProto *proto, GInetSocketAddress **addr)
{
  gsize n;
  if (token.p == NULL || (token.len != 2 + 8 + 4 + MAC_HEX && token.len != 2 + 32 + 4 + MAC_HEX))
    return FALSE;
  n = (token.len - 2 - 4 - MAC_HEX) / 2;
  if (token.p[0] != (char) kind || (token.p[1] != 'u' && token.p[1] != 't'))
    return FALSE;
  guint8 bytes[16];
  for (gsize i = 0; i < n; i++) {
    int hi = nibble (token.p[2 + 2 * i]), lo = nibble (token.p[3 + 2 * i]);
    if (hi < 0 || lo < 0)
      return FALSE;
    bytes[i] = (guint8) (hi << 4 | lo);
  }
  guint port = 0;
  for (gsize i = 0; i < 4; i++) {
    int v = nibble (token.p[2 + 2 * n + i]);
    if (v < 0)
      return FALSE;
    port = port << 4 | (guint) v;
  }
  /* the MAC is over the head as written, in lower case: what make() wrote */
  char head[2 + 32 + 4];
  gsize hl = token.len - MAC_HEX;
  for (gsize i = 0; i < hl; i++)
    head[i] = (char) g_ascii_tolower (token.p[i]);
  char want[MAC_HEX];
  mac_of (key, head, hl, want);
  guint8 diff = 0;
  for (gsize i = 0; i < MAC_HEX; i++)
    diff |= (guint8) (g_ascii_tolower (token.p[hl + i]) ^ want[i]);
  if (diff != 0 || port == 0)
    return FALSE;
  if (proto != NULL)
    *proto = token.p[1] == 't' ? SF_SIP_TCP : SF_SIP_UDP;
  if (addr != NULL) {
    g_autoptr (GInetAddress) ip = g_inet_address_new_from_bytes (bytes, n == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
    *addr = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, (guint16) port));
  }
  return TRUE;
}

char *
sf_flow_token_hop (SfSipProto proto, GInetSocketAddress *addr)
{
  g_autofree char *a = sf_sip_addr_to_string (addr);
  return a != NULL ? g_strdup_printf ("sip:%s;transport=%s", a, proto == SF_SIP_TCP ? "tcp" : "udp") : NULL;
}

gboolean
sf_flow_token_same_flow (SfSipProto proto, GInetSocketAddress *remote, SfSipProto fproto, GInetSocketAddress *faddr)
{
  return remote != NULL && faddr != NULL && proto == fproto &&
         g_inet_socket_address_get_port (remote) == g_inet_socket_address_get_port (faddr) &&
         g_inet_address_equal (g_inet_socket_address_get_address (remote), g_inet_socket_address_get_address (faddr));
}
