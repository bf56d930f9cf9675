/* sf-ua-control.c: control commands (docs/architecture.md, "Control commands"): one
 * command a line, from standard input or the --control Unix socket, turned into
 * device events for the flow.  On the socket each command gets exactly one JSON
 * reply line; 'sipflow ctl' sends one and prints the reply. */
#include "config.h"
#include "framework/sf-flow.h"
#include "sf-ua.h"
#include "framework/sf-json.h"
#include "sf-ua-lines.h"
#include "states/sf-machine.h"
#include "operators/ua/sf-ua-call.h"
#include "operators/ua/sf-ua-sub.h"
#include "operators/sf-modules.h"
#include "framework/sf-module.h"
#include "operators/registrar/sf-registrar.h"
#include "sip/sf-sip-uri.h"
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>


struct _SfUaControl {
  SfEndpoint *ep;            /* unowned */
  SfMachine *machine;        /* unowned: what 'call' creates */
  SfUaQuitFunc quit;
  gpointer quit_data;
  GSocketService *service;   /* owned, nullable */
  char *socket_path;         /* owned, nullable: unlinked at the end */
  GList *clients;            /* owned refs to Client */
  gboolean closing;          /* shutting down: only status and quit */
  SfUaReloadFunc reload;     /* nullable: what 'reload' runs beyond the list files */
  gpointer reload_data;
  SfUaStatsFunc stats;       /* nullable: the stats line, when not the endpoint's own */
  gpointer stats_data;
};

/* Most reply bytes a socket client may leave unread before it is dropped. */
#define SF_CONTROL_MAX_PENDING (64 * 1024)

typedef enum { CALL_NONE, CALL_OPTIONAL } CallArg;

typedef struct {
  const char *name;
  CallArg call;      /* takes an optional CALL handle first */
  int min_args, max_args; /* after the handle */
  const char *usage;
} Command;

static const Command commands[] = {
  { "call", CALL_NONE, 1, 1, "call URI" },
  { "answer", CALL_OPTIONAL, 0, 0, "answer [CALL]" },
  { "reject", CALL_OPTIONAL, 0, 1, "reject [CALL] [CODE]" },
  { "redirect", CALL_OPTIONAL, 1, 1, "redirect [CALL] URI" },
  { "hangup", CALL_OPTIONAL, 0, 0, "hangup [CALL]" },
  { "hold", CALL_OPTIONAL, 0, 0, "hold [CALL]" },
  { "resume", CALL_OPTIONAL, 0, 0, "resume [CALL]" },
  { "dtmf", CALL_OPTIONAL, 1, 1, "dtmf [CALL] DIGITS" },
  { "update", CALL_OPTIONAL, 0, 1, "update [CALL] [nosdp]" },
  { "message", CALL_OPTIONAL, 1, -1, "message URI TEXT | message CALL TEXT" },
  { "register", CALL_NONE, 0, 0, "register" },
  { "unregister", CALL_NONE, 0, 0, "unregister" },
  { "subscribe", CALL_NONE, 1, 2, "subscribe URI [EVENT]" },
  { "transfer", CALL_NONE, 2, 2, "transfer CALL URI | transfer CALL CALL2" },
  { "unsubscribe", CALL_NONE, 0, 1, "unsubscribe [SUB]" },
  { "status", CALL_NONE, 0, 0, "status" },
  { "reload", CALL_NONE, 0, 0, "reload" },
  { "location", CALL_NONE, 1, 3, "location dump [AOR] | location count | location remove AOR [CONTACT]" },
  { "quit", CALL_NONE, 0, 0, "quit" },
};

typedef struct _Client Client;
static void client_close (Client *cl, gboolean flush);

void
sf_ua_control_set_stats (SfUaControl *c, SfUaStatsFunc func, gpointer data)
{
  c->stats = func;
  c->stats_data = data;
}

void
sf_ua_control_set_reload (SfUaControl *c, SfUaReloadFunc func, gpointer data)
{
  c->reload = func;
  c->reload_data = data;
}

void
sf_ua_control_set_closing (SfUaControl *c)
{
  c->closing = TRUE;
}

SfUaControl *
sf_ua_control_new (SfEndpoint *ep, SfMachine *main_machine, SfUaQuitFunc quit, gpointer quit_data)
{
  SfUaControl *c = g_new0 (SfUaControl, 1);
  c->ep = ep;
  c->machine = main_machine;
  c->quit = quit;
  c->quit_data = quit_data;
  return c;
}

void
sf_ua_control_free (SfUaControl *c)
{
  if (c == NULL)
    return;
  while (c->clients != NULL)
    client_close (c->clients->data, TRUE);
  if (c->service != NULL) {
    g_socket_service_stop (c->service);
    g_socket_listener_close (G_SOCKET_LISTENER (c->service));
    g_object_unref (c->service);
  }
  if (c->socket_path != NULL) {
    g_unlink (c->socket_path);
    g_free (c->socket_path);
  }
  g_free (c);
}

static char *
fail (gboolean *ok, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
static char *
fail (gboolean *ok, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  *ok = FALSE;
  GString *out = g_string_new ("\"ok\":false,\"error\":");
  sf_json_append_string (out, msg);
  return g_string_free (out, FALSE);
}

/* The instances a command may address: those of the main machine. */
static GPtrArray *
calls (SfUaControl *c)
{
  g_autoptr (GPtrArray) all = sf_endpoint_instances (c->ep);
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; i < all->len; i++)
    if (sf_instance_machine (all->pdata[i]) == c->machine && !sf_instance_ended (all->pdata[i]))
      g_ptr_array_add (out, all->pdata[i]);
  return out;
}

void
sf_ua_control_calls_json (SfEndpoint *ep, SfMachine *machine, GString *out)
{
  g_autoptr (GPtrArray) all = sf_endpoint_instances (ep);
  for (guint i = 0; i < all->len; i++) {
    SfInstance *inst = all->pdata[i];
    if (sf_instance_machine (inst) != machine || sf_instance_ended (inst))
      continue;
    g_string_append (out, out->len > 0 ? ",{\"call\":" : "{\"call\":");
    sf_json_append_string (out, sf_instance_handle (inst));
    g_string_append (out, ",\"state\":");
    sf_json_append_string (out, sf_instance_state (inst));
    /* A call of the user agent with audio running: its RTP stats now. */
    SfUaCall *call = sf_ua_call_of (ep, inst);
    if (call != NULL && call->stream != NULL) {
      SfMediaStats st;
      sf_media_stats (call->stream, &st);
      g_autofree char *js = sf_media_stats_json (&st);
      g_string_append_printf (out, ",\"media\":%s", js);
    }
    g_string_append_c (out, '}');
  }
}

static char *
status (SfUaControl *c, gboolean *ok)
{
  g_autoptr (GString) list = g_string_new (NULL);
  sf_ua_control_calls_json (c->ep, c->machine, list);
  /* With workers, theirs too, each read in its own thread (the user agent's
   * registration and subscriptions below run at one worker only). */
  g_autoptr (GString) late = g_string_new (NULL);
  gboolean emits = sf_endpoint_emits (c->ep, SF_EVC_SERVICE);
  g_autofree char *stats = c->stats != NULL ? c->stats (c->stats_data, list, late)
                           : emits           ? sf_endpoint_stats_json (c->ep)
                                             : NULL;
  GString *out = g_string_new ("\"ok\":true,\"calls\":[");
  g_string_append (out, list->str);
  g_string_append (out, "]");
  /* A worker that did not answer in time: its calls are missing, said so. */
  if (late->len > 0)
    g_string_append_printf (out, ",\"late_workers\":[%s]", late->str);
  /* The registration machine's instance, when the flow has one (xml/ua.xml). */
  SfMachine *regm = sf_machine_lookup_import (c->machine, "registration");
  g_autoptr (GPtrArray) all = sf_endpoint_instances (c->ep);
  for (guint i = 0; regm != NULL && i < all->len; i++)
    if (sf_instance_machine (all->pdata[i]) == regm && !sf_instance_ended (all->pdata[i])) {
      g_string_append (out, ",\"registration\":{\"instance\":");
      sf_json_append_string (out, sf_instance_handle (all->pdata[i]));
      g_string_append (out, ",\"state\":");
      sf_json_append_string (out, sf_instance_state (all->pdata[i]));
      g_string_append_c (out, '}');
      break;
    }
  /* The subscription machine's live instances (xml/subscription.xml; at most
   * ua.max_subscriptions), when there are any. */
  SfMachine *subm = sf_machine_lookup_import (c->machine, "subscription");
  guint nsubs = 0;
  for (guint i = 0; subm != NULL && i < all->len; i++)
    if (sf_instance_machine (all->pdata[i]) == subm && !sf_instance_ended (all->pdata[i])) {
      g_string_append (out, nsubs++ == 0 ? ",\"subscriptions\":[{\"instance\":" : ",{\"instance\":");
      sf_json_append_string (out, sf_instance_handle (all->pdata[i]));
      g_string_append (out, ",\"state\":");
      sf_json_append_string (out, sf_instance_state (all->pdata[i]));
      SfUaInstance *ui = sf_instance_module_slot (c->ep, all->pdata[i], &sf_ua_module);
      if (ui != NULL && ui->sub != NULL && ui->sub->refer) { /* a transfer (RFC 3515), either role */
        g_string_append (out, ",\"package\":\"refer\",\"role\":");
        sf_json_append_string (out, ui->sub->notifier ? "transferee" : "transferor");
        g_string_append (out, ",\"transfer_call\":");
        sf_json_append_string (out, ui->sub->refer_call != NULL ? ui->sub->refer_call : "");
      }
      g_string_append_c (out, '}');
    }
  if (nsubs > 0)
    g_string_append_c (out, ']');
  if (emits)
    sf_endpoint_emit_line (c->ep, g_steal_pointer (&stats));
  *ok = TRUE;
  return g_string_free (out, FALSE);
}

/* Most bindings one "location dump" reply lists, and about the most bytes it
 * takes (long Path values): past either, the reply is cut and says so. */
#define SF_CONTROL_MAX_DUMP 1000
#define SF_CONTROL_MAX_DUMP_BYTES (1024 * 1024)

typedef struct {
  GString *out;
  gint64 now;
  guint listed, total, aors;
  const char *last_aor;   /* borrowed from the location service during the walk */
} Dump;

static gboolean
dump_one (const char *aor, const SfLocBinding *b, gpointer data)
{
  Dump *d = data;
  if (d->last_aor != aor) {
    d->aors++;
    d->last_aor = aor;
  }
  d->total++;
  if (d->out == NULL || d->listed >= SF_CONTROL_MAX_DUMP || d->out->len >= SF_CONTROL_MAX_DUMP_BYTES)
    return TRUE; /* counted, not listed */
  if (d->listed > 0)
    g_string_append_c (d->out, ',');
  sf_ua_location_binding_json (d->out, aor, b, d->now);
  d->listed++;
  return TRUE;
}

/* location dump [AOR] | count | remove AOR [CONTACT]: the running registrar's
 * bindings.  At core.workers > 1 they are worker 0's, the one engine whose
 * location holds them (the others' ask it: sf-location-worker.c), and the
 * control is worker 0's too: it runs on the main thread, which runs worker
 * 0's engine (ua/sf-ua-run.c), so the walk and the removal run in the thread
 * that owns the bindings, with no hop. */
static char *
location (SfUaControl *c, GPtrArray *args, gboolean *ok)
{
  SfLocation *loc = sf_registrar_location (c->ep);
  if (loc == NULL)
    return fail (ok, "location: this flow has no registrar");
  /* A control made on another worker would see a view holding nothing:
   * said so rather than answered with no bindings. */
  if (sf_endpoint_worker (c->ep) != 0)
    return fail (ok, "location: worker %u holds no bindings: worker 0 does", sf_endpoint_worker (c->ep));
  if (sf_location_shared (loc)) /* this node holds none of them */
    return fail (ok, "location: location.backend is redis, shared by every node (this one holds none): read and "
                     "clean it with 'sipflow location dump|count|purge --config FILE' (the node's configuration)");
  const char *what = args->pdata[1];
  guint n = args->len - 2;
  const char *aor = n > 0 ? args->pdata[2] : NULL;
  if (strcmp (what, "count") == 0 && n == 0) {
    Dump d = { 0 };
    sf_location_each (loc, NULL, dump_one, &d);
    return g_strdup_printf ("\"ok\":true,\"bindings\":%u,\"aors\":%u", d.total, d.aors);
  }
  if (strcmp (what, "dump") == 0 && n <= 1) {
    Dump d = { .out = g_string_new ("\"ok\":true,\"bindings\":["), 
              .now = sf_clock_wall_us (sf_endpoint_clock (c->ep)) / G_USEC_PER_SEC };
    sf_location_each (loc, aor, dump_one, &d);
    g_string_append_printf (d.out, "],\"listed\":%u,\"total\":%u", d.listed, d.total);
    if (d.listed < d.total)
      g_string_append_printf (d.out, ",\"note\":\"cut at %u of %u bindings: ask for one AOR (location dump AOR), "
                                     "or read the file (sipflow location dump)\"", d.listed, d.total);
    return g_string_free (d.out, FALSE);
  }
  if (strcmp (what, "remove") == 0 && n >= 1)
    return g_strdup_printf ("\"ok\":true,\"removed\":%u",
                            sf_location_remove (loc, aor, n > 1 ? (const char *) args->pdata[3] : NULL));
  return fail (ok, "usage: location dump [AOR] | location count | location remove AOR [CONTACT]");
}

static gboolean
looks_like_handle (const char *w)
{
  if (!g_ascii_islower (w[0]) || w[1] == '\0')
    return FALSE;
  for (const char *p = w + 1; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

/* The rest of @line after its first @words words and the blanks that follow
 * them (transfer none). */
static const char *
after_words (const char *line, guint words)
{
  const char *p = line;
  for (guint i = 0; i < words; i++) {
    p += strspn (p, " \t\r\n\v\f");
    p += strcspn (p, " \t\r\n\v\f");
  }
  return p + strspn (p, " \t\v\f");
}

/* message URI TEXT | message CALL TEXT: TEXT is the rest of the line (its
 * trailing line end dropped; \n, \t and \\ stand for a line break, a tab and
 * a backslash), at most SF_UA_MESSAGE_MAX_BODY bytes.  With a URI, a new
 * instance sends it outside any dialog (RFC 3428 4); with a CALL, in its dialog. */
static char *
message (SfUaControl *c, const char *line, GPtrArray *args, SfInstance *target, gboolean *ok)
{
  const char *rest = after_words (line, 2);
  GString *text = g_string_new (NULL);
  for (const char *p = rest; *p != '\0' && *p != '\r' && *p != '\n'; p++) {
    if (*p == '\\' && (p[1] == 'n' || p[1] == 't' || p[1] == '\\')) {
      p++;
      g_string_append_c (text, *p == 'n' ? '\n' : *p == 't' ? '\t' : '\\');
    } else {
      g_string_append_c (text, *p);
    }
  }
  g_autofree char *body = g_string_free (text, FALSE);
  if (args->len < 3 || *body == '\0')
    return fail (ok, "usage: message URI TEXT | message CALL TEXT");
  if (strlen (body) > SF_UA_MESSAGE_MAX_BODY)
    return fail (ok, "message: the text has %zu bytes, more than the %d a MESSAGE may carry (RFC 3428 8)",
                 strlen (body), SF_UA_MESSAGE_MAX_BODY);
  if (target != NULL) {
    sf_endpoint_post (c->ep, target, sf_event_new (SF_EV_DEVICE, "message", body));
    GString *out = g_string_new ("\"ok\":true,\"call\":");
    sf_json_append_string (out, sf_instance_handle (target));
    return g_string_free (out, FALSE);
  }
  const char *uri = args->pdata[1];
  g_autoptr (GError) e = NULL;
  g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (uri, strlen (uri)), NULL, &e);
  if (u == NULL)
    return fail (ok, "message: '%s' is not a URI (%s)", uri, e->message);
  SfInstance *inst = sf_endpoint_create (c->ep, c->machine, NULL, NULL, &e);
  if (inst == NULL)
    return fail (ok, "message: %s", e->message);
  g_autofree char *arg = g_strdup_printf ("%s %s", uri, body);
  sf_endpoint_post (c->ep, inst, sf_event_new (SF_EV_DEVICE, "message", arg));
  GString *out = g_string_new ("\"ok\":true,\"message\":");
  sf_json_append_string (out, sf_instance_handle (inst));
  return g_string_free (out, FALSE);
}

/* subscribe URI [EVENT]: a new instance of the flow's machine imported as
 * "subscription" (xml/subscription.xml in xml/ua.xml); unsubscribe [SUB]: to
 * the one named, or the only one (RFC 6665; docs/ua.md "Subscriptions"). */
static char *
subscription_command (SfUaControl *c, const char *name, int n, GPtrArray *args, guint first, gboolean *ok)
{
  SfMachine *subm = sf_machine_lookup_import (c->machine, "subscription");
  if (subm == NULL)
    return fail (ok, "%s: this flow has no subscription machine (import one as 'subscription', like xml/ua.xml)", name);
  SfInstance *sub = NULL;
  g_autofree char *arg = NULL;
  if (strcmp (name, "subscribe") == 0) {
    const char *uri = args->pdata[first];
    const char *package = n > 1 ? (const char *) args->pdata[first + 1] : "message-summary";
    g_autoptr (GError) e = NULL;
    g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (uri, strlen (uri)), NULL, &e);
    if (u == NULL || (u->kind != SF_URI_SIP && u->kind != SF_URI_SIPS))
      return fail (ok, "subscribe: '%s' is not a sip: URI%s%s", uri, e != NULL ? ": " : "",
                   e != NULL ? e->message : "");
    static const char tokch[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~";
    if (strspn (package, tokch) != strlen (package) || strlen (package) > 64)
      return fail (ok, "subscribe: the event package must be a token (at most 64 bytes), got '%s'", package);
    if (strcmp (package, "message-summary") != 0)
      return fail (ok, "subscribe: this UA subscribes to message-summary only (got '%s')", package);
    g_autoptr (GError) error = NULL;
    sub = sf_endpoint_create (c->ep, subm, NULL, NULL, &error);
    if (sub == NULL)
      return fail (ok, "subscribe: %s", error->message);
    arg = g_strdup_printf ("%s %s", uri, package);
  } else if (n > 0) {
    sub = sf_endpoint_lookup_handle (c->ep, args->pdata[first]);
    if (sub == NULL || sf_instance_machine (sub) != subm || sf_instance_ended (sub))
      return fail (ok, "unsubscribe: no subscription '%s'", (const char *) args->pdata[first]);
  } else {
    guint live = 0;
    g_autoptr (GPtrArray) all = sf_endpoint_instances (c->ep);
    for (guint i = 0; i < all->len; i++)
      if (sf_instance_machine (all->pdata[i]) == subm && !sf_instance_ended (all->pdata[i])) {
        sub = all->pdata[i];
        live++;
      }
    if (live == 0)
      return fail (ok, "unsubscribe: no subscription");
    if (live > 1)
      return fail (ok, "unsubscribe: %u subscriptions: name one (unsubscribe %s)", live, sf_instance_handle (sub));
  }
  sf_endpoint_post (c->ep, sub, sf_event_new (SF_EV_DEVICE, name, arg));
  GString *out = g_string_new ("\"ok\":true,\"subscription\":");
  sf_json_append_string (out, sf_instance_handle (sub));
  return g_string_free (out, FALSE);
}

/* The live call of the main machine named @handle whose dialog is confirmed, or NULL. */
static SfInstance *
call_up (SfUaControl *c, const char *handle)
{
  SfInstance *inst = looks_like_handle (handle) ? sf_endpoint_lookup_handle (c->ep, handle) : NULL;
  if (inst == NULL || sf_instance_machine (inst) != c->machine || sf_instance_ended (inst))
    return NULL;
  SfUaCall *call = sf_ua_call_of (c->ep, inst);
  return call != NULL && call->dialog != NULL && !call->dialog->early ? inst : NULL;
}

/* transfer CALL URI (blind) | transfer CALL CALL2 (attended): a new instance
 * of the subscription machine sends the REFER in CALL's dialog (RFC 3515,
 * RFC 5589; docs/ua.md "REFER and transfer").  One transfer per call at a time. */
static char *
transfer (SfUaControl *c, GPtrArray *args, gboolean *ok)
{
  SfMachine *subm = sf_machine_lookup_import (c->machine, "subscription");
  if (subm == NULL)
    return fail (ok, "transfer: this flow has no subscription machine (import one as 'subscription', like xml/ua.xml)");
  const char *ch = args->pdata[1], *target = args->pdata[2];
  if (call_up (c, ch) == NULL)
    return fail (ok, "transfer: no call '%s' that is up", ch);
  if (looks_like_handle (target)) {
    if (strcmp (target, ch) == 0 || call_up (c, target) == NULL)
      return fail (ok, "transfer: no other call '%s' that is up to transfer to", target);
  } else {
    g_autoptr (GError) e = NULL;
    g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (target, strlen (target)), NULL, &e);
    if (u == NULL || (u->kind != SF_URI_SIP && u->kind != SF_URI_SIPS) || u->n_headers > 0)
      return fail (ok, "transfer: '%s' is not a sip: URI without headers%s%s", target, e != NULL ? ": " : "",
                   e != NULL ? e->message : "");
  }
  g_autoptr (GPtrArray) all = sf_endpoint_instances (c->ep);
  for (guint i = 0; i < all->len; i++) {
    if (sf_instance_machine (all->pdata[i]) != subm || sf_instance_ended (all->pdata[i]))
      continue;
    SfUaInstance *ui = sf_instance_module_slot (c->ep, all->pdata[i], &sf_ua_module);
    if (ui != NULL && ui->sub != NULL && ui->sub->refer && !ui->sub->notifier && g_strcmp0 (ui->sub->refer_call, ch) == 0)
      return fail (ok, "transfer: call %s has a transfer in progress (%s)", ch, sf_instance_handle (all->pdata[i]));
  }
  g_autoptr (GError) error = NULL;
  SfInstance *sub = sf_endpoint_create (c->ep, subm, NULL, NULL, &error);
  if (sub == NULL)
    return fail (ok, "transfer: %s", error->message);
  /* the transfer is the call's from now on (its REFER goes with the event):
   * a second command finds it at once */
  SfUaInstance *ui = sf_instance_module_slot_ensure (c->ep, sub, &sf_ua_module, sf_ua_inst_new, sf_ua_inst_free);
  ui->sub = g_new0 (SfUaSub, 1);
  ui->sub->granted = -1;
  ui->sub->refer = TRUE;
  ui->sub->refer_call = g_strdup (ch);
  g_autofree char *arg = g_strdup_printf ("%s %s", ch, target);
  sf_endpoint_post (c->ep, sub, sf_event_new (SF_EV_DEVICE, "refer", arg));
  GString *out = g_string_new ("\"ok\":true,\"call\":");
  sf_json_append_string (out, ch);
  g_string_append (out, ",\"transfer\":");
  sf_json_append_string (out, sf_instance_handle (sub));
  return g_string_free (out, FALSE);
}

static gboolean
quit_idle (gpointer data)
{
  SfUaControl *c = data;
  c->quit (c->quit_data);
  return G_SOURCE_REMOVE;
}

char *
sf_ua_control_exec (SfUaControl *c, const char *line, gboolean *ok)
{
  *ok = TRUE;
  if (strlen (line) > SF_CONTROL_MAX_LINE)
    return fail (ok, "command longer than %d bytes", SF_CONTROL_MAX_LINE);
  g_auto (GStrv) words = g_strsplit_set (line, " \t\r\n\v\f", -1);
  GPtrArray *w = g_ptr_array_new ();
  for (char **p = words; *p != NULL; p++)
    if (**p != '\0')
      g_ptr_array_add (w, *p);
  g_autoptr (GPtrArray) args = w;
  if (args->len == 0)
    return NULL; /* a blank line: nothing to do, nothing to reply */
  if (!g_utf8_validate (line, -1, NULL))
    return fail (ok, "a command must be UTF-8 text");
  const char *name = args->pdata[0];
  const Command *cmd = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      cmd = &commands[i];
  if (cmd == NULL)
    return fail (ok, "unknown command '%s' (commands: call, answer, reject, redirect, hangup, hold, resume, dtmf, "
                     "update, message, transfer, register, unregister, subscribe, unsubscribe, status, reload, location, quit)", name);
  if (c->closing && strcmp (name, "status") != 0 && strcmp (name, "quit") != 0)
    return fail (ok, "%s: shutting down", name);
  guint first = 1;
  SfInstance *target = NULL;
  if (cmd->call == CALL_OPTIONAL && args->len > 1 && looks_like_handle (args->pdata[1])) {
    /* A first word shaped like a handle ("c2") is the CALL: it must be a call that is up. */
    target = sf_endpoint_lookup_handle (c->ep, args->pdata[1]);
    if (target == NULL || sf_instance_machine (target) != c->machine)
      return fail (ok, "%s: no call '%s'", name, (const char *) args->pdata[1]);
    first = 2;
  }
  if (strcmp (name, "message") == 0)
    return message (c, line, args, target, ok);
  int n = (int) args->len - (int) first;
  if (n < cmd->min_args || n > cmd->max_args)
    return fail (ok, "usage: %s", cmd->usage);
  const char *arg = n > 0 ? args->pdata[first] : NULL;
  if (arg != NULL && (strcmp (name, "call") == 0 || strcmp (name, "redirect") == 0)) {
    g_autoptr (GError) e = NULL;
    g_autoptr (SfSipUri) uri = sf_sip_uri_parse (sf_sip_str (arg, strlen (arg)), NULL, &e);
    if (uri == NULL)
      return fail (ok, "%s: '%s' is not a URI (%s)", name, arg, e->message);
  }
  if (arg != NULL && strcmp (name, "reject") == 0 &&
      (strlen (arg) != 3 || !g_ascii_isdigit (arg[0]) || !g_ascii_isdigit (arg[1]) || !g_ascii_isdigit (arg[2]) ||
       arg[0] < '4' || arg[0] > '6'))
    return fail (ok, "reject: the status code must be from 400 to 699, got '%s'", arg);
  if (arg != NULL && strcmp (name, "dtmf") == 0 &&
      (strlen (arg) > 64 || strspn (arg, "0123456789*#ABCDabcd") != strlen (arg)))
    return fail (ok, "dtmf: digits are 0-9, *, #, A-D (at most 64), got '%s'", arg);
  if (arg != NULL && strcmp (name, "update") == 0 && strcmp (arg, "nosdp") != 0)
    return fail (ok, "update: 'update [CALL]' sends a new offer, 'update [CALL] nosdp' none; got '%s'", arg);

  if (strcmp (name, "status") == 0)
    return status (c, ok);
  if (strcmp (name, "location") == 0)
    return location (c, args, ok);
  if (strcmp (name, "reload") == 0 && c->reload != NULL) {
    /* run's: the configuration and the files it names, the list files too. */
    g_autoptr (GString) report = g_string_new (NULL);
    if (!c->reload (c->reload_data, report))
      return fail (ok, "reload: %s", report->str);
    return report->len > 0 ? g_strdup_printf ("\"ok\":true,%s", report->str) : g_strdup ("\"ok\":true");
  }
  if (strcmp (name, "reload") == 0) {
    /* The flows' list files, read again now (they are also read again when they change). */
    g_autoptr (GString) errors = g_string_new (NULL);
    guint lists = sf_flow_lists_reload_of (sf_endpoint_registry (c->ep), errors); /* this engine's lists */
    if (errors->len > 0)
      return fail (ok, "reload: %u list files read again; %s", lists, errors->str);
    return g_strdup_printf ("\"ok\":true,\"lists\":%u", lists);
  }
  if (strcmp (name, "quit") == 0) {
    /* After this command's reply is out. */
    g_idle_add_full (G_PRIORITY_DEFAULT, quit_idle, c, NULL);
    c->closing = TRUE;
    return g_strdup ("\"ok\":true");
  }
  if (strcmp (name, "call") == 0) {
    g_autoptr (GError) error = NULL;
    SfInstance *inst = sf_endpoint_create (c->ep, c->machine, NULL, NULL, &error);
    if (inst == NULL)
      return fail (ok, "call: %s", error->message);
    sf_endpoint_post (c->ep, inst, sf_event_new (SF_EV_DEVICE, "call", arg));
    GString *out = g_string_new ("\"ok\":true,\"call\":");
    sf_json_append_string (out, sf_instance_handle (inst));
    return g_string_free (out, FALSE);
  }
  if (strcmp (name, "register") == 0 || strcmp (name, "unregister") == 0) {
    /* The flow's machine imported as "registration" (xml/register.xml in xml/ua.xml): one instance. */
    SfMachine *regm = sf_machine_lookup_import (c->machine, "registration");
    if (regm == NULL)
      return fail (ok, "%s: this flow has no registration machine (import one as 'registration', like xml/ua.xml)",
                   name);
    SfInstance *reg = NULL;
    g_autoptr (GPtrArray) all = sf_endpoint_instances (c->ep);
    for (guint i = 0; i < all->len && reg == NULL; i++)
      if (sf_instance_machine (all->pdata[i]) == regm && !sf_instance_ended (all->pdata[i]))
        reg = all->pdata[i];
    if (reg == NULL && strcmp (name, "unregister") == 0)
      return fail (ok, "unregister: not registered");
    if (reg == NULL) {
      g_autoptr (GError) error = NULL;
      reg = sf_endpoint_create (c->ep, regm, NULL, NULL, &error);
      if (reg == NULL)
        return fail (ok, "register: %s", error->message);
    }
    sf_endpoint_post (c->ep, reg, sf_event_new (SF_EV_DEVICE, name, NULL));
    GString *out = g_string_new ("\"ok\":true,\"instance\":");
    sf_json_append_string (out, sf_instance_handle (reg));
    return g_string_free (out, FALSE);
  }
  if (strcmp (name, "transfer") == 0)
    return transfer (c, args, ok);
  if (strcmp (name, "subscribe") == 0 || strcmp (name, "unsubscribe") == 0)
    return subscription_command (c, name, n, args, first, ok);
  if (target == NULL) {
    g_autoptr (GPtrArray) list = calls (c);
    if (list->len == 0)
      return fail (ok, "%s: no call is up", name);
    if (list->len > 1)
      return fail (ok, "%s: %u calls are up: name one (%s %s ...)", name, list->len, name,
                   sf_instance_handle (list->pdata[0]));
    target = list->pdata[0];
  }
  sf_endpoint_post (c->ep, target, sf_event_new (SF_EV_DEVICE, name, arg));
  GString *out = g_string_new ("\"ok\":true,\"call\":");
  sf_json_append_string (out, sf_instance_handle (target));
  return g_string_free (out, FALSE);
}

/* ---- the Unix socket: one reply line per command, written without blocking ---- */

struct _Client {
  grefcount ref;
  SfUaControl *c;            /* unowned: the control closes its clients before it goes */
  GSocketConnection *conn;   /* owned */
  SfLineReader *reader;      /* owned, NULL once reading stopped */
  GCancellable *cancel;      /* owned: pending writes */
  GQueue out;                /* GBytes, the head being written */
  gsize pending;
  gboolean writing, closed, eof;
};

static void
client_unref (Client *cl)
{
  if (!g_ref_count_dec (&cl->ref))
    return;
  g_queue_clear_full (&cl->out, (GDestroyNotify) g_bytes_unref);
  g_object_unref (cl->cancel);
  g_object_unref (cl->conn);
  g_free (cl);
}

/* Stops the client; with @flush, what is still queued is written first (briefly
 * blocking: at most one second). */
static void
client_close (Client *cl, gboolean flush)
{
  if (cl->closed)
    return;
  cl->closed = TRUE;
  g_clear_pointer (&cl->reader, sf_line_reader_free);
  g_cancellable_cancel (cl->cancel);
  if (flush && !g_queue_is_empty (&cl->out)) {
    GSocket *sock = g_socket_connection_get_socket (cl->conn);
    g_socket_set_timeout (sock, 1);
    g_socket_set_blocking (sock, TRUE);
    GOutputStream *os = g_io_stream_get_output_stream (G_IO_STREAM (cl->conn));
    for (GList *l = cl->out.head; l != NULL; l = l->next) {
      gsize len;
      const char *d = g_bytes_get_data (l->data, &len);
      /* The head may be half written by the cancelled write: a torn line at exit
       * is the best we can do; the rest goes whole. */
      if (!g_output_stream_write_all (os, d, len, NULL, NULL, NULL))
        break;
    }
  }
  g_io_stream_close (G_IO_STREAM (cl->conn), NULL, NULL);
  cl->c->clients = g_list_remove (cl->c->clients, cl);
  client_unref (cl);
}

static void write_next (Client *cl);

static void
on_written (GObject *src, GAsyncResult *res, gpointer data)
{
  Client *cl = data;
  g_autoptr (GError) error = NULL;
  gboolean ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, &error);
  if (cl->closed || !ok) {
    if (!cl->closed)
      client_close (cl, FALSE);
    client_unref (cl);
    return;
  }
  GBytes *done = g_queue_pop_head (&cl->out);
  cl->pending -= g_bytes_get_size (done);
  g_bytes_unref (done);
  cl->writing = FALSE;
  if (!g_queue_is_empty (&cl->out))
    write_next (cl);
  else if (cl->eof)
    client_close (cl, FALSE);
  client_unref (cl);
}

static void
write_next (Client *cl)
{
  GBytes *head = g_queue_peek_head (&cl->out);
  gsize len;
  const char *d = g_bytes_get_data (head, &len);
  cl->writing = TRUE;
  g_ref_count_inc (&cl->ref);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (cl->conn)), d, len,
                                   G_PRIORITY_DEFAULT, cl->cancel, on_written, cl);
}

/* FALSE when the client left too much unread and was dropped. */
static gboolean
client_reply (Client *cl, const char *fields)
{
  char *line = g_strdup_printf ("{%s}\n", fields != NULL ? fields : "\"ok\":true");
  gsize len = strlen (line);
  /* One reply is always taken when nothing is unread (a location dump may be
   * larger than the limit); past that, a client that does not read is dropped. */
  if (cl->pending > 0 && cl->pending + len > SF_CONTROL_MAX_PENDING) {
    g_free (line);
    g_warning ("control client dropped: more than %d bytes of replies unread", SF_CONTROL_MAX_PENDING);
    client_close (cl, FALSE);
    return FALSE;
  }
  g_queue_push_tail (&cl->out, g_bytes_new_take (line, len));
  cl->pending += len;
  if (!cl->writing)
    write_next (cl);
  return TRUE;
}

static gboolean
client_line (const char *line, gsize len, gboolean too_long, gpointer data)
{
  Client *cl = data;
  gboolean ok;
  g_autofree char *fields = NULL;
  if (too_long)
    fields = fail (&ok, "command longer than %d bytes", SF_CONTROL_MAX_LINE);
  else if (memchr (line, '\0', len) != NULL)
    fields = fail (&ok, "a command must be text");
  else
    fields = sf_ua_control_exec (cl->c, line, &ok);
  /* Exactly one reply per command, even for a blank line. */
  return client_reply (cl, fields);
}

static void
client_end (const GError *error, gpointer data)
{
  Client *cl = data;
  cl->eof = TRUE;
  if (!cl->writing)
    client_close (cl, FALSE);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
  SfUaControl *c = data;
  Client *cl = g_new0 (Client, 1);
  g_ref_count_init (&cl->ref);
  cl->c = c;
  cl->conn = g_object_ref (conn);
  cl->cancel = g_cancellable_new ();
  g_queue_init (&cl->out);
  c->clients = g_list_prepend (c->clients, cl);
  cl->reader = sf_line_reader_new (g_io_stream_get_input_stream (G_IO_STREAM (conn)), SF_CONTROL_MAX_LINE,
                                   client_line, client_end, cl);
  return TRUE;
}

/* Whether @path may be listened on: nothing there, or a socket no process
 * listens on any more (a sipflow killed before it could remove it), which is
 * removed with a notice.  A socket something answers on is another running
 * sipflow's; anything else there (a file, a directory) is left alone. */
static gboolean
control_path_free (const char *path, GError **error)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0)
    return TRUE;
  if (!S_ISSOCK (st.st_mode)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "control socket '%s': something else is there (not a socket)",
                 path);
    return FALSE;
  }
  g_autoptr (GSocket) probe = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, error);
  if (probe == NULL)
    return FALSE;
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  g_autoptr (GError) e = NULL;
  if (g_socket_connect (probe, addr, NULL, &e)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "control socket '%s': another process is listening on it",
                 path);
    return FALSE;
  }
  if (!g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "control socket '%s' exists and cannot be probed: %s", path,
                 e->message);
    return FALSE;
  }
  if (g_unlink (path) != 0 && errno != ENOENT) {
    int err = errno;
    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (err), "control socket '%s': stale, cannot remove it: %s",
                 path, g_strerror (err));
    return FALSE;
  }
  g_warning ("control socket '%s': no process listened on it (left by one that was killed): removed", path);
  return TRUE;
}

gboolean
sf_ua_control_listen (SfUaControl *c, const char *path, GError **error)
{
  g_return_val_if_fail (c->service == NULL, FALSE);
  if (!control_path_free (path, error))
    return FALSE;
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  c->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (c->service), addr, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, error)) {
    g_clear_object (&c->service);
    return FALSE;
  }
  c->socket_path = g_strdup (path);
  g_signal_connect (c->service, "incoming", G_CALLBACK (on_incoming), c);
  g_socket_service_start (c->service);
  return TRUE;
}

char *
sf_ua_control_service_path (void)
{
  const char *dir = g_getenv ("RUNTIME_DIRECTORY"); /* may list several, ':'-separated */
  if (dir == NULL || *dir == '\0')
    return NULL;
  g_autofree char *first = g_strndup (dir, strcspn (dir, ":"));
  return g_build_filename (first, "control", NULL);
}

/* ---- sipflow ctl ---- */

int
sf_ua_cmd_ctl (int argc, char **argv)
{
  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)) {
    printf ("Usage: sipflow ctl [SOCKET] COMMAND [ARGS]...\n\n"
            "Sends one control command to 'sipflow run --control SOCKET' and prints its JSON reply.\n"
            "Without SOCKET (the first word a command's name): the service's, $RUNTIME_DIRECTORY/control,\n"
            "else " SF_CONTROL_SERVICE_PATH " (data/sipflow.service).\n"
            "Commands: call URI, answer [CALL], reject [CALL] [CODE], redirect [CALL] URI, hangup [CALL],\n"
            "hold [CALL], resume [CALL], dtmf [CALL] DIGITS, update [CALL] [nosdp], message URI|CALL TEXT,\n"
            "transfer CALL URI|CALL2, register, unregister, subscribe URI [EVENT], unsubscribe [SUB], status, reload,\n"
            "location dump [AOR], location count, location remove AOR [CONTACT], quit.\n"
            "Exit status: 0 when the reply says ok, 1 otherwise, 2 usage error.\n");
    return SF_EXIT_OK;
  }
  if (argc < 2)
    return sf_ua_usage_error ("ctl", "no command given");
  /* A first word that names a command is one (a socket of that name: ./NAME). */
  gboolean named = TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      named = FALSE;
  g_autofree char *path = named ? g_strdup (argv[1]) : sf_ua_control_service_path ();
  if (path == NULL)
    path = g_strdup (SF_CONTROL_SERVICE_PATH);
  int first = named ? 2 : 1;
  if (argc <= first)
    return sf_ua_usage_error ("ctl", "no command given");
  g_autoptr (GString) line = g_string_new (NULL);
  for (int i = first; i < argc; i++) {
    if (strchr (argv[i], '\n') != NULL)
      return sf_ua_usage_error ("ctl", "an argument holds a newline");
    g_string_append_printf (line, "%s%s", i > first ? " " : "", argv[i]);
  }
  g_string_append_c (line, '\n');
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 10);
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  g_autoptr (GSocketConnection) conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL, &error);
  if (conn == NULL) {
    fprintf (stderr, "sipflow ctl: cannot connect to '%s': %s\n", path, error->message);
    return SF_EXIT_FAIL;
  }
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  if (!g_output_stream_write_all (out, line->str, line->len, NULL, NULL, &error)) {
    fprintf (stderr, "sipflow ctl: %s\n", error->message);
    return SF_EXIT_FAIL;
  }
  g_autoptr (GDataInputStream) in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (conn)));
  g_autofree char *reply = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);
  if (reply == NULL) {
    fprintf (stderr, "sipflow ctl: no reply: %s\n", error != NULL ? error->message : "connection closed");
    return SF_EXIT_FAIL;
  }
  printf ("%s\n", reply);
  return g_str_has_prefix (reply, "{\"ok\":true") ? SF_EXIT_OK : SF_EXIT_FAIL;
}
