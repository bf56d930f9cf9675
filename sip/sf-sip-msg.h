/* sf-sip-msg.h: the SIP message (RFC 3261 section 7): a start line, header
 * fields and a body, reference counted and immutable once shared.
 *
 * A received message keeps its bytes in one GBytes; headers are slices into
 * them, and typed values are parsed on demand and cached (docs/style.md).  At
 * parse time only what a message cannot live without is checked (the start
 * line, framing, Via, From, To, Call-ID, CSeq, and Max-Forwards and
 * Content-Length when present); any other header that turns out malformed when
 * read is an error then.  sf_sip_msg_check_all() parses every header, as
 * 'sipflow parse' and the conformance verdicts need. */
#pragma once
#include <glib.h>
#include "sf-sip-header.h"

G_BEGIN_DECLS

/* Hard limits (docs/style.md): past one, a clean SF_SIP_ERROR_LIMIT. */
#define SF_SIP_MAX_MSG_SIZE (64 * 1024)     /* a whole message, body included */
#define SF_SIP_MAX_HEADERS 256              /* header lines */
#define SF_SIP_MAX_HEADER_LEN (8 * 1024)    /* one header line, folds included */
#define SF_SIP_MAX_VIA 64                   /* Via values */
#define SF_SIP_MAX_START_LINE SF_SIP_MAX_URI_LEN + 64

typedef struct {
  SfSipHdrId id;
  SfSipStr name;    /* as written */
  SfSipStr value;   /* as written, LWS at both ends trimmed, folds inside */
  SfSipStr line;    /* the whole header line(s) with the final CRLF: serialized as is */
} SfSipHdr;

typedef struct _SfSipMsg SfSipMsg;

/* Parses one datagram (RFC 3261 18.3): Content-Length, when present, bounds the
 * body and bytes after it are dropped; without it the body is the rest. */
SfSipMsg *sf_sip_msg_parse (GBytes *datagram, GError **error);

/* The two halves of sf_sip_msg_parse(): the start line, the header lines and
 * the body framing; then what a message cannot live without.  A message that
 * frames but does not validate can still be answered 400 from its raw lines. */
SfSipMsg *sf_sip_msg_parse_framed (GBytes *datagram, GError **error);
gboolean sf_sip_msg_validate (SfSipMsg *msg, GError **error);
/* @msg again in less memory (transfer full): the same bytes (a ref) framed
 * again into a first block no larger than the framing takes, its values parsed
 * again when asked for.  For a message kept long (a server transaction's
 * request and response, kept until Timer J or H): a message from the wire
 * takes a 4 KB block.  A new ref of @msg when it cannot be smaller (a head
 * only, more lines than one block holds, or a compact copy already). */
SfSipMsg *sf_sip_msg_compact (SfSipMsg *msg);
/* A 400 response (505 for a request of another SIP version) to @req (framed, maybe not valid) as raw bytes: its Via, From,
 * To (with a tag added), Call-ID and CSeq lines as received, and a reason phrase
 * "Bad Request (@problem)" cut to printable ASCII.  NULL when @req is not a
 * request or lacks one of those lines. */
GBytes *sf_sip_msg_bad_request (SfSipMsg *req, const char *problem);

/* Stream framing (18.3): leading CRLFs are keep-alives; Content-Length is
 * required.  Returns TRUE with *@skip (keep-alive bytes) and *@len (the
 * message) when a whole message is there; FALSE with SF_SIP_ERROR_INCOMPLETE
 * when more bytes are needed, or another error when the stream is broken. */
gboolean sf_sip_stream_frame (const char *data, gsize size, gsize *skip, gsize *len, GError **error);

SfSipMsg *sf_sip_msg_ref (SfSipMsg *msg);
void sf_sip_msg_unref (SfSipMsg *msg);
/* Tests: how many freed message blocks a thread keeps (at most 64; 64 by
 * default, 0 under AddressSanitizer: see sf-sip-msg.c), and how many the
 * calling thread holds now.  The setter returns the bound it replaces. */
guint sf_sip_msg_set_block_cache (guint max);
guint sf_sip_msg_block_cache_len (void);

gboolean sf_sip_msg_is_request (const SfSipMsg *msg);
SfSipStr sf_sip_msg_method (const SfSipMsg *msg);          /* requests */
const SfSipUri *sf_sip_msg_ruri (const SfSipMsg *msg);     /* requests */
guint sf_sip_msg_status (const SfSipMsg *msg);             /* responses */
SfSipStr sf_sip_msg_reason (const SfSipMsg *msg);          /* responses */
SfSipStr sf_sip_msg_body (const SfSipMsg *msg);

guint sf_sip_msg_n_headers (const SfSipMsg *msg);
const SfSipHdr *sf_sip_msg_header (const SfSipMsg *msg, guint i);
/* The first header line with @id, or NULL. */
const SfSipHdr *sf_sip_msg_find (const SfSipMsg *msg, SfSipHdrId id);
/* The first header line named @name (unknown headers too; compact forms match), or NULL. */
const SfSipHdr *sf_sip_msg_find_name (const SfSipMsg *msg, const char *name);

/* Every value of every @id header, in order, parsed on first use (transfer none;
 * valid as long as @msg; in the message's arena, so not a GPtrArray: read
 * ->len and ->pdata[i] or g_ptr_array_index()).  NULL with @error when one is
 * malformed.  An absent header gives an empty array. */
SfSipValues *sf_sip_msg_values (SfSipMsg *msg, SfSipHdrId id, GError **error);
/* The first value of @id, or NULL (absent, or malformed with @error set). */
const SfSipValue *sf_sip_msg_value (SfSipMsg *msg, SfSipHdrId id, GError **error);

/* Typed access to what parse time checked (never NULL on a parsed message). */
const SfSipValue *sf_sip_msg_top_via (SfSipMsg *msg);
const SfSipValue *sf_sip_msg_from (SfSipMsg *msg);
const SfSipValue *sf_sip_msg_to (SfSipMsg *msg);
const SfSipValue *sf_sip_msg_cseq (SfSipMsg *msg);
SfSipStr sf_sip_msg_call_id (SfSipMsg *msg);
/* -1 when absent. */
gint64 sf_sip_msg_max_forwards (SfSipMsg *msg);

/* One part of a multipart body (RFC 2046 5.1): its header block and its body,
 * slices into the message. */
typedef struct {
  SfSipStr headers;   /* the part's header lines, without the empty line */
  SfSipStr body;
} SfSipPart;

/* The parts of a multipart body (Content-Type multipart/... with a boundary)
 * (transfer full, GArray of SfSipPart); NULL with @error when the message has no
 * multipart body or the body does not follow its boundary. */
GArray *sf_sip_msg_multipart (SfSipMsg *msg, GError **error);

/* Parses every header (sipflow parse, conformance): FALSE with the first error. */
gboolean sf_sip_msg_check_all (SfSipMsg *msg, GError **error);

/* The wire form (transfer full): the start line, every header line (the bytes
 * as received for headers not changed), an empty line, the body: the
 * message's own bytes, another reference, when they are exactly that. */
GBytes *sf_sip_msg_serialize (SfSipMsg *msg);

/* sf_sip_msg_parse() of a message this process built (sf-sip-build.c), for
 * which the values of the header ids in @checked (bits 1 << id, of Via, From,
 * To, Call-ID and CSeq) are known to parse: every line with such an id is a
 * byte copy of a line whose value parsed in another message (at most
 * SF_SIP_MAX_VIA Via values among them).  Those values are not parsed now
 * but when first read; what else validation asks (the counts of those
 * headers, the rest of it) is checked as sf_sip_msg_parse() does.  A request's
 * CSeq is always parsed (its method is compared with the request's). */
SfSipMsg *sf_sip_msg_parse_built (GBytes *datagram, guint64 checked, GError **error);

/* A header line of a message being built, by offsets into its text (which
 * moves while it grows): where the line starts, its name's length, its value
 * (LWS at both ends trimmed, as the parser trims) and the whole line with its
 * CRLF. */
typedef struct {
  guint32 start, name_len, value_start, value_len, line_len;
  SfSipHdrId id;
} SfSipLineMark;

/* sf_sip_msg_parse_built() without the framing pass: the builder says where
 * the start line (@start_len bytes, then CRLF) and each header line are, and
 * the message's table is filled from that.  The builder vouches for what the
 * parser's framing checks of each line (docs/sip.md "Built messages"); the
 * start line, the limits, the body's framing and validation are done as
 * sf_sip_msg_parse_built() does them, with the same errors.  NULL with
 * @error when it fails; a message whose @marks do not tile its head exactly
 * is parsed in full instead (never the case for the builder's). */
SfSipMsg *sf_sip_msg_new_built (GBytes *wire, gsize start_len, const SfSipLineMark *marks, guint n, guint64 checked,
                                GError **error);

/* The first CTL byte (0x00-0x1f, 0x7f) at or after @p before @end, or @end:
 * what the builder looks for in text it is given, sixteen bytes at a time. */
const char *sf_sip_next_ctl (const char *p, const char *end);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SfSipMsg, sf_sip_msg_unref)

G_END_DECLS
