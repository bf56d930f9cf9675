/* sf-sip-digest.h: HTTP Digest authentication for SIP (RFC 3261 22, RFC 2617,
 * RFC 7616, RFC 8760).  MD5, MD5-sess, SHA-256 and SHA-256-sess with qop auth,
 * auth-int or none.  SHA-512-256 is not offered: GLib has no SHA-512/256, and a
 * challenge that asks only for it gets a clear "unsupported algorithm".
 *
 * The client computes responses and picks the first challenge whose algorithm
 * it supports (RFC 7616 3.7).  The server makes nonces of a timestamp, random
 * bytes and an HMAC over both with a server secret (RFC 7616 3.3), so any node
 * holding the secret can verify them, never issues the same nonce twice,
 * answers stale=true when one expired, and refuses a replayed nonce count.
 * Passwords are never logged. */
#pragma once
#include <glib.h>
#include "sf-sip-header.h"

G_BEGIN_DECLS

#define SF_DIGEST_ERROR (sf_digest_error_quark ())
GQuark sf_digest_error_quark (void);
typedef enum {
  SF_DIGEST_ERROR_UNSUPPORTED, /* no challenge with an algorithm or qop we can answer */
  SF_DIGEST_ERROR_INVALID,     /* a challenge or credentials that do not parse */
} SfDigestError;

typedef enum {
  SF_DIGEST_MD5,
  SF_DIGEST_MD5_SESS,
  SF_DIGEST_SHA256,
  SF_DIGEST_SHA256_SESS,
} SfDigestAlg;

/* "MD5", "MD5-sess", "SHA-256", "SHA-256-sess" (case-insensitive); FALSE otherwise. */
gboolean sf_digest_alg_parse (const char *name, SfDigestAlg *out);
const char *sf_digest_alg_name (SfDigestAlg alg);

/* H(A1) for a user (hex, transfer full): H(username:realm:password), before any -sess step. */
char *sf_digest_ha1 (SfDigestAlg alg, const char *username, const char *realm, const char *password);

typedef struct {
  SfDigestAlg alg;
  const char *ha1;       /* H(username:realm:password) in hex */
  const char *method;
  const char *uri;
  const char *nonce;
  const char *cnonce;    /* NULL without qop */
  const char *nc;        /* "00000001"; NULL without qop */
  const char *qop;       /* "auth", "auth-int" or NULL */
  const char *body;      /* auth-int: the message body */
  gsize body_len;
} SfDigestInput;

/* The request-digest (hex, transfer full). */
char *sf_digest_response (const SfDigestInput *in);

/* ---- client ---- */

typedef struct {
  SfDigestAlg alg;
  char *realm, *nonce, *opaque; /* owned; opaque nullable */
  gboolean qop_auth;            /* the challenge offers qop=auth */
  gboolean stale;
} SfDigestChallenge;

void sf_digest_challenge_free (SfDigestChallenge *c);
/* Picks the first Digest challenge among @challenges (SfSipValue of WWW- or
 * Proxy-Authenticate) whose algorithm is supported; NULL with
 * SF_DIGEST_ERROR_UNSUPPORTED naming what was asked for. */
SfDigestChallenge *sf_digest_challenge_pick (GPtrArray *challenges, GError **error);
/* The Authorization/Proxy-Authorization value answering @c (transfer full).
 * @cnonce: NULL for a random one.  @nc: the nonce count for this nonce. */
char *sf_digest_authorization (const SfDigestChallenge *c, const char *username, const char *password,
                               const char *method, const char *uri, const char *cnonce, guint32 nc);

/* ---- server ---- */

typedef enum {
  SF_DIGEST_OK,
  SF_DIGEST_STALE,     /* the nonce was ours but expired: challenge again with stale=true */
  SF_DIGEST_BAD,       /* wrong response, foreign or forged nonce, missing parameters */
  SF_DIGEST_REPLAY,    /* a nonce count already seen */
} SfDigestVerdict;

typedef struct _SfDigestServer SfDigestServer;

/* @secret: shared by every node that verifies the nonces (copied). */
SfDigestServer *sf_digest_server_new (const guint8 *secret, gsize len, guint nonce_ttl_s);
void sf_digest_server_free (SfDigestServer *s);
/* A fresh nonce (transfer full), made at @now_s (seconds, any epoch). */
char *sf_digest_server_nonce (SfDigestServer *s, gint64 now_s);
/* The WWW-/Proxy-Authenticate value for @realm and @alg (transfer full). */
char *sf_digest_server_challenge (SfDigestServer *s, const char *realm, SfDigestAlg alg, gboolean stale,
                                  gint64 now_s);
/* Checks an Authorization value against the user's H(A1) (hex, for the
 * credentials' algorithm) for a request with @method, @ruri and @body.  The
 * credentials must use qop (our challenges always ask for it: without it there
 * is no nonce count to refuse replays with), an algorithm in @offered (a mask of
 * 1 << SfDigestAlg: what was offered), and a uri equal to @ruri (RFC 7616 3.4.6).
 * Nonce counts are remembered per node: a nonce replayed to another node that
 * shares the secret is caught only by the response binding it to the request. */
SfDigestVerdict sf_digest_server_check (SfDigestServer *s, const SfSipValue *authorization, const char *ha1,
                                        guint offered, const char *method, const char *ruri, const char *body,
                                        gsize body_len, gint64 now_s);
/* The value of parameter @name in an auth header value, unquoted (transfer full), or NULL. */
char *sf_digest_param (const SfSipValue *v, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfDigestChallenge, sf_digest_challenge_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfDigestServer, sf_digest_server_free)

G_END_DECLS
