#include <sys/socket.h>

#include "dnat_apply.h"
#include "log.h"

struct dnat_edit {
	const struct dnat_plan *plan;
	bool dry_run;
	bool differs;
};

static const char chain[] = DNAT_CHAIN;
static const char prerouting[] = "PREROUTING";

/* Called again from scratch when a concurrent replace forces a retry. */
static int dnat_edit(struct ipt_table *t, void *userdata)
{
	struct dnat_edit *e = userdata;
	struct ipt_dnat_rule cur[DNAT_MAX_RULES];
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
		r = ipt_dnat_list(t, chain, cur, DNAT_MAX_RULES, &n_cur);
		if (r < 0 && r != -EBADMSG)
			return r;
		/* -EBADMSG: a rule of another shape sits in our chain. */
		content_ok = r >= 0 && dnat_plan_matches(e->plan, cur, n_cur);
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
		for (unsigned i = 0; i < e->plan->n; i++) {
			r = ipt_dnat_append(t, chain, &e->plan->rules[i]);
			if (r < 0)
				return r;
		}
	}
	return 1;
}

int dnat_apply(const struct dnat_plan *p, bool dry_run, enum dnat_result *ret)
{
	struct dnat_edit e = { .plan = p, .dry_run = dry_run };
	int r;

	r = ipt_transaction(AF_INET, "nat", dnat_edit, &e);
	if (r < 0)
		return r;
	*ret = e.differs ? DNAT_CHANGED : DNAT_UNCHANGED;
	return 0;
}
