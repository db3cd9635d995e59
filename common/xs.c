#include <stdio.h>
#include <string.h>
#include <xenstore.h>

#include "util.h"
#include "xs.h"

int xsh_open(struct xs_handle **ret)
{
	struct xs_handle *h = xs_open(0);

	if (!h)
		return negative_errno();
	*ret = h;
	return 0;
}

void xsh_close(struct xs_handle *h)
{
	if (h)
		xs_close(h);
}

int xsh_read(struct xs_handle *h, const char *path, char **ret)
{
	unsigned int len = 0;
	char *v;

	v = xs_read(h, XBT_NULL, path, &len);
	if (!v)
		return negative_errno(); /* len is garbage here */
	/* A value is text for us: an embedded NUL would let two readers of the
	 * same key see different strings. */
	if (memchr(v, 0, len)) {
		free(v);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int xsh_read_optional(struct xs_handle *h, const char *path, char **ret)
{
	int r = xsh_read(h, path, ret);

	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	return r;
}

int xsh_read_at(struct xs_handle *h, const char *dir, const char *key, char **ret)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, key) < 0)
		return -ENOMEM;
	return xsh_read(h, path, ret);
}

int xsh_write_at(struct xs_handle *h, const char *dir, const char *key, const char *value)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, key) < 0)
		return -ENOMEM;
	if (!xs_write(h, XBT_NULL, path, value, strlen(value)))
		return negative_errno();
	return 0;
}
