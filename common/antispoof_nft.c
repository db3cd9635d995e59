#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "antispoof_nft.h"
#include "util.h"

void nftas_edits_done(struct nftas_edits *ed)
{
	free(ed->e);
	*ed = (struct nftas_edits){};
}

bool nftas_edits_delete_any(const struct nftas_edits *ed)
{
	for (size_t i = 0; i < ed->n; i++)
		if (ed->e[i].del)
			return true;
	return false;
}

static int push(struct nftas_edits *ed, bool del, const char *set, const char *ifname, const struct ip_addr *a)
{
	struct nftq_elem_edit *e;

	/* The same edit twice would be harmless, but keep the batch exact. */
	for (size_t i = 0; i < ed->n; i++)
		if (ed->e[i].del == del && ed->e[i].set == set && streq(ed->e[i].e.ifname, ifname) &&
		    ip_addr_equal(&ed->e[i].e.addr, a))
			return 0;
	if (ed->n == ed->cap) {
		size_t cap = ed->cap ? ed->cap * 2 : 8;

		e = reallocarray(ed->e, cap, sizeof(*e));
		if (!e)
			return -ENOMEM;
		ed->e = e;
		ed->cap = cap;
	}
	e = &ed->e[ed->n++];
	memset(e, 0, sizeof(*e));
	e->del = del;
	e->set = set;
	snprintf(e->e.ifname, sizeof(e->e.ifname), "%s", ifname);
	e->e.addr = *a;
	return 0;
}

bool nftas_has_allowed(const struct nftas_sets *cur, const char *ifname, const struct ip_addr *a)
{
	for (size_t i = 0; i < cur->n_allowed; i++)
		if (streq(cur->allowed[i].ifname, ifname) && ip_addr_equal(&cur->allowed[i].addr, a))
			return true;
	return false;
}

bool nftas_has_downstream(const struct nftas_sets *cur, const struct ip_addr *a)
{
	for (size_t i = 0; i < cur->n_downstream; i++)
		if (ip_addr_equal(&cur->downstream[i].addr, a))
			return true;
	return false;
}

/* Another vif than ifname has an allowed element for a. */
static bool claimed_by_other(const struct nftas_sets *cur, const char *ifname, const struct ip_addr *a)
{
	for (size_t i = 0; i < cur->n_allowed; i++)
		if (!streq(cur->allowed[i].ifname, ifname) && ip_addr_equal(&cur->allowed[i].addr, a))
			return true;
	return false;
}

static bool in_list(const struct ip_addr *addrs, unsigned n, const struct ip_addr *a)
{
	for (unsigned i = 0; i < n; i++)
		if (ip_addr_equal(&addrs[i], a))
			return true;
	return false;
}

int nftas_plan_ensure(const struct nftas_sets *cur, const char *ifname, const struct ip_addr *addrs,
		      unsigned n_addrs, struct nftas_edits *ret)
{
	int r = 0;

	*ret = (struct nftas_edits){};
	for (unsigned i = 0; i < n_addrs && r >= 0; i++) {
		if (!nftas_has_allowed(cur, ifname, &addrs[i]))
			r = push(ret, false, NFTQ_SET_ALLOWED, ifname, &addrs[i]);
		if (r >= 0 && !nftas_has_downstream(cur, &addrs[i]))
			r = push(ret, false, NFTQ_SET_DOWNSTREAM, "", &addrs[i]);
	}
	/* Stale: from an earlier client of the same vif name. */
	for (size_t i = 0; i < cur->n_allowed && r >= 0; i++) {
		const struct nftq_elem *e = &cur->allowed[i];

		if (!streq(e->ifname, ifname) || in_list(addrs, n_addrs, &e->addr))
			continue;
		r = push(ret, true, NFTQ_SET_ALLOWED, ifname, &e->addr);
		if (r >= 0 && !claimed_by_other(cur, ifname, &e->addr) && nftas_has_downstream(cur, &e->addr))
			r = push(ret, true, NFTQ_SET_DOWNSTREAM, "", &e->addr);
	}
	if (r < 0)
		nftas_edits_done(ret);
	return r;
}

int nftas_plan_remove(const struct nftas_sets *cur, const char *ifname, const struct ip_addr *hint,
		      unsigned n_hint, struct nftas_edits *ret)
{
	int r = 0;

	*ret = (struct nftas_edits){};
	for (size_t i = 0; i < cur->n_allowed && r >= 0; i++) {
		const struct nftq_elem *e = &cur->allowed[i];

		if (!streq(e->ifname, ifname))
			continue;
		r = push(ret, true, NFTQ_SET_ALLOWED, ifname, &e->addr);
		if (r >= 0 && !claimed_by_other(cur, ifname, &e->addr) && nftas_has_downstream(cur, &e->addr))
			r = push(ret, true, NFTQ_SET_DOWNSTREAM, "", &e->addr);
	}
	for (unsigned i = 0; i < n_hint && r >= 0; i++)
		if (!claimed_by_other(cur, ifname, &hint[i]) && nftas_has_downstream(cur, &hint[i]))
			r = push(ret, true, NFTQ_SET_DOWNSTREAM, "", &hint[i]);
	if (r < 0)
		nftas_edits_done(ret);
	return r;
}

int nftas_plan_undo(const struct nftas_sets *cur, const char *ifname, const struct nftas_edits *done,
		    struct nftas_edits *ret)
{
	int r = 0;

	*ret = (struct nftas_edits){};
	for (size_t i = 0; i < done->n && r >= 0; i++) {
		const struct nftq_elem_edit *d = &done->e[i];
		bool downstream = streq(d->set, NFTQ_SET_DOWNSTREAM);

		if (d->del)
			r = push(ret, false, d->set, d->e.ifname, &d->e.addr);
		else if (!downstream || !claimed_by_other(cur, ifname, &d->e.addr))
			r = push(ret, true, d->set, d->e.ifname, &d->e.addr);
	}
	if (r < 0)
		nftas_edits_done(ret);
	return r;
}

unsigned nftas_claimed(const struct nftas_sets *cur, const char *ifname, struct ip_addr *ret, unsigned max)
{
	unsigned n = 0;

	for (size_t i = 0; i < cur->n_allowed && n < max; i++)
		if (streq(cur->allowed[i].ifname, ifname) && !in_list(ret, n, &cur->allowed[i].addr))
			ret[n++] = cur->allowed[i].addr;
	return n;
}
