/* fuzz-replaces.c: fuzz target for the Replaces header parser
 * (operators/ua/sf-replaces.c, RFC 3891 6.1), which reads a header of a new
 * INVITE from the network, and the ?Replaces= value a Refer-To URI carries.
 * The input is parsed as a header value and as an escaped URI header value.
 * Invariant (aborts): a value taken formats to one that parses back to the
 * same Call-ID, tags and flag, in both forms.  Seeds: RFC 3891's examples,
 * escaped forms, generic parameters, and near-misses. */
#include "config.h"
#include "operators/ua/sf-replaces.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
same (const SfReplaces *a, const SfReplaces *b)
{
  if (b == NULL || strcmp (a->call_id, b->call_id) != 0 || strcmp (a->to_tag, b->to_tag) != 0 ||
      strcmp (a->from_tag, b->from_tag) != 0 || a->early_only != b->early_only)
    abort ();
}

static void
round_trip (SfReplaces *r)
{
  if (r == NULL)
    return;
  char *plain = sf_replaces_format (r);
  char *esc = sf_replaces_format_escaped (r);
  SfReplaces *p = sf_replaces_parse (plain, strlen (plain), NULL);
  same (r, p);
  SfReplaces *e = strlen (esc) <= 3 * SF_REPLACES_MAX_LEN ? sf_replaces_parse_escaped (esc, strlen (esc), NULL) : NULL;
  if (strlen (esc) <= 3 * SF_REPLACES_MAX_LEN)
    same (r, e);
  sf_replaces_free (p);
  sf_replaces_free (e);
  g_free (plain);
  g_free (esc);
  sf_replaces_free (r);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  round_trip (sf_replaces_parse ((const char *) data, size, NULL));
  round_trip (sf_replaces_parse_escaped ((const char *) data, size, NULL));
  return 0;
}
