# mailharden - make TLS on a mail server right, and prove it.
#
#   make            build ./mailharden (templates and translations embedded/built in)
#   make run        install build deps if missing, build, run on a lab root
#   make check      every test under ASan+UBSan; last line "N passed, N failed"
#   make bench      timings (detect, plan, ...)
#   make deps       apt-get install the build and test dependencies
#   make install    PREFIX=/usr/local DESTDIR= : binary, man page, translations,
#                   bash completion, systemd units; make uninstall removes them

CC      ?= cc
PKGS     = libssl libcrypto jansson ncursesw
CSTD     = -std=c17 -D_GNU_SOURCE
WARN     = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
CFLAGS  ?= -O2 -g
VERSION  = 0.1.0
ALL_CFLAGS = $(CSTD) $(WARN) $(CPPFLAGS) $(CFLAGS) -I. -DMH_VERSION='"$(VERSION)"' \
             -DLOCALEDIR='"$(LOCALEDIR)"'
LDLIBS   = -lssl -lcrypto -ljansson -ldialog -lncursesw -lm -lpthread
# The uninstalled ./mailharden finds its catalogues in the build tree; the
# installed one (build/inst/mailharden) in PREFIX/share/locale.
LOCALEDIR ?= $(CURDIR)/build/locale

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR   = $(PREFIX)/bin
MANDIR   = $(PREFIX)/share/man
INST_LOCALEDIR = $(PREFIX)/share/locale
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined

CORE_SRC     = $(wildcard core/*.c)
BACKEND_SRC  = $(wildcard backends/*.c)
SELFTEST_SRC = $(wildcard selftest/*.c)
WIZARD_SRC   = $(filter-out wizard/main.c,$(wildcard wizard/*.c))
LIB_SRC      = $(CORE_SRC) $(BACKEND_SRC) $(SELFTEST_SRC) $(WIZARD_SRC)
TEMPLATES    = $(shell find templates -type f ! -name '*~' | LC_ALL=C sort)
HEADERS      = $(wildcard core/*.h backends/*.h selftest/*.h wizard/*.h)
UNIT_SRC     = $(wildcard tests/unit/test_*.c)

# Normal build
OBJ_DIR  = build/obj
LIB_OBJ  = $(patsubst %.c,$(OBJ_DIR)/%.o,$(LIB_SRC)) $(OBJ_DIR)/templates_embedded.o
# Sanitizer build for the tests
SAN_DIR  = build/san
SAN_OBJ  = $(patsubst %.c,$(SAN_DIR)/%.o,$(LIB_SRC)) $(SAN_DIR)/templates_embedded.o
UNIT_BIN = $(patsubst tests/unit/%.c,$(SAN_DIR)/tests/%,$(UNIT_SRC))

.PHONY: all run check bench deps clean lab unit integration pot po mo fuzz install uninstall \
        installable

all: mailharden mo

mailharden: $(OBJ_DIR)/wizard/main.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The installed binary differs only in main.o: where it looks for catalogues.
# PREFIX is recorded so that a changed PREFIX rebuilds it.
INST_DIR = build/inst
$(INST_DIR)/prefix: FORCE
	@mkdir -p $(dir $@)
	@echo '$(INST_LOCALEDIR) $(BINDIR)' | cmp -s - $@ || echo '$(INST_LOCALEDIR) $(BINDIR)' > $@

$(INST_DIR)/main.o: wizard/main.c $(HEADERS) $(INST_DIR)/prefix
	$(CC) $(ALL_CFLAGS) -ULOCALEDIR -DLOCALEDIR='"$(INST_LOCALEDIR)"' -c -o $@ $<

$(INST_DIR)/mailharden: $(INST_DIR)/main.o $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(INST_DIR)/mailharden-check.service: contrib/systemd/mailharden-check.service.in $(INST_DIR)/prefix
	sed 's|@BINDIR@|$(BINDIR)|g' $< > $@.tmp && mv $@.tmp $@

installable: $(INST_DIR)/mailharden $(INST_DIR)/mailharden-check.service mo

FORCE:

$(OBJ_DIR)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/embed: tools/embed.c
	@mkdir -p build
	$(CC) $(CSTD) $(WARN) -O1 -o $@ $<

build/templates_embedded.c: build/embed $(TEMPLATES)
	build/embed $(TEMPLATES) > $@.tmp && mv $@.tmp $@

$(OBJ_DIR)/templates_embedded.o: build/templates_embedded.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# --- sanitizer build ---------------------------------------------------
$(SAN_DIR)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(SAN_DIR)/templates_embedded.o: build/templates_embedded.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(SAN_DIR)/libmh.a: $(SAN_OBJ)
	rm -f $@ && ar rcs $@ $^

$(SAN_DIR)/mailharden: $(SAN_DIR)/wizard/main.o $(SAN_DIR)/libmh.a
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

# Unit tests may ask for link-time fakes with a line
#   /* WRAP: rename fsync write */
# which turns into -Wl,--wrap=rename,...
$(SAN_DIR)/tests/%: tests/unit/%.c $(SAN_DIR)/libmh.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(SAN_FLAGS) -o $@ $< $(SAN_DIR)/libmh.a \
	  $$(sed -n 's|^/\* WRAP: \(.*\) \*/|\1|p' $< | tr ' ' '\n' | sed '/^$$/d;s/^/-Wl,--wrap=/' | tr '\n' ' ') \
	  $(LDLIBS) -lcmocka

unit: $(UNIT_BIN) $(SAN_DIR)/mailharden mo

check: unit
	@MH_BIN=$(CURDIR)/$(SAN_DIR)/mailharden MH_UNIT_DIR=$(CURDIR)/$(SAN_DIR)/tests \
	  LOCALEDIR=$(LOCALEDIR) tests/run-all.sh

bench: mailharden
	@tests/bench.sh $(CURDIR)/mailharden

deps:
	@scripts/install-deps.sh

lab: mailharden
	@scripts/make-lab.sh build/lab

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/make-lab.sh build/lab
	@# the wizard says itself why it stopped (cancelled 1, Ctrl-C 130): no make error line
	@./mailharden --root build/lab; rc=$$?; case $$rc in 0|1|130) ;; *) exit $$rc ;; esac

# --- fuzzing (selftest parsers) -------------------------------------------
FUZZ_SRC = selftest/hello.c selftest/suites.c selftest/mailconn.c selftest/mailproto.c core/common.c
build/fuzz/fuzz_parsers: fuzz/fuzz_parsers.c $(FUZZ_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(CSTD) -I. -g -O1 -fsanitize=fuzzer,address,undefined -o $@ fuzz/fuzz_parsers.c $(FUZZ_SRC) -lssl -lcrypto

fuzz: build/fuzz/fuzz_parsers
	@mkdir -p build/fuzz/corpus && cp -n fuzz/corpus/* build/fuzz/corpus/
	build/fuzz/fuzz_parsers -max_total_time=$${FUZZ_SECONDS:-60} -max_len=20000 build/fuzz/corpus

# --- i18n ----------------------------------------------------------------
POT = i18n/mailharden.pot
PO  = $(wildcard i18n/*.po)
MO  = $(patsubst i18n/%.po,build/locale/%/LC_MESSAGES/mailharden.mo,$(PO))

# Catalogues are sorted and carry no source locations or creation date, so
# that branches adding strings in different files rarely touch the same lines.
pot:
	xgettext --keyword=_ --keyword=N_ --add-comments=TRANSLATORS: \
	  --from-code=UTF-8 --package-name=mailharden --no-location --sort-output \
	  -o $(POT) $$(find wizard core backends selftest -name '*.[ch]' | LC_ALL=C sort)
	sed -i '/^"POT-Creation-Date: /d' $(POT)

# make po: refresh the .pot and merge it into every .po; then translate what
#   msgattrib --untranslated --only-fuzzy i18n/de.po   lists.
po: pot
	for f in $(PO); do msgmerge -q -U --backup=none --no-location --sort-output $$f $(POT) && \
	  sed -i '/^"POT-Creation-Date: /d' $$f; done

mo: $(MO)

build/locale/%/LC_MESSAGES/mailharden.mo: i18n/%.po
	@mkdir -p $(dir $@)
	msgfmt -c -o $@ $<

# --- install ---------------------------------------------------------------
INST_MO = $(patsubst i18n/%.po,%,$(PO))

install: installable
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR) \
	  $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(INST_DIR)/mailharden $(DESTDIR)$(BINDIR)/mailharden
	install -m 0644 doc/mailharden.8 $(DESTDIR)$(MANDIR)/man8/mailharden.8
	install -m 0644 contrib/bash-completion/mailharden $(DESTDIR)$(BASHCOMPDIR)/mailharden
	install -m 0644 $(INST_DIR)/mailharden-check.service \
	  contrib/systemd/mailharden-check.timer $(DESTDIR)$(SYSTEMDUNITDIR)/
	for l in $(INST_MO); do \
	  install -d $(DESTDIR)$(INST_LOCALEDIR)/$$l/LC_MESSAGES && \
	  install -m 0644 build/locale/$$l/LC_MESSAGES/mailharden.mo \
	    $(DESTDIR)$(INST_LOCALEDIR)/$$l/LC_MESSAGES/mailharden.mo || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mailharden $(DESTDIR)$(MANDIR)/man8/mailharden.8 \
	  $(DESTDIR)$(BASHCOMPDIR)/mailharden \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/mailharden-check.service \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/mailharden-check.timer
	for l in $(INST_MO); do rm -f $(DESTDIR)$(INST_LOCALEDIR)/$$l/LC_MESSAGES/mailharden.mo; done

clean:
	rm -rf build mailharden
