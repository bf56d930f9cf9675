/* sf-workers.h: a set of workers, each a whole engine (an endpoint with its
 * modules, stack and transport), and the inboxes through which one worker
 * hands another the work it owns (docs/workers.md).
 *
 * Which worker owns a message is a pure function of its Call-ID, keyed so that
 * a peer cannot aim every call at one worker (sf_workers_route).  The worker
 * that reads a message it does not own posts it to the owner's inbox; the
 * owner runs a slice of its inbox (SF_WORKERS_RUN_MAX items) each time its
 * main context turns (the inbox is a GSource of that context) or the set is
 * drained.  A message's inbox is bounded (sf_workers_offer): past its bound a
 * hand-off is dropped and counted, as a full socket buffer drops a datagram.  The set knows nothing
 * of SIP: an inbox holds closures; the SIP stack posts the raw bytes and their
 * peer (operators/transaction/sf-txn-workers.c).
 *
 * Each worker's inbox is a source of the context given to
 * sf_workers_set_worker: in tests every worker runs on one main context and on
 * fake clocks that sf_workers_advance() moves together, so every cross-worker
 * path runs deterministically (docs/workers.md, step 1); 'sipflow run' with
 * core.workers > 1 gives each worker a thread and a context of its own (step
 * 3), and a hand-off wakes the owner's context when the owner may be asleep
 * in poll() (an owner awake finds the item before it next sleeps).  The inbox
 * is under a mutex. */
#pragma once
#include <glib.h>
#include "sf-endpoint.h"

G_BEGIN_DECLS

/* Most workers in a set (core.workers: 1 to 64). */
#define SF_WORKERS_MAX 64
/* Most items one inbox runs per turn of its context: the rest wait for the
 * next turn, so a backlog reaches the owner's event queue (core.max_queue / N)
 * a slice at a time, between its own reads and timers. */
#define SF_WORKERS_RUN_MAX 64
/* Most messages and bytes that may wait in one inbox (sf_workers_offer), by
 * default: what a socket buffer of a few MiB holds.  'sipflow run' lowers the
 * count to a worker's share of core.max_queue when that is smaller. */
#define SF_WORKERS_INBOX_MAX 4096
#define SF_WORKERS_INBOX_MAX_BYTES (4 * 1024 * 1024)

typedef struct _SfWorkers SfWorkers;

/* Work posted to a worker: runs in that worker's context with @data. */
typedef void (*SfWorkFunc) (gpointer data);

/* The owner of Call-ID @id (@len bytes) among @n workers: SipHash-2-4 under
 * @key, modulo @n (0 when @n is 1).  The same bytes always give the same
 * worker: a retransmission, the CANCEL, the ACKs, every response and every
 * in-dialog request of a call carry its Call-ID (RFC 3261 8.1.1.4, 9.1, 12,
 * 17.1.1.3), so all of them meet the call's state on one worker. */
guint sf_workers_route_key (const guint64 key[2], const char *id, gsize len, guint n);

/* A set of @n workers (1 to SF_WORKERS_MAX) routing under @key: drawn by the
 * caller from a cryptographic source (the SIP stack's sf_stack_workers_new),
 * its own, not the rate limiter's, or fixed by a test. */
SfWorkers *sf_workers_new (guint n, const guint64 key[2]);
void sf_workers_free (SfWorkers *set);
guint sf_workers_n (SfWorkers *set);
/* sf_workers_route_key under the set's key and size. */
guint sf_workers_route (SfWorkers *set, const char *id, gsize len);

/* Makes @ep (unowned) worker @w: its handles and ids are numbered by the
 * set's stride (sf_endpoint_set_worker), and @data (unowned) is what the
 * owner's side of a hand-off finds with sf_workers_data().  Its inbox is
 * attached to @context (NULL: the default).  The set never reads @ep once its
 * inboxes are closed (sf_workers_close): the engines go first, 1 to N - 1
 * then 0 (whose location the others ask: sf-location.h), then the set, whose
 * leftover items' destroys touch no engine (docs/workers.md). */
void sf_workers_set_worker (SfWorkers *set, guint w, SfEndpoint *ep, gpointer data, GMainContext *context);
SfEndpoint *sf_workers_endpoint (SfWorkers *set, guint w);
gpointer sf_workers_data (SfWorkers *set, guint w);

/* Worker @from hands @func (@data, freed with @destroy, nullable) to worker
 * @to's inbox; it runs there, in order with what @from posted before.  Any
 * thread.  Counted: handed_out of @from, handed_in of @to when it runs.
 * Never refused: for work bounded by its caller (the location layer's
 * requests in flight, max_asks), whose loss would leave a request unanswered. */
void sf_workers_hand (SfWorkers *set, guint from, guint to, SfWorkFunc func, gpointer data, GDestroyNotify destroy);
/* sf_workers_hand for what a remote party sends (a datagram of @size bytes):
 * refused when @to's inbox already holds its most items or @size more bytes
 * would pass its most bytes (sf_workers_set_inbox_max); then @data is
 * destroyed at once, @to's dropped counted, and FALSE returned.  UDP
 * retransmits what is lost so, as a datagram dropped by a full socket
 * buffer; a flood that the owner cannot keep up with costs it no more than
 * its inbox's bound in memory. */
gboolean sf_workers_offer (SfWorkers *set, guint from, guint to, SfWorkFunc func, gpointer data, GDestroyNotify destroy,
                           gsize size);
/* sf_workers_offer whose wake-up of @to, when it needs one, waits for
 * sf_workers_wake (@from): the datagrams of one read handed to one owner
 * wake it once, not once each when it drains faster than they come.  From
 * @from's thread; the caller wakes before it next waits. */
gboolean sf_workers_offer_later (SfWorkers *set, guint from, guint to, SfWorkFunc func, gpointer data,
                                 GDestroyNotify destroy, gsize size);
/* Wakes each worker an sf_workers_offer_later of @from's left unwoken. */
void sf_workers_wake (SfWorkers *set, guint from);
/* The bound of each inbox for sf_workers_offer (defaults SF_WORKERS_INBOX_MAX
 * and SF_WORKERS_INBOX_MAX_BYTES; at least 1 each).  Before the workers'
 * threads start (in one thread, as in tests: at any time). */
void sf_workers_set_inbox_max (SfWorkers *set, guint items, gsize bytes);

/* Claims (docs/workers.md, "Calls owned where they are read"): the worker
 * that reads an INVITE owns its Call-ID instead of worker_of(Call-ID), so the
 * caller's later requests (read by the same worker: one source, one socket)
 * stay there, and what another worker reads of that Call-ID is handed to it.
 * A claim is a keyed 64-bit hash of the Call-ID, its worker, its end and its
 * INVITE server transaction's hash (sf_workers_claim_bind): it
 * lives SF_WORKERS_CLAIM_MS after the last message routed by it, in a table
 * of at most SF_WORKERS_CLAIMS_MAX claims under one lock.  A full table
 * makes no claim, and none for SF_WORKERS_CLAIM_HOLD_MS after (the hash rule
 * then, for everyone), and its claims for a claim's lifetime after name the
 * hash's worker: an INVITE routed by the hash while it was full cannot be
 * claimed elsewhere by a retransmission before its transaction ends. */
#define SF_WORKERS_CLAIMS_MAX 65536
#define SF_WORKERS_CLAIM_MS (240 * 1000)
#define SF_WORKERS_CLAIM_HOLD_MS (64 * 1000)
/* Claims on (@max > 0 claims, each living @lifetime_ms after its last use) or
 * off (@max 0: the hash rule alone, the default).  Before the threads start. */
void sf_workers_set_claims (SfWorkers *set, guint max, guint lifetime_ms);
gboolean sf_workers_claims_on (SfWorkers *set);
/* An INVITE of Call-ID @id read by worker @w at @now_us (its clock): the
 * worker of the Call-ID's claim (refreshed) when there is one, else @w's new
 * claim, else (full, or claims off) worker_of (@id). */
guint sf_workers_claim (SfWorkers *set, guint w, const char *id, gsize len, gint64 now_us);
/* Any other message of @id: its claim's worker (refreshed), else worker_of. */
guint sf_workers_owner (SfWorkers *set, const char *id, gsize len, gint64 now_us);
/* Refreshes @id's claim, if any (a provisional response at a worker's own
 * socket: the INVITE it answers may ring long with nothing else routed). */
void sf_workers_touch (SfWorkers *set, const char *id, gsize len, gint64 now_us);
/* @id's call ended as the proxy sees it (a final response other than 2xx
 * to the claim's INVITE transaction @txn, or a 2xx to a BYE: @txn NULL,
 * heeded only once the claim's INVITE was answered, or none was bound):
 * its claim, if any (and bound to @txn when given), ends @within_ms from
 * @now_us (the server transaction's life for retransmissions), or at its
 * idle end if sooner; messages routed by it meanwhile do not move that on.
 * A later INVITE of @id (sf_workers_claim) makes it live again. */
void sf_workers_claim_end (SfWorkers *set, const char *id, gsize len, const char *txn, gint64 now_us, guint within_ms);
/* The INVITE server transaction @txn (its handle) started for @id: the
 * claim's own, unless one is bound already.  Only its failure
 * (sf_workers_claim_end with @txn) ends the claim: a foreign INVITE with the
 * Call-ID failing does not.  Bound only on the claim's worker @w (where its
 * INVITE's transaction runs). */
void sf_workers_claim_bind (SfWorkers *set, guint w, const char *id, gsize len, const char *txn, gint64 now_us);
/* The claim's INVITE transaction @txn sent a 2xx: from now on a BYE's 2xx
 * ends the claim (before it, the INVITE still rings for the claim's worker). */
void sf_workers_claim_answered (SfWorkers *set, const char *id, gsize len, const char *txn, gint64 now_us);
/* Claims in the table, those not yet swept after their end included. */
guint sf_workers_claims (SfWorkers *set);
/* The same after a sweep of the ended ones (at most one a second, as when
 * the table is full: the rest may have ended within the last second); for
 * status. */
guint sf_workers_claims_live (SfWorkers *set, gint64 now_us);

/* In-thread: runs every inbox and drains every endpoint until nothing moves
 * (bounded); returns the number of inbox items and events run. */
guint sf_workers_drain (SfWorkers *set);
/* Fake clocks: moves every worker's clock forward by @ms together, firing
 * every timer due on the way in deadline order across the set, with each
 * inbox and endpoint drained after each step. */
void sf_workers_advance (SfWorkers *set, guint64 ms);

/* Stops running the inboxes (their sources leave the contexts): what is handed
 * after this waits, untouched, and is freed with the set.  Run's end, once
 * every worker's loop has stopped, before their engines are torn down: no
 * hand-off then runs into an engine going away. */
void sf_workers_close (SfWorkers *set);

typedef struct {
  guint64 handed_out;  /* messages this worker read and handed to their owner */
  guint64 handed_in;   /* items this worker ran from its inbox */
  guint64 wakeups;     /* times a hand-off woke it: its inbox went from empty to not empty while it may have slept */
  guint64 dropped;     /* hand-offs to it refused, its inbox full (sf_workers_offer) */
  guint waiting;       /* items in its inbox now */
  gsize waiting_bytes; /* the bytes they declared */
} SfWorkerStats;
/* Worker @w's counters; with threads, from @w's own thread. */
void sf_workers_stats (SfWorkers *set, guint w, SfWorkerStats *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfWorkers, sf_workers_free)

G_END_DECLS
