/* sf-workers.h: a set of workers, each a whole engine (an endpoint with its
 * modules, stack and transport), and the inboxes through which one worker
 * hands another the work it owns (docs/workers.md).
 *
 * Which worker owns a message is a pure function of its Call-ID, keyed so that
 * a peer cannot aim every call at one worker (sf_workers_route).  The worker
 * that reads a message it does not own posts it to the owner's inbox; the
 * owner takes its whole inbox when its main context next turns (the inbox is a
 * GSource of that context) or when the set is drained.  The set knows nothing
 * of SIP: an inbox holds closures; the SIP stack posts the raw bytes and their
 * peer (operators/transaction/sf-txn-workers.c).
 *
 * Each worker's inbox is a source of the context given to
 * sf_workers_set_worker: in tests every worker runs on one main context and on
 * fake clocks that sf_workers_advance() moves together, so every cross-worker
 * path runs deterministically (docs/workers.md, step 1); 'sipflow run' with
 * core.workers > 1 gives each worker a thread and a context of its own (step
 * 3), and a hand-off wakes the owner's context.  The inbox is under a mutex. */
#pragma once
#include <glib.h>
#include "sf-endpoint.h"

G_BEGIN_DECLS

/* Most workers in a set (core.workers: 1 to 64). */
#define SF_WORKERS_MAX 64

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

/* Makes @ep (unowned; it must outlive the set) worker @w: its handles and ids
 * are numbered by the set's stride (sf_endpoint_set_worker), and @data
 * (unowned) is what the owner's side of a hand-off finds with
 * sf_workers_data().  Its inbox is attached to @context (NULL: the default). */
void sf_workers_set_worker (SfWorkers *set, guint w, SfEndpoint *ep, gpointer data, GMainContext *context);
SfEndpoint *sf_workers_endpoint (SfWorkers *set, guint w);
gpointer sf_workers_data (SfWorkers *set, guint w);

/* Worker @from hands @func (@data, freed with @destroy, nullable) to worker
 * @to's inbox; it runs there, in order with what @from posted before.  Any
 * thread.  Counted: handed_out of @from, handed_in of @to when it runs. */
void sf_workers_hand (SfWorkers *set, guint from, guint to, SfWorkFunc func, gpointer data, GDestroyNotify destroy);

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
  guint64 wakeups;     /* times its inbox went from empty to not empty */
} SfWorkerStats;
/* Worker @w's counters; with threads, from @w's own thread. */
void sf_workers_stats (SfWorkers *set, guint w, SfWorkerStats *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfWorkers, sf_workers_free)

G_END_DECLS
