/* The `allowed` and `downstream` sets of table ip/ip6 qubes: check, list,
 * and edit elements in one batch. */
#include <errno.h>
#include <netinet/in.h> /* before the linux/ headers, which then defer to it */
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nftq_internal.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nftnl_set *, nftnl_set_free)

/* nft's datatype ids, as it stores them in NFTA_SET_KEY_TYPE: a
 * concatenation is (t1 << 6) | t2. The kernel does not interpret them, but
 * they tell an `ifname . ipv4_addr` set from any other 20-byte key. */
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_IFNAME 41
#define NFT_TYPE_CONCAT_BITS 6

#define KEY_IFNAME_LEN IFNAME_MAX /* the ifname field: IFNAMSIZ, zero-padded */
#define KEY_MAX (KEY_IFNAME_LEN + 16)

/* One element in a message: NFTA_LIST_ELEM nest, NFTA_SET_ELEM_KEY nest,
 * NFTA_DATA_VALUE with the key; plus the message's own header and names. */
_Static_assert(NFTQ_ELEMS_PER_MSG * (4 + 4 + 4 + KEY_MAX) + 256 <= NFTQ_MSG_MAX,
	       "a full element message must fit the batch's per-message room");

/* What nftq knows of one set: its kernel family and the key it must have. */
struct set_kind {
	int family;     /* AF_INET, AF_INET6 */
	bool allowed;   /* else downstream */
	const char *set;
	const char *what; /* for ret_missing */
	uint32_t keylen;
	uint32_t keytype;
};

static const struct set_kind kinds[] = {
	{ AF_INET, true, NFTQ_SET_ALLOWED, "ip qubes allowed", KEY_IFNAME_LEN + 4,
	  (NFT_TYPE_IFNAME << NFT_TYPE_CONCAT_BITS) | NFT_TYPE_IPADDR },
	{ AF_INET, false, NFTQ_SET_DOWNSTREAM, "ip qubes downstream", 4, NFT_TYPE_IPADDR },
	{ AF_INET6, true, NFTQ_SET_ALLOWED, "ip6 qubes allowed", KEY_IFNAME_LEN + 16,
	  (NFT_TYPE_IFNAME << NFT_TYPE_CONCAT_BITS) | NFT_TYPE_IP6ADDR },
	{ AF_INET6, false, NFTQ_SET_DOWNSTREAM, "ip6 qubes downstream", 16, NFT_TYPE_IP6ADDR },
};

static const struct set_kind *kind_find(int family, const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (kinds[i].family == family && streq(kinds[i].set, name))
			return &kinds[i];
	return NULL;
}

static uint16_t nfproto(int family)
{
	return family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
}

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* The key bytes of e in a set of kind k: the ifname zero-padded to 16 (any
 * byte after the NUL would make it another key, one no packet matches),
 * then the address in network order. Returns the length, -EINVAL. */
static int key_encode(const struct set_kind *k, const struct nftq_elem *e, uint8_t key[static KEY_MAX])
{
	size_t off = 0, n;

	if (e->addr.family != k->family)
		return -EINVAL;
	memset(key, 0, KEY_MAX);
	if (k->allowed) {
		n = strnlen(e->ifname, sizeof(e->ifname));
		if (n == 0 || n >= KEY_IFNAME_LEN)
			return -EINVAL;
		memcpy(key, e->ifname, n);
		off = KEY_IFNAME_LEN;
	}
	memcpy(key + off, e->addr.bytes, addr_len(k->family));
	return (int)(off + addr_len(k->family));
}

/* The reverse; -EINVAL for a key nftq would not have written: wrong
 * length, no NUL within the ifname field, or junk after the NUL (such an
 * element was added by someone else, matches no packet, and an edit here
 * could never address it). */
static int key_decode(const struct set_kind *k, const uint8_t *key, uint32_t len, struct nftq_elem *ret)
{
	struct nftq_elem e = { 0 };
	size_t off = 0;

	if (len != k->keylen)
		return -EINVAL;
	if (k->allowed) {
		const uint8_t *nul = memchr(key, 0, KEY_IFNAME_LEN);

		if (!nul)
			return -EINVAL;
		for (const uint8_t *p = nul; p < key + KEY_IFNAME_LEN; p++)
			if (*p)
				return -EINVAL;
		memcpy(e.ifname, key, (size_t)(nul - key));
		off = KEY_IFNAME_LEN;
	}
	e.addr.family = k->family;
	memcpy(e.addr.bytes, key + off, addr_len(k->family));
	*ret = e;
	return 0;
}

static struct nftnl_set *set_new(const struct set_kind *k)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s)
		return NULL;
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, NFTQ_TABLE) < 0 || nftnl_set_set_str(s, NFTNL_SET_NAME, k->set) < 0) {
		nftnl_set_free(s);
		return NULL;
	}
	return s;
}

/* --- check ---------------------------------------------------------------- */

struct check_ctx {
	const struct set_kind *k;
	int result; /* 1 ok, -EPROTOTYPE, 0 no answer */
};

static int check_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct check_ctx *c = userdata;
	_cleanup_(nftnl_set_freep) struct nftnl_set *s = NULL;
	uint32_t flags = 0;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSET)
		return 0;
	s = nftnl_set_alloc();
	if (!s)
		return -ENOMEM;
	if (nftnl_set_nlmsg_parse(nlh, s) < 0)
		return -EBADMSG;
	if (nftnl_set_is_set(s, NFTNL_SET_FLAGS))
		flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
	/* A map or an interval set takes other element encodings: as wrong
	 * for us as another key type. */
	if (nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN) != c->k->keylen ||
	    nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE) != c->k->keytype ||
	    (flags & (NFT_SET_MAP | NFT_SET_OBJECT | NFT_SET_INTERVAL)))
		c->result = -EPROTOTYPE;
	else
		c->result = 1;
	return 0;
}

int nftq_set_check(struct nftq *q, int family, const char *name)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	_cleanup_(nftnl_set_freep) struct nftnl_set *s = NULL;
	struct check_ctx c = { .k = kind_find(family, name) };
	struct nlmsghdr *nlh;
	int r;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE); /* what libnftnl leaves unwritten goes out as zeros */
	if (!c.k)
		return -EINVAL;
	s = set_new(c.k);
	if (!s)
		return -ENOMEM;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSET, nfproto(family), 0, 0);
	nftnl_set_nlmsg_build_payload(nlh, s);
	r = nftq_request(q, nlh, check_cb, &c);
	if (r < 0)
		return r;
	if (c.result == 0)
		return -EBADMSG; /* an ack without the set */
	return c.result < 0 ? c.result : 0;
}

/* --- list ----------------------------------------------------------------- */

struct list_ctx {
	const struct set_kind *k;
	struct nftq_elem *v;
	size_t n, size;
};

static int list_add(struct list_ctx *c, const struct nftq_elem *e)
{
	if (c->n == c->size) {
		size_t size = c->size ? c->size * 2 : 16;
		struct nftq_elem *v = reallocarray(c->v, size, sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->size = size;
	}
	c->v[c->n++] = *e;
	return 0;
}

/* An element's key (NFTA_SET_ELEM_KEY / NFTA_DATA_VALUE); false for an
 * element without one (a catch-all). */
static bool elem_key(const struct nlattr *elem, const void **ret, uint32_t *ret_len)
{
	const struct nlattr *a, *v;

	mnl_attr_for_each_nested(a, elem) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_KEY)
			continue;
		mnl_attr_for_each_nested(v, a)
			if (mnl_attr_get_type(v) == NFTA_DATA_VALUE) {
				*ret = mnl_attr_get_payload(v);
				*ret_len = mnl_attr_get_payload_len(v);
				return true;
			}
	}
	return false;
}

/* Read straight from the message: with a thousand vifs a dump holds
 * thousands of elements, and a libnftnl object per element was most of
 * what listing them cost. */
static int list_cb(const struct nlmsghdr *nlh, void *userdata)
{
	struct list_ctx *c = userdata;
	const struct nlattr *list, *el;
	int r = 0;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWSETELEM)
		return 0;
	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct nfgenmsg))
		return -EBADMSG;
	mnl_attr_for_each(list, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(list) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(el, list) {
			struct nftq_elem e;
			const void *key;
			uint32_t len;

			if (mnl_attr_get_type(el) != NFTA_LIST_ELEM || !elem_key(el, &key, &len) ||
			    key_decode(c->k, key, len, &e) < 0)
				continue;
			r = list_add(c, &e);
			if (r < 0)
				return r;
		}
	}
	return r;
}

/* A dump that a concurrent commit interrupted is read again, this often. */
#define LIST_TRIES 3

int nftq_set_list(struct nftq *q, int family, const char *name, struct nftq_elem **ret, size_t *ret_n)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	const struct set_kind *k = kind_find(family, name);
	struct list_ctx c = { .k = k };
	int r = -EINTR;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE); /* what libnftnl leaves unwritten goes out as zeros */
	if (!k)
		return -EINVAL;
	for (unsigned i = 0; i < LIST_TRIES && r == -EINTR; i++) {
		_cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(k);
		struct nlmsghdr *nlh;

		if (!s)
			return -ENOMEM;
		c.n = 0; /* what an interrupted dump gave is dropped */
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, nfproto(family), NLM_F_DUMP, 0);
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		r = nftq_request(q, nlh, list_cb, &c);
	}
	if (r < 0) {
		free(c.v);
		return r;
	}
	*ret = c.v;
	*ret_n = c.n;
	return 0;
}

/* --- commit --------------------------------------------------------------- */

/* One message of the batch: consecutive-in-effect edits of one set. */
struct group {
	const struct set_kind *k;
	bool del;
	size_t n;   /* elements */
	uint32_t seq; /* of its (first) message, once built */
	uint32_t last_seq;
};

/* Adds an element with key to s. */
static int set_add_key(struct nftnl_set *s, const uint8_t *key, int len)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!e)
		return -ENOMEM;
	if (nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, (uint32_t)len) < 0) {
		nftnl_set_elem_free(e);
		return -ENOMEM;
	}
	nftnl_set_elem_add(s, e);
	return 0;
}

/* Emits the messages of group g: the edits of `edits` that belong to it,
 * at most NFTQ_ELEMS_PER_MSG per message. g_of[i] is edit i's group. */
static int group_emit(struct nftq_batch *b, struct group *g, size_t gi, const struct nftq_elem_edit *edits,
		      const size_t *g_of, size_t n)
{
	size_t i = 0;

	while (i < n) {
		_cleanup_(nftnl_set_freep) struct nftnl_set *s = set_new(g->k);
		struct nlmsghdr *nlh;
		size_t in_msg = 0;

		if (!s)
			return -ENOMEM;
		for (; i < n && in_msg < NFTQ_ELEMS_PER_MSG; i++) {
			uint8_t key[KEY_MAX];
			int len, r;

			if (g_of[i] != gi)
				continue;
			len = key_encode(g->k, &edits[i].e, key);
			if (len < 0)
				return len;
			r = set_add_key(s, key, len);
			if (r < 0)
				return r;
			in_msg++;
		}
		if (in_msg == 0)
			break;
		/* Adds without NLM_F_EXCL: an element already there is a
		 * no-op. DESTROY, not DEL: a missing one is a no-op too. */
		nlh = nftq_batch_add(b, g->del ? NFT_MSG_DESTROYSETELEM : NFT_MSG_NEWSETELEM, nfproto(g->k->family),
				     g->del ? 0 : NLM_F_CREATE);
		if (!nlh)
			return b->error;
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		if (g->seq == 0)
			g->seq = nlh->nlmsg_seq;
		g->last_seq = nlh->nlmsg_seq;
	}
	return 0;
}

int nftq_elems_commit(struct nftq *q, const struct nftq_elem_edit *edits, size_t n, uint32_t genid,
		      const char **ret_missing)
{
	_cleanup_free_ struct group *groups = NULL;
	_cleanup_free_ size_t *g_of = NULL;
	struct nftq_batch b;
	struct nftq_error err = { 0 };
	size_t n_groups = 0;
	int r;

	if (n == 0)
		return 0;
	groups = calloc(n, sizeof(*groups));
	g_of = calloc(n, sizeof(*g_of));
	if (!groups || !g_of)
		return -ENOMEM;

	/* Validate everything, and group: one message per (family, set,
	 * add/del), in the order the groups first appear -- except that an
	 * edit does not join its group when a group of the opposite kind for
	 * the same set came after it, so edits of one set keep their order
	 * (add X, del X, add X stays three steps). Other sets commute. */
	for (size_t i = 0; i < n; i++) {
		const struct set_kind *k = kind_find(edits[i].e.addr.family, edits[i].set);
		uint8_t key[KEY_MAX];
		size_t gi = n_groups;

		if (!k)
			return -EINVAL;
		r = key_encode(k, &edits[i].e, key);
		if (r < 0)
			return r;
		for (size_t j = n_groups; j-- > 0;) {
			if (groups[j].k != k)
				continue;
			if (groups[j].del == edits[i].del)
				gi = j;
			break; /* the latest group of this set decides */
		}
		if (gi == n_groups)
			groups[n_groups++] = (struct group){ .k = k, .del = edits[i].del };
		groups[gi].n++;
		g_of[i] = gi;
	}

	nftq_batch_init(&b, nftq_next_seq(q));
	r = nftq_batch_begin(&b, genid);
	for (size_t gi = 0; gi < n_groups && r >= 0; gi++)
		r = group_emit(&b, &groups[gi], gi, edits, g_of, n);
	if (r >= 0)
		r = nftq_batch_send(q, &b, &err);
	nftq_batch_done(&b);

	if (r == -ENOENT && ret_missing) {
		/* Adds and DESTROYs only fail so for a missing table or set:
		 * the set of the message the error names. */
		*ret_missing = NULL;
		for (size_t gi = 0; gi < n_groups && err.error == -ENOENT; gi++)
			if (err.seq - groups[gi].seq <= groups[gi].last_seq - groups[gi].seq)
				*ret_missing = groups[gi].k->what;
	}
	return r;
}
