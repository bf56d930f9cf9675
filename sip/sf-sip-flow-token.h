/* sf-sip-flow-token.h: flow tokens (RFC 5626 5.2, 5.3): a word an element
 * puts in a URI of its own (a Path or a Record-Route value, ";sff=TOKEN")
 * naming the flow a request came on (its transport and source address), so
 * that a request that later comes back to it with that URI as its Route can
 * be sent over that flow (the TCP connection, or the UDP source behind a NAT)
 * instead of toward a Request-URI that cannot be reached.  The element keeps
 * nothing per flow: the token carries the flow, and an HMAC-SHA-256 under the
 * element's key, cut to 128 bits, says that this element made it.  A token
 * that does not verify is refused, never followed: otherwise anyone could
 * write an address in a Route and have the proxy send there (an open relay).
 *
 * TOKEN = KIND PROTO HEX(address bytes) HEX(port, 4 digits) [CONN BOOT]
 * HEX(MAC, 32 digits), lower case; KIND 'p' (a Path hop the registrar
 * recorded) or 'r' (a Record-Route the proxy added), PROTO 'u' (UDP), 't' (TCP),
 * 's' (TLS), 'w' (WebSocket) or 'x' (secure WebSocket).  A connection's
 * token (all but 'u') also names the connection, CONN = HEX(its id, 8 digits) and
 * BOOT = HEX(the transport's boot value, 8 digits) (sf_sip_transport_boot):
 * RFC 5626 5.3's flow is that connection, not whatever later comes from the
 * same address and port (a NAT that reuses the port, another program bound to
 * it), and ids count from 1 again after a restart.  A UDP token names the
 * address and port alone: a NAT mapping has no other name (a NAT that gives
 * the port to another host sends that host what the mapping's owner would
 * have got; RFC 5626 accepts the same of its UDP flows).  Lengths: UDP 46
 * (IPv4) or 70 (IPv6), TCP 62 or 86.  The MAC is over everything before it
 * and, for a Record-Route token, the dialog's Call-ID after a NUL (not
 * written: a token works in the dialog it was made in, not in another one the
 * same party holds).  Pure functions. */
#pragma once
#include <glib.h>
#include <gio/gio.h>
#include "sip/sf-sip-str.h"
#include "sip/sf-sip-transport.h"

G_BEGIN_DECLS

#define SF_FLOW_TOKEN_KEY_LEN 32
/* The URI parameter that carries a token. */
#define SF_FLOW_TOKEN_PARAM "sff"

typedef enum {
  SF_FLOW_TOKEN_PATH = 'p',   /* in the Path hop the registrar records (registrar.cluster) */
  SF_FLOW_TOKEN_RR = 'r',     /* in the proxy's Record-Route (the dialog's initiator's flow) */
} SfFlowTokenKind;

/* The flow a token names. */
typedef struct {
  SfSipProto proto;
  GInetSocketAddress *addr; /* owned ref */
  guint32 conn;             /* TCP: the connection's id (SfSipPeer.conn); 0 for UDP */
  guint32 boot;             /* TCP: sf_sip_transport_boot of the transport it is on; 0 for UDP */
} SfFlowTokenFlow;

void sf_flow_token_flow_clear (SfFlowTokenFlow *f);
/* The flow @peer came over, on a transport whose boot value is @boot (@f's
 * address a new ref). */
void sf_flow_token_flow_of (SfFlowTokenFlow *f, const SfSipPeer *peer, guint32 boot);

/* A token of @kind for @flow under @key (transfer full); @call_id is the
 * dialog's Call-ID for SF_FLOW_TOKEN_RR (ignored for a Path token, which
 * serves every dialog).  NULL when the address is not IPv4 or IPv6, or a TCP
 * flow has no connection id. */
char *sf_flow_token_make (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], SfFlowTokenKind kind, const SfFlowTokenFlow *flow,
                          SfSipStr call_id);

/* Checks @token (bytes from the network: any length, any content) against
 * @key, @kind and, for SF_FLOW_TOKEN_RR, the request's @call_id; TRUE and the
 * flow in *@flow (nullable; clear it) when it is one sf_flow_token_make made.
 * The MAC is compared in constant time.  Whether the flow still exists is
 * the caller's question (sf_sip_transport_tcp_flow). */
gboolean sf_flow_token_check (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], SfFlowTokenKind kind, SfSipStr token,
                              SfSipStr call_id, SfFlowTokenFlow *flow);

/* The URI the transport sends to for a flow: "sip:192.0.2.1:5060;transport=udp",
 * "sip:[2001:db8::1]:5060;transport=tcp" (transfer full).  Over TCP the
 * transport takes the open connection to that address when there is one and
 * opens one when there is none: check the flow first. */
char *sf_flow_token_hop (const SfFlowTokenFlow *flow);

/* Did @from (on a transport whose boot value is @boot) come over @flow?  Over
 * TCP: its very connection. */
gboolean sf_flow_token_same_flow (const SfSipPeer *from, guint32 boot, const SfFlowTokenFlow *flow);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SfFlowTokenFlow, sf_flow_token_flow_clear)

G_END_DECLS
