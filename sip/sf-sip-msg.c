/* sf-sip-msg.c: parsing, framing and serializing SIP messages (see sf-sip-msg.h).
 * RFC 3261 7 (messages), 7.3.1 (header fields, folding), 7.5 and 18.3 (framing),
 * 8.1.1 (mandatory headers), 25 (grammar). */
#include "config.h"
#include "sf-sip-msg.h"
#include "sf-sip-build.h"
#include "sf-sip-arena.h"
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SF_ASAN 1
#endif
#endif
#ifdef SF_ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void) (p), (void) (n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void) (p), (void) (n))
#endif

struct _SfSipMsg {
  grefcount ref;
  GBytes *bytes;               /* owned: everything below points into it */
  const char *base;
  gboolean request;
  GError *version_error;       /* owned, nullable: a request of another SIP version (505) */
  GError *invalid;             /* owned, nullable: a request line or framing problem found while
                                * framing on, so that validation fails with it and it is answered 400 */
  SfSipStr start_line;         /* without its line end */
  SfSipStr method, ruri_raw, version, reason;
  guint status;
  SfSipUri *ruri;              /* in the arena */
  SfSipHdr *headers;           /* in the arena */
  guint n_headers, cap_headers;
  SfSipStr body;
  SfSipValues **cache;         /* SF_SIP_HDR_COUNT of them, first in the arena: the parsed values of
                                * each id, NULL until asked; the array itself NULL in a compact copy
                                * until a value is asked for (most never are) */
  guint16 count[SF_SIP_HDR_COUNT];    /* header lines with each id (at most SF_SIP_MAX_HEADERS) */
  guint16 first[SF_SIP_HDR_COUNT];    /* the index of the first of them (when count > 0) */
  guint64 present;             /* bit 1 << id: count[id] > 0 (sf_sip_msg_check_all walks these only) */
  SfSipArena arena;            /* the header table, parsed values, URIs: freed with the message */
  guint frame_used;            /* bytes of the first block the framing parse took, 0: unknown (a head
                                * only, or it needed a second block): sf_sip_msg_compact() */
  guint table_bytes;           /* of them, the header tables (each doubling leaves the old one) */
  gboolean table_in_place;     /* while framing: the header table is the arena's free space, not yet taken */
  gboolean compacted;          /* made by sf_sip_msg_compact(): compacting it again would copy the same */
  /* The arena's first block (MSG_BLOCK bytes from the wire): a typical message
   * parsed lazily fits (one allocation per message); a full parse adds a block
   * or two.  Not larger: proxies and transactions keep many messages
   * (sf-sip-arena.h); a compact copy has only what its framing takes. */
  char first_block[];
};

#define MSG_BLOCK 4096
#define MSG_SIZE (G_STRUCT_OFFSET (SfSipMsg, first_block) + MSG_BLOCK)

/* ---- a thread's cache of message blocks ----
 *
 * A message from the wire or the builder is one allocation of MSG_SIZE bytes
 * (4.4 KB): too large for malloc's per-thread cache and fast bins, so each
 * one went to its sorted bins, and every such request first merged the fast
 * bins (malloc_consolidate, some 17 times a proxied call), and a new block
 * touched new pages.  A thread keeps up to MSG_CACHE_MAX freed ones (a
 * message is mostly freed on the thread that made it) and takes them back
 * warm; past that bound they are freed.  The cache is emptied when its
 * thread ends (GPrivate's notify) and, for the thread that calls exit(),
 * at exit.  Under AddressSanitizer the cache is off by default: the
 * cache hands the block just freed to the next message at once, so a read
 * through a freed message would read the new one's bytes and go unreported,
 * where ASan's quarantine reports it (the fuzzers and replays run under
 * ASan to find exactly that).  Tests turn it on with
 * sf_sip_msg_set_block_cache (a cached block is then poisoned: a read
 * through a message freed into it is reported until the block is reused). */
#define MSG_CACHE_MAX 64
#ifdef SF_ASAN
static gint msg_cache_max = 0; /* atomic: tests set it */
#else
static gint msg_cache_max = MSG_CACHE_MAX; /* atomic: tests set it */
#endif

typedef struct {
  void *head;        /* the first cached block; its first bytes point to the next */
  guint n;
  gboolean registered;
} MsgCache;

static _Thread_local MsgCache msg_cache;

static void
msg_cache_flush (gpointer data)
{
  MsgCache *c = data;
  while (c->head != NULL) {
    void *b = c->head;
    ASAN_UNPOISON_MEMORY_REGION (b, MSG_SIZE);
    c->head = *(void **) b;
    g_free (b);
  }
  c->n = 0;
  c->registered = FALSE;
}

static GPrivate msg_cache_key = G_PRIVATE_INIT (msg_cache_flush);

static void
msg_cache_at_exit (void)
{
  msg_cache_flush (&msg_cache); /* the exiting thread's: thread keys' notifies do not run for it */
}

static void *
msg_block_alloc (void)
{
  MsgCache *c = &msg_cache;
  void *b = c->head;
  if (b == NULL)
    return g_malloc (MSG_SIZE);
  ASAN_UNPOISON_MEMORY_REGION (b, MSG_SIZE);
  c->head = *(void **) b;
  c->n--;
  return b;
}

static void
msg_block_free (void *b)
{
  MsgCache *c = &msg_cache;
  if (c->n >= (guint) g_atomic_int_get (&msg_cache_max)) {
    g_free (b);
    return;
  }
  if (G_UNLIKELY (!c->registered)) {
    static gsize once;
    if (g_once_init_enter (&once)) {
      atexit (msg_cache_at_exit);
      g_once_init_leave (&once, 1);
    }
    g_private_set (&msg_cache_key, c); /* its notify empties the cache when the thread ends */
    c->registered = TRUE;
  }
  *(void **) b = c->head;
  c->head = b;
  c->n++;
  ASAN_POISON_MEMORY_REGION (b, MSG_SIZE);
}
guint
sf_sip_msg_set_block_cache (guint max)
{
  guint old = (guint) g_atomic_int_get (&msg_cache_max);
  g_atomic_int_set (&msg_cache_max, (gint) MIN (max, MSG_CACHE_MAX));
  if (msg_cache.n > MIN (max, MSG_CACHE_MAX))
    msg_cache_flush (&msg_cache); /* the calling thread's; a lower bound is kept by others as they free */
  return old;
}

guint
sf_sip_msg_block_cache_len (void)
{
  return msg_cache.n;
}

#define ARENA_ALIGN SF_SIP_ARENA_ALIGN
#define ROUND_ALIGN(n) (((n) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN)
#define CACHE_BYTES (SF_SIP_HDR_COUNT * sizeof (SfSipValues *))

static gboolean
err (GError **error, SfSipError code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
static gboolean
err (GError **error, SfSipError code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, SF_SIP_ERROR, code, msg);
  return FALSE;
}

SfSipMsg *
sf_sip_msg_ref (SfSipMsg *msg)
{
  g_return_val_if_fail (msg != NULL, NULL);
  g_ref_count_inc (&msg->ref);
  return msg;
}

void
sf_sip_msg_unref (SfSipMsg *msg)
{
  if (msg == NULL || !g_ref_count_dec (&msg->ref))
    return;
  g_clear_error (&msg->version_error);
  g_clear_error (&msg->invalid);
  sf_sip_arena_clear (&msg->arena);
  g_bytes_unref (msg->bytes);
  if (msg->compacted)
    g_free (msg); /* a smaller block */
  else
    msg_block_free (msg);
}

/* ---- the start line ---- */

static gboolean
valid_version (SfSipStr v)
{
  /* "SIP" "/" 1*DIGIT "." 1*DIGIT */
  if (v.len < 7 || g_ascii_strncasecmp (v.p, "SIP/", 4) != 0) /* case-insensitive (7.1) */
    return FALSE;
  gsize i = 4, d1 = 0, d2 = 0;
  while (i < v.len && g_ascii_isdigit (v.p[i]))
    i++, d1++;
  if (i >= v.len || v.p[i] != '.')
    return FALSE;
  i++;
  while (i < v.len && g_ascii_isdigit (v.p[i]))
    i++, d2++;
  return i == v.len && d1 > 0 && d2 > 0;
}

static gboolean
check_version (SfSipStr v, GError **error)
{
  if (v.len == 7 && memcmp (v.p, "SIP/2.0", 7) == 0)
    return TRUE; /* as nearly every message writes it */
  if (!valid_version (v))
    return err (error, SF_SIP_ERROR_SYNTAX, "start line: invalid SIP version '%.*s'", (int) MIN (v.len, 32), v.p);
  if (!sf_sip_str_caseeq (v, "SIP/2.0"))
    return err (error, SF_SIP_ERROR_VERSION, "start line: SIP version '%.*s' not supported", (int) MIN (v.len, 32),
                v.p);
  return TRUE;
}

static gboolean
parse_start_line (SfSipMsg *m, GError **error)
{
  SfSipStr l = m->start_line;
  if (l.len >= 4 && (l.p[0] | 0x20) == 's' && (l.p[1] | 0x20) == 'i' && (l.p[2] | 0x20) == 'p' && l.p[3] == '/') {
    /* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase */
    const char *sp = memchr (l.p, ' ', l.len);
    if (sp == NULL)
      return err (error, SF_SIP_ERROR_SYNTAX, "status line: no status code");
    m->version = sf_sip_str (l.p, (gsize) (sp - l.p));
    if (!check_version (m->version, error))
      return FALSE;
    const char *code = sp + 1, *end = l.p + l.len;
    gsize n = 0;
    while (code + n < end && g_ascii_isdigit (code[n]))
      n++;
    guint64 status;
    if (n != 3 || !sf_sip_dec_u64 (sf_sip_str (code, 3), 699, &status) || status < 100)
      return err (error, SF_SIP_ERROR_SYNTAX, "status line: the status code must be three digits from 100 to 699");
    if (code + 3 < end && code[3] != ' ')
      return err (error, SF_SIP_ERROR_SYNTAX, "status line: expected a space after the status code");
    m->status = (guint) status;
    m->reason = code + 3 < end ? sf_sip_str (code + 4, (gsize) (end - code - 4)) : sf_sip_str (end, 0);
    for (gsize i = 0; i < m->reason.len; i++)
      if ((guchar) m->reason.p[i] < ' ' && m->reason.p[i] != '\t')
        return err (error, SF_SIP_ERROR_SYNTAX, "status line: control character in the reason phrase");
    m->request = FALSE;
    return TRUE;
  }
  /* Request-Line = Method SP Request-URI SP SIP-Version.  A line that starts with a
   * token and a space and ends with a SIP version is a request: what else is wrong
   * in it is kept in m->invalid and framing goes on, so that the request is
   * answered 400 naming the problem (8.2.1, 21.4.1) instead of dropped. */
  const char *sp1 = memchr (l.p, ' ', l.len);
  if (sp1 == NULL)
    return err (error, SF_SIP_ERROR_SYNTAX, "request line: expected METHOD SP Request-URI SP SIP/2.0");
  m->method = sf_sip_str (l.p, (gsize) (sp1 - l.p));
  if (m->method.len == 0)
    return err (error, SF_SIP_ERROR_SYNTAX, "request line: empty method");
  for (gsize i = 0; i < m->method.len; i++)
    if (!sf_sip_ch ((guchar) m->method.p[i], SF_SIP_CH_TOKEN))
      return err (error, SF_SIP_ERROR_SYNTAX, "request line: the method is not a token");
  /* The version: the last word, trailing spaces aside. */
  const char *lend = l.p + l.len, *vend = lend;
  while (vend > sp1 + 1 && vend[-1] == ' ')
    vend--;
  const char *vs = vend;
  while (vs > sp1 + 1 && vs[-1] != ' ')
    vs--;
  if (vs == vend)
    return err (error, SF_SIP_ERROR_SYNTAX, "request line: no SIP version after the Request-URI");
  m->version = sf_sip_str (vs, (gsize) (vend - vs));
  GError *ve = NULL;
  if (!check_version (m->version, &ve)) {
    if (!g_error_matches (ve, SF_SIP_ERROR, SF_SIP_ERROR_VERSION)) {
      g_propagate_error (error, ve);
      return FALSE;
    }
    /* Framed on, so that it can be answered 505 (8.2.1 ... 21.5.20): validation fails with it. */
    m->version_error = ve;
  }
  m->request = TRUE;
  const char *sp2 = vs > sp1 + 1 ? vs - 1 : sp1; /* the space before the version */
  m->ruri_raw = sf_sip_str (sp1 + 1, (gsize) (sp2 - sp1 - (sp2 > sp1)));
  const char *problem = NULL;
  if (sp2 == sp1)
    problem = "no Request-URI";
  else if (vend != lend)
    problem = "white space after the SIP version";
  else if (sp2 == sp1 + 1 || memchr (sp1 + 1, ' ', m->ruri_raw.len) != NULL)
    problem = "white space inside or around the Request-URI";
  for (gsize i = 0; problem == NULL && i < m->ruri_raw.len; i++)
    if ((guchar) m->ruri_raw.p[i] <= ' ')
      problem = "white space or control character in the Request-URI";
  if (problem != NULL) {
    err (&m->invalid, SF_SIP_ERROR_SYNTAX, "request line: %s", problem);
    return TRUE;
  }
  GError *e = NULL;
  m->ruri = sf_sip_uri_parse_in (m->ruri_raw, m->base, &m->arena, &e);
  if (m->ruri == NULL) {
    g_set_error (&m->invalid, SF_SIP_ERROR, e->code, "Request-URI: %s", e->message);
    g_error_free (e);
    return TRUE;
  }
  if (m->ruri->n_headers > 0)
    err (&m->invalid, SF_SIP_ERROR_SYNTAX, "Request-URI: URI headers are not allowed here (RFC 3261 19.1.1)");
  return TRUE;
}

/* ---- header lines ---- */

/* The end of the line starting at @p (the position after its '\n'), or NULL. */
static const char *
line_end (const char *p, const char *end, const char **content_end)
{
  const char *nl = memchr (p, '\n', (gsize) (end - p));
  if (nl == NULL)
    return NULL;
  *content_end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
  return nl + 1;
}

/* The CTL bytes (below 0x20, or DEL 0x7f) of the 8 at @p, as the high bit of
 * each.  A byte below n sets its high bit in (x - n per byte) & ~x (n <= 128);
 * a borrow can only mark a byte above one that is really below, so the mask is
 * 0 exactly when no byte is a CTL, and its lowest mark (in memory order) is
 * exact: the first CTL byte. */
static inline guint64
word_ctl_mask (const char *p)
{
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101), highs = G_GUINT64_CONSTANT (0x8080808080808080);
  guint64 x;
  memcpy (&x, p, sizeof x);
  guint64 del = x ^ (ones * 0x7f); /* DEL bytes become zero */
  return (((x - ones * 0x20) & ~x) | ((del - ones) & ~del)) & highs;
}

/* The first CTL byte at or after @q before @end, or @end: sixteen bytes at a
 * time where SSE2 is there (every x86-64), then eight, then one. */
static inline const char *
next_ctl (const char *q, const char *end)
{
#ifdef __SSE2__
  const __m128i lim = _mm_set1_epi8 (0x1f), del = _mm_set1_epi8 (0x7f);
  for (; q + 16 <= end; q += 16) {
    __m128i x = _mm_loadu_si128 ((const __m128i *) (const void *) q);
    /* x <= 0x1f unsigned: max (x, 0x1f) is 0x1f */
    __m128i ctl = _mm_or_si128 (_mm_cmpeq_epi8 (_mm_max_epu8 (x, lim), lim), _mm_cmpeq_epi8 (x, del));
    int mask = _mm_movemask_epi8 (ctl); /* bit i: byte i, in memory order */
    if (mask != 0)
      return q + __builtin_ctz ((unsigned) mask);
  }
#endif
  for (; q + 8 <= end; q += 8) {
    guint64 mask = word_ctl_mask (q);
    if (mask != 0) {
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
      return q + (__builtin_ctzll (mask) >> 3);
#else
      break; /* the bytes one by one below */
#endif
    }
  }
  while (q < end && !sf_sip_ch ((guchar) *q, SF_SIP_CH_CTL))
    q++;
  return q;
}

/* A header line's rest after its colon at @q, in one pass: where it ends
 * (*@next after its LF, *@cend before its CRLF or LF; folds inside) and the
 * first control byte it may not hold (*@bad, NULL when none): a bare CR (a
 * line end to some peers: header injection), or any CTL but HTAB unless
 * escaped by a quoted-pair (RFC 4475 intmeth).  FALSE when no LF ends it. */
static inline gboolean
header_rest (const char *q, const char *end, const char **next, const char **cend, const char **bad)
{
  *bad = NULL;
  for (;;) {
    q = next_ctl (q, end);
    if (q >= end)
      return FALSE;
    char ch = *q;
    /* CRLF, nearly every line's end, in one step: the CR is no control byte
     * to refuse, and the look for the next one would stop at the LF. */
    if (ch == '\r' && q + 1 < end && q[1] == '\n') {
      if (q + 2 < end && (q[2] == ' ' || q[2] == '\t')) { /* a fold */
        q += 2;
        continue;
      }
      *next = q + 2;
      *cend = q;
      return TRUE;
    }
    if (ch == '\n') {
      if (q + 1 < end && (q[1] == ' ' || q[1] == '\t')) { /* a fold */
        q++;
        continue;
      }
      *next = q + 1;
      *cend = q[-1] == '\r' ? q - 1 : q; /* q[-1] is the colon at least */
      return TRUE;
    }
    if (*bad == NULL && ((ch == '\r' && (q + 1 >= end || q[1] != '\n')) ||
                         (ch != '\r' && ch != '\t' && q[-1] != '\\')))
      *bad = q;
    q++;
  }
}

/* The header table is written where the arena's free space starts, nothing
 * else being allocated while the lines are framed, and takes from the arena
 * what the lines filled only once they are all there (parse_headers()): a
 * dozen lines take 672 bytes of the first block, not a table of 32 (1,792).
 * Past the free space, the table grows by doubling in the arena (the old
 * table stays there unused, at most as large as the new one). */
static void G_GNUC_NO_INLINE
grow_headers (SfSipMsg *m)
{
  if (m->table_in_place) { /* the lines so far are the arena's now */
    SfSipHdr *t = sf_sip_arena_alloc (&m->arena, MAX (m->n_headers, 1) * sizeof *t);
    g_assert (m->n_headers == 0 || t == m->headers);
    m->table_bytes += (guint) ROUND_ALIGN (MAX (m->n_headers, 1) * sizeof *t);
    m->table_in_place = FALSE;
  }
  guint cap = MIN (MAX (m->cap_headers * 2, 16u), SF_SIP_MAX_HEADERS);
  SfSipHdr *t = sf_sip_arena_alloc (&m->arena, cap * sizeof *t); /* entries written before read */
  m->table_bytes += (guint) ROUND_ALIGN (cap * sizeof *t);
  if (m->n_headers > 0)
    memcpy (t, m->headers, m->n_headers * sizeof *t);
  m->headers = t;
  m->cap_headers = cap;
}

/* The next entry of the table, of id @id, counted; the caller writes its
 * other fields there (no copy of an entry built aside). */
static inline SfSipHdr *
add_header (SfSipMsg *m, SfSipHdrId id)
{
  if (G_UNLIKELY (m->n_headers == m->cap_headers))
    grow_headers (m);
  if (m->count[id]++ == 0) {
    m->first[id] = (guint16) m->n_headers;
    m->present |= G_GUINT64_CONSTANT (1) << id;
  }
  SfSipHdr *h = &m->headers[m->n_headers++];
  h->id = id;
  return h;
}

static gboolean
ctl_error (SfSipMsg *m, SfSipStr name, const char *q, GError **error)
{
  guchar ch = (guchar) *q;
  if (ch == '\r')
    return err (error, SF_SIP_ERROR_SYNTAX, "%.*s: a CR that does not end a line at offset %" G_GSIZE_FORMAT,
                (int) MIN (name.len, 64), name.p, (gsize) (q - m->base));
  return err (error, SF_SIP_ERROR_SYNTAX, "%.*s: control character 0x%02x at offset %" G_GSIZE_FORMAT,
              (int) MIN (name.len, 64), name.p, ch, (gsize) (q - m->base));
}

/* The value of a header line: after the colon and LWS, up to the line's end
 * less trailing LWS (empty folds included). */
static SfSipStr
header_value (SfSipMsg *m, const char *colon, const char *cend)
{
  SfSipScan s;
  sf_sip_scan_init (&s, sf_sip_str (colon + 1, (gsize) (cend - colon - 1)), m->base);
  sf_sip_scan_sws (&s);
  const char *vend = cend;
  while (vend > s.p && (vend[-1] == ' ' || vend[-1] == '\t' || vend[-1] == '\r' || vend[-1] == '\n'))
    vend--;
  return sf_sip_str (s.p, (gsize) (vend - s.p));
}

/* A line the quick way (parse_headers) does not take: the empty line that
 * ends the headers (TRUE, *@after past it), or an error, the errors ranked as
 * for any line: the line's end, its folds, the limits, then the name (which
 * is wrong here: the quick way takes every line with a name, a colon and an
 * end), and control bytes last (the quick way's). */
static gboolean
header_slow (SfSipMsg *m, const char *p, const char *end, const char **after, GError **error)
{
  const char *cend;
  const char *next = line_end (p, end, &cend);
  if (next == NULL)
    return err (error, SF_SIP_ERROR_SYNTAX, "headers: not terminated by an empty line");
  if (cend == p) { /* the empty line */
    *after = next;
    return TRUE;
  }
  if (*p == ' ' || *p == '\t')
    return err (error, SF_SIP_ERROR_SYNTAX, "headers: a continuation line with no header before it at offset %" G_GSIZE_FORMAT,
                (gsize) (p - m->base));
  /* Folded continuation lines belong to this header. */
  while (next < end && (*next == ' ' || *next == '\t')) {
    const char *n2 = line_end (next, end, &cend);
    if (n2 == NULL)
      return err (error, SF_SIP_ERROR_SYNTAX, "headers: not terminated by an empty line");
    next = n2;
  }
  if ((gsize) (next - p) > SF_SIP_MAX_HEADER_LEN)
    return err (error, SF_SIP_ERROR_LIMIT, "headers: a header line longer than %d bytes at offset %" G_GSIZE_FORMAT,
                SF_SIP_MAX_HEADER_LEN, (gsize) (p - m->base));
  if (m->n_headers >= SF_SIP_MAX_HEADERS)
    return err (error, SF_SIP_ERROR_LIMIT, "headers: more than %d header lines", SF_SIP_MAX_HEADERS);
  return err (error, SF_SIP_ERROR_SYNTAX, "headers: a line that is not 'Name: value' at offset %" G_GSIZE_FORMAT,
              (gsize) (p - m->base));
}

static gboolean
parse_lines (SfSipMsg *m, const char **pp, const char *end, GError **error)
{
  const char *p = *pp;
  for (;;) {
    /* The quick way: a token name, optional SP/HTAB and a colon at the line's
     * start (no CR or LF among them), then the rest of the line (its end, its
     * folds and its control bytes) in one pass. */
    const char *n = sf_sip_token_span (p, end);
    const char *colon = n;
    while (colon < end && (*colon == ' ' || *colon == '\t'))
      colon++;
    const char *next, *cend, *bad;
    if (n == p || colon >= end || *colon != ':' || !header_rest (colon + 1, end, &next, &cend, &bad)) {
      if (!header_slow (m, p, end, pp, error))
        return FALSE;
      return TRUE; /* the empty line */
    }
    if ((gsize) (next - p) > SF_SIP_MAX_HEADER_LEN)
      return err (error, SF_SIP_ERROR_LIMIT, "headers: a header line longer than %d bytes at offset %" G_GSIZE_FORMAT,
                  SF_SIP_MAX_HEADER_LEN, (gsize) (p - m->base));
    if (m->n_headers >= SF_SIP_MAX_HEADERS)
      return err (error, SF_SIP_ERROR_LIMIT, "headers: more than %d header lines", SF_SIP_MAX_HEADERS);
    SfSipStr name = sf_sip_str (p, (gsize) (n - p));
    if (bad != NULL)
      return ctl_error (m, name, bad, error);
    SfSipHdr *h = add_header (m, sf_sip_hdr_lookup_token (name)); /* the name was scanned as a token */
    h->name = name;
    h->value = header_value (m, colon, cend);
    h->line = sf_sip_str (p, (gsize) (next - p));
    p = next;
  }
}

static gboolean
parse_headers (SfSipMsg *m, const char **pp, const char *end, GError **error)
{
  SfSipArena *a = &m->arena;
  /* Whole aligned steps of the free space only: the table, rounded up to the
   * alignment when taken, must still fit where it was written. */
  gsize room = a->p != NULL ? ((gsize) (a->end - a->p) & ~(gsize) (ARENA_ALIGN - 1)) / sizeof (SfSipHdr) : 0;
  m->headers = (SfSipHdr *) (void *) a->p; /* aligned: the arena hands out ARENA_ALIGN blocks */
  m->cap_headers = (guint) MIN (room, SF_SIP_MAX_HEADERS);
  m->table_in_place = TRUE;
  gboolean ok = parse_lines (m, pp, end, error);
  if (m->table_in_place) { /* what the lines filled, taken from the arena */
    m->table_in_place = FALSE;
    if (m->n_headers == 0) {
      m->headers = NULL;
    } else {
      G_GNUC_UNUSED SfSipHdr *t = sf_sip_arena_alloc (a, m->n_headers * sizeof (SfSipHdr));
      g_assert (t == m->headers);
      m->table_bytes = (guint) ROUND_ALIGN (m->n_headers * sizeof (SfSipHdr));
    }
    m->cap_headers = m->n_headers;
  }
  return ok;
}

/* The Content-Length lines: none, one, or an error for several (RFC 4475
 * mcl01), from the counts the framing kept: the first line's value is
 * checked first, as a walk over the lines would find it. */
static gboolean
content_length (SfSipMsg *m, gboolean *present, guint64 *value, GError **error)
{
  guint n = m->count[SF_SIP_HDR_CONTENT_LENGTH];
  *present = n > 0;
  if (n == 0)
    return TRUE;
  const SfSipHdr *h = &m->headers[m->first[SF_SIP_HDR_CONTENT_LENGTH]];
  if (!sf_sip_dec_u64 (h->value, SF_SIP_MAX_MSG_SIZE, value))
    return err (error, SF_SIP_ERROR_FRAMING, "Content-Length: '%.*s' is not a length from 0 to %d",
                (int) MIN (h->value.len, 32), h->value.p, SF_SIP_MAX_MSG_SIZE);
  if (n > 1)
    return err (error, SF_SIP_ERROR_FRAMING, "Content-Length: appears more than once");
  return TRUE;
}

static const char *
skip_keepalive (const char *p, const char *end)
{
  while (p < end && (*p == '\r' || *p == '\n'))
    p++;
  return p;
}

/* What the framing took of the first block, recorded for sf_sip_msg_compact(). */
static SfSipMsg *
framed (SfSipMsg *m)
{
  if (m->arena.blocks == NULL && m->arena.p != NULL)
    m->frame_used = (guint) (m->arena.p - m->first_block);
  return m;
}

/* A message on @bytes (a ref taken), its arena's first block and the value
 * cache in it; nothing parsed yet. */
static SfSipMsg *
msg_new (GBytes *bytes, const char *data)
{
  SfSipMsg *m = msg_block_alloc ();
  memset (m, 0, G_STRUCT_OFFSET (SfSipMsg, first_block)); /* the block needs no zeroing: the arena zeroes */
  g_ref_count_init (&m->ref);
  m->bytes = g_bytes_ref (bytes);
  m->base = data;
  sf_sip_arena_init (&m->arena, m->first_block, MSG_BLOCK);
  m->cache = sf_sip_arena_alloc0 (&m->arena, CACHE_BYTES); /* first: sf_sip_msg_compact() leaves it out */
  return m;
}

/* The start line of @m, @len bytes at @p: its limit, then its parse. */
static gboolean
start_line (SfSipMsg *m, const char *p, gsize len, GError **error)
{
  if (len > SF_SIP_MAX_START_LINE)
    return err (error, SF_SIP_ERROR_LIMIT, "start line longer than %d bytes", SF_SIP_MAX_START_LINE);
  m->start_line = sf_sip_str (p, len);
  return parse_start_line (m, error);
}

/* The body after the headers (from @p): Content-Length's framing.  FALSE
 * only on a stream; a datagram's framing problem is kept in m->invalid. */
static gboolean
frame_body (SfSipMsg *m, const char *p, const char *end, gboolean stream, GError **error)
{
  gboolean has_cl;
  guint64 cl = 0;
  gsize rest = (gsize) (end - p);
  GError *fe = NULL;
  if (!content_length (m, &has_cl, &cl, &fe)) {
    if (stream) {
      g_propagate_error (error, fe);
      return FALSE;
    }
  } else if (!has_cl) {
    if (stream)
      return err (error, SF_SIP_ERROR_FRAMING, "Content-Length: required on a stream transport (RFC 3261 18.3)");
    m->body = sf_sip_str (p, rest);
  } else if (cl > rest) {
    err (&fe, SF_SIP_ERROR_FRAMING, "Content-Length: %" G_GUINT64_FORMAT " is more than the %" G_GSIZE_FORMAT
         " bytes after the headers", cl, rest);
    if (stream) {
      g_propagate_error (error, fe);
      return FALSE;
    }
  } else {
    m->body = sf_sip_str (p, (gsize) cl); /* bytes after it are dropped (18.3) */
  }
  if (fe != NULL) {
    /* A datagram whose headers parse but whose length is wrong: a request is
     * answered 400 (18.3, "the element SHOULD generate a 400"), a response
     * discarded; validation fails with it, the body is empty. */
    m->body = sf_sip_str (p, 0);
    if (m->invalid == NULL)
      m->invalid = fe;
    else
      g_error_free (fe);
  }
  return TRUE;
}

/* Parses the start line and the headers, then (unless @head_only) frames the body. */
static SfSipMsg *
parse_framed (GBytes *bytes, gboolean stream, gboolean head_only, GError **error)
{
  gsize size;
  const char *data = g_bytes_get_data (bytes, &size);
  if (size > SF_SIP_MAX_MSG_SIZE) {
    err (error, SF_SIP_ERROR_LIMIT, "message larger than %d bytes", SF_SIP_MAX_MSG_SIZE);
    return NULL;
  }
  if (size == 0 || data == NULL) {
    err (error, SF_SIP_ERROR_SYNTAX, "empty message");
    return NULL;
  }
  const char *end = data + size;
  g_autoptr (SfSipMsg) m = msg_new (bytes, data);
  const char *p = skip_keepalive (data, end);
  const char *cend;
  const char *next = p < end ? line_end (p, end, &cend) : NULL;
  if (next == NULL) {
    err (error, SF_SIP_ERROR_SYNTAX, p < end ? "start line: no line end" : "empty message");
    return NULL;
  }
  if (!start_line (m, p, (gsize) (cend - p), error))
    return NULL;
  p = next;
  if (!parse_headers (m, &p, end, error))
    return NULL;
  if (head_only)
    return g_steal_pointer (&m); /* frame_used 0: never compacted */
  if (!frame_body (m, p, end, stream, error))
    return NULL;
  return framed (g_steal_pointer (&m));
}

/* ---- values, parsed on demand ---- */

SfSipValues *
sf_sip_msg_values (SfSipMsg *msg, SfSipHdrId id, GError **error)
{
  g_return_val_if_fail (id > SF_SIP_HDR_OTHER && id < SF_SIP_HDR_COUNT, NULL);
  if (G_UNLIKELY (msg->cache == NULL))
    msg->cache = sf_sip_arena_alloc0 (&msg->arena, CACHE_BYTES);
  else if (msg->cache[id] != NULL)
    return msg->cache[id];
  SfSipValues *out = sf_sip_arena_alloc0 (&msg->arena, sizeof *out);
  out->pdata = out->first;
  out->cap = G_N_ELEMENTS (out->first);
  for (guint i = msg->first[id], seen = 0; seen < msg->count[id] && i < msg->n_headers; i++) {
    SfSipHdr *h = &msg->headers[i];
    if (h->id != id)
      continue;
    seen++;
    if (!sf_sip_hdr_parse_in (id, h->name, h->value, msg->base, &msg->arena, out, error))
      return NULL; /* what was parsed stays in the arena until the message goes */
  }
  msg->cache[id] = out;
  return out;
}

const SfSipValue *
sf_sip_msg_value (SfSipMsg *msg, SfSipHdrId id, GError **error)
{
  SfSipValues *v = sf_sip_msg_values (msg, id, error);
  return v != NULL && v->len > 0 ? v->pdata[0] : NULL;
}

static guint
count_lines (SfSipMsg *msg, SfSipHdrId id)
{
  return msg->count[id];
}

/* A header that must be there exactly once (8.1.1) and parse. */
static gboolean
require_one (SfSipMsg *msg, SfSipHdrId id, GError **error)
{
  guint n = count_lines (msg, id);
  if (n == 0)
    return err (error, SF_SIP_ERROR_MISSING, "missing %s header", sf_sip_hdr_info (id)->name);
  if (n > 1)
    return err (error, SF_SIP_ERROR_SYNTAX, "%s: appears more than once", sf_sip_hdr_info (id)->name);
  return sf_sip_msg_values (msg, id, error) != NULL;
}

/* What a message cannot live without (docs/style.md: tolerant parsing). */
static gboolean
validate (SfSipMsg *msg, GError **error)
{
  if (msg->version_error != NULL) {
    g_propagate_error (error, g_error_copy (msg->version_error));
    return FALSE;
  }
  if (msg->invalid != NULL) {
    g_propagate_error (error, g_error_copy (msg->invalid));
    return FALSE;
  }
  SfSipValues *vias = sf_sip_msg_values (msg, SF_SIP_HDR_VIA, error);
  if (vias == NULL)
    return FALSE;
  if (vias->len == 0)
    return err (error, SF_SIP_ERROR_MISSING, "missing Via header");
  if (vias->len > SF_SIP_MAX_VIA)
    return err (error, SF_SIP_ERROR_LIMIT, "Via: more than %d values", SF_SIP_MAX_VIA);
  if (!require_one (msg, SF_SIP_HDR_FROM, error) || !require_one (msg, SF_SIP_HDR_TO, error) ||
      !require_one (msg, SF_SIP_HDR_CALL_ID, error) || !require_one (msg, SF_SIP_HDR_CSEQ, error))
    return FALSE;
  guint nmf = count_lines (msg, SF_SIP_HDR_MAX_FORWARDS);
  if (nmf > 1)
    return err (error, SF_SIP_ERROR_SYNTAX, "Max-Forwards: appears more than once");
  if (nmf == 1 && sf_sip_msg_values (msg, SF_SIP_HDR_MAX_FORWARDS, error) == NULL)
    return FALSE;
  if (sf_sip_msg_values (msg, SF_SIP_HDR_CONTENT_LENGTH, error) == NULL)
    return FALSE;
  const SfSipValue *cseq = sf_sip_msg_cseq (msg);
  if (msg->request && (cseq->text.len != msg->method.len ||
                                                           memcmp (cseq->text.p, msg->method.p, cseq->text.len) != 0))
    return err (error, SF_SIP_ERROR_SYNTAX, "CSeq: method '%.*s' does not match the request method '%.*s'",
                (int) MIN (cseq->text.len, 32), cseq->text.p, (int) MIN (msg->method.len, 32), msg->method.p);
  return TRUE;
}

SfSipMsg *
sf_sip_msg_parse (GBytes *datagram, GError **error)
{
  g_return_val_if_fail (datagram != NULL, NULL);
  g_autoptr (SfSipMsg) m = parse_framed (datagram, FALSE, FALSE, error);
  if (m == NULL || !validate (m, error))
    return NULL;
  return g_steal_pointer (&m);
}

SfSipMsg *
sf_sip_msg_parse_framed (GBytes *datagram, GError **error)
{
  g_return_val_if_fail (datagram != NULL, NULL);
  return parse_framed (datagram, FALSE, FALSE, error);
}

gboolean
sf_sip_msg_validate (SfSipMsg *msg, GError **error)
{
  return validate (msg, error);
}

SfSipMsg *
sf_sip_msg_compact (SfSipMsg *msg)
{
  g_return_val_if_fail (msg != NULL, NULL);
  if (msg->compacted || msg->frame_used == 0 || msg->frame_used < msg->table_bytes + ROUND_ALIGN (CACHE_BYTES))
    return sf_sip_msg_ref (msg);
  /* What the framing made, copied: the fields (slices of the same bytes), the
   * header table (slices too) at its exact size, the Request-URI parsed again
   * (its parts point into the arena); no value (they are parsed again when
   * asked for, the value cache made then).  The block: what the framing took
   * less the value cache and the header tables, then the one table, and the
   * alignment its start may lose. */
  guint n = msg->n_headers;
  gsize table = ROUND_ALIGN (MAX (n, 1) * sizeof (SfSipHdr));
  gsize block = msg->frame_used - ROUND_ALIGN (CACHE_BYTES) - msg->table_bytes + table + ARENA_ALIGN;
  if (block >= MSG_BLOCK)
    return sf_sip_msg_ref (msg);
  SfSipMsg *c = g_malloc (G_STRUCT_OFFSET (SfSipMsg, first_block) + block);
  memcpy (c, msg, G_STRUCT_OFFSET (SfSipMsg, arena));
  g_ref_count_init (&c->ref);
  g_bytes_ref (c->bytes);
  c->version_error = msg->version_error != NULL ? g_error_copy (msg->version_error) : NULL;
  c->invalid = msg->invalid != NULL ? g_error_copy (msg->invalid) : NULL;
  c->cache = NULL;
  c->frame_used = 0; /* set by framed() below, when the Request-URI fits the block */
  c->table_in_place = FALSE;
  sf_sip_arena_init (&c->arena, c->first_block, block);
  /* A retransmission reads a value or two (the top Via, for its way back):
   * further blocks of a quarter of the wire's do for that. */
  sf_sip_arena_set_grow (&c->arena, SF_SIP_ARENA_BLOCK / 4);
  c->headers = n > 0 ? sf_sip_arena_dup (&c->arena, msg->headers, n * sizeof (SfSipHdr)) : NULL;
  c->cap_headers = n;
  c->table_bytes = (guint) table;
  c->compacted = TRUE;
  if (msg->ruri != NULL) {
    c->ruri = sf_sip_uri_parse_in (c->ruri_raw, c->base, &c->arena, NULL);
    if (c->ruri == NULL) {
      /* Cannot happen: the same text parsed once.  The original, then. */
      sf_sip_msg_unref (c);
      return sf_sip_msg_ref (msg);
    }
  }
  framed (c);
  return c;
}

/* Whether a To line carries a tag parameter (a To that does not parse has none). */
static gboolean
has_tag (const SfSipHdr *h)
{
  g_autoptr (GPtrArray) v = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_value_free);
  return sf_sip_hdr_parse (h->id, h->name, h->value, h->value.p, v, NULL) && v->len > 0 &&
         sf_sip_value_param (v->pdata[0], "tag") != NULL;
}

GBytes *
sf_sip_msg_bad_request (SfSipMsg *req, const char *problem)
{
  if (!req->request || sf_sip_str_eq (req->method, "ACK"))
    return NULL; /* an ACK is never answered */
  static const SfSipHdrId needed[] = { SF_SIP_HDR_VIA, SF_SIP_HDR_FROM, SF_SIP_HDR_TO, SF_SIP_HDR_CALL_ID, SF_SIP_HDR_CSEQ };
  for (gsize i = 0; i < G_N_ELEMENTS (needed); i++)
    if (count_lines (req, needed[i]) == 0)
      return NULL;
  GString *out = g_string_new (req->version_error != NULL ? "SIP/2.0 505 Version Not Supported ("
                                                           : "SIP/2.0 400 Bad Request (");
  /* A reason phrase of printable ASCII (no CR, LF or control bytes), bounded. */
  for (const char *p = problem; *p != '\0' && out->len < 140; p++)
    g_string_append_c (out, (*p >= 0x20 && *p < 0x7f) ? *p : '?');
  g_string_append (out, ")\r\n");
  for (guint i = 0; i < req->n_headers; i++) {
    const SfSipHdr *h = &req->headers[i];
    gboolean copy = FALSE;
    for (gsize k = 0; k < G_N_ELEMENTS (needed); k++)
      copy |= h->id == needed[k];
    if (!copy)
      continue;
    g_string_append_len (out, h->name.p, (gssize) h->name.len);
    g_string_append (out, ": ");
    g_string_append_len (out, h->value.p, (gssize) h->value.len);
    if (h->id == SF_SIP_HDR_TO && !has_tag (h)) {
      g_autofree char *tag = sf_sip_random_tag (); /* cryptographically random (19.3): sf-sip-build.c */
      g_string_append_printf (out, ";tag=%s", tag);
    }
    g_string_append (out, "\r\n");
  }
  g_string_append (out, "Content-Length: 0\r\n\r\n");
  return g_string_free_to_bytes (out);
}

gboolean
sf_sip_stream_frame (const char *data, gsize size, gsize *skip, gsize *len, GError **error)
{
  const char *end = data + size;
  const char *p = skip_keepalive (data, end);
  *skip = (gsize) (p - data);
  /* The end of the headers: an empty line. */
  const char *q = p;
  const char *hend = NULL;
  while (q < end) {
    const char *nl = memchr (q, '\n', (gsize) (end - q));
    if (nl == NULL)
      break;
    const char *after = nl + 1;
    if (after < end && *after == '\n') {
      hend = after + 1;
      break;
    }
    if (after + 1 < end && after[0] == '\r' && after[1] == '\n') {
      hend = after + 2;
      break;
    }
    q = after;
  }
  if (hend == NULL) {
    if ((gsize) (end - p) > SF_SIP_MAX_MSG_SIZE)
      return err (error, SF_SIP_ERROR_LIMIT, "stream: no end of headers within %d bytes", SF_SIP_MAX_MSG_SIZE);
    return err (error, SF_SIP_ERROR_INCOMPLETE, "stream: headers incomplete");
  }
  /* Content-Length from the header block (full parse happens later). */
  g_autoptr (GBytes) head = g_bytes_new_static (p, (gsize) (hend - p));
  g_autoptr (SfSipMsg) m = parse_framed (head, TRUE, TRUE, error);
  if (m == NULL)
    return FALSE;
  gboolean has;
  guint64 cl = 0;
  if (!content_length (m, &has, &cl, error))
    return FALSE;
  if (!has)
    return err (error, SF_SIP_ERROR_FRAMING, "Content-Length: required on a stream transport (RFC 3261 18.3)");
  if ((gsize) (hend - p) + cl > SF_SIP_MAX_MSG_SIZE)
    return err (error, SF_SIP_ERROR_LIMIT, "stream: message larger than %d bytes", SF_SIP_MAX_MSG_SIZE);
  if ((gsize) (end - hend) < cl)
    return err (error, SF_SIP_ERROR_INCOMPLETE, "stream: body incomplete");
  *len = (gsize) (hend - p) + (gsize) cl;
  return TRUE;
}

/* ---- accessors ---- */

gboolean
sf_sip_msg_is_request (const SfSipMsg *msg)
{
  return msg->request;
}

SfSipStr
sf_sip_msg_method (const SfSipMsg *msg)
{
  return msg->method;
}

const SfSipUri *
sf_sip_msg_ruri (const SfSipMsg *msg)
{
  return msg->ruri;
}

guint
sf_sip_msg_status (const SfSipMsg *msg)
{
  return msg->status;
}

SfSipStr
sf_sip_msg_reason (const SfSipMsg *msg)
{
  return msg->reason;
}

SfSipStr
sf_sip_msg_body (const SfSipMsg *msg)
{
  return msg->body;
}

guint
sf_sip_msg_n_headers (const SfSipMsg *msg)
{
  return msg->n_headers;
}

const SfSipHdr *
sf_sip_msg_header (const SfSipMsg *msg, guint i)
{
  g_return_val_if_fail (i < msg->n_headers, NULL);
  return &msg->headers[i];
}

const SfSipHdr *
sf_sip_msg_find (const SfSipMsg *msg, SfSipHdrId id)
{
  if (id >= SF_SIP_HDR_COUNT || msg->count[id] == 0)
    return NULL;
  return &msg->headers[msg->first[id]];
}

const SfSipHdr *
sf_sip_msg_find_name (const SfSipMsg *msg, const char *name)
{
  SfSipHdrId id = sf_sip_hdr_lookup (sf_sip_str (name, strlen (name)));
  for (guint i = 0; i < msg->n_headers; i++) {
    const SfSipHdr *h = &msg->headers[i];
    if (id != SF_SIP_HDR_OTHER ? h->id == id : sf_sip_str_caseeq (h->name, name))
      return h;
  }
  return NULL;
}

static const SfSipValue *
checked (SfSipMsg *msg, SfSipHdrId id)
{
  const SfSipValue *v = sf_sip_msg_value (msg, id, NULL);
  g_return_val_if_fail (v != NULL, NULL); /* validate() made sure */
  return v;
}

const SfSipValue *
sf_sip_msg_top_via (SfSipMsg *msg)
{
  return checked (msg, SF_SIP_HDR_VIA);
}

const SfSipValue *
sf_sip_msg_from (SfSipMsg *msg)
{
  return checked (msg, SF_SIP_HDR_FROM);
}

const SfSipValue *
sf_sip_msg_to (SfSipMsg *msg)
{
  return checked (msg, SF_SIP_HDR_TO);
}

const SfSipValue *
sf_sip_msg_cseq (SfSipMsg *msg)
{
  return checked (msg, SF_SIP_HDR_CSEQ);
}

SfSipStr
sf_sip_msg_call_id (SfSipMsg *msg)
{
  const SfSipValue *v = checked (msg, SF_SIP_HDR_CALL_ID);
  return v != NULL ? v->text : SF_SIP_STR_NULL;
}

gint64
sf_sip_msg_max_forwards (SfSipMsg *msg)
{
  const SfSipValue *v = sf_sip_msg_value (msg, SF_SIP_HDR_MAX_FORWARDS, NULL);
  return v != NULL ? (gint64) v->number : -1;
}

gboolean
sf_sip_msg_check_all (SfSipMsg *msg, GError **error)
{
  /* The ids present, in id order (the first error is the same as a walk over
   * every id's would find), instead of a look at each of the 44. */
  G_STATIC_ASSERT (SF_SIP_HDR_COUNT <= 64);
  for (guint64 left = msg->present & ~G_GUINT64_CONSTANT (1); left != 0; left &= left - 1) {
    SfSipHdrId id = (SfSipHdrId) __builtin_ctzll (left);
    if (msg->count[id] > 1 && sf_sip_hdr_info (id)->shape == SF_SIP_HDR_SINGLE)
      return err (error, SF_SIP_ERROR_SYNTAX, "%s: appears more than once", sf_sip_hdr_info (id)->name);
    if ((msg->cache == NULL || msg->cache[id] == NULL) && sf_sip_msg_values (msg, id, error) == NULL)
      return FALSE;
  }
  return TRUE;
}

/* Do @msg's bytes hold exactly what sf_sip_msg_serialize() writes: the start
 * line at their start, its CRLF, every header line end to end, a CRLF and the
 * body up to their end?  True of every message we build (the builder writes
 * it so) and of most received ones; not of one with keep-alive CRLFs before
 * it, LF line ends, or bytes after its body.  One look at each line. */
static gboolean
bytes_are_serialized (SfSipMsg *msg)
{
  gsize size;
  const char *d = g_bytes_get_data (msg->bytes, &size), *end = d + size;
  const char *p = msg->start_line.p;
  if (p != d || (gsize) (end - p) < msg->start_line.len + 2)
    return FALSE;
  p += msg->start_line.len;
  if (p[0] != '\r' || p[1] != '\n')
    return FALSE;
  p += 2;
  for (guint i = 0; i < msg->n_headers; i++) {
    const SfSipHdr *h = &msg->headers[i];
    if (h->line.p != p || (gsize) (end - p) < h->line.len)
      return FALSE;
    p += h->line.len;
  }
  if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
    return FALSE;
  p += 2;
  if (msg->body.len > 0 && msg->body.p != p)
    return FALSE;
  return (gsize) (end - p) == msg->body.len;
}

GBytes *
sf_sip_msg_serialize (SfSipMsg *msg)
{
  /* A message sent as it was built (each response, each request a transaction
   * sends) is its bytes already: no copy. */
  if (bytes_are_serialized (msg))
    return g_bytes_ref (msg->bytes);
  GString *out = g_string_sized_new (g_bytes_get_size (msg->bytes));
  g_string_append_len (out, msg->start_line.p, (gssize) msg->start_line.len);
  g_string_append (out, "\r\n");
  for (guint i = 0; i < msg->n_headers; i++) {
    const SfSipHdr *h = &msg->headers[i];
    g_string_append_len (out, h->line.p, (gssize) h->line.len);
  }
  g_string_append (out, "\r\n");
  g_string_append_len (out, msg->body.p, (gssize) msg->body.len);
  return g_string_free_to_bytes (out);
}

/* ---- multipart bodies (RFC 2046 5.1.1) ---- */

/* The position of "--boundary" at a line start in [p, end), or NULL. */
static const char *
find_delimiter (const char *p, const char *end, const char *bnd, gsize blen, const char *body_start)
{
  while (p + 2 + blen <= end) {
    const char *d = memmem (p, (gsize) (end - p), "--", 2);
    if (d == NULL || d + 2 + blen > end)
      return NULL;
    if (memcmp (d + 2, bnd, blen) == 0 && (d == body_start || d[-1] == '\n'))
      return d;
    p = d + 1;
  }
  return NULL;
}

GArray *
sf_sip_msg_multipart (SfSipMsg *msg, GError **error)
{
  const SfSipValue *ct = sf_sip_msg_value (msg, SF_SIP_HDR_CONTENT_TYPE, error);
  if (ct == NULL) {
    if (error != NULL && *error == NULL)
      err (error, SF_SIP_ERROR_SYNTAX, "Content-Type: none, so no multipart body");
    return NULL;
  }
  if (ct->text.len < 10 || g_ascii_strncasecmp (ct->text.p, "multipart/", 10) != 0) {
    err (error, SF_SIP_ERROR_SYNTAX, "Content-Type: not multipart");
    return NULL;
  }
  const SfSipParam *bp = sf_sip_value_param (ct, "boundary");
  if (bp == NULL || !sf_sip_str_is_set (bp->value)) {
    err (error, SF_SIP_ERROR_SYNTAX, "Content-Type: multipart without a boundary");
    return NULL;
  }
  SfSipStr bnd = bp->value;
  if (bnd.len >= 2 && bnd.p[0] == '"') /* boundary := 0*69<bchars> bcharsnospace, may be quoted */
    bnd = sf_sip_str (bnd.p + 1, bnd.len - 2);
  if (bnd.len == 0 || bnd.len > 70) {
    err (error, SF_SIP_ERROR_SYNTAX, "Content-Type: invalid multipart boundary");
    return NULL;
  }
  const char *start = msg->body.p, *end = msg->body.p + msg->body.len;
  const char *d = find_delimiter (start, end, bnd.p, bnd.len, start);
  if (d == NULL) {
    err (error, SF_SIP_ERROR_SYNTAX, "multipart body: no boundary delimiter");
    return NULL;
  }
  GArray *parts = g_array_new (FALSE, TRUE, sizeof (SfSipPart));
  for (;;) {
    const char *after = d + 2 + bnd.len;
    if (after + 2 <= end && after[0] == '-' && after[1] == '-')
      return parts; /* close-delimiter */
    const char *nl = memchr (after, '\n', (gsize) (end - after));
    if (nl == NULL)
      break;
    const char *pstart = nl + 1;
    const char *next = find_delimiter (pstart, end, bnd.p, bnd.len, start);
    if (next == NULL)
      break;
    /* The CRLF before a delimiter belongs to the delimiter. */
    const char *pend = next;
    if (pend > pstart && pend[-1] == '\n')
      pend--;
    if (pend > pstart && pend[-1] == '\r')
      pend--;
    /* The part's headers end at its first empty line; a part may have none. */
    SfSipPart part = { sf_sip_str (pstart, 0), sf_sip_str (pstart, (gsize) (pend - pstart)) };
    gsize plen = (gsize) (pend - pstart);
    if (plen >= 2 && memcmp (pstart, "\r\n", 2) == 0) {
      part.body = sf_sip_str (pstart + 2, plen - 2);
    } else if (plen >= 1 && *pstart == '\n') {
      part.body = sf_sip_str (pstart + 1, plen - 1);
    } else {
      const char *crlf2 = memmem (pstart, plen, "\r\n\r\n", 4);
      const char *lf2 = memmem (pstart, plen, "\n\n", 2);
      if (crlf2 != NULL && (lf2 == NULL || crlf2 < lf2)) {
        part.headers = sf_sip_str (pstart, (gsize) (crlf2 + 2 - pstart));
        part.body = sf_sip_str (crlf2 + 4, (gsize) (pend - crlf2 - 4));
      } else if (lf2 != NULL) {
        part.headers = sf_sip_str (pstart, (gsize) (lf2 + 1 - pstart));
        part.body = sf_sip_str (lf2 + 2, (gsize) (pend - lf2 - 2));
      }
    }
    if (parts->len >= SF_SIP_MAX_PARAMS) {
      g_array_unref (parts);
      err (error, SF_SIP_ERROR_LIMIT, "multipart body: more than %d parts", SF_SIP_MAX_PARAMS);
      return NULL;
    }
    g_array_append_val (parts, part);
    d = next;
  }
  g_array_unref (parts);
  err (error, SF_SIP_ERROR_SYNTAX, "multipart body: no close delimiter");
  return NULL;
}

/* ---- messages built from lines that parsed (sf-sip-build.c) ---- */

/* validate() of a built message: for the ids in @checked it finds a value
 * table in the cache instead (one value: present, not over SF_SIP_MAX_VIA),
 * checks the line counts as ever, and the table is taken away again, so that
 * a reader parses the real values when it first asks.  An id with no line
 * gets no table: validate() finds it missing.  Frees @m on failure. */
static SfSipMsg *
validate_built (SfSipMsg *m, guint64 checked, GError **error)
{
  static const SfSipHdrId skippable[] = { SF_SIP_HDR_VIA, SF_SIP_HDR_FROM, SF_SIP_HDR_TO, SF_SIP_HDR_CALL_ID,
                                          SF_SIP_HDR_CSEQ };
  static SfSipValue placeholder;
  static gpointer one[] = { &placeholder };
  SfSipValues stand_in = { .pdata = one, .len = 1, .cap = 1 };
  gboolean skipped[G_N_ELEMENTS (skippable)] = { FALSE };
  for (gsize i = 0; i < G_N_ELEMENTS (skippable); i++) {
    SfSipHdrId id = skippable[i];
    if ((checked & (G_GUINT64_CONSTANT (1) << id)) == 0 || m->count[id] == 0 ||
        (id == SF_SIP_HDR_CSEQ && m->request))
      continue;
    m->cache[id] = &stand_in;
    skipped[i] = TRUE;
  }
  gboolean ok = validate (m, error);
  for (gsize i = 0; i < G_N_ELEMENTS (skippable); i++)
    if (skipped[i])
      m->cache[skippable[i]] = NULL;
  if (!ok) {
    sf_sip_msg_unref (m);
    return NULL;
  }
  return m;
}

SfSipMsg *
sf_sip_msg_parse_built (GBytes *datagram, guint64 checked, GError **error)
{
  g_return_val_if_fail (datagram != NULL, NULL);
  SfSipMsg *m = parse_framed (datagram, FALSE, FALSE, error);
  return m != NULL ? validate_built (m, checked, error) : NULL;
}

const char *
sf_sip_next_ctl (const char *p, const char *end)
{
  return next_ctl (p, end);
}

SfSipMsg *
sf_sip_msg_new_built (GBytes *wire, gsize start_len, const SfSipLineMark *marks, guint n, guint64 checked,
                      GError **error)
{
  g_return_val_if_fail (wire != NULL, NULL);
  gsize size;
  const char *data = g_bytes_get_data (wire, &size);
  /* The start line must end in its CRLF, before any other LF (the builder
   * wrote no control byte in it); limits past which the parse has an error
   * to give are left to it. */
  if (data == NULL || size > SF_SIP_MAX_MSG_SIZE || n > SF_SIP_MAX_HEADERS || start_len == 0 ||
      start_len + 2 > size || data[0] == '\r' || data[0] == '\n' || data[start_len] != '\r' ||
      data[start_len + 1] != '\n' || memchr (data, '\n', start_len) != NULL)
    return sf_sip_msg_parse_built (wire, checked, error);
  SfSipMsg *m = msg_new (wire, data);
  if (!start_line (m, data, start_len, error)) {
    sf_sip_msg_unref (m);
    return NULL;
  }
  /* The table as parse_headers() leaves it: its exact size, after the
   * Request-URI, in the first block while it fits. */
  if (n > 0) {
    m->headers = sf_sip_arena_alloc (&m->arena, n * sizeof (SfSipHdr));
    m->table_bytes = (guint) ROUND_ALIGN (n * sizeof (SfSipHdr));
  }
  m->cap_headers = n;
  /* The marks tile the head (each line right after the one before, its value
   * inside it before its CRLF, within the line limit), else the parse. */
  gsize at = start_len + 2;
  for (guint i = 0; i < n; i++) {
    const SfSipLineMark *k = &marks[i];
    if (G_UNLIKELY (k->start != at || k->line_len > SF_SIP_MAX_HEADER_LEN || k->line_len > size - at ||
                    k->line_len < k->name_len + 3 || k->value_start < at + k->name_len + 1 ||
                    k->value_start + (gsize) k->value_len > at + k->line_len - 2)) {
      sf_sip_msg_unref (m);
      return sf_sip_msg_parse_built (wire, checked, error);
    }
    SfSipHdr *h = add_header (m, k->id);
    h->name = sf_sip_str (data + at, k->name_len);
    h->value = sf_sip_str (data + k->value_start, k->value_len);
    h->line = sf_sip_str (data + at, k->line_len);
    at += k->line_len;
  }
  if (size - at < 2 || data[at] != '\r' || data[at + 1] != '\n') {
    sf_sip_msg_unref (m);
    return sf_sip_msg_parse_built (wire, checked, error);
  }
  frame_body (m, data + at + 2, data + size, FALSE, NULL); /* a datagram's: never fails */
  return validate_built (framed (m), checked, error);
}
