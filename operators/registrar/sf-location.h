/* sf-location.h: the location service (RFC 3261 10.3, 16.5): bindings from an
 * address-of-record to contacts, behind an asynchronous interface (docs/architecture.md:
 * a lookup's result comes back as an event), so a persistent store or one
 * shared by several servers can replace the in-memory one without touching the
 * flows.  Results are delivered later (a later main-loop iteration, or the
 * endpoint's batch: sf_location_answer_in), never from
 * inside the call that asked.
 *
 * How it is built: a memory core plus an optional persistence layer
 * (sf-location-store.h).  The core (a hash of address-of-record -> bindings)
 * answers every lookup and checks every update (CSeq order, the limits) on the
 * main thread, so the hot path never queries a database.  With a persistence
 * layer (location.backend = sqlite) the core is loaded from it at start, and
 * each accepted update hands the address-of-record's new bindings to it; the
 * update's result is delivered only once they are committed, so a REGISTER is
 * answered 200 only for bindings that survive a crash.  A write that fails
 * gives the update SF_LOCATION_ERROR_STORE_FAILED and the core goes back to
 * what the store holds.  A store shared by several nodes (redis) is a
 * second kind of layer: it is authoritative, the core stays empty, and each
 * lookup and update is a command to it (it checks CSeq order and the limits
 * itself, atomically); the interface below is the same for it. */
#pragma once
#include <glib.h>
#include "framework/sf-clock.h"
#include "framework/sf-metrics.h"
#include "framework/sf-workers.h"

G_BEGIN_DECLS

#define SF_LOCATION_ERROR (sf_location_error_quark ())
GQuark sf_location_error_quark (void);
typedef enum {
  SF_LOCATION_ERROR_OUT_OF_ORDER, /* same Call-ID, CSeq not higher (10.3 step 7): 500 */
  SF_LOCATION_ERROR_FULL,         /* too many bindings, or bytes, for one address-of-record */
  SF_LOCATION_ERROR_STORE_FULL,   /* too many addresses-of-record (sf_location_set_max_aors) */
  SF_LOCATION_ERROR_STORE_FAILED, /* the persistence layer could not write it (disk full, locked): 500, Retry-After */
  SF_LOCATION_ERROR_UNAVAILABLE,  /* a lookup the shared store (redis) did not answer in time: 503, Retry-After */
} SfLocationError;

/* Most contacts one address-of-record may hold. */
#define SF_LOCATION_MAX_BINDINGS 32
/* Most bytes the strings of one address-of-record's bindings may take
 * together: each binding copies its REGISTER's Call-ID and Path, so without
 * it one message of 64 KiB would make 32 times that (SF_LOCATION_ERROR_FULL). */
#define SF_LOCATION_MAX_AOR_BYTES (64 * 1024)

/* One binding (schema version 1 of the sqlite store holds each field).  The
 * strings are owned; the nullable ones are NULL when the REGISTER did not say.
 * A binding is counted by reference, so the results of lookups and updates
 * and the rows handed to the sqlite writer share the core's bindings instead
 * of copying each one's strings: once it has a second owner (refs above 0)
 * nobody changes it, since another worker's thread or the writer's may be
 * reading it (an update replaces a shared binding by a new one). */
typedef struct {
  char *contact;      /* the Contact URI as registered */
  double q;           /* 0..1, 1 when the Contact had no q */
  gint64 expires_at;  /* wall-clock UNIX seconds (sf_clock_wall_us): they outlive a restart */
  char *call_id;
  guint32 cseq;
  char *source;       /* nullable: "192.0.2.1:5060", the address the REGISTER came from */
  char *transport;    /* nullable: "udp" or "tcp", how it came */
  char *local;        /* nullable: "127.0.0.1:5060", the local socket it came in on */
  char *flow;         /* nullable: "TRANSPORT:SOURCE" ("udp:198.51.100.9:40000") when its REGISTER came from behind NAT (sf-nat.h): requests go there; RFC 5626 outbound will set it too */
  char *path;         /* nullable: its Path values, comma-separated (RFC 3327) */
  char *instance;     /* nullable: the Contact's +sip.instance (RFC 5626 4.1) */
  guint32 reg_id;     /* the Contact's reg-id, 0 without one */
  char *node;         /* nullable: the node that received it, "host:port" as others reach it (sip.advertise's host when set) */
  gint refs;          /* atomic: owners beyond the first (0 as g_new0 makes it: one owner) */
} SfLocBinding;

/* Drops one owner's reference; the last one frees the binding (NULL: nothing). */
void sf_loc_binding_free (SfLocBinding *b);
/* One more owner (atomic: the owners may be in different threads); returns @b. */
SfLocBinding *sf_loc_binding_ref (SfLocBinding *b);

/* One Contact of a REGISTER (10.3 step 7): @expires_s 0 removes it.  The
 * strings are borrowed for the call. */
typedef struct {
  const char *contact;
  double q;
  gint64 expires_s;
  const char *instance;  /* nullable: +sip.instance */
  guint32 reg_id;        /* 0: none */
} SfLocChange;

/* What one REGISTER says about where it came from, the same for each of its
 * contacts (borrowed for the call; every field nullable). */
typedef struct {
  const char *source, *transport, *local, *flow, *path, *node;
} SfLocOrigin;

/* The result of a lookup or an update: the address-of-record's live bindings
 * (SfLocBinding*, best q first), or an error. */
typedef struct {
  GPtrArray *bindings;   /* owned */
  GError *error;         /* owned, nullable */
  gint64 now;            /* wall-clock seconds when it was made (for the expires left) */
} SfLocationResult;
void sf_location_result_free (SfLocationResult *r);

/* Called once with the result (transfer full); @data is then the callee's to free. */
typedef void (*SfLocationFunc) (SfLocationResult *result, gpointer data);

typedef struct _SfLocation SfLocation;

/* The in-memory store, its expiries read from @clock's wall time (unowned, outlives it). */
SfLocation *sf_location_new_memory (SfClock *clock);
/* The memory core over the SQLite file @path (made when missing, its schema
 * migrated to the current version), its live bindings loaded; NULL with an
 * error naming the file when it cannot be opened, is not a database or has a
 * schema newer than this program's.  A write waits at most @busy_timeout_ms
 * for a lock held by another process. */
SfLocation *sf_location_new_sqlite (SfClock *clock, const char *path, guint busy_timeout_ms, GError **error);
/* The Redis layer (location.uri @uri, redis://[:PASSWORD@]HOST[:PORT][/DB];
 * @password nullable): every lookup and update a command to Redis, answered or
 * failed within @timeout_ms (docs/servers.md).  It connects in the
 * background and again after a failure; NULL only for a bad URI. */
SfLocation *sf_location_new_redis (SfClock *clock, const char *uri, const char *password, guint timeout_ms,
                                   GError **error);
/* Worker @w's (1 to N - 1) view of worker 0's location @home (docs/workers.md):
 * a store that holds nothing itself, like redis, whose updates run on @home
 * through @set's inboxes and whose lookups read @home's mirror of its
 * bindings (sf-location-worker.c, sf-location-mirror.h), which this turns
 * on: made while @home's thread does not run (worker 0 waits for the other
 * workers' setup).  @home and @set must outlive it.  Past @max_asks requests
 * in flight (0: no limit) an update gets SF_LOCATION_ERROR_STORE_FAILED at
 * once (in a later iteration); so does a lookup, SF_LOCATION_ERROR_UNAVAILABLE,
 * when @home is a shared store's (it has no mirror: its lookups cross too). */
SfLocation *sf_location_new_worker (SfClock *clock, SfWorkers *set, guint w, SfLocation *home, guint max_asks);
/* The requests a worker's view answered busy past its max_asks (0 for any other location). */
guint64 sf_location_worker_busy (SfLocation *loc);
/* At most @max addresses-of-record with bindings (0: no limit): a REGISTER that
 * would add one more, once the expired ones are purged, gets
 * SF_LOCATION_ERROR_STORE_FULL.  With redis, the keys of its database
 * (DBSIZE, whatever else the database holds: it is the store's alone) are
 * counted instead, in the script that adds the new key. */
void sf_location_set_max_aors (SfLocation *loc, guint max);
/* The answers the memory core gives itself (every lookup, an update with no
 * persistence layer, a refused update) run from @ep's batch once its queue is
 * empty (sf_endpoint_defer), not from an idle source: the same turn of the
 * loop, not one more poll; still never from inside the call that asked.  @ep
 * (unowned) runs on the thread that uses @loc and outlives it (the registrar's
 * endpoint, whose module teardown frees @loc).  Without it (tests, tools) an
 * idle source of the thread-default main context answers. */
void sf_location_answer_in (SfLocation *loc, struct _SfEndpoint *ep);
/* Writes already handed to the persistence layer are committed first (sqlite:
 * this loop iteration's, and the writer thread's queue); results not
 * delivered yet are dropped
 * (their data freed with data_free). */
void sf_location_free (SfLocation *loc);

/* The live bindings of @aor (canonical, 10.3), to @done later in the main context. */
void sf_location_lookup (SfLocation *loc, const char *aor, SfLocationFunc done, gpointer data,
                         GDestroyNotify data_free);
/* One REGISTER's changes for @aor (10.3 steps 6-7): with @remove_all (Contact: *)
 * every binding goes; a binding with the same Call-ID and a CSeq not higher
 * refuses the whole update (SF_LOCATION_ERROR_OUT_OF_ORDER).  @origin
 * (nullable) is recorded in each binding it adds or refreshes.  @done gets
 * the bindings after the update, once they are written through. */
void sf_location_update (SfLocation *loc, const char *aor, const char *call_id, guint32 cseq, const SfLocOrigin *origin,
                         gboolean remove_all, const SfLocChange *changes, guint n_changes, SfLocationFunc done,
                         gpointer data, GDestroyNotify data_free);
/* Bindings held now (all addresses-of-record), for stats and tests (0 with redis: the node holds none). */
guint sf_location_size (SfLocation *loc);
/* What the persistence layer is asked: a shared store's lookups and updates,
 * a write-through store's writes (sqlite; a shared store writes none). */
typedef enum { SF_LOC_OP_LOOKUP, SF_LOC_OP_UPDATE, SF_LOC_OP_WRITE, SF_LOC_N_OPS } SfLocOp;
/* How long the store took to answer @op, from the ask to the answer in the main
 * context (transfer none; empty for the memory backend). */
const SfMetricHistogram *sf_location_latency (SfLocation *loc, SfLocOp op);
/* Has @loc a store behind its memory (sqlite, redis)? */
gboolean sf_location_persistent (SfLocation *loc);

/* ---- looking inside (docs/servers.md "Looking inside") ---- */

/* One binding of @aor (both borrowed for the call); FALSE stops the walk. */
typedef gboolean (*SfLocationEachFunc) (const char *aor, const SfLocBinding *b, gpointer data);
/* The live bindings in the memory core, now, address-of-record by
 * address-of-record in byte order (@aor non-NULL: only its), synchronously:
 * the control commands read what the lookups read.  With redis the node holds
 * none: nothing is walked (sf_location_shared says so; use redis-cli). */
void sf_location_each (SfLocation *loc, const char *aor, SfLocationEachFunc f, gpointer data);
/* Removes @aor's binding to @contact (NULL: every binding of @aor) whatever
 * its Call-ID and CSeq, then writes the address-of-record through like an
 * update (the persistence layer follows; a write that fails puts back what
 * the store holds).  Returns the bindings removed from the core. */
guint sf_location_remove (SfLocation *loc, const char *aor, const char *contact);

/* Removes every binding on @flow (sf_nat_flow's "ws:IP:PORT"), as
 * sf_location_remove does each: its connection closed.  On a worker other
 * than 0 (sf_location_new_worker) the removal is handed to worker 0's
 * location, which removes them in a later turn of its own (dropped, the
 * bindings left to expire, when its inbox is full: a remote party's closes
 * are bounded there as its datagrams are); a shared store's are left to
 * expire.  Returns the bindings removed here and now. */
guint sf_location_remove_flow (SfLocation *loc, const char *flow);
/* For tests: how many addresses-of-record sf_location_remove_flow has looked
 * at (only those with a binding on the flow: an index, not a walk); does that
 * index match the bindings the core holds (a full walk)? */
guint64 sf_location_flow_visits (SfLocation *loc);
gboolean sf_location_flows_exact (SfLocation *loc);
/* For tests: a sqlite location's write failures logged at most a line every
 * @ms, not every 10 s (before its first write). */
void sf_location_sqlite_warn_every (SfLocation *loc, guint ms);

/* TRUE when the bindings live in a store several nodes share (redis), not in
 * this node: sf_location_each and sf_location_remove see none of them. */
gboolean sf_location_shared (SfLocation *loc);

/* The offline tools (sipflow location), on the SQLite file @path through the
 * layer's own code (sf-location-sqlite.c): it must exist and hold a location
 * store (else an error naming it; it is never made); other processes may
 * have it open (a lock they hold is waited for @busy_timeout_ms).  Each row,
 * the expired ones too, in address-of-record then contact order (@aor
 * non-NULL: only its). */
gboolean sf_location_file_each (const char *path, guint busy_timeout_ms, const char *aor, SfLocationEachFunc f,
                                gpointer data, GError **error);
/* Deletes every row of @aor, or with @aor NULL the rows expired at @now
 * (wall-clock seconds); *@removed (nullable) gets how many. */
gboolean sf_location_file_purge (const char *path, guint busy_timeout_ms, const char *aor, gint64 now,
                                 guint64 *removed, GError **error);

/* The same on the Redis store @uri (redis://..., @password nullable: it wins
 * over the URI's), each command bounded by @timeout_ms: every address-of-
 * record's hash (SCAN; @aor non-NULL: only its) in byte order, each read by
 * the nodes' own script, so a binding that cannot be read is left out (and
 * counted on standard error).  Purging the expired bindings rewrites each
 * hash atomically beside the nodes' updates; purging @aor deletes its hash. */
gboolean sf_location_redis_each (const char *uri, const char *password, guint timeout_ms, const char *aor,
                                 SfLocationEachFunc f, gpointer data, GError **error);
gboolean sf_location_redis_purge (const char *uri, const char *password, guint timeout_ms, const char *aor,
                                  gint64 now, guint64 *removed, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfLocationResult, sf_location_result_free)

G_END_DECLS
