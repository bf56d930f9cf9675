/* test-relay-gst.c: the GStreamer relay of a B2BUA's anchored media
 * (media/sf-media-gst-relay.c through media/sf-media-relay.h) with real UDP
 * on 127.0.0.1: sockets play side A and side B (and a stranger), the relay's
 * ports come from a pool on a random high range, every wait bounded.
 *  - latch_any: A's SDP names a port it does not send from (a NAT); A's
 *    packets reach B from our B port (symmetric RTP, RFC 4961), B's answer
 *    reaches A at the port A sends from (latched), a "latched" event names it;
 *    RTCP latches and crosses on port + 1 alike; the stats count both ways
 *  - guard: a stranger's packets to our A port while A talks are dropped and
 *    counted, never reach B, and do not move A's destination; after
 *    relatch_ms of silence from A the stranger is latched instead
 *  - sdp_host: with latch = sdp_host a source on another host than the SDP's
 *    is not latched (127.0.0.2 against the SDP's 127.0.0.1)
 *  - latch_off: the SDP's port only: B's packets go where A's SDP says, so A
 *    hears nothing from the port it sends from
 *  - dtmf: RFC 4733 events from A (type 101, as A's SDP said) are relayed to B
 *    and told once each as "dtmf" "a DIGIT", however often repeated; B's
 *    events are not read while B's type is unknown
 *  - dtmf_flood: 400 packets each a new event: at most a burst of 8 told, then
 *    one per 40 ms; the relay still forwards after the flood
 *  - rtp_timeout: with rtp_timeout_ms 300, RTP that stops gives one
 *    "rtp_timeout" event, and none before RTP ever flowed
 *  - self_loop: an SDP destination that is one of our own relay ports (RTP or
 *    RTCP) on our own address is refused, so one packet never loops
 *  - rtcp_stranger: a stranger on another host who latched our RTCP port
 *    before A's first report loses it once A's RTP latches: B's reports never
 *    reach it, its reports never reach B
 *  - ipv6_a, ipv6_both: a side reached over IPv6 (A on ::1, B on 127.0.0.1;
 *    then both on ::1) gets its ports bound on ::: RTP and RTCP cross and
 *    latch as over IPv4, the side takes no IPv4 destination and hears nothing
 *    over IPv4; once freed, the ports bind again on both families
 *  - leaks: 30 relays started and stopped (every other one with an IPv6
 *    side): the pool's ports all back, threads back to the warm-up's
 *    baseline, descriptors to it exactly
 * A missing GStreamer element fails sf_media_relay_new(), so nothing is skipped. */
#include "config.h"
#include "media/sf-media-gst.h"
#include "media/sf-media-relay.h"
#include "media-test.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WAIT_MS 2000

static guint port_base;
static GPtrArray *events; /* "event:arg" */

static void
on_event (const char *call, const char *event, const char *arg, gpointer data)
{
  g_ptr_array_add (events, g_strdup_printf ("%s:%s", event, arg != NULL ? arg : ""));
}

static SfMedia *
media_new (void)
{
  g_autoptr (SfConfig) cfg = sf_config_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (sf_media_declare_config (cfg, &error));
  g_autofree char *ports = g_strdup_printf ("media.rtp_ports=%u-%u", port_base, port_base + 99);
  g_assert_true (sf_config_set (cfg, ports, &error));
  SfMedia *m = sf_media_new (cfg, NULL, &error);
  g_assert_nonnull (m);
  sf_media_set_event_func (m, on_event, NULL);
  return m;
}

/* Loopback in the family of @s: where the relay listens for it. */
static const char *
loopback_of (GSocket *s)
{
  return g_socket_get_family (s) == G_SOCKET_FAMILY_IPV6 ? "::1" : "127.0.0.1";
}

/* An RTP packet from @s to our @port on loopback, @tag as payload. */
static void
send_to (GSocket *s, guint port, const char *tag)
{
  gsize n = strlen (tag);
  g_assert_cmpint (mt_send_rtp (s, loopback_of (s), port, 0, 1, 160, 0x11223344, tag, n), ==, (gssize) (12 + n));
}

/* The next packet on @s within @ms whose payload is @tag (others are read and
 * passed over), and the port it came from in *@from; FALSE when none came. */
static gboolean
recv_tag (GSocket *s, const char *tag, guint ms, guint *from)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  while (g_get_monotonic_time () < end) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    char buf[256];
    GSocketAddress *sa = NULL;
    gssize n = g_socket_receive_from (s, &sa, buf, sizeof buf, NULL, NULL);
    if (n < 0) {
      g_usleep (2000);
      continue;
    }
    guint port = sa != NULL ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)) : 0;
    g_clear_object (&sa);
    if (n == (gssize) (12 + strlen (tag)) && memcmp (buf + 12, tag, strlen (tag)) == 0) {
      if (from != NULL)
        *from = port;
      return TRUE;
    }
  }
  return FALSE;
}

/* Sends @tag from @src to @to every 10 ms until @dst receives it (bounded). */
static gboolean
cross (GSocket *src, guint to, GSocket *dst, const char *tag, guint *from)
{
  for (int i = 0; i < WAIT_MS / 20; i++) {
    send_to (src, to, tag);
    if (recv_tag (dst, tag, 20, from))
      return TRUE;
  }
  return FALSE;
}

static gboolean
has_event (const char *want)
{
  for (int i = 0; i < 100; i++) {
    while (g_main_context_iteration (NULL, FALSE))
      ;
    for (guint k = 0; k < events->len; k++)
      if (strcmp (events->pdata[k], want) == 0)
        return TRUE;
    g_usleep (10000);
  }
  return FALSE;
}

static void
latch_any (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_ptr_array_set_size (events, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMediaRelay) r = sf_media_relay_new (m, "c1", &error);
  if (error != NULL)
    printf ("\n%s\n", error->message);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  guint ra = sf_media_relay_port (r, SF_RELAY_A), rb = sf_media_relay_port (r, SF_RELAY_B);
  guint pa, pb, pa_rtcp, pb_rtcp;
  g_autoptr (GSocket) a = mt_sock_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) b = mt_sock_new ("127.0.0.1", &pb);
  g_autoptr (GSocket) a_rtcp = mt_sock_new ("127.0.0.1", &pa_rtcp);
  g_autoptr (GSocket) b_rtcp = mt_sock_new ("127.0.0.1", &pb_rtcp);
  /* A's SDP names port 9 (the discard port: nobody there), B's its real one. */
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "127.0.0.1", 9, &error));
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", pb, &error));
  guint from = 0;
  CU_ASSERT_TRUE (cross (a, ra, b, "a-to-b", &from));
  CU_ASSERT_EQUAL (from, rb); /* RFC 4961: sent from our B port */
  g_autofree char *latched = g_strdup_printf ("latched:a 127.0.0.1:%u", pa);
  CU_ASSERT_TRUE (has_event (latched));
  CU_ASSERT_TRUE (cross (b, rb, a, "b-to-a", &from));
  CU_ASSERT_EQUAL (from, ra);
  /* RTCP latches apart from RTP: A's RTCP is heard (and goes to B's SDP
   * port + 1, where nobody is), then B's reaches A's RTCP socket, then A's
   * reaches B's. */
  send_to (a_rtcp, ra + 1, "rtcp-a0");
  g_autofree char *latched_rtcp = g_strdup_printf ("latched:a 127.0.0.1:%u", pa_rtcp);
  CU_ASSERT_FALSE (has_event (latched_rtcp)); /* told for RTP only */
  CU_ASSERT_TRUE (cross (b_rtcp, rb + 1, a_rtcp, "rtcp-b", &from));
  CU_ASSERT_EQUAL (from, ra + 1);
  CU_ASSERT_TRUE (cross (a_rtcp, ra + 1, b_rtcp, "rtcp-a", &from));
  CU_ASSERT_EQUAL (from, rb + 1);
  SfMediaStats sa, sb;
  sf_media_relay_stats (r, SF_RELAY_A, &sa);
  sf_media_relay_stats (r, SF_RELAY_B, &sb);
  CU_ASSERT (sa.packets_received >= 2 && sa.packets_sent >= 2);
  CU_ASSERT (sb.packets_received >= 2 && sb.packets_sent >= 2);
  CU_ASSERT (sa.bytes_received >= 2 * 18);
}

static void
guard (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_ptr_array_set_size (events, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMediaRelay) r = sf_media_relay_new (m, "c2", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_TRUE (sf_media_relay_set_latch (r, SF_RELAY_LATCH_ANY, 300, 0, &error));
  guint ra = sf_media_relay_port (r, SF_RELAY_A), rb = sf_media_relay_port (r, SF_RELAY_B);
  guint pa, pb, px;
  g_autoptr (GSocket) a = mt_sock_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) b = mt_sock_new ("127.0.0.1", &pb);
  g_autoptr (GSocket) x = mt_sock_new ("127.0.0.1", &px);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", pb, &error));
  CU_ASSERT_TRUE (cross (a, ra, b, "a1", NULL));
  /* The stranger while A talks: nothing of it reaches B; B still reaches A. */
  for (int i = 0; i < 10; i++) {
    send_to (a, ra, "a2");
    send_to (x, ra, "x1");
    g_usleep (10000);
  }
  CU_ASSERT_FALSE (recv_tag (b, "x1", 200, NULL));
  SfMediaStats sa;
  sf_media_relay_stats (r, SF_RELAY_A, &sa);
  CU_ASSERT (sa.packets_lost >= 10);
  CU_ASSERT_TRUE (cross (b, rb, a, "b1", NULL));
  CU_ASSERT_FALSE (recv_tag (x, "b1", 100, NULL));
  /* A silent for more than relatch_ms: the stranger takes its place. */
  g_usleep (400 * 1000);
  CU_ASSERT_TRUE (cross (x, ra, b, "x2", NULL));
  g_autofree char *latched = g_strdup_printf ("latched:a 127.0.0.1:%u", px);
  CU_ASSERT_TRUE (has_event (latched));
  CU_ASSERT_TRUE (cross (b, rb, x, "b2", NULL));
}

static void
sdp_host (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMediaRelay) r = sf_media_relay_new (m, "c3", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_TRUE (sf_media_relay_set_latch (r, SF_RELAY_LATCH_SDP_HOST, 1000, 0, &error));
  guint ra = sf_media_relay_port (r, SF_RELAY_A), rb = sf_media_relay_port (r, SF_RELAY_B);
  guint pa, pb, pw;
  g_autoptr (GSocket) a = mt_sock_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) w = mt_sock_new ("127.0.0.2", &pw); /* another host */
  g_autoptr (GSocket) b = mt_sock_new ("127.0.0.1", &pb);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "127.0.0.1", 9, &error));
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", pb, &error));
  for (int i = 0; i < 10; i++)
    send_to (w, ra, "w1");
  CU_ASSERT_FALSE (recv_tag (b, "w1", 200, NULL));
  CU_ASSERT_TRUE (cross (a, ra, b, "a1", NULL)); /* the SDP's host, another port: latched */
  CU_ASSERT_TRUE (cross (b, rb, a, "b1", NULL));
}

static void
latch_off (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMediaRelay) r = sf_media_relay_new (m, "c4", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_TRUE (sf_media_relay_set_latch (r, SF_RELAY_LATCH_OFF, 1000, 0, &error));
  guint ra = sf_media_relay_port (r, SF_RELAY_A), rb = sf_media_relay_port (r, SF_RELAY_B);
  guint pa, pb, psdp;
  g_autoptr (GSocket) a = mt_sock_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) asdp = mt_sock_new ("127.0.0.1", &psdp); /* where A's SDP points */
  g_autoptr (GSocket) b = mt_sock_new ("127.0.0.1", &pb);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "127.0.0.1", psdp, &error));
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", pb, &error));
  CU_ASSERT_TRUE (cross (a, ra, b, "a1", NULL));
  /* B's packets go to the SDP's port, not to where A sends from. */
  CU_ASSERT_TRUE (cross (b, rb, asdp, "b1", NULL));
  CU_ASSERT_FALSE (recv_tag (a, "b1", 200, NULL));
}

/* An RFC 4733 packet: type @pt, timestamp @ts, event @ev. */
static void
send_event (GSocket *s, guint port, guint pt, guint32 ts, guint8 ev)
{
  const guint8 payload[4] = { ev, 0x0a, 0x00, 0xa0 };
  g_assert_cmpint (mt_send_rtp (s, loopback_of (s), port, pt, 2, ts, 0x11223344, payload, sizeof payload), ==, 16);
}

static guint n_events (const char *want);

static void
dtmf (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_ptr_array_set_size (events, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMediaRelay) r = sf_media_relay_new (m, "c7", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_TRUE (sf_media_relay_set_dtmf (r, SF_RELAY_A, 101, &error));
  guint ra = sf_media_relay_port (r, SF_RELAY_A), rb = sf_media_relay_port (r, SF_RELAY_B);
  guint pa, pb;
  g_autoptr (GSocket) a = mt_sock_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) b = mt_sock_new ("127.0.0.1", &pb);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", pb, &error));
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "127.0.0.1", pa, &error));
  CU_ASSERT_TRUE (cross (a, ra, b, "a1", NULL)); /* latched, B reached */
  for (int i = 0; i < 3; i++)
    send_event (a, ra, 101, 8000, 5); /* one event, three packets */
  send_event (a, ra, 101, 8800, 11);  /* '#' */
  send_event (b, rb, 101, 1000, 3);   /* B's type unknown: not read */
  /* B's next packet crosses: its event went through the same thread before it. */
  CU_ASSERT_TRUE (cross (b, rb, a, "b1", NULL));
  CU_ASSERT_TRUE (has_event ("dtmf:a #"));
  CU_ASSERT_EQUAL (n_events ("dtmf:a 5"), 1);
  CU_ASSERT_EQUAL (n_events ("dtmf:b 3"), 0);
}

/* A new telephone event in every packet (a new timestamp each): each was a
 * post into the main context, as fast as packets came, so a caller could
 * queue them faster than the main loop ran them.  Told at most a burst of 8,
 * then one per 40 ms; every packet still relayed. */
static void
dtmf_flood (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_ptr_array_set_size (events, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMediaRelay) r = sf_media_relay_new (m, "c10", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_TRUE (sf_media_relay_set_dtmf (r, SF_RELAY_A, 101, &error));
  guint ra = sf_media_relay_port (r, SF_RELAY_A);
  guint pa, pb;
  g_autoptr (GSocket) a = mt_sock_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) b = mt_sock_new ("127.0.0.1", &pb);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", pb, &error));
  CU_ASSERT_TRUE (cross (a, ra, b, "a1", NULL));
  gint64 t0 = g_get_monotonic_time ();
  for (guint i = 0; i < 400; i++)
    send_event (a, ra, 101, 1000 + 160 * i, (guint8) (i % 16));
  CU_ASSERT_TRUE (cross (a, ra, b, "a2", NULL)); /* after the flood, in order */
  gint64 ms = (g_get_monotonic_time () - t0) / 1000;
  guint told = 0;
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint k = 0; k < events->len; k++)
    told += g_str_has_prefix (events->pdata[k], "dtmf:a ");
  CU_ASSERT (told >= 1);
  CU_ASSERT (told <= 8 + (guint) (ms / 40) + 1);
  /* (How many reached B depends on the kernel's socket buffers: not counted.) */
}

static guint
n_events (const char *want)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
  guint n = 0;
  for (guint k = 0; k < events->len; k++)
    n += strcmp (events->pdata[k], want) == 0;
  return n;
}

static void
rtp_timeout (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_ptr_array_set_size (events, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMediaRelay) r = sf_media_relay_new (m, "c6", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_TRUE (sf_media_relay_set_latch (r, SF_RELAY_LATCH_ANY, 1000, 300, &error));
  guint ra = sf_media_relay_port (r, SF_RELAY_A);
  guint pa, pb;
  g_autoptr (GSocket) a = mt_sock_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) b = mt_sock_new ("127.0.0.1", &pb);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", pb, &error));
  /* Nothing flowed yet: no timeout however long we wait (0.6 s here). */
  g_usleep (600 * 1000);
  CU_ASSERT_EQUAL (n_events ("rtp_timeout:"), 0);
  CU_ASSERT_TRUE (cross (a, ra, b, "a1", NULL));
  CU_ASSERT_TRUE (has_event ("rtp_timeout:"));
  g_usleep (600 * 1000); /* told once, not every check */
  CU_ASSERT_EQUAL (n_events ("rtp_timeout:"), 1);
}

static void
leaks (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_autoptr (GError) error = NULL;
  sf_media_relay_free (sf_media_relay_new (m, "warm", &error));
  g_usleep (100000);
  guint base = mt_count_dir ("/proc/self/task"), fds = mt_count_dir ("/proc/self/fd");
  for (int i = 0; i < 30; i++) {
    SfMediaRelay *r = sf_media_relay_new_full (m, "c5", i % 2 == 1, FALSE, &error); /* every other: A on IPv6 */
    CU_ASSERT_PTR_NOT_NULL_FATAL (r);
    CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", 9, &error));
    sf_media_relay_free (r);
  }
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 0);
  g_usleep (100000);
  CU_ASSERT (mt_count_dir ("/proc/self/task") <= base + 2); /* GLib's pool may keep two idle workers */
  CU_ASSERT_EQUAL (mt_count_dir ("/proc/self/fd"), fds); /* IPv6 sockets closed too */
}

/* The relay pointed at itself: with latch = off a side takes every source, so
 * an SDP naming one of our own relay ports (A's SDP at our B port: the pool
 * hands ports out in order, so a caller who saw our A port in one answer can
 * guess the B port) made one packet from B go out of our A port to our B
 * port, be taken again, and so on for ever: a loop at full speed from one
 * packet.  Such a destination is refused (an address of ours, a port of the
 * pool), RTP and RTCP alike; one packet in, at most one out. */
/* One relay per family mix: A on ::1 with B on 127.0.0.1, then both on ::1.
 * A's SDP names the discard port; A's packets reach B from our B port, B's
 * reach A at the port A sends from (latched, the event names it), RTCP on
 * port + 1 alike; A's side takes no IPv4 destination.  Once freed, the ports
 * bind again on both families (nothing of the relay's is left on them). */
static void
ipv6_side (gboolean b_v6)
{
  g_autoptr (SfMedia) m = media_new ();
  g_ptr_array_set_size (events, 0);
  g_autoptr (GError) error = NULL;
  SfMediaRelay *r = sf_media_relay_new_full (m, "c9", TRUE, b_v6, &error);
  if (error != NULL)
    printf ("\n%s\n", error->message);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  guint ra = sf_media_relay_port (r, SF_RELAY_A), rb = sf_media_relay_port (r, SF_RELAY_B);
  const char *bhost = b_v6 ? "::1" : "127.0.0.1";
  guint pa, pb, pa_rtcp, pb_rtcp;
  g_autoptr (GSocket) a = mt_sock_new ("::1", &pa);
  g_autoptr (GSocket) b = mt_sock_new (bhost, &pb);
  g_autoptr (GSocket) a_rtcp = mt_sock_new ("::1", &pa_rtcp);
  g_autoptr (GSocket) b_rtcp = mt_sock_new (bhost, &pb_rtcp);
  g_autoptr (GError) e4 = NULL;
  CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_A, "127.0.0.1", pa, &e4));
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "::1", 9, &error));
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, bhost, pb, &error));
  guint from = 0;
  CU_ASSERT_TRUE (cross (a, ra, b, "a-to-b", &from));
  CU_ASSERT_EQUAL (from, rb);
  g_autofree char *latched = g_strdup_printf ("latched:a ::1:%u", pa);
  CU_ASSERT_TRUE (has_event (latched));
  CU_ASSERT_TRUE (cross (b, rb, a, "b-to-a", &from));
  CU_ASSERT_EQUAL (from, ra);
  send_to (a_rtcp, ra + 1, "rtcp-a0");
  CU_ASSERT_TRUE (cross (b_rtcp, rb + 1, a_rtcp, "rtcp-b", &from));
  CU_ASSERT_EQUAL (from, ra + 1);
  CU_ASSERT_TRUE (cross (a_rtcp, ra + 1, b_rtcp, "rtcp-a", &from));
  CU_ASSERT_EQUAL (from, rb + 1);
  /* Nothing reaches A's port over IPv4: the side's sockets are IPv6 only. */
  guint p4;
  g_autoptr (GSocket) four = mt_sock_new ("127.0.0.1", &p4);
  send_to (four, ra, "v4");
  CU_ASSERT_FALSE (recv_tag (b, "v4", 200, NULL));
  sf_media_relay_free (r);
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 0);
  const char *hosts[] = { "127.0.0.1", "::1" };
  for (guint h = 0; h < G_N_ELEMENTS (hosts); h++)
    for (guint k = 0; k < 2; k++) {
      g_autoptr (GInetAddress) ia = g_inet_address_new_from_string (hosts[h]);
      g_autoptr (GSocket) s = g_socket_new (g_inet_address_get_family (ia), G_SOCKET_TYPE_DATAGRAM,
                                            G_SOCKET_PROTOCOL_UDP, NULL);
      g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (ia, (guint16) (k == 0 ? ra : rb));
      CU_ASSERT_TRUE (g_socket_bind (s, sa, FALSE, NULL));
    }
}

static void
ipv6_a (void)
{
  ipv6_side (FALSE);
}

static void
ipv6_both (void)
{
  ipv6_side (TRUE);
}

static void
self_loop (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMediaRelay) r = sf_media_relay_new (m, "c8", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_TRUE (sf_media_relay_set_latch (r, SF_RELAY_LATCH_OFF, 1000, 0, &error));
  guint ra = sf_media_relay_port (r, SF_RELAY_A), rb = sf_media_relay_port (r, SF_RELAY_B);
  guint pb;
  g_autoptr (GSocket) b = mt_sock_new ("127.0.0.1", &pb);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", pb, &error));
  /* Our own ports, RTP or RTCP (an odd SDP port puts RTCP on the next RTP). */
  const guint own[] = { rb, rb + 1, rb - 1, ra, ra + 1 };
  for (guint i = G_N_ELEMENTS (own); i-- > 0;) { /* rb last: the loop's way */
    g_autoptr (GError) e = NULL;
    CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_A, "127.0.0.1", own[i], &e));
    CU_ASSERT_PTR_NOT_NULL (e);
  }
  send_to (b, rb, "loop");
  g_usleep (300000);
  SfMediaStats st;
  sf_media_relay_stats (r, SF_RELAY_A, &st);
  CU_ASSERT (st.packets_sent <= 1);
  sf_media_relay_stats (r, SF_RELAY_B, &st);
  CU_ASSERT (st.packets_received <= 1);
}

/* RTCP latched apart from RTP: a stranger on another host who sent to our
 * RTCP port before A's first report (RTCP comes seconds after RTP, RFC 3550
 * 6.2) was latched and got B's reports, their SDES CNAME (often user@host)
 * included, for the whole call.  Once A's RTP is latched, A's RTCP is taken
 * from A's host only and a stranger's latch is dropped. */
static void
rtcp_stranger (void)
{
  g_autoptr (SfMedia) m = media_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMediaRelay) r = sf_media_relay_new (m, "c9", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  guint ra = sf_media_relay_port (r, SF_RELAY_A), rb = sf_media_relay_port (r, SF_RELAY_B);
  guint pa, pa_rtcp, pb, pb_rtcp, px;
  g_autoptr (GSocket) a = mt_sock_new ("127.0.0.1", &pa);
  g_autoptr (GSocket) a_rtcp = mt_sock_new ("127.0.0.1", &pa_rtcp);
  g_autoptr (GSocket) b = mt_sock_new ("127.0.0.1", &pb);
  g_autoptr (GSocket) b_rtcp = mt_sock_new ("127.0.0.1", &pb_rtcp);
  g_autoptr (GSocket) x = mt_sock_new ("127.0.0.2", &px); /* the stranger, another host */
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "127.0.0.1", 9, &error));
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", pb, &error));
  /* The stranger first, on RTCP: latched (nothing of A's is known yet). */
  for (int i = 0; i < 5; i++)
    send_to (x, ra + 1, "x-rtcp");
  SfMediaStats st;
  for (int i = 0; i < 100 && (sf_media_relay_stats (r, SF_RELAY_A, &st), st.packets_received < 5); i++)
    g_usleep (10000);
  CU_ASSERT_EQUAL (st.packets_received, 5);
  CU_ASSERT_TRUE (cross (a, ra, b, "a-rtp", NULL)); /* A's RTP: latched */
  /* B's reports: never to the stranger; to A once A's RTCP is heard. */
  for (int i = 0; i < 5; i++)
    send_to (b_rtcp, rb + 1, "b-rtcp1");
  CU_ASSERT_FALSE (recv_tag (x, "b-rtcp1", 200, NULL));
  for (int i = 0; i < 5; i++)
    send_to (x, ra + 1, "x-rtcp2");
  CU_ASSERT_FALSE (recv_tag (b_rtcp, "x-rtcp2", 200, NULL));
  CU_ASSERT_TRUE (cross (a_rtcp, ra + 1, b_rtcp, "a-rtcp", NULL));
  CU_ASSERT_TRUE (cross (b_rtcp, rb + 1, a_rtcp, "b-rtcp2", NULL));
  CU_ASSERT_FALSE (recv_tag (x, "b-rtcp2", 100, NULL));
}

int
main (int argc, char **argv)
{
  port_base = 2 * (guint) g_random_int_range (10000, 29500);
  events = g_ptr_array_new_with_free_func (g_free);
  static const MtTest tests[] = {
    { "latch_any", latch_any }, { "guard", guard }, { "sdp_host", sdp_host }, { "latch_off", latch_off },
    { "dtmf", dtmf }, { "dtmf_flood", dtmf_flood }, { "rtp_timeout", rtp_timeout }, { "self_loop", self_loop },
    { "rtcp_stranger", rtcp_stranger }, { "ipv6_a", ipv6_a }, { "ipv6_both", ipv6_both }, { "leaks", leaks },
    { NULL, NULL },
  };
  int rc = mt_main (argc, argv, "relay-gst", tests, "relay", port_base, port_base + 99);
  g_ptr_array_unref (events);
  return rc;
}
