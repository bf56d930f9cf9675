/* fuzz-flow.c: fuzz target for the XML flow loader (libxml2 parsing, RELAX NG
 * validation, semantic checks, machine building).  Built as a libFuzzer binary
 * with ./configure --enable-fuzzing (clang), and replayed over its corpus by
 * replay.c inside make check.  Plugins are refused: a fuzzed path must never be
 * dlopen()ed. */
#include "config.h"
#include "operators/sf-modules.h"
#include "framework/sf-loader.h"
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static SfRegistry *reg;
  if (reg == NULL)
    reg = sf_registry_new (NULL, sf_builtin_modules);
  SfLoader *loader = sf_loader_new (reg);
  sf_loader_set_allow_plugins (loader, FALSE);
  GBytes *bytes = g_bytes_new_static (data, size);
  SfMachine *m = sf_loader_load_bytes (loader, "fuzz.xml", bytes, NULL);
  if (m != NULL) {
    /* Walk what was built, as the dispatcher and dot would. */
    g_return_val_if_fail (m->initial != NULL, 0);
    sf_machine_unref (m);
  }
  g_bytes_unref (bytes);
  sf_loader_free (loader);
  return 0;
}
