/* sf-ua-call.h: what one call instance of the user agent keeps, shared by the
 * UAS operators (sf-op-ua.c), the UAC operators (sf-op-uac.c) and the audio
 * operators (operators/media/).  VOCAL's OpRing kept the INVITE, the route set,
 * the contact and the remote SDP in the call's container; this is that
 * container, one per call instance (in the ua module's instance slot), plus the [ua]
 * configuration section the operators read. */
#pragma once
#include <glib.h>
#include "sipflow/sf-operator.h"
#include "sipflow/sf-config.h"
#include "operators/transaction/sf-stack.h"
#include "sip/sf-sip-dialog.h"
#include "media/sf-sdp.h"
#include "media/sf-media.h"
#include "operators/ua/sf-ua-leg.h"

G_BEGIN_DECLS

/* A call that is one leg of a B2BUA bridge (sf-ua-leg.h; docs/ua.md "Leg mode
 * (B2BUA)"): who to tell, and what the leg keeps for the bridge. */
struct _SfUaLeg {
  char *bridge;              /* the bridge's handle (our parent) */
  gboolean a_side;           /* faces the caller: took the INVITE */
  /* B: what device:call gave (the INVITE again after a challenge or a 3xx is built from it too) */
  char *target, *from;
  guint max_forwards;
  char *offer_ctype;
  GPtrArray *lines;          /* char*: the flow's header lines for our INVITE, nullable */
  /* relays inside the dialog (re-INVITE, UPDATE: sf-op-ua.c, sf-op-uac.c) */
  SfSipEvent *pending;       /* a request with an offer, kept unanswered until device:reanswer, owned, nullable */
  SfSipMsg *relay_out;       /* our relayed re-INVITE or UPDATE awaiting its final response, owned, nullable */
  char *last_sdp;            /* the SDP we sent last: an offer-less re-INVITE's answer (RFC 3264 8: o= unchanged) */
  SfUaLegReferCheck refer_check; /* the bridge's word on a REFER, nullable (sf_ua_leg_set_refer_check) */
  /* B: our INVITE had no offer and the callee's 2xx carried one: its ACK waits
   * for the caller's answer (device:ack, OpRelayAck; timer ack_hold) */
  gboolean ack_held;
  guint32 ack_cseq;          /* the INVITE's CSeq the held ACK carries */
  SfUaLegNote *reoffer_held; /* device:reoffer's note that came while our 2xx to the INVITE waited for its ACK (or
                                for the PRACK our 2xx waits on): sent once the ACK came, owned, nullable */
};
/* Posts child:WHAT with a note made from @m (status, reason phrase, its body
 * and Content-Type, a ref of @m) to the leg's bridge. */
void sf_ua_leg_notify_msg (SfCtx *ctx, const char *what, SfSipMsg *m, const char *method);

/* 3xx followed at most this many times for one call (RFC 3261 8.1.3.4 leaves the bound to us). */
#define SF_UA_MAX_REDIRECTS 5
/* Challenges answered at most this many times for one request (a server that
 * keeps challenging with fresh nonces must not make us loop). */
#define SF_UA_MAX_CHALLENGES 3

/* What a request has answered so far: the latest credentials per header (a
 * proxy's 407 and the UAS's 401 both stay answered, 22.3), the nonces answered,
 * and how many challenges. */
typedef struct {
  char *www;                 /* "Authorization: ..." or NULL */
  char *proxy;               /* "Proxy-Authorization: ..." or NULL */
  GPtrArray *nonces;         /* char*: every nonce answered */
  guint tries;
} SfUaAuth;
void sf_ua_auth_clear (SfUaAuth *a);
/* The credential lines of @a in @out (NULL-terminated, at most 2 lines); returns @out. */
const char *const *sf_ua_auth_lines (const SfUaAuth *a, const char *out[3]);

typedef struct {
  gboolean incoming;
  /* UAS: the INVITE we answer, our To tag, whether it has its final response */
  SfSipEvent *invite;
  char *tag;
  gboolean final_sent;
  /* a 2xx we retransmit until its ACK (13.3.1.4): for the INVITE or a re-INVITE */
  SfSipMsg *ok;
  char *ok_txn;
  SfSipPeer ok_peer;
  gboolean ok_has_offer;     /* our 2xx carried the offer (offer-less INVITE): the ACK has the answer */
  /* UAC: the INVITE we sent last (after a redirect or a challenge), its ACK */
  SfSipMsg *invite_out;
  SfSipMsg *ack;
  gboolean provisional;      /* a 1xx came: a CANCEL may go (9.1) */
  gboolean cancelling;       /* hung up (or no answer) before the final response */
  gboolean cancel_pending;   /* ... and before any 1xx: the CANCEL goes with the first one */
  GPtrArray *targets;        /* redirect: URIs (char*) still to try, best q first */
  GHashTable *tried;         /* redirect: URIs already tried (loop guard) */
  guint redirects;
  SfUaAuth auth;             /* the challenges answered for the INVITE (22.2, 22.3) */
  SfSipMsg *reinvite_out;    /* our re-INVITE (hold, resume) waiting for its final response */
  SfSdpDir want_dir;         /* what the user asked for: SENDRECV, or SENDONLY on hold */
  GPtrArray *invite_extra;   /* UAC: further whole lines every INVITE of the call carries
                                ("Referred-By: ...", "Replaces: ..." of a transfer, RFC 3515/3891), owned char*, nullable */
  /* REFER (RFC 3515; sf-op-refer.c) */
  char *refer_child;         /* transferee: the handle of the call a REFER in this call made (one at a time), nullable */
  char *refer_notifier;      /* a referred call: the handle of the notifier its progress goes to, nullable */
  char *referred_by;         /* a referred call: its Referred-By value (for call_end), nullable */
  gboolean refer_reported;   /* a referred call: its final status went to the notifier */
  guint refers_sent;         /* transferor: our REFERs in this call's dialog (RFC 3515 2.4.6: id optional for the first) */
  gboolean signalling_tls;   /* UAC: our INVITE leaves over TLS (its first hop: the outbound proxy or the target) */
  /* both */
  SfSipDialog *dialog;
  SfSdpSession *sdp;
  guint rtp_port;            /* from media.rtp_ports, freed with the call (after its stream stops) */
  gboolean port_held;
  SfMedia *media_owner;      /* unowned: the endpoint's media the port came from */
  SfSdpMedia media;          /* the last negotiated stream */
  gboolean have_media;
  gboolean media_new;        /* taken since OpStartAudio last applied it */
  char *pending_answer;      /* UAS: the SDP answer made when the INVITE came, sent with the 200 */
  SfMediaStream *stream;
  SfMediaStats last_stats;   /* at the stream's stop, for call_end */
  gboolean have_stats;
  guint status;              /* the INVITE's final status, sent or received */
  char *reason;              /* why the call ended, for call_end */
  char *detail;              /* and what went wrong, for call_end (sdp_failed) */
  char *early_sdp;           /* UAC: the SDP answer of a provisional response taken for early media (RFC 3960) */
  gint64 up_us;              /* when the call went up (clock), 0 before */
  gboolean ended_emitted;
  /* offer/answer (RFC 3264 4; RFC 3262 5; RFC 3311 5): one offer at a time in
   * either direction, whatever request or response carries it */
  gboolean offer_out;        /* we made an offer that has no answer yet */
  gboolean offer_in;         /* the peer made an offer we have not answered yet */
  gboolean oa_done;          /* the session's first offer/answer exchange completed (reliably) */
  /* session timers (RFC 4028; sf-op-session-timer.c, sf-session-timer.h) */
  guint se_interval;         /* the session interval in force (s), 0: no session timer */
  gboolean se_refresher;     /* we refresh; else the peer does and we watch */
  gboolean se_peer_timer;    /* the peer supports timer (its Supported or Require) */
  gboolean se_peer_update;   /* the peer's Allow lists UPDATE */
  guint se_min;              /* the Min-SE our requests carry: ua.min_se raised by 422s and the peer's Min-SE */
  guint se_want;             /* the Session-Expires our next INVITE or refresh asks for */
  guint se_422;              /* 422s answered for the request in progress (SF_UA_SE_MAX_422) */
  SfSipMsg *refresh_out;     /* our refresh (re-INVITE, also in reinvite_out; or UPDATE) awaiting its final response */
  /* reliable provisional responses (RFC 3262; operators/ua/sf-op-prack.c) */
  SfSipMsg *rel_1xx;         /* UAS: our reliable 1xx not PRACKed yet (one at a time, 3), owned, nullable */
  guint32 rseq;              /* UAS: the RSeq of our last reliable 1xx (0: none sent) */
  guint rel_sent;            /* UAS: its retransmissions so far */
  gboolean rel_sdp;          /* UAS: it carried SDP: no 2xx before its PRACK (3) */
  gboolean answer_held;      /* UAS: answered while waiting for that PRACK */
  char *rel_body;            /* UAS: the SDP our reliable 1xx carried (the 2xx repeats it), owned, nullable */
  GPtrArray *early;          /* UAC: per To tag of a reliable 1xx, its RSeq and early dialog, owned, nullable */
  /* UPDATE (RFC 3311) and glare (RFC 3261 14.1): sf-op-update.c */
  SfSipMsg *update_out;      /* our UPDATE waiting for its final response */
  gboolean update_offer;     /* ... it carries an offer (else none: a refresh) */
  gboolean update_due;       /* a 491 came: our UPDATE goes again on timer update_glare */
  guint update_glares;       /* 491s to our UPDATE in a row (bounded: SF_UA_MAX_GLARES) */
  guint reinvite_glares;     /* 491s to our re-INVITE in a row (bounded: SF_UA_MAX_GLARES) */
  /* Replaces (RFC 3891; sf-op-replaces.c) */
  char *replaces;            /* UAS: the handle of the call this INVITE replaces (OpReplaces), owned, nullable */
  char *replaced_by;         /* the handle of the new call that takes this one's place (OpReplaces marks it at
                                once, so a second INVITE naming this dialog is refused), owned, nullable; stale
                                once that call ended without answering (sf-op-replaces.c) */
  SfUaLeg *leg;              /* a B2BUA leg (sf-ua-leg.h), owned; NULL: a plain UA */
} SfUaCall;

/* A new INVITE refused at once (not ringing): the call kept (for call_end)
 * with our To tag, marked answered; the caller sends the final response. */
SfUaCall *sf_ua_call_screened (SfCtx *ctx, SfSipEvent *e);
/* Our INVITE again (same Call-ID, From tag and offer, CSeq one more; 8.1.3.4,
 * 22.2): a 422's retry (RFC 4028 7.3). */
gboolean sf_ua_resend_invite (SfCtx *ctx, SfUaCall *call, const char *ruri, GError **error);

/* The registration state of a registration instance (sf-op-register.c's). */
typedef struct _SfUaReg SfUaReg;
void sf_ua_reg_free (SfUaReg *r);
/* The state of a subscription instance (sf-op-subscribe.c's, xml/subscription.xml). */
typedef struct _SfUaSub SfUaSub;
void sf_ua_sub_free (SfUaSub *s);

/* What the ua module keeps on one instance, in its slot (sf_ctx_module_slot):
 * a call instance's call, a registration instance's registration. */
/* A MESSAGE instance's state (RFC 3428; sf-op-message.c's). */
typedef struct _SfUaMsg SfUaMsg;
void sf_ua_msg_free (SfUaMsg *m);

typedef struct {
  SfUaCall *call;   /* owned, nullable: made by sf_ua_call */
  SfUaReg *reg;     /* owned, nullable: made by the registration operators */
  SfUaMsg *msg;     /* owned, nullable: our MESSAGE (sf-op-message.c), or those sent in the call's dialog */
  SfUaSub *sub;     /* owned, nullable: made by the subscription operators */
} SfUaInstance;

/* The ua module's data of @ctx's instance, made on first use (transfer none;
 * freed with the instance). */
SfUaInstance *sf_ua_inst (SfCtx *ctx);

/* The ua module's slot of another instance: its constructor and destructor
 * (sf_instance_module_slot_ensure), and the call of such a slot, made on
 * first use (a REFER's referred call, sf-op-refer.c). */
gpointer sf_ua_inst_new (void);
void sf_ua_inst_free (gpointer p);
SfUaCall *sf_ua_call_ensure (SfUaInstance *ui);
/* A referred call's progress (a 1xx above 100, its final status) to the
 * notifier of the REFER that made it (sf-op-refer.c; nothing for other calls). */
void sf_ua_refer_progress (SfCtx *ctx, SfUaCall *call, guint status, const char *reason);
/* Whether ua.refer lets a REFER make us call @u (a sip/sips URI): any; off
 * never; same_domain when its host, and its maddr if any, are ua.uri's host
 * (sf-op-refer.c).  Also what a referred call's redirect may go to. */
gboolean sf_ua_refer_allows (SfCtx *ctx, const SfSipUri *u);

/* The call of @ctx's instance, made on first use. */
SfUaCall *sf_ua_call (SfCtx *ctx);
/* The call if there is one (NULL otherwise). */
SfUaCall *sf_ua_call_peek (SfCtx *ctx);
/* The call of @inst, an instance of @ep (the control socket's view), or NULL. */
SfUaCall *sf_ua_call_of (SfEndpoint *ep, SfInstance *inst);
/* Is @inst an instance of our MESSAGE outside any dialog (a message state,
 * no call: RFC 3428 4)? */
gboolean sf_ua_message_alone (SfEndpoint *ep, SfInstance *inst);
/* The call's SIP Call-ID goes on every event line of the instance ("call_id"). */
void sf_ua_call_set_call_id (SfCtx *ctx, SfSipStr call_id);
/* Records why the call ends (the first reason wins) and the status. */
void sf_ua_call_set_reason (SfUaCall *call, const char *reason, guint status);
/* The request whose failure @ev is (txn:timeout or txn:transport_error) when
 * we sent it, its From tag @ours, else NULL (transfer none).  A server
 * transaction tells its TU of a response it could not send with the request it
 * received (RFC 3261 17.2.4; RFC 6026 7.1 in Accepted), and the peer numbers
 * its requests in its own CSeq space (12.2.1.1): method and CSeq number alone
 * take the peer's request for ours.  The From tag tells them apart: ours is
 * our local tag, the peer's its own. */
SfSipMsg *sf_ua_failed_from (SfEvent *ev, SfSipStr ours);
/* The same for a request of the call: @ours its local tag (the dialog's; before
 * one, the To tag we answer with, or our INVITE's From tag). */
SfSipMsg *sf_ua_failed_request (SfUaCall *call, SfEvent *ev);
/* The From tag of @m (nullable), or an empty string. */
SfSipStr sf_ua_from_tag (SfSipMsg *m);

/* Offer/answer failed on a call that is up (an answer missing or unusable):
 * the reason becomes sdp_failed with @detail (the first reason still wins). */
void sf_ua_call_sdp_failed (SfCtx *ctx, SfUaCall *call, const char *detail);

/* @m becomes the call's negotiated stream (its strings moved, @m left empty). */
void sf_ua_call_take_media (SfUaCall *call, SfSdpMedia *m);

typedef struct _SfUaState SfUaState;

/* Declares [ua] in @cfg. */
gboolean sf_ua_declare_config (SfConfig *cfg, GError **error);
/* Checks what the [ua] strings must be (URIs) once the configuration is read. */
gboolean sf_ua_check_config (SfConfig *cfg, GError **error);
const char *sf_ua_cfg (SfCtx *ctx, const char *key);      /* a [ua] string, NULL when unset */
gint64 sf_ua_cfg_int (SfCtx *ctx, const char *key);

/* The endpoint's media (instance data "media" of the endpoint), NULL when none. */
SfMedia *sf_ua_media (SfCtx *ctx);
/* Whether @call's signalling is confidential (TLS on the hop its SDP
 * crosses: the INVITE received over TLS, or ours sent over it), so that SDES
 * keys may go in its SDP (RFC 4568 8). */
gboolean sf_ua_call_signalling_secure (SfUaCall *call);
/* The call's SDP session on @addr (IP literal, no brackets), made on first use,
 * with media.srtp's policy for the call (sf_ua_call_signalling_secure: without
 * it, offer becomes off and require fails with SF_SDP_ERROR_NOT_ACCEPTABLE,
 * unless media.srtp_insecure_signalling). */
SfSdpSession *sf_ua_call_sdp (SfCtx *ctx, SfUaCall *call, const char *addr, GError **error);
/* "127.0.0.1" from "127.0.0.1:5060" or "[::1]:5060" (transfer full). */
char *sf_ua_host_of (const char *hostport);

/* Our address-of-record as a name-addr for From: "Alice" <sip:alice@host> (transfer full);
 * without ua.uri, sip:sipflow@@local. */
char *sf_ua_from (SfCtx *ctx, const char *local);
/* Our Contact for a socket "host:port" reached over @proto (transfer full):
 * <sip:USER@host:port[;transport=tcp|tls]>, or <sips:USER@host:port> when
 * @sips and @proto is TLS (RFC 3261 12.1.1, RFC 5630 4.1: a sips request gets
 * a sips Contact). */
char *sf_ua_contact (SfCtx *ctx, const char *local, SfSipProto proto, gboolean sips);
/* How a request whose next hop is @hop (a URI, or a name-addr "<URI;lr>":
 * the first Route, else the Request-URI) leaves this UA: the transport
 * (sf_stack_proto_for, RFC 3263 4.1), for the Via's transport (18.1.1); the
 * address for its sent-by and Contact (that transport's socket, else the
 * other's: a UA listening on UDP only still reaches a transport=tcp target,
 * and is reached back over UDP); the transport the Contact names (the
 * request goes over TCP or TLS and we listen on it, 20.10).  FALSE: no socket. */
typedef struct {
  SfSipProto proto;
  char *local;          /* owned "host:port" */
  SfSipProto contact_proto; /* the transport our Contact names (UDP: none named) */
  gboolean sips;            /* the hop is a sips URI: so is our Contact */
} SfUaHop;
gboolean sf_ua_hop (SfCtx *ctx, const char *hop, SfUaHop *out);
void sf_ua_hop_clear (SfUaHop *h);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfUaHop, sf_ua_hop_clear)
/* "TLS", "TCP" or "UDP": the Via's transport for @h. */
const char *sf_ua_hop_transport (const SfUaHop *h);
/* The next hop of a request inside @d (12.2.1.1): its first route, else the remote target. */
const char *sf_ua_dialog_hop (const SfSipDialog *d);
/* ua.outbound_proxy as a loose route "<sip:proxy;lr>" (8.1.2: ;lr added when
 * missing; transfer full), or NULL: for requests outside a dialog (sf-op-uac.c). */
char *sf_ua_outbound_route (SfCtx *ctx);
/* The user part of ua.uri (transfer full), NULL when unset. */
char *sf_ua_user (SfCtx *ctx);

/* Answers the 401/407 @resp to our request @req (22.2, 22.3): credentials for
 * the first challenge we can answer, with ua.auth_user (or ua.uri's user) and
 * ua.password, go into @a (www or proxy).  FALSE with @error saying why: no
 * password, no challenge we can answer, a nonce already answered (not stale:
 * the credentials were refused), or SF_UA_MAX_CHALLENGES reached. */
gboolean sf_ua_credentials (SfCtx *ctx, SfSipMsg *req, SfSipMsg *resp, SfUaAuth *a, GError **error);

/* A response to @req (which came from @peer) with @tag, our Contact (for a
 * status below 300), Allow, an optional body of type @ctype, or the Contact
 * @contact_override (a 3xx's targets) instead of ours (transfer full; NULL
 * when it cannot be built).  Every response the UA sends that is not a bare
 * one goes through it. */
SfSipMsg *sf_ua_build_response (SfCtx *ctx, SfSipMsg *req, const SfSipPeer *peer, guint status, const char *tag,
                                const char *ctype, const char *body, const char *contact_override);

/* Does the flow of @ctx's instance bind the operator @op_name (TRUE without
 * an instance: no flow to ask)?  An extension is advertised only when the
 * flow has the operators that keep its promises: a composed flow that leaves
 * out the PRACK or the session refresh does not claim 100rel or timer. */
gboolean sf_ua_flow_binds (SfCtx *ctx, const char *op_name);
/* Does the UA support the option tag @tag (RFC 3261 8.2.2.3, 19.2) under its
 * configuration?  (100rel with ua.100rel not off and OpPrack in the flow; timer with
 * ua.session_timer not off and OpSessionRefresh in the flow.) */
gboolean sf_ua_supports (SfCtx *ctx, const char *tag);
/* "Supported: 100rel" (the option tags sf_ua_supports says yes to, comma-separated;
 * "Supported: " when none) for the answers to OPTIONS (11.2; transfer full). */
char *sf_ua_supported_line (SfCtx *ctx);
/* "Unsupported: a, b" for the option tags of @msg's Require lines the UA does
 * not support (sf_ua_supports), in order (transfer full); NULL when none. */
char *sf_ua_unsupported (SfCtx *ctx, SfSipMsg *msg);

/* Reliable provisional responses (RFC 3262, sf-op-prack.c). */
/* Is ua.100rel other than off? */
gboolean sf_ua_prack_on (SfCtx *ctx);
/* The line our INVITEs carry for ua.100rel ("Supported: 100rel", "Require: 100rel"; transfer none), or NULL. */
const char *sf_ua_prack_invite_line (SfCtx *ctx);
/* Does the kept INVITE's 1xx go reliably (3)?  @early: a 183 for early media. */
gboolean sf_ua_prack_reliable (SfCtx *ctx, SfUaCall *call, gboolean early);
/* Sends @status reliably to the kept INVITE (Require: 100rel, RSeq) with the
 * answer to its offer, or our offer, and starts its retransmission; the
 * response sent (transfer full), NULL when it could not go. */
SfSipMsg *sf_ua_prack_send_1xx (SfCtx *ctx, SfUaCall *call, guint status);
/* Is ua.late_offer set (our INVITEs without SDP)? */
gboolean sf_ua_late_offer (SfCtx *ctx);
/* A 2xx @resp to our offer-less INVITE when no offer/answer was done yet: its
 * SDP is the offer (RFC 3261 13.2.1); TRUE with *@answer (transfer full) for
 * the ACK, or *@why (transfer full) when it has none or none we can take.
 * FALSE when the 2xx is not such an offer (we made the offer). */
gboolean sf_ua_late_answer (SfCtx *ctx, SfUaCall *call, SfSipMsg *resp, char **answer, char **why);
/* After a 2xx confirmed a fork's dialog: its CSeq past that fork's PRACKs. */
void sf_ua_prack_confirmed (SfUaCall *call);
/* Frees the call's RFC 3262 state (call_free). */
void sf_ua_prack_clear (SfUaCall *call);
/* RSeq (7.1): 1*DIGIT, 1 to 2**32-1.  RAck (7.2): RSEQ CSEQ METHOD (CSeq below
 * 2**31); *@method transfer full.  FALSE for anything else. */
gboolean sf_ua_parse_rseq (SfSipStr value, guint32 *rseq);
gboolean sf_ua_parse_rack (SfSipStr value, guint32 *rseq, guint32 *cseq, char **method);
/* 12.1.2: the early dialog a 1xx @resp with a To tag makes becomes the call's
 * (dialog event, the call found by its remote tag); sf-op-uac.c. */
void sf_ua_uac_early_dialog (SfCtx *ctx, SfUaCall *call, SfSipMsg *resp);
/* ---- UPDATE (RFC 3311) and glare (RFC 3261 14.1): sf-op-update.c ---- */
/* A request refused 491 is sent again at most this many times in a row. */
#define SF_UA_MAX_GLARES 3
/* The 14.1 wait before sending again a request refused 491, in ms: 2.1 to 4 s
 * in 10 ms steps when we own the Call-ID (we sent the INVITE), else 0 to 2 s. */
guint sf_ua_glare_ms (const SfUaCall *call);
/* A 491 to our @method: timer @timer starts for sf_ua_glare_ms and a glare
 * event says when the request goes again. */
void sf_ua_glare (SfCtx *ctx, SfUaCall *call, const char *method, const char *timer);
/* Our next offer in direction @dir (transfer full): the session's (its o=
 * version one higher, RFC 3264 8), or the file of ua.offer_file (the ua
 * module's state of @ctx's endpoint), sent as it is. */
char *sf_ua_offer (SfCtx *ctx, SfUaCall *call, SfSdpDir dir);
/* The same with the state @st (nullable: the session's offer). */
char *sf_ua_state_offer (const SfUaState *st, SfCtx *ctx, SfUaCall *call, SfSdpDir dir);
/* The ua module's state (per endpoint): [ua] checked (sf_ua_check_config) and
 * ua.offer_file (readable, at most SF_UA_OFFER_FILE_MAX bytes, SDP) read;
 * NULL with @error naming the key and file. */
#define SF_UA_OFFER_FILE_MAX 8192
SfUaState *sf_ua_state_new (SfConfig *cfg, GError **error);
void sf_ua_state_free (SfUaState *st);
/* A reload: @n's (taken) values go in force in @st. */
void sf_ua_state_commit (SfUaState *st, SfUaState *n);
/* Our UPDATE through @call's dialog (12.2.1.1) with our Contact (RFC 3311 5.1:
 * a target refresh) and, when @offer, a new offer of the session as it is
 * (direction kept, o= version one higher): call->update_out until
 * OpUpdateAnswered takes its final response (a session timer's refresh may
 * send one without SDP this way).  The caller checks it may go first
 * (sf_ua_update_refusal).  FALSE with @error. */
gboolean sf_ua_send_update (SfCtx *ctx, SfUaCall *call, gboolean offer, GError **error);
/* Why our UPDATE (with an offer when @offer) may not go now, or NULL (RFC 3311
 * 5.1; RFC 3264 4: one offer at a time, either way; one UPDATE of ours at a time). */
const char *sf_ua_update_refusal (const SfUaCall *call, gboolean offer);
/* sf-op-ua.c's: @m's SDP body (Content-Type application/sdp), FALSE when none;
 * the stream follows a new negotiation (a media event saying @why). */
gboolean sf_ua_sdp_body (SfSipMsg *m, SfSipStr *out);
void sf_ua_media_follow (SfCtx *ctx, SfUaCall *call, const char *why);

/* ---- MESSAGE (RFC 3428): sf-op-message.c ---- */
/* The most bytes of a MESSAGE body we take or send: RFC 3428 8's 1300, the
 * size a MESSAGE must not pass on a path not known to be congestion-controlled. */
#define SF_UA_MESSAGE_MAX_BODY 1300
/* Our MESSAGEs in one call's dialog waiting for their final responses, at most. */
#define SF_UA_MESSAGE_MAX_OUT 8
/* What the body of a MESSAGE received gets (RFC 3261 8.2.3; RFC 3428 7, 8):
 * 0 when taken (empty, or a text type in UTF-8 or US-ASCII, no other
 * Content-Encoding than identity, at most SF_UA_MESSAGE_MAX_BODY bytes, valid
 * UTF-8 without NUL); else 415 with the header line *@line (Accept or
 * Accept-Encoding; transfer full), 413, or 400 with the reason phrase *@reason
 * (static).  The body is data: never read as anything else. */
guint sf_ua_message_body_status (SfSipMsg *req, char **line, const char **reason);

/* ---- Replaces (RFC 3891): sf-op-replaces.c ---- */
/* Is ua.replaces on and OpReplaces in the flow (the option tag replaces supported)? */
gboolean sf_ua_replaces_on (SfCtx *ctx);

/* A leg's re-INVITE or UPDATE @e (@method) in its dialog, checked already: an
 * offer kept for the bridge (child:offer), or 491 (sf-op-ua.c). */
SfOpResult sf_ua_leg_offer_in (SfCtx *ctx, SfUaCall *call, SfSipEvent *e, const char *method);

/* Writes call_end once: reason, status, duration, media stats. */
void sf_ua_call_emit_end (SfCtx *ctx, SfUaCall *call);

G_END_DECLS
