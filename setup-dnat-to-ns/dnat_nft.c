#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dnat_nft.h"

_Static_assert(NFTQ_DNS_MAX_RULES <= DNAT_VIEW_MAX, "a dry run shows every rule nftq_dns_read decodes");
_Static_assert(DNAT_NFT_MAX_RULES <= NFTQ_DNS_MAX_RULES, "nftq_dns_sync takes every rule of a plan");

unsigned dnat_nft_rules(const struct dnat_plan *p, struct nftq_dns_rule ret[DNAT_NFT_MAX_RULES])
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->n; i++)
		for (unsigned k = 0; k < DNAT_N_PROTOS; k++)
			ret[n++] = (struct nftq_dns_rule){
				.dst = p->pairs[i].dst,
				.proto = dnat_protos[k],
				.drop = p->pairs[i].drop,
				.to = p->pairs[i].drop ? (struct in_addr){ 0 } : p->pairs[i].to,
			};
	return n;
}

const char *dnat_nft_rule_to_string(const struct nftq_dns_rule *r, char *buf, size_t len)
{
	char dst[INET_ADDRSTRLEN], to[INET_ADDRSTRLEN];
	const char *proto = r->proto == IPPROTO_UDP ? "udp" : r->proto == IPPROTO_TCP ? "tcp" : "?";

	inet_ntop(AF_INET, &r->dst, dst, sizeof(dst));
	inet_ntop(AF_INET, &r->to, to, sizeof(to));
	if (r->drop)
		snprintf(buf, len, "ip daddr %s %s dport %d drop", dst, proto, DNAT_PORT);
	else
		snprintf(buf, len, "ip daddr %s %s dport %d dnat to %s", dst, proto, DNAT_PORT, to);
	return buf;
}

static int fill_view(struct nftq *q, const struct nftq_dns_rule *want, unsigned n_want, struct dnat_view *v)
{
	struct nftq_dns_state st;
	int r;

	*v = (struct dnat_view){ .n_want = n_want };
	for (unsigned i = 0; i < n_want; i++)
		dnat_nft_rule_to_string(&want[i], v->want[i], sizeof(v->want[i]));
	r = nftq_dns_read(q, &st);
	if (r < 0)
		return r;
	v->exists = st.exists;
	v->n_cur = st.n < DNAT_VIEW_MAX ? st.n : DNAT_VIEW_MAX;
	for (unsigned i = 0; i < v->n_cur; i++)
		dnat_nft_rule_to_string(&st.rule[i], v->cur[i], sizeof(v->cur[i]));
	if (st.exists && !st.ok)
		snprintf(v->other, sizeof(v->other),
			 "rules of another shape, or not a chain of type nat, hook prerouting, priority dstnat, "
			 "policy accept");
	return 0;
}

int dnat_nft_apply(const struct dnat_plan *p, bool dry_run, enum dnat_result *ret, struct dnat_view *view)
{
	struct nftq_dns_rule want[DNAT_NFT_MAX_RULES];
	unsigned n = dnat_nft_rules(p, want);
	struct nftq *q = NULL;
	bool changed = false;
	int r;

	r = nftq_open(&q);
	if (r < 0)
		return r;
	if (dry_run && view)
		r = fill_view(q, want, n, view);
	if (r >= 0)
		r = nftq_dns_sync(q, want, n, dry_run, &changed);
	/* After a replace, this waits for the kernel to free the old chain. */
	nftq_close(q);
	if (r < 0)
		return r;
	*ret = changed ? DNAT_CHANGED : DNAT_UNCHANGED;
	return 0;
}
