/* NAT mode's table netdev antispoof, inside a vif's own namespace (SPEC
 * "NAT mode"): stateless address translation on the ingress of both ends,
 * rebuilt in one batch, and read back at expression level for status
 * (nftq.h). Only libnftnl + libmnl: libnftables would resolve the `fwd`
 * names for us, but costs a millisecond more per process. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/in.h> /* before the linux/ headers, which then defer to it */
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <string.h>

#include "nftq_internal.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_table *, nftnl_table_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_chain *, nftnl_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_rule *, nftnl_rule_free)

#define NAT_CHAINS 2
#define NAT_RULES 2         /* per chain */
#define NAT_READ_TRIES 5    /* reads spoiled by a concurrent commit */

/* IPv4 header: checksum at 10, saddr at 12, daddr at 16. */
#define OFF_IP_CSUM 10
#define OFF_SADDR 12
#define OFF_DADDR 16
/* ARP over Ethernet/IPv4: htype + ptype at 0, hlen + plen at 4, sender
 * MAC + sender IP at 8. */
#define OFF_ARP_TYPES 0
#define OFF_ARP_LENS 4
#define OFF_ARP_SENDER 8
/* Ethernet header: the type at 12. */
#define OFF_ETHERTYPE 12

/* Chain c (0 from-client, 1 to-client) is item 3c, its rule j item 3c+1+j:
 * the order nftq_nat_describe promises and the batch follows. */
static const char *const chain_name[NAT_CHAINS] = { "from-client", "to-client" };

static unsigned item_chain(unsigned c)
{
	return c * (NAT_RULES + 1);
}

static unsigned item_rule(unsigned c, unsigned j)
{
	return item_chain(c) + 1 + j;
}

_Static_assert(NAT_CHAINS * (NAT_RULES + 1) == NFTQ_NAT_ITEMS, "items: chains and their rules");

/* The device chain c hooks, and where its translated packets go. */
static const char *chain_dev(const struct nftq_nat *m, unsigned c)
{
	return c == 0 ? m->vif : m->peer;
}

static bool name_valid(const char *s)
{
	/* Fixed arrays from the caller: make sure of the NUL first. */
	return memchr(s, '\0', IFNAME_MAX) && ifname_is_valid(s);
}

static bool nat_valid(const struct nftq_nat *m)
{
	static const uint8_t zero_mac[6];

	return m && name_valid(m->vif) && name_valid(m->peer) && !streq(m->vif, m->peer) && m->vif_index != 0 &&
	       m->peer_index != 0 && m->vif_index != m->peer_index && m->real.s_addr != 0 &&
	       m->visible.s_addr != 0 && memcmp(m->mac, zero_mac, sizeof(zero_mac)) != 0;
}

/* --- building the rules ---------------------------------------------------- */

/* immediate reg 1 DATA */
static int add_imm(struct nftnl_rule *r, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftq_expr_add(r, "immediate");

	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	return nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len) < 0 ? -ENOMEM : 0;
}

static int add_accept(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftq_expr_add(r, "immediate");

	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
	return 0;
}

/* payload write reg 1 => 4 bytes @ network header + OFF, fixing the IPv4
 * header checksum -- and, through the flag, the TCP/UDP checksum, which
 * covers the addresses in its pseudo-header: without it every rewritten
 * TCP segment arrives with a bad checksum and is dropped (NOTES §5). */
static int add_addr_write(struct nftnl_rule *r, uint32_t off)
{
	struct nftnl_expr *e = nftq_expr_add(r, "payload");

	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, sizeof(struct in_addr));
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_TYPE, NFT_PAYLOAD_CSUM_INET);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_CSUM_OFFSET, OFF_IP_CSUM);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_FLAGS, NFT_PAYLOAD_L4CSUM_PSEUDOHDR);
	return 0;
}

/* fwd to the ifindex in reg 1 */
static int add_fwd(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nftq_expr_add(r, "fwd");

	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_FWD_SREG_DEV, NFT_REG_1);
	return 0;
}

/* The netdev family has no implicit network protocol: match it first, as
 * nft does for `ip ...` and `arp ...` (2 bytes, network order). */
static int add_protocol(struct nftnl_rule *r, uint16_t ethertype)
{
	const uint16_t be = htons(ethertype);
	int k = nftq_add_meta(r, NFT_META_PROTOCOL);

	return k < 0 ? k : nftq_add_cmp_eq(r, &be, sizeof(be));
}

/* from-client: ip saddr VISIBLE ip saddr set REAL fwd to PEER;
 * to-client:   ip daddr REAL ip daddr set VISIBLE fwd to VIF. */
static int build_translate(struct nftnl_rule *r, const struct nftq_nat *m, unsigned c)
{
	const struct in_addr *match = c == 0 ? &m->visible : &m->real, *set = c == 0 ? &m->real : &m->visible;
	uint32_t off = c == 0 ? OFF_SADDR : OFF_DADDR;
	/* The ifindex as the kernel's u32 (host order): `fwd` reads a device
	 * index from the register, not a name -- resolved now, by the caller. */
	uint32_t out = c == 0 ? m->peer_index : m->vif_index;
	int k;

	k = add_protocol(r, ETHERTYPE_IP);
	if (k >= 0)
		k = nftq_add_load(r, NFT_PAYLOAD_NETWORK_HEADER, off, sizeof(*match));
	if (k >= 0)
		k = nftq_add_cmp_eq(r, &match->s_addr, sizeof(match->s_addr));
	if (k >= 0)
		k = add_imm(r, &set->s_addr, sizeof(set->s_addr));
	if (k >= 0)
		k = add_addr_write(r, off);
	if (k >= 0)
		k = add_imm(r, &out, sizeof(out));
	if (k >= 0)
		k = add_fwd(r);
	return k;
}

/* from-client: ARP for Ethernet/IPv4 whose sender is the client's MAC and
 * its visible address. Adjacent fields are compared together, as nft
 * merges them: htype 1 + ptype 0x0800, hlen 6 + plen 4, sender MAC + IP. */
static int build_client_arp(struct nftnl_rule *r, const struct nftq_nat *m)
{
	static const uint8_t types[4] = { 0x00, 0x01, 0x08, 0x00 }, lens[2] = { 6, 4 };
	uint8_t sender[10];
	int k;

	memcpy(sender, m->mac, 6);
	memcpy(sender + 6, &m->visible.s_addr, 4);
	k = add_protocol(r, ETHERTYPE_ARP);
	if (k >= 0)
		k = nftq_add_load(r, NFT_PAYLOAD_NETWORK_HEADER, OFF_ARP_TYPES, sizeof(types));
	if (k >= 0)
		k = nftq_add_cmp_eq(r, types, sizeof(types));
	if (k >= 0)
		k = nftq_add_load(r, NFT_PAYLOAD_NETWORK_HEADER, OFF_ARP_LENS, sizeof(lens));
	if (k >= 0)
		k = nftq_add_cmp_eq(r, lens, sizeof(lens));
	if (k >= 0)
		k = nftq_add_load(r, NFT_PAYLOAD_NETWORK_HEADER, OFF_ARP_SENDER, sizeof(sender));
	if (k >= 0)
		k = nftq_add_cmp_eq(r, sender, sizeof(sender));
	if (k >= 0)
		k = add_accept(r);
	return k;
}

/* to-client: `ether type arp accept`. The Ethernet type is only there on
 * an Ethernet device: nft checks the interface type first (dev->type,
 * 2 bytes in host order). */
static int build_ether_arp(struct nftnl_rule *r)
{
	const uint16_t hwtype = ARPHRD_ETHER, type = htons(ETHERTYPE_ARP);
	int k;

	k = nftq_add_meta(r, NFT_META_IIFTYPE);
	if (k >= 0)
		k = nftq_add_cmp_eq(r, &hwtype, sizeof(hwtype));
	if (k >= 0)
		k = nftq_add_load(r, NFT_PAYLOAD_LL_HEADER, OFF_ETHERTYPE, sizeof(type));
	if (k >= 0)
		k = nftq_add_cmp_eq(r, &type, sizeof(type));
	if (k >= 0)
		k = add_accept(r);
	return k;
}

/* Rule j of chain c, as sent (table, chain, expressions); NULL when out
 * of memory. */
static struct nftnl_rule *rule_build(const struct nftq_nat *m, unsigned c, unsigned j)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	int k = 0;

	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_NETDEV);
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFTQ_NAT_TABLE) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain_name[c]) < 0)
		k = -ENOMEM;
	if (k >= 0) {
		if (j == 0)
			k = build_translate(r, m, c);
		else
			k = c == 0 ? build_client_arp(r, m) : build_ether_arp(r);
	}
	if (k < 0) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* --- the batch -------------------------------------------------------------- */

static int add_chain(struct nftq_batch *b, const struct nftq_nat *m, unsigned c)
{
	_cleanup_(nftnl_chain_freep) struct nftnl_chain *ch = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!ch || nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, NFTQ_NAT_TABLE) < 0 ||
	    nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, chain_name[c]) < 0 ||
	    nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter") < 0 ||
	    nftnl_chain_set_str(ch, NFTNL_CHAIN_DEV, chain_dev(m, c)) < 0)
		return -ENOMEM;
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, NF_NETDEV_INGRESS);
	nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, 0);
	/* Whatever no rule accepts is dropped: the client's other sources,
	 * other protocols, everything not addressed to it. */
	nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_DROP);
	nlh = nftq_batch_add(b, NFT_MSG_NEWCHAIN, NFPROTO_NETDEV, NLM_F_CREATE);
	if (!nlh)
		return b->error;
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	return 0;
}

static int add_rule(struct nftq_batch *b, const struct nftq_nat *m, unsigned c, unsigned j)
{
	_cleanup_(nftnl_rule_freep) struct nftnl_rule *r = rule_build(m, c, j);

	return nftq_batch_add_rule(b, NFPROTO_NETDEV, r);
}

/* The whole batch into b (initialised), ended. */
static int nat_batch(struct nftq_batch *b, const struct nftq_nat *m)
{
	int r;

	/* No generation check: nothing is read first, the table is rebuilt
	 * from m alone, so a commit in between changes nothing of the result. */
	r = nftq_batch_begin(b, 0);
	/* NEWTABLE first so that DELTABLE never meets a missing table: the
	 * batch works whether or not the table exists, and DELTABLE takes a
	 * dormant flag and any foreign chain with it. */
	if (r >= 0)
		r = nftq_batch_add_table(b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, NFTQ_NAT_TABLE);
	if (r >= 0)
		r = nftq_batch_add_table(b, NFT_MSG_DELTABLE, NFPROTO_NETDEV, NFTQ_NAT_TABLE);
	if (r >= 0)
		r = nftq_batch_add_table(b, NFT_MSG_NEWTABLE, NFPROTO_NETDEV, NFTQ_NAT_TABLE);
	for (unsigned c = 0; r >= 0 && c < NAT_CHAINS; c++) {
		r = add_chain(b, m, c);
		for (unsigned j = 0; r >= 0 && j < NAT_RULES; j++)
			r = add_rule(b, m, c, j);
	}
	if (r >= 0) {
		ssize_t len = nftq_batch_end(b);

		r = len < 0 ? (int)len : 0;
	}
	return r;
}

ssize_t nftq_nat_build(void *buf, size_t len, uint32_t seq, const struct nftq_nat *m)
{
	struct nftq_batch b;
	int r;

	if (!nat_valid(m))
		return -EINVAL;
	nftq_batch_init(&b, seq);
	r = nat_batch(&b, m);
	return nftq_batch_copy(&b, r, buf, len);
}

int nftq_nat_replace(struct nftq *q, const struct nftq_nat *m)
{
	struct nftq_batch b;
	int r;

	if (!nat_valid(m))
		return -EINVAL;
	nftq_batch_init(&b, nftq_next_seq(q));
	r = nat_batch(&b, m);
	if (r >= 0)
		r = nftq_batch_send(q, &b, NULL);
	nftq_batch_done(&b);
	return r;
}

int nftq_nat_remove(struct nftq *q)
{
	struct nftq_batch b;
	int r;

	/* DELTABLE, not DESTROYTABLE: that one needs Linux 6.3. */
	nftq_batch_init(&b, nftq_next_seq(q));
	r = nftq_batch_begin(&b, 0);
	if (r >= 0)
		r = nftq_batch_add_table(&b, NFT_MSG_DELTABLE, NFPROTO_NETDEV, NFTQ_NAT_TABLE);
	if (r >= 0)
		r = nftq_batch_send(q, &b, NULL);
	nftq_batch_done(&b);
	return r == -ENOENT ? 0 : r;
}

/* --- describing -------------------------------------------------------------- */

static void item_set(struct nftq_nat_item *it, const char *what)
{
	snprintf(it->what, sizeof(it->what), "%s", what);
	it->state = NFTQ_NAT_OK;
}

void nftq_nat_describe(const struct nftq_nat *m, struct nftq_nat_item ret[NFTQ_NAT_ITEMS])
{
	char real[INET_ADDRSTRLEN], visible[INET_ADDRSTRLEN], mac[18], buf[sizeof(ret[0].what)];

	/* The rules in nft's own words, so that they can be held against
	 * `nft list table netdev antispoof`. */
	inet_ntop(AF_INET, &m->real, real, sizeof(real));
	inet_ntop(AF_INET, &m->visible, visible, sizeof(visible));
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m->mac[0], m->mac[1], m->mac[2], m->mac[3],
		 m->mac[4], m->mac[5]);
	for (unsigned c = 0; c < NAT_CHAINS; c++) {
		snprintf(buf, sizeof(buf), "chain %s: type filter hook ingress device \"%.*s\" priority 0; policy drop",
			 chain_name[c], IFNAME_MAX - 1, chain_dev(m, c));
		item_set(&ret[item_chain(c)], buf);
	}
	snprintf(buf, sizeof(buf), "rule %s: ip saddr %s ip saddr set %s fwd to \"%.*s\"", chain_name[0], visible,
		 real, IFNAME_MAX - 1, m->peer);
	item_set(&ret[item_rule(0, 0)], buf);
	snprintf(buf, sizeof(buf),
		 "rule %s: arp htype 1 arp ptype ip arp hlen 6 arp plen 4 arp saddr ether %s arp saddr ip %s accept",
		 chain_name[0], mac, visible);
	item_set(&ret[item_rule(0, 1)], buf);
	snprintf(buf, sizeof(buf), "rule %s: ip daddr %s ip daddr set %s fwd to \"%.*s\"", chain_name[1], real,
		 visible, IFNAME_MAX - 1, m->vif);
	item_set(&ret[item_rule(1, 0)], buf);
	snprintf(buf, sizeof(buf), "rule %s: ether type arp accept", chain_name[1]);
	item_set(&ret[item_rule(1, 1)], buf);
}

/* --- reading back ------------------------------------------------------------ */

/* What the namespace holds of the table. */
struct nat_read {
	const struct nftq_nat *m;
	bool table;
	bool dormant;
	struct nftnl_chain *chain[NAT_CHAINS];  /* ours, by name; NULL when absent */
	bool chain_crowded[NAT_CHAINS];         /* another base chain of the table hooks that device */
	struct nftnl_rule *rule[NAT_CHAINS][NAT_RULES];
	unsigned n_rules[NAT_CHAINS];           /* all of the chain's, also past NAT_RULES */
};

static void nat_read_clear(struct nat_read *st)
{
	const struct nftq_nat *m = st->m;

	for (unsigned c = 0; c < NAT_CHAINS; c++) {
		if (st->chain[c])
			nftnl_chain_free(st->chain[c]);
		for (unsigned j = 0; j < NAT_RULES; j++)
			if (st->rule[c][j])
				nftnl_rule_free(st->rule[c][j]);
	}
	*st = (struct nat_read){ .m = m };
}

static int chain_index(const char *name)
{
	for (unsigned c = 0; c < NAT_CHAINS; c++)
		if (streq(name, chain_name[c]))
			return (int)c;
	return -1;
}

static bool is_ours(const char *table)
{
	return table && streq(table, NFTQ_NAT_TABLE);
}

static int table_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct nat_read *st = userdata;
	_cleanup_(nftnl_table_freep) struct nftnl_table *t = NULL;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWTABLE)
		return 0;
	t = nftnl_table_alloc();
	if (!t)
		return -ENOMEM;
	if (nftnl_table_nlmsg_parse(nlh, t) < 0)
		return -EBADMSG;
	if (!is_ours(nftnl_table_get_str(t, NFTNL_TABLE_NAME)))
		return 0;
	st->table = true;
	st->dormant = nftnl_table_is_set(t, NFTNL_TABLE_FLAGS) &&
		      (nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) & NFT_TABLE_F_DORMANT);
	return 0;
}

/* Whether base chain ch hooks device dev (one device or a list). */
static bool chain_hooks(const struct nftnl_chain *ch, const char *dev)
{
	const char *const *devs;

	if (!nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM))
		return false;
	if (nftnl_chain_is_set(ch, NFTNL_CHAIN_DEV) && streq(nftnl_chain_get_str(ch, NFTNL_CHAIN_DEV), dev))
		return true;
	if (!nftnl_chain_is_set(ch, NFTNL_CHAIN_DEVICES))
		return false;
	devs = nftnl_chain_get_array(ch, NFTNL_CHAIN_DEVICES);
	for (; devs && *devs; devs++)
		if (streq(*devs, dev))
			return true;
	return false;
}

static int chain_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct nat_read *st = userdata;
	_cleanup_(nftnl_chain_freep) struct nftnl_chain *ch = NULL;
	const char *name;
	int c, k;

	k = nftq_chain_from_msg(nlh, &ch);
	if (k <= 0)
		return k;
	/* A chain dump lists every table of the family. */
	if (!is_ours(nftnl_chain_get_str(ch, NFTNL_CHAIN_TABLE)))
		return 0;
	name = nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME);
	if (!name)
		return -EBADMSG;
	c = chain_index(name);
	if (c >= 0) {
		if (st->chain[c])
			return -EBADMSG; /* one name, one chain */
		st->chain[c] = ch;
		ch = NULL;
		return 0;
	}
	/* Someone else's base chain on one of the devices (at a lower
	 * priority it could `fwd` packets past ours): that chain is not
	 * alone there. Other chains (regular ones, other devices) cannot see
	 * this vif's packets unless our rules jump to them, which they would
	 * then not be equal to. */
	for (unsigned i = 0; i < NAT_CHAINS; i++)
		if (chain_hooks(ch, chain_dev(st->m, i)))
			st->chain_crowded[i] = true;
	return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct nat_read *st = userdata;
	_cleanup_(nftnl_rule_freep) struct nftnl_rule *r = NULL;
	const char *chain;
	unsigned n;
	int c, k;

	k = nftq_rule_from_msg(nlh, &r);
	if (k <= 0)
		return k;
	/* The kernel filters the dump by table; in case it did not. */
	if (!is_ours(nftnl_rule_get_str(r, NFTNL_RULE_TABLE)))
		return 0;
	chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	c = chain ? chain_index(chain) : -1;
	if (c < 0)
		return 0;
	n = st->n_rules[c]++;
	if (n < NAT_RULES) {
		st->rule[c][n] = r;
		r = NULL;
	}
	return 0;
}

/* 1 when the table exists (st->dormant then says whether it is), 0 when
 * not, -errno. */
static int table_read(struct nftq *q, struct nat_read *st)
{
	int r = nftq_table_get(q, NFPROTO_NETDEV, NFTQ_NAT_TABLE, table_cb, st);

	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : st->table;
}

static int chains_read(struct nftq *q, struct nat_read *st)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE); /* what libnftnl leaves unwritten goes out as zeros */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_NETDEV, NLM_F_DUMP, 0);
	return nftq_request(q, nlh, chain_cb, st);
}

static int rules_read(struct nftq *q, struct nat_read *st)
{
	_cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE); /* what libnftnl leaves unwritten goes out as zeros */
	if (!r || nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFTQ_NAT_TABLE) < 0)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_NETDEV, NLM_F_DUMP, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	return nftq_request(q, nlh, rule_cb, st);
}

/* One pass: the table, then (when it is there) its chains and rules. */
static int read_once(struct nftq *q, struct nat_read *st)
{
	int r = table_read(q, st);

	if (r <= 0)
		return r;
	r = chains_read(q, st);
	if (r >= 0)
		r = rules_read(q, st);
	return r;
}

/* The table, its chains and rules as of one generation: the three reads
 * are separate requests, so a commit between them is caught by the
 * generation id read before and after, and the read done again. */
static int nat_read(struct nftq *q, struct nat_read *st)
{
	for (unsigned i = 0; i < NAT_READ_TRIES; i++) {
		uint32_t before, after;
		int r;

		nat_read_clear(st);
		r = nftq_genid(q, &before);
		if (r < 0)
			return r;
		r = read_once(q, st);
		if (r == -EINTR)
			continue; /* a dump interrupted by a commit */
		if (r < 0)
			return r;
		r = nftq_genid(q, &after);
		if (r < 0)
			return r;
		if (before == after)
			return 0;
	}
	return -EAGAIN;
}

/* --- comparing --------------------------------------------------------------- */

static bool chain_equal(const struct nftnl_chain *got, const struct nftq_nat *m, unsigned c)
{
	const char *type = nftnl_chain_is_set(got, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(got, NFTNL_CHAIN_TYPE) : NULL;
	const char *dev = chain_dev(m, c);
	const char *const *devs;

	if (!type || !streq(type, "filter") || !nftnl_chain_is_set(got, NFTNL_CHAIN_HOOKNUM) ||
	    nftnl_chain_get_u32(got, NFTNL_CHAIN_HOOKNUM) != NF_NETDEV_INGRESS ||
	    !nftnl_chain_is_set(got, NFTNL_CHAIN_PRIO) || nftnl_chain_get_s32(got, NFTNL_CHAIN_PRIO) != 0 ||
	    !nftnl_chain_is_set(got, NFTNL_CHAIN_POLICY) || nftnl_chain_get_u32(got, NFTNL_CHAIN_POLICY) != NF_DROP)
		return false;
	/* The kernel names a single device in both attributes (when it
	 * lists the device list at all): each that is there must be dev only. */
	if (!nftnl_chain_is_set(got, NFTNL_CHAIN_DEV) || !streq(nftnl_chain_get_str(got, NFTNL_CHAIN_DEV), dev))
		return false;
	if (nftnl_chain_is_set(got, NFTNL_CHAIN_DEVICES)) {
		devs = nftnl_chain_get_array(got, NFTNL_CHAIN_DEVICES);
		if (!devs || !devs[0] || !streq(devs[0], dev) || devs[1])
			return false;
	}
	return true;
}

/* The state of each item from st; returns how many are not OK. */
static int judge(const struct nat_read *st, const struct nftq_nat *m, struct nftq_nat_item items[NFTQ_NAT_ITEMS])
{
	int bad = 0;

	for (unsigned c = 0; c < NAT_CHAINS; c++) {
		struct nftq_nat_item *it = &items[item_chain(c)];

		if (!st->chain[c])
			it->state = NFTQ_NAT_MISSING;
		else if (st->dormant || st->chain_crowded[c] || st->n_rules[c] > NAT_RULES ||
			 !chain_equal(st->chain[c], m, c))
			it->state = NFTQ_NAT_DIFFERS;
		for (unsigned j = 0; j < NAT_RULES; j++) {
			_cleanup_(nftnl_rule_freep) struct nftnl_rule *want = NULL;
			int k;

			it = &items[item_rule(c, j)];
			if (j >= st->n_rules[c]) {
				it->state = NFTQ_NAT_MISSING;
				continue;
			}
			want = rule_build(m, c, j);
			if (!want)
				return -ENOMEM;
			k = nftq_rule_equal(want, st->rule[c][j], NULL);
			if (k < 0)
				return k;
			if (k == 0)
				it->state = NFTQ_NAT_DIFFERS;
		}
	}
	for (unsigned i = 0; i < NFTQ_NAT_ITEMS; i++)
		if (items[i].state != NFTQ_NAT_OK)
			bad++;
	return bad;
}

int nftq_nat_check(struct nftq *q, const struct nftq_nat *m, struct nftq_nat_item ret[NFTQ_NAT_ITEMS])
{
	struct nftq_nat_item items[NFTQ_NAT_ITEMS];
	struct nat_read st = { .m = m };
	int r;

	if (!nat_valid(m))
		return -EINVAL;
	nftq_nat_describe(m, items);
	r = nat_read(q, &st);
	if (r >= 0)
		r = judge(&st, m, items);
	nat_read_clear(&st);
	if (r >= 0)
		memcpy(ret, items, sizeof(items));
	return r;
}
