/* sf-event-private.h: the fields of an event, for the engine's own code
 * (plugins read events through the accessors of include/sipflow/sf-event.h,
 * so the layout can change without breaking them). */
#pragma once
#include "sipflow/sf-event.h"

G_BEGIN_DECLS

struct _SfEvent {
  grefcount ref;
  SfEventKind kind;
  char *name;             /* owned: "answer", "B", "INVITE", "end" */
  char *arg;              /* owned, nullable: a device command's argument ("sip:bob@...") */
  gpointer payload;       /* owned through payload_free: SIP message, child info ... */
  GDestroyNotify payload_free;
  char *trigger;          /* owned, lazily built "kind:name" */
};

G_END_DECLS
