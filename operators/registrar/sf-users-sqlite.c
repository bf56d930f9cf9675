/* sf-users-sqlite.c: the credentials in an SQLite table (see sf-users.h,
 * docs/servers.md "Credentials"): the server's source, and the offline
 * add/del/list of `sipflow user` (one place knows the schema).
 *
 * The server reads the whole table at start and again when PRAGMA
 * data_version says another connection committed (checked at most once a
 * second, from the main loop: the check reads no table; the read again is
 * done by a thread).  The file is made
 * 0600 (it holds HA1 values, as good as passwords for this realm), WAL so
 * that `sipflow user` writing never waits for the server reading.  Every
 * statement binds its values. */
#include "config.h"
#include "sf-users.h"
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#define BUSY_MS 200          /* the server's reads: a writer holds the lock for one statement */
#define TOOL_BUSY_MS 5000

/* Version 0 (a new file) -> 1: the users table. */
static const char *const migrations[SF_USERS_SQLITE_SCHEMA] = {
  "CREATE TABLE users ("
  " user TEXT PRIMARY KEY NOT NULL, realm TEXT NOT NULL, ha1_md5 TEXT, ha1_sha256 TEXT, password TEXT"
  ") WITHOUT ROWID;",
};

static gboolean
fail (sqlite3 *db, const char *path, GError **error, const char *what)
{
  g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "registrar.users: %s: %s: %s", path, what,
               db != NULL ? sqlite3_errmsg (db) : "out of memory");
  return FALSE;
}

static int
int_pragma (sqlite3 *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  int v = -1;
  if (sqlite3_prepare_v2 (db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step (st) == SQLITE_ROW)
    v = sqlite3_column_int (st, 0);
  sqlite3_finalize (st);
  return v;
}

static gboolean
has_table (sqlite3 *db, const char *name)
{
  sqlite3_stmt *st = NULL;
  gboolean yes = FALSE;
  if (sqlite3_prepare_v2 (db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL) ==
      SQLITE_OK) {
    sqlite3_bind_text (st, 1, name, -1, SQLITE_STATIC);
    yes = sqlite3_step (st) == SQLITE_ROW;
  }
  sqlite3_finalize (st);
  return yes;
}

/* Brings a users file to SF_USERS_SQLITE_SCHEMA in one transaction; a file
 * with other tables and no users table is another program's and is refused
 * before anything is written. */
static gboolean
migrate (sqlite3 *db, const char *path, GError **error)
{
  if (sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
    return fail (db, path, error, "locking");
  int version = int_pragma (db, "PRAGMA user_version");
  int tables = int_pragma (db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'");
  const char *bad = NULL;
  if (version < 0 || tables < 0)
    bad = "reading the schema version";
  else if (version > SF_USERS_SQLITE_SCHEMA)
    bad = "a schema version newer than this program's";
  else if ((version > 0 || tables > 0) && !has_table (db, "users"))
    bad = "not a users table (another program's database)";
  for (int v = version; bad == NULL && v < SF_USERS_SQLITE_SCHEMA; v++) {
    g_autofree char *set = g_strdup_printf ("PRAGMA user_version = %d", v + 1);
    if (sqlite3_exec (db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec (db, set, NULL, NULL, NULL) != SQLITE_OK)
      bad = "migrating the schema";
  }
  if (bad != NULL) {
    if (version >= 0 && tables >= 0 && strncmp (bad, "migrating", 9) != 0)
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "registrar.users: %s: %s", path, bad);
    else
      fail (db, path, error, bad);
    sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
    return FALSE;
  }
  if (sqlite3_exec (db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
    return fail (db, path, error, "committing the schema");
  return TRUE;
}

/* @path opened (made 0600 with its directory when missing and @create), its
 * schema checked and brought up to date. */
static sqlite3 *
db_open (const char *path, gboolean create, int busy_ms, GError **error)
{
  gboolean exists = g_file_test (path, G_FILE_TEST_IS_REGULAR);
  if (!exists && !create) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "registrar.users: %s: no such file", path);
    return NULL;
  }
  if (!exists) {
    g_autofree char *dir = g_path_get_dirname (path);
    int fd = -1;
    if (g_mkdir_with_parents (dir, 0700) != 0 || (fd = g_open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0) {
      int e = errno;
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "registrar.users: %s: cannot make it: %s", path,
                   g_strerror (e));
      return NULL;
    }
    close (fd);
  }
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "registrar.users: %s: cannot open: %s", path,
                 db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
    sqlite3_close (db);
    return NULL;
  }
  sqlite3_busy_timeout (db, busy_ms);
  sqlite3_extended_result_codes (db, 1);
  if (!migrate (db, path, error)) {
    sqlite3_close (db);
    return NULL;
  }
  /* WAL once the file is known to be ours: `sipflow user` writing never waits for the server reading */
  if (!exists && sqlite3_exec (db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK) {
    fail (db, path, error, "setting the journal mode");
    sqlite3_close (db);
    return NULL;
  }
  return db;
}

/* ---- the server's source ---- */

/* The main thread's connection asks PRAGMA data_version only (and reads the
 * table once at start, where an error is an error at start); a change is read
 * by a thread on a connection of its own, and its table handed over at the
 * poll after it is done: a table of 100,000 users takes some 100 ms to read,
 * which the main loop does not wait for. */
typedef struct {
  SfUsersSource base;
  sqlite3 *db;
  int data_version;   /* of the table handed over last; -1: never read */
  GThread *thread;    /* a read in flight (joined at the poll after it is done, or at free) */
  int loading_dv;     /* the data_version it reads */
  GMutex lock;        /* guards the three below */
  gboolean done;
  GHashTable *loaded; /* its table */
  GError *error;      /* or why not */
} Source;

/* A text column of at most @max bytes with no NUL inside; *@ok FALSE otherwise. */
static char *
column (sqlite3_stmt *st, int i, gsize max, gboolean *ok)
{
  if (sqlite3_column_type (st, i) == SQLITE_NULL)
    return NULL;
  const unsigned char *t = sqlite3_column_text (st, i);
  gsize n = (gsize) sqlite3_column_bytes (st, i);
  if (t == NULL || n > max || strlen ((const char *) t) != n) {
    *ok = FALSE;
    return NULL;
  }
  return g_strndup ((const char *) t, n);
}

/* The table of @db (rows validated, counted, at most @max_users), warnings naming @where. */
static GHashTable *
read_table (sqlite3 *db, const char *where, const char *realm, guint max_users, GError **error)
{
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2 (db, "SELECT user, realm, ha1_md5, ha1_sha256, password FROM users ORDER BY user LIMIT ?",
                          -1, &st, NULL) != SQLITE_OK) {
    fail (db, where, error, "reading the users");
    return NULL;
  }
  sqlite3_bind_int64 (st, 1, (sqlite3_int64) max_users + 1);
  SfUsersReader rd;
  sf_users_reader_init (&rd, where, realm);
  guint rows = 0;
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    if (++rows > max_users)
      break;
    gboolean ok = TRUE;
    char *name = column (st, 0, SF_USERS_MAX_NAME, &ok);
    SfUser *u = g_new0 (SfUser, 1);
    u->realm = column (st, 1, SF_USERS_MAX_REALM, &ok);
    u->ha1_md5 = column (st, 2, 32, &ok);
    u->ha1_sha256 = column (st, 3, 64, &ok);
    u->password = column (st, 4, SF_USERS_MAX_PASSWORD, &ok);
    sf_users_reader_add (&rd, name, u, ok);
  }
  sqlite3_finalize (st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    sf_users_reader_clear (&rd);
    fail (db, where, error, "reading the users");
    return NULL;
  }
  if (rows > max_users)
    g_warning ("registrar.users: %s: more than registrar.max_users (%u) users: the first %u by name are loaded",
               where, max_users, max_users);
  return sf_users_reader_finish (&rd);
}

static gpointer
reader (gpointer p)
{
  Source *s = p;
  GError *error = NULL;
  GHashTable *t = NULL;
  sqlite3 *db = NULL;
  if (sqlite3_open_v2 (s->base.where, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
    fail (db, s->base.where, &error, "cannot open");
  } else {
    sqlite3_busy_timeout (db, BUSY_MS);
    t = read_table (db, s->base.where, s->base.realm, s->base.max_users, &error);
  }
  sqlite3_close (db);
  g_mutex_lock (&s->lock);
  s->loaded = t;
  s->error = error;
  s->done = TRUE;
  g_mutex_unlock (&s->lock);
  return NULL;
}

static gboolean
source_poll (SfUsersSource *base, GHashTable **out, GError **error)
{
  Source *s = (Source *) base;
  *out = NULL;
  if (s->thread != NULL) {
    g_mutex_lock (&s->lock);
    gboolean done = s->done;
    g_mutex_unlock (&s->lock);
    if (!done)
      return TRUE;
    g_thread_join (g_steal_pointer (&s->thread));
    s->done = FALSE;
    if (s->error != NULL) {
      g_propagate_error (error, g_steal_pointer (&s->error)); /* data_version kept: read again at the next poll */
      return FALSE;
    }
    s->data_version = s->loading_dv;
    *out = g_steal_pointer (&s->loaded);
    return TRUE;
  }
  int dv = int_pragma (s->db, "PRAGMA data_version");
  if (dv < 0)
    return fail (s->db, base->where, error, "reading its data version");
  if (dv == s->data_version)
    return TRUE;
  if (s->data_version < 0) { /* at start: read here, an error is an error at start */
    *out = read_table (s->db, base->where, base->realm, base->max_users, error);
    if (*out == NULL)
      return FALSE;
    s->data_version = dv;
    return TRUE;
  }
  s->loading_dv = dv;
  s->thread = g_thread_new ("sf-users", reader, s);
  return TRUE;
}

static void
source_free (SfUsersSource *base)
{
  Source *s = (Source *) base;
  if (s->thread != NULL)
    g_thread_join (s->thread);
  g_clear_pointer (&s->loaded, g_hash_table_unref);
  g_clear_error (&s->error);
  g_mutex_clear (&s->lock);
  sqlite3_close (s->db);
  g_free (base->where);
  g_free (base->realm);
  g_free (s);
}

static const SfUsersSourceClass sqlite_class = { "sqlite", source_poll, source_free };

SfUsersSource *
sf_users_sqlite_source_new (const char *path, const char *realm, guint max_users, GError **error)
{
  sqlite3 *db = db_open (path, TRUE, BUSY_MS, error);
  if (db == NULL)
    return NULL;
  Source *s = g_new0 (Source, 1);
  s->base.klass = &sqlite_class;
  s->base.where = g_strdup (path);
  s->base.realm = g_strdup (realm);
  s->base.max_users = max_users;
  s->db = db;
  s->data_version = -1;
  g_mutex_init (&s->lock);
  return &s->base;
}

/* ---- offline ---- */

gboolean
sf_users_sqlite_add (const char *path, const char *user, const char *realm, const char *password, gboolean plain,
                     gboolean replace, GError **error)
{
  if (!sf_users_add_ok (user, realm, password, error))
    return FALSE;
  sqlite3 *db = db_open (path, TRUE, TOOL_BUSY_MS, error);
  if (db == NULL)
    return FALSE;
  g_autofree char *md5 = sf_digest_ha1 (SF_DIGEST_MD5, user, realm, password);
  g_autofree char *sha = sf_digest_ha1 (SF_DIGEST_SHA256, user, realm, password);
  sqlite3_stmt *st = NULL;
  const char *sql = replace ? "INSERT OR REPLACE INTO users (user, realm, ha1_md5, ha1_sha256, password) VALUES (?, ?, ?, ?, ?)"
                            : "INSERT INTO users (user, realm, ha1_md5, ha1_sha256, password) VALUES (?, ?, ?, ?, ?)";
  gboolean ok = sqlite3_prepare_v2 (db, sql, -1, &st, NULL) == SQLITE_OK;
  int rc = SQLITE_ERROR;
  if (ok) {
    sqlite3_bind_text (st, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, realm, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 3, md5, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 4, sha, -1, SQLITE_STATIC);
    if (plain)
      sqlite3_bind_text (st, 5, password, -1, SQLITE_STATIC);
    else
      sqlite3_bind_null (st, 5);
    rc = sqlite3_step (st);
  }
  sqlite3_finalize (st);
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "registrar.users: %s: user '%s' exists (--replace to change it)", path, user);
    ok = FALSE;
  } else if (rc != SQLITE_DONE) {
    ok = fail (db, path, error, "adding the user");
  }
  sqlite3_close (db);
  return ok;
}

gboolean
sf_users_sqlite_del (const char *path, const char *user, guint *removed, GError **error)
{
  sqlite3 *db = db_open (path, FALSE, TOOL_BUSY_MS, error);
  if (db == NULL)
    return FALSE;
  sqlite3_stmt *st = NULL;
  gboolean ok = sqlite3_prepare_v2 (db, "DELETE FROM users WHERE user = ?", -1, &st, NULL) == SQLITE_OK;
  if (ok) {
    sqlite3_bind_text (st, 1, user, -1, SQLITE_STATIC);
    ok = sqlite3_step (st) == SQLITE_DONE;
  }
  sqlite3_finalize (st);
  if (ok)
    *removed = (guint) sqlite3_changes (db);
  else
    fail (db, path, error, "removing the user");
  sqlite3_close (db);
  return ok;
}

gboolean
sf_users_sqlite_each (const char *path, SfUsersEachFunc f, gpointer data, GError **error)
{
  sqlite3 *db = db_open (path, FALSE, TOOL_BUSY_MS, error);
  if (db == NULL)
    return FALSE;
  sqlite3_stmt *st = NULL;
  int rc = SQLITE_ERROR;
  if (sqlite3_prepare_v2 (db,
                          "SELECT user, realm, ha1_md5 IS NOT NULL, ha1_sha256 IS NOT NULL, password IS NOT NULL "
                          "FROM users ORDER BY user", -1, &st, NULL) == SQLITE_OK)
    while ((rc = sqlite3_step (st)) == SQLITE_ROW)
      f ((const char *) sqlite3_column_text (st, 0), (const char *) sqlite3_column_text (st, 1),
         sqlite3_column_int (st, 2), sqlite3_column_int (st, 3), sqlite3_column_int (st, 4), data);
  sqlite3_finalize (st);
  gboolean ok = rc == SQLITE_DONE || fail (db, path, error, "listing the users");
  sqlite3_close (db);
  return ok;
}
