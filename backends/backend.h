/*
 * backend.h - the contract between the wizard and one mail server.
 *
 * Data flows one way:  detect -> answers -> plan -> apply -> test.
 *
 *   detect    finds the server under env->root: binary, version, config
 *             layout, the roles its current config serves.  Never fails
 *             hard: a server that is absent or unusable has found=false or
 *             usable=false and a reason in `why`.
 *   plan      renders the hardened config from templates and the answers
 *             into whole-file contents (struct plan).  Writes nothing.
 *   validate  runs the server's own checker on a staged copy of the config
 *             directory with the plan applied, plus the backend's own value
 *             checks for what the checker skips.
 *   reload    makes the running server pick up the new files and confirms
 *             it is still running.  Never called in lab mode (--root).
 *
 * Writing, backups, checkpoints and rollback are the engine's job
 * (engine_apply below, core/txn.h): a backend never writes a file and never
 * draws UI.  Everything a backend says to the user goes into struct error or
 * plan notes, already translated.
 *
 * A new server is one new file that defines one `const struct backend` and
 * is listed in backends/registry.c.
 */
#ifndef MH_BACKEND_H
#define MH_BACKEND_H

#include <stdbool.h>
#include <sys/types.h>

#include "../core/common.h"
#include "../core/env.h"
#include "../core/profile.h"

enum layout {
	LAYOUT_UNKNOWN,
	LAYOUT_DEBIAN,  /* Debian, Ubuntu: /etc/postfix, /etc/dovecot/conf.d */
	LAYOUT_RHEL,    /* RHEL, Fedora, Alma, Rocky */
	LAYOUT_FREEBSD, /* /usr/local/etc/... */
};
const char *layout_name(enum layout l);

/* How mail clients authenticate on submission (587/465).  The MTA hands
 * AUTH to one of these; without one, submission cannot log anybody in. */
enum sasl_kind {
	SASL_UNSET,    /* not asked: no submission role, or keep what is there */
	SASL_DOVECOT,  /* Dovecot's auth socket (Postfix smtpd_sasl_type = dovecot, Exim's dovecot driver) */
	SASL_CYRUS,    /* Cyrus SASL / saslauthd */
	SASL_NONE,     /* none: submission is configured but cannot authenticate */
	SASL_PASSWD,   /* the MTA's own password file (Exim: /etc/exim4/passwd) */
};
const char *sasl_kind_name(enum sasl_kind k);         /* "dovecot" */
int sasl_kind_parse(const char *s, enum sasl_kind *k); /* -1 on an unknown word */

struct backend;

struct server_info {
	const struct backend *backend;
	bool found;            /* config or binary present */
	bool usable;           /* found, version known and supported */
	char *why;             /* when !found or !usable: a translated reason */
	char *binary;          /* server path of the main tool (postconf, doveconf) */
	bool binary_in_root;   /* binary lives under env->root (else the host's) */
	char *version;         /* "3.7.11" */
	char *version_source;  /* N_()-style word: "binary", "host binary", "--server-version" */
	char *openssl_version; /* OpenSSL the server links against, if known */
	enum layout layout;
	char *config_dir;      /* server path, "/etc/postfix" */
	char *config_file;     /* server path of the main file */
	unsigned roles_served; /* roles the current config already serves */
	unsigned roles_tls;    /* of those, the ones already requiring TLS */
	/* The certificate and key the current config uses (server paths;
	 * NULL: none set, or unknown), so "keep" can name and inspect them. */
	char *cert_file;
	char *key_file;
	/* An MTA: what its AUTH uses now (SASL_UNSET: not set up), and where
	 * Dovecot's auth socket must be for it and who owns it (NULL: this
	 * server takes no AUTH from Dovecot's socket). */
	enum sasl_kind sasl_now;
	char *sasl_socket;
	char *sasl_socket_owner;
	/* The server's own checker refuses its configuration (postconf,
	 * doveconf -n): why has its first error line and, where known, the
	 * version change that explains it.  usable may stay true: an apply
	 * can repair what an upgrade broke (Dovecot 2.3 settings under 2.4). */
	bool refused;
	char *tls_library;     /* when not the system's OpenSSL: "GnuTLS" (Debian's Exim) */
	char *config_scheme;   /* backend's word for how the config is built: "split" */
	bool loopback_only;    /* listens on 127.0.0.1 / ::1 only: the mx role gets no mail */
};

void server_info_free(struct server_info *si);

struct answers {
	unsigned roles;                 /* enum role bits */
	const struct profile *profile;
	const char *cert_file;          /* server paths; NULL = keep current */
	const char *key_file;
	const char *dh_file;            /* NULL = none / named groups; a server path, or an
					   RFC 7919 name ("ffdhe3072") for servers that take one */
	enum sasl_kind sasl;            /* for submission roles */
	/* Dovecot: also serve an MTA's AUTH on this unix socket (server path,
	 * from that MTA's server_info.sasl_socket), owned by
	 * auth_socket_owner (user and group); NULL: no such listener. */
	const char *auth_socket;
	const char *auth_socket_owner;
};

/*
 * Effective values.  A checker that accepts a file proves nothing about
 * what the server will do: a later include, a protocol filter, a master.cf
 * "-o" or a duplicate key can win over what mailharden wrote.  So every
 * plan also lists what it expects the server to end up with, setting by
 * setting and scope by scope, and the engine asks the server's own tool
 * (postconf -h / -P, doveconf -h -f, exim -bP, cyr_info conf-all) for the
 * value that really takes effect: on the staged copy before anything is
 * written, and on the real files after.  Nothing is called hardened while
 * an expectation does not hold.
 */
enum expect_state {
	EXPECT_UNKNOWN,  /* not asked yet, or the tool could not answer: "could not verify" */
	EXPECT_HOLDS,    /* effective value is the intended one, or stronger */
	EXPECT_WEAKER,   /* effective value is weaker than intended: never success */
};

/* How a got value is judged against want (expect_judge below).  A backend
 * may also judge by itself and only call expect_set. */
enum expect_cmp {
	EXPECT_CMP_EXACT,     /* equal, whitespace runs folded (paths, yes/no, enums) */
	EXPECT_CMP_PROTOCOLS, /* protocol lists or minimums (">=TLSv1.2", "!SSLv2, !SSLv3",
			       * "TLSv1.2", "ANY"): got may enable no version want does not */
	EXPECT_CMP_CIPHERS,   /* OpenSSL cipher lists: got may allow no suite want does not */
	EXPECT_CMP_SUBSET,    /* lists (":", "," or " "): every item of got is in want (curves, TLS 1.3 suites) */
	EXPECT_CMP_CONTAINS,  /* lists: every item of want is in got (exclusions, option flags) */
	EXPECT_CMP_RANK,      /* ordered words (scale, weakest first: "none,may,encrypt"):
			       * got must rank at or above want */
};

struct expectation {
	char *scope;        /* backend's key: "" global, "master.cf:submission/inet", "protocol=imap" */
	char *scope_label;  /* translated, for people: "master.cf service submission" */
	char *name;         /* setting name as the server spells it */
	char *want;         /* the value the plan intends */
	unsigned roles;     /* roles that depend on it */
	enum expect_cmp cmp; /* how got is judged (default: exact) */
	char *scale;        /* EXPECT_CMP_RANK: the words, weakest first, comma separated */
	/* filled by backend->effective(): */
	char *got;          /* the effective value; NULL when it could not be asked */
	char *origin;       /* "/etc/dovecot/local.conf:12" that set got; NULL = default/unknown */
	enum expect_state state;
};

struct expect_list {
	struct expectation *items;
	size_t n;
};

/* Adds one expectation (strings copied; scope_label may be NULL = scope). */
struct expectation *expect_add(struct expect_list *l, const char *scope,
			       const char *scope_label, const char *name,
			       const char *want, unsigned roles);
/* Sets got/origin/state of x (strings copied, NULL allowed). */
void expect_set(struct expectation *x, const char *got, const char *origin,
		enum expect_state state);
void expect_list_free(struct expect_list *l);
/* Sets how x is judged; scale only for EXPECT_CMP_RANK (copied). */
void expect_set_cmp(struct expectation *x, enum expect_cmp cmp, const char *scale);
/* Judges got (NULL: could not ask) against x->want by x->cmp. */
enum expect_state expect_judge(const struct expectation *x, const char *got);
/* Deep copy of src appended to dst. */
void expect_list_copy(struct expect_list *dst, const struct expect_list *src);
size_t expect_count(const struct expect_list *l, enum expect_state state);
/* One translated line for a weaker or unknown expectation:
 * "protocol imap: ssl_min_protocol is TLSv1 (/etc/dovecot/conf.d/20-imap.conf:100), intended TLSv1.2" */
char *expect_describe(const struct expectation *x);

/* One file the plan changes, as whole contents before and after. */
struct file_change {
	char *path;      /* server path */
	bool existed;    /* old_text is the current content */
	char *old_text;
	size_t old_len;
	char *new_text;
	size_t new_len;
	mode_t mode;     /* for a new file; an existing file keeps its mode */
};

struct plan {
	const struct server_info *server;
	struct file_change *changes;
	size_t n_changes;
	struct strlist notes;    /* translated remarks shown with the diff */
	struct strlist settings; /* "name = value" lines this plan sets, for Explain */
	struct expect_list expect; /* what the server must end up with (above) */
	/* Lines of the admin's files that would have overridden the plan and
	 * that the plan therefore changes, translated, "FILE:LINE: ...";
	 * shown before anything else. */
	struct strlist conflicts;
	/* The answers the plan was made from, as JSON (plan_record_answers);
	 * engine_apply keeps it in the checkpoint, so `verify` can plan the
	 * same again later.  NULL: not recorded. */
	char *intent;
};

/* Records a in p->intent (callers do this right after backend->plan). */
void plan_record_answers(struct plan *p, const struct answers *a);

/* What an apply intended, read back from its checkpoint. */
struct intent {
	char *checkpoint;  /* its id */
	char *created;     /* ISO 8601 UTC */
	unsigned roles;
	char *profile;     /* name */
	char *cert_file, *key_file, *dh_file; /* NULL: kept / none */
	enum sasl_kind sasl;
};
/* The intent of the newest committed, not rolled back checkpoint that
 * applied server ("postfix").  Returns 1 found, 0 none, -1 error. */
int intent_last(const struct env *env, const char *server, struct intent *in, struct error *e);
/* in as answers (pointers into in; profile NULL when unknown). */
void intent_answers(const struct intent *in, struct answers *a);
void intent_free(struct intent *in);

void plan_add_change(struct plan *p, const char *path, bool existed,
		     const char *old_text, size_t old_len,
		     const char *new_text, size_t new_len, mode_t mode);
void plan_free(struct plan *p);
/* True when no change differs from the current content. */
bool plan_is_empty(const struct plan *p);
/* Unified diff of every change, labelled with server paths. */
char *plan_diff(const struct plan *p);

struct backend {
	const char *name;         /* "postfix" */
	const char *display_name; /* "Postfix" */
	unsigned roles_possible;  /* enum role bits this server can serve */
	/* A role the config serves but the answers leave out: true, the plan
	 * closes it (Dovecot's listeners); false, it is left as it is. */
	bool closes_unchosen;

	int (*detect)(const struct env *env, struct server_info *si);
	int (*plan)(const struct env *env, const struct server_info *si,
		    const struct answers *a, struct plan *p, struct error *e);
	/* stage_dir is a server path holding a copy of si->config_dir with
	 * the plan applied; the checker must read the config from there. */
	int (*validate)(const struct env *env, const struct server_info *si,
			const struct plan *p, const char *stage_dir, struct error *e);
	int (*reload)(const struct env *env, const struct server_info *si,
		      struct error *e);
	/* Asks the server's own tool for the effective value of every
	 * expectation in x, reading the configuration in config_dir (a stage
	 * directory before writing, si->config_dir after), and fills got,
	 * origin (file:line as the admin knows it, never a stage path) and
	 * state.  Returns -1 only when the tool cannot be run at all (the
	 * server refuses its config: e has its first error line). */
	int (*effective)(const struct env *env, const struct server_info *si,
			 const char *config_dir, struct expect_list *x, struct error *e);
};

/* NULL-terminated list of all backends. */
const struct backend *const *backend_list(void);
const struct backend *backend_by_name(const char *name);

/*
 * Runs one of the server's tools.  argv[0] is a server path.  When the tool
 * lives under env->root and we are root, it runs chrooted there, so a
 * Debian 13 tree works on a Debian 12 host; otherwise the host path is used.
 * Paths in the other arguments must be spelled with server_tool_path().
 */
struct spawn_result;
int server_exec(const struct env *env, const struct server_info *si,
		const char *const argv[], struct spawn_result *res, struct error *e);
/* The same with text on the tool's standard input (NULL: /dev/null). */
int server_exec_input(const struct env *env, const struct server_info *si,
		      const char *const argv[], const char *input,
		      struct spawn_result *res, struct error *e);
/* How a path argument must be spelled for server_exec(): the server path
 * when the tool runs chrooted, else the host path.  New string. */
char *server_tool_path(const struct env *env, const struct server_info *si,
		       const char *server_path);
/* True when si's tool sees the files as the server does: on the live
 * system, or chrooted into env->root.  Run from the host on a tree of
 * unpacked packages, absolute paths (includes, symlinks) would lead to the
 * host's files, so what it says about effective values cannot be trusted. */
bool server_sees_root(const struct env *env, const struct server_info *si);
/* Locates a tool: under root if present there, else on the host. Sets
 * si->binary and si->binary_in_root; returns false if neither exists. */
bool server_find_binary(const struct env *env, struct server_info *si,
			const char *const candidates[]);

/* The OpenSSL version the server under env->root links against ("3.0.19"),
 * read from its libcrypto; env_override "openssl" wins.  NULL if unknown. */
char *server_openssl_version(const struct env *env);

/* Checks done for every backend before its own validate: certificate and
 * key readable and matching, DH file parseable, profile ciphers compile. */
int answers_check(const struct env *env, const struct answers *a, struct error *e);
/* True for the RFC 7919 group names ("ffdhe2048" ...), which --dh may give
 * instead of a file for servers that know them by name (Exim). */
bool dh_group_name_valid(const char *name);

struct apply_opts {
	bool reload;           /* false with --no-reload or in lab mode */
	const char *description; /* for the checkpoint: "mx,submission intermediate" */
	/* Progress for a gauge: percent 0..100 and a translated step name. */
	void (*progress)(void *ctx, int percent, const char *step);
	void *progress_ctx;
};

struct apply_result {
	char *checkpoint_id;   /* set once the checkpoint is committed */
	bool rolled_back;      /* a failure after writing was undone */
	struct strlist written; /* server paths written */
	struct strlist notes;   /* translated remarks, e.g. a recovered checkpoint */
	/* The plan's expectations as the server's own tool answered them:
	 * after writing, or on the staged copy when that stopped the apply. */
	struct expect_list expect;
};

/*
 * Validate a staged copy, checkpoint, write atomically, reload and confirm.
 * Any failure after the first write restores every file and says so in e
 * (rolled_back = true).  Holds the single-instance lock throughout.
 */
/*
 * Takes the lock and rolls back a half-finished checkpoint left by a crash
 * (power loss, kill -9), so that a plan is made from the files as they were.
 * Call it before planning an apply.  *report gets one line per restored
 * file.  Returns the number of checkpoints recovered, -1 on error.
 */
int engine_recover(const struct env *env, struct strlist *report, struct error *e);

/* A file outside every server's config dir that one apply writes along
 * with the plans (DH parameters, a lab certificate). */
struct extra_file {
	const char *path;  /* server path; missing directories are created */
	const char *data;
	size_t len;
	mode_t mode;
};

/* One run, one checkpoint: several servers' plans and extra files. */
struct apply_set {
	const struct plan *const *plans;
	size_t n_plans;
	const struct extra_file *files;
	size_t n_files;
};

/*
 * Applies a set as one transaction: one checkpoint holds every file, one
 * rollback undoes the run.  Validates every plan, writes the extra files
 * and every plan's files, reloads each server (in plan order), commits.
 * A failure anywhere restores everything and reloads the servers already
 * reloaded.  engine_apply is the one-plan case.
 */
int engine_apply_set(const struct env *env, const struct apply_set *s,
		     const struct apply_opts *o, struct apply_result *r, struct error *e);

/* Before writing, engine_apply also checks under the lock that every file
 * is still what the plan was made from; a file edited in between stops it
 * with nothing written.  It asks backend->effective on the staged copy and
 * refuses, nothing written, when an expectation of the plan would not hold
 * (r->expect says which); after writing it asks again on the real files and
 * rolls back if one does not hold. */
int engine_apply(const struct env *env, const struct plan *p,
		 const struct apply_opts *o, struct apply_result *r, struct error *e);
void apply_result_free(struct apply_result *r);

/*
 * Would every server load what rolling back checkpoint id (NULL: the
 * newest not rolled back) restores?  Stages the restored files and runs
 * each server's validate: after an upgrade (Dovecot 2.3 -> 2.4) the old
 * files may be ones the installed version refuses.  -1 with e naming the
 * server, its version and the checker's words.
 */
int engine_check_restore(const struct env *env, const char *id, struct error *e);

/*
 * Asks the server's own tool for the effective values of x on the live
 * configuration (si->config_dir); with no effective op every expectation
 * stays "could not verify".  Returns -1 when the server refuses its
 * configuration (e has the first error line).
 */
int engine_verify(const struct env *env, const struct server_info *si,
		  struct expect_list *x, struct error *e);

#endif
