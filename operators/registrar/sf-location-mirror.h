/* sf-location-mirror.h: worker 0's bindings, readable by the other workers
 * (docs/workers.md, "The location service").  Internal to
 * operators/registrar.
 *
 * Worker 0's location core is the only writer: after each change it makes to
 * an address-of-record (an update, expired bindings dropped, a remove, the
 * sqlite rollback, and at the start what was loaded) it publishes the
 * address-of-record's bindings here, before the change's result goes out.  The
 * other workers answer their lookups from here without crossing to worker 0.
 * A published list is never changed: a new one replaces it, under the
 * mirror's mutex, and the bindings are shared by reference (atomic counts;
 * a binding with two owners is never changed, sf-location.h).  The mirror
 * holds what the core holds, no more: the same addresses-of-record, the same
 * bindings. */
#pragma once
#include "sf-location.h"

G_BEGIN_DECLS

typedef struct _SfLocMirror SfLocMirror;

/* An empty mirror, off: publishing costs a flag read until sf_loc_mirror_enable. */
SfLocMirror *sf_loc_mirror_new (void);
SfLocMirror *sf_loc_mirror_ref (SfLocMirror *m);
void sf_loc_mirror_unref (SfLocMirror *m);
/* Turns @m on, once (any thread: the first call wins), filled from @aors
 * (char* -> GPtrArray of SfLocBinding*, the core's table), which its writer's
 * thread must not change meanwhile. */
void sf_loc_mirror_enable (SfLocMirror *m, GHashTable *aors);
/* Is @m on?  The writer's test before it publishes. */
gboolean sf_loc_mirror_on (SfLocMirror *m);
/* The writer: @aor now holds @list (borrowed, its bindings referenced; NULL
 * or empty: none).  Nothing when @m is off or closed. */
void sf_loc_mirror_publish (SfLocMirror *m, const char *aor, const GPtrArray *list);
/* The writer goes: everything is dropped and the readers find it closed. */
void sf_loc_mirror_close (SfLocMirror *m);
/* A reader: adds to @out a reference to each binding of @aor expiring after
 * @now (wall-clock seconds), in the core's order; FALSE (nothing added) once
 * closed. */
gboolean sf_loc_mirror_read (SfLocMirror *m, const char *aor, gint64 now, GPtrArray *out);
/* The bindings @m holds, expired ones too (tests: it holds what the core does). */
guint sf_loc_mirror_size (SfLocMirror *m);

/* @loc's mirror (transfer full), turned on and filled from its core now, or
 * NULL when @loc's bindings are in a shared store (redis: nothing to mirror).
 * While @loc's own thread does not use it ('sipflow run' sets the other
 * workers up while worker 0 waits for them). */
SfLocMirror *sf_location_mirror (SfLocation *loc);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfLocMirror, sf_loc_mirror_unref)

G_END_DECLS
