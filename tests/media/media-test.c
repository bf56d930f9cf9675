/* media-test.c: the helpers the GStreamer media tests share (media-test.h). */
#include "config.h"
#include "media-test.h"
#include <stdio.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer's suppressions (tests/lsan.supp) name functions; the default
 * frame-pointer unwinder stops inside GLib (built without frame pointers), so
 * GLib's and GStreamer's one-time allocations could not be matched: unwind
 * fully.  (A run with many GStreamer types outgrows GLib's first quark block,
 * which GLib then leaks on purpose; its stack ends in _dl_init.) */
const char *__asan_default_options (void);
const char *
__asan_default_options (void)
{
  return "fast_unwind_on_malloc=0";
}
#endif

GSocket *
mt_sock_new (const char *host, guint *port)
{
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (host);
  g_assert_nonnull (ia);
  g_autoptr (GSocket) s = g_socket_new (g_inet_address_get_family (ia), G_SOCKET_TYPE_DATAGRAM,
                                        G_SOCKET_PROTOCOL_UDP, NULL);
  g_assert_nonnull (s);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (ia, 0);
  g_assert_true (g_socket_bind (s, sa, FALSE, NULL));
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (s, NULL);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  g_socket_set_blocking (s, FALSE);
  return g_steal_pointer (&s);
}

gssize
mt_send_rtp (GSocket *s, const char *host, guint port, guint pt, guint16 seq, guint32 ts, guint32 ssrc,
             const void *payload, gsize len)
{
  guint8 buf[12 + 1024] = { 0x80, (guint8) (pt & 0x7f), (guint8) (seq >> 8), (guint8) seq,
                            (guint8) (ts >> 24), (guint8) (ts >> 16), (guint8) (ts >> 8), (guint8) ts,
                            (guint8) (ssrc >> 24), (guint8) (ssrc >> 16), (guint8) (ssrc >> 8), (guint8) ssrc };
  g_assert_cmpuint (len, <=, 1024);
  if (len > 0)
    memcpy (buf + 12, payload, len);
  g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (host);
  g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (ia, (guint16) port);
  return g_socket_send_to (s, sa, (const char *) buf, 12 + len, NULL, NULL);
}

guint
mt_count_dir (const char *path)
{
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  guint n = 0;
  while (d != NULL && g_dir_read_name (d) != NULL)
    n++;
  return n;
}

int
mt_main (int argc, char **argv, const char *suite, const MtTest *tests, const char *what, guint port_lo,
         guint port_hi)
{
  if (CU_initialize_registry () != CUE_SUCCESS)
    return 1;
  CU_pSuite s = CU_add_suite (suite, NULL, NULL);
  for (const MtTest *t = tests; t->name != NULL; t++)
    CU_add_test (s, t->name, t->func);
  CU_basic_set_mode (CU_BRM_VERBOSE);
  if (argc > 1) {
    CU_pTest t = CU_get_test (s, argv[1]);
    if (t == NULL) {
      fprintf (stderr, "%s: no test '%s'\n", argv[0], argv[1]);
      CU_cleanup_registry ();
      return 2;
    }
    CU_basic_run_test (s, t);
  } else {
    CU_basic_run_tests ();
  }
  unsigned failures = CU_get_number_of_failures () + CU_get_number_of_tests_failed ();
  unsigned run = CU_get_number_of_tests_run ();
  printf ("\nsipflow %s tests: %u tests run, %u assertions, %u failures (ports %u-%u)\n", what, run,
          CU_get_number_of_asserts (), CU_get_number_of_tests_failed (), port_lo, port_hi);
  CU_cleanup_registry ();
  return failures == 0 && run > 0 ? 0 : 1;
}
