/* Modules for the loader's bad-input tests, one per -D flag (scripts/build-modules.sh):
 *   -DTWICE       a raw transform `c-twice` that enqueues its frame twice and reports the
 *                 plugin's refusal of the second enqueue as its error
 *   -DBAD_ABI     a module that says it was built for ABI version 99
 *   -DNO_ENTRY    a shared library without the entry point
 *   -DBAD_TABLE   a module whose transforms are malformed (no create; a bad name; a name taken)
 */
#include <stdio.h>
#include <stdlib.h>
#include "insertable_streams_module.h"

#ifndef NO_ENTRY
static void *create (const ISMTransform * t, const ISMArgument * a, uint32_t n, char *e, size_t s) { return malloc (1); }
static void destroy (void *instance) { free (instance); }

static int32_t
twice (void *instance, ISMFrame * frame, ISMController * c, char *error, size_t size)
{
  c->host->enqueue (c, frame);
  if (c->host->enqueue (c, frame) != 0) {
    snprintf (error, size, "c-twice: second enqueue refused: %s", c->host->last_error (c));
    return -1;
  }
  return 0;
}

static const ISMTransform transforms[] = {
#ifdef BAD_TABLE
  { .name = "c-nocreate", .summary = "no create", .frames = ISM_FRAMES_RAW, .raw_kinds = 1, .destroy = destroy, .transform = twice },
  { .name = "bad name!", .summary = "bad name", .frames = ISM_FRAMES_RAW, .raw_kinds = 1, .create = create, .destroy = destroy, .transform = twice },
  { .name = "mirror", .summary = "taken", .frames = ISM_FRAMES_RAW, .raw_kinds = 1, .create = create, .destroy = destroy, .transform = twice },
  { .name = "c-badformat", .summary = "format", .frames = ISM_FRAMES_RAW, .formats = "YUY9", .raw_kinds = 1, .create = create, .destroy = destroy, .transform = twice },
#else
  { .name = "c-twice", .summary = "Enqueues every frame twice (refused)", .frames = ISM_FRAMES_RAW, .raw_kinds = 1,
    .create = create, .destroy = destroy, .transform = twice },
#endif
};

static const ISMModule module = {
#ifdef BAD_ABI
  .abi_version = 99,
#else
  .abi_version = ISM_ABI_VERSION,
#endif
  .name = "test-module",
  .n_transforms = sizeof transforms / sizeof transforms[0],
  .transforms = transforms,
};

__attribute__ ((visibility ("default")))
const ISMModule *insertable_streams_module (const ISMHost * host) { return &module; }
#else
__attribute__ ((visibility ("default"))) int not_a_module = 1;
#endif
