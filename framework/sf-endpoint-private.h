/* sf-endpoint-private.h: what the dispatcher (states/) and the endpoint share.
 * Not for operators: they act through SfCtx (sf-operator.h). */
#pragma once
#include "sf-endpoint.h"
#include "sf-timer.h"

typedef struct _SfModuleStates SfModuleStates;

struct _SfInstance {
  guint64 id;
  char *handle;            /* owned: "c1" */
  char *key;               /* owned, nullable */
  char *scoped_key;        /* owned, nullable: scope "\x1f" key */
  SfMachine *machine;      /* owned ref */
  SfState *state;          /* unowned: in machine */
  SfEndpoint *ep;          /* unowned */
  guint64 parent_id;       /* 0: none (by id, so a parent's end never dangles) */
  GHashTable *timers;      /* name (owned) -> SfTimer* (unowned: the heap owns it) */
  GHashTable *fired;       /* name (owned) -> generation: fired, its event not yet delivered */
  char *import_name;       /* owned, nullable: the name its parent imported its machine as */
  GData *data;
  gboolean started;        /* its initial entry queue ran */
  gboolean ended;
  gint64 created_us;
  char *end_reason;        /* owned, nullable */
};

struct _SfCtx {
  SfEndpoint *ep;
  SfInstance *inst;
  const SfBinding *binding;
  SfQueue queue;
};

struct _SfEndpoint {
  SfClock *clock;          /* owned */
  SfRegistry *reg;         /* unowned */
  SfConfig *cfg;           /* unowned, nullable */
  SfTimerHeap *timers;     /* owned */
  GHashTable *by_id;       /* guint64* id -> SfInstance (owned) */
  GHashTable *by_key;      /* scoped key -> SfInstance (unowned) */
  GHashTable *by_handle;   /* handle -> SfInstance (unowned) */
  GHashTable *handle_seq;  /* prefix -> counter */
  GQueue queue;            /* QueueItem */
  guint64 next_id;
  guint timer_gen;
  gboolean shutting_down;
  guint max_queue;
  SfStats stats;
  SfEmitFunc emit;
  gpointer emit_data;
  SfTraceFunc trace;
  gpointer trace_data;
  SfUntakenFunc untaken;
  gpointer untaken_data;
  GSource *source;         /* owned, nullable */
  GMutex inbox_lock;
  GQueue inbox;            /* InboxItem, from other threads */
  GMainContext *context;   /* unowned, nullable */
  SfStatsFunc stats_extra;
  gpointer stats_extra_data;
  SfModuleStates *modules; /* owned by sf-module.c, nullable: the modules' states */
};

/* states/sf-dispatch.c */
/* Runs @ev through @inst's machine: normal queue, catch-all, transition.
 * Returns TRUE when the event was taken. */
gboolean sf_dispatch (SfEndpoint *ep, SfInstance *inst, SfEvent *ev);

/* framework/sf-endpoint.c, for the dispatcher */
void sf_endpoint_trace (SfEndpoint *ep, SfInstance *inst, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
gboolean sf_endpoint_tracing (SfEndpoint *ep);
/* A GString opened with {"event":@event, plus the instance's handle, machine and key. */
GString *sf_endpoint_event_begin (SfEndpoint *ep, SfInstance *inst, const char *event);
/* The instance reached a final state: end it after the current event. */
void sf_endpoint_end_instance (SfEndpoint *ep, SfInstance *inst, const char *reason);
void sf_endpoint_timer_start (SfEndpoint *ep, SfInstance *inst, const char *name, guint64 ms);
gboolean sf_endpoint_timer_cancel (SfEndpoint *ep, SfInstance *inst, const char *name);
SfInstance *sf_endpoint_lookup_id (SfEndpoint *ep, guint64 id);
