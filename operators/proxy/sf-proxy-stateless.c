/* sf-proxy-stateless.c: what the proxy forwards without state (RFC 3261 16.11,
 * stateless proxying): a response that matches no client transaction and
 * carries our Via on top (16.7 step 10's stray responses: a 2xx retransmitted
 * after its transaction ended, another fork's 2xx) goes on to the next Via, as
 * a stateless proxy sends it (18.2.2).  Reached through the proxy's gate
 * (SfStackGate.stray, sf_proxy_gate). */
#include "config.h"
#include "sf-proxy.h"
#include "sip/sf-sip-build.h"
#include <string.h>

static gboolean
sent_by_is_local (SfStack *s, const SfSipValue *via)
{
  if (via == NULL)
    return FALSE;
  return sf_stack_is_local_host (s, via->host, via->port != 0 ? via->port : 5060);
}

gboolean
sf_proxy_forward_stray (SfStack *s, SfSipMsg *resp, const SfSipPeer *from)
{
  const SfSipValue *top = sf_sip_msg_top_via (resp);
  const SfSipParam *branch = sf_sip_value_param (top, "branch");
  /* ours: our address and one of our branches (not any response naming us: a reflector) */
  if (!sent_by_is_local (s, top) || branch == NULL || !sf_sip_str_is_set (branch->value) ||
      branch->value.len < strlen (SF_SIP_BRANCH_COOKIE "sf") ||
      strncmp (branch->value.p, SF_SIP_BRANCH_COOKIE "sf", strlen (SF_SIP_BRANCH_COOKIE "sf")) != 0)
    return FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) fwd = sf_sip_create_forward_response (resp, &error);
  if (fwd == NULL)
    return FALSE;
  const SfSipValue *next = sf_sip_msg_top_via (fwd);
  const SfSipParam *received = sf_sip_value_param (next, "received");
  g_autofree char *host = sf_sip_str_dup (received != NULL && sf_sip_str_is_set (received->value) ? received->value : next->host);
  if (host[0] == '[')
    memmove (host, host + 1, strlen (host)), host[strlen (host) - 1] = '\0';
  g_autoptr (GInetAddress) ip = g_inet_address_new_from_string (host);
  if (ip == NULL)
    return FALSE; /* a host name to resolve: a stateless forward does not wait for DNS */
  SfSipPeer to = { 0 };
  if (!sf_sip_proto_from_name (next->transport, &to.proto))
    to.proto = SF_SIP_UDP;
  /* From the socket it came in on, as a stateless proxy answers (18.2.2),
   * unless that is this worker's own socket (core.worker_source = own): the
   * next hop upstream sent to the listener and knows that address and port. */
  gboolean same = from->proto == to.proto && from->local != NULL && !sf_stack_is_home (s, from->local);
  to.local = same ? g_object_ref (from->local) : NULL;
  to.remote = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, (guint16) (next->port != 0 ? next->port : 5060)));
  gboolean sent = sf_stack_send_response (s, fwd, &to);
  if (sent)
    sf_stack_count (s, SF_STACK_STAT_STATELESS);
  sf_sip_peer_clear (&to);
  return sent;
}

/* 16.7: a response without a transaction is forwarded by its Via only when
 * the branch on top is one this proxy made (its MAC checks): else anyone
 * could bounce responses off this proxy to any address (a reflector). */
void
sf_proxy_gate_stray (SfCtx *ctx, SfSipMsg *resp, const SfSipPeer *from, gpointer data)
{
  const SfSipParam *b = sf_sip_value_param (sf_sip_msg_top_via (resp), "branch");
  if (b != NULL && sf_proxy_branch_is_ours (sf_proxy_config (ctx), b->value))
    sf_proxy_forward_stray (sf_stack_from_ctx (ctx), resp, from);
}
