/* sf-event-private.h: the fields of an event, for the engine's own code
 * (plugins read events through the accessors of include/sipflow/sf-event.h,
 * so the layout can change without breaking them). */
#pragma once
#include "sipflow/sf-event.h"

G_BEGIN_DECLS

struct _SfEvent {
  grefcount ref;
  SfEventKind kind;
  char *name;             /* in the event's block (sf-event.c): "answer", "B", "INVITE", "end" */
  char *arg;              /* in the block, nullable: a device command's argument ("sip:bob@...") */
  gpointer payload;       /* owned through payload_free: SIP message, child info ... */
  GDestroyNotify payload_free;
  char *trigger;          /* in the block: "kind:name", name its tail */
};

/* An SF_EV_CHILD "end" event whose SfChildEnd (the strings copied) lives in
 * the event's own block: one allocation, freed with the event. */
SfEvent *sf_event_new_child_end (const char *machine, const char *import, const char *handle,
                                 const char *final_state);

G_END_DECLS
