/* sf-test-b2b.c: the B2BUA suites' harness (sf-test-b2b.h). */
#include "config.h"
#include "sf-test-b2b.h"
#include "operators/sf-modules.h"
#include "media/sf-media.h"
#include <string.h>

static SfB2bState *b2b_state; /* what the modules' setups would make; the teardown frees them */
static SfMedia *b2b_media;

static void
b2b_teardown (SfEndpoint *ep)
{
  sf_module_attach (ep, &sf_b2bua_module, NULL);
  g_clear_pointer (&b2b_state, sf_b2b_state_free);
  if (b2b_media != NULL) {
    sf_module_attach (ep, &sf_media_module, NULL);
    g_clear_pointer (&b2b_media, sf_media_free);
  }
}

static void
trace_stderr (const char *line, gpointer data)
{
  g_printerr ("trace: %s\n", line);
}

SfTestB2b *
sf_test_b2b_new (const char *sets, guint flags)
{
  SfTestEnv *env = sf_test_env_new ();
  g_assert (sf_config_set (env->cfg, "media.backend=null", NULL));
  g_assert (sf_config_set (env->cfg, "ua.uri=sip:b2b@127.0.0.1", NULL));
  g_assert (sf_config_set (env->cfg, "sip.t1_ms=100", NULL));
  g_auto (GStrv) v = sets != NULL ? g_strsplit (sets, " ", -1) : NULL;
  for (guint i = 0; v != NULL && v[i] != NULL; i++)
    g_assert (sf_config_set (env->cfg, v[i], NULL));
  if (g_getenv ("SF_TEST_TRACE") != NULL)
    sf_endpoint_set_trace (env->ep, trace_stderr, NULL);
  sf_endpoint_attach (env->ep, NULL);
  SfMachine *tu = sf_loader_load (env->loader, SF_SRCDIR "/xml/b2bua.xml", NULL);
  g_assert (tu != NULL);
  SfTestB2b *x = g_new0 (SfTestB2b, 1);
  x->t = sf_test_stack_new (env, tu);
  x->b = sf_test_peer_new (env, &x->bto, &x->bport);
  g_autofree char *target = g_strdup_printf ("b2bua.target=sip:bob@127.0.0.1:%u", x->bport);
  g_assert (sf_config_set (env->cfg, target, NULL));
  if (flags & SF_TEST_B2B_C) {
    x->c = sf_test_peer_new (env, &x->cto, &x->cport);
    g_autofree char *fo = g_strdup_printf ("b2bua.failover=sip:carol@127.0.0.1:%u", x->cport);
    g_assert (sf_config_set (env->cfg, fo, NULL));
  }
  if (flags & SF_TEST_B2B_MEDIA) {
    b2b_media = sf_media_new (env->cfg, sf_media_null_backend (), NULL);
    g_assert (b2b_media != NULL);
    sf_module_attach (env->ep, &sf_media_module, b2b_media);
  }
  b2b_state = sf_b2b_state_new (env->ep, env->cfg, NULL);
  g_assert (b2b_state != NULL);
  sf_module_attach (env->ep, &sf_b2bua_module, b2b_state);
  return x;
}

void
sf_test_b2b_free (SfTestB2b *x)
{
  g_object_unref (x->b);
  g_object_unref (x->bto);
  g_clear_object (&x->c);
  g_clear_object (&x->cto);
  sf_test_stack_free (x->t, b2b_teardown);
  g_free (x);
}

SfB2bState *
sf_test_b2b_state (void)
{
  return b2b_state;
}

void
sf_test_b2b_settle (SfTestB2b *x)
{
  for (guint i = 0; i < 50; i++) {
    sf_endpoint_advance (x->t->env->ep, 1000);
    while (g_main_context_iteration (NULL, FALSE))
      ;
  }
  sf_endpoint_drain (x->t->env->ep);
}

void
sf_test_send (GSocket *sock, GInetSocketAddress *to, const char *text)
{
  g_socket_send_to (sock, G_SOCKET_ADDRESS (to), text, strlen (text), NULL, NULL);
}

char *
sf_test_recv (GSocket *sock, gboolean skip_100)
{
  for (guint i = 0; i < 8; i++) {
    if (!sf_test_peer_wait (sock))
      return NULL;
    char buf[8192];
    gssize n = g_socket_receive (sock, buf, sizeof buf - 1, NULL, NULL);
    if (n <= 0)
      return NULL;
    if (!skip_100 || n < 12 || memcmp (buf, "SIP/2.0 100 ", 12) != 0)
      return g_strndup (buf, n);
  }
  return NULL;
}

guint
sf_test_recv_final (GSocket *sock, char **text)
{
  for (guint i = 0; i < 8; i++) {
    g_autofree char *m = sf_test_recv (sock, FALSE);
    if (m == NULL || !g_str_has_prefix (m, "SIP/2.0 "))
      return 0;
    guint st = (guint) g_ascii_strtoull (m + 8, NULL, 10);
    if (st >= 200) {
      if (text != NULL)
        *text = g_steal_pointer (&m);
      return st;
    }
  }
  return 0;
}

void
sf_test_reply (GSocket *sock, GInetSocketAddress *to, const char *req, guint status, const char *tag, guint port,
               const char *sdp)
{
  g_autofree char *via = sf_test_header (req, "Via");
  g_autofree char *from = sf_test_header (req, "From");
  g_autofree char *toh = sf_test_header (req, "To");
  g_autofree char *cid = sf_test_header (req, "Call-ID");
  g_autofree char *cseq = sf_test_header (req, "CSeq");
  gboolean tagged = toh != NULL && strstr (toh, ";tag=") != NULL;
  g_autofree char *r = g_strdup_printf (
    "SIP/2.0 %u Peer\r\nVia: %s\r\nFrom: %s\r\nTo: %s%s%s\r\nCall-ID: %s\r\nCSeq: %s\r\n"
    "Contact: <sip:peer@127.0.0.1:%u>\r\n%sContent-Length: %zu\r\n\r\n%s",
    status, via, from, toh, tagged || tag == NULL ? "" : ";tag=", tagged || tag == NULL ? "" : tag, cid, cseq, port,
    sdp != NULL ? "Content-Type: application/sdp\r\n" : "", sdp != NULL ? strlen (sdp) : 0, sdp != NULL ? sdp : "");
  sf_test_send (sock, to, r);
}
