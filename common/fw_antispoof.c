#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fw_backend.h"
#include "nl.h"
#include "nftq.h"
#include "util.h"

int fw_open(enum fw_backend backend, struct fw **ret)
{
	struct fw *fw;
	int r;

	if (backend != FW_IPTABLES && backend != FW_NFTABLES)
		return -EINVAL;
	fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	fw->backend = backend;
	if (backend == FW_NFTABLES) {
		r = nftq_open(&fw->q);
		if (r < 0) {
			free(fw);
			return r;
		}
	}
	*ret = fw;
	return 0;
}

void fw_close(struct fw *fw)
{
	if (!fw)
		return;
	nftq_close(fw->q);
	free(fw);
}

enum fw_backend fw_backend_of(const struct fw *fw)
{
	return fw->backend;
}

unsigned fw_antispoof_families(enum fw_backend backend, bool ipv6_kernel, int ret[static 2])
{
	unsigned n = 0;

	if (backend == FW_NFTABLES) {
		/* One batch covers both families. */
		ret[n++] = AF_UNSPEC;
		return n;
	}
	ret[n++] = AF_INET;
	if (ipv6_kernel)
		ret[n++] = AF_INET6;
	return n;
}

void fw_done_free(struct fw_done *d)
{
	if (!d)
		return;
	if (d->free_data)
		d->free_data(d->data);
	free(d);
}

int fw_antispoof_ensure(struct fw *fw, int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			unsigned lock_timeout_ms, struct fw_done **ret_done, const char **ret_detail)
{
	struct fw_done *d = calloc(1, sizeof(*d));
	const char *detail = NULL;
	int r;

	if (!d)
		return -ENOMEM;
	d->backend = fw->backend;
	if (fw->backend == FW_NFTABLES)
		r = nft_antispoof_ensure(fw->q, ifname, addrs, n_addrs, lock_timeout_ms, d, &detail);
	else
		r = iptc_antispoof_ensure(family, ifname, addrs, n_addrs, lock_timeout_ms, d);
	if (ret_detail)
		*ret_detail = detail;
	if (r < 0 || !ret_done)
		fw_done_free(d);
	else
		*ret_done = d;
	return r;
}

int fw_antispoof_undo(struct fw *fw, int family, const char *ifname, const struct fw_done *done,
		      unsigned lock_timeout_ms)
{
	if (!done)
		return 0;
	if (fw->backend == FW_NFTABLES)
		return nft_antispoof_undo(fw->q, ifname, done, lock_timeout_ms);
	return iptc_antispoof_undo(family, ifname, done, lock_timeout_ms);
}

int fw_antispoof_remove(struct fw *fw, int family, const char *ifname, const struct ip_addr *hint, unsigned n_hint,
			unsigned lock_timeout_ms)
{
	if (fw->backend == FW_NFTABLES)
		return nft_antispoof_remove(fw->q, ifname, hint, n_hint, lock_timeout_ms);
	return iptc_antispoof_remove(family, ifname, hint, n_hint, lock_timeout_ms);
}

int fw_antispoof_claimed(struct fw *fw, const char *ifname, bool ipv6_kernel, struct ip_addr *ret, unsigned max,
			 unsigned *ret_n)
{
	if (fw->backend == FW_NFTABLES)
		return nft_antispoof_claimed(fw->q, ifname, ret, max, ret_n);
	return iptc_antispoof_claimed(ifname, ipv6_kernel, ret, max, ret_n);
}

int fw_report_add(struct fw_report *r, const char *word, const char *what, const char *fmt, ...)
{
	struct fw_line *l = reallocarray(r->line, r->n + 1, sizeof(*l));
	va_list ap;

	if (!l)
		return -ENOMEM;
	r->line = l;
	l = &r->line[r->n++];
	snprintf(l->word, sizeof(l->word), "%s", word);
	snprintf(l->what, sizeof(l->what), "%s", what);
	va_start(ap, fmt);
	vsnprintf(l->text, sizeof(l->text), fmt, ap);
	va_end(ap);
	return 0;
}

int fw_antispoof_check(struct fw *fw, int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
		       struct fw_report *ret)
{
	*ret = (struct fw_report){};
	if (fw->backend == FW_NFTABLES)
		return nft_antispoof_check(fw->q, ifname, addrs, n_addrs, ret);
	return iptc_antispoof_check(family, ifname, addrs, n_addrs, ret);
}

void fw_report_done(struct fw_report *r)
{
	free(r->line);
	*r = (struct fw_report){};
}

/* The kernel hooks at most this many devices to one flowtable. */
#define ACCEL_MAX_DEVS 255

static bool is_vif(const char *name)
{
	return strncmp(name, "vif", 3) == 0;
}

/* The devices the flowtable hooks: every interface but lo. Past the
 * kernel's limit, the uplinks (whatever is not a vif) come first, then the
 * newest vifs (the highest indexes: the one coming online among them). */
static int list_devices(struct nlr *nl, char ***ret, size_t *ret_n)
{
	_cleanup_free_ struct nlr_link_name *ifs = NULL;
	char **names;
	size_t n = 0, k = 0;
	int r;

	r = nlr_link_names(nl, &ifs, &n);
	if (r < 0)
		return r;
	names = calloc(ACCEL_MAX_DEVS + 1, sizeof(*names));
	if (!names)
		return -ENOMEM;
	for (int pass = 0; pass < 2 && r == 0; pass++)
		for (size_t i = n; i-- > 0 && k < ACCEL_MAX_DEVS;) {
			const char *name = ifs[i].name;

			if (streq(name, "lo") || is_vif(name) != (pass == 1))
				continue;
			names[k] = strdup(name);
			if (!names[k]) {
				r = -ENOMEM;
				break;
			}
			k++;
		}
	if (r < 0) {
		for (size_t i = 0; i < k; i++)
			free(names[i]);
		free(names);
		return r;
	}
	*ret = names;
	*ret_n = k;
	return 0;
}

static void free_devices(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

static int accel_over_current_devices(struct fw *fw, struct nlr *nl)
{
	char **devs = NULL;
	size_t n = 0;
	int r;

	r = list_devices(nl, &devs, &n);
	if (r < 0)
		return r;
	r = nftq_accel_recreate(fw->q, (const char *const *)devs, n);
	free_devices(devs);
	return r;
}

int fw_accel_recreate(struct fw *fw, struct nlr *nl)
{
	int r;

	if (fw->backend != FW_NFTABLES)
		return -EOPNOTSUPP;
	r = accel_over_current_devices(fw, nl);
	if (r != -ENOENT)
		return r;
	/* ENOENT is what a kernel without flowtables says, and also what it
	 * says for a device that went away after we listed it. Without any
	 * device only the first is possible: that tells them apart without
	 * listing every interface again. */
	r = nftq_accel_recreate(fw->q, NULL, 0);
	if (r == -ENOENT)
		return -EOPNOTSUPP;
	if (r < 0)
		return r;
	return accel_over_current_devices(fw, nl);
}

const char *fw_antispoof_describe(enum fw_backend backend, int family, bool remove, const char *ifname,
				  const struct ip_addr *addrs, unsigned n_addrs, char *buf, size_t len)
{
	if (backend == FW_NFTABLES)
		nft_antispoof_describe(remove, ifname, addrs, n_addrs, buf, len);
	else
		iptc_antispoof_describe(family, remove, ifname, addrs, n_addrs, buf, len);
	return buf;
}
