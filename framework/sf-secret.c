/* sf-secret.c: the element's secret (see sf-secret.h). */
#include "config.h"
#include "sf-secret.h"
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

char *
sf_state_dir (SfConfig *cfg)
{
  const char *dir = cfg != NULL ? sf_config_get_string (cfg, "core", "state_dir") : NULL;
  if (dir != NULL && *dir != '\0')
    return g_strdup (dir);
  const char *systemd = g_getenv ("STATE_DIRECTORY"); /* may list several, ':'-separated */
  if (systemd != NULL && *systemd != '\0')
    return g_strndup (systemd, strcspn (systemd, ":"));
  return g_build_filename (g_get_user_state_dir (), "sipflow", NULL);
}

static gboolean
parse_hex (const char *text, guint8 out[SF_SECRET_LEN])
{
  g_autofree char *t = g_strstrip (g_strdup (text));
  if (strlen (t) != 2 * SF_SECRET_LEN)
    return FALSE;
  for (gsize i = 0; i < SF_SECRET_LEN; i++) {
    int hi = g_ascii_xdigit_value (t[2 * i]), lo = g_ascii_xdigit_value (t[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return FALSE;
    out[i] = (guint8) (hi << 4 | lo);
  }
  return TRUE;
}

/* Writes a new secret to @path unless one is there: a temporary file linked
 * into place, so that a reader never sees half of it and of two writers the
 * first wins. */
static gboolean
create (const char *path, GError **error)
{
  guint8 raw[SF_SECRET_LEN];
  if (getrandom (raw, sizeof raw, 0) != (ssize_t) sizeof raw) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: no random bytes: %s", path, g_strerror (errno));
    return FALSE;
  }
  char hex[2 * SF_SECRET_LEN + 2];
  for (gsize i = 0; i < SF_SECRET_LEN; i++)
    g_snprintf (hex + 2 * i, 3, "%02x", raw[i]);
  hex[2 * SF_SECRET_LEN] = '\n';
  hex[2 * SF_SECRET_LEN + 1] = '\0';
  memset (raw, 0, sizeof raw);
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: %s", dir, g_strerror (errno));
    return FALSE;
  }
  /* a fresh name made with O_EXCL (g_mkstemp_full): no file or symlink that
   * someone else planted is written through */
  g_autofree char *tmp = g_strdup_printf ("%s.XXXXXX", path);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, 0600);
  gboolean ok = fd >= 0 && write (fd, hex, strlen (hex)) == (ssize_t) strlen (hex);
  int saved = errno;
  if (fd >= 0 && close (fd) != 0)
    ok = FALSE;
  memset (hex, 0, sizeof hex);
  if (ok && link (tmp, path) != 0 && errno != EEXIST)
    ok = FALSE, saved = errno;
  g_unlink (tmp);
  if (!ok) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: cannot create: %s", path, g_strerror (saved));
    return FALSE;
  }
  return TRUE;
}

/* Is the secret ours alone: a regular file (not a symlink) owned by us that
 * no one else may read or write, in a directory that no one else may write
 * (where the file could be replaced)? */
static gboolean
private_file (const char *path, GError **error)
{
  GStatBuf st;
  g_autofree char *dir = g_path_get_dirname (path);
  GStatBuf dst;
  const char *why = NULL;
  if (g_lstat (path, &st) != 0)
    why = g_strerror (errno);
  else if (!S_ISREG (st.st_mode))
    why = "not a regular file";
  else if (st.st_uid != geteuid ())
    why = "owned by another user";
  else if ((st.st_mode & 077) != 0)
    why = "readable or writable by others (chmod 600)";
  else if (g_stat (dir, &dst) != 0 || ((dst.st_mode & 022) != 0 && (dst.st_mode & S_ISVTX) == 0))
    why = "in a directory others may write to";
  if (why == NULL)
    return TRUE;
  g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "core.secret_file: %s: %s", path, why);
  return FALSE;
}

/* One secret per file per process: read once (the fuzzers and tests set up
 * many endpoints). */
G_LOCK_DEFINE_STATIC (cache);
static char *cache_path;
static guint8 cache_key[SF_SECRET_LEN];

static gboolean
load (SfConfig *cfg, guint8 out[SF_SECRET_LEN], GError **error)
{
  const char *file = cfg != NULL ? sf_config_get_string (cfg, "core", "secret_file") : NULL;
  g_autofree char *dir = sf_state_dir (cfg);
  g_autofree char *path = file != NULL && *file != '\0' ? g_strdup (file) : g_build_filename (dir, "secret", NULL);
  G_LOCK (cache);
  gboolean hit = cache_path != NULL && strcmp (cache_path, path) == 0;
  if (hit)
    memcpy (out, cache_key, SF_SECRET_LEN);
  G_UNLOCK (cache);
  if (hit)
    return TRUE;
  if (!g_file_test (path, G_FILE_TEST_EXISTS) && !create (path, error))
    return FALSE;
  if (!private_file (path, error))
    return FALSE;
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, error)) {
    g_prefix_error (error, "core.secret_file: ");
    return FALSE;
  }
  gboolean ok = parse_hex (text, out);
  memset (text, 0, strlen (text));
  if (!ok) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "core.secret_file: %s: expected 64 hex digits", path);
    return FALSE;
  }
  G_LOCK (cache);
  g_free (cache_path);
  cache_path = g_strdup (path);
  memcpy (cache_key, out, SF_SECRET_LEN);
  G_UNLOCK (cache);
  return TRUE;
}

gboolean
sf_secret_derive (SfConfig *cfg, const char *purpose, guint8 out[SF_SECRET_LEN], GError **error)
{
  guint8 secret[SF_SECRET_LEN];
  if (!load (cfg, secret, error))
    return FALSE;
  GHmac *h = g_hmac_new (G_CHECKSUM_SHA256, secret, sizeof secret);
  memset (secret, 0, sizeof secret);
  g_hmac_update (h, (const guchar *) purpose, -1);
  gsize len = SF_SECRET_LEN;
  g_hmac_get_digest (h, out, &len);
  g_hmac_unref (h);
  return TRUE;
}

/* SipHash-2-4 (Aumasson, Bernstein): see sf-secret.h. */
#define SIP_ROTL(x, b) (guint64) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND                                                                            \
  G_STMT_START                                                                               \
  {                                                                                          \
    v0 += v1; v1 = SIP_ROTL (v1, 13); v1 ^= v0; v0 = SIP_ROTL (v0, 32);                      \
    v2 += v3; v3 = SIP_ROTL (v3, 16); v3 ^= v2;                                              \
    v0 += v3; v3 = SIP_ROTL (v3, 21); v3 ^= v0;                                              \
    v2 += v1; v1 = SIP_ROTL (v1, 17); v1 ^= v2; v2 = SIP_ROTL (v2, 32);                      \
  }                                                                                          \
  G_STMT_END

guint64
sf_siphash24 (const guint64 k[2], const guint8 *in, gsize len)
{
  guint64 v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
  guint64 v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
  guint64 m, b = ((guint64) len) << 56;
  gsize i, whole = len - len % 8;
  for (i = 0; i < whole; i += 8) {
    m = 0;
    for (guint j = 0; j < 8; j++)
      m |= (guint64) in[i + j] << (8 * j);
    v3 ^= m;
    SIP_ROUND;
    SIP_ROUND;
    v0 ^= m;
  }
  for (guint j = 0; i + j < len; j++)
    b |= (guint64) in[i + j] << (8 * j);
  v3 ^= b;
  SIP_ROUND;
  SIP_ROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIP_ROUND;
  SIP_ROUND;
  SIP_ROUND;
  SIP_ROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

gboolean
sf_secret_derive_siphash (SfConfig *cfg, const char *purpose, guint64 keys[2][2], GError **error)
{
  guint8 raw[SF_SECRET_LEN];
  if (!sf_secret_derive (cfg, purpose, raw, error))
    return FALSE;
  sf_siphash_keys (raw, keys);
  memset (raw, 0, sizeof raw);
  return TRUE;
}

void
sf_siphash_keys (const guint8 raw[32], guint64 keys[2][2])
{
  for (int i = 0; i < 4; i++) {
    guint64 w = 0;
    for (int j = 0; j < 8; j++)
      w |= (guint64) raw[8 * i + j] << (8 * j);
    keys[i / 2][i % 2] = w;
  }
}

void
sf_hex16 (guint64 v, char *out)
{
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++)
    out[i] = hex[(v >> (60 - 4 * i)) & 15];
}

void
sf_hash_hex (const void *in, gsize len, char out[17])
{
  /* "sipflow-hash-key" as SipHash's key bytes: two little-endian words */
  static const guint64 key[2] = { 0x2d776f6c66706973ULL, 0x79656b2d68736168ULL };
  sf_hex16 (sf_siphash24 (key, in, len), out);
  out[16] = '\0';
}
