/* sf-ua-metrics.h: 'sipflow run --metrics ADDR:PORT' (core.metrics): GET
 * /metrics in the Prometheus text format (framework/sf-metrics.h) over
 * libsoup 3 (docs/operations.md, "Metrics"). */
#pragma once
#include <glib.h>
#include "framework/sf-endpoint.h"

G_BEGIN_DECLS

/* Most connections open at once; further ones are closed when accepted. */
#define SF_UA_METRICS_MAX_CONNS 16
/* The longest a connection stays open: a scrape takes milliseconds, and a
 * client that connects and sends nothing must not hold a slot for ever. */
#define SF_UA_METRICS_CONN_S 30
/* Most scrapes answered a second (each walks the live instances on the SIP
 * thread); past it, 503 with Retry-After. */
#define SF_UA_METRICS_PER_S 20

typedef struct _SfUaMetrics SfUaMetrics;

/* @addr_port: "ADDR:PORT", "[::1]:PORT", "localhost:PORT", or ":PORT" / "PORT"
 * for 127.0.0.1 (port 0: a free one).  An explicit non-loopback address is
 * served as given (a Prometheus on another host scrapes it; the text holds
 * counts only, no call's data).  @ep: unowned, outlives the server.  Nothing
 * listens yet. */
SfUaMetrics *sf_ua_metrics_new (SfEndpoint *ep, const char *addr_port, GError **error);
/* Listens, and writes {"event":"listening","transport":"metrics","addr":...,"port":...}. */
gboolean sf_ua_metrics_start (SfUaMetrics *m, GError **error);
void sf_ua_metrics_free (SfUaMetrics *m);
/* Answers @msg (a GET or HEAD of /metrics) with @ep's metrics: the live view
 * (sf-ua-http.c) serves /metrics through it too.  @msg is a SoupServerMessage. */
void sf_ua_metrics_respond (SfEndpoint *ep, gpointer msg, gboolean head);
/* The text /metrics serves when it is not the endpoint's own
 * (sf_metrics_render): several workers' summed (docs/workers.md).  Transfer
 * full. */
typedef char *(*SfUaMetricsRenderFunc) (gpointer data);
void sf_ua_metrics_set_render (SfUaMetrics *m, SfUaMetricsRenderFunc func, gpointer data);
/* The expositions of @n workers as one (transfer full): worker 0's (@texts[0])
 * families and series in its order, each sample the sum of that series in
 * every text but those of the families one for the set (the process's start
 * time, its version, the location store's latency: worker 0's); a NULL text
 * (a worker that did not answer in time) is left out and named in a comment. */
char *sf_ua_metrics_sum (char **texts, guint n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfUaMetrics, sf_ua_metrics_free)

G_END_DECLS
