/* sf-endpoint.c: instances, the event queue, timers and the main-loop source
 * (see sf-endpoint.h).  The dispatcher itself is states/sf-dispatch.c; the
 * endpoint hosts it through the runtime hooks at the end of this file. */
#include "config.h"
#include "sf-endpoint-private.h"
#include "sf-module.h"
#include "sf-json.h"
#include "sf-log.h"
#include <string.h>

G_DEFINE_QUARK (sf-endpoint-error-quark, sf_endpoint_error)

typedef struct _SfQueueItem {
  guint64 target;  /* instance id */
  SfEvent *ev;     /* owned */
  guint timer_gen; /* a fired timer's generation; 0: not a timer */
} QueueItem;

/* A ring this size or larger is freed when it empties: a burst does not keep
 * its memory. */
#define QUEUE_KEEP 1024

static QueueItem *
queue_tail (SfEndpoint *ep)
{
  return ep->queue_len == 0 ? NULL : &ep->queue[(ep->queue_head + ep->queue_len - 1) & (ep->queue_cap - 1)];
}

static void
queue_push (SfEndpoint *ep, QueueItem item)
{
  if (ep->queue_len == ep->queue_cap) {
    guint cap = ep->queue_cap == 0 ? 64 : ep->queue_cap * 2;
    QueueItem *ring = g_new (QueueItem, cap);
    for (guint i = 0; i < ep->queue_len; i++) /* in order, from the head */
      ring[i] = ep->queue[(ep->queue_head + i) & (ep->queue_cap - 1)];
    g_free (ep->queue);
    ep->queue = ring;
    ep->queue_cap = cap;
    ep->queue_head = 0;
  }
  ep->queue[(ep->queue_head + ep->queue_len++) & (ep->queue_cap - 1)] = item;
}

static gboolean
queue_pop (SfEndpoint *ep, QueueItem *out)
{
  if (ep->queue_len == 0)
    return FALSE;
  *out = ep->queue[ep->queue_head];
  ep->queue_head = (ep->queue_head + 1) & (ep->queue_cap - 1);
  if (--ep->queue_len == 0 && ep->queue_cap >= QUEUE_KEEP) {
    g_clear_pointer (&ep->queue, g_free);
    ep->queue_cap = ep->queue_head = 0;
  }
  return TRUE;
}

typedef struct {
  char *handle;    /* owned */
  SfEvent *ev;     /* owned */
} InboxItem;

typedef struct {
  guint64 target;
  guint gen;       /* matches the instance's entry until cancelled or restarted */
  char name[];     /* in the same block, itself the heap timer's data (sf_timer_heap_add_sized) */
} TimerData;

/* Events dispatched per main-loop iteration (the source's and
 * sf_endpoint_dispatch_queued's together), so a flow that posts to itself
 * forever cannot starve sockets and timers. */
#define SF_DRAIN_BATCH 1024
/* Most events sf_endpoint_drain() runs in one call: a flow that posts to itself
 * forever is stopped there with a warning instead of hanging the caller. */
#define SF_DRAIN_MAX 1000000
/* A transaction machine's lines (state, instance_end) are of their own class. */
static gboolean
is_transaction (SfInstance *inst)
{
  return strcmp (inst->machine->scope, "transaction") == 0;
}

/* ep->emitting from what it depends on: the classes on, the teaching detail, a reader. */
static void
update_emitting (SfEndpoint *ep)
{
  guint on = ep->event_classes;
  if (ep->messages == SF_MESSAGES_OFF)
    on &= ~(guint) (SF_EVC_MESSAGE | SF_EVC_TIMER | SF_EVC_STEP);
  ep->emitting = ep->emit != NULL ? on : 0;
}

/* The event that removes an instance another one ended (sf_endpoint_end). */
#define REAP "sf.reap"
/* Longest timer: one year. */
#define SF_TIMER_MAX_MS (G_GUINT64_CONSTANT (366) * 24 * 3600 * 1000)

static const SfRuntimeHooks endpoint_hooks;

/* by_key's keys are SfScopedKey: hashed once, when made (an instance's) or
 * looked up, never again to check, insert or remove one. */
static guint
scoped_key_hash (gconstpointer k)
{
  return ((const SfScopedKey *) k)->hash;
}

static gboolean
scoped_key_equal (gconstpointer a, gconstpointer b)
{
  const SfScopedKey *x = a, *y = b;
  return x->hash == y->hash && strcmp (x->text, y->text) == 0;
}

SfEndpoint *
sf_endpoint_new (SfClock *clock, SfRegistry *reg, SfConfig *cfg)
{
  SfEndpoint *ep = g_new0 (SfEndpoint, 1);
  ep->clock = clock;
  ep->reg = reg;
  ep->cfg = cfg;
  ep->timers = sf_timer_heap_new ();
  ep->by_id = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify) sf_instance_free);
  ep->by_key = g_hash_table_new (scoped_key_hash, scoped_key_equal);
  ep->by_handle = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&ep->inbox);
  g_mutex_init (&ep->inbox_lock);
  ep->next_id = 1;
  ep->n_workers = 1;
  sf_runtime_init (&ep->rt, &endpoint_hooks, ep);
  ep->max_queue = cfg != NULL ? (guint) sf_config_get_int (cfg, "core", "max_queue") : 100000;
  const char *messages = cfg != NULL ? sf_config_get_string (cfg, "core", "messages") : NULL;
  ep->messages = messages == NULL || strcmp (messages, "off") == 0 ? SF_MESSAGES_OFF
                 : strcmp (messages, "full") == 0                  ? SF_MESSAGES_FULL
                                                                   : SF_MESSAGES_ON;
  ep->log_level = sf_log_level_from_name (cfg != NULL ? sf_config_get_string (cfg, "core", "log_level") : NULL,
                                          G_LOG_LEVEL_WARNING);
  ep->event_classes = SF_EVC_ALL;
  const char *const *classes = cfg != NULL ? sf_config_get_list (cfg, "core", "events") : NULL;
  if (classes != NULL && !sf_endpoint_parse_event_classes (classes, &ep->event_classes, NULL))
    ep->event_classes = SF_EVC_ALL; /* run checked it already (config_apply): a library user gets all */
  update_emitting (ep);
  ep->ts_second = -1;
  return ep;
}

static void
inbox_item_free (InboxItem *i)
{
  g_free (i->handle);
  sf_event_unref (i->ev);
  g_free (i);
}

void
sf_endpoint_free (SfEndpoint *ep)
{
  if (ep == NULL)
    return;
  if (ep->source != NULL) {
    g_source_destroy (ep->source);
    g_source_unref (ep->source);
  }
  QueueItem q;
  while (queue_pop (ep, &q))
    sf_event_unref (q.ev);
  g_free (ep->queue);
  g_queue_clear_full (&ep->inbox, (GDestroyNotify) inbox_item_free);
  g_mutex_clear (&ep->inbox_lock);
  if (ep->spare_line != NULL)
    g_string_free (ep->spare_line, TRUE);
  /* The heap first: instances' timer tables point into it. */
  sf_timer_heap_free (ep->timers);
  g_hash_table_unref (ep->by_key);
  g_hash_table_unref (ep->by_handle);
  g_hash_table_unref (ep->by_id);
  /* After the instances: they may hold what a module's state owns. */
  sf_modules_teardown (ep);
  /* After the modules: their teardowns cancel the calls they deferred. */
  if (ep->deferred != NULL)
    g_array_unref (ep->deferred);
  sf_clock_free (ep->clock);
  g_free (ep);
}

void
sf_endpoint_set_emit (SfEndpoint *ep, SfEmitFunc func, gpointer user_data)
{
  ep->emit = func;
  ep->emit_data = user_data;
  update_emitting (ep);
}

void
sf_endpoint_set_trace (SfEndpoint *ep, SfTraceFunc func, gpointer user_data)
{
  ep->trace = func;
  ep->trace_data = user_data;
}

void
sf_endpoint_set_untaken (SfEndpoint *ep, SfUntakenFunc func, gpointer user_data)
{
  ep->untaken = func;
  ep->untaken_data = user_data;
}

void
sf_endpoint_get_untaken (SfEndpoint *ep, SfUntakenFunc *func, gpointer *user_data)
{
  *func = ep->untaken;
  *user_data = ep->untaken_data;
}

static void post_internal (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, guint timer_gen);

void
sf_endpoint_end (SfEndpoint *ep, SfInstance *inst, const char *reason)
{
  gboolean was_ended = inst->ended;
  sf_endpoint_end_instance (ep, inst, reason);
  /* Ended by another instance (a proxy ending its server transaction): it is
   * removed when the queue reaches this event, not while someone dispatches.
   * Without it, an instance with nothing queued and no timer stayed for ever. */
  if (!was_ended)
    post_internal (ep, inst, sf_event_new (SF_EV_START, REAP, NULL), 0);
}

SfClock *
sf_endpoint_clock (SfEndpoint *ep)
{
  return ep->clock;
}

SfRegistry *
sf_endpoint_registry (SfEndpoint *ep)
{
  return ep->reg;
}

SfConfig *
sf_endpoint_config (SfEndpoint *ep)
{
  return ep->cfg;
}

/* The dispatcher counts in its runtime: its counters are copied in when read. */
static const SfStats *
stats_now (SfEndpoint *ep)
{
  const SfDispatchStats *d = sf_runtime_stats (&ep->rt);
  ep->stats.events_dispatched = d->events_dispatched;
  ep->stats.events_taken = d->events_taken;
  ep->stats.events_untaken = d->events_untaken;
  ep->stats.transitions = d->transitions;
  ep->stats.op_errors = d->op_errors;
  ep->stats.outcomes_unmapped = d->outcomes_unmapped;
  return &ep->stats;
}

const SfStats *
sf_endpoint_stats (SfEndpoint *ep)
{
  return stats_now (ep);
}

char *
sf_endpoint_stats_json (SfEndpoint *ep)
{
  const SfStats *s = stats_now (ep);
  GString *out = sf_json_begin ("stats");
  sf_json_add_int (out, "instances_live", g_hash_table_size (ep->by_id));
  sf_json_add_int (out, "instances_created", s->instances_created);
  sf_json_add_int (out, "instances_ended", s->instances_ended);
  sf_json_add_int (out, "events_posted", s->events_posted);
  sf_json_add_int (out, "events_dispatched", s->events_dispatched);
  sf_json_add_int (out, "events_taken", s->events_taken);
  sf_json_add_int (out, "events_untaken", s->events_untaken);
  sf_json_add_int (out, "events_dropped", s->events_dropped);
  sf_json_add_int (out, "transitions", s->transitions);
  sf_json_add_int (out, "timers_started", s->timers_started);
  sf_json_add_int (out, "timers_fired", s->timers_fired);
  sf_json_add_int (out, "timers_cancelled", s->timers_cancelled);
  sf_json_add_int (out, "timers_pending", sf_timer_heap_size (ep->timers));
  sf_json_add_int (out, "op_errors", s->op_errors);
  sf_json_add_int (out, "outcomes_unmapped", s->outcomes_unmapped);
  if (ep->stats_extra != NULL) {
    g_autofree char *extra = ep->stats_extra (ep->stats_extra_data);
    if (extra != NULL && *extra != '\0')
      g_string_append_printf (out, ",%s", extra);
  }
  return sf_json_end (out);
}

void
sf_endpoint_set_stats_extra (SfEndpoint *ep, SfStatsFunc func, gpointer user_data)
{
  ep->stats_extra = func;
  ep->stats_extra_data = user_data;
}

void
sf_endpoint_get_stats_extra (SfEndpoint *ep, SfStatsFunc *func, gpointer *user_data)
{
  *func = ep->stats_extra;
  *user_data = ep->stats_extra_data;
}

/* ---- trace and output ---- */

gboolean
sf_endpoint_tracing (SfEndpoint *ep)
{
  return ep->trace != NULL;
}

void
sf_endpoint_reread_log_level (SfEndpoint *ep)
{
  if (ep->cfg != NULL)
    ep->log_level = sf_log_level_from_name (sf_config_get_string (ep->cfg, "core", "log_level"), G_LOG_LEVEL_WARNING);
}

gboolean
sf_endpoint_logs (SfEndpoint *ep, GLogLevelFlags level)
{
  /* GLib levels: smaller flag values are more severe */
  return (level & G_LOG_LEVEL_MASK) <= ep->log_level;
}

/* Every trace line starts with the local time of day, to the microsecond. */
void
sf_endpoint_trace (SfEndpoint *ep, SfInstance *inst, const char *fmt, ...)
{
  if (ep->trace == NULL)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  gint64 us = sf_clock_wall_us (ep->clock);
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_local (us / G_USEC_PER_SEC);
  g_autofree char *hms = t != NULL ? g_date_time_format (t, "%H:%M:%S") : g_strdup ("--:--:--");
  g_autofree char *line = inst != NULL ? g_strdup_printf ("%s.%06d [%s %s] %s", hms, (int) (us % G_USEC_PER_SEC),
                                                          inst->handle, inst->machine->name, msg)
                                       : g_strdup_printf ("%s.%06d %s", hms, (int) (us % G_USEC_PER_SEC), msg);
  ep->trace (line, ep->trace_data);
}

void
sf_endpoint_set_before_emit (SfEndpoint *ep, void (*func) (gpointer data), gpointer data)
{
  ep->before_emit = func;
  ep->before_emit_data = data;
}

void
sf_endpoint_set_messages (SfEndpoint *ep, SfMessages level)
{
  ep->messages = level;
  update_emitting (ep);
}

/* The class names of run --events and core.events (docs/architecture.md, "Event classes"). */
static const struct {
  const char *name;
  SfEventClass cls;
} event_class_names[] = {
  { "service", SF_EVC_SERVICE }, { "control", SF_EVC_CONTROL }, { "flow", SF_EVC_FLOW },
  { "state", SF_EVC_STATE },     { "end", SF_EVC_END },         { "transaction", SF_EVC_TRANSACTION },
  { "message", SF_EVC_MESSAGE }, { "timer", SF_EVC_TIMER },     { "step", SF_EVC_STEP },
};

gboolean
sf_endpoint_parse_event_classes (const char *const *names, guint *mask, GError **error)
{
  guint m = 0;
  for (const char *const *n = names; n != NULL && *n != NULL; n++) {
    if (strcmp (*n, "all") == 0) {
      m = SF_EVC_ALL;
      continue;
    }
    if (strcmp (*n, "none") == 0)
      continue;
    gsize i;
    for (i = 0; i < G_N_ELEMENTS (event_class_names); i++)
      if (strcmp (*n, event_class_names[i].name) == 0)
        break;
    if (i == G_N_ELEMENTS (event_class_names)) {
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                   "unknown event class '%s' (expected all, none or a list of: service, control, flow, state, "
                   "end, transaction, message, timer, step)",
                   *n);
      return FALSE;
    }
    m |= event_class_names[i].cls;
  }
  *mask = m;
  return TRUE;
}

void
sf_endpoint_set_event_classes (SfEndpoint *ep, guint mask)
{
  ep->event_classes = mask & SF_EVC_ALL;
  update_emitting (ep);
}

gboolean
sf_endpoint_emits (SfEndpoint *ep, SfEventClass cls)
{
  return (ep->emitting & cls) != 0;
}

SfMessages
sf_endpoint_messages (SfEndpoint *ep)
{
  return ep->emit != NULL ? ep->messages : SF_MESSAGES_OFF;
}

/* "ts", last on every line: UTC, ISO 8601 to the microsecond, so the files of
 * several processes merge by time (docs/teaching.md).  The date and time of
 * day are formatted once a second; the rest is copied in, no printf: this runs
 * for every line (about 40 a proxied call with every class on).  Writes
 * "ts":"...Z" at @p, which has room for TS_FIELD_MAX bytes, and returns its end. */
#define TS_FIELD_MAX (6 + sizeof ((SfEndpoint *) 0)->ts_text + 6 + 2)

/* "YYYY-MM-DDTHH:MM:SS." of @sec into @out (21 bytes with the NUL), as
 * g_date_time_format writes it, for the years 1970 to 9999 (FALSE outside):
 * the civil date by arithmetic (days to year, month, day in the proleptic
 * Gregorian calendar), not GDateTime's allocation and strftime at each
 * second (some 4,500 instructions; a second holds a few lines at low rates). */
static gboolean
ts_text_of (gint64 sec, char out[21])
{
  if (sec < 0 || sec >= G_GINT64_CONSTANT (253402300800)) /* 10000-01-01 */
    return FALSE;
  guint64 z = (guint64) (sec / 86400) + 719468; /* days since 0000-03-01 */
  guint64 tod = (guint64) (sec % 86400);
  guint64 era = z / 146097;
  guint64 doe = z - era * 146097;
  guint64 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  guint64 doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  guint64 mp = (5 * doy + 2) / 153;
  guint d = (guint) (doy - (153 * mp + 2) / 5 + 1);
  guint m = (guint) (mp < 10 ? mp + 3 : mp - 9);
  guint y = (guint) (yoe + era * 400 + (m <= 2));
  guint h = (guint) (tod / 3600), mi = (guint) (tod / 60 % 60), se = (guint) (tod % 60);
  char t[21] = { (char) ('0' + y / 1000), (char) ('0' + y / 100 % 10), (char) ('0' + y / 10 % 10), (char) ('0' + y % 10),
                 '-', (char) ('0' + m / 10), (char) ('0' + m % 10), '-', (char) ('0' + d / 10), (char) ('0' + d % 10),
                 'T', (char) ('0' + h / 10), (char) ('0' + h % 10), ':', (char) ('0' + mi / 10), (char) ('0' + mi % 10),
                 ':', (char) ('0' + se / 10), (char) ('0' + se % 10), '.', '\0' };
  memcpy (out, t, sizeof t);
  return TRUE;
}

static char *
write_ts (SfEndpoint *ep, char *p)
{
  gint64 us = sf_clock_wall_us (ep->clock);
  gint64 sec = us / G_USEC_PER_SEC;
  if (sec != ep->ts_second && ts_text_of (sec, ep->ts_text)) {
    ep->ts_len = 20;
    ep->ts_second = sec;
  } else if (sec != ep->ts_second) {
    g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (sec);
    g_autofree char *text = t != NULL ? g_date_time_format (t, "%Y-%m-%dT%H:%M:%S.") : g_strdup ("1970-01-01T00:00:00.");
    g_strlcpy (ep->ts_text, text, sizeof ep->ts_text);
    ep->ts_len = strlen (ep->ts_text);
    ep->ts_second = sec;
  }
  memcpy (p, "\"ts\":\"", 6);
  p += 6;
  if (G_LIKELY (ep->ts_len == 20)) /* ts_text_of's: a fixed size, moves inline */
    memcpy (p, ep->ts_text, 20);
  else
    memcpy (p, ep->ts_text, ep->ts_len);
  p += ep->ts_len;
  /* two digits a step from a table: three divisions, not six (32 bits: a
   * division by a constant is then a multiplication) */
  static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                              "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                              "8081828384858687888990919293949596979899";
  guint32 frac = (guint32) (us % G_USEC_PER_SEC);
  for (int i = 4; i >= 0; i -= 2, frac /= 100)
    memcpy (p + i, pairs + 2 * (frac % 100), 2);
  p += 6;
  memcpy (p, "Z\"", 2);
  return p + 2;
}

static void
run_before_emit (SfEndpoint *ep)
{
  if (ep->before_emit != NULL) {
    void (*func) (gpointer) = ep->before_emit;
    ep->before_emit = NULL; /* what it writes comes through here too */
    func (ep->before_emit_data);
    ep->before_emit = func;
  }
}

void
sf_endpoint_emit_line (SfEndpoint *ep, char *line)
{
  run_before_emit (ep);
  if (ep->emit != NULL) {
    gsize len = strlen (line);
    if (len > 0 && line[len - 1] == '}') {
      char *stamped = g_malloc (len + TS_FIELD_MAX + 2);
      char *p = stamped;
      memcpy (p, line, len - 1);
      p += len - 1;
      if (len > 2)
        *p++ = ',';
      p = write_ts (ep, p);
      memcpy (p, "}", 2); /* with the terminating NUL */
      ep->emit (stamped, ep->emit_data);
      g_free (stamped);
    } else {
      ep->emit (line, ep->emit_data);
    }
  }
  g_free (line);
}

void
sf_endpoint_emit_json (SfEndpoint *ep, GString *out)
{
  run_before_emit (ep);
  if (ep->emit != NULL) {
    /* the same bytes as sf_endpoint_emit_line (sf_json_end (out)), stamped
     * in place: written straight into the line's buffer, made large enough
     * first (nearly always it is) */
    gsize room = 1 + TS_FIELD_MAX + 2;
    if (out->len + room >= out->allocated_len) {
      gsize len = out->len;
      g_string_set_size (out, len + room);
      out->len = len;
    }
    char *p = out->str + out->len;
    if (out->len > 1)
      *p++ = ',';
    p = write_ts (ep, p);
    *p++ = '}';
    *p = '\0';
    out->len = (gsize) (p - out->str);
    ep->emit (out->str, ep->emit_data);
  }
  /* kept for the next line, unless one is kept already or it grew large
   * (a whole message with --messages=full) */
  if (ep->spare_line == NULL && out->allocated_len <= 4096)
    ep->spare_line = out;
  else
    g_string_free (out, TRUE);
}

void
sf_endpoint_emit_json_as (SfEndpoint *ep, SfEventClass cls, GString *out)
{
  if (sf_endpoint_emits (ep, cls))
    sf_endpoint_emit_json (ep, out);
  else
    g_string_free (out, TRUE);
}

/* @inst's lines start differently from now on: its kept prefix goes. */
static void
prefix_forget (SfEndpoint *ep, SfInstance *inst)
{
  guint slot = (guint) (inst->id % G_N_ELEMENTS (ep->prefix)); /* its only place (put_prefix) */
  if (ep->prefix[slot].id == inst->id)
    ep->prefix[slot].id = 0;
}

void
sf_endpoint_set_event_fields (SfInstance *inst, char *fields)
{
  g_free (inst->event_fields);
  inst->event_fields = fields;
  prefix_forget (inst->rt->host, inst);
}

const char *
sf_endpoint_event_fields (SfInstance *inst)
{
  return inst->event_fields;
}

/* The buffer for the next line, empty: the last line's (no allocation), or a new one. */
static GString *
line_buffer (SfEndpoint *ep)
{
  GString *out = g_steal_pointer (&ep->spare_line);
  if (out == NULL)
    return g_string_sized_new (256);
  out->len = 0; /* g_string_truncate (out, 0) without its call */
  out->str[0] = '\0';
  return out;
}

/* @inst's fields after the event's name: "machine", its handle, "key", the
 * host's fields; kept for its next lines. */
static GString *
put_prefix (SfEndpoint *ep, SfInstance *inst, GString *out)
{
  /* an instance's prefix lives in the slot of its id (ids are never
   * reused): one look, not a search of every slot */
  guint slot = (guint) (inst->id % G_N_ELEMENTS (ep->prefix));
  if (ep->prefix[slot].id == inst->id) {
    sf_json_put (out, ep->prefix[slot].text, ep->prefix[slot].len);
    return out;
  }
  gsize start = out->len;
  sf_json_add_str_k (out, "machine", inst->machine->name);
  if (strcmp (inst->machine->scope, "call") == 0)
    sf_json_add_str_k (out, "call", inst->handle);
  else
    sf_json_add_str_k (out, "instance", inst->handle);
  if (inst->key != NULL)
    sf_json_add_str_k (out, "key", inst->key);
  const char *extra = inst->event_fields;
  if (extra != NULL && *extra != '\0') {
    sf_json_put (out, ",", 1);
    sf_json_put (out, extra, strlen (extra));
  }
  gsize len = out->len - start;
  if (len <= sizeof ep->prefix[0].text) {
    ep->prefix[slot].id = inst->id;
    ep->prefix[slot].len = len;
    memcpy (ep->prefix[slot].text, out->str + start, len);
  }
  return out;
}

GString *
sf_endpoint_event_begin (SfEndpoint *ep, SfInstance *inst, const char *event)
{
  GString *out = line_buffer (ep);
  sf_json_begin_in (out, event);
  return put_prefix (ep, inst, out);
}

/* sf_endpoint_event_begin with the event's name a string literal of plain
 * characters, its {"event":"..." made by the compiler, not scanned. */
#define EVENT_BEGIN_LITERAL(ep, inst, name) \
  event_begin_json ((ep), (inst), "{\"event\":\"" name "\"", sizeof ("{\"event\":\"" name "\"") - 1)
static GString *
event_begin_json (SfEndpoint *ep, SfInstance *inst, const char *head, gsize len)
{
  GString *out = line_buffer (ep);
  sf_json_put (out, head, len);
  return put_prefix (ep, inst, out);
}

/* ---- instances ---- */

static void post_internal (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, guint timer_gen);

/* Handles start with a letter for the scope; each letter counts on its own
 * (handle_seq, by the index this returns).  The last: any other scope. */
static const char *const handle_letters[] = { "c", "d", "t", "b", "r", "m", "p", "s", "i" };

static guint
handle_prefix (const char *scope)
{
  static const char *const scopes[] = { "call", "dialog", "transaction", "branch", "registration", "media",
                                        "request", "subscription" };
  G_STATIC_ASSERT (G_N_ELEMENTS (scopes) + 1 == G_N_ELEMENTS (handle_letters));
  for (guint i = 0; i < G_N_ELEMENTS (scopes); i++)
    if (strcmp (scopes[i], scope) == 0)
      return i;
  return G_N_ELEMENTS (scopes);
}

/* The key part of @inst's scoped key ("scope\x1fkey"), NULL without one: not
 * a copy of its own, a string less per keyed instance. */
static const char *
key_of (SfInstance *inst)
{
  return inst->scoped_key.text != NULL ? inst->scoped_key.text + strlen (inst->machine->scope) + 1 : NULL;
}

SfInstance *
sf_endpoint_create (SfEndpoint *ep, SfMachine *machine, const char *key, SfInstance *parent, GError **error)
{
  g_return_val_if_fail (machine != NULL && machine->initial != NULL, NULL);
  /* g_strconcat, not a printf: keys are made and looked up several times a call */
  SfScopedKey scoped = { key != NULL ? g_strconcat (machine->scope, "\x1f", key, NULL) : NULL, 0 };
  if (scoped.text != NULL) {
    scoped.hash = g_str_hash (scoped.text);
    if (g_hash_table_contains (ep->by_key, &scoped)) {
      g_free (scoped.text);
    g_set_error (error, SF_ENDPOINT_ERROR, SF_ENDPOINT_ERROR_DUPLICATE_KEY,
                   "an instance with key '%s' already exists in scope '%s'", key, machine->scope);
      return NULL;
    }
  }
  /* Overload protection at the edge (commands, new calls), not inside flows: a
   * child spawned by a flow is the flow's own work. */
  if (parent == NULL && ep->queue_len >= ep->max_queue) {
    g_set_error (error, SF_ENDPOINT_ERROR, SF_ENDPOINT_ERROR_QUEUE_FULL,
                 "event queue full (%u events): instance not created", ep->max_queue);
    g_free (scoped.text);
    return NULL;
  }
  SfInstance *inst = sf_instance_new (&ep->rt, machine);
  inst->id = ep->next_id;
  ep->next_id += ep->n_workers;
  guint letter = handle_prefix (machine->scope);
  guint last = ep->handle_seq[letter];
  guint seq = last == 0 ? ep->worker + 1 : last + ep->n_workers;
  ep->handle_seq[letter] = seq;
  char digits[24];
  const char *d = sf_json_uint_text (digits, seq);
  G_STATIC_ASSERT (sizeof inst->handle >= 1 + 10 + 1); /* a letter, a guint's digits */
  inst->handle[0] = handle_letters[letter][0];
  memcpy (inst->handle + 1, d, strlen (d) + 1);
  inst->scoped_key = scoped;
  inst->key = key_of (inst);
  inst->parent_id = parent != NULL ? parent->id : 0;
  inst->created_us = sf_clock_now_us (ep->clock);
  g_hash_table_insert (ep->by_id, &inst->id, inst);
  g_hash_table_insert (ep->by_handle, inst->handle, inst);
  if (inst->scoped_key.text != NULL)
    g_hash_table_insert (ep->by_key, &inst->scoped_key, inst);
  ep->stats.instances_created++;
  sf_endpoint_trace (ep, inst, "created (%s scope%s%s%s%s), initial state %s", machine->scope,
                     key != NULL ? ", key " : "", key != NULL ? key : "", parent != NULL ? ", parent " : "",
                     parent != NULL ? parent->handle : "", machine->initial->name);
  if (sf_endpoint_logs (ep, G_LOG_LEVEL_DEBUG)) {
    const GLogField f[] = { { SF_LOG_FIELD_INSTANCE, inst->handle, -1 }, { SF_LOG_FIELD_MACHINE, machine->name, -1 } };
    sf_log_fields (G_LOG_LEVEL_DEBUG, f, G_N_ELEMENTS (f), "%s %s: created in %s%s%s", inst->handle, machine->name,
                   machine->initial->name, parent != NULL ? " by " : "", parent != NULL ? parent->handle : "");
  }
  post_internal (ep, inst, sf_event_new (SF_EV_START, "create", NULL), 0);
  if (ep->shutting_down) /* created while quitting: it must hear it too */
    post_internal (ep, inst, sf_event_new (SF_EV_DEVICE, "shutdown", NULL), 0);
  return inst;
}

SfInstance *
sf_endpoint_lookup_id (SfEndpoint *ep, guint64 id)
{
  SfInstance *inst = g_hash_table_lookup (ep->by_id, &id);
  return inst != NULL && !inst->ended ? inst : NULL;
}

SfInstance *
sf_endpoint_lookup (SfEndpoint *ep, const char *scope, const char *key)
{
  /* "scope\x1fkey" on the stack when it fits (eleven lookups a proxied call) */
  char buf[192];
  gsize slen = strlen (scope), klen = strlen (key);
  g_autofree char *owned = NULL;
  char *scoped = slen + klen + 2 <= sizeof buf ? buf : (owned = g_malloc (slen + klen + 2));
  memcpy (scoped, scope, slen);
  scoped[slen] = '\x1f';
  memcpy (scoped + slen + 1, key, klen + 1);
  SfScopedKey probe = { scoped, g_str_hash (scoped) };
  SfInstance *inst = g_hash_table_lookup (ep->by_key, &probe);
  return inst != NULL && !inst->ended ? inst : NULL;
}

gboolean
sf_endpoint_set_key (SfEndpoint *ep, SfInstance *inst, const char *key)
{
  char *text = g_strconcat (inst->machine->scope, "\x1f", key, NULL);
  SfScopedKey scoped = { text, g_str_hash (text) };
  SfInstance *other = g_hash_table_lookup (ep->by_key, &scoped);
  if (other != NULL) {
    g_free (text);
    return other == inst;
  }
  if (inst->scoped_key.text != NULL)
    g_hash_table_remove (ep->by_key, &inst->scoped_key);
  g_free (inst->scoped_key.text);
  inst->scoped_key = scoped;
  inst->key = key_of (inst);
  prefix_forget (ep, inst);
  g_hash_table_insert (ep->by_key, &inst->scoped_key, inst);
  return TRUE;
}

gboolean
sf_endpoint_move_key (SfEndpoint *ep, SfInstance *from, SfInstance *to)
{
  g_return_val_if_fail (from != NULL && to != NULL, FALSE);
  if (from == to || from->ended || to->ended || from->scoped_key.text == NULL ||
      strcmp (from->machine->scope, to->machine->scope) != 0)
    return FALSE;
  /* The key's entry points at @to from now on: a request that comes after the
   * move, for the same Call-ID and tag, reaches @to without passing @from. */
  /* from's entry goes too: its key (the pointer to its field) moves to @to's */
  g_hash_table_remove (ep->by_key, &from->scoped_key);
  if (to->scoped_key.text != NULL)
    g_hash_table_remove (ep->by_key, &to->scoped_key);
  g_free (to->scoped_key.text);
  to->scoped_key = from->scoped_key;
  from->scoped_key = (SfScopedKey) { NULL, 0 };
  to->key = key_of (to);
  from->key = NULL;
  prefix_forget (ep, from);
  prefix_forget (ep, to);
  g_hash_table_insert (ep->by_key, &to->scoped_key, to);
  sf_endpoint_trace (ep, from, "key %s handed to %s", to->key, to->handle);
  return TRUE;
}

SfInstance *
sf_endpoint_lookup_handle (SfEndpoint *ep, const char *handle)
{
  SfInstance *inst = g_hash_table_lookup (ep->by_handle, handle);
  return inst != NULL && !inst->ended ? inst : NULL;
}

guint
sf_endpoint_n_instances (SfEndpoint *ep)
{
  return g_hash_table_size (ep->by_id);
}

static gint
by_id_order (gconstpointer a, gconstpointer b)
{
  const SfInstance *x = *(SfInstance *const *) a, *y = *(SfInstance *const *) b;
  return x->id < y->id ? -1 : x->id > y->id;
}

GPtrArray *
sf_endpoint_instances (SfEndpoint *ep)
{
  GPtrArray *a = g_ptr_array_sized_new (g_hash_table_size (ep->by_id));
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, ep->by_id);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_add (a, v);
  g_ptr_array_sort (a, by_id_order);
  return a;
}

/* The index of @inst's running timer @name, or -1. */
static gint
inst_timer_find (SfInstance *inst, const char *name)
{
  for (guint i = 0; i < inst->n_timers; i++)
    if (strcmp (inst->timers[i].name, name) == 0)
      return (gint) i;
  return -1;
}

/* Forgets @inst's timer entry @i (its heap entry is the caller's), the last
 * moved into its place; an allocated array freed with the last entry. */
static void
inst_timer_forget (SfInstance *inst, guint i)
{
  inst->timers[i] = inst->timers[--inst->n_timers];
  if (inst->n_timers == 0 && inst->timers != inst->timers_room) {
    g_free (inst->timers);
    inst->timers = inst->timers_room;
  }
}

/* The index of @inst's timer @name that fired, its event queued, or -1. */
static gint
inst_fired_find (SfInstance *inst, const char *name)
{
  for (guint i = 0; i < inst->n_fired; i++)
    if (strcmp (inst->fired[i].ev->name, name) == 0)
      return (gint) i;
  return -1;
}

/* Forgets @inst's fired timer @i, the last moved into its place; the array
 * freed with the last entry. */
static void
inst_fired_forget (SfInstance *inst, guint i)
{
  sf_event_unref (inst->fired[i].ev);
  inst->fired[i] = inst->fired[--inst->n_fired];
  if (inst->n_fired == 0)
    g_clear_pointer (&inst->fired, g_free);
}

/* Removes @inst for good: its timers, its keys, its memory. */
static void
instance_remove (SfEndpoint *ep, SfInstance *inst)
{
  while (inst->n_timers > 0) {
    SfTimer *timer = inst->timers[inst->n_timers - 1].timer;
    inst_timer_forget (inst, inst->n_timers - 1);
    sf_timer_heap_remove (ep->timers, timer);
  }
  if (inst->scoped_key.text != NULL)
    g_hash_table_remove (ep->by_key, &inst->scoped_key);
  g_hash_table_remove (ep->by_handle, inst->handle);
  g_hash_table_remove (ep->by_id, &inst->id); /* frees it */
}

void
sf_endpoint_end_instance (SfEndpoint *ep, SfInstance *inst, const char *reason)
{
  if (inst->ended)
    return;
  inst->ended = TRUE;
  ep->stats.instances_ended++;
  double duration = (sf_clock_now_us (ep->clock) - inst->created_us) / 1e6;
  sf_endpoint_trace (ep, inst, "ended in %s (%s)", inst->state->name, reason);
  /* info: the end of each call, registration, proxied request...; a
   * transaction's (several a call) only at debug */
  if (sf_endpoint_logs (ep, strcmp (inst->machine->scope, "transaction") == 0 ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_INFO)) {
    const GLogField f[] = { { SF_LOG_FIELD_INSTANCE, inst->handle, -1 },
                            { SF_LOG_FIELD_MACHINE, inst->machine->name, -1 },
                            { SF_LOG_FIELD_STATE, inst->state->name, -1 } };
    sf_log_fields (strcmp (inst->machine->scope, "transaction") == 0 ? G_LOG_LEVEL_DEBUG : G_LOG_LEVEL_INFO, f,
                   G_N_ELEMENTS (f), "%s %s: ended in %s (%s) after %.3f s", inst->handle, inst->machine->name,
                   inst->state->name, reason, duration);
  }
  if (sf_endpoint_emits (ep, is_transaction (inst) ? SF_EVC_TRANSACTION : SF_EVC_END)) {
    GString *out = sf_endpoint_event_begin (ep, inst, "instance_end");
    sf_json_add_str_k (out, "state", inst->state->name);
    sf_json_add_str_k (out, "reason", reason);
    sf_json_add_double_k (out, "duration_s", duration);
    sf_endpoint_emit_json (ep, out);
  }
  SfInstance *parent = sf_endpoint_lookup_id (ep, inst->parent_id);
  if (parent != NULL)
    post_internal (ep, parent,
                   sf_event_new_child_end (inst->machine->name, inst->import_name, inst->handle, inst->state->name), 0);
}

void
sf_endpoint_kill (SfEndpoint *ep, SfInstance *inst, const char *reason)
{
  sf_endpoint_end_instance (ep, inst, reason);
  instance_remove (ep, inst);
}

/* ---- the queue ---- */

/* The engine's own events (creation, timers, child ends) are never refused for
 * a full queue: dropping one would leave an instance waiting forever. */
static void
post_internal (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, guint timer_gen)
{
  /* One hop fewer for a new instance: when its start:create is the last thing
   * queued (its creator posts its first event at once: a request to a new
   * transaction, a transaction's request to a new call), the first event takes
   * its place, and the dispatcher runs the initial entry queue on a start:create
   * of its own just before it (states/sf-dispatch.c).  Nothing can come between
   * the two, so the order of everything stays as it was. */
  QueueItem *tail = queue_tail (ep);
  if (tail != NULL && tail->target == inst->id && tail->timer_gen == 0 && !inst->started && timer_gen == 0 &&
      tail->ev->kind == SF_EV_START && strcmp (tail->ev->name, "create") == 0 && ev->kind != SF_EV_START) {
    sf_event_unref (tail->ev);
    tail->ev = ev;
    ep->stats.events_posted++;
    return;
  }
  queue_push (ep, (QueueItem) { .target = inst->id, .ev = ev, .timer_gen = timer_gen });
  ep->stats.events_posted++;
}

gboolean
sf_endpoint_post (SfEndpoint *ep, SfInstance *inst, SfEvent *ev)
{
  g_return_val_if_fail (inst != NULL && ev != NULL, FALSE);
  if (inst->ended || ep->queue_len >= ep->max_queue) {
    g_debug ("event %s for %s dropped: %s", sf_event_trigger (ev), inst->handle,
             inst->ended ? "instance ended" : "queue full");
    ep->stats.events_dropped++;
    sf_event_unref (ev);
    return FALSE;
  }
  post_internal (ep, inst, ev, 0);
  return TRUE;
}

void
sf_endpoint_post_always (SfEndpoint *ep, SfInstance *inst, SfEvent *ev)
{
  g_return_if_fail (inst != NULL && ev != NULL);
  if (inst->ended) {
    ep->stats.events_dropped++;
    sf_event_unref (ev);
    return;
  }
  post_internal (ep, inst, ev, 0);
}

gboolean
sf_endpoint_post_key (SfEndpoint *ep, const char *scope, const char *key, SfEvent *ev)
{
  SfInstance *inst = sf_endpoint_lookup (ep, scope, key);
  if (inst == NULL) {
    ep->stats.events_dropped++;
    sf_event_unref (ev);
    return FALSE;
  }
  return sf_endpoint_post (ep, inst, ev);
}

void
sf_endpoint_post_threadsafe (SfEndpoint *ep, const char *handle, SfEvent *ev)
{
  InboxItem *i = g_new0 (InboxItem, 1);
  i->handle = g_strdup (handle);
  i->ev = ev;
  g_mutex_lock (&ep->inbox_lock);
  g_queue_push_tail (&ep->inbox, i);
  GMainContext *context = ep->context;
  g_mutex_unlock (&ep->inbox_lock);
  if (context != NULL)
    g_main_context_wakeup (context);
}

static void
take_inbox (SfEndpoint *ep)
{
  GQueue items = G_QUEUE_INIT;
  g_mutex_lock (&ep->inbox_lock);
  items = ep->inbox;
  g_queue_init (&ep->inbox);
  g_mutex_unlock (&ep->inbox_lock);
  InboxItem *i;
  while ((i = g_queue_pop_head (&items)) != NULL) {
    SfInstance *inst = sf_endpoint_lookup_handle (ep, i->handle);
    if (inst != NULL)
      sf_endpoint_post (ep, inst, g_steal_pointer (&i->ev));
    else
      ep->stats.events_dropped++;
    inbox_item_free (i);
  }
}

static gboolean
dispatch_one (SfEndpoint *ep)
{
  QueueItem item, *q = &item; /* a copy: the dispatch may grow the ring */
  if (!queue_pop (ep, &item))
    return FALSE;
  gint f = -1;
  SfInstance *inst = g_hash_table_lookup (ep->by_id, &q->target);
  if (inst == NULL || inst->ended) {
    if (inst == NULL || q->ev->kind != SF_EV_START || strcmp (q->ev->name, REAP) != 0)
      ep->stats.events_dropped++;
    if (inst != NULL)
      instance_remove (ep, inst); /* ended from outside its own dispatch (sf_endpoint_end) */
  } else if (q->timer_gen != 0 && ((f = inst_fired_find (inst, q->ev->name)) < 0 ||
                                    inst->fired[f].gen != q->timer_gen)) {
    /* Fired, then cancelled or restarted by an event ahead of it in the queue. */
    sf_endpoint_trace (ep, inst, "timer:%s dropped: cancelled after it fired", q->ev->name);
    ep->stats.events_dropped++;
  } else {
    if (q->timer_gen != 0)
      inst_fired_forget (inst, (guint) f);
    sf_dispatch (inst, q->ev);
    if (inst->ended)
      instance_remove (ep, inst);
  }
  sf_event_unref (q->ev);
  return TRUE;
}

/* The teaching detail's "timer" line: @action "set" (@ms), "fired", "cancelled". */
static void
timer_event (SfEndpoint *ep, SfInstance *inst, const char *name, const char *action, gint64 ms)
{
  if (!sf_endpoint_emits (ep, SF_EVC_TIMER))
    return;
  GString *out = sf_endpoint_event_begin (ep, inst, "timer");
  sf_json_add_str (out, "name", name);
  sf_json_add_str (out, "action", action);
  if (ms >= 0)
    sf_json_add_int (out, "ms", ms);
  sf_endpoint_emit_json (ep, out);
}

/* Moves every timer due at the clock's time into the queue. */
static guint
fire_due (SfEndpoint *ep)
{
  guint n = 0;
  gint64 now = sf_clock_now_us (ep->clock);
  SfTimer *timer;
  while ((timer = sf_timer_heap_take_due (ep->timers, now)) != NULL) {
    TimerData *t = sf_timer_data (timer);
    SfInstance *inst = sf_endpoint_lookup_id (ep, t->target);
    if (inst != NULL) {
      gint i = inst_timer_find (inst, t->name);
      if (i >= 0)
        inst_timer_forget (inst, (guint) i);
      SfEvent *ev = sf_event_new (SF_EV_TIMER, t->name, NULL);
      gint f = inst_fired_find (inst, t->name);
      if (f >= 0) /* fired before, its event still queued: that one is dropped now */
        sf_event_unref (inst->fired[f].ev);
      else {
        inst->fired = g_renew (SfFiredTimer, inst->fired, inst->n_fired + 1);
        f = (gint) inst->n_fired++;
      }
      inst->fired[f] = (SfFiredTimer) { sf_event_ref (ev), t->gen };
      ep->stats.timers_fired++;
      timer_event (ep, inst, t->name, "fired", -1);
      post_internal (ep, inst, ev, t->gen);
      n++;
    }
    sf_timer_free (timer); /* t with it */
  }
  return n;
}

/* ---- calls deferred to the batch (sf_endpoint_defer) ---- */

/* Deferred calls an emptied array keeps room for. */
#define DEFERRED_KEEP 256

typedef struct {
  SfDeferFunc func; /* NULL: cancelled */
  gpointer data;
} Deferred;

void
sf_endpoint_defer (SfEndpoint *ep, SfDeferFunc func, gpointer data)
{
  if (ep->deferred == NULL)
    ep->deferred = g_array_new (FALSE, FALSE, sizeof (Deferred));
  g_array_append_val (ep->deferred, ((Deferred) { func, data }));
}

void
sf_endpoint_undefer (SfEndpoint *ep, SfDeferFunc func, gpointer data)
{
  /* marked, not removed: run_deferred may be walking the array */
  for (guint i = 0; ep->deferred != NULL && i < ep->deferred->len; i++) {
    Deferred *d = &g_array_index (ep->deferred, Deferred, i);
    if (d->func == func && d->data == data)
      d->func = NULL;
  }
}

void
sf_endpoint_undefer_matching (SfEndpoint *ep, SfDeferFunc func, gboolean (*match) (gpointer data, gpointer user),
                              gpointer user)
{
  for (guint i = 0; ep->deferred != NULL && i < ep->deferred->len; i++) {
    Deferred *d = &g_array_index (ep->deferred, Deferred, i);
    if (d->func == func && match (d->data, user))
      d->func = NULL;
  }
}

static gboolean
has_deferred (SfEndpoint *ep)
{
  return ep->deferred != NULL && ep->deferred->len > 0;
}

/* Runs the calls deferred before this one began, at most *@budget of them
 * (counted down); those deferred while they run wait for the next time, so a
 * call that defers itself again cannot keep the batch.  FALSE when none was
 * waiting (or a run is already under way, further up the stack). */
static gboolean
run_deferred (SfEndpoint *ep, guint *budget)
{
  if (!has_deferred (ep) || ep->running_deferred)
    return FALSE;
  ep->running_deferred = TRUE;
  guint n = ep->deferred->len, i;
  for (i = 0; i < n && *budget > 0; i++) {
    Deferred *d = &g_array_index (ep->deferred, Deferred, i); /* again each time: a call may grow the array */
    SfDeferFunc func = d->func;
    if (func == NULL)
      continue;
    d->func = NULL;
    func (d->data);
    (*budget)--;
  }
  g_array_remove_range (ep->deferred, 0, i);
  /* an array that grew under a burst does not keep its peak */
  if (ep->deferred->len == 0 && i > DEFERRED_KEEP)
    g_clear_pointer (&ep->deferred, g_array_unref);
  ep->running_deferred = FALSE;
  return TRUE;
}

guint
sf_endpoint_drain (SfEndpoint *ep)
{
  guint n = 0, left = SF_DRAIN_MAX;
  gboolean outer = ep->in_batch; /* sf_endpoint_dispatch_queued waits for this drain too */
  ep->in_batch = TRUE;
  take_inbox (ep);
  fire_due (ep);
  for (;;) {
    while (left > 0 && dispatch_one (ep)) {
      n++;
      left--;
    }
    if (left == 0) {
      g_warning ("%u events and deferred calls in one drain: a flow is posting to itself without end; the rest waits", n);
      break;
    }
    guint before = left;
    if (!run_deferred (ep, &left))
      break;
    n += before - left; /* a deferred call counts as an event: a caller draining until nothing ran sees it */
  }
  ep->in_batch = outer;
  return n;
}

void
sf_endpoint_advance (SfEndpoint *ep, guint64 ms)
{
  g_return_if_fail (sf_clock_is_fake (ep->clock));
  gint64 target = sf_clock_now_us (ep->clock) + (gint64) ms * 1000;
  sf_endpoint_drain (ep);
  for (;;) {
    gint64 next = sf_timer_heap_next_deadline (ep->timers);
    if (next > target)
      break;
    if (next > sf_clock_now_us (ep->clock))
      sf_clock_fake_set_us (ep->clock, next);
    sf_endpoint_drain (ep);
  }
  sf_clock_fake_set_us (ep->clock, target);
  sf_endpoint_drain (ep);
}

void
sf_endpoint_set_worker (SfEndpoint *ep, guint worker, guint n_workers)
{
  g_return_if_fail (n_workers >= 1 && worker < n_workers && ep->next_id == 1);
  ep->worker = worker;
  ep->n_workers = n_workers;
  ep->next_id = worker + 1;
  /* core.max_queue bounds the process: each worker holds its share */
  ep->max_queue = MAX (ep->max_queue / n_workers, 1);
}

guint
sf_endpoint_worker (SfEndpoint *ep)
{
  return ep->worker;
}

gint64
sf_endpoint_next_deadline (SfEndpoint *ep)
{
  return sf_timer_heap_next_deadline (ep->timers);
}

void
sf_endpoint_advance_to (SfEndpoint *ep, gint64 us)
{
  g_return_if_fail (sf_clock_is_fake (ep->clock));
  if (us > sf_clock_now_us (ep->clock))
    sf_clock_fake_set_us (ep->clock, us);
  sf_endpoint_drain (ep);
}

/* ---- timers ---- */

void
sf_endpoint_timer_start (SfEndpoint *ep, SfInstance *inst, const char *name, guint64 ms)
{
  sf_endpoint_timer_cancel (ep, inst, name);
  ms = MIN (ms, SF_TIMER_MAX_MS);
  gsize len = strlen (name);
  guint gen = ++ep->timer_gen != 0 ? ep->timer_gen : ++ep->timer_gen;
  gint64 deadline = sf_timer_deadline (sf_clock_now_us (ep->clock), ms);
  SfTimer *timer = sf_timer_heap_add_sized (ep->timers, deadline, sizeof (TimerData) + len + 1);
  TimerData *t = sf_timer_data (timer);
  t->target = inst->id;
  memcpy (t->name, name, len + 1);
  t->gen = gen;
  if (inst->timers != inst->timers_room)
    inst->timers = g_renew (SfInstanceTimer, inst->timers, inst->n_timers + 1);
  else if (inst->n_timers == G_N_ELEMENTS (inst->timers_room)) { /* outgrew the room */
    inst->timers = g_new (SfInstanceTimer, inst->n_timers + 1);
    memcpy (inst->timers, inst->timers_room, sizeof inst->timers_room);
  }
  inst->timers[inst->n_timers++] = (SfInstanceTimer) { t->name, timer };
  ep->stats.timers_started++;
  timer_event (ep, inst, name, "set", (gint64) ms);
  /* Only from another thread: the loop's own recomputes its timeout in
   * source_prepare before it polls again, and a wakeup is a write(2). */
  if (ep->source != NULL && !sf_clock_is_fake (ep->clock) && !g_main_context_is_owner (g_source_get_context (ep->source)))
    g_main_context_wakeup (g_source_get_context (ep->source));
}

gboolean
sf_endpoint_timer_cancel (SfEndpoint *ep, SfInstance *inst, const char *name)
{
  gint i = inst_timer_find (inst, name);
  if (i < 0) {
    /* Fired but not delivered yet: cancelling still stops it (dispatch_one drops it). */
    gint f = inst_fired_find (inst, name);
    if (f < 0)
      return FALSE;
    inst_fired_forget (inst, (guint) f);
    ep->stats.timers_cancelled++;
    timer_event (ep, inst, name, "cancelled", -1);
    return TRUE;
  }
  SfTimer *timer = inst->timers[i].timer;
  inst_timer_forget (inst, (guint) i);
  sf_timer_heap_remove (ep->timers, timer); /* frees the name the entry pointed to: after */
  ep->stats.timers_cancelled++;
  timer_event (ep, inst, name, "cancelled", -1);
  return TRUE;
}

/* ---- shutdown ---- */

guint
sf_endpoint_shutdown (SfEndpoint *ep)
{
  ep->shutting_down = TRUE;
  sf_endpoint_drain (ep);
  g_autoptr (GPtrArray) all = sf_endpoint_instances (ep);
  for (guint i = 0; i < all->len; i++) {
    SfInstance *inst = g_ptr_array_index (all, i);
    if (inst->ended || strcmp (inst->machine->scope, "transaction") == 0)
      continue;
    g_autoptr (SfEvent) ev = sf_event_new (SF_EV_DEVICE, "shutdown", NULL);
    gboolean taken = sf_dispatch (inst, ev);
    if (inst->ended)
      instance_remove (ep, inst);
    else if (!taken)
      sf_endpoint_kill (ep, inst, "shutdown");
  }
  sf_endpoint_drain (ep);
  return sf_endpoint_n_instances_but (ep, "transaction");
}

gboolean
sf_endpoint_shutting_down (SfEndpoint *ep)
{
  return ep->shutting_down;
}

guint
sf_endpoint_n_instances_but (SfEndpoint *ep, const char *scope)
{
  guint n = 0;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, ep->by_id);
  while (g_hash_table_iter_next (&it, NULL, &v))
    if (!((SfInstance *) v)->ended && strcmp (((SfInstance *) v)->machine->scope, scope) != 0)
      n++;
  return n;
}

/* ---- the main-loop source: ready when events wait or a timer is due ---- */

typedef struct {
  GSource source;
  SfEndpoint *ep;
} EndpointSource;

static gboolean
source_ready (SfEndpoint *ep, gint *timeout)
{
  gboolean inbox;
  g_mutex_lock (&ep->inbox_lock);
  inbox = !g_queue_is_empty (&ep->inbox);
  g_mutex_unlock (&ep->inbox_lock);
  if (inbox || ep->queue_len > 0 || has_deferred (ep))
    return TRUE;
  gint64 next = sf_timer_heap_next_deadline (ep->timers);
  if (next == G_MAXINT64 || sf_clock_is_fake (ep->clock)) {
    if (timeout != NULL)
      *timeout = -1;
    return FALSE;
  }
  gint64 now = sf_clock_now_us (ep->clock);
  if (next <= now)
    return TRUE;
  if (timeout != NULL)
    *timeout = (gint) MIN ((next - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

/* Every turn of the loop starts with the prepare (of every source): the
 * budget of events the turn may dispatch, shared by the source and
 * sf_endpoint_dispatch_queued, starts again there. */
static gboolean
source_prepare (GSource *source, gint *timeout)
{
  SfEndpoint *ep = ((EndpointSource *) source)->ep;
  if (ep->in_batch) {
    /* a turn nested inside a batch (none in sipflow today; the UDP source,
     * which runs batches through sf_endpoint_dispatch_queued, may recurse):
     * no new budget, and not ready, or that turn would spin on a dispatch
     * that does nothing; the batch's own loop goes on after it */
    *timeout = -1;
    return FALSE;
  }
  ep->turn_left = SF_DRAIN_BATCH;
  return source_ready (ep, timeout);
}

static gboolean
source_check (GSource *source)
{
  SfEndpoint *ep = ((EndpointSource *) source)->ep;
  return !ep->in_batch && source_ready (ep, NULL);
}

/* What the source does when ready: the other threads' events and the timers
 * due join the queue, then at most what is left of this turn's budget is
 * dispatched, the deferred calls each time the queue is empty (the rest waits
 * for the next turn: a flow that posts to itself forever cannot starve
 * sockets and timers), then the after-batch hook. */
static void
run_batch (SfEndpoint *ep)
{
  ep->in_batch = TRUE;
  take_inbox (ep);
  fire_due (ep);
  if (ep->deferred_starved && has_deferred (ep)) {
    /* calls the last batch left waiting, its budget spent before its queue
     * emptied (a steady overload): first, within half of this turn's, or they
     * would wait as long as the overload lasts */
    guint share = ep->turn_left / 2, before = share;
    run_deferred (ep, &share);
    ep->turn_left -= before - share;
  }
  do {
    while (ep->turn_left > 0 && dispatch_one (ep))
      ep->turn_left--;
  } while (ep->turn_left > 0 && run_deferred (ep, &ep->turn_left));
  ep->deferred_starved = ep->turn_left == 0 && has_deferred (ep);
  ep->in_batch = FALSE;
  if (ep->after_batch != NULL)
    ep->after_batch (ep->after_batch_data);
}

static gboolean
source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  (void) callback;
  (void) user_data;
  SfEndpoint *ep = ((EndpointSource *) source)->ep;
  if (!ep->in_batch) /* never a dispatch inside a dispatch (a nested turn of the loop) */
    run_batch (ep);
  return G_SOURCE_CONTINUE;
}

void
sf_endpoint_dispatch_queued (SfEndpoint *ep)
{
  /* Unattached (the unit tests' fake clock), the caller drains; inside a
   * dispatch, the dispatch's own loop takes what was queued; with this turn's
   * budget spent, the source takes it next turn (nor the after-batch hook
   * run again for nothing: at shutdown it walks every instance). */
  if (ep->source == NULL || ep->in_batch || (ep->queue_len == 0 && !has_deferred (ep)) || ep->turn_left == 0)
    return;
  run_batch (ep);
}

static GSourceFuncs endpoint_source_funcs = {
  .prepare = source_prepare,
  .check = source_check,
  .dispatch = source_dispatch,
};

void
sf_endpoint_attach (SfEndpoint *ep, GMainContext *context)
{
  g_return_if_fail (ep->source == NULL);
  ep->source = g_source_new (&endpoint_source_funcs, sizeof (EndpointSource));
  ((EndpointSource *) ep->source)->ep = ep;
  g_source_set_name (ep->source, "sipflow endpoint");
  g_mutex_lock (&ep->inbox_lock);
  ep->context = context;
  g_mutex_unlock (&ep->inbox_lock);
  g_source_attach (ep->source, context);
}

void
sf_endpoint_set_after_batch (SfEndpoint *ep, GSourceFunc func, gpointer user_data)
{
  g_return_if_fail (ep->source != NULL);
  ep->after_batch = func;
  ep->after_batch_data = user_data;
}

/* ---- the runtime's hooks: how states/ reaches the endpoint ---- */

static gboolean
hook_tracing (SfEndpoint *ep)
{
  return ep->trace != NULL;
}

static void
hook_trace (SfEndpoint *ep, SfInstance *inst, const char *line)
{
  sf_endpoint_trace (ep, inst, "%s", line);
}

/* "trigger": a response's carries its status ("sip:response 180", "txn:respond 200";
 * a proxy branch's response event has "b1 180" as its arg: the status is last). */
/* The event's trigger as the "state" event and the log show it; *@owned holds
 * what is allocated for it (free it), NULL when nothing was. */
static const char *
trigger_text (SfEvent *ev, char **owned)
{
  const char *arg = sf_event_arg (ev);
  *owned = NULL;
  if (arg != NULL && strrchr (arg, ' ') != NULL)
    arg = strrchr (arg, ' ') + 1;
  gboolean status = arg != NULL && strlen (arg) == 3 && g_ascii_isdigit (arg[0]) && g_ascii_isdigit (arg[1]) &&
                    g_ascii_isdigit (arg[2]);
  if (!status || (sf_event_kind (ev) != SF_EV_SIP && sf_event_kind (ev) != SF_EV_TXN))
    return sf_event_trigger (ev);
  return *owned = g_strconcat (sf_event_trigger (ev), " ", arg, NULL);
}

/* trigger_text's value into @out as a "trigger" field, without allocating:
 * the trigger escaped, then " NNN" (plain bytes, the same escaped or not)
 * before its closing quote. */
static void
add_trigger (GString *out, SfEvent *ev)
{
  const char *trigger = sf_event_trigger (ev);
  SfEventKind kind = sf_event_kind (ev);
  const char *st = kind == SF_EV_SIP || kind == SF_EV_TXN ? sf_event_arg (ev) : NULL;
  if (st != NULL) {
    const char *sp = strrchr (st, ' ');
    if (sp != NULL)
      st = sp + 1;
    /* each byte read only when the one before it is a digit (not the NUL) */
    if (!g_ascii_isdigit (st[0]) || !g_ascii_isdigit (st[1]) || !g_ascii_isdigit (st[2]) || st[3] != '\0')
      st = NULL;
  }
  sf_json_add_str_k (out, "trigger", trigger);
  if (st != NULL && trigger != NULL) {
    char tail[5] = { ' ', st[0], st[1], st[2], '"' };
    out->len--; /* the closing quote, written again after the status */
    sf_json_put (out, tail, sizeof tail);
  }
}

static void
hook_state_changed (SfEndpoint *ep, SfInstance *inst, const SfState *from, const SfState *to, SfEvent *ev,
                    const char *const *ops, guint n_ops)
{
  if (sf_endpoint_logs (ep, G_LOG_LEVEL_DEBUG)) {
    g_autofree char *owned = NULL;
    const GLogField f[] = { { SF_LOG_FIELD_INSTANCE, inst->handle, -1 },
                            { SF_LOG_FIELD_MACHINE, inst->machine->name, -1 },
                            { SF_LOG_FIELD_STATE, to->name, -1 } };
    sf_log_fields (G_LOG_LEVEL_DEBUG, f, G_N_ELEMENTS (f), "%s %s: %s -> %s on %s", inst->handle, inst->machine->name,
                   from->name, to->name, trigger_text (ev, &owned));
  }
  if (!sf_endpoint_emits (ep, is_transaction (inst) ? SF_EVC_TRANSACTION : SF_EVC_STATE))
    return; /* nobody reads the event output, or not these lines: none to build */
  GString *out = EVENT_BEGIN_LITERAL (ep, inst, "state");
  sf_json_add_str_k (out, "from", from->name);
  sf_json_add_str_k (out, "to", to->name);
  add_trigger (out, ev);
  sf_json_add_strv_k (out, "ops", ops, n_ops);
  sf_endpoint_emit_json (ep, out);
}

static void
hook_stayed (SfEndpoint *ep, SfInstance *inst, const SfState *state, SfEvent *ev, const char *const *ops, guint n_ops)
{
  if (!sf_endpoint_emits (ep, SF_EVC_STEP))
    return;
  GString *out = EVENT_BEGIN_LITERAL (ep, inst, "step");
  sf_json_add_str_k (out, "state", state->name);
  add_trigger (out, ev);
  sf_json_add_strv_k (out, "ops", ops, n_ops);
  sf_endpoint_emit_json (ep, out);
}

static void
hook_untaken (SfEndpoint *ep, SfInstance *inst, SfEvent *ev)
{
  if (ep->untaken != NULL)
    ep->untaken (ep, inst, ev, ep->untaken_data);
}

static gboolean
hook_timer_running (SfEndpoint *ep, SfInstance *inst, const char *name)
{
  (void) ep;
  return inst_timer_find (inst, name) >= 0;
}

static void
hook_emit (SfEndpoint *ep, SfInstance *inst, const char *event, const char *fields)
{
  if (!sf_endpoint_emits (ep, SF_EVC_FLOW))
    return;
  GString *out = sf_endpoint_event_begin (ep, inst, event);
  if (fields != NULL && *fields != '\0') {
    sf_json_put (out, ",", 1);
    sf_json_put (out, fields, strlen (fields));
  }
  sf_endpoint_emit_json (ep, out);
}

static gboolean
hook_emitting (SfEndpoint *ep)
{
  return sf_endpoint_emits (ep, SF_EVC_FLOW);
}

static const SfRuntimeHooks endpoint_hooks = {
  .tracing = hook_tracing,
  .trace = hook_trace,
  .state_changed = hook_state_changed,
  .stayed = hook_stayed,
  .untaken = hook_untaken,
  .end_instance = sf_endpoint_end_instance,
  .timer_start = sf_endpoint_timer_start,
  .timer_cancel = sf_endpoint_timer_cancel,
  .timer_running = hook_timer_running,
  .post = sf_endpoint_post,
  .post_key = sf_endpoint_post_key,
  .lookup_id = sf_endpoint_lookup_id,
  .create = sf_endpoint_create,
  .emit = hook_emit,
  .emitting = hook_emitting,
  .move_key = sf_endpoint_move_key,
};
