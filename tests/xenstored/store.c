/* The node tree and transactions.
 *
 * The store is one hash table from absolute path to node; a node keeps the
 * names of its children so DIRECTORY is a lookup, not a scan.
 *
 * A transaction is an overlay of private node copies. It sees a snapshot
 * of the store taken when it started: before the store changes a node that
 * an open transaction has not captured yet, the old state is captured for
 * it (preserve()). Commit is optimistic: every node the transaction looked
 * at must still carry the generation it had in the snapshot, otherwise
 * someone else changed it and the commit fails with EAGAIN. */
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

static struct node *node_new(const char *path)
{
	struct node *n = xmalloc(sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->h.key = xstrdup(path);
	return n;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	free(n->h.key);
	free(n->value);
	free(n->perms);
	free(n->kids);
	free(n);
}

static struct node *node_dup(const struct node *src)
{
	struct node *n = node_new(src->h.key);

	n->gen = src->gen;
	n->value = xmemdup(src->value, src->vlen);
	n->vlen = src->vlen;
	n->perms = xmemdup(src->perms, src->plen);
	n->plen = src->plen;
	n->kids = xmemdup(src->kids, src->klen);
	n->klen = n->kcap = src->klen;
	return n;
}

void node_set_value(struct node *n, const char *value, size_t len)
{
	free(n->value);
	n->value = xmemdup(value, len);
	n->vlen = len;
}

void node_set_perms(struct node *n, const char *perms, size_t len)
{
	free(n->perms);
	n->perms = xmemdup(perms, len);
	n->plen = len;
}

void node_add_kid(struct node *n, const char *name)
{
	size_t len = strlen(name) + 1;

	if (n->klen + len > n->kcap) {
		n->kcap = (n->klen + len) * 2;
		n->kids = xrealloc(n->kids, n->kcap);
	}
	memcpy(n->kids + n->klen, name, len);
	n->klen += len;
}

void node_del_kid(struct node *n, const char *name)
{
	size_t off = 0;

	while (off < n->klen) {
		size_t len = strlen(n->kids + off) + 1;

		if (strcmp(n->kids + off, name) == 0) {
			memmove(n->kids + off, n->kids + off + len, n->klen - off - len);
			n->klen -= len;
			return;
		}
		off += len;
	}
}

static struct node *store_find(const struct xsd *d, const char *path)
{
	struct hentry *e = ht_find(&d->nodes, path);

	return e ? container_of(e, struct node, h) : NULL;
}

static struct tentry *tentry_add(struct txn *t, const char *path, const struct node *cur)
{
	struct tentry *e = xmalloc(sizeof(*e));

	memset(e, 0, sizeof(*e));
	e->h.key = xstrdup(path);
	e->node = cur ? node_dup(cur) : NULL;
	e->gen = cur ? cur->gen : 0;
	ht_insert(&t->entries, &e->h);
	*t->tail = e;
	t->tail = &e->next;
	return e;
}

/* Must run before the store changes path (cur: its current state). */
static void preserve(struct xsd *d, const char *path, const struct node *cur)
{
	for (struct conn *c = d->conns; c; c = c->next)
		for (struct txn *t = c->txns; t; t = t->next)
			if (!ht_find(&t->entries, path))
				(void)tentry_add(t, path, cur);
}

static struct tentry *tentry_get(struct view *v, const char *path)
{
	struct hentry *h = ht_find(&v->t->entries, path);
	struct tentry *e;

	e = h ? container_of(h, struct tentry, h)
	      : tentry_add(v->t, path, store_find(v->d, path));
	e->accessed = true;
	return e;
}

struct node *view_get(struct view *v, const char *path)
{
	if (!v->t)
		return store_find(v->d, path);
	return tentry_get(v, path)->node;
}

/* The node at path, ready to be changed; NULL when absent. */
struct node *view_edit(struct view *v, const char *path)
{
	struct node *n;

	if (v->t) {
		struct tentry *e = tentry_get(v, path);

		if (!e->node)
			return NULL;
		e->modified = true;
		n = e->node;
	} else {
		n = store_find(v->d, path);
		if (!n)
			return NULL;
		preserve(v->d, path, n);
	}
	n->gen = ++v->d->gen;
	return n;
}

static void parent_of(const char *path, char *out)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash && slash != path ? (size_t)(slash - path) : 1;

	memcpy(out, path, len);
	out[len] = '\0';
}

/* Creates path, which must be absent, under its existing parent. The new
 * node inherits the parent's permissions, as xenstored does for dom0. */
struct node *view_create(struct view *v, const char *path)
{
	char pbuf[XSD_PATH_BUF];
	struct node *parent, *n;

	parent_of(path, pbuf);
	parent = view_edit(v, pbuf);
	if (!parent)
		return NULL;
	n = node_new(path);
	node_set_perms(n, parent->perms, parent->plen);
	n->gen = ++v->d->gen;
	node_add_kid(parent, strrchr(path, '/') + 1);

	if (v->t) {
		struct tentry *e = tentry_get(v, path);

		node_free(e->node);
		e->node = n;
		e->modified = true;
	} else {
		preserve(v->d, path, NULL);
		ht_insert(&v->d->nodes, &n->h);
	}
	return n;
}

/* Drops the node only: the caller fixes the parent's child list. */
void view_delete(struct view *v, const char *path)
{
	struct node *n;

	if (v->t) {
		struct tentry *e = tentry_get(v, path);

		node_free(e->node);
		e->node = NULL;
		e->modified = true;
		return;
	}
	n = store_find(v->d, path);
	if (!n)
		return;
	preserve(v->d, path, n);
	ht_remove(&v->d->nodes, &n->h);
	node_free(n);
}

/* Watches see transactional changes only when (and if) they commit. */
void view_fire(struct view *v, const char *path, enum fire how)
{
	struct tentry *e;

	if (!v->t) {
		fire_watches(v->d, path, how);
		return;
	}
	e = tentry_get(v, path);
	if (how > e->fire)
		e->fire = how;
}

struct txn *txn_new(uint32_t id)
{
	struct txn *t = xmalloc(sizeof(*t));

	memset(t, 0, sizeof(*t));
	t->id = id;
	t->tail = &t->head;
	return t;
}

void txn_free(struct txn *t)
{
	struct tentry *e, *next;

	for (e = t->head; e; e = next) {
		next = e->next;
		node_free(e->node);
		free(e->h.key);
		free(e);
	}
	ht_release(&t->entries);
	free(t);
}

static void commit_entry(struct xsd *d, struct tentry *e)
{
	struct node *old = store_find(d, e->h.key);

	preserve(d, e->h.key, old);
	if (old) {
		ht_remove(&d->nodes, &old->h);
		node_free(old);
	}
	if (e->node) {
		e->node->gen = ++d->gen;
		ht_insert(&d->nodes, &e->node->h);
		e->node = NULL;
	}
}

/* t must already be unlinked from its connection. */
int txn_commit(struct xsd *d, struct txn *t)
{
	struct tentry *e;

	for (e = t->head; e; e = e->next) {
		struct node *cur;

		if (!e->accessed)
			continue;
		cur = store_find(d, e->h.key);
		if ((cur ? cur->gen : 0) != e->gen)
			return -EAGAIN;
	}
	/* Every node whose child list the transaction changed was looked at
	 * and is unchanged, so copying the private nodes back keeps the tree
	 * consistent. */
	for (e = t->head; e; e = e->next)
		if (e->modified)
			commit_entry(d, e);
	for (e = t->head; e; e = e->next)
		if (e->fire != FIRE_NONE)
			fire_watches(d, e->h.key, e->fire);
	return 0;
}

static struct node *add_root(struct xsd *d, const char *path)
{
	struct node *n = node_new(path);

	/* Owned by dom0, nobody else may read: what xenstored starts with. */
	node_set_perms(n, "n0", sizeof("n0"));
	n->gen = ++d->gen;
	ht_insert(&d->nodes, &n->h);
	return n;
}

void store_init(struct xsd *d)
{
	static const char *const initial[] = { "/local", "/local/domain", NULL, "/tool" };
	struct view v = { .d = d };

	(void)add_root(d, "/");
	/* Special watch paths only carry permissions; they are not in the tree. */
	(void)add_root(d, "@introduceDomain");
	(void)add_root(d, "@releaseDomain");
	for (size_t i = 0; i < sizeof(initial) / sizeof(initial[0]); i++)
		(void)view_create(&v, initial[i] ? initial[i] : d->home);
}

static void free_hnode(struct hentry *e)
{
	node_free(container_of(e, struct node, h));
}

void store_free(struct xsd *d)
{
	ht_drain(&d->nodes, free_hnode);
	ht_release(&d->nodes);
}
