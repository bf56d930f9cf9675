/* sf-sip-txn-key.h: transaction keys and matching, RFC 3261 17.1.3 (client),
 * 17.2.3 (server, with the RFC 2543 fallback) and 9.2 (the INVITE a CANCEL
 * cancels).  Pure functions of a message: no state, no I/O; the transaction
 * layer (operators/transaction/) keys its transaction instances by them, so two
 * messages match when their keys are equal strings.
 *
 * What the keys compare, and how (RFC 3261 7.3.1, 17.2.3, 25.1):
 *  - the branch: byte for byte, as every common stack does (its value is an
 *    opaque token made unique by its sender, 8.1.1.7); the magic cookie
 *    "z9hG4bK" is recognized in that case only, and a branch that is the cookie
 *    alone carries nothing unique: the RFC 2543 rules apply to it;
 *  - the sent-by host: case-insensitively (a host name, 19.1.4); its port as
 *    written, an absent port not equal to 5060 (as for URIs, 19.1.4);
 *  - the method: case-sensitively (methods are case-sensitive tokens, 25.1:
 *    "invite" is an extension method, not INVITE);
 *  - RFC 2543 (no cookie): the Request-URI, the From tag, the Call-ID, the CSeq
 *    number and the top Via as written, the method; the To tag too for a
 *    non-INVITE request.  An INVITE's key leaves the To tag out so its ACK finds
 *    it: that ACK carries the To tag of our response, which 17.2.3 would compare
 *    with the response's, and the key cannot know (a gap: an RFC 2543 ACK is
 *    matched without its To tag).
 *
 * The keys appear in the engine's events ("key"), so their text is stable. */
#pragma once
#include <glib.h>
#include "sf-sip-msg.h"

G_BEGIN_DECLS

/* Does @msg's top Via carry a branch that starts with the magic cookie and has
 * something after it (RFC 3261 8.1.1.7, 17.2.3)?  FALSE without a Via. */
gboolean sf_sip_txn_has_cookie (SfSipMsg *msg);

/* The key of the server transaction request @req belongs to (17.2.3): an ACK
 * belongs to its INVITE's (the ACK for a non-2xx response), a CANCEL to a
 * transaction of its own; every other request to its own.  Transfer full; NULL
 * when @req is no request or lacks a Via or a CSeq (a message that framed but
 * did not validate). */
char *sf_sip_txn_server_key (SfSipMsg *req);
/* The same with the method the transaction was created by given as @method
 * (the rule every other key function applies): an ACK or a CANCEL looking for
 * its INVITE gives "INVITE". */
char *sf_sip_txn_server_key_for (SfSipMsg *req, const char *method);
/* (A response to a request whose branch has the magic cookie gives its
 * transaction's key too: the Via it copied is all the key reads.) */
/* 9.2: the key of the INVITE server transaction CANCEL @cancel cancels: the
 * CANCEL's key with the method INVITE (its branch, sent-by, or RFC 2543 fields
 * are the INVITE's).  NULL when @cancel is not a CANCEL (or lacks a Via or a
 * CSeq). */
char *sf_sip_txn_cancel_target_key (SfSipMsg *cancel);

/* The client transaction key (17.1.3) of a request we send or of a response
 * to it: the top Via's branch and the CSeq method (a CANCEL shares its
 * INVITE's branch but is its own transaction).  Transfer full; NULL when @msg
 * lacks a Via or a CSeq. */
char *sf_sip_txn_client_key (SfSipMsg *msg);
/* The same with @method in place of the CSeq's: the ACK a client INVITE
 * transaction sends for a non-2xx (17.1.1.3) is that transaction's ("INVITE"). */
char *sf_sip_txn_client_key_for (SfSipMsg *msg, const char *method);

/* The key calls are found by for requests coming in (12.2.2, a UA's dialog
 * side): "Call-ID|remote tag"; @remote_tag nullable (""). */
char *sf_sip_txn_call_key (const char *call_id, const char *remote_tag);
/* The same for a received request: its Call-ID and From tag.  Transfer full. */
char *sf_sip_txn_call_key_of (SfSipMsg *req);

G_END_DECLS
