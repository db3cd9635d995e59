/* What setup-dnat-to-ns wants (pairs: virtual address -> resolver, or
 * drop), the rules the x_tables backend renders it into for PR-QBS, and the
 * comparison that decides whether anything must be committed. Pure: no
 * root, no kernel. */
#include <arpa/inet.h>
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnat_iptc.h"
#include "dnat_nft.h"
#include "dnat_plan.h"
#include "ipt.h"
#include "testlib.h"

static struct in_addr A(const char *s)
{
	struct in_addr a;

	ck_assert_msg(inet_pton(AF_INET, s, &a) == 1, "bad test address %s", s);
	return a;
}

/* "10.139.1.1->192.168.1.1;10.139.1.2->drop" from the fields, so that
 * the expected strings below do not go through the code under test. */
static const char *render_pairs(const struct dnat_plan *p)
{
	static char out[1024];
	size_t off = 0;

	out[0] = 0;
	for (unsigned i = 0; i < p->n; i++) {
		const struct dnat_pair *pr = &p->pairs[i];
		char dst[INET_ADDRSTRLEN], to[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &pr->dst, dst, sizeof(dst));
		inet_ntop(AF_INET, &pr->to, to, sizeof(to));
		off += snprintf(out + off, sizeof(out) - off, "%s%s->%s", i ? ";" : "", dst, pr->drop ? "drop" : to);
	}
	return out;
}

/* "udp 10.139.1.1:53->192.168.1.1;tcp ..." from the fields of rules. */
static const char *render(const struct ipt_dnat_rule *rules, unsigned n)
{
	static char out[1024];
	size_t off = 0;

	out[0] = 0;
	for (unsigned i = 0; i < n; i++) {
		const struct ipt_dnat_rule *r = &rules[i];
		char dst[INET_ADDRSTRLEN], to[INET_ADDRSTRLEN];
		const char *proto = r->proto == IPPROTO_UDP ? "udp" : r->proto == IPPROTO_TCP ? "tcp" : "?";

		inet_ntop(AF_INET, &r->dst, dst, sizeof(dst));
		inet_ntop(AF_INET, &r->to, to, sizeof(to));
		off += snprintf(out + off, sizeof(out) - off, "%s%s %s:%u->%s", i ? ";" : "", proto, dst, r->dport, to);
	}
	return out;
}

/* Padding must be zero in every rendered rule: they may be compared with memcmp. */
static void assert_padding_zero(const struct ipt_dnat_rule *rules, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct ipt_dnat_rule r = rules[i];
		static const struct ipt_dnat_rule zero;

		r.dst.s_addr = 0;
		r.proto = 0;
		r.dport = 0;
		r.to.s_addr = 0;
		ck_assert_msg(memcmp(&r, &zero, sizeof(r)) == 0, "rule %u has non-zero padding", i);
	}
}

/* The x_tables rules of a plan, rendered into an array pre-filled with
 * garbage (nothing left over may pass for the result). */
struct iptc {
	struct ipt_dnat_rule rules[DNAT_IPT_MAX_RULES];
	unsigned n;
};

static void iptc_render(const struct dnat_plan *p, struct iptc *ret)
{
	memset(ret, 0xa5, sizeof(*ret));
	ret->n = dnat_iptc_rules(p, ret->rules);
	ck_assert_uint_eq(ret->n, 2 * p->n);
	assert_padding_zero(ret->rules, ret->n);
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
	ck_assert_uint_le(p->n, DNAT_MAX_PAIRS);
	for (unsigned i = 0; i < p->n; i++)
		ck_assert_msg(!p->pairs[i].drop || p->pairs[i].to.s_addr == 0, "pair %u drops but has a resolver", i);
}

static const char *const R[] = { "192.168.1.1", "192.168.1.2", "192.168.1.3" };

static const struct {
	const char *dns1, *dns2;
	unsigned n_res;
	const char *pairs; /* the plan */
	const char *want;  /* its x_tables rules */
} build_cases[] = {
	/* both virtual addresses; without a resolver, queries to each are
	 * sent to 0.0.0.0, which the kernel drops */
	{ "10.139.1.1", "10.139.1.2", 0, "10.139.1.1->drop;10.139.1.2->drop",
	  "udp 10.139.1.1:53->0.0.0.0;tcp 10.139.1.1:53->0.0.0.0;"
	  "udp 10.139.1.2:53->0.0.0.0;tcp 10.139.1.2:53->0.0.0.0" },
	{ "10.139.1.1", "10.139.1.2", 1, "10.139.1.1->192.168.1.1;10.139.1.2->192.168.1.1",
	  "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1;"
	  "udp 10.139.1.2:53->192.168.1.1;tcp 10.139.1.2:53->192.168.1.1" },
	{ "10.139.1.1", "10.139.1.2", 2, "10.139.1.1->192.168.1.1;10.139.1.2->192.168.1.2",
	  "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1;"
	  "udp 10.139.1.2:53->192.168.1.2;tcp 10.139.1.2:53->192.168.1.2" },
	/* a third resolver has nowhere to go */
	{ "10.139.1.1", "10.139.1.2", 3, "10.139.1.1->192.168.1.1;10.139.1.2->192.168.1.2",
	  "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1;"
	  "udp 10.139.1.2:53->192.168.1.2;tcp 10.139.1.2:53->192.168.1.2" },
	/* no DNS2 */
	{ "10.139.1.1", NULL, 0, "10.139.1.1->drop", "udp 10.139.1.1:53->0.0.0.0;tcp 10.139.1.1:53->0.0.0.0" },
	{ "10.139.1.1", NULL, 1, "10.139.1.1->192.168.1.1", "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	{ "10.139.1.1", NULL, 2, "10.139.1.1->192.168.1.1", "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	{ "10.139.1.1", NULL, 3, "10.139.1.1->192.168.1.1", "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	/* DNS2 equal to DNS1: one pair, never the same destination twice */
	{ "10.139.1.1", "10.139.1.1", 0, "10.139.1.1->drop", "udp 10.139.1.1:53->0.0.0.0;tcp 10.139.1.1:53->0.0.0.0" },
	{ "10.139.1.1", "10.139.1.1", 1, "10.139.1.1->192.168.1.1", "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	{ "10.139.1.1", "10.139.1.1", 2, "10.139.1.1->192.168.1.1", "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	{ "10.139.1.1", "10.139.1.1", 3, "10.139.1.1->192.168.1.1", "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1" },
	/* no DNS1: this VM serves no DNS, whatever DNS2 says: nothing to
	 * forward, nothing to drop */
	{ NULL, NULL, 0, "", "" },
	{ NULL, NULL, 2, "", "" },
	{ NULL, "10.139.1.2", 1, "", "" },
	{ NULL, "10.139.1.2", 3, "", "" },
};

START_TEST(test_build)
{
	struct dnat_plan p;

	build(build_cases[_i].dns1, build_cases[_i].dns2, R, build_cases[_i].n_res, &p);
	ck_assert_msg(streq(render_pairs(&p), build_cases[_i].pairs),
		      "dns1=%s dns2=%s resolvers=%u:\n  got  %s\n  want %s", build_cases[_i].dns1, build_cases[_i].dns2,
		      build_cases[_i].n_res, render_pairs(&p), build_cases[_i].pairs);
	/* it says when its pairs drop the queries */
	ck_assert_msg(p.drops == (build_cases[_i].dns1 && build_cases[_i].n_res == 0), "drops=%d", p.drops);
}
END_TEST

/* The x_tables backend: udp then tcp per pair, a dropping pair DNATed to
 * 0.0.0.0, which the kernel discards. */
START_TEST(test_iptc_rules)
{
	struct dnat_plan p;
	struct iptc x;

	build(build_cases[_i].dns1, build_cases[_i].dns2, R, build_cases[_i].n_res, &p);
	iptc_render(&p, &x);
	ck_assert_msg(streq(render(x.rules, x.n), build_cases[_i].want),
		      "dns1=%s dns2=%s resolvers=%u:\n  got  %s\n  want %s", build_cases[_i].dns1, build_cases[_i].dns2,
		      build_cases[_i].n_res, render(x.rules, x.n), build_cases[_i].want);
	/* the rules match themselves */
	ck_assert(dnat_iptc_matches(x.rules, x.n, x.rules, x.n));
}
END_TEST

/* The same resolver twice is the caller's business (the parser drops
 * duplicates), but the plan still follows the list. */
START_TEST(test_build_same_resolver_twice)
{
	static const char *const twice[] = { "192.168.1.1", "192.168.1.1" };
	struct dnat_plan p;
	struct iptc x;

	build("10.139.1.1", "10.139.1.2", twice, 2, &p);
	ck_assert_str_eq(render_pairs(&p), "10.139.1.1->192.168.1.1;10.139.1.2->192.168.1.1");
	iptc_render(&p, &x);
	ck_assert_str_eq(render(x.rules, x.n), "udp 10.139.1.1:53->192.168.1.1;tcp 10.139.1.1:53->192.168.1.1;"
				     "udp 10.139.1.2:53->192.168.1.1;tcp 10.139.1.2:53->192.168.1.1");
}
END_TEST

/* ---- dnat_iptc_matches ------------------------------------------------ */

/* The x_tables rules of a plan. */
static void rules_of(const char *dns1, const char *dns2, unsigned n_res, struct iptc *ret)
{
	struct dnat_plan p;

	build(dns1, dns2, R, n_res, &p);
	iptc_render(&p, ret);
}

static void full_plan(struct iptc *x)
{
	rules_of("10.139.1.1", "10.139.1.2", 2, x);
	ck_assert_uint_eq(x->n, 4);
}

START_TEST(test_matches_same)
{
	struct iptc p, q;
	struct ipt_dnat_rule cur[DNAT_IPT_MAX_RULES];

	full_plan(&p);
	/* a separately built, identical plan */
	full_plan(&q);
	ck_assert(dnat_iptc_matches(p.rules, p.n, q.rules, q.n));
	/* field by field copies in a zeroed array */
	memset(cur, 0, sizeof(cur));
	for (unsigned i = 0; i < p.n; i++) {
		cur[i].dst = p.rules[i].dst;
		cur[i].proto = p.rules[i].proto;
		cur[i].dport = p.rules[i].dport;
		cur[i].to = p.rules[i].to;
	}
	ck_assert(dnat_iptc_matches(p.rules, p.n, cur, p.n));
}
END_TEST

START_TEST(test_matches_empty)
{
	struct iptc p, full;

	/* no virtual address: the one empty plan */
	rules_of(NULL, NULL, 2, &p);
	ck_assert_uint_eq(p.n, 0);
	full_plan(&full);
	ck_assert(dnat_iptc_matches(p.rules, p.n, NULL, 0));
	ck_assert(dnat_iptc_matches(p.rules, p.n, full.rules, 0));
	ck_assert(!dnat_iptc_matches(p.rules, p.n, full.rules, 1));
	ck_assert(!dnat_iptc_matches(full.rules, full.n, NULL, 0));
}
END_TEST

/* The chain an older version left empty when the uplink had no resolver,
 * or one still forwarding to the last resolver, differs from the rules
 * that drop the queries: a run must replace it. */
START_TEST(test_matches_drop)
{
	struct iptc drop, full;

	rules_of("10.139.1.1", "10.139.1.2", 0, &drop);
	full_plan(&full);
	ck_assert_uint_eq(drop.n, 4);
	ck_assert(!dnat_iptc_matches(drop.rules, drop.n, NULL, 0));
	ck_assert(!dnat_iptc_matches(drop.rules, drop.n, full.rules, full.n));
	ck_assert(!dnat_iptc_matches(full.rules, full.n, drop.rules, drop.n));
	ck_assert(dnat_iptc_matches(drop.rules, drop.n, drop.rules, drop.n));
}
END_TEST

START_TEST(test_matches_order)
{
	struct iptc p;
	struct ipt_dnat_rule cur[DNAT_IPT_MAX_RULES];

	full_plan(&p);
	/* every transposition of the four rules is a difference */
	for (unsigned a = 0; a < p.n; a++)
		for (unsigned b = a + 1; b < p.n; b++) {
			memcpy(cur, p.rules, sizeof(cur));
			cur[a] = p.rules[b];
			cur[b] = p.rules[a];
			ck_assert_msg(!dnat_iptc_matches(p.rules, p.n, cur, p.n), "rules %u and %u swapped still match", a, b);
		}
}
END_TEST

START_TEST(test_matches_count)
{
	struct iptc p, two;
	struct ipt_dnat_rule cur[2 * DNAT_IPT_MAX_RULES];

	full_plan(&p);
	memcpy(cur, p.rules, sizeof(p.rules));
	memcpy(cur + DNAT_IPT_MAX_RULES, p.rules, sizeof(p.rules));
	for (unsigned n = 0; n < p.n; n++)
		ck_assert_msg(!dnat_iptc_matches(p.rules, p.n, cur, n), "a prefix of %u rules matches", n);
	/* both sets: the state concurrency must never leave behind */
	ck_assert(!dnat_iptc_matches(p.rules, p.n, cur, 2 * DNAT_IPT_MAX_RULES));
	ck_assert(!dnat_iptc_matches(p.rules, p.n, cur, p.n + 1));

	/* a two-rule plan against the first two of a four-rule chain */
	rules_of("10.139.1.1", NULL, 2, &two);
	ck_assert(dnat_iptc_matches(two.rules, two.n, cur, 2));
	ck_assert(!dnat_iptc_matches(two.rules, two.n, cur, 4));
}
END_TEST

START_TEST(test_matches_field)
{
	struct iptc p;

	full_plan(&p);
	for (unsigned i = 0; i < p.n; i++)
		for (int field = 0; field < 4; field++) {
			struct ipt_dnat_rule cur[DNAT_IPT_MAX_RULES];

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
			ck_assert_msg(!dnat_iptc_matches(p.rules, p.n, cur, p.n), "rule %u with field %d changed still matches", i,
				      field);
		}
}
END_TEST

/* Rules read back from the kernel go through ipt_dnat_rule_decode, which
 * zeroes the padding: a decoded chain equal in content matches the plan
 * even when the array it lands in held garbage. */
START_TEST(test_matches_decoded)
{
	struct iptc p;
	struct ipt_dnat_rule cur[DNAT_IPT_MAX_RULES];

	full_plan(&p);
	memset(cur, 0xff, sizeof(cur));
	for (unsigned i = 0; i < p.n; i++) {
		_cleanup_free_ void *e = NULL;
		size_t size;

		ck_assert_int_eq(ipt_dnat_rule_encode(&p.rules[i], &e, &size), 0);
		ck_assert_int_eq(ipt_dnat_rule_decode(e, &cur[i]), 0);
	}
	ck_assert(dnat_iptc_matches(p.rules, p.n, cur, p.n));
	cur[3].to = A("192.168.1.1");
	ck_assert(!dnat_iptc_matches(p.rules, p.n, cur, p.n));
}
END_TEST

/* What the rule holds is its four fields; the padding byte between proto
 * and dport carries nothing, so a difference there alone is no reason to
 * rewrite the chain. */
START_TEST(test_matches_padding_irrelevant)
{
	const size_t pad_at = offsetof(struct ipt_dnat_rule, proto) + sizeof(((struct ipt_dnat_rule *)0)->proto);
	const size_t pad_end = offsetof(struct ipt_dnat_rule, dport);
	struct iptc p;
	struct ipt_dnat_rule cur[DNAT_IPT_MAX_RULES];

	/* the layout this test is about */
	ck_assert_uint_eq(sizeof(struct ipt_dnat_rule), 12);
	ck_assert_uint_eq(pad_end - pad_at, 1);

	full_plan(&p);
	memcpy(cur, p.rules, sizeof(cur));
	for (unsigned i = 0; i < p.n; i++)
		((unsigned char *)&cur[i])[pad_at] = 0x5a;
	ck_assert_msg(dnat_iptc_matches(p.rules, p.n, cur, p.n),
		      "rules equal in every field but the padding byte do not match");
}
END_TEST

/* ---- the nftables rendering ---------------------------------------------- */

static const struct {
	const char *dns1, *dns2;
	unsigned n_res;
	const char *want; /* the rules in nft's syntax, ";"-separated */
} nft_cases[] = {
	{ "10.139.1.1", "10.139.1.2", 2,
	  "ip daddr 10.139.1.1 udp dport 53 dnat to 192.168.1.1;ip daddr 10.139.1.1 tcp dport 53 dnat to 192.168.1.1;"
	  "ip daddr 10.139.1.2 udp dport 53 dnat to 192.168.1.2;ip daddr 10.139.1.2 tcp dport 53 dnat to 192.168.1.2" },
	{ "10.139.1.1", "10.139.1.2", 1,
	  "ip daddr 10.139.1.1 udp dport 53 dnat to 192.168.1.1;ip daddr 10.139.1.1 tcp dport 53 dnat to 192.168.1.1;"
	  "ip daddr 10.139.1.2 udp dport 53 dnat to 192.168.1.1;ip daddr 10.139.1.2 tcp dport 53 dnat to 192.168.1.1" },
	{ "10.139.1.1", NULL, 3,
	  "ip daddr 10.139.1.1 udp dport 53 dnat to 192.168.1.1;ip daddr 10.139.1.1 tcp dport 53 dnat to 192.168.1.1" },
	/* no resolver: a real drop, not a DNAT to 0.0.0.0 */
	{ "10.139.1.1", "10.139.1.2", 0,
	  "ip daddr 10.139.1.1 udp dport 53 drop;ip daddr 10.139.1.1 tcp dport 53 drop;"
	  "ip daddr 10.139.1.2 udp dport 53 drop;ip daddr 10.139.1.2 tcp dport 53 drop" },
	{ NULL, "10.139.1.2", 2, "" },
};

START_TEST(test_nft_rules)
{
	struct nftq_dns_rule rules[DNAT_NFT_MAX_RULES];
	char out[1024] = "", line[128];
	struct dnat_plan p;
	unsigned n;

	build(nft_cases[_i].dns1, nft_cases[_i].dns2, R, nft_cases[_i].n_res, &p);
	memset(rules, 0xa5, sizeof(rules));
	n = dnat_nft_rules(&p, rules);
	ck_assert_uint_eq(n, 2 * p.n);
	for (unsigned i = 0; i < n; i++) {
		/* a dropping rule carries no resolver */
		ck_assert(!rules[i].drop || rules[i].to.s_addr == 0);
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? ";" : "",
			 dnat_nft_rule_to_string(&rules[i], line, sizeof(line)));
	}
	ck_assert_str_eq(out, nft_cases[_i].want);
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

	tc = tcase_create("iptc");
	tcase_add_loop_test(tc, test_iptc_rules, 0, ELEMENTSOF(build_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("nft");
	tcase_add_loop_test(tc, test_nft_rules, 0, ELEMENTSOF(nft_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("iptc-matches");
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
