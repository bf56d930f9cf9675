/* sf-ctx.h: the operator's context as the engine sees it (not for plugins).
 *
 * Operators act through SfCtx and the sf_ctx_* functions of sipflow/sf-operator.h.
 * This header holds what only the engine and the built-in operators may use: the
 * host endpoint and the instance object behind a context (the context's fields
 * are in sf-runtime.h, for the dispatcher and the host).
 * A plugin that needs either is asking for something the public API should give
 * it by name instead. */
#pragma once
#include <glib.h>
#include "sipflow/sf-operator.h"
#include "sf-instance.h"

G_BEGIN_DECLS

typedef struct _SfEndpoint SfEndpoint;   /* the host, framework/'s: opaque here */

/* The host endpoint (unowned). */
SfEndpoint *sf_ctx_endpoint (SfCtx *ctx);
/* The instance the operator runs for (unowned). */
SfInstance *sf_ctx_instance (SfCtx *ctx);

/* Per-instance data in the slot of a module (its module id, below 64): set frees
 * the value it replaces; slots are freed with the instance, highest first. */
void sf_ctx_set_slot (SfCtx *ctx, guint slot, gpointer data, GDestroyNotify destroy);
gpointer sf_ctx_get_slot (SfCtx *ctx, guint slot);

G_END_DECLS
