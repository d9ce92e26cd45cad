// The GStreamer 1.22 C API as Swift sees it, plus `static inline` wrappers for the
// function-like macros and macro constants Swift cannot import (see
// ../shared/notes/swift-gstreamer-bridge.md, pitfall 3). Keep this file free of logic; the one
// exception is transform-frame's signal marshallers (a va_list Swift cannot read).
#ifndef SWIFT_GST_SHIM_H
#define SWIFT_GST_SHIM_H

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>
#include <gst/base/gstbasesrc.h>
#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>
#include <gst/audio/audio.h>
#include <gst/rtp/rtp.h>

// ---- GType fundamentals (G_TYPE_MAKE_FUNDAMENTAL is function-like) ----
static inline GType swift_type_boolean(void) { return G_TYPE_BOOLEAN; }
static inline GType swift_type_int(void) { return G_TYPE_INT; }
static inline GType swift_type_uint(void) { return G_TYPE_UINT; }
static inline GType swift_type_int64(void) { return G_TYPE_INT64; }
static inline GType swift_type_uint64(void) { return G_TYPE_UINT64; }
static inline GType swift_type_double(void) { return G_TYPE_DOUBLE; }
static inline GType swift_type_string(void) { return G_TYPE_STRING; }
static inline GType swift_type_none(void) { return G_TYPE_NONE; }
static inline GType swift_type_from_instance(gpointer instance) { return G_TYPE_FROM_INSTANCE(instance); }
static inline GType swift_type_from_class(gpointer klass) { return G_TYPE_FROM_CLASS(klass); }
static inline GType swift_type_structure(void) { return GST_TYPE_STRUCTURE; }

static inline guint swift_sizeof_closure(void) { return sizeof(GClosure); }
static inline GType swift_type_object(void) { return G_TYPE_OBJECT; }
static inline GType swift_type_enum(void) { return G_TYPE_ENUM; }

// ---- debug logging (gst_debug_log is variadic; _gst_debug_min is a mutable global) ----
static inline GstDebugLevel swift_debug_min_level(void) { return _gst_debug_min; }
static inline GstDebugCategory *swift_debug_category_new(const gchar *name, guint color, const gchar *description) {
  return _gst_debug_category_new(name, color, description);
}

// ---- buffers ----
static inline GstClockTime swift_buffer_pts(GstBuffer *b) { return GST_BUFFER_PTS(b); }
static inline GstClockTime swift_buffer_duration(GstBuffer *b) { return GST_BUFFER_DURATION(b); }
static inline void swift_buffer_set_pts(GstBuffer *b, GstClockTime t) { GST_BUFFER_PTS(b) = t; }
static inline void swift_buffer_set_dts(GstBuffer *b, GstClockTime t) { GST_BUFFER_DTS(b) = t; }
static inline void swift_buffer_set_duration(GstBuffer *b, GstClockTime t) { GST_BUFFER_DURATION(b) = t; }
static inline GstBuffer *swift_buffer_make_writable(GstBuffer *b) { return gst_buffer_make_writable(b); }
static inline gboolean swift_buffer_is_writable(GstBuffer *b) { return gst_buffer_is_writable(b); }
static inline GstBufferFlags swift_buffer_flags(GstBuffer *b) { return (GstBufferFlags)GST_BUFFER_FLAGS(b); }
static inline GstMapFlags swift_map_readwrite(void) { return GST_MAP_READWRITE; }

// ---- events, queries, messages ----
static inline GstEventType swift_event_type(GstEvent *e) { return GST_EVENT_TYPE(e); }
static inline gboolean swift_event_is_serialized(GstEvent *e) { return GST_EVENT_IS_SERIALIZED(e); }
static inline GstQueryType swift_query_type(GstQuery *q) { return GST_QUERY_TYPE(q); }
static inline GstMessageType swift_message_type(GstMessage *m) { return GST_MESSAGE_TYPE(m); }
static inline GstObject *swift_message_src(GstMessage *m) { return GST_MESSAGE_SRC(m); }
static inline const GstStructure *swift_message_structure(GstMessage *m) { return gst_message_get_structure(m); }

// ---- elements and objects ----
static inline GstObject *swift_object_parent(GstObject *o) { return GST_OBJECT_PARENT(o); }
static inline const gchar *swift_object_name(GstObject *o) { return GST_OBJECT_NAME(o); }
static inline void swift_object_lock(GstObject *o) { GST_OBJECT_LOCK(o); }
static inline void swift_object_unlock(GstObject *o) { GST_OBJECT_UNLOCK(o); }
static inline GstPad *swift_base_sink_pad(GstBaseSink *s) { return GST_BASE_SINK_PAD(s); }
static inline GstPad *swift_base_src_pad(GstBaseSrc *s) { return GST_BASE_SRC_PAD(s); }
static inline void swift_pad_set_flags(GstPad *p, GstPadFlags f) { GST_OBJECT_FLAG_SET(p, f); }
static inline gboolean swift_pad_is_flushing(GstPad *p) { return GST_PAD_IS_FLUSHING(p); }
static inline GstFlowReturn swift_flow_flushing(void) { return GST_FLOW_FLUSHING; }

// ---- RTP payloaders (GstRTPBasePayload's accessors are macros; set_outcaps is variadic) ----
static inline GstPad *swift_rtp_base_payload_sinkpad(GstRTPBasePayload *p) { return GST_RTP_BASE_PAYLOAD_SINKPAD(p); }
static inline GstPad *swift_rtp_base_payload_srcpad(GstRTPBasePayload *p) { return GST_RTP_BASE_PAYLOAD_SRCPAD(p); }
static inline guint swift_rtp_base_payload_mtu(GstRTPBasePayload *p) { return GST_RTP_BASE_PAYLOAD_MTU(p); }
static inline gboolean swift_rtp_base_payload_set_outcaps(GstRTPBasePayload *p) { return gst_rtp_base_payload_set_outcaps(p, NULL); }
static inline void swift_buffer_set_flags(GstBuffer *b, GstBufferFlags f) { GST_BUFFER_FLAG_SET(b, f); }
static inline void swift_buffer_list_add(GstBufferList *l, GstBuffer *b) { gst_buffer_list_add(l, b); }

// ---- clocks ----
static inline GstClockTime swift_clock_time_none(void) { return GST_CLOCK_TIME_NONE; }

// ---- raw video ----
static inline GstVideoFormat swift_video_info_format(const GstVideoInfo *i) { return GST_VIDEO_INFO_FORMAT(i); }
static inline guint swift_video_info_n_planes(const GstVideoInfo *i) { return GST_VIDEO_INFO_N_PLANES(i); }
static inline gint swift_video_info_plane_stride(const GstVideoInfo *i, guint p) { return GST_VIDEO_INFO_PLANE_STRIDE(i, p); }
static inline gsize swift_video_info_plane_offset(const GstVideoInfo *i, guint p) { return GST_VIDEO_INFO_PLANE_OFFSET(i, p); }
static inline gpointer swift_video_frame_plane_data(GstVideoFrame *f, guint p) { return GST_VIDEO_FRAME_PLANE_DATA(f, p); }
static inline gint swift_video_frame_plane_stride(GstVideoFrame *f, guint p) { return GST_VIDEO_FRAME_PLANE_STRIDE(f, p); }

// ---- raw audio ----
static inline GstAudioFormat swift_audio_info_format(const GstAudioInfo *i) { return GST_AUDIO_INFO_FORMAT(i); }

// ---- signals (g_signal_connect and g_signal_emit_by_name are a macro / variadic) ----
static inline gulong swift_signal_connect_element(gpointer instance, const gchar *signal, void (*handler)(GstElement *, gpointer), gpointer data, GClosureNotify destroy) { return g_signal_connect_data(instance, signal, G_CALLBACK(handler), data, destroy, (GConnectFlags)0); }
static inline gulong swift_signal_connect_element_pad(gpointer instance, const gchar *signal, void (*handler)(GstElement *, GstPad *, gpointer), gpointer data, GClosureNotify destroy) { return g_signal_connect_data(instance, signal, G_CALLBACK(handler), data, destroy, (GConnectFlags)0); }
static inline gulong swift_signal_connect_element_uint_string(gpointer instance, const gchar *signal, void (*handler)(GstElement *, guint, gchar *, gpointer), gpointer data, GClosureNotify destroy) { return g_signal_connect_data(instance, signal, G_CALLBACK(handler), data, destroy, (GConnectFlags)0); }
static inline void swift_signal_emit_by_name_pointer_pointer(gpointer instance, const gchar *signal, gpointer a, gpointer b) { g_signal_emit_by_name(instance, signal, a, b); }
static inline void swift_signal_emit_by_name_uint_string(gpointer instance, const gchar *signal, guint a, const gchar *b) { g_signal_emit_by_name(instance, signal, a, b); }
static inline gboolean swift_signal_emit_by_name_returning_bool(gpointer instance, const gchar *signal) { gboolean result = FALSE; g_signal_emit_by_name(instance, signal, &result); return result; }

// ---- transform-frame: samples through a signal (g_signal_emit is variadic) ----
static inline GType swift_type_sample(void) { return GST_TYPE_SAMPLE; }
static inline GType swift_type_static_scope(GType type) { return type | G_SIGNAL_TYPE_STATIC_SCOPE; }
static inline GstSample *swift_signal_emit_sample(gpointer instance, guint signal_id, GQuark detail, GstSample *sample) { GstSample *result = NULL; g_signal_emit(instance, signal_id, detail, sample, &result); return result; }
/* The marshallers of `GstSample *handler (GstElement *, GstSample *, gpointer)` for handlers
 * connected from C (GCClosure). Without them GLib marshals through libffi
 * (g_cclosure_marshal_generic[_va]), about 1,500 instructions per emission; bindings' closures
 * (PyGObject, gstreamer-rs) bring their own marshal and do not use these. The handler returns
 * a sample with a reference (transfer full), which the return value takes. */
typedef GstSample *(*SwiftSampleHandler)(gpointer instance, GstSample *sample, gpointer data);
static inline void swift_marshal_sample__sample(GClosure *closure, GValue *return_value, guint n_param_values,
                                                const GValue *param_values, gpointer invocation_hint, gpointer marshal_data) {
  (void) invocation_hint;
  if (n_param_values != 2) return;
  gpointer instance = g_value_peek_pointer(param_values + 0), data = closure->data;
  SwiftSampleHandler handler = (SwiftSampleHandler) (marshal_data ? marshal_data : ((GCClosure *) closure)->callback);
  GstSample *result = G_CCLOSURE_SWAP_DATA(closure)
      ? handler(data, (GstSample *) g_value_get_boxed(param_values + 1), instance)
      : handler(instance, (GstSample *) g_value_get_boxed(param_values + 1), data);
  if (return_value) g_value_take_boxed(return_value, result);
  else if (result) gst_sample_unref(result);
}
static inline void swift_marshal_sample__samplev(GClosure *closure, GValue *return_value, gpointer instance, va_list args,
                                                 gpointer marshal_data, int n_params, GType *param_types) {
  if (n_params != 1) return;
  va_list copy;
  G_VA_COPY(copy, args);
  GstSample *sample = va_arg(copy, GstSample *);
  va_end(copy);
  /* Without G_SIGNAL_TYPE_STATIC_SCOPE the handler gets its own reference for the call. */
  gboolean copied = (param_types[0] & G_SIGNAL_TYPE_STATIC_SCOPE) == 0 && sample != NULL;
  if (copied) gst_sample_ref(sample);
  gpointer data = closure->data;
  SwiftSampleHandler handler = (SwiftSampleHandler) (marshal_data ? marshal_data : ((GCClosure *) closure)->callback);
  GstSample *result = G_CCLOSURE_SWAP_DATA(closure) ? handler(data, sample, instance) : handler(instance, sample, data);
  if (copied) gst_sample_unref(sample);
  if (return_value) g_value_take_boxed(return_value, result);
  else if (result) gst_sample_unref(result);
}
static inline GSignalCMarshaller swift_marshaller_sample__sample(void) { return swift_marshal_sample__sample; }
static inline GSignalCVaMarshaller swift_va_marshaller_sample__sample(void) { return swift_marshal_sample__samplev; }
static inline void swift_structure_take_int64(GstStructure *s, GQuark field, gint64 v) { GValue value = G_VALUE_INIT; g_value_init(&value, G_TYPE_INT64); g_value_set_int64(&value, v); gst_structure_id_take_value(s, field, &value); }
static inline void swift_structure_take_uint64(GstStructure *s, GQuark field, guint64 v) { GValue value = G_VALUE_INIT; g_value_init(&value, G_TYPE_UINT64); g_value_set_uint64(&value, v); gst_structure_id_take_value(s, field, &value); }
static inline void swift_structure_take_int(GstStructure *s, GQuark field, gint v) { GValue value = G_VALUE_INIT; g_value_init(&value, G_TYPE_INT); g_value_set_int(&value, v); gst_structure_id_take_value(s, field, &value); }
static inline void swift_structure_take_uint(GstStructure *s, GQuark field, guint v) { GValue value = G_VALUE_INIT; g_value_init(&value, G_TYPE_UINT); g_value_set_uint(&value, v); gst_structure_id_take_value(s, field, &value); }
static inline void swift_structure_take_boolean(GstStructure *s, GQuark field, gboolean v) { GValue value = G_VALUE_INIT; g_value_init(&value, G_TYPE_BOOLEAN); g_value_set_boolean(&value, v); gst_structure_id_take_value(s, field, &value); }
/* `v` must outlive the structure (a string literal or an interned string). */
static inline void swift_structure_take_static_string(GstStructure *s, GQuark field, const gchar *v) { GValue value = G_VALUE_INIT; g_value_init(&value, G_TYPE_STRING); g_value_set_static_string(&value, v); gst_structure_id_take_value(s, field, &value); }
static inline void swift_structure_take_uint_array(GstStructure *s, GQuark field, const guint *v, guint count) {
    GValue array = G_VALUE_INIT; g_value_init(&array, GST_TYPE_ARRAY);
    for (guint i = 0; i < count; i++) { GValue item = G_VALUE_INIT; g_value_init(&item, G_TYPE_UINT); g_value_set_uint(&item, v[i]); gst_value_array_append_and_take_value(&array, &item); }
    gst_structure_id_take_value(s, field, &array);
}

#endif
