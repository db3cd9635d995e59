#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cfg.h"
#include "qdb.h"
#include "util.h"
#include "xs.h"

#define QDB_SOCKET "/run/qubes/qubesdb.sock"
#define QDB_RO_SOCKET "/run/qubes/qubesdb.ro.sock" /* R4.3 */
#define NETVM_PREFIX "/qubes-netvm-"

struct cfg {
	enum cfg_source source; /* QUBESDB or XENSTORE */
	struct qdb *qdb;
	struct xsh *xs;
	bool own_xs;
	char socket[108];
	char describe[140];
	char failed[96];
};

/* The key names, the same in both sources but for QubesDB's leading "/". */
static const char *const key_names[_CFG_KEY_MAX] = {
	[CFG_GATEWAY] = "qubes-netvm-gateway",
	[CFG_GATEWAY6] = "qubes-netvm-gateway6",
	[CFG_DNS1] = "qubes-netvm-primary-dns",
	[CFG_DNS2] = "qubes-netvm-secondary-dns",
	[CFG_HARDEN] = "qubes-service/harden-network-interfaces",
	[CFG_VISIBLE_IP] = "mapped-ip/%s/visible-ip",
	[CFG_VISIBLE_GATEWAY] = "mapped-ip/%s/visible-gateway",
};

static const char *const source_names[_CFG_SOURCE_MAX] = {
	[CFG_SOURCE_AUTO] = "auto",
	[CFG_SOURCE_QUBESDB] = "qubesdb",
	[CFG_SOURCE_XENSTORE] = "xenstore",
};

int cfg_source_from_string(const char *s, enum cfg_source *ret)
{
	for (int i = 0; i < _CFG_SOURCE_MAX; i++)
		if (streq(s, source_names[i])) {
			*ret = (enum cfg_source)i;
			return 0;
		}
	return -EINVAL;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The QubesDB socket to use, or NULL when there is none. */
static const char *qubesdb_socket(void)
{
	const char *env = secure_getenv("QUBESDB_SOCKET");

	if (env && *env)
		return env;
	if (exists(QDB_SOCKET))
		return QDB_SOCKET;
	if (exists(QDB_RO_SOCKET))
		return QDB_RO_SOCKET;
	return NULL;
}

const char *cfg_describe_choice(enum cfg_source want, char *buf, size_t len)
{
	const char *sock = want == CFG_SOURCE_XENSTORE ? NULL : qubesdb_socket();

	if (sock)
		snprintf(buf, len, "QubesDB (%s)", sock);
	else if (want == CFG_SOURCE_QUBESDB)
		snprintf(buf, len, "QubesDB (no socket)");
	else
		snprintf(buf, len, "xenstore");
	return buf;
}

int cfg_open(enum cfg_source want, struct xsh *xs, uint64_t deadline, struct cfg **ret)
{
	_cleanup_free_ struct cfg *c = calloc(1, sizeof(*c));
	const char *sock = NULL;
	int r;

	if (!c)
		return -ENOMEM;
	if (want != CFG_SOURCE_XENSTORE)
		sock = qubesdb_socket();
	if (want == CFG_SOURCE_QUBESDB && !sock)
		return -ENOENT;

	if (sock) {
		c->source = CFG_SOURCE_QUBESDB;
		snprintf(c->socket, sizeof(c->socket), "%s", sock);
		snprintf(c->describe, sizeof(c->describe), "QubesDB (%s)", c->socket);
		r = qdb_open(c->socket, deadline, &c->qdb);
		if (r < 0)
			return r;
	} else {
		c->source = CFG_SOURCE_XENSTORE;
		snprintf(c->describe, sizeof(c->describe), "xenstore");
		if (xs)
			c->xs = xs;
		else {
			r = xsh_open(deadline, &c->xs);
			if (r < 0)
				return r;
			c->own_xs = true;
		}
	}
	*ret = c;
	c = NULL;
	return 0;
}

void cfg_close(struct cfg *c)
{
	if (!c)
		return;
	qdb_close(c->qdb);
	if (c->own_xs)
		xsh_close(c->xs);
	free(c);
}

const char *cfg_describe(const struct cfg *c)
{
	return c->describe;
}

const char *cfg_source_name(const struct cfg *c)
{
	return c->source == CFG_SOURCE_QUBESDB ? "QubesDB" : "xenstore";
}

const char *cfg_key_path(const struct cfg *c, enum cfg_key key, const char *arg, char *buf, size_t len)
{
	char name[96];

	if (key >= _CFG_KEY_MAX) {
		snprintf(buf, len, "?");
		return buf;
	}
	/* Only the mapped-ip names have an argument. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(name, sizeof(name), key_names[key], arg ? arg : "");
#pragma GCC diagnostic pop
	snprintf(buf, len, "%s%s", c->source == CFG_SOURCE_QUBESDB ? "/" : "", name);
	return buf;
}

const char *cfg_failed_path(const struct cfg *c)
{
	return c->failed;
}

/* Keys that share a prefix no other key has, so one MULTIREAD of it
 * brings them all and only a handful more (never a large part of the
 * database). */
enum group {
	GROUP_NONE,
	GROUP_NETVM,  /* /qubes-netvm- */
	GROUP_MAPPED, /* /mapped-ip/<ip4>/: the slash keeps 10.137.0.30's keys out of 10.137.0.3's */
	_GROUP_MAX,
};

static enum group key_group(enum cfg_key k)
{
	switch (k) {
	case CFG_GATEWAY:
	case CFG_GATEWAY6:
	case CFG_DNS1:
	case CFG_DNS2:
		return GROUP_NETVM;
	case CFG_VISIBLE_IP:
	case CFG_VISIBLE_GATEWAY:
		return GROUP_MAPPED;
	default:
		return GROUP_NONE;
	}
}

static const char *group_prefix(enum group g, const char *arg, char *buf, size_t len)
{
	if (g == GROUP_NETVM)
		snprintf(buf, len, "%s", NETVM_PREFIX);
	else
		snprintf(buf, len, "/mapped-ip/%s/", arg ? arg : "");
	return buf;
}

static void free_all(char **ret, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ret[i]);
		ret[i] = NULL;
	}
}

/* One MULTIREAD of g's prefix for the keys of g among keys[0..n): only
 * exact matches count. */
static int read_group(struct cfg *c, enum group g, const enum cfg_key *keys, size_t n, const char *arg, char **ret)
{
	char prefix[QDB_MAX_PATH + 16]; /* too long: qdb_multiread refuses it */
	struct qdb_entry *e = NULL;
	size_t ne = 0;
	int r;

	group_prefix(g, arg, prefix, sizeof(prefix));
	r = qdb_multiread(c->qdb, prefix, &e, &ne);
	if (r < 0) {
		snprintf(c->failed, sizeof(c->failed), "%s*", prefix);
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		char path[QDB_MAX_PATH + 32];

		if (key_group(keys[i]) != g)
			continue;
		cfg_key_path(c, keys[i], arg, path, sizeof(path));
		for (size_t j = 0; j < ne; j++)
			if (streq(e[j].path, path)) {
				free(ret[i]);
				ret[i] = e[j].value;
				e[j].value = NULL;
			}
	}
	qdb_entries_free(e, ne);
	return 0;
}

/* QubesDB: the keys of a group, when more than one of it is asked for, in
 * one MULTIREAD; the rest with a READ each. */
static int read_qubesdb(struct cfg *c, const enum cfg_key *keys, size_t n, const char *arg, char **ret)
{
	size_t in_group[_GROUP_MAX] = {};
	int r;

	for (size_t i = 0; i < n; i++)
		in_group[key_group(keys[i])]++;
	for (enum group g = GROUP_NONE + 1; g < _GROUP_MAX; g++) {
		if (in_group[g] < 2)
			continue;
		r = read_group(c, g, keys, n, arg, ret);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < n; i++) {
		char path[QDB_MAX_PATH + 32];
		enum group g = key_group(keys[i]);

		if (g != GROUP_NONE && in_group[g] > 1)
			continue;
		cfg_key_path(c, keys[i], arg, path, sizeof(path));
		r = qdb_read(c->qdb, path, &ret[i]);
		if (r == -ENOENT) {
			ret[i] = NULL;
			continue;
		}
		if (r < 0) {
			snprintf(c->failed, sizeof(c->failed), "%s", path);
			return r;
		}
	}
	return 0;
}

/* xenstored refuses a path with any other character (EINVAL). */
static bool xs_path_chars(const char *p)
{
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      strchr("-/_@", *p)))
			return false;
	return true;
}

/* All the keys in one call to xenstore's thread. */
static int read_xenstore(struct cfg *c, const enum cfg_key *keys, size_t n, const char *arg, char **ret)
{
	_cleanup_free_ char(*paths)[96] = calloc(n ? n : 1, sizeof(*paths));
	_cleanup_free_ const char **want = calloc(n ? n : 1, sizeof(*want));
	_cleanup_free_ char **got = calloc(n ? n : 1, sizeof(*got));
	_cleanup_free_ size_t *at = calloc(n ? n : 1, sizeof(*at));
	size_t n_want = 0, failed;
	int r;

	if (!paths || !want || !got || !at)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		cfg_key_path(c, keys[i], arg, paths[i], sizeof(paths[i]));
		/* mapped-ip/<ip4>/...: the dots of the address make a path
		 * xenstore cannot hold, so no such key can exist there. */
		if (!xs_path_chars(paths[i]))
			continue;
		at[n_want] = i;
		want[n_want++] = paths[i];
	}
	if (n_want == 0)
		return 0;
	r = xsh_read_many(c->xs, want, n_want, got, &failed);
	if (r < 0 && failed < n_want)
		snprintf(c->failed, sizeof(c->failed), "%s", want[failed]);
	else if (r < 0) {
		/* The whole call failed (timed out): name what it was reading. */
		size_t off = 0;

		for (size_t j = 0; j < n_want && off < sizeof(c->failed); j++)
			off += (size_t)snprintf(c->failed + off, sizeof(c->failed) - off, "%s%s", j ? ", " : "",
						want[j]);
	}
	if (r < 0)
		return r;
	for (size_t j = 0; j < n_want; j++)
		ret[at[j]] = got[j];
	return 0;
}

int cfg_read(struct cfg *c, const enum cfg_key *keys, size_t n, const char *arg, char **ret)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		ret[i] = NULL;
		if (keys[i] >= _CFG_KEY_MAX)
			return -EINVAL;
	}
	c->failed[0] = 0;
	if (c->source == CFG_SOURCE_QUBESDB)
		r = read_qubesdb(c, keys, n, arg, ret);
	else
		r = read_xenstore(c, keys, n, arg, ret);
	if (r < 0)
		free_all(ret, n);
	return r;
}

int cfg_wait(struct cfg *c, enum cfg_key key, const char *arg, uint64_t until, char **ret)
{
	char path[QDB_MAX_PATH + 32];
	int r;

	if (c->source != CFG_SOURCE_QUBESDB)
		return cfg_read(c, &key, 1, arg, ret);
	cfg_key_path(c, key, arg, path, sizeof(path));
	r = qdb_wait_read(c->qdb, path, until, ret);
	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		snprintf(c->failed, sizeof(c->failed), "%s", path);
	return r;
}

bool cfg_can_wait(const struct cfg *c)
{
	return c->source == CFG_SOURCE_QUBESDB;
}
