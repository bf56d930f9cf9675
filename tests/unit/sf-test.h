/* sf-test.h: helpers shared by the CUnit suites: an endpoint on a fake clock
 * whose event output and trace are captured, and a table of scriptable test
 * operators whose calls are recorded in order. */
#pragma once
#include <CUnit/CUnit.h>
#include <gio/gio.h>
#include "framework/sf-endpoint.h"
#include "framework/sf-loader.h"
#include "operators/transaction/sf-stack.h"

typedef struct {
  SfConfig *cfg;
  SfRegistry *reg;
  SfEndpoint *ep;
  SfLoader *loader;
  GPtrArray *lines;    /* emitted event lines */
  GPtrArray *untaken;  /* "handle state trigger" */
} SfTestEnv;

/* The calls of the test operators, "OpName(arg)@State:queue", in order. */
extern GPtrArray *sf_test_calls;

SfTestEnv *sf_test_env_new (void);
void sf_test_env_free (SfTestEnv *env);
/* Loads a flow from a string (named @name in diagnostics); NULL on error. */
SfMachine *sf_test_load (SfTestEnv *env, const char *name, const char *xml);
/* Number of emitted lines containing every one of the NULL-terminated substrings. */
guint sf_test_count (SfTestEnv *env, ...) G_GNUC_NULL_TERMINATED;
/* The calls joined by ' ' (transfer full), then cleared. */
char *sf_test_take_calls (void);
/* Whether the loader's diagnostics hold one at @line (0: any) whose text contains @needle. */
gboolean sf_test_has_diag (SfLoader *loader, int line, gboolean warning, const char *needle);

/* A UDP socket on 127.0.0.1 that plays a SIP peer of the stack whose last
 * "listening" event @env wrote: *@to is that stack's address, *@port the peer's. */
GSocket *sf_test_peer_new (SfTestEnv *env, GInetSocketAddress **to, guint *port);
/* Turns the default main context until @sock is readable (5 s of real time at
 * most); FALSE when nothing came. */
gboolean sf_test_peer_wait (GSocket *sock);
/* Runs the main context dry (bounded); TRUE when nothing came to @sock. */
gboolean sf_test_peer_quiet (GSocket *sock);

/* A transaction stack on 127.0.0.1 (any port) over @env (attached, configured
 * by the caller) running @tu (transfer full, nullable) as its TU, and a peer
 * socket (sf_test_peer_new) that plays the network. */
typedef struct {
  SfTestEnv *env;
  SfStack *stack;
  SfMachine *tu;           /* owned, nullable */
  GSocket *peer;
  GInetSocketAddress *to;  /* the stack's address */
  guint port;              /* the peer's port */
} SfTestStack;
SfTestStack *sf_test_stack_new (SfTestEnv *env, SfMachine *tu);
/* Kills what instances are left, frees the stack, then runs @teardown
 * (nullable: a module's, before the endpoint goes), frees @env, and runs the
 * main context dry. */
void sf_test_stack_free (SfTestStack *t, void (*teardown) (SfEndpoint *ep));
/* Sends @text from the peer to the stack; "%PORT%" becomes the peer's port. */
void sf_test_stack_send (SfTestStack *t, const char *text);
/* The next datagram the peer gets (transfer full; NULL when none within 5 s of real time). */
char *sf_test_stack_recv (SfTestStack *t);
/* The value of header @name in the message text @m (transfer full), NULL when absent. */
char *sf_test_header (const char *m, const char *name);

/* Suites */
void sf_test_register_timer (void);
void sf_test_register_dispatch (void);
void sf_test_register_loader (void);
void sf_test_register_registry (void);
void sf_test_register_config (void);
void sf_test_register_sip_parse (void);
void sf_test_register_sip_digest (void);
void sf_test_register_sip_build (void);
void sf_test_register_sip_transport (void);
void sf_test_register_sip_resolve (void);
void sf_test_register_txn (void);
void sf_test_register_sip_dialog (void);
void sf_test_register_sip_txn_key (void);
void sf_test_register_ua_prack (void);
void sf_test_register_ua_subscribe (void);
void sf_test_register_ua_refer (void);
void sf_test_register_ua_leg (void);
void sf_test_register_flow_token (void);
void sf_test_register_sdp (void);
void sf_test_register_srtp (void);
void sf_test_register_media (void);
void sf_test_register_tone (void);
void sf_test_register_location (void);
void sf_test_register_users (void);
void sf_test_register_metrics (void);
void sf_test_register_proxy (void);
void sf_test_register_sdk (void);
void sf_test_register_flow (void);
void sf_test_register_ua_timer (void);
void sf_test_register_ua_update (void);
void sf_test_register_ua_message (void);
void sf_test_register_ua_replaces (void);
void sf_test_register_b2bua (void);
void sf_test_register_b2bua_leg2 (void);
void sf_test_register_b2bua_media (void);
void sf_test_register_route (void);
void sf_test_register_workers (void);
void sf_test_register_location_mirror (void);
void sf_test_register_events_golden (void);

#define SF_ADD_TEST(suite, fn) CU_add_test ((suite), #fn, (fn))
