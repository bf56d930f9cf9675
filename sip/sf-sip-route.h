/* sf-sip-route.h: the Call-ID of a message read before it is parsed, so that a
 * worker can tell which worker owns the message (docs/workers.md, "Who owns a
 * message") and hand the raw bytes over without parsing them twice.
 *
 * It reads the header lines as sf_sip_msg_parse() does (RFC 3261 7.3.1: names
 * case-insensitive, the compact form `i` (20.8), white space before the colon,
 * folded lines, LWS around the value) and stops at the first empty line.  The
 * rule it keeps, checked by tests/unit/test-route.c over every torture, parser
 * suite and fuzz corpus message: when the parser accepts a message, the scan
 * finds the same Call-ID.  When the parser refuses one, the scan's answer does
 * not matter: the message creates no state on whichever worker refuses it. */
#pragma once
#include <glib.h>
#include "sf-sip-str.h"

G_BEGIN_DECLS

/* The Call-ID of the message in @data (@size bytes; a datagram or one framed
 * stream message): *@call_id is a slice of @data.  FALSE when there is no
 * Call-ID header, more than one, an empty or malformed value, or no end of
 * the header block: the parser refuses all of those, and the caller keeps the
 * message where it was read. */
gboolean sf_sip_route_call_id (const char *data, gsize size, SfSipStr *call_id);

G_END_DECLS
