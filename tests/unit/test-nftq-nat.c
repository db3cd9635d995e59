/* nftq_nat_build: NAT mode's table netdev antispoof as one batch, parsed
 * back message by message with libmnl/libnftnl (no kernel involved), every
 * expression of every rule checked against what SPEC "NAT mode" and the
 * notes (§5) say it must be; and nftq_nat_describe's text. */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nftq.h"
#include "nftq_internal.h"
#include "testlib.h"

#define BUF_SIZE (64 * 1024)
#define SEQ0 500u

#define NFT_TYPE(msg) ((uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | (msg)))

/* Two configurations, so that no value is right by accident: indexes past
 * 16 bits, addresses and MACs with every byte different. */
struct config {
	const char *vif, *peer;
	uint32_t vif_index, peer_index;
	const char *real, *visible;
	uint8_t mac[6];
};

static const struct config configs[] = {
	{ "vif3.0", "vif3.0-p", 7, 9, "10.137.0.5", "10.152.152.11", { 0x00, 0x16, 0x3e, 0x5e, 0x6c, 0x00 } },
	{ "vif12.1", "vif12.1-p", 1000, 70000, "10.138.4.200", "192.168.250.3", { 0x02, 0xab, 0xcd, 0xef, 0x01, 0x23 } },
};

static struct in_addr A(const char *s)
{
	struct in_addr a;

	ck_assert_msg(inet_pton(AF_INET, s, &a) == 1, "bad test address %s", s);
	return a;
}

static struct nftq_nat nat_of(const struct config *c)
{
	struct nftq_nat m = { .vif_index = c->vif_index, .peer_index = c->peer_index };

	snprintf(m.vif, sizeof(m.vif), "%s", c->vif);
	snprintf(m.peer, sizeof(m.peer), "%s", c->peer);
	m.real = A(c->real);
	m.visible = A(c->visible);
	memcpy(m.mac, c->mac, sizeof(m.mac));
	return m;
}

/* The messages of a built batch, in order. */
struct parsed {
	uint8_t *buf;
	ssize_t len;
	const struct nlmsghdr *msg[16];
	unsigned n;
};

static void build(struct parsed *p, const struct nftq_nat *m)
{
	p->buf = malloc(BUF_SIZE);
	ck_assert_ptr_nonnull(p->buf);
	p->len = nftq_nat_build(p->buf, BUF_SIZE, SEQ0, m);
	p->n = tl_batch_split(p->buf, p->len, p->msg, ELEMENTSOF(p->msg));
}

/* Message indexes: the table three times, then each chain followed by its
 * two rules (the order of the status items). */
enum {
	MSG_BEGIN,
	MSG_TABLE_NEW,
	MSG_TABLE_DEL,
	MSG_TABLE_NEW2,
	MSG_FROM_CHAIN,
	MSG_FROM_NAT,
	MSG_FROM_ARP,
	MSG_TO_CHAIN,
	MSG_TO_NAT,
	MSG_TO_ARP,
	MSG_END,
	MSG_COUNT,
};

static const uint16_t expected_types[MSG_COUNT] = {
	[MSG_BEGIN] = NFNL_MSG_BATCH_BEGIN,
	[MSG_TABLE_NEW] = NFT_TYPE(NFT_MSG_NEWTABLE),
	[MSG_TABLE_DEL] = NFT_TYPE(NFT_MSG_DELTABLE),
	[MSG_TABLE_NEW2] = NFT_TYPE(NFT_MSG_NEWTABLE),
	[MSG_FROM_CHAIN] = NFT_TYPE(NFT_MSG_NEWCHAIN),
	[MSG_FROM_NAT] = NFT_TYPE(NFT_MSG_NEWRULE),
	[MSG_FROM_ARP] = NFT_TYPE(NFT_MSG_NEWRULE),
	[MSG_TO_CHAIN] = NFT_TYPE(NFT_MSG_NEWCHAIN),
	[MSG_TO_NAT] = NFT_TYPE(NFT_MSG_NEWRULE),
	[MSG_TO_ARP] = NFT_TYPE(NFT_MSG_NEWRULE),
	[MSG_END] = NFNL_MSG_BATCH_END,
};

START_TEST(test_framing)
{
	struct nftq_nat m = nat_of(&configs[_i]);
	const struct nfgenmsg *g;
	const struct nlattr *attr;
	struct parsed p;

	build(&p, &m);
	ck_assert_uint_eq(p.n, MSG_COUNT);
	for (unsigned i = 0; i < p.n; i++) {
		const struct nlmsghdr *nlh = p.msg[i];

		ck_assert_msg(nlh->nlmsg_type == expected_types[i], "message %u: type 0x%x, want 0x%x", i,
			      nlh->nlmsg_type, expected_types[i]);
		ck_assert_uint_eq(nlh->nlmsg_seq, SEQ0 + i);
		ck_assert(nlh->nlmsg_flags & NLM_F_REQUEST);
		g = mnl_nlmsg_get_payload(nlh);
		if (i == MSG_BEGIN || i == MSG_END) {
			ck_assert_uint_eq(g->nfgen_family, AF_UNSPEC);
			ck_assert_uint_eq(ntohs(g->res_id), NFNL_SUBSYS_NFTABLES);
		} else {
			/* Every object message is acked, and of family netdev. */
			ck_assert(nlh->nlmsg_flags & NLM_F_ACK);
			ck_assert_uint_eq(g->nfgen_family, NFPROTO_NETDEV);
		}
	}
	/* No generation check: the table is rebuilt from m alone. */
	mnl_attr_for_each(attr, p.msg[MSG_BEGIN], sizeof(struct nfgenmsg))
		ck_assert_uint_ne(mnl_attr_get_type(attr), NFNL_BATCH_GENID);
	/* Creating messages create (without EXCL: the first NEWTABLE must
	 * pass over an existing table); the delete does not; rules append. */
	ck_assert_uint_eq(p.msg[MSG_TABLE_NEW]->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL), NLM_F_CREATE);
	ck_assert(!(p.msg[MSG_TABLE_DEL]->nlmsg_flags & NLM_F_CREATE));
	ck_assert(p.msg[MSG_TABLE_NEW2]->nlmsg_flags & NLM_F_CREATE);
	ck_assert(p.msg[MSG_FROM_CHAIN]->nlmsg_flags & NLM_F_CREATE);
	ck_assert(p.msg[MSG_TO_CHAIN]->nlmsg_flags & NLM_F_CREATE);
	ck_assert(p.msg[MSG_FROM_NAT]->nlmsg_flags & NLM_F_APPEND);
	ck_assert(p.msg[MSG_FROM_ARP]->nlmsg_flags & NLM_F_APPEND);
	ck_assert(p.msg[MSG_TO_NAT]->nlmsg_flags & NLM_F_APPEND);
	ck_assert(p.msg[MSG_TO_ARP]->nlmsg_flags & NLM_F_APPEND);

	for (unsigned i = MSG_TABLE_NEW; i <= MSG_TABLE_NEW2; i++) {
		struct nftnl_table *t = nftnl_table_alloc();

		ck_assert_int_eq(nftnl_table_nlmsg_parse(p.msg[i], t), 0);
		ck_assert_str_eq(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "antispoof");
		/* Not dormant (nor anything else). */
		ck_assert(!nftnl_table_is_set(t, NFTNL_TABLE_FLAGS) || nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) == 0);
		nftnl_table_free(t);
	}
	free(p.buf);
}
END_TEST

static void check_chain(const struct nlmsghdr *nlh, const char *name, const char *dev)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	ck_assert_int_eq(nftnl_chain_nlmsg_parse(nlh, c), 0);
	ck_assert_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), "antispoof");
	ck_assert_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), name);
	ck_assert_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
	ck_assert(nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM));
	ck_assert_uint_eq(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_NETDEV_INGRESS);
	ck_assert(nftnl_chain_is_set(c, NFTNL_CHAIN_PRIO));
	ck_assert_int_eq(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), 0);
	ck_assert(nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY));
	ck_assert_uint_eq(nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY), NF_DROP);
	/* One device, named (NFTA_HOOK_DEV), no list. */
	ck_assert(nftnl_chain_is_set(c, NFTNL_CHAIN_DEV));
	ck_assert_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_DEV), dev);
	ck_assert(!nftnl_chain_is_set(c, NFTNL_CHAIN_DEVICES));
	nftnl_chain_free(c);
}

START_TEST(test_chains)
{
	const struct config *cf = &configs[_i];
	struct nftq_nat m = nat_of(cf);
	struct parsed p;

	build(&p, &m);
	check_chain(p.msg[MSG_FROM_CHAIN], "from-client", cf->vif);
	check_chain(p.msg[MSG_TO_CHAIN], "to-client", cf->peer);
	free(p.buf);
}
END_TEST

/* --- the rules, expression by expression ------------------------------------ */

enum kind { META, LOAD, CMP, IMM, WRITE, FWD, ACCEPT };

struct want {
	enum kind kind;
	uint32_t key;       /* META: the key; LOAD/WRITE: the payload base */
	uint32_t offset;    /* LOAD/WRITE */
	const void *data;   /* CMP, IMM: the bytes; LOAD: only its length counts */
	uint32_t len;       /* CMP, IMM, LOAD */
};

static const char *const kind_name[] = {
	[META] = "meta", [LOAD] = "payload", [CMP] = "cmp", [IMM] = "immediate",
	[WRITE] = "payload", [FWD] = "fwd", [ACCEPT] = "immediate",
};

static void check_data(struct nftnl_expr *e, uint16_t attr, const struct want *w, const char *where)
{
	uint32_t len = 0;
	const void *data = nftnl_expr_get(e, attr, &len);

	ck_assert_msg(data, "%s: no data", where);
	ck_assert_msg(len == w->len, "%s: %u bytes, want %u", where, len, w->len);
	ck_assert_msg(memcmp(data, w->data, len) == 0, "%s: other bytes", where);
}

static void check_expr(struct nftnl_expr *e, const struct want *w, const char *where)
{
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	ck_assert_msg(name && streq(name, kind_name[w->kind]), "%s: %s, want %s", where, name ? name : "?",
		      kind_name[w->kind]);
	switch (w->kind) {
	case META:
		ck_assert_msg(nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) == w->key, "%s: meta key %u, want %u", where,
			      nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY), w->key);
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG), NFT_REG_1);
		ck_assert(!nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG));
		break;
	case LOAD:
		ck_assert(nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_DREG));
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG), NFT_REG_1);
		ck_assert_msg(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE) == w->key, "%s: base", where);
		ck_assert_msg(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == w->offset, "%s: offset %u, want %u",
			      where, nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET), w->offset);
		ck_assert_msg(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN) == w->len, "%s: len", where);
		ck_assert(!nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_SREG));
		ck_assert(!nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE));
		break;
	case CMP:
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG), NFT_REG_1);
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP), NFT_CMP_EQ);
		check_data(e, NFTNL_EXPR_CMP_DATA, w, where);
		break;
	case IMM:
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG), NFT_REG_1);
		ck_assert(!nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT));
		check_data(e, NFTNL_EXPR_IMM_DATA, w, where);
		break;
	case WRITE:
		/* The address rewrite: reg 1 into 4 bytes of the IPv4 header,
		 * the header checksum (at 10) fixed the internet way, AND the
		 * L4 pseudo-header flag, without which TCP dies (NOTES §5). */
		ck_assert(nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_SREG));
		ck_assert(!nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_DREG));
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_SREG), NFT_REG_1);
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE), NFT_PAYLOAD_NETWORK_HEADER);
		ck_assert_msg(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET) == w->offset, "%s: offset", where);
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN), 4);
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE), NFT_PAYLOAD_CSUM_INET);
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_OFFSET), 10);
		ck_assert_msg(nftnl_expr_is_set(e, NFTNL_EXPR_PAYLOAD_FLAGS) &&
				      nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_FLAGS) == NFT_PAYLOAD_L4CSUM_PSEUDOHDR,
			      "%s: no L4 pseudo-header checksum flag", where);
		break;
	case FWD:
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_FWD_SREG_DEV), NFT_REG_1);
		/* A plain forward: the frame goes out as it came. */
		ck_assert(!nftnl_expr_is_set(e, NFTNL_EXPR_FWD_SREG_ADDR));
		ck_assert(!nftnl_expr_is_set(e, NFTNL_EXPR_FWD_NFPROTO));
		break;
	case ACCEPT:
		ck_assert_uint_eq(nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG), NFT_REG_VERDICT);
		ck_assert(nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT));
		ck_assert_int_eq((int)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT), NF_ACCEPT);
		break;
	}
}

static void check_rule(const struct nlmsghdr *nlh, const char *chain, const struct want *w, unsigned n)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	unsigned i = 0;

	ck_assert_int_eq(nftnl_rule_nlmsg_parse(nlh, r), 0);
	ck_assert_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), "antispoof");
	ck_assert_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), chain);
	ck_assert(!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA));
	it = nftnl_expr_iter_create(r);
	ck_assert_ptr_nonnull(it);
	for (e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it), i++) {
		char where[64];

		snprintf(where, sizeof(where), "%s rule, expression %u", chain, i);
		ck_assert_msg(i < n, "%s: more expressions than %u", where, n);
		check_expr(e, &w[i], where);
	}
	ck_assert_uint_eq(i, n);
	nftnl_expr_iter_destroy(it);
	nftnl_rule_free(r);
}

/* Expected values spelled out independently of the code under test. */
static const uint8_t ethertype_ip[2] = { 0x08, 0x00 }, ethertype_arp[2] = { 0x08, 0x06 };

static void check_translate(const struct nlmsghdr *nlh, const char *chain, uint32_t off, const char *match,
			    const char *set, uint32_t ifindex)
{
	struct in_addr want_match = A(match), want_set = A(set);
	const struct want w[] = {
		{ META, NFT_META_PROTOCOL, 0, NULL, 0 },
		{ CMP, 0, 0, ethertype_ip, 2 },
		{ LOAD, NFT_PAYLOAD_NETWORK_HEADER, off, NULL, 4 },
		{ CMP, 0, 0, &want_match, 4 },
		{ IMM, 0, 0, &want_set, 4 },
		{ WRITE, 0, off, NULL, 0 },
		/* The ifindex: the kernel's u32 in host order. */
		{ IMM, 0, 0, &ifindex, 4 },
		{ FWD, 0, 0, NULL, 0 },
	};

	check_rule(nlh, chain, w, ELEMENTSOF(w));
}

START_TEST(test_rules)
{
	const struct config *cf = &configs[_i];
	struct nftq_nat m = nat_of(cf);
	static const uint8_t arp_types[4] = { 0x00, 0x01, 0x08, 0x00 }, arp_lens[2] = { 0x06, 0x04 };
	const uint16_t arphrd_ether = 1; /* dev->type, host order */
	struct in_addr visible = A(cf->visible);
	uint8_t sender[10];
	struct parsed p;
	const struct want client_arp[] = {
		{ META, NFT_META_PROTOCOL, 0, NULL, 0 },
		{ CMP, 0, 0, ethertype_arp, 2 },
		{ LOAD, NFT_PAYLOAD_NETWORK_HEADER, 0, NULL, 4 },
		{ CMP, 0, 0, arp_types, 4 },
		{ LOAD, NFT_PAYLOAD_NETWORK_HEADER, 4, NULL, 2 },
		{ CMP, 0, 0, arp_lens, 2 },
		{ LOAD, NFT_PAYLOAD_NETWORK_HEADER, 8, NULL, 10 },
		{ CMP, 0, 0, sender, 10 },
		{ ACCEPT, 0, 0, NULL, 0 },
	};
	const struct want ether_arp[] = {
		{ META, NFT_META_IIFTYPE, 0, NULL, 0 },
		{ CMP, 0, 0, &arphrd_ether, 2 },
		{ LOAD, NFT_PAYLOAD_LL_HEADER, 12, NULL, 2 },
		{ CMP, 0, 0, ethertype_arp, 2 },
		{ ACCEPT, 0, 0, NULL, 0 },
	};

	memcpy(sender, cf->mac, 6);
	memcpy(sender + 6, &visible, 4);
	build(&p, &m);
	/* From the client: its visible source becomes the real one, out
	 * through the veth toward the netvm. */
	check_translate(p.msg[MSG_FROM_NAT], "from-client", 12, cf->visible, cf->real, cf->peer_index);
	check_rule(p.msg[MSG_FROM_ARP], "from-client", client_arp, ELEMENTSOF(client_arp));
	/* Toward it: the real destination becomes the visible one, out
	 * through the Xen vif. */
	check_translate(p.msg[MSG_TO_NAT], "to-client", 16, cf->real, cf->visible, cf->vif_index);
	check_rule(p.msg[MSG_TO_ARP], "to-client", ether_arp, ELEMENTSOF(ether_arp));
	free(p.buf);
}
END_TEST

/* --- describe ------------------------------------------------------------------ */

START_TEST(test_describe)
{
	static const char *const want[NFTQ_NAT_ITEMS] = {
		"chain from-client: type filter hook ingress device \"vif3.0\" priority 0; policy drop",
		"rule from-client: ip saddr 10.152.152.11 ip saddr set 10.137.0.5 fwd to \"vif3.0-p\"",
		"rule from-client: arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether 00:16:3e:5e:6c:00 "
		"arp saddr ip 10.152.152.11 accept",
		"chain to-client: type filter hook ingress device \"vif3.0-p\" priority 0; policy drop",
		"rule to-client: ip daddr 10.137.0.5 ip daddr set 10.152.152.11 fwd to \"vif3.0\"",
		"rule to-client: ether type arp accept",
	};
	struct nftq_nat m = nat_of(&configs[0]);
	struct nftq_nat_item it[NFTQ_NAT_ITEMS];

	memset(it, 0x5a, sizeof(it));
	nftq_nat_describe(&m, it);
	for (unsigned i = 0; i < NFTQ_NAT_ITEMS; i++) {
		ck_assert_str_eq(it[i].what, want[i]);
		ck_assert_int_eq(it[i].state, NFTQ_NAT_OK);
	}
}
END_TEST

/* The longest values still fit, whole. */
START_TEST(test_describe_long)
{
	struct nftq_nat m = nat_of(&configs[1]);
	struct nftq_nat_item it[NFTQ_NAT_ITEMS];

	snprintf(m.vif, sizeof(m.vif), "%s", "vif32752.99999");
	snprintf(m.peer, sizeof(m.peer), "%s", "vif32752.9999-p");
	m.real = A("255.255.255.254");
	m.visible = A("255.255.255.253");
	nftq_nat_describe(&m, it);
	ck_assert_ptr_nonnull(strstr(it[0].what, "device \"vif32752.99999\" priority 0; policy drop"));
	ck_assert_ptr_nonnull(strstr(it[1].what, "fwd to \"vif32752.9999-p\""));
	ck_assert_ptr_nonnull(strstr(it[2].what, "arp saddr ip 255.255.255.253 accept"));
	ck_assert_ptr_nonnull(strstr(it[4].what, "ip daddr set 255.255.255.253 fwd to \"vif32752.99999\""));
}
END_TEST

/* --- refused ------------------------------------------------------------------- */

/* Each breaks m in one way. */
static void break_m(struct nftq_nat *m, int i)
{
	switch (i) {
	case 0: m->vif[0] = '\0'; break;
	case 1: snprintf(m->peer, sizeof(m->peer), "%s", "has space"); break;
	case 2: memset(m->vif, 'a', sizeof(m->vif)); break; /* no NUL */
	case 3: snprintf(m->peer, sizeof(m->peer), "%s", m->vif); break;
	case 4: m->vif_index = 0; break;
	case 5: m->peer_index = 0; break;
	case 6: m->peer_index = m->vif_index; break;
	case 7: m->real.s_addr = 0; break;
	case 8: m->visible.s_addr = 0; break;
	case 9: memset(m->mac, 0, sizeof(m->mac)); break;
	default: ck_abort_msg("no case %d", i);
	}
}

START_TEST(test_invalid)
{
	struct nftq_nat m = nat_of(&configs[0]);
	uint8_t buf[4096];

	ck_assert_int_gt(nftq_nat_build(buf, sizeof(buf), SEQ0, &m), 0);
	break_m(&m, _i);
	ck_assert_int_eq(nftq_nat_build(buf, sizeof(buf), SEQ0, &m), -EINVAL);
}
END_TEST

static ssize_t build_nat(void *buf, size_t len, const void *arg)
{
	return nftq_nat_build(buf, len, SEQ0, arg);
}

/* One byte short, and much shorter: -ENOBUFS, and not a byte written. */
START_TEST(test_short_buffer)
{
	struct nftq_nat m = nat_of(&configs[0]);

	tl_check_build_bounds(build_nat, &m);
}
END_TEST

/* A dump message of one rule whose only expression has the given name
 * (NULL: no NFTA_EXPR_NAME at all). */
static struct nlmsghdr *rule_msg(char *buf, const char *expr_name)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g;
	struct nlattr *list, *elem;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = NFPROTO_NETDEV;
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "antispoof");
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "from-client");
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
	if (expr_name)
		mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, expr_name);
	mnl_attr_nest_end(nlh, mnl_attr_nest_start(nlh, NFTA_EXPR_DATA));
	mnl_attr_nest_end(nlh, elem);
	mnl_attr_nest_end(nlh, list);
	return nlh;
}

/* libnftnl would dereference a missing expression name: refused first. */
START_TEST(test_dump_expr_without_name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_rule *r = NULL;

	ck_assert_int_eq(nftq_rule_from_msg(rule_msg(buf, "counter"), &r), 1);
	ck_assert_ptr_nonnull(r);
	nftnl_rule_free(r);
	r = NULL;
	ck_assert_int_eq(nftq_rule_from_msg(rule_msg(buf, NULL), &r), -EBADMSG);
	ck_assert_ptr_null(r);
}
END_TEST

static Suite *nftq_nat_suite(void)
{
	Suite *s = suite_create("nftq-nat");
	TCase *tc;

	tc = tcase_create("batch");
	tcase_add_loop_test(tc, test_framing, 0, ELEMENTSOF(configs));
	tcase_add_loop_test(tc, test_chains, 0, ELEMENTSOF(configs));
	tcase_add_loop_test(tc, test_rules, 0, ELEMENTSOF(configs));
	suite_add_tcase(s, tc);

	tc = tcase_create("describe");
	tcase_add_test(tc, test_describe);
	tcase_add_test(tc, test_describe_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("refused");
	tcase_add_loop_test(tc, test_invalid, 0, 10);
	tcase_add_test(tc, test_short_buffer);
	tcase_add_test(tc, test_dump_expr_without_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_main(nftq_nat_suite(), false);
}
