/* sf-proxy-module.c: the proxy module (RFC 3261 16): the proxy and branch
 * operators, its [proxy] section, per endpoint its configuration and keys
 * (sf-proxy.h), and the stack's gate: a flow whose instances are requests (a
 * proxy's, scope "request") refuses, challenges and forwards stray responses
 * without making state (docs/security.md). */
#include "config.h"
#include "operators/sf-modules.h"
#include "operators/transaction/sf-stack.h"
#include "sf-proxy.h"
#include <string.h>

extern const SfOperatorDef sf_op_proxy_table[];
extern const gsize sf_op_proxy_table_len;
extern const SfOperatorDef sf_op_branch_table[];
extern const gsize sf_op_branch_table_len;

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  SfConfig *cfg = sf_plugin_registrar_config (r);
  return (cfg == NULL || sf_proxy_declare_config (cfg, error)) &&
         sf_plugin_add_operators (r, sf_op_proxy_table, sf_op_proxy_table_len, error) &&
         sf_plugin_add_operators (r, sf_op_branch_table, sf_op_branch_table_len, error);
}

static gboolean
setup (const SfModuleEnv *env, gpointer *state, GError **error)
{
  if (env->cfg == NULL)
    return TRUE;
  /* It attaches its state itself (tests set it up without the module list). */
  if (!sf_proxy_setup (env->ep, env->cfg, error))
    return FALSE;
  SfStack *stack = sf_module_state (env->ep, &sf_transaction_module);
  if (stack != NULL && env->flow != NULL && strcmp (env->flow->scope, "request") == 0)
    sf_stack_set_gate (stack, &sf_proxy_gate);
  return TRUE;
}

/* The gate goes with the state it reads (the stack is torn down after us). */
static void
teardown (gpointer state)
{
  SfProxyConfig *c = state;
  SfStack *stack = sf_module_state (c->ep, &sf_transaction_module);
  if (stack != NULL)
    sf_stack_set_gate (stack, NULL);
  sf_proxy_config_free (c);
}

static gboolean
reload_prepare (gpointer state, SfConfig *cfg, gpointer *prepared, GError **error)
{
  return sf_proxy_reload_prepare (state, cfg, (SfProxyConfig **) prepared, error);
}

static void
reload_commit (gpointer state, gpointer prepared)
{
  sf_proxy_reload_commit (state, prepared);
}

static void
reload_abort (gpointer state, gpointer prepared)
{
  sf_proxy_config_free (prepared);
}

static void
metrics (gpointer state, SfMetricsWriter *w)
{
  SfProxyConfig *c = state;
  sf_metrics_family (w, "sipflow_proxy_requests_total", SF_METRIC_COUNTER,
                     "Requests the proxy forwarded that ended, by the class of the final response it sent upstream "
                     "(a 408 it made when no branch answered included).");
  for (guint k = 2; k <= 6; k++) {
    char cls[4] = { (char) ('0' + k), 'x', 'x', '\0' };
    sf_metrics_sample (w, c->finals[k], "class", cls, NULL);
  }
}

const SfModuleDef sf_proxy_module = {
  .name = "proxy",
  .doc = "the stateful proxy (RFC 3261 16): forwarding, forking, Record-Route",
  .declare = declare,
  .setup = setup,
  .teardown = teardown,
  .reload_prepare = reload_prepare,
  .reload_commit = reload_commit,
  .reload_abort = reload_abort,
  .metrics = metrics,
};
