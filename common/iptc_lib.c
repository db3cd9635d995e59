/* Loads libip4tc/libip6tc on first use (see iptc_lib.h). The firewall is
 * run by the main thread only, so the load state needs no lock. */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "iptc_lib.h"
#include "log.h"
#include "util.h"

struct symbol {
	const char *name;
	size_t offset; /* of its pointer in the library's struct */
};

#define IPTC_LIB_SYMBOL(prefix, name) { #prefix "_" #name, offsetof(struct prefix##_lib, name) },

static const struct symbol ip4tc_symbols[] = { IPTC_LIB_FUNCTIONS(IPTC_LIB_SYMBOL, iptc) };
static const struct symbol ip6tc_symbols[] = { IPTC_LIB_FUNCTIONS(IPTC_LIB_SYMBOL, ip6tc) };

struct lib_state {
	const char *soname;
	bool tried;
	int error; /* of the one load attempt: 0 or -ELIBACC */
};

static const char *soname_of(const char *soname, const char *fault_var)
{
#if ENABLE_FAULT_INJECTION
	/* Test builds only: another soname, e.g. one that does not exist, or
	 * a library without the functions. */
	const char *s = getenv(fault_var);

	if (s && *s)
		return s;
#endif
	return soname;
}

static int load_failed(const char *soname)
{
	const char *why = dlerror();
	char text[256];

	snprintf(text, sizeof(text), "cannot load %s: %s", soname, why ? why : "unknown error");
	log_set_errno_text(-ELIBACC, text);
	log_debug("%s", text);
	return -ELIBACC;
}

/* Fills fns (a struct of n function pointers) from the library, once. */
static int load(struct lib_state *st, const struct symbol *symbols, size_t n, void *fns)
{
	void *h;

	if (st->tried)
		return st->error;
	st->tried = true;

	/* Never closed: the pointers stay valid for the life of the process. */
	h = dlopen(st->soname, RTLD_LAZY | RTLD_LOCAL);
	if (!h)
		return (st->error = load_failed(st->soname));
	for (size_t i = 0; i < n; i++) {
		void *sym;

		(void)dlerror();
		sym = dlsym(h, symbols[i].name);
		if (!sym)
			return (st->error = load_failed(st->soname));
		/* POSIX: a function's address fits in the void * dlsym returns. */
		memcpy((char *)fns + symbols[i].offset, &sym, sizeof(sym));
	}
	log_debug("loaded %s", st->soname);
	return 0;
}

int iptc_lib_load(const struct iptc_lib **ret)
{
	static struct iptc_lib fns;
	static struct lib_state st;
	int r;

	if (!st.soname)
		st.soname = soname_of(IP4TC_SONAME, "QVT_FAULT_IP4TC_SONAME");
	r = load(&st, ip4tc_symbols, ELEMENTSOF(ip4tc_symbols), &fns);
	if (r < 0)
		return r;
	*ret = &fns;
	return 0;
}

int ip6tc_lib_load(const struct ip6tc_lib **ret)
{
	static struct ip6tc_lib fns;
	static struct lib_state st;
	int r;

	if (!st.soname)
		st.soname = soname_of(IP6TC_SONAME, "QVT_FAULT_IP6TC_SONAME");
	r = load(&st, ip6tc_symbols, ELEMENTSOF(ip6tc_symbols), &fns);
	if (r < 0)
		return r;
	*ret = &fns;
	return 0;
}
