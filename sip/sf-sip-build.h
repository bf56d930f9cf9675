/* sf-sip-build.h: building outgoing messages (modelled on PJSIP's message
 * chapter).  A builder writes the wire form once; finishing it makes that
 * text an immutable, reference-counted SfSipMsg (as PJSIP's tx_data), which
 * is sent by reference: its header table from where the builder put each
 * line, or a full parse of text it cannot vouch for (docs/sip.md).  Headers
 * copied from another message keep their original bytes.
 *
 * The RFC 3261 constructions: a response to a request (8.2.6), the ACK for a
 * non-2xx final response (17.1.1.3), a CANCEL (9.1), a request to forward
 * (16.6, with the Route handling of 16.4 and strict routers), a response to
 * forward (16.7 step 9). */
#pragma once
#include <glib.h>
#include "sf-sip-msg.h"

G_BEGIN_DECLS

typedef struct _SfSipBuilder SfSipBuilder;

SfSipBuilder *sf_sip_builder_request (const char *method, const char *ruri);
SfSipBuilder *sf_sip_builder_response (guint status, const char *reason);
void sf_sip_builder_free (SfSipBuilder *b);
/* Appends "Name: value" (the value must not hold CR or LF; it is not checked here
 * but by the parse in finish). */
void sf_sip_builder_add (SfSipBuilder *b, const char *name, const char *value_fmt, ...) G_GNUC_PRINTF (3, 4);
/* Appends a header line of a message (sf_sip_msg_header()) as received (its
 * bytes kept; a bare LF end becomes CRLF). */
void sf_sip_builder_add_line (SfSipBuilder *b, const SfSipHdr *h);
/* Appends every header of @msg with @id, as received. */
void sf_sip_builder_copy (SfSipBuilder *b, SfSipMsg *msg, SfSipHdrId id);
/* Sets the body and its Content-Type (NULL type: no body). */
void sf_sip_builder_body (SfSipBuilder *b, const char *content_type, const char *body, gsize len);
/* Adds whole header lines "Name: value" (@lines NULL-terminated, nullable); FALSE
 * with @error for a line without ':'. */
gboolean sf_sip_builder_add_lines (SfSipBuilder *b, const char *const *lines, GError **error);
/* Adds Content-Length, makes the message, frees @b (transfer full).  NULL
 * with the error a parse of its bytes gives if what was built is not a valid
 * message.  Lines copied from a parsed
 * message (sf_sip_builder_copy(), the constructions below) keep the values
 * they parsed to there: theirs are parsed when first read
 * (sf_sip_msg_parse_built()). */
SfSipMsg *sf_sip_builder_finish (SfSipBuilder *b, GError **error);

/* Tests only (the builder's differential test): when set, every finish also
 * parses its bytes again as before (sf_sip_msg_parse_built) and gives @hook
 * both outcomes (transfer none, each message or error nullable) and whether
 * the first filled its table from the builder's marks (@direct).  Set it
 * while no builder runs; NULL unsets it. */
typedef void (*SfSipBuiltHook) (SfSipMsg *built, const GError *built_error, SfSipMsg *parsed,
                                const GError *parsed_error, gboolean direct, gpointer data);
void sf_sip_builder_set_test_hook (SfSipBuiltHook hook, gpointer data);

/* What a new out-of-dialog request needs (8.1.1).  Unset fields get RFC 3261's
 * defaults: a Call-ID, a From tag and a Via branch (with the magic cookie,
 * 8.1.1.7) are generated; Max-Forwards 70; CSeq 1. */
typedef struct {
  const char *method;       /* "INVITE" */
  const char *ruri;         /* "sip:bob@biloxi.com" */
  const char *from;         /* "Alice <sip:alice@atlanta.com>" (name-addr, no tag) */
  const char *from_tag;     /* nullable: generated */
  const char *to;           /* "Bob <sip:bob@biloxi.com>" (name-addr) */
  const char *call_id;      /* nullable: generated */
  guint32 cseq;             /* 0: 1 */
  const char *via_sent_by;  /* "pc33.atlanta.com:5060" */
  const char *transport;    /* nullable: "UDP" */
  const char *branch;       /* nullable: generated */
  const char *contact;      /* nullable: "<sip:alice@pc33.atlanta.com>" */
  const char *const *route; /* nullable, NULL-terminated: the route set, each "<uri>" (8.1.2) */
  const char *const *extra; /* nullable, NULL-terminated further header lines "Name: value" (Authorization...) */
  const char *content_type; /* nullable */
  const char *body;
  gsize body_len;
  guint max_forwards;       /* 0: 70.  A B2BUA's outgoing leg passes on the incoming request's value less
                               one (RFC 7332 3: resetting it lets a loop through B2BUAs run for ever) */
} SfSipRequestSpec;

/* 8.1.1: a new request (transfer full). */
SfSipMsg *sf_sip_create_request (const SfSipRequestSpec *spec, GError **error);
/* Random tokens for tags, Call-IDs and branches (transfer full).  Branches
 * start with the magic cookie z9hG4bK. */
/* @len bytes from the kernel's cryptographic generator (getrandom, else
 * /dev/urandom): tags, Call-IDs, branches, and every other value a peer must
 * not predict (GLib's g_random_* is a Mersenne Twister: 624 outputs seen
 * reveal it, forward and backward). */
void sf_sip_random_bytes (guint8 *buf, gsize len);
/* The same without GLib's fallback: FALSE when neither source gave @len bytes
 * (keys must not fall back: SRTP's master keys). */
gboolean sf_sip_random_bytes_strong (guint8 *buf, gsize len);
guint64 sf_sip_random_u64 (void);
char *sf_sip_random_tag (void);
char *sf_sip_random_branch (void);
/* A new Call-ID: random hex "@" the host of @via_sent_by ("host:port", "[v6]:port"),
 * what sf_sip_create_request() draws when its spec names none (8.1.1.4). */
char *sf_sip_random_call_id (const char *via_sent_by);

/* The decimal digits of @v into @out, returned: a status or a number in a
 * string without printf, whose format walk costs more than the digits (on
 * every message built or forwarded). */
char *sf_sip_uint_text (char out[24], guint64 v);

/* The standard reason phrase of @status ("Ringing"), or "Unknown". */
const char *sf_sip_reason_phrase (guint status);

/* 8.2.6: a response to @req: its Via lines, From, Call-ID, CSeq as received; To
 * with @to_tag added when the request's To has none (and status > 100);
 * @reason NULL for the standard phrase. */
SfSipMsg *sf_sip_create_response (SfSipMsg *req, guint status, const char *reason, const char *to_tag,
                                  GError **error);
/* The same with further header @lines ("Name: value", NULL-terminated, nullable):
 * Contact, Allow, WWW-Authenticate, Min-Expires... */
SfSipMsg *sf_sip_create_response_with (SfSipMsg *req, guint status, const char *reason, const char *to_tag,
                                       const char *const *lines, GError **error);

/* A bare final response built from @m (a request, or a response too large to
 * send): @status, @m's top Via value only, From, To, Call-ID and CSeq as in @m,
 * no body.  For a UDP response over SF_SIP_MAX_UDP (sf_sip_transport_send_response):
 * the hop that sent the request still gets a final answer (8.2.6.2 asks for every
 * Via; with them the answer could not be sent at all). */
SfSipMsg *sf_sip_create_minimal_response (SfSipMsg *m, guint status, GError **error);

/* 17.1.1.3: the ACK for a non-2xx final @response to @invite: the INVITE's
 * Request-URI, top Via (same branch), From, Call-ID, CSeq number with method
 * ACK and Route headers; the response's To (with its tag). */
SfSipMsg *sf_sip_create_ack (SfSipMsg *invite, SfSipMsg *response, GError **error);

/* 9.1: a CANCEL for @req: same Request-URI, top Via (same branch), From, To,
 * Call-ID, CSeq number with method CANCEL, and the request's Route headers. */
SfSipMsg *sf_sip_create_cancel (SfSipMsg *req, GError **error);
/* The same with further header @lines ("Reason: ...", NULL-terminated, nullable). */
SfSipMsg *sf_sip_create_cancel_with (SfSipMsg *req, const char *const *lines, GError **error);

typedef struct {
  const char *via;            /* the Via value to push: "SIP/2.0/UDP host:port;branch=z9hG4bK..." */
  const char *record_route;   /* nullable: a Record-Route value to add: "<sip:proxy;lr>" */
  const char *target;         /* nullable: the new Request-URI (16.5 target); NULL keeps it */
  gboolean (*is_mine) (const SfSipUri *uri, gpointer data); /* nullable: is this URI this proxy? (16.4) */
  gpointer data;
  const char *strip_realm;    /* nullable: Proxy-Authorization lines for this realm are removed (credentials for us stop here) */
  guint max_breadth;          /* 0: Max-Breadth kept as it came; else every Max-Breadth line replaced by one with this value (RFC 5393 5.3.3) */
  const char *preload;        /* nullable: Route values ("<sip:a;lr>, <sip:b;lr>") put before the route set left (a
                               * binding's Path, RFC 3327 5.3); values that do not parse are left out */
} SfSipForward;

/* 16.6: a copy of @req to forward: Max-Forwards decremented (70 added when
 * absent), the new Via on top, the optional Record-Route, Route handling (16.4:
 * a Request-URI this proxy put in a Record-Route is replaced by the last Route;
 * a top Route that is this proxy is removed; 16.6 step 6: a next hop without
 * ;lr is a strict router).  A request that arrived with Max-Forwards 0 is not
 * forwarded: SF_SIP_ERROR_HOPS, to be answered 483 (16.3). */
SfSipMsg *sf_sip_create_forward (SfSipMsg *req, const SfSipForward *fwd, GError **error);

/* Edits one header value: returns its new text (transfer full), or NULL to
 * keep it as it is. */
typedef char *(*SfSipValueEdit) (const SfSipValue *v, gpointer data);

/* 16.7 step 9: @resp with its top Via (this proxy's) removed.  A response with
 * a single Via was for this element: SF_SIP_ERROR_SYNTAX. */
SfSipMsg *sf_sip_create_forward_response (SfSipMsg *resp, GError **error);
/* The same, with the values of header @id passed through @edit on the way
 * (lines with no value edited keep their bytes): one rebuild for both. */
SfSipMsg *sf_sip_create_forward_response_edited (SfSipMsg *resp, SfSipHdrId id, SfSipValueEdit edit, gpointer data,
                                                 GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfSipBuilder, sf_sip_builder_free)

G_END_DECLS
