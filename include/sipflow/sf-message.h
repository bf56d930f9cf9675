/* sf-message.h: what an operator needs to read a SIP message and answer a
 * request, without the engine's internal headers (docs/plugins.md).
 *
 * A message is opaque and belongs to the event that carries it: everything
 * read from it is a slice (pointer, length) into the bytes received, valid as
 * long as the event, never NUL-terminated, and may hold NUL bytes (RFC 4475),
 * so compare with sf_slice_equal() and copy with sf_slice_dup().  URIs are
 * parsed into slices the same way (RFC 3261 19.1). */
#pragma once
#include <glib.h>
#include "sipflow/sf-api.h"
#include "sipflow/sf-event.h"
#include "sipflow/sf-operator.h"

G_BEGIN_DECLS

/* Bytes of a message (unowned): @ptr is NULL when @len is 0 and the part is absent. */
typedef struct {
  const char *ptr;
  gsize len;
} SfSlice;

typedef struct _SfMessage SfMessage;  /* a received SIP message, as an event carries it */
typedef struct _SfUri SfUri;          /* a parsed sip:, sips: or tel: URI */

#define SF_MESSAGE_ERROR (sf_message_error_quark ())
SF_API GQuark sf_message_error_quark (void);
typedef enum {
  SF_MESSAGE_ERROR_NO_TRANSACTION,  /* a response, an ACK, or a request no server transaction holds */
  SF_MESSAGE_ERROR_BAD_STATUS,      /* not 100..699, or a header line that does not parse */
  SF_MESSAGE_ERROR_SEND,            /* the transaction did not take the response */
  SF_MESSAGE_ERROR_SYNTAX,          /* sf_uri_parse(): not a URI */
  SF_MESSAGE_ERROR_NO_STACK,        /* sf_message_send_request(): no SIP socket for its transport */
} SfMessageError;

/* ---- slices ---- */
/* Exact byte comparison with the NUL-terminated @text. */
SF_API gboolean sf_slice_equal (SfSlice s, const char *text);
/* ASCII case-insensitive comparison (methods are case-sensitive, host names are not: RFC 3261 19.1.4). */
SF_API gboolean sf_slice_caseequal (SfSlice s, const char *text);
/* A NUL-terminated copy (transfer full; g_free()); a NUL byte inside ends it early for C string functions. */
SF_API char *sf_slice_dup (SfSlice s);
/* A copy with %HH escapes decoded (a URI's user part: "alice%40home"; transfer full). */
SF_API char *sf_slice_unescape (SfSlice s);

/* ---- the message of an event ---- */
/* The message an SF_EV_SIP event carries (transfer none, as long as @ev), or
 * NULL when @ev is another kind or carries none. */
SF_API SfMessage *sf_message_from_event (SfEvent *ev);
SF_API gboolean sf_message_is_request (SfMessage *msg);
/* Requests: the method as written ("INVITE"); empty for a response. */
SF_API SfSlice sf_message_method (SfMessage *msg);
/* Requests: the Request-URI (transfer none), NULL for a response. */
SF_API const SfUri *sf_message_request_uri (SfMessage *msg);
/* Responses: the status code (0 for a request) and the reason phrase. */
SF_API guint sf_message_status (SfMessage *msg);
SF_API SfSlice sf_message_reason (SfMessage *msg);
SF_API SfSlice sf_message_body (SfMessage *msg);
/* Where it came from: the source address as text ("192.0.2.1", "::1"; transfer
 * full) and, when @port is not NULL, the port; NULL (port 0) when unknown. */
SF_API char *sf_message_source (SfMessage *msg, guint *port);
/* The transport it came over, lower case: "udp", "tcp". */
SF_API const char *sf_message_transport (SfMessage *msg);

/* Header values by name (case-insensitive; compact forms such as "f" find
 * "From").  Values are counted in order across all lines of the header; a line
 * of a header that is a comma-separated list (Via, Contact, Route, Allow,
 * Supported...) gives one value per item.  FALSE when there is no @n-th value:
 *   for (guint i = 0; sf_message_header (msg, "Via", i, &v); i++) ... */
SF_API gboolean sf_message_header (SfMessage *msg, const char *name, guint n, SfSlice *value);
SF_API guint sf_message_header_count (SfMessage *msg, const char *name);
/* The URI of the @n-th value of a name-addr header (From, To, Contact, Route,
 * Record-Route, Reply-To) (transfer none), or NULL: absent, another kind of
 * header, malformed, or "Contact: *". */
SF_API const SfUri *sf_message_header_uri (SfMessage *msg, const char *name, guint n);
/* A header parameter of the @n-th value of a header sipflow knows ("tag" of
 * From, "branch" of Via, "expires" of Contact): TRUE when present, @value
 * (nullable) empty when it has no '='. */
SF_API gboolean sf_message_header_param (SfMessage *msg, const char *name, guint n, const char *param,
                                         SfSlice *value);

/* ---- URIs ---- */
/* Parses @len bytes at @text, which must outlive the result (transfer full). */
SF_API SfUri *sf_uri_parse (const char *text, gsize len, GError **error);
SF_API void sf_uri_free (SfUri *uri);
SF_API SfSlice sf_uri_text (const SfUri *uri);    /* the whole URI as written */
SF_API SfSlice sf_uri_scheme (const SfUri *uri);  /* "sip" */
SF_API SfSlice sf_uri_user (const SfUri *uri);    /* escaped as written (sf_slice_unescape); tel: the number */
SF_API SfSlice sf_uri_host (const SfUri *uri);    /* as written; IPv6 with its brackets */
SF_API guint sf_uri_port (const SfUri *uri);      /* 0: none given */
/* A URI parameter ("transport", "user"; case-insensitive): TRUE when present,
 * @value (nullable) empty when it has no '='. */
SF_API gboolean sf_uri_param (const SfUri *uri, const char *name, SfSlice *value);

/* ---- answering ---- */
/* Sends a response to the request @req on its server transaction (RFC 3261
 * 8.2.6, 17.2): @status 100..699, @reason NULL for the standard phrase, @headers
 * further "Name: value" lines (NULL-terminated, nullable).  The Via, From,
 * Call-ID, CSeq and To of the request are copied; a To without a tag gets the
 * instance's local tag (one for all the instance's responses).  FALSE with
 * @error when @req has no server transaction (an ACK, a response) or the
 * response cannot be built or sent. */
SF_API gboolean sf_message_reply (SfCtx *ctx, SfMessage *req, guint status, const char *reason,
                                  const char *const *headers, GError **error);

/* ---- asking ---- */
/* Sends a new request outside any dialog (RFC 3261 8.1.1) on a client
 * transaction (17.1) whose transaction user is the running instance: @method
 * ("OPTIONS", "MESSAGE"), @ruri (where it goes: located by RFC 3263 as the
 * stack locates any request), @from and @to name-addrs ("<sip:a@b>", no tag),
 * @headers further "Name: value" lines (NULL-terminated, nullable),
 * @content_type and @body (@body_len bytes; both nullable).  Via (the socket
 * for the Request-URI's transport), Call-ID, CSeq, the From tag and
 * Max-Forwards are made.  Its responses come back to this instance as
 * SF_EV_SIP events named "response" (read them with sf_message_from_event and
 * sf_message_status); a timeout (Timer B, F) or a failure to send as SF_EV_TXN
 * "timeout" or "transport_error".  Not for INVITE (a call needs the UA's
 * dialog handling) nor ACK/CANCEL.  FALSE with @error when there is no SIP
 * socket for the transport, a URI or header line does not parse, or the
 * method is one of those. */
SF_API gboolean sf_message_send_request (SfCtx *ctx, const char *method, const char *ruri, const char *from,
                                         const char *to, const char *const *headers, const char *content_type,
                                         const char *body, gsize body_len, GError **error);

/* ---- logging ---- */
/* Logs through sipflow's log (core.log_level filters it) as "HANDLE OPERATOR:
 * message"; @level G_LOG_LEVEL_ERROR is logged as critical (a plugin does not
 * end the process).  @ctx nullable. */
SF_API void sf_log (SfCtx *ctx, GLogLevelFlags level, const char *format, ...) G_GNUC_PRINTF (3, 4);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfUri, sf_uri_free)

G_END_DECLS
