/* test-ua-message.c: what of MESSAGE (operators/ua/sf-op-message.c) is
 * unit-testable without a peer:
 *  - body: sf_ua_message_body_status on MESSAGEs built here: text/plain (any
 *    case, charset UTF-8 or US-ASCII, quoted or not), another text type, an
 *    empty body whatever its type: taken; a type that is not text, another
 *    charset: 415 with Accept; Content-Encoding gzip: 415 with
 *    Accept-Encoding; 1300 bytes taken, 1301: 413 (RFC 3428 8); a NUL or bytes
 *    that are not UTF-8: 400 with a reason;
 *  - untaken: without the flow, the stack's answer to MESSAGE is 405 and Allow
 *    lists MESSAGE (the flow takes it: it is allowed). */
#include "config.h"
#include "sf-test.h"
#include "operators/ua/sf-ua-call.h"
#include "operators/transaction/sf-txn-answers.h"
#include <string.h>

/* A MESSAGE with the header lines @headers (each ending in CRLF, may be "")
 * and the body of @len bytes at @body. */
static SfSipMsg *
message (const char *headers, const char *body, gsize len)
{
  g_autofree char *head = g_strdup_printf ("MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\n"
                                           "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKmsg\r\n"
                                           "From: <sip:alice@127.0.0.1>;tag=a1\r\nTo: <sip:bob@127.0.0.1>\r\n"
                                           "Call-ID: message@test\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
                                           "%sContent-Length: %" G_GSIZE_FORMAT "\r\n\r\n",
                                           headers, len);
  GByteArray *a = g_byte_array_new ();
  g_byte_array_append (a, (const guint8 *) head, (guint) strlen (head));
  g_byte_array_append (a, (const guint8 *) body, (guint) len);
  g_autoptr (GBytes) b = g_byte_array_free_to_bytes (a);
  return sf_sip_msg_parse (b, NULL);
}

/* The status the body of such a MESSAGE gets, its line and reason in @line, @reason. */
static guint
status_of (const char *headers, const char *body, gsize len, char **line, const char **reason)
{
  g_autoptr (SfSipMsg) m = message (headers, body, len);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  return sf_ua_message_body_status (m, line, reason);
}

static void
expect (const char *headers, const char *body, gsize len, guint want, const char *want_line)
{
  g_autofree char *line = NULL;
  const char *reason = NULL;
  guint got = status_of (headers, body, len, &line, &reason);
  CU_ASSERT_EQUAL (got, want);
  if (got != want)
    fprintf (stderr, "\nmessage body: headers '%s': %u, wanted %u\n", headers, got, want);
  if (want_line != NULL) {
    CU_ASSERT_TRUE (line != NULL && strstr (line, want_line) != NULL);
  } else {
    CU_ASSERT_PTR_NULL (line);
  }
  CU_ASSERT_TRUE (want == 400 ? reason != NULL : reason == NULL);
}

static void
test_body (void)
{
  const char *hi = "hello";
  expect ("Content-Type: text/plain\r\n", hi, 5, 0, NULL);
  expect ("Content-Type: Text/Plain;charset=utf-8\r\n", hi, 5, 0, NULL);
  expect ("Content-Type: text/plain; charset=\"UTF-8\"\r\n", hi, 5, 0, NULL);
  expect ("Content-Type: text/plain;charset=US-ASCII\r\n", hi, 5, 0, NULL);
  expect ("Content-Type: text/html\r\n", "<b>x</b>", 8, 0, NULL); /* a text type: taken, as data */
  expect ("Content-Type: application/octet-stream\r\n", "", 0, 0, NULL); /* empty: taken */
  expect ("Content-Encoding: identity\r\nContent-Type: text/plain\r\n", hi, 5, 0, NULL);
  const char *utf8 = "caf\xc3\xa9 \xe2\x9c\x93 \"q\"\n";
  expect ("Content-Type: text/plain;charset=UTF-8\r\n", utf8, strlen (utf8), 0, NULL);

  expect ("Content-Type: application/octet-stream\r\n", hi, 5, 415, "Accept: text/plain");
  expect ("Content-Type: image/png\r\n", hi, 5, 415, "Accept: text/plain");
  expect ("Content-Type: textual/plain\r\n", hi, 5, 415, "Accept: text/plain");
  expect ("Content-Type: text/plain;charset=ISO-8859-1\r\n", hi, 5, 415, "Accept: text/plain");
  expect ("Content-Encoding: gzip\r\nContent-Type: text/plain\r\n", hi, 5, 415, "Accept-Encoding: identity");
  /* every value of every Content-Encoding, not only the first (20.12) */
  expect ("Content-Encoding: identity, gzip\r\nContent-Type: text/plain\r\n", hi, 5, 415, "Accept-Encoding: identity");
  expect ("Content-Encoding: identity\r\nContent-Encoding: gzip\r\nContent-Type: text/plain\r\n", hi, 5, 415,
          "Accept-Encoding: identity");

  g_autofree char *big = g_strnfill (SF_UA_MESSAGE_MAX_BODY + 1, 'x');
  expect ("Content-Type: text/plain\r\n", big, SF_UA_MESSAGE_MAX_BODY, 0, NULL);
  expect ("Content-Type: text/plain\r\n", big, SF_UA_MESSAGE_MAX_BODY + 1, 413, NULL);

  expect ("Content-Type: text/plain\r\n", "a\0b", 3, 400, NULL);
  expect ("Content-Type: text/plain\r\n", "caf\xe9", 4, 400, NULL);      /* Latin-1, not UTF-8 */
  expect ("Content-Type: text/plain\r\n", "\xc3", 1, 400, NULL);          /* a cut sequence */
}

static void
test_untaken (void)
{
  const SfTxnAnswers *p = sf_txn_answers_default ();
  g_autoptr (SfSipMsg) m = message ("", "", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_EQUAL (sf_txn_answers_untaken (p, m, NULL), 405);
  CU_ASSERT_PTR_NOT_NULL (strstr (SF_STACK_ALLOW, "MESSAGE"));
}

void
sf_test_register_ua_message (void)
{
  CU_pSuite s = CU_add_suite ("ua_message", NULL, NULL);
  SF_ADD_TEST (s, test_body);
  SF_ADD_TEST (s, test_untaken);
}
