/* sf-srtp.c: the a=crypto attribute (RFC 4568) and SRTP master keys (see
 * sf-srtp.h).  Everything read here comes from the network: every field is
 * checked for its characters and its length before it is used, and nothing
 * is decoded that was not checked first (g_base64_decode skips characters it
 * does not know, so it never sees an unchecked key). */
#include "config.h"
#include "media/sf-srtp.h"
#include "sip/sf-sip-build.h"
#include <errno.h>
#include <stdarg.h>
#include <string.h>

static const char *const suite_names[] = { NULL, "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32" };

const char *
sf_srtp_suite_name (SfSrtpSuite s)
{
  return (guint) s < G_N_ELEMENTS (suite_names) ? suite_names[s] : NULL;
}

SfSrtpSuite
sf_srtp_suite_from_name (const char *name)
{
  for (guint i = 1; name != NULL && i < G_N_ELEMENTS (suite_names); i++)
    if (strcmp (name, suite_names[i]) == 0)
      return (SfSrtpSuite) i;
  return SF_SRTP_NONE;
}

static SfSrtpCryptoResult G_GNUC_PRINTF (3, 4)
refuse (SfSrtpCryptoResult r, char **why, const char *format, ...)
{
  if (why != NULL) {
    va_list ap;
    va_start (ap, format);
    *why = g_strdup_vprintf (format, ap);
    va_end (ap);
  }
  return r;
}

static gboolean
all_digits (const char *s, gsize n)
{
  if (n == 0)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
  return TRUE;
}

static gboolean
is_b64 (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/';
}

/* RFC 4568 6.1: lifetime = ["2^"] 1*(DIGIT); TRUE with @ok when it is at least
 * 2^31 packets, FALSE when it is not a lifetime. */
static gboolean
read_lifetime (const char *s, gsize n, gboolean *ok)
{
  if (n > 2 && s[0] == '2' && s[1] == '^') {
    if (!all_digits (s + 2, n - 2) || n - 2 > 2)
      return FALSE;
    guint e = (guint) g_ascii_strtoull (s + 2, NULL, 10);
    if (e == 0 || e > 64)
      return FALSE;
    *ok = e >= 31;
    return TRUE;
  }
  if (!all_digits (s, n) || n > 20)
    return FALSE;
  g_autofree char *copy = g_strndup (s, n);
  errno = 0;
  guint64 v = g_ascii_strtoull (copy, NULL, 10);
  if (errno != 0 || v == 0)
    return FALSE;
  *ok = v >= (G_GUINT64_CONSTANT (1) << 31);
  return TRUE;
}

/* RFC 4568 6.1: mki = mki-value ":" mki-length, 1*DIGIT each. */
static gboolean
is_mki (const char *s, gsize n)
{
  const char *colon = memchr (s, ':', n);
  return colon != NULL && all_digits (s, colon - s) && colon - s <= 20 && all_digits (colon + 1, n - (colon + 1 - s))
         && n - (colon + 1 - s) <= 3;
}

/* "inline:" key-info: the key, then at most a lifetime and an MKI (in that order). */
static SfSrtpCryptoResult
read_key_info (const char *info, guint8 key[SF_SRTP_KEY_LEN], char **why)
{
  g_auto (GStrv) parts = g_strsplit (info, "|", 4);
  guint n = g_strv_length (parts);
  if (n == 0)
    return refuse (SF_SRTP_CRYPTO_MALFORMED, why, "an empty inline key");
  if (n > 3)
    return refuse (SF_SRTP_CRYPTO_MALFORMED, why, "too many '|' in the inline key");
  gsize klen = strlen (parts[0]);
  for (gsize i = 0; i < klen; i++)
    if (!is_b64 (parts[0][i]) && !(parts[0][i] == '=' && i >= klen - 2))
      return refuse (SF_SRTP_CRYPTO_MALFORMED, why, "the inline key is not base64");
  if (klen != SF_SRTP_KEY_B64_LEN)
    return refuse (SF_SRTP_CRYPTO_MALFORMED, why, "an inline key of %" G_GSIZE_FORMAT " characters (want %d: 30 bytes)",
                   klen, SF_SRTP_KEY_B64_LEN);
  if (strchr (parts[0], '=') != NULL) /* 40 characters with padding hold fewer than 30 bytes */
    return refuse (SF_SRTP_CRYPTO_MALFORMED, why, "the inline key holds fewer than 30 bytes");
  gboolean have_mki = FALSE, short_life = FALSE;
  for (guint i = 1; i < n; i++) {
    gsize len = strlen (parts[i]);
    gboolean ok = TRUE;
    if (i == 1 && read_lifetime (parts[i], len, &ok))
      short_life = !ok;
    else if (is_mki (parts[i], len))
      have_mki = TRUE;
    else
      return refuse (SF_SRTP_CRYPTO_MALFORMED, why, "a bad lifetime or MKI after the inline key");
  }
  if (have_mki)
    return refuse (SF_SRTP_CRYPTO_UNSUPPORTED, why, "an MKI (not supported)");
  if (short_life)
    return refuse (SF_SRTP_CRYPTO_UNSUPPORTED, why, "a key lifetime below 2^31 packets (not supported)");
  gsize out_len = 0;
  g_autofree guchar *raw = g_base64_decode (parts[0], &out_len);
  if (raw == NULL || out_len != SF_SRTP_KEY_LEN) {
    if (raw != NULL)
      memset (raw, 0, out_len);
    return refuse (SF_SRTP_CRYPTO_MALFORMED, why, "the inline key is not 30 bytes");
  }
  memcpy (key, raw, SF_SRTP_KEY_LEN);
  memset (raw, 0, out_len);
  return SF_SRTP_CRYPTO_OK;
}

SfSrtpCryptoResult
sf_srtp_crypto_parse (const char *value, SfSrtpCrypto *out, char **why)
{
  g_return_val_if_fail (out != NULL, SF_SRTP_CRYPTO_MALFORMED);
  if (why != NULL)
    *why = NULL;
  memset (out, 0, sizeof *out);
  if (value == NULL || strlen (value) > SF_SRTP_MAX_CRYPTO_LEN)
    return refuse (SF_SRTP_CRYPTO_MALFORMED, why, "a=crypto missing or longer than %d bytes", SF_SRTP_MAX_CRYPTO_LEN);
  for (const char *p = value; *p != '\0'; p++)
    if ((guchar) *p < 0x20 && *p != '\t')
      return refuse (SF_SRTP_CRYPTO_MALFORMED, why, "a control character in a=crypto");
  g_auto (GStrv) t = g_strsplit_set (value, " \t", -1);
  GPtrArray *fields = g_ptr_array_new ();
  for (guint i = 0; t[i] != NULL; i++)
    if (*t[i] != '\0')
      g_ptr_array_add (fields, t[i]);
  guint n = fields->len;
  char **f = (char **) g_ptr_array_free (fields, FALSE);
  SfSrtpCryptoResult r = SF_SRTP_CRYPTO_OK;
  guint8 key[SF_SRTP_KEY_LEN];
  if (n < 3) {
    r = refuse (SF_SRTP_CRYPTO_MALFORMED, why, "a=crypto needs a tag, a suite and a key");
    goto out;
  }
  gsize tlen = strlen (f[0]);
  if (!all_digits (f[0], tlen) || tlen > 9) {
    r = refuse (SF_SRTP_CRYPTO_MALFORMED, why, "a=crypto tag is not 1 to 9 digits");
    goto out;
  }
  for (const char *p = f[1]; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '_') {
      r = refuse (SF_SRTP_CRYPTO_MALFORMED, why, "a=crypto suite is not a name");
      goto out;
    }
  SfSrtpSuite suite = sf_srtp_suite_from_name (f[1]);
  if (suite == SF_SRTP_NONE) {
    r = refuse (SF_SRTP_CRYPTO_UNSUPPORTED, why, "suite %.32s is not one we carry", f[1]);
    goto out;
  }
  /* RFC 4568 9.1: key-params = key-param *(";" key-param); several keys come with MKIs. */
  if (strchr (f[2], ';') != NULL) {
    r = refuse (SF_SRTP_CRYPTO_UNSUPPORTED, why, "several keys (not supported)");
    goto out;
  }
  if (!g_str_has_prefix (f[2], "inline:")) {
    const char *colon = strchr (f[2], ':');
    r = colon == NULL || colon == f[2] ? refuse (SF_SRTP_CRYPTO_MALFORMED, why, "a=crypto key is not METHOD:INFO")
                                       : refuse (SF_SRTP_CRYPTO_UNSUPPORTED, why, "a key method other than inline");
    goto out;
  }
  r = read_key_info (f[2] + 7, key, why);
  if (r != SF_SRTP_CRYPTO_OK)
    goto out;
  /* RFC 4568 6.3 and 6.4: a session parameter we do not apply makes the line unusable. */
  for (guint i = 3; i < n; i++) {
    const char *sp = f[i];
    if (sp[0] == '-')
      continue;
    if (g_str_has_prefix (sp, "WSH=") && all_digits (sp + 4, strlen (sp + 4)) && strlen (sp + 4) <= 5
        && g_ascii_strtoull (sp + 4, NULL, 10) >= 64)
      continue;
    r = refuse (SF_SRTP_CRYPTO_UNSUPPORTED, why, "session parameter %.32s (not supported)", sp);
    goto out;
  }
  out->tag = (guint) g_ascii_strtoull (f[0], NULL, 10);
  out->suite = suite;
  memcpy (out->key, key, SF_SRTP_KEY_LEN);
out:
  memset (key, 0, sizeof key);
  g_free (f); /* the strings are t's */
  return r;
}

char *
sf_srtp_crypto_format (guint tag, SfSrtpSuite suite, const guint8 key[SF_SRTP_KEY_LEN])
{
  g_return_val_if_fail (sf_srtp_suite_name (suite) != NULL && tag <= SF_SRTP_MAX_TAG, NULL);
  g_autofree char *b64 = g_base64_encode (key, SF_SRTP_KEY_LEN);
  char *s = g_strdup_printf ("%u %s inline:%s", tag, sf_srtp_suite_name (suite), b64);
  memset (b64, 0, strlen (b64));
  return s;
}

void
sf_srtp_random_key (guint8 key[SF_SRTP_KEY_LEN])
{
  if (!sf_sip_random_bytes_strong (key, SF_SRTP_KEY_LEN))
    g_error ("SRTP: no cryptographic random source (getrandom, /dev/urandom): %s", g_strerror (errno));
}
