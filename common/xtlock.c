/* STUB: replaced by the x_tables implementation. */
#include <errno.h>
#include "ipt.h"
int xt_lock_acquire(unsigned timeout_ms) { return -ENOSYS; }
const char *xt_lock_path(void) { return "?"; }
