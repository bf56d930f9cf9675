/* sf-ua-user.c: 'sipflow user add|del|list': the SQLite users table of
 * registrar.users = sqlite:PATH (docs/servers.md "Credentials"), through the
 * table's own code (operators/registrar/sf-users-sqlite.c).  A running server
 * sees a change within a second.  The password comes from standard input
 * unless --password is given (a command line shows in ps); nothing printed
 * holds a secret. */
#include "config.h"
#include "sf-ua.h"
#include "framework/sf-json.h"
#include "framework/sf-registry.h"
#include "operators/registrar/sf-registrar.h"
#include "operators/sf-modules.h"
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char help[] =
  "Usage: sipflow user add USER [--realm R] [--password-stdin | --password P] [--plain] [--replace]\n"
  "       sipflow user del USER\n"
  "       sipflow user list\n"
  "   each with [--uri FILE | --config FILE] [--set S.K=V]...\n"
  "\n"
  "The SQLite users table registrar.users = sqlite:PATH names (docs/servers.md,\n"
  "\"Credentials\"); a server running on it sees a change within a second:\n"
  "  add USER     stores USER's H(A1) for MD5 and for SHA-256 in realm R (default:\n"
  "               registrar.realm), not the password unless --plain (then it also\n"
  "               answers for any realm); the password is read from standard input\n"
  "               (one line; asked for without echo on a terminal) unless --password\n"
  "               P is given (which others may see in ps); makes the file when\n"
  "               missing; a user already there is an error unless --replace\n"
  "  del USER     removes USER (one not there is an error)\n"
  "  list         one JSON line a user: user, realm, which of md5, sha256 and\n"
  "               password are stored (never their values)\n"
  "\n"
  "The file: --uri FILE, else registrar.users from --config FILE and --set\n"
  "(sqlite:PATH; sqlite: alone or unset: core.state_dir/users.sqlite).  Errors\n"
  "name the file (exit 1); a users file (user:password lines) is edited by hand.\n"
  "Exit status: 0 success, 1 failure, 2 usage error.\n";

/* One line of standard input (no echo on a terminal), its line end cut;
 * NULL at once on EOF or past SF_USERS_MAX_PASSWORD bytes. */
static char *
read_password (GError **error)
{
  gboolean tty = isatty (STDIN_FILENO);
  struct termios old, quiet;
  if (tty && tcgetattr (STDIN_FILENO, &old) == 0) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t) ECHO;
    fputs ("Password: ", stderr);
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
  } else {
    tty = FALSE;
  }
  char buf[SF_USERS_MAX_PASSWORD + 3];
  char *got = fgets (buf, sizeof buf, stdin);
  if (tty) {
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &old);
    fputc ('\n', stderr);
  }
  if (got == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no password on standard input");
    return NULL;
  }
  gsize n = strcspn (buf, "\r\n");
  if (buf[n] == '\0' && n >= SF_USERS_MAX_PASSWORD + 1) {
    memset (buf, 0, sizeof buf);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "a password is 1 to %d bytes", SF_USERS_MAX_PASSWORD);
    return NULL;
  }
  buf[n] = '\0';
  char *pw = g_strdup (buf);
  memset (buf, 0, sizeof buf);
  return pw;
}

static void
list_one (const char *user, const char *realm, gboolean md5, gboolean sha256, gboolean password, gpointer data)
{
  gboolean *ok = data;
  g_autoptr (GString) out = g_string_new ("{\"user\":");
  sf_json_append_string (out, user);
  sf_json_add_str (out, "realm", realm);
  sf_json_add_bool (out, "md5", md5);
  sf_json_add_bool (out, "sha256", sha256);
  sf_json_add_bool (out, "password", password);
  g_string_append (out, "}\n");
  if (fwrite (out->str, 1, out->len, stdout) != out->len)
    *ok = FALSE;
}

static int
failed (const char *msg)
{
  g_autofree char *safe = sf_ua_printable (msg);
  fprintf (stderr, "sipflow user: %s\n", safe);
  return SF_EXIT_FAIL;
}

int
sf_ua_cmd_user (int argc, char **argv)
{
  g_autofree char *uri = NULL, *config = NULL, *realm = NULL, *password = NULL;
  g_auto (GStrv) sets = NULL;
  gboolean show_help = FALSE, from_stdin = FALSE, plain = FALSE, replace = FALSE;
  GOptionEntry entries[] = {
    { "uri", 'u', 0, G_OPTION_ARG_FILENAME, &uri, "the database file", "FILE" },
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "read the configuration from FILE (INI)", "FILE" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, "set one configuration key (repeatable)", "SECTION.KEY=VALUE" },
    { "realm", 'r', 0, G_OPTION_ARG_STRING, &realm, "add: the realm (default registrar.realm)", "R" },
    { "password", 'p', 0, G_OPTION_ARG_STRING, &password, "add: the password (else standard input)", "P" },
    { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &from_stdin, "add: the password from standard input", NULL },
    { "plain", 0, 0, G_OPTION_ARG_NONE, &plain, "add: store the password too", NULL },
    { "replace", 0, 0, G_OPTION_ARG_NONE, &replace, "add: replace a user already there", NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &show_help, "this text", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  g_autoptr (GOptionContext) octx = g_option_context_new (NULL);
  g_option_context_add_main_entries (octx, entries, NULL);
  g_option_context_set_help_enabled (octx, FALSE);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    return sf_ua_usage_error ("user", "%s", error->message);
  if (show_help) {
    fputs (help, stdout);
    return SF_EXIT_OK;
  }
  if (argc < 2)
    return sf_ua_usage_error ("user", "no command given (add, del or list)");
  const char *what = argv[1];
  gboolean add = strcmp (what, "add") == 0, del = strcmp (what, "del") == 0;
  if (!add && !del && strcmp (what, "list") != 0)
    return sf_ua_usage_error ("user", "unknown command '%s' (add, del or list)", what);
  if ((add || del) && argc < 3)
    return sf_ua_usage_error ("user", "%s: no USER given", what);
  if (argc > (add || del ? 3 : 2))
    return sf_ua_usage_error ("user", "'%s' is extra", argv[add || del ? 3 : 2]);
  if (!add && (realm != NULL || password != NULL || from_stdin || plain || replace))
    return sf_ua_usage_error ("user", "--realm, --password, --password-stdin, --plain and --replace are for add");
  if (password != NULL && from_stdin)
    return sf_ua_usage_error ("user", "--password or --password-stdin, not both");
  if (uri != NULL && (config != NULL || sets != NULL))
    return sf_ua_usage_error ("user", "--uri names the file: no --config or --set with it");
  const char *user = add || del ? argv[2] : NULL;

  /* The configuration as 'sipflow run' reads it: every built-in module declares its sections. */
  g_autoptr (SfConfig) cfg = sf_config_new ();
  g_autoptr (SfRegistry) reg = sf_registry_new (cfg, sf_builtin_modules);
  if (config != NULL && !sf_config_load_file (cfg, config, &error))
    return failed (error->message);
  for (char **s = sets; s != NULL && *s != NULL; s++)
    if (!sf_config_set (cfg, *s, &error))
      return failed (error->message);
  g_autofree char *path = NULL;
  if (uri != NULL) {
    path = g_strdup (uri);
  } else {
    gboolean sqlite = FALSE;
    path = sf_users_config_path (cfg, &sqlite);
    if (path != NULL && !sqlite) {
      g_autofree char *msg = g_strdup_printf ("registrar.users is a users file (%s), edited by hand; this command "
                                              "manages an SQLite table (registrar.users = sqlite:PATH)", path);
      return failed (msg);
    }
    if (path == NULL) {
      g_autoptr (GError) e = NULL;
      sf_config_set (cfg, "registrar.users=sqlite:", &e);
      path = sf_users_config_path (cfg, &sqlite);
    }
  }

  gboolean ok = FALSE;
  if (add) {
    if (realm == NULL)
      realm = g_strdup (sf_config_get_string (cfg, "registrar", "realm"));
    if (!sf_users_name_ok (user))
      return failed ("not a user name (1 to 128 bytes, no space, control character, '@', ':', '\"' or '\\')");
    if (password == NULL && (password = read_password (&error)) == NULL)
      return failed (error->message);
    ok = sf_users_sqlite_add (path, user, realm, password, plain, replace, &error);
    memset (password, 0, strlen (password));
    if (ok) {
      g_autoptr (GString) out = g_string_new ("{\"added\":");
      sf_json_append_string (out, user);
      sf_json_add_str (out, "realm", realm);
      sf_json_add_bool (out, "password", plain);
      g_string_append (out, "}\n");
      fputs (out->str, stdout);
    }
  } else if (del) {
    guint removed = 0;
    ok = sf_users_sqlite_del (path, user, &removed, &error);
    if (ok && removed == 0) {
      g_autofree char *msg = g_strdup_printf ("registrar.users: %s: no user '%s'", path, user);
      return failed (msg);
    }
    if (ok)
      printf ("{\"removed\":%u}\n", removed);
  } else {
    gboolean written = TRUE;
    ok = sf_users_sqlite_each (path, list_one, &written, &error) && written;
  }
  if (!ok)
    return failed (error != NULL ? error->message : "writing standard output");
  return fflush (stdout) == 0 ? SF_EXIT_OK : SF_EXIT_FAIL;
}
