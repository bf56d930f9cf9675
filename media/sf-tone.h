/* sf-tone.h: reading back what a call recorded.  Loads a 16-bit PCM WAV file
 * (RIFF/WAVE, format 1, mono or stereo, 8000 or 48000 Hz: what the GStreamer
 * backend writes) and measures the power at one frequency with the Goertzel
 * algorithm, so a test or the demo can say "1000 Hz present, 440 Hz absent".
 * docs/media.md says how the measures are normalised. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define SF_TONE_ERROR (sf_tone_error_quark ())
GQuark sf_tone_error_quark (void);
typedef enum {
  SF_TONE_ERROR_IO,         /* the file cannot be read */
  SF_TONE_ERROR_FORMAT,     /* not a WAV file we read; the message names the problem */
} SfToneError;

/* Largest WAV file read (10 minutes of 48 kHz stereo). */
#define SF_WAV_MAX_BYTES (10u * 60u * 48000u * 4u + 4096u)

typedef struct {
  guint rate;         /* 8000 or 48000 */
  guint channels;     /* 1 or 2 */
  gsize n_frames;     /* samples per channel */
  gint16 *samples;    /* owned: n_frames * channels, interleaved */
} SfWav;

/* Reads @path; NULL with an SF_TONE_ERROR otherwise (a header written but no
 * data chunk, as an interrupted recording leaves, is SF_TONE_ERROR_FORMAT). */
SfWav *sf_wav_load (const char *path, GError **error);
/* The same from bytes in memory (@len at most SF_WAV_MAX_BYTES). */
SfWav *sf_wav_parse (const guint8 *data, gsize len, GError **error);
void sf_wav_free (SfWav *w);

/* Frames in @ms milliseconds at @w's rate. */
gsize sf_wav_frames (const SfWav *w, guint ms);
/* Root mean square of frames [@first, @first + @n) (channels averaged), 0..1
 * of full scale; 0 for an empty window. */
double sf_tone_rms (const SfWav *w, gsize first, gsize n);
/* Goertzel power at @hz over frames [@first, @first + @n) (channels averaged,
 * the window clipped to the file), as a share of the window's energy: about 1
 * for a pure tone at @hz, about 0 when @hz is absent, 0 for silence.  The
 * frequency need not fall on a DFT bin (generalised Goertzel). */
double sf_tone_share (const SfWav *w, double hz, gsize first, gsize n);

typedef struct {
  double share;       /* mean of sf_tone_share over the sounding windows; 0 when none */
  double sounding_s;  /* seconds of sounding windows */
  guint windows;      /* windows examined */
} SfToneReport;

/* The whole file in windows of @window_ms: a window sounds when its RMS is
 * above -40 dBFS (0.01); the report averages @hz's share over those. */
SfToneReport sf_tone_measure (const SfWav *w, double hz, guint window_ms);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfWav, sf_wav_free)

G_END_DECLS
