/* fuzz-toolstack-keys: everything vif-route-qubes takes from the toolstack
 * (vif-route-qubes/input.c): the $vif name and $XENBUS_PATH
 * (vif_input_from_env), then the backend's xenstore keys ip, mac, type,
 * vifname and the domain's gateway, gateway6, harden, visible-ip,
 * visible-gateway (vif_input_from_store, the whole validation).
 *
 * Input: NUL-separated fields in that order: command, vif, XENBUS_PATH,
 * ip, mac, type, vifname, gateway, gateway6, harden, visible-ip,
 * visible-gateway ("\x7f" or a missing field: the key is absent).
 *
 * What is accepted must be valid and round-trip: the vif name and the path
 * parse again to the same domid/devid; every address is a unicast host
 * address, printed and parsed back equal, no two equal, at most
 * VIF_MAX_ADDRS; a MAC only with addresses, printed back exactly as given;
 * the type and the interface name are clean and short; gateways of the
 * right family; NAT mode as fuzz-mapped-ip checks it in detail. Any broken
 * invariant abort()s. Logging is off; no state outlives one input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz-split.h"
#include "input.h"
#include "log.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { F_CMD, F_VIF, F_PATH, F_IP, F_MAC, F_TYPE, F_VIFNAME, F_GW, F_GW6, F_HARDEN, F_VIP, F_VGW, F_N };

static void check_addr_roundtrip(const struct ip_addr *a)
{
	char buf[IP_ADDR_STRLEN];
	struct ip_addr back;

	if (a->family != AF_INET && a->family != AF_INET6)
		abort();
	if (ip_addr_parse(ip_addr_to_string(a, buf), a->family, &back) < 0 || !ip_addr_equal(a, &back))
		abort();
}

static void check_env(const struct vif_input *in, const char *vif, const char *path)
{
	unsigned domid, devid;

	if (!streq(in->vif, vif) || !streq(in->ifname, vif) || !streq(in->xenbus_path, path))
		abort();
	if (vif_name_parse(in->vif, &domid, &devid) < 0 || domid != in->domid || devid != in->devid)
		abort();
	if (xenbus_path_parse(in->xenbus_path, &domid, &devid) < 0 || domid != in->domid || devid != in->devid)
		abort();
	if (in->domid > VIF_MAX_DOMID || in->devid > VIF_MAX_DEVID || in->metric != VIF_MAX_DOMID - in->domid)
		abort();
	if (!ifname_is_valid(in->vif))
		abort();
}

static void check_store(const struct vif_input *in, char **f)
{
	if (in->n_addrs > VIF_MAX_ADDRS)
		abort();
	for (unsigned i = 0; i < in->n_addrs; i++) {
		check_addr_roundtrip(&in->addrs[i]);
		if (!ip_addr_is_unicast_host(&in->addrs[i]))
			abort();
		for (unsigned j = 0; j < i; j++)
			if (ip_addr_equal(&in->addrs[i], &in->addrs[j]))
				abort();
	}
	if (in->n_addrs > 0 && !in->has_mac && !in->nat)
		abort();
	if (in->has_mac) {
		char buf[18];
		struct mac_addr back;

		if (!f[F_MAC] || !streq(mac_to_string(&in->mac, buf), f[F_MAC]))
			abort();
		if (mac_parse(buf, &back) < 0 || memcmp(&back, &in->mac, sizeof(back)) != 0)
			abort();
		if ((in->mac.b[0] & 1) || !memcmp(in->mac.b, (uint8_t[6]){ 0 }, 6))
			abort(); /* unicast, non-zero */
	}
	if (strlen(in->type) == 0 || strlen(in->type) >= VIF_TYPE_MAX ||
	    strspn(in->type, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(in->type))
		abort();
	if (f[F_TYPE] && *f[F_TYPE] ? !streq(in->type, f[F_TYPE]) : !streq(in->type, "vif"))
		abort();
	if (!ifname_is_valid(in->ifname) || !startswith(in->ifname, "vif"))
		abort();
	if (in->rename != !streq(in->ifname, in->vif))
		abort();
	if (in->rename && vif_name_parse(in->ifname, NULL, NULL) == 0)
		abort(); /* never another Xen vif's name */
	if (in->has_gateway) {
		check_addr_roundtrip(&in->gateway);
		if (in->gateway.family != AF_INET || !ip_addr_is_unicast_host(&in->gateway))
			abort();
	}
	if (in->has_gateway6) {
		check_addr_roundtrip(&in->gateway6);
		if (in->gateway6.family != AF_INET6 || ip_addr_is_loopback(&in->gateway6))
			abort();
	}
	if (in->n_addrs > 0 && !in->has_gateway)
		abort(); /* a client with addresses needs its gateway */
	if (in->harden != !(f[F_HARDEN] && (streq(f[F_HARDEN], "") || streq(f[F_HARDEN], "0"))))
		abort();
	if (in->nat) {
		if (in->has_gateway6 || in->n_addrs == 0 || !ip_addr_equal(&in->nat_real, &in->addrs[0]))
			abort();
		for (unsigned i = 0; i < in->n_addrs; i++)
			if (in->addrs[i].family != AF_INET)
				abort();
		if (ip_addr_equal(&in->visible_ip, &in->nat_real) || ip_addr_equal(&in->visible_gateway, &in->nat_real) ||
		    ip_addr_equal(&in->visible_ip, &in->visible_gateway))
			abort();
		if (strlen(in->ifname) + strlen(NAT_PEER_SUFFIX) >= IFNAME_MAX)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[F_N];
	struct vif_input in = {};
	struct vif_store s = {};
	size_t rest;

	log_set_max_level(-1);
	log_reset_last_error();
	fuzz_split(data, size, f, F_N, &rest);

	if (!f[F_CMD] || vif_cmd_from_string(f[F_CMD], &in.cmd) < 0)
		in.cmd = VIF_CMD_ONLINE;
	else if (!streq(vif_cmd_to_string(in.cmd), f[F_CMD]))
		abort();

	if (vif_input_from_env(f[F_VIF], f[F_PATH], &in) < 0) {
		if (!log_last_error())
			abort(); /* every refusal says why */
		goto out;
	}
	check_env(&in, f[F_VIF], f[F_PATH]);

	s.ip = f[F_IP];
	s.mac = f[F_MAC];
	s.type = f[F_TYPE];
	s.vifname = f[F_VIFNAME];
	s.gateway = f[F_GW];
	s.gateway6 = f[F_GW6];
	s.harden = f[F_HARDEN];
	s.visible_ip = f[F_VIP];
	s.visible_gateway = f[F_VGW];
	if (vif_input_from_store(&s, &in) < 0) {
		if (!log_last_error())
			abort();
		goto out;
	}
	check_store(&in, f);
out:
	log_reset_last_error();
	fuzz_fields_free(f, F_N);
	return 0;
}
