/* sf-dispatch.c: the dispatcher, the one place where state changes (docs/style.md).
 *
 * docs/architecture.md "Machine semantics": the current state's normal queue runs in order;
 * SKIP passes, CONTINUE acts and goes on, DONE stops, TRANSITION and mapped
 * outcomes stop and move; the first transition wins.  What the state does not
 * take goes to the catch-all state "*".  A transition runs the old state's exit
 * queue, sets the state, runs the new state's entry queue; entry and exit
 * operators cannot transition.  A final state ends the instance after its entry
 * queue.  Also here: the SfCtx functions operators act through. */
#include "config.h"
#include "framework/sf-endpoint-private.h"
#include "framework/sf-json.h"
#include <string.h>

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

static SfOpResult
call_op (SfEndpoint *ep, SfInstance *inst, const SfBinding *b, SfQueue q, SfEvent *ev)
{
  if ((b->op->events & ev->kind) == 0)
    return SF_OP_SKIP; /* the operator does not look at this kind of event */
  SfCtx ctx = { ep, inst, b, q };
  SfOpResult r = b->op->func (&ctx, ev, b->arg);
  if (sf_endpoint_tracing (ep)) {
    char buf[96];
    sf_endpoint_trace (ep, inst, "  %s %s: %s", sf_queue_name (q), b->op_name, result_name (r, b, buf, sizeof buf));
  }
  return r;
}

/* Entry and exit queues: every operator runs; only errors count. */
static void
run_side_queue (SfEndpoint *ep, SfInstance *inst, SfState *state, SfQueue q, SfEvent *ev, GPtrArray *ran)
{
  GPtrArray *queue = state->queues[q];
  for (guint i = 0; i < queue->len; i++) {
    const SfBinding *b = g_ptr_array_index (queue, i);
    SfOpResult r = call_op (ep, inst, b, q, ev);
    if (r == SF_OP_SKIP)
      continue;
    if (ran != NULL)
      g_ptr_array_add (ran, b->op_name);
    if (r == SF_OP_ERROR) {
      ep->stats.op_errors++;
      g_warning ("%s: %s failed in the %s queue of %s on %s", inst->handle, b->op_name, sf_queue_name (q),
                 state->name, sf_event_trigger (ev));
    }
  }
}

/* A normal queue.  Returns TRUE when taken; sets *target when a transition was chosen. */
static gboolean
run_normal (SfEndpoint *ep, SfInstance *inst, SfState *state, SfEvent *ev, SfState **target, GPtrArray *ran)
{
  GPtrArray *queue = state->queues[SF_QUEUE_NORMAL];
  gboolean taken = FALSE;
  for (guint i = 0; i < queue->len; i++) {
    const SfBinding *b = g_ptr_array_index (queue, i);
    SfOpResult r = call_op (ep, inst, b, SF_QUEUE_NORMAL, ev);
    if (r == SF_OP_SKIP)
      continue;
    taken = TRUE;
    g_ptr_array_add (ran, b->op_name);
    switch (r) {
    case SF_OP_CONTINUE:
      continue;
    case SF_OP_DONE:
      return TRUE;
    case SF_OP_TRANSITION:
      if (b->next != NULL) {
        *target = b->next;
      } else {
        ep->stats.outcomes_unmapped++;
        g_warning ("%s: %s asked for a transition in %s but its binding (line %d) has no next state; counted as DONE",
                   inst->handle, b->op_name, state->name, b->line);
      }
      return TRUE;
    case SF_OP_ERROR:
      ep->stats.op_errors++;
      if (b->error_next != NULL) {
        *target = b->error_next;
      } else {
        g_warning ("%s: %s failed in %s on %s", inst->handle, b->op_name, state->name, sf_event_trigger (ev));
      }
      return TRUE;
    default: {
      int idx = (int) r - SF_OP_OUTCOME_BASE;
      guint n = b->op->outcomes != NULL ? g_strv_length ((char **) b->op->outcomes) : 0;
      if (idx < 0 || (guint) idx >= n) {
        ep->stats.op_errors++;
        g_critical ("%s: %s returned an invalid disposition %d", inst->handle, b->op_name, (int) r);
        return TRUE;
      }
      if (b->outcome_next[idx] != NULL) {
        *target = b->outcome_next[idx];
      } else {
        ep->stats.outcomes_unmapped++;
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
transition (SfEndpoint *ep, SfInstance *inst, SfState *target, SfEvent *ev, GPtrArray *ran)
{
  SfState *from = inst->state;
  run_side_queue (ep, inst, from, SF_QUEUE_EXIT, ev, ran);
  inst->state = target;
  ep->stats.transitions++;
  sf_endpoint_trace (ep, inst, "%s -> %s", from->name, target->name);
  GString *out = sf_endpoint_event_begin (ep, inst, "state");
  sf_json_add_str (out, "from", from->name);
  sf_json_add_str (out, "to", target->name);
  sf_json_add_str (out, "trigger", sf_event_trigger (ev));
  sf_json_add_strv (out, "ops", (const char *const *) ran->pdata, ran->len);
  sf_endpoint_emit_line (ep, sf_json_end (out));
  run_side_queue (ep, inst, target, SF_QUEUE_ENTRY, ev, NULL);
  if (target->final)
    sf_endpoint_end_instance (ep, inst, "final state");
}

gboolean
sf_dispatch (SfEndpoint *ep, SfInstance *inst, SfEvent *ev)
{
  if (inst->ended)
    return FALSE;
  ep->stats.events_dispatched++;
  if (!inst->started) {
    /* The first event of every instance is its creation: the initial entry queue. */
    inst->started = TRUE;
    sf_endpoint_trace (ep, inst, "%s <- %s", inst->state->name, sf_event_trigger (ev));
    run_side_queue (ep, inst, inst->state, SF_QUEUE_ENTRY, ev, NULL);
    ep->stats.events_taken++;
    if (inst->state->final)
      sf_endpoint_end_instance (ep, inst, "final state");
    if (ev->kind == SF_EV_START)
      return TRUE;
    if (inst->ended)
      return FALSE;
  }
  sf_endpoint_trace (ep, inst, "%s <- %s%s%s", inst->state->name, sf_event_trigger (ev), ev->arg != NULL ? " " : "",
                     ev->arg != NULL ? ev->arg : "");
  g_autoptr (GPtrArray) ran = g_ptr_array_new ();
  SfState *target = NULL;
  gboolean taken = run_normal (ep, inst, inst->state, ev, &target, ran);
  SfState *catch_all = inst->machine->catch_all;
  if (!taken && catch_all != NULL && catch_all != inst->state) {
    sf_endpoint_trace (ep, inst, "  not taken in %s: trying *", inst->state->name);
    taken = run_normal (ep, inst, catch_all, ev, &target, ran);
  }
  if (!taken) {
    ep->stats.events_untaken++;
    g_info ("%s: %s not taken in state %s", inst->handle, sf_event_trigger (ev), inst->state->name);
    sf_endpoint_trace (ep, inst, "  not taken in %s", inst->state->name);
    if (ep->untaken != NULL)
      ep->untaken (ep, inst, ev, ep->untaken_data);
    return FALSE;
  }
  ep->stats.events_taken++;
  if (target != NULL)
    transition (ep, inst, target, ev, ran);
  return TRUE;
}

/* ---- SfCtx: what operators may do ---- */

SfEndpoint *
sf_ctx_endpoint (SfCtx *ctx)
{
  return ctx->ep;
}

SfInstance *
sf_ctx_instance (SfCtx *ctx)
{
  return ctx->inst;
}

const char *
sf_ctx_handle (SfCtx *ctx)
{
  return ctx->inst->handle;
}

const char *
sf_ctx_state (SfCtx *ctx)
{
  return ctx->inst->state->name;
}

const char *
sf_ctx_op_name (SfCtx *ctx)
{
  return ctx->binding != NULL ? ctx->binding->op_name : "?";
}

void
sf_ctx_timer_start (SfCtx *ctx, const char *name, guint64 ms)
{
  sf_endpoint_trace (ctx->ep, ctx->inst, "    timer %s started: %" G_GUINT64_FORMAT " ms", name, ms);
  sf_endpoint_timer_start (ctx->ep, ctx->inst, name, ms);
}

gboolean
sf_ctx_timer_cancel (SfCtx *ctx, const char *name)
{
  gboolean was = sf_endpoint_timer_cancel (ctx->ep, ctx->inst, name);
  if (was)
    sf_endpoint_trace (ctx->ep, ctx->inst, "    timer %s cancelled", name);
  return was;
}

gboolean
sf_ctx_timer_running (SfCtx *ctx, const char *name)
{
  return g_hash_table_contains (ctx->inst->timers, name);
}

void
sf_ctx_post_self (SfCtx *ctx, SfEvent *ev)
{
  sf_endpoint_post (ctx->ep, ctx->inst, ev);
}

gboolean
sf_ctx_post (SfCtx *ctx, const char *scope, const char *key, SfEvent *ev)
{
  return sf_endpoint_post_key (ctx->ep, scope, key, ev);
}

gboolean
sf_ctx_post_parent (SfCtx *ctx, SfEvent *ev)
{
  SfInstance *parent = sf_endpoint_lookup_id (ctx->ep, ctx->inst->parent_id);
  if (parent == NULL) {
    sf_event_unref (ev);
    return FALSE;
  }
  return sf_endpoint_post (ctx->ep, parent, ev);
}

SfInstance *
sf_ctx_spawn (SfCtx *ctx, const char *machine, const char *key, GError **error)
{
  SfMachine *m = sf_machine_lookup_import (ctx->inst->machine, machine);
  if (m == NULL) {
    g_set_error (error, SF_ENDPOINT_ERROR, SF_ENDPOINT_ERROR_NO_MACHINE,
                 "flow '%s' imports no machine named '%s'", ctx->inst->machine->name, machine);
    return NULL;
  }
  SfInstance *child = sf_endpoint_create (ctx->ep, m, key, ctx->inst, error);
  if (child != NULL)
    child->import_name = g_strdup (machine);
  return child;
}

void
sf_ctx_set_data (SfCtx *ctx, const char *name, gpointer data, GDestroyNotify destroy)
{
  g_datalist_set_data_full (&ctx->inst->data, name, data, destroy);
}

gpointer
sf_ctx_get_data (SfCtx *ctx, const char *name)
{
  return g_datalist_get_data (&ctx->inst->data, name);
}

void
sf_ctx_emit (SfCtx *ctx, const char *event, const char *fields)
{
  GString *out = sf_endpoint_event_begin (ctx->ep, ctx->inst, event);
  if (fields != NULL && *fields != '\0') {
    g_string_append_c (out, ',');
    g_string_append (out, fields);
  }
  sf_endpoint_emit_line (ctx->ep, sf_json_end (out));
}
