/*
 * mailconn.c - bounded mail protocol connections.
 */
#include "mailconn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/err.h>

/* per thread: one port is tested by one thread */
static _Thread_local unsigned long n_connections;

unsigned long mconn_count(void)
{
	return n_connections;
}

const char *proto_name(enum mail_proto p)
{
	switch (p) {
	case PROTO_SMTP: return "smtp";
	case PROTO_IMAP: return "imap";
	case PROTO_POP3: return "pop3";
	}
	return "?";
}

int proto_parse(const char *s, enum mail_proto *p)
{
	if (strcmp(s, "smtp") == 0)
		*p = PROTO_SMTP;
	else if (strcmp(s, "imap") == 0)
		*p = PROTO_IMAP;
	else if (strcmp(s, "pop3") == 0)
		*p = PROTO_POP3;
	else
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- replies */

void reply_free(struct reply *r)
{
	sl_free(&r->lines);
	memset(r, 0, sizeof(*r));
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int feed_smtp(struct reply *r, const char *line, size_t len, struct error *e)
{
	int code;

	if (len < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return err_set(e, _("not an SMTP reply line"));
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->lines.n > 1 && code != r->code)
		return err_set(e, _("SMTP reply code changed inside a multi-line reply"));
	r->code = code;
	return len == 3 || line[3] == ' ';
}

/* "OK", "NO", "BAD" (IMAP) and "+OK", "-ERR" (POP3) as 1 / 0 / -1. */
static int status_word(const char *w, size_t n)
{
	if ((n == 2 && strncasecmp(w, "OK", 2) == 0) || (n == 3 && strncmp(w, "+OK", 3) == 0))
		return 1;
	if ((n == 2 && strncasecmp(w, "NO", 2) == 0) || (n == 4 && strncmp(w, "-ERR", 4) == 0))
		return 0;
	if (n == 3 && strncasecmp(w, "BAD", 3) == 0)
		return -1;
	if (n == 7 && strncasecmp(w, "PREAUTH", 7) == 0)
		return 1;
	if (n == 3 && strncasecmp(w, "BYE", 3) == 0)
		return 0;
	return -2;
}

static size_t word_len(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[n] != ' ')
		n++;
	return n;
}

static int feed_imap(struct reply *r, enum reply_mode mode, const char *tag,
		     const char *line, size_t len, struct error *e)
{
	size_t n = word_len(line, len);
	const char *w;
	int st;

	if (mode == RM_IMAP_GREETING) {
		if (n != 1 || line[0] != '*')
			return err_set(e, _("not an IMAP greeting"));
		w = line + 2;
		st = len > 2 ? status_word(w, word_len(w, len - 2)) : -2;
		if (st == -2)
			return err_set(e, _("not an IMAP greeting"));
		r->code = st;
		return 1;
	}
	if (n == 1 && (line[0] == '*' || line[0] == '+'))
		return 0; /* untagged data or a continuation: keep reading */
	if (tag == NULL || n != strlen(tag) || strncmp(line, tag, n) != 0)
		return err_set(e, _("IMAP reply with an unexpected tag"));
	w = line + n + (n < len);
	st = status_word(w, word_len(w, len - (size_t)(w - line)));
	if (st == -2)
		return err_set(e, _("IMAP tagged reply without OK, NO or BAD"));
	r->code = st;
	return 1;
}

static int feed_pop3(struct reply *r, enum reply_mode mode, const char *line,
		     size_t len, struct error *e)
{
	int st;

	if (r->lines.n == 1) {
		st = status_word(line, word_len(line, len));
		if (st != 1 && st != 0)
			return err_set(e, _("not a POP3 reply"));
		r->code = st;
		return mode == RM_POP3_LINE || st == 0;
	}
	return len == 1 && line[0] == '.';
}

int reply_feed(struct reply *r, enum reply_mode mode, const char *tag,
	       const char *line, size_t len, struct error *e)
{
	int rc;

	if (r->complete)
		return err_set(e, _("data after a complete reply"));
	if (len > REPLY_MAX_LINE)
		return err_set(e, _("reply line longer than %d bytes"), REPLY_MAX_LINE);
	if (r->lines.n >= REPLY_MAX_LINES || r->bytes + len > REPLY_MAX_BYTES)
		return err_set(e, _("reply longer than %d lines or %d bytes"),
			       REPLY_MAX_LINES, REPLY_MAX_BYTES);
	r->bytes += len + 2;
	sl_add_owned(&r->lines, xstrndup(line, len));
	switch (mode) {
	case RM_SMTP: rc = feed_smtp(r, line, len, e); break;
	case RM_IMAP_GREETING:
	case RM_IMAP_TAGGED: rc = feed_imap(r, mode, tag, line, len, e); break;
	default: rc = feed_pop3(r, mode, line, len, e); break;
	}
	if (rc == 1)
		r->complete = true;
	return rc;
}

char *reply_text(const struct reply *r)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < r->lines.n && sb.len < 300; i++) {
		if (i > 0)
			sb_adds(&sb, " | ");
		for (const char *p = r->lines.v[i]; *p && sb.len < 300; p++)
			sb_addc(&sb, (*p >= 0x20 && *p < 0x7f) ? *p : '?');
	}
	return sb_detach(&sb);
}

/* ---------------------------------------------------------------- sockets */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = {fd, events, 0};
	int rc;

	for (;;) {
		long long left = deadline - now_ms();

		if (left <= 0)
			return 0;
		rc = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
		if (rc < 0 && errno == EINTR)
			continue;
		return rc;
	}
}

static int bind_source(int fd, const char *source, int family, struct error *e)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;

	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		if (inet_pton(AF_INET, source, &in->sin_addr) != 1)
			return err_set(e, _("source address '%s' is not an IPv4 address"), source);
		sl = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, source, &in6->sin6_addr) != 1)
			return err_set(e, _("source address '%s' is not an IPv6 address"), source);
		sl = sizeof(*in6);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0)
		return err_sys(e, _("cannot bind to %s"), source);
	return 0;
}

static int connect_one(const struct addrinfo *ai, const struct target *t,
		       long long deadline, struct error *e)
{
	int fd, err = 0, one = 1;
	socklen_t el = sizeof(err);

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return err_sys(e, _("socket"));
	if (t->source && bind_source(fd, t->source, ai->ai_family, e) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		err_sys(e, _("cannot connect to %s port %d"), t->host, t->port);
		close(fd);
		return -1;
	}
	if (wait_fd(fd, POLLOUT, deadline) <= 0) {
		close(fd);
		errno = ETIMEDOUT;
		return err_set(e, _("no connection to %s port %d within %d ms"),
			       t->host, t->port, t->timeout_ms);
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
	if (err != 0) {
		errno = err;
		err_sys(e, _("cannot connect to %s port %d"), t->host, t->port);
		close(fd);
		return -1;
	}
	return fd;
}

int mconn_open(struct mconn *c, const struct target *t, struct error *e)
{
	struct addrinfo hints = {0}, *res = NULL;
	char port[16];
	int rc, fd = -1;
	long long deadline = now_ms() + t->timeout_ms;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = t->timeout_ms;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_family = t->source ? (strchr(t->source, ':') ? AF_INET6 : AF_INET) : AF_UNSPEC;
	snprintf(port, sizeof(port), "%d", t->port);
	rc = getaddrinfo(t->host, port, &hints, &res);
	if (rc != 0)
		return err_set(e, _("cannot resolve %s: %s"), t->host, gai_strerror(rc));
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		errno = 0;
		fd = connect_one(ai, t, deadline, e);
		c->timed_out |= fd < 0 && errno == ETIMEDOUT;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -1;
	n_connections++;
	c->fd = fd;
	return 0;
}

void mconn_close(struct mconn *c)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int ssl_wait(struct mconn *c, int rc, long long deadline, struct error *e)
{
	int err = SSL_get_error(c->ssl, rc);

	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		if (wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) <= 0) {
			c->timed_out = true;
			return err_set(e, _("timed out after %d ms"), c->timeout_ms);
		}
		return 0;
	}
	if (err == SSL_ERROR_ZERO_RETURN)
		return 1;
	return err_set(e, _("TLS error"));
}

int mconn_send(struct mconn *c, const void *data, size_t n, struct error *e)
{
	long long deadline = now_ms() + c->timeout_ms;
	const char *p = data;

	while (n > 0) {
		ssize_t w;

		if (c->ssl) {
			int rc = SSL_write(c->ssl, p, (int)n);

			if (rc <= 0) {
				if (ssl_wait(c, rc, deadline, e) != 0)
					return -1;
				continue;
			}
			w = rc;
		} else {
			w = send(c->fd, p, n, MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
				if (wait_fd(c->fd, POLLOUT, deadline) <= 0) {
					c->timed_out = true;
					return err_set(e, _("timed out sending after %d ms"), c->timeout_ms);
				}
				continue;
			}
			if (w < 0)
				return err_sys(e, _("send"));
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int mconn_sendline(struct mconn *c, const char *line, struct error *e)
{
	char *s = xasprintf("%s\r\n", line);
	int rc = mconn_send(c, s, strlen(s), e);

	free(s);
	return rc;
}

/* Reads more bytes into c->buf.  1 = got some, 0 = EOF, -1 = error/timeout. */
static int fill(struct mconn *c, long long deadline, struct error *e)
{
	if (c->len >= sizeof(c->buf))
		return err_set(e, _("server sent more than %zu bytes without a line end"), sizeof(c->buf));
	for (;;) {
		ssize_t n;

		if (c->ssl) {
			int rc = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len));

			if (rc > 0) {
				c->len += (size_t)rc;
				return 1;
			}
			rc = ssl_wait(c, rc, deadline, e);
			if (rc < 0)
				return -1;
			if (rc == 1) {
				c->eof = true;
				return 0;
			}
			continue;
		}
		n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			return 1;
		}
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		if (errno != EAGAIN && errno != EINTR)
			return err_sys(e, _("receive"));
		if (wait_fd(c->fd, POLLIN, deadline) <= 0) {
			c->timed_out = true;
			return err_set(e, _("no complete reply within %d ms"), c->timeout_ms);
		}
	}
}

int mconn_reply(struct mconn *c, enum reply_mode mode, const char *tag,
		struct reply *r, struct error *e)
{
	long long deadline = now_ms() + c->timeout_ms;

	memset(r, 0, sizeof(*r));
	while (!r->complete) {
		char *nl = memchr(c->buf, '\n', c->len);
		size_t n, used;
		int rc;

		if (nl == NULL) {
			if (c->len > REPLY_MAX_LINE)
				return err_set(e, _("reply line longer than %d bytes"), REPLY_MAX_LINE);
			rc = fill(c, deadline, e);
			if (rc < 0)
				return -1;
			if (rc == 0)
				return err_set(e, r->lines.n || c->len ? _("connection closed in the middle of a reply")
								       : _("connection closed by the server"));
			continue;
		}
		used = (size_t)(nl - c->buf) + 1;
		n = used - 1;
		if (n > 0 && c->buf[n - 1] == '\r')
			n--;
		rc = reply_feed(r, mode, tag, c->buf, n, e);
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		if (rc < 0)
			return -1;
	}
	return 0;
}

int mconn_line(struct mconn *c, char *out, size_t cap, struct error *e)
{
	long long deadline = now_ms() + c->timeout_ms;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		size_t n, used;
		int rc;

		if (nl == NULL) {
			rc = fill(c, deadline, e);
			if (rc < 0)
				return -1;
			if (rc == 0)
				return err_set(e, _("connection closed by the server"));
			continue;
		}
		used = (size_t)(nl - c->buf) + 1;
		n = used - 1;
		if (n > 0 && c->buf[n - 1] == '\r')
			n--;
		if (n >= cap)
			n = cap - 1;
		memcpy(out, c->buf, n);
		out[n] = '\0';
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		return 0;
	}
}

ssize_t mconn_read_raw(struct mconn *c, void *out, size_t cap, int timeout_ms, struct error *e)
{
	long long deadline = now_ms() + timeout_ms;

	if (c->len > 0) {
		size_t n = c->len < cap ? c->len : cap;

		memcpy(out, c->buf, n);
		memmove(c->buf, c->buf + n, c->len - n);
		c->len -= n;
		return (ssize_t)n;
	}
	for (;;) {
		ssize_t n = recv(c->fd, out, cap, 0);

		if (n >= 0)
			return n;
		if (errno == ECONNRESET)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return err_sys(e, _("receive"));
		if (wait_fd(c->fd, POLLIN, deadline) <= 0) {
			c->timed_out = true;
			return err_set(e, _("no answer within %d ms"), timeout_ms);
		}
	}
}

int mconn_tls(struct mconn *c, SSL_CTX *ctx, const char *servername, struct error *e)
{
	return mconn_tls_opts(c, ctx, servername, NULL, e);
}

void mconn_tls_shutdown(struct mconn *c)
{
	if (c->ssl && SSL_shutdown(c->ssl) < 0)
		ERR_clear_error();
}

static int tls_apply(SSL *ssl, const struct tls_opts *o)
{
	if (o == NULL)
		return 0;
	if ((o->sigalgs && SSL_set1_sigalgs_list(ssl, o->sigalgs) != 1) ||
	    (o->ciphers && SSL_set_cipher_list(ssl, o->ciphers) != 1) ||
	    (o->session && SSL_set_session(ssl, o->session) != 1) ||
	    (o->max_version && SSL_set_max_proto_version(ssl, o->max_version) != 1)) {
		ERR_clear_error();
		return -1;
	}
	if (o->no_ticket)
		SSL_set_options(ssl, SSL_OP_NO_TICKET);
	return 0;
}

int mconn_tls_opts(struct mconn *c, SSL_CTX *ctx, const char *servername, const struct tls_opts *o,
		   struct error *e)
{
	long long deadline = now_ms() + c->timeout_ms;

	c->ssl = SSL_new(ctx);
	if (c->ssl == NULL)
		return err_set(e, _("cannot create a TLS connection"));
	if (tls_apply(c->ssl, o) < 0)
		return err_set(e, _("cannot create a TLS connection"));
	SSL_set_fd(c->ssl, c->fd);
	if (servername && *servername)
		SSL_set_tlsext_host_name(c->ssl, servername);
	for (;;) {
		int rc = SSL_connect(c->ssl);
		int err;

		if (rc == 1)
			return 0;
		err = SSL_get_error(c->ssl, rc);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			if (wait_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline) <= 0) {
				c->timed_out = true;
				return err_set(e, _("TLS handshake timed out after %d ms"), c->timeout_ms);
			}
			continue;
		}
		{
			unsigned long ec = ERR_get_error();
			char buf[256] = "";

			if (ec)
				ERR_error_string_n(ec, buf, sizeof(buf));
			ERR_clear_error();
			return err_set(e, _("TLS handshake failed: %s"),
				       *buf ? buf : _("connection closed"));
		}
	}
}

bool mconn_wait_data(struct mconn *c, int ms)
{
	long long deadline = now_ms() + ms;
	struct error e;

	if (c->len > 0)
		return true;
	if (c->ssl == NULL)
		return wait_fd(c->fd, POLLIN, deadline) > 0;
	/* a TLS 1.3 session ticket is readable on the socket but is no data */
	while (now_ms() < deadline) {
		int rc = SSL_read(c->ssl, c->buf, (int)sizeof(c->buf));

		if (rc > 0) {
			c->len = (size_t)rc;
			return true;
		}
		if (ssl_wait(c, rc, deadline, &e) != 0)
			return false;
	}
	return false;
}
