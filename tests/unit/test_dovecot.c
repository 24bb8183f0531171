/*
 * test_dovecot.c - the Dovecot backend on fixture trees under a temp root.
 *
 * Versions come from --server-version style overrides, so no Dovecot binary
 * is needed; the real doveconf checks run in the integration harness.
 */
#include "../../core/common.h"
#include "../../core/env.h"
#include "../../core/fsutil.h"
#include "../../backends/backend.h"

#include <limits.h>

#include "testutil.h"

extern const struct backend dovecot_backend;

#define DROPIN_23 "/etc/dovecot/conf.d/99-mailharden-tls.conf"

struct fx {
	char *root;
	struct env env;
	struct server_info si;
	struct plan plan;
	struct error e;
};

/* REPO/build/san/tests/test_dovecot -> REPO/tests/unit/fixtures/dovecot */
static char *fixture_dir(const char *name)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *path;

	assert_true(n > 0);
	exe[n] = '\0';
	for (int i = 0; i < 4; i++)
		*strrchr(exe, '/') = '\0';
	path = xasprintf("%s/tests/unit/fixtures/dovecot/%s", exe, name);
	if (access(path, F_OK) != 0) {
		free(path);
		path = xasprintf("tests/unit/fixtures/dovecot/%s", name);
	}
	assert_int_equal(access(path, F_OK), 0);
	return path;
}

/* A temp root holding a copy of fixture `name` (NULL = empty root). */
static void fx_init(struct fx *f, const char *name, const char *dovecot, const char *openssl)
{
	memset(f, 0, sizeof(*f));
	f->root = tu_mkdtemp();
	if (name) {
		char *src = fixture_dir(name);

		assert_int_equal(fs_copy_tree(src, f->root), 0);
		free(src);
	}
	assert_int_equal(env_init(&f->env, f->root, &f->e), 0);
	/* what the host has installed must not matter */
	f->env.no_host_tools = true;
	if (dovecot) {
		char *spec = xasprintf("dovecot=%s", dovecot);

		assert_int_equal(env_add_override(&f->env, spec, &f->e), 0);
		free(spec);
	}
	if (openssl) {
		char *spec = xasprintf("openssl=%s", openssl);

		assert_int_equal(env_add_override(&f->env, spec, &f->e), 0);
		free(spec);
	}
}

static void fx_detect(struct fx *f)
{
	server_info_free(&f->si);
	assert_int_equal(dovecot_backend.detect(&f->env, &f->si), 0);
}

static void fx_free(struct fx *f)
{
	plan_free(&f->plan);
	server_info_free(&f->si);
	env_free(&f->env);
	tu_rmrf(f->root);
	free(f->root);
}

static int fx_plan(struct fx *f, const char *roles, const char *profile, const char *cert,
		   const char *key, const char *dh)
{
	struct answers a = {0};

	assert_int_equal(roles_parse(roles, &a.roles, &f->e), 0);
	a.profile = profile_by_name(profile);
	assert_non_null(a.profile);
	a.cert_file = cert;
	a.key_file = key;
	a.dh_file = dh;
	plan_free(&f->plan);
	return dovecot_backend.plan(&f->env, &f->si, &a, &f->plan, &f->e);
}

static const struct file_change *change_for(const struct plan *p, const char *path)
{
	for (size_t i = 0; i < p->n_changes; i++)
		if (strcmp(p->changes[i].path, path) == 0)
			return &p->changes[i];
	return NULL;
}

static const char *dropin_text(const struct plan *p, const char *path)
{
	const struct file_change *c = change_for(p, path);

	assert_non_null(c);
	return c->new_text;
}

static bool has_note(const struct plan *p, const char *a, const char *b)
{
	for (size_t i = 0; i < p->notes.n; i++)
		if (strstr(p->notes.v[i], a) && (b == NULL || strstr(p->notes.v[i], b)))
			return true;
	return false;
}

static bool has_conflict(const struct plan *p, const char *a, const char *b)
{
	for (size_t i = 0; i < p->conflicts.n; i++)
		if (strstr(p->conflicts.v[i], a) && (b == NULL || strstr(p->conflicts.v[i], b)))
			return true;
	return false;
}

static const struct file_change *change_of(const struct plan *p, const char *path)
{
	for (size_t i = 0; i < p->n_changes; i++)
		if (strcmp(p->changes[i].path, path) == 0)
			return &p->changes[i];
	return NULL;
}

static bool has_setting(const struct plan *p, const char *line)
{
	for (size_t i = 0; i < p->settings.n; i++)
		if (strcmp(p->settings.v[i], line) == 0)
			return true;
	return false;
}

#define assert_has(text, s) assert_non_null(strstr((text), (s)))
#define assert_lacks(text, s) assert_null(strstr((text), (s)))

/* Writes every change as the engine would (lab mode: no reload). */
static void fx_apply(struct fx *f)
{
	struct apply_opts o = {0};
	struct apply_result r = {0};

	assert_int_equal(engine_apply(&f->env, &f->plan, &o, &r, &f->e), 0);
	apply_result_free(&r);
}

/* ------------------------------------------------------------------ */

static void test_detect_debian23(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian23", "2.3.19.1", "3.0.19");
	fx_detect(&f);
	assert_true(f.si.found);
	assert_true(f.si.usable);
	assert_string_equal(f.si.version, "2.3.19.1");
	assert_string_equal(f.si.version_source, "--server-version");
	assert_string_equal(f.si.openssl_version, "3.0.19");
	assert_int_equal(f.si.layout, LAYOUT_DEBIAN);
	assert_string_equal(f.si.config_file, "/etc/dovecot/dovecot.conf");
	assert_string_equal(f.si.config_dir, "/etc/dovecot");
	/* only dovecot-imapd's protocols.d file is present */
	assert_int_equal(f.si.roles_served, ROLE_IMAP | ROLE_IMAPS);
	/* ssl = yes is not required */
	assert_int_equal(f.si.roles_tls, 0);
	fx_free(&f);
}

static void test_detect_24_marker_and_boollist(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian24", NULL, "3.5.1");
	fx_detect(&f);
	assert_true(f.si.usable);
	assert_string_equal(f.si.version, "2.4.1");
	assert_string_equal(f.si.version_source, "dovecot_config_version");
	/* "protocols = $SET:protocols imap" and "protocols { pop3 = yes }" */
	assert_int_equal(f.si.roles_served, ROLES_MDA);
	fx_free(&f);
}

static void test_detect_listener_closed(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "plain", "2.3.19", NULL);
	tu_write(f.root, "etc/dovecot/dovecot.conf",
		 "protocols = imap pop3\nssl = required\n"
		 "service pop3-login { inet_listener pop3 { port = 0 } }\n");
	fx_detect(&f);
	assert_int_equal(f.si.layout, LAYOUT_RHEL);
	assert_int_equal(f.si.roles_served, ROLE_IMAP | ROLE_IMAPS | ROLE_POP3S);
	assert_int_equal(f.si.roles_tls, f.si.roles_served);
	fx_free(&f);
}

static void test_detect_unknown_version(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian23", NULL, NULL);
	fx_detect(&f);
	assert_true(f.si.found);
	assert_false(f.si.usable);
	assert_null(f.si.version);
	assert_has(f.si.why, "--server-version dovecot=2.3");
	assert_int_equal(fx_plan(&f, "imap", "intermediate", NULL, NULL, NULL), -1);
	assert_int_equal(f.plan.n_changes, 0);
	fx_free(&f);
}

static void test_detect_unsupported_and_absent(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian23", "2.1.7", NULL);
	fx_detect(&f);
	assert_true(f.si.found);
	assert_false(f.si.usable);
	assert_has(f.si.why, "unsupported version");
	fx_free(&f);

	fx_init(&f, "debian23", "2.5.0", NULL);
	fx_detect(&f);
	assert_false(f.si.usable);
	fx_free(&f);

	fx_init(&f, NULL, "2.3", NULL);
	fx_detect(&f);
	assert_false(f.si.found);
	assert_non_null(f.si.why);
	fx_free(&f);
}

static void test_render_23_intermediate(void **state)
{
	struct fx f;
	const char *t;

	(void)state;
	fx_init(&f, "debian23", "2.3.19.1", "3.0.19");
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imap,imaps", "intermediate", "/etc/ssl/mail.pem",
				 "/etc/ssl/mail.key", NULL), 0);
	/* the conf.d files are included: the drop-in is the only change */
	assert_int_equal(f.plan.n_changes, 1);
	assert_false(f.plan.changes[0].existed);
	assert_int_equal(f.plan.changes[0].mode, 0644);
	t = dropin_text(&f.plan, DROPIN_23);
	assert_has(t, "Managed by mailharden");
	assert_has(t, "generation 2.3");
	assert_has(t, "profile intermediate");
	assert_has(t, "roles imap,imaps");
	assert_has(t, "\nssl = required\n");
	assert_has(t, "\ndisable_plaintext_auth = yes\n");
	assert_has(t, "\nssl_cert = </etc/ssl/mail.pem\n");
	assert_has(t, "\nssl_key = </etc/ssl/mail.key\n");
	assert_has(t, "\nssl_min_protocol = TLSv1.2\n");
	assert_has(t, "\nssl_cipher_list = ECDHE-ECDSA-AES128-GCM-SHA256:");
	assert_has(t, "\nssl_cipher_suites = TLS_AES_128_GCM_SHA256:");
	assert_has(t, "\nssl_curve_list = X25519:prime256v1:secp384r1\n");
	assert_has(t, "\nssl_prefer_server_ciphers = no\n");
	/* no DHE suites: no DH file */
	assert_lacks(t, "ssl_dh");
	/* nothing of 2.2 or 2.4 */
	assert_lacks(t, "ssl_protocols");
	assert_lacks(t, "ssl_server_");
	assert_lacks(t, "auth_allow_cleartext");
	assert_lacks(t, "MLKEM");
	/* both IMAP roles chosen, POP3 not served: no listener block */
	assert_lacks(t, "service ");
	assert_true(has_setting(&f.plan, "ssl = required"));
	assert_true(has_setting(&f.plan, "ssl_min_protocol = TLSv1.2"));
	fx_free(&f);
}

static void test_render_24_intermediate(void **state)
{
	struct fx f;
	const char *t;

	(void)state;
	fx_init(&f, "debian24", "2.4.1", "3.5.1");
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imap,imaps,pop3,pop3s", "intermediate", "/etc/ssl/mail.pem",
				 "/etc/ssl/mail.key", NULL), 0);
	t = dropin_text(&f.plan, DROPIN_23);
	assert_has(t, "generation 2.4");
	assert_has(t, "\nssl = required\n");
	assert_has(t, "\nauth_allow_cleartext = no\n");
	assert_has(t, "\nssl_server_cert_file = /etc/ssl/mail.pem\n");
	assert_has(t, "\nssl_server_key_file = /etc/ssl/mail.key\n");
	assert_has(t, "\nssl_min_protocol = TLSv1.2\n");
	assert_has(t, "\nssl_cipher_suites = TLS_AES_128_GCM_SHA256:");
	assert_has(t, "\nssl_curve_list = X25519MLKEM768:X25519:prime256v1:secp384r1\n");
	assert_has(t, "\nssl_server_prefer_ciphers = client\n");
	/* 2.4 rejects every one of these (Unknown setting) */
	assert_lacks(t, "ssl_cert");
	assert_lacks(t, "ssl_key");
	assert_lacks(t, "ssl_dh");
	assert_lacks(t, "disable_plaintext_auth");
	assert_lacks(t, "ssl_prefer_server_ciphers");
	assert_lacks(t, "ssl_protocols");
	assert_lacks(t, "= <");
	assert_lacks(t, "%");
	fx_free(&f);
}

static void test_render_24_old_dh(void **state)
{
	struct fx f;
	const char *t;

	(void)state;
	fx_init(&f, "debian24", "2.4.1", "3.5.1");
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imaps", "old", NULL, NULL, NULL), 0);
	t = dropin_text(&f.plan, DROPIN_23);
	/* the packaged dh.pem is used when no --dh is given */
	assert_has(t, "\nssl_server_dh_file = /usr/share/dovecot/dh.pem\n");
	assert_has(t, "\nssl_min_protocol = TLSv1\n");
	assert_has(t, "\nssl_cipher_list = @SECLEVEL=0:");
	assert_has(t, "DHE-RSA-AES128-GCM-SHA256");
	assert_has(t, "\nssl_server_prefer_ciphers = server\n");
	/* no cert given: the current one stays */
	assert_lacks(t, "ssl_server_cert_file");
	assert_lacks(t, "ssl_dh ");
	fx_free(&f);

	fx_init(&f, "debian24", "2.4.1", "3.5.1");
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imaps", "old", NULL, NULL, "/etc/ssl/mail.pem"), 0);
	assert_has(dropin_text(&f.plan, DROPIN_23), "\nssl_server_dh_file = /etc/ssl/mail.pem\n");
	fx_free(&f);
}

static void test_render_23_dh(void **state)
{
	struct fx f;

	(void)state;
	/* debian23 has no /usr/share/dovecot/dh.pem */
	fx_init(&f, "debian23", "2.3.19.1", NULL);
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imap", "old", NULL, NULL, NULL), -1);
	assert_has(f.e.msg, "--dh FILE");
	assert_int_equal(f.plan.n_changes, 0);
	assert_int_equal(fx_plan(&f, "imap", "old", NULL, NULL, "/etc/ssl/dh.pem"), 0);
	assert_has(dropin_text(&f.plan, DROPIN_23), "\nssl_dh = </etc/ssl/dh.pem\n");
	assert_has(dropin_text(&f.plan, DROPIN_23), "\nssl_prefer_server_ciphers = yes\n");
	fx_free(&f);
}

static void test_render_22(void **state)
{
	struct fx f;
	const char *t;

	(void)state;
	fx_init(&f, "debian23", "2.2.36", NULL);
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imap", "old", "/etc/ssl/mail.pem", "/etc/ssl/mail.key",
				 NULL), 0);
	t = dropin_text(&f.plan, DROPIN_23);
	assert_has(t, "generation 2.2");
	assert_has(t, "\nssl_protocols = !SSLv2 !SSLv3\n");
	assert_has(t, "\nssl_dh_parameters_length = 2048\n");
	assert_has(t, "\nssl_options = no_compression\n");
	assert_has(t, "\nssl_prefer_server_ciphers = yes\n");
	assert_has(t, "\nssl_cert = </etc/ssl/mail.pem\n");
	assert_has(t, "\ndisable_plaintext_auth = yes\n");
	assert_lacks(t, "ssl_min_protocol");
	assert_lacks(t, "ssl_cipher_suites");
	assert_lacks(t, "ssl_curve_list");
	assert_lacks(t, "ssl_dh =");
	assert_lacks(t, "ssl_server_");
	assert_int_equal(fx_plan(&f, "imap", "intermediate", NULL, NULL, NULL), 0);
	t = dropin_text(&f.plan, DROPIN_23);
	assert_has(t, "\nssl_protocols = !SSLv2 !SSLv3 !TLSv1 !TLSv1.1\n");
	assert_lacks(t, "ssl_dh_parameters_length");
	/* TLS 1.3 only cannot be said to 2.2 */
	assert_int_equal(fx_plan(&f, "imap", "modern", NULL, NULL, NULL), -1);
	assert_has(f.e.msg, "2.3.15");
	fx_free(&f);
}

static void test_render_modern(void **state)
{
	struct fx f;
	const char *t;

	(void)state;
	fx_init(&f, "debian24", "2.4.1", "3.0.19");
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imaps", "modern", NULL, NULL, NULL), 0);
	t = dropin_text(&f.plan, DROPIN_23);
	assert_has(t, "\nssl_min_protocol = TLSv1.3\n");
	assert_has(t, "\nssl_cipher_suites = ");
	assert_lacks(t, "ssl_cipher_list");
	assert_lacks(t, "dh_file");
	/* OpenSSL 3.0 knows no ML-KEM hybrid */
	assert_has(t, "\nssl_curve_list = X25519:prime256v1:secp384r1\n");
	fx_free(&f);

	fx_init(&f, "debian23", "2.3.10", NULL);
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imaps", "modern", NULL, NULL, NULL), -1);
	assert_has(f.e.msg, "2.3.15");
	/* before 2.3.15 there is no ssl_cipher_suites */
	assert_int_equal(fx_plan(&f, "imaps", "intermediate", NULL, NULL, NULL), 0);
	assert_lacks(dropin_text(&f.plan, DROPIN_23), "ssl_cipher_suites");
	fx_free(&f);
}

static void test_roles_close_listeners(void **state)
{
	struct fx f;
	const char *t;

	(void)state;
	fx_init(&f, "debian24", "2.4.1", NULL);
	fx_detect(&f);
	/* IMAPS only: IMAP 143 closes, POP3 (no role) is left alone */
	assert_int_equal(fx_plan(&f, "imaps", "intermediate", NULL, NULL, NULL), 0);
	t = dropin_text(&f.plan, DROPIN_23);
	assert_has(t, "service imap-login {\n  inet_listener imap {\n    port = 0\n  }\n}\n");
	assert_lacks(t, "inet_listener imaps");
	assert_lacks(t, "pop3-login");
	assert_true(has_note(&f.plan, "imap listener", "143"));
	assert_true(has_setting(&f.plan, "service imap-login { inet_listener imap { port = 0 } }"));

	/* POP3 with STLS only: pop3s closes, IMAP left alone */
	assert_int_equal(fx_plan(&f, "pop3", "intermediate", NULL, NULL, NULL), 0);
	t = dropin_text(&f.plan, DROPIN_23);
	assert_has(t, "service pop3-login {\n  inet_listener pop3s {\n    port = 0\n  }\n}\n");
	assert_lacks(t, "imap-login");
	fx_free(&f);
}

static void test_roles_reopen_listener(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian23", "2.3.19.1", NULL);
	tu_write(f.root, "etc/dovecot/conf.d/20-imap.conf",
		 "service imap-login {\n  inet_listener imaps {\n    port = 0\n  }\n}\n");
	fx_detect(&f);
	assert_int_equal(f.si.roles_served, ROLE_IMAP);
	assert_int_equal(fx_plan(&f, "imap,imaps", "intermediate", NULL, NULL, NULL), 0);
	assert_has(dropin_text(&f.plan, DROPIN_23),
		   "  inet_listener imaps {\n    port = 993\n  }\n");
	assert_true(has_note(&f.plan, "imaps", "993"));
	fx_free(&f);
}

static void test_roles_errors(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian23", "2.3.19.1", NULL);
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imaps,pop3s", "intermediate", NULL, NULL, NULL), -1);
	assert_has(f.e.msg, "dovecot-pop3d");
	assert_int_equal(fx_plan(&f, "imaps,submission", "intermediate", NULL, NULL, NULL), -1);
	assert_string_equal(f.e.msg, "dovecot cannot serve role submission");
	assert_int_equal(fx_plan(&f, "mx", "intermediate", NULL, NULL, NULL), -1);
	assert_has(f.e.msg, "cannot serve role mx");
	assert_int_equal(f.plan.n_changes, 0);
	fx_free(&f);
}

static void test_include_appended(void **state)
{
	struct fx f;
	const struct file_change *c;
	const char *t;

	(void)state;
	/* no conf.d directory, commented include only */
	fx_init(&f, "plain", "2.3.19.1", NULL);
	fx_detect(&f);
	assert_int_equal(f.si.roles_served, ROLES_MDA);
	assert_int_equal(fx_plan(&f, "imaps,pop3s", "intermediate", NULL, NULL, NULL), 0);
	assert_int_equal(f.plan.n_changes, 2);
	t = dropin_text(&f.plan, "/etc/dovecot/99-mailharden-tls.conf");
	assert_has(t, "ssl = required");
	c = change_for(&f.plan, "/etc/dovecot/dovecot.conf");
	assert_non_null(c);
	assert_true(c->existed);
	/* the packaged file is kept and one include added at the end */
	assert_int_equal(strncmp(c->new_text, c->old_text, c->old_len), 0);
	assert_string_equal(c->new_text + c->old_len, "!include_try 99-mailharden-tls.conf\n");
	assert_true(has_note(&f.plan, "!include_try", NULL));
	fx_free(&f);

	/* conf.d exists but is not included */
	fx_init(&f, "plain", "2.3.19.1", NULL);
	tu_write(f.root, "etc/dovecot/conf.d/10-ssl.conf", "ssl = yes\n");
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imaps", "intermediate", NULL, NULL, NULL), 0);
	c = change_for(&f.plan, "/etc/dovecot/dovecot.conf");
	assert_non_null(c);
	assert_has(c->new_text, "\n!include_try conf.d/99-mailharden-tls.conf\n");
	assert_non_null(change_for(&f.plan, DROPIN_23));
	fx_free(&f);
}

static void test_idempotent(void **state)
{
	struct fx f;
	char *after;

	(void)state;
	fx_init(&f, "plain", "2.3.19.1", NULL);
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imap,imaps", "intermediate", "/etc/ssl/mail.pem",
				 "/etc/ssl/mail.key", NULL), 0);
	assert_false(plan_is_empty(&f.plan));
	fx_apply(&f);
	after = tu_read(f.root, "etc/dovecot/99-mailharden-tls.conf");
	assert_non_null(after);
	assert_has(after, "ssl_cert = </etc/ssl/mail.pem");
	free(after);

	fx_detect(&f);
	assert_int_equal(f.si.roles_served, ROLES_MDA);
	assert_int_equal(f.si.roles_tls, ROLES_MDA);
	assert_int_equal(fx_plan(&f, "imap,imaps", "intermediate", "/etc/ssl/mail.pem",
				 "/etc/ssl/mail.key", NULL), 0);
	assert_int_equal(f.plan.n_changes, 0);
	assert_true(plan_is_empty(&f.plan));
	/* the include line is not added twice */
	after = tu_read(f.root, "etc/dovecot/dovecot.conf");
	assert_has(after, "!include_try 99-mailharden-tls.conf");
	assert_null(strstr(strstr(after, "!include_try 99-") + 1, "!include_try 99-"));
	free(after);

	/* adding POP3S closes POP3 (110) in the drop-in: one change */
	assert_int_equal(fx_plan(&f, "imap,imaps,pop3s", "intermediate", "/etc/ssl/mail.pem",
				 "/etc/ssl/mail.key", NULL), 0);
	assert_int_equal(f.plan.n_changes, 1);
	fx_free(&f);
}

static void test_idempotent_debian(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian24", "2.4.1", "3.5.1");
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imaps,pop3s", "intermediate", NULL, NULL, NULL), 0);
	fx_apply(&f);
	fx_detect(&f);
	assert_int_equal(f.si.roles_served, ROLE_IMAPS | ROLE_POP3S);
	assert_int_equal(f.si.roles_tls, ROLE_IMAPS | ROLE_POP3S);
	assert_int_equal(fx_plan(&f, "imaps,pop3s", "intermediate", NULL, NULL, NULL), 0);
	assert_true(plan_is_empty(&f.plan));
	assert_int_equal(f.plan.n_changes, 0);
	fx_free(&f);
}

static void test_bad_paths_refused(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian23", "2.3.19.1", NULL);
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imaps", "intermediate", "/etc/ssl/a.pem\nssl = no",
				 "/etc/ssl/mail.key", NULL), -1);
	assert_has(f.e.msg, "control character");
	assert_int_equal(f.plan.n_changes, 0);
	assert_int_equal(fx_plan(&f, "imaps", "old", NULL, NULL, "/etc/ssl/dh.pem\n!include x"), -1);
	assert_int_equal(fx_plan(&f, "imaps", "intermediate", "/etc/ssl/mail.pem", NULL, NULL), -1);
	assert_int_equal(fx_plan(&f, "imaps", "intermediate", "mail.pem", "mail.key", NULL), -1);
	assert_has(f.e.msg, "absolute");
	assert_int_equal(f.plan.n_changes, 0);
	fx_free(&f);
}

static void test_override_notes(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian23", "2.3.19.1", NULL);
	tu_write(f.root, "etc/dovecot/local.conf", "# site\nssl_min_protocol = TLSv1\n");
	tu_write(f.root, "etc/dovecot/conf.d/99-zz-site.conf", "ssl = yes\n");
	/* read before ours: no note */
	tu_write(f.root, "etc/dovecot/conf.d/50-early.conf", "ssl_cipher_list = ALL\n");
	fx_detect(&f);
	assert_int_equal(fx_plan(&f, "imaps", "intermediate", NULL, NULL, NULL), 0);
	/* read after ours and weaker: conflicts, commented out under a marker */
	assert_true(has_conflict(&f.plan, "/etc/dovecot/local.conf:2", "ssl_min_protocol = TLSv1"));
	assert_true(has_conflict(&f.plan, "/etc/dovecot/conf.d/99-zz-site.conf:1", "ssl = yes"));
	assert_false(has_conflict(&f.plan, "50-early.conf", NULL));
	assert_null(change_of(&f.plan, "/etc/dovecot/conf.d/50-early.conf"));
	{
		const struct file_change *c = change_of(&f.plan, "/etc/dovecot/local.conf");

		assert_non_null(c);
		assert_string_equal(c->new_text,
				    "# site\n# mailharden: the next line is disabled: it is weaker than "
				    "profile intermediate (ssl_min_protocol = TLSv1.2, set in "
				    "/etc/dovecot/conf.d/99-mailharden-tls.conf)\n#ssl_min_protocol = TLSv1\n");
	}
	fx_free(&f);
}

/* validate without a doveconf binary: the backend's own checks */
static int validate_text(struct fx *f, const char *text)
{
	struct plan p = {0};
	int rc;

	p.server = &f->si;
	plan_add_change(&p, DROPIN_23, false, NULL, 0, text, strlen(text), 0644);
	rc = dovecot_backend.validate(&f->env, &f->si, &p, "/tmp/nonexistent-stage", &f->e);
	plan_free(&p);
	return rc;
}

static void test_validate_lints(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, "debian24", "2.4.1", "3.5.1");
	fx_detect(&f);
	assert_null(f.si.binary);
	assert_int_equal(fx_plan(&f, "imaps", "intermediate", "/etc/ssl/mail.pem",
				 "/etc/ssl/mail.key", NULL), 0);
	assert_int_equal(dovecot_backend.validate(&f.env, &f.si, &f.plan, "/etc/dovecot", &f.e), 0);

	assert_int_equal(validate_text(&f, "ssl_server_cert_file = </etc/ssl/mail.pem\n"), -1);
	assert_has(f.e.msg, "without '<'");
	assert_int_equal(validate_text(&f, "ssl_server_key_file = /etc/ssl/missing.key\n"), -1);
	assert_has(f.e.msg, "/etc/ssl/missing.key");
	assert_int_equal(validate_text(&f, "ssl_curve_list = X25519:nosuchcurve\n"), -1);
	assert_has(f.e.msg, "nosuchcurve");
	assert_int_equal(validate_text(&f, "ssl_curve_list = X25519MLKEM768:X25519\n"), 0);
	assert_int_equal(validate_text(&f, "ssl_min_protocol = TLSv9\n"), -1);
	assert_has(f.e.msg, "TLSv9");
	assert_int_equal(validate_text(&f, "ssl_cipher_list = NOSUCHCIPHER\n"), -1);
	assert_int_equal(validate_text(&f, "ssl_cipher_suites = TLS_NO_SUCH_SUITE\n"), -1);
	assert_int_equal(validate_text(&f, "mail_home = /home/%u\n"), -1);
	assert_has(f.e.msg, "%{user}");
	assert_int_equal(validate_text(&f, "mail_home = /home/%{user}\n"), 0);
	fx_free(&f);

	fx_init(&f, "debian23", "2.3.19.1", NULL);
	fx_detect(&f);
	assert_int_equal(validate_text(&f, "ssl_cert = </etc/ssl/mail.pem\n"), 0);
	assert_int_equal(validate_text(&f, "ssl_cert = /etc/ssl/mail.pem\n"), -1);
	assert_int_equal(validate_text(&f, "ssl_dh = </etc/ssl/nope.pem\n"), -1);
	assert_has(f.e.msg, "nope.pem");
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect_debian23),
		cmocka_unit_test(test_detect_24_marker_and_boollist),
		cmocka_unit_test(test_detect_listener_closed),
		cmocka_unit_test(test_detect_unknown_version),
		cmocka_unit_test(test_detect_unsupported_and_absent),
		cmocka_unit_test(test_render_23_intermediate),
		cmocka_unit_test(test_render_24_intermediate),
		cmocka_unit_test(test_render_24_old_dh),
		cmocka_unit_test(test_render_23_dh),
		cmocka_unit_test(test_render_22),
		cmocka_unit_test(test_render_modern),
		cmocka_unit_test(test_roles_close_listeners),
		cmocka_unit_test(test_roles_reopen_listener),
		cmocka_unit_test(test_roles_errors),
		cmocka_unit_test(test_include_appended),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_idempotent_debian),
		cmocka_unit_test(test_bad_paths_refused),
		cmocka_unit_test(test_override_notes),
		cmocka_unit_test(test_validate_lints),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
