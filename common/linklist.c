#include <errno.h>
#include <stdbool.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "linklist.h"
#include "util.h"

struct list_ctx {
	struct link_name *v;
	size_t n, size;
	int error;
	bool interrupted;
};

static int attr_cb(const struct nlattr *a, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
		return MNL_CB_OK;
	if (mnl_attr_get_type(a) == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return MNL_CB_OK; /* a malformed name is skipped, not trusted */
	tb[mnl_attr_get_type(a)] = a;
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_ctx *c = data;
	const struct nlattr *tb[IFLA_MAX + 1] = {};
	const struct ifinfomsg *ifm;
	const char *name;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		c->interrupted = true;
	if (nlh->nlmsg_type != RTM_NEWLINK || mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifm))
		return MNL_CB_OK;
	ifm = mnl_nlmsg_get_payload(nlh);
	if (mnl_attr_parse(nlh, sizeof(*ifm), attr_cb, tb) < 0 || !tb[IFLA_IFNAME])
		return MNL_CB_OK;
	name = mnl_attr_get_str(tb[IFLA_IFNAME]);
	if (strlen(name) >= sizeof(c->v[0].name))
		return MNL_CB_OK;
	if (c->n == c->size) {
		size_t size = c->size ? c->size * 2 : 64;
		struct link_name *v = reallocarray(c->v, size, sizeof(*v));

		if (!v) {
			c->error = -ENOMEM;
			return MNL_CB_ERROR;
		}
		c->v = v;
		c->size = size;
	}
	c->v[c->n].ifindex = ifm->ifi_index;
	strcpy(c->v[c->n].name, name);
	c->n++;
	return MNL_CB_OK;
}

static int by_index(const void *a, const void *b)
{
	int x = ((const struct link_name *)a)->ifindex, y = ((const struct link_name *)b)->ifindex;

	return x < y ? -1 : x > y;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct mnl_socket *, mnl_socket_close)

/* A dump the kernel flagged as interrupted (links came or went meanwhile)
 * is read again, this often. */
#define DUMP_TRIES 3
/* The kernel fills dump parts up to 32 KiB when the reader offers it. */
#define DUMP_BUF 32768

static int dump_once(struct mnl_socket *nl, uint32_t seq, struct list_ctx *c)
{
	char buf[DUMP_BUF];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifm;
	uint32_t portid = mnl_socket_get_portid(nl);
	int r;

	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
	ifm->ifi_family = AF_UNSPEC;
	/* Statistics are most of what the kernel would write per link. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return negative_errno();
	for (;;) {
		ssize_t k = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (k < 0)
			return negative_errno();
		r = mnl_cb_run(buf, (size_t)k, seq, portid, link_cb, c);
		if (r == MNL_CB_STOP)
			break;
		if (r < 0)
			return c->error ? c->error : negative_errno();
	}
	return c->interrupted ? -EINTR : 0;
}

int link_names_list(struct link_name **ret, size_t *ret_n)
{
	_cleanup_(mnl_socket_closep) struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	struct list_ctx c = {};
	uint32_t seq = (uint32_t)time(NULL);
	int r = -EINTR;

	if (!nl)
		return negative_errno();
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return negative_errno();
	for (unsigned i = 0; i < DUMP_TRIES && r == -EINTR; i++) {
		c.n = 0;
		c.interrupted = false;
		r = dump_once(nl, seq + i, &c);
	}
	if (r < 0) {
		free(c.v);
		return r;
	}
	qsort(c.v, c.n, sizeof(*c.v), by_index);
	*ret = c.v;
	*ret_n = c.n;
	return 0;
}
