#include <arpa/inet.h>
#include <string.h>

#include "addr.h"
#include "resolv.h"

#define STUB_ADDR 0x7f000035u /* 127.0.0.53, systemd-resolved's stub */

void resolv_parser_init(struct resolv_parser *p)
{
	memset(p, 0, sizeof(*p));
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static const char keyword[] = "nameserver";

/* The keyword starts the line and is followed by a blank, as glibc
 * requires; '#' and ';' lines are comments. */
static bool is_nameserver_line(const char *line, size_t len)
{
	size_t k = strlen(keyword);

	return len > k && strncmp(line, keyword, k) == 0 && is_blank(line[k]);
}

static void add_server(struct resolv_conf *c, struct in_addr a)
{
	for (unsigned i = 0; i < c->n_servers; i++)
		if (c->servers[i].s_addr == a.s_addr)
			return;
	if (c->n_servers == RESOLV_MAX_SERVERS) {
		c->n_dropped++;
		return;
	}
	c->servers[c->n_servers++] = a;
}

/* One complete line, without its newline; NUL-terminated at the first NUL
 * byte it contained (as the C library sees such a line). */
static void parse_line(struct resolv_parser *p, char *line)
{
	struct ip_addr a;
	char *tok;
	size_t n;

	if (!is_nameserver_line(line, strlen(line)))
		return;
	p->n_entries++;
	tok = line + strlen(keyword);
	while (is_blank(*tok))
		tok++;
	/* The address ends at a blank, a comment or the end of the line; what
	 * follows a blank is ignored, as glibc and the Python script do. But
	 * the address itself must be exactly an address: "1.2.3.4;x" is not. */
	n = strcspn(tok, " \t\r");
	tok[n] = 0;
	if (*tok == 0) {
		p->conf.n_invalid++;
		return;
	}
	if (ip_addr_parse(tok, AF_UNSPEC, &a) < 0) {
		/* A scoped IPv6 address (fe80::1%eth0) is still IPv6. */
		char *pct = strchr(tok, '%');

		if (pct) {
			*pct = 0;
			if (ip_addr_parse(tok, AF_INET6, &a) == 0) {
				p->conf.n_ipv6++;
				return;
			}
		}
		p->conf.n_invalid++;
		return;
	}
	if (a.family == AF_INET6) {
		p->conf.n_ipv6++;
		return;
	}
	if (ip_addr_is_loopback(&a)) {
		p->conf.n_loopback++;
		p->n_stub += ntohl(a.v4.s_addr) == STUB_ADDR;
		return;
	}
	if (!ip_addr_is_unicast_host(&a)) {
		p->conf.n_invalid++;
		return;
	}
	add_server(&p->conf, a.v4);
}

static void end_line(struct resolv_parser *p)
{
	if (!p->overlong) {
		p->line[p->len] = 0;
		parse_line(p, p->line);
	}
	p->len = 0;
	p->overlong = false;
}

void resolv_parser_feed(struct resolv_parser *p, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (!p->overlong) {
			if (p->len + take > RESOLV_MAX_LINE) {
				/* Too long to be a real entry; but one that says
				 * it is a nameserver line is a malformed entry. */
				p->overlong = true;
				memcpy(p->line + p->len, data, RESOLV_MAX_LINE - p->len);
				if (is_nameserver_line(p->line, RESOLV_MAX_LINE)) {
					p->n_entries++;
					p->conf.n_invalid++;
				}
			} else {
				memcpy(p->line + p->len, data, take);
				p->len += take;
			}
		}
		if (!nl)
			return;
		end_line(p);
		data = nl + 1;
		len -= take + 1;
	}
}

void resolv_parser_drop_partial(struct resolv_parser *p)
{
	p->len = 0;
	p->overlong = false;
}

const struct resolv_conf *resolv_parser_finish(struct resolv_parser *p)
{
	if (p->len > 0 || p->overlong)
		end_line(p);
	p->conf.stub_only = p->n_entries > 0 && p->n_stub == p->n_entries;
	return &p->conf;
}

void resolv_parse(const char *data, size_t len, struct resolv_conf *ret)
{
	struct resolv_parser p;

	resolv_parser_init(&p);
	resolv_parser_feed(&p, data, len);
	*ret = *resolv_parser_finish(&p);
}
