#include "antispoof_ipt.h"
#include "util.h"

static const char chain[] = "PREROUTING";

enum mode { ENSURE, UNDO, REMOVE };

struct job {
	enum mode mode;
	int family;
	const char *ifname;
	const struct ip_addr *addrs; /* ENSURE: the client's; REMOVE: hint */
	unsigned n_addrs;
	const struct antispoof_ops *done; /* UNDO */
	struct antispoof_ops ops;         /* the edits of the last attempt */
};

static int run_ops(struct ipt_table *t, const struct antispoof_ops *ops)
{
	for (size_t i = 0; i < ops->n; i++) {
		const struct antispoof_op *o = &ops->op[i];
		int r;

		r = o->insert ? ipt_drop_insert(t, chain, &o->rule, o->pos) : ipt_drop_delete(t, chain, &o->rule);
		if (r < 0)
			return r;
	}
	return (int)ops->n;
}

/* Planned afresh on every attempt: a retry starts from the table as it is. */
static int edit(struct ipt_table *t, void *userdata)
{
	struct job *j = userdata;
	_cleanup_free_ struct ipt_rule_view *rules = NULL;
	size_t n = 0;
	int r;

	antispoof_ops_done(&j->ops);
	r = ipt_chain_rules(t, chain, &rules, &n);
	if (r < 0)
		return r;
	switch (j->mode) {
	case ENSURE:
		r = antispoof_plan_ensure(rules, n, j->family, j->ifname, j->addrs, j->n_addrs, &j->ops);
		break;
	case UNDO:
		r = antispoof_plan_undo(rules, n, j->ifname, j->done, &j->ops);
		break;
	case REMOVE:
		r = antispoof_plan_remove(rules, n, j->family, j->ifname, j->addrs, j->n_addrs, &j->ops);
		break;
	}
	if (r < 0)
		return r;
	return run_ops(t, &j->ops);
}

static int run(struct job *j, unsigned lock_timeout_ms)
{
	int r = ipt_transaction_timed(j->family, "raw", lock_timeout_ms, edit, j);

	if (r < 0)
		antispoof_ops_done(&j->ops);
	return r;
}

int ipt_antispoof_ensure(int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			 unsigned lock_timeout_ms, struct antispoof_ops *done)
{
	struct job j = { .mode = ENSURE, .family = family, .ifname = ifname, .addrs = addrs, .n_addrs = n_addrs };
	int r = run(&j, lock_timeout_ms);

	if (r >= 0 && done)
		*done = j.ops;
	else
		antispoof_ops_done(&j.ops);
	return r;
}

int ipt_antispoof_undo(int family, const char *ifname, const struct antispoof_ops *done, unsigned lock_timeout_ms)
{
	struct job j = { .mode = UNDO, .family = family, .ifname = ifname, .done = done };
	int r = run(&j, lock_timeout_ms);

	antispoof_ops_done(&j.ops);
	return r;
}

int ipt_antispoof_remove(int family, const char *ifname, const struct ip_addr *hint, unsigned n_hint,
			 unsigned lock_timeout_ms)
{
	struct job j = { .mode = REMOVE, .family = family, .ifname = ifname, .addrs = hint, .n_addrs = n_hint };
	int r = run(&j, lock_timeout_ms);

	antispoof_ops_done(&j.ops);
	return r;
}

struct snapshot {
	struct ipt_rule_view *rules;
	size_t n;
};

static int take_snapshot(struct ipt_table *t, void *userdata)
{
	struct snapshot *s = userdata;
	int r = ipt_chain_rules(t, chain, &s->rules, &s->n);

	return r < 0 ? r : 0;
}

int ipt_antispoof_rules(int family, struct ipt_rule_view **ret, size_t *ret_n)
{
	struct snapshot s = {};
	int r = ipt_read(family, "raw", take_snapshot, &s);

	if (r < 0)
		return r;
	*ret = s.rules;
	*ret_n = s.n;
	return 0;
}
