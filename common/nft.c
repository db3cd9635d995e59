/* nftables table detection with one raw NETLINK_NETFILTER dump
 * (NFT_MSG_GETTABLE), no libnftnl. Only the family of each table matters. */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nft.h"
#include "util.h"

/* The kernel sizes dump messages to the reader's buffer, up to 32 KiB. */
#define NFT_RECV_BUF 32768

static bool nft_family_is_ip(uint8_t family)
{
	return family == NFPROTO_IPV4 || family == NFPROTO_IPV6 || family == NFPROTO_INET;
}

/* What a kernel without nf_tables answers: nfnetlink has no such subsystem
 * (EINVAL, after a failed module request), or the command is unknown. */
static bool nft_errno_means_absent(int e)
{
	return e == ENOENT || e == EOPNOTSUPP || e == EINVAL || e == EPROTONOSUPPORT;
}

/* Walks one buffer of answers. Returns 1 when the dump is complete, 0 when
 * more is to come, -errno on a kernel error (positive errno in the
 * message, negated here). */
static int nft_parse(const void *buf, size_t len, uint32_t portid, uint32_t seq, bool *found)
{
	const struct nlmsghdr *h;
	int left = (int)len;

	for (h = buf; left >= 0 && NLMSG_OK(h, (unsigned)left); h = NLMSG_NEXT(h, left)) {
		if (h->nlmsg_seq != seq || (portid && h->nlmsg_pid != portid))
			continue; /* not an answer to our request */
		if (h->nlmsg_type == NLMSG_DONE) {
			int e = 0;

			if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(e)))
				memcpy(&e, NLMSG_DATA(h), sizeof(e));
			return e < 0 ? e : 1;
		}
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *err = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
				return -EBADMSG;
			return err->error < 0 ? err->error : 1;
		}
		if (h->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE) &&
		    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nfgenmsg))) {
			const struct nfgenmsg *g = NLMSG_DATA(h);

			if (nft_family_is_ip(g->nfgen_family))
				*found = true;
		}
	}
	return 0;
}

int nft_has_ip_tables(bool *ret_found)
{
	_cleanup_close_ int fd = -1;
	struct {
		struct nlmsghdr h;
		struct nfgenmsg g;
	} req = {
		.h = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg)),
			.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.g = { .nfgen_family = NFPROTO_UNSPEC, .version = NFNETLINK_V0 },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct sockaddr_nl local;
	socklen_t locallen = sizeof(local);
	_cleanup_free_ char *buf = NULL;
	bool found = false;
	int r = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0) {
		if (errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT)
			goto absent;
		return negative_errno();
	}
	/* An autobind gives us our port, which every answer carries. */
	if (bind(fd, (struct sockaddr *)&(struct sockaddr_nl){ .nl_family = AF_NETLINK }, sizeof(struct sockaddr_nl)) < 0)
		return negative_errno();
	if (getsockname(fd, (struct sockaddr *)&local, &locallen) < 0)
		return negative_errno();

	if (sendto(fd, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return negative_errno();

	buf = malloc(NFT_RECV_BUF);
	if (!buf)
		return -ENOMEM;
	do {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = buf, .iov_len = NFT_RECV_BUF };
		struct msghdr msg = {
			.msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
		};
		ssize_t n;

		n = recvmsg(fd, &msg, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			return -EPIPE;
		if (msg.msg_flags & MSG_TRUNC)
			return -EMSGSIZE;
		if (from.nl_pid != 0)
			continue; /* only the kernel answers */
		r = nft_parse(buf, n, local.nl_pid, req.h.nlmsg_seq, &found);
	} while (r == 0);

	if (r < 0) {
		if (nft_errno_means_absent(-r))
			goto absent;
		return r;
	}
	*ret_found = found;
	return 0;

absent:
	*ret_found = false;
	return 0;
}
