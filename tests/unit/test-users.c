/* test-users.c: the registrar's credentials (operators/registrar/sf-users.h):
 *  - vectors: each published digest vector (tests/data/digest, RFC 2617, RFC
 *    7616, RFC 8760) with the user added to an SQLite table as HA1 only (no
 *    password): the response made from the stored HA1 is the published one,
 *    for MD5, SHA-256 and their -sess forms;
 *  - sqlite_reload: the table read at start, unchanged polls hand over nothing,
 *    an add and a del by another connection (the `sipflow user` code) are seen
 *    (read by a thread, handed over at a later poll); SfUsers polls at most
 *    once a second;
 *  - sqlite_hostile: rows written by hand: a bad HA1 (not hex, short), a user
 *    name with '@' or too long, a row with no secret, an embedded NUL are
 *    skipped; a user of another realm is loaded but gets no HA1 ("stored for
 *    another realm"); registrar.max_users bounds the rows; another program's
 *    database is refused and left as it was;
 *  - ha1_choice: a plain password answers any algorithm and realm, an MD5-only
 *    user no SHA-256 and the reverse;
 *  - file: 64-hex SHA-256 HA1 lines, one user with an MD5 and a SHA-256 line,
 *    a changed file read again;
 *  - config_path: registrar.users as a file, file:, sqlite:PATH, sqlite:, redis://;
 *  - redis_value: a hash value's JSON, hostile: escapes, unknown keys, null;
 *    not an object, a number, a key twice, a NUL, a lone surrogate, a raw
 *    control character, cut, trailing bytes, too long: refused;
 *  - redis_reply: the Redis hash's read (no Redis needed: replies made here):
 *    good users, the same hostile rows the SQLite table gets (skipped and
 *    counted), a NUL inside a name, replies of another shape and more users
 *    than registrar.max_users refused. */
#include "config.h"
#include "operators/sf-modules.h"
#include "sf-test.h"
#include "operators/registrar/sf-registrar.h"
#include "operators/registrar/sf-users.h"
#include <glib/gstdio.h>
#include <hiredis/hiredis.h>
#include <sqlite3.h>
#include <string.h>

static char *dir;

static char *
fresh (const char *name)
{
  if (dir == NULL)
    dir = g_dir_make_tmp ("sf-users-XXXXXX", NULL);
  char *p = g_build_filename (dir, name, NULL);
  g_unlink (p);
  g_autofree char *wal = g_strconcat (p, "-wal", NULL);
  g_autofree char *shm = g_strconcat (p, "-shm", NULL);
  g_unlink (wal);
  g_unlink (shm);
  return p;
}

static int
suite_clean (void)
{
  if (dir != NULL) {
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const char *n;
    while (d != NULL && (n = g_dir_read_name (d)) != NULL) {
      g_autofree char *p = g_build_filename (dir, n, NULL);
      g_unlink (p);
    }
    g_rmdir (dir);
    g_clear_pointer (&dir, g_free);
  }
  return 0;
}

static GHashTable *
poll_once (SfUsersSource *s)
{
  GHashTable *t = NULL;
  g_autoptr (GError) e = NULL;
  CU_ASSERT_TRUE (s->klass->poll (s, &t, &e));
  if (e != NULL)
    g_printerr ("poll: %s\n", e->message);
  return t;
}

static void
test_vectors (void)
{
  const char *env = g_getenv ("SF_TESTDATA");
  g_autofree char *path = g_build_filename (env != NULL ? env : SF_SRCDIR "/tests/data", "digest", "vectors.tsv", NULL);
  g_autofree char *text = NULL;
  CU_ASSERT_TRUE_FATAL (g_file_get_contents (path, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint checked = 0;
  for (char **l = lines + 1; *l != NULL; l++) {
    g_auto (GStrv) c = g_strsplit (*l, "\t", -1);
    SfDigestAlg alg;
    if (g_strv_length (c) < 13 || !sf_digest_alg_parse (c[0], &alg) || *c[12] != '\0')
      continue; /* SHA-512-256 (not supported), auth-int with a body (the digest suite checks those) */
    g_autoptr (GError) e = NULL;
    g_autofree char *db = fresh ("vectors.sqlite");
    CU_ASSERT_TRUE (sf_users_sqlite_add (db, c[1], c[2], c[3], FALSE, FALSE, &e));
    SfUsersSource *src = sf_users_sqlite_source_new (db, c[2], 10, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL (src);
    g_autoptr (GHashTable) t = poll_once (src);
    const SfUser *u = t != NULL ? g_hash_table_lookup (t, c[1]) : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL (u);
    CU_ASSERT_PTR_NULL (u->password);
    const char *why = NULL;
    g_autofree char *ha1 = sf_user_ha1 (u, c[1], c[2], alg, &why);
    CU_ASSERT_PTR_NOT_NULL_FATAL (ha1);
    SfDigestInput in = { alg, ha1, c[4], c[5], c[6], *c[8] ? c[8] : NULL, *c[7] ? c[7] : NULL, *c[9] ? c[9] : NULL,
                         NULL, 0 };
    g_autofree char *resp = sf_digest_response (&in);
    CU_ASSERT_STRING_EQUAL (resp, c[10]);
    src->klass->free (src);
    checked++;
  }
  CU_ASSERT (checked >= 8);
}

/* Looks @name up a poll interval later each time (the table is read again by a
 * thread and handed over at a later poll) until it is there (@present) or not;
 * bounded (5 s of real time). */
static gboolean
until (SfUsers *users, const char *name, gboolean present, gint64 *now)
{
  for (int i = 0; i < 5000; i++) {
    *now += SF_USERS_POLL_US;
    if ((sf_users_lookup (users, name, *now) != NULL) == present)
      return TRUE;
    g_usleep (1000);
  }
  return FALSE;
}

static void
test_sqlite_reload (void)
{
  g_autofree char *db = fresh ("reload.sqlite");
  g_autoptr (GError) e = NULL;
  CU_ASSERT_TRUE_FATAL (sf_users_sqlite_add (db, "alice", "sipflow.test", "secret", FALSE, FALSE, &e));
  GStatBuf st;
  CU_ASSERT_TRUE (g_stat (db, &st) == 0 && (st.st_mode & 0077) == 0); /* HA1 are secrets: 0600 */
  SfUsersSource *src = sf_users_sqlite_source_new (db, "sipflow.test", 100, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (src);
  SfUsers *users = sf_users_new (src, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (users);
  gint64 t0 = g_get_monotonic_time ();
  CU_ASSERT_PTR_NOT_NULL (sf_users_lookup (users, "alice", t0));
  CU_ASSERT_PTR_NULL (sf_users_lookup (users, "bob", t0));
  CU_ASSERT_FALSE (sf_users_sqlite_add (db, "alice", "sipflow.test", "other", FALSE, FALSE, &e)); /* no --replace */
  CU_ASSERT_TRUE (e != NULL && strstr (e->message, "user 'alice' exists") != NULL);
  g_clear_error (&e);
  CU_ASSERT_TRUE (sf_users_sqlite_add (db, "bob", "sipflow.test", "pw", TRUE, FALSE, &e));
  /* within the second: not polled yet */
  CU_ASSERT_PTR_NULL (sf_users_lookup (users, "bob", t0 + SF_USERS_POLL_US / 2));
  gint64 now = t0;
  CU_ASSERT_TRUE (until (users, "bob", TRUE, &now));
  const SfUser *bob = sf_users_lookup (users, "bob", now);
  CU_ASSERT_TRUE (bob != NULL && g_strcmp0 (bob->password, "pw") == 0);
  CU_ASSERT_EQUAL (sf_users_count (users), 2);
  guint removed = 0;
  CU_ASSERT_TRUE (sf_users_sqlite_del (db, "alice", &removed, &e));
  CU_ASSERT_EQUAL (removed, 1);
  CU_ASSERT_TRUE (sf_users_sqlite_del (db, "alice", &removed, &e));
  CU_ASSERT_EQUAL (removed, 0);
  CU_ASSERT_TRUE (until (users, "alice", FALSE, &now));
  CU_ASSERT_EQUAL (sf_users_count (users), 1);
  /* nothing changed: the poll hands over nothing (the table is not read again) */
  GHashTable *none = NULL;
  CU_ASSERT_TRUE (src->klass->poll (src, &none, &e));
  CU_ASSERT_PTR_NULL (none);
  sf_users_free (users);
}

static void
insert_raw (const char *db, const char *sql)
{
  sqlite3 *h = NULL;
  CU_ASSERT_EQUAL_FATAL (sqlite3_open (db, &h), SQLITE_OK);
  char *err = NULL;
  if (sqlite3_exec (h, sql, NULL, NULL, &err) != SQLITE_OK)
    g_printerr ("insert_raw: %s\n", err);
  sqlite3_free (err);
  sqlite3_close (h);
}

static void
test_sqlite_hostile (void)
{
  g_autofree char *db = fresh ("hostile.sqlite");
  g_autoptr (GError) e = NULL;
  CU_ASSERT_TRUE_FATAL (sf_users_sqlite_add (db, "good", "sipflow.test", "pw", FALSE, FALSE, &e));
  g_autofree char *long_name = g_strnfill (SF_USERS_MAX_NAME + 1, 'x');
  g_autofree char *sql = g_strdup_printf (
    "INSERT INTO users VALUES ('nothex', 'sipflow.test', 'zz23456789abcdef0123456789abcdef', NULL, NULL);"
    "INSERT INTO users VALUES ('short', 'sipflow.test', '0123456789abcdef', NULL, NULL);"
    "INSERT INTO users VALUES ('a@b', 'sipflow.test', NULL, NULL, 'pw');"
    "INSERT INTO users VALUES ('%s', 'sipflow.test', NULL, NULL, 'pw');"
    "INSERT INTO users VALUES ('nosecret', 'sipflow.test', NULL, NULL, NULL);"
    "INSERT INTO users VALUES ('nul', 'sipflow.test', NULL, NULL, CAST(X'610062' AS TEXT));"
    "INSERT INTO users VALUES ('upper', 'sipflow.test', '0123456789ABCDEF0123456789ABCDEF', NULL, NULL);"
    "INSERT INTO users VALUES ('elsewhere', 'other.realm', '0123456789abcdef0123456789abcdef', NULL, NULL);",
    long_name);
  insert_raw (db, sql);
  SfUsersSource *src = sf_users_sqlite_source_new (db, "sipflow.test", 100, &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (src);
  g_autoptr (GHashTable) t = poll_once (src);
  CU_ASSERT_PTR_NOT_NULL_FATAL (t);
  CU_ASSERT_EQUAL (g_hash_table_size (t), 3); /* good, upper, elsewhere */
  const SfUser *upper = g_hash_table_lookup (t, "upper");
  CU_ASSERT_TRUE (upper != NULL && strcmp (upper->ha1_md5, "0123456789abcdef0123456789abcdef") == 0);
  const SfUser *elsewhere = g_hash_table_lookup (t, "elsewhere");
  CU_ASSERT_PTR_NOT_NULL_FATAL (elsewhere);
  const char *why = NULL;
  CU_ASSERT_PTR_NULL (sf_user_ha1 (elsewhere, "elsewhere", "sipflow.test", SF_DIGEST_MD5, &why));
  CU_ASSERT_STRING_EQUAL (why, "stored for another realm");
  src->klass->free (src);

  /* registrar.max_users: the first ones by name */
  src = sf_users_sqlite_source_new (db, "sipflow.test", 2, &e);
  g_autoptr (GHashTable) two = poll_once (src);
  CU_ASSERT_TRUE (two != NULL && g_hash_table_size (two) <= 2);
  src->klass->free (src);

  /* another program's database: refused, unchanged */
  g_autofree char *other = fresh ("other.sqlite");
  insert_raw (other, "CREATE TABLE t (x); PRAGMA user_version = 1;");
  g_autofree char *before = NULL;
  gsize before_len = 0;
  CU_ASSERT_TRUE (g_file_get_contents (other, &before, &before_len, NULL));
  g_clear_error (&e);
  CU_ASSERT_PTR_NULL (sf_users_sqlite_source_new (other, "sipflow.test", 10, &e));
  CU_ASSERT_TRUE (e != NULL && strstr (e->message, "not a users table") != NULL && strstr (e->message, other) != NULL);
  g_autofree char *after = NULL;
  gsize after_len = 0;
  CU_ASSERT_TRUE (g_file_get_contents (other, &after, &after_len, NULL));
  CU_ASSERT_TRUE (before_len == after_len && memcmp (before, after, before_len) == 0);
  /* a file the tool is asked to read but that is not there is not made */
  g_autofree char *none = fresh ("none.sqlite");
  g_clear_error (&e);
  CU_ASSERT_FALSE (sf_users_sqlite_each (none, NULL, NULL, &e));
  CU_ASSERT_FALSE (g_file_test (none, G_FILE_TEST_EXISTS));
  /* the tool refuses bad names and lengths */
  g_clear_error (&e);
  CU_ASSERT_FALSE (sf_users_sqlite_add (db, "a b", "sipflow.test", "pw", FALSE, FALSE, &e));
  g_clear_error (&e);
  CU_ASSERT_FALSE (sf_users_sqlite_add (db, long_name, "sipflow.test", "pw", FALSE, FALSE, &e));
  g_autofree char *long_pw = g_strnfill (SF_USERS_MAX_PASSWORD + 1, 'p');
  g_clear_error (&e);
  CU_ASSERT_FALSE (sf_users_sqlite_add (db, "ok", "sipflow.test", long_pw, FALSE, FALSE, &e));
}

static void
test_ha1_choice (void)
{
  SfUser plain = { .password = (char *) "pw" };
  const char *why = NULL;
  g_autofree char *a = sf_user_ha1 (&plain, "u", "any.realm", SF_DIGEST_SHA256, &why);
  g_autofree char *want = sf_digest_ha1 (SF_DIGEST_SHA256, "u", "any.realm", "pw");
  CU_ASSERT_STRING_EQUAL (a, want);
  SfUser md5 = { .ha1_md5 = (char *) "0123456789abcdef0123456789abcdef" };
  CU_ASSERT_PTR_NULL (sf_user_ha1 (&md5, "u", "r", SF_DIGEST_SHA256, &why));
  CU_ASSERT_STRING_EQUAL (why, "only MD5 for this user");
  g_autofree char *b = sf_user_ha1 (&md5, "u", "r", SF_DIGEST_MD5_SESS, &why);
  CU_ASSERT_STRING_EQUAL (b, md5.ha1_md5);
  SfUser sha = { .ha1_sha256 = (char *) "x" };
  CU_ASSERT_PTR_NULL (sf_user_ha1 (&sha, "u", "r", SF_DIGEST_MD5, &why));
  CU_ASSERT_STRING_EQUAL (why, "only SHA-256 for this user");
  CU_ASSERT_TRUE (sf_users_name_ok ("alice.smith+1"));
  CU_ASSERT_FALSE (sf_users_name_ok (""));
  CU_ASSERT_FALSE (sf_users_name_ok ("a:b"));
  CU_ASSERT_FALSE (sf_users_name_ok ("a\"b"));
  CU_ASSERT_FALSE (sf_users_name_ok ("a\x01"));
  CU_ASSERT_FALSE (sf_users_name_ok ("\xff"));
}

static void
test_file (void)
{
  g_autofree char *md5 = sf_digest_ha1 (SF_DIGEST_MD5, "carol", "sipflow.test", "pw");
  g_autofree char *sha = sf_digest_ha1 (SF_DIGEST_SHA256, "carol", "sipflow.test", "pw");
  g_autofree char *sha_up = g_ascii_strup (sha, -1);
  g_autofree char *text = g_strdup_printf ("alice:secret\ncarol:sipflow.test:%s\ncarol:sipflow.test:%s\n"
                                           "dave:sipflow.test:%s\n", md5, sha_up, sha);
  g_autoptr (GError) e = NULL;
  g_autoptr (GHashTable) t = sf_registrar_parse_users (text, "users", "sipflow.test", &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (t);
  const SfUser *carol = g_hash_table_lookup (t, "carol");
  CU_ASSERT_TRUE (carol != NULL && g_strcmp0 (carol->ha1_md5, md5) == 0 && g_strcmp0 (carol->ha1_sha256, sha) == 0);
  const SfUser *dave = g_hash_table_lookup (t, "dave");
  CU_ASSERT_TRUE (dave != NULL && dave->ha1_md5 == NULL && g_strcmp0 (dave->ha1_sha256, sha) == 0);
  /* two lines of one kind are still a user given twice */
  g_autofree char *twice = g_strdup_printf ("carol:sipflow.test:%s\ncarol:sipflow.test:%s\n", sha, sha);
  GHashTable *bad = sf_registrar_parse_users (twice, "users", "sipflow.test", &e);
  CU_ASSERT_PTR_NULL (bad);
  CU_ASSERT_TRUE (e != NULL && strcmp (e->message, "users:2: user 'carol' given twice") == 0);
  g_clear_error (&e);

  /* the file source: read again when it changes, kept when it turns bad */
  g_autofree char *path = fresh ("users.txt");
  CU_ASSERT_TRUE (g_file_set_contents (path, "alice:secret\n", -1, NULL));
  SfUsers *users = sf_users_new (sf_users_file_source_new (path, "sipflow.test", 10), &e);
  CU_ASSERT_PTR_NOT_NULL_FATAL (users);
  gint64 t0 = g_get_monotonic_time ();
  CU_ASSERT_PTR_NOT_NULL (sf_users_lookup (users, "alice", t0));
  CU_ASSERT_TRUE (g_file_set_contents (path, "alice:secret\nbob:pw2\n", -1, NULL)); /* another size, another inode */
  CU_ASSERT_PTR_NOT_NULL (sf_users_lookup (users, "bob", t0 + SF_USERS_POLL_US));
  CU_ASSERT_TRUE (g_file_set_contents (path, "nocolon\n", -1, NULL));
  CU_ASSERT_PTR_NOT_NULL (sf_users_lookup (users, "bob", t0 + 2 * SF_USERS_POLL_US)); /* kept, with a warning */
  sf_users_free (users);
}

static void
test_config_path (void)
{
  static const struct { const char *value; gboolean sqlite; const char *path; } cases[] = {
    { "/etc/users", FALSE, "/etc/users" },
    { "file:sqlite:odd", FALSE, "sqlite:odd" },
    { "sqlite:/var/u.sqlite", TRUE, "/var/u.sqlite" },
    { "sqlite:", TRUE, "/state/users.sqlite" },
    { "redis://:pw@127.0.0.1:6380/2", FALSE, "redis://:pw@127.0.0.1:6380/2" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    SfTestEnv *env = sf_test_env_new ();
    g_autofree char *set = g_strdup_printf ("registrar.users=%s", cases[i].value);
    CU_ASSERT_TRUE_FATAL (sf_config_set (env->cfg, set, NULL));
    CU_ASSERT_TRUE_FATAL (sf_config_set (env->cfg, "core.state_dir=/state", NULL));
    gboolean sqlite = !cases[i].sqlite;
    g_autofree char *p = sf_users_config_path (env->cfg, &sqlite);
    CU_ASSERT_STRING_EQUAL (p, cases[i].path);
    CU_ASSERT_EQUAL (sqlite, cases[i].sqlite);
    sf_test_env_free (env);
  }
}

/* A string reply (NULL: nil) as hiredis makes it; @len -1: strlen. */
static redisReply *
str_new (const char *v, gssize len)
{
  redisReply *e = g_new0 (redisReply, 1);
  e->type = v != NULL ? REDIS_REPLY_STRING : REDIS_REPLY_NIL;
  e->len = v != NULL ? (len < 0 ? strlen (v) : (size_t) len) : 0;
  e->str = v != NULL ? g_memdup2 (v, e->len + 1) : NULL;
  return e;
}

/* EXEC's reply: {@version, {the @n strings of @hash}}. */
static redisReply *
exec_new (const char *version, const char *const *hash, gsize n)
{
  redisReply *h = g_new0 (redisReply, 1);
  h->type = REDIS_REPLY_ARRAY;
  h->elements = n;
  h->element = g_new0 (redisReply *, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    h->element[i] = str_new (hash[i], -1);
  redisReply *r = g_new0 (redisReply, 1);
  r->type = REDIS_REPLY_ARRAY;
  r->elements = 2;
  r->element = g_new0 (redisReply *, 2);
  r->element[0] = str_new (version, -1);
  r->element[1] = h;
  return r;
}

static void
reply_free (redisReply *r)
{
  for (gsize i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
    reply_free (r->element[i]);
  g_free (r->element);
  g_free (r->str);
  g_free (r);
}

static void
test_redis_value (void)
{
  static const struct { const char *v; gboolean ok; const char *realm, *md5, *password; } cases[] = {
    { "{\"realm\":\"sipflow.test\",\"ha1_md5\":\"ab\"}", TRUE, "sipflow.test", "ab", NULL },
    { " { \"password\" : \"a\\\"b\\\\c\\/d\\u00e9\" , \"realm\":\"r\",\"x\":\"y\",\"ha1_md5\":null } ", TRUE, "r", NULL,
      "a\"b\\c/d\xc3\xa9" },
    { "{}", TRUE, NULL, NULL, NULL },
    { "", FALSE, NULL, NULL, NULL },
    { "not json", FALSE, NULL, NULL, NULL },
    { "[1,2]", FALSE, NULL, NULL, NULL },
    { "{\"realm\":7}", FALSE, NULL, NULL, NULL },
    { "{\"realm\":\"a\",\"realm\":\"b\"}", FALSE, NULL, NULL, NULL },       /* twice */
    { "{\"realm\":\"a\\u0000\"}", FALSE, NULL, NULL, NULL },                /* a NUL */
    { "{\"realm\":\"\\ud83d\"}", FALSE, NULL, NULL, NULL },                 /* a lone surrogate */
    { "{\"realm\":\"a\tb\"}", FALSE, NULL, NULL, NULL },                    /* a raw control character */
    { "{\"realm\":\"a\\q\"}", FALSE, NULL, NULL, NULL },                    /* no such escape */
    { "{\"realm\":\"a\"", FALSE, NULL, NULL, NULL },                        /* cut */
    { "{\"realm\":\"a\"} x", FALSE, NULL, NULL, NULL },                     /* trailing */
    { "{\"realm\":\"a\",}", FALSE, NULL, NULL, NULL },
    { "{\"realm\":\"\\u12", FALSE, NULL, NULL, NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    SfUser *u = g_new0 (SfUser, 1);
    gboolean ok = sf_users_redis_parse_value (cases[i].v, strlen (cases[i].v), u);
    CU_ASSERT_EQUAL (ok, cases[i].ok);
    if (ok && cases[i].ok) {
      CU_ASSERT_STRING_EQUAL (u->realm != NULL ? u->realm : "-", cases[i].realm != NULL ? cases[i].realm : "-");
      CU_ASSERT_STRING_EQUAL (u->ha1_md5 != NULL ? u->ha1_md5 : "-", cases[i].md5 != NULL ? cases[i].md5 : "-");
      CU_ASSERT_STRING_EQUAL (u->password != NULL ? u->password : "-", cases[i].password != NULL ? cases[i].password : "-");
    }
    sf_user_free (u);
  }
  g_autofree char *huge = g_strdup_printf ("{\"password\":\"%0*d\"}", 3000, 0);
  SfUser *u = g_new0 (SfUser, 1);
  CU_ASSERT_FALSE (sf_users_redis_parse_value (huge, strlen (huge), u));
  sf_user_free (u);
}

static void
test_redis_reply (void)
{
  const char *hash[] = {
    "alice", "{\"realm\":\"sipflow.test\",\"ha1_md5\":\"0123456789ABCDEF0123456789abcdef\","
             "\"ha1_sha256\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}",
    "bob", "{\"realm\":\"sipflow.test\",\"password\":\"pw\"}",
    "dave", "{\"realm\":\"other.realm\",\"ha1_md5\":\"0123456789abcdef0123456789abcdef\"}",
    "a b", "{\"realm\":\"sipflow.test\",\"password\":\"pw\"}",                     /* a space in the name */
    "eve", "{\"realm\":\"sipflow.test\",\"ha1_md5\":\"00\"}",                      /* a short HA1 */
    "fred", "{\"realm\":\"sipflow.test\",\"ha1_md5\":\"0123456789abcdef0123456789abcdeg\"}", /* not hex */
    "gina", "not json",
    "hal", "{\"realm\":\"sipflow.test\"}",                                         /* no secret */
    "ivy", "{\"realm\":\"sipflow.test\",\"password\":\"\"}",                       /* an empty password */
    "jo", "{\"ha1_md5\":\"0123456789abcdef0123456789abcdef\"}",                    /* no realm */
  };
  redisReply *r = exec_new ("7", hash, G_N_ELEMENTS (hash));
  char *version = NULL;
  g_autoptr (GError) error = NULL;
  GHashTable *t = sf_users_redis_read (r, "redis://x:1/0", "sipflow.test", 100, &version, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (t);
  CU_ASSERT_STRING_EQUAL (version, "7");
  CU_ASSERT_EQUAL (g_hash_table_size (t), 3); /* alice, bob, dave (another realm: loaded, no HA1 given) */
  const SfUser *a = g_hash_table_lookup (t, "alice");
  CU_ASSERT_PTR_NOT_NULL_FATAL (a);
  CU_ASSERT_STRING_EQUAL (a->ha1_md5, "0123456789abcdef0123456789abcdef"); /* lowered */
  CU_ASSERT_PTR_NULL (a->password);
  const char *why = NULL;
  CU_ASSERT_PTR_NULL (sf_user_ha1 (g_hash_table_lookup (t, "dave"), "dave", "sipflow.test", SF_DIGEST_MD5, &why));
  CU_ASSERT_STRING_EQUAL (why, "stored for another realm");
  g_hash_table_unref (t);
  g_free (version);
  reply_free (r);

  /* a NUL inside a name; no version yet (nil: "0") */
  const char *one[] = { "al", "{\"realm\":\"sipflow.test\",\"password\":\"pw\"}" };
  r = exec_new (NULL, one, 2);
  r->element[1]->element[0]->str[1] = '\0';
  t = sf_users_redis_read (r, "redis://x:1/0", "sipflow.test", 100, &version, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (t);
  CU_ASSERT_EQUAL (g_hash_table_size (t), 0);
  CU_ASSERT_STRING_EQUAL (version, "0");
  g_hash_table_unref (t);
  g_free (version);
  reply_free (r);

  /* more users than the bound, an odd hash, another shape */
  const char *three[] = { "a", "{}", "b", "{}", "c", "{}" };
  r = exec_new ("1", three, 6);
  version = NULL;
  CU_ASSERT_PTR_NULL (sf_users_redis_read (r, "redis://x:1/0", "sipflow.test", 2, &version, &error));
  CU_ASSERT_PTR_NOT_NULL (error != NULL ? strstr (error->message, "more than registrar.max_users") : NULL);
  CU_ASSERT_PTR_NULL (version);
  reply_free (r);
  r = exec_new ("1", three, 5);
  g_clear_error (&error);
  CU_ASSERT_PTR_NULL (sf_users_redis_read (r, "redis://x:1/0", "sipflow.test", 10, &version, &error));
  CU_ASSERT_PTR_NOT_NULL (error);
  r->elements = 1;
  g_clear_error (&error);
  CU_ASSERT_PTR_NULL (sf_users_redis_read (r, "redis://x:1/0", "sipflow.test", 10, &version, &error));
  r->elements = 2;
  reply_free (r);
  redisReply err = { .type = REDIS_REPLY_ERROR, .str = (char *) "ERR boom\x01", .len = 9 };
  g_clear_error (&error);
  CU_ASSERT_PTR_NULL (sf_users_redis_read (&err, "redis://x:1/0", "sipflow.test", 2, &version, &error));
  CU_ASSERT_PTR_NOT_NULL_FATAL (error);
  CU_ASSERT_PTR_NOT_NULL (strstr (error->message, "ERR boom?"));
}

void
sf_test_register_users (void)
{
  CU_pSuite s = CU_add_suite ("users", NULL, suite_clean);
  SF_ADD_TEST (s, test_vectors);
  SF_ADD_TEST (s, test_sqlite_reload);
  SF_ADD_TEST (s, test_sqlite_hostile);
  SF_ADD_TEST (s, test_ha1_choice);
  SF_ADD_TEST (s, test_file);
  SF_ADD_TEST (s, test_config_path);
  SF_ADD_TEST (s, test_redis_value);
  SF_ADD_TEST (s, test_redis_reply);
}
