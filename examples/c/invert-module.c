/* invert-module.c: a transform module written in C. It adds the transform `c-invert` (inverts the
 * colours of packed RGB video, alpha kept) to the worker chains of the insertablestreams plugin:
 *
 *   cc -shared -fPIC -O2 -I Sources/CTransformModule examples/c/invert-module.c -o libinvert-module.so
 *   GST_INSERTABLE_STREAMS_MODULE_PATH=$PWD gst-launch-1.0 videotestsrc ! video/x-raw,format=RGBA ! \
 *       trackprocessor worker="c-invert ! mirror" pipe-to=out  trackgenerator name=out ! videoconvert ! autovideosink
 *
 * The whole ABI is Sources/CTransformModule/insertable_streams_module.h: export one function,
 * insertable_streams_module, returning the module's description. Build with
 * -fvisibility=hidden to export nothing else (the entry point is marked visible below).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "insertable_streams_module.h"

typedef struct {
  unsigned long frames;
} Invert;

static void *
invert_create (const ISMTransform * transform, const ISMArgument * arguments, uint32_t n_arguments,
    char *error, size_t error_size)
{
  Invert *self = calloc (1, sizeof (Invert));
  if (!self)
    snprintf (error, error_size, "c-invert: out of memory");
  return self;
}

static void
invert_destroy (void *instance)
{
  free (instance);
}

static int32_t
invert_transform (void *instance, ISMFrame * frame, ISMController * controller, char *error,
    size_t error_size)
{
  Invert *self = instance;
  const ISMPlane *plane = &frame->planes[0];
  /* Alpha (or X) is the 4th byte of RGBA/RGBX and BGRA/BGRX alike. */
  for (int32_t y = 0; y < plane->rows; y++) {
    uint8_t *row = plane->data + (size_t) y * plane->stride;
    for (int32_t x = 0; x < plane->row_bytes; x += 4) {
      row[x] = 255 - row[x];
      row[x + 1] = 255 - row[x + 1];
      row[x + 2] = 255 - row[x + 2];
    }
  }
  self->frames++;
  if (controller->host->enqueue (controller, frame) != 0) {
    snprintf (error, error_size, "c-invert: %s", controller->host->last_error (controller));
    return -1;
  }
  return 0;
}

static const ISMTransform transforms[] = {
  {
    .name = "c-invert",
    .summary = "Inverts the colours of packed RGB video (a module written in C)",
    .frames = ISM_FRAMES_RAW,
    .formats = "RGBA,RGBX,BGRA,BGRX",
    .raw_kinds = 1,
    .create = invert_create,
    .destroy = invert_destroy,
    .transform = invert_transform,
  },
};

static const ISMModule module = {
  .abi_version = ISM_ABI_VERSION,
  .name = "invert-module",
  .version = "1.0",
  .n_transforms = sizeof transforms / sizeof transforms[0],
  .transforms = transforms,
};

__attribute__ ((visibility ("default")))
const ISMModule *
insertable_streams_module (const ISMHost * host)
{
  return host->abi_version == ISM_ABI_VERSION ? &module : NULL;
}
