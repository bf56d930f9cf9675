/* fuzz-script.h: the script the stack-level fuzz targets read (fuzz-txn.c,
 * fuzz-proxy.c): parts separated by a line "--", at most 64; "ADV N" moves the
 * fake clock N ms (120 s at most, firing timers); "SRC N" makes 127.0.0.N:9
 * (N from 1 to 254) the source of the parts that follow; a part @other takes
 * (it returns TRUE; it gets the current source) is the target's own; anything
 * else is a datagram from the current source (first 127.0.0.1:9, the discard
 * port) to the stack.  @settle runs after each part. */
#pragma once
#include "operators/transaction/sf-stack.h"
#include <stdint.h>
#include <string.h>

typedef gboolean (*SfFuzzPart) (const char *part, gsize len, const SfSipPeer *from, gpointer data);

static inline void
sf_fuzz_script (SfEndpoint *ep, SfStack *stack, const uint8_t *data, size_t size, SfFuzzPart other,
                void (*settle) (SfEndpoint *ep), gpointer user)
{
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  SfSipPeer from = { SF_SIP_UDP, NULL, G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (lo, 9)), 0 };
  from.local = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (lo, 5060));
  g_object_unref (lo);
  const char *p = (const char *) data, *end = p + size;
  guint parts = 0;
  while (p < end && parts++ < 64) {
    const char *sep = memmem (p, (gsize) (end - p), "\n--\n", 4);
    const char *pend = sep != NULL ? sep : end;
    if (pend - p > 4 && memcmp (p, "ADV ", 4) == 0) {
      char num[16] = { 0 };
      memcpy (num, p + 4, (gsize) MIN (pend - p - 4, 12));
      sf_endpoint_advance (ep, MIN (g_ascii_strtoull (num, NULL, 10), 120000));
    } else if (pend - p > 4 && memcmp (p, "SRC ", 4) == 0) {
      char num[16] = { 0 };
      memcpy (num, p + 4, (gsize) MIN (pend - p - 4, 12));
      guint64 n = g_ascii_strtoull (num, NULL, 10);
      if (n >= 1 && n <= 254) {
        g_autofree char *ip = g_strdup_printf ("127.0.0.%u", (guint) n);
        GInetAddress *a = g_inet_address_new_from_string (ip);
        g_object_unref (from.remote);
        from.remote = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (a, 9));
        g_object_unref (a);
      }
    } else if (other == NULL || !other (p, (gsize) (pend - p), &from, user)) {
      GBytes *b = g_bytes_new (p, (gsize) (pend - p));
      sf_sip_transport_inject (sf_stack_transport (stack), b, &from);
      g_bytes_unref (b);
    }
    settle (ep);
    p = sep != NULL ? sep + 4 : end;
  }
  sf_sip_peer_clear (&from);
}
