/* What each firewall backend implements behind fw_antispoof.h; only
 * fw_antispoof.c calls these. Same contracts as there. */
#pragma once

#include "fw_antispoof.h"

struct nftq;

struct fw {
	enum fw_backend backend;
	struct nftq *q; /* nftables: the socket every operation shares */
};

struct fw_done {
	enum fw_backend backend;
	void *data; /* the backend's record */
	void (*free_data)(void *data);
};

/* Appends one status line (text printf-style). -ENOMEM. */
int fw_report_add(struct fw_report *r, const char *word, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

int iptc_antispoof_ensure(int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			  unsigned lock_timeout_ms, struct fw_done *done);
int iptc_antispoof_undo(int family, const char *ifname, const struct fw_done *done, unsigned lock_timeout_ms);
int iptc_antispoof_remove(int family, const char *ifname, const struct ip_addr *hint, unsigned n_hint,
			  unsigned lock_timeout_ms);
int iptc_antispoof_claimed(const char *ifname, bool ipv6_kernel, struct ip_addr *ret, unsigned max,
			   unsigned *ret_n);
int iptc_antispoof_check(int family, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			 struct fw_report *ret);
int nft_antispoof_ensure(struct nftq *q, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			 unsigned timeout_ms, struct fw_done *done, const char **ret_detail);
int nft_antispoof_undo(struct nftq *q, const char *ifname, const struct fw_done *done, unsigned timeout_ms);
int nft_antispoof_remove(struct nftq *q, const char *ifname, const struct ip_addr *hint, unsigned n_hint,
			 unsigned timeout_ms);
int nft_antispoof_claimed(struct nftq *q, const char *ifname, struct ip_addr *ret, unsigned max, unsigned *ret_n);
int nft_antispoof_check(struct nftq *q, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			struct fw_report *ret);
void nft_antispoof_describe(bool remove, const char *ifname, const struct ip_addr *addrs, unsigned n_addrs,
			    char *buf, size_t len);

void iptc_antispoof_describe(int family, bool remove, const char *ifname, const struct ip_addr *addrs,
			     unsigned n_addrs, char *buf, size_t len);
