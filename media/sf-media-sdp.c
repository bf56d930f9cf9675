/* sf-media-sdp.c: SDP bodies (see sf-media-sdp.h). */
#include "config.h"
#include "sf-media-sdp.h"
#include <gst/sdp/sdp.h>
#include <string.h>

char *
sf_media_sdp_pcmu (const char *ip, guint port, const char *session_id)
{
  const char *family = strchr (ip, ':') != NULL ? "IP6" : "IP4";
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  GstSDPMessage *sdp = NULL;
  gst_sdp_message_new (&sdp);
  gst_sdp_message_set_version (sdp, "0");
  gst_sdp_message_set_origin (sdp, "sipflow", session_id, "1", "IN", family, ip);
  gst_sdp_message_set_session_name (sdp, "sipflow");
  gst_sdp_message_set_connection (sdp, "IN", family, ip, 0, 0);
  gst_sdp_message_add_time (sdp, "0", "0", NULL);
  GstSDPMedia *m = NULL;
  gst_sdp_media_new (&m);
  gst_sdp_media_set_media (m, "audio");
  gst_sdp_media_set_port_info (m, port, 1);
  gst_sdp_media_set_proto (m, "RTP/AVP");
  gst_sdp_media_add_format (m, "0");
  gst_sdp_media_add_attribute (m, "rtpmap", "0 PCMU/8000");
  gst_sdp_media_add_attribute (m, "sendrecv", NULL);
  gst_sdp_message_add_media (sdp, m);
  gst_sdp_media_free (m);
  char *text = gst_sdp_message_as_text (sdp);
  gst_sdp_message_free (sdp);
  return text;
}
