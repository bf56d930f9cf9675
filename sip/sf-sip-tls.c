/* sf-sip-tls.c: TLS configuration (see sf-sip-tls.h). */
#include "config.h"
#include "sf-sip-tls.h"
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

SfSipTlsConfig *
sf_sip_tls_config_ref (SfSipTlsConfig *c)
{
  g_ref_count_inc (&c->ref);
  return c;
}

void
sf_sip_tls_config_unref (SfSipTlsConfig *c)
{
  if (c == NULL || !g_ref_count_dec (&c->ref))
    return;
  g_clear_object (&c->cert);
  g_clear_object (&c->db);
  g_free (c);
}

/* GLib's messages for a missing file do not say which key it was: the caller
 * prefixes the key; this says the file. */
static gboolean
readable (const char *what, const char *path, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR) && g_access (path, R_OK) == 0)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s '%s': %s", what, path,
               g_file_test (path, G_FILE_TEST_EXISTS) ? "not a readable file" : "no such file");
  return FALSE;
}

SfSipTlsConfig *
sf_sip_tls_config_load (const char *cert_file, const char *key_file, const char *ca_file, const char *verify,
                        gboolean verify_server, const char *min_version, GError **error)
{
  g_autoptr (SfSipTlsConfig) c = g_new0 (SfSipTlsConfig, 1);
  g_ref_count_init (&c->ref);
  c->verify_server = verify_server;
  if (verify == NULL || strcmp (verify, "off") == 0)
    c->verify_client = SF_SIP_TLS_VERIFY_OFF;
  else if (strcmp (verify, "optional") == 0)
    c->verify_client = SF_SIP_TLS_VERIFY_OPTIONAL;
  else if (strcmp (verify, "require") == 0)
    c->verify_client = SF_SIP_TLS_VERIFY_REQUIRE;
  else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "tls.verify_client: expected off, optional or require, got '%s'",
                 verify);
    return NULL;
  }
  if (min_version == NULL || strcmp (min_version, "1.2") == 0)
    c->min_version = 12;
  else if (strcmp (min_version, "1.3") == 0)
    c->min_version = 13;
  else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "tls.min_version: expected 1.2 or 1.3, got '%s'", min_version);
    return NULL;
  }
  if (key_file != NULL && cert_file == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "tls.key '%s' without tls.certificate", key_file);
    return NULL;
  }
  if (cert_file != NULL) {
    if (!readable ("tls.certificate", cert_file, error) || (key_file != NULL && !readable ("tls.key", key_file, error)))
      return NULL;
    /* Whoever can read the key can be this node: say so (not refused, as
     * the file's owner may have reasons, but loud). */
    const char *kf = key_file != NULL ? key_file : cert_file;
    GStatBuf st;
    if (g_stat (kf, &st) == 0 && (st.st_mode & S_IROTH) != 0)
      g_warning ("%s '%s' can be read by every user of this host (mode %03o): the private key should not (chmod 600)",
                 key_file != NULL ? "tls.key" : "tls.certificate (with the key)", kf, (guint) (st.st_mode & 0777));
    g_autoptr (GError) e = NULL;
    c->cert = g_tls_certificate_new_from_files (cert_file, key_file != NULL ? key_file : cert_file, &e);
    if (c->cert == NULL) {
      /* GLib says "No PEM-encoded private key found" and the like: which file? */
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "tls.certificate '%s'%s%s: %s", cert_file,
                   key_file != NULL ? " with tls.key " : "", key_file != NULL ? key_file : "", e->message);
      return NULL;
    }
  }
  if (ca_file != NULL) {
    if (!readable ("tls.ca_file", ca_file, error))
      return NULL;
    g_autoptr (GError) e = NULL;
    /* GTlsFileDatabase takes a file with no certificate without a word:
     * everything would then fail to verify, far from the cause. */
    GList *list = g_tls_certificate_list_new_from_file (ca_file, &e);
    guint n = g_list_length (list);
    g_list_free_full (list, g_object_unref);
    if (e != NULL || n == 0) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "tls.ca_file '%s': %s", ca_file,
                   e != NULL ? e->message : "no PEM certificate in it");
      return NULL;
    }
    c->db = g_tls_file_database_new (ca_file, &e);
    if (c->db == NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "tls.ca_file '%s': %s", ca_file, e->message);
      return NULL;
    }
  }
  return g_steal_pointer (&c);
}

char *
sf_sip_tls_flags_to_string (GTlsCertificateFlags flags)
{
  static const struct {
    GTlsCertificateFlags flag;
    const char *text;
  } names[] = {
    { G_TLS_CERTIFICATE_UNKNOWN_CA, "signed by an unknown authority" },
    { G_TLS_CERTIFICATE_BAD_IDENTITY, "its names do not match the host of the URI" },
    { G_TLS_CERTIFICATE_NOT_ACTIVATED, "not yet valid" },
    { G_TLS_CERTIFICATE_EXPIRED, "expired" },
    { G_TLS_CERTIFICATE_REVOKED, "revoked" },
    { G_TLS_CERTIFICATE_INSECURE, "insecure algorithm" },
    { G_TLS_CERTIFICATE_GENERIC_ERROR, "invalid" },
  };
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (flags & names[i].flag)
      g_string_append_printf (s, "%s%s", s->len > 0 ? "; " : "", names[i].text);
  if (s->len == 0)
    g_string_append (s, "rejected");
  return g_string_free (s, FALSE);
}
