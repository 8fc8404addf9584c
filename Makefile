# modgate — Go module proxy gateway.
#
#   make run     installs missing Debian packages (as root), builds, starts modgate
#   make test    the same set-up, then every unit and integration test, plain and
#                under AddressSanitizer + UBSan
#   make bench   modgate against nginx serving the same files, with wrk
#
# Build output goes to build/ (or build-san/ for the sanitizer build), never into
# the source folders.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
SAN     ?=
GO      ?= go

ifeq ($(SAN),1)
B        := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      := -O1
else
B        := build
SANFLAGS :=
OPT      := -O2
endif

PKGS     := libevent libevent_pthreads evhtp libcurl openssl jansson inih libzip zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. $(SANFLAGS) $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread

# Every .c under the module folders is part of the core library except main.c;
# the binary and the unit tests link against that library.
LIB_SRCS := $(filter-out proxy/main.c,$(wildcard proxy/*.c cache/*.c breaker/*.c sumdb/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(wildcard t/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:t/unit/%.c=$(B)/t/%)

# Debian packages: what the build needs, and what the tests and bench add.
DEB_BUILD := gcc make pkg-config libevent-dev libevhtp-dev libcurl4-openssl-dev libssl-dev \
             libjansson-dev libinih-dev libzip-dev zlib1g-dev
DEB_TEST  := $(DEB_BUILD) libcmocka-dev clang libclang-rt-14-dev clang-format git ca-certificates chromium
DEB_BENCH := nginx-light wrk

.PHONY: all run test test-unit test-integration test-san test-live bench fuzz \
        install clean deps deps-test deps-bench check-go format-check

all: $(B)/modgate

$(B)/modgate: $(B)/proxy/main.o $(B)/libmodgate.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libmodgate.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/t/test_%: t/unit/test_%.c $(B)/libmodgate.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libmodgate.a $(LDLIBS) -lcmocka

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---- set-up -------------------------------------------------------------

deps:
	@sh t/deps.sh $(DEB_BUILD)

deps-test:
	@sh t/deps.sh $(DEB_TEST)

deps-bench:
	@sh t/deps.sh $(DEB_TEST) $(DEB_BENCH)

check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "modgate: the tests drive the real go command; install Go (https://go.dev/doc/install) and put it on PATH"; exit 1; }

# ---- run ----------------------------------------------------------------

run: deps
	$(MAKE) all
	./$(B)/modgate serve $(RUN_ARGS)

# ---- tests --------------------------------------------------------------

test: deps-test check-go
	$(MAKE) format-check
	$(MAKE) test-unit
	$(MAKE) test-integration
	$(MAKE) SAN=1 test-unit
	$(MAKE) SAN=1 test-integration
	$(MAKE) CC=clang B=build-clang all
	FUZZ_SECONDS=10 sh t/fuzz/run.sh
	@echo "modgate: all tests passed (format, unit, integration, both again under ASan+UBSan, clang build, fuzz smoke)"

C_FILES = $(wildcard proxy/*.[ch] cache/*.[ch] breaker/*.[ch] sumdb/*.[ch] t/unit/*.c t/fuzz/*.c)

format-check:
	@clang-format --dry-run --Werror $(C_FILES) && echo "format: $(words $(C_FILES)) files clean"

test-unit: $(UNIT_BINS)
	@sh t/run-unit.sh $(UNIT_BINS)

# The integration tests are Go tests (t/integration) that start this build's
# binary and fixture upstreams on 127.0.0.1 and drive the real go command.
test-integration: all check-go
	cd t && MODGATE_BIN=$(CURDIR)/$(B)/modgate $(GO) test -count=1 -timeout 600s ./...

test-live: all check-go
	cd t && MODGATE_BIN=$(CURDIR)/$(B)/modgate MODGATE_LIVE=1 $(GO) test -count=1 -v -timeout 900s -run Live ./integration/

test-san:
	$(MAKE) SAN=1 test-unit test-integration

bench: deps-bench check-go
	$(MAKE) all
	sh t/bench/bench.sh $(CURDIR)/$(B)/modgate

fuzz: deps-test
	sh t/fuzz/run.sh

# ---- install ------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/modgate
	install -m 0755 $(B)/modgate $(DESTDIR)$(PREFIX)/bin/modgate
	install -m 0644 etc/modgate.ini etc/modgate.service etc/modgate-prune.service \
		etc/modgate-prune.timer README.md $(DESTDIR)$(PREFIX)/share/doc/modgate/

clean:
	rm -rf build build-san build-clang build-fuzz
