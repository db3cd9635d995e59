#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vifenv.h"

static pid_t xsd_pid;
static pid_t qdb_pid;
static bool nft_fixture;

void vifenv_add_vif(unsigned domid, const char *ip, const char *mac)
{
	char path[128];

	free(tl_sh("ip link add vif%u.0 type veth peer name c%u", domid, domid));
	if (ip) {
		char first[64];

		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/0/ip", domid);
		tl_xs_write(path, ip);
		/* dom0 writes every client's mapped-ip keys, the visible
		 * address being the real one unless it is in NAT mode. */
		if (sscanf(ip, "%63[0-9.]", first) == 1 && strchr(first, '.'))
			vifenv_mapped_ip(first, first, "10.137.0.1");
	}
	if (mac) {
		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/0/mac", domid);
		tl_xs_write(path, mac);
	}
}

static void setup(bool qubesdb, bool nft)
{
	tl_netns_setup();
	xsd_pid = tl_xenstored_start();
	qdb_pid = qubesdb ? tl_qubesdb_start(NULL, NULL) : 0;
	if (!qubesdb)
		unsetenv("QUBESDB_SOCKET");
	nft_fixture = nft;
	if (nft)
		/* What a Qubes R4.2+ netvm loads at boot, before any vif. */
		free(tl_sh("nft -f '%s/tests/nft/qubes-base.nft'", tl_prog("MESON_SOURCE_DIR")));
	else
		/* Register the raw tables first, so that "before" and "after"
		 * dumps list the same tables (any real netvm of the x_tables
		 * generation has them loaded). */
		free(tl_sh("iptables-legacy -t raw -S >/dev/null && ip6tables-legacy -t raw -S >/dev/null"));
	free(tl_sh("ip link add vif3.0 type veth peer name eth0"));
	vifenv_domain_key("qubes-netvm-gateway", "10.137.0.1");
	vifenv_mapped_ip("10.137.0.5", "10.137.0.5", "10.137.0.1");
	tl_xs_write("/local/domain/0/backend/vif/3/0/ip", "10.137.0.5");
	tl_xs_write("/local/domain/0/backend/vif/3/0/mac", "00:16:3e:5e:6c:00");
}

void vifenv_setup(void)
{
	setup(false, false);
}

void vifenv_setup_qubesdb(void)
{
	setup(true, false);
}

void vifenv_setup_nft(void)
{
	setup(true, true);
}

bool vifenv_nft(void)
{
	return nft_fixture;
}

const char *vifenv_fw_words(void)
{
	return nft_fixture ? "nftables sets" : "x_tables raw tables";
}

bool vifenv_qubesdb(void)
{
	return qdb_pid > 0;
}

pid_t vifenv_qubesdb_pid(void)
{
	return qdb_pid;
}

void vifenv_domain_key(const char *name, const char *value)
{
	char path[128];

	if (qdb_pid > 0) {
		snprintf(path, sizeof(path), "/%s", name);
		if (value)
			tl_qdb_write(path, value);
		else
			tl_qdb_rm(path);
		return;
	}
	snprintf(path, sizeof(path), "/local/domain/0/%s", name);
	if (value)
		tl_xs_write(path, value);
	else
		tl_xs_rm(path);
}

void vifenv_mapped_ip(const char *ip4, const char *visible_ip, const char *visible_gateway)
{
	char name[96];

	/* xenstore cannot hold a path with the address's dots: plain Xen
	 * has no mapped-ip keys (QubesDB has had them since Qubes 4.0). */
	if (qdb_pid <= 0)
		return;

	snprintf(name, sizeof(name), "mapped-ip/%s/visible-ip", ip4);
	vifenv_domain_key(name, visible_ip);
	snprintf(name, sizeof(name), "mapped-ip/%s/visible-gateway", ip4);
	vifenv_domain_key(name, visible_gateway);
}

pid_t vifenv_xenstored_pid(void)
{
	return xsd_pid;
}

void vifenv_teardown(void)
{
	tl_qubesdb_stop(qdb_pid);
	qdb_pid = 0;
	tl_xenstored_stop(xsd_pid);
	nft_fixture = false;
	tl_netns_teardown();
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	if (getdelim(&buf, &len, 0, f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

int vifenv_run(const char *vif, const char *xenbus_path, const char *args, char **ret_err)
{
	const char *prog = tl_prog("VIF_ROUTE_QUBES");
	char errf[] = "/tmp/qvt-stderr.XXXXXX";
	char env[256] = "";
	int fd, r;

	fd = mkstemp(errf);
	ck_assert_msg(fd >= 0, "mkstemp: %m");
	close(fd);
	if (vif)
		snprintf(env + strlen(env), sizeof(env) - strlen(env), " vif='%s'", vif);
	if (xenbus_path)
		snprintf(env + strlen(env), sizeof(env) - strlen(env), " XENBUS_PATH='%s'", xenbus_path);
	r = tl_run(NULL, "env -u vif -u XENBUS_PATH%s %s %s 2>%s", env, prog, args, errf);
	if (ret_err)
		*ret_err = slurp(errf);
	unlink(errf);
	return r;
}

int vifenv_run_dom(unsigned domid, const char *args, char **ret_err)
{
	char vif[32], xb[64];

	snprintf(vif, sizeof(vif), "vif%u.0", domid);
	snprintf(xb, sizeof(xb), "backend/vif/%u/0", domid);
	return vifenv_run(vif, xb, args, ret_err);
}

static char *dump(bool with_sysctls)
{
	/* iptables-legacy-save without -t lists the tables there are and
	 * registers none; nft -s leaves out counter values. */
	return tl_sh("{ iptables-legacy-save; ip6tables-legacy-save; } | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'; "
		     "nft -s list ruleset 2>/dev/null; "
		     "{ ip -d link show; ip addr show; } | sed -E 's/ qdisc [a-z_]+//'; "
		     "ip -4 route show table all; ip -6 route show table all; "
		     "ip neigh show; ip -6 neigh show proxy; "
		     "%s"
		     "conntrack -L 2>/dev/null; true",
		     with_sysctls ? "grep -r . /proc/sys/net/ipv4/conf/ /proc/sys/net/ipv6/conf/ 2>/dev/null; " : "");
}

char *vifenv_state(bool with_sysctls)
{
	char *prev = dump(with_sysctls);

	/* IPv6 address routes are installed by a kernel work queue after the
	 * address itself: wait until two dumps agree. */
	for (int i = 0; i < 40; i++) {
		char *cur;

		usleep(20000);
		cur = dump(with_sysctls);
		if (streq(prev, cur)) {
			free(cur);
			return prev;
		}
		free(prev);
		prev = cur;
	}
	return prev;
}

void vifenv_assert_same(const char *before, const char *after, const char *what)
{
	if (!streq(before, after)) {
		FILE *f;

		f = fopen("/tmp/qvt-before", "we");
		fputs(before, f);
		fclose(f);
		f = fopen("/tmp/qvt-after", "we");
		fputs(after, f);
		fclose(f);
		free(tl_sh("diff -u /tmp/qvt-before /tmp/qvt-after >&2; true"));
		ck_abort_msg("%s: state differs (diff above)", what);
	}
}

/* The lines of text in strcmp order (locale-independent). */
static char *sort_lines(const char *text)
{
	_cleanup_free_ char *copy = strdup(text);
	_cleanup_free_ char **lines = NULL;
	size_t n = 0, cap = 0, len = 0;
	char *out, *save = NULL;

	ck_assert_ptr_nonnull(copy);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			lines = realloc(lines, cap * sizeof(*lines));
			ck_assert_ptr_nonnull(lines);
		}
		lines[n++] = l;
		len += strlen(l) + 1;
	}
	if (n > 1)
		qsort(lines, n, sizeof(*lines), cmp_str);
	out = malloc(len + 1);
	ck_assert_ptr_nonnull(out);
	out[0] = 0;
	for (size_t i = 0, at = 0; i < n; i++) {
		size_t l = strlen(lines[i]);

		memcpy(out + at, lines[i], l);
		at += l;
		out[at++] = '\n';
		out[at] = 0;
	}
	return out;
}

/* Prints "FAMILY qubes SET ELEMENT" for every element of the sets allowed
 * and downstream of the qubes tables in `nft list ruleset`: elements are
 * comma-separated between "elements = {" and "}", over one or more lines. */
static const char nft_elements_awk[] =
	"/^table / { fam = $2; tab = $3; set = \"\"; on = 0 } "
	"/^\\tset / { set = $2 } "
	"/^\\t}/ { set = \"\" } "
	"tab == \"qubes\" && (set == \"allowed\" || set == \"downstream\") && /elements = [{]/ "
	"{ on = 1; sub(/.*elements = [{]/, \"\") } "
	"on { end = sub(/[}].*/, \"\"); n = split($0, a, \",\"); "
	"for (i = 1; i <= n; i++) { e = a[i]; gsub(/^[ \\t]+|[ \\t]+$/, \"\", e); "
	"if (e != \"\") print fam \" qubes \" set \" \" e } "
	"if (end) on = 0 }";

char *vifenv_nft_elements(void)
{
	_cleanup_free_ char *raw = tl_sh("nft -s list ruleset 2>/dev/null | awk '%s'", nft_elements_awk);

	return sort_lines(raw);
}

char *vifenv_antispoof_lines(void)
{
	if (nft_fixture)
		return vifenv_nft_elements();
	return tl_sh("iptables-legacy-save -t raw | grep '^-A' | sed 's/^/iptables /' || true; "
		     "ip6tables-legacy-save -t raw | grep '^-A' | sed 's/^/ip6tables /' || true");
}

static void append(char **buf, size_t *len, const char *fmt, ...) _printf_(3, 4);
static void append(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *more = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&more, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	*buf = realloc(*buf, *len + n + 1);
	ck_assert_ptr_nonnull(*buf);
	memcpy(*buf + *len, more, n + 1);
	*len += n;
	free(more);
}

char *vifenv_antispoof_want(const char *vif, const char *addrs)
{
	char *buf = strdup("");
	size_t len = 0;

	ck_assert_ptr_nonnull(buf);
	for (int v6 = 0; v6 <= 1; v6++) {
		_cleanup_free_ char *copy = strdup(addrs ? addrs : "");
		const char *ipt = v6 ? "ip6tables" : "iptables";
		const char *fam = v6 ? "ip6" : "ip";
		char *save = NULL;
		bool any = false;

		for (char *a = strtok_r(copy, " ", &save); a; a = strtok_r(NULL, " ", &save)) {
			if ((strchr(a, ':') != NULL) != v6)
				continue;
			any = true;
			if (nft_fixture) {
				append(&buf, &len, "%s qubes allowed \"%s\" . %s\n", fam, vif, a);
				append(&buf, &len, "%s qubes downstream %s\n", fam, a);
			} else {
				append(&buf, &len, "%s -A PREROUTING ! -s %s/%d -i %s -j DROP\n", ipt, a, v6 ? 128 : 32, vif);
				append(&buf, &len, "%s -A PREROUTING -s %s/%d ! -i vif+ -j DROP\n", ipt, a, v6 ? 128 : 32);
			}
		}
		if (!any && !nft_fixture)
			append(&buf, &len, "%s -A PREROUTING -i %s -j DROP\n", ipt, vif);
	}
	if (nft_fixture) {
		char *sorted = sort_lines(buf);

		free(buf);
		return sorted;
	}
	return buf;
}

char *vifenv_link_group(const char *ifname)
{
	return tl_sh("ip -o -d link show dev '%s' 2>/dev/null | sed -n 's/.* group \\([^ ]*\\) .*/\\1/p' | tr -d '\\n'",
		     ifname);
}

void vifenv_expect_protected(const char *vif, const char *addrs)
{
	_cleanup_free_ char *want = vifenv_antispoof_want(vif, addrs), *got = vifenv_antispoof_lines();
	_cleanup_free_ char *group = vifenv_link_group(vif);
	const char *want_group = nft_fixture ? "2" : "default";

	ck_assert_msg(streq(got, want), "anti-spoofing of %s for '%s' (%s):\n--- got\n%s--- want\n%s", vif, addrs,
		      vifenv_fw_words(), got, want);
	ck_assert_msg(streq(group, "") || streq(group, want_group), "%s is in group %s, want %s (%s)", vif, group,
		      want_group, vifenv_fw_words());
}

void vifenv_expect_no_antispoof(void)
{
	_cleanup_free_ char *got = vifenv_antispoof_lines();

	ck_assert_msg(streq(got, ""), "anti-spoofing state left (%s):\n%s", vifenv_fw_words(), got);
}

void vifenv_add_stale(const char *vif, const char *addr, bool twin)
{
	bool v6 = strchr(addr, ':') != NULL;

	if (nft_fixture) {
		free(tl_sh("nft 'add element %s qubes allowed { \"%s\" . %s }'", v6 ? "ip6" : "ip", vif, addr));
		if (twin)
			free(tl_sh("nft 'add element %s qubes downstream { %s }'", v6 ? "ip6" : "ip", addr));
		return;
	}
	free(tl_sh("%s-legacy -t raw -I PREROUTING -i '%s' ! -s %s -j DROP", v6 ? "ip6tables" : "iptables", vif, addr));
	if (twin)
		free(tl_sh("%s-legacy -t raw -I PREROUTING -s %s ! -i vif+ -j DROP", v6 ? "ip6tables" : "iptables", addr));
}

char *vifenv_nat_state(const char *ns, bool with_sysctls)
{
	_cleanup_free_ char *netvm = vifenv_state(with_sysctls), *inside = NULL;
	char *all = NULL;

	(void)tl_run(&inside,
		     "ls /run/netns; if [ -e /run/netns/%1$s ]; then "
		     "ip -n %1$s -d link show | sed -E 's/ (qlen|numtxqueues|numrxqueues|gso_max_[a-z_]+|gro_max_[a-z_]+|"
		     "tso_max_[a-z_]+|gro_ipv4_max_[a-z_]+|gso_ipv4_max_[a-z_]+|parentbus|parentdev) [^ ]+//g'; "
		     "ip -n %1$s addr show; ip -n %1$s neigh show nud permanent | sort; ip -n %1$s route show; "
		     "ip netns exec %1$s nft -s list ruleset; "
		     "ip netns exec %1$s sysctl -n net.ipv4.conf.all.forwarding; fi 2>&1",
		     ns);
	ck_assert_ptr_nonnull(inside);
	ck_assert_int_ge(asprintf(&all, "%s\n--- namespaces\n%s", netvm, inside), 0);
	return all;
}

char *vifenv_without_ifindex(char *s)
{
	_cleanup_free_ char *in = strdup(s);
	char *out = s;

	ck_assert_ptr_nonnull(in);
	for (const char *p = in; *p;) {
		bool at_index = (p == in || p[-1] == '\n' || (p - in >= 3 && strncmp(p - 3, "@if", 3) == 0)) &&
				*p >= '0' && *p <= '9';

		if (at_index) {
			while (*p >= '0' && *p <= '9')
				p++;
			*out++ = 'N';
			continue;
		}
		*out++ = *p++;
	}
	*out = 0;
	return s;
}
