/* sf-plugin.h: the plugin ABI.  A plugin is a shared object declared in a flow
 * (<plugin path="..."/>, relative to the flow file).  It exports three symbols:
 *
 *   const guint32 sf_plugin_abi_version;     must equal SF_PLUGIN_ABI_VERSION (sf-api.h)
 *   const char sf_plugin_namespace[];        [a-z][a-z0-9_]*, prefixes its operators
 *   gboolean sf_plugin_register (SfPluginRegistrar *r, GError **error);
 *
 * SF_PLUGIN_DEFINE (namespace, register_function) writes all three.  The
 * register function adds constant operator tables (names become
 * "namespace:OpName") and may declare configuration sections. */
#pragma once
#include <glib.h>
#include <gmodule.h>
#include "sipflow/sf-api.h"
#include "sipflow/sf-operator.h"
#include "sipflow/sf-config.h"

G_BEGIN_DECLS

/* SF_PLUGIN_ABI_VERSION, the value a plugin must export, is in sf-api.h. */

typedef struct _SfPluginRegistrar SfPluginRegistrar;
typedef gboolean (*SfPluginRegisterFunc) (SfPluginRegistrar *r, GError **error);

SF_API gboolean sf_plugin_add_operators (SfPluginRegistrar *r, const SfOperatorDef *table, gsize n, GError **error);
SF_API gboolean sf_plugin_add_config (SfPluginRegistrar *r, const char *section, const SfConfigKey *keys, gsize n,
                                      GError **error);

#define SF_PLUGIN_DEFINE(ns, register_fn)                                        \
  G_MODULE_EXPORT const guint32 sf_plugin_abi_version = SF_PLUGIN_ABI_VERSION;   \
  G_MODULE_EXPORT const char sf_plugin_namespace[] = ns;                         \
  G_MODULE_EXPORT gboolean sf_plugin_register (SfPluginRegistrar *r, GError **error); \
  G_MODULE_EXPORT gboolean sf_plugin_register (SfPluginRegistrar *r, GError **error) \
  {                                                                              \
    return register_fn (r, error);                                               \
  }

G_END_DECLS
