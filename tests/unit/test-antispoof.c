/* Anti-spoofing decided without the kernel: rule decoding, the edits that
 * online, offline and a rollback make, and what status reports. Chains are
 * built from entries encoded as libiptc would hold them. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <libiptc/libiptc.h>

#include "antispoof.h"
#include "testlib.h"

static struct ip_addr A(const char *s)
{
	struct ip_addr a;

	ck_assert_int_eq(ip_addr_parse(s, AF_UNSPEC, &a), 0);
	return a;
}

/* "-i IF [! ]-s ADDR -j TARGET", "! -i IF -s ADDR", "-i IF" (no -s). */
static struct ipt_rule_view view(const char *iface, bool iface_inv, const char *src, bool src_inv, const char *target)
{
	struct ipt_drop_rule d = { .family = AF_INET, .iface_inv = iface_inv, .src_inv = src_inv };
	struct ipt_rule_view v;
	struct xt_entry_target *t;
	void *e = NULL;
	size_t size;

	snprintf(d.iface, sizeof(d.iface), "%s", iface);
	if (src) {
		d.has_src = true;
		d.src = A(src);
		d.family = d.src.family;
	}
	ck_assert_int_eq(ipt_drop_rule_encode(&d, &e, &size), 0);
	t = (struct xt_entry_target *)((char *)e + size - XT_ALIGN(sizeof(struct xt_standard_target)));
	snprintf(t->u.user.name, sizeof(t->u.user.name), "%s", target);
	ck_assert_int_eq(ipt_rule_view_decode(d.family, e, target, false, &v), 0);
	free(e);
	return v;
}

#define DROP4(iface, inv, src, sinv) view(iface, inv, src, sinv, "DROP")

/* The ops as text: "+0 -i vif3.0 ! -s 10.137.0.5 -j DROP; - ...". */
static const char *ops_text(const struct antispoof_ops *ops)
{
	static char out[4096];
	size_t off = 0;

	out[0] = 0;
	for (size_t i = 0; i < ops->n; i++) {
		char rule[160];

		if (ops->op[i].insert)
			off += (size_t)snprintf(out + off, sizeof(out) - off, "%s+%u %s", i ? "; " : "", ops->op[i].pos,
						ipt_drop_rule_to_string(&ops->op[i].rule, rule, sizeof(rule)));
		else
			off += (size_t)snprintf(out + off, sizeof(out) - off, "%s- %s", i ? "; " : "",
						ipt_drop_rule_to_string(&ops->op[i].rule, rule, sizeof(rule)));
	}
	return out;
}

/* The edits ensure plans (or remove, with addr as its hint), for one address or none. */
static const char *plan_text(bool ensure, const struct ipt_rule_view *rules, size_t n, const char *ifname,
			     const char *addr)
{
	struct antispoof_ops ops = {};
	struct ip_addr a[1];
	const char *out;
	unsigned na = addr ? 1 : 0;

	if (addr)
		a[0] = A(addr);
	if (ensure)
		ck_assert_int_eq(antispoof_plan_ensure(rules, n, AF_INET, ifname, a, na, &ops), 0);
	else
		ck_assert_int_eq(antispoof_plan_remove(rules, n, AF_INET, ifname, a, na, &ops), 0);
	out = ops_text(&ops);
	antispoof_ops_done(&ops);
	return out;
}

#define ensure(rules, n, ifname, addr) plan_text(true, rules, n, ifname, addr)
#define remove_(rules, n, ifname, hint) plan_text(false, rules, n, ifname, hint)

#define R1(vif, a) DROP4(vif, false, a, true)
#define R2(a) DROP4("vif+", true, a, false)

START_TEST(test_decode_round_trip)
{
	struct ipt_rule_view v = R1("vif3.0", "10.137.0.5");

	ck_assert(v.is_drop_rule);
	ck_assert_int_eq(v.verdict, IPT_VERDICT_DROP);
	ck_assert_str_eq(v.drop.iface, "vif3.0");
	ck_assert(v.drop.has_src && v.drop.src_inv && !v.drop.iface_inv);
	v = R2("fd09::5");
	ck_assert(v.is_drop_rule);
	ck_assert_str_eq(v.drop.iface, "vif+");
	ck_assert_int_eq(v.drop.family, AF_INET6);
	v = view("vif3.0", false, NULL, false, "ACCEPT");
	ck_assert(!v.is_drop_rule);
	ck_assert_int_eq(v.verdict, IPT_VERDICT_MAY_ACCEPT);
}
END_TEST

START_TEST(test_iface_semantics)
{
	struct ipt_rule_view exact = view("vif3.0", false, NULL, false, "ACCEPT");
	struct ipt_rule_view wild = view("vif+", false, NULL, false, "ACCEPT");
	struct ipt_rule_view inv = view("vif+", true, NULL, false, "ACCEPT");
	struct ipt_rule_view eth = view("eth+", false, NULL, false, "ACCEPT");

	ck_assert(ipt_rule_view_matches_iface(&exact, "vif3.0"));
	ck_assert(!ipt_rule_view_matches_iface(&exact, "vif3.01"));
	ck_assert(!ipt_rule_view_matches_iface(&exact, "vif3.1"));
	ck_assert(ipt_rule_view_matches_iface(&wild, "vif3.0"));
	ck_assert(!ipt_rule_view_matches_iface(&inv, "vif3.0"));
	ck_assert(ipt_rule_view_matches_iface(&inv, "eth0"));
	ck_assert(!ipt_rule_view_may_match_non_vif(&wild));
	ck_assert(ipt_rule_view_may_match_non_vif(&inv));
	ck_assert(ipt_rule_view_may_match_non_vif(&eth));
	ck_assert_int_eq(ipt_verdict_of("CT", false), IPT_VERDICT_CONTINUE);
	ck_assert_int_eq(ipt_verdict_of("RETURN", false), IPT_VERDICT_MAY_ACCEPT);
	ck_assert_int_eq(ipt_verdict_of("my-chain", true), IPT_VERDICT_MAY_ACCEPT);
	ck_assert_int_eq(ipt_verdict_of("NFQUEUE", false), IPT_VERDICT_MAY_ACCEPT);
}
END_TEST

START_TEST(test_ensure)
{
	struct ipt_rule_view c[6];

	/* Nothing there: both at the top, in order. */
	ck_assert_str_eq(ensure(NULL, 0, "vif3.0", "10.137.0.5"),
			 "+0 -i vif3.0 ! -s 10.137.0.5 -j DROP; +1 ! -i vif+ -s 10.137.0.5 -j DROP");
	/* All there: nothing to do (online twice = once). */
	c[0] = R1("vif3.0", "10.137.0.5");
	c[1] = R2("10.137.0.5");
	ck_assert_str_eq(ensure(c, 2, "vif3.0", "10.137.0.5"), "");
	/* The shared rule is there for another vif: only ours goes in. */
	c[0] = R1("vif4.0", "10.137.0.5");
	ck_assert_str_eq(ensure(c, 2, "vif3.0", "10.137.0.5"), "+0 -i vif3.0 ! -s 10.137.0.5 -j DROP");
	/* No address: drop everything from the vif. */
	ck_assert_str_eq(ensure(NULL, 0, "vif3.0", NULL), "+0 -i vif3.0 -j DROP");
}
END_TEST

START_TEST(test_ensure_stale)
{
	struct ipt_rule_view c[4];

	/* An earlier client's rules under the same name black-hole the new one. */
	c[0] = R1("vif3.0", "10.137.0.99");
	c[1] = R2("10.137.0.99");
	ck_assert_str_eq(ensure(c, 2, "vif3.0", "10.137.0.5"),
			 "- -i vif3.0 ! -s 10.137.0.99 -j DROP; - ! -i vif+ -s 10.137.0.99 -j DROP; "
			 "+0 -i vif3.0 ! -s 10.137.0.5 -j DROP; +1 ! -i vif+ -s 10.137.0.5 -j DROP");
	/* ... but an R2 another vif claims stays. */
	c[2] = R1("vif7.0", "10.137.0.99");
	ck_assert_str_eq(ensure(c, 3, "vif3.0", "10.137.0.5"),
			 "- -i vif3.0 ! -s 10.137.0.99 -j DROP; "
			 "+0 -i vif3.0 ! -s 10.137.0.5 -j DROP; +1 ! -i vif+ -s 10.137.0.5 -j DROP");
	/* A drop-all left from a client without address goes too. */
	c[0] = DROP4("vif3.0", false, NULL, false);
	ck_assert_str_eq(ensure(c, 1, "vif3.0", "10.137.0.5"),
			 "- -i vif3.0 -j DROP; +0 -i vif3.0 ! -s 10.137.0.5 -j DROP; +1 ! -i vif+ -s 10.137.0.5 -j DROP");
	/* An administrator's own DROP naming the vif is not ours: it stays. */
	c[0] = DROP4("vif3.0", false, "192.0.2.1", false);
	ck_assert_str_eq(ensure(c, 1, "vif3.0", "10.137.0.5"),
			 "+0 -i vif3.0 ! -s 10.137.0.5 -j DROP; +1 ! -i vif+ -s 10.137.0.5 -j DROP");
}
END_TEST

START_TEST(test_ensure_defeated)
{
	struct ipt_rule_view c[4];

	/* An ACCEPT of the vif's traffic above ours: ours move to the top. */
	c[0] = view("vif3.0", false, NULL, false, "ACCEPT");
	c[1] = R1("vif3.0", "10.137.0.5");
	c[2] = R2("10.137.0.5");
	ck_assert_str_eq(ensure(c, 3, "vif3.0", "10.137.0.5"),
			 "- -i vif3.0 ! -s 10.137.0.5 -j DROP; - ! -i vif+ -s 10.137.0.5 -j DROP; "
			 "+0 -i vif3.0 ! -s 10.137.0.5 -j DROP; +1 ! -i vif+ -s 10.137.0.5 -j DROP");
	/* A jump to "vif+" traffic matches vif3.0 too. */
	c[0] = view("vif+", false, NULL, false, "RETURN");
	ck_assert_int_ne(strlen(ensure(c, 3, "vif3.0", "10.137.0.5")), 0);
	/* Another vif's ACCEPT, a CT target, a DROP: nothing to move. */
	c[0] = view("vif4.0", false, NULL, false, "ACCEPT");
	ck_assert_str_eq(ensure(c, 3, "vif3.0", "10.137.0.5"), "");
	c[0] = view("vif3.0", false, NULL, false, "CT");
	ck_assert_str_eq(ensure(c, 3, "vif3.0", "10.137.0.5"), "");
	/* An ACCEPT from the uplink defeats the "! -i vif+" rule. */
	c[0] = view("eth0", false, NULL, false, "ACCEPT");
	ck_assert_int_ne(strlen(ensure(c, 3, "vif3.0", "10.137.0.5")), 0);
	/* Below ours, it does not matter. */
	c[0] = R1("vif3.0", "10.137.0.5");
	c[1] = R2("10.137.0.5");
	c[2] = view("vif3.0", false, NULL, false, "ACCEPT");
	ck_assert_str_eq(ensure(c, 3, "vif3.0", "10.137.0.5"), "");
}
END_TEST

START_TEST(test_remove)
{
	struct ipt_rule_view c[5];

	c[0] = R1("vif3.0", "10.137.0.5");
	c[1] = R2("10.137.0.5");
	ck_assert_str_eq(remove_(c, 2, "vif3.0", NULL),
			 "- -i vif3.0 ! -s 10.137.0.5 -j DROP; - ! -i vif+ -s 10.137.0.5 -j DROP");
	/* Another vif claims the address: the shared rule stays. */
	c[2] = R1("vif5.0", "10.137.0.5");
	ck_assert_str_eq(remove_(c, 3, "vif3.0", NULL), "- -i vif3.0 ! -s 10.137.0.5 -j DROP");
	/* Copies go, all of them. */
	c[2] = R1("vif3.0", "10.137.0.5");
	ck_assert_str_eq(remove_(c, 3, "vif3.0", NULL),
			 "- -i vif3.0 ! -s 10.137.0.5 -j DROP; - -i vif3.0 ! -s 10.137.0.5 -j DROP; "
			 "- ! -i vif+ -s 10.137.0.5 -j DROP");
	/* Only the R2 left (a killed offline): xenstore's address finds it. */
	ck_assert_str_eq(remove_(&c[1], 1, "vif3.0", "10.137.0.5"), "- ! -i vif+ -s 10.137.0.5 -j DROP");
	/* Nothing of ours: nothing to do; another vif's rules untouched. */
	c[0] = R1("vif5.0", "10.137.0.5");
	ck_assert_str_eq(remove_(c, 2, "vif3.0", "10.137.0.5"), "");
	c[0] = DROP4("vif3.0", false, NULL, false);
	ck_assert_str_eq(remove_(c, 1, "vif3.0", NULL), "- -i vif3.0 -j DROP");
}
END_TEST

START_TEST(test_undo)
{
	struct ipt_rule_view c[4];
	struct antispoof_ops done = {}, undo = {};
	struct ip_addr a = A("10.137.0.5");

	/* Online of vif3.0 put both in; meanwhile vif5.0 claimed the address. */
	ck_assert_int_eq(antispoof_plan_ensure(NULL, 0, AF_INET, "vif3.0", &a, 1, &done), 0);
	c[0] = R1("vif5.0", "10.137.0.5");
	c[1] = R1("vif3.0", "10.137.0.5");
	c[2] = R2("10.137.0.5");
	ck_assert_int_eq(antispoof_plan_undo(c, 3, "vif3.0", &done, &undo), 0);
	ck_assert_str_eq(ops_text(&undo), "- -i vif3.0 ! -s 10.137.0.5 -j DROP");
	antispoof_ops_done(&undo);
	/* Alone, both go. */
	ck_assert_int_eq(antispoof_plan_undo(&c[1], 2, "vif3.0", &done, &undo), 0);
	ck_assert_str_eq(ops_text(&undo), "- -i vif3.0 ! -s 10.137.0.5 -j DROP; - ! -i vif+ -s 10.137.0.5 -j DROP");
	antispoof_ops_done(&undo);
	antispoof_ops_done(&done);
	/* What ensure deleted comes back. */
	c[0] = R1("vif3.0", "10.137.0.99");
	ck_assert_int_eq(antispoof_plan_ensure(c, 1, AF_INET, "vif3.0", &a, 1, &done), 0);
	c[0] = R1("vif3.0", "10.137.0.5");
	c[1] = R2("10.137.0.5");
	ck_assert_int_eq(antispoof_plan_undo(c, 2, "vif3.0", &done, &undo), 0);
	ck_assert_str_eq(ops_text(&undo), "- -i vif3.0 ! -s 10.137.0.5 -j DROP; - ! -i vif+ -s 10.137.0.5 -j DROP; "
					  "+0 -i vif3.0 ! -s 10.137.0.99 -j DROP");
	antispoof_ops_done(&undo);
	antispoof_ops_done(&done);
}
END_TEST

START_TEST(test_check)
{
	struct ipt_rule_view c[4];
	struct antispoof_report rep;
	struct ip_addr a = A("10.137.0.5");

	c[0] = view("vif3.0", false, NULL, false, "ACCEPT");
	c[1] = R1("vif3.0", "10.137.0.5");
	c[2] = R1("vif3.0", "10.137.0.99");
	ck_assert_int_eq(antispoof_check(c, 3, AF_INET, "vif3.0", &a, 1, &rep), 0);
	ck_assert_uint_eq(rep.n, 2);
	ck_assert(rep.item[0].present);
	ck_assert_int_eq(rep.item[0].defeated_by, 0);
	ck_assert(!rep.item[1].present);
	ck_assert_uint_eq(rep.n_stale, 1);
	ck_assert_uint_eq(rep.stale[0], 2);
	antispoof_report_done(&rep);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("antispoof");
	TCase *tc = tcase_create("antispoof");

	tcase_add_test(tc, test_decode_round_trip);
	tcase_add_test(tc, test_iface_semantics);
	tcase_add_test(tc, test_ensure);
	tcase_add_test(tc, test_ensure_stale);
	tcase_add_test(tc, test_ensure_defeated);
	tcase_add_test(tc, test_remove);
	tcase_add_test(tc, test_undo);
	tcase_add_test(tc, test_check);
	suite_add_tcase(s, tc);
	return tl_main(s, false);
}
