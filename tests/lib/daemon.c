/* The scaffolding of the test daemons. See daemon.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"

/* --- memory and the log */

static void oom(void)
{
	fprintf(stderr, "%s: out of memory\n", daemon_name);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *xmemdup(const void *p, size_t size)
{
	void *q = xmalloc(size);

	if (size)
		memcpy(q, p, size);
	return q;
}

char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s) + 1);
}

void daemon_log(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", daemon_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* --- the command line */

int daemon_opt(struct daemon_opts *o, int ch, const char *arg, void (*usage)(FILE *f))
{
	switch (ch) {
	case 's':
		o->socket = arg;
		return 0;
	case 'd':
		o->daemon = true;
		return 0;
	case 'p':
		o->pid_file = arg;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	case 'h':
		usage(stdout);
		return 1;
	default:
		usage(stderr);
		return -EINVAL;
	}
}

int daemon_opts_done(const struct daemon_opts *o, int argc, void (*usage)(FILE *f))
{
	if (optind != argc || !o->socket) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* --- setup */

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

int daemon_open(struct daemon_ctx *ret_dc, const struct daemon_opts *o)
{
	struct daemon_ctx dc = { .o = *o, .lfd = -1, .sfd = -1, .ready_fd = -1 };
	sigset_t set;
	int r;

	r = block_signals(&set);
	if (r < 0)
		return r;
	dc.lfd = open_listener(o->socket);
	if (dc.lfd < 0) {
		daemon_log("cannot listen on %s: %s", o->socket, strerror(-dc.lfd));
		return dc.lfd;
	}
	if (o->daemon) {
		r = daemonize(&dc.ready_fd);
		if (r < 0) {
			daemon_log("fork: %s", strerror(-r));
			goto fail;
		}
	}
	dc.sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (dc.sfd < 0) {
		r = -errno;
		goto fail;
	}
	if (o->pid_file) {
		r = write_pid_file(o->pid_file, getpid());
		if (r < 0) {
			daemon_log("%s: %s", o->pid_file, strerror(-r));
			goto fail;
		}
	}
	*ret_dc = dc;
	return 0;

fail:
	/* Not the pid file: it was not written. */
	dc.o.pid_file = NULL;
	daemon_close(&dc);
	return r;
}

void daemon_ready(struct daemon_ctx *dc)
{
	if (dc->ready_fd < 0)
		return;
	/* Setup errors before this still reached the caller's stderr. */
	redirect_stdio(dc->o.verbose);
	(void)!write(dc->ready_fd, "", 1);
	close(dc->ready_fd);
	dc->ready_fd = -1;
}

/* --- serving */

struct daemon_pollset {
	struct pollfd *pfd; /* [0] the signalfd, [1] the listening socket */
	void **conn;        /* from [2]: the connection of each pfd */
	size_t n;
	size_t cap;
};

void daemon_poll_add(struct daemon_pollset *ps, int fd, short events, void *conn)
{
	if (ps->n == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 16;
		ps->pfd = xrealloc(ps->pfd, ps->cap * sizeof(*ps->pfd));
		ps->conn = xrealloc(ps->conn, ps->cap * sizeof(*ps->conn));
	}
	ps->pfd[ps->n] = (struct pollfd){ .fd = fd, .events = events };
	ps->conn[ps->n] = conn;
	ps->n++;
}

static void accept_all(const struct daemon_ctx *dc, const struct daemon_serve_ops *ops, void *d)
{
	for (;;) {
		int fd = accept4(dc->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				daemon_log("accept: %m");
			return;
		}
		ops->accepted(d, fd);
	}
}

/* The signalfd's revents: 0 serve on; 1 a termination signal came; -EBADF
 * the descriptor failed. */
static int signalled(const struct daemon_ctx *dc, short revents)
{
	if (revents & POLLIN) {
		struct signalfd_siginfo si;

		if (read(dc->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && dc->o.verbose)
			daemon_log("signal %" PRIu32 " from pid %" PRIu32 ", exiting", si.ssi_signo,
				   si.ssi_pid);
		return 1;
	}
	if (revents) {
		daemon_log("signal descriptor failed, exiting");
		return -EBADF;
	}
	return 0;
}

int daemon_serve(const struct daemon_ctx *dc, const struct daemon_serve_ops *ops, void *d)
{
	struct daemon_pollset ps = { 0 };
	int r;

	for (;;) {
		const struct timespec *timeout;
		struct timespec ts;

		ps.n = 0;
		daemon_poll_add(&ps, dc->sfd, POLLIN, NULL);
		daemon_poll_add(&ps, dc->lfd, POLLIN, NULL);
		timeout = ops->prepare(d, &ps, &ts);
		if (ppoll(ps.pfd, ps.n, timeout, NULL) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			daemon_log("poll: %m");
			break;
		}
		r = signalled(dc, ps.pfd[0].revents);
		if (r != 0)
			break;
		if (ps.pfd[1].revents & POLLIN)
			accept_all(dc, ops, d);
		for (size_t i = 2; i < ps.n; i++)
			if (ps.pfd[i].revents)
				ops->polled(d, ps.conn[i], ps.pfd[i].revents);
		/* Reply right away rather than after another round of poll(). */
		ops->after(d);
	}
	free(ps.pfd);
	free(ps.conn);
	return r < 0 ? r : 0;
}

void daemon_close(struct daemon_ctx *dc)
{
	if (dc->o.pid_file)
		unlink(dc->o.pid_file);
	if (dc->sfd >= 0)
		close(dc->sfd);
	if (dc->ready_fd >= 0)
		close(dc->ready_fd);
	if (dc->lfd >= 0)
		close(dc->lfd);
	unlink(dc->o.socket);
	dc->sfd = dc->ready_fd = dc->lfd = -1;
}
