#include <stdlib.h>
#include <string.h>

#include "xsd.h"

/* FNV-1a: paths share long prefixes, so every byte must count. */
static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

struct hentry *ht_find(const struct htable *t, const char *key)
{
	uint32_t h;
	struct hentry *e;

	if (!t->size)
		return NULL;
	h = hash_str(key);
	for (e = t->buckets[h & (t->size - 1)]; e; e = e->next)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void ht_grow(struct htable *t)
{
	size_t size = t->size ? t->size * 2 : 64;
	struct hentry **b = xcalloc(size, sizeof(*b));

	for (size_t i = 0; i < t->size; i++) {
		struct hentry *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (size - 1)];
			b[e->hash & (size - 1)] = e;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->size = size;
}

void ht_insert(struct htable *t, struct hentry *e)
{
	struct hentry **slot;

	if (t->count >= t->size)
		ht_grow(t);
	e->hash = hash_str(e->key);
	slot = &t->buckets[e->hash & (t->size - 1)];
	e->next = *slot;
	*slot = e;
	t->count++;
}

void ht_remove(struct htable *t, struct hentry *e)
{
	struct hentry **p = &t->buckets[e->hash & (t->size - 1)];

	for (; *p; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			t->count--;
			return;
		}
	}
}

void ht_drain(struct htable *t, void (*fn)(struct hentry *e))
{
	for (size_t i = 0; i < t->size; i++) {
		struct hentry *e = t->buckets[i], *next;

		t->buckets[i] = NULL;
		for (; e; e = next) {
			next = e->next;
			fn(e);
		}
	}
	t->count = 0;
}

void ht_release(struct htable *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->size = t->count = 0;
}
