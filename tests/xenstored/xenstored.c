/* test-xenstored: a small xenstored for running the real libxenstore and
 * xenstore-* tools without Xen. See xsd.h. This file: command line, the
 * socket, and the poll() loop with per-connection buffers. */
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
#include <unistd.h>

#include "xsd.h"

/* Stop reading from a client whose replies pile up; drop it if watch
 * events alone push its backlog past the hard limit. */
#define OUT_SOFT_LIMIT (1u << 20)
#define OUT_HARD_LIMIT (64u << 20)
#define IN_LIMIT (1u << 20)
#define READ_CHUNK 16384

struct opts {
	const char *socket;
	const char *pid_file;
	bool daemon;
	bool verbose;
	unsigned int domid;
	const char *stall;
};

/* --- buffers */

static size_t buf_pending(const struct buf *b)
{
	return b->len - b->off;
}

static void buf_reserve(struct buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return;
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= more)
			return;
	}
	b->cap = (b->len + more) * 2;
	b->data = xrealloc(b->data, b->cap);
}

static void buf_append(struct buf *b, const void *p, size_t len)
{
	if (!len)
		return; /* p may be NULL: an empty node has no value buffer */
	buf_reserve(b, len);
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

static void buf_consumed(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

/* --- connections */

void conn_send(struct conn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
	       const void *data, size_t len)
{
	struct xsd_sockmsg hdr = { .type = type, .req_id = req_id, .tx_id = tx_id, .len = len };

	if (c->dead)
		return;
	if (buf_pending(&c->out) + sizeof(hdr) + len > OUT_HARD_LIMIT) {
		xsd_log("conn %u: not reading its replies and events, dropping it", c->id);
		c->dead = true;
		return;
	}
	buf_append(&c->out, &hdr, sizeof(hdr));
	buf_append(&c->out, data, len);
}

void conn_drop_state(struct conn *c)
{
	while (c->watches) {
		struct watch *w = c->watches;

		c->watches = w->next;
		watch_free(w);
	}
	while (c->txns) {
		struct txn *t = c->txns;

		c->txns = t->next;
		txn_free(t);
	}
}

static void conn_free(struct conn *c)
{
	close(c->fd);
	conn_drop_state(c);
	free(c->in.data);
	free(c->out.data);
	free(c);
}

static void conn_read(struct conn *c)
{
	ssize_t n;

	if (c->eof || c->dead || buf_pending(&c->in) >= IN_LIMIT)
		return;
	buf_reserve(&c->in, READ_CHUNK);
	n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
	if (n > 0)
		c->in.len += (size_t)n;
	else if (n == 0)
		c->eof = true;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		c->dead = true;
}

static void conn_flush(struct conn *c)
{
	while (!c->dead && buf_pending(&c->out)) {
		ssize_t n = send(c->fd, c->out.data + c->out.off, buf_pending(&c->out),
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			return;
		}
		buf_consumed(&c->out, (size_t)n);
	}
}

/* Handles every complete message in the input buffer. A peer that has
 * hung up still gets its requests applied. */
static void conn_process(struct xsd *d, struct conn *c)
{
	char payload[XENSTORE_PAYLOAD_MAX + 1];
	struct xsd_sockmsg hdr;

	while (!c->dead && !c->stalled && buf_pending(&c->in) >= sizeof(hdr)) {
		if (!c->eof && buf_pending(&c->out) >= OUT_SOFT_LIMIT)
			break;
		memcpy(&hdr, c->in.data + c->in.off, sizeof(hdr));
		if (hdr.len > XENSTORE_PAYLOAD_MAX) {
			/* Like xenstored: the stream cannot be trusted any more. */
			xsd_log("conn %u: payload of %" PRIu32 " bytes is over the limit, closing",
				c->id, hdr.len);
			c->dead = true;
			break;
		}
		if (buf_pending(&c->in) < sizeof(hdr) + hdr.len)
			break;
		memcpy(payload, c->in.data + c->in.off + sizeof(hdr), hdr.len);
		payload[hdr.len] = '\0';
		buf_consumed(&c->in, sizeof(hdr) + hdr.len);
		if (d->stall && strncmp(payload, d->stall, strlen(d->stall)) == 0) {
			/* A daemon that hangs: this connection never hears back. */
			xsd_log("conn %u: stalling at '%s'", c->id, payload);
			c->stalled = true;
			break;
		}
		xsd_request(d, c, &hdr, payload);
	}
}

static short conn_events(const struct conn *c)
{
	short ev = 0;

	if (!c->eof && buf_pending(&c->in) < IN_LIMIT && buf_pending(&c->out) < OUT_SOFT_LIMIT)
		ev |= POLLIN;
	if (buf_pending(&c->out))
		ev |= POLLOUT;
	return ev;
}

static void accept_all(struct xsd *d, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				xsd_log("accept: %m");
			return;
		}
		c = xmalloc(sizeof(*c));
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->id = ++d->next_conn_id;
		c->next_txid = 1;
		c->next = d->conns;
		d->conns = c;
		if (d->verbose)
			xsd_log("conn %u: connected", c->id);
	}
}

static void reap(struct xsd *d)
{
	struct conn **p = &d->conns;

	while (*p) {
		struct conn *c = *p;

		if (c->dead || (c->eof && !buf_pending(&c->out))) {
			if (d->verbose)
				xsd_log("conn %u: closed", c->id);
			*p = c->next;
			conn_free(c);
		} else {
			p = &c->next;
		}
	}
}

/* Returns 0 when a termination signal arrives. */
static int serve(struct xsd *d, int lfd, int sfd)
{
	struct pollfd *pfd = NULL;
	struct conn **pc = NULL;
	size_t cap = 0;
	int rc = 0;

	for (;;) {
		size_t n = 2, nconn = 0;
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
			pfd[n] = (struct pollfd){ .fd = c->fd, .events = conn_events(c) };
			pc[n] = c;
		}

		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			xsd_log("poll: %m");
			break;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si) && d->verbose)
				xsd_log("signal %" PRIu32 " from pid %" PRIu32 ", exiting",
					si.ssi_signo, si.ssi_pid);
			break;
		}
		if (pfd[0].revents) {
			rc = -EBADF;
			xsd_log("signal descriptor failed, exiting");
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
		for (c = d->conns; c; c = c->next)
			conn_flush(c);
		reap(d);
	}
	free(pfd);
	free(pc);
	return rc;
}

/* --- setup */

static void usage(FILE *f)
{
	fputs("Usage: test-xenstored --socket PATH [--daemon] [--pid-file FILE] [--domid N] [--stall PREFIX] [-v]\n"
	      "A xenstored for tests: in memory, on a Unix socket, no Xen needed.\n"
	      "Clients reach it with XENSTORED_PATH=PATH.\n"
	      "  --socket PATH    where to listen (required)\n"
	      "  --daemon         detach; return once the socket accepts connections\n"
	      "  --pid-file FILE  write the pid of the serving process\n"
	      "  --domid N        domain whose /local/domain/N relative paths use (0)\n"
	      "  --stall PREFIX   never answer a request whose path starts with PREFIX, nor\n"
	      "                   anything after it on that connection (a hung daemon)\n"
	      "  -v, --verbose    log each request to stderr\n",
	      f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "domid", required_argument, NULL, 'D' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "stall", required_argument, NULL, 'S' },
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
		case 'D':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || !*optarg || *end || v >= 0x7ff0) {
				fprintf(stderr, "test-xenstored: bad domid '%s'\n", optarg);
				return -EINVAL;
			}
			o->domid = v;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'S':
			o->stall = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
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
	if (pid < 0)
		return -errno;
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

static int run(const struct opts *o)
{
	struct xsd *d;
	sigset_t set;
	int lfd, sfd, ready_fd = -1, r;

	r = block_signals(&set);
	if (r < 0)
		return r;
	lfd = open_listener(o->socket);
	if (lfd < 0) {
		fprintf(stderr, "test-xenstored: cannot listen on %s: %s\n", o->socket, strerror(-lfd));
		return lfd;
	}
	if (o->daemon) {
		r = daemonize(&ready_fd);
		if (r < 0) {
			fprintf(stderr, "test-xenstored: fork: %s\n", strerror(-r));
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
			fprintf(stderr, "test-xenstored: %s: %s\n", o->pid_file, strerror(-r));
			goto out_signal;
		}
	}

	d = xmalloc(sizeof(*d));
	memset(d, 0, sizeof(*d));
	d->domid = o->domid;
	d->verbose = o->verbose;
	d->stall = o->stall;
	d->homelen = (size_t)snprintf(d->home, sizeof(d->home), "/local/domain/%u", o->domid);
	store_init(d);

	if (ready_fd >= 0) {
		/* Setup errors above still reached the caller's stderr. */
		redirect_stdio(o->verbose);
		(void)!write(ready_fd, "", 1);
		close(ready_fd);
	}
	if (o->verbose)
		xsd_log("serving %s as domain %u", o->socket, o->domid);
	r = serve(d, lfd, sfd);

	while (d->conns) {
		struct conn *c = d->conns;

		d->conns = c->next;
		conn_free(c);
	}
	store_free(d);
	free(d);
	if (o->pid_file)
		unlink(o->pid_file);
out_signal:
	close(sfd);
out_socket:
	close(lfd);
	unlink(o->socket);
	return r;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	return run(&o) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
