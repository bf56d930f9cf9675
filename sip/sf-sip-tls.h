/* sf-sip-tls.h: what SIP over TLS (RFC 3261 26) needs from configuration:
 * this node's certificate and key, the authorities it trusts, whether it asks
 * clients for certificates, the oldest TLS version it accepts.  All the
 * cryptography is GIO's (glib-networking); this only loads files and says
 * clearly which one is wrong. */
#pragma once
#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  SF_SIP_TLS_VERIFY_OFF,       /* no client certificate asked for */
  SF_SIP_TLS_VERIFY_OPTIONAL,  /* asked for; one presented must be trusted */
  SF_SIP_TLS_VERIFY_REQUIRE,   /* a trusted one or the handshake fails */
} SfSipTlsVerify;

/* Immutable once loaded, shared by reference: a reload makes a new one, and
 * a connection keeps the one it was made with. */
typedef struct {
  grefcount ref;
  GTlsCertificate *cert;       /* owned, nullable: the server's, also offered as a client's */
  GTlsDatabase *db;            /* owned, nullable: the CAs of ca_file; NULL: the system's */
  SfSipTlsVerify verify_client;
  gboolean verify_server;      /* FALSE only for tests against self-signed peers (tls.verify_server=off) */
  guint min_version;           /* 12 (TLS 1.2) or 13 */
} SfSipTlsConfig;

/* Loads @cert_file (PEM, certificate chain) and @key_file (PEM; NULL: in
 * @cert_file), @ca_file (PEM, one certificate or more; NULL: the system's
 * trust store).  @verify: "off", "optional", "require"; @min_version "1.2" or
 * "1.3".  Paths are used as given (the caller makes them absolute).  Errors
 * name the key ([tls] section), the file and what is wrong. (transfer full) */
SfSipTlsConfig *sf_sip_tls_config_load (const char *cert_file, const char *key_file, const char *ca_file,
                                        const char *verify, gboolean verify_server, const char *min_version,
                                        GError **error);
SfSipTlsConfig *sf_sip_tls_config_ref (SfSipTlsConfig *c);
void sf_sip_tls_config_unref (SfSipTlsConfig *c);

/* A certificate's problems (GTlsCertificateFlags) in words, "; "-separated
 * (transfer full). */
char *sf_sip_tls_flags_to_string (GTlsCertificateFlags flags);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfSipTlsConfig, sf_sip_tls_config_unref)

G_END_DECLS
