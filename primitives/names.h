/* names.h - an enum's names in one list: the names of values 0, 1, 2, ... written once,
 * as a macro (e.g. #define LB_POLICY_NAMES "rr", "random", ...). From that list come
 *   - the table:   const char *const lb_policy_names[] = {LB_POLICY_NAMES, NULL};
 *   - the choices of a scenario parameter, "rr|random|...", at compile time:
 *                  NAMES_CHOICES(LB_POLICY_NAMES) (lab/lab.h's struct lab_param);
 * and from the table, the name of a value and the value of a name (names_name,
 * names_value). Pure; O(number of names). */
#ifndef DISTLAB_NAMES_H
#define DISTLAB_NAMES_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

/* The names of a list joined by '|', as one string literal (1 to 12 names). */
#define NAMES_CHOICES(...)                                                                         \
    NAMES__PICK(__VA_ARGS__, NAMES__12, NAMES__11, NAMES__10, NAMES__9, NAMES__8, NAMES__7,        \
                NAMES__6, NAMES__5, NAMES__4, NAMES__3, NAMES__2, NAMES__1, )                      \
    (__VA_ARGS__)
#define NAMES__PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, join, ...) join
#define NAMES__1(a) a
#define NAMES__2(a, ...) a "|" NAMES__1(__VA_ARGS__)
#define NAMES__3(a, ...) a "|" NAMES__2(__VA_ARGS__)
#define NAMES__4(a, ...) a "|" NAMES__3(__VA_ARGS__)
#define NAMES__5(a, ...) a "|" NAMES__4(__VA_ARGS__)
#define NAMES__6(a, ...) a "|" NAMES__5(__VA_ARGS__)
#define NAMES__7(a, ...) a "|" NAMES__6(__VA_ARGS__)
#define NAMES__8(a, ...) a "|" NAMES__7(__VA_ARGS__)
#define NAMES__9(a, ...) a "|" NAMES__8(__VA_ARGS__)
#define NAMES__10(a, ...) a "|" NAMES__9(__VA_ARGS__)
#define NAMES__11(a, ...) a "|" NAMES__10(__VA_ARGS__)
#define NAMES__12(a, ...) a "|" NAMES__11(__VA_ARGS__)

/* The name of value v in a NULL-terminated table, or NULL when it has no such value. */
static inline const char *names_name(const char *const *names, int v)
{
    for (int i = 0; v >= 0 && names[i]; i++)
        if (i == v)
            return names[i];
    return NULL;
}

/* The value named s, or -EINVAL. */
static inline int names_value(const char *const *names, const char *s)
{
    for (int i = 0; s && names[i]; i++)
        if (!strcmp(names[i], s))
            return i;
    return -EINVAL;
}

/* Every name, 'sep' between them, into buf (cap bytes, truncated if short). Returns buf. */
static inline char *names_join(const char *const *names, const char *sep, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap)
        buf[0] = 0;
    for (int i = 0; names[i]; i++) {
        const char *parts[2] = {i ? sep : "", names[i]};
        for (int k = 0; k < 2; k++) {
            size_t n = strlen(parts[k]);
            if (len + n + 1 > cap)
                return buf;
            memcpy(buf + len, parts[k], n + 1);
            len += n;
        }
    }
    return buf;
}

#endif
