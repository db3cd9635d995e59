/* fuzz-resolv: the resolv.conf parser (setup-dnat-to-ns/resolv.c), whose
 * input comes from an untrusted network (DHCP).
 *
 * Input: byte 0 seeds the chunk sizes, the rest is the file. The file is
 * parsed in one go (resolv_parse) and again fed in chunks of 1..256 bytes
 * (sizes derived from byte 0 and the running offset), and both results
 * must be byte for byte the same (a differential check of the chunked
 * parser against the one-shot one). Then the result's invariants: at most
 * RESOLV_MAX_SERVERS servers, each a unicast, non-loopback IPv4 address,
 * no duplicates, stub_only only with nameserver entries; and a third parse
 * with resolv_parser_drop_partial before finishing gives what the one-shot
 * parse of the file cut after its last newline gives (but for an over-long
 * cut-off nameserver line, counted as malformed when it grew too long).
 * Any mismatch abort()s. No state outlives one input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "resolv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_invariants(const struct resolv_conf *c)
{
	if (c->n_servers > RESOLV_MAX_SERVERS)
		abort();
	if (c->n_dropped && c->n_servers != RESOLV_MAX_SERVERS)
		abort();
	for (unsigned i = 0; i < c->n_servers; i++) {
		struct ip_addr a = { .family = AF_INET, .v4 = c->servers[i] };
		char buf[IP_ADDR_STRLEN];
		struct ip_addr back;

		if (!ip_addr_is_unicast_host(&a) || ip_addr_is_loopback(&a))
			abort();
		/* It round-trips through its text form. */
		if (ip_addr_parse(ip_addr_to_string(&a, buf), AF_INET, &back) < 0 || !ip_addr_equal(&a, &back))
			abort();
		for (unsigned j = 0; j < i; j++)
			if (c->servers[j].s_addr == c->servers[i].s_addr)
				abort();
	}
	if (c->stub_only && (c->n_loopback == 0 || c->n_servers != 0 || c->n_ipv6 != 0 || c->n_invalid != 0))
		abort();
}

static bool conf_equal(const struct resolv_conf *a, const struct resolv_conf *b)
{
	/* Field by field: the struct has padding. */
	return a->n_servers == b->n_servers &&
	       memcmp(a->servers, b->servers, sizeof(a->servers[0]) * a->n_servers) == 0 &&
	       a->n_loopback == b->n_loopback && a->stub_only == b->stub_only && a->n_ipv6 == b->n_ipv6 &&
	       a->n_invalid == b->n_invalid && a->n_dropped == b->n_dropped;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct resolv_conf whole, chunked;
	struct resolv_parser *p;
	const char *file;
	size_t len, off = 0;
	uint8_t seed;

	if (size < 1)
		return 0;
	seed = data[0];
	/* A copy of exactly the file's bytes: ASan sees any read past it. */
	len = size - 1;
	file = malloc(len ? len : 1);
	if (!file)
		return 0;
	memcpy((char *)file, data + 1, len);

	resolv_parse(file, len, &whole);
	check_invariants(&whole);

	p = malloc(sizeof(*p));
	if (!p)
		abort();
	resolv_parser_init(p);
	while (off < len) {
		size_t n = 1 + (size_t)((seed * 31u + off * 7u + (seed >> 3)) % 256u);

		if (seed & 1)
			n = 1 + (size_t)((seed ^ off) % 8u); /* tiny chunks */
		if (n > len - off)
			n = len - off;
		resolv_parser_feed(p, file + off, n);
		resolv_parser_feed(p, file + off + n, 0); /* an empty read changes nothing */
		off += n;
	}
	chunked = *resolv_parser_finish(p);
	if (!conf_equal(&whole, &chunked))
		abort();

	/* drop_partial: the same as the one-shot parse of the file cut after
	 * its last newline. */
	{
		const char *nl = len ? memrchr(file, '\n', len) : NULL;
		size_t cut = nl ? (size_t)(nl - file) + 1 : 0;
		struct resolv_conf dropped, shorter;

		resolv_parser_init(p);
		resolv_parser_feed(p, file, len);
		resolv_parser_drop_partial(p);
		dropped = *resolv_parser_finish(p);
		resolv_parse(file, cut, &shorter);
		/* A cut-off line already past RESOLV_MAX_LINE was counted as a
		 * malformed entry when it grew too long, and stays counted. */
		if (len - cut > RESOLV_MAX_LINE && dropped.n_invalid == shorter.n_invalid + 1) {
			shorter.n_invalid++;
			shorter.stub_only = false;
		}
		if (!conf_equal(&dropped, &shorter))
			abort();
		check_invariants(&dropped);
	}

	free(p);
	free((char *)file);
	return 0;
}
