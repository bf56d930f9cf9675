/* sf-endpoint.h: the endpoint ties everything together with no globals
 * (docs/style.md, pjsip_endpoint): the operator registry, the configuration, the
 * clock and its timer heap, the instances and their keys, the event queue that
 * gives one call's events one at a time and in order (VOCAL's FIFO), the event
 * output, the trace and the counters. */
#pragma once
#include <glib.h>
#include "sf-clock.h"
#include "sipflow/sf-config.h"
#include "states/sf-event-private.h"
#include "sf-registry.h"
#include "states/sf-machine.h"
#include "states/sf-instance.h"
#include "states/sf-ctx.h"

G_BEGIN_DECLS

/* A structured log field (value "1") marking an audit line, such as the
 * "auth failed" lines for fail2ban: the program's log writer shows it whatever
 * core.log_level, at the level it was logged with. */
#define SF_LOG_FIELD_AUDIT "SIPFLOW_AUDIT"

#define SF_ENDPOINT_ERROR (sf_endpoint_error_quark ())
GQuark sf_endpoint_error_quark (void);
typedef enum {
  SF_ENDPOINT_ERROR_DUPLICATE_KEY,
  SF_ENDPOINT_ERROR_QUEUE_FULL,
} SfEndpointError;

/* The engine's counters, printed in the "stats" event (the dispatcher's, from
 * events_dispatched to outcomes_unmapped, are counted by states/ and copied in
 * when read). */
typedef struct {
  guint64 events_posted;
  guint64 events_dispatched;
  guint64 events_taken;
  guint64 events_untaken;       /* no operator took it, catch-all included */
  guint64 events_dropped;       /* its instance was gone, or the queue was full */
  guint64 transitions;
  guint64 instances_created;
  guint64 instances_ended;
  guint64 timers_started;
  guint64 timers_fired;
  guint64 timers_cancelled;
  guint64 op_errors;
  guint64 outcomes_unmapped;
} SfStats;

/* One JSON line (no newline) for the event output. */
typedef void (*SfEmitFunc) (const char *json_line, gpointer user_data);
/* One trace line (no newline). */
typedef void (*SfTraceFunc) (const char *line, gpointer user_data);
/* An event nothing took (after the catch-all): the owner answers what needs an
 * answer (a SIP request: 481/501/405/500, docs/architecture.md). */
typedef void (*SfUntakenFunc) (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, gpointer user_data);

/* @clock: transfer full.  @reg, @cfg: unowned, must outlive the endpoint (@cfg nullable). */
SfEndpoint *sf_endpoint_new (SfClock *clock, SfRegistry *reg, SfConfig *cfg);
/* Ends every instance without running any queue, frees everything. */
void sf_endpoint_free (SfEndpoint *ep);

void sf_endpoint_set_emit (SfEndpoint *ep, SfEmitFunc func, gpointer user_data);

/* The teaching detail (docs/teaching.md): what the event output adds beside the
 * engine's and the operators' events. */
typedef enum {
  SF_MESSAGES_OFF,   /* nothing more (the default) */
  SF_MESSAGES_ON,    /* sip_in/sip_out with the start line, timer and step events */
  SF_MESSAGES_FULL,  /* the same, sip_in/sip_out with the whole message */
} SfMessages;
/* Set from core.messages when the endpoint is made; run's --messages sets it after. */
void sf_endpoint_set_messages (SfEndpoint *ep, SfMessages level);
/* The level, SF_MESSAGES_OFF when nobody reads the event output. */
SfMessages sf_endpoint_messages (SfEndpoint *ep);
/* The classes of event lines a consumer chooses (run --events, core.events;
 * docs/architecture.md "Event classes"), one bit each.  A line whose class is off
 * is not built: the sites test sf_endpoint_emits() before they format
 * anything.  The teaching classes (message, timer, step) write only with the
 * teaching detail on (core.messages). */
typedef enum {
  SF_EVC_SERVICE = 1u << 0,     /* flow, listening, reload, shutdown, stats */
  SF_EVC_CONTROL = 1u << 1,     /* reply, error: the answers to control commands */
  SF_EVC_FLOW = 1u << 2,        /* the flows' own events (sf_ctx_emit): dialog, registration, proxy_2xx... */
  SF_EVC_STATE = 1u << 3,       /* state, of every instance but a transaction */
  SF_EVC_END = 1u << 4,         /* instance_end, of every instance but a transaction */
  SF_EVC_TRANSACTION = 1u << 5, /* a transaction's state and instance_end; failover, stateless_answer */
  SF_EVC_MESSAGE = 1u << 6,     /* sip_in, sip_out (teaching) */
  SF_EVC_TIMER = 1u << 7,       /* timer (teaching) */
  SF_EVC_STEP = 1u << 8,        /* step (teaching) */
  SF_EVC_ALL = (1u << 9) - 1,
} SfEventClass;
/* Reads a list of class names (@names: "all", "none" or class names, NULL
 * ends it) into @mask; FALSE with @error naming the unknown one. */
gboolean sf_endpoint_parse_event_classes (const char *const *names, guint *mask, GError **error);
/* The classes written (SF_EVC_ALL unless core.events said otherwise when the
 * endpoint was made); run sets them again at a reload. */
void sf_endpoint_set_event_classes (SfEndpoint *ep, guint mask);
/* Whether a line of class @cls is written: somebody reads the event output
 * and the class is on (for the teaching classes, the teaching detail too).
 * One load and one test: the sites call it before building anything. */
gboolean sf_endpoint_emits (SfEndpoint *ep, SfEventClass cls);
/* Whether a log line at @level (one G_LOG_LEVEL_*) is written: core.log_level,
 * read when the endpoint is made and at a reload.  A line on a hot path (one per message, per
 * transition) is built only when it is. */
gboolean sf_endpoint_logs (SfEndpoint *ep, GLogLevelFlags level);
/* Reads core.log_level again (a reload put a new one in force). */
void sf_endpoint_reread_log_level (SfEndpoint *ep);
void sf_endpoint_set_trace (SfEndpoint *ep, SfTraceFunc func, gpointer user_data);
void sf_endpoint_set_untaken (SfEndpoint *ep, SfUntakenFunc func, gpointer user_data);

void sf_endpoint_get_untaken (SfEndpoint *ep, SfUntakenFunc *func, gpointer *user_data);

SfClock *sf_endpoint_clock (SfEndpoint *ep);
SfRegistry *sf_endpoint_registry (SfEndpoint *ep);
SfConfig *sf_endpoint_config (SfEndpoint *ep);
const SfStats *sf_endpoint_stats (SfEndpoint *ep);
/* The "stats" event line (transfer full), with the layers' fields. */
char *sf_endpoint_stats_json (SfEndpoint *ep);
/* A layer's extra "key":value fields for the stats event (transfer full). */
typedef char *(*SfStatsFunc) (gpointer user_data);
void sf_endpoint_set_stats_extra (SfEndpoint *ep, SfStatsFunc func, gpointer user_data);
/* The hook set now, so that a layer can chain to it (the stack chains to the registrar's). */
void sf_endpoint_get_stats_extra (SfEndpoint *ep, SfStatsFunc *func, gpointer *user_data);

/* Writes one line (transfer full) on the event output. */
void sf_endpoint_emit_line (SfEndpoint *ep, char *line);
/* The same for a line still open (sf_json_begin, sf_endpoint_event_begin:
 * transfer full): closed with its "ts" in place, without a copy. */
void sf_endpoint_emit_json (SfEndpoint *ep, GString *out);
/* sf_endpoint_emit_json when class @cls is on; else frees @out.  For the rare
 * lines (listening, reply...): a line per message tests sf_endpoint_emits()
 * before it builds anything. */
void sf_endpoint_emit_json_as (SfEndpoint *ep, SfEventClass cls, GString *out);

/* Creates an instance of @machine (its initial entry queue runs as the first
 * queued event, SF_EV_START "create").  @key: nullable, unique within the
 * machine's scope.  @parent: nullable.  Returns the instance (unowned). */
SfInstance *sf_endpoint_create (SfEndpoint *ep, SfMachine *machine, const char *key, SfInstance *parent,
                                GError **error);
SfInstance *sf_endpoint_lookup (SfEndpoint *ep, const char *scope, const char *key);
SfInstance *sf_endpoint_lookup_handle (SfEndpoint *ep, const char *handle);
/* Gives @inst the key @key in its scope (a UAC's call learns its dialog's remote
 * tag from the 2xx).  FALSE when another instance has that key. */
gboolean sf_endpoint_set_key (SfEndpoint *ep, SfInstance *inst, const char *key);
/* Moves @from's key to @to, an instance of the same scope (a bridge hands its
 * call's key to the leg that answers the caller, docs/engine.md "Handing a call
 * over"); @from is left keyless, @to loses the key it had.  FALSE (nothing
 * changed) when @from has no key, either has ended, or their scopes differ. */
gboolean sf_endpoint_move_key (SfEndpoint *ep, SfInstance *from, SfInstance *to);
guint sf_endpoint_n_instances (SfEndpoint *ep);
/* (transfer container) live instances, oldest first. */
GPtrArray *sf_endpoint_instances (SfEndpoint *ep);

/* Queues @ev (transfer full) for @inst.  FALSE (and @ev dropped) when the queue is full. */
gboolean sf_endpoint_post (SfEndpoint *ep, SfInstance *inst, SfEvent *ev);
gboolean sf_endpoint_post_key (SfEndpoint *ep, const char *scope, const char *key, SfEvent *ev);
/* Queues @ev (transfer full) whatever the queue length: for the event that goes
 * with work already accepted (the request of a transaction just created, a
 * response a transaction user hands over), which dropping would strand. */
void sf_endpoint_post_always (SfEndpoint *ep, SfInstance *inst, SfEvent *ev);
/* Thread-safe: queues @ev (transfer full) for the instance with @handle from any
 * thread; it is dispatched in the endpoint's main context. */
void sf_endpoint_post_threadsafe (SfEndpoint *ep, const char *handle, SfEvent *ev);

/* Dispatches queued events (and due timers) until none is left; returns how many. */
guint sf_endpoint_drain (SfEndpoint *ep);
/* Fake clock only: moves time forward by @ms, firing every timer due on the way
 * in deadline order, each with the clock set to its deadline. */
void sf_endpoint_advance (SfEndpoint *ep, guint64 ms);
/* One engine of a set of workers (framework/sf-workers.h, docs/workers.md):
 * worker @worker of @n_workers numbers its instance ids and each handle
 * prefix @worker + 1, @worker + 1 + @n_workers, ... so that handles and ids
 * are unique across the set and say their worker.  Before the first instance;
 * alone (the default) it is worker 0 of 1, numbering 1, 2, 3 ...  Its queue
 * holds core.max_queue / @n_workers events (a bound of the process). */
void sf_endpoint_set_worker (SfEndpoint *ep, guint worker, guint n_workers);
guint sf_endpoint_worker (SfEndpoint *ep);
/* The earliest timer deadline (the clock's microseconds), G_MAXINT64 when none. */
gint64 sf_endpoint_next_deadline (SfEndpoint *ep);
/* Fake clock only: sets the clock to @us (never back) and drains: the worker
 * set moves several endpoints' clocks together with it. */
void sf_endpoint_advance_to (SfEndpoint *ep, gint64 us);
/* Runs the queue and the timers from @context's main loop. */
void sf_endpoint_attach (SfEndpoint *ep, GMainContext *context);
/* After sf_endpoint_attach: @func runs after each batch of events (the run
 * command checks there whether it is done). */
void sf_endpoint_set_after_batch (SfEndpoint *ep, GSourceFunc func, gpointer user_data);
/* Dispatches now what the main-loop source would in the loop's next turn,
 * the after-batch hook included, within the same budget of events a turn: for
 * a socket's reader at the end of its batch, so that a message is answered in
 * the turn that read it, not after another poll.  Does nothing when the queue
 * is empty, before sf_endpoint_attach, inside a dispatch, or when the turn's
 * budget is spent.  Only on the thread that runs the endpoint's context. */
void sf_endpoint_dispatch_queued (SfEndpoint *ep);
/* A call deferred to the endpoint's batch (sf_endpoint_defer). */
typedef void (*SfDeferFunc) (gpointer data);
/* Runs @func (@data) later on the endpoint's thread, never inside this call:
 * in the batch running now once its queue is empty (the same turn of the
 * loop, each call counting as an event of the turn's budget), else in the
 * loop's next turn (the source is ready while calls wait; unattached: at the
 * next drain).  For an answer its asker must not see before its own call
 * returns, without the extra turn of an idle source.  Calls run in the order
 * deferred; one deferred while they run waits for the next time; calls a busy
 * turn left waiting (its queue never emptied within the budget) run first in
 * the next, within half its budget, so a steady overload cannot starve them.
 * @data stays
 * the caller's: it cancels its calls (sf_endpoint_undefer) before freeing it,
 * at the latest from a module's teardown (the endpoint frees its list after). */
void sf_endpoint_defer (SfEndpoint *ep, SfDeferFunc func, gpointer data);
/* Drops the calls of @func with @data not run yet. */
void sf_endpoint_undefer (SfEndpoint *ep, SfDeferFunc func, gpointer data);
/* Drops, in one walk, the calls of @func not run yet whose data @match (data,
 * @user) says TRUE for: a caller with many calls waiting (a location freed
 * with its answers queued) cancels them all without one walk each. */
void sf_endpoint_undefer_matching (SfEndpoint *ep, SfDeferFunc func, gboolean (*match) (gpointer data, gpointer user),
                                   gpointer user);

/* Sends device:"shutdown" to every instance but transactions; those that do not
 * take it end at once.  Transactions (scope "transaction") are left to their own
 * timers, so the calls that end can still answer and send through them (a 480 to
 * a ringing INVITE, a CANCEL, a BYE and its response).  Returns the number of
 * instances other than transactions still alive. */
guint sf_endpoint_shutdown (SfEndpoint *ep);
/* Has sf_endpoint_shutdown() been called?  (The SIP stack then refuses new work:
 * 503, docs/engine.md "The command".) */
gboolean sf_endpoint_shutting_down (SfEndpoint *ep);
/* Live instances whose machine's scope is not @scope. */
guint sf_endpoint_n_instances_but (SfEndpoint *ep, const char *scope);
/* Ends @inst after the event being dispatched (for hooks running inside a dispatch). */
void sf_endpoint_end (SfEndpoint *ep, SfInstance *inst, const char *reason);
/* Ends @inst now, without running its queues (shutdown timeout, tests). */
void sf_endpoint_kill (SfEndpoint *ep, SfInstance *inst, const char *reason);

/* Instance accessors and per-instance data: states/sf-instance.h. */
/* Makes @fields (transfer full, nullable: none) the further "key":value JSON
 * fields that every event line of @inst carries after its handle (the UA puts
 * the SIP "call_id" there), replacing those set before. */
void sf_endpoint_set_event_fields (SfInstance *inst, char *fields);
/* Those fields (transfer none), NULL when none were set. */
const char *sf_endpoint_event_fields (SfInstance *inst);

G_END_DECLS
