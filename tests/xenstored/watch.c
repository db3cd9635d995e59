#include <stdlib.h>
#include <string.h>

#include "xsd.h"

void watch_free(struct watch *w)
{
	free(w->path);
	free(w->token);
	free(w);
}

static size_t count_char(const char *s, char ch)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == ch;
	return n;
}

/* Is path base itself or below it, at most depth levels down? */
static bool is_below(const char *path, const char *base, int depth)
{
	size_t len = strlen(base);
	const char *rest;

	if (strcmp(base, "/") == 0) {
		if (path[0] != '/')
			return false;
		/* Below the root, "/a" is one level down, "/a/b" two. */
		rest = path[1] ? path : "";
	} else {
		if (strncmp(path, base, len) != 0 || (path[len] && path[len] != '/'))
			return false;
		rest = path + len;
	}
	return depth < 0 || count_char(rest, '/') <= (size_t)depth;
}

void send_event(struct conn *c, const char *path, const char *token)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	size_t plen = strlen(path) + 1, tlen = strlen(token) + 1;

	/* An event that cannot be sent is dropped, as xenstored does. */
	if (plen + tlen > sizeof(buf))
		return;
	memcpy(buf, path, plen);
	memcpy(buf + plen, token, tlen);
	conn_send(c, XS_WATCH_EVENT, 0, 0, buf, plen + tlen);
}

/* FIRE_SUBTREE: a change of path itself, seen by watches on it and on its
 * ancestors. FIRE_EXACT: a node removed along with an ancestor, seen only
 * by watches on exactly that node. */
void fire_watches(struct xsd *d, const char *path, enum fire how)
{
	for (struct conn *c = d->conns; c; c = c->next) {
		if (c->dead)
			continue;
		for (struct watch *w = c->watches; w; w = w->next) {
			bool hit = how == FIRE_EXACT ? strcmp(path, w->path) == 0
						     : is_below(path, w->path, w->depth);

			if (hit)
				send_event(c, path + w->strip, w->token);
		}
	}
}
