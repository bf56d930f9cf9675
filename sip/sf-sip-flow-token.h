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
 * TOKEN = KIND PROTO HEX(address bytes) HEX(port, 4 digits) HEX(MAC, 32 digits),
 * lower case, 46 characters for IPv4, 70 for IPv6; KIND 'p' (a Path hop the
 * registrar recorded) or 'r' (a Record-Route the proxy added), PROTO 'u' or
 * 't'; the MAC is over everything before it.  Pure functions. */
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

/* A token of @kind for the flow @proto from @addr under @key (transfer full);
 * NULL when @addr is not IPv4 or IPv6. */
char *sf_flow_token_make (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], SfFlowTokenKind kind, SfSipProto proto,
                          GInetSocketAddress *addr);

/* Checks @token (bytes from the network: any length, any content) against
 * @key and @kind; TRUE and the flow in *@proto and *@addr (transfer full;
 * both nullable) when it is one sf_flow_token_make made.  The MAC is compared
 * in constant time. */
gboolean sf_flow_token_check (const guint8 key[SF_FLOW_TOKEN_KEY_LEN], SfFlowTokenKind kind, SfSipStr token,
                              SfSipProto *proto, GInetSocketAddress **addr);

/* The URI the transport sends to for a flow: "sip:192.0.2.1:5060;transport=udp",
 * "sip:[2001:db8::1]:5060;transport=tcp" (over TCP the transport takes the
 * open connection to that address when there is one; transfer full). */
char *sf_flow_token_hop (SfSipProto proto, GInetSocketAddress *addr);

/* Did @remote over @proto come from the flow @fproto, @faddr? */
gboolean sf_flow_token_same_flow (SfSipProto proto, GInetSocketAddress *remote, SfSipProto fproto,
                                  GInetSocketAddress *faddr);

G_END_DECLS
