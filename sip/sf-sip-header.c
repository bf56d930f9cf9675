/* sf-sip-header.c: header names and header value parsers (RFC 3261 20, 25.1). */
#include "config.h"
#include "sf-sip-header.h"
#include "sf-sip-arena.h"
#include <string.h>

static inline gboolean
sf_sip_ch_token (guchar c)
{
  return sf_sip_ch (c, SF_SIP_CH_TOKEN);
}

static inline gboolean
is_lws (char ch)
{
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static const SfSipHdrInfo infos[SF_SIP_HDR_COUNT] = {
  [SF_SIP_HDR_OTHER] = { SF_SIP_HDR_OTHER, "", 0, SF_SIP_HDR_TEXT, SF_SIP_VAL_OPAQUE },
  [SF_SIP_HDR_ACCEPT] = { SF_SIP_HDR_ACCEPT, "Accept", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_MEDIA },
  [SF_SIP_HDR_ACCEPT_ENCODING] = { SF_SIP_HDR_ACCEPT_ENCODING, "Accept-Encoding", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_ACCEPT_LANGUAGE] = { SF_SIP_HDR_ACCEPT_LANGUAGE, "Accept-Language", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_ALERT_INFO] = { SF_SIP_HDR_ALERT_INFO, "Alert-Info", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_INFO },
  [SF_SIP_HDR_ALLOW] = { SF_SIP_HDR_ALLOW, "Allow", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_AUTHENTICATION_INFO] = { SF_SIP_HDR_AUTHENTICATION_INFO, "Authentication-Info", 0, SF_SIP_HDR_MULTI, SF_SIP_VAL_AUTH },
  [SF_SIP_HDR_AUTHORIZATION] = { SF_SIP_HDR_AUTHORIZATION, "Authorization", 0, SF_SIP_HDR_MULTI, SF_SIP_VAL_AUTH },
  [SF_SIP_HDR_CALL_ID] = { SF_SIP_HDR_CALL_ID, "Call-ID", 'i', SF_SIP_HDR_SINGLE, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_CALL_INFO] = { SF_SIP_HDR_CALL_INFO, "Call-Info", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_INFO },
  [SF_SIP_HDR_CONTACT] = { SF_SIP_HDR_CONTACT, "Contact", 'm', SF_SIP_HDR_LIST, SF_SIP_VAL_NAMEADDR },
  [SF_SIP_HDR_CONTENT_DISPOSITION] = { SF_SIP_HDR_CONTENT_DISPOSITION, "Content-Disposition", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_CONTENT_ENCODING] = { SF_SIP_HDR_CONTENT_ENCODING, "Content-Encoding", 'e', SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_CONTENT_LANGUAGE] = { SF_SIP_HDR_CONTENT_LANGUAGE, "Content-Language", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_CONTENT_LENGTH] = { SF_SIP_HDR_CONTENT_LENGTH, "Content-Length", 'l', SF_SIP_HDR_SINGLE, SF_SIP_VAL_NUMBER },
  [SF_SIP_HDR_CONTENT_TYPE] = { SF_SIP_HDR_CONTENT_TYPE, "Content-Type", 'c', SF_SIP_HDR_SINGLE, SF_SIP_VAL_MEDIA },
  [SF_SIP_HDR_CSEQ] = { SF_SIP_HDR_CSEQ, "CSeq", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_CSEQ },
  [SF_SIP_HDR_DATE] = { SF_SIP_HDR_DATE, "Date", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_OPAQUE },
  [SF_SIP_HDR_ERROR_INFO] = { SF_SIP_HDR_ERROR_INFO, "Error-Info", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_INFO },
  [SF_SIP_HDR_EXPIRES] = { SF_SIP_HDR_EXPIRES, "Expires", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_NUMBER },
  [SF_SIP_HDR_FROM] = { SF_SIP_HDR_FROM, "From", 'f', SF_SIP_HDR_SINGLE, SF_SIP_VAL_NAMEADDR },
  [SF_SIP_HDR_IN_REPLY_TO] = { SF_SIP_HDR_IN_REPLY_TO, "In-Reply-To", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_MAX_FORWARDS] = { SF_SIP_HDR_MAX_FORWARDS, "Max-Forwards", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_NUMBER },
  [SF_SIP_HDR_MIME_VERSION] = { SF_SIP_HDR_MIME_VERSION, "MIME-Version", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_OPAQUE },
  [SF_SIP_HDR_MIN_EXPIRES] = { SF_SIP_HDR_MIN_EXPIRES, "Min-Expires", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_NUMBER },
  [SF_SIP_HDR_ORGANIZATION] = { SF_SIP_HDR_ORGANIZATION, "Organization", 0, SF_SIP_HDR_TEXT, SF_SIP_VAL_OPAQUE },
  [SF_SIP_HDR_PRIORITY] = { SF_SIP_HDR_PRIORITY, "Priority", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_PROXY_AUTHENTICATE] = { SF_SIP_HDR_PROXY_AUTHENTICATE, "Proxy-Authenticate", 0, SF_SIP_HDR_MULTI, SF_SIP_VAL_AUTH },
  [SF_SIP_HDR_PROXY_AUTHORIZATION] = { SF_SIP_HDR_PROXY_AUTHORIZATION, "Proxy-Authorization", 0, SF_SIP_HDR_MULTI, SF_SIP_VAL_AUTH },
  [SF_SIP_HDR_PROXY_REQUIRE] = { SF_SIP_HDR_PROXY_REQUIRE, "Proxy-Require", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_RECORD_ROUTE] = { SF_SIP_HDR_RECORD_ROUTE, "Record-Route", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_NAMEADDR },
  [SF_SIP_HDR_REPLY_TO] = { SF_SIP_HDR_REPLY_TO, "Reply-To", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_NAMEADDR },
  [SF_SIP_HDR_REQUIRE] = { SF_SIP_HDR_REQUIRE, "Require", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_RETRY_AFTER] = { SF_SIP_HDR_RETRY_AFTER, "Retry-After", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_NUMBER },
  [SF_SIP_HDR_ROUTE] = { SF_SIP_HDR_ROUTE, "Route", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_NAMEADDR },
  [SF_SIP_HDR_SERVER] = { SF_SIP_HDR_SERVER, "Server", 0, SF_SIP_HDR_TEXT, SF_SIP_VAL_OPAQUE },
  [SF_SIP_HDR_SUBJECT] = { SF_SIP_HDR_SUBJECT, "Subject", 's', SF_SIP_HDR_TEXT, SF_SIP_VAL_OPAQUE },
  [SF_SIP_HDR_SUPPORTED] = { SF_SIP_HDR_SUPPORTED, "Supported", 'k', SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_TIMESTAMP] = { SF_SIP_HDR_TIMESTAMP, "Timestamp", 0, SF_SIP_HDR_SINGLE, SF_SIP_VAL_OPAQUE },
  [SF_SIP_HDR_TO] = { SF_SIP_HDR_TO, "To", 't', SF_SIP_HDR_SINGLE, SF_SIP_VAL_NAMEADDR },
  [SF_SIP_HDR_UNSUPPORTED] = { SF_SIP_HDR_UNSUPPORTED, "Unsupported", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_TOKEN },
  [SF_SIP_HDR_USER_AGENT] = { SF_SIP_HDR_USER_AGENT, "User-Agent", 0, SF_SIP_HDR_TEXT, SF_SIP_VAL_OPAQUE },
  [SF_SIP_HDR_VIA] = { SF_SIP_HDR_VIA, "Via", 'v', SF_SIP_HDR_LIST, SF_SIP_VAL_VIA },
  [SF_SIP_HDR_WARNING] = { SF_SIP_HDR_WARNING, "Warning", 0, SF_SIP_HDR_LIST, SF_SIP_VAL_OPAQUE },
  [SF_SIP_HDR_WWW_AUTHENTICATE] = { SF_SIP_HDR_WWW_AUTHENTICATE, "WWW-Authenticate", 0, SF_SIP_HDR_MULTI, SF_SIP_VAL_AUTH },
};

const SfSipHdrInfo *
sf_sip_hdr_info (SfSipHdrId id)
{
  return id < SF_SIP_HDR_COUNT ? &infos[id] : &infos[0];
}

/* Which known header @name is: a switch on the length and the first letter
 * leaves at most two candidates to compare (generated from infos[]; the
 * header-lookup unit test checks every name, compact form and case). */
/* @a (a token) equals @b (a canonical name: letters and '-') but for case.
 * Setting bit 0x20 lowercases a letter and leaves '-' as it is; the only other
 * byte it maps onto a letter or '-' is a non-token one (an upper-case letter's
 * own lower case aside), so on tokens the comparison is exact, eight bytes at a
 * time. */
static inline gboolean
token_caseeq (SfSipStr a, const char *b)
{
  /* @b is as long as @a (the switch below matched the length).  The tail is
   * compared by a load that overlaps the bytes before it: at most two
   * compares for a name of 4 to 16 bytes. */
  const guint64 bit = G_GUINT64_CONSTANT (0x2020202020202020);
  gsize n = a.len;
  if (n >= 8) {
    gsize i = 0;
    for (; i + 8 <= n; i += 8) {
      guint64 x, y;
      memcpy (&x, a.p + i, 8);
      memcpy (&y, b + i, 8);
      if ((x | bit) != (y | bit))
        return FALSE;
    }
    if (i < n) {
      guint64 x, y;
      memcpy (&x, a.p + n - 8, 8);
      memcpy (&y, b + n - 8, 8);
      return (x | bit) == (y | bit);
    }
    return TRUE;
  }
  if (n >= 4) {
    guint32 x, y, u, w;
    memcpy (&x, a.p, 4);
    memcpy (&y, b, 4);
    memcpy (&u, a.p + n - 4, 4);
    memcpy (&w, b + n - 4, 4);
    return ((x | 0x20202020u) == (y | 0x20202020u)) & ((u | 0x20202020u) == (w | 0x20202020u));
  }
  for (gsize i = 0; i < n; i++)
    if ((a.p[i] | 0x20) != (b[i] | 0x20))
      return FALSE;
  return TRUE;
}

/* Whether the token @s is the literal @lit (letters) but for case: the
 * length first, then token_caseeq() on a length the compiler knows (the
 * literal's: only the compares for that length are there).  `"" lit ""`
 * compiles only for a string literal: a pointer would make sizeof the
 * pointer's and token_caseeq read past a shorter name. */
#define NAME_IS(s, lit) \
  ((s).len == sizeof ("" lit "") - 1 && token_caseeq (sf_sip_str ((s).p, sizeof ("" lit "") - 1), (lit)))

static gboolean
is_token (SfSipStr name)
{
  for (gsize i = 0; i < name.len; i++)
    if (!sf_sip_ch ((guchar) name.p[i], SF_SIP_CH_TOKEN))
      return FALSE;
  return TRUE;
}

SfSipHdrId
sf_sip_hdr_lookup (SfSipStr name)
{
  return is_token (name) ? sf_sip_hdr_lookup_token (name) : SF_SIP_HDR_OTHER;
}

SfSipHdrId
sf_sip_hdr_lookup_token (SfSipStr name)
{
  if (name.len == 0)
    return SF_SIP_HDR_OTHER;
  char first = sf_sip_lower (name.p[0]);
  if (name.len == 1) {
    switch (first) {
    case 'c': return SF_SIP_HDR_CONTENT_TYPE;
    case 'e': return SF_SIP_HDR_CONTENT_ENCODING;
    case 'f': return SF_SIP_HDR_FROM;
    case 'i': return SF_SIP_HDR_CALL_ID;
    case 'k': return SF_SIP_HDR_SUPPORTED;
    case 'l': return SF_SIP_HDR_CONTENT_LENGTH;
    case 'm': return SF_SIP_HDR_CONTACT;
    case 's': return SF_SIP_HDR_SUBJECT;
    case 't': return SF_SIP_HDR_TO;
    case 'v': return SF_SIP_HDR_VIA;
    default: return SF_SIP_HDR_OTHER;
    }
  }
#define CAND(id) if (token_caseeq (name, infos[id].name)) return id
  switch (name.len) {
  case 2:
    switch (first) {
    case 't': CAND (SF_SIP_HDR_TO); break;
    default: break;
    }
    break;
  case 3:
    switch (first) {
    case 'v': CAND (SF_SIP_HDR_VIA); break;
    default: break;
    }
    break;
  case 4:
    switch (first) {
    case 'c': CAND (SF_SIP_HDR_CSEQ); break;
    case 'd': CAND (SF_SIP_HDR_DATE); break;
    case 'f': CAND (SF_SIP_HDR_FROM); break;
    default: break;
    }
    break;
  case 5:
    switch (first) {
    case 'a': CAND (SF_SIP_HDR_ALLOW); break;
    case 'r': CAND (SF_SIP_HDR_ROUTE); break;
    default: break;
    }
    break;
  case 6:
    switch (first) {
    case 'a': CAND (SF_SIP_HDR_ACCEPT); break;
    case 's': CAND (SF_SIP_HDR_SERVER); break;
    default: break;
    }
    break;
  case 7:
    switch (first) {
    case 'c': CAND (SF_SIP_HDR_CALL_ID); CAND (SF_SIP_HDR_CONTACT); break;
    case 'e': CAND (SF_SIP_HDR_EXPIRES); break;
    case 'r': CAND (SF_SIP_HDR_REQUIRE); break;
    case 's': CAND (SF_SIP_HDR_SUBJECT); break;
    case 'w': CAND (SF_SIP_HDR_WARNING); break;
    default: break;
    }
    break;
  case 8:
    switch (first) {
    case 'p': CAND (SF_SIP_HDR_PRIORITY); break;
    case 'r': CAND (SF_SIP_HDR_REPLY_TO); break;
    default: break;
    }
    break;
  case 9:
    switch (first) {
    case 'c': CAND (SF_SIP_HDR_CALL_INFO); break;
    case 's': CAND (SF_SIP_HDR_SUPPORTED); break;
    case 't': CAND (SF_SIP_HDR_TIMESTAMP); break;
    default: break;
    }
    break;
  case 10:
    switch (first) {
    case 'a': CAND (SF_SIP_HDR_ALERT_INFO); break;
    case 'e': CAND (SF_SIP_HDR_ERROR_INFO); break;
    case 'u': CAND (SF_SIP_HDR_USER_AGENT); break;
    default: break;
    }
    break;
  case 11:
    switch (first) {
    case 'i': CAND (SF_SIP_HDR_IN_REPLY_TO); break;
    case 'm': CAND (SF_SIP_HDR_MIN_EXPIRES); break;
    case 'r': CAND (SF_SIP_HDR_RETRY_AFTER); break;
    case 'u': CAND (SF_SIP_HDR_UNSUPPORTED); break;
    default: break;
    }
    break;
  case 12:
    switch (first) {
    case 'c': CAND (SF_SIP_HDR_CONTENT_TYPE); break;
    case 'm': CAND (SF_SIP_HDR_MAX_FORWARDS); CAND (SF_SIP_HDR_MIME_VERSION); break;
    case 'o': CAND (SF_SIP_HDR_ORGANIZATION); break;
    case 'r': CAND (SF_SIP_HDR_RECORD_ROUTE); break;
    default: break;
    }
    break;
  case 13:
    switch (first) {
    case 'a': CAND (SF_SIP_HDR_AUTHORIZATION); break;
    case 'p': CAND (SF_SIP_HDR_PROXY_REQUIRE); break;
    default: break;
    }
    break;
  case 14:
    switch (first) {
    case 'c': CAND (SF_SIP_HDR_CONTENT_LENGTH); break;
    default: break;
    }
    break;
  case 15:
    switch (first) {
    case 'a': CAND (SF_SIP_HDR_ACCEPT_ENCODING); CAND (SF_SIP_HDR_ACCEPT_LANGUAGE); break;
    default: break;
    }
    break;
  case 16:
    switch (first) {
    case 'c': CAND (SF_SIP_HDR_CONTENT_ENCODING); CAND (SF_SIP_HDR_CONTENT_LANGUAGE); break;
    case 'w': CAND (SF_SIP_HDR_WWW_AUTHENTICATE); break;
    default: break;
    }
    break;
  case 18:
    switch (first) {
    case 'p': CAND (SF_SIP_HDR_PROXY_AUTHENTICATE); break;
    default: break;
    }
    break;
  case 19:
    switch (first) {
    case 'a': CAND (SF_SIP_HDR_AUTHENTICATION_INFO); break;
    case 'c': CAND (SF_SIP_HDR_CONTENT_DISPOSITION); break;
    case 'p': CAND (SF_SIP_HDR_PROXY_AUTHORIZATION); break;
    default: break;
    }
    break;
  default:
    break;
  }
#undef CAND
  return SF_SIP_HDR_OTHER;
}

void
sf_sip_value_free (SfSipValue *v)
{
  if (v == NULL)
    return;
  if (v->kind == SF_SIP_VAL_NAMEADDR || v->kind == SF_SIP_VAL_INFO)
    sf_sip_uri_free (v->uri);
  g_free (v->params);
  g_free (v);
}

const SfSipParam *
sf_sip_value_param (const SfSipValue *v, const char *name)
{
  gsize n = strlen (name); /* once, not per parameter */
  for (guint i = 0; i < v->n_params; i++)
    if (sf_sip_caseeq_len (v->params[i].name, name, n))
      return &v->params[i];
  return NULL;
}

/* ---- errors name the header and the offset ---- */

typedef struct {
  SfSipScan s;
  SfSipStr name;       /* the header name as written */
  GError **error;
  SfSipArena *arena;   /* nullable: values, URIs and parameters are g_malloc'd then */
  GPtrArray *out;      /* without an arena: owned values are added here */
  SfSipValues *vout;   /* with one: here */
  gboolean list;       /* parsing a list in one pass: a ',' ends an addr-spec */
  SfSipValKind kind;   /* the header's, for each value */
  gboolean trimmed;    /* the value has no LWS at either end (a message's SfSipHdr value) */
} Ctx;

static void
emit_slow (Ctx *c, SfSipValue *v)
{
  if (c->vout == NULL) {
    g_ptr_array_add (c->out, v);
    return;
  }
  SfSipValues *o = c->vout;
  guint cap = o->cap == 0 ? 4 : o->cap * 2;
  gpointer *t = sf_sip_arena_alloc0 (c->arena, cap * sizeof *t);
  if (o->len > 0)
    memcpy (t, o->pdata, o->len * sizeof *t);
  o->pdata = t;
  o->cap = cap;
  o->pdata[o->len++] = v;
}

/* Inline: a value goes into its table's free slot, mostly (a call per value
 * cost more than the store). */
static inline void
emit (Ctx *c, SfSipValue *v)
{
  SfSipValues *o = c->vout;
  if (G_LIKELY (o != NULL && o->len < o->cap))
    o->pdata[o->len++] = v;
  else
    emit_slow (c, v);
}

/* The end of the run of digits at @p before @end.  On locals: a loop on
 * c->s.p loads and stores the scanner for every byte (a char read may alias it). */
static inline const char *
digits_end (const char *p, const char *end)
{
  while (p < end && (guint) (*p - '0') < 10)
    p++;
  return p;
}

/* @n parameters of @buf into the arena (or g_malloc'd); NULL when @n is 0. */
static SfSipParam *
store_params (Ctx *c, const SfSipParam *buf, guint n)
{
  if (n == 0)
    return NULL;
  return c->arena != NULL ? sf_sip_arena_dup (c->arena, buf, n * sizeof *buf) : g_memdup2 (buf, n * sizeof *buf);
}

static gboolean
bad (Ctx *c, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
static gboolean
bad (Ctx *c, const char *fmt, ...)
{
  if (c->error == NULL || *c->error != NULL)
    return FALSE;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (c->error, SF_SIP_ERROR, SF_SIP_ERROR_SYNTAX, "%.*s: %s at offset %" G_GSIZE_FORMAT,
               (int) MIN (c->name.len, 64), c->name.p, msg, sf_sip_scan_offset (&c->s));
  return FALSE;
}

static gboolean
at_end (Ctx *c)
{
  sf_sip_scan_sws (&c->s);
  return sf_sip_scan_eof (&c->s);
}

/* gen-value = token / host / quoted-string; kept as written (quotes included). */
static gboolean
gen_value (Ctx *c, SfSipStr *out)
{
  const char *start = c->s.p;
  if (c->s.p < c->s.end && *c->s.p == '"') {
    SfSipStr inner;
    if (!sf_sip_scan_quoted (&c->s, &inner))
      return bad (c, "unterminated quoted string");
    *out = sf_sip_str (start, (gsize) (c->s.p - start));
    return TRUE;
  }
  c->s.p = sf_sip_class_span (c->s.p, c->s.end, SF_SIP_CH_GEN, ':'); /* branches, tags: sixteen bytes a step */
  if (c->s.p == start)
    return bad (c, "empty parameter value");
  *out = sf_sip_str (start, (gsize) (c->s.p - start));
  return TRUE;
}

/* *( SEMI generic-param ) */
static gboolean
params (Ctx *c, SfSipValue *v)
{
  SfSipParam a[SF_SIP_MAX_PARAMS];
  guint len = 0;
  while (sf_sip_scan_sep (&c->s, ';')) {
    SfSipParam p = { SF_SIP_STR_NULL, SF_SIP_STR_NULL };
    if (!sf_sip_scan_token (&c->s, &p.name))
      return bad (c, "empty or invalid parameter name");
    if (sf_sip_scan_sep (&c->s, '=') && !gen_value (c, &p.value))
      return FALSE;
    if (len >= SF_SIP_MAX_PARAMS)
      return bad (c, "more than %d parameters", SF_SIP_MAX_PARAMS);
    a[len++] = p;
  }
  /* The parameters the stack acts on count once: a repeat is dropped and the first
   * value wins.  The grammar allows the repeat (*( SEMI generic-param ), 25.1: a
   * tag-param is also a generic-param) and the first is the one every reader would
   * take; refusing it cost whole dialogs (a re-INVITE with To ;tag=1;tag=1). */
  static const char *const once[] = { "tag", "branch", "received", "rport", "maddr", "ttl", "expires", "q", "lr" };
  for (guint i = 1; i < len;) {
    const SfSipParam *pi = &a[i];
    gboolean repeat = FALSE;
    /* A name seen before first (names mostly differ in length: one compare
     * each), then whether it is one of those. */
    for (guint j = 0; j < i && !repeat; j++)
      repeat = sf_sip_caseeq_len (a[j].name, pi->name.p, pi->name.len);
    if (repeat) {
      repeat = FALSE;
      for (gsize k = 0; k < G_N_ELEMENTS (once) && !repeat; k++)
        repeat = sf_sip_caseeq (pi->name, once[k]);
    }
    if (repeat) {
      g_debug ("%.*s: parameter %.*s repeated, the first value kept", (int) MIN (c->name.len, 64), c->name.p,
               (int) MIN (pi->name.len, 32), pi->name.p);
      memmove (&a[i], &a[i + 1], (len - i - 1) * sizeof a[0]);
      len--;
    } else {
      i++;
    }
  }
  v->n_params = len;
  v->params = store_params (c, a, len);
  return TRUE;
}

/* Parameter @p (nullable: absent) of name @name, a number up to @max, or a
 * flag without a value where @flag_ok. */
static gboolean
number_param_is (Ctx *c, const SfSipParam *p, const char *name, guint64 max, gboolean flag_ok)
{
  guint64 n;
  if (p != NULL && !(flag_ok && !sf_sip_str_is_set (p->value)) &&
      (!sf_sip_str_is_set (p->value) || !sf_sip_dec_u64 (p->value, max, &n)))
    return bad (c, "parameter %s must be a number up to %" G_GUINT64_FORMAT, name, max);
  return TRUE;
}

static gboolean
number_param (Ctx *c, SfSipValue *v, const char *name, guint64 max, gboolean flag_ok)
{
  return number_param_is (c, sf_sip_value_param (v, name), name, max, flag_ok);
}

/* ---- Via (20.42) ---- */

static gboolean
host (Ctx *c, SfSipStr *out, SfSipHostKind *kind, gboolean brackets_optional)
{
  SfSipScan *s = &c->s;
  const char *start = s->p;
  if (s->p < s->end && *s->p == '[') {
    const char *close = memchr (s->p, ']', (gsize) (s->end - s->p));
    if (close == NULL || !sf_sip_is_ipv6 (sf_sip_str (s->p + 1, (gsize) (close - s->p - 1))))
      return bad (c, "invalid IPv6 reference");
    s->p = close + 1;
    *kind = SF_HOST_IPV6;
  } else {
    gboolean dots = FALSE; /* "a..b" is taken here: a Via host is named, not resolved by the parser */
    if (!brackets_optional)
      s->p = sf_sip_host_span (s->p, s->end, &dots);
    else
      while (s->p < s->end && (sf_sip_ch ((guchar) *s->p, SF_SIP_CH_HOST) || *s->p == ':'))
        s->p++;
    SfSipStr h = sf_sip_str (start, (gsize) (s->p - start));
    if (h.len == 0)
      return bad (c, "expected a host");
    if (brackets_optional && memchr (h.p, ':', h.len) != NULL) {
      if (!sf_sip_is_ipv6 (h))
        return bad (c, "invalid IPv6 address");
      *kind = SF_HOST_IPV6;
    } else {
      *kind = sf_sip_is_ipv4 (h) ? SF_HOST_IPV4 : SF_HOST_NAME;
      if (*kind == SF_HOST_NAME && (h.p[0] == '.' || h.p[0] == '-'))
        return bad (c, "invalid host");
    }
  }
  *out = sf_sip_str (start, (gsize) (s->p - start));
  return TRUE;
}

static gboolean
parse_via (Ctx *c, SfSipValue *v)
{
  /* "SIP/2.0/" as nearly every Via writes it: what the two tokens and the
   * first separator would take, in one compare; the white space the second
   * separator allows after it skipped as it would. */
  if (c->s.end - c->s.p >= 8 && memcmp (c->s.p, "SIP/2.0/", 8) == 0) {
    v->protocol = sf_sip_str (c->s.p, 3);
    v->version = sf_sip_str (c->s.p + 4, 3);
    c->s.p += 8;
    sf_sip_scan_sws (&c->s);
    if (!sf_sip_scan_token (&c->s, &v->transport))
      return bad (c, "expected sent-protocol SIP/2.0/TRANSPORT");
  } else if (!sf_sip_scan_token (&c->s, &v->protocol) || !sf_sip_scan_sep (&c->s, '/') ||
             !sf_sip_scan_token (&c->s, &v->version) || !sf_sip_scan_sep (&c->s, '/') ||
             !sf_sip_scan_token (&c->s, &v->transport)) {
    return bad (c, "expected sent-protocol SIP/2.0/TRANSPORT");
  }
  if (!sf_sip_scan_sws (&c->s))
    return bad (c, "expected white space before sent-by");
  if (!host (c, &v->host, &v->host_kind, FALSE))
    return FALSE;
  if (sf_sip_scan_sep (&c->s, ':')) {
    SfSipStr port;
    guint64 n;
    const char *ps = c->s.p;
    c->s.p = digits_end (ps, c->s.end);
    port = sf_sip_str (ps, (gsize) (c->s.p - ps));
    if (!sf_sip_dec_u64 (port, 65535, &n) || n == 0)
      return bad (c, "invalid port");
    v->port = (guint) n;
  }
  if (!params (c, v))
    return FALSE;
  /* The parameters checked, in one walk that tells them by length first
   * (then NAME_IS(): the names are tokens):
   * each of these names is there at most once (params() drops a repeat);
   * ttl and rport, checked after the others as before, are the first ones
   * (those sf_sip_value_param() would find) even if that ever changed. */
  const SfSipParam *ttl = NULL, *rport = NULL;
  for (guint i = 0; i < v->n_params; i++) {
    const SfSipParam *p = &v->params[i];
    switch (p->name.len) {
    case 3:
      if (ttl == NULL && NAME_IS (p->name, "ttl"))
        ttl = p;
      break;
    case 5:
      if (NAME_IS (p->name, "rport")) {
        if (rport == NULL)
          rport = p;
      }
      else if (NAME_IS (p->name, "maddr") && !sf_sip_str_is_set (p->value))
        return bad (c, "maddr needs a host");
      break;
    case 6:
      if (NAME_IS (p->name, "branch") && (!sf_sip_str_is_set (p->value) || p->value.p[0] == '"'))
        return bad (c, "branch must be a token");
      break;
    case 8:
      if (NAME_IS (p->name, "received")) {
        /* IPv4, or IPv6 with or without brackets (RFC 3261 grammar; RFC 5118 4.5) */
        SfSipStr r = p->value;
        if (r.len >= 2 && r.p[0] == '[' && r.p[r.len - 1] == ']')
          r = sf_sip_str (r.p + 1, r.len - 2);
        if (!sf_sip_str_is_set (p->value) || (!sf_sip_is_ipv4 (r) && !sf_sip_is_ipv6 (r)))
          return bad (c, "received must be an IP address");
      }
      break;
    default:
      break;
    }
  }
  return number_param_is (c, ttl, "ttl", 255, FALSE) && number_param_is (c, rport, "rport", 65535, TRUE);
}

/* ---- name-addr / addr-spec (20.10, 20.20, 20.39...) ---- */

static gboolean
uri_in (Ctx *c, SfSipValue *v, SfSipStr raw)
{
  GError *e = NULL;
  v->uri = sf_sip_uri_parse_in (raw, c->s.base, c->arena, &e);
  if (v->uri == NULL) {
    if (c->error != NULL && *c->error == NULL)
      g_set_error (c->error, SF_SIP_ERROR, e->code, "%.*s: %s", (int) MIN (c->name.len, 64), c->name.p, e->message);
    g_error_free (e);
    return FALSE;
  }
  return TRUE;
}

static gboolean
angle_uri (Ctx *c, SfSipValue *v)
{
  /* LAQUOT addr-spec RAQUOT: no white space inside (RFC 4475 badaspec). */
  const char *start = c->s.p;
  const char *close = memchr (start, '>', (gsize) (c->s.end - start));
  if (close == NULL)
    return bad (c, "no '>' closing the URI");
  if (!uri_in (c, v, sf_sip_str (start, (gsize) (close - start))))
    return FALSE;
  c->s.p = close + 1;
  return TRUE;
}

static gboolean
parse_nameaddr (Ctx *c, SfSipValue *v, gboolean star_ok)
{
  SfSipScan *s = &c->s;
  if (star_ok && sf_sip_scan_peek (s) == '*') {
    s->p++;
    v->star = TRUE;
    return params (c, v);
  }
  if (s->p < s->end && *s->p == '"') {
    if (!sf_sip_scan_quoted (s, &v->display))
      return bad (c, "unterminated quoted display name");
    v->display_quoted = TRUE;
    sf_sip_scan_sws (s);
    if (s->p >= s->end || *s->p != '<')
      return bad (c, "expected '<' after the display name");
    s->p++;
    if (!angle_uri (c, v))
      return FALSE;
  } else {
    /* A display name of tokens, or an addr-spec.  A '<' ahead at top level
     * decides: right after tokens and LWS (none of which is a quote, a bracket,
     * ';' or ','), or found by the scan that skips quotes and brackets. */
    SfSipScan look = *s;
    const char *lp = look.p;
    while (lp < look.end && sf_sip_ch ((guchar) *lp, SF_SIP_CH_TOKEN | SF_SIP_CH_LWS))
      lp++;
    look.p = lp;
    if (look.p >= look.end || *look.p != '<') {
      look = *s;
      sf_sip_scan_until (&look, "<;,");
    }
    if (look.p < look.end && *look.p == '<') {
      const char *ds = s->p;
      const char *de = ds;
      while (s->p < look.p) {
        SfSipStr tok;
        if (!sf_sip_scan_token (s, &tok))
          return bad (c, "display name is neither tokens nor a quoted string");
        de = s->p;
        sf_sip_scan_sws (s);
      }
      if (de > ds)
        v->display = sf_sip_str (ds, (gsize) (de - ds));
      s->p++;
      if (!angle_uri (c, v))
        return FALSE;
    } else {
      /* addr-spec: a URI containing ',', ';' or '?' must be in <> (20.10); ';' starts the header params,
       * ',' the next element of a list. */
      const char *us = s->p;
      while (s->p < s->end && *s->p != ';' && !(c->list && *s->p == ',') && !is_lws (*s->p))
        s->p++;
      SfSipStr raw = sf_sip_str (us, (gsize) (s->p - us));
      if (raw.len == 0)
        return bad (c, "expected a URI");
      if (memchr (raw.p, '?', raw.len) != NULL || memchr (raw.p, ',', raw.len) != NULL)
        return bad (c, "a URI with '?' or ',' must be enclosed in <>");
      if (!uri_in (c, v, raw))
        return FALSE;
    }
  }
  return params (c, v);
}

/* ---- the rest ---- */

static gboolean
parse_cseq (Ctx *c, SfSipValue *v)
{
  const char *ns = c->s.p;
  c->s.p = digits_end (ns, c->s.end);
  if (!sf_sip_dec_u64 (sf_sip_str (ns, (gsize) (c->s.p - ns)), G_MAXUINT32, &v->number))
    return bad (c, "sequence number must be an integer below 2**32");
  if (!sf_sip_scan_sws (&c->s) || !sf_sip_scan_token (&c->s, &v->text))
    return bad (c, "expected a method after the sequence number");
  return TRUE;
}

static gboolean
parse_number (Ctx *c, SfSipValue *v, guint64 max)
{
  const char *ns = c->s.p;
  c->s.p = digits_end (ns, c->s.end);
  if (!sf_sip_dec_u64 (sf_sip_str (ns, (gsize) (c->s.p - ns)), max, &v->number))
    return bad (c, "expected an integer from 0 to %" G_GUINT64_FORMAT, max);
  return TRUE;
}

static gboolean
parse_callid (Ctx *c, SfSipValue *v)
{
  const char *start = c->s.p;
  c->s.p = sf_sip_class_span (c->s.p, c->s.end, SF_SIP_CH_CALLID, '@');
  v->text = sf_sip_str (start, (gsize) (c->s.p - start));
  if (v->text.len == 0)
    return bad (c, "expected a Call-ID");
  const char *at = memchr (v->text.p, '@', v->text.len);
  if (at != NULL && (at == v->text.p || at == v->text.p + v->text.len - 1 ||
                     memchr (at + 1, '@', (gsize) (v->text.p + v->text.len - at - 1)) != NULL))
    return bad (c, "invalid Call-ID");
  return TRUE;
}

static gboolean
parse_media (Ctx *c, SfSipValue *v, gboolean ranges)
{
  const char *start = c->s.p;
  SfSipStr type, sub;
  if (!sf_sip_scan_token (&c->s, &type) || !sf_sip_scan_sep (&c->s, '/') || !sf_sip_scan_token (&c->s, &sub))
    return bad (c, "expected a media type TYPE/SUBTYPE");
  if (!ranges && (sf_sip_str_eq (type, "*") || sf_sip_str_eq (sub, "*")))
    return bad (c, "a content type cannot be a wildcard");
  v->text = sf_sip_str (start, (gsize) (c->s.p - start));
  return params (c, v);
}

static gboolean
parse_auth (Ctx *c, SfSipValue *v, gboolean has_scheme)
{
  if (has_scheme) {
    if (!sf_sip_scan_token (&c->s, &v->text))
      return bad (c, "expected an authentication scheme");
    if (!sf_sip_scan_sws (&c->s))
      return at_end (c) ? TRUE : bad (c, "expected white space after the scheme");
  }
  SfSipParam a[SF_SIP_MAX_PARAMS];
  guint len = 0;
  do {
    SfSipParam p = { SF_SIP_STR_NULL, SF_SIP_STR_NULL };
    if (!sf_sip_scan_token (&c->s, &p.name) || !sf_sip_scan_sep (&c->s, '=') || !gen_value (c, &p.value))
      return bad (c, "expected name=value authentication parameters");
    if (len >= SF_SIP_MAX_PARAMS)
      return bad (c, "more than %d parameters", SF_SIP_MAX_PARAMS);
    a[len++] = p;
  } while (sf_sip_scan_sep (&c->s, ','));
  v->n_params = len;
  v->params = store_params (c, a, len);
  return TRUE;
}

/* rfc1123-date: wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT:2DIGIT:2DIGIT SP "GMT" (20.17) */
static gboolean
parse_date (Ctx *c, SfSipValue *v)
{
  static const char *const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
  static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  SfSipStr t = sf_sip_str (c->s.p, (gsize) (c->s.end - c->s.p));
  while (t.len > 0 && (t.p[t.len - 1] == ' ' || t.p[t.len - 1] == '\t'))
    t.len--;
  gboolean ok = t.len == 29 && t.p[3] == ',' && t.p[4] == ' ' && t.p[7] == ' ' && t.p[11] == ' ' && t.p[16] == ' ' &&
                t.p[19] == ':' && t.p[22] == ':' && t.p[25] == ' ' && memcmp (t.p + 26, "GMT", 3) == 0;
  gboolean day = FALSE, month = FALSE;
  for (int i = 0; ok && i < 7; i++)
    day |= memcmp (t.p, days[i], 3) == 0;
  for (int i = 0; ok && i < 12; i++)
    month |= memcmp (t.p + 8, months[i], 3) == 0;
  static const int digits[] = { 5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24 };
  for (gsize i = 0; ok && i < G_N_ELEMENTS (digits); i++)
    ok = g_ascii_isdigit (t.p[digits[i]]);
  if (!ok || !day || !month)
    return bad (c, "expected an RFC 1123 date in GMT, like 'Sat, 13 Nov 2010 23:29:00 GMT'");
  v->text = t;
  c->s.p += t.len;
  return TRUE;
}

/* warning-value = warn-code SP warn-agent SP warn-text (20.43) */
static gboolean
parse_warning (Ctx *c, SfSipValue *v)
{
  const char *ns = c->s.p;
  c->s.p = digits_end (ns, c->s.end);
  if (c->s.p - ns != 3 || !sf_sip_dec_u64 (sf_sip_str (ns, 3), 999, &v->number))
    return bad (c, "warn-code must be three digits");
  if (!sf_sip_scan_sws (&c->s))
    return bad (c, "expected a warn-agent");
  const char *as = c->s.p;
  while (c->s.p < c->s.end && *c->s.p != ' ' && *c->s.p != '\t' && *c->s.p != '"')
    c->s.p++;
  if (c->s.p == as || !sf_sip_scan_sws (&c->s))
    return bad (c, "expected a warn-agent");
  SfSipStr text;
  if (!sf_sip_scan_quoted (&c->s, &text))
    return bad (c, "warn-text must be a quoted string");
  v->text = text;
  return TRUE;
}

static gboolean
parse_one (Ctx *c, SfSipHdrId id, SfSipValue *v)
{
  switch (id) {
  case SF_SIP_HDR_VIA:
    return parse_via (c, v);
  case SF_SIP_HDR_FROM:
  case SF_SIP_HDR_TO:
    if (!parse_nameaddr (c, v, FALSE))
      return FALSE;
    {
      const SfSipParam *tag = NULL; /* the first "tag", as sf_sip_value_param() finds it */
      for (guint i = 0; i < v->n_params && tag == NULL; i++)
        if (NAME_IS (v->params[i].name, "tag"))
          tag = &v->params[i];
      SfSipStr t = tag != NULL ? tag->value : SF_SIP_STR_NULL;
      gboolean token = sf_sip_str_is_set (t);
      for (gsize i = 0; token && i < t.len; i++)
        token = sf_sip_ch_token ((guchar) t.p[i]);
      return tag == NULL || token || bad (c, "tag must be a token");
    }
  case SF_SIP_HDR_ROUTE:
  case SF_SIP_HDR_RECORD_ROUTE:
  case SF_SIP_HDR_REPLY_TO:
    return parse_nameaddr (c, v, FALSE) &&
           ((id != SF_SIP_HDR_ROUTE && id != SF_SIP_HDR_RECORD_ROUTE) || v->uri == NULL ||
            v->raw.p[0] == '<' || v->display.len > 0 || v->display_quoted || bad (c, "a route must be a name-addr (<URI>)"));
  case SF_SIP_HDR_CONTACT:
    return parse_nameaddr (c, v, TRUE) && number_param (c, v, "expires", G_MAXUINT32, FALSE);
  case SF_SIP_HDR_CSEQ:
    return parse_cseq (c, v);
  case SF_SIP_HDR_CONTENT_LENGTH:
  case SF_SIP_HDR_EXPIRES:
  case SF_SIP_HDR_MIN_EXPIRES:
    return parse_number (c, v, G_MAXUINT32);
  case SF_SIP_HDR_MAX_FORWARDS:
    return parse_number (c, v, 255);
  case SF_SIP_HDR_RETRY_AFTER:
    if (!parse_number (c, v, G_MAXUINT32))
      return FALSE;
    if (sf_sip_scan_peek (&c->s) == '(') {
      /* comment: no nesting needed in practice, but balanced parentheses are accepted */
      int depth = 0;
      do {
        if (*c->s.p == '(')
          depth++;
        else if (*c->s.p == ')')
          depth--;
        c->s.p++;
      } while (depth > 0 && c->s.p < c->s.end);
      if (depth != 0)
        return bad (c, "unbalanced comment");
    }
    return params (c, v) && number_param (c, v, "duration", G_MAXUINT32, FALSE);
  case SF_SIP_HDR_CALL_ID:
  case SF_SIP_HDR_IN_REPLY_TO:
    return parse_callid (c, v);
  case SF_SIP_HDR_CONTENT_TYPE:
    return parse_media (c, v, FALSE);
  case SF_SIP_HDR_ACCEPT:
    return parse_media (c, v, TRUE);
  case SF_SIP_HDR_AUTHORIZATION:
  case SF_SIP_HDR_PROXY_AUTHORIZATION:
  case SF_SIP_HDR_WWW_AUTHENTICATE:
  case SF_SIP_HDR_PROXY_AUTHENTICATE:
    return parse_auth (c, v, TRUE);
  case SF_SIP_HDR_AUTHENTICATION_INFO:
    return parse_auth (c, v, FALSE);
  case SF_SIP_HDR_ALERT_INFO:
  case SF_SIP_HDR_CALL_INFO:
  case SF_SIP_HDR_ERROR_INFO:
    if (c->s.p >= c->s.end || *c->s.p != '<')
      return bad (c, "expected <URI>");
    c->s.p++;
    return angle_uri (c, v) && params (c, v);
  case SF_SIP_HDR_DATE:
    return parse_date (c, v);
  case SF_SIP_HDR_WARNING:
    return parse_warning (c, v);
  case SF_SIP_HDR_MIME_VERSION: {
    const char *ns = c->s.p;
    while (c->s.p < c->s.end && (g_ascii_isdigit (*c->s.p) || *c->s.p == '.'))
      c->s.p++;
    v->text = sf_sip_str (ns, (gsize) (c->s.p - ns));
    const char *dot = memchr (v->text.p, '.', v->text.len);
    if (dot == NULL || dot == v->text.p || dot == v->text.p + v->text.len - 1 ||
        memchr (dot + 1, '.', (gsize) (v->text.p + v->text.len - dot - 1)) != NULL)
      return bad (c, "expected DIGITS.DIGITS");
    return TRUE;
  }
  case SF_SIP_HDR_TIMESTAMP: {
    const char *ns = c->s.p;
    while (c->s.p < c->s.end && (g_ascii_isdigit (*c->s.p) || *c->s.p == '.'))
      c->s.p++;
    if (c->s.p == ns)
      return bad (c, "expected a number");
    v->text = sf_sip_str (ns, (gsize) (c->s.p - ns));
    if (sf_sip_scan_sws (&c->s))
      while (c->s.p < c->s.end && (g_ascii_isdigit (*c->s.p) || *c->s.p == '.'))
        c->s.p++;
    return TRUE;
  }
  default:
    /* Token lists: Allow, Supported, Require, Proxy-Require, Unsupported, Content-*,
     * Accept-*, Priority, Content-Disposition. */
    if (!sf_sip_scan_token (&c->s, &v->text))
      return bad (c, "expected a token");
    return params (c, v);
  }
}

/* The bytes of a value of each kind that its parser may leave unwritten:
 * zeroed.  The union's other bytes are its other kinds' (sf-sip-header.h). */
#define VALUE_COMMON G_STRUCT_OFFSET (SfSipValue, display)
#define VALUE_NAMEADDR (G_STRUCT_OFFSET (SfSipValue, star) + sizeof (gboolean))
G_STATIC_ASSERT (VALUE_COMMON == G_STRUCT_OFFSET (SfSipValue, protocol));

static inline __attribute__ ((always_inline)) SfSipValue *
new_value (Ctx *c, SfSipHdrId id)
{
  SfSipValue *v;
  if (c->arena == NULL)
    v = g_new0 (SfSipValue, 1);
  else if (c->kind == SF_SIP_VAL_VIA)
    v = sf_sip_arena_alloc0 (c->arena, sizeof *v);
  else if (c->kind == SF_SIP_VAL_NAMEADDR || c->kind == SF_SIP_VAL_INFO)
    memset ((v = sf_sip_arena_alloc (c->arena, sizeof *v)), 0, VALUE_NAMEADDR); /* constant sizes: stores */
  else
    memset ((v = sf_sip_arena_alloc (c->arena, sizeof *v)), 0, VALUE_COMMON);
  v->id = id;
  v->kind = c->kind;
  return v;
}

/* One value at c->s.p, parsed where it lies: its raw text is what its parser
 * took, trailing LWS aside.  The caller looks at what follows. */
static gboolean
parse_element (Ctx *c, SfSipHdrId id)
{
  const char *start = c->s.p;
  SfSipValue *v = new_value (c, id);
  v->raw = sf_sip_str (start, (gsize) (c->s.end - start)); /* Route's check reads its first byte */
  if (!parse_one (c, id, v)) {
    if (c->arena == NULL)
      sf_sip_value_free (v);
    return FALSE;
  }
  const char *e = c->s.p;
  while (e > start && is_lws (e[-1]))
    e--;
  v->raw = sf_sip_str (start, (gsize) (e - start));
  if (!sf_sip_str_is_set (v->text)) /* the parsers of Via, name-addr and <URI> values set none */
    v->text = v->raw;
  emit (c, v);
  return TRUE;
}

static gboolean
unexpected (Ctx *c)
{
  return bad (c, "unexpected '%c'", g_ascii_isprint (*c->s.p) ? *c->s.p : '?');
}

/* One value that must take all of @raw (a list element split off, or a single value). */
static inline __attribute__ ((always_inline)) gboolean
parse_value (SfSipHdrId id, SfSipStr raw, Ctx *c)
{
  /* c->s is not kept: each caller sets it again before it reads it. */
  sf_sip_scan_init (&c->s, raw, c->s.base);
  return parse_element (c, id) && (at_end (c) || unexpected (c));
}

static SfSipStr
trim (SfSipStr s)
{
  SfSipScan sc;
  sf_sip_scan_init (&sc, s, NULL);
  sf_sip_scan_sws (&sc);
  const char *start = sc.p, *end = sc.end;
  while (end > start && is_lws (end[-1]))
    end--;
  return sf_sip_str (start, (gsize) (end - start));
}

/* Inline in both callers: a message's values come through sf_sip_hdr_parse_in()
 * one header line at a time, and a call more per line cost more than the copy. */
static inline __attribute__ ((always_inline)) gboolean hdr_parse (Ctx *c, SfSipHdrId id, SfSipStr value,
                                                                  const char *base);

gboolean
sf_sip_hdr_parse (SfSipHdrId id, SfSipStr name, SfSipStr value, const char *base, GPtrArray *out, GError **error)
{
  Ctx c = { { 0 }, name, error, NULL, out, NULL, FALSE, SF_SIP_VAL_OPAQUE, FALSE };
  return hdr_parse (&c, id, value, base);
}

gboolean
sf_sip_hdr_parse_in (SfSipHdrId id, SfSipStr name, SfSipStr value, const char *base, SfSipArena *arena,
                     SfSipValues *out, GError **error)
{
  Ctx c; /* every field set, here or by hdr_parse() (the scanner, the kind) */
  c.name = name;
  c.error = error;
  c.arena = arena;
  c.out = NULL;
  c.vout = out;
  c.list = FALSE;
  c.trimmed = TRUE;
  return hdr_parse (&c, id, value, base);
}

static inline __attribute__ ((always_inline)) gboolean
hdr_parse (Ctx *c, SfSipHdrId id, SfSipStr value, const char *base)
{
  const SfSipHdrInfo *info = &infos[id < SF_SIP_HDR_COUNT ? id : 0];
  c->kind = info->kind;
  sf_sip_scan_init (&c->s, value, base);
  if (info->kind == SF_SIP_VAL_OPAQUE && id != SF_SIP_HDR_DATE && id != SF_SIP_HDR_WARNING &&
      id != SF_SIP_HDR_MIME_VERSION && id != SF_SIP_HDR_TIMESTAMP) {
    SfSipValue *v = new_value (c, id); /* c->kind: OPAQUE */
    v->raw = v->text = c->trimmed ? value : trim (value);
    emit (c, v);
    return TRUE;
  }
  if (info->shape != SF_SIP_HDR_LIST) {
    SfSipStr t = c->trimmed ? value : trim (value);
    if (t.len == 0)
      return bad (c, "empty value");
    return parse_value (id, t, c);
  }
  /* A comma-separated list; an empty element is an error (RFC 4475 badinv01), an
   * empty Accept is not (20.1). */
  SfSipScan s = c->s;
  /* Lists that may be empty (20.1, 20.2, 20.3, 20.5, 20.37). */
  if ((id == SF_SIP_HDR_ACCEPT || id == SF_SIP_HDR_ACCEPT_ENCODING || id == SF_SIP_HDR_ACCEPT_LANGUAGE ||
       id == SF_SIP_HDR_ALLOW || id == SF_SIP_HDR_SUPPORTED) && (c->trimmed ? value : trim (value)).len == 0)
    return TRUE;
  if (id == SF_SIP_HDR_WARNING || id == SF_SIP_HDR_IN_REPLY_TO) {
    /* Split first: a warn-agent and a Call-ID word may hold a ',' that their
     * parsers would take, where the list's comma is meant. */
    for (;;) {
      SfSipStr item = trim (sf_sip_scan_until (&s, ","));
      c->s = s;
      if (item.len == 0)
        return bad (c, "empty list element");
      if (!parse_value (id, item, c))
        return FALSE;
      if (s.p >= s.end)
        break;
      s.p++; /* the comma */
    }
    return TRUE;
  }
  /* The other lists in one pass: each element's parser stops at a ',' outside
   * quotes and <> (no token, parameter value, host or URI outside <> holds
   * one), where the list goes on; the verdicts are those of splitting on such
   * commas first, without a second look at every byte. */
  c->list = TRUE;
  for (;;) {
    sf_sip_scan_sws (&c->s);
    if (sf_sip_scan_eof (&c->s) || *c->s.p == ',')
      return bad (c, "empty list element");
    if (!parse_element (c, id))
      return FALSE;
    sf_sip_scan_sws (&c->s);
    if (sf_sip_scan_eof (&c->s))
      return TRUE;
    if (*c->s.p != ',')
      return unexpected (c);
    c->s.p++;
  }
}
