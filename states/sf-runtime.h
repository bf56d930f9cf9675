/* sf-runtime.h: how the machine runtime (states/) reaches the engine that hosts it.
 *
 * states/ runs machines: machine definitions, instances, the operators' context
 * (SfCtx) and the dispatcher.  It depends on nothing above it: GLib,
 * include/sipflow/ and states/ headers only (tests/layering.sh checks).  What it
 * needs from the engine -- the event queue, timers, the instance table, the event
 * output, the trace -- it asks for through SfRuntimeHooks, which the host
 * implements (framework/sf-endpoint.c, docs/engine.md "Where the runtime lives").
 *
 * The host is an SfEndpoint, a type framework/ defines: here it is only a
 * forward-declared pointer that the runtime hands back to the hooks (and to
 * sf_ctx_endpoint()) and never looks into. */
#pragma once
#include <glib.h>
#include "states/sf-event-private.h"
#include "sipflow/sf-operator.h"
#include "sf-machine.h"

G_BEGIN_DECLS

typedef struct _SfEndpoint SfEndpoint;   /* the host: opaque to states/ */
typedef struct _SfInstance SfInstance;   /* states/sf-instance.h */
typedef struct _SfRuntime SfRuntime;

/* Errors of the runtime itself (the host's hooks report theirs in their own domain). */
#define SF_RUNTIME_ERROR (sf_runtime_error_quark ())
GQuark sf_runtime_error_quark (void);
typedef enum {
  SF_RUNTIME_ERROR_NO_MACHINE,  /* sf_ctx_spawn: the flow imports no such machine */
} SfRuntimeError;

/* The dispatcher's counters; the host prints them in its "stats" event. */
typedef struct {
  guint64 events_dispatched;
  guint64 events_taken;
  guint64 events_untaken;       /* no operator took it, catch-all included */
  guint64 transitions;
  guint64 op_errors;
  guint64 outcomes_unmapped;
} SfDispatchStats;

/* What the runtime asks of its host.  Every hook is required; @host is the
 * SfEndpoint given to sf_runtime_init().  Strings and events passed in are
 * unowned (valid for the call) unless a hook says "transfer full". */
typedef struct {
  /* Is anyone reading the trace?  Asked before a trace line is formatted, so an
   * untraced dispatch formats nothing. */
  gboolean (*tracing) (SfEndpoint *host);
  /* One trace line about @inst (nullable); the host adds the instance's prefix. */
  void (*trace) (SfEndpoint *host, SfInstance *inst, const char *line);
  /* @inst moved from @from to @to on @ev; @ops (@n_ops names) are the operators
   * that acted (normal queue, then the old state's exit queue).  Called after the
   * exit queue, before the entry queue.  The host writes the "state" event line
   * from it, only when someone reads its event output. */
  void (*state_changed) (SfEndpoint *host, SfInstance *inst, const SfState *from, const SfState *to, SfEvent *ev,
                         const char *const *ops, guint n_ops);
  /* @inst took @ev and stayed in @state (a loop: no next, no outcome that
   * moves it); @ops as for state_changed.  The host writes a "step" event line
   * when it writes the teaching detail (docs/teaching.md). */
  void (*stayed) (SfEndpoint *host, SfInstance *inst, const SfState *state, SfEvent *ev, const char *const *ops,
                  guint n_ops);
  /* Nothing took @ev, catch-all included (already counted and traced). */
  void (*untaken) (SfEndpoint *host, SfInstance *inst, SfEvent *ev);
  /* @inst reached a final state: the host ends it (after the current event). */
  void (*end_instance) (SfEndpoint *host, SfInstance *inst, const char *reason);
  /* The instance's named timers: (re)start, cancel (TRUE when it was running), query. */
  void (*timer_start) (SfEndpoint *host, SfInstance *inst, const char *name, guint64 ms);
  gboolean (*timer_cancel) (SfEndpoint *host, SfInstance *inst, const char *name);
  gboolean (*timer_running) (SfEndpoint *host, SfInstance *inst, const char *name);
  /* Queues @ev (transfer full) for @inst; FALSE when dropped. */
  gboolean (*post) (SfEndpoint *host, SfInstance *inst, SfEvent *ev);
  /* Queues @ev (transfer full) for the instance of @scope with @key; FALSE when dropped. */
  gboolean (*post_key) (SfEndpoint *host, const char *scope, const char *key, SfEvent *ev);
  /* The live instance with @id, or NULL (unowned). */
  SfInstance *(*lookup_id) (SfEndpoint *host, guint64 id);
  /* A new instance of @machine, child of @parent (nullable); NULL with @error set.
   * Returns it unowned (the host owns its instances). */
  SfInstance *(*create) (SfEndpoint *host, SfMachine *machine, const char *key, SfInstance *parent, GError **error);
  /* An operator's event line (sf_ctx_emit): @event, then @fields (already-JSON
   * "key":value pairs, nullable). */
  void (*emit) (SfEndpoint *host, SfInstance *inst, const char *event, const char *fields);
  /* Whether an operator's event line is written at all (nullable: always), so
   * that an operator builds its fields only then (sf_ctx_emits). */
  gboolean (*emitting) (SfEndpoint *host);
  /* Moves @from's key to @to (same scope; @from left keyless); FALSE when it cannot. */
  gboolean (*move_key) (SfEndpoint *host, SfInstance *from, SfInstance *to);
} SfRuntimeHooks;

/* One operator call.  Built by the dispatcher on its stack; the host may build one
 * with only @ep set to hand its own hooks a context outside any dispatch (then only
 * sf_ctx_endpoint() works on it). */
struct _SfCtx {
  SfEndpoint *ep;             /* unowned: the host (opaque to states/) */
  SfInstance *inst;           /* unowned */
  const SfBinding *binding;   /* unowned, nullable */
  SfQueue queue;
};

/* One runtime per host, embedded in it; each instance points at its runtime. */
struct _SfRuntime {
  const SfRuntimeHooks *hooks;  /* unowned: usually a static table */
  SfEndpoint *host;             /* unowned: outlives the runtime */
  SfDispatchStats stats;
};

/* Sets up @rt (storage the caller owns) to report to @host through @hooks. */
void sf_runtime_init (SfRuntime *rt, const SfRuntimeHooks *hooks, SfEndpoint *host);
const SfDispatchStats *sf_runtime_stats (SfRuntime *rt);
/* A trace line about @inst (nullable), formatted only when the host traces. */
void sf_runtime_trace (SfRuntime *rt, SfInstance *inst, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* states/sf-dispatch.c: runs @ev (unowned) through @inst's machine, in @inst's
 * runtime: normal queue, catch-all, transition.  Returns TRUE when the event was
 * taken. */
gboolean sf_dispatch (SfInstance *inst, SfEvent *ev);

G_END_DECLS
