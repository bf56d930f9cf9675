/* badabi.c: a test plugin built for a plugin ABI this sipflow does not have. */
#include "sipflow/sf-plugin.h"

G_MODULE_EXPORT const guint32 sf_plugin_abi_version = SF_PLUGIN_ABI_VERSION + 98;
G_MODULE_EXPORT const char sf_plugin_namespace[] = "badabi";
G_MODULE_EXPORT gboolean sf_plugin_register (SfPluginRegistrar *r, GError **error);
G_MODULE_EXPORT gboolean
sf_plugin_register (SfPluginRegistrar *r, GError **error)
{
  return TRUE;
}
