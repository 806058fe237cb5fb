# concbench: `make` builds ./concbench, `make check` runs every test,
# `make demo` runs the headline sweep and draws its charts, `make bench` the
# benchmark suites. Missing Debian packages are installed first
# (scripts/deps.sh; NO_DEPS=1 skips that). V=1 shows the full commands.

O ?= build
CC ?= cc
PKG_CONFIG ?= pkg-config

ifeq ($(V),1)
Q :=
quiet = @:
else
Q := @
quiet = @printf '  %-6s %s\n'
endif

# Install what is missing before anything looks for a library. Parse time,
# so the pkg-config probes below already see the installed packages.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
ifndef NO_DEPS
DEPS_FAILED := $(shell scripts/deps.sh >&2 || echo failed)
ifneq ($(DEPS_FAILED),)
$(error scripts/deps.sh failed: see its message above)
endif
endif
endif

WARNINGS := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2
CFLAGS ?= -O2 -g
# C11 and POSIX 2008; _DEFAULT_SOURCE adds the Linux names POSIX lacks
# (MAP_ANONYMOUS, MAP_STACK), nothing that changes POSIX behaviour.
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	$(WARNINGS) $(CFLAGS) -I. -I$(O) -MMD -MP
ifeq ($(DEVELOPER),1)
ALL_CFLAGS += -Werror
endif
# Every symbol bound at startup (-z now), not at its first call: a forked
# child then never runs the dynamic linker's lookup for a function its
# parent had not called yet (signal(), prctl() and the rest a child calls
# first), each lookup a page fault or several on symbol tables and a
# copy-on-write of the GOT. The fork model's harness cost per child fell
# from about 1.45x to 1.3x a raw fork loop (docs/models.md). The GOT is then
# read-only as well (full RELRO).
ALL_LDFLAGS := -Wl,-z,now $(LDFLAGS)
ifdef SANITIZE
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

# jansson is required; libuv, Boost.Context and http-parser each enable the
# parts that need them, and a missing one leaves those parts registered as
# unavailable (exit 3) rather than breaking the build. NO_UV=1,
# NO_BOOST_CONTEXT=1 and NO_HTTP_PARSER=1 build as if one were missing.
# A library's static archive when Debian ships one (-l:libX.a), else -lX.
# Every shared library adds mappings to the process, which each fork copies
# and each child's exit tears down: the fork model measured 25-40% more
# CPU a child with concbench's eight libraries preloaded into a raw
# fork-and-exit loop. libuv ships no archive in Debian 12 and stays shared.
static_or_shared = $(if $(filter /%,$(shell $(CC) -print-file-name=lib$(1).a)),-l:lib$(1).a,-l$(1))
ALL_CFLAGS += $(shell $(PKG_CONFIG) --cflags jansson)
LIBS := $(call static_or_shared,jansson) -lpthread -lm
have_lib = $(shell printf '#include <$(1)>\nint main(void){return 0;}\n' | \
	$(CC) -x c - -o /dev/null $(2) 2>/dev/null && echo 1)
ifeq ($(if $(NO_UV),,$(shell $(PKG_CONFIG) --exists libuv && echo 1)),1)
ALL_CFLAGS += -DCONC_HAVE_UV $(shell $(PKG_CONFIG) --cflags libuv)
LIBS += $(shell $(PKG_CONFIG) --libs libuv)
UV_VERSION := $(shell $(PKG_CONFIG) --modversion libuv)
endif
# liburing: the uring model (NO_URING=1 builds as if it were missing).
ifeq ($(if $(NO_URING),,$(shell $(PKG_CONFIG) --exists liburing && echo 1)),1)
ALL_CFLAGS += -DCONC_HAVE_URING $(shell $(PKG_CONFIG) --cflags liburing)
LIBS += $(call static_or_shared,uring)
URING_VERSION := $(shell $(PKG_CONFIG) --modversion liburing)
endif
ifeq ($(if $(NO_BOOST_CONTEXT),,$(call have_lib,stdio.h,-lboost_context)),1)
ALL_CFLAGS += -DCONC_HAVE_BOOST_CONTEXT
LIBS += $(call static_or_shared,boost_context)
BOOST_VERSION := $(shell sed -n 's/^\#define BOOST_LIB_VERSION "\(.*\)"/\1/p' \
	/usr/include/boost/version.hpp 2>/dev/null)
endif
# Concurrency Kit: the counter workload's spinlocks (header-only inlines).
ifeq ($(if $(NO_CK),,$(call have_lib,ck_spinlock.h,)),1)
ALL_CFLAGS += -DCONC_HAVE_CK
endif
ifeq ($(if $(NO_HTTP_PARSER),,$(call have_lib,http_parser.h,-lhttp_parser)),1)
ALL_CFLAGS += -DCONC_HAVE_HTTP_PARSER
LIBS += $(call static_or_shared,http_parser)
HTTP_PARSER_VERSION := $(shell dpkg-query -W -f='$${Version}' \
	libhttp-parser-dev 2>/dev/null)
endif

SRCS := $(sort $(wildcard lib/*.c cmd/*.c models/*.c workloads/*.c))
OBJS := $(SRCS:%.c=$(O)/%.o)
LIB_OBJS := $(filter-out $(O)/cmd/main.o,$(OBJS))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(O)/tests/%)

all: $(O)/concbench
ifeq ($(O),build)
all: concbench
concbench: $(O)/concbench
	$(Q)ln -sf $(O)/concbench concbench
endif

# Build facts baked into the binary and the report; rewritten only when they
# change, so an unchanged tree does not rebuild.
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
$(O)/version.h: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '#define CONC_VERSION "$(VERSION)"' \
		'#define CONC_CC "$(shell $(CC) --version | head -n1)"' \
		'#define CONC_CFLAGS "$(CFLAGS) $(if $(SANITIZE),-fsanitize=$(SANITIZE))"' \
		'#define CONC_LIBUV_VERSION "$(UV_VERSION)"' \
		'#define CONC_BOOST_VERSION "$(BOOST_VERSION)"' \
		'#define CONC_HTTP_PARSER_VERSION "$(HTTP_PARSER_VERSION)"' \
		'#define CONC_URING_VERSION "$(URING_VERSION)"' > $@.new
	@cmp -s $@.new $@ && rm -f $@.new || mv $@.new $@

$(O)/cmd/main.o $(O)/cmd/report.o: $(O)/version.h

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/concbench: $(OBJS)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LIBS)

$(O)/tests/%: tests/unit/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB_OBJS) $(LIBS) -lcriterion

# Every test: Criterion unit tests, then the bats CLI tests against the
# binary just built, then each fuzz target for 20 s (clang, build-fuzz/).
# Nothing leaves loopback.
check: $(O)/concbench $(UNIT_BINS)
	$(Q)CONCBENCH=$(abspath $(O)/concbench) MAKE="$(MAKE)" tests/check.sh \
		$(UNIT_BINS)

# The fast tier, for the edit-compile-test loop: the unit tests and the CLI
# tests, JOBS files at a time, without the slow files that tests/check.sh
# names (sanitizers, valgrind, the speedup tests) and without fuzzing.
test: $(O)/concbench $(UNIT_BINS)
	$(Q)CONCBENCH=$(abspath $(O)/concbench) tests/check.sh --fast $(UNIT_BINS)

unit: $(UNIT_BINS)
	$(Q)for t in $(UNIT_BINS); do $$t --jobs 1 || exit 1; done

# Sanitizer builds (git's SANITIZE=), each in its own directory. ASan
# follows green's stack switches through its fiber annotations.
asan:
	$(Q)$(MAKE) --no-print-directory O=build-asan SANITIZE=address,undefined \
		NO_DEPS=1 build-asan/concbench
tsan:
	$(Q)$(MAKE) --no-print-directory O=build-tsan SANITIZE=thread NO_DEPS=1 \
		build-tsan/concbench

# libFuzzer targets (clang): each runs FUZZ_SECONDS on a copy of its seed
# corpus tests/fuzz/<name>/ (with tests/fuzz/<name>.dict when there is
# one), so the repository is never written to; a crashing input is printed
# (base64) with the fuzzer's report and kept as /tmp/tmp.*.crash-*, then
# replayed with stderr open, where the target says which invariant broke.
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=%)
# clang, unlike gcc, warns on the `{ NULL }` that ends every option table.
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link -Wno-missing-field-initializers
fuzz:
	$(Q)$(MAKE) --no-print-directory O=build-fuzz CC=clang NO_DEPS=1 \
		SANITIZE=address,undefined CFLAGS='$(FUZZ_CFLAGS)' \
		$(FUZZ_NAMES:%=build-fuzz/fuzz/%)
	$(Q)for f in $(FUZZ_NAMES); do \
		c=$$(mktemp -d) && cp tests/fuzz/$$f/* $$c/ 2>/dev/null; \
		d=tests/fuzz/$$f.dict; \
		echo "== fuzz $$f ($(FUZZ_SECONDS) s)"; \
		build-fuzz/fuzz/$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -close_fd_mask=2 -artifact_prefix=$$c. \
			$$(test -f $$d && echo -dict=$$d) $$c >$$c.log 2>&1 \
			|| { tail -n 40 $$c.log; for a in $$c.*-*; do \
				echo "== replay $$a"; build-fuzz/fuzz/$$f $$a 2>&1 | \
				grep -E '^(fuzz_|concbench:)' | head -n 10; done; \
				rm -rf $$c $$c.log; exit 1; }; \
		grep -E '^#[0-9]+.*DONE' $$c.log | tail -n 1; rm -rf $$c $$c.log; \
	done

$(O)/fuzz/%: tests/fuzz/fuzz_%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(LIB_OBJS) $(LIBS)

demo: $(O)/concbench
	$(Q)CONCBENCH=$(abspath $(O)/concbench) bench/io-vs-cpu.sh

# The benchmark suites, each measuring concbench beside its reference in one
# invocation; each appends its ratio rows to $(O)/peers.tsv, and
# bench/peers.sh, last, prints them in one table (measuring none again). Not
# regress.sh: it compares against a baseline from one machine and is for CI
# jobs that keep their own (see docs/compare.md "Regression checks in CI").
BENCH_SUITES := primes overhead green eventloop http scaling peers
bench: $(O)/concbench
	$(Q)rm -f $(O)/peers.tsv; for s in $(BENCH_SUITES); do \
		echo "== bench/$$s.sh"; CONCBENCH=$(abspath $(O)/concbench) \
		PEERS_ROWS=$(abspath $(O)/peers.tsv) bench/$$s.sh || exit 1; done

# Charts from a report: REPORT (default: the newest results/raw/*/report.json)
# into PLOT_DIR (default: beside it).
REPORT ?= $(lastword $(sort $(wildcard results/raw/*/report.json)))
plot:
	$(Q)test -n "$(REPORT)" || { echo "make plot: no report: run make demo or set REPORT=" >&2; exit 2; }
	$(Q)/usr/bin/python3 scripts/plot.py $(REPORT) -o $(or $(PLOT_DIR),$(dir $(REPORT)))

# The binary, its man page and the python model's script (found at run time
# in ../share/concbench from the binary) under PREFIX, staged under DESTDIR
# for a package: make install PREFIX=/usr DESTDIR=/tmp/pkg.
PREFIX ?= /usr/local
install: $(O)/concbench
	$(quiet) INSTALL $(DESTDIR)$(PREFIX)
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/concbench
	$(Q)install -m 755 $(O)/concbench $(DESTDIR)$(PREFIX)/bin/concbench
	$(Q)install -m 644 scripts/concbench_model.py \
		$(DESTDIR)$(PREFIX)/share/concbench/concbench_model.py
	$(Q)install -m 644 docs/concbench.1 \
		$(DESTDIR)$(PREFIX)/share/man/man1/concbench.1
.PHONY: install

clean:
	rm -rf build build-* concbench

FORCE:
.PHONY: all check test unit demo bench plot clean asan tsan fuzz FORCE

-include $(OBJS:.o=.d) $(UNIT_BINS:=.d)
