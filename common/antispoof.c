#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "antispoof.h"
#include "util.h"

void antispoof_ops_done(struct antispoof_ops *ops)
{
	free(ops->op);
	*ops = (struct antispoof_ops){};
}

static int push_op(struct antispoof_ops *ops, bool insert, unsigned pos, const struct ipt_drop_rule *rule)
{
	if (ops->n == ops->cap) {
		size_t cap = ops->cap ? ops->cap * 2 : 16;
		struct antispoof_op *n = reallocarray(ops->op, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		ops->op = n;
		ops->cap = cap;
	}
	ops->op[ops->n++] = (struct antispoof_op){ .insert = insert, .pos = pos, .rule = *rule };
	return 0;
}

unsigned antispoof_wanted(int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			  struct ipt_drop_rule *ret)
{
	unsigned n = 0, used = 0;

	for (unsigned i = 0; i < n_addrs && used < 16; i++) {
		const struct ip_addr *a = &addrs[i];

		if (a->family != family)
			continue;
		used++;
		ret[n] = (struct ipt_drop_rule){ .family = family, .has_src = true, .src_inv = true, .src = *a };
		snprintf(ret[n].iface, sizeof(ret[n].iface), "%s", ifname);
		n++;
		ret[n] = (struct ipt_drop_rule){ .family = family, .iface_inv = true, .has_src = true, .src = *a };
		strcpy(ret[n].iface, "vif+");
		n++;
	}
	if (n == 0) {
		ret[n] = (struct ipt_drop_rule){ .family = family };
		snprintf(ret[n].iface, sizeof(ret[n].iface), "%s", ifname);
		n++;
	}
	return n;
}

/* A rule of the shapes that protect ifname: "-i IFNAME ! -s A -j DROP" or
 * "-i IFNAME -j DROP". Other DROP rules naming it are an administrator's,
 * and harmless to its client: they stay. */
static bool keyed_by(const struct ipt_rule_view *v, const char *ifname)
{
	return v->is_drop_rule && !v->drop.iface_inv && strncmp(v->drop.iface, ifname, IFNAME_MAX) == 0 &&
	       (!v->drop.has_src || v->drop.src_inv);
}

/* "-i X ! -s A" for an exact X: the vif X claims A. */
static bool claims(const struct ipt_rule_view *v, const struct ip_addr *a)
{
	const struct ipt_drop_rule *d = &v->drop;
	size_t len = strnlen(d->iface, IFNAME_MAX);

	return v->is_drop_rule && !d->iface_inv && len > 0 && d->iface[len - 1] != '+' && d->has_src &&
	       d->src_inv && ip_addr_equal(&d->src, a);
}

/* "! -i vif+ -s A". */
static bool is_twin_of(const struct ipt_drop_rule *d, const struct ip_addr *a)
{
	return d->iface_inv && streq(d->iface, "vif+") && d->has_src && !d->src_inv &&
	       (!a || ip_addr_equal(&d->src, a));
}

static void twin_of(const struct ip_addr *a, struct ipt_drop_rule *ret)
{
	*ret = (struct ipt_drop_rule){ .family = a->family, .iface_inv = true, .has_src = true, .src = *a };
	strcpy(ret->iface, "vif+");
}

/* The chain as the planned edits leave it, for rules that were there:
 * gone[i] once deleted. Inserted rules are ifname's own and claim nothing
 * for another vif, so they need no place here. */
struct chain {
	const struct ipt_rule_view *r;
	size_t n;
	bool *gone;
};

static int chain_init(struct chain *c, const struct ipt_rule_view *rules, size_t n)
{
	c->r = rules;
	c->n = n;
	c->gone = calloc(n ? n : 1, sizeof(bool));
	return c->gone ? 0 : -ENOMEM;
}

static void chain_done(struct chain *c)
{
	free(c->gone);
	c->gone = NULL;
}

/* Deletes every copy of rule (as libiptc deletes the first match, one op
 * per copy). */
static int delete_all(struct chain *c, const struct ipt_drop_rule *rule, struct antispoof_ops *ops)
{
	for (size_t i = 0; i < c->n; i++) {
		int r;

		if (c->gone[i] || !c->r[i].is_drop_rule || !ipt_drop_rule_equal(&c->r[i].drop, rule))
			continue;
		r = push_op(ops, false, 0, rule);
		if (r < 0)
			return r;
		c->gone[i] = true;
	}
	return 0;
}

static bool claimed_by_other(const struct chain *c, const struct ip_addr *a, const char *ifname)
{
	for (size_t i = 0; i < c->n; i++)
		if (!c->gone[i] && claims(&c->r[i], a) && !keyed_by(&c->r[i], ifname))
			return true;
	return false;
}

static int drop_unclaimed_twin(struct chain *c, const struct ip_addr *a, const char *ifname,
			       struct antispoof_ops *ops)
{
	struct ipt_drop_rule twin;

	if (claimed_by_other(c, a, ifname))
		return 0;
	twin_of(a, &twin);
	return delete_all(c, &twin, ops);
}

static bool in_list(const struct ipt_drop_rule *rule, const struct ipt_drop_rule *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ipt_drop_rule_equal(rule, &list[i]))
			return true;
	return false;
}

static bool has_addr(const struct ip_addr *a, const struct ip_addr *list, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (ip_addr_equal(a, &list[i]))
			return true;
	return false;
}

/* The first rule above index `below` (or anywhere, below = n) that may
 * accept what wanted rule w drops: -1 when none. */
static long first_defeater(const struct chain *c, size_t below, const struct ipt_drop_rule *w)
{
	for (size_t i = 0; i < below && i < c->n; i++) {
		const struct ipt_rule_view *v = &c->r[i];

		if (c->gone[i] || v->verdict != IPT_VERDICT_MAY_ACCEPT)
			continue;
		if (w->iface_inv ? ipt_rule_view_may_match_non_vif(v) : ipt_rule_view_matches_iface(v, w->iface))
			return (long)i;
	}
	return -1;
}

/* Index of the first copy of w still in the chain, or c->n. */
static size_t find(const struct chain *c, const struct ipt_drop_rule *w)
{
	for (size_t i = 0; i < c->n; i++)
		if (!c->gone[i] && c->r[i].is_drop_rule && ipt_drop_rule_equal(&c->r[i].drop, w))
			return i;
	return c->n;
}

int antispoof_plan_ensure(const struct ipt_rule_view *rules, size_t n_rules, int family, const char *ifname,
			  const struct ip_addr *addrs, unsigned n_addrs, struct antispoof_ops *ret)
{
	struct ipt_drop_rule wanted[ANTISPOOF_MAX_WANTED];
	struct ip_addr stale_addrs[64];
	unsigned n_wanted, n_stale = 0, pos = 0;
	bool defeated = false;
	struct chain c;
	int r;

	n_wanted = antispoof_wanted(family, ifname, addrs, n_addrs, wanted);
	r = chain_init(&c, rules, n_rules);
	if (r < 0)
		return r;

	/* Rules of an earlier client under this name would drop the new one's
	 * traffic: they go, and the R2 that only they claimed. */
	for (size_t i = 0; i < n_rules && r >= 0; i++) {
		const struct ipt_rule_view *v = &rules[i];

		if (c.gone[i] || !keyed_by(v, ifname) || in_list(&v->drop, wanted, n_wanted))
			continue;
		if (v->drop.has_src && v->drop.src_inv && !has_addr(&v->drop.src, addrs, n_addrs) &&
		    !has_addr(&v->drop.src, stale_addrs, n_stale) && n_stale < ELEMENTSOF(stale_addrs))
			stale_addrs[n_stale++] = v->drop.src;
		r = delete_all(&c, &v->drop, ret);
	}
	for (unsigned i = 0; i < n_stale && r >= 0; i++)
		r = drop_unclaimed_twin(&c, &stale_addrs[i], ifname, ret);

	/* Ours must come first: if anything above one of them may accept
	 * what it drops, all of them move to the top. */
	for (unsigned i = 0; i < n_wanted && r >= 0 && !defeated; i++) {
		size_t at = find(&c, &wanted[i]);

		defeated = at < c.n && first_defeater(&c, at, &wanted[i]) >= 0;
	}
	for (unsigned i = 0; i < n_wanted && r >= 0 && defeated; i++)
		r = delete_all(&c, &wanted[i], ret);
	for (unsigned i = 0; i < n_wanted && r >= 0; i++)
		if (find(&c, &wanted[i]) == c.n)
			r = push_op(ret, true, pos++, &wanted[i]);
	chain_done(&c);
	return r < 0 ? r : 0;
}

int antispoof_plan_remove(const struct ipt_rule_view *rules, size_t n_rules, int family, const char *ifname,
			  const struct ip_addr *hint, unsigned n_hint, struct antispoof_ops *ret)
{
	struct ip_addr addrs[64];
	unsigned n = 0;
	struct chain c;
	int r;

	for (unsigned i = 0; i < n_hint && n < ELEMENTSOF(addrs); i++)
		if (hint[i].family == family && !has_addr(&hint[i], addrs, n))
			addrs[n++] = hint[i];
	r = chain_init(&c, rules, n_rules);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_rules && r >= 0; i++) {
		const struct ipt_rule_view *v = &rules[i];

		if (c.gone[i] || !keyed_by(v, ifname))
			continue;
		if (claims(v, &v->drop.src) && !has_addr(&v->drop.src, addrs, n) && n < ELEMENTSOF(addrs))
			addrs[n++] = v->drop.src;
		r = delete_all(&c, &v->drop, ret);
	}
	for (unsigned i = 0; i < n && r >= 0; i++)
		r = drop_unclaimed_twin(&c, &addrs[i], ifname, ret);
	chain_done(&c);
	return r < 0 ? r : 0;
}

unsigned antispoof_claimed(const struct ipt_rule_view *rules, size_t n_rules, const char *ifname,
			   struct ip_addr *ret, unsigned max)
{
	unsigned n = 0;

	for (size_t i = 0; i < n_rules && n < max; i++)
		if (keyed_by(&rules[i], ifname) && claims(&rules[i], &rules[i].drop.src) &&
		    !has_addr(&rules[i].drop.src, ret, n))
			ret[n++] = rules[i].drop.src;
	return n;
}

int antispoof_plan_undo(const struct ipt_rule_view *rules, size_t n_rules, const char *ifname,
			const struct antispoof_ops *done, struct antispoof_ops *ret)
{
	struct chain c;
	unsigned pos = 0;
	int r;

	r = chain_init(&c, rules, n_rules);
	if (r < 0)
		return r;
	/* What ensure inserted goes: ifname's own rules first, so that an R2
	 * is judged by the claims that remain after them. */
	for (size_t i = 0; i < done->n && r >= 0; i++) {
		const struct antispoof_op *o = &done->op[i];
		size_t at;

		if (!o->insert || is_twin_of(&o->rule, NULL))
			continue;
		at = find(&c, &o->rule);
		if (at < c.n) {
			r = push_op(ret, false, 0, &o->rule);
			c.gone[at] = true;
		}
	}
	for (size_t i = 0; i < done->n && r >= 0; i++) {
		const struct antispoof_op *o = &done->op[i];
		size_t at;

		if (!o->insert || !is_twin_of(&o->rule, NULL) || claimed_by_other(&c, &o->rule.src, ifname))
			continue;
		at = find(&c, &o->rule);
		if (at < c.n) {
			r = push_op(ret, false, 0, &o->rule);
			c.gone[at] = true;
		}
	}
	/* What it deleted comes back, in its order, at the top. */
	for (size_t i = 0; i < done->n && r >= 0; i++)
		if (!done->op[i].insert)
			r = push_op(ret, true, pos++, &done->op[i].rule);
	chain_done(&c);
	return r < 0 ? r : 0;
}

int antispoof_check(const struct ipt_rule_view *rules, size_t n_rules, int family, const char *ifname,
		    const struct ip_addr *addrs, unsigned n_addrs, struct antispoof_report *ret)
{
	struct ipt_drop_rule wanted[ANTISPOOF_MAX_WANTED];
	struct chain c;
	int r;

	*ret = (struct antispoof_report){};
	ret->n = antispoof_wanted(family, ifname, addrs, n_addrs, wanted);
	r = chain_init(&c, rules, n_rules);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < ret->n; i++) {
		size_t at = find(&c, &wanted[i]);

		ret->item[i] = (struct antispoof_item){ .rule = wanted[i], .present = at < c.n, .defeated_by = -1 };
		if (at < c.n)
			ret->item[i].defeated_by = first_defeater(&c, at, &wanted[i]);
	}
	for (size_t i = 0; i < n_rules; i++) {
		if (!keyed_by(&rules[i], ifname) || in_list(&rules[i].drop, wanted, ret->n))
			continue;
		if (!ret->stale) {
			ret->stale = calloc(n_rules, sizeof(size_t));
			if (!ret->stale) {
				chain_done(&c);
				return -ENOMEM;
			}
		}
		ret->stale[ret->n_stale++] = i;
	}
	chain_done(&c);
	return 0;
}

void antispoof_report_done(struct antispoof_report *r)
{
	free(r->stale);
	r->stale = NULL;
	r->n_stale = 0;
}
