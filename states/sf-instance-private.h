/* sf-instance-private.h: the instance's fields, for states/ and its host.
 *
 * The fields the host keeps for its own bookkeeping (id, scoped_key, timers,
 * fired) live here too, so that an instance is one allocation. */
#pragma once
#include <glib.h>
#include "sf-machine.h"
#include "sf-runtime.h"
#include "sf-instance.h"

/* A running timer of an instance (SfInstance.timers). */
typedef struct {
  const char *name;        /* unowned: the name its heap entry's data holds (freed with the
                            * entry, after the host forgets this) */
  struct _SfTimer *timer;  /* unowned: the host's heap owns it */
} SfInstanceTimer;

/* The host's index key of an instance: the text, scope "\x1f" key, and its
 * hash, made once.  The table of keys (sf-endpoint.c) hashes by the field:
 * a key of a call's instance is some 80 bytes (a Call-ID and tags), and it was
 * hashed again to check it, to insert it and to remove it. */
typedef struct {
  char *text;
  guint hash;
} SfScopedKey;

/* A timer of an instance that fired, its event still queued (SfInstance.fired). */
typedef struct {
  struct _SfEvent *ev;     /* a ref: the queued timer event (its name is the timer's) */
  guint gen;               /* the generation it fired with: the queued event is delivered if it
                            * still matches (not cancelled or restarted since) */
} SfFiredTimer;

G_BEGIN_DECLS

typedef struct {
  gpointer data;
  GDestroyNotify destroy;     /* nullable */
} SfInstanceSlot;

struct _SfInstance {
  SfRuntime *rt;           /* unowned: the runtime it runs in (its host outlives it) */
  guint64 id;              /* the host's: unique in the host, never reused */
  char handle[12];         /* "c1": a scope's letter and a guint's digits (sf_endpoint_create),
                            * in the instance rather than a string of its own */
  const char *key;         /* nullable: inside scoped_key (after the scope and "\x1f") */
  SfScopedKey scoped_key;  /* the host's index key (its text owned, nullable) */
  SfMachine *machine;      /* owned ref */
  SfState *state;          /* unowned: in machine */
  guint64 parent_id;       /* 0: none (by id, so a parent's end never dangles) */
  SfInstanceTimer *timers; /* the host's: its running timers, n_timers of them, in timers_room or
                            * allocated when more run at once.
                            * An array searched in order, not a table: an instance runs a few
                            * timers at a time, and a live transaction in Completed one (Timer J),
                            * which a table made 250 bytes (with its name) */
  guint n_timers;
  SfInstanceTimer timers_room[2]; /* timers' array while it holds no more: most instances run one or
                            * two at a time (a client transaction A and B), and an array
                            * allocated and freed with each start and stop cost 14 a call */
  SfFiredTimer *fired;     /* the host's, nullable when none: n_fired timers fired whose events are
                            * not delivered yet, one a name.  An array searched in order, made
                            * when first needed and freed with its last entry: a table was some
                            * 200 bytes and five allocations, for one entry or two */
  guint n_fired;
  char *import_name;       /* owned, nullable: the name its parent imported its machine as */
  SfInstanceSlot slot0;    /* the first slot set (an instance rarely has two: its transaction's
                            * or its proxy's data), here rather than in an array; data NULL: free */
  guint slot0_id;
  SfInstanceSlot *slots;   /* owned array of n_slots by id, nullable: the other slots */
  guint n_slots;
  gboolean started;        /* its initial entry queue ran */
  gboolean ended;
  gint64 created_us;
  char *event_fields;      /* the host's, owned, nullable: "key":value JSON fields its event lines carry */
  char **vars;             /* owned, nullable until one is set: machine->vars->len values (NULL: its init) */
};

/* A new instance of @machine (a ref is taken) in its initial state, running in
 * @rt, with no timer tables yet and no data.  The host sets id, handle, key,
 * parent_id and created_us.  Free with sf_instance_free(). */
SfInstance *sf_instance_new (SfRuntime *rt, SfMachine *machine);
/* Frees @inst: its slots (highest first), then the rest.
 * The host removes it from its tables and timer heap first. */
void sf_instance_free (SfInstance *inst);

G_END_DECLS
