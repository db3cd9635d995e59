#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vifenv.h"

static pid_t xsd_pid;
static pid_t qdb_pid;

void vifenv_add_vif(unsigned domid, const char *ip, const char *mac)
{
	char path[128];

	free(tl_sh("ip link add vif%u.0 type veth peer name c%u", domid, domid));
	if (ip) {
		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/0/ip", domid);
		tl_xs_write(path, ip);
	}
	if (mac) {
		snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/0/mac", domid);
		tl_xs_write(path, mac);
	}
}

static void setup(bool qubesdb)
{
	tl_netns_setup();
	xsd_pid = tl_xenstored_start();
	qdb_pid = qubesdb ? tl_qubesdb_start(NULL, NULL) : 0;
	if (!qubesdb)
		unsetenv("QUBESDB_SOCKET");
	/* Register the raw tables first, so that "before" and "after" dumps
	 * list the same tables (any real netvm has them loaded). */
	free(tl_sh("iptables-legacy -t raw -S >/dev/null && ip6tables-legacy -t raw -S >/dev/null"));
	free(tl_sh("ip link add vif3.0 type veth peer name eth0"));
	vifenv_domain_key("qubes-netvm-gateway", "10.137.0.1");
	tl_xs_write("/local/domain/0/backend/vif/3/0/ip", "10.137.0.5");
	tl_xs_write("/local/domain/0/backend/vif/3/0/mac", "00:16:3e:5e:6c:00");
}

void vifenv_setup(void)
{
	setup(false);
}

void vifenv_setup_qubesdb(void)
{
	setup(true);
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

pid_t vifenv_xenstored_pid(void)
{
	return xsd_pid;
}

void vifenv_teardown(void)
{
	tl_qubesdb_stop(qdb_pid);
	qdb_pid = 0;
	tl_xenstored_stop(xsd_pid);
	tl_netns_teardown();
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
	return tl_sh("{ iptables-legacy-save; ip6tables-legacy-save; } | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'; "
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

char *vifenv_raw_rules(bool ipv6)
{
	return tl_sh("%s-legacy-save -t raw | grep '^-A' || true", ipv6 ? "ip6tables" : "iptables");
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
