/* sf-sip-str.h: byte slices and the scanner the SIP parsers share.
 *
 * A parsed message keeps the received bytes in one GBytes; every value is a
 * slice (pointer + length) into them, parsed on demand (docs/style.md, Kamailio's
 * str).  Slices are never NUL-terminated and may hold NUL bytes (RFC 4475
 * intmeth, escnull).  The scanner implements RFC 3261 section 25's lexical
 * rules: LWS with line folding (a CRLF followed by SP or HTAB), tokens,
 * quoted strings with quoted-pairs, and the separators with optional white
 * space around them (SWS). */
#pragma once
#include <glib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

G_BEGIN_DECLS

typedef struct {
  const char *p;   /* unowned, nullable when len is 0 */
  gsize len;
} SfSipStr;

#define SF_SIP_STR_NULL ((SfSipStr) { NULL, 0 })
#define SF_SIP_STR_LIT(s) ((SfSipStr) { (s), sizeof (s) - 1 })

static inline SfSipStr
sf_sip_str (const char *p, gsize len)
{
  SfSipStr s = { p, len };
  return s;
}

static inline gboolean
sf_sip_str_is_set (SfSipStr s)
{
  return s.p != NULL;
}

gboolean sf_sip_str_eq (SfSipStr a, const char *lit);       /* exact */
gboolean sf_sip_str_caseeq (SfSipStr a, const char *lit);   /* ASCII case-insensitive */
gboolean sf_sip_str_caseeq_str (SfSipStr a, SfSipStr b);
/* (transfer full) a NUL-terminated copy; NUL bytes inside stay (use the length). */
char *sf_sip_str_dup (SfSipStr s);
/* Parses a decimal of at most @max (no sign, leading zeros allowed, at most 20 digits). */
gboolean sf_sip_str_to_u64 (SfSipStr s, guint64 max, guint64 *out);

/* Character classes of RFC 3261 section 25.1. */
gboolean sf_sip_is_token_char (guchar c);
gboolean sf_sip_is_unreserved (guchar c);

/* The same classes as a table, for the parsers' inner loops: a function call
 * per byte (and one to strchr inside it) was a tenth of a parse. */
enum {
  SF_SIP_CH_TOKEN = 1 << 0,      /* token (25.1) */
  SF_SIP_CH_UNRESERVED = 1 << 1, /* unreserved (25.1) */
  SF_SIP_CH_ALNUM = 1 << 2,
  SF_SIP_CH_DIGIT = 1 << 3,
  SF_SIP_CH_HEX = 1 << 4,
  SF_SIP_CH_WORD = 1 << 5,       /* word (25.1, Call-ID): token and ()<>:\"/[]?{} */
  SF_SIP_CH_HOST = 1 << 6,       /* hostname characters: alphanum, '-', '.' */
  SF_SIP_CH_CTL = 1 << 7,        /* CTL: 0x00-0x1f and DEL */
  SF_SIP_CH_SPLIT = 1 << 8,      /* what sf_sip_scan_until() looks at: " \\ < > , ; */
  SF_SIP_CH_LWS = 1 << 9,        /* SP, HTAB, CR, LF: where LWS may start */
  /* What a URI part may hold besides escapes (19.1.1, 25.1): unreserved and */
  SF_SIP_CH_USER = 1 << 10,      /* user-unreserved: & = + $ , ; ? / */
  SF_SIP_CH_PASSWORD = 1 << 11,  /* & = + $ , */
  SF_SIP_CH_PARAM = 1 << 12,     /* param-unreserved: [ ] / : & + $ */
  SF_SIP_CH_HNV = 1 << 13,       /* hnv-unreserved: [ ] / ? : + $ */
  SF_SIP_CH_CALLID = 1 << 14,    /* word and '@': what a Call-ID is scanned over */
  SF_SIP_CH_GEN = 1 << 15,       /* token and : [ ]: an unquoted gen-value (a host or an IPv6 reference) */
};
extern const guint16 sf_sip_char_class[256];

static inline gboolean
sf_sip_ch (guchar c, guint16 cls)
{
  return (sf_sip_char_class[c] & cls) != 0;
}

static inline char
sf_sip_lower (char c)
{
  return c >= 'A' && c <= 'Z' ? (char) (c + ('a' - 'A')) : c;
}

/* @a equals the @n bytes at @b, ASCII case-insensitively (NUL bytes compare as bytes). */
static inline gboolean
sf_sip_caseeq_len (SfSipStr a, const char *b, gsize n)
{
  if (a.len != n)
    return FALSE;
  for (gsize i = 0; i < n; i++) /* equal bytes first: most names are written as compared */
    if (a.p[i] != b[i] && sf_sip_lower (a.p[i]) != sf_sip_lower (b[i]))
      return FALSE;
  return TRUE;
}

/* sf_sip_str_caseeq() inlined: with a literal, the compiler folds the strlen. */
static inline gboolean
sf_sip_caseeq (SfSipStr a, const char *lit)
{
  return sf_sip_caseeq_len (a, lit, strlen (lit));
}

/* The end of the run of hostname bytes (SF_SIP_CH_HOST: alphanum, '-', '.')
 * from @p before @end; *@dots TRUE when two dots are adjacent in it (an
 * empty label), else unchanged.  Sixteen bytes at a time where SSE2 is there
 * (every x86-64): a byte loop was a tenth of a full parse (five URIs and a
 * Via host a message). */
static inline const char *
sf_sip_host_span (const char *p, const char *end, gboolean *dots)
{
  unsigned prev_dot = 0; /* the byte before p was a dot */
#ifdef __SSE2__
  for (; end - p >= 16; p += 16) {
    __m128i x = _mm_loadu_si128 ((const __m128i *) (const void *) p);
    /* Letters by their lower case (OR 0x20 maps only the upper-case letters
     * onto lower-case ones); digits, '-' and '.' as they are (OR 0x20 would
     * map control bytes onto them).  Signed compares: bytes from 0x80 are
     * negative, below every bound. */
    __m128i lo = _mm_or_si128 (x, _mm_set1_epi8 (0x20));
    __m128i letter = _mm_and_si128 (_mm_cmpgt_epi8 (lo, _mm_set1_epi8 ('a' - 1)),
                                    _mm_cmpgt_epi8 (_mm_set1_epi8 ('z' + 1), lo));
    __m128i digit = _mm_and_si128 (_mm_cmpgt_epi8 (x, _mm_set1_epi8 ('0' - 1)),
                                   _mm_cmpgt_epi8 (_mm_set1_epi8 ('9' + 1), x));
    __m128i dot = _mm_cmpeq_epi8 (x, _mm_set1_epi8 ('.'));
    __m128i ok = _mm_or_si128 (_mm_or_si128 (letter, digit), _mm_or_si128 (dot, _mm_cmpeq_epi8 (x, _mm_set1_epi8 ('-'))));
    unsigned bad = ~(unsigned) _mm_movemask_epi8 (ok) & 0xffffu; /* bit i: byte i, in memory order */
    unsigned dm = (unsigned) _mm_movemask_epi8 (dot);
    if (bad != 0) {
      unsigned n = (unsigned) __builtin_ctz (bad);
      dm &= (1u << n) - 1; /* the dots before the first other byte */
      if ((dm & (dm >> 1)) != 0 || (prev_dot & dm) != 0)
        *dots = TRUE;
      return p + n;
    }
    if ((dm & (dm >> 1)) != 0 || (prev_dot & dm) != 0)
      *dots = TRUE;
    prev_dot = dm >> 15;
  }
#endif
  for (; p < end && sf_sip_ch ((guchar) *p, SF_SIP_CH_HOST); p++) {
    unsigned d = *p == '.';
    if (d & prev_dot)
      *dots = TRUE;
    prev_dot = d;
  }
  return p;
}

/* The end of the run of bytes of class @cls from @p before @end, for a class
 * that holds alphanumerics, '-', '.' and @extra (tokens, Call-ID words):
 * those sixteen at a time where SSE2 is there (most of a header name's or a
 * Call-ID's bytes), the class's other bytes one by one. */
static inline const char *
sf_sip_class_span (const char *p, const char *end, guint16 cls, char extra)
{
#ifdef __SSE2__
  for (; end - p >= 16; p += 16) {
    __m128i x = _mm_loadu_si128 ((const __m128i *) (const void *) p);
    __m128i lo = _mm_or_si128 (x, _mm_set1_epi8 (0x20)); /* as in sf_sip_host_span() */
    __m128i letter = _mm_and_si128 (_mm_cmpgt_epi8 (lo, _mm_set1_epi8 ('a' - 1)),
                                    _mm_cmpgt_epi8 (_mm_set1_epi8 ('z' + 1), lo));
    __m128i digit = _mm_and_si128 (_mm_cmpgt_epi8 (x, _mm_set1_epi8 ('0' - 1)),
                                   _mm_cmpgt_epi8 (_mm_set1_epi8 ('9' + 1), x));
    __m128i punct = _mm_or_si128 (_mm_or_si128 (_mm_cmpeq_epi8 (x, _mm_set1_epi8 ('.')), _mm_cmpeq_epi8 (x, _mm_set1_epi8 ('-'))),
                                  _mm_cmpeq_epi8 (x, _mm_set1_epi8 (extra)));
    unsigned bad = ~(unsigned) _mm_movemask_epi8 (_mm_or_si128 (_mm_or_si128 (letter, digit), punct)) & 0xffffu;
    if (bad != 0) {
      p += __builtin_ctz (bad);
      break; /* the bytes from there one by one */
    }
  }
#endif
  while (p < end && sf_sip_ch ((guchar) *p, cls))
    p++;
  return p;
}

/* Token bytes (SF_SIP_CH_TOKEN): a header name. */
static inline const char *
sf_sip_token_span (const char *p, const char *end)
{
  return sf_sip_class_span (p, end, SF_SIP_CH_TOKEN, '-');
}

/* The same inline, for the parsers (a CSeq, a length, a port: a call each
 * cost as much as the digits). */
static inline gboolean
sf_sip_dec_u64 (SfSipStr s, guint64 max, guint64 *out)
{
  if (s.len == 0 || s.len > 20)
    return FALSE;
  guint64 v = 0;
  for (gsize i = 0; i < s.len; i++) {
    if (!sf_sip_ch ((guchar) s.p[i], SF_SIP_CH_DIGIT))
      return FALSE;
    guint d = (guint) (s.p[i] - '0');
    /* 19 digits cannot overflow (10^19 - 1 < 2^64): only a 20th is checked,
     * without a division per digit. */
    if (i == 19 && v > (G_MAXUINT64 - d) / 10)
      return FALSE;
    v = v * 10 + d;
  }
  if (v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

/* ---- the scanner ---- */
typedef struct {
  const char *p;      /* current position */
  const char *end;
  const char *base;   /* start of the message, for error offsets */
} SfSipScan;

static inline void
sf_sip_scan_init (SfSipScan *s, SfSipStr str, const char *base)
{
  s->p = str.p;
  s->end = str.p + str.len;
  s->base = base != NULL ? base : str.p;
}

static inline gboolean
sf_sip_scan_eof (const SfSipScan *s)
{
  return s->p >= s->end;
}

static inline gsize
sf_sip_scan_offset (const SfSipScan *s)
{
  return (gsize) (s->p - s->base);
}

/* Skips LWS (SP, HTAB, and folds).  Returns TRUE when it skipped anything. */
gboolean sf_sip_scan_lws_at (SfSipScan *s);
static inline gboolean
sf_sip_scan_sws (SfSipScan *s)
{
  /* Mostly there is none: one look-up.  Else spaces, skipped here; a CR or
   * LF may start a fold: the function looks. */
  if (s->p >= s->end || !sf_sip_ch ((guchar) *s->p, SF_SIP_CH_LWS))
    return FALSE;
  const char *start = s->p, *p = start, *end = s->end;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  s->p = p;
  if (p < end && (*p == '\r' || *p == '\n'))
    sf_sip_scan_lws_at (s);
  return s->p != start;
}
/* The slow path of sf_sip_scan_sep(): LWS before the separator. */
gboolean sf_sip_scan_sep_lws (SfSipScan *s, char c);
/* After optional LWS, consumes @c and the LWS after it (RFC 3261 25.1 SEMI,
 * COLON, EQUAL...; @c is never a LWS byte).  Inline: the separator or another
 * byte is mostly right there. */
static inline gboolean
sf_sip_scan_sep (SfSipScan *s, char c)
{
  if (s->p < s->end && *s->p == c) {
    s->p++;
    sf_sip_scan_sws (s);
    return TRUE;
  }
  if (s->p >= s->end || !sf_sip_ch ((guchar) *s->p, SF_SIP_CH_LWS))
    return FALSE;
  return sf_sip_scan_sep_lws (s, c);
}
/* Peeks the next non-LWS character without consuming; 0 at the end. */
char sf_sip_scan_peek (SfSipScan *s);
/* A token (1*token-char).  Inline: the parsers' most frequent call.  The
 * loop runs on a local pointer: through s->p, each byte read (a char may
 * alias anything) made the compiler load and store the scanner again. */
static inline gboolean
sf_sip_scan_token (SfSipScan *s, SfSipStr *out)
{
  const char *start = s->p, *p = start, *end = s->end;
  while (p < end && sf_sip_ch ((guchar) *p, SF_SIP_CH_TOKEN))
    p++;
  if (p == start)
    return FALSE;
  s->p = p;
  *out = sf_sip_str (start, (gsize) (p - start));
  return TRUE;
}
/* A quoted-string; @out gets what is between the quotes, quoted-pairs intact. */
gboolean sf_sip_scan_quoted (SfSipScan *s, SfSipStr *out);
/* Bytes up to (not including) any of @stops at nesting level 0, outside quotes
 * and <...>; used to split comma-separated header values. */
SfSipStr sf_sip_scan_until (SfSipScan *s, const char *stops);

/* Removes the quoted-pair backslashes of a quoted-string's content (transfer full). */
char *sf_sip_unquote (SfSipStr s, gsize *len);

G_END_DECLS
