/* test-ua-refer.c: the parsers of REFER (RFC 3515, RFC 4488;
 * operators/ua/sf-refer.c).
 *  - Refer-To: name-addr with a display name and params, addr-spec, a
 *    method parameter, a maddr parameter (kept for the policy), another scheme, an embedded Replaces unescaped; empty,
 *    no '>', junk after it, '?' outside brackets, a bad URI, two Replaces,
 *    a Replaces with CR LF or NUL or too long: refused
 *  - Refer-Sub: true, false, any case, with params; other words, junk: refused
 *  - sipfrag: a Status-Line with or without its CRLF, header lines after it;
 *    empty, another version, a status out of range, a bare LF, a control
 *    character, a NUL, an over-long reason: refused
 *  - the attended Refer-To: Replaces escaped, read back by the parser */
#include "config.h"
#include "sf-test.h"
#include "operators/ua/sf-refer.h"
#include <string.h>

static gboolean
refer_to (const char *text, SfReferTo *out)
{
  return sf_refer_parse_refer_to (sf_sip_str (text, strlen (text)), out, NULL);
}

static void
refer_to_values (void)
{
  g_auto (SfReferTo) r = { 0 };
  CU_ASSERT_TRUE (refer_to ("\"Carol C\" <sip:carol@Example.COM:5070;transport=udp>;foo=bar", &r));
  CU_ASSERT_STRING_EQUAL (r.uri, "sip:carol@Example.COM:5070;transport=udp");
  CU_ASSERT_STRING_EQUAL (r.host, "Example.COM");
  CU_ASSERT_TRUE (r.sip);
  CU_ASSERT_PTR_NULL (r.method);
  CU_ASSERT_PTR_NULL (r.replaces);
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("sip:carol@example.com", &r));
  CU_ASSERT_STRING_EQUAL (r.uri, "sip:carol@example.com");
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<sip:carol@[::1]:5060;method=BYE>", &r));
  CU_ASSERT_STRING_EQUAL (r.method, "BYE");
  CU_ASSERT_STRING_EQUAL (r.host, "::1");
  sf_refer_to_clear (&r);
  /* maddr (where the INVITE would go instead of the host): kept for the policy */
  CU_ASSERT_TRUE (refer_to ("<sip:carol@example.com;lr;maddr=[2001:db8::1]>", &r));
  CU_ASSERT_STRING_EQUAL (r.host, "example.com");
  CU_ASSERT_STRING_EQUAL (r.maddr, "2001:db8::1");
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<sip:carol@example.com;maddr>", &r));
  CU_ASSERT_STRING_EQUAL (r.maddr, "");
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<sip:carol@example.com>", &r));
  CU_ASSERT_PTR_NULL (r.maddr);
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<mailto:carol@example.com>", &r));
  CU_ASSERT_FALSE (r.sip);
  sf_refer_to_clear (&r);
  CU_ASSERT_TRUE (refer_to ("<sip:carol@example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2&Subject=x>", &r));
  CU_ASSERT_STRING_EQUAL (r.uri, "sip:carol@example.com");
  CU_ASSERT_STRING_EQUAL (r.replaces, "abc@h;to-tag=1;from-tag=2");
  sf_refer_to_clear (&r);
  g_autofree char *big = g_strdup_printf ("<sip:c@h?Replaces=%0*d>", SF_REFER_MAX_REPLACES + 1, 0);
  const char *bad[] = { "", "  ", "<sip:carol@example.com", "<sip:carol@example.com> junk",
                        "sip:carol@example.com?Replaces=x", "<sip:>", "\"open <sip:a@b>",
                        "<sip:c@h?Replaces=a&Replaces=b>", "<sip:c@h?Replaces=a%0D%0AVia:x>", "<sip:c@h?Replaces=a%00b>",
                        "<sip:c@h?Replaces=>", big };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    SfReferTo b = { 0 };
    CU_ASSERT_FALSE (refer_to (bad[i], &b));
    CU_ASSERT_PTR_NULL (b.uri);
    CU_ASSERT_PTR_NULL (b.replaces);
  }
  /* a NUL inside the value (it came from the network with its length) */
  SfReferTo b = { 0 };
  CU_ASSERT_FALSE (sf_refer_parse_refer_to (sf_sip_str ("<sip:a@b>\0x", 11), &b, NULL));
}

static gboolean
refer_sub (const char *text, gboolean *v)
{
  return sf_refer_parse_refer_sub (sf_sip_str (text, strlen (text)), v, NULL);
}

static void
refer_sub_values (void)
{
  gboolean v = TRUE;
  CU_ASSERT_TRUE (refer_sub ("false", &v));
  CU_ASSERT_FALSE (v);
  CU_ASSERT_TRUE (refer_sub (" TRUE ;x=1", &v));
  CU_ASSERT_TRUE (v);
  CU_ASSERT_TRUE (refer_sub ("False", &v));
  CU_ASSERT_FALSE (v);
  const char *bad[] = { "", "maybe", "truex", "false x", "1", "t rue" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    CU_ASSERT_FALSE (refer_sub (bad[i], &v));
}

static gboolean
frag (const char *text, gsize len, guint *status, char **reason)
{
  return sf_refer_parse_sipfrag (text, len, status, reason, NULL);
}

static void
sipfrag_values (void)
{
  guint st = 0;
  char *r = NULL;
  CU_ASSERT_TRUE (frag ("SIP/2.0 100 Trying\r\n", 20, &st, &r));
  CU_ASSERT_EQUAL (st, 100);
  CU_ASSERT_STRING_EQUAL (r, "Trying");
  g_free (r);
  const char *h = "SIP/2.0 200 OK\r\nContact: <sip:c@h>\r\n";
  CU_ASSERT_TRUE (frag (h, strlen (h), &st, &r));
  CU_ASSERT_EQUAL (st, 200);
  CU_ASSERT_STRING_EQUAL (r, "OK");
  g_free (r);
  CU_ASSERT_TRUE (frag ("SIP/2.0 486 Busy Here", 21, &st, &r)); /* the body's end ends the line */
  CU_ASSERT_EQUAL (st, 486);
  CU_ASSERT_STRING_EQUAL (r, "Busy Here");
  g_free (r);
  CU_ASSERT_TRUE (frag ("SIP/2.0 603 ", 12, &st, &r)); /* an empty reason phrase */
  CU_ASSERT_STRING_EQUAL (r, "");
  g_free (r);
  g_autofree char *longr = g_strdup_printf ("SIP/2.0 200 %0*d\r\n", SF_REFER_MAX_REASON + 1, 0);
  const char *bad[] = { "", "SIP/2.1 200 OK\r\n", "SIP/2.0 099 X\r\n", "SIP/2.0 700 X\r\n", "SIP/2.0 20 OK\r\n",
                        "SIP/2.0 200OK\r\n", "SIP/2.0 200 OK\n", "SIP/2.0 200 OK\r", "SIP/2.0 200 O\001K\r\n",
                        "INVITE sip:a@b SIP/2.0\r\n", longr };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    r = NULL;
    CU_ASSERT_FALSE (frag (bad[i], strlen (bad[i]), &st, &r));
    CU_ASSERT_PTR_NULL (r);
  }
  r = NULL;
  CU_ASSERT_FALSE (frag ("SIP/2.0 200 OK\r\n\0", 17, &st, &r));
  CU_ASSERT_FALSE (frag (NULL, 0, &st, &r));
  CU_ASSERT_PTR_NULL (r);
}

static void
attended_refer_to (void)
{
  g_autofree char *v = sf_refer_to_with_replaces ("sip:carol@127.0.0.1:5070", "a84b4c76e66710@pc33", "c2", "a 1");
  CU_ASSERT_STRING_EQUAL (v, "<sip:carol@127.0.0.1:5070?Replaces=a84b4c76e66710%40pc33%3Bto-tag%3Dc2%3Bfrom-tag%3Da%201>");
  g_auto (SfReferTo) r = { 0 };
  CU_ASSERT_TRUE (refer_to (v, &r));
  CU_ASSERT_STRING_EQUAL (r.uri, "sip:carol@127.0.0.1:5070");
  CU_ASSERT_STRING_EQUAL (r.replaces, "a84b4c76e66710@pc33;to-tag=c2;from-tag=a 1");
}

void
sf_test_register_ua_refer (void)
{
  CU_pSuite s = CU_add_suite ("ua-refer", NULL, NULL);
  CU_add_test (s, "Refer-To", refer_to_values);
  CU_add_test (s, "Refer-Sub", refer_sub_values);
  CU_add_test (s, "message/sipfrag", sipfrag_values);
  CU_add_test (s, "attended Refer-To with Replaces", attended_refer_to);
}
