/* The rtnetlink layer against a real kernel: every test runs in its own
 * network namespace with a veth pair vif3.0 <-> eth0 made by iproute2, and
 * what nlr_* did is checked through iproute2's text output. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nl.h"
#include "testlib.h"

#define VIF "vif3.0"
#define V4 "10.137.0.5"
#define V6 "fd09:24ef:4179::a89:5"
#define MAC1 "00:16:3e:5e:6c:00"
#define MAC2 "00:16:3e:5e:6c:01"
#define METRIC 32749

static struct nlr *nl;

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	ck_assert_msg(ip_addr_parse(s, AF_UNSPEC, &a) == 0, "bad test address %s", s);
	return a;
}

static struct mac_addr mac(const char *s)
{
	struct mac_addr m;

	ck_assert_msg(mac_parse(s, &m) == 0, "bad test MAC %s", s);
	return m;
}

/* Command output contains (or lacks) needle. */
#define assert_out_has(needle, ...)                                                       \
	do {                                                                              \
		_cleanup_free_ char *out_ = tl_sh(__VA_ARGS__);                           \
		ck_assert_msg(strstr(out_, needle), "'%s' not in output of '%s':\n%s", needle, \
			      #__VA_ARGS__, out_);                                        \
	} while (0)
#define assert_out_lacks(needle, ...)                                                     \
	do {                                                                              \
		_cleanup_free_ char *out_ = tl_sh(__VA_ARGS__);                           \
		ck_assert_msg(!strstr(out_, needle), "'%s' unexpectedly in output of '%s':\n%s", \
			      needle, #__VA_ARGS__, out_);                                \
	} while (0)

static int ifindex_of(const char *name)
{
	struct nlr_link l;

	ck_assert_int_eq(nlr_link_get(nl, name, &l), 0);
	return l.ifindex;
}

static bool link_is_up(const char *name)
{
	return tl_run(NULL, "ip link show %s | grep -q '[<,]UP[,>]'", name) == 0;
}

/* Fresh netns, a veth pair, and an nlr handle. */
static void setup(void)
{
	tl_netns_setup();
	free(tl_sh("ip link add " VIF " type veth peer name eth0"));
	ck_assert_int_eq(nlr_open(&nl), 0);
}

/* Same, with both ends up (routes need the link up). */
static void setup_up(void)
{
	setup();
	free(tl_sh("ip link set eth0 up && ip link set " VIF " up"));
}

static void teardown(void)
{
	nl = nlr_free(nl);
	tl_netns_teardown();
}

/* ---- links ---- */

START_TEST(test_link_get)
{
	_cleanup_free_ char *idx = tl_sh("cat /sys/class/net/" VIF "/ifindex");
	struct nlr_link l;

	ck_assert_int_eq(nlr_link_get(nl, VIF, &l), 0);
	ck_assert_int_eq(l.ifindex, atoi(idx));
	ck_assert_str_eq(l.name, VIF);
	ck_assert(!l.up);

	free(tl_sh("ip link set " VIF " up"));
	ck_assert_int_eq(nlr_link_get(nl, VIF, &l), 0);
	ck_assert(l.up);

	ck_assert_int_eq(nlr_link_get(nl, "vif4.0", &l), -ENODEV);
	ck_assert_int_eq(nlr_link_get(nl, "", &l), -EINVAL);
	ck_assert_int_eq(nlr_link_get(nl, "a-name-too-long-for-ifnamsiz", &l), -EINVAL);
}
END_TEST

START_TEST(test_link_up_down)
{
	int idx = ifindex_of(VIF);
	struct nlr_link l;

	ck_assert(!link_is_up(VIF));
	ck_assert_int_eq(nlr_link_set_up(nl, idx, true), 0);
	ck_assert(link_is_up(VIF));
	ck_assert_int_eq(nlr_link_get(nl, VIF, &l), 0);
	ck_assert(l.up);
	/* Idempotent. */
	ck_assert_int_eq(nlr_link_set_up(nl, idx, true), 0);
	ck_assert_int_eq(nlr_link_set_up(nl, idx, false), 0);
	ck_assert(!link_is_up(VIF));
	ck_assert_int_eq(nlr_link_set_up(nl, idx, false), 0);

	free(tl_sh("ip link del " VIF));
	ck_assert_int_eq(nlr_link_set_up(nl, idx, true), -ENODEV);
}
END_TEST

START_TEST(test_link_rename)
{
	int idx = ifindex_of(VIF);
	struct nlr_link l;

	/* Down link. */
	ck_assert_int_eq(nlr_link_rename(nl, idx, "eth5"), 0);
	assert_out_has("eth5", "ip -o link show");
	assert_out_lacks(VIF, "ip -o link show");
	ck_assert_int_eq(nlr_link_get(nl, "eth5", &l), 0);
	ck_assert_int_eq(l.ifindex, idx);
	ck_assert_int_eq(nlr_link_get(nl, VIF, &l), -ENODEV);

	/* Up link (6.18 allows it; older kernels say EBUSY). */
	ck_assert_int_eq(nlr_link_set_up(nl, idx, true), 0);
	ck_assert_int_eq(nlr_link_rename(nl, idx, VIF), 0);
	assert_out_has(VIF, "ip -o link show");
	ck_assert_int_eq(nlr_link_get(nl, VIF, &l), 0);
	ck_assert(l.up);

	/* Taken name, bad name, no such link. */
	ck_assert_int_eq(nlr_link_rename(nl, idx, "eth0"), -EEXIST);
	ck_assert_int_eq(nlr_link_rename(nl, idx, ""), -EINVAL);
	ck_assert_int_eq(nlr_link_rename(nl, 9999, "eth7"), -ENODEV);
}
END_TEST

/* ---- addresses ---- */

START_TEST(test_addr)
{
	int idx = ifindex_of(VIF);
	struct ip_addr a4 = addr(V4), a6 = addr(V6);

	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a4), 0);
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a6), 0);

	ck_assert_int_eq(nlr_addr_add(nl, idx, &a4), 0);
	ck_assert_int_eq(nlr_addr_add(nl, idx, &a6), 0);
	assert_out_has("inet " V4 "/32 ", "ip addr show dev " VIF);
	assert_out_has("inet6 " V6 "/128 ", "ip addr show dev " VIF);
	assert_out_has("nodad", "ip -6 addr show dev " VIF);
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a4), 1);
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a6), 1);

	ck_assert_int_eq(nlr_addr_add(nl, idx, &a4), -EEXIST);
	ck_assert_int_eq(nlr_addr_add(nl, idx, &a6), -EEXIST);

	ck_assert_int_eq(nlr_addr_del(nl, idx, &a4), 0);
	ck_assert_int_eq(nlr_addr_del(nl, idx, &a6), 0);
	assert_out_lacks(V4, "ip addr show dev " VIF);
	assert_out_lacks(V6, "ip addr show dev " VIF);
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a4), 0);
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a6), 0);

	/* Kernel: EADDRNOTAVAIL (v4 and v6), both normalised. */
	ck_assert_int_eq(nlr_addr_del(nl, idx, &a4), -ENOENT);
	ck_assert_int_eq(nlr_addr_del(nl, idx, &a6), -ENOENT);
}
END_TEST

/* exists means our host address on that link, nothing less. */
START_TEST(test_addr_exists_exact)
{
	int idx = ifindex_of(VIF), other = ifindex_of("eth0");
	struct ip_addr a4 = addr(V4), a6 = addr(V6);

	free(tl_sh("ip addr add " V4 "/24 dev " VIF " && ip addr add 10.137.0.6/32 dev " VIF));
	free(tl_sh("ip addr add " V6 "/64 dev " VIF " && ip addr add " V4 "/32 dev eth0"));
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a4), 0);
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a6), 0);
	ck_assert_int_eq(nlr_addr_exists(nl, other, &a4), 1);
	/* The /32 is a separate address from the /24. */
	ck_assert_int_eq(nlr_addr_add(nl, idx, &a4), 0);
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a4), 1);
	ck_assert_int_eq(nlr_addr_del(nl, idx, &a4), 0);
	assert_out_has("inet " V4 "/24 ", "ip addr show dev " VIF);
	/* A vanished link has no addresses. */
	ck_assert_int_eq(nlr_addr_exists(nl, 9999, &a4), 0);
	ck_assert_int_eq(nlr_addr_add(nl, 9999, &a4), -ENODEV);
}
END_TEST

/* ---- routes ---- */

START_TEST(test_route)
{
	int idx = ifindex_of(VIF), other = ifindex_of("eth0");
	struct ip_addr a4 = addr(V4), a6 = addr(V6);

	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, METRIC), 0);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, METRIC), 0);

	ck_assert_int_eq(nlr_route_add(nl, idx, &a4, METRIC), 0);
	ck_assert_int_eq(nlr_route_add(nl, idx, &a6, METRIC), 0);
	assert_out_has(V4 " dev " VIF " scope link metric 32749", "ip -4 route show");
	assert_out_has(V4 " scope link metric 32749", "ip -4 route show dev " VIF);
	assert_out_has(V6 " dev " VIF " metric 32749", "ip -6 route show");
	assert_out_has("proto boot", "ip -d -4 route show dev " VIF);
	assert_out_lacks("linkdown", "ip -4 route show dev " VIF);

	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, METRIC), 1);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, METRIC), 1);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, METRIC + 1), 0);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, METRIC + 1), 0);
	ck_assert_int_eq(nlr_route_exists(nl, other, &a4, METRIC), 0);
	ck_assert_int_eq(nlr_route_exists(nl, other, &a6, METRIC), 0);

	ck_assert_int_eq(nlr_route_add(nl, idx, &a4, METRIC), -EEXIST);
	ck_assert_int_eq(nlr_route_add(nl, idx, &a6, METRIC), -EEXIST);

	/* Kernel: ESRCH, normalised. */
	ck_assert_int_eq(nlr_route_del(nl, idx, &a4, METRIC + 1), -ENOENT);
	ck_assert_int_eq(nlr_route_del(nl, idx, &a6, METRIC + 1), -ENOENT);
	ck_assert_int_eq(nlr_route_del(nl, other, &a4, METRIC), -ENOENT);
	ck_assert_int_eq(nlr_route_del(nl, other, &a6, METRIC), -ENOENT);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, METRIC), 1);

	ck_assert_int_eq(nlr_route_del(nl, idx, &a4, METRIC), 0);
	ck_assert_int_eq(nlr_route_del(nl, idx, &a6, METRIC), 0);
	assert_out_lacks(V4, "ip -4 route show");
	assert_out_lacks(V6, "ip -6 route show");
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, METRIC), 0);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, METRIC), 0);
	ck_assert_int_eq(nlr_route_del(nl, idx, &a4, METRIC), -ENOENT);
	ck_assert_int_eq(nlr_route_del(nl, idx, &a6, METRIC), -ENOENT);
}
END_TEST

/* exists must not be fooled by near misses: other metric, prefix, table,
 * link, or a cached (exception) entry. */
START_TEST(test_route_exists_exact)
{
	int idx = ifindex_of(VIF);
	struct ip_addr a4 = addr(V4), a6 = addr(V6);

	/* The kernel treats the same destination and metric through another
	 * link as the same route: an exclusive add says EEXIST (as `ip route
	 * add` does), although exists() for our link says no. */
	free(tl_sh("ip route add " V4 " dev eth0 metric 32749 && ip -6 route add " V6 " dev eth0 metric 32749"));
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, METRIC), 0);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, METRIC), 0);
	ck_assert_int_eq(nlr_route_add(nl, idx, &a4, METRIC), -EEXIST);
	ck_assert_int_eq(nlr_route_add(nl, idx, &a6, METRIC), -EEXIST);
	free(tl_sh("ip route del " V4 " dev eth0 metric 32749 && ip -6 route del " V6 " dev eth0 metric 32749"));

	free(tl_sh("ip route add " V4 " dev " VIF " metric 100 && ip route add 10.137.0.0/24 dev " VIF
		   " metric 32749 && ip route add " V4 " dev " VIF " metric 32749 table 100 && ip route add " V4
		   " dev eth0 metric 32748"));
	free(tl_sh("ip -6 route add " V6 " dev " VIF " metric 100 && ip -6 route add fd09:24ef:4179::/64 dev " VIF
		   " metric 32749 && ip -6 route add " V6 " dev " VIF " metric 32749 table 100 && ip -6 route add "
		   V6 " dev eth0 metric 32748"));
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, METRIC), 0);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, METRIC), 0);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, 100), 1);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, 100), 1);
	ck_assert_int_eq(nlr_route_exists(nl, ifindex_of("eth0"), &a4, 32748), 1);
	ck_assert_int_eq(nlr_route_exists(nl, ifindex_of("eth0"), &a6, 32748), 1);

	/* Deleting ours leaves all of those alone. */
	ck_assert_int_eq(nlr_route_add(nl, idx, &a4, METRIC), 0);
	ck_assert_int_eq(nlr_route_add(nl, idx, &a6, METRIC), 0);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, METRIC), 1);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, METRIC), 1);
	ck_assert_int_eq(nlr_route_del(nl, idx, &a4, METRIC), 0);
	ck_assert_int_eq(nlr_route_del(nl, idx, &a6, METRIC), 0);
	assert_out_has(V4 " dev " VIF " scope link metric 100", "ip -4 route show");
	assert_out_has(V4 " dev eth0 scope link metric 32748", "ip -4 route show");
	assert_out_has(V4 " dev " VIF " scope link metric 32749", "ip -4 route show table 100");
	assert_out_has(V6 " dev eth0 metric 32748", "ip -6 route show");
	assert_out_has(V6 " dev " VIF " metric 32749", "ip -6 route show table 100");

	ck_assert_int_eq(nlr_route_exists(nl, 9999, &a4, METRIC), 0);
}
END_TEST

/* The kernel's own errno, which libnl would have flattened to
 * NLE_FAILURE (-EIO). */
START_TEST(test_route_link_down)
{
	int idx = ifindex_of(VIF);
	struct ip_addr a4 = addr(V4), a6 = addr(V6);

	ck_assert_int_eq(nlr_route_add(nl, idx, &a4, METRIC), -ENETDOWN);
	ck_assert_int_eq(nlr_route_add(nl, idx, &a6, METRIC), -ENETDOWN);
	ck_assert_int_eq(nlr_route_add(nl, 9999, &a4, METRIC), -ENODEV);
	ck_assert_int_eq(nlr_route_add(nl, 9999, &a6, METRIC), -ENODEV);
}
END_TEST

/* ---- neighbours ---- */

static void check_neigh(int family)
{
	int idx = ifindex_of(VIF);
	struct ip_addr a = addr(family == AF_INET ? V4 : V6);
	struct mac_addr m1 = mac(MAC1), m2 = mac(MAC2), got;
	const char *ipf = family == AF_INET ? "-4" : "-6";
	const char *as = family == AF_INET ? V4 : V6;
	char want[128];
	bool perm = false;

	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a, &got, &perm), -ENOENT);

	ck_assert_int_eq(nlr_neigh_add(nl, idx, &a, &m1, false), 0);
	snprintf(want, sizeof(want), "%s lladdr " MAC1 " PERMANENT", as);
	assert_out_has(want, "ip %s neigh show dev " VIF, ipf);
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a, &got, &perm), 0);
	ck_assert_mem_eq(&got, &m1, sizeof(got));
	ck_assert(perm);

	ck_assert_int_eq(nlr_neigh_add(nl, idx, &a, &m2, false), -EEXIST);
	assert_out_has(want, "ip %s neigh show dev " VIF, ipf);

	ck_assert_int_eq(nlr_neigh_add(nl, idx, &a, &m2, true), 0);
	snprintf(want, sizeof(want), "%s lladdr " MAC2 " PERMANENT", as);
	assert_out_has(want, "ip %s neigh show dev " VIF, ipf);
	assert_out_lacks(MAC1, "ip %s neigh show dev " VIF, ipf);
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a, &got, NULL), 0);
	ck_assert_mem_eq(&got, &m2, sizeof(got));

	ck_assert_int_eq(nlr_neigh_del(nl, idx, &a), 0);
	assert_out_lacks(as, "ip %s neigh show dev " VIF, ipf);
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a, &got, &perm), -ENOENT);
	ck_assert_int_eq(nlr_neigh_del(nl, idx, &a), -ENOENT);
}

START_TEST(test_neigh_v4)
{
	check_neigh(AF_INET);
}
END_TEST

START_TEST(test_neigh_v6)
{
	check_neigh(AF_INET6);
}
END_TEST

/* get finds its entry among others: other addresses and links, a non
 * permanent entry, a proxy entry. */
START_TEST(test_neigh_get_among_others)
{
	int idx = ifindex_of(VIF), other = ifindex_of("eth0");
	struct ip_addr a4 = addr(V4), a6 = addr(V6), b4 = addr("10.137.0.6");
	struct mac_addr m1 = mac(MAC1), m2 = mac(MAC2), got;
	bool perm = true;

	free(tl_sh("ip neigh add " V4 " lladdr " MAC2 " dev eth0 nud permanent"));
	free(tl_sh("ip neigh add 10.137.0.7 lladdr " MAC2 " dev " VIF " nud permanent"));
	free(tl_sh("ip neigh add proxy " V4 " dev " VIF));
	free(tl_sh("ip -6 neigh add proxy " V6 " dev " VIF));
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a4, &got, &perm), -ENOENT);
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a6, &got, &perm), -ENOENT);
	ck_assert_int_eq(nlr_neigh_get(nl, other, &a4, &got, &perm), 0);
	ck_assert_mem_eq(&got, &m2, sizeof(got));

	ck_assert_int_eq(nlr_neigh_add(nl, idx, &a4, &m1, false), 0);
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a4, &got, &perm), 0);
	ck_assert_mem_eq(&got, &m1, sizeof(got));
	ck_assert(perm);

	free(tl_sh("ip neigh add 10.137.0.6 lladdr " MAC2 " dev " VIF " nud stale"));
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &b4, &got, &perm), 0);
	ck_assert_mem_eq(&got, &m2, sizeof(got));
	ck_assert(!perm);
	/* Any entry blocks an exclusive add. */
	ck_assert_int_eq(nlr_neigh_add(nl, idx, &b4, &m1, false), -EEXIST);
	ck_assert_int_eq(nlr_neigh_add(nl, idx, &b4, &m1, true), 0);
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &b4, &got, &perm), 0);
	ck_assert(perm);
	ck_assert_mem_eq(&got, &m1, sizeof(got));

	ck_assert_int_eq(nlr_neigh_get(nl, 9999, &a4, &got, &perm), -ENOENT);
	ck_assert_int_eq(nlr_neigh_add(nl, 9999, &a4, &m1, false), -ENODEV);
}
END_TEST

/* ---- IPv6 disabled on the link: the kernel's errno, not -EIO ---- */

START_TEST(test_ipv6_disabled)
{
	int idx = ifindex_of(VIF);
	struct ip_addr a6 = addr(V6);
	struct mac_addr m1 = mac(MAC1);
	int r;

	free(tl_sh("echo 1 > /proc/sys/net/ipv6/conf/" VIF "/disable_ipv6"));
	ck_assert_int_eq(nlr_addr_add(nl, idx, &a6), -EACCES);
	ck_assert_int_eq(nlr_route_add(nl, idx, &a6, METRIC), -EACCES);
	r = nlr_neigh_add(nl, idx, &a6, &m1, false);
	ck_assert_msg(r == -EINVAL, "v6 neigh add gave %d (%s)", r, strerror(-r));
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &a6), 0);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, METRIC), 0);
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a6, NULL, NULL), -ENOENT);
	ck_assert_int_eq(nlr_addr_del(nl, idx, &a6), -ENOENT);
	ck_assert_int_eq(nlr_route_del(nl, idx, &a6, METRIC), -ENOENT);
}
END_TEST

/* ---- a whole online + offline, and lookups among many links ---- */

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

START_TEST(test_timing)
{
	struct ip_addr a4 = addr(V4), a6 = addr(V6), gw = addr("10.137.0.1");
	struct mac_addr m1 = mac(MAC1);
	const int rounds = 200;
	int idx = ifindex_of(VIF);
	struct nlr_link l;
	double t0, t_route, t_vif;

	t0 = now_us();
	for (int i = 0; i < rounds; i++) {
		ck_assert_int_eq(nlr_route_add(nl, idx, &a4, METRIC), 0);
		ck_assert_int_eq(nlr_route_del(nl, idx, &a4, METRIC), 0);
	}
	t_route = (now_us() - t0) / rounds;

	/* Roughly what vif-route-qubes online + offline asks of this layer.
	 * Offline deletes the routes and the neighbour before the address:
	 * removing a link's last IPv4 address flushes its IPv4 routes and
	 * neighbours, permanent ones included. */
	free(tl_sh("ip link set " VIF " down"));
	t0 = now_us();
	for (int i = 0; i < rounds; i++) {
		ck_assert_int_eq(nlr_link_get(nl, VIF, &l), 0);
		ck_assert_int_eq(nlr_neigh_add(nl, l.ifindex, &a4, &m1, false), 0);
		ck_assert_int_eq(nlr_link_set_up(nl, l.ifindex, true), 0);
		ck_assert_int_eq(nlr_addr_add(nl, l.ifindex, &gw), 0);
		ck_assert_int_eq(nlr_route_add(nl, l.ifindex, &a4, METRIC), 0);
		ck_assert_int_eq(nlr_route_add(nl, l.ifindex, &a6, METRIC), 0);

		ck_assert_int_eq(nlr_link_get(nl, VIF, &l), 0);
		ck_assert_int_eq(nlr_route_del(nl, l.ifindex, &a6, METRIC), 0);
		ck_assert_int_eq(nlr_route_del(nl, l.ifindex, &a4, METRIC), 0);
		ck_assert_int_eq(nlr_neigh_del(nl, l.ifindex, &a4), 0);
		ck_assert_int_eq(nlr_addr_del(nl, l.ifindex, &gw), 0);
		ck_assert_int_eq(nlr_link_set_up(nl, l.ifindex, false), 0);
	}
	t_vif = (now_us() - t0) / rounds;
	fprintf(stderr, "timing: route add+del %.1f us, 12-request online+offline %.1f us\n", t_route, t_vif);
	/* Generous bounds (valgrind, loaded CI); the budget is 2 ms. */
	ck_assert_msg(t_vif < 20000, "online+offline took %.0f us", t_vif);
}
END_TEST

START_TEST(test_many_links)
{
	const int links = 1000;
	struct ip_addr a4 = addr("10.137.3.249"), a6 = addr("fd09:24ef:4179::3e7");
	struct ip_addr b4 = addr("10.138.3.249"), c4 = addr("10.138.3.248"), none = { .family = AF_UNSPEC };
	struct mac_addr m = mac(MAC1), got;
	char batch[] = "/tmp/qvt-nl-batch.XXXXXX";
	double t0, t_route, t_addr, t_neigh;
	int fd = mkstemp(batch);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int idx;

	ck_assert(f);
	for (int i = 0; i < links; i++) {
		fprintf(f, "link add d%d type veth peer name p%d\nlink set p%d up\nlink set d%d up\n", i, i, i, i);
		fprintf(f, "route add 10.137.%d.%d dev d%d metric %d\n", i / 250, i % 250, i, 32752 - i);
		fprintf(f, "route add fd09:24ef:4179::%x dev d%d metric %d\n", i, i, 32752 - i);
		fprintf(f, "addr add 10.138.%d.%d/32 dev d%d\n", i / 250, i % 250, i);
		fprintf(f, "neigh add 10.137.%d.%d lladdr " MAC2 " dev d%d nud permanent\n", i / 250, i % 250, i);
	}
	fprintf(f, "route add 10.137.3.249 dev d999 metric 7\n");
	fprintf(f, "route add fd09:24ef:4179::3e7 dev d999 metric 7\n");
	fclose(f);
	free(tl_sh("ip -batch %s; r=$?; rm -f %s; exit $r", batch, batch));
	idx = ifindex_of("d999");

	t0 = now_us();
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, 32752 - 999), 1);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, 32752 - 999), 1);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a4, 32752 - 998), 0);
	ck_assert_int_eq(nlr_route_exists(nl, idx, &a6, 32752 - 998), 0);
	ck_assert_int_eq(nlr_route_exists(nl, ifindex_of("d998"), &a4, 32752 - 999), 0);
	t_route = (now_us() - t0) / 5;

	t0 = now_us();
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &b4), 1);
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &c4), 0);
	t_addr = (now_us() - t0) / 2;
	ck_assert_int_eq(nlr_addr_exists(nl, idx, &none), -EAFNOSUPPORT);

	ck_assert_int_eq(nlr_neigh_add(nl, idx, &a4, &m, true), 0);
	t0 = now_us();
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a4, &got, NULL), 0);
	ck_assert_int_eq(nlr_neigh_get(nl, idx, &a6, &got, NULL), -ENOENT);
	t_neigh = (now_us() - t0) / 2;
	ck_assert_mem_eq(&got, &m, sizeof(m));

	fprintf(stderr, "timing with %d links: route_exists %.1f us, addr_exists %.1f us, neigh_get %.1f us\n",
		links, t_route, t_addr, t_neigh);
	ck_assert_msg(t_route < 50000 && t_addr < 50000 && t_neigh < 50000, "lookups too slow");
}
END_TEST

/* The flowtable's device list: with a thousand and more links (dumps of
 * many parts), exactly the names and indexes if_nameindex(3) gives, in
 * ifindex order. */
START_TEST(test_link_names_list)
{
	struct if_nameindex *ifs;
	struct nlr_link_name *v = NULL;
	size_t n = 0, n_ifs = 0;
	char batch[] = "/tmp/qvt-nl-batch.XXXXXX";
	int fd = mkstemp(batch);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	ck_assert(f);
	for (int i = 0; i < 600; i++)
		fprintf(f, "link add vif%d.0 type veth peer name c%d\n", i + 10, i);
	fclose(f);
	free(tl_sh("ip -batch %s; r=$?; rm -f %s; exit $r", batch, batch));
	/* Holes in the index sequence, and a name reused at a higher index. */
	free(tl_sh("ip link del vif20.0 && ip link del vif300.0 && ip link add vif20.0 type veth peer name c20x"));

	ck_assert_int_eq(nlr_link_names(nl, &v, &n), 0);
	ifs = if_nameindex();
	ck_assert_ptr_nonnull(ifs);
	while (ifs[n_ifs].if_index)
		n_ifs++;
	ck_assert_uint_eq(n, n_ifs);
	ck_assert_uint_ge(n, 1198);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(v[i].name, ifs[i].if_name);
		ck_assert_int_eq(v[i].ifindex, (int)ifs[i].if_index);
		if (i)
			ck_assert_int_lt(v[i - 1].ifindex, v[i].ifindex);
	}
	ck_assert_msg(streq(v[n - 1].name, "vif20.0") || streq(v[n - 2].name, "vif20.0"),
		      "the re-made vif20.0 is not among the newest links");
	if_freenameindex(ifs);
	free(v);
}
END_TEST

static Suite *nl_suite(void)
{
	Suite *s = suite_create("nl");
	TCase *tc;

	tc = tcase_create("link");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_link_get);
	tcase_add_test(tc, test_link_up_down);
	tcase_add_test(tc, test_link_rename);
	suite_add_tcase(s, tc);

	tc = tcase_create("addr");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_addr);
	tcase_add_test(tc, test_addr_exists_exact);
	suite_add_tcase(s, tc);

	tc = tcase_create("route");
	tcase_add_checked_fixture(tc, setup_up, teardown);
	tcase_add_test(tc, test_route);
	tcase_add_test(tc, test_route_exists_exact);
	suite_add_tcase(s, tc);

	tc = tcase_create("route-down");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_route_link_down);
	suite_add_tcase(s, tc);

	tc = tcase_create("neigh");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_neigh_v4);
	tcase_add_test(tc, test_neigh_v6);
	tcase_add_test(tc, test_neigh_get_among_others);
	suite_add_tcase(s, tc);

	tc = tcase_create("ipv6-disabled");
	tcase_add_checked_fixture(tc, setup_up, teardown);
	tcase_add_test(tc, test_ipv6_disabled);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_add_checked_fixture(tc, setup_up, teardown);
	tcase_add_test(tc, test_timing);
	tcase_add_test(tc, test_many_links);
	tcase_add_test(tc, test_link_names_list);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_main(nl_suite(), true);
}
