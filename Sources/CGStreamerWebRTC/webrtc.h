// webrtcbin's types, SDP and libnice, for the webrtc examples (WebRTCLoopback, BrowserCall) only:
// the plugin and the InsertableStreams library do not need plugins-bad's or libnice's headers.
#ifndef SWIFT_GST_WEBRTC_H
#define SWIFT_GST_WEBRTC_H

#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#define GST_USE_UNSTABLE_API  // webrtc headers of plugins-bad; acknowledges that API is unstable
#include <gst/webrtc/webrtc.h>
// libnice: to choose the addresses ICE gathers on.
#include <nice/agent.h>
#include <nice/interfaces.h>

static inline GType swift_type_webrtc_session_description(void) { return GST_TYPE_WEBRTC_SESSION_DESCRIPTION; }

#endif
