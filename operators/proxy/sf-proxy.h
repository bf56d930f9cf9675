/* sf-proxy.h: what the stateful proxy's operators share (RFC 3261 16): the
 * [proxy] section, the request's response context (16.7) kept by each request
 * instance of xml/proxy.xml, the job a branch instance of xml/proxy-branch.xml
 * is given by its parent, and the proxy's own addresses (Via branches with loop
 * detection, Record-Route, Route popping). */
#pragma once
#include <glib.h>
#include <gio/gio.h>
#include "sipflow/sf-config.h"
#include "framework/sf-endpoint.h"
#include "sipflow/sf-operator.h"
#include "operators/transaction/sf-stack.h"
#include "sip/sf-sip-msg.h"

G_BEGIN_DECLS

typedef enum { SF_FORK_Q, SF_FORK_PARALLEL, SF_FORK_SEQUENTIAL } SfProxyFork;

/* The proxy module's state: the [proxy] section, read once at start. */
typedef struct {
  SfEndpoint *ep;       /* unowned: the endpoint it is the state of */
  GPtrArray *trusted;   /* GInetAddressMask* */
  gboolean record_route;
  guint timer_c_ms;     /* 0: off */
  SfProxyFork fork;
  guint max_breadth;    /* RFC 5393 5.3.3: the Max-Breadth of a request without one */
  guint64 rr_mac_keys[2][2]; /* the two SipHash keys of the Record-Route tokens' MAC (purpose "sipflow record-route mac") */
  guint8 rr_key[32];    /* the earlier builds' token key (purpose "sipflow record-route"): their tokens still check */
  GHmac *rr_hmac;       /* owned: HMAC-SHA-256 keyed with rr_key, copied for each token of an earlier build checked */
  guint64 branch_key[2]; /* SipHash key of the MAC in our Via branches (purpose "sipflow branch") */
  guint8 flow_key[32];   /* checks flow tokens (purpose "sipflow flow", as the registrar makes them; sip/sf-sip-flow-token.h) */
  guint64 finals[7];     /* final responses sent upstream, by class ([2]: 2xx...; the metrics') */
} SfProxyConfig;

gboolean sf_proxy_declare_config (SfConfig *cfg, GError **error);
/* Reads [proxy] (a bad proxy.trusted entry is an error naming it). */
gboolean sf_proxy_setup (SfEndpoint *ep, SfConfig *cfg, GError **error);
/* Reload (the proxy module's reload hooks): @cfg's [proxy] checked and read
 * into *@prepared (NULL when @c is), FALSE with @error set; the commit puts its
 * trusted networks and limits in force in @c (taking @prepared; nullable). */
gboolean sf_proxy_reload_prepare (SfProxyConfig *c, SfConfig *cfg, SfProxyConfig **prepared, GError **error);
void sf_proxy_reload_commit (SfProxyConfig *c, SfProxyConfig *prepared);
void sf_proxy_teardown (SfEndpoint *ep);
/* Frees what sf_proxy_setup() made (the module's teardown). */
void sf_proxy_config_free (SfProxyConfig *c);
SfProxyConfig *sf_proxy_config (SfCtx *ctx);

/* One target of the target set (16.5). */
typedef struct {
  char *uri;     /* owned, nullable: NULL keeps the Request-URI (forwarded by Route or for another domain) */
  guint q;       /* thousandths */
  char *hop;     /* owned, nullable: where it goes instead of the uri (a binding behind NAT: sf_nat_next_hop; a flow token's flow) */
  char *route;   /* owned, nullable: Route values put before the request's (a binding's Path, RFC 3327 5.3) */
  gboolean binding; /* a location binding's: sent from the listener, the address it registered with */
} SfProxyTarget;

/* One branch (16.6) as its parent sees it. */
typedef struct {
  char handle[12];   /* the branch instance's, "b3" (an instance's handle fits: sf-instance-private.h) */
  guint final;       /* its final status, 0 while pending */
  guint breadth;     /* the Max-Breadth it was sent with (RFC 5393 5.3.3) */
  gboolean ended;
} SfProxyBranchRec;

/* The response context of a request instance (SfProxyInstance.ctx). */
typedef struct {
  SfSipEvent *req;          /* the request, its peer and server transaction */
  GPtrArray *targets;       /* SfProxyTarget*, best q first */
  guint next_target;        /* the first target not tried yet */
  guint group_end;          /* past the last target of the group being tried (proxy.fork) */
  guint breadth;            /* the request's Max-Breadth (RFC 5393 5.3.3): the branches' shares sum to at most this */
  GPtrArray *branches;      /* SfProxyBranchRec* */
  SfSipMsg *best;           /* the best final response so far (16.7 step 6) */
  GPtrArray *challenges;    /* nullable until the first: "WWW-Authenticate: ..." lines of every 401/407 (step 7) */
  guint final_sent;         /* the final status sent upstream, 0 none */
  gboolean no_new_branches; /* a CANCEL or a 6xx came (16.7 step 6, 16.10) */
  gboolean quiet;           /* RFC 4320: a non-INVITE left unanswered, its transaction ended by timer "quiet" */
} SfProxyCtx;

/* What a branch is given (SfProxyInstance.job, set by its parent). */
typedef struct {
  SfSipMsg *req;        /* owned ref: the request as received; NULL once the branch is Accepted */
  /* target, hop and route live in the job's own block (sf_proxy_job_new) */
  char *target;         /* nullable */
  char *hop;            /* nullable: the next hop instead of the target's (SfProxyTarget.hop) */
  char *route;          /* nullable: Route values to preload (SfProxyTarget.route) */
  char *in_flow;        /* owned, nullable: the flow token of the flow the request came on, for our
                         * Record-Route (RFC 5626 5.3: set when it came across a NAT; sf_proxy_in_flow) */
  guint breadth;        /* its Max-Breadth (RFC 5393 5.3.3), at least 1 */
  gboolean invite;
  SfSipProto in_proto;  /* the transport the request came in on (RFC 5658 double Record-Route) */
  gboolean binding;     /* SfProxyTarget.binding */
} SfProxyJob;

/* A job for @t's target (its strings copied into the job's block); the
 * caller sets the rest. */
SfProxyJob *sf_proxy_job_new (const SfProxyTarget *t);
void sf_proxy_job_free (SfProxyJob *j);
void sf_proxy_ctx_free (SfProxyCtx *p);

/* What the proxy module keeps on one instance, in its slot (sf_ctx_module_slot):
 * a request instance's response context and lookup, a branch instance's job and
 * what it sent.  Every field is owned and nullable (0/FALSE: not yet). */
typedef struct {
  /* a request instance (xml/proxy.xml) */
  SfProxyCtx *ctx;          /* made by OpProxyClassify */
  char *aor;                /* the address-of-record looked up (OpProxyRoute) */
  char *user;               /* the Request-URI's user, unescaped */
  gboolean quitting;        /* shutdown came before the request: it gets 503 */
  /* a branch instance (xml/proxy-branch.xml) */
  SfProxyJob *job;          /* set by its parent */
  SfSipMsg *fwd;            /* a ref: the request as forwarded; NULL again once the branch is Accepted */
  char *rr_token;           /* the token of the Record-Route the branch put in its
                             * request; a response's Record-Route values carrying it are ours */
  char *caller_token;       /* "Contact raw\ntoken": the token made for the callee's Contact */
  char *cancel_reason;      /* the Reason for our CANCEL (RFC 3326) */
  gboolean cancelled;       /* our CANCEL went */
} SfProxyInstance;

/* The proxy module's data of @ctx's instance, made on first use (transfer none;
 * freed with the instance). */
SfProxyInstance *sf_proxy_inst (SfCtx *ctx);
/* The same, NULL when none was made. */
SfProxyInstance *sf_proxy_inst_peek (SfCtx *ctx);
/* The proxy module's data of @inst, an instance of @ep, made on first use (a
 * parent giving its branch its job; transfer none). */
SfProxyInstance *sf_proxy_inst_of (SfEndpoint *ep, SfInstance *inst);

/* Is @uri this proxy (16.4): an address and port it listens on, or a URI
 * without user in a domain it serves (registrar.domains) with no port or one it
 * listens on?  @ctx: the SfCtx* of the operator asking (an SfSipForward.is_mine). */
gboolean sf_proxy_uri_is_mine (const SfSipUri *uri, gpointer ctx);
/* Is @uri's host a domain this proxy is responsible for (registrar.domains)
 * or this proxy's own address and port (16.5)? */
gboolean sf_proxy_domain_is_ours (SfCtx *ctx, const SfSipUri *uri);
/* 16.6 step 8: a branch for forwarding @req: the magic cookie, "sfp", a hash of
 * what identifies the request (for loop detection, 16.3 step 4; what this
 * proxy removes before forwarding is left out of it: @ctx, NULL in tests,
 * says what that is), '.', 8 random hex digits and 8 of a MAC over the rest
 * with the proxy's key (sf_proxy_branch_is_ours; zeros without @ctx)
 * (transfer full). */
char *sf_proxy_branch (SfCtx *ctx, SfSipMsg *req);
/* Is @branch one sf_proxy_branch made (its MAC checks)? */
gboolean sf_proxy_branch_is_ours (SfProxyConfig *c, SfSipStr branch);
/* 16.3 step 4: does a Via of @req carry this proxy's sent-by and the branch
 * hash it would compute for @req now (a loop, not a spiral)? */
gboolean sf_proxy_looped (SfCtx *ctx, SfSipMsg *req);
/* This proxy's Via value for a request sent over *@proto with @branch
 * ("SIP/2.0/UDP host:port;branch=...;rport"; transfer full); with no socket for
 * *@proto, the other transport, and *@proto says so.  *@sent_by (nullable) gets
 * the host:port (transfer full).  NULL when nothing listens.  With @own, over
 * UDP, one worker of several names its own socket (sf_stack_home_sent_by),
 * where the responses are to come back; *@sent_by stays the listener's (for
 * Record-Route). */
char *sf_proxy_via (SfCtx *ctx, SfSipProto *proto, const char *branch, gboolean own, char **sent_by);
/* The transport to reach @uri by: TCP when it says transport=tcp. */
SfSipProto sf_proxy_uri_proto (const SfSipUri *uri);
/* The transport of @req's next hop: its first Route that is not this proxy,
 * else @target (nullable), else its Request-URI. */
SfSipProto sf_proxy_next_proto (SfCtx *ctx, SfSipMsg *req, const SfSipUri *target);

/* The proof this proxy puts in its Record-Route, ";sft=TOKEN": 32 hex digits,
 * two SipHash-2-4 (each under its own 128-bit key, rr_mac_keys) of
 * Call-ID "\n" tag "\n" user@host "\n" user@host:port,
 * the tag and the user@host those of the party that set the dialog up (its
 * From), the user@host:port the remote target that the requests carrying this
 * Record-Route as their Route will have as Request-URI: the caller's Contact
 * in the request that goes to the callee, the callee's Contact in each
 * response that goes back to the caller (sf_proxy_forward_response: RFC
 * 3261 16.7 step 4 lets a proxy rewrite its Record-Route there).  So a token
 * serves one side of one dialog only: its Call-ID, its initiator, and the
 * peer it reaches; no state is kept, a node that shares the secret, or this
 * one after a restart, checks it the same way (transfer full). */
char *sf_proxy_token (SfProxyConfig *c, SfSipStr call_id, SfSipStr tag, const SfSipUri *aor, const SfSipUri *target);
/* The URI by which @req comes back to this proxy inside a dialog: its top
 * Route when that is ours (loose routing), or its Request-URI when that is
 * ours and Routes follow (a strict router before us); NULL otherwise. */
const SfSipUri *sf_proxy_our_hop (SfCtx *ctx, SfSipMsg *req);
/* How many of @routes (SfSipValue*, nullable) at the top are this proxy's own,
 * to be popped (16.4): 0, 1, or 2 for the pair a double Record-Route left
 * (RFC 5658: both values are this proxy's and are removed together). */
guint sf_proxy_own_routes (SfCtx *ctx, const SfSipValues *routes);
/* Is @token the one made for @req's dialog toward @target: with its From tag
 * and URI, or its To tag and URI (either side may send)?  A token of an
 * earlier build (the first 32 hex digits of HMAC-SHA-256(rr_key, the same
 * bytes)) is asked for only when the SipHash one fails: dialogs set up before
 * an upgrade, or through a node not yet upgraded, still route. */
gboolean sf_proxy_token_matches (SfProxyConfig *c, SfSipMsg *req, const SfSipUri *target, SfSipStr token);
/* Does @req come back along a Record-Route this proxy made for its dialog and
 * its remote target (the Request-URI, or a strict router's last Route)?  The
 * comparison takes constant time. */
gboolean sf_proxy_token_ok (SfCtx *ctx, SfSipMsg *req);
/* Flow tokens in our own Route (RFC 5626 5.2, 5.3; sip/sf-sip-flow-token.h). */
typedef enum {
  SF_PROXY_FLOW_NONE, /* no token in our hop: routed as usual */
  SF_PROXY_FLOW_BAD,  /* a token that does not check: refused (403), never followed */
  SF_PROXY_FLOW_TO,   /* a good token naming the flow the request goes over */
  SF_PROXY_FLOW_GONE, /* a good token whose flow no longer exists (a TCP connection closed, or
                       * one of an earlier process): 430 Flow Failed (RFC 5626 5.3) */
} SfProxyFlow;
/* Does @req's hop of ours (sf_proxy_our_hop) carry a flow token, and must
 * @req go over its flow?  A request with a To tag must carry a Record-Route
 * token (made by sf_proxy_in_flow), one without a Path token (made by the
 * registrar under registrar.cluster); another kind is BAD.  A Record-Route
 * token names the flow of the party behind NAT or a connection (the dialog's
 * initiator's when it came so, else the callee's when it was reached so): a
 * request coming from that flow (@from, nullable) goes the other way, by its
 * Request-URI (NONE); any other goes over it (TO, *@hop the URI for it,
 * transfer full), or, when it names a TCP connection no longer open (GONE,
 * *@hop still set), nowhere.  A Record-Route token checks only with the
 * Call-ID of the dialog it was made in. */
SfProxyFlow sf_proxy_flow_route (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *from, char **hop);
/* The token for our Record-Route when @req (a request out of a dialog, from
 * @from; proxy.record_route on) came across a NAT, over UDP or TCP (its top
 * Via against its source, as sf_nat_detect does at REGISTER; registrar.nat
 * off: never, always: every source); NULL otherwise, and when @req already has
 * a Record-Route (an element upstream stays in the dialog: requests toward the
 * caller go to it) (transfer full). */
char *sf_proxy_in_flow (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *from);
/* The token for our Record-Route naming the flow @hop (a binding reached
 * through its source or its Path token's flow: "sip:ADDR:PORT;transport=T";
 * over TCP the connection open to it), for the dialog @call_id, when the
 * caller's own flow needs none (transfer full; NULL when @hop is not an
 * address or no TCP connection to it is open). */
char *sf_proxy_hop_token (SfCtx *ctx, const SfSipUri *hop, SfSipStr call_id);
/* A binding's @path when its first value is this node's own hop (a Path the
 * registrar recorded under registrar.cluster): TRUE, the value stripped, the
 * rest into *@rest (NULL when none) and the flow its token names into *@hop
 * (NULL when the token does not check: the binding is then reached as if it
 * had no Path of ours; both transfer full), and into *@gone (nullable)
 * whether that flow is a TCP connection no longer open.  FALSE when it is not
 * ours. */
gboolean sf_proxy_path_self (SfCtx *ctx, const char *path, char **hop, char **rest, gboolean *gone);
/* Is @hop (a flow's URI, as sf_proxy_flow_route and sf_proxy_path_self give)
 * a TCP flow whose connection is no longer open?  Such a binding was not
 * behind NAT unless its flow says so: a phone that closed the connection it
 * registered on is reached at its Contact, as without registrar.cluster. */
gboolean sf_proxy_flow_closed (SfCtx *ctx, const char *hop);

/* 16.7 step 9 and step 4: @resp as it goes back toward the caller: our Via
 * popped and, in a 1xx or 2xx that carries Record-Route and a Contact, the
 * token of each Record-Route of ours made for the callee's Contact, in one
 * rebuild (transfer full; NULL with @error when it cannot be built). */
SfSipMsg *sf_proxy_forward_response (SfCtx *ctx, SfSipMsg *resp, GError **error);

/* The gate a proxy's stack runs before any state (sf_stack_set_gate): 16.3
 * and admission refusals, and challenges without credentials, answered
 * statelessly; proxy.trusted exempt from sip.rate_limit; stray responses
 * forwarded statelessly (sf_proxy_gate_stray); one instance per server
 * transaction (per_transaction). */
extern const SfStackGate sf_proxy_gate;

/* sf-proxy-stateless.c: 16.7 step 10 and 16.11.  Forwards @resp, a response
 * that matches no client transaction, to its next Via as a stateless proxy
 * (18.2.2) when its top Via is ours (our address and one of our branches);
 * counted in the stack's stateless answers.  TRUE when it was sent. */
gboolean sf_proxy_forward_stray (SfStack *s, SfSipMsg *resp, const SfSipPeer *from);
/* The gate's stray function: forwards @resp when its top branch is one this
 * proxy made (its MAC checks; else this proxy would be a reflector). */
void sf_proxy_gate_stray (SfCtx *ctx, SfSipMsg *resp, const SfSipPeer *from, gpointer data);
/* RFC 5393 5.3.3: the Max-Breadth of @req into *@out: its Max-Breadth value
 * (cut to G_MAXUINT), @dflt when it has none.  FALSE when the header is not
 * 1*DIGIT (5.3.1: to be answered 400). */
gboolean sf_proxy_max_breadth (SfSipMsg *req, guint dflt, guint *out);
/* RFC 5393 5.3.3: how many of @n targets can be forked to now with @available
 * breadth left, each branch getting at least 1: MIN (@n, @available); the
 * shares (written to @shares[0..m-1]) are as even as can be and sum to
 * @available.  0: none fits (440 when no branch is pending either). */
guint sf_proxy_breadth_split (guint available, guint n, guint *shares);

/* 16.7 step 6: the rank of a final response (3xx-6xx) when the best is chosen,
 * lower is better: 6xx, then 3xx, then 401, 407, 415, 420, 484, then other
 * 4xx, then 5xx; among equals the first received wins. */
guint sf_proxy_rank (guint status);
/* The response that goes upstream for @best (transfer full): a 503 as 500
 * (step 6); with @challenges (nullable: "Name: value" lines of every 401/407
 * received), @best's own challenges replaced by all of them (step 7). */
SfSipMsg *sf_proxy_final_response (SfSipMsg *best, GPtrArray *challenges);

G_END_DECLS
