/* sf-ua-leg.h: the contract between a B2BUA bridge (xml/b2bua.xml,
 * operators/b2bua/) and its two ua.xml call instances, its legs.
 *
 * A leg runs the unmodified ua.xml machine; its operators take a "leg mode"
 * branch when the call has SfUaCall.leg (sf_ua_leg_attach): they never
 * negotiate local media, never answer on their own, and carry the bodies the
 * bridge gives them.  A leg tells the bridge (its parent instance) what
 * happened with `child:NAME` events; the bridge drives a leg with `device:NAME`
 * events.  Every event of either direction carries one SfUaLegNote as its
 * payload (device:call an SfUaLegCall), owned by the event.
 *
 * "A" is the leg facing the caller (it took the INVITE), "B" the one facing the
 * callee (it sends an INVITE built from SfUaLegCall only: RFC 3261 nothing of A's
 * headers reaches B unless the bridge puts it in SfUaLegCall, docs/b2bua.md). */
#pragma once
#include <glib.h>
#include "sipflow/sf-operator.h"
#include "framework/sf-endpoint.h"
#include "sip/sf-sip-msg.h"

G_BEGIN_DECLS

/* ---- up: leg to bridge (SF_EV_CHILD events, arg = the leg's handle, payload
 * SfUaLegNote).  The fields each one fills: ---- */
#define SF_UA_LEG_UP_PROGRESS       "progress"       /* a 1xx above 100 from B: status, reason; ctype+body
                                                        when it had SDP (early media) */
#define SF_UA_LEG_UP_ANSWERED       "answered"       /* B's 2xx to the INVITE: status, ctype+body (its SDP answer;
                                                        method "ACK": our INVITE had no offer, the body is B's
                                                        offer, and the leg holds its ACK until device:ack) */
#define SF_UA_LEG_UP_CALL_END       "call_end"       /* the leg's call ended (once, before child:end):
                                                        status (the INVITE's final status, sent or received; 0
                                                        when none), reason (the call_end reason: "cancelled",
                                                        "bye", "rejected", "no_answer", "timeout", ...) */
#define SF_UA_LEG_UP_OFFER          "offer"          /* an in-dialog re-INVITE or UPDATE with an offer, kept
                                                        unanswered until device:reanswer: method, ctype+body */
#define SF_UA_LEG_UP_OFFER_ANSWERED "offer_answered" /* the final response to our relayed offer
                                                        (device:reoffer): status, method; ctype+body on 2xx */
#define SF_UA_LEG_UP_ACK            "ack"            /* A: the ACK with the answer to the offer our 200 carried
                                                        (the INVITE had none; or an offer-less re-INVITE's, which
                                                        the leg answered itself): ctype+body */
#define SF_UA_LEG_UP_INFO           "info"           /* an INFO in the dialog (answered 200 by the leg):
                                                        ctype+body (may be empty) */
#define SF_UA_LEG_UP_REFER          "refer"          /* a REFER the leg accepted (202) after the bridge's
                                                        check (sf_ua_leg_set_refer_check): body = the Refer-To
                                                        URI (no headers), lines = the new call's INVITE lines
                                                        (Referred-By, an embedded Replaces), notifier = the
                                                        handle of the implicit subscription's notifier (NULL:
                                                        Refer-Sub false), msg = the REFER */

/* ---- down: bridge to leg (SF_EV_DEVICE events, payload SfUaLegNote unless said) ---- */
#define SF_UA_LEG_DOWN_CALL     "call"     /* B: payload SfUaLegCall; the leg sends the INVITE */
#define SF_UA_LEG_DOWN_PROGRESS "progress" /* A: send note.status (180 or 183; 0 = 180) with note's body if
                                              any; reliably (RFC 3262) when A required 100rel or the body
                                              has SDP and A supports it */
#define SF_UA_LEG_DOWN_ANSWER   "answer"   /* A: 200 with note's body (the SDP answer) */
#define SF_UA_LEG_DOWN_REJECT   "reject"   /* A: the final status note.status (or the event's arg, "486") */
#define SF_UA_LEG_DOWN_HANGUP   "hangup"   /* either: CANCEL or BYE as the state says (note may be NULL) */
#define SF_UA_LEG_DOWN_REOFFER  "reoffer"  /* either, up: send note.method ("INVITE" or "UPDATE"; NULL:
                                              re-INVITE, UPDATE while early) with note's body as the offer */
#define SF_UA_LEG_DOWN_REANSWER "reanswer" /* either: answer the kept offer: note.status (0 = 200) with note's
                                              body on 2xx */
#define SF_UA_LEG_DOWN_ACK      "ack"      /* B, holding the ACK of a 2xx that carried the offer (answered
                                              with method "ACK"): the ACK goes with note's SDP (the caller's
                                              answer); a note without SDP: the ACK without body, then BYE.
                                              Nothing held: ignored.  Unsent in 64*T1 (timer ack_hold), the
                                              leg ACKs without body and hangs up itself */
#define SF_UA_LEG_DOWN_INFO     "info"     /* either, up: send INFO with note's ctype+body; its answer ignored */

/* What one up or down event says.  Every pointer owned and nullable. */
typedef struct {
  guint status;      /* a response status (progress, answered, call_end, offer_answered, reject, reanswer) */
  char *method;      /* "INVITE" or "UPDATE" (offer, offer_answered, reoffer) */
  char *ctype;       /* the body's Content-Type ("application/sdp"); NULL when no body */
  char *body;        /* the body, NUL-terminated (SDP or INFO's) */
  char *reason;      /* call_end: why; reject: a reason phrase (ours when NULL) */
  GPtrArray *lines;  /* char*: further whole header lines "Name: value" a down event's request or response
                        carries (the flow chose them: topology hiding, docs/b2bua.md) */
  SfSipMsg *msg;     /* up: the message it came from (a ref) for the bridge's ${hdr.*}; down: unused */
  char *notifier;    /* refer: the notifier instance's handle (progress goes there), nullable */
} SfUaLegNote;

/* device:call's payload: everything B's INVITE is built from (section 3 of the
 * design: never from A's INVITE). */
typedef struct {
  char *target;        /* the Request-URI and To: "sip:bob@host" (the flow or the configuration chose it) */
  char *from;          /* From as a name-addr "<sip:alice@us>" (our tag added), NULL: ua.uri's */
  guint max_forwards;  /* Max-Forwards (RFC 7332: A's minus 1); 0 = 70 */
  SfUaLegNote offer;   /* ctype+body: the offer (A's SDP, rewritten); lines: extra header lines */
  /* A call a REFER made (the bridge performs a transfer): the notifier its
   * progress goes to (RFC 3515 2.4.5, sf_ua_refer_progress) and the
   * Referred-By value (its call_end says so); both nullable. */
  char *refer_notifier;
  char *referred_by;
} SfUaLegCall;

/* Makes @leg (an instance of a ua.xml machine in @ep) a leg of the bridge
 * instance @bridge (a handle, "c1"): its call gets SfUaCall.leg.  @a_side: it
 * faces the caller (takes the INVITE) rather than the callee.  Call it before
 * the leg sees its first event. */
void sf_ua_leg_attach (SfEndpoint *ep, SfInstance *leg, const char *bridge, gboolean a_side);

/* The bridge's word on a REFER a leg received in its confirmed dialog
 * (RFC 3515 2.4.2: the transferee decides): 0 to accept it (the leg answers
 * 202 and sends child:refer), else the status the REFER gets (403, 491, 503)
 * with *@why its reason phrase (static or owned by the bridge for the call).
 * @host and @maddr (nullable) are the Refer-To URI's. */
typedef guint (*SfUaLegReferCheck) (SfEndpoint *ep, const char *bridge, const char *leg, const char *host,
                                    const char *maddr, const char **why);
/* Sets @leg's REFER check (a leg without one refuses every REFER with 403). */
void sf_ua_leg_set_refer_check (SfEndpoint *ep, SfInstance *leg, SfUaLegReferCheck check);
/* @ctx's leg's check for a REFER to @host/@maddr (see SfUaLegReferCheck). */
guint sf_ua_leg_refer_check (SfCtx *ctx, const char *host, const char *maddr, const char **why);

/* Posts child:@what with @note (transfer full; NULL: an empty one) to the
 * bridge of @ctx's leg (its parent).  Nothing (the note freed) when the call is
 * not a leg or the bridge is gone. */
void sf_ua_leg_notify (SfCtx *ctx, const char *what, SfUaLegNote *note);

/* A new empty note; one with a copy of @ctype and @body (either nullable). */
SfUaLegNote *sf_ua_leg_note_new (guint status, const char *ctype, const char *body);
/* Frees @n and everything it holds (NULL is fine): a GDestroyNotify for events. */
void sf_ua_leg_note_free (SfUaLegNote *n);
/* Clears what @n holds (an embedded note, SfUaLegCall.offer), leaving it empty. */
void sf_ua_leg_note_clear (SfUaLegNote *n);
/* Frees @c and everything it holds (NULL is fine). */
void sf_ua_leg_call_free (SfUaLegCall *c);

/* The leg state of @ctx's call, NULL for a plain UA (sf-ua-leg.c). */
typedef struct _SfUaLeg SfUaLeg;
gboolean sf_ua_leg_is_a (const SfUaLeg *leg);
const char *sf_ua_leg_bridge (const SfUaLeg *leg);
void sf_ua_leg_free (SfUaLeg *leg);

G_END_DECLS
