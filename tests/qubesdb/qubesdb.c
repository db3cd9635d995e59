/* test-qubesdb: a small qubesdb-daemon for running QubesDB clients where
 * there is no Qubes. See qdbd.h. This file: command line, and what each
 * round of the poll() loop does with the connections; the socket,
 * --daemon, the pid file, signals and the loop itself are
 * tests/lib/daemon.c's. */
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qdbd.h"

#define MAX_SPLIT (1u << 20)
#define MAX_SETS 1024

struct opts {
	struct daemon_opts d;
	bool events;
	size_t split;
	const char *stall;
	const char *oversize;
	const char *truncate;
	const char *request_log;
	/* "PATH=VALUE", checked. Not on the heap: the parent of --daemon
	 * leaves with _exit(). */
	const char *sets[MAX_SETS];
	size_t nsets;
};

const char daemon_name[] = "test-qubesdb";

/* --- the loop (daemon_serve() calls these) */

static void loop_accepted(void *userdata, int fd)
{
	struct qdbd *d = userdata;
	struct conn *c = conn_new(fd, ++d->next_conn_id);

	c->next = d->conns;
	d->conns = c;
	if (d->verbose)
		daemon_log("conn %u: connected", c->id);
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

static const struct timespec *loop_prepare(void *userdata, struct daemon_pollset *ps,
					   struct timespec *ts)
{
	struct qdbd *d = userdata;
	uint64_t now = now_ns();

	for (struct conn *c = d->conns; c; c = c->next)
		daemon_poll_add(ps, c->fd, conn_poll_events(d, c, now), c);
	return poll_timeout(d, now, ts);
}

static void loop_polled(void *userdata, void *conn, short revents)
{
	struct conn *c = conn;

	if (revents & POLLERR)
		c->dead = true;
	if (revents & (POLLIN | POLLHUP))
		conn_read(c);
}

static void reap(struct qdbd *d)
{
	struct conn **p = &d->conns;

	while (*p) {
		struct conn *c = *p;

		if (c->dead || (c->eof && !c->out && !c->closing)) {
			if (d->verbose)
				daemon_log("conn %u: closed", c->id);
			*p = c->next;
			conn_free(c);
		} else {
			p = &c->next;
		}
	}
}

static void loop_after(void *userdata)
{
	struct qdbd *d = userdata;
	uint64_t now;
	struct conn *c;

	for (c = d->conns; c; c = c->next)
		conn_process(d, c);
	now = now_ns();
	for (c = d->conns; c; c = c->next)
		conn_flush(d, c, now);
	reap(d);
}

static const struct daemon_serve_ops loop_ops = {
	.prepare = loop_prepare,
	.accepted = loop_accepted,
	.polled = loop_polled,
	.after = loop_after,
};

/* --- setup */

static void usage(FILE *f)
{
	fputs("Usage: test-qubesdb --socket PATH [--daemon] [--pid-file FILE] [--set PATH=VALUE]...\n"
	      "                    [--split N] [--events] [--stall PREFIX] [--oversize PREFIX]\n"
	      "                    [--truncate PREFIX] [--request-log FILE] [-v]\n"
	      "A qubesdb-daemon for tests: in memory, on a Unix socket, no Qubes needed.\n"
	      "Clients reach it with QUBESDB_SOCKET=PATH (qdb-tool).\n"
	      "  --socket PATH      where to listen (required)\n"
	      "  --daemon           detach; return once the socket accepts connections\n"
	      "  --pid-file FILE    write the pid of the serving process\n"
	      "  --set PATH=VALUE   a key to start with (repeatable)\n"
	      "  -v, --verbose      log each request to stderr\n"
	      "  --request-log FILE append a line \"TYPE PATH\" to FILE for each request\n"
	      "                     answered (tests count round trips with it)\n"
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
		DAEMON_LONGOPTS,
		{ "set", required_argument, NULL, 'e' },
		{ "split", required_argument, NULL, 'P' },
		{ "events", no_argument, NULL, 'E' },
		{ "stall", required_argument, NULL, 'S' },
		{ "oversize", required_argument, NULL, 'O' },
		{ "truncate", required_argument, NULL, 'T' },
		{ "request-log", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r;

	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (ch) {
		case 'e':
			if (check_set(optarg) < 0) {
				daemon_log("bad --set '%s': want /KEY=VALUE, the key as WRITE "
					   "takes it, the value under %d bytes",
					   optarg, QDB_MAX_DATA);
				return -EINVAL;
			}
			if (o->nsets == MAX_SETS) {
				daemon_log("more than %d --set", MAX_SETS);
				return -E2BIG;
			}
			o->sets[o->nsets++] = optarg;
			break;
		case 'P':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || !*optarg || *end || optarg[0] == '-' || v < 1 || v > MAX_SPLIT) {
				daemon_log("bad --split '%s'", optarg);
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
		case 'R':
			o->request_log = optarg;
			break;
		default:
			r = daemon_opt(&o->d, ch, optarg, usage);
			if (r != 0)
				return r;
		}
	}
	return daemon_opts_done(&o->d, argc, usage);
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
		.verbose = o->d.verbose,
		.events = o->events,
		.split = o->split,
		.stall = o->stall,
		.oversize = o->oversize,
		.truncate = o->truncate,
		.request_log = -1,
	};
	struct daemon_ctx dc;
	int r;

	if (o->request_log) {
		d.request_log = open(o->request_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (d.request_log < 0) {
			daemon_log("cannot open %s: %s", o->request_log, strerror(errno));
			return -errno;
		}
	}
	r = daemon_open(&dc, &o->d);
	if (r < 0)
		return r;
	load_sets(&d, o);

	daemon_ready(&dc);
	if (o->d.verbose)
		daemon_log("serving %s", o->d.socket);
	r = daemon_serve(&dc, &loop_ops, &d);

	while (d.conns) {
		struct conn *c = d.conns;

		d.conns = c->next;
		conn_free(c);
	}
	store_free(&d.store);
	if (d.request_log >= 0)
		close(d.request_log);
	daemon_close(&dc);
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
