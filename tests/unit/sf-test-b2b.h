/* sf-test-b2b.h: the wire-level harness of the B2BUA suites (test-b2bua.c,
 * test-b2bua-leg2.c, test-b2bua-media2.c): xml/b2bua.xml on a transaction
 * stack over the fake clock, its caller A the stack's peer socket, its callee
 * B (and a third party C) UDP sockets on loopback, and what a peer sends and
 * reads. */
#pragma once
#include "sf-test.h"
#include "operators/b2bua/sf-b2bua.h"

typedef struct {
  SfTestStack *t;            /* its peer is A */
  GSocket *b;                /* B: b2bua.target */
  GInetSocketAddress *bto;
  guint bport;
  GSocket *c;                /* C (SF_TEST_B2B_C): b2bua.failover, a transfer's target */
  GInetSocketAddress *cto;
  guint cport;
} SfTestB2b;

enum {
  SF_TEST_B2B_C = 1 << 0,      /* a third peer, C, named by b2bua.failover */
  SF_TEST_B2B_MEDIA = 1 << 1,  /* the media module on the null backend (media.* settings read by the bridge) */
};

/* The B2BUA with media.backend=null, ua.uri=sip:b2b@127.0.0.1, sip.t1_ms=100,
 * then @sets (nullable: space-separated KEY=VALUE), b2bua.target B. */
SfTestB2b *sf_test_b2b_new (const char *sets, guint flags);
void sf_test_b2b_free (SfTestB2b *x);
/* The module state of the B2BUA sf_test_b2b_new made last (its live count). */
SfB2bState *sf_test_b2b_state (void);
/* Runs the clock past every transaction's and guard's end (50 s). */
void sf_test_b2b_settle (SfTestB2b *x);

/* Sends @text from @sock to @to. */
void sf_test_send (GSocket *sock, GInetSocketAddress *to, const char *text);
/* The next datagram on @sock (transfer full), NULL when none came; with
 * @skip_100, a 100 Trying is skipped. */
char *sf_test_recv (GSocket *sock, gboolean skip_100);
/* The next final response on @sock (provisional ones skipped): its status
 * (0 when none came), its text in *@text (nullable, transfer full). */
guint sf_test_recv_final (GSocket *sock, char **text);
/* A peer's response @status to @req on @sock: a To tag @tag when the request
 * has none, a Contact at @port, @sdp as body (nullable). */
void sf_test_reply (GSocket *sock, GInetSocketAddress *to, const char *req, guint status, const char *tag, guint port,
                    const char *sdp);
