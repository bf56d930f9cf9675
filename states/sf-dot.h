/* sf-dot.h: a machine drawn as Graphviz DOT, for teaching (docs/architecture.md,
 * "Teaching"; the picture's conventions: docs/pictures.md).  States carry their
 * entry and exit operators; each arrow is labelled with the trigger that takes
 * it (the binding's on="", or its operator's triggers: "timer:G",
 * "sip:response 3xx-6xx"), an outcome after it in brackets ("txn:respond
 * [failure]"), and under it, in smaller type, the operator that acts
 * ("OpTxnResend(G)").  An operator of a normal queue that can only keep the
 * state (no next, no outcome mapped) is a loop on its state.  The arrows between
 * two states are one edge with a line per trigger (the arrows one operator takes
 * with one outcome share a line, their triggers joined by '|'; long lines wrap
 * after a '|').  Final states are doubled,
 * the catch-all state and its arrows dashed, error arrows red.  The output
 * depends on the machine only (file order throughout), never on hashing. */
#pragma once
#include "sf-machine.h"

G_BEGIN_DECLS

typedef enum {
  /* Arrows that several states share (the same trigger, operator and target:
   * a BYE that ends the call from every established state) are drawn once,
   * from a dashed cluster around those states; clusters nest, and none is
   * one that a path of arrows leaves and re-enters. */
  SF_DOT_FOLD = 1 << 0,
} SfDotFlags;

/* One arrow of a machine's picture: what one binding of a state's normal queue
 * does (its next, each state its outcomes lead to, its error, an outcome mapped
 * under a condition), or, when it does none of these, a loop that keeps the
 * state.  'sipflow coverage' counts the runs that took each. */
typedef struct {
  SfState *from;            /* unowned: the catch-all state for the arrows every state has */
  SfState *to;              /* unowned; == from: a loop, or a transition back into the state */
  char *trigger;            /* owned: the binding's triggers, "sip:response 3xx-6xx", "timer:E", "*" */
  char *outcome;            /* owned, nullable: "[success, failure]", "[error]", "[busy if ...]" */
  char *op;                 /* owned: the operator as written, with its argument: "OpTxnResend(G)" */
  gboolean error;           /* the implicit outcome "error" */
  gboolean stays;           /* the binding keeps the state (no next, no outcome): the state is not
                               left and entered again, so a run reports it as a step, not a transition */
  const SfBinding *binding; /* unowned: its operator (b->op->rfc), its triggers (b->on) */
} SfDotArrow;

/* Every arrow of @m's picture, as sf_machine_to_dot() draws them (unfolded):
 * state by state, binding by binding, in file order.  (transfer full): a
 * GPtrArray of SfDotArrow that frees them; they point into @m. */
GPtrArray *sf_dot_arrows (SfMachine *m);

/* (transfer full) */
char *sf_machine_to_dot (SfMachine *m);
/* The same with SfDotFlags @flags (transfer full). */
char *sf_machine_to_dot_flags (SfMachine *m, guint flags);

G_END_DECLS
