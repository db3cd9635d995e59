/* apply.c's NAT-mode actions (ACT_NAT_*), in a file of their own. */
#pragma once

#include <stdbool.h>

#include "apply.h"

struct nftq_nat;

/* Runs one ACT_NAT_* action; *changed says whether it made a change for
 * rollback to undo. */
int nat_do(struct apply_ctx *c, const struct action *a, bool *changed);
/* Undoes a changed ACT_NAT_* action of a failed online. */
int nat_undo(struct apply_ctx *c, const struct action *a);
/* What the translation table should hold; with need_index, the links'
 * ifindexes inside the namespace (which must exist). */
int nat_want(struct apply_ctx *c, struct nftq_nat *m, bool need_index);
