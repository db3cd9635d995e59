/* fuzz-nft-rule: reading nf_tables rules back from the kernel and comparing
 * them with the rules the program builds (common/nftq_expr.c:
 * nftq_rule_from_msg, nftq_rule_equal, nftq_expr_attr_equal; nftq_dns.c:
 * nftq_dns_rule_equal, nftq_dns_rule_decode) -- what status and the sync
 * of chain dnat-dns do with a dump.
 *
 * The wanted rules are built fresh for each input, as the program builds
 * them: the four rules of NAT mode's table (nftq_nat_build), the two of
 * the accel chain (nftq_accel_build), both read back out of those batches,
 * and two dnat-dns rules (nftq_dns_rule_build: a dnat, a drop).
 *
 * Input: byte 0 picks how the dump message is made:
 *  0  raw: the rest is a whole netlink message (its nlmsg_len clamped to
 *     the bytes given, as the dump reader guarantees);
 *  1  a wanted rule as the kernel would list it (byte 1 picks it), then
 *     edits: pairs (offset, xor) flip its bytes, byte 2 may cut it short;
 *  2  built: a NEWRULE of table/chain with NFTA_RULE_EXPRESSIONS holding
 *     expressions of known names whose NFTA_EXPR_DATA holds arbitrary
 *     attributes (each: type, length, bytes from the input).
 * Then nftq_rule_from_msg and every comparison. Invariants: a rule without
 * a comment equals itself (reflexive) and compares the same both ways with
 * every wanted rule (symmetric), a commented one equals nothing; what
 * nftq_dns_rule_decode accepts is a valid rule that its own rebuild
 * equals, and a rule equal to a wanted dnat-dns rule decodes to exactly
 * that rule. Any broken invariant abort()s.
 *
 * Built with -DFUZZ_NFT_GEN (gen-nft-corpus, not a fuzz target), this file
 * writes the seeds of mode 0 -- each wanted rule as the kernel lists it --
 * and of modes 1 and 2 into the directory given. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "nftq.h"
#include "nftq_dns.h"
#include "nftq_internal.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_NFT_GEN
/* libnftnl (1.2.x) calls exit() -- "nf_tables kernel ABI is broken" --
 * on an attribute of the wrong type or length, which the kernel never
 * sends. That is libnftnl's choice, not a crash of ours: while it parses,
 * its exit() comes back here as "input refused" (what it allocated is then
 * lost, so this target runs without leak detection: scripts/fuzz.sh). */
static jmp_buf parse_exit;
static volatile bool in_parse;

void exit(int status)
{
	void (*real)(int);

	if (in_parse) {
		in_parse = false;
		longjmp(parse_exit, 1);
	}
	real = (void (*)(int))dlsym(RTLD_NEXT, "exit");
	real(status);
	__builtin_unreachable();
}
#endif

#define MAX_WANT 16
#define BUF 16384

struct wanted {
	struct nftnl_rule *r[MAX_WANT];
	unsigned n;
	unsigned first_dns; /* r[first_dns..] are dns[] */
	struct nftq_dns_rule dns[2];
};

/* The NEWRULE messages of a batch, parsed back. */
static void rules_of_batch(struct wanted *w, const void *buf, ssize_t len)
{
	const struct nlmsghdr *nlh = buf;
	int left = (int)len;

	if (len <= 0)
		abort();
	while (mnl_nlmsg_ok(nlh, left)) {
		struct nftnl_rule *r;

		if (nftq_rule_from_msg(nlh, &r) < 0)
			abort();
		if (r && w->n < MAX_WANT)
			w->r[w->n++] = r;
		else if (r)
			nftnl_rule_free(r); /* not NULL-tolerant */
		nlh = mnl_nlmsg_next(nlh, &left);
	}
}

static void wanted_build(struct wanted *w)
{
	static const char *const devs[] = { "eth0", "wlan0" };
	struct nftq_nat m = { .vif = "vif5.0", .peer = "vif5.0-p", .vif_index = 2, .peer_index = 3,
			      .mac = { 0x00, 0x16, 0x3e, 0x5e, 0x6c, 0x09 } };
	uint8_t *buf = malloc(BUF);

	if (!buf)
		abort();
	m.real.s_addr = htonl(0x0a890009);    /* 10.137.0.9 */
	m.visible.s_addr = htonl(0x0a98980b); /* 10.152.152.11 */
	rules_of_batch(w, buf, nftq_nat_build(buf, BUF, 100, &m));
	rules_of_batch(w, buf, nftq_accel_build(buf, BUF, 200, 7, devs, ELEMENTSOF(devs)));
	free(buf);

	w->first_dns = w->n;
	w->dns[0] = (struct nftq_dns_rule){ .dst.s_addr = htonl(0x0a8b0101), .proto = IPPROTO_UDP,
					    .to.s_addr = htonl(0x0a000002) };
	w->dns[1] = (struct nftq_dns_rule){ .dst.s_addr = htonl(0x0a8b0102), .proto = IPPROTO_TCP, .drop = true };
	for (unsigned i = 0; i < 2; i++) {
		w->r[w->n] = nftq_dns_rule_build(&w->dns[i]);
		if (!w->r[w->n])
			abort();
		w->n++;
	}
}

static void wanted_free(struct wanted *w)
{
	for (unsigned i = 0; i < w->n; i++)
		nftnl_rule_free(w->r[i]);
}

static size_t rule_msg(const struct nftnl_rule *r, uint8_t *buf)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr((char *)buf, NFT_MSG_NEWRULE, NFPROTO_INET, NLM_F_MULTI, 1);

	nftnl_rule_nlmsg_build_payload(nlh, (struct nftnl_rule *)r);
	return nlh->nlmsg_len;
}

static const char *const expr_names[] = {
	"payload", "cmp", "meta", "immediate", "nat", "fwd", "flow_offload", "counter", "lookup", "bitwise",
	"ct", "byteorder", "log", "reject", "limit", "masq", "redir", "exthdr", "hash",
};

/* Mode 2: the message from a description. */
static size_t build_msg(const uint8_t *in, size_t n, uint8_t *buf)
{
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr((char *)buf, NFT_MSG_NEWRULE, NFPROTO_NETDEV, NLM_F_MULTI, 1);
	struct nlattr *list;
	size_t i = 0;

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "antispoof");
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "from-client");
	mnl_attr_put_u64(nlh, NFTA_RULE_HANDLE, htobe64(4));
	list = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
	while (i + 2 <= n && nlh->nlmsg_len < BUF - 512) {
		struct nlattr *elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM), *d;
		unsigned n_attrs = in[i + 1] % 8;

		mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, expr_names[in[i] % ELEMENTSOF(expr_names)]);
		i += 2;
		d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
		for (unsigned k = 0; k < n_attrs && i + 2 <= n; k++) {
			uint16_t type = in[i] % 20;
			size_t len = in[i + 1] % 33;

			i += 2;
			if (len > n - i)
				len = n - i;
			mnl_attr_put(nlh, type, len, in + i);
			i += len;
		}
		mnl_attr_nest_end(nlh, d);
		mnl_attr_nest_end(nlh, elem);
	}
	mnl_attr_nest_end(nlh, list);
	return nlh->nlmsg_len;
}

static bool dns_same(const struct nftq_dns_rule *a, const struct nftq_dns_rule *b)
{
	return a->dst.s_addr == b->dst.s_addr && a->proto == b->proto && a->drop == b->drop &&
	       (a->drop || a->to.s_addr == b->to.s_addr);
}

static void compare(const struct wanted *w, const struct nftnl_rule *got)
{
	struct nftnl_expr *e[NFTQ_RULE_MAX_EXPRS + 1];
	bool comment = nftnl_rule_is_set(got, NFTNL_RULE_USERDATA);
	int n = nftq_rule_exprs(got, e, (int)ELEMENTSOF(e));
	struct nftq_dns_rule d;
	int self, k;

	if (n < 0)
		abort();
	self = nftq_rule_equal(got, got, NULL);
	if (self != (!comment && n <= (int)ELEMENTSOF(e)))
		abort();
	for (int i = 0; i < n && i < (int)ELEMENTSOF(e); i++)
		for (uint16_t t = 0; t < 32; t++)
			if (!nftq_expr_attr_equal(e[i], e[i], t))
				abort();

	for (unsigned i = 0; i < w->n; i++) {
		int a = nftq_rule_equal(w->r[i], got, NULL), b = nftq_rule_equal(got, w->r[i], NULL);

		if (a < 0 || b < 0)
			abort();
		if (comment ? a != 0 : a != b)
			abort();
	}

	k = nftq_dns_rule_decode(got, &d);
	if (k == 0) {
		struct nftnl_rule *canon = nftq_dns_rule_build(&d);

		if (!canon || !nftq_dns_rule_equal(canon, got))
			abort();
		if (d.proto != IPPROTO_UDP && d.proto != IPPROTO_TCP)
			abort();
		nftnl_rule_free(canon);
	} else if (k != -EINVAL)
		abort();
	for (unsigned i = 0; i < 2; i++)
		if (nftq_dns_rule_equal(w->r[w->first_dns + i], got) && (k != 0 || !dns_same(&d, &w->dns[i])))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wanted w = {};
	struct nftnl_rule *got = NULL;
	struct nlmsghdr *nlh;
	uint8_t *buf;
	size_t len = 0;
	int r;

	if (size < 1 || size > BUF - 1024)
		return 0;
	buf = calloc(1, BUF);
	if (!buf)
		abort();
	wanted_build(&w);
	if (w.n != 8)
		abort(); /* 4 NAT-mode rules, 2 accel, 2 dnat-dns */

	switch (data[0] % 3) {
	case 0:
		len = size - 1;
		memcpy(buf, data + 1, len);
		break;
	case 1:
		if (size < 3)
			goto out;
		len = rule_msg(w.r[data[1] % w.n], buf);
		for (size_t i = 3; i + 2 <= size; i += 2)
			buf[data[i] % len] ^= data[i + 1];
		if (data[2] && data[2] < len)
			len = data[2] < sizeof(*nlh) ? sizeof(*nlh) : data[2];
		break;
	default:
		len = build_msg(data + 1, size - 1, buf);
		break;
	}
	if (len < sizeof(*nlh))
		goto out;
	nlh = (struct nlmsghdr *)buf;
	/* The dump reader only hands on messages that fit what it read. */
	if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
		nlh->nlmsg_len = (uint32_t)len;

	/* libnftnl parses the expressions nested in a dynset expression with
	 * no check of their names either (a NULL dereference on one without):
	 * a kernel always names them, and nftq_rule_from_msg checks only the
	 * rule's own list. Such inputs are not ours to fuzz. */
	if (memmem(nlh, nlh->nlmsg_len, "dynset", 6))
		goto out;

#ifndef FUZZ_NFT_GEN
	if (setjmp(parse_exit)) {
		got = NULL; /* libnftnl refused it with exit() */
		goto out;
	}
	in_parse = true;
#endif
	r = nftq_rule_from_msg(nlh, &got);
#ifndef FUZZ_NFT_GEN
	in_parse = false;
#endif
	if (r < 0 && r != -EBADMSG)
		abort();
	if (r == 1)
		compare(&w, got);
	/* The wanted rules themselves: each equals itself, and one of the
	 * dnat-dns ones decodes to what it was built from. */
	if (data[0] == 0xff)
		for (unsigned i = 0; i < w.n; i++)
			if (nftq_rule_equal(w.r[i], w.r[i], NULL) != 1)
				abort();
out:
	if (got)
		nftnl_rule_free(got);
	wanted_free(&w);
	free(buf);
	return 0;
}

#ifdef FUZZ_NFT_GEN
static void put(const char *dir, const char *name, const void *a, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f || fwrite(a, 1, n, f) != n || fclose(f) != 0)
		abort();
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "nat-from-client-fwd", "nat-from-client-arp", "nat-to-client-fwd",
					     "nat-to-client-arp", "accel-tcp", "accel-udp", "dns-dnat", "dns-drop" };
	struct wanted w = {};
	uint8_t *buf = calloc(1, BUF + 1), *msg = calloc(1, BUF);

	if (argc != 2 || !buf || !msg)
		return 2;
	wanted_build(&w);
	if (w.n != ELEMENTSOF(names))
		return 1;
	for (unsigned i = 0; i < w.n; i++) {
		char name[64];
		uint8_t sel[3] = { 1, (uint8_t)i, 0 };
		size_t len = rule_msg(w.r[i], msg);

		buf[0] = 0; /* mode 0: raw */
		memcpy(buf + 1, msg, len);
		snprintf(name, sizeof(name), "raw-%s", names[i]);
		put(argv[1], name, buf, len + 1);
		snprintf(name, sizeof(name), "edit-%s", names[i]);
		put(argv[1], name, sel, sizeof(sel));
	}
	/* mode 2: payload (4 attrs) + cmp (3 attrs), as the NAT rules start */
	put(argv[1], "built-payload-cmp",
	    "\x02" "\x00\x04" "\x01\x04\x00\x00\x00\x01" "\x02\x04\x00\x00\x00\x01" "\x03\x04\x00\x00\x00\x0c"
	    "\x04\x04\x00\x00\x00\x04"
	    "\x01\x03" "\x01\x04\x00\x00\x00\x01" "\x02\x04\x00\x00\x00\x00" "\x03\x08\x01\x00\x04\x00\x0a\x98\x98\x0b",
	    47);
	put(argv[1], "self-check", "\xff", 1);
	wanted_free(&w);
	free(buf);
	free(msg);
	return 0;
}
#endif
