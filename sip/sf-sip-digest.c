/* sf-sip-digest.c: Digest authentication (see sf-sip-digest.h). */
#include "config.h"
#include "sf-sip-digest.h"
#include "sf-sip-build.h"
#include "framework/sf-secret.h"
#include <string.h>

G_DEFINE_QUARK (sf-digest-error-quark, sf_digest_error)

static const struct { SfDigestAlg alg; const char *name; GChecksumType hash; gboolean sess; } algs[] = {
  { SF_DIGEST_MD5, "MD5", G_CHECKSUM_MD5, FALSE },
  { SF_DIGEST_MD5_SESS, "MD5-sess", G_CHECKSUM_MD5, TRUE },
  { SF_DIGEST_SHA256, "SHA-256", G_CHECKSUM_SHA256, FALSE },
  { SF_DIGEST_SHA256_SESS, "SHA-256-sess", G_CHECKSUM_SHA256, TRUE },
};

gboolean
sf_digest_alg_parse (const char *name, SfDigestAlg *out)
{
  for (gsize i = 0; i < G_N_ELEMENTS (algs); i++)
    if (g_ascii_strcasecmp (name, algs[i].name) == 0) {
      *out = algs[i].alg;
      return TRUE;
    }
  return FALSE;
}

const char *
sf_digest_alg_name (SfDigestAlg alg)
{
  return algs[alg].name;
}

/* H(parts joined by ':') in lowercase hex. */
static char *
hash (SfDigestAlg alg, const char *const *parts, gsize n)
{
  GChecksum *c = g_checksum_new (algs[alg].hash);
  for (gsize i = 0; i < n; i++) {
    if (i > 0)
      g_checksum_update (c, (const guchar *) ":", 1);
    g_checksum_update (c, (const guchar *) parts[i], (gssize) strlen (parts[i]));
  }
  char *hex = g_strdup (g_checksum_get_string (c));
  g_checksum_free (c);
  return hex;
}

char *
sf_digest_ha1 (SfDigestAlg alg, const char *username, const char *realm, const char *password)
{
  const char *parts[] = { username, realm, password };
  return hash (alg, parts, 3);
}

char *
sf_digest_response (const SfDigestInput *in)
{
  g_autofree char *ha1 = NULL;
  if (algs[in->alg].sess) {
    const char *p[] = { in->ha1, in->nonce, in->cnonce != NULL ? in->cnonce : "" };
    ha1 = hash (in->alg, p, 3);
  } else {
    ha1 = g_strdup (in->ha1);
  }
  g_autofree char *ha2 = NULL;
  if (g_strcmp0 (in->qop, "auth-int") == 0) {
    g_autofree char *hbody = g_compute_checksum_for_data (algs[in->alg].hash, (const guchar *) (in->body != NULL ? in->body : ""),
                                                          in->body_len);
    const char *p[] = { in->method, in->uri, hbody };
    ha2 = hash (in->alg, p, 3);
  } else {
    const char *p[] = { in->method, in->uri };
    ha2 = hash (in->alg, p, 2);
  }
  if (in->qop != NULL) {
    const char *p[] = { ha1, in->nonce, in->nc, in->cnonce, in->qop, ha2 };
    return hash (in->alg, p, 6);
  }
  const char *p[] = { ha1, in->nonce, ha2 };
  return hash (in->alg, p, 3);
}

/* @p's value unquoted (NULL: none, or empty). */
static char *
param_text (const SfSipParam *p)
{
  if (p == NULL || !sf_sip_str_is_set (p->value))
    return NULL;
  if (p->value.len >= 2 && p->value.p[0] == '"')
    return sf_sip_unquote (sf_sip_str (p->value.p + 1, p->value.len - 2), NULL);
  return sf_sip_str_dup (p->value);
}

char *
sf_digest_param (const SfSipValue *v, const char *name)
{
  return param_text (sf_sip_value_param (v, name));
}

void
sf_digest_creds_parse (const SfSipValue *v, SfDigestCreds *out)
{
  static const struct { const char *name; guint8 len; guint8 off; } want[] = {
    { "username", 8, G_STRUCT_OFFSET (SfDigestCreds, username) },
    { "realm", 5, G_STRUCT_OFFSET (SfDigestCreds, realm) },
    { "nonce", 5, G_STRUCT_OFFSET (SfDigestCreds, nonce) },
    { "uri", 3, G_STRUCT_OFFSET (SfDigestCreds, uri) },
    { "response", 8, G_STRUCT_OFFSET (SfDigestCreds, response) },
    { "algorithm", 9, G_STRUCT_OFFSET (SfDigestCreds, algorithm) },
    { "qop", 3, G_STRUCT_OFFSET (SfDigestCreds, qop) },
    { "cnonce", 6, G_STRUCT_OFFSET (SfDigestCreds, cnonce) },
    { "nc", 2, G_STRUCT_OFFSET (SfDigestCreds, nc) },
  };
  const SfSipParam *found[G_N_ELEMENTS (want)] = { NULL };
  memset (out, 0, sizeof *out);
  guint seen = 0; /* the first of each name only, its value empty or not (as sf_sip_value_param) */
  gsize size = 0;
  for (guint i = 0; i < v->n_params && seen != (1u << G_N_ELEMENTS (want)) - 1; i++) {
    const SfSipParam *p = &v->params[i];
    for (guint k = 0; k < G_N_ELEMENTS (want); k++)
      if (!(seen & (1u << k)) && sf_sip_caseeq_len (p->name, want[k].name, want[k].len)) {
        seen |= 1u << k;
        if (sf_sip_str_is_set (p->value)) {
          found[k] = p;
          size += p->value.len + 1;
        }
        break;
      }
  }
  if (size == 0)
    return;
  /* Each value unquoted (as sf_sip_unquote) into one buffer: nine values, one malloc. */
  char *w = out->buf = g_malloc (size);
  for (guint k = 0; k < G_N_ELEMENTS (want); k++) {
    if (found[k] == NULL)
      continue;
    SfSipStr t = found[k]->value;
    if (t.len >= 2 && t.p[0] == '"')
      t = sf_sip_str (t.p + 1, t.len - 2);
    *(const char **) ((guint8 *) out + want[k].off) = w;
    if (t.p == found[k]->value.p || memchr (t.p, '\\', t.len) == NULL) {
      memcpy (w, t.p, t.len); /* most values: nothing to undo */
      w += t.len;
    } else {
      for (gsize i = 0; i < t.len; i++) {
        if (t.p[i] == '\\' && i + 1 < t.len)
          i++;
        *w++ = t.p[i];
      }
    }
    *w++ = '\0';
  }
}

void
sf_digest_creds_clear (SfDigestCreds *c)
{
  g_free (c->buf);
  memset (c, 0, sizeof *c);
}

/* ---- client ---- */

void
sf_digest_challenge_free (SfDigestChallenge *c)
{
  if (c == NULL)
    return;
  g_free (c->realm);
  g_free (c->nonce);
  g_free (c->opaque);
  g_free (c);
}

SfDigestChallenge *
sf_digest_challenge_pick (const SfSipValues *challenges, GError **error)
{
  GString *asked = g_string_new (NULL);
  for (guint i = 0; challenges != NULL && i < challenges->len; i++) {
    const SfSipValue *v = challenges->pdata[i];
    if (!sf_sip_str_caseeq (v->text, "Digest"))
      continue;
    g_autofree char *alg_name = sf_digest_param (v, "algorithm");
    g_autofree char *realm = sf_digest_param (v, "realm");
    g_autofree char *nonce = sf_digest_param (v, "nonce");
    g_autofree char *qop = sf_digest_param (v, "qop");
    SfDigestAlg alg = SF_DIGEST_MD5;
    if (alg_name != NULL && !sf_digest_alg_parse (alg_name, &alg)) {
      g_string_append_printf (asked, "%s%s", asked->len > 0 ? ", " : "", alg_name);
      continue;
    }
    if (realm == NULL || nonce == NULL)
      continue;
    gboolean auth = FALSE;
    if (qop != NULL) {
      g_auto (GStrv) opts = g_strsplit (qop, ",", -1);
      for (char **o = opts; *o != NULL; o++)
        if (g_ascii_strcasecmp (g_strstrip (*o), "auth") == 0)
          auth = TRUE;
      if (!auth) { /* only auth-int, or unknown: we do not answer auth-int challenges yet */
        g_string_append_printf (asked, "%sqop=%s", asked->len > 0 ? ", " : "", qop);
        continue;
      }
    }
    SfDigestChallenge *c = g_new0 (SfDigestChallenge, 1);
    c->alg = alg;
    c->realm = g_steal_pointer (&realm);
    c->nonce = g_steal_pointer (&nonce);
    c->opaque = sf_digest_param (v, "opaque");
    c->qop_auth = auth;
    g_autofree char *stale = sf_digest_param (v, "stale");
    c->stale = stale != NULL && g_ascii_strcasecmp (stale, "true") == 0;
    g_string_free (asked, TRUE);
    return c;
  }
  if (asked->len > 0)
    g_set_error (error, SF_DIGEST_ERROR, SF_DIGEST_ERROR_UNSUPPORTED, "unsupported algorithm: %s", asked->str);
  else
    g_set_error (error, SF_DIGEST_ERROR, SF_DIGEST_ERROR_UNSUPPORTED, "no Digest challenge");
  g_string_free (asked, TRUE);
  return NULL;
}

/* A quoted-string for a header value. */
static void
quoted (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_c (out, '\\');
    g_string_append_c (out, *p);
  }
  g_string_append_c (out, '"');
}

char *
sf_digest_authorization (const SfDigestChallenge *c, const char *username, const char *password, const char *method,
                         const char *uri, const char *cnonce, guint32 nc)
{
  g_autofree char *ha1 = sf_digest_ha1 (c->alg, username, c->realm, password);
  g_autofree char *own_cnonce = cnonce == NULL ? g_strdup_printf ("%016" G_GINT64_MODIFIER "x", sf_sip_random_u64 ()) : NULL;
  char ncs[9];
  g_snprintf (ncs, sizeof ncs, "%08x", nc);
  SfDigestInput in = { c->alg, ha1, method, uri, c->nonce, NULL, NULL, NULL, NULL, 0 };
  if (c->qop_auth) {
    in.cnonce = cnonce != NULL ? cnonce : own_cnonce;
    in.nc = ncs;
    in.qop = "auth";
  }
  g_autofree char *resp = sf_digest_response (&in);
  GString *out = g_string_new ("Digest username=");
  quoted (out, username);
  g_string_append (out, ", realm=");
  quoted (out, c->realm);
  g_string_append (out, ", nonce=");
  quoted (out, c->nonce);
  g_string_append (out, ", uri=");
  quoted (out, uri);
  g_string_append_printf (out, ", response=\"%s\", algorithm=%s", resp, sf_digest_alg_name (c->alg));
  if (c->qop_auth) {
    g_string_append (out, ", cnonce=");
    quoted (out, in.cnonce);
    g_string_append_printf (out, ", qop=auth, nc=%s", ncs);
  }
  if (c->opaque != NULL) {
    g_string_append (out, ", opaque=");
    quoted (out, c->opaque);
  }
  return g_string_free (out, FALSE);
}

/* ---- server ----
 *
 * Nonces carry no per-nonce state on the server (RFC 7616 3.3: their content is
 * up to the server): 16 hex digits of the time they were made, 16 of the
 * server's boot id, 16 of a sequence number, then 32 of a MAC of those 48
 * digits: two SipHash-2-4, each under its own 128-bit key, both keys cut from
 * HMAC-SHA-256(secret, a label) once at start.  A 128-bit tag as HMAC-SHA-256
 * cut to 128 bits gave, for a tenth of its cost (the proxy's branches use
 * SipHash as a MAC too): two MACs per registration, the challenge's and the
 * check's.  Nonces of earlier builds (HMAC-SHA-256 cut to 128 bits) are still
 * recognised (legacy_mac), at their old cost, only when the first MAC fails.  The sequence number names a slot (seq mod
 * n_slots) and a generation (seq div n_slots, plus 1) in a table of fixed size:
 * nonce-count state is made only when a nonce is first used with a right
 * response, in its slot, and a newer generation taking the slot makes every
 * older nonce of that slot stale for good.  So what a remote peer can make us
 * remember is bounded by the table, however many challenges it asks for. */

#define NONCE_HEAD 48 /* hex digits of time, boot id and sequence number */
#define NONCE_MAC 32  /* hex digits of the HMAC */

/* The counts a slot remembers below its highest: a window as IPsec's
 * anti-replay (one bit a count).  The workers of a set check a nonce's
 * requests in whatever order their threads reach the lock, so a UA's nc=1 may
 * come after its nc=2: a count never seen within the window is taken, one
 * seen is a replay, one below the window stale (the UA gets a new nonce). */
#define NC_WINDOW 64

typedef struct {
  guint64 gen;   /* the generation this nonce-count state belongs to; 0: none yet */
  gint64 made_s; /* that nonce's time */
  guint32 nc;    /* the highest nonce count accepted */
  gboolean once; /* used without qop: never again */
  guint64 seen;  /* bit i: count nc - i accepted (bit 0: nc itself) */
} NonceSlot;

/* With the slot's generation already: takes @count (marking it seen), or
 * says why not (REPLAY: seen, or used without qop; STALE: below the window). */
static SfDigestVerdict
slot_take (NonceSlot *slot, guint32 count, const char **why)
{
  if (slot->once) {
    *why = "nonce count replayed"; /* used without qop: the nonce once */
    return SF_DIGEST_REPLAY;
  }
  if (count > slot->nc) {
    guint32 shift = count - slot->nc;
    slot->seen = shift >= NC_WINDOW ? 1 : (slot->seen << shift) | 1;
    slot->nc = count;
    *why = "ok";
    return SF_DIGEST_OK;
  }
  guint32 back = slot->nc - count;
  if (back >= NC_WINDOW) {
    *why = "nonce count below the window"; /* its state is gone: it could be a replay */
    return SF_DIGEST_STALE;
  }
  if (slot->seen & (G_GUINT64_CONSTANT (1) << back)) {
    *why = "nonce count replayed";
    return SF_DIGEST_REPLAY;
  }
  slot->seen |= G_GUINT64_CONSTANT (1) << back;
  *why = "ok";
  return SF_DIGEST_OK;
}

struct _SfDigestServer {
  guint64 mac_keys[2][2];   /* the two SipHash keys of the nonces' MAC */
  GHmac *legacy;            /* HMAC-SHA-256 with the secret taken in: the MAC of the nonces
                             * of earlier builds, asked only when the SipHash MAC fails */
  guint ttl_s;
  guint64 boot;             /* random, per server (one per process): nonces of another are stale */
  guint64 seq;              /* the next nonce's sequence number */
  guint n_slots;
  NonceSlot *slots;         /* n_slots, allocated once */
  /* The workers of one process share one server (docs/workers.md): seq and
   * the slots are taken under this lock, never across a callback; mac_keys,
   * boot and the sizes never change after sf_digest_server_new. */
  GMutex lock;
  gatomicrefcount ref;
};

SfDigestServer *
sf_digest_server_new (const guint8 *secret, gsize len, guint nonce_ttl_s, guint nonce_slots)
{
  SfDigestServer *s = g_new0 (SfDigestServer, 1);
  /* a secret of any length, made into the two keys */
  static const char label[] = "sipflow digest nonce mac";
  GHmac *h = g_hmac_new (G_CHECKSUM_SHA256, secret, len);
  g_hmac_update (h, (const guchar *) label, sizeof label - 1);
  guint8 keys[32];
  gsize klen = sizeof keys;
  g_hmac_get_digest (h, keys, &klen);
  g_hmac_unref (h);
  sf_siphash_keys (keys, s->mac_keys);
  memset (keys, 0, sizeof keys);
  s->legacy = g_hmac_new (G_CHECKSUM_SHA256, secret, len);
  s->ttl_s = nonce_ttl_s;
  s->boot = sf_sip_random_u64 ();
  s->n_slots = MAX (nonce_slots, 1);
  s->slots = g_new0 (NonceSlot, s->n_slots);
  g_mutex_init (&s->lock);
  g_atomic_ref_count_init (&s->ref);
  return s;
}

SfDigestServer *
sf_digest_server_ref (SfDigestServer *s)
{
  g_atomic_ref_count_inc (&s->ref);
  return s;
}

void
sf_digest_server_free (SfDigestServer *s)
{
  if (s == NULL || !g_atomic_ref_count_dec (&s->ref))
    return;
  g_mutex_clear (&s->lock);
  g_hmac_unref (s->legacy);
  g_free (s->slots);
  g_free (s);
}

/* An earlier build's MAC of the nonce's first NONCE_HEAD hex digits:
 * HMAC-SHA-256(secret, them) cut to 128 bits, in hex.  Its nonces, made by a
 * node not yet upgraded or before a restart, are still ours (so stale, not
 * refused, when the response is right). */
static void
legacy_mac (SfDigestServer *s, const char *head, char out[NONCE_MAC + 1])
{
  GHmac *h = g_hmac_copy (s->legacy);
  g_hmac_update (h, (const guchar *) head, NONCE_HEAD);
  guint8 digest[32];
  gsize len = sizeof digest;
  g_hmac_get_digest (h, digest, &len);
  g_hmac_unref (h);
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < NONCE_MAC / 2; i++) {
    out[2 * i] = hex[digest[i] >> 4];
    out[2 * i + 1] = hex[digest[i] & 15];
  }
  out[NONCE_MAC] = '\0';
}

/* Is @mac the MAC at @nonce's tail?  In constant time. */
static gboolean
mac_is (const char *mac, const char *nonce)
{
  guint8 diff = 0;
  for (int i = 0; i < NONCE_MAC; i++)
    diff |= (guint8) (mac[i] ^ sf_sip_lower (nonce[NONCE_HEAD + i])); /* inline: as g_ascii_tolower, no call a byte */
  return diff == 0;
}

/* The MAC of the nonce's first NONCE_HEAD hex digits, in hex (see above). */
static void
nonce_mac (SfDigestServer *s, const char *head, char out[NONCE_MAC + 1])
{
  for (int k = 0; k < 2; k++)
    sf_hex16 (sf_siphash24 (s->mac_keys[k], (const guint8 *) head, NONCE_HEAD), out + 16 * k);
  out[NONCE_MAC] = '\0';
}

/* A fresh nonce into @nonce. */
static void
make_nonce (SfDigestServer *s, gint64 now_s, char nonce[NONCE_HEAD + NONCE_MAC + 1])
{
  g_mutex_lock (&s->lock);
  guint64 seq = s->seq++;
  g_mutex_unlock (&s->lock);
  sf_hex16 ((guint64) now_s, nonce);
  sf_hex16 (s->boot, nonce + 16);
  sf_hex16 (seq, nonce + 32);
  nonce_mac (s, nonce, nonce + NONCE_HEAD);
}

char *
sf_digest_server_nonce (SfDigestServer *s, gint64 now_s)
{
  char nonce[NONCE_HEAD + NONCE_MAC + 1];
  make_nonce (s, now_s, nonce);
  return g_strdup (nonce);
}

void
sf_digest_server_challenge_append (SfDigestServer *s, GString *out, const char *realm, SfDigestAlg alg,
                                   gboolean stale, gint64 now_s)
{
  char nonce[NONCE_HEAD + NONCE_MAC + 1];
  make_nonce (s, now_s, nonce);
  g_string_append_len (out, "Digest realm=", 13);
  quoted (out, realm);
  g_string_append_len (out, ", nonce=\"", 9);
  g_string_append_len (out, nonce, NONCE_HEAD + NONCE_MAC);
  g_string_append_len (out, "\", algorithm=", 13);
  g_string_append (out, sf_digest_alg_name (alg));
  g_string_append (out, stale ? ", qop=\"auth\", stale=true" : ", qop=\"auth\"");
}

char *
sf_digest_server_challenge (SfDigestServer *s, const char *realm, SfDigestAlg alg, gboolean stale, gint64 now_s)
{
  GString *out = g_string_sized_new (200);
  sf_digest_server_challenge_append (s, out, realm, alg, stale, now_s);
  return g_string_free (out, FALSE);
}

typedef struct {
  gint64 made_s;
  guint64 boot, seq;
} NonceFields;

static guint64
hex_field (const char *p)
{
  char f[17];
  memcpy (f, p, 16);
  f[16] = '\0';
  return g_ascii_strtoull (f, NULL, 16);
}

/* Is @nonce one made with our secret (by us or a node sharing it)?  Its fields then. */
static gboolean
nonce_parse (SfDigestServer *s, const char *nonce, NonceFields *out)
{
  if (nonce == NULL || strlen (nonce) != NONCE_HEAD + NONCE_MAC)
    return FALSE;
  for (int i = 0; i < NONCE_HEAD + NONCE_MAC; i++)
    if (!g_ascii_isxdigit (nonce[i]))
      return FALSE;
  char mac[NONCE_MAC + 1], old[NONCE_MAC + 1];
  nonce_mac (s, nonce, mac);
  if (!mac_is (mac, nonce)) {
    legacy_mac (s, nonce, old);
    if (!mac_is (old, nonce))
      return FALSE;
  }
  out->made_s = (gint64) hex_field (nonce);
  out->boot = hex_field (nonce + 16);
  out->seq = hex_field (nonce + 32);
  return TRUE;
}

/* Is @given (any case) the lowercase hex @want?  In constant time in @want:
 * only @given's bytes are lowered (inline, no call a byte). */
static gboolean
same_hex (const char *want, const char *given)
{
  gsize la = strlen (want), lb = strlen (given);
  guint8 diff = la != lb;
  for (gsize i = 0; i < MIN (la, lb); i++)
    diff |= (guint8) (want[i] ^ sf_sip_lower (given[i]));
  return diff == 0;
}

SfDigestVerdict
sf_digest_server_check (SfDigestServer *s, const SfSipValue *auth, const char *ha1, guint offered, const char *method,
                        const char *ruri, const char *body, gsize body_len, gint64 now_s, const char **why)
{
  const char *unused;
  if (why == NULL)
    why = &unused;
  *why = "malformed credentials";
  if (!sf_sip_str_caseeq (auth->text, "Digest"))
    return SF_DIGEST_BAD;
  SfDigestCreds c;
  sf_digest_creds_parse (auth, &c);
  SfDigestVerdict v = sf_digest_server_check_creds (s, &c, ha1, offered, method, ruri, body, body_len, now_s, why);
  sf_digest_creds_clear (&c);
  return v;
}

SfDigestVerdict
sf_digest_server_check_creds (SfDigestServer *s, const SfDigestCreds *c, const char *ha1, guint offered,
                              const char *method, const char *ruri, const char *body, gsize body_len, gint64 now_s,
                              const char **why)
{
  const char *unused;
  if (why == NULL)
    why = &unused;
  *why = "malformed credentials";
  const char *nonce = c->nonce, *uri = c->uri, *response = c->response, *alg_name = c->algorithm, *qop = c->qop,
             *cnonce = c->cnonce, *nc = c->nc;
  SfDigestAlg alg = SF_DIGEST_MD5;
  if (nonce == NULL || uri == NULL || response == NULL || ha1 == NULL ||
      (alg_name != NULL && !sf_digest_alg_parse (alg_name, &alg)))
    return SF_DIGEST_BAD;
  if ((offered & (1u << alg)) == 0) {
    *why = "algorithm not offered"; /* no downgrade */
    return SF_DIGEST_BAD;
  }
  if (ruri != NULL && strcmp (uri, ruri) != 0) {
    *why = "uri is not the Request-URI"; /* RFC 7616 3.4.6 */
    return SF_DIGEST_BAD;
  }
  guint32 count = 0;
  if (qop != NULL) {
    if (cnonce == NULL || nc == NULL || strlen (nc) != 8 || strspn (nc, "0123456789abcdefABCDEF") != 8 ||
        (strcmp (qop, "auth") != 0 && strcmp (qop, "auth-int") != 0))
      return SF_DIGEST_BAD;
    count = (guint32) g_ascii_strtoull (nc, NULL, 16);
    if (count == 0)
      return SF_DIGEST_BAD; /* RFC 7616 3.4: the first request with a nonce sends nc=00000001 */
  }
  NonceFields f;
  if (!nonce_parse (s, nonce, &f) || f.made_s > now_s + 60) {
    *why = "nonce not ours"; /* forged, or made with another secret: says nothing of the password */
    return SF_DIGEST_BAD;
  }
  /* Without qop (RFC 2069, RFC 7616 3.4.1 for compatibility): response = H(A1:nonce:H(A2)). */
  SfDigestInput in = { alg, ha1, method, uri, nonce, cnonce, qop != NULL ? nc : NULL, qop, body, body_len };
  g_autofree char *want = sf_digest_response (&in);
  if (!same_hex (want, response)) {
    *why = "wrong credentials";
    return SF_DIGEST_BAD;
  }
  /* The response is right: a nonce we no longer take is now stale (RFC 7616 3.3:
   * the client knows the password and may retry with a new nonce at once). */
  if (now_s - f.made_s > (gint64) s->ttl_s) {
    *why = "nonce expired";
    return SF_DIGEST_STALE;
  }
  if (f.boot != s->boot) {
    /* Made before this process started, or by another node sharing the secret:
     * its nonce counts are not in our table, so it could be a replay. */
    *why = "nonce from another boot or node";
    return SF_DIGEST_STALE;
  }
  /* The test of the slot and its update are one step: two workers taking the
   * same nonce count at once must not both see it fresh. */
  g_mutex_lock (&s->lock);
  SfDigestVerdict v = SF_DIGEST_OK;
  NonceSlot *slot = &s->slots[f.seq % s->n_slots];
  guint64 gen = f.seq / s->n_slots + 1;
  if (f.seq >= s->seq) {
    *why = "nonce from another boot or node";
    v = SF_DIGEST_STALE;
  } else if (slot->gen > gen) {
    *why = "nonce slot reused"; /* its nonce-count state is gone: it could be a replay */
    v = SF_DIGEST_STALE;
  } else if (slot->gen == gen && qop == NULL) {
    *why = "nonce count replayed"; /* without qop, the nonce once */
    v = SF_DIGEST_REPLAY;
  } else if (slot->gen == gen) {
    v = slot_take (slot, count, why); /* each count once, within the window */
  } else {
    slot->gen = gen;
    slot->made_s = f.made_s;
    slot->nc = count;
    slot->once = qop == NULL;
    slot->seen = 1;
    *why = "ok";
  }
  g_mutex_unlock (&s->lock);
  return v;
}

gboolean
sf_digest_server_nonce_ours (SfDigestServer *s, const char *nonce, gint64 now_s, gboolean *expired)
{
  NonceFields f;
  if (s == NULL || !nonce_parse (s, nonce, &f) || f.made_s > now_s + 60)
    return FALSE;
  if (expired != NULL)
    *expired = now_s - f.made_s > (gint64) s->ttl_s;
  return TRUE;
}

guint
sf_digest_server_slots_used (SfDigestServer *s, gint64 now_s)
{
  guint n = 0;
  g_mutex_lock (&s->lock);
  for (guint i = 0; i < s->n_slots; i++)
    if (s->slots[i].gen != 0 && now_s - s->slots[i].made_s <= (gint64) s->ttl_s)
      n++;
  g_mutex_unlock (&s->lock);
  return n;
}
