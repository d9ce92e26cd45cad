/* module-overhead.c: a transform module's transform against the same transform built in, as
 * ratios from interleaved rounds of one run (benchmarks/run-module-overhead.sh builds the plugin
 * and the modules, runs this and writes benchmarks/module-overhead.json; BENCHMARKS.md quotes it).
 * The harness of app-overhead.c, generalised to lists of variants (`worker` values).
 *
 *   module-overhead [-r ROUNDS] [-o OPUS_FRAMES] [-v VIDEO_FRAMES] [-p MODULE/BUILTIN]... [CASE=W1,W2,...]...
 *
 * CASE is `encoded-opus` or `raw-1080p-FORMAT` (a raw video format: i420, rgba, nv12, ...); W1,W2,...
 * the `worker` values to time in it. Without CASE arguments:
 *
 *   raw-1080p-i420=identity,mirror,swiftmirror raw-1080p-rgba=identity,mirror,swiftmirror
 *   encoded-opus=identity,passthrough,negate,swiftnegate
 *
 * -p names a pair to report as a ratio, module over built in (default: -p swiftmirror/mirror
 * -p passthrough/identity -p swiftnegate/negate); a pair is reported in every case that has both
 * variants.
 *
 *   encoded: filesrc (Ogg/Opus, 20 ms frames, ~160 bytes) ! oggdemux ! rtpscripttransform worker=W ! fakesink
 *   raw:     videotestsrc pattern=black 1920x1080 FORMAT ! trackprocessor worker=W pipe-to=g sync=false
 *            max-buffer-size=1024 ... trackgenerator name=g ! fakesink
 *
 * Before timing, each case checks that the variants do the work: every variant's output (SHA-256 of
 * the bytes reaching fakesink; raw: 2 frames of pattern=smpte) is compared with the source's and,
 * for raw video, with `videoflip video-direction=horiz`'s (GStreamer 1.22 ignores `method`); the two variants of a pair must give
 * the same bytes, a variant named identity/passthrough the source's, mirror/swiftmirror videoflip's,
 * negate/swiftnegate not the source's.
 * These runs also warm the process up (modules loaded, 1080p buffers allocated and freed once).
 *
 * Timed: in each round every variant runs once, the order rotating from round to round; wall time
 * and process CPU time from PLAYING to EOS, divided by the frames that reached fakesink (every
 * frame must: raw runs that drop frames fail), and the process's context switches (voluntary and
 * involuntary, getrusage) per frame. Prints one JSON object per line:
 *   {"check": ...}  per case and variant
 *   {"case", "variant", "round", "order", "frames", "wall_us_per_frame", "cpu_us_per_frame", "switches_per_frame"}
 *   {"summary": CASE, ...}  medians [min, max] per variant, and per pair the per-round ratios
 *     module/built-in and differences module - built-in (median, min, max), and for raw cases with
 *     identity the ratio of the work above identity: (module - identity) / (built-in - identity).
 */
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#define MAX_VARIANTS 8
#define MAX_ROUNDS 100
#define MAX_CASES 8
#define MAX_PAIRS 8

typedef struct {
  guint64 frames;
  GChecksum *sum;
} Sink;

static void
on_buffer (GstElement * sink, GstBuffer * buffer, GstPad * pad, gpointer user_data)
{
  Sink *state = user_data;
  state->frames++;
  if (state->sum) {
    GstMapInfo map;
    if (gst_buffer_map (buffer, &map, GST_MAP_READ)) {
      g_checksum_update (state->sum, map.data, map.size);
      gst_buffer_unmap (buffer, &map);
    }
  }
}

static double
now_us (clockid_t clock)
{
  struct timespec t;
  clock_gettime (clock, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* Plays `description` to EOS. Counts (and, with `sum`, hashes) what reaches the element named sink. */
/* Context switches of the whole process so far (voluntary + involuntary, every thread). */
static double
switches (void)
{
  struct rusage usage;
  getrusage (RUSAGE_SELF, &usage);
  return (double) usage.ru_nvcsw + usage.ru_nivcsw;
}

static double last_switches;    /* of the last run(), from PLAYING to EOS */

static int
run (const gchar * description, GChecksum * sum, guint64 * frames, double *wall, double *cpu)
{
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (description, &error);
  if (!pipeline || error) {
    fprintf (stderr, "%s: %s\n", description, error ? error->message : "could not be made");
    if (pipeline)
      gst_object_unref (pipeline);
    g_clear_error (&error);
    return 1;
  }
  Sink state = { 0, sum };
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (sink) {                   /* the Opus encoder's pipeline has none */
    g_object_set (sink, "signal-handoffs", TRUE, NULL);
    g_signal_connect (sink, "handoff", G_CALLBACK (on_buffer), &state);
  }
  gst_element_set_state (pipeline, GST_STATE_PAUSED);
  gst_element_get_state (pipeline, NULL, NULL, GST_CLOCK_TIME_NONE);
  double wall0 = now_us (CLOCK_MONOTONIC), cpu0 = now_us (CLOCK_PROCESS_CPUTIME_ID), switches0 = switches ();
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  GstMessage *message = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline), 300 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  *wall = now_us (CLOCK_MONOTONIC) - wall0;
  *cpu = now_us (CLOCK_PROCESS_CPUTIME_ID) - cpu0;
  last_switches = switches () - switches0;
  int failed = !message || GST_MESSAGE_TYPE (message) != GST_MESSAGE_EOS;
  if (failed) {
    gchar *debug = NULL;
    GError *reason = NULL;
    if (message && GST_MESSAGE_TYPE (message) == GST_MESSAGE_ERROR)
      gst_message_parse_error (message, &reason, &debug);
    fprintf (stderr, "did not reach EOS: %s\n  %s\n", description, reason ? reason->message : "(time-out)");
    g_clear_error (&reason);
    g_free (debug);
  }
  if (message)
    gst_message_unref (message);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (sink)
    gst_object_unref (sink);
  gst_object_unref (pipeline);
  *frames = state.frames;
  return failed;
}

static int
compare (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

typedef struct {
  double median, min, max;
} Spread;

static Spread
spread (const double *values, int count)
{
  double sorted[MAX_ROUNDS];
  memcpy (sorted, values, count * sizeof (double));
  qsort (sorted, count, sizeof (double), compare);
  Spread s = { count % 2 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2, sorted[0],
    sorted[count - 1]
  };
  return s;
}

static void
print_spread (const char *key, Spread s, const char *after)
{
  printf ("\"%s\": {\"median\": %.4f, \"min\": %.4f, \"max\": %.4f}%s", key, s.median, s.min, s.max, after);
}

typedef struct {
  gchar *name;                  /* encoded-opus, raw-1080p-i420, ... */
  gchar *format;                /* raw: I420, RGBA, ...; NULL for encoded */
  int n;
  gchar *variants[MAX_VARIANTS];
} Case;

typedef struct {
  gchar *module, *builtin;
} Pair;

static gchar *
describe (const Case * c, const char *worker, const char *ogg, const char *pattern, int frames)
{
  if (!c->format)
    return g_strdup_printf ("filesrc location=%s ! oggdemux ! %s%s%s fakesink name=sink sync=false", ogg,
        worker ? "rtpscripttransform name=x side=send worker=" : "", worker ? worker : "", worker ? " !" : "");
  gchar *source = g_strdup_printf ("videotestsrc pattern=%s num-buffers=%d ! "
      "video/x-raw,format=%s,width=1920,height=1080,framerate=30/1", pattern, frames, c->format);
  gchar *description;
  if (!worker)                  /* the source as it is */
    description = g_strdup_printf ("%s ! fakesink name=sink sync=false", source);
  else if (strcmp (worker, "(videoflip)") == 0)
    description = g_strdup_printf ("%s ! videoflip video-direction=horiz ! fakesink name=sink sync=false", source);
  else
    description = g_strdup_printf ("%s ! trackprocessor name=x worker=%s pipe-to=g sync=false max-buffer-size=1024 "
        "trackgenerator name=g ! fakesink name=sink sync=false", source, worker);
  g_free (source);
  return description;
}

/* The SHA-256 of what reaches fakesink (NULL when the run failed). */
static gchar *
digest (const gchar * description, guint64 * frames)
{
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  double wall, cpu;
  int failed = run (description, sum, frames, &wall, &cpu);
  gchar *text = failed ? NULL : g_strdup (g_checksum_get_string (sum));
  g_checksum_free (sum);
  return text;
}

static int
find (const Case * c, const char *variant)
{
  for (int v = 0; v < c->n; v++)
    if (strcmp (c->variants[v], variant) == 0)
      return v;
  return -1;
}

static gboolean
same (const gchar * a, const gchar * b)
{
  return a && b && strcmp (a, b) == 0;
}

/* Checks the variants' output; prints one line per variant. Returns the number of failures. */
static int
check (const Case * c, const char *ogg, const Pair * pairs, int n_pairs, guint64 * expected_frames)
{
  int failures = 0;
  guint64 frames = 0, flipped_frames = 0;
  gchar *description = describe (c, NULL, ogg, "smpte", 2);
  gchar *source = digest (description, &frames);
  g_free (description);
  gchar *flipped = NULL;
  if (c->format) {
    description = describe (c, "(videoflip)", ogg, "smpte", 2);
    flipped = digest (description, &flipped_frames);
    g_free (description);
  }
  if (!source || (c->format && !flipped))
    failures++, fprintf (stderr, "%s: the reference pipelines failed\n", c->name);
  *expected_frames = c->format ? 0 : frames;    /* raw: the timed runs' num-buffers */
  gchar *digests[MAX_VARIANTS];
  for (int v = 0; v < c->n; v++) {
    guint64 count = 0;
    description = describe (c, c->variants[v], ogg, "smpte", 2);
    digests[v] = digest (description, &count);
    g_free (description);
    const char *name = c->variants[v];
    gboolean want_source = strcmp (name, "identity") == 0 || strcmp (name, "passthrough") == 0;
    gboolean want_flip = c->format && (strcmp (name, "mirror") == 0 || strcmp (name, "swiftmirror") == 0);
    gboolean want_changed = strcmp (name, "negate") == 0 || strcmp (name, "swiftnegate") == 0;
    gboolean ok = digests[v] && count == frames && (!want_source || same (digests[v], source))
        && (!want_flip || (same (digests[v], flipped) && !same (digests[v], source)))
        && (!want_changed || !same (digests[v], source));
    if (!ok)
      failures++;
    printf ("{\"check\": \"%s\", \"variant\": \"%s\", \"frames\": %" G_GUINT64_FORMAT ", \"source_frames\": %"
        G_GUINT64_FORMAT ", \"sha256\": \"%s\", \"equals_source\": %s, \"equals_videoflip\": %s, \"expected\": \"%s\", "
        "\"ok\": %s}\n", c->name, name, count, frames, digests[v] ? digests[v] : "", same (digests[v], source) ? "true" : "false",
        c->format ? (same (digests[v], flipped) ? "true" : "false") : "null",
        want_source ? "source" : want_flip ? "videoflip" : want_changed ? "not the source" : "-", ok ? "true" : "false");
  }
  for (int p = 0; p < n_pairs; p++) {
    int m = find (c, pairs[p].module), b = find (c, pairs[p].builtin);
    if (m >= 0 && b >= 0 && !same (digests[m], digests[b])) {
      failures++;
      fprintf (stderr, "%s: %s and %s give different bytes\n", c->name, pairs[p].module, pairs[p].builtin);
    }
  }
  for (int v = 0; v < c->n; v++)
    g_free (digests[v]);
  g_free (source);
  g_free (flipped);
  fflush (stdout);
  return failures;
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  int rounds = 7, audio_frames = 20000, video_frames = 600, option;
  Pair pairs[MAX_PAIRS];
  int n_pairs = 0;
  while ((option = getopt (argc, argv, "r:o:v:p:")) != -1) {
    switch (option) {
      case 'r':
        rounds = atoi (optarg);
        break;
      case 'o':
        audio_frames = atoi (optarg);
        break;
      case 'v':
        video_frames = atoi (optarg);
        break;
      case 'p':{
        gchar **parts = g_strsplit (optarg, "/", 2);
        if (!parts[0] || !parts[1] || n_pairs == MAX_PAIRS) {
          fprintf (stderr, "-p wants MODULE/BUILTIN, at most %d of them\n", MAX_PAIRS);
          return 2;
        }
        pairs[n_pairs++] = (Pair) { g_strdup (parts[0]), g_strdup (parts[1]) };
        g_strfreev (parts);
        break;
      }
      default:
        fprintf (stderr, "usage: %s [-r ROUNDS] [-o OPUS_FRAMES] [-v VIDEO_FRAMES] [-p MODULE/BUILTIN]... "
            "[CASE=WORKER,WORKER,...]...\n", argv[0]);
        return 2;
    }
  }
  if (rounds < 1 || rounds > MAX_ROUNDS || audio_frames < 1 || video_frames < 1) {
    fprintf (stderr, "rounds 1-%d, frames at least 1\n", MAX_ROUNDS);
    return 2;
  }
  if (n_pairs == 0) {
    pairs[n_pairs++] = (Pair) { g_strdup ("swiftmirror"), g_strdup ("mirror") };
    pairs[n_pairs++] = (Pair) { g_strdup ("passthrough"), g_strdup ("identity") };
    pairs[n_pairs++] = (Pair) { g_strdup ("swiftnegate"), g_strdup ("negate") };
  }
  const char *defaults[] = { "raw-1080p-i420=identity,mirror,swiftmirror", "raw-1080p-rgba=identity,mirror,swiftmirror",
    "encoded-opus=identity,passthrough,negate,swiftnegate"
  };
  const char **specs = (const char **) argv + optind;
  int n_specs = argc - optind;
  if (n_specs == 0)
    specs = defaults, n_specs = 3;
  if (n_specs > MAX_CASES) {
    fprintf (stderr, "at most %d cases\n", MAX_CASES);
    return 2;
  }
  Case cases[MAX_CASES];
  gboolean any_encoded = FALSE;
  for (int c = 0; c < n_specs; c++) {
    gchar **parts = g_strsplit (specs[c], "=", 2);
    gchar **variants = parts[1] ? g_strsplit (parts[1], ",", -1) : NULL;
    int n = variants ? g_strv_length (variants) : 0;
    gboolean encoded = strcmp (parts[0], "encoded-opus") == 0;
    if (n < 1 || n > MAX_VARIANTS || (!encoded && !g_str_has_prefix (parts[0], "raw-1080p-"))) {
      fprintf (stderr, "'%s': a case is encoded-opus=W,... or raw-1080p-FORMAT=W,... (1-%d workers)\n", specs[c],
          MAX_VARIANTS);
      return 2;
    }
    cases[c].name = g_strdup (parts[0]);
    cases[c].format = encoded ? NULL : g_ascii_strup (parts[0] + strlen ("raw-1080p-"), -1);
    cases[c].n = n;
    for (int v = 0; v < n; v++)
      cases[c].variants[v] = g_strdup (variants[v]);
    any_encoded |= encoded;
    g_strfreev (variants);
    g_strfreev (parts);
  }

  /* Encode the Opus streams once: the timed one and a short one for the checks. */
  gchar *ogg = g_build_filename (g_get_tmp_dir (), "module-overhead-opus.ogg", NULL);
  gchar *short_ogg = g_build_filename (g_get_tmp_dir (), "module-overhead-opus-short.ogg", NULL);
  for (int f = 0; any_encoded && f < 2; f++) {
    gchar *encode = g_strdup_printf ("audiotestsrc num-buffers=%d samplesperbuffer=960 ! "
        "audio/x-raw,rate=48000,channels=2 ! opusenc bitrate=64000 ! oggmux ! filesink location=%s",
        f ? 200 : audio_frames, f ? short_ogg : ogg);
    guint64 frames;
    double wall, cpu;
    if (run (encode, NULL, &frames, &wall, &cpu) != 0)
      return 1;
    g_free (encode);
  }

  int failures = 0;
  for (int c = 0; c < n_specs; c++) {
    Case *k = &cases[c];
    guint64 expected = 0;
    failures += check (k, short_ogg, pairs, n_pairs, &expected);
    if (k->format)
      expected = video_frames;
    else {                      /* the timed file's frame count, from the source as it is */
      gchar *description = describe (k, NULL, ogg, NULL, 0);
      double wall, cpu;
      failures += run (description, NULL, &expected, &wall, &cpu);
      g_free (description);
    }
    if (failures) {
      fprintf (stderr, "%s: the checks failed; not timed\n", k->name);
      break;
    }
    gchar *descriptions[MAX_VARIANTS];
    for (int v = 0; v < k->n; v++)
      descriptions[v] = describe (k, k->variants[v], ogg, "black", video_frames);
    static double wall[MAX_VARIANTS][MAX_ROUNDS], cpu[MAX_VARIANTS][MAX_ROUNDS], csw[MAX_VARIANTS][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
      for (int position = 0; position < k->n; position++) {
        int v = (position + r) % k->n;  /* rotate which variant runs first */
        guint64 frames = 0;
        double w = 0, u = 0;
        int failed = run (descriptions[v], NULL, &frames, &w, &u);
        if (!failed && frames != expected) {
          failed = 1;
          fprintf (stderr, "%s %s: %" G_GUINT64_FORMAT " frames reached fakesink, not %" G_GUINT64_FORMAT "\n",
              k->name, k->variants[v], frames, expected);
        }
        failures += failed;
        wall[v][r] = frames ? w / frames : 0;
        cpu[v][r] = frames ? u / frames : 0;
        csw[v][r] = frames ? last_switches / frames : 0;
        printf ("{\"case\": \"%s\", \"variant\": \"%s\", \"round\": %d, \"order\": %d, \"frames\": %" G_GUINT64_FORMAT
            ", \"wall_us_per_frame\": %.3f, \"cpu_us_per_frame\": %.3f, \"switches_per_frame\": %.4f}\n", k->name,
            k->variants[v], r, position, frames, wall[v][r], cpu[v][r], csw[v][r]);
        fflush (stdout);
      }
    }
    for (int v = 0; v < k->n; v++)
      g_free (descriptions[v]);

    printf ("{\"summary\": \"%s\", \"rounds\": %d, \"frames\": %" G_GUINT64_FORMAT ", \"variants\": {", k->name, rounds,
        expected);
    for (int v = 0; v < k->n; v++) {
      printf ("\"%s\": {", k->variants[v]);
      print_spread ("wall_us", spread (wall[v], rounds), ", ");
      print_spread ("cpu_us", spread (cpu[v], rounds), ", ");
      print_spread ("switches_per_frame", spread (csw[v], rounds), "}");
      printf ("%s", v + 1 < k->n ? ", " : "");
    }
    printf ("}, \"pairs\": [");
    int printed = 0, floor = find (k, "identity");
    for (int p = 0; p < n_pairs; p++) {
      int m = find (k, pairs[p].module), b = find (k, pairs[p].builtin);
      if (m < 0 || b < 0)
        continue;
      double ratio_wall[MAX_ROUNDS], ratio_cpu[MAX_ROUNDS], added_wall[MAX_ROUNDS], added_cpu[MAX_ROUNDS];
      double above_wall[MAX_ROUNDS], above_cpu[MAX_ROUNDS];
      for (int r = 0; r < rounds; r++) {
        ratio_wall[r] = wall[b][r] > 0 ? wall[m][r] / wall[b][r] : 0;
        ratio_cpu[r] = cpu[b][r] > 0 ? cpu[m][r] / cpu[b][r] : 0;
        added_wall[r] = wall[m][r] - wall[b][r];
        added_cpu[r] = cpu[m][r] - cpu[b][r];
        if (floor >= 0 && floor != b) {
          above_wall[r] = (wall[m][r] - wall[floor][r]) / (wall[b][r] - wall[floor][r]);
          above_cpu[r] = (cpu[m][r] - cpu[floor][r]) / (cpu[b][r] - cpu[floor][r]);
        }
      }
      printf ("%s{\"module\": \"%s\", \"builtin\": \"%s\", ", printed++ ? ", " : "", pairs[p].module, pairs[p].builtin);
      print_spread ("ratio_wall", spread (ratio_wall, rounds), ", ");
      print_spread ("ratio_cpu", spread (ratio_cpu, rounds), ", ");
      print_spread ("added_wall_us", spread (added_wall, rounds), ", ");
      print_spread ("added_cpu_us", spread (added_cpu, rounds), "");
      if (floor >= 0 && floor != b) {
        printf (", ");
        print_spread ("above_identity_ratio_wall", spread (above_wall, rounds), ", ");
        print_spread ("above_identity_ratio_cpu", spread (above_cpu, rounds), "");
      }
      printf ("}");
    }
    printf ("]}\n");
    fflush (stdout);
  }
  g_unlink (ogg);
  g_unlink (short_ogg);
  return failures ? 1 : 0;
}
