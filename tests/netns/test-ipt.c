/* The x_tables layer against the real kernel, each test in its own network
 * namespace with a private XTABLES_LOCKFILE (the checked fixture). What we
 * write is checked through iptables-legacy's own output, and what
 * iptables-legacy writes is read back through our functions. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>

#include "ipt.h"
#include "testlib.h"

/* ---- helpers ---- */

static struct ipt_drop_rule drop(int family, const char *iface, bool iface_inv, const char *src, bool src_inv)
{
	struct ipt_drop_rule r = { .family = family, .iface_inv = iface_inv, .has_src = src != NULL, .src_inv = src_inv };

	ck_assert(strlen(iface) < sizeof(r.iface));
	strcpy(r.iface, iface);
	if (src)
		ck_assert_int_eq(ip_addr_parse(src, family, &r.src), 0);
	return r;
}

static struct ipt_dnat_rule dnat(const char *dst, uint8_t proto, uint16_t port, const char *to)
{
	struct ipt_dnat_rule r;

	memset(&r, 0, sizeof(r)); /* padding too: compared with memcmp */
	r.proto = proto;
	r.dport = port;
	ck_assert_int_eq(inet_pton(AF_INET, dst, &r.dst), 1);
	ck_assert_int_eq(inet_pton(AF_INET, to, &r.to), 1);
	return r;
}

static const char *cmd(int family)
{
	return family == AF_INET ? "iptables-legacy" : "ip6tables-legacy";
}

/* The "-A" lines of TABLE as iptables-legacy-save prints them (malloc'd). */
static char *saved(int family, const char *table)
{
	return tl_sh("%s-save -t %s | { grep '^-A' || true; }", cmd(family), table);
}

static void assert_saved(int family, const char *table, const char *expect)
{
	_cleanup_free_ char *out = saved(family, table);

	ck_assert_str_eq(out, expect);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static size_t count_lines(const char *text, const char *line)
{
	size_t n = 0, len = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += len)
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			n++;
	return n;
}

/* ---- edit callbacks ---- */

#define MAX_OPS 8

enum op_kind { OP_INSERT, OP_DELETE, OP_CHECK };

struct op {
	enum op_kind kind;
	struct ipt_drop_rule rule;
	unsigned pos; /* OP_INSERT */
};

/* Runs the ops in order on chain PREROUTING, records each result; stops at
 * the first error and returns it, else returns ret. */
struct drop_tx {
	struct op ops[MAX_OPS];
	size_t n;
	int ret;
	int results[MAX_OPS];
	unsigned calls;
};

static int edit_drop_ops(struct ipt_table *t, void *userdata)
{
	struct drop_tx *tx = userdata;

	tx->calls++;
	for (size_t i = 0; i < tx->n; i++) {
		const struct op *o = &tx->ops[i];
		int r;

		switch (o->kind) {
		case OP_INSERT:
			r = ipt_drop_insert(t, "PREROUTING", &o->rule, o->pos);
			break;
		case OP_DELETE:
			r = ipt_drop_delete(t, "PREROUTING", &o->rule);
			break;
		default:
			r = ipt_drop_check(t, "PREROUTING", &o->rule);
			break;
		}
		tx->results[i] = r;
		if (r < 0)
			return r;
	}
	return tx->ret;
}

static void tx_add(struct drop_tx *tx, enum op_kind kind, struct ipt_drop_rule r, unsigned pos)
{
	ck_assert_uint_lt(tx->n, MAX_OPS);
	tx->ops[tx->n++] = (struct op){ .kind = kind, .rule = r, .pos = pos };
}

static int run_one(enum op_kind kind, struct ipt_drop_rule r, unsigned pos, int ret)
{
	struct drop_tx tx = { .ret = ret };
	int k;

	tx_add(&tx, kind, r, pos);
	k = ipt_transaction(r.family, "raw", edit_drop_ops, &tx);
	return k < 0 ? k : tx.results[0];
}

/* ---- DROP rules in the raw table ---- */

/* The anti-spoof shapes and what iptables-legacy-save prints for them. */
struct shape {
	const char *iface;
	bool iface_inv;
	const char *src;
	bool src_inv;
	const char *args; /* for iptables-legacy */
	const char *saved;
};

static const struct shape shapes4[] = {
	{ "vif3.0", false, "10.137.0.5", true, "-i vif3.0 ! -s 10.137.0.5",
	  "-A PREROUTING ! -s 10.137.0.5/32 -i vif3.0 -j DROP\n" },
	{ "vif+", true, "10.137.0.5", false, "! -i vif+ -s 10.137.0.5",
	  "-A PREROUTING -s 10.137.0.5/32 ! -i vif+ -j DROP\n" },
	{ "vif3.0", false, NULL, false, "-i vif3.0",
	  "-A PREROUTING -i vif3.0 -j DROP\n" },
};

static const struct shape shapes6[] = {
	{ "vif3.0", false, "fd09:24ef:4179::a89:5", true, "-i vif3.0 ! -s fd09:24ef:4179::a89:5",
	  "-A PREROUTING ! -s fd09:24ef:4179::a89:5/128 -i vif3.0 -j DROP\n" },
	{ "vif+", true, "fd09:24ef:4179::a89:5", false, "! -i vif+ -s fd09:24ef:4179::a89:5",
	  "-A PREROUTING -s fd09:24ef:4179::a89:5/128 ! -i vif+ -j DROP\n" },
	{ "vif3.0", false, NULL, false, "-i vif3.0",
	  "-A PREROUTING -i vif3.0 -j DROP\n" },
};

static const struct shape *shapes(int family)
{
	return family == AF_INET ? shapes4 : shapes6;
}

static struct ipt_drop_rule shape_rule(int family, unsigned i)
{
	const struct shape *s = &shapes(family)[i];

	return drop(family, s->iface, s->iface_inv, s->src, s->src_inv);
}

static int family_of(int i)
{
	return i == 0 ? AF_INET : AF_INET6;
}

/* Inserts shape 0 at the top, shape 1 at the top, shape 2 at position 1, in
 * three transactions; the result must be what iptables-legacy makes of
 * "-I PREROUTING 1", "-I PREROUTING 1", "-I PREROUTING 2" of the same rules. */
START_TEST(test_drop_insert_matches_iptables)
{
	const int family = family_of(_i);
	const struct shape *s = shapes(family);
	_cleanup_free_ char *ours = NULL, *theirs = NULL;
	char expect[512];

	ck_assert_int_eq(run_one(OP_INSERT, shape_rule(family, 0), 0, 1), 0);
	ck_assert_int_eq(run_one(OP_INSERT, shape_rule(family, 1), 0, 1), 0);
	ck_assert_int_eq(run_one(OP_INSERT, shape_rule(family, 2), 1, 1), 0);
	snprintf(expect, sizeof(expect), "%s%s%s", s[1].saved, s[2].saved, s[0].saved);
	ours = saved(family, "raw");
	ck_assert_str_eq(ours, expect);

	free(tl_sh("%s -t raw -F PREROUTING", cmd(family)));
	assert_saved(family, "raw", "");
	free(tl_sh("%s -t raw -I PREROUTING 1 %s -j DROP", cmd(family), s[0].args));
	free(tl_sh("%s -t raw -I PREROUTING 1 %s -j DROP", cmd(family), s[1].args));
	free(tl_sh("%s -t raw -I PREROUTING 2 %s -j DROP", cmd(family), s[2].args));
	theirs = saved(family, "raw");
	ck_assert_str_eq(theirs, ours);
}
END_TEST

/* Several ops in one transaction: one commit with all of them. */
START_TEST(test_drop_insert_one_transaction)
{
	const int family = family_of(_i);
	const struct shape *s = shapes(family);
	struct drop_tx tx = { .ret = 1 };
	char expect[512];

	for (unsigned i = 0; i < 3; i++)
		tx_add(&tx, OP_INSERT, shape_rule(family, i), i);
	ck_assert_int_eq(ipt_transaction(family, "raw", edit_drop_ops, &tx), 1);
	ck_assert_uint_eq(tx.calls, 1);
	snprintf(expect, sizeof(expect), "%s%s%s", s[0].saved, s[1].saved, s[2].saved);
	assert_saved(family, "raw", expect);
}
END_TEST

/* Rules written by iptables-legacy are found and deleted by us. */
START_TEST(test_drop_interop_from_iptables)
{
	const int family = family_of(_i);
	const struct shape *s = shapes(family);
	struct drop_tx tx = { .ret = 0 };

	for (unsigned i = 0; i < 3; i++)
		free(tl_sh("%s -t raw -A PREROUTING %s -j DROP", cmd(family), s[i].args));
	/* A rule that differs only in a part we never write must not count. */
	free(tl_sh("%s -t raw -A PREROUTING -i vif3.0 -p tcp -j DROP", cmd(family)));

	for (unsigned i = 0; i < 3; i++)
		tx_add(&tx, OP_CHECK, shape_rule(family, i), 0);
	/* Near misses: another vif, exact "vif" for the "vif+" prefix, no
	 * inversion, a /128-vs-prefix... all absent. */
	tx_add(&tx, OP_CHECK, drop(family, "vif3.1", false, NULL, false), 0);
	tx_add(&tx, OP_CHECK, drop(family, "vif", true, s[1].src, false), 0);
	tx_add(&tx, OP_CHECK, drop(family, "vif3.0", false, s[0].src, false), 0);
	tx_add(&tx, OP_CHECK, drop(family, "vif+", false, s[1].src, false), 0);
	ck_assert_int_eq(ipt_transaction(family, "raw", edit_drop_ops, &tx), 0);
	ck_assert_int_eq(tx.results[0], 1);
	ck_assert_int_eq(tx.results[1], 1);
	ck_assert_int_eq(tx.results[2], 1);
	ck_assert_int_eq(tx.results[3], 0);
	ck_assert_int_eq(tx.results[4], 0);
	ck_assert_int_eq(tx.results[5], 0);
	ck_assert_int_eq(tx.results[6], 0);

	tx = (struct drop_tx){ .ret = 1 };
	for (unsigned i = 0; i < 3; i++)
		tx_add(&tx, OP_DELETE, shape_rule(family, i), 0);
	ck_assert_int_eq(ipt_transaction(family, "raw", edit_drop_ops, &tx), 1);
	assert_saved(family, "raw", "-A PREROUTING -i vif3.0 -p tcp -j DROP\n");
}
END_TEST

/* Rules written by us are found (-C) and deleted (-D) by iptables-legacy. */
START_TEST(test_drop_interop_to_iptables)
{
	const int family = family_of(_i);
	const struct shape *s = shapes(family);

	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(run_one(OP_INSERT, shape_rule(family, i), 0, 1), 0);
	for (unsigned i = 0; i < 3; i++) {
		free(tl_sh("%s -t raw -C PREROUTING %s -j DROP", cmd(family), s[i].args));
		free(tl_sh("%s -t raw -D PREROUTING %s -j DROP", cmd(family), s[i].args));
	}
	assert_saved(family, "raw", "");
}
END_TEST

START_TEST(test_drop_absent)
{
	const int family = family_of(_i);
	struct drop_tx tx = { .ret = 0 };

	ck_assert_int_eq(run_one(OP_CHECK, shape_rule(family, 0), 0, 0), 0);
	ck_assert_int_eq(run_one(OP_DELETE, shape_rule(family, 0), 0, 1), -ENOENT);
	/* Past the end of the (empty) chain. */
	ck_assert_int_eq(run_one(OP_INSERT, shape_rule(family, 0), 1, 1), -E2BIG);
	assert_saved(family, "raw", "");

	/* Present now: delete works once, then -ENOENT. */
	ck_assert_int_eq(run_one(OP_INSERT, shape_rule(family, 0), 0, 1), 0);
	ck_assert_int_eq(run_one(OP_CHECK, shape_rule(family, 0), 0, 0), 1);
	tx_add(&tx, OP_DELETE, shape_rule(family, 0), 0);
	tx_add(&tx, OP_CHECK, shape_rule(family, 0), 0);
	tx_add(&tx, OP_DELETE, shape_rule(family, 0), 0);
	ck_assert_int_eq(ipt_transaction(family, "raw", edit_drop_ops, &tx), -ENOENT);
	ck_assert_int_eq(tx.results[0], 0);
	ck_assert_int_eq(tx.results[1], 0);
	ck_assert_int_eq(tx.results[2], -ENOENT);
	/* ... and that failed edit committed nothing: the rule is still there. */
	ck_assert_int_eq(run_one(OP_CHECK, shape_rule(family, 0), 0, 0), 1);
}
END_TEST

struct chain_probe {
	int family;
	int results[8];
};

static int edit_bad_args(struct ipt_table *t, void *userdata)
{
	struct chain_probe *p = userdata;
	struct ipt_drop_rule r = shape_rule(p->family, 2);
	struct ipt_drop_rule other = shape_rule(p->family == AF_INET ? AF_INET6 : AF_INET, 2);

	ck_assert_int_eq(ipt_table_family(t), p->family);
	p->results[0] = ipt_drop_check(t, "NOSUCH", &r);
	p->results[1] = ipt_drop_delete(t, "NOSUCH", &r);
	p->results[2] = ipt_drop_insert(t, "NOSUCH", &r, 0);
	p->results[3] = ipt_drop_check(t, "PREROUTING", &other);
	p->results[4] = ipt_drop_insert(t, "PREROUTING", &other, 0);
	p->results[5] = ipt_drop_check(t, "THIS-CHAIN-NAME-IS-FAR-TOO-LONG-FOR-XTABLES", &r);
	p->results[6] = ipt_drop_check(t, "", &r);
	return 0;
}

START_TEST(test_drop_bad_args)
{
	struct chain_probe p = { .family = family_of(_i) };

	ck_assert_int_eq(ipt_transaction(p.family, "raw", edit_bad_args, &p), 0);
	ck_assert_int_eq(p.results[0], -ENOENT);
	ck_assert_int_eq(p.results[1], -ENOENT);
	ck_assert_int_eq(p.results[2], -ENOENT);
	ck_assert_int_eq(p.results[3], -EAFNOSUPPORT);
	ck_assert_int_eq(p.results[4], -EAFNOSUPPORT);
	ck_assert_int_eq(p.results[5], -EINVAL);
	ck_assert_int_eq(p.results[6], -EINVAL);
}
END_TEST

/* An edit that returns 0 commits nothing, even if it changed the handle. */
START_TEST(test_edit_zero_commits_nothing)
{
	_cleanup_free_ char *counters = NULL;

	free(tl_sh("printf '*raw\\n:PREROUTING ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\n"
		   "[7:420] -A PREROUTING -s 10.1.1.1/32 -j DROP\\nCOMMIT\\n' | iptables-legacy-restore -c"));
	ck_assert_int_eq(run_one(OP_INSERT, shape_rule(AF_INET, 0), 0, 0), 0);
	counters = tl_sh("iptables-legacy-save -c -t raw | { grep '^\\[' || true; }");
	ck_assert_str_eq(counters, "[7:420] -A PREROUTING -s 10.1.1.1/32 -j DROP\n");
}
END_TEST

/* An edit that fails commits nothing, even after changing the handle. */
START_TEST(test_edit_error_commits_nothing)
{
	const int family = family_of(_i);
	struct drop_tx tx = { .ret = -EIO };

	tx_add(&tx, OP_INSERT, shape_rule(family, 0), 0);
	tx_add(&tx, OP_INSERT, shape_rule(family, 1), 0);
	ck_assert_int_eq(ipt_transaction(family, "raw", edit_drop_ops, &tx), -EIO);
	ck_assert_int_eq(tx.results[0], 0);
	ck_assert_int_eq(tx.results[1], 0);
	assert_saved(family, "raw", "");
}
END_TEST

static int edit_noop(struct ipt_table *t, void *userdata)
{
	return 0;
}

START_TEST(test_transaction_bad_args)
{
	ck_assert_int_eq(ipt_transaction(AF_UNSPEC, "raw", edit_noop, NULL), -EAFNOSUPPORT);
	ck_assert_int_eq(ipt_transaction(AF_INET, "no-such-table", edit_noop, NULL), -ENOENT);
	ck_assert_int_eq(ipt_transaction(AF_INET6, "no-such-table", edit_noop, NULL), -ENOENT);
	ck_assert_int_eq(ipt_transaction(AF_INET, "a-table-name-far-too-long-for-x-tables", edit_noop, NULL), -EINVAL);
}
END_TEST

/* Our encoding is byte for byte what iptables-legacy stores (the parts
 * libiptc compares: the header up to the counters, match and target). */
START_TEST(test_layout_equals_iptables)
{
	const int family = family_of(_i);
	const struct shape *s = shapes(family);
	struct xtc_handle *h;
	unsigned i = 0;

	for (unsigned k = 0; k < 3; k++)
		free(tl_sh("%s -t raw -A PREROUTING %s -j DROP", cmd(family), s[k].args));

	if (family == AF_INET) {
		const struct ipt_entry *e;

		h = iptc_init("raw");
		ck_assert_ptr_nonnull(h);
		for (e = iptc_first_rule("PREROUTING", h); e; e = iptc_next_rule(e, h), i++) {
			struct ipt_drop_rule r = shape_rule(family, i);
			_cleanup_free_ void *mine = NULL;
			const struct ipt_entry *m;
			size_t size;

			ck_assert_int_eq(ipt_drop_rule_encode(&r, &mine, &size), 0);
			m = mine;
			ck_assert_mem_eq(&m->ip, &e->ip, sizeof(e->ip));
			ck_assert_uint_eq(m->nfcache, e->nfcache);
			ck_assert_uint_eq(m->target_offset, e->target_offset);
			ck_assert_uint_eq(m->next_offset, e->next_offset);
			ck_assert_uint_eq(size, e->next_offset);
		}
		iptc_free(h);
	} else {
		const struct ip6t_entry *e;

		h = ip6tc_init("raw");
		ck_assert_ptr_nonnull(h);
		for (e = ip6tc_first_rule("PREROUTING", h); e; e = ip6tc_next_rule(e, h), i++) {
			struct ipt_drop_rule r = shape_rule(family, i);
			_cleanup_free_ void *mine = NULL;
			const struct ip6t_entry *m;
			size_t size;

			ck_assert_int_eq(ipt_drop_rule_encode(&r, &mine, &size), 0);
			m = mine;
			ck_assert_mem_eq(&m->ipv6, &e->ipv6, sizeof(e->ipv6));
			ck_assert_uint_eq(m->nfcache, e->nfcache);
			ck_assert_uint_eq(m->target_offset, e->target_offset);
			ck_assert_uint_eq(m->next_offset, e->next_offset);
			ck_assert_uint_eq(size, e->next_offset);
		}
		ip6tc_free(h);
	}
	ck_assert_uint_eq(i, 3);
}
END_TEST

START_TEST(test_dnat_layout_equals_iptables)
{
	const struct ipt_dnat_rule want[] = {
		dnat("10.139.1.1", IPPROTO_UDP, 53, "192.168.1.1"),
		dnat("10.139.1.2", IPPROTO_TCP, 5353, "10.0.2.3"),
	};
	const struct ipt_entry *e;
	struct xtc_handle *h;
	unsigned i = 0;

	free(tl_sh("iptables-legacy -t nat -A PREROUTING -d 10.139.1.1 -p udp --dport 53 -j DNAT --to-destination 192.168.1.1"));
	free(tl_sh("iptables-legacy -t nat -A PREROUTING -d 10.139.1.2 -p tcp --dport 5353 -j DNAT --to-destination 10.0.2.3"));
	h = iptc_init("nat");
	ck_assert_ptr_nonnull(h);
	for (e = iptc_first_rule("PREROUTING", h); e; e = iptc_next_rule(e, h), i++) {
		_cleanup_free_ void *mine = NULL;
		const struct ipt_entry *m;
		const struct xt_entry_match *mm, *em;
		const struct xt_entry_target *mt, *et;
		size_t size;

		ck_assert_uint_lt(i, ELEMENTSOF(want));
		ck_assert_int_eq(ipt_dnat_rule_encode(&want[i], &mine, &size), 0);
		m = mine;
		ck_assert_mem_eq(&m->ip, &e->ip, sizeof(e->ip));
		ck_assert_uint_eq(m->nfcache, e->nfcache);
		ck_assert_uint_eq(m->target_offset, e->target_offset);
		ck_assert_uint_eq(m->next_offset, e->next_offset);
		mm = (const void *)m->elems;
		em = (const void *)e->elems;
		ck_assert_uint_eq(mm->u.user.match_size, em->u.user.match_size);
		ck_assert_str_eq(mm->u.user.name, em->u.user.name);
		ck_assert_uint_eq(mm->u.user.revision, em->u.user.revision);
		ck_assert_mem_eq(mm->data, em->data, mm->u.user.match_size - sizeof(*mm));
		mt = (const void *)((const char *)m + m->target_offset);
		et = (const void *)((const char *)e + e->target_offset);
		ck_assert_uint_eq(mt->u.user.target_size, et->u.user.target_size);
		ck_assert_str_eq(mt->u.user.name, et->u.user.name);
		ck_assert_uint_eq(mt->u.user.revision, et->u.user.revision);
		ck_assert_mem_eq(mt->data, et->data, mt->u.user.target_size - sizeof(*mt));
	}
	iptc_free(h);
	ck_assert_uint_eq(i, 2);
}
END_TEST

/* ---- the nat table: PR-QBS ---- */

#define NAT_CHAIN "PR-QBS"

struct dnat_tx {
	const struct ipt_dnat_rule *rules;
	size_t n;
	bool fail_after; /* return -EIO after all the changes */
	/* out */
	int listed;
	size_t n_listed;
	struct ipt_dnat_rule got[8];
};

/* What setup-dnat-to-ns does: make sure PR-QBS exists and is jumped to from
 * PREROUTING, then replace its content if it differs. */
static int edit_dnat_sync(struct ipt_table *t, void *userdata)
{
	struct dnat_tx *tx = userdata;
	bool changed = false;
	int r;

	r = ipt_chain_exists(t, NAT_CHAIN);
	if (r < 0)
		return r;
	if (r == 0) {
		r = ipt_chain_create(t, NAT_CHAIN);
		if (r < 0)
			return r;
		changed = true;
	}
	r = ipt_jump_check(t, "PREROUTING", NAT_CHAIN);
	if (r < 0)
		return r;
	if (r == 0) {
		r = ipt_jump_append(t, "PREROUTING", NAT_CHAIN);
		if (r < 0)
			return r;
		changed = true;
	}

	tx->listed = ipt_dnat_list(t, NAT_CHAIN, tx->got, ELEMENTSOF(tx->got), &tx->n_listed);
	if (tx->listed < 0 && tx->listed != -EBADMSG)
		return tx->listed;
	if (tx->listed < 0 || tx->n_listed != tx->n ||
	    memcmp(tx->got, tx->rules, tx->n * sizeof(*tx->rules)) != 0) {
		r = ipt_chain_flush(t, NAT_CHAIN);
		if (r < 0)
			return r;
		for (size_t i = 0; i < tx->n; i++) {
			r = ipt_dnat_append(t, NAT_CHAIN, &tx->rules[i]);
			if (r < 0)
				return r;
		}
		changed = true;
	}
	if (tx->fail_after)
		return -EIO;
	return changed;
}

static const char nat_restore_head[] =
	"*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
	":POSTROUTING ACCEPT [0:0]\n:PR-QBS - [0:0]\n-A PREROUTING -j PR-QBS\n";

static void nat_restore(const char *rules)
{
	free(tl_sh("printf '%%s%%sCOMMIT\\n' '%s' '%s' | iptables-legacy-restore", nat_restore_head, rules));
}

static const char four_rules_saved[] =
	"-A PREROUTING -j PR-QBS\n"
	"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1\n"
	"-A PR-QBS -d 10.139.1.1/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 192.168.1.1\n"
	"-A PR-QBS -d 10.139.1.2/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.2\n"
	"-A PR-QBS -d 10.139.1.2/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 192.168.1.2\n";

static void four_rules(struct ipt_dnat_rule ret[4])
{
	ret[0] = dnat("10.139.1.1", IPPROTO_UDP, 53, "192.168.1.1");
	ret[1] = dnat("10.139.1.1", IPPROTO_TCP, 53, "192.168.1.1");
	ret[2] = dnat("10.139.1.2", IPPROTO_UDP, 53, "192.168.1.2");
	ret[3] = dnat("10.139.1.2", IPPROTO_TCP, 53, "192.168.1.2");
}

START_TEST(test_nat_setup)
{
	struct ipt_dnat_rule rules[4];
	struct dnat_tx tx = { .rules = rules, .n = 4 };
	_cleanup_free_ char *chains = NULL;

	four_rules(rules);
	ck_assert_int_eq(ipt_transaction(AF_INET, "nat", edit_dnat_sync, &tx), 1);
	assert_saved(AF_INET, "nat", four_rules_saved);
	chains = tl_sh("iptables-legacy-save -t nat | grep '^:PR-QBS'");
	ck_assert_str_eq(chains, ":PR-QBS - [0:0]\n");

	/* Again: everything in place, nothing to commit, no duplicate jump. */
	tx = (struct dnat_tx){ .rules = rules, .n = 4 };
	ck_assert_int_eq(ipt_transaction(AF_INET, "nat", edit_dnat_sync, &tx), 0);
	ck_assert_int_eq(tx.listed, 0);
	ck_assert_uint_eq(tx.n_listed, 4);
	assert_saved(AF_INET, "nat", four_rules_saved);
}
END_TEST

/* Rules written by iptables-legacy-restore read back identically. */
START_TEST(test_nat_list_from_restore)
{
	struct ipt_dnat_rule rules[4];
	struct dnat_tx tx = { .rules = rules, .n = 4 };

	four_rules(rules);
	nat_restore("-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1\n"
		    "-A PR-QBS -d 10.139.1.1/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 192.168.1.1\n"
		    "-A PR-QBS -d 10.139.1.2/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.2\n"
		    "-A PR-QBS -d 10.139.1.2/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 192.168.1.2\n");
	ck_assert_int_eq(ipt_transaction(AF_INET, "nat", edit_dnat_sync, &tx), 0);
	ck_assert_int_eq(tx.listed, 0);
	ck_assert_uint_eq(tx.n_listed, 4);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_uint_eq(tx.got[i].dst.s_addr, rules[i].dst.s_addr);
		ck_assert_uint_eq(tx.got[i].proto, rules[i].proto);
		ck_assert_uint_eq(tx.got[i].dport, rules[i].dport);
		ck_assert_uint_eq(tx.got[i].to.s_addr, rules[i].to.s_addr);
	}
}
END_TEST

struct list_probe {
	struct ipt_dnat_rule got[2];
	size_t n;
	int r;
};

static int edit_list_two(struct ipt_table *t, void *userdata)
{
	struct list_probe *p = userdata;

	p->r = ipt_dnat_list(t, NAT_CHAIN, p->got, 2, &p->n);
	return 0;
}

START_TEST(test_nat_list_max)
{
	struct ipt_dnat_rule rules[4];
	struct list_probe p = { 0 };

	four_rules(rules);
	nat_restore("-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1\n"
		    "-A PR-QBS -d 10.139.1.1/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 192.168.1.1\n"
		    "-A PR-QBS -d 10.139.1.2/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.2\n");
	ck_assert_int_eq(ipt_transaction(AF_INET, "nat", edit_list_two, &p), 0);
	ck_assert_int_eq(p.r, 0);
	ck_assert_uint_eq(p.n, 3); /* the chain's length, though only 2 fit */
	ck_assert_mem_eq(&p.got[0], &rules[0], sizeof(rules[0]));
	ck_assert_mem_eq(&p.got[1], &rules[1], sizeof(rules[1]));

	/* Empty chain. */
	nat_restore("");
	p = (struct list_probe){ .n = 99 };
	ck_assert_int_eq(ipt_transaction(AF_INET, "nat", edit_list_two, &p), 0);
	ck_assert_int_eq(p.r, 0);
	ck_assert_uint_eq(p.n, 0);
}
END_TEST

/* Anything in PR-QBS that is not one of our rules makes the chain "foreign". */
static const char *const foreign_rules[] = {
	"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j ACCEPT\n",
	"-A PR-QBS -j RETURN\n",
	"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1:5353\n",
	"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1-192.168.1.2\n",
	"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1 --random\n",
	"-A PR-QBS -s 10.0.0.0/8 -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -d 10.139.1.0/24 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS ! -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -i eth0 -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53:54 -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp ! --dport 53 -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --sport 1000 --dport 53 -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -d 10.139.1.1/32 -p tcp -m tcp --dport 53 --tcp-flags SYN,ACK SYN -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -d 10.139.1.1/32 -p udp -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -m comment --comment x -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -d 10.139.1.1/32 -p icmp -j DNAT --to-destination 192.168.1.1\n",
	"-A PR-QBS -d 10.139.1.1/32 -j DNAT --to-destination 192.168.1.1\n",
};

START_TEST(test_nat_foreign_rule)
{
	struct ipt_dnat_rule rules[4];
	struct dnat_tx tx = { .rules = rules, .n = 4 };
	char buf[512];

	four_rules(rules);
	/* A good rule, then the foreign one. */
	snprintf(buf, sizeof(buf), "%s%s",
		 "-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1\n",
		 foreign_rules[_i]);
	nat_restore(buf);
	ck_assert_int_eq(ipt_transaction(AF_INET, "nat", edit_dnat_sync, &tx), 1);
	ck_assert_int_eq(tx.listed, -EBADMSG);
	/* The sync replaced the chain with ours. */
	assert_saved(AF_INET, "nat", four_rules_saved);
}
END_TEST

/* Flush + append in one transaction: one commit, all or nothing. */
START_TEST(test_nat_replace_atomic)
{
	struct ipt_dnat_rule rules[2] = {
		dnat("10.139.1.1", IPPROTO_UDP, 53, "10.0.2.3"),
		dnat("10.139.1.1", IPPROTO_TCP, 53, "10.0.2.3"),
	};
	struct dnat_tx tx = { .rules = rules, .n = 2, .fail_after = true };
	static const char two_saved[] =
		"-A PREROUTING -j PR-QBS\n"
		"-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 10.0.2.3\n"
		"-A PR-QBS -d 10.139.1.1/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 10.0.2.3\n";

	nat_restore("-A PR-QBS -d 10.139.1.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.1\n"
		    "-A PR-QBS -d 10.139.1.1/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 192.168.1.1\n"
		    "-A PR-QBS -d 10.139.1.2/32 -p udp -m udp --dport 53 -j DNAT --to-destination 192.168.1.2\n"
		    "-A PR-QBS -d 10.139.1.2/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 192.168.1.2\n");

	/* Flushed and appended in the handle, then failed: nothing changed. */
	ck_assert_int_eq(ipt_transaction(AF_INET, "nat", edit_dnat_sync, &tx), -EIO);
	assert_saved(AF_INET, "nat", four_rules_saved);

	tx = (struct dnat_tx){ .rules = rules, .n = 2 };
	ck_assert_int_eq(ipt_transaction(AF_INET, "nat", edit_dnat_sync, &tx), 1);
	assert_saved(AF_INET, "nat", two_saved);
}
END_TEST

struct nat_errors {
	int family;
	int r[12];
};

static int edit_nat_errors(struct ipt_table *t, void *userdata)
{
	struct nat_errors *p = userdata;
	struct ipt_dnat_rule d = dnat("10.139.1.1", IPPROTO_UDP, 53, "192.168.1.1");
	struct ipt_dnat_rule bad = dnat("10.139.1.1", IPPROTO_ICMP, 53, "192.168.1.1");
	struct ipt_dnat_rule got[1];
	size_t n;

	p->r[0] = ipt_chain_create(t, "PREROUTING");
	p->r[1] = ipt_chain_flush(t, "NOSUCH");
	p->r[2] = ipt_jump_append(t, "PREROUTING", "NOSUCH");
	p->r[3] = ipt_jump_check(t, "NOSUCH", "PREROUTING");
	p->r[4] = ipt_jump_check(t, "PREROUTING", "NOSUCH");
	p->r[5] = ipt_dnat_list(t, "NOSUCH", got, 1, &n);
	p->r[6] = ipt_dnat_append(t, "PREROUTING", &bad);
	p->r[7] = ipt_chain_create(t, "THIS-CHAIN-NAME-IS-FAR-TOO-LONG-FOR-XTABLES");
	p->r[8] = ipt_chain_exists(t, "NOSUCH");
	p->r[9] = ipt_chain_exists(t, "PREROUTING");
	if (p->family == AF_INET6) {
		p->r[10] = ipt_dnat_list(t, "PREROUTING", got, 1, &n);
		p->r[11] = ipt_dnat_append(t, "PREROUTING", &d);
	}
	return 0;
}

START_TEST(test_nat_errors)
{
	struct nat_errors p = { .family = AF_INET };

	ck_assert_int_eq(ipt_transaction(AF_INET, "nat", edit_nat_errors, &p), 0);
	ck_assert_int_eq(p.r[0], -EEXIST);
	ck_assert_int_eq(p.r[1], -ENOENT);
	ck_assert_int_eq(p.r[2], -ENOENT);
	ck_assert_int_eq(p.r[3], -ENOENT);
	ck_assert_int_eq(p.r[4], 0);
	ck_assert_int_eq(p.r[5], -ENOENT);
	ck_assert_int_eq(p.r[6], -EPROTONOSUPPORT);
	ck_assert_int_eq(p.r[7], -EINVAL);
	ck_assert_int_eq(p.r[8], 0);
	ck_assert_int_eq(p.r[9], 1);

	p = (struct nat_errors){ .family = AF_INET6 };
	ck_assert_int_eq(ipt_transaction(AF_INET6, "nat", edit_nat_errors, &p), 0);
	ck_assert_int_eq(p.r[0], -EEXIST);
	ck_assert_int_eq(p.r[10], -EAFNOSUPPORT);
	ck_assert_int_eq(p.r[11], -EAFNOSUPPORT);
}
END_TEST

static int edit_v6_chain_jump(struct ipt_table *t, void *userdata)
{
	int r;

	r = ipt_chain_create(t, "QBS-TEST");
	if (r < 0)
		return r;
	r = ipt_jump_append(t, "INPUT", "QBS-TEST");
	if (r < 0)
		return r;
	r = ipt_jump_check(t, "INPUT", "QBS-TEST");
	return r == 1 ? 1 : -EBADE;
}

static int edit_v6_jump_present(struct ipt_table *t, void *userdata)
{
	return ipt_jump_check(t, "INPUT", "QBS-TEST") == 1 && ipt_chain_exists(t, "QBS-TEST") == 1 ? 0 : -EBADE;
}

/* Chains and jumps work for IPv6 too (and a jump written by ip6tables is found). */
START_TEST(test_chain_jump_v6)
{
	_cleanup_free_ char *chains = NULL;

	ck_assert_int_eq(ipt_transaction(AF_INET6, "filter", edit_v6_chain_jump, NULL), 1);
	assert_saved(AF_INET6, "filter", "-A INPUT -j QBS-TEST\n");
	chains = tl_sh("ip6tables-legacy-save -t filter | grep '^:QBS'");
	ck_assert_str_eq(chains, ":QBS-TEST - [0:0]\n");
	free(tl_sh("ip6tables-legacy -F INPUT && ip6tables-legacy -A INPUT -j QBS-TEST"));
	ck_assert_int_eq(ipt_transaction(AF_INET6, "filter", edit_v6_jump_present, NULL), 0);
}
END_TEST

/* ---- the lock ---- */

/* A child that takes the xtables lock, signals it, and holds it for hold_ms
 * (or until killed when hold_ms < 0). */
static pid_t lock_holder(int hold_ms)
{
	int p[2];
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fd = open(xt_lock_path(), O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || flock(fd, LOCK_EX) < 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		if (hold_ms < 0)
			for (;;)
				pause();
		usleep(hold_ms * 1000);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static int wait_child(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(test_lock_waits_for_holder)
{
	struct timespec t0;
	pid_t holder;
	long ms;

	holder = lock_holder(300);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(run_one(OP_INSERT, shape_rule(AF_INET, 2), 0, 1), 0);
	ms = ms_since(&t0);
	ck_assert_int_eq(wait_child(holder), 0);
	ck_assert_msg(ms >= 250 && ms < 2000, "waited %ld ms", ms);
	assert_saved(AF_INET, "raw", shapes4[2].saved);
}
END_TEST

START_TEST(test_lock_timeout)
{
	struct timespec t0;
	pid_t holder;
	long ms;

	holder = lock_holder(-1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(xt_lock_acquire(200), -ETIMEDOUT);
	ms = ms_since(&t0);
	ck_assert_msg(ms >= 195 && ms < 400, "timed out after %ld ms", ms);
	kill(holder, SIGKILL);
	ck_assert_int_eq(wait_child(holder), 128 + SIGKILL);

	/* Released with the holder's death. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		int fd = xt_lock_acquire(200);

		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	ck_assert_int_lt(ms_since(&t0), 50);
}
END_TEST

/* iptables-legacy takes the very same lock. */
START_TEST(test_lock_blocks_iptables)
{
	struct timespec t0;
	int fd, r;
	long ms;

	fd = xt_lock_acquire(0);
	ck_assert_int_ge(fd, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = tl_run(NULL, "iptables-legacy -w 1 -t raw -A PREROUTING -s 1.2.3.4 -j DROP 2>/dev/null");
	ms = ms_since(&t0);
	ck_assert_int_eq(r, 4); /* "Another app is currently holding the xtables lock" */
	ck_assert_msg(ms >= 900, "iptables-legacy gave up after %ld ms", ms);
	assert_saved(AF_INET, "raw", "");

	close(fd);
	free(tl_sh("iptables-legacy -w 1 -t raw -A PREROUTING -s 1.2.3.4 -j DROP"));
	assert_saved(AF_INET, "raw", "-A PREROUTING -s 1.2.3.4/32 -j DROP\n");
}
END_TEST

/* ---- concurrency ---- */

struct racing_tx {
	char other_lock[64];
	unsigned calls;
	int writer;
};

/* On its first call, a writer that ignores our lock changes the table between
 * our init and our commit: the commit gets EAGAIN and the transaction redoes. */
static int edit_with_racing_writer(struct ipt_table *t, void *userdata)
{
	struct racing_tx *rt = userdata;
	struct ipt_drop_rule r = shape_rule(AF_INET, 2);
	int k;

	if (rt->calls++ == 0)
		rt->writer = tl_run(NULL, "XTABLES_LOCKFILE=%s iptables-legacy -t raw -A PREROUTING -s 1.2.3.4 -j DROP",
				    rt->other_lock);
	k = ipt_drop_check(t, "PREROUTING", &r);
	if (k != 0)
		return k < 0 ? k : 0;
	k = ipt_drop_insert(t, "PREROUTING", &r, 0);
	return k < 0 ? k : 1;
}

START_TEST(test_concurrent_replace_retries)
{
	struct racing_tx rt = { .other_lock = "/tmp/qvt-other-xtlock.XXXXXX" };
	int fd;

	fd = mkstemp(rt.other_lock);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(ipt_transaction(AF_INET, "raw", edit_with_racing_writer, &rt), 1);
	unlink(rt.other_lock);
	ck_assert_int_eq(rt.writer, 0);
	ck_assert_uint_eq(rt.calls, 2);
	assert_saved(AF_INET, "raw", "-A PREROUTING -i vif3.0 -j DROP\n-A PREROUTING -s 1.2.3.4/32 -j DROP\n");
}
END_TEST

#define STRESS_PROCS 16
#define STRESS_TX 20
#define STRESS_LOOP 200

static pid_t spawn_sh(const char *command)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stress_worker(unsigned p)
{
	for (unsigned i = 0; i < STRESS_TX; i++) {
		struct drop_tx tx = { .ret = 1 };
		char iface[IFNAME_MAX];

		snprintf(iface, sizeof(iface), "vif%u.%u", p, i);
		tx.ops[tx.n++] = (struct op){ .kind = OP_INSERT, .rule = drop(AF_INET, iface, false, NULL, false) };
		if (ipt_transaction(AF_INET, "raw", edit_drop_ops, &tx) != 1)
			_exit(1);
		/* Spread over the shell loop's run time (~250 ms here). */
		usleep((5 + (p + i) % 10) * 1000);
	}
	_exit(0);
}

START_TEST(test_stress)
{
	pid_t workers[STRESS_PROCS], looper;
	char loop[512];
	_cleanup_free_ char *out = NULL;
	struct timespec t0;
	unsigned deleted = STRESS_LOOP / 3;

	/* Every third run deletes one of the rules the two before added. */
	snprintf(loop, sizeof(loop),
		 "i=0; while [ $i -lt %d ]; do i=$((i+1));"
		 " if [ $((i %% 3)) -eq 0 ]; then op=-D; else op=-A; fi;"
		 " iptables-legacy -w -t raw $op PREROUTING -s 9.9.9.9 -j DROP || exit 1; done",
		 STRESS_LOOP);
	/* Make the table exist before everyone races for it. */
	free(tl_sh("iptables-legacy -t raw -S >/dev/null"));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	looper = spawn_sh(loop);
	fflush(NULL);
	for (unsigned p = 0; p < STRESS_PROCS; p++) {
		workers[p] = fork();
		ck_assert_int_ge(workers[p], 0);
		if (workers[p] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			stress_worker(p);
		}
	}
	for (unsigned p = 0; p < STRESS_PROCS; p++)
		ck_assert_msg(wait_child(workers[p]) == 0, "worker %u failed", p);
	ck_assert_int_eq(wait_child(looper), 0);
	fprintf(stderr, "stress: %u transactions + %u iptables-legacy runs in %ld ms\n",
		STRESS_PROCS * STRESS_TX, STRESS_LOOP, ms_since(&t0));

	out = tl_sh("iptables-legacy-save -t raw | { grep '^-A' || true; }");
	for (unsigned p = 0; p < STRESS_PROCS; p++)
		for (unsigned i = 0; i < STRESS_TX; i++) {
			char line[64];

			snprintf(line, sizeof(line), "-A PREROUTING -i vif%u.%u -j DROP", p, i);
			ck_assert_msg(count_lines(out, line) == 1, "%s: %zu times", line, count_lines(out, line));
		}
	ck_assert_uint_eq(count_lines(out, "-A PREROUTING -s 9.9.9.9/32 -j DROP"), (STRESS_LOOP - deleted) - deleted);
	/* Nothing else. */
	{
		size_t lines = 0;

		for (const char *c = out; *c; c++)
			lines += *c == '\n';
		ck_assert_uint_eq(lines, STRESS_PROCS * STRESS_TX + (STRESS_LOOP - deleted) - deleted);
	}
}
END_TEST

/* ---- timing ---- */

START_TEST(test_timing)
{
	const unsigned n = 200;
	struct timespec t0;
	long ms;

	/* First use loads and registers the tables in this netns. */
	ck_assert_int_eq(run_one(OP_CHECK, shape_rule(AF_INET, 0), 0, 0), 0);
	ck_assert_int_eq(run_one(OP_CHECK, shape_rule(AF_INET6, 0), 0, 0), 0);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(run_one(OP_INSERT, shape_rule(AF_INET, 0), 0, 1), 0);
		ck_assert_int_eq(run_one(OP_DELETE, shape_rule(AF_INET, 0), 0, 1), 0);
	}
	ms = ms_since(&t0);
	fprintf(stderr, "timing: one raw v4 transaction (lock+init+insert|delete+commit) %.3f ms\n",
		(double)ms / (2 * n));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(run_one(OP_INSERT, shape_rule(AF_INET6, 0), 0, 1), 0);
		ck_assert_int_eq(run_one(OP_DELETE, shape_rule(AF_INET6, 0), 0, 1), 0);
	}
	ms = ms_since(&t0);
	fprintf(stderr, "timing: one raw v6 transaction %.3f ms\n", (double)ms / (2 * n));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(run_one(OP_CHECK, shape_rule(AF_INET, 0), 0, 0), 0);
	ms = ms_since(&t0);
	fprintf(stderr, "timing: one raw v4 transaction without commit %.3f ms\n", (double)ms / n);
	assert_saved(AF_INET, "raw", "");
}
END_TEST

static Suite *ipt_suite(void)
{
	Suite *s = suite_create("ipt");
	TCase *tc;

	tc = tcase_create("drop");
	tcase_add_checked_fixture(tc, tl_netns_setup, tl_netns_teardown);
	tcase_add_loop_test(tc, test_drop_insert_matches_iptables, 0, 2);
	tcase_add_loop_test(tc, test_drop_insert_one_transaction, 0, 2);
	tcase_add_loop_test(tc, test_drop_interop_from_iptables, 0, 2);
	tcase_add_loop_test(tc, test_drop_interop_to_iptables, 0, 2);
	tcase_add_loop_test(tc, test_drop_absent, 0, 2);
	tcase_add_loop_test(tc, test_drop_bad_args, 0, 2);
	tcase_add_test(tc, test_edit_zero_commits_nothing);
	tcase_add_loop_test(tc, test_edit_error_commits_nothing, 0, 2);
	tcase_add_test(tc, test_transaction_bad_args);
	tcase_add_loop_test(tc, test_layout_equals_iptables, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("nat");
	tcase_add_checked_fixture(tc, tl_netns_setup, tl_netns_teardown);
	tcase_add_test(tc, test_dnat_layout_equals_iptables);
	tcase_add_test(tc, test_nat_setup);
	tcase_add_test(tc, test_nat_list_from_restore);
	tcase_add_test(tc, test_nat_list_max);
	tcase_add_loop_test(tc, test_nat_foreign_rule, 0, ELEMENTSOF(foreign_rules));
	tcase_add_test(tc, test_nat_replace_atomic);
	tcase_add_test(tc, test_nat_errors);
	tcase_add_test(tc, test_chain_jump_v6);
	suite_add_tcase(s, tc);

	tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, tl_netns_setup, tl_netns_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_lock_waits_for_holder);
	tcase_add_test(tc, test_lock_timeout);
	tcase_add_test(tc, test_lock_blocks_iptables);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_add_checked_fixture(tc, tl_netns_setup, tl_netns_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_concurrent_replace_retries);
	tcase_add_test(tc, test_stress);
	tcase_add_test(tc, test_timing);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return tl_main(ipt_suite(), true);
}
