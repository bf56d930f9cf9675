/* sf-trigger.h: what a binding reacts to, as the flow writes it in on="...".
 *
 * A trigger names a kind of event and, optionally, its name and (for SIP
 * responses) a status range:
 *     sip:INVITE   sip:response   sip:response 3xx   sip:response 486
 *     timer:no_answer   device:answer   media:dtmf   txn:timeout   child:end
 *     start:create   task:done   sip   *:hangup   *
 * Several are joined with '|': on="device:hangup|device:shutdown".  A name '*'
 * (or none) is any name of that kind; the kind '*' is any kind.
 *
 * Operators declare the triggers they accept in the same syntax
 * (SfOperatorDef.triggers), where the name "$arg" stands for the binding's arg
 * (OpOnTimer accepts "timer:$arg").  The loader refuses a binding whose on=""
 * is not covered by its operator's triggers, and the dispatcher calls an
 * operator only for the events its binding's triggers match
 * (docs/engine.md, "Triggers"). */
#pragma once
#include <glib.h>
#include "sipflow/sf-event.h"

G_BEGIN_DECLS

typedef struct {
  guint kinds;        /* SfEventKind mask: one kind, or every kind for '*' */
  char *name;         /* owned, nullable: NULL is any name */
  guint16 status_lo;  /* sip:response only; 0 and 0: any status */
  guint16 status_hi;
} SfTrigger;

typedef struct {
  guint n;
  guint kinds;        /* the union of the triggers' kinds: a cheap first test */
  SfTrigger *t;       /* owned array of n */
  char *text;         /* owned: as written, normalised ("sip:response 3xx|timer:B") */
} SfTriggerSet;

/* Parses @text.  "$arg" as a name becomes @arg (nullable: then any name);
 * @allow_arg FALSE makes "$arg" an error (a flow's on="" cannot use it). */
SfTriggerSet *sf_trigger_set_parse (const char *text, const char *arg, gboolean allow_arg, GError **error);
void sf_trigger_set_free (SfTriggerSet *set);
/* Does @ev match one of the triggers of @set? */
gboolean sf_trigger_set_matches (const SfTriggerSet *set, const SfEvent *ev);
/* Could the event written as @text be one that @set matches?  @text is an
 * event's trigger as a 'state' or 'step' event line gives it: KIND:NAME, then,
 * after a space, its argument ("sip:INVITE", "timer:B", "sip:response 180",
 * "txn:respond 200").  A response written without its status ("sip:response",
 * as event lines were before they carried it) matches whatever status @set
 * asks for.  FALSE for text that names no kind of event. */
gboolean sf_trigger_set_matches_text (const SfTriggerSet *set, const char *text);
/* Is every trigger of @on covered by one of @accepted?  FALSE with *@uncovered
 * (transfer full) the first trigger of @on that is not. */
gboolean sf_trigger_set_covers (const SfTriggerSet *accepted, const SfTriggerSet *on, char **uncovered);
/* One trigger as text (transfer full). */
char *sf_trigger_text (const SfTrigger *t);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfTriggerSet, sf_trigger_set_free)

G_END_DECLS
