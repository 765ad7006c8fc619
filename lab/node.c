/* node.c - YAML documents as located trees (node.h), built from libfyaml's event
 * stream so that every node keeps the line and column it was written at. */
#include "lab/node.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libfyaml.h>

/* ---- Arena ------------------------------------------------------------------------- */

struct lab_arena_block {
    struct lab_arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

static void out_of_memory(void)
{
    fputs("distlab: out of memory\n", stderr);
    abort();
}

void *lab_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory();
    return p;
}

void *lab_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory();
    return q;
}

char *lab_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(lab_xmalloc(n), s, n);
}

void *lab_arena_alloc(struct lab_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct lab_arena_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        b = calloc(1, sizeof(*b) + cap);
        if (!b)
            out_of_memory();
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *lab_arena_strndup(struct lab_arena *a, const char *s, size_t n)
{
    char *d = lab_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *lab_arena_strdup(struct lab_arena *a, const char *s)
{
    return lab_arena_strndup(a, s, strlen(s));
}

char *lab_xvprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        out_of_memory();
    return s;
}

char *lab_arena_printf(struct lab_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = lab_xvprintf(fmt, ap);
    va_end(ap);
    char *d = lab_arena_strdup(a, s);
    free(s);
    return d;
}

void lab_arena_free(struct lab_arena *a)
{
    while (a->head) {
        struct lab_arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
}

/* ---- Building the tree from events ------------------------------------------------ */

struct builder {
    struct lab_arena *a;
    const char *origin;
    bool option; /* the origin is an option: no line numbers */
    struct lab_err *err;
    struct lab_node *stack[256];
    size_t depth;
    size_t caps[256];
    struct lab_node *root;
    struct anchor {
        const char *name;
        struct lab_node *node;
    } *anchors;
    size_t nanchors;
};

static struct lab_node *new_node(struct builder *b, enum lab_node_kind kind,
                                 const struct fy_mark *m)
{
    struct lab_node *n = lab_arena_alloc(b->a, sizeof(*n));
    n->kind = kind;
    n->text = "";
    n->origin = b->origin;
    if (!b->option && m) {
        n->line = m->line + 1;
        n->col = m->column + 1;
    }
    return n;
}

static void grow(struct builder *b, struct lab_node *n, size_t *cap)
{
    if (n->n < *cap)
        return;
    size_t nc = *cap ? *cap * 2 : 8;
    struct lab_node **items = lab_arena_alloc(b->a, nc * sizeof(*items));
    if (n->n)
        memcpy(items, n->items, n->n * sizeof(*items));
    n->items = items;
    if (n->kind == LAB_NODE_MAP) {
        struct lab_node **keys = lab_arena_alloc(b->a, nc * sizeof(*keys));
        if (n->n)
            memcpy(keys, n->keys, n->n * sizeof(*keys));
        n->keys = keys;
    }
    *cap = nc;
}

/* a + b, saturating: weights only ever compare against LAB_NODE_MAX_WEIGHT. */
static size_t weight_add(size_t a, size_t b)
{
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/* What 'child' adds to its parent's flow text: itself, plus ", " before a sequence's item
 * or a map's key after the first, and ": " after a key. The brackets were counted when
 * the parent started. An error (at 'at') past LAB_NODE_MAX_WEIGHT. */
static int add_weight(struct builder *b, struct lab_node *parent, const struct lab_node *child,
                      bool is_key, const struct lab_node *at)
{
    size_t w = child->weight;
    if (parent->kind == LAB_NODE_SEQ || is_key)
        w = weight_add(w, parent->n > 0 ? 2 : 0);
    if (is_key)
        w = weight_add(w, 2);
    parent->weight = weight_add(parent->weight, w);
    if (parent->weight > LAB_NODE_MAX_WEIGHT)
        return lab_errf(b->err, at,
                        "this value makes the scenario larger than %u bytes when its aliases "
                        "are written out (an alias is a copy of what it names)",
                        LAB_NODE_MAX_WEIGHT);
    return 0;
}

/* Map pairs are built by first storing the key in keys[n] with items[n] NULL. 'at' is
 * where the child was written (for an alias: the alias, not its anchor). */
static int add_child(struct builder *b, struct lab_node *child, const struct lab_node *at)
{
    if (b->depth == 0) {
        if (b->root)
            return lab_errf(b->err, child, "expected one YAML document");
        b->root = child;
        return 0;
    }
    struct lab_node *parent = b->stack[b->depth - 1];
    size_t *cap = &b->caps[b->depth - 1];
    if (parent->kind == LAB_NODE_SEQ) {
        if (add_weight(b, parent, child, false, at))
            return -EINVAL;
        grow(b, parent, cap);
        parent->items[parent->n++] = child;
        return 0;
    }
    /* A map: key, then value. */
    if (parent->n < *cap && parent->keys[parent->n] && !parent->items[parent->n]) {
        if (add_weight(b, parent, child, false, at))
            return -EINVAL;
        parent->items[parent->n++] = child;
        return 0;
    }
    if (child->kind != LAB_NODE_SCALAR || child->null)
        return lab_errf(b->err, child, "a map key must be a plain name");
    for (size_t i = 0; i < parent->n; i++)
        if (!strcmp(parent->keys[i]->text, child->text))
            return lab_errf(b->err, child, "duplicate key '%s' (first at line %d)",
                            child->text, parent->keys[i]->line);
    if (add_weight(b, parent, child, true, at))
        return -EINVAL;
    grow(b, parent, cap);
    parent->keys[parent->n] = child;
    parent->items[parent->n] = NULL;
    return 0;
}

static const char *token_text(struct builder *b, struct fy_token *t)
{
    size_t len = 0;
    const char *s = t ? fy_token_get_text(t, &len) : NULL;
    return s ? lab_arena_strndup(b->a, s, len) : "";
}

static void remember_anchor(struct builder *b, struct fy_token *anchor, struct lab_node *n)
{
    if (!anchor)
        return;
    b->anchors = realloc(b->anchors, (b->nanchors + 1) * sizeof(*b->anchors));
    if (!b->anchors)
        out_of_memory();
    b->anchors[b->nanchors].name = token_text(b, anchor);
    b->anchors[b->nanchors].node = n;
    b->nanchors++;
}

static int on_event(struct builder *b, struct fy_event *e)
{
    const struct fy_mark *m = fy_event_start_mark(e);
    struct lab_node *n;
    switch (e->type) {
    case FYET_SCALAR: {
        n = new_node(b, LAB_NODE_SCALAR, m);
        n->text = token_text(b, e->scalar.value);
        n->weight = strlen(n->text);
        n->plain = fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN;
        n->null = n->plain && (!*n->text || !strcmp(n->text, "~") || !strcmp(n->text, "null") ||
                               !strcmp(n->text, "Null") || !strcmp(n->text, "NULL"));
        remember_anchor(b, e->scalar.anchor, n);
        return add_child(b, n, n);
    }
    case FYET_ALIAS: {
        const char *name = token_text(b, e->alias.anchor);
        n = new_node(b, LAB_NODE_SCALAR, m); /* where the alias is, for messages: */
        if (n->col > 1)
            n->col--; /* libfyaml marks the name; the '*' comes right before it */
        for (size_t i = b->nanchors; i-- > 0;) {
            if (strcmp(b->anchors[i].name, name))
                continue;
            /* An anchor names its node from its start: an alias inside it would make the
             * tree a cycle, which nothing could walk to its end. */
            for (size_t d = 0; d < b->depth; d++)
                if (b->stack[d] == b->anchors[i].node)
                    return lab_errf(b->err, n, "alias '*%s' is inside the value it names "
                                    "(a value cannot contain itself)", name);
            return add_child(b, b->anchors[i].node, n);
        }
        return lab_errf(b->err, n, "unknown alias '*%s'", name);
    }
    case FYET_SEQUENCE_START:
    case FYET_MAPPING_START:
        n = new_node(b, e->type == FYET_MAPPING_START ? LAB_NODE_MAP : LAB_NODE_SEQ, m);
        n->weight = 2; /* the brackets */
        if (b->depth == sizeof(b->stack) / sizeof(b->stack[0]))
            return lab_errf(b->err, n, "nested too deeply");
        remember_anchor(b, e->type == FYET_MAPPING_START ? e->mapping_start.anchor
                                                          : e->sequence_start.anchor, n);
        b->stack[b->depth] = n;
        b->caps[b->depth] = 0;
        b->depth++;
        return 0;
    case FYET_SEQUENCE_END:
    case FYET_MAPPING_END:
        n = b->stack[--b->depth];
        return add_child(b, n, n);
    case FYET_DOCUMENT_START:
        if (b->root) {
            n = new_node(b, LAB_NODE_SCALAR, m);
            return lab_errf(b->err, n, "expected one YAML document, found another");
        }
        return 0;
    default:
        return 0;
    }
}

/* The length of the UTF-8 sequence at s (n bytes left), or 0 if it is not one: no
 * overlong forms, no surrogates, nothing past U+10FFFF (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
                 : s[0] >= 0xf0 && s[0] <= 0xf4                                 ? 4
                                                                                : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return len;
}

/* What libfyaml is given must be text it reads safely: no NUL (it would end the file
 * silently), UTF-8 only, and no directive line ('%' at a line's start: libfyaml 0.7.12
 * hangs on '%' followed by a bad byte and reads out of bounds on others; a scenario
 * needs none). Returns 0, or -EINVAL with err set at the offending line and column. */
static int check_text(const char *text, size_t n, const char *origin, bool option,
                      struct lab_err *err)
{
    const unsigned char *s = (const unsigned char *)text;
    int line = 1, col = 1;
    const char *why = NULL;
    char buf[64];
    for (size_t i = 0; i < n && !why; col++) {
        size_t len = s[i] ? utf8_len(s + i, n - i) : 0;
        if (s[i] == 0) {
            why = "a NUL byte: a scenario is text (is this a binary file?)";
        } else if (len == 0) {
            snprintf(buf, sizeof(buf), "byte 0x%02x is not UTF-8 text", s[i]);
            why = buf;
        } else if (s[i] == '%' && col == 1) {
            why = "'%' at the start of a line begins a YAML directive, which distlab does "
                  "not read (quote a value that starts with '%')";
        } else if (s[i] == '\n') {
            line++;
            col = 0;
        }
        if (!why)
            i += len;
    }
    if (!why)
        return 0;
    err->status = LAB_EXIT_INPUT;
    if (option)
        snprintf(err->msg, sizeof(err->msg), "%s: %s", origin, why);
    else
        snprintf(err->msg, sizeof(err->msg), "%s:%d:%d: %s", origin, line, col - 1, why);
    return -EINVAL;
}

/* The whole file at 'path' into *buf (malloc'd; *len bytes), reading to its end so that
 * pipes and FIFOs work; a file over LAB_NODE_MAX_FILE bytes, or one that is not text
 * (check_text: a NUL stops the reading at once, so /dev/zero is refused at 1:1), is an
 * error. Returns 0 or a negative errno with err set. */
static int read_input(const char *path, char **buf, size_t *len, struct lab_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err->msg, sizeof(err->msg), "%s: cannot read: %s", path, strerror(e));
        return -e;
    }
    size_t cap = 8192, n = 0;
    char *p = lab_xmalloc(cap + 1);
    int rc = 0;
    for (;;) {
        if (n == cap) { /* n <= LAB_NODE_MAX_FILE here, so cap stays below twice that */
            cap *= 2;
            p = lab_xrealloc(p, cap + 1);
        }
        ssize_t got = read(fd, p + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            snprintf(err->msg, sizeof(err->msg), "%s: cannot read: %s", path, strerror(-rc));
            break;
        }
        const char *nul = memchr(p + n, 0, (size_t)got);
        n += (size_t)got;
        if (got == 0 || nul || n > LAB_NODE_MAX_FILE)
            break;
    }
    close(fd);
    if (rc == 0)
        rc = check_text(p, n, path, false, err);
    if (rc == 0 && n > LAB_NODE_MAX_FILE) {
        snprintf(err->msg, sizeof(err->msg),
                 "%s: larger than %u bytes (a scenario is a small text file)", path,
                 LAB_NODE_MAX_FILE);
        rc = -EFBIG;
    }
    if (rc) {
        free(p);
        return rc;
    }
    p[n] = 0;
    *buf = p;
    *len = n;
    return 0;
}

static struct lab_node *parse(struct lab_arena *a, const char *origin, bool option,
                              const char *path, const char *text, struct lab_err *err)
{
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = NULL;
    dcfg.level = FYET_ERROR;
    dcfg.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    if (!diag)
        out_of_memory();
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET, .diag = diag};
    struct fy_parser *p = fy_parser_create(&cfg);
    if (!p)
        out_of_memory();
    struct builder b = {.a = a, .origin = origin, .option = option, .err = err};
    err->status = LAB_EXIT_INPUT; /* whatever goes wrong here is the input's */
    char *file = NULL;
    size_t len = text ? strlen(text) : 0;
    int rc = path ? read_input(path, &file, &len, err) : check_text(text, len, origin, true, err);
    if (rc == 0 && fy_parser_set_string(p, file ? file : text, len)) {
        snprintf(err->msg, sizeof(err->msg), "%s: cannot parse", origin);
        rc = -EINVAL;
    }
    struct fy_event *e;
    while (rc == 0 && (e = fy_parser_parse(p))) {
        rc = on_event(&b, e);
        fy_parser_event_free(p, e);
    }
    if (rc == 0 && fy_parser_get_stream_error(p)) {
        rc = -EINVAL;
        void *it = NULL;
        struct fy_diag_error *de = fy_diag_errors_iterate(diag, &it);
        if (de && !option)
            snprintf(err->msg, sizeof(err->msg), "%s:%d:%d: %s", origin, de->line, de->column,
                     de->msg);
        else
            snprintf(err->msg, sizeof(err->msg), "%s: %s", origin,
                     de ? de->msg : "malformed YAML");
    }
    if (rc == 0 && !b.root) {
        rc = -EINVAL;
        snprintf(err->msg, sizeof(err->msg), "%s: %s", origin,
                 option ? "missing value" : "empty file (expected a scenario map)");
    }
    free(b.anchors);
    fy_parser_destroy(p);
    fy_diag_destroy(diag);
    free(file); /* after the parser: it reads the text in place */
    return rc ? NULL : b.root;
}

struct lab_node *lab_node_parse_file(struct lab_arena *a, const char *path, struct lab_err *err)
{
    return parse(a, lab_arena_strdup(a, path), false, path, NULL, err);
}

struct lab_node *lab_node_parse_text(struct lab_arena *a, const char *text, const char *file,
                                     struct lab_err *err)
{
    return parse(a, lab_arena_strdup(a, file), false, NULL, text, err);
}

struct lab_node *lab_node_parse_string(struct lab_arena *a, const char *text,
                                       const char *origin, struct lab_err *err)
{
    if (!*text) /* "--set k=" means an empty string, as `k: ""` would */
        text = "\"\"";
    return parse(a, lab_arena_strdup(a, origin), true, NULL, text, err);
}

/* ---- Reading and rewriting -------------------------------------------------------- */

struct lab_node *lab_node_get(const struct lab_node *map, const char *key, struct lab_node **keyp)
{
    if (!map || map->kind != LAB_NODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        if (!strcmp(map->keys[i]->text, key)) {
            if (keyp)
                *keyp = map->keys[i];
            return map->items[i];
        }
    }
    return NULL;
}

struct lab_node *lab_node_scalar(struct lab_arena *a, const char *text,
                                 const struct lab_node *where)
{
    struct lab_node *n = lab_arena_alloc(a, sizeof(*n));
    n->kind = LAB_NODE_SCALAR;
    n->plain = true;
    n->text = lab_arena_strdup(a, text);
    n->weight = strlen(text);
    n->origin = where ? where->origin : "";
    n->line = where ? where->line : 0;
    n->col = where ? where->col : 0;
    return n;
}

struct lab_node *lab_node_with(struct lab_arena *a, struct lab_node *root,
                               const char *const *comp, size_t ncomp, struct lab_node *value,
                               const struct lab_node *where, struct lab_err *err)
{
    if (ncomp == 0)
        return value;
    struct lab_node *copy = lab_arena_alloc(a, sizeof(*copy));
    if (!root) {
        copy->kind = LAB_NODE_MAP;
        copy->weight = 2;
        copy->text = "";
        copy->origin = where->origin;
        copy->line = where->line;
        copy->col = where->col;
    } else if (root->kind != LAB_NODE_MAP) {
        lab_errf(err, where, "cannot set '%s': what holds it is not a map", comp[0]);
        return NULL;
    } else {
        *copy = *root;
    }
    size_t i = 0;
    while (i < copy->n && strcmp(copy->keys[i]->text, comp[0]))
        i++;
    struct lab_node *old = i < copy->n ? copy->items[i] : NULL;
    if (old && ncomp > 1 && old->kind != LAB_NODE_MAP) {
        lab_errf(err, where, "cannot set '%s.%s': '%s' is not a map", comp[0], comp[1], comp[0]);
        return NULL;
    }
    struct lab_node *sub = lab_node_with(a, old, comp + 1, ncomp - 1, value, where, err);
    if (!sub)
        return NULL;
    size_t n = copy->n + (i == copy->n);
    struct lab_node **keys = lab_arena_alloc(a, n * sizeof(*keys));
    struct lab_node **items = lab_arena_alloc(a, n * sizeof(*items));
    if (copy->n) {
        memcpy(keys, copy->keys, copy->n * sizeof(*keys));
        memcpy(items, copy->items, copy->n * sizeof(*items));
    }
    if (i == copy->n) {
        keys[i] = lab_node_scalar(a, comp[0], where);
        copy->weight = weight_add(copy->weight, keys[i]->weight + 2 + (copy->n ? 2 : 0));
    } else {
        copy->weight -= old->weight < copy->weight ? old->weight : copy->weight;
    }
    copy->weight = weight_add(copy->weight, sub->weight);
    items[i] = sub;
    copy->keys = keys;
    copy->items = items;
    copy->n = n;
    return copy;
}

static void text_append(struct lab_arena *a, char **buf, size_t *len, size_t *cap,
                        const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t nc = (*len + n + 1) * 2;
        char *nb = lab_arena_alloc(a, nc);
        if (*len)
            memcpy(nb, *buf, *len);
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
}

static void text_of(struct lab_arena *a, const struct lab_node *n, char **buf, size_t *len,
                    size_t *cap)
{
    if (n->kind == LAB_NODE_SCALAR) {
        text_append(a, buf, len, cap, n->text);
        return;
    }
    text_append(a, buf, len, cap, n->kind == LAB_NODE_SEQ ? "[" : "{");
    for (size_t i = 0; i < n->n; i++) {
        if (i)
            text_append(a, buf, len, cap, ", ");
        if (n->kind == LAB_NODE_MAP) {
            text_append(a, buf, len, cap, n->keys[i]->text);
            text_append(a, buf, len, cap, ": ");
        }
        text_of(a, n->items[i], buf, len, cap);
    }
    text_append(a, buf, len, cap, n->kind == LAB_NODE_SEQ ? "]" : "}");
}

char *lab_node_text(struct lab_arena *a, const struct lab_node *n)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    text_append(a, &buf, &len, &cap, "");
    text_of(a, n, &buf, &len, &cap);
    return buf;
}

/* ---- Checks on maps read from a file ---------------------------------------------- */

bool lab_in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

char *lab_join(struct lab_arena *a, const char *const *list)
{
    size_t len = 1;
    for (const char *const *p = list; *p; p++)
        len += strlen(*p) + 2;
    char *s = lab_arena_alloc(a, len);
    for (const char *const *p = list; *p; p++) {
        if (p != list)
            strcat(s, ", ");
        strcat(s, *p);
    }
    return s;
}

int lab_node_check_keys(struct lab_arena *a, struct lab_err *err, const struct lab_node *m,
                        const char *const *allowed, const char *what)
{
    for (size_t i = 0; i < m->n; i++)
        if (!lab_in_list(allowed, m->keys[i]->text))
            return lab_errf(err, m->keys[i], "unknown key '%s'%s%s (expected one of: %s)",
                            m->keys[i]->text, *what ? " in " : "", what, lab_join(a, allowed));
    return 0;
}

int lab_node_want_map(struct lab_err *err, const struct lab_node *n, const char *what)
{
    if (n->kind != LAB_NODE_MAP)
        return lab_errf(err, n, "%s must be a map of keys, got '%s'", what,
                        n->kind == LAB_NODE_SCALAR ? n->text : "a list");
    return 0;
}

int lab_node_want_scalar(struct lab_err *err, const struct lab_node *n, const char *what)
{
    if (n->kind != LAB_NODE_SCALAR)
        return lab_errf(err, n, "'%s' must be a single value, not a %s", what,
                        n->kind == LAB_NODE_MAP ? "map" : "list");
    if (n->null)
        return lab_errf(err, n, "'%s' has no value", what);
    return 0;
}
