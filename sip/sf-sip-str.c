/* sf-sip-str.c: slices and the lexical scanner (RFC 3261 section 25.1). */
#include "config.h"
#include "sf-sip-str.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <string.h>

#define T (SF_SIP_CH_TOKEN | SF_SIP_CH_GEN)
/* Every unreserved byte may be in each URI part. */
#define U (SF_SIP_CH_UNRESERVED | SF_SIP_CH_USER | SF_SIP_CH_PASSWORD | SF_SIP_CH_PARAM | SF_SIP_CH_HNV)
#define UR SF_SIP_CH_USER
#define PW SF_SIP_CH_PASSWORD
#define PM SF_SIP_CH_PARAM
#define HV SF_SIP_CH_HNV
#define A (SF_SIP_CH_ALNUM | SF_SIP_CH_HOST)
#define D SF_SIP_CH_DIGIT
#define H SF_SIP_CH_HEX
#define W (SF_SIP_CH_WORD | SF_SIP_CH_CALLID)
#define C SF_SIP_CH_CTL
#define S SF_SIP_CH_SPLIT
#define L SF_SIP_CH_LWS
const guint16 sf_sip_char_class[256] = {
  [0] = C, [1] = C, [2] = C, [3] = C, [4] = C, [5] = C, [6] = C, [7] = C, [8] = C, [9] = C | L, [10] = C | L,
  [11] = C, [12] = C, [13] = C | L, [14] = C, [15] = C, [16] = C, [17] = C, [18] = C, [19] = C, [20] = C, [21] = C,
  [22] = C, [23] = C, [24] = C, [25] = C, [26] = C, [27] = C, [28] = C, [29] = C, [30] = C, [31] = C, [0x7f] = C,
  ['-'] = T | U | W | SF_SIP_CH_HOST, ['.'] = T | U | W | SF_SIP_CH_HOST,
  ['!'] = T | U | W, ['*'] = T | U | W, ['_'] = T | U | W, ['~'] = T | U | W, ['\''] = T | U | W,
  ['%'] = T | W, ['+'] = T | W | UR | PW | PM | HV, ['`'] = T | W, [' '] = L, [','] = S | UR | PW,
  [';'] = S | UR, ['&'] = UR | PW | PM, ['='] = UR | PW, ['$'] = UR | PW | PM | HV,
  ['('] = U | W, [')'] = U | W,
  ['<'] = W | S, ['>'] = W | S, [':'] = W | PM | HV | SF_SIP_CH_GEN, ['@'] = SF_SIP_CH_CALLID, ['\\'] = W | S, ['"'] = W | S, ['/'] = W | UR | PM | HV,
  ['['] = W | PM | HV | SF_SIP_CH_GEN, [']'] = W | PM | HV | SF_SIP_CH_GEN, ['?'] = W | UR | HV,
  ['{'] = W, ['}'] = W,
  ['0'] = T | U | A | D | H | W, ['1'] = T | U | A | D | H | W, ['2'] = T | U | A | D | H | W,
  ['3'] = T | U | A | D | H | W, ['4'] = T | U | A | D | H | W, ['5'] = T | U | A | D | H | W,
  ['6'] = T | U | A | D | H | W, ['7'] = T | U | A | D | H | W, ['8'] = T | U | A | D | H | W,
  ['9'] = T | U | A | D | H | W,
  ['a'] = T | U | A | H | W, ['b'] = T | U | A | H | W, ['c'] = T | U | A | H | W, ['d'] = T | U | A | H | W,
  ['e'] = T | U | A | H | W, ['f'] = T | U | A | H | W,
  ['A'] = T | U | A | H | W, ['B'] = T | U | A | H | W, ['C'] = T | U | A | H | W, ['D'] = T | U | A | H | W,
  ['E'] = T | U | A | H | W, ['F'] = T | U | A | H | W,
  ['g'] = T | U | A | W, ['h'] = T | U | A | W, ['i'] = T | U | A | W, ['j'] = T | U | A | W, ['k'] = T | U | A | W,
  ['l'] = T | U | A | W, ['m'] = T | U | A | W, ['n'] = T | U | A | W, ['o'] = T | U | A | W, ['p'] = T | U | A | W,
  ['q'] = T | U | A | W, ['r'] = T | U | A | W, ['s'] = T | U | A | W, ['t'] = T | U | A | W, ['u'] = T | U | A | W,
  ['v'] = T | U | A | W, ['w'] = T | U | A | W, ['x'] = T | U | A | W, ['y'] = T | U | A | W, ['z'] = T | U | A | W,
  ['G'] = T | U | A | W, ['H'] = T | U | A | W, ['I'] = T | U | A | W, ['J'] = T | U | A | W, ['K'] = T | U | A | W,
  ['L'] = T | U | A | W, ['M'] = T | U | A | W, ['N'] = T | U | A | W, ['O'] = T | U | A | W, ['P'] = T | U | A | W,
  ['Q'] = T | U | A | W, ['R'] = T | U | A | W, ['S'] = T | U | A | W, ['T'] = T | U | A | W, ['U'] = T | U | A | W,
  ['V'] = T | U | A | W, ['W'] = T | U | A | W, ['X'] = T | U | A | W, ['Y'] = T | U | A | W, ['Z'] = T | U | A | W,
};
#undef T
#undef U
#undef A
#undef D
#undef H
#undef W
#undef C
#undef S
#undef L
#undef UR
#undef PW
#undef PM
#undef HV

gboolean
sf_sip_str_eq (SfSipStr a, const char *lit)
{
  gsize n = strlen (lit);
  return a.len == n && (n == 0 || memcmp (a.p, lit, n) == 0);
}

gboolean
sf_sip_str_caseeq (SfSipStr a, const char *lit)
{
  return sf_sip_caseeq (a, lit);
}

gboolean
sf_sip_str_caseeq_str (SfSipStr a, SfSipStr b)
{
  return sf_sip_caseeq_len (a, b.p, b.len);
}

char *
sf_sip_str_dup (SfSipStr s)
{
  char *d = g_malloc (s.len + 1);
  if (s.len > 0)
    memcpy (d, s.p, s.len);
  d[s.len] = '\0';
  return d;
}

gboolean
sf_sip_str_to_u64 (SfSipStr s, guint64 max, guint64 *out)
{
  return sf_sip_dec_u64 (s, max, out);
}

gboolean
sf_sip_is_token_char (guchar c)
{
  return sf_sip_ch (c, SF_SIP_CH_TOKEN);
}

gboolean
sf_sip_is_unreserved (guchar c)
{
  return sf_sip_ch (c, SF_SIP_CH_UNRESERVED);
}

gboolean
sf_sip_scan_lws_at (SfSipScan *s)
{
  const char *start = s->p;
  for (;;) {
    if (s->p < s->end && (*s->p == ' ' || *s->p == '\t')) {
      s->p++;
      continue;
    }
    /* A fold: CRLF (or a bare LF) followed by SP or HTAB. */
    const char *q = s->p;
    if (q < s->end && *q == '\r')
      q++;
    if (q < s->end && *q == '\n' && q + 1 < s->end && (q[1] == ' ' || q[1] == '\t')) {
      s->p = q + 1;
      continue;
    }
    break;
  }
  return s->p != start;
}

char
sf_sip_scan_peek (SfSipScan *s)
{
  sf_sip_scan_sws (s);
  return s->p < s->end ? *s->p : '\0';
}

gboolean
sf_sip_scan_sep_lws (SfSipScan *s, char c)
{
  const char *save = s->p;
  sf_sip_scan_sws (s);
  if (s->p < s->end && *s->p == c) {
    s->p++;
    sf_sip_scan_sws (s);
    return TRUE;
  }
  s->p = save;
  return FALSE;
}

gboolean
sf_sip_scan_quoted (SfSipScan *s, SfSipStr *out)
{
  if (s->p >= s->end || *s->p != '"')
    return FALSE;
  const char *start = s->p + 1, *q = start, *end = s->end;
  for (;;) {
    /* The next '"' or '\\': sixteen bytes at a time where SSE2 is there (an
     * Authorization's nonce, response and cnonce were a tenth of a REGISTER's
     * full parse byte by byte), the last bytes one by one. */
#ifdef __SSE2__
    for (; end - q >= 16; q += 16) {
      __m128i x = _mm_loadu_si128 ((const __m128i *) (const void *) q);
      unsigned mask = (unsigned) _mm_movemask_epi8 (
        _mm_or_si128 (_mm_cmpeq_epi8 (x, _mm_set1_epi8 ('"')), _mm_cmpeq_epi8 (x, _mm_set1_epi8 ('\\'))));
      if (mask != 0) {
        q += __builtin_ctz (mask);
        break;
      }
    }
#endif
    while (q < end && *q != '"' && *q != '\\')
      q++;
    if (q >= end)
      return FALSE; /* unterminated (RFC 4475 quotbal) */
    if (*q == '"') {
      *out = sf_sip_str (start, (gsize) (q - start));
      s->p = q + 1;
      return TRUE;
    }
    /* quoted-pair: any octet but CR and LF (NUL included, RFC 4475 intmeth) */
    if (q + 1 >= end || q[1] == '\r' || q[1] == '\n')
      return FALSE;
    q += 2;
  }
}

static inline gboolean
stop_char (const char *stops, char c)
{
  for (; *stops != '\0'; stops++)
    if (*stops == c)
      return TRUE;
  return FALSE;
}

SfSipStr
sf_sip_scan_until (SfSipScan *s, const char *stops)
{
  const char *start = s->p;
  gboolean quoted = FALSE, angle = FALSE;
  /* Bytes outside SF_SIP_CH_SPLIT are skipped at once when every stop is in it
   * (the header parsers' "," and "<;,"). */
  gboolean fast = TRUE;
  for (const char *x = stops; *x != '\0'; x++)
    fast &= sf_sip_ch ((guchar) *x, SF_SIP_CH_SPLIT);
  while (s->p < s->end) {
    char c = *s->p;
    if (fast && !sf_sip_ch ((guchar) c, SF_SIP_CH_SPLIT)) { /* not a stop, a quote, a backslash or an angle bracket */
      s->p++;
      continue;
    }
    if (quoted) {
      if (c == '\\' && s->p + 1 < s->end)
        s->p++;
      else if (c == '"')
        quoted = FALSE;
    } else if (!angle && stop_char (stops, c)) {
      break;
    } else if (c == '"') {
      quoted = TRUE;
    } else if (c == '<') {
      angle = TRUE;
    } else if (c == '>') {
      angle = FALSE;
    }
    s->p++;
  }
  return sf_sip_str (start, (gsize) (s->p - start));
}

char *
sf_sip_unquote (SfSipStr s, gsize *len)
{
  char *out = g_malloc (s.len + 1);
  gsize n = 0;
  for (gsize i = 0; i < s.len; i++) {
    if (s.p[i] == '\\' && i + 1 < s.len)
      i++;
    out[n++] = s.p[i];
  }
  out[n] = '\0';
  if (len != NULL)
    *len = n;
  return out;
}
