/* fuzz-sip.c: fuzz target for the SIP message layer: datagram parsing with
 * every header parsed (sf_sip_msg_check_all), the serialize/parse round trip,
 * stream framing, and URI parsing and comparison of the same bytes. */
#include "config.h"
#include "sip/sf-sip-msg.h"
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GBytes *bytes = g_bytes_new_static (data, size);
  SfSipMsg *m = sf_sip_msg_parse (bytes, NULL);
  if (m != NULL) {
    sf_sip_msg_check_all (m, NULL);
    GArray *parts = sf_sip_msg_multipart (m, NULL);
    SfSipStr body = sf_sip_msg_body (m);
    for (guint i = 0; parts != NULL && i < parts->len; i++) {
      SfSipPart *p = &g_array_index (parts, SfSipPart, i);
      if (p->body.p < body.p || p->body.p + p->body.len > body.p + body.len)
        __builtin_trap ();
    }
    if (parts != NULL)
      g_array_unref (parts);
    GBytes *wire = sf_sip_msg_serialize (m);
    SfSipMsg *again = sf_sip_msg_parse (wire, NULL);
    /* What parsed once must parse again from its own serialization. */
    if (again == NULL)
      __builtin_trap ();
    if (sf_sip_msg_n_headers (again) != sf_sip_msg_n_headers (m))
      __builtin_trap ();
    sf_sip_msg_unref (again);
    g_bytes_unref (wire);
    sf_sip_msg_unref (m);
  }
  gsize skip, len;
  if (sf_sip_stream_frame ((const char *) data, size, &skip, &len, NULL) && skip + len > size)
    __builtin_trap ();
  SfSipUri *u = sf_sip_uri_parse (sf_sip_str ((const char *) data, size), NULL, NULL);
  if (u != NULL) {
    if (!sf_sip_uri_equal (u, u))
      __builtin_trap ();
    sf_sip_uri_free (u);
  }
  g_bytes_unref (bytes);
  return 0;
}
