/* sf-ua-tone.c: 'sipflow tone FILE.wav HZ...': which tones a recorded WAV file
 * carries (media/sf-tone.h: Goertzel over 20 ms windows), one line per
 * frequency: its share of the sounding audio, and the seconds that sounded.
 * Exit 0 when every HZ has a share of at least 0.5, 1 otherwise: a script (the
 * demo, a test) can ask "did the far end's 1000 Hz tone arrive?". */
#include "config.h"
#include "sf-ua.h"
#include "media/sf-tone.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
sf_ua_cmd_tone (int argc, char **argv)
{
  if (argc >= 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)) {
    puts ("Usage: sipflow tone FILE.wav HZ...\n"
          "The share of each frequency HZ in the sounding part of FILE.wav (16-bit PCM,\n"
          "mono or stereo), by Goertzel over 20 ms windows; exit 0 when every HZ has a\n"
          "share of at least 0.5, 1 otherwise.");
    return SF_EXIT_OK;
  }
  if (argc < 3)
    return sf_ua_usage_error ("tone", "expected FILE.wav and at least one frequency");
  g_autoptr (GError) error = NULL;
  g_autoptr (SfWav) w = sf_wav_load (argv[1], &error);
  if (w == NULL) {
    fprintf (stderr, "sipflow tone: %s\n", error->message);
    return SF_EXIT_FAIL;
  }
  gboolean all = TRUE;
  for (int i = 2; i < argc; i++) {
    char *end = NULL;
    double hz = g_ascii_strtod (argv[i], &end);
    if (end == argv[i] || *end != '\0' || hz <= 0 || hz > 24000)
      return sf_ua_usage_error ("tone", "'%s' is not a frequency in Hz (0 to 24000)", argv[i]);
    SfToneReport r = sf_tone_measure (w, hz, 20);
    printf ("%s: %g Hz: share %.3f of %.2f s sounding\n", argv[1], hz, r.share, r.sounding_s);
    all = all && r.share >= 0.5;
  }
  return all ? SF_EXIT_OK : SF_EXIT_FAIL;
}
