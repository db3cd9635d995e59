#include <string.h>

#include "dnat_plan.h"

const uint8_t dnat_protos[DNAT_N_PROTOS] = { IPPROTO_UDP, IPPROTO_TCP };

static void push_pair(struct dnat_plan *p, struct in_addr dst, const struct in_addr *to)
{
	struct dnat_pair *pair = &p->pairs[p->n++];

	memset(pair, 0, sizeof(*pair));
	pair->dst = dst;
	pair->drop = !to;
	if (to)
		pair->to = *to;
}

void dnat_plan_build(const struct in_addr *dns1, const struct in_addr *dns2, const struct in_addr *resolvers,
		     unsigned n_resolvers, struct dnat_plan *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!dns1)
		return;
	ret->drops = n_resolvers == 0;
	push_pair(ret, *dns1, ret->drops ? NULL : &resolvers[0]);
	if (dns2 && dns2->s_addr != dns1->s_addr)
		push_pair(ret, *dns2, ret->drops ? NULL : &resolvers[n_resolvers > 1 ? 1 : 0]);
}
