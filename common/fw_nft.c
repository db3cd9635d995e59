/* The nftables backend of fw_antispoof.h: the pure planner of
 * antispoof_nft.h over the kernel's sets, its edits committed in one
 * nf_tables batch for both families. A batch that deletes carries the
 * generation id its decision was made on, so that no concurrent change is
 * lost (a downstream element taken away while another vif just claimed
 * it); pure adds need none, as adding what is there is a no-op. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "antispoof_nft.h"
#include "deadline.h"
#include "fw_backend.h"
#include "util.h"

struct snapshot {
	uint32_t genid;
	struct nftq_elem *allowed, *downstream;
	size_t n_allowed, n_downstream;
	const char *missing; /* the set a dump found missing */
};

static void snapshot_done(struct snapshot *s)
{
	free(s->allowed);
	free(s->downstream);
	*s = (struct snapshot){};
}

static const char *missing_text(int family, const char *set)
{
	static const char *const text[2][2] = {
		{ "set ip qubes allowed is missing (is the Qubes R4.2+ base ruleset loaded?)",
		  "set ip qubes downstream is missing (is the Qubes R4.2+ base ruleset loaded?)" },
		{ "set ip6 qubes allowed is missing (is the Qubes R4.2+ base ruleset loaded?)",
		  "set ip6 qubes downstream is missing (is the Qubes R4.2+ base ruleset loaded?)" },
	};

	return text[family == AF_INET6][streq(set, NFTQ_SET_DOWNSTREAM)];
}

static const char *missing_from_commit(const char *which)
{
	static const char *const names[] = { "ip qubes allowed", "ip qubes downstream", "ip6 qubes allowed",
					     "ip6 qubes downstream" };

	if (!which)
		return "a set of table ip/ip6 qubes is missing (is the Qubes R4.2+ base ruleset loaded?)";
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(which, names[i]))
			return missing_text(i < 2 ? AF_INET : AF_INET6,
					    i % 2 ? NFTQ_SET_DOWNSTREAM : NFTQ_SET_ALLOWED);
	return "a set of table ip/ip6 qubes is missing (is the Qubes R4.2+ base ruleset loaded?)";
}

/* Appends the elements of one set to *all. */
static int list_into(struct nftq *q, int family, const char *set, struct nftq_elem **all, size_t *n_all,
		     const char **ret_missing)
{
	_cleanup_free_ struct nftq_elem *e = NULL;
	struct nftq_elem *grown;
	size_t n = 0;
	int r;

	r = nftq_set_list(q, family, set, &e, &n);
	if (r == -ENOENT)
		*ret_missing = missing_text(family, set);
	if (r < 0 || n == 0)
		return r;
	grown = reallocarray(*all, *n_all + n, sizeof(**all));
	if (!grown)
		return -ENOMEM;
	memcpy(grown + *n_all, e, n * sizeof(*e));
	*all = grown;
	*n_all += n;
	return 0;
}

/* The generation first: a decision taken on these lists is committed only
 * if nothing changed after they were read. */
static int take_snapshot(struct nftq *q, bool with_downstream, struct snapshot *s)
{
	static const int families[] = { AF_INET, AF_INET6 };
	int r;

	*s = (struct snapshot){};
	r = nftq_genid(q, &s->genid);
	for (size_t i = 0; i < 2 && r >= 0; i++) {
		r = list_into(q, families[i], NFTQ_SET_ALLOWED, &s->allowed, &s->n_allowed, &s->missing);
		if (r >= 0 && with_downstream)
			r = list_into(q, families[i], NFTQ_SET_DOWNSTREAM, &s->downstream, &s->n_downstream,
				      &s->missing);
	}
	if (r < 0) {
		const char *missing = s->missing;

		snapshot_done(s);
		s->missing = missing;
	}
	return r;
}

static struct nftas_sets sets_of(const struct snapshot *s)
{
	return (struct nftas_sets){
		.allowed = s->allowed,
		.n_allowed = s->n_allowed,
		.downstream = s->downstream,
		.n_downstream = s->n_downstream,
	};
}

enum mode { ENSURE, UNDO, REMOVE };

struct job {
	enum mode mode;
	const char *ifname;
	const struct ip_addr *addrs; /* ENSURE: the client's; REMOVE: hint */
	unsigned n_addrs;
	const struct nftas_edits *done; /* UNDO */
	struct nftas_edits made;        /* the edits committed */
	const char *missing;
};

/* Plans on a fresh snapshot and commits; a concurrent commit in between
 * (-ERESTART) starts it over, for as long as the caller's bound allows. */
static int run(struct nftq *q, struct job *j, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	unsigned pause_us = 100;

	for (;;) {
		struct snapshot s;
		struct nftas_sets cur;
		struct nftas_edits ed = {};
		int r;

		r = take_snapshot(q, true, &s);
		if (r < 0) {
			j->missing = s.missing;
			return r;
		}
		cur = sets_of(&s);
		switch (j->mode) {
		case ENSURE:
			r = nftas_plan_ensure(&cur, j->ifname, j->addrs, j->n_addrs, &ed);
			break;
		case UNDO:
			r = nftas_plan_undo(&cur, j->ifname, j->done, &ed);
			break;
		case REMOVE:
			r = nftas_plan_remove(&cur, j->ifname, j->addrs, j->n_addrs, &ed);
			break;
		}
		if (r >= 0 && ed.n > 0) {
			const char *which = NULL;

			r = nftq_elems_commit(q, ed.e, ed.n, nftas_edits_delete_any(&ed) ? s.genid : 0, &which);
			if (r == -ENOENT)
				j->missing = missing_from_commit(which);
		}
		snapshot_done(&s);
		if (r >= 0) {
			j->made = ed;
			return (int)ed.n;
		}
		nftas_edits_done(&ed);
		if (r != -ERESTART || now_ms() >= deadline)
			return r;
		/* Another commit won the race: back off a little, with jitter
		 * so that many vifs coming up at once do not collide again. */
		nanosleep(&(struct timespec){ .tv_nsec = (long)(pause_us + (unsigned)rand() % pause_us) * 1000 },
			  NULL);
		if (pause_us < 5000)
			pause_us *= 2;
	}
}

static void free_edits(void *data)
{
	nftas_edits_done(data);
	free(data);
}

int nft_antispoof_ensure(struct nftq *q, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			 unsigned timeout_ms, struct fw_done *done, const char **ret_detail)
{
	struct job j = { .mode = ENSURE, .ifname = ifname, .addrs = addrs, .n_addrs = n_addrs };
	struct nftas_edits *made;
	int r = run(q, &j, timeout_ms);

	if (r < 0) {
		*ret_detail = j.missing;
		return r;
	}
	made = malloc(sizeof(*made));
	if (!made) {
		nftas_edits_done(&j.made);
		return -ENOMEM;
	}
	*made = j.made;
	done->data = made;
	done->free_data = free_edits;
	return r;
}

int nft_antispoof_undo(struct nftq *q, const char *ifname, const struct fw_done *done, unsigned timeout_ms)
{
	struct job j = { .mode = UNDO, .ifname = ifname, .done = done->data };
	int r;

	if (!done->data)
		return 0;
	r = run(q, &j, timeout_ms);
	nftas_edits_done(&j.made);
	return r < 0 ? r : 0;
}

int nft_antispoof_remove(struct nftq *q, const char *ifname, const struct ip_addr *hint, unsigned n_hint,
			 unsigned timeout_ms)
{
	struct job j = { .mode = REMOVE, .ifname = ifname, .addrs = hint, .n_addrs = n_hint };
	int r = run(q, &j, timeout_ms);

	nftas_edits_done(&j.made);
	/* No sets, no elements: nothing of this vif to take away. */
	return r == -ENOENT ? 0 : r < 0 ? r : 0;
}

int nft_antispoof_claimed(struct nftq *q, const char *ifname, struct ip_addr *ret, unsigned max, unsigned *ret_n)
{
	struct snapshot s;
	struct nftas_sets cur;
	int r;

	r = take_snapshot(q, false, &s);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	cur = sets_of(&s);
	*ret_n += nftas_claimed(&cur, ifname, ret + *ret_n, max - *ret_n);
	snapshot_done(&s);
	return 0;
}

static const char *key_text(const struct nftq_elem *e, const char *set, char *buf, size_t len)
{
	char a[IP_ADDR_STRLEN];

	snprintf(buf, len, "%s qubes %s %s%s%s%s", e->addr.family == AF_INET ? "ip" : "ip6", set,
		 e->ifname[0] ? "\"" : "", e->ifname, e->ifname[0] ? "\" . " : "", ip_addr_to_string(&e->addr, a));
	return buf;
}

int nft_antispoof_check(struct nftq *q, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			struct fw_report *ret)
{
	struct snapshot s;
	struct nftas_sets cur;
	int r = 0;

	r = take_snapshot(q, true, &s);
	if (r == -ENOENT)
		return fw_report_add(ret, "missing", "set", "%s", s.missing);
	if (r < 0)
		return r;
	cur = sets_of(&s);
	for (unsigned i = 0; i < n_addrs && r >= 0; i++) {
		struct nftq_elem e = { .addr = addrs[i] };
		char text[128];

		snprintf(e.ifname, sizeof(e.ifname), "%s", ifname);
		r = fw_report_add(ret, nftas_has_allowed(&cur, ifname, &addrs[i]) ? "ok" : "missing", "element", "%s",
				  key_text(&e, NFTQ_SET_ALLOWED, text, sizeof(text)));
		e.ifname[0] = 0;
		if (r >= 0)
			r = fw_report_add(ret, nftas_has_downstream(&cur, &addrs[i]) ? "ok" : "missing", "element",
					  "%s", key_text(&e, NFTQ_SET_DOWNSTREAM, text, sizeof(text)));
	}
	for (size_t i = 0; i < cur.n_allowed && r >= 0; i++) {
		const struct nftq_elem *e = &cur.allowed[i];
		bool wanted = false;
		char text[128];

		for (unsigned k = 0; k < n_addrs; k++)
			wanted |= ip_addr_equal(&addrs[k], &e->addr);
		if (streq(e->ifname, ifname) && !wanted)
			r = fw_report_add(ret, "stale", "element", "%s -- for an address %s's client does not have",
					  key_text(e, NFTQ_SET_ALLOWED, text, sizeof(text)), ifname);
	}
	snapshot_done(&s);
	return r < 0 ? r : 0;
}

void nft_antispoof_describe(bool remove, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			    char *buf, size_t len)
{
	size_t off;

	if (remove) {
		snprintf(buf, len,
			 "delete every element of %s from sets ip/ip6 qubes allowed, and the downstream ones no "
			 "other vif claims",
			 ifname);
		return;
	}
	if (n_addrs == 0) {
		snprintf(buf, len,
			 "no set elements for %s (group 2 drops all it sends); delete any it has from ip/ip6 qubes "
			 "allowed",
			 ifname);
		return;
	}
	off = (size_t)snprintf(buf, len, "add in one batch to sets of table ip/ip6 qubes:");
	for (unsigned i = 0; i < n_addrs && off < len; i++) {
		struct nftq_elem e = { .addr = addrs[i] };
		char a[128], d[128];

		snprintf(e.ifname, sizeof(e.ifname), "%s", ifname);
		key_text(&e, NFTQ_SET_ALLOWED, a, sizeof(a));
		e.ifname[0] = 0;
		key_text(&e, NFTQ_SET_DOWNSTREAM, d, sizeof(d));
		off += (size_t)snprintf(buf + off, len - off, "%s [%s], [%s]", i ? "," : "", a, d);
	}
	if (off < len)
		snprintf(buf + off, len - off, "; delete %s's other elements", ifname);
}
