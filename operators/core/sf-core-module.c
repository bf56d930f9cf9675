/* sf-core-module.c: the core module: the operators every flow may use. */
#include "config.h"
#include "operators/sf-modules.h"

extern const SfOperatorDef sf_op_core_table[];
extern const gsize sf_op_core_table_len;

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  return sf_plugin_add_operators (r, sf_op_core_table, sf_op_core_table_len, error);
}

const SfModuleDef sf_core_module = {
  .name = "core",
  .doc = "flow plumbing: timers, events, children, logs",
  .declare = declare,
};
