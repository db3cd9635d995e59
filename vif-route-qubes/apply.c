#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "apply_nat.h"
#include "config.h"
#include "conntrack.h"
#include "deadline.h"
#include "fw_antispoof.h"
#include "hooks.h"
#include "log.h"
#include "nftq.h"
#include "nl.h"
#include "phase.h"
#include "sysctl.h"
#include "util.h"
#include "xs.h"

/* What one executed action changed, so that a failed online can undo
 * exactly that and nothing that was there before it ran. */
struct done {
	bool changed;
	char old_value[32];               /* ACT_SYSCTL */
	struct fw_done *fw;               /* ACT_ANTISPOOF: the edits made */
	bool was_up;                      /* ACT_RENAME: taken down to rename */
	uint32_t old_group;               /* ACT_LINK (nftables) */
};

static bool missing_errno(int r)
{
	return r == -ENOENT || r == -ENODEV || r == -ESRCH || r == -EADDRNOTAVAIL;
}

/* A rollback gets this long of its own, whatever is left of the run's
 * time: undoing is quick, only hooks can take long. */
#define ROLLBACK_MS 5000

/* Waits for the xtables lock no longer than the run may last. */
static unsigned lock_ms(const struct apply_ctx *c)
{
	unsigned ms = ms_left(c->deadline, FW_LOCK_TIMEOUT_MS);

	return ms ? ms : 1;
}

/* --- one function per action type ---------------------------------------- */

static int do_rename(struct apply_ctx *c, struct done *d)
{
	const struct vif_input *in = c->plan->in;
	int r;

	if (!c->f.found_as_vif)
		return 0;
	/* Older kernels refuse to rename a running interface. */
	if (c->f.link_up) {
		r = nlr_link_set_up(c->nl, c->f.ifindex, false);
		if (r < 0)
			return r;
		c->f.link_up = false;
		d->was_up = true;
	}
	r = nlr_link_rename(c->nl, c->f.ifindex, in->ifname);
	/* The alias tells a later run that this vifname is ours. */
	if (r == 0) {
		r = nlr_link_set_alias(c->nl, c->f.ifindex, in->vif);
		if (r < 0)
			(void)nlr_link_rename(c->nl, c->f.ifindex, in->vif);
	}
	if (r < 0) {
		if (d->was_up && nlr_link_set_up(c->nl, c->f.ifindex, true) == 0)
			c->f.link_up = true;
		return r;
	}
	c->f.found_as_vif = false;
	d->changed = true;
	return 0;
}

static int do_sysctl(struct apply_ctx *c, const struct action *a, struct done *d)
{
	const char *ifn = c->plan->in->ifname;
	int r;

	if (a->remove) {
		if (c->f.ifindex == 0)
			return 0;
		r = sysctl_if_write(a->family, ifn, a->key, a->value);
		return missing_errno(r) ? 0 : r;
	}
	r = sysctl_if_read(a->family, ifn, a->key, d->old_value, sizeof(d->old_value));
	if (r < 0)
		return r;
	if (streq(d->old_value, a->value))
		return 0;
	r = sysctl_if_write(a->family, ifn, a->key, a->value);
	if (r < 0)
		return r;
	d->changed = true;
	return 0;
}

static int do_antispoof(struct apply_ctx *c, const struct action *a, struct done *d)
{
	const struct plan *p = c->plan;
	const char *detail = NULL;
	int r;

	if (a->remove)
		r = fw_antispoof_remove(c->fw, a->family, p->in->ifname, p->addrs, p->n_addrs, lock_ms(c));
	else
		r = fw_antispoof_ensure(c->fw, a->family, p->in->ifname, p->addrs, p->n_addrs, lock_ms(c), &d->fw,
					&detail);
	if (r < 0) {
		if (detail)
			snprintf(c->detail, sizeof(c->detail), "%s", detail);
		return r;
	}
	d->changed = !a->remove && r > 0;
	return 0;
}

static int do_ct_purge(struct apply_ctx *c)
{
	const struct vif_input *in = c->plan->in;
	unsigned n = 0;
	int r;

	r = ct_purge_addrs(in->addrs, in->n_addrs, &n);
	if (r == -EOPNOTSUPP || r == -EPROTONOSUPPORT || r == -EAFNOSUPPORT) {
		log_debug_errno(r, "no connection tracking in this kernel, nothing to purge");
		return 0;
	}
	if (n > 0)
		log_debug("purged %u conntrack entries", n);
	return r;
}

static int do_neigh(struct apply_ctx *c, const struct action *a, struct done *d)
{
	const struct vif_input *in = c->plan->in;
	struct mac_addr cur;
	bool permanent;
	int r;

	if (a->remove) {
		if (c->f.ifindex == 0)
			return 0;
		r = nlr_neigh_del(c->nl, c->f.ifindex, &a->addr);
		return missing_errno(r) ? 0 : r;
	}
	r = nlr_neigh_add(c->nl, c->f.ifindex, &a->addr, &in->mac, false);
	if (r == 0) {
		d->changed = true;
		return 0;
	}
	if (r != -EEXIST)
		return r;
	r = nlr_neigh_get(c->nl, c->f.ifindex, &a->addr, &cur, &permanent);
	if (r == 0 && permanent && memcmp(&cur, &in->mac, sizeof(cur)) == 0)
		return 0;
	/* A stale entry (another MAC, or learned): ours replaces it. What it
	 * was is not worth restoring on rollback. */
	return nlr_neigh_add(c->nl, c->f.ifindex, &a->addr, &in->mac, true);
}

/* nftables generation: a client vif is interface group 2 (what the base
 * ruleset's antispoof and forward chains match), set in the same request
 * that brings it up; offline puts it back in the default group. */
#define CLIENT_GROUP 2

static int set_link(struct apply_ctx *c, bool up, uint32_t group)
{
	if (c->f.fw == FW_NFTABLES)
		return nlr_link_set_state(c->nl, c->f.ifindex, up, group);
	return nlr_link_set_up(c->nl, c->f.ifindex, up);
}

static int do_link(struct apply_ctx *c, const struct action *a, struct done *d)
{
	bool nft = c->f.fw == FW_NFTABLES;
	int r;

	if (a->remove) {
		if (c->f.ifindex == 0)
			return 0;
		r = set_link(c, false, 0);
		return missing_errno(r) ? 0 : r;
	}
	if (c->f.link_up && (!nft || c->f.group == CLIENT_GROUP))
		return 0;
	d->old_group = c->f.group;
	d->was_up = c->f.link_up;
	r = set_link(c, true, CLIENT_GROUP);
	if (r < 0)
		return r;
	c->f.link_up = true;
	c->f.group = CLIENT_GROUP;
	d->changed = true;
	return 0;
}

static int do_accel(struct apply_ctx *c)
{
	int r = fw_accel_recreate(c->fw, c->nl);

	if (r == -EOPNOTSUPP) {
		log_debug("no flowtable support in this kernel: flow offload (table inet qubes-nat-accel) skipped");
		return 0;
	}
	/* Only an acceleration: the vif works without it. */
	if (r < 0)
		log_warning_errno(r, "cannot recreate table inet qubes-nat-accel, ignoring");
	return 0;
}

static int do_route(struct apply_ctx *c, const struct action *a, struct done *d)
{
	uint32_t metric = c->plan->in->metric;
	char buf[IP_ADDR_STRLEN];
	int r;

	if (a->remove) {
		if (c->f.ifindex == 0)
			return 0;
		r = nlr_route_del(c->nl, c->f.ifindex, &a->addr, metric);
		return missing_errno(r) ? 0 : r;
	}
	r = nlr_route_add(c->nl, c->f.ifindex, &a->addr, metric);
	if (r == -EEXIST) {
		/* The kernel's route key has no device: the existing route may
		 * lead elsewhere, and then this client would be unreachable. */
		r = nlr_route_exists(c->nl, c->f.ifindex, &a->addr, metric);
		if (r < 0)
			return r;
		if (r > 0)
			return 0;
		{
			char other[IF_NAMESIZE];
			int oif = 0;
			bool named = nlr_route_oif(c->nl, &a->addr, metric, &oif) == 0 &&
				     if_indextoname((unsigned)oif, other);

			snprintf(c->detail, sizeof(c->detail), "a route to %s with metric %u exists via %s",
				 ip_addr_to_string(&a->addr, buf), metric, named ? other : "another interface");
		}
		return -EEXIST;
	}
	d->changed = r == 0;
	return r;
}

static int do_addr(struct apply_ctx *c, const struct action *a, struct done *d)
{
	int r;

	if (a->remove) {
		if (c->f.ifindex == 0)
			return 0;
		r = nlr_addr_del(c->nl, c->f.ifindex, &a->addr);
		return missing_errno(r) ? 0 : r;
	}
	r = nlr_addr_add(c->nl, c->f.ifindex, &a->addr);
	if (r == -EEXIST)
		return 0;
	d->changed = r == 0;
	return r;
}

static int do_hook(struct apply_ctx *c, const struct action *a, bool offline, uint64_t deadline, struct done *d)
{
	const struct vif_input *in = c->plan->in;
	char buf[IP_ADDR_STRLEN];
	int r;

	r = hooks_run(c->hooks_dir, offline ? "offline" : "online", in->ifname, in->type,
		      a->has_addr ? ip_addr_to_string(&a->addr, buf) : NULL, deadline, c->hook_timeout_ms);
	if (d)
		/* Hooks that ran may have set something up, even the one
		 * killed at the deadline: undo tells them all. */
		d->changed = r != 0;
	if (r == -ETIMEDOUT) {
		snprintf(c->detail, sizeof(c->detail), "a hook was still running when the run's time limit was up");
		return r;
	}
	if (r < 0)
		log_warning_errno(r, "cannot read network hooks directory '%s', ignoring", c->hooks_dir);
	return 0;
}

static int do_xs_status(struct apply_ctx *c)
{
	int r = xsh_hotplug_report(c->xs, c->plan->in->xenbus_path, "connected", NULL);

	if (r == -ENOENT)
		snprintf(c->detail, sizeof(c->detail), "the backend directory is gone (the toolstack removed it)");
	return r;
}

/* The benchmark's breakdown (phase.h) of a step. */
static const enum phase action_phase[_ACT_MAX] = {
	[ACT_RENAME] = PHASE_NETLINK, [ACT_SYSCTL] = PHASE_SYSCTL,       [ACT_ANTISPOOF] = PHASE_FIREWALL,
	[ACT_CT_PURGE] = PHASE_CONNTRACK, [ACT_NEIGH] = PHASE_NETLINK,   [ACT_LINK] = PHASE_NETLINK,
	[ACT_ROUTE] = PHASE_NETLINK,  [ACT_HOOK] = PHASE_HOOKS,          [ACT_ADDR] = PHASE_NETLINK,
	[ACT_XS_STATUS] = PHASE_REPORT, [ACT_SKIP] = PHASE_LOG,         [ACT_ACCEL] = PHASE_FLOWTABLE,
	[ACT_NAT_NS] = PHASE_NAT,     [ACT_NAT_MOVE] = PHASE_NAT,        [ACT_NAT_VETH] = PHASE_NAT,
	[ACT_NAT_CONF] = PHASE_NAT,   [ACT_NAT_TABLE] = PHASE_NAT,       [ACT_NAT_REMOVE] = PHASE_NAT,
};

static int do_action(struct apply_ctx *c, const struct action *a, struct done *d)
{
	if (a->type < _ACT_MAX)
		phase_mark(action_phase[a->type]);
	switch (a->type) {
	case ACT_RENAME:
		return do_rename(c, d);
	case ACT_SYSCTL:
		return do_sysctl(c, a, d);
	case ACT_ANTISPOOF:
		return do_antispoof(c, a, d);
	case ACT_CT_PURGE:
		return do_ct_purge(c);
	case ACT_NEIGH:
		return do_neigh(c, a, d);
	case ACT_LINK:
		return do_link(c, a, d);
	case ACT_ROUTE:
		return do_route(c, a, d);
	case ACT_HOOK:
		return do_hook(c, a, a->remove, c->deadline, d);
	case ACT_ADDR:
		return do_addr(c, a, d);
	case ACT_XS_STATUS:
		return do_xs_status(c);
	case ACT_SKIP:
		log_error("%s", a->note);
		return 0;
	case ACT_ACCEL:
		return do_accel(c);
	case ACT_NAT_NS:
	case ACT_NAT_MOVE:
	case ACT_NAT_VETH:
	case ACT_NAT_CONF:
	case ACT_NAT_TABLE:
	case ACT_NAT_REMOVE:
		return nat_do(c, a, &d->changed);
	default:
		return -EINVAL;
	}
}

/* --- rollback ------------------------------------------------------------ */

static int undo_action(struct apply_ctx *c, const struct action *a, struct done *d, uint64_t deadline)
{
	const struct vif_input *in = c->plan->in;

	switch (a->type) {
	case ACT_RENAME: {
		int r = nlr_link_set_alias(c->nl, c->f.ifindex, "");

		if (r == 0)
			r = nlr_link_rename(c->nl, c->f.ifindex, in->vif);

		if (r < 0 || !d->was_up)
			return r;
		return nlr_link_set_up(c->nl, c->f.ifindex, true);
	}
	case ACT_SYSCTL:
		return sysctl_if_write(a->family, in->ifname, a->key, d->old_value);
	case ACT_ANTISPOOF: {
		int r = fw_antispoof_undo(c->fw, a->family, in->ifname, d->fw, lock_ms(c));
		return r < 0 ? r : 0;
	}
	case ACT_NEIGH:
		return nlr_neigh_del(c->nl, c->f.ifindex, &a->addr);
	case ACT_LINK: {
		int r = set_link(c, d->was_up, d->old_group);

		if (r == 0) {
			c->f.link_up = d->was_up;
			c->f.group = d->old_group;
		}
		return r;
	}
	case ACT_ROUTE:
		return nlr_route_del(c->nl, c->f.ifindex, &a->addr, in->metric);
	case ACT_ADDR:
		return nlr_addr_del(c->nl, c->f.ifindex, &a->addr);
	case ACT_HOOK:
		/* Tell the hooks that what they set up for this address is gone. */
		return do_hook(c, a, true, deadline, NULL);
	case ACT_NAT_NS:
	case ACT_NAT_MOVE:
	case ACT_NAT_VETH:
		return nat_undo(c, a);
	default:
		return 0;
	}
}

static void rollback(struct apply_ctx *c, struct done *done, unsigned upto)
{
	uint64_t deadline = now_ms() + ROLLBACK_MS;
	char buf[512];

	for (unsigned i = upto; i-- > 0;) {
		const struct action *a = &c->plan->actions[i];
		int r;

		if (!done[i].changed)
			continue;
		r = undo_action(c, a, &done[i], deadline);
		if (r < 0 && !missing_errno(r))
			log_warning_errno(r, "rollback: undoing '%s' failed, ignoring",
					  action_describe(c->plan, a, buf, sizeof(buf)));
		else
			log_debug("rollback: undid '%s'", action_describe(c->plan, a, buf, sizeof(buf)));
	}
}

static int run_plan(struct apply_ctx *c, struct done *done)
{
	const struct plan *p = c->plan;
	char buf[512];

	for (unsigned i = 0; i < p->n; i++) {
		const struct action *a = &p->actions[i];
		int r;

		log_debug("%s", action_describe(p, a, buf, sizeof(buf)));
#if ENABLE_FAULT_INJECTION
		if ((int)i == c->fault_step) {
			r = log_error_errno(SYNTHETIC_ERRNO(EIO), "%s: injected fault (step %u)",
					    action_describe(p, a, buf, sizeof(buf)), i);
			rollback(c, done, i);
			return r;
		}
#endif
		if (p->cmd == VIF_CMD_ONLINE && deadline_passed(c->deadline)) {
			snprintf(c->detail, sizeof(c->detail), "the run's time limit was up before this step");
			r = -ETIMEDOUT;
		} else
			r = do_action(c, a, &done[i]);
		if (r >= 0)
			continue;
		if (p->cmd == VIF_CMD_ONLINE) {
			if (c->detail[0])
				r = log_error_errno(SYNTHETIC_ERRNO(errno_from_synthetic(r)), "%s: %s",
						    action_describe(p, a, buf, sizeof(buf)), c->detail);
			else
				r = log_error_errno(r, "%s", action_describe(p, a, buf, sizeof(buf)));
			/* A step that failed half-way (hooks cut off by the
			 * deadline) is undone with the rest. */
			rollback(c, done, done[i].changed ? i + 1 : i);
			return r;
		}
		/* offline never stops at a piece it cannot remove. */
		log_warning_errno(r, "%s, ignoring", action_describe(p, a, buf, sizeof(buf)));
	}
	return 0;
}

int apply_plan(struct apply_ctx *c)
{
	struct done *done = calloc(c->plan->n, sizeof(*done));
	int r;

	if (!done)
		return log_error_errno(-ENOMEM, "out of memory");
	r = run_plan(c, done);
	for (unsigned i = 0; i < c->plan->n; i++)
		fw_done_free(done[i].fw);
	free(done);
	return r;
}

/* The translation rules themselves, under their step. */
static void print_nat_table(const struct vif_input *in)
{
	struct nftq_nat_item items[NFTQ_NAT_ITEMS];
	struct nftq_nat m = {};

	snprintf(m.vif, sizeof(m.vif), "%s", in->ifname);
	snprintf(m.peer, sizeof(m.peer), "%.*s%s", (int)(IFNAME_MAX - 1 - strlen(NAT_PEER_SUFFIX)), in->ifname,
		 NAT_PEER_SUFFIX);
	memcpy(&m.real, in->nat_real.bytes, 4);
	memcpy(&m.visible, in->visible_ip.bytes, 4);
	memcpy(m.mac, in->mac.b, sizeof(m.mac));
	nftq_nat_describe(&m, items);
	for (size_t i = 0; i < NFTQ_NAT_ITEMS; i++)
		printf("      %s\n", items[i].what);
}

void apply_print_dry_run(const struct plan *p)
{
	char buf[1024];

	for (unsigned i = 0; i < p->n; i++) {
		printf("%2u  %s\n", i, action_describe(p, &p->actions[i], buf, sizeof(buf)));
		if (p->actions[i].type == ACT_NAT_TABLE)
			print_nat_table(p->in);
	}
}
