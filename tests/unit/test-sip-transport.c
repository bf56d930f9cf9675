/* test-sip-transport.c: UDP and TCP transports on loopback (RFC 3261 18),
 * every wait on an event with a timeout.
 *  - udp_exchange: a request reaches the other side with its source; received=
 *    and rport= are filled in (18.2.1, RFC 3581); the response goes back by them (18.2.2)
 *  - udp_bad_request: a request with a broken Via, a Content-Length past the datagram or
 *    a bad Request-URI parameter is answered 400 naming the problem,
 *    sent to the packet's source; garbage is dropped and counted
 *  - udp_read_limits: a datagram of exactly the size limit is read; one byte
 *    more, or one the buffer truncates (MSG_TRUNC), is dropped and counted and
 *    the next is read whole; the same source is the same address object; 300
 *    sources leave at most 64 addresses in the socket's cache
 *  - tcp_bad_request: a bad Request-URI parameter over TCP is answered 400 on the
 *    connection, which stays open; repeated parameters are delivered (first wins)
 *  - tcp_exchange: a request over a new connection, its response over the same
 *    connection, two messages and keep-alive CRLFs in one write, connection reuse,
 *    TCP_NODELAY on the accepted and the opened connection; on UDP and TCP the
 *    after-read hook runs in the turn that read a message, after it (the stack
 *    dispatches there what the message queued), and not for keep-alives alone
 *  - ipv6: the same over [::1]
 *  - dual_stack: an IPv4 peer of a [::] listener (UDP, TCP) is its IPv4
 *    address, not ::ffff:a.b.c.d (the peer, received=), and is answered
 *    through the socket or connection its request came in on; with no IPv4
 *    UDP socket, a request to an IPv4 address leaves from the [::] one; a
 *    [::] UDP socket with IPV6_V6ONLY on (a test-made one; GLib's own on a
 *    net.ipv6.bindv6only=1 host) reaches no IPv4 destination: can_send FALSE,
 *    a send fails cleanly
 *  - listen_specs: udp:/tcp:/tls:/ws:/wss: address specs and their errors
 *  - ws_after_read: a WebSocket message read (libsoup's client): the
 *    after-read hook runs in its turn, after it
 *  - ws_never_connects: a message for a WebSocket peer with no connection
 *    fails at once (a browser cannot be connected to); wss: without a
 *    certificate is refused; ws: listens
 *  - tls_config_errors: a missing or wrong [tls] file, a bad verify_client or
 *    min_version: each error names the key and the file; tls: without a
 *    certificate is refused
 *  - resolve (RFC 3263 4): numeric hosts need no lookup (transport=, sips, maddr, default
 *    ports); a name with a port is looked up by A/AAAA (localhost, from /etc/hosts);
 *    a tel URI is not located
 *  - tcp_idle_close: a connection without traffic is closed after sip.tcp_idle (1 s
 *    here: the transport's idle timer is on the real clock, so this waits for the
 *    close event itself, bounded at 5 s)
 *  - response_from_receiving_socket: with two UDP sockets, a response leaves from
 *    the one its request came in on
 *  - tcp_limits: sip.tcp_max_per_source and sip.tcp_max_connections: one more
 *    connection is accepted and closed at once, counted in tcp_refused; a slot
 *    freed is usable again
 *  - tcp_stall: a message begun and not finished, and an accepted connection
 *    that sends nothing, are closed after sip.tcp_stall (tcp_closed_stalled)
 *  - tcp_keepalive: a CRLF ping gets a CRLF pong (RFC 5626 4.4.1); pings do
 *    not hold a connection past sip.tcp_idle unless it carries a registered
 *    flow (sf_sip_transport_mark_flow), and do once it does; unmarked, it goes
 *  - ip_literals: sf_sip_ip_parse() reads what g_inet_address_new_from_string()
 *    reads (IPv4, IPv6 in brackets or not, scoped, names, near-misses) to the
 *    same bytes; sf_sip_socket_address() hands the same object for the same
 *    address and port, another for another; sf_sip_transport_is_local() on a
 *    bound socket: its address with its port or port 0, not another port,
 *    family or the any-address
 *  - udp_send_batch: UDP datagrams leave at the end of the turn they were sent
 *    (a failure for want of room is a loss, counted, not told to the stack)
 *    in: none before it, all of them in order after one turn; a send from an
 *    idle callback leaves without another event arriving; a datagram that
 *    fails in the middle (a broadcast address without SO_BROADCAST) is counted
 *    and handed to the failure hook with the sender named when it was queued
 *    (sf_sip_transport_set_sender), and the rest are sent; the 65th datagram
 *    of a turn sends the 64 before it; freeing the transport sends what is held
 *  (These run on the real clock, as the transport's timers do: limits of 1 s,
 *  every wait bounded.) */
#include "config.h"
#include "sf-test.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-transport.h"
#include "sip/sf-sip-resolve.h"
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>
#include <errno.h>
#include <netinet/in.h>

typedef struct {
  GPtrArray *msgs;    /* SfSipMsg refs */
  GPtrArray *peers;   /* SfSipPeer* */
} Inbox;

static void
peer_free (SfSipPeer *p)
{
  sf_sip_peer_clear (p);
  g_free (p);
}

static void
on_recv (SfSipMsg *msg, const SfSipPeer *from, gpointer data)
{
  Inbox *in = data;
  g_ptr_array_add (in->msgs, sf_sip_msg_ref (msg));
  SfSipPeer *p = g_new0 (SfSipPeer, 1);
  sf_sip_peer_copy (p, from);
  g_ptr_array_add (in->peers, p);
}

static void
inbox_init (Inbox *in)
{
  in->msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_msg_unref);
  in->peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
}

static void
inbox_clear (Inbox *in)
{
  g_ptr_array_unref (in->msgs);
  g_ptr_array_unref (in->peers);
}

static gboolean
timed_out (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until @in holds @n messages or 5 s pass. */
static gboolean
wait_for (Inbox *in, guint n)
{
  gboolean out = FALSE;
  guint id = g_timeout_add (5000, timed_out, &out);
  while (in->msgs->len < n && !out)
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  return in->msgs->len >= n;
}

static SfSipMsg *
options (guint cseq, const char *sent_by, const char *transport)
{
  SfSipRequestSpec spec = { .method = "OPTIONS", .ruri = "sip:b@127.0.0.1", .from = "<sip:a@127.0.0.1>",
                            .to = "<sip:b@127.0.0.1>", .via_sent_by = sent_by, .transport = transport, .cseq = cseq };
  return sf_sip_create_request (&spec, NULL);
}

static gboolean wait_count (const guint64 *counter, guint64 n, guint ms);

/* The after-read hook's record: how many times it ran, and how many
 * messages the inbox held at its last run. */
typedef struct {
  Inbox *in;
  guint calls, seen;
} AfterRead;

static void
on_after_read (gpointer data)
{
  AfterRead *r = data;
  r->calls++;
  r->seen = r->in->msgs->len;
}

static GInetSocketAddress *
listen_on (SfSipTransport *t, const char *spec)
{
  SfSipProto proto;
  g_autoptr (GInetSocketAddress) addr = NULL;
  GInetSocketAddress *bound = NULL;
  g_autoptr (GError) error = NULL;
  if (!sf_sip_listen_spec_parse (spec, &proto, &addr, &error) || !sf_sip_transport_listen (t, proto, addr, &bound, &error)) {
    g_printerr ("listen %s: %s\n", spec, error->message);
    return NULL;
  }
  return bound;
}

static void
exchange (const char *ip, const char *proto_name, SfSipProto proto)
{
  Inbox ia, ib;
  inbox_init (&ia);
  inbox_init (&ib);
  SfSipTransport *a = sf_sip_transport_new (NULL, on_recv, &ia);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  g_autofree char *spec = g_strdup_printf ("%s:%s:0", proto == SF_SIP_UDP ? "udp" : "tcp", ip);
  g_autoptr (GInetSocketAddress) la = listen_on (a, spec);
  g_autoptr (GInetSocketAddress) lb = listen_on (b, spec);
  CU_ASSERT_PTR_NOT_NULL_FATAL (la);
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  AfterRead after = { &ib, 0, 0 };
  sf_sip_transport_set_after_read (b, on_after_read, &after);
  /* A Via naming a host that is not the source, with rport: received= and rport= get filled. */
  g_autoptr (SfSipMsg) req = options (1, "a.invalid:5999", proto_name);
  g_autoptr (GBytes) wire = sf_sip_msg_serialize (req);
  CU_ASSERT_TRUE (sf_sip_transport_send (a, proto, lb, 0, wire, NULL));
  CU_ASSERT_TRUE_FATAL (wait_for (&ib, 1));
  /* The after-read hook ran in the turn that read the message, after it. */
  CU_ASSERT_EQUAL (after.calls, 1);
  CU_ASSERT_EQUAL (after.seen, 1);
  SfSipMsg *got = ib.msgs->pdata[0];
  SfSipPeer *from = ib.peers->pdata[0];
  CU_ASSERT_EQUAL (from->proto, proto);
  const SfSipValue *via = sf_sip_msg_top_via (got);
  g_autofree char *src_ip = g_inet_address_to_string (g_inet_socket_address_get_address (from->remote));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_value_param (via, "received")->value, src_ip));
  guint64 rport = 0;
  CU_ASSERT_TRUE (sf_sip_str_to_u64 (sf_sip_value_param (via, "rport")->value, 65535, &rport));
  CU_ASSERT_EQUAL (rport, g_inet_socket_address_get_port (from->remote));
  /* The response goes back by received/rport (UDP) or over the same connection (TCP). */
  g_autoptr (SfSipMsg) resp = sf_sip_create_response (got, 200, NULL, "t1", NULL);
  CU_ASSERT_TRUE (sf_sip_transport_send_response (b, resp, from, NULL));
  CU_ASSERT_TRUE_FATAL (wait_for (&ia, 1));
  CU_ASSERT_EQUAL (sf_sip_msg_status (ia.msgs->pdata[0]), 200);
  if (proto == SF_SIP_TCP) {
    /* Two more requests in one write, after keep-alive CRLFs: both arrive; the
     * connection to the same address is reused. */
    g_autoptr (SfSipMsg) r2 = options (2, "127.0.0.1:5999", "TCP");
    g_autoptr (SfSipMsg) r3 = options (3, "127.0.0.1:5999", "TCP");
    g_autoptr (GBytes) w2 = sf_sip_msg_serialize (r2);
    g_autoptr (GBytes) w3 = sf_sip_msg_serialize (r3);
    GByteArray *both = g_byte_array_new ();
    g_byte_array_append (both, (const guint8 *) "\r\n\r\n", 4);
    g_byte_array_append (both, g_bytes_get_data (w2, NULL), (guint) g_bytes_get_size (w2));
    g_byte_array_append (both, g_bytes_get_data (w3, NULL), (guint) g_bytes_get_size (w3));
    g_autoptr (GBytes) wb = g_byte_array_free_to_bytes (both);
    CU_ASSERT_TRUE (sf_sip_transport_send (a, SF_SIP_TCP, lb, 0, wb, NULL));
    CU_ASSERT_TRUE_FATAL (wait_for (&ib, 3));
    /* After the read that completed the last one, in its turn (once for
     * both when one read took them, as it does on loopback mostly). */
    CU_ASSERT_TRUE (after.calls == 2 || after.calls == 3);
    CU_ASSERT_EQUAL (after.seen, 3);
    /* Keep-alives alone hand up no message: no hook. */
    guint calls = after.calls;
    g_autoptr (GBytes) ping = g_bytes_new_static ("\r\n\r\n", 4);
    guint64 pongs = sf_sip_transport_stats (b)->tcp_pongs;
    CU_ASSERT_TRUE (sf_sip_transport_send (a, SF_SIP_TCP, lb, 0, ping, NULL));
    CU_ASSERT_TRUE (wait_count (&sf_sip_transport_stats (b)->tcp_pongs, pongs + 1, 5000));
    CU_ASSERT_EQUAL (after.calls, calls);
    CU_ASSERT_EQUAL (sf_sip_msg_cseq (ib.msgs->pdata[1])->number, 2);
    CU_ASSERT_EQUAL (sf_sip_msg_cseq (ib.msgs->pdata[2])->number, 3);
    CU_ASSERT_EQUAL (sf_sip_transport_stats (a)->tcp_connected, 1);
    CU_ASSERT_EQUAL (sf_sip_transport_stats (b)->tcp_accepted, 1);
    /* No Nagle on either end: the accepted connection and the one opened. */
    CU_ASSERT_TRUE (sf_sip_transport_conn_nodelay (b, from->conn));
    CU_ASSERT_TRUE (sf_sip_transport_conn_nodelay (a, ((SfSipPeer *) ia.peers->pdata[0])->conn));
    CU_ASSERT_FALSE (sf_sip_transport_conn_nodelay (b, from->conn + 1000));
  }
  sf_sip_transport_free (a);
  sf_sip_transport_free (b);
  inbox_clear (&ia);
  inbox_clear (&ib);
}

static void
udp_exchange (void)
{
  exchange ("127.0.0.1", "UDP", SF_SIP_UDP);
}

static void
tcp_exchange (void)
{
  exchange ("127.0.0.1", "TCP", SF_SIP_TCP);
}

static void
ipv6 (void)
{
  exchange ("::1", "UDP", SF_SIP_UDP);
  exchange ("::1", "TCP", SF_SIP_TCP);
}

/* IPV6_V6ONLY of @s (TRUE: IPv6 only). */
static gboolean
v6only (GSocket *s)
{
  gint v = -1;
  g_assert (g_socket_get_option (s, IPPROTO_IPV6, IPV6_V6ONLY, &v, NULL));
  return v != 0;
}

/* A new IPv6 UDP socket, unbound: IPV6_V6ONLY as GLib leaves it (the
 * kernel's net.ipv6.bindv6only), the one sf_sip_transport_listen's get. */
static GSocket *
udp6_socket (void)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_assert (s != NULL);
  return s;
}

/* An IPv4 peer of a [::] listener over @proto.  Dual-stack (IPV6_V6ONLY off):
 * seen as its IPv4 address (received= and the peer), answered through the
 * socket or connection its request came in on, and (UDP) a request to an
 * IPv4 address sent through it.  IPv6 only: over UDP no IPv4 destination is
 * reachable (can_send says so, a send fails cleanly); over TCP the IPv4 peer
 * is refused.  @set_v6only (UDP): -1 the socket sf_sip_transport_listen
 * makes, else one the test made with the option set so, both branches run
 * whatever the host's default.  @batch: UDP datagrams leave at the end of the
 * turn (sf_sip_transport_set_udp_batch), the way a running stack sends, else
 * at once (the unit tests' fake clock). */
static void
dual_stack_one (SfSipProto proto, gint set_v6only, gboolean batch)
{
  Inbox ia, ib;
  inbox_init (&ia);
  inbox_init (&ib);
  SfSipTransport *a = sf_sip_transport_new (NULL, on_recv, &ia);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  sf_sip_transport_set_udp_batch (a, batch);
  sf_sip_transport_set_udp_batch (b, batch);
  const char *name = proto == SF_SIP_UDP ? "udp" : "tcp";
  g_autofree char *spec_a = g_strdup_printf ("%s:127.0.0.1:0", name);
  g_autofree char *spec_b = g_strdup_printf ("%s:[::]:0", name);
  g_autoptr (GInetSocketAddress) la = listen_on (a, spec_a);
  g_autoptr (GInetSocketAddress) lb = NULL;
  g_autoptr (GSocket) probe = udp6_socket ();
  gboolean only6 = v6only (probe);
  if (set_v6only < 0) {
    lb = listen_on (b, spec_b);
  } else {
    CU_ASSERT_TRUE_FATAL (g_socket_set_option (probe, IPPROTO_IPV6, IPV6_V6ONLY, set_v6only, NULL));
    only6 = v6only (probe);
    CU_ASSERT_EQUAL (only6, set_v6only != 0);
    g_autoptr (GInetAddress) any6 = g_inet_address_new_any (G_SOCKET_FAMILY_IPV6);
    g_autoptr (GSocketAddress) at = g_inet_socket_address_new (any6, 0);
    CU_ASSERT_TRUE_FATAL (g_socket_bind (probe, at, FALSE, NULL));
    CU_ASSERT_TRUE_FATAL (sf_sip_transport_listen_udp_socket (b, probe, &lb, NULL));
  }
  CU_ASSERT_PTR_NOT_NULL_FATAL (la);
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) to = g_inet_socket_address_new (lo, g_inet_socket_address_get_port (lb));
  if (only6 && proto == SF_SIP_UDP) {
    CU_ASSERT_FALSE (sf_sip_transport_can_send (b, SF_SIP_UDP, la));
    g_autoptr (SfSipMsg) back = options (2, "[::1]:5999", "UDP");
    g_autoptr (GBytes) bw = sf_sip_msg_serialize (back);
    g_autoptr (GError) e = NULL;
    CU_ASSERT_FALSE (sf_sip_transport_send (b, SF_SIP_UDP, la, 0, bw, &e));
    CU_ASSERT_TRUE (g_error_matches (e, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED));
  } else if (only6) {
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GError) e = NULL;
    g_autoptr (GSocketConnection) c = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (to), NULL, &e);
    CU_ASSERT_PTR_NULL (c);
    CU_ASSERT_TRUE (g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED));
  } else {
    g_autofree char *sent_by = g_strdup_printf ("127.0.0.1:%u", g_inet_socket_address_get_port (la));
    g_autoptr (SfSipMsg) req = options (1, sent_by, proto == SF_SIP_UDP ? "UDP" : "TCP");
    g_autoptr (GBytes) wire = sf_sip_msg_serialize (req);
    CU_ASSERT_TRUE (sf_sip_transport_send (a, proto, G_INET_SOCKET_ADDRESS (to), 0, wire, NULL));
    CU_ASSERT_TRUE_FATAL (wait_for (&ib, 1));
    SfSipPeer *from = ib.peers->pdata[0];
    CU_ASSERT_EQUAL (g_inet_address_get_family (g_inet_socket_address_get_address (from->remote)), G_SOCKET_FAMILY_IPV4);
    g_autofree char *text = g_inet_address_to_string (g_inet_socket_address_get_address (from->remote));
    CU_ASSERT_STRING_EQUAL (text, "127.0.0.1");
    if (proto == SF_SIP_UDP) /* a's socket (TCP: a port of the kernel's choosing) */
      CU_ASSERT_EQUAL (g_inet_socket_address_get_port (from->remote), g_inet_socket_address_get_port (la));
    /* rport asked for received=: the IPv4 address, as the sent-by names it */
    const SfSipParam *received = sf_sip_value_param (sf_sip_msg_top_via (ib.msgs->pdata[0]), "received");
    CU_ASSERT_PTR_NOT_NULL_FATAL (received);
    CU_ASSERT_TRUE (sf_sip_str_eq (received->value, "127.0.0.1"));
    g_autoptr (SfSipMsg) resp = sf_sip_create_response (ib.msgs->pdata[0], 200, NULL, "t1", NULL);
    g_autoptr (GError) error = NULL;
    CU_ASSERT_TRUE (sf_sip_transport_send_response (b, resp, from, &error));
    CU_ASSERT_TRUE_FATAL (wait_for (&ia, 1));
    CU_ASSERT_EQUAL (sf_sip_msg_status (ia.msgs->pdata[0]), 200);
    if (proto == SF_SIP_UDP) {
      /* a request of b's own to an IPv4 address: b has no IPv4 socket, its [::] one sends it */
      CU_ASSERT_TRUE (sf_sip_transport_can_send (b, SF_SIP_UDP, la));
      g_autoptr (SfSipMsg) back = options (2, "[::1]:5999", "UDP");
      g_autoptr (GBytes) bw = sf_sip_msg_serialize (back);
      CU_ASSERT_TRUE (sf_sip_transport_send (b, SF_SIP_UDP, la, 0, bw, NULL));
      CU_ASSERT_TRUE_FATAL (wait_for (&ia, 2));
      CU_ASSERT_EQUAL (sf_sip_msg_cseq (ia.msgs->pdata[1])->number, 2);
    }
  }
  sf_sip_transport_free (a);
  sf_sip_transport_free (b);
  inbox_clear (&ia);
  inbox_clear (&ib);
}

static void
dual_stack (void)
{
  dual_stack_one (SF_SIP_UDP, -1, FALSE);
  dual_stack_one (SF_SIP_UDP, 0, FALSE);
  dual_stack_one (SF_SIP_UDP, 0, TRUE);
  dual_stack_one (SF_SIP_UDP, 1, FALSE);
  dual_stack_one (SF_SIP_UDP, 1, TRUE);
  dual_stack_one (SF_SIP_TCP, -1, FALSE);
}

static gboolean
set_flag (GSocket *s, GIOCondition c, gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* A UDP socket on 127.0.0.1, any port. */
static GSocket *
udp_socket (void)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_assert (g_socket_bind (s, any, FALSE, NULL));
  return s;
}

/* Turns the main loop until @s is readable or 5 s pass; says which. */
static gboolean
wait_readable (GSocket *s)
{
  gboolean out = FALSE, readable = FALSE;
  guint id = g_timeout_add (5000, timed_out, &out);
  GSource *src = g_socket_create_source (s, G_IO_IN, NULL);
  g_source_set_callback (src, G_SOURCE_FUNC (set_flag), &readable, NULL);
  g_source_attach (src, NULL);
  while (!out && !readable)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (src);
  g_source_unref (src);
  if (!out)
    g_source_remove (id);
  return readable;
}

/* Sends @text from a plain UDP socket and returns the reply (5 s at most) or NULL. */
static char *
raw_exchange (GInetSocketAddress *to, const char *text, gsize len, gboolean want_reply)
{
  g_autoptr (GSocket) s = udp_socket ();
  g_socket_send_to (s, G_SOCKET_ADDRESS (to), text, len, NULL, NULL);
  if (!want_reply)
    return NULL;
  /* The transport answers from the main loop: turn it until the reply is readable. */
  wait_readable (s);
  char buf[2048];
  g_socket_set_blocking (s, FALSE);
  gssize n = g_socket_receive (s, buf, sizeof buf - 1, NULL, NULL);
  return n > 0 ? g_strndup (buf, (gsize) n) : NULL;
}

/* Turns the main loop until @t has dropped @n datagrams or 5 s pass. */
static gboolean
wait_dropped (SfSipTransport *t, guint64 n)
{
  gboolean out = FALSE;
  guint id = g_timeout_add (5000, timed_out, &out);
  while (sf_sip_transport_stats (t)->dropped < n && !out)
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  return sf_sip_transport_stats (t)->dropped >= n;
}

/* The head of an OPTIONS with a Content-Length of @cl: five digits, so its
 * length does not depend on @cl. */
static char *
options_head (const char *call_id, gsize cl)
{
  return g_strdup_printf ("OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK%s\r\n"
                          "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n"
                          "Content-Type: text/plain\r\nContent-Length: %05u\r\n\r\n",
                          call_id, call_id, (guint) cl);
}

/* An OPTIONS of exactly @size bytes (its body pads it). */
static char *
sized_options (gsize size, const char *call_id)
{
  g_autofree char *probe = options_head (call_id, 0);
  gsize body = size - strlen (probe);
  g_autofree char *head = options_head (call_id, body);
  char *m = g_malloc (size + 1);
  memcpy (m, head, strlen (head));
  memset (m + strlen (head), 'x', body);
  m[size] = '\0';
  return m;
}

/* What a remote party controls on the UDP read path: the datagram's length
 * (one of exactly the limit is read; one byte more, or a datagram the buffer
 * truncates (MSG_TRUNC), is dropped and counted, and the next one is read
 * whole) and its source address: the same source is the same address object
 * (cached), and 300 sources leave at most 64 addresses cached. */
static void
udp_read_limits (void)
{
  Inbox ib;
  inbox_init (&ib);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  sf_sip_transport_set_udp_max (b, 1000);
  g_autoptr (GInetSocketAddress) lb = listen_on (b, "udp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  g_autoptr (GSocket) s = udp_socket ();
  g_autofree char *at = sized_options (1000, "at");
  g_autofree char *over = sized_options (1001, "over");
  g_autofree char *trunc = sized_options (3000, "trunc");
  g_autofree char *again = sized_options (1000, "again");
  CU_ASSERT_EQUAL_FATAL (strlen (at), 1000);
  g_socket_send_to (s, G_SOCKET_ADDRESS (lb), at, 1000, NULL, NULL);
  g_socket_send_to (s, G_SOCKET_ADDRESS (lb), over, 1001, NULL, NULL);
  g_socket_send_to (s, G_SOCKET_ADDRESS (lb), trunc, 3000, NULL, NULL);
  g_socket_send_to (s, G_SOCKET_ADDRESS (lb), again, 1000, NULL, NULL);
  CU_ASSERT_TRUE_FATAL (wait_for (&ib, 2));
  CU_ASSERT_EQUAL (sf_sip_transport_stats (b)->dropped, 2);
  SfSipStr id = sf_sip_msg_call_id (ib.msgs->pdata[1]);
  CU_ASSERT_TRUE (sf_sip_str_eq (id, "again"));
  CU_ASSERT_EQUAL (sf_sip_msg_body (ib.msgs->pdata[1]).len, strlen (strstr (again, "\r\n\r\n") + 4));
  SfSipPeer *p0 = ib.peers->pdata[0], *p1 = ib.peers->pdata[1];
  CU_ASSERT_PTR_EQUAL (p0->remote, p1->remote);
  g_autoptr (GSocketAddress) mine = g_socket_get_local_address (s, NULL);
  CU_ASSERT_EQUAL (g_inet_socket_address_get_port (p0->remote), g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (mine)));
  /* A flood of sources: garbage from 300 ports, in rounds the socket buffer holds. */
  GSocket *flood[300];
  guint64 dropped = 2;
  for (guint i = 0; i < G_N_ELEMENTS (flood); i++) {
    flood[i] = udp_socket ();
    g_socket_send_to (flood[i], G_SOCKET_ADDRESS (lb), "\x01\x02 flood", 8, NULL, NULL);
    if (i % 32 == 31 || i + 1 == G_N_ELEMENTS (flood)) {
      dropped += i % 32 + 1;
      CU_ASSERT_TRUE_FATAL (wait_dropped (b, dropped));
    }
  }
  CU_ASSERT_TRUE (sf_sip_transport_udp_peers (b) <= 64);
  CU_ASSERT_TRUE (sf_sip_transport_udp_peers (b) >= 16);
  /* The first source again, whether or not the flood pushed it out: its own address. */
  g_autofree char *last = sized_options (500, "last");
  g_socket_send_to (s, G_SOCKET_ADDRESS (lb), last, 500, NULL, NULL);
  CU_ASSERT_TRUE_FATAL (wait_for (&ib, 3));
  SfSipPeer *p2 = ib.peers->pdata[2];
  CU_ASSERT_TRUE (g_inet_socket_address_get_port (p2->remote) == g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (mine)));
  for (guint i = 0; i < G_N_ELEMENTS (flood); i++)
    g_object_unref (flood[i]);
  sf_sip_transport_free (b);
  inbox_clear (&ib);
}

static void
udp_bad_request (void)
{
  Inbox ib;
  inbox_init (&ib);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  g_autoptr (GInetSocketAddress) lb = listen_on (b, "udp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  /* Garbage is dropped and counted. */
  raw_exchange (lb, "\x01\x02 hello", 8, FALSE);
  /* A request whose Via has no host is answered 400 at the packet's source. */
  const char *bad = "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP ;branch=z9hG4bKx\r\n"
                    "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: bad1\r\nCSeq: 1 OPTIONS\r\n\r\n";
  g_autofree char *reply = raw_exchange (lb, bad, strlen (bad), TRUE);
  CU_ASSERT_PTR_NOT_NULL_FATAL (reply);
  CU_ASSERT_TRUE (g_str_has_prefix (reply, "SIP/2.0 400 Bad Request (Via: expected a host at offset"));
  CU_ASSERT_PTR_NOT_NULL (strstr (reply, "\r\nTo: <sip:b@h>;tag="));
  CU_ASSERT_PTR_NOT_NULL (strstr (reply, "\r\nCall-ID: bad1\r\n"));
  CU_ASSERT_TRUE (g_str_has_suffix (reply, "Content-Length: 0\r\n\r\n"));
  /* Another SIP version: 505 (RFC 4475 badvers). */
  const char *v7 = "OPTIONS sip:b@127.0.0.1 SIP/7.0\r\nVia: SIP/7.0/UDP 127.0.0.1;branch=z9hG4bKv7\r\n"
                   "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: v7\r\nCSeq: 1 OPTIONS\r\n\r\n";
  g_autofree char *r505 = raw_exchange (lb, v7, strlen (v7), TRUE);
  CU_ASSERT_TRUE (r505 != NULL && g_str_has_prefix (r505, "SIP/2.0 505 Version Not Supported ("));
  /* A response whose Content-Length runs past the datagram: dropped (18.3); a
   * request with it: 400 naming it (18.3), as a Request-URI that does not parse. */
  const char *rcl = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKr\r\n"
                    "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: r\r\nCSeq: 1 OPTIONS\r\nContent-Length: 500\r\n\r\n";
  raw_exchange (lb, rcl, strlen (rcl), FALSE);
  const char *cl = "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKcl\r\n"
                   "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: cl\r\nCSeq: 1 OPTIONS\r\nContent-Length: 500\r\n\r\nabc";
  g_autofree char *rcl400 = raw_exchange (lb, cl, strlen (cl), TRUE);
  CU_ASSERT_TRUE (rcl400 != NULL &&
                  g_str_has_prefix (rcl400, "SIP/2.0 400 Bad Request (Content-Length: 500 is more than the 3 bytes"));
  const char *ru = "OPTIONS sip:b@127.0.0.1;lr= SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKru\r\n"
                   "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: ru\r\nCSeq: 1 OPTIONS\r\n\r\n";
  g_autofree char *rru = raw_exchange (lb, ru, strlen (ru), TRUE);
  CU_ASSERT_TRUE (rru != NULL && g_str_has_prefix (rru, "SIP/2.0 400 Bad Request (Request-URI: URI: parameter 'lr' has"));
  CU_ASSERT_EQUAL (ib.msgs->len, 0);
  CU_ASSERT_EQUAL (sf_sip_transport_stats (b)->dropped, 2);
  CU_ASSERT_EQUAL (sf_sip_transport_stats (b)->bad_requests, 4);
  sf_sip_transport_free (b);
  inbox_clear (&ib);
}

static void
listen_specs (void)
{
  SfSipProto proto;
  GInetSocketAddress *addr = NULL;
  CU_ASSERT_TRUE (sf_sip_listen_spec_parse ("tcp:[::1]:5070", &proto, &addr, NULL));
  CU_ASSERT_EQUAL (proto, SF_SIP_TCP);
  CU_ASSERT_EQUAL (g_inet_socket_address_get_port (addr), 5070);
  g_clear_object (&addr);
  CU_ASSERT_TRUE (sf_sip_listen_spec_parse ("tls:127.0.0.1:5061", &proto, &addr, NULL));
  CU_ASSERT_EQUAL (proto, SF_SIP_TLS);
  g_clear_object (&addr);
  CU_ASSERT_TRUE (sf_sip_listen_spec_parse ("ws:127.0.0.1:8080", &proto, &addr, NULL));
  CU_ASSERT_EQUAL (proto, SF_SIP_WS);
  CU_ASSERT_EQUAL (g_inet_socket_address_get_port (addr), 8080);
  g_clear_object (&addr);
  CU_ASSERT_TRUE (sf_sip_listen_spec_parse ("wss:[::1]:8443", &proto, &addr, NULL));
  CU_ASSERT_EQUAL (proto, SF_SIP_WSS);
  g_clear_object (&addr);
  CU_ASSERT_STRING_EQUAL (sf_sip_proto_via (SF_SIP_WSS), "WSS");
  CU_ASSERT_STRING_EQUAL (sf_sip_proto_name (SF_SIP_WS), "ws");
  CU_ASSERT_TRUE (sf_sip_proto_is_stream (SF_SIP_WS) && sf_sip_proto_is_stream (SF_SIP_WSS) && sf_sip_proto_is_ws (SF_SIP_WSS) &&
                  !sf_sip_proto_is_ws (SF_SIP_TLS));
  CU_ASSERT_TRUE (sf_sip_proto_from_name (SF_SIP_STR_LIT ("WSS"), &proto) && proto == SF_SIP_WSS);
  CU_ASSERT_FALSE (sf_sip_proto_from_name (SF_SIP_STR_LIT ("sctp"), &proto));
  CU_ASSERT_STRING_EQUAL (sf_sip_proto_via (SF_SIP_TLS), "TLS");
  CU_ASSERT_STRING_EQUAL (sf_sip_proto_name (SF_SIP_TLS), "tls");
  CU_ASSERT_TRUE (sf_sip_proto_is_stream (SF_SIP_TLS) && sf_sip_proto_is_stream (SF_SIP_TCP) &&
                  !sf_sip_proto_is_stream (SF_SIP_UDP));
  static const char *const bad[] = { "sctp:127.0.0.1:5060", "udp:127.0.0.1", "udp:localhost:5060", "udp:[::1]5060",
                                     "udp:127.0.0.1:70000", "tcp:127.0.0.1:x", "wsx:127.0.0.1:80", ":127.0.0.1:80" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    CU_ASSERT_FALSE (sf_sip_listen_spec_parse (bad[i], &proto, &addr, &error));
    CU_ASSERT_PTR_NOT_NULL (error);
  }
}

static void
response_from_receiving_socket (void)
{
  Inbox ia, ib;
  inbox_init (&ia);
  inbox_init (&ib);
  SfSipTransport *a = sf_sip_transport_new (NULL, on_recv, &ia);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  g_autoptr (GInetSocketAddress) la = listen_on (a, "udp:127.0.0.1:0");
  g_autoptr (GInetSocketAddress) lb1 = listen_on (b, "udp:127.0.0.1:0");
  g_autoptr (GInetSocketAddress) lb2 = listen_on (b, "udp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb2);
  g_autoptr (SfSipMsg) req = options (1, "127.0.0.1:5999", "UDP");
  g_autoptr (GBytes) wire = sf_sip_msg_serialize (req);
  CU_ASSERT_TRUE (sf_sip_transport_send (a, SF_SIP_UDP, lb2, 0, wire, NULL));
  CU_ASSERT_TRUE_FATAL (wait_for (&ib, 1));
  g_autoptr (SfSipMsg) resp = sf_sip_create_response (ib.msgs->pdata[0], 200, NULL, "t", NULL);
  CU_ASSERT_TRUE (sf_sip_transport_send_response (b, resp, ib.peers->pdata[0], NULL));
  CU_ASSERT_TRUE_FATAL (wait_for (&ia, 1));
  SfSipPeer *from = ia.peers->pdata[0];
  CU_ASSERT_EQUAL (g_inet_socket_address_get_port (from->remote), g_inet_socket_address_get_port (lb2));
  sf_sip_transport_free (a);
  sf_sip_transport_free (b);
  inbox_clear (&ia);
  inbox_clear (&ib);
}

static void
tcp_idle_close (void)
{
  Inbox ia, ib;
  inbox_init (&ia);
  inbox_init (&ib);
  SfSipTransport *a = sf_sip_transport_new (NULL, on_recv, &ia);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  sf_sip_transport_set_tcp_idle (b, 1);
  g_autoptr (GInetSocketAddress) lb = listen_on (b, "tcp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  g_autoptr (SfSipMsg) req = options (1, "127.0.0.1:5999", "TCP");
  g_autoptr (GBytes) wire = sf_sip_msg_serialize (req);
  CU_ASSERT_TRUE (sf_sip_transport_send (a, SF_SIP_TCP, lb, 0, wire, NULL));
  CU_ASSERT_TRUE_FATAL (wait_for (&ib, 1));
  CU_ASSERT_EQUAL (sf_sip_transport_stats (b)->tcp_closed, 0);
  gboolean out = FALSE;
  guint id = g_timeout_add (5000, timed_out, &out);
  while (!out && sf_sip_transport_stats (b)->tcp_closed == 0)
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  CU_ASSERT_EQUAL (sf_sip_transport_stats (b)->tcp_closed, 1);
  sf_sip_transport_free (a);
  sf_sip_transport_free (b);
  inbox_clear (&ia);
  inbox_clear (&ib);
}

/* Runs the main loop until *@counter reaches @n or @ms pass; TRUE if it did. */
static gboolean
wait_count (const guint64 *counter, guint64 n, guint ms)
{
  gboolean out = FALSE;
  guint id = g_timeout_add (ms, timed_out, &out);
  while (!out && *counter < n)
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  return *counter >= n;
}

/* Runs the main loop for @ms. */
static void
run_for (guint ms)
{
  gboolean out = FALSE;
  g_timeout_add (ms, timed_out, &out);
  while (!out)
    g_main_context_iteration (NULL, TRUE);
}

/* A plain TCP client connected to @to (the kernel completes the handshake
 * before the transport accepts). */
static GSocket *
raw_connect (GInetSocketAddress *to)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_assert (s != NULL);
  g_assert (g_socket_connect (s, G_SOCKET_ADDRESS (to), NULL, NULL));
  g_socket_set_blocking (s, FALSE);
  return s;
}

static void
raw_send (GSocket *s, const char *text)
{
  g_socket_set_blocking (s, TRUE);
  g_assert (g_socket_send (s, text, strlen (text), NULL, NULL) == (gssize) strlen (text));
  g_socket_set_blocking (s, FALSE);
}

/* Turns the main loop until @s has something to read or @ms pass, then reads:
 * bytes read, 0 at the end of the stream, -1 when nothing came. */
static gssize
raw_read (GSocket *s, char *buf, gsize size, guint ms)
{
  gboolean out = FALSE, readable = FALSE;
  guint id = g_timeout_add (ms, timed_out, &out);
  GSource *src = g_socket_create_source (s, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (src, G_SOURCE_FUNC (set_flag), &readable, NULL);
  g_source_attach (src, NULL);
  while (!out && !readable)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (src);
  g_source_unref (src);
  if (!out)
    g_source_remove (id);
  if (!readable)
    return -1;
  gssize n = g_socket_receive (s, buf, size, NULL, NULL);
  return n < 0 ? 0 : n; /* a reset is an end too */
}

static char *
options_text (guint cseq)
{
  g_autoptr (SfSipMsg) m = options (cseq, "127.0.0.1:5999", "TCP");
  g_autoptr (GBytes) w = sf_sip_msg_serialize (m);
  return g_strndup (g_bytes_get_data (w, NULL), g_bytes_get_size (w));
}

static void
tcp_limits (void)
{
  Inbox ib;
  inbox_init (&ib);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  sf_sip_transport_set_tcp_limits (b, 30, 2, 3);
  g_autoptr (GInetSocketAddress) lb = listen_on (b, "tcp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  const SfSipTransportStats *st = sf_sip_transport_stats (b);
  /* Two from 127.0.0.1 are kept, the third is closed at once. */
  GSocket *c[4];
  for (int i = 0; i < 3; i++)
    c[i] = raw_connect (lb);
  CU_ASSERT_TRUE (wait_count (&st->tcp_refused, 1, 5000));
  CU_ASSERT_EQUAL (st->tcp_accepted, 2);
  char buf[64];
  CU_ASSERT_EQUAL (raw_read (c[2], buf, sizeof buf, 5000), 0);
  /* The kept ones still work. */
  g_autofree char *req = options_text (1);
  raw_send (c[0], req);
  CU_ASSERT_TRUE (wait_for (&ib, 1));
  /* One closed by its peer frees its slot. */
  g_socket_close (c[1], NULL);
  CU_ASSERT_TRUE (wait_count (&st->tcp_closed, 1, 5000));
  c[3] = raw_connect (lb);
  CU_ASSERT_TRUE (wait_count (&st->tcp_accepted, 3, 5000));
  CU_ASSERT_EQUAL (st->tcp_refused, 1);
  /* The total: 2 in all, whatever the source may still open. */
  sf_sip_transport_set_tcp_limits (b, 30, 10, 2);
  GSocket *extra = raw_connect (lb);
  CU_ASSERT_TRUE (wait_count (&st->tcp_refused, 2, 5000));
  CU_ASSERT_EQUAL (raw_read (extra, buf, sizeof buf, 5000), 0);
  g_object_unref (extra);
  for (int i = 0; i < 4; i++)
    g_object_unref (c[i]);
  sf_sip_transport_free (b);
  inbox_clear (&ib);
}

static void
tcp_stall (void)
{
  Inbox ib;
  inbox_init (&ib);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  sf_sip_transport_set_tcp_idle (b, 60);
  sf_sip_transport_set_tcp_limits (b, 1, 8, 8);
  g_autoptr (GInetSocketAddress) lb = listen_on (b, "tcp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  const SfSipTransportStats *st = sf_sip_transport_stats (b);
  /* A whole message, then half of another: closed after 1 s, not 60. */
  GSocket *half = raw_connect (lb);
  g_autofree char *req = options_text (1);
  raw_send (half, req);
  CU_ASSERT_TRUE_FATAL (wait_for (&ib, 1));
  gint64 t0 = g_get_monotonic_time ();
  raw_send (half, "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999");
  char buf[64];
  CU_ASSERT_EQUAL (raw_read (half, buf, sizeof buf, 5000), 0);
  CU_ASSERT_EQUAL (st->tcp_closed_stalled, 1);
  CU_ASSERT_TRUE (g_get_monotonic_time () - t0 >= G_USEC_PER_SEC / 2);
  /* Silent from the start (or keep-alives only): no whole message within 1 s. */
  GSocket *mute = raw_connect (lb);
  raw_send (mute, "\r\n\r\n");
  CU_ASSERT_EQUAL (raw_read (mute, buf, sizeof buf, 5000), 2); /* the pong */
  CU_ASSERT_EQUAL (raw_read (mute, buf, sizeof buf, 5000), 0);
  CU_ASSERT_EQUAL (st->tcp_closed_stalled, 2);
  CU_ASSERT_EQUAL (st->tcp_closed_idle, 0);
  CU_ASSERT_EQUAL (ib.msgs->len, 1);
  g_object_unref (half);
  g_object_unref (mute);
  sf_sip_transport_free (b);
  inbox_clear (&ib);
}

/* Pings @s every 200 ms for @ms; the number of pongs read, or -1 if it closed. */
static int
ping_for (GSocket *s, guint ms)
{
  int pongs = 0;
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (g_get_monotonic_time () < end) {
    raw_send (s, "\r\n\r\n");
    char buf[16];
    gssize n = raw_read (s, buf, sizeof buf, 1000);
    if (n == 0)
      return -1;
    if (n == 2 && memcmp (buf, "\r\n", 2) == 0)
      pongs++;
    run_for (200);
  }
  return pongs;
}

static void
tcp_keepalive (void)
{
  Inbox ib;
  inbox_init (&ib);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  sf_sip_transport_set_tcp_idle (b, 1);
  sf_sip_transport_set_tcp_limits (b, 30, 8, 8);
  g_autoptr (GInetSocketAddress) lb = listen_on (b, "tcp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  const SfSipTransportStats *st = sf_sip_transport_stats (b);
  g_autofree char *req = options_text (1);
  /* No flow: the pings are answered but the connection goes after 1 s. */
  GSocket *plain = raw_connect (lb);
  raw_send (plain, req);
  CU_ASSERT_TRUE_FATAL (wait_for (&ib, 1));
  CU_ASSERT_EQUAL (ping_for (plain, 3000), -1);
  CU_ASSERT_EQUAL (st->tcp_closed_idle, 1);
  CU_ASSERT_TRUE (st->tcp_pongs >= 1);
  /* A registered flow: 3 s of pings keep it; without them it goes. */
  GSocket *flow = raw_connect (lb);
  raw_send (flow, req);
  CU_ASSERT_TRUE_FATAL (wait_for (&ib, 2));
  CU_ASSERT_TRUE (sf_sip_transport_mark_flow (b, ib.peers->pdata[1], 3600));
  CU_ASSERT_TRUE (ping_for (flow, 3000) >= 10);
  CU_ASSERT_EQUAL (st->tcp_closed_idle, 1);
  /* Unmarked: the pings no longer count. */
  CU_ASSERT_TRUE (sf_sip_transport_mark_flow (b, ib.peers->pdata[1], 0));
  CU_ASSERT_EQUAL (ping_for (flow, 3000), -1);
  CU_ASSERT_EQUAL (st->tcp_closed_idle, 2);
  /* Not a TCP connection (any more): FALSE. */
  CU_ASSERT_FALSE (sf_sip_transport_mark_flow (b, ib.peers->pdata[1], 60));
  g_object_unref (plain);
  g_object_unref (flow);
  sf_sip_transport_free (b);
  inbox_clear (&ib);
}

/* Issue 14 item 5 over TCP: a request line that does not parse still frames by its
 * Content-Length and is answered 400 on the connection, which stays open; a
 * request with repeated parameters is delivered. */
static void
tcp_bad_request (void)
{
  Inbox ib;
  inbox_init (&ib);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  g_autoptr (GInetSocketAddress) lb = listen_on (b, "tcp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  GSocket *c = raw_connect (lb);
  raw_send (c, "OPTIONS sip:b@127.0.0.1;transport= SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKt1\r\n"
               "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: t1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
  char buf[2048];
  gssize n = raw_read (c, buf, sizeof buf - 1, 5000);
  CU_ASSERT_TRUE_FATAL (n > 0);
  buf[n] = '\0';
  CU_ASSERT_TRUE (g_str_has_prefix (buf, "SIP/2.0 400 Bad Request (Request-URI: URI: parameter 'transport' has"));
  raw_send (c, "OPTIONS sip:b@127.0.0.1;transport=tcp;transport=tcp SIP/2.0\r\n"
               "Via: SIP/2.0/TCP 127.0.0.1;rport;branch=z9hG4bKt2;rport\r\n"
               "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2;tag=2\r\nCall-ID: t2\r\nCSeq: 2 OPTIONS\r\nContent-Length: 0\r\n\r\n");
  CU_ASSERT_TRUE_FATAL (wait_for (&ib, 1));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_value_param (sf_sip_msg_to (ib.msgs->pdata[0]), "tag")->value, "2"));
  CU_ASSERT_EQUAL (sf_sip_transport_stats (b)->bad_requests, 1);
  CU_ASSERT_EQUAL (sf_sip_transport_stats (b)->dropped, 0);
  g_object_unref (c);
  sf_sip_transport_free (b);
  inbox_clear (&ib);
}

static GPtrArray *
numeric (const char *u)
{
  g_autoptr (SfSipUri) uri = sf_sip_uri_parse (sf_sip_str (u, strlen (u)), NULL, NULL);
  g_assert (uri != NULL);
  return sf_sip_resolve_numeric (uri, SF_SIP_PROTO_BIT (SF_SIP_UDP) | SF_SIP_PROTO_BIT (SF_SIP_TCP));
}

static gboolean
target_is (GPtrArray *ts, guint i, SfSipProto proto, const char *ip, guint port)
{
  if (ts == NULL || i >= ts->len)
    return FALSE;
  SfSipTarget *t = ts->pdata[i];
  g_autofree char *a = g_inet_address_to_string (g_inet_socket_address_get_address (t->addr));
  return t->proto == proto && strcmp (a, ip) == 0 && g_inet_socket_address_get_port (t->addr) == port;
}

static void
on_resolved (GObject *src, GAsyncResult *res, gpointer data)
{
  GPtrArray **out = data;
  *out = sf_sip_resolve_finish (res, NULL);
  if (*out == NULL)
    *out = g_ptr_array_new (); /* done, with nothing */
}

static void
resolve (void)
{
  g_autoptr (GPtrArray) a = numeric ("sip:bob@127.0.0.1:5070;transport=tcp");
  CU_ASSERT_TRUE (target_is (a, 0, SF_SIP_TCP, "127.0.0.1", 5070));
  g_autoptr (GPtrArray) b = numeric ("sips:bob@[::1]");
  CU_ASSERT_TRUE (target_is (b, 0, SF_SIP_TCP, "::1", 5061));
  g_autoptr (GPtrArray) c = numeric ("sip:bob@biloxi.example.com;maddr=192.0.2.9");
  CU_ASSERT_TRUE (target_is (c, 0, SF_SIP_UDP, "192.0.2.9", 5060));
  g_autoptr (GPtrArray) d = numeric ("sip:bob@biloxi.example.com");
  CU_ASSERT_PTR_NULL (d); /* a name: a lookup is needed */
  /* A name with a port: A/AAAA only (4.2), answered by /etc/hosts for localhost. */
  g_autoptr (SfSipUri) u = sf_sip_uri_parse (SF_SIP_STR_LIT ("sip:bob@localhost:5099"), NULL, NULL);
  GPtrArray *got = NULL;
  SfSipResolver *r = sf_sip_resolver_new (NULL, 1000, 2, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  sf_sip_resolve_async (r, u, SF_SIP_PROTO_BIT (SF_SIP_UDP), NULL, on_resolved, &got);
  gboolean out = FALSE;
  guint id = g_timeout_add (5000, timed_out, &out);
  while (got == NULL && !out)
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  CU_ASSERT_PTR_NOT_NULL_FATAL (got);
  gboolean found = FALSE;
  for (guint i = 0; i < got->len; i++)
    found |= target_is (got, i, SF_SIP_UDP, "127.0.0.1", 5099) || target_is (got, i, SF_SIP_UDP, "::1", 5099);
  CU_ASSERT_TRUE (found);
  g_ptr_array_unref (got);
  g_autoptr (SfSipUri) tel = sf_sip_uri_parse (SF_SIP_STR_LIT ("tel:+12015550123"), NULL, NULL);
  CU_ASSERT_PTR_NULL (sf_sip_resolve_numeric (tel, SF_SIP_PROTOS_ALL));
  sf_sip_resolver_free (r);
}

static void
count_critical (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
  (*(guint *) data)++;
}

/* A transport listening on TCP (a specific address: client_for keeps a
 * client slot for it) and freed before it ever connected out: no GLib
 * critical (the slot is empty, not an object to unref). */
static void
tcp_listen_free (void)
{
  guint criticals = 0;
  guint h = g_log_set_handler ("GLib-GObject", G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL, count_critical, &criticals);
  SfSipTransport *t = sf_sip_transport_new (NULL, on_recv, NULL);
  g_autoptr (GInetSocketAddress) bound = listen_on (t, "tcp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL (bound);
  sf_sip_transport_free (t);
  g_log_remove_handler ("GLib-GObject", h);
  CU_ASSERT_EQUAL (criticals, 0);
}

/* What an operator gets wrong in [tls]: each error says which key and file. */
static void
tls_config_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("sf-tls-XXXXXX", NULL);
  g_autofree char *junk = g_build_filename (dir, "junk.pem", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.pem", NULL);
  CU_ASSERT_FATAL (g_file_set_contents (junk, "not a certificate\n", -1, NULL));
  struct {
    const char *cert, *key, *ca, *verify, *min, *want;
  } cases[] = {
    { missing, NULL, NULL, "off", "1.2", "tls.certificate '" },
    { junk, missing, NULL, "off", "1.2", "tls.key '" },
    { junk, NULL, NULL, "off", "1.2", "tls.certificate '" },
    { NULL, NULL, junk, "off", "1.2", "tls.ca_file '" },
    { NULL, NULL, missing, "off", "1.2", "tls.ca_file '" },
    { NULL, junk, NULL, "off", "1.2", "tls.key '" },
    { NULL, NULL, NULL, "sometimes", "1.2", "tls.verify_client: " },
    { NULL, NULL, NULL, "off", "1.1", "tls.min_version: " },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (SfSipTlsConfig) c = sf_sip_tls_config_load (cases[i].cert, cases[i].key, cases[i].ca, cases[i].verify, TRUE,
                                                           cases[i].min, &error);
    CU_ASSERT_PTR_NULL (c);
    CU_ASSERT_TRUE_FATAL (error != NULL);
    CU_ASSERT_TRUE (g_str_has_prefix (error->message, cases[i].want));
    const char *file = cases[i].want[4] == 'v' || cases[i].want[4] == 'm' ? NULL
                       : g_str_has_prefix (cases[i].want, "tls.key") ? cases[i].key
                       : g_str_has_prefix (cases[i].want, "tls.ca")  ? cases[i].ca
                                                                       : cases[i].cert;
    CU_ASSERT_TRUE (file == NULL || strstr (error->message, file) != NULL);
  }
  /* nothing named: the system's CAs, no certificate of ours */
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipTlsConfig) none = sf_sip_tls_config_load (NULL, NULL, NULL, "require", FALSE, "1.3", &error);
  CU_ASSERT_TRUE_FATAL (none != NULL);
  CU_ASSERT_TRUE (none->cert == NULL && none->db == NULL && none->verify_client == SF_SIP_TLS_VERIFY_REQUIRE &&
                  none->min_version == 13 && !none->verify_server);
  /* listening for TLS needs a certificate */
  SfSipTransport *t = sf_sip_transport_new (NULL, on_recv, NULL);
  sf_sip_transport_set_tls (t, none);
  SfSipProto proto;
  g_autoptr (GInetSocketAddress) addr = NULL;
  CU_ASSERT_FATAL (sf_sip_listen_spec_parse ("tls:127.0.0.1:0", &proto, &addr, NULL));
  g_autoptr (GError) lerr = NULL;
  CU_ASSERT_FALSE (sf_sip_transport_listen (t, proto, addr, NULL, &lerr));
  CU_ASSERT_TRUE (lerr != NULL && strstr (lerr->message, "tls.certificate") != NULL);
  g_clear_object (&addr);
  CU_ASSERT_FATAL (sf_sip_listen_spec_parse ("wss:127.0.0.1:0", &proto, &addr, NULL));
  g_clear_error (&lerr);
  CU_ASSERT_FALSE (sf_sip_transport_listen (t, proto, addr, NULL, &lerr));
  CU_ASSERT_TRUE (lerr != NULL && strstr (lerr->message, "tls.certificate") != NULL);
  sf_sip_transport_free (t);
  g_unlink (junk);
  g_rmdir (dir);
}

static void
on_ws_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  *(SoupWebsocketConnection **) data = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, NULL);
}

/* A WebSocket client (libsoup's) sends a request to a ws: listener: the
 * after-read hook runs in the turn that read it, after it. */
static void
ws_after_read (void)
{
  Inbox ib;
  inbox_init (&ib);
  SfSipTransport *b = sf_sip_transport_new (NULL, on_recv, &ib);
  AfterRead after = { &ib, 0, 0 };
  sf_sip_transport_set_after_read (b, on_after_read, &after);
  g_autoptr (GInetSocketAddress) lb = listen_on (b, "ws:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (lb);
  g_autofree char *uri = g_strdup_printf ("ws://127.0.0.1:%u/", g_inet_socket_address_get_port (lb));
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) upgrade = soup_message_new ("GET", uri);
  static const char *const sip_only[] = { "sip", NULL };
  SoupWebsocketConnection *ws = NULL;
  soup_session_websocket_connect_async (session, upgrade, NULL, (char **) sip_only, G_PRIORITY_DEFAULT, NULL,
                                        on_ws_connected, &ws);
  gboolean out = FALSE;
  guint id = g_timeout_add (5000, timed_out, &out);
  while (ws == NULL && !out)
    g_main_context_iteration (NULL, TRUE);
  if (!out)
    g_source_remove (id);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ws);
  CU_ASSERT_EQUAL (after.calls, 0);
  g_autoptr (SfSipMsg) req = options (1, "127.0.0.1:5999", "WS");
  g_autoptr (GBytes) wire = sf_sip_msg_serialize (req);
  g_autofree char *text = g_strndup (g_bytes_get_data (wire, NULL), g_bytes_get_size (wire));
  soup_websocket_connection_send_text (ws, text);
  CU_ASSERT_TRUE (wait_for (&ib, 1));
  CU_ASSERT_EQUAL (after.calls, 1);
  CU_ASSERT_EQUAL (after.seen, 1);
  g_object_unref (ws);
  sf_sip_transport_free (b);
  inbox_clear (&ib);
}

static void
ws_never_connects (void)
{
  SfSipTransport *t = sf_sip_transport_new (NULL, on_recv, NULL);
  SfSipProto proto;
  g_autoptr (GInetSocketAddress) addr = NULL;
  g_autoptr (GInetSocketAddress) bound = NULL;
  CU_ASSERT_FATAL (sf_sip_listen_spec_parse ("ws:127.0.0.1:0", &proto, &addr, NULL));
  CU_ASSERT_TRUE (sf_sip_transport_listen (t, proto, addr, &bound, NULL));
  CU_ASSERT_TRUE (bound != NULL && g_inet_socket_address_get_port (bound) != 0);
  CU_ASSERT_PTR_NOT_NULL (sf_sip_transport_local (t, SF_SIP_WS));
  static const char msg[] = "OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n\r\n";
  g_autoptr (GBytes) wire = g_bytes_new_static (msg, sizeof msg - 1);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_sip_transport_send (t, SF_SIP_WS, bound, 0, wire, &error));
  CU_ASSERT_TRUE (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED));
  CU_ASSERT_EQUAL (sf_sip_transport_n_conns (t), 0);
  sf_sip_transport_free (t);
}


typedef struct {
  guint calls;
  GIOErrorEnum code;
  char *wire;
  guint64 sender;
} Failed;

static void
on_udp_failed (GInetSocketAddress *dest, GBytes *wire, guint64 sender, const GError *error, gpointer data)
{
  Failed *f = data;
  (void) dest;
  f->calls++;
  f->sender = sender;
  f->code = (GIOErrorEnum) error->code;
  g_free (f->wire);
  f->wire = g_strndup (g_bytes_get_data (wire, NULL), g_bytes_get_size (wire));
}

static void
send_text (SfSipTransport *t, GInetSocketAddress *to, const char *text)
{
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE (sf_sip_transport_send (t, SF_SIP_UDP, to, 0, b, &error));
}

/* The next datagram on @s as a string (5 s at most), or NULL. */
static char *
next_datagram (GSocket *s)
{
  char buf[256];
  g_socket_set_timeout (s, 5);
  gssize n = g_socket_receive (s, buf, sizeof buf, NULL, NULL);
  return n >= 0 ? g_strndup (buf, (gsize) n) : NULL;
}

/* Reads @n datagrams from @s and checks they are @prefix0 .. @prefix(n-1) from @first. */
static gboolean
datagrams_in_order (GSocket *s, const char *prefix, guint first, guint n)
{
  for (guint i = first; i < first + n; i++) {
    g_autofree char *got = next_datagram (s);
    g_autofree char *want = g_strdup_printf ("%s%u", prefix, i);
    if (g_strcmp0 (got, want) != 0) {
      g_printerr ("datagram %u: got %s\n", i, got != NULL ? got : "nothing");
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
send_idle (gpointer data)
{
  gpointer *args = data;
  send_text (args[0], args[1], "idle");
  return G_SOURCE_REMOVE;
}

static void
udp_send_batch (void)
{
  Inbox ia;
  inbox_init (&ia);
  Failed f = { 0 };
  SfSipTransport *a = sf_sip_transport_new (NULL, on_recv, &ia);
  sf_sip_transport_set_udp_batch (a, TRUE);
  sf_sip_transport_set_udp_failed (a, on_udp_failed, &f);
  g_autoptr (GInetSocketAddress) la = listen_on (a, "udp:127.0.0.1:0");
  CU_ASSERT_PTR_NOT_NULL_FATAL (la);
  const SfSipTransportStats *st = sf_sip_transport_stats (a);
  g_autoptr (GSocket) r = udp_socket ();
  g_autoptr (GSocketAddress) ra = g_socket_get_local_address (r, NULL);
  GInetSocketAddress *to = G_INET_SOCKET_ADDRESS (ra);
  /* Ten in one turn: none leaves before its end, all in order after it. */
  for (guint i = 0; i < 10; i++) {
    g_autofree char *text = g_strdup_printf ("m%u", i);
    send_text (a, to, text);
  }
  CU_ASSERT_EQUAL (g_socket_condition_check (r, G_IO_IN), 0);
  CU_ASSERT_EQUAL (st->sent, 0);
  g_main_context_iteration (NULL, FALSE);
  CU_ASSERT_EQUAL (st->sent, 10);
  CU_ASSERT_TRUE (datagrams_in_order (r, "m", 0, 10));
  /* From an idle callback: it leaves before the loop sleeps, with nothing else to wake it. */
  gpointer args[2] = { a, to };
  g_idle_add (send_idle, args);
  CU_ASSERT_TRUE (wait_readable (r));
  g_autofree char *idle = next_datagram (r);
  CU_ASSERT_STRING_EQUAL (idle, "idle");
  /* A failure in the middle: counted, handed to the hook; the rest still sent. */
  g_autoptr (GInetAddress) bcast = g_inet_address_new_from_string ("255.255.255.255");
  g_autoptr (GSocketAddress) bad = g_inet_socket_address_new (bcast, g_inet_socket_address_get_port (to));
  /* The hook hears who queued it (named before the send, unnamed after:
   * the flush runs in nobody's name). */
  send_text (a, to, "e0");
  CU_ASSERT_EQUAL (sf_sip_transport_set_sender (a, 41), 0);
  send_text (a, G_INET_SOCKET_ADDRESS (bad), "broadcast");
  CU_ASSERT_EQUAL (sf_sip_transport_set_sender (a, 0), 41);
  send_text (a, to, "e1");
  sf_sip_transport_flush (a);
  CU_ASSERT_EQUAL (f.calls, 1);
  CU_ASSERT_EQUAL (f.code, G_IO_ERROR_PERMISSION_DENIED);
  CU_ASSERT_STRING_EQUAL (f.wire, "broadcast");
  CU_ASSERT_EQUAL (f.sender, 41);
  CU_ASSERT_EQUAL (st->send_errors, 1);
  CU_ASSERT_EQUAL (st->sent, 13);
  CU_ASSERT_TRUE (datagrams_in_order (r, "e", 0, 2));
  /* A send buffer full (or the kernel short of buffers): a loss, counted, not
   * told (a peer can fill the buffer; retransmissions are for losses); a
   * refusal that is not a loss is told. */
  sf_sip_transport_fail_sends (a, EAGAIN, 1);
  send_text (a, to, "full");
  sf_sip_transport_flush (a);
  sf_sip_transport_fail_sends (a, ENOBUFS, 1);
  send_text (a, to, "nobufs");
  sf_sip_transport_flush (a);
  CU_ASSERT_EQUAL (f.calls, 1);
  CU_ASSERT_EQUAL (st->send_errors, 3);
  sf_sip_transport_fail_sends (a, EPERM, 1);
  send_text (a, to, "refused");
  sf_sip_transport_flush (a);
  CU_ASSERT_EQUAL (f.calls, 2);
  CU_ASSERT_STRING_EQUAL (f.wire, "refused");
  CU_ASSERT_EQUAL (f.sender, 0);
  CU_ASSERT_EQUAL (st->send_errors, 4);
  CU_ASSERT_EQUAL (st->sent, 13);
  CU_ASSERT_EQUAL (g_socket_condition_check (r, G_IO_IN), 0);
  /* The cap: the 65th of a turn sends the 64 before it. */
  for (guint i = 0; i < 70; i++) {
    g_autofree char *text = g_strdup_printf ("c%u", i);
    send_text (a, to, text);
    if (i == 63)
      CU_ASSERT_EQUAL (st->sent, 13);
  }
  CU_ASSERT_EQUAL (st->sent, 13 + 64);
  CU_ASSERT_TRUE (datagrams_in_order (r, "c", 0, 64));
  CU_ASSERT_EQUAL (g_socket_condition_check (r, G_IO_IN), 0);
  g_main_context_iteration (NULL, FALSE);
  CU_ASSERT_TRUE (datagrams_in_order (r, "c", 64, 6));
  /* Held at the end: sent as the transport goes. */
  send_text (a, to, "last");
  sf_sip_transport_free (a);
  g_autofree char *last = next_datagram (r);
  CU_ASSERT_STRING_EQUAL (last, "last");
  g_free (f.wire);
  inbox_clear (&ia);
}

static void
ip_literals (void)
{
  static const char *const texts[] = {
    "127.0.0.1", "[127.0.0.1]", "10.0.0.255", "255.255.255.255", "0.0.0.0", "1.2.3", "1.2.3.4.5", "01.2.3.4",
    "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "::1", "[::1]", "[::1", "::1]", "[[::1]]", "::", "2001:db8::1",
    "2001:DB8:0:0:0:0:0:1", "::ffff:192.0.2.1", "fe80::1%lo", "[fe80::1%lo]", "fe80::1%", "1::2::3",
    "0000:0000:0000:0000:0000:0000:0000:00001", "example.com", "EXAMPLE.com", "", "[]", "[", "a:b",
    "1234:5678:9abc:def0:1234:5678:255.255.255.255",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (texts); i++) {
    const char *t = texts[i];
    /* what sf_stack_is_local() did: brackets dropped, then GLib's reading */
    gsize n = strlen (t);
    g_autofree char *bare = n >= 2 && t[0] == '[' && t[n - 1] == ']' ? g_strndup (t + 1, n - 2) : g_strdup (t);
    g_autoptr (GInetAddress) want = g_inet_address_new_from_string (bare);
    SfSipIp ip;
    gboolean got = sf_sip_ip_parse (sf_sip_str (t, n), &ip);
    CU_ASSERT_EQUAL (got, want != NULL);
    if (got && want != NULL) {
      CU_ASSERT_EQUAL (ip.family, g_inet_address_get_family (want));
      CU_ASSERT_EQUAL (memcmp (ip.bytes, g_inet_address_to_bytes (want), g_inet_address_get_native_size (want)), 0);
    }
  }
  SfSipIp a, b, c;
  CU_ASSERT_FATAL (sf_sip_ip_parse (sf_sip_str ("127.0.0.1", 9), &a) && sf_sip_ip_parse (sf_sip_str ("::1", 3), &b) &&
                   sf_sip_ip_parse (sf_sip_str ("[0:0::1]", 8), &c));
  CU_ASSERT_FALSE (sf_sip_ip_equal (&a, &b));
  CU_ASSERT_TRUE (sf_sip_ip_equal (&b, &c));
  g_autoptr (GInetSocketAddress) s1 = sf_sip_socket_address (&a, 5060);
  g_autoptr (GInetSocketAddress) s2 = sf_sip_socket_address (&a, 5060);
  g_autoptr (GInetSocketAddress) s3 = sf_sip_socket_address (&a, 5062);
  g_autoptr (GInetSocketAddress) s4 = sf_sip_socket_address (&b, 5060);
  CU_ASSERT_PTR_EQUAL (s1, s2);
  CU_ASSERT_PTR_NOT_EQUAL (s1, s3);
  CU_ASSERT_EQUAL (g_inet_socket_address_get_port (s3), 5062);
  CU_ASSERT_EQUAL (g_inet_address_get_family (g_inet_socket_address_get_address (s4)), G_SOCKET_FAMILY_IPV6);
  g_autofree char *text = sf_sip_addr_to_string (s1);
  CU_ASSERT_STRING_EQUAL (text, "127.0.0.1:5060");
  /* sf_sip_ip_text: GLib's text, IPv4 by hand on the stack, another in a string */
  static const char *const ips[] = { "0.0.0.0", "255.255.255.255", "10.0.20.3", "192.168.100.1", "::1", "::ffff:1.2.3.4" };
  for (gsize i = 0; i < G_N_ELEMENTS (ips); i++) {
    g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (ips[i]);
    g_autofree char *glib = g_inet_address_to_string (ia);
    char buf[SF_SIP_IPV4_TEXT];
    g_autofree char *owned = NULL;
    const char *mine = sf_sip_ip_text (ia, buf, &owned);
    CU_ASSERT_STRING_EQUAL (mine, glib);
    CU_ASSERT_TRUE (i < 4 ? mine == buf && owned == NULL : mine == owned);
  }

  SfSipTransport *t = sf_sip_transport_new (NULL, on_recv, NULL);
  SfSipProto proto;
  g_autoptr (GInetSocketAddress) addr = NULL;
  g_autoptr (GInetSocketAddress) bound = NULL;
  CU_ASSERT_FATAL (sf_sip_listen_spec_parse ("udp:127.0.0.1:0", &proto, &addr, NULL));
  CU_ASSERT_FATAL (sf_sip_transport_listen (t, proto, addr, &bound, NULL));
  guint port = g_inet_socket_address_get_port (bound);
  SfSipIp any;
  CU_ASSERT_FATAL (sf_sip_ip_parse (sf_sip_str ("0.0.0.0", 7), &any));
  CU_ASSERT_TRUE (sf_sip_transport_is_local (t, &a, port));
  CU_ASSERT_TRUE (sf_sip_transport_is_local (t, &a, 0));
  CU_ASSERT_FALSE (sf_sip_transport_is_local (t, &a, port == 65535 ? 1 : port + 1));
  CU_ASSERT_FALSE (sf_sip_transport_is_local (t, &b, port));
  CU_ASSERT_FALSE (sf_sip_transport_is_local (t, &any, port));
  sf_sip_transport_free (t);
}

void
sf_test_register_sip_transport (void)
{
  CU_pSuite s = CU_add_suite ("sip-transport", NULL, NULL);
  SF_ADD_TEST (s, listen_specs);
  SF_ADD_TEST (s, ip_literals);
  SF_ADD_TEST (s, ws_never_connects);
  SF_ADD_TEST (s, ws_after_read);
  SF_ADD_TEST (s, udp_exchange);
  SF_ADD_TEST (s, udp_bad_request);
  SF_ADD_TEST (s, udp_read_limits);
  SF_ADD_TEST (s, udp_send_batch);
  SF_ADD_TEST (s, tcp_bad_request);
  SF_ADD_TEST (s, tcp_exchange);
  SF_ADD_TEST (s, ipv6);
  SF_ADD_TEST (s, dual_stack);
  SF_ADD_TEST (s, response_from_receiving_socket);
  SF_ADD_TEST (s, resolve);
  SF_ADD_TEST (s, tcp_idle_close);
  SF_ADD_TEST (s, tcp_limits);
  SF_ADD_TEST (s, tcp_stall);
  SF_ADD_TEST (s, tcp_keepalive);
  SF_ADD_TEST (s, tcp_listen_free);
  SF_ADD_TEST (s, tls_config_errors);
}
