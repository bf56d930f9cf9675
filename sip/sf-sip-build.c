/* sf-sip-build.c: building outgoing messages (see sf-sip-build.h). */
#include "config.h"
#include "sf-sip-build.h"
#include "sf-sip-digest.h"
#include "framework/sf-json.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

struct _SfSipBuilder {
  GString *head;     /* start line and headers */
  char *ctype;       /* owned, nullable */
  GBytes *body;      /* owned, nullable */
  /* What finish() need not parse again (sf_sip_msg_parse_built): of the
   * headers validation parses (MUST_PARSE), the ids with a line copied from a
   * message whose values of that id parse (copied), and those with a line of
   * any other origin (written).  Via copied from one message only, so that
   * its count of values bounds the copy's. */
  guint64 copied, written;
  SfSipMsg *via_from; /* unowned, compared only */
  /* Where the start line ends and each header line is, for finish() to fill
   * the message's table from instead of framing the text again
   * (sf_sip_msg_new_built).  reparse: text was given that the marks cannot
   * vouch for (a control byte, a name that is no token): finish() parses the
   * whole message as a received one instead, with the same outcome. */
  gsize start_len;
  gboolean reparse;
  SfSipLineMark *marks; /* marks_in until more lines than it holds */
  guint n_marks, cap_marks;
  SfSipLineMark marks_in[24];
};

static SfSipBuiltHook built_hook;
static gpointer built_hook_data;

void
sf_sip_builder_set_test_hook (SfSipBuiltHook hook, gpointer data)
{
  built_hook = hook;
  built_hook_data = data;
}

/* The slow path of mark(): a larger table of marks, or too many lines. */
static gboolean G_GNUC_NO_INLINE
grow_marks (SfSipBuilder *b)
{
  if (b->n_marks >= SF_SIP_MAX_HEADERS) {
    b->reparse = TRUE; /* the parse says what is wrong (too many lines) */
    return FALSE;
  }
  guint cap = MIN (b->cap_marks * 2, (guint) SF_SIP_MAX_HEADERS);
  if (b->marks == b->marks_in)
    b->marks = g_memdup2 (b->marks_in, b->n_marks * sizeof *b->marks);
  b->marks = g_renew (SfSipLineMark, b->marks, cap);
  b->cap_marks = cap;
  return TRUE;
}

/* The line from @start to the head's end (its CRLF written): name @name_len
 * bytes, its value @value_len bytes at @value_start, of header @id. */
static inline void
mark (SfSipBuilder *b, gsize start, gsize name_len, gsize value_start, gsize value_len, SfSipHdrId id)
{
  if (G_UNLIKELY (b->n_marks == b->cap_marks) && !grow_marks (b))
    return;
  SfSipLineMark *k = &b->marks[b->n_marks++];
  k->start = (guint32) start;
  k->name_len = (guint32) name_len;
  k->value_start = (guint32) value_start;
  k->value_len = (guint32) value_len;
  k->line_len = (guint32) (b->head->len - start);
  k->id = id;
}

/* @n bytes at @p appended to the head: sf_json_put (g_string_append_len
 * without its call and its general case while the room is there), since a
 * message is some thirty appends into a head sized for most messages. */
#define PUT(b, p, n) sf_json_put ((b)->head, (p), (n))
#define PUTS(b, str) PUT (b, str, strlen (str))

#define ID_BIT(id) (G_GUINT64_CONSTANT (1) << (id))
#define MUST_PARSE                                                                                                   \
  (ID_BIT (SF_SIP_HDR_VIA) | ID_BIT (SF_SIP_HDR_FROM) | ID_BIT (SF_SIP_HDR_TO) | ID_BIT (SF_SIP_HDR_CALL_ID) |      \
   ID_BIT (SF_SIP_HDR_CSEQ))

/* Text written into the head from @from on: a control byte in it (HTAB
 * too) leaves the framing to the parse; a CR or LF (a value given with a line
 * end) could make lines of any name, so none is taken as copied either. */
static void
written_from (SfSipBuilder *b, gsize from, SfSipHdrId id)
{
  b->written |= ID_BIT (id) & MUST_PARSE;
  const char *p = b->head->str + from, *end = b->head->str + b->head->len;
  if (G_LIKELY (sf_sip_next_ctl (p, end) == end))
    return;
  b->reparse = TRUE;
  if (memchr (p, '\r', (gsize) (end - p)) != NULL || memchr (p, '\n', (gsize) (end - p)) != NULL)
    b->written |= MUST_PARSE;
}

/* A thread's spare head: the text of the last builder finished, kept for
 * the next.  A new GString for each message was a request of 1 KiB (past
 * malloc's small bins: each merged its fast bins first), and one to grow
 * it for a message with a body; finish() copies the text out at its size.
 * At most SPARE_MAX bytes are kept; freed at thread end (GPrivate's notify)
 * and, for the thread that calls exit(), at exit. */
#define SPARE_MAX (16 * 1024)

static void
spare_free (gpointer s)
{
  if (s != NULL)
    g_string_free (s, TRUE);
}

static GPrivate spare_head = G_PRIVATE_INIT (spare_free);

static void
spare_at_exit (void)
{
  g_private_replace (&spare_head, NULL);
}

static GString *
head_take (void)
{
  GString *h = g_private_get (&spare_head);
  if (h == NULL)
    return g_string_sized_new (1024);
  g_private_set (&spare_head, NULL);
  return h;
}

static void
head_give_back (GString *h)
{
  if (h->allocated_len > SPARE_MAX || g_private_get (&spare_head) != NULL) {
    g_string_free (h, TRUE); /* another builder's is kept already */
    return;
  }
  static gsize once;
  if (g_once_init_enter (&once)) {
    atexit (spare_at_exit);
    g_once_init_leave (&once, 1);
  }
  g_string_truncate (h, 0);
  g_private_set (&spare_head, h);
}

static SfSipBuilder *
builder_new (void)
{
  SfSipBuilder *b = g_new0 (SfSipBuilder, 1);
  b->head = head_take ();
  b->marks = b->marks_in;
  b->cap_marks = G_N_ELEMENTS (b->marks_in);
  return b;
}

char *
sf_sip_uint_text (char out[24], guint64 v)
{
  char buf[24];
  char *p = buf + sizeof buf;
  *--p = '\0';
  do
    *--p = (char) ('0' + v % 10);
  while ((v /= 10) != 0);
  memcpy (out, p, (gsize) (buf + sizeof buf - p));
  return out;
}

/* The decimal digits of @v, at least @width of them (zeros before): what
 * printf's "%0*u" writes. */
static void
append_uint (GString *out, guint64 v, guint width)
{
  char d[24];
  gsize n = strlen (sf_sip_uint_text (d, v));
  for (; n < width; width--)
    g_string_append_c (out, '0');
  sf_json_put (out, d, n);
}

/* A request's builder from slices (a forwarded request's method and
 * Request-URI, not copied out first). */
static SfSipBuilder *
request_str (SfSipStr method, SfSipStr ruri)
{
  SfSipBuilder *b = builder_new ();
  /* Appends, not a printf: a builder is made for every message sent, and
   * printf's format walk costs more than the copies. */
  PUT (b, method.p, method.len);
  PUT (b, " ", 1);
  PUT (b, ruri.p, ruri.len);
  written_from (b, 0, SF_SIP_HDR_OTHER);
  PUT (b, " SIP/2.0\r\n", 10);
  b->start_len = b->head->len - 2;
  return b;
}

SfSipBuilder *
sf_sip_builder_request (const char *method, const char *ruri)
{
  return request_str (sf_sip_str (method, strlen (method)), sf_sip_str (ruri, strlen (ruri)));
}

static SfSipBuilder *
response_str (guint status, SfSipStr reason)
{
  SfSipBuilder *b = builder_new ();
  PUT (b, "SIP/2.0 ", 8);
  append_uint (b->head, status, 3);
  PUT (b, " ", 1);
  PUT (b, reason.p, reason.len);
  written_from (b, 0, SF_SIP_HDR_OTHER);
  b->start_len = b->head->len;
  PUT (b, "\r\n", 2);
  return b;
}

SfSipBuilder *
sf_sip_builder_response (guint status, const char *reason)
{
  const char *r = reason != NULL ? reason : sf_sip_reason_phrase (status);
  return response_str (status, sf_sip_str (r, strlen (r)));
}

void
sf_sip_builder_free (SfSipBuilder *b)
{
  if (b == NULL)
    return;
  if (b->head != NULL)
    head_give_back (b->head);
  g_free (b->ctype);
  if (b->body != NULL)
    g_bytes_unref (b->body);
  if (b->marks != b->marks_in)
    g_free (b->marks);
  g_free (b);
}

/* A line's "@name: " (@name @len bytes); where it starts. */
static gsize
line_start (SfSipBuilder *b, const char *name, gsize len)
{
  gsize from = b->head->len;
  PUT (b, name, len);
  PUT (b, ": ", 2);
  return from;
}

/* The end of the line begun at @from by line_start (@name @len bytes). */
static void
line_end (SfSipBuilder *b, gsize from, const char *name, gsize len)
{
  SfSipHdrId id = sf_sip_hdr_lookup (sf_sip_str (name, len));
  written_from (b, from, id);
  /* The value as the parser trims it: with no control byte in the line
   * (else reparse), only spaces around it. */
  gsize vs = from + len + 2, ve = b->head->len;
  while (vs < ve && b->head->str[vs] == ' ')
    vs++;
  while (ve > vs && b->head->str[ve - 1] == ' ')
    ve--;
  PUT (b, "\r\n", 2);
  if (len == 0 || sf_sip_token_span (name, name + len) != name + len)
    b->reparse = TRUE; /* the parse's error: not "Name: value" */
  else
    mark (b, from, len, vs, ve - vs, id);
}

/* "@name: @value" (@name @len bytes), the value's bytes as they are. */
static void
add_str (SfSipBuilder *b, const char *name, gsize len, SfSipStr value)
{
  gsize from = line_start (b, name, len);
  PUT (b, value.p, value.len);
  line_end (b, from, name, len);
}

void
sf_sip_builder_add (SfSipBuilder *b, const char *name, const char *value_fmt, ...)
{
  va_list ap;
  va_start (ap, value_fmt);
  gsize len = strlen (name);
  gsize from = line_start (b, name, len);
  if (strcmp (value_fmt, "%s") == 0) { /* most lines: a value made elsewhere, copied without printf */
    const char *v = va_arg (ap, const char *);
    g_string_append (b->head, v != NULL ? v : "(null)"); /* as GLib's printf writes NULL */
  }
  else if (strchr (value_fmt, '%') == NULL) /* a literal value ("70") */
    g_string_append (b->head, value_fmt);
  else if (strcmp (value_fmt, "%u") == 0) /* a number alone (Max-Forwards): its digits, no format walk */
    append_uint (b->head, va_arg (ap, unsigned int), 1);
  else if (strcmp (value_fmt, "%" G_GUINT64_FORMAT) == 0)
    append_uint (b->head, va_arg (ap, guint64), 1);
  else if (strcmp (value_fmt, "%" G_GINT64_FORMAT) == 0 || strcmp (value_fmt, "%d") == 0) {
    gint64 v = value_fmt[1] == 'd' ? va_arg (ap, int) : va_arg (ap, gint64);
    if (v < 0)
      PUT (b, "-", 1);
    append_uint (b->head, v < 0 ? -(guint64) v : (guint64) v, 1);
  } else
    g_string_append_vprintf (b->head, value_fmt, ap);
  line_end (b, from, name, len);
  va_end (ap);
}

/* @h's line as received: a line a message framed (one header, its folds). */
/* Whether [p, value) is what the parser takes between a name and its value:
 * spaces or tabs, one ':', then white space (a fold's CRLF included).  A
 * line made by hand (sf_sip_builder_add_line takes any SfSipHdr) may have
 * something else there, which a parse would refuse. */
static gboolean
colon_between (const char *p, const char *value)
{
  while (p < value && (*p == ' ' || *p == '\t'))
    p++;
  if (p == value || *p != ':')
    return FALSE;
  for (p++; p < value; p++)
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
      return FALSE;
  return TRUE;
}

static void
append_line (SfSipBuilder *b, const SfSipHdr *h)
{
  SfSipStr l = h->line;
  gsize n = l.len;
  while (n > 0 && (l.p[n - 1] == '\n' || l.p[n - 1] == '\r'))
    n--;
  gsize from = b->head->len;
  PUT (b, l.p, n);
  if (n + 2 == l.len && l.p[n] == '\r')
    PUT (b, l.p + n, 2); /* as received */
  else
    PUT (b, "\r\n", 2);
  /* A line a message framed frames the same here: its name, value and folds
   * where they were, a CRLF for its end (the value never reaches into it). */
  if (h->name.p != l.p || h->name.len == 0 || h->value.p < l.p + h->name.len + 1 ||
      h->value.p + h->value.len > l.p + n || !colon_between (l.p + h->name.len, h->value.p))
    b->reparse = TRUE;
  else
    mark (b, from, h->name.len, from + (gsize) (h->value.p - l.p), h->value.len, h->id);
}

void
sf_sip_builder_add_line (SfSipBuilder *b, const SfSipHdr *h)
{
  /* A line of some message (not known here): its framing is vouched for
   * only when it has no control byte at all (no fold, no escaped CTL) and a
   * name that is a token. */
  gsize n = h->line.len;
  while (n > 0 && (h->line.p[n - 1] == '\n' || h->line.p[n - 1] == '\r'))
    n--;
  if (sf_sip_next_ctl (h->line.p, h->line.p + n) != h->line.p + n ||
      sf_sip_token_span (h->name.p, h->name.p + h->name.len) != h->name.p + h->name.len)
    b->reparse = TRUE;
  append_line (b, h);
  b->written |= ID_BIT (h->id) & MUST_PARSE; /* a line of a message not known here */
}

/* Appends line @h of @msg; a header validation parses counts as copied when
 * @msg's values of its id parse (parsed already in a message that passed
 * validation: a look in its cache). */
static void
copy_line (SfSipBuilder *b, SfSipMsg *msg, const SfSipHdr *h)
{
  append_line (b, h);
  guint64 bit = ID_BIT (h->id) & MUST_PARSE;
  if (bit == 0)
    return;
  SfSipValues *v = sf_sip_msg_values (msg, h->id, NULL);
  if (v == NULL || (h->id == SF_SIP_HDR_VIA && (v->len > SF_SIP_MAX_VIA || (b->via_from != NULL && b->via_from != msg)))) {
    b->written |= bit;
    return;
  }
  if (h->id == SF_SIP_HDR_VIA)
    b->via_from = msg;
  b->copied |= bit;
}

void
sf_sip_builder_copy (SfSipBuilder *b, SfSipMsg *msg, SfSipHdrId id)
{
  for (guint i = 0; i < sf_sip_msg_n_headers (msg); i++) {
    const SfSipHdr *h = sf_sip_msg_header (msg, i);
    if (h->id == id)
      copy_line (b, msg, h);
  }
}

void
sf_sip_builder_body (SfSipBuilder *b, const char *content_type, const char *body, gsize len)
{
  g_clear_pointer (&b->ctype, g_free);
  g_clear_pointer (&b->body, g_bytes_unref);
  if (content_type == NULL)
    return;
  b->ctype = g_strdup (content_type);
  b->body = g_bytes_new (body, len);
  if (strpbrk (content_type, "\r\n") != NULL)
    b->written |= MUST_PARSE; /* see written_from() */
}

SfSipMsg *
sf_sip_builder_finish (SfSipBuilder *b, GError **error)
{
  gsize len = b->body != NULL ? g_bytes_get_size (b->body) : 0;
  if (b->ctype != NULL) {
    gsize from = line_start (b, "Content-Type", 12);
    g_string_append (b->head, b->ctype);
    line_end (b, from, "Content-Type", 12);
  }
  gsize from = line_start (b, "Content-Length", 14);
  append_uint (b->head, len, 1);
  line_end (b, from, "Content-Length", 14);
  PUT (b, "\r\n", 2);
  if (len > 0)
    g_string_append_len (b->head, g_bytes_get_data (b->body, NULL), (gssize) len);
  /* The text copied out at its size (a message may be kept long: a server
   * transaction's response, until Timer J); the head goes back to be the
   * thread's spare (builder_free). */
  gsize wlen = b->head->len;
  g_autoptr (GBytes) wire = g_bytes_new (b->head->str, wlen);
  /* The message parsed as a received one would be, but for the values of
   * lines copied from messages where they parsed: the same bytes parse the
   * same, so they are parsed when read (most never are), not twice. */
  guint64 checked = b->copied & ~b->written;
  /* The table filled from the marks (no second framing pass) unless text
   * came that they cannot vouch for; a message over the size limit is the
   * parse's to refuse. */
  gboolean direct = !b->reparse && wlen <= SF_SIP_MAX_MSG_SIZE;
  GError *e = NULL;
  SfSipMsg *msg = direct ? sf_sip_msg_new_built (wire, b->start_len, b->marks, b->n_marks, checked, &e)
                         : sf_sip_msg_parse_built (wire, checked, &e);
  sf_sip_builder_free (b);
  if (G_UNLIKELY (built_hook != NULL)) {
    GError *pe = NULL;
    SfSipMsg *parsed = sf_sip_msg_parse_built (wire, checked, &pe);
    built_hook (msg, e, parsed, pe, direct, built_hook_data);
    g_clear_pointer (&parsed, sf_sip_msg_unref);
    g_clear_error (&pe);
  }
  if (e != NULL)
    g_propagate_error (error, e);
  return msg;
}

const char *
sf_sip_reason_phrase (guint status)
{
  static const struct { guint code; const char *text; } phrases[] = {
    { 100, "Trying" }, { 180, "Ringing" }, { 181, "Call Is Being Forwarded" }, { 182, "Queued" },
    { 183, "Session Progress" }, { 200, "OK" }, { 202, "Accepted" }, { 300, "Multiple Choices" },
    { 301, "Moved Permanently" }, { 302, "Moved Temporarily" }, { 305, "Use Proxy" },
    { 380, "Alternative Service" }, { 400, "Bad Request" }, { 401, "Unauthorized" }, { 402, "Payment Required" },
    { 403, "Forbidden" }, { 404, "Not Found" }, { 405, "Method Not Allowed" }, { 406, "Not Acceptable" },
    { 407, "Proxy Authentication Required" }, { 408, "Request Timeout" }, { 410, "Gone" },
    { 413, "Request Entity Too Large" }, { 414, "Request-URI Too Long" }, { 415, "Unsupported Media Type" },
    { 416, "Unsupported URI Scheme" }, { 420, "Bad Extension" }, { 421, "Extension Required" },
    { 423, "Interval Too Brief" }, { 480, "Temporarily Unavailable" }, { 481, "Call/Transaction Does Not Exist" },
    { 482, "Loop Detected" }, { 483, "Too Many Hops" }, { 484, "Address Incomplete" }, { 485, "Ambiguous" },
    { 486, "Busy Here" }, { 487, "Request Terminated" }, { 488, "Not Acceptable Here" }, { 491, "Request Pending" },
    { 493, "Undecipherable" }, { 500, "Server Internal Error" }, { 501, "Not Implemented" }, { 502, "Bad Gateway" },
    { 503, "Service Unavailable" }, { 504, "Server Time-out" }, { 505, "Version Not Supported" },
    { 513, "Message Too Large" }, { 600, "Busy Everywhere" }, { 603, "Decline" },
    { 604, "Does Not Exist Anywhere" }, { 606, "Not Acceptable" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (phrases); i++)
    if (phrases[i].code == status)
      return phrases[i].text;
  return "Unknown";
}

/* ---- RFC 3261 constructions ---- */

/* @len bytes from the kernel's cryptographic generator (getrandom(2), else
 * /dev/urandom).  Tags MUST be cryptographically random (19.3) and Call-IDs
 * should be (8.1.1.4): GLib's g_random_int is a Mersenne Twister, whose
 * state 624 outputs reveal (312 tags, e.g. from as many OPTIONS), after which
 * every tag, Call-ID and branch we make is known in advance, and with them
 * the dialog a Replaces names (RFC 3891 8) or the CANCEL of our INVITE.
 * Neither source working (no such kernel we run on): GLib's generator, said
 * once. */
gboolean
sf_sip_random_bytes_strong (guint8 *buf, gsize len)
{
  gsize got = 0;
  while (got < len) {
    ssize_t n = getrandom (buf + got, len - got, 0);
    if (n > 0)
      got += (gsize) n;
    else if (!(n < 0 && errno == EINTR))
      break;
  }
  if (got < len) { /* getrandom(2) missing (ENOSYS): the same generator through its device */
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && got < len) {
      ssize_t n = read (fd, buf + got, len - got);
      if (n > 0)
        got += (gsize) n;
      else if (!(n < 0 && errno == EINTR))
        break;
    }
    if (fd >= 0)
      close (fd);
  }
  return got == len;
}

/* A thread's pool of kernel random bytes: one getrandom call per 256 bytes
 * (32 tags), not one per tag, Call-ID and branch on the hot path.  Refilled
 * after a fork (a child must not repeat its parent's tags): a fork is told by
 * a generation pthread_atfork() moves on in the child, read with one load
 * (getpid(2) was a system call at every tag, glibc no longer caching it). */
typedef struct {
  guint8 bytes[256];
  gsize left;
  guint gen; /* fork_gen when filled; 0: never */
} RandomPool;
static _Thread_local RandomPool pool;
static volatile guint fork_gen = 1;

static void
forked_child (void)
{
  /* only the forking thread lives on in the child, and runs this before it
   * returns from fork(): no other thread can read the generation meanwhile */
  fork_gen++;
  if (fork_gen == 0)
    fork_gen = 1;
}

static guint
random_fork_gen (void)
{
  static gsize registered;
  if (g_once_init_enter (&registered)) {
    pthread_atfork (NULL, NULL, forked_child);
    g_once_init_leave (&registered, 1);
  }
  return fork_gen;
}

void
sf_sip_random_bytes (guint8 *buf, gsize len)
{
  if (len <= sizeof pool.bytes / 4) {
    guint gen = random_fork_gen ();
    if (pool.left < len || pool.gen != gen) {
      pool.left = sf_sip_random_bytes_strong (pool.bytes, sizeof pool.bytes) ? sizeof pool.bytes : 0;
      pool.gen = gen;
    }
    if (pool.left >= len) {
      memcpy (buf, pool.bytes + sizeof pool.bytes - pool.left, len);
      memset (pool.bytes + sizeof pool.bytes - pool.left, 0, len); /* used once */
      pool.left -= len;
      return;
    }
  }
  if (sf_sip_random_bytes_strong (buf, len))
    return;
  static gsize warned;
  if (g_once_init_enter (&warned)) {
    g_warning ("no cryptographic random source (getrandom, /dev/urandom): tags and Call-IDs are guessable");
    g_once_init_leave (&warned, 1);
  }
  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) g_random_int ();
}

guint64
sf_sip_random_u64 (void)
{
  guint64 v;
  sf_sip_random_bytes ((guint8 *) &v, sizeof v);
  return v;
}

static char *
random_hex (guint n32)
{
  guint8 raw[4 * 8];
  g_return_val_if_fail (n32 <= sizeof raw / 4, NULL);
  static const char hex[] = "0123456789abcdef";
  sf_sip_random_bytes (raw, 4 * n32);
  char *s = g_malloc (8 * n32 + 1); /* by a table: a printf per byte cost more than the rest of a tag */
  for (guint i = 0; i < 4 * n32; i++) {
    s[2 * i] = hex[raw[i] >> 4];
    s[2 * i + 1] = hex[raw[i] & 15];
  }
  s[8 * n32] = '\0';
  return s;
}

char *
sf_sip_random_tag (void)
{
  return random_hex (2);
}

char *
sf_sip_random_branch (void)
{
  g_autofree char *r = random_hex (3);
  return g_strconcat (SF_SIP_BRANCH_COOKIE, r, NULL);
}

gboolean
sf_sip_builder_add_lines (SfSipBuilder *b, const char *const *lines, GError **error)
{
  for (const char *const *x = lines; x != NULL && *x != NULL; x++) {
    const char *colon = strchr (*x, ':');
    if (colon == NULL) {
      g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_SYNTAX, "header line '%s' has no ':'", *x);
      return FALSE;
    }
    /* the name as g_strstrip would leave it, without copying it out */
    const char *name = *x, *end = colon;
    while (name < end && g_ascii_isspace (*name))
      name++;
    while (end > name && g_ascii_isspace (end[-1]))
      end--;
    gsize from = line_start (b, name, (gsize) (end - name));
    PUTS (b, colon + 1 + strspn (colon + 1, " \t"));
    line_end (b, from, name, (gsize) (end - name));
  }
  return TRUE;
}

char *
sf_sip_random_call_id (const char *via_sent_by)
{
  /* A random local part and the host of the sent-by (8.1.1.4). */
  g_autofree char *r = random_hex (4);
  g_autofree char *host = g_strdup (via_sent_by);
  char *colon = host[0] != '[' ? strrchr (host, ':') : strstr (host, "]:");
  if (colon != NULL)
    *(host[0] == '[' ? colon + 1 : colon) = '\0';
  return g_strdup_printf ("%s@%s", r, host);
}

SfSipMsg *
sf_sip_create_request (const SfSipRequestSpec *spec, GError **error)
{
  g_return_val_if_fail (spec != NULL && spec->method != NULL && spec->ruri != NULL && spec->from != NULL &&
                          spec->to != NULL && spec->via_sent_by != NULL, NULL);
  g_autofree char *tag = spec->from_tag != NULL ? g_strdup (spec->from_tag) : sf_sip_random_tag ();
  g_autofree char *branch = spec->branch != NULL ? g_strdup (spec->branch) : sf_sip_random_branch ();
  g_autofree char *call_id = spec->call_id != NULL ? g_strdup (spec->call_id) : sf_sip_random_call_id (spec->via_sent_by);
  SfSipBuilder *b = sf_sip_builder_request (spec->method, spec->ruri);
  sf_sip_builder_add (b, "Via", "SIP/2.0/%s %s;branch=%s;rport", spec->transport != NULL ? spec->transport : "UDP",
                      spec->via_sent_by, branch);
  sf_sip_builder_add (b, "Max-Forwards", "%u", spec->max_forwards != 0 ? MIN (spec->max_forwards, 255u) : 70u);
  if (spec->route != NULL && spec->route[0] != NULL) {
    g_autofree char *routes = g_strjoinv (", ", (char **) spec->route);
    sf_sip_builder_add (b, "Route", "%s", routes);
  }
  sf_sip_builder_add (b, "From", "%s;tag=%s", spec->from, tag);
  sf_sip_builder_add (b, "To", "%s", spec->to);
  sf_sip_builder_add (b, "Call-ID", "%s", call_id);
  sf_sip_builder_add (b, "CSeq", "%u %s", spec->cseq != 0 ? spec->cseq : 1, spec->method);
  if (spec->contact != NULL)
    sf_sip_builder_add (b, "Contact", "%s", spec->contact);
  if (!sf_sip_builder_add_lines (b, spec->extra, error)) {
    sf_sip_builder_free (b);
    return NULL;
  }
  if (spec->content_type != NULL)
    sf_sip_builder_body (b, spec->content_type, spec->body, spec->body_len);
  return sf_sip_builder_finish (b, error);
}

SfSipMsg *
sf_sip_create_response (SfSipMsg *req, guint status, const char *reason, const char *to_tag, GError **error)
{
  return sf_sip_create_response_with (req, status, reason, to_tag, NULL, error);
}

SfSipMsg *
sf_sip_create_response_with (SfSipMsg *req, guint status, const char *reason, const char *to_tag,
                             const char *const *lines, GError **error)
{
  g_return_val_if_fail (sf_sip_msg_is_request (req), NULL);
  g_return_val_if_fail (status >= 100 && status <= 699, NULL);
  SfSipBuilder *b = sf_sip_builder_response (status, reason);
  /* Header order of the request, for the headers a response carries. */
  for (guint i = 0; i < sf_sip_msg_n_headers (req); i++) {
    const SfSipHdr *h = sf_sip_msg_header (req, i);
    switch (h->id) {
    case SF_SIP_HDR_VIA:
    case SF_SIP_HDR_FROM:
    case SF_SIP_HDR_CALL_ID:
    case SF_SIP_HDR_CSEQ:
      copy_line (b, req, h);
      break;
    case SF_SIP_HDR_TO:
      if (status > 100 && to_tag != NULL && sf_sip_value_param (sf_sip_msg_to (req), "tag") == NULL) {
        /* 8.2.6.2: the value's bytes, then the tag.  Not through printf's %s: a
         * quoted-pair may escape a NUL ("a\<NUL>b", 25.1), which %s would cut
         * at, leaving an open quote that no parser takes. */
        gsize from = line_start (b, "To", 2);
        PUT (b, h->value.p, h->value.len);
        PUT (b, ";tag=", 5);
        PUTS (b, to_tag);
        line_end (b, from, "To", 2);
      } else {
        copy_line (b, req, h);
      }
      break;
    case SF_SIP_HDR_RECORD_ROUTE: /* 12.1.1: copied into responses that may create a dialog */
      if (status > 100 && status < 300)
        sf_sip_builder_add_line (b, h);
      break;
    case SF_SIP_HDR_TIMESTAMP: /* 8.2.6.1 */
      if (status == 100)
        sf_sip_builder_add_line (b, h);
      break;
    default:
      break;
    }
  }
  if (!sf_sip_builder_add_lines (b, lines, error)) {
    sf_sip_builder_free (b);
    return NULL;
  }
  return sf_sip_builder_finish (b, error);
}

SfSipMsg *
sf_sip_create_minimal_response (SfSipMsg *m, guint status, GError **error)
{
  g_return_val_if_fail (m != NULL && status >= 300 && status <= 699, NULL);
  SfSipBuilder *b = sf_sip_builder_response (status, NULL);
  /* The top Via value alone: it names the hop the response goes back to (18.2.2). */
  const SfSipValue *via = sf_sip_msg_top_via (m);
  gsize from = line_start (b, "Via", 3);
  PUT (b, via->raw.p, via->raw.len);
  line_end (b, from, "Via", 3);
  sf_sip_builder_copy (b, m, SF_SIP_HDR_FROM);
  sf_sip_builder_copy (b, m, SF_SIP_HDR_TO);
  sf_sip_builder_copy (b, m, SF_SIP_HDR_CALL_ID);
  sf_sip_builder_copy (b, m, SF_SIP_HDR_CSEQ);
  return sf_sip_builder_finish (b, error);
}

/* A request that belongs to @req's client transaction (ACK for a non-2xx, 17.1.1.3;
 * CANCEL, 9.1): @req's Request-URI, top Via, Route, From, Call-ID and CSeq number,
 * with @method; To from @to_src (the response, for the ACK's tag). */
static SfSipMsg *
same_hop_request (SfSipMsg *req, const char *method, SfSipMsg *to_src, const char *const *lines, GError **error)
{
  SfSipBuilder *b = request_str (sf_sip_str (method, strlen (method)), sf_sip_msg_ruri (req)->raw);
  add_str (b, "Via", 3, sf_sip_msg_top_via (req)->raw);
  sf_sip_builder_copy (b, req, SF_SIP_HDR_ROUTE);
  sf_sip_builder_add (b, "Max-Forwards", "70");
  sf_sip_builder_copy (b, req, SF_SIP_HDR_FROM);
  sf_sip_builder_copy (b, to_src, SF_SIP_HDR_TO);
  sf_sip_builder_copy (b, req, SF_SIP_HDR_CALL_ID);
  sf_sip_builder_add (b, "CSeq", "%" G_GUINT64_FORMAT " %s", sf_sip_msg_cseq (req)->number, method);
  if (!sf_sip_builder_add_lines (b, lines, error)) {
    sf_sip_builder_free (b);
    return NULL;
  }
  return sf_sip_builder_finish (b, error);
}

SfSipMsg *
sf_sip_create_ack (SfSipMsg *invite, SfSipMsg *response, GError **error)
{
  g_return_val_if_fail (sf_sip_msg_is_request (invite) && !sf_sip_msg_is_request (response), NULL);
  return same_hop_request (invite, "ACK", response, NULL, error);
}

SfSipMsg *
sf_sip_create_cancel (SfSipMsg *req, GError **error)
{
  return sf_sip_create_cancel_with (req, NULL, error);
}

SfSipMsg *
sf_sip_create_cancel_with (SfSipMsg *req, const char *const *lines, GError **error)
{
  g_return_val_if_fail (sf_sip_msg_is_request (req), NULL);
  return same_hop_request (req, "CANCEL", req, lines, error);
}

/* A hop of the route set being edited: a Route value as written, the URI
 * inside its <>, whether that has ;lr; slices of the request or of the
 * forward's preload (no copies). */
typedef struct {
  SfSipStr raw, uri;
  gboolean lr;
} Hop;

static Hop
hop (const SfSipValue *v)
{
  Hop h = { v->raw, v->uri != NULL ? v->uri->raw : v->raw, v->uri != NULL && sf_sip_uri_param (v->uri, "lr") != NULL };
  return h;
}

/* The body of @m and its Content-Type line as received (none if it had none). */
static void
copy_body (SfSipBuilder *b, SfSipMsg *m)
{
  SfSipStr body = sf_sip_msg_body (m);
  g_clear_pointer (&b->ctype, g_free);
  g_clear_pointer (&b->body, g_bytes_unref);
  sf_sip_builder_copy (b, m, SF_SIP_HDR_CONTENT_TYPE);
  if (body.len > 0)
    b->body = g_bytes_new (body.p, body.len);
}

/* Are the credentials of line @h for @realm? */
static gboolean
credentials_for (const SfSipHdr *h, const char *realm)
{
  g_autoptr (GPtrArray) vals = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_value_free);
  if (!sf_sip_hdr_parse (h->id, h->name, h->value, h->value.p, vals, NULL) || vals->len == 0)
    return FALSE;
  g_autofree char *r = sf_digest_param (vals->pdata[0], "realm");
  return r != NULL && strcmp (r, realm) == 0;
}

/* One Route line of @routes' values, ", " between them. */
static void
add_routes (SfSipBuilder *b, GArray *routes)
{
  gsize from = line_start (b, "Route", 5);
  for (guint i = 0; i < routes->len; i++) {
    if (i > 0)
      PUT (b, ", ", 2);
    PUT (b, g_array_index (routes, Hop, i).raw.p, g_array_index (routes, Hop, i).raw.len);
  }
  line_end (b, from, "Route", 5);
}

SfSipMsg *
sf_sip_create_forward (SfSipMsg *req, const SfSipForward *fwd, GError **error)
{
  g_return_val_if_fail (sf_sip_msg_is_request (req) && fwd != NULL && fwd->via != NULL, NULL);
  gint64 mf = sf_sip_msg_max_forwards (req);
  if (mf == 0) {
    g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_HOPS, "Max-Forwards: 0, not forwarded (483)");
    return NULL;
  }
  SfSipValues *routes_in = sf_sip_msg_values (req, SF_SIP_HDR_ROUTE, error);
  if (routes_in == NULL)
    return NULL;
  /* The route set, edited as 16.4 and 16.6 say: slices in a table made
   * only when there is one (most initial requests have none). */
  g_autoptr (GArray) routes = NULL;
  g_autoptr (GPtrArray) pre = NULL; /* the preload's values, which the slices may point into */
  if (routes_in->len > 0 || fwd->preload != NULL)
    routes = g_array_sized_new (FALSE, FALSE, sizeof (Hop), routes_in->len + 2);
  for (guint i = 0; i < routes_in->len; i++) {
    Hop h = hop (routes_in->pdata[i]);
    g_array_append_val (routes, h);
  }
#define N_ROUTES (routes != NULL ? routes->len : 0u)
#define ROUTE(i) g_array_index (routes, Hop, (i))
  SfSipStr ruri = sf_sip_msg_ruri (req)->raw;
  g_autofree char *strict = NULL; /* the Request-URI as a Route value (strict router) */
  gboolean changed_routes = FALSE;
  /* 16.4: a Request-URI this proxy put in a Record-Route (the previous hop was a
   * strict router): the real target is the last Route. */
  if (fwd->is_mine != NULL && N_ROUTES > 0 && fwd->is_mine (sf_sip_msg_ruri (req), fwd->data)) {
    ruri = ROUTE (routes->len - 1).uri;
    g_array_remove_index (routes, routes->len - 1);
    changed_routes = TRUE;
  }
  /* 16.4: the top Route naming this proxy is removed; so is a second one right
   * below it (RFC 5658: a double Record-Route, one value per side, comes
   * back as two Routes of ours, both removed). */
  for (guint i = 0; fwd->is_mine != NULL && N_ROUTES > 0 && i < 2 && i < routes_in->len; i++) {
    const SfSipValue *top = routes_in->pdata[i];
    if (top->uri == NULL || !fwd->is_mine (top->uri, fwd->data))
      break;
    g_array_remove_index (routes, 0);
    changed_routes = TRUE;
  }
  if (fwd->target != NULL)
    ruri = sf_sip_str (fwd->target, strlen (fwd->target));
  if (fwd->preload != NULL) {
    pre = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_value_free);
    SfSipStr pv = sf_sip_str (fwd->preload, strlen (fwd->preload));
    if (sf_sip_hdr_parse (SF_SIP_HDR_ROUTE, SF_SIP_STR_LIT ("Route"), pv, fwd->preload, pre, NULL))
      for (guint i = pre->len; i-- > 0;) {
        if (((SfSipValue *) pre->pdata[i])->uri == NULL)
          continue;
        Hop h = hop (pre->pdata[i]);
        g_array_insert_val (routes, 0, h);
        changed_routes = TRUE;
      }
  }
  /* 16.6 step 6: a next hop without ;lr is a strict router: it gets the
   * Request-URI, and the Request-URI goes to the end of the route set. */
  if (N_ROUTES > 0 && !ROUTE (0).lr) {
    strict = g_strdup_printf ("<%.*s>", (int) ruri.len, ruri.p);
    Hop last = { sf_sip_str (strict, strlen (strict)), SF_SIP_STR_NULL, TRUE };
    g_array_append_val (routes, last);
    ruri = ROUTE (0).uri;
    g_array_remove_index (routes, 0);
    changed_routes = TRUE;
  }
  SfSipBuilder *b = request_str (sf_sip_msg_method (req), ruri);
  sf_sip_builder_add (b, "Via", "%s", fwd->via);
  gboolean mf_done = FALSE, rr_done = FALSE, routes_done = FALSE;
  for (guint i = 0; i < sf_sip_msg_n_headers (req); i++) {
    const SfSipHdr *h = sf_sip_msg_header (req, i);
    switch (h->id) {
    case SF_SIP_HDR_CONTENT_LENGTH:
    case SF_SIP_HDR_CONTENT_TYPE:
      break; /* finish() writes them with the body */
    case SF_SIP_HDR_MAX_FORWARDS:
      if (!mf_done)
        sf_sip_builder_add (b, "Max-Forwards", "%" G_GINT64_FORMAT, mf - 1);
      mf_done = TRUE;
      break;
    case SF_SIP_HDR_PROXY_AUTHORIZATION:
      if (fwd->strip_realm == NULL || !credentials_for (h, fwd->strip_realm))
        sf_sip_builder_add_line (b, h);
      break;
    case SF_SIP_HDR_RECORD_ROUTE:
      if (!rr_done && fwd->record_route != NULL)
        sf_sip_builder_add (b, "Record-Route", "%s", fwd->record_route);
      rr_done = TRUE;
      sf_sip_builder_add_line (b, h);
      break;
    case SF_SIP_HDR_ROUTE:
      if (!changed_routes)
        sf_sip_builder_add_line (b, h);
      else if (!routes_done && N_ROUTES > 0)
        add_routes (b, routes);
      routes_done = TRUE;
      break;
    default:
      if (fwd->max_breadth == 0 || !sf_sip_str_caseeq (h->name, "Max-Breadth"))
        copy_line (b, req, h);
    }
  }
  if (!mf_done)
    sf_sip_builder_add (b, "Max-Forwards", "70");
  if (fwd->max_breadth != 0)
    sf_sip_builder_add (b, "Max-Breadth", "%u", fwd->max_breadth);
  if (!rr_done && fwd->record_route != NULL)
    sf_sip_builder_add (b, "Record-Route", "%s", fwd->record_route);
  if (!routes_done && changed_routes && N_ROUTES > 0)
    add_routes (b, routes);
#undef N_ROUTES
#undef ROUTE
  copy_body (b, req);
  return sf_sip_builder_finish (b, error);
}

/* Whether value @v was parsed from line @h (a message's values are slices of its lines). */
static gboolean
value_in_line (const SfSipValue *v, const SfSipHdr *h)
{
  return v->raw.p >= h->value.p && v->raw.p < h->value.p + h->value.len;
}

/* Adds line @h of @m with its values passed through @edit (the text of a value,
 * transfer full, or NULL to keep it).  The values are @m's, parsed once (the
 * message's cache), not parsed again for the copy.  FALSE when they do not parse. */
static gboolean
add_edited_line (SfSipBuilder *b, SfSipMsg *m, const SfSipHdr *h, SfSipValueEdit edit, gpointer data, GError **error)
{
  SfSipValues *vals = sf_sip_msg_values (m, h->id, error);
  if (vals == NULL)
    return FALSE;
  GString *line = g_string_new (NULL);
  gboolean edited = FALSE, first = TRUE;
  for (guint k = 0; k < vals->len; k++) {
    const SfSipValue *v = vals->pdata[k];
    if (!value_in_line (v, h))
      continue;
    g_autofree char *text = edit (v, data);
    edited |= text != NULL;
    g_string_append (line, first ? "" : ", ");
    first = FALSE;
    if (text != NULL)
      g_string_append (line, text);
    else
      g_string_append_len (line, v->raw.p, (gssize) v->raw.len);
  }
  if (edited)
    add_str (b, h->name.p, h->name.len, sf_sip_str (line->str, line->len)); /* all its bytes: a NUL escaped in a
                                                                              * quoted string too (25.1) */
  else
    copy_line (b, m, h);
  g_string_free (line, TRUE);
  return TRUE;
}

SfSipMsg *
sf_sip_create_forward_response (SfSipMsg *resp, GError **error)
{
  return sf_sip_create_forward_response_edited (resp, SF_SIP_HDR_OTHER, NULL, NULL, error);
}

SfSipMsg *
sf_sip_create_forward_response_edited (SfSipMsg *resp, SfSipHdrId id, SfSipValueEdit edit, gpointer data, GError **error)
{
  g_return_val_if_fail (!sf_sip_msg_is_request (resp), NULL);
  SfSipValues *vias = sf_sip_msg_values (resp, SF_SIP_HDR_VIA, error);
  if (vias == NULL)
    return NULL;
  if (vias->len < 2) {
    g_set_error (error, SF_SIP_ERROR, SF_SIP_ERROR_SYNTAX, "Via: a response with one Via was for this element");
    return NULL;
  }
  SfSipBuilder *b = response_str (sf_sip_msg_status (resp), sf_sip_msg_reason (resp));
  gboolean popped = FALSE;
  for (guint i = 0; i < sf_sip_msg_n_headers (resp); i++) {
    const SfSipHdr *h = sf_sip_msg_header (resp, i);
    if (h->id == SF_SIP_HDR_CONTENT_LENGTH || h->id == SF_SIP_HDR_CONTENT_TYPE)
      continue;
    if (h->id == SF_SIP_HDR_VIA && !popped) {
      popped = TRUE;
      /* This line's first value is ours; the rest of the line stays (the
       * values parsed above: the second, when it is on this line). */
      if (value_in_line (vias->pdata[1], h)) {
        const SfSipValue *second = vias->pdata[1];
        add_str (b, "Via", 3, sf_sip_str (second->raw.p, (gsize) (h->value.p + h->value.len - second->raw.p)));
      }
      continue;
    }
    if (edit != NULL && h->id == id) {
      if (!add_edited_line (b, resp, h, edit, data, error)) {
        sf_sip_builder_free (b);
        return NULL;
      }
      continue;
    }
    copy_line (b, resp, h);
  }
  copy_body (b, resp);
  return sf_sip_builder_finish (b, error);
}
