/* sf-nat.c: which bindings are behind a NAT (see sf-nat.h). */
#include "config.h"
#include "sf-nat.h"
#include "sip/sf-sip-uri.h"
#include <gio/gio.h>
#include <arpa/inet.h>
#include <string.h>

gboolean
sf_nat_mode_parse (const char *text, SfNatMode *out)
{
  static const char *const names[] = { "auto", "off", "always" };
  for (guint i = 0; text != NULL && i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (text, names[i]) == 0) {
      *out = (SfNatMode) i;
      return TRUE;
    }
  return FALSE;
}

/* An IP address as bytes: the comparisons here need no GInetAddress (an
 * object made and freed for each, twice per REGISTER). */
typedef struct {
  int family; /* AF_INET, AF_INET6 */
  guint8 bytes[16];
} Ip;

/* @text as an address ("[::1]" too); FALSE when it is not one. */
static gboolean
ip_of (const char *text, Ip *out)
{
  if (text == NULL)
    return FALSE;
  gsize n = strlen (text);
  char buf[INET6_ADDRSTRLEN];
  if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
    text++;
    n -= 2;
  }
  if (n == 0 || n >= sizeof buf)
    return FALSE;
  memcpy (buf, text, n);
  buf[n] = '\0';
  out->family = memchr (buf, ':', n) != NULL ? AF_INET6 : AF_INET;
  return inet_pton (out->family, buf, out->bytes) == 1;
}

static gboolean
ip_equal (const Ip *a, const Ip *b)
{
  return a->family == b->family && memcmp (a->bytes, b->bytes, a->family == AF_INET ? 4 : 16) == 0;
}

static gboolean
detect (gboolean tcp, const char *via_host, guint via_port, gboolean via_rport, const Ip *src, guint source_port)
{
  Ip via;
  if (ip_of (via_host, &via) && !ip_equal (&via, src))
    return TRUE;
  /* 18.2.2: a Via with no port means 5060 */
  return !tcp && via_rport && (via_port != 0 ? via_port : 5060) != source_port;
}

gboolean
sf_nat_detect (gboolean tcp, const char *via_host, guint via_port, gboolean via_rport, const char *source_ip,
               guint source_port)
{
  Ip src;
  return ip_of (source_ip, &src) && detect (tcp, via_host, via_port, via_rport, &src, source_port);
}

gboolean
sf_nat_detect_from (gboolean tcp, const char *via_host, guint via_port, gboolean via_rport, GInetSocketAddress *source)
{
  GInetAddress *a = g_inet_socket_address_get_address (source);
  Ip src = { g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6 ? AF_INET6 : AF_INET, { 0 } };
  memcpy (src.bytes, g_inet_address_to_bytes (a), MIN (g_inet_address_get_native_size (a), sizeof src.bytes));
  return detect (tcp, via_host, via_port, via_rport, &src, g_inet_socket_address_get_port (source));
}

char *
sf_nat_flow (const char *transport, const char *source)
{
  return g_strdup_printf ("%s:%s", transport, source);
}

/* "192.0.2.1:5060" or "[2001:db8::1]:5060" split (FALSE when it is not that). */
static gboolean
split_source (const char *source, Ip *ip, guint *port)
{
  const char *colon = strrchr (source, ':');
  if (colon == NULL || colon == source)
    return FALSE;
  guint64 p = 0;
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &p, NULL))
    return FALSE;
  g_autofree char *host = g_strndup (source, (gsize) (colon - source));
  *port = (guint) p;
  return ip_of (host, ip);
}

char *
sf_nat_next_hop (SfNatMode mode, const char *contact, const char *source, const char *transport, const char *flow,
                 const char *path)
{
  /* a WebSocket binding, whatever the mode: its connection is the only way
   * to it (RFC 7118: its Contact's host is .invalid) */
  if (source != NULL && transport != NULL && path == NULL &&
      (g_ascii_strcasecmp (transport, "ws") == 0 || g_ascii_strcasecmp (transport, "wss") == 0))
    return g_strdup_printf ("sip:%s;transport=%s", source, transport);
  if (mode == SF_NAT_OFF || source == NULL || transport == NULL || path != NULL)
    return NULL;
  if (mode == SF_NAT_AUTO && flow == NULL)
    return NULL;
  gboolean tls = g_ascii_strcasecmp (transport, "tls") == 0;
  gboolean tcp = tls || g_ascii_strcasecmp (transport, "tcp") == 0;
  if (!tcp && g_ascii_strcasecmp (transport, "udp") != 0)
    return NULL;
  Ip src;
  guint src_port = 0;
  if (!split_source (source, &src, &src_port))
    return NULL;
  /* A Contact that names the source over the same transport goes there anyway
   * (over TCP the transport reuses an open connection to it all the same). */
  g_autoptr (SfSipUri) u = contact != NULL ? sf_sip_uri_parse (sf_sip_str (contact, strlen (contact)), NULL, NULL) : NULL;
  if (u != NULL) {
    g_autofree char *host = sf_sip_str_dup (u->host);
    Ip cip;
    const SfSipParam *tp = sf_sip_uri_param (u, "transport");
    gboolean ctls = u->kind == SF_URI_SIPS || (tp != NULL && sf_sip_str_caseeq (tp->value, "tls"));
    gboolean ctcp = ctls || (tp != NULL && sf_sip_str_caseeq (tp->value, "tcp"));
    if (ip_of (host, &cip) && ip_equal (&cip, &src) && (u->port != 0 ? u->port : 5060) == src_port && ctcp == tcp &&
        ctls == tls)
      return NULL;
  }
  return g_strdup_printf ("sip:%s;transport=%s", source, tls ? "tls" : tcp ? "tcp" : "udp");
}
