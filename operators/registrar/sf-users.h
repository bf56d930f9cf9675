/* sf-users.h: the registrar's credentials (registrar.users, docs/servers.md
 * "Credentials"): who may authenticate and with what secret, held in memory
 * and read from a source: a users file, an SQLite users table or a Redis hash.
 *
 * A source is a small interface (SfUsersSourceClass): poll() hands over a new
 * table when the source changed since the last one, without blocking for
 * long: the file compares its mtime and size, SQLite its PRAGMA data_version
 * (a counter in shared memory, no read of the table; a change is read by a
 * thread and handed over at a later poll).  SfUsers polls at most
 * once a second, from the request that looks a user up, so `sipflow user add`
 * takes effect on a running server within a second and no REGISTER waits on a
 * query.  A source that cannot be read keeps the table it had (a warning);
 * rows are hostile input: bounded lengths, hex HA1 of the right length,
 * registrar.max_users rows at most; a bad row is skipped and counted. */
#pragma once
#include <glib.h>
#include "sipflow/sf-config.h"
#include "sip/sf-sip-digest.h"

G_BEGIN_DECLS

#define SF_USERS_MAX_NAME 128      /* bytes of a user name */
#define SF_USERS_MAX_REALM 256     /* bytes of a realm */
#define SF_USERS_MAX_PASSWORD 256  /* bytes of a plain password */
#define SF_USERS_POLL_US G_USEC_PER_SEC /* a source is asked for changes at most this often */
#define SF_USERS_SQLITE_SCHEMA 1   /* PRAGMA user_version of a users table this program writes */

typedef struct {
  char *password;     /* owned, nullable: plain text (every algorithm, any realm) */
  char *realm;        /* owned, nullable: the realm the HA1 were made for (NULL: registrar.realm) */
  char *ha1_md5;      /* owned, nullable: H(user:realm:password) with MD5, 32 lowercase hex digits */
  char *ha1_sha256;   /* owned, nullable: the same with SHA-256, 64 lowercase hex digits */
} SfUser;

void sf_user_free (SfUser *u);
/* A table user name -> SfUser* (both owned). */
GHashTable *sf_users_table_new (void);
/* Is @s @len lowercase-able hex digits?  (Then lowered in place.) */
gboolean sf_users_hex_ok (char *s, gsize len);
/* May @name be a user name: 1..SF_USERS_MAX_NAME bytes of UTF-8, no control
 * character, space, '@', ':', '"' or backslash (it goes into H(A1)'s
 * "user:realm:password" and a quoted digest parameter)? */
gboolean sf_users_name_ok (const char *name);

/* May @s be a realm's text: valid UTF-8 without control characters (NULL: yes)? */
gboolean sf_users_text_ok (const char *s);
/* May `sipflow user add` store @user for @realm with @password?  (Else a message in @error.) */
gboolean sf_users_add_ok (const char *user, const char *realm, const char *password, GError **error);

/* Rows read from a table are hostile input: each source hands them to a
 * reader, which checks them all the same way (lengths, the name, the realm,
 * HA1 of 32 or 64 hex digits, at least one secret), skips and counts the bad
 * ones and those of another realm, and warns once, naming @where. */
typedef struct {
  const char *where, *realm;      /* unowned */
  GHashTable *table;
  guint bad, other_realm;
  GString *bad_names, *realm_names;
} SfUsersReader;
void sf_users_reader_init (SfUsersReader *r, const char *where, const char *realm);
/* Takes @name and @u (nullable fields); @ok FALSE: the source already found a
 * field bad (too long, a NUL inside, of the wrong type). */
void sf_users_reader_add (SfUsersReader *r, char *name, SfUser *u, gboolean ok);
/* The table (transfer full), its warnings logged; the reader is cleared. */
GHashTable *sf_users_reader_finish (SfUsersReader *r);
void sf_users_reader_clear (SfUsersReader *r);

/* The H(A1) to check @alg credentials of @user (@name) against for @realm (the
 * server's), transfer full; NULL with a static @why ("stored for another
 * realm", "only MD5 for this user", "only SHA-256 for this user") when
 * there is none. */
char *sf_user_ha1 (const SfUser *user, const char *name, const char *realm, SfDigestAlg alg, const char **why);

/* ---- a credentials source ---- */

typedef struct _SfUsersSource SfUsersSource;
typedef struct {
  const char *name; /* "file", "sqlite", "redis" */
  /* *@out: a new table (transfer full) when the source changed since the last
   * poll (always on the first), else NULL.  FALSE on error (*@out NULL): the
   * caller keeps its table.  Must not block for long: a source whose reads
   * are slow (a network) keeps its own copy up to date in the background and
   * hands it over here. */
  gboolean (*poll) (SfUsersSource *s, GHashTable **out, GError **error);
  void (*free) (SfUsersSource *s);
} SfUsersSourceClass;

struct _SfUsersSource {
  const SfUsersSourceClass *klass;
  char *where;        /* owned: the file, for logs */
  char *realm;        /* owned: registrar.realm (rows of another realm are counted) */
  guint max_users;    /* registrar.max_users */
};

/* A users file (user:password, user:realm:HA1 lines; sf_registrar_parse_users). */
SfUsersSource *sf_users_file_source_new (const char *path, const char *realm, guint max_users);
/* An SQLite users table, the file made with the schema when missing. */
SfUsersSource *sf_users_sqlite_source_new (const char *path, const char *realm, guint max_users, GError **error);

/* A Redis hash (sf-users-redis.c; @uri redis://[:PASSWORD@]HOST[:PORT][/DB],
 * @password, nullable, wins over the URI's): read at once (a Redis that does
 * not answer within @timeout_ms: a warning and no users until it does), then
 * kept up to date through a connection of its own on the thread-default main
 * context.  NULL only for a URI it cannot parse. */
SfUsersSource *sf_users_redis_source_new (const char *uri, const char *password, guint timeout_ms, const char *realm,
                                          guint max_users, GError **error);

/* EXEC's reply to MULTI GET HGETALL ({version, {user, value, ...}}: hostile,
 * checked): the table (transfer full) and its *@version, or an error naming
 * @where (another shape, more than @max_users users). */
struct redisReply;
/* A hash value, a JSON object of strings (or null) with the keys realm,
 * ha1_md5, ha1_sha256, password (others ignored), into @u's fields; FALSE when
 * it is not one (too long, malformed, a key twice, a NUL or a surrogate). */
gboolean sf_users_redis_parse_value (const char *v, gsize len, SfUser *u);
GHashTable *sf_users_redis_read (const struct redisReply *r, const char *where, const char *realm, guint max_users,
                                 char **version, GError **error);

/* ---- the registrar's view ---- */

typedef struct _SfUsers SfUsers;
/* Takes @source, loads it once: an error is an error at start. */
SfUsers *sf_users_new (SfUsersSource *source, GError **error);
void sf_users_free (SfUsers *u);
/* The user @name (unowned, good until the next call), NULL when unknown; the
 * source is polled first when SF_USERS_POLL_US passed since the last time
 * (@now_us: monotonic). */
const SfUser *sf_users_lookup (SfUsers *u, const char *name, gint64 now_us);
guint sf_users_count (SfUsers *u);

/* registrar.users read: the users file (*@sqlite FALSE), or "sqlite:PATH"
 * (TRUE; "sqlite:" alone: core.state_dir/users.sqlite); "file:PATH" is a file
 * whatever its name; "redis://..." comes back as it is (*@sqlite FALSE,
 * sf_users_is_redis).  *@path transfer full; NULL when unset. */
char *sf_users_config_path (SfConfig *cfg, gboolean *sqlite);
gboolean sf_users_is_redis (const char *path);

/* ---- the SQLite table offline (sipflow user) ---- */

typedef void (*SfUsersEachFunc) (const char *user, const char *realm, gboolean md5, gboolean sha256,
                                 gboolean password, gpointer data);
/* Adds @user for @realm: its HA1 for MD5 and SHA-256, and its @password too
 * when @plain.  An existing user is an error unless @replace.  Makes the file
 * when missing.  Errors name the file. */
gboolean sf_users_sqlite_add (const char *path, const char *user, const char *realm, const char *password,
                              gboolean plain, gboolean replace, GError **error);
/* Removes @user (*@removed: 0 or 1). */
gboolean sf_users_sqlite_del (const char *path, const char *user, guint *removed, GError **error);
/* Each user in name order, never its secrets. */
gboolean sf_users_sqlite_each (const char *path, SfUsersEachFunc f, gpointer data, GError **error);

/* ---- the Redis hash offline (sipflow user): the same, each command within
 * @timeout_ms, @password (nullable) winning over the URI's ---- */
gboolean sf_users_redis_add (const char *uri, const char *password, guint timeout_ms, const char *user,
                             const char *realm, const char *secret, gboolean plain, gboolean replace, GError **error);
gboolean sf_users_redis_del (const char *uri, const char *password, guint timeout_ms, const char *user,
                             guint *removed, GError **error);
/* Each valid user in name order (bad fields skipped with a warning, as the server does). */
gboolean sf_users_redis_each (const char *uri, const char *password, guint timeout_ms, const char *realm,
                              guint max_users, SfUsersEachFunc f, gpointer data, GError **error);

G_END_DECLS
