/* sf-ladder.c: the ladder (sequence) diagram of sipflow event files
 * (docs/teaching.md, "sipflow ladder"), drawn as SVG by hand: a sequence
 * diagram is columns and rows, it needs no layout engine.
 *
 * Lines are kept as they come (only the fields the picture uses); each
 * rendering sorts them by time, matches every sip_out with the sip_in of the
 * element it went to, finds retransmissions and losses, filters by Call-ID,
 * then lays out one row per message or note. */
#include "config.h"
#include "sf-ladder.h"
#include <json-glib/json-glib.h>
#include <string.h>

G_DEFINE_QUARK (sf-ladder-error-quark, sf_ladder_error)

/* What one field keeps (a start line, a Call-ID), and the whole message of
 * --messages=full: enough to read, bounded so that 200000 lines stay small. */
#define MAX_FIELD 2048
#define MAX_TEXT (16 * 1024)
/* All kept text together: past it the ladder is full. */
#define MAX_BYTES (256 * 1024 * 1024)
/* json-glib's parser recurses once per nesting level: a line of a million '['
 * would overflow the stack.  No event nests more than twice. */
#define MAX_DEPTH 32
/* A sip_in may be stamped before its sip_out by this much (processes' clocks). */
#define MAX_SKEW_US G_USEC_PER_SEC
/* Copies of one message looked at, each way, for a sip_in: a file of a
 * hundred thousand identical lines must not make matching quadratic. */
#define MAX_SCAN 256

/* The fields kept, by their name in the event line (docs/teaching.md). */
typedef enum {
  F_TS, F_PROTO, F_LOCAL, F_REMOTE, F_START, F_CALL_ID, F_CSEQ, F_BRANCH, F_STATUS, F_TRANSACTION, F_INSTANCE,
  F_CALL, F_KEY, F_MACHINE, F_FROM, F_TO, F_TRIGGER, F_OPS, F_NAME, F_ACTION, F_MS, F_STATE, F_SIZE, F_TEXT,
  F_COUNT
} Field;
static const char *const field_names[F_COUNT] = {
  "ts", "proto", "local", "remote", "start", "call_id", "cseq", "branch", "status", "transaction", "instance",
  "call", "key", "machine", "from", "to", "trigger", "ops", "name", "action", "ms", "state", "size", "text",
};

typedef enum { EV_SIP_IN, EV_SIP_OUT, EV_STATE, EV_TIMER, EV_STEP } EvKind;
static const char *const kind_names[] = { "sip_in", "sip_out", "state", "timer", "step" };

typedef struct _Ev Ev;
struct _Ev {
  guint element;
  guint seq;         /* arrival order, all elements: ties of time keep it */
  EvKind kind;
  gint64 us;         /* "ts" in microseconds since the epoch; without one, the element's previous */
  char *f[F_COUNT];  /* owned, nullable */
  /* set by each rendering */
  Ev *peer;          /* unowned, nullable: the sip_in of a sip_out, and back */
  gboolean retrans;  /* a sip_out sent before unchanged by the same element */
  gboolean drawn;
};

typedef struct {
  char *name;        /* owned: the file's */
  char *flow;        /* owned, nullable: the flow event's name */
  GPtrArray *listen; /* owned char *: ADDR:PORT of its listening events */
  GPtrArray *locals; /* owned char *: the local addresses of its messages, first seen first */
  gint64 last_us;
} Element;

struct _SfLadder {
  GPtrArray *elements; /* owned Element * */
  GPtrArray *events;   /* owned Ev * */
  guint lines;
  gsize bytes;
  JsonParser *parser;  /* owned: reused line after line */
};

static void
ev_free (Ev *e)
{
  for (int i = 0; i < F_COUNT; i++)
    g_free (e->f[i]);
  g_free (e);
}

static void
element_free (Element *el)
{
  g_free (el->name);
  g_free (el->flow);
  g_ptr_array_unref (el->listen);
  g_ptr_array_unref (el->locals);
  g_free (el);
}

SfLadder *
sf_ladder_new (void)
{
  SfLadder *l = g_new0 (SfLadder, 1);
  l->elements = g_ptr_array_new_with_free_func ((GDestroyNotify) element_free);
  l->events = g_ptr_array_new_with_free_func ((GDestroyNotify) ev_free);
  l->parser = json_parser_new_immutable ();
  return l;
}

void
sf_ladder_free (SfLadder *l)
{
  if (l == NULL)
    return;
  g_ptr_array_unref (l->elements);
  g_ptr_array_unref (l->events);
  g_object_unref (l->parser);
  g_free (l);
}

guint
sf_ladder_add_element (SfLadder *l, const char *name)
{
  Element *el = g_new0 (Element, 1);
  el->name = g_strdup (name != NULL && *name != '\0' ? name : "?");
  el->listen = g_ptr_array_new_with_free_func (g_free);
  el->locals = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (l->elements, el);
  return l->elements->len - 1;
}

/* ---- reading ---- */

/* The deepest nesting of @line's objects and arrays (strings skipped), stopping past MAX_DEPTH. */
static int
nesting (const char *line, gsize len)
{
  int depth = 0, max = 0;
  gboolean in_str = FALSE;
  for (gsize i = 0; i < len && max <= MAX_DEPTH; i++) {
    char c = line[i];
    if (in_str) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_str = FALSE;
    } else if (c == '"') {
      in_str = TRUE;
    } else if (c == '{' || c == '[') {
      max = MAX (max, ++depth);
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return max;
}

/* @s cut to at most @max bytes at a character boundary (@s is valid UTF-8), transfer full. */
static char *
cut (const char *s, gsize max)
{
  gsize n = strlen (s);
  if (n <= max)
    return g_strdup (s);
  while (max > 0 && ((guchar) s[max] & 0xC0) == 0x80)
    max--;
  return g_strndup (s, max);
}

/* A scalar or an array of scalars as text (transfer full), NULL for anything else. */
static char *
node_text (JsonNode *n)
{
  if (JSON_NODE_HOLDS_VALUE (n)) {
    GType t = json_node_get_value_type (n);
    if (t == G_TYPE_STRING)
      return g_strdup (json_node_get_string (n));
    if (t == G_TYPE_INT64)
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
    if (t == G_TYPE_DOUBLE)
      return g_strdup_printf ("%g", json_node_get_double (n));
    if (t == G_TYPE_BOOLEAN)
      return g_strdup (json_node_get_boolean (n) ? "true" : "false");
    return NULL;
  }
  if (JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < json_array_get_length (a) && s->len < MAX_FIELD; i++) {
      g_autofree char *v = node_text (json_array_get_element (a, i));
      if (v != NULL)
        g_string_append_printf (s, "%s%s", s->len > 0 ? ", " : "", v);
    }
    return g_string_free (s, FALSE);
  }
  return NULL;
}

/* ADDR:PORT as sip_in's local and remote write it: an IPv6 address in brackets. */
static char *
addr_port (const char *addr, const char *port)
{
  return strchr (addr, ':') != NULL ? g_strdup_printf ("[%s]:%s", addr, port) : g_strdup_printf ("%s:%s", addr, port);
}

static void
add_unique (GPtrArray *a, const char *s)
{
  for (guint i = 0; i < a->len; i++)
    if (strcmp (a->pdata[i], s) == 0)
      return;
  if (a->len < 64) /* a header lists a few; an element cannot grow it without bound */
    g_ptr_array_add (a, g_strdup (s));
}

/* The flow and listening events name the element's lifeline. */
static void
take_identity (Element *el, const char *event, JsonObject *o)
{
  if (strcmp (event, "flow") == 0) {
    JsonNode *n = json_object_get_member (o, "name");
    if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING) {
      g_free (el->flow);
      el->flow = cut (json_node_get_string (n), 256);
    }
    return;
  }
  /* listening: {"transport":"udp","addr":"127.0.0.1","port":5060}; "control" has a path */
  JsonNode *addr = json_object_get_member (o, "addr"), *port = json_object_get_member (o, "port");
  if (addr == NULL || port == NULL)
    return;
  g_autofree char *a = node_text (addr), *p = node_text (port);
  if (a == NULL || p == NULL || strlen (a) > 256 || strlen (p) > 16)
    return;
  g_autofree char *ap = addr_port (a, p);
  add_unique (el->listen, ap);
}

static gboolean
parse_ts (const char *ts, gint64 *us)
{
  g_autoptr (GDateTime) dt = g_date_time_new_from_iso8601 (ts, NULL);
  if (dt == NULL)
    return FALSE;
  *us = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}

gboolean
sf_ladder_add_line (SfLadder *l, guint element, const char *line, gssize len, GError **error)
{
  g_return_val_if_fail (element < l->elements->len, FALSE);
  if (l->lines >= SF_LADDER_MAX_LINES) {
    g_set_error (error, SF_LADDER_ERROR, SF_LADDER_ERROR_FULL,
                 "more than %d event lines in one ladder (keep fewer files, or shorter runs)", SF_LADDER_MAX_LINES);
    return FALSE;
  }
  l->lines++;
  gsize n = len < 0 ? strlen (line) : (gsize) len;
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
    n--;
  if (n > SF_LADDER_MAX_LINE) {
    g_set_error (error, SF_LADDER_ERROR, SF_LADDER_ERROR_LINE_LONG, "line longer than %d bytes", SF_LADDER_MAX_LINE);
    return FALSE;
  }
  if (nesting (line, n) > MAX_DEPTH) {
    g_set_error (error, SF_LADDER_ERROR, SF_LADDER_ERROR_PARSE, "nested deeper than %d levels", MAX_DEPTH);
    return FALSE;
  }
  g_autoptr (GError) jerr = NULL;
  if (!json_parser_load_from_data (l->parser, line, (gssize) n, &jerr)) {
    g_set_error (error, SF_LADDER_ERROR, SF_LADDER_ERROR_PARSE, "not JSON: %s", jerr->message);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (l->parser);
  JsonNode *ev_node = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
                        ? json_object_get_member (json_node_get_object (root), "event")
                        : NULL;
  if (ev_node == NULL || !JSON_NODE_HOLDS_VALUE (ev_node) || json_node_get_value_type (ev_node) != G_TYPE_STRING) {
    g_set_error (error, SF_LADDER_ERROR, SF_LADDER_ERROR_PARSE, "not a JSON object with a string \"event\"");
    return FALSE;
  }
  JsonObject *o = json_node_get_object (root);
  const char *event = json_node_get_string (ev_node);
  Element *el = l->elements->pdata[element];
  if (strcmp (event, "flow") == 0 || strcmp (event, "listening") == 0) {
    take_identity (el, event, o);
    return TRUE;
  }
  int kind = -1;
  for (gsize i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (strcmp (event, kind_names[i]) == 0)
      kind = (int) i;
  if (kind < 0)
    return TRUE; /* an event the picture does not draw */
  if (l->bytes > MAX_BYTES) {
    g_set_error (error, SF_LADDER_ERROR, SF_LADDER_ERROR_FULL, "more than %d MiB of events in one ladder",
                 MAX_BYTES / (1024 * 1024));
    return FALSE;
  }
  Ev *e = g_new0 (Ev, 1);
  e->element = element;
  e->seq = l->events->len;
  e->kind = (EvKind) kind;
  for (int i = 0; i < F_COUNT; i++) {
    JsonNode *m = json_object_get_member (o, field_names[i]);
    g_autofree char *v = m != NULL ? node_text (m) : NULL;
    if (v == NULL)
      continue;
    e->f[i] = cut (v, i == F_TEXT ? MAX_TEXT : MAX_FIELD);
    l->bytes += strlen (e->f[i]) + 1;
  }
  gint64 us;
  if (e->f[F_TS] != NULL && parse_ts (e->f[F_TS], &us))
    el->last_us = us;
  e->us = el->last_us;
  if (e->f[F_LOCAL] != NULL && (e->kind == EV_SIP_IN || e->kind == EV_SIP_OUT))
    add_unique (el->locals, e->f[F_LOCAL]);
  g_ptr_array_add (l->events, e);
  return TRUE;
}

/* ---- addresses ---- */

/* HOST and PORT of "HOST:PORT" or "[V6]:PORT"; FALSE when it is neither. */
static gboolean
addr_split (const char *a, char **host, int *port)
{
  const char *colon = strrchr (a, ':');
  if (colon == NULL || colon[1] == '\0')
    return FALSE;
  char *end;
  long p = strtol (colon + 1, &end, 10);
  if (*end != '\0' || p < 0 || p > 65535)
    return FALSE;
  const char *h = a, *he = colon;
  if (*h == '[' && he > h && he[-1] == ']') {
    h++;
    he--;
  }
  *host = g_strndup (h, he - h);
  *port = (int) p;
  return TRUE;
}

/* One socket: the same text, or the same port where one side is a wildcard
 * (an element listening on 0.0.0.0 gets what is sent to 127.0.0.1). */
static gboolean
addr_same (const char *a, const char *b)
{
  if (a == NULL || b == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (a, b) == 0)
    return TRUE;
  g_autofree char *ha = NULL, *hb = NULL;
  int pa, pb;
  if (!addr_split (a, &ha, &pa) || !addr_split (b, &hb, &pb) || pa != pb)
    return FALSE;
  gboolean wa = strcmp (ha, "0.0.0.0") == 0 || strcmp (ha, "::") == 0;
  gboolean wb = strcmp (hb, "0.0.0.0") == 0 || strcmp (hb, "::") == 0;
  return wa || wb;
}

/* The element that owns address @a (listening there, or a local address of its messages), or -1. */
static int
owner (SfLadder *l, GHashTable *cache, const char *a)
{
  if (a == NULL)
    return -1;
  gpointer v;
  if (g_hash_table_lookup_extended (cache, a, NULL, &v))
    return GPOINTER_TO_INT (v);
  int found = -1;
  /* exact text first: a wildcard of one element must not take another's address */
  for (int pass = 0; pass < 2 && found < 0; pass++)
    for (guint i = 0; i < l->elements->len && found < 0; i++) {
      Element *el = l->elements->pdata[i];
      for (int k = 0; k < 2 && found < 0; k++) {
        GPtrArray *as = k == 0 ? el->listen : el->locals;
        for (guint j = 0; j < as->len && found < 0; j++)
          if (pass == 0 ? g_ascii_strcasecmp (as->pdata[j], a) == 0 : addr_same (as->pdata[j], a))
            found = (int) i;
      }
    }
  g_hash_table_insert (cache, g_strdup (a), GINT_TO_POINTER (found));
  return found;
}

/* ---- text ---- */

/* @s made fit for XML character data or an attribute, escaped (transfer full):
 * invalid UTF-8 and characters XML 1.0 forbids (controls, U+FFFE, U+FFFF) become
 * U+FFFD; line ends become spaces unless @keep_lines. */
static char *
xml_text (const char *s, gboolean keep_lines)
{
  if (s == NULL)
    return g_strdup ("");
  g_autofree char *valid = g_utf8_make_valid (s, -1);
  GString *out = g_string_sized_new (strlen (valid));
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    if (c == '\n' || c == '\r')
      g_string_append_c (out, keep_lines && c == '\n' ? '\n' : ' ');
    else if ((c < 0x20 && c != '\t') || c == 0xFFFE || c == 0xFFFF)
      g_string_append_unichar (out, 0xFFFD);
    else
      g_string_append_len (out, p, g_utf8_next_char (p) - p);
  }
  g_autofree char *plain = g_string_free (out, FALSE);
  return g_markup_escape_text (plain, -1);
}

/* @s (valid UTF-8 or not) shortened to @max characters with an ellipsis, then escaped (transfer full). */
static char *
xml_label (const char *s, glong max)
{
  g_autofree char *valid = g_utf8_make_valid (s != NULL ? s : "", -1);
  if (g_utf8_strlen (valid, -1) <= max)
    return xml_text (valid, FALSE);
  g_autofree char *head = g_utf8_substring (valid, 0, MAX (max - 1, 1));
  g_autofree char *shown = g_strconcat (head, "…", NULL);
  return xml_text (shown, FALSE);
}

/* ---- rendering ---- */

static int
ev_cmp (gconstpointer a, gconstpointer b)
{
  const Ev *x = *(Ev *const *) a, *y = *(Ev *const *) b;
  if (x->us != y->us)
    return x->us < y->us ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static char *
msg_key (const Ev *e, gboolean with_remote)
{
  return g_strjoin ("\x1f", with_remote && e->f[F_REMOTE] != NULL ? e->f[F_REMOTE] : "",
                    e->f[F_START] != NULL ? e->f[F_START] : "", e->f[F_CALL_ID] != NULL ? e->f[F_CALL_ID] : "",
                    e->f[F_CSEQ] != NULL ? e->f[F_CSEQ] : "", e->f[F_BRANCH] != NULL ? e->f[F_BRANCH] : "",
                    with_remote && e->f[F_STATUS] != NULL ? e->f[F_STATUS] : "", NULL);
}

/* Retransmissions: a sip_out identical (remote, start, Call-ID, CSeq, branch,
 * status) to an earlier one of the same element. */
static void
mark_retransmissions (GPtrArray *sorted)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < sorted->len; i++) {
    Ev *e = sorted->pdata[i];
    if (e->kind != EV_SIP_OUT)
      continue;
    g_autofree char *k = msg_key (e, TRUE);
    char *key = g_strdup_printf ("%u\x1f%s", e->element, k);
    if (g_hash_table_contains (seen, key)) {
      e->retrans = TRUE;
      g_free (key);
    } else {
      g_hash_table_add (seen, key);
    }
  }
}

/* @out, not matched yet, went from where @in came to where it arrived. */
static gboolean
may_be (const Ev *out, const Ev *in)
{
  if (out->peer != NULL || !addr_same (out->f[F_REMOTE], in->f[F_LOCAL]))
    return FALSE;
  return out->f[F_LOCAL] == NULL || in->f[F_REMOTE] == NULL || addr_same (out->f[F_LOCAL], in->f[F_REMOTE]);
}

/* Each sip_in is the sip_out sent to its local address from its remote one
 * with the same start line, Call-ID, CSeq and branch: the latest such sent
 * before it (a retransmission's copy is the one that arrived last), or, when
 * the clocks disagree, the earliest sent at most MAX_SKEW_US after it. */
static void
match_messages (GPtrArray *sorted)
{
  g_autoptr (GHashTable) outs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                       (GDestroyNotify) g_ptr_array_unref);
  for (guint i = 0; i < sorted->len; i++) {
    Ev *e = sorted->pdata[i];
    if (e->kind != EV_SIP_OUT || e->f[F_REMOTE] == NULL)
      continue;
    char *k = msg_key (e, FALSE);
    GPtrArray *list = g_hash_table_lookup (outs, k);
    if (list == NULL) {
      list = g_ptr_array_new ();
      g_hash_table_insert (outs, k, list);
    } else {
      g_free (k);
    }
    g_ptr_array_add (list, e);
  }
  for (guint i = 0; i < sorted->len; i++) {
    Ev *in = sorted->pdata[i];
    if (in->kind != EV_SIP_IN || in->f[F_LOCAL] == NULL)
      continue;
    g_autofree char *k = msg_key (in, FALSE);
    GPtrArray *list = g_hash_table_lookup (outs, k);
    if (list == NULL)
      continue;
    /* the list is in time order: the first sent after @in, found by halving */
    guint lo = 0, hi = list->len;
    while (lo < hi) {
      guint mid = lo + (hi - lo) / 2;
      if (((Ev *) list->pdata[mid])->us <= in->us)
        lo = mid + 1;
      else
        hi = mid;
    }
    Ev *before = NULL, *after = NULL;
    for (guint j = lo, n = 0; j > 0 && n < MAX_SCAN && before == NULL; j--, n++)
      if (may_be (list->pdata[j - 1], in))
        before = list->pdata[j - 1];
    for (guint j = lo, n = 0; j < list->len && n < MAX_SCAN && before == NULL && after == NULL; j++, n++) {
      Ev *out = list->pdata[j];
      if (out->us > in->us + MAX_SKEW_US)
        break;
      if (may_be (out, in))
        after = out;
    }
    Ev *out = before != NULL ? before : after;
    if (out != NULL) {
      out->peer = in;
      in->peer = out;
    }
  }
}

typedef enum { ROW_MSG, ROW_NOTE } RowKind;
typedef struct {
  RowKind kind;
  Ev *out, *in;    /* ROW_MSG: either may be NULL (the other end has no file) */
  Ev *note;        /* ROW_NOTE */
  int from, to;    /* columns */
  gboolean lost;   /* sent towards an element whose file has no sip_in of it */
  gint64 us;
} Row;

typedef struct {
  int element;     /* -1: a peer known only by its address */
  char *addr;      /* owned, peers */
} Column;

typedef struct {
  SfLadder *l;
  const char *call_id;
  GHashTable *owners;    /* address -> element + 1 cache (owner ()) */
  GArray *rows;          /* Row */
  GPtrArray *cols;       /* owned Column * */
  int *el_col;           /* element -> column, -1 */
  GHashTable *peer_col;  /* address -> column + 1 */
  guint n_msgs;
} Layout;

static void
column_free (Column *c)
{
  g_free (c->addr);
  g_free (c);
}

static int
element_column (Layout *y, int element)
{
  if (y->el_col[element] < 0) {
    Column *c = g_new0 (Column, 1);
    c->element = element;
    g_ptr_array_add (y->cols, c);
    y->el_col[element] = (int) y->cols->len - 1;
  }
  return y->el_col[element];
}

/* The column of address @a: its element's, or a peer's of its own. */
static int
address_column (Layout *y, const char *a)
{
  int el = owner (y->l, y->owners, a);
  if (el >= 0)
    return element_column (y, el);
  const char *key = a != NULL ? a : "?";
  int c = GPOINTER_TO_INT (g_hash_table_lookup (y->peer_col, key)) - 1;
  if (c < 0) {
    Column *col = g_new0 (Column, 1);
    col->element = -1;
    col->addr = g_strdup (key);
    g_ptr_array_add (y->cols, col);
    c = (int) y->cols->len - 1;
    g_hash_table_insert (y->peer_col, g_strdup (key), GINT_TO_POINTER (c + 1));
  }
  return c;
}

static const char *
ev_call_id (const Row *r)
{
  if (r->out != NULL && r->out->f[F_CALL_ID] != NULL)
    return r->out->f[F_CALL_ID];
  return r->in != NULL ? r->in->f[F_CALL_ID] : NULL;
}

static void
add_handles (GHashTable *set, const Ev *e)
{
  static const Field fs[] = { F_TRANSACTION, F_INSTANCE, F_CALL };
  if (e == NULL)
    return;
  for (gsize i = 0; i < G_N_ELEMENTS (fs); i++)
    if (e->f[fs[i]] != NULL)
      g_hash_table_add (set, g_strdup_printf ("%u\x1f%s", e->element, e->f[fs[i]]));
}

static gboolean
note_kept (GHashTable *set, const Ev *e, const char *call_id)
{
  if (g_strcmp0 (e->f[F_CALL_ID], call_id) == 0 || g_strcmp0 (e->f[F_KEY], call_id) == 0)
    return TRUE;
  static const Field fs[] = { F_INSTANCE, F_CALL, F_TRANSACTION };
  for (gsize i = 0; i < G_N_ELEMENTS (fs); i++)
    if (e->f[fs[i]] != NULL) {
      g_autofree char *k = g_strdup_printf ("%u\x1f%s", e->element, e->f[fs[i]]);
      if (g_hash_table_contains (set, k))
        return TRUE;
    }
  return FALSE;
}

/* The rows in time order: a message where its first event is (its sip_out,
 * or its sip_in when the clocks put that first), each note where it is. */
static void
build_rows (Layout *y)
{
  SfLadder *l = y->l;
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  for (guint i = 0; i < l->events->len; i++) {
    Ev *e = l->events->pdata[i];
    e->peer = NULL;
    e->retrans = FALSE;
    e->drawn = FALSE;
    g_ptr_array_add (sorted, e);
  }
  g_ptr_array_sort (sorted, ev_cmp);
  mark_retransmissions (sorted);
  match_messages (sorted);
  GArray *all = g_array_new (FALSE, TRUE, sizeof (Row));
  for (guint i = 0; i < sorted->len; i++) {
    Ev *e = sorted->pdata[i];
    if (e->drawn)
      continue;
    Row r = { .us = e->us };
    if (e->kind == EV_SIP_OUT || e->kind == EV_SIP_IN) {
      r.kind = ROW_MSG;
      r.out = e->kind == EV_SIP_OUT ? e : e->peer;
      r.in = e->kind == EV_SIP_IN ? e : e->peer;
      if (e->peer != NULL)
        e->peer->drawn = TRUE;
    } else {
      r.kind = ROW_NOTE;
      r.note = e;
    }
    e->drawn = TRUE;
    g_array_append_val (all, r);
  }
  /* --call-id: that call's messages, and the notes of the instances they moved */
  g_autoptr (GHashTable) handles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (y->call_id != NULL)
    for (guint i = 0; i < all->len; i++) {
      Row *r = &g_array_index (all, Row, i);
      if (r->kind == ROW_MSG && g_strcmp0 (ev_call_id (r), y->call_id) == 0) {
        add_handles (handles, r->out);
        add_handles (handles, r->in);
      }
    }
  for (guint i = 0; i < all->len; i++) {
    Row r = g_array_index (all, Row, i);
    if (y->call_id != NULL && (r.kind == ROW_MSG ? g_strcmp0 (ev_call_id (&r), y->call_id) != 0
                                                  : !note_kept (handles, r.note, y->call_id)))
      continue;
    if (r.kind == ROW_MSG) {
      if (r.out != NULL) {
        r.from = element_column (y, (int) r.out->element);
        if (r.in != NULL) {
          r.to = element_column (y, (int) r.in->element);
        } else {
          r.to = address_column (y, r.out->f[F_REMOTE]);
          r.lost = ((Column *) y->cols->pdata[r.to])->element >= 0;
        }
      } else {
        r.from = address_column (y, r.in->f[F_REMOTE]);
        r.to = element_column (y, (int) r.in->element);
      }
      y->n_msgs++;
    } else {
      r.from = r.to = element_column (y, (int) r.note->element);
    }
    g_array_append_val (y->rows, r);
  }
  g_array_unref (all);
  /* every file is a lifeline, even one with nothing to draw */
  for (guint i = 0; i < l->elements->len; i++)
    element_column (y, (int) i);
}

/* geometry, in pixels */
#define TIME_W 76
#define COL_W 280
#define TOP 10
#define LINE_H 15
#define ROW_MSG_H 32
#define ROW_STATE_H 32
#define ROW_SMALL_H 20
#define CHAR_W 6.6

static int
col_x (int c)
{
  return TIME_W + COL_W / 2 + c * COL_W;
}

/* The header lines of column @c: the flow's name (or the file's) and the listening addresses. */
static GPtrArray *
header_lines (Layout *y, const Column *c)
{
  GPtrArray *lines = g_ptr_array_new ();
  if (c->element < 0) {
    g_ptr_array_add (lines, c->addr);
    return lines;
  }
  Element *el = y->l->elements->pdata[c->element];
  g_ptr_array_add (lines, el->flow != NULL ? el->flow : el->name);
  GPtrArray *as = el->listen->len > 0 ? el->listen : el->locals;
  for (guint i = 0; i < as->len && i < 3; i++)
    g_ptr_array_add (lines, as->pdata[i]);
  if (as->len > 3)
    g_ptr_array_add (lines, (gpointer) "…");
  return lines;
}

static void
append_field_lines (GString *t, const Ev *e)
{
  for (int i = 0; i < F_COUNT; i++)
    if (e->f[i] != NULL && i != F_TEXT)
      g_string_append_printf (t, "\n  %s: %s", field_names[i], e->f[i]);
  if (e->f[F_TEXT] != NULL)
    g_string_append_printf (t, "\n%s", e->f[F_TEXT]);
}

static const char *
element_name (Layout *y, guint element)
{
  Element *el = y->l->elements->pdata[element];
  return el->name;
}

/* The tooltip of a row: its events, every kept field (transfer full, escaped). */
static char *
row_title (Layout *y, const Row *r)
{
  g_autoptr (GString) t = g_string_new (NULL);
  const Ev *evs[2] = { r->kind == ROW_MSG ? r->out : r->note, r->kind == ROW_MSG ? r->in : NULL };
  for (int i = 0; i < 2; i++) {
    if (evs[i] == NULL)
      continue;
    g_string_append_printf (t, "%s%s (%s)", t->len > 0 ? "\n" : "", kind_names[evs[i]->kind],
                            element_name (y, evs[i]->element));
    append_field_lines (t, evs[i]);
  }
  return xml_text (t->str, TRUE);
}

static void
draw_msg (Layout *y, GString *s, const Row *r, int top)
{
  const Ev *e = r->out != NULL ? r->out : r->in;
  int x1 = col_x (r->from), x2 = col_x (r->to), ay = top + 22;
  gboolean retrans = r->out != NULL && r->out->retrans;
  g_autofree char *cid = xml_text (ev_call_id (r), FALSE);
  g_autofree char *title = row_title (y, r);
  g_string_append_printf (s, "<g class=\"msg%s%s\" data-call-id=\"%s\"><title>%s</title>\n", retrans ? " retrans" : "",
                          r->lost ? " lost" : "", cid, title);
  const char *dash = retrans ? " stroke-dasharray=\"6,4\"" : "";
  int span = x1 == x2 ? COL_W : ABS (x2 - x1);
  int label_x = x1 == x2 ? x1 + 8 : (x1 + x2) / 2;
  const char *anchor = x1 == x2 ? "start" : "middle";
  if (x1 == x2) {
    /* to itself: a loop out to the right and back */
    g_string_append_printf (s, "<path class=\"arrow\" d=\"M%d,%d h40 v8 h-40\" fill=\"none\"%s marker-end=\"url(#arrow)\"/>\n",
                            x1, ay - 4, dash);
  } else if (r->lost) {
    int mx = (x1 + x2) / 2;
    g_string_append_printf (s, "<line class=\"arrow\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"%s/>\n", x1, ay, mx, ay, dash);
    g_string_append_printf (s,
                            "<g class=\"lost\"><path d=\"M%d,%d l8,8 m0,-8 l-8,8\" stroke=\"#c00\" stroke-width=\"2\"/>"
                            "<text x=\"%d\" y=\"%d\" fill=\"#c00\">lost</text></g>\n",
                            mx - 4, ay - 4, x2 > x1 ? mx + 8 : mx - 34, ay + 12);
  } else {
    int end = x2 > x1 ? x2 - 1 : x2 + 1;
    g_string_append_printf (s, "<line class=\"arrow\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"%s marker-end=\"url(#arrow)\"/>\n",
                            x1, ay, end, ay, dash);
  }
  /* the start line shortened, the mark kept whole */
  const char *suffix = retrans ? " (retransmission)" : "";
  glong room = MAX (8, (glong) ((span - 16) / CHAR_W) - (glong) strlen (suffix));
  g_autofree char *label = xml_label (e->f[F_START] != NULL ? e->f[F_START] : "(no start line)", room);
  g_string_append_printf (s, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"%s\">%s%s</text>\n</g>\n", label_x,
                          ay - 6, anchor, label, suffix);
}

static void
draw_note (Layout *y, GString *s, const Row *r, int top)
{
  const Ev *e = r->note;
  int x = col_x (r->from);
  glong max = (glong) ((COL_W - 24) / CHAR_W);
  g_autofree char *title = row_title (y, r);
  const char *who = e->f[F_INSTANCE] != NULL ? e->f[F_INSTANCE] : e->f[F_CALL] != NULL ? e->f[F_CALL] : "?";
  const char *machine = e->f[F_MACHINE] != NULL ? e->f[F_MACHINE] : "?";
  if (e->kind == EV_STATE) {
    g_autofree char *text = g_strdup_printf ("%s %s: %s -> %s", machine, who, e->f[F_FROM] ? e->f[F_FROM] : "?",
                                             e->f[F_TO] ? e->f[F_TO] : "?");
    g_autofree char *t1 = xml_label (text, max);
    g_autofree char *t2 = xml_label (e->f[F_TRIGGER] != NULL ? e->f[F_TRIGGER] : "", max + 4);
    g_string_append_printf (s,
                            "<g class=\"state\"><title>%s</title><rect x=\"%d\" y=\"%d\" width=\"8\" height=\"8\"/>"
                            "<text x=\"%d\" y=\"%d\">%s</text><text class=\"trigger\" x=\"%d\" y=\"%d\">%s</text></g>\n",
                            title, x - 4, top + 6, x + 10, top + 14, t1, x + 10, top + 27, t2);
    return;
  }
  if (e->kind == EV_STEP) {
    g_autofree char *text = g_strdup_printf ("%s %s: %s (%s)", machine, who, e->f[F_STATE] ? e->f[F_STATE] : "?",
                                             e->f[F_TRIGGER] ? e->f[F_TRIGGER] : "?");
    g_autofree char *t1 = xml_label (text, max);
    g_string_append_printf (s,
                            "<g class=\"step\"><title>%s</title><path d=\"M%d,%d a4,4 0 1,1 4,4\" fill=\"none\"/>"
                            "<text x=\"%d\" y=\"%d\">%s</text></g>\n",
                            title, x - 4, top + 10, x + 10, top + 14, t1);
    return;
  }
  /* timer: each action its own mark */
  const char *action = e->f[F_ACTION] != NULL ? e->f[F_ACTION] : "?";
  g_autofree char *text = NULL;
  if (strcmp (action, "set") == 0 && e->f[F_MS] != NULL)
    text = g_strdup_printf ("timer %s %s ms", e->f[F_NAME] ? e->f[F_NAME] : "?", e->f[F_MS]);
  else
    text = g_strdup_printf ("timer %s %s", e->f[F_NAME] ? e->f[F_NAME] : "?", action);
  g_autofree char *t1 = xml_label (text, max);
  const char *cls = strcmp (action, "set") == 0         ? "set"
                    : strcmp (action, "fired") == 0     ? "fired"
                    : strcmp (action, "cancelled") == 0 ? "cancelled"
                                                        : "other";
  g_string_append_printf (s, "<g class=\"timer %s\"><title>%s</title>", cls, title);
  if (strcmp (cls, "set") == 0) /* an open circle: it may fire */
    g_string_append_printf (s, "<circle cx=\"%d\" cy=\"%d\" r=\"4\"/>", x, top + 10);
  else if (strcmp (cls, "fired") == 0) /* a filled one: it did */
    g_string_append_printf (s, "<circle cx=\"%d\" cy=\"%d\" r=\"4\"/>", x, top + 10);
  else /* a cross: it never will */
    g_string_append_printf (s, "<path d=\"M%d,%d m-4,-4 l8,8 m0,-8 l-8,8\"/>", x, top + 10);
  g_string_append_printf (s, "<text x=\"%d\" y=\"%d\">%s</text></g>\n", x + 10, top + 14, t1);
}

static const char svg_style[] =
  "<style>\n"
  "text { font-family: sans-serif; font-size: 12px; fill: #000; }\n"
  ".head rect { fill: #eef3fb; stroke: #345; }\n"
  ".head text { text-anchor: middle; }\n"
  ".head .name { font-weight: bold; }\n"
  ".peer .head rect { fill: #f4f4f4; stroke: #777; }\n"
  ".lifeline line { stroke: #999; stroke-dasharray: 4,4; }\n"
  ".time { fill: #666; font-size: 11px; }\n"
  ".msg .arrow { stroke: #135; stroke-width: 1.5; }\n"
  ".msg.retrans .arrow { stroke: #a60; }\n"
  ".msg.lost .arrow { stroke: #c00; }\n"
  ".msg .label { font-family: monospace; font-size: 11px; }\n"
  ".state rect { fill: #2a7; }\n"
  ".state text { fill: #175; }\n"
  ".state .trigger { fill: #555; font-size: 10px; }\n"
  ".step path { stroke: #2a7; }\n"
  ".step text { fill: #175; font-size: 11px; }\n"
  ".timer text { fill: #548; font-size: 11px; }\n"
  ".timer circle, .timer path { stroke: #548; fill: #548; }\n"
  ".timer.set circle { fill: #fff; }\n"
  "g.msg:hover text, g.state:hover text, g.timer:hover text, g.step:hover text { font-weight: bold; }\n"
  "</style>\n";

static char *
render_svg (SfLadder *l, const char *call_id, gboolean standalone, guint *n_msgs, guint *n_cols)
{
  Layout y = { .l = l, .call_id = call_id };
  y.owners = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  y.rows = g_array_new (FALSE, TRUE, sizeof (Row));
  y.cols = g_ptr_array_new_with_free_func ((GDestroyNotify) column_free);
  y.el_col = g_new (int, l->elements->len + 1);
  for (guint i = 0; i < l->elements->len; i++)
    y.el_col[i] = -1;
  y.peer_col = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  build_rows (&y);

  /* headers */
  guint max_lines = 1;
  for (guint c = 0; c < y.cols->len; c++) {
    g_autoptr (GPtrArray) lines = header_lines (&y, y.cols->pdata[c]);
    max_lines = MAX (max_lines, lines->len);
  }
  int head_h = 8 + LINE_H * (int) max_lines;
  int first = TOP + head_h + 16;
  int yy = first;
  for (guint i = 0; i < y.rows->len; i++) {
    const Row *r = &g_array_index (y.rows, Row, i);
    yy += r->kind == ROW_MSG ? ROW_MSG_H : r->note->kind == EV_STATE ? ROW_STATE_H : ROW_SMALL_H;
  }
  /* the last lifeline's notes reach as far right as the others' */
  int height = yy + 16, width = TIME_W + (int) MAX (y.cols->len, 1) * COL_W + COL_W / 2;

  GString *s = g_string_new (NULL);
  if (standalone)
    g_string_append (s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  g_string_append_printf (s, "<svg%s width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" class=\"ladder\">\n",
                          standalone ? " xmlns=\"http://www.w3.org/2000/svg\"" : "", width, height, width, height);
  g_string_append (s, svg_style);
  g_string_append (s, "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" "
                      "markerHeight=\"8\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#135\"/></marker></defs>\n");
  g_string_append_printf (s, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", width, height);
  g_string_append_printf (s, "<text class=\"time\" x=\"6\" y=\"%d\">time (s)</text>\n", TOP + head_h);
  for (guint c = 0; c < y.cols->len; c++) {
    const Column *col = y.cols->pdata[c];
    g_autoptr (GPtrArray) lines = header_lines (&y, col);
    int x = col_x ((int) c);
    g_autofree char *name = xml_text (lines->pdata[0], FALSE);
    g_string_append_printf (s, "<g class=\"lifeline%s\" data-name=\"%s\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
                            col->element < 0 ? " peer" : "", name, x, TOP + head_h, x, height - 8);
    g_string_append_printf (s, "<g class=\"head\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"4\"/>\n",
                            x - (COL_W - 30) / 2, TOP, COL_W - 30, head_h);
    for (guint i = 0; i < lines->len; i++) {
      g_autofree char *t = xml_label (lines->pdata[i], (glong) ((COL_W - 40) / CHAR_W));
      g_string_append_printf (s, "<text%s x=\"%d\" y=\"%d\">%s</text>\n", i == 0 ? " class=\"name\"" : "", x,
                              TOP + 4 + LINE_H * ((int) i + 1) - 3, t);
    }
    g_string_append (s, "</g></g>\n");
  }
  gint64 t0 = y.rows->len > 0 ? g_array_index (y.rows, Row, 0).us : 0;
  yy = first;
  for (guint i = 0; i < y.rows->len; i++) {
    const Row *r = &g_array_index (y.rows, Row, i);
    g_string_append_printf (s, "<text class=\"time\" x=\"6\" y=\"%d\">%.3f</text>\n", yy + 14,
                            (double) (r->us - t0) / G_USEC_PER_SEC);
    if (r->kind == ROW_MSG) {
      draw_msg (&y, s, r, yy);
      yy += ROW_MSG_H;
    } else {
      draw_note (&y, s, r, yy);
      yy += r->note->kind == EV_STATE ? ROW_STATE_H : ROW_SMALL_H;
    }
  }
  g_string_append (s, "</svg>\n");

  if (n_msgs != NULL)
    *n_msgs = y.n_msgs;
  if (n_cols != NULL)
    *n_cols = y.cols->len;
  g_hash_table_unref (y.owners);
  g_array_unref (y.rows);
  g_ptr_array_unref (y.cols);
  g_free (y.el_col);
  g_hash_table_unref (y.peer_col);
  return g_string_free (s, FALSE);
}

char *
sf_ladder_svg (SfLadder *l, const char *call_id)
{
  return render_svg (l, call_id, TRUE, NULL, NULL);
}

char *
sf_ladder_html (SfLadder *l, const char *call_id, const char *title)
{
  guint n_msgs = 0, n_cols = 0;
  g_autofree char *svg = render_svg (l, call_id, FALSE, &n_msgs, &n_cols);
  g_autofree char *t = xml_text (title != NULL ? title : "sipflow ladder", FALSE);
  g_autofree char *cid = call_id != NULL ? xml_text (call_id, FALSE) : NULL;
  GString *s = g_string_new ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
  g_string_append_printf (s, "<title>%s</title>\n", t);
  g_string_append (s, "<style>\nbody { font-family: sans-serif; margin: 1em; }\n"
                      "h1 { font-size: 1.2em; }\n.note { color: #555; }\n</style>\n</head>\n<body>\n");
  g_string_append_printf (s, "<h1>%s</h1>\n<p class=\"note\">%u message%s, %u lifeline%s%s%s. "
                             "Hover an arrow or a note for its events; dashed: a retransmission; a cross: lost.</p>\n",
                          t, n_msgs, n_msgs == 1 ? "" : "s", n_cols, n_cols == 1 ? "" : "s",
                          cid != NULL ? ", Call-ID " : "", cid != NULL ? cid : "");
  g_string_append (s, svg);
  g_string_append (s, "</body>\n</html>\n");
  return g_string_free (s, FALSE);
}
