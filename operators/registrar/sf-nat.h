/* sf-nat.h: which bindings are behind a NAT, and where a request for one goes
 * (docs/servers.md, "Behind NAT").  A NAT rewrites the source of what a UA
 * sends but not what the UA writes in its messages: the REGISTER's Via and
 * Contact name the UA's own (private) address, the packet comes from the
 * NAT's.  The registrar compares them when the REGISTER comes (the only moment
 * the Via is known) and records the verdict as the binding's flow; the proxy
 * then sends requests for it to the recorded source instead of the Contact
 * (RFC 3581's symmetric routing applied to requests), the Request-URI staying
 * the Contact.  Pure functions: no state, no I/O. */
#pragma once
#include <gio/gio.h>

G_BEGIN_DECLS

/* registrar.nat */
typedef enum {
  SF_NAT_AUTO,    /* through the source when the REGISTER crossed a NAT (sf_nat_detect) */
  SF_NAT_OFF,     /* always to the Contact, as registered */
  SF_NAT_ALWAYS,  /* always through the source the REGISTER came from */
} SfNatMode;

/* "auto", "off", "always" (the config's spelling); FALSE for anything else. */
gboolean sf_nat_mode_parse (const char *text, SfNatMode *out);

/* Did a REGISTER cross a NAT?  @via_host, @via_port (0: none written) and
 * @via_rport: its top Via's sent-by and whether it asked for rport (RFC 3581);
 * @source_ip, @source_port: where the packet came from; @tcp: it came over TCP.
 * TRUE when the sent-by's address is an IP address other than the source's
 * (the UA wrote an address the packet does not come from), or, over UDP,
 * when the Via asked for rport and its port is not the source port (a NAT
 * that kept the address but moved the port; rport says the UA listens where
 * it sends from).  A sent-by that is a name, or a UDP port that differs
 * without rport (a UA that sends from one port and listens on another), is
 * not taken for a NAT: requests to its Contact reach it as its responses do
 * (18.2.2).  Over TCP the source port is the connection's, never the Via's. */
gboolean sf_nat_detect (gboolean tcp, const char *via_host, guint via_port, gboolean via_rport, const char *source_ip,
                        guint source_port);
/* The same with the source as the transport gave it (no address written out). */
gboolean sf_nat_detect_from (gboolean tcp, const char *via_host, guint via_port, gboolean via_rport,
                             GInetSocketAddress *source);

/* The flow recorded for a binding sf_nat_detect() found behind a NAT:
 * "udp:192.0.2.1:5060" (@transport ":" @source; transfer full). */
char *sf_nat_flow (const char *transport, const char *source);

/* Where a request for a binding goes instead of its Contact: a URI naming the
 * recorded @source and @transport ("sip:192.0.2.1:5060;transport=udp",
 * transfer full), or NULL to send it to the @contact itself: @mode off; no
 * source recorded; a Path (RFC 3327: the first Path hop takes it, not us); in
 * auto mode a binding with no @flow (sf_nat_flow: not behind a NAT); a
 * Contact that already names the source.  Over TCP the transport sends it on
 * the open connection to the source, the one the REGISTER came on, if any.
 * A WebSocket binding (@transport ws or wss) always goes to its source (its
 * connection; RFC 7118), whatever @mode, unless a Path takes it. */
char *sf_nat_next_hop (SfNatMode mode, const char *contact, const char *source, const char *transport, const char *flow,
                       const char *path);

G_END_DECLS
