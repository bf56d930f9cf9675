/* sf-sip-transport.c: UDP, TCP, TLS and WebSocket transports (see sf-sip-transport.h). */
#include "config.h"
#include "sf-sip-transport.h"
#include "sf-sip-tls.h"
#include "sf-sip-build.h"
#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <errno.h>

#define UDP_BATCH 8
/* Datagrams held for one sendmmsg at the end of the loop's turn at most: a
 * turn that makes more sends them as the queue fills (a peer cannot grow it). */
#define UDP_OUT_CAP 64
#define TCP_READ 8192

/* A UDP socket's cache of the peer addresses it read from lately, keyed by the
 * kernel's own bytes (the IPv6 flow label and scope id with the address and
 * port: a link-local peer is answered through its scope).  Most datagrams of a
 * proxied call come from the same two or three addresses; without it each one
 * read would make a GInetSocketAddress and a GInetAddress (two GObjects).  A
 * fixed number of slots, in sets chosen by a keyed hash, each set's oldest
 * replaced: a flood of distinct sources costs what it costs without a cache
 * (a new object each), never more memory. */
#define UDP_PEER_SETS 16
#define UDP_PEER_WAYS 4
typedef union {
  struct sockaddr sa;
  struct sockaddr_in in4;
  struct sockaddr_in6 in6;
} UdpName;

typedef struct {
  UdpName name;
  socklen_t len;                /* 0: empty */
  GInetSocketAddress *addr;     /* owned, nullable */
} UdpPeer;

typedef struct {
  SfSipTransport *t;
  GSocket *sock;                /* owned */
  GInetSocketAddress *local;    /* owned */
  GSource *src;                 /* owned */
  guint8 *bufs;                 /* owned: UDP_BATCH buffers of SF_SIP_MAX_MSG_SIZE + 1 */
  struct mmsghdr msgs[UDP_BATCH];  /* recvmmsg's headers, pointing into bufs and names */
  struct iovec iov[UDP_BATCH];
  struct sockaddr_storage names[UDP_BATCH];
  UdpPeer peers[UDP_PEER_SETS][UDP_PEER_WAYS];
  guint8 peer_next[UDP_PEER_SETS]; /* each set's next slot to replace */
  guint64 peer_key[2];          /* random: which set an address falls in is not for a peer to choose */
  gboolean reading;             /* in udp_readable: a nested turn of the loop must not reuse the buffers */
  gboolean dual_stack;          /* on [::] with IPV6_V6ONLY off: reaches IPv4 peers too (read once, udp_add) */
} UdpListener;

typedef struct _TcpConn TcpConn;
struct _TcpConn {
  grefcount ref;
  SfSipTransport *t;            /* unowned: the transport closes its connections first */
  guint id;
  GSocketConnection *conn;      /* owned, NULL while connecting */
  SfSipProto proto;             /* TCP, TLS, WS or WSS */
  SoupWebsocketConnection *ws;  /* owned, nullable, WS and WSS: once upgraded (libsoup has the stream then) */
  struct _SfWsBudget *budget;   /* owned, nullable, WS and WSS: what libsoup reads passes through it */
  struct _SfWsOut *out_ws;      /* owned, nullable, WS and WSS: what libsoup writes passes through it */
  gushort ws_close;             /* WS, WSS: the close code conn_close sends (0: 1001, going away) */
  GIOStream *io;                /* owned: what is read and written: @conn, or the GTlsConnection over it */
  SfSipTlsConfig *tls;          /* owned, TLS: the configuration it was made with (a reload does not touch it) */
  char *name;                   /* owned, nullable, opened TLS: the name the server's certificate was checked against */
  gboolean secured;             /* TLS: handshake done (TCP: always) */
  gboolean handshaking;         /* TLS: a handshake runs (in GIO's thread: the socket is closed after it) */
  GSource *hello;               /* owned, nullable, accepted TLS: waiting for the whole ClientHello (tls_wait_hello) */
  char *tls_why;                /* owned, nullable: why a peer's certificate was refused */
  GInetSocketAddress *local, *remote; /* owned */
  GByteArray *in;
  GQueue out;                   /* GBytes waiting */
  gboolean writing, closed;
  GCancellable *cancel;
  GSource *timer;               /* owned, nullable: the next deadline (conn_check), on the transport's context */
  gint64 timer_at;              /* when it fires */
  gint64 opened;                /* monotonic times, µs */
  gint64 last_activity;         /* the last whole message in or out (or the opening) */
  gint64 partial_since;         /* the first byte of a message not yet whole; 0: none */
  gint64 flow_until;            /* a registered flow until then (keep-alives count) */
  gboolean accepted, got_message;
  char *source;                 /* owned, accepted connections: the peer's IP (per-source count) */
  guint lf_run;                 /* LFs in the current run of keep-alive bytes */
  gsize pending;                /* bytes in @out */
  guint8 buf[TCP_READ];
};

/* A datagram made in this turn of the loop, not yet sent (udp_flush). */
typedef struct {
  UdpListener *l;
  GInetSocketAddress *dest;     /* owned */
  GBytes *wire;                 /* owned */
  guint64 sender;               /* who queued it (sf_sip_transport_set_sender), 0: nobody told */
  struct sockaddr_storage name; /* @dest's native form */
  socklen_t len;
} UdpOut;

typedef struct {
  GSource source;
  SfSipTransport *t;
} UdpFlushSource;

static void udp_flush (SfSipTransport *t);
static gboolean udp_flush_prepare (GSource *source, gint *timeout);
static GSourceFuncs udp_flush_funcs = { .prepare = udp_flush_prepare };

/* Failed TLS handshakes written as warnings a second (the rest at debug). */
#define SF_SIP_TLS_WARN_PER_S 10

struct _SfSipTransport {
  GMainContext *context;
  SfSipRecvFunc recv;
  gpointer data;
  GPtrArray *udp;               /* UdpListener */
  GPtrArray *services;          /* GSocketService (owned) */
  GPtrArray *tcp_bound;         /* GInetSocketAddress (owned): the TCP and TLS listening addresses */
  GArray *tcp_protos;           /* SfSipProto, one per tcp_bound */
  SfSipTlsConfig *tls;          /* owned, nullable: for new TLS connections (sf_sip_transport_set_tls) */
  GHashTable *conns;            /* id -> TcpConn (ref) */
  gint64 tls_warn_second;       /* the monotonic second of the failed handshakes warned of */
  guint tls_warned;             /* ... how many in it (SF_SIP_TLS_WARN_PER_S at most) */
  GSocketClient *client;        /* owned: connections from the address the kernel picks */
  GPtrArray *tcp_clients;       /* GSocketClient (owned, nullable), one per tcp_bound: connections from that address */
  guint next_conn;
  guint32 boot;                 /* random, nonzero: names this transport's connection ids (sf_sip_transport_boot) */
  guint tcp_idle_s, tcp_stall_s;
  guint tcp_max_per_source, tcp_max_conns;
  GHashTable *per_source;       /* IP text (owned) -> accepted connections open from it */
  SoupServer *soup;             /* owned, nullable: upgrades WS and WSS connections (made at the first ws: or wss: listen) */
  char **ws_origins;            /* owned, nullable: ws.origins (NULL: any) */
  SfSipTransportStats stats;
  SfSipSendErrorFunc send_error;
  gpointer send_error_data;
  SfSipFlowClosedFunc flow_closed; /* nullable: a connection that carried a registered flow closed */
  gpointer flow_closed_data;
  SfSipTapFunc tap;
  gpointer tap_data;
  SfSipSendFilter filter;
  gpointer filter_data;
  SfSipSteerFunc steer;         /* nullable: one worker of several (sf_sip_transport_set_steer) */
  SfSipSteerDone steer_done;    /* nullable: after a batch the hook took some of (sf_sip_transport_set_steer_done) */
  gboolean steered;             /* the hook took a message since steer_done last ran */
  SfSipReuseport reuseport;     /* UDP sockets in a reuseport group (sf_sip_transport_set_reuseport) */
  gsize udp_max;                /* the longest datagram read (SF_SIP_MAX_MSG_SIZE; lower in tests) */
  gpointer steer_data;
  SfSipSteerDone after_read;    /* nullable: after each batch of datagrams read (sf_sip_transport_set_after_read) */
  UdpOut out[UDP_OUT_CAP];      /* datagrams of this turn, in the order they were made */
  guint n_out;
  guint64 sender;               /* the sender of what is queued now (sf_sip_transport_set_sender) */
  int fail_errno;               /* sf_sip_transport_fail_sends (tests): the flush's next fail_n fail so */
  guint fail_n;
  GSource *flush;               /* owned: sends them before the context may sleep (udp_flush_prepare) */
  gboolean batch;               /* UDP sends wait for the turn's end (sf_sip_transport_set_udp_batch) */
  SfSipUdpFailedFunc udp_failed; /* nullable: a datagram the flush could not send */
  gpointer udp_failed_data;
  gpointer after_read_data;
};

void
sf_sip_transport_set_reuseport (SfSipTransport *t, SfSipReuseport mode)
{
  t->reuseport = mode;
}

GMainContext *
sf_sip_transport_context (SfSipTransport *t)
{
  return t->context;
}

void
sf_sip_transport_set_steer (SfSipTransport *t, SfSipSteerFunc func, gpointer data)
{
  t->steer = func;
  t->steer_data = data;
}

gboolean
sf_sip_transport_steers (SfSipTransport *t)
{
  return t->steer != NULL;
}

void
sf_sip_transport_set_send_filter (SfSipTransport *t, SfSipSendFilter func, gpointer data)
{
  t->filter = func;
  t->filter_data = data;
}

static gboolean
filtered (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *dest, GBytes *wire, GError **error)
{
  if (t->filter == NULL || t->filter (proto, dest, wire, t->filter_data))
    return FALSE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "refused by the send filter");
  return TRUE;
}

void
sf_sip_peer_clear (SfSipPeer *p)
{
  g_clear_object (&p->local);
  g_clear_object (&p->remote);
}

void
sf_sip_peer_copy (SfSipPeer *dst, const SfSipPeer *src)
{
  dst->proto = src->proto;
  dst->local = src->local != NULL ? g_object_ref (src->local) : NULL;
  dst->remote = src->remote != NULL ? g_object_ref (src->remote) : NULL;
  dst->conn = src->conn;
}

/* @v in decimal at @p; returns the end. */
static char *
put_uint (char *p, guint v)
{
  char d[10];
  int n = 0;
  do
    d[n++] = (char) ('0' + v % 10);
  while ((v /= 10) != 0);
  while (n > 0)
    *p++ = d[--n];
  return p;
}

/* The dotted quad of IPv4 address @b at @p (what inet_ntop writes); returns the end. */
static char *
put_ipv4 (char *p, const guint8 *b)
{
  for (int i = 0; i < 4; i++) {
    if (i > 0)
      *p++ = '.';
    p = put_uint (p, b[i]);
  }
  return p;
}

const char *
sf_sip_ip_text (GInetAddress *ip, char buf[SF_SIP_IPV4_TEXT], char **owned)
{
  *owned = NULL;
  if (g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV4) {
    *put_ipv4 (buf, g_inet_address_to_bytes (ip)) = '\0';
    return buf;
  }
  return *owned = g_inet_address_to_string (ip);
}

char *
sf_sip_addr_to_string (GInetSocketAddress *addr)
{
  if (addr == NULL)
    return NULL;
  GInetAddress *ip = g_inet_socket_address_get_address (addr);
  guint port = g_inet_socket_address_get_port (addr);
  if (g_inet_address_get_family (ip) == G_SOCKET_FAMILY_IPV4) {
    /* by hand, not inet_ntop and a printf: twice a REGISTER (its source and
     * local address), once a stateless answer's event line */
    char out[sizeof "255.255.255.255:65535"], *p = put_ipv4 (out, g_inet_address_to_bytes (ip));
    *p++ = ':';
    p = put_uint (p, port);
    return g_strndup (out, (gsize) (p - out));
  }
  g_autofree char *text = g_inet_address_to_string (ip);
  return g_strdup_printf ("[%s]:%u", text, port);
}

static const char *const proto_names[] = { "udp", "tcp", "tls", "ws", "wss" };
static const char *const proto_vias[] = { "UDP", "TCP", "TLS", "WS", "WSS" };

const char *
sf_sip_proto_name (SfSipProto p)
{
  return (guint) p < G_N_ELEMENTS (proto_names) ? proto_names[p] : "udp";
}

const char *
sf_sip_proto_via (SfSipProto p)
{
  return (guint) p < G_N_ELEMENTS (proto_vias) ? proto_vias[p] : "UDP";
}

gboolean
sf_sip_proto_from_name (SfSipStr name, SfSipProto *p)
{
  for (guint i = 0; i < G_N_ELEMENTS (proto_names); i++)
    if (sf_sip_str_caseeq (name, proto_names[i])) {
      *p = (SfSipProto) i;
      return TRUE;
    }
  return FALSE;
}

/* TLS underneath: TLS and WSS. */
static gboolean
proto_is_tls (SfSipProto p)
{
  return p == SF_SIP_TLS || p == SF_SIP_WSS;
}

char *
sf_sip_peer_to_string (const SfSipProto proto, GInetSocketAddress *addr)
{
  g_autofree char *a = sf_sip_addr_to_string (addr);
  return g_strdup_printf ("%s:%s", sf_sip_proto_name (proto), a);
}

/* A debug sample of bad input: at most 64 bytes, non-printables masked. */
static void
log_bad (const char *what, GBytes *bytes, GInetSocketAddress *from, const char *why)
{
  gsize len;
  const char *d = g_bytes_get_data (bytes, &len);
  char sample[65];
  gsize n = MIN (len, 64);
  for (gsize i = 0; i < n; i++)
    sample[i] = d[i] >= 0x20 && d[i] < 0x7f ? d[i] : '.';
  sample[n] = '\0';
  g_autofree char *src = sf_sip_peer_to_string (SF_SIP_UDP, from);
  g_debug ("%s from %s: %s: \"%s\"%s", what, src + 4, why, sample, len > 64 ? "..." : "");
}

/* ---- the receive path (18.2.1) ---- */

static gboolean send_raw (SfSipTransport *t, const SfSipPeer *to, GBytes *wire, GError **error);
static void count_message (guint64 *requests, guint64 *responses, const char *d, gsize len);

/* received= when the sent-by is not the packet's source; rport's value when asked (RFC 3581). */
static SfSipMsg *
fix_via (SfSipMsg *m, GBytes *bytes, const SfSipPeer *from)
{
  const SfSipValue *via = sf_sip_msg_top_via (m);
  char ip4[SF_SIP_IPV4_TEXT];
  g_autofree char *ip6 = NULL;
  const char *ip = sf_sip_ip_text (g_inet_socket_address_get_address (from->remote), ip4, &ip6);
  SfSipStr host = via->host;
  if (host.len >= 2 && host.p[0] == '[')
    host = sf_sip_str (host.p + 1, host.len - 2);
  const SfSipParam *rport = sf_sip_value_param (via, "rport");
  const SfSipParam *received = sf_sip_value_param (via, "received");
  gboolean want_rport = rport != NULL && !sf_sip_str_is_set (rport->value);
  gboolean want_received = !sf_sip_str_caseeq (host, ip) || want_rport;
  /* A received= the sender wrote itself is never trusted: responses would go
   * where it says (a reflection), so it is replaced by the real source. */
  gboolean right = received != NULL && sf_sip_str_caseeq (received->value, ip);
  if (!want_rport && (!want_received || right) && (received == NULL || right))
    return sf_sip_msg_ref (m);
  GString *v = g_string_new (NULL);
  g_string_append_len (v, via->protocol.p, (gssize) via->protocol.len);
  g_string_append_c (v, '/');
  g_string_append_len (v, via->version.p, (gssize) via->version.len);
  g_string_append_c (v, '/');
  g_string_append_len (v, via->transport.p, (gssize) via->transport.len);
  g_string_append_c (v, ' ');
  g_string_append_len (v, via->host.p, (gssize) via->host.len);
  if (via->port != 0)
    g_string_append_printf (v, ":%u", via->port);
  for (guint i = 0; i < via->n_params; i++) {
    const SfSipParam *p = &via->params[i];
    if (p == received)
      continue; /* written below, from the packet */
    g_string_append_c (v, ';');
    g_string_append_len (v, p->name.p, (gssize) p->name.len);
    if (p == rport && want_rport)
      g_string_append_printf (v, "=%u", g_inet_socket_address_get_port (from->remote));
    else if (sf_sip_str_is_set (p->value)) {
      g_string_append_c (v, '=');
      g_string_append_len (v, p->value.p, (gssize) p->value.len);
    }
  }
  if (want_received || received != NULL)
    g_string_append_printf (v, ";received=%s", ip);
  gsize len;
  const char *d = g_bytes_get_data (bytes, &len);
  gsize start = (gsize) (via->raw.p - d), end = start + via->raw.len;
  GByteArray *out = g_byte_array_sized_new ((guint) (len + v->len));
  g_byte_array_append (out, (const guint8 *) d, (guint) start);
  g_byte_array_append (out, (const guint8 *) v->str, (guint) v->len);
  g_byte_array_append (out, (const guint8 *) d + end, (guint) (len - end));
  g_string_free (v, TRUE);
  g_autoptr (GBytes) nb = g_byte_array_free_to_bytes (out);
  SfSipMsg *fixed = sf_sip_msg_parse (nb, NULL);
  return fixed != NULL ? fixed : sf_sip_msg_ref (m); /* over a limit now: deliver it as it came */
}

static void
handle_bytes (SfSipTransport *t, GBytes *bytes, const SfSipPeer *from)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) m = sf_sip_msg_parse_framed (bytes, &error);
  if (m == NULL) {
    log_bad ("dropped", bytes, from->remote, error->message);
    t->stats.dropped++;
    return;
  }
  if (!sf_sip_msg_validate (m, &error)) {
    if (t->tap != NULL)
      t->tap (SF_SIP_TAP_IN, from->proto, from->local, from->remote, m, bytes, t->tap_data);
    g_autoptr (GBytes) answer = sf_sip_msg_bad_request (m, error->message);
    if (answer != NULL && send_raw (t, from, answer, NULL)) {
      log_bad ("answered 400", bytes, from->remote, error->message);
      t->stats.bad_requests++;
    } else {
      log_bad ("dropped", bytes, from->remote, error->message);
      t->stats.dropped++;
    }
    return;
  }
  g_autoptr (SfSipMsg) fixed = sf_sip_msg_is_request (m) ? fix_via (m, bytes, from) : sf_sip_msg_ref (m);
  t->stats.received++;
  if (sf_sip_msg_is_request (m)) {
    SfSipStr meth = sf_sip_msg_method (m);
    t->stats.requests_in[sf_sip_method_index (meth.p, meth.len)]++;
  } else {
    guint code = sf_sip_msg_status (m);
    if (code >= 100 && code < 100 + SF_SIP_N_STATUS)
      t->stats.responses_in[code - 100]++;
  }
  if (t->tap != NULL)
    t->tap (SF_SIP_TAP_IN, from->proto, from->local, from->remote, fixed, bytes, t->tap_data);
  t->recv (fixed, from, t->data);
}

GInetSocketAddress *
sf_sip_transport_local (SfSipTransport *t, SfSipProto proto)
{
  if (proto == SF_SIP_UDP)
    return t->udp->len > 0 ? ((UdpListener *) t->udp->pdata[0])->local : NULL;
  for (guint i = 0; i < t->tcp_bound->len; i++)
    if (g_array_index (t->tcp_protos, SfSipProto, i) == proto)
      return t->tcp_bound->pdata[i];
  return NULL;
}

gboolean
sf_sip_ip_parse (SfSipStr host, SfSipIp *ip)
{
  if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
    host = sf_sip_str (host.p + 1, host.len - 2);
  /* The longest literal inet_pton() takes is 45 characters (an IPv6 one
   * ending in dotted IPv4); longer is a name. */
  char text[64];
  if (host.len == 0 || host.len >= sizeof text || memchr (host.p, '\0', host.len) != NULL)
    return FALSE;
  memcpy (text, host.p, host.len);
  text[host.len] = '\0';
  if (memchr (text, '%', host.len) != NULL) {
    /* a scope: GLib's own reading (the scope is not part of the bytes compared) */
    g_autoptr (GInetAddress) a = g_inet_address_new_from_string (text);
    if (a == NULL)
      return FALSE;
    ip->family = g_inet_address_get_family (a);
    memset (ip->bytes, 0, sizeof ip->bytes);
    memcpy (ip->bytes, g_inet_address_to_bytes (a), g_inet_address_get_native_size (a));
    return TRUE;
  }
  memset (ip->bytes, 0, sizeof ip->bytes);
  if (inet_pton (AF_INET, text, ip->bytes) > 0) {
    ip->family = G_SOCKET_FAMILY_IPV4;
    return TRUE;
  }
  if (inet_pton (AF_INET6, text, ip->bytes) > 0) {
    ip->family = G_SOCKET_FAMILY_IPV6;
    return TRUE;
  }
  return FALSE;
}

gboolean
sf_sip_ip_equal (const SfSipIp *a, const SfSipIp *b)
{
  return a->family == b->family && memcmp (a->bytes, b->bytes, a->family == G_SOCKET_FAMILY_IPV4 ? 4 : 16) == 0;
}

/* The last addresses sf_sip_socket_address() made on a thread: a fixed
 * number, replaced in turn, whatever the peers send. */
#define ADDR_CACHE 8
typedef struct {
  SfSipIp ip[ADDR_CACHE];
  guint port[ADDR_CACHE];
  GInetSocketAddress *addr[ADDR_CACHE]; /* owned refs, NULL: empty */
  guint next;
} AddrCache;

static void
addr_cache_free (gpointer p)
{
  AddrCache *c = p;
  for (guint i = 0; i < ADDR_CACHE; i++)
    g_clear_object (&c->addr[i]);
  g_free (c);
}

static GPrivate addr_cache = G_PRIVATE_INIT (addr_cache_free);

GInetSocketAddress *
sf_sip_socket_address (const SfSipIp *ip, guint port)
{
  AddrCache *c = g_private_get (&addr_cache);
  if (c == NULL) {
    c = g_new0 (AddrCache, 1);
    g_private_set (&addr_cache, c);
  }
  for (guint i = 0; i < ADDR_CACHE; i++)
    if (c->addr[i] != NULL && c->port[i] == port && sf_sip_ip_equal (&c->ip[i], ip))
      return g_object_ref (c->addr[i]);
  g_autoptr (GInetAddress) a = g_inet_address_new_from_bytes (ip->bytes, ip->family);
  GInetSocketAddress *sa = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (a, (guint16) port));
  guint i = c->next;
  c->next = (i + 1) % ADDR_CACHE;
  g_clear_object (&c->addr[i]);
  c->ip[i] = *ip;
  c->port[i] = port;
  c->addr[i] = g_object_ref (sa);
  return sa;
}

static gboolean
socket_address_is (GInetSocketAddress *a, const SfSipIp *ip, guint port)
{
  if (port != 0 && g_inet_socket_address_get_port (a) != port)
    return FALSE;
  GInetAddress *ia = g_inet_socket_address_get_address (a);
  return g_inet_address_get_family (ia) == ip->family &&
         memcmp (g_inet_address_to_bytes (ia), ip->bytes, g_inet_address_get_native_size (ia)) == 0;
}

gboolean
sf_sip_transport_is_local (SfSipTransport *t, const SfSipIp *ip, guint port)
{
  for (guint i = 0; i < t->udp->len; i++)
    if (socket_address_is (((UdpListener *) t->udp->pdata[i])->local, ip, port))
      return TRUE;
  for (guint i = 0; i < t->tcp_bound->len; i++)
    if (socket_address_is (t->tcp_bound->pdata[i], ip, port))
      return TRUE;
  return FALSE;
}

gboolean
sf_sip_transport_has_port (SfSipTransport *t, guint port)
{
  for (guint i = 0; i < t->udp->len; i++)
    if (g_inet_socket_address_get_port (((UdpListener *) t->udp->pdata[i])->local) == port)
      return TRUE;
  for (guint i = 0; i < t->tcp_bound->len; i++)
    if (g_inet_socket_address_get_port (t->tcp_bound->pdata[i]) == port)
      return TRUE;
  return FALSE;
}

/* Does @l reach IPv4 peers too, as ::ffff:a.b.c.d (udp_send_to)? */
static gboolean
udp_dual_stack (UdpListener *l)
{
  return l->dual_stack;
}

gboolean
sf_sip_transport_can_send (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *dest)
{
  if (proto == SF_SIP_TCP || sf_sip_proto_is_ws (proto))
    return TRUE; /* WS: over a connection open, or the send fails (tcp_send) */
  if (proto == SF_SIP_TLS)
    return t->tls != NULL;
  GSocketFamily family = g_inet_address_get_family (g_inet_socket_address_get_address (dest));
  for (guint i = 0; i < t->udp->len; i++)
    if (g_socket_get_family (((UdpListener *) t->udp->pdata[i])->sock) == family ||
        (family == G_SOCKET_FAMILY_IPV4 && udp_dual_stack (t->udp->pdata[i])))
      return TRUE;
  return FALSE;
}

gboolean
sf_sip_transport_conn_nodelay (SfSipTransport *t, guint conn)
{
  TcpConn *c = g_hash_table_lookup (t->conns, GUINT_TO_POINTER (conn));
  gint v = 0;
  return c != NULL && c->conn != NULL &&
         g_socket_get_option (g_socket_connection_get_socket (c->conn), IPPROTO_TCP, TCP_NODELAY, &v, NULL) && v != 0;
}

void
sf_sip_transport_inject (SfSipTransport *t, GBytes *bytes, const SfSipPeer *from)
{
  handle_bytes (t, bytes, from);
}

/* What a socket read: to its owner when the steer hook takes it, else parsed
 * here.  Alone (no hook) the cost is one test.  Each caller ends its batch
 * (a recvmmsg's datagrams, one stream message) with steer_flush. */
static void
receive_bytes (SfSipTransport *t, GBytes *bytes, const SfSipPeer *from)
{
  if (t->steer != NULL && t->steer (bytes, from, t->steer_data)) {
    t->steered = TRUE;
    return;
  }
  handle_bytes (t, bytes, from);
}

static void
steer_flush (SfSipTransport *t)
{
  if (t->steered) {
    t->steered = FALSE;
    if (t->steer_done != NULL)
      t->steer_done (t->steer_data);
  }
}

/* After a read that handed up at least one message (its datagrams, or the
 * whole messages a stream read completed), before the socket is read again. */
static void
read_done (SfSipTransport *t)
{
  if (t->after_read != NULL)
    t->after_read (t->after_read_data);
}

void
sf_sip_transport_receive (SfSipTransport *t, GBytes *bytes, const SfSipPeer *from)
{
  receive_bytes (t, bytes, from);
  steer_flush (t);
}

void
sf_sip_transport_set_steer_done (SfSipTransport *t, SfSipSteerDone func)
{
  t->steer_done = func;
}

void
sf_sip_transport_set_after_read (SfSipTransport *t, SfSipSteerDone func, gpointer data)
{
  t->after_read = func;
  t->after_read_data = data;
}

/* ---- UDP ---- */

/* Which set of @l's peer cache @name (@len bytes) falls in: a hash keyed per
 * socket, so a peer cannot choose addresses that all land in one set. */
static guint
udp_peer_set (UdpListener *l, const UdpName *name, socklen_t len)
{
  guint64 h = l->peer_key[0];
  const guint8 *b = (const guint8 *) name;
  for (socklen_t i = 0; i < len; i++)
    h = (h ^ b[i]) * G_GUINT64_CONSTANT (0x100000001b3);
  h ^= l->peer_key[1];
  h ^= h >> 29;
  h *= G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  h ^= h >> 32;
  return (guint) (h % UDP_PEER_SETS);
}

/* The address object of the peer @name (@len bytes, as recvmmsg wrote it),
 * transfer none (the cache holds it until replaced; a receiver that keeps it
 * takes a ref), or NULL for what is not an IPv4 or IPv6 address. */
static GInetSocketAddress *
udp_peer (UdpListener *l, UdpName *name, socklen_t len)
{
  if (!((name->sa.sa_family == AF_INET && len == sizeof name->in4) ||
        (name->sa.sa_family == AF_INET6 && len == sizeof name->in6)))
    return NULL;
  if (name->sa.sa_family == AF_INET)
    memset (name->in4.sin_zero, 0, sizeof name->in4.sin_zero); /* not part of the address */
  guint set = udp_peer_set (l, name, len);
  UdpPeer *ways = l->peers[set];
  for (guint i = 0; i < UDP_PEER_WAYS; i++)
    if (ways[i].len == len && memcmp (&ways[i].name, name, len) == 0)
      return ways[i].addr;
  /* GLib gives an IPv4 peer of a dual-stack socket (::ffff:a.b.c.d) as its
   * IPv4 address, as it does an accepted connection's: one host, one identity
   * for the limits, Via received=, flows and events; udp_send_to maps it back
   * for an IPv6 socket (tests/unit/test-sip-transport.c, dual_stack). */
  GSocketAddress *a = g_socket_address_new_from_native (name, len);
  if (a == NULL)
    return NULL;
  if (!G_IS_INET_SOCKET_ADDRESS (a)) {
    g_object_unref (a);
    return NULL;
  }
  UdpPeer *p = &ways[l->peer_next[set]];
  l->peer_next[set] = (guint8) ((l->peer_next[set] + 1) % UDP_PEER_WAYS);
  g_clear_object (&p->addr);
  memcpy (&p->name, name, len);
  p->len = len;
  p->addr = G_INET_SOCKET_ADDRESS (a);
  return p->addr;
}

static void
udp_peers_clear (UdpListener *l)
{
  for (guint s = 0; s < UDP_PEER_SETS; s++)
    for (guint i = 0; i < UDP_PEER_WAYS; i++) {
      g_clear_object (&l->peers[s][i].addr);
      l->peers[s][i].len = 0;
    }
}

void
sf_sip_transport_set_udp_max (SfSipTransport *t, gsize bytes)
{
  g_return_if_fail (bytes >= 1 && bytes <= SF_SIP_MAX_MSG_SIZE);
  t->udp_max = bytes;
}

guint
sf_sip_transport_udp_peers (SfSipTransport *t)
{
  guint n = 0;
  for (guint k = 0; k < t->udp->len; k++) {
    UdpListener *l = t->udp->pdata[k];
    for (guint s = 0; s < UDP_PEER_SETS; s++)
      for (guint i = 0; i < UDP_PEER_WAYS; i++)
        n += l->peers[s][i].addr != NULL;
  }
  return n;
}

/* Reads up to UDP_BATCH datagrams with one recvmmsg on the socket's descriptor
 * into the listener's own buffers (GSocket's receive would make a new address
 * object for every datagram); GLib's source still says when to read. */
static gboolean
udp_readable (GSocket *sock, GIOCondition cond, gpointer data)
{
  (void) cond;
  UdpListener *l = data;
  if (l->reading)
    return G_SOURCE_CONTINUE; /* the outer call reads it (the source may recurse: see sf_sip_transport_listen) */
  l->reading = TRUE;
  for (int i = 0; i < UDP_BATCH; i++) {
    l->iov[i].iov_base = l->bufs + (gsize) i * (SF_SIP_MAX_MSG_SIZE + 1);
    l->iov[i].iov_len = l->t->udp_max + 1;
    l->msgs[i].msg_hdr = (struct msghdr) { .msg_name = &l->names[i], .msg_namelen = sizeof l->names[i],
                                           .msg_iov = &l->iov[i], .msg_iovlen = 1 };
    l->msgs[i].msg_len = 0;
  }
  int n;
  do
    n = recvmmsg (g_socket_get_fd (sock), l->msgs, UDP_BATCH, MSG_DONTWAIT, NULL);
  while (n < 0 && errno == EINTR);
  for (int i = 0; i < n; i++) {
    struct msghdr *h = &l->msgs[i].msg_hdr;
    GInetSocketAddress *remote = udp_peer (l, (UdpName *) h->msg_name, h->msg_namelen);
    if (remote == NULL)
      continue;
    SfSipPeer from = { SF_SIP_UDP, l->local, remote, 0 };
    /* MSG_TRUNC: the datagram was longer than the buffer, whose last byte is
     * there to tell a message of exactly the limit from a longer one. */
    if ((h->msg_flags & MSG_TRUNC) != 0 || l->msgs[i].msg_len > l->t->udp_max) {
      g_autoptr (GBytes) b = g_bytes_new (l->iov[i].iov_base, MIN (l->msgs[i].msg_len, 64));
      log_bad ("dropped", b, from.remote, "datagram larger than the message size limit");
      l->t->stats.dropped++;
    } else if (l->msgs[i].msg_len > 0) {
      g_autoptr (GBytes) b = g_bytes_new (l->iov[i].iov_base, l->msgs[i].msg_len);
      receive_bytes (l->t, b, &from);
    }
  }
  steer_flush (l->t);
  l->reading = FALSE;
  if (n > 0)
    read_done (l->t);
  return G_SOURCE_CONTINUE;
}

static void
udp_free (UdpListener *l)
{
  g_source_destroy (l->src);
  g_source_unref (l->src);
  g_socket_close (l->sock, NULL);
  g_object_unref (l->sock);
  g_object_unref (l->local);
  udp_peers_clear (l);
  g_free (l->bufs);
  g_free (l);
}

/* ---- TCP ---- */

static void tcp_read (TcpConn *c);
static void tcp_write_next (TcpConn *c);
static void conn_arm (TcpConn *c, gint64 now);
static void conn_ready (TcpConn *c);
static gboolean ws_queue (TcpConn *c, GBytes *wire, GError **error);

static void
conn_unref (TcpConn *c)
{
  if (!g_ref_count_dec (&c->ref))
    return;
  if (c->hello != NULL) {
    g_source_destroy (c->hello);
    g_source_unref (c->hello);
  }
  if (c->ws != NULL) {
    g_signal_handlers_disconnect_by_data (c->ws, c);
    g_clear_object (&c->ws);
  }
  g_clear_object (&c->budget);
  g_clear_object (&c->out_ws);
  g_clear_object (&c->io);
  g_clear_object (&c->conn);
  g_clear_pointer (&c->tls, sf_sip_tls_config_unref);
  g_free (c->name);
  g_free (c->tls_why);
  g_clear_object (&c->local);
  g_clear_object (&c->remote);
  g_byte_array_unref (c->in);
  g_queue_clear_full (&c->out, (GDestroyNotify) g_bytes_unref);
  g_object_unref (c->cancel);
  g_free (c->source);
  g_free (c);
}

static void
ws_release (SoupWebsocketConnection *ws, gpointer data)
{
  g_object_unref (ws);
}

static void
conn_timer_clear (TcpConn *c)
{
  if (c->timer == NULL)
    return;
  g_source_destroy (c->timer);
  g_clear_pointer (&c->timer, g_source_unref);
}

static void
conn_close (TcpConn *c, const char *why)
{
  if (c->closed)
    return;
  c->closed = TRUE;
  g_debug ("%s connection %u closed: %s", sf_sip_proto_name (c->proto), c->id, why);
  c->t->stats.tcp_closed++;
  g_cancellable_cancel (c->cancel);
  conn_timer_clear (c);
  if (c->hello != NULL) {
    g_source_destroy (c->hello);
    g_clear_pointer (&c->hello, g_source_unref);
  }
  if (c->source != NULL) {
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (c->t->per_source, c->source));
    if (n > 1)
      g_hash_table_insert (c->t->per_source, g_strdup (c->source), GUINT_TO_POINTER (n - 1));
    else
      g_hash_table_remove (c->t->per_source, c->source);
  }
  /* A TLS handshake runs in a thread of GIO's on the socket: it ends
   * (cancelled) before the socket is closed, in tls_handshaken, so that no
   * thread reads a descriptor number reused meanwhile. */
  if (c->ws != NULL) {
    /* libsoup has the stream: a close frame, and libsoup closes the stream
     * when the peer answers it or after its own timeout */
    g_signal_handlers_disconnect_by_data (c->ws, c);
    if (soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN) {
      /* held until closed: the close frame must get out first */
      g_signal_connect (g_object_ref (c->ws), "closed", G_CALLBACK (ws_release), NULL);
      soup_websocket_connection_close (c->ws, c->ws_close != 0 ? c->ws_close : SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    }
  } else if (c->conn != NULL && !c->handshaking)
    g_io_stream_close (G_IO_STREAM (c->conn), NULL, NULL);
  /* a registration's flow is gone: its bindings can go (RFC 5626, RFC 7118);
   * told once the connection is out of the table, so that the listener asks
   * whether another one from that address (a peer back through the same NAT
   * mapping) is open */
  SfSipTransport *t = c->t;
  SfSipProto proto = c->proto;
  g_autoptr (GInetSocketAddress) gone = c->flow_until != 0 && c->remote != NULL && t->flow_closed != NULL
                                          ? g_object_ref (c->remote) : NULL;
  g_hash_table_remove (t->conns, GUINT_TO_POINTER (c->id)); /* drops the table's ref: @c may be gone */
  if (gone != NULL)
    t->flow_closed (proto, gone, t->flow_closed_data);
}

/* The connection's deadlines: idle (sip.tcp_idle after the last whole message),
 * and for what the peer sends, sip.tcp_stall to complete a message once it
 * began and, on an accepted connection, to send the first one. */
static gint64
conn_deadline (TcpConn *c, gboolean *stall)
{
  gint64 at = c->last_activity + (gint64) c->t->tcp_idle_s * G_USEC_PER_SEC;
  gint64 stall_us = (gint64) c->t->tcp_stall_s * G_USEC_PER_SEC;
  *stall = FALSE;
  if (c->partial_since != 0 && c->partial_since + stall_us < at) {
    at = c->partial_since + stall_us;
    *stall = TRUE;
  }
  if (c->accepted && !c->got_message && c->opened + stall_us < at) {
    at = c->opened + stall_us;
    *stall = TRUE;
  }
  /* TLS: the connection and its handshake, either way, within sip.tcp_stall */
  if (!c->secured && c->opened + stall_us < at) {
    at = c->opened + stall_us;
    *stall = TRUE;
  }
  return at;
}

static gboolean
conn_check (gpointer data)
{
  TcpConn *c = data;
  gint64 now = g_get_monotonic_time ();
  gboolean stall;
  g_clear_pointer (&c->timer, g_source_unref);
  if (now >= conn_deadline (c, &stall)) {
    if (stall) {
      c->t->stats.tcp_closed_stalled++;
      if (!c->secured)
        c->t->stats.tls_failed++;
      if (!c->secured && c->t->send_error != NULL && !g_queue_is_empty (&c->out)) {
        g_autoptr (GError) e = g_error_new (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "TLS handshake with %s timed out",
                                            c->name != NULL ? c->name : "the peer");
        c->t->send_error (c->proto, c->remote, e, c->t->send_error_data);
      }
      conn_close (c, !c->secured                      ? "TLS handshake timed out"
                     : c->got_message || !c->accepted ? "stalled mid-message"
                                                      : "no whole message since accepted");
    } else {
      c->t->stats.tcp_closed_idle++;
      conn_close (c, "idle");
    }
  } else {
    conn_arm (c, now);
  }
  return G_SOURCE_REMOVE;
}

/* Sets the timer for the nearest deadline (an hour away at most: it is
 * checked again then), unless it fires before that anyway: traffic only moves
 * deadlines later, but a message begun brings its stall deadline. */
static void
conn_arm (TcpConn *c, gint64 now)
{
  gboolean stall;
  gint64 wait_ms = CLAMP ((conn_deadline (c, &stall) - now + 999) / 1000, 1, 3600 * 1000);
  if (c->timer != NULL && c->timer_at <= now + wait_ms * 1000)
    return;
  conn_timer_clear (c);
  c->timer_at = now + wait_ms * 1000;
  /* On the transport's context, not the global default: a worker's
   * connections are timed by its own thread (docs/workers.md). */
  c->timer = g_timeout_source_new ((guint) wait_ms);
  g_source_set_callback (c->timer, conn_check, c, NULL);
  g_source_attach (c->timer, c->t->context);
}

static TcpConn *
conn_new (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *remote)
{
  TcpConn *c = g_new0 (TcpConn, 1);
  g_ref_count_init (&c->ref);
  c->t = t;
  c->proto = proto;
  c->secured = !proto_is_tls (proto);
  if (proto_is_tls (proto) && t->tls != NULL)
    c->tls = sf_sip_tls_config_ref (t->tls);
  c->id = ++t->next_conn != 0 ? t->next_conn : ++t->next_conn;
  c->remote = g_object_ref (remote);
  c->in = g_byte_array_new ();
  g_queue_init (&c->out);
  c->cancel = g_cancellable_new ();
  c->opened = c->last_activity = g_get_monotonic_time ();
  conn_arm (c, c->opened);
  g_hash_table_insert (t->conns, GUINT_TO_POINTER (c->id), c);
  return c;
}

/* ---- TLS: a TCP connection with a GTlsConnection on top ---- */

/* The peer's certificate failed GIO's checks (the CA database, and for a
 * server its identity against the URI's host): keep the reason for the log
 * and the transaction's error, and refuse it. */
static gboolean
tls_accept_certificate (GTlsConnection *tls, GTlsCertificate *peer, GTlsCertificateFlags errors, gpointer data)
{
  TcpConn *c = data;
  if (c->tls != NULL && !c->tls->verify_server && !c->accepted)
    return TRUE;
  /* a server hears of every client certificate, good or bad: GIO found
   * nothing wrong with this one (trusted by the CA database) */
  if (c->accepted && errors == 0)
    return TRUE;
  g_autofree char *why = sf_sip_tls_flags_to_string (errors);
  g_free (c->tls_why);
  c->tls_why = g_strdup_printf ("%s certificate refused: %s", c->accepted ? "client" : "server", why);
  return FALSE;
}

static void
tls_handshaken (GObject *src, GAsyncResult *res, gpointer data)
{
  TcpConn *c = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = g_tls_connection_handshake_finish (G_TLS_CONNECTION (src), res, &error);
  c->handshaking = FALSE;
  if (c->closed) {
    g_io_stream_close (G_IO_STREAM (c->conn), NULL, NULL);
    conn_unref (c);
    return;
  }
  /* glib-networking's own floor is TLS 1.2, unless GnuTLS's priorities are
   * changed (G_TLS_GNUTLS_PRIORITY, the system's GnuTLS configuration): the
   * floor is checked here whatever they say.  Nothing was sent or read yet. */
  GTlsProtocolVersion version = ok ? g_tls_connection_get_protocol_version (G_TLS_CONNECTION (src)) : G_TLS_PROTOCOL_VERSION_UNKNOWN;
  if (ok && c->tls != NULL && version != G_TLS_PROTOCOL_VERSION_UNKNOWN &&
      version < (c->tls->min_version == 13 ? G_TLS_PROTOCOL_VERSION_TLS_1_3 : G_TLS_PROTOCOL_VERSION_TLS_1_2)) {
    ok = FALSE;
    error = g_error_new (G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE, "the peer does not speak TLS %s (tls.min_version)",
                         c->tls->min_version == 13 ? "1.3" : "1.2");
  }
  if (!ok) {
    g_autofree char *addr = sf_sip_addr_to_string (c->remote);
    g_autofree char *why = g_strdup_printf ("TLS handshake with %s%s%s%s failed: %s", addr, c->name != NULL ? " (" : "",
                                            c->name != NULL ? c->name : "", c->name != NULL ? ")" : "",
                                            c->tls_why != NULL ? c->tls_why : error->message);
    /* A refused certificate is what an operator must see at once; but
     * anyone can fail handshakes with us at will: past SF_SIP_TLS_WARN_PER_S
     * a second, the rest go to debug (all are counted in tls_failed). */
    gint64 second = g_get_monotonic_time () / G_USEC_PER_SEC;
    if (second != c->t->tls_warn_second) {
      c->t->tls_warn_second = second;
      c->t->tls_warned = 0;
    }
    if (++c->t->tls_warned <= SF_SIP_TLS_WARN_PER_S)
      g_warning ("%s%s", why, c->t->tls_warned == SF_SIP_TLS_WARN_PER_S ? " (further failures this second: debug only)" : "");
    else
      g_debug ("%s", why);
    c->t->stats.tls_failed++;
    if (!g_queue_is_empty (&c->out)) {
      c->t->stats.send_errors += g_queue_get_length (&c->out);
      if (c->t->send_error != NULL) {
        g_autoptr (GError) e = g_error_new_literal (G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE, why);
        c->t->send_error (c->proto, c->remote, e, c->t->send_error_data);
      }
    }
    conn_close (c, why);
    conn_unref (c);
    return;
  }
  c->secured = TRUE;
  c->io = G_IO_STREAM (g_object_ref (src));
  conn_arm (c, g_get_monotonic_time ());
  conn_ready (c);
  conn_unref (c);
}

static void
tls_start (TcpConn *c)
{
  g_autoptr (GError) error = NULL;
  GIOStream *tls = NULL;
  if (c->tls == NULL) {
    error = g_error_new_literal (G_TLS_ERROR, G_TLS_ERROR_UNAVAILABLE, "TLS is not configured");
  } else if (c->accepted) {
    tls = g_tls_server_connection_new (G_IO_STREAM (c->conn), c->tls->cert, &error);
    if (tls != NULL)
      g_object_set (tls, "authentication-mode",
                    c->tls->verify_client == SF_SIP_TLS_VERIFY_REQUIRE    ? G_TLS_AUTHENTICATION_REQUIRED
                    : c->tls->verify_client == SF_SIP_TLS_VERIFY_OPTIONAL ? G_TLS_AUTHENTICATION_REQUESTED
                                                                          : G_TLS_AUTHENTICATION_NONE,
                    NULL);
  } else {
    /* RFC 5922: the name checked is the URI's host (given by the sender),
     * else the address itself (its IP subjectAltName) */
    g_autoptr (GSocketConnectable) id = c->name != NULL ? g_network_address_new (c->name, g_inet_socket_address_get_port (c->remote))
                                                        : G_SOCKET_CONNECTABLE (g_object_ref (c->remote));
    tls = g_tls_client_connection_new (G_IO_STREAM (c->conn), id, &error);
    if (tls != NULL && c->tls->cert != NULL)
      g_tls_connection_set_certificate (G_TLS_CONNECTION (tls), c->tls->cert);
  }
  if (tls == NULL) {
    g_warning ("TLS on %s connection %u: %s", c->accepted ? "accepted" : "opened", c->id, error->message);
    c->t->stats.tls_failed++;
    if (!g_queue_is_empty (&c->out) && c->t->send_error != NULL)
      c->t->send_error (c->proto, c->remote, error, c->t->send_error_data);
    conn_close (c, error->message);
    return;
  }
  if (c->tls->db != NULL)
    g_tls_connection_set_database (G_TLS_CONNECTION (tls), c->tls->db);
  /* A peer that closes without close_notify loses nothing: SIP frames by
   * Content-Length, not by the end of the stream. */
  g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (tls_accept_certificate), c);
  g_ref_count_inc (&c->ref);
  c->handshaking = TRUE;
  g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT, c->cancel, tls_handshaken, c);
  g_object_unref (tls); /* the handshake holds it; tls_handshaken keeps it */
}

/* The largest first record of a TLS client: its ClientHello, at most 2^14
 * bytes of plaintext after the 5-byte record header (RFC 8446 5.1). */
#define TLS_HELLO_MAX (5 + 16384)

static void
hello_lowat (GSocket *sock, gint bytes)
{
  /* poll says readable once that much is here: no wake-up for each segment */
  g_socket_set_option (sock, SOL_SOCKET, SO_RCVLOWAT, bytes, NULL);
}

/* An accepted TLS connection's handshake runs in a thread of GIO's pool
 * (about ten, grown by one every tenth of a second or so when all are busy),
 * blocked on the peer until the handshake ends.  Were it started at the
 * accept, connections that send nothing would hold every thread until
 * sip.tcp_stall and every other handshake (and all of GIO's threaded work)
 * would wait behind them.  So the peer's whole first record, its
 * ClientHello, is waited for here, in the main loop, looked at without
 * reading it (MSG_PEEK), and the handshake starts once it is all here.
 * Anything else than a TLS handshake record is closed at once. */
static gboolean
tls_hello_ready (GSocket *sock, GIOCondition cond, gpointer data)
{
  TcpConn *c = data;
  gint fd = g_socket_get_fd (sock);
  guint8 head[5];
  gssize n = recv (fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  if (n <= 0) {
    c->t->stats.tls_failed++;
    conn_close (c, n == 0 ? "closed by the peer before its TLS ClientHello" : g_strerror (errno));
    return G_SOURCE_REMOVE;
  }
  gsize len = n == 5 ? (gsize) head[3] << 8 | head[4] : 0;
  if (head[0] != 0x16 || (n >= 2 && head[1] != 0x03) || (n == 5 && (len == 0 || len + 5 > TLS_HELLO_MAX))) {
    c->t->stats.tls_failed++;
    conn_close (c, "not a TLS ClientHello");
    return G_SOURCE_REMOVE;
  }
  gint avail = 0;
  if (n < 5 || (ioctl (fd, FIONREAD, &avail) == 0 && (gsize) avail < len + 5)) {
    hello_lowat (sock, n < 5 ? 5 : (gint) (len + 5));
    return G_SOURCE_CONTINUE;
  }
  hello_lowat (sock, 1);
  GSource *self = g_steal_pointer (&c->hello);
  g_source_unref (self); /* the dispatch holds it until we return */
  tls_start (c);
  return G_SOURCE_REMOVE;
}

static void
conn_started (TcpConn *c, GSocketConnection *conn)
{
  c->conn = g_object_ref (conn);
  /* No Nagle: a 180 and a 200 written back to back must not wait for the
   * first one's ACK (a delayed ACK holds the second for about 40 ms). */
  g_autoptr (GError) error = NULL;
  if (!g_socket_set_option (g_socket_connection_get_socket (conn), IPPROTO_TCP, TCP_NODELAY, 1, &error))
    g_debug ("TCP_NODELAY: %s", error->message);
  /* The client's timeout bounds the connect only: left on the socket, it would
   * fail a read that waits longer (GSocket times out its sources too), and
   * close a connection we opened after that long without a message, flows and
   * dialogs on it included.  Idle and stalled connections have their own timers. */
  if (!c->accepted)
    g_socket_set_timeout (g_socket_connection_get_socket (conn), 0);
  GSocketAddress *local = g_socket_connection_get_local_address (conn, NULL);
  if (local != NULL && G_IS_INET_SOCKET_ADDRESS (local))
    c->local = G_INET_SOCKET_ADDRESS (local);
  else
    g_clear_object (&local);
  if (proto_is_tls (c->proto) && c->accepted) {
    c->hello = g_socket_create_source (g_socket_connection_get_socket (conn), G_IO_IN, NULL);
    g_source_set_callback (c->hello, G_SOURCE_FUNC (tls_hello_ready), c, NULL);
    g_source_attach (c->hello, c->t->context);
    return;
  }
  if (c->proto == SF_SIP_TLS) {
    tls_start (c);
    return;
  }
  c->io = G_IO_STREAM (g_object_ref (conn));
  conn_ready (c);
}

/* Queues @wire; a peer that does not read what it is sent goes. */
static gboolean
conn_queue (TcpConn *c, GBytes *wire, GError **error)
{
  if (sf_sip_proto_is_ws (c->proto))
    return ws_queue (c, wire, error);
  if (c->pending + g_bytes_get_size (wire) > SF_SIP_TCP_MAX_PENDING) {
    c->t->stats.send_errors++;
    conn_close (c, "too much unread output");
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "TCP peer does not read: connection closed");
    return FALSE;
  }
  g_queue_push_tail (&c->out, g_bytes_ref (wire));
  c->pending += g_bytes_get_size (wire);
  tcp_write_next (c);
  return TRUE;
}

/* Frames and delivers every whole message in the buffer.  Between messages,
 * CR and LF are keep-alives: a double CRLF is a ping, answered by one CRLF, the
 * pong (RFC 5626 4.4.1, 5.4: at once, on the same connection); it extends the
 * connection's idle time only when it carries a registered flow
 * (sf_sip_transport_mark_flow).  Idle time otherwise counts from the last whole
 * message, so keep-alives alone cannot hold a connection open. */
static void
tcp_consume (TcpConn *c)
{
  guint pings = 0, taken = 0;
  gint64 now = g_get_monotonic_time ();
  while (!c->closed && c->in->len > 0) {
    if (c->partial_since == 0) {
      guint k = 0;
      for (; k < c->in->len && (c->in->data[k] == '\r' || c->in->data[k] == '\n'); k++)
        if (c->in->data[k] == '\n' && ++c->lf_run == 2) {
          pings++;
          c->lf_run = 0;
        }
      g_byte_array_remove_range (c->in, 0, k);
      if (c->in->len == 0)
        break;
      /* A message begins: it has sip.tcp_stall to be whole. */
      c->lf_run = 0;
      c->partial_since = now;
      conn_arm (c, now);
    }
    gsize skip = 0, len = 0;
    g_autoptr (GError) error = NULL;
    if (!sf_sip_stream_frame ((const char *) c->in->data, c->in->len, &skip, &len, &error)) {
      if (g_error_matches (error, SF_SIP_ERROR, SF_SIP_ERROR_INCOMPLETE))
        break;
      /* The stream cannot be framed any more: nothing after this can be trusted. */
      c->t->stats.dropped++;
      conn_close (c, error->message);
      break;
    }
    g_autoptr (GBytes) b = g_bytes_new (c->in->data + skip, len);
    g_byte_array_remove_range (c->in, 0, (guint) (skip + len));
    c->partial_since = 0;
    c->got_message = TRUE;
    c->last_activity = now;
    SfSipPeer from = { c->proto, c->local, c->remote, c->id };
    g_ref_count_inc (&c->ref); /* the receiver may close us */
    receive_bytes (c->t, b, &from);
    steer_flush (c->t);
    taken++;
    conn_unref (c);
  }
  if (pings > 0 && !c->closed) {
    static const char pong[] = "\r\n";
    g_autoptr (GBytes) b = g_bytes_new_static (pong, 2);
    c->t->stats.tcp_pongs++;
    if (c->flow_until > now)
      c->last_activity = now;
    conn_queue (c, b, NULL);
  }
  if (taken > 0)
    read_done (c->t);
}

static void
tcp_on_read (GObject *src, GAsyncResult *res, gpointer data)
{
  TcpConn *c = data;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, &error);
  if (c->closed) {
    conn_unref (c);
    return;
  }
  if (n <= 0) {
    conn_close (c, n == 0 ? "closed by the peer" : error->message);
    conn_unref (c);
    return;
  }
  g_byte_array_append (c->in, c->buf, (guint) n);
  tcp_consume (c);
  if (!c->closed)
    tcp_read (c);
  conn_unref (c);
}

static void
tcp_read (TcpConn *c)
{
  g_ref_count_inc (&c->ref);
  g_input_stream_read_async (g_io_stream_get_input_stream (c->io), c->buf, sizeof c->buf,
                             G_PRIORITY_DEFAULT, c->cancel, tcp_on_read, c);
}

static void
tcp_on_written (GObject *src, GAsyncResult *res, gpointer data)
{
  TcpConn *c = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, &error);
  c->writing = FALSE;
  if (!c->closed) {
    if (!ok) {
      c->t->stats.send_errors++;
      if (c->t->send_error != NULL)
        c->t->send_error (c->proto, c->remote, error, c->t->send_error_data);
      conn_close (c, error->message);
    } else {
      GBytes *done = g_queue_pop_head (&c->out);
      c->pending -= g_bytes_get_size (done);
      g_bytes_unref (done);
      if (!g_queue_is_empty (&c->out))
        tcp_write_next (c);
    }
  }
  conn_unref (c);
}

static void
tcp_write_next (TcpConn *c)
{
  if (c->writing || c->io == NULL || c->closed)
    return;
  GBytes *head = g_queue_peek_head (&c->out);
  gsize len;
  const char *d = g_bytes_get_data (head, &len);
  c->writing = TRUE;
  g_ref_count_inc (&c->ref);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (c->io), d, len, G_PRIORITY_DEFAULT,
                                   c->cancel, tcp_on_written, c);
}

static gboolean
tcp_incoming (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
  SfSipTransport *t = data;
  g_autoptr (GSocketAddress) remote = g_socket_connection_get_remote_address (conn, NULL);
  if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS (remote)) {
    g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
    return TRUE;
  }
  /* No source may hold every slot: at most sip.tcp_max_per_source accepted
   * connections from one IP address, sip.tcp_max_connections in all; one more
   * is closed as soon as it is accepted (the kernel completed its handshake). */
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  guint from_ip = GPOINTER_TO_UINT (g_hash_table_lookup (t->per_source, ip));
  if (g_hash_table_size (t->conns) >= t->tcp_max_conns || from_ip >= t->tcp_max_per_source) {
    g_debug ("tcp connection from %s refused: %u open from it, %u in all", ip, from_ip, g_hash_table_size (t->conns));
    t->stats.tcp_refused++;
    g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
    return TRUE;
  }
  TcpConn *c = conn_new (t, GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (service), "sf-proto")),
                         G_INET_SOCKET_ADDRESS (remote));
  c->accepted = TRUE;
  c->source = g_steal_pointer (&ip);
  g_hash_table_insert (t->per_source, g_strdup (c->source), GUINT_TO_POINTER (from_ip + 1));
  conn_arm (c, c->opened); /* the first message's deadline */
  t->stats.tcp_accepted++;
  conn_started (c, conn);
  return TRUE;
}

static void
tcp_on_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  TcpConn *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) conn = g_socket_client_connect_finish (G_SOCKET_CLIENT (src), res, &error);
  if (!c->closed) {
    if (conn == NULL) {
      c->t->stats.send_errors += g_queue_get_length (&c->out);
      if (c->t->send_error != NULL)
        c->t->send_error (c->proto, c->remote, error, c->t->send_error_data);
      conn_close (c, error->message);
    } else {
      c->t->stats.tcp_connected++;
      conn_started (c, conn);
    }
  }
  conn_unref (c);
}

static gboolean
same_addr (GInetSocketAddress *a, GInetSocketAddress *b)
{
  return g_inet_socket_address_get_port (a) == g_inet_socket_address_get_port (b) &&
         g_inet_address_equal (g_inet_socket_address_get_address (a), g_inet_socket_address_get_address (b));
}

/* An open connection to @dest (any stream protocol: SF_SIP_UDP).  A TLS
 * connection we opened is reused for a request to the same name only (its
 * certificate was checked against that name); one accepted, for any (the
 * peer's requests and our answers share it, as over TCP). */
static TcpConn *
conn_to_full (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *dest, const char *name)
{
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, t->conns);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    TcpConn *c = v;
    if (!same_addr (c->remote, dest) || (proto != SF_SIP_UDP && c->proto != proto))
      continue;
    if (c->proto == SF_SIP_TLS && !c->accepted && name != NULL && g_ascii_strcasecmp (name, c->name != NULL ? c->name : "") != 0)
      continue;
    return c;
  }
  return NULL;
}

static TcpConn *
conn_to (SfSipTransport *t, GInetSocketAddress *dest)
{
  return conn_to_full (t, SF_SIP_UDP, dest, NULL);
}

/* The source address the kernel would pick to reach @dest (a UDP socket
 * connected, which sends nothing), or NULL. */
static GInetAddress *
kernel_source (GInetSocketAddress *dest)
{
  GSocketFamily family = g_socket_address_get_family (G_SOCKET_ADDRESS (dest));
  g_autoptr (GSocket) probe = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  if (probe == NULL || !g_socket_connect (probe, G_SOCKET_ADDRESS (dest), NULL, NULL))
    return NULL;
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (probe, NULL);
  return local != NULL ? g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local))) : NULL;
}

/* The client a connection to @dest is opened with.  When the node listens
 * for TCP on specific addresses (not 0.0.0.0 or ::) and the address the
 * kernel would pick to reach @dest is none of them, the connection is bound
 * to the first of them that can reach @dest (same family; a loopback address
 * only toward loopback): on a host of several addresses the peer then sees
 * the source the node's Via names (else a proxy takes it for a client behind
 * NAT, sf-nat.h) and a trusted-network rule written for the listening
 * address holds.  When the kernel's pick is one of them (a host listening on
 * a private and a public address, reaching the public side), or nothing
 * fits, the kernel's choice. */
static GSocketClient *
client_for (SfSipTransport *t, GInetSocketAddress *dest)
{
  GInetAddress *to = g_inet_socket_address_get_address (dest);
  gint pick = -1;
  for (guint i = 0; i < t->tcp_bound->len && pick < 0; i++) {
    GInetAddress *from = g_inet_socket_address_get_address (t->tcp_bound->pdata[i]);
    if (g_inet_address_get_family (from) != g_inet_address_get_family (to) || g_inet_address_get_is_any (from))
      continue;
    if (g_inet_address_get_is_loopback (from) && !g_inet_address_get_is_loopback (to))
      continue;
    pick = (gint) i;
  }
  if (pick < 0)
    return t->client;
  g_autoptr (GInetAddress) src = kernel_source (dest);
  for (guint i = 0; src != NULL && i < t->tcp_bound->len; i++)
    if (g_inet_address_equal (src, g_inet_socket_address_get_address (t->tcp_bound->pdata[i])))
      return t->client;
  if (t->tcp_clients->pdata[pick] == NULL) {
    GInetAddress *from = g_inet_socket_address_get_address (t->tcp_bound->pdata[pick]);
    g_autoptr (GSocketAddress) local = g_inet_socket_address_new (from, 0);
    GSocketClient *c = g_socket_client_new ();
    g_socket_client_set_timeout (c, t->tcp_stall_s);
    g_socket_client_set_local_address (c, local);
    t->tcp_clients->pdata[pick] = c;
  }
  return t->tcp_clients->pdata[pick];
}

gboolean
sf_sip_transport_tcp_open (SfSipTransport *t, GInetSocketAddress *dest)
{
  return dest != NULL && conn_to (t, dest) != NULL;
}

guint
sf_sip_transport_tcp_conn_to (SfSipTransport *t, GInetSocketAddress *dest)
{
  TcpConn *c = dest != NULL ? conn_to (t, dest) : NULL;
  return c != NULL && !c->closed ? c->id : 0;
}

guint32
sf_sip_transport_boot (SfSipTransport *t)
{
  return t->boot;
}

gboolean
sf_sip_transport_tcp_flow (SfSipTransport *t, guint32 boot, guint conn, GInetSocketAddress *remote)
{
  if (boot != t->boot || conn == 0 || remote == NULL)
    return FALSE;
  TcpConn *c = g_hash_table_lookup (t->conns, GUINT_TO_POINTER (conn));
  /* the one a request to @remote goes over (tcp_send: conn_to), open */
  return c != NULL && !c->closed && c->conn != NULL && same_addr (c->remote, remote) && conn_to (t, remote) == c;
}

static gboolean
tcp_send (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *dest, guint conn, const char *name, GBytes *wire,
          GError **error)
{
  if (filtered (t, proto, dest, wire, error))
    return FALSE;
  TcpConn *c = conn != 0 ? g_hash_table_lookup (t->conns, GUINT_TO_POINTER (conn)) : NULL;
  if (c != NULL && c->proto != proto)
    c = NULL;
  if (c == NULL && dest != NULL)
    c = conn_to_full (t, proto, dest, name); /* 18: reuse an open connection to the same address */
  if (c == NULL) {
    if (dest == NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the %s connection is closed and there is no address",
                   sf_sip_proto_via (proto));
      return FALSE;
    }
    if (sf_sip_proto_is_ws (proto)) {
      /* RFC 7118: the client opens the connection; a flow gone is gone */
      t->stats.send_errors++;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "no %s connection from that address (a WebSocket peer cannot be connected to)",
                   sf_sip_proto_via (proto));
      return FALSE;
    }
    if (proto == SF_SIP_TLS && t->tls == NULL) {
      t->stats.send_errors++;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "TLS is not configured (no [tls] section)");
      return FALSE;
    }
    c = conn_new (t, proto, dest);
    c->name = g_strdup (name);
    g_ref_count_inc (&c->ref);
    g_socket_client_connect_async (client_for (t, dest), G_SOCKET_CONNECTABLE (dest), c->cancel, tcp_on_connected, c);
  }
  if (!conn_queue (c, wire, error))
    return FALSE;
  c->last_activity = g_get_monotonic_time (); /* a whole message out */
  t->stats.sent++;
  {
    gsize wl;
    const char *wd = g_bytes_get_data (wire, &wl);
    count_message (t->stats.requests_out, t->stats.responses_out, wd, wl);
  }
  if (t->tap != NULL)
    t->tap (SF_SIP_TAP_OUT, c->proto, c->local, c->remote, NULL, wire, t->tap_data);
  return TRUE;
}

/* ---- WebSocket (RFC 7118): a connection accepted as TCP's or TLS's, upgraded by libsoup ---- */

/* What libsoup reads of a WebSocket connection passes through this
 * converter, which counts it: past SF_SIP_WS_MAX_UNREAD bytes since the last
 * whole message (reset by ws_on_message) the read fails and libsoup closes
 * the connection.  libsoup 3.2 limits one frame's payload, not a message
 * in fragments, nor an HTTP request's body: both it would keep in memory
 * whatever their size. */
#define SF_SIP_WS_MAX_UNREAD (4 * SF_SIP_MAX_MSG_SIZE)

typedef struct _SfWsBudget {
  GObject parent;
  gsize used;
} SfWsBudget;
typedef GObjectClass SfWsBudgetClass;

GType sf_ws_budget_get_type (void); /* not exported: the library's version script */
static void sf_ws_budget_iface_init (GConverterIface *iface);
G_DEFINE_TYPE_WITH_CODE (SfWsBudget, sf_ws_budget, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (G_TYPE_CONVERTER, sf_ws_budget_iface_init))

static GConverterResult
sf_ws_budget_convert (GConverter *converter, const void *inbuf, gsize inbuf_size, void *outbuf, gsize outbuf_size,
                      GConverterFlags flags, gsize *bytes_read, gsize *bytes_written, GError **error)
{
  SfWsBudget *b = (SfWsBudget *) converter;
  gsize n = MIN (inbuf_size, outbuf_size);
  if (b->used + n > SF_SIP_WS_MAX_UNREAD) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE, "over %u bytes without a whole message", SF_SIP_WS_MAX_UNREAD);
    return G_CONVERTER_ERROR;
  }
  if (n == 0 && inbuf_size > 0) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "no room");
    return G_CONVERTER_ERROR;
  }
  memcpy (outbuf, inbuf, n);
  b->used += n;
  *bytes_read = *bytes_written = n;
  if (n == inbuf_size && (flags & G_CONVERTER_INPUT_AT_END) != 0)
    return G_CONVERTER_FINISHED;
  if (n == inbuf_size && (flags & G_CONVERTER_FLUSH) != 0)
    return G_CONVERTER_FLUSHED;
  return G_CONVERTER_CONVERTED;
}

static void
sf_ws_budget_reset (GConverter *converter)
{
  ((SfWsBudget *) converter)->used = 0;
}

static void
sf_ws_budget_iface_init (GConverterIface *iface)
{
  iface->convert = sf_ws_budget_convert;
  iface->reset = sf_ws_budget_reset;
}

static void
sf_ws_budget_class_init (SfWsBudgetClass *klass)
{
}

static void
sf_ws_budget_init (SfWsBudget *b)
{
}

/* What libsoup writes to a WebSocket connection goes into this stream's
 * buffer at once (it is always writable: libsoup's own queue of frames has no
 * bound and stays empty), and from there to the connection as fast as the
 * peer reads.  Past SF_SIP_TCP_MAX_PENDING unwritten bytes a write fails:
 * libsoup closes the connection, as a TCP peer that does not read is closed
 * (conn_queue).  That bounds the pongs to a ping flood as well as our
 * messages: libsoup answers every ping, and would queue the pongs of a peer
 * that sends pings and never reads. */
typedef struct _SfWsOut {
  GOutputStream parent;
  GOutputStream *base;          /* owned: the connection's output */
  GByteArray *buf;              /* owned: written by libsoup, not yet to @base */
  GCancellable *cancel;         /* owned: the write to @base in progress */
  gboolean writing;
  gboolean overflowed;          /* a write refused: the peer does not read */
  GError *error;                /* owned, nullable: the write to @base failed */
} SfWsOut;
typedef GOutputStreamClass SfWsOutClass;

GType sf_ws_out_get_type (void); /* not exported: the library's version script */
static void sf_ws_out_pollable_init (GPollableOutputStreamInterface *iface);
G_DEFINE_TYPE_WITH_CODE (SfWsOut, sf_ws_out, G_TYPE_OUTPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM, sf_ws_out_pollable_init))

static void ws_out_flush_some (SfWsOut *o);

static void
ws_out_wrote (GObject *src, GAsyncResult *res, gpointer data)
{
  SfWsOut *o = data;
  g_autoptr (GError) error = NULL;
  gssize n = g_output_stream_write_finish (G_OUTPUT_STREAM (src), res, &error);
  o->writing = FALSE;
  if (n < 0) {
    if (o->error == NULL)
      o->error = g_steal_pointer (&error);
    g_byte_array_set_size (o->buf, 0);
  } else {
    g_byte_array_remove_range (o->buf, 0, (guint) n);
    ws_out_flush_some (o);
  }
  g_object_unref (o);
}

static void
ws_out_flush_some (SfWsOut *o)
{
  if (o->writing || o->buf->len == 0 || o->error != NULL || g_cancellable_is_cancelled (o->cancel))
    return;
  /* a copy: libsoup's next write may move the buffer */
  gsize n = MIN (o->buf->len, (guint) 65536);
  GBytes *chunk = g_bytes_new (o->buf->data, n);
  o->writing = TRUE;
  g_output_stream_write_async (o->base, g_bytes_get_data (chunk, NULL), n, G_PRIORITY_DEFAULT, o->cancel, ws_out_wrote,
                               g_object_ref (o));
  /* held by the task until it completes */
  g_object_set_data_full (G_OBJECT (o), "chunk", chunk, (GDestroyNotify) g_bytes_unref);
}

static gssize
ws_out_write_nonblocking (GPollableOutputStream *stream, const void *buffer, gsize count, GError **error)
{
  SfWsOut *o = (SfWsOut *) stream;
  if (o->error != NULL) {
    g_propagate_error (error, g_error_copy (o->error));
    return -1;
  }
  if (o->buf->len + count > SF_SIP_TCP_MAX_PENDING) {
    o->overflowed = TRUE;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "over %u bytes the peer has not read", SF_SIP_TCP_MAX_PENDING);
    return -1;
  }
  g_byte_array_append (o->buf, buffer, (guint) count);
  ws_out_flush_some (o);
  return (gssize) count;
}

static gssize
ws_out_write (GOutputStream *stream, const void *buffer, gsize count, GCancellable *cancellable, GError **error)
{
  return ws_out_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (stream), buffer, count, error);
}

static gboolean
ws_out_is_writable (GPollableOutputStream *stream)
{
  return TRUE;
}

static GSource *
ws_out_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  GSource *s = g_pollable_source_new (G_OBJECT (stream));
  g_source_set_ready_time (s, 0); /* always writable */
  return s;
}

/* Closing (libsoup, after the close handshake or its timeout): what the peer
 * can take now goes, the rest is dropped (a peer that does not read must not
 * hold the connection), then @base closes. */
static void
ws_out_last_write (SfWsOut *o)
{
  g_cancellable_cancel (o->cancel);
  if (!o->writing && o->error == NULL && o->buf->len > 0 && G_IS_POLLABLE_OUTPUT_STREAM (o->base))
    g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (o->base), o->buf->data, o->buf->len, NULL, NULL);
  g_byte_array_set_size (o->buf, 0);
}

static gboolean
ws_out_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  ws_out_last_write ((SfWsOut *) stream);
  return TRUE;
}

static void
ws_out_base_closed (GObject *src, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  g_output_stream_close_finish (G_OUTPUT_STREAM (src), res, NULL);
  g_task_return_boolean (task, TRUE);
}

static void
ws_out_close_async (GOutputStream *stream, int prio, GCancellable *cancellable, GAsyncReadyCallback cb, gpointer data)
{
  SfWsOut *o = (SfWsOut *) stream;
  GTask *task = g_task_new (stream, cancellable, cb, data);
  ws_out_last_write (o);
  g_output_stream_close_async (o->base, prio, NULL, ws_out_base_closed, task);
}

static gboolean
ws_out_close_finish (GOutputStream *stream, GAsyncResult *res, GError **error)
{
  return g_task_propagate_boolean (G_TASK (res), error);
}

static void
ws_out_flush_async (GOutputStream *stream, int prio, GCancellable *cancellable, GAsyncReadyCallback cb, gpointer data)
{
  /* nothing to wait for: the buffer drains on its own */
  g_autoptr (GTask) task = g_task_new (stream, cancellable, cb, data);
  g_task_return_boolean (task, TRUE);
}

static gboolean
ws_out_flush_finish (GOutputStream *stream, GAsyncResult *res, GError **error)
{
  return g_task_propagate_boolean (G_TASK (res), error);
}

static void
sf_ws_out_finalize (GObject *obj)
{
  SfWsOut *o = (SfWsOut *) obj;
  g_byte_array_unref (o->buf);
  g_clear_object (&o->cancel);
  g_clear_object (&o->base);
  g_clear_error (&o->error);
  G_OBJECT_CLASS (sf_ws_out_parent_class)->finalize (obj);
}

static void
sf_ws_out_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->is_writable = ws_out_is_writable;
  iface->create_source = ws_out_create_source;
  iface->write_nonblocking = ws_out_write_nonblocking;
}

static void
sf_ws_out_class_init (SfWsOutClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = sf_ws_out_finalize;
  klass->write_fn = ws_out_write;
  klass->close_fn = ws_out_close;
  klass->close_async = ws_out_close_async;
  klass->close_finish = ws_out_close_finish;
  klass->flush_async = ws_out_flush_async;
  klass->flush_finish = ws_out_flush_finish;
}

static void
sf_ws_out_init (SfWsOut *o)
{
  o->buf = g_byte_array_new ();
  o->cancel = g_cancellable_new ();
}

static SfWsOut *
sf_ws_out_new (GOutputStream *base)
{
  SfWsOut *o = g_object_new (sf_ws_out_get_type (), NULL);
  o->base = g_object_ref (base);
  return o;
}

/* The connection's stream is ready (accepted, TLS done): SIP reads it, or
 * for WS and WSS libsoup's server reads the HTTP upgrade from it (this
 * connection's stall deadline runs meanwhile: no whole SIP message yet). */
static void
conn_ready (TcpConn *c)
{
  if (sf_sip_proto_is_ws (c->proto)) {
    g_autoptr (GError) error = NULL;
    c->budget = g_object_new (sf_ws_budget_get_type (), NULL);
    g_autoptr (GInputStream) in = g_converter_input_stream_new (g_io_stream_get_input_stream (c->io), G_CONVERTER (c->budget));
    c->out_ws = sf_ws_out_new (g_io_stream_get_output_stream (c->io));
    g_autoptr (GIOStream) io = g_simple_io_stream_new (in, G_OUTPUT_STREAM (c->out_ws));
    if (!soup_server_accept_iostream (c->t->soup, io, G_SOCKET_ADDRESS (c->local), G_SOCKET_ADDRESS (c->remote), &error))
      conn_close (c, error->message);
    return;
  }
  tcp_read (c);
  if (!g_queue_is_empty (&c->out))
    tcp_write_next (c);
}

/* RFC 7118 4.2: a text frame for a message that is UTF-8, a binary one else
 * (a body in another encoding).  libsoup queues what it cannot write yet. */
static gboolean
ws_queue (TcpConn *c, GBytes *wire, GError **error)
{
  if (c->ws == NULL || soup_websocket_connection_get_state (c->ws) != SOUP_WEBSOCKET_STATE_OPEN) {
    c->t->stats.send_errors++;
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the %s connection is not open", sf_sip_proto_via (c->proto));
    return FALSE;
  }
  gsize len;
  const char *d = g_bytes_get_data (wire, &len);
  if (c->out_ws->buf->len + len + 14 > SF_SIP_TCP_MAX_PENDING) {
    /* 14: a frame header's most */
    c->t->stats.send_errors++;
    c->ws_close = SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION;
    conn_close (c, "too much unread output");
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE, "%s peer does not read: connection closed", sf_sip_proto_via (c->proto));
    return FALSE;
  }
  if (g_utf8_validate_len (d, len, NULL) && memchr (d, '\0', len) == NULL) {
    g_autofree char *text = g_strndup (d, len);
    soup_websocket_connection_send_text (c->ws, text);
  } else {
    soup_websocket_connection_send_binary (c->ws, d, len);
  }
  return TRUE;
}

/* The connection a request libsoup read came over (its remote address is the
 * one conn_ready gave it: one accepted connection each). */
static TcpConn *
ws_conn_of (SfSipTransport *t, SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);
  if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS (remote))
    return NULL;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, t->conns);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    TcpConn *c = v;
    if (c->accepted && sf_sip_proto_is_ws (c->proto) && !c->closed && c->ws == NULL &&
        same_addr (c->remote, G_INET_SOCKET_ADDRESS (remote)))
      return c;
  }
  return NULL;
}

/* Does the comma-separated token list @list hold @token (exactly)? */
static gboolean
list_has (const char *list, const char *token)
{
  if (list == NULL)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (list, ",", -1);
  for (char **p = parts; *p != NULL; p++)
    if (strcmp (g_strstrip (*p), token) == 0)
      return TRUE;
  return FALSE;
}

/* The upgrade's headers and body are read: refuse it (400, 403), counted in
 * ws_refused, unless it is a WebSocket handshake for the `sip` subprotocol
 * from an allowed Origin.  libsoup itself would let in a client that names no
 * subprotocol; RFC 7118 4.1 has the server refuse it.  After an answer libsoup
 * closes the connection (it keeps none open: it listens on nothing). */
static void
ws_request_read (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  SfSipTransport *t = data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *protocols = soup_message_headers_get_one (h, "Sec-WebSocket-Protocol");
  const char *origin = soup_message_headers_get_one (h, "Origin");
  static const char *const sip_only[] = { "sip", NULL };
  g_autoptr (GError) error = NULL;
  guint status = 0;
  const char *why = NULL;
  if (!soup_websocket_server_check_handshake (msg, NULL, (char **) sip_only, NULL, &error)) {
    status = SOUP_STATUS_BAD_REQUEST;
    why = "Not A WebSocket Handshake";
  } else if (!list_has (protocols, "sip")) {
    status = SOUP_STATUS_BAD_REQUEST;
    why = "WebSocket Subprotocol sip Required";
  } else if (origin != NULL && t->ws_origins != NULL) {
    gboolean ok = FALSE;
    for (char **o = t->ws_origins; *o != NULL && !ok; o++)
      ok = strcmp (*o, "*") == 0 || g_ascii_strcasecmp (*o, origin) == 0;
    if (!ok) {
      status = SOUP_STATUS_FORBIDDEN;
      why = "Origin Not Allowed";
    }
  }
  if (status == 0)
    return;
  t->stats.ws_refused++;
  g_autofree char *from = sf_sip_addr_to_string (G_INET_SOCKET_ADDRESS (soup_server_message_get_remote_address (msg)));
  g_debug ("WebSocket upgrade from %s refused: %s%s%s", from, why, error != NULL ? ": " : "", error != NULL ? error->message : "");
  soup_server_message_set_status (msg, status, why);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
}

static void
ws_on_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  TcpConn *c = data;
  if (c->closed)
    return;
  gint64 now = g_get_monotonic_time ();
  c->got_message = TRUE;
  c->last_activity = now;
  c->budget->used = 0;
  if (g_bytes_get_size (message) > SF_SIP_MAX_MSG_SIZE) {
    /* in fragments, each under the frame limit: the same refusal as one frame's */
    c->t->stats.dropped++;
    c->ws_close = SOUP_WEBSOCKET_CLOSE_TOO_BIG;
    conn_close (c, "a message over the size limit");
    return;
  }
  SfSipPeer from = { c->proto, c->local, c->remote, c->id };
  g_ref_count_inc (&c->ref); /* the receiver may close us */
  receive_bytes (c->t, message, &from);
  steer_flush (c->t);
  if (!c->closed)
    conn_arm (c, now);
  read_done (c->t);
  conn_unref (c);
}

/* A pong to libsoup's pings (every half sip.tcp_idle) keeps a registered
 * flow's connection open, as a CRLF keep-alive does over TCP (RFC 5626 4.4.1);
 * other connections close after sip.tcp_idle without a whole message. */
static void
ws_on_pong (SoupWebsocketConnection *ws, GBytes *message, gpointer data)
{
  TcpConn *c = data;
  gint64 now = g_get_monotonic_time ();
  if (!c->closed && c->flow_until > now)
    c->last_activity = now;
}

/* A frame libsoup refused (over the size limit: close 1009; a text frame
 * not UTF-8: 1007; a protocol error: 1002), or a write SfWsOut refused
 * (the peer does not read): libsoup closes the connection. */
static void
ws_on_error (SoupWebsocketConnection *ws, GError *error, gpointer data)
{
  TcpConn *c = data;
  g_autofree char *from = sf_sip_addr_to_string (c->remote);
  g_debug ("%s connection %u from %s: %s", sf_sip_proto_name (c->proto), c->id, from, error->message);
  if (c->out_ws != NULL && c->out_ws->overflowed)
    c->t->stats.send_errors++; /* pongs the peer does not read (SfWsOut) */
  else
    c->t->stats.dropped++;
}

static void
ws_on_closed (SoupWebsocketConnection *ws, gpointer data)
{
  TcpConn *c = data;
  g_autofree char *why = g_strdup_printf ("closed (WebSocket close code %u)", soup_websocket_connection_get_close_code (ws));
  conn_close (c, why);
}

static void
ws_upgraded (SoupServer *server, SoupServerMessage *msg, const char *path, SoupWebsocketConnection *ws, gpointer data)
{
  SfSipTransport *t = data;
  TcpConn *c = ws_conn_of (t, msg);
  if (c == NULL) {
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    return;
  }
  c->ws = g_object_ref (ws);
  /* a WebSocket handshake done is the first whole message: from now on
   * sip.tcp_idle, not sip.tcp_stall (a browser that does not register sends
   * nothing until it calls) */
  c->got_message = TRUE;
  c->last_activity = g_get_monotonic_time ();
  /* the same message size limit as every transport's */
  soup_websocket_connection_set_max_incoming_payload_size (ws, SF_SIP_MAX_MSG_SIZE);
  soup_websocket_connection_set_keepalive_interval (ws, MAX (t->tcp_idle_s / 2, 1));
  g_signal_connect (ws, "message", G_CALLBACK (ws_on_message), c);
  g_signal_connect (ws, "pong", G_CALLBACK (ws_on_pong), c);
  g_signal_connect (ws, "error", G_CALLBACK (ws_on_error), c);
  g_signal_connect (ws, "closed", G_CALLBACK (ws_on_closed), c);
}

/* libsoup's server, made once: it never listens (conn_ready hands it the
 * connections accepted under the TCP limits and TLS settings), takes every
 * path, and has no permessage-deflate (a compressed frame would inflate past
 * what its size says: SIP messages are small anyway). */
static void
ws_server (SfSipTransport *t)
{
  if (t->soup != NULL)
    return;
  t->soup = soup_server_new (NULL, NULL);
  soup_server_remove_websocket_extension (t->soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  static const char *const sip_only[] = { "sip", NULL };
  soup_server_add_websocket_handler (t->soup, NULL, NULL, (char **) sip_only, ws_upgraded, t, NULL);
  g_signal_connect (t->soup, "request-read", G_CALLBACK (ws_request_read), t);
}

void
sf_sip_transport_set_ws_origins (SfSipTransport *t, const char *const *origins)
{
  g_strfreev (t->ws_origins);
  t->ws_origins = NULL;
  for (const char *const *o = origins; o != NULL && *o != NULL; o++)
    if (strcmp (*o, "*") == 0)
      return;
  if (origins != NULL && origins[0] != NULL)
    t->ws_origins = g_strdupv ((char **) origins);
}

/* ---- the transport ---- */

/* tcp_clients' free function: a slot stays NULL until client_for needs it */
static void
client_unref (gpointer client)
{
  if (client != NULL)
    g_object_unref (client);
}

SfSipTransport *
sf_sip_transport_new (GMainContext *context, SfSipRecvFunc recv, gpointer data)
{
  SfSipTransport *t = g_new0 (SfSipTransport, 1);
  t->context = context;
  t->recv = recv;
  t->data = data;
  t->udp = g_ptr_array_new_with_free_func ((GDestroyNotify) udp_free);
  t->services = g_ptr_array_new ();
  t->tcp_bound = g_ptr_array_new_with_free_func (g_object_unref);
  t->tcp_protos = g_array_new (FALSE, FALSE, sizeof (SfSipProto));
  t->tcp_clients = g_ptr_array_new_with_free_func (client_unref);
  t->conns = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) conn_unref);
  t->client = g_socket_client_new ();
  t->tcp_idle_s = SF_SIP_TCP_IDLE_S;
  t->tcp_stall_s = SF_SIP_TCP_STALL_S;
  t->udp_max = SF_SIP_MAX_MSG_SIZE;
  g_socket_client_set_timeout (t->client, t->tcp_stall_s);
  t->tcp_max_per_source = SF_SIP_TCP_MAX_PER_SOURCE;
  t->tcp_max_conns = SF_SIP_TCP_MAX_CONNS;
  t->per_source = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  t->flush = g_source_new (&udp_flush_funcs, sizeof (UdpFlushSource));
  ((UdpFlushSource *) t->flush)->t = t;
  /* first of the context's sources: GLib prepares no source of a lower
   * priority than one already ready */
  g_source_set_priority (t->flush, G_MININT);
  g_source_set_name (t->flush, "sipflow UDP flush");
  g_source_attach (t->flush, context);
  do
    t->boot = (guint32) sf_sip_random_u64 ();
  while (t->boot == 0);
  return t;
}

void
sf_sip_transport_free (SfSipTransport *t)
{
  if (t == NULL)
    return;
  t->udp_failed = NULL; /* the stack goes first: what fails now is only counted */
  udp_flush (t);
  g_source_destroy (t->flush);
  g_source_unref (t->flush);
  g_autoptr (GList) conns = g_hash_table_get_values (t->conns);
  for (GList *l = conns; l != NULL; l = l->next)
    conn_close (l->data, "shutdown");
  for (guint i = 0; i < t->services->len; i++) {
    GSocketService *s = t->services->pdata[i];
    g_socket_service_stop (s);
    g_socket_listener_close (G_SOCKET_LISTENER (s));
    g_object_unref (s);
  }
  g_ptr_array_unref (t->services);
  g_clear_object (&t->soup);
  g_strfreev (t->ws_origins);
  g_ptr_array_unref (t->tcp_clients);
  g_ptr_array_unref (t->tcp_bound);
  g_array_unref (t->tcp_protos);
  g_clear_pointer (&t->tls, sf_sip_tls_config_unref);
  g_ptr_array_unref (t->udp);
  g_hash_table_unref (t->conns);
  g_hash_table_unref (t->per_source);
  g_object_unref (t->client);
  g_free (t);
}

void
sf_sip_transport_set_send_error (SfSipTransport *t, SfSipSendErrorFunc func, gpointer data)
{
  t->send_error = func;
  t->send_error_data = data;
}

void
sf_sip_transport_set_flow_closed (SfSipTransport *t, SfSipFlowClosedFunc func, gpointer data)
{
  t->flow_closed = func;
  t->flow_closed_data = data;
}

void
sf_sip_transport_set_tls (SfSipTransport *t, SfSipTlsConfig *tls)
{
  SfSipTlsConfig *old = t->tls;
  t->tls = tls != NULL ? sf_sip_tls_config_ref (tls) : NULL;
  if (old != NULL)
    sf_sip_tls_config_unref (old);
}

void
sf_sip_transport_set_tap (SfSipTransport *t, SfSipTapFunc func, gpointer data)
{
  t->tap = func;
  t->tap_data = data;
}

void
sf_sip_transport_set_tcp_idle (SfSipTransport *t, guint seconds)
{
  t->tcp_idle_s = CLAMP (seconds, 1, 86400);
}

void
sf_sip_transport_set_tcp_limits (SfSipTransport *t, guint stall_s, guint max_per_source, guint max_conns)
{
  t->tcp_stall_s = CLAMP (stall_s, 1, 86400);
  /* a connect that takes longer than a stalled message would is given up */
  g_socket_client_set_timeout (t->client, t->tcp_stall_s);
  for (guint i = 0; i < t->tcp_clients->len; i++)
    if (t->tcp_clients->pdata[i] != NULL)
      g_socket_client_set_timeout (t->tcp_clients->pdata[i], t->tcp_stall_s);
  t->tcp_max_per_source = MAX (max_per_source, 1);
  t->tcp_max_conns = MAX (max_conns, 1);
}

gboolean
sf_sip_transport_mark_flow (SfSipTransport *t, const SfSipPeer *peer, guint seconds)
{
  TcpConn *c = sf_sip_proto_is_stream (peer->proto) ? g_hash_table_lookup (t->conns, GUINT_TO_POINTER (peer->conn)) : NULL;
  if (c == NULL)
    return FALSE;
  c->flow_until = seconds > 0 ? g_get_monotonic_time () + (gint64) MIN (seconds, 86400u * 365) * G_USEC_PER_SEC : 0;
  return TRUE;
}

const SfSipTransportStats *
sf_sip_transport_stats (SfSipTransport *t)
{
  return &t->stats;
}

guint
sf_sip_transport_n_conns (SfSipTransport *t)
{
  return g_hash_table_size (t->conns);
}

#define SF_SIP_METHOD_NAME_(m) #m,
static const char *const method_names[] = { SF_SIP_METHODS (SF_SIP_METHOD_NAME_) "other" };
G_STATIC_ASSERT (G_N_ELEMENTS (method_names) == SF_SIP_N_METHODS);

SfSipMethodIndex
sf_sip_method_index (const char *p, gsize len)
{
  for (guint i = 0; i < SF_SIP_METHOD_OTHER; i++)
    if (strlen (method_names[i]) == len && memcmp (method_names[i], p, len) == 0)
      return (SfSipMethodIndex) i;
  return SF_SIP_METHOD_OTHER;
}

const char *
sf_sip_method_index_name (SfSipMethodIndex i)
{
  return (guint) i < SF_SIP_N_METHODS ? method_names[i] : "other";
}

void
sf_sip_status_label (guint code, char out[4])
{
  if (strcmp (sf_sip_reason_phrase (code), "Unknown") != 0)
    g_snprintf (out, 4, "%03u", code % 1000);
  else
    g_snprintf (out, 4, "%uxx", (code / 100) % 10);
}

/* Counts a message we send in @requests or @responses by its start line (@d,
 * @len: the wire, not parsed again: its first bytes say what it is). */
static void
count_message (guint64 *requests, guint64 *responses, const char *d, gsize len)
{
  if (len >= 12 && memcmp (d, "SIP/2.0 ", 8) == 0 && g_ascii_isdigit (d[8]) && g_ascii_isdigit (d[9]) &&
      g_ascii_isdigit (d[10])) {
    guint code = (guint) (d[8] - '0') * 100 + (guint) (d[9] - '0') * 10 + (guint) (d[10] - '0');
    if (code >= 100 && code < 100 + SF_SIP_N_STATUS)
      responses[code - 100]++;
    return;
  }
  gsize n = 0;
  while (n < len && n < 32 && d[n] != ' ')
    n++;
  requests[sf_sip_method_index (d, n)]++;
}

gboolean
sf_sip_listen_spec_parse (const char *spec, SfSipProto *proto, GInetSocketAddress **addr, GError **error)
{
  const char *colon0 = strchr (spec, ':');
  if (colon0 == NULL || !sf_sip_proto_from_name (sf_sip_str (spec, (gsize) (colon0 - spec)), proto)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "'%s': expected udp:ADDR:PORT, tcp:ADDR:PORT, tls:ADDR:PORT, ws:ADDR:PORT or wss:ADDR:PORT", spec);
    return FALSE;
  }
  const char *rest = colon0 + 1;
  g_autofree char *host = NULL;
  const char *port_s;
  if (*rest == '[') {
    const char *close = strchr (rest, ']');
    if (close == NULL || close[1] != ':') {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "'%s': expected [IPv6]:PORT", spec);
      return FALSE;
    }
    host = g_strndup (rest + 1, (gsize) (close - rest - 1));
    port_s = close + 2;
  } else {
    const char *colon = strrchr (rest, ':');
    if (colon == NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "'%s': no port (use :0 for a free one)", spec);
      return FALSE;
    }
    host = g_strndup (rest, (gsize) (colon - rest));
    port_s = colon + 1;
  }
  guint64 port;
  if (!sf_sip_str_to_u64 (sf_sip_str (port_s, strlen (port_s)), 65535, &port)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "'%s': the port must be a number from 0 to 65535", spec);
    return FALSE;
  }
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (host);
  if (ia == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "'%s': '%s' is not a numeric IP address", spec, host);
    return FALSE;
  }
  *addr = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ia, (guint16) port));
  return TRUE;
}

/* Binds @sock to @addr in a reuseport group: SO_REUSEPORT before bind(), so
 * that the kernel groups the sockets that set it (same user, same address)
 * and gives each datagram to one of them by a hash of its source and
 * destination.  bind(2) by hand: g_socket_bind() sets SO_REUSEPORT back to
 * what its allow_reuse says, and with it SO_REUSEADDR, which is not wanted. */
static gboolean
bind_native (int fd, struct sockaddr *native, socklen_t len, GInetSocketAddress *addr, GError **error)
{
  if (bind (fd, native, len) == 0)
    return TRUE;
  int e = errno;
  g_autofree char *where = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (addr));
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "Error binding to address %s: %s", where, g_strerror (e));
  return FALSE;
}

/* @mode FIRST: the group's first socket binds only an address no one holds.
 * With SO_REUSEPORT set, bind(2) would succeed beside any socket of the same
 * user that set it too (a second sipflow with workers, any program of ours):
 * a second process would silently take half the datagrams, and a bind to
 * port 0 may be given a port such a group already holds (UDP's automatic
 * port choice does not count them as taken).  So a plain socket binds the
 * address first, without the option, as a process alone does: EADDRINUSE is
 * the error it would be without workers, and for port 0 the port it got is
 * the group's; it is closed and the group's first socket binds that port.
 * Another program of the same user binding that port in between is the one
 * window left (docs/security.md: workers want a user of their own). */
static gboolean
udp_bind_shared (GSocket *sock, GInetSocketAddress *addr, SfSipReuseport mode, GError **error)
{
  if (!g_socket_set_option (sock, SOL_SOCKET, SO_REUSEPORT, 1, error))
    return FALSE;
  struct sockaddr_storage native;
  gssize len = g_socket_address_get_native_size (G_SOCKET_ADDRESS (addr));
  if (len < 0 || !g_socket_address_to_native (G_SOCKET_ADDRESS (addr), &native, sizeof native, error))
    return FALSE;
  if (mode == SF_SIP_REUSEPORT_FIRST) {
    int probe = socket (native.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (probe < 0) {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "socket: %s", g_strerror (e));
      return FALSE;
    }
    /* an IPv6 probe dual-stack, as GLib makes its IPv6 sockets: [::] then
     * collides with 0.0.0.0 exactly as it would without workers */
    int zero = 0;
    if (native.ss_family == AF_INET6)
      (void) setsockopt (probe, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    gboolean ok = bind_native (probe, (struct sockaddr *) &native, (socklen_t) len, addr, error);
    socklen_t got = sizeof native;
    if (ok && getsockname (probe, (struct sockaddr *) &native, &got) != 0) {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "getsockname: %s", g_strerror (e));
      ok = FALSE;
    }
    close (probe);
    if (!ok)
      return FALSE;
  }
  return bind_native (g_socket_get_fd (sock), (struct sockaddr *) &native, (socklen_t) len, addr, error);
}

/* Makes @sock (bound; taken) one of @t's UDP sockets, read on @t's context;
 * *@bound (transfer full, nullable) gets its address. */
static gboolean
udp_add (SfSipTransport *t, GSocket *sock, GInetSocketAddress **bound, GError **error)
{
  g_socket_set_blocking (sock, FALSE);
  /* A server under a burst, or starved of CPU for a moment, must not lose
   * datagrams in a small kernel buffer (an ACK is never retransmitted): ask for
   * SF_SIP_UDP_RCVBUF (the kernel caps it at net.core.rmem_max). */
  g_socket_set_option (sock, SOL_SOCKET, SO_RCVBUF, SF_SIP_UDP_RCVBUF, NULL);
  UdpListener *l = g_new0 (UdpListener, 1);
  l->t = t;
  l->sock = sock;
  GSocketAddress *local = g_socket_get_local_address (l->sock, error);
  if (local == NULL) {
    g_object_unref (l->sock);
    g_free (l);
    return FALSE;
  }
  l->local = G_INET_SOCKET_ADDRESS (local);
  /* Only an IPv6 socket on [::] with IPV6_V6ONLY off is dual-stack: GLib
   * leaves the option as the kernel makes it (net.ipv6.bindv6only=1 hosts:
   * on), and a send to an IPv4 peer through an IPv6-only socket fails. */
  gint v6only = 1;
  l->dual_stack = g_socket_get_family (sock) == G_SOCKET_FAMILY_IPV6 &&
                  g_inet_address_get_is_any (g_inet_socket_address_get_address (l->local)) &&
                  g_socket_get_option (sock, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, NULL) && v6only == 0;
  l->bufs = g_malloc ((gsize) UDP_BATCH * (SF_SIP_MAX_MSG_SIZE + 1));
  l->peer_key[0] = sf_sip_random_u64 ();
  l->peer_key[1] = sf_sip_random_u64 ();
  l->src = g_socket_create_source (l->sock, G_IO_IN, NULL);
  g_source_set_callback (l->src, G_SOURCE_FUNC (udp_readable), l, NULL);
  /* GLib blocks a source that may not recurse while it dispatches, taking its
   * descriptor out of the poll set and putting it back, and each of the two
   * writes the context's wakeup descriptor: two write(2)s and a spurious
   * turn of the loop for every read.  udp_readable guards itself instead. */
  /* The guard makes a nested turn of t->context from a receive callback
   * spin (the socket stays readable): no callback may turn it. */
  g_source_set_can_recurse (l->src, TRUE);
  g_source_attach (l->src, t->context);
  g_ptr_array_add (t->udp, l);
  if (bound != NULL)
    *bound = g_object_ref (l->local);
  return TRUE;
}


GInetSocketAddress *
sf_sip_transport_open_home (SfSipTransport *t, GSocketFamily family, GError **error)
{
  UdpListener *like = NULL;
  for (guint i = 0; i < t->udp->len && like == NULL; i++)
    if (g_socket_get_family (((UdpListener *) t->udp->pdata[i])->sock) == family)
      like = t->udp->pdata[i];
  if (like == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no UDP socket of that family to open a worker's own beside");
    return NULL;
  }
  g_autoptr (GSocket) sock = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (sock == NULL)
    return NULL;
  /* The listener's address, a port of its own: no SO_REUSEPORT, so what
   * arrives there is this socket's alone, whatever its source. */
  g_autoptr (GSocketAddress) at = g_inet_socket_address_new (g_inet_socket_address_get_address (like->local), 0);
  if (!g_socket_bind (sock, at, FALSE, error))
    return NULL;
  GInetSocketAddress *bound = NULL;
  if (!udp_add (t, g_steal_pointer (&sock), &bound, error))
    return NULL;
  g_object_unref (bound); /* the listener holds it */
  return bound;
}

gboolean
sf_sip_transport_listen (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *addr, GInetSocketAddress **bound,
                         GError **error)
{
  GSocketFamily family = g_inet_address_get_family (g_inet_socket_address_get_address (addr));
  if (proto_is_tls (proto) && (t->tls == NULL || t->tls->cert == NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "listening for %s needs a certificate and its key (tls.certificate, tls.key)",
                 sf_sip_proto_via (proto));
    return FALSE;
  }
  if (sf_sip_proto_is_ws (proto))
    ws_server (t);
  if (sf_sip_proto_is_stream (proto)) {
    GSocketService *s = g_socket_service_new ();
    GSocketAddress *effective = NULL;
    /* GLib's backlog is 10: a burst of connections (or a flood from one source,
     * closed one by one after accept) would have others' SYNs dropped meanwhile.
     * The kernel caps it at net.core.somaxconn. */
    g_socket_listener_set_backlog (G_SOCKET_LISTENER (s), SOMAXCONN);
    if (!g_socket_listener_add_address (G_SOCKET_LISTENER (s), G_SOCKET_ADDRESS (addr), G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, NULL, &effective, error)) {
      g_object_unref (s);
      return FALSE;
    }
    g_object_set_data (G_OBJECT (s), "sf-proto", GUINT_TO_POINTER (proto));
    g_signal_connect (s, "incoming", G_CALLBACK (tcp_incoming), t);
    g_socket_service_start (s);
    g_ptr_array_add (t->services, s);
    g_ptr_array_add (t->tcp_bound, g_object_ref (effective));
    g_array_append_val (t->tcp_protos, proto);
    g_ptr_array_add (t->tcp_clients, NULL);
    if (bound != NULL)
      *bound = G_INET_SOCKET_ADDRESS (effective);
    else
      g_object_unref (effective);
    return TRUE;
  }
  g_autoptr (GSocket) sock = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (sock == NULL)
    return FALSE;
  if (t->reuseport != SF_SIP_REUSEPORT_OFF ? !udp_bind_shared (sock, addr, t->reuseport, error)
                                            : !g_socket_bind (sock, G_SOCKET_ADDRESS (addr), FALSE, error))
    return FALSE;
  return udp_add (t, g_steal_pointer (&sock), bound, error);
}

gboolean
sf_sip_transport_listen_udp_socket (SfSipTransport *t, GSocket *sock, GInetSocketAddress **bound, GError **error)
{
  return udp_add (t, g_object_ref (sock), bound, error);
}

static gboolean same_addr (GInetSocketAddress *a, GInetSocketAddress *b);

/* A send that failed for want of room (the socket's send buffer full, the
 * kernel short of buffers): a datagram lost as the network loses them, which
 * retransmissions (17.1.1.2, 17.2.1) are for, not a transport error that ends
 * a transaction.  A peer can fill the buffer (large requests drawing 400s):
 * reported, this ended ringing calls that shared it. */
static gboolean
udp_error_is_loss (int e)
{
  return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || e == ENOMEM;
}

/* What a datagram's send failed with: counted; told to whoever sent it
 * (sf_sip_transport_set_udp_failed) unless it is a loss (udp_error_is_loss). */
static void
udp_out_failed (SfSipTransport *t, UdpOut *o, int e)
{
  t->stats.send_errors++;
  if (udp_error_is_loss (e)) {
    g_debug ("a datagram dropped: %s", g_strerror (e));
    return;
  }
  g_autoptr (GError) error = g_error_new (G_IO_ERROR, g_io_error_from_errno (e), "Error sending message: %s", g_strerror (e));
  if (t->udp_failed != NULL)
    t->udp_failed (o->dest, o->wire, o->sender, error, t->udp_failed_data);
}

/* Sends the datagrams queued in this turn, in their order, with a sendmmsg(2)
 * for each run of them from one socket: the peer woken by the first one runs
 * after our turn, not in the middle of it.  sendmmsg stops at a message that
 * fails: that one is reported and the rest sent. */
static void
udp_flush (SfSipTransport *t)
{
  struct mmsghdr msgs[UDP_OUT_CAP];
  struct iovec iov[UDP_OUT_CAP];
  UdpOut done[UDP_OUT_CAP];
  guint n = t->n_out;
  if (n == 0)
    return;
  /* the failure hook may send again: into the emptied queue, after these */
  memcpy (done, t->out, n * sizeof *done);
  t->n_out = 0;
  for (guint i = 0; i < n; i++) {
    gsize len;
    iov[i].iov_base = (void *) g_bytes_get_data (done[i].wire, &len);
    iov[i].iov_len = len;
    msgs[i].msg_hdr = (struct msghdr) { .msg_name = &done[i].name, .msg_namelen = done[i].len,
                                        .msg_iov = &iov[i], .msg_iovlen = 1 };
    msgs[i].msg_len = 0;
  }
  guint i = 0;
  while (i < n) {
    guint run = 1;
    while (i + run < n && done[i + run].l == done[i].l)
      run++;
    if (t->fail_n > 0) {
      t->fail_n--;
      udp_out_failed (t, &done[i], t->fail_errno);
      i++;
      continue;
    }
    int r;
    do
      r = sendmmsg (g_socket_get_fd (done[i].l->sock), msgs + i, run, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
      udp_out_failed (t, &done[i], errno);
      i++;
      continue;
    }
    for (guint k = i; k < i + (guint) r; k++) {
      t->stats.sent++;
      count_message (t->stats.requests_out, t->stats.responses_out, iov[k].iov_base, iov[k].iov_len);
    }
    i += (guint) r;
  }
  for (guint k = 0; k < n; k++) {
    g_object_unref (done[k].dest);
    g_bytes_unref (done[k].wire);
  }
}

static gboolean
udp_flush_prepare (GSource *source, gint *timeout)
{
  *timeout = -1;
  udp_flush (((UdpFlushSource *) source)->t);
  return FALSE;
}

void
sf_sip_transport_set_udp_batch (SfSipTransport *t, gboolean batch)
{
  if (!batch)
    udp_flush (t);
  t->batch = batch;
}

void
sf_sip_transport_fail_sends (SfSipTransport *t, int e, guint n)
{
  t->fail_errno = e;
  t->fail_n = n;
}

void
sf_sip_transport_set_udp_failed (SfSipTransport *t, SfSipUdpFailedFunc func, gpointer data)
{
  t->udp_failed = func;
  t->udp_failed_data = data;
}

guint64
sf_sip_transport_set_sender (SfSipTransport *t, guint64 sender)
{
  guint64 was = t->sender;
  t->sender = sender;
  return was;
}

void
sf_sip_transport_flush (SfSipTransport *t)
{
  udp_flush (t);
}

/* @name (@size bytes) as @l's socket takes it: an IPv4 peer of a dual-stack
 * socket (udp_peer gave it as IPv4) as ::ffff:a.b.c.d; returns the size.
 * Both ways out, at once and batched, go through it. */
static gssize
udp_native_for (UdpListener *l, struct sockaddr_storage *name, gssize size)
{
  if (name->ss_family != AF_INET || g_socket_get_family (l->sock) != G_SOCKET_FAMILY_IPV6)
    return size;
  struct sockaddr_in v4;
  memcpy (&v4, name, sizeof v4);
  struct sockaddr_in6 v6 = { .sin6_family = AF_INET6, .sin6_port = v4.sin_port };
  v6.sin6_addr.s6_addr[10] = v6.sin6_addr.s6_addr[11] = 0xff;
  memcpy (&v6.sin6_addr.s6_addr[12], &v4.sin_addr, sizeof v4.sin_addr);
  memcpy (name, &v6, sizeof v6);
  return (gssize) sizeof v6;
}

/* One datagram by sendto(2) on the socket's descriptor: what g_socket_send_to
 * does for a non-blocking socket, without its checks and conversions around
 * the call (about 500 instructions a message); its errors as GLib's, but for
 * a loss (udp_error_is_loss): TRUE, *@lost set, counted in send_errors. */
static gboolean
udp_send_now (UdpListener *l, GInetSocketAddress *dest, const char *d, gsize len, gboolean *lost, GError **error)
{
  *lost = FALSE;
  struct sockaddr_storage name;
  gssize size = g_socket_address_get_native_size (G_SOCKET_ADDRESS (dest));
  if (size < 0) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Error sending message: no native form of the address");
    return FALSE;
  }
  if (!g_socket_address_to_native (G_SOCKET_ADDRESS (dest), &name, sizeof name, error))
    return FALSE;
  size = udp_native_for (l, &name, size);
  gssize n;
  do
    n = sendto (g_socket_get_fd (l->sock), d, len, MSG_NOSIGNAL, (struct sockaddr *) &name, (socklen_t) size);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    if (udp_error_is_loss (e)) { /* lost, as on the wire */
      g_debug ("a datagram dropped: %s", g_strerror (e));
      l->t->stats.send_errors++;
      *lost = TRUE;
      return TRUE;
    }
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "Error sending message: %s", g_strerror (e));
    return FALSE;
  }
  return TRUE;
}

/* Queues one datagram from @l's socket for the end of the turn (udp_flush);
 * what fails before the send (no native form of the address) fails here. */
static gboolean
udp_send_to (UdpListener *l, GInetSocketAddress *dest, GBytes *wire, GError **error)
{
  SfSipTransport *t = l->t;
  gssize size = g_socket_address_get_native_size (G_SOCKET_ADDRESS (dest));
  if (size < 0) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Error sending message: no native form of the address");
    return FALSE;
  }
  while (t->n_out >= UDP_OUT_CAP) /* a flush empties it; the loop guards a hook that sends */
    udp_flush (t);
  UdpOut *o = &t->out[t->n_out];
  if (!g_socket_address_to_native (G_SOCKET_ADDRESS (dest), &o->name, sizeof o->name, error))
    return FALSE;
  o->len = (socklen_t) udp_native_for (l, &o->name, size);
  o->l = l;
  o->dest = g_object_ref (dest);
  o->wire = g_bytes_ref (wire);
  o->sender = t->sender;
  t->n_out++;
  return TRUE;
}

/* Sends from @local's socket when there is one (a response leaves from where its
 * request came in), else from the first socket of the destination's family. */
static gboolean
udp_send (SfSipTransport *t, GInetSocketAddress *local, GInetSocketAddress *dest, GBytes *wire, GError **error)
{
  if (filtered (t, SF_SIP_UDP, dest, wire, error))
    return FALSE;
  GSocketFamily family = g_inet_address_get_family (g_inet_socket_address_get_address (dest));
  UdpListener *chosen = NULL;
  for (guint i = 0; i < t->udp->len && chosen == NULL; i++) {
    UdpListener *l = t->udp->pdata[i];
    /* a socket on [::] answers the IPv4 peers it received from */
    if (local != NULL && same_addr (l->local, local) &&
        (g_socket_get_family (l->sock) == family || (family == G_SOCKET_FAMILY_IPV4 && udp_dual_stack (l))))
      chosen = l;
  }
  gboolean ipv4_socket = FALSE;
  for (guint i = 0; i < t->udp->len && chosen == NULL && family == G_SOCKET_FAMILY_IPV4; i++)
    ipv4_socket |= g_socket_get_family (((UdpListener *) t->udp->pdata[i])->sock) == family;
  for (guint i = 0; i < t->udp->len && chosen == NULL && family == G_SOCKET_FAMILY_IPV4 && !ipv4_socket; i++)
    if (udp_dual_stack (t->udp->pdata[i]))
      chosen = t->udp->pdata[i]; /* no IPv4 socket: one on [::] */
  for (guint i = 0; i < t->udp->len; i++) {
    UdpListener *l = chosen != NULL ? chosen : t->udp->pdata[i];
    if (chosen == NULL && g_socket_get_family (l->sock) != family)
      continue;
    if (!t->batch) {
      gsize len;
      const char *d = g_bytes_get_data (wire, &len);
      gboolean lost;
      if (!udp_send_now (l, dest, d, len, &lost, error)) {
        t->stats.send_errors++;
        return FALSE;
      }
      if (!lost) {
        t->stats.sent++;
        count_message (t->stats.requests_out, t->stats.responses_out, d, len);
      }
    } else if (!udp_send_to (l, dest, wire, error)) {
      t->stats.send_errors++;
      return FALSE;
    }
    /* the message's line now, as the transaction that sent it is found (it may
     * end before the turn does) */
    if (t->tap != NULL)
      t->tap (SF_SIP_TAP_OUT, SF_SIP_UDP, l->local, dest, NULL, wire, t->tap_data);
    return TRUE;
  }
  t->stats.send_errors++;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "no UDP socket for an %s destination",
               g_inet_address_get_family (g_inet_socket_address_get_address (dest)) == G_SOCKET_FAMILY_IPV6 ? "IPv6" : "IPv4");
  return FALSE;
}

gboolean
sf_sip_transport_send (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *dest, guint conn, GBytes *wire,
                       GError **error)
{
  return sf_sip_transport_send_named (t, proto, dest, conn, NULL, wire, error);
}

gboolean
sf_sip_transport_send_named (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *dest, guint conn, const char *name,
                             GBytes *wire, GError **error)
{
  if (sf_sip_proto_is_stream (proto))
    return tcp_send (t, proto, dest, conn, name, wire, error);
  g_return_val_if_fail (dest != NULL, FALSE);
  return udp_send (t, NULL, dest, wire, error);
}

gboolean
sf_sip_transport_send_udp_from (SfSipTransport *t, GInetSocketAddress *local, GInetSocketAddress *dest, GBytes *wire,
                                GError **error)
{
  return udp_send (t, local, dest, wire, error);
}

static gboolean
send_raw (SfSipTransport *t, const SfSipPeer *to, GBytes *wire, GError **error)
{
  if (to->proto == SF_SIP_UDP)
    return udp_send (t, to->local, to->remote, wire, error);
  return sf_sip_transport_send (t, to->proto, to->remote, to->conn, wire, error);
}

/* An IP literal with its brackets dropped, or NULL. */
static GInetAddress *
ip_of (SfSipStr s)
{
  if (s.len >= 2 && s.p[0] == '[')
    s = sf_sip_str (s.p + 1, s.len - 2);
  g_autofree char *text = sf_sip_str_dup (s);
  return g_inet_address_new_from_string (text);
}

gboolean
sf_sip_transport_send_response (SfSipTransport *t, SfSipMsg *resp, const SfSipPeer *from, GError **error)
{
  g_autoptr (GBytes) wire = sf_sip_msg_serialize (resp);
  if (sf_sip_proto_is_stream (from->proto) && g_hash_table_contains (t->conns, GUINT_TO_POINTER (from->conn)))
    return tcp_send (t, from->proto, NULL, from->conn, NULL, wire, error); /* 18.2.2: the connection the request came on */
  g_autoptr (SfSipMsg) bare = NULL;
  if (from->proto == SF_SIP_UDP && g_bytes_get_size (wire) > SF_SIP_MAX_UDP) {
    /* No datagram holds it (the Via lines copied from a request near the size
     * limit): a bare 513 with the top Via, so the hop that sent the request still
     * gets a final answer (docs/sip.md). */
    bare = sf_sip_create_minimal_response (resp, 513, error);
    if (bare == NULL)
      return FALSE;
    t->stats.oversize_responses++;
    g_bytes_unref (wire);
    wire = sf_sip_msg_serialize (bare);
    resp = bare;
  }
  const SfSipValue *via = sf_sip_msg_top_via (resp);
  const SfSipParam *maddr = sf_sip_value_param (via, "maddr");
  const SfSipParam *received = sf_sip_value_param (via, "received");
  const SfSipParam *rport = sf_sip_value_param (via, "rport");
  guint port = via->port != 0 ? via->port : 5060;
  g_autoptr (GSocketAddress) made = NULL;
  GInetSocketAddress *dest = NULL;
  /* 18.2.2 sends to a Via's maddr; only a multicast one is taken: a unicast
   * maddr would let any request aim its answers (and their retransmissions)
   * at a third party (docs/security.md) */
  g_autoptr (GInetAddress) group = maddr != NULL && sf_sip_str_is_set (maddr->value) ? ip_of (maddr->value) : NULL;
  if (group != NULL && g_inet_address_get_is_multicast (group)) {
    made = g_inet_socket_address_new (group, (guint16) port);
  } else {
    SfSipIp ip;
    gboolean have = received != NULL && sf_sip_str_is_set (received->value) && sf_sip_ip_parse (received->value, &ip);
    guint64 rp;
    if (rport != NULL && sf_sip_str_is_set (rport->value) && sf_sip_str_to_u64 (rport->value, 65535, &rp) && rp > 0)
      port = (guint) rp;
    if (!have)
      have = sf_sip_ip_parse (via->host, &ip);
    if (!have) {
      /* A host name we would have to resolve: the request's source is where the
       * received= we added would have pointed anyway. */
      return send_raw (t, from, wire, error);
    }
    /* Most answers go back where the request came from: that address object,
     * not a new one (two GObjects a response) */
    if (from->remote != NULL && g_inet_socket_address_get_port (from->remote) == port &&
        socket_address_is (from->remote, &ip, port)) {
      dest = from->remote;
    } else {
      made = G_SOCKET_ADDRESS (sf_sip_socket_address (&ip, port));
    }
  }
  if (dest == NULL)
    dest = G_INET_SOCKET_ADDRESS (made);
  if (from->proto == SF_SIP_UDP)
    return udp_send (t, from->local, dest, wire, error);
  return sf_sip_transport_send (t, from->proto, dest, 0, wire, error);
}
