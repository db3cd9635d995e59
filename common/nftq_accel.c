/* table inet qubes-nat-accel: the flowtable that lets forwarded
 * client <-> uplink flows bypass the rule walk, rebuilt in one batch. */
#include <errno.h>
#include <netinet/in.h> /* before the linux/ headers, which then defer to it */
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/flowtable.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <string.h>

#include "nftq_internal.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_flowtable *, nftnl_flowtable_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_chain *, nftnl_chain_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_rule *, nftnl_rule_free)

#define ACCEL_CHAIN "forward"
#define ACCEL_CHAIN_PRIO 5 /* filter + 5: after the base ruleset's forward chain */
#define ACCEL_MAX_DEVS 255 /* the kernel's limit for one hook's device list */
#define GROUP_CLIENT 2     /* interface group of client vifs */
#define GROUP_UPLINK 1
#define ACCEL_TRIES 5      /* batches refused for a stale genid before giving up */

static int add_flowtable(struct nftq_batch *b, const char *const *devs, size_t n_devs)
{
	_cleanup_(nftnl_flowtable_freep) struct nftnl_flowtable *ft = nftnl_flowtable_alloc();
	_cleanup_free_ const char **names = NULL;
	struct nlmsghdr *nlh;

	if (!ft)
		return -ENOMEM;
	if (nftnl_flowtable_set_str(ft, NFTNL_FLOWTABLE_TABLE, NFTQ_ACCEL_TABLE) < 0 ||
	    nftnl_flowtable_set_str(ft, NFTNL_FLOWTABLE_NAME, NFTQ_ACCEL_FLOWTABLE) < 0)
		return -ENOMEM;
	nftnl_flowtable_set_u32(ft, NFTNL_FLOWTABLE_HOOKNUM, NF_NETDEV_INGRESS);
	nftnl_flowtable_set_s32(ft, NFTNL_FLOWTABLE_PRIO, 0);
	if (n_devs > 0) {
		/* libnftnl wants a NULL-terminated array and copies it. */
		names = calloc(n_devs + 1, sizeof(*names));
		if (!names)
			return -ENOMEM;
		memcpy(names, devs, n_devs * sizeof(*names));
		if (nftnl_flowtable_set_array(ft, NFTNL_FLOWTABLE_DEVICES, names) < 0)
			return -ENOMEM;
	}
	nlh = nftq_batch_add(b, NFT_MSG_NEWFLOWTABLE, NFPROTO_INET, NLM_F_CREATE);
	if (!nlh)
		return b->error;
	nftnl_flowtable_nlmsg_build_payload(nlh, ft);
	return 0;
}

static int add_chain(struct nftq_batch *b)
{
	_cleanup_(nftnl_chain_freep) struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (!c)
		return -ENOMEM;
	if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFTQ_ACCEL_TABLE) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, ACCEL_CHAIN) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter") < 0)
		return -ENOMEM;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_FORWARD);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, ACCEL_CHAIN_PRIO);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = nftq_batch_add(b, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE);
	if (!nlh)
		return b->error;
	nftnl_chain_nlmsg_build_payload(nlh, c);
	return 0;
}

/* meta KEY -> reg 1; cmp reg 1 == data. */
static int add_meta_cmp(struct nftnl_rule *r, uint32_t key, const void *data, uint32_t len)
{
	int k = nftq_add_meta(r, key);

	return k < 0 ? k : nftq_add_cmp_eq(r, data, len);
}

/* `meta l4proto PROTO iifgroup 2 oifgroup 1 flow add @qubes-accel`. One
 * rule per protocol: `l4proto { tcp, udp }` would need an anonymous set,
 * three more objects for the same effect. */
static int add_rule(struct nftq_batch *b, uint8_t proto)
{
	_cleanup_(nftnl_rule_freep) struct nftnl_rule *r = nftnl_rule_alloc();
	/* The groups are loaded as the kernel's u32, in host order. */
	uint32_t client = GROUP_CLIENT, uplink = GROUP_UPLINK;
	struct nftnl_expr *flow;
	struct nlmsghdr *nlh;
	int k;

	if (!r)
		return -ENOMEM;
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFTQ_ACCEL_TABLE) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, ACCEL_CHAIN) < 0)
		return -ENOMEM;
	k = add_meta_cmp(r, NFT_META_L4PROTO, &proto, sizeof(proto));
	if (k >= 0)
		k = add_meta_cmp(r, NFT_META_IIFGROUP, &client, sizeof(client));
	if (k >= 0)
		k = add_meta_cmp(r, NFT_META_OIFGROUP, &uplink, sizeof(uplink));
	if (k < 0)
		return k;
	flow = nftnl_expr_alloc("flow_offload");
	if (!flow)
		return -ENOMEM;
	nftnl_rule_add_expr(r, flow);
	if (nftnl_expr_set_str(flow, NFTNL_EXPR_FLOW_TABLE_NAME, NFTQ_ACCEL_FLOWTABLE) < 0)
		return -ENOMEM;
	nlh = nftq_batch_add(b, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND);
	if (!nlh)
		return b->error;
	nftnl_rule_nlmsg_build_payload(nlh, r);
	return 0;
}

static int accel_check(const char *const *devs, size_t n_devs)
{
	if (n_devs > ACCEL_MAX_DEVS)
		return -E2BIG;
	for (size_t i = 0; i < n_devs; i++)
		if (!devs[i] || !ifname_is_valid(devs[i]))
			return -EINVAL;
	return 0;
}

/* The whole batch into b (initialised). */
static int accel_batch(struct nftq_batch *b, uint32_t genid, const char *const *devs, size_t n_devs)
{
	int r;

	r = nftq_batch_begin(b, genid);
	/* NEWTABLE first so that DELTABLE never meets a missing table: the
	 * batch works whether or not the table exists. */
	if (r >= 0)
		r = nftq_batch_add_table(b, NFT_MSG_NEWTABLE, NFPROTO_INET, NFTQ_ACCEL_TABLE);
	if (r >= 0)
		r = nftq_batch_add_table(b, NFT_MSG_DELTABLE, NFPROTO_INET, NFTQ_ACCEL_TABLE);
	if (r >= 0)
		r = nftq_batch_add_table(b, NFT_MSG_NEWTABLE, NFPROTO_INET, NFTQ_ACCEL_TABLE);
	if (r >= 0)
		r = add_flowtable(b, devs, n_devs);
	if (r >= 0)
		r = add_chain(b);
	if (r >= 0)
		r = add_rule(b, IPPROTO_TCP);
	if (r >= 0)
		r = add_rule(b, IPPROTO_UDP);
	if (r >= 0) {
		ssize_t len = nftq_batch_end(b);

		r = len < 0 ? (int)len : 0;
	}
	return r;
}

ssize_t nftq_accel_build(void *buf, size_t len, uint32_t seq, uint32_t genid, const char *const *devs,
			 size_t n_devs)
{
	struct nftq_batch b;
	int r;

	r = accel_check(devs, n_devs);
	if (r < 0)
		return r;
	nftq_batch_init(&b, seq);
	r = accel_batch(&b, genid, devs, n_devs);
	return nftq_batch_copy(&b, r, buf, len);
}

int nftq_accel_recreate(struct nftq *q, const char *const *devs, size_t n_devs)
{
	int r;

	r = accel_check(devs, n_devs);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < ACCEL_TRIES; i++) {
		struct nftq_batch b;
		uint32_t genid;

		/* The genid makes the delete-and-recreate refuse to run over
		 * a change made since it was read (e.g. another recreate). */
		r = nftq_genid(q, &genid);
		if (r < 0)
			return r;
		nftq_batch_init(&b, nftq_next_seq(q));
		r = accel_batch(&b, genid, devs, n_devs);
		if (r >= 0)
			r = nftq_batch_send(q, &b, NULL);
		nftq_batch_done(&b);
		if (r != -ERESTART)
			break;
	}
	return r;
}
