/* sf-stack.h: the transaction layer of an endpoint, the transaction module's
 * public API: transports, transaction matching (RFC 3261 17.1.3, 17.2.3, 9.2;
 * the keys are sip/sf-sip-txn-key.h's), the four transaction machines (built-in
 * flows xml/transaction/ist.xml, nist.xml, ict.xml, nict.xml, run by the engine
 * like any flow, with the operators of sf-op-txn.c), the hand-over to the
 * transaction user (the call or request instance of the flow being run,
 * 12.2.2), the default answers (sf-txn-answers.h), overload control and
 * sending (18.2.2, 18.1.1, RFC 3263).  Implemented by sf-stack.c and
 * sf-txn-*.c beside it. */
#pragma once
#include <glib.h>
#include "framework/sf-endpoint.h"
#include "framework/sf-loader.h"
#include "framework/sf-metrics.h"
#include "framework/sf-workers.h"
#include "sip/sf-sip-transport.h"

G_BEGIN_DECLS

/* The payload of SF_EV_SIP events (named after the method, or "response"), and
 * of SF_EV_TXN events ("respond": a response from the TU to send). */
typedef struct {
  SfSipMsg *msg;        /* owned ref */
  SfSipPeer peer;       /* owned */
  char *txn;            /* nullable: the server transaction's handle, in the event's block (sf_sip_event_new) */
} SfSipEvent;

SfSipEvent *sf_sip_event_new (SfSipMsg *msg, const SfSipPeer *peer, const char *txn);
void sf_sip_event_free (SfSipEvent *e);

/* SF_EV_TXN events (timeout, transport_error) carry the transaction's request
 * as their payload (SfSipMsg*) when there is one, and its handle or a reason as
 * their arg. */

/* The stack's counters, once each: the enum SfStackStat indexes them and the
 * same names are the fields of SfStackStats (what the stats event reads; its
 * JSON names are sf_stack_stats_fields()'s). */
#define SF_STACK_STATS(X) \
  X (REQUESTS, requests) \
  X (RESPONSES_SENT, responses_sent) \
  X (RETRANSMISSIONS_SENT, retransmissions_sent) \
  X (RETRANSMISSIONS_ABSORBED, retransmissions_absorbed) \
  X (TRANSACTIONS, transactions) \
  X (CALLS_ANSWERED, calls_answered) \
  X (CALLS_ENDED, calls_ended) \
  X (STATELESS, stateless) \
  X (STRAY_RESPONSES, stray_responses) \
  /* ACKs for no call, or not for its dialog (12.2.2): dropped */ \
  X (STRAY_ACKS, stray_acks) \
  /* transactions ended by Timer B, F or H, or by a transport failure */ \
  X (TIMEOUTS, timeouts) \
  X (TRANSPORT_ERRORS, transport_errors) \
  /* requests refused by policy: relaying, dialog tokens, authentication (docs/security.md) */ \
  X (REFUSED, refused) \
  /* new requests dropped: their source was over sip.rate_limit */ \
  X (RATE_LIMITED, rate_limited) \
  /* sources sip.rate_limit forgot to make room (the least recently seen) */ \
  X (RATE_EVICTED, rate_evicted) \
  /* new requests answered 503 statelessly: sip.max_instances reached */ \
  X (OVERLOADED, overloaded) \
  /* server transactions ended by their guard timer (OpTxnGuard) */ \
  X (GUARDED, guarded) \
  /* new requests answered 503 while shutting down (docs/engine.md) */ \
  X (SHUTDOWN_REFUSED, shutdown_refused) \
  /* TIMEOUTS by timer: B (INVITE client), F (non-INVITE client), H (no ACK) */ \
  X (TIMEOUTS_B, timeouts_b) \
  X (TIMEOUTS_F, timeouts_f) \
  X (TIMEOUTS_H, timeouts_h) \
  /* a UA's calls by outcome (sf_stack_count_call) and direction: metrics only */ \
  X (CALLS_IN_ANSWERED, calls_in_answered) \
  X (CALLS_IN_REJECTED, calls_in_rejected) \
  X (CALLS_IN_CANCELLED, calls_in_cancelled) \
  X (CALLS_IN_FAILED, calls_in_failed) \
  X (CALLS_OUT_ANSWERED, calls_out_answered) \
  X (CALLS_OUT_REJECTED, calls_out_rejected) \
  X (CALLS_OUT_CANCELLED, calls_out_cancelled) \
  X (CALLS_OUT_FAILED, calls_out_failed) \
  X (LOOKUPS_REFUSED, lookups_refused)

#define SF_STACK_STAT_ENUM_(u, l) SF_STACK_STAT_##u,
#define SF_STACK_STAT_FIELD_(u, l) guint64 l;
typedef enum { SF_STACK_STATS (SF_STACK_STAT_ENUM_) SF_STACK_N_STATS } SfStackStat;
/* n[SF_STACK_STAT_X] is the field x: one array, named. */
typedef union {
  guint64 n[SF_STACK_N_STATS];
  struct {
    SF_STACK_STATS (SF_STACK_STAT_FIELD_)
  };
} SfStackStats;

typedef struct _SfStack SfStack;

/* @tu: the flow whose instances are the transaction users (calls).  Loads the
 * transaction machines through @loader (a file beside @tu's flow wins over the
 * built-in copy).  Declares the [sip] configuration section in @cfg beforehand:
 * see sf_stack_declare_config(). */
SfStack *sf_stack_new (SfEndpoint *ep, SfLoader *loader, SfMachine *tu, GError **error);
/* The transaction machine @name ("ist.xml") the stack runs beside @tu: the one
 * in a transaction/ folder beside @tu's file (a user's own copy wins), else the
 * built-in one (transfer full; NULL with @error).  sipflow coverage loads them so too. */
SfMachine *sf_stack_load_txn (SfLoader *loader, SfMachine *tu, const char *name, GError **error);
void sf_stack_free (SfStack *s);
/* Puts the reloadable [sip] limits of the stack's configuration in force again
 * (a reload: max_instances, rate_limit, max_per_source, the TCP limits, and
 * the debug message lines of core.log_level); the timers are read when used. */
void sf_stack_reconfigure (SfStack *s);
/* Declares [sip] (listen, t1_ms, t2_ms, t4_ms, tcp_idle, tcp_stall, tcp_max_per_source,
 * tcp_max_connections, advertise, shutdown_retry_after) and [tls] (certificate,
 * key, ca_file, verify_client, verify_server, min_version) in @cfg. */
gboolean sf_stack_declare_config (SfConfig *cfg, GError **error);
/* Loads the [tls] files of @cfg (relative paths from the file that names
 * them); the system's CAs when none is named.  NULL with @error naming the key
 * and file when one is missing or wrong (transfer full). */
SfSipTlsConfig *sf_stack_tls_load (SfConfig *cfg, GError **error);
/* Binds "udp|tcp|tls:ADDR:PORT" and writes the 'listening' event (worker 0
 * only when @s is one worker of several: the others bind where it did). */
gboolean sf_stack_listen (SfStack *s, const char *spec, GError **error);
/* The addresses bound so far, as "proto:addr:port" specs with the port the
 * kernel gave (transfer none): what the other workers listen on. */
const GPtrArray *sf_stack_listened (SfStack *s);
const SfStackStats *sf_stack_stats (SfStack *s);
SfConfig *sf_stack_config (SfStack *s);
SfSipTransport *sf_stack_transport (SfStack *s);

/* Workers (docs/workers.md; sf-txn-workers.c).  A set of @n workers routing
 * under a key drawn from the cryptographic pool (transfer full). */
SfWorkers *sf_stack_workers_new (guint n);
/* Makes @s (its endpoint, its transport) worker @w of @set (unowned; the set
 * must go before the stack): its transport's steer hook scans each datagram
 * for its Call-ID and hands what another worker owns to that worker's inbox,
 * attached to @context (NULL: the default), where it is injected into the
 * owner's transport.  With one worker nothing is installed: a stack alone
 * never scans.  Messages over connections stay where they were read until
 * connections can be shared (docs/workers.md, step 4).  With more than one
 * worker, @s holds its share of sip.max_instances (and its endpoint of
 * core.max_queue), and a worker other than 0 counts sip.rate_limit and
 * sip.max_per_source in worker 0's table (joined first), one for the set. */
void sf_stack_join_workers (SfStack *s, SfWorkers *set, guint w, GMainContext *context);
/* For a flow that answers every request on the spot (a registrar, a redirect
 * server: no client transaction, no dialog): a request read over UDP stays
 * with the worker that read it instead of crossing to its Call-ID's owner;
 * responses keep the Call-ID rule.  Retransmissions, the ACK and a CANCEL
 * come from the request's source 4-tuple, which the kernel gives to the same
 * socket (docs/workers.md, "Requests answered on the spot").  Before or after
 * sf_stack_join_workers; without a set of several it changes nothing. */
void sf_stack_workers_answer_here (SfStack *s);
/* core.worker_source = own: one proxy worker of several forwards from a UDP
 * socket of its own (sf_stack_home_sent_by) instead of the shared listener.
 * Off by default: a peer that admits only the listener's address and port (a
 * firewall that lets in only replies, a trunk that knows its peers by
 * IP:port, a registrar that records a REGISTER's source) would not know that
 * port (docs/workers.md, "A socket of each worker's own").  Before the first
 * request forwarded. */
void sf_stack_workers_own_source (SfStack *s);
/* Is @local (a socket address the stack read from) this worker's own socket? */
gboolean sf_stack_is_home (SfStack *s, GInetSocketAddress *local);
/* The sent-by ("host:port") of this worker's own UDP socket (transfer none),
 * or NULL: core.worker_source = listener (the default), one worker alone, a
 * flow that answers on the spot, an advertised address (sip.advertise names
 * the listener, not a port of ours), no UDP socket.  A request whose top Via
 * names it leaves from that socket and its responses come back there: to this
 * worker (docs/workers.md, "A socket of each worker's own"); a request
 * arriving there is refused. */
const char *sf_stack_home_sent_by (SfStack *s);
/* A new Call-ID for a request this stack starts (sf_sip_random_call_id),
 * drawn until it hashes to this stack's worker, so that its responses and its
 * dialog's requests come back to the worker that holds its state (transfer
 * full).  Alone: the first draw. */
char *sf_stack_new_call_id (SfStack *s, const char *via_sent_by);
/* ,"sip_..." fields for the stats event (transfer full). */
char *sf_stack_stats_fields (SfStack *s);
/* The transaction module's metric families (docs/operations.md, "Metrics"):
 * messages by method and code, transactions live by machine, retransmissions,
 * timeouts, drops, TCP connections, a UA's calls. */
void sf_stack_metrics (SfStack *s, SfMetricsWriter *w);
/* Counts a UA's call that ended: answered when it went up, else cancelled,
 * rejected (a final response >= 300 sent or received) or failed (no final
 * response: a timeout, a transport or media failure, a shutdown). */
void sf_stack_count_call (SfStack *s, gboolean incoming, gboolean answered, gboolean cancelled, guint status);

/* What a flow decides about what comes in before any state is made for it, and
 * how its instances take requests: set by whoever sets the flow up (sipflow
 * run gives a proxy's flow the proxy's gate, sf_proxy_gate, and a registrar's flow
 * that fits it the registrar's, sf_registrar_gate).
 *  - admit: asked for each request that matches no transaction (not a CANCEL),
 *    with a context that has an endpoint but no instance (RFC 3261 8.2.7, 16.3:
 *    refusing and challenging need no transaction); TRUE when it answered
 *    (sf_stack_answer_stateless) or dropped the request;
 *  - trusted (nullable): which sources sip.rate_limit and sip.max_per_source
 *    leave alone;
 *  - stray (nullable): a response that matches no client transaction (counted
 *    in stray_responses, within its source's sip.rate_limit); without it, it is
 *    dropped (17.1.3).  A proxy forwards its own statelessly (16.7, 16.11:
 *    operators/proxy/sf-proxy-stateless.c);
 *  - per_transaction: the flow's instances are one per server transaction,
 *    keyed like it, not calls keyed by Call-ID and From tag (a transaction-
 *    stateful proxy, 16): a CANCEL goes to its INVITE's instance (16.10), the
 *    ACK for a 2xx gets an instance of its own (16.11), and while shutting down
 *    every request outside a dialog is new work (refused 503). */
typedef struct {
  gboolean (*admit) (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *from, gpointer data);
  gboolean (*trusted) (SfCtx *ctx, const SfSipPeer *from, gpointer data);
  void (*stray) (SfCtx *ctx, SfSipMsg *resp, const SfSipPeer *from, gpointer data);
  gboolean per_transaction;
  gpointer data;
} SfStackGate;
void sf_stack_set_gate (SfStack *s, const SfStackGate *gate);
/* Answers @req statelessly (8.2.7: the To tag derived from the request, so a
 * retransmission gets the same response; no transaction), with @reason
 * (nullable) and further header @lines (nullable), and writes a
 * 'stateless_answer' event.  FALSE when it could not be built or sent. */
gboolean sf_stack_answer_stateless (SfStack *s, SfSipMsg *req, const SfSipPeer *to, guint status, const char *reason,
                                    const char *const *lines);

/* ---- for operators ---- */
SfStack *sf_stack_from_ctx (SfCtx *ctx);
/* T1, T2, T4 in milliseconds. */
guint sf_stack_timer_ms (SfStack *s, char which);
/* Sends @resp back the way the request of @to came (18.2.2). */
gboolean sf_stack_send_response (SfStack *s, SfSipMsg *resp, const SfSipPeer *to);
/* Gives @e's request (a server transaction's first, 17.2: @e->txn is its
 * handle) to its transaction user: a UA's call, found by Call-ID and remote tag
 * (made for a request outside a dialog; 481 for one inside a dialog no call
 * has, 12.2.2), or a proxy's request instance (16.10: a CANCEL to its
 * INVITE's, with 200 at once).  Called by OpTxnRequest.  FALSE when it could
 * neither hand it over nor answer it. */
gboolean sf_stack_to_tu (SfStack *s, SfSipEvent *e);
/* Hands @ev, a SIP request event @ctx's instance was given (by sf_stack_to_tu,
 * or by a hand-over), to @to instead: a copy goes to @to's queue (never
 * dropped: the transaction is committed to it), the server transaction reports
 * to @to from now on, and "made for this request" (the untaken answer ends
 * such an instance) moves with it.  A bridge gives the caller's INVITE, and
 * any request that reaches it before its leg holds the key (a CANCEL in the
 * same read), to its leg (docs/engine.md, "Handing a call over").  FALSE when
 * @ev is no request or @to has ended. */
gboolean sf_stack_hand_over (SfCtx *ctx, SfEvent *ev, SfInstance *to);
/* Hands @resp (transfer none) to server transaction @txn to send. */
gboolean sf_stack_respond (SfStack *s, const char *txn, SfSipMsg *resp);
/* Starts a client transaction (ICT for INVITE, NICT otherwise; RFC 3261 17.1)
 * for @req as a child of the transaction user @tu, sending to @dest (an
 * address, no failover: sf_stack_request_located() locates and fails over).  Responses reach @tu as
 * SF_EV_SIP "response" events; a timeout (Timer B, F) or a transport error as
 * SF_EV_TXN "timeout" or "transport_error".  Returns the transaction's instance. */
SfInstance *sf_stack_request (SfStack *s, SfInstance *tu, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest,
                              GError **error);
/* The transport a request whose next hop is @uri (its first Route, else its
 * Request-URI) goes over (RFC 3263 4.1): the URI's transport= when it names
 * one (TLS for sips, and for transport=tls); else UDP, or TCP when this element has no UDP socket (a
 * client uses a transport it supports).  Its top Via must name it (18.1.1). */
SfSipProto sf_stack_proto_for (SfStack *s, const SfSipUri *uri);
/* The same, with the destination located by RFC 3263 (sip/sf-sip-resolve.h)
 * from the first Route or else the Request-URI: the transaction starts once the
 * lookup answers (at once for a numeric host), to the first target this
 * element can reach, its top Via rewritten when the location picked another
 * transport than the one it names (18.1.1); a transport error, Timer B or F,
 * or a 503 there moves the request to the next target through a new client
 * transaction (RFC 3263 4.3: OpTxnFailover, a 'failover' event).  A lookup
 * that finds nothing reaches @tu as SF_EV_TXN "transport_error". */
void sf_stack_request_located (SfStack *s, SfInstance *tu, SfSipMsg *req);
/* Sends @req outside any transaction (the ACK for a 2xx) to its first Route or
 * Request-URI, located by RFC 3263 (at once for a numeric host). */
void sf_stack_send_request_located (SfStack *s, SfSipMsg *req);
/* RFC 3263 lookups in flight at once; past it a request to a name fails as one
 * whose name finds nothing (counted: lookups_refused). */
#define SF_STACK_MAX_LOOKUPS 1024
/* The same two, to @next_hop (a URI, located by RFC 3263; NULL: the first Route
 * or Request-URI): a request inside a dialog goes where
 * sf_sip_dialog_create_request() says (8.1.2: to the Request-URI when the first
 * route is a strict router, 12.2.1.1). */
void sf_stack_request_to (SfStack *s, SfInstance *tu, SfSipMsg *req, const char *next_hop);
void sf_stack_send_request_to (SfStack *s, SfSipMsg *req, const char *next_hop);
/* Sends a request outside any transaction (the ACK for a 2xx, 13.2.2.4). */
gboolean sf_stack_send_request (SfStack *s, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest);
/* The same, saying why it failed.  A sips: Request-URI is refused over UDP
 * and TCP (RFC 5630); over TLS the server's certificate is checked against the
 * host of the first Route's URI, else the Request-URI's (RFC 5922). */
gboolean sf_stack_send_request_error (SfStack *s, SfSipMsg *req, SfSipProto proto, GInetSocketAddress *dest,
                                      GError **error);
/* Did the request of @ev come over TLS (its hop only: RFC 3261 26.2.2)?  What
 * the media layer asks before offering SDES keys (RFC 4568 8). */
gboolean sf_stack_event_over_tls (const SfSipEvent *ev);
/* Restarts @ctx's timer @name with the interval it last had doubled, capped at
 * T2 when @cap (17.1.1.2, 17.1.2.2, 17.2.1, 13.3.1.4).  The first interval is the
 * one sf_stack_backoff_start() set. */
void sf_stack_backoff (SfCtx *ctx, const char *name, gboolean cap);
void sf_stack_backoff_start (SfCtx *ctx, const char *name, guint ms);
/* The address of the first socket listening on @proto ("host:port" for a Via
 * sent-by or a Contact; sip.advertise's when it is set; transfer full), or NULL. */
char *sf_stack_local (SfStack *s, SfSipProto proto);
/* The socket's own address "host:port" (an IP literal, not sip.advertise:
 * what an SDP c= line needs; transfer full), or NULL. */
char *sf_stack_local_socket (SfStack *s, SfSipProto proto);
/* sip.advertise's host, or NULL when it is not set. */
const char *sf_stack_advertised (SfStack *s);
/* Sets the local tag of @ctx's instance, a call (our To tag as UAS, our From
 * tag as UAC; copied; NULL: none): a request the call does not take whose To
 * tag is not this one is answered 481 (12.2.2), one with it 405 or 501. */
void sf_stack_set_local_tag (SfCtx *ctx, const char *tag);
/* The local tag of @ctx's instance (transfer none), NULL when none was set. */
const char *sf_stack_local_tag (SfCtx *ctx);
/* The methods a user agent on this stack takes: the Allow of the UA's
 * responses (operators/ua/sf-op-ua.c) and of every 405 the stack sends for a
 * request the call does not take (21.4.6, 20.5): one list. */
#define SF_STACK_ALLOW "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, MESSAGE, SUBSCRIBE, NOTIFY, REFER"
/* The scope of subscription instances (xml/subscription.xml): a NOTIFY or
 * SUBSCRIBE with a To tag goes first to the one keyed "Call-ID|To tag" (our
 * tag: sf_stack_call_key (call_id, local tag)), RFC 6665 4.1.2.4. */
#define SF_STACK_SUBSCRIPTION_SCOPE "subscription"
/* The key calls are found by for requests coming in: "Call-ID|remote tag". */
char *sf_stack_call_key (const char *call_id, const char *remote_tag);
/* Is @host (an IP literal, IPv6 with or without brackets) and @port an address
 * this element listens on, or sip.advertise's?  (A proxy's own Record-Route and
 * Via, 16.3, 16.4.)  @port 0: with any port (a registrar's domain check). */
gboolean sf_stack_is_local (SfStack *s, const char *host, guint port);
/* The same for @host as the parser holds it (no copy). */
gboolean sf_stack_is_local_host (SfStack *s, SfSipStr host, guint port);
/* The client transaction (instance) that sends @req, or NULL (matched by branch
 * and method, 17.1.3): the one that took over when that failed over to another
 * target (RFC 3263 4.3), when @tu (nullable) is its transaction user. */
SfInstance *sf_stack_client_txn (SfStack *s, SfInstance *tu, SfSipMsg *req);
/* Starts a client transaction for @cancel, the CANCEL of @invite (9.1), as a
 * child of @tu, to the address and transport @invite's client transaction
 * sends to, not located again; located (sf_stack_request_located) when that
 * transaction is gone or this one cannot start.  @invite's transaction no
 * longer fails over (RFC 3263 4.3): a 503 or Timer B after the CANCEL ends it. */
void sf_stack_request_cancel (SfStack *s, SfInstance *tu, SfSipMsg *invite, SfSipMsg *cancel);
/* For fuzzing: with @on FALSE, a request whose next hop is a name (not an
 * address) fails at once (txn:transport_error) instead of a DNS lookup. */
void sf_stack_set_lookups (SfStack *s, gboolean on);
/* sip.shutdown_retry_after: the Retry-After seconds of the 503 a request that
 * comes while shutting down gets (RFC 3261 21.5.4, 20.33). */
guint sf_stack_shutdown_retry_after (SfStack *s);
/* Counts one @what for the stats event (SF_STACK_STAT_SHUTDOWN_REFUSED: a 503
 * made by the flow while shutting down, like the stack's own). */
void sf_stack_count (SfStack *s, SfStackStat what);

/* ---- for tests ---- */
/* sip.rate_limit's decision (a token taken when TRUE) for a request from
 * @addr (an IP literal) port @port, trusted sources and 0 (off) included. */
gboolean sf_stack_rate_ok_for_test (SfStack *s, const char *addr, guint port);
/* Empties the rate table and bounds it to @max sources (65,536 otherwise). */
void sf_stack_set_rate_sources_for_test (SfStack *s, guint max);
/* The sources the rate table holds. */
guint sf_stack_rate_sources_for_test (SfStack *s);
/* Tests: the stripes of the per-source table (sip.max_per_source) holding a source. */
guint sf_stack_held_stripes_for_test (SfStack *s);
/* The request server transaction @txn (an instance of @ep) took (transfer
 * none), NULL before it took one. */
SfSipEvent *sf_stack_txn_request_for_test (SfEndpoint *ep, SfInstance *txn);

G_END_DECLS
