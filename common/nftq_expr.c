/* What the nftq files share about rules and tables at the libnftnl level:
 * building a table message, and comparing a rule read back from the
 * kernel with the rule we would send, expression by expression. */
#include <errno.h>
#include <stdio.h> /* libnftnl's headers use FILE */
#include <netinet/in.h> /* before the linux/ headers, which then defer to it */
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <string.h>

#include "nftq_internal.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_table *, nftnl_table_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_expr_iter *, nftnl_expr_iter_destroy)

/* libnftnl keeps an expression's attributes as bits of a u32. */
#define EXPR_ATTR_LAST 31

int nftq_batch_add_table(struct nftq_batch *b, uint16_t msg_type, uint16_t family, const char *name)
{
	_cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (!t || nftnl_table_set_str(t, NFTNL_TABLE_NAME, name) < 0)
		return -ENOMEM;
	nlh = nftq_batch_add(b, msg_type, family, msg_type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0);
	if (!nlh)
		return b->error;
	nftnl_table_nlmsg_build_payload(nlh, t);
	return 0;
}

int nftq_table_get(struct nftq *q, uint16_t family, const char *name, nftq_msg_cb cb, void *userdata)
{
	_cleanup_(nftnl_table_freep) struct nftnl_table *t = nftnl_table_alloc();
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE); /* what libnftnl leaves unwritten goes out as zeros */
	if (!t || nftnl_table_set_str(t, NFTNL_TABLE_NAME, name) < 0)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, family, 0, 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	return nftq_request(q, nlh, cb, userdata);
}

ssize_t nftq_batch_copy(struct nftq_batch *b, int r, void *buf, size_t len)
{
	ssize_t n = r < 0 ? r : (ssize_t)b->len;

	if (n >= 0 && (size_t)n > len)
		n = -ENOBUFS;
	if (n >= 0)
		memcpy(buf, nftq_batch_data(b), (size_t)n);
	nftq_batch_done(b);
	return n;
}

int nftq_batch_add_rule(struct nftq_batch *b, uint16_t family, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh;

	if (!r)
		return -ENOMEM;
	nlh = nftq_batch_add(b, NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND);
	if (!nlh)
		return b->error;
	nftnl_rule_nlmsg_build_payload(nlh, r);
	return 0;
}

struct nftnl_expr *nftq_expr_add(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e)
		nftnl_rule_add_expr(r, e);
	return e;
}

int nftq_add_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftq_expr_add(r, "meta");

	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return 0;
}

int nftq_add_load(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = nftq_expr_add(r, "payload");

	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	return 0;
}

int nftq_add_cmp_eq(struct nftnl_rule *r, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftq_expr_add(r, "cmp");

	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
	return nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len) < 0 ? -ENOMEM : 0;
}

static int rule_attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **exprs = data;

	if (mnl_attr_get_type(a) == NFTA_RULE_EXPRESSIONS)
		*exprs = a;
	return MNL_CB_OK;
}

/* libnftnl takes an expression's name on trust: one without a name (or
 * not a string) dereferences NULL inside nftnl_rule_nlmsg_parse(). The
 * kernel always sends one; a message that lacks it is refused here. */
static bool rule_exprs_named(const struct nlmsghdr *nlh)
{
	const struct nlattr *exprs = NULL, *e, *a;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), rule_attr_cb, &exprs) < 0)
		return false;
	if (!exprs)
		return true;
	mnl_attr_for_each_nested(e, exprs) {
		bool named = false;

		if (mnl_attr_get_type(e) != NFTA_LIST_ELEM)
			return false;
		mnl_attr_for_each_nested(a, e)
			if (mnl_attr_get_type(a) == NFTA_EXPR_NAME)
				named = mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0;
		if (!named)
			return false;
	}
	return true;
}

int nftq_rule_from_msg(const struct nlmsghdr *nlh, struct nftnl_rule **ret)
{
	struct nftnl_rule *r;

	*ret = NULL;
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE)
		return 0;
	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(struct nfgenmsg) || !rule_exprs_named(nlh))
		return -EBADMSG;
	r = nftnl_rule_alloc();
	if (!r)
		return -ENOMEM;
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		return -EBADMSG;
	}
	*ret = r;
	return 1;
}

int nftq_chain_from_msg(const struct nlmsghdr *nlh, struct nftnl_chain **ret)
{
	struct nftnl_chain *c;

	*ret = NULL;
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWCHAIN)
		return 0;
	c = nftnl_chain_alloc();
	if (!c)
		return -ENOMEM;
	if (nftnl_chain_nlmsg_parse(nlh, c) < 0) {
		nftnl_chain_free(c);
		return -EBADMSG;
	}
	*ret = c;
	return 1;
}

int nftq_rule_exprs(const struct nftnl_rule *r, struct nftnl_expr **ret, int max)
{
	_cleanup_(nftnl_expr_iter_destroyp) struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	int n = 0;

	if (!it)
		return -ENOMEM;
	while ((e = nftnl_expr_iter_next(it))) {
		if (n < max)
			ret[n] = e;
		n++;
	}
	return n;
}

bool nftq_expr_attr_equal(const struct nftnl_expr *a, const struct nftnl_expr *b, uint16_t type)
{
	const void *pa, *pb;
	uint32_t la = 0, lb = 0;

	if (nftnl_expr_is_set(a, type) != nftnl_expr_is_set(b, type))
		return false;
	if (!nftnl_expr_is_set(a, type))
		return true;
	pa = nftnl_expr_get(a, type, &la);
	pb = nftnl_expr_get(b, type, &lb);
	if (!pa || !pb)
		return pa == pb;
	return la == lb && memcmp(pa, pb, la) == 0;
}

static bool expr_equal(const struct nftnl_expr *want, const struct nftnl_expr *got, nftq_attr_tolerated tolerated)
{
	const char *nw = nftnl_expr_get_str(want, NFTNL_EXPR_NAME), *ng = nftnl_expr_get_str(got, NFTNL_EXPR_NAME);

	if (!nw || !ng || !streq(nw, ng))
		return false;
	for (uint16_t type = NFTNL_EXPR_BASE; type <= EXPR_ATTR_LAST; type++) {
		if (nftq_expr_attr_equal(want, got, type))
			continue;
		if (tolerated && tolerated(nw, want, got, type))
			continue;
		return false;
	}
	return true;
}

int nftq_rule_equal(const struct nftnl_rule *want, const struct nftnl_rule *got, nftq_attr_tolerated tolerated)
{
	struct nftnl_expr *w[NFTQ_RULE_MAX_EXPRS + 1], *g[NFTQ_RULE_MAX_EXPRS + 1];
	int nw, ng;

	if (nftnl_rule_is_set(got, NFTNL_RULE_USERDATA))
		return 0;
	nw = nftq_rule_exprs(want, w, (int)ELEMENTSOF(w));
	ng = nftq_rule_exprs(got, g, (int)ELEMENTSOF(g));
	if (nw < 0 || ng < 0)
		return -ENOMEM;
	if (nw != ng || nw > (int)ELEMENTSOF(w))
		return 0;
	for (int i = 0; i < nw; i++)
		if (!expr_equal(w[i], g[i], tolerated))
			return 0;
	return 1;
}
