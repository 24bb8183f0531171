/*
 * expect.c - judging an effective value against the intended one.
 *
 * "Weaker" must mean weaker, not "spelled differently": ">=TLSv1.2" and
 * "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1" enable the same versions, a cipher
 * list is compared by the suites OpenSSL compiles it to, and a stricter
 * value than intended (TLS 1.3 only where 1.2 was planned) holds.
 */
#include "backend.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

/* SSLv2 .. TLSv1.3 as bits 0..5 */
static const char *const versions[] = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
#define ALL_VERSIONS 0x3fu

static int version_index(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(versions); i++)
		if (strcasecmp(name, versions[i]) == 0)
			return (int)i;
	/* Dovecot's words for "anything" and "the newest" */
	if (strcasecmp(name, "ANY") == 0)
		return 1;
	if (strcasecmp(name, "LATEST") == 0)
		return 5;
	return -1;
}

static unsigned from_index(int i)
{
	return ALL_VERSIONS & ~((1u << i) - 1);
}

/*
 * Enabled versions of a protocol setting, or -1 when a word is unknown.
 * One bare name is a minimum (Dovecot's ssl_min_protocol); several are a
 * list (Postfix "TLSv1.2 TLSv1.3"); "!X" removes, ">=X" / "<=X" bound.
 * Nothing at all means every version, as Postfix reads an empty list.
 */
static int protocol_set(const char *value, unsigned *set)
{
	char *copy = xstrdup(value), *save = NULL;
	unsigned pos = 0, neg = 0, lo = ALL_VERSIONS, hi = ALL_VERSIONS;
	int n_pos = 0, single = -1, rc = 0;

	for (char *t = strtok_r(copy, " ,:\t", &save); t && rc == 0; t = strtok_r(NULL, " ,:\t", &save)) {
		bool not = t[0] == '!', ge = strncmp(t, ">=", 2) == 0, le = strncmp(t, "<=", 2) == 0;
		int i = version_index(t + (not ? 1 : ge || le ? 2 : 0));

		if (i < 0)
			rc = -1;
		else if (not)
			neg |= 1u << i;
		else if (ge)
			lo = from_index(i);
		else if (le)
			hi = ALL_VERSIONS & ((2u << i) - 1);
		else {
			pos |= 1u << i;
			single = i;
			n_pos++;
		}
	}
	free(copy);
	if (rc < 0)
		return -1;
	if (n_pos == 1)
		pos = from_index(single);
	else if (n_pos == 0)
		pos = ALL_VERSIONS;
	*set = pos & ~neg & lo & hi;
	return 0;
}

/* Names of the TLS <= 1.2 suites an OpenSSL cipher list allows. */
static int cipher_set(const char *list, struct strlist *out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	STACK_OF(SSL_CIPHER) *sk;
	int rc = -1;

	if (ctx == NULL)
		return -1;
	/* judge the list, not this machine's default security level */
	SSL_CTX_set_security_level(ctx, 0);
	if (SSL_CTX_set_cipher_list(ctx, list) == 1 && (sk = SSL_CTX_get_ciphers(ctx)) != NULL) {
		for (int i = 0; i < sk_SSL_CIPHER_num(sk); i++) {
			const SSL_CIPHER *c = sk_SSL_CIPHER_value(sk, i);

			if (strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") != 0)
				sl_add(out, SSL_CIPHER_get_name(c));
		}
		rc = 0;
	}
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return rc;
}

static bool list_has(const struct strlist *l, const char *item)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], item) == 0)
			return true;
	return false;
}

static void split_items(const char *value, struct strlist *out)
{
	char *copy = xstrdup(value), *save = NULL;

	for (char *t = strtok_r(copy, " ,:\t", &save); t; t = strtok_r(NULL, " ,:\t", &save))
		sl_add(out, t);
	free(copy);
}

/* Every item of a is in b. */
static bool all_in(const struct strlist *a, const struct strlist *b)
{
	for (size_t i = 0; i < a->n; i++)
		if (!list_has(b, a->v[i]))
			return false;
	return true;
}

static enum expect_state judge_lists(const char *got, const char *want, bool got_in_want)
{
	struct strlist g = STRLIST_INIT, w = STRLIST_INIT;
	bool ok;

	split_items(got, &g);
	split_items(want, &w);
	ok = got_in_want ? all_in(&g, &w) : all_in(&w, &g);
	sl_free(&g);
	sl_free(&w);
	return ok ? EXPECT_HOLDS : EXPECT_WEAKER;
}

static enum expect_state judge_ciphers(const char *got, const char *want)
{
	struct strlist g = STRLIST_INIT, w = STRLIST_INIT;
	enum expect_state st = EXPECT_UNKNOWN;

	/* a list OpenSSL refuses is no weaker, it breaks TLS: cannot judge */
	if (cipher_set(got, &g) == 0 && cipher_set(want, &w) == 0)
		st = all_in(&g, &w) ? EXPECT_HOLDS : EXPECT_WEAKER;
	sl_free(&g);
	sl_free(&w);
	return st;
}

static int rank_of(const char *scale, const char *word)
{
	struct strlist s = STRLIST_INIT;
	int r = -1;

	split_items(scale ? scale : "", &s);
	for (size_t i = 0; i < s.n && r < 0; i++)
		if (strcasecmp(s.v[i], word) == 0)
			r = (int)i;
	sl_free(&s);
	return r;
}

static char *folded(const char *s)
{
	struct strlist t = STRLIST_INIT;
	struct strbuf sb = STRBUF_INIT;
	char *copy = xstrdup(s), *save = NULL;

	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
		sl_add(&t, w);
	for (size_t i = 0; i < t.n; i++)
		sb_addf(&sb, "%s%s", i ? " " : "", t.v[i]);
	sl_free(&t);
	free(copy);
	return sb_detach(&sb);
}

enum expect_state expect_judge(const struct expectation *x, const char *got)
{
	unsigned g, w;
	int rg, rw;

	if (got == NULL)
		return EXPECT_UNKNOWN;
	switch (x->cmp) {
	case EXPECT_CMP_PROTOCOLS:
		if (protocol_set(got, &g) < 0 || protocol_set(x->want, &w) < 0)
			return EXPECT_UNKNOWN;
		return (g & ~w) == 0 ? EXPECT_HOLDS : EXPECT_WEAKER;
	case EXPECT_CMP_CIPHERS:
		return judge_ciphers(got, x->want);
	case EXPECT_CMP_SUBSET:
		return judge_lists(got, x->want, true);
	case EXPECT_CMP_CONTAINS:
		return judge_lists(got, x->want, false);
	case EXPECT_CMP_RANK:
		rg = rank_of(x->scale, got);
		rw = rank_of(x->scale, x->want);
		/* an empty value is the weakest: "smtpd_tls_security_level =" */
		if (rg < 0 && got[strspn(got, " \t")] == '\0')
			return EXPECT_WEAKER;
		if (rg < 0 || rw < 0)
			return EXPECT_UNKNOWN;
		return rg >= rw ? EXPECT_HOLDS : EXPECT_WEAKER;
	case EXPECT_CMP_EXACT:
		break;
	}
	{
		char *a = folded(got), *b = folded(x->want);
		bool same = strcmp(a, b) == 0;

		free(a);
		free(b);
		return same ? EXPECT_HOLDS : EXPECT_WEAKER;
	}
}

void expect_set_cmp(struct expectation *x, enum expect_cmp cmp, const char *scale)
{
	x->cmp = cmp;
	free(x->scale);
	x->scale = scale ? xstrdup(scale) : NULL;
}

void expect_list_copy(struct expect_list *dst, const struct expect_list *src)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct expectation *s = &src->items[i];
		struct expectation *d = expect_add(dst, s->scope, s->scope_label, s->name, s->want,
						   s->roles);

		expect_set_cmp(d, s->cmp, s->scale);
		expect_set(d, s->got, s->origin, s->state);
	}
}

size_t expect_count(const struct expect_list *l, enum expect_state state)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += l->items[i].state == state;
	return n;
}

char *expect_describe(const struct expectation *x)
{
	const char *where = x->scope_label && *x->scope_label ? x->scope_label : x->scope;

	if (x->state == EXPECT_UNKNOWN || x->got == NULL)
		return xasprintf(_("%s: %s could not be verified (intended: %s)"), where, x->name,
				 x->want);
	if (x->state == EXPECT_HOLDS)
		return xasprintf(_("%s: %s = %s"), where, x->name, x->got);
	return xasprintf(_("%s: %s is '%s' (%s), weaker than the intended '%s'"), where, x->name,
			 x->got, x->origin ? x->origin : _("the server's default"), x->want);
}
