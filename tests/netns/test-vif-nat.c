/* NAT mode (SPEC "NAT mode"): the real vif-route-qubes binary against a
 * client whose mapped-ip keys give it another address. The client end of
 * the Xen vif (eth0) lives in a namespace "client" of its own, configured
 * only with the visible address, so traffic proves the translation. Run
 * once per firewall generation (argv[1]: xtables or nftables). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vifenv.h"

#define XB "/local/domain/0/backend/vif/3/0"
#define REAL "10.137.0.5"
#define VIP "10.152.152.11"
#define VGW "10.152.152.10"
#define MAC "00:16:3e:5e:6c:00"
#define NS "vif3.0-nat"

static bool nft_gen;

static void client_ns(void)
{
	/* The frontend has the MAC xenstore gives it; the backend vif the
	 * MAC Xen gives every vif. */
	free(tl_sh("ip link set eth0 address " MAC " && ip link set vif3.0 address fe:ff:ff:ff:ff:ff && "
		   "ip netns add client && ip link set eth0 netns client && "
		   "ip -n client link set lo up && "
		   "ip -n client addr add " VIP "/32 dev eth0 && ip -n client link set eth0 up && "
		   "ip -n client route add " VGW " dev eth0 && ip -n client route add default via " VGW));
}

static void setup(void)
{
	if (nft_gen)
		vifenv_setup_nft();
	else
		vifenv_setup_qubesdb();
	vifenv_mapped_ip(REAL, VIP, VGW);
	client_ns();
}

/* Plain Xen: the domain's keys in xenstore, which cannot hold mapped-ip
 * keys (their paths hold the address's dots). */
static void setup_xenstore(void)
{
	vifenv_setup();
	client_ns();
}

static void teardown(void)
{
	(void)tl_run(NULL, "ip netns del client 2>/dev/null; ip netns del " NS " 2>/dev/null; true");
	vifenv_teardown();
}

/* Everything a NAT-mode online could change: the netvm's state, which
 * named namespaces exist, and what is inside ours. */
static char *state(void)
{
	return vifenv_nat_state(NS, true);
}

static int online(char **err)
{
	return vifenv_run_dom(3, "online type_if=vif", err);
}

static bool ping_from_client(const char *dst)
{
	return tl_run(NULL, "ip netns exec client ping -c 1 -W 2 %s >/dev/null 2>&1", dst) == 0;
}

START_TEST(test_nat_online)
{
	_cleanup_free_ char *err = NULL, *links = NULL, *inside = NULL, *mac = NULL, *v6 = NULL, *table = NULL;

	ck_assert_int_eq(online(&err), 0);
	/* The namespace, the Xen vif and the veth end inside it. */
	links = tl_sh("ip -n " NS " -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\\n' ' '");
	ck_assert_str_eq(links, "lo vif3.0 vif3.0-p ");
	mac = tl_sh("ip -n " NS " -o link show vif3.0-p | grep -o 'link/ether [^ ]*'");
	ck_assert_str_eq(mac, "link/ether " MAC "\n");
	free(mac);
	mac = tl_sh("ip -o link show vif3.0 | grep -o 'link/ether [^ ]*'");
	ck_assert_str_eq(mac, "link/ether fe:ff:ff:ff:ff:ff\n");
	inside = tl_sh("ip -n " NS " -o -4 addr show | awk '{print $2, $4}'; "
		       "ip -n " NS " neigh show nud permanent");
	ck_assert_msg(strstr(inside, "vif3.0-p " REAL "/32") && strstr(inside, "vif3.0 " VGW "/32") &&
			      strstr(inside, VIP " dev vif3.0 lladdr " MAC " PERMANENT") &&
			      strstr(inside, "10.137.0.1 dev vif3.0-p lladdr fe:ff:ff:ff:ff:ff PERMANENT"),
		      "inside:\n%s", inside);
	table = tl_sh("ip netns exec " NS " nft list table netdev antispoof");
	ck_assert_msg(strstr(table, "ip saddr set " REAL) && strstr(table, "ip daddr set " VIP), "%s", table);
	/* The netvm side is the veth, configured as any vif for the real
	 * address, with IPv6 off. */
	vifenv_expect_protected("vif3.0", REAL);
	free(tl_sh("ip route show " REAL " dev vif3.0 | grep -q 'scope link'"));
	free(tl_sh("ip -4 addr show dev vif3.0 | grep -q '10.137.0.1/32'"));
	v6 = tl_sh("cat /proc/sys/net/ipv6/conf/vif3.0/disable_ipv6 /proc/sys/net/ipv4/conf/vif3.0/proxy_arp");
	ck_assert_str_eq(v6, "1\n1\n");
	/* Traffic: the client, knowing only its visible address, reaches
	 * the netvm, which sees the real one. */
	ck_assert_msg(ping_from_client("10.137.0.1"), "the client cannot reach its gateway through the namespace");
	ck_assert_int_eq(tl_run(NULL, "ping -c 1 -W 2 " REAL " >/dev/null"), 0);
}
END_TEST

START_TEST(test_nat_online_twice_equals_once)
{
	_cleanup_free_ char *once = NULL, *twice = NULL;

	ck_assert_int_eq(online(NULL), 0);
	once = state();
	ck_assert_int_eq(online(NULL), 0);
	twice = state();
	vifenv_assert_same(once, twice, "state after a second online");
	ck_assert(ping_from_client("10.137.0.1"));
}
END_TEST

/* A run killed after the move and before the veth: the next online
 * finishes the job, to exactly the state of a clean one. */
START_TEST(test_nat_repairs_killed_run)
{
	_cleanup_free_ char *clean = NULL, *repaired = NULL;

	ck_assert_int_eq(online(NULL), 0);
	clean = state();
	ck_assert_int_eq(vifenv_run_dom(3, "offline", NULL), 0);
	free(tl_sh("ip netns add " NS " && ip link set vif3.0 netns " NS));
	ck_assert_int_eq(online(NULL), 0);
	repaired = state();
	/* The veth is a new one: only its ifindex may differ. */
	vifenv_assert_same(vifenv_without_ifindex(clean), vifenv_without_ifindex(repaired),
			   "state after online over a killed run");
	ck_assert(ping_from_client("10.137.0.1"));
}
END_TEST

START_TEST(test_nat_offline)
{
	_cleanup_free_ char *before = NULL, *err = NULL, *after = NULL;

	before = state();
	ck_assert_int_eq(online(NULL), 0);
	ck_assert_int_eq(vifenv_run_dom(3, "offline", &err), 0);
	after = state();
	/* The Xen vif is back, as it was; nothing else is left. */
	vifenv_assert_same(before, after, "state after online and offline");
	ck_assert_int_eq(access("/run/netns/" NS, F_OK), -1);
}
END_TEST

/* xenstore lost the client's keys: the namespace is found all the same. */
START_TEST(test_nat_offline_without_keys)
{
	_cleanup_free_ char *n = NULL;

	ck_assert_int_eq(online(NULL), 0);
	tl_xs_rm(XB "/ip");
	vifenv_mapped_ip(REAL, NULL, NULL);
	ck_assert_int_eq(vifenv_run_dom(3, "offline", NULL), 0);
	ck_assert_int_eq(access("/run/netns/" NS, F_OK), -1);
	vifenv_expect_no_antispoof();
	/* vif3.0 is the Xen vif again (its peer in the client), not our veth. */
	n = tl_sh("ip -d -o link show vif3.0 | grep -c 'link-netns client' || true");
	ck_assert_str_eq(n, "1\n");
}
END_TEST

/* The domain died first: its Xen vif is gone from the namespace; offline
 * still leaves no veth and no namespace. */
START_TEST(test_nat_offline_vif_gone)
{
	_cleanup_free_ char *links = NULL;

	ck_assert_int_eq(online(NULL), 0);
	free(tl_sh("ip -n " NS " link del vif3.0"));
	/* An administrator's shell inside keeps the namespace alive after
	 * its name is gone: the veth must go explicitly, not with it. */
	free(tl_sh("ip netns exec " NS " sleep 60 >/dev/null 2>&1 & echo $! > /tmp/qvt-nat-holder.pid"));
	ck_assert_int_eq(vifenv_run_dom(3, "offline", NULL), 0);
	ck_assert_int_eq(access("/run/netns/" NS, F_OK), -1);
	vifenv_expect_no_antispoof();
	links = tl_sh("ip -o link show | grep -c vif3.0 || true");
	free(tl_sh("kill $(cat /tmp/qvt-nat-holder.pid)"));
	ck_assert_str_eq(links, "0\n");
}
END_TEST

START_TEST(test_nat_visible_equals_real)
{
	vifenv_mapped_ip(REAL, REAL, "10.137.0.1");
	ck_assert_int_eq(online(NULL), 0);
	ck_assert_int_eq(access("/run/netns/" NS, F_OK), -1);
	vifenv_expect_protected("vif3.0", REAL);
}
END_TEST

static const struct {
	const char *vip, *vgw, *ip, *msg;
} bad[] = {
	{ "10.152.152.256", VGW, REAL, "is not a unicast IPv4 address" },
	{ "224.0.0.1", VGW, REAL, "is not a unicast IPv4 address" },
	{ "fd09::11", VGW, REAL, "is not a unicast IPv4 address" },
	{ VIP, "10.152.152.x", REAL, "is not a unicast IPv4 address" },
	{ VIP, VIP, REAL, "the client cannot be its own gateway" },
	{ VIP, NULL, REAL, "visible-gateway is missing" },
	{ VIP, REAL, REAL, "equals the client's real address" },
};

START_TEST(test_nat_bad_keys)
{
	_cleanup_free_ char *before = NULL, *after = NULL, *err = NULL;

	vifenv_mapped_ip(REAL, bad[_i].vip, bad[_i].vgw);
	before = state();
	ck_assert_int_eq(online(&err), 1);
	ck_assert_msg(strstr(err, bad[_i].msg), "stderr: %s", err);
	ck_assert_int_eq(tl_count(err, "\n"), 1);
	after = state();
	vifenv_assert_same(before, after, "state after a refused online");
}
END_TEST

START_TEST(test_nat_ipv6_dropped)
{
	_cleanup_free_ char *err = NULL, *lines = NULL, *want = NULL;

	tl_xs_write(XB "/ip", REAL " fd09::5");
	vifenv_domain_key("qubes-netvm-gateway6", "fd09::1");
	ck_assert_int_eq(online(&err), 0);
	ck_assert_msg(strstr(err, "ignoring the client's IPv6 address fd09::5"), "stderr: %s", err);
	vifenv_expect_protected("vif3.0", REAL);
	free(tl_sh("! ip -6 route show | grep -q fd09::5"));
	free(tl_sh("! ip -6 addr show | grep -q fd09::1"));
	/* Said when it is set up, not again on the way out. */
	free(err);
	err = NULL;
	ck_assert_int_eq(vifenv_run_dom(3, "offline", &err), 0);
	ck_assert_msg(!strstr(err, "IPv4 only"), "stderr: %s", err);
}
END_TEST

START_TEST(test_nat_status_and_dry_run)
{
	_cleanup_free_ char *out = NULL, *dry = NULL;

	ck_assert_int_eq(tl_run(&dry, "vif=vif3.0 XENBUS_PATH=backend/vif/3/0 %s -n online", tl_prog("VIF_ROUTE_QUBES")),
			 0);
	ck_assert_msg(strstr(dry, "create network namespace " NS) && strstr(dry, "ip saddr set " REAL) &&
			      strstr(dry, "address " REAL "/32 dev vif3.0-p"),
		      "%s", dry);
	ck_assert_int_eq(access("/run/netns/" NS, F_OK), -1);

	ck_assert_int_eq(online(NULL), 0);
	ck_assert_int_eq(tl_run(&out, "vif=vif3.0 XENBUS_PATH=backend/vif/3/0 %s status", tl_prog("VIF_ROUTE_QUBES")),
			 0);
	ck_assert_msg(strstr(out, "ok       namespace " NS) && strstr(out, "ok       nat") &&
			      strstr(out, "ok       address   " REAL "/32 dev vif3.0-p in " NS),
		      "%s", out);
	free(out);
	out = NULL;
	free(tl_sh("ip netns exec " NS " nft delete table netdev antispoof"));
	ck_assert_int_eq(tl_run(&out, "vif=vif3.0 XENBUS_PATH=backend/vif/3/0 %s status", tl_prog("VIF_ROUTE_QUBES")),
			 1);
	ck_assert_msg(strstr(out, "missing  nat"), "%s", out);
}
END_TEST

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* dom0 writes the keys 0.5 s after the hotplug started (Qubes issue 9318). */
START_TEST(test_nat_late_keys)
{
	uint64_t t0;

	vifenv_mapped_ip(REAL, NULL, NULL);
	free(tl_sh("(sleep 0.5; '%1$s' write /mapped-ip/" REAL "/visible-ip " VIP "; "
		   "'%1$s' write /mapped-ip/" REAL "/visible-gateway " VGW ") >/dev/null 2>&1 &",
		   tl_prog("TEST_QDB_TOOL")));
	t0 = ms_now();
	ck_assert_int_eq(online(NULL), 0);
	ck_assert_uint_ge(ms_now() - t0, 400);
	ck_assert_int_eq(access("/run/netns/" NS, F_OK), 0);
	ck_assert(ping_from_client("10.137.0.1"));
}
END_TEST

/* ... and never: online goes on without NAT mode after the bound, logged. */
START_TEST(test_nat_keys_never_come)
{
	_cleanup_free_ char *err = NULL;
	uint64_t t0;

	vifenv_mapped_ip(REAL, NULL, NULL);
	t0 = ms_now();
	ck_assert_int_eq(vifenv_run_dom(3, "--mapped-ip-wait 0.5 online type_if=vif", &err), 0);
	ck_assert_uint_ge(ms_now() - t0, 450);
	ck_assert_msg(strstr(err, "going on without NAT mode"), "stderr: %s", err);
	ck_assert_int_eq(access("/run/netns/" NS, F_OK), -1);
	vifenv_expect_protected("vif3.0", REAL);
}
END_TEST

/* The xenstore source never waits (and has no mapped-ip keys). */
START_TEST(test_nat_xenstore_no_wait)
{
	uint64_t t0;

	t0 = ms_now();
	ck_assert_int_eq(online(NULL), 0);
	ck_assert_uint_lt(ms_now() - t0, 1500);
	ck_assert_int_eq(access("/run/netns/" NS, F_OK), -1);
}
END_TEST

/* A fault before every step of a NAT-mode online: the state afterwards
 * is the state before, byte for byte. */
START_TEST(test_nat_rollback_every_step)
{
	_cleanup_free_ char *before = state(), *dry = NULL;
	int steps;

	ck_assert_int_eq(tl_run(&dry, "vif=vif3.0 XENBUS_PATH=backend/vif/3/0 %s -n online | grep -c '^ *[0-9]'",
				tl_prog("VIF_ROUTE_QUBES")),
			 0);
	steps = atoi(dry);
	ck_assert_int_gt(steps, 10);
	for (int i = 0; i < steps; i++) {
		_cleanup_free_ char *after = NULL, *err = NULL;
		char v[16], what[64];

		snprintf(v, sizeof(v), "%d", i);
		setenv("QVT_FAULT_STEP", v, 1);
		ck_assert_int_eq(online(&err), 1);
		ck_assert_msg(strstr(err, "injected fault"), "step %d: %s", i, err);
		after = state();
		snprintf(what, sizeof(what), "state after a fault at step %d", i);
		vifenv_assert_same(before, after, what);
	}
	unsetenv("QVT_FAULT_STEP");
	ck_assert_int_eq(online(NULL), 0);
	ck_assert(ping_from_client("10.137.0.1"));
}
END_TEST

int main(int argc, char **argv)
{
	const char *gen = argc > 1 ? argv[1] : "xtables";
	Suite *s = suite_create("vif-nat");
	TCase *tc;

	nft_gen = streq(gen, "nftables");
	tc = tcase_create(gen);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_nat_online);
	tcase_add_test(tc, test_nat_online_twice_equals_once);
	tcase_add_test(tc, test_nat_repairs_killed_run);
	tcase_add_test(tc, test_nat_offline);
	tcase_add_test(tc, test_nat_offline_without_keys);
	tcase_add_test(tc, test_nat_offline_vif_gone);
	tcase_add_test(tc, test_nat_visible_equals_real);
	tcase_add_loop_test(tc, test_nat_bad_keys, 0, ELEMENTSOF(bad));
	tcase_add_test(tc, test_nat_ipv6_dropped);
	tcase_add_test(tc, test_nat_status_and_dry_run);
	tcase_add_test(tc, test_nat_late_keys);
	tcase_add_test(tc, test_nat_keys_never_come);
	tcase_add_test(tc, test_nat_rollback_every_step);
	suite_add_tcase(s, tc);

	if (!nft_gen) {
		tc = tcase_create("xenstore");
		tcase_add_checked_fixture(tc, setup_xenstore, teardown);
		tcase_add_test(tc, test_nat_xenstore_no_wait);
		suite_add_tcase(s, tc);
	}
	return tl_main(s, true);
}
