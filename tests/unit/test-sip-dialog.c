/* test-sip-dialog.c: dialogs (RFC 3261 section 12) with the RFC's own example
 * (Alice calls Bob through atlanta's and biloxi's proxies, section 24.2).
 *  - uas: route set from Record-Route in order, remote target from Contact, remote
 *    CSeq, tags (12.1.1); Bob's BYE: Request-URI the remote target, Route the route
 *    set, CSeq from 1, next hop the first route (12.2.1.1)
 *  - uac: route set reversed (12.1.2); Alice's BYE with CSeq 314160
 *  - early_then_confirmed: an early dialog's route set and target replaced by the 2xx
 *  - shared_usages: two usages (RFC 5057) share one dialog's CSeq; freed with the last reference
 *  - strict_router: a first route without ;lr gets the Request-URI; the remote
 *    target goes last in Route (12.2.1.1)
 *  - request_in: a lower CSeq is refused with 500; a re-INVITE's Contact refreshes
 *    the remote target; ACK is not sequence-checked (12.2.2)
 *  - uac_null_tag: a 2xx without To tag: a dialog with a null remote tag (12.1.2);
 *    without Contact: the fallback dialog toward the Request-URI (13.2.2.4)
 *  - refusals: a 100, a response without a tag, a request without Contact */
#include "config.h"
#include "sf-test.h"
#include "sip/sf-sip-build.h"
#include "sip/sf-sip-dialog.h"
#include <string.h>

static const char invite[] =
  "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
  "Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1\r\n"
  "Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\r\n"
  "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n"
  "Max-Forwards: 68\r\n"
  "Record-Route: <sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>\r\n"
  "To: Bob <sip:bob@biloxi.com>\r\n"
  "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
  "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n"
  "CSeq: 314159 INVITE\r\n"
  "Contact: <sip:alice@pc33.atlanta.com>\r\n"
  "Content-Length: 0\r\n\r\n";

static SfSipMsg *
parse (const char *text)
{
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  return sf_sip_msg_parse (b, NULL);
}

/* Bob's 200: the request's Vias, Record-Route, Bob's tag and Contact. */
static SfSipMsg *
ok_from_bob (SfSipMsg *inv, guint status, const char *rr, const char *contact)
{
  g_autoptr (SfSipMsg) base = sf_sip_create_response (inv, status, NULL, "a6c85cf", NULL);
  SfSipBuilder *b = sf_sip_builder_response (status, NULL);
  for (guint i = 0; i < sf_sip_msg_n_headers (base); i++) {
    const SfSipHdr *h = sf_sip_msg_header (base, i);
    if (h->id != SF_SIP_HDR_CONTENT_LENGTH && h->id != SF_SIP_HDR_RECORD_ROUTE)
      sf_sip_builder_add_line (b, h);
  }
  if (rr != NULL)
    sf_sip_builder_add (b, "Record-Route", "%s", rr);
  sf_sip_builder_add (b, "Contact", "%s", contact);
  return sf_sip_builder_finish (b, NULL);
}

static char *
wire (SfSipMsg *m)
{
  g_autoptr (GBytes) b = sf_sip_msg_serialize (m);
  return g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
}

static gboolean
has (const char *text, const char *needle)
{
  if (strstr (text, needle) != NULL)
    return TRUE;
  g_printerr ("missing '%s' in:\n%s\n", needle, text);
  return FALSE;
}

static const SfSipDialogRequest bye = { .method = "BYE", .via_sent_by = "192.0.2.4" };

static void
uas (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite);
  g_autoptr (SfSipMsg) ok = ok_from_bob (inv, 200, "<sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>",
                                         "<sip:bob@192.0.2.4>");
  CU_ASSERT_PTR_NOT_NULL_FATAL (ok);
  g_autoptr (GError) error = NULL;
  g_autoptr (SfSipDialog) d = sf_sip_dialog_new_uas (inv, ok, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (d);
  CU_ASSERT_STRING_EQUAL (d->remote_target, "sip:alice@pc33.atlanta.com");
  CU_ASSERT_EQUAL (d->route_set->len, 2);
  CU_ASSERT_STRING_EQUAL (d->route_set->pdata[0], "<sip:server10.biloxi.com;lr>");
  CU_ASSERT_EQUAL (d->remote_cseq, 314159);
  CU_ASSERT_STRING_EQUAL (d->local_tag, "a6c85cf");
  CU_ASSERT_STRING_EQUAL (d->remote_tag, "1928301774");
  CU_ASSERT_FALSE (d->early);
  g_autofree char *key = sf_sip_dialog_key (d);
  CU_ASSERT_STRING_EQUAL (key, "a84b4c76e66710@pc33.atlanta.com|a6c85cf|1928301774");
  g_autofree char *hop = NULL;
  g_autoptr (SfSipMsg) b = sf_sip_dialog_create_request (d, &bye, &hop, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (b);
  g_autofree char *w = wire (b);
  CU_ASSERT_TRUE (g_str_has_prefix (w, "BYE sip:alice@pc33.atlanta.com SIP/2.0\r\n"));
  CU_ASSERT_TRUE (has (w, "Route: <sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>\r\n"));
  CU_ASSERT_TRUE (has (w, "From: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"));
  CU_ASSERT_TRUE (has (w, "To: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"));
  CU_ASSERT_TRUE (has (w, "CSeq: 1 BYE\r\n"));
  CU_ASSERT_STRING_EQUAL (hop, "sip:server10.biloxi.com;lr");
}

static void
uac (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite);
  g_autoptr (SfSipMsg) ok = ok_from_bob (inv, 200, "<sip:server10.biloxi.com;lr>, <sip:bigbox3.site3.atlanta.com;lr>",
                                         "<sip:bob@192.0.2.4>");
  g_autoptr (SfSipDialog) d = sf_sip_dialog_new_uac (inv, ok, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (d);
  CU_ASSERT_STRING_EQUAL (d->route_set->pdata[0], "<sip:bigbox3.site3.atlanta.com;lr>");
  CU_ASSERT_STRING_EQUAL (d->remote_target, "sip:bob@192.0.2.4");
  CU_ASSERT_EQUAL (d->local_cseq, 314159);
  CU_ASSERT_EQUAL (d->remote_cseq, 0);
  g_autoptr (SfSipMsg) b = sf_sip_dialog_create_request (d, &bye, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (b);
  g_autofree char *w = wire (b);
  CU_ASSERT_TRUE (g_str_has_prefix (w, "BYE sip:bob@192.0.2.4 SIP/2.0\r\n"));
  CU_ASSERT_TRUE (has (w, "Route: <sip:bigbox3.site3.atlanta.com;lr>, <sip:server10.biloxi.com;lr>\r\n"));
  CU_ASSERT_TRUE (has (w, "From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"));
  CU_ASSERT_TRUE (has (w, "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n"));
  CU_ASSERT_TRUE (has (w, "CSeq: 314160 BYE\r\n"));
}

/* RFC 5057: two usages of one dialog (a call and a REFER's subscription)
 * share its local CSeq; the dialog lives until its last reference goes. */
static void
shared_usages (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite);
  g_autoptr (SfSipMsg) ok = ok_from_bob (inv, 200, NULL, "<sip:bob@192.0.2.4>");
  SfSipDialog *call = sf_sip_dialog_new_uac (inv, ok, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (call);
  SfSipDialog *sub = sf_sip_dialog_ref (call);
  CU_ASSERT_PTR_EQUAL (sub, call);
  static const SfSipDialogRequest refer = { .method = "REFER", .via_sent_by = "192.0.2.4" };
  g_autoptr (SfSipMsg) r = sf_sip_dialog_create_request (call, &refer, NULL, NULL);
  sf_sip_dialog_free (call);                 /* the call usage ends: the subscription's stays */
  g_autoptr (SfSipMsg) b = sf_sip_dialog_create_request (sub, &bye, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (b);
  g_autofree char *w1 = wire (r), *w2 = wire (b);
  CU_ASSERT_TRUE (has (w1, "CSeq: 314160 REFER\r\n"));
  CU_ASSERT_TRUE (has (w2, "CSeq: 314161 BYE\r\n"));
  sf_sip_dialog_free (sub);                  /* the last: freed (ASan sees a leak or a double free) */
}

static void
early_then_confirmed (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite);
  g_autoptr (SfSipMsg) ringing = ok_from_bob (inv, 180, "<sip:early.example.com;lr>", "<sip:bob@early.example.com>");
  g_autoptr (SfSipDialog) d = sf_sip_dialog_new_uac (inv, ringing, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (d);
  CU_ASSERT_TRUE (d->early);
  g_autoptr (SfSipMsg) ok = ok_from_bob (inv, 200, "<sip:final.example.com;lr>", "<sip:bob@192.0.2.4>");
  CU_ASSERT_TRUE (sf_sip_dialog_update_uac (d, ok, FALSE, NULL));
  CU_ASSERT_FALSE (d->early);
  CU_ASSERT_STRING_EQUAL (d->route_set->pdata[0], "<sip:final.example.com;lr>");
  CU_ASSERT_STRING_EQUAL (d->remote_target, "sip:bob@192.0.2.4");
}

static void
strict_router (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite);
  g_autoptr (SfSipMsg) ok = ok_from_bob (inv, 200, "<sip:strict.example.com>, <sip:loose.example.com;lr>",
                                         "<sip:bob@192.0.2.4>");
  g_autoptr (SfSipDialog) d = sf_sip_dialog_new_uas (inv, ok, NULL);
  /* The UAS's route set is the request's Record-Route: replace it with one whose
   * first hop is a strict router. */
  g_ptr_array_set_size (d->route_set, 0);
  g_ptr_array_add (d->route_set, g_strdup ("<sip:strict.example.com>"));
  g_ptr_array_add (d->route_set, g_strdup ("<sip:loose.example.com;lr>"));
  g_autofree char *hop = NULL;
  g_autoptr (SfSipMsg) b = sf_sip_dialog_create_request (d, &bye, &hop, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (b);
  g_autofree char *w = wire (b);
  CU_ASSERT_TRUE (g_str_has_prefix (w, "BYE sip:strict.example.com SIP/2.0\r\n"));
  CU_ASSERT_TRUE (has (w, "Route: <sip:loose.example.com;lr>, <sip:alice@pc33.atlanta.com>\r\n"));
  CU_ASSERT_STRING_EQUAL (hop, "sip:strict.example.com");
}

/* 12.1.2: a 2xx without a To tag makes a dialog with a null remote tag (our
 * requests carry no To tag); a 180 without one makes none; a 2xx without
 * Contact gets the fallback dialog toward the INVITE's Request-URI (13.2.2.4). */
static void
uac_null_tag (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite);
  g_autoptr (SfSipMsg) ok = sf_sip_create_response (inv, 200, NULL, NULL, NULL);
  SfSipBuilder *b = sf_sip_builder_response (200, NULL);
  for (guint i = 0; i < sf_sip_msg_n_headers (ok); i++)
    if (sf_sip_msg_header (ok, i)->id != SF_SIP_HDR_CONTENT_LENGTH && sf_sip_msg_header (ok, i)->id != SF_SIP_HDR_RECORD_ROUTE)
      sf_sip_builder_add_line (b, sf_sip_msg_header (ok, i));
  sf_sip_builder_add (b, "Contact", "<sip:bob@192.0.2.4>");
  g_autoptr (SfSipMsg) tagless = sf_sip_builder_finish (b, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (tagless);
  CU_ASSERT_PTR_NULL (sf_sip_value_param (sf_sip_msg_to (tagless), "tag"));
  g_autoptr (SfSipDialog) d = sf_sip_dialog_new_uac (inv, tagless, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (d);
  CU_ASSERT_STRING_EQUAL (d->remote_tag, "");
  g_autoptr (SfSipMsg) req = sf_sip_dialog_create_request (d, &bye, NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (req);
  g_autofree char *w = wire (req);
  CU_ASSERT_TRUE (g_str_has_prefix (w, "BYE sip:bob@192.0.2.4 SIP/2.0\r\n"));
  CU_ASSERT_TRUE (has (w, "To: Bob <sip:bob@biloxi.com>\r\n"));
  g_autoptr (SfSipMsg) ringing = sf_sip_create_response (inv, 180, NULL, NULL, NULL);
  CU_ASSERT_PTR_NULL (sf_sip_dialog_new_uac (inv, ringing, NULL));
  /* no Contact: not a dialog; the fallback goes where the INVITE went */
  g_autoptr (SfSipMsg) nc = sf_sip_create_response (inv, 200, NULL, "x1", NULL);
  CU_ASSERT_PTR_NULL (sf_sip_dialog_new_uac (inv, nc, NULL));
  g_autoptr (SfSipDialog) f = sf_sip_dialog_new_uac_fallback (inv, nc);
  CU_ASSERT_STRING_EQUAL (f->remote_target, "sip:bob@biloxi.com");
  CU_ASSERT_STRING_EQUAL (f->remote_tag, "x1");
  CU_ASSERT_EQUAL (f->route_set->len, 0);
  g_autofree char *hop = sf_sip_dialog_next_hop (f);
  CU_ASSERT_STRING_EQUAL (hop, "sip:bob@biloxi.com");
}

static void
request_in (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite);
  g_autoptr (SfSipMsg) ok = ok_from_bob (inv, 200, NULL, "<sip:bob@192.0.2.4>");
  g_autoptr (SfSipDialog) d = sf_sip_dialog_new_uas (inv, ok, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (d);
  const char *reinvite =
    "INVITE sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKre1\r\n"
    "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\nFrom: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\nCSeq: 314160 INVITE\r\nContact: <sip:alice@192.0.2.77>\r\n\r\n";
  g_autoptr (SfSipMsg) re = parse (reinvite);
  guint status = 0;
  CU_ASSERT_TRUE (sf_sip_dialog_request_in (d, re, &status));
  CU_ASSERT_STRING_EQUAL (d->remote_target, "sip:alice@192.0.2.77");
  CU_ASSERT_EQUAL (d->remote_cseq, 314160);
  /* The same CSeq again (or lower): 500. */
  CU_ASSERT_FALSE (sf_sip_dialog_request_in (d, re, &status));
  CU_ASSERT_EQUAL (status, 500);
  /* Without our tag in To: not this dialog, 481. */
  const char *notag =
    "BYE sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKbye7\r\n"
    "To: Bob <sip:bob@biloxi.com>;tag=other\r\nFrom: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\nCSeq: 314170 BYE\r\n\r\n";
  g_autoptr (SfSipMsg) nt = parse (notag);
  CU_ASSERT_FALSE (sf_sip_dialog_request_in (d, nt, &status));
  CU_ASSERT_EQUAL (status, 481);
  /* An ACK carries the INVITE's CSeq: not refused. */
  const char *ack =
    "ACK sip:bob@192.0.2.4 SIP/2.0\r\nVia: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKack1\r\n"
    "To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\nFrom: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.com\r\nCSeq: 314160 ACK\r\n\r\n";
  g_autoptr (SfSipMsg) a = parse (ack);
  CU_ASSERT_TRUE (sf_sip_dialog_request_in (d, a, &status));
}

static void
refusals (void)
{
  g_autoptr (SfSipMsg) inv = parse (invite);
  g_autoptr (SfSipMsg) trying = sf_sip_create_response (inv, 100, NULL, NULL, NULL);
  g_autoptr (GError) e1 = NULL;
  CU_ASSERT_PTR_NULL (sf_sip_dialog_new_uas (inv, trying, &e1));
  CU_ASSERT_PTR_NOT_NULL (e1);
  const char *nocontact = "INVITE sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
                          "To: <sip:bob@biloxi.com>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: n\r\nCSeq: 1 INVITE\r\n\r\n";
  g_autoptr (SfSipMsg) nc = parse (nocontact);
  g_autoptr (SfSipMsg) ok = sf_sip_create_response (nc, 200, NULL, "t", NULL);
  g_autoptr (GError) e2 = NULL;
  CU_ASSERT_PTR_NULL (sf_sip_dialog_new_uas (nc, ok, &e2));
  CU_ASSERT_TRUE (e2 != NULL && strstr (e2->message, "Contact") != NULL);
}

void
sf_test_register_sip_dialog (void)
{
  CU_pSuite s = CU_add_suite ("sip-dialog", NULL, NULL);
  SF_ADD_TEST (s, uas);
  SF_ADD_TEST (s, uac);
  SF_ADD_TEST (s, shared_usages);
  SF_ADD_TEST (s, early_then_confirmed);
  SF_ADD_TEST (s, strict_router);
  SF_ADD_TEST (s, uac_null_tag);
  SF_ADD_TEST (s, request_in);
  SF_ADD_TEST (s, refusals);
}
