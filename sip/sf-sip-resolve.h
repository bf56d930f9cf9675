/* sf-sip-resolve.h: where a request goes (RFC 3263 4, "Locating a SIP Server"),
 * through c-ares, its sockets and timeouts watched by the GLib main loop (no call
 * blocks).  The order (RFC 3263 4.1, 4.2):
 *  - a numeric host (or maddr): that address, no lookup; the transport from
 *    transport=, else TLS for sips and UDP for sip (TCP when UDP is not spoken);
 *  - a port given: A/AAAA of the host, with that port;
 *  - transport= given: the SRV of that transport (_sip._udp, _sip._tcp,
 *    _sips._tcp), else A/AAAA with the transport's default port;
 *  - else NAPTR: the records whose service is SIP+D2U, SIP+D2T or SIPS+D2T
 *    (SIPS+D2T alone for sips), flag "s", that the caller speaks, by order then
 *    preference; each one's SRV in turn; without usable NAPTR records, the
 *    SRV of each transport the caller speaks (UDP, TCP, TLS); without SRV
 *    records, A/AAAA with the default port (5060, 5061 for TLS).
 * Every SRV answer is ordered by priority and weight (RFC 2782), and the
 * targets of all of them, in that order, make the list the caller tries in turn
 * (RFC 3263 4.3: the next one after a transport error, a timeout or a 503).
 * Bounded: SF_SIP_RESOLVE_MAX_TARGETS addresses, SF_SIP_RESOLVE_MAX_RECORDS
 * records of an answer looked at, SF_SIP_RESOLVE_MAX_ADDRS addresses of a name;
 * each query times out (sf_sip_resolver_new).  No cache: each request is located
 * anew (c-ares 1.18 has none, and it gives no TTL of SRV and NAPTR records). */
#pragma once
#include <gio/gio.h>
#include "sf-sip-transport.h"
#include "sf-sip-uri.h"

G_BEGIN_DECLS

#define SF_SIP_RESOLVE_MAX_TARGETS 16
#define SF_SIP_RESOLVE_MAX_RECORDS 16
#define SF_SIP_RESOLVE_MAX_ADDRS 4

/* A set of transports (SfSipProto): what a caller can send over. */
#define SF_SIP_PROTO_BIT(p) (1u << (p))
#define SF_SIP_PROTOS_ALL (SF_SIP_PROTO_BIT (SF_SIP_UDP) | SF_SIP_PROTO_BIT (SF_SIP_TCP) | SF_SIP_PROTO_BIT (SF_SIP_TLS))

typedef struct {
  SfSipProto proto;
  GInetSocketAddress *addr;   /* owned */
  char *name;                 /* owned, nullable: the host name the address is of (an SRV target, the URI's host) */
} SfSipTarget;

/* (transfer full) */
SfSipTarget *sf_sip_target_new (SfSipProto proto, GInetSocketAddress *addr, const char *name);
SfSipTarget *sf_sip_target_copy (const SfSipTarget *t);
void sf_sip_target_free (SfSipTarget *t);
/* "tcp:127.0.0.1:5070" (transfer full). */
char *sf_sip_target_to_string (const SfSipTarget *t);

/* One DNS client: its servers and timeouts, its sockets on the thread-default
 * main context of the caller of sf_sip_resolver_new (lookups are started and
 * answered there).  @servers (nullable): "IP[:PORT],[IPV6]:PORT,..." (the
 * sip.dns_servers key); NULL: /etc/resolv.conf's.  @timeout_ms: the first try's
 * timeout of a query; @tries: how many tries (c-ares doubles the timeout each
 * round).  NULL with @error when @servers is not understood. */
typedef struct _SfSipResolver SfSipResolver;
SfSipResolver *sf_sip_resolver_new (const char *servers, guint timeout_ms, guint tries, GError **error);
/* Lookups still running end with G_IO_ERROR_CANCELLED (their callbacks run later, from the main loop). */
void sf_sip_resolver_free (SfSipResolver *r);

/* The targets for @uri (a sip or sips URI) that a caller speaking @protos (a
 * set of SF_SIP_PROTO_BIT) can use, in the order to try them; the result (a
 * GPtrArray of SfSipTarget, transfer full, never empty) through
 * sf_sip_resolve_finish().  Until the transport speaks TLS, a sips URI from a
 * caller without TLS in @protos is reached over TCP, as it was before RFC 3263
 * location (sf_sip_resolve_secure_proto). */
void sf_sip_resolve_async (SfSipResolver *r, const SfSipUri *uri, guint protos, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *sf_sip_resolve_finish (GAsyncResult *result, GError **error);

/* The target of a URI with a numeric host (or maddr), at once (no lookup);
 * NULL otherwise. */
GPtrArray *sf_sip_resolve_numeric (const SfSipUri *uri, guint protos);

/* The transport of a sips URI for a caller speaking @protos: TLS, or TCP when
 * TLS is not among them (the stand-in from before TLS; one place to drop it). */
SfSipProto sf_sip_resolve_secure_proto (guint protos);

/* ---- the selection, as pure functions (tests/unit/test-sip-resolve.c) ---- */

typedef struct {
  guint16 order, preference;
  const char *flags, *service, *replacement;
} SfSipNaptr;

typedef struct {
  guint16 priority, weight, port;
  const char *target;
} SfSipSrv;

/* RFC 3263 4.1: of @n NAPTR records, those a client speaking @protos uses for
 * a sip (@secure FALSE) or sips URI: flag "s", a service it speaks, a
 * replacement; at most @max, their indices in @idx and transports in @proto,
 * ordered by order, then preference (RFC 3403).  Returns how many. */
guint sf_sip_naptr_select (const SfSipNaptr *recs, guint n, gboolean secure, guint protos, guint *idx, SfSipProto *proto,
                           guint max);
/* RFC 2782: orders @recs in place, by priority, then within one priority by a
 * weighted random draw (weight 0 least likely first); a target "." (the service
 * is not offered there) is dropped.  @rand: nullable (GLib's global one).
 * Returns how many are left. */
guint sf_sip_srv_order (SfSipSrv *recs, guint n, GRand *rand);

G_END_DECLS
