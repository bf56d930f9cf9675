/* sf-ua-control.c: control commands (DESIGN.md, "Control commands"): one
 * command a line, from standard input or the --control Unix socket, turned into
 * device events for the flow.  On the socket each command gets exactly one JSON
 * reply line; 'sipflow ctl' sends one and prints the reply. */
#include "config.h"
#include "sf-ua.h"
#include "framework/sf-json.h"
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

/* Longest control line accepted. */
#define SF_CONTROL_MAX_LINE 4096

struct _SfUaControl {
  SfEndpoint *ep;            /* unowned */
  SfMachine *machine;        /* unowned: what 'call' creates */
  SfUaQuitFunc quit;
  gpointer quit_data;
  GSocketService *service;   /* owned, nullable */
  char *socket_path;         /* owned, nullable: unlinked at the end */
  GCancellable *cancel;      /* owned: ends the clients' pending reads */
};

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
  { "register", CALL_NONE, 0, 0, "register" },
  { "unregister", CALL_NONE, 0, 0, "unregister" },
  { "status", CALL_NONE, 0, 0, "status" },
  { "quit", CALL_NONE, 0, 0, "quit" },
};

SfUaControl *
sf_ua_control_new (SfEndpoint *ep, SfMachine *main_machine, SfUaQuitFunc quit, gpointer quit_data)
{
  SfUaControl *c = g_new0 (SfUaControl, 1);
  c->ep = ep;
  c->machine = main_machine;
  c->quit = quit;
  c->quit_data = quit_data;
  c->cancel = g_cancellable_new ();
  return c;
}

void
sf_ua_control_free (SfUaControl *c)
{
  if (c == NULL)
    return;
  g_cancellable_cancel (c->cancel);
  g_object_unref (c->cancel);
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

static char *
status (SfUaControl *c, gboolean *ok)
{
  g_autoptr (GPtrArray) list = calls (c);
  GString *out = g_string_new ("\"ok\":true,\"calls\":[");
  for (guint i = 0; i < list->len; i++) {
    SfInstance *inst = list->pdata[i];
    g_string_append (out, i > 0 ? ",{\"call\":" : "{\"call\":");
    sf_json_append_string (out, sf_instance_handle (inst));
    g_string_append (out, ",\"state\":");
    sf_json_append_string (out, sf_instance_state (inst));
    g_string_append_c (out, '}');
  }
  g_string_append (out, "]");
  g_autofree char *stats = sf_endpoint_stats_json (c->ep);
  sf_endpoint_emit_line (c->ep, g_strdup (stats));
  *ok = TRUE;
  return g_string_free (out, FALSE);
}

char *
sf_ua_control_exec (SfUaControl *c, const char *line, gboolean *ok)
{
  *ok = TRUE;
  if (strlen (line) > SF_CONTROL_MAX_LINE)
    return fail (ok, "command longer than %d bytes", SF_CONTROL_MAX_LINE);
  g_auto (GStrv) words = g_strsplit_set (line, " \t\r\n", -1);
  GPtrArray *w = g_ptr_array_new ();
  for (char **p = words; *p != NULL; p++)
    if (**p != '\0')
      g_ptr_array_add (w, *p);
  g_autoptr (GPtrArray) args = w;
  if (args->len == 0)
    return NULL; /* a blank line: nothing to do, nothing to reply */
  const char *name = args->pdata[0];
  const Command *cmd = NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, name) == 0)
      cmd = &commands[i];
  if (cmd == NULL)
    return fail (ok, "unknown command '%s' (commands: call, answer, reject, redirect, hangup, hold, resume, dtmf, "
                     "register, unregister, status, quit)", name);
  guint first = 1;
  SfInstance *target = NULL;
  if (cmd->call == CALL_OPTIONAL) {
    /* A first word that is a live handle is the CALL; otherwise the only call up. */
    if (args->len > 1 && (target = sf_endpoint_lookup_handle (c->ep, args->pdata[1])) != NULL)
      first = 2;
    else if (args->len > 1 + (guint) cmd->max_args)
      return fail (ok, "no call '%s'", (const char *) args->pdata[1]);
  }
  int n = (int) args->len - (int) first;
  if (n < cmd->min_args || n > cmd->max_args)
    return fail (ok, "usage: %s", cmd->usage);
  const char *arg = n > 0 ? args->pdata[first] : NULL;

  if (strcmp (name, "status") == 0)
    return status (c, ok);
  if (strcmp (name, "quit") == 0) {
    c->quit (c->quit_data);
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
  if (strcmp (name, "register") == 0 || strcmp (name, "unregister") == 0)
    return fail (ok, "%s: this flow has no registration (registration comes with the user agent flow)", name);
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

/* ---- the Unix socket ---- */

typedef struct {
  SfUaControl *c;            /* unowned: do not touch once @cancel fired */
  GCancellable *cancel;      /* owned ref */
  GSocketConnection *conn;   /* owned */
  GDataInputStream *in;      /* owned */
} Client;

static void
client_free (Client *cl)
{
  g_object_unref (cl->in);
  g_object_unref (cl->conn);
  g_object_unref (cl->cancel);
  g_free (cl);
}

static void read_next (Client *cl);

static void
on_line (GObject *src, GAsyncResult *res, gpointer data)
{
  Client *cl = data;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (src), res, &len, &error);
  if (line == NULL || g_cancellable_is_cancelled (cl->cancel)) {
    client_free (cl);
    return;
  }
  gboolean ok;
  g_autofree char *fields = sf_ua_control_exec (cl->c, line, &ok);
  g_autofree char *reply = g_strdup_printf ("{%s}\n", fields != NULL ? fields : "\"ok\":true");
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (cl->conn));
  if (!g_output_stream_write_all (out, reply, strlen (reply), NULL, NULL, NULL)) {
    client_free (cl);
    return;
  }
  read_next (cl);
}

static void
read_next (Client *cl)
{
  g_data_input_stream_read_line_async (cl->in, G_PRIORITY_DEFAULT, cl->cancel, on_line, cl);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
  Client *cl = g_new0 (Client, 1);
  cl->c = data;
  cl->cancel = g_object_ref (cl->c->cancel);
  cl->conn = g_object_ref (conn);
  cl->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (conn)));
  g_buffered_input_stream_set_buffer_size (G_BUFFERED_INPUT_STREAM (cl->in), SF_CONTROL_MAX_LINE + 2);
  read_next (cl);
  return TRUE;
}

gboolean
sf_ua_control_listen (SfUaControl *c, const char *path, GError **error)
{
  g_return_val_if_fail (c->service == NULL, FALSE);
  if (g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "control socket '%s' exists already (another sipflow?)", path);
    return FALSE;
  }
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

/* ---- sipflow ctl ---- */

int
sf_ua_cmd_ctl (int argc, char **argv)
{
  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)) {
    printf ("Usage: sipflow ctl SOCKET COMMAND [ARGS]...\n\n"
            "Sends one control command to 'sipflow run --control SOCKET' and prints its JSON reply.\n"
            "Commands: call URI, answer [CALL], reject [CALL] [CODE], redirect [CALL] URI, hangup [CALL],\n"
            "hold [CALL], resume [CALL], dtmf [CALL] DIGITS, register, unregister, status, quit.\n"
            "Exit status: 0 when the reply says ok, 1 otherwise, 2 usage error.\n");
    return SF_EXIT_OK;
  }
  if (argc < 3)
    return sf_ua_usage_error ("ctl", argc < 2 ? "no socket given" : "no command given");
  g_autoptr (GString) line = g_string_new (NULL);
  for (int i = 2; i < argc; i++) {
    if (strchr (argv[i], '\n') != NULL)
      return sf_ua_usage_error ("ctl", "an argument holds a newline");
    g_string_append_printf (line, "%s%s", i > 2 ? " " : "", argv[i]);
  }
  g_string_append_c (line, '\n');
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 10);
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (argv[1]);
  g_autoptr (GSocketConnection) conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL, &error);
  if (conn == NULL) {
    fprintf (stderr, "sipflow ctl: cannot connect to '%s': %s\n", argv[1], error->message);
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
