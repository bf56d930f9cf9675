/* sf-module.c: modules set up on an endpoint (see sf-module.h). */
#include "config.h"
#include "sf-module.h"
#include "sf-endpoint-private.h"
#include "sf-config-private.h"
#include <string.h>

typedef struct {
  const SfModuleDef *def;  /* unowned */
  gpointer state;          /* owned by the module; NULL once detached */
  gboolean set_up;         /* its setup ran through sf_modules_setup: teardown is ours to call */
} Entry;

struct _SfModuleStates {
  GArray *entries;         /* Entry, in setup (or attach) order */
  gboolean hooked;         /* the stats hook is ours */
  SfStatsFunc chained;     /* the stats hook set before the modules' */
  gpointer chained_data;
};

static char *
stats_fields (gpointer data)
{
  SfModuleStates *m = data;
  GString *out = g_string_new (NULL);
  if (m->chained != NULL) {
    g_autofree char *c = m->chained (m->chained_data);
    if (c != NULL && *c != '\0')
      g_string_append (out, c);
  }
  for (guint i = 0; i < m->entries->len; i++) {
    Entry *e = &g_array_index (m->entries, Entry, i);
    if (e->def->stats_fields == NULL || e->state == NULL)
      continue;
    g_autofree char *f = e->def->stats_fields (e->state);
    if (f == NULL || *f == '\0')
      continue;
    if (out->len > 0)
      g_string_append_c (out, ',');
    g_string_append (out, f);
  }
  return g_string_free (out, FALSE);
}

static SfModuleStates *
states (SfEndpoint *ep)
{
  if (ep->modules == NULL) {
    ep->modules = g_new0 (SfModuleStates, 1);
    ep->modules->entries = g_array_new (FALSE, TRUE, sizeof (Entry));
    sf_endpoint_get_stats_extra (ep, &ep->modules->chained, &ep->modules->chained_data);
    sf_endpoint_set_stats_extra (ep, stats_fields, ep->modules);
    ep->modules->hooked = TRUE;
  }
  return ep->modules;
}

static Entry *
find (SfEndpoint *ep, const SfModuleDef *def)
{
  SfModuleStates *m = ep->modules;
  if (m == NULL)
    return NULL;
  /* A handful of modules: a scan of pointers beats a hash of names. */
  for (guint i = 0; i < m->entries->len; i++) {
    Entry *e = &g_array_index (m->entries, Entry, i);
    if (e->def == def)
      return e;
  }
  return NULL;
}

void
sf_module_attach (SfEndpoint *ep, const SfModuleDef *def, gpointer state)
{
  Entry *e = find (ep, def);
  if (e != NULL) {
    g_return_if_fail (e->state == NULL || state == NULL);
    e->state = state;
    return;
  }
  Entry n = { def, state, FALSE };
  g_array_append_val (states (ep)->entries, n);
}

/* Runs the teardowns of the modules sf_modules_setup set up, in reverse order,
 * and forgets each state as soon as its teardown returns: a module torn down
 * is never found by a later teardown (the proxy's state while the stack's goes). */
static void
teardown_set_up (SfModuleStates *m)
{
  for (guint i = m != NULL ? m->entries->len : 0; i-- > 0;) {
    Entry *e = &g_array_index (m->entries, Entry, i);
    gpointer state = e->state;
    gboolean set_up = e->set_up;
    e->set_up = FALSE;
    if (!set_up)
      continue;
    if (state != NULL && e->def->teardown != NULL)
      e->def->teardown (state); /* may detach itself (sf_registrar_teardown) */
    e = &g_array_index (m->entries, Entry, i); /* again: had a teardown attached something, the array moved */
    e->state = NULL;
  }
}

gboolean
sf_modules_setup (SfEndpoint *ep, SfLoader *loader, SfMachine *flow, GError **error)
{
  GPtrArray *defs = sf_registry_modules (ep->reg);
  SfModuleEnv env = { ep, ep->cfg, loader, flow };
  for (guint i = 0; i < defs->len; i++) {
    const SfModuleDef *def = defs->pdata[i];
    if (def->setup == NULL)
      continue;
    gpointer state = NULL;
    if (!def->setup (&env, &state, error)) {
      /* Only what this call set up: a state a caller attached itself stays
       * attached, for its own teardown. */
      teardown_set_up (ep->modules);
      return FALSE;
    }
    /* The setup may have attached its state itself (sf_stack_new does). */
    Entry *e = find (ep, def);
    if (e == NULL) {
      sf_module_attach (ep, def, state);
      e = find (ep, def);
    } else if (state != NULL) {
      e->state = state;
    }
    e->set_up = TRUE;
  }
  return TRUE;
}

gboolean
sf_modules_start (SfEndpoint *ep, GError **error)
{
  SfModuleStates *m = ep->modules;
  for (guint i = 0; m != NULL && i < m->entries->len; i++) {
    Entry *e = &g_array_index (m->entries, Entry, i);
    if (e->set_up && e->state != NULL && e->def->start != NULL && !e->def->start (e->state, error))
      return FALSE;
  }
  return TRUE;
}

void
sf_modules_teardown (SfEndpoint *ep)
{
  SfModuleStates *m = ep->modules;
  if (m == NULL)
    return;
  teardown_set_up (m);
  SfStatsFunc func;
  gpointer data;
  sf_endpoint_get_stats_extra (ep, &func, &data);
  if (data == m)
    sf_endpoint_set_stats_extra (ep, m->chained, m->chained_data);
  g_array_unref (m->entries);
  g_free (m);
  ep->modules = NULL;
}

/* The module that a reload may not change @key ("section.key") for, NULL when
 * none: one naming it in its restart_keys, or the module that declared its
 * section when that module has no reload_prepare. */
static const SfModuleDef *
restart_needed_by (GPtrArray *defs, SfConfig *cfg, const char *key)
{
  for (guint i = 0; i < defs->len; i++) {
    const SfModuleDef *def = defs->pdata[i];
    if (def->restart_keys != NULL && g_strv_contains ((const char *const *) def->restart_keys, key))
      return def;
  }
  g_autofree char *section = g_strndup (key, strcspn (key, "."));
  const char *owner = sf_config_section_owner (cfg, section);
  for (guint i = 0; owner != NULL && i < defs->len; i++) {
    const SfModuleDef *def = defs->pdata[i];
    if (strcmp (def->name, owner) == 0)
      return def->reload_prepare == NULL ? def : NULL;
  }
  return NULL;
}

gboolean
sf_modules_reload (SfEndpoint *ep, SfConfig *cfg, GPtrArray **changed, GError **error)
{
  GPtrArray *defs = sf_registry_modules (ep->reg);
  g_autoptr (GPtrArray) keys = sf_config_changed_keys (ep->cfg, cfg);
  if (changed != NULL)
    *changed = g_ptr_array_ref (keys);
  /* Every key first: the error names each one a restart would be needed for. */
  g_autoptr (GString) restart = g_string_new (NULL);
  for (guint i = 0; i < keys->len; i++) {
    const SfModuleDef *def = restart_needed_by (defs, ep->cfg, keys->pdata[i]);
    if (def != NULL)
      g_string_append_printf (restart, "%s%s (%s)", restart->len > 0 ? ", " : "", (const char *) keys->pdata[i],
                              def->name);
  }
  if (restart->len > 0) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "changing %s needs a restart: nothing was changed", restart->str);
    return FALSE;
  }
  gpointer *prepared = g_new0 (gpointer, defs->len + 1);
  guint done = 0;
  for (; done < defs->len; done++) {
    const SfModuleDef *def = defs->pdata[done];
    if (def->reload_prepare != NULL && !def->reload_prepare (sf_module_state (ep, def), cfg, &prepared[done], error))
      break;
  }
  if (done < defs->len) {
    for (guint i = done; i-- > 0;) {
      const SfModuleDef *def = defs->pdata[i];
      if (prepared[i] != NULL && def->reload_abort != NULL)
        def->reload_abort (sf_module_state (ep, def), prepared[i]);
    }
    g_free (prepared);
    return FALSE;
  }
  sf_config_assign (ep->cfg, cfg);
  for (guint i = 0; i < defs->len; i++) {
    const SfModuleDef *def = defs->pdata[i];
    if (def->reload_commit != NULL)
      def->reload_commit (sf_module_state (ep, def), prepared[i]);
  }
  g_free (prepared);
  return TRUE;
}

void
sf_modules_metrics (SfEndpoint *ep, SfMetricsWriter *w)
{
  SfModuleStates *m = ep->modules;
  for (guint i = 0; m != NULL && i < m->entries->len; i++) {
    Entry *e = &g_array_index (m->entries, Entry, i);
    if (e->def->metrics != NULL && e->state != NULL)
      e->def->metrics (e->state, w);
  }
}

int
sf_module_id (SfEndpoint *ep, const SfModuleDef *def)
{
  GPtrArray *defs = sf_registry_modules (ep->reg);
  for (guint i = 0; i < defs->len; i++)
    if (defs->pdata[i] == def)
      return (int) i;
  return -1;
}

gpointer
sf_module_state (SfEndpoint *ep, const SfModuleDef *def)
{
  Entry *e = find (ep, def);
  return e != NULL ? e->state : NULL;
}

gpointer
sf_instance_module_slot (SfEndpoint *ep, SfInstance *inst, const SfModuleDef *def)
{
  int id = sf_module_id (ep, def);
  return id >= 0 ? sf_instance_get_slot (inst, (guint) id) : NULL;
}

gpointer
sf_instance_module_slot_ensure (SfEndpoint *ep, SfInstance *inst, const SfModuleDef *def,
                                gpointer (*create) (void), GDestroyNotify destroy)
{
  int id = sf_module_id (ep, def);
  g_return_val_if_fail (id >= 0, NULL);
  gpointer data = sf_instance_get_slot (inst, (guint) id);
  if (data == NULL) {
    data = create ();
    sf_instance_set_slot (inst, (guint) id, data, destroy);
  }
  return data;
}

gpointer
sf_ctx_module_slot (SfCtx *ctx, const SfModuleDef *def)
{
  return sf_instance_module_slot (sf_ctx_endpoint (ctx), sf_ctx_instance (ctx), def);
}

gpointer
sf_ctx_module_slot_ensure (SfCtx *ctx, const SfModuleDef *def, gpointer (*create) (void), GDestroyNotify destroy)
{
  return sf_instance_module_slot_ensure (sf_ctx_endpoint (ctx), sf_ctx_instance (ctx), def, create, destroy);
}

/* The slot of the plugin whose operator @ctx runs: the module named after the
 * namespace of the operator's name ("ns:Op"); -1 (with a critical) when the
 * operator is not a plugin's. */
static int
plugin_slot (SfCtx *ctx)
{
  g_return_val_if_fail (ctx != NULL && sf_ctx_instance (ctx) != NULL, -1);
  const char *op = sf_ctx_op_name (ctx);
  const char *colon = strchr (op, ':');
  if (colon != NULL) {
    gsize len = (gsize) (colon - op);
    GPtrArray *defs = sf_registry_modules (sf_ctx_endpoint (ctx)->reg);
    for (guint i = 0; i < defs->len; i++) {
      const SfModuleDef *def = defs->pdata[i];
      if (strncmp (def->name, op, len) == 0 && def->name[len] == '\0')
        return (int) i;
    }
  }
  g_critical ("sf_ctx_plugin_data: '%s' is not a plugin's operator", op);
  return -1;
}

gpointer
sf_ctx_plugin_data (SfCtx *ctx)
{
  int id = plugin_slot (ctx);
  return id >= 0 ? sf_instance_get_slot (sf_ctx_instance (ctx), (guint) id) : NULL;
}

void
sf_ctx_set_plugin_data (SfCtx *ctx, gpointer data, GDestroyNotify destroy)
{
  int id = plugin_slot (ctx);
  if (id >= 0)
    sf_instance_set_slot (sf_ctx_instance (ctx), (guint) id, data, destroy);
}
