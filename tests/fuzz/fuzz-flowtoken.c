/* fuzz-flowtoken.c: fuzz target for the flow token parser
 * (sip/sf-sip-flow-token.c), which reads the ";sff=" parameter of a Route
 * from the network.  The input is a token, checked as both kinds under a
 * fixed key (a Record-Route token for the Call-ID "fuzz-call").  Invariant (aborts): a token taken is one the maker gives back,
 * byte for byte once in lower case, for the flow it names (no two tokens for
 * one flow, so nothing but our own MAC passes); the hop URI made from it
 * parses.  Seeds: tokens made under the key (IPv4, IPv6, UDP, TCP with its
 * connection id and boot value) and near-misses. */
#include "config.h"
#include "sip/sf-sip-flow-token.h"
#include "sip/sf-sip-uri.h"
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const SfFlowTokenKind kinds[] = { SF_FLOW_TOKEN_RR, SF_FLOW_TOKEN_PATH };
  guint8 key[SF_FLOW_TOKEN_KEY_LEN];
  memset (key, 0x5a, sizeof key); /* the seeds' key */
  SfSipStr in = sf_sip_str ((const char *) data, size);
  SfSipStr call_id = sf_sip_str ("fuzz-call", 9);
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++) {
    SfFlowTokenFlow f = { 0 };
    if (!sf_flow_token_check (key, kinds[k], in, call_id, &f))
      continue;
    char *again = sf_flow_token_make (key, kinds[k], &f, call_id);
    if (again == NULL || strlen (again) != size || g_ascii_strncasecmp (again, (const char *) data, size) != 0)
      __builtin_trap ();
    char *hop = sf_flow_token_hop (&f);
    SfSipUri *u = hop != NULL ? sf_sip_uri_parse (sf_sip_str (hop, strlen (hop)), NULL, NULL) : NULL;
    if (u == NULL)
      __builtin_trap ();
    sf_sip_uri_free (u);
    g_free (hop);
    g_free (again);
    sf_flow_token_flow_clear (&f);
  }
  return 0;
}
