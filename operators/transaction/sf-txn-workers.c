/* sf-txn-workers.c: the SIP stack as one worker of several (docs/workers.md,
 * "How a packet reaches its owner"): the transport's steer hook finds a
 * datagram's Call-ID before anything parses it (sip/sf-sip-route.h) and, when
 * another worker owns that Call-ID, hands the raw bytes and their peer to that
 * worker's inbox; there they go through the owner's transport as if read from
 * its socket (sf_sip_transport_inject).  The bytes are parsed once, by the
 * owner, and no parsed message crosses between workers (SfSipMsg counts its
 * references without atomics). */
#include "config.h"
#include "sf-stack-private.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-route.h"
#include "framework/sf-clock.h"
#include <string.h>

/* A message on its way to its owner. */
typedef struct {
  SfStack *owner;   /* unowned: the set goes before its stacks */
  GBytes *bytes;    /* owned */
  SfSipPeer from;   /* owned refs: the reading worker's local address and the source */
} Handoff;

static void
handoff_free (Handoff *h)
{
  g_bytes_unref (h->bytes);
  sf_sip_peer_clear (&h->from);
  g_free (h);
}

static void
deliver (gpointer data)
{
  Handoff *h = data;
  sf_sip_transport_inject (h->owner->tp, h->bytes, &h->from);
}

static gboolean
steer (GBytes *bytes, const SfSipPeer *from, gpointer data)
{
  SfStack *s = data;
  if (from->proto != SF_SIP_UDP)
    return FALSE; /* a connection's messages stay with the worker that holds it (step 4) */
  gsize size;
  const char *d = g_bytes_get_data (bytes, &size);
  /* A response is told by its first four bytes, "SIP/", case-sensitive, with
   * no leading CRLF skipped: a response written "sip/2.0" (7.1 lets the
   * version be any case) or behind CRLF keep-alives is taken for a request.
   * That fails closed: on the own socket it is refused (its transaction
   * retransmits or times out), elsewhere it goes by its Call-ID as a
   * request would, or stays (requests_stay) and is parsed by the worker that
   * read it, which holds no transaction for it if another does. */
  gboolean response = size >= 4 && memcmp (d, "SIP/", 4) == 0;
  if (s->home != NULL && from->local == s->home) {
    /* This worker's own socket: only our Via names it, so a response there
     * answers what this worker sent (its transaction is here, whatever the
     * Call-ID).  A request has no business there (Record-Route and Contact
     * name the listener): refused, counted, never answered. */
    if (response) {
      /* A provisional answers an INVITE that may ring long with nothing of
       * its Call-ID routed by its claim meanwhile: it keeps the claim on
       * (16.8: Timer C restarts at each; 13.3.1.1: a UAS sends one a
       * minute), so the caller's CANCEL still finds this worker. */
      SfSipStr pid;
      if (size > 9 && d[8] == '1' && sf_workers_claims_on (s->workers) && sf_sip_route_call_id (d, size, &pid))
        sf_workers_touch (s->workers, pid.p, pid.len, sf_clock_now_us (sf_endpoint_clock (s->ep)));
      return FALSE;
    }
    sf_stack_count (s, SF_STACK_STAT_REFUSED);
    g_debug ("worker %u: a request on its own socket: dropped", s->worker);
    return TRUE;
  }
  /* Anything that is not a response (a request, or bytes the parser will
   * refuse statelessly) is answered by the worker that read it: no scan, no
   * hand-off, no wake-up. */
  if (s->requests_stay && !response)
    return FALSE;
  SfSipStr id;
  if (!sf_sip_route_call_id (d, size, &id))
    return FALSE; /* no Call-ID the parser would take: refused here, statelessly */
  /* An INVITE claims its Call-ID for this worker (first come: a copy read
   * elsewhere before follows that claim); anything else follows a claim, or
   * the hash (docs/workers.md, "Calls owned where they are read"). */
  /* The start line as the parser finds it: past the CR and LF it skips
   * (keep-alives), or "\r\nINVITE" would go unclaimed and its plain
   * retransmission claim elsewhere (two server transactions). */
  gsize sl = 0;
  while (sl < size && (d[sl] == '\r' || d[sl] == '\n'))
    sl++;
  guint owner;
  if (!sf_workers_claims_on (s->workers))
    owner = sf_workers_route (s->workers, id.p, id.len);
  else if (!response && size - sl > 7 && memcmp (d + sl, "INVITE ", 7) == 0)
    owner = sf_workers_claim (s->workers, s->worker, id.p, id.len, sf_clock_now_us (sf_endpoint_clock (s->ep)));
  else
    owner = sf_workers_owner (s->workers, id.p, id.len, sf_clock_now_us (sf_endpoint_clock (s->ep)));
  if (owner == s->worker)
    return FALSE;
  SfStack *o = sf_workers_data (s->workers, owner);
  if (o == NULL)
    return FALSE;
  Handoff *h = g_new (Handoff, 1);
  h->owner = o;
  h->bytes = g_bytes_ref (bytes);
  sf_sip_peer_copy (&h->from, from);
  /* Bounded: past the owner's inbox bound the datagram is dropped and counted
   * (sf_workers_offer), as its socket would drop it; taken either way.  The
   * owner is woken once the batch read with it is through (steer_done). */
  sf_workers_offer_later (s->workers, s->worker, owner, deliver, h, (GDestroyNotify) handoff_free, size);
  return TRUE;
}

static void
steer_done (gpointer data)
{
  SfStack *s = data;
  sf_workers_wake (s->workers, s->worker);
}

/* This worker's own UDP socket beside the shared listener, named in the Via
 * of what it forwards (sf_stack_home_sent_by): only when asked for
 * (core.worker_source = own); not for a flow that sends
 * nothing, nor behind an advertised address (a NAT or a load balancer in
 * front maps the listener's port, not ours).  Without it (it could not be
 * opened) the worker sends from the listener as before: responses then cross
 * by Call-ID.  Opened at the first request forwarded (a worker joins its set
 * before it binds the listener), tried once. */
static void
open_home (SfStack *s)
{
  GInetSocketAddress *first = sf_sip_transport_local (s->tp, SF_SIP_UDP);
  if (!s->own_source || s->home_tried || s->workers == NULL || sf_workers_n (s->workers) < 2 || s->requests_stay ||
      s->adv_host != NULL || first == NULL)
    return;
  s->home_tried = TRUE;
  GSocketFamily family = g_inet_address_get_family (g_inet_socket_address_get_address (first));
  g_autoptr (GError) error = NULL;
  s->home = sf_sip_transport_open_home (s->tp, family, &error);
  if (s->home == NULL) {
    g_warning ("worker %u: no socket of its own (%s): it forwards from the shared one", s->worker, error->message);
    return;
  }
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (s->home));
  gboolean v6 = family == G_SOCKET_FAMILY_IPV6;
  s->home_sent_by = g_strdup_printf ("%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "", g_inet_socket_address_get_port (s->home));
}

const char *
sf_stack_home_sent_by (SfStack *s)
{
  open_home (s);
  return s->home_sent_by;
}

gboolean
sf_stack_is_home (SfStack *s, GInetSocketAddress *local)
{
  if (s->home == NULL || local == NULL)
    return FALSE;
  return g_inet_socket_address_get_port (local) == g_inet_socket_address_get_port (s->home) &&
         g_inet_address_equal (g_inet_socket_address_get_address (local), g_inet_socket_address_get_address (s->home));
}

SfWorkers *
sf_stack_workers_new (guint n)
{
  /* A key of its own, not the rate limiter's, from the cryptographic pool: a
   * peer that could predict it could aim every call at one worker. */
  guint64 key[2] = { sf_sip_random_u64 (), sf_sip_random_u64 () };
  SfWorkers *set = sf_workers_new (n, key);
  /* Claims: the flows that run on several workers (the proxy, the redirect
   * server, the registrar) hold no dialog, so a claim need outlive only the
   * transactions of its Call-ID, not a call (docs/workers.md). */
  sf_workers_set_claims (set, SF_WORKERS_CLAIMS_MAX, SF_WORKERS_CLAIM_MS);
  return set;
}

void
sf_stack_join_workers (SfStack *s, SfWorkers *set, guint w, GMainContext *context)
{
  g_return_if_fail (s->workers == NULL && set != NULL && w < sf_workers_n (set));
  s->workers = set;
  s->worker = w;
  sf_workers_set_worker (set, w, s->ep, s, context);
  if (sf_workers_n (set) == 1)
    return; /* one worker: today's engine, nothing shared, nothing divided */
  sf_sip_transport_set_steer (s->tp, steer, s);
  sf_sip_transport_set_steer_done (s->tp, steer_done);
  /* docs/workers.md step 2: this worker's share of sip.max_instances, and
   * worker 0's table of rate buckets and per-source counts for all. */
  sf_stack_overload_reconfigure (s);
  SfStack *home = sf_workers_data (set, 0);
  if (w > 0 && home != NULL) /* worker 0 joins first; a worker alone (a test drawing Call-IDs) keeps its own */
    sf_stack_overload_share (s, home);
}

void
sf_stack_workers_answer_here (SfStack *s)
{
  s->requests_stay = TRUE;
}

void
sf_stack_workers_own_source (SfStack *s)
{
  s->own_source = TRUE;
}

char *
sf_stack_new_call_id (SfStack *s, const char *via_sent_by)
{
  /* Drawn until it hashes home: N draws on average, and a Call-ID that looks
   * like any other (no worker number a peer could read or copy).  Bounded: a
   * miss 1000 times running (a chance of (1 - 1/N)^1000) keeps the last draw,
   * whose messages are then handed over, not lost. */
  char *id = sf_sip_random_call_id (via_sent_by);
  for (guint i = 0; s->workers != NULL && i < 1000 && sf_workers_route (s->workers, id, strlen (id)) != s->worker; i++) {
    g_free (id);
    id = sf_sip_random_call_id (via_sent_by);
  }
  return id;
}

void
sf_stack_workers_begin (SfStack *s, SfSipMsg *req, const char *txn)
{
  if (s->workers == NULL || req == NULL || txn == NULL || !sf_workers_claims_on (s->workers) ||
      !sf_sip_str_eq (sf_sip_msg_method (req), "INVITE"))
    return;
  SfSipStr id = sf_sip_msg_call_id (req);
  sf_workers_claim_bind (s->workers, s->worker, id.p, id.len, txn, sf_clock_now_us (sf_endpoint_clock (s->ep)));
}

void
sf_stack_workers_final (SfStack *s, SfSipMsg *req, const char *txn, SfSipMsg *resp)
{
  if (s->workers == NULL || req == NULL || !sf_workers_claims_on (s->workers))
    return;
  /* Keyed to the call, not to its Call-ID: anyone may send a request with
   * a ringing call's Call-ID and have it refused.  A BYE ends the claim only
   * when accepted (2xx: the callee's dialog is over); an INVITE's failure
   * only when the INVITE is the claim's own transaction (bound at its
   * start, sf_stack_workers_begin); a re-INVITE's failure (491, 488) leaves
   * the dialog's claim. */
  SfSipStr m = sf_sip_msg_method (req);
  guint status = sf_sip_msg_status (resp);
  gboolean bye = sf_sip_str_eq (m, "BYE"), invite = sf_sip_str_eq (m, "INVITE");
  if (invite && status < 300 && txn != NULL) {
    /* a 2xx: the dialog's ACK, BYE and re-INVITEs meet the claim, and
     * from now on a BYE's 2xx may end it */
    SfSipStr id = sf_sip_msg_call_id (req);
    sf_workers_claim_answered (s->workers, id.p, id.len, txn, sf_clock_now_us (sf_endpoint_clock (s->ep)));
    return;
  }
  if (bye ? status >= 300 : !(invite && status >= 300 && txn != NULL))
    return;
  /* Ended: the claim stays while this transaction absorbs retransmissions
   * (17.2.1 Timer H then I; 17.2.2 Timer J, 64*T1, plus T4 for what is
   * still in flight), by the stack's configured timers (docs/workers.md,
   * "Calls owned where they are read"). */
  guint within = 64 * sf_stack_timer_ms (s, '1') + sf_stack_timer_ms (s, '4');
  SfSipStr id = sf_sip_msg_call_id (req);
  sf_workers_claim_end (s->workers, id.p, id.len, bye ? NULL : txn, sf_clock_now_us (sf_endpoint_clock (s->ep)), within);
}
