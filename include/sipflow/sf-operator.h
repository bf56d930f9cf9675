/* sf-operator.h: what an operator is, and everything an operator may do.
 *
 * An operator is a small C function run by the dispatcher from a state's entry,
 * normal or exit queue (docs/architecture.md, "Machine semantics").  It returns a
 * disposition and acts only through its context (send, start a timer, post an
 * event), never through globals, so it can be unit-tested without sockets.
 * Operators are declared in constant tables (SfOperatorDef) that pair the XML
 * name ("OpRing") with the C function (sf_op_ring); plugins register theirs
 * under a namespace ("myns:OpRing"). */
#pragma once
#include <glib.h>
#include "sipflow/sf-event.h"

G_BEGIN_DECLS

/* Dispositions.  A named outcome is SF_OP_OUTCOME (i): the i-th entry of the
 * operator's outcomes[] table, mapped to a state by <on outcome="..." next="..."/>. */
typedef enum {
  SF_OP_SKIP = 0,     /* not mine: the event was not for me and I did nothing */
  SF_OP_CONTINUE,     /* I acted; later operators may act too */
  SF_OP_DONE,         /* I acted and the event is consumed: stop the queue */
  SF_OP_TRANSITION,   /* I acted; go to my binding's next state, stop the queue */
  SF_OP_ERROR,        /* I failed: logged and counted; the queue stops (normal) or goes on (entry/exit);
                         the implicit outcome "error" may map it to a state */
  SF_OP_OUTCOME_BASE = 16,
} SfOpResult;
#define SF_OP_OUTCOME(i) ((SfOpResult) (SF_OP_OUTCOME_BASE + (i)))

/* Queues an operator may sit in. */
typedef enum {
  SF_Q_ENTRY = 1 << 0,
  SF_Q_NORMAL = 1 << 1,
  SF_Q_EXIT = 1 << 2,
} SfQueueMask;
#define SF_Q_ALL (SF_Q_ENTRY | SF_Q_NORMAL | SF_Q_EXIT)

typedef enum {
  SF_ARG_NONE = 0,    /* the operator takes no arg="" */
  SF_ARG_OPTIONAL,
  SF_ARG_REQUIRED,
} SfArgMode;

typedef struct _SfCtx SfCtx;             /* one operator call: endpoint, instance, binding */
typedef struct _SfInstance SfInstance;
typedef struct _SfEndpoint SfEndpoint;

typedef SfOpResult (*SfOpFunc) (SfCtx *ctx, SfEvent *ev, gconstpointer arg);
/* Turns the XML arg="" string into the operator's argument, at load time.
 * Returns FALSE with @error set (the loader adds file:line). */
typedef gboolean (*SfOpFixup) (const char *text, gpointer *out_arg, GError **error);

/* The error domain fix-ups use for a bad arg="" (code 0). */
#define SF_OP_ARG_ERROR (sf_op_arg_error_quark ())
SF_API GQuark sf_op_arg_error_quark (void);

/* A name for a timer, event or instance: letters, digits, '_', '-' or '.'. */
SF_API gboolean sf_op_name_valid (const char *s);
/* The fix-up for an arg="" that is such a name (the arg becomes a string, free with g_free). */
SF_API gboolean sf_op_fixup_name (const char *text, gpointer *out_arg, GError **error);

typedef enum {
  SF_OPF_TRANSITIONS = 1 << 0, /* may return SF_OP_TRANSITION (so next="" means something) */
  SF_OPF_ARG_OR_ON = 1 << 1,   /* needs an arg, or an on="" naming its event (OpOnTimer): "$arg" in its triggers */
  SF_OPF_EXPR_ARG = 1 << 2,    /* its arg may hold ${...} expressions, checked at load, read with sf_ctx_expand() */
  SF_OPF_SETS_VAR = 1 << 3,    /* its arg is NAME=..., NAME a variable the flow declares (OpSet) */
} SfOpFlags;

typedef struct {
  const char *name;               /* XML name: "OpRing" */
  SfOpFunc func;                  /* C function: sf_op_ring */
  guint queues;                   /* SfQueueMask: where it may be placed */
  guint events;                   /* SfEventKind mask: what it looks at; others are SKIPped unseen */
  guint flags;                    /* SfOpFlags */
  const char *const *outcomes;    /* NULL-terminated named outcomes, or NULL */
  SfArgMode arg_mode;
  SfOpFixup fixup;                /* NULL: the arg is passed as the string itself */
  GDestroyNotify arg_free;        /* frees what fixup returned */
  const char *doc;                /* what it does: a sentence or a short paragraph */
  /* Since SF_PLUGIN_ABI_VERSION 4 (flow language 2, docs/engine.md "Triggers"): */
  const char *triggers;           /* the events it reacts to, as on="" writes them ("sip:INVITE",
                                     "timer:$arg", "device:answer|timer:answer"); "*" any.  NULL:
                                     any event of the kinds in @events */
  const char *arg_doc;            /* the arg's syntax ("NAME=DURATION"); NULL when it takes none */
  const char *rfc;                /* the RFC section it implements ("RFC 3261 17.2.1"), or NULL */
} SfOperatorDef;

/* ---- what an operator may do, through its context ---- */
SF_API const char *sf_ctx_handle (SfCtx *ctx);          /* "c1" */
SF_API const char *sf_ctx_state (SfCtx *ctx);           /* current state name */
SF_API const char *sf_ctx_op_name (SfCtx *ctx);         /* "OpRing", for logs */

/* Starts (or restarts) the instance's timer @name; it fires as an SF_EV_TIMER event named @name. */
SF_API void sf_ctx_timer_start (SfCtx *ctx, const char *name, guint64 ms);
/* Returns TRUE when the timer was running. */
SF_API gboolean sf_ctx_timer_cancel (SfCtx *ctx, const char *name);
SF_API gboolean sf_ctx_timer_running (SfCtx *ctx, const char *name);

/* Posts @ev (transfer full) to this instance, after the current event. */
SF_API void sf_ctx_post_self (SfCtx *ctx, SfEvent *ev);
/* Posts @ev (transfer full) to the instance of @scope with @key.  FALSE when there is none. */
SF_API gboolean sf_ctx_post (SfCtx *ctx, const char *scope, const char *key, SfEvent *ev);
/* Posts @ev (transfer full) to the parent instance.  FALSE when there is none. */
SF_API gboolean sf_ctx_post_parent (SfCtx *ctx, SfEvent *ev);
/* Creates a child instance of the machine the flow imported as @machine; its end
 * reaches this instance as an SF_EV_CHILD event named "end". */
SF_API SfInstance *sf_ctx_spawn (SfCtx *ctx, const char *machine, const char *key, GError **error);
/* Hands this instance's key to @child, a live child of the same scope: events
 * posted by key (a SIP request of the call) reach the child from now on, and
 * this instance is left keyless (docs/engine.md, "Handing a call over").
 * FALSE, nothing changed, when this instance has no key or @child is not its
 * child of the same scope.  Since 0.2. */
SF_API gboolean sf_ctx_hand_key (SfCtx *ctx, SfInstance *child);

/* A plugin's own per-instance data: one pointer per instance for the plugin
 * whose operator is running (its namespace, "ns" of "ns:Op"), kept in the
 * plugin's slot of the instance and freed with it by @destroy (nullable).
 * Setting another value frees the one it replaces; NULL clears it.  Only for
 * a plugin's operators (a critical, and NULL, from others). */
SF_API gpointer sf_ctx_plugin_data (SfCtx *ctx);
SF_API void sf_ctx_set_plugin_data (SfCtx *ctx, gpointer data, GDestroyNotify destroy);

/* Expands the ${...} pseudo-variables of @text for @ev (docs/engine.md,
 * "Expressions"; the loader checked them when the arg came from a binding of an
 * SF_OPF_EXPR_ARG operator); an absent value reads as empty (transfer full). */
SF_API char *sf_ctx_expand (SfCtx *ctx, SfEvent *ev, const char *text);
/* The instance's variable @name (<var>): its value (transfer none), NULL when
 * the flow declares no such variable. */
SF_API const char *sf_ctx_var (SfCtx *ctx, const char *name);
/* Sets it (cut to 1024 bytes); FALSE when the flow declares no such variable. */
SF_API gboolean sf_ctx_set_var (SfCtx *ctx, const char *name, const char *value);

/* Writes one event line on the endpoint's event output:
 * {"event":@event,"call"|"instance":handle,"machine":..., then @fields (already-JSON
 * "key":value pairs joined by ',', or NULL)}. */
SF_API void sf_ctx_emit (SfCtx *ctx, const char *event, const char *fields);
/* Whether sf_ctx_emit writes anything (the "flow" event class is on and the
 * event output is read): an operator on a hot path builds its fields only then.
 * Since 0.2. */
SF_API gboolean sf_ctx_emits (SfCtx *ctx);

G_END_DECLS
