/* sf-machine.h: a machine definition, as loaded from one XML flow.
 *
 * States are data: a name plus entry, normal and exit queues of operator
 * bindings (docs/style.md, pjsip tsx_set_state / SCTP state tables).  A binding pairs
 * an operator definition with what the XML said about it here: its argument,
 * its next state, and where each named outcome leads.  Definitions are
 * immutable once loaded and shared by every instance. */
#pragma once
#include <glib.h>
#include "sipflow/sf-operator.h"
#include "sf-trigger.h"

G_BEGIN_DECLS

typedef enum { SF_QUEUE_ENTRY = 0, SF_QUEUE_NORMAL = 1, SF_QUEUE_EXIT = 2, SF_QUEUE_COUNT } SfQueue;

typedef struct _SfState SfState;
typedef struct _SfMachine SfMachine;

/* An outcome mapped under a condition: <on outcome="failed" next="Busy"><if .../></on>.
 * Tried in order before the outcome's plain mapping. */
typedef struct {
  int outcome;                /* index in op->outcomes, or -2 for "error" */
  SfState *next;              /* unowned */
  gpointer guard;             /* owned through the binding's guard_free */
  char *text;                 /* owned: the condition in short, for pictures */
  int line;
} SfGuardedOutcome;

typedef struct {
  const SfOperatorDef *op;    /* unowned: lives in a registry table */
  char *op_name;              /* owned: the name as written (with its namespace) */
  int line;
  gpointer arg;               /* owned through op->arg_free (or g_free when there is no fixup) */
  char *arg_text;             /* owned */
  SfState *next;              /* unowned, nullable */
  char *next_name;            /* owned, nullable */
  SfState **outcome_next;     /* owned array, one per op->outcomes entry; entries unowned, nullable */
  SfState *error_next;        /* unowned, nullable: <on outcome="error"> */
  SfTriggerSet *on;           /* owned, nullable: the events it is called for: the flow's on="", else
                                 the operator's own triggers (with $arg); NULL: any of op->events */
  gboolean on_written;        /* @on came from the flow's on="" */
  gpointer guard;             /* owned through guard_free, nullable: the flow's conditions, which the
                                 loader compiled; the op runs only when guard_eval says they hold */
  gboolean (*guard_eval) (gconstpointer guard, SfCtx *ctx, SfEvent *ev);
  GDestroyNotify guard_free;
  GPtrArray *guarded;         /* owned SfGuardedOutcome, nullable: outcomes mapped under conditions */
} SfBinding;

struct _SfState {
  char *name;                 /* owned */
  int line;
  gboolean final;
  gboolean catch_all;         /* the "*" state */
  SfState *beside;            /* unowned, nullable: drawn on the same rank as it (beside="..."), pictures only */
  GPtrArray *queues[SF_QUEUE_COUNT]; /* owned arrays of owned SfBinding */
};

struct _SfMachine {
  grefcount ref;
  char *name;                 /* owned: flow@name */
  char *file;                 /* owned: where it was loaded from ("resource:///..." for built-ins) */
  char *scope;                /* owned: call, dialog, transaction, branch, registration, media, task */
  char *description;          /* owned, nullable */
  char *rfc;                  /* owned, nullable: what it implements, <flow rfc="RFC 3261 Figure 7"> */
  int version;                /* the flow schema version it was written in (1, 2) */
  SfState *initial;           /* unowned */
  SfState *catch_all;         /* unowned, nullable */
  GPtrArray *states;          /* owned SfState, in file order (catch-all included) */
  GHashTable *by_name;        /* owned: name -> SfState (unowned) */
  GHashTable *imports;        /* owned: name -> SfMachine (ref) */
  GPtrArray *vars;            /* owned SfVarDecl, in declaration order: <var> (version 2) */
};

/* A per-instance variable a flow declares (<var name="digits" value=""/>);
 * expressions refer to it by index. */
typedef struct {
  char *name;                 /* owned */
  char *init;                 /* owned: its value in a new instance */
  int line;
} SfVarDecl;

/* The longest value a variable holds: a longer one is cut (a peer's digits or
 * headers cannot grow an instance without bound). */
#define SF_VAR_MAX_LEN 1024

SfMachine *sf_machine_new (const char *name, const char *file);
SfMachine *sf_machine_ref (SfMachine *m);
void sf_machine_unref (SfMachine *m);
SfState *sf_machine_lookup_state (SfMachine *m, const char *name);
SfState *sf_machine_add_state (SfMachine *m, const char *name, int line);
/* The imported machine named @name, or NULL. */
SfMachine *sf_machine_lookup_import (SfMachine *m, const char *name);
/* Does a state of @m (any queue, the catch-all included) bind the operator
 * registered as @op_name?  What a user agent asks before it advertises an
 * extension whose operators the flow may leave out (docs/ua.md). */
gboolean sf_machine_binds (SfMachine *m, const char *op_name);
/* Declares a variable; returns its index. */
guint sf_machine_add_var (SfMachine *m, const char *name, const char *init, int line);
/* The index of variable @name, or -1. */
int sf_machine_var_index (SfMachine *m, const char *name);

SfBinding *sf_binding_new (const SfOperatorDef *op, const char *op_name, int line);
void sf_binding_free (SfBinding *b);
/* Index of @outcome in the binding's operator's outcomes, or -1. */
int sf_binding_outcome_index (const SfBinding *b, const char *outcome);

const char *sf_queue_name (SfQueue q);
/* The queue an element of a state is ("entry", "normal", "exit"); FALSE for another name. */
gboolean sf_queue_from_name (const char *name, SfQueue *q);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfMachine, sf_machine_unref)

G_END_DECLS
