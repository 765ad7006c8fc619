/* fuzz_common.h - what the libFuzzer targets share: a scenario loaded from bytes, and
 * the checks a loaded scenario must pass (every label, key and where of every run can be
 * asked for, and the check pass of its first sweep point runs), so that the fuzzer finds
 * crashes, hangs and runaway memory behind the loader as well as in it. */
#ifndef DISTLAB_FUZZ_COMMON_H
#define DISTLAB_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "lab/scenario.h"

/* The bytes as a file (a memfd: no disk) at a path the loader can open; close with
 * fuzz_file_close. Returns the path (static storage) or NULL. */
const char *fuzz_file(const uint8_t *data, size_t size);
void fuzz_file_close(void);

/* Load path with opts, then exercise what was loaded (see above). */
void fuzz_load(const char *path, const struct lab_load_opts *opts);

#endif
