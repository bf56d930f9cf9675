/* sf-ua-user.c: 'sipflow user add|del|list': the SQLite users table of
 * registrar.users = sqlite:PATH or the Redis hash of redis://...
 * (docs/servers.md "Credentials"), through the stores' own code
 * (operators/registrar/sf-users-sqlite.c, sf-users-redis.c).  A running server
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
  "   each with [--uri FILE|redis://... | --config FILE] [--set S.K=V]...\n"
  "\n"
  "The SQLite users table registrar.users = sqlite:PATH names, or the Redis hash\n"
  "of registrar.users = redis://[:PASS@]HOST:PORT/DB (docs/servers.md,\n"
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
  "The store: --uri FILE or --uri redis://..., else registrar.users from --config\n"
  "FILE and --set (sqlite:PATH; sqlite: alone or unset: core.state_dir/users.sqlite;\n"
  "redis://..., its password also registrar.users_password, each command within\n"
  "location.timeout_ms).  Errors name the store (exit 1); a users file\n"
  "(user:password lines) is edited by hand.\n"
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
  g_autofree char *realm = NULL, *password = NULL;
  gboolean from_stdin = FALSE, plain = FALSE, replace = FALSE;
  GOptionEntry entries[] = {
    { "realm", 'r', 0, G_OPTION_ARG_STRING, &realm, "add: the realm (default registrar.realm)", "R" },
    { "password", 'p', 0, G_OPTION_ARG_STRING, &password, "add: the password (else standard input)", "P" },
    { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &from_stdin, "add: the password from standard input", NULL },
    { "plain", 0, 0, G_OPTION_ARG_NONE, &plain, "add: store the password too", NULL },
    { "replace", 0, 0, G_OPTION_ARG_NONE, &replace, "add: replace a user already there", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };
  g_auto (SfUaStoreArgs) a = { 0 };
  int rc = sf_ua_store_parse ("user", help, entries, &argc, &argv, &a);
  if (rc >= 0)
    return rc;
  g_autoptr (GError) error = NULL;
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
  if (a.uri != NULL && (a.config != NULL || a.sets != NULL))
    return sf_ua_usage_error ("user", "--uri names the file: no --config or --set with it");
  const char *user = add || del ? argv[2] : NULL;
  if ((rc = sf_ua_store_config ("user", &a)) >= 0)
    return rc;
  SfConfig *cfg = a.cfg;

  g_autofree char *path = NULL;
  if (a.uri != NULL) {
    path = g_strdup (a.uri);
  } else {
    gboolean sqlite = FALSE;
    path = sf_users_config_path (cfg, &sqlite);
    if (path != NULL && !sqlite && !sf_users_is_redis (path)) {
      g_autofree char *msg = g_strdup_printf ("registrar.users is a users file (%s), edited by hand; this command "
                                              "manages an SQLite table or a Redis hash (registrar.users = "
                                              "sqlite:PATH or redis://...)", path);
      return failed (msg);
    }
    if (path == NULL) {
      g_autoptr (GError) e = NULL;
      sf_config_set (cfg, "registrar.users=sqlite:", &e);
      path = sf_users_config_path (cfg, &sqlite);
    }
  }
  /* a Redis hash: the AUTH password from registrar.users_password or the URI, each command bounded */
  gboolean redis = sf_users_is_redis (path);
  const char *rpw = sf_config_get_string (cfg, "registrar", "users_password");
  guint timeout_ms = (guint) sf_config_get_int (cfg, "location", "timeout_ms");

  gboolean ok = FALSE;
  if (add) {
    if (realm == NULL)
      realm = g_strdup (sf_config_get_string (cfg, "registrar", "realm"));
    if (!sf_users_name_ok (user))
      return failed ("not a user name (1 to 128 bytes, no space, control character, '@', ':', '\"' or '\\')");
    if (password == NULL && (password = read_password (&error)) == NULL)
      return failed (error->message);
    ok = redis ? sf_users_redis_add (path, rpw, timeout_ms, user, realm, password, plain, replace, &error)
               : sf_users_sqlite_add (path, user, realm, password, plain, replace, &error);
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
    ok = redis ? sf_users_redis_del (path, rpw, timeout_ms, user, &removed, &error)
               : sf_users_sqlite_del (path, user, &removed, &error);
    if (ok && removed == 0) {
      g_autofree char *msg = g_strdup_printf ("registrar.users: %s: no user '%s'", redis ? "redis" : path, user);
      return failed (msg);
    }
    if (ok)
      printf ("{\"removed\":%u}\n", removed);
  } else {
    gboolean written = TRUE;
    ok = redis ? sf_users_redis_each (path, rpw, timeout_ms, sf_config_get_string (cfg, "registrar", "realm"),
                                      (guint) sf_config_get_int (cfg, "registrar", "max_users"), list_one, &written,
                                      &error)
               : sf_users_sqlite_each (path, list_one, &written, &error);
    ok = ok && written;
  }
  if (!ok)
    return failed (error != NULL ? error->message : "writing standard output");
  return fflush (stdout) == 0 ? SF_EXIT_OK : SF_EXIT_FAIL;
}
