#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <xenstore.h>

#include "deadline.h"
#include "util.h"
#include "xs.h"

#define REPORT_TRIES 8

enum op { OP_OPEN, OP_READ, OP_WRITE, OP_DIRECTORY, OP_REPORT, OP_READ_MANY, OP_READ_LISTED };

/* One call, owned by the worker once the caller gave up on it: all it
 * needs is in here, never on the caller's stack. */
struct call {
	enum op op;
	char *path;
	char *value;  /* OP_WRITE; OP_REPORT: status */
	char *value2; /* OP_REPORT: error, or NULL */
	int r;
	char *out;    /* OP_READ */
	char **list;  /* OP_DIRECTORY */
	unsigned n;
	/* OP_READ_MANY: full paths; OP_READ_LISTED: names under path */
	char **keys;
	char **outs;  /* one per key, NULL when absent */
	size_t n_keys;
	size_t failed; /* the key whose read failed; n_keys: the listing */
	bool done;
};

struct xsh {
	struct xs_handle *h;
	uint64_t deadline;
	bool stuck; /* a call never came back: the thread and h are lost */
	bool quit;
	pthread_t thread;
	bool have_thread;
	pthread_mutex_t m;
	pthread_cond_t cv_call, cv_done;
	struct call *call;
};

/* Connections given up on stay reachable from here: their thread may still
 * be blocked inside libxenstore, using them. */
static struct xsh *abandoned[8];

static void call_free(struct call *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->value);
	free(c->value2);
	free(c->out);
	free(c->list);
	for (size_t i = 0; i < c->n_keys; i++) {
		free(c->keys[i]);
		if (c->outs)
			free(c->outs[i]);
	}
	free(c->keys);
	free(c->outs);
	free(c);
}

static int read_value(struct xs_handle *h, const char *path, char **ret)
{
	unsigned int len = 0;
	char *v = xs_read(h, XBT_NULL, path, &len);

	if (!v)
		return negative_errno(); /* len is garbage here */
	/* A value is text for us: an embedded NUL would let two readers of the
	 * same key see different strings. */
	if (memchr(v, 0, len)) {
		free(v);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static void free_outs(struct call *c)
{
	for (size_t i = 0; i < c->n_keys; i++) {
		free(c->outs[i]);
		c->outs[i] = NULL;
	}
}

/* Reads the keys c->keys[i] (under dir when it is not NULL) that want[i]
 * allows; an absent one stays NULL, and the first other failure undoes
 * the whole call. */
static int read_keys(struct xs_handle *h, struct call *c, const char *dir, const bool *want)
{
	for (size_t i = 0; i < c->n_keys; i++) {
		_cleanup_free_ char *joined = NULL;
		int r;

		if (want && !want[i])
			continue;
		if (dir && asprintf(&joined, "%s/%s", dir, c->keys[i]) < 0)
			r = -ENOMEM;
		else
			r = read_value(h, dir ? joined : c->keys[i], &c->outs[i]);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			c->failed = i;
			free_outs(c);
			return r;
		}
	}
	return 0;
}

/* One listing of c->path, then the wanted names that it holds: a name
 * the listing does not show costs no round trip. */
static int do_read_listed(struct xs_handle *h, struct call *c)
{
	_cleanup_free_ bool *want = calloc(c->n_keys ? c->n_keys : 1, sizeof(*want));
	_cleanup_free_ char **names = NULL;
	unsigned n = 0;

	c->failed = c->n_keys;
	if (!want)
		return -ENOMEM;
	names = xs_directory(h, XBT_NULL, c->path, &n);
	if (!names)
		return negative_errno();
	for (size_t i = 0; i < c->n_keys; i++)
		for (unsigned j = 0; j < n && !want[i]; j++)
			want[i] = streq(names[j], c->keys[i]);
	return read_keys(h, c, c->path, want);
}

static int do_report(struct xs_handle *h, struct call *c)
{
	char status_path[256], error_path[256];

	snprintf(status_path, sizeof(status_path), "%s/hotplug-status", c->path);
	snprintf(error_path, sizeof(error_path), "%s/hotplug-error", c->path);
	for (int i = 0; i < REPORT_TRIES; i++) {
		xs_transaction_t t = xs_transaction_start(h);
		unsigned int len;
		char *v;

		if (t == XBT_NULL)
			return negative_errno();
		v = xs_read(h, t, c->path, &len);
		if (!v) {
			int r = negative_errno();

			xs_transaction_end(h, t, true);
			return r;
		}
		free(v);
		if ((c->value2 && !xs_write(h, t, error_path, c->value2, strlen(c->value2))) ||
		    (!c->value2 && !xs_rm(h, t, error_path) && errno != ENOENT) ||
		    !xs_write(h, t, status_path, c->value, strlen(c->value))) {
			int r = negative_errno();

			xs_transaction_end(h, t, true);
			return r;
		}
		if (xs_transaction_end(h, t, false))
			return 0;
		if (errno != EAGAIN)
			return negative_errno();
		/* The toolstack changed the directory meanwhile: look again. */
	}
	return -EAGAIN;
}

static void perform(struct xsh *x, struct call *c)
{
	switch (c->op) {
	case OP_OPEN:
		x->h = xs_open(0);
		c->r = x->h ? 0 : negative_errno();
		break;
	case OP_READ:
		c->r = read_value(x->h, c->path, &c->out);
		break;
	case OP_READ_MANY:
		c->r = read_keys(x->h, c, NULL, NULL);
		break;
	case OP_READ_LISTED:
		c->r = do_read_listed(x->h, c);
		break;
	case OP_WRITE:
		c->r = xs_write(x->h, XBT_NULL, c->path, c->value, strlen(c->value)) ? 0 : negative_errno();
		break;
	case OP_DIRECTORY:
		c->list = xs_directory(x->h, XBT_NULL, c->path, &c->n);
		c->r = c->list ? 0 : negative_errno();
		break;
	case OP_REPORT:
		c->r = do_report(x->h, c);
		break;
	}
}

static void *worker(void *arg)
{
	struct xsh *x = arg;

	pthread_mutex_lock(&x->m);
	for (;;) {
		struct call *c;

		while (!x->call && !x->quit)
			pthread_cond_wait(&x->cv_call, &x->m);
		if (x->quit)
			break;
		c = x->call;
		pthread_mutex_unlock(&x->m);
		perform(x, c);
		pthread_mutex_lock(&x->m);
		c->done = true;
		x->call = NULL;
		/* Its caller gave up on it: nobody else will free it. */
		if (x->stuck)
			call_free(c);
		pthread_cond_signal(&x->cv_done);
	}
	pthread_mutex_unlock(&x->m);
	return NULL;
}

static void abandon(struct xsh *x)
{
	for (size_t i = 0; i < ELEMENTSOF(abandoned); i++)
		if (!abandoned[i]) {
			abandoned[i] = x;
			return;
		}
}

/* Runs c on the worker and waits for it within the bounds. On success the
 * caller owns c again; on -ETIMEDOUT the worker does, for ever. */
static int submit(struct xsh *x, struct call *c)
{
	uint64_t until = deadline_within(x->deadline, XSH_OP_TIMEOUT_MS);
	struct timespec ts = { .tv_sec = (time_t)(until / 1000), .tv_nsec = (long)(until % 1000) * 1000000L };
	int r = 0;

	if (x->stuck)
		return -ETIMEDOUT;
	pthread_mutex_lock(&x->m);
	x->call = c;
	pthread_cond_signal(&x->cv_call);
	while (!c->done && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&x->cv_done, &x->m, &ts);
	if (!c->done)
		x->stuck = true;
	pthread_mutex_unlock(&x->m);
	return x->stuck ? -ETIMEDOUT : c->r;
}

static struct call *call_new(enum op op, const char *path, const char *value, const char *value2)
{
	struct call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->op = op;
	if ((path && !(c->path = strdup(path))) || (value && !(c->value = strdup(value))) ||
	    (value2 && !(c->value2 = strdup(value2)))) {
		call_free(c);
		return NULL;
	}
	return c;
}

/* A call over n keys: copies, so the worker may outlive the caller's. */
static struct call *call_new_keys(enum op op, const char *path, const char *const *keys, size_t n)
{
	struct call *c = call_new(op, path, NULL, NULL);

	if (!c)
		return NULL;
	c->keys = calloc(n ? n : 1, sizeof(*c->keys));
	c->outs = calloc(n ? n : 1, sizeof(*c->outs));
	c->failed = n;
	if (!c->keys || !c->outs) {
		call_free(c);
		return NULL;
	}
	for (; c->n_keys < n; c->n_keys++)
		if (!(c->keys[c->n_keys] = strdup(keys[c->n_keys]))) {
			call_free(c);
			return NULL;
		}
	return c;
}

int xsh_open(uint64_t deadline, struct xsh **ret)
{
	pthread_condattr_t ca;
	struct call *c;
	struct xsh *x;
	int r;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->deadline = deadline;
	pthread_mutex_init(&x->m, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->cv_call, NULL);
	pthread_cond_init(&x->cv_done, &ca);
	pthread_condattr_destroy(&ca);
	r = -pthread_create(&x->thread, NULL, worker, x);
	if (r < 0) {
		xsh_close(x);
		return r;
	}
	x->have_thread = true;

	c = call_new(OP_OPEN, NULL, NULL, NULL);
	if (!c) {
		xsh_close(x);
		return -ENOMEM;
	}
	r = submit(x, c);
	if (!x->stuck)
		call_free(c);
	if (r < 0) {
		xsh_close(x);
		return r;
	}
	*ret = x;
	return 0;
}

void xsh_close(struct xsh *x)
{
	if (!x)
		return;
	if (x->stuck) {
		abandon(x);
		return;
	}
	if (x->have_thread) {
		pthread_mutex_lock(&x->m);
		x->quit = true;
		pthread_cond_signal(&x->cv_call);
		pthread_mutex_unlock(&x->m);
		pthread_join(x->thread, NULL);
	}
	if (x->h)
		xs_close(x->h);
	pthread_cond_destroy(&x->cv_call);
	pthread_cond_destroy(&x->cv_done);
	pthread_mutex_destroy(&x->m);
	free(x);
}

void xsh_set_deadline(struct xsh *x, uint64_t deadline)
{
	x->deadline = deadline;
}

/* Runs a call and frees it, unless the worker kept it. */
static int run_free(struct xsh *x, struct call *c, struct call *ret_copy)
{
	int r;

	if (!c)
		return -ENOMEM;
	if (x->stuck) {
		/* Never handed to the worker: still ours. */
		call_free(c);
		return -ETIMEDOUT;
	}
	r = submit(x, c);
	if (x->stuck)
		return -ETIMEDOUT; /* c belongs to the worker now */
	if (ret_copy) {
		*ret_copy = *c;
		c->out = NULL;
		c->list = NULL;
		c->outs = NULL;
	}
	call_free(c);
	return r;
}

int xsh_read(struct xsh *x, const char *path, char **ret)
{
	struct call res;
	int r = run_free(x, call_new(OP_READ, path, NULL, NULL), &res);

	if (r < 0)
		return r;
	*ret = res.out;
	return 0;
}

int xsh_read_optional(struct xsh *x, const char *path, char **ret)
{
	int r = xsh_read(x, path, ret);

	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	return r;
}

int xsh_read_at(struct xsh *x, const char *dir, const char *key, char **ret)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, key) < 0)
		return -ENOMEM;
	return xsh_read(x, path, ret);
}

int xsh_write_at(struct xsh *x, const char *dir, const char *key, const char *value)
{
	_cleanup_free_ char *path = NULL;

	if (asprintf(&path, "%s/%s", dir, key) < 0)
		return -ENOMEM;
	return run_free(x, call_new(OP_WRITE, path, value, NULL), NULL);
}

int xsh_directory(struct xsh *x, const char *path, char ***ret, unsigned *ret_n)
{
	struct call res;
	int r = run_free(x, call_new(OP_DIRECTORY, path, NULL, NULL), &res);

	if (r < 0)
		return r;
	*ret = res.list;
	*ret_n = res.n;
	return 0;
}

/* The values of a many-key call, or which key failed. */
static int take_outs(struct xsh *x, struct call *c, size_t n, char **ret, size_t *ret_failed)
{
	struct call res = {};
	int r;

	if (ret_failed)
		*ret_failed = n;
	if (!c)
		return -ENOMEM;
	r = run_free(x, c, &res);
	if (r < 0) {
		/* -ETIMEDOUT: the worker still owns c, and nothing says which key. */
		if (ret_failed && !x->stuck)
			*ret_failed = res.failed;
		/* The worker freed the values when it failed. */
		free(res.outs);
		return r;
	}
	memcpy(ret, res.outs, n * sizeof(*ret));
	free(res.outs);
	return 0;
}

int xsh_read_many(struct xsh *x, const char *const *paths, size_t n, char **ret, size_t *ret_failed)
{
	return take_outs(x, call_new_keys(OP_READ_MANY, NULL, paths, n), n, ret, ret_failed);
}

int xsh_read_listed(struct xsh *x, const char *dir, const char *const *names, size_t n, char **ret,
		    size_t *ret_failed)
{
	return take_outs(x, call_new_keys(OP_READ_LISTED, dir, names, n), n, ret, ret_failed);
}

int xsh_hotplug_report(struct xsh *x, const char *dir, const char *status, const char *error)
{
	if (strlen(dir) > 200)
		return -EINVAL;
	return run_free(x, call_new(OP_REPORT, dir, status, error), NULL);
}
