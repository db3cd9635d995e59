#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "deadline.h"
#include "input.h"
#include "log.h"
#include "util.h"
#include "xs.h"

static const char *const cmd_names[_VIF_CMD_MAX] = {
	[VIF_CMD_ONLINE] = "online",
	[VIF_CMD_OFFLINE] = "offline",
	[VIF_CMD_ADD] = "add",
	[VIF_CMD_REMOVE] = "remove",
	[VIF_CMD_STATUS] = "status",
};

int vif_cmd_from_string(const char *s, enum vif_cmd *ret)
{
	for (int i = 0; i < _VIF_CMD_MAX; i++)
		if (streq(s, cmd_names[i])) {
			*ret = (enum vif_cmd)i;
			return 0;
		}
	return -EINVAL;
}

const char *vif_cmd_to_string(enum vif_cmd c)
{
	return c < _VIF_CMD_MAX ? cmd_names[c] : "?";
}

/* Reads a decimal with no sign and no leading zero; advances *p. */
static int take_number(const char **p, unsigned *ret)
{
	const char *s = *p;
	unsigned long v = 0;
	int n = 0;

	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return -EINVAL;
	while (*s >= '0' && *s <= '9' && n < 11) {
		v = v * 10 + (unsigned long)(*s++ - '0');
		n++;
	}
	if (n == 0 || n == 11 || v > VIF_MAX_DEVID)
		return -EINVAL;
	*ret = (unsigned)v;
	*p = s;
	return 0;
}

int xenbus_path_parse(const char *path, unsigned *ret_domid, unsigned *ret_devid)
{
	const char *p = path;
	unsigned self, domid, devid;

	if (!p || strlen(p) >= XENBUS_PATH_MAX)
		return -EINVAL;
	if (startswith(p, "/local/domain/")) {
		p += strlen("/local/domain/");
		if (take_number(&p, &self) < 0 || *p++ != '/')
			return -EINVAL;
	}
	if (!startswith(p, "backend/vif/"))
		return -EINVAL;
	p += strlen("backend/vif/");
	if (take_number(&p, &domid) < 0 || *p++ != '/')
		return -EINVAL;
	if (take_number(&p, &devid) < 0 || *p)
		return -EINVAL;
	*ret_domid = domid;
	*ret_devid = devid;
	return 0;
}

int vif_input_from_env(const char *vif, const char *xenbus_path, struct vif_input *in)
{
	unsigned xb_domid, xb_devid;
	int r;

	if (!xenbus_path || !*xenbus_path)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "XENBUS_PATH is not set");
	if (xenbus_path_parse(xenbus_path, &xb_domid, &xb_devid) < 0)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "XENBUS_PATH '%.*s' is not backend/vif/DOMID/DEVID",
				       XENBUS_PATH_MAX, xenbus_path);

	if (!vif || !*vif)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "the vif environment variable is not set");
	r = vif_name_parse(vif, &in->domid, &in->devid);
	if (r == -ERANGE)
		return log_error_errno(SYNTHETIC_ERRNO(ERANGE), "bad interface name '%.*s': domid is over %d",
				       IFNAME_MAX, vif, VIF_MAX_DOMID);
	if (r < 0)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "bad interface name '%.*s': expected vifDOMID.DEVID", IFNAME_MAX, vif);
	if (in->domid != xb_domid || in->devid != xb_devid)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "interface '%s' does not belong to XENBUS_PATH '%s'",
				       vif, xenbus_path);

	/* Only now: hotplug results go to a backend directory that is
	 * certainly this vif's. */
	snprintf(in->xenbus_path, sizeof(in->xenbus_path), "%s", xenbus_path);
	snprintf(in->vif, sizeof(in->vif), "%s", vif);
	snprintf(in->ifname, sizeof(in->ifname), "%s", vif);
	in->metric = VIF_MAX_DOMID - in->domid;
	return 0;
}

static bool is_type_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static int parse_addrs(const char *value, const char *where, struct vif_input *in)
{
	_cleanup_free_ char *copy = strdup(value);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct ip_addr a;
		bool dup = false;

		if (ip_addr_parse(tok, AF_UNSPEC, &a) < 0)
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid address '%.64s' in %s", tok, where);
		if (!ip_addr_is_unicast_host(&a))
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
					       "address '%s' in %s is not a unicast host address", tok, where);
		for (unsigned i = 0; i < in->n_addrs; i++)
			dup = dup || ip_addr_equal(&in->addrs[i], &a);
		if (dup)
			continue;
		if (in->n_addrs == VIF_MAX_ADDRS)
			return log_error_errno(SYNTHETIC_ERRNO(E2BIG), "more than %d addresses in %s",
					       VIF_MAX_ADDRS, where);
		in->addrs[in->n_addrs++] = a;
	}
	return 0;
}

static int parse_gateway(const char *value, int family, const char *key, struct ip_addr *ret)
{
	if (ip_addr_parse(value, family, ret) < 0)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid %s '%.64s'", key, value);
	if (ip_addr_is_loopback(ret) || (family == AF_INET && !ip_addr_is_unicast_host(ret)) ||
	    (family == AF_INET6 && !ip_addr_is_unicast_host(ret) && !ip_addr_is_link_local(ret)))
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s '%s' is not a unicast address", key, value);
	return 0;
}

/* The gateways: required is whether a client address needs one. Present
 * values are validated either way (offline removes them). */
static int parse_gateways(const struct vif_store *s, struct vif_input *in, bool required)
{
	int r;

	const char *gw = s->gateway_name[0] ? s->gateway_name : "qubes-netvm-gateway";
	const char *gw6 = s->gateway6_name[0] ? s->gateway6_name : "qubes-netvm-gateway6";

	if (!s->gateway || !*s->gateway) {
		if (required)
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s is missing", gw);
	} else {
		r = parse_gateway(s->gateway, AF_INET, gw, &in->gateway);
		if (r < 0)
			return r;
		in->has_gateway = true;
	}

	if (s->gateway6 && *s->gateway6) {
		r = parse_gateway(s->gateway6, AF_INET6, gw6, &in->gateway6);
		if (r < 0)
			return r;
		in->has_gateway6 = true;
	}
	return 0;
}

/* NAT mode, from the mapped-ip keys of the client's first IPv4 (dom0
 * writes them for every client; visible-ip equal to the real address is
 * an ordinary client). Values that are there are checked either way. */
static int parse_nat(const struct vif_store *s, struct vif_input *in)
{
	const char *vip = s->visible_ip_name[0] ? s->visible_ip_name : "visible-ip";
	const char *vgw = s->visible_gateway_name[0] ? s->visible_gateway_name : "visible-gateway";
	const struct ip_addr *real = NULL;
	unsigned n = 0;

	for (unsigned i = 0; i < in->n_addrs && !real; i++)
		if (in->addrs[i].family == AF_INET)
			real = &in->addrs[i];
	if (!real || (!s->visible_ip && !s->visible_gateway))
		return 0;

	if (s->visible_ip) {
		if (ip_addr_parse(s->visible_ip, AF_INET, &in->visible_ip) < 0 ||
		    !ip_addr_is_unicast_host(&in->visible_ip) || ip_addr_is_loopback(&in->visible_ip))
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s '%.64s' is not a unicast IPv4 address", vip,
					       s->visible_ip);
	}
	if (s->visible_gateway) {
		if (ip_addr_parse(s->visible_gateway, AF_INET, &in->visible_gateway) < 0 ||
		    !ip_addr_is_unicast_host(&in->visible_gateway) || ip_addr_is_loopback(&in->visible_gateway))
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s '%.64s' is not a unicast IPv4 address", vgw,
					       s->visible_gateway);
	}
	if (!s->visible_ip || ip_addr_equal(&in->visible_ip, real))
		return 0; /* an ordinary client */

	if (!s->visible_gateway)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "%s is %s, not the client's address, but %s is missing: cannot set up NAT mode",
				       vip, s->visible_ip, vgw);
	if (ip_addr_equal(&in->visible_gateway, &in->visible_ip))
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s equals %s (%s): the client cannot be its own gateway",
				       vgw, vip, s->visible_ip);
	if (ip_addr_equal(&in->visible_gateway, real))
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "%s equals the client's real address %s: both live in its NAT namespace", vgw,
				       s->visible_gateway);
	if (strlen(in->ifname) + strlen(NAT_PEER_SUFFIX) >= IFNAME_MAX)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "NAT mode needs an interface name of at most %zu characters (for %s%s), not '%s'",
				       IFNAME_MAX - 1 - strlen(NAT_PEER_SUFFIX), in->ifname, NAT_PEER_SUFFIX, in->ifname);

	in->nat = true;
	in->nat_real = *real;
	/* As Qubes: a client in NAT mode gets no IPv6. */
	for (unsigned i = 0; i < in->n_addrs; i++) {
		char buf[IP_ADDR_STRLEN];

		if (in->addrs[i].family == AF_INET) {
			in->addrs[n++] = in->addrs[i];
			continue;
		}
		/* Said once, when it is set up. */
		if (in->cmd == VIF_CMD_ONLINE)
			log_warning("NAT mode is IPv4 only: ignoring the client's IPv6 address %s",
				    ip_addr_to_string(&in->addrs[i], buf));
	}
	in->n_addrs = n;
	in->has_gateway6 = false;
	return 0;
}

int vif_input_from_store(const struct vif_store *s, struct vif_input *in)
{
	char where[XENBUS_PATH_MAX + 8];
	int r;

	snprintf(where, sizeof(where), "%s/ip", in->xenbus_path);
	if (s->ip) {
		r = parse_addrs(s->ip, where, in);
		if (r < 0)
			return r;
	}

	if (s->type && *s->type) {
		size_t n = strlen(s->type);

		for (size_t i = 0; i < n; i++)
			if (!is_type_char(s->type[i]))
				n = 0;
		if (n == 0 || n >= VIF_TYPE_MAX)
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "invalid %s/type '%.32s'", in->xenbus_path,
					       s->type);
		memcpy(in->type, s->type, n + 1);
	} else
		strcpy(in->type, "vif");

	if (s->vifname && *s->vifname) {
		/* Anti-spoofing drops a client's address arriving on any
		 * interface outside vif+, so another prefix would cut the
		 * client off. */
		if (!ifname_is_valid(s->vifname) || !startswith(s->vifname, "vif"))
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
					       "invalid %s/vifname '%.32s': need up to 15 of [A-Za-z0-9_.-], starting with 'vif'",
					       in->xenbus_path, s->vifname);
		/* Another vif's Xen name can only be another vif. */
		if (vif_name_parse(s->vifname, NULL, NULL) == 0 && !streq(s->vifname, in->vif))
			return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
					       "invalid %s/vifname '%s': that is another Xen vif's name",
					       in->xenbus_path, s->vifname);
		snprintf(in->ifname, sizeof(in->ifname), "%s", s->vifname);
		in->rename = !streq(in->ifname, in->vif);
	}

	/* Absent: harden. "" or "0": don't -- dom0 writes "0" for a service
	 * that is disabled. Anything else: harden. */
	in->harden = !s->harden || !(streq(s->harden, "") || streq(s->harden, "0"));

	if (in->n_addrs == 0)
		return parse_gateways(s, in, false);

	if (!s->mac)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "%s/mac is missing", in->xenbus_path);
	if (mac_parse(s->mac, &in->mac) < 0)
		return log_error_errno(SYNTHETIC_ERRNO(EINVAL),
				       "invalid %s/mac '%.32s': expected a lower-case unicast xx:xx:xx:xx:xx:xx",
				       in->xenbus_path, s->mac);
	in->has_mac = true;

	r = parse_gateways(s, in, true);
	if (r < 0)
		return r;
	return parse_nat(s, in);
}

/* The first token of ip that is an IPv4 address, canonical; false if none. */
static bool first_ipv4(const char *ip, char buf[static IP_ADDR_STRLEN])
{
	_cleanup_free_ char *copy = ip ? strdup(ip) : NULL;
	char *save = NULL;

	if (!copy)
		return false;
	for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct ip_addr a;

		if (ip_addr_parse(tok, AF_INET, &a) == 0) {
			ip_addr_to_string(&a, buf);
			return true;
		}
	}
	return false;
}

/* The mapped-ip keys of the client's first IPv4, waiting until `until`
 * for dom0 to write them when neither is there yet (Qubes issue 9318). */
static int read_mapped(struct cfg *cfg, const char *ip4, uint64_t until, struct vif_store *ret)
{
	static const enum cfg_key keys[] = { CFG_VISIBLE_IP, CFG_VISIBLE_GATEWAY };
	char *v[ELEMENTSOF(keys)] = {};
	char path[96];
	int r;

	r = cfg_read(cfg, keys, ELEMENTSOF(keys), ip4, v);
	if (r >= 0 && !v[0] && !v[1] && until) {
		uint64_t start = now_ms();

		r = cfg_wait(cfg, CFG_VISIBLE_IP, ip4, until, &v[0]);
		if (r >= 0 && v[0])
			r = cfg_wait(cfg, CFG_VISIBLE_GATEWAY, ip4, until, &v[1]);
		if (r >= 0 && v[0])
			log_debug("the mapped-ip keys of %s came after %" PRIu64 " ms", ip4, now_ms() - start);
		else if (r >= 0 && cfg_can_wait(cfg))
			log_warning("no %s after %.1f s: going on without NAT mode",
				    cfg_key_path(cfg, CFG_VISIBLE_IP, ip4, path, sizeof(path)),
				    (double)(now_ms() - start) / 1000.0);
	}
	if (r < 0) {
		free(v[0]);
		free(v[1]);
		return log_error_errno(r, "cannot read %s key '%s'", cfg_source_name(cfg), cfg_failed_path(cfg));
	}
	ret->visible_ip = v[0];
	ret->visible_gateway = v[1];
	snprintf(ret->visible_ip_name, sizeof(ret->visible_ip_name), "%s key %s", cfg_source_name(cfg),
		 cfg_key_path(cfg, CFG_VISIBLE_IP, ip4, path, sizeof(path)));
	snprintf(ret->visible_gateway_name, sizeof(ret->visible_gateway_name), "%s key %s", cfg_source_name(cfg),
		 cfg_key_path(cfg, CFG_VISIBLE_GATEWAY, ip4, path, sizeof(path)));
	return 0;
}

int vif_store_read(struct xsh *xs, struct cfg *cfg, const char *xenbus_path, bool need_backend, bool need_type,
		   uint64_t mapped_until, struct vif_store *ret)
{
	char ip4[IP_ADDR_STRLEN];
	static const enum cfg_key domain_keys[] = { CFG_GATEWAY, CFG_GATEWAY6, CFG_HARDEN };
	/* type last: it is left out when no hook would get it */
	static const char *const backend_keys[] = { "ip", "mac", "vifname", "type" };
	char *backend[ELEMENTSOF(backend_keys)] = {};
	size_t n_backend = ELEMENTSOF(backend_keys) - !need_type;
	char *domain[ELEMENTSOF(domain_keys)];
	size_t failed;
	int r;

	*ret = (struct vif_store){};
	/* One listing says the directory exists, and which of its keys to
	 * read; all in one call to xenstore's thread. */
	r = xsh_read_listed(xs, xenbus_path, backend_keys, n_backend, backend, &failed);
	if (r == -ENOENT && failed == n_backend && !need_backend)
		log_warning("the backend directory %s does not exist in xenstore", xenbus_path);
	else if (r == -ENOENT && failed == n_backend)
		return log_error_errno(SYNTHETIC_ERRNO(ENOENT), "the backend directory %s does not exist in xenstore",
				       xenbus_path);
	else if (r < 0 && failed == n_backend)
		return log_error_errno(r, "cannot list xenstore directory '%s'", xenbus_path);
	else if (r < 0)
		return log_error_errno(r, "cannot read xenstore key '%s/%s'", xenbus_path, backend_keys[failed]);
	ret->ip = backend[0];
	ret->mac = backend[1];
	ret->vifname = backend[2];
	ret->type = backend[3];

	if (!cfg)
		return 0;
	r = cfg_read(cfg, domain_keys, ELEMENTSOF(domain_keys), NULL, domain);
	if (r < 0) {
		vif_store_done(ret);
		return log_error_errno(r, "cannot read %s key '%s'", cfg_source_name(cfg), cfg_failed_path(cfg));
	}
	ret->gateway = domain[0];
	ret->gateway6 = domain[1];
	ret->harden = domain[2];
	{
		char path[80];

		snprintf(ret->gateway_name, sizeof(ret->gateway_name), "%s key %s", cfg_source_name(cfg),
			 cfg_key_path(cfg, CFG_GATEWAY, NULL, path, sizeof(path)));
		snprintf(ret->gateway6_name, sizeof(ret->gateway6_name), "%s key %s", cfg_source_name(cfg),
			 cfg_key_path(cfg, CFG_GATEWAY6, NULL, path, sizeof(path)));
	}
	if (first_ipv4(ret->ip, ip4)) {
		r = read_mapped(cfg, ip4, mapped_until, ret);
		if (r < 0) {
			vif_store_done(ret);
			return r;
		}
	}
	return 0;
}

void vif_store_done(struct vif_store *s)
{
	free(s->ip);
	free(s->mac);
	free(s->type);
	free(s->vifname);
	free(s->gateway);
	free(s->gateway6);
	free(s->harden);
	free(s->visible_ip);
	free(s->visible_gateway);
	*s = (struct vif_store){};
}
