#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply_nat.h"
#include "fw_antispoof.h"
#include "json.h"
#include "natns.h"
#include "nftq.h"
#include "log.h"
#include "nl.h"
#include "status.h"
#include "sysctl.h"
#include "util.h"
#include "xs.h"

/* "WORD     WHAT      TEXT": the one format of every line. */
static void line(struct status_result *t, const char *word, const char *what, const char *fmt, ...) _printf_(4, 5);

static void line(struct status_result *t, const char *word, const char *what, const char *fmt, ...)
{
	struct status_line *l;
	va_list ap;

	if (t->n_lines == t->allocated) {
		size_t n = t->allocated ? 2 * t->allocated : 32;

		l = reallocarray(t->lines, n, sizeof(*l));
		if (!l) {
			t->oom = true;
			return;
		}
		t->lines = l;
		t->allocated = n;
	}
	l = &t->lines[t->n_lines++];
	snprintf(l->word, sizeof(l->word), "%s", word);
	snprintf(l->what, sizeof(l->what), "%s", what);
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
	if (!streq(word, "skipped"))
		t->n++;
	if (!streq(word, "ok") && !streq(word, "skipped"))
		t->wrong++;
}

/* ok "NAME = WANT", differs "NAME (is IS, want WANT)", or missing. */
static void item(struct status_result *t, const char *what, const char *name, const char *want, const char *is, bool missing)
{
	if (missing)
		line(t, "missing", what, "%s%s%s", name, want[0] ? " = " : "", want);
	else if (!is)
		line(t, "ok", what, "%s%s%s", name, want[0] ? " = " : "", want);
	else
		line(t, "differs", what, "%s (is %s, want %s)", name, is, want);
}

static const char *ifname_of(int ifindex, char buf[static IF_NAMESIZE])
{
	if (!if_indextoname((unsigned)ifindex, buf))
		snprintf(buf, IF_NAMESIZE, "#%d", ifindex);
	return buf;
}

static int check_antispoof(struct apply_ctx *c, const struct action *a, struct status_result *t)
{
	const struct plan *p = c->plan;
	struct fw_report rep;
	int r;

	r = fw_antispoof_check(c->fw, a->family, p->in->ifname, p->addrs, p->n_addrs, &rep);
	if (r < 0)
		return r;
	for (size_t i = 0; i < rep.n; i++)
		line(t, rep.line[i].word, rep.line[i].what, "%s", rep.line[i].text);
	fw_report_done(&rep);
	return 0;
}

/* --- NAT mode: what is inside the namespace ---------------------------- */

static int check_nat_addr(struct apply_ctx *c, struct status_result *t, const char *dev, const struct ip_addr *a)
{
	char name[160], addr[IP_ADDR_STRLEN];
	struct nlr_link l;
	struct nlr *nl;
	int r;

	snprintf(name, sizeof(name), "%s/32 dev %s in %s", ip_addr_to_string(a, addr), dev, c->nat->name);
	r = natns_link(c->nat, dev, &l);
	if (r == 0 && (r = natns_nl(c->nat, &nl)) == 0)
		r = nlr_addr_exists(nl, l.ifindex, a);
	if (r < 0 && r != -ENODEV)
		return r;
	item(t, "address", name, "", NULL, r <= 0);
	return 0;
}

static int check_nat_neigh(struct apply_ctx *c, struct status_result *t, const char *dev, const struct ip_addr *a,
			   const struct mac_addr *mac)
{
	char name[160], want[64], now[64], addr[IP_ADDR_STRLEN], m[18];
	struct mac_addr cur;
	bool perm = false;
	struct nlr_link l;
	struct nlr *nl;
	int r;

	snprintf(name, sizeof(name), "%s dev %s in %s", ip_addr_to_string(a, addr), dev, c->nat->name);
	snprintf(want, sizeof(want), "lladdr %s PERMANENT", mac_to_string(mac, m));
	r = natns_link(c->nat, dev, &l);
	if (r == 0 && (r = natns_nl(c->nat, &nl)) == 0)
		r = nlr_neigh_get(nl, l.ifindex, a, &cur, &perm);
	if (r < 0 && r != -ENOENT && r != -ENODEV)
		return r;
	if (r == 0 && (!perm || memcmp(&cur, mac, sizeof(cur)) != 0)) {
		snprintf(now, sizeof(now), "lladdr %s%s", mac_to_string(&cur, m), perm ? " PERMANENT" : "");
		item(t, "neighbour", name, want, now, false);
	} else
		item(t, "neighbour", name, want, NULL, r < 0);
	return 0;
}

static int check_nat_table(struct apply_ctx *c, struct status_result *t)
{
	static const char *const words[] = { [NFTQ_NAT_OK] = "ok", [NFTQ_NAT_MISSING] = "missing",
					     [NFTQ_NAT_DIFFERS] = "differs" };
	struct nftq_nat_item items[NFTQ_NAT_ITEMS];
	struct nftq *q = NULL;
	struct nftq_nat m;
	int r;

	r = natns_exists(c->nat) ? nat_want(c, &m, true) : -ENODEV;
	if (r == -ENODEV) {
		/* No namespace or no links: every item is missing. */
		nat_want(c, &m, false);
		nftq_nat_describe(&m, items);
		for (size_t i = 0; i < NFTQ_NAT_ITEMS; i++)
			line(t, "missing", "nat", "%s", items[i].what);
		return 0;
	}
	if (r < 0)
		return r;
	r = natns_nftq(c->nat, &q);
	if (r < 0)
		return r;
	r = nftq_nat_check(q, &m, items);
	nftq_close(q);
	if (r < 0)
		return r;
	for (size_t i = 0; i < NFTQ_NAT_ITEMS; i++)
		line(t, words[items[i].state], "nat", "%s", items[i].what);
	return 0;
}

static int check_nat(struct apply_ctx *c, const struct action *a, struct status_result *t)
{
	const struct vif_input *in = c->plan->in;
	char name[160], val[32];
	struct mac_addr netvm_mac;
	struct nlr_link l;
	int r;

	switch (a->type) {
	case ACT_NAT_NS:
		item(t, "namespace", c->nat->name, "", NULL, !natns_exists(c->nat));
		return 0;
	case ACT_NAT_MOVE:
	case ACT_NAT_VETH: {
		const char *dev = a->type == ACT_NAT_MOVE ? in->ifname : c->nat->peer;

		snprintf(name, sizeof(name), "%s in %s", dev, c->nat->name);
		r = natns_link(c->nat, dev, &l);
		if (r < 0 && r != -ENODEV)
			return r;
		item(t, "link", name, "up", r == 0 && !l.up ? "down" : NULL, r < 0);
		return 0;
	}
	case ACT_NAT_CONF:
		r = mac_parse(NAT_NETVM_MAC, &netvm_mac);
		if (r == 0)
			r = check_nat_addr(c, t, c->nat->peer, &in->nat_real);
		if (r == 0)
			r = check_nat_addr(c, t, in->ifname, &in->visible_gateway);
		if (r == 0)
			r = check_nat_neigh(c, t, in->ifname, &in->visible_ip, &in->mac);
		if (r == 0)
			r = check_nat_neigh(c, t, c->nat->peer, &in->gateway, &netvm_mac);
		if (r < 0)
			return r;
		snprintf(name, sizeof(name), "net.ipv4.conf.all.forwarding in %s", c->nat->name);
		r = natns_exists(c->nat) ? natns_sysctl_read(c->nat, AF_INET, "all", "forwarding", val, sizeof(val))
					 : -ENOENT;
		if (r < 0 && r != -ENOENT)
			return r;
		item(t, "sysctl", name, "1", r == 0 && !streq(val, "1") ? val : NULL, r < 0);
		return 0;
	case ACT_NAT_TABLE:
		return check_nat_table(c, t);
	default:
		return 0;
	}
}

static int check_action(struct apply_ctx *c, const struct action *a, struct status_result *t)
{
	const struct vif_input *in = c->plan->in;
	const char *ifn = in->ifname;
	const struct vif_facts *f = &c->f;
	char addr[IP_ADDR_STRLEN], mac[18], name[160], is[96];
	int r = 0;

	if (a->has_addr)
		ip_addr_to_string(&a->addr, addr);

	switch (a->type) {
	case ACT_RENAME:
		item(t, "interface", ifn, "", f->found_as_vif ? in->vif : NULL, f->ifindex == 0);
		break;
	case ACT_SYSCTL: {
		char val[32];

		snprintf(name, sizeof(name), "net.%s.conf.%s.%s", a->family == AF_INET ? "ipv4" : "ipv6", ifn, a->key);
		r = f->ifindex ? sysctl_if_read(a->family, ifn, a->key, val, sizeof(val)) : -ENODEV;
		if (r < 0 && r != -ENOENT && r != -ENODEV)
			return r;
		item(t, "sysctl", name, a->value, r == 0 && !streq(val, a->value) ? val : NULL, r < 0);
		return 0;
	}
	case ACT_ANTISPOOF:
		return check_antispoof(c, a, t);
	case ACT_NEIGH: {
		struct mac_addr cur;
		bool perm = false;

		snprintf(name, sizeof(name), "%s dev %s", addr, ifn);
		snprintf(is, sizeof(is), "lladdr %s PERMANENT", mac_to_string(&in->mac, mac));
		r = f->ifindex ? nlr_neigh_get(c->nl, f->ifindex, &a->addr, &cur, &perm) : -ENOENT;
		if (r < 0 && r != -ENOENT && r != -ENODEV)
			return r;
		if (r == 0 && (!perm || memcmp(&cur, &in->mac, sizeof(cur)) != 0)) {
			char now[64];

			snprintf(now, sizeof(now), "lladdr %s%s", mac_to_string(&cur, mac), perm ? " PERMANENT" : "");
			item(t, "neighbour", name, is, now, false);
		} else
			item(t, "neighbour", name, is, NULL, r < 0);
		return 0;
	}
	case ACT_LINK:
		item(t, "link", ifn, "up", f->ifindex && !f->link_up ? "down" : NULL, f->ifindex == 0);
		if (f->fw == FW_NFTABLES) {
			char group[16];

			snprintf(name, sizeof(name), "%s group", ifn);
			snprintf(group, sizeof(group), "%u", f->group);
			item(t, "link", name, "2", f->ifindex && f->group != 2 ? group : NULL, f->ifindex == 0);
		}
		break;
	case ACT_ROUTE: {
		int oif = 0;

		snprintf(name, sizeof(name), "%s%s metric %u", addr, a->family == AF_INET ? " scope link" : "",
			 in->metric);
		snprintf(is, sizeof(is), "dev %s", ifn);
		r = f->ifindex ? nlr_route_exists(c->nl, f->ifindex, &a->addr, in->metric) : 0;
		if (r < 0)
			return r;
		if (r == 0) {
			char other[IF_NAMESIZE], now[IF_NAMESIZE + 8];

			r = nlr_route_oif(c->nl, &a->addr, in->metric, &oif);
			if (r < 0 && r != -ENOENT)
				return r;
			if (r == 0) {
				snprintf(now, sizeof(now), "dev %s", ifname_of(oif, other));
				item(t, "route", name, is, now, false);
			} else
				item(t, "route", name, is, NULL, true);
		} else
			item(t, "route", name, is, NULL, false);
		return 0;
	}
	case ACT_ADDR:
		snprintf(name, sizeof(name), "%s/%u dev %s", addr, ip_addr_host_prefixlen(&a->addr), ifn);
		r = f->ifindex ? nlr_addr_exists(c->nl, f->ifindex, &a->addr) : 0;
		if (r < 0)
			return r;
		item(t, "address", name, "", NULL, r == 0);
		return 0;
	case ACT_XS_STATUS: {
		_cleanup_free_ char *v = NULL;

		if (!c->xs)
			return -ENOTCONN;
		snprintf(name, sizeof(name), "%s/hotplug-status", in->xenbus_path);
		r = xsh_read_at(c->xs, in->xenbus_path, "hotplug-status", &v);
		if (r < 0 && r != -ENOENT)
			return r;
		item(t, "xenstore", name, "connected", r == 0 && !streq(v, "connected") ? v : NULL, r < 0);
		return 0;
	}
	case ACT_SKIP:
		line(t, "skipped", "", "%s", a->note);
		break;
	case ACT_NAT_NS:
	case ACT_NAT_MOVE:
	case ACT_NAT_VETH:
	case ACT_NAT_CONF:
	case ACT_NAT_TABLE:
		return check_nat(c, a, t);
	default: /* hooks and conntrack leave nothing to look at */
		break;
	}
	return 0;
}

int status_check(struct apply_ctx *c, struct status_result *ret)
{
	struct status_result t = {};
	int r = 0;

	if (c->f.ifindex == 0 && !c->plan->in->rename)
		line(&t, "missing", "interface", "%s", c->plan->in->ifname);
	for (unsigned i = 0; i < c->plan->n && r >= 0; i++)
		r = check_action(c, &c->plan->actions[i], &t);
	if (r >= 0 && t.oom)
		r = -ENOMEM;
	if (r < 0) {
		status_result_done(&t);
		return r;
	}
	*ret = t;
	return 0;
}

void status_result_done(struct status_result *r)
{
	free(r->lines);
	*r = (struct status_result){};
}

void status_print_text(const char *ifname, const struct status_result *r)
{
	for (size_t i = 0; i < r->n_lines; i++)
		printf("%-8s %-9s %s\n", r->lines[i].word, r->lines[i].what, r->lines[i].text);
	if (r->wrong)
		printf("%s: %u of %u items wrong\n", ifname, r->wrong, r->n);
	else
		printf("%s: all %u items ok\n", ifname, r->n);
}

static void json_key(const char *key, bool first)
{
	printf("%s\"%s\": ", first ? "" : ", ", key);
}

void status_print_json(const struct status_vif *v)
{
	const struct status_result *r = v->result;

	printf("{");
	json_key("vif", true);
	json_write_string(stdout, v->vif);
	json_key("interface", false);
	json_write_string(stdout, v->ifname);
	json_key("xenbus_path", false);
	json_write_string(stdout, v->xenbus_path);
	json_key("domid", false);
	if (v->domid >= 0)
		printf("%d", v->domid);
	else
		printf("null");
	json_key("firewall", false);
	json_write_string(stdout, v->firewall);
	json_key("state", false);
	json_write_string(stdout, !r ? "unknown" : r->wrong ? "wrong" : "ok");
	json_key("items_total", false);
	printf("%u", r ? r->n : 0);
	json_key("items_wrong", false);
	printf("%u", r ? r->wrong : 0);
	json_key("items", false);
	printf("[");
	for (size_t i = 0; r && i < r->n_lines; i++) {
		printf("%s{", i ? ", " : "");
		json_key("state", true);
		json_write_string(stdout, r->lines[i].word);
		json_key("kind", false);
		json_write_string(stdout, r->lines[i].what);
		json_key("text", false);
		json_write_string(stdout, r->lines[i].text);
		printf("}");
	}
	printf("]");
	if (!r) {
		json_key("error", false);
		json_write_string(stdout, v->error ? v->error : "could not be checked");
	}
	printf("}");
}
