/* sf-auth-module.c: the auth module: digest authentication operators (their
 * [auth] section and nonce state are the registrar module's, which keeps the
 * users). */
#include "config.h"
#include "operators/sf-modules.h"

extern const SfOperatorDef sf_op_auth_table[];
extern const gsize sf_op_auth_table_len;

static gboolean
declare (SfPluginRegistrar *r, GError **error)
{
  return sf_plugin_add_operators (r, sf_op_auth_table, sf_op_auth_table_len, error);
}

const SfModuleDef sf_auth_module = {
  .name = "auth",
  .doc = "digest authentication (RFC 3261 22, RFC 8760)",
  .declare = declare,
};
