/* sf-location-sqlite.c: the location service's SQLite layer (see
 * sf-location-store.h, docs/servers.md "The location service on disk").
 *
 * One file, WAL journal, synchronous=NORMAL: a commit is in the WAL file when
 * COMMIT returns, so a killed process loses nothing committed; power loss may
 * lose the last commits (not yet checkpointed), never corrupt the file.
 *
 * Two connections.  The main context's commits the writes of one main-loop
 * iteration in one transaction (group commit) at the end of it, but only
 * when it can without waiting: its busy timeout is 0 and it never
 * checkpoints (a checkpoint fsyncs).  A hand-off to a thread and back cost two
 * wake-ups and a dozen system calls per REGISTER, more than the commit itself
 * (bench/README.md, round 5).  When the file is locked (another process, the
 * purge) or the commit fails, the same writes go to the writer thread, which
 * owns the second connection: it waits for the lock up to the busy timeout,
 * commits every write queued in one transaction (when SQLite refuses one
 * write, again with a savepoint each: that one fails alone), reports a
 * failure, and hands the outcomes back through one GSource; while any write is with it,
 * later ones go to it too, so outcomes keep their order.  The thread also
 * checkpoints the WAL when the main connection's commits grew it past
 * CHECKPOINT_PAGES, and deletes the expired rows every PURGE_EVERY_S seconds.
 * Every statement binds its values (no SQL is built from what a REGISTER
 * carries). */
#include "config.h"
#include "sf-location-store.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define PURGE_EVERY_S 60
#define CHECKPOINT_PAGES 1000 /* SQLite's own automatic checkpoint's threshold */
#define WARN_EVERY_S 10       /* write failures: a line at most this often (warn_write) */

typedef enum { OP_WRITE, OP_QUIT, OP_CHECKPOINT } OpKind;

typedef struct {
  OpKind kind;
  char *aor;             /* OP_WRITE's */
  GPtrArray *bindings;   /* owned */
  gint64 now;
  gpointer data;
  GError *error;         /* set by the writer on failure */
  GPtrArray *committed;  /* set by the writer on failure: what the store still holds */
} Op;

typedef struct _Store Store;
struct _Store {
  SfLocStore base;
  char *path;
  sqlite3 *db;           /* the main context's connection (the offline tools' only one) */
  sqlite3_stmt *del, *ins, *sel, *purge;
  sqlite3_stmt *begin, *commit; /* prepared once: sqlite3_exec would compile them at each batch */
  /* a server's store only: */
  Store *w;              /* the writer thread's connection and statements */
  GThread *thread;
  GAsyncQueue *in;       /* Op*, to the writer */
  GMutex lock;           /* guards out, last_now, last_mono */
  GQueue out;            /* Op*, done, to the main context */
  gint64 last_now, last_mono; /* the last write's wall clock (the main clock's, fake in tests), and when */
  GSource *wake;         /* in the opener's main context */
  GPtrArray *batch;      /* Op*, this iteration's writes, committed here at its end; main context only */
  guint with_writer;     /* ops handed to the thread and not back; main context only */
  gboolean checkpoint_asked; /* an OP_CHECKPOINT is with the thread; main context only */
  gint64 warn_next;      /* the writer's: no write failure is logged before (monotonic) */
  guint warn_quiet;      /* the writer's: failures left out since the last line */
  gint64 warn_every;     /* the writer's: WARN_EVERY_S in microseconds (shorter in tests) */
};

typedef struct {
  GSource source;
  Store *s;
} WakeSource;

static void
op_free (Op *op)
{
  g_free (op->aor);
  g_clear_pointer (&op->bindings, g_ptr_array_unref);
  g_clear_pointer (&op->committed, g_ptr_array_unref);
  g_clear_error (&op->error);
  g_free (op);
}

static gboolean
fail (Store *s, GError **error, const char *what)
{
  g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "location.uri: %s: %s: %s", s->path, what,
               sqlite3_errmsg (s->db));
  return FALSE;
}

static gboolean
exec (Store *s, const char *sql, GError **error)
{
  if (sqlite3_exec (s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    return fail (s, error, sql);
  return TRUE;
}

/* Version 0 (a new file) -> 1: the bindings table, its expiry index. */
static const char *const migrations[SF_LOC_SQLITE_SCHEMA] = {
  "CREATE TABLE binding ("
  " aor TEXT NOT NULL, contact TEXT NOT NULL, q REAL NOT NULL, expires INTEGER NOT NULL,"
  " call_id TEXT NOT NULL, cseq INTEGER NOT NULL, source TEXT, transport TEXT, local TEXT,"
  " flow TEXT, path TEXT, instance TEXT, reg_id INTEGER NOT NULL DEFAULT 0, node TEXT,"
  " PRIMARY KEY (aor, contact)) WITHOUT ROWID;"
  "CREATE INDEX binding_expires ON binding (expires);",
};

/* Brings the schema to SF_LOC_SQLITE_SCHEMA, one step a version, in one
 * transaction (two processes starting on one file migrate it once). */
static gboolean
migrate (Store *s, GError **error)
{
  if (!exec (s, "BEGIN IMMEDIATE", error))
    return FALSE;
  sqlite3_stmt *st = NULL;
  int version = -1;
  if (sqlite3_prepare_v2 (s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step (st) == SQLITE_ROW)
    version = sqlite3_column_int (st, 0);
  sqlite3_finalize (st);
  if (version < 0) {
    fail (s, error, "reading the schema version");
    sqlite3_exec (s->db, "ROLLBACK", NULL, NULL, NULL);
    return FALSE;
  }
  if (version > SF_LOC_SQLITE_SCHEMA) {
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED,
                 "location.uri: %s: schema version %d is newer than this program's (%d)", s->path, version,
                 SF_LOC_SQLITE_SCHEMA);
    sqlite3_exec (s->db, "ROLLBACK", NULL, NULL, NULL);
    return FALSE;
  }
  for (int v = version; v < SF_LOC_SQLITE_SCHEMA; v++) {
    g_autofree char *set = g_strdup_printf ("PRAGMA user_version = %d", v + 1);
    if (!exec (s, migrations[v], error) || !exec (s, set, error)) {
      g_prefix_error (error, "migrating from schema version %d: ", v);
      sqlite3_exec (s->db, "ROLLBACK", NULL, NULL, NULL);
      return FALSE;
    }
  }
  return exec (s, "COMMIT", error);
}

static gpointer writer (gpointer p);
static int wal_grown (void *p, sqlite3 *db, const char *name, int pages);

static char *
column_text (sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text (st, i);
  return t != NULL ? g_strdup ((const char *) t) : NULL;
}

#define COLUMNS "contact, q, expires, call_id, cseq, source, transport, local, flow, path, instance, reg_id, node"

static SfLocBinding *
read_row (sqlite3_stmt *st, int first)
{
  SfLocBinding *b = g_new0 (SfLocBinding, 1);
  b->contact = column_text (st, first + 0);
  b->q = sqlite3_column_double (st, first + 1);
  /* 0..1 whatever the file says: the proxy and the 200 turn q into thousandths */
  if (!(b->q >= 0.0))
    b->q = 0.0;
  else if (b->q > 1.0)
    b->q = 1.0;
  b->expires_at = sqlite3_column_int64 (st, first + 2);
  b->call_id = column_text (st, first + 3);
  b->cseq = (guint32) sqlite3_column_int64 (st, first + 4);
  b->source = column_text (st, first + 5);
  b->transport = column_text (st, first + 6);
  b->local = column_text (st, first + 7);
  b->flow = column_text (st, first + 8);
  b->path = column_text (st, first + 9);
  b->instance = column_text (st, first + 10);
  b->reg_id = (guint32) sqlite3_column_int64 (st, first + 11);
  b->node = column_text (st, first + 12);
  if (b->contact == NULL)
    b->contact = g_strdup ("");
  if (b->call_id == NULL)
    b->call_id = g_strdup ("");
  return b;
}

static gboolean
sqlite_load (SfLocStore *base, gint64 now, GHashTable *aors, GError **error)
{
  Store *s = (Store *) base;
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2 (s->db, "SELECT aor, " COLUMNS " FROM binding WHERE expires > ?", -1, &st, NULL) != SQLITE_OK)
    return fail (s, error, "loading the bindings");
  sqlite3_bind_int64 (st, 1, now);
  int rc;
  while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
    const char *aor = (const char *) sqlite3_column_text (st, 0);
    if (aor == NULL)
      continue;
    GPtrArray *list = g_hash_table_lookup (aors, aor);
    if (list == NULL) {
      list = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
      g_hash_table_insert (aors, g_strdup (aor), list);
    }
    if (list->len < SF_LOCATION_MAX_BINDINGS) /* the limit holds whatever the file says */
      g_ptr_array_add (list, read_row (st, 1));
  }
  sqlite3_finalize (st);
  if (rc != SQLITE_DONE)
    return fail (s, error, "loading the bindings");
  /* from here on the main connection never waits for the lock (the writer
   * thread does) and never checkpoints (the writer does, when wal_grown asks) */
  sqlite3_busy_timeout (s->db, 0);
  sqlite3_wal_hook (s->db, wal_grown, s);
  s->thread = g_thread_new ("sf-location", writer, s);
  return TRUE;
}

static void
bind_text (sqlite3_stmt *st, int i, const char *t)
{
  if (t != NULL)
    sqlite3_bind_text (st, i, t, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null (st, i);
}

static gboolean
step_done (sqlite3_stmt *st)
{
  int rc = sqlite3_step (st);
  sqlite3_reset (st);
  sqlite3_clear_bindings (st);
  return rc == SQLITE_DONE;
}

/* Inside the writer's transaction: @op's address-of-record's rows replaced. */
static gboolean
write_op (Store *s, Op *op)
{
  sqlite3_bind_text (s->del, 1, op->aor, -1, SQLITE_STATIC);
  if (!step_done (s->del))
    return FALSE;
  for (guint i = 0; i < op->bindings->len; i++) {
    const SfLocBinding *b = op->bindings->pdata[i];
    if (b->expires_at <= op->now)
      continue;
    sqlite3_bind_text (s->ins, 1, op->aor, -1, SQLITE_STATIC);
    bind_text (s->ins, 2, b->contact);
    sqlite3_bind_double (s->ins, 3, b->q);
    sqlite3_bind_int64 (s->ins, 4, b->expires_at);
    bind_text (s->ins, 5, b->call_id);
    sqlite3_bind_int64 (s->ins, 6, b->cseq);
    bind_text (s->ins, 7, b->source);
    bind_text (s->ins, 8, b->transport);
    bind_text (s->ins, 9, b->local);
    bind_text (s->ins, 10, b->flow);
    bind_text (s->ins, 11, b->path);
    bind_text (s->ins, 12, b->instance);
    sqlite3_bind_int64 (s->ins, 13, b->reg_id);
    bind_text (s->ins, 14, b->node);
    if (!step_done (s->ins))
      return FALSE;
  }
  return TRUE;
}

/* What the file holds for @aor (after a failed transaction); NULL when it
 * cannot be read either. */
static GPtrArray *
committed (Store *s, const char *aor)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) sf_loc_binding_free);
  sqlite3_bind_text (s->sel, 1, aor, -1, SQLITE_STATIC);
  int rc;
  while ((rc = sqlite3_step (s->sel)) == SQLITE_ROW)
    g_ptr_array_add (list, read_row (s->sel, 0));
  sqlite3_reset (s->sel);
  sqlite3_clear_bindings (s->sel);
  if (rc != SQLITE_DONE)
    g_clear_pointer (&list, g_ptr_array_unref);
  return list;
}

static GError *
write_error (const char *why)
{
  return g_error_new (SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "the location store could not write: %s", why);
}

/* A write failure's warning.  On a full disk every write fails, each would
 * warn alone (a line a REGISTER): the first is logged, then at most one line
 * every WARN_EVERY_S seconds, which says how many were left out (so does
 * warn_flush once the window is over).  Writer thread only. */
static void G_GNUC_PRINTF (2, 3)
warn_write (Store *s, const char *format, ...)
{
  gint64 now = g_get_monotonic_time ();
  if (now < s->warn_next) {
    s->warn_quiet++;
    return;
  }
  va_list ap;
  va_start (ap, format);
  g_autofree char *line = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (s->warn_quiet > 0)
    g_warning ("%s (and %u more write failures before it, not logged each)", line, s->warn_quiet);
  else
    g_warning ("%s", line);
  s->warn_quiet = 0;
  s->warn_next = now + s->warn_every;
}

/* The failures warn_write left out, once its window is over (each turn of
 * the writer: they are said even when no write fails after them), or now
 * with @closing (the last turn: they would be lost). */
static void
warn_flush (Store *s, gboolean closing)
{
  if (s->warn_quiet == 0 || (!closing && g_get_monotonic_time () < s->warn_next))
    return;
  g_warning ("location: %s: %u more write failures (not logged each)", s->path, s->warn_quiet);
  s->warn_quiet = 0;
  s->warn_next = g_get_monotonic_time () + s->warn_every;
}

/* After @batch failed in one transaction at one of its ops' statements: the
 * batch again, each op inside a savepoint, so that an op SQLite refuses (a
 * constraint, a trigger, a value too big) is undone and fails alone and the
 * others commit.  Only after a failure: the common path keeps one
 * transaction and no savepoint statements.  An error that ends the whole
 * transaction (SQLite rolls back by itself on a full disk, an I/O error, no
 * memory) or a COMMIT that fails fails every op. */
static void
commit_each (Store *s, GPtrArray *batch)
{
  gboolean ok = step_done (s->begin);
  for (guint i = 0; ok && i < batch->len; i++) {
    Op *op = batch->pdata[i];
    ok = sqlite3_exec (s->db, "SAVEPOINT op", NULL, NULL, NULL) == SQLITE_OK;
    if (ok && write_op (s, op)) {
      ok = sqlite3_exec (s->db, "RELEASE op", NULL, NULL, NULL) == SQLITE_OK;
      continue;
    }
    if (!ok || sqlite3_get_autocommit (s->db)) {
      ok = FALSE;
      break;
    }
    /* not the address-of-record: it is what a REGISTER carried */
    warn_write (s, "location: %s: one write of a group of %u failed: %s", s->path, batch->len, sqlite3_errmsg (s->db));
    op->error = write_error (sqlite3_errmsg (s->db));
    ok = sqlite3_exec (s->db, "ROLLBACK TO op; RELEASE op", NULL, NULL, NULL) == SQLITE_OK;
  }
  if (ok)
    ok = step_done (s->commit);
  if (!ok) {
    g_autofree char *why = g_strdup (sqlite3_errmsg (s->db));
    if (!sqlite3_get_autocommit (s->db))
      sqlite3_exec (s->db, "ROLLBACK", NULL, NULL, NULL);
    warn_write (s, "location: %s: a write of %u address(es)-of-record failed: %s", s->path, batch->len, why);
    for (guint i = 0; i < batch->len; i++) {
      Op *op = batch->pdata[i];
      g_clear_error (&op->error);
      op->error = write_error (why);
    }
  }
  for (guint i = 0; i < batch->len; i++) {
    Op *op = batch->pdata[i];
    if (op->error != NULL)
      op->committed = committed (s, op->aor);
  }
}

/* One transaction for every op of @batch; on failure each gets the error and
 * its address-of-record's committed rows, unless the failure was one op's
 * (commit_each). */
static void
commit_batch (Store *s, GPtrArray *batch)
{
  if (batch->len == 0)
    return;
  gboolean ok = step_done (s->begin), began = ok;
  for (guint i = 0; ok && i < batch->len; i++)
    ok = write_op (s, batch->pdata[i]);
  gboolean wrote = ok;
  if (ok)
    ok = step_done (s->commit);
  if (ok)
    return;
  g_autofree char *why = g_strdup (sqlite3_errmsg (s->db));
  if (!sqlite3_get_autocommit (s->db))
    sqlite3_exec (s->db, "ROLLBACK", NULL, NULL, NULL);
  if (began && !wrote && batch->len > 1) {
    commit_each (s, batch);
    return;
  }
  warn_write (s, "location: %s: a write of %u address(es)-of-record failed: %s", s->path, batch->len, why);
  for (guint i = 0; i < batch->len; i++) {
    Op *op = batch->pdata[i];
    op->error = write_error (why);
    op->committed = committed (s, op->aor);
  }
}

static gpointer
writer (gpointer p)
{
  Store *s = p, *w = s->w;
  gint64 purged_mono = g_get_monotonic_time ();
  g_autoptr (GPtrArray) batch = g_ptr_array_new ();
  g_autoptr (GPtrArray) checkpoints = g_ptr_array_new ();
  for (gboolean quit = FALSE; !quit;) {
    /* idle, the thread wakes for the purge; with failures held back, when
     * their window ends too (warn_flush says them then, not a purge later) */
    gint64 wait = PURGE_EVERY_S * G_USEC_PER_SEC;
    if (w->warn_quiet > 0)
      wait = CLAMP (w->warn_next - g_get_monotonic_time (), 0, wait);
    Op *op = g_async_queue_timeout_pop (s->in, wait);
    for (; op != NULL; op = g_async_queue_try_pop (s->in)) {
      if (op->kind == OP_QUIT) {
        op_free (op);
        quit = TRUE;
        break; /* the quit op is the last one pushed */
      }
      g_ptr_array_add (op->kind == OP_CHECKPOINT ? checkpoints : batch, op);
    }
    /* Before the writes: the main connection writes nothing meanwhile (its
     * writes come here until this op is back), so the checkpoint copies the
     * whole WAL (PASSIVE: unless another process reads an older state) and
     * the next write transaction starts the WAL again from its beginning. */
    if (checkpoints->len > 0) {
      int log = 0, done = 0;
      /* After a complete checkpoint the next write starts the WAL again and
       * syncs its new header: a write of the thread's own (the schema version
       * it already holds) takes that fdatasync here, not in the main loop's
       * next commit (a REGISTER's answer held for a disk flush).  Writes in
       * this batch would take it too. */
      if (sqlite3_wal_checkpoint_v2 (w->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done) == SQLITE_OK && log > 0 &&
          done == log && batch->len == 0 &&
          sqlite3_exec (w->db, "PRAGMA user_version = " G_STRINGIFY (SF_LOC_SQLITE_SCHEMA), NULL, NULL, NULL) != SQLITE_OK)
        g_warning ("location: %s: starting the WAL again: %s", s->path, sqlite3_errmsg (w->db));
    }
    commit_batch (w, batch);
    warn_flush (w, quit);
    if (batch->len > 0 || checkpoints->len > 0) {
      g_mutex_lock (&s->lock);
      for (guint i = 0; i < batch->len; i++)
        g_queue_push_tail (&s->out, batch->pdata[i]);
      for (guint i = 0; i < checkpoints->len; i++)
        g_queue_push_tail (&s->out, checkpoints->pdata[i]);
      g_mutex_unlock (&s->lock);
      g_source_set_ready_time (s->wake, 0); /* thread-safe: wakes the main context */
      g_ptr_array_set_size (batch, 0);
      g_ptr_array_set_size (checkpoints, 0);
    }
    g_mutex_lock (&s->lock);
    gint64 last_now = s->last_now, last_mono = s->last_mono;
    g_mutex_unlock (&s->lock);
    if (last_now > 0 && g_get_monotonic_time () - purged_mono >= PURGE_EVERY_S * G_USEC_PER_SEC) {
      /* the wall time of the last write, moved on by the time since: the main clock's, fake in tests */
      sqlite3_bind_int64 (w->purge, 1, last_now + (g_get_monotonic_time () - last_mono) / G_USEC_PER_SEC);
      if (!step_done (w->purge))
        g_warning ("location: %s: purging the expired bindings: %s", s->path, sqlite3_errmsg (w->db));
      purged_mono = g_get_monotonic_time ();
    }
  }
  return NULL;
}

/* Called by SQLite after each commit of the main connection (in the main
 * context), with the WAL's length: past CHECKPOINT_PAGES the writer thread is
 * asked to checkpoint (the main connection never does: a checkpoint fsyncs),
 * and the writes go to it until it has. */
static int
wal_grown (void *p, sqlite3 *db, const char *name, int pages)
{
  Store *s = p;
  if (pages >= CHECKPOINT_PAGES && !s->checkpoint_asked) {
    Op *op = g_new0 (Op, 1);
    op->kind = OP_CHECKPOINT;
    s->checkpoint_asked = TRUE;
    s->with_writer++;
    g_async_queue_push (s->in, op);
  }
  return SQLITE_OK;
}

/* @batch committed on the main connection, without waiting: FALSE (nothing
 * written) when the file is locked or anything fails. */
static gboolean
commit_here (Store *s, GPtrArray *batch)
{
  gboolean ok = step_done (s->begin);
  for (guint i = 0; ok && i < batch->len; i++)
    ok = write_op (s, batch->pdata[i]);
  if (ok)
    ok = step_done (s->commit);
  if (!ok && !sqlite3_get_autocommit (s->db))
    sqlite3_exec (s->db, "ROLLBACK", NULL, NULL, NULL);
  return ok;
}

/* This iteration's writes: committed here and their outcomes given, or handed
 * to the writer thread (which waits for the lock and reports failures). */
static void
flush_batch (Store *s, gboolean report)
{
  GPtrArray *batch = s->batch;
  if (batch->len == 0)
    return;
  if (commit_here (s, batch)) {
    s->batch = g_ptr_array_new ();
    for (guint i = 0; i < batch->len; i++) {
      Op *op = batch->pdata[i];
      if (report)
        s->base.written (NULL, NULL, op->data);
      op_free (op);
    }
    g_ptr_array_unref (batch);
    return;
  }
  for (guint i = 0; i < batch->len; i++)
    g_async_queue_push (s->in, batch->pdata[i]);
  s->with_writer += batch->len;
  g_ptr_array_set_size (batch, 0);
}

static void
sqlite_write (SfLocStore *base, const char *aor, GPtrArray *bindings, gint64 now, gpointer data)
{
  Store *s = (Store *) base;
  Op *op = g_new0 (Op, 1);
  op->aor = g_strdup (aor);
  op->bindings = bindings;
  op->now = now;
  op->data = data;
  g_mutex_lock (&s->lock);
  s->last_now = now;
  s->last_mono = g_get_monotonic_time ();
  g_mutex_unlock (&s->lock);
  if (s->with_writer > 0) {
    s->with_writer++;
    g_async_queue_push (s->in, op); /* after those: the outcomes keep their order */
  } else
    g_ptr_array_add (s->batch, op); /* committed at the end of this iteration (wake_prepare) */
}

static gboolean
wake_prepare (GSource *src, gint *timeout)
{
  *timeout = -1;
  return ((WakeSource *) src)->s->batch->len > 0;
}

static gboolean
wake_dispatch (GSource *src, GSourceFunc cb, gpointer data)
{
  Store *s = data;
  g_source_set_ready_time (src, -1); /* before taking the queue: a push after it wakes us again */
  g_mutex_lock (&s->lock);
  GQueue done = s->out;
  g_queue_init (&s->out);
  g_mutex_unlock (&s->lock);
  for (Op *op; (op = g_queue_pop_head (&done)) != NULL; op_free (op)) {
    s->with_writer--;
    if (op->kind == OP_CHECKPOINT)
      s->checkpoint_asked = FALSE;
    else
      s->base.written (op->error, g_steal_pointer (&op->committed), op->data);
  }
  /* the batch holds only writes made while none was with the writer: none of theirs comes before */
  flush_batch (s, TRUE);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs wake_funcs = { wake_prepare, NULL, wake_dispatch, NULL, NULL, NULL };

static void
sqlite_close (SfLocStore *base)
{
  Store *s = (Store *) base;
  if (s->batch != NULL)
    flush_batch (s, FALSE); /* no outcomes now: their callers drop their results themselves */
  if (s->thread != NULL) {
    Op *quit = g_new0 (Op, 1);
    quit->kind = OP_QUIT;
    g_async_queue_push (s->in, quit); /* after what is queued */
    g_thread_join (s->thread);
  }
  if (s->w != NULL)
    sqlite_close (&s->w->base); /* before the main connection: the last one to close checkpoints */
  g_clear_pointer (&s->batch, g_ptr_array_unref);
  for (Op *op; (op = g_queue_pop_head (&s->out)) != NULL;)
    op_free (op); /* their callers drop their results themselves */
  if (s->wake != NULL) {
    g_source_destroy (s->wake);
    g_source_unref (s->wake);
  }
  g_clear_pointer (&s->in, g_async_queue_unref);
  g_mutex_clear (&s->lock);
  sqlite3_finalize (s->del);
  sqlite3_finalize (s->ins);
  sqlite3_finalize (s->sel);
  sqlite3_finalize (s->purge);
  sqlite3_finalize (s->begin);
  sqlite3_finalize (s->commit);
  sqlite3_close (s->db);
  g_free (s->path);
  g_free (s);
}

static const SfLocStoreClass sqlite_class = { sqlite_load, sqlite_write, sqlite_close, NULL, NULL };

/* Does the file hold a location store (a schema version set and a binding
 * table: other programs set user_version too)?  Asked before anything is
 * written, so the offline tools change no other database. */
static gboolean
is_store (Store *s, GError **error)
{
  sqlite3_stmt *st = NULL;
  int version = -1;
  if (sqlite3_prepare_v2 (s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step (st) == SQLITE_ROW)
    version = sqlite3_column_int (st, 0);
  sqlite3_finalize (st);
  if (version < 0)
    return fail (s, error, "reading the schema version");
  gboolean table = FALSE;
  if (sqlite3_prepare_v2 (s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'binding'", -1, &st,
                          NULL) == SQLITE_OK)
    table = sqlite3_step (st) == SQLITE_ROW;
  sqlite3_finalize (st);
  if (version == 0 || !table) {
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED,
                 "location.uri: %s: not a location store (no schema version)", s->path);
    return FALSE;
  }
  return TRUE;
}

/* The file @path opened (made when missing, with @create), its schema
 * migrated, the statements prepared; no writer thread, no main-context
 * source yet. */
static Store *
store_open (const char *path, guint busy_timeout_ms, gboolean create, GError **error)
{
  Store *s = g_new0 (Store, 1);
  s->warn_every = WARN_EVERY_S * G_USEC_PER_SEC;
  s->base.klass = &sqlite_class;
  s->path = g_strdup (path);
  g_mutex_init (&s->lock);
  g_queue_init (&s->out);
  g_autofree char *dir = g_path_get_dirname (path);
  if (!create && !g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "location.uri: %s: no such file", path);
    sqlite_close (&s->base);
    return NULL;
  }
  if (create && g_mkdir_with_parents (dir, 0700) != 0) {
    int e = errno;
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "location.uri: %s: cannot make %s: %s", path,
                 dir, g_strerror (e));
    sqlite_close (&s->base);
    return NULL;
  }
  /* NOMUTEX: the main thread uses the connection until the writer starts, then only the writer */
  int rc = sqlite3_open_v2 (path, &s->db, SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX,
                            NULL);
  if (rc != SQLITE_OK) {
    g_set_error (error, SF_LOCATION_ERROR, SF_LOCATION_ERROR_STORE_FAILED, "location.uri: %s: cannot open: %s", path,
                 s->db != NULL ? sqlite3_errmsg (s->db) : sqlite3_errstr (rc));
    sqlite_close (&s->base);
    return NULL;
  }
  sqlite3_busy_timeout (s->db, (int) busy_timeout_ms);
  sqlite3_extended_result_codes (s->db, 1);
  if (!create && !is_store (s, error)) {
    sqlite_close (&s->base);
    return NULL;
  }
  /* WAL: a commit is one append, readers (another process's dump) never block
   * the writer; NORMAL: no fsync at each commit, a commit survives the
   * process's death (it is in the OS's cache), the last ones may not survive
   * power loss (docs/servers.md).  The journal mode is written in the file:
   * only the server sets it, on a file it made or migrated (an offline tool
   * changes nothing of a file until it knows it is a store). */
  if ((create && !exec (s, "PRAGMA journal_mode = WAL", error)) || !exec (s, "PRAGMA synchronous = NORMAL", error) ||
      !migrate (s, error)) {
    sqlite_close (&s->base);
    return NULL;
  }
  if (sqlite3_prepare_v2 (s->db, "DELETE FROM binding WHERE aor = ?", -1, &s->del, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2 (s->db,
                          "INSERT INTO binding (aor, " COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          -1, &s->ins, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2 (s->db, "SELECT " COLUMNS " FROM binding WHERE aor = ?", -1, &s->sel, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2 (s->db, "DELETE FROM binding WHERE expires <= ?", -1, &s->purge, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2 (s->db, "BEGIN IMMEDIATE", -1, &s->begin, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2 (s->db, "COMMIT", -1, &s->commit, NULL) != SQLITE_OK) {
    fail (s, error, "preparing the statements");
    sqlite_close (&s->base);
    return NULL;
  }
  return s;
}

void
sf_loc_sqlite_warn_every (SfLocStore *base, guint ms)
{
  Store *s = (Store *) base;
  if (base->klass == &sqlite_class && s->w != NULL)
    s->w->warn_every = (gint64) ms * 1000; /* before any write: the queue orders it before the writer's reads */
}

SfLocStore *
sf_loc_sqlite_open (const char *path, guint busy_timeout_ms, SfLocWritten written, GError **error)
{
  Store *s = store_open (path, busy_timeout_ms, TRUE, error);
  if (s == NULL)
    return NULL;
  /* the writer thread's connection: the file is made and migrated by now */
  s->w = store_open (path, busy_timeout_ms, FALSE, error);
  if (s->w == NULL) {
    sqlite_close (&s->base);
    return NULL;
  }
  s->base.written = written;
  s->in = g_async_queue_new ();
  s->batch = g_ptr_array_new ();
  s->wake = g_source_new (&wake_funcs, sizeof (WakeSource));
  ((WakeSource *) s->wake)->s = s;
  g_source_set_callback (s->wake, NULL, s, NULL);
  g_source_set_name (s->wake, "location writer results");
  g_source_attach (s->wake, g_main_context_get_thread_default ());
  return &s->base;
}

/* ---- offline access (sipflow location): the same file, schema and statements ---- */

gboolean
sf_location_file_each (const char *path, guint busy_timeout_ms, const char *aor, SfLocationEachFunc f, gpointer data,
                       GError **error)
{
  Store *s = store_open (path, busy_timeout_ms, FALSE, error);
  if (s == NULL)
    return FALSE;
  sqlite3_stmt *st = NULL;
  gboolean ok = sqlite3_prepare_v2 (s->db,
                                    aor != NULL ? "SELECT aor, " COLUMNS " FROM binding WHERE aor = ? ORDER BY aor, contact"
                                                : "SELECT aor, " COLUMNS " FROM binding ORDER BY aor, contact",
                                    -1, &st, NULL) == SQLITE_OK;
  if (ok && aor != NULL)
    sqlite3_bind_text (st, 1, aor, -1, SQLITE_STATIC);
  int rc = SQLITE_DONE;
  while (ok && (rc = sqlite3_step (st)) == SQLITE_ROW) {
    const char *a = (const char *) sqlite3_column_text (st, 0);
    if (a == NULL)
      continue;
    SfLocBinding *b = read_row (st, 1);
    gboolean more = f (a, b, data);
    sf_loc_binding_free (b);
    if (!more)
      break;
  }
  if (!ok || (rc != SQLITE_DONE && rc != SQLITE_ROW))
    ok = fail (s, error, "reading the bindings");
  sqlite3_finalize (st);
  sqlite_close (&s->base);
  return ok;
}

gboolean
sf_location_file_purge (const char *path, guint busy_timeout_ms, const char *aor, gint64 now, guint64 *removed,
                        GError **error)
{
  Store *s = store_open (path, busy_timeout_ms, FALSE, error);
  if (s == NULL)
    return FALSE;
  /* the statements the writer uses: one for an address-of-record, one for the expired */
  sqlite3_stmt *st = aor != NULL ? s->del : s->purge;
  if (aor != NULL)
    sqlite3_bind_text (st, 1, aor, -1, SQLITE_STATIC);
  else
    sqlite3_bind_int64 (st, 1, now);
  gboolean ok = step_done (st);
  if (!ok)
    fail (s, error, aor != NULL ? "removing the bindings" : "purging the expired bindings");
  else if (removed != NULL)
    *removed = (guint64) sqlite3_changes64 (s->db);
  sqlite_close (&s->base);
  return ok;
}
