/* sf-sip-resolve.c: RFC 3263 server location (see sf-sip-resolve.h). */
#include "config.h"
#include "sf-sip-resolve.h"
#include <string.h>

void
sf_sip_target_free (SfSipTarget *t)
{
  if (t == NULL)
    return;
  g_clear_object (&t->addr);
  g_free (t);
}

typedef struct {
  SfSipProto proto;
  char *host;        /* without brackets */
  guint port;        /* 0: none given */
  gboolean secure;
} Query;

static void
query_free (Query *q)
{
  g_free (q->host);
  g_free (q);
}

static Query *
query_of (const SfSipUri *uri)
{
  Query *q = g_new0 (Query, 1);
  q->secure = uri->kind == SF_URI_SIPS;
  const SfSipParam *tp = sf_sip_uri_param (uri, "transport");
  /* 4.1: an explicit transport wins; else UDP for sip, TCP (TLS) for sips. */
  q->proto = q->secure || (tp != NULL && sf_sip_str_caseeq (tp->value, "tcp")) ? SF_SIP_TCP : SF_SIP_UDP;
  const SfSipParam *maddr = sf_sip_uri_param (uri, "maddr");
  SfSipStr h = maddr != NULL && sf_sip_str_is_set (maddr->value) ? maddr->value : uri->host;
  if (h.len >= 2 && h.p[0] == '[')
    h = sf_sip_str (h.p + 1, h.len - 2);
  q->host = sf_sip_str_dup (h);
  q->port = uri->port;
  return q;
}

static GPtrArray *
targets_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) sf_sip_target_free);
}

static void
add (GPtrArray *out, SfSipProto proto, GInetAddress *ip, guint port)
{
  SfSipTarget *t = g_new0 (SfSipTarget, 1);
  t->proto = proto;
  t->addr = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, (guint16) port));
  g_ptr_array_add (out, t);
}

static guint
default_port (const Query *q)
{
  return q->port != 0 ? q->port : q->secure ? 5061 : 5060;
}

GPtrArray *
sf_sip_resolve_numeric (const SfSipUri *uri)
{
  if (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS)
    return NULL;
  Query *q = query_of (uri);
  g_autoptr (GInetAddress) ip = g_inet_address_new_from_string (q->host);
  GPtrArray *out = NULL;
  if (ip != NULL) {
    out = targets_new ();
    add (out, q->proto, ip, default_port (q));
  }
  query_free (q);
  return out;
}

/* ---- the asynchronous path: SRV, then A/AAAA ---- */

typedef struct {
  Query *q;
  GPtrArray *out;
  GList *srv;        /* GSrvTarget, still to look up */
} Job;

static void
job_free (Job *j)
{
  query_free (j->q);
  if (j->out != NULL)
    g_ptr_array_unref (j->out);
  g_list_free_full (j->srv, (GDestroyNotify) g_srv_target_free);
  g_free (j);
}

static void next_srv (GTask *task);

static void
on_addresses (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  Job *j = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  GList *addrs = g_resolver_lookup_by_name_finish (G_RESOLVER (src), res, &error);
  guint port = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (task), "port"));
  for (GList *l = addrs; l != NULL; l = l->next)
    add (j->out, j->q->proto, l->data, port);
  g_resolver_free_addresses (addrs);
  if (j->srv != NULL) {
    next_srv (task);
    return;
  }
  if (j->out->len == 0)
    g_task_return_new_error (task, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "'%s': no address (%s)", j->q->host,
                             error != NULL ? error->message : "none");
  else
    g_task_return_pointer (task, g_ptr_array_ref (j->out), (GDestroyNotify) g_ptr_array_unref);
  g_object_unref (task);
}

static void
lookup_addresses (GTask *task, const char *host, guint port)
{
  g_object_set_data (G_OBJECT (task), "port", GUINT_TO_POINTER (port));
  g_autoptr (GResolver) r = g_resolver_get_default ();
  g_resolver_lookup_by_name_async (r, host, g_task_get_cancellable (task), on_addresses, task);
}

static void
next_srv (GTask *task)
{
  Job *j = g_task_get_task_data (task);
  GSrvTarget *t = j->srv->data;
  j->srv = g_list_delete_link (j->srv, j->srv);
  g_autofree char *host = g_strdup (g_srv_target_get_hostname (t));
  guint port = g_srv_target_get_port (t);
  g_srv_target_free (t);
  lookup_addresses (task, host, port);
}

static void
on_srv (GObject *src, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  Job *j = g_task_get_task_data (task);
  GList *targets = g_resolver_lookup_service_finish (G_RESOLVER (src), res, NULL);
  if (targets != NULL) {
    j->srv = targets; /* already ordered by priority and weight (RFC 2782) */
    next_srv (task);
    return;
  }
  /* 4.2: no SRV records: A/AAAA with the default port. */
  lookup_addresses (task, j->q->host, default_port (j->q));
}

void
sf_sip_resolve_async (const SfSipUri *uri, GCancellable *cancellable, GAsyncReadyCallback callback,
                      gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  if (uri->kind != SF_URI_SIP && uri->kind != SF_URI_SIPS) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "only sip and sips URIs are located");
    g_object_unref (task);
    return;
  }
  GPtrArray *numeric = sf_sip_resolve_numeric (uri);
  if (numeric != NULL) {
    g_task_return_pointer (task, numeric, (GDestroyNotify) g_ptr_array_unref);
    g_object_unref (task);
    return;
  }
  Job *j = g_new0 (Job, 1);
  j->q = query_of (uri);
  j->out = targets_new ();
  g_task_set_task_data (task, j, (GDestroyNotify) job_free);
  if (j->q->port != 0) {
    lookup_addresses (task, j->q->host, j->q->port); /* 4.2: a port given: no SRV */
    return;
  }
  const char *service = j->q->secure ? "sips" : "sip";
  const char *proto = j->q->proto == SF_SIP_TCP ? "tcp" : "udp";
  g_autoptr (GResolver) r = g_resolver_get_default ();
  g_resolver_lookup_service_async (r, service, proto, j->q->host, cancellable, on_srv, task);
}

GPtrArray *
sf_sip_resolve_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
