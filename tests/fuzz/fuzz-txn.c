/* fuzz-txn.c: fuzz target for the transaction layer and the UAS flow: the input
 * is a script of datagrams and clock advances, separated by a line "--"; a part
 * "ADV N" moves the fake clock N ms (firing timers), any other part is a
 * datagram from 127.0.0.1:9 (the discard port: what is sent back goes nowhere).
 * It drives matching, every transaction machine state and timer, the call flow
 * and the untaken-request answers with whatever order the fuzzer finds. */
#include "config.h"
#include "operators/sf-modules.h"
#include "framework/sf-loader.h"
#include "operators/transaction/sf-stack.h"
#include "fuzz-script.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
drain (SfEndpoint *ep)
{
  sf_endpoint_drain (ep);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size > 65536)
    return 0;
  SfConfig *cfg = sf_config_new ();
  SfRegistry *reg = sf_registry_new (cfg, sf_builtin_modules); /* declares [sip] */
  SfLoader *loader = sf_loader_new (reg);
  SfMachine *tu = sf_loader_load (loader, "builtin:examples/uas-answer.xml", NULL);
  SfEndpoint *ep = sf_endpoint_new (sf_clock_new_fake (0), reg, cfg);
  SfStack *stack = tu != NULL ? sf_stack_new (ep, loader, tu, NULL) : NULL;
  if (stack != NULL && sf_stack_listen (stack, "udp:127.0.0.1:0", NULL)) {
    sf_fuzz_script (ep, stack, data, size, NULL, drain, NULL);
    sf_endpoint_advance (ep, 200000); /* every timer of every machine runs out */
  }
  g_autoptr (GPtrArray) left = sf_endpoint_instances (ep);
  for (guint i = 0; i < left->len; i++)
    sf_endpoint_kill (ep, left->pdata[i], "fuzz end");
  sf_stack_free (stack);
  sf_endpoint_free (ep);
  if (tu != NULL)
    sf_machine_unref (tu);
  sf_loader_free (loader);
  sf_registry_free (reg);
  sf_config_free (cfg);
  return 0;
}
