/* sf-ua-http.h: the live view of 'sipflow run --http ADDR:PORT' (docs/teaching.md,
 * "The live view"): a read-only HTTP server (libsoup 3) serving a page that
 * shows each live instance with its machine's picture (Graphviz's library draws
 * it as SVG) and the current state lit, the events as they come (Server-Sent
 * Events, with the last ones kept for a page opened late) and the ladder of the
 * run so far.  Nothing it serves changes the element. */
#pragma once
#include <glib.h>
#include "framework/sf-endpoint.h"
#include "states/sf-machine.h"

G_BEGIN_DECLS

typedef struct _SfUaHttp SfUaHttp;

/* Event lines kept for a page opened late, and the bytes they may take. */
#define SF_UA_HTTP_RING_LINES 5000
#define SF_UA_HTTP_RING_BYTES (8 * 1024 * 1024)
/* Event streams (/events) open at once; one more is answered 503. */
#define SF_UA_HTTP_MAX_STREAMS 16
/* A line longer than this is not kept nor streamed (counted, logged once). */
#define SF_UA_HTTP_MAX_LINE (1024 * 1024)

/* Checks @addr_port ("ADDR:PORT", an IPv6 address in brackets, "localhost";
 * port 0: a free one) and prepares the server of @ep's live view for the flow
 * @flow (ref taken: its machine and its imports are drawn; the others, the
 * transaction machines, as their instances appear).  A non-loopback address is
 * refused unless @allow_public (core.http_public).  Nothing listens yet: lines
 * fed from now on are kept for the page.  NULL and @error when refused. */
SfUaHttp *sf_ua_http_new (SfEndpoint *ep, SfMachine *flow, const char *addr_port, gboolean allow_public,
                          GError **error);
/* Listens, and announces it through @ep as an event line
 * {"event":"listening","transport":"http","addr":...,"port":...} (the bound
 * port when 0 was asked). */
gboolean sf_ua_http_start (SfUaHttp *h, GError **error);
/* One event line as the element writes it (no newline; not kept by the call):
 * kept in the ring and sent to every open event stream. */
void sf_ua_http_feed (SfUaHttp *h, const char *line);
/* Ends the open streams, stops listening, frees everything.  Call it while the
 * endpoint still exists (a request answered later would read it).  NULL-safe. */
void sf_ua_http_free (SfUaHttp *h);
/* Whether an HTTP Host header (HOST[:PORT], [V6][:PORT]) names a loopback
 * host (localhost, 127.0.0.0/8, ::1): what a server bound to loopback answers,
 * so that a web page elsewhere cannot read it through a DNS name rebound to
 * 127.0.0.1.  FALSE for NULL or a malformed one. */
gboolean sf_ua_http_host_is_loopback (const char *host_header);

G_END_DECLS
