/* Small helpers shared by every file: cleanup attributes, string tests. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Generates fnp(T **p) calling fn(*p) when non-NULL, for _cleanup_(fnp). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, fn)          \
	static inline void fn##p(type *p)              \
	{                                              \
		if (*p)                                \
			fn(*p);                        \
	}

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* -errno of the last libc failure, never 0 (a libc bug must not read as success). */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}
