/* test-tone.c: the WAV reader and Goertzel measures (media/sf-tone.c).
 *  - wav_read: mono 8000 Hz and stereo 48000 Hz 16-bit PCM files read back
 *    sample for sample, with a LIST chunk before data; a data size larger than
 *    the file (an interrupted writer) reads what is there
 *  - wav_refused: not RIFF/WAVE, 8-bit, 44100 Hz, 3 channels, no data chunk, an
 *    empty file, a missing file: each with its error
 *  - goertzel: a 1000 Hz tone has a share about 1 at 1000 Hz and about 0 at
 *    440 Hz (and the reverse), a mix of both has each at about its energy share,
 *    silence has 0; a frequency off the DFT bins is measured as well
 *  - measure: windows of silence are left out; the sounding time is counted */
#include "config.h"
#include "sf-test.h"
#include "media/sf-tone.h"
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

/* A WAV file image: @channels interleaved, @n frames from @gen, an optional
 * chunk before "data", and a data size field of @data_size (0: exact). */
static GByteArray *
wav_image (guint rate, guint channels, guint bits, gsize n, gint16 (*gen) (gsize i, guint ch, guint rate),
           gboolean list_chunk, guint32 data_size)
{
  GByteArray *b = g_byte_array_new ();
  guint32 bytes = (guint32) (n * channels * 2);
#define PUT32(v)                                                                                       \
  do {                                                                                                 \
    guint32 x_ = GUINT32_TO_LE (v);                                                                    \
    g_byte_array_append (b, (const guint8 *) &x_, 4);                                                  \
  } while (0)
#define PUT16(v)                                                                                       \
  do {                                                                                                 \
    guint16 x_ = GUINT16_TO_LE (v);                                                                    \
    g_byte_array_append (b, (const guint8 *) &x_, 2);                                                  \
  } while (0)
  g_byte_array_append (b, (const guint8 *) "RIFF", 4);
  PUT32 (36 + bytes + (list_chunk ? 14 : 0));
  g_byte_array_append (b, (const guint8 *) "WAVEfmt ", 8);
  PUT32 (16);
  PUT16 (1);
  PUT16 (channels);
  PUT32 (rate);
  PUT32 (rate * channels * bits / 8);
  PUT16 (channels * bits / 8);
  PUT16 (bits);
  if (list_chunk) {
    g_byte_array_append (b, (const guint8 *) "LIST", 4);
    PUT32 (5); /* odd: padded to 6 */
    g_byte_array_append (b, (const guint8 *) "INFOx\0", 6);
  }
  g_byte_array_append (b, (const guint8 *) "data", 4);
  PUT32 (data_size != 0 ? data_size : bytes);
  for (gsize i = 0; i < n; i++)
    for (guint c = 0; c < channels; c++)
      PUT16 ((guint16) gen (i, c, rate));
#undef PUT32
#undef PUT16
  return b;
}

static gint16
gen_ramp (gsize i, guint ch, guint rate)
{
  return (gint16) ((gint) (i * 7) % 20000 - 10000 + (gint) ch * 3);
}

static gint16
gen_1000 (gsize i, guint ch, guint rate)
{
  return (gint16) lrint (16000.0 * sin (2.0 * G_PI * 1000.0 * (double) i / rate));
}

static gint16
gen_440 (gsize i, guint ch, guint rate)
{
  return (gint16) lrint (16000.0 * sin (2.0 * G_PI * 440.0 * (double) i / rate));
}

/* 1000 Hz at 3/4 of the amplitude, 440 Hz at 1/4: energy shares 0.9 and 0.1. */
static gint16
gen_mix (gsize i, guint ch, guint rate)
{
  double t = (double) i / rate;
  return (gint16) lrint (12000.0 * sin (2.0 * G_PI * 1000.0 * t) + 4000.0 * sin (2.0 * G_PI * 440.0 * t));
}

static gint16
gen_1234 (gsize i, guint ch, guint rate)
{
  return (gint16) lrint (16000.0 * sin (2.0 * G_PI * 1234.5 * (double) i / rate));
}

/* Silence for the first half second, then 1000 Hz. */
static gint16
gen_late (gsize i, guint ch, guint rate)
{
  return i < rate / 2 ? 0 : gen_1000 (i, ch, rate);
}

static gint16
gen_zero (gsize i, guint ch, guint rate)
{
  return 0;
}

static SfWav *
parse (GByteArray *b, GError **error)
{
  SfWav *w = sf_wav_parse (b->data, b->len, error);
  g_byte_array_unref (b);
  return w;
}

static void
wav_read (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (SfWav) m = parse (wav_image (8000, 1, 16, 800, gen_ramp, FALSE, 0), &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (m);
  CU_ASSERT_EQUAL (m->rate, 8000);
  CU_ASSERT_EQUAL (m->channels, 1);
  CU_ASSERT_EQUAL (m->n_frames, 800);
  gboolean same = TRUE;
  for (gsize i = 0; i < 800; i++)
    same &= m->samples[i] == gen_ramp (i, 0, 8000);
  CU_ASSERT_TRUE (same);
  g_autoptr (SfWav) s = parse (wav_image (48000, 2, 16, 4800, gen_ramp, TRUE, 0), &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (s);
  CU_ASSERT_EQUAL (s->rate, 48000);
  CU_ASSERT_EQUAL (s->channels, 2);
  CU_ASSERT_EQUAL (s->n_frames, 4800);
  CU_ASSERT_EQUAL (s->samples[2 * 100 + 1], gen_ramp (100, 1, 48000));
  CU_ASSERT_EQUAL (sf_wav_frames (s, 20), 960);
  /* A writer stopped before fixing the sizes: what is there is read. */
  g_autoptr (SfWav) cut = parse (wav_image (8000, 1, 16, 400, gen_ramp, FALSE, 0x7ffffff0), &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (cut);
  CU_ASSERT_EQUAL (cut->n_frames, 400);
  /* From a file. */
  g_autofree char *path = NULL;
  int fd = g_file_open_tmp ("sf-tone-XXXXXX.wav", &path, &error);
  CU_ASSERT_TRUE_FATAL (fd >= 0);
  close (fd);
  GByteArray *b = wav_image (8000, 1, 16, 8000, gen_1000, FALSE, 0);
  CU_ASSERT_TRUE (g_file_set_contents (path, (const char *) b->data, b->len, &error));
  g_byte_array_unref (b);
  g_autoptr (SfWav) f = sf_wav_load (path, &error);
  CU_ASSERT_PTR_NOT_NULL_FATAL (f);
  CU_ASSERT_EQUAL (f->n_frames, 8000);
  g_unlink (path);
}

static void
wav_refused (void)
{
  static const struct {
    guint rate, channels, bits;
    const char *why;
  } bad[] = {
    { 8000, 1, 8, "not 16-bit PCM" },
    { 44100, 1, 16, "rate is not 8000 or 48000 Hz" },
    { 8000, 3, 16, "not mono or stereo" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    SfWav *w = parse (wav_image (bad[i].rate, bad[i].channels, bad[i].bits, 10, gen_ramp, FALSE, 0), &error);
    CU_ASSERT_PTR_NULL (w);
    CU_ASSERT (g_error_matches (error, SF_TONE_ERROR, SF_TONE_ERROR_FORMAT));
    CU_ASSERT (error != NULL && strstr (error->message, bad[i].why) != NULL);
  }
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL;
  static const guint8 text[] = "RIFX....WAVEfmt ";
  CU_ASSERT_PTR_NULL (sf_wav_parse (text, sizeof text - 1, &e1));
  CU_ASSERT (e1 != NULL && strstr (e1->message, "no RIFF/WAVE header") != NULL);
  /* The header alone, as a writer that never got data leaves it. */
  GByteArray *b = wav_image (8000, 1, 16, 0, gen_ramp, FALSE, 0);
  g_byte_array_set_size (b, 36);
  CU_ASSERT_PTR_NULL (parse (b, &e2));
  CU_ASSERT (e2 != NULL && strstr (e2->message, "no data chunk") != NULL);
  CU_ASSERT_PTR_NULL (sf_wav_parse ((const guint8 *) "", 0, &e3));
  CU_ASSERT (g_error_matches (e3, SF_TONE_ERROR, SF_TONE_ERROR_FORMAT));
  CU_ASSERT_PTR_NULL (sf_wav_load ("/nonexistent/sf-tone.wav", &e4));
  CU_ASSERT (g_error_matches (e4, SF_TONE_ERROR, SF_TONE_ERROR_IO));
}

static void
goertzel (void)
{
  static const guint rates[] = { 8000, 48000 };
  for (gsize r = 0; r < G_N_ELEMENTS (rates); r++) {
    guint rate = rates[r];
    g_autoptr (SfWav) t1000 = parse (wav_image (rate, 1, 16, rate, gen_1000, FALSE, 0), NULL);
    g_autoptr (SfWav) t440 = parse (wav_image (rate, 2, 16, rate, gen_440, FALSE, 0), NULL);
    g_autoptr (SfWav) mix = parse (wav_image (rate, 1, 16, rate, gen_mix, FALSE, 0), NULL);
    g_autoptr (SfWav) odd = parse (wav_image (rate, 1, 16, rate, gen_1234, FALSE, 0), NULL);
    g_autoptr (SfWav) zero = parse (wav_image (rate, 1, 16, rate, gen_zero, FALSE, 0), NULL);
    CU_ASSERT_FATAL (t1000 != NULL && t440 != NULL && mix != NULL && odd != NULL && zero != NULL);
    gsize n = sf_wav_frames (t1000, 100); /* a 100 ms window */
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_share (t1000, 1000, 0, n), 1.0, 0.01);
    CU_ASSERT (sf_tone_share (t1000, 440, 0, n) < 0.001);
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_share (t440, 440, n, n), 1.0, 0.01);
    CU_ASSERT (sf_tone_share (t440, 1000, n, n) < 0.001);
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_share (mix, 1000, 0, n), 0.9, 0.02);
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_share (mix, 440, 0, n), 0.1, 0.02);
    /* 1234.5 Hz is not a bin of a 100 ms window (10 Hz apart). */
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_share (odd, 1234.5, 0, n), 1.0, 0.02);
    CU_ASSERT (sf_tone_share (odd, 1000, 0, n) < 0.01);
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_share (zero, 1000, 0, n), 0.0, 1e-12);
    /* RMS of a sine at 16000/32768 of full scale: that over sqrt 2. */
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_rms (t1000, 0, n), 16000.0 / 32768.0 / sqrt (2.0), 0.001);
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_rms (zero, 0, n), 0.0, 1e-12);
    /* Windows clipped to the file, or beyond it. */
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_share (t1000, 1000, t1000->n_frames - n / 2, n), 1.0, 0.02);
    CU_ASSERT_DOUBLE_EQUAL (sf_tone_share (t1000, 1000, t1000->n_frames, n), 0.0, 1e-12);
  }
}

static void
measure (void)
{
  g_autoptr (SfWav) late = parse (wav_image (8000, 1, 16, 16000, gen_late, FALSE, 0), NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL (late);
  SfToneReport yes = sf_tone_measure (late, 1000, 100), no = sf_tone_measure (late, 440, 100);
  CU_ASSERT_EQUAL (yes.windows, 20);
  CU_ASSERT_DOUBLE_EQUAL (yes.sounding_s, 1.5, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL (yes.share, 1.0, 0.01);
  CU_ASSERT (no.share < 0.001);
  g_autoptr (SfWav) zero = parse (wav_image (8000, 1, 16, 8000, gen_zero, FALSE, 0), NULL);
  SfToneReport none = sf_tone_measure (zero, 1000, 100);
  CU_ASSERT_EQUAL (none.windows, 10);
  CU_ASSERT_DOUBLE_EQUAL (none.sounding_s, 0.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL (none.share, 0.0, 1e-12);
}

void
sf_test_register_tone (void)
{
  CU_pSuite s = CU_add_suite ("tone", NULL, NULL);
  SF_ADD_TEST (s, wav_read);
  SF_ADD_TEST (s, wav_refused);
  SF_ADD_TEST (s, goertzel);
  SF_ADD_TEST (s, measure);
}
