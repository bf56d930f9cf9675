/* sf-sip-resolve.c: RFC 3263 server location on c-ares (see sf-sip-resolve.h).
 * A lookup is a job of up to three rounds of queries (NAPTR; SRV; A/AAAA), the
 * queries of one round in parallel; c-ares's sockets are GSources on the
 * resolver's main context and its timeouts one timer source, so nothing waits
 * on the network. */
#include "config.h"
#include "sf-sip-resolve.h"
#include <arpa/nameser.h>
#include <ares.h>
#include <glib-unix.h>
#include <string.h>

/* ---- targets ---- */

SfSipTarget *
sf_sip_target_new (SfSipProto proto, GInetSocketAddress *addr, const char *name)
{
  SfSipTarget *t = g_new0 (SfSipTarget, 1);
  t->proto = proto;
  t->addr = g_object_ref (addr);
  t->name = g_strdup (name);
  return t;
}

SfSipTarget *
sf_sip_target_copy (const SfSipTarget *t)
{
  return sf_sip_target_new (t->proto, t->addr, t->name);
}

void
sf_sip_target_free (SfSipTarget *t)
{
  if (t == NULL)
    return;
  g_clear_object (&t->addr);
  g_free (t->name);
  g_free (t);
}

char *
sf_sip_target_to_string (const SfSipTarget *t)
{
  g_autofree char *ip = g_inet_address_to_string (g_inet_socket_address_get_address (t->addr));
  gboolean v6 = strchr (ip, ':') != NULL;
  const char *p = sf_sip_proto_name (t->proto);
  return g_strdup_printf ("%s:%s%s%s:%u", p, v6 ? "[" : "", ip, v6 ? "]" : "", g_inet_socket_address_get_port (t->addr));
}

static GPtrArray *
targets_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_target_free);
}

static void
add (GPtrArray *out, SfSipProto proto, GInetAddress *ip, guint port, const char *name)
{
  g_autoptr (GSocketAddress) a = g_inet_socket_address_new (ip, (guint16) port);
  g_ptr_array_add (out, sf_sip_target_new (proto, G_INET_SOCKET_ADDRESS (a), name));
}

/* ---- the selection (pure) ---- */

SfSipProto
sf_sip_resolve_secure_proto (guint protos)
{
  return (protos & SF_SIP_PROTO_BIT (SF_SIP_TLS)) != 0 ? SF_SIP_TLS : SF_SIP_TCP;
}

static gboolean
naptr_service (const char *service, SfSipProto *p)
{
  if (service == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (service, "SIP+D2U") == 0)
    *p = SF_SIP_UDP;
  else if (g_ascii_strcasecmp (service, "SIP+D2T") == 0)
    *p = SF_SIP_TCP;
  else if (g_ascii_strcasecmp (service, "SIPS+D2T") == 0)
    *p = SF_SIP_TLS;
  else
    return FALSE;
  return TRUE;
}

guint
sf_sip_naptr_select (const SfSipNaptr *recs, guint n, gboolean secure, guint protos, guint *idx, SfSipProto *proto,
                     guint max)
{
  g_autofree guint *cand = g_new (guint, MAX (n, 1));
  g_autofree SfSipProto *cp = g_new (SfSipProto, MAX (n, 1));
  guint k = 0;
  for (guint i = 0; i < n; i++) {
    const SfSipNaptr *r = &recs[i];
    SfSipProto p;
    /* "s": the replacement is an SRV name (RFC 3263 4.1); other flags are another application's */
    if (r->flags == NULL || g_ascii_strcasecmp (r->flags, "s") != 0 || !naptr_service (r->service, &p) ||
        r->replacement == NULL || r->replacement[0] == '\0' || strcmp (r->replacement, ".") == 0)
      continue;
    if (secure && p != SF_SIP_TLS)
      continue; /* a sips URI goes over TLS only */
    if (p == SF_SIP_TLS && secure)
      p = sf_sip_resolve_secure_proto (protos);
    if ((protos & SF_SIP_PROTO_BIT (p)) == 0)
      continue;
    /* insertion by (order, preference), stable: equal records keep the answer's order */
    guint at = k;
    while (at > 0 && (recs[cand[at - 1]].order > r->order ||
                      (recs[cand[at - 1]].order == r->order && recs[cand[at - 1]].preference > r->preference))) {
      cand[at] = cand[at - 1];
      cp[at] = cp[at - 1];
      at--;
    }
    cand[at] = i;
    cp[at] = p;
    k++;
  }
  guint out = MIN (k, max);
  for (guint i = 0; i < out; i++) {
    idx[i] = cand[i];
    proto[i] = cp[i];
  }
  return out;
}

guint
sf_sip_srv_order (SfSipSrv *recs, guint n, GRand *rand)
{
  guint m = 0;
  for (guint i = 0; i < n; i++)
    if (recs[i].target != NULL && recs[i].target[0] != '\0' && strcmp (recs[i].target, ".") != 0)
      recs[m++] = recs[i];
  /* by priority, stable */
  for (guint i = 1; i < m; i++) {
    SfSipSrv r = recs[i];
    guint at = i;
    while (at > 0 && recs[at - 1].priority > r.priority) {
      recs[at] = recs[at - 1];
      at--;
    }
    recs[at] = r;
  }
  /* within a priority, RFC 2782's draw: those of weight 0 first in the list, a
   * random number in [0, sum of weights], the first whose running sum reaches
   * it goes next; again with the rest. */
  for (guint a = 0; a < m;) {
    guint b = a;
    while (b < m && recs[b].priority == recs[a].priority)
      b++;
    for (guint pos = a; pos + 1 < b; pos++) {
      guint z = pos; /* the weight-0 ones to the front, stable */
      for (guint j = pos; j < b; j++)
        if (recs[j].weight == 0) {
          SfSipSrv r = recs[j];
          memmove (&recs[z + 1], &recs[z], (j - z) * sizeof r);
          recs[z++] = r;
        }
      guint32 sum = 0;
      for (guint j = pos; j < b; j++)
        sum += recs[j].weight;
      guint32 pick = sum == 0 ? 0 : rand != NULL ? (guint32) g_rand_int_range (rand, 0, (gint32) sum + 1)
                                                 : (guint32) g_random_int_range (0, (gint32) sum + 1);
      guint32 running = 0;
      guint chosen = pos;
      for (guint j = pos; j < b; j++) {
        running += recs[j].weight;
        if (running >= pick) {
          chosen = j;
          break;
        }
      }
      SfSipSrv r = recs[chosen];
      memmove (&recs[pos + 1], &recs[pos], (chosen - pos) * sizeof r);
      recs[pos] = r;
    }
    a = b;
  }
  return m;
}

/* ---- what the URI says ---- */

typedef struct {
  char *host;          /* without brackets */
  guint port;          /* 0: none given */
  gboolean secure;     /* sips */
  gboolean transport;  /* transport= names one we know */
  SfSipProto proto;    /* transport='s, else the default (sf-sip-resolve.h) */
} Query;

static void
query_clear (Query *q)
{
  g_clear_pointer (&q->host, g_free);
}

static SfSipProto
default_proto (gboolean secure, guint protos)
{
  if (secure)
    return sf_sip_resolve_secure_proto (protos);
  if ((protos & SF_SIP_PROTO_BIT (SF_SIP_UDP)) != 0 || protos == 0)
    return SF_SIP_UDP;
  return (protos & SF_SIP_PROTO_BIT (SF_SIP_TCP)) != 0 ? SF_SIP_TCP : SF_SIP_TLS;
}

static void
query_init (Query *q, const SfSipUri *uri, guint protos)
{
  memset (q, 0, sizeof *q);
  q->secure = uri->kind == SF_URI_SIPS;
  q->proto = default_proto (q->secure, protos);
  const SfSipParam *tp = sf_sip_uri_param (uri, "transport");
  if (tp != NULL && sf_sip_str_caseeq (tp->value, "udp") && !q->secure) {
    q->transport = TRUE;
    q->proto = SF_SIP_UDP;
  } else if (tp != NULL && sf_sip_str_caseeq (tp->value, "tcp")) {
    q->transport = TRUE;
    q->proto = q->secure ? sf_sip_resolve_secure_proto (protos) : SF_SIP_TCP; /* sips over TCP: TLS */
  } else if (tp != NULL && sf_sip_str_caseeq (tp->value, "tls")) {
    q->transport = TRUE;
    q->proto = SF_SIP_TLS;
  } else if (tp != NULL && (sf_sip_str_caseeq (tp->value, "ws") || sf_sip_str_caseeq (tp->value, "wss"))) {
    /* a WebSocket flow (RFC 7118): reached over its open connection only;
     * a sips URI over ws means WSS (RFC 7118 5) */
    q->transport = TRUE;
    q->proto = q->secure || sf_sip_str_caseeq (tp->value, "wss") ? SF_SIP_WSS : SF_SIP_WS;
  }
  const SfSipParam *maddr = sf_sip_uri_param (uri, "maddr");
  SfSipStr h = maddr != NULL && sf_sip_str_is_set (maddr->value) ? maddr->value : uri->host;
  if (h.len >= 2 && h.p[0] == '[')
    h = sf_sip_str (h.p + 1, h.len - 2);
  q->host = sf_sip_str_dup (h);
  q->port = uri->port;
}

static guint
default_port (SfSipProto proto, gboolean secure)
{
  return proto == SF_SIP_TLS || secure ? 5061 : 5060;
}

GPtrArray *
sf_sip_resolve_numeric (const SfSipUri *uri, guint protos)
{
  if (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS)
    return NULL;
  Query q;
  query_init (&q, uri, protos);
  /* (q.host has its brackets dropped already: not twice) */
  SfSipIp ip;
  GPtrArray *out = NULL;
  if (q.host[0] != '[' && sf_sip_ip_parse (sf_sip_str (q.host, strlen (q.host)), &ip)) {
    out = targets_new ();
    g_autoptr (GInetSocketAddress) a = sf_sip_socket_address (&ip, q.port != 0 ? q.port : default_port (q.proto, q.secure));
    g_ptr_array_add (out, sf_sip_target_new (q.proto, a, NULL));
  }
  query_clear (&q);
  return out;
}

/* ---- the resolver: c-ares on the main loop ---- */

struct _SfSipResolver {
  ares_channel channel;
  GMainContext *context;  /* owned ref */
  GHashTable *watches;    /* fd -> GSource (owned ref, attached) */
  GSource *timer;         /* owned, nullable */
  gboolean freeing;       /* ares_destroy runs: jobs start no further query */
};

static void
watch_drop (gpointer p)
{
  g_source_destroy (p);
  g_source_unref (p);
}

static void arm_timer (SfSipResolver *r);

static gboolean
on_fd (gint fd, GIOCondition cond, gpointer data)
{
  SfSipResolver *r = data;
  ares_process_fd (r->channel, (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR)) != 0 ? fd : ARES_SOCKET_BAD,
                   (cond & G_IO_OUT) != 0 ? fd : ARES_SOCKET_BAD);
  arm_timer (r);
  return G_SOURCE_CONTINUE; /* c-ares says when it is done with the socket (on_sock_state) */
}

/* c-ares tells which sockets to watch, for what; (0, 0): no longer. */
static void
on_sock_state (void *data, ares_socket_t fd, int readable, int writable)
{
  SfSipResolver *r = data;
  g_hash_table_remove (r->watches, GINT_TO_POINTER (fd));
  if (!readable && !writable)
    return;
  GSource *s = g_unix_fd_source_new (fd, (readable ? G_IO_IN : 0) | (writable ? G_IO_OUT : 0));
  g_source_set_callback (s, (GSourceFunc) (void (*) (void)) on_fd, r, NULL);
  g_source_attach (s, r->context);
  g_hash_table_insert (r->watches, GINT_TO_POINTER (fd), s);
}

static gboolean
on_timer (gpointer data)
{
  SfSipResolver *r = data;
  g_clear_pointer (&r->timer, g_source_unref); /* this one: it ends by returning G_SOURCE_REMOVE */
  ares_process_fd (r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* queries whose time is up */
  arm_timer (r);
  return G_SOURCE_REMOVE;
}

/* The timer source for c-ares's next timeout, if a query runs. */
static void
arm_timer (SfSipResolver *r)
{
  if (r->timer != NULL) {
    g_source_destroy (r->timer);
    g_clear_pointer (&r->timer, g_source_unref);
  }
  if (r->freeing)
    return;
  struct timeval tv;
  if (ares_timeout (r->channel, NULL, &tv) == NULL)
    return;
  guint ms = (guint) tv.tv_sec * 1000 + (guint) (tv.tv_usec + 999) / 1000;
  r->timer = g_timeout_source_new (ms);
  g_source_set_callback (r->timer, on_timer, r, NULL);
  g_source_attach (r->timer, r->context);
}

SfSipResolver *
sf_sip_resolver_new (const char *servers, guint timeout_ms, guint tries, GError **error)
{
  static gsize inited = 0;
  if (g_once_init_enter (&inited)) {
    ares_library_init (ARES_LIB_INIT_ALL);
    g_once_init_leave (&inited, 1);
  }
  SfSipResolver *r = g_new0 (SfSipResolver, 1);
  r->context = g_main_context_ref_thread_default ();
  r->watches = g_hash_table_new_full (NULL, NULL, NULL, watch_drop);
  struct ares_options o = { 0 };
  o.flags = ARES_FLAG_NOSEARCH; /* a SIP domain is a whole name: no search list appended */
  o.timeout = (int) MAX (timeout_ms, 1);
  o.tries = (int) MAX (tries, 1);
  o.sock_state_cb = on_sock_state;
  o.sock_state_cb_data = r;
  int rc = ares_init_options (&r->channel, &o,
                              ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB);
  if (rc != ARES_SUCCESS) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "DNS client: %s", ares_strerror (rc));
    g_hash_table_unref (r->watches);
    g_main_context_unref (r->context);
    g_free (r);
    return NULL;
  }
  if (servers != NULL && servers[0] != '\0' && (rc = ares_set_servers_ports_csv (r->channel, servers)) != ARES_SUCCESS) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "DNS servers '%s': %s (expected IP[:PORT] or [IPV6]:PORT, separated by commas)", servers,
                 ares_strerror (rc));
    sf_sip_resolver_free (r);
    return NULL;
  }
  return r;
}

void
sf_sip_resolver_free (SfSipResolver *r)
{
  if (r == NULL)
    return;
  r->freeing = TRUE;
  ares_destroy (r->channel); /* the jobs' callbacks run, with ARES_EDESTRUCTION */
  g_hash_table_unref (r->watches);
  if (r->timer != NULL) {
    g_source_destroy (r->timer);
    g_source_unref (r->timer);
  }
  g_main_context_unref (r->context);
  g_free (r);
}

/* ---- a lookup ---- */

typedef enum { PHASE_NAPTR, PHASE_SRV, PHASE_HOSTS } Phase;

typedef struct {
  SfSipProto proto;
  char *name;           /* owned: the SRV name (_sip._udp.example.com), or the host */
  guint port;           /* PHASE_HOSTS: the port */
  SfSipSrv *srv;        /* owned, n_srv of them, ordered (their targets owned) */
  guint n_srv;
  GPtrArray *addrs;     /* GInetAddress, owned refs */
} Step;

static void
step_free (Step *s)
{
  for (guint i = 0; i < s->n_srv; i++)
    g_free ((char *) s->srv[i].target);
  g_free (s->srv);
  g_free (s->name);
  if (s->addrs != NULL)
    g_ptr_array_unref (s->addrs);
  g_free (s);
}

static Step *
step_new (SfSipProto proto, const char *name, guint port)
{
  Step *s = g_new0 (Step, 1);
  s->proto = proto;
  s->name = g_strdup (name);
  s->port = port;
  return s;
}

typedef struct {
  SfSipResolver *r;     /* unowned: valid while a query runs (its end is ours to see) */
  GTask *task;          /* owned, NULL once it returned */
  Query q;
  guint protos;
  Phase phase;
  guint pending;        /* queries running, + 1 while a round is being started */
  gboolean from_naptr;  /* the SRV names came from NAPTR records */
  GPtrArray *steps;     /* Step: this round's queries */
  char *why;            /* owned, nullable: the last failure */
} Job;

typedef struct {
  Job *j;
  guint i;              /* its Step */
} Ticket;

static void job_next (Job *j);

static void
job_free (Job *j)
{
  g_clear_object (&j->task);
  query_clear (&j->q);
  g_ptr_array_unref (j->steps);
  g_free (j->why);
  g_free (j);
}

static void
job_failed (Job *j, int status)
{
  g_free (j->why);
  j->why = g_strdup (ares_strerror (status));
}

/* One query of the round ended. */
static void
job_done_one (Job *j)
{
  if (--j->pending == 0)
    job_next (j);
}

static char *
srv_name (SfSipProto proto, gboolean secure, const char *host)
{
  return g_strdup_printf ("%s.%s", proto == SF_SIP_TLS || secure ? "_sips._tcp" : proto == SF_SIP_TCP ? "_sip._tcp" : "_sip._udp",
                          host);
}

static void
on_naptr (void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
  Job *j = arg;
  struct ares_naptr_reply *reply = NULL;
  if (status == ARES_SUCCESS)
    status = ares_parse_naptr_reply (abuf, alen, &reply);
  if (status != ARES_SUCCESS)
    job_failed (j, status);
  SfSipNaptr recs[SF_SIP_RESOLVE_MAX_RECORDS];
  guint n = 0;
  for (struct ares_naptr_reply *x = reply; x != NULL && n < G_N_ELEMENTS (recs); x = x->next)
    recs[n++] = (SfSipNaptr) { .order = x->order, .preference = x->preference, .flags = (const char *) x->flags,
                               .service = (const char *) x->service, .replacement = x->replacement };
  guint idx[3];
  SfSipProto proto[3]; /* one per service: more would repeat a transport */
  guint k = sf_sip_naptr_select (recs, n, j->q.secure, j->protos, idx, proto, G_N_ELEMENTS (idx));
  for (guint i = 0; i < k; i++)
    g_ptr_array_add (j->steps, step_new (proto[i], recs[idx[i]].replacement, 0));
  j->from_naptr = k > 0;
  if (reply != NULL)
    ares_free_data (reply);
  job_done_one (j);
}

static void
on_srv (void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
  Ticket *t = arg;
  Job *j = t->j;
  Step *s = j->steps->pdata[t->i];
  g_free (t);
  struct ares_srv_reply *reply = NULL;
  if (status == ARES_SUCCESS)
    status = ares_parse_srv_reply (abuf, alen, &reply);
  if (status != ARES_SUCCESS)
    job_failed (j, status);
  s->srv = g_new0 (SfSipSrv, SF_SIP_RESOLVE_MAX_RECORDS);
  for (struct ares_srv_reply *x = reply; x != NULL && s->n_srv < SF_SIP_RESOLVE_MAX_RECORDS; x = x->next)
    if (x->host != NULL && x->host[0] != '\0' && strcmp (x->host, ".") != 0) /* "." (RFC 2782): not offered there */
      s->srv[s->n_srv++] = (SfSipSrv) { .priority = x->priority, .weight = x->weight, .port = x->port,
                                        .target = g_strdup (x->host) };
  s->n_srv = sf_sip_srv_order (s->srv, s->n_srv, NULL); /* drops nothing now: every target is owned still */
  if (reply != NULL)
    ares_free_data (reply);
  job_done_one (j);
}

static void
on_addrinfo (void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
  Ticket *t = arg;
  Job *j = t->j;
  Step *s = j->steps->pdata[t->i];
  g_free (t);
  if (status != ARES_SUCCESS)
    job_failed (j, status);
  s->addrs = g_ptr_array_new_with_free_func (g_object_unref);
  for (struct ares_addrinfo_node *n = res != NULL ? res->nodes : NULL; n != NULL && s->addrs->len < SF_SIP_RESOLVE_MAX_ADDRS;
       n = n->ai_next) {
    g_autoptr (GSocketAddress) sa = g_socket_address_new_from_native (n->ai_addr, n->ai_addrlen);
    if (sa == NULL || !G_IS_INET_SOCKET_ADDRESS (sa))
      continue;
    GInetAddress *ip = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
    gboolean seen = FALSE;
    for (guint i = 0; i < s->addrs->len && !seen; i++)
      seen = g_inet_address_equal (s->addrs->pdata[i], ip);
    if (!seen)
      g_ptr_array_add (s->addrs, g_object_ref (ip));
  }
  if (res != NULL)
    ares_freeaddrinfo (res);
  job_done_one (j);
}

static void
start_round (Job *j, Phase phase)
{
  j->phase = phase;
  j->pending++; /* while starting: a query that ends at once must not end the round */
  for (guint i = 0; i < j->steps->len; i++) {
    Step *s = j->steps->pdata[i];
    Ticket *t = g_new0 (Ticket, 1);
    t->j = j;
    t->i = i;
    j->pending++;
    if (phase == PHASE_SRV) {
      ares_query (j->r->channel, s->name, ns_c_in, ns_t_srv, on_srv, t);
    } else {
      struct ares_addrinfo_hints hints = { .ai_family = AF_UNSPEC };
      ares_getaddrinfo (j->r->channel, s->name, NULL, &hints, on_addrinfo, t);
    }
  }
  arm_timer (j->r);
  job_done_one (j);
}

static void
job_return (Job *j, GPtrArray *targets, GError *error)
{
  GTask *task = g_steal_pointer (&j->task);
  if (targets != NULL)
    g_task_return_pointer (task, targets, (GDestroyNotify) g_ptr_array_unref);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
  job_free (j);
}

/* The round ended: the next one, or the answer. */
static void
job_next (Job *j)
{
  if (j->r->freeing || g_task_return_error_if_cancelled (j->task)) {
    if (j->task != NULL && j->r->freeing)
      job_return (j, NULL, g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED, "the DNS client went"));
    else
      job_free (j);
    return;
  }
  if (j->phase == PHASE_NAPTR) {
    if (j->steps->len == 0) {
      /* 4.1: no NAPTR record to use: the SRV of each transport spoken */
      if (j->q.secure) {
        g_autofree char *name = srv_name (j->q.proto, TRUE, j->q.host);
        g_ptr_array_add (j->steps, step_new (j->q.proto, name, 0));
      } else {
        for (SfSipProto p = SF_SIP_UDP; p <= SF_SIP_TLS; p++)
          if ((j->protos & SF_SIP_PROTO_BIT (p)) != 0) {
            g_autofree char *name = srv_name (p, FALSE, j->q.host);
            g_ptr_array_add (j->steps, step_new (p, name, 0));
          }
      }
    }
    start_round (j, PHASE_SRV);
    return;
  }
  if (j->phase == PHASE_SRV) {
    g_autoptr (GPtrArray) hosts = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
    for (guint i = 0; i < j->steps->len && hosts->len < SF_SIP_RESOLVE_MAX_TARGETS; i++) {
      Step *s = j->steps->pdata[i];
      for (guint k = 0; k < s->n_srv && hosts->len < SF_SIP_RESOLVE_MAX_TARGETS; k++)
        g_ptr_array_add (hosts, step_new (s->proto, s->srv[k].target, s->srv[k].port));
    }
    if (hosts->len == 0) {
      /* 4.2: no SRV record: A/AAAA of the host, the transport's default port (the
       * NAPTR's first transport when there was one) */
      SfSipProto p = j->from_naptr ? ((Step *) j->steps->pdata[0])->proto : j->q.proto;
      g_ptr_array_add (hosts, step_new (p, j->q.host, default_port (p, j->q.secure)));
    }
    g_ptr_array_unref (j->steps);
    j->steps = g_steal_pointer (&hosts);
    start_round (j, PHASE_HOSTS);
    return;
  }
  GPtrArray *out = targets_new ();
  for (guint i = 0; i < j->steps->len; i++) {
    Step *s = j->steps->pdata[i];
    for (guint k = 0; s->addrs != NULL && k < s->addrs->len && out->len < SF_SIP_RESOLVE_MAX_TARGETS; k++)
      add (out, s->proto, s->addrs->pdata[k], s->port, s->name);
  }
  if (out->len == 0) {
    g_ptr_array_unref (out);
    job_return (j, NULL,
                g_error_new (G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "'%s': no address (%s)", j->q.host,
                             j->why != NULL ? j->why : "no record"));
    return;
  }
  job_return (j, out, NULL);
}

void
sf_sip_resolve_async (SfSipResolver *r, const SfSipUri *uri, guint protos, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, sf_sip_resolve_async);
  if (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "only sip and sips URIs are located");
    g_object_unref (task);
    return;
  }
  GPtrArray *numeric = sf_sip_resolve_numeric (uri, protos);
  if (numeric != NULL) {
    g_task_return_pointer (task, numeric, (GDestroyNotify) g_ptr_array_unref);
    g_object_unref (task);
    return;
  }
  if (r == NULL || r->freeing) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "no DNS client");
    g_object_unref (task);
    return;
  }
  Job *j = g_new0 (Job, 1);
  j->r = r;
  j->task = task;
  j->protos = protos;
  j->steps = g_ptr_array_new_with_free_func ((GDestroyNotify) step_free);
  query_init (&j->q, uri, protos);
  if (j->q.port != 0) {
    /* 4.2: a port given: A/AAAA only */
    g_ptr_array_add (j->steps, step_new (j->q.proto, j->q.host, j->q.port));
    start_round (j, PHASE_HOSTS);
  } else if (j->q.transport) {
    /* 4.1: the transport given: its SRV */
    g_autofree char *name = srv_name (j->q.proto, j->q.secure, j->q.host);
    g_ptr_array_add (j->steps, step_new (j->q.proto, name, 0));
    start_round (j, PHASE_SRV);
  } else {
    j->phase = PHASE_NAPTR;
    j->pending = 2; /* the query, and this start */
    ares_query (r->channel, j->q.host, ns_c_in, ns_t_naptr, on_naptr, j);
    arm_timer (r);
    job_done_one (j);
  }
}

GPtrArray *
sf_sip_resolve_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
