/* The keys: one array sorted by strcmp(), searched by bisection. The real
 * daemon keeps a sorted list; the order is what clients see. */
#include <stdlib.h>
#include <string.h>

#include "qdbd.h"

void store_free(struct store *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].value);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

size_t store_lower_bound(const struct store *s, const char *prefix)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(s->v[mid].path, prefix) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct entry *store_get(const struct store *s, const char *path)
{
	size_t i = store_lower_bound(s, path);

	return i < s->n && strcmp(s->v[i].path, path) == 0 ? &s->v[i] : NULL;
}

/* path is a valid key (path_is_key), value has no NUL. */
void store_set(struct store *s, const char *path, const char *value, size_t len)
{
	size_t i = store_lower_bound(s, path);
	struct entry *e;

	if (i < s->n && strcmp(s->v[i].path, path) == 0) {
		e = &s->v[i];
		free(e->value);
	} else {
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 64;
			s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
		}
		memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
		s->n++;
		e = &s->v[i];
		memset(e, 0, sizeof(*e));
		strcpy(e->path, path);
	}
	e->value = xmemdup(value, len);
	e->len = len;
}

size_t store_remove(struct store *s, const char *path)
{
	size_t len = strlen(path), first, end;
	bool subtree = len > 0 && path[len - 1] == '/';

	first = store_lower_bound(s, path);
	end = first;
	if (subtree) {
		while (end < s->n && strncmp(s->v[end].path, path, len) == 0)
			end++;
	} else if (end < s->n && strcmp(s->v[end].path, path) == 0) {
		end++;
	}
	for (size_t i = first; i < end; i++)
		free(s->v[i].value);
	memmove(&s->v[first], &s->v[end], (s->n - end) * sizeof(*s->v));
	s->n -= end - first;
	return end - first;
}
