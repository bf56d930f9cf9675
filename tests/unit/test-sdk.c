/* test-sdk.c: the public API of include/sipflow/ (docs/plugins.md).
 *  - version: the SDK's version macros are the package's, and the library says so
 *  - message_read: a request read through sf-message.h: start line, header values
 *    by name (lists, several lines, compact forms, unknown headers), URIs, parameters
 *  - message_kinds: only a SIP event carries a message; no reply without a server transaction
 *  - uri_parse: a URI parsed into slices */
#include "config.h"
#include "sf-test.h"
#include "sipflow/sipflow.h"
#include "operators/transaction/sf-stack.h"
#include <string.h>

static void
version (void)
{
  CU_ASSERT_STRING_EQUAL (SIPFLOW_VERSION_STRING, PACKAGE_VERSION);
  CU_ASSERT_STRING_EQUAL (sf_version (), PACKAGE_VERSION);
  g_autofree char *parts = g_strdup_printf ("%d.%d.%d", SIPFLOW_MAJOR_VERSION, SIPFLOW_MINOR_VERSION,
                                            SIPFLOW_MICRO_VERSION);
  CU_ASSERT_STRING_EQUAL (parts, PACKAGE_VERSION);
  CU_ASSERT_TRUE (SIPFLOW_CHECK_VERSION (SIPFLOW_MAJOR_VERSION, SIPFLOW_MINOR_VERSION, 0));
  CU_ASSERT_FALSE (SIPFLOW_CHECK_VERSION (SIPFLOW_MAJOR_VERSION + 1, 0, 0));
}

static const char invite[] =
  "INVITE sip:bob%40home@biloxi.example.com:5070;transport=udp;lr SIP/2.0\r\n"
  "Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\n"
  "v: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb\r\n"
  "Max-Forwards: 70\r\n"
  "To: Bob <sip:bob@biloxi.example.com>\r\n"
  "f: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
  "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
  "CSeq: 314159 INVITE\r\n"
  "X-Screen: one, two\r\n"
  "x-screen: three\r\n"
  "Content-Length: 0\r\n\r\n";

static SfEvent *
invite_event (const char *txn)
{
  g_autoptr (GBytes) bytes = g_bytes_new_static (invite, sizeof invite - 1);
  g_autoptr (SfSipMsg) msg = sf_sip_msg_parse (bytes, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (msg);
  SfSipPeer peer = { 0 };
  return sf_event_new_full (SF_EV_SIP, "INVITE", NULL, sf_sip_event_new (msg, &peer, txn),
                            (GDestroyNotify) sf_sip_event_free);
}

static void
message_read (void)
{
  g_autoptr (SfEvent) ev = invite_event ("t1");
  SfMessage *m = sf_message_from_event (ev);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_TRUE (sf_message_is_request (m));
  CU_ASSERT_TRUE (sf_slice_equal (sf_message_method (m), "INVITE"));
  CU_ASSERT_EQUAL (sf_message_status (m), 0);
  CU_ASSERT_EQUAL (sf_message_body (m).len, 0);

  const SfUri *ruri = sf_message_request_uri (m);
  CU_ASSERT_PTR_NOT_NULL_FATAL (ruri);
  CU_ASSERT_TRUE (sf_slice_equal (sf_uri_user (ruri), "bob%40home"));
  g_autofree char *user = sf_slice_unescape (sf_uri_user (ruri));
  CU_ASSERT_STRING_EQUAL (user, "bob@home");
  CU_ASSERT_TRUE (sf_slice_caseequal (sf_uri_host (ruri), "BILOXI.example.com"));
  CU_ASSERT_EQUAL (sf_uri_port (ruri), 5070);
  SfSlice v;
  CU_ASSERT_TRUE (sf_uri_param (ruri, "transport", &v) && sf_slice_equal (v, "udp"));
  CU_ASSERT_TRUE (sf_uri_param (ruri, "LR", &v) && v.len == 0);
  CU_ASSERT_FALSE (sf_uri_param (ruri, "maddr", NULL));

  /* a list header: one value per item, across lines and compact forms */
  CU_ASSERT_EQUAL (sf_message_header_count (m, "Via"), 3);
  CU_ASSERT_TRUE (sf_message_header (m, "via", 1, &v) && sf_slice_equal (v, "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa"));
  CU_ASSERT_TRUE (sf_message_header (m, "v", 2, &v) && sf_slice_equal (v, "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb"));
  CU_ASSERT_FALSE (sf_message_header (m, "Via", 3, &v));
  CU_ASSERT_TRUE (sf_message_header_param (m, "Via", 2, "branch", &v) && sf_slice_equal (v, "z9hG4bKb"));
  /* an unknown header: one value per line, the name in any case */
  CU_ASSERT_EQUAL (sf_message_header_count (m, "X-Screen"), 2);
  CU_ASSERT_TRUE (sf_message_header (m, "X-SCREEN", 0, &v) && sf_slice_equal (v, "one, two"));
  CU_ASSERT_TRUE (sf_message_header (m, "X-Screen", 1, &v) && sf_slice_equal (v, "three"));
  CU_ASSERT_EQUAL (sf_message_header_count (m, "Subject"), 0);
  /* name-addr headers: the URI, the parameters */
  CU_ASSERT_TRUE (sf_message_header (m, "From", 0, &v) &&
                  sf_slice_equal (v, "Alice <sip:alice@atlanta.example.com>;tag=1928301774"));
  const SfUri *from = sf_message_header_uri (m, "From", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL (from);
  CU_ASSERT_TRUE (sf_slice_equal (sf_uri_user (from), "alice"));
  CU_ASSERT_TRUE (sf_slice_equal (sf_uri_host (from), "atlanta.example.com"));
  CU_ASSERT_TRUE (sf_slice_equal (sf_uri_text (from), "sip:alice@atlanta.example.com"));
  CU_ASSERT_TRUE (sf_message_header_param (m, "f", 0, "tag", &v) && sf_slice_equal (v, "1928301774"));
  CU_ASSERT_FALSE (sf_message_header_param (m, "To", 0, "tag", &v));
  CU_ASSERT_PTR_NULL (sf_message_header_uri (m, "Call-ID", 0));
  CU_ASSERT_PTR_NULL (sf_message_header_uri (m, "Contact", 0));
}

static void
message_kinds (void)
{
  g_autoptr (SfEvent) device = sf_event_new (SF_EV_DEVICE, "answer", NULL);
  CU_ASSERT_PTR_NULL (sf_message_from_event (device));
  g_autoptr (SfEvent) bare = sf_event_new (SF_EV_SIP, "cancel", NULL);
  CU_ASSERT_PTR_NULL (sf_message_from_event (bare));
  CU_ASSERT_PTR_NULL (sf_message_from_event (NULL));
  /* a request the stack holds no server transaction for cannot be answered */
  g_autoptr (SfEvent) ev = invite_event (NULL);
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_message_reply (NULL, sf_message_from_event (ev), 603, NULL, NULL, &error));
  CU_ASSERT (g_error_matches (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_NO_TRANSACTION));
}

static void
uri_parse (void)
{
  static const char text[] = "sips:carol@[2001:db8::1]:5061;maddr=example.org";
  g_autoptr (SfUri) uri = sf_uri_parse (text, strlen (text), NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (uri);
  CU_ASSERT_TRUE (sf_slice_equal (sf_uri_scheme (uri), "sips"));
  CU_ASSERT_TRUE (sf_slice_equal (sf_uri_host (uri), "[2001:db8::1]"));
  CU_ASSERT_EQUAL (sf_uri_port (uri), 5061);
  SfSlice v;
  CU_ASSERT_TRUE (sf_uri_param (uri, "maddr", &v) && sf_slice_equal (v, "example.org"));
  g_autofree char *copy = sf_slice_dup (sf_uri_user (uri));
  CU_ASSERT_STRING_EQUAL (copy, "carol");
  g_autoptr (GError) error = NULL;
  CU_ASSERT_PTR_NULL (sf_uri_parse ("sip:", 4, &error));
  CU_ASSERT (g_error_matches (error, SF_MESSAGE_ERROR, SF_MESSAGE_ERROR_SYNTAX));
}

void
sf_test_register_sdk (void)
{
  CU_pSuite s = CU_add_suite ("sdk", NULL, NULL);
  SF_ADD_TEST (s, version);
  SF_ADD_TEST (s, message_read);
  SF_ADD_TEST (s, message_kinds);
  SF_ADD_TEST (s, uri_parse);
}
