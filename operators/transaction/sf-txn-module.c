/* sf-txn-module.c: the transaction module: the SIP stack (operators/transaction/sf-stack.h:
 * transports, transaction matching, the four transaction machines of
 * xml/transaction/ and the hand-over to the flow being run), its operators and
 * its [sip] section.  Without sip.listen (or --listen) there is no stack: the
 * flow runs without SIP. */
#include "config.h"
#include "operators/sf-modules.h"
#include "operators/transaction/sf-stack.h"

extern const SfOperatorDef sf_op_txn_table[];
extern const gsize sf_op_txn_table_len;

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  SfConfig *cfg = sf_plugin_registrar_config (r);
  return (cfg == NULL || sf_stack_declare_config (cfg, error)) &&
         sf_plugin_add_operators (r, sf_op_txn_table, sf_op_txn_table_len, error);
}

static gboolean
setup (const SfModuleEnv *env, gpointer *state, GError **error)
{
  if (env->cfg == NULL || env->flow == NULL || env->loader == NULL)
    return TRUE;
  const char *const *specs = sf_config_get_list (env->cfg, "sip", "listen");
  if (specs == NULL || specs[0] == NULL)
    return TRUE;
  /* It attaches itself (tests make stacks without the module list). */
  *state = sf_stack_new (env->ep, env->loader, env->flow, error);
  return *state != NULL;
}

/* The sockets open last, once every module (the proxy's gate) is in place. */
static gboolean
start (gpointer state, GError **error)
{
  SfStack *s = state;
  SfConfig *cfg = sf_stack_config (s);
  const char *const *specs = sf_config_get_list (cfg, "sip", "listen");
  const char *source = sf_config_get_source (cfg, "sip", "listen");
  for (const char *const *sp = specs; *sp != NULL; sp++)
    if (!sf_stack_listen (s, *sp, error)) {
      if (g_strcmp0 (source, "--listen") == 0)
        g_prefix_error (error, "--listen %s: ", *sp);
      else
        g_prefix_error (error, "sip.listen (%s): %s: ", source, *sp);
      return FALSE;
    }
  return TRUE;
}

static void
teardown (gpointer state)
{
  sf_stack_free (state);
}

static char *
stats_fields (gpointer state)
{
  return sf_stack_stats_fields (state);
}

const SfModuleDef sf_transaction_module = {
  .name = "transaction",
  .doc = "the SIP stack: transports, transactions (RFC 3261 17), the hand-over to the flow",
  .declare = declare,
  .setup = setup,
  .start = start,
  .teardown = teardown,
  .stats_fields = stats_fields,
};
