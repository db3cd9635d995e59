#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "dnat_iptc.h"

unsigned dnat_iptc_rules(const struct dnat_plan *p, struct ipt_dnat_rule ret[DNAT_IPT_MAX_RULES])
{
	unsigned n = 0;

	for (unsigned i = 0; i < p->n; i++)
		for (unsigned k = 0; k < DNAT_N_PROTOS; k++) {
			struct ipt_dnat_rule *r = &ret[n++];

			/* Zeroed padding: rules may be compared with memcmp. */
			memset(r, 0, sizeof(*r));
			r->dst = p->pairs[i].dst;
			r->proto = dnat_protos[k];
			r->dport = DNAT_PORT;
			r->to = p->pairs[i].drop ? DNAT_IPT_DROP_TO : p->pairs[i].to;
		}
	return n;
}

bool dnat_iptc_matches(const struct ipt_dnat_rule *want, size_t n_want, const struct ipt_dnat_rule *cur,
		       size_t n_cur)
{
	if (n_cur != n_want)
		return false;
	/* Field by field: the padding byte carries nothing. */
	for (size_t i = 0; i < n_want; i++)
		if (want[i].dst.s_addr != cur[i].dst.s_addr || want[i].proto != cur[i].proto ||
		    want[i].dport != cur[i].dport || want[i].to.s_addr != cur[i].to.s_addr)
			return false;
	return true;
}

struct dnat_edit {
	struct ipt_dnat_rule want[DNAT_IPT_MAX_RULES];
	unsigned n_want;
	bool dry_run;
	bool differs;
};

static const char chain[] = DNAT_IPT_CHAIN;
static const char prerouting[] = "PREROUTING";

/* Called again from scratch when a concurrent replace forces a retry. */
static int dnat_edit(struct ipt_table *t, void *userdata)
{
	struct dnat_edit *e = userdata;
	struct ipt_dnat_rule cur[DNAT_IPT_MAX_RULES];
	size_t n_cur = 0;
	bool have_chain, have_jump = false, content_ok = false;
	int r;

	r = ipt_chain_exists(t, chain);
	if (r < 0)
		return r;
	have_chain = r > 0;
	if (have_chain) {
		r = ipt_jump_check(t, prerouting, chain);
		if (r < 0)
			return r;
		have_jump = r > 0;
		r = ipt_dnat_list(t, chain, cur, DNAT_IPT_MAX_RULES, &n_cur);
		if (r < 0 && r != -EBADMSG)
			return r;
		/* -EBADMSG: a rule of another shape sits in our chain. */
		content_ok = r >= 0 && dnat_iptc_matches(e->want, e->n_want, cur, n_cur);
	}
	e->differs = !have_chain || !have_jump || !content_ok;
	if (!e->differs || e->dry_run)
		return 0;

	if (!have_chain) {
		r = ipt_chain_create(t, chain);
		if (r < 0)
			return r;
	}
	if (!have_jump) {
		r = ipt_jump_append(t, prerouting, chain);
		if (r < 0)
			return r;
	}
	if (!content_ok) {
		/* Flush and refill in one handle: one commit replaces the old
		 * rules by the new, never neither nor both. */
		r = ipt_chain_flush(t, chain);
		if (r < 0)
			return r;
		for (unsigned i = 0; i < e->n_want; i++) {
			r = ipt_dnat_append(t, chain, &e->want[i]);
			if (r < 0)
				return r;
		}
	}
	return 1;
}

int dnat_iptc_apply(const struct dnat_plan *p, bool dry_run, enum dnat_result *ret)
{
	struct dnat_edit e = { .dry_run = dry_run };
	int r;

	e.n_want = dnat_iptc_rules(p, e.want);
	r = ipt_transaction(AF_INET, "nat", dnat_edit, &e);
	if (r < 0)
		return r;
	*ret = e.differs ? DNAT_CHANGED : DNAT_UNCHANGED;
	return 0;
}
