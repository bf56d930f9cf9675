/* sf-b2bua.h: the B2BUA bridge module (docs/b2bua.md): its [b2bua]
 * configuration, its per-endpoint state (the live bridges, bounded by
 * b2bua.max_calls) and the bridge's per-instance data, SfB2bCall, in the
 * module's slot of the bridge instance (xml/b2bua.xml).  The bridge owns two
 * ua.xml legs as children (operators/ua/sf-ua-leg.h is the contract). */
#pragma once
#include <glib.h>
#include "framework/sf-module.h"
#include "media/sf-media-relay.h"
#include "media/sf-sdp.h"
#include "operators/ua/sf-ua-leg.h"

G_BEGIN_DECLS

extern const SfModuleDef sf_b2bua_module;

typedef enum {
  SF_B2B_MEDIA_PASS,    /* the SDP relayed, its connection address kept */
  SF_B2B_MEDIA_ANCHOR,  /* RTP relayed through us (refused at start until the relay exists) */
} SfB2bMedia;

/* b2bua.refer: what a REFER from either side may do (docs/b2bua.md "Transfer"). */
typedef enum {
  SF_B2B_REFER_OFF,            /* 403 */
  SF_B2B_REFER_TARGET_DOMAIN,  /* the Refer-To's host (and maddr) one the configuration calls */
  SF_B2B_REFER_ANY,
} SfB2bRefer;

/* One row of b2bua.status_map: B's final status @from (a class "4xx" when
 * @cls) becomes @to towards A. */
typedef struct {
  guint from;
  gboolean cls;
  guint to;
} SfB2bMapRow;

/* Per endpoint (the module's state). */
typedef struct {
  SfEndpoint *ep;         /* unowned */
  guint max_calls;        /* 0: no limit */
  guint live;             /* bridges that accepted a call and have not been freed */
  SfB2bMedia media;
  char *from;             /* owned, nullable: b2bua.from (a name-addr template) */
  GArray *status_map;     /* SfB2bMapRow: the configured rows first, then the defaults */
  GArray *failover;       /* guint: B statuses that send the call to the next target */
  GStrv targets;          /* owned, nullable: b2bua.targets, tried after the flow's target */
  SfRelayLatch latch;     /* b2bua.latch, relatch_ms, rtp_timeout (ms) */
  guint relatch_ms, rtp_timeout_ms;
  SfB2bRefer refer;
  gboolean refer_from_any; /* b2bua.refer_from = any: the caller's side may transfer too */
} SfB2bState;

/* Per bridge instance. */
typedef struct {
  SfB2bState *st;         /* unowned: outlives every bridge (instances end before teardown) */
  gboolean counted;       /* holds one of st->live */
  gboolean invite;        /* the request was an INVITE: a call, with a bridge_end line */
  char *a, *b;            /* owned, nullable: the live legs' handles */
  char *a_call_id;        /* owned: the caller's Call-ID */
  char *b_call_id;        /* owned, nullable: B's (learnt from the leg) */
  guint a_status, b_status;
  char *a_reason, *b_reason;
  const char *ended_by;   /* "a", "b", "bridge" (static), NULL while up */
  gboolean answered;
  char offer_from;        /* 'a' or 'b': the side whose re-INVITE/UPDATE offer the other side has; 't': the
                             bridge's own offer (a transfer joining the staying side to the referred call),
                             'T': the referred call's update after it; 'o': the bridge's own offer to A
                             after B's 2xx changed a reliable 183's answer; 0: none */
  guint next_target;      /* index into st->targets for failover */
  guint max_forwards;     /* what B's INVITE carries */
  char *offer_ctype, *offer; /* owned, nullable: A's SDP offer */
  GPtrArray *lines;       /* char*: the header lines the flow chose for B's INVITE */
  gint64 start_us, answer_us;
  /* The SDP each side gets (docs/media.md "Relay (B2BUA anchored media)"):
   * o= ours per side; anchored, c= and port the relay's. */
  gboolean sides_set;
  SfSdpBridgeSide to_a, to_b;
  SfMediaRelay *relay;    /* owned, nullable: b2bua.media = anchor */
  /* The last SDP each side sent us, as it came (a transfer offers the side
   * that stays to the referred call: RFC 3725's flow with the offer known). */
  char *sdp_from_a, *sdp_from_b;
  char *target;           /* owned, nullable: the URI the current B leg called (b2bua.refer = target_domain) */
  /* A transfer (a REFER from side xfer_side): the referred call is leg xfer
   * until it answers, then it takes xfer_side's place (sf-op-bridge.c). */
  char *xfer;             /* owned, nullable: the referred call's handle */
  char xfer_side;         /* 'a' or 'b': the transferor's side */
  char *xfer_target;      /* owned, nullable: its Refer-To */
  char *xfer_sent;        /* owned, nullable: the SDP the referred call was offered (the staying side's, as it came) */
  SfUaLegNote *xfer_answer; /* owned, nullable: the referred call's answer, kept while another offer crosses */
  guint transfers;        /* transfers completed */
} SfB2bCall;

/* The module's state for @ep from @cfg's [b2bua] (checked: a bad status_map,
 * failover or failover_on row is an error naming the key); what setup makes
 * (tests attach it with sf_module_attach). */
SfB2bState *sf_b2b_state_new (SfEndpoint *ep, SfConfig *cfg, GError **error);
void sf_b2b_state_free (SfB2bState *st);
/* The bridge data of @ctx's instance (made on first use). */
SfB2bCall *sf_b2b_call (SfCtx *ctx);
/* B's final status @status mapped for A by b2bua.status_map (RFC 3261 16.7
 * spirit: a hop-by-hop status A cannot act on becomes one it can). */
guint sf_b2b_map_status (const SfB2bState *st, guint status);
/* Parses a status_map ("FROM=TO,...", FROM a code or a class "5xx") into @rows; FALSE with @error. */
gboolean sf_b2b_parse_map (const char *const *items, GArray *rows, GError **error);

G_END_DECLS
