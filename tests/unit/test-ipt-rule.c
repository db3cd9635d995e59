/* The pure half of the x_tables layer: entry layouts of the DROP and DNAT
 * rules (as iptables-legacy 1.8.9 writes them), the DNAT decoder, the text
 * forms, and the lock path/timeout without the kernel. No root needed. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "config.h"
#include "ipt.h"
#include "testlib.h"

static struct ip_addr addr(const char *s)
{
	struct ip_addr a;

	ck_assert_msg(ip_addr_parse(s, AF_UNSPEC, &a) == 0, "bad test address %s", s);
	return a;
}

static bool all_bytes(const void *p, size_t n, unsigned char v)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* ---- DROP rules ---- */

struct drop_case {
	int family;
	const char *iface;
	bool iface_inv;
	const char *src; /* NULL: no -s */
	bool src_inv;
	/* expected */
	const char *stored_iface; /* what iptables stores in iniface */
	size_t masklen;           /* 0xff bytes at the start of iniface_mask */
	const char *text;
};

static const struct drop_case drop_cases[] = {
	{ AF_INET, "vif3.0", false, "10.137.0.5", true, "vif3.0", 7, "-i vif3.0 ! -s 10.137.0.5 -j DROP" },
	{ AF_INET, "vif+", true, "10.137.0.5", false, "vif+", 3, "! -i vif+ -s 10.137.0.5 -j DROP" },
	{ AF_INET, "vif3.0", false, NULL, false, "vif3.0", 7, "-i vif3.0 -j DROP" },
	{ AF_INET, "vif12345.67", true, NULL, false, "vif12345.67", 12, "! -i vif12345.67 -j DROP" },
	{ AF_INET6, "vif3.0", false, "fd09:24ef:4179::a89:5", true, "vif3.0", 7,
	  "-i vif3.0 ! -s fd09:24ef:4179::a89:5 -j DROP" },
	{ AF_INET6, "vif+", true, "fd09:24ef:4179::a89:5", false, "vif+", 3,
	  "! -i vif+ -s fd09:24ef:4179::a89:5 -j DROP" },
	{ AF_INET6, "vif3.0", false, NULL, false, "vif3.0", 7, "-i vif3.0 -j DROP" },
	/* 15 characters: the longest name; the mask covers all 16 bytes. */
	{ AF_INET6, "abcdefghijklmno", false, NULL, false, "abcdefghijklmno", 16, "-i abcdefghijklmno -j DROP" },
};

static struct ipt_drop_rule drop_rule_of(const struct drop_case *c)
{
	struct ipt_drop_rule r = {
		.family = c->family,
		.iface_inv = c->iface_inv,
		.has_src = c->src != NULL,
		.src_inv = c->src_inv,
	};

	strcpy(r.iface, c->iface);
	if (c->src)
		r.src = addr(c->src);
	return r;
}

static void check_iface(const char *name, const unsigned char *mask, const struct drop_case *c)
{
	char expect[IFNAMSIZ] = { 0 };

	strcpy(expect, c->stored_iface);
	ck_assert_mem_eq(name, expect, IFNAMSIZ);
	ck_assert(all_bytes(mask, c->masklen, 0xff));
	ck_assert(all_bytes(mask + c->masklen, IFNAMSIZ - c->masklen, 0));
}

static void check_std_drop_target(const void *t_)
{
	const struct xt_standard_target *t = t_;

	ck_assert_uint_eq(t->target.u.user.target_size, 40);
	ck_assert_str_eq(t->target.u.user.name, "DROP");
	ck_assert_uint_eq(t->target.u.user.revision, 0);
	ck_assert_int_eq(t->verdict, 0);
}

START_TEST(test_drop_encode)
{
	const struct drop_case *c = &drop_cases[_i];
	struct ipt_drop_rule r = drop_rule_of(c);
	_cleanup_free_ void *entry = NULL;
	size_t size = 0;

	ck_assert_int_eq(ipt_drop_rule_encode(&r, &entry, &size), 0);

	if (c->family == AF_INET) {
		const struct ipt_entry *e = entry;
		uint8_t inv = (c->iface_inv ? IPT_INV_VIA_IN : 0) | (c->src && c->src_inv ? IPT_INV_SRCIP : 0);

		ck_assert_uint_eq(size, 112 + 40);
		ck_assert_uint_eq(e->target_offset, 112);
		ck_assert_uint_eq(e->next_offset, 152);
		ck_assert_uint_eq(e->ip.invflags, inv);
		ck_assert_uint_eq(e->ip.flags, 0);
		ck_assert_uint_eq(e->ip.proto, 0);
		ck_assert_uint_eq(e->nfcache, 0);
		if (c->src) {
			ck_assert_uint_eq(e->ip.src.s_addr, inet_addr(c->src));
			ck_assert_uint_eq(e->ip.smsk.s_addr, 0xffffffffu);
		} else {
			ck_assert_uint_eq(e->ip.src.s_addr, 0);
			ck_assert_uint_eq(e->ip.smsk.s_addr, 0);
		}
		ck_assert_uint_eq(e->ip.dst.s_addr, 0);
		ck_assert_uint_eq(e->ip.dmsk.s_addr, 0);
		check_iface(e->ip.iniface, e->ip.iniface_mask, c);
		ck_assert(all_bytes(e->ip.outiface, IFNAMSIZ, 0));
		ck_assert(all_bytes(e->ip.outiface_mask, IFNAMSIZ, 0));
		ck_assert(all_bytes(&e->counters, sizeof(e->counters), 0));
		check_std_drop_target(e->elems);
	} else {
		const struct ip6t_entry *e = entry;
		uint8_t inv = (c->iface_inv ? IP6T_INV_VIA_IN : 0) | (c->src && c->src_inv ? IP6T_INV_SRCIP : 0);
		struct in6_addr src = IN6ADDR_ANY_INIT;

		if (c->src)
			ck_assert_int_eq(inet_pton(AF_INET6, c->src, &src), 1);
		ck_assert_uint_eq(size, 168 + 40);
		ck_assert_uint_eq(e->target_offset, 168);
		ck_assert_uint_eq(e->next_offset, 208);
		ck_assert_uint_eq(e->ipv6.invflags, inv);
		ck_assert_uint_eq(e->ipv6.flags, 0); /* no IP6T_F_PROTO without a protocol */
		ck_assert_uint_eq(e->ipv6.proto, 0);
		ck_assert_mem_eq(&e->ipv6.src, &src, 16);
		ck_assert(all_bytes(&e->ipv6.smsk, 16, c->src ? 0xff : 0));
		ck_assert(all_bytes(&e->ipv6.dst, 16, 0));
		ck_assert(all_bytes(&e->ipv6.dmsk, 16, 0));
		check_iface(e->ipv6.iniface, e->ipv6.iniface_mask, c);
		ck_assert(all_bytes(e->ipv6.outiface, IFNAMSIZ, 0));
		ck_assert(all_bytes(e->ipv6.outiface_mask, IFNAMSIZ, 0));
		check_std_drop_target(e->elems);
	}
}
END_TEST

START_TEST(test_drop_to_string)
{
	const struct drop_case *c = &drop_cases[_i];
	struct ipt_drop_rule r = drop_rule_of(c);
	char buf[128];

	ck_assert_ptr_eq(ipt_drop_rule_to_string(&r, buf, sizeof(buf)), buf);
	ck_assert_str_eq(buf, c->text);
}
END_TEST

static const struct {
	int family;
	const char *iface;
	const char *src;
	int err;
} bad_drops[] = {
	{ AF_INET, "", NULL, -EINVAL },
	{ AF_INET, "+", NULL, -EINVAL },
	{ AF_INET6, "+", NULL, -EINVAL },
	{ AF_INET, "vif3.0", "fd09::5", -EINVAL }, /* family mismatch */
	{ AF_INET6, "vif3.0", "10.0.0.1", -EINVAL },
	{ AF_UNSPEC, "vif3.0", NULL, -EAFNOSUPPORT },
	{ AF_PACKET, "vif3.0", NULL, -EAFNOSUPPORT },
};

START_TEST(test_drop_encode_invalid)
{
	struct ipt_drop_rule r = { .family = bad_drops[_i].family, .has_src = bad_drops[_i].src != NULL };
	void *entry = (void *)1;
	size_t size = 7;

	strcpy(r.iface, bad_drops[_i].iface);
	if (bad_drops[_i].src)
		r.src = addr(bad_drops[_i].src);
	ck_assert_int_eq(ipt_drop_rule_encode(&r, &entry, &size), bad_drops[_i].err);
	/* Outputs untouched on failure. */
	ck_assert_ptr_eq(entry, (void *)1);
	ck_assert_uint_eq(size, 7);
}
END_TEST

START_TEST(test_drop_encode_unterminated_iface)
{
	struct ipt_drop_rule r = { .family = AF_INET };
	void *entry = NULL;
	size_t size;

	memset(r.iface, 'a', sizeof(r.iface)); /* no NUL within IFNAME_MAX */
	ck_assert_int_eq(ipt_drop_rule_encode(&r, &entry, &size), -EINVAL);
	ck_assert_ptr_null(entry);
}
END_TEST

/* ---- DNAT rules ---- */

static struct ipt_dnat_rule dnat(const char *dst, uint8_t proto, uint16_t port, const char *to)
{
	struct ipt_dnat_rule r = { .proto = proto, .dport = port };

	ck_assert_int_eq(inet_pton(AF_INET, dst, &r.dst), 1);
	ck_assert_int_eq(inet_pton(AF_INET, to, &r.to), 1);
	return r;
}

static const struct {
	const char *dst;
	uint8_t proto;
	uint16_t port;
	const char *to;
	const char *text;
} dnat_cases[] = {
	{ "10.139.1.1", IPPROTO_UDP, 53, "192.168.1.1",
	  "-d 10.139.1.1 -p udp --dport 53 -j DNAT --to-destination 192.168.1.1" },
	{ "10.139.1.1", IPPROTO_TCP, 53, "192.168.1.1",
	  "-d 10.139.1.1 -p tcp --dport 53 -j DNAT --to-destination 192.168.1.1" },
	{ "10.139.1.2", IPPROTO_UDP, 5353, "10.0.2.3",
	  "-d 10.139.1.2 -p udp --dport 5353 -j DNAT --to-destination 10.0.2.3" },
	{ "10.139.1.2", IPPROTO_TCP, 65535, "10.0.2.3",
	  "-d 10.139.1.2 -p tcp --dport 65535 -j DNAT --to-destination 10.0.2.3" },
	{ "0.0.0.0", IPPROTO_TCP, 0, "255.255.255.255",
	  "-d 0.0.0.0 -p tcp --dport 0 -j DNAT --to-destination 255.255.255.255" },
};

#define DNAT_SIZE (112 + 48 + 80)

START_TEST(test_dnat_encode)
{
	struct ipt_dnat_rule r = dnat(dnat_cases[_i].dst, dnat_cases[_i].proto, dnat_cases[_i].port, dnat_cases[_i].to);
	_cleanup_free_ void *entry = NULL;
	const struct ipt_entry *e;
	const struct xt_entry_match *m;
	const struct xt_entry_target *t;
	const struct nf_nat_range2 *range;
	size_t size = 0;

	ck_assert_int_eq(ipt_dnat_rule_encode(&r, &entry, &size), 0);
	e = entry;
	ck_assert_uint_eq(size, DNAT_SIZE);
	ck_assert_uint_eq(e->target_offset, 112 + 48);
	ck_assert_uint_eq(e->next_offset, DNAT_SIZE);
	ck_assert_uint_eq(e->ip.dst.s_addr, inet_addr(dnat_cases[_i].dst));
	ck_assert_uint_eq(e->ip.dmsk.s_addr, 0xffffffffu);
	ck_assert_uint_eq(e->ip.src.s_addr, 0);
	ck_assert_uint_eq(e->ip.smsk.s_addr, 0);
	ck_assert_uint_eq(e->ip.proto, dnat_cases[_i].proto);
	ck_assert_uint_eq(e->ip.flags, 0);
	ck_assert_uint_eq(e->ip.invflags, 0);
	ck_assert(all_bytes(e->ip.iniface, IFNAMSIZ, 0));
	ck_assert(all_bytes(e->ip.iniface_mask, IFNAMSIZ, 0));
	ck_assert(all_bytes(e->ip.outiface, IFNAMSIZ, 0));
	ck_assert(all_bytes(e->ip.outiface_mask, IFNAMSIZ, 0));

	m = (const struct xt_entry_match *)e->elems;
	ck_assert_uint_eq(m->u.user.match_size, 48);
	ck_assert_str_eq(m->u.user.name, dnat_cases[_i].proto == IPPROTO_UDP ? "udp" : "tcp");
	ck_assert_uint_eq(m->u.user.revision, 0);
	if (dnat_cases[_i].proto == IPPROTO_UDP) {
		const struct xt_udp *u = (const void *)m->data;

		/* Ports in host order; spts must be the full range. */
		ck_assert_uint_eq(u->spts[0], 0);
		ck_assert_uint_eq(u->spts[1], 0xffff);
		ck_assert_uint_eq(u->dpts[0], dnat_cases[_i].port);
		ck_assert_uint_eq(u->dpts[1], dnat_cases[_i].port);
		ck_assert_uint_eq(u->invflags, 0);
	} else {
		const struct xt_tcp *tc = (const void *)m->data;

		ck_assert_uint_eq(tc->spts[0], 0);
		ck_assert_uint_eq(tc->spts[1], 0xffff);
		ck_assert_uint_eq(tc->dpts[0], dnat_cases[_i].port);
		ck_assert_uint_eq(tc->dpts[1], dnat_cases[_i].port);
		ck_assert_uint_eq(tc->option, 0);
		ck_assert_uint_eq(tc->flg_mask, 0);
		ck_assert_uint_eq(tc->flg_cmp, 0);
		ck_assert_uint_eq(tc->invflags, 0);
	}
	ck_assert(all_bytes(m->data + sizeof(struct xt_tcp), 48 - 32 - sizeof(struct xt_tcp), 0));

	t = (const struct xt_entry_target *)((const char *)e + e->target_offset);
	ck_assert_uint_eq(t->u.user.target_size, 80);
	ck_assert_str_eq(t->u.user.name, "DNAT");
	ck_assert_uint_eq(t->u.user.revision, 2);
	range = (const struct nf_nat_range2 *)t->data;
	ck_assert_uint_eq(range->flags, NF_NAT_RANGE_MAP_IPS);
	ck_assert_uint_eq(range->min_addr.ip, inet_addr(dnat_cases[_i].to));
	ck_assert_uint_eq(range->max_addr.ip, inet_addr(dnat_cases[_i].to));
	ck_assert(all_bytes(&range->min_addr.all[1], 12, 0));
	ck_assert(all_bytes(&range->max_addr.all[1], 12, 0));
	ck_assert_uint_eq(range->min_proto.all, 0);
	ck_assert_uint_eq(range->max_proto.all, 0);
	ck_assert_uint_eq(range->base_proto.all, 0);
}
END_TEST

START_TEST(test_dnat_roundtrip)
{
	struct ipt_dnat_rule r = dnat(dnat_cases[_i].dst, dnat_cases[_i].proto, dnat_cases[_i].port, dnat_cases[_i].to);
	struct ipt_dnat_rule back;
	_cleanup_free_ void *entry = NULL;
	size_t size;

	ck_assert_int_eq(ipt_dnat_rule_encode(&r, &entry, &size), 0);
	memset(&back, 0xaa, sizeof(back));
	ck_assert_int_eq(ipt_dnat_rule_decode(entry, &back), 0);
	ck_assert_uint_eq(back.dst.s_addr, r.dst.s_addr);
	ck_assert_uint_eq(back.proto, r.proto);
	ck_assert_uint_eq(back.dport, r.dport);
	ck_assert_uint_eq(back.to.s_addr, r.to.s_addr);
}
END_TEST

START_TEST(test_dnat_to_string)
{
	struct ipt_dnat_rule r = dnat(dnat_cases[_i].dst, dnat_cases[_i].proto, dnat_cases[_i].port, dnat_cases[_i].to);
	char buf[128];

	ck_assert_ptr_eq(ipt_dnat_rule_to_string(&r, buf, sizeof(buf)), buf);
	ck_assert_str_eq(buf, dnat_cases[_i].text);
}
END_TEST

static const uint8_t bad_protos[] = { 0, IPPROTO_ICMP, IPPROTO_SCTP, IPPROTO_UDPLITE };

START_TEST(test_dnat_encode_invalid)
{
	struct ipt_dnat_rule r = dnat("10.139.1.1", bad_protos[_i], 53, "10.0.0.1");
	void *entry = NULL;
	size_t size = 0;

	ck_assert_int_eq(ipt_dnat_rule_encode(&r, &entry, &size), -EPROTONOSUPPORT);
	ck_assert_ptr_null(entry);
}
END_TEST

/* Mutations of a valid udp DNAT entry (in a buffer with room to grow) that
 * make it something other than our rule shape. */
static struct xt_entry_match *mut_match(struct ipt_entry *e)
{
	return (struct xt_entry_match *)e->elems;
}

static struct xt_entry_target *mut_target(struct ipt_entry *e)
{
	return (struct xt_entry_target *)((char *)e + e->target_offset);
}

static struct nf_nat_range2 *mut_range(struct ipt_entry *e)
{
	return (struct nf_nat_range2 *)mut_target(e)->data;
}

static struct xt_udp *mut_udp(struct ipt_entry *e)
{
	return (struct xt_udp *)mut_match(e)->data;
}

static void mut_snat(struct ipt_entry *e) { strcpy(mut_target(e)->u.user.name, "SNAT"); }
static void mut_target_rev0(struct ipt_entry *e) { mut_target(e)->u.user.revision = 0; }
static void mut_target_rev1(struct ipt_entry *e) { mut_target(e)->u.user.revision = 1; }
static void mut_proto_icmp(struct ipt_entry *e) { e->ip.proto = IPPROTO_ICMP; }
static void mut_proto_tcp_match_udp(struct ipt_entry *e) { e->ip.proto = IPPROTO_TCP; }
static void mut_dst_24(struct ipt_entry *e) { e->ip.dmsk.s_addr = htonl(0xffffff00); }
static void mut_dst_any(struct ipt_entry *e) { e->ip.dmsk.s_addr = 0; }
static void mut_src(struct ipt_entry *e) { e->ip.src.s_addr = htonl(0x0a000001); e->ip.smsk.s_addr = 0xffffffff; }
static void mut_inv_dst(struct ipt_entry *e) { e->ip.invflags = IPT_INV_DSTIP; }
static void mut_frag(struct ipt_entry *e) { e->ip.flags = IPT_F_FRAG; }
static void mut_iniface(struct ipt_entry *e) { strcpy(e->ip.iniface, "eth0"); memset(e->ip.iniface_mask, 0xff, 5); }
static void mut_outiface(struct ipt_entry *e) { strcpy(e->ip.outiface, "eth0"); memset(e->ip.outiface_mask, 0xff, 5); }
static void mut_match_rev1(struct ipt_entry *e) { mut_match(e)->u.user.revision = 1; }
static void mut_match_name(struct ipt_entry *e) { strcpy(mut_match(e)->u.user.name, "multiport"); }
static void mut_match_size(struct ipt_entry *e) { mut_match(e)->u.user.match_size = 40; }
static void mut_spts_zero(struct ipt_entry *e) { mut_udp(e)->spts[1] = 0; }
static void mut_spts_set(struct ipt_entry *e) { mut_udp(e)->spts[0] = 1024; }
static void mut_dport_range(struct ipt_entry *e) { mut_udp(e)->dpts[1] = 54; }
static void mut_dport_inv(struct ipt_entry *e) { mut_udp(e)->invflags = XT_UDP_INV_DSTPT; }
static void mut_range_proto(struct ipt_entry *e)
{
	mut_range(e)->flags |= NF_NAT_RANGE_PROTO_SPECIFIED;
	mut_range(e)->min_proto.udp.port = mut_range(e)->max_proto.udp.port = htons(5353);
}
static void mut_range_ports_only(struct ipt_entry *e) { mut_range(e)->min_proto.udp.port = htons(1); }
static void mut_range_two_addrs(struct ipt_entry *e) { mut_range(e)->max_addr.ip = htonl(0x0a000009); }
static void mut_range_random(struct ipt_entry *e) { mut_range(e)->flags |= NF_NAT_RANGE_PROTO_RANDOM; }
static void mut_range_v6_bytes(struct ipt_entry *e) { mut_range(e)->min_addr.all[3] = 1; mut_range(e)->max_addr.all[3] = 1; }

/* No match at all: "-d X -p udp -j DNAT ..." (the target moves up). */
static void mut_no_match(struct ipt_entry *e)
{
	memmove(e->elems, mut_target(e), 80);
	e->target_offset = 112;
	e->next_offset = 112 + 80;
}

/* A second match before the target. */
static void mut_two_matches(struct ipt_entry *e)
{
	memmove((char *)e + 112 + 96, mut_target(e), 80);
	memcpy((char *)e + 112 + 48, e->elems, 48);
	e->target_offset = 112 + 96;
	e->next_offset = 112 + 96 + 80;
}

/* The DNAT target in revision 0 layout (size 56). */
static void mut_rev0_layout(struct ipt_entry *e)
{
	struct xt_entry_target *t = mut_target(e);

	t->u.user.target_size = 56;
	t->u.user.revision = 0;
	e->next_offset = 112 + 48 + 56;
}

/* A standard target: "-d X -p udp --dport 53 -j ACCEPT". */
static void mut_accept(struct ipt_entry *e)
{
	struct xt_standard_target *t = (struct xt_standard_target *)mut_target(e);

	memset(t, 0, 80);
	t->target.u.user.target_size = 40;
	t->verdict = -NF_ACCEPT - 1;
	e->next_offset = 112 + 48 + 40;
}

static void (*const mutations[])(struct ipt_entry *) = {
	mut_snat, mut_target_rev0, mut_target_rev1, mut_proto_icmp, mut_proto_tcp_match_udp,
	mut_dst_24, mut_dst_any, mut_src, mut_inv_dst, mut_frag, mut_iniface, mut_outiface,
	mut_match_rev1, mut_match_name, mut_match_size, mut_spts_zero, mut_spts_set,
	mut_dport_range, mut_dport_inv, mut_range_proto, mut_range_ports_only,
	mut_range_two_addrs, mut_range_random, mut_range_v6_bytes, mut_no_match,
	mut_two_matches, mut_rev0_layout, mut_accept,
};

START_TEST(test_dnat_decode_rejects)
{
	struct ipt_dnat_rule r = dnat("10.139.1.1", IPPROTO_UDP, 53, "192.168.1.1"), back;
	_cleanup_free_ void *entry = NULL;
	_cleanup_free_ struct ipt_entry *e = calloc(1, 512);
	size_t size;

	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(ipt_dnat_rule_encode(&r, &entry, &size), 0);
	memcpy(e, entry, size);
	ck_assert_int_eq(ipt_dnat_rule_decode(e, &back), 0);

	mutations[_i](e);
	memset(&back, 0x5a, sizeof(back));
	ck_assert_int_eq(ipt_dnat_rule_decode(e, &back), -EINVAL);
	ck_assert(all_bytes(&back, sizeof(back), 0x5a)); /* untouched */
}
END_TEST

START_TEST(test_dnat_decode_rejects_drop_rule)
{
	struct ipt_drop_rule d = { .family = AF_INET, .iface = "vif3.0" };
	struct ipt_dnat_rule back;
	_cleanup_free_ void *entry = NULL;
	size_t size;

	ck_assert_int_eq(ipt_drop_rule_encode(&d, &entry, &size), 0);
	ck_assert_int_eq(ipt_dnat_rule_decode(entry, &back), -EINVAL);
}
END_TEST

START_TEST(test_dnat_decode_ignores_name_tail)
{
	/* The kernel copies only strlen+1 bytes of match/target names back. */
	struct ipt_dnat_rule r = dnat("10.139.1.1", IPPROTO_TCP, 53, "192.168.1.1"), back;
	_cleanup_free_ void *entry = NULL;
	struct ipt_entry *e;
	size_t size;

	ck_assert_int_eq(ipt_dnat_rule_encode(&r, &entry, &size), 0);
	e = entry;
	memset(mut_match(e)->u.user.name + 4, 0x77, sizeof(mut_match(e)->u.user.name) - 4);
	memset(mut_target(e)->u.user.name + 5, 0x77, sizeof(mut_target(e)->u.user.name) - 5);
	ck_assert_int_eq(ipt_dnat_rule_decode(e, &back), 0);
	ck_assert_uint_eq(back.dport, 53);

	/* ... but an unterminated name is not "tcp". */
	memset(mut_match(e)->u.user.name + 3, 0x77, sizeof(mut_match(e)->u.user.name) - 3);
	ck_assert_int_eq(ipt_dnat_rule_decode(e, &back), -EINVAL);
}
END_TEST

/* ---- text forms ---- */

START_TEST(test_to_string_truncates)
{
	struct ipt_dnat_rule r = dnat("10.139.1.1", IPPROTO_UDP, 53, "192.168.1.1");
	struct ipt_drop_rule d = { .family = AF_INET, .iface = "vif3.0" };
	char buf[8];

	ck_assert_str_eq(ipt_dnat_rule_to_string(&r, buf, sizeof(buf)), "-d 10.1");
	ck_assert_str_eq(ipt_drop_rule_to_string(&d, buf, sizeof(buf)), "-i vif3");
}
END_TEST

START_TEST(test_dnat_to_string_other_proto)
{
	struct ipt_dnat_rule r = dnat("10.139.1.1", IPPROTO_SCTP, 53, "192.168.1.1");
	char buf[128];

	ck_assert_str_eq(ipt_dnat_rule_to_string(&r, buf, sizeof(buf)),
			 "-d 10.139.1.1 -p 132 --dport 53 -j DNAT --to-destination 192.168.1.1");
}
END_TEST

/* ---- the lock, without the kernel ---- */

START_TEST(test_lock_path)
{
	setenv("XTABLES_LOCKFILE", "/tmp/some.lock", 1);
	ck_assert_str_eq(xt_lock_path(), "/tmp/some.lock");
	setenv("XTABLES_LOCKFILE", "", 1);
	ck_assert_str_eq(xt_lock_path(), XT_LOCK_NAME);
	unsetenv("XTABLES_LOCKFILE");
	ck_assert_str_eq(xt_lock_path(), XT_LOCK_NAME);
}
END_TEST

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

START_TEST(test_lock_private_file)
{
	char path[] = "/tmp/qvt-xtlock-unit.XXXXXX";
	struct timespec t0;
	int fd, other, again, flags;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	unlink(path); /* xt_lock_acquire creates it */
	setenv("XTABLES_LOCKFILE", path, 1);

	fd = xt_lock_acquire(0);
	ck_assert_int_ge(fd, 0);
	flags = fcntl(fd, F_GETFD);
	ck_assert(flags & FD_CLOEXEC);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);

	/* flock belongs to the open file description: a second open conflicts
	 * even within this process. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(xt_lock_acquire(0), -ETIMEDOUT);
	ck_assert_int_eq(xt_lock_acquire(100), -ETIMEDOUT);
	ck_assert_int_ge(ms_since(&t0), 100);
	ck_assert_int_lt(ms_since(&t0), 400);

	other = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(other, 0);
	ck_assert_int_eq(flock(other, LOCK_EX | LOCK_NB), -1);
	ck_assert_int_eq(errno, EWOULDBLOCK);
	close(other);

	close(fd);
	again = xt_lock_acquire(0);
	ck_assert_int_ge(again, 0);
	close(again);
	unlink(path);
	unsetenv("XTABLES_LOCKFILE");
}
END_TEST

START_TEST(test_lock_open_error)
{
	setenv("XTABLES_LOCKFILE", "/nonexistent-dir-qvt/xtables.lock", 1);
	ck_assert_int_eq(xt_lock_acquire(0), -ENOENT);
	unsetenv("XTABLES_LOCKFILE");
}
END_TEST

static Suite *ipt_rule_suite(void)
{
	Suite *s = suite_create("ipt-rule");
	TCase *tc;

	tc = tcase_create("drop-encode");
	tcase_add_loop_test(tc, test_drop_encode, 0, ELEMENTSOF(drop_cases));
	tcase_add_loop_test(tc, test_drop_encode_invalid, 0, ELEMENTSOF(bad_drops));
	tcase_add_test(tc, test_drop_encode_unterminated_iface);
	suite_add_tcase(s, tc);

	tc = tcase_create("dnat-encode");
	tcase_add_loop_test(tc, test_dnat_encode, 0, ELEMENTSOF(dnat_cases));
	tcase_add_loop_test(tc, test_dnat_encode_invalid, 0, ELEMENTSOF(bad_protos));
	suite_add_tcase(s, tc);

	tc = tcase_create("dnat-decode");
	tcase_add_loop_test(tc, test_dnat_roundtrip, 0, ELEMENTSOF(dnat_cases));
	tcase_add_loop_test(tc, test_dnat_decode_rejects, 0, ELEMENTSOF(mutations));
	tcase_add_test(tc, test_dnat_decode_rejects_drop_rule);
	tcase_add_test(tc, test_dnat_decode_ignores_name_tail);
	suite_add_tcase(s, tc);

	tc = tcase_create("to-string");
	tcase_add_loop_test(tc, test_drop_to_string, 0, ELEMENTSOF(drop_cases));
	tcase_add_loop_test(tc, test_dnat_to_string, 0, ELEMENTSOF(dnat_cases));
	tcase_add_test(tc, test_to_string_truncates);
	tcase_add_test(tc, test_dnat_to_string_other_proto);
	suite_add_tcase(s, tc);

	tc = tcase_create("lock");
	tcase_add_test(tc, test_lock_path);
	tcase_add_test(tc, test_lock_private_file);
	tcase_add_test(tc, test_lock_open_error);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return tl_main(ipt_rule_suite(), false);
}
