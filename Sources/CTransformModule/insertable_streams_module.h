/*
 * insertable_streams_module.h: the C ABI between the `insertablestreams` GStreamer plugin and
 * transform modules, shared libraries that add transforms a `worker` chain can name:
 *
 *   GST_INSERTABLE_STREAMS_MODULE_PATH=/path/to/modules \
 *     gst-launch-1.0 videotestsrc ! trackprocessor worker="hats ! mirror" pipe-to=out ...
 *
 * A module exports ONE symbol, the entry point ISM_ENTRY_SYMBOL:
 *
 *   const ISMModule *insertable_streams_module (const ISMHost *host);
 *
 * The plugin calls it once, right after dlopen, and reads `abi_version` (the first field of
 * ISMModule, in every version) before anything else: a module built for another ABI version is
 * refused with a message naming both versions. Return NULL to refuse a host (its
 * `host->abi_version` is the version the plugin speaks).
 *
 * Threading and lifetimes
 * - Every callback of a transform instance runs on the element's worker thread, one call at a
 *   time: an instance may keep plain mutable state. Instances of one transform may run on
 *   several threads at once (one per element): share nothing mutable between them unlocked.
 * - An ISMFrame, its planes and bytes, and an ISMController are valid only during the call that
 *   received them (or, for frames from `new_video_frame`, during the call that made them).
 * - Frames passed to `enqueue` go on after the call returns, in the order enqueued. A frame
 *   given to `transform` and not enqueued is dropped. Each frame may be enqueued once.
 * - The plugin never unloads a module (dlopen with RTLD_NODELETE): strings and tables the module
 *   returns may be static.
 * - A module written in Swift must link its own Swift runtime statically and export nothing but
 *   the entry point (a version script): see templates/transform-module.
 *
 * Version 1. Any change to a type of this file changes ISM_ABI_VERSION.
 */
#ifndef INSERTABLE_STREAMS_MODULE_H
#define INSERTABLE_STREAMS_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISM_ABI_VERSION 1u
#define ISM_ENTRY_SYMBOL "insertable_streams_module"

/* What a transform processes (ISMTransform.frames). */
typedef enum {
  ISM_FRAMES_RAW = 1,     /* trackprocessor: VideoFrame / AudioData */
  ISM_FRAMES_ENCODED = 2  /* rtpscripttransform: RTCEncodedVideoFrame / RTCEncodedAudioFrame */
} ISMFrames;

/* What one frame is (ISMFrame.kind). */
typedef enum {
  ISM_FRAME_VIDEO = 1,
  ISM_FRAME_AUDIO = 2,
  ISM_FRAME_ENCODED_VIDEO = 3,
  ISM_FRAME_ENCODED_AUDIO = 4
} ISMFrameKind;

/* Encoded video frames' `type`. */
typedef enum {
  ISM_ENCODED_KEY = 1,
  ISM_ENCODED_DELTA = 2,
  ISM_ENCODED_EMPTY = 3
} ISMEncodedType;

typedef enum {
  ISM_SIDE_SEND = 1,    /* between encoder and payloader */
  ISM_SIDE_RECEIVE = 2  /* between depayloader and decoder */
} ISMSide;

/* One plane of a raw frame, mapped writable. Audio: one plane per channel when the format is
 * planar ("s16-planar", "f32-planar"), else one plane of interleaved samples; rows is 1. */
typedef struct {
  uint8_t *data;
  int32_t stride;     /* bytes from one row to the next (may exceed row_bytes) */
  int32_t row_bytes;  /* meaningful bytes per row */
  int32_t rows;
} ISMPlane;

typedef struct {
  uint32_t kind;            /* ISMFrameKind */
  /* Video: a WebCodecs VideoPixelFormat ("I420", "I422", "I444", "NV12", "RGBA", "RGBX", "BGRA",
   * "BGRX"); audio: an AudioSampleFormat ("s16", "s16-planar", "f32", "f32-planar"); encoded:
   * the codec's mime type ("video/VP8", "audio/opus", ...). */
  const char *format;
  int64_t timestamp_us;     /* presentation timestamp, microseconds; -1 when unknown */
  int64_t duration_us;      /* -1 when unknown */

  /* Raw video */
  int32_t width, height;
  /* Raw audio */
  int32_t sample_rate, number_of_channels, number_of_frames;
  /* Raw: the planes, writable in place (made writable, copying only when shared). */
  uint32_t n_planes;
  const ISMPlane *planes;

  /* Encoded: the bytes, writable in place; `replace_data` gives the frame another size. */
  uint8_t *data;
  size_t size;
  uint32_t type;            /* ISMEncodedType (encoded video); 0 for audio */
  uint32_t side;            /* ISMSide */
  int64_t ssrc;             /* -1 when unknown */
  int32_t payload_type;     /* -1 when unknown */
  int64_t rtp_timestamp;    /* -1 when unknown */
  int32_t sequence_number;  /* -1 when unknown (audio) */
  uint32_t n_csrcs;
  const uint32_t *csrcs;
  const char *rid;          /* NULL when the stream has none */

  void *host_data;          /* the plugin's; do not touch */
} ISMFrame;

/* A message between the application and a transform: a GstStructure's content (`name, key=value,
 * ...`) without GStreamer. Fields keep their order. */
typedef enum {
  ISM_VALUE_STRING = 1,  /* string */
  ISM_VALUE_INT = 2,     /* int_value */
  ISM_VALUE_UINT = 3,    /* uint_value */
  ISM_VALUE_DOUBLE = 4,  /* double_value */
  ISM_VALUE_BOOL = 5,    /* int_value: 0 or 1 */
  ISM_VALUE_BYTES = 6    /* bytes, n_bytes (a GstBuffer field) */
} ISMValueType;

typedef struct {
  const char *key;
  uint32_t type;            /* ISMValueType */
  const char *string;
  int64_t int_value;
  uint64_t uint_value;
  double double_value;
  const uint8_t *bytes;
  size_t n_bytes;
} ISMField;

typedef struct {
  const char *name;
  uint32_t n_fields;
  const ISMField *fields;
} ISMMessage;

typedef struct ISMHost ISMHost;

/* What a transform is given with every call: the plugin's functions and its handle. */
typedef struct {
  const ISMHost *host;
  void *host_data;          /* the plugin's; do not touch */
} ISMController;

/* The plugin's functions. Those returning int32_t return 0 on success and -1 on failure, with
 * the reason in `last_error` (valid until the next call through the same controller). */
struct ISMHost {
  uint32_t abi_version;     /* ISM_ABI_VERSION of the plugin */
  /* Passes `frame` on (the frame given to this call, or one from new_video_frame). */
  int32_t (*enqueue) (ISMController *controller, ISMFrame *frame);
  /* Encoded frames: gives `frame` `size` new bytes and returns them (uninitialised, writable);
   * frame->data and frame->size describe them afterwards. The previous bytes stay readable at
   * their old address until the call returns. NULL on failure. */
  uint8_t *(*replace_data) (ISMController *controller, ISMFrame *frame, size_t size);
  /* Raw video: a new black frame (format as ISMFrame.format) to fill and enqueue. NULL on failure. */
  ISMFrame *(*new_video_frame) (ISMController *controller, const char *format, int32_t width,
                                int32_t height, int64_t timestamp_us, int64_t duration_us);
  /* A message for the application: the element's `message` signal and an element message on
   * the bus (the plugin copies it). */
  int32_t (*post_message) (ISMController *controller, const ISMMessage *message);
  /* Encoded, send side: asks the encoder for a key frame (rid may be NULL). */
  int32_t (*generate_key_frame) (ISMController *controller, const char *rid);
  /* Encoded, receive side: asks the remote sender for a key frame (RTCP PLI). */
  int32_t (*send_key_frame_request) (ISMController *controller);
  const char *(*last_error) (ISMController *controller);
  /* Logs in the GST_DEBUG category insertablestreams-modules, prefixed with the element and
   * transform names; level as GstDebugLevel (1 ERROR ... 7 TRACE). */
  void (*log) (ISMController *controller, int32_t level, const char *text);
};

/* One `key=value` parameter of a worker step. */
typedef struct {
  const char *key;
  const char *value;
} ISMArgument;

/* A parameter a transform declares (others are refused before `create` is called). */
typedef struct {
  const char *name;
  const char *summary;
} ISMParameter;

typedef struct ISMTransform ISMTransform;

/* Callbacks that can fail write a reason (UTF-8, what was wrong and what would be right) into
 * `error` (capacity `error_size`, always at least 256 bytes) and return -1 (NULL for create). */
struct ISMTransform {
  const char *name;         /* the name a worker step uses: letters, digits, '-', '_' */
  const char *summary;      /* one line, shown by gst-inspect-1.0 and in errors */
  uint32_t frames;          /* ISMFrames */
  /* Raw: comma-separated pixel formats the transform handles (e.g. "I420,RGBA"), NULL for any;
   * the element negotiates only those. Encoded: comma-separated mime types, NULL for any. */
  const char *formats;
  /* Raw: 1 video only, 2 audio only, 3 both. Ignored for encoded transforms. */
  uint32_t raw_kinds;
  uint32_t n_parameters;
  const ISMParameter *parameters;
  void *user_data;          /* the module's; passed back to create */

  /* A new instance for one worker step. */
  void *(*create) (const ISMTransform *transform, const ISMArgument *arguments, uint32_t n_arguments,
                   char *error, size_t error_size);
  /* Once, after the last call (on whichever thread releases the worker). */
  void (*destroy) (void *instance);
  /* Once per frame. Not enqueueing `frame` drops it. */
  int32_t (*transform) (void *instance, ISMFrame *frame, ISMController *controller,
                        char *error, size_t error_size);
  /* End of stream (may enqueue held frames). May be NULL. */
  int32_t (*flush) (void *instance, ISMController *controller, char *error, size_t error_size);
  /* A message the application posted (`post-message`). May be NULL. */
  int32_t (*message) (void *instance, const ISMMessage *message, ISMController *controller,
                      char *error, size_t error_size);
};

typedef struct {
  uint32_t abi_version;     /* ISM_ABI_VERSION the module was built with: always the first field */
  const char *name;         /* the module's name, for messages */
  const char *version;      /* the module's own version, for messages; may be NULL */
  uint32_t n_transforms;
  const ISMTransform *transforms;
} ISMModule;

typedef const ISMModule *(*ISMEntryPoint) (const ISMHost *host);

#ifdef __cplusplus
}
#endif

#endif /* INSERTABLE_STREAMS_MODULE_H */
