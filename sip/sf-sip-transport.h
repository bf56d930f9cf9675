/* sf-sip-transport.h: SIP over UDP, TCP and TLS, IPv4 and IPv6, several listening
 * addresses on one GLib main context (RFC 3261 18).
 *
 * Receiving (18.2.1): datagrams are read in batches (g_socket_receive_messages);
 * streams are framed by Content-Length (18.3).  A request whose top Via names
 * another address than the packet's source gets received=; a Via with rport gets
 * its value (RFC 3581).  A request that frames but does not parse is answered
 * 400 with a reason phrase naming the problem, sent to the packet's source; what
 * cannot be answered (no start line, a response) is dropped.  Both are logged
 * (truncated, masked) and counted.
 * Sending responses (18.2.2): over the request's connection for TCP, else to the
 * top Via's maddr, received/rport, or sent-by.
 * TLS (RFC 3261 26) is a TCP connection with GIO's GTlsConnection on top: the
 * same framing, limits and timers (sip.tcp_*), the handshake within
 * sip.tcp_stall; a connection we open checks the server's certificate against
 * the name the sender gives (RFC 5922: the URI's host), else the address.
 * WebSocket (RFC 7118): a TCP (WS) or TLS (WSS) connection accepted as any
 * other, under the same limits and timers, then handed to libsoup's server for
 * the HTTP upgrade (the `sip` subprotocol required, the Origin checked against
 * sf_sip_transport_set_ws_origins); each text or binary frame is one message.
 * It is never opened by us (a browser cannot be connected to): a message for
 * a WebSocket peer goes over its connection or fails. */
#pragma once
#include <gio/gio.h>
#include "sf-sip-msg.h"
#include "sf-sip-tls.h"

G_BEGIN_DECLS

/* SF_SIP_TLS is TCP with TLS on top (RFC 3261 26): a stream like TCP, framed
 * and limited as TCP is; sf_sip_proto_is_stream() says which protocols those
 * are.  SF_SIP_WS and SF_SIP_WSS are SIP over WebSocket (RFC 7118) on TCP or
 * TLS: connections too (limited as TCP's are), framed by the WebSocket. */
typedef enum { SF_SIP_UDP, SF_SIP_TCP, SF_SIP_TLS, SF_SIP_WS, SF_SIP_WSS } SfSipProto;

/* TCP, TLS, WS or WSS: connection-oriented, reliable (no retransmission timers). */
static inline gboolean
sf_sip_proto_is_stream (SfSipProto p)
{
  return p == SF_SIP_TCP || p == SF_SIP_TLS || p == SF_SIP_WS || p == SF_SIP_WSS;
}
/* WS or WSS: only ever accepted, never connected to. */
static inline gboolean
sf_sip_proto_is_ws (SfSipProto p)
{
  return p == SF_SIP_WS || p == SF_SIP_WSS;
}
/* "udp", "tcp", "tls", "ws", "wss": the transport= parameter and the listen spec. */
const char *sf_sip_proto_name (SfSipProto p);
/* "UDP", "TCP", "TLS", "WS", "WSS": the Via's transport (RFC 3261 18.1.1, RFC 7118 5). */
const char *sf_sip_proto_via (SfSipProto p);
/* @name (a transport= value or a Via's transport, any case) as a protocol;
 * FALSE for another token. */
gboolean sf_sip_proto_from_name (SfSipStr name, SfSipProto *p);

/* Where a message came from (or goes to). */
typedef struct {
  SfSipProto proto;
  GInetSocketAddress *local;   /* owned ref */
  GInetSocketAddress *remote;  /* owned ref */
  guint conn;                  /* TCP, TLS: the connection's id; 0 for UDP */
} SfSipPeer;

void sf_sip_peer_clear (SfSipPeer *p);
void sf_sip_peer_copy (SfSipPeer *dst, const SfSipPeer *src);
/* "udp:127.0.0.1:5070" (transfer full) */
char *sf_sip_peer_to_string (const SfSipProto proto, GInetSocketAddress *addr);
/* "127.0.0.1:5070", "[::1]:5070" (transfer full); NULL for NULL. */
char *sf_sip_addr_to_string (GInetSocketAddress *addr);
/* The text g_inet_address_to_string() gives of @ip, without its allocation
 * for IPv4 (once or twice a received request): an IPv4 address is written
 * into @buf, another into a new string in *@owned (NULL otherwise), which
 * the caller frees.  Returns the text. */
#define SF_SIP_IPV4_TEXT (sizeof "255.255.255.255")
const char *sf_sip_ip_text (GInetAddress *ip, char buf[SF_SIP_IPV4_TEXT], char **owned);

/* The methods sipflow knows (the RFC 3261 six and the extensions it answers),
 * then SF_SIP_METHOD_OTHER for every other token: a label set a remote party
 * cannot grow. */
#define SF_SIP_METHODS(X) \
  X (INVITE) X (ACK) X (CANCEL) X (BYE) X (OPTIONS) X (REGISTER) X (INFO) X (UPDATE) \
  X (PRACK) X (SUBSCRIBE) X (NOTIFY) X (REFER) X (MESSAGE) X (PUBLISH)
#define SF_SIP_METHOD_ENUM_(m) SF_SIP_METHOD_##m,
typedef enum { SF_SIP_METHODS (SF_SIP_METHOD_ENUM_) SF_SIP_METHOD_OTHER, SF_SIP_N_METHODS } SfSipMethodIndex;
/* @p (@len bytes) as an SfSipMethodIndex (case-sensitive, 7.1). */
SfSipMethodIndex sf_sip_method_index (const char *p, gsize len);
/* "INVITE"... "other". */
const char *sf_sip_method_index_name (SfSipMethodIndex i);
/* A response code as a label value: the code itself ("486") when RFC 3261
 * names it (sf_sip_reason_phrase), else its class ("4xx"): whatever a peer
 * sends, at most 51 codes and 6 classes (@code 100..699). */
void sf_sip_status_label (guint code, char out[4]);
/* Status codes 100..699, one slot each. */
#define SF_SIP_N_STATUS 600

typedef struct {
  guint64 received;        /* messages delivered */
  guint64 sent;
  guint64 bad_requests;    /* answered 400 */
  guint64 dropped;         /* could not be parsed nor answered */
  guint64 send_errors;
  guint64 oversize_responses; /* UDP responses over SF_SIP_MAX_UDP, sent as a bare 513 instead */
  guint64 tcp_accepted, tcp_connected, tcp_closed;
  guint64 tcp_refused;         /* accepted and closed at once: over a connection limit */
  guint64 tcp_closed_idle;     /* no whole message for sip.tcp_idle */
  guint64 tcp_closed_stalled;  /* a message not whole, or none since accepted, for sip.tcp_stall */
  guint64 tcp_pongs;           /* CRLF pongs sent (RFC 5626 4.4.1) */
  guint64 tls_failed;          /* TLS connections whose handshake failed (a certificate refused, a timeout...) */
  guint64 ws_refused;          /* WebSocket upgrades refused (no `sip` subprotocol, an Origin not allowed, not a WebSocket handshake) */
  /* The messages counted in received and sent, by method (requests, indexed by
   * sf_sip_method_index) and by status code (responses, [code - 100]): plain
   * slots, so counting costs an index and an add (docs/operations.md, Metrics). */
  guint64 requests_in[SF_SIP_N_METHODS], requests_out[SF_SIP_N_METHODS];
  guint64 responses_in[SF_SIP_N_STATUS], responses_out[SF_SIP_N_STATUS];
} SfSipTransportStats;

typedef struct _SfSipTransport SfSipTransport;

/* Sees every message that goes in or out (docs/teaching.md): @dir "in" with
 * @msg (borrowed), parsed, before the receive callback or the 400 that answers
 * it; "out" with @wire as sent (@msg NULL).  @local nullable (a TCP connection
 * not yet made). */
typedef enum { SF_SIP_TAP_IN, SF_SIP_TAP_OUT } SfSipTapDir;
typedef void (*SfSipTapFunc) (SfSipTapDir dir, SfSipProto proto, GInetSocketAddress *local,
                              GInetSocketAddress *remote, SfSipMsg *msg, GBytes *wire, gpointer data);

/* A parsed message and its source; @msg is borrowed (ref it to keep it). */
typedef void (*SfSipRecvFunc) (SfSipMsg *msg, const SfSipPeer *from, gpointer data);

/* The longest a TCP connection stays open without a whole SIP message in or
 * out (default).  Keep-alives (CRLF) extend only a registered flow's. */
#define SF_SIP_TCP_IDLE_S 64
/* The longest a message may take from its first byte to its last, and an
 * accepted connection to its first whole message (default). */
#define SF_SIP_TCP_STALL_S 10
/* Most accepted connections from one IP address at once (default). */
#define SF_SIP_TCP_MAX_PER_SOURCE 32
/* The receive buffer asked for each UDP socket (the kernel caps it at
 * net.core.rmem_max, 212992 bytes by default on Linux). */
#define SF_SIP_UDP_RCVBUF (4 * 1024 * 1024)
/* The largest UDP payload over IPv4 (65,535 less the IP and UDP headers). */
#define SF_SIP_MAX_UDP 65507
/* Most TCP connections at once (default); further ones are closed when accepted. */
#define SF_SIP_TCP_MAX_CONNS 1024
/* Most bytes waiting to be sent on one connection; past it, it is closed. */
#define SF_SIP_TCP_MAX_PENDING (1024 * 1024)

SfSipTransport *sf_sip_transport_new (GMainContext *context, SfSipRecvFunc recv, gpointer data);
/* What was queued for @dest over TCP could not be sent (the connection failed or
 * broke): called once per failed connection. */
typedef void (*SfSipSendErrorFunc) (SfSipProto proto, GInetSocketAddress *dest, const GError *error, gpointer data);
void sf_sip_transport_set_send_error (SfSipTransport *t, SfSipSendErrorFunc func, gpointer data);
/* @batch: a UDP datagram leaves at the end of the turn of the transport's
 * context it was sent in (before the context may sleep: one sendmmsg(2) for
 * the turn's datagrams), in the order sent; for a transport whose context
 * runs (the default, FALSE: at once, as a unit test that advances a fake
 * clock and reads the sockets by hand needs).  A send that fails there is counted (send_errors) and handed to
 * sf_sip_transport_set_udp_failed's @func with its destination, bytes and sender;
 * what fails before (no socket of the family, the send filter, an address
 * with no native form) still fails the send call itself. */
void sf_sip_transport_set_udp_batch (SfSipTransport *t, gboolean batch);
/* @sender: what sf_sip_transport_set_sender named when the datagram was queued
 * (0: nobody), so the hook knows whose bytes they were without reading them. */
typedef void (*SfSipUdpFailedFunc) (GInetSocketAddress *dest, GBytes *wire, guint64 sender, const GError *error,
                                    gpointer data);
void sf_sip_transport_set_udp_failed (SfSipTransport *t, SfSipUdpFailedFunc func, gpointer data);
/* The datagrams queued from now on are @sender's (an id of the caller's, 0:
 * nobody's), until it is set again; returns the sender it replaces, for the
 * caller to put back.  Only the failure hook reads it: a sender that must not
 * be found after it ended is one its owner's lookup no longer finds. */
guint64 sf_sip_transport_set_sender (SfSipTransport *t, guint64 sender);
/* Tests: the next @n datagrams the end-of-turn flush sends fail with errno @e
 * as if the kernel said so (a full send buffer is not made on demand). A
 * failure for want of room (EAGAIN, ENOBUFS, ENOMEM) is a loss: counted in
 * send_errors, not told to @func. */
void sf_sip_transport_fail_sends (SfSipTransport *t, int e, guint n);
/* Sends the UDP datagrams held since the turn began now (they leave before
 * the transport's context next sleeps anyway). */
void sf_sip_transport_flush (SfSipTransport *t);
/* A connection that carried a registered flow (sf_sip_transport_mark_flow)
 * closed, @remote its peer: called once, as it closes (it is no longer found). */
typedef void (*SfSipFlowClosedFunc) (SfSipProto proto, GInetSocketAddress *remote, gpointer data);
void sf_sip_transport_set_flow_closed (SfSipTransport *t, SfSipFlowClosedFunc func, gpointer data);
/* The TLS configuration new TLS connections get (@tls: a ref is taken;
 * NULL: none, TLS then fails); connections open keep theirs.  Set it before
 * listening on TLS. */
void sf_sip_transport_set_tls (SfSipTransport *t, SfSipTlsConfig *tls);
/* @func NULL: none (the default). */
void sf_sip_transport_set_tap (SfSipTransport *t, SfSipTapFunc func, gpointer data);
void sf_sip_transport_free (SfSipTransport *t);
/* An IP address as bytes: what a check needs without making a GInetAddress
 * (a GObject: some 4,000 instructions to make and free). */
typedef struct {
  GSocketFamily family; /* G_SOCKET_FAMILY_IPV4 or _IPV6 */
  guint8 bytes[16];     /* network order; 4 of them for IPv4 */
} SfSipIp;
/* @host, an IP literal (IPv6 with or without its "[]"), read as
 * g_inet_address_new_from_string() reads it: FALSE when it is none (a name). */
gboolean sf_sip_ip_parse (SfSipStr host, SfSipIp *ip);
/* Same family and bytes, as g_inet_address_equal(). */
gboolean sf_sip_ip_equal (const SfSipIp *a, const SfSipIp *b);
/* A socket address for @ip:@port (transfer full): one of the few this thread
 * made last when it is the same (the objects are immutable and their refs
 * atomic), else a new one.  A proxied call sends to the same two or three
 * addresses again and again; each new one is two GObjects. */
GInetSocketAddress *sf_sip_socket_address (const SfSipIp *ip, guint port);
/* For tests: the peer addresses the UDP sockets' caches hold now (each socket
 * keeps at most 64, however many sources send to it). */
guint sf_sip_transport_udp_peers (SfSipTransport *t);
/* For tests: datagrams longer than @bytes (1 to SF_SIP_MAX_MSG_SIZE, the
 * default) are dropped and counted, as a longer one than the limit is. */
void sf_sip_transport_set_udp_max (SfSipTransport *t, gsize bytes);
/* Is @ip:@port one of the addresses this transport listens on (any socket;
 * @port 0: any port)?  Address and port as they are: a socket bound to the
 * any-address is not every address. */
gboolean sf_sip_transport_is_local (SfSipTransport *t, const SfSipIp *ip, guint port);
/* Does one of the sockets listen on @port (any address)? */
gboolean sf_sip_transport_has_port (SfSipTransport *t, guint port);
/* For tests and fuzzing: @func sees every message before it is sent (@dest NULL
 * for a reply on an open TCP connection) and returns FALSE to refuse it (the send
 * then fails as an I/O error would). */
typedef gboolean (*SfSipSendFilter) (SfSipProto proto, GInetSocketAddress *dest, GBytes *wire, gpointer data);
void sf_sip_transport_set_send_filter (SfSipTransport *t, SfSipSendFilter func, gpointer data);
void sf_sip_transport_set_tcp_idle (SfSipTransport *t, guint seconds);
/* sip.tcp_stall, sip.tcp_max_per_source, sip.tcp_max_connections: see the
 * defaults above. */
void sf_sip_transport_set_tcp_limits (SfSipTransport *t, guint stall_s, guint max_per_source, guint max_conns);
/* ws.origins: the Origin values a WebSocket upgrade may carry (exact,
 * case-insensitive: "https://phone.example.com"); NULL or a list holding "*":
 * any.  An upgrade without Origin (not a browser) is always let in: whoever
 * is not a browser can write any Origin anyway.  A copy is taken. */
void sf_sip_transport_set_ws_origins (SfSipTransport *t, const char *const *origins);
/* Marks the TCP connection @peer came over as carrying a registered flow for
 * @seconds (0: no more): its CRLF keep-alives then extend its idle time (RFC
 * 5626 4.4.1; without the mark they are answered but do not count).  The
 * registrar marks a connection when it saves bindings from a REGISTER that came
 * over it, for the longest of their expiries, and unmarks it when the REGISTER
 * removed them.  FALSE when @peer is not an open TCP connection. */
gboolean sf_sip_transport_mark_flow (SfSipTransport *t, const SfSipPeer *peer, guint seconds);

/* Is a TCP connection to @dest open (or being opened)?  The one a request
 * would reuse (18); a flow whose connection is gone is reached otherwise. */
gboolean sf_sip_transport_tcp_open (SfSipTransport *t, GInetSocketAddress *dest);

/* A random nonzero value drawn when @t was made: connection ids count from 1
 * again in every process, so a flow token names a connection by its id and
 * this (sip/sf-sip-flow-token.h), and one from before a restart names none. */
guint32 sf_sip_transport_boot (SfSipTransport *t);
/* The id of the TCP connection a request to @dest goes over (open, or being
 * opened: a request sent meanwhile waits for it); 0: none. */
guint sf_sip_transport_tcp_conn_to (SfSipTransport *t, GInetSocketAddress *dest);
/* Is TCP connection @conn of this transport (@boot its sf_sip_transport_boot)
 * open, from or to @remote, and the one a request to @remote goes over (the
 * transport reuses an open connection to the address: sf_sip_transport_send)?
 * FALSE for another @boot, a closed or unknown @conn, another address. */
gboolean sf_sip_transport_tcp_flow (SfSipTransport *t, guint32 boot, guint conn, GInetSocketAddress *remote);

/* Parses "udp|tcp|tls|ws|wss:ADDR:PORT" ("[::1]" for IPv6; port 0 for a free one). */
gboolean sf_sip_listen_spec_parse (const char *spec, SfSipProto *proto, GInetSocketAddress **addr, GError **error);
/* Binds; *@bound (transfer full, nullable) gets the address with its real port. */
gboolean sf_sip_transport_listen (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *addr,
                                  GInetSocketAddress **bound, GError **error);
/* Reads and sends over @sock, a bound UDP socket the caller made (and set
 * options on: tests), as over one sf_sip_transport_listen made. */
gboolean sf_sip_transport_listen_udp_socket (SfSipTransport *t, GSocket *sock, GInetSocketAddress **bound,
                                             GError **error);
/* One worker of several: a UDP socket of this transport's own beside its
 * first UDP socket of @family (a member of the listeners' SO_REUSEPORT
 * group), on the same address and a port the kernel picks, without
 * SO_REUSEPORT.  The worker names it in the Via of what it forwards, so the
 * responses come back to this socket, not to whichever member of the group
 * the kernel's hash of their source picks (docs/workers.md, "A socket of each
 * worker's own").  Read like the others (the steer hook sees what arrives),
 * counted local (sf_sip_transport_is_local, _has_port), never the first UDP
 * socket (sf_sip_transport_local).  Returns its address (transfer none: the
 * transport's until it is freed), or NULL with @error. */
GInetSocketAddress *sf_sip_transport_open_home (SfSipTransport *t, GSocketFamily family, GError **error);

/* Sends @wire to @dest.  TCP: over connection @conn if it is open, else over an
 * open connection to @dest, else over a new one (connected asynchronously;
 * what is sent meanwhile waits for it). */
gboolean sf_sip_transport_send (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *dest, guint conn, GBytes *wire,
                                GError **error);
/* The same; a new TLS connection checks the server's certificate against
 * @name (nullable: against @dest's address); an open one to @dest is reused
 * when it was opened for the same @name (or accepted from @dest). */
gboolean sf_sip_transport_send_named (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *dest, guint conn,
                                      const char *name, GBytes *wire, GError **error);
/* Sends @wire over UDP to @dest from the socket bound to @local (the
 * transport's first of @dest's family when none is). */
gboolean sf_sip_transport_send_udp_from (SfSipTransport *t, GInetSocketAddress *local, GInetSocketAddress *dest,
                                         GBytes *wire, GError **error);
/* Sends @resp as 18.2.2 says, for a request that came from @from. */
gboolean sf_sip_transport_send_response (SfSipTransport *t, SfSipMsg *resp, const SfSipPeer *from, GError **error);

const SfSipTransportStats *sf_sip_transport_stats (SfSipTransport *t);
/* TCP connections open now (accepted and opened). */
guint sf_sip_transport_n_conns (SfSipTransport *t);
/* The address of the first socket listening on @proto (transfer none), or NULL. */
GInetSocketAddress *sf_sip_transport_local (SfSipTransport *t, SfSipProto proto);
/* Whether a message to @dest over @proto can leave (UDP needs a socket of its family). */
gboolean sf_sip_transport_can_send (SfSipTransport *t, SfSipProto proto, GInetSocketAddress *dest);
/* Does TCP connection @conn (SfSipPeer.conn) have TCP_NODELAY set, read back
 * from its socket?  Every connection, accepted or opened, gets it: no Nagle
 * delay between two messages written back to back. */
gboolean sf_sip_transport_conn_nodelay (SfSipTransport *t, guint conn);
/* Runs @bytes through the receive path as if they came from @from (tests,
 * fuzzing), and on the owner's side of a hand-off between workers: parsed
 * here, never steered. */
void sf_sip_transport_inject (SfSipTransport *t, GBytes *bytes, const SfSipPeer *from);

/* One worker of several (docs/workers.md): @func sees the raw bytes of every
 * message read from a socket (a datagram, a framed stream message), with
 * their peer, before anything parses them, and returns TRUE when it took them
 * (for the worker that owns them: it refs @bytes and copies @from); FALSE: they
 * are parsed here as always.  NULL (the default): none, and nothing is
 * scanned. */
typedef gboolean (*SfSipSteerFunc) (GBytes *bytes, const SfSipPeer *from, gpointer data);
void sf_sip_transport_set_steer (SfSipTransport *t, SfSipSteerFunc func, gpointer data);
/* Called with the steer hook's data after each batch of messages read
 * together (the datagrams of one read, one stream message) of which the hook
 * took at least one: the hook may hold back the wake-ups of the owners it
 * handed to until then, one per owner a batch instead of one a message. */
typedef void (*SfSipSteerDone) (gpointer data);
void sf_sip_transport_set_steer_done (SfSipTransport *t, SfSipSteerDone func);
/* Called with @data after each read that handed up at least one message
 * (a read of datagrams that returned any; the whole messages a TCP or TLS
 * read completed, keep-alives alone are none; a WebSocket message), all of
 * them parsed or handed over and the socket not read again yet: the stack
 * runs there what they queued, in the same turn of the loop. */
void sf_sip_transport_set_after_read (SfSipTransport *t, SfSipSteerDone func, gpointer data);
/* One socket of a group per worker (docs/workers.md): the UDP sockets
 * listened on after this get SO_REUSEPORT before bind(), so that the workers'
 * sockets share each address and the kernel spreads datagrams over them by
 * source.  Off by default: a process alone must keep its port to itself (a
 * second sipflow on it fails to bind, as today).  Stream listeners are not
 * shared yet (docs/workers.md, step 4). */
typedef enum {
  SF_SIP_REUSEPORT_OFF,   /* a socket of its own (the default) */
  SF_SIP_REUSEPORT_FIRST, /* the group's first (worker 0): its address must be free, as without the option */
  SF_SIP_REUSEPORT_JOIN,  /* joins the group the first made (the other workers: the first's ports) */
} SfSipReuseport;
void sf_sip_transport_set_reuseport (SfSipTransport *t, SfSipReuseport mode);
/* The main context the transport's sources run in (NULL: the global default). */
GMainContext *sf_sip_transport_context (SfSipTransport *t);
/* Whether a steer hook is set. */
gboolean sf_sip_transport_steers (SfSipTransport *t);
/* Runs @bytes through the path a socket read takes, the steer hook first
 * (tests: a message read by a worker that does not own it). */
void sf_sip_transport_receive (SfSipTransport *t, GBytes *bytes, const SfSipPeer *from);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfSipTransport, sf_sip_transport_free)

G_END_DECLS
