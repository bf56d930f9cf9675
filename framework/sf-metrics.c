/* sf-metrics.c: the Prometheus text exposition format 0.0.4 and the endpoint's
 * own families (see sf-metrics.h). */
#include "config.h"
#include "sf-metrics.h"
#include "sf-module.h"
#include <stdarg.h>
#include <string.h>

typedef struct {
  char *name;           /* owned */
  SfMetricType type;
  char *help;           /* owned */
  GString *samples;     /* owned: whole lines */
} Family;

struct _SfMetricsWriter {
  GPtrArray *families;  /* Family (owned), in the order first written */
  GHashTable *by_name;  /* name (the family's) -> Family */
  Family *cur;          /* NULL: the samples are dropped (a bad family) */
};

/* When the library was loaded: the process's start, near enough (sipflow
 * links it at exec), with no /proc to read. */
static gint64 start_us;

__attribute__ ((constructor)) static void
mark_start (void)
{
  start_us = g_get_real_time ();
}

static void
family_free (gpointer p)
{
  Family *f = p;
  g_free (f->name);
  g_free (f->help);
  g_string_free (f->samples, TRUE);
  g_free (f);
}

SfMetricsWriter *
sf_metrics_writer_new (void)
{
  SfMetricsWriter *w = g_new0 (SfMetricsWriter, 1);
  w->families = g_ptr_array_new_with_free_func (family_free);
  w->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  return w;
}

void
sf_metrics_writer_free (SfMetricsWriter *w)
{
  if (w == NULL)
    return;
  g_hash_table_unref (w->by_name);
  g_ptr_array_unref (w->families);
  g_free (w);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names (@colon), [a-zA-Z_][a-zA-Z0-9_]* for labels. */
static gboolean
valid_name (const char *s, gboolean colon)
{
  if (s == NULL || *s == '\0' || g_ascii_isdigit (*s))
    return FALSE;
  for (; *s != '\0'; s++)
    if (!g_ascii_isalnum (*s) && *s != '_' && !(colon && *s == ':'))
      return FALSE;
  return TRUE;
}

static const char *
type_name (SfMetricType t)
{
  switch (t) {
  case SF_METRIC_COUNTER:
    return "counter";
  case SF_METRIC_GAUGE:
    return "gauge";
  case SF_METRIC_HISTOGRAM:
    return "histogram";
  }
  return "untyped";
}

void
sf_metrics_family (SfMetricsWriter *w, const char *name, SfMetricType type, const char *help)
{
  w->cur = g_hash_table_lookup (w->by_name, name);
  if (w->cur != NULL)
    return;
  if (!valid_name (name, TRUE) || (type == SF_METRIC_COUNTER && !g_str_has_suffix (name, "_total"))) {
    g_critical ("metric %s: not a valid %s name", name, type_name (type));
    return;
  }
  Family *f = g_new0 (Family, 1);
  f->name = g_strdup (name);
  f->type = type;
  f->help = g_strdup (help);
  f->samples = g_string_new (NULL);
  g_ptr_array_add (w->families, f);
  g_hash_table_insert (w->by_name, f->name, f);
  w->cur = f;
}

/* @s with \\ and newline escaped, and " too when @quote: a label value
 * (0.0.4); HELP text leaves " as it is. */
static void
append_escaped (GString *out, const char *s, gboolean quote)
{
  for (; *s != '\0'; s++) {
    if (*s == '\\')
      g_string_append (out, "\\\\");
    else if (*s == '\n')
      g_string_append (out, "\\n");
    else if (*s == '"' && quote)
      g_string_append (out, "\\\"");
    else
      g_string_append_c (out, *s);
  }
}

/* name{a="x",b="y"} and a space, the pairs of @ap.  FALSE (nothing written)
 * on a bad label name. */
static gboolean
append_series (GString *out, const char *name, va_list ap)
{
  gsize mark = out->len;
  g_string_append (out, name);
  gboolean any = FALSE;
  for (const char *l = va_arg (ap, const char *); l != NULL; l = va_arg (ap, const char *)) {
    const char *v = va_arg (ap, const char *);
    if (!valid_name (l, FALSE) || v == NULL) {
      g_critical ("metric %s: bad label %s", name, l);
      g_string_truncate (out, mark);
      return FALSE;
    }
    g_string_append_c (out, any ? ',' : '{');
    g_string_append_printf (out, "%s=\"", l);
    append_escaped (out, v, TRUE);
    g_string_append_c (out, '"');
    any = TRUE;
  }
  if (any)
    g_string_append_c (out, '}');
  g_string_append_c (out, ' ');
  return TRUE;
}

/* The shortest text that reads back as @v (0.0005, not 0.00050000000000000001), in the C locale. */
static const char *
shortest (char buf[G_ASCII_DTOSTR_BUF_SIZE], double v)
{
  for (int prec = 1; prec < 17; prec++) {
    char fmt[8];
    g_snprintf (fmt, sizeof fmt, "%%.%dg", prec);
    g_ascii_formatd (buf, G_ASCII_DTOSTR_BUF_SIZE, fmt, v);
    if (g_ascii_strtod (buf, NULL) == v)
      return buf;
  }
  return g_ascii_dtostr (buf, G_ASCII_DTOSTR_BUF_SIZE, v);
}

static void
append_double (GString *out, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  if (v == G_MAXDOUBLE || v > G_MAXDOUBLE) {
    g_string_append (out, "+Inf");
    return;
  }
  g_string_append (out, shortest (buf, v));
}

void
sf_metrics_sample (SfMetricsWriter *w, guint64 value, ...)
{
  if (w->cur == NULL)
    return;
  va_list ap;
  va_start (ap, value);
  if (append_series (w->cur->samples, w->cur->name, ap))
    g_string_append_printf (w->cur->samples, "%" G_GUINT64_FORMAT "\n", value);
  va_end (ap);
}

void
sf_metrics_sample_double (SfMetricsWriter *w, double value, ...)
{
  if (w->cur == NULL)
    return;
  va_list ap;
  va_start (ap, value);
  if (append_series (w->cur->samples, w->cur->name, ap)) {
    append_double (w->cur->samples, value);
    g_string_append_c (w->cur->samples, '\n');
  }
  va_end (ap);
}

/* Milliseconds to seconds: the store is asked in under a millisecond when all
 * is well, and in seconds when its server is far or stuck. */
static const double bounds[SF_METRIC_N_BUCKETS] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                    0.05, 0.1, 0.25, 0.5, 1, 2.5 };

const double *
sf_metric_bucket_bounds (void)
{
  return bounds;
}

void
sf_metric_histogram_observe (SfMetricHistogram *h, double seconds)
{
  guint i = 0;
  while (i < SF_METRIC_N_BUCKETS && seconds > bounds[i])
    i++;
  h->bucket[i]++;
  h->count++;
  h->sum += seconds;
}

/* One series of a histogram: the pair (@label, @value) when @label is set, and @le. */
static void
hist_line (Family *f, const char *suffix, const char *label, const char *value, const char *le)
{
  if (label != NULL && le != NULL) {
    g_string_append_printf (f->samples, "%s%s{%s=\"", f->name, suffix, label);
    append_escaped (f->samples, value, TRUE);
    g_string_append_printf (f->samples, "\",le=\"%s\"} ", le);
  } else if (label != NULL) {
    g_string_append_printf (f->samples, "%s%s{%s=\"", f->name, suffix, label);
    append_escaped (f->samples, value, TRUE);
    g_string_append (f->samples, "\"} ");
  } else if (le != NULL) {
    g_string_append_printf (f->samples, "%s%s{le=\"%s\"} ", f->name, suffix, le);
  } else {
    g_string_append_printf (f->samples, "%s%s ", f->name, suffix);
  }
}

void
sf_metrics_histogram (SfMetricsWriter *w, const SfMetricHistogram *h, const char *label, const char *value)
{
  Family *f = w->cur;
  if (f == NULL)
    return;
  if (f->type != SF_METRIC_HISTOGRAM || (label != NULL && (!valid_name (label, FALSE) || strcmp (label, "le") == 0))) {
    g_critical ("metric %s: not a histogram, or a bad label", f->name);
    return;
  }
  guint64 cum = 0;
  for (guint i = 0; i <= SF_METRIC_N_BUCKETS; i++) {
    cum += h->bucket[i];
    char le[G_ASCII_DTOSTR_BUF_SIZE];
    if (i < SF_METRIC_N_BUCKETS)
      shortest (le, bounds[i]);
    else
      g_strlcpy (le, "+Inf", sizeof le);
    hist_line (f, "_bucket", label, value, le);
    g_string_append_printf (f->samples, "%" G_GUINT64_FORMAT "\n", cum);
  }
  hist_line (f, "_sum", label, value, NULL);
  append_double (f->samples, h->sum);
  g_string_append_c (f->samples, '\n');
  hist_line (f, "_count", label, value, NULL);
  g_string_append_printf (f->samples, "%" G_GUINT64_FORMAT "\n", h->count);
}

static gint
by_name (gconstpointer a, gconstpointer b)
{
  const Family *fa = *(Family *const *) a, *fb = *(Family *const *) b;
  return strcmp (fa->name, fb->name);
}

char *
sf_metrics_writer_finish (SfMetricsWriter *w)
{
  GString *out = g_string_new (NULL);
  g_ptr_array_sort (w->families, by_name);
  for (guint i = 0; i < w->families->len; i++) {
    Family *f = w->families->pdata[i];
    g_string_append_printf (out, "# HELP %s ", f->name);
    append_escaped (out, f->help != NULL ? f->help : "", FALSE);
    g_string_append_printf (out, "\n# TYPE %s %s\n", f->name, type_name (f->type));
    g_string_append_len (out, f->samples->str, (gssize) f->samples->len);
  }
  sf_metrics_writer_free (w);
  return g_string_free (out, FALSE);
}

char *
sf_metrics_render (SfEndpoint *ep)
{
  SfMetricsWriter *w = sf_metrics_writer_new ();
  const SfStats *s = sf_endpoint_stats (ep);
  sf_metrics_family (w, "sipflow_process_start_time_seconds", SF_METRIC_GAUGE,
                     "When the process started, in seconds since the Unix epoch.");
  sf_metrics_sample_double (w, (double) start_us / G_USEC_PER_SEC, NULL);
  sf_metrics_family (w, "sipflow_build_info", SF_METRIC_GAUGE, "Always 1: the version of sipflow running.");
  sf_metrics_sample (w, 1, "version", PACKAGE_VERSION, NULL);
  sf_metrics_family (w, "sipflow_instances", SF_METRIC_GAUGE,
                     "Machine instances live now (calls, transactions, registrations, proxy requests...).");
  sf_metrics_sample (w, sf_endpoint_n_instances (ep), NULL);
  sf_metrics_family (w, "sipflow_instances_created_total", SF_METRIC_COUNTER, "Machine instances created.");
  sf_metrics_sample (w, s->instances_created, NULL);
  sf_metrics_family (w, "sipflow_events_total", SF_METRIC_COUNTER,
                     "Events by what became of them: taken by an operator, untaken (nothing took it), dropped "
                     "(its instance was gone, or the queue was full).");
  sf_metrics_sample (w, s->events_taken, "outcome", "taken", NULL);
  sf_metrics_sample (w, s->events_untaken, "outcome", "untaken", NULL);
  sf_metrics_sample (w, s->events_dropped, "outcome", "dropped", NULL);
  sf_metrics_family (w, "sipflow_transitions_total", SF_METRIC_COUNTER, "State transitions.");
  sf_metrics_sample (w, s->transitions, NULL);
  sf_metrics_family (w, "sipflow_timers_fired_total", SF_METRIC_COUNTER, "Timers that fired.");
  sf_metrics_sample (w, s->timers_fired, NULL);
  sf_metrics_family (w, "sipflow_operator_errors_total", SF_METRIC_COUNTER, "Operators that returned an error.");
  sf_metrics_sample (w, s->op_errors, NULL);
  sf_modules_metrics (ep, w);
  return sf_metrics_writer_finish (w);
}
