/* sf-tone.c: WAV reading (RIFF/WAVE, 16-bit PCM) and Goertzel tone measures
 * (see sf-tone.h). */
#include "config.h"
#include "sf-tone.h"
#include <math.h>
#include <string.h>

G_DEFINE_QUARK (sf-tone-error-quark, sf_tone_error)

static guint32
le32 (const guint8 *p)
{
  return (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
}

static guint16
le16 (const guint8 *p)
{
  return (guint16) (p[0] | p[1] << 8);
}

static SfWav *
bad_format (GError **error, const char *what)
{
  g_set_error (error, SF_TONE_ERROR, SF_TONE_ERROR_FORMAT, "not a WAV file we read: %s", what);
  return NULL;
}

SfWav *
sf_wav_parse (const guint8 *data, gsize len, GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  if (len > SF_WAV_MAX_BYTES)
    return bad_format (error, "larger than the limit");
  if (len < 12 || memcmp (data, "RIFF", 4) != 0 || memcmp (data + 8, "WAVE", 4) != 0)
    return bad_format (error, "no RIFF/WAVE header");
  gboolean have_fmt = FALSE;
  guint16 format = 0, channels = 0, bits = 0;
  guint32 rate = 0;
  gsize off = 12;
  /* Chunks: 4-byte id, 4-byte size, data padded to an even size. */
  while (off + 8 <= len) {
    const guint8 *id = data + off;
    guint32 size = le32 (data + off + 4);
    gsize body = off + 8;
    if (memcmp (id, "fmt ", 4) == 0) {
      if (size < 16 || body + 16 > len)
        return bad_format (error, "short fmt chunk");
      format = le16 (data + body);
      channels = le16 (data + body + 2);
      rate = le32 (data + body + 4);
      bits = le16 (data + body + 14);
      have_fmt = TRUE;
    } else if (memcmp (id, "data", 4) == 0) {
      if (!have_fmt)
        return bad_format (error, "data chunk before fmt");
      if (format != 1 || bits != 16)
        return bad_format (error, "not 16-bit PCM");
      if (channels != 1 && channels != 2)
        return bad_format (error, "not mono or stereo");
      if (rate != 8000 && rate != 48000)
        return bad_format (error, "rate is not 8000 or 48000 Hz");
      /* A writer that stopped early leaves the size too large (or 0 with
       * some): read what is there. */
      gsize avail = len - body;
      gsize n = size == 0 || size > avail ? avail : size;
      SfWav *w = g_new0 (SfWav, 1);
      w->rate = rate;
      w->channels = channels;
      w->n_frames = n / (2u * channels);
      w->samples = g_new (gint16, w->n_frames * channels + 1);
      for (gsize i = 0; i < w->n_frames * channels; i++)
        w->samples[i] = (gint16) le16 (data + body + 2 * i);
      return w;
    }
    if (size > len - body)
      break;
    off = body + size + (size & 1);
  }
  return bad_format (error, have_fmt ? "no data chunk" : "no fmt chunk");
}

SfWav *
sf_wav_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (GMappedFile) f = g_mapped_file_new (path, FALSE, NULL);
  if (f == NULL) {
    /* An empty file cannot be mapped: tell it apart from a missing one. */
    if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
      return sf_wav_parse ((const guint8 *) "", 0, error);
    g_set_error (error, SF_TONE_ERROR, SF_TONE_ERROR_IO, "%s: cannot read", path);
    return NULL;
  }
  return sf_wav_parse ((const guint8 *) g_mapped_file_get_contents (f), g_mapped_file_get_length (f), error);
}

void
sf_wav_free (SfWav *w)
{
  if (w == NULL)
    return;
  g_free (w->samples);
  g_free (w);
}

gsize
sf_wav_frames (const SfWav *w, guint ms)
{
  g_return_val_if_fail (w != NULL, 0);
  return (gsize) w->rate * ms / 1000;
}

/* Frame @i, channels averaged, in -1..1. */
static double
frame_at (const SfWav *w, gsize i)
{
  if (w->channels == 1)
    return w->samples[i] / 32768.0;
  return (w->samples[2 * i] + w->samples[2 * i + 1]) / 65536.0;
}

/* Clips [first, first + n) to the file; FALSE when nothing is left. */
static gboolean
clip (const SfWav *w, gsize *first, gsize *n)
{
  if (*first >= w->n_frames)
    return FALSE;
  if (*n > w->n_frames - *first)
    *n = w->n_frames - *first;
  return *n > 0;
}

double
sf_tone_rms (const SfWav *w, gsize first, gsize n)
{
  g_return_val_if_fail (w != NULL, 0.0);
  if (!clip (w, &first, &n))
    return 0.0;
  double sum = 0.0;
  for (gsize i = first; i < first + n; i++) {
    double x = frame_at (w, i);
    sum += x * x;
  }
  return sqrt (sum / (double) n);
}

double
sf_tone_share (const SfWav *w, double hz, gsize first, gsize n)
{
  g_return_val_if_fail (w != NULL && hz > 0.0, 0.0);
  if (!clip (w, &first, &n))
    return 0.0;
  /* s[i] = x[i] + 2 cos(w) s[i-1] - s[i-2]; |X(w)|^2 from the last two states.
   * For x = A sin(w i), |X|^2 ~ (A n / 2)^2 and the energy is n A^2 / 2, so
   * 2 |X|^2 / (n * energy) is about 1. */
  double coeff = 2.0 * cos (2.0 * G_PI * hz / w->rate);
  double s1 = 0.0, s2 = 0.0, energy = 0.0;
  for (gsize i = first; i < first + n; i++) {
    double x = frame_at (w, i);
    double s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x * x;
  }
  if (energy <= 0.0)
    return 0.0;
  double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return 2.0 * power / ((double) n * energy);
}

SfToneReport
sf_tone_measure (const SfWav *w, double hz, guint window_ms)
{
  SfToneReport r = { 0 };
  g_return_val_if_fail (w != NULL && window_ms > 0, r);
  gsize n = sf_wav_frames (w, window_ms);
  if (n == 0)
    return r;
  double sum = 0.0;
  guint sounding = 0;
  for (gsize first = 0; first + n <= w->n_frames; first += n) {
    r.windows++;
    if (sf_tone_rms (w, first, n) < 0.01)
      continue;
    sounding++;
    sum += sf_tone_share (w, hz, first, n);
  }
  r.share = sounding > 0 ? sum / sounding : 0.0;
  r.sounding_s = sounding * (double) window_ms / 1000.0;
  return r;
}
