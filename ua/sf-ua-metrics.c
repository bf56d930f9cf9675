/* sf-ua-metrics.c: the metrics endpoint (see sf-ua-metrics.h).
 *
 * The server runs on the SIP thread's main context, so what a scraper can
 * make it do is bounded: connections are accepted here (a GSocketService)
 * and handed to libsoup, at most SF_UA_METRICS_MAX_CONNS at once, each for
 * at most SF_UA_METRICS_CONN_S; a request body is never kept; scrapes past
 * SF_UA_METRICS_PER_S a second get 503.  GET and HEAD of /metrics only: 405
 * for another method, 404 for another path.  Bound to loopback, a request
 * whose Host is not a loopback name gets 403 (a web page elsewhere cannot read
 * the counts through a DNS name rebound to 127.0.0.1). */
#include "config.h"
#include "sf-ua-metrics.h"
#include "sf-ua-http.h"
#include "framework/sf-json.h"
#include "framework/sf-metrics.h"
#include <libsoup/soup.h>
#include <string.h>

struct _SfUaMetrics {
  SfEndpoint *ep;            /* unowned */
  GInetAddress *addr;        /* owned */
  guint port;                /* the bound one once started */
  GSocketService *service;   /* owned */
  SoupServer *server;        /* owned */
  GPtrArray *conns;          /* Conn (owned): the connections open */
  gint64 second;             /* monotonic second of the scrapes counted in */
  guint scrapes;             /* scrapes answered in it */
  SfUaMetricsRenderFunc render; /* nullable: the text, when not the endpoint's own */
  gpointer render_data;
};

typedef struct {
  GSocketConnection *conn;   /* owned ref (libsoup keeps none of its own past a request): freed once closed (prune) */
  guint deadline;            /* source id: SF_UA_METRICS_CONN_S after the accept */
} Conn;

static void
conn_free (gpointer p)
{
  Conn *c = p;
  if (c->deadline != 0)
    g_source_remove (c->deadline);
  g_object_unref (c->conn);
  g_free (c);
}

/* Open too long: shut down (libsoup sees the end and closes it); its slot is free. */
static gboolean
conn_deadline (gpointer data)
{
  Conn *c = data;
  c->deadline = 0;
  g_socket_shutdown (g_socket_connection_get_socket (c->conn), TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

/* Frees the slots of the connections libsoup closed, or we shut down. */
static void
prune (SfUaMetrics *m)
{
  for (guint i = m->conns->len; i > 0; i--) {
    Conn *c = m->conns->pdata[i - 1];
    if (c->deadline == 0 || g_io_stream_is_closed (G_IO_STREAM (c->conn)))
      g_ptr_array_remove_index_fast (m->conns, i - 1);
  }
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
  SfUaMetrics *m = data;
  prune (m);
  if (m->conns->len >= SF_UA_METRICS_MAX_CONNS) {
    g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
    return TRUE;
  }
  GSocket *sock = g_socket_connection_get_socket (conn);
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (sock, NULL);
  g_autoptr (GSocketAddress) remote = g_socket_get_remote_address (sock, NULL);
  g_autoptr (GError) error = NULL;
  if (!soup_server_accept_iostream (m->server, G_IO_STREAM (conn), local, remote, &error)) {
    g_warning ("metrics: a connection not taken: %s", error->message);
    g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
    return TRUE;
  }
  Conn *c = g_new0 (Conn, 1);
  c->conn = g_object_ref (conn);
  c->deadline = g_timeout_add_seconds (SF_UA_METRICS_CONN_S, conn_deadline, c);
  g_ptr_array_add (m->conns, c);
  return TRUE;
}

static void
respond_text (SoupServerMessage *msg, guint status, const char *text)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, text, strlen (text));
}

/* Answers @msg with @text (transfer full). */
static void
respond_metrics (SoupServerMessage *msg, char *text)
{
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control", "no-store");
  soup_server_message_set_response (msg, "text/plain; version=0.0.4; charset=utf-8", SOUP_MEMORY_TAKE, text, strlen (text));
}

void
sf_ua_metrics_respond (SfEndpoint *ep, gpointer message, gboolean head)
{
  (void) head; /* libsoup sends a HEAD's headers only, Content-Length included */
  respond_metrics (message, sf_metrics_render (ep));
}

void
sf_ua_metrics_set_render (SfUaMetrics *m, SfUaMetricsRenderFunc func, gpointer data)
{
  m->render = func;
  m->render_data = data;
}

/* Whether the sample line @line belongs to a family every worker reports
 * whole, or one only worker 0 means: its value is worker 0's, not the sum. */
static gboolean
once_for_set (const char *line)
{
  /* The location store's latency: worker 0's is the store's; the others'
   * are their round trips to worker 0. */
  static const char *const once[] = { "sipflow_process_start_time_seconds", "sipflow_build_info",
                                      "sipflow_location_store_seconds", NULL };
  for (const char *const *f = once; *f != NULL; f++) {
    gsize len = strlen (*f);
    if (strncmp (line, *f, len) == 0 && strchr ("{ _", line[len]) != NULL)
      return TRUE;
  }
  return FALSE;
}

/* A sample's value with no fraction, exponent, Inf or NaN. */
static gboolean
integral (const char *v)
{
  if (*v == '-')
    v++;
  if (*v == '\0')
    return FALSE;
  for (; *v != '\0'; v++)
    if (!g_ascii_isdigit (*v))
      return FALSE;
  return TRUE;
}

char *
sf_ua_metrics_sum (char **texts, guint n)
{
  /* Each other worker's samples by series (the line up to its value). */
  g_autoptr (GPtrArray) series = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  GString *late = g_string_new (NULL);
  for (guint i = 1; i < n; i++) {
    if (texts[i] == NULL) {
      g_string_append_printf (late, "%s%u", late->len > 0 ? ", " : "", i);
      continue;
    }
    char **l = g_strsplit (texts[i], "\n", -1);
    GHashTable *t = g_hash_table_new (g_str_hash, g_str_equal);
    for (char **p = l; *p != NULL; p++) {
      char *sp = **p != '#' ? strrchr (*p, ' ') : NULL;
      if (sp != NULL) {
        *sp = '\0'; /* the series, then the value */
        g_hash_table_insert (t, *p, sp + 1);
      }
    }
    g_ptr_array_add (lines, l);
    g_ptr_array_add (series, t);
  }
  GString *out = g_string_new (NULL);
  g_auto (GStrv) l0 = g_strsplit (texts[0], "\n", -1);
  for (char **p = l0; *p != NULL; p++) {
    char *sp = **p != '#' ? strrchr (*p, ' ') : NULL;
    if (sp == NULL || once_for_set (*p)) {
      g_string_append_printf (out, "%s%s", *p, p[1] != NULL ? "\n" : "");
      continue;
    }
    *sp = '\0';
    const char *v0 = sp + 1;
    gboolean whole = integral (v0);
    gint64 isum = whole ? g_ascii_strtoll (v0, NULL, 10) : 0;
    double dsum = g_ascii_strtod (v0, NULL);
    for (guint i = 0; i < series->len; i++) {
      const char *v = g_hash_table_lookup (series->pdata[i], *p);
      if (v == NULL) /* a series worker 0 has alone (its location's bindings) */
        continue;
      whole = whole && integral (v);
      isum += whole ? g_ascii_strtoll (v, NULL, 10) : 0;
      dsum += g_ascii_strtod (v, NULL);
    }
    if (whole) {
      g_string_append_printf (out, "%s %" G_GINT64_FORMAT "\n", *p, isum);
    } else {
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf (out, "%s %s\n", *p, g_ascii_dtostr (buf, sizeof buf, dsum));
    }
  }
  if (late->len > 0)
    g_string_append_printf (out, "# worker(s) %s did not answer in time: their figures are missing\n", late->str);
  g_string_free (late, TRUE);
  return g_string_free (out, FALSE);
}

/* Before any body is read: libsoup would keep a body whole in memory, and
 * /metrics reads none, so none is kept and a request with one is refused. */
static void
check_request (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  SoupMessageHeaders *qh = soup_server_message_get_request_headers (msg);
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  const char *method = soup_server_message_get_method (msg);
  if (g_strcmp0 (method, "GET") != 0 && g_strcmp0 (method, "HEAD") != 0) {
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET, HEAD");
    respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "GET /metrics only\n");
    return;
  }
  SfUaMetrics *m = data;
  if (g_inet_address_get_is_loopback (m->addr) && !sf_ua_http_host_is_loopback (soup_message_headers_get_one (qh, "Host"))) {
    respond_text (msg, SOUP_STATUS_FORBIDDEN, "metrics on loopback answer loopback names only (Host)\n");
    return;
  }
  SoupEncoding body = soup_message_headers_get_encoding (qh);
  if (body != SOUP_ENCODING_NONE && (body != SOUP_ENCODING_CONTENT_LENGTH || soup_message_headers_get_content_length (qh) > 0))
    respond_text (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "no request body here\n");
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  SfUaMetrics *m = data;
  if (strcmp (path, "/metrics") != 0) {
    respond_text (msg, SOUP_STATUS_NOT_FOUND, "not found: the metrics are at /metrics\n");
    return;
  }
  gint64 now = g_get_monotonic_time () / G_USEC_PER_SEC;
  if (now != m->second) {
    m->second = now;
    m->scrapes = 0;
  }
  if (++m->scrapes > SF_UA_METRICS_PER_S) {
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", "1");
    respond_text (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too many scrapes this second\n");
    return;
  }
  respond_metrics (msg, m->render != NULL ? m->render (m->render_data) : sf_metrics_render (m->ep));
}

/* "ADDR:PORT", "[V6]:PORT", ":PORT", "PORT" -> host (transfer full; "" for
 * none) and port; FALSE when it is none of them. */
static gboolean
split (const char *s, char **host, guint *port)
{
  const char *colon = s[0] == '[' ? strstr (s, "]:") : strrchr (s, ':');
  const char *port_text = s;
  if (s[0] == '[' && colon != NULL) {
    *host = g_strndup (s + 1, (gsize) (colon - s - 1));
    port_text = colon + 2;
  } else if (colon != NULL) {
    *host = g_strndup (s, (gsize) (colon - s));
    port_text = colon + 1;
  } else {
    *host = g_strdup ("");
  }
  guint64 n;
  if (!g_ascii_string_to_unsigned (port_text, 10, 0, 65535, &n, NULL)) {
    g_clear_pointer (host, g_free);
    return FALSE;
  }
  *port = (guint) n;
  return TRUE;
}

SfUaMetrics *
sf_ua_metrics_new (SfEndpoint *ep, const char *addr_port, GError **error)
{
  g_autofree char *host = NULL;
  guint port = 0;
  if (!split (addr_port, &host, &port)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "metrics address '%s': expected ADDR:PORT (127.0.0.1:9090, [::1]:9090, 0.0.0.0:9090) or PORT "
                 "(loopback; 0: a free one)",
                 addr_port);
    return NULL;
  }
  GInetAddress *addr = *host == '\0' || g_ascii_strcasecmp (host, "localhost") == 0
                         ? g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4)
                         : g_inet_address_new_from_string (host);
  if (addr == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "metrics address '%s': '%s' is not an IP address (nor localhost)", addr_port, host);
    return NULL;
  }
  SfUaMetrics *m = g_new0 (SfUaMetrics, 1);
  m->ep = ep;
  m->addr = addr;
  m->port = port;
  m->conns = g_ptr_array_new_with_free_func (conn_free);
  return m;
}

gboolean
sf_ua_metrics_start (SfUaMetrics *m, GError **error)
{
  g_return_val_if_fail (m->service == NULL, FALSE);
  g_autoptr (GSocketAddress) want = g_inet_socket_address_new (m->addr, (guint16) m->port);
  g_autoptr (GSocketAddress) bound = NULL;
  GSocketService *service = g_socket_service_new ();
  g_autoptr (GError) err = NULL;
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), want, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                      NULL, &bound, &err)) {
    g_autofree char *where = g_inet_address_to_string (m->addr);
    g_set_error (error, G_IO_ERROR, err->code, "cannot listen on %s port %u: %s", where, m->port, err->message);
    g_object_unref (service);
    return FALSE;
  }
  m->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  m->service = service;
  m->server = soup_server_new ("server-header", "sipflow", NULL);
  soup_server_add_early_handler (m->server, NULL, check_request, m, NULL);
  soup_server_add_handler (m->server, NULL, handle, m, NULL);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), m);
  g_socket_service_start (service);
  GString *ev = sf_json_begin ("listening");
  sf_json_add_str (ev, "transport", "metrics");
  g_autofree char *addr = g_inet_address_to_string (m->addr);
  sf_json_add_str (ev, "addr", addr);
  sf_json_add_int (ev, "port", m->port);
  sf_endpoint_emit_json_as (m->ep, SF_EVC_SERVICE, ev);
  return TRUE;
}

void
sf_ua_metrics_free (SfUaMetrics *m)
{
  if (m == NULL)
    return;
  if (m->service != NULL) {
    g_socket_service_stop (m->service);
    g_socket_listener_close (G_SOCKET_LISTENER (m->service));
    g_signal_handlers_disconnect_by_data (m->service, m);
    g_object_unref (m->service);
  }
  g_ptr_array_unref (m->conns);
  if (m->server != NULL) {
    soup_server_disconnect (m->server);
    g_object_unref (m->server);
  }
  g_object_unref (m->addr);
  g_free (m);
}
