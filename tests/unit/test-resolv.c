/* The resolv.conf parser of setup-dnat-to-ns. The file comes from an
 * untrusted network (DHCP), so besides ordinary files this feeds it every
 * hostile shape we could think of: huge lines, NUL bytes, missing or CRLF
 * line ends, look-alike keywords, addresses with junk glued on. And because
 * the parser is incremental, every input must give the same result whatever
 * the chunking it arrives in. Pure: no root, no files. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolv.h"
#include "testlib.h"

/* ---- rendering and checks --------------------------------------------- */

/* One line that says everything the parser returned. */
static const char *describe(const struct resolv_conf *c, char *buf, size_t size)
{
	size_t off = 0;

	off += snprintf(buf + off, size - off, "servers=[");
	for (unsigned i = 0; i < c->n_servers && i < RESOLV_MAX_SERVERS; i++) {
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &c->servers[i], a, sizeof(a));
		off += snprintf(buf + off, size - off, "%s%s", i ? " " : "", a);
	}
	snprintf(buf + off, size - off, "] n=%u lo=%u v6=%u inv=%u drop=%u stub=%d", c->n_servers, c->n_loopback,
		 c->n_ipv6, c->n_invalid, c->n_dropped, c->stub_only);
	return buf;
}

static bool is_clean_octet(const char *s, size_t len)
{
	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return atoi(s) <= 255;
}

/* Every accepted server is a usable unicast host that survives
 * inet_ntop -> inet_pton as a clean dotted quad, and none appears twice. */
static void check_servers(const struct resolv_conf *c)
{
	ck_assert_uint_le(c->n_servers, RESOLV_MAX_SERVERS);
	for (unsigned i = 0; i < c->n_servers; i++) {
		char text[INET_ADDRSTRLEN];
		struct in_addr back;
		uint32_t h = ntohl(c->servers[i].s_addr);
		const char *p = text;
		int parts = 0;

		ck_assert_ptr_nonnull(inet_ntop(AF_INET, &c->servers[i], text, sizeof(text)));
		ck_assert_int_eq(inet_pton(AF_INET, text, &back), 1);
		ck_assert_uint_eq(back.s_addr, c->servers[i].s_addr);
		for (;;) {
			size_t n = strcspn(p, ".");

			ck_assert_msg(is_clean_octet(p, n), "server %u '%s' is not a clean dotted quad", i, text);
			parts++;
			if (!p[n])
				break;
			p += n + 1;
		}
		ck_assert_int_eq(parts, 4);
		ck_assert_msg(h != 0 && h != 0xffffffffu, "server %s is unspecified/broadcast", text);
		ck_assert_msg(h >> 24 != 127, "server %s is loopback", text);
		ck_assert_msg(h >> 28 != 0xe, "server %s is multicast", text);
		for (unsigned j = 0; j < i; j++)
			ck_assert_msg(c->servers[j].s_addr != c->servers[i].s_addr, "server %s listed twice", text);
	}
}

/* ---- chunkings ---------------------------------------------------------- */

/* A deterministic PRNG, so a failure reproduces. */
static uint32_t lcg(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 8;
}

static void parse_fixed(const char *data, size_t len, size_t chunk, struct resolv_conf *ret)
{
	struct resolv_parser p;

	resolv_parser_init(&p);
	for (size_t off = 0; off < len; off += chunk)
		resolv_parser_feed(&p, data + off, len - off < chunk ? len - off : chunk);
	*ret = *resolv_parser_finish(&p);
}

/* Random sizes in [0, max], empty feeds included. */
static void parse_random(const char *data, size_t len, uint32_t seed, size_t max, struct resolv_conf *ret)
{
	struct resolv_parser p;
	size_t off = 0;

	resolv_parser_init(&p);
	while (off < len) {
		size_t n = lcg(&seed) % (max + 1);

		if (n > len - off)
			n = len - off;
		resolv_parser_feed(&p, data + off, n);
		off += n;
	}
	resolv_parser_feed(&p, data + len, 0);
	*ret = *resolv_parser_finish(&p);
}

/* Everything chunked must equal the one-shot result; returns it. */
static void parse_every_way(const char *what, const char *data, size_t len, struct resolv_conf *ret)
{
	static const size_t fixed[] = { 1, 2, 3, 7, 64, RESOLV_MAX_LINE - 1, RESOLV_MAX_LINE, RESOLV_MAX_LINE + 1,
					4096, 65536 };
	static const struct {
		uint32_t seed;
		size_t max;
	} random[] = { { 1, 16 }, { 2, 50 }, { 3, 3000 }, { 4, 200000 } };
	char want[512], got[512];
	struct resolv_conf one, c;

	resolv_parse(data, len, &one);
	describe(&one, want, sizeof(want));
	check_servers(&one);

	for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
		/* Byte by byte over 16 MiB is fine; the other small sizes on
		 * such inputs add nothing but time. */
		if (len > (2u << 20) && fixed[i] > 1 && fixed[i] < 64)
			continue;
		parse_fixed(data, len, fixed[i], &c);
		ck_assert_msg(streq(describe(&c, got, sizeof(got)), want), "%s: chunks of %zu give\n  %s\none shot gives\n  %s",
			      what, fixed[i], got, want);
	}
	for (size_t i = 0; i < ELEMENTSOF(random); i++) {
		if (len > (2u << 20) && random[i].max < 1000)
			continue;
		parse_random(data, len, random[i].seed, random[i].max, &c);
		ck_assert_msg(streq(describe(&c, got, sizeof(got)), want),
			      "%s: random chunks (seed %u, max %zu) give\n  %s\none shot gives\n  %s", what,
			      random[i].seed, random[i].max, got, want);
	}
	*ret = one;
}

/* ---- generated inputs --------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void putc_n(struct buf *b, char c, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	memset(b->p + b->len, c, n);
	b->len += n;
}

#define MIB (1u << 20)

/* "nameserver 1.2.3.4" padded with blanks to exactly len bytes. */
static void put_padded_line(struct buf *b, size_t len)
{
	static const char ns[] = "nameserver 1.2.3.4";

	puts_(b, ns);
	putc_n(b, ' ', len - strlen(ns));
}

static void gen_2000_before(struct buf *b)
{
	putc_n(b, 'x', 2000);
	puts_(b, "\nnameserver 1.2.3.4\n");
}

static void gen_2000_after(struct buf *b)
{
	puts_(b, "nameserver 1.2.3.4\n");
	putc_n(b, 'x', 2000);
}

static void gen_mib_before(struct buf *b)
{
	putc_n(b, 'a', MIB);
	puts_(b, "\nnameserver 1.2.3.4\n");
}

static void gen_mib_after(struct buf *b)
{
	puts_(b, "nameserver 1.2.3.4\n");
	putc_n(b, 'a', MIB);
	puts_(b, "\n");
}

static void gen_mib_after_no_newline(struct buf *b)
{
	puts_(b, "nameserver 1.2.3.4\nnameserver 5.6.7.8 ");
	putc_n(b, 'a', MIB);
}

/* An overlong line that starts like a good entry is dropped whole (and
 * counted as malformed): its tail must not become a line of its own. */
static void gen_mib_nameserver_line(struct buf *b)
{
	puts_(b, "nameserver 9.9.9.9");
	putc_n(b, ' ', MIB);
	puts_(b, "\nnameserver 1.2.3.4\n");
	putc_n(b, 'z', 5000);
	puts_(b, "nameserver 8.8.8.8\n"); /* the tail of a 5000-byte line: not a line start */
	puts_(b, "nameserver 5.6.7.8\n");
}

/* The stub plus an entry too long to use: not "only the stub". */
static void gen_stub_and_overlong(struct buf *b)
{
	puts_(b, "nameserver 127.0.0.53\n");
	put_padded_line(b, RESOLV_MAX_LINE + 1);
	puts_(b, "\n");
}

static void gen_line_max(struct buf *b)
{
	put_padded_line(b, RESOLV_MAX_LINE);
	puts_(b, "\n");
}

static void gen_line_max_no_newline(struct buf *b)
{
	put_padded_line(b, RESOLV_MAX_LINE);
}

static void gen_line_max_plus_1(struct buf *b)
{
	put_padded_line(b, RESOLV_MAX_LINE + 1);
	puts_(b, "\nnameserver 5.6.7.8\n");
}

static void gen_line_max_plus_1_no_newline(struct buf *b)
{
	put_padded_line(b, RESOLV_MAX_LINE + 1);
}

static void gen_line_max_crlf(struct buf *b)
{
	/* 1024 bytes including the '\r' */
	put_padded_line(b, RESOLV_MAX_LINE - 1);
	puts_(b, "\r\n");
}

/* 16 MiB of random bytes (newlines and NULs included), then a good line. */
static void gen_16mib_random(struct buf *b)
{
	uint32_t seed = 42;

	putc_n(b, 0, 16 * MIB);
	for (size_t i = 0; i < 16 * MIB; i++)
		b->p[i] = (char)(lcg(&seed) & 0xff);
	puts_(b, "\nnameserver 10.1.2.3\n");
}

/* 16 MiB of lines alternating a duplicate good entry and a bad one. */
static void gen_16mib_lines(struct buf *b)
{
	static const char pair[] = "nameserver 1.2.3.4\nnameserver 1.2.3.4junk\n";
	size_t n = 16 * MIB / (sizeof(pair) - 1);

	for (size_t i = 0; i < n; i++)
		puts_(b, pair);
}

/* 16 MiB without a single newline. */
static void gen_16mib_one_line(struct buf *b)
{
	puts_(b, "nameserver 1.2.3.4 ");
	putc_n(b, '\0', 8 * MIB);
	putc_n(b, '#', 8 * MIB);
}

static void gen_many_servers(struct buf *b)
{
	/* 10 distinct, with duplicates in between and after the cut */
	static const char *const order[] = { "10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.3", "10.0.0.4",
					     "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.2", "10.0.0.8",
					     "10.0.0.9", "10.0.0.8", "10.0.0.10" };

	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		puts_(b, "nameserver ");
		puts_(b, order[i]);
		puts_(b, "\n");
	}
}

/* ---- the table ---------------------------------------------------------- */

struct rcase {
	const char *name;
	const char *data;
	size_t len;
	void (*gen)(struct buf *b);
	const char *servers;
	unsigned lo, v6, inv, drop;
	bool stub;
};

#define IN(s) .data = (s), .len = sizeof(s) - 1

static const struct rcase cases[] = {
	/* ordinary files */
	{ "empty", IN(""), .servers = "" },
	{ "network-manager", IN("# Generated by NetworkManager\nsearch example.com\nnameserver 192.168.1.1\n"
				"nameserver 192.168.1.2\n"),
	  .servers = "192.168.1.1 192.168.1.2" },
	{ "options and search only", IN("search lan\noptions edns0 trust-ad\ndomain x\n"), .servers = "" },
	{ "no final newline", IN("nameserver 1.2.3.4\nnameserver 5.6.7.8"), .servers = "1.2.3.4 5.6.7.8" },
	{ "only newlines", IN("\n\n\n\n"), .servers = "" },
	{ "crlf", IN("nameserver 1.2.3.4\r\nnameserver 5.6.7.8\r\n"), .servers = "1.2.3.4 5.6.7.8" },
	{ "crlf no final newline", IN("nameserver 1.2.3.4\r"), .servers = "1.2.3.4" },
	{ "lone cr is not a line end", IN("nameserver 1.2.3.4\rnameserver 5.6.7.8\n"), .servers = "1.2.3.4" },
	{ "comments", IN("#nameserver 1.1.1.1\n;nameserver 2.2.2.2\n# nameserver 3.3.3.3\nnameserver 4.4.4.4 # c\n"
			 "nameserver 5.5.5.5\t; c\n"),
	  .servers = "4.4.4.4 5.5.5.5" },
	{ "comment glued to address", IN("nameserver 1.2.3.4#c\nnameserver 1.2.3.5;c\n"), .servers = "", .inv = 2 },
	{ "trailing junk after blank", IN("nameserver 1.2.3.4 junk\nnameserver 5.6.7.8\tmore junk here\n"),
	  .servers = "1.2.3.4 5.6.7.8" },
	{ "second address on a line ignored", IN("nameserver 1.2.3.4 5.6.7.8\n"), .servers = "1.2.3.4" },
	{ "tabs and blanks", IN("nameserver\t1.1.1.1\nnameserver \t \t2.2.2.2 \t \nnameserver        3.3.3.3\t\t\n"),
	  .servers = "1.1.1.1 2.2.2.2 3.3.3.3" },
	/* glibc ignores lines whose keyword does not start the line */
	{ "leading whitespace", IN(" nameserver 1.2.3.4\n\tnameserver 5.6.7.8\n  nameserver 9.9.9.9\n"),
	  .servers = "" },
	{ "leading whitespace before stub", IN(" nameserver 8.8.8.8\nnameserver 127.0.0.53\n"), .servers = "",
	  .lo = 1, .stub = true },
	{ "look-alikes", IN("nameservers 1.2.3.4\nnameserver:1.2.3.4\nnameserver: 1.2.3.4\nNAMESERVER 1.2.3.4\n"
			    "Nameserver 1.2.3.4\nnameserver1.2.3.4\nnameserver\nxnameserver 1.2.3.4\n"
			    "name server 1.2.3.4\nnameserver\v1.2.3.4\nnameserver\f1.2.3.4\nnameserver\r1.2.3.4\n"
			    "nameserve 1.2.3.4\n"),
	  .servers = "" },
	{ "keyword without address", IN("nameserver \nnameserver\t\nnameserver \t \r\nnameserver 1.2.3.4\n"),
	  .servers = "1.2.3.4", .inv = 3 },
	{ "ipv6 skipped", IN("nameserver 2001:db8::1\nnameserver ::1\nnameserver fd00::53\n"
			     "nameserver ::ffff:1.2.3.4\nnameserver 1.2.3.4\n"),
	  .servers = "1.2.3.4", .v6 = 4 },
	{ "more than three", IN("nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\n"
				"nameserver 4.4.4.4\nnameserver 5.5.5.5\n"),
	  .servers = "1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 5.5.5.5" },
	{ "duplicates", IN("nameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 8.8.8.8\nnameserver 8.8.4.4 \n"),
	  .servers = "8.8.8.8 8.8.4.4" },
	{ "more than RESOLV_MAX_SERVERS", .gen = gen_many_servers,
	  .servers = "10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.4 10.0.0.5 10.0.0.6 10.0.0.7 10.0.0.8", .drop = 2 },
	/* loopback and the systemd-resolved stub */
	{ "loopback skipped", IN("nameserver 127.0.0.1\nnameserver 127.255.255.254\nnameserver 9.9.9.9\n"),
	  .servers = "9.9.9.9", .lo = 2 },
	{ "stub only", IN("# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n"),
	  .servers = "", .lo = 1, .stub = true },
	{ "stub twice", IN("nameserver 127.0.0.53\nnameserver 127.0.0.53\n"), .servers = "", .lo = 2, .stub = true },
	{ "stub crlf", IN("nameserver 127.0.0.53 \r\n"), .servers = "", .lo = 1, .stub = true },
	{ "stub and other loopback", IN("nameserver 127.0.0.53\nnameserver 127.0.0.1\n"), .servers = "", .lo = 2 },
	{ "stub and a server", IN("nameserver 127.0.0.53\nnameserver 192.168.1.1\n"), .servers = "192.168.1.1",
	  .lo = 1 },
	{ "stub and ipv6", IN("nameserver 127.0.0.53\nnameserver ::1\n"), .servers = "", .lo = 1, .v6 = 1 },
	{ "stub and malformed", IN("nameserver 127.0.0.53\nnameserver bogus\n"), .servers = "", .lo = 1, .inv = 1 },
	{ "stub commented out", IN("#nameserver 127.0.0.53\n"), .servers = "" },
	{ "stub and an overlong entry", .gen = gen_stub_and_overlong, .servers = "", .lo = 1, .inv = 1 },
	{ "scoped IPv6", IN("nameserver fe80::1%eth0\nnameserver fe80::1%\nnameserver 1.2.3.4%eth0\n"),
	  .servers = "", .v6 = 2, .inv = 1 },
	{ "stub with leading zero", IN("nameserver 127.0.0.053\n"), .servers = "", .inv = 1 },
	{ "not unicast", IN("nameserver 0.0.0.0\nnameserver 255.255.255.255\nnameserver 224.0.0.251\n"
			    "nameserver 239.255.255.250\nnameserver 10.0.0.1\nnameserver 100.64.0.1\n"),
	  .servers = "10.0.0.1 100.64.0.1", .inv = 4 },
	/* NUL bytes: a line ends at its first NUL, as the C library sees it */
	{ "nul in keyword", IN("name\0server 1.2.3.4\nnameserver 5.6.7.8\n"), .servers = "5.6.7.8" },
	{ "nul at line start", IN("\0nameserver 1.2.3.4\n"), .servers = "" },
	{ "nul in address", IN("nameserver 1.2\0.3.4\n"), .servers = "", .inv = 1 },
	{ "nul before address", IN("nameserver \0 1.2.3.4\n"), .servers = "", .inv = 1 },
	{ "nul after address", IN("nameserver 1.2.3.4\0junk\nnameserver 5.6.7.8\0\n"), .servers = "1.2.3.4 5.6.7.8" },
	{ "nul after address, no newline", IN("nameserver 1.2.3.4\0"), .servers = "1.2.3.4" },
	{ "only nuls", IN("\0\0\0\0\n\0\n\0"), .servers = "" },
	{ "nuls then a line", IN("\0\0\0\0\0\0\0\0\0\0\0\0\nnameserver 5.6.7.8\n"), .servers = "5.6.7.8" },
	{ "high bytes", IN("nameserver \xef\xbc\x91.2.3.4\nnameserver 1.2.3.4\xc2\xa0\n\xff\xfe\n"), .servers = "",
	  .inv = 2 },
	/* long lines */
	{ "2000 bytes before", .gen = gen_2000_before, .servers = "1.2.3.4" },
	{ "2000 bytes after", .gen = gen_2000_after, .servers = "1.2.3.4" },
	{ "1 MiB before", .gen = gen_mib_before, .servers = "1.2.3.4" },
	{ "1 MiB after", .gen = gen_mib_after, .servers = "1.2.3.4" },
	{ "1 MiB after, no newline", .gen = gen_mib_after_no_newline, .servers = "1.2.3.4", .inv = 1 },
	{ "1 MiB nameserver line", .gen = gen_mib_nameserver_line, .servers = "1.2.3.4 5.6.7.8", .inv = 1 },
	{ "line of RESOLV_MAX_LINE", .gen = gen_line_max, .servers = "1.2.3.4" },
	{ "line of RESOLV_MAX_LINE, no newline", .gen = gen_line_max_no_newline, .servers = "1.2.3.4" },
	{ "line of RESOLV_MAX_LINE with crlf", .gen = gen_line_max_crlf, .servers = "1.2.3.4" },
	{ "line of RESOLV_MAX_LINE + 1", .gen = gen_line_max_plus_1, .servers = "5.6.7.8", .inv = 1 },
	{ "line of RESOLV_MAX_LINE + 1, no newline", .gen = gen_line_max_plus_1_no_newline, .servers = "", .inv = 1 },
	{ "16 MiB random", .gen = gen_16mib_random, .servers = "10.1.2.3" },
	{ "16 MiB one line", .gen = gen_16mib_one_line, .servers = "", .inv = 1 },
	{ "16 MiB of lines", .gen = gen_16mib_lines, .servers = "1.2.3.4",
	  .inv = 16 * MIB / (sizeof("nameserver 1.2.3.4\nnameserver 1.2.3.4junk\n") - 1) },
};

static void case_input(const struct rcase *c, struct buf *b)
{
	*b = (struct buf){};
	if (c->gen)
		c->gen(b);
	else
		put(b, c->data, c->len);
}

static unsigned count_words(const char *s)
{
	unsigned n = 0;

	for (bool in = false; *s; s++) {
		if (*s != ' ' && !in)
			n++;
		in = *s != ' ';
	}
	return n;
}

START_TEST(test_case)
{
	const struct rcase *c = &cases[_i];
	char want[512], got[512];
	struct resolv_conf rc;
	struct buf b;

	case_input(c, &b);
	parse_every_way(c->name, b.p ? b.p : "", b.len, &rc);
	snprintf(want, sizeof(want), "servers=[%s] n=%u lo=%u v6=%u inv=%u drop=%u stub=%d", c->servers,
		 count_words(c->servers), c->lo, c->v6, c->inv, c->drop, c->stub);
	ck_assert_msg(streq(describe(&rc, got, sizeof(got)), want), "%s:\n  got  %s\n  want %s", c->name, got, want);
	free(b.p);
}
END_TEST

/* ---- one address per file ----------------------------------------------- */

/* Each must be refused as a whole (never read as a prefix), and must not
 * disturb the next line. */
static const char *const bad_tokens[] = {
	"1.2.3.4junk", "1.2.3.4;x", "1.2.3.4/24", "1.2.3.04", "0x01.2.3.4", "1.2.3", "01.2.3.4", "1.2.3.4.",
	".1.2.3.4", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "+1.2.3.4", "1.2.3.4#x", "1..2.3", "1.2.3.4:53",
	"[1.2.3.4]", "1,2,3,4", "0", "16909060", "0x7f.1", "017700000001", "1.2.3.4\v", "1.2.3.4\f",
	"localhost", "dns.google", "1.2.3.4%eth0", "fe80::1::2", "::g", "1.2.3.4\x80",
	"1111111111111111111111111111111111111111111111111111111111111",
	"1.2.3.4aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
};

START_TEST(test_bad_token)
{
	char data[256], what[300], got[512];
	struct resolv_conf rc;

	snprintf(data, sizeof(data), "nameserver %s\nnameserver 9.9.9.9\n", bad_tokens[_i]);
	snprintf(what, sizeof(what), "'nameserver %s'", bad_tokens[_i]);
	parse_every_way(what, data, strlen(data), &rc);
	describe(&rc, got, sizeof(got));
	ck_assert_msg(streq(got, "servers=[9.9.9.9] n=1 lo=0 v6=0 inv=1 drop=0 stub=0"), "%s: %s", what, got);
}
END_TEST

/* Accepted: the address, then a blank (or CR) and anything at all. */
static const struct {
	const char *line, *server;
} good_lines[] = {
	{ "nameserver 1.2.3.4", "1.2.3.4" },
	{ "nameserver 1.2.3.4 junk", "1.2.3.4" },
	{ "nameserver 1.2.3.4\tjunk", "1.2.3.4" },
	{ "nameserver 1.2.3.4 # comment", "1.2.3.4" },
	{ "nameserver 1.2.3.4 ; comment", "1.2.3.4" },
	{ "nameserver 1.2.3.4 ;x", "1.2.3.4" },
	{ "nameserver\t1.2.3.4", "1.2.3.4" },
	{ "nameserver \t  \t1.2.3.4 \t ", "1.2.3.4" },
	{ "nameserver 1.2.3.4\r", "1.2.3.4" },
	{ "nameserver 255.255.255.254", "255.255.255.254" },
	{ "nameserver 1.0.0.0", "1.0.0.0" },
	{ "nameserver 223.255.255.255", "223.255.255.255" },
	{ "nameserver 128.0.0.1", "128.0.0.1" },
	{ "nameserver 10.0.0.0 1.2.3.4junk", "10.0.0.0" },
};

START_TEST(test_good_line)
{
	char data[256], want[128], got[512];
	struct resolv_conf rc;

	for (int nl = 0; nl < 2; nl++) {
		snprintf(data, sizeof(data), "%s%s", good_lines[_i].line, nl ? "\n" : "");
		parse_every_way(good_lines[_i].line, data, strlen(data), &rc);
		snprintf(want, sizeof(want), "servers=[%s] n=1 lo=0 v6=0 inv=0 drop=0 stub=0", good_lines[_i].server);
		ck_assert_msg(streq(describe(&rc, got, sizeof(got)), want), "'%s' (newline %d): %s", good_lines[_i].line,
			      nl, got);
	}
}
END_TEST

/* ---- API shape ---------------------------------------------------------- */

START_TEST(test_init_resets)
{
	struct resolv_parser p;
	const struct resolv_conf *c;

	/* Whatever was there before init must not show. */
	memset(&p, 0xa5, sizeof(p));
	resolv_parser_init(&p);
	c = resolv_parser_finish(&p);
	ck_assert_uint_eq(c->n_servers, 0);
	ck_assert_uint_eq(c->n_invalid, 0);
	ck_assert(!c->stub_only);

	/* A half line at the end counts, once. */
	memset(&p, 0x5a, sizeof(p));
	resolv_parser_init(&p);
	resolv_parser_feed(&p, "nameserver 1.2.", 15);
	resolv_parser_feed(&p, "3.4", 3);
	c = resolv_parser_finish(&p);
	ck_assert_uint_eq(c->n_servers, 1);
	ck_assert_uint_eq(ntohl(c->servers[0].s_addr), 0x01020304u);
}
END_TEST

/* Many random small files of plausible and hostile lines: chunked parsing
 * always equals one-shot parsing, and every result is clean. */
START_TEST(test_random_files)
{
	static const char *const pieces[] = {
		"nameserver ", "nameserver\t", "1.2.3.4", "10.0.0.", "127.0.0.53", "::1", " ", "\t", "\n", "\r\n",
		"#", ";", "\0", "x", "junk", "255", ".", "8.8.8.8\n", "nameserver 9.9.9.9\n", "\n\n",
	};
	uint32_t seed = 7;

	for (int file = 0; file < 3000; file++) {
		char data[2048], what[32];
		size_t len = 0;
		struct resolv_conf rc;
		int n = lcg(&seed) % 60;

		for (int i = 0; i < n; i++) {
			const char *piece = pieces[lcg(&seed) % ELEMENTSOF(pieces)];
			size_t pl = *piece ? strlen(piece) : 1;

			memcpy(data + len, piece, pl);
			len += pl;
		}
		snprintf(what, sizeof(what), "random file %d", file);
		parse_every_way(what, data, len, &rc);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("resolv");
	TCase *tc;

	tc = tcase_create("files");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_case, 0, ELEMENTSOF(cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("lines");
	tcase_add_loop_test(tc, test_bad_token, 0, ELEMENTSOF(bad_tokens));
	tcase_add_loop_test(tc, test_good_line, 0, ELEMENTSOF(good_lines));
	tcase_add_test(tc, test_init_resets);
	tcase_add_test(tc, test_random_files);
	suite_add_tcase(s, tc);

	return tl_main(s, false);
}
