/* The x_tables layer: rule encoding for libiptc (pure) and transactions on
 * one table of one family, made under the xtables lock that iptables-legacy
 * takes, committed atomically, retried on a concurrent replace.
 * Nothing here logs above debug; every function returns 0/count or -errno. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* [!] -i IFACE [[!] -s SRC] -j DROP
 * An IFACE ending in '+' is a prefix wildcard, as iptables' "vif+". */
struct ipt_drop_rule {
	int family; /* AF_INET or AF_INET6 */
	char iface[IFNAME_MAX];
	bool iface_inv;
	bool has_src;
	bool src_inv;
	struct ip_addr src; /* host address, /32 or /128 */
};

/* IPv4 only: -d DST/32 -p udp|tcp -m udp|tcp --dport PORT -j DNAT --to-destination TO */
struct ipt_dnat_rule {
	struct in_addr dst;
	uint8_t proto; /* IPPROTO_UDP or IPPROTO_TCP */
	uint16_t dport;
	struct in_addr to;
};

/* Encoders return a malloc'd ipt_entry (AF_INET) or ip6t_entry (AF_INET6),
 * laid out exactly as iptables-legacy 1.8.9 writes the same rule. */
int ipt_drop_rule_encode(const struct ipt_drop_rule *r, void **ret_entry, size_t *ret_size);
int ipt_dnat_rule_encode(const struct ipt_dnat_rule *r, void **ret_entry, size_t *ret_size);
/* -EINVAL when the entry is not a rule of the ipt_dnat_rule shape. */
int ipt_dnat_rule_decode(const void *entry, struct ipt_dnat_rule *ret);

/* -EINVAL when the entry (family's layout) is not exactly a rule of the
 * ipt_drop_rule shape as ipt_drop_rule_encode builds it. */
int ipt_drop_rule_decode(int family, const void *entry, struct ipt_drop_rule *ret);
bool ipt_drop_rule_equal(const struct ipt_drop_rule *a, const struct ipt_drop_rule *b);

/* What a rule's verdict means for the rules below it. */
enum ipt_verdict {
	IPT_VERDICT_DROP,       /* the packet goes no further */
	IPT_VERDICT_CONTINUE,   /* a target that lets the packet go on (CT, LOG, MARK, ...) */
	IPT_VERDICT_MAY_ACCEPT, /* ACCEPT, RETURN, QUEUE, a jump, or a target we do not know */
	_IPT_VERDICT_MAX,
};

/* Any rule of a chain, as far as anti-spoofing cares. */
struct ipt_rule_view {
	bool is_drop_rule;       /* of the ipt_drop_rule shape, decoded into drop */
	struct ipt_drop_rule drop;
	enum ipt_verdict verdict;
	char target[32];         /* as iptables names it: DROP, ACCEPT, a chain, an extension */
	char iniface[IFNAME_MAX]; /* -i, with its mask and inversion as the kernel compares them */
	unsigned char iniface_mask[IFNAME_MAX];
	bool iniface_inv;
	bool more_matches;       /* anything besides -i: addresses, protocol, match modules */
};

/* target: the label libiptc gives (iptc_get_target); user_chain: it names
 * a chain of the table. */
enum ipt_verdict ipt_verdict_of(const char *target, bool user_chain);
int ipt_rule_view_decode(int family, const void *entry, const char *target, bool user_chain,
			 struct ipt_rule_view *ret);
/* The rule's -i matches packets that arrive on ifname (kernel semantics). */
bool ipt_rule_view_matches_iface(const struct ipt_rule_view *v, const char *ifname);
/* The rule's -i can match an interface whose name does not start with "vif". */
bool ipt_rule_view_may_match_non_vif(const struct ipt_rule_view *v);
/* "-i vif3.0 -s 10.0.0.1 ... -j ACCEPT"-like summary for messages. */
const char *ipt_rule_view_to_string(const struct ipt_rule_view *v, char *buf, size_t len);

/* Text form for logs and --dry-run, e.g. "-i vif3.0 ! -s 10.137.0.5 -j DROP". */
const char *ipt_drop_rule_to_string(const struct ipt_drop_rule *r, char *buf, size_t len);
const char *ipt_dnat_rule_to_string(const struct ipt_dnat_rule *r, char *buf, size_t len);

/* The xtables lock: XTABLES_LOCKFILE if set and non-empty, else XT_LOCK_NAME.
 * Returns the locked fd (O_CLOEXEC; closing it releases the lock), or
 * -ETIMEDOUT after timeout_ms, or -errno. */
int xt_lock_acquire(unsigned timeout_ms);
const char *xt_lock_path(void);

/* How long ipt_transaction waits for the xtables lock. */
#define IPT_LOCK_TIMEOUT_MS 10000

struct ipt_table; /* one libiptc handle, either family */

/* Called with the table open and the lock held; may be called again from
 * scratch after a concurrent replace, so it must not keep state across calls
 * except through what it recomputes. Returns > 0 when it changed the table
 * (commit needed), 0 when nothing changed, < 0 on error (nothing committed). */
typedef int (*ipt_edit_fn)(struct ipt_table *t, void *userdata);

/* Lock -> init(table) -> edit -> commit if edit > 0 -> free -> unlock.
 * EAGAIN from commit (the table changed under us) restarts from init.
 * Returns edit's result (> 0 committed, 0 nothing to do) or -errno. */
int ipt_transaction(int family, const char *table, ipt_edit_fn edit, void *userdata);
/* The same, waiting at most lock_timeout_ms for the lock (-ETIMEDOUT). */
int ipt_transaction_timed(int family, const char *table, unsigned lock_timeout_ms, ipt_edit_fn edit,
			  void *userdata);
/* edit on a snapshot of the table, without the lock; nothing is committed
 * whatever edit returns. For reading (status, probes). */
int ipt_read(int family, const char *table, ipt_edit_fn edit, void *userdata);

int ipt_table_family(const struct ipt_table *t);

/* Operations on an open table (inside an edit callback). Nothing reaches
 * the kernel until the transaction commits. */
int ipt_drop_check(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r); /* 1 present, 0 absent */
/* pos is 0-based as in libiptc: 0 is the top (iptables -I CHAIN 1); past
 * the end of the chain gives -E2BIG. */
int ipt_drop_insert(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r, unsigned pos);
int ipt_drop_delete(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r); /* -ENOENT when absent */

int ipt_chain_exists(struct ipt_table *t, const char *chain); /* 1 or 0 */
int ipt_chain_create(struct ipt_table *t, const char *chain);
int ipt_chain_flush(struct ipt_table *t, const char *chain);
/* "-A FROM -j TO" (no other match): check present (1/0) and append. */
int ipt_jump_check(struct ipt_table *t, const char *from, const char *to);
int ipt_jump_append(struct ipt_table *t, const char *from, const char *to);
/* Reads CHAIN into ret (up to max rules); *ret_n gets the number of rules in
 * the chain. Returns -EBADMSG when a rule of the chain is not of the
 * ipt_dnat_rule shape (the caller then treats the chain as "different");
 * ret may then be partly written. Decoded rules have their padding zeroed,
 * so they compare with memcmp against rules built the same way. */
/* Every rule of chain, in order: *ret malloc'd (NULL when empty). */
int ipt_chain_rules(struct ipt_table *t, const char *chain, struct ipt_rule_view **ret, size_t *ret_n);
int ipt_dnat_list(struct ipt_table *t, const char *chain, struct ipt_dnat_rule *ret, size_t max, size_t *ret_n);
int ipt_dnat_append(struct ipt_table *t, const char *chain, const struct ipt_dnat_rule *r);
