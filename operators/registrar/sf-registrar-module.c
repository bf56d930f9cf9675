/* sf-registrar-module.c: the registrar module: the registrar's operators, its
 * [registrar] and [auth] sections, and per endpoint the state of
 * sf-registrar.h (domains, users, nonces, the location service), which the
 * auth, redirect and proxy modules read through sf_registrar_from_ctx(). */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-registrar.h"

extern const SfOperatorDef sf_op_registrar_table[];
extern const gsize sf_op_registrar_table_len;

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  SfConfig *cfg = sf_plugin_registrar_config (r);
  return (cfg == NULL || sf_registrar_declare_config (cfg, error)) &&
         sf_plugin_add_operators (r, sf_op_registrar_table, sf_op_registrar_table_len, error);
}

static gboolean
setup (const SfModuleEnv *env, gpointer *state, GError **error)
{
  /* It attaches its state itself (tests set it up without the module list). */
  if (env->cfg == NULL)
    return TRUE;
  if (!sf_registrar_setup (env->ep, env->cfg, error))
    return FALSE;
  SfStack *stack = sf_module_state (env->ep, &sf_transaction_module);
  if (stack != NULL && sf_registrar_gate_fits (env->flow)) {
    sf_stack_set_gate (stack, &sf_registrar_gate);
    ((SfRegistrar *) sf_module_state (env->ep, &sf_registrar_module))->gated = TRUE;
  }
  return TRUE;
}

/* The gate goes with the state it reads (the stack is torn down after us). */
static void
teardown (gpointer state)
{
  SfRegistrar *r = state;
  SfStack *stack = sf_module_state (r->ep, &sf_transaction_module);
  if (stack != NULL && r->gated)
    sf_stack_set_gate (stack, NULL);
  sf_registrar_teardown (r->ep);
}

static char *
stats_fields (gpointer state)
{
  return sf_registrar_stats_fields (state);
}

static gboolean
reload_prepare (gpointer state, SfConfig *cfg, gpointer *prepared, GError **error)
{
  return sf_registrar_reload_prepare (state, cfg, (SfRegistrar **) prepared, error);
}

static void
reload_commit (gpointer state, gpointer prepared)
{
  sf_registrar_reload_commit (state, prepared);
}

static void
reload_abort (gpointer state, gpointer prepared)
{
  sf_registrar_reload_abort (prepared);
}

/* The bindings' store and the key of this node's Path hops live as long as the process. */
static const char *const restart_keys[] = {
  "location.backend", "location.uri", "location.password", "location.redis_without_password",
  "location.timeout_ms", "location.busy_timeout_ms", "registrar.cluster", NULL,
};

static void
metrics (gpointer state, SfMetricsWriter *w)
{
  sf_registrar_metrics (state, w);
}

const SfModuleDef sf_registrar_module = {
  .name = "registrar",
  .doc = "registrar and location service (RFC 3261 10)",
  .declare = declare,
  .setup = setup,
  .teardown = teardown,
  .stats_fields = stats_fields,
  .restart_keys = restart_keys,
  .reload_prepare = reload_prepare,
  .reload_commit = reload_commit,
  .reload_abort = reload_abort,
  .metrics = metrics,
};
