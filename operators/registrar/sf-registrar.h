/* sf-registrar.h: what the server variants' operators share (registrar,
 * redirect, auth; later the proxy): the [registrar] and [auth] sections, the
 * users file, the digest nonce server and the location service, one per
 * endpoint (the registrar module's state, operators/sf-modules.h), set up by sf_registrar_setup() when
 * the program starts so that a bad users file is an error at start. */
#pragma once
#include <glib.h>
#include "sipflow/sf-config.h"
#include "sf-nat.h"
#include "framework/sf-endpoint.h"
#include "sipflow/sf-operator.h"
#include "operators/transaction/sf-stack.h"
#include "sip/sf-sip-digest.h"
#include "sip/sf-sip-msg.h"
#include "sf-location.h"
#include "sf-users.h"

G_BEGIN_DECLS

typedef struct {
  SfLocation *loc;
  SfDigestServer *digest;
  SfUsers *users;           /* registrar.users (sf-users.h), NULL without it */
  char *realm;
  char **domains;           /* lowercase; the realm when none is set (own addresses are checked live) */
  gint64 min_expires, max_expires;
  SfNatMode nat;            /* registrar.nat: how the proxy reaches a binding (sf-nat.h) */
  SfDigestAlg algs[4];      /* auth.algorithms, the SHA-256 ones first */
  guint n_algs;
  SfEndpoint *ep;           /* unowned: the endpoint this is data of */
  gboolean log_failures;    /* auth.log_failures: "auth failed" lines whatever core.log_level */
  gboolean gated;           /* sf_registrar_gate is the stack's gate (set up with a flow that fits) */
  gint64 log_second;        /* "auth failed" lines: the second being counted, */
  GHashTable *log_sources;  /* source address -> lines in it (at most SF_AUTH_LOG_SOURCES; lazily made), */
  guint log_dropped;        /* lines left out in it (past SF_AUTH_LOG_PER_S for one source, or untracked), */
  guint log_sources_over;   /* sources that went past SF_AUTH_LOG_PER_S in it, */
  guint log_untracked;      /* and failures from sources past SF_AUTH_LOG_SOURCES in it */
  gboolean cluster;         /* registrar.cluster: a binding reachable only through this node gets a Path hop to it */
  guint8 flow_key[32];      /* signs that hop's flow token (purpose "sipflow flow"; sip/sf-sip-flow-token.h) */
  struct {
    char *host;             /* owned; IPv6 without brackets */
    guint port;
  } stores[2];              /* the Redis servers of location.uri and registrar.users, when they are redis */
  guint n_stores;
  gboolean joined;          /* a worker of a set of more than one (sf_registrar_join_workers) */
  gboolean users_kept;      /* a prepared reload's (sf_registrar_reload_prepare): the users in force stay */
  struct {                  /* the metrics' counters (docs/operations.md, "Metrics") */
    guint64 registers_accepted, registers_refused; /* REGISTER answered 2xx; >= 300 but a 401 challenge */
    guint64 auth_challenges;                        /* 401/407 sent (stale ones included) */
    guint64 auth_bad_credentials, auth_unknown_user, auth_wrong_identity; /* digest failures */
  } counts;
} SfRegistrar;

/* Declares [registrar], [location] and [auth]. */
gboolean sf_registrar_declare_config (SfConfig *cfg, GError **error);
/* Reads the sections and the users file (errors name the file and line),
 * opens the location service location.backend names (a database that cannot
 * be opened is an error naming the file), and
 * attaches the result as the registrar module's state; the endpoint's clock
 * drives binding expiry and nonces.  (The module's stats_fields gives
 * nonce_slots_used with a users file.) */
gboolean sf_registrar_setup (SfEndpoint *ep, SfConfig *cfg, GError **error);
/* Reload (the registrar module's reload hooks): reads @cfg's reloadable part
 * (as sf_registrar_setup: the users read again now, errors naming the file;
 * an unchanged Redis source kept) into *@prepared (NULL when @r is), a new
 * nonce table only when its size or lifetime changed; FALSE with @error set
 * refuses the reload, as does one that would remove registrar.users.  location.* and
 * registrar.cluster are restart keys: the bindings stay where they are. */
gboolean sf_registrar_reload_prepare (SfRegistrar *r, SfConfig *cfg, SfRegistrar **prepared, GError **error);
/* Puts @prepared (taken; nullable) in force in @r, which stays the module's state. */
void sf_registrar_reload_commit (SfRegistrar *r, SfRegistrar *prepared);
void sf_registrar_reload_abort (SfRegistrar *prepared);
/* Makes @ep's registrar (set up, when it has one) worker @w of @set
 * (docs/workers.md, step 2): worker 0 keeps its own; each other worker takes
 * a reference to worker 0's digest server (a nonce issued by one worker is
 * taken by any, its counts checked in one table) and, unless the bindings are
 * in redis (each worker its own connection), a location service that runs on
 * worker 0's (sf_location_new_worker).  After sf_stack_join_workers (worker
 * 0's first: its endpoint is found through the set); the set and worker 0's
 * engine outlive the others.  A reload cannot then change the
 * nonce table (sf_registrar_reload_prepare refuses it). */
void sf_registrar_join_workers (SfEndpoint *ep, SfWorkers *set, guint w);
/* Frees what sf_registrar_setup() kept and detaches it (after the endpoint's
 * instances are gone). */
void sf_registrar_teardown (SfEndpoint *ep);
SfRegistrar *sf_registrar_from_ctx (SfCtx *ctx);
/* The user @name of registrar.users (unowned, good until the next call; the
 * source polled for changes at most once a second), NULL when unknown. */
const SfUser *sf_registrar_user (SfRegistrar *r, const char *name);
/* The location service of @ep's registrar (unowned), NULL when its flow has
 * none (the control commands' "location ..."). */
SfLocation *sf_registrar_location (SfEndpoint *ep);
/* The SQLite file location.uri names, or its default under core.state_dir
 * (transfer full). */
char *sf_registrar_location_path (SfConfig *cfg);
/* The registrar module's metric families: registrations, bindings live,
 * authentication, the location store's latency. */
void sf_registrar_metrics (SfRegistrar *r, SfMetricsWriter *w);
/* The stats event's fields (transfer full; NULL without a users file). */
char *sf_registrar_stats_fields (SfRegistrar *r);

/* Parses a users file's text (@source names it in errors): a table user ->
 * SfUser* (sf_users_table_new).  user:realm:HA1 lines: 32 hex digits are an
 * MD5 HA1, 64 a SHA-256 one; one user may have one line of each. */
GHashTable *sf_registrar_parse_users (const char *text, const char *source, const char *realm, GError **error);

/* Is @host a domain of registrar.domains (the realm by default)? */
gboolean sf_registrar_serves (SfCtx *ctx, const char *host);
/* Is @host (as in a URI, IPv6 in brackets) one this server answers for: a
 * registrar.domains entry (the realm by default) or an address it listens on? */
gboolean sf_registrar_is_ours (SfCtx *ctx, const char *host);
/* Does @uri (a Contact) lead back to this server: a sip or sips URI whose
 * host is a registrar.domains entry (any port: requests for it are ours to
 * route), or an address and port this server listens on (sip.advertise
 * included)?  A binding to it would send a request back here (RFC 5393 3, 4). */
gboolean sf_registrar_uri_is_self (SfCtx *ctx, const SfSipUri *uri);
/* Does @uri (a Contact or a Path hop) name the Redis server of location.uri
 * or registrar.users: its host or its maddr (the same address; any loopback name, or an
 * address of this node's, when the Redis is on loopback) and port?  A request
 * relayed there would be read by Redis as commands.  A second layer only: a
 * name resolving to it, another address of the host, a forward through
 * another element are not seen (docs/security.md: the password is the fix). */
gboolean sf_registrar_uri_is_store (SfCtx *ctx, const SfSipUri *uri);
/* A qvalue (20.10: 0, 1, 0.xxx, 1.000) in thousandths; FALSE when malformed. */
gboolean sf_registrar_parse_q (const char *text, guint *out);
/* "0.5" -> "0.500": a qvalue as written in a Contact (transfer full). */
char *sf_registrar_format_q (guint thousandths);
/* "Contact: <@contact>;expires=@expires_s;q=@q" (@q_first: q before expires),
 * the qvalue as sf_registrar_format_q writes it (transfer full). */
char *sf_registrar_contact_line (const char *contact, gint64 expires_s, double q, gboolean q_first);

/* The canonical address-of-record of @uri (10.3 step 5): sip:user@host, lowercase
 * host, no parameters, the port kept only for a host not ours (transfer full);
 * NULL when it has no user. */
char *sf_registrar_aor (SfCtx *ctx, const SfSipUri *uri);

/* Answers the request @e with @status (@reason NULL: the standard phrase), a new
 * To tag and further header @lines, through its transaction: SF_OP_TRANSITION,
 * or SF_OP_ERROR when it could not be built or sent. */
SfOpResult sf_registrar_answer (SfCtx *ctx, SfSipEvent *e, guint status, const char *reason, const char *const *lines);

/* "Unsupported: a, b" for the option tags of @msg's header @id (Require,
 * Proxy-Require), NULL when it has none (transfer full); this server supports no
 * extension. */
char *sf_registrar_unsupported (SfSipMsg *msg, SfSipHdrId id);
/* 8.2.2.3 / 10.3 step 2: a request whose Require names extensions (this server
 * supports none) gets 420 Bad Extension with Unsupported listing them; TRUE when
 * it was answered so (or could not be: then SF_OP_ERROR is in *@result). */
gboolean sf_registrar_refuse_extensions (SfCtx *ctx, SfSipEvent *e, SfOpResult *result);

/* Digest authentication of request @e (22, RFC 7616) against registrar.users:
 * SF_OP_CONTINUE when its credentials are good (or no users file is set);
 * SF_OP_TRANSITION when it was answered (401 for a REGISTER, 407 otherwise,
 * or 403); SF_OP_ERROR when the answer could not be sent. */
SfOpResult sf_registrar_authorize (SfCtx *ctx, SfSipEvent *e);

/* The challenge lines ("WWW-Authenticate: ..." for 401, "Proxy-Authenticate:
 * ..." for 407), one per auth.algorithms, NULL-terminated (transfer full). */
GPtrArray *sf_registrar_challenge_lines (SfCtx *ctx, guint status, gboolean stale);
/* Does @req carry Digest credentials for our realm (Authorization for a
 * REGISTER, Proxy-Authorization otherwise)? */
gboolean sf_registrar_has_credentials (SfCtx *ctx, SfSipMsg *req);

/* The registrar's gate (SfStackGate, operators/transaction/sf-stack.h) for a
 * flow of scope call that begins by challenging REGISTERs (redirect.xml): a
 * REGISTER that carries no credentials for our realm, asks for no extension
 * and belongs to no instance gets its 401 statelessly, as the flow's
 * OpAuthorize would answer it, without a transaction or an instance (RFC 3261
 * 8.2.7; Kamailio's www_challenge does the same).  sf_registrar_gate_fits says
 * whether @flow is such a flow: its initial state has no entry operator, and
 * the first operator of its normal queue (OpCheckRequire aside, which the
 * gate answers for by leaving a Require to the flow) is an unconditional
 * OpAuthorize REGISTER. */
extern const SfStackGate sf_registrar_gate;
gboolean sf_registrar_gate_fits (SfMachine *flow);

/* Is @from (a From value) anonymous, RFC 3323's sip:anonymous@anonymous.invalid? */
gboolean sf_registrar_is_anonymous (const SfSipValue *from);
/* May a request authenticated as @username carry its From: anonymous, in
 * another domain, or the same user in a domain of ours? */
gboolean sf_registrar_from_matches (SfCtx *ctx, SfSipMsg *req, const char *username);

/* A lookup or an update of the location service whose result comes back to
 * @ctx's instance as the event task:location (payload SfLocationResult). */
void sf_registrar_lookup (SfCtx *ctx, const char *aor);
void sf_registrar_update (SfCtx *ctx, const char *aor, const char *call_id, guint32 cseq, const SfLocOrigin *origin,
                          gboolean remove_all, const SfLocChange *changes, guint n_changes);

G_END_DECLS
