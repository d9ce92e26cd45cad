/* app-overhead.c: what the `app` transform's transform-frame signal costs per frame, with a C
 * handler that returns its input, against `worker=identity`, in interleaved rounds of the same
 * run (benchmarks/run-app-overhead.sh builds and runs it; the figures go into BENCHMARKS.md).
 *
 *   encoded: filesrc (Ogg/Opus, 20 ms frames, ~160 bytes) ! oggdemux ! rtpscripttransform worker=X ! fakesink
 *   raw:     videotestsrc pattern=black 1920x1080 I420 ! trackprocessor worker=X pipe-to=g sync=false
 *            max-buffer-size=1024 ... trackgenerator name=g ! fakesink
 *
 * For each round and variant: wall time and process CPU time of the whole run, divided by the
 * frames that reached fakesink. Prints one JSON object per line: {"case", "variant", "round",
 * "frames", "wall_us_per_frame", "cpu_us_per_frame"}, then a summary line per case with the
 * medians and the difference app - identity.
 */
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static GstSample *
pass_through (GstElement * element, GstSample * frame, gpointer user_data)
{
  (*(guint64 *) user_data)++;
  return gst_sample_ref (frame);
}

static void
count_buffer (GstElement * sink, GstBuffer * buffer, GstPad * pad, gpointer user_data)
{
  (*(guint64 *) user_data)++;
}

static double
now_us (clockid_t clock)
{
  struct timespec t;
  clock_gettime (clock, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int
run (const gchar * description, gboolean connect, guint64 * frames, double *wall, double *cpu)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);
  if (!pipeline) {
    fprintf (stderr, "%s: %s\n", description, error->message);
    return 1;
  }
  guint64 handled = 0;
  *frames = 0;
  GstElement *x = gst_bin_get_by_name (GST_BIN (pipeline), "x");
  if (connect)
    g_signal_connect (x, "transform-frame", G_CALLBACK (pass_through), &handled);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "signal-handoffs", TRUE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (count_buffer), frames);
  gst_element_set_state (pipeline, GST_STATE_PAUSED);
  gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE);
  double wall0 = now_us (CLOCK_MONOTONIC), cpu0 = now_us (CLOCK_PROCESS_CPUTIME_ID);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstMessage *message = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline), 300 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  *wall = now_us (CLOCK_MONOTONIC) - wall0;
  *cpu = now_us (CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  int failed = !message || GST_MESSAGE_TYPE (message) != GST_MESSAGE_EOS;
  if (failed)
    fprintf (stderr, "did not reach EOS: %s\n", description);
  if (connect && handled == 0)
    failed = 1, fprintf (stderr, "the handler never ran: %s\n", description);
  if (message)
    gst_message_unref (message);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (x);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  return failed;
}

static int
compare (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *values, int count)
{
  qsort (values, count, sizeof (double), compare);
  return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  int rounds = argc > 1 ? atoi (argv[1]) : 7;
  int audio_frames = argc > 2 ? atoi (argv[2]) : 30000;
  int video_frames = argc > 3 ? atoi (argv[3]) : 600;
  if (rounds < 1 || rounds > 100)
    rounds = 7;

  /* Encode the Opus stream once. */
  gchar *ogg = g_build_filename (g_get_tmp_dir (), "app-overhead-opus.ogg", NULL);
  gchar *encode = g_strdup_printf ("audiotestsrc num-buffers=%d samplesperbuffer=960 ! "
      "audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=64000 ! oggmux ! filesink location=%s", audio_frames, ogg);
  GstElement *encoder = gst_parse_launch (encode, NULL);
  gst_element_set_state (encoder, GST_STATE_PLAYING);
  GstMessage *done = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (encoder), 300 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (done)
    gst_message_unref (done);
  gst_element_set_state (encoder, GST_STATE_NULL);
  gst_object_unref (encoder);

  struct {
    const char *name;
    gchar *description[2];
  } cases[2];
  cases[0].name = "encoded-opus";
  for (int v = 0; v < 2; v++)
    cases[0].description[v] = g_strdup_printf ("filesrc location=%s ! oggdemux ! rtpscripttransform name=x side=send "
        "worker=%s ! fakesink name=sink sync=false", ogg, v ? "app" : "identity");
  cases[1].name = "raw-1080p-i420";
  for (int v = 0; v < 2; v++)
    cases[1].description[v] = g_strdup_printf ("videotestsrc pattern=black num-buffers=%d ! "
        "video/x-raw,format=I420,width=1920,height=1080,framerate=30/1 ! trackprocessor name=x worker=%s pipe-to=g "
        "sync=false max-buffer-size=1024 trackgenerator name=g ! fakesink name=sink sync=false", video_frames,
        v ? "app" : "identity");

  int failures = 0;
  for (int c = 0; c < 2; c++) {
    double wall[2][100], cpu[2][100];
    for (int r = 0; r < rounds; r++) {
      for (int v = 0; v < 2; v++) {
        int variant = (r % 2) ? 1 - v : v;      /* alternate which variant runs first */
        guint64 frames = 0;
        double w = 0, u = 0;
        failures += run (cases[c].description[variant], variant == 1, &frames, &w, &u);
        wall[variant][r] = frames ? w / frames : 0;
        cpu[variant][r] = frames ? u / frames : 0;
        printf ("{\"case\": \"%s\", \"variant\": \"%s\", \"round\": %d, \"frames\": %" G_GUINT64_FORMAT
            ", \"wall_us_per_frame\": %.3f, \"cpu_us_per_frame\": %.3f}\n", cases[c].name,
            variant ? "app" : "identity", r, frames, wall[variant][r], cpu[variant][r]);
        fflush (stdout);
      }
    }
    double identity_wall = median (wall[0], rounds), app_wall = median (wall[1], rounds);
    double identity_cpu = median (cpu[0], rounds), app_cpu = median (cpu[1], rounds);
    printf ("{\"summary\": \"%s\", \"rounds\": %d, \"identity_wall_us\": %.3f, \"app_wall_us\": %.3f, "
        "\"added_wall_us\": %.3f, \"identity_cpu_us\": %.3f, \"app_cpu_us\": %.3f, \"added_cpu_us\": %.3f}\n",
        cases[c].name, rounds, identity_wall, app_wall, app_wall - identity_wall, identity_cpu, app_cpu,
        app_cpu - identity_cpu);
  }
  g_unlink (ogg);
  return failures ? 1 : 0;
}
