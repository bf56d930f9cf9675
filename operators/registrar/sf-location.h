/* sf-location.h: the location service (RFC 3261 10.3, 16.5): bindings from an
 * address-of-record to contacts, behind an asynchronous interface (docs/architecture.md:
 * a lookup's result comes back as an event), so a persistent store or one
 * shared by several servers can replace the in-memory one without touching the
 * flows.  Results are delivered in a later main-loop iteration, never from
 * inside the call that asked. */
#pragma once
#include <glib.h>
#include "framework/sf-clock.h"

G_BEGIN_DECLS

#define SF_LOCATION_ERROR (sf_location_error_quark ())
GQuark sf_location_error_quark (void);
typedef enum {
  SF_LOCATION_ERROR_OUT_OF_ORDER, /* same Call-ID, CSeq not higher (10.3 step 7): 500 */
  SF_LOCATION_ERROR_FULL,         /* too many bindings for one address-of-record */
  SF_LOCATION_ERROR_STORE_FULL,   /* too many addresses-of-record (sf_location_set_max_aors) */
} SfLocationError;

/* Most contacts one address-of-record may hold. */
#define SF_LOCATION_MAX_BINDINGS 32

typedef struct {
  char *contact;      /* the Contact URI as registered */
  double q;           /* 0..1, 1 when the Contact had no q */
  gint64 expires_at;  /* clock seconds */
  char *call_id;
  guint32 cseq;
} SfLocBinding;

void sf_loc_binding_free (SfLocBinding *b);

/* One Contact of a REGISTER (10.3 step 7): @expires_s 0 removes it. */
typedef struct {
  const char *contact;
  double q;
  gint64 expires_s;
} SfLocChange;

/* The result of a lookup or an update: the address-of-record's live bindings
 * (SfLocBinding*, best q first), or an error. */
typedef struct {
  GPtrArray *bindings;   /* owned */
  GError *error;         /* owned, nullable */
  gint64 now;            /* clock seconds when it was made (for the expires left) */
} SfLocationResult;
void sf_location_result_free (SfLocationResult *r);

/* Called once with the result (transfer full); @data is then the callee's to free. */
typedef void (*SfLocationFunc) (SfLocationResult *result, gpointer data);

typedef struct _SfLocation SfLocation;

/* The in-memory store, its expiries read from @clock (unowned, outlives it). */
SfLocation *sf_location_new_memory (SfClock *clock);
/* At most @max addresses-of-record with bindings (0: no limit): a REGISTER that
 * would add one more, once the expired ones are purged, gets
 * SF_LOCATION_ERROR_STORE_FULL. */
void sf_location_set_max_aors (SfLocation *loc, guint max);
/* Results not delivered yet are dropped (their data freed with data_free). */
void sf_location_free (SfLocation *loc);

/* The live bindings of @aor (canonical, 10.3), to @done later in the main context. */
void sf_location_lookup (SfLocation *loc, const char *aor, SfLocationFunc done, gpointer data,
                         GDestroyNotify data_free);
/* One REGISTER's changes for @aor (10.3 steps 6-7): with @remove_all (Contact: *)
 * every binding goes; a binding with the same Call-ID and a CSeq not higher
 * refuses the whole update (SF_LOCATION_ERROR_OUT_OF_ORDER).  @done gets the
 * bindings after the update. */
void sf_location_update (SfLocation *loc, const char *aor, const char *call_id, guint32 cseq, gboolean remove_all,
                         const SfLocChange *changes, guint n_changes, SfLocationFunc done, gpointer data,
                         GDestroyNotify data_free);
/* Bindings held now (all addresses-of-record), for stats and tests. */
guint sf_location_size (SfLocation *loc);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfLocationResult, sf_location_result_free)

G_END_DECLS
