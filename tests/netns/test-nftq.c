/* common/nftq* against the kernel, in a private network namespace holding
 * the project's base ruleset (tests/nft/qubes-base.nft), checked with the
 * nft CLI and with nftq's own reads. NAT mode's table gets a topology of
 * its own: client, nat and netvm namespaces, and traffic through them. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <libnftnl/chain.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/ethtool.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fw.h"
#include "nftq.h"
#include "nftq_internal.h"
#include "testlib.h"

static struct nftq *q;

static void load_base(void)
{
	const char *src = getenv("MESON_SOURCE_DIR");

	ck_assert_msg(src, "MESON_SOURCE_DIR unset");
	free(tl_sh("nft -f '%s/tests/nft/qubes-base.nft'", src));
}

static void setup(void)
{
	tl_netns_setup();
	load_base();
	ck_assert_int_eq(nftq_open(&q), 0);
}

static void teardown(void)
{
	nftq_close(q);
	q = NULL;
	tl_netns_teardown();
}

static struct nftq_elem_edit edit(bool del, const char *set, const char *ifname, const char *addr)
{
	struct nftq_elem_edit e = { .del = del, .set = set };

	snprintf(e.e.ifname, sizeof(e.e.ifname), "%s", ifname);
	ck_assert_int_eq(ip_addr_parse(addr, AF_UNSPEC, &e.e.addr), 0);
	return e;
}

static char *nft_list(const char *family, const char *set)
{
	return tl_sh("nft list set %s qubes %s", family, set);
}

/* Whether `nft list set` shows elem (as nft prints it). */
static bool listed(const char *family, const char *set, const char *elem)
{
	char *out = nft_list(family, set);
	bool r = strstr(out, elem) != NULL;

	free(out);
	return r;
}

static bool has_elements(const char *family, const char *set)
{
	return listed(family, set, "elements");
}

static uint32_t genid(void)
{
	uint32_t g = 0;

	ck_assert_int_eq(nftq_genid(q, &g), 0);
	return g;
}

/* The four edits of a vif going online (or offline): both families. */
static void vif_edits(struct nftq_elem_edit e[4], bool del)
{
	e[0] = edit(del, NFTQ_SET_ALLOWED, "vif3.0", "10.137.0.5");
	e[1] = edit(del, NFTQ_SET_DOWNSTREAM, "", "10.137.0.5");
	e[2] = edit(del, NFTQ_SET_ALLOWED, "vif3.0", "fd09:24ef:4179::a89:5");
	e[3] = edit(del, NFTQ_SET_DOWNSTREAM, "", "fd09:24ef:4179::a89:5");
}

static bool vif_listed(void)
{
	bool a = listed("ip", "allowed", "\"vif3.0\" . 10.137.0.5");
	bool b = listed("ip", "downstream", "10.137.0.5");
	bool c = listed("ip6", "allowed", "\"vif3.0\" . fd09:24ef:4179::a89:5");
	bool d = listed("ip6", "downstream", "fd09:24ef:4179::a89:5");

	ck_assert_msg(a == b && b == c && c == d, "partly there: %d %d %d %d", a, b, c, d);
	return a;
}

/* --- set_check ------------------------------------------------------------ */

START_TEST(test_check_base)
{
	ck_assert_int_eq(nftq_set_check(q, AF_INET, NFTQ_SET_ALLOWED), 0);
	ck_assert_int_eq(nftq_set_check(q, AF_INET, NFTQ_SET_DOWNSTREAM), 0);
	ck_assert_int_eq(nftq_set_check(q, AF_INET6, NFTQ_SET_ALLOWED), 0);
	ck_assert_int_eq(nftq_set_check(q, AF_INET6, NFTQ_SET_DOWNSTREAM), 0);
	/* Not a set nftq knows. */
	ck_assert_int_eq(nftq_set_check(q, AF_INET, "other"), -EINVAL);
	ck_assert_int_eq(nftq_set_check(q, AF_UNSPEC, NFTQ_SET_ALLOWED), -EINVAL);
}
END_TEST

START_TEST(test_check_missing)
{
	free(tl_sh("nft delete table ip6 qubes"));
	ck_assert_int_eq(nftq_set_check(q, AF_INET6, NFTQ_SET_ALLOWED), -ENOENT);
	ck_assert_int_eq(nftq_set_check(q, AF_INET6, NFTQ_SET_DOWNSTREAM), -ENOENT);
	ck_assert_int_eq(nftq_set_check(q, AF_INET, NFTQ_SET_ALLOWED), 0);
	/* A table qubes with only one of the sets. */
	free(tl_sh("nft flush ruleset && nft add table ip qubes && "
		   "nft add set ip qubes downstream '{ type ipv4_addr; }'"));
	ck_assert_int_eq(nftq_set_check(q, AF_INET, NFTQ_SET_ALLOWED), -ENOENT);
	ck_assert_int_eq(nftq_set_check(q, AF_INET, NFTQ_SET_DOWNSTREAM), 0);
	/* Other families' tables named qubes do not count. */
	free(tl_sh("nft flush ruleset && nft add table inet qubes && "
		   "nft add set inet qubes allowed '{ type ifname . ipv4_addr; }'"));
	ck_assert_int_eq(nftq_set_check(q, AF_INET, NFTQ_SET_ALLOWED), -ENOENT);
}
END_TEST

/* Sets named right, of the wrong kind (table ip qubes redefined each time). */
static const char *const wrong_sets[] = {
	"set ip qubes allowed { type ipv4_addr; }",          /* keylen 4 */
	"set ip qubes allowed { type ifname . ipv6_addr; }", /* keylen 32 in the ip table */
	"set ip qubes allowed { type ipv4_addr . ifname; }", /* keylen 20, other type */
	"set ip qubes allowed { type ifname . ipv4_addr; flags interval; }",
	"map ip qubes allowed { type ifname . ipv4_addr : verdict; }",
	"set ip qubes downstream { type ipv6_addr; }",
	"set ip qubes downstream { type inet_service; }",
	"set ip qubes downstream { type ipv4_addr; flags interval; }",
};

START_TEST(test_check_wrong_type)
{
	const char *set = strstr(wrong_sets[_i], "allowed") ? NFTQ_SET_ALLOWED : NFTQ_SET_DOWNSTREAM;

	free(tl_sh("nft flush ruleset && nft add table ip qubes && nft 'add %s'", wrong_sets[_i]));
	ck_assert_int_eq(nftq_set_check(q, AF_INET, set), -EPROTOTYPE);
}
END_TEST

/* --- elems_commit and set_list --------------------------------------------- */

START_TEST(test_commit_both_families)
{
	struct nftq_elem_edit e[4];
	struct nftq_elem *l = NULL;
	size_t n = 99;
	const char *missing = "unchanged";

	ck_assert(!vif_listed());
	vif_edits(e, false);
	ck_assert_int_eq(nftq_elems_commit(q, e, 4, 0, &missing), 0);
	ck_assert_str_eq(missing, "unchanged"); /* only written for -ENOENT */
	ck_assert(vif_listed());

	ck_assert_int_eq(nftq_set_list(q, AF_INET, NFTQ_SET_ALLOWED, &l, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(l[0].ifname, "vif3.0");
	ck_assert(ip_addr_equal(&l[0].addr, &e[0].e.addr));
	free(l);
	ck_assert_int_eq(nftq_set_list(q, AF_INET6, NFTQ_SET_DOWNSTREAM, &l, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(l[0].ifname, "");
	ck_assert(ip_addr_equal(&l[0].addr, &e[3].e.addr));
	free(l);

	vif_edits(e, true);
	ck_assert_int_eq(nftq_elems_commit(q, e, 4, 0, NULL), 0);
	ck_assert(!vif_listed());
	ck_assert_int_eq(nftq_set_list(q, AF_INET6, NFTQ_SET_ALLOWED, &l, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(l);
}
END_TEST

START_TEST(test_add_twice)
{
	struct nftq_elem_edit e[4];
	uint32_t g;

	vif_edits(e, false);
	ck_assert_int_eq(nftq_elems_commit(q, e, 4, 0, NULL), 0);
	g = genid();
	/* An element already there: a no-op, not EEXIST; nothing commits. */
	ck_assert_int_eq(nftq_elems_commit(q, e, 4, 0, NULL), 0);
	ck_assert(vif_listed());
	ck_assert_uint_eq(genid(), g);
	/* The same element twice in one message. */
	e[1] = e[0];
	ck_assert_int_eq(nftq_elems_commit(q, e, 2, 0, NULL), 0);
	ck_assert(vif_listed());
}
END_TEST

START_TEST(test_delete_missing)
{
	struct nftq_elem_edit e[4];

	vif_edits(e, true);
	ck_assert_int_eq(nftq_elems_commit(q, e, 4, 0, NULL), 0);
	ck_assert(!vif_listed());
	/* A missing one next to a present one: the present one goes. */
	free(tl_sh("nft add element ip qubes allowed '{ \"vif3.0\" . 10.137.0.5 }'"));
	ck_assert_int_eq(nftq_elems_commit(q, e, 4, 0, NULL), 0);
	ck_assert(!has_elements("ip", "allowed"));
}
END_TEST

START_TEST(test_missing_table)
{
	struct nftq_elem_edit e[4];
	const char *missing = NULL;

	free(tl_sh("nft delete table ip6 qubes"));
	vif_edits(e, false);
	ck_assert_int_eq(nftq_elems_commit(q, e, 4, 0, &missing), -ENOENT);
	ck_assert_ptr_nonnull(missing);
	ck_assert_str_eq(missing, "ip6 qubes allowed"); /* the first ip6 message */
	/* All or nothing: the ip elements were not added. */
	ck_assert(!has_elements("ip", "allowed"));
	ck_assert(!has_elements("ip", "downstream"));

	/* Deletes too: the set must exist even for DESTROY. */
	missing = NULL;
	e[0] = edit(true, NFTQ_SET_DOWNSTREAM, "", "fd09::1");
	ck_assert_int_eq(nftq_elems_commit(q, e, 1, 0, &missing), -ENOENT);
	ck_assert_str_eq(missing, "ip6 qubes downstream");

	/* Without the ip6 edits it works. */
	vif_edits(e, false);
	ck_assert_int_eq(nftq_elems_commit(q, e, 2, 0, NULL), 0);
	ck_assert(listed("ip", "allowed", "\"vif3.0\" . 10.137.0.5"));
}
END_TEST

START_TEST(test_stale_genid)
{
	struct nftq_elem_edit e[4];
	uint32_t g = genid();

	/* Anyone's commit moves the generation on. */
	free(tl_sh("nft add element ip qubes downstream '{ 10.137.0.99 }'"));
	vif_edits(e, false);
	ck_assert_int_eq(nftq_elems_commit(q, e, 4, g, NULL), -ERESTART);
	ck_assert(!vif_listed());
	/* With the current one it goes through, and moves it on. */
	g = genid();
	ck_assert_int_eq(nftq_elems_commit(q, e, 4, g, NULL), 0);
	ck_assert(vif_listed());
	ck_assert_uint_ne(genid(), g);
}
END_TEST

/* An element nft added (it zero-pads the ifname too) is the one nftq
 * lists and deletes. */
START_TEST(test_zero_padded_key)
{
	struct nftq_elem_edit e;
	struct nftq_elem *l = NULL;
	size_t n = 0;

	free(tl_sh("nft add element ip qubes allowed '{ \"vif3.0\" . 10.137.0.5 }'"));
	ck_assert_int_eq(nftq_set_list(q, AF_INET, NFTQ_SET_ALLOWED, &l, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(l[0].ifname, "vif3.0");
	ck_assert_uint_eq(l[0].addr.family, AF_INET);
	ck_assert_uint_eq(l[0].addr.v4.s_addr, inet_addr("10.137.0.5"));
	free(l);
	e = edit(true, NFTQ_SET_ALLOWED, "vif3.0", "10.137.0.5");
	ck_assert_int_eq(nftq_elems_commit(q, &e, 1, 0, NULL), 0);
	ck_assert(!has_elements("ip", "allowed"));
}
END_TEST

/* Edits of one set keep their order; one message per run. */
START_TEST(test_edit_order)
{
	struct nftq_elem_edit e[3];

	e[0] = edit(false, NFTQ_SET_DOWNSTREAM, "", "10.137.0.7");
	e[1] = edit(true, NFTQ_SET_DOWNSTREAM, "", "10.137.0.7");
	ck_assert_int_eq(nftq_elems_commit(q, e, 2, 0, NULL), 0);
	ck_assert(!has_elements("ip", "downstream"));
	e[2] = e[0];
	ck_assert_int_eq(nftq_elems_commit(q, e, 3, 0, NULL), 0);
	ck_assert(listed("ip", "downstream", "10.137.0.7"));
}
END_TEST

START_TEST(test_invalid_edits)
{
	struct nftq_elem_edit e = edit(false, NFTQ_SET_ALLOWED, "", "10.137.0.5");

	ck_assert_int_eq(nftq_elems_commit(q, &e, 1, 0, NULL), -EINVAL); /* allowed needs an ifname */
	e = edit(false, "nosuchset", "vif3.0", "10.137.0.5");
	ck_assert_int_eq(nftq_elems_commit(q, &e, 1, 0, NULL), -EINVAL);
	ck_assert_int_eq(nftq_elems_commit(q, NULL, 0, 0, NULL), 0);
	ck_assert(!has_elements("ip", "allowed"));
}
END_TEST

/* More elements than one message, one dump read and the default socket
 * send buffer hold (6000 ip6 elements: a 270 KB batch). */
START_TEST(test_many)
{
	enum { N = 6000 };
	struct nftq_elem_edit *e = calloc(N, sizeof(*e));
	struct nftq_elem *l = NULL;
	size_t n = 0;
	char a[64];
	char *out;

	ck_assert_ptr_nonnull(e);
	for (unsigned i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "fd09::%x", i + 1);
		e[i] = edit(false, NFTQ_SET_ALLOWED, i % 2 ? "vif12.0" : "vif7.1", a);
	}
	ck_assert_int_eq(nftq_elems_commit(q, e, N, 0, NULL), 0);
	ck_assert_int_eq(nftq_set_list(q, AF_INET6, NFTQ_SET_ALLOWED, &l, &n), 0);
	ck_assert_uint_eq(n, N);
	free(l);
	out = tl_sh("nft list set ip6 qubes allowed | grep -o 'fd09::' | wc -l");
	ck_assert_int_eq(atoi(out), N);
	free(out);
	for (unsigned i = 0; i < N; i++)
		e[i].del = true;
	ck_assert_int_eq(nftq_elems_commit(q, e, N, 0, NULL), 0);
	ck_assert_int_eq(nftq_set_list(q, AF_INET6, NFTQ_SET_ALLOWED, &l, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(l);
	free(e);
}
END_TEST

/* Hundreds of messages (alternating adds and deletes of one set make one
 * message each): more acks than the default receive buffer holds. */
START_TEST(test_many_messages)
{
	enum { N = 600 };
	struct nftq_elem_edit *e = calloc(N, sizeof(*e));
	struct nftq_elem *l = NULL;
	size_t n = 0;
	char a[64];

	ck_assert_ptr_nonnull(e);
	for (unsigned i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "10.%u.%u.%u", i % 2 ? 2 : 1, i / 256, i % 256);
		e[i] = edit(i % 2, NFTQ_SET_DOWNSTREAM, "", a);
	}
	ck_assert_int_eq(nftq_elems_commit(q, e, N, 0, NULL), 0);
	ck_assert_int_eq(nftq_set_list(q, AF_INET, NFTQ_SET_DOWNSTREAM, &l, &n), 0);
	ck_assert_uint_eq(n, N / 2);
	free(l);
	/* And a failing one: the error is still found among them. */
	free(tl_sh("nft delete table ip6 qubes"));
	e[N - 1] = edit(false, NFTQ_SET_DOWNSTREAM, "", "fd09::1");
	ck_assert_int_eq(nftq_elems_commit(q, e, N, 0, NULL), -ENOENT);
	free(e);
}
END_TEST

START_TEST(test_list_missing)
{
	struct nftq_elem *l = NULL;
	size_t n = 0;

	free(tl_sh("nft delete table ip6 qubes"));
	ck_assert_int_eq(nftq_set_list(q, AF_INET6, NFTQ_SET_ALLOWED, &l, &n), -ENOENT);
	ck_assert_int_eq(nftq_set_list(q, AF_INET, "other", &l, &n), -EINVAL);
}
END_TEST

/* --- the core's batch error details ---------------------------------------- */

START_TEST(test_batch_error_details)
{
	struct nftq_elem_edit e[4];
	struct nftq_batch b;
	struct nftq_error err;
	struct nlmsghdr *nlh;
	uint32_t ip6_seq = 0;
	uint32_t ip6_len = 0;

	free(tl_sh("nft delete table ip6 qubes"));
	vif_edits(e, false);
	nftq_batch_init(&b, nftq_next_seq(q));
	ck_assert_int_eq(nftq_batch_begin(&b, 0), 0);
	for (unsigned i = 0; i < 4; i += 2) {
		struct nftnl_set *s = nftnl_set_alloc();
		struct nftnl_set_elem *el = nftnl_set_elem_alloc();
		uint8_t key[32] = { 0 };

		memcpy(key, "vif3.0", 6);
		memcpy(key + 16, e[i].e.addr.bytes, i ? 16 : 4);
		nftnl_set_set_str(s, NFTNL_SET_TABLE, NFTQ_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, NFTQ_SET_ALLOWED);
		nftnl_set_elem_set(el, NFTNL_SET_ELEM_KEY, key, i ? 32 : 20);
		nftnl_set_elem_add(s, el);
		nlh = nftq_batch_add(&b, NFT_MSG_NEWSETELEM, i ? NFPROTO_IPV6 : NFPROTO_IPV4, NLM_F_CREATE);
		ck_assert_ptr_nonnull(nlh);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		if (i) {
			ip6_seq = nlh->nlmsg_seq;
			ip6_len = nlh->nlmsg_len;
		}
		nftnl_set_free(s);
	}
	ck_assert_int_eq(nftq_batch_send(q, &b, &err), -ENOENT);
	ck_assert(!b.deletes);
	nftq_batch_done(&b);
	ck_assert_int_eq(err.error, -ENOENT);
	ck_assert_uint_eq(err.seq, ip6_seq);
	ck_assert_uint_eq(err.type, (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWSETELEM);
	/* Extended ack: the offset names an attribute inside the message. */
	ck_assert(err.has_offset);
	ck_assert_uint_gt(err.offset, sizeof(struct nlmsghdr));
	ck_assert_uint_lt(err.offset, ip6_len);
	ck_assert(!has_elements("ip", "allowed"));
	ck_assert(!q->deleted);

	/* A batch that deletes is remembered (close() then waits). */
	e[0].del = true;
	ck_assert_int_eq(nftq_elems_commit(q, e, 1, 0, NULL), 0);
	ck_assert(q->deleted);
}
END_TEST

/* Requests after a failed batch still match their own answers. */
START_TEST(test_requests_after_batch)
{
	struct nftq_elem_edit e[4];

	free(tl_sh("nft delete table ip6 qubes"));
	vif_edits(e, false);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(nftq_elems_commit(q, e, 4, 0, NULL), -ENOENT);
		ck_assert_int_eq(nftq_set_check(q, AF_INET, NFTQ_SET_ALLOWED), 0);
		(void)genid();
	}
}
END_TEST

/* --- flowtable ------------------------------------------------------------- */

START_TEST(test_accel_recreate)
{
	const char *devs[2] = { "lo", NULL };
	size_t n_devs = 1;
	char *out;
	int r;

	/* A second device when veth is there; lo alone otherwise. */
	if (tl_run(NULL, "ip link add qv0 type veth peer name qv1 2>/dev/null") == 0) {
		devs[1] = "qv0";
		n_devs = 2;
	}
	free(tl_sh("nft add table inet qubes-nat-accel && nft add chain inet qubes-nat-accel marker"));
	r = nftq_accel_recreate(q, devs, n_devs);
	out = tl_sh("nft list table inet qubes-nat-accel");
	if (r == -ENOENT) {
		/* This kernel has no flowtables: the batch failed as a whole,
		 * the old table is as it was. */
		fprintf(stderr, "no flowtable support here (ENOENT): checking the old table stayed\n");
		ck_assert_ptr_nonnull(strstr(out, "chain marker"));
		ck_assert_ptr_null(strstr(out, "flowtable"));
		ck_assert_ptr_null(strstr(out, "chain forward"));
	} else {
		ck_assert_int_eq(r, 0);
		ck_assert_ptr_null(strstr(out, "chain marker"));
		ck_assert_ptr_nonnull(strstr(out, "flowtable qubes-accel"));
		ck_assert_ptr_nonnull(strstr(out, "flow add @qubes-accel"));
		ck_assert(q->deleted);
	}
	free(out);
	/* The base ruleset is not touched either way. */
	ck_assert_int_eq(nftq_set_check(q, AF_INET, NFTQ_SET_ALLOWED), 0);
	ck_assert_int_eq(nftq_accel_recreate(q, devs, 256), -E2BIG);
}
END_TEST

/* --- the generation probe -------------------------------------------------- */

START_TEST(test_fw_probe)
{
	enum fw_backend b = FW_AUTO;

	ck_assert_int_eq(fw_probe(FW_AUTO, &b), 0);
	ck_assert_int_eq(b, FW_NFTABLES);
	ck_assert_int_eq(fw_probe(FW_IPTABLES, &b), 0);
	ck_assert_int_eq(b, FW_IPTABLES);
	free(tl_sh("nft flush ruleset"));
	ck_assert_int_eq(fw_probe(FW_AUTO, &b), 0);
	ck_assert_int_eq(b, FW_IPTABLES);
	ck_assert_int_eq(fw_probe(FW_NFTABLES, &b), 0);
	ck_assert_int_eq(b, FW_NFTABLES);
	/* A set allowed of another type is still the nftables generation. */
	free(tl_sh("nft add table ip qubes && nft add set ip qubes allowed '{ type ipv4_addr; }'"));
	ck_assert_int_eq(fw_probe(FW_AUTO, &b), 0);
	ck_assert_int_eq(b, FW_NFTABLES);
}
END_TEST

/* --- NAT mode: table netdev antispoof in a vif's own namespace --------------- */

/* The topology of SPEC "NAT mode", with this test's namespace as the netvm:
 *
 *   client ns: eth0 (CLIENT_MAC, 10.152.152.11, gateway 10.152.152.10)
 *       |  veth
 *   nat ns:    vif3.0 (the Xen vif; fe:ff:ff:ff:ff:ff, 10.152.152.10)
 *              vif3.0-p (CLIENT_MAC, 10.137.0.5)
 *       |  veth
 *   netvm:     vif3.0 (fe:ff:ff:ff:ff:ff, 10.137.0.1/32, route and
 *              neighbour 10.137.0.5 -> CLIENT_MAC)
 *
 * `fwd` sends a frame on as it came: the client addresses the Xen vif's
 * MAC, which (as Xen's backend vifs do) is fe:ff:ff:ff:ff:ff like the
 * netvm's end, and the netvm addresses CLIENT_MAC, which VIF-p carries
 * and the client's eth0 too. The namespaces are named ones in this test's
 * own /run/netns (a tmpfs in its mount namespace): they go with the test
 * process even when it fails before its teardown. */
#define NAT_CLIENT_MAC "00:16:3e:5e:6c:00"
#define NAT_REAL "10.137.0.5"
#define NAT_VISIBLE "10.152.152.11"
#define NAT_NETVM "10.137.0.1"
#define NAT_TCP_PORT 5555

static struct nftq *qn; /* opened inside the nat namespace */
static int self_ns = -1;
static struct nftq_nat nat_m;

static void ns_enter(const char *name)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %m", path);
	ck_assert_msg(setns(fd, CLONE_NEWNET) == 0, "setns %s: %m", name);
	close(fd);
}

static void ns_leave(void)
{
	ck_assert_msg(setns(self_ns, CLONE_NEWNET) == 0, "setns back: %m");
}

/* ethtool -K DEV rx off tx off, in namespace ns (NULL: this one), through
 * the legacy ioctls: checksums are then really computed by the sender and
 * verified by the receiver, so a rewrite that leaves a stale L4 checksum
 * shows. The ioctl acts on the namespace its socket was created in. */
static void csum_offload_off(const char *ns, const char *dev)
{
	static const uint32_t set[] = { ETHTOOL_SRXCSUM, ETHTOOL_STXCSUM };
	static const uint32_t get[] = { ETHTOOL_GRXCSUM, ETHTOOL_GTXCSUM };
	struct ethtool_value ev;
	struct ifreq ifr;
	int fd;

	if (ns)
		ns_enter(ns);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ns)
		ns_leave();
	ck_assert_msg(fd >= 0, "socket: %m");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ifr.ifr_data = (void *)&ev;
	for (size_t i = 0; i < ELEMENTSOF(set); i++) {
		ev = (struct ethtool_value){ .cmd = set[i], .data = 0 };
		ck_assert_msg(ioctl(fd, SIOCETHTOOL, &ifr) == 0, "ethtool %s %s: %m", ns ? ns : "netvm", dev);
		ev = (struct ethtool_value){ .cmd = get[i] };
		ck_assert_msg(ioctl(fd, SIOCETHTOOL, &ifr) == 0, "ethtool get %s: %m", dev);
		ck_assert_msg(ev.data == 0, "%s: checksum offload still on", dev);
	}
	close(fd);
}

/* The veth pair netvm vif3.0 <-> nat vif3.0-p with its addresses,
 * neighbours and route on both sides (again after a test deleted it). */
static void nat_uplink_create(void)
{
	free(tl_sh("set -e\n"
		   "ip link add vif3.0 address fe:ff:ff:ff:ff:ff type veth peer name vif3.0-p address "
		   NAT_CLIENT_MAC " netns nat\n"
		   "sysctl -qw net.ipv6.conf.vif3/0.disable_ipv6=1\n"
		   "ip netns exec nat sysctl -qw net.ipv6.conf.vif3/0-p.disable_ipv6=1\n"
		   "ip -n nat addr add " NAT_REAL "/32 dev vif3.0-p\n"
		   "ip -n nat neigh add " NAT_NETVM " lladdr fe:ff:ff:ff:ff:ff dev vif3.0-p nud permanent\n"
		   "ip -n nat link set vif3.0-p up\n"
		   "ip addr add " NAT_NETVM "/32 dev vif3.0\n"
		   "ip link set vif3.0 up\n"
		   "ip route add " NAT_REAL " dev vif3.0\n"
		   "ip neigh add " NAT_REAL " lladdr " NAT_CLIENT_MAC " dev vif3.0 nud permanent\n"));
	csum_offload_off("nat", "vif3.0-p");
	csum_offload_off(NULL, "vif3.0");
}

/* nat_m with the interfaces' current indexes in the nat namespace. */
static void nat_m_fill(void)
{
	nat_m = (struct nftq_nat){ .vif = "vif3.0", .peer = "vif3.0-p" };
	ck_assert_int_eq(inet_pton(AF_INET, NAT_REAL, &nat_m.real), 1);
	ck_assert_int_eq(inet_pton(AF_INET, NAT_VISIBLE, &nat_m.visible), 1);
	ck_assert_int_eq(sscanf(NAT_CLIENT_MAC, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &nat_m.mac[0], &nat_m.mac[1],
				&nat_m.mac[2], &nat_m.mac[3], &nat_m.mac[4], &nat_m.mac[5]),
			 6);
	ns_enter("nat");
	nat_m.vif_index = if_nametoindex("vif3.0");
	nat_m.peer_index = if_nametoindex("vif3.0-p");
	ns_leave();
	ck_assert_uint_ne(nat_m.vif_index, 0);
	ck_assert_uint_ne(nat_m.peer_index, 0);
}

static void nat_setup(void)
{
	tl_netns_setup();
	self_ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_msg(self_ns >= 0, "open own netns: %m");
	free(tl_sh("set -e\n"
		   "ip netns add nat\n"
		   "ip netns add client\n"
		   "ip -n nat link add vif3.0 address fe:ff:ff:ff:ff:ff type veth peer name eth0 address "
		   NAT_CLIENT_MAC " netns client\n"
		   "for ns in nat client; do\n"
		   "  ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1\n"
		   "  ip -n $ns link set lo up\n"
		   "done\n"
		   "ip netns exec nat sysctl -qw net.ipv4.ip_forward=1\n"
		   "ip -n nat addr add 10.152.152.10/32 dev vif3.0\n"
		   "ip -n nat neigh add " NAT_VISIBLE " lladdr " NAT_CLIENT_MAC " dev vif3.0 nud permanent\n"
		   "ip -n nat link set vif3.0 up\n"
		   "ip -n client addr add " NAT_VISIBLE "/32 dev eth0\n"
		   "ip -n client link set eth0 up\n"
		   "ip -n client route add 10.152.152.10 dev eth0\n"
		   "ip -n client route add default via 10.152.152.10 dev eth0\n"
		   /* What reaches the netvm from the vif, by source. */
		   "nft add table ip probe\n"
		   "nft add counter ip probe real\n"
		   "nft add counter ip probe other\n"
		   "nft add chain ip probe pre '{ type filter hook prerouting priority -300; }'\n"
		   "nft add rule ip probe pre iifname vif3.0 ip saddr " NAT_REAL " counter name real\n"
		   "nft add rule ip probe pre iifname vif3.0 ip saddr != " NAT_REAL " counter name other\n"));
	csum_offload_off("client", "eth0");
	csum_offload_off("nat", "vif3.0");
	nat_uplink_create();
	nat_m_fill();
	/* The socket takes the namespace it is created in. */
	ns_enter("nat");
	ck_assert_int_eq(nftq_open(&qn), 0);
	ns_leave();
}

static void nat_teardown(void)
{
	nftq_close(qn);
	qn = NULL;
	(void)tl_run(NULL, "ip netns del client; ip netns del nat; nft delete table ip probe");
	if (self_ns >= 0)
		close(self_ns);
	self_ns = -1;
	tl_netns_teardown();
}

static bool client_ping(const char *src)
{
	return tl_run(NULL, "ip netns exec client ping -n -q -c 1 -W %d %s%s " NAT_NETVM " >/dev/null", src ? 1 : 2,
		      src ? "-I " : "", src ? src : "") == 0;
}

static uint64_t probe_count(const char *name)
{
	char *out = tl_sh("nft list counter ip probe %s", name);
	const char *p = strstr(out, "packets ");
	unsigned long long n = 0;

	ck_assert_msg(p && sscanf(p, "packets %llu", &n) == 1, "no packets in: %s", out);
	free(out);
	return n;
}

/* Tcp InCsumErrors of namespace ns (NULL: the netvm). */
static long tcp_csum_errors(const char *ns)
{
	char *out = ns ? tl_sh("ip netns exec %s cat /proc/net/snmp", ns) : tl_sh("cat /proc/net/snmp");
	char *head = strstr(out, "\nTcp: "), *vals, *save1 = NULL, *save2 = NULL, *h, *v;
	long r = -1;

	ck_assert_ptr_nonnull(head);
	vals = strstr(head + 1, "\nTcp: ");
	ck_assert_ptr_nonnull(vals);
	*vals++ = '\0';
	*strchrnul(vals, '\n') = '\0';
	for (h = strtok_r(head + 1, " ", &save1), v = strtok_r(vals, " ", &save2); h && v;
	     h = strtok_r(NULL, " ", &save1), v = strtok_r(NULL, " ", &save2))
		if (streq(h, "InCsumErrors"))
			r = strtol(v, NULL, 10);
	free(out);
	ck_assert_int_ge(r, 0);
	return r;
}

/* A TCP connection from the client to the netvm: the client sends a few
 * segments' worth, the netvm echoes it all back. False when it did not
 * make it within a few seconds. */
static bool client_tcp_echo(void)
{
	static uint8_t sent[4000], got[sizeof(sent)], back[sizeof(sent)];
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(NAT_TCP_PORT) };
	struct pollfd pfd;
	size_t n = 0;
	int one = 1, lfd, cfd, status;
	pid_t pid;

	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(inet_pton(AF_INET, NAT_NETVM, &sa.sin_addr), 1);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_msg(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind: %m");
	ck_assert_int_eq(listen(lfd, 1), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct timeval tv = { .tv_sec = 3 };
		size_t m = 0;
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		ns_enter("client");
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		/* SO_SNDTIMEO bounds connect() too. */
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    send(fd, sent, sizeof(sent), MSG_NOSIGNAL) != (ssize_t)sizeof(sent) || shutdown(fd, SHUT_WR) < 0)
			_exit(1);
		for (;;) {
			ssize_t k = recv(fd, back + m, sizeof(back) - m, 0);

			if (k <= 0)
				break;
			m += (size_t)k;
			if (m == sizeof(back))
				break;
		}
		_exit(m == sizeof(back) && memcmp(back, sent, sizeof(sent)) == 0 ? 0 : 2);
	}
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	cfd = -1;
	if (poll(&pfd, 1, 5000) == 1)
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd >= 0) {
		struct timeval tv = { .tv_sec = 3 };

		(void)setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		while (n < sizeof(got)) {
			ssize_t k = recv(cfd, got + n, sizeof(got) - n, 0);

			if (k <= 0)
				break;
			n += (size_t)k;
		}
		if (n == sizeof(got))
			(void)send(cfd, got, n, MSG_NOSIGNAL);
		close(cfd);
	}
	close(lfd);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return n == sizeof(got) && memcmp(got, sent, n) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static char *nat_ruleset(void)
{
	return tl_sh("ip netns exec nat nft list ruleset");
}

static int nat_check(struct nftq_nat_item it[NFTQ_NAT_ITEMS])
{
	int r = nftq_nat_check(qn, &nat_m, it);

	for (int i = 0; r > 0 && i < NFTQ_NAT_ITEMS; i++)
		fprintf(stderr, "  %s: %s\n",
			it[i].state == NFTQ_NAT_OK ? "ok" : it[i].state == NFTQ_NAT_MISSING ? "missing" : "differs",
			it[i].what);
	return r;
}

/* Exactly the items in `bad` (a bit per item) are in state `state`, the
 * others OK. */
static void assert_items(const struct nftq_nat_item it[NFTQ_NAT_ITEMS], unsigned bad, enum nftq_nat_state state)
{
	for (unsigned i = 0; i < NFTQ_NAT_ITEMS; i++)
		ck_assert_msg(it[i].state == (bad & (1u << i) ? state : NFTQ_NAT_OK), "item %u (%s): state %d", i,
			      it[i].what, it[i].state);
}

#define ITEM(i) (1u << (i))
enum { IT_FROM_CHAIN, IT_FROM_NAT, IT_FROM_ARP, IT_TO_CHAIN, IT_TO_NAT, IT_TO_ARP };

/* The rules do what SPEC "NAT mode" says: the client, knowing only its
 * visible address, reaches the netvm, which sees the real one; TCP too,
 * with checksums really checked on every hop. */
START_TEST(test_nat_translate)
{
	struct nftq_nat_item it[NFTQ_NAT_ITEMS];

	/* Without the table nothing gets through (wrong source, no
	 * translation): the fixture is not accidentally routing. */
	ck_assert(!client_ping(NULL));
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	/* The client asks for the gateway's MAC again, through the ARP rule
	 * (the ping above left it cached). */
	free(tl_sh("ip -n client neigh flush dev eth0"));
	ck_assert_int_eq(nat_check(it), 0);
	/* In the nat namespace, not in this one. */
	ck_assert_int_ne(tl_run(NULL, "nft list table netdev antispoof >/dev/null 2>&1"), 0);
	free(tl_sh("ip netns exec nat nft list table netdev antispoof >/dev/null"));

	ck_assert_uint_eq(probe_count("real"), 0);
	ck_assert(client_ping(NULL));
	ck_assert_uint_ge(probe_count("real"), 1);
	ck_assert_uint_eq(probe_count("other"), 0);

	ck_assert(client_tcp_echo());
	ck_assert_int_eq(tcp_csum_errors(NULL), 0);
	ck_assert_int_eq(tcp_csum_errors("client"), 0);
	ck_assert_uint_eq(probe_count("other"), 0);
}
END_TEST

/* Any other source from the client, and ARP from another MAC, get
 * nothing through. */
START_TEST(test_nat_spoof)
{
	uint64_t real;

	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	ck_assert(client_ping(NULL));
	real = probe_count("real");
	free(tl_sh("ip -n client addr add 10.152.152.99/32 dev eth0 && ip -n client addr add " NAT_REAL
		   "/32 dev eth0"));
	ck_assert(!client_ping("10.152.152.99"));
	/* The real address itself is not the client's to use: translated
	 * or not, nothing arrives from it. */
	ck_assert(!client_ping(NAT_REAL));
	ck_assert_uint_eq(probe_count("real"), real);
	ck_assert_uint_eq(probe_count("other"), 0);
	/* Its own address again, from another MAC: the ARP for the gateway
	 * is dropped, so nothing goes out. */
	free(tl_sh("ip -n client addr del 10.152.152.99/32 dev eth0 && ip -n client addr del " NAT_REAL
		   "/32 dev eth0 && ip -n client link set eth0 address 00:16:3e:5e:6c:01 && "
		   "ip -n client neigh flush dev eth0"));
	ck_assert(!client_ping(NULL));
	ck_assert_uint_eq(probe_count("real"), real);
	/* And back to its MAC: through again. */
	free(tl_sh("ip -n client link set eth0 address " NAT_CLIENT_MAC " && ip -n client neigh flush dev eth0"));
	ck_assert(client_ping(NULL));
}
END_TEST

/* Status: OK, MISSING after remove, DIFFERS for each way the table can be
 * changed behind our back; replace always repairs it. */
START_TEST(test_nat_check)
{
	struct nftq_nat_item it[NFTQ_NAT_ITEMS];
	struct nftq_nat bad = nat_m;

	ck_assert_int_eq(nat_check(it), NFTQ_NAT_ITEMS);
	assert_items(it, 0x3f, NFTQ_NAT_MISSING);
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	ck_assert_int_eq(nat_check(it), 0);
	assert_items(it, 0, NFTQ_NAT_OK);

	ck_assert_int_eq(nftq_nat_remove(qn), 0);
	ck_assert_int_eq(nat_check(it), NFTQ_NAT_ITEMS);
	assert_items(it, 0x3f, NFTQ_NAT_MISSING);
	ck_assert_int_eq(nftq_nat_remove(qn), 0); /* missing: fine */
	ck_assert_int_eq(tl_run(NULL, "ip netns exec nat nft list tables | grep -q ."), 1);

	/* A rule appended: against its chain. */
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	free(tl_sh("ip netns exec nat nft add rule netdev antispoof to-client accept"));
	ck_assert_int_eq(nat_check(it), 1);
	assert_items(it, ITEM(IT_TO_CHAIN), NFTQ_NAT_DIFFERS);
	/* One inserted first: every rule of that chain is now another. */
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	free(tl_sh("ip netns exec nat nft insert rule netdev antispoof from-client counter"));
	ck_assert_int_eq(nat_check(it), 3);
	assert_items(it, ITEM(IT_FROM_CHAIN) | ITEM(IT_FROM_NAT) | ITEM(IT_FROM_ARP), NFTQ_NAT_DIFFERS);
	/* A rule deleted: missing (the one after it moves up: differs). */
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	free(tl_sh("ip netns exec nat sh -c 'nft delete rule netdev antispoof from-client handle "
		   "$(nft -a list chain netdev antispoof from-client | sed -n \"s/.*fwd to.*# handle //p\")'"));
	ck_assert_int_eq(nat_check(it), 2);
	ck_assert_int_eq(it[IT_FROM_NAT].state, NFTQ_NAT_DIFFERS);
	ck_assert_int_eq(it[IT_FROM_ARP].state, NFTQ_NAT_MISSING);
	/* A comment on an otherwise equal rule: someone else's. */
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	free(tl_sh("ip netns exec nat sh -c 'nft replace rule netdev antispoof to-client handle "
		   "$(nft -a list chain netdev antispoof to-client | sed -n \"s/.*ether type arp accept # handle //p\") "
		   "ether type arp accept comment mine'"));
	ck_assert_int_eq(nat_check(it), 1);
	assert_items(it, ITEM(IT_TO_ARP), NFTQ_NAT_DIFFERS);
	/* The policy. */
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	free(tl_sh("ip netns exec nat nft add chain netdev antispoof from-client "
		   "'{ type filter hook ingress device \"vif3.0\" priority 0; policy accept; }'"));
	ck_assert_int_eq(nat_check(it), 1);
	assert_items(it, ITEM(IT_FROM_CHAIN), NFTQ_NAT_DIFFERS);
	/* Another base chain on the peer, before ours. */
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	free(tl_sh("ip netns exec nat nft add chain netdev antispoof sneak "
		   "'{ type filter hook ingress device \"vif3.0-p\" priority -10; policy accept; }'"));
	ck_assert_int_eq(nat_check(it), 1);
	assert_items(it, ITEM(IT_TO_CHAIN), NFTQ_NAT_DIFFERS);
	/* The table dormant: no chain is hooked. */
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	free(tl_sh("ip netns exec nat nft add table netdev antispoof '{ flags dormant; }'"));
	ck_assert_int_eq(nat_check(it), 2);
	assert_items(it, ITEM(IT_FROM_CHAIN) | ITEM(IT_TO_CHAIN), NFTQ_NAT_DIFFERS);
	/* Another address wanted than the table holds. */
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	ck_assert_int_eq(inet_pton(AF_INET, "10.137.0.6", &bad.real), 1);
	ck_assert_int_eq(nftq_nat_check(qn, &bad, it), 2);
	assert_items(it, ITEM(IT_FROM_NAT) | ITEM(IT_TO_NAT), NFTQ_NAT_DIFFERS);
	ck_assert_str_eq(it[IT_FROM_NAT].what,
			 "rule from-client: ip saddr 10.152.152.11 ip saddr set 10.137.0.6 fwd to \"vif3.0-p\"");

	ck_assert_int_eq(nat_check(it), 0);
	bad.vif_index = 0;
	ck_assert_int_eq(nftq_nat_check(qn, &bad, it), -EINVAL);
	ck_assert_int_eq(nftq_nat_replace(qn, &bad), -EINVAL);
	ck_assert_int_eq(nat_check(it), 0);
}
END_TEST

/* `fwd` holds an ifindex: after VIF-p is deleted and made again, the rule
 * still names the old one -- status sees it, traffic stops, a replace with
 * the new index repairs both. */
START_TEST(test_nat_stale_ifindex)
{
	struct nftq_nat_item it[NFTQ_NAT_ITEMS];
	uint32_t old;
	int r;

	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	ck_assert(client_ping(NULL));
	old = nat_m.peer_index;
	free(tl_sh("ip -n nat link del vif3.0-p"));
	nat_uplink_create();
	nat_m_fill();
	ck_assert_uint_ne(nat_m.peer_index, old);
	r = nat_check(it);
	ck_assert_int_ge(r, 1);
	ck_assert_int_eq(it[IT_FROM_NAT].state, NFTQ_NAT_DIFFERS);
	/* Only what names the peer can be affected (its chain, on kernels
	 * that drop or unhook a chain whose device goes); the client side
	 * is as it was. */
	ck_assert_int_eq(it[IT_FROM_CHAIN].state, NFTQ_NAT_OK);
	ck_assert_int_eq(it[IT_FROM_ARP].state, NFTQ_NAT_OK);
	ck_assert(!client_ping(NULL));
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	ck_assert_int_eq(nat_check(it), 0);
	ck_assert(client_ping(NULL));
	ck_assert(client_tcp_echo());
}
END_TEST

/* replace twice = once; and what nft makes of our messages is the text
 * SPEC gives, word for word. */
START_TEST(test_nat_replace_twice)
{
	static const char *const lines[] = {
		"table netdev antispoof {",
		"chain from-client {",
		"type filter hook ingress device \"vif3.0\" priority filter; policy drop;",
		"ip saddr 10.152.152.11 ip saddr set 10.137.0.5 fwd to \"vif3.0-p\"",
		"arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether 00:16:3e:5e:6c:00 arp saddr ip "
		"10.152.152.11 accept",
		"chain to-client {",
		"type filter hook ingress device \"vif3.0-p\" priority filter; policy drop;",
		"ip daddr 10.137.0.5 ip daddr set 10.152.152.11 fwd to \"vif3.0\"",
		"ether type arp accept",
	};
	char *once, *twice;
	uint32_t g1 = 0, g2 = 0;

	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	once = nat_ruleset();
	for (size_t i = 0; i < ELEMENTSOF(lines); i++)
		ck_assert_msg(strstr(once, lines[i]), "not listed: %s\nin:\n%s", lines[i], once);
	ck_assert_int_eq(tl_count(once, "chain "), 2);
	/* Nothing else: the table's two lines, per chain its two lines, the
	 * hook line and two rules, and the blank line between the chains. */
	ck_assert_int_eq(tl_count(once, "\n"), 13);
	ck_assert_int_eq(nftq_genid(qn, &g1), 0);
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	twice = nat_ruleset();
	ck_assert_str_eq(twice, once);
	/* It did commit (a new generation), it just changed nothing. */
	ck_assert_int_eq(nftq_genid(qn, &g2), 0);
	ck_assert_uint_ne(g2, g1);
	free(once);
	free(twice);
}
END_TEST

/* The same table written by nft itself from SPEC's words is, expression
 * for expression, what nftq_nat_check wants: our encoding is nft's. */
START_TEST(test_nat_same_as_nft)
{
	struct nftq_nat_item it[NFTQ_NAT_ITEMS];
	char *by_nft, *by_nftq;

	free(tl_sh("ip netns exec nat nft -f - <<'EOF'\n"
		   "table netdev antispoof {\n"
		   "  chain from-client {\n"
		   "    type filter hook ingress device \"vif3.0\" priority 0; policy drop;\n"
		   "    ip saddr 10.152.152.11 ip saddr set 10.137.0.5 fwd to \"vif3.0-p\"\n"
		   "    arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether 00:16:3e:5e:6c:00 "
		   "arp saddr ip 10.152.152.11 accept\n"
		   "  }\n"
		   "  chain to-client {\n"
		   "    type filter hook ingress device \"vif3.0-p\" priority 0; policy drop;\n"
		   "    ip daddr 10.137.0.5 ip daddr set 10.152.152.11 fwd to \"vif3.0\"\n"
		   "    ether type arp accept\n"
		   "  }\n"
		   "}\n"
		   "EOF"));
	ck_assert_int_eq(nat_check(it), 0);
	by_nft = nat_ruleset();
	ck_assert(client_tcp_echo());
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	by_nftq = nat_ruleset();
	ck_assert_str_eq(by_nftq, by_nft);
	free(by_nft);
	free(by_nftq);
}
END_TEST

/* A batch the kernel refuses leaves the table as it was: here the table
 * belongs to another socket (NFT_TABLE_F_OWNER), so no one else may
 * delete it. */
START_TEST(test_nat_refused_keeps_old)
{
	struct nftq_nat_item it[NFTQ_NAT_ITEMS];
	struct nftnl_table *t = nftnl_table_alloc();
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nftq *owner = NULL;
	struct nftq_batch b;
	struct nlmsghdr *nlh;
	char *before, *after;

	ns_enter("nat");
	ck_assert_int_eq(nftq_open(&owner), 0);
	ns_leave();
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(c);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFTQ_NAT_TABLE);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFTQ_NAT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "marker");
	nftq_batch_init(&b, nftq_next_seq(owner));
	ck_assert_int_eq(nftq_batch_begin(&b, 0), 0);
	nlh = nftq_batch_add(&b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, NLM_F_CREATE);
	ck_assert_ptr_nonnull(nlh);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nlh = nftq_batch_add(&b, NFT_MSG_NEWCHAIN, NFPROTO_NETDEV, NLM_F_CREATE);
	ck_assert_ptr_nonnull(nlh);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	ck_assert_int_eq(nftq_batch_send(owner, &b, NULL), 0);
	nftq_batch_done(&b);
	nftnl_table_free(t);
	nftnl_chain_free(c);

	before = nat_ruleset();
	ck_assert_ptr_nonnull(strstr(before, "chain marker"));
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), -EPERM);
	after = nat_ruleset();
	ck_assert_str_eq(after, before);
	ck_assert_int_eq(nftq_nat_remove(qn), -EPERM);
	ck_assert_int_eq(nat_check(it), NFTQ_NAT_ITEMS);
	assert_items(it, 0x3f, NFTQ_NAT_MISSING);
	free(before);
	free(after);
	/* The owner's table goes with its socket; then it works. */
	nftq_close(owner);
	ck_assert_int_eq(nftq_nat_replace(qn, &nat_m), 0);
	ck_assert_int_eq(nat_check(it), 0);
}
END_TEST

int main(void)
{
	const struct tl_case cases[] = {
		{ "check_base", test_check_base },
		{ "check_missing", test_check_missing },
		{ "commit_both_families", test_commit_both_families },
		{ "add_twice", test_add_twice },
		{ "delete_missing", test_delete_missing },
		{ "missing_table", test_missing_table },
		{ "stale_genid", test_stale_genid },
		{ "zero_padded_key", test_zero_padded_key },
		{ "edit_order", test_edit_order },
		{ "invalid_edits", test_invalid_edits },
		{ "many", test_many },
		{ "many_messages", test_many_messages },
		{ "list_missing", test_list_missing },
		{ "batch_error_details", test_batch_error_details },
		{ "requests_after_batch", test_requests_after_batch },
		{ "accel_recreate", test_accel_recreate },
		{ "fw_probe", test_fw_probe },
	};
	/* NAT mode: the netvm, the client and the vif's nat namespace. */
	const struct tl_case nat_cases[] = {
		{ "nat_translate", test_nat_translate },
		{ "nat_spoof", test_nat_spoof },
		{ "nat_check", test_nat_check },
		{ "nat_stale_ifindex", test_nat_stale_ifindex },
		{ "nat_replace_twice", test_nat_replace_twice },
		{ "nat_same_as_nft", test_nat_same_as_nft },
		{ "nat_refused_keeps_old", test_nat_refused_keeps_old },
	};
	Suite *s = tl_suite("nftq", cases, ELEMENTSOF(cases), setup, teardown);
	TCase *tc = tcase_create("check_wrong_type");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_check_wrong_type, 0, ELEMENTSOF(wrong_sets));
	suite_add_tcase(s, tc);
	for (size_t i = 0; i < ELEMENTSOF(nat_cases); i++) {
		tc = tcase_create(nat_cases[i].name);
		tcase_add_checked_fixture(tc, nat_setup, nat_teardown);
		tcase_add_test(tc, nat_cases[i].test);
		suite_add_tcase(s, tc);
	}
	return tl_main(s, true);
}
