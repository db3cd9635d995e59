/* Request handlers. Each returns 0 once it has replied, or -errno for the
 * dispatcher to answer with an XS_ERROR. Every client is a privileged dom0
 * tool stack: permissions are stored and returned but never enforced. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsd.h"

struct req {
	struct xsd *d;
	struct conn *c;
	const struct xsd_sockmsg *hdr;
	const char *data; /* payload; a NUL follows it */
	size_t len;
	struct view v;
};

struct op {
	const char *name;
	int (*fn)(struct req *r);
	bool any_tx; /* the tx_id is ignored */
};

/* --- payload helpers */

static unsigned int count_strings(const struct req *r)
{
	unsigned int n = 0;

	for (size_t i = 0; i < r->len; i++)
		n += r->data[i] == '\0';
	return n;
}

/* Fills vec with up to max NUL-terminated strings; returns how many the
 * payload holds in total. */
static unsigned int get_strings(const struct req *r, const char **vec, unsigned int max)
{
	unsigned int n = 0;
	size_t off = 0;

	while (off < r->len) {
		const char *nul = memchr(r->data + off, 0, r->len - off);

		if (!nul)
			break;
		if (n < max)
			vec[n] = r->data + off;
		n++;
		off = (size_t)(nul - r->data) + 1;
	}
	return n;
}

/* The single argument, which must end exactly at the payload's end. */
static const char *onearg(const struct req *r)
{
	if (!r->len || memchr(r->data, 0, r->len) != r->data + r->len - 1)
		return NULL;
	return r->data;
}

static int parse_domid(const char *s, unsigned int *ret)
{
	char *end;
	unsigned long v;

	if (!s)
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* --- replies */

static void reply_error(struct req *r, int err)
{
	const char *name = "EINVAL";

	for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++) {
		if (xsd_errors[i].errnum == err) {
			name = xsd_errors[i].errstring;
			break;
		}
	}
	if (r->d->verbose)
		daemon_log("conn %u:   -> %s", r->c->id, name);
	conn_send(r->c, XS_ERROR, r->hdr->req_id, r->hdr->tx_id, name, strlen(name) + 1);
}

static int reply(struct req *r, const void *data, size_t len)
{
	if (len > XENSTORE_PAYLOAD_MAX)
		return -E2BIG;
	conn_send(r->c, r->hdr->type, r->hdr->req_id, r->hdr->tx_id, data, len);
	return 0;
}

static int reply_ok(struct req *r)
{
	return reply(r, "OK", sizeof("OK"));
}

/* --- paths */

static bool valid_chars(const char *s)
{
	return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "abcdefghijklmnopqrstuvwxyz"
			   "0123456789-/_@")] == '\0';
}

/* Length of a leading "/local/domain/<domid>/", which does not count
 * against the path length limit; 0 when there is none. */
static size_t local_prefix(const char *path)
{
	static const char pfx[] = "/local/domain/";
	size_t n = sizeof(pfx) - 1, digits;

	if (strncmp(path, pfx, n) != 0)
		return 0;
	digits = strspn(path + n, "0123456789");
	if (digits < 1 || digits > 5 || path[n + digits] != '/')
		return 0;
	return n + digits + 1;
}

/* Resolves in against the domain's home into out (XSD_PATH_BUF bytes) and
 * checks it the way xenstored does. special: allow "@..." names. */
static int canonicalize(const struct xsd *d, const char *in, bool special, char *out,
			bool *ret_relative)
{
	bool relative;
	size_t len;

	if (!in || !valid_chars(in) || (in[0] == '@' && !special))
		return -EINVAL;
	relative = in[0] != '/' && in[0] != '@';
	/* in comes from a payload, so it always fits. */
	snprintf(out, XSD_PATH_BUF, "%s%s%s", relative ? d->home : "", relative ? "/" : "", in);
	len = strlen(out);
	if ((len > 1 && out[len - 1] == '/') || strstr(out, "//"))
		return -EINVAL;
	if (len - local_prefix(out) > XENSTORE_REL_PATH_MAX)
		return -EINVAL;
	if (ret_relative)
		*ret_relative = relative;
	return 0;
}

static int path_arg(struct req *r, bool special, char *out)
{
	return canonicalize(r->d, onearg(r), special, out, NULL);
}

/* --- tree operations */

/* Creates path and its missing ancestors; the caller saw that path is
 * absent. Only the deepest node gets the value and fires watches, which
 * reach watchers of the created ancestors too. */
static struct node *create_path(struct view *v, const char *path)
{
	char buf[XSD_PATH_BUF];
	size_t cut = strlen(path);
	struct node *n;

	memcpy(buf, path, cut + 1);
	/* Walk up to the deepest existing ancestor; "/" always exists. */
	do {
		do
			cut--;
		while (cut > 0 && path[cut] != '/');
		if (cut == 0)
			break;
		buf[cut] = '\0';
	} while (!view_get(v, buf));

	for (;;) {
		do
			cut++;
		while (path[cut] && path[cut] != '/');
		memcpy(buf, path, cut);
		buf[cut] = '\0';
		n = view_create(v, buf);
		if (!n || !path[cut])
			return n;
	}
}

/* Post-order, like xenstored: descendants go (and fire their exact
 * watches) before the node itself. buf holds the path and has room for
 * any descendant's. */
static void rm_tree(struct view *v, char *buf, size_t len, bool top)
{
	struct node *n = view_get(v, buf);

	if (!n)
		return;
	/* Removing children never touches n's own child list. */
	for (size_t off = 0; off < n->klen;) {
		const char *kid = n->kids + off;
		size_t klen = strlen(kid);

		buf[len] = '/';
		memcpy(buf + len + 1, kid, klen + 1);
		rm_tree(v, buf, len + 1 + klen, false);
		off += klen + 1;
	}
	buf[len] = '\0';
	view_fire(v, buf, top ? FIRE_SUBTREE : FIRE_EXACT);
	view_delete(v, buf);
}

static void parent_path(const char *path, char *out)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash != path ? (size_t)(slash - path) : 1;

	memcpy(out, path, len);
	out[len] = '\0';
}

/* --- handlers */

static int op_read(struct req *r)
{
	char path[XSD_PATH_BUF];
	struct node *n;
	int rc = path_arg(r, false, path);

	if (rc < 0)
		return rc;
	n = view_get(&r->v, path);
	if (!n)
		return -ENOENT;
	return reply(r, n->value, n->vlen);
}

static int op_directory(struct req *r)
{
	char path[XSD_PATH_BUF];
	struct node *n;
	int rc = path_arg(r, false, path);

	if (rc < 0)
		return rc;
	n = view_get(&r->v, path);
	if (!n)
		return -ENOENT;
	/* Too long: E2BIG makes libxenstore fall back to DIRECTORY_PART. */
	return reply(r, n->kids, n->klen);
}

/* Payload <path>|<offset>|; reply <gen>|<names from offset>|..., ending
 * with an empty name once the list is complete. */
static int op_directory_part(struct req *r)
{
	char path[XSD_PATH_BUF], out[XENSTORE_PAYLOAD_MAX];
	const char *vec[2];
	size_t off, len = 0, genlen, max;
	struct node *n;
	int rc;

	if (count_strings(r) != 2)
		return -EINVAL;
	(void)get_strings(r, vec, 2);
	rc = canonicalize(r->d, vec[0], false, path, NULL);
	if (rc < 0)
		return rc;
	n = view_get(&r->v, path);
	if (!n)
		return -ENOENT;
	off = strtoul(vec[1], NULL, 10);
	genlen = (size_t)snprintf(out, sizeof(out), "%" PRIu64, n->gen) + 1;
	if (off >= n->klen) {
		out[genlen] = '\0';
		return reply(r, out, genlen + 1);
	}
	max = sizeof(out) - genlen - 1;
	while (off + len < n->klen) {
		size_t klen = strlen(n->kids + off + len) + 1;

		if (len + klen > max)
			break;
		len += klen;
	}
	memcpy(out + genlen, n->kids + off, len);
	if (off + len == n->klen)
		out[genlen + len++] = '\0';
	return reply(r, out, genlen + len);
}

static int op_write(struct req *r)
{
	char path[XSD_PATH_BUF];
	const char *nul = memchr(r->data, 0, r->len);
	struct node *n;
	int rc;

	if (!nul)
		return -EINVAL;
	rc = canonicalize(r->d, r->data, false, path, NULL);
	if (rc < 0)
		return rc;
	n = view_get(&r->v, path) ? view_edit(&r->v, path) : create_path(&r->v, path);
	if (!n)
		return -EIO;
	node_set_value(n, nul + 1, (size_t)(r->data + r->len - (nul + 1)));
	view_fire(&r->v, path, FIRE_SUBTREE);
	return reply_ok(r);
}

static int op_mkdir(struct req *r)
{
	char path[XSD_PATH_BUF];
	int rc = path_arg(r, false, path);

	if (rc < 0)
		return rc;
	if (!view_get(&r->v, path)) {
		if (!create_path(&r->v, path))
			return -EIO;
		view_fire(&r->v, path, FIRE_SUBTREE);
	}
	return reply_ok(r);
}

static int op_rm(struct req *r)
{
	char path[XSD_PATH_BUF], parent[XSD_PATH_BUF];
	struct node *p;
	int rc = path_arg(r, false, path);

	if (rc < 0)
		return rc;
	parent_path(path, parent);
	if (!view_get(&r->v, path))
		/* Already gone is fine, but only if the parent exists. */
		return view_get(&r->v, parent) ? reply_ok(r) : -ENOENT;
	if (strcmp(path, "/") == 0)
		return -EINVAL;
	rm_tree(&r->v, path, strlen(path), true);
	p = view_edit(&r->v, parent);
	if (p)
		node_del_kid(p, strrchr(path, '/') + 1);
	return reply_ok(r);
}

static int op_get_perms(struct req *r)
{
	char path[XSD_PATH_BUF];
	struct node *n;
	int rc = path_arg(r, true, path);

	if (rc < 0)
		return rc;
	n = view_get(&r->v, path);
	if (!n)
		return -ENOENT;
	return reply(r, n->perms, n->plen);
}

/* Checks <r|w|b|n><domid> strings the way libxenstore parses them and
 * writes them out normalised. */
static int parse_perms(const char *p, unsigned int num, char *out, size_t *ret_len)
{
	size_t len = 0;

	for (unsigned int i = 0; i < num; i++) {
		char *end;
		long id;

		if (!p[0] || !strchr("rwbn", p[0]) || !p[1])
			return -EINVAL;
		/* "%c%d" plus NUL; hex input can be shorter than its output. */
		if (len + 14 > XENSTORE_PAYLOAD_MAX)
			return -E2BIG;
		errno = 0;
		id = strtol(p + 1, &end, 0);
		if (errno || *end)
			return -EINVAL;
		len += (size_t)snprintf(out + len, XENSTORE_PAYLOAD_MAX - len, "%c%d", p[0], (int)id) + 1;
		p = end + 1;
	}
	*ret_len = len;
	return 0;
}

static int op_set_perms(struct req *r)
{
	char path[XSD_PATH_BUF], perms[XENSTORE_PAYLOAD_MAX];
	unsigned int num = count_strings(r);
	size_t plen;
	struct node *n;
	int rc;

	if (num < 2)
		return -EINVAL;
	rc = parse_perms(r->data + strlen(r->data) + 1, num - 1, perms, &plen);
	if (rc < 0)
		return rc;
	rc = canonicalize(r->d, r->data, true, path, NULL);
	if (rc < 0)
		return rc;
	n = view_edit(&r->v, path);
	if (!n)
		return -ENOENT;
	node_set_perms(n, perms, plen);
	view_fire(&r->v, path, FIRE_SUBTREE);
	return reply_ok(r);
}

static int op_watch(struct req *r)
{
	char path[XSD_PATH_BUF];
	const char *vec[3];
	unsigned int n = get_strings(r, vec, 3);
	struct watch *w, **tail;
	bool relative;
	int depth = -1, rc;

	/* The optional depth is a newer extension; accepting it is harmless. */
	if (n == 3) {
		char *end;
		long v = strtol(vec[2], &end, 10);

		if (*end || v < 0 || v > 65535)
			return -EINVAL;
		depth = (int)v;
	} else if (n != 2) {
		return -EINVAL;
	}
	rc = canonicalize(r->d, vec[0], true, path, &relative);
	if (rc < 0)
		return rc;
	for (tail = &r->c->watches; *tail; tail = &(*tail)->next)
		if (strcmp((*tail)->path, path) == 0 && strcmp((*tail)->token, vec[1]) == 0)
			return -EEXIST;

	w = xmalloc(sizeof(*w));
	w->next = NULL;
	w->path = xstrdup(path);
	w->token = xstrdup(vec[1]);
	w->strip = relative ? r->d->homelen + 1 : 0;
	w->depth = depth;
	*tail = w;

	(void)reply_ok(r);
	/* xenstored fires every new watch once, right after the ack. */
	send_event(r->c, w->path + w->strip, w->token);
	return 0;
}

static int op_unwatch(struct req *r)
{
	char path[XSD_PATH_BUF];
	const char *vec[2];
	int rc;

	if (get_strings(r, vec, 2) != 2)
		return -EINVAL;
	rc = canonicalize(r->d, vec[0], true, path, NULL);
	if (rc < 0)
		return rc;
	for (struct watch **p = &r->c->watches; *p; p = &(*p)->next) {
		struct watch *w = *p;

		if (strcmp(w->path, path) == 0 && strcmp(w->token, vec[1]) == 0) {
			*p = w->next;
			watch_free(w);
			return reply_ok(r);
		}
	}
	return -ENOENT;
}

static struct txn *txn_lookup(const struct conn *c, uint32_t id)
{
	for (struct txn *t = c->txns; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static int op_transaction_start(struct req *r)
{
	char buf[16];
	struct txn *t;
	uint32_t id;

	if (r->v.t)
		return -EBUSY; /* no nesting */
	do
		id = r->c->next_txid++;
	while (id == 0 || txn_lookup(r->c, id));
	t = txn_new(id);
	t->next = r->c->txns;
	r->c->txns = t;
	snprintf(buf, sizeof(buf), "%" PRIu32, id);
	return reply(r, buf, strlen(buf) + 1);
}

static int op_transaction_end(struct req *r)
{
	const char *arg = onearg(r);
	struct txn *t = r->v.t, **p;
	int rc = 0;

	if (!arg || (strcmp(arg, "T") != 0 && strcmp(arg, "F") != 0))
		return -EINVAL;
	if (!t)
		return -ENOENT;
	for (p = &r->c->txns; *p != t; p = &(*p)->next)
		;
	*p = t->next;
	if (arg[0] == 'T')
		rc = txn_commit(r->d, t);
	txn_free(t);
	r->v.t = NULL;
	return rc < 0 ? rc : reply_ok(r);
}

static int op_get_domain_path(struct req *r)
{
	char buf[32];
	unsigned int domid;
	int rc = parse_domid(onearg(r), &domid);

	if (rc < 0)
		return rc;
	snprintf(buf, sizeof(buf), "/local/domain/%u", domid);
	return reply(r, buf, strlen(buf) + 1);
}

static int op_reset_watches(struct req *r)
{
	conn_drop_state(r->c);
	r->v.t = NULL;
	return reply_ok(r);
}

static bool introduced(const struct xsd *d, unsigned int domid)
{
	return domid == d->domid || (d->introduced[domid / 8] & (1u << (domid % 8)));
}

/* There are no real domains; INTRODUCE and RELEASE exist so that tests can
 * trigger @introduceDomain and @releaseDomain watches. */
static int op_introduce(struct req *r)
{
	const char *vec[3];
	unsigned int domid;
	int rc;

	if (get_strings(r, vec, 3) < 3)
		return -EINVAL;
	rc = parse_domid(vec[0], &domid);
	if (rc < 0)
		return rc;
	if (domid == 0 || domid >= 0x7ff0)
		return -EINVAL;
	if (!introduced(r->d, domid)) {
		r->d->introduced[domid / 8] |= 1u << (domid % 8);
		fire_watches(r->d, "@introduceDomain", FIRE_SUBTREE);
	}
	return reply_ok(r);
}

static int op_release(struct req *r)
{
	unsigned int domid;
	int rc = parse_domid(onearg(r), &domid);

	if (rc < 0)
		return rc;
	if (domid == r->d->domid || !introduced(r->d, domid))
		return -ENOENT;
	r->d->introduced[domid / 8] &= ~(1u << (domid % 8));
	fire_watches(r->d, "@releaseDomain", FIRE_SUBTREE);
	return reply_ok(r);
}

static int op_is_domain_introduced(struct req *r)
{
	unsigned int domid;
	int rc = parse_domid(onearg(r), &domid);

	if (rc < 0)
		return rc;
	return reply(r, introduced(r->d, domid) ? "T" : "F", 2);
}

static const struct op ops[XS_TYPE_COUNT] = {
	[XS_CONTROL] = { "CONTROL", NULL, false },
	[XS_DIRECTORY] = { "DIRECTORY", op_directory, false },
	[XS_READ] = { "READ", op_read, false },
	[XS_GET_PERMS] = { "GET_PERMS", op_get_perms, false },
	[XS_WATCH] = { "WATCH", op_watch, true },
	[XS_UNWATCH] = { "UNWATCH", op_unwatch, true },
	[XS_TRANSACTION_START] = { "TRANSACTION_START", op_transaction_start, false },
	[XS_TRANSACTION_END] = { "TRANSACTION_END", op_transaction_end, false },
	[XS_INTRODUCE] = { "INTRODUCE", op_introduce, false },
	[XS_RELEASE] = { "RELEASE", op_release, false },
	[XS_GET_DOMAIN_PATH] = { "GET_DOMAIN_PATH", op_get_domain_path, false },
	[XS_WRITE] = { "WRITE", op_write, false },
	[XS_MKDIR] = { "MKDIR", op_mkdir, false },
	[XS_RM] = { "RM", op_rm, false },
	[XS_SET_PERMS] = { "SET_PERMS", op_set_perms, false },
	[XS_WATCH_EVENT] = { "WATCH_EVENT", NULL, false },
	[XS_ERROR] = { "ERROR", NULL, false },
	[XS_IS_DOMAIN_INTRODUCED] = { "IS_DOMAIN_INTRODUCED", op_is_domain_introduced, false },
	[XS_RESUME] = { "RESUME", NULL, false },
	[XS_SET_TARGET] = { "SET_TARGET", NULL, false },
	[XS_RESET_WATCHES] = { "RESET_WATCHES", op_reset_watches, false },
	[XS_DIRECTORY_PART] = { "DIRECTORY_PART", op_directory_part, false },
};

const char *xsd_type_name(uint32_t type)
{
	if (type < XS_TYPE_COUNT && ops[type].name)
		return ops[type].name;
	return "UNKNOWN";
}

static void log_request(const struct req *r)
{
	char shown[81];
	size_t n = r->len < sizeof(shown) - 1 ? r->len : sizeof(shown) - 1;

	/* Arguments are NUL-separated; show them |-separated, like the doc. */
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)r->data[i];

		shown[i] = ch == 0 ? '|' : (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
	}
	shown[n] = '\0';
	daemon_log("conn %u: %s req %" PRIu32 " tx %" PRIu32 " \"%s\"%s", r->c->id,
		   xsd_type_name(r->hdr->type), r->hdr->req_id, r->hdr->tx_id, shown,
		   r->len > n ? "..." : "");
}

void xsd_request(struct xsd *d, struct conn *c, const struct xsd_sockmsg *hdr,
		 const char *payload)
{
	struct req r = {
		.d = d, .c = c, .hdr = hdr, .data = payload, .len = hdr->len,
		.v = { .d = d },
	};
	const struct op *op = hdr->type < XS_TYPE_COUNT ? &ops[hdr->type] : NULL;
	int rc = 0;

	if (d->verbose)
		log_request(&r);
	if (!op || !op->fn)
		rc = -ENOSYS;
	else if (!op->any_tx && hdr->tx_id) {
		r.v.t = txn_lookup(c, hdr->tx_id);
		if (!r.v.t)
			rc = -ENOENT;
	}
	if (rc == 0)
		rc = op->fn(&r);
	if (rc < 0)
		reply_error(&r, -rc);
}
