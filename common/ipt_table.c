/* libiptc transactions on one table of one family, under the xtables lock,
 * and the handle operations the tools need. libip4tc and libip6tc are loaded
 * when a table of their family is first opened (iptc_lib.h); struct
 * ipt_table says which one a handle belongs to. errno is read right after
 * each failing libiptc call and returned as -errno. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>

#include "ipt.h"
#include "iptc_lib.h"
#include "util.h"

#define IPT_COMMIT_ATTEMPTS 50

struct ipt_table {
	int family;
	const struct iptc_lib *l4;  /* AF_INET */
	const struct ip6tc_lib *l6; /* AF_INET6 */
	struct xtc_handle *h;
};

int ipt_table_family(const struct ipt_table *t)
{
	return t->family;
}

/* ---- family dispatch: one place per libiptc call ---- */

static bool is4(const struct ipt_table *t)
{
	return t->family == AF_INET;
}

/* 0 for a failing libiptc call, with errno as libiptc left it. */
static int tc_is_chain(struct ipt_table *t, const char *c)
{
	return is4(t) ? t->l4->is_chain(c, t->h) : t->l6->is_chain(c, t->h);
}

static int tc_check(struct ipt_table *t, const xt_chainlabel c, const void *e, unsigned char *mask)
{
	return is4(t) ? t->l4->check_entry(c, e, mask, t->h) : t->l6->check_entry(c, e, mask, t->h);
}

static int tc_delete(struct ipt_table *t, const xt_chainlabel c, const void *e, unsigned char *mask)
{
	return is4(t) ? t->l4->delete_entry(c, e, mask, t->h) : t->l6->delete_entry(c, e, mask, t->h);
}

static int tc_insert(struct ipt_table *t, const xt_chainlabel c, const void *e, unsigned pos)
{
	return is4(t) ? t->l4->insert_entry(c, e, pos, t->h) : t->l6->insert_entry(c, e, pos, t->h);
}

static int tc_append(struct ipt_table *t, const xt_chainlabel c, const void *e)
{
	return is4(t) ? t->l4->append_entry(c, e, t->h) : t->l6->append_entry(c, e, t->h);
}

/* ---- the transaction ---- */

static int modprobe(const char *module)
{
	char path[256] = "/sbin/modprobe";
	char *argv[] = { (char *)"modprobe", (char *)"-q", (char *)module, NULL };
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	FILE *f;
	pid_t pid;
	int r, status;

	/* The kernel's own modprobe path, as iptables uses. */
	f = fopen("/proc/sys/kernel/modprobe", "re");
	if (f) {
		if (fgets(path, sizeof(path), f))
			path[strcspn(path, "\n")] = 0;
		fclose(f);
	}
	if (path[0] != '/')
		return -ENOENT;

	/* posix_spawn is fork+exec without a shell; the lock fd is O_CLOEXEC. */
	r = posix_spawn(&pid, path, NULL, NULL, argv, envp);
	if (r != 0)
		return -r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negative_errno();
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* The family's library, loaded by the first table opened (-ELIBACC when it
 * cannot be). */
static int table_lib(struct ipt_table *t)
{
	return is4(t) ? iptc_lib_load(&t->l4) : ip6tc_lib_load(&t->l6);
}

static int table_init(struct ipt_table *t, const char *table)
{
	t->h = is4(t) ? t->l4->init(table) : t->l6->init(table);
	return t->h ? 0 : negative_errno();
}

static void table_free(struct ipt_table *t)
{
	if (!t->h)
		return;
	if (is4(t))
		t->l4->free(t->h);
	else
		t->l6->free(t->h);
	t->h = NULL;
}

static int table_commit(struct ipt_table *t)
{
	int ok = is4(t) ? t->l4->commit(t->h) : t->l6->commit(t->h);

	return ok ? 0 : negative_errno();
}

int ipt_read(int family, const char *table, ipt_edit_fn edit, void *userdata)
{
	struct ipt_table t = { .family = family };
	int r;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (!table || strnlen(table, XT_TABLE_MAXNAMELEN) >= XT_TABLE_MAXNAMELEN)
		return -EINVAL;
	r = table_lib(&t);
	if (r < 0)
		return r;
	/* A snapshot: libiptc's init retries by itself when the table changes
	 * between its two reads, and nothing is committed, so no lock. */
	r = table_init(&t, table);
	if (r < 0)
		return r;
	r = edit(&t, userdata);
	table_free(&t);
	return r;
}

int ipt_transaction(int family, const char *table, ipt_edit_fn edit, void *userdata)
{
	return ipt_transaction_timed(family, table, IPT_LOCK_TIMEOUT_MS, edit, userdata);
}

int ipt_transaction_timed(int family, const char *table, unsigned lock_timeout_ms, ipt_edit_fn edit,
			  void *userdata)
{
	_cleanup_close_ int lock = -1;
	struct ipt_table t = { .family = family };
	bool modprobed = false;
	int r;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (!table || strnlen(table, XT_TABLE_MAXNAMELEN) >= XT_TABLE_MAXNAMELEN)
		return -EINVAL;
	/* Before the lock: loading takes none of the other writers' time. */
	r = table_lib(&t);
	if (r < 0)
		return r;

	lock = xt_lock_acquire(lock_timeout_ms);
	if (lock < 0)
		return lock;

	for (unsigned attempt = 0; attempt < IPT_COMMIT_ATTEMPTS; attempt++) {
		int k;

		r = table_init(&t, table);
		if (r == -ENOPROTOOPT && !modprobed) {
			/* x_tables not loaded ("iptables who?"): as iptables does. */
			modprobed = true;
			(void)modprobe(is4(&t) ? "ip_tables" : "ip6_tables");
			r = table_init(&t, table);
		}
		if (r < 0)
			return r;

		r = edit(&t, userdata);
		if (r <= 0) {
			table_free(&t);
			return r;
		}
		k = table_commit(&t);
		table_free(&t);
		if (k != -EAGAIN)
			return k < 0 ? k : r;
		/* The table changed since init (a writer not honouring the lock): redo. */
	}
	return -EAGAIN;
}

/* ---- operations on an open table ---- */

static int chain_label(const char *chain, xt_chainlabel ret)
{
	size_t n = strnlen(chain, sizeof(xt_chainlabel));

	if (n == 0 || n >= sizeof(xt_chainlabel))
		return -EINVAL;
	memset(ret, 0, sizeof(xt_chainlabel));
	memcpy(ret, chain, n);
	return 0;
}

/* Label of an existing chain: -EINVAL for a bad name, -ENOENT if absent. */
static int existing_chain(struct ipt_table *t, const char *chain, xt_chainlabel ret)
{
	int r = chain_label(chain, ret);

	if (r < 0)
		return r;
	return tc_is_chain(t, ret) ? 0 : -ENOENT;
}

static int entry_family(struct ipt_table *t, int family)
{
	return family == t->family ? 0 : -EAFNOSUPPORT;
}

/* iptc_check_entry/delete_entry compare every byte of the entry. */
static int entry_match(struct ipt_table *t, const xt_chainlabel c, const void *e, size_t size, bool del)
{
	_cleanup_free_ unsigned char *mask = NULL;
	int ok;

	mask = malloc(size);
	if (!mask)
		return -ENOMEM;
	memset(mask, 0xff, size);
	ok = del ? tc_delete(t, c, e, mask) : tc_check(t, c, e, mask);
	if (ok)
		return 1;
	return errno == ENOENT ? 0 : negative_errno();
}

/* Finds (or deletes) rule r in chain: 1 found, 0 not there, or -errno. */
static int drop_match(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r, bool del)
{
	_cleanup_free_ void *e = NULL;
	xt_chainlabel c;
	size_t size;
	int k;

	k = entry_family(t, r->family);
	if (k < 0)
		return k;
	k = existing_chain(t, chain, c);
	if (k < 0)
		return k;
	k = ipt_drop_rule_encode(r, &e, &size);
	if (k < 0)
		return k;
	return entry_match(t, c, e, size, del);
}

int ipt_drop_check(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r)
{
	return drop_match(t, chain, r, false);
}

int ipt_drop_delete(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r)
{
	int k = drop_match(t, chain, r, true);

	return k == 0 ? -ENOENT : k < 0 ? k : 0;
}

int ipt_drop_insert(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r, unsigned pos)
{
	_cleanup_free_ void *e = NULL;
	xt_chainlabel c;
	size_t size;
	int k;

	k = entry_family(t, r->family);
	if (k < 0)
		return k;
	k = chain_label(chain, c);
	if (k < 0)
		return k;
	k = ipt_drop_rule_encode(r, &e, &size);
	if (k < 0)
		return k;
	return tc_insert(t, c, e, pos) ? 0 : negative_errno();
}

int ipt_chain_exists(struct ipt_table *t, const char *chain)
{
	xt_chainlabel c;
	int k = chain_label(chain, c);

	if (k < 0)
		return k;
	return tc_is_chain(t, c) ? 1 : 0;
}

int ipt_chain_create(struct ipt_table *t, const char *chain)
{
	xt_chainlabel c;
	int k = chain_label(chain, c), ok;

	if (k < 0)
		return k;
	ok = is4(t) ? t->l4->create_chain(c, t->h) : t->l6->create_chain(c, t->h);
	return ok ? 0 : negative_errno();
}

int ipt_chain_flush(struct ipt_table *t, const char *chain)
{
	xt_chainlabel c;
	int k = chain_label(chain, c), ok;

	if (k < 0)
		return k;
	ok = is4(t) ? t->l4->flush_entries(c, t->h) : t->l6->flush_entries(c, t->h);
	return ok ? 0 : negative_errno();
}

/* "-j TO" with no match: the entry header for the family, then a standard
 * target naming the chain; libiptc turns the name into a jump. */
static int jump_encode(struct ipt_table *t, const xt_chainlabel to, void **ret_entry, size_t *ret_size)
{
	const size_t hdr = is4(t) ? sizeof(struct ipt_entry) : sizeof(struct ip6t_entry);
	const size_t tsize = XT_ALIGN(sizeof(struct xt_standard_target));
	const size_t len = strnlen(to, sizeof(xt_chainlabel));
	struct xt_entry_target *target;
	unsigned char *e;

	/* The chain's name goes into the target's name field. */
	if (len >= sizeof(target->u.user.name))
		return -EINVAL;
	e = calloc(1, hdr + tsize);
	if (!e)
		return -ENOMEM;
	if (is4(t)) {
		((struct ipt_entry *)e)->target_offset = hdr;
		((struct ipt_entry *)e)->next_offset = hdr + tsize;
	} else {
		((struct ip6t_entry *)e)->target_offset = hdr;
		((struct ip6t_entry *)e)->next_offset = hdr + tsize;
	}
	target = (struct xt_entry_target *)(e + hdr);
	target->u.user.target_size = tsize;
	memcpy(target->u.user.name, to, len);
	*ret_entry = e;
	*ret_size = hdr + tsize;
	return 0;
}

int ipt_jump_check(struct ipt_table *t, const char *from, const char *to)
{
	_cleanup_free_ void *e = NULL;
	xt_chainlabel f, c;
	size_t size;
	int k;

	k = existing_chain(t, from, f);
	if (k < 0)
		return k;
	k = chain_label(to, c);
	if (k < 0)
		return k;
	k = jump_encode(t, c, &e, &size);
	if (k < 0)
		return k;
	return entry_match(t, f, e, size, false);
}

int ipt_jump_append(struct ipt_table *t, const char *from, const char *to)
{
	_cleanup_free_ void *e = NULL;
	xt_chainlabel f, c;
	size_t size;
	int k;

	k = chain_label(from, f);
	if (k < 0)
		return k;
	k = chain_label(to, c);
	if (k < 0)
		return k;
	/* Without this check libiptc would take an unknown name for a target
	 * module and the kernel would refuse the whole commit. */
	if (!tc_is_chain(t, c))
		return -ENOENT;
	k = jump_encode(t, c, &e, &size);
	if (k < 0)
		return k;
	return tc_append(t, f, e) ? 0 : negative_errno();
}

int ipt_chain_rules(struct ipt_table *t, const char *chain, struct ipt_rule_view **ret, size_t *ret_n)
{
	_cleanup_free_ struct ipt_rule_view *v = NULL;
	size_t n = 0, cap = 0;
	xt_chainlabel c;
	int k;

	k = existing_chain(t, chain, c);
	if (k < 0)
		return k;
	for (const void *e = is4(t) ? (const void *)t->l4->first_rule(c, t->h) : (const void *)t->l6->first_rule(c, t->h);
	     e; e = is4(t) ? (const void *)t->l4->next_rule(e, t->h) : (const void *)t->l6->next_rule(e, t->h)) {
		const char *target = is4(t) ? t->l4->get_target(e, t->h) : t->l6->get_target(e, t->h);
		bool user_chain = target && *target && tc_is_chain(t, target);

		if (n == cap) {
			struct ipt_rule_view *nv;

			cap = cap ? cap * 2 : 32;
			nv = reallocarray(v, cap, sizeof(*v));
			if (!nv)
				return -ENOMEM;
			v = nv;
		}
		k = ipt_rule_view_decode(t->family, e, target, user_chain, &v[n]);
		if (k < 0)
			return k;
		n++;
	}
	*ret = v;
	v = NULL;
	*ret_n = n;
	return 0;
}

int ipt_dnat_list(struct ipt_table *t, const char *chain, struct ipt_dnat_rule *ret, size_t max, size_t *ret_n)
{
	const struct ipt_entry *e;
	xt_chainlabel c;
	size_t n = 0;
	int k;

	if (!is4(t))
		return -EAFNOSUPPORT;
	k = existing_chain(t, chain, c);
	if (k < 0)
		return k;
	for (e = t->l4->first_rule(c, t->h); e; e = t->l4->next_rule(e, t->h), n++) {
		struct ipt_dnat_rule d;

		if (ipt_dnat_rule_decode(e, &d) < 0)
			return -EBADMSG;
		if (n < max)
			ret[n] = d;
	}
	*ret_n = n;
	return 0;
}

int ipt_dnat_append(struct ipt_table *t, const char *chain, const struct ipt_dnat_rule *r)
{
	_cleanup_free_ void *e = NULL;
	xt_chainlabel c;
	size_t size;
	int k;

	if (!is4(t))
		return -EAFNOSUPPORT;
	k = chain_label(chain, c);
	if (k < 0)
		return k;
	k = ipt_dnat_rule_encode(r, &e, &size);
	if (k < 0)
		return k;
	return tc_append(t, c, e) ? 0 : negative_errno();
}
