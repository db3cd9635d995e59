/* The expression-level comparison that decides whether chain dnat-dns
 * already holds the wanted rules (nftq_dns.h): rules built as nftq_dns_sync
 * sends them, passed through a NEWRULE message and parsed back as a dump
 * would be, then changed the way the kernel normalises nat (equal) or the
 * way someone else's rule differs (not equal). Pure: no root, no kernel. */
#include <arpa/inet.h>
#include <check.h>
#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <string.h>

#include "nftq_dns.h"
#include "testlib.h"

static struct in_addr A(const char *s)
{
	struct in_addr a;

	ck_assert_msg(inet_pton(AF_INET, s, &a) == 1, "bad test address %s", s);
	return a;
}

static struct nftq_dns_rule dnat(const char *dst, uint8_t proto, const char *to)
{
	return (struct nftq_dns_rule){ .dst = A(dst), .proto = proto, .to = A(to) };
}

static struct nftq_dns_rule drop(const char *dst, uint8_t proto)
{
	return (struct nftq_dns_rule){ .dst = A(dst), .proto = proto, .drop = true };
}

static struct nftnl_rule *build(const struct nftq_dns_rule *d)
{
	struct nftnl_rule *r = nftq_dns_rule_build(d);

	ck_assert_ptr_nonnull(r);
	return r;
}

/* r through a NEWRULE message and back, as a dump hands it over. */
static struct nftnl_rule *round_trip(struct nftnl_rule *r)
{
	static char buf[8192];
	struct nftnl_rule *got = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	ck_assert_ptr_nonnull(got);
	memset(buf, 0, sizeof(buf));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_IPV4, 0, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	ck_assert_int_ge(nftnl_rule_nlmsg_parse(nlh, got), 0);
	return got;
}

/* The i-th expression of r (must exist). */
static struct nftnl_expr *expr_at(struct nftnl_rule *r, int i)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e = NULL;

	ck_assert_ptr_nonnull(it);
	for (int k = 0; k <= i; k++) {
		e = nftnl_expr_iter_next(it);
		ck_assert_msg(e, "rule has no expression %d", i);
	}
	nftnl_expr_iter_destroy(it);
	return e;
}

static int n_exprs(const struct nftnl_rule *r)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	int n = 0;

	ck_assert_ptr_nonnull(it);
	while (nftnl_expr_iter_next(it))
		n++;
	nftnl_expr_iter_destroy(it);
	return n;
}

static const char *expr_name(struct nftnl_rule *r, int i)
{
	return nftnl_expr_get_str(expr_at(r, i), NFTNL_EXPR_NAME);
}

/* What the kernel lists for a nat expression we sent with ADDR_MIN only. */
static void normalise_nat(struct nftnl_rule *r)
{
	struct nftnl_expr *nat = expr_at(r, 7);

	ck_assert_str_eq(nftnl_expr_get_str(nat, NFTNL_EXPR_NAME), "nat");
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_ADDR_MAX, nftnl_expr_get_u32(nat, NFTNL_EXPR_NAT_REG_ADDR_MIN));
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS);
}

static bool equal_after(const struct nftq_dns_rule *want_d, struct nftnl_rule *got)
{
	struct nftnl_rule *want = build(want_d), *listed = round_trip(got);
	bool eq = nftq_dns_rule_equal(want, listed);

	nftnl_rule_free(want);
	nftnl_rule_free(listed);
	return eq;
}

/* ---- the shape ----------------------------------------------------------- */

/* The expressions in nft's order, with nft's values (notes §2.2). */
START_TEST(test_build_shape)
{
	struct nftq_dns_rule d = dnat("10.139.1.1", IPPROTO_UDP, "192.0.2.1");
	struct nftnl_rule *r = build(&d);
	static const char *const names[] = { "payload", "cmp", "meta", "cmp", "payload", "cmp", "immediate", "nat" };
	uint32_t len;
	const uint8_t *p;

	ck_assert_int_eq(n_exprs(r), 8);
	for (int i = 0; i < 8; i++)
		ck_assert_str_eq(expr_name(r, i), names[i]);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 0), NFTNL_EXPR_PAYLOAD_BASE), NFT_PAYLOAD_NETWORK_HEADER);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 0), NFTNL_EXPR_PAYLOAD_OFFSET), 16);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 0), NFTNL_EXPR_PAYLOAD_LEN), 4);
	p = nftnl_expr_get(expr_at(r, 1), NFTNL_EXPR_CMP_DATA, &len);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(p, "\x0a\x8b\x01\x01", 4);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 2), NFTNL_EXPR_META_KEY), NFT_META_L4PROTO);
	p = nftnl_expr_get(expr_at(r, 3), NFTNL_EXPR_CMP_DATA, &len);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(p[0], IPPROTO_UDP);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 4), NFTNL_EXPR_PAYLOAD_BASE), NFT_PAYLOAD_TRANSPORT_HEADER);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 4), NFTNL_EXPR_PAYLOAD_OFFSET), 2);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 4), NFTNL_EXPR_PAYLOAD_LEN), 2);
	p = nftnl_expr_get(expr_at(r, 5), NFTNL_EXPR_CMP_DATA, &len);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(p, "\x00\x35", 2);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 6), NFTNL_EXPR_IMM_DREG), NFT_REG_1);
	p = nftnl_expr_get(expr_at(r, 6), NFTNL_EXPR_IMM_DATA, &len);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(p, "\xc0\x00\x02\x01", 4);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 7), NFTNL_EXPR_NAT_TYPE), NFT_NAT_DNAT);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 7), NFTNL_EXPR_NAT_FAMILY), NFPROTO_IPV4);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 7), NFTNL_EXPR_NAT_REG_ADDR_MIN), NFT_REG_1);
	ck_assert(!nftnl_expr_is_set(expr_at(r, 7), NFTNL_EXPR_NAT_REG_ADDR_MAX));
	ck_assert(!nftnl_expr_is_set(expr_at(r, 7), NFTNL_EXPR_NAT_FLAGS));
	nftnl_rule_free(r);

	d = drop("10.139.1.2", IPPROTO_TCP);
	r = build(&d);
	ck_assert_int_eq(n_exprs(r), 7);
	ck_assert_str_eq(expr_name(r, 6), "immediate");
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 6), NFTNL_EXPR_IMM_DREG), NFT_REG_VERDICT);
	ck_assert_uint_eq(nftnl_expr_get_u32(expr_at(r, 6), NFTNL_EXPR_IMM_VERDICT), NF_DROP);
	p = nftnl_expr_get(expr_at(r, 3), NFTNL_EXPR_CMP_DATA, &len);
	ck_assert_uint_eq(p[0], IPPROTO_TCP);
	nftnl_rule_free(r);

	/* only udp and tcp */
	d.proto = IPPROTO_ICMP;
	r = nftq_dns_rule_build(&d);
	ck_assert_ptr_nonnull(r); /* built as asked; decode is what refuses it */
	{
		struct nftq_dns_rule back;

		ck_assert_int_eq(nftq_dns_rule_decode(r, &back), -EINVAL);
	}
	nftnl_rule_free(r);
}
END_TEST

/* ---- equal --------------------------------------------------------------- */

static const struct nftq_dns_rule *wanted(unsigned i)
{
	static struct nftq_dns_rule w[4];

	w[0] = dnat("10.139.1.1", IPPROTO_UDP, "192.0.2.1");
	w[1] = dnat("10.139.1.2", IPPROTO_TCP, "198.51.100.7");
	w[2] = drop("10.139.1.1", IPPROTO_UDP);
	w[3] = drop("10.139.1.2", IPPROTO_TCP);
	return &w[i];
}

/* As sent, and as the kernel lists it (nat normalised): equal, and decoded
 * back to the same rule. */
START_TEST(test_equal)
{
	const struct nftq_dns_rule *d = wanted((unsigned)_i);
	struct nftnl_rule *sent = build(d), *listed;
	struct nftq_dns_rule back;

	ck_assert(equal_after(d, sent));
	if (!d->drop)
		normalise_nat(sent);
	listed = round_trip(sent);
	{
		struct nftnl_rule *want = build(d);

		ck_assert_msg(nftq_dns_rule_equal(want, listed), "the kernel's normalised nat reads as a change");
		nftnl_rule_free(want);
	}
	memset(&back, 0xa5, sizeof(back));
	ck_assert_int_eq(nftq_dns_rule_decode(listed, &back), 0);
	ck_assert_uint_eq(back.dst.s_addr, d->dst.s_addr);
	ck_assert_uint_eq(back.proto, d->proto);
	ck_assert_int_eq(back.drop, d->drop);
	if (!d->drop)
		ck_assert_uint_eq(back.to.s_addr, d->to.s_addr);
	nftnl_rule_free(sent);
	nftnl_rule_free(listed);
}
END_TEST

/* ---- different ----------------------------------------------------------- */

static void normalise_nat_if(struct nftnl_rule *r)
{
	if (n_exprs(r) == 8)
		normalise_nat(r);
}

static struct nftnl_expr *add(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	ck_assert_ptr_nonnull(e);
	nftnl_rule_add_expr(r, e);
	return e;
}

static void add_load_cmp(struct nftnl_rule *r, uint32_t base, uint32_t off, const void *data, uint32_t len)
{
	struct nftnl_expr *e = add(r, "payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	e = add(r, "cmp");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

/* d's rule without the meta l4proto dependency (and its cmp): what
 * `ip daddr X th dport 53 dnat to Y` would be, for any protocol. */
static struct nftnl_rule *without_l4proto(const struct nftq_dns_rule *d)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	const uint16_t port = htons(53);
	struct nftnl_expr *e;

	ck_assert_ptr_nonnull(r);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "qubes");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "dnat-dns");
	add_load_cmp(r, NFT_PAYLOAD_NETWORK_HEADER, 16, &d->dst.s_addr, 4);
	add_load_cmp(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, &port, 2);
	e = add(r, "immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, &d->to.s_addr, 4);
	e = add(r, "nat");
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS);
	return r;
}

enum change {
	CH_DST,
	CH_TO,
	CH_PROTO,
	CH_PORT,
	CH_DROP_FOR_DNAT,
	CH_EXTRA_EXPR,
	CH_MISSING_EXPR,
	CH_USERDATA,
	CH_NAT_MAX_OTHER,
	CH_NAT_FLAGS_OTHER,
	CH_NAT_PROTO_REG,
	CH_PAYLOAD_BASE,
	CH_CMP_OP,
	CH_DNAT_TO_SNAT,
	_CH_MAX,
};

static const char *const change_name[_CH_MAX] = {
	"destination address", "resolver", "protocol", "port", "drop instead of dnat", "an extra counter",
	"a missing expression", "a comment (userdata)", "nat addr_max another register", "nat flags other than map-ips",
	"nat with a port register", "payload base", "cmp neq", "snat",
};

/* Each change to the (normalised) listing of wanted(0) makes it differ. */
START_TEST(test_differs)
{
	const struct nftq_dns_rule *d = wanted(0);
	struct nftq_dns_rule other = *d;
	struct nftnl_rule *got = NULL;
	struct nftq_dns_rule back;

	switch ((enum change)_i) {
	case CH_DST:
		other.dst = A("10.139.1.3");
		break;
	case CH_TO:
		other.to = A("192.0.2.2");
		break;
	case CH_PROTO:
		other.proto = IPPROTO_TCP;
		break;
	case CH_DROP_FOR_DNAT:
		other.drop = true;
		break;
	default:
		break;
	}
	got = build(&other);
	normalise_nat_if(got);
	switch ((enum change)_i) {
	case CH_PORT: {
		static const uint8_t mdns[2] = { 0x14, 0xe9 }; /* 5353 */

		nftnl_expr_set(expr_at(got, 5), NFTNL_EXPR_CMP_DATA, mdns, sizeof(mdns));
		break;
	}
	case CH_EXTRA_EXPR:
		nftnl_rule_add_expr(got, nftnl_expr_alloc("counter"));
		break;
	case CH_MISSING_EXPR:
		nftnl_rule_free(got);
		got = without_l4proto(&other);
		break;
	case CH_USERDATA:
		ck_assert_int_ge(nftnl_rule_set_data(got, NFTNL_RULE_USERDATA, "\x00\x03hi\x00", 5), 0);
		break;
	case CH_NAT_MAX_OTHER:
		nftnl_expr_set_u32(expr_at(got, 7), NFTNL_EXPR_NAT_REG_ADDR_MAX, NFT_REG_2);
		break;
	case CH_NAT_FLAGS_OTHER:
		nftnl_expr_set_u32(expr_at(got, 7), NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PERSISTENT);
		break;
	case CH_NAT_PROTO_REG:
		nftnl_expr_set_u32(expr_at(got, 7), NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
		break;
	case CH_PAYLOAD_BASE:
		nftnl_expr_set_u32(expr_at(got, 0), NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
		break;
	case CH_CMP_OP:
		nftnl_expr_set_u32(expr_at(got, 1), NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
		break;
	case CH_DNAT_TO_SNAT:
		nftnl_expr_set_u32(expr_at(got, 7), NFTNL_EXPR_NAT_TYPE, NFT_NAT_SNAT);
		break;
	default:
		break;
	}
	ck_assert_msg(!equal_after(d, got), "a rule with %s reads as unchanged", change_name[_i]);
	/* it decodes to another rule, or to none */
	{
		struct nftnl_rule *listed = round_trip(got);
		int k = nftq_dns_rule_decode(listed, &back);

		ck_assert_msg(k == -EINVAL || back.dst.s_addr != d->dst.s_addr || back.proto != d->proto ||
				      back.drop != d->drop || back.to.s_addr != d->to.s_addr,
			      "a rule with %s decodes as the wanted one", change_name[_i]);
		nftnl_rule_free(listed);
	}
	nftnl_rule_free(got);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("nftq-dns");
	TCase *tc;

	tc = tcase_create("shape");
	tcase_add_test(tc, test_build_shape);
	suite_add_tcase(s, tc);

	tc = tcase_create("equal");
	tcase_add_loop_test(tc, test_equal, 0, 4);
	suite_add_tcase(s, tc);

	tc = tcase_create("differs");
	tcase_add_loop_test(tc, test_differs, 0, _CH_MAX);
	suite_add_tcase(s, tc);

	return tl_main(s, false);
}
