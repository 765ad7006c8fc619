/* scenario_as.c - a sweep point's configuration for another workload: what lab_run_as
 * (lab.h) runs, so that one workload can drive another's code (lock/choice drives
 * lock/redis, lock/zk, lock/etcd, lock/contention) without copying it. */
#include "lab/scenario_impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* The value 'set' gives for 'name' ("name=value" texts), or NULL. */
static const char *set_value(const char *const *set, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; set && set[i]; i++)
        if (!strncmp(set[i], name, n) && set[i][n] == '=')
            return set[i] + n + 1;
    return NULL;
}

int lab__config_as(struct lab_arena *a, struct lab_err *err, const struct lab_config *base,
                   const struct lab_workload *wl, const char *const *set,
                   const struct lab_fault *faults, size_t nfaults, const struct lab_node *at,
                   struct lab_config *out)
{
    *out = *base;
    out->wl = wl;
    /* Every 'set' must name a parameter of wl: a misspelt one would pass unnoticed. */
    for (size_t i = 0; set && set[i]; i++) {
        const char *eq = strchr(set[i], '=');
        bool known = false;
        for (size_t k = 0; eq && wl->params && wl->params[k].name && !known; k++)
            known = strlen(wl->params[k].name) == (size_t)(eq - set[i]) &&
                    !strncmp(wl->params[k].name, set[i], (size_t)(eq - set[i]));
        if (!known)
            return lab_errf(err, at, "'%s': workload '%s' has no such parameter", set[i], wl->name);
    }
    size_t np = 0;
    while (wl->params && wl->params[np].name)
        np++;
    out->params = lab_arena_alloc(a, (np + 1) * sizeof(*out->params));
    for (size_t i = 0; i < np; i++) {
        const struct lab_param *pp = &wl->params[i];
        const char *text = set_value(set, pp->name);
        const struct lab_value *own = NULL;
        for (size_t k = 0; !text && base->wl->params && base->wl->params[k].name; k++)
            if (!strcmp(base->wl->params[k].name, pp->name) && base->wl->params[k].type == pp->type)
                own = &base->params[k];
        if (own) {
            out->params[i] = *own;
            continue;
        }
        if (!text)
            text = pp->def;
        if (!text)
            return lab_errf(err, at, "workload '%s' needs '%s'", wl->name, pp->name);
        const char *origin =
            lab_arena_printf(a, "%s's '%s' for %s", base->wl->name, pp->name, wl->name);
        struct lab_node *v = lab_node_parse_string(a, text, origin, err);
        if (!v)
            return -EINVAL;
        int rc = lab__parse_value(a, err, v, pp->name, pp->type, pp->min, pp->max, pp->choices,
                                  &out->params[i]);
        if (rc)
            return rc;
    }
    /* The scenario's faults and the caller's, by time (stable: the scenario's first). */
    size_t n = base->nfaults + nfaults;
    out->faults = lab_arena_alloc(a, (n + 1) * sizeof(*out->faults));
    out->fault_nodes = lab_arena_alloc(a, (n + 1) * sizeof(*out->fault_nodes));
    out->nfaults = 0;
    for (size_t i = 0; i < n; i++) {
        const struct lab_fault *f =
            i < base->nfaults ? &base->faults[i] : &faults[i - base->nfaults];
        const struct lab_node *fn = i < base->nfaults ? base->fault_nodes[i] : at;
        if (f->at > base->duration)
            return lab_errf(err, at, "a fault at %.9g s is after the end of the run",
                            (double)f->at / 1e9);
        size_t j = out->nfaults++;
        while (j > 0 && out->faults[j - 1].at > f->at) {
            out->faults[j] = out->faults[j - 1];
            out->fault_nodes[j] = out->fault_nodes[j - 1];
            j--;
        }
        out->faults[j] = *f;
        out->fault_nodes[j] = fn;
    }
    return 0;
}
