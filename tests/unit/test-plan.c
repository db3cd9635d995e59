/* The plan: which changes online makes, in which order, and that offline
 * takes every one of them away. Pure: no root, no kernel. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "antispoof.h"
#include "input.h"
#include "log.h"
#include "plan.h"
#include "testlib.h"

/* A compact rendering of a plan, one token per action, "-" for removals. */
/* The x_tables rules an anti-spoofing action stands for (the plan says
 * what; antispoof.h says which rules that is). */
static const struct ipt_drop_rule *rules_of(const struct plan *p, const struct action *a)
{
	static struct ipt_drop_rule rules[ANTISPOOF_MAX_WANTED];

	antispoof_wanted(a->family, p->in->ifname, p->addrs, p->n_addrs, rules);
	return rules;
}

static unsigned n_rules(const struct plan *p, const struct action *a)
{
	struct ipt_drop_rule rules[ANTISPOOF_MAX_WANTED];

	return antispoof_wanted(a->family, p->in->ifname, p->addrs, p->n_addrs, rules);
}

static char *render(const struct plan *p, bool with_sysctls)
{
	static char out[8192];
	size_t off = 0;

	out[0] = 0;
	for (unsigned i = 0; i < p->n; i++) {
		const struct action *a = &p->actions[i];
		char addr[IP_ADDR_STRLEN] = "", tok[128];

		if (a->has_addr)
			ip_addr_to_string(&a->addr, addr);
		switch (a->type) {
		case ACT_RENAME:
			snprintf(tok, sizeof(tok), "rename");
			break;
		case ACT_SYSCTL:
			if (!with_sysctls && !streq(a->key, "proxy_arp") && !streq(a->key, "proxy_ndp"))
				continue;
			snprintf(tok, sizeof(tok), "sysctl%c:%s=%s", a->family == AF_INET ? '4' : '6', a->key, a->value);
			break;
		case ACT_ANTISPOOF:
			snprintf(tok, sizeof(tok), "rules%c:%u", a->family == AF_INET ? '4' : '6', n_rules(p, a));
			break;
		case ACT_CT_PURGE:
			snprintf(tok, sizeof(tok), "ct");
			break;
		case ACT_NEIGH:
			snprintf(tok, sizeof(tok), "neigh:%s", addr);
			break;
		case ACT_LINK:
			snprintf(tok, sizeof(tok), "%s", a->up ? "up" : "down");
			break;
		case ACT_ROUTE:
			snprintf(tok, sizeof(tok), "route:%s", addr);
			break;
		case ACT_HOOK:
			snprintf(tok, sizeof(tok), "hook%s%s", a->has_addr ? ":" : "", addr);
			break;
		case ACT_ADDR:
			snprintf(tok, sizeof(tok), "addr:%s", addr);
			break;
		case ACT_XS_STATUS:
			snprintf(tok, sizeof(tok), "status");
			break;
		case ACT_SKIP:
			snprintf(tok, sizeof(tok), "skip:%s", addr);
			break;
		case ACT_NAT_NS:
			snprintf(tok, sizeof(tok), "nat-ns");
			break;
		case ACT_NAT_MOVE:
			snprintf(tok, sizeof(tok), "nat-move");
			break;
		case ACT_NAT_VETH:
			snprintf(tok, sizeof(tok), "nat-veth");
			break;
		case ACT_NAT_CONF:
			snprintf(tok, sizeof(tok), "nat-conf");
			break;
		case ACT_NAT_TABLE:
			snprintf(tok, sizeof(tok), "nat-table");
			break;
		case ACT_NAT_REMOVE:
			snprintf(tok, sizeof(tok), "nat");
			break;
		default:
			snprintf(tok, sizeof(tok), "?");
		}
		off += (size_t)snprintf(out + off, sizeof(out) - off, "%s%s%s", off ? " " : "", a->remove ? "-" : "", tok);
	}
	return out;
}

/* The kernel facts of the last input() (the tests use one vif at a time). */
static struct vif_facts facts;

static struct vif_input input(const char *ip, const char *gw6, bool ipv6_kernel, bool ipv6_disabled)
{
	struct vif_input in = {};
	struct vif_store s = {
		.ip = (char *)ip,
		.mac = (char *)"00:16:3e:5e:6c:00",
		.gateway = (char *)"10.137.0.1",
		.gateway6 = (char *)gw6,
	};

	ck_assert_int_eq(vif_input_from_env("vif3.0", "backend/vif/3/0", &in), 0);
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	facts = (struct vif_facts){ .ifindex = 7, .ipv6_kernel = ipv6_kernel, .ipv6_disabled = ipv6_disabled };
	return in;
}

static struct plan plan;

static int first_index(const struct plan *p, enum action_type t)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->actions[i].type == t)
			return (int)i;
	return -1;
}

static int last_index(const struct plan *p, enum action_type t)
{
	int last = -1;

	for (unsigned i = 0; i < p->n; i++)
		if (p->actions[i].type == t)
			last = (int)i;
	return last;
}


static const char *online(const struct vif_input *in)
{
	ck_assert_int_eq(plan_build(in, &facts, VIF_CMD_ONLINE, &plan), 0);
	return render(&plan, false);
}

static const char *offline(const struct vif_input *in)
{
	ck_assert_int_eq(plan_build(in, &facts, VIF_CMD_OFFLINE, &plan), 0);
	return render(&plan, false);
}

START_TEST(test_online_v4_only)
{
	struct vif_input in = input("10.137.0.5", NULL, true, false);

	ck_assert_str_eq(online(&in), "sysctl4:proxy_arp=1 rules4:2 rules6:1 ct neigh:10.137.0.5 up "
				      "route:10.137.0.5 hook:10.137.0.5 addr:10.137.0.1 status");
}
END_TEST

START_TEST(test_online_dual_stack)
{
	struct vif_input in = input("10.137.0.5 fd09:24ef:4179::a89:5", "fd09:24ef:4179::a89:1", true, false);

	ck_assert_str_eq(online(&in),
			 "sysctl4:proxy_arp=1 rules4:2 rules6:2 ct "
			 "neigh:10.137.0.5 neigh:fd09:24ef:4179::a89:5 up route:10.137.0.5 hook:10.137.0.5 "
			 "route:fd09:24ef:4179::a89:5 hook:fd09:24ef:4179::a89:5 addr:10.137.0.1 "
			 "addr:fd09:24ef:4179::a89:1 sysctl6:proxy_ndp=1 status");
}
END_TEST

START_TEST(test_online_empty_ip)
{
	struct vif_input in = input("", NULL, true, false);

	const struct action *a;

	/* SPEC: no address, so nothing it sends may pass: "-i VIF -j DROP" in
	 * both families before the link comes up; no routes, no gateway. */
	ck_assert_str_eq(render((plan_build(&in, &facts, VIF_CMD_ONLINE, &plan), &plan), true),
			 "rules4:1 rules6:1 up hook status");
	for (int i = 0; i < 2; i++) {
		a = &plan.actions[i];
		ck_assert_int_eq(a->family, i == 0 ? AF_INET : AF_INET6);
		ck_assert_str_eq(rules_of(&plan, a)[0].iface, "vif3.0");
		ck_assert(!rules_of(&plan, a)[0].iface_inv);
		ck_assert(!rules_of(&plan, a)[0].has_src);
	}
	ck_assert_str_eq(offline(&in), "-hook -addr:10.137.0.1 -down -rules6:1 -rules4:1 -sysctl4:proxy_arp=0");
}
END_TEST

/* NAT mode: the namespace steps come first (the sysctls then land on the
 * netvm side's veth), IPv6 is gone, and offline removes the namespace
 * last -- also when only the kernel still knows of it. */
START_TEST(test_nat_mode)
{
	struct vif_input in = {};
	struct vif_store s = {
		.ip = (char *)"10.137.0.5 fd09::5",
		.mac = (char *)"00:16:3e:5e:6c:00",
		.gateway = (char *)"10.137.0.1",
		.gateway6 = (char *)"fd09::1",
		.visible_ip = (char *)"10.152.152.11",
		.visible_gateway = (char *)"10.152.152.10",
	};
	char buf[512];

	ck_assert_int_eq(vif_input_from_env("vif3.0", "backend/vif/3/0", &in), 0);
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	facts = (struct vif_facts){ .ifindex = 7, .ipv6_kernel = true };
	ck_assert_str_eq(online(&in), "nat-ns nat-move nat-veth nat-conf nat-table sysctl4:proxy_arp=1 rules4:2 "
				      "rules6:1 ct neigh:10.137.0.5 up route:10.137.0.5 hook:10.137.0.5 "
				      "addr:10.137.0.1 status");
	ck_assert_ptr_nonnull(strstr(action_describe(&plan, &plan.actions[3], buf, sizeof(buf)),
				     "address 10.137.0.5/32 dev vif3.0-p, 10.152.152.10/32 dev vif3.0"));
	ck_assert_str_eq(offline(&in), "-hook:10.137.0.5 -route:10.137.0.5 -addr:10.137.0.1 -down "
				       "-neigh:10.137.0.5 -rules6:1 -rules4:2 -sysctl4:proxy_arp=0 -nat");

	/* The keys are gone, the namespace is not. */
	in = (struct vif_input){};
	ck_assert_int_eq(vif_input_from_env("vif3.0", "backend/vif/3/0", &in), 0);
	facts = (struct vif_facts){ .ifindex = 7, .ipv6_kernel = true, .nat_ns = true };
	ck_assert_str_eq(offline(&in), "-hook -down -rules6:1 -rules4:1 -sysctl4:proxy_arp=0 -nat");
	facts.nat_ns = false;
	ck_assert_str_eq(offline(&in), "-hook -down -rules6:1 -rules4:1 -sysctl4:proxy_arp=0");
}
END_TEST

/* offline when xenstore no longer holds ip (or is gone): the addresses the
 * kernel's rules claim for the vif are taken away all the same. */
START_TEST(test_offline_from_kernel_state)
{
	struct vif_input in = {};

	ck_assert_int_eq(vif_input_from_env("vif3.0", "backend/vif/3/0", &in), 0);
	facts = (struct vif_facts){ .ifindex = 7, .ipv6_kernel = true, .n_claimed = 2 };
	ck_assert_int_eq(ip_addr_parse("10.137.0.5", AF_INET, &facts.claimed[0]), 0);
	ck_assert_int_eq(ip_addr_parse("fd09::5", AF_INET6, &facts.claimed[1]), 0);
	ck_assert_str_eq(offline(&in), "-hook:fd09::5 -route:fd09::5 -hook:10.137.0.5 -route:10.137.0.5 -down "
				       "-neigh:fd09::5 -neigh:10.137.0.5 -rules6:2 -rules4:2 -sysctl4:proxy_arp=0");
	/* The kernel's and xenstore's, once each. */
	in = input("10.137.0.5 10.137.0.7", NULL, true, false);
	facts.n_claimed = 2;
	ck_assert_int_eq(ip_addr_parse("10.137.0.9", AF_INET, &facts.claimed[0]), 0);
	ck_assert_int_eq(ip_addr_parse("10.137.0.5", AF_INET, &facts.claimed[1]), 0);
	ck_assert_str_eq(offline(&in), "-hook:10.137.0.9 -route:10.137.0.9 -hook:10.137.0.7 -route:10.137.0.7 "
				       "-hook:10.137.0.5 -route:10.137.0.5 -addr:10.137.0.1 -down -neigh:10.137.0.9 "
				       "-neigh:10.137.0.7 -neigh:10.137.0.5 -rules6:1 -rules4:6 -sysctl4:proxy_arp=0");
	/* online uses xenstore's alone. */
	ck_assert_str_eq(online(&in), "sysctl4:proxy_arp=1 rules4:4 rules6:1 ct neigh:10.137.0.5 neigh:10.137.0.7 up "
				      "route:10.137.0.5 hook:10.137.0.5 route:10.137.0.7 hook:10.137.0.7 "
				      "addr:10.137.0.1 status");
}
END_TEST

START_TEST(test_online_link_local_gateway6)
{
	struct vif_input in = input("10.137.0.5 fd09::5", "fe80::1", true, false);

	ck_assert_str_eq(online(&in), "sysctl4:proxy_arp=1 rules4:2 rules6:2 ct "
				      "neigh:10.137.0.5 neigh:fd09::5 up route:10.137.0.5 hook:10.137.0.5 "
				      "route:fd09::5 hook:fd09::5 addr:10.137.0.1 status");
}
END_TEST

START_TEST(test_online_ipv6_disabled)
{
	struct vif_input in = input("10.137.0.5 fd09::5", "fd09::1", true, true);

	/* Rules still go in; the v6 neighbour, route, gateway6 and proxy_ndp
	 * cannot, and the route is skipped with an error logged. */
	ck_assert_str_eq(online(&in), "sysctl4:proxy_arp=1 rules4:2 rules6:2 ct "
				      "neigh:10.137.0.5 up route:10.137.0.5 hook:10.137.0.5 skip:fd09::5 "
				      "hook:fd09::5 addr:10.137.0.1 status");
	/* offline removes the v6 pieces whatever IPv6 is now. */
	ck_assert_ptr_nonnull(strstr(offline(&in), "-route:fd09::5"));
	ck_assert_ptr_nonnull(strstr(offline(&in), "-addr:fd09::1"));
	ck_assert_ptr_nonnull(strstr(offline(&in), "-neigh:fd09::5"));
}
END_TEST

START_TEST(test_online_no_ipv6_kernel)
{
	struct vif_input in = input("10.137.0.5", "fd09::1", false, true);

	ck_assert_str_eq(online(&in), "sysctl4:proxy_arp=1 rules4:2 ct neigh:10.137.0.5 up "
				      "route:10.137.0.5 hook:10.137.0.5 addr:10.137.0.1 status");
	ck_assert_ptr_null(strstr(render(&plan, true), "sysctl6"));
}
END_TEST

START_TEST(test_online_v6_only_client)
{
	struct vif_input in = input("fd09::5", NULL, true, false);
	const struct action *rules4;

	ck_assert_str_eq(online(&in), "sysctl4:proxy_arp=1 rules4:1 rules6:2 ct neigh:fd09::5 up "
				      "route:fd09::5 hook:fd09::5 addr:10.137.0.1 status");
	/* No IPv4 address: nothing IPv4 gets in from this vif at all. */
	rules4 = &plan.actions[first_index(&plan, ACT_ANTISPOOF)];
	ck_assert(!rules_of(&plan, rules4)[0].has_src);
	ck_assert(!rules_of(&plan, rules4)[0].iface_inv);
	ck_assert_str_eq(rules_of(&plan, rules4)[0].iface, "vif3.0");
}
END_TEST

START_TEST(test_hardening)
{
	struct vif_input in = input("10.137.0.5", NULL, true, false);
	const char *r;

	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_ONLINE, &plan), 0);
	r = render(&plan, true);
	ck_assert_ptr_nonnull(strstr(r, "sysctl4:proxy_arp=1 sysctl4:accept_source_route=0 sysctl4:accept_redirects=0 "
					"sysctl4:secure_redirects=0 sysctl4:send_redirects=0 "
					"sysctl4:drop_unicast_in_l2_multicast=1 sysctl6:accept_source_route=-1 "
					"sysctl6:accept_redirects=0 sysctl6:accept_ra=0 sysctl6:accept_dad=0 "
					"sysctl6:autoconf=0 sysctl6:drop_unicast_in_l2_multicast=1 "
					"sysctl6:drop_unsolicited_na=1 rules4:2"));
	in.harden = false;
	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_ONLINE, &plan), 0);
	ck_assert_ptr_nonnull(strstr(render(&plan, true), "sysctl4:proxy_arp=1 rules4:2"));
}
END_TEST

START_TEST(test_rename_first)
{
	struct vif_input in = {};
	struct vif_store s = { .ip = (char *)"", .vifname = (char *)"vif-work" };

	ck_assert_int_eq(vif_input_from_env("vif3.0", "backend/vif/3/0", &in), 0);
	ck_assert_int_eq(vif_input_from_store(&s, &in), 0);
	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_ONLINE, &plan), 0);
	ck_assert_int_eq(plan.actions[0].type, ACT_RENAME);
	ck_assert_ptr_null(strstr(offline(&in), "rename"));
}
END_TEST

START_TEST(test_rules_content)
{
	struct vif_input in = input("10.137.0.5 fd09::5", NULL, true, false);
	const struct action *a;

	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_ONLINE, &plan), 0);
	a = &plan.actions[first_index(&plan, ACT_ANTISPOOF)];
	ck_assert_int_eq(a->type, ACT_ANTISPOOF);
	ck_assert_int_eq(a->family, AF_INET);
	ck_assert_uint_eq(n_rules(&plan, a), 2);
	/* -i vif3.0 ! -s 10.137.0.5 -j DROP */
	ck_assert_str_eq(rules_of(&plan, a)[0].iface, "vif3.0");
	ck_assert(!rules_of(&plan, a)[0].iface_inv && rules_of(&plan, a)[0].has_src && rules_of(&plan, a)[0].src_inv);
	ck_assert(ip_addr_equal(&rules_of(&plan, a)[0].src, &in.addrs[0]));
	/* ! -i vif+ -s 10.137.0.5 -j DROP */
	ck_assert_str_eq(rules_of(&plan, a)[1].iface, "vif+");
	ck_assert(rules_of(&plan, a)[1].iface_inv && rules_of(&plan, a)[1].has_src && !rules_of(&plan, a)[1].src_inv);
	a = &plan.actions[last_index(&plan, ACT_ANTISPOOF)];
	ck_assert_int_eq(a->family, AF_INET6);
	ck_assert(ip_addr_equal(&rules_of(&plan, a)[0].src, &in.addrs[1]));
}
END_TEST

/* Ordering invariants, over a spread of inputs. */
static const struct {
	const char *ip, *gw6;
	bool v6k, v6off;
} inv_cases[] = {
	{ "10.137.0.5", NULL, true, false },
	{ "10.137.0.5 fd09::5", "fd09::1", true, false },
	{ "10.137.0.5 10.137.0.6 fd09::5 fd09::6", "fd09::1", true, false },
	{ "fd09::5", "fe80::1", true, true },
	{ "10.137.0.5", NULL, false, true },
	{ "", NULL, true, false },
};

START_TEST(test_online_invariants)
{
	struct vif_input in = input(inv_cases[_i].ip, inv_cases[_i].gw6, inv_cases[_i].v6k, inv_cases[_i].v6off);
	int up;

	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_ONLINE, &plan), 0);
	up = first_index(&plan, ACT_LINK);
	ck_assert_int_ge(up, 0);
	/* Anti-spoofing, conntrack purge and neighbours before the link comes up. */
	ck_assert_int_lt(last_index(&plan, ACT_SYSCTL) < up || first_index(&plan, ACT_SYSCTL) < up, 2);
	ck_assert_int_lt(last_index(&plan, ACT_ANTISPOOF), up);
	ck_assert_int_lt(last_index(&plan, ACT_CT_PURGE), up);
	ck_assert_int_lt(last_index(&plan, ACT_NEIGH), up);
	if (in.n_addrs) {
		ck_assert_int_lt(last_index(&plan, ACT_ANTISPOOF), first_index(&plan, ACT_CT_PURGE));
		ck_assert_int_gt(first_index(&plan, ACT_ROUTE) < 0 ? up + 1 : first_index(&plan, ACT_ROUTE), up);
	}
	ck_assert_int_gt(first_index(&plan, ACT_HOOK), up);
	ck_assert_int_eq(last_index(&plan, ACT_XS_STATUS), (int)plan.n - 1);
	for (unsigned i = 0; i < plan.n; i++)
		ck_assert(!plan.actions[i].remove);
}
END_TEST

/* Everything online creates, offline removes; and it takes the link down
 * before it lifts anti-spoofing. */
START_TEST(test_offline_reverses_online)
{
	struct vif_input in = input(inv_cases[_i].ip, inv_cases[_i].gw6, inv_cases[_i].v6k, false);
	static struct plan on;
	int down;

	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_ONLINE, &on), 0);
	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_OFFLINE, &plan), 0);
	for (unsigned i = 0; i < on.n; i++) {
		const struct action *a = &on.actions[i];
		bool found = false;

		if (a->type != ACT_ROUTE && a->type != ACT_ADDR && a->type != ACT_NEIGH && a->type != ACT_ANTISPOOF)
			continue;
		for (unsigned j = 0; j < plan.n; j++) {
			const struct action *b = &plan.actions[j];

			found = found || (b->type == a->type && b->family == a->family && b->remove &&
					  (!a->has_addr || ip_addr_equal(&a->addr, &b->addr)));
		}
		ck_assert_msg(found, "online action %u (%s) has no offline removal", i, action_type_name(a->type));
	}
	down = first_index(&plan, ACT_LINK);
	ck_assert_int_ge(down, 0);
	ck_assert(!plan.actions[down].up);
	if (in.n_addrs)
		ck_assert_int_gt(first_index(&plan, ACT_ANTISPOOF), down);
	ck_assert_int_lt(first_index(&plan, ACT_XS_STATUS), 0);
	for (unsigned i = 0; i < plan.n; i++)
		ck_assert(plan.actions[i].remove);
}
END_TEST

START_TEST(test_offline_v4)
{
	struct vif_input in = input("10.137.0.5", NULL, true, false);

	ck_assert_str_eq(offline(&in), "-hook:10.137.0.5 -route:10.137.0.5 -addr:10.137.0.1 -down -neigh:10.137.0.5 "
				       "-rules6:1 -rules4:2 -sysctl4:proxy_arp=0");
}
END_TEST

START_TEST(test_bad_cmd)
{
	struct vif_input in = input("10.137.0.5", NULL, true, false);

	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_STATUS, &plan), -EINVAL);
	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_ADD, &plan), -EINVAL);
}
END_TEST

START_TEST(test_describe)
{
	struct vif_input in = input("10.137.0.5 fd09::5", "fd09::1", true, false);
	char buf[512];
	int i;

	ck_assert_int_eq(plan_build(&in, &facts, VIF_CMD_ONLINE, &plan), 0);
	i = first_index(&plan, ACT_ROUTE);
	ck_assert_str_eq(action_describe(&plan, &plan.actions[i], buf, sizeof(buf)),
			 "add route 10.137.0.5 dev vif3.0 scope link metric 32749");
	ck_assert_str_eq(action_describe(&plan, &plan.actions[last_index(&plan, ACT_ROUTE)], buf, sizeof(buf)),
			 "add route fd09::5 dev vif3.0 metric 32749");
	ck_assert_str_eq(action_describe(&plan, &plan.actions[first_index(&plan, ACT_NEIGH)], buf, sizeof(buf)),
			 "add neighbour 10.137.0.5 lladdr 00:16:3e:5e:6c:00 dev vif3.0 nud permanent");
	ck_assert_str_eq(action_describe(&plan, &plan.actions[last_index(&plan, ACT_ADDR)], buf, sizeof(buf)),
			 "add address fd09::1/128 dev vif3.0");
	ck_assert_str_eq(action_describe(&plan, &plan.actions[0], buf, sizeof(buf)),
			 "set net.ipv4.conf.vif3.0.proxy_arp = 1");
	ck_assert_str_eq(action_describe(&plan, &plan.actions[plan.n - 1], buf, sizeof(buf)),
			 "write backend/vif/3/0/hotplug-status = connected");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan");
	TCase *tc;

	log_open("test-plan", false);

	tc = tcase_create("online");
	tcase_add_test(tc, test_online_v4_only);
	tcase_add_test(tc, test_online_dual_stack);
	tcase_add_test(tc, test_online_empty_ip);
	tcase_add_test(tc, test_offline_from_kernel_state);
	tcase_add_test(tc, test_online_link_local_gateway6);
	tcase_add_test(tc, test_online_ipv6_disabled);
	tcase_add_test(tc, test_online_no_ipv6_kernel);
	tcase_add_test(tc, test_online_v6_only_client);
	tcase_add_test(tc, test_hardening);
	tcase_add_test(tc, test_rename_first);
	tcase_add_test(tc, test_rules_content);
	tcase_add_test(tc, test_bad_cmd);
	tcase_add_test(tc, test_describe);
	suite_add_tcase(s, tc);

	tc = tcase_create("invariants");
	tcase_add_loop_test(tc, test_online_invariants, 0, ELEMENTSOF(inv_cases));
	tcase_add_loop_test(tc, test_offline_reverses_online, 0, ELEMENTSOF(inv_cases));
	tcase_add_test(tc, test_offline_v4);
	tcase_add_test(tc, test_nat_mode);
	suite_add_tcase(s, tc);

	return tl_main(s, false);
}
