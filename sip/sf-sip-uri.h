/* sf-sip-uri.h: SIP, SIPS and tel URIs (RFC 3261 19.1, 25.1; RFC 3966) and
 * URI comparison (RFC 3261 19.1.4).  Other schemes (RFC 4475 unkscm, novelsc,
 * unksm2) parse as an opaque absolute URI, so a message carrying one parses and
 * the application answers (416) as it sees fit.  A parsed URI is a set of
 * slices into the bytes it was parsed from. */
#pragma once
#include <glib.h>
#include "sf-sip-str.h"

G_BEGIN_DECLS

#define SF_SIP_ERROR (sf_sip_error_quark ())
GQuark sf_sip_error_quark (void);
typedef enum {
  SF_SIP_ERROR_SYNTAX,     /* malformed: 400 */
  SF_SIP_ERROR_LIMIT,      /* past a hard limit: 400 (or 413/414/513 where they fit) */
  SF_SIP_ERROR_FRAMING,    /* Content-Length and the bytes disagree */
  SF_SIP_ERROR_MISSING,    /* a mandatory header is missing: 400 */
  SF_SIP_ERROR_VERSION,    /* not SIP/2.0: 505 */
  SF_SIP_ERROR_INCOMPLETE, /* a stream needs more bytes */
  SF_SIP_ERROR_HOPS,       /* Max-Forwards reached 0: 483 (16.3) */
} SfSipError;

/* Longest URI accepted (RFC 3261 sets none; 414 Request-URI Too Long exists). */
#define SF_SIP_MAX_URI_LEN 4096
/* Most parameters (URI parameters, URI headers, or header parameters) in one value. */
#define SF_SIP_MAX_PARAMS 64

typedef enum { SF_URI_SIP, SF_URI_SIPS, SF_URI_TEL, SF_URI_OTHER } SfSipUriKind;
typedef enum { SF_HOST_NONE, SF_HOST_NAME, SF_HOST_IPV4, SF_HOST_IPV6 } SfSipHostKind;

typedef struct {
  SfSipStr name;
  SfSipStr value;       /* unset (p == NULL) when the parameter has no '=' */
} SfSipParam;

typedef struct {
  SfSipUriKind kind;
  SfSipStr raw;         /* the whole URI as written */
  SfSipStr scheme;
  SfSipStr user;        /* sip/sips: escaped as written; tel: the number */
  SfSipStr password;
  SfSipStr host;        /* as written; an IPv6 reference keeps its brackets */
  SfSipHostKind host_kind;
  guint port;           /* 0: absent */
  SfSipParam *params;   /* owned array */
  guint n_params;
  SfSipParam *headers;  /* owned array (sip/sips '?' headers) */
  guint n_headers;
  SfSipStr opaque;      /* other schemes: everything after "scheme:" */
} SfSipUri;

/* Parses @s (which must outlive the result).  @base: start of the message, for offsets. */
SfSipUri *sf_sip_uri_parse (SfSipStr s, const char *base, GError **error);
/* The same, allocated in @arena (nullable: g_malloc'd then) and freed with it:
 * never sf_sip_uri_free() such a URI. */
typedef struct _SfSipArena SfSipArena;
SfSipUri *sf_sip_uri_parse_in (SfSipStr s, const char *base, SfSipArena *arena, GError **error);
void sf_sip_uri_free (SfSipUri *uri);
/* The first parameter named @name (case-insensitive), or NULL. */
const SfSipParam *sf_sip_uri_param (const SfSipUri *uri, const char *name);
/* RFC 3261 19.1.4 (sip/sips) and RFC 3966 section 4 (tel); other schemes: equal bytes. */
gboolean sf_sip_uri_equal (const SfSipUri *a, const SfSipUri *b);
/* Decodes %HH escapes (transfer full; NULs stay inside, see @len). FALSE-free: a bad escape stays as is. */
char *sf_sip_unescape (SfSipStr s, gsize *len);
/* Whether @host (a bare IPv6 address without brackets) is an IPv6 address, tolerating
 * RFC 3261's three-colon form (RFC 5118 4.10). */
gboolean sf_sip_is_ipv6 (SfSipStr host);
gboolean sf_sip_is_ipv4 (SfSipStr host);
/* @host as text an address parser takes: an IPv6 reference's brackets
 * removed ("[::1]" -> "::1"); transfer full. */
char *sf_sip_host_dup (SfSipStr host);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfSipUri, sf_sip_uri_free)

G_END_DECLS
