/* fuzz_id.c - libFuzzer target: `distlab id ARGS...`, the arguments split at NUL bytes
 * ("decode\0--unit\01s\09223372036854775807"). It must exit 0 or 2, never crash, and a
 * status other than those is a finding. Run with -close_fd_mask=3: it prints. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab/cli.h"
#include "lab/idgen/cmd_id.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;
    char *argv[34] = {"id"};
    int argc = 1;
    for (char *p = text; argc < 33 && p < text + size; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;
    int rc = lab_cmd_id(argc, argv);
    free(text);
    if (rc != LAB_EXIT_OK && rc != LAB_EXIT_INPUT)
        abort();
    return 0;
}
