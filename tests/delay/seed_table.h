/* The seed's five tasks on three nodes, as the tests of placement and cluster use them. */
#ifndef DISTLAB_TESTS_SEED_TABLE_H
#define DISTLAB_TESTS_SEED_TABLE_H

#include "delay/placement.h"

/* The seed's rows, nodes 1-3 as rows 0-2: before node 1 fails, and after (its drawing). */
extern const char *const seed_before[3];
extern const char *const seed_after[3];
/* What a correct rebalancing gives: the seed's after-table with A/a and E/e swapped. */
extern const char *const correct_after[3];

/* A table-policy map of 5 tasks (100 bytes each) on 3 nodes, R = 1, from rows. */
struct pl_map *seed_map(const char *const *rows);

/* Assert that m's rows read 'rows', node by node. */
void assert_rows(const struct pl_map *m, const char *const *rows);

#endif
