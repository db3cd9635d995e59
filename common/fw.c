#include <errno.h>
#include <sys/socket.h>

#include "fw.h"
#include "nftq.h"
#include "util.h"

int fw_backend_parse(const char *s, enum fw_backend *ret)
{
	if (streq(s, "auto"))
		*ret = FW_AUTO;
	else if (streq(s, "iptables"))
		*ret = FW_IPTABLES;
	else if (streq(s, "nftables"))
		*ret = FW_NFTABLES;
	else
		return -EINVAL;
	return 0;
}

const char *fw_backend_name(enum fw_backend b)
{
	switch (b) {
	case FW_IPTABLES:
		return "iptables";
	case FW_NFTABLES:
		return "nftables";
	default:
		return "auto";
	}
}

/* What a kernel without nf_tables answers to the socket or the query. */
static bool no_nftables(int r)
{
	return r == -EPROTONOSUPPORT || r == -EAFNOSUPPORT || r == -EOPNOTSUPP || r == -EINVAL;
}

int fw_probe(enum fw_backend requested, enum fw_backend *ret)
{
	struct nftq *q = NULL;
	int r;

	if (requested != FW_AUTO) {
		*ret = requested;
		return 0;
	}
	r = nftq_open(&q);
	if (r >= 0)
		r = nftq_set_check(q, AF_INET, NFTQ_SET_ALLOWED);
	nftq_close(q);
	if (r == 0 || r == -EPROTOTYPE)
		/* A set of another type is still the nftables generation's:
		 * online then says what is wrong with it. */
		*ret = FW_NFTABLES;
	else if (r == -ENOENT || no_nftables(r))
		*ret = FW_IPTABLES;
	else
		return r;
	return 0;
}
