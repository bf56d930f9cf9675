/* sf-users.c: the registrar's credentials in memory, the file source and the
 * polling (see sf-users.h; the SQLite source is sf-users-sqlite.c). */
#include "config.h"
#include "sf-users.h"
#include "sf-registrar.h"
#include "framework/sf-secret.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

void
sf_user_free (SfUser *u)
{
  if (u == NULL)
    return;
  if (u->password != NULL)
    memset (u->password, 0, strlen (u->password));
  g_free (u->password);
  g_free (u->realm);
  g_free (u->ha1_md5);
  g_free (u->ha1_sha256);
  g_free (u);
}

GHashTable *
sf_users_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) sf_user_free);
}

gboolean
sf_users_hex_ok (char *s, gsize len)
{
  if (s == NULL || strlen (s) != len || strspn (s, "0123456789abcdefABCDEF") != len)
    return FALSE;
  for (char *p = s; *p != '\0'; p++)
    *p = g_ascii_tolower (*p);
  return TRUE;
}

gboolean
sf_users_name_ok (const char *name)
{
  gsize n = name != NULL ? strlen (name) : 0;
  if (n == 0 || n > SF_USERS_MAX_NAME || !g_utf8_validate (name, (gssize) n, NULL))
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if ((guchar) *p < 0x21 || *p == 0x7f || strchr ("@:\"\\", *p) != NULL)
      return FALSE;
  return TRUE;
}

gboolean
sf_users_text_ok (const char *s)
{
  for (const char *p = s; p != NULL && *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      return FALSE;
  return s == NULL || g_utf8_validate (s, -1, NULL);
}

gboolean
sf_users_add_ok (const char *user, const char *realm, const char *password, GError **error)
{
  if (!sf_users_name_ok (user)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "not a user name (1 to %d bytes, no space, control character, '@', ':', '\"' or '\\')",
                 SF_USERS_MAX_NAME);
    return FALSE;
  }
  if (realm == NULL || *realm == '\0' || strlen (realm) > SF_USERS_MAX_REALM || !sf_users_text_ok (realm)) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "not a realm (1 to %d bytes, no control character)",
                 SF_USERS_MAX_REALM);
    return FALSE;
  }
  if (password == NULL || *password == '\0' || strlen (password) > SF_USERS_MAX_PASSWORD) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "a password is 1 to %d bytes",
                 SF_USERS_MAX_PASSWORD);
    return FALSE;
  }
  return TRUE;
}

/* ---- reading rows ---- */

#define SHOWN_BAD 3 /* bad rows named in a warning */

void
sf_users_reader_init (SfUsersReader *r, const char *where, const char *realm)
{
  memset (r, 0, sizeof *r);
  r->where = where;
  r->realm = realm;
  r->table = sf_users_table_new ();
  r->bad_names = g_string_new (NULL);
  r->realm_names = g_string_new (NULL);
}

void
sf_users_reader_add (SfUsersReader *r, char *name, SfUser *u, gboolean ok)
{
  ok = ok && sf_users_name_ok (name) && u->realm != NULL && strlen (u->realm) <= SF_USERS_MAX_REALM &&
       sf_users_text_ok (u->realm) && (u->ha1_md5 == NULL || sf_users_hex_ok (u->ha1_md5, 32)) &&
       (u->ha1_sha256 == NULL || sf_users_hex_ok (u->ha1_sha256, 64)) &&
       (u->password == NULL || (*u->password != '\0' && strlen (u->password) <= SF_USERS_MAX_PASSWORD)) &&
       (u->password != NULL || u->ha1_md5 != NULL || u->ha1_sha256 != NULL);
  if (!ok) {
    if (r->bad++ < SHOWN_BAD) {
      /* a name that is itself the problem is shown escaped and cut */
      g_autofree char *cut = g_strndup (name != NULL ? name : "", 64);
      g_autofree char *esc = g_strescape (cut, NULL);
      g_string_append_printf (r->bad_names, "%s'%s'", r->bad_names->len > 0 ? ", " : "", esc);
    }
    sf_user_free (u);
    g_free (name);
    return;
  }
  if (u->password == NULL && strcmp (u->realm, r->realm) != 0 && r->other_realm++ < SHOWN_BAD)
    g_string_append_printf (r->realm_names, "%s'%s' (%s)", r->realm_names->len > 0 ? ", " : "", name, u->realm);
  g_hash_table_insert (r->table, name, u);
}

void
sf_users_reader_clear (SfUsersReader *r)
{
  g_clear_pointer (&r->table, g_hash_table_unref);
  if (r->bad_names != NULL)
    g_string_free (r->bad_names, TRUE);
  if (r->realm_names != NULL)
    g_string_free (r->realm_names, TRUE);
  r->bad_names = r->realm_names = NULL;
}

GHashTable *
sf_users_reader_finish (SfUsersReader *r)
{
  if (r->bad > 0)
    g_warning ("registrar.users: %s: %u bad rows skipped (user name, realm, HA1 of 32 or 64 hex digits, "
               "lengths): %s%s", r->where, r->bad, r->bad_names->str, r->bad > SHOWN_BAD ? "..." : "");
  if (r->other_realm > 0)
    g_warning ("registrar.users: %s: %u users stored for another realm than registrar.realm '%s' cannot "
               "authenticate: %s%s", r->where, r->other_realm, r->realm, r->realm_names->str,
               r->other_realm > SHOWN_BAD ? "..." : "");
  GHashTable *t = g_steal_pointer (&r->table);
  sf_users_reader_clear (r);
  return t;
}

char *
sf_user_ha1 (const SfUser *user, const char *name, const char *realm, SfDigestAlg alg, const char **why)
{
  if (user->password != NULL)
    return sf_digest_ha1 (alg, name, realm, user->password);
  if (user->realm != NULL && strcmp (user->realm, realm) != 0) {
    *why = "stored for another realm";
    return NULL;
  }
  gboolean md5 = alg == SF_DIGEST_MD5 || alg == SF_DIGEST_MD5_SESS;
  const char *ha1 = md5 ? user->ha1_md5 : user->ha1_sha256;
  if (ha1 == NULL) {
    *why = md5 ? "only SHA-256 for this user" : "only MD5 for this user";
    return NULL;
  }
  return g_strdup (ha1); /* -sess: sf_digest_response makes H(HA1:nonce:cnonce) from it */
}

/* ---- the file ---- */

typedef struct {
  SfUsersSource base;
  gboolean seen;          /* read once */
  gint64 mtime;           /* what it was then */
  goffset size;
  guint64 ino;
} FileSource;

static gboolean
file_poll (SfUsersSource *base, GHashTable **out, GError **error)
{
  FileSource *s = (FileSource *) base;
  *out = NULL;
  GStatBuf st;
  if (g_stat (base->where, &st) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "registrar.users: %s: %s", base->where,
                 g_strerror (errno));
    return FALSE;
  }
  gint64 mtime = (gint64) st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
  if (s->seen && mtime == s->mtime && st.st_size == s->size && (guint64) st.st_ino == s->ino)
    return TRUE;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (base->where, &text, &len, error)) {
    g_prefix_error (error, "registrar.users: ");
    return FALSE;
  }
  GHashTable *t = sf_registrar_parse_users (text, base->where, base->realm, error);
  if (t == NULL)
    return FALSE;
  if (g_hash_table_size (t) > base->max_users) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "%s: %u users, more than registrar.max_users (%u)",
                 base->where, g_hash_table_size (t), base->max_users);
    g_hash_table_unref (t);
    return FALSE;
  }
  s->seen = TRUE;
  s->mtime = mtime;
  s->size = st.st_size;
  s->ino = (guint64) st.st_ino;
  *out = t;
  return TRUE;
}

static void
source_free (SfUsersSource *s)
{
  g_free (s->where);
  g_free (s->realm);
  g_free (s);
}

static const SfUsersSourceClass file_class = { "file", file_poll, source_free };

SfUsersSource *
sf_users_file_source_new (const char *path, const char *realm, guint max_users)
{
  FileSource *s = g_new0 (FileSource, 1);
  s->base.klass = &file_class;
  s->base.where = g_strdup (path);
  s->base.realm = g_strdup (realm);
  s->base.max_users = max_users;
  return &s->base;
}

/* ---- polling ---- */

struct _SfUsers {
  SfUsersSource *source;  /* owned */
  GHashTable *table;      /* owned */
  gint64 polled_us;       /* last poll (monotonic) */
  gboolean failing;       /* the last poll failed (logged once until it reads again) */
};

SfUsers *
sf_users_new (SfUsersSource *source, GError **error)
{
  GHashTable *t = NULL;
  if (!source->klass->poll (source, &t, error)) {
    source->klass->free (source);
    return NULL;
  }
  SfUsers *u = g_new0 (SfUsers, 1);
  u->source = source;
  u->table = t != NULL ? t : sf_users_table_new ();
  u->polled_us = g_get_monotonic_time ();
  if (g_hash_table_size (u->table) == 0) /* every request would get 403: say why at start */
    g_warning ("registrar.users: %s: no users yet%s", source->where,
               strcmp (source->klass->name, "file") != 0 ? " ('sipflow user add' adds some)" : "");
  return u;
}

void
sf_users_free (SfUsers *u)
{
  if (u == NULL)
    return;
  u->source->klass->free (u->source);
  g_clear_pointer (&u->table, g_hash_table_unref);
  g_free (u);
}

const SfUser *
sf_users_lookup (SfUsers *u, const char *name, gint64 now_us)
{
  if (now_us - u->polled_us >= SF_USERS_POLL_US || now_us < u->polled_us) {
    u->polled_us = now_us;
    g_autoptr (GError) error = NULL;
    GHashTable *t = NULL;
    if (!u->source->klass->poll (u->source, &t, &error)) {
      if (!u->failing)
        g_warning ("%s; the %u users read before are kept", error->message, g_hash_table_size (u->table));
      u->failing = TRUE;
    } else if (t != NULL) {
      if (u->failing)
        g_message ("registrar.users: %s: read again", u->source->where);
      u->failing = FALSE;
      g_debug ("registrar.users: %s: %u users (was %u)", u->source->where, g_hash_table_size (t),
               g_hash_table_size (u->table));
      g_hash_table_unref (u->table);
      u->table = t;
    } else {
      u->failing = FALSE;
    }
  }
  return name != NULL ? g_hash_table_lookup (u->table, name) : NULL;
}

guint
sf_users_count (SfUsers *u)
{
  return g_hash_table_size (u->table);
}

char *
sf_users_config_path (SfConfig *cfg, gboolean *sqlite)
{
  const char *v = sf_config_get_string (cfg, "registrar", "users");
  *sqlite = FALSE;
  if (v == NULL)
    return NULL;
  if (g_str_has_prefix (v, "file:"))
    return g_strdup (v + 5);
  if (sf_users_is_redis (v))
    return g_strdup (v);
  if (!g_str_has_prefix (v, "sqlite:"))
    return g_strdup (v);
  *sqlite = TRUE;
  if (v[7] != '\0')
    return g_strdup (v + 7);
  g_autofree char *dir = sf_state_dir (cfg);
  return g_build_filename (dir, "users.sqlite", NULL);
}

gboolean
sf_users_is_redis (const char *path)
{
  return path != NULL && g_str_has_prefix (path, "redis://");
}
