# resque — build, test, demo, sanitizers, fuzzing and benchmarks.
#   make            build build/resque and build/libresque.a
#   make test       install missing packages (as root), build, run every test:
#                   the suite, the suite under ASan+UBSan, each fuzz target
#                   for FUZZ_SECONDS (tests/stages.sh; CI runs this)
#   make check      the suite alone (quick: what a developer runs)
#   make demo       install, build, run a model's life cycle on bundled data
#   make asan       the whole suite under AddressSanitizer + UBSan
#   make fuzz       each libFuzzer target for FUZZ_SECONDS seconds
#   make bench      benchmarks against reference tools (not tests)
#   DEVELOPER=1     adds -Wall -Wextra -Werror

CC ?= cc
BUILD ?= build
OPT ?= -O2
CFLAGS ?= $(OPT) -g
PKGS = libgit2 sqlite3 libsodium jansson openblas lapacke zlib

ifeq ($(DEVELOPER),1)
WARN = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wshadow -Wstrict-prototypes -Wvla
else
WARN = -Wall
endif
ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Iinclude -Icore -Istore -Icmd -pthread \
	$(PKG_CFLAGS) $(WARN) $(SANFLAGS) $(CFLAGS)
LIBS = $(PKG_LIBS) -lm -ldl -pthread

LIB_SRC = $(sort $(wildcard core/*.c) $(wildcard store/*.c))
CMD_SRC = $(sort $(wildcard cmd/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CMD_OBJ = $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_OBJ = $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)
HELPER_SRC = $(sort $(wildcard tests/helpers/*.c))
HELPER_BIN = $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/helpers/%)

.PHONY: all deps test check unit demo asan fuzz bench clean install lint
.DEFAULT_GOAL := all

all: $(BUILD)/resque $(BUILD)/libresque.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libresque.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/resque: $(CMD_OBJ) $(BUILD)/libresque.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/libresque.a $(LIBS)

$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libresque.a
	$(CC) $(ALL_CFLAGS) -o $@ $(UNIT_OBJ) $(BUILD)/libresque.a $(LIBS)

$(BUILD)/helpers/%: tests/helpers/%.c $(BUILD)/libresque.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libresque.a $(LIBS)

# LD_PRELOAD shims for fault injection (tests/helpers/NAME.so.c): shared
# objects without the sanitizers (a preloaded library comes before their
# runtime; the tests set verify_asan_link_order=0).
$(BUILD)/helpers/%.so: tests/helpers/%.so.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -fPIC -shared $(WARN) $(OPT) -g -o $@ $< -ldl

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)

deps:
	@sh scripts/install-deps.sh

# The README's test command: everything that needs no network nor GPU,
# in three stages (tests/stages.sh) closing with one "N passed, N failed".
test:
	@sh scripts/install-deps.sh fuzz
	@MAKE="$(MAKE)" BUILD="$(BUILD)" FUZZ_SECONDS="$(FUZZ_SECONDS)" sh tests/stages.sh

# The suite alone, once: unit tests and every tests/t*.sh.
check: deps
	@$(MAKE) --no-print-directory all $(BUILD)/unit-tests $(HELPER_BIN)
	@RESQUE_BUILD=$(abspath $(BUILD)) sh tests/run

demo: deps
	@$(MAKE) --no-print-directory all
	@RESQUE_BUILD=$(abspath $(BUILD)) sh scripts/demo.sh

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 check

FUZZ_SECONDS ?= 30
fuzz:
	@sh scripts/install-deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
		SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libresque.a
	@sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

bench: deps
	@$(MAKE) --no-print-directory all $(HELPER_BIN)
	@RESQUE_BUILD=$(abspath $(BUILD)) sh tests/bench/run.sh

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/resque
	install -m 755 $(BUILD)/resque $(DESTDIR)$(PREFIX)/bin/resque
	install -m 644 $(BUILD)/libresque.a $(DESTDIR)$(PREFIX)/lib/libresque.a
	install -m 644 include/resque/*.h $(DESTDIR)$(PREFIX)/include/resque/

clean:
	rm -rf build build-asan build-fuzz
