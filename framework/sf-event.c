/* sf-event.c: typed reference-counted events (see sf-event.h). */
#include "config.h"
#include "states/sf-event-private.h"

SfEvent *
sf_event_new_full (SfEventKind kind, const char *name, const char *arg,
                   gpointer payload, GDestroyNotify payload_free)
{
  g_return_val_if_fail (name != NULL, NULL);
  SfEvent *ev = g_new0 (SfEvent, 1);
  g_ref_count_init (&ev->ref);
  ev->kind = kind;
  ev->name = g_strdup (name);
  ev->arg = g_strdup (arg);
  ev->payload = payload;
  ev->payload_free = payload_free;
  return ev;
}

SfEvent *
sf_event_new (SfEventKind kind, const char *name, const char *arg)
{
  return sf_event_new_full (kind, name, arg, NULL, NULL);
}

SfEvent *
sf_event_ref (SfEvent *ev)
{
  g_return_val_if_fail (ev != NULL, NULL);
  g_ref_count_inc (&ev->ref);
  return ev;
}

void
sf_event_unref (SfEvent *ev)
{
  if (ev == NULL || !g_ref_count_dec (&ev->ref))
    return;
  if (ev->payload_free != NULL && ev->payload != NULL)
    ev->payload_free (ev->payload);
  g_free (ev->name);
  g_free (ev->arg);
  g_free (ev->trigger);
  g_free (ev);
}

static const struct { SfEventKind kind; const char *name; } kind_names[] = {
  { SF_EV_SIP, "sip" },       { SF_EV_TXN, "txn" },     { SF_EV_TIMER, "timer" },
  { SF_EV_DEVICE, "device" }, { SF_EV_MEDIA, "media" }, { SF_EV_CHILD, "child" }, { SF_EV_TASK, "task" },
  { SF_EV_START, "start" },
};

const char *
sf_event_kind_name (SfEventKind kind)
{
  for (gsize i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (kind_names[i].kind == kind)
      return kind_names[i].name;
  return "unknown";
}

SfEventKind
sf_event_kind_from_name (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (kind_names); i++)
    if (g_strcmp0 (kind_names[i].name, name) == 0)
      return kind_names[i].kind;
  return 0;
}

const char *
sf_event_trigger (SfEvent *ev)
{
  if (ev->trigger == NULL)
    ev->trigger = g_strconcat (sf_event_kind_name (ev->kind), ":", ev->name, NULL); /* not a printf: once an event */
  return ev->trigger;
}

void
sf_child_end_free (SfChildEnd *ce)
{
  if (ce == NULL)
    return;
  g_free (ce->machine);
  g_free (ce->import);
  g_free (ce->handle);
  g_free (ce->final_state);
  g_free (ce);
}

SfEventKind
sf_event_kind (SfEvent *ev)
{
  return ev->kind;
}

const char *
sf_event_name (SfEvent *ev)
{
  return ev->name;
}

const char *
sf_event_arg (SfEvent *ev)
{
  return ev->arg;
}

gpointer
sf_event_payload (SfEvent *ev)
{
  return ev->payload;
}
