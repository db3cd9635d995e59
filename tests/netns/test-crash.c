/* Crash consistency (SPEC: "a run killed at any point (SIGKILL, power loss)
 * is repaired by the next online (same state as one clean run) or cleaned
 * by offline"; DNS: "at no moment does the chain hold neither or both
 * sets"). The real binaries are killed with SIGKILL at many points of
 * their run, and after every kill the contract is checked. Run once per
 * firewall generation (argv[1]: xtables or nftables).
 *
 * The mechanism: strace's fault injection. A first run from the very state
 * the killed runs start from is traced (`-e trace=` the candidate kinds
 * below) to learn the program's calls; every call of a *mutating* kind is
 * then a kill point: `-e inject=NAME:signal=KILL:when=K` kills the program
 * on entry to its K-th call of kind NAME. Only the program itself is traced
 * (no -f): the hooks it starts are not ours, and the program does every
 * kernel change itself (netlink, setsockopt, /proc/sys writes).
 *
 * Mutating kinds: those that can change kernel or store state -- sendto,
 * sendmsg, sendmmsg (netlink requests and nf_tables batches, xenstore and
 * QubesDB requests, syslog), write, writev, pwrite64 (/proc/sys, the
 * xenstore socket, stderr), setsockopt (x_tables' IPT_SO_SET_REPLACE),
 * ioctl (link requests), mount, umount2, unshare, mkdir, unlink, unlinkat,
 * rename, renameat2, ftruncate, symlink, and openat/open/creat with O_CREAT
 * or O_TRUNC (a named namespace's mount point, the lock file). Every other
 * call (reads, dumps, socket(), bind, connect, setns, flock, close, mmap,
 * clone ...) changes nothing that outlives the process: between two
 * mutating calls the kernel and the stores do not change, so a kill before
 * any call between them leaves the same state as a kill before the next
 * mutating one. Points are therefore every call of every mutating kind,
 * each its own killed run; none is sampled away unless the count of a kind
 * exceeds MAX_PER_KIND (then evenly, said in the log).
 *
 * Every kill is checked to have happened (strace's "+++ killed by SIGKILL
 * +++" and exit status 137), and the points are counted and printed. The
 * per-vif lock is an flock (released at death) on a file a killed run may
 * leave behind: the next runs must not mind. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vifenv.h"

#define XB "/local/domain/0/backend/vif/3/0"
#define HOOKS "/tmp/qvt-crash-hooks"
#define TRACE "/tmp/qvt-crash.trace"
#define KILLTRACE "/tmp/qvt-crash.kill"
#define ERRF "/tmp/qvt-crash.err"
/* A kind with more mutating calls than this is sampled evenly (said in
 * the log): every point everywhere but in NAT mode, whose online has ~80
 * (x_tables 73, nftables 79) and would take the suite past its time
 * budget; there every kind keeps at most NAT_PER_KIND points, evenly
 * spread (kinds with fewer -- the namespace's mkdir, open, unshare, mount,
 * the link ioctls -- all of theirs). */
#define MAX_PER_KIND 400
#define NAT_PER_KIND 4

#define CANDIDATES                                                                                   \
	"/^(sendto|sendmsg|sendmmsg|write|writev|pwrite64|pwritev|pwritev2|setsockopt|ioctl|mount|umount2|" \
	"unshare|mkdir|mkdirat|unlink|unlinkat|rename|renameat|renameat2|ftruncate|truncate|symlink|"     \
	"symlinkat|link|linkat|rmdir|open|openat|creat)$"

static bool nft_gen;

struct point {
	char name[24];
	int k;
};

struct points {
	struct point *p;
	int n;
};

static bool is_mutating(const char *name, const char *line)
{
	if (streq(name, "open") || streq(name, "openat"))
		return strstr(line, "O_CREAT") || strstr(line, "O_TRUNC");
	return true; /* every other candidate kind */
}

/* "ASAN_OPTIONS=... timeout 60 strace -q -o OUT STRACE_ARGS": ptrace and
 * LeakSanitizer do not mix (and a killed run has nothing to check). */
static char *strace_prefix(const char *out, const char *strace_args)
{
	char *s = NULL;

	ck_assert_int_ge(asprintf(&s, "ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" timeout 60 strace -q -o %s %s",
				  out, strace_args),
			 0);
	return s;
}

/* A command line: the environment words, then strace (when traced), then
 * the program and its arguments. */
struct cmd {
	char *env, *prog;
};

static char *cmd_line(const struct cmd *c, const char *strace)
{
	char *s = NULL;

	ck_assert_int_ge(asprintf(&s, "%s %s %s", c->env, strace, c->prog), 0);
	return s;
}

static void cmd_free(struct cmd *c)
{
	free(c->env);
	free(c->prog);
}

/* Traces c from the current state; it must exit 0. Returns the kill
 * points; prints the count per kind. */
static struct points trace_points(const struct cmd *c, const char *what, int max_per_kind)
{
	_cleanup_free_ char *pre = strace_prefix(TRACE, "-e trace='" CANDIDATES "' -e signal=none");
	_cleanup_free_ char *cmd = NULL, *trace = NULL, *err = NULL;
	struct {
		char name[24];
		int calls, mutating;
	} kinds[64];
	int nkinds = 0;
	struct points all = { 0 }, out = { 0 };
	char *save = NULL;
	int r;

	cmd = cmd_line(c, pre);
	r = tl_run(NULL, "%s 2>" ERRF, cmd);
	err = tl_slurp(ERRF);
	ck_assert_msg(r == 0, "%s: the traced run exited %d:\n%s", what, r, err);
	trace = tl_slurp(TRACE);
	for (char *l = strtok_r(trace, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[24];
		int i, len = 0;

		if (sscanf(l, "%23[a-z0-9_]%n", name, &len) != 1 || l[len] != '(')
			continue; /* "+++ exited", "--- SIG" */
		for (i = 0; i < nkinds && !streq(kinds[i].name, name); i++)
			;
		if (i == nkinds) {
			ck_assert_int_lt(nkinds, 64);
			snprintf(kinds[nkinds].name, sizeof(kinds[nkinds].name), "%s", name);
			kinds[nkinds].calls = kinds[nkinds].mutating = 0;
			nkinds++;
		}
		kinds[i].calls++;
		if (!is_mutating(name, l))
			continue;
		kinds[i].mutating++;
		all.p = realloc(all.p, (all.n + 1) * sizeof(*all.p));
		ck_assert_ptr_nonnull(all.p);
		snprintf(all.p[all.n].name, sizeof(all.p[all.n].name), "%s", name);
		all.p[all.n].k = kinds[i].calls;
		all.n++;
	}
	/* Sampling, per kind, evenly, only past MAX_PER_KIND. */
	out.p = calloc(all.n + 1, sizeof(*out.p));
	ck_assert_ptr_nonnull(out.p);
	for (int i = 0; i < nkinds; i++) {
		int m = kinds[i].mutating, j = 0, taken = 0;

		for (int a = 0; a < all.n; a++) {
			if (!streq(all.p[a].name, kinds[i].name))
				continue;
			if (m <= max_per_kind || (long)j * max_per_kind / m != (long)(j + 1) * max_per_kind / m) {
				out.p[out.n++] = all.p[a];
				taken++;
			}
			j++;
		}
		fprintf(stderr, "crash: %s: %-10s %4d calls, %4d mutating, %4d kill points%s\n", what, kinds[i].name,
			kinds[i].calls, m, taken, taken < m ? " (sampled evenly)" : "");
	}
	fprintf(stderr, "crash: %s: %d kill points\n", what, out.n);
	free(all.p);
	ck_assert_msg(out.n > 0, "%s: no mutating call traced", what);
	return out;
}

/* Runs c killed before the point's call; asserts the kill happened. */
static void run_killed(const struct cmd *c, const struct point *pt, const char *what)
{
	_cleanup_free_ char *args = NULL, *pre = NULL, *cmd = NULL, *trace = NULL, *err = NULL;
	int r;

	ck_assert_int_ge(asprintf(&args, "-e trace=%s -e inject=%s:signal=KILL:when=%d", pt->name,
				  pt->name, pt->k),
			 0);
	pre = strace_prefix(KILLTRACE, args);
	cmd = cmd_line(c, pre);
	r = tl_run(NULL, "%s 2>" ERRF, cmd);
	trace = tl_slurp(KILLTRACE);
	err = tl_slurp(ERRF);
	ck_assert_msg(r == 128 + 9 && strstr(trace, "+++ killed by SIGKILL +++"),
		      "%s, %s #%d: not killed (exit %d)\nstderr:\n%s\ntrace tail:\n%s", what, pt->name, pt->k, r, err,
		      strlen(trace) > 600 ? trace + strlen(trace) - 600 : trace);
}

/* ---- vif-route-qubes ----------------------------------------------------- */

static bool nat;

static void hooks(void)
{
	/* A hook that outlives a killed parent a little: it must not disturb
	 * the next runs. */
	free(tl_sh("mkdir -p " HOOKS " && printf '#!/bin/sh\\necho \"$1 $4\" >> /tmp/qvt-crash-hooks.log\\n' > " HOOKS
		   "/log && chmod +x " HOOKS "/log"));
}

static void setup(void)
{
	if (nft_gen)
		vifenv_setup_nft();
	else
		vifenv_setup_qubesdb();
	/* Both families and the IPv6 gateway: every kind of step. */
	tl_xs_write(XB "/ip", "10.137.0.5 fd09::5");
	vifenv_domain_key("qubes-netvm-gateway6", "fd09::1");
	hooks();
	nat = false;
}

#define REAL "10.137.0.5"
#define VIP "10.152.152.11"
#define VGW "10.152.152.10"
#define MAC "00:16:3e:5e:6c:00"
#define NS "vif3.0-nat"

static void setup_nat(void)
{
	if (nft_gen)
		vifenv_setup_nft();
	else
		vifenv_setup_qubesdb();
	vifenv_mapped_ip(REAL, VIP, VGW);
	hooks();
	/* The frontend in a namespace of its own, as test-vif-nat.c does. */
	free(tl_sh("ip link set eth0 address " MAC " && ip link set vif3.0 address fe:ff:ff:ff:ff:ff && "
		   "ip netns add client && ip link set eth0 netns client"));
	nat = true;
}

static void teardown(void)
{
	(void)tl_run(NULL, "ip netns del client 2>/dev/null; ip netns del " NS " 2>/dev/null; "
			   "rm -rf " HOOKS " /tmp/qvt-crash*; true");
	vifenv_teardown();
}

/* Everything the program could change; in NAT mode also the named
 * namespaces and what is inside ours (ifindexes blanked). The xenstore
 * hotplug keys are checked apart. Per-interface sysctls as the other
 * suites treat them: online's are compared, offline leaves them (as
 * Qubes' script does), so states after offline are compared without. */
static char *state(bool with_sysctls)
{
	if (!nat)
		return vifenv_state(with_sysctls);
	return vifenv_without_ifindex(vifenv_nat_state(NS, with_sysctls));
}

static struct cmd vif_cmd(const char *op)
{
	struct cmd c;

	c.env = strdup("env -u vif -u XENBUS_PATH vif=vif3.0 XENBUS_PATH=backend/vif/3/0");
	ck_assert_ptr_nonnull(c.env);
	ck_assert_int_ge(asprintf(&c.prog, "%s --hooks-dir " HOOKS " %s", tl_prog("VIF_ROUTE_QUBES"), op), 0);
	return c;
}

static void run_clean(const char *op)
{
	_cleanup_free_ char *err = NULL;
	int r = vifenv_run("vif3.0", "backend/vif/3/0",
			   streq(op, "online") ? "--hooks-dir " HOOKS " online type_if=vif" : "--hooks-dir " HOOKS " offline",
			   &err);

	ck_assert_msg(r == 0, "%s exited %d:\n%s", op, r, err);
}

/* The vif's sysctls as they were before any online: offline leaves what
 * online set, so without putting them back every later online would find
 * them set and skip their writes (kill points never reached). */
#define SYSCTLS "grep -r . /proc/sys/net/ipv4/conf/vif3.0/ /proc/sys/net/ipv6/conf/vif3.0/ 2>/dev/null || true"
static char *pristine_sysctls;

static void restore_sysctls(void)
{
	_cleanup_free_ char *now = tl_sh(SYSCTLS), *copy = strdup(pristine_sysctls);
	char *save = NULL;

	ck_assert_ptr_nonnull(copy);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char line[512], *colon;

		snprintf(line, sizeof(line), "\n%s\n", l);
		if (strstr(now, line + 1) == now || strstr(now, line))
			continue; /* unchanged */
		colon = strchr(l, ':');
		ck_assert_ptr_nonnull(colon);
		*colon = 0;
		tl_write_file(l, colon + 1);
	}
}

static void assert_connected(const char *what)
{
	_cleanup_free_ char *status = tl_xs_read(XB "/hotplug-status"), *error = tl_xs_read(XB "/hotplug-error");

	ck_assert_msg(status && streq(status, "connected"), "%s: hotplug-status %s", what, status ? status : "(none)");
	ck_assert_msg(!error, "%s: hotplug-error left: %s", what, error);
}

static void what_at(char *buf, size_t len, const char *op, const struct point *pt, const char *then)
{
	snprintf(buf, len, "%s killed before %s #%d, then %s", op, pt->name, pt->k, then);
}

/* online killed at every point: from the killed state, online gives the
 * clean-online state (and hotplug-status connected); from the same killed
 * state (a second kill at the same point), offline gives the pre-online
 * state. */
START_TEST(test_online_killed)
{
	_cleanup_free_ char *before = NULL, *clean = NULL;
	struct cmd online = vif_cmd("online type_if=vif");
	struct points pts;

	free(pristine_sysctls);
	pristine_sysctls = tl_sh(SYSCTLS);
	before = state(false);
	run_clean("online");
	assert_connected("clean online");
	clean = state(true);
	run_clean("offline");
	{
		_cleanup_free_ char *s0 = state(false);

		vifenv_assert_same(before, s0, "clean offline after a clean online");
	}

	restore_sysctls();
	pts = trace_points(&online, nat ? "online (NAT mode)" : "online", nat ? NAT_PER_KIND : MAX_PER_KIND);
	/* The traced run was a clean online: back to the start. */
	run_clean("offline");
	for (int i = 0; i < pts.n; i++) {
		_cleanup_free_ char *s1 = NULL, *s2 = NULL;
		char what[160];

		/* (a) killed, then online: the clean-online state. */
		tl_xs_rm(XB "/hotplug-status");
		tl_xs_rm(XB "/hotplug-error");
		restore_sysctls();
		run_killed(&online, &pts.p[i], "online");
		run_clean("online");
		what_at(what, sizeof(what), "online", &pts.p[i], "online");
		assert_connected(what);
		s1 = state(true);
		vifenv_assert_same(clean, s1, what);
		run_clean("offline"); /* back to the start, checked by (b) */

		/* (b) killed again at the same point, then offline: nothing
		 * left of it. */
		restore_sysctls();
		run_killed(&online, &pts.p[i], "online");
		run_clean("offline");
		s2 = state(false);
		what_at(what, sizeof(what), "online", &pts.p[i], "offline");
		vifenv_assert_same(before, s2, what);
	}
	fprintf(stderr, "crash: online%s: %d kill points checked (repair and cleanup each)\n", nat ? " (NAT mode)" : "",
		pts.n);
	free(pts.p);
	cmd_free(&online);
}
END_TEST

/* offline (after a clean online) killed at every point: offline again
 * gives the pre-online state, and online after it the clean-online state. */
START_TEST(test_offline_killed)
{
	_cleanup_free_ char *before = NULL, *clean = NULL;
	struct cmd offline = vif_cmd("offline");
	struct points pts;

	before = state(false);
	run_clean("online");
	clean = state(true);

	pts = trace_points(&offline, "offline", MAX_PER_KIND);
	run_clean("online");
	for (int i = 0; i < pts.n; i++) {
		_cleanup_free_ char *s1 = NULL, *s2 = NULL;
		char what[160];

		run_killed(&offline, &pts.p[i], "offline");
		run_clean("offline");
		s1 = state(false);
		what_at(what, sizeof(what), "offline", &pts.p[i], "offline");
		vifenv_assert_same(before, s1, what);

		tl_xs_rm(XB "/hotplug-status");
		run_clean("online");
		s2 = state(true);
		what_at(what, sizeof(what), "offline", &pts.p[i], "offline and online");
		assert_connected(what);
		vifenv_assert_same(clean, s2, what);
	}
	fprintf(stderr, "crash: offline: %d kill points checked (cleanup and online after each)\n", pts.n);
	free(pts.p);
	cmd_free(&offline);
}
END_TEST

/* ---- setup-dnat-to-ns ---------------------------------------------------- */

#define RESOLV "/tmp/qvt-crash-resolv.conf"
#define DNS_ARGS "--dns1 10.139.1.1 --dns2 10.139.1.2 --resolv-conf " RESOLV " --resolved-conf /tmp/qvt-crash-none"
#define R1 "nameserver 192.168.1.1\nnameserver 192.168.1.2\n"
#define R2 "nameserver 10.0.0.1\n"

static void dns_setup(void)
{
	tl_netns_setup();
	setenv("XENSTORED_PATH", "/tmp/no-xenstored/socket", 1);
	unsetenv("QUBESDB_SOCKET");
	if (nft_gen)
		tl_nft_base_load();
}

static void dns_teardown(void)
{
	tl_netns_teardown();
}

/* Our chain: x_tables its header and every -A line of the nat table (the
 * jump included); nftables the rules of dnat-dns. */
static char *chain(void)
{
	if (nft_gen)
		return tl_sh("nft list chain ip qubes dnat-dns 2>/dev/null | sed -n 's/^\\t\\t//p'");
	return tl_sh("iptables-legacy-save -t nat | grep -E '^(:PR-QBS |-A )' | sed 's/ \\[[0-9]*:[0-9]*\\]$//' || true");
}

static void dns_clean(const char *resolv)
{
	_cleanup_free_ char *err = NULL;
	int r;

	tl_write_file(RESOLV, resolv);
	r = tl_run(NULL, "timeout 30 %s " DNS_ARGS " 2>" ERRF, tl_prog("SETUP_DNAT_TO_NS"));
	err = tl_slurp(ERRF);
	/* 100: the chain already held the rules, nothing committed. */
	ck_assert_msg(r == 0 || r == 100, "setup-dnat-to-ns exited %d:\n%s", r, err);
}

START_TEST(test_dns_rewrite_killed)
{
	_cleanup_free_ char *old = NULL, *new = NULL;
	struct cmd cmd = { strdup(""), NULL };
	struct points pts;
	int n_old = 0, n_new = 0;

	ck_assert_int_ge(asprintf(&cmd.prog, "%s " DNS_ARGS, tl_prog("SETUP_DNAT_TO_NS")), 0);
	dns_clean(R2);
	new = chain();
	dns_clean(R1);
	old = chain();
	ck_assert_str_ne(old, new);
	ck_assert_msg(!streq(old, "") && !streq(new, ""), "a chain is empty:\nold:\n%s\nnew:\n%s", old, new);

	tl_write_file(RESOLV, R2);
	pts = trace_points(&cmd, "setup-dnat-to-ns R1 -> R2", MAX_PER_KIND);
	for (int i = 0; i < pts.n; i++) {
		_cleanup_free_ char *mid = NULL, *after = NULL;
		char what[160];

		dns_clean(R1);
		mid = chain();
		ck_assert_msg(streq(mid, old), "setup-dnat-to-ns with R1 did not give the old set:\n%s", mid);
		free(mid);
		tl_write_file(RESOLV, R2);
		run_killed(&cmd, &pts.p[i], "setup-dnat-to-ns");
		mid = chain();
		if (streq(mid, old))
			n_old++;
		else if (streq(mid, new))
			n_new++;
		else
			ck_abort_msg("setup-dnat-to-ns killed before %s #%d: the chain holds neither exactly the old "
				     "nor exactly the new set:\n%s--- old\n%s--- new\n%s",
				     pts.p[i].name, pts.p[i].k, mid, old, new);
		dns_clean(R2);
		after = chain();
		snprintf(what, sizeof(what), "setup-dnat-to-ns killed before %s #%d, then run again", pts.p[i].name,
			 pts.p[i].k);
		vifenv_assert_same(new, after, what);
	}
	fprintf(stderr, "crash: setup-dnat-to-ns: %d kill points checked: %d left the old set, %d the new\n", pts.n,
		n_old, n_new);
	/* Both outcomes are reachable: a kill after the commit keeps the new. */
	ck_assert_int_gt(n_old, 0);
	ck_assert_int_gt(n_new, 0);
	free(pts.p);
	cmd_free(&cmd);
}
END_TEST

int main(int argc, char **argv)
{
	const char *gen = argc > 1 ? argv[1] : "xtables";
	Suite *s = suite_create("crash");
	TCase *tc;

	nft_gen = streq(gen, "nftables");
	if (tl_run(NULL, "command -v strace >/dev/null") != 0) {
		fprintf(stderr, "crash: strace is not installed\n");
		return getenv("CI") && streq(getenv("CI"), "true") ? 1 : 77;
	}

	tc = tcase_create("vif");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_online_killed);
	tcase_add_test(tc, test_offline_killed);
	suite_add_tcase(s, tc);

	tc = tcase_create("vif-nat");
	tcase_add_checked_fixture(tc, setup_nat, teardown);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_online_killed);
	suite_add_tcase(s, tc);

	tc = tcase_create("dns");
	tcase_add_checked_fixture(tc, dns_setup, dns_teardown);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, test_dns_rewrite_killed);
	suite_add_tcase(s, tc);
	return tl_main(s, true);
}
