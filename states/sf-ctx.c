/* sf-ctx.c: what operators may do, through their context (sipflow/sf-operator.h,
 * sf-ctx.h).  Each call goes to the host through the instance's runtime hooks. */
#include "config.h"
#include "sf-ctx.h"
#include "sf-instance-private.h"

G_DEFINE_QUARK (sf-runtime-error-quark, sf_runtime_error)

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
  SfRuntime *rt = ctx->inst->rt;
  sf_runtime_trace (rt, ctx->inst, "    timer %s started: %" G_GUINT64_FORMAT " ms", name, ms);
  rt->hooks->timer_start (rt->host, ctx->inst, name, ms);
}

gboolean
sf_ctx_timer_cancel (SfCtx *ctx, const char *name)
{
  SfRuntime *rt = ctx->inst->rt;
  gboolean was = rt->hooks->timer_cancel (rt->host, ctx->inst, name);
  if (was)
    sf_runtime_trace (rt, ctx->inst, "    timer %s cancelled", name);
  return was;
}

gboolean
sf_ctx_timer_running (SfCtx *ctx, const char *name)
{
  SfRuntime *rt = ctx->inst->rt;
  return rt->hooks->timer_running (rt->host, ctx->inst, name);
}

void
sf_ctx_post_self (SfCtx *ctx, SfEvent *ev)
{
  SfRuntime *rt = ctx->inst->rt;
  rt->hooks->post (rt->host, ctx->inst, ev);
}

gboolean
sf_ctx_post (SfCtx *ctx, const char *scope, const char *key, SfEvent *ev)
{
  SfRuntime *rt = ctx->inst->rt;
  return rt->hooks->post_key (rt->host, scope, key, ev);
}

gboolean
sf_ctx_post_parent (SfCtx *ctx, SfEvent *ev)
{
  SfRuntime *rt = ctx->inst->rt;
  SfInstance *parent = rt->hooks->lookup_id (rt->host, ctx->inst->parent_id);
  if (parent == NULL) {
    sf_event_unref (ev);
    return FALSE;
  }
  return rt->hooks->post (rt->host, parent, ev);
}

SfInstance *
sf_ctx_spawn (SfCtx *ctx, const char *machine, const char *key, GError **error)
{
  SfMachine *m = sf_machine_lookup_import (ctx->inst->machine, machine);
  if (m == NULL) {
    g_set_error (error, SF_RUNTIME_ERROR, SF_RUNTIME_ERROR_NO_MACHINE,
                 "flow '%s' imports no machine named '%s'", ctx->inst->machine->name, machine);
    return NULL;
  }
  SfRuntime *rt = ctx->inst->rt;
  SfInstance *child = rt->hooks->create (rt->host, m, key, ctx->inst, error);
  if (child != NULL)
    child->import_name = g_strdup (machine);
  return child;
}

gboolean
sf_ctx_hand_key (SfCtx *ctx, SfInstance *child)
{
  g_return_val_if_fail (ctx != NULL && child != NULL, FALSE);
  if (child->parent_id != ctx->inst->id)
    return FALSE; /* only down to one's own child: no operator takes another call's key */
  SfRuntime *rt = ctx->inst->rt;
  return rt->hooks->move_key (rt->host, ctx->inst, child);
}

void
sf_ctx_set_slot (SfCtx *ctx, guint slot, gpointer data, GDestroyNotify destroy)
{
  sf_instance_set_slot (ctx->inst, slot, data, destroy);
}

gpointer
sf_ctx_get_slot (SfCtx *ctx, guint slot)
{
  return sf_instance_get_slot (ctx->inst, slot);
}

void
sf_ctx_emit (SfCtx *ctx, const char *event, const char *fields)
{
  SfRuntime *rt = ctx->inst->rt;
  rt->hooks->emit (rt->host, ctx->inst, event, fields);
}

gboolean
sf_ctx_emits (SfCtx *ctx)
{
  SfRuntime *rt = ctx->inst->rt;
  return rt->hooks->emitting == NULL || rt->hooks->emitting (rt->host);
}
