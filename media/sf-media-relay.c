/* sf-media-relay.c: a B2BUA's anchored media (see sf-media-relay.h): the port
 * pairs, the spec handed to the backend, and the latching rule every backend
 * shares. */
#include "config.h"
#include "media/sf-media-relay.h"
#include "framework/sf-json.h"
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

struct _SfMediaRelay {
  SfMedia *media;          /* unowned */
  char *call;              /* owned */
  SfMediaRelaySpec spec;   /* owned strings */
  gpointer impl;           /* the backend's, until relay_stop() */
  gboolean no_local[2];    /* per side: an address of this host is no destination */
};

#define RELATCH_MS_DEFAULT 1000
#define RELATCH_MS_MAX 60000

/* "CALL: relay: WHY". */
static gboolean
fail (GError **error, const char *call, const char *why)
{
  g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s: relay: %s", call, why);
  return FALSE;
}

SfMediaRelay *
sf_media_relay_new (SfMedia *m, const char *call, GError **error)
{
  return sf_media_relay_new_full (m, call, FALSE, FALSE, error);
}

SfMediaRelay *
sf_media_relay_new_full (SfMedia *m, const char *call, gboolean v6_a, gboolean v6_b, GError **error)
{
  g_return_val_if_fail (m != NULL && call != NULL, NULL);
  const SfMediaBackend *be = sf_media_backend (m);
  if (be->relay_start == NULL || be->relay_update == NULL || be->relay_stats == NULL || be->relay_stop == NULL) {
    g_autofree char *why = g_strdup_printf ("the %s backend relays no media", be->name);
    fail (error, call, why);
    return NULL;
  }
  guint a = sf_media_port_alloc (m);
  guint b = a != 0 ? sf_media_port_alloc (m) : 0;
  if (b == 0) {
    if (a != 0)
      sf_media_port_free (m, a);
    fail (error, call, "no two RTP port pairs left in media.rtp_ports");
    return NULL;
  }
  SfMediaRelay *r = g_new0 (SfMediaRelay, 1);
  r->media = m;
  r->call = g_strdup (call);
  r->spec.port[SF_RELAY_A] = a;
  r->spec.port[SF_RELAY_B] = b;
  r->spec.v6[SF_RELAY_A] = v6_a;
  r->spec.v6[SF_RELAY_B] = v6_b;
  r->spec.latch = SF_RELAY_LATCH_ANY;
  r->spec.relatch_ms = RELATCH_MS_DEFAULT;
  r->spec.dtmf_pt[SF_RELAY_A] = r->spec.dtmf_pt[SF_RELAY_B] = -1;
  r->impl = be->relay_start (m, call, &r->spec, error);
  if (r->impl == NULL) {
    sf_media_relay_free (r);
    return NULL;
  }
  g_debug ("%s: relay: ports %u (a, %s) and %u (b, %s)", call, a, v6_a ? "IPv6" : "IPv4", b, v6_b ? "IPv6" : "IPv4");
  return r;
}

gboolean
sf_media_relay_v6 (SfMediaRelay *r, SfRelaySide side)
{
  g_return_val_if_fail (r != NULL && (side == SF_RELAY_A || side == SF_RELAY_B), FALSE);
  return r->spec.v6[side];
}

guint
sf_media_relay_port (SfMediaRelay *r, SfRelaySide side)
{
  g_return_val_if_fail (r != NULL && (side == SF_RELAY_A || side == SF_RELAY_B), 0);
  return r->spec.port[side];
}

gboolean
sf_media_relay_set_latch (SfMediaRelay *r, SfRelayLatch latch, guint relatch_ms, guint rtp_timeout_ms, GError **error)
{
  g_return_val_if_fail (r != NULL, FALSE);
  if ((guint) latch > SF_RELAY_LATCH_OFF || relatch_ms == 0 || relatch_ms > RELATCH_MS_MAX) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s: relay: relatch_ms %u is not in 1..%d", r->call,
                 relatch_ms, RELATCH_MS_MAX);
    return FALSE;
  }
  r->spec.latch = latch;
  r->spec.relatch_ms = relatch_ms;
  r->spec.rtp_timeout_ms = rtp_timeout_ms;
  return sf_media_backend (r->media)->relay_update (r->impl, &r->spec, error);
}

/* RFC 1112 class D: 224.0.0.0/4.  (A subnet's broadcast address is not
 * known here; the all-ones one is checked apart.) */
static gboolean
multicast (const char *addr)
{
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (addr);
  return ia != NULL && g_inet_address_get_is_multicast (ia);
}

/* @addr (an IP literal, checked by the caller) one of this host's own
 * addresses: loopback (127.0.0.0/8, ::1), or an interface's (a bind test would
 * not do: with net.ipv4.ip_nonlocal_bind every address binds). */
static gboolean
local_addr (const char *addr)
{
  struct in_addr a;
  struct in6_addr a6;
  gboolean v6 = inet_pton (AF_INET, addr, &a) != 1;
  if (v6 && inet_pton (AF_INET6, addr, &a6) != 1)
    return FALSE;
  if (v6 ? IN6_IS_ADDR_LOOPBACK (&a6) : (ntohl (a.s_addr) >> 24) == 127)
    return TRUE;
  struct ifaddrs *list = NULL;
  if (getifaddrs (&list) != 0)
    return FALSE;
  gboolean found = FALSE;
  for (struct ifaddrs *i = list; i != NULL && !found; i = i->ifa_next) {
    if (i->ifa_addr == NULL)
      continue;
    if (!v6 && i->ifa_addr->sa_family == AF_INET)
      found = ((const struct sockaddr_in *) (gconstpointer) i->ifa_addr)->sin_addr.s_addr == a.s_addr;
    else if (v6 && i->ifa_addr->sa_family == AF_INET6)
      found = memcmp (&((const struct sockaddr_in6 *) (gconstpointer) i->ifa_addr)->sin6_addr, &a6, sizeof a6) == 0;
  }
  freeifaddrs (list);
  return found;
}

/* @port is one the pool holds, as an RTP port or as the RTCP port above one. */
static gboolean
pool_port (SfMedia *m, guint port)
{
  return sf_media_port_socket (m, port, FALSE) != NULL || (port > 0 && sf_media_port_socket (m, port - 1, TRUE) != NULL);
}

gboolean
sf_media_relay_set_peer (SfMediaRelay *r, SfRelaySide side, const char *addr, guint port, GError **error)
{
  g_return_val_if_fail (r != NULL && (side == SF_RELAY_A || side == SF_RELAY_B), FALSE);
  /* One family per side: its sockets are bound in it (sf_media_relay_new_full).
   * An IPv4-mapped IPv6 address is refused: on a dual-stack socket it would
   * reach IPv4 loopback past the checks below. */
  struct in6_addr a6;
  gboolean v6 = addr != NULL && inet_pton (AF_INET6, addr, &a6) == 1;
  if (addr != NULL && (!g_hostname_is_ip_address (addr) || v6 != r->spec.v6[side] || strlen (addr) > 45
                       || (v6 && (IN6_IS_ADDR_V4MAPPED (&a6) || IN6_IS_ADDR_V4COMPAT (&a6))))) {
    g_autofree char *s = g_strndup (addr, 50);
    for (char *p = s; *p != '\0'; p++)
      if (!g_ascii_isprint (*p))
        *p = '.';
    g_autofree char *why = g_strdup_printf ("'%s' is not an %s address (side %c's ports are)", s,
                                            r->spec.v6[side] ? "IPv6" : "IPv4", side == SF_RELAY_A ? 'a' : 'b');
    return fail (error, r->call, why);
  }
  if (addr != NULL && (strcmp (addr, "255.255.255.255") == 0 || multicast (addr))) {
    g_autofree char *why = g_strdup_printf ("'%s' is a multicast or broadcast address", addr);
    return fail (error, r->call, why);
  }
  if (port > 65535) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s: relay: port %u is not in 1..65535", r->call, port);
    return FALSE;
  }
  /* RFC 3264 8.4: 0.0.0.0 (or ::) is a hold: nowhere to send to. */
  if (addr == NULL || port == 0 || strcmp (addr, "0.0.0.0") == 0 || (v6 && IN6_IS_ADDR_UNSPECIFIED (&a6))) {
    addr = NULL;
    port = 0;
  }
  /* A side that may not name this host (sf_media_relay_deny_local): its SDP
   * would have us send what reaches the relay (a stranger's packets, while the
   * other side is not latched yet) to a service of ours on loopback or our
   * own address, from our own address. */
  if (addr != NULL && r->no_local[side] && local_addr (addr)) {
    g_autofree char *why = g_strdup_printf ("%s is an address of this host, and side %c may not name one", addr,
                                            side == SF_RELAY_A ? 'a' : 'b');
    return fail (error, r->call, why);
  }
  /* A destination that is one of our own relay ports (this call's or
   * another's, RTP or the RTCP on port + 1): what we send there comes back
   * to a relay that takes it (latch off, or a side not latched yet) and goes
   * out again, a loop at full speed from one packet.  The pool gives ports
   * out in order, so a caller who saw one of ours in an answer can name the
   * next in a re-offer. */
  if (addr != NULL && (pool_port (r->media, port) || pool_port (r->media, port + 1)) && local_addr (addr)) {
    g_autofree char *why = g_strdup_printf ("%s:%u is a relay port of ours", addr, port);
    return fail (error, r->call, why);
  }
  if (g_strcmp0 (addr, r->spec.peer_addr[side]) == 0 && port == r->spec.peer_port[side])
    return TRUE; /* the same SDP again (a refresh): the latch holds */
  g_free (r->spec.peer_addr[side]);
  r->spec.peer_addr[side] = g_strdup (addr);
  r->spec.peer_port[side] = port;
  return sf_media_backend (r->media)->relay_update (r->impl, &r->spec, error);
}

void
sf_media_relay_deny_local (SfMediaRelay *r, SfRelaySide side, gboolean deny)
{
  g_return_if_fail (r != NULL && (side == SF_RELAY_A || side == SF_RELAY_B));
  r->no_local[side] = deny;
}

gboolean
sf_media_relay_set_dtmf (SfMediaRelay *r, SfRelaySide side, int pt, GError **error)
{
  g_return_val_if_fail (r != NULL && (side == SF_RELAY_A || side == SF_RELAY_B), FALSE);
  if (pt < -1 || pt > 127) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "%s: relay: payload type %d is not in 0..127", r->call,
                 pt);
    return FALSE;
  }
  if (r->spec.dtmf_pt[side] == pt)
    return TRUE;
  r->spec.dtmf_pt[side] = pt;
  return sf_media_backend (r->media)->relay_update (r->impl, &r->spec, error);
}

void
sf_media_relay_stats (SfMediaRelay *r, SfRelaySide side, SfMediaStats *out)
{
  g_return_if_fail (r != NULL && out != NULL && (side == SF_RELAY_A || side == SF_RELAY_B));
  memset (out, 0, sizeof *out);
  sf_media_backend (r->media)->relay_stats (r->impl, side, out);
}

char *
sf_media_relay_stats_json (SfMediaRelay *r)
{
  g_return_val_if_fail (r != NULL, NULL);
  SfMediaStats a, b;
  sf_media_relay_stats (r, SF_RELAY_A, &a);
  sf_media_relay_stats (r, SF_RELAY_B, &b);
  g_autofree char *ja = sf_media_stats_json (&a);
  g_autofree char *jb = sf_media_stats_json (&b);
  return g_strdup_printf ("{\"a\":%s,\"b\":%s}", ja, jb);
}

void
sf_media_relay_free (SfMediaRelay *r)
{
  if (r == NULL)
    return;
  if (r->impl != NULL)
    sf_media_backend (r->media)->relay_stop (r->impl);
  for (int s = 0; s < 2; s++) {
    if (r->spec.port[s] != 0)
      sf_media_port_free (r->media, r->spec.port[s]);
    g_free (r->spec.peer_addr[s]);
  }
  g_free (r->call);
  g_free (r);
}

/* ---- latching ---- */

void
sf_media_relay_latch_reset (SfRelayLatchState *st, SfRelayLatch mode, guint relatch_ms, const char *sdp_host)
{
  g_return_if_fail (st != NULL);
  memset (st, 0, sizeof *st);
  st->mode = mode;
  st->relatch_us = (gint64) relatch_ms * G_TIME_SPAN_MILLISECOND;
  if (sdp_host != NULL)
    g_strlcpy (st->sdp_host, sdp_host, sizeof st->sdp_host);
}

SfRelayVerdict
sf_media_relay_latch_check (SfRelayLatchState *st, const char *addr, guint port, gint64 now_us)
{
  g_return_val_if_fail (st != NULL && addr != NULL, SF_RELAY_DROP);
  if (st->mode == SF_RELAY_LATCH_OFF)
    return SF_RELAY_TAKE;
  if (!st->seen) {
    st->seen = TRUE;
    st->first_us = now_us;
  }
  if (st->latched) {
    if (port == st->port && strcmp (addr, st->addr) == 0) {
      st->last_us = now_us;
      return SF_RELAY_TAKE;
    }
    /* Another source: only once the latched one has been silent for the
     * guard (a phone that moved, a NAT binding renewed), never while it
     * talks: a stranger who guesses the port cannot take the stream.  But
     * the source the SDP names exactly takes it at once: after a new SDP
     * (a transfer's new party) the old party's last packets latched first.
     * Only while those can still be in flight (relatch_us from the first
     * packet since the SDP): a party behind NAT names a private address and
     * talks from another, and whoever can send from the named one (a host
     * that has it on our side, a spoofer) must not take its stream later. */
    gboolean named = st->sdp_port != 0 && port == st->sdp_port && strcmp (addr, st->sdp_host) == 0 &&
                     now_us - st->first_us < st->relatch_us;
    if (now_us - st->last_us < st->relatch_us && !named)
      return SF_RELAY_DROP;
  }
  if (st->mode == SF_RELAY_LATCH_SDP_HOST && (st->sdp_host[0] == '\0' || strcmp (addr, st->sdp_host) != 0))
    return SF_RELAY_DROP;
  if (strlen (addr) >= sizeof st->addr)
    return SF_RELAY_DROP;
  st->latched = TRUE;
  g_strlcpy (st->addr, addr, sizeof st->addr);
  st->port = port;
  st->last_us = now_us;
  return SF_RELAY_LATCH;
}
