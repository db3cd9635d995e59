/* Benchmark: latency of vif-route-qubes online and offline, invoked as
 * libxl invokes it, in a private network namespace with N other vifs
 * already online; optionally of qubes-setup-dnat-to-ns rewrites. Prints
 * markdown table rows: median and p95 in ms, and the program's peak RSS;
 * with --phases, then a breakdown of one run by phase. Not a test: it
 * asserts nothing beyond "the runs succeeded" (and, with --phases, "the
 * phase logs are whole").
 *
 *   qvt-bench --vif-route PATH --xenstored PATH [--others N] [--cycles C]
 *             [--conntrack] [--dnat PATH] [--qubesdb PATH [--nat]]
 *             [--nft-base PATH] [--empty-static PATH] [--empty-dynamic PATH]
 *             [--version-rows] [--phases] [--smoke] [--before PATH [--before-dnat PATH]]
 *
 * --nft-base PATH: the nftables generation (Qubes R4.2+): the base ruleset
 * at PATH is loaded with nft(8) into the namespace before any vif, so the
 * programs choose their nftables backend (--firewall=auto) and the N other
 * vifs are elements of its sets; without it, the x_tables generation, and
 * the N other vifs are raw rules. Either way the run checks, before
 * timing, that the target vif's anti-spoofing landed in the expected
 * backend and nowhere else, so a row never measures the wrong one.
 *
 * --conntrack keeps one unrelated connection tracked in the namespace, so
 * every online pays for the purge's walk of the kernel's conntrack table
 * (as a busy netvm does); without it the namespace tracks nothing and the
 * walk is skipped.
 * --empty-static PATH, --empty-dynamic PATH: a row each for spawning that
 * program (the build's empty main, linked statically or dynamically) the
 * same way: the floors. No program linked like ours can start and exit
 * faster on the machine, so they say how much of a run is the process
 * itself. --version-rows: a row for `vif-route-qubes --version` (and
 * `qubes-setup-dnat-to-ns --version` with --dnat): our program's start
 * and exit, its libraries loaded, with no work.
 * --phases: after the timed cycles (so no row is measured with the log
 * on), as many more online+offline cycles with $QVT_PHASE_LOG set; the
 * program must be built with -Dphase_times=true, or the bench fails. Each
 * run's log gives the time spent in each phase, which are printed as a
 * table of medians per phase, online and offline.
 * --before PATH (and --before-dnat PATH): an earlier build's vif-route-qubes
 * (and qubes-setup-dnat-to-ns, for its --version row): every online and
 * offline cycle, and every --version spawn, is made by both builds in
 * turn, and each row comes again for the earlier build, labelled
 * ", before". Interleaved, a before/after comparison survives the drift of
 * a shared machine that separate runs minutes apart do not.
 * --smoke: run as a test (exit 77, "skipped", without privileges unless
 * CI=true).
 * --qubesdb PATH: the domain's keys in the test QubesDB daemon at PATH (as
 * on Qubes) instead of xenstore, plus the cost of one READ round trip to
 * each store, measured in-process on one connection. Every vif's client
 * then has its mapped-ip keys there as dom0 writes them (visible-ip = its
 * own address), so no online waits for them.
 * --nat (with --qubesdb): the target's client has another visible-ip
 * (net.fake-ip), so every online builds NAT mode's namespace vif1.0-nat
 * (veth pair, translation table) and every offline removes it; the run
 * checks that it does, and without --nat that no named namespace ever
 * appears. Named namespaces live in a /run/netns private to the bench and
 * are removed at exit, also when a run fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

extern char **environ;

static const char *vif_route;
/* --before PATH, --before-dnat PATH: an earlier build's programs, run
 * alternately with ours (see main). */
static const char *vif_route_before, *dnat_before;
/* The vif-route-qubes run_vif spawns. */
static const char *vif_prog;
static const char *xenstored;
static const char *qubesdb;
static const char *nft_base;
static bool nat;
static char workdir[] = "/tmp/qvt-bench.XXXXXX";

/* The benchmarked vif: vif1.0, client 10.137.0.3 (fd09::1). */
#define TARGET 1
#define TARGET_VIF "vif1.0"
/* --nat: what the client sees instead, as dom0 writes it for a qube with
 * net.fake-ip (Whonix's addresses); the namespace NAT mode makes. */
#define NAT_VISIBLE_IP "10.152.152.11"
#define NAT_VISIBLE_GATEWAY "10.152.152.10"
#define TARGET_NAT_NS TARGET_VIF "-nat"

/* CLOCK_MONOTONIC, the clock of the programs' phase logs. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double now_us(void)
{
	return now_ns() / 1e3;
}

/* When a child was spawned and when it was reaped (now_ns). */
struct span {
	uint64_t t0, t1;
};

static void die(const char *what)
{
	fprintf(stderr, "qvt-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int sh(const char *cmd)
{
	int r = system(cmd);

	return WIFEXITED(r) ? WEXITSTATUS(r) : 1;
}

/* Spawns argv and waits; returns microseconds, or -1 when the exit status
 * was not one of ok1/ok2. *rss (KiB) is raised to the child's peak; with
 * ret_span, the times of spawn and reaping are stored there. */
static double run_timed(char *const argv[], int ok1, int ok2, long *rss, struct span *ret_span)
{
	posix_spawn_file_actions_t fa;
	char log[96];
	struct rusage ru;
	pid_t pid;
	int status;
	uint64_t t0, t1;

	/* The programs' messages go to a log, shown only when a run fails;
	 * so does stdout (--version), which would break the table. */
	snprintf(log, sizeof(log), "%s/child.log", workdir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	t0 = now_ns();
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		die("posix_spawn");
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4");
	t1 = now_ns();
	posix_spawn_file_actions_destroy(&fa);
	if (ret_span)
		*ret_span = (struct span){ t0, t1 };
	if (rss && ru.ru_maxrss > *rss)
		*rss = ru.ru_maxrss;
	if (!WIFEXITED(status) || (WEXITSTATUS(status) != ok1 && WEXITSTATUS(status) != ok2)) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "cat %s >&2", log);
		sh(cmd);
		return -1;
	}
	return (t1 - t0) / 1e3;
}

static long vif_rss, dnat_rss, before_rss;

static const char *backend_name(void)
{
	return nft_base ? "nftables" : "x_tables";
}

/* The target's anti-spoofing is in the generation's backend, and only
 * there (run after an online of vif1.0 with 10.137.0.3). */
static void check_backend(void)
{
	int nft = sh("nft list set ip qubes allowed 2>/dev/null | grep -q '\"vif1.0\" . 10.137.0.3'") == 0;
	int ipt = sh("iptables-legacy-save -t raw 2>/dev/null | grep -q -- '-i vif1.0 '") == 0;

	if (nft != (nft_base != NULL) || ipt != (nft_base == NULL)) {
		fprintf(stderr, "qvt-bench: expected the %s backend, but vif1.0's anti-spoofing is %s%s%s\n",
			backend_name(), nft ? "in the nftables set" : "", nft && ipt ? " and " : "",
			ipt ? "in the x_tables raw table" : !nft ? "nowhere" : "");
		exit(1);
	}
}

/* --nat, after an online: the target is in NAT mode as SPEC.md says --
 * the Xen vif inside its namespace with the veth's inner end, the
 * translation table there for the visible address, and the netvm's
 * `vif1.0` the veth end with MAC fe:ff:ff:ff:ff:ff; after an offline:
 * the Xen vif (here a veth to c1) back in the netvm. A row that says NAT
 * mode measures it. */
static void check_nat(bool online)
{
	const char *why = NULL;

	if (online) {
		if (sh("ip -n " TARGET_NAT_NS " link show dev " TARGET_VIF " >/dev/null 2>&1") != 0)
			why = "the Xen vif is not in the namespace";
		else if (sh("ip -n " TARGET_NAT_NS " link show dev " TARGET_VIF "-p >/dev/null 2>&1") != 0)
			why = "no veth " TARGET_VIF "-p in the namespace";
		else if (sh("ip netns exec " TARGET_NAT_NS " nft list table netdev antispoof 2>/dev/null"
			    " | grep -q " NAT_VISIBLE_IP) != 0)
			why = "no translation table for " NAT_VISIBLE_IP " in the namespace";
		else if (sh("ip link show dev " TARGET_VIF " 2>/dev/null | grep -q 'link/ether fe:ff:ff:ff:ff:ff'") != 0)
			why = "the netvm's " TARGET_VIF " is not the veth end (fe:ff:ff:ff:ff:ff)";
	} else if (sh("ip -o link show dev " TARGET_VIF " 2>/dev/null | grep -q '^[0-9]*: " TARGET_VIF "@c1:'") != 0)
		why = "the Xen vif (the veth to c1) is not back in the netvm";
	if (why) {
		fprintf(stderr, "qvt-bench: after %s in NAT mode, %s\n", online ? "online" : "offline", why);
		exit(1);
	}
}

/* Whether the last run's messages mention s. */
static bool child_log_has(const char *s)
{
	char path[96], buf[16384];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/child.log", workdir);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, s) != NULL;
}

/* Runs vif-route-qubes CMD for vifD.0; returns microseconds or -1 (and
 * with ret_span, when it was spawned and reaped). */
static double run_vif(unsigned domid, const char *cmd, struct span *ret_span)
{
	char vif[32], xb[64], *argv[] = { (char *)(vif_prog ? vif_prog : vif_route), (char *)cmd, (char *)"type_if=vif",
					  NULL };
	double t;

	snprintf(vif, sizeof(vif), "vif%u.0", domid);
	snprintf(xb, sizeof(xb), "backend/vif/%u/0", domid);
	setenv("vif", vif, 1);
	setenv("XENBUS_PATH", xb, 1);
	t = run_timed(argv, 0, 0, vif_prog && vif_prog == vif_route_before ? &before_rss : &vif_rss, ret_span);
	if (t < 0)
		fprintf(stderr, "qvt-bench: vif-route-qubes %s %s failed\n", cmd, vif);
	/* From QubesDB, an online whose client lacks its mapped-ip keys
	 * waits for them (2 s) and then warns: the row would measure the
	 * wait. */
	else if (qubesdb && strcmp(cmd, "online") == 0 && child_log_has("mapped-ip")) {
		char show[128];

		snprintf(show, sizeof(show), "cat %s/child.log >&2", workdir);
		sh(show);
		fprintf(stderr, "qvt-bench: vif-route-qubes online %s waited for its mapped-ip keys\n", vif);
		t = -1;
	}
	return t;
}

/* Starts argv (serving on sock, in the foreground) as a child that dies
 * with us, sets env_var to sock, and waits until sock accepts. */
static pid_t start_daemon(char *const argv[], const char *sock, const char *env_var)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		_exit(127);
	}
	setenv(env_var, sock, 1);
	for (int i = 0; i < 500; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return pid;
		usleep(10000);
	}
	fprintf(stderr, "qvt-bench: %s did not start\n", argv[0]);
	exit(1);
}

static pid_t start_xenstored(void)
{
	static char sock[64];
	char *argv[] = { (char *)xenstored, (char *)"--socket", sock, NULL };

	snprintf(sock, sizeof(sock), "%s/xenstored.sock", workdir);
	return start_daemon(argv, sock, "XENSTORED_PATH");
}

static pid_t start_qubesdb(void)
{
	static char sock[64];
	char *argv[] = { (char *)qubesdb, (char *)"--socket", sock, (char *)"--set",
			 (char *)"/qubes-netvm-gateway=10.137.0.1", (char *)"--set", (char *)"/qubes-netvm-gateway6=fd09::1",
			 (char *)"--set", (char *)"/qubes-netvm-primary-dns=10.139.1.1", NULL };

	snprintf(sock, sizeof(sock), "%s/qubesdb.sock", workdir);
	return start_daemon(argv, sock, "QUBESDB_SOCKET");
}

static void row(const char *label, double *v, unsigned n, long rss_kib);

#define NETNS_DIR "/run/netns"

/* Every named network namespace goes at exit, whatever the exit: its
 * bind mount and its file, then our /run/netns itself. (Killed by a
 * signal, the kernel does the same when our mount namespace dies with
 * its last process.) */
static void remove_named_netns(void)
{
	DIR *d = opendir(NETNS_DIR);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char p[300];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", NETNS_DIR, e->d_name);
		umount2(p, MNT_DETACH);
		unlink(p);
	}
	if (d)
		closedir(d);
	umount2(NETNS_DIR, MNT_DETACH);
}

/* Named network namespaces (as `ip netns add` makes, and NAT mode's
 * VIF-nat) land in a /run/netns of our own: a tmpfs in our mount
 * namespace, so the host's /run/netns never sees them. Creating the
 * directory itself, when the host has none, is what `ip netns` does. */
static void private_netns_dir(void)
{
	if ((mkdir("/run", 0755) < 0 && errno != EEXIST) || (mkdir(NETNS_DIR, 0755) < 0 && errno != EEXIST))
		die("mkdir " NETNS_DIR);
	if (mount("tmpfs", NETNS_DIR, "tmpfs", 0, "mode=0755") < 0)
		die("mount " NETNS_DIR);
	atexit(remove_named_netns);
}

/* The named network namespaces are exactly those expected: none, or
 * (expect non-NULL) that one alone. */
static void check_named_netns(const char *expect, const char *when)
{
	DIR *d = opendir(NETNS_DIR);
	struct dirent *e;
	bool found = false;

	if (!d)
		die("opendir " NETNS_DIR);
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (expect && strcmp(e->d_name, expect) == 0) {
			found = true;
			continue;
		}
		fprintf(stderr, "qvt-bench: %s, an unexpected named network namespace '%s'\n", when, e->d_name);
		closedir(d);
		exit(1);
	}
	closedir(d);
	if (expect && !found) {
		fprintf(stderr, "qvt-bench: %s, no named network namespace '%s'\n", when, expect);
		exit(1);
	}
}

/* The scratch directory goes at exit, whatever the exit. */
static void remove_workdir(void)
{
	umount2(workdir, MNT_DETACH);
	rmdir(workdir);
}

/* Killed by a signal (^C, a closed pipe such as `| head`), the scratch
 * directory goes too (umount2 and rmdir are async-signal-safe); the named
 * namespaces and our mounts go with our mount namespace. */
static void on_fatal_signal(int sig)
{
	remove_workdir();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One QubesDB request on fd: the 72-byte header (and value) out, the
 * reply header and its payload back; 0 when the reply's type is `expect`
 * (the protocol of SPEC.md, written out here so the bench stays
 * independent of the client it measures). */
static int qdb_request(int fd, unsigned char type, const char *path, const char *value, unsigned char expect)
{
	unsigned char h[72 + 3072] = { 0 }, r[72 + 3072];
	uint32_t len = value ? (uint32_t)strlen(value) : 0;
	size_t got = 0;

	if (strlen(path) >= 64 || len >= 3072)
		return -1;
	h[0] = type;
	memcpy(h + 1, path, strlen(path));
	memcpy(h + 68, &len, 4);
	if (len)
		memcpy(h + 72, value, len);
	if (write(fd, h, 72 + len) != (ssize_t)(72 + len))
		return -1;
	while (got < 72) {
		ssize_t k = read(fd, r + got, 72 - got);

		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	memcpy(&len, r + 68, 4);
	if (r[0] != expect || len >= 3072)
		return -1;
	while (got < 72 + len) {
		ssize_t k = read(fd, r + got, 72 + len - got);

		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

/* One READ: answered by RESP_READ (10). */
static int qdb_read_once(int fd, const char *path)
{
	return qdb_request(fd, 0, path, NULL, 10);
}

/* A connection to the test QubesDB daemon ($QUBESDB_SOCKET). */
static int qdb_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", getenv("QUBESDB_SOCKET"));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect to qubesdb");
	return fd;
}

/* A WRITE: answered by RESP_OK (7). */
static void qdb_put(int fd, const char *path, const char *value)
{
	if (qdb_request(fd, 1, path, value, 7) < 0) {
		fprintf(stderr, "qvt-bench: writing %s to QubesDB failed\n", path);
		exit(1);
	}
}

/* Rows: one READ round trip to QubesDB and to xenstore, on one connection. */
static void bench_round_trips(unsigned cycles, double *v)
{
	struct xs_handle *h;
	int fd = qdb_connect();

	for (unsigned i = 0; i < cycles; i++) {
		double t0 = now_us();

		if (qdb_read_once(fd, "/qubes-netvm-gateway") < 0)
			die("qubesdb read");
		v[i] = now_us() - t0;
	}
	close(fd);
	row("one QubesDB READ round trip (test daemon)", v, cycles, 0);

	h = xs_open(0);
	if (!h)
		die("xs_open");
	for (unsigned i = 0; i < cycles; i++) {
		double t0 = now_us();
		char *x = xs_read(h, XBT_NULL, "/local/domain/0/backend/vif/1/0/ip", NULL);

		if (!x)
			die("xs_read");
		free(x);
		v[i] = now_us() - t0;
	}
	xs_close(h);
	row("one xenstore READ round trip (test daemon, libxenstore)", v, cycles, 0);
}

static void xs_put(struct xs_handle *h, const char *path, const char *value)
{
	if (!xs_write(h, XBT_NULL, path, value, strlen(value)))
		die(path);
}

/* The client ip4's mapped-ip keys in QubesDB, as dom0 writes them for
 * every client of the netvm: visible-ip is the client's own address and
 * visible-gateway the netvm's gateway, unless the client is in NAT mode
 * (net.fake-ip). Without them an online from QubesDB would wait for them
 * (--mapped-ip-wait, 2 s) and the rows would measure that wait. */
static void map_client(int qfd, const char *ip4, bool nat_client)
{
	char key[64];

	snprintf(key, sizeof(key), "/mapped-ip/%s/visible-ip", ip4);
	qdb_put(qfd, key, nat_client ? NAT_VISIBLE_IP : ip4);
	snprintf(key, sizeof(key), "/mapped-ip/%s/visible-gateway", ip4);
	qdb_put(qfd, key, nat_client ? NAT_VISIBLE_GATEWAY : "10.137.0.1");
}

/* vifD.0 for D in [first, first+n), each with an address and a MAC, and
 * with qfd >= 0 the address's mapped-ip keys in QubesDB (NAT mode for
 * the target with --nat). */
static void make_vifs(struct xs_handle *h, int qfd, unsigned first, unsigned n)
{
	char path[96], cmd[128];
	FILE *batch;

	snprintf(path, sizeof(path), "%s/veth.batch", workdir);
	batch = fopen(path, "we");
	if (!batch)
		die("batch file");
	for (unsigned d = first; d < first + n; d++) {
		char key[96], ip4[32], val[64];

		fprintf(batch, "link add vif%u.0 type veth peer name c%u\n", d, d);
		snprintf(key, sizeof(key), "/local/domain/0/backend/vif/%u/0/ip", d);
		snprintf(ip4, sizeof(ip4), "10.137.%u.%u", d / 250, d % 250 + 2);
		snprintf(val, sizeof(val), "%s fd09::%x", ip4, d);
		xs_put(h, key, val);
		snprintf(key, sizeof(key), "/local/domain/0/backend/vif/%u/0/mac", d);
		snprintf(val, sizeof(val), "00:16:3e:%02x:%02x:%02x", (d >> 16) & 0xff, (d >> 8) & 0xff, d & 0xff);
		xs_put(h, key, val);
		if (qfd >= 0)
			map_client(qfd, ip4, nat && d == TARGET);
	}
	fclose(batch);
	snprintf(cmd, sizeof(cmd), "ip -batch %s", path);
	if (sh(cmd) != 0) {
		fprintf(stderr, "qvt-bench: creating veth pairs failed\n");
		exit(1);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double percentile(double *v, unsigned n, double p)
{
	unsigned i = (unsigned)(p * (n - 1) + 0.5);

	qsort(v, n, sizeof(*v), cmp_double);
	return v[i];
}

/* One markdown row: label | median | p95 | peak RSS. */
static void row(const char *label, double *v, unsigned n, long rss_kib)
{
	double med = percentile(v, n, 0.5) / 1e3, p95 = percentile(v, n, 0.95) / 1e3;

	if (rss_kib > 0)
		printf("| %s | %.2f | %.2f | %.2f |\n", label, med, p95, rss_kib / 1024.0);
	else
		printf("| %s | %.2f | %.2f | |\n", label, med, p95);
	fflush(stdout);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die(path);
}

/* The DNS rules are in the generation's backend, and only there. */
static void check_dnat_backend(void)
{
	int nft = sh("nft list chain ip qubes dnat-dns 2>/dev/null | grep -q 'dport 53'") == 0;
	int ipt = sh("iptables-legacy-save -t nat 2>/dev/null | grep -q '^-A PR-QBS '") == 0;

	if (nft != (nft_base != NULL) || ipt != (nft_base == NULL)) {
		fprintf(stderr, "qvt-bench: expected the %s backend, but the DNS rules are %s%s%s\n", backend_name(),
			nft ? "in chain dnat-dns" : "", nft && ipt ? " and " : "",
			ipt ? "in the x_tables chain PR-QBS" : !nft ? "nowhere" : "");
		exit(1);
	}
}

/* qubes-setup-dnat-to-ns: rewrites that change the rules (two resolv.conf
 * files in turn), then runs that find them right (exit 100). */
static void bench_dnat(const char *dnat, unsigned cycles, double *v)
{
	char a[96], b[96], label[96];
	char *argv[] = { (char *)dnat, (char *)"--dns1", (char *)"10.139.1.1", (char *)"--dns2", (char *)"10.139.1.2",
			 (char *)"--resolv-conf", a, NULL };

	snprintf(a, sizeof(a), "%s/resolv.a", workdir);
	snprintf(b, sizeof(b), "%s/resolv.b", workdir);
	write_file(a, "nameserver 192.168.1.1\nnameserver 192.168.1.2\n");
	write_file(b, "nameserver 10.0.0.1\n");
	for (unsigned i = 0; i < cycles; i++) {
		argv[6] = i % 2 ? b : a;
		v[i] = run_timed(argv, 0, 0, &dnat_rss, NULL);
		if (v[i] < 0) {
			fprintf(stderr, "qvt-bench: a changing qubes-setup-dnat-to-ns run did not exit 0\n");
			exit(1);
		}
		if (i == 0)
			check_dnat_backend();
	}
	snprintf(label, sizeof(label), "qubes-setup-dnat-to-ns, %s, rules change (exit 0)", backend_name());
	row(label, v, cycles, dnat_rss);
	argv[6] = a;
	for (unsigned i = 0; i < cycles; i++) {
		v[i] = run_timed(argv, 100, i == 0 ? 0 : 100, &dnat_rss, NULL);
		if (v[i] < 0) {
			fprintf(stderr, "qvt-bench: an unchanged qubes-setup-dnat-to-ns run did not exit 100\n");
			exit(1);
		}
	}
	snprintf(label, sizeof(label), "qubes-setup-dnat-to-ns, %s, unchanged (exit 100)", backend_name());
	row(label, v, cycles, dnat_rss);
}

/* --phases: the breakdown's rows, in the order a run goes through them.
 * "start", "exit" and "total" the bench measures around the program's
 * marks; the others are the phase names of common/phase.c. */
static const struct {
	const char *name, *label;
} phase_rows[] = {
	{ "start", "process start and library init (spawn → main)" },
	{ "main", "`main`: arguments, logging" },
	{ "store", "`store`: xenstore and QubesDB reads" },
	{ "lock", "`lock`: the per-vif lock" },
	{ "kernel-open", "`kernel-open`: netlink sockets, firewall probe and open" },
	{ "probe", "`probe`: what the kernel holds for the vif" },
	{ "plan", "`plan`" },
	{ "sysctl", "`sysctl`: sysctl writes" },
	{ "firewall", "`firewall`: anti-spoofing commit" },
	{ "flowtable", "`flowtable`: recreating table inet qubes-nat-accel (nftables)" },
	{ "netlink", "`netlink`: link, neighbour, routes, addresses" },
	{ "conntrack", "`conntrack`: purge" },
	{ "hooks", "`hooks`" },
	{ "nat", "`nat`: NAT mode's namespace, veth, table" },
	{ "report", "`report`: hotplug-status to xenstore" },
	{ "log", "`log`: the run's syslog line" },
	{ "cleanup", "`cleanup`: closing handles" },
	{ "exit", "exit (end of main → reaped; process teardown)" },
	{ "total", "**total** (spawn → reaped)" },
};
#define N_PHASE_ROWS (sizeof(phase_rows) / sizeof(phase_rows[0]))
#define ROW_START 0
#define ROW_EXIT (N_PHASE_ROWS - 2)
#define ROW_TOTAL (N_PHASE_ROWS - 1)

/* The row of one of the program's phase names, or -1. */
static int phase_row(const char *name)
{
	for (unsigned r = ROW_START + 1; r < ROW_EXIT; r++)
		if (strcmp(phase_rows[r].name, name) == 0)
			return (int)r;
	return -1;
}

static void phase_log_bad(const char *what, const char *why)
{
	fprintf(stderr, "qvt-bench: --phases: the phase log of %s %s\n", what, why);
	exit(1);
}

/* The phase log at path of the run sp timed: nanoseconds per row into
 * ret, seen[] set for the phases it entered. A log missing, cut short,
 * or not on our clock fails the bench: a breakdown from it would
 * attribute time wrongly. */
static void read_phase_log(const char *path, const char *what, const struct span *sp, uint64_t ret[N_PHASE_ROWS],
			   bool seen[N_PHASE_ROWS])
{
	FILE *f = fopen(path, "re");
	char name[32];
	unsigned long long ns;
	uint64_t prev_ns = sp->t0;
	int prev = -1, k;
	bool end = false;

	if (!f) {
		fprintf(stderr, "qvt-bench: --phases: %s wrote no phase log ($QVT_PHASE_LOG): "
				"is it built with meson -Dphase_times=true?\n", what);
		exit(1);
	}
	memset(ret, 0, N_PHASE_ROWS * sizeof(*ret));
	while ((k = fscanf(f, "%31s %llu", name, &ns)) == 2) {
		if (end)
			phase_log_bad(what, "goes on after its end line");
		/* Before the spawn, or backwards: not CLOCK_MONOTONIC. */
		if (ns < prev_ns)
			phase_log_bad(what, "has a time before the one above it (or before the spawn)");
		if (prev < 0)
			ret[ROW_START] = ns - prev_ns;
		else
			ret[prev] += ns - prev_ns;
		prev_ns = ns;
		if (strcmp(name, "overflow") == 0)
			phase_log_bad(what, "says marks were lost (overflow)");
		if (strcmp(name, "end") == 0) {
			if (prev < 0)
				phase_log_bad(what, "has no phase before its end line");
			end = true;
			continue;
		}
		prev = phase_row(name);
		if (prev < 0) {
			fprintf(stderr, "qvt-bench: --phases: the phase log of %s names an unknown phase '%s'\n",
				what, name);
			exit(1);
		}
		seen[prev] = true;
	}
	fclose(f);
	if (k != EOF)
		phase_log_bad(what, "has a line that is not \"NAME NS\"");
	if (!end)
		phase_log_bad(what, "has no end line");
	if (prev_ns > sp->t1)
		phase_log_bad(what, "ends after the program was reaped");
	ret[ROW_EXIT] = sp->t1 - prev_ns;
	ret[ROW_TOTAL] = sp->t1 - sp->t0;
}

/* One run of vif-route-qubes CMD for the target with the phase log on;
 * its phases (ms) into v[row * cycles + i]. */
static void phase_run(const char *path, const char *cmd, unsigned i, unsigned cycles, double *v,
		      bool seen[N_PHASE_ROWS])
{
	struct span sp;
	uint64_t t[N_PHASE_ROWS];
	char what[64];

	/* A log left by the run before must not pass for this one's. */
	if (unlink(path) < 0 && errno != ENOENT)
		die(path);
	if (run_vif(TARGET, cmd, &sp) < 0)
		exit(1);
	snprintf(what, sizeof(what), "vif-route-qubes %s", cmd);
	read_phase_log(path, what, &sp, t, seen);
	for (unsigned r = 0; r < N_PHASE_ROWS; r++)
		v[r * cycles + i] = t[r] / 1e6;
}

static void median_cell(double *v, unsigned n, bool seen, char *buf, size_t size)
{
	if (seen)
		snprintf(buf, size, "%.3f", percentile(v, n, 0.5));
	else
		snprintf(buf, size, "–");
}

/* --phases: cycles more online+offline cycles with the phase log on;
 * returns the table of their medians per phase (label says which run),
 * for main to print after every row. */
static char *bench_phases(const char *label, unsigned cycles)
{
	char path[96], *text = NULL;
	size_t size;
	FILE *t;
	double *on = calloc(N_PHASE_ROWS * cycles, sizeof(double)), *off = calloc(N_PHASE_ROWS * cycles, sizeof(double));
	bool seen_on[N_PHASE_ROWS] = { false }, seen_off[N_PHASE_ROWS] = { false };

	if (!on || !off)
		die("calloc");
	seen_on[ROW_START] = seen_on[ROW_EXIT] = seen_on[ROW_TOTAL] = true;
	seen_off[ROW_START] = seen_off[ROW_EXIT] = seen_off[ROW_TOTAL] = true;
	snprintf(path, sizeof(path), "%s/phase.log", workdir);
	setenv("QVT_PHASE_LOG", path, 1);
	for (unsigned i = 0; i < cycles; i++) {
		phase_run(path, "online", i, cycles, on, seen_on);
		check_named_netns(nat ? TARGET_NAT_NS : NULL, "after online");
		phase_run(path, "offline", i, cycles, off, seen_off);
		check_named_netns(NULL, "after offline");
	}
	/* Nothing after this (the DNS rewrites) runs with the log on. */
	unsetenv("QVT_PHASE_LOG");

	t = open_memstream(&text, &size);
	if (!t)
		die("open_memstream");
	fprintf(t, "\nBreakdown of one run by phase, %s (medians of %u runs with the phase log on), ms:\n\n",
		label, cycles);
	fprintf(t, "| phase | online median ms | offline median ms |\n");
	fprintf(t, "|---|---:|---:|\n");
	for (unsigned r = 0; r < N_PHASE_ROWS; r++) {
		char a[32], b[32];

		if (!seen_on[r] && !seen_off[r])
			continue;
		median_cell(on + r * cycles, cycles, seen_on[r], a, sizeof(a));
		median_cell(off + r * cycles, cycles, seen_off[r], b, sizeof(b));
		fprintf(t, "| %s | %s | %s |\n", phase_rows[r].label, a, b);
	}
	fprintf(t, "\nEach phase's median is taken on its own, so they do not add up exactly to the total's median; "
	       "a phase the program enters more than once counts all its stretches; – : never entered.\n");
	if (fclose(t) != 0)
		die("open_memstream");
	free(on);
	free(off);
	return text;
}

/* A row for spawning `path [arg]`, cycles times, the same way as the
 * programs (exit 0 expected). */
static void spawn_row(const char *label, const char *path, const char *arg, unsigned cycles, double *v)
{
	char *argv[] = { (char *)path, (char *)arg, NULL };
	long rss = 0;

	for (unsigned i = 0; i < cycles; i++) {
		v[i] = run_timed(argv, 0, 0, &rss, NULL);
		if (v[i] < 0) {
			fprintf(stderr, "qvt-bench: %s did not exit 0\n", label);
			exit(1);
		}
	}
	row(label, v, cycles, rss);
}

/* The online, offline and online+offline rows of one build's cycles. */
static void cycle_rows(const char *label, const char *suffix, double *on, double *off, double *cyc, unsigned cycles,
		       long rss)
{
	char l[192];

	snprintf(l, sizeof(l), "vif-route-qubes online, %s%s", label, suffix);
	row(l, on, cycles, rss);
	snprintf(l, sizeof(l), "vif-route-qubes offline, %s%s", label, suffix);
	row(l, off, cycles, rss);
	snprintf(l, sizeof(l), "**online+offline**, %s%s", label, suffix);
	row(l, cyc, cycles, rss);
}

/* spawn_row for ours and, alternately in the same loop, an earlier
 * build's (the row labelled LABEL ", before"). */
static void spawn_rows_vs(const char *label, const char *path, const char *before, const char *arg, unsigned cycles,
			  double *v, double *vb)
{
	char *argv[] = { (char *)path, (char *)arg, NULL }, *argv_b[] = { (char *)before, (char *)arg, NULL };
	char lb[160];
	long rss = 0, rss_b = 0;

	for (unsigned i = 0; i < cycles; i++) {
		/* Each goes first in every other cycle: neither gets a warmer start. */
		if (i % 2)
			vb[i] = run_timed(argv_b, 0, 0, &rss_b, NULL);
		v[i] = run_timed(argv, 0, 0, &rss, NULL);
		if (!(i % 2))
			vb[i] = run_timed(argv_b, 0, 0, &rss_b, NULL);
		if (v[i] < 0 || vb[i] < 0) {
			fprintf(stderr, "qvt-bench: %s did not exit 0\n", label);
			exit(1);
		}
	}
	row(label, v, cycles, rss);
	snprintf(lb, sizeof(lb), "%s, before", label);
	row(lb, vb, cycles, rss_b);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vif-route", required_argument, NULL, 'p' },
		{ "xenstored", required_argument, NULL, 'x' },
		{ "others", required_argument, NULL, 'n' },
		{ "cycles", required_argument, NULL, 'c' },
		{ "conntrack", no_argument, NULL, 'C' },
		{ "dnat", required_argument, NULL, 'd' },
		{ "empty-static", required_argument, NULL, 'S' },
		{ "empty-dynamic", required_argument, NULL, 'D' },
		{ "version-rows", no_argument, NULL, 'V' },
		{ "phases", no_argument, NULL, 'P' },
		{ "before", required_argument, NULL, 'B' },
		{ "before-dnat", required_argument, NULL, 'b' },
		{ "smoke", no_argument, NULL, 's' },
		{ "qubesdb", required_argument, NULL, 'q' },
		{ "nft-base", required_argument, NULL, 'N' },
		{ "nat", no_argument, NULL, 'A' },
		{},
	};
	unsigned others = 0, cycles = 100;
	bool conntrack = false, version_rows = false, phases = false, smoke = false;
	const char *dnat = NULL, *empty_static = NULL, *empty_dynamic = NULL;
	char path[96], label[128], *breakdown = NULL;
	double *on, *off, *cyc, *on_b, *off_b, *cyc_b;
	struct xs_handle *h;
	pid_t xs, qdb = 0;
	int opt, qfd = -1;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
		switch (opt) {
		case 'p':
			vif_route = optarg;
			break;
		case 'x':
			xenstored = optarg;
			break;
		case 'n':
			others = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			cycles = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'C':
			conntrack = true;
			break;
		case 'd':
			dnat = optarg;
			break;
		case 'S':
			empty_static = optarg;
			break;
		case 'D':
			empty_dynamic = optarg;
			break;
		case 'V':
			version_rows = true;
			break;
		case 'B':
			vif_route_before = optarg;
			break;
		case 'b':
			dnat_before = optarg;
			break;
		case 'P':
			phases = true;
			break;
		case 's':
			smoke = true;
			break;
		case 'q':
			qubesdb = optarg;
			break;
		case 'N':
			nft_base = optarg;
			break;
		case 'A':
			nat = true;
			break;
		default:
			return 2;
		}
	}
	if (!vif_route || !xenstored || cycles == 0 || others > 20000) {
		fprintf(stderr, "usage: qvt-bench --vif-route PATH --xenstored PATH [--others N] [--cycles C] "
				"[--conntrack] [--dnat PATH] [--qubesdb PATH [--nat]] [--nft-base PATH] "
				"[--empty-static PATH] [--empty-dynamic PATH] [--version-rows] [--phases] [--smoke] "
				"[--before PATH [--before-dnat PATH]]\n");
		return 2;
	}
	if (nat && !qubesdb) {
		/* The mapped-ip keys have dots in their path: only QubesDB holds them. */
		fprintf(stderr, "qvt-bench: --nat needs --qubesdb\n");
		return 2;
	}

	/* Everything below happens in a namespace of our own: the host's
	 * interfaces, rules and files are never touched. */
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0) {
		const char *ci = getenv("CI");

		/* As a test (--smoke): skipped without privileges, except in CI. */
		if (smoke && errno == EPERM && !(ci && strcmp(ci, "true") == 0)) {
			fprintf(stderr, "qvt-bench: needs root and unshare(CLONE_NEWNET): skipped\n");
			return 77;
		}
		die("unshare (needs root)");
	}
	if (mount("none", "/", "none", MS_REC | MS_SLAVE, NULL) < 0)
		die("private mounts");
	private_netns_dir();
	/* A scratch directory of our own (the build tree may be under /tmp,
	 * so /tmp itself stays as it is). */
	if (!mkdtemp(workdir))
		die("scratch directory");
	atexit(remove_workdir); /* also when a run fails */
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGHUP, on_fatal_signal);
	signal(SIGPIPE, on_fatal_signal);
	if (mount("tmpfs", workdir, "tmpfs", 0, "mode=0700") < 0)
		die("scratch directory");
	snprintf(path, sizeof(path), "%s/xtables.lock", workdir);
	setenv("XTABLES_LOCKFILE", path, 1);
	snprintf(path, sizeof(path), "%s/vif-locks", workdir);
	setenv("VIF_ROUTE_QUBES_LOCK_DIR", path, 1);
	sh("ip link set lo up");
	if (nft_base) {
		char cmd[1200];

		/* As a Qubes R4.2+ netvm at boot, before any vif. */
		snprintf(cmd, sizeof(cmd), "nft -f '%s'", nft_base);
		if (strchr(nft_base, '\'') || sh(cmd) != 0) {
			fprintf(stderr, "qvt-bench: loading the base ruleset %s failed\n", nft_base);
			return 1;
		}
	}

	on = calloc(cycles, sizeof(double));
	off = calloc(cycles, sizeof(double));
	cyc = calloc(cycles, sizeof(double));
	on_b = calloc(cycles, sizeof(double));
	off_b = calloc(cycles, sizeof(double));
	cyc_b = calloc(cycles, sizeof(double));
	if (!on || !off || !cyc || !on_b || !off_b || !cyc_b)
		die("calloc");

	if (empty_static)
		spawn_row("empty static program (floor)", empty_static, NULL, cycles, cyc);
	if (empty_dynamic)
		spawn_row("empty dynamic program (floor)", empty_dynamic, NULL, cycles, cyc);
	if (version_rows && vif_route_before)
		spawn_rows_vs("vif-route-qubes --version", vif_route, vif_route_before, "--version", cycles, cyc, on);
	else if (version_rows)
		spawn_row("vif-route-qubes --version", vif_route, "--version", cycles, cyc);
	if (version_rows && dnat && dnat_before)
		spawn_rows_vs("qubes-setup-dnat-to-ns --version", dnat, dnat_before, "--version", cycles, cyc, on);
	else if (version_rows && dnat)
		spawn_row("qubes-setup-dnat-to-ns --version", dnat, "--version", cycles, cyc);

	xs = start_xenstored();
	h = xs_open(0);
	if (!h)
		die("xs_open");
	if (qubesdb) {
		qdb = start_qubesdb();
		qfd = qdb_connect();
	} else {
		unsetenv("QUBESDB_SOCKET");
		xs_put(h, "/local/domain/0/qubes-netvm-gateway", "10.137.0.1");
		xs_put(h, "/local/domain/0/qubes-netvm-gateway6", "fd09::1");
	}
	make_vifs(h, qfd, TARGET, 1);
	if (others)
		make_vifs(h, qfd, 2, others);
	xs_close(h);
	if (qfd >= 0)
		close(qfd);

	for (unsigned d = 2; d < 2 + others; d++)
		if (run_vif(d, "online", NULL) < 0)
			return 1;
	if (conntrack && sh("conntrack -I -p udp -s 192.0.2.1 -d 192.0.2.2 --sport 1 --dport 2 -t 3600 "
			    ">/dev/null 2>&1") != 0) {
		fprintf(stderr, "qvt-bench: conntrack -I failed\n");
		return 1;
	}

	check_named_netns(NULL, "with the other vifs online");

	/* One untimed cycle: the backend is the expected one, and NAT mode
	 * is there exactly when asked for. */
	if (run_vif(TARGET, "online", NULL) < 0)
		return 1;
	check_backend();
	check_named_netns(nat ? TARGET_NAT_NS : NULL, "after online");
	if (nat)
		check_nat(true);
	if (run_vif(TARGET, "offline", NULL) < 0)
		return 1;
	check_named_netns(NULL, "after offline");
	if (nat)
		check_nat(false);
	if (vif_route_before) {
		/* The earlier build is checked the same way. */
		vif_prog = vif_route_before;
		if (run_vif(TARGET, "online", NULL) < 0)
			return 1;
		check_backend();
		check_named_netns(nat ? TARGET_NAT_NS : NULL, "after online (before)");
		if (run_vif(TARGET, "offline", NULL) < 0)
			return 1;
		check_named_netns(NULL, "after offline (before)");
		vif_prog = NULL;
	}

	/* Every cycle (untimed): the target's NAT namespace, and no other
	 * named namespace, exists after online exactly with --nat, and
	 * never after offline. */
	for (unsigned i = 0; i < 2 * cycles; i++) {
		/* With --before, the two builds take turns, each first in
		 * every other pair: drift of the machine hits both alike. */
		bool before = vif_route_before && (i % 4 == 1 || i % 4 == 2);
		unsigned k = vif_route_before ? i / 2 : i;
		double *o = before ? on_b : on, *f = before ? off_b : off, *c = before ? cyc_b : cyc;

		if (!vif_route_before && i >= cycles)
			break;
		vif_prog = before ? vif_route_before : NULL;
		o[k] = run_vif(TARGET, "online", NULL);
		if (o[k] < 0)
			return 1;
		check_named_netns(nat ? TARGET_NAT_NS : NULL, "after online");
		f[k] = run_vif(TARGET, "offline", NULL);
		if (f[k] < 0)
			return 1;
		check_named_netns(NULL, "after offline");
		c[k] = o[k] + f[k];
	}
	vif_prog = NULL;
	snprintf(label, sizeof(label), "%s, %u other vifs online%s%s%s", backend_name(), others,
		 conntrack ? ", conntrack in use" : "", qubesdb ? ", keys in QubesDB" : "", nat ? ", NAT mode" : "");
	{
		char l[192];

		cycle_rows(label, "", on, off, cyc, cycles, vif_rss);
		if (vif_route_before)
			cycle_rows(label, ", before", on_b, off_b, cyc_b, cycles, before_rss);
		if (phases) {
			snprintf(l, sizeof(l), "%s%s", label, qubesdb ? "" : ", keys in xenstore");
			breakdown = bench_phases(l, cycles);
		}
	}

	if (dnat)
		bench_dnat(dnat, cycles, cyc);
	if (qubesdb) {
		/* The round trips do not depend on NAT mode: once per generation. */
		if (!nat)
			bench_round_trips(cycles, cyc);
		kill(qdb, SIGTERM);
		waitpid(qdb, NULL, 0);
	}

	if (breakdown) {
		fputs(breakdown, stdout);
		free(breakdown);
	}

	kill(xs, SIGTERM);
	waitpid(xs, NULL, 0);
	free(on);
	free(off);
	free(cyc);
	free(on_b);
	free(off_b);
	free(cyc_b);
	return 0;
}
