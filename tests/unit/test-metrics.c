/* test-metrics.c: the Prometheus text exposition (framework/sf-metrics.h) and
 * the transport's counts by method and code (docs/operations.md, "Metrics").
 *  - format: HELP then TYPE then the samples of each family, families sorted
 *    by name, samples in the order written; a family written twice is one
 *    family with its first HELP; label values escape \\, " and newline, HELP
 *    text \\ and newline; a sample without labels has no braces; a gauge's
 *    double in the C locale;
 *  - histogram: cumulative buckets with their le, +Inf, _sum and _count;
 *  - labels: methods case-sensitive, "other" for every unknown token; a
 *    status code RFC 3261 names is itself, another its class;
 *  - bounded: 200 requests of distinct extension methods, injected into a
 *    transport, all land in the one "other" slot; what is sent is counted by
 *    its start line. */
#include "config.h"
#include "sf-test.h"
#include "framework/sf-metrics.h"
#include "sip/sf-sip-transport.h"
#include <string.h>

static void
format (void)
{
  SfMetricsWriter *w = sf_metrics_writer_new ();
  sf_metrics_family (w, "zz_things", SF_METRIC_GAUGE, "Things, with a \\ and a\nnewline.");
  sf_metrics_sample_double (w, 1.5, NULL);
  sf_metrics_family (w, "aa_requests_total", SF_METRIC_COUNTER, "Requests.");
  sf_metrics_sample (w, 7, "method", "INVITE", NULL);
  sf_metrics_sample (w, 3, "method", "a\"b\\c\nd", "code", "200", NULL);
  sf_metrics_family (w, "mm_live", SF_METRIC_GAUGE, "Live.");
  sf_metrics_sample (w, 0, NULL);
  sf_metrics_family (w, "aa_requests_total", SF_METRIC_COUNTER, "Another help, ignored.");
  sf_metrics_sample (w, 1, "method", "BYE", NULL);
  g_autofree char *text = sf_metrics_writer_finish (w);
  const char *want = "# HELP aa_requests_total Requests.\n"
                     "# TYPE aa_requests_total counter\n"
                     "aa_requests_total{method=\"INVITE\"} 7\n"
                     "aa_requests_total{method=\"a\\\"b\\\\c\\nd\",code=\"200\"} 3\n"
                     "aa_requests_total{method=\"BYE\"} 1\n"
                     "# HELP mm_live Live.\n"
                     "# TYPE mm_live gauge\n"
                     "mm_live 0\n"
                     "# HELP zz_things Things, with a \\\\ and a\\nnewline.\n"
                     "# TYPE zz_things gauge\n"
                     "zz_things 1.5\n";
  CU_ASSERT_STRING_EQUAL (text, want);
}

static void
histogram (void)
{
  SfMetricHistogram h = { 0 };
  sf_metric_histogram_observe (&h, 0.0001);  /* the first bucket */
  sf_metric_histogram_observe (&h, 0.0005);  /* le is inclusive: the first bucket too */
  sf_metric_histogram_observe (&h, 0.02);    /* 0.025 */
  sf_metric_histogram_observe (&h, 60);      /* over every bound */
  SfMetricsWriter *w = sf_metrics_writer_new ();
  sf_metrics_family (w, "x_seconds", SF_METRIC_HISTOGRAM, "X.");
  sf_metrics_histogram (w, &h, "operation", "write");
  g_autofree char *text = sf_metrics_writer_finish (w);
  CU_ASSERT_PTR_NOT_NULL (strstr (text, "# TYPE x_seconds histogram\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (text, "x_seconds_bucket{operation=\"write\",le=\"0.0005\"} 2\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (text, "x_seconds_bucket{operation=\"write\",le=\"0.01\"} 2\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (text, "x_seconds_bucket{operation=\"write\",le=\"0.025\"} 3\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (text, "x_seconds_bucket{operation=\"write\",le=\"2.5\"} 3\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (text, "x_seconds_bucket{operation=\"write\",le=\"+Inf\"} 4\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (text, "x_seconds_count{operation=\"write\"} 4\n"));
  CU_ASSERT_PTR_NOT_NULL (strstr (text, "x_seconds_sum{operation=\"write\"} 60.0206\n"));
  /* the buckets in order: +Inf last, then _sum, then _count */
  const char *inf = strstr (text, "le=\"+Inf\"");
  const char *sum = strstr (text, "x_seconds_sum");
  const char *count = strstr (text, "x_seconds_count");
  CU_ASSERT (inf != NULL && sum != NULL && count != NULL && inf < sum && sum < count);
}

static void
labels (void)
{
  CU_ASSERT_EQUAL (sf_sip_method_index ("INVITE", 6), SF_SIP_METHOD_INVITE);
  CU_ASSERT_EQUAL (sf_sip_method_index ("PUBLISH", 7), SF_SIP_METHOD_PUBLISH);
  CU_ASSERT_EQUAL (sf_sip_method_index ("invite", 6), SF_SIP_METHOD_OTHER); /* 7.1: case-sensitive */
  CU_ASSERT_EQUAL (sf_sip_method_index ("INVITEX", 7), SF_SIP_METHOD_OTHER);
  CU_ASSERT_EQUAL (sf_sip_method_index ("INV", 3), SF_SIP_METHOD_OTHER);
  CU_ASSERT_STRING_EQUAL (sf_sip_method_index_name (SF_SIP_METHOD_OTHER), "other");
  CU_ASSERT_STRING_EQUAL (sf_sip_method_index_name (SF_SIP_METHOD_BYE), "BYE");
  char l[4];
  sf_sip_status_label (486, l);
  CU_ASSERT_STRING_EQUAL (l, "486");
  sf_sip_status_label (100, l);
  CU_ASSERT_STRING_EQUAL (l, "100");
  sf_sip_status_label (499, l);
  CU_ASSERT_STRING_EQUAL (l, "4xx");
  sf_sip_status_label (199, l);
  CU_ASSERT_STRING_EQUAL (l, "1xx");
  sf_sip_status_label (699, l);
  CU_ASSERT_STRING_EQUAL (l, "6xx");
}

static void
on_recv (SfSipMsg *msg, const SfSipPeer *from, gpointer data)
{
  (*(guint *) data)++;
}

static void
bounded (void)
{
  guint n = 0;
  g_autoptr (GError) error = NULL;
  SfSipTransport *t = sf_sip_transport_new (NULL, on_recv, &n);
  g_autoptr (GInetSocketAddress) any = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string ("127.0.0.1", 0));
  g_autoptr (GInetSocketAddress) bound = NULL;
  CU_ASSERT_FATAL (sf_sip_transport_listen (t, SF_SIP_UDP, any, &bound, &error));
  SfSipPeer from = { SF_SIP_UDP, bound, bound, 0 };
  for (guint i = 0; i < 200; i++) {
    g_autofree char *req = g_strdup_printf ("X%u sip:b@127.0.0.1 SIP/2.0\r\n"
                                            "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%u\r\n"
                                            "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n"
                                            "Call-ID: c%u\r\nCSeq: 1 X%u\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                                            i, i, i, i);
    g_autoptr (GBytes) b = g_bytes_new (req, strlen (req));
    sf_sip_transport_inject (t, b, &from);
  }
  const char *inv = "INVITE sip:b@127.0.0.1 SIP/2.0\r\n"
                    "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKinv\r\n"
                    "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>\r\n"
                    "Call-ID: inv\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
  g_autoptr (GBytes) ib = g_bytes_new_static (inv, strlen (inv));
  sf_sip_transport_inject (t, ib, &from);
  CU_ASSERT_EQUAL (n, 201);
  const SfSipTransportStats *s = sf_sip_transport_stats (t);
  CU_ASSERT_EQUAL (s->requests_in[SF_SIP_METHOD_OTHER], 200);
  CU_ASSERT_EQUAL (s->requests_in[SF_SIP_METHOD_INVITE], 1);
  guint64 total = 0;
  for (guint i = 0; i < SF_SIP_N_METHODS; i++)
    total += s->requests_in[i];
  CU_ASSERT_EQUAL (total, 201);
  /* sent: counted by the start line, a response by its code */
  const char *resp = "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKinv\r\n"
                     "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: inv\r\n"
                     "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
  g_autoptr (GBytes) rb = g_bytes_new_static (resp, strlen (resp));
  CU_ASSERT (sf_sip_transport_send (t, SF_SIP_UDP, bound, 0, rb, &error));
  g_autoptr (GBytes) ob = g_bytes_new_static ("OPTIONS sip:b@127.0.0.1 SIP/2.0\r\n\r\n", 35);
  CU_ASSERT (sf_sip_transport_send (t, SF_SIP_UDP, bound, 0, ob, &error));
  CU_ASSERT_EQUAL (s->responses_out[486 - 100], 1);
  CU_ASSERT_EQUAL (s->requests_out[SF_SIP_METHOD_OPTIONS], 1);
  sf_sip_transport_free (t);
}

void
sf_test_register_metrics (void)
{
  CU_pSuite s = CU_add_suite ("metrics", NULL, NULL);
  SF_ADD_TEST (s, format);
  SF_ADD_TEST (s, histogram);
  SF_ADD_TEST (s, labels);
  SF_ADD_TEST (s, bounded);
}
