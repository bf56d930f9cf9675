/* sf-ua-location.c: 'sipflow location dump|count|purge': the location
 * service's SQLite file read and cleaned offline, through the store's own code
 * (operators/registrar/sf-location-sqlite.c: one place knows the schema), and
 * the JSON form of a binding the control commands share (docs/servers.md,
 * "Looking inside"). */
#include "config.h"
#include "sf-ua.h"
#include "framework/sf-json.h"
#include "framework/sf-registry.h"
#include "operators/registrar/sf-registrar.h"
#include "operators/sf-modules.h"
#include <stdio.h>
#include <string.h>

void
sf_ua_location_binding_json (GString *out, const char *aor, const SfLocBinding *b, gint64 now)
{
  g_string_append (out, "{\"aor\":");
  sf_json_append_string (out, aor);
  sf_json_add_str (out, "contact", b->contact);
  sf_json_add_double (out, "q", b->q);
  sf_json_add_int (out, "expires_at", b->expires_at);
  sf_json_add_int (out, "expires_in", b->expires_at - now);
  sf_json_add_str (out, "call_id", b->call_id);
  sf_json_add_int (out, "cseq", b->cseq);
  sf_json_add_str (out, "source", b->source);
  sf_json_add_str (out, "transport", b->transport);
  sf_json_add_str (out, "local", b->local);
  sf_json_add_str (out, "flow", b->flow);
  sf_json_add_str (out, "path", b->path);
  sf_json_add_str (out, "instance", b->instance);
  sf_json_add_int (out, "reg_id", b->reg_id);
  sf_json_add_str (out, "node", b->node);
  g_string_append_c (out, '}');
}

/* ---- the options 'sipflow location' and 'sipflow user' share ---- */

int
sf_ua_store_parse (const char *cmd, const char *help, const GOptionEntry *extra, int *argc, char ***argv,
                   SfUaStoreArgs *a)
{
  gboolean show_help = FALSE;
  GOptionEntry entries[] = {
    { "uri", 'u', 0, G_OPTION_ARG_FILENAME, &a->uri, "the store (a file; for user also redis://...)", "URI" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &a->config, "read the configuration from FILE (INI)", "FILE" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &a->sets, "set one configuration key (repeatable)", "SECTION.KEY=VALUE" },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &show_help, "this text", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  g_autoptr (GOptionContext) octx = g_option_context_new (NULL);
  g_option_context_add_main_entries (octx, entries, NULL);
  if (extra != NULL)
    g_option_context_add_main_entries (octx, extra, NULL);
  g_option_context_set_help_enabled (octx, FALSE);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, argc, argv, &error))
    return sf_ua_usage_error (cmd, "%s", error->message);
  if (show_help) {
    fputs (help, stdout);
    return SF_EXIT_OK;
  }
  return -1;
}

int
sf_ua_store_config (const char *cmd, SfUaStoreArgs *a)
{
  g_autoptr (GError) error = NULL;
  a->cfg = sf_config_new ();
  a->reg = sf_registry_new (a->cfg, sf_builtin_modules);
  gboolean ok = a->config == NULL || sf_config_load_file (a->cfg, a->config, &error);
  for (char **s = a->sets; ok && s != NULL && *s != NULL; s++)
    ok = sf_config_set (a->cfg, *s, &error);
  if (ok)
    return -1;
  g_autofree char *msg = sf_ua_printable (error->message);
  fprintf (stderr, "sipflow %s: %s\n", cmd, msg);
  return SF_EXIT_FAIL;
}

void
sf_ua_store_args_clear (SfUaStoreArgs *a)
{
  g_clear_pointer (&a->reg, sf_registry_free);
  g_clear_pointer (&a->cfg, sf_config_free);
  g_clear_pointer (&a->uri, g_free);
  g_clear_pointer (&a->config, g_free);
  g_clear_pointer (&a->sets, g_strfreev);
}

typedef struct {
  gint64 now;
  guint64 live, expired, aors;
  char *last_aor;       /* the previous row's (rows come in address-of-record order) */
  gboolean last_live;   /* has last_aor a live binding? */
} Count;

static gboolean
dump_one (const char *aor, const SfLocBinding *b, gpointer data)
{
  gint64 *now = data;
  g_autoptr (GString) out = g_string_new (NULL);
  sf_ua_location_binding_json (out, aor, b, *now);
  g_string_append_c (out, '\n');
  return fwrite (out->str, 1, out->len, stdout) == out->len;
}

static gboolean
count_one (const char *aor, const SfLocBinding *b, gpointer data)
{
  Count *c = data;
  if (c->last_aor == NULL || strcmp (c->last_aor, aor) != 0) {
    g_free (c->last_aor);
    c->last_aor = g_strdup (aor);
    c->last_live = FALSE;
  }
  if (b->expires_at > c->now) {
    c->live++;
    if (!c->last_live)
      c->aors++;
    c->last_live = TRUE;
  } else {
    c->expired++;
  }
  return TRUE;
}

static const char help[] =
  "Usage: sipflow location dump|count|purge [--uri FILE|redis://... | --config FILE] [--set S.K=V]... [AOR]\n"
  "\n"
  "The location service's SQLite file (location.backend = sqlite), read and cleaned\n"
  "while no server runs on it or while one does (SQLite locks the file), or its\n"
  "Redis store (location.backend = redis, shared by the nodes that use it):\n"
  "  dump [AOR]    one JSON line per binding (of AOR only), the expired ones too\n"
  "                (expires_in <= 0): aor, contact, q, expires_at, expires_in, call_id,\n"
  "                cseq, source, transport, local, flow, path, instance, reg_id, node\n"
  "  count         one JSON line: live bindings, their addresses-of-record, expired\n"
  "                bindings not purged yet\n"
  "  purge [AOR]   removes the expired bindings, or every binding of AOR; a server\n"
  "                running on the file sees it only when it starts again (it loads\n"
  "                the file at start); 'sipflow ctl SOCKET location remove AOR' removes\n"
  "                from a running one.  In Redis the nodes see it at once\n"
  "\n"
  "The file: --uri FILE, else location.uri from --config FILE and --set, else\n"
  "core.state_dir/location.sqlite (docs/servers.md).  A file that does not exist or\n"
  "is not a location store is an error (exit 1); it is never made.  A Redis store:\n"
  "--uri redis://[:PASSWORD@]HOST[:PORT][/DB], or location.backend = redis with\n"
  "location.uri and location.password from --config FILE (each command bounded by\n"
  "location.timeout_ms).\n"
  "Exit status: 0 success, 1 failure, 2 usage error.\n";

int
sf_ua_cmd_location (int argc, char **argv)
{
  g_auto (SfUaStoreArgs) a = { 0 };
  int rc = sf_ua_store_parse ("location", help, NULL, &argc, &argv, &a);
  if (rc >= 0)
    return rc;
  g_autoptr (GError) error = NULL;
  if (argc < 2)
    return sf_ua_usage_error ("location", "no command given (dump, count or purge)");
  const char *what = argv[1];
  gboolean takes_aor = strcmp (what, "dump") == 0 || strcmp (what, "purge") == 0;
  if (!takes_aor && strcmp (what, "count") != 0)
    return sf_ua_usage_error ("location", "unknown command '%s' (dump, count or purge)", what);
  if (argc > (takes_aor ? 3 : 2))
    return sf_ua_usage_error ("location", "'%s' is extra", argv[takes_aor ? 3 : 2]);
  const char *aor = argc > 2 ? argv[2] : NULL;
  if (a.uri != NULL && (a.config != NULL || a.sets != NULL))
    return sf_ua_usage_error ("location", "--uri names the file: no --config or --set with it");
  if ((rc = sf_ua_store_config ("location", &a)) >= 0)
    return rc;
  SfConfig *cfg = a.cfg;
  const char *uri = a.uri;
  gboolean redis = (uri != NULL && g_str_has_prefix (uri, "redis://")) ||
                   (uri == NULL && g_strcmp0 (sf_config_get_string (cfg, "location", "backend"), "redis") == 0);
  if (redis && uri == NULL)
    uri = sf_config_get_string (cfg, "location", "uri");
  if (redis && uri == NULL) {
    fprintf (stderr, "sipflow location: location.backend is redis and location.uri is not set\n");
    return SF_EXIT_FAIL;
  }
  if (uri == NULL && g_strcmp0 (sf_config_get_string (cfg, "location", "backend"), "sqlite") != 0) {
    fprintf (stderr, "sipflow location: location.backend is %s: only a sqlite store is a file to read\n",
             sf_config_get_string (cfg, "location", "backend"));
    return SF_EXIT_FAIL;
  }
  g_autofree char *path = uri != NULL ? g_strdup (uri) : sf_registrar_location_path (cfg);
  guint busy = (guint) sf_config_get_int (cfg, "location", "busy_timeout_ms");
  /* the password: the URI's, or location.password from the configuration */
  const char *password = a.uri == NULL ? sf_config_get_string (cfg, "location", "password") : NULL;
  guint timeout = (guint) sf_config_get_int (cfg, "location", "timeout_ms");
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gboolean ok;
  if (strcmp (what, "dump") == 0) {
    ok = redis ? sf_location_redis_each (path, password, timeout, aor, dump_one, &now, &error)
               : sf_location_file_each (path, busy, aor, dump_one, &now, &error);
  } else if (strcmp (what, "count") == 0) {
    Count c = { .now = now };
    ok = redis ? sf_location_redis_each (path, password, timeout, NULL, count_one, &c, &error)
               : sf_location_file_each (path, busy, NULL, count_one, &c, &error);
    g_free (c.last_aor);
    if (ok)
      printf ("{\"bindings\":%" G_GUINT64_FORMAT ",\"aors\":%" G_GUINT64_FORMAT ",\"expired\":%" G_GUINT64_FORMAT "}\n",
              c.live, c.aors, c.expired);
  } else {
    guint64 removed = 0;
    ok = redis ? sf_location_redis_purge (path, password, timeout, aor, now, &removed, &error)
               : sf_location_file_purge (path, busy, aor, now, &removed, &error);
    if (ok)
      printf ("{\"removed\":%" G_GUINT64_FORMAT "}\n", removed);
  }
  if (!ok) {
    g_autofree char *msg = sf_ua_printable (error->message);
    fprintf (stderr, "sipflow location: %s\n", msg);
    return SF_EXIT_FAIL;
  }
  return fflush (stdout) == 0 ? SF_EXIT_OK : SF_EXIT_FAIL;
}
