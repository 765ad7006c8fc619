/* node.h - a YAML document as a small read-only tree that remembers where each node
 * was written (file:line:col, or the --set option it came from), so every error about
 * a scenario can point at its source. libfyaml does the parsing; this never guesses at
 * YAML itself. Also: the arena every loaded scenario lives in. */
#ifndef DISTLAB_LAB_NODE_H
#define DISTLAB_LAB_NODE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "lab/err.h" /* struct lab_err: errors point at nodes */

/* ---- Arena: everything a scenario allocates, freed at once ------------------------ */

struct lab_arena {
    struct lab_arena_block *head;
};

/* Zeroed memory that lives until lab_arena_free. Out of memory aborts the program with
 * a message (the lab is a command-line tool; nothing sensible can follow). */
void *lab_arena_alloc(struct lab_arena *a, size_t n);
char *lab_arena_strdup(struct lab_arena *a, const char *s);
char *lab_arena_strndup(struct lab_arena *a, const char *s, size_t n);
char *lab_arena_printf(struct lab_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lab_arena_free(struct lab_arena *a);

/* malloc/realloc that abort with a message when memory runs out. */
void *lab_xmalloc(size_t n);
void *lab_xrealloc(void *p, size_t n);
char *lab_xstrdup(const char *s);
char *lab_xvprintf(const char *fmt, va_list ap); /* malloc'd, like vasprintf */

/* ---- The tree --------------------------------------------------------------------- */

enum lab_node_kind { LAB_NODE_SCALAR, LAB_NODE_SEQ, LAB_NODE_MAP };

struct lab_node {
    enum lab_node_kind kind;
    size_t weight;     /* bytes of lab_node_text's result, aliases written out: never
                        * above LAB_NODE_MAX_WEIGHT in a parsed tree */
    bool plain;        /* a scalar written without quotes */
    bool null;         /* a plain scalar that is empty, "~" or "null" */
    const char *text;  /* scalar text, NUL-terminated ("" for collections) */
    size_t n;          /* items of a sequence, pairs of a map */
    struct lab_node **items; /* sequence items, or map values */
    struct lab_node **keys;  /* map keys (scalars), parallel to items */
    const char *origin;      /* the file name, or the option ("--set a.b=c") */
    int line, col;           /* 1-based; 0 when the origin is an option */
};

/* What a scenario may be: a file of at most LAB_NODE_MAX_FILE bytes, whose values written
 * out with every alias expanded (lab_node_text) take at most LAB_NODE_MAX_WEIGHT bytes in
 * all, so that no input makes the loader's time or memory run away ("billion laughs"). */
#define LAB_NODE_MAX_FILE (4u << 20)
#define LAB_NODE_MAX_WEIGHT (1u << 20)

/* Parse a file (one YAML document) into a tree in arena a. The file is read to its end
 * first, so a pipe, a FIFO or /dev/stdin serve as well as a regular file. Returns the
 * root, or NULL with err set (a syntax error at file:line:col, an unreadable file, an
 * empty file, a file over LAB_NODE_MAX_FILE, a NUL byte (text has none), a duplicate
 * key, a key that is not a scalar, an alias to the node that contains it, a document
 * that grows past LAB_NODE_MAX_WEIGHT when its aliases are written out). */
struct lab_node *lab_node_parse_file(struct lab_arena *a, const char *path, struct lab_err *err);
/* Parse the text of a file read elsewhere (a scenario a partial result carries): like
 * lab_node_parse_file, places are 'file':line:col. */
struct lab_node *lab_node_parse_text(struct lab_arena *a, const char *text, const char *file,
                                     struct lab_err *err);
/* Parse text (a --set value) whose nodes all report 'origin' as their place. */
struct lab_node *lab_node_parse_string(struct lab_arena *a, const char *text,
                                       const char *origin, struct lab_err *err);

/* The value under 'key' in a map (NULL if absent or 'map' is not a map); *keyp gets the
 * key node when keyp is not NULL. O(n). */
struct lab_node *lab_node_get(const struct lab_node *map, const char *key,
                              struct lab_node **keyp);

/* A copy of tree 'root' in which the value at path comp[0..ncomp-1] (map keys) is
 * 'value'; maps missing along the path are created, reporting 'where' as their place.
 * Only the maps along the path are copied: the rest is shared with 'root'. Returns the
 * new root, or NULL with err set when a component names something that is not a map. */
struct lab_node *lab_node_with(struct lab_arena *a, struct lab_node *root,
                               const char *const *comp, size_t ncomp, struct lab_node *value,
                               const struct lab_node *where, struct lab_err *err);

/* A scalar node with 'text' placed at 'where' (its origin, line and column). */
struct lab_node *lab_node_scalar(struct lab_arena *a, const char *text,
                                 const struct lab_node *where);

/* The node as YAML flow text ("[1, 2]", "5s"), for labels and messages: n->weight bytes.
 * O(n->weight); a tree has no cycles (the parser refuses them). */
char *lab_node_text(struct lab_arena *a, const struct lab_node *n);

/* ---- Checks on maps read from a file (scenarios, the claims file) ----------------- */

bool lab_in_list(const char *const *list, const char *s); /* list: NULL-terminated */
char *lab_join(struct lab_arena *a, const char *const *list); /* "a, b, c", in the arena */
/* Every key of map m must be in 'allowed'; 'what' names the map in the message ("" for
 * the top level). Returns 0, or -EINVAL with err set at the first unknown key. */
int lab_node_check_keys(struct lab_arena *a, struct lab_err *err, const struct lab_node *m,
                        const char *const *allowed, const char *what);
/* n must be a map / a single non-null value; -EINVAL with err set at n otherwise. */
int lab_node_want_map(struct lab_err *err, const struct lab_node *n, const char *what);
int lab_node_want_scalar(struct lab_err *err, const struct lab_node *n, const char *what);

#endif
