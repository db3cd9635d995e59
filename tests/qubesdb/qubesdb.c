/* test-qubesdb: a small qubesdb-daemon for running QubesDB clients where
 * there is no Qubes. See qdbd.h. This file: command line, the socket, and
 * the poll() loop. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qdbd.h"

#define MAX_SPLIT (1u << 20)
#define MAX_SETS 1024

struct opts {
	const char *socket;
	const char *pid_file;
	bool daemon;
	bool verbose;
	bool events;
	size_t split;
	const char *stall;
	const char *oversize;
	const char *truncate;
	/* "PATH=VALUE", checked. Not on the heap: the parent of --daemon
	 * leaves with _exit(). */
	const char *sets[MAX_SETS];
	size_t nsets;
};

/* --- the loop */

static void accept_all(struct qdbd *d, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				qdbd_log("accept: %m");
			return;
		}
		c = conn_new(fd, ++d->next_conn_id);
		c->next = d->conns;
		d->conns = c;
		if (d->verbose)
			qdbd_log("conn %u: connected", c->id);
	}
}

static void reap(struct qdbd *d)
{
	struct conn **p = &d->conns;

	while (*p) {
		struct conn *c = *p;

		if (c->dead || (c->eof && !c->out && !c->closing)) {
			if (d->verbose)
				qdbd_log("conn %u: closed", c->id);
			*p = c->next;
			conn_free(c);
		} else {
			p = &c->next;
		}
	}
}

/* How long poll() may sleep: until the next --split piece is due. */
static struct timespec *poll_timeout(const struct qdbd *d, uint64_t now, struct timespec *ts)
{
	uint64_t due = UINT64_MAX, wait;

	for (const struct conn *c = d->conns; c; c = c->next) {
		uint64_t w = conn_wakeup(d, c);

		if (w < due)
			due = w;
	}
	if (due == UINT64_MAX)
		return NULL;
	wait = due > now ? due - now : 0;
	ts->tv_sec = (time_t)(wait / 1000000000u);
	ts->tv_nsec = (long)(wait % 1000000000u);
	return ts;
}

/* Returns 0 when a termination signal arrives. */
static int serve(struct qdbd *d, int lfd, int sfd)
{
	struct pollfd *pfd = NULL;
	struct conn **pc = NULL;
	size_t cap = 0;
	int rc = 0;

	for (;;) {
		uint64_t now = now_ns();
		size_t n = 2, nconn = 0;
		struct timespec ts;
		struct conn *c;

		for (c = d->conns; c; c = c->next)
			nconn++;
		if (nconn + 2 > cap) {
			cap = (nconn + 2) * 2;
			pfd = xrealloc(pfd, cap * sizeof(*pfd));
			pc = xrealloc(pc, cap * sizeof(*pc));
		}
		pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (c = d->conns; c; c = c->next, n++) {
			pfd[n] = (struct pollfd){ .fd = c->fd, .events = conn_poll_events(d, c, now) };
			pc[n] = c;
		}

		if (ppoll(pfd, n, poll_timeout(d, now, &ts), NULL) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			qdbd_log("poll: %m");
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && d->verbose)
				qdbd_log("signal %" PRIu32 " from pid %" PRIu32 ", exiting",
					 si.ssi_signo, si.ssi_pid);
			break;
		}
		if (pfd[0].revents) {
			rc = -EBADF;
			qdbd_log("signal descriptor failed, exiting");
			break;
		}
		if (pfd[1].revents & POLLIN)
			accept_all(d, lfd);
		for (size_t i = 2; i < n; i++) {
			if (pfd[i].revents & POLLERR)
				pc[i]->dead = true;
			if (pfd[i].revents & (POLLIN | POLLHUP))
				conn_read(pc[i]);
		}
		/* Reply right away rather than after another round of poll(). */
		for (c = d->conns; c; c = c->next)
			conn_process(d, c);
		now = now_ns();
		for (c = d->conns; c; c = c->next)
			conn_flush(d, c, now);
		reap(d);
	}
	free(pfd);
	free(pc);
	return rc;
}

/* --- setup */

static void usage(FILE *f)
{
	fputs("Usage: test-qubesdb --socket PATH [--daemon] [--pid-file FILE] [--set PATH=VALUE]...\n"
	      "                    [--split N] [--events] [--stall PREFIX] [--oversize PREFIX]\n"
	      "                    [--truncate PREFIX] [-v]\n"
	      "A qubesdb-daemon for tests: in memory, on a Unix socket, no Qubes needed.\n"
	      "Clients reach it with QUBESDB_SOCKET=PATH (qdb-tool).\n"
	      "  --socket PATH      where to listen (required)\n"
	      "  --daemon           detach; return once the socket accepts connections\n"
	      "  --pid-file FILE    write the pid of the serving process\n"
	      "  --set PATH=VALUE   a key to start with (repeatable)\n"
	      "  -v, --verbose      log each request to stderr\n"
	      "Misbehaviour, to test clients against:\n"
	      "  --split N          send replies in pieces of at most N bytes, one write each,\n"
	      "                     200 us apart (header and value are always separate writes)\n"
	      "  --events           a RESP_WATCH event for /qubes-test-event before every reply\n"
	      "                     header (so also between MULTIREAD and LIST entries), on\n"
	      "                     every connection\n"
	      "  --stall PREFIX     never answer a request whose path starts with PREFIX, nor\n"
	      "                     anything after it on that connection (a hung daemon)\n"
	      "  --oversize PREFIX  answer a READ of such a path with data_len 4000 (and 4000\n"
	      "                     bytes): a malformed reply\n"
	      "  --truncate PREFIX  answer a READ of such a path with a header only, then\n"
	      "                     close the connection before the value\n",
	      f);
}

static int check_set(const char *arg)
{
	const char *eq = strchr(arg, '=');
	char path[QDB_MAX_PATH];
	size_t plen;

	if (!eq)
		return -EINVAL;
	plen = (size_t)(eq - arg);
	if (plen >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, arg, plen);
	path[plen] = '\0';
	if (!path_is_key(path))
		return -EINVAL;
	if (strlen(eq + 1) >= QDB_MAX_DATA)
		return -E2BIG;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "set", required_argument, NULL, 'e' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "split", required_argument, NULL, 'P' },
		{ "events", no_argument, NULL, 'E' },
		{ "stall", required_argument, NULL, 'S' },
		{ "oversize", required_argument, NULL, 'O' },
		{ "truncate", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (ch) {
		case 's':
			o->socket = optarg;
			break;
		case 'd':
			o->daemon = true;
			break;
		case 'p':
			o->pid_file = optarg;
			break;
		case 'e':
			if (check_set(optarg) < 0) {
				fprintf(stderr, "test-qubesdb: bad --set '%s': want /KEY=VALUE, the key "
						"as WRITE takes it, the value under %d bytes\n",
					optarg, QDB_MAX_DATA);
				return -EINVAL;
			}
			if (o->nsets == MAX_SETS) {
				fprintf(stderr, "test-qubesdb: more than %d --set\n", MAX_SETS);
				return -E2BIG;
			}
			o->sets[o->nsets++] = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'P':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || !*optarg || *end || optarg[0] == '-' || v < 1 || v > MAX_SPLIT) {
				fprintf(stderr, "test-qubesdb: bad --split '%s'\n", optarg);
				return -EINVAL;
			}
			o->split = v;
			break;
		case 'E':
			o->events = true;
			break;
		case 'S':
			o->stall = optarg;
			break;
		case 'O':
			o->oversize = optarg;
			break;
		case 'T':
			o->truncate = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc || !o->socket) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* A socket file nobody answers on is left over from a killed daemon. */
static int remove_stale_socket(const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (r == 0)
		return -EADDRINUSE;
	return unlink(sa->sun_path) < 0 ? -errno : 0;
}

static int open_listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	r = remove_stale_socket(&sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int write_pid_file(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "we");
	int r = 0;

	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)pid);
	if (ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

/* Termination signals arrive through a descriptor so poll() sees them
 * without a race; they are blocked before fork() so none is lost. */
static int block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void redirect_stdio(bool keep_stderr)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	/* A daemon holding the caller's stderr would keep a pipe reader (such
	 * as meson test) waiting for EOF; keep it only when asked to log. */
	if (!keep_stderr)
		dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* Returns in the child, with *ready_fd to be written once serving. The
 * parent exits 0 once the child reports that, else 1. The socket already
 * listens, so connections made from then on are queued, not refused. */
static int daemonize(int *ready_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		pid = -errno;
		close(p[0]);
		close(p[1]);
		return pid;
	}
	if (pid > 0) {
		char ch;
		ssize_t n;

		close(p[1]);
		do
			n = read(p[0], &ch, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? EXIT_SUCCESS : EXIT_FAILURE);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
	return 0;
}

static void load_sets(struct qdbd *d, const struct opts *o)
{
	for (size_t i = 0; i < o->nsets; i++) {
		const char *eq = strchr(o->sets[i], '=');
		char path[QDB_MAX_PATH];

		/* check_set() saw that it fits. */
		memcpy(path, o->sets[i], (size_t)(eq - o->sets[i]));
		path[eq - o->sets[i]] = '\0';
		store_set(&d->store, path, eq + 1, strlen(eq + 1));
	}
}

static int run(const struct opts *o)
{
	struct qdbd d = {
		.verbose = o->verbose,
		.events = o->events,
		.split = o->split,
		.stall = o->stall,
		.oversize = o->oversize,
		.truncate = o->truncate,
	};
	sigset_t set;
	int lfd, sfd, ready_fd = -1, r;

	r = block_signals(&set);
	if (r < 0)
		return r;
	lfd = open_listener(o->socket);
	if (lfd < 0) {
		fprintf(stderr, "test-qubesdb: cannot listen on %s: %s\n", o->socket, strerror(-lfd));
		return lfd;
	}
	if (o->daemon) {
		r = daemonize(&ready_fd);
		if (r < 0) {
			fprintf(stderr, "test-qubesdb: fork: %s\n", strerror(-r));
			goto out_socket;
		}
	}
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		r = -errno;
		goto out_socket;
	}
	if (o->pid_file) {
		r = write_pid_file(o->pid_file, getpid());
		if (r < 0) {
			fprintf(stderr, "test-qubesdb: %s: %s\n", o->pid_file, strerror(-r));
			goto out_signal;
		}
	}
	load_sets(&d, o);

	if (ready_fd >= 0) {
		/* Setup errors above still reached the caller's stderr. */
		redirect_stdio(o->verbose);
		(void)!write(ready_fd, "", 1);
		close(ready_fd);
		ready_fd = -1;
	}
	if (o->verbose)
		qdbd_log("serving %s", o->socket);
	r = serve(&d, lfd, sfd);

	while (d.conns) {
		struct conn *c = d.conns;

		d.conns = c->next;
		conn_free(c);
	}
	store_free(&d.store);
	if (o->pid_file)
		unlink(o->pid_file);
out_signal:
	close(sfd);
out_socket:
	if (ready_fd >= 0)
		close(ready_fd);
	close(lfd);
	unlink(o->socket);
	return r;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int r;

	r = parse_args(argc, argv, &o);
	if (r != 0)
		return r > 0 ? EXIT_SUCCESS : 2;
	return run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
