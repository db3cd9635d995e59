#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>
#include <libmnl/libmnl.h>

#include "nftq.h"
#include "testlib.h"

static char lockfile[64];
static char xs_dir[64];

/* A private /tmp: whatever a test leaves there (its lock file, the
 * xenstored socket, hook scripts) goes away with it, even when it fails
 * before its teardown. The build and source trees may themselves live under
 * /tmp (a CI clone): those are bound back in at the same paths. */
static void private_tmp(void)
{
	const char *keep[] = { getenv("MESON_BUILD_DIR"), getenv("MESON_SOURCE_DIR") };
	int fds[ELEMENTSOF(keep)];

	for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
		fds[i] = -1;
		if (keep[i] && startswith(keep[i], "/tmp/"))
			fds[i] = open(keep[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	ck_assert_msg(mount("tmpfs", "/tmp", "tmpfs", 0, "mode=1777") == 0, "mount /tmp: %m");
	for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
		char from[64];

		if (fds[i] < 0)
			continue;
		free(tl_sh("mkdir -p '%s'", keep[i]));
		snprintf(from, sizeof(from), "/proc/self/fd/%d", fds[i]);
		/* "none": the kernel ignores the type of a bind mount, valgrind does not
		 * accept NULL there. */
		ck_assert_msg(mount(from, keep[i], "none", MS_BIND | MS_REC, NULL) == 0, "bind %s: %m", keep[i]);
		close(fds[i]);
	}
}

void tl_netns_setup(void)
{
	int fd;

	ck_assert_msg(unshare(CLONE_NEWNET | CLONE_NEWNS) == 0, "unshare: %m");
	/* Keep our mounts (the /sys below) out of the host's namespace. */
	ck_assert_msg(mount("none", "/", "none", MS_REC | MS_SLAVE, NULL) == 0, "make-rslave: %m");
	/* /sys/class/net shows the netns of whoever mounted sysfs. */
	(void)umount2("/sys", MNT_DETACH);
	ck_assert_msg(mount("sysfs", "/sys", "sysfs", 0, NULL) == 0, "mount sysfs: %m");
	private_tmp();
	/* Named network namespaces (NAT mode's VIF-nat) live in /run/netns:
	 * give each test its own, so tests and the host never see each
	 * other's. Creating the directory itself is what `ip netns` does. */
	(void)mkdir("/run/netns", 0755);
	ck_assert_msg(mount("tmpfs", "/run/netns", "tmpfs", 0, "mode=755") == 0, "mount /run/netns: %m");

	strcpy(lockfile, "/tmp/qvt-xtlock.XXXXXX");
	fd = mkstemp(lockfile);
	ck_assert_msg(fd >= 0, "mkstemp: %m");
	close(fd);
	setenv("XTABLES_LOCKFILE", lockfile, 1);
	/* vif-route-qubes' per-vif locks, in the private /tmp too. */
	setenv("VIF_ROUTE_QUBES_LOCK_DIR", "/tmp/qvt-vif-locks", 1);

	free(tl_sh("ip link set lo up"));
}

void tl_netns_teardown(void)
{
	/* Daemons a test started detached (--daemon --pid-file /tmp/X.pid):
	 * this /tmp is the test's own, so every pid file here is one of its. */
	(void)tl_run(NULL, "for f in /tmp/*.pid /tmp/*/*.pid; do [ -f \"$f\" ] && kill $(cat \"$f\") 2>/dev/null; done; true");
	if (lockfile[0])
		unlink(lockfile);
}

static int wait_status(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

static int run_v(char **ret_out, const char *fmt, va_list ap)
{
	_cleanup_free_ char *cmd = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int pipefd[2];
	pid_t pid;
	int r;

	if (vasprintf(&cmd, fmt, ap) < 0)
		return -ENOMEM;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = read(pipefd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(pipefd[0]);
	buf[len] = 0;
	r = wait_status(pid);
	if (ret_out)
		*ret_out = buf;
	else
		free(buf);
	return r;
}

int tl_run(char **ret_out, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = run_v(ret_out, fmt, ap);
	va_end(ap);
	return r;
}

char *tl_sh(const char *fmt, ...)
{
	char *out = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = run_v(&out, fmt, ap);
	va_end(ap);
	ck_assert_msg(r == 0, "command failed with %d: %s", r, fmt);
	return out;
}

/* --- valgrind (meson test --setup=valgrind; see tests/meson.build) ---
 * $QVT_VALGRIND is the valgrind command line the setup gives. The programs
 * under test then run under it, each writing its own log into vg_dir, which
 * tl_main() makes before the tests and reads after them. */
static char vg_dir[PATH_MAX];
/* What vg_check() found, over all the logs. */
struct vg_tally {
	unsigned runs;		/* logs with a summary: runs that exited */
	unsigned signalled;	/* ended by a signal (killed, timed out): not checked */
	unsigned bad;		/* runs with an error, a leak or a leaked fd */
	unsigned errors;	/* memcheck's ERROR SUMMARY, summed */
	unsigned fds;		/* fds leaked at exit, summed */
};

/* The programs under test; iproute2, nft and the test daemons are not. */
static const char *const vg_progs[] = { "VIF_ROUTE_QUBES", "SETUP_DNAT_TO_NS" };

static bool vg_enabled(void)
{
	const char *vg = getenv("QVT_VALGRIND");

	return vg && *vg && vg_dir[0];
}

/* Names each program run's log after the check test case it ran in:
 * valgrind expands %q{QVT_VG_TEST} in --log-file. */
static void vg_set_test(void)
{
	const char *tc = tcase_name();
	char name[128];
	size_t i;

	snprintf(name, sizeof(name), "%s", tc && *tc ? tc : "none");
	for (i = 0; name[i]; i++)
		if (!(isalnum((unsigned char)name[i]) || name[i] == '-' || name[i] == '_'))
			name[i] = '_';
	setenv("QVT_VG_TEST", name, 1);
}

const char *tl_prog(const char *var)
{
	static char *wrapped[ELEMENTSOF(vg_progs)];
	const char *p = getenv(var);

	ck_assert_msg(p && *p, "%s is not set (run the tests through meson test)", var);
	if (!vg_enabled())
		return p;
	for (size_t i = 0; i < ELEMENTSOF(vg_progs); i++) {
		if (!streq(var, vg_progs[i]))
			continue;
		vg_set_test();
		if (!wrapped[i])
			ck_assert_int_ge(asprintf(&wrapped[i], "%s --log-file=%s/%%q{QVT_VG_TEST}.%%p.log %s",
						  getenv("QVT_VALGRIND"), vg_dir, p),
					 0);
		return wrapped[i];
	}
	return p;
}

/* The fd number of a "==PID== Open <what> <fd>: <name>" line (3.19's
 * --track-fds=yes), or -1. */
static int vg_open_fd(const char *line)
{
	const char *open = strstr(line, "== Open ");
	const char *colon, *d;

	if (!open)
		return -1;
	colon = strchr(open, ':');
	if (!colon)
		return -1;
	for (d = colon; d > open && isdigit((unsigned char)d[-1]); d--)
		;
	return d < colon ? atoi(d) : -1;
}

/* One program run's log: counts it into t, and prints what is wrong with
 * it. An fd open at exit is a leak unless valgrind says the program
 * inherited it (the log file itself, or an fd of the test). valgrind 3.19
 * only lists them, so this is what makes them fail. */
static void vg_check_log(const char *path, const char *name, struct vg_tally *t)
{
	_cleanup_free_ char *cmd = NULL;
	char leaked[256] = "";
	char line[4096];
	unsigned errors = 0, fds = 0;
	bool summary = false, signalled = false;
	int open_fd = -1;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(stderr, "valgrind: %s: %m\n", path);
		t->bad++;
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		const char *s;
		int fd;

		if (!cmd && (s = strstr(line, "== Command: "))) {
			cmd = strdup(s + strlen("== Command: "));
			if (cmd)
				cmd[strcspn(cmd, "\n")] = 0;
		} else if (strstr(line, "Process terminating with default action of signal"))
			signalled = true;
		else if ((s = strstr(line, "== ERROR SUMMARY: "))) {
			summary = true;
			errors = (unsigned)strtoul(s + strlen("== ERROR SUMMARY: "), NULL, 10);
		} else if ((fd = vg_open_fd(line)) >= 0)
			open_fd = fd;
		else if (open_fd >= 0) {
			/* the line after "Open ...": "<inherited from parent>" or
			 * the stack of the call that opened it */
			if (!strstr(line, "<inherited from parent>") && open_fd > 2) {
				fds++;
				snprintf(leaked + strlen(leaked), sizeof(leaked) - strlen(leaked), " %d", open_fd);
			}
			open_fd = -1;
		}
	}
	fclose(f);
	if (signalled || !summary) {
		/* killed by the test, or by a signal it expects: its state at
		 * exit means nothing */
		t->signalled++;
		return;
	}
	t->runs++;
	t->errors += errors;
	t->fds += fds;
	if (errors == 0 && fds == 0)
		return;
	t->bad++;
	fprintf(stderr, "valgrind: FAIL in test case %.*s: %s: %u errors, %u fds leaked at exit%s%s; log: %s\n",
		(int)(strchr(name, '.') - name), name, cmd ? cmd : "?", errors, fds, fds ? ":" : "", leaked, path);
}

/* Every program run's log in vg_dir; prints a summary line that
 * scripts/test.sh counts. Returns whether all were clean. */
static bool vg_check(void)
{
	struct vg_tally t = { 0 };
	struct dirent **ents = NULL;
	int n = scandir(vg_dir, &ents, NULL, alphasort);

	if (n < 0) {
		fprintf(stderr, "valgrind: %s: %m\n", vg_dir);
		return false;
	}
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX + 256];
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);

		/* "<test case>.<pid>.log" */
		if (len > 4 && streq(name + len - 4, ".log") && strchr(name, '.') != name + len - 4) {
			snprintf(path, sizeof(path), "%s/%s", vg_dir, name);
			vg_check_log(path, name, &t);
		}
		free(ents[i]);
	}
	free(ents);
	fprintf(stderr, "valgrind-programs: %u runs checked, %u bad, %u errors, %u fds leaked, %u ended by a signal (not checked); logs in %s\n",
		t.runs, t.bad, t.errors, t.fds, t.signalled, vg_dir);
	return t.bad == 0;
}

/* A fresh log directory for this test executable's run; programs the tests
 * run as nobody write there too. */
static void vg_prepare(void)
{
	const char *vg = getenv("QVT_VALGRIND"), *build = getenv("MESON_BUILD_DIR");
	_cleanup_free_ char *out = NULL;

	if (!vg || !*vg)
		return;
	if (!build || !*build) {
		fprintf(stderr, "valgrind: MESON_BUILD_DIR is not set; the programs run without valgrind\n");
		return;
	}
	snprintf(vg_dir, sizeof(vg_dir), "%s/meson-logs/valgrind/%s.%ld", build, program_invocation_short_name,
		 (long)getpid());
	if (tl_run(&out, "rm -rf '%s' && mkdir -p '%s' && chmod 1777 '%s'", vg_dir, vg_dir, vg_dir) != 0) {
		fprintf(stderr, "valgrind: cannot make %s\n", vg_dir);
		vg_dir[0] = 0;
		exit(EXIT_FAILURE);
	}
}

int tl_raw_connect(const char *path, int timeout_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	strcpy(sa.sun_path, path);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %m");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

void tl_raw_write(int fd, const void *p, size_t len)
{
	ck_assert_msg(send(fd, p, len, MSG_NOSIGNAL) == (ssize_t)len, "send: %m");
}

bool tl_raw_read(int fd, void *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)p + got, len - got, 0);

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return false;
		ck_assert_msg(n > 0, "recv: %m");
		got += (size_t)n;
	}
	return true;
}

/* Starts argv (a daemon that serves on sock and stays in the foreground)
 * as a child that dies with this process, and waits until sock accepts. */
static pid_t daemon_start(char *const argv[], const char *sock)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %m");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(argv[0], argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok;

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return pid;
		usleep(10000);
	}
	ck_abort_msg("%s did not start on %s", argv[0], sock);
	return -1;
}

pid_t tl_xenstored_start(void)
{
	char sock[128];
	char *argv[] = { (char *)tl_prog("TEST_XENSTORED"), (char *)"--socket", sock, NULL };
	pid_t pid;

	strcpy(xs_dir, "/tmp/qvt-xs.XXXXXX");
	ck_assert_msg(mkdtemp(xs_dir), "mkdtemp: %m");
	snprintf(sock, sizeof(sock), "%s/socket", xs_dir);
	pid = daemon_start(argv, sock);
	setenv("XENSTORED_PATH", sock, 1);
	return pid;
}

/* SIGTERM, and how it ended; 0 when there was no daemon. */
static int daemon_stop(pid_t pid)
{
	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	return wait_status(pid);
}

int tl_xenstored_stop(pid_t pid)
{
	char path[160];
	int r = daemon_stop(pid);

	if (xs_dir[0]) {
		snprintf(path, sizeof(path), "%s/socket", xs_dir);
		unlink(path);
		rmdir(xs_dir);
	}
	return r;
}

static char qdb_dir[64];

const char *tl_qubesdb_dir(void)
{
	return qdb_dir;
}

pid_t tl_qubesdb_start(const char *sock, const char *const *extra)
{
	char *dir = qdb_dir;
	char path[128];
	char *argv[32] = { (char *)tl_prog("TEST_QUBESDB"), (char *)"--socket", path };
	size_t n = 3;
	pid_t pid;

	for (size_t i = 0; extra && extra[i]; i++) {
		ck_assert_uint_lt(n, ELEMENTSOF(argv) - 1);
		argv[n++] = (char *)extra[i];
	}

	if (!sock) {
		strcpy(dir, "/tmp/qvt-qdb.XXXXXX"); /* sizeof(qdb_dir) */
		ck_assert_msg(mkdtemp(dir), "mkdtemp: %m");
		snprintf(path, sizeof(path), "%s/qubesdb.sock", dir);
	} else
		snprintf(path, sizeof(path), "%s", sock);
	pid = daemon_start(argv, path);
	if (!sock)
		setenv("QUBESDB_SOCKET", path, 1);
	return pid;
}

int tl_qubesdb_stop(pid_t pid)
{
	return daemon_stop(pid);
}

pid_t tl_read_pid_file(const char *path)
{
	FILE *f = fopen(path, "re");
	long pid = -1;

	ck_assert_msg(f, "%s: %m", path);
	ck_assert_int_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	return (pid_t)pid;
}

void tl_wait_gone(const char *path)
{
	for (int i = 0; i < 500 && access(path, F_OK) == 0; i++)
		usleep(10000);
	ck_assert_msg(access(path, F_OK) == -1, "%s is still there", path);
}

void tl_qdb_write(const char *key, const char *value)
{
	free(tl_sh("'%s' write '%s' '%s'", tl_prog("TEST_QDB_TOOL"), key, value));
}

void tl_qdb_rm(const char *key)
{
	int r = tl_run(NULL, "'%s' rm '%s'", tl_prog("TEST_QDB_TOOL"), key);

	ck_assert_msg(r == 0 || r == 2, "qdb-tool rm %s: %d", key, r);
}

static struct xs_handle *xs_test_open(void)
{
	struct xs_handle *h = xs_open(0);

	ck_assert_msg(h, "xs_open: %m");
	return h;
}

void tl_xs_write(const char *path, const char *value)
{
	struct xs_handle *h = xs_test_open();
	bool ok = xs_write(h, XBT_NULL, path, value, strlen(value));

	xs_close(h);
	ck_assert_msg(ok, "xs_write %s: %m", path);
}

char *tl_xs_read(const char *path)
{
	struct xs_handle *h = xs_test_open();
	char *v = xs_read(h, XBT_NULL, path, NULL);

	xs_close(h);
	return v;
}

void tl_xs_rm(const char *path)
{
	struct xs_handle *h = xs_test_open();

	xs_rm(h, XBT_NULL, path);
	xs_close(h);
}

static bool netns_probe(void)
{
	pid_t pid;

	if (geteuid() != 0)
		return false;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		/* Success is an exec: under valgrind a child that just exits
		 * is leak-checked, with this process's heap, and a leak
		 * there would change its exit status. */
		if (unshare(CLONE_NEWNET | CLONE_NEWNS) == 0)
			execl("/bin/true", "true", (char *)NULL);
		_exit(1);
	}
	return wait_status(pid) == 0;
}

Suite *tl_suite(const char *name, const struct tl_case *cases, size_t n, SFun setup,
		SFun teardown)
{
	Suite *s = suite_create(name);

	for (size_t i = 0; i < n; i++) {
		TCase *tc = tcase_create(cases[i].name);

		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_add_test(tc, cases[i].test);
		suite_add_tcase(s, tc);
	}
	return s;
}

int tl_main(Suite *s, bool needs_root)
{
	SRunner *sr;
	int failed;

	if (needs_root && !netns_probe()) {
		const char *ci = getenv("CI");

		if (ci && streq(ci, "true")) {
			fprintf(stderr, "FAIL: this suite needs root and network namespaces, and CI=true forbids skipping it\n");
			return EXIT_FAILURE;
		}
		fprintf(stderr, "SKIP: needs root and unshare(CLONE_NEWNET)\n");
		return 77;
	}
	vg_prepare();
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (vg_dir[0] && !vg_check())
		failed++;
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int tl_syslog_capture(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	free(tl_sh("mkdir -p /tmp/qvt-dev && mount --rbind /dev /tmp/qvt-dev && "
		   "mount -t tmpfs -o mode=755 tmpfs /dev && "
		   "for n in null zero full random urandom tty ptmx; do "
		   "touch /dev/$n && mount --bind /tmp/qvt-dev/$n /dev/$n; done && "
		   "for d in pts shm mqueue; do if [ -d /tmp/qvt-dev/$d ]; then "
		   "mkdir /dev/$d && mount --rbind /tmp/qvt-dev/$d /dev/$d; fi; done && "
		   "ln -s /proc/self/fd /dev/fd && ln -s /proc/self/fd/0 /dev/stdin && "
		   "ln -s /proc/self/fd/1 /dev/stdout && ln -s /proc/self/fd/2 /dev/stderr"));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd >= 0, "socket: %m");
	strcpy(sa.sun_path, "/dev/log");
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind /dev/log: %m");
	return fd;
}

char *tl_syslog_read(int fd)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_ptr_nonnull(f);
	for (;;) {
		char buf[2048];
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

		if (n < 0)
			break;
		buf[n] = 0;
		fprintf(f, "%s\n", buf);
	}
	fclose(f);
	return out;
}

void tl_write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "we");

	ck_assert_msg(f, "fopen %s: %m", path);
	ck_assert_int_ge(fputs(content, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

char *tl_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	ck_assert_msg(f, "fopen %s: %m", path);
	if (getdelim(&buf, &len, 0, f) < 0) {
		free(buf);
		buf = strdup("");
		ck_assert_ptr_nonnull(buf);
	}
	fclose(f);
	return buf;
}

int tl_count(const char *haystack, const char *needle)
{
	int n = 0;

	for (const char *p = haystack; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

char *tl_fw_dump(enum fw_backend b)
{
	if (b == FW_NFTABLES)
		return tl_sh("nft -a list ruleset");
	ck_assert_int_eq(b, FW_IPTABLES);
	return tl_sh("iptables-legacy-save -c | grep -v '^#' || true");
}

void tl_nft_base_load(void)
{
	free(tl_sh("nft -f '%s/tests/nft/qubes-base.nft'", tl_prog("MESON_SOURCE_DIR")));
}

uint32_t tl_nft_genid(void)
{
	struct nftq *q = NULL;
	uint32_t id = 0;
	int r;

	r = nftq_open(&q);
	ck_assert_msg(r >= 0, "nftq_open: %s", strerror(-r));
	r = nftq_genid(q, &id);
	nftq_close(q);
	ck_assert_msg(r >= 0, "GETGEN: %s", strerror(-r));
	return id;
}

void tl_check_build_bounds(tl_build_fn build, const void *arg)
{
	enum { SIZE = 256 * 1024 };
	_cleanup_free_ uint8_t *full = malloc(SIZE), *buf = malloc(SIZE);
	size_t shorter[3];
	ssize_t len;

	ck_assert_ptr_nonnull(full);
	ck_assert_ptr_nonnull(buf);
	len = build(full, SIZE, arg);
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(build(buf, (size_t)len, arg), len);
	ck_assert_mem_eq(buf, full, (size_t)len);
	shorter[0] = (size_t)len - 1;
	shorter[1] = 100;
	shorter[2] = 0;
	for (size_t i = 0; i < ELEMENTSOF(shorter); i++) {
		size_t j = 0;

		memset(buf, 0xa5, SIZE);
		ck_assert_int_eq(build(buf, shorter[i], arg), -ENOBUFS);
		while (j < SIZE && buf[j] == 0xa5)
			j++;
		ck_assert_msg(j == SIZE, "byte %zu of a %zu-byte buffer written", j, shorter[i]);
	}
}

unsigned tl_batch_split(const void *buf, ssize_t len, const struct nlmsghdr **msgs, unsigned max)
{
	const struct nlmsghdr *nlh;
	int left = (int)len;
	unsigned n = 0;

	ck_assert_int_gt(len, 0);
	for (nlh = buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		ck_assert_uint_lt(n, max);
		msgs[n++] = nlh;
	}
	ck_assert_int_eq(left, 0); /* nothing trailing, nothing truncated */
	return n;
}
