/* nftq_accel_build: the flowtable batch, parsed back message by message
 * with libmnl/libnftnl (no kernel involved). */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nftq.h"
#include "testlib.h"

#define BUF_SIZE (256 * 1024)
#define SEQ0 1000u
#define GENID 0x12345678u

#define NFT_TYPE(msg) ((uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | (msg)))

/* The messages of a built batch, in order. */
struct parsed {
	uint8_t *buf;
	ssize_t len;
	const struct nlmsghdr *msg[16];
	unsigned n;
};

static void build(struct parsed *p, uint32_t genid, const char *const *devs, size_t n_devs)
{
	p->buf = malloc(BUF_SIZE);
	ck_assert_ptr_nonnull(p->buf);
	p->len = nftq_accel_build(p->buf, BUF_SIZE, SEQ0, genid, devs, n_devs);
	p->n = tl_batch_split(p->buf, p->len, p->msg, ELEMENTSOF(p->msg));
}

static const uint16_t expected_types[] = {
	NFNL_MSG_BATCH_BEGIN,
	NFT_TYPE(NFT_MSG_NEWTABLE),
	NFT_TYPE(NFT_MSG_DELTABLE),
	NFT_TYPE(NFT_MSG_NEWTABLE),
	NFT_TYPE(NFT_MSG_NEWFLOWTABLE),
	NFT_TYPE(NFT_MSG_NEWCHAIN),
	NFT_TYPE(NFT_MSG_NEWRULE),
	NFT_TYPE(NFT_MSG_NEWRULE),
	NFNL_MSG_BATCH_END,
};

static void check_framing(const struct parsed *p, uint32_t genid)
{
	const struct nfgenmsg *g;
	const struct nlattr *attr;
	bool has_genid = false;

	ck_assert_uint_eq(p->n, ELEMENTSOF(expected_types));
	for (unsigned i = 0; i < p->n; i++) {
		const struct nlmsghdr *nlh = p->msg[i];

		ck_assert_msg(nlh->nlmsg_type == expected_types[i], "message %u: type 0x%x, want 0x%x", i,
			      nlh->nlmsg_type, expected_types[i]);
		ck_assert_uint_eq(nlh->nlmsg_seq, SEQ0 + i);
		ck_assert(nlh->nlmsg_flags & NLM_F_REQUEST);
		g = mnl_nlmsg_get_payload(nlh);
		if (i == 0 || i == p->n - 1) {
			ck_assert_uint_eq(g->nfgen_family, AF_UNSPEC);
			ck_assert_uint_eq(ntohs(g->res_id), NFNL_SUBSYS_NFTABLES);
		} else {
			/* Every object message is acked, and of family inet. */
			ck_assert(nlh->nlmsg_flags & NLM_F_ACK);
			ck_assert_uint_eq(g->nfgen_family, NFPROTO_INET);
		}
	}
	mnl_attr_for_each(attr, p->msg[0], sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(attr) != NFNL_BATCH_GENID)
			continue;
		ck_assert_int_eq(mnl_attr_validate(attr, MNL_TYPE_U32), 0);
		ck_assert_uint_eq(ntohl(mnl_attr_get_u32(attr)), genid);
		has_genid = true;
	}
	ck_assert(has_genid == (genid != 0));
	/* Creating messages create; the delete does not need to. */
	ck_assert(p->msg[1]->nlmsg_flags & NLM_F_CREATE);
	ck_assert(p->msg[3]->nlmsg_flags & NLM_F_CREATE);
	ck_assert(p->msg[4]->nlmsg_flags & NLM_F_CREATE);
	ck_assert(p->msg[5]->nlmsg_flags & NLM_F_CREATE);
	ck_assert(p->msg[6]->nlmsg_flags & NLM_F_APPEND);
}

static void check_tables(const struct parsed *p)
{
	for (unsigned i = 1; i <= 3; i++) {
		struct nftnl_table *t = nftnl_table_alloc();

		ck_assert_int_eq(nftnl_table_nlmsg_parse(p->msg[i], t), 0);
		ck_assert_str_eq(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "qubes-nat-accel");
		nftnl_table_free(t);
	}
}

static void check_flowtable(const struct parsed *p, const char *const *devs, size_t n_devs)
{
	struct nftnl_flowtable *ft = nftnl_flowtable_alloc();
	const char *const *got;
	size_t n = 0;

	ck_assert_int_eq(nftnl_flowtable_nlmsg_parse(p->msg[4], ft), 0);
	ck_assert_str_eq(nftnl_flowtable_get_str(ft, NFTNL_FLOWTABLE_TABLE), "qubes-nat-accel");
	ck_assert_str_eq(nftnl_flowtable_get_str(ft, NFTNL_FLOWTABLE_NAME), "qubes-accel");
	ck_assert_uint_eq(nftnl_flowtable_get_u32(ft, NFTNL_FLOWTABLE_HOOKNUM), NF_NETDEV_INGRESS);
	ck_assert_int_eq(nftnl_flowtable_get_s32(ft, NFTNL_FLOWTABLE_PRIO), 0);
	if (nftnl_flowtable_is_set(ft, NFTNL_FLOWTABLE_DEVICES)) {
		got = nftnl_flowtable_get_array(ft, NFTNL_FLOWTABLE_DEVICES);
		for (; got && got[n]; n++) {
			ck_assert_uint_lt(n, n_devs);
			ck_assert_str_eq(got[n], devs[n]);
		}
	}
	ck_assert_uint_eq(n, n_devs);
	nftnl_flowtable_free(ft);
}

static void check_chain(const struct parsed *p)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	ck_assert_int_eq(nftnl_chain_nlmsg_parse(p->msg[5], c), 0);
	ck_assert_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), "qubes-nat-accel");
	ck_assert_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "forward");
	ck_assert_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
	ck_assert_uint_eq(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_FORWARD);
	ck_assert_int_eq(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), 5);
	ck_assert_uint_eq(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_ACCEPT);
	nftnl_chain_free(c);
}

/* Expression walk of one rule: meta/cmp pairs, then flow_offload. */
struct rule_walk {
	unsigned i;
	uint32_t meta_key;
	bool ok;
};

static void check_cmp(struct nftnl_expr *e, const void *want, uint32_t want_len)
{
	uint32_t len = 0;
	const void *data = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, &len);

	ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG), NFT_REG_1);
	ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP), NFT_CMP_EQ);
	ck_assert_uint_eq(len, want_len);
	ck_assert_mem_eq(data, want, want_len);
}

static void check_rule(const struct nlmsghdr *nlh, uint8_t proto)
{
	static const uint32_t keys[] = { NFT_META_L4PROTO, NFT_META_IIFGROUP, NFT_META_OIFGROUP };
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	uint32_t client = 2, uplink = 1;
	unsigned i = 0;

	ck_assert_int_eq(nftnl_rule_nlmsg_parse(nlh, r), 0);
	ck_assert_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), "qubes-nat-accel");
	ck_assert_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), "forward");
	it = nftnl_expr_iter_create(r);
	ck_assert_ptr_nonnull(it);
	for (e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it), i++) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		if (i < 6 && i % 2 == 0) {
			ck_assert_str_eq(name, "meta");
			ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY), keys[i / 2]);
			ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG), NFT_REG_1);
		} else if (i < 6) {
			ck_assert_str_eq(name, "cmp");
			if (i == 1)
				check_cmp(e, &proto, 1);
			else
				/* The kernel's u32 group, host order. */
				check_cmp(e, i == 3 ? &client : &uplink, 4);
		} else {
			ck_assert_uint_eq(i, 6);
			ck_assert_str_eq(name, "flow_offload");
			ck_assert_str_eq(nftnl_expr_get_str(e, NFTNL_EXPR_FLOW_TABLE_NAME), "qubes-accel");
		}
	}
	ck_assert_uint_eq(i, 7);
	nftnl_expr_iter_destroy(it);
	nftnl_rule_free(r);
}

static void check_all(uint32_t genid, const char *const *devs, size_t n_devs)
{
	struct parsed p;

	build(&p, genid, devs, n_devs);
	check_framing(&p, genid);
	check_tables(&p);
	check_flowtable(&p, devs, n_devs);
	check_chain(&p);
	check_rule(p.msg[6], IPPROTO_TCP);
	check_rule(p.msg[7], IPPROTO_UDP);
	free(p.buf);
}

static const char *const three[] = { "eth0", "vif3.0", "vif12.1" };

START_TEST(test_three_devices)
{
	check_all(GENID, three, ELEMENTSOF(three));
}
END_TEST

/* genid 0: no generation check, no attribute. */
START_TEST(test_no_genid)
{
	check_all(0, three, ELEMENTSOF(three));
}
END_TEST

START_TEST(test_no_devices)
{
	check_all(GENID, NULL, 0);
}
END_TEST

static char names[256][IFNAME_MAX];
static const char *devs256[256];

static void fill_names(void)
{
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		snprintf(names[i], sizeof(names[i]), "vif%zu.0", i + 1);
		devs256[i] = names[i];
	}
}

START_TEST(test_255_devices)
{
	fill_names();
	check_all(GENID, devs256, 255);
}
END_TEST

START_TEST(test_256_devices)
{
	uint8_t buf[64];

	fill_names();
	ck_assert_int_eq(nftq_accel_build(buf, sizeof(buf), SEQ0, GENID, devs256, 256), -E2BIG);
}
END_TEST

START_TEST(test_bad_name)
{
	const char *bad[] = { "eth0", "a-name-longer-than-15", NULL };
	uint8_t buf[64];

	ck_assert_int_eq(nftq_accel_build(buf, sizeof(buf), SEQ0, GENID, bad, 2), -EINVAL);
	bad[1] = NULL;
	ck_assert_int_eq(nftq_accel_build(buf, sizeof(buf), SEQ0, GENID, bad, 2), -EINVAL);
	bad[1] = "";
	ck_assert_int_eq(nftq_accel_build(buf, sizeof(buf), SEQ0, GENID, bad, 2), -EINVAL);
}
END_TEST

static ssize_t build_three(void *buf, size_t len, const void *arg)
{
	(void)arg;
	return nftq_accel_build(buf, len, SEQ0, GENID, three, ELEMENTSOF(three));
}

/* One byte short, and much shorter: -ENOBUFS, and not a byte written. */
START_TEST(test_short_buffer)
{
	tl_check_build_bounds(build_three, NULL);
}
END_TEST

static Suite *nftq_accel_suite(void)
{
	Suite *s = suite_create("nftq-accel");
	TCase *tc;

	tc = tcase_create("batch");
	tcase_add_test(tc, test_three_devices);
	tcase_add_test(tc, test_no_genid);
	tcase_add_test(tc, test_no_devices);
	tcase_add_test(tc, test_255_devices);
	suite_add_tcase(s, tc);

	tc = tcase_create("refused");
	tcase_add_test(tc, test_256_devices);
	tcase_add_test(tc, test_bad_name);
	tcase_add_test(tc, test_short_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_main(nftq_accel_suite(), false);
}
