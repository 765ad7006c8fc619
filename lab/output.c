/* output.c - result sets written whole (a temporary directory swapped in, under a lock),
 * summary.json (jansson) and the CSVs of distribution metrics. The summary of a
 * simulated run depends only on the scenario and seed, except "machine" and "wall_s". */
#include "lab/output.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lab/hist.h"
#include "lab/lab_version.h"
#include "lab/series.h"

int lab_mkdirs(const char *path)
{
    char *p = lab_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1; ; s++) {
        if (*s != '/' && *s)
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            rc = -errno;
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return rc;
}

char *lab_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    if (!m)
        abort();
    char chunk[8192];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, got, m);
    int bad = ferror(f);
    fclose(f);
    fclose(m);
    if (bad) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    if (len)
        *len = n;
    return buf;
}

/* ---- Result sets ------------------------------------------------------------------ */

static const int held_signals[3] = {SIGINT, SIGTERM, SIGHUP};
static volatile sig_atomic_t pending_signal;

static void on_signal(int sig)
{
    pending_signal = sig;
}

void lab_signals_hold(struct lab_signals *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    pending_signal = 0;
    for (int i = 0; i < 3; i++)
        sigaction(held_signals[i], &sa, &s->saved[i]);
}

bool lab_signal_pending(void)
{
    return pending_signal != 0;
}

void lab_signals_release(struct lab_signals *s)
{
    for (int i = 0; i < 3; i++)
        sigaction(held_signals[i], &s->saved[i], NULL);
    if (pending_signal)
        raise(pending_signal);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int lab_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

/* "dir/.name.tmp-" style names beside target: 'kind' is "tmp" or "old". */
static char *beside(const char *target, const char *kind, const char *suffix)
{
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    int dlen = slash ? (int)(slash - target) : 1;
    char *s;
    if (asprintf(&s, "%.*s/.%s.%s-%s", dlen, slash ? target : ".", base, kind, suffix) < 0)
        abort();
    return s;
}

/* Remove '.<name>.tmp-*' and '.<name>.old-*' in the parent: a distlab killed while it
 * wrote. Called with the parent locked, so none is being written now. */
static void sweep_stale(const char *target)
{
    char *tmp = beside(target, "tmp", ""), *old = beside(target, "old", "");
    char *slash = strrchr(tmp, '/');
    *slash = 0;
    const char *tp = slash + 1, *op = strrchr(old, '/') + 1;
    DIR *d = opendir(tmp);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, tp, strlen(tp)) && strncmp(e->d_name, op, strlen(op)))
            continue;
        char *path;
        if (asprintf(&path, "%s/%s", tmp, e->d_name) < 0)
            abort();
        lab_remove_tree(path);
        free(path);
    }
    if (d)
        closedir(d);
    free(tmp);
    free(old);
}

/* A fresh directory named beside target ('kind' "tmp" or "old"), mode 0777 less the
 * umask like any other. Returns its path (malloc'd) or NULL with errno set. */
static char *make_beside(const char *target, const char *kind)
{
    for (unsigned i = 0;; i++) {
        char suffix[48];
        snprintf(suffix, sizeof(suffix), "%ld-%u", (long)getpid(), i);
        char *path = beside(target, kind, suffix);
        if (mkdir(path, 0777) == 0)
            return path;
        int e = errno;
        free(path);
        if (e != EEXIST || i > 1000) {
            errno = e;
            return NULL;
        }
    }
}

/* Without RENAME_EXCHANGE: the old set moves aside, the new one in, the old one goes. */
static int swap_aside(struct lab_outdir *od)
{
    char *old = make_beside(od->target, "old");
    if (!old || rmdir(old) < 0 || rename(od->target, old) < 0) {
        int rc = -errno;
        free(old);
        return rc;
    }
    int rc = 0;
    if (rename(od->tmp, od->target) < 0) {
        rc = -errno;
        rename(old, od->target); /* put it back */
    } else {
        lab_remove_tree(old);
        free(od->tmp);
        od->tmp = NULL;
    }
    free(old);
    return rc;
}

int lab_outdir_begin(struct lab_outdir *od, const char *target, struct lab_err *err)
{
    int rc = lab_outdir_lock(od, target, err);
    if (rc == 0 && !(od->tmp = make_beside(target, "tmp"))) {
        rc = lab_err_write(err, target, -errno);
        lab_outdir_end(od);
    }
    return rc;
}

int lab_outdir_lock(struct lab_outdir *od, const char *target, struct lab_err *err)
{
    od->target = lab_xstrdup(target);
    od->tmp = NULL;
    od->lockfd = -1;
    char *parent = lab_xstrdup(target);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = 0;
    else if (slash)
        slash[1] = 0; /* "/name": the root */
    else
        strcpy(parent, ".");
    int rc = lab_mkdirs(parent);
    if (rc == 0) {
        od->lockfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (od->lockfd < 0)
            rc = -errno;
    }
    if (rc == 0 && flock(od->lockfd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK) {
            rc = -errno;
        } else { /* poll, so that a held signal ends the wait */
            fprintf(stderr, "distlab: another distlab is writing into %s: waiting\n", parent);
            while (rc == 0 && flock(od->lockfd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK && errno != EINTR)
                    rc = -errno;
                else if (pending_signal)
                    rc = -EINTR;
                else
                    nanosleep(&(struct timespec){0, 50000000}, NULL);
            }
        }
    }
    free(parent);
    if (rc == 0)
        sweep_stale(target);
    if (rc) {
        lab_err_write(err, target, rc);
        lab_outdir_end(od);
    }
    return rc;
}

int lab_outdir_commit(struct lab_outdir *od, struct lab_err *err)
{
    struct stat st;
    int rc = 0;
    bool exists = lstat(od->target, &st) == 0;
    if (!exists && errno != ENOENT) {
        rc = -errno;
    } else if (exists && !S_ISDIR(st.st_mode)) {
        rc = -ENOTDIR; /* a file of the user's: never replaced */
    } else if (!exists) {
        if (rename(od->tmp, od->target) < 0) {
            rc = -errno;
        } else {
            free(od->tmp);
            od->tmp = NULL;
        }
    } else if (renameat2(AT_FDCWD, od->tmp, AT_FDCWD, od->target, RENAME_EXCHANGE) < 0) {
        rc = errno == EINVAL || errno == ENOSYS ? swap_aside(od) : -errno;
    }
    /* After the exchange the temporary name holds the old set: lab_outdir_end removes it. */
    return rc ? lab_err_write(err, od->target, rc) : 0;
}

void lab_outdir_end(struct lab_outdir *od)
{
    if (od->tmp)
        lab_remove_tree(od->tmp);
    free(od->tmp);
    od->tmp = NULL;
    free(od->target);
    od->target = NULL;
    if (od->lockfd >= 0)
        close(od->lockfd); /* and with it the lock */
    od->lockfd = -1;
}

int lab_write_file(const char *path, const char *data, size_t len, struct lab_err *err)
{
    size_t plen = strlen(path) + 32;
    char *tmp = lab_xmalloc(plen);
    snprintf(tmp, plen, "%s.tmp%ld", path, (long)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            break;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
out:
    if (rc)
        lab_err_write(err, path, rc);
    free(tmp);
    return rc;
}

/* ---- summary.json ----------------------------------------------------------------- */

static json_t *number(double v)
{
    if (!isfinite(v))
        return json_null();
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return json_integer((json_int_t)v);
    return json_real(v);
}

json_t *lab_json_number(double v)
{
    return number(v);
}

/* A parameter value as JSON: typed when the key names a typed value. */
static json_t *param_json(const struct lab_scenario *sc, const struct lab_runspec *r,
                          size_t k)
{
    const struct lab_node *n = r->values[k];
    const char *text = lab_run_key_text(sc, r, sc->sweep[k].name);
    double d;
    if (n->kind == LAB_NODE_SEQ) {
        json_t *a = json_array();
        for (size_t i = 0; i < n->n; i++) {
            const struct lab_node *it = n->items[i];
            char *end;
            double x = strtod(it->text, &end);
            json_array_append_new(a, it->plain && *it->text && !*end ? number(x)
                                                                      : json_string(it->text));
        }
        return a;
    }
    if (n->kind != LAB_NODE_SCALAR)
        return json_string(text ? text : "");
    if (n->plain && (!strcmp(n->text, "true") || !strcmp(n->text, "false")))
        return json_boolean(!strcmp(n->text, "true"));
    char *end;
    d = strtod(n->text, &end);
    if (n->plain && *n->text && !*end && isfinite(d))
        return number(d);
    return json_string(n->text);
}

static json_t *params_json(const struct lab_scenario *sc, const struct lab_runspec *r)
{
    json_t *o = json_object();
    for (size_t k = 0; k < sc->nsweep; k++)
        json_object_set_new(o, sc->sweep[k].name, param_json(sc, r, k));
    json_object_set_new(o, "repeat", json_integer(r->repeat));
    return o;
}

static json_t *metric_json(const struct lab_metric *m)
{
    switch (m->kind) {
    case LAB_M_SCALAR:
        return number(m->scalar);
    case LAB_M_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < m->n; i++)
            json_array_append_new(a, number(m->v[i]));
        return a;
    }
    case LAB_M_MATRIX: {
        json_t *a = json_array();
        for (size_t r = 0; r < m->rows; r++) {
            json_t *row = json_array();
            for (size_t c = 0; c < m->cols; c++)
                json_array_append_new(row, number(m->v[r * m->cols + c]));
            json_array_append_new(a, row);
        }
        return a;
    }
    case LAB_M_HIST: {
        const struct hist *h = m->hist;
        json_t *o = json_object();
        json_object_set_new(o, "unit", json_string(m->unit));
        json_object_set_new(o, "count", json_integer((json_int_t)hist_count(h)));
        json_object_set_new(o, "mean", number(hist_mean(h)));
        json_object_set_new(o, "min", json_integer(hist_min(h)));
        json_object_set_new(o, "p50", json_integer(hist_quantile(h, 0.5)));
        json_object_set_new(o, "p90", json_integer(hist_quantile(h, 0.9)));
        json_object_set_new(o, "p99", json_integer(hist_quantile(h, 0.99)));
        json_object_set_new(o, "p999", json_integer(hist_quantile(h, 0.999)));
        json_object_set_new(o, "max", json_integer(hist_max(h)));
        return o;
    }
    case LAB_M_SERIES: {
        const struct series *s = m->series;
        json_t *o = json_object(), *sum = json_array(), *cnt = json_array();
        for (size_t i = 0; i < series_len(s); i++) {
            json_array_append_new(sum, number(series_sum(s, i)));
            json_array_append_new(cnt, json_integer((json_int_t)series_count(s, i)));
        }
        json_object_set_new(o, "unit", json_string(m->unit));
        json_object_set_new(o, "bin_ns", json_integer(series_bin_ns(s)));
        json_object_set_new(o, "sum", sum);
        json_object_set_new(o, "count", cnt);
        return o;
    }
    }
    return json_null();
}

char *lab_params_text(const json_t *params, const char *skip)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        if (skip && !strcmp(k, skip))
            continue;
        char *t = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(f, "%s%s=%s", ftell(f) ? " " : "", k, t ? t : json_string_value(v));
        free(t);
    }
    fclose(f);
    return buf;
}

json_t *lab_machine_json(void)
{
    json_t *o = json_object();
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    struct utsname u;
    json_object_set_new(o, "hostname", json_string(host));
    json_object_set_new(o, "cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(o, "kernel", json_string(uname(&u) == 0 ? u.release : ""));
#if defined(__clang__)
    json_object_set_new(o, "compiler", json_string("clang " __clang_version__));
#elif defined(__GNUC__)
    json_object_set_new(o, "compiler", json_string("gcc " __VERSION__));
#else
    json_object_set_new(o, "compiler", json_string("unknown"));
#endif
    return o;
}

json_t *lab_summary_json(const struct lab_scenario *sc, const struct lab_run *runs,
                         size_t nruns, bool machine)
{
    json_t *root = json_object();
    json_object_set_new(root, "scenario", json_string(sc->name));
    json_object_set_new(root, "file", json_string(sc->file));
    json_object_set_new(root, "world", json_string(lab_world_name(sc->world)));
    json_object_set_new(root, "seed", json_integer((json_int_t)sc->points[0]->seed));
    json_object_set_new(root, "version", json_string(DISTLAB_GIT_VERSION));
    if (machine)
        json_object_set_new(root, "machine", lab_machine_json());
    json_t *arr = json_array();
    for (size_t i = 0; i < nruns; i++) {
        const struct lab_run *run = &runs[i];
        json_t *r = json_object();
        json_object_set_new(r, "params", params_json(sc, run->spec));
        json_object_set_new(r, "primitive", json_string(run->spec->cfg->wl->name));
        json_object_set_new(r, "seed", json_integer((json_int_t)run->spec->seed));
        if (run->skipped)
            json_object_set_new(r, "skipped", json_string(run->skipped));
        json_t *m = json_object();
        for (size_t k = 0; k < run->nmetrics; k++)
            json_object_set_new(m, run->metrics[k].name, metric_json(&run->metrics[k]));
        json_object_set_new(r, "metrics", m);
        json_t *ex = json_array();
        for (size_t k = 0; k < run->nchecks; k++) {
            const struct lab_check *c = &run->checks[k];
            json_t *e = json_object();
            /* which of the scenario's expectations (0-based), for the report */
            json_object_set_new(e, "index", json_integer((json_int_t)(c->x - sc->expects)));
            json_object_set_new(e, "text", json_string(c->x->text));
            json_object_set_new(e, "ok", json_boolean(c->ok));
            json_object_set_new(e, "actual", c->have_actual ? number(c->actual) : json_null());
            json_object_set_new(e, "expected",
                                c->have_expected ? number(c->expected) : json_null());
            if (isfinite(c->tol))
                json_object_set_new(e, "tol", number(c->tol));
            if (c->x->why)
                json_object_set_new(e, "why", json_string(c->x->why));
            if (c->message)
                json_object_set_new(e, "message", json_string(c->message));
            json_array_append_new(ex, e);
        }
        json_object_set_new(r, "expect", ex);
        json_t *notes = json_array();
        for (size_t k = 0; k < run->nnotes; k++)
            json_array_append_new(notes, json_string(run->notes[k]));
        json_object_set_new(r, "notes", notes);
        json_object_set_new(r, "wall_s", json_real(run->wall_s));
        json_array_append_new(arr, r);
    }
    json_object_set_new(root, "runs", arr);
    return root;
}

/* ---- CSV -------------------------------------------------------------------------- */

static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_params_header(FILE *f, const struct lab_scenario *sc)
{
    fputs("run", f);
    for (size_t k = 0; k < sc->nsweep; k++) {
        fputc(',', f);
        csv_field(f, sc->sweep[k].name);
    }
    fputs(",repeat", f);
}

static void csv_params(FILE *f, const struct lab_scenario *sc, const struct lab_runspec *r)
{
    fprintf(f, "%zu", r->index);
    for (size_t k = 0; k < sc->nsweep; k++) {
        fputc(',', f);
        const char *t = lab_run_key_text(sc, r, sc->sweep[k].name);
        csv_field(f, t ? t : "");
    }
    fprintf(f, ",%d", r->repeat);
}

static void csv_metric(FILE *f, const struct lab_scenario *sc, const struct lab_run *runs,
                       size_t nruns, const char *name, enum lab_metric_kind kind)
{
    csv_params_header(f, sc);
    switch (kind) {
    case LAB_M_ARRAY: fputs(",index,value\n", f); break;
    case LAB_M_MATRIX: fputs(",row,col,value\n", f); break;
    case LAB_M_HIST: fputs(",lo,hi,count,cum_fraction,unit\n", f); break;
    case LAB_M_SERIES: fputs(",bin,t_ns,sum,count,mean,unit\n", f); break;
    default: break;
    }
    for (size_t i = 0; i < nruns; i++) {
        const struct lab_metric *m = lab_run_metric(&runs[i], name);
        if (!m || m->kind != kind)
            continue;
        const struct lab_runspec *r = runs[i].spec;
        if (kind == LAB_M_ARRAY) {
            for (size_t j = 0; j < m->n; j++) {
                csv_params(f, sc, r);
                fprintf(f, ",%zu,%.17g\n", j, m->v[j]);
            }
        } else if (kind == LAB_M_MATRIX) {
            for (size_t j = 0; j < m->rows; j++)
                for (size_t c = 0; c < m->cols; c++) {
                    csv_params(f, sc, r);
                    fprintf(f, ",%zu,%zu,%.17g\n", j, c, m->v[j * m->cols + c]);
                }
        } else if (kind == LAB_M_HIST) {
            size_t cur = 0;
            int64_t lo, hi;
            uint64_t cnt, cum = 0, total = hist_count(m->hist);
            while (hist_next_bucket(m->hist, &cur, &lo, &hi, &cnt)) {
                cum += cnt;
                csv_params(f, sc, r);
                fprintf(f, ",%lld,%lld,%llu,%.17g,", (long long)lo, (long long)hi,
                        (unsigned long long)cnt, (double)cum / (double)total);
                csv_field(f, m->unit);
                fputc('\n', f);
            }
        } else if (kind == LAB_M_SERIES) {
            const struct series *s = m->series;
            for (size_t b = 0; b < series_len(s); b++) {
                uint64_t c = series_count(s, b);
                csv_params(f, sc, r);
                fprintf(f, ",%zu,%lld,%.17g,%llu,%.17g,", b,
                        (long long)((int64_t)b * series_bin_ns(s)), series_sum(s, b),
                        (unsigned long long)c, c ? series_sum(s, b) / (double)c : 0.0);
                csv_field(f, m->unit);
                fputc('\n', f);
            }
        }
    }
}

/* The run's text named 'name', or NULL; *header its lab_table header (or NULL). */
static const char *run_text_h(const struct lab_run *run, const char *name, const char **header)
{
    for (size_t i = 0; i < run->ntexts; i++)
        if (!strcmp(run->texts[i].name, name)) {
            if (header)
                *header = run->texts[i].header;
            return run->texts[i].text;
        }
    return NULL;
}

static const char *run_text(const struct lab_run *run, const char *name)
{
    return run_text_h(run, name, NULL);
}

/* The documents named 'name' (lab_text) of every run, in run order; each under a line
 * naming its run when more than one run wrote one. */
static void text_doc(FILE *f, const struct lab_scenario *sc, const struct lab_run *runs,
                     size_t nruns, const char *name)
{
    size_t writers = 0;
    const char *header = NULL;
    for (size_t i = 0; i < nruns; i++)
        if (run_text_h(&runs[i], name, header ? NULL : &header))
            writers++;
    if (header) { /* lab_table: one header, then every run's rows */
        fputs(header, f);
        for (size_t i = 0; i < nruns; i++) {
            const char *t = run_text(&runs[i], name);
            fputs(t ? t : "", f);
        }
        return;
    }
    for (size_t i = 0; i < nruns; i++) {
        const char *t = run_text(&runs[i], name);
        if (!t)
            continue;
        if (writers > 1) {
            const struct lab_runspec *r = runs[i].spec;
            fprintf(f, "## run %zu:", r->index);
            for (size_t k = 0; k < sc->nsweep; k++) {
                const char *v = lab_run_key_text(sc, r, sc->sweep[k].name);
                fprintf(f, " %s=%s,", sc->sweep[k].name, v ? v : "");
            }
            fprintf(f, " repeat=%d\n\n", r->repeat);
        }
        fputs(t, f);
        if (writers > 1 && *t && t[strlen(t) - 1] != '\n')
            fputc('\n', f);
        if (writers > 1)
            fputc('\n', f);
    }
}

/* One file of the results: a metric's CSV, or (kind LAB_M_SCALAR) the documents of a
 * name. */
struct doc {
    const struct lab_scenario *sc;
    const struct lab_run *runs;
    size_t nruns;
    const char *name;
    enum lab_metric_kind kind;
};

static int write_doc(const struct doc *d, const char *path, const char *dir, struct lab_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return lab_err_write(err, dir, -ENOMEM);
    if (d->kind == LAB_M_SCALAR)
        text_doc(f, d->sc, d->runs, d->nruns, d->name);
    else
        csv_metric(f, d->sc, d->runs, d->nruns, d->name, d->kind);
    fclose(f);
    int rc = lab_write_file(path, buf, len, err);
    free(buf);
    return rc;
}

int lab_write_results(const struct lab_scenario *sc, const struct lab_run *runs, size_t nruns,
                      const char *dir, struct lab_err *err)
{
    int rc = lab_mkdirs(dir);
    if (rc)
        return lab_err_write(err, dir, rc);
    size_t plen = strlen(dir) + 300;
    char *path = lab_xmalloc(plen);
    json_t *j = lab_summary_json(sc, runs, nruns, true);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    json_decref(j);
    if (!text) {
        free(path);
        lab_err_write(err, dir, -ENOMEM);
        return -ENOMEM;
    }
    snprintf(path, plen, "%s/summary.json", dir);
    size_t tlen = strlen(text);
    char *withnl = lab_xmalloc(tlen + 2);
    memcpy(withnl, text, tlen);
    withnl[tlen] = '\n';
    rc = lab_write_file(path, withnl, tlen + 1, err);
    free(withnl);
    free(text);
    /* One CSV per distribution metric, named after it; runs in order. */
    for (size_t i = 0; !rc && i < nruns; i++) {
        for (size_t k = 0; !rc && k < runs[i].nmetrics; k++) {
            const struct lab_metric *m = &runs[i].metrics[k];
            if (m->kind == LAB_M_SCALAR)
                continue;
            bool done = false; /* written already for an earlier run? */
            for (size_t p = 0; p < i && !done; p++)
                done = lab_run_metric(&runs[p], m->name) != NULL;
            if (done)
                continue;
            snprintf(path, plen, "%s/%s.csv", dir, m->name);
            struct doc d = {sc, runs, nruns, m->name, m->kind};
            rc = write_doc(&d, path, dir, err);
        }
    }
    /* The documents (lab_text), one file per name. */
    for (size_t i = 0; !rc && i < nruns; i++) {
        for (size_t k = 0; !rc && k < runs[i].ntexts; k++) {
            const char *name = runs[i].texts[k].name;
            bool done = false;
            for (size_t p = 0; p < i && !done; p++)
                done = run_text(&runs[p], name) != NULL;
            if (done)
                continue;
            snprintf(path, plen, "%s/%s", dir, name);
            struct doc d = {sc, runs, nruns, name, LAB_M_SCALAR};
            rc = write_doc(&d, path, dir, err);
        }
    }
    free(path);
    return rc;
}

const char *lab_source_root(void)
{
    struct stat st;
    if (stat("scenarios", &st) == 0 && S_ISDIR(st.st_mode))
        return ".";
    const char *env = getenv("DISTLAB_SOURCE_ROOT");
    if (env && *env)
        return env;
    return DISTLAB_SOURCE_ROOT;
}
