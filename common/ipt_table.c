/* STUB: replaced by the x_tables implementation. */
#include <errno.h>
#include "ipt.h"
int ipt_transaction(int family, const char *table, ipt_edit_fn edit, void *userdata) { return -ENOSYS; }
int ipt_table_family(const struct ipt_table *t) { return 0; }
int ipt_drop_check(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r) { return -ENOSYS; }
int ipt_drop_insert(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r, unsigned pos) { return -ENOSYS; }
int ipt_drop_delete(struct ipt_table *t, const char *chain, const struct ipt_drop_rule *r) { return -ENOSYS; }
int ipt_chain_exists(struct ipt_table *t, const char *chain) { return -ENOSYS; }
int ipt_chain_create(struct ipt_table *t, const char *chain) { return -ENOSYS; }
int ipt_chain_flush(struct ipt_table *t, const char *chain) { return -ENOSYS; }
int ipt_jump_check(struct ipt_table *t, const char *from, const char *to) { return -ENOSYS; }
int ipt_jump_append(struct ipt_table *t, const char *from, const char *to) { return -ENOSYS; }
int ipt_dnat_list(struct ipt_table *t, const char *chain, struct ipt_dnat_rule *ret, size_t max, size_t *ret_n) { return -ENOSYS; }
int ipt_dnat_append(struct ipt_table *t, const char *chain, const struct ipt_dnat_rule *r) { return -ENOSYS; }
