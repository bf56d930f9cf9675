/* sf-metrics.h: an endpoint's metrics in the Prometheus text exposition format
 * 0.0.4 (docs/operations.md, "Metrics").
 *
 * Counting costs nothing on the hot path: each layer counts in plain guint64
 * fields of its own state (SfStats, the transport's and the stack's stats, the
 * registrar's), which are the handles; nothing is looked up or formatted per
 * increment.  A scrape walks the endpoint and every module that has a metrics
 * hook (SfModuleDef.metrics), which writes its families into an
 * SfMetricsWriter from those fields, and reads the gauges it knows then
 * (instances, bindings, connections live).  One scrape makes one text: each
 * family once, its HELP and TYPE lines first, families sorted by name, samples
 * in the order written; label values escaped (\\, ", newline).
 *
 * Label values a remote party chooses are bounded by whoever writes them:
 * methods through sf_sip_method_index, status codes through
 * sf_sip_status_label (sip/sf-sip-transport.h). */
#pragma once
#include <glib.h>
#include "framework/sf-endpoint.h"

G_BEGIN_DECLS

typedef enum {
  SF_METRIC_COUNTER,    /* name ends in _total */
  SF_METRIC_GAUGE,
  SF_METRIC_HISTOGRAM,  /* written with sf_metrics_histogram */
} SfMetricType;

typedef struct _SfMetricsWriter SfMetricsWriter;

SfMetricsWriter *sf_metrics_writer_new (void);
void sf_metrics_writer_free (SfMetricsWriter *w);
/* The exposition text (transfer full); frees @w. */
char *sf_metrics_writer_finish (SfMetricsWriter *w);

/* Makes @name (a valid metric name; a counter's ends in _total) the family the
 * next samples go to, declared with @type and @help (one line) the first time;
 * a family written again later (two modules counting the same thing) gets the
 * further samples, its first declaration kept.  A bad name, or a counter
 * without _total, is a programming error: g_critical, and the samples up to
 * the next family are dropped. */
void sf_metrics_family (SfMetricsWriter *w, const char *name, SfMetricType type, const char *help);
/* One sample of the current family: @value, then label name/value pairs
 * (const char *), NULL-terminated.  Label names must be valid; values are
 * escaped. */
void sf_metrics_sample (SfMetricsWriter *w, guint64 value, ...) G_GNUC_NULL_TERMINATED;
void sf_metrics_sample_double (SfMetricsWriter *w, double value, ...) G_GNUC_NULL_TERMINATED;

/* A histogram of durations in seconds with fixed bounds (docs/operations.md
 * lists them): buckets kept apart, summed at scrape time.  Zeroed is empty. */
#define SF_METRIC_N_BUCKETS 12
typedef struct {
  guint64 bucket[SF_METRIC_N_BUCKETS + 1]; /* the last: over every bound */
  guint64 count;
  double sum;
} SfMetricHistogram;
/* The upper bounds, in seconds (SF_METRIC_N_BUCKETS of them). */
const double *sf_metric_bucket_bounds (void);
void sf_metric_histogram_observe (SfMetricHistogram *h, double seconds);
/* Writes @h's _bucket, _sum and _count samples into the current family (a
 * histogram), with one optional label pair (@label NULL: none). */
void sf_metrics_histogram (SfMetricsWriter *w, const SfMetricHistogram *h, const char *label, const char *value);

/* The endpoint's families (events, instances, timers, process start, build)
 * and every module's (SfModuleDef.metrics): the text of one scrape (transfer
 * full). */
char *sf_metrics_render (SfEndpoint *ep);

G_END_DECLS
