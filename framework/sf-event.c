/* sf-event.c: typed reference-counted events (see sf-event.h). */
#include "config.h"
#include "states/sf-event-private.h"
#include <string.h>

/* One block an event: the struct, then "kind:name" (the trigger, with the name
 * as its tail), then the argument.  Some 36 events a proxied call: one
 * allocation each instead of four (the struct, the name, the argument, the
 * trigger made on first use). */
SfEvent *
sf_event_new_full (SfEventKind kind, const char *name, const char *arg,
                   gpointer payload, GDestroyNotify payload_free)
{
  g_return_val_if_fail (name != NULL, NULL);
  const char *kname = sf_event_kind_name (kind);
  gsize klen = strlen (kname), nlen = strlen (name), alen = arg != NULL ? strlen (arg) + 1 : 0;
  SfEvent *ev = g_malloc (sizeof (SfEvent) + klen + 1 + nlen + 1 + alen);
  char *text = (char *) (ev + 1);
  g_ref_count_init (&ev->ref);
  ev->kind = kind;
  memcpy (text, kname, klen);
  text[klen] = ':';
  memcpy (text + klen + 1, name, nlen + 1);
  ev->trigger = text;
  ev->name = text + klen + 1;
  ev->arg = arg != NULL ? memcpy (ev->name + nlen + 1, arg, alen) : NULL;
  ev->payload = payload;
  ev->payload_free = payload_free;
  return ev;
}

/* child:end in one block too: the event, its SfChildEnd, then their strings
 * (four and a half children end a proxied call; five allocations each
 * before).  The payload lives and goes with the event: payload_free NULL. */
SfEvent *
sf_event_new_child_end (const char *machine, const char *import, const char *handle, const char *final_state)
{
  static const char kname[] = "child:end";
  const char *arg = import != NULL ? import : machine;
  gsize alen = strlen (arg) + 1, mlen = strlen (machine) + 1, hlen = strlen (handle) + 1;
  gsize flen = strlen (final_state) + 1, ilen = import != NULL ? strlen (import) + 1 : 0;
  /* the SfChildEnd right after the event (its pointers aligned), the text after it */
  G_STATIC_ASSERT (sizeof (SfEvent) % G_ALIGNOF (SfChildEnd) == 0);
  SfEvent *ev = g_malloc (sizeof (SfEvent) + sizeof (SfChildEnd) + sizeof kname + alen + mlen + hlen + flen + ilen);
  SfChildEnd *ce = (SfChildEnd *) (ev + 1);
  char *text = (char *) (ce + 1);
  g_ref_count_init (&ev->ref);
  ev->kind = SF_EV_CHILD;
  ev->trigger = memcpy (text, kname, sizeof kname);
  ev->name = text + sizeof "child:" - 1;
  text += sizeof kname;
  ev->arg = memcpy (text, arg, alen);
  text += alen;
  ce->machine = memcpy (text, machine, mlen);
  text += mlen;
  ce->handle = memcpy (text, handle, hlen);
  text += hlen;
  ce->final_state = memcpy (text, final_state, flen);
  text += flen;
  ce->import = import != NULL ? memcpy (text, import, ilen) : NULL;
  ev->payload = ce;
  ev->payload_free = NULL;
  return ev;
}

/* The reference count of an event that is never freed: start:create. */
#define STATIC_REF G_MAXINT

/* start:create, the first event of every instance (some fourteen a proxied
 * call, most of them replaced in the queue at once by the instance's first
 * real event, or made by the dispatcher for an initial entry queue): one
 * event for all, no allocation.  Nothing writes to an event after it is
 * made, and its count is left alone (sf_event_ref, sf_event_unref), so every
 * thread can share it. */
static char start_create_text[] = "start:create";
static SfEvent start_create = {
  .ref = STATIC_REF,
  .kind = SF_EV_START,
  .name = start_create_text + sizeof "start:" - 1,
  .trigger = start_create_text,
};

SfEvent *
sf_event_new (SfEventKind kind, const char *name, const char *arg)
{
  if (kind == SF_EV_START && arg == NULL && name != NULL && strcmp (name, "create") == 0) /* NULL: sf_event_new_full says so */
    return &start_create;
  return sf_event_new_full (kind, name, arg, NULL, NULL);
}

SfEvent *
sf_event_ref (SfEvent *ev)
{
  g_return_val_if_fail (ev != NULL, NULL);
  if (ev->ref != STATIC_REF)
    g_ref_count_inc (&ev->ref);
  return ev;
}

void
sf_event_unref (SfEvent *ev)
{
  if (ev == NULL || ev->ref == STATIC_REF || !g_ref_count_dec (&ev->ref))
    return;
  if (ev->payload_free != NULL && ev->payload != NULL)
    ev->payload_free (ev->payload);
  g_free (ev); /* its strings with it */
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
