/* sf-registry.h: the operator registry.  Constant tables pair each XML name
 * with its C function (docs/style.md, Kamailio module exports); the modules'
 * tables (sf-module.h) are added at start, plugin tables under their namespace.  Names are resolved when
 * a flow loads, never at run time. */
#pragma once
#include <glib.h>
#include "sipflow/sf-operator.h"
#include "sipflow/sf-config.h"

G_BEGIN_DECLS

#define SF_REGISTRY_ERROR (sf_registry_error_quark ())
GQuark sf_registry_error_quark (void);
typedef enum {
  SF_REGISTRY_ERROR_DUPLICATE,
  SF_REGISTRY_ERROR_INVALID,
  SF_REGISTRY_ERROR_PLUGIN,
} SfRegistryError;

typedef struct _SfRegistry SfRegistry;

typedef struct _SfModuleDef SfModuleDef;

/* A registry of the modules in @modules (NULL-terminated, constant
 * descriptors; the program passes sf_builtin_modules, operators/sf-modules.h):
 * their operator tables, and their configuration sections declared in @cfg
 * (nullable, unowned, must outlive the registry), as plugins' are. */
SfRegistry *sf_registry_new (SfConfig *cfg, const SfModuleDef *const *modules);
/* An empty registry, for tests. */
SfRegistry *sf_registry_new_empty (SfConfig *cfg);
void sf_registry_free (SfRegistry *reg);
/* The configuration its modules declared their sections in (unowned, nullable). */
SfConfig *sf_registry_config (SfRegistry *reg);

/* Adds a constant table (which must outlive the registry).  @ns: NULL for built-ins. */
gboolean sf_registry_add (SfRegistry *reg, const char *ns, const SfOperatorDef *table, gsize n, GError **error);
const SfOperatorDef *sf_registry_lookup (SfRegistry *reg, const char *name);
/* The name of the module that added operator @name (transfer none: the
 * module's, or the plugin's namespace), or NULL for an unknown name or a table
 * added with sf_registry_add outside a module. */
const char *sf_registry_operator_module (SfRegistry *reg, const char *name);
/* (transfer container) sorted names */
GPtrArray *sf_registry_names (SfRegistry *reg);

/* The Levenshtein distance of @a and @b ignoring ASCII case, capped at @cap + 1
 * (the "did you mean" of every name a user writes: operators, timers). */
guint sf_name_distance (const char *a, const char *b, guint cap);
/* The registered operator name nearest @name within 2 edits, ignoring case
 * (transfer none; the first in sorted order on a tie), or NULL. */
const char *sf_registry_suggest (SfRegistry *reg, const char *name);

/* Loads a plugin once (a second load of the same file is a no-op). */
gboolean sf_registry_load_plugin (SfRegistry *reg, const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfRegistry, sf_registry_free)

G_END_DECLS
