#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fw_backend.h"
#include "util.h"

int fw_open(enum fw_backend backend, struct fw **ret)
{
	struct fw *fw;

	if (backend != FW_IPTABLES)
		return -EOPNOTSUPP;
	fw = calloc(1, sizeof(*fw));
	if (!fw)
		return -ENOMEM;
	fw->backend = backend;
	*ret = fw;
	return 0;
}

void fw_close(struct fw *fw)
{
	free(fw);
}

enum fw_backend fw_backend_of(const struct fw *fw)
{
	return fw->backend;
}

unsigned fw_antispoof_families(enum fw_backend backend, bool ipv6_kernel, int ret[static 2])
{
	unsigned n = 0;

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
	int r;

	if (ret_detail)
		*ret_detail = NULL;
	if (!d)
		return -ENOMEM;
	d->backend = fw->backend;
	r = iptc_antispoof_ensure(family, ifname, addrs, n_addrs, lock_timeout_ms, d);
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
	return iptc_antispoof_undo(family, ifname, done, lock_timeout_ms);
}

int fw_antispoof_remove(struct fw *fw, int family, const char *ifname, const struct ip_addr *hint, unsigned n_hint,
			unsigned lock_timeout_ms)
{
	return iptc_antispoof_remove(family, ifname, hint, n_hint, lock_timeout_ms);
}

int fw_antispoof_claimed(struct fw *fw, const char *ifname, bool ipv6_kernel, struct ip_addr *ret, unsigned max,
			 unsigned *ret_n)
{
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
	return iptc_antispoof_check(family, ifname, addrs, n_addrs, ret);
}

void fw_report_done(struct fw_report *r)
{
	free(r->line);
	*r = (struct fw_report){};
}

const char *fw_antispoof_describe(enum fw_backend backend, int family, bool remove, const char *ifname,
				  const struct ip_addr *addrs, unsigned n_addrs, char *buf, size_t len)
{
	iptc_antispoof_describe(family, remove, ifname, addrs, n_addrs, buf, len);
	return buf;
}
