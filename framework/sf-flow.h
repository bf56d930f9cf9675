/* sf-flow.h: the data of flow language 2 that is not a state or an operator:
 * expressions (${...} pseudo-variables), conditions (<if>, <all>, <any>,
 * <not>) and lists (docs/engine.md, "Conditions" and "Expressions").
 *
 * Everything is compiled and checked when the flow loads: an unknown
 * pseudo-variable or variable, a regular expression that does not compile, a
 * list file that cannot be read, a message field read by an operator whose
 * trigger carries no message -- each is a load error naming the line.  At run
 * time an absent header or value reads as empty, never as an error. */
#pragma once
#include <glib.h>
#include <libxml/tree.h>
#include "sipflow/sf-config.h"
#include "sipflow/sf-event.h"
#include "sipflow/sf-operator.h"
#include "states/sf-machine.h"

G_BEGIN_DECLS

typedef struct _SfExpr SfExpr;
typedef struct _SfCond SfCond;
typedef struct _SfFlowList SfFlowList;

/* What an expression may refer to, for the load-time checks. */
typedef struct {
  SfMachine *machine;     /* unowned: its variables */
  GHashTable *lists;      /* unowned, nullable: name -> SfFlowList */
  SfConfig *cfg;          /* unowned, nullable: without one, cfg.* names are checked for syntax only */
  guint kinds;            /* SfEventKind mask of the events it will see (the binding's triggers) */
  const char *triggers;   /* nullable: those triggers as text, for errors */
} SfFlowScope;

/* Compiles @text ("sip:${ruri.user}@example.com"; "$$" is a '$').  With
 * @scope NULL nothing is checked and an unknown name reads as empty. */
SfExpr *sf_expr_compile (const char *text, const SfFlowScope *scope, GError **error);
void sf_expr_free (SfExpr *e);
/* Its value for @ev in @ctx's instance (transfer full; never NULL). */
char *sf_expr_eval (const SfExpr *e, SfCtx *ctx, SfEvent *ev);

/* How the values read into a template are written (literal text and
 * configuration values, which the flow's author chose, never change):
 *   PLAIN   as they are (NUL bytes left out);
 *   URI     for a URI template (sip:${ruri.user}@gw): every byte but letters,
 *           digits and -_.!~*'()+ as %HH, so a value cannot add a target, a host,
 *           a parameter or a header (';' '@' ',' ' ' '?' '<' ...);
 *   HEADER  for a header line or reason phrase: control characters, DEL and
 *           < > , ; " \ as %HH, so a value cannot add a header or a value. */
typedef enum { SF_EXPAND_PLAIN, SF_EXPAND_URI, SF_EXPAND_HEADER } SfExpandMode;
char *sf_expr_eval_mode (const SfExpr *e, SfCtx *ctx, SfEvent *ev, SfExpandMode mode);
/* sf_ctx_expand() with a mode (transfer full). */
char *sf_ctx_expand_mode (SfCtx *ctx, SfEvent *ev, const char *text, SfExpandMode mode);
/* Checks every ${...} of @text against @scope (load time). */
gboolean sf_expr_check (const char *text, const SfFlowScope *scope, GError **error);

/* A list: inline items, or a file of one item per line ('#' starts a comment),
 * read again when it changes (looked at no more than once a second of the
 * endpoint's clock). */
SfFlowList *sf_flow_list_new_items (const char *const *items);
SfFlowList *sf_flow_list_new_file (const char *path, GError **error);
/* The same, read for @owner (nullable): the registry whose loader read it, so
 * that each worker reloads its own lists in its own thread. */
SfFlowList *sf_flow_list_new_file_of (const char *path, gconstpointer owner, GError **error);
void sf_flow_list_unref (SfFlowList *list);
/* @now_us: the endpoint clock's monotonic time (the file is looked at when a
 * second has passed since the last look). */
gboolean sf_flow_list_contains (SfFlowList *list, const char *value, gint64 now_us);

/* Reads every file list of the process again now (the control command
 * 'reload'): the number read; a file that cannot be read keeps its items and
 * its error is appended to @errors (nullable). */
guint sf_flow_lists_reload (GString *errors);
/* The same for the lists of @owner alone (NULL: every list): with workers,
 * each worker reloads its registry's lists in its own thread, as only it
 * reads them (docs/workers.md, "Handles, control commands and status"). */
guint sf_flow_lists_reload_of (gconstpointer owner, GString *errors);

/* Compiles the condition elements among @node's children (<if>, <all>, <any>,
 * <not>; several are all required) into one condition; NULL with no error when
 * there are none.  @error names the element's line. */
SfCond *sf_cond_from_children (const xmlNode *node, const SfFlowScope *scope, GError **error);
/* SfBinding.guard_eval and guard_free. */
gboolean sf_cond_eval (gconstpointer cond, SfCtx *ctx, SfEvent *ev);
void sf_cond_free (gpointer cond);

/* The conditions among @node's children in short, for pictures: "if ${status}
 * equals 486", "if time 09:00-17:00 mon-fri", "if all(...)" (transfer full). */
char *sf_cond_describe (const xmlNode *node);

/* Is @node a condition element? */
gboolean sf_cond_is_element (const xmlNode *node);

/* A response an action sends: "CODE [REASON] [| Header: value]..." (OpReply,
 * and the UA's OpReject, OpBusyHere), the reason and header values with ${...}. */
typedef struct {
  guint status;
  char *reason;       /* owned, nullable: the standard phrase */
  char **headers;     /* owned, NULL-terminated: "Name: value" templates */
} SfReplySpec;

/* The fix-up of such an argument (an SfOpFixup): *@out an SfReplySpec. */
gboolean sf_reply_spec_fixup (const char *text, gpointer *out, GError **error);
void sf_reply_spec_free (gpointer spec);
/* Its reason (transfer full, nullable) and header lines (transfer full,
 * NULL-terminated) for @ev: CR and LF in the values become spaces. */
char *sf_reply_spec_reason (const SfReplySpec *spec, SfCtx *ctx, SfEvent *ev);
char **sf_reply_spec_headers (const SfReplySpec *spec, SfCtx *ctx, SfEvent *ev);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfExpr, sf_expr_free)

G_END_DECLS
