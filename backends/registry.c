/*
 * registry.c - the list of backends.  A new server is one line here.
 */
#include "backend.h"

#include <string.h>

extern const struct backend postfix_backend;
extern const struct backend dovecot_backend;
extern const struct backend exim_backend;

static const struct backend *const backends[] = {
	&postfix_backend,
	&dovecot_backend,
	&exim_backend,
	NULL,
};

const struct backend *const *backend_list(void)
{
	return backends;
}

const struct backend *backend_by_name(const char *name)
{
	for (size_t i = 0; backends[i]; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}
