/* sf-stack-private.h: what the files of the transaction layer share
 * (operators/transaction/sf-stack.c and sf-txn-*.c): the stack's fields and
 * the functions one job offers another.  Not for other modules: they use
 * sf-stack.h. */
#pragma once
#include "sf-stack.h"
#include "sip/sf-sip-resolve.h"

G_BEGIN_DECLS

typedef struct _SfSourceTable SfSourceTable;

struct _SfStack {
  SfEndpoint *ep;            /* unowned */
  SfConfig *cfg;             /* unowned */
  SfSipTransport *tp;        /* owned */
  SfMachine *tu;             /* owned ref */
  SfMachine *ist, *nist;     /* owned refs */
  SfMachine *ict, *nict;     /* owned refs */
  SfStackStats stats;
  SfUntakenFunc chained;     /* the untaken hook that was there before ours */
  gpointer chained_data;
  GCancellable *lookups;     /* owned: cancelled when the stack goes, so a DNS answer after it touches nothing */
  SfSipResolver *resolver;   /* owned: RFC 3263 lookups (sip.dns_servers, dns_timeout_ms, dns_tries) */
  gboolean no_lookups;       /* names are not resolved (fuzzing): their requests fail */
  guint lookups_running;     /* RFC 3263 lookups in flight, at most SF_STACK_MAX_LOOKUPS */
  gint64 send_warn_next;     /* no transaction's failed response is logged before (the endpoint's clock, us) */
  guint send_warn_quiet;     /* those left out since the last line (sf_stack_warn_send) */
  char *adv_host;            /* owned, nullable: sip.advertise's host (an IPv6 one in brackets) */
  guint adv_port;            /* its port, 0: the socket's */
  SfSipIp adv_ip;            /* adv_host as an address, when adv_is_ip (sf_stack_is_local) */
  gboolean adv_is_ip;
  /* sf_stack_local's text for each protocol (SfSipProto) and the socket
   * address it was made from (a ref held, so a new address is never taken
   * for the old one): three a proxied call, each an address printed. */
  struct {
    GSocketAddress *addr;    /* owned ref, nullable */
    char *text;              /* owned */
  } local_text[SF_SIP_WSS + 1];
  SfStackGate gate;          /* what the flow decides before any state (all NULL: nothing) */
  SfWorkers *workers;        /* unowned, nullable: the set this stack is a worker of (sf-txn-workers.c) */
  guint worker;              /* its index there */
  GInetSocketAddress *home;  /* unowned (the transport's), nullable: this worker's own UDP socket (sf-txn-workers.c) */
  char *home_sent_by;        /* owned, nullable: its "host:port" for a Via */
  gboolean home_tried;       /* opened, or failed: not tried again */
  gboolean requests_stay;    /* a request stays with the worker that read it (sf_stack_workers_answer_here) */
  gboolean own_source;       /* core.worker_source = own: open_home may open one (sf_stack_workers_own_source) */
  GPtrArray *listened;       /* owned: "proto:addr:port" of each socket bound, in order (sf_stack_listened) */
  guint max_instances;       /* this worker's bound on its live instances: sip.max_instances alone,
                              * MIN (max, 2 max / N) in a set of N (sf-txn-overload.c) */
  guint set_max;             /* in a set of N > 1: sip.max_instances, checked against the set's live
                              * server transactions (the shared table's count); 0 alone */
  guint worker_per_source;   /* in a set of N > 2: the server transactions one source may hold at
                              * this worker, 2 max_per_source / N */
  guint rate;                /* sip.rate_limit: new requests a second per source, 0: off */
  guint t_ms[3];             /* sip.t1_ms, t2_ms, t4_ms (sf_stack_timer_ms: a dozen a proxied
                              * call, each a lookup by name), read again at a reload */
  guint max_per_source;      /* sip.max_per_source, 0: no limit */
  SfSourceTable *sources;    /* owned ref: the rate buckets and the live server transactions per source,
                              * one table for every worker of a set (sf-txn-overload.c) */
  SfSourceTable *here;       /* owned ref, NULL but in a set of N > 2: the live server transactions
                              * per source held at this worker */
  gboolean debug_messages;   /* core.log_level is debug: each message's start line is logged */
  struct {                   /* sf-txn-tap.c: the sip_in line not yet written (wire NULL: none) */
    SfSipProto proto;
    GInetSocketAddress *local, *remote; /* owned, nullable */
    SfSipMsg *msg;                      /* owned ref, nullable */
    GBytes *wire;                       /* owned */
    GSource *idle;                      /* owned, nullable: the source that writes it if nothing else does */
  } tap;
};

/* What a client transaction instance keeps: its request and where it goes,
 * and the targets the location found after that one (RFC 3263 4.3: the next
 * one gets the request, through a new client transaction, when this one
 * fails: OpTxnFailover). */
typedef struct {
  SfSipMsg *req;             /* owned ref */
  SfSipProto proto;
  GInetSocketAddress *dest;  /* owned */
  GPtrArray *targets;        /* owned, nullable: SfSipTarget, the ones not yet tried, in order */
} SfClientTxn;

/* A timer of an instance restarted with its interval doubled (sf_stack_backoff). */
typedef struct {
  char room[12]; /* the timer's name when it fits ("A", "E", "G", "2xx", "rel1xx") */
  char *owned;   /* owned, nullable: its name when it does not */
  guint ms;      /* the interval it was last started with */
} SfTxnBackoff;

typedef struct _SfTxnSourceHold SfTxnSourceHold;
typedef struct _SfTxnKept SfTxnKept;

/* What the transaction module keeps on one instance, in its slot
 * (sf_txn_inst): a server transaction's request and responses, a client
 * transaction's destination and ACK, a call's local tag, and the intervals of
 * the timers any instance backs off (a transaction's, the UA's 2xx
 * retransmission).  Every field is owned and nullable (0/FALSE: not yet). */
typedef struct {
  /* a server transaction (ist.xml, nist.xml) */
  SfSipEvent *request;      /* its first request (OpTxnRequest) */
  SfSipMsg *last;           /* a ref: the last response sent, until a final one goes out over UDP */
  SfTxnKept *kept;          /* from then: the bytes of its request and that response (sf-op-txn.c);
                             * request->msg and last are NULL */
  char *tu;                 /* the handle of the instance its request went to: it
                             * hears the timeout; a TU that ended is not found by it */
  SfTxnSourceHold *source;  /* counts it against sip.max_per_source and the set's sip.max_instances */
  /* a client transaction (ict.xml, nict.xml) */
  SfClientTxn *client;      /* set by sf_stack_request */
  SfSipMsg *final;          /* a ref: the non-2xx final response */
  SfSipMsg *ack;            /* a ref: the ACK sent for it (17.1.1.3) */
  /* a transaction user (a call) */
  char *local_tag;          /* sf_stack_set_local_tag() */
  GHashTable *moved;        /* the client key of a transaction that failed over (RFC 3263 4.3) -> its
                             * successor's, so the TU's request still finds it (sf_stack_client_txn) */
  gboolean fresh;           /* made by the stack for the request it was handed */
  /* any instance */
  SfTxnBackoff *backoff;    /* owned, nullable: n_backoff of them when more than backoff_room holds */
  guint n_backoff;
  SfTxnBackoff backoff_room[2]; /* the first two: an instance backs off one timer or two (A, E or
                             * G; the UA's 2xx), which allocate nothing here then */
} SfTxnInstance;

/* sf-stack.c */
/* The transaction module's data of @inst, an instance of @ep: made on first
 * use (transfer none; freed with the instance), or NULL when none was made
 * (_peek).  The ctx forms are for @ctx's instance. */
SfTxnInstance *sf_txn_inst_of (SfEndpoint *ep, SfInstance *inst);
SfTxnInstance *sf_txn_inst_peek_of (SfEndpoint *ep, SfInstance *inst);
SfTxnInstance *sf_txn_inst (SfCtx *ctx);
SfTxnInstance *sf_txn_inst_peek (SfCtx *ctx);

/* The gate's per_transaction: the flow's instances are one per server
 * transaction (a proxy), not calls. */
gboolean sf_stack_per_transaction (SfStack *s);

/* The flow's gate (SfStackGate), called with a context that has the endpoint
 * and no instance; FALSE (nothing) when the gate has no such function. */
gboolean sf_stack_gate_admit (SfStack *s, SfSipMsg *req, const SfSipPeer *from);
gboolean sf_stack_gate_trusted (SfStack *s, const SfSipPeer *from);
void sf_stack_gate_stray (SfStack *s, SfSipMsg *resp, const SfSipPeer *from);

/* sf-txn-workers.c: a server transaction's final response @resp to @req
 * (sf-op-txn.c keep_final): a BYE's, or an INVITE's other than 2xx, ends the
 * Call-ID's claim once the transaction can no longer absorb a retransmission. */
void sf_stack_workers_final (SfStack *s, SfSipMsg *req, const char *txn, SfSipMsg *resp);
void sf_stack_workers_begin (SfStack *s, SfSipMsg *req, const char *txn);

/* sf-txn-match.c: the transport's receive and send-error callbacks. */
void sf_stack_on_recv (SfSipMsg *msg, const SfSipPeer *from, gpointer data);

/* sf-txn-tap.c: sip_in and sip_out events (docs/teaching.md) */
void sf_stack_tap_init (SfStack *s);
void sf_stack_tap_clear (SfStack *s);
/* The transport's tap (SfSipTapFunc). */
void sf_stack_tap (SfSipTapDir dir, SfSipProto proto, GInetSocketAddress *local, GInetSocketAddress *remote,
                   SfSipMsg *msg, GBytes *wire, gpointer data);
/* Writes the held sip_in, if any. */
void sf_stack_tap_flush (SfStack *s);
void sf_stack_on_send_error (SfSipProto proto, GInetSocketAddress *dest, const GError *error, gpointer data);
/* The transport's hook for a datagram that failed at the end of its turn:
 * @sender (an instance id, 0: none) is the transaction it was sent by. */
void sf_stack_on_udp_failed (GInetSocketAddress *dest, GBytes *wire, guint64 sender, const GError *error, gpointer data);
/* A response that could not be sent, logged: "@txn: sending @status: @why"
 * (@txn nullable; @status its first three bytes).  The first is logged, then
 * at most a line per SF_STACK_SEND_WARN_EVERY_S (the endpoint's clock) with
 * the count left out before it; the count still held is said when the stack
 * goes (sf_stack_send_warn_flush). */
#define SF_STACK_SEND_WARN_EVERY_S 10
void sf_stack_warn_send (SfStack *s, const char *txn, const char *status, const char *why);
void sf_stack_send_warn_flush (SfStack *s);
void sf_txn_client_free (SfClientTxn *c);

/* sf-txn-tu.c: the endpoint's untaken hook (a request the call did not take). */
void sf_stack_untaken (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, gpointer data);

/* sf-txn-overload.c */
/* Reads sip.max_instances, rate_limit, max_per_source; makes the tables. */
void sf_stack_overload_init (SfStack *s);
void sf_stack_overload_clear (SfStack *s);
/* sip.max_instances, this worker's share of it (reload too). */
void sf_stack_overload_reconfigure (SfStack *s);
/* Worker @w of a set: the source table becomes worker 0's (@home's), shared. */
void sf_stack_overload_share (SfStack *s, SfStack *home);
/* sip.rate_limit: may one more new request from @from's address go on (a
 * token taken when TRUE)? */
gboolean sf_stack_rate_ok (SfStack *s, const SfSipPeer *from);
/* May @from's address hold one more server transaction, and the set (N > 1)
 * one more?  Its address (transfer full), "" when it is not counted (a
 * trusted source, no limit), NULL when it or the set holds its bound already. */
char *sf_stack_source_over_share (SfStack *s, const SfSipPeer *from);
/* Counts @txn against @source (sf_stack_source_over_share()'s answer, taken:
 * transfer full) and against the set's sip.max_instances (N > 1) until it is freed. */
void sf_stack_source_hold (SfStack *s, SfInstance *txn, char *source);
/* Ends a hold (SfTxnInstance.source): its source and the set hold one transaction less. */
void sf_txn_source_hold_free (SfTxnSourceHold *h);
/* Shutting down: does @msg (a request no server transaction has; @call its
 * call, nullable) start new work, to be refused? */
gboolean sf_stack_starts_new_work (SfStack *s, SfSipMsg *msg, const char *method, SfInstance *call);
/* 503 with Retry-After, statelessly (21.5.4, 20.33). */
void sf_stack_refuse_shutting_down (SfStack *s, SfSipMsg *msg, const SfSipPeer *from, const char *method);

/* sf-txn-send.c */
/* The transports the location may pick for a next hop: those this element
 * listens on (a Via's sent-by names one), TLS once sf_stack_tls_ready(). */
guint sf_stack_protos (SfStack *s);
/* Can a next hop be reached over TLS?  The one place the location asks:
 * always, since every stack has a TLS client configuration. */
gboolean sf_stack_tls_ready (SfStack *s);
/* @req with its top Via naming @proto (the sent-by this element has for it,
 * when the transport changes) and branch @branch (NULL: as it was): a new
 * message, or a new ref of @req when nothing changes; NULL when it does not
 * rebuild. */
SfSipMsg *sf_stack_via_for (SfStack *s, SfSipMsg *req, SfSipProto proto, const char *branch);
/* @msg with the top Via of @like (transfer full; a new ref of @msg when they
 * are the same; NULL when it does not rebuild). */
SfSipMsg *sf_stack_via_like (SfSipMsg *msg, SfSipMsg *like);
/* A client transaction as sf_stack_request(), with the targets to fail over
 * to (transfer full, nullable). */
SfInstance *sf_stack_request_targets (SfStack *s, SfInstance *tu, SfSipMsg *req, SfSipProto proto,
                                      GInetSocketAddress *dest, GPtrArray *targets, GError **error);
/* RFC 3263 4.3: the request of client transaction @txn to the next of its
 * targets, through a new client transaction (a new branch) of the same
 * transaction user; @why ("timeout", "transport_error", "503") is written in
 * the 'failover' event.  FALSE when no target is left (the TU hears of the failure). */
gboolean sf_stack_failover (SfStack *s, SfInstance *txn, const char *why);
/* sf_stack_send_response and sf_stack_send_request from transaction @txn:
 * what the transport queues is named as @txn's (sf_stack_on_udp_failed). */
gboolean sf_stack_send_response_by (SfStack *s, SfInstance *txn, SfSipMsg *resp, const SfSipPeer *to);
gboolean sf_stack_send_request_by (SfStack *s, SfInstance *txn, SfSipMsg *req, SfSipProto proto,
                                   GInetSocketAddress *dest);
/* 8.2.7: the To tag of a stateless answer to @req, made from its transaction
 * key for @method (transfer full). */
char *sf_stack_stateless_tag (SfSipMsg *req, const char *method);

G_END_DECLS
