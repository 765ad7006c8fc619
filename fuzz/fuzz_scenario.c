/* fuzz_scenario.c - libFuzzer target: any bytes as a scenario file (seeded with the
 * shipped scenarios, the dictionary from make_dict). The loader must refuse what it
 * cannot read with a message, never crash, hang or run out of memory. The first byte's
 * low bit picks the world (the shipped files start with 'n': sim). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lab_load_opts o = {.world = size && (data[0] & 1) ? LAB_WORLD_LIVE : LAB_WORLD_SIM};
    fuzz_load(fuzz_file(data, size), &o);
    fuzz_file_close();
    return 0;
}
