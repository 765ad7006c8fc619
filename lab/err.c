/* err.c - the lab's errors and their exit statuses (err.h). */
#include "lab/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lab/node.h"

int lab_verrf(struct lab_err *err, const struct lab_node *at, const char *fmt, va_list ap)
{
    int off = 0;
    err->status = LAB_EXIT_INPUT;
    if (at && at->line > 0)
        off = snprintf(err->msg, sizeof(err->msg), "%s:%d:%d: ", at->origin, at->line, at->col);
    else if (at)
        off = snprintf(err->msg, sizeof(err->msg), "%s: ", at->origin);
    if (off < 0 || (size_t)off >= sizeof(err->msg))
        off = 0;
    vsnprintf(err->msg + off, sizeof(err->msg) - (size_t)off, fmt, ap);
    return -EINVAL;
}

int lab_errf(struct lab_err *err, const struct lab_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lab_verrf(err, at, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int lab_err_write(struct lab_err *err, const char *path, int rc)
{
    err->status = LAB_EXIT_WRITE;
    snprintf(err->msg, sizeof(err->msg), "cannot write results: %s: %s", path, strerror(-rc));
    return rc;
}

int lab_status_of_errno(int rc)
{
    return rc == -ECONNREFUSED || rc == -EHOSTUNREACH ? LAB_EXIT_UNREACH : LAB_EXIT_INPUT;
}
