#include <string.h>

#include "dnat_plan.h"

static void push_pair(struct dnat_plan *p, struct in_addr dst, struct in_addr to)
{
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP };

	for (size_t i = 0; i < sizeof(protos); i++) {
		struct ipt_dnat_rule *r = &p->rules[p->n++];

		/* Zeroed padding: rules are compared with memcmp. */
		memset(r, 0, sizeof(*r));
		r->dst = dst;
		r->proto = protos[i];
		r->dport = 53;
		r->to = to;
	}
}

void dnat_plan_build(const struct in_addr *dns1, const struct in_addr *dns2, const struct in_addr *resolvers,
		     unsigned n_resolvers, struct dnat_plan *ret)
{
	ret->n = 0;
	ret->drops = false;
	if (!dns1)
		return;
	ret->drops = n_resolvers == 0;
	push_pair(ret, *dns1, ret->drops ? DNAT_DROP_TO : resolvers[0]);
	if (dns2 && dns2->s_addr != dns1->s_addr)
		push_pair(ret, *dns2, ret->drops ? DNAT_DROP_TO : resolvers[n_resolvers > 1 ? 1 : 0]);
}

bool dnat_plan_matches(const struct dnat_plan *p, const struct ipt_dnat_rule *cur, size_t n_cur)
{
	if (n_cur != p->n)
		return false;
	/* Field by field: the padding byte carries nothing. */
	for (unsigned i = 0; i < p->n; i++)
		if (p->rules[i].dst.s_addr != cur[i].dst.s_addr || p->rules[i].proto != cur[i].proto ||
		    p->rules[i].dport != cur[i].dport || p->rules[i].to.s_addr != cur[i].to.s_addr)
			return false;
	return true;
}
