/* sf-config.c: declared, checked configuration (see sf-config.h). */
#include "config.h"
#include "sipflow/sf-config.h"
#include "sf-config-private.h"
#include "sf-registry.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <string.h>

G_DEFINE_QUARK (sf-config-error-quark, sf_config_error)

/* Largest configuration file read. */
#define SF_CONFIG_MAX_BYTES (1024 * 1024)

typedef struct {
  const SfConfigKey *decl;  /* unowned: constant table */
  char *text;               /* owned: the value as written */
  char *source;             /* owned */
  gint64 i;
  gboolean b;
  char **list;              /* owned */
} Value;

struct _SfConfig {
  GHashTable *sections;     /* section name (owned) -> GPtrArray of Value (owned) */
  GPtrArray *owned_keys;    /* owned SfConfigKey (and their strings): keys a flow declared */
  GHashTable *owners;       /* section name (owned) -> the module that declared it (owned), for a reload */
  char *declaring;          /* owned, nullable: the module whose sections are being declared */
};

static const SfConfigKey core_keys[] = {
  { "log_level", SF_CFG_ENUM, "warning", 0, 0, "error|critical|warning|message|info|debug",
    "least severe log level written to standard error" },
  { "trace", SF_CFG_BOOL, "false", 0, 0, NULL, "trace every event, operator and transition on standard error" },
  { "messages", SF_CFG_ENUM, "off", 0, 0, "off|on|full",
    "the teaching detail in the event output: sip_in/sip_out (full: with the whole message), timer and step events" },
  { "events", SF_CFG_LIST, "all", 0, 0, NULL,
    "the event classes written: all, none, or a list of service, control, flow, state, end, transaction, message, timer, step" },
  { "shutdown_timeout", SF_CFG_SECONDS, "5", 0, 600, NULL,
    "seconds that quit waits for instances to end cleanly" },
  { "exit_when_idle", SF_CFG_BOOL, "false", 0, 0, NULL,
    "run: exit once standard input is closed and no instance is left" },
  { "workers", SF_CFG_INT, "1", 1, 64, NULL,
    "run: engines on threads of their own, each its own UDP socket on every listen address; a message goes to the one "
    "its Call-ID hashes to (docs/workers.md; not reloadable)" },
  { "worker_source", SF_CFG_ENUM, "listener", 0, 0, "listener|own",
    "run, core.workers > 1: where a proxy worker forwards from: the shared listener, or a UDP port of its own named in "
    "its Via, for peers that answer to the Via and do not filter by source port (docs/workers.md; not reloadable)" },
  { "max_queue", SF_CFG_INT, "100000", 16, 10000000, NULL,
    "pending events above which new posts are refused" },
  { "state_dir", SF_CFG_STRING, NULL, 0, 0, NULL,
    "directory for state that outlives a run (default: $STATE_DIRECTORY, else $XDG_STATE_HOME/sipflow)" },
  { "timezone", SF_CFG_STRING, NULL, 0, 0, NULL,
    "the time zone of the flows' time conditions written without tz= (Europe/Paris, UTC, +02:00; default: local time, TZ)" },
  { "secret_file", SF_CFG_STRING, NULL, 0, 0, NULL,
    "the secret that signs nonces and Record-Route tokens: 64 hex digits, made when missing (default: STATE_DIR/secret; share it across a cluster)" },
  { "http", SF_CFG_STRING, NULL, 0, 0, NULL,
    "run: serve the live view (a read-only page: docs/teaching.md) on ADDR:PORT (port 0: a free one)" },
  { "http_public", SF_CFG_BOOL, "false", 0, 0, NULL,
    "let core.http be a non-loopback address (the live view has no authentication)" },
  { "metrics", SF_CFG_STRING, NULL, 0, 0, NULL,
    "run: serve Prometheus metrics at /metrics on ADDR:PORT, or PORT for loopback (port 0: a free one; docs/operations.md)" },
};

static void
value_free (Value *v)
{
  g_free (v->text);
  g_free (v->source);
  g_strfreev (v->list);
  g_free (v);
}

SfConfig *
sf_config_new (void)
{
  SfConfig *cfg = g_new0 (SfConfig, 1);
  cfg->sections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  cfg->owners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GError) error = NULL;
  if (!sf_config_declare (cfg, "core", core_keys, G_N_ELEMENTS (core_keys), &error))
    g_error ("built-in configuration table: %s", error->message);
  return cfg;
}

void
sf_config_free (SfConfig *cfg)
{
  if (cfg == NULL)
    return;
  g_hash_table_unref (cfg->sections);
  g_hash_table_unref (cfg->owners);
  g_free (cfg->declaring);
  if (cfg->owned_keys != NULL)
    g_ptr_array_unref (cfg->owned_keys);
  g_free (cfg);
}

static Value *
find (SfConfig *cfg, const char *section, const char *key)
{
  GPtrArray *a = g_hash_table_lookup (cfg->sections, section);
  if (a == NULL)
    return NULL;
  for (guint i = 0; i < a->len; i++) {
    Value *v = g_ptr_array_index (a, i);
    if (strcmp (v->decl->key, key) == 0)
      return v;
  }
  return NULL;
}

static char *
expectation (const SfConfigKey *k)
{
  switch (k->type) {
  case SF_CFG_STRING: return g_strdup ("a string");
  case SF_CFG_INT: return g_strdup_printf ("an integer from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, k->min, k->max);
  case SF_CFG_BOOL: return g_strdup ("a boolean (true/false, on/off, yes/no)");
  case SF_CFG_SECONDS:
    return g_strdup_printf ("seconds from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT ", or 'off'", k->min, k->max);
  case SF_CFG_MS:
    return g_strdup_printf ("milliseconds from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, k->min, k->max);
  case SF_CFG_LIST: return g_strdup ("a comma-separated list");
  case SF_CFG_ENUM: return g_strdup_printf ("one of %s", k->choices);
  }
  return g_strdup ("?");
}

gboolean
sf_config_parse_bool (const char *text, gboolean *out)
{
  static const char *const yes[] = { "true", "on", "yes", "1" };
  static const char *const no[] = { "false", "off", "no", "0" };
  for (gsize i = 0; i < G_N_ELEMENTS (yes); i++) {
    if (g_ascii_strcasecmp (text, yes[i]) == 0) {
      *out = TRUE;
      return TRUE;
    }
    if (g_ascii_strcasecmp (text, no[i]) == 0) {
      *out = FALSE;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
parse_int (const char *text, gint64 min, gint64 max, gint64 *out)
{
  if (*text == '\0')
    return FALSE;
  char *end = NULL;
  errno = 0;
  gint64 v = g_ascii_strtoll (text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

/* Checks @text against @k and fills @v; FALSE when it does not fit. */
static gboolean
parse_value (const SfConfigKey *k, const char *text, Value *v)
{
  switch (k->type) {
  case SF_CFG_STRING:
    return TRUE;
  case SF_CFG_INT:
  case SF_CFG_MS:
    return parse_int (text, k->min, k->max, &v->i);
  case SF_CFG_SECONDS:
    if (g_ascii_strcasecmp (text, "off") == 0) {
      v->i = -1;
      return TRUE;
    }
    return parse_int (text, k->min, k->max, &v->i);
  case SF_CFG_BOOL:
    return sf_config_parse_bool (text, &v->b);
  case SF_CFG_LIST: {
    g_strfreev (v->list);
    char **parts = g_strsplit (text, ",", -1);
    GPtrArray *out = g_ptr_array_new ();
    for (char **p = parts; *p != NULL; p++) {
      char *item = g_strstrip (*p);
      if (*item != '\0')
        g_ptr_array_add (out, g_strdup (item));
    }
    g_ptr_array_add (out, NULL);
    g_strfreev (parts);
    v->list = (char **) g_ptr_array_free (out, FALSE);
    return TRUE;
  }
  case SF_CFG_ENUM: {
    g_auto (GStrv) choices = g_strsplit (k->choices, "|", -1);
    return g_strv_contains ((const char *const *) choices, text);
  }
  }
  return FALSE;
}

gboolean
sf_config_declare (SfConfig *cfg, const char *section, const SfConfigKey *keys, gsize n_keys, GError **error)
{
  if (g_hash_table_contains (cfg->sections, section)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_DUPLICATE,
                 "configuration section [%s] is declared twice", section);
    return FALSE;
  }
  GPtrArray *a = g_ptr_array_new_with_free_func ((GDestroyNotify) value_free);
  for (gsize i = 0; i < n_keys; i++) {
    Value *v = g_new0 (Value, 1);
    v->decl = &keys[i];
    v->source = g_strdup ("default");
    v->text = g_strdup (keys[i].default_value);
    if (v->text != NULL && !parse_value (&keys[i], v->text, v)) {
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                   "[%s] %s: default value '%s' does not fit its own declaration", section, keys[i].key,
                   v->text);
      value_free (v);
      g_ptr_array_unref (a);
      return FALSE;
    }
    if (v->text == NULL && keys[i].type == SF_CFG_LIST)
      v->list = g_new0 (char *, 1);
    g_ptr_array_add (a, v);
  }
  g_hash_table_insert (cfg->sections, g_strdup (section), a);
  if (cfg->declaring != NULL)
    g_hash_table_insert (cfg->owners, g_strdup (section), g_strdup (cfg->declaring));
  return TRUE;
}

gboolean
sf_config_set_value (SfConfig *cfg, const char *section, const char *key, const char *value,
                     const char *source, GError **error)
{
  if (!g_hash_table_contains (cfg->sections, section)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_UNKNOWN_KEY, "%s: unknown section [%s]", source, section);
    return FALSE;
  }
  Value *v = find (cfg, section, key);
  if (v == NULL) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_UNKNOWN_KEY, "%s: unknown key '%s' in section [%s]",
                 source, key, section);
    return FALSE;
  }
  Value tmp = *v;
  tmp.list = NULL;
  if (!parse_value (v->decl, value, &tmp)) {
    g_autofree char *want = expectation (v->decl);
    g_strfreev (tmp.list);
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: %s.%s: expected %s, got '%s'", source,
                 section, key, want, value);
    return FALSE;
  }
  g_strfreev (v->list);
  v->list = tmp.list;
  v->i = tmp.i;
  v->b = tmp.b;
  g_free (v->text);
  v->text = g_strdup (value);
  g_free (v->source);
  v->source = g_strdup (source);
  return TRUE;
}

gboolean
sf_config_set (SfConfig *cfg, const char *assignment, GError **error)
{
  const char *eq = strchr (assignment, '=');
  const char *dot = eq != NULL ? memchr (assignment, '.', eq - assignment) : NULL;
  if (eq == NULL || dot == NULL || dot == assignment || dot + 1 == eq) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_SYNTAX,
                 "--set: expected SECTION.KEY=VALUE, got '%s'", assignment);
    return FALSE;
  }
  g_autofree char *section = g_strndup (assignment, dot - assignment);
  g_autofree char *key = g_strndup (dot + 1, eq - dot - 1);
  return sf_config_set_value (cfg, g_strstrip (section), g_strstrip (key), eq + 1, "--set", error);
}

static gboolean
load_keyfile (SfConfig *cfg, GKeyFile *kf, const char *source, GError **error)
{
  gsize n_groups = 0;
  g_auto (GStrv) groups = g_key_file_get_groups (kf, &n_groups);
  for (gsize g = 0; g < n_groups; g++) {
    g_auto (GStrv) keys = g_key_file_get_keys (kf, groups[g], NULL, NULL);
    for (char **k = keys; k != NULL && *k != NULL; k++) {
      /* The raw value: GKeyFile's own list and boolean readers are stricter than ours. */
      g_autofree char *raw = g_key_file_get_value (kf, groups[g], *k, NULL);
      g_autofree char *value = g_strstrip (g_strdup (raw != NULL ? raw : ""));
      if (!sf_config_set_value (cfg, groups[g], *k, value, source, error))
        return FALSE;
    }
  }
  return TRUE;
}

gboolean
sf_config_load_data (SfConfig *cfg, const char *data, const char *source, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_key_file_set_list_separator (kf, ',');
  g_autoptr (GError) local = NULL;
  if (!g_key_file_load_from_data (kf, data, -1, G_KEY_FILE_NONE, &local)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_SYNTAX, "%s: %s", source, local->message);
    return FALSE;
  }
  return load_keyfile (cfg, kf, source, error);
}

gboolean
sf_config_load_file (SfConfig *cfg, const char *path, GError **error)
{
  g_autofree char *data = NULL;
  g_autoptr (GError) local = NULL;
  GStatBuf st;
  if (g_stat (path, &st) == 0 && (!S_ISREG (st.st_mode) || st.st_size > SF_CONFIG_MAX_BYTES)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_IO, "%s: not a regular file of at most %d bytes", path,
                 SF_CONFIG_MAX_BYTES);
    return FALSE;
  }
  if (!g_file_get_contents (path, &data, NULL, &local)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_IO, "%s", local->message);
    return FALSE;
  }
  return sf_config_load_data (cfg, data, path, error);
}

static Value *
get (SfConfig *cfg, const char *section, const char *key, SfConfigType type)
{
  Value *v = find (cfg, section, key);
  if (v == NULL)
    g_critical ("configuration key %s.%s read but never declared", section, key);
  else if (v->decl->type != type && !(type == SF_CFG_INT && (v->decl->type == SF_CFG_SECONDS || v->decl->type == SF_CFG_MS)))
    g_critical ("configuration key %s.%s read with the wrong type", section, key);
  return v;
}

const char *
sf_config_get_string (SfConfig *cfg, const char *section, const char *key)
{
  Value *v = find (cfg, section, key);
  g_return_val_if_fail (v != NULL, NULL);
  return v->text;
}

gint64
sf_config_get_int (SfConfig *cfg, const char *section, const char *key)
{
  Value *v = get (cfg, section, key, SF_CFG_INT);
  return v != NULL ? v->i : 0;
}

gboolean
sf_config_get_bool (SfConfig *cfg, const char *section, const char *key)
{
  Value *v = get (cfg, section, key, SF_CFG_BOOL);
  return v != NULL && v->b;
}

const char *const *
sf_config_get_list (SfConfig *cfg, const char *section, const char *key)
{
  static const char *const empty[] = { NULL };
  Value *v = get (cfg, section, key, SF_CFG_LIST);
  return v != NULL && v->list != NULL ? (const char *const *) v->list : empty;
}

const char *
sf_config_get_source (SfConfig *cfg, const char *section, const char *key)
{
  Value *v = find (cfg, section, key);
  g_return_val_if_fail (v != NULL, NULL);
  return v->source;
}

/* ---- keys a flow declares (framework/sf-config-private.h) ---- */

static void
owned_key_free (SfConfigKey *k)
{
  g_free ((char *) k->key);
  g_free ((char *) k->default_value);
  g_free ((char *) k->doc);
  g_free (k);
}

gboolean
sf_config_declare_string (SfConfig *cfg, const char *section, const char *key, const char *default_value,
                          const char *doc, GError **error)
{
  Value *old = find (cfg, section, key);
  if (old != NULL) {
    if (g_strcmp0 (old->decl->default_value, default_value) == 0)
      return TRUE; /* the same flow imported twice */
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_DUPLICATE,
                 "configuration key %s.%s is declared twice, with different defaults", section, key);
    return FALSE;
  }
  if (cfg->owned_keys == NULL)
    cfg->owned_keys = g_ptr_array_new_with_free_func ((GDestroyNotify) owned_key_free);
  SfConfigKey *k = g_new0 (SfConfigKey, 1);
  k->key = g_strdup (key);
  k->type = SF_CFG_STRING;
  k->default_value = g_strdup (default_value);
  k->doc = g_strdup (doc != NULL ? doc : "declared by the flow");
  g_ptr_array_add (cfg->owned_keys, k);
  GPtrArray *a = g_hash_table_lookup (cfg->sections, section);
  if (a == NULL) {
    a = g_ptr_array_new_with_free_func ((GDestroyNotify) value_free);
    g_hash_table_insert (cfg->sections, g_strdup (section), a);
  }
  Value *v = g_new0 (Value, 1);
  v->decl = k;
  v->source = g_strdup ("default");
  v->text = g_strdup (default_value);
  g_ptr_array_add (a, v);
  return TRUE;
}

gboolean
sf_config_has_key (SfConfig *cfg, const char *section, const char *key)
{
  return find (cfg, section, key) != NULL;
}

const char *
sf_config_get_text (SfConfig *cfg, const char *section, const char *key)
{
  Value *v = find (cfg, section, key);
  return v != NULL && v->text != NULL ? v->text : "";
}

const char *
sf_config_suggest_key (SfConfig *cfg, const char *section, const char *key)
{
  GPtrArray *a = g_hash_table_lookup (cfg->sections, section);
  const char *best = NULL;
  guint best_d = 3;
  for (guint i = 0; a != NULL && i < a->len; i++) {
    const char *k = ((Value *) g_ptr_array_index (a, i))->decl->key;
    guint d = sf_name_distance (key, k, 2);
    if (d < best_d && d < strlen (key)) {
      best = k;
      best_d = d;
    }
  }
  return best;
}

/* ---- reload (framework/sf-config-private.h) ---- */

void
sf_config_set_declaring (SfConfig *cfg, const char *module)
{
  g_free (cfg->declaring);
  cfg->declaring = g_strdup (module);
}

const char *
sf_config_section_owner (SfConfig *cfg, const char *section)
{
  return g_hash_table_lookup (cfg->owners, section);
}

SfConfig *
sf_config_new_like (SfConfig *cfg)
{
  SfConfig *copy = g_new0 (SfConfig, 1);
  copy->sections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  copy->owners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter it;
  gpointer name, value;
  g_hash_table_iter_init (&it, cfg->sections);
  while (g_hash_table_iter_next (&it, &name, &value)) {
    GPtrArray *from = value;
    GPtrArray *a = g_ptr_array_new_full (from->len, (GDestroyNotify) value_free);
    for (guint i = 0; i < from->len; i++) {
      const SfConfigKey *k = ((Value *) g_ptr_array_index (from, i))->decl;
      Value *v = g_new0 (Value, 1);
      v->decl = k; /* a flow's key stays @cfg's: the copy must not outlive it */
      v->source = g_strdup ("default");
      v->text = g_strdup (k->default_value);
      if (v->text != NULL)
        parse_value (k, v->text, v); /* it fitted when it was declared */
      else if (k->type == SF_CFG_LIST)
        v->list = g_new0 (char *, 1);
      g_ptr_array_add (a, v);
    }
    g_hash_table_insert (copy->sections, g_strdup (name), a);
  }
  g_hash_table_iter_init (&it, cfg->owners);
  while (g_hash_table_iter_next (&it, &name, &value))
    g_hash_table_insert (copy->owners, g_strdup (name), g_strdup (value));
  return copy;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Every value of @cfg with the same key's value in @other (skipped when
 * @other has no such key), given to @func with its section's name. */
static void
each_pair (SfConfig *cfg, SfConfig *other, void (*func) (const char *section, Value *v, Value *o, gpointer data),
           gpointer data)
{
  GHashTableIter it;
  gpointer name, value;
  g_hash_table_iter_init (&it, cfg->sections);
  while (g_hash_table_iter_next (&it, &name, &value)) {
    GPtrArray *a = value;
    for (guint i = 0; i < a->len; i++) {
      Value *v = g_ptr_array_index (a, i);
      Value *o = find (other, name, v->decl->key);
      if (o != NULL)
        func (name, v, o, data);
    }
  }
}

/* Whether two values of one key differ: a list by its items, so that
 * "a,b" and "a, b" (the same list) are no change. */
static gboolean
differs (const Value *v, const Value *o)
{
  if (v->decl->type == SF_CFG_LIST && v->list != NULL && o->list != NULL)
    return !g_strv_equal ((const char *const *) v->list, (const char *const *) o->list);
  return g_strcmp0 (v->text, o->text) != 0;
}

static void
add_if_changed (const char *section, Value *v, Value *o, gpointer out)
{
  if (differs (v, o))
    g_ptr_array_add (out, g_strdup_printf ("%s.%s", section, v->decl->key));
}

GPtrArray *
sf_config_changed_keys (SfConfig *cfg, SfConfig *other)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  each_pair (cfg, other, add_if_changed, out);
  g_ptr_array_sort (out, compare_strings); /* a stable order for the report */
  return out;
}

static void
assign_value (const char *section, Value *v, Value *o, gpointer data)
{
  if (g_strcmp0 (v->source, o->source) != 0) {
    g_free (v->source);
    v->source = g_strdup (o->source);
  }
  /* An unchanged value keeps its strings: a reader may hold one. */
  if (!differs (v, o))
    return;
  g_free (v->text);
  v->text = g_strdup (o->text);
  v->i = o->i;
  v->b = o->b;
  g_strfreev (v->list);
  v->list = g_strdupv (o->list);
}

void
sf_config_assign (SfConfig *cfg, SfConfig *from)
{
  each_pair (cfg, from, assign_value, NULL);
}
