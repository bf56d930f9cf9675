/* sf-ua-run.c: 'sipflow run': load a flow, read the configuration, run the
 * endpoint on the GLib main loop, print events as JSON lines on standard output
 * and take control commands from standard input (and --control).  quit, SIGINT
 * and SIGTERM stop it cleanly: every instance gets device:shutdown and a bounded
 * time (core.shutdown_timeout) to end, while the SIP stack answers new requests
 * 503 (operators/transaction/sf-txn-overload.c); a second signal stops at once. */
#include "config.h"
#include "operators/sf-modules.h"
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

typedef struct {
  GMainLoop *loop;
  SfEndpoint *ep;
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
  } args;
} Run;

/* The event lines go out when the main loop is about to wait (flush_source),
 * or when OUT_MAX bytes wait, not one write(2) each: a proxied call writes
 * about 40 in a few loop iterations, and a system call a line was a large part
 * of their cost under load.  A reader still has every line before sipflow
 * waits for anything, and each write(2) ends at a line's end, as stdio's
 * fflush per line had it (stdio's own buffer would cut a line in two), so
 * a reader polling the file never sees half a line. */
#define OUT_MAX (64 * 1024)
static GString *out_buf;

static void
flush_out (void)
{
  gsize done = 0;
  while (done < out_buf->len) {
    gssize n = write (STDOUT_FILENO, out_buf->str + done, out_buf->len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break; /* a reader gone (run | head): the lines are dropped, as fputs's were */
    done += (gsize) n;
  }
  g_string_truncate (out_buf, 0);
}

static void
emit_stdout (const char *line, gpointer data)
{
  gsize len = strlen (line);
  if (out_buf->len + len + 1 > OUT_MAX && out_buf->len > 0)
    flush_out ();
  g_string_append_len (out_buf, line, (gssize) len);
  g_string_append_c (out_buf, '\n');
  sf_ua_http_feed (((Run *) data)->http, line);
}

static gboolean
flush_prepare (GSource *source, gint *timeout)
{
  (void) source;
  if (out_buf->len > 0)
    flush_out ();
  *timeout = -1;
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
  if (sf_endpoint_emits (r->ep, SF_EVC_SERVICE))
    sf_endpoint_emit_line (r->ep, sf_endpoint_stats_json (r->ep));
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
  if (all->len > 0)
    g_warning ("shutdown: %u instance(s) still alive %s: ended without their flows", all->len, why);
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
  if (sf_endpoint_shutdown (r->ep) == 0) {
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

static void
check_idle (Run *r)
{
  guint n = sf_endpoint_n_instances (r->ep);
  /* Shutting down, transactions left are only absorbing retransmissions: they do not hold the exit. */
  if (r->shutting_down && sf_endpoint_n_instances_but (r->ep, "transaction") == 0)
    finish (r);
  else if (!r->shutting_down && r->exit_when_idle && r->stdin_closed && n == 0)
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
    /* The flows' list files: each one that cannot be read keeps its items. */
    lists = sf_flow_lists_reload (list_errors);
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
  /* The flow first: its plugins declare their configuration sections. */
  if (!config_apply (cfg, &r, &error)) {
    fprintf (stderr, "sipflow run: %s\n", error->message);
    return SF_EXIT_FAIL;
  }
  sf_ua_log_init (sf_config_get_string (cfg, "core", "log_level"));

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
  GSource *flush_source = g_source_new (&flush_funcs, sizeof (GSource));
  g_source_set_priority (flush_source, G_PRIORITY_LOW); /* prepared like any other, every iteration */
  g_source_attach (flush_source, NULL);
  emit_flow (r.ep, machine, flow);
  sf_endpoint_set_untaken (r.ep, untaken, &r);
  sf_endpoint_attach (r.ep, NULL);
  sf_endpoint_set_after_batch (r.ep, after_batch, &r);
  r.ctl = sf_ua_control_new (r.ep, machine, begin_shutdown, &r);
  sf_ua_control_set_reload (r.ctl, control_reload, &r);
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
  if (!sf_modules_setup (r.ep, loader, machine, &error) || !sf_modules_start (r.ep, &error)) {
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
  g_source_remove (sig_int);
  g_source_remove (sig_term);
  g_source_remove (sig_hup);
  g_clear_pointer (&r.in, sf_line_reader_free);
  sf_ua_control_free (r.ctl);
  /* Instances hold SIP messages the stack's loader machines describe: end them first. */
  g_autoptr (GPtrArray) left = sf_endpoint_instances (r.ep);
  for (guint i = 0; i < left->len; i++)
    sf_endpoint_kill (r.ep, left->pdata[i], "exit");
  g_clear_pointer (&r.http, sf_ua_http_free); /* it reads the endpoint */
  g_clear_pointer (&r.metrics, sf_ua_metrics_free); /* it reads the endpoint and the modules */
  /* Then the modules, in reverse order (calls gave their RTP ports back). */
  sf_modules_teardown (r.ep);
  sf_endpoint_free (r.ep);
  /* Let cancelled async reads and closed sockets finish their callbacks (bounded). */
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_source_destroy (flush_source);
  g_source_unref (flush_source);
  flush_out ();
  g_string_free (out_buf, TRUE);
  out_buf = NULL;
  g_main_loop_unref (r.loop);
  return rc;
}
