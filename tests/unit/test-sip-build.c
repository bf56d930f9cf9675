/* test-sip-build.c: the message-building API against RFC 3261.
 *  - response (8.2.6): Via lines, From, Call-ID, CSeq copied byte for byte; To gets
 *    the tag (not on 100); Record-Route copied into 18x/2xx only (12.1.1)
 *  - ack (17.1.1.3): INVITE's Request-URI, top Via (same branch) and Route; the
 *    response's To; CSeq number with ACK
 *  - cancel (9.1): same branch, To without a tag, CSeq number with CANCEL
 *  - forward (16.6): Max-Forwards decremented (70 when absent), Via pushed,
 *    Record-Route added, our Route popped (16.4; both of a double Record-Route, RFC 5658), strict router handling, other
 *    headers byte for byte, body kept; Max-Forwards 0 is refused (483)
 *  - forward_response (16.7.9): the top Via removed, also from a multi-value line
 *  - builder_checks: what a builder wrote is parsed, so a broken header is an error
 *  - built_copies: lines copied from a parsed message are not parsed again at
 *    finish, yet read the same values as a parse of the bytes; a line end inside
 *    a written value, or Via values from two messages past SF_SIP_MAX_VIA,
 *    still fail as a parse of the bytes does
 *  - request (8.1.1): the mandatory headers, a magic-cookie branch, a From tag, a
 *    Call-ID, Max-Forwards 70, the route set as Route, the body with its length
 *  - built_direct: every construction the code uses and 3,000 messages of
 *    random lines (fixed seed) built: each finished message equals a parse
 *    of its bytes in every accessor, and fails as that parse fails
 *  - add_numbers: a value that is one number ("%d", "%u", 64-bit) is written
 *    as printf writes it, extremes included
 *  - serialize_own_bytes: a built message serializes to its own bytes (no
 *    copy); a received one with keep-alive CRLFs before it, LF line ends or
 *    bytes after its body to the lines, the blank line and the body only */
#include "config.h"
#include "sf-test.h"
#include "sip/sf-sip-build.h"
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "sip/sf-sip-transport.h"
#include <string.h>

static const char invite_text[] =
  "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
  "Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\r\n"
  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
  "Max-Forwards: 69\r\n"
  "Route: <sip:proxy.biloxi.com;lr>, <sip:next.example.com;lr>\r\n"
  "Record-Route: <sip:bigbox3.site3.atlanta.com;lr>\r\n"
  "To: Bob <sip:bob@biloxi.com>\r\n"
  "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
  "Call-ID: a84b4c76e66710\r\n"
  "CSeq: 314159 INVITE\r\n"
  "subject  :   Lunch?\r\n"
  "Contact: <sip:alice@pc33.atlanta.com>\r\n"
  "Content-Type: application/sdp\r\n"
  "Content-Length: 4\r\n"
  "\r\n"
  "v=0\n";

static SfSipMsg *
parse (const char *text)
{
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  g_autoptr (GError) error = NULL;
  SfSipMsg *m = sf_sip_msg_parse (b, &error);
  if (m == NULL)
    g_printerr ("parse: %s\n", error->message);
  return m;
}

static char *
wire (SfSipMsg *m)
{
  g_autoptr (GBytes) b = sf_sip_msg_serialize (m);
  gsize len;
  const char *d = g_bytes_get_data (b, &len);
  return g_strndup (d, len);
}

static gboolean
has (const char *text, const char *needle)
{
  gboolean found = strstr (text, needle) != NULL;
  if (!found)
    g_printerr ("missing '%s' in:\n%s\n", needle, text);
  return found;
}

static void
response (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite_text);
  CU_ASSERT_PTR_NOT_NULL_FATAL (inv);
  g_autoptr (SfSipMsg) r180 = sf_sip_create_response (inv, 180, NULL, "a6c85cf", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r180);
  g_autofree char *w = wire (r180);
  CU_ASSERT_TRUE (g_str_has_prefix (w, "SIP/2.0 180 Ringing\r\n"));
  CU_ASSERT_TRUE (has (w, "Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\r\n"
                          "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"));
  CU_ASSERT_TRUE (has (w, "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"));
  CU_ASSERT_TRUE (has (w, "Record-Route: <sip:bigbox3.site3.atlanta.com;lr>\r\n"));
  CU_ASSERT_TRUE (has (w, "CSeq: 314159 INVITE\r\n"));
  CU_ASSERT_TRUE (has (w, "Content-Length: 0\r\n\r\n"));
  CU_ASSERT_PTR_NULL (strstr (w, "Contact")); /* the request's Contact is not the response's */
  g_autoptr (SfSipMsg) r100 = sf_sip_create_response (inv, 100, NULL, "x", NULL);
  g_autofree char *w100 = wire (r100);
  CU_ASSERT_TRUE (has (w100, "To: Bob <sip:bob@biloxi.com>\r\n"));
  g_autoptr (SfSipMsg) r486 = sf_sip_create_response (inv, 486, NULL, "y", NULL);
  g_autofree char *w486 = wire (r486);
  CU_ASSERT_TRUE (g_str_has_prefix (w486, "SIP/2.0 486 Busy Here\r\n"));
  CU_ASSERT_PTR_NULL (strstr (w486, "Record-Route"));
  /* A reason phrase of our own. */
  g_autoptr (SfSipMsg) r200 = sf_sip_create_response (inv, 200, "Fine", "z", NULL);
  g_autofree char *w200 = wire (r200);
  CU_ASSERT_TRUE (g_str_has_prefix (w200, "SIP/2.0 200 Fine\r\n"));
}

static void
ack (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite_text);
  g_autoptr (SfSipMsg) r486 = sf_sip_create_response (inv, 486, NULL, "t486", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) a = sf_sip_create_ack (inv, r486, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a);
  g_autofree char *w = wire (a);
  CU_ASSERT_TRUE (g_str_has_prefix (w, "ACK sip:bob@biloxi.com SIP/2.0\r\n"
                                       "Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\r\n"));
  CU_ASSERT_EQUAL (sf_sip_msg_values (a, SF_SIP_HDR_VIA, NULL)->len, 1);
  CU_ASSERT_TRUE (has (w, "Route: <sip:proxy.biloxi.com;lr>, <sip:next.example.com;lr>\r\n"));
  CU_ASSERT_TRUE (has (w, "To: Bob <sip:bob@biloxi.com>;tag=t486\r\n"));
  CU_ASSERT_TRUE (has (w, "CSeq: 314159 ACK\r\n"));
  CU_ASSERT_TRUE (has (w, "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"));
}

static void
cancel (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite_text);
  g_autoptr (SfSipMsg) c = sf_sip_create_cancel (inv, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (c);
  g_autofree char *w = wire (c);
  CU_ASSERT_TRUE (g_str_has_prefix (w, "CANCEL sip:bob@biloxi.com SIP/2.0\r\n"));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_value_param (sf_sip_msg_top_via (c), "branch")->value, "z9hG4bK77ef4c2312983.1"));
  CU_ASSERT_TRUE (has (w, "To: Bob <sip:bob@biloxi.com>\r\n"));
  CU_ASSERT_TRUE (has (w, "CSeq: 314159 CANCEL\r\n"));
  CU_ASSERT_TRUE (has (w, "Call-ID: a84b4c76e66710\r\n"));
}

static gboolean
is_proxy (const SfSipUri *uri, gpointer data)
{
  return sf_sip_str_caseeq (uri->host, data);
}

static void
forward (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite_text);
  SfSipForward f = { "SIP/2.0/UDP proxy.biloxi.com;branch=z9hG4bKnew1", "<sip:proxy.biloxi.com;lr>", NULL, is_proxy,
                     (gpointer) "proxy.biloxi.com", NULL, 0, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) out = sf_sip_create_forward (inv, &f, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out);
  g_autofree char *w = wire (out);
  CU_ASSERT_TRUE (g_str_has_prefix (w, "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
                                       "Via: SIP/2.0/UDP proxy.biloxi.com;branch=z9hG4bKnew1\r\n"
                                       "Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\r\n"));
  CU_ASSERT_TRUE (has (w, "Max-Forwards: 68\r\n"));
  CU_ASSERT_TRUE (has (w, "Route: <sip:next.example.com;lr>\r\n")); /* ours popped */
  CU_ASSERT_TRUE (has (w, "Record-Route: <sip:proxy.biloxi.com;lr>\r\nRecord-Route: <sip:bigbox3.site3.atlanta.com;lr>\r\n"));
  CU_ASSERT_TRUE (has (w, "subject  :   Lunch?\r\n")); /* untouched headers keep their bytes */
  CU_ASSERT_TRUE (g_str_has_suffix (w, "Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"));

  /* Credentials for our realm stop here; another realm's go on (22.3). */
  const char *creds_text =
    "OPTIONS sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK7\r\n"
    "Proxy-Authorization: Digest username=\"a\", realm=\"biloxi.com\", nonce=\"n\", uri=\"sip:bob@biloxi.com\", response=\"r\"\r\n"
    "Proxy-Authorization: Digest username=\"a\", realm=\"far.example\", nonce=\"n\", uri=\"sip:bob@biloxi.com\", response=\"r\"\r\n"
    "To: <sip:bob@biloxi.com>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: y\r\nCSeq: 1 OPTIONS\r\n\r\n";
  g_autoptr (SfSipMsg) crq = parse (creds_text);
  SfSipForward fcr = { "SIP/2.0/UDP p;branch=z9hG4bK3", NULL, NULL, NULL, NULL, "biloxi.com", 0, NULL };
  g_autoptr (SfSipMsg) outcr = sf_sip_create_forward (crq, &fcr, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (outcr);
  g_autofree char *wcr = wire (outcr);
  CU_ASSERT_FALSE (has (wcr, "realm=\"biloxi.com\""));
  CU_ASSERT_TRUE (has (wcr, "realm=\"far.example\""));

  /* A new target, and a strict router next: it gets the Request-URI. */
  const char *strict_text =
    "OPTIONS sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n"
    "Route: <sip:strict.example.com>, <sip:after.example.com;lr>\r\nMax-Breadth: 9\r\n"
    "To: <sip:bob@biloxi.com>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
  g_autoptr (SfSipMsg) st = parse (strict_text);
  SfSipForward f2 = { "SIP/2.0/UDP p;branch=z9hG4bK2", NULL, "sip:bob@192.0.2.4", NULL, NULL, NULL, 3, NULL };
  g_autoptr (SfSipMsg) out2 = sf_sip_create_forward (st, &f2, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out2);
  g_autofree char *w2mb = wire (out2); /* RFC 5393 5.3.3: the branch's share replaces the value received */
  CU_ASSERT_TRUE (has (w2mb, "\r\nMax-Breadth: 3\r\n"));
  CU_ASSERT_FALSE (has (w2mb, "Max-Breadth: 9"));
  g_autofree char *w2 = wire (out2);
  CU_ASSERT_TRUE (g_str_has_prefix (w2, "OPTIONS sip:strict.example.com SIP/2.0\r\n"));
  CU_ASSERT_TRUE (has (w2, "Route: <sip:after.example.com;lr>, <sip:bob@192.0.2.4>\r\n"));
  CU_ASSERT_TRUE (has (w2, "Max-Forwards: 70\r\n")); /* added: the request had none */

  /* A strict router named with a display name: its URI, not the display name, becomes the Request-URI. */
  const char *strict_dn =
    "OPTIONS sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK5\r\n"
    "Route: Proxy <sip:strict.example.com>\r\n"
    "To: <sip:bob@biloxi.com>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: s\r\nCSeq: 1 OPTIONS\r\n\r\n";
  g_autoptr (SfSipMsg) sd = parse (strict_dn);
  g_autoptr (SfSipMsg) out4 = sf_sip_create_forward (sd, &f2, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out4);
  g_autofree char *w4 = wire (out4);
  CU_ASSERT_TRUE (g_str_has_prefix (w4, "OPTIONS sip:strict.example.com SIP/2.0\r\n"));
  CU_ASSERT_PTR_NULL (strstr (w4, "Content-Type")); /* no body, no Content-Type made up */

  /* The previous hop was a strict router: the Request-URI is ours, the real one is the last Route. */
  const char *via_strict =
    "OPTIONS sip:proxy.biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK3\r\nMax-Forwards: 10\r\n"
    "Route: <sip:next.example.com;lr>, <sip:carol@chicago.com>\r\n"
    "To: <sip:carol@chicago.com>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: y\r\nCSeq: 1 OPTIONS\r\n\r\n";
  g_autoptr (SfSipMsg) vs = parse (via_strict);
  g_autoptr (SfSipMsg) out3 = sf_sip_create_forward (vs, &f, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out3);
  g_autofree char *w3 = wire (out3);
  CU_ASSERT_TRUE (g_str_has_prefix (w3, "OPTIONS sip:carol@chicago.com SIP/2.0\r\n"));
  CU_ASSERT_TRUE (has (w3, "Route: <sip:next.example.com;lr>\r\n"));

  /* RFC 5658: a double Record-Route comes back as two Routes of ours, both
   * popped; a third of ours further down is another hop's business. */
  const char *dbl =
    "BYE sip:carol@chicago.com SIP/2.0\r\nVia: SIP/2.0/TCP a;branch=z9hG4bK6\r\nMax-Forwards: 10\r\n"
    "Route: <sip:proxy.biloxi.com;lr;transport=tcp;sft=1>, <sip:proxy.biloxi.com;lr;sft=1>\r\n"
    "To: <sip:carol@chicago.com>;tag=2\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: d\r\nCSeq: 2 BYE\r\n\r\n";
  g_autoptr (SfSipMsg) dm = parse (dbl);
  g_autoptr (SfSipMsg) out5 = sf_sip_create_forward (dm, &f, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out5);
  g_autofree char *w5 = wire (out5);
  CU_ASSERT_TRUE (g_str_has_prefix (w5, "BYE sip:carol@chicago.com SIP/2.0\r\n"));
  CU_ASSERT_PTR_NULL (strstr (w5, "\r\nRoute:")); /* (Record-Route: f adds one) */
  const char *three =
    "BYE sip:carol@chicago.com SIP/2.0\r\nVia: SIP/2.0/TCP a;branch=z9hG4bK8\r\nMax-Forwards: 10\r\n"
    "Route: <sip:proxy.biloxi.com;lr>, <sip:proxy.biloxi.com;lr>, <sip:proxy.biloxi.com;lr;x>\r\n"
    "To: <sip:carol@chicago.com>;tag=2\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: e\r\nCSeq: 2 BYE\r\n\r\n";
  g_autoptr (SfSipMsg) tm = parse (three);
  g_autoptr (SfSipMsg) out6 = sf_sip_create_forward (tm, &f, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out6);
  g_autofree char *w6 = wire (out6);
  CU_ASSERT_TRUE (has (w6, "Route: <sip:proxy.biloxi.com;lr;x>\r\n"));

  /* Max-Forwards 0: not forwarded, 483. */
  const char *zero = "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK4\r\nMax-Forwards: 0\r\n"
                     "To: <sip:b@h>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: z\r\nCSeq: 1 OPTIONS\r\n\r\n";
  g_autoptr (SfSipMsg) zm = parse (zero);
  g_autoptr (GError) e2 = NULL;
  CU_ASSERT_PTR_NULL (sf_sip_create_forward (zm, &f, &e2));
  CU_ASSERT (g_error_matches (e2, SF_SIP_ERROR, SF_SIP_ERROR_HOPS));
}

static void
forward_response (void)
{
  const char *text = "SIP/2.0 200 OK\r\n"
                     "Via: SIP/2.0/UDP proxy.biloxi.com;branch=z9hG4bKnew1, SIP/2.0/UDP bigbox3;branch=z9hG4bK77\r\n"
                     "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n"
                     "To: <sip:bob@biloxi.com>;tag=9\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
                     "Content-Length: 0\r\n\r\n";
  g_autoptr (SfSipMsg) r = parse (text);
  g_autoptr (SfSipMsg) out = sf_sip_create_forward_response (r, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (out);
  g_autofree char *w = wire (out);
  CU_ASSERT_TRUE (g_str_has_prefix (w, "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP bigbox3;branch=z9hG4bK77\r\n"
                                       "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n"));
  g_autoptr (SfSipMsg) out2 = sf_sip_create_forward_response (out, NULL);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_PTR_NULL (sf_sip_create_forward_response (out2, &error)); /* one Via left: it was for us */
  CU_ASSERT_PTR_NOT_NULL (error);
}

static void
builder_checks (void)
{
  SfSipBuilder *b = sf_sip_builder_request ("OPTIONS", "sip:b@h");
  sf_sip_builder_add (b, "Via", "SIP/2.0/UDP a;branch=z9hG4bK5");
  sf_sip_builder_add (b, "From", "<sip:a@h>;tag=1");
  sf_sip_builder_add (b, "To", "<sip:b@h>");
  sf_sip_builder_add (b, "Call-ID", "c@h");
  sf_sip_builder_add (b, "CSeq", "7 OPTIONS");
  sf_sip_builder_body (b, "text/plain", "hello", 5);
  g_autoptr (SfSipMsg) m = sf_sip_builder_finish (b, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_body (m), "hello"));
  CU_ASSERT_EQUAL (sf_sip_msg_value (m, SF_SIP_HDR_CONTENT_LENGTH, NULL)->number, 5);
  /* A CSeq whose method differs from the request's is not a valid message. */
  SfSipBuilder *b2 = sf_sip_builder_request ("OPTIONS", "sip:b@h");
  sf_sip_builder_add (b2, "Via", "SIP/2.0/UDP a");
  sf_sip_builder_add (b2, "From", "<sip:a@h>;tag=1");
  sf_sip_builder_add (b2, "To", "<sip:b@h>");
  sf_sip_builder_add (b2, "Call-ID", "c@h");
  sf_sip_builder_add (b2, "CSeq", "7 INVITE");
  g_autoptr (GError) error = NULL;
  CU_ASSERT_PTR_NULL (sf_sip_builder_finish (b2, &error));
  CU_ASSERT_PTR_NOT_NULL (error);
  CU_ASSERT_STRING_EQUAL (sf_sip_reason_phrase (481), "Call/Transaction Does Not Exist");
}

static void
request (void)
{
  const char *route[] = { "<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>", NULL };
  SfSipRequestSpec spec = { .method = "INVITE", .ruri = "sip:bob@biloxi.com", .from = "Alice <sip:alice@atlanta.com>",
                            .to = "Bob <sip:bob@biloxi.com>", .via_sent_by = "[2001:db8::1]:5062",
                            .contact = "<sip:alice@[2001:db8::1]:5062>", .route = route,
                            .content_type = "application/sdp", .body = "v=0\r\n", .body_len = 5 };
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) m = sf_sip_create_request (&spec, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  g_autofree char *w = wire (m);
  const SfSipValue *via = sf_sip_msg_top_via (m);
  CU_ASSERT_TRUE (g_str_has_prefix (sf_sip_value_param (via, "branch")->value.p, SF_SIP_BRANCH_COOKIE));
  CU_ASSERT_PTR_NOT_NULL (sf_sip_value_param (via, "rport"));
  CU_ASSERT_EQUAL (via->port, 5062);
  CU_ASSERT_PTR_NOT_NULL (sf_sip_value_param (sf_sip_msg_from (m), "tag"));
  CU_ASSERT_PTR_NULL (sf_sip_value_param (sf_sip_msg_to (m), "tag"));
  g_autofree char *cid = sf_sip_str_dup (sf_sip_msg_call_id (m));
  CU_ASSERT_TRUE (g_str_has_suffix (cid, "@[2001:db8::1]"));
  CU_ASSERT_EQUAL (sf_sip_msg_max_forwards (m), 70);
  CU_ASSERT_EQUAL (sf_sip_msg_cseq (m)->number, 1);
  CU_ASSERT_EQUAL (sf_sip_msg_values (m, SF_SIP_HDR_ROUTE, NULL)->len, 2);
  CU_ASSERT_TRUE (has (w, "Content-Length: 5\r\n\r\nv=0\r\n"));
  /* Two requests never share a branch, tag or Call-ID. */
  g_autoptr (SfSipMsg) m2 = sf_sip_create_request (&spec, NULL);
  CU_ASSERT_FALSE (sf_sip_str_caseeq_str (sf_sip_msg_call_id (m), sf_sip_msg_call_id (m2)));
  CU_ASSERT_FALSE (sf_sip_str_caseeq_str (sf_sip_value_param (sf_sip_msg_top_via (m), "branch")->value,
                                          sf_sip_value_param (sf_sip_msg_top_via (m2), "branch")->value));
}

/* 8.2.6.2: a To display name with a quoted-pair NUL (25.1 allows %x00 in a
 * quoted-pair) is copied byte for byte, with the tag after it. */
static void
response_nul_display_name (void)
{
  static const char text[] = "OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnul\r\n"
                             "To: \"a\\\0b\" <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n"
                             "Call-ID: nul@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  g_autoptr (GBytes) b = g_bytes_new_static (text, sizeof text - 1);
  g_autoptr (SfSipMsg) req = sf_sip_msg_parse (b, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (req);
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) r = sf_sip_create_response (req, 500, NULL, "t1", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  g_autoptr (GBytes) w = sf_sip_msg_serialize (r);
  gsize n;
  const char *d = g_bytes_get_data (w, &n);
  static const char to[] = "\r\nTo: \"a\\\0b\" <sip:b@example.com>;tag=t1\r\n";
  CU_ASSERT_PTR_NOT_NULL (memmem (d, n, to, sizeof to - 1));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_value_param (sf_sip_msg_to (r), "tag")->value, "t1"));
  /* a 100 copies the line as it is */
  g_autoptr (SfSipMsg) r100 = sf_sip_create_response (req, 100, NULL, "t1", NULL);
  CU_ASSERT_PTR_NOT_NULL (r100);
}

/* A request whose size is in its Via lines, just under the UDP limit: its
 * response builds but no datagram holds it; the bare 513 does, with the top
 * Via alone and the request's From, To (with the tag), Call-ID and CSeq. */
static void
response_huge_via (void)
{
  static const char tail[] = "To: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: big@192.0.2.1\r\n"
                             "CSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  GString *t = g_string_new ("OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKbig\r\n");
  for (guint i = 0; t->len < SF_SIP_MAX_UDP; i++) {
    /* Via lines under the 8 KiB line limit, the last one filling up to the UDP limit */
    gsize room = SF_SIP_MAX_UDP - t->len - (sizeof tail - 1);
    gsize start = t->len;
    g_string_append_printf (t, "Via: SIP/2.0/UDP h%u.example.com;branch=z9hG4bK%u;p=", i, i);
    gsize fill = MIN (room, 8000) - (t->len - start) - 2;
    for (gsize k = 0; k < fill; k++)
      g_string_append_c (t, 'a');
    g_string_append (t, "\r\n");
    if (room <= 8000)
      g_string_append (t, tail);
  }
  g_autoptr (GBytes) b = g_string_free_to_bytes (t);
  CU_ASSERT_EQUAL (g_bytes_get_size (b), SF_SIP_MAX_UDP);
  g_autoptr (SfSipMsg) req = sf_sip_msg_parse (b, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (req);
  g_autoptr (SfSipMsg) r = sf_sip_create_response (req, 500, NULL, "t2", NULL); /* a status line as long as the request line */
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  g_autoptr (GBytes) w = sf_sip_msg_serialize (r);
  CU_ASSERT_TRUE (g_bytes_get_size (w) > SF_SIP_MAX_UDP);
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipMsg) bare = sf_sip_create_minimal_response (r, 513, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (bare);
  g_autofree char *wb = wire (bare);
  CU_ASSERT_STRING_EQUAL (wb, "SIP/2.0 513 Message Too Large\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKbig\r\n"
                              "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=t2\r\n"
                              "Call-ID: big@192.0.2.1\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n");
}

/* A request with @n Via values on one line. */
static SfSipMsg *
many_vias (guint n)
{
  GString *t = g_string_new ("OPTIONS sip:b@h SIP/2.0\r\nVia: ");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (t, "%sSIP/2.0/UDP h%u;branch=z9hG4bK%u", i > 0 ? ", " : "", i, i);
  g_string_append (t, "\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c@h\r\nCSeq: 7 OPTIONS\r\n"
                      "Content-Length: 0\r\n\r\n");
  SfSipMsg *m = parse (t->str);
  g_string_free (t, TRUE);
  return m;
}

/* A 200 with the Via lines of @via1 and @via2 (nullable) and the other
 * mandatory lines of @via1, each copied. */
static SfSipMsg *
copied_response (SfSipMsg *via1, SfSipMsg *via2, GError **error)
{
  SfSipBuilder *b = sf_sip_builder_response (200, NULL);
  sf_sip_builder_copy (b, via1, SF_SIP_HDR_VIA);
  if (via2 != NULL)
    sf_sip_builder_copy (b, via2, SF_SIP_HDR_VIA);
  static const SfSipHdrId rest[] = { SF_SIP_HDR_FROM, SF_SIP_HDR_TO, SF_SIP_HDR_CALL_ID, SF_SIP_HDR_CSEQ };
  for (gsize i = 0; i < G_N_ELEMENTS (rest); i++)
    sf_sip_builder_copy (b, via1, rest[i]);
  return sf_sip_builder_finish (b, error);
}

static void
built_copies (void)
{
  g_autoptr (SfSipMsg) req = parse (invite_text);
  g_autoptr (SfSipMsg) r = req != NULL ? sf_sip_create_response (req, 180, NULL, "t9", NULL) : NULL;
  g_autoptr (GBytes) w = r != NULL ? sf_sip_msg_serialize (r) : NULL;
  g_autoptr (SfSipMsg) again = w != NULL ? sf_sip_msg_parse (w, NULL) : NULL;
  CU_ASSERT_PTR_NOT_NULL_FATAL (again); /* the response, and a parse of its bytes */
  CU_ASSERT_EQUAL (sf_sip_msg_values (r, SF_SIP_HDR_VIA, NULL)->len, 2);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_value_param (sf_sip_msg_top_via (r), "branch")->value, "z9hG4bK77ef4c2312983.1"));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_value_param (sf_sip_msg_from (r), "tag")->value, "1928301774"));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_value_param (sf_sip_msg_to (r), "tag")->value, "t9"));
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_call_id (r), "a84b4c76e66710"));
  CU_ASSERT_EQUAL (sf_sip_msg_cseq (r)->number, sf_sip_msg_cseq (again)->number);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_from (r)->uri->raw, "sip:alice@atlanta.com"));
  /* A value with a line end in it writes a line of another name: parsed, and a bad Via is an error. */
  const char *inject[] = { "X-A: a\r\nVia: @@@", NULL };
  g_autoptr (GError) error = NULL;
  CU_ASSERT_PTR_NULL (sf_sip_create_response_with (req, 200, NULL, "t9", inject, &error));
  CU_ASSERT_PTR_NOT_NULL (error);
  /* Via copied from two messages: their values together are past the bound;
   * from one message, the same lines make a message. */
  g_autoptr (SfSipMsg) m1 = many_vias (40);
  g_autoptr (SfSipMsg) m2 = many_vias (40);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m1);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m2);
  g_autoptr (GError) error2 = NULL;
  CU_ASSERT_PTR_NULL (copied_response (m1, m2, &error2));
  CU_ASSERT_TRUE (g_error_matches (error2, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT));
  g_autoptr (SfSipMsg) ok = copied_response (m1, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ok);
  CU_ASSERT_EQUAL (sf_sip_msg_values (ok, SF_SIP_HDR_VIA, NULL)->len, 40);
}

/* A forked child must not draw the bytes its parent draws next from the
 * thread's pool it inherited (tags, Call-IDs and branches would repeat):
 * the pool is primed, then parent and child each draw 32 bytes. */
static void
random_after_fork (void)
{
  guint8 prime[8], mine[32], theirs[32];
  sf_sip_random_bytes (prime, sizeof prime);
  int fds[2];
  CU_ASSERT_EQUAL_FATAL (pipe (fds), 0);
  pid_t pid = fork ();
  CU_ASSERT_TRUE_FATAL (pid >= 0);
  if (pid == 0) {
    guint8 child[32];
    sf_sip_random_bytes (child, sizeof child);
    ssize_t n = write (fds[1], child, sizeof child);
    _exit (n == (ssize_t) sizeof child ? 0 : 1);
  }
  close (fds[1]);
  sf_sip_random_bytes (mine, sizeof mine);
  gsize got = 0;
  for (ssize_t n; got < sizeof theirs && (n = read (fds[0], theirs + got, sizeof theirs - got)) > 0;)
    got += (gsize) n;
  close (fds[0]);
  int status = 0;
  CU_ASSERT_EQUAL (waitpid (pid, &status, 0), pid);
  CU_ASSERT_TRUE (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  CU_ASSERT_EQUAL_FATAL (got, sizeof theirs);
  CU_ASSERT_NOT_EQUAL (memcmp (mine, theirs, sizeof mine), 0);
}

static void
serialize_own_bytes (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite_text);
  CU_ASSERT_PTR_NOT_NULL_FATAL (inv);
  g_autoptr (SfSipMsg) r = sf_sip_create_response (inv, 180, NULL, "a6c85cf", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  g_autoptr (GBytes) w1 = sf_sip_msg_serialize (r);
  g_autoptr (GBytes) w2 = sf_sip_msg_serialize (r);
  CU_ASSERT_PTR_EQUAL (g_bytes_get_data (w1, NULL), g_bytes_get_data (w2, NULL)); /* the message's bytes, twice */
  g_autoptr (SfSipMsg) again = sf_sip_msg_parse (w1, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (again);
  g_autofree char *w3 = wire (again);
  CU_ASSERT_EQUAL (strlen (w3), g_bytes_get_size (w1));
  CU_ASSERT_EQUAL (memcmp (w3, g_bytes_get_data (w1, NULL), strlen (w3)), 0);
  /* the received request itself: its bytes are its wire form (CRLFs, Content-Length exact) */
  g_autofree char *winv = wire (inv);
  CU_ASSERT_STRING_EQUAL (winv, invite_text);
  static const char *const odd[][2] = {
    { "\r\n\r\nOPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n"
      "To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
      "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n"
      "To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" },
    { "OPTIONS sip:b@h SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\n"
      "To: <sip:b@h>\nCall-ID: c\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
      "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\n"
      "To: <sip:b@h>\nCall-ID: c\nCSeq: 1 OPTIONS\nContent-Length: 0\n\r\n" },
    { "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n"
      "To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 2\r\n\r\nabcd",
      "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n"
      "To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 2\r\n\r\nab" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (odd); i++) {
    g_autoptr (SfSipMsg) m = parse (odd[i][0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL (m);
    g_autofree char *w = wire (m);
    CU_ASSERT_STRING_EQUAL (w, odd[i][1]);
  }
}


/* ---- built_direct: the table filled from the builder's marks against a
 * parse of the same bytes ---- */

typedef struct {
  guint finished, direct, differ;
} Diff;

static gboolean
same_str (SfSipStr a, SfSipStr b)
{
  return a.p == b.p && a.len == b.len; /* both slices of the same bytes */
}

static gboolean
same_error (const GError *a, const GError *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return a->domain == b->domain && a->code == b->code && strcmp (a->message, b->message) == 0;
}

static gboolean
same_uri (const SfSipUri *a, const SfSipUri *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return a->kind == b->kind && same_str (a->raw, b->raw) && same_str (a->host, b->host) && a->port == b->port &&
         same_str (a->user, b->user) && a->n_params == b->n_params && a->n_headers == b->n_headers;
}

static gboolean
same_value (const SfSipValue *a, const SfSipValue *b)
{
  if (a->id != b->id || a->kind != b->kind || !same_str (a->raw, b->raw) || !same_str (a->text, b->text) ||
      a->number != b->number || a->n_params != b->n_params)
    return FALSE;
  for (guint i = 0; i < a->n_params; i++)
    if (!same_str (a->params[i].name, b->params[i].name) || !same_str (a->params[i].value, b->params[i].value))
      return FALSE;
  if (a->kind == SF_SIP_VAL_NAMEADDR || a->kind == SF_SIP_VAL_INFO)
    return same_str (a->display, b->display) && same_uri (a->uri, b->uri) && a->star == b->star;
  if (a->kind == SF_SIP_VAL_VIA)
    return same_str (a->transport, b->transport) && same_str (a->host, b->host) && a->port == b->port;
  return TRUE;
}

/* Every accessor of @a against @b's, in the same order (values are parsed
 * when first read: both read them alike).  The first difference, or NULL. */
static const char *
differ (SfSipMsg *a, SfSipMsg *b)
{
  if (sf_sip_msg_is_request (a) != sf_sip_msg_is_request (b) ||
      !same_str (sf_sip_msg_method (a), sf_sip_msg_method (b)) || sf_sip_msg_status (a) != sf_sip_msg_status (b) ||
      !same_str (sf_sip_msg_reason (a), sf_sip_msg_reason (b)) || !same_str (sf_sip_msg_body (a), sf_sip_msg_body (b)))
    return "start line or body";
  if (!same_uri (sf_sip_msg_ruri (a), sf_sip_msg_ruri (b)))
    return "Request-URI";
  if (sf_sip_msg_n_headers (a) != sf_sip_msg_n_headers (b))
    return "header count";
  for (guint i = 0; i < sf_sip_msg_n_headers (a); i++) {
    const SfSipHdr *x = sf_sip_msg_header (a, i), *y = sf_sip_msg_header (b, i);
    if (x->id != y->id || !same_str (x->name, y->name) || !same_str (x->value, y->value) ||
        !same_str (x->line, y->line))
      return "a header line";
  }
  static const char *const names[] = { "Via", "v", "subject", "X-Any", "max-forwards", "CONTENT-LENGTH", "l" };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    if (sf_sip_msg_find_name (a, names[i]) != NULL
          ? sf_sip_msg_find_name (b, names[i]) == NULL ||
              sf_sip_msg_find_name (a, names[i]) - sf_sip_msg_header (a, 0) !=
                sf_sip_msg_find_name (b, names[i]) - sf_sip_msg_header (b, 0)
          : sf_sip_msg_find_name (b, names[i]) != NULL)
      return "find_name";
  for (SfSipHdrId id = SF_SIP_HDR_OTHER + 1; id < SF_SIP_HDR_COUNT; id++) {
    const SfSipHdr *x = sf_sip_msg_find (a, id), *y = sf_sip_msg_find (b, id);
    if ((x == NULL) != (y == NULL) || (x != NULL && !same_str (x->line, y->line)))
      return "find";
    g_autoptr (GError) ea = NULL;
    g_autoptr (GError) eb = NULL;
    SfSipValues *va = sf_sip_msg_values (a, id, &ea), *vb = sf_sip_msg_values (b, id, &eb);
    if ((va == NULL) != (vb == NULL) || !same_error (ea, eb))
      return "values (outcome)";
    if (va == NULL)
      continue;
    if (va->len != vb->len)
      return "values (count)";
    for (guint k = 0; k < va->len; k++)
      if (!same_value (va->pdata[k], vb->pdata[k]))
        return "a value";
  }
  if (sf_sip_msg_max_forwards (a) != sf_sip_msg_max_forwards (b) ||
      !same_str (sf_sip_msg_call_id (a), sf_sip_msg_call_id (b)))
    return "Max-Forwards or Call-ID";
  g_autoptr (GError) ca = NULL;
  g_autoptr (GError) cb = NULL;
  if (sf_sip_msg_check_all (a, &ca) != sf_sip_msg_check_all (b, &cb) || !same_error (ca, cb))
    return "check_all";
  g_autoptr (GError) ma = NULL;
  g_autoptr (GError) mb = NULL;
  g_autoptr (GArray) pa = sf_sip_msg_multipart (a, &ma);
  g_autoptr (GArray) pb = sf_sip_msg_multipart (b, &mb);
  if ((pa == NULL) != (pb == NULL) || !same_error (ma, mb) || (pa != NULL && pa->len != pb->len))
    return "multipart";
  g_autoptr (GBytes) sa = sf_sip_msg_serialize (a);
  g_autoptr (GBytes) sb = sf_sip_msg_serialize (b);
  if (!g_bytes_equal (sa, sb))
    return "serialize";
  g_autoptr (SfSipMsg) xa = sf_sip_msg_compact (a);
  g_autoptr (SfSipMsg) xb = sf_sip_msg_compact (b);
  if (sf_sip_msg_n_headers (xa) != sf_sip_msg_n_headers (xb) || !same_uri (sf_sip_msg_ruri (xa), sf_sip_msg_ruri (xb)))
    return "compact";
  return NULL;
}

static void
diff_hook (SfSipMsg *built, const GError *built_error, SfSipMsg *parsed, const GError *parsed_error, gboolean direct,
           gpointer data)
{
  Diff *d = data;
  d->finished++;
  d->direct += direct;
  const char *what = NULL;
  if ((built == NULL) != (parsed == NULL) || !same_error (built_error, parsed_error))
    what = "outcome";
  else if (built != NULL)
    what = differ (built, parsed);
  if (what != NULL) {
    d->differ++;
    if (d->differ <= 3) {
      g_autoptr (GBytes) w = parsed != NULL ? sf_sip_msg_serialize (parsed) : NULL;
      g_printerr ("built_direct: %s differs (%s / %s)%s%.*s\n", what, built_error ? built_error->message : "-",
                  parsed_error ? parsed_error->message : "-", w ? ":\n" : "", w ? (int) g_bytes_get_size (w) : 0,
                  w ? (const char *) g_bytes_get_data (w, NULL) : "");
    }
  }
}

static const char *const received[] = {
  invite_text,
  /* compact forms, a fold, LF line ends, a Via line of two values, a display name escaping a NUL (below) */
  "INVITE sip:bob@biloxi.com;transport=udp SIP/2.0\n"
  "v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2\n"
  "f: \"A\\\"x\" <sip:alice@atlanta.com>;tag=88\n"
  "t: sip:bob@biloxi.com\n"
  "i: 1234@atlanta.com\n"
  "CSeq: 7\n  INVITE\n"
  "Max-Forwards:70\n"
  "Subject: a\n\tfolded subject \n"
  "Proxy-Authorization: Digest username=\"a\", realm=\"biloxi.com\", nonce=\"n\", uri=\"sip:bob@biloxi.com\", response=\"r\"\n"
  "Proxy-Authorization: Digest username=\"a\", realm=\"other.com\", nonce=\"n\", uri=\"sip:bob@biloxi.com\", response=\"r\"\n"
  "Max-Breadth: 60\n"
  "c: multipart/mixed;boundary=xx\n"
  "l: 26\n"
  "\n"
  "--xx\r\n\r\nab\r\n--xx--\r\nrest..",
  /* a strict-router hop, a Route naming us */
  "OPTIONS sip:proxy.example.com SIP/2.0\r\n"
  "Via: SIP/2.0/UDP c.example.com;branch=z9hG4bKs;rport\r\n"
  "Route: <sip:strict.example.com>\r\n"
  "Route: <sip:me.example.com;lr>,<sip:final@b.example.com>\r\n"
  "From: <sip:c@example.com>;tag=1\r\n"
  "To: <sip:d@example.com>\r\n"
  "Call-ID: x\r\n"
  "CSeq: 2 OPTIONS\r\n"
  "Timestamp: 54\r\n"
  "\r\n",
};

static const char *const responses[] = {
  "SIP/2.0 180 Ringing\r\n"
  "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp, SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKn\r\n"
  "Via: SIP/2.0/UDP first.example.com;branch=z9hG4bKf\r\n"
  "Record-Route: <sip:proxy.example.com;lr>\r\n"
  "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
  "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"
  "Call-ID: a84b4c76e66710\r\n"
  "CSeq: 314159 INVITE\r\n"
  "Contact: <sip:bob@192.0.2.4>, <sip:bob2@192.0.2.5>;q=0.5\r\n"
  "Content-Type: application/sdp\r\n"
  "Content-Length: 3\r\n"
  "\r\n"
  "v=0",
  "SIP/2.0 200 OK\n"
  "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\n"
  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKn\n"
  "From: <sip:a@b>;tag=1\n"
  "To: <sip:c@d>;tag=2\n"
  "Call-ID: q\n"
  "CSeq: 5 BYE\n"
  "X-Folded: one\n two\n"
  "\n",
};

static gboolean
mine (const SfSipUri *uri, gpointer data)
{
  return sf_sip_str_caseeq (uri->host, "me.example.com") || sf_sip_str_caseeq (uri->host, "proxy.example.com");
}

static char *
edit_contact (const SfSipValue *v, gpointer data)
{
  return v->n_params > 0 ? NULL : g_strdup ("<sip:edited@192.0.2.9>");
}

/* Every construction the code uses, on each received message. */
static void
build_known (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (received); i++) {
    g_autoptr (SfSipMsg) req = parse (received[i]);
    CU_ASSERT_PTR_NOT_NULL_FATAL (req);
    static const guint codes[] = { 100, 180, 200, 401, 486 };
    for (gsize k = 0; k < G_N_ELEMENTS (codes); k++)
      g_clear_pointer (&(SfSipMsg *) { sf_sip_create_response (req, codes[k], NULL, "t0", NULL) }, sf_sip_msg_unref);
    const char *const lines[] = { "WWW-Authenticate: Digest realm=\"r\", nonce=\"n\"", "Contact:<sip:x@y>", NULL };
    sf_sip_msg_unref (sf_sip_create_response_with (req, 401, "Nope", "t1", lines, NULL));
    sf_sip_msg_unref (sf_sip_create_minimal_response (req, 513, NULL));
    sf_sip_msg_unref (sf_sip_create_cancel (req, NULL));
    const char *const reason[] = { "Reason: SIP;cause=200;text=\"Call completed elsewhere\"", NULL };
    sf_sip_msg_unref (sf_sip_create_cancel_with (req, reason, NULL));
    for (gsize r = 0; r < G_N_ELEMENTS (responses); r++) {
      g_autoptr (SfSipMsg) resp = parse (responses[r]);
      CU_ASSERT_PTR_NOT_NULL_FATAL (resp);
      g_clear_pointer (&(SfSipMsg *) { sf_sip_create_ack (req, resp, NULL) }, sf_sip_msg_unref);
      g_clear_pointer (&(SfSipMsg *) { sf_sip_create_forward_response (resp, NULL) }, sf_sip_msg_unref);
      g_clear_pointer (&(SfSipMsg *) { sf_sip_create_forward_response_edited (resp, SF_SIP_HDR_CONTACT, edit_contact,
                                                                              NULL, NULL) },
                       sf_sip_msg_unref);
      g_clear_pointer (&(SfSipMsg *) { sf_sip_create_minimal_response (resp, 500, NULL) }, sf_sip_msg_unref);
    }
    SfSipForward fwds[] = {
      { .via = "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnew" },
      { .via = "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnew", .record_route = "<sip:proxy.example.com;lr>",
        .is_mine = mine, .strip_realm = "biloxi.com", .max_breadth = 30 },
      { .via = "SIP/2.0/TCP proxy.example.com;branch=z9hG4bKnew", .target = "sip:bob@192.0.2.4:5062",
        .preload = "<sip:edge.example.com;lr>, <sip:strict2.example.com>", .is_mine = mine },
      { .via = "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKnew\tx" }, /* a tab: parsed in full */
    };
    for (gsize f = 0; f < G_N_ELEMENTS (fwds); f++)
      g_clear_pointer (&(SfSipMsg *) { sf_sip_create_forward (req, &fwds[f], NULL) }, sf_sip_msg_unref);
    /* the builder's own calls, a line of the request among them */
    SfSipBuilder *b = sf_sip_builder_request ("MESSAGE", "sip:x@example.com");
    sf_sip_builder_copy (b, req, SF_SIP_HDR_VIA);
    sf_sip_builder_copy (b, req, SF_SIP_HDR_FROM);
    sf_sip_builder_copy (b, req, SF_SIP_HDR_TO);
    sf_sip_builder_copy (b, req, SF_SIP_HDR_CALL_ID);
    sf_sip_builder_add (b, "CSeq", "%d MESSAGE", 9);
    for (guint h = 0; h < sf_sip_msg_n_headers (req); h++)
      if (sf_sip_msg_header (req, h)->id == SF_SIP_HDR_OTHER)
        sf_sip_builder_add_line (b, sf_sip_msg_header (req, h));
    sf_sip_builder_body (b, "text/plain", "hello", 5);
    sf_sip_msg_unref (sf_sip_builder_finish (b, NULL));
  }
  SfSipRequestSpec spec = { .method = "INVITE", .ruri = "sip:bob@biloxi.com", .from = "Alice <sip:alice@a.com>",
                            .to = "<sip:bob@biloxi.com>", .via_sent_by = "192.0.2.1:5060", .contact = "<sip:a@192.0.2.1>",
                            .route = (const char *const[]) { "<sip:p1;lr>", "<sip:p2;lr>", NULL },
                            .extra = (const char *const[]) { "Supported: timer", "Session-Expires: 1800", NULL },
                            .content_type = "application/sdp", .body = "v=0\r\n", .body_len = 5 };
  sf_sip_msg_unref (sf_sip_create_request (&spec, NULL));
}

/* Random lines from a fixed seed: names known, compact, in any case, or
 * not tokens; values of any bytes (control bytes now and then); lines
 * copied from received messages among them. */
static const char *const rnd_names[] = { "Via", "VIA", "v", "From", "f", "To", "t", "Call-ID", "i", "CSeq",
                                         "Max-Forwards", "Content-Length", "l", "Content-Type", "c", "Contact", "m",
                                         "Route", "Record-Route", "Expires", "X-Thing", "x", "Subject", "Allow",
                                         "Supported", "k", "Allow-Events", "Require", "Bad Name", "Bad:Name", "",
                                         "Na\xc3\xa9me" };
static const char *const rnd_values[] = { "SIP/2.0/UDP h.example.com;branch=z9hG4bKr", "<sip:a@b>;tag=x", "sip:a@b",
                                          "1 INVITE", "7 REGISTER", "70", "0", "-1", "abc", "", " ", "  padded  ",
                                          "\"q\\\"uoted\" <sip:x@y>", "<sip:a@b>, <sip:c@d>;lr", "text/plain",
                                          "*", "a,b,,c", "99999999999999999999999" };

static char *
rnd_value (GRand *r)
{
  if (g_rand_int_range (r, 0, 3) > 0)
    return g_strdup (rnd_values[g_rand_int_range (r, 0, G_N_ELEMENTS (rnd_values))]);
  static const char alphabet[] = " \t\r\n\x01\x7f\\\"<>;=,@:/abcXYZ019.-_%~";
  gsize n = (gsize) g_rand_int_range (r, 0, 40);
  gboolean ctl = g_rand_int_range (r, 0, 4) == 0; /* control bytes in one value of four */
  char *v = g_malloc (n + 1);
  for (gsize i = 0; i < n; i++) {
    gsize at = ctl && g_rand_int_range (r, 0, 8) == 0 ? (gsize) g_rand_int_range (r, 0, 6)
                                                      : (gsize) g_rand_int_range (r, 6, sizeof alphabet - 1);
    v[i] = alphabet[at];
  }
  v[n] = '\0';
  return v;
}

static void
build_random (GRand *r, SfSipMsg *const *from, gsize n_from)
{
  static const char *const methods[] = { "INVITE", "REGISTER", "BYE", "OPTIONS", "", "IN VITE", "ACK" };
  static const char *const ruris[] = { "sip:bob@biloxi.com", "sips:[2001:db8::1]:5061", "tel:+1234", "sip:a b",
                                       "sip:a@b?x=y", "<sip:x>", "sip:ctl\x01@x" };
  SfSipBuilder *b;
  const char *method = methods[g_rand_int_range (r, 0, G_N_ELEMENTS (methods))];
  if (g_rand_boolean (r))
    b = sf_sip_builder_request (method, ruris[g_rand_int_range (r, 0, G_N_ELEMENTS (ruris))]);
  else
    b = sf_sip_builder_response ((guint) g_rand_int_range (r, 100, 700),
                                 g_rand_int_range (r, 0, 4) == 0 ? "Odd\treason" : NULL);
  /* the mandatory lines mostly there, so that most messages get through validation */
  if (g_rand_int_range (r, 0, 5) > 0) {
    SfSipMsg *src = from[g_rand_int_range (r, 0, (gint32) n_from)];
    sf_sip_builder_copy (b, src, SF_SIP_HDR_VIA);
    sf_sip_builder_copy (b, src, SF_SIP_HDR_FROM);
    sf_sip_builder_copy (b, src, SF_SIP_HDR_TO);
    sf_sip_builder_copy (b, src, SF_SIP_HDR_CALL_ID);
    if (g_rand_boolean (r))
      sf_sip_builder_add (b, "CSeq", "1 %s", method);
    else
      sf_sip_builder_copy (b, src, SF_SIP_HDR_CSEQ);
  }
  guint lines = (guint) g_rand_int_range (r, 0, 12);
  if (g_rand_int_range (r, 0, 50) == 0)
    lines = 300; /* over SF_SIP_MAX_HEADERS */
  for (guint i = 0; i < lines; i++) {
    switch (g_rand_int_range (r, 0, 4)) {
    case 0: { /* a received line */
      SfSipMsg *src = from[g_rand_int_range (r, 0, (gint32) n_from)];
      const SfSipHdr *h = sf_sip_msg_header (src, (guint) g_rand_int_range (r, 0, (gint32) sf_sip_msg_n_headers (src)));
      if (g_rand_boolean (r))
        sf_sip_builder_add_line (b, h);
      else
        sf_sip_builder_copy (b, src, h->id != SF_SIP_HDR_OTHER ? h->id : SF_SIP_HDR_SUBJECT);
      break;
    }
    case 1: { /* a whole line */
      g_autofree char *v = rnd_value (r);
      g_autofree char *line = g_strdup_printf ("%s:%s%s", rnd_names[g_rand_int_range (r, 0, G_N_ELEMENTS (rnd_names))],
                                               g_rand_boolean (r) ? " " : "", v);
      const char *const l[] = { line, NULL };
      sf_sip_builder_add_lines (b, l, NULL);
      break;
    }
    default: {
      g_autofree char *v = rnd_value (r);
      /* the names that are no tokens one time in four */
      gint32 nn = g_rand_int_range (r, 0, 4) == 0 ? G_N_ELEMENTS (rnd_names) : G_N_ELEMENTS (rnd_names) - 4;
      sf_sip_builder_add (b, rnd_names[g_rand_int_range (r, 0, nn)], "%s", v);
    }
    }
  }
  if (g_rand_int_range (r, 0, 20) == 0) { /* past SF_SIP_MAX_HEADER_LEN */
    g_autofree char *big = g_strnfill (SF_SIP_MAX_HEADER_LEN, 'a');
    sf_sip_builder_add (b, "X-Big", "%s", big);
  }
  if (g_rand_int_range (r, 0, 3) == 0) {
    g_autofree char *body = rnd_value (r);
    sf_sip_builder_body (b, g_rand_int_range (r, 0, 8) == 0 ? "text/\x01plain" : "text/plain", body, strlen (body));
  }
  sf_sip_msg_unref (sf_sip_builder_finish (b, NULL));
}

static void
built_direct (void)
{
  Diff d = { 0 };
  sf_sip_builder_set_test_hook (diff_hook, &d);
  build_known ();
  guint known = d.finished, known_direct = d.direct;
  SfSipMsg *from[G_N_ELEMENTS (received) + G_N_ELEMENTS (responses)];
  gsize n_from = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (received); i++)
    from[n_from++] = parse (received[i]);
  for (gsize i = 0; i < G_N_ELEMENTS (responses); i++)
    from[n_from++] = parse (responses[i]);
  g_autoptr (GRand) r = g_rand_new_with_seed (25);
  for (guint i = 0; i < 3000; i++)
    build_random (r, from, n_from);
  for (gsize i = 0; i < n_from; i++)
    sf_sip_msg_unref (from[i]);
  sf_sip_builder_set_test_hook (NULL, NULL);
  g_printerr ("built_direct: %u messages built (%u known, %u of them direct), %u direct\n", d.finished, known,
              known_direct, d.direct);
  CU_ASSERT_EQUAL (d.differ, 0);
  /* the comparisons are of the new way: most messages took it */
  CU_ASSERT (known_direct * 10 >= known * 8);
  CU_ASSERT (d.direct * 3 >= d.finished);
}

/* A value that is one number is written without printf: the same digits. */
static void
add_numbers (void)
{
  SfSipBuilder *b = sf_sip_builder_response (200, NULL);
  sf_sip_builder_add (b, "Via", "SIP/2.0/UDP h;branch=z9hG4bK%d", 1);
  sf_sip_builder_add (b, "From", "<sip:a@b>;tag=%u", 2u);
  sf_sip_builder_add (b, "To", "<sip:a@b>");
  sf_sip_builder_add (b, "Call-ID", "c");
  sf_sip_builder_add (b, "CSeq", "1 INVITE");
  sf_sip_builder_add (b, "X-D", "%d", G_MININT);
  sf_sip_builder_add (b, "X-U", "%u", G_MAXUINT);
  sf_sip_builder_add (b, "X-I", "%" G_GINT64_FORMAT, G_MININT64);
  sf_sip_builder_add (b, "X-J", "%" G_GINT64_FORMAT, (gint64) 0);
  sf_sip_builder_add (b, "X-L", "%" G_GUINT64_FORMAT, G_MAXUINT64);
  g_autoptr (SfSipMsg) m = sf_sip_builder_finish (b, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  g_autofree char *w = wire (m);
  g_autofree char *d = g_strdup_printf ("X-D: %d\r\n", G_MININT);
  g_autofree char *u = g_strdup_printf ("X-U: %u\r\n", G_MAXUINT);
  g_autofree char *i = g_strdup_printf ("X-I: %" G_GINT64_FORMAT "\r\n", G_MININT64);
  g_autofree char *l = g_strdup_printf ("X-L: %" G_GUINT64_FORMAT "\r\n", G_MAXUINT64);
  CU_ASSERT (has (w, d) && has (w, u) && has (w, i) && has (w, "X-J: 0\r\n") && has (w, l));
}

/* A line made by hand whose name is not followed by its ':' (the builder
 * takes any SfSipHdr) is refused, as a parse of the same bytes refuses it:
 * the builder does not vouch for it. */
static void
hand_made_line (void)
{
  static const char line[] = "Foo bar: x\r\n";
  SfSipHdr h = { .id = SF_SIP_HDR_OTHER };
  h.name = sf_sip_str (line, 3);
  h.value = sf_sip_str (line + 9, 1);
  h.line = sf_sip_str (line, sizeof line - 1);
  SfSipBuilder *b = sf_sip_builder_request ("OPTIONS", "sip:a@b");
  sf_sip_builder_add (b, "Via", "SIP/2.0/UDP h;branch=z9hG4bK1");
  sf_sip_builder_add (b, "From", "<sip:a@b>;tag=1");
  sf_sip_builder_add (b, "To", "<sip:a@b>");
  sf_sip_builder_add (b, "Call-ID", "c");
  sf_sip_builder_add (b, "CSeq", "1 OPTIONS");
  sf_sip_builder_add_line (b, &h);
  g_autoptr (GError) e = NULL;
  g_autoptr (SfSipMsg) m = sf_sip_builder_finish (b, &e);
  CU_ASSERT_PTR_NULL (m);
  CU_ASSERT_PTR_NOT_NULL (e);
}

static gpointer
free_three (gpointer data)
{
  SfSipMsg *m[3];
  for (guint i = 0; i < 3; i++)
    m[i] = parse (data);
  for (guint i = 0; i < 3; i++)
    sf_sip_msg_unref (m[i]);
  return GUINT_TO_POINTER (sf_sip_msg_block_cache_len ()); /* emptied when the thread ends */
}

/* The thread's cache of message blocks (off by default under ASan, on here):
 * bounded, taken back first, emptied when a thread ends (LeakSanitizer at
 * exit and ASan see the blocks freed). */
static void
block_cache (void)
{
  guint was = sf_sip_msg_set_block_cache (64);
  SfSipMsg *m[70];
  for (guint i = 0; i < G_N_ELEMENTS (m); i++)
    m[i] = parse (received[0]);
  guint start = sf_sip_msg_block_cache_len ();
  CU_ASSERT_EQUAL (start, 0);
  for (guint i = 0; i < G_N_ELEMENTS (m); i++)
    sf_sip_msg_unref (m[i]);
  CU_ASSERT_EQUAL (sf_sip_msg_block_cache_len (), 64);
  SfSipMsg *again = parse (received[0]);
  CU_ASSERT_EQUAL (sf_sip_msg_block_cache_len (), 63);
  sf_sip_msg_unref (again);
  GThread *t = g_thread_new ("cache", free_three, (gpointer) received[0]);
  CU_ASSERT_EQUAL (GPOINTER_TO_UINT (g_thread_join (t)), 3);
  sf_sip_msg_set_block_cache (0); /* empties this thread's */
  CU_ASSERT_EQUAL (sf_sip_msg_block_cache_len (), 0);
  sf_sip_msg_set_block_cache (was);
}

void
sf_test_register_sip_build (void)
{
  CU_pSuite s = CU_add_suite ("sip-build", NULL, NULL);
  SF_ADD_TEST (s, response);
  SF_ADD_TEST (s, ack);
  SF_ADD_TEST (s, cancel);
  SF_ADD_TEST (s, forward);
  SF_ADD_TEST (s, forward_response);
  SF_ADD_TEST (s, builder_checks);
  SF_ADD_TEST (s, request);
  SF_ADD_TEST (s, response_nul_display_name);
  SF_ADD_TEST (s, response_huge_via);
  SF_ADD_TEST (s, built_copies);
  SF_ADD_TEST (s, random_after_fork);
  SF_ADD_TEST (s, serialize_own_bytes);
  SF_ADD_TEST (s, built_direct);
  SF_ADD_TEST (s, add_numbers);
  SF_ADD_TEST (s, hand_made_line);
  SF_ADD_TEST (s, block_cache);
}
