/* sf-op-txn.c: operators of the server transaction machines (RFC 3261 17.2,
 * Figures 7 and 8, with RFC 6026's Accepted state), run from
 * xml/transaction/ist.xml and nist.xml.  A server transaction instance keeps
 * its request and its last response; the transaction user (the call) hands it
 * responses as txn:respond events. */
#include "config.h"
#include "sipflow/sf-operator.h"
#include "sf-stack-private.h"
#include "operators/transaction/sf-txn-answers.h"
#include "sip/sf-sip-build.h"
#include <string.h>

static void notify_tu (SfCtx *ctx, const char *what);

/* What the instance keeps (SfTxnInstance), NULL when it has not. */
static SfSipEvent *
request_of (SfCtx *ctx)
{
  SfTxnInstance *t = sf_txn_inst_peek (ctx);
  return t != NULL ? t->request : NULL;
}

/* Whether a response went out (the last one kept, or the final one's bytes). */
static gboolean
answered (SfCtx *ctx)
{
  SfTxnInstance *t = sf_txn_inst_peek (ctx);
  return t != NULL && (t->last != NULL || t->kept != NULL);
}

static SfClientTxn *
client_of (SfCtx *ctx)
{
  SfTxnInstance *t = sf_txn_inst_peek (ctx);
  return t != NULL ? t->client : NULL;
}

/* Keeps a ref to @msg in *@field, dropping the one there. */
static void
keep (SfSipMsg **field, SfSipMsg *msg)
{
  SfSipMsg *old = *field;
  *field = sf_sip_msg_ref (msg);
  if (old != NULL)
    sf_sip_msg_unref (old);
}

/* What a server transaction keeps once its final response went out over UDP:
 * the bytes of its request and of that response, in one allocation. */
struct _SfTxnKept {
  guint req_len;   /* 0: no request bytes */
  guint resp_len;
  char bytes[];    /* the request's, then the response's */
};

/* A final response sent: kept for the retransmissions of the request.  Over
 * UDP the transaction stays until Timer J (64*T1) or H, I, L, long after
 * anything but a retransmission needs it, and a parsed message costs three to
 * four times its bytes (its header table and per-kind caches; a message from
 * the wire a 4 KB block): the request and the response are kept as bytes only
 * (SfTxnKept), the messages left to whoever else holds them, and parsed again
 * on the rare path that reads them (a retransmitted request, Timer G, a
 * timeout or transport error told to the TU).  The request's peer stays (the
 * response goes where the transport sent it the first time: its Via, from
 * that peer's socket).  Over TCP and TLS the transaction ends at once. */
static void
keep_final (SfCtx *ctx, SfSipEvent *req, SfSipMsg *resp)
{
  SfTxnInstance *t = sf_txn_inst (ctx);
  sf_stack_workers_final (sf_stack_from_ctx (ctx), req->msg, req->txn, resp); /* a claim's call may end here */
  if (sf_sip_proto_is_stream (req->peer.proto)) {
    keep (&t->last, resp);
    return;
  }
  g_autoptr (GBytes) rb = NULL;
  gsize req_len = 0;
  const char *rd = NULL;
  if (req->msg != NULL) {
    rb = sf_sip_msg_serialize (req->msg);
    rd = g_bytes_get_data (rb, &req_len);
  } else if (t->kept != NULL) {
    rd = t->kept->bytes; /* a second final response (the guard's 500 cannot follow one: safe either way) */
    req_len = t->kept->req_len;
  }
  g_autoptr (GBytes) sb = sf_sip_msg_serialize (resp);
  gsize resp_len;
  const char *sd = g_bytes_get_data (sb, &resp_len);
  SfTxnKept *k = g_malloc (G_STRUCT_OFFSET (SfTxnKept, bytes) + req_len + resp_len);
  k->req_len = (guint) req_len;
  k->resp_len = (guint) resp_len;
  if (req_len > 0)
    memcpy (k->bytes, rd, req_len);
  memcpy (k->bytes + req_len, sd, resp_len);
  g_free (t->kept);
  t->kept = k;
  g_clear_pointer (&t->last, sf_sip_msg_unref);
  g_clear_pointer (&req->msg, sf_sip_msg_unref);
}

/* Bytes of t->kept parsed again (transfer full), NULL when there are none.
 * They parsed when they were kept: a failure here is a bug, said so. */
static SfSipMsg *
parse_kept (const char *data, gsize len)
{
  if (len == 0)
    return NULL;
  g_autoptr (GBytes) b = g_bytes_new (data, len);
  g_autoptr (GError) error = NULL;
  SfSipMsg *m = sf_sip_msg_parse (b, &error);
  if (m == NULL)
    g_warning ("a kept message does not parse again: %s", error->message);
  return m;
}

/* The transaction's request (transfer full), NULL when it has none. */
static SfSipMsg *
request_msg (SfTxnInstance *t)
{
  if (t == NULL || t->request == NULL)
    return NULL;
  if (t->request->msg != NULL)
    return sf_sip_msg_ref (t->request->msg);
  return t->kept != NULL ? parse_kept (t->kept->bytes, t->kept->req_len) : NULL;
}

/* The last response sent (transfer full), NULL when none went out. */
static SfSipMsg *
last_msg (SfTxnInstance *t)
{
  if (t == NULL)
    return NULL;
  if (t->last != NULL)
    return sf_sip_msg_ref (t->last);
  return t->kept != NULL ? parse_kept (t->kept->bytes + t->kept->req_len, t->kept->resp_len) : NULL;
}

/* The first request: kept, handed to the transaction user. */
static SfOpResult
sf_op_txn_request (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (e == NULL || request_of (ctx) != NULL)
    return SF_OP_SKIP;
  sf_txn_inst (ctx)->request = sf_sip_event_new (e->msg, &e->peer, e->txn);
  sf_stack_workers_begin (sf_stack_from_ctx (ctx), e->msg, e->txn); /* an INVITE's claim is its call's */
  sf_stack_to_tu (sf_stack_from_ctx (ctx), e);
  return SF_OP_TRANSITION;
}

/* The last response again; a send that fails comes back as txn:transport_error,
 * which ends the transaction and tells its user (17.2.4; the flows map it in
 * Completed, RFC 3261 Figures 7 and 8). */
static void
resend_last (SfCtx *ctx, SfStack *s, SfSipEvent *req)
{
  g_autoptr (SfSipMsg) last = last_msg (sf_txn_inst_peek (ctx));
  if (last == NULL)
    return;
  if (sf_stack_send_response_by (s, sf_ctx_instance (ctx), last, &req->peer))
    sf_stack_count (s, SF_STACK_STAT_RETRANSMISSIONS_SENT);
  else
    sf_ctx_post_self (ctx, sf_event_new (SF_EV_TXN, "transport_error", NULL));
}

/* A retransmitted request: absorbed; the last response goes out again (17.2.1, 17.2.2). */
static SfOpResult
sf_op_txn_retransmission (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *req = request_of (ctx);
  if (req == NULL || strcmp (ev->name, "ACK") == 0)
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  sf_stack_count (s, SF_STACK_STAT_RETRANSMISSIONS_ABSORBED);
  resend_last (ctx, s, req);
  return SF_OP_DONE;
}

/* RFC 6026 Accepted: an ACK that reaches the INVITE server transaction (an RFC
 * 2543 client's ACK for the 2xx: no magic cookie, so its key is the INVITE's)
 * is the TU's, which would otherwise never have it and hang up for want of it. */
static SfOpResult
sf_op_txn_pass_ack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "ACK") != 0 || e == NULL || e->msg == NULL)
    return SF_OP_SKIP;
  sf_stack_to_tu (sf_stack_from_ctx (ctx), e);
  return SF_OP_DONE;
}

static SfOpResult
sf_op_txn_ack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return strcmp (ev->name, "ACK") == 0 ? SF_OP_TRANSITION : SF_OP_SKIP;
}

static const char *const respond_outcomes[] = { "provisional", "success", "failure", NULL };

/* A response from the TU: sent, kept; its class picks the outcome. */
static SfOpResult
sf_op_txn_respond (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfSipEvent *req = request_of (ctx);
  if (strcmp (ev->name, "respond") != 0 || e == NULL || e->msg == NULL || req == NULL)
    return SF_OP_SKIP;
  if (!sf_stack_send_response_by (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), e->msg, &req->peer)) {
    notify_tu (ctx, "transport_error"); /* 17.2.4; the flow maps "error" to Terminated */
    return SF_OP_ERROR;
  }
  guint status = sf_sip_msg_status (e->msg);
  if (status >= 200)
    keep_final (ctx, req, e->msg);
  else
    keep (&sf_txn_inst (ctx)->last, e->msg);
  return SF_OP_OUTCOME (status < 200 ? 0 : status < 300 ? 1 : 2);
}

/* RFC 6026 Accepted: the TU's 2xx retransmissions go out; nothing changes. */
static SfOpResult
sf_op_txn_forward_2xx (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  SfSipEvent *req = request_of (ctx);
  if (strcmp (ev->name, "respond") != 0 || e == NULL || e->msg == NULL || req == NULL)
    return SF_OP_SKIP;
  guint status = sf_sip_msg_status (e->msg);
  if (status < 200 || status >= 300)
    return SF_OP_DONE; /* a final response was sent already: others are dropped (17.2.1) */
  sf_stack_send_response_by (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), e->msg, &req->peer);
  return SF_OP_DONE;
}

/* 17.2.1: 100 Trying for an INVITE, unless a response went out already.
 * Without ARG at once (an entry queue); with ARG on timer ARG, which the flow
 * starts for 200 ms: the TU that answers within it sends no 100 (17.2.1 lets
 * a server transaction omit it then; 16.2 a stateful proxy alike).  A timer
 * that fires after a response is taken and dropped. */
static SfOpResult
sf_op_txn_send_100 (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (arg != NULL && (ev->kind != SF_EV_TIMER || strcmp (ev->name, arg) != 0))
    return SF_OP_SKIP;
  SfSipEvent *req = request_of (ctx);
  if (req == NULL || answered (ctx))
    return arg != NULL ? SF_OP_DONE : SF_OP_SKIP;
  g_autoptr (SfSipMsg) r = sf_sip_create_response (req->msg, 100, NULL, NULL, NULL);
  if (r == NULL || !sf_stack_send_response_by (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), r, &req->peer))
    return SF_OP_ERROR;
  keep (&sf_txn_inst (ctx)->last, r);
  return arg != NULL ? SF_OP_DONE : SF_OP_CONTINUE;
}

/* ---- timers ---- */

typedef struct {
  char *name;
  guint mult;       /* of the base */
  char base;        /* '1', '2', '4' (T1, T2, T4) or 0 for a fixed ms */
  guint ms;
  gboolean udp_only;   /* not started on reliable transports (retransmissions) */
  gboolean zero_reliable; /* zero on reliable transports (Timers I, J) */
} TimerSpec;

static void
timer_spec_free (gpointer p)
{
  TimerSpec *t = p;
  g_free (t->name);
  g_free (t);
}

/* "G=T1;udp", "H=64*T1", "J=64*T1;reliable0", "L=64*T1", "X=200ms" */
static gboolean
fixup_txn_timer (const char *text, gpointer *out, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ";", 2);
  const char *eq = strchr (parts[0], '=');
  TimerSpec *t = g_new0 (TimerSpec, 1);
  gboolean ok = eq != NULL && eq > parts[0];
  if (ok) {
    t->name = g_strndup (parts[0], (gsize) (eq - parts[0]));
    ok = sf_op_name_valid (t->name);
  }
  if (ok) {
    const char *e = eq + 1;
    char *end = NULL;
    t->mult = 1;
    if (g_ascii_isdigit (*e)) {
      guint64 n = g_ascii_strtoull (e, &end, 10);
      if (*end == '*') {
        t->mult = (guint) MIN (n, 1000);
        e = end + 1;
      } else if (strcmp (end, "ms") == 0 && n <= 600000) {
        t->ms = (guint) n;
        e = NULL;
      } else {
        ok = FALSE;
      }
    }
    if (ok && e != NULL) {
      if (e[0] == 'T' && (e[1] == '1' || e[1] == '2' || e[1] == '4') && e[2] == '\0')
        t->base = e[1];
      else
        ok = FALSE;
    }
  }
  if (ok && parts[1] != NULL) {
    if (strcmp (parts[1], "udp") == 0)
      t->udp_only = TRUE;
    else if (strcmp (parts[1], "reliable0") == 0)
      t->zero_reliable = TRUE;
    else
      ok = FALSE;
  }
  if (!ok) {
    timer_spec_free (t);
    g_set_error (error, SF_OP_ARG_ERROR, 0,
                 "expected NAME=[N*]T1|T2|T4 or NAME=Nms, then ';udp' or ';reliable0', got '%s'", text);
    return FALSE;
  }
  *out = t;
  return TRUE;
}

static SfOpResult
sf_op_txn_start_timer (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  const TimerSpec *t = arg;
  SfSipEvent *req = request_of (ctx);
  SfClientTxn *client = client_of (ctx);
  gboolean reliable = (req != NULL && sf_sip_proto_is_stream (req->peer.proto)) ||
                      (client != NULL && sf_sip_proto_is_stream (client->proto));
  if (reliable && t->udp_only)
    return SF_OP_CONTINUE;
  SfStack *s = sf_stack_from_ctx (ctx);
  guint64 ms = t->base != 0 ? (guint64) t->mult * sf_stack_timer_ms (s, t->base) : t->ms;
  if (reliable && t->zero_reliable)
    ms = 0;
  sf_stack_backoff_start (ctx, t->name, (guint) ms);
  return SF_OP_CONTINUE;
}

/* Timer G (and the like): the last response again, the interval doubled up to T2 (17.2.1). */
static SfOpResult
sf_op_txn_resend (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, arg) != 0)
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  SfSipEvent *req = request_of (ctx);
  if (req != NULL)
    resend_last (ctx, s, req);
  sf_stack_backoff (ctx, arg, TRUE);
  return SF_OP_DONE;
}

/* Tells the transaction user (the parent of a client transaction, or the call a
 * server transaction handed its request to) of a failure. */
static void
notify_tu (SfCtx *ctx, const char *what)
{
  /* The payload is the transaction's request, so a TU with several transactions
   * knows which one failed (OpRequestFailed). */
  SfClientTxn *client = client_of (ctx);
  SfSipMsg *msg = client != NULL ? sf_sip_msg_ref (client->req) : request_msg (sf_txn_inst_peek (ctx));
  SfEvent *ev = sf_event_new_full (SF_EV_TXN, what, sf_ctx_handle (ctx), msg,
                                   msg != NULL ? (GDestroyNotify) sf_sip_msg_unref : NULL);
  if (sf_instance_parent (sf_ctx_instance (ctx)) != NULL) {
    sf_ctx_post_parent (ctx, ev);
    return;
  }
  SfTxnInstance *t = sf_txn_inst_peek (ctx);
  const char *tu = t != NULL ? t->tu : NULL;
  SfInstance *inst = tu != NULL ? sf_endpoint_lookup_handle (sf_ctx_endpoint (ctx), tu) : NULL;
  if (inst != NULL)
    sf_endpoint_post (sf_ctx_endpoint (ctx), inst, ev);
  else
    sf_event_unref (ev);
}

/* Timers B, F, H: the transaction timed out (17.1.1.2, 17.1.2.2, 17.2.1); the TU hears txn:timeout. */
static SfOpResult
sf_op_txn_timeout (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, arg) != 0)
    return SF_OP_SKIP;
  g_info ("%s: timer %s fired: transaction timed out", sf_ctx_handle (ctx), (const char *) arg);
  SfStack *s = sf_stack_from_ctx (ctx);
  sf_stack_count (s, SF_STACK_STAT_TIMEOUTS);
  if (strcmp (arg, "B") == 0 || strcmp (arg, "F") == 0 || strcmp (arg, "H") == 0) /* a flow's own timers count in the total only */
    sf_stack_count (s, strcmp (arg, "B") == 0 ? SF_STACK_STAT_TIMEOUTS_B : strcmp (arg, "F") == 0 ? SF_STACK_STAT_TIMEOUTS_F
                                                                                                 : SF_STACK_STAT_TIMEOUTS_H);
  notify_tu (ctx, "timeout");
  return SF_OP_TRANSITION;
}

/* The guard timer: a server transaction whose transaction user never answers
 * (it failed, or could build no response: a request near the size limit) would
 * stay in Trying or Proceeding for ever, since RFC 3261 gives those states no
 * timer.  When timer ARG fires there: 500 if one can be built (8.2.6; outcome
 * answered: Completed, so retransmissions get it again and an INVITE its ACK),
 * else nothing (a plain transition: Terminated); the TU hears txn:timeout either
 * way.  An INVITE that has sent a provisional response other than 100 is
 * exempt: a ringing call is governed by the TU's own timers (13.3.1.1), and the
 * timer is taken and dropped.  The duration is the flow's (docs/sip.md). */
static const char *const guard_outcomes[] = { "answered", NULL };

static SfOpResult
sf_op_txn_guard (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  if (strcmp (ev->name, arg) != 0)
    return SF_OP_SKIP;
  SfSipEvent *req = request_of (ctx);
  SfTxnInstance *t = sf_txn_inst_peek (ctx);
  if (t != NULL && t->kept != NULL)
    return SF_OP_DONE; /* a final response went out (a flow that leaves the guard running) */
  SfSipMsg *last = t != NULL ? t->last : NULL;
  if (req != NULL && last != NULL && sf_sip_msg_status (last) > 100 && sf_sip_str_eq (sf_sip_msg_method (req->msg), "INVITE"))
    return SF_OP_DONE; /* a ringing INVITE (13.3.1.1) */
  SfStack *s = sf_stack_from_ctx (ctx);
  g_info ("%s: timer %s fired: no final response from the transaction user", sf_ctx_handle (ctx), (const char *) arg);
  sf_stack_count (s, SF_STACK_STAT_GUARDED);
  notify_tu (ctx, "timeout");
  if (req == NULL)
    return SF_OP_TRANSITION;
  g_autoptr (SfSipMsg) r = sf_txn_answers_build (sf_txn_answers_default (), req->msg, 500);
  if (r == NULL || !sf_stack_send_response_by (s, sf_ctx_instance (ctx), r, &req->peer))
    return SF_OP_TRANSITION;
  keep_final (ctx, req, r);
  return SF_OP_OUTCOME (0);
}

/* ---- client transactions (17.1) ---- */

static SfOpResult
sf_op_txn_send_request (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfClientTxn *c = client_of (ctx);
  if (c == NULL)
    return SF_OP_ERROR;
  if (!sf_stack_send_request_by (sf_stack_from_ctx (ctx), sf_ctx_instance (ctx), c->req, c->proto, c->dest))
    sf_ctx_post_self (ctx, sf_event_new (SF_EV_TXN, "transport_error", NULL));
  return SF_OP_CONTINUE;
}

/* Timers A and E: the request again, the interval doubled (capped at T2 unless
 * ';nocap': Timer A, 17.1.1.2). */
static SfOpResult
sf_op_txn_retransmit_request (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  g_auto (GStrv) parts = g_strsplit (arg, ";", 2);
  if (strcmp (ev->name, parts[0]) != 0)
    return SF_OP_SKIP;
  SfClientTxn *c = client_of (ctx);
  SfStack *s = sf_stack_from_ctx (ctx);
  if (c != NULL && sf_stack_send_request_by (s, sf_ctx_instance (ctx), c->req, c->proto, c->dest))
    sf_stack_count (s, SF_STACK_STAT_RETRANSMISSIONS_SENT);
  sf_stack_backoff (ctx, parts[0], parts[1] == NULL);
  return SF_OP_DONE;
}

static gboolean
fixup_retransmit (const char *text, gpointer *out, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ";", 2);
  if (!sf_op_name_valid (parts[0]) || (parts[1] != NULL && strcmp (parts[1], "nocap") != 0)) {
    g_set_error (error, SF_OP_ARG_ERROR, 0, "expected a timer name, then optionally ';nocap', got '%s'", text);
    return FALSE;
  }
  *out = g_strdup (text);
  return TRUE;
}

static void
to_parent (SfCtx *ctx, SfEvent *ev)
{
  SfSipEvent *e = ev->payload;
  /* the status as arg: a trace reads "sip:response 180" */
  char status[24];
  sf_sip_uint_text (status, sf_sip_msg_status (e->msg));
  sf_ctx_post_parent (ctx, sf_event_new_full (SF_EV_SIP, "response", status, sf_sip_event_new (e->msg, &e->peer, sf_ctx_handle (ctx)),
                                              (GDestroyNotify) sf_sip_event_free));
}

/* A final response (@status) came: the request is not sent again, and the
 * transaction lives on (Timer D, K or M: up to 64*T1) for the key and the
 * ACK built from it.  A message parsed into its 4 KB block is kept as a
 * compact copy instead (sf_sip_msg_compact: values parsed again when read);
 * the TU's ref, if it keeps one, stays as it was.  Over TCP and TLS only an
 * INVITE's 2xx leaves it living (Timer M; D and K are 0 there): no copy else. */
static void
compact_request (SfCtx *ctx, guint status)
{
  SfClientTxn *c = client_of (ctx);
  if (c == NULL || c->req == NULL)
    return;
  if (sf_sip_proto_is_stream (c->proto) && (status >= 300 || !sf_sip_str_eq (sf_sip_msg_method (c->req), "INVITE")))
    return;
  SfSipMsg *old = c->req;
  c->req = sf_sip_msg_compact (old);
  sf_sip_msg_unref (old);
}

/* A response: to the transaction user; its class picks the outcome. */
static SfOpResult
sf_op_txn_response (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "response") != 0 || e == NULL || sf_sip_msg_is_request (e->msg))
    return SF_OP_SKIP;
  to_parent (ctx, ev);
  guint status = sf_sip_msg_status (e->msg);
  if (status >= 300)
    keep (&sf_txn_inst (ctx)->final, e->msg);
  if (status >= 200)
    compact_request (ctx, status);
  return SF_OP_OUTCOME (status < 200 ? 0 : status < 300 ? 1 : 2);
}

/* 17.1.1.3: the ACK for the non-2xx final response, sent and kept. */
static SfOpResult
sf_op_txn_send_ack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfTxnInstance *t = sf_txn_inst_peek (ctx);
  SfClientTxn *c = t != NULL ? t->client : NULL;
  SfSipMsg *final = t != NULL ? t->final : NULL;
  if (c == NULL || final == NULL)
    return SF_OP_ERROR;
  g_autoptr (SfSipMsg) ack = sf_sip_create_ack (c->req, final, NULL);
  if (ack == NULL)
    return SF_OP_ERROR;
  sf_stack_send_request (sf_stack_from_ctx (ctx), ack, c->proto, c->dest);
  keep (&t->ack, ack);
  return SF_OP_CONTINUE;
}

/* Completed: a retransmitted final response gets the ACK again, and goes no further. */
static SfOpResult
sf_op_txn_resend_ack (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfTxnInstance *t = sf_txn_inst_peek (ctx);
  SfClientTxn *c = t != NULL ? t->client : NULL;
  SfSipMsg *ack = t != NULL ? t->ack : NULL;
  if (strcmp (ev->name, "response") != 0 || c == NULL || ack == NULL)
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  if (sf_stack_send_request (s, ack, c->proto, c->dest))
    sf_stack_count (s, SF_STACK_STAT_RETRANSMISSIONS_SENT);
  return SF_OP_DONE;
}

/* RFC 6026 Accepted: every 2xx (a retransmission, or another fork's) goes to the TU. */
static SfOpResult
sf_op_txn_pass_2xx (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfSipEvent *e = ev->payload;
  if (strcmp (ev->name, "response") != 0 || e == NULL)
    return SF_OP_SKIP;
  guint status = sf_sip_msg_status (e->msg);
  if (status >= 200 && status < 300)
    to_parent (ctx, ev);
  return SF_OP_DONE;
}

/* A send failed: counted, the TU told; @then (a transition, or none). */
static SfOpResult
transport_error (SfCtx *ctx, SfEvent *ev, SfOpResult then)
{
  if (strcmp (ev->name, "transport_error") != 0)
    return SF_OP_SKIP;
  sf_stack_count (sf_stack_from_ctx (ctx), SF_STACK_STAT_TRANSPORT_ERRORS);
  notify_tu (ctx, "transport_error");
  return then;
}

static SfOpResult
sf_op_txn_transport_error (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return transport_error (ctx, ev, SF_OP_TRANSITION);
}

/* RFC 6026 7.1, for the INVITE server transaction in Accepted: "A server
 * transaction MUST NOT discard transaction state based only on encountering a
 * non-recoverable transport error when sending a response.  Instead, the
 * associated INVITE server transaction state machine MUST remain in its
 * current state.  (Timers will eventually cause it to transition to the
 * "Terminated" state)."  Its Figure 5 draws Accepted's "Transport Err. /
 * Inform TU" as a loop.  A 2xx sent at the end of the turn fails after the
 * transaction entered Accepted: the TU hears it, and Timer L still ends the
 * transaction (it absorbs the INVITE's retransmissions until then). */
static SfOpResult
sf_op_txn_inform_transport_error (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  return transport_error (ctx, ev, SF_OP_DONE);
}

/* RFC 3263 4.3: the request could not reach its target (a transport error,
 * Timer B or F) or the target answered 503 (treated as a failure to reach it):
 * it goes to the next target the location found, through a new client
 * transaction of the same TU with a new branch (sf_stack_failover, a
 * 'failover' event), and this one ends without telling its TU (transitions;
 * on a 503 an INVITE's to Completed, which ACKs it, 17.1.1.3).  Skips when no
 * target is left, so the next operator tells the TU as before. */
static SfOpResult
sf_op_txn_failover (SfCtx *ctx, SfEvent *ev, gconstpointer arg)
{
  SfClientTxn *c = client_of (ctx);
  if (c == NULL || c->targets == NULL || c->targets->len == 0)
    return SF_OP_SKIP;
  SfSipEvent *e = ev->kind == SF_EV_SIP ? ev->payload : NULL;
  if (ev->kind == SF_EV_SIP && (e == NULL || sf_sip_msg_is_request (e->msg) || sf_sip_msg_status (e->msg) != 503))
    return SF_OP_SKIP;
  SfStack *s = sf_stack_from_ctx (ctx);
  const char *why = ev->kind == SF_EV_SIP ? "503" : ev->kind == SF_EV_TIMER ? "timeout" : "transport_error";
  if (!sf_stack_failover (s, sf_ctx_instance (ctx), why))
    return SF_OP_SKIP;
  if (e != NULL)
    keep (&sf_txn_inst (ctx)->final, e->msg); /* Completed ACKs it */
  else
    sf_stack_count (s, ev->kind == SF_EV_TIMER ? SF_STACK_STAT_TIMEOUTS : SF_STACK_STAT_TRANSPORT_ERRORS);
  if (ev->kind == SF_EV_TIMER && (strcmp (ev->name, "B") == 0 || strcmp (ev->name, "F") == 0))
    sf_stack_count (s, strcmp (ev->name, "B") == 0 ? SF_STACK_STAT_TIMEOUTS_B : SF_STACK_STAT_TIMEOUTS_F);
  return SF_OP_TRANSITION;
}

const SfOperatorDef sf_op_txn_table[] = {
  { "OpTxnRequest", sf_op_txn_request, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes the transaction's first request, keeps it and hands it to the transaction user (17.2)",
    "sip", NULL, "RFC 3261 17.2.1, 17.2.2" },
  { "OpTxnRetransmission", sf_op_txn_retransmission, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "absorbs a retransmitted request (not ACK) and sends the last response again (17.2.1, 17.2.2)",
    "sip", NULL, "RFC 3261 17.2.1, 17.2.2" },
  { "OpTxnAck", sf_op_txn_ack, SF_Q_NORMAL, SF_EV_SIP, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE, NULL, NULL,
    "takes the ACK for a non-2xx final response (17.2.1: Completed to Confirmed)",
    "sip:ACK", NULL, "RFC 3261 17.2.1" },
  { "OpTxnRespond", sf_op_txn_respond, SF_Q_NORMAL, SF_EV_TXN, 0, respond_outcomes, SF_ARG_NONE, NULL, NULL,
    "sends a response from the transaction user and keeps it; outcome provisional, success or failure",
    "txn:respond", NULL, "RFC 3261 17.2.1, 17.2.2, 17.2.4" },
  { "OpTxnForward2xx", sf_op_txn_forward_2xx, SF_Q_NORMAL, SF_EV_TXN, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "RFC 6026 Accepted: sends the transaction user's 2xx retransmissions; drops other responses",
    "txn:respond", NULL, "RFC 6026 (17.2.1 amended)" },
  { "OpTxnSend100", sf_op_txn_send_100, SF_Q_ENTRY | SF_Q_NORMAL, SF_EV_ANY, 0, NULL, SF_ARG_OPTIONAL,
    sf_op_fixup_name, g_free,
    "sends 100 Trying for the INVITE unless a response went out already: at once, or on timer ARG (17.2.1)",
    "*", "NAME (a timer)", "RFC 3261 17.2.1" },
  { "OpTxnStartTimer", sf_op_txn_start_timer, SF_Q_ALL, SF_EV_ANY, 0, NULL, SF_ARG_REQUIRED, fixup_txn_timer,
    timer_spec_free, "starts a transaction timer NAME=[N*]T1|T2|T4 (';udp': only on UDP; ';reliable0': 0 on TCP)",
    "*", "NAME=[N*]T1|T2|T4 or NAME=Nms, then ';udp' or ';reliable0'", "RFC 3261 17.1.1.2, 17.1.2.2, 17.2.1, 17.2.2" },
  { "OpTxnResend", sf_op_txn_resend, SF_Q_NORMAL, SF_EV_TIMER, 0, NULL, SF_ARG_REQUIRED, sf_op_fixup_name, g_free,
    "on timer ARG: sends the last response again and restarts ARG with its interval doubled up to T2 (Timer G)",
    "timer:$arg", "NAME (a timer)", "RFC 3261 17.2.1" },
  { "OpTxnTimeout", sf_op_txn_timeout, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, NULL, SF_ARG_REQUIRED, sf_op_fixup_name,
    g_free, "on timer ARG: the transaction timed out (Timers B, F, H); the TU hears txn:timeout; transitions",
    "timer:$arg", "NAME (a timer)", "RFC 3261 17.1.1.2, 17.1.2.2, 17.2.1" },
  { "OpTxnGuard", sf_op_txn_guard, SF_Q_NORMAL, SF_EV_TIMER, SF_OPF_TRANSITIONS, guard_outcomes, SF_ARG_REQUIRED,
    sf_op_fixup_name, g_free,
    "on timer ARG (the guard): no final response yet: 500 if it can be built (outcome answered), else a plain "
    "transition; the TU hears txn:timeout; an INVITE that sent a 101-199 is exempt",
    "timer:$arg", "NAME (a timer)", NULL },
  { "OpTxnSendRequest", sf_op_txn_send_request, SF_Q_ENTRY | SF_Q_NORMAL, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "sends the client transaction's request (a failure comes back as txn:transport_error)",
    "*", NULL, "RFC 3261 17.1.1.2, 17.1.2.2" },
  { "OpTxnRetransmitRequest", sf_op_txn_retransmit_request, SF_Q_NORMAL, SF_EV_TIMER, 0, NULL, SF_ARG_REQUIRED,
    fixup_retransmit, g_free, "on timer ARG (A, E): the request again, interval doubled up to T2 (';nocap': Timer A)",
    "timer:$arg", "NAME (a timer), then optionally ';nocap'", "RFC 3261 17.1.1.2, 17.1.2.2" },
  { "OpTxnResponse", sf_op_txn_response, SF_Q_NORMAL, SF_EV_SIP, 0, respond_outcomes, SF_ARG_NONE, NULL, NULL,
    "passes a response to the transaction user; outcome provisional, success or failure (17.1)",
    "sip:response", NULL, "RFC 3261 17.1.1.2, 17.1.2.2" },
  { "OpTxnSendAck", sf_op_txn_send_ack, SF_Q_ENTRY, SF_EV_ANY, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "sends the ACK for the non-2xx final response (17.1.1.3)",
    "*", NULL, "RFC 3261 17.1.1.3" },
  { "OpTxnResendAck", sf_op_txn_resend_ack, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "a retransmitted final response: the ACK again, nothing to the TU (17.1.1.2)",
    "sip:response", NULL, "RFC 3261 17.1.1.2" },
  { "OpTxnPass2xx", sf_op_txn_pass_2xx, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "RFC 6026 Accepted: 2xx responses (retransmissions, forks) go to the TU; others are absorbed",
    "sip:response", NULL, "RFC 6026 (17.1.1.2 amended)" },
  { "OpTxnPassAck", sf_op_txn_pass_ack, SF_Q_NORMAL, SF_EV_SIP, 0, NULL, SF_ARG_NONE, NULL, NULL,
    "RFC 6026 Accepted: an ACK that matches the INVITE server transaction (an RFC 2543 client's ACK for the "
    "2xx) is passed to the transaction user", "sip:ACK", NULL, "RFC 6026 7.1" },
  { "OpTxnFailover", sf_op_txn_failover, SF_Q_NORMAL, SF_EV_TIMER | SF_EV_TXN | SF_EV_SIP, SF_OPF_TRANSITIONS, NULL,
    SF_ARG_NONE, NULL, NULL,
    "a transport error, a timeout (Timer B, F) or a 503: the request goes to the next located target through a new "
    "client transaction (a new branch), and this one ends without telling its TU (transitions); skips when no target "
    "is left", "timer:B|timer:F|txn:transport_error|sip:response 503", NULL, "RFC 3263 4.3" },
  { "OpTxnTransportError", sf_op_txn_transport_error, SF_Q_NORMAL, SF_EV_TXN, SF_OPF_TRANSITIONS, NULL, SF_ARG_NONE,
    NULL, NULL, "a send failed (a client's request, or a server's response retransmission): the TU hears "
    "txn:transport_error; transitions", "txn:transport_error", NULL, "RFC 3261 17.1.4, 17.2.4" },
  { "OpTxnInformTransportError", sf_op_txn_inform_transport_error, SF_Q_NORMAL, SF_EV_TXN, 0, NULL, SF_ARG_NONE,
    NULL, NULL, "RFC 6026 Accepted: a response that could not be sent: the TU hears txn:transport_error and the "
    "transaction stays (its timer ends it)", "txn:transport_error", NULL, "RFC 6026 7.1" },
};
const gsize sf_op_txn_table_len = G_N_ELEMENTS (sf_op_txn_table);
