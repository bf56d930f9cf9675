/* sf-sip-uri.c: URI parsing and comparison (see sf-sip-uri.h). */
#include "config.h"
#include "sf-sip-uri.h"
#include "sf-sip-arena.h"
#include <string.h>

G_DEFINE_QUARK (sf-sip-error-quark, sf_sip_error)

static gboolean
fail (GError **error, const char *base, const char *at, const char *fmt, ...) G_GNUC_PRINTF (4, 5);
static gboolean
fail (GError **error, const char *base, const char *at, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_SYNTAX, "%s at offset %" G_GSIZE_FORMAT, msg, (gsize) (at - base));
  return FALSE;
}

static inline gboolean
is_hex (guchar c)
{
  return sf_sip_ch (c, SF_SIP_CH_HEX);
}

/* Past the bytes of class @cls (unreserved and a part's extra characters:
 * SF_SIP_CH_USER...) and %HH escapes from @p: where the first other byte is. */
static inline const char *
skip_chars (const char *p, const char *end, guint16 cls)
{
  while (p < end) {
    if (sf_sip_ch ((guchar) *p, cls))
      p++;
    else if (*p == '%' && end - p > 2 && is_hex ((guchar) p[1]) && is_hex ((guchar) p[2]))
      p += 3;
    else
      break;
  }
  return p;
}

/* Whether @s is all bytes of class @cls and %HH escapes. */
static gboolean
valid_chars (SfSipStr s, guint16 cls)
{
  return skip_chars (s.p, s.p + s.len, cls) == s.p + s.len;
}

char *
sf_sip_host_dup (SfSipStr host)
{
  if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
    return g_strndup (host.p + 1, host.len - 2);
  return g_strndup (host.p, host.len);
}

/* dotted-quad: four parts of one to three digits, each at most 255 (leading
 * zeros allowed), three dots.  A part at a time rather than a byte at a time
 * with a state: an IPv4 received= on each Via of a response and an IPv4
 * Contact host were 4% of a full parse byte by byte. */
gboolean
sf_sip_is_ipv4 (SfSipStr h)
{
  if (h.len < 7 || h.len > 15) /* "0.0.0.0" to "255.255.255.255" */
    return FALSE;
  const guchar *p = (const guchar *) h.p, *end = p + h.len;
  for (guint dots = 0;; dots++) { /* p < end: the length, then the check after each dot */
    guint d = (guint) (*p - '0'); /* a digit: below 10 (one compare, no table) */
    if (d >= 10)
      return FALSE;
    guint value = d;
    p++;
    if (p < end && (d = (guint) (*p - '0')) < 10) {
      value = value * 10 + d;
      p++;
      if (p < end && (d = (guint) (*p - '0')) < 10) {
        value = value * 10 + d;
        p++;
        if (value > 255)
          return FALSE;
      }
    }
    if (p == end)
      return dots == 3;
    /* a fourth digit, a fourth dot, anything else, or nothing after the dot: not IPv4 */
    if (*p != '.' || dots == 3 || ++p == end)
      return FALSE;
  }
}

gboolean
sf_sip_is_ipv6 (SfSipStr h)
{
  /* RFC 3261's IPv6address ABNF (hexparts, an optional "::", an optional IPv4
   * tail), which admits the three-colon form RFC 5118 4.10 says to tolerate. */
  if (h.len < 2 || h.len > 45)
    return FALSE;
  int colons = 0, group = 0;
  gsize last_colon = 0;
  for (gsize i = 0; i < h.len; i++) {
    char c = h.p[i];
    if (c == ':') {
      colons++;
      group = 0;
      last_colon = i;
    } else if (is_hex ((guchar) c)) {
      if (++group > 4)
        return FALSE;
    } else if (c == '.') {
      /* An IPv4 tail after the last colon. */
      return colons >= 2 && sf_sip_is_ipv4 (sf_sip_str (h.p + last_colon + 1, h.len - last_colon - 1));
    } else {
      return FALSE;
    }
  }
  /* At most one "::" (RFC 4291 2.2; RFC 5118's three-colon form is the one
   * tolerated exception, and it has an IPv4 tail, handled above). */
  const char *dbl = g_strstr_len (h.p, (gssize) h.len, "::");
  if (dbl != NULL && g_strstr_len (dbl + 2, (gssize) (h.p + h.len - dbl - 2), "::") != NULL)
    return FALSE;
  return colons >= 2 && colons <= 7 + (dbl != NULL);
}


/* host [":" port] at *p .. end; advances *p past it.  @span: where the run
 * of hostname bytes from *p ends when the caller found it (@dots: whether it
 * holds "..") or NULL. */
static gboolean
parse_hostport (SfSipUri *u, const char **pp, const char *end, const char *span, gboolean dots, const char *base,
                GError **error)
{
  const char *p = *pp;
  const char *h = p;
  if (p < end && *p == '[') {
    const char *close = memchr (p, ']', (gsize) (end - p));
    if (close == NULL)
      return fail (error, base, p, "URI: unterminated IPv6 reference");
    if (!sf_sip_is_ipv6 (sf_sip_str (p + 1, (gsize) (close - p - 1))))
      return fail (error, base, p, "URI: invalid IPv6 reference");
    p = close + 1;
    u->host_kind = SF_HOST_IPV6;
  } else {
    /* A hostname or an IPv4 address: alphanum, '-' and '.', no empty label
     * (".."), not starting with '.' or '-', at most 255 bytes; in one pass. */
    p = span != NULL ? span : sf_sip_host_span (p, end, &dots);
    SfSipStr host = sf_sip_str (h, (gsize) (p - h));
    if (host.len == 0 || host.len > 255 || dots || *h == '.' || *h == '-')
      return fail (error, base, h, "URI: invalid host");
    u->host_kind = g_ascii_isdigit (*h) && sf_sip_is_ipv4 (host) ? SF_HOST_IPV4 : SF_HOST_NAME;
  }
  u->host = sf_sip_str (h, (gsize) (p - h));
  if (p < end && *p == ':') {
    const char *ps = ++p;
    while (p < end && g_ascii_isdigit (*p))
      p++;
    guint64 port;
    if (!sf_sip_dec_u64 (sf_sip_str (ps, (gsize) (p - ps)), 65535, &port) || port == 0)
      return fail (error, base, ps, "URI: invalid port");
    u->port = (guint) port;
  }
  *pp = p;
  return TRUE;
}

static gboolean unescaped_equal (SfSipStr a, SfSipStr b, gboolean nocase);

static gboolean
same_name (SfSipStr a, SfSipStr b)
{
  return unescaped_equal (a, b, TRUE);
}

/* @n parameters of @buf, copied into @arena (or g_malloc'd without one); NULL when @n is 0. */
static SfSipParam *
store_params (SfSipArena *arena, const SfSipParam *buf, guint n)
{
  if (n == 0)
    return NULL;
  return arena != NULL ? sf_sip_arena_dup (arena, buf, n * sizeof *buf) : g_memdup2 (buf, n * sizeof *buf);
}

/* Whether @c ends a parameter name or value: ';', '?' when @stop_q, NUL, and '=' when @eq. */
static inline gboolean
ends_param (char c, gboolean stop_q, gboolean eq)
{
  return c == ';' || c == '\0' || (stop_q && c == '?') || (eq && c == '=');
}

/* ;name[=value] pairs up to '?' (when @stop_q) or the end; each name and value
 * of param-unreserved bytes and escapes.  One pass: a byte that may not be
 * there is found where the scan for the end stops. */
static gboolean
parse_params (const char **pp, const char *end, gboolean stop_q, SfSipParam **out, guint *n, SfSipArena *arena,
              const char *base, GError **error)
{
  const char *p = *pp;
  SfSipParam a[SF_SIP_MAX_PARAMS];
  guint len = 0;
  while (p < end && *p == ';') {
    p++;
    const char *ns = p;
    p = skip_chars (p, end, SF_SIP_CH_PARAM);
    if (p == ns || (p < end && !ends_param (*p, stop_q, TRUE))) {
      while (p < end && !ends_param (*p, stop_q, TRUE))
        p++; /* the whole name, for the message */
      return fail (error, base, ns, "URI: invalid parameter name '%.*s'", (int) MIN (p - ns, 32), ns);
    }
    SfSipParam prm = { sf_sip_str (ns, (gsize) (p - ns)), SF_SIP_STR_NULL };
    if (p < end && *p == '=') {
      const char *vs = ++p;
      p = skip_chars (p, end, SF_SIP_CH_PARAM);
      prm.value = sf_sip_str (vs, (gsize) (p - vs));
      if (prm.value.len == 0 || (p < end && !ends_param (*p, stop_q, FALSE)))
        return fail (error, base, vs, "URI: parameter '%.*s' has an invalid value", (int) MIN (prm.name.len, 32),
                     prm.name.p);
    }
    if (len >= SF_SIP_MAX_PARAMS) {
      g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT, "URI: more than %d parameters", SF_SIP_MAX_PARAMS);
      return FALSE;
    }
    /* "any given parameter name MUST NOT appear more than once" (19.1.1), but a
     * repeat has one reading: the first value, as every lookup takes it.  The
     * repeat is dropped (a debug message) rather than the whole message. */
    gboolean repeat = FALSE;
    for (guint i = 0; i < len && !repeat; i++)
      repeat = same_name (a[i].name, prm.name);
    if (repeat)
      g_debug ("URI: parameter '%.*s' repeated, the first value kept", (int) MIN (prm.name.len, 32), prm.name.p);
    else
      a[len++] = prm;
  }
  *n = len;
  *out = store_params (arena, a, len);
  *pp = p;
  return TRUE;
}

static gboolean
parse_headers (SfSipUri *u, const char **pp, const char *end, SfSipArena *arena, const char *base, GError **error)
{
  const char *p = *pp;
  if (p >= end || *p != '?')
    return TRUE;
  SfSipParam a[SF_SIP_MAX_PARAMS];
  guint len = 0;
  do {
    p++;
    const char *ns = p;
    while (p < end && *p != '=' && *p != '&')
      p++;
    SfSipParam h = { sf_sip_str (ns, (gsize) (p - ns)), SF_SIP_STR_NULL };
    if (p >= end || *p != '=' || h.name.len == 0 || !valid_chars (h.name, SF_SIP_CH_HNV))
      return fail (error, base, ns, "URI: invalid header");
    const char *vs = ++p;
    while (p < end && *p != '&')
      p++;
    h.value = sf_sip_str (vs, (gsize) (p - vs));
    if (!valid_chars (h.value, SF_SIP_CH_HNV))
      return fail (error, base, vs, "URI: invalid header value");
    if (len >= SF_SIP_MAX_PARAMS) {
      g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT, "URI: more than %d headers", SF_SIP_MAX_PARAMS);
      return FALSE;
    }
    a[len++] = h;
  } while (p < end && *p == '&');
  u->n_headers = len;
  u->headers = store_params (arena, a, len);
  *pp = p;
  return TRUE;
}

static gboolean
parse_sip (SfSipUri *u, const char *p, const char *end, SfSipArena *arena, const char *base, GError **error)
{
  /* The run of hostname bytes first: it is the host when no '@' follows (no
   * user part), and the user when an '@' ends it (hostname bytes are user
   * bytes, and none is '@' or ':'): most URIs are read once.  Else the user
   * part by its '@' and ':' as the grammar has it. */
  gboolean dots = FALSE;
  const char *span = sf_sip_host_span (p, end, &dots);
  const char *at = span < end && *span == '@' ? span : memchr (span, '@', (gsize) (end - span));
  if (at == span && span > p) {
    u->user = sf_sip_str (p, (gsize) (span - p));
    p = at + 1;
    span = NULL;
  } else if (at != NULL) {
    span = NULL;
    const char *colon = memchr (p, ':', (gsize) (at - p));
    const char *uend = colon != NULL ? colon : at;
    u->user = sf_sip_str (p, (gsize) (uend - p));
    if (u->user.len == 0 || !valid_chars (u->user, SF_SIP_CH_USER))
      return fail (error, base, p, "URI: invalid user part");
    if (colon != NULL) {
      u->password = sf_sip_str (colon + 1, (gsize) (at - colon - 1));
      if (!valid_chars (u->password, SF_SIP_CH_PASSWORD))
        return fail (error, base, colon + 1, "URI: invalid password");
    }
    p = at + 1;
  }
  if (!parse_hostport (u, &p, end, span, dots, base, error))
    return FALSE;
  /* Most URIs have no header and one parameter or none: no call then. */
  if (p < end && *p == ';' && !parse_params (&p, end, TRUE, &u->params, &u->n_params, arena, base, error))
    return FALSE;
  if (p < end && *p == '?' && !parse_headers (u, &p, end, arena, base, error))
    return FALSE;
  if (p != end)
    return fail (error, base, p, "URI: unexpected character '%c'", g_ascii_isprint (*p) ? *p : '?');
  return TRUE;
}

static gboolean
parse_tel (SfSipUri *u, const char *p, const char *end, SfSipArena *arena, const char *base, GError **error)
{
  const char *ns = p;
  if (p < end && *p == '+')
    p++;
  while (p < end && (is_hex ((guchar) *p) || strchr ("*#-.()", *p) != NULL) && *p != '\0')
    p++;
  u->user = sf_sip_str (ns, (gsize) (p - ns));
  gboolean any_digit = FALSE;
  for (gsize i = 0; i < u->user.len; i++)
    if (is_hex ((guchar) u->user.p[i]) || u->user.p[i] == '*' || u->user.p[i] == '#')
      any_digit = TRUE;
  if (!any_digit)
    return fail (error, base, ns, "tel URI: no number");
  if (!parse_params (&p, end, FALSE, &u->params, &u->n_params, arena, base, error))
    return FALSE;
  if (p != end)
    return fail (error, base, p, "tel URI: unexpected character");
  if (u->user.p[0] != '+' && sf_sip_uri_param (u, "phone-context") == NULL)
    return fail (error, base, ns, "tel URI: a local number needs a phone-context (RFC 3966 5.1.5)");
  return TRUE;
}

SfSipUri *
sf_sip_uri_parse (SfSipStr s, const char *base, GError **error)
{
  return sf_sip_uri_parse_in (s, base, NULL, error);
}

SfSipUri *
sf_sip_uri_parse_in (SfSipStr s, const char *base, SfSipArena *arena, GError **error)
{
  if (base == NULL)
    base = s.p;
  if (s.len > SF_SIP_MAX_URI_LEN) {
    g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT, "URI longer than %d bytes at offset %" G_GSIZE_FORMAT,
                 SF_SIP_MAX_URI_LEN, (gsize) (s.p - base));
    return NULL;
  }
  const char *p = s.p, *end = s.p + s.len;
  /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
  if (p >= end || !g_ascii_isalpha (*p)) {
    fail (error, base, p, "URI: no scheme");
    return NULL;
  }
  gboolean sip = FALSE; /* the scheme is sip or sips, known here (no second compare below) */
  if (end - p > 4 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'p' &&
      (p[3] == ':' || ((p[3] | 0x20) == 's' && p[4] == ':'))) {
    p += p[3] == ':' ? 3 : 4; /* sip: and sips:, nearly every URI */
    sip = TRUE;
  } else
    while (p < end && (g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.'))
      p++;
  if (p >= end || *p != ':') {
    fail (error, base, p, "URI: no ':' after the scheme");
    return NULL;
  }
  SfSipUri *u = arena != NULL ? sf_sip_arena_alloc0 (arena, sizeof *u) : g_new0 (SfSipUri, 1);
  u->raw = s;
  u->scheme = sf_sip_str (s.p, (gsize) (p - s.p));
  p++;
  gboolean ok;
  if (sip || sf_sip_caseeq (u->scheme, "sip") || sf_sip_caseeq (u->scheme, "sips")) {
    u->kind = u->scheme.len == 3 ? SF_URI_SIP : SF_URI_SIPS;
    ok = parse_sip (u, p, end, arena, base, error);
  } else if (sf_sip_caseeq (u->scheme, "tel")) {
    u->kind = SF_URI_TEL;
    ok = parse_tel (u, p, end, arena, base, error);
  } else {
    u->kind = SF_URI_OTHER;
    u->opaque = sf_sip_str (p, (gsize) (end - p));
    ok = u->opaque.len > 0;
    for (gsize i = 0; ok && i < u->opaque.len; i++)
      if ((guchar) u->opaque.p[i] <= ' ' || u->opaque.p[i] == '<' || u->opaque.p[i] == '>' ||
          u->opaque.p[i] == '"' || (guchar) u->opaque.p[i] == 0x7f)
        ok = FALSE;
    if (!ok)
      fail (error, base, p, "URI: invalid characters in a %.*s URI", (int) MIN (u->scheme.len, 32), u->scheme.p);
  }
  if (!ok) {
    if (arena == NULL)
      sf_sip_uri_free (u);
    return NULL;
  }
  return u;
}

void
sf_sip_uri_free (SfSipUri *uri)
{
  if (uri == NULL)
    return;
  g_free (uri->params);
  g_free (uri->headers);
  g_free (uri);
}

const SfSipParam *
sf_sip_uri_param (const SfSipUri *uri, const char *name)
{
  for (guint i = 0; i < uri->n_params; i++)
    if (sf_sip_caseeq (uri->params[i].name, name))
      return &uri->params[i];
  return NULL;
}

char *
sf_sip_unescape (SfSipStr s, gsize *len)
{
  char *out = g_malloc (s.len + 1);
  gsize n = 0;
  for (gsize i = 0; i < s.len; i++) {
    if (s.p[i] == '%' && i + 2 < s.len && is_hex ((guchar) s.p[i + 1]) &&
        is_hex ((guchar) s.p[i + 2])) {
      out[n++] = (char) (g_ascii_xdigit_value (s.p[i + 1]) * 16 + g_ascii_xdigit_value (s.p[i + 2]));
      i += 2;
    } else {
      out[n++] = s.p[i];
    }
  }
  out[n] = '\0';
  if (len != NULL)
    *len = n;
  return out;
}

/* Compares two escaped strings after unescaping, exactly or case-insensitively. */
static gboolean
unescaped_equal (SfSipStr a, SfSipStr b, gboolean nocase)
{
  gsize la, lb;
  g_autofree char *x = sf_sip_unescape (a, &la);
  g_autofree char *y = sf_sip_unescape (b, &lb);
  if (la != lb)
    return FALSE;
  if (!nocase)
    return memcmp (x, y, la) == 0;
  for (gsize i = 0; i < la; i++) /* not strncasecmp: an unescaped %00 must not end the comparison */
    if (g_ascii_tolower (x[i]) != g_ascii_tolower (y[i]))
      return FALSE;
  return TRUE;
}

static const SfSipParam *
find_param (const SfSipParam *v, guint n, SfSipStr name)
{
  for (guint i = 0; i < n; i++)
    if (unescaped_equal (v[i].name, name, TRUE))
      return &v[i];
  return NULL;
}

static gboolean
param_values_equal (const SfSipParam *a, const SfSipParam *b)
{
  if (sf_sip_str_is_set (a->value) != sf_sip_str_is_set (b->value))
    return FALSE;
  return !sf_sip_str_is_set (a->value) || unescaped_equal (a->value, b->value, TRUE);
}

static guint
count_header (const SfSipUri *u, const SfSipParam *h)
{
  guint n = 0;
  for (guint i = 0; i < u->n_headers; i++)
    if (unescaped_equal (u->headers[i].name, h->name, TRUE) && param_values_equal (&u->headers[i], h))
      n++;
  return n;
}

/* RFC 3966 section 4: numbers compare without visual separators. */
static char *
tel_digits (SfSipStr n)
{
  GString *s = g_string_new (NULL);
  for (gsize i = 0; i < n.len; i++)
    if (strchr ("-.()", n.p[i]) == NULL)
      g_string_append_c (s, g_ascii_tolower (n.p[i]));
  return g_string_free (s, FALSE);
}

gboolean
sf_sip_uri_equal (const SfSipUri *a, const SfSipUri *b)
{
  if (a->kind != b->kind)
    return FALSE;
  if (a->kind == SF_URI_OTHER)
    return sf_sip_str_caseeq_str (a->scheme, b->scheme) && a->opaque.len == b->opaque.len &&
           memcmp (a->opaque.p, b->opaque.p, a->opaque.len) == 0;
  if (a->kind == SF_URI_TEL) {
    g_autofree char *x = tel_digits (a->user), *y = tel_digits (b->user);
    if (strcmp (x, y) != 0)
      return FALSE;
  } else {
    /* userinfo: case-sensitive, escapes equivalent; host: case-insensitive; ports: as written. */
    if (!unescaped_equal (a->user, b->user, FALSE) || !unescaped_equal (a->password, b->password, FALSE))
      return FALSE;
    if (!sf_sip_str_caseeq_str (a->host, b->host) || a->port != b->port)
      return FALSE;
  }
  /* Parameters: user, ttl, method, maddr and transport must appear in both or neither
   * (19.1.4); any parameter in both must match; others are ignored.  tel: all must match. */
  static const char *const must[] = { "user", "ttl", "method", "maddr", "transport" };
  for (int pass = 0; pass < 2; pass++) {
    const SfSipUri *x = pass == 0 ? a : b, *y = pass == 0 ? b : a;
    for (guint i = 0; i < x->n_params; i++) {
      const SfSipParam *other = find_param (y->params, y->n_params, x->params[i].name);
      if (other != NULL) {
        if (!param_values_equal (&x->params[i], other))
          return FALSE;
        continue;
      }
      if (a->kind == SF_URI_TEL)
        return FALSE;
      for (gsize k = 0; k < G_N_ELEMENTS (must); k++)
        if (sf_sip_caseeq (x->params[i].name, must[k]))
          return FALSE;
    }
    /* Headers are never ignored: each must be in both, as often (a header may repeat). */
    for (guint i = 0; i < x->n_headers; i++)
      if (count_header (x, &x->headers[i]) != count_header (y, &x->headers[i]))
        return FALSE;
  }
  return TRUE;
}
