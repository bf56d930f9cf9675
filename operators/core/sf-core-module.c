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

/* [core] (framework/sf-config.c) keys a reload may not change: where state
 * lives and the secret derived from it, the live view's and the metrics' sockets, and the
 * endpoint's queue bound (read when it is made).  The rest of [core] is read
 * when used, or put in force again by run's reload (sipflow run). */
static const char *const restart_keys[] = {
  "core.state_dir", "core.secret_file", "core.http", "core.http_public", "core.metrics", "core.max_queue", NULL,
};

const SfModuleDef sf_core_module = {
  .name = "core",
  .doc = "flow plumbing: timers, events, children, logs",
  .declare = declare,
  .restart_keys = restart_keys,
};
