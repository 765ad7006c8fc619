/* seed_table.c - see seed_table.h. */
#include "seed_table.h"

#include <criterion/criterion.h>

const char *const seed_before[3] = {"A b d E", "a C D", "B d e"};
const char *const seed_after[3] = {"", "a b C D E", "A B c d e"};
const char *const correct_after[3] = {"", "A b C D e", "a B c d E"};

struct pl_map *seed_map(const char *const *rows)
{
    struct pl_map *m = pl_create(5, 3, 1, PL_TABLE, 0, 100);
    cr_assert_not_null(m);
    char why[128] = "";
    cr_assert_eq(pl_parse_rows(m, rows, 3, why, sizeof(why)), 0, "%s", why);
    return m;
}

void assert_rows(const struct pl_map *m, const char *const *rows)
{
    char buf[64];
    for (int n = 0; n < pl_nodes(m); n++) {
        pl_format_row(m, n, buf, sizeof(buf));
        cr_assert_str_eq(buf, rows[n], "node %d: '%s', want '%s'", n + 1, buf, rows[n]);
    }
}
