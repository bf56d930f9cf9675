/* fuzz-proxy.c: fuzz target for the stateful proxy (xml/proxy.xml and
 * proxy-branch.xml over the transaction machines, with its registrar and
 * location service).  The input is a script of parts separated by a line "--":
 *  - "ADV N" moves the fake clock N ms (firing timers);
 *  - "RESP CODE" answers the last request the proxy sent with a response CODE,
 *    built from it (its Vias, our branch on top, so it reaches the branch's
 *    client transaction and the response context), from the downstream peer;
 *  - anything else is a datagram from 127.0.0.1:9.
 * Nothing leaves the process but UDP to 127.0.0.1 (a send filter refuses the
 * rest, which the proxy sees as a transport error), and names are not resolved.
 * Randomness is seeded, so a corpus entry replays the same way; SF_FUZZ_TRACE=1
 * writes the engine's trace on standard error. */
#include "config.h"
#include "framework/sf-loader.h"
#include "framework/sf-stack.h"
#include "fuzz-script.h"
#include "operators/proxy/sf-proxy.h"
#include "operators/registrar/sf-registrar.h"
#include "sip/sf-sip-build.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

typedef struct {
  GBytes *last_request;   /* the last request the proxy sent */
} Capture;

static gboolean
filter (SfSipProto proto, GInetSocketAddress *dest, GBytes *wire, gpointer data)
{
  Capture *c = data;
  gsize n = 0;
  const char *p = g_bytes_get_data (wire, &n);
  if (n > 8 && memcmp (p, "SIP/2.0 ", 8) != 0) {
    g_clear_pointer (&c->last_request, g_bytes_unref);
    c->last_request = g_bytes_ref (wire);
  }
  if (proto != SF_SIP_UDP || dest == NULL)
    return FALSE;
  GInetAddress *a = g_inet_socket_address_get_address (dest);
  return g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV4 && g_inet_address_get_is_loopback (a);
}

static void
settle (SfEndpoint *ep)
{
  for (int i = 0; i < 64; i++) {
    gboolean busy = g_main_context_iteration (NULL, FALSE); /* the location service answers in the main loop */
    busy |= sf_endpoint_drain (ep) > 0;
    if (!busy)
      break;
  }
}

typedef struct {
  SfStack *stack;
  Capture *cap;
} Resp;

/* "RESP CODE": a response CODE to the last request the proxy sent, from downstream. */
static gboolean
respond (const char *part, gsize len, const SfSipPeer *from, gpointer data)
{
  Resp *r = data;
  if (len <= 5 || memcmp (part, "RESP ", 5) != 0)
    return FALSE;
  char num[16] = { 0 };
  memcpy (num, part + 5, MIN (len - 5, 12));
  guint code = (guint) g_ascii_strtoull (num, NULL, 10);
  SfSipMsg *req = r->cap->last_request != NULL ? sf_sip_msg_parse (r->cap->last_request, NULL) : NULL;
  SfSipMsg *resp = req != NULL && code >= 100 && code <= 699 ? sf_sip_create_response (req, code, NULL, "fz", NULL) : NULL;
  if (resp != NULL) {
    GBytes *b = sf_sip_msg_serialize (resp);
    sf_sip_transport_inject (sf_stack_transport (r->stack), b, from);
    g_bytes_unref (b);
    sf_sip_msg_unref (resp);
  }
  if (req != NULL)
    sf_sip_msg_unref (req);
  return TRUE;
}

static void
trace_stderr (const char *line, gpointer data)
{
  g_printerr ("trace: %s\n", line);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 65536)
    return 0;
  g_random_set_seed (1);
  SfConfig *cfg = sf_config_new ();
  sf_stack_declare_config (cfg, NULL);
  sf_registrar_declare_config (cfg, NULL);
  sf_proxy_declare_config (cfg, NULL);
  sf_config_set (cfg, "registrar.max_aors=64", NULL);
  SfRegistry *reg = sf_registry_new (cfg);
  SfLoader *loader = sf_loader_new (reg);
  SfMachine *tu = sf_loader_load (loader, "builtin:proxy.xml", NULL);
  SfEndpoint *ep = sf_endpoint_new (sf_clock_new_fake (0), reg, cfg);
  if (g_getenv ("SF_FUZZ_TRACE") != NULL) /* for whoever writes corpus entries */
    sf_endpoint_set_trace (ep, trace_stderr, NULL);
  gboolean setup = sf_registrar_setup (ep, cfg, NULL) && sf_proxy_setup (ep, cfg, NULL);
  SfStack *stack = tu != NULL && setup ? sf_stack_new (ep, loader, tu, NULL) : NULL;
  Capture cap = { 0 };
  if (stack != NULL && sf_stack_listen (stack, "udp:127.0.0.1:0", NULL)) {
    sf_stack_set_lookups (stack, FALSE);
    sf_stack_set_gate (stack, &sf_proxy_gate);
    sf_sip_transport_set_send_filter (sf_stack_transport (stack), filter, &cap);
    Resp resp = { stack, &cap };
    sf_fuzz_script (ep, stack, data, size, respond, settle, &resp);
    for (int i = 0; i < 8; i++) { /* every timer of every machine runs out (Timer C included) */
      sf_endpoint_advance (ep, 100000);
      settle (ep);
    }
  }
  g_autoptr (GPtrArray) left = sf_endpoint_instances (ep);
  for (guint i = 0; i < left->len; i++)
    sf_endpoint_kill (ep, left->pdata[i], "fuzz end");
  sf_stack_free (stack);
  sf_proxy_teardown (ep);
  sf_registrar_teardown (ep);
  sf_endpoint_free (ep);
  g_clear_pointer (&cap.last_request, g_bytes_unref);
  if (tu != NULL)
    sf_machine_unref (tu);
  sf_loader_free (loader);
  sf_registry_free (reg);
  sf_config_free (cfg);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  return 0;
}
