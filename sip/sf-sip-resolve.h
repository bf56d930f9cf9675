/* sf-sip-resolve.h: where a request goes (RFC 3263 4, "Locating a SIP Server"),
 * as far as GLib's resolver goes: GLib has no NAPTR lookup, so the transport
 * comes from the URI (transport=, or UDP; TCP for sips until TLS exists), then an
 * SRV lookup (_sip._udp, _sip._tcp, _sips._tcp) when the URI names a host without
 * a port, then A/AAAA.  A numeric host (or maddr) needs no lookup at all. */
#pragma once
#include <gio/gio.h>
#include "sf-sip-transport.h"

G_BEGIN_DECLS

typedef struct {
  SfSipProto proto;
  GInetSocketAddress *addr;   /* owned */
} SfSipTarget;

void sf_sip_target_free (SfSipTarget *t);

/* The targets for @uri (a sip or sips URI), in the order to try them; the result
 * (a GPtrArray of SfSipTarget, transfer full) through sf_sip_resolve_finish(). */
void sf_sip_resolve_async (const SfSipUri *uri, GCancellable *cancellable, GAsyncReadyCallback callback,
                           gpointer user_data);
GPtrArray *sf_sip_resolve_finish (GAsyncResult *result, GError **error);

/* The targets of a URI with a numeric host, at once (no lookup); NULL otherwise. */
GPtrArray *sf_sip_resolve_numeric (const SfSipUri *uri);

G_END_DECLS
