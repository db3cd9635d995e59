/* common/nftq* against the kernel, in a private network namespace holding
 * the project's base ruleset (tests/nft/qubes-base.nft), checked with the
 * nft CLI and with nftq's own reads. */
#include <arpa/inet.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	Suite *s = tl_suite("nftq", cases, ELEMENTSOF(cases), setup, teardown);
	TCase *tc = tcase_create("check_wrong_type");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_check_wrong_type, 0, ELEMENTSOF(wrong_sets));
	suite_add_tcase(s, tc);
	return tl_main(s, true);
}
