/* What this process may do. */
#pragma once

/* 1 when the process holds CAP_NET_ADMIN in its effective set (what
 * changing x_tables, nf_tables, links and routes takes), 0 when not, < 0
 * when that cannot be told. */
int have_net_admin(void);
