/*
 * hello.c - raw ClientHello builder and ServerHello / alert parser.
 */
#include "hello.h"

#include <string.h>

#include <openssl/rand.h>

#include "suites.h"

const char *tls_version_name(uint16_t v)
{
	switch (v) {
	case V_SSL2: return "SSLv2";
	case V_SSL3: return "SSLv3";
	case V_TLS10: return "TLSv1.0";
	case V_TLS11: return "TLSv1.1";
	case V_TLS12: return "TLSv1.2";
	case V_TLS13: return "TLSv1.3";
	default: return "?";
	}
}

struct group {
	uint16_t code;
	const char *name;
	int bits;
};

static const struct group groups[] = {
	{0x001d, "x25519", 253}, {0x0017, "secp256r1", 256}, {0x0018, "secp384r1", 384},
	{0x0019, "secp521r1", 521}, {0x001e, "x448", 448},
	{0x001a, "brainpoolP256r1", 256}, {0x001b, "brainpoolP384r1", 384},
	{0x001c, "brainpoolP512r1", 512}, {0x001f, "brainpoolP256r1tls13", 256},
	{0x0020, "brainpoolP384r1tls13", 384}, {0x0021, "brainpoolP512r1tls13", 512},
	{0x0016, "secp256k1", 256}, {0x0015, "secp224r1", 224}, {0x0014, "secp224k1", 224},
	{0x0013, "secp192r1", 192}, {0x0012, "secp192k1", 192}, {0x0011, "secp160r2", 160},
	{0x0010, "secp160r1", 160}, {0x000f, "secp160k1", 160}, {0x000e, "sect571r1", 571},
	{0x000d, "sect571k1", 571}, {0x000c, "sect409r1", 409}, {0x000b, "sect409k1", 409},
	{0x000a, "sect283r1", 283}, {0x0009, "sect283k1", 283}, {0x0008, "sect239k1", 239},
	{0x0007, "sect233r1", 233}, {0x0006, "sect233k1", 233}, {0x0005, "sect193r2", 193},
	{0x0004, "sect193r1", 193}, {0x0003, "sect163r2", 163}, {0x0002, "sect163r1", 163},
	{0x0001, "sect163k1", 163},
	{0x0100, "ffdhe2048", 2048}, {0x0101, "ffdhe3072", 3072}, {0x0102, "ffdhe4096", 4096},
	{0x0103, "ffdhe6144", 6144}, {0x0104, "ffdhe8192", 8192},
	{0x11ec, "X25519MLKEM768", 253}, {0x11eb, "SecP256r1MLKEM768", 256},
	{0x11ed, "SecP384r1MLKEM1024", 384}, {0x6399, "X25519Kyber768Draft00", 253},
};

static uint16_t group_codes[sizeof(groups) / sizeof(groups[0])];

const uint16_t *group_all(size_t *n)
{
	*n = sizeof(groups) / sizeof(groups[0]);
	for (size_t i = 0; i < *n; i++)
		group_codes[i] = groups[i].code;
	return group_codes;
}

static const struct group *group_find(uint16_t g)
{
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (groups[i].code == g)
			return &groups[i];
	return NULL;
}

const char *group_name(uint16_t g)
{
	const struct group *gr = group_find(g);

	return gr ? gr->name : "unknown";
}

int group_bits(uint16_t g)
{
	const struct group *gr = group_find(g);

	return gr ? gr->bits : 0;
}

bool group_is_ecc(uint16_t g)
{
	return g >= 0x0001 && g <= 0x0021;
}

/* ---------------------------------------------------------------- builder */

struct wbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
};

static void put8(struct wbuf *w, unsigned v)
{
	if (w->len < w->cap)
		w->p[w->len] = (uint8_t)v;
	w->len++;
}

static void put16(struct wbuf *w, unsigned v)
{
	put8(w, (v >> 8) & 0xff);
	put8(w, v & 0xff);
}

static void put_bytes(struct wbuf *w, const void *data, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put8(w, ((const uint8_t *)data)[i]);
}

/* Writes a 2-byte (or 3-byte) length at pos for everything after it. */
static void patch_len(struct wbuf *w, size_t pos, int width)
{
	size_t n = w->len - pos - (size_t)width;

	if (pos + (size_t)width > w->cap)
		return;
	if (width == 3)
		w->p[pos++] = (uint8_t)(n >> 16);
	w->p[pos] = (uint8_t)(n >> 8);
	w->p[pos + 1] = (uint8_t)n;
}

struct sigalg {
	uint16_t code;
	const char *name;
};

static const struct sigalg sigalg_table[] = {
	{0x0403, "ecdsa_secp256r1_sha256"}, {0x0503, "ecdsa_secp384r1_sha384"},
	{0x0603, "ecdsa_secp521r1_sha512"}, {0x0807, "ed25519"}, {0x0808, "ed448"},
	{0x0804, "rsa_pss_rsae_sha256"}, {0x0805, "rsa_pss_rsae_sha384"}, {0x0806, "rsa_pss_rsae_sha512"},
	{0x0809, "rsa_pss_pss_sha256"}, {0x080a, "rsa_pss_pss_sha384"}, {0x080b, "rsa_pss_pss_sha512"},
	{0x0401, "rsa_pkcs1_sha256"}, {0x0501, "rsa_pkcs1_sha384"}, {0x0601, "rsa_pkcs1_sha512"},
	{0x0303, "ecdsa_sha224"}, {0x0203, "ecdsa_sha1"}, {0x0201, "rsa_pkcs1_sha1"},
	{0x0402, "dsa_sha256"}, {0x0202, "dsa_sha1"}, {0x0301, "rsa_sha224"}, {0x0302, "dsa_sha224"},
	{0x0102, "dsa_md5"}, {0x0101, "rsa_md5"},
};

static uint16_t sigalg_codes[(sizeof(sigalg_table) / sizeof(sigalg_table[0]))];

const uint16_t *sigalg_all(size_t *n)
{
	*n = (sizeof(sigalg_table) / sizeof(sigalg_table[0]));
	for (size_t i = 0; i < *n; i++)
		sigalg_codes[i] = sigalg_table[i].code;
	return sigalg_codes;
}

const char *sigalg_name(uint16_t code)
{
	for (size_t i = 0; i < (sizeof(sigalg_table) / sizeof(sigalg_table[0])); i++)
		if (sigalg_table[i].code == code)
			return sigalg_table[i].name;
	return "unknown";
}

bool sigalg_weak(uint16_t code)
{
	unsigned hash = code >> 8;

	/* 0x01xx MD5, 0x02xx SHA-1 (RFC 5246 HashAlgorithm) */
	return (hash == 1 || hash == 2) && (code & 0xff) <= 3;
}

static void ext_sni(struct wbuf *w, const char *sni)
{
	size_t n = strlen(sni), at;

	if (n == 0 || n > 255)
		return;
	put16(w, 0x0000);
	at = w->len;
	put16(w, 0);
	put16(w, (unsigned)n + 3);
	put8(w, 0);
	put16(w, (unsigned)n);
	put_bytes(w, sni, n);
	patch_len(w, at, 2);
}

static void ext_groups(struct wbuf *w, const struct hello_opts *o)
{
	size_t n, at;
	const uint16_t *g = o->groups;

	if (g == NULL)
		g = group_all(&n);
	else
		n = o->n_groups;
	put16(w, 0x000a);
	at = w->len;
	put16(w, 0);
	put16(w, (unsigned)(n * 2));
	for (size_t i = 0; i < n; i++) {
		/* finite-field groups in a TLS <= 1.2 hello would hide the
		 * server's own DH parameters behind RFC 7919 negotiation */
		if (o->version < V_TLS13 && !group_is_ecc(g[i]))
			continue;
		put16(w, g[i]);
	}
	patch_len(w, at + 2, 2);
	patch_len(w, at, 2);
}

static void ext_sigalgs(struct wbuf *w, const struct hello_opts *o)
{
	size_t n;
	const uint16_t *list = o->sigalgs ? o->sigalgs : sigalg_all(&n);

	if (o->sigalgs)
		n = o->n_sigalgs;
	put16(w, 0x000d);
	put16(w, (unsigned)(2 + 2 * n));
	put16(w, (unsigned)(2 * n));
	for (size_t i = 0; i < n; i++)
		put16(w, list[i]);
}

static void extensions(struct wbuf *w, const struct hello_opts *o)
{
	size_t at = w->len;

	put16(w, 0);
	if (o->sni)
		ext_sni(w, o->sni);
	ext_groups(w, o);
	put16(w, 0x000b); /* ec_point_formats: uncompressed */
	put16(w, 2);
	put8(w, 1);
	put8(w, 0);
	if (o->version >= V_TLS12)
		ext_sigalgs(w, o);
	if (o->heartbeat) {
		put16(w, 0x000f); /* heartbeat: peer_allowed_to_send */
		put16(w, 1);
		put8(w, 1);
	}
	put16(w, 0x0017); /* extended_master_secret */
	put16(w, 0);
	if (o->version >= V_TLS13) {
		put16(w, 0x002b); /* supported_versions: 1.3 only */
		put16(w, 3);
		put8(w, 2);
		put16(w, V_TLS13);
		/* an empty key_share makes the server name its group in a
		 * HelloRetryRequest, which also names the suite: no key needed */
		put16(w, 0x0033);
		put16(w, 2);
		put16(w, 0);
		put16(w, 0x002d); /* psk_key_exchange_modes: psk_dhe_ke */
		put16(w, 2);
		put8(w, 1);
		put8(w, 1);
	} else {
		put16(w, 0xff01); /* renegotiation_info, empty */
		put16(w, 1);
		put8(w, 0);
	}
	patch_len(w, at, 2);
}

size_t hello_build(const struct hello_opts *o, uint8_t *out)
{
	struct wbuf w = {out, 0, HELLO_MAX};
	uint8_t random[32];
	size_t rec, hs, at;
	bool tls13 = o->version >= V_TLS13;

	RAND_bytes(random, sizeof(random));
	put8(&w, 0x16);
	put16(&w, o->version == V_SSL3 ? V_SSL3 : V_TLS10);
	rec = w.len;
	put16(&w, 0);
	put8(&w, 0x01);
	hs = w.len;
	put8(&w, 0);
	put16(&w, 0);
	put16(&w, tls13 ? V_TLS12 : o->version);
	put_bytes(&w, random, 32);
	if (tls13) {
		put8(&w, 32); /* middlebox compatibility session id */
		put_bytes(&w, random, 32);
	} else {
		put8(&w, 0);
	}
	at = w.len;
	put16(&w, 0);
	for (size_t i = 0; i < o->n_suites; i++)
		put16(&w, o->suites[i]);
	if (o->version == V_SSL3)
		put16(&w, 0x00ff); /* SSLv3 has no extensions: signal RFC 5746 */
	patch_len(&w, at, 2);
	if (o->offer_compression && !tls13) {
		put8(&w, 2);
		put8(&w, 1);
		put8(&w, 0);
	} else {
		put8(&w, 1);
		put8(&w, 0);
	}
	if (o->version != V_SSL3)
		extensions(&w, o);
	patch_len(&w, hs, 3);
	patch_len(&w, rec, 2);
	return w.len <= w.cap ? w.len : 0;
}

size_t hello_build_ssl2(uint8_t *out)
{
	size_t n;
	const struct ssl2_suite *t = ssl2_suite_table(&n);
	uint8_t challenge[16];
	size_t body = 9 + n * 3 + sizeof(challenge), len = 0;

	RAND_bytes(challenge, sizeof(challenge));
	out[len++] = (uint8_t)(0x80 | (body >> 8));
	out[len++] = (uint8_t)body;
	out[len++] = 1;          /* CLIENT-HELLO */
	out[len++] = 0;
	out[len++] = 2;          /* version 2 */
	out[len++] = 0;
	out[len++] = (uint8_t)(n * 3);
	out[len++] = 0;          /* no session id */
	out[len++] = 0;
	out[len++] = 0;
	out[len++] = sizeof(challenge);
	for (size_t i = 0; i < n; i++) {
		out[len++] = (uint8_t)(t[i].code >> 16);
		out[len++] = (uint8_t)(t[i].code >> 8);
		out[len++] = (uint8_t)t[i].code;
	}
	memcpy(out + len, challenge, sizeof(challenge));
	return len + sizeof(challenge);
}

/* ---------------------------------------------------------------- parser */

struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t pos;
	bool bad;
};

static unsigned get8(struct rbuf *r)
{
	if (r->pos + 1 > r->len) {
		r->bad = true;
		return 0;
	}
	return r->p[r->pos++];
}

static unsigned get16(struct rbuf *r)
{
	unsigned hi = get8(r);

	return (hi << 8) | get8(r);
}

static unsigned get24(struct rbuf *r)
{
	unsigned hi = get8(r);

	return (hi << 16) | get16(r);
}

static const uint8_t *get_bytes(struct rbuf *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->len - r->pos) {
		r->bad = true;
		return NULL;
	}
	p = r->p + r->pos;
	r->pos += n;
	return p;
}

static const uint8_t hrr_random[32] = {
	0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02,
	0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E,
	0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
};

static void parse_sh_ext(struct rbuf *e, struct server_hello *sh)
{
	while (!e->bad && e->pos < e->len) {
		unsigned type = get16(e), n = get16(e);
		struct rbuf x = {get_bytes(e, n), n, 0, false};

		if (x.p == NULL)
			return;
		if (type == 0xff01)
			sh->reneg_info = true;
		else if (type == 0x0017)
			sh->ems = true;
		else if (type == 0x002b && n >= 2)
			sh->version = (uint16_t)get16(&x);
		else if (type == 0x0033 && n >= 2)
			sh->group = (uint16_t)get16(&x);
		else if (type == 0x000f)
			sh->heartbeat = true;
	}
}

static int parse_server_hello(struct rbuf *r, struct server_hello *sh)
{
	const uint8_t *random;
	unsigned sid;

	sh->version = (uint16_t)get16(r);
	random = get_bytes(r, 32);
	sid = get8(r);
	get_bytes(r, sid);
	sh->cipher = (uint16_t)get16(r);
	sh->compression = (uint8_t)get8(r);
	if (r->bad)
		return -1;
	sh->kind = random && memcmp(random, hrr_random, 32) == 0 ? SHK_HRR : SHK_HELLO;
	if (r->pos + 2 <= r->len) {
		unsigned n = get16(r);
		struct rbuf e = {get_bytes(r, n), n, 0, false};

		if (e.p == NULL)
			return -1;
		parse_sh_ext(&e, sh);
		if (e.bad)
			return -1;
	}
	return 0;
}

static int parse_ske(struct rbuf *r, struct server_hello *sh)
{
	unsigned f = suite_flags(sh->cipher);

	sh->have_ske = true;
	if (f & SUITE_ECDHE) {
		if (get8(r) != 3) /* named_curve */
			return 0;
		sh->group = (uint16_t)get16(r);
		get_bytes(r, get8(r)); /* the public point */
	} else if (f & SUITE_DHE) {
		size_t n = get16(r);
		const uint8_t *p = get_bytes(r, n);

		if (p == NULL)
			return -1;
		get_bytes(r, get16(r)); /* g */
		get_bytes(r, get16(r)); /* Ys */
		while (n > 0 && *p == 0) { /* leading zeros do not count */
			p++;
			n--;
		}
		sh->dh_bits = 0;
		if (n > 0) {
			int top = 8;

			while (top > 0 && !(p[0] & (1u << (top - 1))))
				top--;
			sh->dh_bits = (int)(n - 1) * 8 + top;
		}
		sh->dh_p_len = n < sizeof(sh->dh_p) ? n : sizeof(sh->dh_p);
		memcpy(sh->dh_p, p, sh->dh_p_len);
	}
	/* TLS 1.2 names the signature scheme; anonymous suites sign nothing */
	if (!r->bad && sh->version == V_TLS12 && !(f & SUITE_ANON) && r->pos + 2 <= r->len)
		sh->ske_sigalg = (uint16_t)get16(r);
	return r->bad ? -1 : 0;
}

/* Walks the reassembled handshake messages.  SH_DONE once the first
 * flight is complete (or the ServerHello, for 1.3 / HRR). */
static enum sh_status parse_handshake(const uint8_t *hs, size_t len, struct server_hello *sh)
{
	struct rbuf r = {hs, len, 0, false};

	while (r.pos + 4 <= len) {
		unsigned type = get8(&r), n = get24(&r);
		struct rbuf m;

		if (n > len - r.pos)
			return SH_NEED_MORE;
		m = (struct rbuf){get_bytes(&r, n), n, 0, false};
		if (type == 2) {
			if (parse_server_hello(&m, sh) < 0) {
				sh->why = "malformed ServerHello";
				return SH_BAD;
			}
			if (sh->kind == SHK_HRR || sh->version == V_TLS13)
				return SH_DONE;
		} else if (sh->kind != SHK_HELLO) {
			sh->why = "handshake message before ServerHello";
			return SH_BAD;
		} else if (type == 12) {
			if (parse_ske(&m, sh) < 0) {
				sh->why = "malformed ServerKeyExchange";
				return SH_BAD;
			}
		} else if (type == 14) {
			return SH_DONE;
		}
	}
	return SH_NEED_MORE;
}

static enum sh_status parse_ssl2(const uint8_t *buf, size_t len, struct server_hello *sh)
{
	size_t body = ((size_t)(buf[0] & 0x7f) << 8) | buf[1];
	struct rbuf r;
	unsigned cert_len, cs_len;

	if (len < 2 + body)
		return SH_NEED_MORE;
	r = (struct rbuf){buf + 2, body, 0, false};
	if (get8(&r) != 4) {
		sh->kind = SHK_ALERT; /* SSLv2 ERROR or anything else: refused */
		return SH_DONE;
	}
	get8(&r);
	get8(&r);
	sh->version = (uint16_t)get16(&r);
	cert_len = get16(&r);
	cs_len = get16(&r);
	get16(&r);
	get_bytes(&r, cert_len);
	for (unsigned i = 0; i + 3 <= cs_len && !r.bad; i += 3) {
		uint32_t c = get8(&r) << 16;

		c |= get16(&r);
		if (sh->n_ssl2 < SH_MAX_SSL2)
			sh->ssl2_ciphers[sh->n_ssl2++] = c;
	}
	if (r.bad) {
		sh->why = "malformed SSLv2 SERVER-HELLO";
		return SH_BAD;
	}
	sh->kind = SHK_SSL2;
	return SH_DONE;
}

void sh_end(const uint8_t *buf, size_t len, struct server_hello *sh)
{
	if (len > 0 && sh_parse(buf, len, sh) == SH_DONE)
		return;
	if (sh->kind == SHK_HELLO && sh->version <= V_TLS12) {
		sh->failed = true; /* closed in the middle of its first flight */
		return;
	}
	memset(sh, 0, sizeof(*sh));
}

enum sh_status sh_parse(const uint8_t *buf, size_t len, struct server_hello *sh)
{
	static _Thread_local uint8_t hs[65536];
	size_t hs_len = 0, pos = 0;

	memset(sh, 0, sizeof(*sh));
	if (len >= 2 && (buf[0] & 0x80))
		return parse_ssl2(buf, len, sh);
	while (pos + 5 <= len) {
		unsigned type = buf[pos];
		size_t n = ((size_t)buf[pos + 3] << 8) | buf[pos + 4];
		enum sh_status st;

		if (type < 20 || type > 23 || buf[pos + 1] != 3 || n > 18432) {
			sh->why = "not a TLS record";
			return SH_BAD;
		}
		if (pos + 5 + n > len)
			return SH_NEED_MORE;
		if (type == 21 && sh->kind == SHK_NONE) {
			if (n < 2) {
				sh->why = "short alert";
				return SH_BAD;
			}
			sh->kind = SHK_ALERT;
			sh->alert_level = buf[pos + 5];
			sh->alert_desc = buf[pos + 6];
			return SH_DONE;
		}
		if (type == 22) {
			if (hs_len + n > sizeof(hs)) {
				sh->why = "first flight too large";
				return SH_BAD;
			}
			memcpy(hs + hs_len, buf + pos + 5, n);
			hs_len += n;
			st = parse_handshake(hs, hs_len, sh);
			if (st != SH_NEED_MORE)
				return st;
		} else if (sh->kind == SHK_HELLO) {
			/* an alert after the hello (TLS <= 1.2: before ServerHelloDone):
			 * the server chose the suite and could not go on with it */
			if (type == 21 && n >= 2) {
				sh->failed = true;
				sh->alert_level = buf[pos + 5];
				sh->alert_desc = buf[pos + 6];
			}
			return SH_DONE;
		} else if (type != 20) {
			sh->why = "unexpected record before ServerHello";
			return SH_BAD;
		}
		pos += 5 + n;
	}
	if (len > 0 && len < 5 && (buf[0] < 20 || buf[0] > 23)) {
		sh->why = "not a TLS record";
		return SH_BAD;
	}
	return SH_NEED_MORE;
}
