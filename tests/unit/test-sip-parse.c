/* test-sip-parse.c: the SIP message layer against the conformance data
 * (tests/data, copies of the RFC 4475 and RFC 5118 messages, never edited) and round trips.
 *  - rfc4475_verdicts: each of the 50 RFC 4475 messages gets INDEX.tsv's verdict
 *    (valid and valid-but-odd parse with every header; invalid-must-reject fail),
 *    and each accepted one shows the value RFC 4475 discusses (table below)
 *  - rfc5118_verdicts: the same for the RFC 5118 IPv6 messages (wire/ copies)
 *  - round_trip: parse(serialize(m)) has m's start line, headers and body, and
 *    serialize keeps every header's bytes
 *  - framing: datagram bounds (18.3), stream framing with keep-alives and partial input
 *  - limits: each hard limit gives SF_SIP_ERROR_LIMIT, never a crash
 *  - uri_compare: RFC 3261 19.1.4's equal and unequal examples, and tel (RFC 3966 4)
 *  - strictness: regressions from a review: a bare CR in a header is refused (header
 *    injection), the version is case-insensitive (7.1), a tag must be a token and
 *    be given, empty Supported/Allow lists are valid, an IPv6 address has one "::"
 *  - repeated_params: a repeated tag, rport, branch, expires or URI parameter: the first wins
 *  - bad_request_reasons: the 400 (and its reason) for each problem of a request that frames,
 *    framing errors of a datagram included; what gets no answer
 *  - list_elements: list headers parsed in one pass: each element's raw text and
 *    values, and the errors splitting on commas first would find
 *  - uri_char_classes: the character classes of URI users, passwords, parameters
 *    and headers are unreserved and the grammar's extra characters
 *  - header_control_bytes: a control byte anywhere in a header value is found at
 *    its offset (bare CR, DEL, others), an escaped one and folds are let through
 *  - decimal_bounds: decimals up to 2^64 - 1 and their limits
 *  - host_span: the hostname, token, gen-value and Call-ID scans sixteen bytes at a time against byte loops
 *    (each byte value at each place of runs of 1 to 40 bytes, ".." on either
 *    side of a 16-byte step), and URIs whose user or host it reads
 *  - ipv4_check: sf_sip_is_ipv4() (a part at a time) against a byte loop, on
 *    every string of up to 8 bytes over digits, '.' and a letter, and on four
 *    parts of 0 to 4 digits (values about 255, leading zeros) with a byte before or after
 *  - quoted_scan: sf_sip_scan_quoted() (sixteen bytes at a time) against a byte loop, for
 *    each of '"', '\\', CR, LF, NUL and a letter at each place of strings of 1 to 40
 *    bytes, with a second quote, escape, CR or LF right after it or across a 16-byte step */
#include "config.h"
#include "sf-test.h"
#include "sip/sf-sip-msg.h"
#include <string.h>

#define TESTDATA SF_SRCDIR "/tests/data"

static char *
testdata_dir (void)
{
  const char *env = g_getenv ("SF_TESTDATA");
  return g_strdup (env != NULL ? env : TESTDATA);
}

static SfSipMsg *
load_msg (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len;
  if (!g_file_get_contents (path, &data, &len, error))
    return NULL;
  g_autoptr (GBytes) b = g_bytes_new_take (g_steal_pointer (&data), len);
  SfSipMsg *m = sf_sip_msg_parse (b, error);
  if (m != NULL && !sf_sip_msg_check_all (m, error))
    g_clear_pointer (&m, sf_sip_msg_unref);
  return m;
}

static gboolean
uri_user_is (const SfSipUri *u, const char *want, gsize want_len)
{
  gsize len;
  g_autofree char *user = sf_sip_unescape (u->user, &len);
  return len == want_len && memcmp (user, want, len) == 0;
}

static const SfSipValue *
nth (SfSipMsg *m, SfSipHdrId id, guint i)
{
  SfSipValues *v = sf_sip_msg_values (m, id, NULL);
  return v != NULL && i < v->len ? v->pdata[i] : NULL;
}

static guint
count (SfSipMsg *m, SfSipHdrId id)
{
  SfSipValues *v = sf_sip_msg_values (m, id, NULL);
  return v != NULL ? v->len : 0;
}

static gboolean
contains (SfSipStr s, const char *needle)
{
  g_autofree char *copy = sf_sip_str_dup (s);
  return memmem (copy, s.len, needle, strlen (needle)) != NULL;
}

/* The value RFC 4475 discusses for each message it says to accept. */
static gboolean
check_4475 (const char *name, SfSipMsg *m)
{
  const SfSipValue *v;
  if (strcmp (name, "wsinv") == 0)
    return sf_sip_msg_cseq (m)->number == 9 && sf_sip_msg_max_forwards (m) == 68 && count (m, SF_SIP_HDR_VIA) == 3 &&
           sf_sip_str_eq (nth (m, SF_SIP_HDR_VIA, 1)->transport, "TCP") &&
           sf_sip_str_eq (nth (m, SF_SIP_HDR_VIA, 1)->host, "spindle.example.com") &&
           sf_sip_msg_find_name (m, "UnknownHeaderWithUnusualValue") != NULL;
  if (strcmp (name, "intmeth") == 0) {
    gsize len;
    g_autofree char *disp = sf_sip_unquote (sf_sip_msg_to (m)->display, &len);
    return sf_sip_str_eq (sf_sip_msg_method (m), "!interesting-Method0123456789_*+`.%indeed'~") &&
           sf_sip_str_eq (sf_sip_msg_ruri (m)->password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)") &&
           len == 17 && memcmp (disp, "BEL:\x07 NUL:\0 DEL:\x7f", 17) == 0;
  }
  if (strcmp (name, "esc01") == 0)
    return uri_user_is (sf_sip_msg_ruri (m), "sips:user@example.com", 21) &&
           uri_user_is (sf_sip_msg_from (m)->uri, "I have spaces", 13);
  if (strcmp (name, "escnull") == 0)
    return count (m, SF_SIP_HDR_CONTACT) == 2 && uri_user_is (nth (m, SF_SIP_HDR_CONTACT, 0)->uri, "\0", 1) &&
           uri_user_is (nth (m, SF_SIP_HDR_CONTACT, 1)->uri, "\0\0", 2) &&
           uri_user_is (sf_sip_msg_to (m)->uri, "null-\0-null", 11);
  if (strcmp (name, "esc02") == 0)
    return sf_sip_str_eq (sf_sip_msg_method (m), "RE%47IST%45R") && count (m, SF_SIP_HDR_CONTACT) == 2 &&
           sf_sip_msg_find_name (m, "C%6Fntact") != NULL;
  if (strcmp (name, "lwsdisp") == 0)
    return sf_sip_str_eq (sf_sip_msg_from (m)->display, "caller") && uri_user_is (sf_sip_msg_from (m)->uri, "caller", 6);
  if (strcmp (name, "longreq") == 0)
    return (v = sf_sip_msg_to (m)) != NULL && v->uri->port == 6000 && sf_sip_value_param (sf_sip_msg_from (m), "tag") != NULL &&
           sf_sip_value_param (sf_sip_msg_from (m), "tag")->value.len > 100;
  if (strcmp (name, "dblreq") == 0)
    return sf_sip_str_eq (sf_sip_msg_method (m), "REGISTER") && sf_sip_msg_body (m).len == 0;
  if (strcmp (name, "semiuri") == 0)
    return uri_user_is (sf_sip_msg_ruri (m), "user;par=u@example.net", 22) &&
           sf_sip_str_eq (sf_sip_msg_ruri (m)->host, "example.com") && sf_sip_msg_ruri (m)->n_params == 0;
  if (strcmp (name, "transports") == 0)
    return count (m, SF_SIP_HDR_VIA) == 5 && sf_sip_str_eq (nth (m, SF_SIP_HDR_VIA, 1)->transport, "SCTP") &&
           sf_sip_str_eq (nth (m, SF_SIP_HDR_VIA, 3)->transport, "UNKNOWN");
  if (strcmp (name, "mpart01") == 0) {
    /* Framed by Content-Length; both parts reachable, the second binary. */
    g_autoptr (GArray) parts = sf_sip_msg_multipart (m, NULL);
    return sf_sip_msg_body (m).len == 553 &&
           g_str_has_prefix (sf_sip_msg_value (m, SF_SIP_HDR_CONTENT_TYPE, NULL)->text.p, "multipart/mixed") &&
           parts != NULL && parts->len == 2 &&
           contains (g_array_index (parts, SfSipPart, 0).headers, "text/plain") &&
           sf_sip_str_eq (g_array_index (parts, SfSipPart, 0).body, "Hello") &&
           contains (g_array_index (parts, SfSipPart, 1).headers, "application/octet-stream") &&
           g_array_index (parts, SfSipPart, 1).body.len > 100;
  }
  if (strcmp (name, "unreason") == 0)
    return sf_sip_msg_status (m) == 200 && g_utf8_validate (sf_sip_msg_reason (m).p, (gssize) sf_sip_msg_reason (m).len, NULL) &&
           sf_sip_msg_reason (m).len > 40;
  if (strcmp (name, "noreason") == 0)
    return sf_sip_msg_status (m) == 100 && sf_sip_msg_reason (m).len == 0;
  if (strcmp (name, "badbranch") == 0)
    return sf_sip_str_eq (sf_sip_value_param (sf_sip_msg_top_via (m), "branch")->value, SF_SIP_BRANCH_COOKIE);
  if (strcmp (name, "unkscm") == 0)
    return sf_sip_msg_ruri (m)->kind == SF_URI_OTHER && sf_sip_str_eq (sf_sip_msg_ruri (m)->scheme, "nobodyKnowsThisScheme");
  if (strcmp (name, "novelsc") == 0)
    return sf_sip_msg_ruri (m)->kind == SF_URI_OTHER && sf_sip_str_eq (sf_sip_msg_ruri (m)->scheme, "soap.beep");
  if (strcmp (name, "unksm2") == 0)
    return sf_sip_str_eq (sf_sip_msg_to (m)->uri->scheme, "isbn") && sf_sip_str_eq (sf_sip_msg_from (m)->uri->scheme, "http");
  if (strcmp (name, "bext01") == 0)
    return count (m, SF_SIP_HDR_REQUIRE) == 2 && sf_sip_str_eq (nth (m, SF_SIP_HDR_REQUIRE, 0)->text, "nothingSupportsThis") &&
           count (m, SF_SIP_HDR_PROXY_REQUIRE) == 2;
  if (strcmp (name, "invut") == 0)
    return sf_sip_str_eq (sf_sip_msg_value (m, SF_SIP_HDR_CONTENT_TYPE, NULL)->text, "application/unknownformat");
  if (strcmp (name, "regaut01") == 0)
    return sf_sip_str_eq (sf_sip_msg_value (m, SF_SIP_HDR_AUTHORIZATION, NULL)->text, "NoOneKnowsThisScheme");
  if (strcmp (name, "bcast") == 0)
    return sf_sip_str_eq (nth (m, SF_SIP_HDR_VIA, 1)->host, "255.255.255.255");
  if (strcmp (name, "zeromf") == 0)
    return sf_sip_msg_max_forwards (m) == 0;
  if (strcmp (name, "cparam01") == 0)
    return (v = nth (m, SF_SIP_HDR_CONTACT, 0)) != NULL && sf_sip_value_param (v, "unknownparam") != NULL &&
           v->uri->n_params == 0;
  if (strcmp (name, "cparam02") == 0)
    return (v = nth (m, SF_SIP_HDR_CONTACT, 0)) != NULL && sf_sip_uri_param (v->uri, "unknownparam") != NULL &&
           v->n_params == 0;
  if (strcmp (name, "regescrt") == 0)
    return (v = nth (m, SF_SIP_HDR_CONTACT, 0)) != NULL && v->uri->n_headers == 1 &&
           sf_sip_str_eq (v->uri->headers[0].name, "Route");
  if (strcmp (name, "sdp01") == 0)
    return sf_sip_str_eq (sf_sip_msg_value (m, SF_SIP_HDR_ACCEPT, NULL)->text, "text/nobodyKnowsThis");
  if (strcmp (name, "inv2543") == 0)
    return sf_sip_msg_max_forwards (m) == -1 && sf_sip_msg_find (m, SF_SIP_HDR_CONTENT_LENGTH) == NULL &&
           sf_sip_value_param (sf_sip_msg_top_via (m), "branch") == NULL &&
           sf_sip_value_param (sf_sip_msg_to (m), "user") != NULL; /* addr-spec: ;user= is a header parameter */
  return FALSE;
}

static gboolean
check_5118 (const char *name, SfSipMsg *m)
{
  const SfSipUri *ru = sf_sip_msg_is_request (m) ? sf_sip_msg_ruri (m) : NULL;
  if (strcmp (name, "ipv6-good") == 0)
    return ru->host_kind == SF_HOST_IPV6 && sf_sip_str_eq (ru->host, "[2001:db8::10]") &&
           sf_sip_msg_top_via (m)->host_kind == SF_HOST_IPV6;
  if (strcmp (name, "port-ambiguous") == 0)
    return sf_sip_str_eq (ru->host, "[2001:db8::10:5070]") && ru->port == 0;
  if (strcmp (name, "port-unambiguous") == 0)
    return sf_sip_str_eq (ru->host, "[2001:db8::10]") && ru->port == 5070;
  if (strcmp (name, "via-received-param-with-delim") == 0 || strcmp (name, "via-received-param-no-delim") == 0) {
    const SfSipParam *r = sf_sip_value_param (sf_sip_msg_top_via (m), "received");
    return r != NULL && contains (r->value, "2001:db8::9:255");
  }
  if (strcmp (name, "mult-ip-in-header") == 0)
    return count (m, SF_SIP_HDR_VIA) == 3 && nth (m, SF_SIP_HDR_VIA, 0)->host_kind == SF_HOST_IPV6 &&
           nth (m, SF_SIP_HDR_VIA, 1)->host_kind == SF_HOST_IPV4;
  if (strcmp (name, "ipv4-mapped-ipv6") == 0)
    return sf_sip_msg_top_via (m)->host_kind == SF_HOST_IPV6 && contains (sf_sip_msg_top_via (m)->host, "::ffff:");
  if (strcmp (name, "ipv6-bug-abnf-3-colons") == 0 || strcmp (name, "ipv6-correct-abnf-2-colons") == 0)
    return ru != NULL && ru->host_kind == SF_HOST_IPV6;
  if (strcmp (name, "ipv6-in-sdp") == 0 || strcmp (name, "mult-ip-in-sdp") == 0)
    return sf_sip_msg_body (m).len > 100 && contains (sf_sip_msg_body (m), "IP6");
  return FALSE;
}

static void
walk_index (const char *dir, const char *msgdir, gboolean (*check) (const char *, SfSipMsg *), guint min)
{
  g_autofree char *index = g_build_filename (dir, "INDEX.tsv", NULL);
  g_autofree char *text = NULL;
  gboolean have = g_file_get_contents (index, &text, NULL, NULL);
  if (!have)
    g_printerr ("no conformance index %s (set SF_TESTDATA)\n", index);
  CU_ASSERT_TRUE_FATAL (have);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;
  for (char **l = lines + 1; *l != NULL; l++) {
    if (**l == '\0')
      continue;
    g_auto (GStrv) cols = g_strsplit (*l, "\t", 4);
    if (g_strv_length (cols) < 3)
      continue;
    g_autofree char *file = g_strdup_printf ("%s/%s.dat", msgdir, cols[0]);
    g_autoptr (GError) error = NULL;
    g_autoptr (SfSipMsg) m = load_msg (file, &error);
    gboolean accept = strcmp (cols[2], "invalid-must-reject") != 0;
    gboolean verdict = accept == (m != NULL);
    gboolean value = !accept || (m != NULL && check (cols[0], m));
    if (!verdict || !value)
      g_printerr ("%s (%s): %s%s\n", cols[0], cols[2], m != NULL ? "accepted" : error->message,
                  verdict && !value ? ", but the parsed value is wrong" : "");
    CU_ASSERT_TRUE (verdict);
    CU_ASSERT_TRUE (value);
    if (m != NULL) {
      /* Its compact copy (what a server transaction keeps) reads the same:
       * every value parsed again in the copy's own smaller blocks. */
      g_autoptr (SfSipMsg) c = sf_sip_msg_compact (m);
      g_autoptr (GBytes) s1 = sf_sip_msg_serialize (m);
      g_autoptr (GBytes) s2 = sf_sip_msg_serialize (c);
      gboolean same = c != NULL && sf_sip_msg_check_all (c, NULL) && check (cols[0], c) &&
                      sf_sip_msg_n_headers (c) == sf_sip_msg_n_headers (m) && g_bytes_equal (s1, s2) &&
                      sf_sip_msg_is_request (c) == sf_sip_msg_is_request (m) &&
                      (!sf_sip_msg_is_request (m) || sf_sip_uri_equal (sf_sip_msg_ruri (c), sf_sip_msg_ruri (m)));
      /* Compacting a compact copy (a client transaction's request, compacted
       * at its final response, may be one already) makes no third. */
      g_autoptr (SfSipMsg) cc = c != NULL ? sf_sip_msg_compact (c) : NULL;
      same = same && cc == c;
      if (!same)
        g_printerr ("%s: its compact copy reads differently\n", cols[0]);
      CU_ASSERT_TRUE (same);
    }
    n++;
  }
  CU_ASSERT (n >= min);
}

static void
rfc4475_verdicts (void)
{
  g_autofree char *base = testdata_dir ();
  g_autofree char *dir = g_build_filename (base, "rfc4475", NULL);
  walk_index (dir, dir, check_4475, 50);
}

static void
rfc5118_verdicts (void)
{
  g_autofree char *base = testdata_dir ();
  g_autofree char *dir = g_build_filename (base, "rfc5118", NULL);
  g_autofree char *wire = g_build_filename (dir, "wire", NULL);
  walk_index (dir, wire, check_5118, 12);
}

static void
round_trip (void)
{
  g_autofree char *base = testdata_dir ();
  g_autofree char *dir = g_build_filename (base, "rfc4475", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (d);
  const char *name;
  guint n = 0;
  while ((name = g_dir_read_name (d)) != NULL) {
    if (!g_str_has_suffix (name, ".dat"))
      continue;
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_autoptr (SfSipMsg) a = load_msg (path, NULL);
    if (a == NULL)
      continue;
    g_autoptr (GBytes) wire = sf_sip_msg_serialize (a);
    g_autoptr (GError) error = NULL;
    g_autoptr (SfSipMsg) b = sf_sip_msg_parse (wire, &error);
    CU_ASSERT_PTR_NOT_NULL_FATAL (b);
    CU_ASSERT_EQUAL (sf_sip_msg_is_request (a), sf_sip_msg_is_request (b));
    CU_ASSERT_EQUAL (sf_sip_msg_status (a), sf_sip_msg_status (b));
    CU_ASSERT_TRUE (sf_sip_str_caseeq_str (sf_sip_msg_method (a), sf_sip_msg_method (b)));
    CU_ASSERT_EQUAL_FATAL (sf_sip_msg_n_headers (a), sf_sip_msg_n_headers (b));
    for (guint i = 0; i < sf_sip_msg_n_headers (a); i++) {
      const SfSipHdr *x = sf_sip_msg_header (a, i), *y = sf_sip_msg_header (b, i);
      CU_ASSERT_TRUE (x->line.len == y->line.len && memcmp (x->line.p, y->line.p, x->line.len) == 0);
    }
    SfSipStr ba = sf_sip_msg_body (a), bb = sf_sip_msg_body (b);
    CU_ASSERT_TRUE (ba.len == bb.len && (ba.len == 0 || memcmp (ba.p, bb.p, ba.len) == 0));
    /* And serializing again gives the same bytes. */
    g_autoptr (GBytes) wire2 = sf_sip_msg_serialize (b);
    CU_ASSERT_TRUE (g_bytes_equal (wire, wire2));
    n++;
  }
  CU_ASSERT (n == 27); /* every message RFC 4475 says to accept */
}

static SfSipMsg *
parse_str (const char *s, GError **error)
{
  g_autoptr (GBytes) b = g_bytes_new (s, strlen (s));
  return sf_sip_msg_parse (b, error);
}

#define MIN_HEADERS "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"

static void
framing (void)
{
  g_autoptr (GError) e1 = NULL;
  /* Content-Length bounds the body; what follows is dropped. */
  g_autoptr (SfSipMsg) m = parse_str ("OPTIONS sip:h SIP/2.0\r\n" MIN_HEADERS "Content-Length: 3\r\n\r\nabcdef", &e1);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_body (m), "abc"));
  /* No Content-Length on a datagram: the rest is the body. */
  g_autoptr (SfSipMsg) m2 = parse_str ("OPTIONS sip:h SIP/2.0\r\n" MIN_HEADERS "\r\nxyz", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m2);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_msg_body (m2), "xyz"));
  /* A stream: keep-alives, a partial message, then the whole one. */
  const char *stream = "\r\n\r\nOPTIONS sip:h SIP/2.0\r\n" MIN_HEADERS "Content-Length: 2\r\n\r\nhiNEXT";
  gsize skip = 0, len = 0;
  g_autoptr (GError) e2 = NULL;
  CU_ASSERT_FALSE (sf_sip_stream_frame (stream, 30, &skip, &len, &e2));
  CU_ASSERT (g_error_matches (e2, SF_SIP_ERROR, SF_SIP_ERROR_INCOMPLETE));
  g_autoptr (GError) e3 = NULL;
  CU_ASSERT_FALSE (sf_sip_stream_frame (stream, strlen (stream) - 5, &skip, &len, &e3)); /* body short by one */
  CU_ASSERT (g_error_matches (e3, SF_SIP_ERROR, SF_SIP_ERROR_INCOMPLETE));
  CU_ASSERT_TRUE (sf_sip_stream_frame (stream, strlen (stream), &skip, &len, NULL));
  CU_ASSERT_EQUAL (skip, 4);
  CU_ASSERT_EQUAL (skip + len, strlen (stream) - 4);
  /* A stream message without Content-Length is a framing error. */
  const char *nocl = "OPTIONS sip:h SIP/2.0\r\n" MIN_HEADERS "\r\n";
  g_autoptr (GError) e4 = NULL;
  CU_ASSERT_FALSE (sf_sip_stream_frame (nocl, strlen (nocl), &skip, &len, &e4));
  CU_ASSERT (g_error_matches (e4, SF_SIP_ERROR, SF_SIP_ERROR_FRAMING));
  /* Bare LF line ends are tolerated. */
  g_autoptr (SfSipMsg) m3 = parse_str ("OPTIONS sip:h SIP/2.0\nVia: SIP/2.0/UDP h\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>\n"
                                       "Call-ID: c\nCSeq: 1 OPTIONS\n\n", NULL);
  CU_ASSERT_PTR_NOT_NULL (m3);
}

static void
limits (void)
{
  /* Too many headers. */
  GString *s = g_string_new ("OPTIONS sip:h SIP/2.0\r\n" MIN_HEADERS);
  for (int i = 0; i < SF_SIP_MAX_HEADERS; i++)
    g_string_append_printf (s, "X-%d: y\r\n", i);
  g_string_append (s, "\r\n");
  g_autoptr (GError) e1 = NULL;
  g_autoptr (SfSipMsg) m1 = parse_str (s->str, &e1);
  CU_ASSERT_PTR_NULL (m1);
  CU_ASSERT (g_error_matches (e1, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT));
  /* A header line too long. */
  g_string_assign (s, "OPTIONS sip:h SIP/2.0\r\n" MIN_HEADERS "X-Long: ");
  for (int i = 0; i < SF_SIP_MAX_HEADER_LEN; i++)
    g_string_append_c (s, 'a');
  g_string_append (s, "\r\n\r\n");
  g_autoptr (GError) e2 = NULL;
  g_autoptr (SfSipMsg) m2 = parse_str (s->str, &e2);
  CU_ASSERT (g_error_matches (e2, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT));
  /* Too many Via values. */
  g_string_assign (s, "OPTIONS sip:h SIP/2.0\r\n" MIN_HEADERS "Via: ");
  for (int i = 0; i <= SF_SIP_MAX_VIA; i++)
    g_string_append_printf (s, "%sSIP/2.0/UDP h%d", i > 0 ? "," : "", i);
  g_string_append (s, "\r\n\r\n");
  g_autoptr (GError) e3 = NULL;
  g_autoptr (SfSipMsg) m3 = parse_str (s->str, &e3);
  CU_ASSERT (g_error_matches (e3, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT));
  /* A URI too long. */
  g_string_assign (s, "OPTIONS sip:");
  for (int i = 0; i < SF_SIP_MAX_URI_LEN; i++)
    g_string_append_c (s, 'u');
  g_string_append (s, "@h SIP/2.0\r\n" MIN_HEADERS "\r\n");
  g_autoptr (GError) e4 = NULL;
  g_autoptr (SfSipMsg) m4 = parse_str (s->str, &e4);
  CU_ASSERT (g_error_matches (e4, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT));
  /* A message too big. */
  g_autoptr (GBytes) big = g_bytes_new_take (g_malloc0 (SF_SIP_MAX_MSG_SIZE + 1), SF_SIP_MAX_MSG_SIZE + 1);
  g_autoptr (GError) e5 = NULL;
  CU_ASSERT_PTR_NULL (sf_sip_msg_parse (big, &e5));
  CU_ASSERT (g_error_matches (e5, SF_SIP_ERROR, SF_SIP_ERROR_LIMIT));
  g_string_free (s, TRUE);
}

static gboolean
uris_equal (const char *a, const char *b)
{
  g_autoptr (SfSipUri) x = sf_sip_uri_parse (sf_sip_str (a, strlen (a)), NULL, NULL);
  g_autoptr (SfSipUri) y = sf_sip_uri_parse (sf_sip_str (b, strlen (b)), NULL, NULL);
  g_assert (x != NULL && y != NULL);
  return sf_sip_uri_equal (x, y) && sf_sip_uri_equal (y, x);
}

static void
uri_compare (void)
{
  /* RFC 3261 19.1.4: equivalent */
  CU_ASSERT_TRUE (uris_equal ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
  CU_ASSERT_TRUE (uris_equal ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
  CU_ASSERT_TRUE (uris_equal ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
  CU_ASSERT_TRUE (uris_equal ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"));
  CU_ASSERT_TRUE (uris_equal ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                              "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));
  CU_ASSERT_TRUE (uris_equal ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                              "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));
  /* RFC 3261 19.1.4: not equivalent */
  CU_ASSERT_FALSE (uris_equal ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
  /* a host as an address parser takes it: an IPv6 reference unbracketed */
  const char *hosts[][2] = { { "[::1]", "::1" }, { "192.0.2.1", "192.0.2.1" }, { "[", "[" }, { "[]", "" },
                             { "example.com", "example.com" } };
  for (guint i = 0; i < G_N_ELEMENTS (hosts); i++) {
    g_autofree char *h = sf_sip_host_dup (sf_sip_str (hosts[i][0], strlen (hosts[i][0])));
    CU_ASSERT_STRING_EQUAL (h, hosts[i][1]);
  }
  CU_ASSERT_FALSE (uris_equal ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
  CU_ASSERT_FALSE (uris_equal ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
  CU_ASSERT_FALSE (uris_equal ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
  CU_ASSERT_FALSE (uris_equal ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
  CU_ASSERT_FALSE (uris_equal ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
  CU_ASSERT_FALSE (uris_equal ("sip:alice@atlanta.com", "sips:alice@atlanta.com"));
  /* A repeated URI header counts as often as it appears (found by fuzz-sip) */
  CU_ASSERT_TRUE (uris_equal ("sip:h?r=I&r=", "sip:h?r=&r=I"));
  CU_ASSERT_FALSE (uris_equal ("sip:h?r=I&r=", "sip:h?r=I"));
  /* RFC 3966 4: visual separators do not count */
  CU_ASSERT_TRUE (uris_equal ("tel:+1-201-555-0123", "tel:+12015550123"));
  CU_ASSERT_FALSE (uris_equal ("tel:+12015550123", "tel:+12015550124"));
  /* A local tel number needs its context */
  CU_ASSERT_PTR_NULL (sf_sip_uri_parse (SF_SIP_STR_LIT ("tel:7042"), NULL, NULL));
  g_autoptr (SfSipUri) t = sf_sip_uri_parse (SF_SIP_STR_LIT ("tel:7042;phone-context=example.com"), NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL (t);
}

static gboolean
parses (const char *s)
{
  g_autoptr (GBytes) b = g_bytes_new (s, strlen (s));
  g_autoptr (SfSipMsg) m = sf_sip_msg_parse (b, NULL);
  return m != NULL && sf_sip_msg_check_all (m, NULL);
}

#define REQ_HEAD "OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n"

static void
strictness (void)
{
  /* A control byte (or DEL) anywhere in a header value, whichever of the eight
   * bytes the header-line check reads at once it falls in; bytes above 0x7f pass. */
  for (int at = 0; at < 17; at++) {
    static const char bytes[] = { 0x01, 0x1f, 0x7f, 0x00 };
    for (gsize k = 0; k < G_N_ELEMENTS (bytes); k++) {
      g_autofree char *value = g_strnfill (17, 'a');
      value[at] = bytes[k];
      g_autoptr (GString) text = g_string_new (REQ_HEAD "From: <sip:a@h>;tag=1\r\nSubject: ");
      g_string_append_len (text, value, 17);
      g_string_append (text, "\r\n\r\n");
      g_autoptr (GBytes) b = g_bytes_new (text->str, text->len);
      g_autoptr (SfSipMsg) m = sf_sip_msg_parse (b, NULL);
      CU_ASSERT_PTR_NULL (m);
      value[at] = (char) 0xc3;
      g_autofree char *ok = g_strconcat (REQ_HEAD "From: <sip:a@h>;tag=1\r\nSubject: ", value, "\r\n\r\n", NULL);
      CU_ASSERT_TRUE (parses (ok));
    }
  }
  CU_ASSERT_TRUE (parses (REQ_HEAD "From: <sip:a@h>;tag=1\r\n\r\n"));
  CU_ASSERT_FALSE (parses (REQ_HEAD "From: \"a\rRoute: <sip:evil;lr>\" <sip:a@h>;tag=1\r\n\r\n"));
  CU_ASSERT_FALSE (parses (REQ_HEAD "From: <sip:a@h>;tag=1\r\nSubject: a\rb\r\n\r\n"));
  CU_ASSERT_FALSE (parses (REQ_HEAD "From: <sip:a@h>;tag=1\r\nSubject: a\x01b\r\n\r\n"));
  CU_ASSERT_TRUE (parses ("OPTIONS sip:h sip/2.0\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:b@h>\r\nCall-ID: c\r\n"
                          "CSeq: 1 OPTIONS\r\nFrom: <sip:a@h>;tag=1\r\n\r\n"));
  CU_ASSERT_FALSE (parses (REQ_HEAD "From: <sip:a@h>;tag;tag=\"q x\"\r\n\r\n"));
  CU_ASSERT_TRUE (parses (REQ_HEAD "From: <sip:a@h>;tag=1;tag=2\r\n\r\n")); /* the first wins: repeated_params */
  CU_ASSERT_TRUE (parses (REQ_HEAD "From: <sip:a@h>;tag=1\r\nSupported:\r\nAllow: \r\n\r\n"));
  CU_ASSERT_TRUE (parses (REQ_HEAD "From: <sip:a@h>;tag=1\r\nContent-Length: 0\r\n \r\n\r\n"));
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0); /* found by fuzz-txn: no UB on an empty datagram */
  g_autoptr (GError) e = NULL;
  CU_ASSERT_PTR_NULL (sf_sip_msg_parse (empty, &e));
  CU_ASSERT_PTR_NOT_NULL (e);
  CU_ASSERT_FALSE (sf_sip_is_ipv6 (SF_SIP_STR_LIT ("1::2::3")));
  CU_ASSERT_FALSE (sf_sip_is_ipv6 (SF_SIP_STR_LIT ("1:2:3:4:5:6:7:8:9")));
  CU_ASSERT_TRUE (sf_sip_is_ipv6 (SF_SIP_STR_LIT ("2001:db8::10")));
}

/* The value of parameter @name of header @id's first value in @text, or NULL. */
static char *
first_param (const char *text, SfSipHdrId id, const char *name, guint *n_params)
{
  g_autoptr (SfSipMsg) m = parse_str (text, NULL);
  if (m == NULL || !sf_sip_msg_check_all (m, NULL))
    return NULL;
  const SfSipValue *v = sf_sip_msg_value (m, id, NULL);
  const SfSipParam *p = v != NULL ? sf_sip_value_param (v, name) : NULL;
  if (n_params != NULL && v != NULL)
    *n_params = v->n_params;
  if (p == NULL)
    return NULL;
  return sf_sip_str_is_set (p->value) ? g_strndup (p->value.p, p->value.len) : g_strdup ("");
}

/* Issue 14 item 5: a parameter the stack acts on, given twice, no longer costs the
 * message; the first value wins and the repeat is dropped from the parsed value. */
static void
repeated_params (void)
{
  guint n = 0;
  /* To ;tag twice (a re-INVITE): the first tag; the same for From. */
  g_autofree char *to = first_param ("OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                                     "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=1;tag=1\r\nCall-ID: c\r\n"
                                     "CSeq: 1 OPTIONS\r\n\r\n", SF_SIP_HDR_TO, "tag", &n);
  CU_ASSERT_STRING_EQUAL (to, "1");
  CU_ASSERT_EQUAL (n, 1);
  g_autofree char *from = first_param (REQ_HEAD "From: <sip:a@h>;tag=x;TAG=y\r\n\r\n", SF_SIP_HDR_FROM, "tag", &n);
  CU_ASSERT_STRING_EQUAL (from, "x");
  CU_ASSERT_EQUAL (n, 1);
  /* rport twice in a Via, the second with a value; branch and received twice. */
  g_autofree char *rport = first_param ("OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;rport;branch=z9hG4bK1;rport=9\r\n"
                                        "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n",
                                        SF_SIP_HDR_VIA, "rport", &n);
  CU_ASSERT_STRING_EQUAL (rport, "");
  CU_ASSERT_EQUAL (n, 2);
  g_autofree char *branch = first_param ("OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKa;branch=z9hG4bKb;"
                                         "received=192.0.2.1;received=junk\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n"
                                         "Call-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n", SF_SIP_HDR_VIA, "branch", &n);
  CU_ASSERT_STRING_EQUAL (branch, "z9hG4bKa");
  CU_ASSERT_EQUAL (n, 2);
  /* Contact expires and q twice. */
  g_autofree char *exp = first_param (REQ_HEAD "From: <sip:a@h>;tag=1\r\nContact: <sip:a@h>;expires=60;q=0.5;expires=0;q=1\r\n\r\n",
                                      SF_SIP_HDR_CONTACT, "expires", &n);
  CU_ASSERT_STRING_EQUAL (exp, "60");
  CU_ASSERT_EQUAL (n, 2);
  /* A repeat of a parameter the stack does not act on is kept as it came. */
  g_autofree char *x = first_param (REQ_HEAD "From: <sip:a@h>;tag=1\r\nContact: <sip:a@h>;x=1;x=2\r\n\r\n",
                                    SF_SIP_HDR_CONTACT, "x", &n);
  CU_ASSERT_STRING_EQUAL (x, "1");
  CU_ASSERT_EQUAL (n, 2);
  /* A repeated Request-URI parameter (19.1.1 says it MUST NOT happen): the first wins. */
  g_autoptr (SfSipMsg) m = parse_str ("OPTIONS sip:b@h;transport=udp;lr;Transport=tcp;lr SIP/2.0\r\n" MIN_HEADERS "\r\n", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  const SfSipUri *ru = sf_sip_msg_ruri (m);
  CU_ASSERT_EQUAL (ru->n_params, 2);
  CU_ASSERT_TRUE (sf_sip_str_eq (sf_sip_uri_param (ru, "transport")->value, "udp"));
  /* ... and in a header's URI. */
  g_autoptr (SfSipMsg) m2 = parse_str ("OPTIONS sip:h SIP/2.0\r\n" MIN_HEADERS "Route: <sip:p@h;lr;lr=on>\r\n\r\n", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m2);
  const SfSipValue *route = sf_sip_msg_value (m2, SF_SIP_HDR_ROUTE, NULL);
  CU_ASSERT_TRUE_FATAL (route != NULL && route->uri != NULL);
  CU_ASSERT_EQUAL (route->uri->n_params, 1);
  CU_ASSERT_FALSE (sf_sip_str_is_set (sf_sip_uri_param (route->uri, "lr")->value));
  /* URI comparison (19.1.4) sees the first value only. */
  CU_ASSERT_TRUE (uris_equal ("sip:b@h;transport=tcp;transport=udp", "sip:b@h;transport=tcp"));
  CU_ASSERT_FALSE (uris_equal ("sip:b@h;transport=tcp;transport=udp", "sip:b@h;transport=udp"));
}

/* The reason a request that frames but does not validate is answered with, or NULL
 * when the datagram is dropped (no response can be addressed). */
static char *
answer_to (const char *text, gsize len)
{
  g_autoptr (GBytes) b = g_bytes_new (text, len != 0 ? len : strlen (text));
  g_autoptr (GError) e = NULL;
  g_autoptr (SfSipMsg) m = sf_sip_msg_parse_framed (b, &e);
  if (m == NULL)
    return NULL;
  g_autoptr (GError) v = NULL;
  if (sf_sip_msg_validate (m, &v))
    return g_strdup ("valid");
  g_autoptr (GBytes) out = sf_sip_msg_bad_request (m, v->message);
  if (out == NULL)
    return NULL;
  gsize n;
  const char *d = g_bytes_get_data (out, &n);
  const char *eol = g_strstr_len (d, (gssize) n, "\r\n");
  return g_strndup (d, (gsize) (eol - d));
}

#define R400(text, reason) \
  do { \
    g_autofree char *got_ = answer_to (text, 0); \
    if (got_ == NULL || strcmp (got_, "SIP/2.0 400 Bad Request (" reason ")") != 0) \
      g_printerr ("%s:%d: got %s\n", __FILE__, __LINE__, got_ != NULL ? got_ : "nothing"); \
    CU_ASSERT_TRUE (got_ != NULL && strcmp (got_, "SIP/2.0 400 Bad Request (" reason ")") == 0); \
  } while (0)

/* Issue 14 item 5: each problem a request that frames can have is answered 400
 * naming it (8.2.1, 21.4.1); a framing error over UDP too (18.3); with nothing to
 * address a response (a field of 8.1.1 missing), or a response, it is dropped. */
static void
bad_request_reasons (void)
{
  /* The Request-URI and the request line. */
  R400 ("OPTIONS sip:b@h;transport= SIP/2.0\r\n" MIN_HEADERS "\r\n",
        "Request-URI: URI: parameter 'transport' has an invalid value at offset 26");
  R400 ("OPTIONS sip:b@h;=udp SIP/2.0\r\n" MIN_HEADERS "\r\n", "Request-URI: URI: invalid parameter name '' at offset 16");
  R400 ("OPTIONS sip:b@h;tr\"x=1 SIP/2.0\r\n" MIN_HEADERS "\r\n",
        "Request-URI: URI: invalid parameter name 'tr\"x' at offset 16");
  R400 ("OPTIONS <sip:b@h> SIP/2.0\r\n" MIN_HEADERS "\r\n", "Request-URI: URI: no scheme at offset 8");
  R400 ("OPTIONS sip:b@h?Route=x SIP/2.0\r\n" MIN_HEADERS "\r\n",
        "Request-URI: URI headers are not allowed here (RFC 3261 19.1.1)");
  R400 ("OPTIONS  sip:b@h SIP/2.0\r\n" MIN_HEADERS "\r\n", "request line: white space inside or around the Request-URI");
  R400 ("OPTIONS sip:b@h SIP/2.0 \r\n" MIN_HEADERS "\r\n", "request line: white space after the SIP version");
  R400 ("OPTIONS SIP/2.0\r\n" MIN_HEADERS "\r\n", "request line: no Request-URI");
  /* Framing over UDP (18.3). */
  R400 ("OPTIONS sip:b@h SIP/2.0\r\n" MIN_HEADERS "Content-Length: 500\r\n\r\nabc",
        "Content-Length: 500 is more than the 3 bytes after the headers");
  R400 ("OPTIONS sip:b@h SIP/2.0\r\n" MIN_HEADERS "Content-Length: -1\r\n\r\n",
        "Content-Length: '-1' is not a length from 0 to 65536");
  R400 ("OPTIONS sip:b@h SIP/2.0\r\n" MIN_HEADERS "Content-Length: 0\r\nl: 0\r\n\r\n", "Content-Length: appears more than once");
  /* Header values (these were answered before; the reasons stay). */
  R400 ("OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag\r\n"
        "Call-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n", "To: tag must be a token at offset 101");
  R400 ("OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;rport=x;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\n"
        "Call-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n", "Via: parameter rport must be a number up to 65535 at offset 67");
  R400 ("OPTIONS sip:b@h SIP/2.0\r\n" MIN_HEADERS "CSeq: 2 OPTIONS\r\n\r\n", "CSeq: appears more than once");
  R400 ("INVITE sip:b@h SIP/2.0\r\n" MIN_HEADERS "\r\n",
        "CSeq: method 'OPTIONS' does not match the request method 'INVITE'");
  /* Repeated parameters are not a problem any more. */
  g_autofree char *ok = answer_to ("OPTIONS sip:b@h;transport=udp;transport=udp SIP/2.0\r\nVia: SIP/2.0/UDP h;rport;rport;"
                                   "branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1;tag=1\r\nTo: <sip:b@h>;tag=2;tag=2\r\n"
                                   "Call-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n", 0);
  CU_ASSERT_STRING_EQUAL (ok, "valid");
  /* Dropped: no Via (nothing to address a response), a Content-Length error in a
   * response (18.3: discarded) or an ACK (never answered), a start line that is not SIP. */
  CU_ASSERT_PTR_NULL (answer_to ("OPTIONS sip:b@h SIP/2.0\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\n"
                                 "CSeq: 1 OPTIONS\r\nContent-Length: 500\r\n\r\nabc", 0));
  CU_ASSERT_PTR_NULL (answer_to ("SIP/2.0 200 OK\r\n" MIN_HEADERS "Content-Length: 500\r\n\r\nabc", 0));
  CU_ASSERT_PTR_NULL (answer_to ("ACK sip:b@h;=x SIP/2.0\r\n" MIN_HEADERS "\r\n", 0));
  CU_ASSERT_PTR_NULL (answer_to ("GET / HTTP/1.1\r\n" MIN_HEADERS "\r\n", 0));
  CU_ASSERT_PTR_NULL (answer_to ("OPTIONS sip:b@h SIP/2.0\r\n" MIN_HEADERS "Broken\r\n\r\n", 0));
  /* Over a stream a wrong Content-Length is still the stream's framing error. */
  const char *big = "OPTIONS sip:b@h SIP/2.0\r\n" MIN_HEADERS "Content-Length: -1\r\n\r\n";
  gsize skip, len;
  g_autoptr (GError) e = NULL;
  CU_ASSERT_FALSE (sf_sip_stream_frame (big, strlen (big), &skip, &len, &e));
  CU_ASSERT (g_error_matches (e, SF_SIP_ERROR, SF_SIP_ERROR_FRAMING));
}

/* sf_sip_hdr_lookup() is a switch written from the table of names: every name,
 * in any case, and every compact form finds its id; near misses find none. */
static void
header_lookup (void)
{
  for (int id = SF_SIP_HDR_OTHER + 1; id < SF_SIP_HDR_COUNT; id++) {
    const SfSipHdrInfo *info = sf_sip_hdr_info (id);
    gsize n = strlen (info->name);
    g_autofree char *lower = g_ascii_strdown (info->name, -1);
    g_autofree char *upper = g_ascii_strup (info->name, -1);
    CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str (info->name, n)), id);
    CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str (lower, n)), id);
    CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str (upper, n)), id);
    if (n > 2) /* a one-letter prefix may be a compact form */
      CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str (info->name, n - 1)), SF_SIP_HDR_OTHER);
    if (info->compact != 0) {
      char c[2] = { info->compact, g_ascii_toupper (info->compact) };
      CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str (c, 1)), id);
      CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str (c + 1, 1)), id);
    }
  }
  CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str ("X-Via", 5)), SF_SIP_HDR_OTHER);
  CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str ("Contacts", 8)), SF_SIP_HDR_OTHER);
  CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str ("Call-IE", 7)), SF_SIP_HDR_OTHER);
  /* Bytes that equal a letter or '-' once bit 0x20 is set, but are no token characters. */
  CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str ("Call\rID", 7)), SF_SIP_HDR_OTHER);
  CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str ("Content\rLength", 14)), SF_SIP_HDR_OTHER);
  CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str ("\x01ia", 3)), SF_SIP_HDR_OTHER);
  CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str ("x", 1)), SF_SIP_HDR_OTHER);
  CU_ASSERT_EQUAL (sf_sip_hdr_lookup (sf_sip_str ("", 0)), SF_SIP_HDR_OTHER);
}

/* A message with @line among the mandatory headers, parsed and every header checked. */
static SfSipMsg *
with_line (const char *line, GError **error)
{
  g_autofree char *text = g_strdup_printf ("OPTIONS sip:b@example.com SIP/2.0\r\n"
                                           "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
                                           "To: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\n"
                                           "Call-ID: c@a\r\nCSeq: 1 OPTIONS\r\n%s\r\nContent-Length: 0\r\n\r\n", line);
  g_autoptr (GBytes) b = g_bytes_new (text, strlen (text));
  SfSipMsg *m = sf_sip_msg_parse (b, error);
  if (m != NULL && !sf_sip_msg_check_all (m, error))
    g_clear_pointer (&m, sf_sip_msg_unref);
  return m;
}

static gboolean
raw_is (const SfSipValue *v, const char *want)
{
  return v != NULL && sf_sip_str_eq (v->raw, want);
}

static void
list_elements (void)
{
  /* Lists are parsed in one pass: each element where it lies, its raw text
   * without the white space and folds around it; the same values as
   * splitting on commas outside quotes and <> first. */
  g_autoptr (SfSipMsg) m = with_line ("Contact: sip:a@b.example.com ,\r\n \"x, y\" <sip:c@d.example.com;lr>;q=0.5\t, *", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_EQUAL (sf_sip_msg_values (m, SF_SIP_HDR_CONTACT, NULL)->len, 3);
  CU_ASSERT_TRUE (raw_is (nth (m, SF_SIP_HDR_CONTACT, 0), "sip:a@b.example.com"));
  CU_ASSERT_TRUE (raw_is (nth (m, SF_SIP_HDR_CONTACT, 1), "\"x, y\" <sip:c@d.example.com;lr>;q=0.5"));
  CU_ASSERT_TRUE (sf_sip_str_eq (nth (m, SF_SIP_HDR_CONTACT, 1)->display, "x, y"));
  CU_ASSERT_TRUE (sf_sip_str_eq (nth (m, SF_SIP_HDR_CONTACT, 1)->uri->host, "d.example.com"));
  CU_ASSERT_TRUE (nth (m, SF_SIP_HDR_CONTACT, 2)->star);
  g_clear_pointer (&m, sf_sip_msg_unref);
  m = with_line ("Allow: INVITE ,ACK,\tBYE;x=\"a,b\"", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_EQUAL (sf_sip_msg_values (m, SF_SIP_HDR_ALLOW, NULL)->len, 3);
  CU_ASSERT_TRUE (raw_is (nth (m, SF_SIP_HDR_ALLOW, 0), "INVITE"));
  CU_ASSERT_TRUE (raw_is (nth (m, SF_SIP_HDR_ALLOW, 2), "BYE;x=\"a,b\""));
  CU_ASSERT_TRUE (sf_sip_str_eq (nth (m, SF_SIP_HDR_ALLOW, 1)->text, "ACK"));
  g_clear_pointer (&m, sf_sip_msg_unref);
  m = with_line ("Via: SIP/2.0/TCP c.example.com ; branch=z9hG4bK2 , SIP/2.0/UDP [::1]:5070", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_EQUAL (sf_sip_msg_values (m, SF_SIP_HDR_VIA, NULL)->len, 3);
  CU_ASSERT_TRUE (raw_is (nth (m, SF_SIP_HDR_VIA, 1), "SIP/2.0/TCP c.example.com ; branch=z9hG4bK2"));
  CU_ASSERT_EQUAL (nth (m, SF_SIP_HDR_VIA, 2)->port, 5070);
  g_clear_pointer (&m, sf_sip_msg_unref);
  /* Where splitting would have found an error, so does the one pass. */
  static const char *const bad[] = {
    "Contact: <sip:a@b.example.com>,", "Contact: ,<sip:a@b.example.com>", "Allow: INVITE,, ACK",
    "Route: <sip:a@b.example.com;lr>, sip:c@d.example.com", "Allow: INVITE<x, y>", "Supported: timer, 100rel,",
    "Contact: <sip:a@b.example.com> x, <sip:c@d.example.com>", "Accept: application/sdp,",
    "Via: SIP/2.0/UDP c.example.com;branch=\"a,b\"", "Contact: sip:a\"x,y\"@b.example.com",
    "Contact: <sip:a@b.example.com;x=\"a,b>",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) e = NULL;
    SfSipMsg *b = with_line (bad[i], &e);
    if (b != NULL)
      g_printerr ("\n  accepted: %s", bad[i]);
    CU_ASSERT_PTR_NULL (b);
    CU_ASSERT_TRUE (g_error_matches (e, SF_SIP_ERROR, SF_SIP_ERROR_SYNTAX));
    g_clear_pointer (&b, sf_sip_msg_unref);
  }
}

static void
uri_char_classes (void)
{
  /* The URI parts' classes are unreserved plus the grammar's extra characters (25.1). */
  static const struct { guint16 cls; const char *extra; } parts[] = {
    { SF_SIP_CH_USER, "&=+$,;?/" }, { SF_SIP_CH_PASSWORD, "&=+$," },
    { SF_SIP_CH_PARAM, "[]/:&+$" }, { SF_SIP_CH_HNV, "[]/?:+$" },
  };
  for (gsize k = 0; k < G_N_ELEMENTS (parts); k++)
    for (int c = 0; c < 256; c++) {
      gboolean want = (g_ascii_isalnum (c) || (c != 0 && strchr ("-_.!~*'()", c) != NULL)) ||
                      (c != 0 && strchr (parts[k].extra, c) != NULL);
      if (sf_sip_ch ((guchar) c, parts[k].cls) != want)
        g_printerr ("\n  class %s, byte 0x%02x", parts[k].extra, (guint) c);
      CU_ASSERT_EQUAL (sf_sip_ch ((guchar) c, parts[k].cls), want);
      CU_ASSERT_EQUAL (sf_sip_ch ((guchar) c, SF_SIP_CH_UNRESERVED),
                       g_ascii_isalnum (c) || (c != 0 && strchr ("-_.!~*'()", c) != NULL));
    }
  /* And the scanners' classes made of others. */
  for (int c = 0; c < 256; c++) {
    CU_ASSERT_EQUAL (sf_sip_ch ((guchar) c, SF_SIP_CH_CALLID), sf_sip_ch ((guchar) c, SF_SIP_CH_WORD) || c == '@');
    CU_ASSERT_EQUAL (sf_sip_ch ((guchar) c, SF_SIP_CH_GEN),
                     sf_sip_ch ((guchar) c, SF_SIP_CH_TOKEN) || c == ':' || c == '[' || c == ']');
    CU_ASSERT_EQUAL (sf_sip_ch ((guchar) c, SF_SIP_CH_HOST), g_ascii_isalnum (c) || c == '-' || c == '.');
  }
}

static void
header_control_bytes (void)
{
  /* A header line's end and its control bytes are found in one pass, eight
   * bytes at a time: a control byte at any place in a word is found at its
   * offset, a quoted-pair's is let through, a fold is no line end. */
  const char *head = "OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
                     "To: <sip:b@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c@a\r\nCSeq: 1 OPTIONS\r\n"
                     "Subject: ";
  for (guint k = 0; k < 24; k++)
    for (int bad = 0; bad < 3; bad++) {
      char value[25];
      memset (value, 'x', 24);
      value[24] = '\0';
      GString *t = g_string_new (head);
      gsize at = t->len + k;
      g_string_append_len (t, value, 24);
      t->str[at] = bad == 0 ? '\x01' : bad == 1 ? '\x7f' : '\r';
      g_string_append (t, "\r\nContent-Length: 0\r\n\r\n");
      g_autoptr (GBytes) b = g_string_free_to_bytes (t);
      g_autoptr (GError) e = NULL;
      g_autoptr (SfSipMsg) m = sf_sip_msg_parse (b, &e);
      CU_ASSERT_PTR_NULL (m);
      CU_ASSERT_TRUE (g_error_matches (e, SF_SIP_ERROR, SF_SIP_ERROR_SYNTAX));
      g_autofree char *want = g_strdup_printf ("offset %" G_GSIZE_FORMAT, at);
      CU_ASSERT_TRUE (e != NULL && g_str_has_suffix (e->message, want));
    }
  static const char *const good[] = { "a\\\x01b", "a\\\x7f", "1234567\\\x01", "a\r\n b\r\n\tc", "\tx\t" };
  for (gsize i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autofree char *t = g_strdup_printf ("%s%s\r\nContent-Length: 0\r\n\r\n", head, good[i]);
    g_autoptr (GBytes) b = g_bytes_new (t, strlen (t));
    g_autoptr (SfSipMsg) m = sf_sip_msg_parse (b, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL (m);
    CU_ASSERT_EQUAL (sf_sip_msg_n_headers (m), 7);
  }
}

static void
decimal_bounds (void)
{
  /* sf_sip_str_to_u64 checks overflow on the 20th digit only. */
  guint64 v = 0;
  CU_ASSERT_TRUE (sf_sip_str_to_u64 (SF_SIP_STR_LIT ("18446744073709551615"), G_MAXUINT64, &v));
  CU_ASSERT_EQUAL (v, G_MAXUINT64);
  CU_ASSERT_TRUE (sf_sip_str_to_u64 (SF_SIP_STR_LIT ("9999999999999999999"), G_MAXUINT64, &v));
  CU_ASSERT_EQUAL (v, G_GUINT64_CONSTANT (9999999999999999999));
  CU_ASSERT_TRUE (sf_sip_str_to_u64 (SF_SIP_STR_LIT ("00000000000000000070"), 70, &v));
  CU_ASSERT_EQUAL (v, 70);
  CU_ASSERT_FALSE (sf_sip_str_to_u64 (SF_SIP_STR_LIT ("18446744073709551616"), G_MAXUINT64, &v));
  CU_ASSERT_FALSE (sf_sip_str_to_u64 (SF_SIP_STR_LIT ("99999999999999999999"), G_MAXUINT64, &v));
  CU_ASSERT_FALSE (sf_sip_str_to_u64 (SF_SIP_STR_LIT ("100000000000000000000"), G_MAXUINT64, &v));
  CU_ASSERT_FALSE (sf_sip_str_to_u64 (SF_SIP_STR_LIT ("256"), 255, &v));
  CU_ASSERT_FALSE (sf_sip_str_to_u64 (SF_SIP_STR_LIT ("1a"), 255, &v));
  CU_ASSERT_FALSE (sf_sip_str_to_u64 (SF_SIP_STR_LIT (""), 255, &v));
}

/* What sf_sip_host_span() answers, byte by byte. */
static const char *
host_span_ref (const char *p, const char *end, gboolean *dots)
{
  const char *h = p;
  for (; p < end && (g_ascii_isalnum (*p) || *p == '-' || *p == '.'); p++)
    if (*p == '.' && p > h && p[-1] == '.')
      *dots = TRUE;
  return p;
}

static void
host_span (void)
{
  char buf[48];
  guint wrong = 0;
  for (gsize len = 1; len <= 40; len++)
    for (gsize at = 0; at < len; at++)
      for (int c = 0; c < 256; c++) {
        /* A run of host bytes with byte @c at @at; dots before it in some runs. */
        for (gsize i = 0; i < len; i++)
          buf[i] = "ab-9.Zx0"[i % 8];
        buf[at] = (char) c;
        if (c == '.' && at > 0)
          buf[at - 1] = (len + at) % 3 == 0 ? '.' : 'q'; /* ".." across each place, steps of 16 too */
        gboolean d1 = FALSE, d2 = FALSE;
        const char *e1 = sf_sip_host_span (buf, buf + len, &d1), *e2 = host_span_ref (buf, buf + len, &d2);
        if (e1 != e2 || d1 != d2) {
          if (wrong++ < 5)
            g_printerr ("\n  host_span len %zu byte 0x%02x at %zu: end %td/%td dots %d/%d", len, (guint) c, at,
                        e1 - buf, e2 - buf, d1, d2);
        }
        /* The token scan likewise (its sixteen-byte steps stop at the first
         * byte not alphanumeric, '-' or '.'; token bytes go on from there). */
        const char *t2 = buf;
        while (t2 < buf + len && sf_sip_is_token_char ((guchar) *t2))
          t2++;
        if (sf_sip_token_span (buf, buf + len) != t2 && wrong++ < 5)
          g_printerr ("\n  token_span len %zu byte 0x%02x at %zu", len, (guint) c, at);
        const char *g2 = buf; /* a parameter's gen-value */
        while (g2 < buf + len && sf_sip_ch ((guchar) *g2, SF_SIP_CH_GEN))
          g2++;
        if (sf_sip_class_span (buf, buf + len, SF_SIP_CH_GEN, ':') != g2 && wrong++ < 5)
          g_printerr ("\n  class_span (gen-value) len %zu byte 0x%02x at %zu", len, (guint) c, at);
        const char *w2 = buf; /* a Call-ID's words */
        while (w2 < buf + len && sf_sip_ch ((guchar) *w2, SF_SIP_CH_CALLID))
          w2++;
        if (sf_sip_class_span (buf, buf + len, SF_SIP_CH_CALLID, '@') != w2 && wrong++ < 5)
          g_printerr ("\n  class_span (Call-ID) len %zu byte 0x%02x at %zu", len, (guint) c, at);
      }
  CU_ASSERT_EQUAL (wrong, 0);
  /* Through the URI parser: a user found by the hostname scan, "..", a user
   * with other bytes, a host past 16 bytes. */
  static const struct { const char *uri; gboolean ok; const char *user, *host; } cases[] = {
    { "sip:bob@biloxi.example.com", TRUE, "bob", "biloxi.example.com" },
    { "sip:bob.smith-2@a.very.long.host.name.example.com:5060;lr", TRUE, "bob.smith-2",
      "a.very.long.host.name.example.com" },
    { "sip:server10.biloxi.example.com;lr", TRUE, NULL, "server10.biloxi.example.com" },
    { "sip:a;b@host.example.com", TRUE, "a;b", "host.example.com" },
    { "sip:alice:secret@atlanta.example.com", TRUE, "alice", "atlanta.example.com" },
    { "sip:@host.example.com", FALSE, NULL, NULL },
    { "sip:bob@biloxi..example.com", FALSE, NULL, NULL },
    { "sip:bob@0123456789abcdef..example.com", FALSE, NULL, NULL },
    { "sip:0123456789abcde..example.com", FALSE, NULL, NULL },
    { "sip:0123456789abcdef.example.com", TRUE, NULL, "0123456789abcdef.example.com" },
    { "sip:bo b@host", FALSE, NULL, NULL },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) e = NULL;
    g_autoptr (SfSipUri) u = sf_sip_uri_parse (sf_sip_str (cases[i].uri, strlen (cases[i].uri)), NULL, &e);
    if ((u != NULL) != cases[i].ok)
      g_printerr ("\n  %s: %s", cases[i].uri, e != NULL ? e->message : "parsed");
    CU_ASSERT_EQUAL (u != NULL, cases[i].ok);
    if (u == NULL || !cases[i].ok)
      continue;
    CU_ASSERT_TRUE (cases[i].user != NULL ? sf_sip_str_eq (u->user, cases[i].user) : u->user.len == 0);
    CU_ASSERT_TRUE (sf_sip_str_eq (u->host, cases[i].host));
  }
}

/* What sf_sip_is_ipv4() answers, a byte at a time. */
static gboolean
ipv4_ref (const char *p, gsize len)
{
  int parts = 0, digits = 0, value = 0;
  for (gsize i = 0; i < len; i++) {
    if (g_ascii_isdigit (p[i])) {
      value = value * 10 + (p[i] - '0');
      if (++digits > 3 || value > 255)
        return FALSE;
    } else if (p[i] == '.' && digits > 0 && parts < 3) {
      parts++;
      digits = value = 0;
    } else {
      return FALSE;
    }
  }
  return parts == 3 && digits > 0;
}

/* @buf's @len bytes copied into a heap block of exactly their size (one
 * per length, kept in @blocks): a read one byte past them is a heap overflow
 * the sanitizer build reports, where on the stack array bytes left over from
 * earlier cases would be read silently. */
#define EXACT_MAX 64
static const char *
exact_copy (char *blocks[EXACT_MAX + 1], const char *buf, gsize len)
{
  g_assert (len <= EXACT_MAX);
  if (blocks[len] == NULL)
    blocks[len] = g_malloc (len + (len == 0)); /* g_malloc (0) is NULL */
  memcpy (blocks[len], buf, len);
  return blocks[len];
}

static void
exact_free (char *blocks[EXACT_MAX + 1])
{
  for (gsize i = 0; i <= EXACT_MAX; i++)
    g_free (blocks[i]);
}

static void
ipv4_check (void)
{
  static const char alphabet[] = "0259.x";
  char buf[40], *blocks[EXACT_MAX + 1] = { NULL };
  guint wrong = 0, valid = 0;
  for (gsize len = 0; len <= 8; len++) {
    guint n = 1;
    for (gsize i = 0; i < len; i++)
      n *= sizeof alphabet - 1;
    for (guint k = 0; k < n; k++) {
      for (gsize i = 0, r = k; i < len; i++, r /= sizeof alphabet - 1)
        buf[i] = alphabet[r % (sizeof alphabet - 1)];
      gboolean want = ipv4_ref (buf, len);
      valid += want;
      if (sf_sip_is_ipv4 (sf_sip_str (exact_copy (blocks, buf, len), len)) != want && wrong++ < 5)
        g_printerr ("\n  is_ipv4 '%.*s': %d", (int) len, buf, !want);
    }
  }
  static const char *const parts[] = { "", "0", "00", "000", "0000", "1", "25", "255", "256", "260",
                                        "299", "300", "999", "01", "010", "0255", "2555", "1x" };
  static const char *const around[] = { "", ".", "x", "0", ":" };
  for (gsize a = 0; a < G_N_ELEMENTS (parts); a++)
    for (gsize b = 0; b < G_N_ELEMENTS (parts); b++)
      for (gsize c = 0; c < G_N_ELEMENTS (parts); c++)
        for (gsize d = 0; d < G_N_ELEMENTS (parts); d++)
          for (gsize e = 0; e < 2 * G_N_ELEMENTS (around); e++) {
            const char *x = around[e % G_N_ELEMENTS (around)];
            int len = e < G_N_ELEMENTS (around)
                        ? g_snprintf (buf, sizeof buf, "%s%s.%s.%s.%s", x, parts[a], parts[b], parts[c], parts[d])
                        : g_snprintf (buf, sizeof buf, "%s.%s.%s.%s%s", parts[a], parts[b], parts[c], parts[d], x);
            gboolean want = ipv4_ref (buf, (gsize) len);
            valid += want;
            if (sf_sip_is_ipv4 (sf_sip_str (exact_copy (blocks, buf, (gsize) len), (gsize) len)) != want && wrong++ < 5)
              g_printerr ("\n  is_ipv4 '%s': %d", buf, !want);
          }
  CU_ASSERT_EQUAL (wrong, 0);
  CU_ASSERT_TRUE (valid > 1000); /* the cases hold addresses, not only refusals */
  CU_ASSERT_TRUE (sf_sip_is_ipv4 (SF_SIP_STR_LIT ("255.255.255.255")));
  CU_ASSERT_FALSE (sf_sip_is_ipv4 (SF_SIP_STR_LIT ("255.255.255.256")));
  CU_ASSERT_FALSE (sf_sip_is_ipv4 (SF_SIP_STR_NULL));
  exact_free (blocks);
}

/* What sf_sip_scan_quoted() answers, a byte at a time: the content's length, or -1. */
static gssize
quoted_ref (const char *p, gsize len)
{
  if (len == 0 || p[0] != '"')
    return -1;
  for (gsize i = 1; i < len; i++) {
    if (p[i] == '\\') {
      if (i + 1 >= len || p[i + 1] == '\r' || p[i + 1] == '\n')
        return -1;
      i++;
    } else if (p[i] == '"') {
      return (gssize) (i - 1);
    }
  }
  return -1;
}

static void
quoted_scan (void)
{
  static const char special[] = { '"', '\\', '\r', '\n', '\0', 'a' };
  char buf[48], *blocks[EXACT_MAX + 1] = { NULL };
  guint wrong = 0, found = 0;
  for (gsize len = 1; len <= 40; len++)
    for (gsize at = 1; at < len; at++)
      for (gsize k = 0; k < sizeof special; k++)
        for (gsize second = 0; second < 16; second++) {
          buf[0] = '"';
          for (gsize i = 1; i < len; i++)
            buf[i] = "xy z,;=9"[i % 8];
          if (second >= 8)
            buf[len - 1] = '"'; /* closed at the end, unless a special byte is there */
          buf[at] = special[k];
          /* A second special byte right after the first (an escaped CR or
           * LF, an escaped quote...) or across a 16-byte step from it. */
          gsize at2 = second % 8 < 4 ? at + 1 : (at + 11 + second % 8) % len;
          if (at2 > 0 && at2 < len && at2 != at)
            buf[at2] = "\"\\\r\n"[second % 4];
          gssize want = quoted_ref (buf, len);
          const char *x = exact_copy (blocks, buf, len);
          SfSipScan sc;
          sf_sip_scan_init (&sc, sf_sip_str (x, len), NULL);
          SfSipStr out = SF_SIP_STR_NULL;
          gboolean ok = sf_sip_scan_quoted (&sc, &out);
          gssize got = ok ? (gssize) out.len : -1;
          found += want >= 0;
          if ((got != want || (ok && (out.p != x + 1 || sc.p != x + 2 + out.len))) && wrong++ < 5)
            g_printerr ("\n  scan_quoted len %zu 0x%02x at %zu, second at %zu: %zd/%zd", len, (guint) special[k], at, at2,
                        got, want);
        }
  CU_ASSERT_EQUAL (wrong, 0);
  CU_ASSERT_TRUE (found > 1000); /* strings that end, not only refusals */
  exact_free (blocks);
}

void
sf_test_register_sip_parse (void)
{
  CU_pSuite s = CU_add_suite ("sip-parse", NULL, NULL);
  SF_ADD_TEST (s, rfc4475_verdicts);
  SF_ADD_TEST (s, rfc5118_verdicts);
  SF_ADD_TEST (s, round_trip);
  SF_ADD_TEST (s, framing);
  SF_ADD_TEST (s, limits);
  SF_ADD_TEST (s, uri_compare);
  SF_ADD_TEST (s, strictness);
  SF_ADD_TEST (s, repeated_params);
  SF_ADD_TEST (s, bad_request_reasons);
  SF_ADD_TEST (s, header_lookup);
  SF_ADD_TEST (s, list_elements);
  SF_ADD_TEST (s, uri_char_classes);
  SF_ADD_TEST (s, header_control_bytes);
  SF_ADD_TEST (s, decimal_bounds);
  SF_ADD_TEST (s, host_span);
  SF_ADD_TEST (s, ipv4_check);
  SF_ADD_TEST (s, quoted_scan);
}
