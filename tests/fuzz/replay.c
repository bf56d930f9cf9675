/* replay.c: a plain driver for a fuzz target: runs every file of the corpus
 * directories given (or the target's default corpus under tests/fuzz/corpus/)
 * through LLVMFuzzerTestOneInput once, so the corpus is a regression test in
 * make check, under the sanitizers when they are on. */
#include "config.h"
#include <glib.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static guint
replay_dir (const char *dir, gboolean *ok)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  if (d == NULL) {
    fprintf (stderr, "replay: %s\n", error->message);
    *ok = FALSE;
    return 0;
  }
  guint n = 0;
  const char *name;
  while ((name = g_dir_read_name (d)) != NULL) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
      n += replay_dir (path, ok);
      continue;
    }
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents (path, &data, &len, &error)) {
      fprintf (stderr, "replay: %s\n", error->message);
      g_clear_error (&error);
      *ok = FALSE;
      continue;
    }
    LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
    n++;
  }
  return n;
}

int
main (int argc, char **argv)
{
  gboolean ok = TRUE;
  guint n = 0;
  if (argc > 1)
    for (int i = 1; i < argc; i++)
      n += replay_dir (argv[i], &ok);
  else
    n = replay_dir (SF_SRCDIR "/tests/fuzz/corpus/" SF_FUZZ_CORPUS, &ok);
  printf ("replay %s: %u inputs, %s\n", SF_FUZZ_CORPUS, n, ok && n > 0 ? "all ran" : "FAILED");
  return ok && n > 0 ? 0 : 1;
}
