/* test-sip-txn-key.c: transaction keys and matching (sip/sf-sip-txn-key.h),
 * with the cases of RFC 3261 17.1.3, 17.2.3 and 9.2.
 *  - server_cookie: a retransmission has its request's key; the ACK for a non-2xx
 *    (To tag added) its INVITE's; a CANCEL its own, and the INVITE's as the key
 *    of what it cancels (9.2); another method with the same branch is another
 *    transaction
 *  - server_sent_by: the sent-by host compares case-insensitively, its port as
 *    written (absent is not 5060); another host or port is another transaction
 *  - server_case: the branch compares byte for byte, the method case-sensitively
 *    ("invite" is an extension method, and "ack" no ACK)
 *  - rfc2543: no magic cookie (none, another prefix, the cookie alone; an empty
 *    or valueless branch is refused by the parser): Request-URI, From tag, Call-ID, CSeq number and top Via
 *    match; each one changed is another transaction; the ACK with our To tag
 *    finds its INVITE; a non-INVITE's To tag counts, an INVITE's does not
 *  - client: a response has its request's key (branch and CSeq method); a CANCEL
 *    sharing its INVITE's branch is another; another branch or method no match
 *  - hostile: a message without Via, a response given for a server key, a
 *    non-CANCEL given for a cancelled INVITE's key: NULL, no critical; an
 *    8,000-byte branch keys whole (one byte changed: no match)
 *  - call_key: Call-ID and From tag; without a From tag "" (both NULL: "|")
 *  - key_text: the server key's text, which event lines show: branch, the
 *    host lowered, the port as written (0 when absent, five digits), the
 *    method; an ACK's says INVITE; a method longer than 31 bytes whole */
#include "config.h"
#include "sf-test.h"
#include "sip/sf-sip-txn-key.h"
#include <string.h>

static gboolean quiet; /* a parse failure is expected: not printed */

/* A request (or, with @method NULL, a 200 response) with @via as its top Via
 * value and @to as its To value; the rest as in RFC 3261 24.2. */
static SfSipMsg *
msg_full (const char *method, const char *ruri, const char *via, const char *to, const char *from_tag,
          const char *call_id, guint cseq, const char *cseq_method)
{
  g_autofree char *start = method != NULL ? g_strdup_printf ("%s %s SIP/2.0", method, ruri) : g_strdup ("SIP/2.0 200 OK");
  g_autofree char *from = from_tag != NULL ? g_strdup_printf (";tag=%s", from_tag) : g_strdup ("");
  g_autofree char *text = g_strdup_printf ("%s\r\n"
                                           "Via: %s\r\n"
                                           "Max-Forwards: 70\r\n"
                                           "To: %s\r\n"
                                           "From: Alice <sip:alice@atlanta.com>%s\r\n"
                                           "Call-ID: %s\r\n"
                                           "CSeq: %u %s\r\n"
                                           "Content-Length: 0\r\n\r\n",
                                           start, via, to, from, call_id, cseq,
                                           cseq_method != NULL ? cseq_method : method);
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  g_autoptr (GError) error = NULL;
  SfSipMsg *m = sf_sip_msg_parse (b, &error);
  if (m == NULL && !quiet)
    g_printerr ("parse: %s\n%s", error->message, text);
  return m;
}

#define VIA "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"
#define BOB "Bob <sip:bob@biloxi.com>"
#define BOB_TAGGED "Bob <sip:bob@biloxi.com>;tag=a6c85cf"
#define CID "a84b4c76e66710@pc33.atlanta.com"

static SfSipMsg *
req (const char *method, const char *via, const char *to)
{
  return msg_full (method, "sip:bob@biloxi.com", via, to, "1928301774", CID, 314159,
                   strcmp (method, "ACK") == 0 || strcmp (method, "CANCEL") == 0 ? method : NULL);
}

static gboolean
same_server (SfSipMsg *a, SfSipMsg *b)
{
  g_autofree char *ka = sf_sip_txn_server_key (a);
  g_autofree char *kb = sf_sip_txn_server_key (b);
  CU_ASSERT_PTR_NOT_NULL (ka);
  CU_ASSERT_PTR_NOT_NULL (kb);
  return ka != NULL && kb != NULL && strcmp (ka, kb) == 0;
}

static void
server_cookie (void)
{
  g_autoptr (SfSipMsg) inv = req ("INVITE", VIA, BOB);
  g_autoptr (SfSipMsg) again = req ("INVITE", VIA, BOB);
  g_autoptr (SfSipMsg) ack = req ("ACK", VIA, BOB_TAGGED);
  g_autoptr (SfSipMsg) cancel = req ("CANCEL", VIA, BOB);
  g_autoptr (SfSipMsg) bye = req ("BYE", VIA, BOB_TAGGED);
  CU_ASSERT_TRUE (sf_sip_txn_has_cookie (inv));
  CU_ASSERT_TRUE (same_server (inv, again));
  CU_ASSERT_TRUE (same_server (inv, ack));   /* 17.2.3: ACK matches the INVITE */
  CU_ASSERT_FALSE (same_server (inv, cancel)); /* 9.2: a CANCEL is a transaction of its own */
  CU_ASSERT_FALSE (same_server (inv, bye));
  g_autofree char *ik = sf_sip_txn_server_key (inv);
  g_autofree char *ck = sf_sip_txn_cancel_target_key (cancel);
  CU_ASSERT_STRING_EQUAL (ck, ik);
  CU_ASSERT_STRING_EQUAL (ik, "z9hG4bK776asdhds|pc33.atlanta.com:0|INVITE");
  g_autofree char *own = sf_sip_txn_server_key (cancel);
  CU_ASSERT_STRING_EQUAL (own, "z9hG4bK776asdhds|pc33.atlanta.com:0|CANCEL");
  g_autofree char *forced = sf_sip_txn_server_key_for (cancel, "INVITE");
  CU_ASSERT_STRING_EQUAL (forced, ik);
  /* A CANCEL of another INVITE (another branch) does not find this one. */
  g_autoptr (SfSipMsg) other = req ("CANCEL", "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKother", BOB);
  g_autofree char *ok = sf_sip_txn_cancel_target_key (other);
  CU_ASSERT_STRING_NOT_EQUAL (ok, ik);
}

static void
server_sent_by (void)
{
  g_autoptr (SfSipMsg) inv = req ("INVITE", VIA, BOB);
  g_autoptr (SfSipMsg) upper = req ("INVITE", "SIP/2.0/UDP PC33.Atlanta.COM;branch=z9hG4bK776asdhds", BOB);
  g_autoptr (SfSipMsg) host = req ("INVITE", "SIP/2.0/UDP pc34.atlanta.com;branch=z9hG4bK776asdhds", BOB);
  g_autoptr (SfSipMsg) port = req ("INVITE", "SIP/2.0/UDP pc33.atlanta.com:5060;branch=z9hG4bK776asdhds", BOB);
  g_autoptr (SfSipMsg) port2 = req ("INVITE", "SIP/2.0/UDP pc33.atlanta.com:5061;branch=z9hG4bK776asdhds", BOB);
  g_autoptr (SfSipMsg) v6 = req ("INVITE", "SIP/2.0/UDP [2001:DB8::1]:5060;branch=z9hG4bK776asdhds", BOB);
  g_autoptr (SfSipMsg) v6l = req ("INVITE", "SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK776asdhds", BOB);
  /* a parameter other than the branch (received, rport) is no part of sent-by */
  g_autoptr (SfSipMsg) rport = req ("INVITE", VIA ";rport", BOB);
  CU_ASSERT_TRUE (same_server (inv, upper));
  CU_ASSERT_FALSE (same_server (inv, host));
  CU_ASSERT_FALSE (same_server (inv, port));
  CU_ASSERT_FALSE (same_server (port, port2));
  CU_ASSERT_TRUE (same_server (v6, v6l));
  CU_ASSERT_TRUE (same_server (inv, rport));
}

static void
server_case (void)
{
  g_autoptr (SfSipMsg) inv = req ("INVITE", VIA, BOB);
  g_autoptr (SfSipMsg) branch = req ("INVITE", "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776ASDHDS", BOB);
  g_autoptr (SfSipMsg) lower = msg_full ("invite", "sip:bob@biloxi.com", VIA, BOB, "1928301774", CID, 314159, "invite");
  g_autoptr (SfSipMsg) ack = msg_full ("ack", "sip:bob@biloxi.com", VIA, BOB_TAGGED, "1928301774", CID, 314159, "ack");
  /* a cookie in another case is no cookie (8.1.1.7: "z9hG4bK" exactly) */
  g_autoptr (SfSipMsg) cookie = req ("INVITE", "SIP/2.0/UDP pc33.atlanta.com;branch=Z9HG4BK776asdhds", BOB);
  CU_ASSERT_PTR_NOT_NULL_FATAL (lower);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ack);
  CU_ASSERT_FALSE (same_server (inv, branch));
  CU_ASSERT_FALSE (same_server (inv, lower));
  CU_ASSERT_FALSE (same_server (inv, ack)); /* "ack" is not ACK: it looks for no INVITE */
  CU_ASSERT_FALSE (sf_sip_txn_has_cookie (cookie));
  g_autofree char *k = sf_sip_txn_server_key (cookie);
  CU_ASSERT_TRUE (g_str_has_prefix (k, "2543|"));
}

static void
rfc2543 (void)
{
  const char *via = "SIP/2.0/UDP pc33.atlanta.com;branch=776asdhds";
  g_autoptr (SfSipMsg) inv = req ("INVITE", via, BOB);
  g_autoptr (SfSipMsg) again = req ("INVITE", via, BOB);
  g_autoptr (SfSipMsg) ack = req ("ACK", via, BOB_TAGGED);
  g_autoptr (SfSipMsg) cancel = req ("CANCEL", via, BOB);
  CU_ASSERT_FALSE (sf_sip_txn_has_cookie (inv));
  g_autofree char *ik = sf_sip_txn_server_key (inv);
  CU_ASSERT_TRUE (g_str_has_prefix (ik, "2543|"));
  CU_ASSERT_TRUE (same_server (inv, again));
  CU_ASSERT_TRUE (same_server (inv, ack));
  CU_ASSERT_FALSE (same_server (inv, cancel));
  g_autofree char *ck = sf_sip_txn_cancel_target_key (cancel);
  CU_ASSERT_STRING_EQUAL (ck, ik);
  /* each field of 17.2.3 changed: another transaction */
  g_autoptr (SfSipMsg) ruri = msg_full ("INVITE", "sip:carol@biloxi.com", via, BOB, "1928301774", CID, 314159, NULL);
  g_autoptr (SfSipMsg) ftag = msg_full ("INVITE", "sip:bob@biloxi.com", via, BOB, "other", CID, 314159, NULL);
  g_autoptr (SfSipMsg) noftag = msg_full ("INVITE", "sip:bob@biloxi.com", via, BOB, NULL, CID, 314159, NULL);
  g_autoptr (SfSipMsg) cid = msg_full ("INVITE", "sip:bob@biloxi.com", via, BOB, "1928301774", "other@x", 314159, NULL);
  g_autoptr (SfSipMsg) cseq = msg_full ("INVITE", "sip:bob@biloxi.com", via, BOB, "1928301774", CID, 314160, NULL);
  g_autoptr (SfSipMsg) topvia = req ("INVITE", "SIP/2.0/UDP pc33.atlanta.com;branch=776asdhdt", BOB);
  CU_ASSERT_FALSE (same_server (inv, ruri));
  CU_ASSERT_FALSE (same_server (inv, ftag));
  CU_ASSERT_FALSE (same_server (inv, noftag));
  CU_ASSERT_FALSE (same_server (inv, cid));
  CU_ASSERT_FALSE (same_server (inv, cseq));
  CU_ASSERT_FALSE (same_server (inv, topvia));
  /* the To tag: a non-INVITE's counts; an INVITE's is left out for its ACK */
  g_autoptr (SfSipMsg) bye = req ("BYE", via, BOB_TAGGED);
  g_autoptr (SfSipMsg) bye2 = req ("BYE", via, "Bob <sip:bob@biloxi.com>;tag=other");
  g_autoptr (SfSipMsg) bye3 = req ("BYE", via, BOB_TAGGED);
  CU_ASSERT_FALSE (same_server (bye, bye2));
  CU_ASSERT_TRUE (same_server (bye, bye3));
  g_autoptr (SfSipMsg) reinv = req ("INVITE", via, BOB_TAGGED);
  CU_ASSERT_TRUE (same_server (inv, reinv));
  /* no branch, the cookie alone: RFC 2543 too; an empty or valueless branch
   * never gets this far (the parser refuses it: a branch is a token) */
  g_autoptr (SfSipMsg) none = req ("INVITE", "SIP/2.0/UDP pc33.atlanta.com", BOB);
  g_autoptr (SfSipMsg) bare = req ("INVITE", "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK", BOB);
  quiet = TRUE;
  g_autoptr (SfSipMsg) flag = req ("INVITE", "SIP/2.0/UDP pc33.atlanta.com;branch", BOB);
  g_autoptr (SfSipMsg) empty = req ("INVITE", "SIP/2.0/UDP pc33.atlanta.com;branch=", BOB);
  quiet = FALSE;
  CU_ASSERT_PTR_NULL (flag);
  CU_ASSERT_PTR_NULL (empty);
  SfSipMsg *all[] = { none, bare };
  for (guint i = 0; i < G_N_ELEMENTS (all); i++) {
    CU_ASSERT_PTR_NOT_NULL_FATAL (all[i]);
    CU_ASSERT_FALSE (sf_sip_txn_has_cookie (all[i]));
    g_autofree char *k = sf_sip_txn_server_key (all[i]);
    CU_ASSERT_TRUE (g_str_has_prefix (k, "2543|"));
  }
  CU_ASSERT_FALSE (same_server (none, bare)); /* the top Via as written differs */
}

static void
client (void)
{
  g_autoptr (SfSipMsg) inv = req ("INVITE", VIA, BOB);
  g_autoptr (SfSipMsg) ok = msg_full (NULL, NULL, VIA ";received=192.0.2.1", BOB_TAGGED, "1928301774", CID, 314159, "INVITE");
  g_autoptr (SfSipMsg) cancel = req ("CANCEL", VIA, BOB);
  g_autoptr (SfSipMsg) cancel_ok = msg_full (NULL, NULL, VIA, BOB, "1928301774", CID, 314159, "CANCEL");
  g_autoptr (SfSipMsg) other = msg_full (NULL, NULL, "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKother", BOB_TAGGED,
                                         "1928301774", CID, 314159, "INVITE");
  g_autoptr (SfSipMsg) upper = msg_full (NULL, NULL, "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776ASDHDS", BOB_TAGGED,
                                         "1928301774", CID, 314159, "INVITE");
  g_autofree char *ki = sf_sip_txn_client_key (inv);
  g_autofree char *kok = sf_sip_txn_client_key (ok);
  g_autofree char *kc = sf_sip_txn_client_key (cancel);
  g_autofree char *kcok = sf_sip_txn_client_key (cancel_ok);
  g_autofree char *kother = sf_sip_txn_client_key (other);
  g_autofree char *kupper = sf_sip_txn_client_key (upper);
  CU_ASSERT_STRING_EQUAL (ki, "client|z9hG4bK776asdhds|INVITE");
  CU_ASSERT_STRING_EQUAL (kok, ki);
  CU_ASSERT_STRING_EQUAL (kcok, kc);
  CU_ASSERT_STRING_NOT_EQUAL (kc, ki);
  CU_ASSERT_STRING_NOT_EQUAL (kother, ki);
  CU_ASSERT_STRING_NOT_EQUAL (kupper, ki);
}

static void
hostile (void)
{
  const char *novia = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
                      "To: <sip:bob@biloxi.com>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
                      "Content-Length: 0\r\n\r\n";
  g_autoptr (GBytes) b = g_bytes_new_static (novia, strlen (novia));
  g_autoptr (SfSipMsg) framed = sf_sip_msg_parse_framed (b, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (framed);
  CU_ASSERT_PTR_NULL (sf_sip_txn_server_key (framed));
  CU_ASSERT_PTR_NULL (sf_sip_txn_client_key (framed));
  CU_ASSERT_FALSE (sf_sip_txn_has_cookie (framed));
  CU_ASSERT_PTR_NULL (sf_sip_txn_server_key (NULL));
  CU_ASSERT_PTR_NULL (sf_sip_txn_client_key (NULL));
  g_autoptr (SfSipMsg) ok = msg_full (NULL, NULL, VIA, BOB_TAGGED, "1928301774", CID, 314159, "INVITE");
  CU_ASSERT_PTR_NULL (sf_sip_txn_server_key (ok));
  CU_ASSERT_PTR_NULL (sf_sip_txn_cancel_target_key (ok));
  g_autoptr (SfSipMsg) inv = req ("INVITE", VIA, BOB);
  CU_ASSERT_PTR_NULL (sf_sip_txn_cancel_target_key (inv));
  /* a huge branch is keyed whole: one byte changed at its end is another transaction */
  GString *big = g_string_new ("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK");
  for (guint i = 0; i < 8000; i++)
    g_string_append_c (big, 'a' + (char) (i % 26));
  g_autoptr (SfSipMsg) h1 = req ("INVITE", big->str, BOB);
  g_autoptr (SfSipMsg) h2 = req ("INVITE", big->str, BOB);
  big->str[big->len - 1] = '!';
  g_autoptr (SfSipMsg) h3 = req ("INVITE", big->str, BOB);
  g_string_free (big, TRUE);
  CU_ASSERT_PTR_NOT_NULL_FATAL (h1);
  CU_ASSERT_PTR_NOT_NULL_FATAL (h3);
  CU_ASSERT_TRUE (same_server (h1, h2));
  CU_ASSERT_FALSE (same_server (h1, h3));
  g_autofree char *c1 = sf_sip_txn_client_key (h1);
  g_autofree char *c3 = sf_sip_txn_client_key (h3);
  CU_ASSERT_STRING_NOT_EQUAL (c1, c3);
  CU_ASSERT_TRUE (strlen (c1) > 8000);
}

static void
call_key (void)
{
  g_autoptr (SfSipMsg) inv = req ("INVITE", VIA, BOB);
  g_autoptr (SfSipMsg) notag = msg_full ("INVITE", "sip:bob@biloxi.com", VIA, BOB, NULL, CID, 1, NULL);
  g_autofree char *k = sf_sip_txn_call_key_of (inv);
  g_autofree char *k2 = sf_sip_txn_call_key_of (notag);
  g_autofree char *k3 = sf_sip_txn_call_key (CID, NULL);
  CU_ASSERT_STRING_EQUAL (k, CID "|1928301774");
  CU_ASSERT_STRING_EQUAL (k2, CID "|");
  CU_ASSERT_STRING_EQUAL (k3, k2);
  g_autofree char *k4 = sf_sip_txn_call_key (NULL, NULL);
  CU_ASSERT_STRING_EQUAL (k4, "|");
}

static void
key_text (void)
{
  g_autoptr (SfSipMsg) inv = req ("INVITE", "SIP/2.0/UDP PC33.Atlanta.COM;branch=z9hG4bK776asdhds", BOB);
  g_autoptr (SfSipMsg) ack = req ("ACK", "SIP/2.0/UDP pc33.atlanta.com:65535;branch=z9hG4bK776asdhds", BOB_TAGGED);
  g_autoptr (SfSipMsg) reg = req ("REGISTER", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx", BOB);
  g_autoptr (SfSipMsg) ext = req ("ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789", VIA, BOB);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ext);
  g_autofree char *ki = sf_sip_txn_server_key (inv);
  g_autofree char *ka = sf_sip_txn_server_key (ack);
  g_autofree char *kr = sf_sip_txn_server_key (reg);
  g_autofree char *ke = sf_sip_txn_server_key (ext);
  CU_ASSERT_STRING_EQUAL (ki, "z9hG4bK776asdhds|pc33.atlanta.com:0|INVITE");
  CU_ASSERT_STRING_EQUAL (ka, "z9hG4bK776asdhds|pc33.atlanta.com:65535|INVITE");
  CU_ASSERT_STRING_EQUAL (kr, "z9hG4bKx|192.0.2.1:5060|REGISTER");
  CU_ASSERT_STRING_EQUAL (ke, "z9hG4bK776asdhds|pc33.atlanta.com:0|ABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789");
}

void
sf_test_register_sip_txn_key (void)
{
  CU_pSuite s = CU_add_suite ("sip-txn-key", NULL, NULL);
  SF_ADD_TEST (s, server_cookie);
  SF_ADD_TEST (s, server_sent_by);
  SF_ADD_TEST (s, server_case);
  SF_ADD_TEST (s, rfc2543);
  SF_ADD_TEST (s, client);
  SF_ADD_TEST (s, hostile);
  SF_ADD_TEST (s, call_key);
  SF_ADD_TEST (s, key_text);
}
