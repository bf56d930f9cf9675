/* test-media.c: the media interface (media/sf-media.c).
 *  - config_defaults: [media] declared with backend gstreamer, tone:1000, none,
 *    40000-40999 (500 RTP ports), PCMU,PCMA,opus
 *  - config_accepted: each form of source, sink, rtp_ports and codecs
 *  - config_refused: each bad value gives SF_CONFIG_ERROR_BAD_VALUE naming the
 *    source, media.KEY, the expected form and the value, as sf-config.c does
 *  - ports: even ports (RTP, RTCP on +1: RFC 3550 11) within the range, none twice,
 *    0 when all are taken, a freed port handed out again
 *  - null_backend: start/update/dtmf/stats/stop count and succeed, the active
 *    stream count follows, bad DTMF digits (RFC 4733 events) are refused before the
 *    backend, sf_media_free stops what is left
 *  - custom_backend: another vtable is called through the same interface; a
 *    failing start leaves no stream
 *  - backend_key: media.backend picks the backend when none is given (gstreamer
 *    by default, null), an explicit one wins, another value is refused
 *  - ports_taken: with a real backend a port whose RTP or RTCP port another
 *    socket holds is passed over; the null backend does not look
 *  - events: sf_media_emit reaches the function set, with the call and argument;
 *    without one, nothing happens
 *  - relay_null: a B2BUA's relay (media/sf-media-relay.c) takes two port pairs
 *    (side A, side B), gives them back when freed; the backend is told of each
 *    new SDP peer and not of the same one again (a refresh keeps the latch); a
 *    hold (0.0.0.0, RFC 3264 8.4) means no destination; names, IPv6 (on an
 *    IPv4 side) and bad ports refused; the telephone-event type told once, -1..127 only; no two pairs left, or a backend without relay entries: an
 *    error and no port kept
 *  - relay_null_v6: a side made IPv6 (sf_media_relay_new_full) takes IPv6
 *    destinations only, never IPv4-mapped or -compatible ones; :: is a hold;
 *    ::1 and the interfaces' IPv6 addresses are this host's (deny_local); the
 *    other side stays IPv4
 *  - relay_latch: the latching rule: any latches on the first source and drops
 *    others while it talks, another source takes over only after relatch_ms of
 *    silence (the guard against RTP bleed); sdp_host latches only on the SDP's
 *    host; off takes every packet and latches nothing
 *  - relay_no_backend: a backend without relay entries: an error naming it,
 *    no port kept */
#include "config.h"
#include "sf-test.h"
#include "media/sf-media.h"
#include "media/sf-media-gst.h"
#include "media/sf-media-relay.h"
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>

static SfConfig *
media_cfg (void)
{
  SfConfig *cfg = sf_config_new ();
  g_autoptr (GError) error = NULL;
  if (!sf_media_declare_config (cfg, &error))
    g_error ("%s", error->message);
  return cfg;
}

/* sf_media_new (null backend) after --set @assignment ("media.KEY=VALUE"). */
static SfMedia *
media_with (const char *assignment, GError **error)
{
  g_autoptr (SfConfig) cfg = media_cfg ();
  if (!sf_config_set (cfg, assignment, error))
    return NULL;
  return sf_media_new (cfg, sf_media_null_backend (), error);
}

static void
config_defaults (void)
{
  g_autoptr (SfConfig) cfg = media_cfg ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMedia) m = sf_media_new (cfg, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  guint hz = 0;
  const char *path = "x";
  CU_ASSERT_EQUAL (sf_media_source (m, &hz, &path), SF_MEDIA_SOURCE_TONE);
  CU_ASSERT_EQUAL (hz, 1000);
  CU_ASSERT_PTR_NULL (path);
  CU_ASSERT_EQUAL (sf_media_sink (m, NULL), SF_MEDIA_SINK_NONE);
  CU_ASSERT_EQUAL (sf_media_port_capacity (m), 500);
  const char *const *codecs = sf_media_codecs (m);
  CU_ASSERT_EQUAL_FATAL (g_strv_length ((char **) codecs), 3);
  CU_ASSERT_STRING_EQUAL (codecs[0], "PCMU");
  CU_ASSERT_STRING_EQUAL (codecs[1], "PCMA");
  CU_ASSERT_STRING_EQUAL (codecs[2], "opus");
  CU_ASSERT_PTR_EQUAL (sf_media_backend (m), sf_media_gst_backend ());
  CU_ASSERT_STRING_EQUAL (sf_media_backend (m)->name, "gstreamer");
  /* The codecs feed an SDP session as they are. */
  g_autoptr (SfSdpSession) s = sf_sdp_session_new ("127.0.0.1", sf_media_port_alloc (m), codecs, &error);
  CU_ASSERT_PTR_NOT_NULL (s);
}

static void
config_accepted (void)
{
  g_autoptr (GError) error = NULL;
  guint hz = 0;
  const char *path = NULL;
  g_autoptr (SfMedia) m1 = media_with ("media.source=silence", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m1);
  CU_ASSERT_EQUAL (sf_media_source (m1, NULL, NULL), SF_MEDIA_SOURCE_SILENCE);
  g_autoptr (SfMedia) m2 = media_with ("media.source=tone:1", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m2);
  CU_ASSERT_EQUAL (sf_media_source (m2, &hz, NULL), SF_MEDIA_SOURCE_TONE);
  CU_ASSERT_EQUAL (hz, 1);
  g_autoptr (SfMedia) m3 = media_with ("media.source=tone:20000", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m3);
  g_autoptr (SfMedia) m4 = media_with ("media.source=file:/tmp/prompts/hello.WAV", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m4);
  CU_ASSERT_EQUAL (sf_media_source (m4, NULL, &path), SF_MEDIA_SOURCE_FILE);
  CU_ASSERT_STRING_EQUAL (path, "/tmp/prompts/hello.WAV");
  g_autoptr (SfMedia) m5 = media_with ("media.sink=sound", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m5);
  CU_ASSERT_EQUAL (sf_media_sink (m5, NULL), SF_MEDIA_SINK_SOUND);
  g_autoptr (SfMedia) m6 = media_with ("media.sink=file:out.wav", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m6);
  CU_ASSERT_EQUAL (sf_media_sink (m6, &path), SF_MEDIA_SINK_FILE);
  CU_ASSERT_STRING_EQUAL (path, "out.wav");
  /* The smallest range: one RTP port and its RTCP port. */
  g_autoptr (SfMedia) m7 = media_with ("media.rtp_ports=1024-1025", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m7);
  CU_ASSERT_EQUAL (sf_media_port_capacity (m7), 1);
  /* 50010 would need RTCP on 50011: five ports, 50000 to 50008. */
  g_autoptr (SfMedia) m8 = media_with ("media.rtp_ports=50000-50010", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m8);
  CU_ASSERT_EQUAL (sf_media_port_capacity (m8), 5);
  g_autoptr (SfMedia) m9 = media_with ("media.rtp_ports=64000-65535", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m9);
  CU_ASSERT_EQUAL (sf_media_port_capacity (m9), 768);
  /* Codecs: case-insensitive, kept in order, written our way. */
  g_autoptr (SfMedia) m10 = media_with ("media.codecs=OPUS, pcmu", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m10);
  const char *const *c = sf_media_codecs (m10);
  CU_ASSERT_EQUAL_FATAL (g_strv_length ((char **) c), 2);
  CU_ASSERT_STRING_EQUAL (c[0], "opus");
  CU_ASSERT_STRING_EQUAL (c[1], "PCMU");
  /* From a file. */
  g_autoptr (SfConfig) cfg = media_cfg ();
  CU_ASSERT_TRUE (sf_config_load_data (cfg, "[media]\nsource = silence\nsink = none\nrtp_ports = 20000-20099\n"
                                            "codecs = PCMA\n", "bob.ini", &error));
  g_autoptr (SfMedia) m11 = sf_media_new (cfg, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m11);
  CU_ASSERT_EQUAL (sf_media_port_capacity (m11), 50);
  CU_ASSERT_STRING_EQUAL (sf_media_codecs (m11)[0], "PCMA");
}

static void
config_refused (void)
{
  static const char source_want[] = "expected tone:HZ with HZ from 1 to 20000, file:PATH.wav or silence";
  static const char sink_want[] = "expected file:PATH.wav, none or sound";
  static const char ports_want[] = "expected LOW-HIGH with 1024 <= LOW < HIGH <= 65535 and LOW even";
  static const char codecs_want[] = "expected a list of PCMU, PCMA and opus, each at most once";
  static const struct { const char *key, *value, *want; } cases[] = {
    { "source", "tone:0", source_want },
    { "source", "tone:20001", source_want },
    { "source", "tone:", source_want },
    { "source", "tone:1k", source_want },
    { "source", "tone:-5", source_want },
    { "source", "file:", source_want },
    { "source", "file:.wav", source_want },
    { "source", "file:hello.mp3", source_want },
    { "source", "noise", source_want },
    { "source", "", source_want },
    { "sink", "file:out.mp3", sink_want },
    { "sink", "speaker", sink_want },
    { "sink", "", sink_want },
    { "rtp_ports", "40001-40999", ports_want },
    { "rtp_ports", "1000-2000", ports_want },
    { "rtp_ports", "40000-40000", ports_want },
    { "rtp_ports", "40000-39000", ports_want },
    { "rtp_ports", "40000-70000", ports_want },
    { "rtp_ports", "40000", ports_want },
    { "rtp_ports", "a-b", ports_want },
    { "rtp_ports", "-", ports_want },
    { "rtp_ports", "40000-", ports_want },
    { "rtp_ports", " 40000-40010", ports_want },
    { "codecs", "G729", codecs_want },
    { "codecs", "PCMU,telephone-event", codecs_want },
    { "codecs", "", codecs_want },
    { "codecs", "PCMU,pcmu", codecs_want },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *a = g_strdup_printf ("media.%s=%s", cases[i].key, cases[i].value);
    g_autoptr (GError) error = NULL;
    g_autoptr (SfMedia) m = media_with (a, &error);
    CU_ASSERT_PTR_NULL (m);
    CU_ASSERT_TRUE_FATAL (error != NULL);
    g_autofree char *expect = g_strdup_printf ("--set: media.%s: %s, got '%s'", cases[i].key, cases[i].want,
                                               cases[i].value);
    CU_ASSERT (g_error_matches (error, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE));
    if (strcmp (error->message, expect) != 0)
      g_printerr ("expected \"%s\", got \"%s\"\n", expect, error->message);
    CU_ASSERT_STRING_EQUAL (error->message, expect);
  }
  /* The source named is where the value came from. */
  g_autoptr (SfConfig) cfg = media_cfg ();
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE (sf_config_load_data (cfg, "[media]\nrtp_ports = 40001-40999\n", "alice.ini", NULL));
  CU_ASSERT_PTR_NULL (sf_media_new (cfg, NULL, &error));
  CU_ASSERT_TRUE (error != NULL && g_str_has_prefix (error->message, "alice.ini: media.rtp_ports: expected"));
  /* Unknown keys are the configuration's to refuse. */
  g_autoptr (GError) e2 = NULL;
  CU_ASSERT_FALSE (sf_config_set (cfg, "media.volume=11", &e2));
  CU_ASSERT (g_error_matches (e2, SF_CONFIG_ERROR, SF_CONFIG_ERROR_UNKNOWN_KEY));
  /* Declared once. */
  g_autoptr (GError) e3 = NULL;
  CU_ASSERT_FALSE (sf_media_declare_config (cfg, &e3));
  CU_ASSERT (g_error_matches (e3, SF_CONFIG_ERROR, SF_CONFIG_ERROR_DUPLICATE));
}

static void
ports (void)
{
  g_autoptr (SfMedia) m = media_with ("media.rtp_ports=40000-40009", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_EQUAL (sf_media_port_capacity (m), 5);
  guint got[5];
  for (int i = 0; i < 5; i++) {
    got[i] = sf_media_port_alloc (m);
    CU_ASSERT_TRUE (got[i] >= 40000 && got[i] + 1 <= 40009);
    CU_ASSERT_EQUAL (got[i] % 2, 0);
    for (int k = 0; k < i; k++)
      CU_ASSERT_NOT_EQUAL (got[i], got[k]);
  }
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 5);
  /* Exhausted. */
  CU_ASSERT_EQUAL (sf_media_port_alloc (m), 0);
  CU_ASSERT_EQUAL (sf_media_port_alloc (m), 0);
  /* A freed port comes back, and only it. */
  sf_media_port_free (m, 40004);
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 4);
  CU_ASSERT_EQUAL (sf_media_port_alloc (m), 40004);
  CU_ASSERT_EQUAL (sf_media_port_alloc (m), 0);
  /* Round robin: a freed port is handed out after the ports not used lately. */
  sf_media_port_free (m, 40000);
  sf_media_port_free (m, 40008);
  guint a = sf_media_port_alloc (m), b = sf_media_port_alloc (m);
  CU_ASSERT_TRUE ((a == 40000 && b == 40008) || (a == 40008 && b == 40000));
  CU_ASSERT_EQUAL (sf_media_port_alloc (m), 0);
  for (int i = 0; i < 5; i++)
    sf_media_port_free (m, 40000 + 2 * i);
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 0);
  /* A long run of calls never hands out a port twice. */
  GHashTable *live = g_hash_table_new (NULL, NULL);
  GRand *rand = g_rand_new_with_seed (3550);
  for (int i = 0; i < 1000; i++) {
    if (g_rand_boolean (rand) && g_hash_table_size (live) > 0) {
      GHashTableIter it;
      gpointer key;
      g_hash_table_iter_init (&it, live);
      g_hash_table_iter_next (&it, &key, NULL);
      sf_media_port_free (m, GPOINTER_TO_UINT (key));
      g_hash_table_remove (live, key);
    } else {
      guint p = sf_media_port_alloc (m);
      if (p == 0) {
        CU_ASSERT_EQUAL (g_hash_table_size (live), 5);
      } else {
        CU_ASSERT_FALSE (g_hash_table_contains (live, GUINT_TO_POINTER (p)));
        g_hash_table_add (live, GUINT_TO_POINTER (p));
      }
    }
    CU_ASSERT_EQUAL (sf_media_ports_in_use (m), g_hash_table_size (live));
  }
  g_rand_free (rand);
  g_hash_table_unref (live);
}

/* A negotiated stream as the operators get it: an answer to a PCMU offer. */
static void
negotiate (SfSdpMedia *neg, SfSdpDir want)
{
  static const char *const codecs[] = { "PCMU", NULL };
  g_autoptr (SfSdpSession) s = sf_sdp_session_new ("127.0.0.1", 40000, codecs, NULL);
  static const char offer[] = "v=0\r\no=a 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\n"
                              "m=audio 40100 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
  g_autofree char *answer = sf_sdp_session_answer (s, offer, strlen (offer), want, neg, NULL);
  g_assert (answer != NULL);
}

static void
null_backend (void)
{
  g_autoptr (SfConfig) cfg = media_cfg ();
  SfMedia *m = sf_media_new (cfg, sf_media_null_backend (), NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  g_auto (SfSdpMedia) neg = { 0 };
  negotiate (&neg, SF_SDP_SENDRECV);
  CU_ASSERT_EQUAL (sf_media_active_streams (m), 0);
  g_autoptr (GError) error = NULL;
  SfMediaStream *st = sf_media_start (m, "call-1", &neg, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (st);
  CU_ASSERT_EQUAL (sf_media_active_streams (m), 1);
  CU_ASSERT_STRING_EQUAL (sf_media_stream_call (st), "call-1");
  CU_ASSERT_EQUAL (sf_media_null_dir (st), SF_SDP_SENDRECV);
  /* Hold, then resume. */
  g_auto (SfSdpMedia) held = { 0 };
  negotiate (&held, SF_SDP_SENDONLY);
  CU_ASSERT_TRUE (sf_media_update (st, &held, &error));
  CU_ASSERT_EQUAL (sf_media_null_dir (st), SF_SDP_SENDONLY);
  CU_ASSERT_TRUE (sf_media_update (st, &neg, &error));
  CU_ASSERT_EQUAL (sf_media_null_updates (st), 2);
  CU_ASSERT_EQUAL (sf_media_null_dir (st), SF_SDP_SENDRECV);
  /* DTMF: counted digits; bad digits refused before the backend. */
  CU_ASSERT_TRUE (sf_media_dtmf (st, "123#", &error));
  CU_ASSERT_TRUE (sf_media_dtmf (st, "*0AbcD", &error));
  CU_ASSERT_EQUAL (sf_media_null_dtmf_sent (st), 10);
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL;
  CU_ASSERT_FALSE (sf_media_dtmf (st, "12x", &e1));
  CU_ASSERT (g_error_matches (e1, SF_MEDIA_ERROR, SF_MEDIA_ERROR_BAD_DIGITS));
  CU_ASSERT_TRUE (e1 != NULL && strstr (e1->message, "'x' at 3") != NULL);
  CU_ASSERT_FALSE (sf_media_dtmf (st, "", &e2));
  CU_ASSERT (g_error_matches (e2, SF_MEDIA_ERROR, SF_MEDIA_ERROR_BAD_DIGITS));
  g_autofree char *many = g_strnfill (65, '1');
  CU_ASSERT_FALSE (sf_media_dtmf (st, many, &e3));
  CU_ASSERT_EQUAL (sf_media_null_dtmf_sent (st), 10);
  /* Play: the path checked (PATH.wav, a file there), then counted. */
  g_autofree char *wav = g_build_filename (g_get_tmp_dir (), "sf-test-play-null.wav", NULL);
  g_file_set_contents (wav, "RIFF", 4, NULL);
  CU_ASSERT_EQUAL (sf_media_null_plays (st), 0);
  CU_ASSERT_TRUE (sf_media_play (st, wav, &error));
  CU_ASSERT_TRUE (sf_media_play (st, wav, &error));
  CU_ASSERT_EQUAL (sf_media_null_plays (st), 2);
  CU_ASSERT_STRING_EQUAL (sf_media_null_played (st), wav);
  g_autoptr (GError) p1 = NULL, p2 = NULL, p3 = NULL;
  CU_ASSERT_FALSE (sf_media_play (st, "prompt.mp3", &p1));
  CU_ASSERT_TRUE (p1 != NULL && strstr (p1->message, "expected PATH.wav") != NULL);
  CU_ASSERT_FALSE (sf_media_play (st, "/nonexistent/prompt.wav", &p2));
  CU_ASSERT_TRUE (p2 != NULL && strstr (p2->message, "no such file") != NULL);
  g_autofree char *as = g_strnfill (SF_MEDIA_MAX_PATH, 'a');
  g_autofree char *long_path = g_strdup_printf ("/%s.wav", as);
  CU_ASSERT_FALSE (sf_media_play (st, long_path, &p3));
  CU_ASSERT_EQUAL (sf_media_null_plays (st), 2);
  g_unlink (wav);
  /* Stats: zeros. */
  SfMediaStats stats;
  memset (&stats, 0xff, sizeof stats);
  sf_media_stats (st, &stats);
  CU_ASSERT_EQUAL (stats.packets_sent, 0);
  CU_ASSERT_EQUAL (stats.bytes_received, 0);
  CU_ASSERT_EQUAL (stats.packets_lost, 0);
  CU_ASSERT_DOUBLE_EQUAL (stats.jitter_ms, 0.0, 1e-9);
  g_autofree char *json = sf_media_stats_json (&stats);
  CU_ASSERT_STRING_EQUAL (json, "{\"packets_sent\":0,\"packets_received\":0,\"bytes_sent\":0,\"bytes_received\":0,"
                                "\"packets_lost\":0,\"jitter_ms\":0.000}");
  SfMediaStats some = { 10, 9, 1600, 1440, 1, 2.5 };
  g_autofree char *json2 = sf_media_stats_json (&some);
  CU_ASSERT_STRING_EQUAL (json2, "{\"packets_sent\":10,\"packets_received\":9,\"bytes_sent\":1600,"
                                 "\"bytes_received\":1440,\"packets_lost\":1,\"jitter_ms\":2.500}");
  /* A second call; stop the first; free with the second still running. */
  SfMediaStream *st2 = sf_media_start (m, "call-2", &neg, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (st2);
  CU_ASSERT_EQUAL (sf_media_active_streams (m), 2);
  CU_ASSERT_EQUAL (sf_media_null_dtmf_sent (st2), 0);
  sf_media_stop (st);
  CU_ASSERT_EQUAL (sf_media_active_streams (m), 1);
  CU_ASSERT_STRING_EQUAL (sf_media_stream_call (st2), "call-2");
  /* A rejected stream can be started too (no media flows). */
  g_auto (SfSdpMedia) off = { 0 };
  sf_sdp_media_clear (&off);
  SfMediaStream *st3 = sf_media_start (m, "call-3", &off, &error);
  CU_ASSERT_PTR_NOT_NULL (st3);
  CU_ASSERT_EQUAL (sf_media_null_dir (st3), SF_SDP_INACTIVE);
  CU_ASSERT_EQUAL (sf_media_active_streams (m), 2);
  sf_media_free (m); /* stops call-2 and call-3 */
}

/* A backend that refuses to start streams to port 9 and counts what it does. */
static guint custom_starts, custom_stops;

static gpointer
custom_start (SfMedia *m, const char *call, const SfSdpMedia *neg, GError **error)
{
  if (neg->remote_port == 9) {
    g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "discard port");
    return NULL;
  }
  custom_starts++;
  return g_strdup (call);
}

static gboolean
custom_update (gpointer stream, const SfSdpMedia *neg, GError **error)
{
  g_set_error (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED, "no updates for %s", (const char *) stream);
  return FALSE;
}

static gboolean
custom_dtmf (gpointer stream, const char *digits, GError **error)
{
  return TRUE;
}

static void
custom_stats (gpointer stream, SfMediaStats *out)
{
  out->packets_sent = 42;
}

static void
custom_stop (gpointer stream)
{
  custom_stops++;
  g_free (stream);
}

/* No play hook: sf_media_play() refuses. */
static const SfMediaBackend custom = { "custom", custom_start,  custom_update, custom_dtmf,
                                       custom_stats, custom_stop, NULL, NULL, NULL, NULL, NULL };

static void
custom_backend (void)
{
  g_autoptr (SfConfig) cfg = media_cfg ();
  g_autoptr (SfMedia) m = sf_media_new (cfg, &custom, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_STRING_EQUAL (sf_media_backend (m)->name, "custom");
  g_auto (SfSdpMedia) neg = { 0 };
  negotiate (&neg, SF_SDP_SENDRECV);
  neg.remote_port = 9;
  g_autoptr (GError) e1 = NULL;
  CU_ASSERT_PTR_NULL (sf_media_start (m, "c1", &neg, &e1));
  CU_ASSERT (g_error_matches (e1, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED));
  CU_ASSERT_EQUAL (sf_media_active_streams (m), 0);
  neg.remote_port = 40100;
  SfMediaStream *st = sf_media_start (m, "c2", &neg, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (st);
  CU_ASSERT_EQUAL (custom_starts, 1);
  g_autoptr (GError) e2 = NULL;
  CU_ASSERT_FALSE (sf_media_update (st, &neg, &e2));
  CU_ASSERT_TRUE (e2 != NULL && strcmp (e2->message, "no updates for c2") == 0);
  SfMediaStats stats;
  sf_media_stats (st, &stats);
  CU_ASSERT_EQUAL (stats.packets_sent, 42);
  CU_ASSERT_EQUAL (stats.packets_received, 0);
  CU_ASSERT_EQUAL (sf_media_null_dtmf_sent (st), 0); /* not a null stream */
  g_autofree char *wav = g_build_filename (g_get_tmp_dir (), "sf-test-play-custom.wav", NULL);
  g_file_set_contents (wav, "RIFF", 4, NULL);
  g_autoptr (GError) e3 = NULL;
  CU_ASSERT_FALSE (sf_media_play (st, wav, &e3));
  CU_ASSERT_TRUE (e3 != NULL && strstr (e3->message, "the custom backend plays no file") != NULL);
  g_unlink (wav);
  sf_media_stop (st);
  CU_ASSERT_EQUAL (custom_stops, 1);
  CU_ASSERT_EQUAL (sf_media_active_streams (m), 0);
}

static void
backend_key (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfConfig) cfg = media_cfg ();
  g_autoptr (SfMedia) m1 = sf_media_new (cfg, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m1);
  CU_ASSERT_STRING_EQUAL (sf_media_backend (m1)->name, "gstreamer");
  CU_ASSERT_TRUE (sf_config_set (cfg, "media.backend=null", &error));
  g_autoptr (SfMedia) m2 = sf_media_new (cfg, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m2);
  CU_ASSERT_PTR_EQUAL (sf_media_backend (m2), sf_media_null_backend ());
  /* A backend given wins over the key. */
  g_autoptr (SfMedia) m3 = sf_media_new (cfg, sf_media_gst_backend (), &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m3);
  CU_ASSERT_PTR_EQUAL (sf_media_backend (m3), sf_media_gst_backend ());
  g_autoptr (GError) e2 = NULL;
  CU_ASSERT_FALSE (sf_config_set (cfg, "media.backend=alsa", &e2));
  CU_ASSERT (g_error_matches (e2, SF_CONFIG_ERROR, SF_CONFIG_ERROR_BAD_VALUE));
}

/* A UDP socket bound on 0.0.0.0:@port (NULL if the port is in use). */
static GSocket *
hold_port (guint port)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (any, (guint16) port);
  if (s != NULL && !g_socket_bind (s, addr, FALSE, NULL))
    g_clear_object (&s);
  return s;
}

static void
ports_taken (void)
{
  /* A free port pair P, P + 1 and the pair after it, somewhere high. */
  guint low = 0;
  for (int tries = 0; tries < 50 && low == 0; tries++) {
    guint p = 2 * (guint) g_random_int_range (15000, 30000);
    g_autoptr (GSocket) a = hold_port (p), b = hold_port (p + 1), c = hold_port (p + 2), d = hold_port (p + 3);
    if (a != NULL && b != NULL && c != NULL && d != NULL)
      low = p;
  }
  CU_ASSERT_FATAL (low != 0);
  g_autofree char *range = g_strdup_printf ("media.rtp_ports=%u-%u", low, low + 3);
  g_autoptr (SfConfig) cfg = media_cfg ();
  CU_ASSERT_TRUE_FATAL (sf_config_set (cfg, range, NULL));
  g_autoptr (SfMedia) real = sf_media_new (cfg, sf_media_gst_backend (), NULL);
  g_autoptr (SfMedia) null = sf_media_new (cfg, sf_media_null_backend (), NULL);
  CU_ASSERT_FATAL (real != NULL && null != NULL);
  /* Another socket holds the first pair's RTCP port. */
  g_autoptr (GSocket) rtcp = hold_port (low + 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL (rtcp);
  CU_ASSERT_EQUAL (sf_media_port_alloc (real), low + 2);
  CU_ASSERT_EQUAL (sf_media_port_alloc (real), 0);
  CU_ASSERT_EQUAL (sf_media_port_alloc (null), low);
  g_socket_close (rtcp, NULL);
  CU_ASSERT_EQUAL (sf_media_port_alloc (real), low);
  sf_media_port_free (real, low);
  sf_media_port_free (real, low + 2);
  sf_media_port_free (null, low);
  CU_ASSERT_EQUAL (sf_media_ports_in_use (real), 0);
}

static GPtrArray *heard;

static void
on_media_event (const char *call, const char *event, const char *arg, gpointer data)
{
  g_ptr_array_add (heard, g_strdup_printf ("%s %s %s %s", call, event, arg != NULL ? arg : "-", (char *) data));
}

static void
events (void)
{
  heard = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SfMedia) m = media_with ("media.source=silence", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  sf_media_emit (m, "c0", "dtmf", "1"); /* no function: dropped */
  sf_media_set_event_func (m, on_media_event, "x");
  sf_media_emit (m, "c1", "dtmf", "#");
  sf_media_emit (m, "c2", "rtp_timeout", NULL);
  sf_media_emit (m, "c1", "media_error", "udpsrc: boom");
  sf_media_set_event_func (m, NULL, NULL);
  sf_media_emit (m, "c3", "dtmf", "2");
  CU_ASSERT_EQUAL_FATAL (heard->len, 3);
  CU_ASSERT_STRING_EQUAL (heard->pdata[0], "c1 dtmf # x");
  CU_ASSERT_STRING_EQUAL (heard->pdata[1], "c2 rtp_timeout - x");
  CU_ASSERT_STRING_EQUAL (heard->pdata[2], "c1 media_error udpsrc: boom x");
  g_clear_pointer (&heard, g_ptr_array_unref);
}

static void
relay_null (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMedia) m = media_with ("media.rtp_ports=41000-41007", &error); /* four pairs */
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  SfMediaRelay *r = sf_media_relay_new (m, "c1", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_EQUAL (sf_media_null_relays (m), 1);
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 2);
  guint a = sf_media_relay_port (r, SF_RELAY_A), b = sf_media_relay_port (r, SF_RELAY_B);
  CU_ASSERT (a >= 41000 && a <= 41006 && a % 2 == 0);
  CU_ASSERT (b >= 41000 && b <= 41006 && b % 2 == 0);
  CU_ASSERT_NOT_EQUAL (a, b);
  /* Peers from the SDPs: each new one told, the same one again not. */
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "192.0.2.1", 49170, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 1);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "192.0.2.1", 49170, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 1);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "198.51.100.7", 5004, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 2);
  /* Hold: 0.0.0.0 is no destination, like none, and told once. */
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "0.0.0.0", 5004, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 3);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, NULL, 0, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 3);
  /* Multicast and broadcast too: one packet to the relay would reach every
   * host of a group or of our segment (an SDP is the caller's to write). */
  const char *bad[] = { "example.com", "2001:db8::1", "192.0.2.1 ", "1.2.3.4.5", "", "224.0.0.1", "239.255.255.250",
                        "255.255.255.255" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) e = NULL;
    CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_A, bad[i], 5004, &e));
    CU_ASSERT_TRUE (g_error_matches (e, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED));
    CU_ASSERT (e != NULL && strstr (e->message, "c1: relay: ") != NULL);
  }
  g_autoptr (GError) e2 = NULL;
  CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_A, "192.0.2.1", 65536, &e2));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 3);
  g_autoptr (GError) e3 = NULL;
  CU_ASSERT_FALSE (sf_media_relay_set_latch (r, SF_RELAY_LATCH_ANY, 0, 0, &e3));
  CU_ASSERT_TRUE (sf_media_relay_set_latch (r, SF_RELAY_LATCH_SDP_HOST, 500, 5000, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 4);
  /* The telephone-event type each side sends: told once, checked. */
  CU_ASSERT_TRUE (sf_media_relay_set_dtmf (r, SF_RELAY_A, 101, &error));
  CU_ASSERT_TRUE (sf_media_relay_set_dtmf (r, SF_RELAY_A, 101, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 5);
  g_autoptr (GError) e5 = NULL;
  CU_ASSERT_FALSE (sf_media_relay_set_dtmf (r, SF_RELAY_B, 128, &e5));
  g_autoptr (GError) e6 = NULL;
  CU_ASSERT_FALSE (sf_media_relay_set_dtmf (r, SF_RELAY_B, -2, &e6));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 5);
  /* A side that may not name this host: loopback refused for it, not for the other. */
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "127.0.0.1", 5004, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 6);
  sf_media_relay_deny_local (r, SF_RELAY_A, TRUE);
  const char *local[] = { "127.0.0.1", "127.9.9.9" };
  for (gsize i = 0; i < G_N_ELEMENTS (local); i++) {
    g_autoptr (GError) e = NULL;
    CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_A, local[i], 11211, &e));
    CU_ASSERT (e != NULL && strstr (e->message, "an address of this host") != NULL);
  }
  /* An interface's own address too (loopback's is there at least). */
  struct ifaddrs *ifs = NULL;
  CU_ASSERT_EQUAL_FATAL (getifaddrs (&ifs), 0);
  guint own = 0;
  for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next)
    if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET) {
      char text[INET_ADDRSTRLEN];
      inet_ntop (AF_INET, &((const struct sockaddr_in *) (gconstpointer) i->ifa_addr)->sin_addr, text, sizeof text);
      g_autoptr (GError) e = NULL;
      CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_A, text, 11211, &e));
      own++;
    }
  freeifaddrs (ifs);
  CU_ASSERT (own >= 1);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "192.0.2.1", 49170, &error));
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "127.0.0.1", 5004, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 8);
  SfMediaStats st;
  sf_media_relay_stats (r, SF_RELAY_A, &st);
  CU_ASSERT_EQUAL (st.packets_received, 0);
  g_autofree char *json = sf_media_relay_stats_json (r);
  CU_ASSERT_PTR_NOT_NULL (strstr (json, "{\"a\":{\"packets_sent\":0,"));
  CU_ASSERT_PTR_NOT_NULL (strstr (json, "},\"b\":{\"packets_sent\":0,"));
  /* A second relay takes the last two pairs; a third finds one free pair
   * only and keeps nothing. */
  SfMediaRelay *r2 = sf_media_relay_new (m, "c2", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r2);
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 4);
  sf_media_relay_free (r);
  guint lone = sf_media_port_alloc (m);
  CU_ASSERT_NOT_EQUAL (lone, 0);
  g_autoptr (GError) e4 = NULL;
  CU_ASSERT_PTR_NULL (sf_media_relay_new (m, "c3", &e4));
  CU_ASSERT (e4 != NULL && strstr (e4->message, "no two RTP port pairs") != NULL);
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 3);
  CU_ASSERT_EQUAL (sf_media_null_relays (m), 1);
  sf_media_relay_free (r2);
  sf_media_port_free (m, lone);
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 0);
  CU_ASSERT_EQUAL (sf_media_null_relays (m), 0);
  sf_media_relay_free (NULL);
}

static gpointer
plain_start (SfMedia *m, const char *call, const SfSdpMedia *neg, GError **error)
{
  return m;
}
static gboolean
plain_update (gpointer s, const SfSdpMedia *neg, GError **error)
{
  return TRUE;
}
static gboolean
plain_dtmf (gpointer s, const char *d, GError **error)
{
  return TRUE;
}
static void
plain_stats (gpointer s, SfMediaStats *out)
{
}
static void
plain_stop (gpointer s)
{
}

/* A side reached over IPv6 (sf_media_relay_new_full): its destination is an
 * IPv6 literal, never IPv4 nor IPv4-mapped (its sockets are IPv6 only, and a
 * mapped loopback would pass the local check); :: is a hold; ::1 and the
 * interfaces' IPv6 addresses are this host's.  The other side stays IPv4. */
static void
relay_null_v6 (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMedia) m = media_with ("media.rtp_ports=41000-41007", &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  g_autoptr (SfMediaRelay) r = sf_media_relay_new_full (m, "c6", TRUE, FALSE, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (r);
  CU_ASSERT_TRUE (sf_media_relay_v6 (r, SF_RELAY_A));
  CU_ASSERT_FALSE (sf_media_relay_v6 (r, SF_RELAY_B));
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "2001:db8::7", 5004, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 1);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "::", 5004, &error)); /* hold */
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 2);
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, NULL, 0, &error));
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 2); /* the same: no destination */
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_B, "192.0.2.1", 5004, &error));
  const char *bad_a[] = { "192.0.2.1", "::ffff:127.0.0.1", "::ffff:192.0.2.1", "::192.0.2.1", "ff02::1",
                          "[2001:db8::7]", "2001:db8::7%lo" };
  for (gsize i = 0; i < G_N_ELEMENTS (bad_a); i++) {
    g_autoptr (GError) e = NULL;
    CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_A, bad_a[i], 5004, &e));
    CU_ASSERT (e != NULL && strstr (e->message, "c6: relay: ") != NULL);
  }
  g_autoptr (GError) eb = NULL;
  CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_B, "2001:db8::7", 5004, &eb));
  CU_ASSERT (eb != NULL && strstr (eb->message, "not an IPv4 address") != NULL);
  CU_ASSERT_EQUAL (sf_media_null_relay_updates (m), 3);
  /* This host's IPv6 addresses, for a side that may not name one. */
  CU_ASSERT_TRUE (sf_media_relay_set_peer (r, SF_RELAY_A, "::1", 5004, &error));
  sf_media_relay_deny_local (r, SF_RELAY_A, TRUE);
  guint own = 0;
  g_autoptr (GError) e1 = NULL;
  CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_A, "::1", 11211, &e1));
  CU_ASSERT (e1 != NULL && strstr (e1->message, "an address of this host") != NULL);
  struct ifaddrs *ifs = NULL;
  CU_ASSERT_EQUAL_FATAL (getifaddrs (&ifs), 0);
  for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next)
    if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET6) {
      const struct in6_addr *a6 = &((const struct sockaddr_in6 *) (gconstpointer) i->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LINKLOCAL (a6))
        continue; /* fe80:: needs a zone to be sent to, and a literal with one is refused above */
      char text[INET6_ADDRSTRLEN];
      inet_ntop (AF_INET6, a6, text, sizeof text);
      g_autoptr (GError) e = NULL;
      CU_ASSERT_FALSE (sf_media_relay_set_peer (r, SF_RELAY_A, text, 11211, &e));
      own++;
    }
  freeifaddrs (ifs);
  CU_ASSERT (own >= 1); /* ::1 at least */
}

static void
relay_no_backend (void)
{
  static const SfMediaBackend plain = { "plain", plain_start, plain_update, plain_dtmf, plain_stats, plain_stop, NULL,
                                        NULL, NULL, NULL, NULL };
  g_autoptr (SfConfig) cfg = media_cfg ();
  g_autoptr (GError) error = NULL;
  g_autoptr (SfMedia) m = sf_media_new (cfg, &plain, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_PTR_NULL (sf_media_relay_new (m, "c1", &error));
  CU_ASSERT (error != NULL && strstr (error->message, "the plain backend relays no media") != NULL);
  CU_ASSERT_EQUAL (sf_media_ports_in_use (m), 0);
}

static void
relay_latch (void)
{
  const gint64 ms = G_TIME_SPAN_MILLISECOND;
  SfRelayLatchState st;
  /* any: the first source, then only it while it talks. */
  sf_media_relay_latch_reset (&st, SF_RELAY_LATCH_ANY, 1000, "192.0.2.1");
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 40000, 0), SF_RELAY_LATCH);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 40000, 20 * ms), SF_RELAY_TAKE);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.66", 40000, 30 * ms), SF_RELAY_DROP);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 40002, 40 * ms), SF_RELAY_DROP);
  /* Still talking at 1000 ms: the stranger waits 1000 ms from the last packet. */
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 40000, 1000 * ms), SF_RELAY_TAKE);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.66", 40000, 1999 * ms), SF_RELAY_DROP);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.66", 40000, 2000 * ms), SF_RELAY_LATCH);
  CU_ASSERT_STRING_EQUAL (st.addr, "203.0.113.66");
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 40000, 2001 * ms), SF_RELAY_DROP);
  /* any, the SDP's exact address and port known: that source takes the
   * stream at once from another (a transfer: the old party's last packets
   * latched before the new party spoke); others still wait for the guard. */
  sf_media_relay_latch_reset (&st, SF_RELAY_LATCH_ANY, 1000, "192.0.2.1");
  st.sdp_port = 40000;
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 5000, 0), SF_RELAY_LATCH);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "192.0.2.1", 40002, ms), SF_RELAY_DROP); /* the host, not the port */
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "192.0.2.1", 40000, 2 * ms), SF_RELAY_LATCH);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 5000, 3 * ms), SF_RELAY_DROP);
  /* sdp_host: only the SDP's host latches, any port. */
  sf_media_relay_latch_reset (&st, SF_RELAY_LATCH_SDP_HOST, 1000, "192.0.2.1");
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 40000, 0), SF_RELAY_DROP);
  CU_ASSERT_FALSE (st.latched);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "192.0.2.1", 30000, ms), SF_RELAY_LATCH);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "192.0.2.1", 30002, 2 * ms), SF_RELAY_DROP);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 40000, 5000 * ms), SF_RELAY_DROP);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "192.0.2.1", 30002, 5000 * ms), SF_RELAY_LATCH);
  /* sdp_host without a host (hold, no SDP yet): nothing latches. */
  sf_media_relay_latch_reset (&st, SF_RELAY_LATCH_SDP_HOST, 1000, NULL);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "192.0.2.1", 30000, 0), SF_RELAY_DROP);
  /* off: everything taken, nothing latched. */
  sf_media_relay_latch_reset (&st, SF_RELAY_LATCH_OFF, 1000, "192.0.2.1");
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.9", 40000, 0), SF_RELAY_TAKE);
  CU_ASSERT_EQUAL (sf_media_relay_latch_check (&st, "203.0.113.66", 40000, ms), SF_RELAY_TAKE);
  CU_ASSERT_FALSE (st.latched);
}

void
sf_test_register_media (void)
{
  CU_pSuite s = CU_add_suite ("media", NULL, NULL);
  SF_ADD_TEST (s, config_defaults);
  SF_ADD_TEST (s, config_accepted);
  SF_ADD_TEST (s, config_refused);
  SF_ADD_TEST (s, ports);
  SF_ADD_TEST (s, null_backend);
  SF_ADD_TEST (s, custom_backend);
  SF_ADD_TEST (s, backend_key);
  SF_ADD_TEST (s, ports_taken);
  SF_ADD_TEST (s, events);
  SF_ADD_TEST (s, relay_null);
  SF_ADD_TEST (s, relay_null_v6);
  SF_ADD_TEST (s, relay_no_backend);
  SF_ADD_TEST (s, relay_latch);
}
