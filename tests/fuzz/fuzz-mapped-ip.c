/* fuzz-mapped-ip: NAT mode's keys (vif-route-qubes/input.c, parse_nat
 * under vif_input_from_store): the client's address list and the
 * mapped-ip/<first IPv4>/visible-ip and visible-gateway keys dom0 writes,
 * with the vifname and gateway6 keys that also decide the outcome.
 *
 * Input: NUL-separated fields: ip, visible-ip, visible-gateway, vifname,
 * gateway6 ("\x7f" or a missing field: the key is absent). The vif
 * (vif5.0, backend/vif/5/0), its MAC and IPv4 gateway are fixed and valid.
 *
 * A small independent oracle, written from SPEC "NAT mode" rather than
 * from the code, says what must happen -- refused, an ordinary client, or
 * NAT mode -- and the result must agree: NAT mode only when the client has
 * an IPv4, visible-ip and visible-gateway are both unicast, non-loopback
 * IPv4 addresses, visible-ip is not the client's real (first IPv4)
 * address, the gateway is neither of them, and the interface name leaves
 * room for the "-p" peer; then the addresses kept are exactly the client's
 * IPv4 ones in order, no IPv6 gateway. Any disagreement abort()s. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz-split.h"
#include "input.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_IP, F_VIP, F_VGW, F_VIFNAME, F_GW6, F_N };

#define VIF "vif5.0"
#define XENBUS "backend/vif/5/0"

enum outcome { REFUSED, ORDINARY, NAT };

struct oracle {
	enum outcome outcome;
	struct ip_addr v4[VIF_MAX_ADDRS]; /* the client's IPv4 addresses, in order */
	unsigned n_v4, n_all;
	struct ip_addr vip, vgw;
};

static bool valid_v4(const char *s, struct ip_addr *ret)
{
	return ip_addr_parse(s, AF_INET, ret) == 0 && ip_addr_is_unicast_host(ret) && !ip_addr_is_loopback(ret);
}

/* The list: space-separated (runs of spaces are one), every token a
 * unicast host address, duplicates dropped, at most VIF_MAX_ADDRS. */
static bool list_ok(const char *ip, struct oracle *o)
{
	struct ip_addr all[VIF_MAX_ADDRS];
	const char *p = ip;

	while (p && *p) {
		char tok[128];
		size_t n;
		struct ip_addr a;
		bool dup = false;

		p += strspn(p, " ");
		n = strcspn(p, " ");
		if (n == 0)
			break;
		if (n >= sizeof(tok))
			return false;
		memcpy(tok, p, n);
		tok[n] = 0;
		p += n;
		if (ip_addr_parse(tok, AF_UNSPEC, &a) < 0 || !ip_addr_is_unicast_host(&a))
			return false;
		for (unsigned i = 0; i < o->n_all; i++)
			dup = dup || ip_addr_equal(&all[i], &a);
		if (dup)
			continue;
		if (o->n_all == VIF_MAX_ADDRS)
			return false;
		all[o->n_all++] = a;
		if (a.family == AF_INET)
			o->v4[o->n_v4++] = a;
	}
	return true;
}

static enum outcome predict(char **f, struct oracle *o)
{
	const char *ifname = f[F_VIFNAME] && *f[F_VIFNAME] ? f[F_VIFNAME] : VIF;
	struct ip_addr g6;

	if (f[F_IP] && !list_ok(f[F_IP], o))
		return REFUSED;
	if (f[F_VIFNAME] && *f[F_VIFNAME] &&
	    (!ifname_is_valid(ifname) || strncmp(ifname, "vif", 3) != 0 ||
	     (vif_name_parse(ifname, NULL, NULL) == 0 && strcmp(ifname, VIF) != 0)))
		return REFUSED;
	if (f[F_GW6] && *f[F_GW6] &&
	    (ip_addr_parse(f[F_GW6], AF_INET6, &g6) < 0 || ip_addr_is_loopback(&g6) ||
	     (!ip_addr_is_unicast_host(&g6) && !ip_addr_is_link_local(&g6))))
		return REFUSED;
	if (o->n_all == 0 || o->n_v4 == 0 || (!f[F_VIP] && !f[F_VGW]))
		return ORDINARY;
	if (f[F_VIP] && !valid_v4(f[F_VIP], &o->vip))
		return REFUSED;
	if (f[F_VGW] && !valid_v4(f[F_VGW], &o->vgw))
		return REFUSED;
	if (!f[F_VIP] || ip_addr_equal(&o->vip, &o->v4[0]))
		return ORDINARY;
	if (!f[F_VGW] || ip_addr_equal(&o->vgw, &o->vip) || ip_addr_equal(&o->vgw, &o->v4[0]))
		return REFUSED;
	if (strlen(ifname) + 2 >= IFNAME_MAX)
		return REFUSED;
	return NAT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[F_N];
	struct vif_input in = {};
	struct vif_store s = {};
	struct oracle o = {};
	size_t rest;
	int r;

	log_set_max_level(-1);
	log_reset_last_error();
	fuzz_split(data, size, f, F_N, &rest);
	o.outcome = predict(f, &o);

	in.cmd = VIF_CMD_ONLINE;
	if (vif_input_from_env(VIF, XENBUS, &in) < 0)
		abort();
	s.ip = f[F_IP];
	s.mac = (char *)"00:16:3e:5e:6c:09";
	s.gateway = (char *)"10.138.0.1";
	s.gateway6 = f[F_GW6];
	s.vifname = f[F_VIFNAME];
	s.visible_ip = f[F_VIP];
	s.visible_gateway = f[F_VGW];
	r = vif_input_from_store(&s, &in);

	if ((r < 0) != (o.outcome == REFUSED))
		abort();
	if (r < 0) {
		if (!log_last_error())
			abort();
		goto out;
	}
	if (in.nat != (o.outcome == NAT))
		abort();
	if (in.nat) {
		if (!ip_addr_equal(&in.nat_real, &o.v4[0]) || !ip_addr_equal(&in.visible_ip, &o.vip) ||
		    !ip_addr_equal(&in.visible_gateway, &o.vgw))
			abort();
		if (in.n_addrs != o.n_v4 || in.has_gateway6)
			abort();
		for (unsigned i = 0; i < in.n_addrs; i++)
			if (!ip_addr_equal(&in.addrs[i], &o.v4[i]))
				abort();
	} else if (in.n_addrs != o.n_all)
		abort();
out:
	log_reset_last_error();
	fuzz_fields_free(f, F_N);
	return 0;
}
