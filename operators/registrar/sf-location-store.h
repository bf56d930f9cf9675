/* sf-location-store.h: the persistence layer under the location service's
 * memory core (sf-location.h says how the two fit).  Internal to
 * operators/registrar.
 *
 * A layer is a small vtable: it loads the live bindings once at start, then
 * takes writes, each the whole set of bindings of one address-of-record after
 * an update (at most SF_LOCATION_MAX_BINDINGS rows, so a write costs the same
 * whatever happened before), and reports each write's outcome in the main
 * context it was opened in, in the order they were handed to it. */
#pragma once
#include "sf-location.h"

G_BEGIN_DECLS

typedef struct _SfLocStore SfLocStore;

/* A write's outcome, in the main context: @error NULL when committed; else
 * @committed (nullable, transfer full) holds the address-of-record's bindings
 * as the store still has them. */
typedef void (*SfLocWritten) (GError *error, GPtrArray *committed, gpointer data);

typedef struct {
  /* Adds the bindings expiring after @now (wall-clock seconds) to @aors
   * (char* -> GPtrArray of SfLocBinding*, both owned by the table).  Called
   * once, before any write. */
  gboolean (*load) (SfLocStore *s, gint64 now, GHashTable *aors, GError **error);
  /* Replaces the bindings of @aor with @bindings (transfer full; empty: it
   * has none); @written is called later with @data, unless the store is
   * closed first. */
  void (*write) (SfLocStore *s, const char *aor, GPtrArray *bindings, gint64 now, gpointer data);
  /* Commits what is queued, then closes and frees; no more callbacks. */
  void (*close) (SfLocStore *s);
} SfLocStoreClass;

struct _SfLocStore {
  const SfLocStoreClass *klass;
  SfLocWritten written;
};

/* The SQLite layer (sf-location-sqlite.c); its outcomes go to @written in the
 * thread-default main context of the caller. */
SfLocStore *sf_loc_sqlite_open (const char *path, guint busy_timeout_ms, SfLocWritten written, GError **error);

/* The current schema version (PRAGMA user_version). */
#define SF_LOC_SQLITE_SCHEMA 1

G_END_DECLS
