/* suite.c - bench/suite.yaml: the items `distlab bench` runs, one line each. Every
 * mistake in the file is reported at its file:line:col. */
#include "lab/bench/bench.h"

#include <errno.h>
#include <string.h>

const char *const bench_gate_names[] = {"exact", "timed", "counted"};

static int want(struct lab_err *err, const struct lab_node *n, enum lab_node_kind kind,
                const char *what)
{
    static const char *const kinds[] = {"a value", "a list", "a map"};
    if (n->kind != kind)
        return lab_errf(err, n, "%s must be %s", what, kinds[kind]);
    return 0;
}

/* A list of scalars as a NULL-terminated array (its length in *n if n). */
static int strings(struct lab_arena *a, const struct lab_node *v, const char *what,
                   const char ***out, size_t *n, struct lab_err *err)
{
    if (want(err, v, LAB_NODE_SEQ, what) < 0)
        return -EINVAL;
    const char **s = lab_arena_alloc(a, (v->n + 1) * sizeof(*s));
    for (size_t i = 0; i < v->n; i++) {
        if (want(err, v->items[i], LAB_NODE_SCALAR, what) < 0)
            return -EINVAL;
        s[i] = v->items[i]->text;
    }
    *out = s;
    if (n)
        *n = v->n;
    return 0;
}

/* A name fit for an item id and a file name: [A-Za-z0-9_.-]+. */
static bool good_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *s))
            return false;
    return true;
}

static int load_item(struct bench_suite *s, enum bench_gate gate, const struct lab_node *m,
                     struct bench_item *it, struct lab_err *err)
{
    static const char *const keys[BENCH_NGATES][6] = {
        {"file", "set", "on_demand"},
        {"name", "program", "args", "key", "on_demand"},
        {"name", "program", "args", "on_demand"},
    };
    memset(it, 0, sizeof(*it));
    it->gate = gate;
    it->node = m;
    if (want(err, m, LAB_NODE_MAP, "an item") < 0)
        return -EINVAL;
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->text;
        const struct lab_node *v = m->items[i];
        size_t j = 0;
        while (j < 6 && keys[gate][j] && strcmp(keys[gate][j], k))
            j++;
        if (j == 6 || !keys[gate][j])
            return lab_errf(err, m->keys[i], "unknown key '%s' in a %s item", k,
                            bench_gate_names[gate]);
        int rc = 0;
        if (!strcmp(k, "args"))
            rc = strings(&s->arena, v, "args", &it->args, NULL, err);
        else if (!strcmp(k, "key"))
            rc = strings(&s->arena, v, "key", &it->key, NULL, err);
        else if (!strcmp(k, "set"))
            rc = strings(&s->arena, v, "set", &it->sets, &it->nsets, err);
        else if (want(err, v, LAB_NODE_SCALAR, k) < 0)
            return -EINVAL;
        else if (!strcmp(k, "on_demand")) {
            if (strcmp(v->text, "true") && strcmp(v->text, "false"))
                return lab_errf(err, v, "on_demand must be true or false");
            it->on_demand = !strcmp(v->text, "true");
        } else if (!strcmp(k, "name")) {
            it->name = v->text;
        } else if (!strcmp(k, "program")) {
            it->program = v->text;
        } else {
            it->file = v->text;
        }
        if (rc < 0)
            return rc;
    }
    if (gate == BENCH_EXACT) {
        if (!it->file)
            return lab_errf(err, m, "an exact item needs 'file' (a scenario)");
        const char *base = strrchr(it->file, '/');
        base = base ? base + 1 : it->file;
        size_t len = strlen(base);
        if (len > 5 && !strcmp(base + len - 5, ".yaml"))
            len -= 5;
        it->name = lab_arena_strndup(&s->arena, base, len);
    } else if (!it->name || !it->program) {
        return lab_errf(err, m, "a %s item needs 'name' and 'program'", bench_gate_names[gate]);
    }
    if (!good_name(it->name))
        return lab_errf(err, m, "item name '%s': only letters, digits, '_', '.' and '-'", it->name);
    if (!it->args)
        it->args = lab_arena_alloc(&s->arena, sizeof(*it->args));
    it->id = lab_arena_printf(&s->arena, "%s/%s", bench_gate_names[gate], it->name);
    return 0;
}

int bench_suite_load(struct bench_suite *s, const char *file, struct lab_err *err)
{
    memset(s, 0, sizeof(*s));
    s->file = file;
    struct lab_node *root = lab_node_parse_file(&s->arena, file, err);
    if (!root)
        return -EINVAL;
    if (want(err, root, LAB_NODE_MAP, "the suite") < 0)
        return -EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < root->n; i++)
        total += root->items[i]->kind == LAB_NODE_SEQ ? root->items[i]->n : 0;
    s->items = lab_arena_alloc(&s->arena, (total + 1) * sizeof(*s->items));
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->text;
        int gate = 0;
        while (gate < BENCH_NGATES && strcmp(bench_gate_names[gate], k))
            gate++;
        if (gate == BENCH_NGATES)
            return lab_errf(err, root->keys[i],
                            "unknown key '%s' (expected exact, timed or counted)", k);
        const struct lab_node *list = root->items[i];
        if (want(err, list, LAB_NODE_SEQ, k) < 0)
            return -EINVAL;
        for (size_t j = 0; j < list->n; j++) {
            struct bench_item *it = &s->items[s->nitems];
            if (load_item(s, (enum bench_gate)gate, list->items[j], it, err) < 0)
                return -EINVAL;
            for (size_t q = 0; q < s->nitems; q++)
                if (!strcmp(s->items[q].id, it->id))
                    return lab_errf(err, list->items[j], "a second item named '%s'", it->id);
            s->nitems++;
        }
    }
    return 0;
}

void bench_suite_free(struct bench_suite *s)
{
    lab_arena_free(&s->arena);
    memset(s, 0, sizeof(*s));
}
