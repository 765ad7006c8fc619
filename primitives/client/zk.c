/* zk.c - what both worlds' ZooKeeper clients share: ZooKeeper's path rules, its result
 * codes as errnos, the session timeout a server grants. No I/O. */
#include "client/zk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The next code point of UTF-8 text at *p (advanced past it), or -1 if malformed. */
static long utf8_next(const unsigned char **p)
{
    const unsigned char *s = *p;
    long c;
    int n;
    if (s[0] < 0x80) {
        c = s[0];
        n = 0;
    } else if ((s[0] & 0xe0) == 0xc0) {
        c = s[0] & 0x1f;
        n = 1;
    } else if ((s[0] & 0xf0) == 0xe0) {
        c = s[0] & 0x0f;
        n = 2;
    } else if ((s[0] & 0xf8) == 0xf0) {
        c = s[0] & 0x07;
        n = 3;
    } else {
        return -1;
    }
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        c = (c << 6) | (s[i] & 0x3f);
    }
    static const long least[] = {0, 0x80, 0x800, 0x10000};
    if (c < least[n] || c > 0x10ffff)
        return -1; /* overlong or out of range */
    *p = s + n + 1;
    return c;
}

const char *zk_path_check(const char *path, bool sequential)
{
    if (!path || !*path)
        return "the path is empty";
    if (path[0] != '/')
        return "the path must start with '/'";
    size_t len = strlen(path);
    if (len == 1)
        return NULL;
    if (path[len - 1] == '/' && !sequential)
        return "the path must not end with '/'";
    const unsigned char *p = (const unsigned char *)path + 1;
    const unsigned char *comp = p; /* start of the current component */
    for (;;) {
        if (*p == '/' || *p == 0) {
            size_t n = (size_t)(p - comp);
            bool last = *p == 0;
            if (n == 0 && !(last && sequential))
                return "the path has an empty component ('//')";
            bool dots = (n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.');
            if (dots && !(last && sequential)) /* the suffix makes ".1" of "." */
                return "the path has a relative component ('.' or '..')";
            if (last)
                return NULL;
            comp = ++p;
            continue;
        }
        long c = utf8_next(&p);
        if (c < 0)
            return "the path is not valid UTF-8";
        if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0xd800 && c <= 0xf8ff) ||
            (c >= 0xfff0 && c <= 0xffff))
            return "the path has a character ZooKeeper refuses (a control or reserved one)";
    }
}

/* Every result code we name, with its errno (zk.h's table). */
static const struct {
    int rc, err;
    const char *name;
} codes[] = {
    {ZK_OK, 0, "ZOK"},
    {ZK_SYSTEMERROR, -EIO, "ZSYSTEMERROR"},
    {ZK_CONNECTIONLOSS, -ECONNRESET, "ZCONNECTIONLOSS"},
    {ZK_MARSHALLINGERROR, -EIO, "ZMARSHALLINGERROR"},
    {ZK_OPERATIONTIMEOUT, -ETIMEDOUT, "ZOPERATIONTIMEOUT"},
    {ZK_BADARGUMENTS, -EINVAL, "ZBADARGUMENTS"},
    {ZK_INVALIDSTATE, -EBADFD, "ZINVALIDSTATE"},
    {ZK_APIERROR, -EIO, "ZAPIERROR"},
    {ZK_NONODE, -ENOENT, "ZNONODE"},
    {ZK_NOAUTH, -EIO, "ZNOAUTH"},
    {ZK_BADVERSION, -ESTALE, "ZBADVERSION"},
    {ZK_NOCHILDRENFOREPHEMERALS, -ENOTDIR, "ZNOCHILDRENFOREPHEMERALS"},
    {ZK_NODEEXISTS, -EEXIST, "ZNODEEXISTS"},
    {ZK_NOTEMPTY, -ENOTEMPTY, "ZNOTEMPTY"},
    {ZK_SESSIONEXPIRED, -EKEYEXPIRED, "ZSESSIONEXPIRED"},
    {ZK_CLOSING, -EBADFD, "ZCLOSING"},
};

int zk_rc_errno(int rc)
{
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i].rc == rc)
            return codes[i].err;
    return -EIO;
}

const char *zk_rc_name(int rc)
{
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i].rc == rc)
            return codes[i].name;
    return "ZUNKNOWN";
}

const char *zk_state_name(enum zk_state s)
{
    return s == ZK_STATE_CONNECTING  ? "connecting"
           : s == ZK_STATE_CONNECTED ? "connected"
           : s == ZK_STATE_EXPIRED   ? "expired"
           : s == ZK_STATE_CLOSED    ? "closed"
                                     : "?";
}

char *zk_children_alloc(struct zk_children *out, size_t n, size_t bytes)
{
    out->n = 0;
    out->names = malloc((n + 1) * sizeof(char *) + bytes + 1);
    return out->names ? (char *)(out->names + n + 1) : NULL;
}

int64_t zk_negotiate_timeout(int64_t requested_ns, int64_t tick_ns)
{
    int64_t ms = requested_ns / 1000000, tick_ms = tick_ns / 1000000;
    if (ms < 2 * tick_ms)
        ms = 2 * tick_ms;
    if (ms > 20 * tick_ms)
        ms = 20 * tick_ms;
    return ms * 1000000;
}

int64_t zk_seq_of(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    if (len < ZK_SEQ_DIGITS)
        return -1;
    int64_t v = 0;
    for (const char *p = name + len - ZK_SEQ_DIGITS; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

int zk_parent(const char *path, char *out, size_t cap)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash || cap < 2)
        return -EINVAL;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        return -EINVAL;
    memcpy(out, path, n);
    out[n] = 0;
    return 0;
}

int zk_create_check(const char *path, const void *data, size_t len, unsigned flags)
{
    if (!path)
        return -EINVAL;
    if (strlen(path) > ZK_PATH_MAX)
        return -E2BIG;
    if (zk_path_check(path, flags & ZK_SEQUENCE) || (flags & ~(ZK_EPHEMERAL | ZK_SEQUENCE)))
        return -EINVAL;
    return len > ZK_DATA_MAX || (len && !data) ? -E2BIG : 0;
}
