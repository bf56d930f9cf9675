/* sf-media-sdp.h: SDP bodies (RFC 4566) built with GstSDPMessage.  For now one
 * fixed audio stream (PCMU, RFC 3551) for the example user agents; RFC 3264
 * offer/answer negotiation comes with the user-agent issue. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* An SDP body (transfer full) with one sendrecv PCMU audio stream on @ip
 * (IPv4 or IPv6, without brackets) and @port; @session_id names the origin. */
char *sf_media_sdp_pcmu (const char *ip, guint port, const char *session_id);

G_END_DECLS
