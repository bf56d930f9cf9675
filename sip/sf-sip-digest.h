/* sf-sip-digest.h: HTTP Digest authentication for SIP (RFC 3261 22, RFC 2617,
 * RFC 7616, RFC 8760).  MD5, MD5-sess, SHA-256 and SHA-256-sess with qop auth,
 * auth-int or none.  SHA-512-256 is not offered: GLib has no SHA-512/256, and a
 * challenge that asks only for it gets a clear "unsupported algorithm".
 *
 * The client computes responses and picks the first challenge whose algorithm
 * it supports (RFC 7616 3.7).  The server keeps no state per nonce issued (RFC
 * 7616 3.3): a nonce is a time, a per-server boot id and a sequence number
 * under a MAC keyed from a server secret, so any node holding the secret can tell
 * it is genuine, and it never issues the same nonce twice.  The sequence number
 * names a slot and a generation in a table of fixed size; nonce-count state is
 * made on a nonce's first use with a right response.  Every nonce count is
 * taken once (RFC 7616 3.4, RFC 3261 22.4): a count not above the last, or a
 * nonce whose slot a newer nonce has taken, or one from another boot or node,
 * or an expired one, is never accepted again.  Passwords are never logged. */
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
SfDigestChallenge *sf_digest_challenge_pick (const SfSipValues *challenges, GError **error);
/* The Authorization/Proxy-Authorization value answering @c (transfer full).
 * @cnonce: NULL for a random one.  @nc: the nonce count for this nonce. */
char *sf_digest_authorization (const SfDigestChallenge *c, const char *username, const char *password,
                               const char *method, const char *uri, const char *cnonce, guint32 nc);

/* ---- server ---- */

typedef enum {
  SF_DIGEST_OK,
  SF_DIGEST_STALE,     /* a right response for a nonce we no longer take (expired, its slot reused,
                        * another boot or node, a count 64 or more below the highest taken):
                        * challenge again with stale=true (RFC 7616 3.3) */
  SF_DIGEST_BAD,       /* wrong response, foreign or forged nonce, missing parameters, nc=00000000 */
  SF_DIGEST_REPLAY,    /* a nonce count taken already for this nonce (a nonce used without qop:
                        * any second use) */
} SfDigestVerdict;

typedef struct _SfDigestServer SfDigestServer;

/* @secret: shared by every node that verifies the nonces (copied).  @nonce_slots:
 * the size of the nonce-count table (at least 1), allocated here once: at most
 * that many nonces are usable at a time; a nonce stays usable until it expires
 * (@nonce_ttl_s) or @nonce_slots newer nonces were issued and the one in its
 * slot was used.  The boot id is drawn here: nonces of another server (another
 * process, or another node with the same secret) are stale to this one. */
SfDigestServer *sf_digest_server_new (const guint8 *secret, gsize len, guint nonce_ttl_s, guint nonce_slots);
/* Another reference (the workers of a process share one server: any thread
 * may use it; its table is under a lock of its own). */
SfDigestServer *sf_digest_server_ref (SfDigestServer *s);
/* Drops a reference; the last frees it. */
void sf_digest_server_free (SfDigestServer *s);
/* A fresh nonce (transfer full), made at @now_s (seconds, any epoch). */
char *sf_digest_server_nonce (SfDigestServer *s, gint64 now_s);
/* The WWW-/Proxy-Authenticate value for @realm and @alg (transfer full). */
char *sf_digest_server_challenge (SfDigestServer *s, const char *realm, SfDigestAlg alg, gboolean stale,
                                  gint64 now_s);
/* The same value appended to @out (a header line built in one buffer). */
void sf_digest_server_challenge_append (SfDigestServer *s, GString *out, const char *realm, SfDigestAlg alg,
                                        gboolean stale, gint64 now_s);
/* The auth-params of Digest credentials a server reads, each unquoted (NULL:
 * absent or with no value; "" for an empty quoted value), the first of each name as sf_digest_param finds it, but
 * all in one walk over the value's parameters and in one allocation (buf,
 * freed by sf_digest_creds_clear). */
typedef struct {
  const char *username, *realm, *nonce, *uri, *response, *algorithm, *qop, *cnonce, *nc;
  char *buf;
} SfDigestCreds;

void sf_digest_creds_parse (const SfSipValue *authorization, SfDigestCreds *out);
void sf_digest_creds_clear (SfDigestCreds *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfDigestCreds, sf_digest_creds_clear)

/* Checks an Authorization value against the user's H(A1) (hex, for the
 * credentials' algorithm) for a request with @method, @ruri and @body.  The
 * credentials must use an algorithm in @offered (a mask of 1 << SfDigestAlg:
 * what was offered) and a uri equal to @ruri (RFC 7616 3.4.6).  In order: the
 * parameters (else BAD), the nonce's MAC (BAD), the response (BAD), then the
 * nonce's age, boot id and slot (STALE: only a right response learns stale)
 * and the nonce count (REPLAY).  With qop, nc counts from 00000001 and each
 * count is taken once, in any order within 64 of the highest taken (the
 * workers of a set may check a UA's requests out of order); further below it
 * is STALE.  Without qop (RFC 2069 style) a nonce is taken once.  @why
 * (nullable) gets a static phrase for logs: "wrong credentials", "nonce not
 * ours", "malformed credentials", "algorithm not offered", "uri is not the
 * Request-URI", "nonce expired", "nonce from another boot or node", "nonce slot
 * reused", "nonce count below the window", "nonce count replayed" or "ok". */
SfDigestVerdict sf_digest_server_check (SfDigestServer *s, const SfSipValue *authorization, const char *ha1,
                                        guint offered, const char *method, const char *ruri, const char *body,
                                        gsize body_len, gint64 now_s, const char **why);
/* sf_digest_server_check on credentials parsed already (their scheme Digest). */
SfDigestVerdict sf_digest_server_check_creds (SfDigestServer *s, const SfDigestCreds *c, const char *ha1,
                                              guint offered, const char *method, const char *ruri,
                                              const char *body, gsize body_len, gint64 now_s, const char **why);
/* Is @nonce one of ours: its MAC verifies with our secret (this boot, an
 * earlier one or another node sharing the secret) and it was not made more
 * than 60 s after @now_s?  @expired (nullable) then tells whether it is older
 * than the nonce lifetime.  Touches no nonce-count state: for deciding whether a
 * refusal is worth logging, never for accepting credentials. */
gboolean sf_digest_server_nonce_ours (SfDigestServer *s, const char *nonce, gint64 now_s, gboolean *expired);
/* Slots holding the nonce-count state of a nonce not yet expired at @now_s (for stats). */
guint sf_digest_server_slots_used (SfDigestServer *s, gint64 now_s);
/* The value of parameter @name in an auth header value, unquoted (transfer full), or NULL. */
char *sf_digest_param (const SfSipValue *v, const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfDigestChallenge, sf_digest_challenge_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfDigestServer, sf_digest_server_free)

G_END_DECLS
