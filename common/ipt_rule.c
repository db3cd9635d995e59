/* STUB: replaced by the x_tables implementation. */
#include <errno.h>
#include "ipt.h"
int ipt_drop_rule_encode(const struct ipt_drop_rule *r, void **ret_entry, size_t *ret_size) { return -ENOSYS; }
int ipt_dnat_rule_encode(const struct ipt_dnat_rule *r, void **ret_entry, size_t *ret_size) { return -ENOSYS; }
int ipt_dnat_rule_decode(const void *entry, struct ipt_dnat_rule *ret) { return -ENOSYS; }
const char *ipt_drop_rule_to_string(const struct ipt_drop_rule *r, char *buf, size_t len) { return "?"; }
const char *ipt_dnat_rule_to_string(const struct ipt_dnat_rule *r, char *buf, size_t len) { return "?"; }
