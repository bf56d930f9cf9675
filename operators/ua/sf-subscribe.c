/* sf-subscribe.c: the parsers of RFC 6665's headers and RFC 3842's body (see
 * sf-subscribe.h).  Everything here reads text from the network: strict,
 * bounded, errors naming the header or body. */
#include "config.h"
#include "sf-subscribe.h"
#include "sip/sf-sip-str.h"
#include <gio/gio.h>
#include <string.h>

#define ERR(...) g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, __VA_ARGS__)

/* RFC 3261 25.1 token characters. */
static gboolean
tokch (char c)
{
  return g_ascii_isalnum (c) || strchr ("-.!%*_+`'~", c) != NULL;
}

static gboolean
is_ws (char c)
{
  return c == ' ' || c == '\t';
}

/* A token at *@p (LWS before skipped), up to @end; its length (0: none). */
static gsize
token_at (const char **p, const char *end)
{
  while (*p < end && is_ws (**p))
    (*p)++;
  const char *s = *p;
  while (*p < end && tokch (**p))
    (*p)++;
  return (gsize) (*p - s);
}

static void
skip_ws (const char **p, const char *end)
{
  while (*p < end && is_ws (**p))
    (*p)++;
}

/* delta-seconds: 1 to 10 digits, at most 2**32-1 (RFC 3261 25.1 leaves the
 * size open; RFC 6665's expires and retry-after are such). */
static gboolean
delta_seconds (const char *s, gsize n, gint64 *out)
{
  if (n == 0 || n > 10)
    return FALSE;
  gint64 v = 0;
  for (gsize i = 0; i < n; i++) {
    if (!g_ascii_isdigit (s[i]))
      return FALSE;
    v = v * 10 + (s[i] - '0');
  }
  if (v > G_MAXUINT32)
    return FALSE;
  *out = v;
  return TRUE;
}

/* generic-param: token [ "=" ( token / quoted-string ) ]: *@name and *@val
 * slices (val.p NULL when absent); FALSE on junk. */
static gboolean
param_at (const char **p, const char *end, SfSipStr *name, SfSipStr *val)
{
  const char *s = NULL;
  skip_ws (p, end);
  s = *p;
  gsize n = token_at (p, end);
  if (n == 0)
    return FALSE;
  *name = sf_sip_str (s, n);
  *val = sf_sip_str (NULL, 0);
  skip_ws (p, end);
  if (*p < end && **p == '=') {
    (*p)++;
    skip_ws (p, end);
    if (*p < end && **p == '"') {
      const char *q = *p + 1;
      while (q < end && *q != '"') {
        if (*q == '\\' && q + 1 < end)
          q++;
        q++;
      }
      if (q >= end)
        return FALSE;
      *val = sf_sip_str (*p + 1, (gsize) (q - *p - 1));
      *p = q + 1;
    } else {
      s = *p;
      n = token_at (p, end);
      if (n == 0)
        return FALSE;
      *val = sf_sip_str (s, n);
    }
  }
  skip_ws (p, end);
  return TRUE;
}

gboolean
sf_sub_parse_event (SfSipStr value, char **package, char **id, GError **error)
{
  const char *p = value.p, *end = value.p + value.len;
  *package = NULL;
  *id = NULL;
  skip_ws (&p, end);
  const char *s = p;
  /* event-type = event-package *( "." event-template ), each a token-nodot */
  gboolean dot_ok = FALSE;
  while (p < end && (tokch (*p))) {
    if (*p == '.') {
      if (!dot_ok)
        break;
      dot_ok = FALSE;
    } else {
      dot_ok = TRUE;
    }
    p++;
  }
  if (p == s || !dot_ok || (p < end && *p == '.')) {
    ERR ("Event: expected an event type (token-nodot *(\".\" token-nodot))");
    return FALSE;
  }
  g_autofree char *pkg = g_strndup (s, (gsize) (p - s));
  g_autofree char *idv = NULL;
  skip_ws (&p, end);
  guint nparams = 0;
  while (p < end) {
    if (*p != ';' || ++nparams > 16) {
      ERR ("Event: junk after the event type");
      return FALSE;
    }
    p++;
    SfSipStr n, v;
    if (!param_at (&p, end, &n, &v)) {
      ERR ("Event: malformed parameter");
      return FALSE;
    }
    if (sf_sip_str_caseeq (n, "id")) {
      if (v.p == NULL || idv != NULL) {
        ERR ("Event: id needs one value");
        return FALSE;
      }
      idv = sf_sip_str_dup (v);
    }
  }
  *package = g_steal_pointer (&pkg);
  *id = g_steal_pointer (&idv);
  return TRUE;
}

void
sf_sub_state_clear (SfSubState *s)
{
  g_clear_pointer (&s->state, g_free);
  g_clear_pointer (&s->reason, g_free);
}

gboolean
sf_sub_parse_state (SfSipStr value, SfSubState *out, GError **error)
{
  const char *p = value.p, *end = value.p + value.len;
  memset (out, 0, sizeof *out);
  out->expires = out->retry_after = -1;
  const char *s = p;
  skip_ws (&p, end);
  s = p;
  gsize n = token_at (&p, end);
  if (n == 0) {
    ERR ("Subscription-State: expected active, pending or terminated");
    return FALSE;
  }
  out->state = g_strndup (s, n);
  out->kind = g_ascii_strcasecmp (out->state, "active") == 0      ? SF_SUB_ACTIVE
              : g_ascii_strcasecmp (out->state, "pending") == 0    ? SF_SUB_PENDING
              : g_ascii_strcasecmp (out->state, "terminated") == 0 ? SF_SUB_TERMINATED
                                                                   : SF_SUB_OTHER;
  skip_ws (&p, end);
  guint nparams = 0;
  while (p < end) {
    SfSipStr pn, pv;
    if (*p != ';' || ++nparams > 16) {
      ERR ("Subscription-State: junk after the state");
      goto bad;
    }
    p++;
    if (!param_at (&p, end, &pn, &pv)) {
      ERR ("Subscription-State: malformed parameter");
      goto bad;
    }
    gboolean is_exp = sf_sip_str_caseeq (pn, "expires"), is_ra = sf_sip_str_caseeq (pn, "retry-after");
    if (is_exp || is_ra) {
      gint64 *dst = is_exp ? &out->expires : &out->retry_after;
      if (pv.p == NULL || *dst != -1 || !delta_seconds (pv.p, pv.len, dst)) {
        ERR ("Subscription-State: %s must be one number of seconds (0 to 4294967295)",
             is_exp ? "expires" : "retry-after");
        goto bad;
      }
    } else if (sf_sip_str_caseeq (pn, "reason")) {
      if (pv.p == NULL || out->reason != NULL) {
        ERR ("Subscription-State: reason needs one value");
        goto bad;
      }
      out->reason = g_ascii_strdown (pv.p, (gssize) pv.len);
    }
  }
  return TRUE;
bad:
  sf_sub_state_clear (out);
  return FALSE;
}

void
sf_sub_mwi_clear (SfSubMwi *m)
{
  g_clear_pointer (&m->account, g_free);
}

/* 1 to 9 digits (a count of messages). */
static gboolean
count_at (const char **p, const char *end, guint *out)
{
  skip_ws (p, end);
  const char *s = *p;
  guint v = 0;
  while (*p < end && g_ascii_isdigit (**p) && *p - s < 9)
    v = v * 10 + (guint) (*(*p)++ - '0');
  if (*p == s || (*p < end && g_ascii_isdigit (**p)))
    return FALSE;
  *out = v;
  skip_ws (p, end);
  return TRUE;
}

static gboolean
expect (const char **p, const char *end, char c)
{
  skip_ws (p, end);
  if (*p >= end || **p != c)
    return FALSE;
  (*p)++;
  return TRUE;
}

/* msg-summary-line (RFC 3842 5.2): newmsgs SLASH oldmsgs [ LPAREN new-urgentmsgs SLASH old-urgentmsgs RPAREN ] */
static gboolean
summary_counts (const char *p, const char *end, guint c[4])
{
  c[2] = c[3] = 0;
  if (!count_at (&p, end, &c[0]) || !expect (&p, end, '/') || !count_at (&p, end, &c[1]))
    return FALSE;
  if (p < end && *p == '(') {
    p++;
    if (!count_at (&p, end, &c[2]) || !expect (&p, end, '/') || !count_at (&p, end, &c[3]) || !expect (&p, end, ')'))
      return FALSE;
  }
  skip_ws (&p, end);
  return p == end;
}

gboolean
sf_sub_parse_mwi (const char *body, gsize len, SfSubMwi *out, GError **error)
{
  static const char *const classes[] = { "voice-message", "fax-message", "pager-message", "multimedia-message",
                                         "text-message", "none" }; /* RFC 3458 */
  memset (out, 0, sizeof *out);
  if (len > SF_SUB_MAX_BODY) {
    ERR ("message-summary body: longer than %d bytes", SF_SUB_MAX_BODY);
    return FALSE;
  }
  if (memchr (body, '\0', len) != NULL) {
    ERR ("message-summary body: a NUL byte");
    return FALSE;
  }
  const char *p = body, *end = body + len;
  guint lineno = 0;
  gboolean status_seen = FALSE, in_ext = FALSE;
  while (p < end) {
    const char *nl = memchr (p, '\n', (gsize) (end - p));
    const char *le = nl != NULL ? nl : end;
    const char *next = nl != NULL ? nl + 1 : end;
    if (le > p && le[-1] == '\r')
      le--;
    lineno++;
    if (lineno > 64) {
      ERR ("message-summary body: more than 64 lines");
      goto bad;
    }
    if (le == p) { /* the empty line before the optional extension headers */
      if (!status_seen) {
        ERR ("message-summary body: an empty line before Messages-Waiting");
        goto bad;
      }
      in_ext = TRUE;
      p = next;
      continue;
    }
    const char *colon = memchr (p, ':', (gsize) (le - p));
    if (colon == NULL) {
      ERR ("message-summary body: line %u has no ':'", lineno);
      goto bad;
    }
    const char *n = p;
    const char *ne = colon;
    while (ne > n && is_ws (ne[-1]))
      ne--;
    for (const char *q = n; q < ne; q++)
      if (!tokch (*q)) {
        ERR ("message-summary body: line %u: a name must be a token", lineno);
        goto bad;
      }
    SfSipStr name = sf_sip_str (n, (gsize) (ne - n));
    const char *v = colon + 1;
    skip_ws (&v, le);
    const char *ve = le;
    while (ve > v && is_ws (ve[-1]))
      ve--;
    if (name.len == 0) {
      ERR ("message-summary body: line %u has no name", lineno);
      goto bad;
    }
    if (in_ext) { /* opt-msg-headers: extension headers, read as data and left */
      p = next;
      continue;
    }
    if (!status_seen) {
      /* msg-status-line = "Messages-Waiting" HCOLON msg-status; msg-status = "yes" / "no" */
      if (!sf_sip_str_caseeq (name, "Messages-Waiting")) {
        ERR ("message-summary body: the first line must be Messages-Waiting");
        goto bad;
      }
      SfSipStr val = sf_sip_str (v, (gsize) (ve - v));
      if (sf_sip_str_caseeq (val, "yes"))
        out->waiting = TRUE;
      else if (!sf_sip_str_caseeq (val, "no")) {
        ERR ("message-summary body: Messages-Waiting must be yes or no");
        goto bad;
      }
      status_seen = TRUE;
    } else if (sf_sip_str_caseeq (name, "Message-Account")) {
      if (out->account != NULL || out->lines > 0 || ve == v || ve - v > 512) {
        ERR ("message-summary body: Message-Account must come once, second, with a URI of at most 512 bytes");
        goto bad;
      }
      out->account = g_strndup (v, (gsize) (ve - v));
    } else {
      gboolean known = FALSE;
      for (gsize i = 0; i < G_N_ELEMENTS (classes); i++)
        known = known || sf_sip_str_caseeq (name, classes[i]);
      guint c[4];
      if (!known) {
        ERR ("message-summary body: line %u: unknown message class (RFC 3458)", lineno);
        goto bad;
      }
      if (!summary_counts (v, ve, c)) {
        ERR ("message-summary body: line %u: expected NEW/OLD [(NEW_URGENT/OLD_URGENT)], counts of at most 9 digits",
             lineno);
        goto bad;
      }
      if (sf_sip_str_caseeq (name, "voice-message")) {
        if (out->have_voice) {
          ERR ("message-summary body: voice-message twice");
          goto bad;
        }
        out->have_voice = TRUE;
        out->voice_new = c[0];
        out->voice_old = c[1];
        out->voice_new_urgent = c[2];
        out->voice_old_urgent = c[3];
      }
      out->lines++;
    }
    p = next;
  }
  if (!status_seen) {
    ERR ("message-summary body: no Messages-Waiting line");
    goto bad;
  }
  return TRUE;
bad:
  sf_sub_mwi_clear (out);
  return FALSE;
}

/* The media type of a part's header block (its Content-Type line; none: text/plain, RFC 2046 5.1). */
static gboolean
part_is (SfSipStr headers, const char *ctype)
{
  const char *p = headers.p, *end = headers.p + headers.len;
  while (p < end) {
    const char *nl = memchr (p, '\n', (gsize) (end - p));
    const char *le = nl != NULL ? nl : end;
    if (le - p > 13 && g_ascii_strncasecmp (p, "Content-Type:", 13) == 0) {
      const char *v = p + 13;
      skip_ws (&v, le);
      gsize n = strlen (ctype);
      return (gsize) (le - v) >= n && g_ascii_strncasecmp (v, ctype, n) == 0 &&
             (v + n == le || v[n] == ';' || v[n] == ' ' || v[n] == '\t' || v[n] == '\r');
    }
    p = nl != NULL ? nl + 1 : end;
  }
  return FALSE;
}

gboolean
sf_sub_body_of (SfSipMsg *msg, const char *ctype, SfSipStr *out, GError **error)
{
  SfSipStr body = sf_sip_msg_body (msg);
  *out = sf_sip_str (NULL, 0);
  if (body.len == 0)
    return TRUE;
  if (body.len > SF_SUB_MAX_BODY) {
    ERR ("body: longer than %d bytes", SF_SUB_MAX_BODY);
    return FALSE;
  }
  const SfSipValue *ct = sf_sip_msg_value (msg, SF_SIP_HDR_CONTENT_TYPE, NULL);
  if (ct == NULL) {
    ERR ("Content-Type: missing or malformed for the body");
    return FALSE;
  }
  if (sf_sip_str_caseeq (ct->text, ctype)) {
    *out = body;
    return TRUE;
  }
  if (!sf_sip_str_caseeq (ct->text, "multipart/mixed") && !sf_sip_str_caseeq (ct->text, "multipart/related")) {
    ERR ("Content-Type: expected %s, or multipart/mixed or multipart/related with such a part", ctype);
    return FALSE;
  }
  g_autoptr (GError) e = NULL;
  g_autoptr (GArray) parts = sf_sip_msg_multipart (msg, &e);
  if (parts == NULL) {
    ERR ("multipart body: %s", e->message);
    return FALSE;
  }
  if (parts->len > SF_SUB_MAX_PARTS) {
    ERR ("multipart body: more than %d parts", SF_SUB_MAX_PARTS);
    return FALSE;
  }
  for (guint i = 0; i < parts->len; i++) {
    SfSipPart *part = &g_array_index (parts, SfSipPart, i);
    if (part_is (part->headers, ctype)) {
      *out = part->body;
      return TRUE;
    }
  }
  ERR ("multipart body: no %s part", ctype);
  return FALSE;
}

const char *
sf_sub_allow_events_line (void)
{
  return SF_SUB_SERVED[0] != '\0' ? "Allow-Events: " SF_SUB_SERVED : NULL;
}

const SfSipHdr *
sf_sub_header (SfSipMsg *msg, const char *name, char compact, guint *count)
{
  const SfSipHdr *first = NULL;
  guint n = 0;
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    const SfSipHdr *h = sf_sip_msg_header (msg, i);
    if (sf_sip_str_caseeq (h->name, name) ||
        (compact != 0 && h->name.len == 1 && g_ascii_tolower (h->name.p[0]) == compact)) {
      if (first == NULL)
        first = h;
      n++;
    }
  }
  if (count != NULL)
    *count = n;
  return first;
}
