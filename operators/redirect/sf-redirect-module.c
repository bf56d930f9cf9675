/* sf-redirect-module.c: the redirect module (RFC 3261 8.3): its operators
 * answer from the registrar module's location service. */
#include "config.h"
#include "operators/sf-modules.h"

extern const SfOperatorDef sf_op_redirect_table[];
extern const gsize sf_op_redirect_table_len;

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  return sf_plugin_add_operators (r, sf_op_redirect_table, sf_op_redirect_table_len, error);
}

const SfModuleDef sf_redirect_module = {
  .name = "redirect",
  .doc = "the redirect server (RFC 3261 8.3)",
  .declare = declare,
};
