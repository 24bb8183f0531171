/*
 * version.c - dotted version comparison.
 */
#include "version.h"

#include <ctype.h>
#include <stdlib.h>

/* Reads the next numeric component; returns 0 past the numeric part. */
static unsigned long next_part(const char **p)
{
	unsigned long v = 0;

	if (!isdigit((unsigned char)**p))
		return 0;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (unsigned long)(**p - '0');
		(*p)++;
	}
	if (**p == '.' && isdigit((unsigned char)(*p)[1]))
		(*p)++;
	return v;
}

int version_cmp(const char *a, const char *b)
{
	for (int i = 0; i < 8; i++) {
		unsigned long x = next_part(&a), y = next_part(&b);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

bool version_ge(const char *v, const char *min)
{
	return v != NULL && version_cmp(v, min) >= 0;
}

bool version_valid(const char *v)
{
	if (v == NULL || !isdigit((unsigned char)*v))
		return false;
	while (isdigit((unsigned char)*v))
		v++;
	return *v == '.' && isdigit((unsigned char)v[1]);
}
