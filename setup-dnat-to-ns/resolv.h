/* The nameservers of a resolv.conf, read as glibc's resolver reads them.
 * The file comes from an untrusted network (DHCP): the parser takes it in
 * chunks of any size, keeps constant memory whatever the line lengths, and
 * yields only clean dotted quads. Pure: no I/O. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#define RESOLV_MAX_SERVERS 8
/* A nameserver line is short; anything longer is junk and is skipped. */
#define RESOLV_MAX_LINE 1024

struct resolv_conf {
	struct in_addr servers[RESOLV_MAX_SERVERS]; /* IPv4, file order, unique */
	unsigned n_servers;
	unsigned n_loopback;  /* loopback entries skipped (127.0.0.53 included) */
	bool stub_only;       /* every nameserver entry was 127.0.0.53 */
	unsigned n_ipv6;      /* IPv6 entries skipped */
	unsigned n_invalid;   /* malformed (or over-long) nameserver lines skipped */
	unsigned n_dropped;   /* valid servers past RESOLV_MAX_SERVERS */
};

struct resolv_parser {
	struct resolv_conf conf;
	char line[RESOLV_MAX_LINE + 1];
	size_t len;
	bool overlong;  /* the current line passed RESOLV_MAX_LINE: skip to '\n' */
	unsigned n_stub;
	unsigned n_entries;
};

void resolv_parser_init(struct resolv_parser *p);
void resolv_parser_feed(struct resolv_parser *p, const char *data, size_t len);
/* Forgets the line being read: for input cut short, whose last line must
 * not pass for a whole one ("nameserver 10.0.0.12" cut to "...10.0.0.1"). */
void resolv_parser_drop_partial(struct resolv_parser *p);
/* Ends the input (a last line without newline counts) and returns the result. */
const struct resolv_conf *resolv_parser_finish(struct resolv_parser *p);

/* Whole buffer at once. */
void resolv_parse(const char *data, size_t len, struct resolv_conf *ret);
