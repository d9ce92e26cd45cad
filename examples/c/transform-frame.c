/* transform-frame.c: a C application running its own code on every frame through the `app`
 * transform of the insertablestreams plugin (no Swift involved).
 *
 *   cc transform-frame.c -o transform-frame $(pkg-config --cflags --libs gstreamer-1.0)
 *   GST_PLUGIN_PATH=<folder with libgstinsertablestreams.so> ./transform-frame
 *
 * 1. Encoded frames: VP8 from vp8enc goes through two rtpscripttransforms (send side, then
 *    receive side) whose handlers XOR every byte with 0x5a in place; vp8dec must decode exactly
 *    the pictures of the same pipeline without them.
 * 2. Raw frames: trackprocessor worker=app inverts RGBA pixels in place; the trackgenerator's
 *    output must be 255 - input.
 *
 * The handler's signature is the signal's: GstSample *handler (GstElement *element,
 * GstSample *frame, gpointer user_data). It returns the frame to pass on, with a reference
 * (transfer full): here the same sample, after writing its buffer in place, which is possible
 * because the sample holds the only reference to the buffer. Return NULL to drop the frame.
 * It runs on the element's worker thread, not the main thread.
 */
#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  guint frames;
  guint written_in_place;
} Counts;

static GstSample *
xor_frame (GstElement * element, GstSample * frame, gpointer user_data)
{
  Counts *counts = user_data;
  GstBuffer *buffer = gst_sample_get_buffer (frame);
  GstMapInfo map;

  counts->frames++;
  if (gst_buffer_is_writable (buffer) && gst_buffer_map (buffer, &map, GST_MAP_READWRITE)) {
    for (gsize i = 0; i < map.size; i++)
      map.data[i] ^= 0x5a;
    gst_buffer_unmap (buffer, &map);
    counts->written_in_place++;
    return gst_sample_ref (frame);
  }
  /* Shared: a new buffer with the XORed bytes (it takes the frame's timestamps and flags). */
  GstBuffer *copy = gst_buffer_copy_deep (buffer);
  if (gst_buffer_map (copy, &map, GST_MAP_READWRITE)) {
    for (gsize i = 0; i < map.size; i++)
      map.data[i] ^= 0x5a;
    gst_buffer_unmap (copy, &map);
  }
  GstSample *result = gst_sample_new (copy, gst_sample_get_caps (frame), NULL, NULL);
  gst_buffer_unref (copy);
  return result;
}

static GstSample *
invert_frame (GstElement * element, GstSample * frame, gpointer user_data)
{
  Counts *counts = user_data;
  GstBuffer *buffer = gst_sample_get_buffer (frame);
  const GstStructure *info = gst_sample_get_info (frame);
  GstMapInfo map;

  counts->frames++;
  if (!gst_structure_has_name (info, "video-frame")
      || g_strcmp0 (gst_structure_get_string (info, "format"), "RGBA") != 0)
    return gst_sample_ref (frame);      /* pass on what this handler does not know */
  /* In place when nothing else holds the buffer; otherwise into a copy. */
  gboolean in_place = gst_buffer_is_writable (buffer);
  GstBuffer *target = in_place ? buffer : gst_buffer_copy_deep (buffer);
  if (gst_buffer_map (target, &map, GST_MAP_READWRITE)) {
    for (gsize i = 0; i < map.size; i++)
      if (i % 4 != 3)
        map.data[i] = 255 - map.data[i];
    gst_buffer_unmap (target, &map);
  }
  if (in_place) {
    counts->written_in_place++;
    return gst_sample_ref (frame);
  }
  GstSample *result = gst_sample_new (target, gst_sample_get_caps (frame), NULL, NULL);
  gst_buffer_unref (target);
  return result;
}

/* Plays `description` to EOS; returns the buffers of appsink "out" as a checksum list. */
static GPtrArray *
run (const gchar * description, GCallback handler, Counts * counts)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);
  if (!pipeline) {
    fprintf (stderr, "parse error: %s\n", error->message);
    return NULL;
  }
  const gchar *names[] = { "send", "receive", "processor" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    GstElement *element = gst_bin_get_by_name (GST_BIN (pipeline), names[i]);
    if (element) {
      g_signal_connect (element, "transform-frame", handler, counts);
      gst_object_unref (element);
    }
  }
  GPtrArray *frames = g_ptr_array_new_with_free_func (g_free);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstSample *sample;
  while ((sample = NULL, g_signal_emit_by_name (sink, "try-pull-sample", 10 * GST_SECOND, &sample), sample)) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstMapInfo map;
    gst_buffer_map (buffer, &map, GST_MAP_READ);
    g_ptr_array_add (frames, g_memdup2 (map.data, map.size));
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }
  GstMessage *message = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline), 0, GST_MESSAGE_ERROR);
  if (message) {
    gst_message_parse_error (message, &error, NULL);
    fprintf (stderr, "error: %s\n", error->message);
    gst_message_unref (message);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return frames;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  int failures = 0;

  /* 1. Encoded: XOR on the send side, XOR again on the receive side. */
  const gchar *encoded =
      "videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! "
      "vp8enc deadline=1 ! rtpscripttransform name=send side=send worker=app ! "
      "rtpscripttransform name=receive side=receive worker=app ! vp8dec ! videoconvert ! "
      "video/x-raw,format=I420 ! appsink name=out sync=false";
  const gchar *plain =
      "videotestsrc num-buffers=30 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1 ! "
      "vp8enc deadline=1 ! vp8dec ! videoconvert ! video/x-raw,format=I420 ! appsink name=out sync=false";
  Counts xor_counts = { 0, 0 }, none = { 0, 0 };
  GPtrArray *with_xor = run (encoded, G_CALLBACK (xor_frame), &xor_counts);
  GPtrArray *without = run (plain, G_CALLBACK (xor_frame), &none);
  gsize frame_size = 160 * 120 * 3 / 2;
  gboolean same = with_xor && without && with_xor->len == without->len && with_xor->len == 30;
  for (guint i = 0; same && i < with_xor->len; i++)
    same = memcmp (g_ptr_array_index (with_xor, i), g_ptr_array_index (without, i), frame_size) == 0;
  printf ("encoded: %u frames through 2 handlers, %u written in place, decoded %u, pictures %s\n",
      xor_counts.frames, xor_counts.written_in_place, with_xor ? with_xor->len : 0, same ? "identical" : "DIFFERENT");
  failures += !(same && xor_counts.frames == 60);

  /* 2. Raw: invert RGBA in place on trackprocessor. */
  const gchar *raw =
      "videotestsrc num-buffers=10 ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! "
      "trackprocessor name=processor worker=app pipe-to=gen max-buffer-size=16 sync=false "
      "trackgenerator name=gen ! appsink name=out sync=false";
  const gchar *reference =
      "videotestsrc num-buffers=10 ! video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! appsink name=out sync=false";
  Counts invert_counts = { 0, 0 };
  GPtrArray *inverted = run (raw, G_CALLBACK (invert_frame), &invert_counts);
  GPtrArray *original = run (reference, G_CALLBACK (invert_frame), &none);
  gboolean exact = inverted && original && inverted->len == 10 && original->len == 10;
  for (guint i = 0; exact && i < 10; i++) {
    const guint8 *a = g_ptr_array_index (inverted, i), *b = g_ptr_array_index (original, i);
    for (gsize j = 0; exact && j < 64 * 48 * 4; j++)
      exact = j % 4 == 3 ? a[j] == b[j] : a[j] == 255 - b[j];
  }
  printf ("raw: %u frames, %u written in place (the others were still shared: copied), output %s\n",
      invert_counts.frames, invert_counts.written_in_place, exact ? "is 255 - input" : "WRONG");
  failures += !(exact && invert_counts.frames == 10);

  if (with_xor) g_ptr_array_unref (with_xor);
  if (without) g_ptr_array_unref (without);
  if (inverted) g_ptr_array_unref (inverted);
  if (original) g_ptr_array_unref (original);
  printf ("c-app: %s\n", failures ? "FAILED" : "passed");
  gst_deinit ();                /* the leaks tracer (GST_TRACERS=leaks) reports here */
  return failures ? 1 : 0;
}
