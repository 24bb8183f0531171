/*
 * fuzz_parsers.c - libFuzzer target for what a hostile server controls:
 * the ServerHello / alert / SSLv2 parser and the SMTP/IMAP/POP3 reply and
 * capability parsers.  Build and run with "make fuzz".
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../core/common.h"
#include "../selftest/hello.h"
#include "../selftest/mailproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void replies(const uint8_t *data, size_t size, enum reply_mode mode, enum mail_proto p)
{
	struct reply r = {0};
	struct strlist caps = STRLIST_INIT;
	struct error e;
	size_t start = 0;
	int rc = 0;

	for (size_t i = 0; i < size && rc == 0; i++) {
		if (data[i] != '\n')
			continue;
		rc = reply_feed(&r, mode, "C", (const char *)data + start, i - start, &e);
		start = i + 1;
	}
	caps_from_reply(&r, p, &caps);
	caps_plain_auth(&caps, p);
	caps_has(&caps, "STARTTLS");
	free(reply_text(&r));
	sl_free(&caps);
	reply_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server_hello sh;

	sh_parse(data, size, &sh);
	if (size > 0) {
		/* the first byte picks the reply mode, the rest is the reply */
		enum reply_mode m = (enum reply_mode)(data[0] % 5);
		enum mail_proto p = m == RM_SMTP ? PROTO_SMTP : m <= RM_IMAP_TAGGED ? PROTO_IMAP : PROTO_POP3;

		replies(data + 1, size - 1, m, p);
	}
	return 0;
}
