/* fuzz_set.c - libFuzzer target: --set strings on a shipped scenario. The first byte
 * picks the scenario among the shipped ones, the rest is up to 8 --set options split at
 * newlines ("key.path=value", the value a YAML scalar or flow collection). */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_common.h"
#include "lab/output.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static glob_t files;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char pattern[4096];
    snprintf(pattern, sizeof(pattern), "%s/scenarios/*.yaml", lab_source_root());
    if (glob(pattern, 0, NULL, &files) != 0 || files.gl_pathc == 0) {
        fprintf(stderr, "fuzz-set: no scenarios match %s\n", pattern);
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *path = files.gl_pathv[data[0] % files.gl_pathc];
    char *text = malloc(size);
    if (!text)
        abort();
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0; /* an option is a C string: it ends at a NUL */
    const char *sets[8];
    size_t n = 0;
    for (char *p = text; n < 8 && *p;) {
        sets[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    struct lab_load_opts o = {.sets = sets, .nsets = n};
    fuzz_load(path, &o);
    free(text);
    return 0;
}
