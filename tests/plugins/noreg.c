/* noreg.c: a test plugin that forgot its register function. */
#include "sipflow/sf-plugin.h"

G_MODULE_EXPORT const guint32 sf_plugin_abi_version = SF_PLUGIN_ABI_VERSION;
G_MODULE_EXPORT const char sf_plugin_namespace[] = "noreg";
