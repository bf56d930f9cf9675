/* test-media-gst.c: the GStreamer media backend (media/sf-media-gst.c) with real
 * RTP on 127.0.0.1: two streams, A and B, in one process, each side's SDP from an
 * SfSdpSession (offer and answer as the UA makes them, RFC 3264), ports from an
 * SfMedia port pool on a random high range, a GMainLoop bounded in time.
 *  - tone_pcmu, tone_pcma, tone_opus: A plays 1000 Hz and records, B plays 440 Hz
 *    and records, three seconds; Goertzel: B's file has 1000 Hz and not 440, A's
 *    the reverse (PCMA: A offers only PCMA; opus: both offer only opus, RFC 7587);
 *    the stats count what flowed (RFC 3550 6.4)
 *  - dtmf: "123#" sent by A arrives at B as four "dtmf" events in order (RFC 4733)
 *  - hold: A re-offers sendonly, B answers recvonly (RFC 3264 8.4): B's sending
 *    stops (A's received count stays), A's continues; DTMF from the side that does
 *    not send is refused; after resume B's RTP flows again
 *  - dtmf_opus: the same over Opus (rtpdtmfmux sends the events at 48000 Hz)
 *  - rtp_timeout: A stops sending; B reports "rtp_timeout" once, A does not
 *  - recodec: another codec on an update: a new pipeline on the same ports,
 *    RTP flows again
 *  - file_source: A plays a WAV file (48 kHz stereo, once, then silence) with the
 *    sound card's sink; B records the whole second of its tone, then silence
 *    (however late the file's branch starts under load, its beginning is not
 *    dropped as late by A's mixer)
 *  - play_prompt: A plays a file, then a prompt with play() in the same call
 *    (a new file branch in the running pipeline): B records both whole
 *  - bad_source: a missing WAV source fails start() naming it; a file that is not
 *    WAV fails start() or gives a "media_error" event (the parser's thread decides)
 *  - srtp, srtp_32: the tone call under SRTP (RFC 3711, keys in SDP by RFC 4568:
 *    media.srtp = require on both sides; _32 when A's offer lists only that
 *    suite): each side hears the other's tone, DTMF crosses (the events are read
 *    after srtpdec), and a re-offer with new keys (a re-INVITE) keeps the audio
 *    flowing both ways (srtpenc's new key, srtpdec's keys cleared and asked again;
 *    from _32 the new offer's _80 is taken: a new pipeline)
 *  - srtp_ssrc_flood: 4000 packets with a new SSRC each sent to an SRTP call's
 *    RTP port: the heap stays within 1 MiB (srtpdec is keyed for at most
 *    SF_MEDIA_GST_SRTP_MAX_SSRC of them), the call's audio keeps flowing
 *  - leaks: 50 calls after a warm-up: threads, descriptors and memory come back to
 *    the warm-up's baseline within the tolerances stated below
 * A missing GStreamer element fails start() (named with its Debian package), so a
 * set-up without the plugins fails here; nothing is skipped. */
#include "config.h"
#include "media/sf-media-gst.h"
#include "media/sf-tone.h"
#include "media-test.h"
#include <glib/gstdio.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer's allocator (sanitizer/allocator_interface.h, which GCC
 * does not install): bytes allocated and not freed. */
size_t __sanitizer_get_current_allocated_bytes (void);
#endif

/* Tolerances of the leak check, after 50 calls against the warm-up baseline. */
#define LEAK_CALLS 50
#define LEAK_THREADS 2           /* GLib's thread pool may keep idle workers (max_unused_threads is 2) */
#define LEAK_FDS 0
#define LEAK_HEAP_KB 1024        /* live heap: GStreamer caches (type classes, caps, pad templates) */
#define LEAK_RSS_KB (16 * 1024)  /* resident set, without AddressSanitizer (its quarantine holds freed memory) */

static char *tmp_dir;
static const char *srtp_mode = "off";  /* media.srtp of the sides made next */
static gboolean only_32;               /* call_start: A's offer keeps only its _32 line */
static guint port_base; /* even; A takes [base, base + 199], B the next 200 */

typedef struct {
  const char *name;
  SfConfig *cfg;       /* owned */
  SfMedia *media;      /* owned */
  char *wav;           /* owned, nullable: the sink */
  GPtrArray *events;   /* owned: "event" or "event:arg", in order */
  /* One call at a time. */
  guint port;
  SfSdpSession *sdp;   /* owned */
  SfMediaStream *st;
  SfSdpMedia neg;      /* owned */
} Side;

static void
on_event (const char *call, const char *event, const char *arg, gpointer data)
{
  Side *s = data;
  g_ptr_array_add (s->events, arg != NULL ? g_strdup_printf ("%s:%s", event, arg) : g_strdup (event));
}

/* A side with [media] source @source, sink file @wav (NULL: none), @codecs. */
static Side *
side_new (const char *name, guint index, const char *source, const char *wav, const char *codecs)
{
  Side *s = g_new0 (Side, 1);
  s->name = name;
  s->events = g_ptr_array_new_with_free_func (g_free);
  s->neg.dtmf_pt = -1;
  s->cfg = sf_config_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (sf_media_declare_config (s->cfg, &error));
  guint low = port_base + 200 * index;
  g_autofree char *ports = g_strdup_printf ("media.rtp_ports=%u-%u", low, low + 199);
  g_autofree char *src = g_strdup_printf ("media.source=%s", source);
  g_autofree char *sink = wav != NULL ? g_strdup_printf ("media.sink=file:%s", wav) : g_strdup ("media.sink=none");
  g_autofree char *cod = g_strdup_printf ("media.codecs=%s", codecs);
  g_autofree char *srtp = g_strdup_printf ("media.srtp=%s", srtp_mode);
  g_assert_true (sf_config_set (s->cfg, ports, &error) && sf_config_set (s->cfg, src, &error)
                 && sf_config_set (s->cfg, sink, &error) && sf_config_set (s->cfg, cod, &error)
                 && sf_config_set (s->cfg, srtp, &error));
  s->media = sf_media_new (s->cfg, NULL, &error); /* media.backend's default: gstreamer */
  g_assert_nonnull (s->media);
  g_assert_cmpstr (sf_media_backend (s->media)->name, ==, "gstreamer");
  sf_media_set_event_func (s->media, on_event, s);
  s->wav = g_strdup (wav);
  return s;
}

static void
side_end_call (Side *s)
{
  g_clear_pointer (&s->st, sf_media_stop);
  g_clear_pointer (&s->sdp, sf_sdp_session_free);
  if (s->port != 0)
    sf_media_port_free (s->media, s->port);
  s->port = 0;
  sf_sdp_media_clear (&s->neg);
}

static void
side_free (Side *s)
{
  side_end_call (s);
  sf_media_free (s->media);
  sf_config_free (s->cfg);
  g_ptr_array_unref (s->events);
  g_free (s->wav);
  g_free (s);
}

static guint
count_events (Side *s, const char *prefix)
{
  guint n = 0;
  for (guint i = 0; i < s->events->len; i++)
    n += g_str_has_prefix (s->events->pdata[i], prefix);
  return n;
}

/* A offers (sendrecv), B answers, A takes the answer; both streams start. */
static gboolean
call_start (Side *a, Side *b)
{
  g_autoptr (GError) error = NULL;
  a->port = sf_media_port_alloc (a->media);
  b->port = sf_media_port_alloc (b->media);
  CU_ASSERT_FATAL (a->port != 0 && b->port != 0);
  a->sdp = sf_sdp_session_new ("127.0.0.1", a->port, sf_media_codecs (a->media), &error);
  b->sdp = sf_sdp_session_new ("127.0.0.1", b->port, sf_media_codecs (b->media), &error);
  CU_ASSERT_FATAL (a->sdp != NULL && b->sdp != NULL);
  sf_sdp_session_set_srtp (a->sdp, sf_media_srtp (a->media, NULL));
  sf_sdp_session_set_srtp (b->sdp, sf_media_srtp (b->media, NULL));
  g_autofree char *offer = sf_sdp_session_offer (a->sdp, SF_SDP_SENDRECV);
  if (only_32) {
    g_auto (GStrv) lines = g_strsplit (offer, "\r\n", -1);
    GString *kept = g_string_new (NULL);
    for (guint i = 0; lines[i] != NULL; i++)
      if (*lines[i] != '\0' && strstr (lines[i], "_SHA1_80") == NULL)
        g_string_append_printf (kept, "%s\r\n", lines[i]);
    g_free (offer);
    offer = g_string_free (kept, FALSE);
  }
  g_autofree char *answer = sf_sdp_session_answer (b->sdp, offer, strlen (offer), SF_SDP_SENDRECV, &b->neg, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (answer);
  CU_ASSERT_FATAL (sf_sdp_session_take_answer (a->sdp, answer, strlen (answer), &a->neg, &error));
  a->st = sf_media_start (a->media, "call-A", &a->neg, &error);
  if (a->st == NULL)
    printf ("  A: %s\n", error->message);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a->st);
  b->st = sf_media_start (b->media, "call-B", &b->neg, &error);
  if (b->st == NULL)
    printf ("  B: %s\n", error->message);
  CU_ASSERT_PTR_NOT_NULL_FATAL (b->st);
  return TRUE;
}

/* A re-offers with @dir, B answers wanting sendrecv; both streams follow. */
static void
reinvite (Side *a, Side *b, SfSdpDir dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *offer = sf_sdp_session_offer (a->sdp, dir);
  sf_sdp_media_clear (&b->neg);
  g_autofree char *answer = sf_sdp_session_answer (b->sdp, offer, strlen (offer), SF_SDP_SENDRECV, &b->neg, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (answer);
  sf_sdp_media_clear (&a->neg);
  CU_ASSERT_FATAL (sf_sdp_session_take_answer (a->sdp, answer, strlen (answer), &a->neg, &error));
  CU_ASSERT_FATAL (sf_media_update (a->st, &a->neg, &error));
  CU_ASSERT_FATAL (sf_media_update (b->st, &b->neg, &error));
}

static SfMediaStats
stats_of (Side *s)
{
  SfMediaStats st;
  sf_media_stats (s->st, &st);
  return st;
}

/* ---- waiting: a main loop that ends when a condition holds or time is up ---- */

typedef gboolean (*Cond) (gpointer data);

typedef struct {
  GMainLoop *loop;
  Cond done;
  gpointer data;
} Wait;

static gboolean
wait_check (gpointer p)
{
  Wait *w = p;
  if (w->done != NULL && w->done (w->data))
    g_main_loop_quit (w->loop);
  return G_SOURCE_CONTINUE;
}

static gboolean
wait_expire (gpointer p)
{
  g_main_loop_quit (((Wait *) p)->loop);
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until @done (checked every 20 ms; NULL: never) or
 * @timeout_ms; whether @done holds. */
static gboolean
run_until (Cond done, gpointer data, guint timeout_ms)
{
  Wait w = { g_main_loop_new (NULL, FALSE), done, data };
  if (done == NULL || !done (data)) {
    GSource *check = g_timeout_source_new (20);
    GSource *expire = g_timeout_source_new (timeout_ms);
    g_source_set_callback (check, wait_check, &w, NULL);
    g_source_set_callback (expire, wait_expire, &w, NULL);
    g_source_attach (check, NULL);
    g_source_attach (expire, NULL);
    g_main_loop_run (w.loop);
    g_source_destroy (check);
    g_source_destroy (expire);
    g_source_unref (check);
    g_source_unref (expire);
  }
  g_main_loop_unref (w.loop);
  return done != NULL && done (data);
}

static void
run_for (guint ms)
{
  run_until (NULL, NULL, ms);
}

typedef struct {
  Side *a, *b;
  guint64 n;
} Flow;

static gboolean
both_received (gpointer p)
{
  Flow *f = p;
  return stats_of (f->a).packets_received >= f->n && stats_of (f->b).packets_received >= f->n;
}

static gboolean
a_received (gpointer p)
{
  Flow *f = p;
  return stats_of (f->a).packets_received >= f->n;
}

static gboolean
b_received (gpointer p)
{
  Flow *f = p;
  return stats_of (f->b).packets_received >= f->n;
}

static gboolean
b_has_dtmf4 (gpointer p)
{
  return count_events (p, "dtmf:") >= 4;
}

static gboolean
has_timeout (gpointer p)
{
  return count_events (p, "rtp_timeout") >= 1;
}

/* ---- tones ---- */

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

/* @path holds @present and not @absent, for most of the call. */
static void
check_wav (const char *path, guint rate, double present, double absent)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfWav) w = sf_wav_load (path, &error);
  if (w == NULL)
    printf ("  %s: %s\n", path, error->message);
  CU_ASSERT_PTR_NOT_NULL_FATAL (w);
  CU_ASSERT_EQUAL (w->rate, rate);
  CU_ASSERT_EQUAL (w->channels, 1);
  SfToneReport yes = sf_tone_measure (w, present, 100), no = sf_tone_measure (w, absent, 100);
  printf ("  %s: %.2f s, %g Hz share %.3f, %g Hz share %.4f, %.1f s sounding\n", strrchr (path, '/') + 1,
          (double) w->n_frames / w->rate, present, yes.share, absent, no.share, yes.sounding_s);
  CU_ASSERT (yes.sounding_s >= 2.0);
  CU_ASSERT (yes.share >= 0.5);
  CU_ASSERT (no.share <= 0.05);
}

static void
tone_call (const char *a_codecs, const char *b_codecs, const char *codec, guint rate)
{
  g_autofree char *wav_a = g_strdup_printf ("%s/A-%s.wav", tmp_dir, codec);
  g_autofree char *wav_b = g_strdup_printf ("%s/B-%s.wav", tmp_dir, codec);
  Side *a = side_new ("A", 0, "tone:1000", wav_a, a_codecs);
  Side *b = side_new ("B", 1, "tone:440", wav_b, b_codecs);
  call_start (a, b);
  CU_ASSERT_STRING_EQUAL (a->neg.codec.name, codec);
  CU_ASSERT_STRING_EQUAL (b->neg.codec.name, codec);
  Flow f = { a, b, 5 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  run_for (3000);
  SfMediaStats sa = stats_of (a), sb = stats_of (b);
  g_autofree char *ja = sf_media_stats_json (&sa);
  g_autofree char *jb = sf_media_stats_json (&sb);
  printf ("\n  %s: A %s\n  %s: B %s\n", codec, ja, codec, jb);
  /* 20 ms packets for over three seconds, each way, none lost on loopback. */
  CU_ASSERT (sa.packets_sent >= 140 && sb.packets_sent >= 140);
  CU_ASSERT (sa.packets_received >= 140 && sb.packets_received >= 140);
  CU_ASSERT (sa.bytes_sent >= sa.packets_sent * (rate == 8000 ? 160 : 10));
  CU_ASSERT (sa.bytes_received > 0 && sb.bytes_received > 0);
  CU_ASSERT (sa.packets_lost <= 2 && sb.packets_lost <= 2);
  CU_ASSERT (sa.jitter_ms < 50.0 && sb.jitter_ms < 50.0);
  CU_ASSERT_EQUAL (a->events->len, 0);
  CU_ASSERT_EQUAL (b->events->len, 0);
  side_end_call (a); /* end-of-stream: the WAV files are complete after stop */
  side_end_call (b);
  check_wav (wav_b, rate, 1000, 440);
  check_wav (wav_a, rate, 440, 1000);
  side_free (a);
  side_free (b);
}

static void
tone_pcmu (void)
{
  tone_call ("PCMU,PCMA,opus", "PCMU,PCMA,opus", "PCMU", 8000);
}

static void
tone_pcma (void)
{
  tone_call ("PCMA", "PCMU,PCMA,opus", "PCMA", 8000);
}

static void
tone_opus (void)
{
  tone_call ("opus", "opus", "opus", 48000);
}

/* ---- SRTP ---- */

static void
srtp_call (SfSrtpSuite suite)
{
  const char *name = suite == SF_SRTP_AES_CM_128_HMAC_SHA1_32 ? "srtp32" : "srtp80";
  g_autofree char *wav_a = g_strdup_printf ("%s/A-%s.wav", tmp_dir, name);
  g_autofree char *wav_b = g_strdup_printf ("%s/B-%s.wav", tmp_dir, name);
  srtp_mode = "require";
  only_32 = suite == SF_SRTP_AES_CM_128_HMAC_SHA1_32;
  Side *a = side_new ("A", 0, "tone:1000", wav_a, "PCMU");
  Side *b = side_new ("B", 1, "tone:440", wav_b, "PCMU");
  srtp_mode = "off";
  call_start (a, b);
  only_32 = FALSE;
  CU_ASSERT_EQUAL (a->neg.srtp, suite);
  CU_ASSERT_EQUAL (b->neg.srtp, suite);
  CU_ASSERT (memcmp (a->neg.srtp_send_key, b->neg.srtp_recv_key, SF_SRTP_KEY_LEN) == 0);
  CU_ASSERT (memcmp (b->neg.srtp_send_key, a->neg.srtp_recv_key, SF_SRTP_KEY_LEN) == 0);
  CU_ASSERT (memcmp (a->neg.srtp_send_key, b->neg.srtp_send_key, SF_SRTP_KEY_LEN) != 0);
  Flow f = { a, b, 5 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  g_autoptr (GError) error = NULL;
  CU_ASSERT (sf_media_dtmf (a->st, "7", &error));
  run_for (1500);
  /* Re-key: A offers again (new keys on both sides), the streams take them in place. */
  guint8 old_key[SF_SRTP_KEY_LEN];
  memcpy (old_key, a->neg.srtp_send_key, SF_SRTP_KEY_LEN);
  reinvite (a, b, SF_SDP_SENDRECV);
  /* The new offer lists both suites: _80 is taken (with _32 before, a new pipeline). */
  CU_ASSERT_EQUAL (a->neg.srtp, SF_SRTP_AES_CM_128_HMAC_SHA1_80);
  CU_ASSERT_EQUAL (b->neg.srtp, SF_SRTP_AES_CM_128_HMAC_SHA1_80);
  CU_ASSERT (memcmp (old_key, a->neg.srtp_send_key, SF_SRTP_KEY_LEN) != 0);
  CU_ASSERT (memcmp (a->neg.srtp_send_key, b->neg.srtp_recv_key, SF_SRTP_KEY_LEN) == 0);
  run_for (200); /* what was in flight under the old keys */
  Flow g = { a, b, 0 };
  g.n = MAX (stats_of (a).packets_received, stats_of (b).packets_received) + 120;
  CU_ASSERT (run_until (both_received, &g, 5000));
  SfMediaStats sa = stats_of (a), sb = stats_of (b);
  printf ("\n  %s: A received %" G_GUINT64_FORMAT ", B received %" G_GUINT64_FORMAT " (re-keyed)\n", name,
          sa.packets_received, sb.packets_received);
  CU_ASSERT_EQUAL (count_events (b, "dtmf:7"), 1);
  CU_ASSERT_EQUAL (count_events (a, "media_error"), 0);
  CU_ASSERT_EQUAL (count_events (b, "media_error"), 0);
  side_end_call (a);
  side_end_call (b);
  check_wav (wav_b, 8000, 1000, 440);
  check_wav (wav_a, 8000, 440, 1000);
  side_free (a);
  side_free (b);
}

static void
srtp (void)
{
  srtp_call (SF_SRTP_AES_CM_128_HMAC_SHA1_80);
}

static void
srtp_32 (void)
{
  srtp_call (SF_SRTP_AES_CM_128_HMAC_SHA1_32);
}

static guint64 heap_kb (void);

/* Anyone who can send to a call's RTP port: packets with a new SSRC each.
 * srtpdec asks for a key for every SSRC it has not seen and keeps a libsrtp
 * stream for each it gets one for (kilobytes each, never freed until a
 * re-key, and looked up in a list per packet); the stream keys a bounded
 * number of them (SF_MEDIA_GST_SRTP_MAX_SSRC), so the heap stays flat, and the
 * call's own audio keeps flowing. */
static void
srtp_ssrc_flood (void)
{
  srtp_mode = "require";
  Side *a = side_new ("A", 0, "tone:1000", NULL, "PCMU");
  Side *b = side_new ("B", 1, "tone:440", NULL, "PCMU");
  srtp_mode = "off";
  call_start (a, b);
  Flow f = { a, b, 5 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  guint sport;
  g_autoptr (GSocket) sock = mt_sock_new ("127.0.0.1", &sport);
  guint64 before = heap_kb ();
  /* PCMU, a 20-byte payload and a 10-byte tag of garbage */
  const guint8 junk[20 + 10] = { 0 };
  for (guint round = 0; round < 40; round++) {
    for (guint i = 0; i < 100; i++)
      mt_send_rtp (sock, "127.0.0.1", b->neg.local_port, 0, (guint16) i, 0, 0x5f000000u + round * 100 + i, junk,
                   sizeof junk);
    run_for (20); /* within the socket's receive buffer */
  }
  run_for (200);
  guint64 after = heap_kb ();
  printf ("\n  4000 SSRCs sent to B: heap %" G_GUINT64_FORMAT " KiB -> %" G_GUINT64_FORMAT " KiB\n", before, after);
  CU_ASSERT (after < before + 1024);
  Flow g = { a, b, 0 };
  g.n = MAX (stats_of (a).packets_received, stats_of (b).packets_received) + 50;
  CU_ASSERT (run_until (both_received, &g, 5000));
  CU_ASSERT_EQUAL (count_events (b, "media_error"), 0);
  side_free (a);
  side_free (b);
}

/* ---- DTMF, hold, timeout ---- */

static void
dtmf_call (const char *codec)
{
  Side *a = side_new ("A", 0, "tone:1000", NULL, codec);
  Side *b = side_new ("B", 1, "tone:440", NULL, codec);
  call_start (a, b);
  CU_ASSERT_EQUAL (a->neg.dtmf_pt, 101);
  Flow f = { a, b, 5 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  g_autoptr (GError) error = NULL;
  CU_ASSERT (sf_media_dtmf (a->st, "123#", &error));
  CU_ASSERT (run_until (b_has_dtmf4, b, 5000));
  run_for (300); /* nothing more comes (the end packets are sent three times) */
  CU_ASSERT_EQUAL_FATAL (b->events->len, 4);
  CU_ASSERT_STRING_EQUAL (b->events->pdata[0], "dtmf:1");
  CU_ASSERT_STRING_EQUAL (b->events->pdata[1], "dtmf:2");
  CU_ASSERT_STRING_EQUAL (b->events->pdata[2], "dtmf:3");
  CU_ASSERT_STRING_EQUAL (b->events->pdata[3], "dtmf:#");
  CU_ASSERT_EQUAL (a->events->len, 0);
  /* A's audio goes on after the events. */
  Flow g = { a, b, stats_of (b).packets_received + 10 };
  CU_ASSERT (run_until (b_received, &g, 3000));
  side_free (a);
  side_free (b);
}

static void
dtmf (void)
{
  dtmf_call ("PCMU");
}

static void
dtmf_opus (void)
{
  dtmf_call ("opus");
}

static void
hold (void)
{
  Side *a = side_new ("A", 0, "tone:1000", NULL, "PCMU");
  Side *b = side_new ("B", 1, "tone:440", NULL, "PCMU");
  call_start (a, b);
  Flow f = { a, b, 10 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  reinvite (a, b, SF_SDP_SENDONLY);
  CU_ASSERT_EQUAL (a->neg.dir, SF_SDP_SENDONLY);
  CU_ASSERT_EQUAL (b->neg.dir, SF_SDP_RECVONLY);
  run_for (300); /* what was in flight */
  guint64 a1 = stats_of (a).packets_received, b1 = stats_of (b).packets_received;
  run_for (1500);
  guint64 a2 = stats_of (a).packets_received, b2 = stats_of (b).packets_received;
  printf ("\n  held 1.5 s: A received %" G_GUINT64_FORMAT " (B sends nothing), B received %" G_GUINT64_FORMAT "\n",
          a2 - a1, b2 - b1);
  CU_ASSERT (a2 - a1 <= 1);
  CU_ASSERT (b2 - b1 >= 50);
  /* The side that does not send cannot send telephone events. */
  g_autoptr (GError) error = NULL;
  CU_ASSERT_FALSE (sf_media_dtmf (b->st, "5", &error));
  CU_ASSERT (g_error_matches (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED));
  /* Resume: B's RTP flows again. */
  reinvite (a, b, SF_SDP_SENDRECV);
  CU_ASSERT_EQUAL (a->neg.dir, SF_SDP_SENDRECV);
  CU_ASSERT_EQUAL (b->neg.dir, SF_SDP_SENDRECV);
  Flow g = { a, b, a2 + 25 };
  CU_ASSERT (run_until (a_received, &g, 3000));
  printf ("  resumed: A received %" G_GUINT64_FORMAT " more\n", stats_of (a).packets_received - a2);
  CU_ASSERT_EQUAL (a->events->len, 0);
  CU_ASSERT_EQUAL (b->events->len, 0);
  side_free (a);
  side_free (b);
}

static void
rtp_timeout (void)
{
  Side *a = side_new ("A", 0, "tone:1000", NULL, "PCMU");
  Side *b = side_new ("B", 1, "tone:440", NULL, "PCMU");
  call_start (a, b);
  Flow f = { a, b, 10 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  /* A stops sending and keeps receiving (as after a recvonly offer). */
  g_auto (SfSdpMedia) quiet = { 0 };
  sf_sdp_media_copy (&quiet, &a->neg);
  quiet.dir = SF_SDP_RECVONLY;
  g_autoptr (GError) error = NULL;
  CU_ASSERT (sf_media_update (a->st, &quiet, &error));
  gint64 t = g_get_monotonic_time ();
  CU_ASSERT (run_until (has_timeout, b, SF_MEDIA_GST_RTP_TIMEOUT_MS + 2000));
  double after = (g_get_monotonic_time () - t) / 1e6;
  printf ("\n  B: rtp_timeout after %.1f s\n", after);
  CU_ASSERT (after >= SF_MEDIA_GST_RTP_TIMEOUT_MS / 1000.0 - 0.5);
  run_for (600);
  CU_ASSERT_EQUAL (count_events (b, "rtp_timeout"), 1); /* once */
  CU_ASSERT_EQUAL (a->events->len, 0);
  side_free (a);
  side_free (b);
}

/* A WAV file of @seconds of @hz at 48000 Hz, stereo, 16-bit. */
static void
write_tone_wav (const char *path, double hz, double seconds)
{
  guint32 frames = (guint32) (48000 * seconds), bytes = frames * 4;
  GByteArray *b = g_byte_array_new ();
  guint32 u32;
  guint16 u16;
#define PUT(v, x)                                                                                      \
  do {                                                                                                 \
    x = (v);                                                                                           \
    g_byte_array_append (b, (const guint8 *) &x, sizeof x);                                            \
  } while (0)
  g_byte_array_append (b, (const guint8 *) "RIFF", 4);
  PUT (GUINT32_TO_LE (36 + bytes), u32);
  g_byte_array_append (b, (const guint8 *) "WAVEfmt ", 8);
  PUT (GUINT32_TO_LE (16), u32);
  PUT (GUINT16_TO_LE (1), u16);
  PUT (GUINT16_TO_LE (2), u16);
  PUT (GUINT32_TO_LE (48000), u32);
  PUT (GUINT32_TO_LE (48000 * 4), u32);
  PUT (GUINT16_TO_LE (4), u16);
  PUT (GUINT16_TO_LE (16), u16);
  g_byte_array_append (b, (const guint8 *) "data", 4);
  PUT (GUINT32_TO_LE (bytes), u32);
  for (guint32 i = 0; i < frames; i++) {
    gint16 v = (gint16) (12000.0 * sin (2.0 * G_PI * hz * i / 48000.0));
    PUT (GUINT16_TO_LE ((guint16) v), u16);
    PUT (GUINT16_TO_LE ((guint16) v), u16);
  }
#undef PUT
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (path, (const char *) b->data, b->len, NULL));
  g_byte_array_unref (b);
}

/* The 1000 Hz tone in the recording @path, printed; its length in @seconds. */
static SfToneReport
tone_1000_in (const char *path, double *seconds)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfWav) w = sf_wav_load (path, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (w);
  SfToneReport r = sf_tone_measure (w, 1000, 100);
  *seconds = (double) w->n_frames / w->rate;
  printf ("\n  %s: %.2f s, 1000 Hz share %.3f over %.1f s sounding\n", strrchr (path, '/') + 1, *seconds, r.share,
          r.sounding_s);
  return r;
}

/* A plays a WAV file (48 kHz stereo, one second of 1000 Hz) to the sound card's
 * sink; B sends silence and records: one second of 1000 Hz, then silence. */
static void
file_source (void)
{
  g_autofree char *prompt = tmp_path ("prompt.wav");
  g_autofree char *wav_b = tmp_path ("B-file.wav");
  write_tone_wav (prompt, 1000, 1.0);
  g_autofree char *source = g_strdup_printf ("file:%s", prompt);
  Side *a = side_new ("A", 0, source, NULL, "PCMU");
  Side *b = side_new ("B", 1, "silence", wav_b, "PCMU");
  g_autoptr (GError) error = NULL;
  CU_ASSERT_TRUE_FATAL (sf_config_set (a->cfg, "media.sink=sound", &error));
  sf_media_free (a->media); /* again, with the sink changed */
  a->media = sf_media_new (a->cfg, NULL, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (a->media);
  sf_media_set_event_func (a->media, on_event, a);
  call_start (a, b);
  Flow f = { a, b, 5 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  run_for (2000);
  SfMediaStats sb = stats_of (b);
  CU_ASSERT (sb.packets_received >= 90); /* the file ended; silence is sent on */
  side_end_call (a);
  side_end_call (b);
  double seconds;
  SfToneReport r = tone_1000_in (wav_b, &seconds);
  /* One second spans 10 or 11 windows of 100 ms: all of the file. */
  CU_ASSERT (r.sounding_s >= 0.95 && r.sounding_s <= 1.15);
  CU_ASSERT (r.share >= 0.5);
  CU_ASSERT (seconds >= 2.0);
  CU_ASSERT_EQUAL (a->events->len, 0);
  CU_ASSERT_EQUAL (b->events->len, 0);
  side_free (a);
  side_free (b);
}

/* A plays a WAV file (one second of 1000 Hz), then, in the same call, a
 * prompt (half a second of it) with play(): its file replaces the first one
 * in the running pipeline; B records both whole (1.5 s of the tone). */
static void
play_prompt (void)
{
  g_autofree char *first = tmp_path ("first.wav");
  g_autofree char *prompt = tmp_path ("prompt-half.wav");
  g_autofree char *wav_b = tmp_path ("B-play.wav");
  write_tone_wav (first, 1000, 1.0);
  write_tone_wav (prompt, 1000, 0.5);
  g_autofree char *source = g_strdup_printf ("file:%s", first);
  Side *a = side_new ("A", 0, source, NULL, "PCMU");
  Side *b = side_new ("B", 1, "silence", wav_b, "PCMU");
  call_start (a, b);
  Flow f = { a, b, 5 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  run_for (1500); /* the first file has ended */
  g_autoptr (GError) error = NULL;
  CU_ASSERT (sf_media_play (a->st, prompt, &error));
  run_for (1500);
  side_end_call (a);
  side_end_call (b);
  double seconds;
  SfToneReport r = tone_1000_in (wav_b, &seconds);
  /* 1.5 s of tone in two pieces: 15 to 17 windows of 100 ms */
  CU_ASSERT (r.sounding_s >= 1.45 && r.sounding_s <= 1.75);
  CU_ASSERT (r.share >= 0.5);
  CU_ASSERT_EQUAL (a->events->len, 0);
  CU_ASSERT_EQUAL (b->events->len, 0);
  side_free (a);
  side_free (b);
}

/* @s's stream follows a negotiation of @codec on payload type @pt. */
static void
switch_codec (Side *s, const char *codec, guint pt)
{
  g_autoptr (GError) error = NULL;
  g_free (s->neg.codec.name);
  s->neg.codec.name = g_strdup (codec);
  s->neg.codec.pt = pt;
  CU_ASSERT (sf_media_update (s->st, &s->neg, &error));
}

static void
recodec (void)
{
  Side *a = side_new ("A", 0, "tone:1000", NULL, "PCMU,PCMA");
  Side *b = side_new ("B", 1, "tone:440", NULL, "PCMU,PCMA");
  call_start (a, b);
  Flow f = { a, b, 10 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  /* Another codec cannot change in place: a new pipeline on the same ports. */
  switch_codec (a, "PCMA", 8);
  switch_codec (b, "PCMA", 8);
  CU_ASSERT (stats_of (a).packets_received < 10);
  CU_ASSERT (run_until (both_received, &f, 5000));
  CU_ASSERT_EQUAL (a->events->len, 0);
  CU_ASSERT_EQUAL (b->events->len, 0);
  side_free (a);
  side_free (b);
}

static gboolean
has_error (gpointer p)
{
  return count_events (p, "media_error:") >= 1;
}

/* Starts @a's stream towards a discard port (a peer that never answers). */
static SfMediaStream *
start_alone (Side *a, GError **error)
{
  a->port = sf_media_port_alloc (a->media);
  a->sdp = sf_sdp_session_new ("127.0.0.1", a->port, sf_media_codecs (a->media), error);
  static const char offer[] = "v=0\r\no=b 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                              "m=audio 9 RTP/AVP 0\r\n";
  g_autofree char *answer = sf_sdp_session_answer (a->sdp, offer, strlen (offer), SF_SDP_SENDRECV, &a->neg, error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (answer);
  return a->st = sf_media_start (a->media, "call-A", &a->neg, error);
}

static void
bad_source (void)
{
  /* A missing file: start() says so. */
  Side *a = side_new ("A", 0, "file:/nonexistent/prompt.wav", NULL, "PCMU");
  g_autoptr (GError) error = NULL;
  CU_ASSERT_PTR_NULL (start_alone (a, &error));
  CU_ASSERT (g_error_matches (error, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED));
  if (error != NULL)
    printf ("\n  missing: %s\n", error->message);
  CU_ASSERT (error != NULL && strstr (error->message, "/nonexistent/prompt.wav: no such file") != NULL);
  CU_ASSERT_EQUAL (sf_media_active_streams (a->media), 0);
  side_free (a);
  /* Not a WAV file: the parser's error, from its streaming thread, fails the
   * start when it comes first, else arrives as a "media_error" event. */
  g_autofree char *junk = tmp_path ("junk.wav");
  CU_ASSERT_TRUE_FATAL (g_file_set_contents (junk, "this is not RIFF audio, just text\n", -1, NULL));
  g_autofree char *source = g_strdup_printf ("file:%s", junk);
  Side *b = side_new ("B", 1, source, NULL, "PCMU");
  g_autoptr (GError) e2 = NULL;
  if (start_alone (b, &e2) != NULL) {
    CU_ASSERT (run_until (has_error, b, 3000));
    printf ("  junk: event %s\n", b->events->len > 0 ? (char *) b->events->pdata[0] : "(none)");
  } else {
    printf ("  junk: %s\n", e2->message);
    CU_ASSERT (g_error_matches (e2, SF_MEDIA_ERROR, SF_MEDIA_ERROR_FAILED));
  }
  side_free (b);
}

/* ---- leaks ---- */

static guint64
rss_kb (void)
{
  g_autofree char *text = NULL;
  unsigned long size = 0, resident = 0;
  if (g_file_get_contents ("/proc/self/statm", &text, NULL, NULL))
    sscanf (text, "%lu %lu", &size, &resident);
  return (guint64) resident * (guint64) sysconf (_SC_PAGESIZE) / 1024;
}

static guint64
heap_kb (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes () / 1024;
#else
  struct mallinfo2 mi = mallinfo2 ();
  return mi.uordblks / 1024;
#endif
}

typedef struct {
  guint threads, fds;
  guint64 rss_kb, heap_kb;
} Usage;

static Usage
usage_now (void)
{
  return (Usage) { mt_count_dir ("/proc/self/task"), mt_count_dir ("/proc/self/fd"), rss_kb (), heap_kb () };
}

static guint threads_limit;

static gboolean
threads_settled (gpointer p)
{
  return mt_count_dir ("/proc/self/task") <= threads_limit;
}

static void
one_call (Side *a, Side *b)
{
  call_start (a, b);
  Flow f = { a, b, 5 };
  CU_ASSERT (run_until (both_received, &f, 5000));
  side_end_call (a);
  side_end_call (b);
}

static void
leaks (void)
{
  g_autofree char *wav = tmp_path ("leak.wav");
  Side *a = side_new ("A", 0, "tone:1000", wav, "PCMU");
  Side *b = side_new ("B", 1, "tone:440", NULL, "PCMU");
  one_call (a, b); /* warm-up: GStreamer's registry, plugins, type classes, thread pool */
  run_for (200);
  Usage base = usage_now ();
  for (int i = 0; i < LEAK_CALLS; i++)
    one_call (a, b);
  threads_limit = base.threads + LEAK_THREADS;
  run_until (threads_settled, NULL, 5000);
  Usage end = usage_now ();
  printf ("\n  after warm-up: %u threads, %u fds, RSS %" G_GUINT64_FORMAT " KiB, heap %" G_GUINT64_FORMAT " KiB\n"
          "  after %d calls: %u threads, %u fds, RSS %" G_GUINT64_FORMAT " KiB, heap %" G_GUINT64_FORMAT " KiB\n",
          base.threads, base.fds, base.rss_kb, base.heap_kb, LEAK_CALLS, end.threads, end.fds, end.rss_kb,
          end.heap_kb);
  CU_ASSERT (end.threads <= base.threads + LEAK_THREADS);
  CU_ASSERT (end.fds <= base.fds + LEAK_FDS);
  CU_ASSERT (end.heap_kb <= base.heap_kb + LEAK_HEAP_KB);
#if !defined(__SANITIZE_ADDRESS__)
  CU_ASSERT (end.rss_kb <= base.rss_kb + LEAK_RSS_KB);
#endif
  CU_ASSERT_EQUAL (sf_media_ports_in_use (a->media), 0);
  CU_ASSERT_EQUAL (a->events->len, 0);
  side_free (a);
  side_free (b);
}

static void
remove_tmp (void)
{
  g_autoptr (GDir) d = g_dir_open (tmp_dir, 0, NULL);
  const char *name;
  while (d != NULL && (name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = tmp_path (name);
    g_unlink (path);
  }
  g_rmdir (tmp_dir);
}

int
main (int argc, char **argv)
{
  tmp_dir = g_dir_make_tmp ("sf-media-gst-XXXXXX", NULL);
  g_assert_nonnull (tmp_dir);
  /* An even base in 20000..59000: A's pool and B's (200 ports each) above it. */
  port_base = 2 * (guint) g_random_int_range (10000, 29500);
  static const MtTest tests[] = {
    { "tone_pcmu", tone_pcmu }, { "tone_pcma", tone_pcma }, { "tone_opus", tone_opus },
    { "dtmf", dtmf }, { "dtmf_opus", dtmf_opus }, { "hold", hold },
    { "rtp_timeout", rtp_timeout }, { "recodec", recodec }, { "file_source", file_source },
    { "play_prompt", play_prompt }, { "bad_source", bad_source }, { "srtp", srtp }, { "srtp_32", srtp_32 },
    { "srtp_ssrc_flood", srtp_ssrc_flood }, { "leaks", leaks }, { NULL, NULL },
  };
  int rc = mt_main (argc, argv, "media-gst", tests, "media", port_base, port_base + 399);
  remove_tmp ();
  g_free (tmp_dir);
  return rc;
}
