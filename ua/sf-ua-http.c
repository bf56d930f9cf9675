/* sf-ua-http.c: the live view's HTTP server (see sf-ua-http.h).  Routes, all
 * GET or HEAD (any other method: 405):
 *   /                  the page (ua/live/: HTML, script and style compiled in)
 *   /live.js /live.css /favicon.svg  its script, style and icon
 *   /machines          JSON: the machines known (the flow's, its imports', and
 *                      every machine an instance was seen running)
 *   /machine/NAME.svg  a machine's picture: sf_machine_to_dot_flags (folded) drawn by libgvc
 *   /instances         JSON: the live instances, their machine and state
 *   /events            the event lines as Server-Sent Events, the ring first
 *   /ladder.svg        the ladder of the run so far
 * Query parameters are ignored: the page adds one to defeat caches, nothing
 * reads it.  While it serves loopback only, a request whose Host header is not
 * a loopback name is refused (403): a web page elsewhere cannot reach it
 * through a DNS name rebound to 127.0.0.1. */
#include "config.h"
#include "sf-ua-http.h"
#include "sf-ua-metrics.h"
#include "sf-ladder.h"
#include "framework/sf-json.h"
#include "states/sf-dot.h"
#include "states/sf-instance.h"
#include <errno.h>
#include <gio/gio.h>
#include <gvc.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>

/* ua/live/live.gresource.xml, compiled by glib-compile-resources --manual-register
 * (ua/Makefile.inc); registered once, for the life of the process. */
GResource *sf_live_get_resource (void);
void sf_live_register_resource (void);

/* Bytes an event stream may have waiting to be written (a reader that stopped
 * reading): past it, the stream is ended; its EventSource reconnects and gets
 * the ring from where it was (Last-Event-ID). */
#define CLIENT_MAX_PENDING (2 * SF_UA_HTTP_RING_BYTES)
/* Seconds between comments on idle streams (a dead reader is found by writing). */
#define PING_SECONDS 15

#define CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; " \
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct {
  guint64 id;
  GBytes *sse; /* owned: "id: N\ndata: LINE\n\n" */
} Line;

typedef struct {
  SfUaHttp *h;               /* unowned */
  SoupServerMessage *msg;    /* owned ref */
  gsize pending;             /* bytes appended, not yet written */
  gboolean ending;           /* the body is complete: nothing more is appended */
  GSource *watch;            /* owned, nullable: the connection's end, seen while paused */
  gulong finished_id, wrote_id;
} Client;

struct _SfUaHttp {
  SfEndpoint *ep;            /* unowned */
  SfMachine *flow;           /* owned ref */
  GInetAddress *addr;        /* owned */
  guint port;                /* asked (0: any), then bound */
  gboolean public;           /* core.http_public: no Host check */
  SoupServer *server;        /* owned, nullable until started */
  GVC_t *gvc;                /* owned */
  GHashTable *machines;      /* name (owned) -> SfMachine (ref) */
  GPtrArray *machine_order;  /* unowned names, in the order they were found */
  GHashTable *svgs;          /* name (owned) -> SVG text (owned) */
  GQueue ring;               /* Line (owned), oldest first */
  gsize ring_bytes;
  guint64 next_id;
  guint64 too_long;          /* lines not kept: longer than SF_UA_HTTP_MAX_LINE */
  GPtrArray *clients;        /* Client (owned by the array's free function: client_free) */
  guint ping;                /* timeout source id */
  char *ladder;              /* owned, nullable: /ladder.svg as last drawn */
  guint64 ladder_id;         /* the ring's newest line when it was drawn */
  gint64 ladder_at;          /* g_get_monotonic_time () when it was drawn */
};

static void
line_free (Line *l)
{
  g_bytes_unref (l->sse);
  g_free (l);
}

static int
by_name (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(SfMachine *const *) a)->name, (*(SfMachine *const *) b)->name);
}

static void
add_machine (SfUaHttp *h, SfMachine *m)
{
  if (m == NULL || m->name == NULL || g_hash_table_contains (h->machines, m->name))
    return;
  char *name = g_strdup (m->name);
  g_hash_table_insert (h->machines, name, sf_machine_ref (m));
  g_ptr_array_add (h->machine_order, name);
  /* Its imports too, recursively (a flow imports registration.xml...). */
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, m->imports);
  g_autoptr (GPtrArray) subs = g_ptr_array_new ();
  while (g_hash_table_iter_next (&it, &key, &value))
    g_ptr_array_add (subs, value);
  /* Hash order is not file order: by name, so that /machines does not vary. */
  g_ptr_array_sort (subs, by_name);
  for (guint i = 0; i < subs->len; i++)
    add_machine (h, subs->pdata[i]);
}

/* The machines of the live instances that are not known yet (the transaction
 * machines, which the SIP stack loads beside the flow). */
static void
scan_instances (SfUaHttp *h)
{
  g_autoptr (GPtrArray) all = sf_endpoint_instances (h->ep);
  for (guint i = 0; i < all->len; i++)
    add_machine (h, sf_instance_machine (all->pdata[i]));
}

/* ---- parsing ADDR:PORT and Host ---- */

static char *
host_part (const char *hostport, const char **port_at)
{
  *port_at = NULL;
  if (hostport[0] == '[') {
    const char *end = strchr (hostport, ']');
    if (end == NULL)
      return NULL;
    if (end[1] == ':')
      *port_at = end + 2;
    else if (end[1] != '\0')
      return NULL;
    return g_strndup (hostport + 1, (gsize) (end - hostport - 1));
  }
  const char *colon = strrchr (hostport, ':');
  if (colon != NULL && strchr (hostport, ':') != colon)
    return NULL; /* an IPv6 address without its brackets */
  if (colon != NULL)
    *port_at = colon + 1;
  return colon != NULL ? g_strndup (hostport, (gsize) (colon - hostport)) : g_strdup (hostport);
}

static gboolean
host_is_loopback (const char *host)
{
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  g_autoptr (GInetAddress) a = g_inet_address_new_from_string (host);
  return a != NULL && g_inet_address_get_is_loopback (a);
}

gboolean
sf_ua_http_host_is_loopback (const char *host_header)
{
  const char *port_at = NULL;
  g_autofree char *host = host_header != NULL ? host_part (host_header, &port_at) : NULL;
  return host != NULL && host_is_loopback (host);
}

/* ---- rendering ---- */

/* Graphviz 3 and later pass the length as size_t, 2.x as unsigned int: the
 * prototype tells which (the version header's names differ between them). */
#define GV_LENGTH_IS_SIZE_T                                                                            \
  _Generic (&gvRenderData, int (*) (GVC_t *, graph_t *, const char *, char **, size_t *): 1, default: 0)

/* The machine's picture as SVG (cached; owned by @h), or NULL. */
static const char *
machine_svg (SfUaHttp *h, SfMachine *m)
{
  const char *cached = g_hash_table_lookup (h->svgs, m->name);
  if (cached != NULL)
    return cached;
  g_autofree char *dot = sf_machine_to_dot_flags (m, SF_DOT_FOLD) /* the folded picture: shared arrows drawn once */;
  Agraph_t *g = agmemread (dot);
  if (g == NULL) {
    g_warning ("live view: Graphviz could not read the picture of machine %s", m->name);
    return NULL;
  }
  char *out = NULL;
  union {
    size_t z;
    unsigned int u;
  } n = { 0 };
  char *svg = NULL;
  if (gvLayout (h->gvc, g, "dot") == 0) {
    if (gvRenderData (h->gvc, g, "svg", &out, (void *) &n) == 0 && out != NULL)
      svg = g_strndup (out, GV_LENGTH_IS_SIZE_T ? n.z : n.u);
    if (out != NULL)
      gvFreeRenderData (out);
    gvFreeLayout (h->gvc, g);
  }
  agclose (g);
  if (svg == NULL) {
    g_warning ("live view: Graphviz could not draw machine %s", m->name);
    return NULL;
  }
  g_hash_table_insert (h->svgs, g_strdup (m->name), svg);
  return svg;
}

/* ---- event streams ---- */

static void
client_free (Client *c)
{
  if (c->watch != NULL) {
    g_source_destroy (c->watch);
    g_source_unref (c->watch);
  }
  g_signal_handler_disconnect (c->msg, c->finished_id);
  g_signal_handler_disconnect (c->msg, c->wrote_id);
  g_object_unref (c->msg);
  g_free (c);
}

/* Ends the stream: the last chunk is written (or the write fails on a closed
 * connection), then "finished" removes the client. */
static void
client_end (Client *c)
{
  if (c->ending)
    return;
  c->ending = TRUE;
  soup_message_body_complete (soup_server_message_get_response_body (c->msg));
  soup_server_message_unpause (c->msg);
}

static void
client_send (Client *c, GBytes *b)
{
  if (c->ending)
    return;
  if (c->pending + g_bytes_get_size (b) > CLIENT_MAX_PENDING) {
    g_info ("live view: an event stream is %zu bytes behind: ended (its page reconnects)", c->pending);
    client_end (c);
    return;
  }
  c->pending += g_bytes_get_size (b);
  soup_message_body_append_bytes (soup_server_message_get_response_body (c->msg), b);
  soup_server_message_unpause (c->msg);
}

static void
client_send_text (Client *c, const char *text)
{
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  client_send (c, b);
}

static void
on_finished (SoupServerMessage *msg, gpointer data)
{
  Client *c = data;
  g_ptr_array_remove (c->h->clients, c); /* frees it */
}

static void
on_wrote_body_data (SoupServerMessage *msg, guint size, gpointer data)
{
  Client *c = data;
  c->pending -= MIN (c->pending, size);
}

/* A paused stream's connection is not read by libsoup: a reader that went
 * away is seen here (end of file), not only at the next write. */
static gboolean
on_socket_ready (GSocket *sock, GIOCondition cond, gpointer data)
{
  Client *c = data;
  char b;
  gssize n = recv (g_socket_get_fd (sock), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) /* the client sent more (a request after this one): leave it to libsoup */
    goto stop;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && !(cond & (G_IO_HUP | G_IO_ERR)))
    return G_SOURCE_CONTINUE;
  client_end (c);
stop:
  g_source_unref (c->watch);
  c->watch = NULL;
  return G_SOURCE_REMOVE;
}

static gboolean
ping_clients (gpointer data)
{
  SfUaHttp *h = data;
  /* A copy without the clients' free function (g_ptr_array_copy keeps it: the
   * copy's end would free every client): client_send may end a stream. */
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  for (guint i = 0; i < h->clients->len; i++)
    g_ptr_array_add (all, h->clients->pdata[i]);
  for (guint i = 0; i < all->len; i++)
    if (g_ptr_array_find (h->clients, all->pdata[i], NULL))
      client_send_text (all->pdata[i], ": ping\n\n");
  return G_SOURCE_CONTINUE;
}

static void
serve_events (SfUaHttp *h, SoupServerMessage *msg, gboolean head)
{
  SoupMessageHeaders *rh = soup_server_message_get_response_headers (msg);
  if (h->clients->len >= SF_UA_HTTP_MAX_STREAMS) {
    g_autofree char *text = g_strdup_printf ("too many event streams open (at most %d)\n", SF_UA_HTTP_MAX_STREAMS);
    soup_message_headers_replace (rh, "Retry-After", "5");
    soup_server_message_set_status (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, NULL);
    soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, text, strlen (text));
    return;
  }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  if (head) {
    soup_server_message_set_response (msg, "text/event-stream", SOUP_MEMORY_STATIC, "", 0);
    return;
  }
  soup_message_headers_set_content_type (rh, "text/event-stream", NULL);
  soup_message_headers_set_encoding (rh, SOUP_ENCODING_CHUNKED);
  soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
  Client *c = g_new0 (Client, 1);
  c->h = h;
  c->msg = g_object_ref (msg);
  c->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_finished), c);
  c->wrote_id = g_signal_connect (msg, "wrote-body-data", G_CALLBACK (on_wrote_body_data), c);
  g_ptr_array_add (h->clients, c);
  GSocket *sock = soup_server_message_get_socket (msg);
  if (sock != NULL) {
    c->watch = g_socket_create_source (sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback (c->watch, G_SOURCE_FUNC (on_socket_ready), c, NULL);
    g_source_attach (c->watch, NULL);
  }
  /* A reconnecting EventSource says where it was: the lines after it. */
  const char *last = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Last-Event-ID");
  guint64 since = 0;
  if (last == NULL || !g_ascii_string_to_unsigned (last, 10, 0, G_MAXUINT64, &since, NULL))
    since = 0;
  client_send_text (c, "retry: 2000\n\n");
  for (GList *l = h->ring.head; l != NULL; l = l->next) {
    Line *line = l->data;
    if (line->id > since)
      client_send (c, line->sse);
  }
  /* The page fetches /instances once the history is in (the instances older than the ring). */
  client_send_text (c, "event: ready\ndata: {}\n\n");
}

/* ---- JSON lists ---- */

static char *
machines_json (SfUaHttp *h)
{
  scan_instances (h);
  GString *out = g_string_new ("[");
  for (guint i = 0; i < h->machine_order->len; i++) {
    SfMachine *m = g_hash_table_lookup (h->machines, h->machine_order->pdata[i]);
    if (i > 0)
      g_string_append_c (out, ',');
    g_string_append (out, "{\"name\":");
    sf_json_append_string (out, m->name);
    g_string_append (out, ",\"scope\":");
    sf_json_append_string (out, m->scope);
    g_string_append (out, ",\"initial\":");
    sf_json_append_string (out, m->initial != NULL ? m->initial->name : NULL);
    g_string_append (out, ",\"states\":[");
    for (guint s = 0; s < m->states->len; s++) {
      if (s > 0)
        g_string_append_c (out, ',');
      sf_json_append_string (out, ((SfState *) m->states->pdata[s])->name);
    }
    g_autofree char *esc = g_uri_escape_string (m->name, NULL, FALSE);
    g_autofree char *svg = g_strdup_printf ("/machine/%s.svg", esc);
    g_string_append (out, "],\"svg\":");
    sf_json_append_string (out, svg);
    g_string_append_c (out, '}');
  }
  g_string_append (out, "]\n");
  return g_string_free (out, FALSE);
}

static char *
instances_json (SfUaHttp *h)
{
  g_autoptr (GPtrArray) all = sf_endpoint_instances (h->ep);
  GString *out = g_string_new ("[");
  for (guint i = 0; i < all->len; i++) {
    SfInstance *inst = all->pdata[i];
    add_machine (h, sf_instance_machine (inst));
    if (i > 0)
      g_string_append_c (out, ',');
    g_string_append (out, "{\"handle\":");
    sf_json_append_string (out, sf_instance_handle (inst));
    g_string_append (out, ",\"machine\":");
    sf_json_append_string (out, sf_instance_machine (inst)->name);
    g_string_append (out, ",\"state\":");
    sf_json_append_string (out, sf_instance_state (inst));
    g_string_append_c (out, '}');
  }
  g_string_append (out, "]\n");
  return g_string_free (out, FALSE);
}

/* ---- requests ---- */

static void
respond (SoupServerMessage *msg, guint status, const char *type, const char *body, gsize len)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, type, SOUP_MEMORY_COPY, body, len);
}

static void
respond_text (SoupServerMessage *msg, guint status, const char *text)
{
  respond (msg, status, "text/plain; charset=utf-8", text, strlen (text));
}

static void
serve_resource (SoupServerMessage *msg, const char *name, const char *type)
{
  static gsize registered = 0;
  if (g_once_init_enter (&registered)) {
    sf_live_register_resource ();
    g_once_init_leave (&registered, 1);
  }
  g_autofree char *where = g_strconcat ("/org/sipflow/live/", name, NULL);
  g_autoptr (GBytes) data = g_resource_lookup_data (sf_live_get_resource (), where, 0, NULL);
  if (data == NULL) {
    respond_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "the page is missing from this build\n");
    return;
  }
  gsize len = 0;
  const char *text = g_bytes_get_data (data, &len);
  respond (msg, SOUP_STATUS_OK, type, text, len);
}

/* The ladder of the lines in the ring (sipflow ladder's drawing, ua/sf-ladder.h):
 * this element's messages (with --messages), states and timers, drawn again
 * only when a line came since, and at most once every LADDER_MIN_US.  A drawing
 * of 5000 lines takes a good part of a second, and a peer's messages make new
 * lines as fast as it likes: one client asking again and again would hold the
 * element.  The page asks LADDER_MS (live.js) after the last line, no sooner:
 * by then the drawing it gets has every line. */
#define LADDER_MIN_US G_USEC_PER_SEC

static void
serve_ladder (SfUaHttp *h, SoupServerMessage *msg)
{
  guint64 newest = h->ring.tail != NULL ? ((Line *) h->ring.tail->data)->id : 0;
  if (h->ladder == NULL || (h->ladder_id != newest && g_get_monotonic_time () - h->ladder_at >= LADDER_MIN_US)) {
    g_autoptr (SfLadder) l = sf_ladder_new ();
    guint el = sf_ladder_add_element (l, "this element");
    for (GList *i = h->ring.head; i != NULL; i = i->next) {
      gsize len;
      const char *sse = g_bytes_get_data (((Line *) i->data)->sse, &len);
      const char *data = g_strstr_len (sse, (gssize) len, "\ndata: ");
      if (data == NULL)
        continue;
      data += strlen ("\ndata: ");
      const char *end = g_strstr_len (data, (gssize) (len - (gsize) (data - sse)), "\n");
      sf_ladder_add_line (l, el, data, end != NULL ? end - data : -1, NULL); /* a line it cannot use is left out */
    }
    g_free (h->ladder);
    h->ladder = sf_ladder_svg (l, NULL);
    h->ladder_id = newest;
    h->ladder_at = g_get_monotonic_time ();
  }
  respond (msg, SOUP_STATUS_OK, "image/svg+xml", h->ladder, strlen (h->ladder));
}

static void
serve_machine (SfUaHttp *h, SoupServerMessage *msg, const char *rest)
{
  gsize len = strlen (rest);
  if (len <= 4 || !g_str_has_suffix (rest, ".svg")) {
    respond_text (msg, SOUP_STATUS_NOT_FOUND, "no such machine\n");
    return;
  }
  g_autofree char *esc = g_strndup (rest, len - 4);
  g_autofree char *name = g_uri_unescape_string (esc, NULL);
  SfMachine *m = name != NULL ? g_hash_table_lookup (h->machines, name) : NULL;
  if (m == NULL && name != NULL) {
    scan_instances (h);
    m = g_hash_table_lookup (h->machines, name);
  }
  if (m == NULL) {
    respond_text (msg, SOUP_STATUS_NOT_FOUND, "no such machine\n");
    return;
  }
  const char *svg = machine_svg (h, m);
  if (svg == NULL) {
    respond_text (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "Graphviz could not draw this machine\n");
    return;
  }
  respond (msg, SOUP_STATUS_OK, "image/svg+xml", svg, strlen (svg));
}

/* Run once the headers are read, before any body.  libsoup reads a body in
 * any case, and by default keeps all of it in memory before a handler sees it:
 * any web page can POST a gigabyte to a loopback port.  The live view reads no
 * body, so none is kept (its chunks are dropped as they come), and a request
 * with one is refused. */
static void
check_request (SoupServer *server, SoupServerMessage *msg, const char *route, GHashTable *query, gpointer data)
{
  SfUaHttp *h = data;
  SoupMessageHeaders *rh = soup_server_message_get_response_headers (msg);
  SoupMessageHeaders *qh = soup_server_message_get_request_headers (msg);
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  soup_message_headers_replace (rh, "Cache-Control", "no-store");
  soup_message_headers_replace (rh, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (rh, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (rh, "Content-Security-Policy", CSP);
  const char *method = soup_server_message_get_method (msg);
  if (g_strcmp0 (method, "HEAD") != 0 && g_strcmp0 (method, "GET") != 0) {
    soup_message_headers_replace (rh, "Allow", "GET, HEAD");
    respond_text (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "the live view is read-only: GET and HEAD only\n");
    return;
  }
  SoupEncoding body = soup_message_headers_get_encoding (qh);
  if (body != SOUP_ENCODING_NONE && (body != SOUP_ENCODING_CONTENT_LENGTH || soup_message_headers_get_content_length (qh) > 0)) {
    respond_text (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "the live view reads no request body\n");
    return;
  }
  /* A browser says where a request comes from: a page of another site may
   * still make one (an <img> of /ladder.svg, which costs a drawing), though it
   * cannot read the answer; only the page itself and an address typed in are served. */
  const char *site = soup_message_headers_get_one (qh, "Sec-Fetch-Site");
  if (site != NULL && strcmp (site, "same-origin") != 0 && strcmp (site, "none") != 0) {
    respond_text (msg, SOUP_STATUS_FORBIDDEN, "the live view serves its own page only (Sec-Fetch-Site)\n");
    return;
  }
  if (!h->public) {
    if (!sf_ua_http_host_is_loopback (soup_message_headers_get_one (qh, "Host"))) {
      respond_text (msg, SOUP_STATUS_FORBIDDEN, "this live view answers loopback names only (Host)\n");
      return;
    }
  }
}

static void
handle (SoupServer *server, SoupServerMessage *msg, const char *route, GHashTable *query, gpointer data)
{
  SfUaHttp *h = data;
  gboolean head = g_strcmp0 (soup_server_message_get_method (msg), "HEAD") == 0;
  if (strcmp (route, "/") == 0 || strcmp (route, "/index.html") == 0)
    serve_resource (msg, "index.html", "text/html; charset=utf-8");
  else if (strcmp (route, "/live.js") == 0)
    serve_resource (msg, "live.js", "text/javascript; charset=utf-8");
  else if (strcmp (route, "/live.css") == 0)
    serve_resource (msg, "live.css", "text/css; charset=utf-8");
  else if (strcmp (route, "/favicon.svg") == 0 || strcmp (route, "/favicon.ico") == 0)
    serve_resource (msg, "favicon.svg", "image/svg+xml");
  else if (strcmp (route, "/machines") == 0) {
    g_autofree char *json = machines_json (h);
    respond (msg, SOUP_STATUS_OK, "application/json", json, strlen (json));
  } else if (strcmp (route, "/instances") == 0) {
    g_autofree char *json = instances_json (h);
    respond (msg, SOUP_STATUS_OK, "application/json", json, strlen (json));
  } else if (g_str_has_prefix (route, "/machine/"))
    serve_machine (h, msg, route + strlen ("/machine/"));
  else if (strcmp (route, "/events") == 0)
    serve_events (h, msg, head);
  else if (strcmp (route, "/ladder.svg") == 0)
    serve_ladder (h, msg);
  else if (strcmp (route, "/metrics") == 0)
    sf_ua_metrics_respond (h->ep, msg, head); /* the same text as run --metrics serves */
  else
    respond_text (msg, SOUP_STATUS_NOT_FOUND, "not found\n");
}

/* ---- the server ---- */

SfUaHttp *
sf_ua_http_new (SfEndpoint *ep, SfMachine *flow, const char *addr_port, gboolean allow_public, GError **error)
{
  const char *port_text = NULL;
  g_autofree char *host = host_part (addr_port, &port_text);
  guint64 port_number = 0;
  if (host == NULL || *host == '\0' || port_text == NULL ||
      !g_ascii_string_to_unsigned (port_text, 10, 0, 65535, &port_number, NULL)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "http address '%s': expected ADDR:PORT (127.0.0.1:8080, [::1]:8080; port 0: a free one)", addr_port);
    return NULL;
  }
  GInetAddress *addr = g_ascii_strcasecmp (host, "localhost") == 0 ? g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4)
                                                                    : g_inet_address_new_from_string (host);
  if (addr == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "http address '%s': '%s' is not an IP address (nor localhost)", addr_port, host);
    return NULL;
  }
  if (!allow_public && !g_inet_address_get_is_loopback (addr)) {
    g_object_unref (addr);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "http address '%s' is not a loopback address: the live view shows every call to whoever "
                 "connects, without authentication; set core.http_public = true to serve it there",
                 addr_port);
    return NULL;
  }
  SfUaHttp *h = g_new0 (SfUaHttp, 1);
  h->ep = ep;
  h->flow = sf_machine_ref (flow);
  h->addr = addr;
  h->port = (guint) port_number;
  h->public = allow_public;
  h->machines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) sf_machine_unref);
  h->machine_order = g_ptr_array_new ();
  h->svgs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  h->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
  h->next_id = 1;
  g_queue_init (&h->ring);
  add_machine (h, flow);
  return h;
}

gboolean
sf_ua_http_start (SfUaHttp *h, GError **error)
{
  g_return_val_if_fail (h->server == NULL, FALSE);
  SoupServer *server = soup_server_new ("server-header", "sipflow", NULL);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (h->addr, (guint16) h->port);
  g_autoptr (GError) err = NULL;
  if (!soup_server_listen (server, sa, 0, &err)) {
    g_autofree char *where = g_inet_address_to_string (h->addr);
    g_set_error (error, G_IO_ERROR, err->code, "cannot listen on %s port %u: %s", where, h->port,
                 err->message);
    g_object_unref (server);
    return FALSE;
  }
  GSList *listeners = soup_server_get_listeners (server);
  if (listeners != NULL) {
    g_autoptr (GSocketAddress) local = g_socket_get_local_address (listeners->data, NULL);
    if (local != NULL && G_IS_INET_SOCKET_ADDRESS (local))
      h->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  }
  g_slist_free (listeners);
  soup_server_add_early_handler (server, NULL, check_request, h, NULL);
  soup_server_add_handler (server, NULL, handle, h, NULL);
  h->server = server;
  /* Graphviz's context: its layout and SVG plugins, loaded once. */
  h->gvc = gvContext ();
  h->ping = g_timeout_add_seconds (PING_SECONDS, ping_clients, h);
  GString *ev = sf_json_begin ("listening");
  sf_json_add_str (ev, "transport", "http");
  g_autofree char *addr = g_inet_address_to_string (h->addr);
  sf_json_add_str (ev, "addr", addr);
  sf_json_add_int (ev, "port", h->port);
  sf_endpoint_emit_json_as (h->ep, SF_EVC_SERVICE, ev);
  return TRUE;
}

/* The machine named in a state event that is not known yet: the instance that
 * moved is alive now, so its machine is found among the live ones. */
static void
note_machine (SfUaHttp *h, const char *line)
{
  if (strstr (line, "\"event\":\"state\"") == NULL)
    return;
  const char *p = strstr (line, "\"machine\":\"");
  if (p == NULL)
    return;
  p += strlen ("\"machine\":\"");
  const char *end = strchr (p, '"');
  if (end == NULL || end - p > 256)
    return;
  g_autofree char *name = g_strndup (p, (gsize) (end - p));
  if (!g_hash_table_contains (h->machines, name))
    scan_instances (h);
}

void
sf_ua_http_feed (SfUaHttp *h, const char *line)
{
  if (h == NULL || line == NULL)
    return;
  gsize len = strlen (line);
  if (len > SF_UA_HTTP_MAX_LINE) {
    if (h->too_long++ == 0)
      g_warning ("live view: an event line of %zu bytes (over %d) is not shown; others may follow", len,
                 SF_UA_HTTP_MAX_LINE);
    return;
  }
  note_machine (h, line);
  Line *l = g_new0 (Line, 1);
  l->id = h->next_id++;
  GString *sse = g_string_sized_new (len + 32);
  g_string_append_printf (sse, "id: %" G_GUINT64_FORMAT "\ndata: ", l->id);
  gsize at = sse->len;
  g_string_append_len (sse, line, (gssize) len);
  /* An event line is one line; a stray CR or LF would split the SSE field. */
  for (gsize i = at; i < sse->len; i++)
    if (sse->str[i] == '\n' || sse->str[i] == '\r')
      sse->str[i] = ' ';
  g_string_append (sse, "\n\n");
  gsize n = sse->len;
  l->sse = g_bytes_new_take (g_string_free (sse, FALSE), n);
  g_queue_push_tail (&h->ring, l);
  h->ring_bytes += n;
  while (h->ring.length > SF_UA_HTTP_RING_LINES || h->ring_bytes > SF_UA_HTTP_RING_BYTES) {
    Line *old = g_queue_pop_head (&h->ring);
    h->ring_bytes -= g_bytes_get_size (old->sse);
    line_free (old);
  }
  /* client_send may end a stream; "finished" comes later, from the main loop. */
  for (guint i = 0; i < h->clients->len; i++)
    client_send (h->clients->pdata[i], l->sse);
}

void
sf_ua_http_free (SfUaHttp *h)
{
  if (h == NULL)
    return;
  if (h->ping != 0)
    g_source_remove (h->ping);
  /* The streams first: their "finished" must not reach a freed server. */
  g_ptr_array_unref (h->clients);
  if (h->server != NULL) {
    soup_server_disconnect (h->server);
    g_object_unref (h->server);
  }
  g_queue_clear_full (&h->ring, (GDestroyNotify) line_free);
  g_free (h->ladder);
  g_hash_table_unref (h->svgs);
  g_ptr_array_unref (h->machine_order);
  g_hash_table_unref (h->machines);
  if (h->gvc != NULL)
    gvFreeContext (h->gvc);
  g_object_unref (h->addr);
  sf_machine_unref (h->flow);
  g_free (h);
}
