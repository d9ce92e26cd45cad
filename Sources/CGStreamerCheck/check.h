// GstHarness (gst-check, in libgstreamer1.0-dev): element-level tests only.
#ifndef SWIFT_GST_CHECK_H
#define SWIFT_GST_CHECK_H
#include <gst/check/gstharness.h>
#endif
