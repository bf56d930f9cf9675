/* sf-ua-sub.h: what one instance of the subscription machine keeps
 * (xml/subscription.xml): shared by sf-op-subscribe.c (RFC 6665) and
 * sf-op-refer.c (REFER's implicit subscription, RFC 3515). */
#pragma once
#include "sf-ua-call.h"

G_BEGIN_DECLS

struct _SfUaSub {
  char *uri;              /* whom we subscribe to (the Request-URI) */
  char *package;          /* the Event package */
  char *event_id;         /* its id parameter (RFC 6665 8.2.1): none in ours yet, REFER's later */
  char *call_id, *tag;    /* this subscription's (a new one per SUBSCRIBE outside a dialog) */
  char *peer;             /* the notifier's host (the per-peer bound) */
  guint32 cseq;
  SfSipMsg *last;         /* our SUBSCRIBE waiting for its final response */
  SfUaAuth auth;
  SfSipDialog *dialog;    /* made by the 2xx or the first NOTIFY (4.1.2.4) */
  gint64 granted;         /* the expiry in force (s), -1 before any */
  gboolean unsubscribe;   /* the user asked to end it */
  gboolean removing;      /* the last SUBSCRIBE had Expires: 0 */
  gboolean refreshing;    /* the last SUBSCRIBE is a refresh */
  guint retries;          /* re-subscriptions in a row (4.1.3) */
  char *state;            /* the last Subscription-State */
  char *reason;           /* why it ended */
  guint status;           /* the last final status of our SUBSCRIBE */
  /* REFER's implicit subscription (RFC 3515; sf-op-refer.c), either role */
  gboolean refer;         /* package refer: no refresh, no retry, sipfrag bodies */
  gboolean notifier;      /* we are the transferee, sending the NOTIFYs */
  char *refer_call;       /* transferor: the handle of the call transferred; notifier: of the referred call */
  char *target;           /* the Refer-To we sent (transferor) */
  guint frag_status;      /* the last sipfrag status sent (notifier) or received (transferor), 0 none */
  char *frag_reason;      /* its reason phrase */
  gboolean notify_out;    /* notifier: a NOTIFY of ours waits for its response (one at a time, RFC 6665 4.2.2) */
  gboolean queued;        /* notifier: a progress came meanwhile: frag_* go when it is answered */
  gboolean final_sent;    /* notifier: the terminated NOTIFY went */
  gint64 ends_us;         /* notifier: when its expiry timer fires (each NOTIFY's expires= is what is left) */
  gboolean first_refer;   /* transferor: ours is the first REFER in the dialog, so its NOTIFYs may omit
                           * the Event id (RFC 3515 2.4.6); later ones must carry it */
};
typedef SfUaSub Sub;

/* The subscription state of @ui's instance, made on first use (transfer none). */
Sub *sf_ua_sub_new_of (SfUaInstance *ui);
/* The subscription state of @ctx's instance, NULL when none. */
Sub *sf_ua_sub_peek (SfCtx *ctx);
/* sf-op-subscribe.c's: live subscription instances of the endpoint, both
 * roles, and those whose peer is @peer (NULL: not counted). */
guint sf_ua_sub_count (SfCtx *ctx, const char *peer, guint *with_peer);
/* sf-op-refer.c's: a NOTIFY of a refer subscription, its sipfrag's status
 * read (after the 200 went): the transfer event, and the call BYEd on a 2xx. */
void sf_ua_refer_notified (SfCtx *ctx, Sub *s, guint status, const char *reason, gboolean terminated);

G_END_DECLS
