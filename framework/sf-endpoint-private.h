/* sf-endpoint-private.h: the endpoint's insides, for framework/ (the SIP stack).
 * Not for operators: they act through SfCtx (sf-operator.h).  The instance, the
 * context and the dispatcher are the runtime's (states/); the endpoint is their
 * host and implements the runtime's hooks (states/sf-runtime.h). */
#pragma once
#include "sf-endpoint.h"
#include "sf-timer.h"
#include "states/sf-runtime.h"
#include "states/sf-instance-private.h"
#include "states/sf-ctx.h"

typedef struct _SfModuleStates SfModuleStates;

/* The longest line prefix an endpoint keeps (struct _SfEndpoint.prefix). */
#define SF_EVENT_PREFIX_MAX 240

struct _SfEndpoint {
  SfClock *clock;          /* owned */
  SfRegistry *reg;         /* unowned */
  SfConfig *cfg;           /* unowned, nullable */
  SfTimerHeap *timers;     /* owned */
  GHashTable *by_id;       /* guint64* id -> SfInstance (owned) */
  GHashTable *by_key;      /* &inst->scoped_key (SfScopedKey) -> SfInstance (unowned) */
  GHashTable *by_handle;   /* handle -> SfInstance (unowned) */
  guint handle_seq[9];     /* the last number of each handle letter (sf-endpoint.c handle_letters), 0: none yet */
  /* The event queue: a ring of items held by value (sf-endpoint.c QueueItem),
   * not a list of allocated ones: some 28 events a proxied call each save an
   * item and a list link made and freed.  queue_cap a power of two or 0. */
  struct _SfQueueItem *queue;
  guint queue_cap, queue_head, queue_len;
  guint64 next_id;
  guint worker, n_workers;  /* this endpoint's worker index and the set's size (0 and 1 alone):
                             * handles and ids count by n_workers from worker + 1 */
  guint timer_gen;
  gboolean shutting_down;
  guint max_queue;
  SfStats stats;           /* the endpoint's counters; the dispatcher's are in rt.stats */
  SfRuntime rt;            /* the machine runtime this endpoint hosts */
  SfEmitFunc emit;
  gpointer emit_data;
  SfMessages messages;     /* the teaching detail */
  guint event_classes;     /* SfEventClass bits: core.events */
  guint emitting;          /* the bits written now: event_classes, without the teaching
                            * ones when messages is off, 0 without emit (update_emitting) */
  GLogLevelFlags log_level; /* core.log_level: the most verbose level written */
  void (*before_emit) (gpointer data); /* nullable: sf_endpoint_set_before_emit */
  gpointer before_emit_data;
  GString *spare_line;      /* owned, nullable: the last line's buffer, for the next (sf_endpoint_event_begin) */
  /* The fields every line of an instance starts with ("machine", its handle,
   * "key", the host's fields) as written for the last instances that wrote a
   * line: most lines come from an instance that wrote one a moment ago (a
   * proxied call's nine instances write some 40 lines).  An instance's is in
   * slot id % 16 (ids are never reused), so finding it is one look.  id 0:
   * empty.  A prefix longer than the slot is not kept.  Forgotten when a key
   * or the host's fields change (prefix_forget). */
  struct {
    guint64 id;
    gsize len;
    char text[SF_EVENT_PREFIX_MAX];
  } prefix[16];
  gint64 ts_second;        /* the second ts_text was made for (-1: none yet) */
  char ts_text[24];        /* "2026-12-06T15:23:49." for ts_second */
  gsize ts_len;            /* strlen (ts_text) */
  SfTraceFunc trace;
  gpointer trace_data;
  SfUntakenFunc untaken;
  gpointer untaken_data;
  GSource *source;         /* owned, nullable */
  GSourceFunc after_batch;  /* nullable: sf_endpoint_set_after_batch */
  gpointer after_batch_data;
  guint turn_left;          /* events this turn of the loop may still dispatch (reset in the source's prepare) */
  gboolean in_batch;        /* run_batch is dispatching: sf_endpoint_dispatch_queued waits */
  GArray *deferred;         /* owned, nullable: Deferred (sf-endpoint.c), oldest first (sf_endpoint_defer) */
  gboolean running_deferred; /* run_deferred is running them: a nested one waits */
  gboolean deferred_starved; /* the last batch spent its budget with calls waiting: they go first in the next */
  GMutex inbox_lock;
  GQueue inbox;            /* InboxItem, from other threads */
  GMainContext *context;   /* unowned, nullable */
  SfStatsFunc stats_extra;
  gpointer stats_extra_data;
  SfModuleStates *modules; /* owned by sf-module.c, nullable: the modules' states */
};

/* framework/sf-endpoint.c: what the runtime's hooks and the SIP stack use */
/* @func runs before each event line is written (the SIP stack writes there the
 * sip_in it holds until it knows the transaction it moved: docs/teaching.md);
 * NULL: none.  @func may write event lines itself. */
void sf_endpoint_set_before_emit (SfEndpoint *ep, void (*func) (gpointer data), gpointer data);
void sf_endpoint_trace (SfEndpoint *ep, SfInstance *inst, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
gboolean sf_endpoint_tracing (SfEndpoint *ep);
/* A GString opened with {"event":@event, plus the instance's handle, machine and key. */
GString *sf_endpoint_event_begin (SfEndpoint *ep, SfInstance *inst, const char *event);
/* The instance reached a final state: end it after the current event. */
void sf_endpoint_end_instance (SfEndpoint *ep, SfInstance *inst, const char *reason);
void sf_endpoint_timer_start (SfEndpoint *ep, SfInstance *inst, const char *name, guint64 ms);
gboolean sf_endpoint_timer_cancel (SfEndpoint *ep, SfInstance *inst, const char *name);
SfInstance *sf_endpoint_lookup_id (SfEndpoint *ep, guint64 id);
