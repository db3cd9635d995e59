/* The rules setup-dnat-to-ns wants in PR-QBS, and the comparison that
 * decides whether anything must be committed. Pure: no root, no kernel. */
#include <arpa/inet.h>
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnat_plan.h"
#include "ipt.h"
#include "testlib.h"

static struct in_addr A(const char *s)
{
	struct in_addr a;

	ck_assert_msg(inet_pton(AF_INET, s, &a) == 1, "bad test address %s", s);
	return a;
}

/* "udp 10.139.1.1->192.168.1.1;tcp ..." from the fields, so that the
 * expected strings below do not go through the code under test. */
static const char *render(const struct dnat_plan *p)
{
	static char out[1024];
	size_t off = 0;

	out[0] = 0;
	for (unsigned i = 0; i < p->n; i++) {
		const struct ipt_dnat_rule *r = &p->rules[i];
		char dst[INET_ADDRSTRLEN], to[INET_ADDRSTRLEN];
		const char *proto = r->proto == IPPROTO_UDP ? "udp" : r->proto == IPPROTO_TCP ? "tcp" : "?";

		inet_ntop(AF_INET, &r->dst, dst, sizeof(dst));
		inet_ntop(AF_INET, &r->to, to, sizeof(to));
		off += snprintf(out + off, sizeof(out) - off, "%s%s %s:%u->%s", i ? ";" : "", proto, dst, r->dport, to);
	}
	return out;
}

/* Padding must be zero in every planned rule: they are compared with memcmp. */
static void assert_padding_zero(const struct dnat_plan *p)
{
	for (unsigned i = 0; i < p->n; i++) {
		struct ipt_dnat_rule r = p->rules[i];
		static const struct ipt_dnat_rule zero;

		r.dst.s_addr = 0;
		r.proto = 0;
		r.dport = 0;
		r.to.s_addr = 0;
		ck_assert_msg(memcmp(&r, &zero, sizeof(r)) == 0, "rule %u has non-zero padding", i);
	}
}

/* Builds into a plan pre-filled with garbage, so that nothing left over
 * (count, padding) can pass for the result. */
static void build(const char *dns1, const char *dns2, const char *const *res, unsigned n_res, struct dnat_plan *p)
{
	struct in_addr d1, d2, r[8];

	ck_assert_uint_le(n_res, ELEMENTSOF(r));
	for (unsigned i = 0; i < n_res; i++)
		r[i] = A(res[i]);
	if (dns1)
		d1 = A(dns1);
	if (dns2)
		d2 = A(dns2);
	memset(p, 0xa5, sizeof(*p));
	dnat_plan_build(dns1 ? &d1 : NULL, dns2 ? &d2 : NULL, n_res ? r : NULL, n_res, p);
	ck_assert_uint_le(p->n, DNAT_MAX_RULES);
	assert_padding_zero(p);
}

static const char *const R[] = { "192.168.1.1", "192.168.1.2", "192.168.1.3" };

static const struct {
	const char *dns1, *dns2;
	unsigned n_res;
	const char *want;
} build_cases[] = {
	/* both virtual addresses; without a resolver, queries to each are
	 * sent to 0.0.0.0, which the kernel drops */
	{ "10.139.1.1", "10.139.1.2", 0,
	  "udp 10.139.1.1:53->0.0.0.0;tcp 10.139.1.1:53->0.0.0.0;"
	  "udp 10.139.1.2:53->0.0.0.0;tcp 10.139.1.2:53->0.0.0.0" },
	{ "10.139.1.1", "10.139.1.2", 1,
	  "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1;"
	  "udp 10.139.1.2:53->192.168.1.1;tcp 10.139.1.2:53->192.168.1.1" },
	{ "10.139.1.1", "10.139.1.2", 2,
	  "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1;"
	  "udp 10.139.1.2:53->192.168.1.2;tcp 10.139.1.2:53->192.168.1.2" },
	/* a third resolver has nowhere to go */
	{ "10.139.1.1", "10.139.1.2", 3,
	  "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1;"
	  "udp 10.139.1.2:53->192.168.1.2;tcp 10.139.1.2:53->192.168.1.2" },
	/* no DNS2 */
	{ "10.139.1.1", NULL, 0, "udp 10.139.1.1:53->0.0.0.0;tcp 10.139.1.1:53->0.0.0.0" },
	{ "10.139.1.1", NULL, 1, "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	{ "10.139.1.1", NULL, 2, "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	{ "10.139.1.1", NULL, 3, "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	/* DNS2 equal to DNS1: one pair, never the same destination twice */
	{ "10.139.1.1", "10.139.1.1", 0, "udp 10.139.1.1:53->0.0.0.0;tcp 10.139.1.1:53->0.0.0.0" },
	{ "10.139.1.1", "10.139.1.1", 1, "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	{ "10.139.1.1", "10.139.1.1", 2, "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	{ "10.139.1.1", "10.139.1.1", 3, "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	/* no DNS1: this VM serves no DNS, whatever DNS2 says: nothing to
	 * forward, nothing to drop */
	{ NULL, NULL, 0, "" },
	{ NULL, NULL, 2, "" },
	{ NULL, "10.139.1.2", 1, "" },
	{ NULL, "10.139.1.2", 3, "" },
};

START_TEST(test_build)
{
	struct dnat_plan p;

	build(build_cases[_i].dns1, build_cases[_i].dns2, R, build_cases[_i].n_res, &p);
	ck_assert_msg(streq(render(&p), build_cases[_i].want), "dns1=%s dns2=%s resolvers=%u:\n  got  %s\n  want %s",
		      build_cases[_i].dns1, build_cases[_i].dns2, build_cases[_i].n_res, render(&p),
		      build_cases[_i].want);
	/* it says when its rules drop the queries */
	ck_assert_msg(p.drops == (build_cases[_i].dns1 && build_cases[_i].n_res == 0), "drops=%d", p.drops);
	/* the plan matches itself */
	ck_assert(dnat_plan_matches(&p, p.rules, p.n));
}
END_TEST

/* The same resolver twice is the caller's business (the parser drops
 * duplicates), but the plan still follows the list. */
START_TEST(test_build_same_resolver_twice)
{
	static const char *const twice[] = { "192.168.1.1", "192.168.1.1" };
	struct dnat_plan p;

	build("10.139.1.1", "10.139.1.2", twice, 2, &p);
	ck_assert_str_eq(render(&p), "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1;"
				     "udp 10.139.1.2:53->192.168.1.1;tcp 10.139.1.2:53->192.168.1.1");
}
END_TEST

/* ---- dnat_plan_matches ------------------------------------------------ */

static void full_plan(struct dnat_plan *p)
{
	build("10.139.1.1", "10.139.1.2", R, 2, p);
	ck_assert_uint_eq(p->n, 4);
}

START_TEST(test_matches_same)
{
	struct dnat_plan p, q;
	struct ipt_dnat_rule cur[DNAT_MAX_RULES];

	full_plan(&p);
	/* a separately built, identical plan */
	full_plan(&q);
	ck_assert(dnat_plan_matches(&p, q.rules, q.n));
	/* field by field copies in a zeroed array */
	memset(cur, 0, sizeof(cur));
	for (unsigned i = 0; i < p.n; i++) {
		cur[i].dst = p.rules[i].dst;
		cur[i].proto = p.rules[i].proto;
		cur[i].dport = p.rules[i].dport;
		cur[i].to = p.rules[i].to;
	}
	ck_assert(dnat_plan_matches(&p, cur, p.n));
}
END_TEST

START_TEST(test_matches_empty)
{
	struct dnat_plan p, full;

	/* no virtual address: the one empty plan */
	build(NULL, NULL, R, 2, &p);
	ck_assert_uint_eq(p.n, 0);
	full_plan(&full);
	ck_assert(dnat_plan_matches(&p, NULL, 0));
	ck_assert(dnat_plan_matches(&p, full.rules, 0));
	ck_assert(!dnat_plan_matches(&p, full.rules, 1));
	ck_assert(!dnat_plan_matches(&full, NULL, 0));
}
END_TEST

/* The chain an older version left empty when the uplink had no resolver,
 * or one still forwarding to the last resolver, differs from the rules
 * that drop the queries: a run must replace it. */
START_TEST(test_matches_drop)
{
	struct dnat_plan drop, full;

	build("10.139.1.1", "10.139.1.2", R, 0, &drop);
	full_plan(&full);
	ck_assert_uint_eq(drop.n, 4);
	ck_assert(!dnat_plan_matches(&drop, NULL, 0));
	ck_assert(!dnat_plan_matches(&drop, full.rules, full.n));
	ck_assert(!dnat_plan_matches(&full, drop.rules, drop.n));
	ck_assert(dnat_plan_matches(&drop, drop.rules, drop.n));
}
END_TEST

START_TEST(test_matches_order)
{
	struct dnat_plan p;
	struct ipt_dnat_rule cur[DNAT_MAX_RULES];

	full_plan(&p);
	/* every transposition of the four rules is a difference */
	for (unsigned a = 0; a < p.n; a++)
		for (unsigned b = a + 1; b < p.n; b++) {
			memcpy(cur, p.rules, sizeof(cur));
			cur[a] = p.rules[b];
			cur[b] = p.rules[a];
			ck_assert_msg(!dnat_plan_matches(&p, cur, p.n), "rules %u and %u swapped still match", a, b);
		}
}
END_TEST

START_TEST(test_matches_count)
{
	struct dnat_plan p, two;
	struct ipt_dnat_rule cur[2 * DNAT_MAX_RULES];

	full_plan(&p);
	memcpy(cur, p.rules, sizeof(p.rules));
	memcpy(cur + DNAT_MAX_RULES, p.rules, sizeof(p.rules));
	for (unsigned n = 0; n < p.n; n++)
		ck_assert_msg(!dnat_plan_matches(&p, cur, n), "a prefix of %u rules matches", n);
	/* both sets: the state concurrency must never leave behind */
	ck_assert(!dnat_plan_matches(&p, cur, 2 * DNAT_MAX_RULES));
	ck_assert(!dnat_plan_matches(&p, cur, p.n + 1));

	/* a two-rule plan against the first two of a four-rule chain */
	build("10.139.1.1", NULL, R, 2, &two);
	ck_assert(dnat_plan_matches(&two, cur, 2));
	ck_assert(!dnat_plan_matches(&two, cur, 4));
}
END_TEST

START_TEST(test_matches_field)
{
	struct dnat_plan p;

	full_plan(&p);
	for (unsigned i = 0; i < p.n; i++)
		for (int field = 0; field < 4; field++) {
			struct ipt_dnat_rule cur[DNAT_MAX_RULES];

			memcpy(cur, p.rules, sizeof(cur));
			switch (field) {
			case 0:
				cur[i].to = A("192.168.1.9");
				break;
			case 1:
				cur[i].dst = A("10.139.1.9");
				break;
			case 2:
				cur[i].proto = cur[i].proto == IPPROTO_UDP ? IPPROTO_TCP : IPPROTO_UDP;
				break;
			case 3:
				cur[i].dport = 5353;
				break;
			}
			ck_assert_msg(!dnat_plan_matches(&p, cur, p.n), "rule %u with field %d changed still matches", i,
				      field);
		}
}
END_TEST

/* Rules read back from the kernel go through ipt_dnat_rule_decode, which
 * zeroes the padding: a decoded chain equal in content matches the plan
 * even when the array it lands in held garbage. */
START_TEST(test_matches_decoded)
{
	struct dnat_plan p;
	struct ipt_dnat_rule cur[DNAT_MAX_RULES];

	full_plan(&p);
	memset(cur, 0xff, sizeof(cur));
	for (unsigned i = 0; i < p.n; i++) {
		_cleanup_free_ void *e = NULL;
		size_t size;

		ck_assert_int_eq(ipt_dnat_rule_encode(&p.rules[i], &e, &size), 0);
		ck_assert_int_eq(ipt_dnat_rule_decode(e, &cur[i]), 0);
	}
	ck_assert(dnat_plan_matches(&p, cur, p.n));
	cur[3].to = A("192.168.1.1");
	ck_assert(!dnat_plan_matches(&p, cur, p.n));
}
END_TEST

/* What the rule holds is its four fields; the padding byte between proto
 * and dport carries nothing, so a difference there alone is no reason to
 * rewrite the chain. */
START_TEST(test_matches_padding_irrelevant)
{
	const size_t pad_at = offsetof(struct ipt_dnat_rule, proto) + sizeof(((struct ipt_dnat_rule *)0)->proto);
	const size_t pad_end = offsetof(struct ipt_dnat_rule, dport);
	struct dnat_plan p;
	struct ipt_dnat_rule cur[DNAT_MAX_RULES];

	/* the layout this test is about */
	ck_assert_uint_eq(sizeof(struct ipt_dnat_rule), 12);
	ck_assert_uint_eq(pad_end - pad_at, 1);

	full_plan(&p);
	memcpy(cur, p.rules, sizeof(cur));
	for (unsigned i = 0; i < p.n; i++)
		((unsigned char *)&cur[i])[pad_at] = 0x5a;
	ck_assert_msg(dnat_plan_matches(&p, cur, p.n),
		      "rules equal in every field but the padding byte do not match");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dnat-plan");
	TCase *tc;

	tc = tcase_create("build");
	tcase_add_loop_test(tc, test_build, 0, ELEMENTSOF(build_cases));
	tcase_add_test(tc, test_build_same_resolver_twice);
	suite_add_tcase(s, tc);

	tc = tcase_create("matches");
	tcase_add_test(tc, test_matches_same);
	tcase_add_test(tc, test_matches_empty);
	tcase_add_test(tc, test_matches_drop);
	tcase_add_test(tc, test_matches_order);
	tcase_add_test(tc, test_matches_count);
	tcase_add_test(tc, test_matches_field);
	tcase_add_test(tc, test_matches_decoded);
	tcase_add_test(tc, test_matches_padding_irrelevant);
	suite_add_tcase(s, tc);

	return tl_main(s, false);
}
