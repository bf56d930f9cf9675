/* sf-event.h: typed, reference-counted events, the one currency of the engine.
 *
 * Everything that can move a machine is an event with a kind the dispatcher checks
 * (docs/style.md: never downcast on what a peer chose) and a short name: a SIP message
 * ("INVITE", "180"), a transaction event ("timeout", "transport_error"), a timer
 * ("B"), a device/control command ("answer"), a media event ("eos"), or the end
 * of a child instance.  Its trigger string ("device:answer") is what traces print. */
#pragma once
#include <glib.h>
#include "sipflow/sf-api.h"

G_BEGIN_DECLS

typedef enum {
  SF_EV_SIP     = 1 << 0, /* a SIP message for this instance */
  SF_EV_TXN     = 1 << 1, /* from a transaction: timeout, transport error, ... */
  SF_EV_TIMER   = 1 << 2, /* a timer of this instance fired */
  SF_EV_DEVICE  = 1 << 3, /* device/control: call, answer, hangup, quit ... */
  SF_EV_MEDIA   = 1 << 4, /* media: eos, dtmf, stream lost ... */
  SF_EV_CHILD   = 1 << 5, /* a child instance ended */
  SF_EV_START   = 1 << 6, /* the instance was created (initial entry queue) */
  SF_EV_TASK    = 1 << 7, /* asynchronous work it asked for is done: a location lookup ... */
} SfEventKind;

#define SF_EV_ANY (SF_EV_SIP | SF_EV_TXN | SF_EV_TIMER | SF_EV_DEVICE | SF_EV_MEDIA | SF_EV_CHILD | SF_EV_START | SF_EV_TASK)

/* Opaque: read it through the accessors below (the engine's own code sees its
 * fields through states/sf-event-private.h). */
typedef struct _SfEvent SfEvent;

SF_API SfEvent *sf_event_new (SfEventKind kind, const char *name, const char *arg);
SF_API SfEvent *sf_event_new_full (SfEventKind kind, const char *name, const char *arg,
                            gpointer payload, GDestroyNotify payload_free);
SF_API SfEvent *sf_event_ref (SfEvent *ev);
SF_API void sf_event_unref (SfEvent *ev);
SF_API const char *sf_event_trigger (SfEvent *ev);
SF_API const char *sf_event_kind_name (SfEventKind kind);
/* Parses "sip", "timer", ... into a kind; returns 0 when unknown. */
SF_API SfEventKind sf_event_kind_from_name (const char *name);
SF_API SfEventKind sf_event_kind (SfEvent *ev);
SF_API const char *sf_event_name (SfEvent *ev);      /* "INVITE", "answer", "B" */
SF_API const char *sf_event_arg (SfEvent *ev);       /* nullable: a command's argument */
/* The payload (transfer none): an SF_EV_CHILD "end" event's SfChildEnd; a SIP
 * event's is the engine's (read it through sf_message_from_event, sf-message.h). */
SF_API gpointer sf_event_payload (SfEvent *ev);

/* Payload of an SF_EV_CHILD "end" event (its arg is the import name, or the
 * flow name).  The engine's strings live in the event's own block: read them
 * while the event is held, never free them or the payload. */
typedef struct {
  char *machine;      /* the child machine's flow name */
  char *import;       /* nullable: the name the parent imported it as (OpSpawn's arg) */
  char *handle;       /* the child's handle, "t3" */
  char *final_state;
} SfChildEnd;
/* Frees a SfChildEnd a caller made itself (g_new, each string g_strdup'd);
 * not one an event carries. */
SF_API void sf_child_end_free (SfChildEnd *ce);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfEvent, sf_event_unref)

G_END_DECLS
