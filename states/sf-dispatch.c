/* sf-dispatch.c: the dispatcher, the one place where state changes (docs/style.md).
 *
 * docs/architecture.md "Machine semantics": the current state's normal queue runs in order;
 * SKIP passes, CONTINUE acts and goes on, DONE stops, TRANSITION and mapped
 * outcomes stop and move; the first transition wins.  What the state does not
 * take goes to the catch-all state "*".  A transition runs the old state's exit
 * queue, sets the state, runs the new state's entry queue; entry and exit
 * operators cannot transition.  A final state ends the instance after its entry
 * queue.  It reports to its host through the runtime's hooks (sf-runtime.h)
 * and counts in the runtime's SfDispatchStats. */
#include "config.h"
#include <string.h>
#include "sf-runtime.h"
#include "sf-instance-private.h"

static const char *
result_name (SfOpResult r, const SfBinding *b, char *buf, gsize len)
{
  switch (r) {
  case SF_OP_SKIP: return "SKIP";
  case SF_OP_CONTINUE: return "CONTINUE";
  case SF_OP_DONE: return "DONE";
  case SF_OP_TRANSITION: return "TRANSITION";
  case SF_OP_ERROR: return "ERROR";
  default: break;
  }
  int idx = (int) r - SF_OP_OUTCOME_BASE;
  guint n = b->op->outcomes != NULL ? g_strv_length ((char **) b->op->outcomes) : 0;
  if (idx >= 0 && (guint) idx < n)
    g_snprintf (buf, len, "outcome %s", b->op->outcomes[idx]);
  else
    g_snprintf (buf, len, "invalid disposition %d", (int) r);
  return buf;
}

void
sf_runtime_init (SfRuntime *rt, const SfRuntimeHooks *hooks, SfEndpoint *host)
{
  *rt = (SfRuntime) { .hooks = hooks, .host = host };
}

const SfDispatchStats *
sf_runtime_stats (SfRuntime *rt)
{
  return &rt->stats;
}

void
sf_runtime_trace (SfRuntime *rt, SfInstance *inst, const char *fmt, ...)
{
  if (!rt->hooks->tracing (rt->host))
    return;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *line = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  rt->hooks->trace (rt->host, inst, line);
}

static SfOpResult
call_op (SfRuntime *rt, SfInstance *inst, const SfBinding *b, SfQueue q, SfEvent *ev)
{
  if ((b->op->events & ev->kind) == 0)
    return SF_OP_SKIP; /* the operator does not look at this kind of event */
  if (b->on != NULL && !sf_trigger_set_matches (b->on, ev))
    return SF_OP_SKIP; /* not its trigger */
  SfCtx ctx = { rt->host, inst, b, q };
  if (b->guard != NULL && !b->guard_eval (b->guard, &ctx, ev)) {
    if (rt->hooks->tracing (rt->host))
      sf_runtime_trace (rt, inst, "  %s %s: condition false (line %d)", sf_queue_name (q), b->op_name, b->line);
    return SF_OP_SKIP;
  }
  SfOpResult r = b->op->func (&ctx, ev, b->arg);
  if (rt->hooks->tracing (rt->host)) {
    char buf[96];
    sf_runtime_trace (rt, inst, "  %s %s: %s", sf_queue_name (q), b->op_name, result_name (r, b, buf, sizeof buf));
  }
  return r;
}

/* The names of the operators that acted on one event, for the state_changed
 * and stayed hooks.  On the stack: a dispatch is a few per message, and one
 * allocation each for this list was a tenth of a proxied call's mallocs; a
 * queue longer than the inline room (none of the shipped flows has one) goes
 * to the heap. */
typedef struct {
  const char **v;
  guint len, cap;
  const char *inline_v[16];
} RanList;

static void
ran_init (RanList *r)
{
  r->v = r->inline_v;
  r->len = 0;
  r->cap = G_N_ELEMENTS (r->inline_v);
}

static void
ran_add (RanList *r, const char *name)
{
  if (r->len == r->cap) {
    guint cap = r->cap * 2;
    const char **v = g_new (const char *, cap);
    memcpy (v, r->v, r->len * sizeof *v);
    if (r->v != r->inline_v)
      g_free (r->v);
    r->v = v;
    r->cap = cap;
  }
  r->v[r->len++] = name;
}

static void
ran_clear (RanList *r)
{
  if (r->v != r->inline_v)
    g_free (r->v);
}

/* Entry and exit queues: every operator runs; only errors count. */
static void
run_side_queue (SfRuntime *rt, SfInstance *inst, SfState *state, SfQueue q, SfEvent *ev, RanList *ran)
{
  GPtrArray *queue = state->queues[q];
  for (guint i = 0; i < queue->len; i++) {
    const SfBinding *b = g_ptr_array_index (queue, i);
    SfOpResult r = call_op (rt, inst, b, q, ev);
    if (r == SF_OP_SKIP)
      continue;
    if (ran != NULL)
      ran_add (ran, b->op_name);
    if (r == SF_OP_ERROR) {
      rt->stats.op_errors++;
      g_warning ("%s: %s failed in the %s queue of %s on %s", inst->handle, b->op_name, sf_queue_name (q),
                 state->name, sf_event_trigger (ev));
    }
  }
}

/* The state an outcome (@idx, -2 for "error") leads to: the first of its guarded
 * mappings whose condition holds, else its plain mapping (nullable). */
static SfState *
outcome_target (SfRuntime *rt, SfInstance *inst, const SfBinding *b, int idx, SfEvent *ev)
{
  for (guint i = 0; b->guarded != NULL && i < b->guarded->len; i++) {
    const SfGuardedOutcome *g = g_ptr_array_index (b->guarded, i);
    if (g->outcome != idx)
      continue;
    SfCtx ctx = { rt->host, inst, b, SF_QUEUE_NORMAL };
    if (b->guard_eval (g->guard, &ctx, ev))
      return g->next;
    if (rt->hooks->tracing (rt->host))
      sf_runtime_trace (rt, inst, "  %s: condition false (line %d)", b->op_name, g->line);
  }
  return idx == -2 ? b->error_next : b->outcome_next[idx];
}

/* A normal queue.  Returns TRUE when taken; sets *target when a transition was chosen. */
static gboolean
run_normal (SfRuntime *rt, SfInstance *inst, SfState *state, SfEvent *ev, SfState **target, RanList *ran)
{
  GPtrArray *queue = state->queues[SF_QUEUE_NORMAL];
  gboolean taken = FALSE;
  for (guint i = 0; i < queue->len; i++) {
    const SfBinding *b = g_ptr_array_index (queue, i);
    SfOpResult r = call_op (rt, inst, b, SF_QUEUE_NORMAL, ev);
    if (r == SF_OP_SKIP)
      continue;
    taken = TRUE;
    ran_add (ran, b->op_name);
    switch (r) {
    case SF_OP_CONTINUE:
      continue;
    case SF_OP_DONE:
      return TRUE;
    case SF_OP_TRANSITION:
      if (b->next != NULL) {
        *target = b->next;
      } else {
        rt->stats.outcomes_unmapped++;
        g_warning ("%s: %s asked for a transition in %s but its binding (line %d) has no next state; counted as DONE",
                   inst->handle, b->op_name, state->name, b->line);
      }
      return TRUE;
    case SF_OP_ERROR: {
      rt->stats.op_errors++;
      SfState *on_error = outcome_target (rt, inst, b, -2, ev);
      if (on_error != NULL) {
        *target = on_error;
      } else {
        g_warning ("%s: %s failed in %s on %s", inst->handle, b->op_name, state->name, sf_event_trigger (ev));
      }
      return TRUE;
    }
    default: {
      int idx = (int) r - SF_OP_OUTCOME_BASE;
      guint n = b->op->outcomes != NULL ? g_strv_length ((char **) b->op->outcomes) : 0;
      if (idx < 0 || (guint) idx >= n) {
        rt->stats.op_errors++;
        g_critical ("%s: %s returned an invalid disposition %d", inst->handle, b->op_name, (int) r);
        return TRUE;
      }
      SfState *to = outcome_target (rt, inst, b, idx, ev);
      if (to != NULL) {
        *target = to;
      } else {
        rt->stats.outcomes_unmapped++;
        g_warning ("%s: outcome '%s' of %s in %s (line %d) is not mapped to a state; counted as DONE", inst->handle,
                   b->op->outcomes[idx], b->op_name, state->name, b->line);
      }
      return TRUE;
    }
    }
  }
  return taken;
}

static void
transition (SfRuntime *rt, SfInstance *inst, SfState *target, SfEvent *ev, RanList *ran)
{
  SfState *from = inst->state;
  run_side_queue (rt, inst, from, SF_QUEUE_EXIT, ev, ran);
  inst->state = target;
  rt->stats.transitions++;
  sf_runtime_trace (rt, inst, "%s -> %s", from->name, target->name);
  rt->hooks->state_changed (rt->host, inst, from, target, ev, (const char *const *) ran->v, ran->len);
  run_side_queue (rt, inst, target, SF_QUEUE_ENTRY, ev, NULL);
  if (target->final)
    rt->hooks->end_instance (rt->host, inst, "final state");
}

gboolean
sf_dispatch (SfInstance *inst, SfEvent *ev)
{
  SfRuntime *rt = inst->rt;
  if (inst->ended)
    return FALSE;
  rt->stats.events_dispatched++;
  if (!inst->started) {
    /* The first event of every instance is its creation: the initial entry
     * queue, on start:create even when the engine queued the instance's first
     * event in its place (one hop fewer): entry operators see what they always saw. */
    inst->started = TRUE;
    g_autoptr (SfEvent) create = ev->kind == SF_EV_START ? sf_event_ref (ev) : sf_event_new (SF_EV_START, "create", NULL);
    sf_runtime_trace (rt, inst, "%s <- %s", inst->state->name, sf_event_trigger (create));
    run_side_queue (rt, inst, inst->state, SF_QUEUE_ENTRY, create, NULL);
    rt->stats.events_taken++;
    if (inst->state->final)
      rt->hooks->end_instance (rt->host, inst, "final state");
    if (ev->kind == SF_EV_START)
      return TRUE;
    if (inst->ended)
      return FALSE;
  }
  sf_runtime_trace (rt, inst, "%s <- %s%s%s", inst->state->name, sf_event_trigger (ev), ev->arg != NULL ? " " : "",
                     ev->arg != NULL ? ev->arg : "");
  RanList ran;
  ran_init (&ran);
  SfState *target = NULL;
  gboolean taken = run_normal (rt, inst, inst->state, ev, &target, &ran);
  SfState *catch_all = inst->machine->catch_all;
  if (!taken && catch_all != NULL && catch_all != inst->state) {
    sf_runtime_trace (rt, inst, "  not taken in %s: trying *", inst->state->name);
    taken = run_normal (rt, inst, catch_all, ev, &target, &ran);
  }
  if (!taken) {
    rt->stats.events_untaken++;
    g_info ("%s: %s not taken in state %s", inst->handle, sf_event_trigger (ev), inst->state->name);
    sf_runtime_trace (rt, inst, "  not taken in %s", inst->state->name);
    rt->hooks->untaken (rt->host, inst, ev);
    ran_clear (&ran);
    return FALSE;
  }
  rt->stats.events_taken++;
  if (target != NULL)
    transition (rt, inst, target, ev, &ran);
  else
    rt->hooks->stayed (rt->host, inst, inst->state, ev, (const char *const *) ran.v, ran.len);
  ran_clear (&ran);
  return TRUE;
}
