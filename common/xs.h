/* xenstore access through the real libxenstore. Paths are used as given:
 * relative ones are resolved by xenstored against this domain's home. */
#pragma once

#include <stddef.h>

struct xs_handle;

int xsh_open(struct xs_handle **ret);    /* -errno (ENOENT: no xenstored) */
void xsh_close(struct xs_handle *h);
/* *ret is malloc'd, NUL-terminated; -ENOENT when the key is absent.
 * Values with an embedded NUL are rejected with -EINVAL. */
int xsh_read(struct xs_handle *h, const char *path, char **ret);
/* Like xsh_read, but an absent key is not an error: 0 with *ret NULL. */
int xsh_read_optional(struct xs_handle *h, const char *path, char **ret);
/* Same as xsh_read for DIR "/" KEY. */
int xsh_read_at(struct xs_handle *h, const char *dir, const char *key, char **ret);
int xsh_write_at(struct xs_handle *h, const char *dir, const char *key, const char *value);
