#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "dnat_iptc.h"

_Static_assert(DNAT_IPT_MAX_RULES <= DNAT_VIEW_MAX, "a dry run shows every rule of a plan");

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

const char *dnat_iptc_rule_to_string(const struct ipt_dnat_rule *r, char *buf, size_t len)
{
	char rule[DNAT_LINE_MAX];

	snprintf(buf, len, "-A %s %s", DNAT_IPT_CHAIN, ipt_dnat_rule_to_string(r, rule, sizeof(rule)));
	return buf;
}

struct dnat_edit {
	struct ipt_dnat_rule want[DNAT_IPT_MAX_RULES];
	unsigned n_want;
	bool dry_run;
	bool differs;
	struct dnat_view *view; /* NULL: none wanted */
};

/* What the chain holds, for a dry run. n_cur: its number of rules; bad:
 * not all of them are of our shape (cur is then not to be trusted). */
static void view_record(struct dnat_view *v, bool have_chain, bool have_jump, const struct ipt_dnat_rule *cur,
			size_t n_cur, bool bad)
{
	v->exists = have_chain;
	v->n_cur = 0;
	v->other[0] = 0;
	if (!have_chain)
		return;
	if (bad)
		snprintf(v->other, sizeof(v->other), "%zu rule(s), not all of them of this shape", n_cur);
	else {
		/* ipt_dnat_list wrote at most DNAT_IPT_MAX_RULES of them */
		v->n_cur = n_cur < DNAT_IPT_MAX_RULES ? (unsigned)n_cur : DNAT_IPT_MAX_RULES;
		for (unsigned i = 0; i < v->n_cur; i++)
			dnat_iptc_rule_to_string(&cur[i], v->cur[i], sizeof(v->cur[i]));
		if (n_cur > DNAT_IPT_MAX_RULES)
			snprintf(v->other, sizeof(v->other), "%zu rules in all", n_cur);
	}
	if (!have_jump)
		snprintf(v->other + strlen(v->other), sizeof(v->other) - strlen(v->other), "%sno -A PREROUTING -j %s",
			 v->other[0] ? "; " : "", DNAT_IPT_CHAIN);
}

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
	if (e->view)
		view_record(e->view, have_chain, have_jump, cur, n_cur, r == -EBADMSG);
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

int dnat_iptc_apply(const struct dnat_plan *p, bool dry_run, enum dnat_result *ret, struct dnat_view *view)
{
	struct dnat_edit e = { .dry_run = dry_run, .view = dry_run ? view : NULL };
	int r;

	e.n_want = dnat_iptc_rules(p, e.want);
	if (e.view) {
		*view = (struct dnat_view){ .n_want = e.n_want };
		for (unsigned i = 0; i < e.n_want; i++)
			dnat_iptc_rule_to_string(&e.want[i], view->want[i], sizeof(view->want[i]));
	}
	r = ipt_transaction(AF_INET, "nat", dnat_edit, &e);
	if (r < 0)
		return r;
	*ret = e.differs ? DNAT_CHANGED : DNAT_UNCHANGED;
	return 0;
}
