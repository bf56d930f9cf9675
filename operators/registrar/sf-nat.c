/* sf-nat.c: which bindings are behind a NAT (see sf-nat.h). */
#include "config.h"
#include "sf-nat.h"
#include "sip/sf-sip-uri.h"
#include <gio/gio.h>
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

/* @text as an address ("[::1]" too), NULL when it is not one (transfer full). */
static GInetAddress *
ip_of (const char *text)
{
  if (text == NULL)
    return NULL;
  gsize n = strlen (text);
  if (n >= 2 && text[0] == '[' && text[n - 1] == ']') {
    g_autofree char *inner = g_strndup (text + 1, n - 2);
    return g_inet_address_new_from_string (inner);
  }
  return g_inet_address_new_from_string (text);
}

gboolean
sf_nat_detect (gboolean tcp, const char *via_host, guint via_port, gboolean via_rport, const char *source_ip,
               guint source_port)
{
  g_autoptr (GInetAddress) via = ip_of (via_host);
  g_autoptr (GInetAddress) src = ip_of (source_ip);
  if (src == NULL)
    return FALSE;
  if (via != NULL && !g_inet_address_equal (via, src))
    return TRUE;
  /* 18.2.2: a Via with no port means 5060 */
  return !tcp && via_rport && (via_port != 0 ? via_port : 5060) != source_port;
}

char *
sf_nat_flow (const char *transport, const char *source)
{
  return g_strdup_printf ("%s:%s", transport, source);
}

/* "192.0.2.1:5060" or "[2001:db8::1]:5060" split (FALSE when it is not that). */
static gboolean
split_source (const char *source, GInetAddress **ip, guint *port)
{
  const char *colon = strrchr (source, ':');
  if (colon == NULL || colon == source)
    return FALSE;
  guint64 p = 0;
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &p, NULL))
    return FALSE;
  g_autofree char *host = g_strndup (source, (gsize) (colon - source));
  *ip = ip_of (host);
  *port = (guint) p;
  return *ip != NULL;
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
  g_autoptr (GInetAddress) src = NULL;
  guint src_port = 0;
  if (!split_source (source, &src, &src_port))
    return NULL;
  /* A Contact that names the source over the same transport goes there anyway
   * (over TCP the transport reuses an open connection to it all the same). */
  g_autoptr (SfSipUri) u = contact != NULL ? sf_sip_uri_parse (sf_sip_str (contact, strlen (contact)), NULL, NULL) : NULL;
  if (u != NULL) {
    g_autofree char *host = sf_sip_str_dup (u->host);
    g_autoptr (GInetAddress) cip = ip_of (host);
    const SfSipParam *tp = sf_sip_uri_param (u, "transport");
    gboolean ctls = u->kind == SF_URI_SIPS || (tp != NULL && sf_sip_str_caseeq (tp->value, "tls"));
    gboolean ctcp = ctls || (tp != NULL && sf_sip_str_caseeq (tp->value, "tcp"));
    if (cip != NULL && g_inet_address_equal (cip, src) && (u->port != 0 ? u->port : 5060) == src_port && ctcp == tcp &&
        ctls == tls)
      return NULL;
  }
  return g_strdup_printf ("sip:%s;transport=%s", source, tls ? "tls" : tcp ? "tcp" : "udp");
}
