/* Chain dnat-dns of table ip qubes: read and compared at expression level,
 * replaced in one genid-guarded batch (nftq.h, nftq_dns.h). */
#include <errno.h>
#include <netinet/in.h> /* before the linux/ headers, which then defer to it */
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>
#include <time.h>

#include "nftq_dns.h"
#include "nftq_internal.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_chain *, nftnl_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_rule *, nftnl_rule_free)

#define DNS_PRIO (-100)     /* dstnat */
#define DNS_PORT 53
#define DNS_TRIES 10        /* batches refused for a stale genid before giving up */
#define DNS_READ_TRIES 5    /* dumps interrupted by a concurrent change */
#define DNS_MAX_EXPRS 8     /* the dnat shape; the drop shape has 7 */

/* IPv4 header: daddr at 16; udp/tcp header: dport at 2. */
#define OFF_DADDR 16
#define OFF_DPORT 2

/* --- building a rule ----------------------------------------------------- */

/* payload load LEN bytes at BASE + OFF into reg 1, then cmp eq DATA. */
static int add_payload_cmp(struct nftnl_rule *r, uint32_t base, uint32_t off, const void *data, uint32_t len)
{
	int k = nftq_add_load(r, base, off, len);

	return k < 0 ? k : nftq_add_cmp_eq(r, data, len);
}

/* meta l4proto into reg 1 (the dependency nft puts before `udp dport`),
 * then cmp eq the one-byte protocol. */
static int add_l4proto_cmp(struct nftnl_rule *r, uint8_t proto)
{
	int k = nftq_add_meta(r, NFT_META_L4PROTO);

	return k < 0 ? k : nftq_add_cmp_eq(r, &proto, sizeof(proto));
}

/* immediate reg 1 = TO; nat dnat ip addr_min reg 1 -- or immediate drop. */
static int add_action(struct nftnl_rule *r, const struct nftq_dns_rule *d)
{
	struct nftnl_expr *imm = nftq_expr_add(r, "immediate"), *nat;

	if (!imm)
		return -ENOMEM;
	if (d->drop) {
		nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
		return 0;
	}
	nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	if (nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, &d->to.s_addr, sizeof(d->to.s_addr)) < 0)
		return -ENOMEM;
	nat = nftq_expr_add(r, "nat");
	if (!nat)
		return -ENOMEM;
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
	nftnl_expr_set_u32(nat, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	return 0;
}

static bool rule_valid(const struct nftq_dns_rule *d)
{
	return d->proto == IPPROTO_UDP || d->proto == IPPROTO_TCP;
}

struct nftnl_rule *nftq_dns_rule_build(const struct nftq_dns_rule *d)
{
	const uint16_t port = htons(DNS_PORT);
	struct nftnl_rule *r;
	int k = 0;

	r = nftnl_rule_alloc();
	if (!r)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFTQ_TABLE) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, NFTQ_DNAT_CHAIN) < 0)
		k = -ENOMEM;
	if (k >= 0)
		k = add_payload_cmp(r, NFT_PAYLOAD_NETWORK_HEADER, OFF_DADDR, &d->dst.s_addr, sizeof(d->dst.s_addr));
	if (k >= 0)
		k = add_l4proto_cmp(r, d->proto);
	if (k >= 0)
		k = add_payload_cmp(r, NFT_PAYLOAD_TRANSPORT_HEADER, OFF_DPORT, &port, sizeof(port));
	if (k >= 0)
		k = add_action(r, d);
	if (k < 0) {
		nftnl_rule_free(r);
		return NULL;
	}
	return r;
}

/* --- comparing ------------------------------------------------------------ */

/* What the kernel adds to a nat expression that loads only ADDR_MIN: an
 * ADDR_MAX equal to it, and FLAGS = NF_NAT_RANGE_MAP_IPS. */
static bool nat_normalised(const char *name, const struct nftnl_expr *want, const struct nftnl_expr *got, uint16_t type)
{
	if (!streq(name, "nat") || !nftnl_expr_is_set(want, NFTNL_EXPR_NAT_REG_ADDR_MIN) || nftnl_expr_is_set(want, type) ||
	    !nftnl_expr_is_set(got, type))
		return false;
	if (type == NFTNL_EXPR_NAT_REG_ADDR_MAX)
		return nftnl_expr_is_set(got, NFTNL_EXPR_NAT_REG_ADDR_MIN) &&
		       nftnl_expr_get_u32(got, NFTNL_EXPR_NAT_REG_ADDR_MAX) ==
			       nftnl_expr_get_u32(got, NFTNL_EXPR_NAT_REG_ADDR_MIN);
	if (type == NFTNL_EXPR_NAT_FLAGS)
		return nftnl_expr_get_u32(got, NFTNL_EXPR_NAT_FLAGS) == NF_NAT_RANGE_MAP_IPS;
	return false;
}

bool nftq_dns_rule_equal(const struct nftnl_rule *want, const struct nftnl_rule *got)
{
	return nftq_rule_equal(want, got, nat_normalised) == 1;
}

/* The bytes of attribute type of e when they are exactly len long. */
static const void *expr_bytes(const struct nftnl_expr *e, const char *name, uint16_t type, uint32_t len)
{
	const char *n = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	const void *p;
	uint32_t l = 0;

	if (!n || !streq(n, name) || !nftnl_expr_is_set(e, type))
		return NULL;
	p = nftnl_expr_get(e, type, &l);
	return p && l == len ? p : NULL;
}

int nftq_dns_rule_decode(const struct nftnl_rule *got, struct nftq_dns_rule *ret)
{
	_cleanup_(nftnl_rule_freep) struct nftnl_rule *canon = NULL;
	struct nftnl_expr *e[DNS_MAX_EXPRS];
	struct nftq_dns_rule d = { 0 };
	const void *dst, *proto, *to;
	int n;

	/* Pick the values from where the two shapes keep them; whether the
	 * rule is exactly of that shape is then one strict comparison. */
	n = nftq_rule_exprs(got, e, (int)ELEMENTSOF(e));
	if (n < 0)
		return n;
	if (n != DNS_MAX_EXPRS && n != DNS_MAX_EXPRS - 1)
		return -EINVAL;
	dst = expr_bytes(e[1], "cmp", NFTNL_EXPR_CMP_DATA, 4);
	proto = expr_bytes(e[3], "cmp", NFTNL_EXPR_CMP_DATA, 1);
	if (!dst || !proto)
		return -EINVAL;
	memcpy(&d.dst.s_addr, dst, 4);
	d.proto = *(const uint8_t *)proto;
	if (n == DNS_MAX_EXPRS - 1)
		d.drop = true;
	else {
		to = expr_bytes(e[6], "immediate", NFTNL_EXPR_IMM_DATA, 4);
		if (!to)
			return -EINVAL;
		memcpy(&d.to.s_addr, to, 4);
	}
	if (!rule_valid(&d))
		return -EINVAL;
	canon = nftq_dns_rule_build(&d);
	if (!canon)
		return -ENOMEM;
	if (!nftq_dns_rule_equal(canon, got))
		return -EINVAL;
	*ret = d;
	return 0;
}

/* --- reading the chain ---------------------------------------------------- */

static int chain_cb(const struct nlmsghdr *nlh, void *userdata)
{
	bool *ok = userdata;
	_cleanup_(nftnl_chain_freep) struct nftnl_chain *c = NULL;
	const char *type;
	int k;

	k = nftq_chain_from_msg(nlh, &c);
	if (k <= 0)
		return k;
	type = nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) : NULL;
	*ok = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM) &&
	      nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM) == NF_INET_PRE_ROUTING &&
	      nftnl_chain_is_set(c, NFTNL_CHAIN_PRIO) && nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO) == DNS_PRIO &&
	      type && streq(type, "nat") && nftnl_chain_is_set(c, NFTNL_CHAIN_POLICY) &&
	      nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY) == NF_ACCEPT;
	return 0;
}

/* 1 when the chain exists (*ret_ok: with the right type, hook, priority
 * and policy), 0 when it does not, -errno. */
static int chain_read(struct nftq *q, bool *ret_ok)
{
	_cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	bool ok = false;
	int r;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE); /* what libnftnl leaves unwritten goes out as zeros */
	if (!c || nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFTQ_TABLE) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, NFTQ_DNAT_CHAIN) < 0)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETCHAIN, NFPROTO_IPV4, 0, 0);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	r = nftq_request(q, nlh, chain_cb, &ok);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	*ret_ok = ok;
	return 1;
}

/* 1 when table ip qubes exists, 0 when not, -errno. */
static int table_exists(struct nftq *q)
{
	int r = nftq_table_get(q, NFPROTO_IPV4, NFTQ_TABLE, NULL, NULL);

	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : 1;
}

static int rule_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct nftq_dns_state *st = userdata;
	_cleanup_(nftnl_rule_freep) struct nftnl_rule *r = NULL;
	const char *table, *chain;
	struct nftq_dns_rule d;
	int k;

	k = nftq_rule_from_msg(nlh, &r);
	if (k <= 0)
		return k;
	/* The kernel filters the dump by table and chain; in case it did not. */
	table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	if (!table || !chain || !streq(table, NFTQ_TABLE) || !streq(chain, NFTQ_DNAT_CHAIN))
		return 0;
	if (st->n >= NFTQ_DNS_MAX_RULES) {
		st->ok = false;
		return 0;
	}
	k = nftq_dns_rule_decode(r, &d);
	if (k == -EINVAL) {
		st->ok = false;
		return 0;
	}
	if (k < 0)
		return k;
	st->rule[st->n++] = d;
	return 0;
}

static int rules_read(struct nftq *q, struct nftq_dns_state *st)
{
	_cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE); /* what libnftnl leaves unwritten goes out as zeros */
	if (!r || nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFTQ_TABLE) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, NFTQ_DNAT_CHAIN) < 0)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_IPV4, NLM_F_DUMP, 0);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	return nftq_request(q, nlh, rule_cb, st);
}

/* nftq_dns_read, and whether the table exists (only looked up when the
 * chain does not). */
static int dns_read(struct nftq *q, struct nftq_dns_state *ret, bool *ret_table)
{
	int r = -EINTR;

	for (unsigned i = 0; i < DNS_READ_TRIES && r == -EINTR; i++) {
		struct nftq_dns_state st = { 0 };
		bool chain_ok = false;

		/* The generation first: a change after it, also one between the
		 * reads below, makes a batch carrying it fail. */
		r = nftq_genid(q, &st.genid);
		if (r < 0)
			return r;
		r = chain_read(q, &chain_ok);
		if (r < 0)
			return r;
		if (r == 0) {
			r = table_exists(q);
			if (r < 0)
				return r;
			*ret_table = r > 0;
			*ret = st;
			return 0;
		}
		st.exists = true;
		st.ok = chain_ok;
		r = rules_read(q, &st);
		if (r >= 0) {
			*ret_table = true;
			*ret = st;
			return 0;
		}
	}
	return r;
}

int nftq_dns_read(struct nftq *q, struct nftq_dns_state *ret)
{
	bool table;

	return dns_read(q, ret, &table);
}

/* --- replacing it --------------------------------------------------------- */

static bool rule_same(const struct nftq_dns_rule *a, const struct nftq_dns_rule *b)
{
	return a->dst.s_addr == b->dst.s_addr && a->proto == b->proto && a->drop == b->drop &&
	       (a->drop || a->to.s_addr == b->to.s_addr);
}

/* Every rule of st decoded as exactly the nftq_dns_rule it is (the
 * expressions compared with what nftq_dns_rule_build makes of it): equal
 * fields mean equal expressions. */
static bool state_holds(const struct nftq_dns_state *st, const struct nftq_dns_rule *rules, unsigned n)
{
	if (!st->exists || !st->ok || st->n != n)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (!rule_same(&st->rule[i], &rules[i]))
			return false;
	return true;
}

/* NEWCHAIN (with_hook: nat, prerouting, dstnat, policy accept) or DELCHAIN. */
static int add_chain(struct nftq_batch *b, uint16_t msg_type, bool with_hook)
{
	_cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c || nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFTQ_TABLE) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, NFTQ_DNAT_CHAIN) < 0)
		return -ENOMEM;
	if (with_hook) {
		if (nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "nat") < 0)
			return -ENOMEM;
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_PRE_ROUTING);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, DNS_PRIO);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nlh = nftq_batch_add(b, msg_type, NFPROTO_IPV4, msg_type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0);
	if (!nlh)
		return b->error;
	nftnl_chain_nlmsg_build_payload(nlh, c);
	return 0;
}

static int add_rule(struct nftq_batch *b, const struct nftq_dns_rule *d)
{
	_cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftq_dns_rule_build(d);

	return nftq_batch_add_rule(b, NFPROTO_IPV4, r);
}

/* add chain (no hook: works whether or not it exists), delete it with its
 * rules, add it again as the base chain, then its rules: nft -f's way of
 * replacing a chain, one transaction. */
static int replace_batch(struct nftq_batch *b, uint32_t genid, const struct nftq_dns_rule *rules, unsigned n)
{
	int r;

	r = nftq_batch_begin(b, genid);
	if (r >= 0)
		r = add_chain(b, NFT_MSG_NEWCHAIN, false);
	if (r >= 0)
		r = add_chain(b, NFT_MSG_DELCHAIN, false);
	if (r >= 0)
		r = add_chain(b, NFT_MSG_NEWCHAIN, true);
	for (unsigned i = 0; r >= 0 && i < n; i++)
		r = add_rule(b, &rules[i]);
	return r;
}

/* A short random pause before a retry, so that runs refused together do
 * not collide again in step: up to 2^try ms, at most 64. */
static void backoff(unsigned try)
{
	struct timespec now, ts = { 0 };
	unsigned long max_us = 1000ul << (try < 6 ? try : 6), mix;

	/* Random enough to part runs started together: the clock's
	 * nanoseconds, stirred with the pid. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	mix = (unsigned long)now.tv_nsec ^ (unsigned long)getpid() * 2654435761u;
	ts.tv_nsec = (long)(mix % max_us) * 1000;
	nanosleep(&ts, NULL);
}

int nftq_dns_sync(struct nftq *q, const struct nftq_dns_rule *rules, unsigned n, bool dry_run, bool *ret_changed)
{
	int r = -ERESTART;

	if (n > NFTQ_DNS_MAX_RULES || (n > 0 && !rules))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (!rule_valid(&rules[i]))
			return -EINVAL;

	for (unsigned try = 0; try < DNS_TRIES && r == -ERESTART; try++) {
		struct nftq_dns_state st;
		struct nftq_batch b;
		bool table;

		if (try > 0)
			backoff(try);
		r = dns_read(q, &st, &table);
		if (r < 0)
			return r;
		if (!table)
			return -ENOENT; /* the base ruleset's: never created here */
		if (state_holds(&st, rules, n)) {
			*ret_changed = false;
			return 0;
		}
		if (dry_run) {
			*ret_changed = true;
			return 0;
		}
		nftq_batch_init(&b, nftq_next_seq(q));
		r = replace_batch(&b, st.genid, rules, n);
		if (r >= 0)
			r = nftq_batch_send(q, &b, NULL);
		nftq_batch_done(&b);
	}
	if (r < 0)
		return r;
	*ret_changed = true;
	return 0;
}
