/* sf-dot.h: a machine drawn as Graphviz DOT, for teaching (docs/architecture.md,
 * "Teaching"): states with their entry/exit queues, transitions labelled with
 * the operator (and outcome) that takes them, final states doubled, the
 * catch-all state dashed. */
#pragma once
#include "sf-machine.h"

G_BEGIN_DECLS

/* (transfer full) */
char *sf_machine_to_dot (SfMachine *m);

G_END_DECLS
