/* xenstore access through the real libxenstore. Paths are used as given:
 * relative ones are resolved by xenstored against this domain's home.
 *
 * Every round trip is bounded: a xenstored that never answers must not
 * hold a hotplug run until the toolstack kills it. libxenstore has no
 * timeouts (it retries reads on EINTR, and its socket is not ours to
 * configure), so the calls run on a worker thread of the connection and
 * the caller waits for each at most XSH_OP_TIMEOUT_MS, and never past the
 * connection's deadline. A call that does not come back gives -ETIMEDOUT
 * and leaves the connection (and its thread) abandoned: every later call
 * on it fails at once with -ETIMEDOUT; open a fresh one. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define XSH_OP_TIMEOUT_MS 5000

struct xsh;

/* deadline: CLOCK_MONOTONIC ms (deadline.h), 0 for none. -errno (ENOENT:
 * no xenstored), -ETIMEDOUT. */
int xsh_open(uint64_t deadline, struct xsh **ret);
void xsh_close(struct xsh *h);
void xsh_set_deadline(struct xsh *h, uint64_t deadline);

/* *ret is malloc'd, NUL-terminated; -ENOENT when the key is absent.
 * Values with an embedded NUL are rejected with -EINVAL. */
int xsh_read(struct xsh *h, const char *path, char **ret);
/* Like xsh_read, but an absent key is not an error: 0 with *ret NULL. */
int xsh_read_optional(struct xsh *h, const char *path, char **ret);
/* Same as xsh_read for DIR "/" KEY. */
int xsh_read_at(struct xsh *h, const char *dir, const char *key, char **ret);
int xsh_write_at(struct xsh *h, const char *dir, const char *key, const char *value);
/* Reads paths[0..n) in one call on the worker, bounded as one call:
 * ret[i] malloc'd, NULL when the key is absent. The first other failure
 * fails the whole call (ret untouched, what was read freed) and, if
 * ret_failed is not NULL, sets it to the index of that key, or to n when
 * no single key failed (-ETIMEDOUT, -ENOMEM). */
int xsh_read_many(struct xsh *h, const char *const *paths, size_t n, char **ret, size_t *ret_failed);
/* Like xsh_read_many for DIR "/" NAME, in the same single call preceded
 * by one listing of dir: only the names it lists are read (the others
 * give NULL at no cost). -ENOENT (ret_failed: n) when dir does not exist;
 * a failed listing also names n. */
int xsh_read_listed(struct xsh *h, const char *dir, const char *const *names, size_t n, char **ret,
		    size_t *ret_failed);
/* The names under path: *ret is one malloc'd block (free(*ret) frees all);
 * -ENOENT when path does not exist. */
int xsh_directory(struct xsh *h, const char *path, char ***ret, unsigned *ret_n);

/* The hotplug result under dir, in one transaction and only while dir
 * exists (never recreating a directory the toolstack removed):
 * hotplug-status = status, and hotplug-error = error, or no hotplug-error
 * at all when error is NULL. -ENOENT when dir does not exist (nothing was
 * written). */
int xsh_hotplug_report(struct xsh *h, const char *dir, const char *status, const char *error);
