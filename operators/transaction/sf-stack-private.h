/* sf-stack-private.h: what the files of the transaction layer share
 * (operators/transaction/sf-stack.c and sf-txn-*.c): the stack's fields and
 * the functions one job offers another.  Not for other modules: they use
 * sf-stack.h. */
#pragma once
#include "sf-stack.h"

G_BEGIN_DECLS

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
  gboolean no_lookups;       /* names are not resolved (fuzzing): their requests fail */
  char *adv_host;            /* owned, nullable: sip.advertise's host (an IPv6 one in brackets) */
  guint adv_port;            /* its port, 0: the socket's */
  SfStackGate gate;          /* what the flow decides before any state (all NULL: nothing) */
  guint max_instances;       /* sip.max_instances */
  guint rate;                /* sip.rate_limit: new requests a second per source, 0: off */
  GHashTable *buckets;       /* RateKey (inside its Bucket) -> Bucket (owned) */
  GQueue lru;                /* the Buckets' links, the most recently used first */
  guint max_buckets;         /* SF_STACK_MAX_BUCKETS (smaller in tests) */
  guint max_per_source;      /* sip.max_per_source, 0: no limit */
  GHashTable *held;          /* source address (owned string) -> live server transactions (GUINT) */
};

/* sf-stack.c */
/* The gate's per_transaction: the flow's instances are one per server
 * transaction (a proxy), not calls. */
gboolean sf_stack_per_transaction (SfStack *s);

/* The flow's gate (SfStackGate), called with a context that has the endpoint
 * and no instance; FALSE (nothing) when the gate has no such function. */
gboolean sf_stack_gate_admit (SfStack *s, SfSipMsg *req, const SfSipPeer *from);
gboolean sf_stack_gate_trusted (SfStack *s, const SfSipPeer *from);
void sf_stack_gate_stray (SfStack *s, SfSipMsg *resp, const SfSipPeer *from);

/* sf-txn-match.c: the transport's receive and send-error callbacks. */
void sf_stack_on_recv (SfSipMsg *msg, const SfSipPeer *from, gpointer data);
void sf_stack_on_send_error (SfSipProto proto, GInetSocketAddress *dest, const GError *error, gpointer data);

/* sf-txn-tu.c: the endpoint's untaken hook (a request the call did not take). */
void sf_stack_untaken (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, gpointer data);

/* sf-txn-overload.c */
/* Reads sip.max_instances, rate_limit, max_per_source; makes the tables. */
void sf_stack_overload_init (SfStack *s);
void sf_stack_overload_clear (SfStack *s);
/* sip.rate_limit: may one more new request from @from's address go on (a
 * token taken when TRUE)? */
gboolean sf_stack_rate_ok (SfStack *s, const SfSipPeer *from);
/* May @from's address hold one more server transaction?  Its address
 * (transfer full), "" when it is not counted (a trusted source, no limit),
 * NULL when it holds its share already. */
char *sf_stack_source_over_share (SfStack *s, const SfSipPeer *from);
/* Counts @txn against @source (sf_stack_source_over_share()'s answer) until it is freed. */
void sf_stack_source_hold (SfStack *s, SfInstance *txn, const char *source);
/* Shutting down: does @msg (a request no server transaction has; @call its
 * call, nullable) start new work, to be refused? */
gboolean sf_stack_starts_new_work (SfStack *s, SfSipMsg *msg, const char *method, SfInstance *call);
/* 503 with Retry-After, statelessly (21.5.4, 20.33). */
void sf_stack_refuse_shutting_down (SfStack *s, SfSipMsg *msg, const SfSipPeer *from, const char *method);

/* sf-txn-send.c */
/* 8.2.7: the To tag of a stateless answer to @req, made from its transaction
 * key for @method (transfer full). */
char *sf_stack_stateless_tag (SfSipMsg *req, const char *method);

G_END_DECLS
