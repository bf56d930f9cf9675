/* test-sip-resolve.c: RFC 3263 server location's selection on canned records,
 * no network (sip/sf-sip-resolve.h):
 *  - NAPTR (4.1): the services a client speaks, flag "s", by order then
 *    preference; sips takes SIPS+D2T alone (over TCP while TLS is not spoken);
 *  - SRV (RFC 2782): by priority; within one, a weighted draw (weight 0 can
 *    come first only by the draw's 0); "." dropped;
 *  - numeric hosts: transport=, sips, the default port, and UDP or TCP by what
 *    the caller speaks. */
#include "config.h"
#include "sf-test.h"
#include "sip/sf-sip-resolve.h"
#include <string.h>

#define UDP SF_SIP_PROTO_BIT (SF_SIP_UDP)
#define TCP SF_SIP_PROTO_BIT (SF_SIP_TCP)
#define TLS SF_SIP_PROTO_BIT (SF_SIP_TLS)

static const SfSipNaptr naptrs[] = {
  { 20, 10, "S", "SIP+D2U", "_sip._udp.example.test" },
  { 10, 20, "s", "SIP+D2T", "_sip._tcp.example.test" },
  { 10, 10, "S", "SIPS+D2T", "_sips._tcp.example.test" },
  { 5, 10, "U", "SIP+D2T", "!^.*$!sip:x@y!" },        /* not an SRV name: another flag */
  { 5, 10, "S", "E2U+sip", "_sip._udp.other.test" },  /* not a SIP transport service */
  { 30, 10, "S", "SIP+D2U", "." },                    /* no replacement */
};

static void
naptr_order (void)
{
  guint idx[8];
  SfSipProto proto[8];
  /* UDP and TCP: TCP (order 10) before UDP (order 20); SIPS+D2T not spoken */
  guint n = sf_sip_naptr_select (naptrs, G_N_ELEMENTS (naptrs), FALSE, UDP | TCP, idx, proto, 8);
  CU_ASSERT_EQUAL_FATAL (n, 2);
  CU_ASSERT_EQUAL (idx[0], 1);
  CU_ASSERT_EQUAL (proto[0], SF_SIP_TCP);
  CU_ASSERT_EQUAL (idx[1], 0);
  CU_ASSERT_EQUAL (proto[1], SF_SIP_UDP);
  /* with TLS: SIPS+D2T (order 10, preference 10) first */
  n = sf_sip_naptr_select (naptrs, G_N_ELEMENTS (naptrs), FALSE, UDP | TCP | TLS, idx, proto, 8);
  CU_ASSERT_EQUAL_FATAL (n, 3);
  CU_ASSERT_EQUAL (idx[0], 2);
  CU_ASSERT_EQUAL (proto[0], SF_SIP_TLS);
  CU_ASSERT_EQUAL (idx[1], 1);
  /* UDP only */
  n = sf_sip_naptr_select (naptrs, G_N_ELEMENTS (naptrs), FALSE, UDP, idx, proto, 8);
  CU_ASSERT_EQUAL (n, 1);
  CU_ASSERT_EQUAL (idx[0], 0);
  /* bounded by max */
  n = sf_sip_naptr_select (naptrs, G_N_ELEMENTS (naptrs), FALSE, UDP | TCP, idx, proto, 1);
  CU_ASSERT_EQUAL (n, 1);
  CU_ASSERT_EQUAL (idx[0], 1);
  /* sips: SIPS+D2T alone; over TLS, or over TCP where TLS is not spoken */
  n = sf_sip_naptr_select (naptrs, G_N_ELEMENTS (naptrs), TRUE, UDP | TCP | TLS, idx, proto, 8);
  CU_ASSERT_EQUAL_FATAL (n, 1);
  CU_ASSERT_EQUAL (idx[0], 2);
  CU_ASSERT_EQUAL (proto[0], SF_SIP_TLS);
  n = sf_sip_naptr_select (naptrs, G_N_ELEMENTS (naptrs), TRUE, UDP | TCP, idx, proto, 8);
  CU_ASSERT_EQUAL_FATAL (n, 1);
  CU_ASSERT_EQUAL (proto[0], SF_SIP_TCP);
  CU_ASSERT_EQUAL (sf_sip_naptr_select (naptrs, G_N_ELEMENTS (naptrs), TRUE, UDP, idx, proto, 8), 0);
  CU_ASSERT_EQUAL (sf_sip_naptr_select (NULL, 0, FALSE, UDP, idx, proto, 8), 0);
}

static void
srv_order (void)
{
  /* priorities sort first, whatever the weights; "." goes */
  SfSipSrv a[] = { { 20, 100, 5060, "c.test" }, { 10, 0, 5060, "a.test" }, { 30, 5, 5060, "." }, { 15, 1, 5062, "b.test" } };
  guint n = sf_sip_srv_order (a, G_N_ELEMENTS (a), NULL);
  CU_ASSERT_EQUAL_FATAL (n, 3);
  CU_ASSERT_STRING_EQUAL (a[0].target, "a.test");
  CU_ASSERT_STRING_EQUAL (a[1].target, "b.test");
  CU_ASSERT_STRING_EQUAL (a[2].target, "c.test");
  /* one priority, weights 90 and 10: the heavier comes first about nine times in ten */
  GRand *rand = g_rand_new_with_seed (42);
  guint heavy_first = 0, zero_first = 0;
  for (guint i = 0; i < 1000; i++) {
    SfSipSrv b[] = { { 10, 10, 1, "light" }, { 10, 90, 2, "heavy" } };
    CU_ASSERT_EQUAL (sf_sip_srv_order (b, 2, rand), 2);
    heavy_first += strcmp (b[0].target, "heavy") == 0;
    /* weight 0 beside weight 100: first only when the draw is 0 (1 in 101) */
    SfSipSrv c[] = { { 10, 100, 1, "w100" }, { 10, 0, 2, "w0" } };
    sf_sip_srv_order (c, 2, rand);
    zero_first += strcmp (c[0].target, "w0") == 0;
  }
  CU_ASSERT_TRUE (heavy_first > 850 && heavy_first < 950);
  CU_ASSERT_TRUE (zero_first < 40);
  /* all weights 0: the order they came in */
  SfSipSrv d[] = { { 10, 0, 1, "first" }, { 10, 0, 2, "second" }, { 5, 0, 3, "zeroth" } };
  CU_ASSERT_EQUAL (sf_sip_srv_order (d, 3, rand), 3);
  CU_ASSERT_STRING_EQUAL (d[0].target, "zeroth");
  CU_ASSERT_STRING_EQUAL (d[1].target, "first");
  CU_ASSERT_STRING_EQUAL (d[2].target, "second");
  g_rand_free (rand);
}

static gboolean
numeric_is (const char *text, guint protos, SfSipProto proto, const char *ip, guint port)
{
  g_autoptr (SfSipUri) uri = sf_sip_uri_parse (sf_sip_str (text, strlen (text)), NULL, NULL);
  g_assert (uri != NULL);
  g_autoptr (GPtrArray) t = sf_sip_resolve_numeric (uri, protos);
  if (t == NULL || t->len != 1)
    return FALSE;
  SfSipTarget *x = t->pdata[0];
  g_autofree char *a = g_inet_address_to_string (g_inet_socket_address_get_address (x->addr));
  return x->proto == proto && strcmp (a, ip) == 0 && g_inet_socket_address_get_port (x->addr) == port;
}

static void
numeric (void)
{
  CU_ASSERT_TRUE (numeric_is ("sip:b@127.0.0.1", UDP | TCP, SF_SIP_UDP, "127.0.0.1", 5060));
  CU_ASSERT_TRUE (numeric_is ("sip:b@127.0.0.1", TCP, SF_SIP_TCP, "127.0.0.1", 5060)); /* no UDP here */
  CU_ASSERT_TRUE (numeric_is ("sip:b@127.0.0.1:5070;transport=TCP", UDP, SF_SIP_TCP, "127.0.0.1", 5070));
  CU_ASSERT_TRUE (numeric_is ("sip:b@127.0.0.1;transport=tls", UDP | TLS, SF_SIP_TLS, "127.0.0.1", 5061));
  CU_ASSERT_TRUE (numeric_is ("sips:b@[::1]", UDP | TCP | TLS, SF_SIP_TLS, "::1", 5061));
  CU_ASSERT_TRUE (numeric_is ("sips:b@[::1]", UDP | TCP, SF_SIP_TCP, "::1", 5061));
  CU_ASSERT_TRUE (numeric_is ("sip:b@host.test;maddr=192.0.2.1", UDP, SF_SIP_UDP, "192.0.2.1", 5060));
  g_autoptr (SfSipUri) name = sf_sip_uri_parse (SF_SIP_STR_LIT ("sip:b@host.test"), NULL, NULL);
  CU_ASSERT_PTR_NULL (sf_sip_resolve_numeric (name, UDP));
}

/* A bad sip.dns_servers is refused; a good one is taken. */
static void
servers (void)
{
  g_autoptr (GError) error = NULL;
  SfSipResolver *r = sf_sip_resolver_new ("127.0.0.1:5353,[::1]:53", 100, 1, &error);
  CU_ASSERT_PTR_NOT_NULL (r);
  sf_sip_resolver_free (r);
  r = sf_sip_resolver_new ("not an address", 100, 1, &error);
  CU_ASSERT_PTR_NULL (r);
  CU_ASSERT_PTR_NOT_NULL (error);
}

void
sf_test_register_sip_resolve (void)
{
  CU_pSuite s = CU_add_suite ("sip-resolve", NULL, NULL);
  SF_ADD_TEST (s, naptr_order);
  SF_ADD_TEST (s, srv_order);
  SF_ADD_TEST (s, numeric);
  SF_ADD_TEST (s, servers);
}
