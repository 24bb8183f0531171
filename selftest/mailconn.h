/*
 * mailconn.h - one bounded connection to a mail port: connect with a
 * timeout, complete multi-line replies, STARTTLS, and TLS on top.
 *
 * Every read has a deadline, every line and reply a size limit, so a
 * hostile or broken server (tarpit, 1 MB line, never-ending reply) costs
 * at most the timeout and never memory.  A reply is always read completely
 * before the next command is sent: Postfix postscreen punishes clients
 * that talk before the greeting is finished.
 */
#ifndef MH_MAILCONN_H
#define MH_MAILCONN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "../core/common.h"

enum mail_proto { PROTO_SMTP, PROTO_IMAP, PROTO_POP3 };

const char *proto_name(enum mail_proto p);
int proto_parse(const char *s, enum mail_proto *p);

#define REPLY_MAX_LINE 8192   /* longer lines are an error */
#define REPLY_MAX_LINES 256
#define REPLY_MAX_BYTES 65536

/* One complete server reply. */
struct reply {
	int code;          /* SMTP: 3-digit code; IMAP/POP3: 1 = OK/+OK, 0 = NO/-ERR, -1 = BAD */
	struct strlist lines; /* every line, without CRLF */
	size_t bytes;
	bool complete;
};

enum reply_mode {
	RM_SMTP,          /* 250-... 250 ... */
	RM_IMAP_GREETING, /* one "* OK/PREAUTH/BYE" line */
	RM_IMAP_TAGGED,   /* untagged lines until "TAG OK|NO|BAD" */
	RM_POP3_LINE,     /* one "+OK" / "-ERR" line */
	RM_POP3_MULTI,    /* "+OK" then lines until "." (or one "-ERR") */
};

/*
 * Feeds one line (no CRLF) into r.  Returns 1 when the reply is complete,
 * 0 when more lines are needed, -1 (with e set) when the line cannot
 * belong to such a reply or a limit is exceeded.  Pure: fuzzed.
 */
int reply_feed(struct reply *r, enum reply_mode mode, const char *tag,
	       const char *line, size_t len, struct error *e);
void reply_free(struct reply *r);
/* The reply as one line of text for messages (new string, control chars escaped). */
char *reply_text(const struct reply *r);

struct target {
	char *host;          /* name or address as given */
	int port;
	enum mail_proto proto;
	bool implicit_tls;
	const char *source;  /* local address to bind, or NULL */
	const char *servername; /* SNI and the name the certificate must carry */
	int timeout_ms;
};

struct mconn {
	int fd;
	SSL *ssl;
	int timeout_ms;
	char buf[16384];     /* received, not yet consumed */
	size_t len;
	bool eof;
	bool timed_out;   /* a connect, read, write or handshake hit its deadline */
	bool refused;     /* the server answered STARTTLS/STLS negatively */
};

/* TCP connections this thread made, for the report. */
unsigned long mconn_count(void);

int mconn_open(struct mconn *c, const struct target *t, struct error *e);
void mconn_close(struct mconn *c);
int mconn_send(struct mconn *c, const void *data, size_t n, struct error *e);
int mconn_sendline(struct mconn *c, const char *line, struct error *e);
/* Reads one complete reply in the given mode. */
int mconn_reply(struct mconn *c, enum reply_mode mode, const char *tag,
		struct reply *r, struct error *e);
/* One line of any protocol, without CRLF, cut to cap - 1 bytes; -1 on
 * error, timeout or close (e says which). */
int mconn_line(struct mconn *c, char *out, size_t cap, struct error *e);
/* Raw bytes (TLS probes): waits for more data; returns bytes read, 0 on EOF, -1 on error/timeout. */
ssize_t mconn_read_raw(struct mconn *c, void *out, size_t cap, int timeout_ms, struct error *e);
/* TLS handshake on the connection with ctx (SNI from servername). */
int mconn_tls(struct mconn *c, SSL_CTX *ctx, const char *servername, struct error *e);

/* What one handshake offers beyond ctx's defaults (NULL / 0 = the default). */
struct tls_opts {
	const char *sigalgs;       /* "ECDSA+SHA256:..." (OpenSSL list syntax) */
	const char *ciphers;       /* TLS <= 1.2 cipher list */
	SSL_SESSION *session;      /* resume this session */
	int max_version;           /* TLS1_2_VERSION ... */
	bool no_ticket;            /* ask for no session ticket */
};
int mconn_tls_opts(struct mconn *c, SSL_CTX *ctx, const char *servername, const struct tls_opts *o,
		   struct error *e);
/* Sends close_notify (best effort), so the server keeps the session. */
void mconn_tls_shutdown(struct mconn *c);
/* True when data arrives within ms (plaintext buffer or TLS). */
bool mconn_wait_data(struct mconn *c, int ms);

#endif
