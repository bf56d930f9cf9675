/* sf-registry.c: operator registry and plugin loading (see sf-registry.h, sf-plugin.h). */
#include "config.h"
#include "sf-registry.h"
#include "sf-module.h"
#include "sf-config-private.h"
#include "states/sf-instance.h"
#include "sipflow/sf-plugin.h"
#include <gmodule.h>
#include <string.h>

G_DEFINE_QUARK (sf-registry-error-quark, sf_registry_error)
G_DEFINE_QUARK (sf-op-arg-error-quark, sf_op_arg_error)

gboolean
sf_op_name_valid (const char *s)
{
  if (s == NULL || *s == '\0')
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '.')
      return FALSE;
  return TRUE;
}

gboolean
sf_op_fixup_name (const char *text, gpointer *out_arg, GError **error)
{
  if (!sf_op_name_valid (text)) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected a name of letters, digits, '_', '-' or '.', got '%s'", text);
    return FALSE;
  }
  *out_arg = g_strdup (text);
  return TRUE;
}

struct _SfRegistry {
  GHashTable *ops;      /* name (owned) -> const SfOperatorDef* */
  GHashTable *op_module; /* name (owned) -> the name of the module that added it (unowned) */
  const char *declaring; /* the module whose declare is running, or NULL */
  GHashTable *plugins;  /* canonical path (owned) -> GModule (owned) */
  GPtrArray *modules;   /* owned GModule, closed last */
  GPtrArray *defs;      /* const SfModuleDef*, in order: built-ins (unowned) then plugins (in plugin_defs) */
  GPtrArray *plugin_defs; /* owned SfModuleDef of the plugins (their names point into the GModule) */
  SfConfig *cfg;        /* unowned, nullable */
};

struct _SfPluginRegistrar {
  SfRegistry *reg;
  const char *ns;
};

static void
module_close (gpointer module)
{
  g_module_close (module);
}

SfRegistry *
sf_registry_new_empty (SfConfig *cfg)
{
  SfRegistry *reg = g_new0 (SfRegistry, 1);
  reg->ops = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  reg->op_module = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  reg->plugins = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  reg->modules = g_ptr_array_new_with_free_func (module_close);
  reg->defs = g_ptr_array_new ();
  reg->plugin_defs = g_ptr_array_new_with_free_func (g_free);
  reg->cfg = cfg;
  return reg;
}

SfRegistry *
sf_registry_new (SfConfig *cfg, const SfModuleDef *const *modules)
{
  SfRegistry *reg = sf_registry_new_empty (cfg);
  g_autoptr (GError) error = NULL;
  for (guint i = 0; modules != NULL && modules[i] != NULL; i++)
    if (!sf_registry_add_module (reg, modules[i], &error))
      g_error ("built-in module '%s': %s", modules[i]->name, error->message);
  return reg;
}

void
sf_registry_free (SfRegistry *reg)
{
  if (reg == NULL)
    return;
  g_hash_table_unref (reg->ops);
  g_hash_table_unref (reg->op_module);
  g_hash_table_unref (reg->plugins);
  g_ptr_array_unref (reg->defs);
  g_ptr_array_unref (reg->plugin_defs);
  g_ptr_array_unref (reg->modules);
  g_free (reg);
}

static gboolean
valid_identifier (const char *s, gboolean lower_only)
{
  if (s == NULL || !g_ascii_isalpha (*s) || (lower_only && !g_ascii_islower (*s)))
    return FALSE;
  for (const char *p = s + 1; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_')
      return FALSE;
    else if (lower_only && g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

gboolean
sf_registry_add (SfRegistry *reg, const char *ns, const SfOperatorDef *table, gsize n, GError **error)
{
  /* Check the whole table first, so a bad table adds nothing. */
  for (gsize i = 0; i < n; i++) {
    const SfOperatorDef *op = &table[i];
    if (!valid_identifier (op->name, FALSE) || op->func == NULL || op->queues == 0 || op->events == 0) {
      g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_INVALID,
                   "operator table entry %" G_GSIZE_FORMAT " ('%s') is incomplete: it needs a name, a function, "
                   "queues and event kinds", i, op->name != NULL ? op->name : "(null)");
      return FALSE;
    }
    if (op->outcomes != NULL)
      for (int k = 0; op->outcomes[k] != NULL; k++)
        if (strcmp (op->outcomes[k], "error") == 0) {
          g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_INVALID,
                       "operator '%s' declares the outcome 'error', which every operator has already", op->name);
          return FALSE;
        }
    g_autofree char *full = ns != NULL ? g_strdup_printf ("%s:%s", ns, op->name) : g_strdup (op->name);
    if (g_hash_table_contains (reg->ops, full)) {
      g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_DUPLICATE, "operator '%s' is registered twice",
                   full);
      return FALSE;
    }
    for (gsize j = 0; j < i; j++)
      if (strcmp (table[j].name, op->name) == 0) {
        g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_DUPLICATE,
                     "operator '%s' appears twice in one table", full);
        return FALSE;
      }
  }
  /* A plugin's module is named after its namespace; a built-in's is the one declaring. */
  const char *module = ns != NULL ? ns : reg->declaring;
  for (gsize i = 0; i < n; i++) {
    char *full = ns != NULL ? g_strdup_printf ("%s:%s", ns, table[i].name) : g_strdup (table[i].name);
    g_hash_table_insert (reg->ops, full, (gpointer) &table[i]);
    if (module != NULL)
      g_hash_table_insert (reg->op_module, g_strdup (full), (gpointer) module);
  }
  return TRUE;
}

const SfOperatorDef *
sf_registry_lookup (SfRegistry *reg, const char *name)
{
  return g_hash_table_lookup (reg->ops, name);
}

const char *
sf_registry_operator_module (SfRegistry *reg, const char *name)
{
  return g_hash_table_lookup (reg->op_module, name);
}

static gint
by_name (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
sf_registry_names (SfRegistry *reg)
{
  GPtrArray *names = g_ptr_array_new ();
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, reg->ops);
  while (g_hash_table_iter_next (&it, &key, NULL))
    g_ptr_array_add (names, key);
  g_ptr_array_sort (names, by_name);
  return names;
}

guint
sf_name_distance (const char *a, const char *b, guint cap)
{
  gsize la = strlen (a), lb = strlen (b);
  if ((la > lb ? la - lb : lb - la) > cap)
    return cap + 1;
  g_autofree guint *row = g_new (guint, lb + 1);
  for (gsize j = 0; j <= lb; j++)
    row[j] = (guint) j;
  for (gsize i = 1; i <= la; i++) {
    guint diag_prev = row[0];
    row[0] = (guint) i;
    for (gsize j = 1; j <= lb; j++) {
      guint up = row[j];
      guint cost = g_ascii_tolower (a[i - 1]) == g_ascii_tolower (b[j - 1]) ? 0 : 1;
      guint best = MIN (MIN (up + 1, row[j - 1] + 1), diag_prev + cost);
      diag_prev = up;
      row[j] = best;
    }
  }
  return MIN (row[lb], cap + 1);
}

const char *
sf_registry_suggest (SfRegistry *reg, const char *name)
{
  g_autoptr (GPtrArray) names = sf_registry_names (reg);
  const char *best = NULL;
  guint best_d = 3;
  for (guint i = 0; i < names->len; i++) {
    guint d = sf_name_distance (names->pdata[i], name, 2);
    if (d < best_d) {
      best_d = d;
      best = names->pdata[i];
    }
  }
  return best;
}

gboolean
sf_plugin_add_operators (SfPluginRegistrar *r, const SfOperatorDef *table, gsize n, GError **error)
{
  return sf_registry_add (r->reg, r->ns, table, n, error);
}

gboolean
sf_plugin_add_config (SfPluginRegistrar *r, const char *section, const SfConfigKey *keys, gsize n, GError **error)
{
  if (r->reg->cfg == NULL)
    return TRUE; /* check/dot: no configuration is read */
  return sf_config_declare (r->reg->cfg, section, keys, n, error);
}

SfConfig *
sf_plugin_registrar_config (SfPluginRegistrar *r)
{
  return r->reg->cfg;
}

gboolean
sf_registry_add_module (SfRegistry *reg, const SfModuleDef *def, GError **error)
{
  if (!valid_identifier (def->name, TRUE)) {
    g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_INVALID, "module name '%s' is not [a-z][a-z0-9_]*",
                 def->name != NULL ? def->name : "(null)");
    return FALSE;
  }
  for (guint i = 0; i < reg->defs->len; i++)
    if (strcmp (((const SfModuleDef *) reg->defs->pdata[i])->name, def->name) == 0) {
      g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_DUPLICATE, "module '%s' is added twice", def->name);
      return FALSE;
    }
  if (reg->defs->len >= SF_INSTANCE_MAX_SLOTS) {
    g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_INVALID,
                 "module '%s': at most %d modules (plugins included), one instance slot each", def->name,
                 SF_INSTANCE_MAX_SLOTS);
    return FALSE;
  }
  SfPluginRegistrar r = { reg, NULL };
  reg->declaring = def->name;
  if (reg->cfg != NULL) /* its sections are its own, for a reload (sf_modules_reload) */
    sf_config_set_declaring (reg->cfg, def->name);
  gboolean ok = def->declare == NULL || def->declare (&r, error);
  if (reg->cfg != NULL)
    sf_config_set_declaring (reg->cfg, NULL);
  reg->declaring = NULL;
  if (!ok)
    return FALSE;
  g_ptr_array_add (reg->defs, (gpointer) def);
  return TRUE;
}

GPtrArray *
sf_registry_modules (SfRegistry *reg)
{
  return reg->defs;
}

gboolean
sf_registry_load_plugin (SfRegistry *reg, const char *path, GError **error)
{
  g_autofree char *canon = g_canonicalize_filename (path, NULL);
  if (g_hash_table_contains (reg->plugins, canon))
    return TRUE;
  if (!g_file_test (canon, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_PLUGIN, "plugin '%s' not found", path);
    return FALSE;
  }
  GModule *module = g_module_open (canon, G_MODULE_BIND_LOCAL | G_MODULE_BIND_LAZY);
  if (module == NULL) {
    g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_PLUGIN, "plugin '%s' cannot be loaded: %s", path,
                 g_module_error ());
    return FALSE;
  }
  gpointer abi = NULL, ns = NULL, reg_fn = NULL;
  const char *missing = NULL;
  if (!g_module_symbol (module, "sf_plugin_abi_version", &abi) || abi == NULL)
    missing = "sf_plugin_abi_version";
  else if (!g_module_symbol (module, "sf_plugin_namespace", &ns) || ns == NULL)
    missing = "sf_plugin_namespace";
  else if (!g_module_symbol (module, "sf_plugin_register", &reg_fn) || reg_fn == NULL)
    missing = "sf_plugin_register";
  if (missing != NULL) {
    g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_PLUGIN,
                 "plugin '%s' does not export '%s' (use SF_PLUGIN_DEFINE from sf-plugin.h)", path, missing);
    g_module_close (module);
    return FALSE;
  }
  guint32 version = *(const guint32 *) abi;
  if (version != SF_PLUGIN_ABI_VERSION) {
    g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_PLUGIN,
                 "plugin '%s' was built for plugin ABI %u, this sipflow has ABI %u: rebuild it", path, version,
                 SF_PLUGIN_ABI_VERSION);
    g_module_close (module);
    return FALSE;
  }
  const char *namespace = ns;
  if (strnlen (namespace, 64) >= 64 || !valid_identifier (namespace, TRUE)) {
    g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_PLUGIN,
                 "plugin '%s' has an invalid namespace (wanted [a-z][a-z0-9_]*, under 64 characters)", path);
    g_module_close (module);
    return FALSE;
  }
  for (guint i = 0; i < reg->defs->len; i++)
    if (strcmp (((const SfModuleDef *) reg->defs->pdata[i])->name, namespace) == 0) {
      g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_PLUGIN,
                   "plugin '%s' has the namespace '%s', which a module already has", path, namespace);
      g_module_close (module);
      return FALSE;
    }
  if (reg->defs->len >= SF_INSTANCE_MAX_SLOTS) {
    g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_PLUGIN,
                 "plugin '%s': at most %d modules (plugins included), one instance slot each", path,
                 SF_INSTANCE_MAX_SLOTS);
    g_module_close (module);
    return FALSE;
  }
  SfPluginRegistrar r = { reg, namespace };
  g_autoptr (GError) local = NULL;
  if (reg->cfg != NULL)
    sf_config_set_declaring (reg->cfg, namespace);
  gboolean registered = ((SfPluginRegisterFunc) reg_fn) (&r, &local);
  if (reg->cfg != NULL)
    sf_config_set_declaring (reg->cfg, NULL);
  if (!registered) {
    g_set_error (error, SF_REGISTRY_ERROR, SF_REGISTRY_ERROR_PLUGIN, "plugin '%s' failed to register: %s", path,
                 local != NULL ? local->message : "no reason given");
    /* Its tables may be in the registry already: keep the module mapped. */
    g_ptr_array_add (reg->modules, module);
    return FALSE;
  }
  g_hash_table_insert (reg->plugins, g_steal_pointer (&canon), module);
  g_ptr_array_add (reg->modules, module);
  /* A plugin is a module named after its namespace: it gets an id (a
   * per-instance slot) like the built-ins.  Its operators are in already. */
  SfModuleDef *def = g_new0 (SfModuleDef, 1);
  def->name = namespace;
  def->doc = "plugin";
  g_ptr_array_add (reg->plugin_defs, def);
  g_ptr_array_add (reg->defs, def);
  return TRUE;
}

SfConfig *
sf_registry_config (SfRegistry *reg)
{
  return reg->cfg;
}
