/* sf-module.h: modules, the unit sipflow is composed of (docs/architecture.md,
 * "The module API").
 *
 * A module is a constant descriptor (SfModuleDef): a name, a declare function
 * that adds its operator tables and configuration sections through the same
 * registrar a plugin gets (sf-plugin.h), and optional setup/teardown run once
 * per endpoint, whose state (kept by the endpoint, sf_module_state) other
 * modules reach by a typed accessor the module exports (sf_stack_from_ctx, sf_registrar_from_ctx...), not by a string key.
 * A registry is built from a list of modules (the program passes the built-in
 * list, operators/sf-modules.h); plugins join it as modules named after their
 * namespace.  A module's place in that list is its id: the index of its
 * per-instance data slot (pjsip's mod_data) and the order of setup (a module
 * comes after those it uses; teardown runs in reverse).  Nothing here names a
 * particular module. */
#pragma once
#include <glib.h>
#include "sipflow/sf-plugin.h"
#include "framework/sf-endpoint.h"
#include "framework/sf-loader.h"
#include "framework/sf-metrics.h"
#include "states/sf-ctx.h"

G_BEGIN_DECLS

/* What a module's setup sees: the endpoint it joins, the configuration (read,
 * checked), the loader and the flow being run (both nullable: tests set up
 * modules with no flow). */
typedef struct {
  SfEndpoint *ep;
  SfConfig *cfg;
  SfLoader *loader;
  SfMachine *flow;
} SfModuleEnv;

typedef struct _SfModuleDef SfModuleDef;
struct _SfModuleDef {
  const char *name;   /* [a-z][a-z0-9_]*: "transaction", "ua"; a plugin's is its namespace */
  const char *doc;    /* one line: what it is for */
  /* Adds the module's operator tables and configuration sections (nullable). */
  gboolean (*declare) (SfPluginRegistrar *r, GError **error);
  /* Per endpoint, after the configuration is read (nullable): sets *state (may
   * stay NULL: the module has nothing to run here).  FALSE with @error set
   * stops the program; the modules set up before get their teardown. */
  gboolean (*setup) (const SfModuleEnv *env, gpointer *state, GError **error);
  /* Once every module is set up (nullable; only with a state): opens what
   * lets the world in (the transaction module's sockets), so nothing arrives
   * before every module is ready.  FALSE with @error set stops the program. */
  gboolean (*start) (gpointer state, GError **error);
  void (*teardown) (gpointer state);                 /* nullable; never given NULL */
  /* Further "key":value fields for the stats event (nullable; transfer full; may return NULL). */
  char *(*stats_fields) (gpointer state);
  /* Reloading the configuration (sf_modules_reload; docs/operations.md,
   * "Reloading the configuration"), in two phases so that a reload is taken
   * or refused whole.  A section of a module with no reload_prepare cannot
   * change without a restart.
   * Keys ("section.key", NULL-terminated; nullable) that a reload may not change:
   * what they set up (a socket, a store, a key) lives as long as the process. */
  const char *const *restart_keys;
  /* Checks @cfg, the new configuration (every value already checked against
   * its declaration), and builds everything that can fail (reading the users
   * file, a connection) into *prepared (may stay NULL).  @state is the
   * module's (nullable).  FALSE with @error set refuses the whole reload. */
  gboolean (*reload_prepare) (gpointer state, SfConfig *cfg, gpointer *prepared, GError **error);
  /* Puts @prepared in force (nullable; cannot fail); takes it.  Runs once the
   * endpoint's configuration holds the new values, for every module whose
   * prepare succeeded, in order. */
  void (*reload_commit) (gpointer state, gpointer prepared);
  /* Frees @prepared (never NULL) when another module refused the reload. */
  void (*reload_abort) (gpointer state, gpointer prepared);
  /* Writes the module's metric families at a scrape (nullable;
   * docs/operations.md, "Metrics"): from the counters its state keeps, and the
   * gauges it knows now. */
  void (*metrics) (gpointer state, SfMetricsWriter *w);
};

/* The configuration being declared, for a module's declare function (NULL when
 * the registry reads none: `check`, `dot`). */
SfConfig *sf_plugin_registrar_config (SfPluginRegistrar *r);

/* Adds @def (a constant descriptor that outlives the registry) and runs its
 * declare function.  Its id is the number of modules added before it. */
gboolean sf_registry_add_module (SfRegistry *reg, const SfModuleDef *def, GError **error);
/* The modules, in order (transfer none; entries are const SfModuleDef*). */
GPtrArray *sf_registry_modules (SfRegistry *reg);

/* Makes @state (nullable: detach) @def's state on @ep, for an object a module
 * creates outside sf_modules_setup (a test's stack): sf_module_state finds it. */
void sf_module_attach (SfEndpoint *ep, const SfModuleDef *def, gpointer state);
/* Runs every module's setup for @ep, in order; on failure, tears down those set
 * up and returns FALSE with @error set, prefixed by nothing (the module's error
 * names its configuration key). */
gboolean sf_modules_setup (SfEndpoint *ep, SfLoader *loader, SfMachine *flow, GError **error);
/* Runs every module's start, in order (after sf_modules_setup). */
gboolean sf_modules_start (SfEndpoint *ep, GError **error);
/* Runs the teardowns, in reverse order (idempotent).  End the instances first:
 * they may hold what a module's state owns. */
void sf_modules_teardown (SfEndpoint *ep);
/* Puts @cfg, a configuration read again into sf_config_new_like(@ep's), in
 * force, or nothing: refused (FALSE with @error set, @ep's configuration
 * untouched) when a key changes that a module's restart_keys names or whose
 * section's module has no reload_prepare ("needs a restart"), or when a
 * module's reload_prepare fails (those prepared get their reload_abort);
 * else the endpoint's configuration takes @cfg's values (sf_config_assign)
 * and every prepared module its reload_commit.  *@changed (nullable) gets the
 * keys that changed ("section.key", transfer full), set either way. */
gboolean sf_modules_reload (SfEndpoint *ep, SfConfig *cfg, GPtrArray **changed, GError **error);
/* Runs every module's metrics hook (those with a state), in order. */
void sf_modules_metrics (SfEndpoint *ep, SfMetricsWriter *w);
/* @def's state on @ep (NULL when it was not set up, or has none). */
gpointer sf_module_state (SfEndpoint *ep, const SfModuleDef *def);
/* @def's id on @ep's registry (its per-instance slot); -1 when it is not there. */
int sf_module_id (SfEndpoint *ep, const SfModuleDef *def);

/* A module's per-instance data lives in its slot of the instance (one struct
 * per module, reached by the module's typed accessor: sf_ua_inst,
 * sf_proxy_inst...), not under a string key.  The id is found by a scan of the
 * registry's few module pointers, no string compared. */

/* @def's data on @inst of @ep (transfer none), NULL when none was made or @def
 * is not in @ep's registry. */
gpointer sf_instance_module_slot (SfEndpoint *ep, SfInstance *inst, const SfModuleDef *def);
/* The same, made by @create the first time (freed with the instance by @destroy,
 * nullable); NULL (with a critical) only when @def is not in @ep's registry. */
gpointer sf_instance_module_slot_ensure (SfEndpoint *ep, SfInstance *inst, const SfModuleDef *def,
                                         gpointer (*create) (void), GDestroyNotify destroy);
/* The two above for the instance @ctx runs for, on its endpoint. */
gpointer sf_ctx_module_slot (SfCtx *ctx, const SfModuleDef *def);
gpointer sf_ctx_module_slot_ensure (SfCtx *ctx, const SfModuleDef *def, gpointer (*create) (void), GDestroyNotify destroy);

G_END_DECLS
