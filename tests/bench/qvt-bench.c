/* Benchmark: latency of vif-route-qubes online and offline, invoked as
 * libxl invokes it, in a private network namespace with N other vifs
 * already online. Prints median and p95 per command and the peak RSS of
 * the program. Not a test: it asserts nothing beyond "the runs succeeded".
 *
 *   qvt-bench --vif-route PATH --xenstored PATH [--others N] [--cycles C] [--conntrack]
 *
 * --conntrack keeps one unrelated connection tracked in the namespace, so
 * every online pays for the purge's walk of the kernel's conntrack table
 * (as a busy netvm does); without it the namespace tracks nothing and the
 * walk is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
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
static const char *xenstored;
static char workdir[] = "/tmp/qvt-bench.XXXXXX";
static long peak_rss_kib;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

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

/* Spawns argv and waits; returns microseconds, or -1 when it failed. */
static double run_timed(char *const argv[], bool track_rss)
{
	struct rusage ru;
	pid_t pid;
	int status;
	double t0, t1;

	t0 = now_us();
	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		die("posix_spawn");
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4");
	t1 = now_us();
	if (track_rss && ru.ru_maxrss > peak_rss_kib)
		peak_rss_kib = ru.ru_maxrss;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -1;
	return t1 - t0;
}

/* Runs vif-route-qubes CMD for vifD.0; returns microseconds or -1. */
static double run_vif(unsigned domid, const char *cmd)
{
	char vif[32], xb[64], *argv[] = { (char *)vif_route, (char *)cmd, (char *)"type_if=vif", NULL };
	double t;

	snprintf(vif, sizeof(vif), "vif%u.0", domid);
	snprintf(xb, sizeof(xb), "backend/vif/%u/0", domid);
	setenv("vif", vif, 1);
	setenv("XENBUS_PATH", xb, 1);
	t = run_timed(argv, true);
	if (t < 0)
		fprintf(stderr, "qvt-bench: vif-route-qubes %s %s failed\n", cmd, vif);
	return t;
}

static pid_t start_xenstored(void)
{
	static char sock[64];
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/xenstored.sock", workdir);
	pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(xenstored, xenstored, "--socket", sock, (char *)NULL);
		_exit(127);
	}
	setenv("XENSTORED_PATH", sock, 1);
	for (int i = 0; i < 500; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

		strcpy(sa.sun_path, sock);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return pid;
		usleep(10000);
	}
	fprintf(stderr, "qvt-bench: xenstored did not start\n");
	exit(1);
}

static void xs_put(struct xs_handle *h, const char *path, const char *value)
{
	if (!xs_write(h, XBT_NULL, path, value, strlen(value)))
		die(path);
}

/* vifD.0 for D in [first, first+n), each with an address and a MAC. */
static void make_vifs(struct xs_handle *h, unsigned first, unsigned n)
{
	char path[96], cmd[128];
	FILE *batch;

	snprintf(path, sizeof(path), "%s/veth.batch", workdir);
	batch = fopen(path, "we");

	if (!batch)
		die("batch file");
	for (unsigned d = first; d < first + n; d++) {
		char key[96], val[64];

		fprintf(batch, "link add vif%u.0 type veth peer name c%u\n", d, d);
		snprintf(key, sizeof(key), "/local/domain/0/backend/vif/%u/0/ip", d);
		snprintf(val, sizeof(val), "10.137.%u.%u fd09::%x", d / 250, d % 250 + 2, d);
		xs_put(h, key, val);
		snprintf(key, sizeof(key), "/local/domain/0/backend/vif/%u/0/mac", d);
		snprintf(val, sizeof(val), "00:16:3e:%02x:%02x:%02x", (d >> 16) & 0xff, (d >> 8) & 0xff, d & 0xff);
		xs_put(h, key, val);
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vif-route", required_argument, NULL, 'p' },
		{ "xenstored", required_argument, NULL, 'x' },
		{ "others", required_argument, NULL, 'n' },
		{ "cycles", required_argument, NULL, 'c' },
		{ "conntrack", no_argument, NULL, 'C' },
		{},
	};
	unsigned others = 0, cycles = 100, target;
	bool conntrack = false;
	char path[96];
	double *on, *off, *cyc;
	struct xs_handle *h;
	pid_t xs;
	int opt;

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
		default:
			return 2;
		}
	}
	if (!vif_route || !xenstored || cycles == 0 || others > 20000) {
		fprintf(stderr, "usage: qvt-bench --vif-route PATH --xenstored PATH [--others N] [--cycles C] [--conntrack]\n");
		return 2;
	}

	/* Everything below happens in a namespace of our own: the host's
	 * interfaces, rules and /tmp are never touched. */
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0)
		die("unshare (needs root)");
	if (mount("none", "/", "none", MS_REC | MS_SLAVE, NULL) < 0)
		die("private mounts");
	/* A scratch directory of our own (the build tree may be under /tmp,
	 * so /tmp itself stays as it is). */
	if (!mkdtemp(workdir) || mount("tmpfs", workdir, "tmpfs", 0, "mode=0700") < 0)
		die("scratch directory");
	snprintf(path, sizeof(path), "%s/xtables.lock", workdir);
	setenv("XTABLES_LOCKFILE", path, 1);
	sh("ip link set lo up");

	xs = start_xenstored();
	h = xs_open(0);
	if (!h)
		die("xs_open");
	xs_put(h, "/local/domain/0/qubes-netvm-gateway", "10.137.0.1");
	xs_put(h, "/local/domain/0/qubes-netvm-gateway6", "fd09::1");
	target = 1;
	make_vifs(h, target, 1);
	if (others)
		make_vifs(h, 2, others);
	xs_close(h);

	for (unsigned d = 2; d < 2 + others; d++)
		if (run_vif(d, "online") < 0)
			return 1;
	if (conntrack && sh("conntrack -I -p udp -s 192.0.2.1 -d 192.0.2.2 --sport 1 --dport 2 -t 3600 "
			    ">/dev/null 2>&1") != 0) {
		fprintf(stderr, "qvt-bench: conntrack -I failed\n");
		return 1;
	}

	on = calloc(cycles, sizeof(double));
	off = calloc(cycles, sizeof(double));
	cyc = calloc(cycles, sizeof(double));
	if (!on || !off || !cyc)
		die("calloc");
	for (unsigned i = 0; i < cycles; i++) {
		on[i] = run_vif(target, "online");
		off[i] = run_vif(target, "offline");
		if (on[i] < 0 || off[i] < 0)
			return 1;
		cyc[i] = on[i] + off[i];
	}

	{
		char *argv_true[] = { (char *)"/bin/true", NULL };

		for (unsigned i = 0; i < cycles; i++)
			cyc[i] = run_timed(argv_true, false);
		printf("process spawn floor (/bin/true)  median %.3f ms\n", percentile(cyc, cycles, 0.5) / 1e3);
		for (unsigned i = 0; i < cycles; i++)
			cyc[i] = on[i] + off[i];
	}
	printf("vif-route-qubes, %u other vifs online, %u cycles, conntrack %s (dual-stack client, ms)\n", others,
	       cycles, conntrack ? "in use" : "empty");
	printf("  online          median %.3f  p95 %.3f\n", percentile(on, cycles, 0.5) / 1e3,
	       percentile(on, cycles, 0.95) / 1e3);
	printf("  offline         median %.3f  p95 %.3f\n", percentile(off, cycles, 0.5) / 1e3,
	       percentile(off, cycles, 0.95) / 1e3);
	printf("  online+offline  median %.3f  p95 %.3f\n", percentile(cyc, cycles, 0.5) / 1e3,
	       percentile(cyc, cycles, 0.95) / 1e3);
	printf("  peak RSS        %.2f MiB\n", peak_rss_kib / 1024.0);

	kill(xs, SIGTERM);
	waitpid(xs, NULL, 0);
	umount2(workdir, MNT_DETACH);
	rmdir(workdir);
	free(on);
	free(off);
	free(cyc);
	return 0;
}
