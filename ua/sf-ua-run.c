/* sf-ua-run.c: 'sipflow run': load a flow, read the configuration, run the
 * endpoint on the GLib main loop, print events as JSON lines on standard output
 * and take control commands from standard input (and --control).  quit, SIGINT
 * and SIGTERM stop it cleanly: every instance gets device:shutdown and a bounded
 * time (core.shutdown_timeout) to end, while the SIP stack answers new requests
 * 503 (operators/transaction/sf-txn-overload.c); a second signal stops at once. */
#include "config.h"
#include "operators/sf-modules.h"
#include "operators/transaction/sf-stack.h"
#include "operators/registrar/sf-registrar.h"
#include "framework/sf-workers.h"
#include "framework/sf-clock.h"
#include "sf-ua.h"
#include "framework/sf-json.h"
#include "framework/sf-loader.h"
#include "framework/sf-config-private.h"
#include "framework/sf-flow.h"
#include "sf-ua-lines.h"
#include "sf-ua-http.h"
#include "sf-ua-metrics.h"
#include "sf-ua-notify.h"
#include "states/sf-machine.h"
#include <errno.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct _RunWorker RunWorker;

typedef struct {
  GMainLoop *loop;
  SfEndpoint *ep;            /* worker 0's, on the main loop */
  guint n;                   /* core.workers */
  SfWorkers *set;            /* owned, nullable: the workers when n > 1 */
  RunWorker *workers;        /* owned, nullable: workers 1 to n - 1, on threads of their own */
  GMutex lock;               /* the workers' start and their replies (sync_call) */
  GCond cond;
  /* The workers' start and end, under lock: one run's, not the process's. */
  enum { WORKERS_STARTING, WORKERS_RUN, WORKERS_ABORT } workers_phase;
  gboolean workers_teardown;
  gboolean answer_here;      /* the flow answers every request itself: requests stay where read (machine_workers_safe) */
  gboolean own_source;       /* core.worker_source = own: each proxy worker forwards from a UDP port of its own */
  guint idle_retry;          /* a source id: check_idle again after a worker did not answer in time */
  SfUaControl *ctl;
  SfLineReader *in;          /* owned, nullable: standard input */
  SfUaHttp *http;            /* owned, nullable: the live view (--http) */
  SfUaMetrics *metrics;      /* owned, nullable: --metrics */
  gboolean stdin_closed;
  gboolean exit_when_idle;
  gboolean shutting_down;
  gboolean finished;
  gint64 shutdown_timeout_s;
  guint shutdown_timer;
  /* What the configuration is read from, again at each reload (run_reload). */
  struct {
    const char *config;      /* nullable: --config */
    char **sets;             /* nullable: --set */
    const char *log_level;   /* nullable: --log-level */
    char **listens;          /* nullable: --listen */
    const char *http;        /* nullable: --http */
    const char *metrics;     /* nullable: --metrics */
    const char *events;      /* nullable: --events */
    gboolean trace;          /* --trace */
    gboolean exit_when_idle; /* --exit-when-idle */
    const char *flow;        /* the flow, loaded again by each worker */
  } args;
} Run;

/* A worker other than 0: its engine and thread (see "workers" below). */
struct _RunWorker {
  Run *r;
  guint index;
  GThread *thread;
  GMainContext *ctx;         /* owned */
  GMainLoop *loop;           /* owned */
  SfConfig *cfg;             /* owned, as the others below, by the thread */
  SfRegistry *reg;
  SfLoader *loader;
  SfMachine *machine;
  SfEndpoint *ep;
  GString *out;              /* its event lines not yet written */
  GSource *flush;
  /* under r->lock */
  gboolean set_up, failed, stopped;
  GError *error;
  /* its own thread only */
  gboolean shutting_down;
  gboolean idle_posted;      /* what it last told the main thread (worker_report) */
  guint stall_ms;            /* tests only: its first answer comes this late (SIPFLOW_TEST_STALL_WORKER_MS) */
  /* the main thread only */
  gboolean idle;             /* its last report: no instance (shutting down: none but transactions) */
  gboolean late;             /* it did not answer the last check in time */
};

/* How long the main thread waits for the workers' answers (status, the
 * last stats line, the shutdown's checks): a worker that is not back in time
 * is named and left, not waited on forever. */
#define WORKER_ANSWER_MS 1000

/* What a worker computes in its own thread for the main one (sync_all). */
typedef struct _SyncCall SyncCall;
typedef void (*SyncFunc) (RunWorker *w, SyncCall *c);
struct _SyncCall {
  gint ref;                  /* atomic: the main thread's and the worker's source's */
  RunWorker *w;
  SyncFunc func;
  gboolean done;             /* under r->lock */
  char *text[3];             /* func's results */
  guint number;
  gboolean flag;
};

static char *gather_stats (Run *r, GString *calls, GString *late);
static void worker_kill_all (RunWorker *w, SyncCall *c);
static void sync_all (Run *r, SyncFunc func, SyncCall **calls);
static void sync_unref (gpointer data);
static gboolean set_idle (Run *r);
static gboolean worker_shutdown (gpointer data);
static void post (RunWorker *w, GSourceFunc func, gpointer data);

/* The event lines go out when the main loop is about to wait (flush_source),
 * or when OUT_MAX bytes wait, not one write(2) each: a proxied call writes
 * about 40 in a few loop iterations, and a system call a line was a large part
 * of their cost under load.  A reader still has every line before sipflow
 * waits for anything, and each write(2) ends at a line's end, as stdio's
 * fflush per line had it (stdio's own buffer would cut a line in two), so
 * a reader polling the file never sees half a line. */
#define OUT_MAX (64 * 1024)
static GString *out_buf;     /* worker 0's (the main thread's) */
/* With workers each has a buffer of its own and writes it whole under this
 * lock: lines of different workers interleave by batch, never mid-line
 * (docs/workers.md, "The event output"). */
static GMutex out_lock;

static void
flush_buf (GString *buf)
{
  gsize done = 0;
  g_mutex_lock (&out_lock);
  while (done < buf->len) {
    gssize n = write (STDOUT_FILENO, buf->str + done, buf->len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* a reader gone (run | head): the lines are dropped, as fputs's were */
    done += (gsize) n;
  }
  g_mutex_unlock (&out_lock);
  g_string_truncate (buf, 0);
}

static void
flush_out (void)
{
  flush_buf (out_buf);
}

static void
emit_stdout (const char *line, gpointer data)
{
  gsize len = strlen (line);
  if (out_buf->len + len + 1 > OUT_MAX && out_buf->len > 0)
    flush_out ();
  /* the line and its newline at once: the buffer has room nearly always
   * (OUT_MAX from the start, flushed above), no g_string_insert_len */
  if (out_buf->len + len + 1 < out_buf->allocated_len) {
    char *d = out_buf->str + out_buf->len;
    memcpy (d, line, len);
    d[len] = '\n';
    d[len + 1] = '\0';
    out_buf->len += len + 1;
  } else {
    g_string_append_len (out_buf, line, (gssize) len);
    g_string_append_c (out_buf, '\n');
  }
  sf_ua_http_feed (((Run *) data)->http, line);
}

/* The flush source: its buffer is worker 0's (out_buf), or a worker's.  It
 * is prepared when no source of higher priority is ready, the loop about to
 * wait, and writes then, as before, unless the loop is busy: when the last
 * FLUSH_DELAY_US window had FLUSH_BUSY_TURNS waits or more with lines to
 * write, lines wait for the end of the current window (the loop wakes for
 * it) or FLUSH_BYTES.  At 1,000 calls a second the loop waits some 3,000
 * times a second, a write(2) each to a file before; now 100.  At low rates
 * nothing changes: no line waits, no wake-up is added. */
#define FLUSH_DELAY_US (10 * 1000)
#define FLUSH_BUSY_TURNS 3
#define FLUSH_BYTES (32 * 1024)
typedef struct {
  GSource source;
  GString **buf;
  gint64 window;             /* when the current window began (the loop's monotonic time) */
  guint turns;               /* waits with lines to write in it */
  gboolean busy;             /* the window before it had FLUSH_BUSY_TURNS */
} FlushSource;

static gboolean
flush_prepare (GSource *source, gint *timeout)
{
  FlushSource *fs = (FlushSource *) source;
  GString *buf = *fs->buf;
  *timeout = -1;
  if (buf->len == 0)
    return FALSE;
  gint64 now = g_source_get_time (source);
  if (now - fs->window >= FLUSH_DELAY_US) {
    /* busy only when that window ended just now, not before a quiet spell */
    fs->busy = fs->turns >= FLUSH_BUSY_TURNS && now - fs->window < 2 * FLUSH_DELAY_US;
    fs->window = now;
    fs->turns = 0;
    flush_buf (buf);
    return FALSE;
  }
  fs->turns++;
  if (!fs->busy || buf->len >= FLUSH_BYTES)
    flush_buf (buf);
  else
    *timeout = (gint) ((fs->window + FLUSH_DELAY_US - now + 999) / 1000);
  return FALSE;
}

static gboolean
flush_check (GSource *source)
{
  (void) source;
  return FALSE;
}

static gboolean
flush_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  (void) source;
  (void) callback;
  (void) data;
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = { flush_prepare, flush_check, flush_dispatch, NULL, NULL, NULL };

static GSource *
flush_source_new (GString **buf, GMainContext *context)
{
  GSource *src = g_source_new (&flush_funcs, sizeof (FlushSource));
  ((FlushSource *) src)->buf = buf;
  g_source_set_priority (src, G_PRIORITY_LOW); /* prepared when nothing of higher priority is ready */
  g_source_attach (src, context);
  return src;
}

static void
trace_stderr (const char *line, gpointer data)
{
  fprintf (stderr, "trace: %s\n", line);
}

static void
finish (Run *r)
{
  if (r->finished)
    return;
  r->finished = TRUE;
  if (r->shutdown_timer != 0)
    g_source_remove (r->shutdown_timer);
  r->shutdown_timer = 0;
  g_clear_handle_id (&r->idle_retry, g_source_remove);
  if (sf_endpoint_emits (r->ep, SF_EVC_SERVICE))
    sf_endpoint_emit_line (r->ep, r->set != NULL ? gather_stats (r, NULL, NULL) : sf_endpoint_stats_json (r->ep));
  g_main_loop_quit (r->loop);
}

/* Ends every instance left, without its flow, and finishes; @why for the log. */
static void
stop_now (Run *r, const char *why)
{
  if (r->shutdown_timer != 0)
    g_source_remove (r->shutdown_timer);
  r->shutdown_timer = 0;
  g_autoptr (GPtrArray) all = sf_endpoint_instances (r->ep);
  guint alive = all->len, late = 0;
  if (r->workers != NULL) {
    SyncCall *calls[SF_WORKERS_MAX] = { NULL };
    sync_all (r, worker_kill_all, calls);
    for (guint i = 1; i < r->n; i++) {
      if (calls[i] != NULL)
        alive += calls[i]->number;
      else
        late++; /* its instances end at its teardown ("exit") */
      g_clear_pointer (&calls[i], sync_unref);
    }
  }
  if (alive > 0)
    g_warning ("shutdown: %u instance(s) still alive %s: ended without their flows", alive, why);
  if (late > 0)
    g_warning ("shutdown: %u worker(s) did not answer in %d ms: their instances end with them", late, WORKER_ANSWER_MS);
  for (guint i = 0; i < all->len; i++)
    sf_endpoint_kill (r->ep, all->pdata[i], "shutdown timeout");
  finish (r);
}

static gboolean
shutdown_timeout (gpointer data)
{
  Run *r = data;
  r->shutdown_timer = 0;
  g_autofree char *why = g_strdup_printf ("after %" G_GINT64_FORMAT " s (core.shutdown_timeout)", r->shutdown_timeout_s);
  stop_now (r, why);
  return G_SOURCE_REMOVE;
}

/* quit, SIGINT, SIGTERM (@cause) or the idle exit: one graceful shutdown,
 * announced by the event {"event":"shutdown","cause":...}. */
static void
begin_shutdown_for (Run *r, const char *cause)
{
  if (r->shutting_down)
    return;
  r->shutting_down = TRUE;
  GString *ev = sf_json_begin ("shutdown");
  sf_json_add_str (ev, "cause", cause);
  sf_endpoint_emit_json_as (r->ep, SF_EVC_SERVICE, ev);
  g_message ("shutting down (%s)", cause);
  sf_ua_notify_stopping ();
  sf_ua_control_set_closing (r->ctl);
  /* Every worker answers new requests 503 from now and reports when only its
   * transactions are left (worker_done). */
  for (guint i = 1; r->workers != NULL && i < r->n; i++)
    post (&r->workers[i - 1], worker_shutdown, &r->workers[i - 1]);
  if (sf_endpoint_shutdown (r->ep) == 0 && set_idle (r)) {
    finish (r);
    return;
  }
  if (r->shutdown_timeout_s < 0) /* off: wait as long as the flows need */
    return;
  r->shutdown_timer = g_timeout_add_seconds ((guint) r->shutdown_timeout_s, shutdown_timeout, r);
}

/* The control's quit (SfUaQuitFunc). */
static void
begin_shutdown (gpointer data)
{
  begin_shutdown_for (data, "quit");
}

/* Whether the process is idle, decided for the whole set: worker 0 here, the
 * others by their reports and, when every one says it is, a check in each
 * one's thread now (set_idle). */
static void
check_idle (Run *r)
{
  if (r->finished)
    return;
  /* Shutting down, transactions left are only absorbing retransmissions: they do not hold the exit. */
  if (r->shutting_down && sf_endpoint_n_instances_but (r->ep, "transaction") == 0 && set_idle (r))
    finish (r);
  else if (!r->shutting_down && r->exit_when_idle && r->stdin_closed && sf_endpoint_n_instances (r->ep) == 0 &&
           set_idle (r))
    begin_shutdown_for (r, "idle");
}

static gboolean
after_batch (gpointer data)
{
  check_idle (data);
  return G_SOURCE_CONTINUE;
}

/* SIGINT and SIGTERM start the same graceful shutdown as quit; a second one
 * (of either) stops waiting for the instances. */
static void
on_signal (Run *r, const char *name)
{
  if (r->shutting_down) {
    g_autofree char *why = g_strdup_printf ("at a second signal (%s)", name);
    stop_now (r, why);
  } else {
    begin_shutdown_for (r, name);
  }
}

static gboolean
on_sigint (gpointer data)
{
  on_signal (data, "SIGINT");
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigterm (gpointer data)
{
  on_signal (data, "SIGTERM");
  return G_SOURCE_CONTINUE;
}

static void
untaken (SfEndpoint *ep, SfInstance *inst, SfEvent *ev, gpointer data)
{
  if (ev->kind != SF_EV_DEVICE || strcmp (ev->name, "shutdown") == 0)
    return;
  /* A device event with a payload was made by an operator (a bridge driving
   * its leg, docs/b2bua.md), not typed as a command: nobody waits for an error
   * about it, and a leg that ends while its bridge drives it is not one. */
  if (ev->payload != NULL)
    return;
  GString *out = sf_json_begin ("error");
  sf_json_add_str (out, "call", sf_instance_handle (inst));
  g_autofree char *msg = g_strdup_printf ("'%s' is not taken in state %s", ev->name, sf_instance_state (inst));
  sf_json_add_str (out, "message", msg);
  sf_endpoint_emit_json_as (ep, SF_EVC_CONTROL, out);
}

static void
emit_reply (Run *r, const char *command, gboolean ok, const char *fields)
{
  GString *out = sf_json_begin (ok ? "reply" : "error");
  sf_json_add_str (out, "command", command);
  if (fields != NULL) {
    g_string_append_c (out, ',');
    if (!ok) {
      /* "ok":false,"error":"..." -> "message":"..." as docs/architecture.md's error event has it. */
      const char *e = strstr (fields, "\"error\":");
      g_string_append_printf (out, "\"message\":%s", e != NULL ? e + strlen ("\"error\":") : "null");
    } else {
      g_string_append (out, fields);
    }
  }
  sf_endpoint_emit_json_as (r->ep, SF_EVC_CONTROL, out);
}

static gboolean
on_stdin_line (const char *line, gsize len, gboolean too_long, gpointer data)
{
  Run *r = data;
  if (too_long) {
    GString *out = sf_json_begin ("error");
    g_autofree char *msg = g_strdup_printf ("command longer than %d bytes", SF_CONTROL_MAX_LINE);
    sf_json_add_str (out, "message", msg);
    sf_endpoint_emit_json_as (r->ep, SF_EVC_CONTROL, out);
    return TRUE;
  }
  if (memchr (line, '\0', len) != NULL || !g_utf8_validate (line, (gssize) len, NULL)) {
    GString *out = sf_json_begin ("error");
    sf_json_add_str (out, "message", "a command must be UTF-8 text");
    sf_endpoint_emit_json_as (r->ep, SF_EVC_CONTROL, out);
    return TRUE;
  }
  gboolean ok = TRUE;
  g_autofree char *fields = sf_ua_control_exec (r->ctl, line, &ok);
  if (fields != NULL) {
    g_auto (GStrv) words = g_strsplit_set (line, " \t\v\f\r", -1);
    const char *command = NULL;
    for (char **w = words; *w != NULL && command == NULL; w++)
      if (**w != '\0')
        command = *w;
    emit_reply (r, command, ok, fields);
  }
  return TRUE;
}

static void
on_stdin_end (const GError *error, gpointer data)
{
  Run *r = data;
  if (error != NULL)
    g_info ("standard input: %s", error->message);
  r->stdin_closed = TRUE;
  check_idle (r);
}

/* --messages[=on|full]: its value, NULL when not given. */
static char *messages_opt;

static gboolean
on_messages_opt (const char *name, const char *value, gpointer data, GError **error)
{
  g_free (messages_opt);
  messages_opt = g_strdup (value != NULL ? value : "on");
  return TRUE;
}

/* The "flow" event (docs/teaching.md): the flow and the machines it runs,
 * its imports (the transaction machines, ict ist nict nist, run beside them when
 * it speaks SIP), for sipflow coverage. */
static void
emit_flow (SfEndpoint *ep, SfMachine *m, const char *flow)
{
  GString *ev = sf_json_begin ("flow");
  g_autofree char *abs = g_str_has_prefix (m->file, "builtin:") || g_path_is_absolute (m->file)
                           ? g_strdup (m->file)
                           : g_canonicalize_filename (m->file, NULL);
  sf_json_add_str (ev, "file", abs);
  sf_json_add_str (ev, "name", flow);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_ptr_array_add (names, m->name);
  g_autoptr (GList) imports = m->imports != NULL ? g_hash_table_get_values (m->imports) : NULL;
  for (GList *l = imports; l != NULL; l = l->next)
    g_ptr_array_add (names, ((SfMachine *) l->data)->name);
  sf_json_add_strv (ev, "machines", (const char *const *) names->pdata, names->len);
  sf_endpoint_emit_json_as (ep, SF_EVC_SERVICE, ev);
}

/* Reads run's configuration into @cfg: --config's file, then the command
 * line's values on top (--set, --messages, --log-level, --listen, --http), at
 * start and at each reload alike. */
static gboolean
config_apply (SfConfig *cfg, const Run *r, GError **error)
{
  if (r->args.config != NULL && !sf_config_load_file (cfg, r->args.config, error))
    return FALSE;
  for (char **s = r->args.sets; s != NULL && *s != NULL; s++)
    if (!sf_config_set (cfg, *s, error))
      return FALSE;
  if (messages_opt != NULL && !sf_config_set_value (cfg, "core", "messages", messages_opt, "--messages", error))
    return FALSE;
  if (r->args.log_level != NULL && !sf_config_set_value (cfg, "core", "log_level", r->args.log_level, "--log-level", error))
    return FALSE;
  if (r->args.listens != NULL) {
    /* --listen replaces sip.listen (the transaction module opens the sockets). */
    g_autofree char *list = g_strjoinv (",", r->args.listens);
    if (!sf_config_set_value (cfg, "sip", "listen", list, "--listen", error))
      return FALSE;
  }
  if (r->args.metrics != NULL && !sf_config_set_value (cfg, "core", "metrics", r->args.metrics, "--metrics", error))
    return FALSE;
  if (r->args.events != NULL && !sf_config_set_value (cfg, "core", "events", r->args.events, "--events", error))
    return FALSE;
  /* A list of any words to the configuration: the class names are checked here,
   * at start and at a reload alike, naming the one that is wrong. */
  guint classes;
  g_autoptr (GError) bad = NULL;
  if (!sf_endpoint_parse_event_classes (sf_config_get_list (cfg, "core", "events"), &classes, &bad)) {
    g_set_error (error, bad->domain, bad->code, "core.events (%s): %s", sf_config_get_source (cfg, "core", "events"),
                 bad->message);
    return FALSE;
  }
  return r->args.http == NULL || sf_config_set_value (cfg, "core", "http", r->args.http, "--http", error);
}

/* The [core] keys run itself reads, put in force (at start and at each reload). */
static void
core_apply (Run *r)
{
  SfConfig *cfg = sf_endpoint_config (r->ep);
  r->exit_when_idle = r->args.exit_when_idle || sf_config_get_bool (cfg, "core", "exit_when_idle");
  r->shutdown_timeout_s = sf_config_get_int (cfg, "core", "shutdown_timeout");
  gboolean trace = r->args.trace || sf_config_get_bool (cfg, "core", "trace");
  sf_endpoint_set_trace (r->ep, trace ? trace_stderr : NULL, NULL);
}

/* Reloading (docs/operations.md, "Reloading the configuration"), for SIGHUP and
 * the control command 'reload' alike: the configuration read again as at start
 * into a new SfConfig, put in force by the modules' two-phase reload hooks
 * (sf_modules_reload: the users file read again, the limits, the trusted
 * networks), or refused whole with the old one kept; then the flows' list
 * files read again.  Nothing live is touched: calls, transactions and
 * bindings stay.  Emits {"event":"reload",...} and logs; @report gets the
 * reply's fields after "ok":true when it returns TRUE, the error when FALSE. */
static gboolean
run_reload (Run *r, GString *report)
{
  SfConfig *cfg = sf_endpoint_config (r->ep);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) changed = NULL;
  gboolean ok;
  if (r->n > 1) {
    /* Each worker would prepare, then all commit or all abort
     * (docs/workers.md, "Handles, control commands and status"): not built. */
    g_string_assign (report, "reload is not built for core.workers > 1 yet: restart to change the configuration");
    g_warning ("reload: %s", report->str);
    return FALSE;
  }
  sf_ua_notify_reloading (); /* systemd: ExecReload= (SIGHUP) waits for the READY=1 below */
  {
    SfConfig *next = sf_config_new_like (cfg);
    ok = config_apply (next, r, &error) && sf_modules_reload (r->ep, next, &changed, &error);
    sf_config_free (next); /* before anything else: it shares the flow's keys with @cfg */
  }
  guint lists = 0;
  g_autoptr (GString) list_errors = g_string_new (NULL);
  if (ok) {
    sf_ua_log_init (sf_config_get_string (cfg, "core", "log_level"));
    sf_endpoint_reread_log_level (r->ep);
    const char *messages = sf_config_get_string (cfg, "core", "messages");
    sf_endpoint_set_messages (r->ep, g_strcmp0 (messages, "full") == 0  ? SF_MESSAGES_FULL
                                     : g_strcmp0 (messages, "on") == 0 ? SF_MESSAGES_ON
                                                                        : SF_MESSAGES_OFF);
    guint classes = SF_EVC_ALL;
    sf_endpoint_parse_event_classes (sf_config_get_list (cfg, "core", "events"), &classes, NULL); /* checked */
    sf_endpoint_set_event_classes (r->ep, classes);
    core_apply (r);
    /* The flows' list files: each one that cannot be read keeps its items.
     * This engine's registry's (one engine here: reload is refused above at
     * N > 1; across workers each would reload its own, in its thread). */
    lists = sf_flow_lists_reload_of (sf_endpoint_registry (r->ep), list_errors);
  }
  GString *fields = g_string_new (NULL);
  if (ok) /* first, as the reply had it when reload read the list files only */
    sf_json_add_int (fields, "lists", lists);
  sf_json_add_str (fields, "config", r->args.config);
  if (changed != NULL)
    sf_json_add_strv (fields, "changed", (const char *const *) changed->pdata, changed->len);
  g_autofree char *message = NULL;
  if (!ok)
    message = g_strdup_printf ("refused, the configuration in force is kept: %s", error->message);
  else if (list_errors->len > 0)
    message = g_strdup_printf ("configuration reloaded, but %u list files read again; %s", lists, list_errors->str);
  GString *ev = sf_json_begin ("reload");
  sf_json_add_bool (ev, "ok", message == NULL);
  g_string_append (ev, fields->str);
  if (message != NULL)
    sf_json_add_str (ev, "error", message);
  sf_endpoint_emit_json_as (r->ep, SF_EVC_SERVICE, ev);
  sf_ua_notify_ready (message == NULL ? "configuration reloaded" : "reload refused: the configuration in force is kept");
  if (message != NULL) {
    g_warning ("reload: %s", message);
    g_string_assign (report, message);
    g_string_free (fields, TRUE);
    return FALSE;
  }
  g_message ("configuration reloaded%s%s: %u keys changed, %u list files read again",
             r->args.config != NULL ? " from " : "", r->args.config != NULL ? r->args.config : "",
             changed != NULL ? changed->len : 0, lists);
  g_string_append (report, fields->str + 1); /* after its leading comma */
  g_string_free (fields, TRUE);
  return TRUE;
}

/* The control's reload (SfUaReloadFunc). */
static gboolean
control_reload (gpointer data, GString *report)
{
  return run_reload (data, report);
}

static gboolean
on_sighup (gpointer data)
{
  Run *r = data;
  if (r->shutting_down) {
    g_message ("SIGHUP: shutting down, not reloading");
    return G_SOURCE_CONTINUE;
  }
  g_autoptr (GString) report = g_string_new (NULL);
  run_reload (r, report); /* the event and the log say how it went */
  return G_SOURCE_CONTINUE;
}

/* ---- workers (docs/workers.md) ----
 *
 * With core.workers = N > 1, worker 0 is the engine above, on the main loop;
 * workers 1 to N - 1 are engines of their own (configuration, registry, flow,
 * endpoint, modules, stack and sockets), each on a thread with its own main
 * context, pushed as the thread-default before anything is set up so that
 * every source and GIO call of its engine attaches there.  What crosses
 * between threads: the raw bytes of a message handed to its owner (the set's
 * inboxes), and the closures below (posted to a worker's context as idle
 * sources), which read and change only the worker they run in. */


static void
emit_worker (const char *line, gpointer data)
{
  RunWorker *w = data;
  gsize len = strlen (line);
  if (w->out->len + len + 1 > OUT_MAX && w->out->len > 0)
    flush_buf (w->out);
  g_string_append_len (w->out, line, (gssize) len);
  g_string_append_c (w->out, '\n');
}

/* Runs @func (@data) in @w's thread, when its context next turns. */
static void
post (RunWorker *w, GSourceFunc func, gpointer data)
{
  GSource *src = g_idle_source_new ();
  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_callback (src, func, data, NULL);
  g_source_attach (src, w->ctx);
  g_source_unref (src);
}

static void
sync_unref (gpointer data)
{
  SyncCall *c = data;
  if (!g_atomic_int_dec_and_test (&c->ref))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (c->text); i++)
    g_free (c->text[i]);
  g_free (c);
}

static gboolean
sync_run (gpointer data)
{
  SyncCall *c = data;
  RunWorker *w = c->w;
  if (w->stall_ms > 0) {
    g_usleep ((gulong) w->stall_ms * 1000);
    w->stall_ms = 0;
  }
  if (w->ep != NULL) /* not yet torn down: a call that came too late may still be attached */
    c->func (w, c);
  g_mutex_lock (&w->r->lock);
  c->done = TRUE;
  g_cond_broadcast (&w->r->cond);
  g_mutex_unlock (&w->r->lock);
  return G_SOURCE_REMOVE;
}

/* Runs @func in the thread of every worker 1 to n - 1 and waits for them, at
 * most WORKER_ANSWER_MS in all: @calls[i] is worker i's answer (for the
 * caller to sync_unref), NULL when it was late; a late one finishes on its
 * own and frees itself.  The main thread only, while the workers' loops run
 * (no worker ever waits for the main thread). */
static void
sync_all (Run *r, SyncFunc func, SyncCall **calls)
{
  calls[0] = NULL;
  for (guint i = 1; i < r->n; i++) {
    SyncCall *c = g_new0 (SyncCall, 1);
    c->ref = 2;
    c->w = &r->workers[i - 1];
    c->func = func;
    GSource *src = g_idle_source_new ();
    g_source_set_priority (src, G_PRIORITY_DEFAULT);
    g_source_set_callback (src, sync_run, c, sync_unref);
    g_source_attach (src, c->w->ctx);
    g_source_unref (src);
    calls[i] = c;
  }
  gint64 until = g_get_monotonic_time () + WORKER_ANSWER_MS * G_TIME_SPAN_MILLISECOND;
  g_mutex_lock (&r->lock);
  for (guint i = 1; i < r->n; i++)
    while (!calls[i]->done)
      if (!g_cond_wait_until (&r->cond, &r->lock, until))
        break;
  for (guint i = 1; i < r->n; i++)
    if (!calls[i]->done)
      g_clear_pointer (&calls[i], sync_unref);
  g_mutex_unlock (&r->lock);
}

/* A worker's figures beside the sum, read in its own thread. */
static char *
worker_fields (SfWorkers *set, guint index, SfEndpoint *ep)
{
  SfWorkerStats st;
  sf_workers_stats (set, index, &st);
  g_autoptr (GString) out = g_string_new (NULL);
  sf_json_add_int (out, "worker", index);
  sf_json_add_int (out, "instances_live", sf_endpoint_n_instances (ep));
  sf_json_add_int (out, "handed_in", (gint64) st.handed_in);
  sf_json_add_int (out, "handed_out", (gint64) st.handed_out);
  sf_json_add_int (out, "wakeups", (gint64) st.wakeups);
  /* The set's live claims (the same on every worker) */
  sf_json_add_int (out, "claims", sf_workers_claims_live (set, sf_clock_now_us (sf_endpoint_clock (ep))));
  /* What a flood past the inbox's bound cost (sf_workers_offer), and what
   * waits now. */
  sf_json_add_int (out, "inbox_dropped", (gint64) st.dropped);
  sf_json_add_int (out, "inbox_waiting", st.waiting);
  /* Worker w > 0: updates its location answered busy, worker 0 falling
   * behind (sf-location-worker.c's max_asks; lookups read worker 0's mirror
   * and are never busy); 0 on worker 0. */
  SfLocation *loc = sf_registrar_location (ep);
  sf_json_add_int (out, "location_busy", loc != NULL ? (gint64) sf_location_worker_busy (loc) : 0);
  return g_strdup (out->str + 1); /* after its leading comma */
}

/* A worker's part of 'status': its stats line, its own figures, its calls. */
static void
worker_snapshot (RunWorker *w, SyncCall *c)
{
  c->text[0] = sf_endpoint_stats_json (w->ep);
  c->text[1] = worker_fields (w->r->set, w->index, w->ep);
  g_autoptr (GString) calls = g_string_new (NULL);
  sf_ua_control_calls_json (w->ep, w->machine, calls);
  c->text[2] = g_strdup (calls->str);
}

/* Reads the number at *@p and moves *@p past it. */
static gint64
take_number (const char **p)
{
  char *end;
  gint64 v = g_ascii_strtoll (*p, &end, 10);
  *p = end;
  return v;
}

static void
skip_string (const char **p)
{
  const char *q = *p + 1;
  while (*q != '\0' && *q != '"')
    q += *q == '\\' && q[1] != '\0' ? 2 : 1;
  *p = *q == '"' ? q + 1 : q;
}

/* Whether the number about to follow @out ("...,\"KEY\":") is a figure of
 * something every worker shares or holds a whole copy of: the digest nonce
 * table (one for the set) and the users file (read by each): worker 0's is
 * the set's, not the sum. */
static gboolean
shared_key (const GString *out)
{
  static const char *const keys[] = { "\"nonce_slots_used\":", "\"users\":", NULL };
  for (const char *const *k = keys; *k != NULL; k++)
    if (g_str_has_suffix (out->str, *k))
      return TRUE;
  return FALSE;
}

/* The 'stats' lines of @n workers (same keys in the same order: the same
 * flow and configuration) with every number summed but the shared ones
 * (shared_key); strings are the first line's (its "ts").  NULL when their
 * shapes differ. */
static char *
sum_stats (char **lines, guint n)
{
  const char *p[SF_WORKERS_MAX];
  for (guint i = 0; i < n; i++)
    p[i] = lines[i];
  GString *out = g_string_new (NULL);
  while (*p[0] != '\0') {
    char c = *p[0];
    if (c == '"') {
      const char *start = p[0];
      for (guint i = 0; i < n; i++) {
        if (*p[i] != '"')
          goto bad;
        skip_string (&p[i]);
      }
      g_string_append_len (out, start, p[0] - start);
    } else if (c == '-' || g_ascii_isdigit (c)) {
      gint64 sum = 0;
      gboolean one = shared_key (out);
      for (guint i = 0; i < n; i++) {
        if (*p[i] != '-' && !g_ascii_isdigit (*p[i]))
          goto bad;
        gint64 v = take_number (&p[i]);
        sum = one && i > 0 ? sum : sum + v;
      }
      g_string_append_printf (out, "%" G_GINT64_FORMAT, sum);
    } else {
      for (guint i = 0; i < n; i++) {
        if (*p[i] != c)
          goto bad;
        p[i]++;
      }
      g_string_append_c (out, c);
    }
  }
  return g_string_free (out, FALSE);
bad:
  g_string_free (out, TRUE);
  return NULL;
}

/* The 'stats' line of every worker: the counters summed, then "workers", a
 * list of each one's own figures (SfUaStatsFunc).  Every worker copies its
 * own counters in its own thread: none is read across threads.  @calls
 * (nullable) gets the calls of workers 1 to n - 1 (sf_ua_control_calls_json),
 * @late (nullable) the numbers of those that did not answer in time: they are
 * left out of the sum and listed as {"worker":N,"late":true}. */
static char *
gather_stats (Run *r, GString *calls, GString *late)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new ();
  g_autoptr (GString) per = g_string_new (NULL);
  char *line0 = sf_endpoint_stats_json (r->ep);
  g_ptr_array_add (lines, line0);
  g_autofree char *f0 = worker_fields (r->set, 0, r->ep);
  g_string_append_printf (per, "{%s}", f0);
  SyncCall *answers[SF_WORKERS_MAX] = { NULL };
  sync_all (r, worker_snapshot, answers);
  for (guint i = 1; i < r->n; i++) {
    SyncCall *c = answers[i];
    if (c == NULL || c->text[1] == NULL) { /* a call marked done without running counts as late */
      g_string_append_printf (per, ",{\"worker\":%u,\"late\":true}", i);
      if (late != NULL)
        g_string_append_printf (late, "%s%u", late->len > 0 ? "," : "", i);
      continue;
    }
    g_string_append_printf (per, ",{%s}", c->text[1]);
    g_ptr_array_add (lines, c->text[0]);
    if (calls != NULL && c->text[2][0] != '\0')
      g_string_append_printf (calls, "%s%s", calls->len > 0 ? "," : "", c->text[2]);
  }
  char *sum = sum_stats ((char **) lines->pdata, lines->len);
  if (sum == NULL) /* cannot happen with one flow; worker 0's then, said so */
    sum = g_strdup (line0);
  for (guint i = 1; i < r->n; i++)
    g_clear_pointer (&answers[i], sync_unref); /* the lines are theirs */
  g_free (line0);
  /* "workers" before the closing "ts", as a new field of the line. */
  char *ts = g_strrstr (sum, ",\"ts\":");
  GString *out = g_string_new_len (sum, ts != NULL ? ts - sum : (gssize) strlen (sum) - 1);
  g_string_append_printf (out, ",\"workers\":[%s]%s", per->str, ts != NULL ? ts : "}");
  g_free (sum);
  return g_string_free (out, FALSE);
}

static void
worker_metrics (RunWorker *w, SyncCall *c)
{
  c->text[0] = sf_metrics_render (w->ep);
}

/* /metrics across the workers (SfUaMetricsRenderFunc): each renders its own
 * in its thread, the main thread sums them (sf_ua_metrics_sum). */
static char *
metrics_render (gpointer data)
{
  Run *r = data;
  char *texts[SF_WORKERS_MAX] = { NULL };
  texts[0] = sf_metrics_render (r->ep);
  if (r->workers == NULL) /* stopping: worker 0's */
    return texts[0];
  SyncCall *calls[SF_WORKERS_MAX] = { NULL };
  sync_all (r, worker_metrics, calls);
  for (guint i = 1; i < r->n; i++)
    texts[i] = calls[i] != NULL ? calls[i]->text[0] : NULL;
  char *sum = sf_ua_metrics_sum (texts, r->n);
  for (guint i = 1; i < r->n; i++)
    g_clear_pointer (&calls[i], sync_unref);
  g_free (texts[0]);
  return sum;
}

/* The control's 'status' across the workers (SfUaStatsFunc). */
static char *
control_stats (gpointer data, GString *calls, GString *late)
{
  return gather_stats (data, calls, late);
}

typedef struct {
  Run *r;
  guint index;
  gboolean idle;
} WorkerReport;

/* On the main thread: worker @data's idleness changed.  (It may come after the
 * end, the workers freed: by index, not by pointer.) */
static gboolean
main_worker_report (gpointer data)
{
  WorkerReport *rep = data;
  Run *r = rep->r;
  if (r->finished || r->workers == NULL)
    return G_SOURCE_REMOVE;
  r->workers[rep->index - 1].idle = rep->idle;
  check_idle (r);
  return G_SOURCE_REMOVE;
}

/* Whether @w holds nothing that must end before the process does: no
 * instance, or shutting down none but transactions (they only absorb
 * retransmissions). */
static gboolean
worker_idle_now (RunWorker *w)
{
  return w->shutting_down ? sf_endpoint_n_instances_but (w->ep, "transaction") == 0 : sf_endpoint_n_instances (w->ep) == 0;
}

/* In @w's thread: tells the main thread when its idleness changes, both ways
 * (an in-dialog BYE read after a worker was idle makes it busy again), while
 * it shuts down or with --exit-when-idle: the set-wide decision is the main
 * thread's (set_idle). */
static void
worker_report (RunWorker *w)
{
  if (!w->shutting_down && !w->r->exit_when_idle) /* set before the workers start, never changed at N > 1 */
    return;
  gboolean idle = worker_idle_now (w);
  if (idle == w->idle_posted)
    return;
  w->idle_posted = idle;
  WorkerReport *rep = g_new (WorkerReport, 1);
  rep->r = w->r;
  rep->index = w->index;
  rep->idle = idle;
  GSource *src = g_idle_source_new ();
  g_source_set_callback (src, main_worker_report, rep, g_free);
  g_source_attach (src, NULL); /* the main thread's */
  g_source_unref (src);
}

static gboolean
worker_after_batch (gpointer data)
{
  worker_report (data);
  return G_SOURCE_CONTINUE;
}

static gboolean
worker_shutdown (gpointer data)
{
  RunWorker *w = data;
  if (w->shutting_down)
    return G_SOURCE_REMOVE;
  w->shutting_down = TRUE;
  sf_endpoint_shutdown (w->ep);
  worker_report (w);
  return G_SOURCE_REMOVE;
}

/* In @w's thread: whether it is idle now; when it is not, it reports again
 * once it is. */
static void
worker_confirm_idle (RunWorker *w, SyncCall *c)
{
  c->flag = worker_idle_now (w);
  if (!c->flag)
    w->idle_posted = FALSE;
}

static gboolean
idle_retry (gpointer data)
{
  Run *r = data;
  r->idle_retry = 0;
  for (guint i = 1; i < r->n; i++)
    if (r->workers[i - 1].late) {
      r->workers[i - 1].late = FALSE;
      r->workers[i - 1].idle = TRUE; /* to be asked again: the check in its thread decides */
    }
  check_idle (r);
  return G_SOURCE_REMOVE;
}

/* Whether every worker 1 to n - 1 is idle: each one's last report says so
 * and each one, asked in its own thread now, confirms it (a report may be on
 * its way).  A worker late to answer counts as busy and is asked again in a
 * moment.  A message read after this answer and before the loops stop is
 * one that came after the end, as one read after the socket closed. */
static gboolean
set_idle (Run *r)
{
  for (guint i = 1; r->workers != NULL && i < r->n; i++)
    if (!r->workers[i - 1].idle)
      return FALSE;
  if (r->workers == NULL)
    return TRUE;
  SyncCall *calls[SF_WORKERS_MAX] = { NULL };
  sync_all (r, worker_confirm_idle, calls);
  gboolean idle = TRUE;
  for (guint i = 1; i < r->n; i++) {
    RunWorker *w = &r->workers[i - 1];
    if (calls[i] == NULL) {
      w->idle = FALSE;
      w->late = TRUE;
      if (r->idle_retry == 0)
        r->idle_retry = g_timeout_add (100, idle_retry, r);
      idle = FALSE;
    } else if (!calls[i]->flag) {
      w->idle = FALSE;
      idle = FALSE;
    }
    g_clear_pointer (&calls[i], sync_unref);
  }
  return idle;
}

static void
worker_kill_all (RunWorker *w, SyncCall *c)
{
  g_autoptr (GPtrArray) all = sf_endpoint_instances (w->ep);
  c->number = all->len; /* stop_now logs them all at once */
  for (guint i = 0; i < all->len; i++)
    sf_endpoint_kill (w->ep, all->pdata[i], "shutdown timeout");
}

static gboolean
worker_quit (gpointer data)
{
  g_main_loop_quit (((RunWorker *) data)->loop);
  return G_SOURCE_REMOVE;
}

/* Makes @ep (worker @index; @ctx NULL: the main one) one of the set. */
static gboolean
join_workers (Run *r, SfEndpoint *ep, guint index, GMainContext *ctx, GError **error)
{
  SfStack *s = sf_module_state (ep, &sf_transaction_module);
  if (s == NULL) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "core.workers = %u: workers share SIP sockets, and this run has none (sip.listen, --listen)", r->n);
    return FALSE;
  }
  sf_sip_transport_set_reuseport (sf_stack_transport (s), index == 0 ? SF_SIP_REUSEPORT_FIRST : SF_SIP_REUSEPORT_JOIN);
  /* The stack's tables (rate buckets, per-source counts) and the
   * registrar's (digest nonces, the location through worker 0): worker 0
   * first, as the others take its (docs/workers.md, step 2). */
  if (r->answer_here)
    sf_stack_workers_answer_here (s);
  if (r->own_source)
    sf_stack_workers_own_source (s);
  sf_stack_join_workers (s, r->set, index, ctx);
  sf_registrar_join_workers (ep, r->set, index);
  return TRUE;
}

static gboolean
worker_setup (RunWorker *w, GError **error)
{
  Run *r = w->r;
  w->cfg = sf_config_new ();
  w->reg = sf_registry_new (w->cfg, sf_builtin_modules);
  w->loader = sf_loader_new (w->reg);
  w->machine = sf_loader_load (w->loader, r->args.flow, error);
  if (w->machine == NULL || !config_apply (w->cfg, r, error))
    return FALSE;
  /* Where worker 0 bound, its ports included (port 0 is one port for all). */
  SfStack *s0 = sf_module_state (r->ep, &sf_transaction_module);
  const GPtrArray *bound = sf_stack_listened (s0);
  g_autoptr (GString) list = g_string_new (NULL);
  for (guint i = 0; i < bound->len; i++)
    g_string_append_printf (list, "%s%s", i > 0 ? "," : "", (const char *) bound->pdata[i]);
  if (!sf_config_set_value (w->cfg, "sip", "listen", list->str, "--listen", error))
    return FALSE;
  w->ep = sf_endpoint_new (sf_clock_new_system (), w->reg, w->cfg);
  w->out = g_string_sized_new (OUT_MAX);
  sf_endpoint_set_emit (w->ep, emit_worker, w);
  w->flush = flush_source_new (&w->out, w->ctx);
  gboolean trace = r->args.trace || sf_config_get_bool (w->cfg, "core", "trace");
  sf_endpoint_set_trace (w->ep, trace ? trace_stderr : NULL, NULL);
  sf_endpoint_set_untaken (w->ep, untaken, r);
  sf_endpoint_attach (w->ep, w->ctx);
  sf_endpoint_set_after_batch (w->ep, worker_after_batch, w);
  return sf_modules_setup (w->ep, w->loader, w->machine, error) && join_workers (r, w->ep, w->index, w->ctx, error) &&
         sf_modules_start (w->ep, error);
}

static void
worker_teardown (RunWorker *w)
{
  if (w->ep != NULL) {
    g_autoptr (GPtrArray) left = sf_endpoint_instances (w->ep);
    for (guint i = 0; i < left->len; i++)
      sf_endpoint_kill (w->ep, left->pdata[i], "exit");
    sf_modules_teardown (w->ep);
    sf_endpoint_free (w->ep);
    w->ep = NULL; /* a status call that came too late finds it gone (sync_run) */
    for (int i = 0; i < 100 && g_main_context_iteration (w->ctx, FALSE); i++)
      ;
  }
  if (w->flush != NULL) {
    g_source_destroy (w->flush);
    g_source_unref (w->flush);
  }
  if (w->out != NULL) {
    flush_buf (w->out);
    g_string_free (w->out, TRUE);
  }
  g_clear_pointer (&w->machine, sf_machine_unref);
  g_clear_pointer (&w->loader, sf_loader_free);
  g_clear_pointer (&w->reg, sf_registry_free);
  g_clear_pointer (&w->cfg, sf_config_free);
}

static gpointer
worker_main (gpointer data)
{
  RunWorker *w = data;
  Run *r = w->r;
  g_main_context_push_thread_default (w->ctx);
  GError *error = NULL;
  gboolean ok = worker_setup (w, &error);
  g_mutex_lock (&r->lock);
  w->set_up = TRUE;
  w->failed = !ok;
  w->error = error;
  g_cond_broadcast (&r->cond);
  while (r->workers_phase == WORKERS_STARTING)
    g_cond_wait (&r->cond, &r->lock);
  gboolean run = ok && r->workers_phase == WORKERS_RUN;
  g_mutex_unlock (&r->lock);
  if (run)
    g_main_loop_run (w->loop);
  /* Stopped: wait until every worker is, so that no hand-off runs into an
   * engine being torn down (the inboxes are closed meanwhile). */
  g_mutex_lock (&r->lock);
  w->stopped = TRUE;
  g_cond_broadcast (&r->cond);
  while (!r->workers_teardown)
    g_cond_wait (&r->cond, &r->lock);
  g_mutex_unlock (&r->lock);
  worker_teardown (w);
  g_main_context_pop_thread_default (w->ctx);
  return NULL;
}

/* Starts workers 1 to n - 1 once worker 0 has bound its sockets; FALSE when
 * one could not be set up (every one then ends). */
static gboolean
workers_start (Run *r, GError **error)
{
  r->workers = g_new0 (RunWorker, r->n - 1);
  for (guint i = 1; i < r->n; i++) {
    RunWorker *w = &r->workers[i - 1];
    w->r = r;
    w->index = i;
    w->idle = w->idle_posted = TRUE; /* nothing yet */
    /* Tests only: a worker that answers late (tests/integration/proxy-workers.sh). */
    const char *stall = g_getenv ("SIPFLOW_TEST_STALL_WORKER_MS");
    if (i == 1 && stall != NULL) {
      /* capped: a variable left set in a service's environment delays one
       * answer by seconds at most, never freezes the worker for days */
      w->stall_ms = (guint) MIN (g_ascii_strtoull (stall, NULL, 10), 5000);
      g_warning ("SIPFLOW_TEST_STALL_WORKER_MS is set: worker 1's first answer comes %u ms late (a test hook)",
                 w->stall_ms);
    }
    w->ctx = g_main_context_new ();
    w->loop = g_main_loop_new (w->ctx, FALSE);
    g_autofree char *name = g_strdup_printf ("sf-worker-%u", i);
    w->thread = g_thread_new (name, worker_main, w);
  }
  gboolean ok = TRUE;
  g_mutex_lock (&r->lock);
  for (guint i = 1; i < r->n; i++) {
    RunWorker *w = &r->workers[i - 1];
    while (!w->set_up)
      g_cond_wait (&r->cond, &r->lock);
    if (w->failed && ok) {
      ok = FALSE;
      if (w->error != NULL)
        g_propagate_prefixed_error (error, g_steal_pointer (&w->error), "worker %u: ", i);
      else
        g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE, "worker %u could not be set up", i);
    }
  }
  r->workers_phase = ok ? WORKERS_RUN : WORKERS_ABORT;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  return ok;
}

/* Every worker's loop stopped, their inboxes closed; then they tear down. */
static void
workers_stop (Run *r)
{
  if (r->workers == NULL)
    return;
  for (guint i = 1; i < r->n; i++)
    post (&r->workers[i - 1], worker_quit, &r->workers[i - 1]);
  g_mutex_lock (&r->lock);
  for (guint i = 1; i < r->n; i++)
    while (!r->workers[i - 1].stopped)
      g_cond_wait (&r->cond, &r->lock);
  g_mutex_unlock (&r->lock);
  sf_workers_close (r->set);
  g_mutex_lock (&r->lock);
  r->workers_teardown = TRUE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

/* Waits for workers 1 to n - 1 to be torn down: before worker 0, whose
 * location and digest server they use. */
static void
workers_join (Run *r)
{
  for (guint i = 1; r->workers != NULL && i < r->n; i++) {
    RunWorker *w = &r->workers[i - 1];
    g_thread_join (w->thread);
    g_clear_error (&w->error);
    g_main_loop_unref (w->loop);
    g_main_context_unref (w->ctx);
  }
  g_clear_pointer (&r->workers, g_free);
}

/* What core.workers > 1 does not run yet, named (docs/workers.md, "Steps").
 * *@here is cleared when @m (or what it imports) may send a request or hold
 * a dialog: only operators of the core, the registrar, the digest and the
 * redirect server and the user agent's stateless answers leave it set (a
 * flow that answers every request itself: its requests stay with the worker
 * that read them, sf_stack_workers_answer_here). */
static gboolean
machine_workers_safe (Run *r, SfRegistry *reg, SfMachine *m, GHashTable *seen, gboolean *here, GError **error)
{
  static const char *const answer[] = { "core", "registrar", "auth", "redirect", NULL };
  static const char *const send[] = { "transaction", "proxy", NULL };
  /* The user agent's operators that answer a request statelessly, as the
   * registrar and the redirect server use them. */
  static const char *const safe_ops[] = { "OpRefuse", "OpCheckRequire", NULL };
  if (!g_hash_table_add (seen, m))
    return TRUE;
  for (guint i = 0; i < m->states->len; i++) {
    SfState *st = m->states->pdata[i];
    for (int q = 0; q < SF_QUEUE_COUNT; q++)
      for (guint k = 0; st->queues[q] != NULL && k < st->queues[q]->len; k++) {
        const SfBinding *b = st->queues[q]->pdata[k];
        if (b->op == NULL)
          continue;
        const char *mod = sf_registry_operator_module (reg, b->op->name);
        if ((mod != NULL && g_strv_contains (answer, mod)) || g_strv_contains (safe_ops, b->op->name))
          continue;
        *here = FALSE;
        if (mod != NULL && g_strv_contains (send, mod))
          continue;
        g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                     "core.workers = %u: %s uses %s (%s %s): only the proxy, the redirect server and the registrar run on "
                     "several workers yet (user agents, the B2BUA and plugins: docs/workers.md, step 5); set core.workers = 1",
                     r->n, m->file, b->op->name, mod != NULL && g_strcmp0 (mod, "ua") != 0 && g_strcmp0 (mod, "media") != 0 &&
                                                        g_strcmp0 (mod, "b2bua") != 0 ? "plugin" : "module",
                     mod != NULL ? mod : "unknown");
        return FALSE;
      }
  }
  GHashTableIter it;
  gpointer v;
  if (m->imports != NULL) {
    g_hash_table_iter_init (&it, m->imports);
    while (g_hash_table_iter_next (&it, NULL, &v))
      if (!machine_workers_safe (r, reg, v, seen, here, error))
        return FALSE;
  }
  return TRUE;
}

static gboolean
workers_allowed (Run *r, SfConfig *cfg, SfRegistry *reg, SfMachine *m, GError **error)
{
  const char *const *specs = sf_config_get_list (cfg, "sip", "listen");
  for (const char *const *sp = specs; sp != NULL && *sp != NULL; sp++)
    if (!g_str_has_prefix (*sp, "udp:")) {
      g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                   "core.workers = %u: %s (%s): only UDP sockets are shared by workers yet (TCP, TLS and WebSocket: "
                   "docs/workers.md, step 4); set core.workers = 1", r->n, *sp, sf_config_get_source (cfg, "sip", "listen"));
      return FALSE;
    }
  if (r->args.http != NULL || sf_config_get_string (cfg, "core", "http") != NULL) {
    g_set_error (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE,
                 "core.workers = %u: the live view (--http, core.http) follows one engine and is not built for several "
                 "workers yet (--metrics is); set core.workers = 1", r->n);
    return FALSE;
  }
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  r->answer_here = TRUE;
  return machine_workers_safe (r, reg, m, seen, &r->answer_here, error);
}

int
sf_ua_cmd_run (int argc, char **argv)
{
  g_autofree char *config = NULL;
  g_auto (GStrv) sets = NULL;
  g_autofree char *control = NULL;
  g_autofree char *log_level = NULL;
  g_auto (GStrv) listens = NULL;
  g_autofree char *http = NULL;
  g_autofree char *metrics = NULL;
  g_autofree char *events = NULL;
  gboolean trace = FALSE, exit_when_idle = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "read the configuration from FILE (INI)", "FILE" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, "set one configuration key (repeatable)",
      "SECTION.KEY=VALUE" },
    { "listen", 'L', 0, G_OPTION_ARG_STRING_ARRAY, &listens,
      "listen for SIP on udp:ADDR:PORT, tcp:ADDR:PORT, tls:ADDR:PORT, ws:ADDR:PORT or wss:ADDR:PORT (repeatable; port 0: a free one; replaces sip.listen; tls, wss: need [tls] certificate)",
      "PROTO:ADDR:PORT" },
    { "control", 0, 0, G_OPTION_ARG_FILENAME, &control, "also take control commands on this Unix socket", "PATH" },
    { "trace", 't', 0, G_OPTION_ARG_NONE, &trace, "trace every event, operator and transition on standard error",
      NULL },
    { "messages", 'm', G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (gpointer) on_messages_opt,
      "add the teaching detail to the events: every SIP message sent and received (sip_in, sip_out: its start line; "
      "=full: the whole message), timers set, fired and cancelled, loops (docs/teaching.md)",
      "on|full" },
    { "events", 'e', 0, G_OPTION_ARG_STRING, &events,
      "the event classes written: all (the default), none, or a list of service, control, flow, state, end, "
      "transaction, message, timer, step (docs/architecture.md, \"Event classes\"); core.events",
      "CLASS,..." },
    { "log-level", 'l', 0, G_OPTION_ARG_STRING, &log_level,
      "error, critical, warning (default), message, info or debug", "LEVEL" },
    { "exit-when-idle", 0, 0, G_OPTION_ARG_NONE, &exit_when_idle,
      "exit once standard input is closed and no instance is left", NULL },
    { "http", 0, 0, G_OPTION_ARG_STRING, &http,
      "serve the live view, a read-only page, on ADDR:PORT (loopback unless core.http_public; port 0: a free one)",
      "ADDR:PORT" },
    { "metrics", 0, 0, G_OPTION_ARG_STRING, &metrics,
      "serve Prometheus metrics at /metrics on ADDR:PORT, or PORT alone for loopback (port 0: a free one)",
      "ADDR:PORT" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("FLOW.xml - run a flow");
  g_option_context_set_summary (
    octx, "Runs FLOW (a file, or a built-in flow).  Events go to standard output as JSON lines; logs and the\n"
          "trace go to standard error.  Control commands, one a line, come from standard input:\n"
          "  call URI, answer [CALL], reject [CALL] [CODE], redirect [CALL] URI, hangup [CALL],\n"
          "  hold [CALL], resume [CALL], dtmf [CALL] DIGITS, update [CALL] [nosdp], register, unregister,\n"
          "  message URI TEXT, message CALL TEXT, subscribe URI [EVENT], unsubscribe [SUB],\n"
          "  status, reload,\n"
          "  location dump [AOR] | count | remove AOR [CONTACT] (a registrar's bindings), quit\n"
          "The end of standard input does not stop sipflow; quit, SIGINT and SIGTERM do.  SIGHUP, like\n"
          "reload, reads the configuration and the files it names again, without a restart.");
  g_option_context_add_main_entries (octx, entries, NULL);
  g_option_context_set_help_enabled (octx, TRUE);
  g_autoptr (GError) error = NULL;
  g_autofree char *prgname = g_strdup ("sipflow run");
  g_set_prgname (prgname);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    return sf_ua_usage_error ("run", "%s", error->message);
  if (argc < 2)
    return sf_ua_usage_error ("run", "no flow given");
  if (argc > 2)
    return sf_ua_usage_error ("run", "one flow at a time ('%s' is extra)", argv[2]);
  const char *flow = argv[1];

  g_autoptr (SfConfig) cfg = sf_config_new ();
  g_autoptr (SfRegistry) reg = sf_registry_new (cfg, sf_builtin_modules);
  g_autoptr (SfLoader) loader = sf_loader_new (reg);
  g_autoptr (SfMachine) machine = sf_loader_load (loader, flow, NULL);
  sf_ua_print_diags (loader);
  if (machine == NULL)
    return SF_EXIT_FAIL;
  for (char **l = listens; l != NULL && *l != NULL; l++)
    if (**l == '\0' || strchr (*l, ',') != NULL) {
      fprintf (stderr, "sipflow run: --listen '%s': expected one udp:ADDR:PORT, tcp:ADDR:PORT, tls:ADDR:PORT, ws:ADDR:PORT or wss:ADDR:PORT\n", *l);
      return SF_EXIT_FAIL;
    }
  Run r = { 0 };
  r.args.config = config;
  r.args.sets = sets;
  r.args.log_level = log_level;
  r.args.listens = listens;
  r.args.http = http;
  r.args.metrics = metrics;
  r.args.events = events;
  r.args.trace = trace;
  r.args.exit_when_idle = exit_when_idle;
  r.args.flow = flow;
  /* The flow first: its plugins declare their configuration sections. */
  if (!config_apply (cfg, &r, &error)) {
    fprintf (stderr, "sipflow run: %s\n", error->message);
    return SF_EXIT_FAIL;
  }
  r.n = (guint) sf_config_get_int (cfg, "core", "workers");
  r.own_source = g_strcmp0 (sf_config_get_string (cfg, "core", "worker_source"), "own") == 0;
  if (r.n > 1 && !workers_allowed (&r, cfg, reg, machine, &error)) {
    fprintf (stderr, "sipflow run: %s\n", error->message);
    return SF_EXIT_FAIL;
  }
  g_mutex_init (&r.lock);
  g_cond_init (&r.cond);
  sf_ua_log_init (sf_config_get_string (cfg, "core", "log_level"));
  if (r.own_source) {
    /* Said once, here: each worker would otherwise skip it without a word
     * (open_home in operators/transaction/sf-txn-workers.c). */
    const char *why = r.n == 1                     ? "one worker: every response already comes back to it"
                      : r.answer_here              ? "this flow answers every request itself and forwards none"
                      : sf_config_get_string (cfg, "sip", "advertise") != NULL
                        ? "sip.advertise: a NAT or balancer in front maps the listener's port, not a worker's own"
                        : NULL;
    if (why != NULL)
      g_warning ("core.worker_source = own is ignored: %s", why);
  }

  /* A reader that went away (run | head) must not kill us mid-shutdown. */
  signal (SIGPIPE, SIG_IGN);
  r.loop = g_main_loop_new (NULL, FALSE);
  r.ep = sf_endpoint_new (sf_clock_new_system (), reg, cfg);
  core_apply (&r);
  const char *http_at = sf_config_get_string (cfg, "core", "http");
  if (http_at != NULL &&
      (r.http = sf_ua_http_new (r.ep, machine, http_at, sf_config_get_bool (cfg, "core", "http_public"), &error)) == NULL) {
    fprintf (stderr, "sipflow run: %s\n", error->message);
    sf_endpoint_free (r.ep);
    g_main_loop_unref (r.loop);
    return SF_EXIT_FAIL;
  }
  const char *metrics_at = sf_config_get_string (cfg, "core", "metrics");
  if (metrics_at != NULL && (r.metrics = sf_ua_metrics_new (r.ep, metrics_at, &error)) == NULL) {
    fprintf (stderr, "sipflow run: --metrics: %s\n", error->message);
    g_clear_pointer (&r.http, sf_ua_http_free);
    sf_endpoint_free (r.ep);
    g_main_loop_unref (r.loop);
    return SF_EXIT_FAIL;
  }
  out_buf = g_string_sized_new (OUT_MAX);
  sf_endpoint_set_emit (r.ep, emit_stdout, &r);
  GSource *flush_source = flush_source_new (&out_buf, NULL);
  emit_flow (r.ep, machine, flow);
  sf_endpoint_set_untaken (r.ep, untaken, &r);
  sf_endpoint_attach (r.ep, NULL);
  sf_endpoint_set_after_batch (r.ep, after_batch, &r);
  r.ctl = sf_ua_control_new (r.ep, machine, begin_shutdown, &r);
  sf_ua_control_set_reload (r.ctl, control_reload, &r);
  if (r.n > 1) {
    r.set = sf_stack_workers_new (r.n);
    /* What may wait in one inbox: at most a worker's share of the events the
     * process may queue (core.max_queue / N), each message becoming one. */
    guint share = MAX ((guint) sf_config_get_int (cfg, "core", "max_queue") / r.n, 1);
    sf_workers_set_inbox_max (r.set, MIN (share, SF_WORKERS_INBOX_MAX), SF_WORKERS_INBOX_MAX_BYTES);
    sf_ua_control_set_stats (r.ctl, control_stats, &r);
    if (r.metrics != NULL)
      sf_ua_metrics_set_render (r.metrics, metrics_render, &r);
  }
  int rc = SF_EXIT_OK;
  g_autofree char *ready = NULL; /* the service's status line (sd_notify) */
  guint watchdog = 0;            /* systemd's watchdog ping (WatchdogSec=) */
  /* Signals first: a test may send SIGTERM as soon as it reads 'listening'. */
  guint sig_int = g_unix_signal_add (SIGINT, on_sigint, &r);
  guint sig_term = g_unix_signal_add (SIGTERM, on_sigterm, &r);
  guint sig_hup = g_unix_signal_add (SIGHUP, on_sighup, &r);
  /* The modules (operators/sf-modules.h and the flow's plugins), in order:
   * each sets up its state for this endpoint; then they start (the sockets
   * open once every module is ready). */
  if (!sf_modules_setup (r.ep, loader, machine, &error) ||
      (r.set != NULL && !join_workers (&r, r.ep, 0, NULL, &error)) || !sf_modules_start (r.ep, &error) ||
      (r.set != NULL && !workers_start (&r, &error))) {
    fprintf (stderr, "sipflow run: %s\n", error->message);
    rc = SF_EXIT_FAIL;
    goto out;
  }
  if (r.http != NULL && !sf_ua_http_start (r.http, &error)) {
    fprintf (stderr, "sipflow run: --http: %s\n", error->message);
    rc = SF_EXIT_FAIL;
    goto out;
  }
  if (r.metrics != NULL && !sf_ua_metrics_start (r.metrics, &error)) {
    fprintf (stderr, "sipflow run: --metrics: %s\n", error->message);
    rc = SF_EXIT_FAIL;
    goto out;
  }
  if (control == NULL) /* a service's: systemd's RuntimeDirectory= */
    control = sf_ua_control_service_path ();
  if (control != NULL && !sf_ua_control_listen (r.ctl, control, &error)) {
    fprintf (stderr, "sipflow run: --control %s: %s\n", control, error->message);
    rc = SF_EXIT_FAIL;
    goto out;
  }
  if (control != NULL) {
    GString *ev = sf_json_begin ("listening");
    sf_json_add_str (ev, "transport", "control");
    sf_json_add_str (ev, "path", control);
    sf_endpoint_emit_json_as (r.ep, SF_EVC_SERVICE, ev);
  }
  /* Every socket is open: a service is ready (systemd's Type=notify). */
  ready = g_strdup_printf ("running %s%s%s", flow, control != NULL ? ", control socket " : "",
                                            control != NULL ? control : "");
  g_message ("ready: %s", ready);
  sf_ua_notify_ready (ready);
  watchdog = sf_ua_notify_watchdog_start ();
  if (sf_config_get_string (cfg, "ua", "registrar") != NULL) {
    /* Registration starts with the program when the flow has a registration machine. */
    if (sf_machine_lookup_import (machine, "registration") == NULL) {
      g_warning ("ua.registrar is set but %s imports no 'registration' machine: not registering", flow);
    } else {
      gboolean ok = TRUE;
      g_autofree char *reply = sf_ua_control_exec (r.ctl, "register", &ok);
      if (!ok)
        emit_reply (&r, "register", ok, reply);
    }
  }
  GInputStream *raw = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  r.in = sf_line_reader_new (raw, SF_CONTROL_MAX_LINE, on_stdin_line, on_stdin_end, &r);
  g_object_unref (raw);

  g_main_loop_run (r.loop);
out:
  g_clear_handle_id (&watchdog, g_source_remove);
  g_clear_handle_id (&r.idle_retry, g_source_remove);
  g_source_remove (sig_int);
  g_source_remove (sig_term);
  g_source_remove (sig_hup);
  g_clear_pointer (&r.in, sf_line_reader_free);
  sf_ua_control_free (r.ctl);
  workers_stop (&r);
  workers_join (&r);
  /* Instances hold SIP messages the stack's loader machines describe: end them first. */
  g_autoptr (GPtrArray) left = sf_endpoint_instances (r.ep);
  for (guint i = 0; i < left->len; i++)
    sf_endpoint_kill (r.ep, left->pdata[i], "exit");
  g_clear_pointer (&r.http, sf_ua_http_free); /* it reads the endpoint */
  g_clear_pointer (&r.metrics, sf_ua_metrics_free); /* it reads the endpoint and the modules */
  /* Then the modules, in reverse order (calls gave their RTP ports back). */
  sf_modules_teardown (r.ep);
  sf_endpoint_free (r.ep);
  /* Last: what was handed after the inboxes closed is freed with it. */
  g_clear_pointer (&r.set, sf_workers_free);
  /* Let cancelled async reads and closed sockets finish their callbacks (bounded). */
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_source_destroy (flush_source);
  g_source_unref (flush_source);
  flush_out ();
  g_string_free (out_buf, TRUE);
  out_buf = NULL;
  g_main_loop_unref (r.loop);
  g_mutex_clear (&r.lock);
  g_cond_clear (&r.cond);
  return rc;
}
