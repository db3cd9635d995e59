/* Pure encoders/decoders between our rule structs and the x_tables entry
 * layout libiptc takes and returns, byte for byte what iptables-legacy 1.8.9
 * writes for the same rule (see NOTES.md section 1). No libxtables. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "ipt.h"
#include "util.h"

#define STD_TARGET_SIZE XT_ALIGN(sizeof(struct xt_standard_target))
#define PORT_MATCH_SIZE (XT_ALIGN(sizeof(struct xt_entry_match)) + XT_ALIGN(sizeof(struct xt_udp)))
#define DNAT_TARGET_SIZE (XT_ALIGN(sizeof(struct xt_entry_target)) + XT_ALIGN(sizeof(struct nf_nat_range2)))
#define DNAT_TARGET_OFFSET (sizeof(struct ipt_entry) + PORT_MATCH_SIZE)
#define DNAT_ENTRY_SIZE (DNAT_TARGET_OFFSET + DNAT_TARGET_SIZE)
#define DNAT_REVISION 2

_Static_assert(XT_ALIGN(sizeof(struct xt_udp)) == XT_ALIGN(sizeof(struct xt_tcp)),
	       "udp and tcp matches have the same size");
_Static_assert(DNAT_ENTRY_SIZE == 112 + 48 + 80, "DNAT rule layout of iptables-legacy 1.8.9");
_Static_assert(STD_TARGET_SIZE == 40, "standard target layout of iptables-legacy 1.8.9");

/* Fills name[IFNAMSIZ] and mask[IFNAMSIZ] the way iptables does: a trailing
 * '+' makes a prefix match with the mask over the prefix only; otherwise
 * the mask also covers the NUL, so the match is exact. */
static int encode_iface(const char *iface, char name[static IFNAMSIZ], unsigned char mask[static IFNAMSIZ])
{
	size_t len = strnlen(iface, IFNAME_MAX);
	size_t masklen;

	if (len == 0 || len >= IFNAME_MAX)
		return -EINVAL;
	if (iface[len - 1] == '+') {
		masklen = len - 1;
		if (masklen == 0) /* "+": any interface, which is no -i at all */
			return -EINVAL;
	} else
		masklen = len + 1;

	memcpy(name, iface, len);
	memset(mask, 0xff, masklen);
	return 0;
}

static void set_target(struct xt_entry_target *t, size_t size, const char *name, uint8_t revision)
{
	t->u.user.target_size = size;
	strncpy(t->u.user.name, name, sizeof(t->u.user.name) - 1);
	t->u.user.revision = revision;
}

static int drop_encode4(const struct ipt_drop_rule *r, void **ret_entry, size_t *ret_size)
{
	const size_t size = sizeof(struct ipt_entry) + STD_TARGET_SIZE;
	_cleanup_free_ struct ipt_entry *e = NULL;
	int k;

	e = calloc(1, size);
	if (!e)
		return -ENOMEM;
	k = encode_iface(r->iface, e->ip.iniface, e->ip.iniface_mask);
	if (k < 0)
		return k;
	if (r->iface_inv)
		e->ip.invflags |= IPT_INV_VIA_IN;
	if (r->has_src) {
		e->ip.src = r->src.v4;
		e->ip.smsk.s_addr = htonl(0xffffffffu);
		if (r->src_inv)
			e->ip.invflags |= IPT_INV_SRCIP;
	}
	e->target_offset = sizeof(struct ipt_entry);
	e->next_offset = size;
	set_target((struct xt_entry_target *)e->elems, STD_TARGET_SIZE, IPTC_LABEL_DROP, 0);

	*ret_entry = e;
	e = NULL;
	*ret_size = size;
	return 0;
}

static int drop_encode6(const struct ipt_drop_rule *r, void **ret_entry, size_t *ret_size)
{
	const size_t size = sizeof(struct ip6t_entry) + STD_TARGET_SIZE;
	_cleanup_free_ struct ip6t_entry *e = NULL;
	int k;

	e = calloc(1, size);
	if (!e)
		return -ENOMEM;
	k = encode_iface(r->iface, e->ipv6.iniface, e->ipv6.iniface_mask);
	if (k < 0)
		return k;
	if (r->iface_inv)
		e->ipv6.invflags |= IP6T_INV_VIA_IN;
	if (r->has_src) {
		e->ipv6.src = r->src.v6;
		memset(&e->ipv6.smsk, 0xff, sizeof(e->ipv6.smsk));
		if (r->src_inv)
			e->ipv6.invflags |= IP6T_INV_SRCIP;
	}
	/* No protocol, so no IP6T_F_PROTO. */
	e->target_offset = sizeof(struct ip6t_entry);
	e->next_offset = size;
	set_target((struct xt_entry_target *)e->elems, STD_TARGET_SIZE, IP6TC_LABEL_DROP, 0);

	*ret_entry = e;
	e = NULL;
	*ret_size = size;
	return 0;
}

int ipt_drop_rule_encode(const struct ipt_drop_rule *r, void **ret_entry, size_t *ret_size)
{
	if (r->has_src && r->src.family != r->family)
		return -EINVAL;
	switch (r->family) {
	case AF_INET:
		return drop_encode4(r, ret_entry, ret_size);
	case AF_INET6:
		return drop_encode6(r, ret_entry, ret_size);
	default:
		return -EAFNOSUPPORT;
	}
}

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_TCP:
		return "tcp";
	default:
		return NULL;
	}
}

int ipt_dnat_rule_encode(const struct ipt_dnat_rule *r, void **ret_entry, size_t *ret_size)
{
	const char *pname = proto_name(r->proto);
	_cleanup_free_ struct ipt_entry *e = NULL;
	struct xt_entry_match *m;
	struct xt_entry_target *t;
	struct nf_nat_range2 *range;

	if (!pname)
		return -EPROTONOSUPPORT;
	e = calloc(1, DNAT_ENTRY_SIZE);
	if (!e)
		return -ENOMEM;

	e->ip.dst = r->dst;
	e->ip.dmsk.s_addr = htonl(0xffffffffu);
	e->ip.proto = r->proto;
	e->target_offset = DNAT_TARGET_OFFSET;
	e->next_offset = DNAT_ENTRY_SIZE;

	m = (struct xt_entry_match *)e->elems;
	m->u.user.match_size = PORT_MATCH_SIZE;
	strncpy(m->u.user.name, pname, sizeof(m->u.user.name) - 1);
	m->u.user.revision = 0;
	if (r->proto == IPPROTO_UDP) {
		struct xt_udp *udp = (struct xt_udp *)m->data;

		udp->spts[1] = 0xffff;
		udp->dpts[0] = udp->dpts[1] = r->dport;
	} else {
		struct xt_tcp *tcp = (struct xt_tcp *)m->data;

		tcp->spts[1] = 0xffff;
		tcp->dpts[0] = tcp->dpts[1] = r->dport;
	}

	t = (struct xt_entry_target *)((char *)e + DNAT_TARGET_OFFSET);
	set_target(t, DNAT_TARGET_SIZE, "DNAT", DNAT_REVISION);
	range = (struct nf_nat_range2 *)t->data;
	range->flags = NF_NAT_RANGE_MAP_IPS;
	range->min_addr.in = r->to;
	range->max_addr.in = r->to;

	*ret_entry = e;
	e = NULL;
	*ret_size = DNAT_ENTRY_SIZE;
	return 0;
}

static bool all_zero(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* A name field equal to name. Bytes after the NUL are not compared: the
 * kernel copies only strlen+1 bytes of the name back to libiptc. */
static bool name_is(const char *field, size_t size, const char *name)
{
	return memchr(field, 0, size) && streq(field, name);
}

int ipt_dnat_rule_decode(const void *entry, struct ipt_dnat_rule *ret)
{
	const struct ipt_entry *e = entry;
	const struct xt_entry_match *m;
	const struct xt_entry_target *t;
	const struct nf_nat_range2 *range;
	const char *pname;
	uint16_t dport;

	if (e->target_offset != DNAT_TARGET_OFFSET || e->next_offset != DNAT_ENTRY_SIZE)
		return -EINVAL;
	/* Header: only -d X/32 and -p udp|tcp. */
	pname = proto_name(e->ip.proto);
	if (!pname)
		return -EINVAL;
	if (e->ip.src.s_addr || e->ip.smsk.s_addr || e->ip.dmsk.s_addr != htonl(0xffffffffu) ||
	    e->ip.flags || e->ip.invflags)
		return -EINVAL;
	if (!all_zero(e->ip.iniface, sizeof(e->ip.iniface)) ||
	    !all_zero(e->ip.outiface, sizeof(e->ip.outiface)) ||
	    !all_zero(e->ip.iniface_mask, sizeof(e->ip.iniface_mask)) ||
	    !all_zero(e->ip.outiface_mask, sizeof(e->ip.outiface_mask)))
		return -EINVAL;

	/* The one match: -m udp|tcp --dport P, revision 0, nothing else. */
	m = (const struct xt_entry_match *)e->elems;
	if (m->u.user.match_size != PORT_MATCH_SIZE || m->u.user.revision != 0 ||
	    !name_is(m->u.user.name, sizeof(m->u.user.name), pname))
		return -EINVAL;
	if (e->ip.proto == IPPROTO_UDP) {
		const struct xt_udp *udp = (const struct xt_udp *)m->data;

		if (udp->spts[0] != 0 || udp->spts[1] != 0xffff || udp->dpts[0] != udp->dpts[1] ||
		    udp->invflags)
			return -EINVAL;
		dport = udp->dpts[0];
	} else {
		const struct xt_tcp *tcp = (const struct xt_tcp *)m->data;

		if (tcp->spts[0] != 0 || tcp->spts[1] != 0xffff || tcp->dpts[0] != tcp->dpts[1] ||
		    tcp->option || tcp->flg_mask || tcp->flg_cmp || tcp->invflags)
			return -EINVAL;
		dport = tcp->dpts[0];
	}

	/* The target: DNAT revision 2, one address, no ports. */
	t = (const struct xt_entry_target *)((const char *)e + e->target_offset);
	if (t->u.user.target_size != DNAT_TARGET_SIZE || t->u.user.revision != DNAT_REVISION ||
	    !name_is(t->u.user.name, sizeof(t->u.user.name), "DNAT"))
		return -EINVAL;
	range = (const struct nf_nat_range2 *)t->data;
	if (range->flags != NF_NAT_RANGE_MAP_IPS || range->min_addr.ip != range->max_addr.ip ||
	    !all_zero(range->min_addr.all + 1, sizeof(range->min_addr) - sizeof(range->min_addr.ip)) ||
	    !all_zero(range->max_addr.all + 1, sizeof(range->max_addr) - sizeof(range->max_addr.ip)) ||
	    range->min_proto.all || range->max_proto.all || range->base_proto.all)
		return -EINVAL;

	/* Padding zeroed too, so decoded rules compare with memcmp. */
	memset(ret, 0, sizeof(*ret));
	ret->dst = e->ip.dst;
	ret->proto = e->ip.proto;
	ret->dport = dport;
	ret->to = range->min_addr.in;
	return 0;
}

/* The -i pattern as iptables writes it: "vif3.0" (mask over the NUL too),
 * "vif+" (mask over a prefix), "" (no mask: any interface). -EINVAL for a
 * mask of another form, which iptables never writes. */
static int decode_iface(const char name[static IFNAMSIZ], const unsigned char mask[static IFNAMSIZ],
			char ret[static IFNAME_MAX])
{
	size_t masklen = 0;

	while (masklen < IFNAMSIZ && mask[masklen] == 0xff)
		masklen++;
	if (!all_zero(mask + masklen, IFNAMSIZ - masklen))
		return -EINVAL;
	memset(ret, 0, IFNAME_MAX);
	if (masklen == 0)
		return 0;
	if (memchr(name, 0, masklen)) {
		/* Exact: the NUL is under the mask, and is the last byte of it. */
		if (strnlen(name, masklen) != masklen - 1)
			return -EINVAL;
		memcpy(ret, name, masklen - 1);
		return 0;
	}
	if (masklen >= IFNAME_MAX - 1)
		return -EINVAL;
	memcpy(ret, name, masklen);
	ret[masklen] = '+';
	return 0;
}

static bool mask_full(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != 0xff)
			return false;
	return true;
}

/* Fields of the rule header that both families have. */
struct header {
	const char *iniface;
	const unsigned char *iniface_mask;
	bool outiface;        /* any -o */
	bool iface_inv, src_inv, other_inv;
	bool proto_or_flags;  /* -p, fragments, tos, ... */
	bool dst;             /* any -d */
	const void *src, *smsk;
	size_t alen;
	bool matches;         /* match modules */
};

static void header_of(int family, const void *entry, struct header *h)
{
	if (family == AF_INET) {
		const struct ipt_entry *e = entry;

		*h = (struct header){
			.iniface = e->ip.iniface,
			.iniface_mask = e->ip.iniface_mask,
			.outiface = !all_zero(e->ip.outiface_mask, IFNAMSIZ),
			.iface_inv = e->ip.invflags & IPT_INV_VIA_IN,
			.src_inv = e->ip.invflags & IPT_INV_SRCIP,
			.other_inv = e->ip.invflags & ~(IPT_INV_VIA_IN | IPT_INV_SRCIP),
			.proto_or_flags = e->ip.proto || e->ip.flags,
			.dst = e->ip.dmsk.s_addr != 0,
			.src = &e->ip.src,
			.smsk = &e->ip.smsk,
			.alen = 4,
			.matches = e->target_offset != sizeof(*e),
		};
	} else {
		const struct ip6t_entry *e = entry;

		*h = (struct header){
			.iniface = e->ipv6.iniface,
			.iniface_mask = e->ipv6.iniface_mask,
			.outiface = !all_zero(e->ipv6.outiface_mask, IFNAMSIZ),
			.iface_inv = e->ipv6.invflags & IP6T_INV_VIA_IN,
			.src_inv = e->ipv6.invflags & IP6T_INV_SRCIP,
			.other_inv = e->ipv6.invflags & ~(IP6T_INV_VIA_IN | IP6T_INV_SRCIP),
			.proto_or_flags = e->ipv6.proto || e->ipv6.flags || e->ipv6.tos,
			.dst = !all_zero(&e->ipv6.dmsk, sizeof(e->ipv6.dmsk)),
			.src = &e->ipv6.src,
			.smsk = &e->ipv6.smsk,
			.alen = 16,
			.matches = e->target_offset != sizeof(*e),
		};
	}
}

static const struct xt_entry_target *entry_target(int family, const void *entry)
{
	uint16_t off = family == AF_INET ? ((const struct ipt_entry *)entry)->target_offset
					 : ((const struct ip6t_entry *)entry)->target_offset;

	return (const struct xt_entry_target *)((const char *)entry + off);
}

/* The target is DROP as libiptc stores it (the standard target with the
 * DROP verdict) or as an encoder builds it (named "DROP"). */
static bool target_is_drop(const struct xt_entry_target *t)
{
	const struct xt_standard_target *st = (const struct xt_standard_target *)t;

	if (t->u.user.target_size != STD_TARGET_SIZE)
		return false;
	if (name_is(t->u.user.name, sizeof(t->u.user.name), "DROP"))
		return true;
	return name_is(t->u.user.name, sizeof(t->u.user.name), XT_STANDARD_TARGET) && st->verdict == -NF_DROP - 1;
}

int ipt_drop_rule_decode(int family, const void *entry, struct ipt_drop_rule *ret)
{
	struct ipt_drop_rule r = { .family = family };
	struct header h;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	header_of(family, entry, &h);
	if (h.matches || h.outiface || h.other_inv || h.proto_or_flags || h.dst)
		return -EINVAL;
	if (!target_is_drop(entry_target(family, entry)))
		return -EINVAL;
	if (decode_iface(h.iniface, h.iniface_mask, r.iface) < 0 || !r.iface[0])
		return -EINVAL;
	r.iface_inv = h.iface_inv;
	if (mask_full(h.smsk, h.alen)) {
		r.has_src = true;
		r.src_inv = h.src_inv;
		r.src.family = family;
		memcpy(r.src.bytes, h.src, h.alen);
	} else if (!all_zero(h.smsk, h.alen) || h.src_inv || !all_zero(h.src, h.alen))
		return -EINVAL;
	*ret = r;
	return 0;
}

bool ipt_drop_rule_equal(const struct ipt_drop_rule *a, const struct ipt_drop_rule *b)
{
	return a->family == b->family && strncmp(a->iface, b->iface, IFNAME_MAX) == 0 &&
	       a->iface_inv == b->iface_inv && a->has_src == b->has_src &&
	       (!a->has_src || (a->src_inv == b->src_inv && ip_addr_equal(&a->src, &b->src)));
}

/* Targets that let the packet continue down the chain: nothing below them
 * is skipped. Any other target may end the packet's way through the chain
 * somewhere else than a DROP. */
static const char *const continuing_targets[] = {
	"CT", "NOTRACK", "TRACE", "LOG", "NFLOG", "MARK", "CONNMARK", "CLASSIFY", "TEE", "AUDIT",
	"RATEEST", "IDLETIMER", "LED", "CONNSECMARK", "SECMARK", "DSCP", "TOS", "TTL", "HL", "TCPMSS",
	"TCPOPTSTRIP", "CHECKSUM", "NETMAP",
};

enum ipt_verdict ipt_verdict_of(const char *target, bool user_chain)
{
	if (!target)
		return IPT_VERDICT_MAY_ACCEPT;
	if (streq(target, "DROP"))
		return IPT_VERDICT_DROP;
	if (user_chain)
		return IPT_VERDICT_MAY_ACCEPT;
	for (size_t i = 0; i < ELEMENTSOF(continuing_targets); i++)
		if (streq(target, continuing_targets[i]))
			return IPT_VERDICT_CONTINUE;
	return IPT_VERDICT_MAY_ACCEPT; /* ACCEPT, RETURN, QUEUE, NFQUEUE, unknown */
}

int ipt_rule_view_decode(int family, const void *entry, const char *target, bool user_chain,
			 struct ipt_rule_view *ret)
{
	struct ipt_rule_view v = {};
	struct header h;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	header_of(family, entry, &h);
	v.is_drop_rule = ipt_drop_rule_decode(family, entry, &v.drop) == 0;
	v.verdict = ipt_verdict_of(target, user_chain);
	snprintf(v.target, sizeof(v.target), "%s", target ? target : "?");
	memcpy(v.iniface, h.iniface, IFNAMSIZ);
	memcpy(v.iniface_mask, h.iniface_mask, IFNAMSIZ);
	v.iniface_inv = h.iface_inv;
	v.more_matches = h.matches || h.outiface || h.other_inv || h.proto_or_flags || h.dst ||
			 !all_zero(h.smsk, h.alen);
	*ret = v;
	return 0;
}

bool ipt_rule_view_matches_iface(const struct ipt_rule_view *v, const char *ifname)
{
	char name[IFNAMSIZ] = {};
	unsigned diff = 0;

	strncpy(name, ifname, IFNAMSIZ - 1);
	/* As the kernel's ifname_compare_aligned: equal under the mask. */
	for (size_t i = 0; i < IFNAMSIZ; i++)
		diff |= (unsigned)((name[i] ^ v->iniface[i]) & v->iniface_mask[i]);
	return (diff == 0) != v->iniface_inv;
}

bool ipt_rule_view_may_match_non_vif(const struct ipt_rule_view *v)
{
	bool only_vif = mask_full(v->iniface_mask, 3) && memcmp(v->iniface, "vif", 3) == 0;
	bool any = all_zero(v->iniface_mask, IFNAMSIZ);

	if (v->iniface_inv)
		return !any; /* "! -i X" matches what X does not, unless X is everything */
	return !only_vif;
}

const char *ipt_rule_view_to_string(const struct ipt_rule_view *v, char *buf, size_t len)
{
	char iface[IFNAME_MAX];

	if (v->is_drop_rule)
		return ipt_drop_rule_to_string(&v->drop, buf, len);
	if (decode_iface(v->iniface, v->iniface_mask, iface) < 0)
		snprintf(iface, sizeof(iface), "?");
	snprintf(buf, len, "%s%s%s%s-j %s", iface[0] && v->iniface_inv ? "! " : "", iface[0] ? "-i " : "",
		 iface, iface[0] ? (v->more_matches ? " ... " : " ") : (v->more_matches ? "... " : ""), v->target);
	return buf;
}

const char *ipt_drop_rule_to_string(const struct ipt_drop_rule *r, char *buf, size_t len)
{
	char addr[IP_ADDR_STRLEN] = "";

	if (r->has_src)
		ip_addr_to_string(&r->src, addr);
	snprintf(buf, len, "%s-i %.*s%s%s -j DROP",
		 r->iface_inv ? "! " : "",
		 (int)strnlen(r->iface, sizeof(r->iface)), r->iface,
		 r->has_src ? (r->src_inv ? " ! -s " : " -s ") : "",
		 addr);
	return buf;
}

const char *ipt_dnat_rule_to_string(const struct ipt_dnat_rule *r, char *buf, size_t len)
{
	char dst[INET_ADDRSTRLEN], to[INET_ADDRSTRLEN];
	const char *pname = proto_name(r->proto);
	char pnum[4];

	if (!pname) {
		snprintf(pnum, sizeof(pnum), "%u", r->proto);
		pname = pnum;
	}
	inet_ntop(AF_INET, &r->dst, dst, sizeof(dst));
	inet_ntop(AF_INET, &r->to, to, sizeof(to));
	snprintf(buf, len, "-d %s -p %s --dport %u -j DNAT --to-destination %s",
		 dst, pname, r->dport, to);
	return buf;
}
