/* sf-txn-metrics.c: the transaction module's metric families
 * (docs/operations.md, "Metrics"), written at a scrape from the transport's
 * and the stack's counters: nothing here runs per message. */
#include "config.h"
#include "sf-stack-private.h"
#include "sip/sf-sip-build.h"
#include <string.h>

/* Requests by method: every known method, zeros included, so a rate is
 * defined from the first scrape. */
static void
by_method (SfMetricsWriter *w, const char *name, const char *help, const guint64 *n)
{
  sf_metrics_family (w, name, SF_METRIC_COUNTER, help);
  for (guint i = 0; i < SF_SIP_N_METHODS; i++)
    sf_metrics_sample (w, n[i], "method", sf_sip_method_index_name (i), NULL);
}

/* Responses by code (sf_sip_status_label: a code RFC 3261 names, else its
 * class): the codes seen only, the rest of the 600 slots would be noise. */
static void
by_code (SfMetricsWriter *w, const char *name, const char *help, const guint64 *n)
{
  sf_metrics_family (w, name, SF_METRIC_COUNTER, help);
  guint64 class_n[7] = { 0 };
  for (guint i = 0; i < SF_SIP_N_STATUS; i++) {
    if (n[i] == 0)
      continue;
    char label[4];
    sf_sip_status_label (i + 100, label);
    if (label[1] == 'x')
      class_n[(i + 100) / 100] += n[i];
    else
      sf_metrics_sample (w, n[i], "code", label, NULL);
  }
  for (guint c = 1; c <= 6; c++)
    if (class_n[c] > 0) {
      char label[4] = { (char) ('0' + c), 'x', 'x', '\0' };
      sf_metrics_sample (w, class_n[c], "code", label, NULL);
    }
}

void
sf_stack_count_call (SfStack *s, gboolean incoming, gboolean answered, gboolean cancelled, guint status)
{
  SfStackStat base = incoming ? SF_STACK_STAT_CALLS_IN_ANSWERED : SF_STACK_STAT_CALLS_OUT_ANSWERED;
  guint off = answered ? 0 : cancelled ? 2 : status >= 300 ? 1 : 3;
  sf_stack_count (s, (SfStackStat) (base + off));
}

void
sf_stack_metrics (SfStack *s, SfMetricsWriter *w)
{
  const SfSipTransportStats *t = sf_sip_transport_stats (s->tp);
  const SfStackStats *st = &s->stats;
  by_method (w, "sipflow_sip_requests_received_total", "SIP requests received, by method (other: any method sipflow does not know).",
             t->requests_in);
  by_method (w, "sipflow_sip_requests_sent_total", "SIP requests sent, by method, retransmissions included.", t->requests_out);
  by_code (w, "sipflow_sip_responses_received_total",
           "SIP responses received, by code (a code RFC 3261 does not name: its class, 4xx).", t->responses_in);
  by_code (w, "sipflow_sip_responses_sent_total", "SIP responses sent, by code, retransmissions included.", t->responses_out);
  sf_metrics_family (w, "sipflow_sip_parse_errors_total", SF_METRIC_COUNTER,
                     "Messages that could not be parsed or were invalid: answered 400, or dropped (no answer possible).");
  sf_metrics_sample (w, t->bad_requests, "outcome", "answered_400", NULL);
  sf_metrics_sample (w, t->dropped, "outcome", "dropped", NULL);
  sf_metrics_family (w, "sipflow_sip_send_errors_total", SF_METRIC_COUNTER, "Messages that could not be sent.");
  sf_metrics_sample (w, t->send_errors, NULL);

  /* transactions live, by machine: one pass over the instances */
  guint n[4] = { 0 };
  g_autoptr (GPtrArray) all = sf_endpoint_instances (s->ep);
  for (guint i = 0; i < all->len; i++) {
    SfMachine *m = sf_instance_machine (all->pdata[i]);
    n[0] += m == s->ict, n[1] += m == s->ist, n[2] += m == s->nict, n[3] += m == s->nist;
  }
  sf_metrics_family (w, "sipflow_transactions", SF_METRIC_GAUGE,
                     "SIP transactions live now, by machine: ict, ist (INVITE client, server), nict, nist (non-INVITE).");
  sf_metrics_sample (w, n[0], "machine", "ict", NULL);
  sf_metrics_sample (w, n[1], "machine", "ist", NULL);
  sf_metrics_sample (w, n[2], "machine", "nict", NULL);
  sf_metrics_sample (w, n[3], "machine", "nist", NULL);
  sf_metrics_family (w, "sipflow_transactions_created_total", SF_METRIC_COUNTER, "SIP transactions created (client and server).");
  sf_metrics_sample (w, st->transactions, NULL);

  sf_metrics_family (w, "sipflow_sip_retransmissions_sent_total", SF_METRIC_COUNTER,
                     "Requests and responses sent again (Timers A, E, G; a 2xx until its ACK).");
  sf_metrics_sample (w, st->retransmissions_sent, NULL);
  sf_metrics_family (w, "sipflow_sip_retransmissions_received_total", SF_METRIC_COUNTER,
                     "Retransmissions received and absorbed by their transaction.");
  sf_metrics_sample (w, st->retransmissions_absorbed, NULL);
  sf_metrics_family (w, "sipflow_transaction_timeouts_total", SF_METRIC_COUNTER,
                     "Transactions ended by a timer: B (INVITE client), F (non-INVITE client), H (no ACK for a final "
                     "response), other (a flow's own timer).");
  sf_metrics_sample (w, st->timeouts_b, "timer", "B", NULL);
  sf_metrics_sample (w, st->timeouts_f, "timer", "F", NULL);
  sf_metrics_sample (w, st->timeouts_h, "timer", "H", NULL);
  sf_metrics_sample (w, st->timeouts - MIN (st->timeouts, st->timeouts_b + st->timeouts_f + st->timeouts_h), "timer", "other",
                     NULL);
  sf_metrics_family (w, "sipflow_transaction_failures_total", SF_METRIC_COUNTER,
                     "Transactions ended otherwise than by their final response: transport (a send failed), guard "
                     "(a request the flow never answered, answered 500).");
  sf_metrics_sample (w, st->transport_errors, "reason", "transport", NULL);
  sf_metrics_sample (w, st->guarded, "reason", "guard", NULL);

  sf_metrics_family (w, "sipflow_sip_requests_dropped_total", SF_METRIC_COUNTER,
                     "Requests not served: rate_limit (dropped: the source over sip.rate_limit), overload (503: "
                     "sip.max_instances or the source's share), shutdown (503 while stopping), refused (by policy: "
                     "relaying, tokens, a registrar's or proxy's refusal), stray_ack (an ACK for nothing).");
  sf_metrics_sample (w, st->rate_limited, "reason", "rate_limit", NULL);
  sf_metrics_sample (w, st->overloaded, "reason", "overload", NULL);
  sf_metrics_sample (w, st->shutdown_refused, "reason", "shutdown", NULL);
  sf_metrics_sample (w, st->refused, "reason", "refused", NULL);
  sf_metrics_sample (w, st->stray_acks, "reason", "stray_ack", NULL);
  sf_metrics_family (w, "sipflow_sip_responses_dropped_total", SF_METRIC_COUNTER,
                     "Responses that matched no client transaction (a proxy forwards some statelessly).");
  sf_metrics_sample (w, st->stray_responses, NULL);
  sf_metrics_family (w, "sipflow_rate_limit_sources_evicted_total", SF_METRIC_COUNTER,
                     "Sources sip.rate_limit forgot to make room (the least recently seen).");
  sf_metrics_sample (w, st->rate_evicted, NULL);
  sf_metrics_family (w, "sipflow_sip_stateless_answers_total", SF_METRIC_COUNTER,
                     "Responses sent without a transaction (8.2.7: refusals, 503s, 481 to an unknown CANCEL).");
  sf_metrics_sample (w, st->stateless, NULL);

  sf_metrics_family (w, "sipflow_dns_lookups", SF_METRIC_GAUGE, "RFC 3263 lookups (NAPTR, SRV, A/AAAA) in flight now.");
  sf_metrics_sample (w, s->lookups_running, NULL);
  sf_metrics_family (w, "sipflow_dns_lookups_refused_total", SF_METRIC_COUNTER,
                     "Requests to a name failed at once: SF_STACK_MAX_LOOKUPS (1024) lookups were in flight.");
  sf_metrics_sample (w, st->lookups_refused, NULL);

  sf_metrics_family (w, "sipflow_tcp_connections", SF_METRIC_GAUGE, "SIP TCP connections open now (accepted and opened).");
  sf_metrics_sample (w, sf_sip_transport_n_conns (s->tp), NULL);
  sf_metrics_family (w, "sipflow_tcp_connections_closed_total", SF_METRIC_COUNTER,
                     "TCP connections sipflow closed: refused (over a connection limit when accepted), idle "
                     "(sip.tcp_idle), stalled (sip.tcp_stall), ws_refused (a WebSocket upgrade refused: no sip "
                     "subprotocol, an Origin not allowed).");
  sf_metrics_sample (w, t->tcp_refused, "reason", "refused", NULL);
  sf_metrics_sample (w, t->tcp_closed_idle, "reason", "idle", NULL);
  sf_metrics_sample (w, t->tcp_closed_stalled, "reason", "stalled", NULL);
  sf_metrics_sample (w, t->ws_refused, "reason", "ws_refused", NULL);

  /* a UA's calls (the ua module counts them here: it keeps no state of its own) */
  if (st->calls_ended > 0 || st->calls_answered > 0 || strcmp (s->tu->scope, "call") == 0) {
    static const char *const outcomes[] = { "answered", "rejected", "cancelled", "failed" };
    sf_metrics_family (w, "sipflow_calls_total", SF_METRIC_COUNTER,
                       "A user agent's calls that ended, by direction and outcome: answered (it went up), rejected (a "
                       "final response >= 300), cancelled, failed (no final response: timeout, transport, media, "
                       "shutdown).");
    for (guint i = 0; i < 4; i++)
      sf_metrics_sample (w, st->n[SF_STACK_STAT_CALLS_IN_ANSWERED + i], "direction", "incoming", "outcome", outcomes[i], NULL);
    for (guint i = 0; i < 4; i++)
      sf_metrics_sample (w, st->n[SF_STACK_STAT_CALLS_OUT_ANSWERED + i], "direction", "outgoing", "outcome", outcomes[i], NULL);
  }
}
