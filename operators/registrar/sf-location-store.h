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

/* One REGISTER's update handed to a store that checks and applies it itself
 * (the arguments of sf_location_update, borrowed for the call). */
typedef struct {
  const char *call_id;
  guint32 cseq;
  const SfLocOrigin *origin;   /* nullable */
  gboolean remove_all;
  const SfLocChange *changes;
  guint n_changes;
  guint max_aors;              /* sf_location_set_max_aors (0: none): a new address-of-record past it is refused */
} SfLocUpdate;

/* The outcome of a store's own lookup or update, in the main context, never
 * from inside the call that asked: @error NULL and @bindings (transfer full)
 * the address-of-record's live bindings, or @error (transfer none) and
 * @bindings NULL. */
typedef void (*SfLocAnswered) (GError *error, GPtrArray *bindings, gpointer data);

typedef struct {
  /* Adds the bindings expiring after @now (wall-clock seconds) to @aors
   * (char* -> GPtrArray of SfLocBinding*, both owned by the table).  Called
   * once, before any write. */
  gboolean (*load) (SfLocStore *s, gint64 now, GHashTable *aors, GError **error);
  /* Replaces the bindings of @aor with @bindings (transfer full; empty: it
   * has none; the bindings are the core's too, read only, and may be
   * read in the store's own thread); @written is called later with @data,
   * unless the store is closed first. */
  void (*write) (SfLocStore *s, const char *aor, GPtrArray *bindings, gint64 now, gpointer data);
  /* Commits what is queued, then closes and frees; no more callbacks. */
  void (*close) (SfLocStore *s);
  /* Optional, for a store several nodes share (redis): it is authoritative,
   * so the memory core stays empty and lookups and updates go to it; their
   * outcomes go to answered with @data.  With them, load and write are not
   * called (they may be NULL). */
  void (*lookup) (SfLocStore *s, const char *aor, gint64 now, gpointer data);
  void (*update) (SfLocStore *s, const char *aor, const SfLocUpdate *u, gint64 now, gpointer data);
} SfLocStoreClass;

struct _SfLocStore {
  const SfLocStoreClass *klass;
  SfLocWritten written;
  SfLocAnswered answered;
};

/* The SQLite layer (sf-location-sqlite.c); its outcomes go to @written in the
 * thread-default main context of the caller. */
SfLocStore *sf_loc_sqlite_open (const char *path, guint busy_timeout_ms, SfLocWritten written, GError **error);
/* Tests: write failures logged at most a line every @ms, not every 10 s
 * (call it before the first write). */
void sf_loc_sqlite_warn_every (SfLocStore *store, guint ms);

/* The Redis layer (sf-location-redis.c) for location.uri @uri
 * (redis://[:PASSWORD@]HOST[:PORT][/DB]; @password, nullable, wins over the
 * URI's); each command answered or failed within @timeout_ms.  Connects in
 * the background: NULL only for a URI it cannot parse. */
SfLocStore *sf_loc_redis_open (const char *uri, const char *password, guint timeout_ms, SfLocAnswered answered,
                               GError **error);

/* A location over @store (taken), a store of the shared kind (lookup and
 * update): its answers go to the location's own answered. */
SfLocation *sf_location_new_over (SfClock *clock, SfLocStore *store);

/* The worker layer (sf-location-worker.c): worker @w's (not 0) updates run on
 * @home, worker 0's location (unowned: it and @set outlive the layer),
 * through the set's inboxes, and its lookups read @home's mirror; the
 * outcomes go to @answered in worker @w's context.  Past @max_asks requests
 * in flight (0: no limit) one is answered at once as busy. */
SfLocStore *sf_loc_worker_open (SfWorkers *set, guint w, SfLocation *home, guint max_asks, SfLocAnswered answered);
/* For a worker layer, hands the removal of @flow's bindings to worker 0's
 * location (sf_location_remove_flow there) and returns TRUE; FALSE for any
 * other store. */
gboolean sf_loc_worker_remove_flow (SfLocStore *store, const char *flow);
/* The requests a worker layer answered busy (0 for any other store). */
guint64 sf_loc_worker_busy (SfLocStore *store);

/* A parsed redis URI (sf_loc_redis_parse_uri); strings owned. */
typedef struct {
  char *host;       /* without the brackets of an IPv6 literal */
  guint port;       /* 6379 when not given */
  guint db;         /* 0 when not given */
  char *password;   /* nullable */
} SfLocRedisUri;
gboolean sf_loc_redis_parse_uri (const char *uri, SfLocRedisUri *out, GError **error);
void sf_loc_redis_uri_clear (SfLocRedisUri *u);

/* One binding as the script returns it (13 strings, NULL for a nil): a new
 * binding, or NULL with a reason in *@why when a field is not what it must be
 * (tests/unit/test-location.c feeds it hostile values). */
SfLocBinding *sf_loc_redis_decode (const char *const *fields, const gsize *lens, const char **why);
#define SF_LOC_REDIS_FIELDS 13

/* The current schema version (PRAGMA user_version). */
#define SF_LOC_SQLITE_SCHEMA 1

G_END_DECLS
