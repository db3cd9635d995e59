/* Watches, matched as the real daemon's qubesdb_fire_watches() does: a
 * change of path P (the path of the WRITE or RM, even a subtree RM's "/a/")
 * reaches a watch on W when the first cmp_len bytes of W and P agree. */
#include <stdlib.h>
#include <string.h>

#include "qdbd.h"

/* A second watch on the same path is a second watch: two events per change. */
void watch_add(struct conn *c, const char *path)
{
	struct watch *w = xmalloc(sizeof(*w)), **tail = &c->watches;
	size_t len = strlen(path);

	memset(w, 0, sizeof(*w));
	strcpy(w->path, path);
	w->cmp_len = len > 0 && path[len - 1] == '/' ? len : len + 1;
	while (*tail)
		tail = &(*tail)->next;
	*tail = w;
}

/* Removes one watch on exactly path; -ENOENT when there is none. */
int watch_remove(struct conn *c, const char *path)
{
	for (struct watch **p = &c->watches; *p; p = &(*p)->next) {
		struct watch *w = *p;

		if (strcmp(w->path, path) == 0) {
			*p = w->next;
			free(w);
			return 0;
		}
	}
	return -ENOENT;
}

void watch_free_all(struct conn *c)
{
	while (c->watches) {
		struct watch *w = c->watches;

		c->watches = w->next;
		free(w);
	}
}

void fire_watches(struct qdbd *d, const char *path)
{
	for (struct conn *c = d->conns; c; c = c->next) {
		if (c->dead)
			continue;
		for (struct watch *w = c->watches; w; w = w->next) {
			if (strncmp(w->path, path, w->cmp_len) != 0)
				continue;
			if (d->verbose)
				daemon_log("conn %u: event %s", c->id, path);
			conn_event(c, path);
		}
	}
}
