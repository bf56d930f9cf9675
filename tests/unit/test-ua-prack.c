/* test-ua-prack.c: the RSeq and RAck parsers of the UA (RFC 3262 7.1, 7.2;
 * operators/ua/sf-op-prack.c).
 *  - rseq: 1*DIGIT from 1 to 2**32-1, LWS around taken; 0, 2**32, signs, junk,
 *    empty, two numbers, more than 10 digits: refused
 *  - rack: RSEQ CSEQ METHOD separated by LWS (tabs, folds); CSeq below 2**31;
 *    a missing part, a zero, an out-of-range number, a method that is no token,
 *    a fourth word: refused
 *  - headers: the values as the message parser gives them (RAck, RSeq found by name) */
#include "config.h"
#include "sf-test.h"
#include "operators/ua/sf-ua-call.h"
#include <string.h>

static gboolean
parse_rseq (const char *text, guint32 *out)
{
  return sf_ua_parse_rseq (sf_sip_str (text, strlen (text)), out);
}

static gboolean
parse_rack (const char *text, guint32 *r, guint32 *c, char **m)
{
  return sf_ua_parse_rack (sf_sip_str (text, strlen (text)), r, c, m);
}

static void
rseq_values (void)
{
  guint32 v = 0;
  CU_ASSERT_TRUE (parse_rseq ("1", &v));
  CU_ASSERT_EQUAL (v, 1);
  CU_ASSERT_TRUE (parse_rseq ("988789", &v));
  CU_ASSERT_EQUAL (v, 988789);
  CU_ASSERT_TRUE (parse_rseq (" 4294967295 ", &v));
  CU_ASSERT_EQUAL (v, 4294967295u);
  CU_ASSERT_TRUE (parse_rseq ("0000000042", &v));
  CU_ASSERT_EQUAL (v, 42);
  static const char *const bad[] = { "", " ", "0", "4294967296", "99999999999", "-1", "+1", "1x", "x1", "1 2",
                                     "1.5", "00000000001", "１", NULL };
  for (guint i = 0; bad[i] != NULL; i++) {
    v = 7;
    CU_ASSERT_FALSE (parse_rseq (bad[i], &v));
    CU_ASSERT_EQUAL (v, 7); /* untouched */
  }
}

static void
rack_values (void)
{
  guint32 r = 0, c = 0;
  char *m = NULL;
  CU_ASSERT_TRUE (parse_rack ("776656 1 INVITE", &r, &c, &m));
  CU_ASSERT_EQUAL (r, 776656);
  CU_ASSERT_EQUAL (c, 1);
  CU_ASSERT_STRING_EQUAL (m, "INVITE");
  g_clear_pointer (&m, g_free);
  CU_ASSERT_TRUE (parse_rack ("4294967295\t2147483647  INVITE ", &r, &c, &m));
  CU_ASSERT_EQUAL (r, 4294967295u);
  CU_ASSERT_EQUAL (c, 2147483647u);
  g_clear_pointer (&m, g_free);
  CU_ASSERT_TRUE (parse_rack ("5 6\r\n INVITE", &r, &c, &m)); /* a fold is LWS */
  CU_ASSERT_STRING_EQUAL (m, "INVITE");
  g_clear_pointer (&m, g_free);
  CU_ASSERT_TRUE (parse_rack ("5 6 invite", &r, &c, &m)); /* parsed; the match is case-sensitive (OpPrack) */
  CU_ASSERT_STRING_EQUAL (m, "invite");
  g_clear_pointer (&m, g_free);
  static const char *const bad[] = { "", "1", "1 2", "1 2 ", "1  INVITE", "0 1 INVITE", "1 0 INVITE",
                                     "4294967296 1 INVITE", "1 2147483648 INVITE", "1 2 INVITE x", "1 2 INV<ITE",
                                     "1,2,INVITE", "a 2 INVITE", "1 b INVITE", "1 2 \"INVITE\"", "12345678901 1 INVITE",
                                     "-1 2 INVITE", "1 2INVITE", "1INVITE 2", NULL };
  for (guint i = 0; bad[i] != NULL; i++) {
    m = NULL;
    CU_ASSERT_FALSE (parse_rack (bad[i], &r, &c, &m));
    CU_ASSERT_PTR_NULL (m);
  }
}

static void
headers (void)
{
  const char *text = "SIP/2.0 183 Session Progress\r\n"
                     "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776\r\n"
                     "To: <sip:bob@127.0.0.1>;tag=b1\r\n"
                     "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
                     "Call-ID: c1\r\n"
                     "CSeq: 1 INVITE\r\n"
                     "Require: 100rel\r\n"
                     "RSeq:   913\r\n"
                     "RAck: 913\r\n 1 INVITE\r\n"
                     "Content-Length: 0\r\n\r\n";
  g_autoptr (GBytes) b = g_bytes_new_static (text, strlen (text));
  g_autoptr (SfSipMsg) msg = sf_sip_msg_parse (b, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (msg);
  const SfSipHdr *h = sf_sip_msg_find_name (msg, "rseq");
  guint32 v = 0, c = 0;
  CU_ASSERT_PTR_NOT_NULL_FATAL (h);
  CU_ASSERT_TRUE (sf_ua_parse_rseq (h->value, &v));
  CU_ASSERT_EQUAL (v, 913);
  h = sf_sip_msg_find_name (msg, "RAck");
  CU_ASSERT_PTR_NOT_NULL_FATAL (h);
  g_autofree char *m = NULL;
  CU_ASSERT_TRUE (sf_ua_parse_rack (h->value, &v, &c, &m));
  CU_ASSERT_EQUAL (v, 913);
  CU_ASSERT_EQUAL (c, 1);
  CU_ASSERT_STRING_EQUAL (m, "INVITE");
}

void
sf_test_register_ua_prack (void)
{
  CU_pSuite s = CU_add_suite ("ua-prack", NULL, NULL);
  SF_ADD_TEST (s, rseq_values);
  SF_ADD_TEST (s, rack_values);
  SF_ADD_TEST (s, headers);
}
