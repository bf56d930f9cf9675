/* fuzz-sip.c: fuzz target for the SIP message layer: datagram parsing with
 * every header parsed (sf_sip_msg_check_all), the serialize/parse round trip,
 * the transport's framed/validated/400 path, stream framing, and URI parsing and comparison of the same bytes. */
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
  gboolean parsed = m != NULL;
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
  /* The transport's path: framed, then validated, else the 400 (or 505) built. */
  SfSipMsg *f = sf_sip_msg_parse_framed (bytes, NULL);
  if (f != NULL) {
    GError *e = NULL;
    if (!sf_sip_msg_validate (f, &e)) {
      GBytes *answer = sf_sip_msg_bad_request (f, e->message);
      gsize alen;
      const char *a = answer != NULL ? g_bytes_get_data (answer, &alen) : NULL;
      if (a != NULL && (alen < 12 || memcmp (a, "SIP/2.0 ", 8) != 0))
        __builtin_trap ();
      if (answer != NULL)
        g_bytes_unref (answer);
      g_error_free (e);
    } else if (!parsed) {
      __builtin_trap (); /* framed and valid, so sf_sip_msg_parse took it */
    }
    sf_sip_msg_unref (f);
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
