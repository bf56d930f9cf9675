/* fuzz-refer.c: fuzz target for the parsers of REFER (operators/ua/sf-refer.c),
 * which read a REFER's Refer-To and Refer-Sub and its NOTIFYs' message/sipfrag
 * bodies from the network.  The input goes through all three.  Invariants
 * (abort): a Refer-To taken has a URI that parses again, a host and, when
 * that URI has a maddr, the maddr the policy judges; its Replaces
 * (which becomes a header line of our INVITE) has no control character and
 * at most SF_REFER_MAX_REPLACES bytes; a sipfrag taken has a status 100..699
 * and a reason without control characters.  Seeds: Refer-To values (blind,
 * attended with an escaped Replaces, hostile escapes), Refer-Sub values,
 * sipfrag bodies. */
#include "config.h"
#include "operators/ua/sf-refer.h"
#include "sip/sf-sip-uri.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  SfSipStr in = sf_sip_str ((const char *) data, size);
  SfReferTo rt = { 0 };
  if (sf_refer_parse_refer_to (in, &rt, NULL)) {
    SfSipUri *u = sf_sip_uri_parse (sf_sip_str (rt.uri, strlen (rt.uri)), NULL, NULL);
    if (u == NULL)
      abort ();
    /* the policy judges where the INVITE goes: the host, and a maddr when
     * the URI we call has one (the resolver would go there) */
    if (rt.sip && (rt.host == NULL || (sf_sip_uri_param (u, "maddr") != NULL) != (rt.maddr != NULL)))
      abort ();
    sf_sip_uri_free (u);
    if (rt.replaces != NULL) {
      gsize n = strlen (rt.replaces);
      if (n == 0 || n > SF_REFER_MAX_REPLACES)
        abort ();
      for (gsize i = 0; i < n; i++)
        if ((guchar) rt.replaces[i] < 0x20 || rt.replaces[i] == 0x7f)
          abort ();
    }
  }
  sf_refer_to_clear (&rt);
  gboolean sub;
  (void) sf_refer_parse_refer_sub (in, &sub, NULL);
  guint status = 0;
  char *reason = NULL;
  if (sf_refer_parse_sipfrag ((const char *) data, size, &status, &reason, NULL)) {
    if (status < 100 || status > 699 || reason == NULL || strlen (reason) > SF_REFER_MAX_REASON)
      abort ();
    for (const char *p = reason; *p != '\0'; p++)
      if ((guchar) *p < 0x20 && *p != '\t')
        abort ();
  }
  g_free (reason);
  return 0;
}
