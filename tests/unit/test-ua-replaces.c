/* test-ua-replaces.c: the Replaces header parser and formatter
 * (operators/ua/sf-replaces.c, RFC 3891 6.1):
 *  - good: a Call-ID with and without "@", the tags in either order, any case
 *    of the parameter names, early-only, generic parameters (token, quoted,
 *    IPv6 values) ignored, LWS and a fold around ";" and "=";
 *  - bad: no Call-ID, no to-tag, no from-tag (6.1: exactly one of each), two
 *    of either, early-only twice or with a value, a tag without a token value
 *    (empty, quoted), a character outside the grammar (space inside the
 *    Call-ID, ",", a bare CR or LF, NUL), an unterminated quoted value, an
 *    empty parameter, "@" with nothing after it;
 *  - bounds: SF_REPLACES_MAX_LEN bytes taken, one more refused;
 *    SF_REPLACES_MAX_PARAMS parameters taken, one more refused;
 *  - escaped: the ?Replaces= value of a Refer-To URI (%3B, %3D, %40)
 *    unescaped and parsed; a bad escape, an escaped NUL, CR or LF refused;
 *  - format: the plain and the escaped forms parse back to the same value. */
#include "config.h"
#include "sf-test.h"
#include "operators/ua/sf-replaces.h"
#include <string.h>

static SfReplaces *
parse (const char *s)
{
  g_autoptr (GError) error = NULL;
  SfReplaces *r = sf_replaces_parse (s, strlen (s), &error);
  if (r == NULL)
    CU_ASSERT_PTR_NOT_NULL (error);
  return r;
}

static void
good (const char *s, const char *cid, const char *to, const char *from, gboolean early)
{
  g_autoptr (SfReplaces) r = parse (s);
  CU_ASSERT_PTR_NOT_NULL (r);
  if (r == NULL) {
    fprintf (stderr, "\nreplaces: '%s' refused\n", s);
    return;
  }
  CU_ASSERT_STRING_EQUAL (r->call_id, cid);
  CU_ASSERT_STRING_EQUAL (r->to_tag, to);
  CU_ASSERT_STRING_EQUAL (r->from_tag, from);
  CU_ASSERT_EQUAL (r->early_only, early);
}

static void
bad (const char *s, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfReplaces) r = sf_replaces_parse (s, len, &error);
  CU_ASSERT_PTR_NULL (r);
  CU_ASSERT_PTR_NOT_NULL (error);
  if (r != NULL)
    fprintf (stderr, "\nreplaces: '%.*s' taken\n", (int) len, s);
}

#define BAD(s) bad ((s), strlen (s))

static void
test_good (void)
{
  good ("425928@bobster.example.org;to-tag=7743;from-tag=6472", "425928@bobster.example.org", "7743", "6472", FALSE);
  good ("98732@sip.example.com;from-tag=r33th4x0r;to-tag=ff87ff;early-only", "98732@sip.example.com", "ff87ff",
        "r33th4x0r", TRUE);
  good ("abc;TO-TAG=x;From-Tag=y;EARLY-ONLY", "abc", "x", "y", TRUE);
  good ("a(b)<c>:d\\e\"f/[g]?{h}@host;to-tag=t;from-tag=f", "a(b)<c>:d\\e\"f/[g]?{h}@host", "t", "f", FALSE);
  good ("id ; to-tag = t1 ;\tfrom-tag=f1", "id", "t1", "f1", FALSE);
  good ("id;to-tag=t1\r\n ;from-tag=f1", "id", "t1", "f1", FALSE); /* a fold is LWS */
  good ("id;to-tag=a-.!%*_+`'~;from-tag=0", "id", "a-.!%*_+`'~", "0", FALSE);
  good ("id;to-tag=t;from-tag=f;x=1;y;z=\"a;b\\\"c\";w=[::1];v=host.example.com", "id", "t", "f", FALSE);
  good ("  id;to-tag=t;from-tag=f  ", "id", "t", "f", FALSE);
}

static void
test_bad (void)
{
  BAD ("");
  BAD (";to-tag=t;from-tag=f");
  BAD ("id");
  BAD ("id;to-tag=t");
  BAD ("id;from-tag=f");
  BAD ("id;to-tag=t;to-tag=u;from-tag=f");
  BAD ("id;to-tag=t;from-tag=f;from-tag=g");
  BAD ("id;to-tag=t;from-tag=f;early-only;early-only");
  BAD ("id;to-tag=t;from-tag=f;early-only=yes");
  BAD ("id;to-tag=;from-tag=f");
  BAD ("id;to-tag;from-tag=f");
  BAD ("id;to-tag=\"t\";from-tag=f");
  BAD ("id;to-tag=[::1];from-tag=f");
  BAD ("i d;to-tag=t;from-tag=f");
  BAD ("id, other;to-tag=t;from-tag=f");
  BAD ("id;to-tag=t;from-tag=f,g");
  BAD ("id;to-tag=t\r\n;from-tag=f");   /* a line end not followed by white space */
  BAD ("id;to-tag=t\r;from-tag=f");
  BAD ("id;to-tag=t;from-tag=f;x=\"open");
  BAD ("id;to-tag=t;from-tag=f;x=\"a\x01\"");
  BAD ("id;to-tag=t;;from-tag=f");
  BAD ("id;to-tag=t;from-tag=f;");
  BAD ("id@;to-tag=t;from-tag=f");
  BAD ("id@a@b;to-tag=t;from-tag=f");
  BAD ("id;to-tag=t;from-tag=f;x=");
  BAD ("id;to-tag=t;from-tag=f;x=[zz]");
  BAD ("id;to-tag=t\xc3\xa9;from-tag=f");
  bad ("id;to-tag=t\0x;from-tag=f", sizeof "id;to-tag=t\0x;from-tag=f" - 1); /* a NUL inside */
}

static void
test_bounds (void)
{
  const char *tail = ";to-tag=t;from-tag=f";
  gsize cid_len = SF_REPLACES_MAX_LEN - strlen (tail);
  g_autofree char *cid = g_strnfill (cid_len, 'c');
  g_autofree char *max = g_strconcat (cid, tail, NULL);
  CU_ASSERT_EQUAL (strlen (max), SF_REPLACES_MAX_LEN);
  g_autoptr (SfReplaces) r = parse (max);
  CU_ASSERT_PTR_NOT_NULL (r);
  g_autofree char *over = g_strconcat ("c", max, NULL);
  BAD (over);

  GString *p = g_string_new ("id;to-tag=t;from-tag=f");
  for (guint i = 2; i < SF_REPLACES_MAX_PARAMS; i++)
    g_string_append_printf (p, ";p%u=v", i);
  g_autoptr (SfReplaces) r2 = parse (p->str);
  CU_ASSERT_PTR_NOT_NULL (r2);
  g_string_append (p, ";one=more");
  BAD (p->str);
  g_string_free (p, TRUE);
}

static void
test_escaped (void)
{
  const char *e = "12345%40192.0.2.1%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994";
  g_autoptr (GError) error = NULL;
  g_autoptr (SfReplaces) r = sf_replaces_parse_escaped (e, strlen (e), &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_STRING_EQUAL (r->call_id, "12345@192.0.2.1");
  CU_ASSERT_STRING_EQUAL (r->to_tag, "12345");
  CU_ASSERT_STRING_EQUAL (r->from_tag, "5FFE-3994");
  CU_ASSERT_FALSE (r->early_only);
  /* lower-case hex, and a literal "%25" that stays a "%" of the Call-ID */
  const char *e2 = "a%2525b%3bto-tag%3dt%3bfrom-tag%3df%3bearly-only";
  g_autoptr (SfReplaces) r2 = sf_replaces_parse_escaped (e2, strlen (e2), NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r2);
  CU_ASSERT_STRING_EQUAL (r2->call_id, "a%25b");
  CU_ASSERT_TRUE (r2->early_only);
  static const char *const refused[] = {
    "id%3Bto-tag%3Dt%3Bfrom-tag%3Df%",    /* a cut escape */
    "id%3Bto-tag%3Dt%3Bfrom-tag%3Df%4",
    "id%3Bto-tag%3Dt%3Bfrom-tag%3Df%zz",
    "id%00%3Bto-tag%3Dt%3Bfrom-tag%3Df",  /* an escaped NUL */
    "id%3Bto-tag%3Dt%0D%0A%3Bfrom-tag%3Df",
    "id%3Bto-tag%3Dt%0A%20%3Bfrom-tag%3Df", /* an escaped fold: no header smuggled */
    "id%3Bto-tag%3Dt",
  };
  for (gsize i = 0; i < G_N_ELEMENTS (refused); i++) {
    g_autoptr (GError) err = NULL;
    g_autoptr (SfReplaces) x = sf_replaces_parse_escaped (refused[i], strlen (refused[i]), &err);
    CU_ASSERT_PTR_NULL (x);
    CU_ASSERT_PTR_NOT_NULL (err);
    if (x != NULL)
      fprintf (stderr, "\nreplaces escaped: '%s' taken\n", refused[i]);
  }
  /* bounds: three bytes an escaped character */
  g_autofree char *huge = g_strnfill (3 * SF_REPLACES_MAX_LEN + 1, 'a');
  g_autoptr (SfReplaces) h = sf_replaces_parse_escaped (huge, strlen (huge), NULL);
  CU_ASSERT_PTR_NULL (h);
}

static void
test_format (void)
{
  SfReplaces r = { .call_id = "c@h", .to_tag = "t1", .from_tag = "f1", .early_only = TRUE };
  g_autofree char *plain = sf_replaces_format (&r);
  CU_ASSERT_STRING_EQUAL (plain, "c@h;to-tag=t1;from-tag=f1;early-only");
  g_autofree char *esc = sf_replaces_format_escaped (&r);
  CU_ASSERT_STRING_EQUAL (esc, "c%40h%3Bto-tag%3Dt1%3Bfrom-tag%3Df1%3Bearly-only");
  g_autoptr (SfReplaces) back = sf_replaces_parse_escaped (esc, strlen (esc), NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (back);
  CU_ASSERT_STRING_EQUAL (back->call_id, "c@h");
  CU_ASSERT_STRING_EQUAL (back->to_tag, "t1");
  CU_ASSERT_STRING_EQUAL (back->from_tag, "f1");
  CU_ASSERT_TRUE (back->early_only);
  SfReplaces odd = { .call_id = "a%b\"c<d>", .to_tag = "x`y", .from_tag = "~z" };
  g_autofree char *esc2 = sf_replaces_format_escaped (&odd);
  CU_ASSERT_PTR_NULL (strpbrk (esc2, ";=@\"<>`"));
  g_autoptr (SfReplaces) back2 = sf_replaces_parse_escaped (esc2, strlen (esc2), NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (back2);
  CU_ASSERT_STRING_EQUAL (back2->call_id, "a%b\"c<d>");
  CU_ASSERT_STRING_EQUAL (back2->to_tag, "x`y");
}

void
sf_test_register_ua_replaces (void)
{
  CU_pSuite s = CU_add_suite ("ua_replaces", NULL, NULL);
  SF_ADD_TEST (s, test_good);
  SF_ADD_TEST (s, test_bad);
  SF_ADD_TEST (s, test_bounds);
  SF_ADD_TEST (s, test_escaped);
  SF_ADD_TEST (s, test_format);
}
