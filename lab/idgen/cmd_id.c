/* cmd_id.c - `distlab id decode ID...` and `distlab id encode --time T ...`: split an ID
 * into time, datacenter, worker and sequence under a layout, or build one. JSON output
 * writes IDs as strings (a JavaScript number holds integers exactly only up to 2^53 - 1,
 * which a 41-bit-ms ID passes within minutes of its epoch). Reads the real clock once,
 * only to refuse an epoch in the future. */
#include "lab/idgen/cmd_id.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idgen/snowflake.h"
#include "lab/cli.h"
#include "lab/scenario.h"

#define JS_MAX_SAFE ((UINT64_C(1) << 53) - 1)

static void usage(FILE *f)
{
    fputs("usage: distlab id decode [LAYOUT OPTIONS] [--json] ID...\n"
          "       distlab id encode --time TIME [--dc N] [--worker N] [--seq N]\n"
          "                         [LAYOUT OPTIONS] [--json]\n"
          "Decode snowflake IDs (decimal, or hex with 0x) into their fields, or encode one.\n"
          "Layout options (default: the seed's 41/5/5/12, 1 ms units, Twitter's epoch):\n"
          "  --layout T/D/W/S  bits of time, datacenter, worker, sequence; they sum to 63\n"
          "  --unit DURATION   length of a time unit: 1ms, 10ms, 1s, 100us...\n"
          "  --epoch TIME      when the time field is 0: twitter (2010-11-04T01:42:54.657Z),\n"
          "                    unix, an ISO-8601 UTC time, or Unix milliseconds\n"
          "TIME: 2024-05-01T12:00:00.123Z (Z or +hh:mm), or an integer of Unix milliseconds;\n"
          "      between 1677 and 2262 (Unix ns in 64 bits).\n"
          "  --json            one JSON object per ID; IDs and units as strings, with\n"
          "                    \"js_safe\": whether a JavaScript number holds the ID exactly\n"
          "  -h, --help        this text\n"
          "Exit status: 0, or 2 for bad input (the message says which argument and why).\n",
          f);
}

static int bad(const char *fmt, const char *arg, const char *why)
{
    fprintf(stderr, "distlab id: ");
    fprintf(stderr, fmt, arg);
    if (why)
        fprintf(stderr, ": %s", why);
    fputc('\n', stderr);
    return LAB_EXIT_INPUT;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Hinnant's
 * days_from_civil), and back. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool digits(const char **p, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (!isdigit((unsigned char)**p))
            return false;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)" (a space for T is fine) or an integer
 * of Unix ms. Sets *ns (Unix ns). */
static bool parse_time(const char *s, int64_t *ns)
{
    const char *p = s;
    int64_t y, mo, d, h, mi, sec, frac = 0, scale = 1;
    if (!strchr(s, '-') || (s[0] == '-' && !strchr(s + 1, '-'))) { /* Unix ms */
        char *end;
        errno = 0;
        long long ms = strtoll(s, &end, 10);
        if (errno || *end || end == s || ms > INT64_MAX / 1000000 || ms < INT64_MIN / 1000000)
            return false;
        *ns = (int64_t)ms * 1000000;
        return true;
    }
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
        !digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi) || *p++ != ':' ||
        !digits(&p, 2, &sec))
        return false;
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++)
            if (scale < 1000000000) {
                frac = frac * 10 + (*p - '0');
                scale *= 10;
            }
        if (scale == 1)
            return false;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int64_t oh, om;
        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
            return false;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return false; /* a time without a zone is ambiguous: refuse it */
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    int64_t yy;
    int mm, dd;
    civil_from_days(days_from_civil(y, mo, d), &yy, &mm, &dd);
    if (mm != mo || dd != d) /* 2023-02-30 */
        return false;
    int64_t s_total = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    /* Unix ns in an int64 cover 1677-09-21 to 2262-04-11. */
    return !__builtin_mul_overflow(s_total, 1000000000, ns) &&
           !__builtin_add_overflow(*ns, frac * (1000000000 / scale), ns);
}

/* ISO-8601 UTC with as many fraction digits as the unit needs (ms, us or ns). */
static void format_time(int64_t ns, int64_t unit, char *buf, size_t cap)
{
    int64_t s = ns / 1000000000, f = ns % 1000000000;
    if (f < 0) {
        f += 1000000000;
        s--;
    }
    int64_t days = s / 86400, rem = s % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    int n = snprintf(buf, cap, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d, (int)(rem / 3600),
                     (int)(rem / 60 % 60), (int)(rem % 60));
    if (n < 0 || (size_t)n >= cap)
        return;
    if (unit % 1000000000 == 0)
        snprintf(buf + n, cap - (size_t)n, "Z");
    else if (unit % 1000000 == 0)
        snprintf(buf + n, cap - (size_t)n, ".%03dZ", (int)(f / 1000000));
    else if (unit % 1000 == 0)
        snprintf(buf + n, cap - (size_t)n, ".%06dZ", (int)(f / 1000));
    else
        snprintf(buf + n, cap - (size_t)n, ".%09dZ", (int)f);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
        return false;
    bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    unsigned long long v = strtoull(hex ? s + 2 : s, &end, hex ? 16 : 10);
    if (errno || *end || end == (hex ? s + 2 : s))
        return false;
    *out = v;
    return true;
}

static int64_t real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct opts {
    struct sf_layout layout;
    bool json;
    const char *time;
    const char *field[3]; /* dc, worker, seq */
};

/* Options common to both verbs (and encode's own), before or after the IDs (getopt
 * permutes them); leaves optind at the first operand. */
static int parse_opts(int argc, char **argv, bool encode, struct opts *o)
{
    static const struct option lo[] = {
        {"layout", required_argument, NULL, 'L'}, {"unit", required_argument, NULL, 'U'},
        {"epoch", required_argument, NULL, 'E'},  {"json", no_argument, NULL, 'j'},
        {"time", required_argument, NULL, 't'},   {"dc", required_argument, NULL, 'd'},
        {"worker", required_argument, NULL, 'w'}, {"seq", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {0},
    };
    memset(o, 0, sizeof(*o));
    o->layout = sf_layout_default;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'L':
            if (sf_layout_parse_bits(optarg, &o->layout) < 0)
                return bad("--layout '%s'", optarg,
                           "expected T/D/W/S, each from 0 to 63 bits, e.g. 41/5/5/12");
            break;
        case 'U':
            if (!lab_parse_duration(optarg, &o->layout.unit_ns) || o->layout.unit_ns <= 0)
                return bad("--unit '%s'", optarg, "expected a positive duration such as 1ms");
            break;
        case 'E':
            if (!strcmp(optarg, "twitter"))
                o->layout.epoch_ns = SF_TWITTER_EPOCH_NS;
            else if (!strcmp(optarg, "unix"))
                o->layout.epoch_ns = 0;
            else if (!parse_time(optarg, &o->layout.epoch_ns))
                return bad("--epoch '%s'", optarg,
                           "expected twitter, unix, 2010-11-04T01:42:54.657Z or Unix ms, "
                           "between 1677 and 2262");
            break;
        case 'j':
            o->json = true;
            break;
        case 't':
        case 'd':
        case 'w':
        case 's':
            if (!encode)
                return bad("'%s' is an option of encode, not decode", argv[optind - 1], NULL);
            if (c == 't')
                o->time = optarg;
            else
                o->field[c == 'd' ? 0 : c == 'w' ? 1 : 2] = optarg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            if (isdigit((unsigned char)argv[optind - 1][1]))
                return bad("'%s' is not an ID", argv[optind - 1], "IDs are non-negative");
            if (optopt && strchr("tdwsLUE", optopt))
                return bad("option '%s' needs a value", argv[optind - 1], NULL);
            return bad("unknown option '%s' (see distlab id --help)", argv[optind - 1], NULL);
        }
    }
    char err[256];
    if (sf_layout_check(&o->layout, real_now(), err, sizeof(err)) < 0)
        return bad("%s", err, NULL);
    return 0;
}

static void print_fields(const struct sf_layout *l, uint64_t id, const struct sf_fields *f,
                         bool json)
{
    char when[64];
    format_time(f->time_ns, l->unit_ns, when, sizeof(when));
    if (json) {
        char ids[24], ts[24];
        snprintf(ids, sizeof(ids), "%" PRIu64, id);
        snprintf(ts, sizeof(ts), "%" PRIu64, f->ts);
        json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:b}", "id", ids, "time", when,
                              "unix_ms", (json_int_t)(f->time_ns / 1000000), "units", ts, "dc",
                              (json_int_t)f->dc, "worker", (json_int_t)f->worker, "seq",
                              (json_int_t)f->seq, "js_safe", id <= JS_MAX_SAFE);
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            puts(text);
        free(text);
        json_decref(o);
    } else {
        printf("%-20" PRIu64 "  %-30s  %5" PRIu64 "  %6" PRIu64 "  %5" PRIu64 "%s\n", id, when,
               f->dc, f->worker, f->seq, id > JS_MAX_SAFE ? "  (not exact as a JS number)" : "");
    }
}

static int cmd_decode(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts(argc, argv, false, &o);
    if (rc)
        return rc < 0 ? LAB_EXIT_OK : rc;
    if (optind >= argc)
        return bad("decode needs at least one ID%s", "",
                   "e.g. distlab id decode 1541815603606036480");
    /* Check every operand before printing any, so output is all or nothing. */
    for (int i = optind; i < argc; i++) {
        uint64_t id;
        struct sf_fields f;
        if (!parse_u64(argv[i], &id))
            return bad("'%s' is not an ID", argv[i], "expected a decimal or 0x-hex integer");
        int drc = sf_decompose(&o.layout, id, &f);
        if (drc == -ERANGE)
            return bad("'%s' has the sign bit set", argv[i], "no layout's ID is that large");
        if (drc < 0)
            return bad("'%s' is past what this layout's time can say", argv[i],
                       "its time field from the epoch is after 2262-04-11, the last time "
                       "of 64-bit Unix nanoseconds");
    }
    if (!o.json)
        printf("%-20s  %-30s  %5s  %6s  %5s\n", "id", "time (UTC)", "dc", "worker", "seq");
    for (int i = optind; i < argc; i++) {
        uint64_t id;
        struct sf_fields f;
        parse_u64(argv[i], &id);
        sf_decompose(&o.layout, id, &f);
        print_fields(&o.layout, id, &f, o.json);
    }
    return LAB_EXIT_OK;
}

static int cmd_encode(int argc, char **argv)
{
    struct opts o;
    int rc = parse_opts(argc, argv, true, &o);
    if (rc)
        return rc < 0 ? LAB_EXIT_OK : rc;
    if (optind < argc)
        return bad("unexpected argument '%s' (encode takes options only)", argv[optind], NULL);
    if (!o.time)
        return bad("encode needs --time%s", "", "e.g. --time 2024-05-01T12:00:00.123Z");
    int64_t t;
    if (!parse_time(o.time, &t))
        return bad("--time '%s'", o.time,
                   "expected 2024-05-01T12:00:00.123Z (with Z or +hh:mm) or Unix ms, "
                   "between 1677 and 2262");
    uint64_t ts, v[3] = {0, 0, 0};
    if (sf_layout_unit(&o.layout, t, &ts) < 0)
        return bad("--time '%s'", o.time,
                   t < o.layout.epoch_ns ? "before the epoch"
                                         : "past the last unit the time field can hold");
    static const char *const names[3] = {"--dc", "--worker", "--seq"};
    uint64_t max[3] = {sf_layout_max_dc(&o.layout), sf_layout_max_worker(&o.layout),
                       sf_layout_max_seq(&o.layout)};
    int bits[3] = {o.layout.dc_bits, o.layout.worker_bits, o.layout.seq_bits};
    for (int k = 0; k < 3; k++) {
        if (!o.field[k])
            continue;
        if (!parse_u64(o.field[k], &v[k]))
            return bad("%s: expected a non-negative integer", names[k], NULL);
        if (v[k] > max[k]) {
            fprintf(stderr,
                    "distlab id: %s %s does not fit %d bits (at most %" PRIu64
                    "); it would spill into the next field\n",
                    names[k], o.field[k], bits[k], max[k]);
            return LAB_EXIT_INPUT;
        }
    }
    uint64_t id;
    if (sf_compose(&o.layout, ts, v[0], v[1], v[2], &id) < 0)
        return bad("cannot compose%s", "", "a field is out of range");
    if (o.json) {
        struct sf_fields f;
        sf_decompose(&o.layout, id, &f);
        print_fields(&o.layout, id, &f, true);
    } else {
        printf("%" PRIu64 "\n", id);
    }
    return LAB_EXIT_OK;
}

int lab_cmd_id(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? LAB_EXIT_INPUT : LAB_EXIT_OK;
    }
    if (!strcmp(argv[1], "decode"))
        return cmd_decode(argc - 1, argv + 1);
    if (!strcmp(argv[1], "encode"))
        return cmd_encode(argc - 1, argv + 1);
    return bad("unknown subcommand '%s'", argv[1], "expected decode or encode");
}
