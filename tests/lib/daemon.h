/* What the test daemons (tests/xenstored, tests/qubesdb) share: memory
 * that cannot run out, the log line, the options each of them takes, and
 * a daemon's life around its poll() loop -- the listening socket (a stale
 * socket file removed first), --daemon (detach, return once the socket
 * accepts), the pid file, and termination signals through a signalfd.
 * Nothing here needs check: the demo builds the daemons without it. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

/* The program's name ("test-xenstored"), defined by each daemon: log lines
 * and the out-of-memory message start with it. */
extern const char daemon_name[];

/* A test daemon treats running out of memory as fatal. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
void *xmemdup(const void *p, size_t size);
char *xstrdup(const char *s);
/* "NAME: MESSAGE" and a newline on stderr. */
void daemon_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The options every test daemon takes, for its getopt_long() table (with
 * "v" among the short options). */
#define DAEMON_LONGOPTS                                       \
	{ "socket", required_argument, NULL, 's' },           \
	{ "daemon", no_argument, NULL, 'd' },                 \
	{ "pid-file", required_argument, NULL, 'p' },         \
	{ "verbose", no_argument, NULL, 'v' },                \
	{ "help", no_argument, NULL, 'h' }

struct daemon_opts {
	const char *socket;   /* --socket PATH: where to listen (required) */
	const char *pid_file; /* --pid-file FILE, or NULL */
	bool daemon;          /* --daemon */
	bool verbose;         /* -v, --verbose */
};

/* For a getopt_long() result the daemon does not handle itself: one of
 * DAEMON_LONGOPTS (arg: its optarg) goes into *o, 0; --help prints the
 * usage on stdout, 1; anything else prints it on stderr, -EINVAL. */
int daemon_opt(struct daemon_opts *o, int ch, const char *arg, void (*usage)(FILE *f));
/* Once getopt_long() is done: no operand left, --socket given, 0; else the
 * usage on stderr, -EINVAL. */
int daemon_opts_done(const struct daemon_opts *o, int argc, void (*usage)(FILE *f));

struct daemon_ctx {
	struct daemon_opts o;
	int lfd;      /* the listening socket, non-blocking */
	int sfd;      /* signalfd for SIGTERM and SIGINT */
	int ready_fd; /* --daemon: the waiting parent's pipe, until serving */
};

/* Blocks SIGTERM and SIGINT (before fork(), so none is lost) and ignores
 * SIGPIPE; listens on o->socket, after removing a socket file nobody
 * answers on; with o->daemon forks, and only the child returns (the parent
 * exits 0 once the child calls daemon_ready(), 1 if it never does); opens
 * the signalfd; writes the pid file. A failure is logged where it says
 * why (not for the signal calls), undone, and returned as -errno. */
int daemon_open(struct daemon_ctx *ret_dc, const struct daemon_opts *o);
/* Serving from now on: with --daemon, stdin and stdout (and stderr unless
 * verbose) go to /dev/null, and the parent is told to exit 0. */
void daemon_ready(struct daemon_ctx *dc);

/* The descriptors one round of daemon_serve() polls. */
struct daemon_pollset;
/* Polls fd for events this round; conn is what the polled callback gets. */
void daemon_poll_add(struct daemon_pollset *ps, int fd, short events, void *conn);

/* How daemon_serve() drives a daemon's connections; d is the daemon. */
struct daemon_serve_ops {
	/* Before each poll(): daemon_poll_add() for each connection. Returns
	 * how long poll() may sleep (ts, or NULL: until something happens). */
	const struct timespec *(*prepare)(void *d, struct daemon_pollset *ps, struct timespec *ts);
	/* A new connection: fd is non-blocking and close-on-exec. */
	void (*accepted)(void *d, int fd);
	/* What poll() reported (revents != 0) for a connection added this round. */
	void (*polled)(void *d, void *conn, short revents);
	/* At the end of each round, after every accepted and polled: answer,
	 * send, close what is finished. */
	void (*after)(void *d);
};

/* The poll() loop: runs until a termination signal (0) or a failure of
 * poll() or of the signalfd (-errno, logged). */
int daemon_serve(const struct daemon_ctx *dc, const struct daemon_serve_ops *ops, void *d);

/* Removes the pid file, closes the descriptors, removes the socket file. */
void daemon_close(struct daemon_ctx *dc);
