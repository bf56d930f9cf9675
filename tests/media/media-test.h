/* media-test.h: what the GStreamer media tests (test-media-gst.c,
 * test-relay-gst.c) share: UDP sockets and RTP packets on loopback (IPv4 or
 * IPv6), counts read from /proc, and the CUnit main that runs one test by
 * name or all of them. */
#pragma once
#include <CUnit/Basic.h>
#include <gio/gio.h>

/* A non-blocking UDP socket bound on @host (an IPv4 or IPv6 literal), any
 * port, which goes in *@port; aborts when it cannot bind (loopback only). */
GSocket *mt_sock_new (const char *host, guint *port);
/* An RTP packet (RFC 3550 5.1: version 2, no padding, extension or CSRC)
 * with @pt, @seq, @ts, @ssrc and @payload (@len bytes, at most 1024) sent
 * from @s to @host:@port; the bytes sent, or -1. */
gssize mt_send_rtp (GSocket *s, const char *host, guint port, guint pt, guint16 seq, guint32 ts, guint32 ssrc,
                    const void *payload, gsize len);
/* The entries of a directory: /proc/self/task (threads), /proc/self/fd. */
guint mt_count_dir (const char *path);

typedef struct {
  const char *name;
  CU_TestFunc func;
} MtTest;
/* The CUnit main: suite @suite of @tests (ending with a NULL name), the one
 * named by argv[1] when given, else all; a summary line "sipflow @what tests:
 * ..." naming the ports @port_lo..@port_hi the run used.  0 when tests ran
 * and none failed, 1 otherwise, 2 for an unknown test name. */
int mt_main (int argc, char **argv, const char *suite, const MtTest *tests, const char *what, guint port_lo,
             guint port_hi);
