#include <errno.h>

#include "fw_antispoof.h"
#include "deadline.h"
#include "natns.h"
#include "nl.h"
#include "probe.h"
#include "sysctl.h"
#include "util.h"

static int find_link(struct nlr *nl, const struct vif_input *in, uint64_t deadline, struct vif_facts *f)
{
	unsigned pause = 1;

	for (;;) {
		struct nlr_link l;
		int r;

		r = nlr_link_get(nl, in->ifname, &l);
		f->found_as_vif = false;
		/* Under vifname, it is ours only if our own rename marked it:
		 * otherwise it is another vif, and configuring it would cut
		 * its client off. */
		if (r == 0 && in->rename && !streq(l.alias, in->vif))
			return -EEXIST;
		if (r == -ENODEV && in->rename) {
			r = nlr_link_get(nl, in->vif, &l);
			f->found_as_vif = r == 0;
		}
		if (r == 0) {
			f->ifindex = l.ifindex;
			f->link_up = l.up;
			f->group = l.group;
			return 0;
		}
		if (r != -ENODEV)
			return r;
		f->ifindex = 0;
		if (ms_left(deadline, 1) == 0)
			return -ENODEV;
		sleep_ms(pause);
		pause = pause < 50 ? pause * 2 : 50;
	}
}

int probe_vif(struct nlr *nl, const struct vif_input *in, uint64_t deadline, struct vif_facts *ret)
{
	struct vif_facts f = {};
	int r;

	r = find_link(nl, in, deadline, &f);
	if (r < 0 && r != -ENODEV)
		return r;
	f.ipv6_kernel = sysctl_ipv6_available();
	f.ipv6_disabled = f.ifindex == 0 || sysctl_ipv6_disabled(f.found_as_vif ? in->vif : in->ifname);
	*ret = f;
	return r;
}

int probe_claimed(struct fw *fw, const char *ifname, struct vif_facts *f)
{
	f->n_claimed = 0;
	return fw_antispoof_claimed(fw, ifname, f->ipv6_kernel, f->claimed, VIF_MAX_ADDRS, &f->n_claimed);
}

int probe_nat(struct natns *n, const char *ifname, struct vif_facts *f)
{
	struct nlr_link l;
	int r;

	f->nat_ns = natns_exists(n);
	f->nat_vif_inside = false;
	r = natns_link(n, ifname, &l);
	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	f->nat_vif_inside = true;
	return 0;
}
