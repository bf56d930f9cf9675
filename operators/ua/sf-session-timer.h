/* sf-session-timer.h: session timers (RFC 4028) for the user agent: the
 * Session-Expires and Min-SE parsers, the negotiation of the interval and of
 * the refresher, the timer arithmetic, and the hooks the UAS and UAC code call
 * (sf-op-session-timer.c; the operators are in its table). */
#pragma once
#include <glib.h>
#include "sf-ua-call.h"
#include "sip/sf-sip-build.h"

G_BEGIN_DECLS

/* RFC 4028 4, 5: never below 90 s. */
#define SF_UA_SE_FLOOR 90
/* The largest interval taken: beyond, 400 (its milliseconds stay in 32 bits). */
#define SF_UA_SE_MAX 2000000
/* 422s answered by raising the interval, at most, for one request. */
#define SF_UA_SE_MAX_422 3

typedef enum {
  SF_UA_REFRESHER_NONE = 0, /* no refresher parameter */
  SF_UA_REFRESHER_UAC,
  SF_UA_REFRESHER_UAS,
} SfUaRefresher;

/* What a request or a 2xx says about session timers. */
typedef struct {
  guint se;                /* Session-Expires, 0: absent */
  SfUaRefresher refresher; /* its refresher parameter */
  guint min_se;            /* Min-SE, 0: absent */
  gboolean supported;      /* Supported or Require lists timer */
  gboolean required;       /* Require lists timer */
  gboolean allows_update;  /* Allow lists UPDATE (the peer takes UPDATE refreshes) */
} SfUaSeHeaders;

/* Reads Session-Expires (or its compact form x), Min-SE, Supported, Require
 * and Allow of @msg into @out.  FALSE with @error naming the header when
 * Session-Expires or Min-SE is malformed (not a number, out of range, a
 * refresher other than uac or uas, twice). */
gboolean sf_ua_se_parse (SfSipMsg *msg, SfUaSeHeaders *out, GError **error);
/* The value of one Session-Expires / Min-SE header (without the name). */
gboolean sf_ua_se_parse_session_expires (const char *value, guint *se, SfUaRefresher *refresher, GError **error);
gboolean sf_ua_se_parse_min_se (const char *value, guint *min_se, GError **error);

/* The UAS's decision on a request (RFC 4028 9). */
typedef struct {
  guint reject_min_se;     /* not 0: 422 with this Min-SE */
  guint interval;          /* the 2xx's Session-Expires */
  SfUaRefresher refresher; /* the 2xx's refresher parameter (never NONE) */
  gboolean require;        /* the 2xx carries Require: timer */
} SfUaSeAnswer;

/* Decides what a 2xx to the request @req says, with our ua.session_expires
 * @ours and ua.min_se @min: RFC 4028 9 (and its erratum 1687 for a request
 * without timer support whose interval is too small: raised, not refused). */
void sf_ua_se_answer (const SfUaSeHeaders *req, guint ours, guint min, SfUaSeAnswer *out);

/* When the refresher refreshes: at half the interval (RFC 4028 10), in ms. */
guint64 sf_ua_se_refresh_ms (guint interval);
/* When the other side gives up: the interval less min (32, interval / 3)
 * (RFC 4028 10), in ms. */
guint64 sf_ua_se_expire_ms (guint interval);

/* ---- hooks for the UAS and UAC code ---- */

/* The session-timer header lines of our INVITE (Supported: timer,
 * Session-Expires, Min-SE, Require: timer under ua.session_timer = required),
 * NULL-terminated (transfer full); NULL under off. */
char **sf_ua_se_invite_lines (SfCtx *ctx, SfUaCall *call);
/* The session-timer lines of a re-INVITE or UPDATE of ours in the call
 * (Supported: timer, Session-Expires with the refresher kept, Min-SE; RFC 4028
 * 7.4), NULL-terminated (transfer full), NULL under off; @refresh: a refresh
 * we send as the refresher. */
char **sf_ua_se_request_lines (SfCtx *ctx, SfUaCall *call, gboolean refresh);
/* Adds the Session-Expires and Require lines of a 2xx to @req (an INVITE or an
 * UPDATE) to @b, and (re)starts the session's timers: the 2xx is sent next. */
void sf_ua_se_response_lines (SfCtx *ctx, SfSipMsg *req, guint status, SfSipBuilder *b);
/* The 2xx @resp to our INVITE: the session timer it sets (RFC 4028 7.2, 7.4). */
void sf_ua_se_take_2xx (SfCtx *ctx, SfUaCall *call, SfSipMsg *resp);

G_END_DECLS
