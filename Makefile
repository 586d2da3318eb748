# resque — build, test, demo, sanitizers, fuzzing and benchmarks.
#   make            build build/resque and build/libresque.a (the public
#                   library: only what include/resque/ declares is exported)
#   make test       install missing packages (as root), build, run every test:
#                   the suite, the suite under ASan+UBSan, each fuzz target
#                   for FUZZ_SECONDS (tests/stages.sh; CI runs this)
#   make check      the suite alone (quick: what a developer runs)
#   make demo       install, build, run a model's life cycle on bundled data
#   make example    the PyTorch example (examples/shapes): a CNN and three updates
#   make example-dask  resque.dask on generated shards against one machine
#   make asan       the whole suite under AddressSanitizer + UBSan
#   make fuzz       each libFuzzer target for FUZZ_SECONDS seconds
#   make bench      benchmarks against reference tools (not tests)
#   make unit       the C unit tests alone
#   make lint       cppcheck on core/ store/ cmd/ (fails on any finding)
#   make install    PREFIX (/usr/local) and DESTDIR: the binary, libresque.a,
#                   include/resque/*.h, a resque.pc for pkg-config, the man
#                   pages (share/man/man1) and the bash and zsh completion
#                   (share/bash-completion/completions/resque,
#                   share/zsh/site-functions/_resque); the
#                   Python package python/resque into PYTHON_SITE (the
#                   purelib directory of PYTHON, /usr/bin/python3; skipped
#                   with a note when there is no such Python)
#   DEVELOPER=1     -Wall and STRICT_WARN as errors (at any OPT: -O0, -O1,
#                   -O2); CI builds so
#   STRICT=1        STRICT_WARN as warnings, without DEVELOPER=1

CC ?= cc
LD = ld
OBJCOPY = objcopy
BUILD ?= build
OPT ?= -O2
CFLAGS ?= $(OPT) -g
PKGS = libgit2 sqlite3 libsodium jansson openblas lapacke zlib
# What is linked: all of PKGS but OpenBLAS and LAPACKE, whose headers are
# compiled against and whose libraries core/base/linalg.c loads with
# dlopen on first use, so that commands doing no linear algebra do not
# relocate them at start-up (docs/PERFORMANCE.md, "Start-up").
LINK_PKGS = $(filter-out openblas lapacke,$(PKGS))

# The warnings the tree is kept clean of, as errors in DEVELOPER=1 builds
# and in CI (tests/stages.sh builds with DEVELOPER=1). Like git's DEVELOPER
# flags, -Wextra leaves out unused parameters (callbacks of a fixed type) and
# missing field initializers (option tables name the fields they set).
STRICT_WARN = -Wextra -Wshadow -Wconversion -Wwrite-strings -Wcast-qual \
	-Wno-unused-parameter -Wno-missing-field-initializers

ifeq ($(DEVELOPER),1)
WARN = -Wall -Werror $(STRICT_WARN) -Wstrict-prototypes -Wvla
# Below -O2 GCC's value-range analysis is too weak for -Wformat-truncation
# (it can warn on an snprintf into a buffer sized for every value that can
# occur, as `make DEVELOPER=1 asan` at -O1 once did): there it stays a
# warning, not an error; -O2 builds keep it an error.
ifneq ($(filter -O0 -O1 -Og,$(OPT)),)
WARN += -Wno-error=format-truncation
endif
else
WARN = -Wall
endif
ifeq ($(STRICT),1)
ifneq ($(DEVELOPER),1)
WARN += $(STRICT_WARN)
endif
endif
ifeq ($(SAN),1)
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(LINK_PKGS) 2>/dev/null)
# Every folder of sources is on the include path: an internal header lives
# beside its module and is included by name ("json.h"); a public one as
# "resque/NAME.h" (docs/ARCHITECTURE.md, "Where things are").
SRC_DIRS := $(sort $(shell find core store cmd -type d))
INCLUDES = -Iinclude $(addprefix -I,$(SRC_DIRS))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(INCLUDES) -pthread -fvisibility=hidden \
	$(PKG_CFLAGS) $(WARN) $(SANFLAGS) $(CFLAGS)
# --as-needed: a library none of whose symbols is used is not loaded at
# start-up; -O1: smaller dynamic symbol hash tables.
LIBS = -Wl,--as-needed -Wl,-O1 $(PKG_LIBS) -lm -ldl -pthread

LIB_SRC = $(sort $(shell find core store -name "*.c"))
CMD_SRC = $(sort $(wildcard cmd/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CMD_OBJ = $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_OBJ = $(UNIT_SRC:%.c=$(BUILD)/obj/%.o)
HELPER_SRC = $(sort $(wildcard tests/helpers/*.c))
HELPER_BIN = $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/helpers/%)

.PHONY: FORCE all deps pkgcheck test check unit demo example example-dask asan fuzz bench clean install lint
.DEFAULT_GOAL := all

all: $(BUILD)/resque $(BUILD)/libresque.a $(BUILD)/libresque-internal.a $(BUILD)/doc/stamp

# The Debian package of each of PKGS: a missing one is named at the start of
# the build, not found later as a compile error.
DEB_libgit2 = libgit2-dev
DEB_sqlite3 = libsqlite3-dev
DEB_libsodium = libsodium-dev
DEB_jansson = libjansson-dev
DEB_openblas = libopenblas-dev
DEB_lapacke = liblapacke-dev
DEB_zlib = zlib1g-dev
pkgcheck:
	@command -v pkg-config >/dev/null 2>&1 || \
		{ echo "missing: pkg-config (apt-get install pkg-config)" >&2; exit 1; }
	@st=0; for p in $(foreach p,$(PKGS),$(p):$(or $(DEB_$(p)),lib$(p)-dev)); do \
		pkg-config --exists "$${p%%:*}" || \
			{ echo "missing: $${p%%:*} (apt-get install $${p#*:})" >&2; st=1; }; \
	done; \
	[ $$st -eq 0 ] || { echo "install them (as root: sh scripts/install-deps.sh), then make again" >&2; exit 1; }

# The compiler and flags objects were built with (after git's GIT-CFLAGS):
# a change of them (CC, DEVELOPER, STRICT, OPT, SAN...) rebuilds every object.
$(BUILD)/CFLAGS: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(ALL_CFLAGS)' | cmp -s - $@ || echo '$(CC) $(ALL_CFLAGS)' >$@

$(BUILD)/obj/%.o: %.c $(BUILD)/CFLAGS | pkgcheck
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Two archives of the same objects. libresque-internal.a has every symbol:
# the resque command, the unit tests, the helpers and the fuzz targets use
# internal functions. libresque.a, the one installed, is the objects linked
# into one (ld -r) whose hidden symbols are then made local: a program
# linking it sees only the functions include/resque/ declares with RQ_EXTERN
# (everything is compiled with -fvisibility=hidden), as a shared library
# would show them.
$(BUILD)/libresque-internal.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libresque.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ $(BUILD)/libresque.o
	$(LD) -r -o $(BUILD)/libresque.o $^
	$(OBJCOPY) --localize-hidden $(BUILD)/libresque.o
	ar rcs $@ $(BUILD)/libresque.o

$(BUILD)/resque: $(CMD_OBJ) $(BUILD)/libresque-internal.a
	$(CC) $(ALL_CFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/libresque-internal.a $(LIBS)

# The man pages and the bash and zsh completion, written by the binary from
# the commands' option tables (cmd/gendoc.c), so that they document exactly
# what the parser accepts (tests/t0910-man-completion.sh checks).
$(BUILD)/doc/stamp: $(BUILD)/resque
	rm -rf $(BUILD)/doc
	$(BUILD)/resque --gen-docs $(BUILD)/doc
	touch $@
$(BUILD)/unit-tests: $(UNIT_OBJ) $(BUILD)/libresque-internal.a
	$(CC) $(ALL_CFLAGS) -o $@ $(UNIT_OBJ) $(BUILD)/libresque-internal.a $(LIBS)

$(BUILD)/helpers/%: tests/helpers/%.c $(BUILD)/libresque-internal.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/libresque-internal.a $(LIBS)

# LD_PRELOAD shims for fault injection (tests/helpers/NAME.so.c): shared
# objects without the sanitizers (a preloaded library comes before their
# runtime; the tests set verify_asan_link_order=0).
$(BUILD)/helpers/%.so: tests/helpers/%.so.c $(BUILD)/CFLAGS
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -fPIC -shared $(WARN) $(OPT) -g -o $@ $< -ldl

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)

deps:
	@sh scripts/install-deps.sh

# The C unit tests alone (tests/unit; a pattern in UNIT selects tests).
unit: $(BUILD)/unit-tests
	@RQ_TESTDATA=$(abspath tests/data) $(BUILD)/unit-tests $(UNIT)

# cppcheck (installed on demand) on the library and the commands; any
# finding fails. False positives are suppressed in scripts/cppcheck.supp,
# each with its reason. jansson.h is read for its iteration macros
# (json_object_foreach), which cppcheck cannot guess.
LINT_FLAGS = --enable=warning,portability --std=c11 -D_GNU_SOURCE \
	--error-exitcode=1 --inline-suppr --quiet \
	--suppressions-list=scripts/cppcheck.supp \
	--template='{file}:{line}: {severity}: {message} [{id}]' \
	--include=$(shell pkg-config --variable=includedir jansson)/jansson.h \
	$(INCLUDES)
lint:
	@sh scripts/install-deps.sh lint
	cppcheck $(LINT_FLAGS) core store cmd

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

# The PyTorch example of the Python companion (a few minutes on 2 cores).
example: deps
	@$(MAKE) --no-print-directory all
	@RESQUE_BIN=$(abspath $(BUILD))/resque /usr/bin/python3 examples/shapes/shapes.py

# resque.dask on generated shards (examples/dask): a 2-worker LocalCluster
# against the single machine (python3-dask, python3-distributed).
example-dask: deps
	@$(MAKE) --no-print-directory all
	@RESQUE_BIN=$(abspath $(BUILD))/resque PYTHONPATH=$(abspath python) \
		/usr/bin/python3 examples/dask/dask_example.py

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT=-O1 check

FUZZ_SECONDS ?= 30
fuzz:
	@sh scripts/install-deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang OPT=-O1 \
		SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libresque-internal.a
	@sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

bench: deps
	@$(MAKE) --no-print-directory all $(HELPER_BIN)
	@RESQUE_BUILD=$(abspath $(BUILD)) sh tests/bench/run.sh

PREFIX ?= /usr/local
PYTHON ?= /usr/bin/python3
PYTHON_SITE ?= $(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_path('purelib'))" 2>/dev/null)
VERSION := $(shell sed -n 's/^\#define RQ_VERSION "\(.*\)"/\1/p' include/resque/version.h)

# resque.pc for pkg-config, made afresh for this PREFIX: the static
# library's private dependencies are Requires.private (LINK_PKGS: OpenBLAS
# and LAPACKE are loaded at run time, see LINK_PKGS) and Libs.private
# (`pkg-config --static --libs resque`).
install: all
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
		-e 's|@REQUIRES@|$(LINK_PKGS)|' resque.pc.in >$(BUILD)/resque.pc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/resque \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(BUILD)/resque $(DESTDIR)$(PREFIX)/bin/resque
	install -m 644 $(BUILD)/libresque.a $(DESTDIR)$(PREFIX)/lib/libresque.a
	install -m 644 include/resque/*.h $(DESTDIR)$(PREFIX)/include/resque/
	install -m 644 $(BUILD)/resque.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/resque.pc
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions
	install -m 644 $(BUILD)/doc/man1/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(BUILD)/doc/bash/resque $(DESTDIR)$(PREFIX)/share/bash-completion/completions/resque
	install -m 644 $(BUILD)/doc/zsh/_resque $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_resque
	@if [ -n "$(PYTHON_SITE)" ]; then \
		echo "install -m 644 python/resque/*.py python/resque/py.typed $(DESTDIR)$(PYTHON_SITE)/resque/"; \
		install -d $(DESTDIR)$(PYTHON_SITE)/resque && \
		install -m 644 python/resque/*.py python/resque/py.typed $(DESTDIR)$(PYTHON_SITE)/resque/; \
	else echo "note: no $(PYTHON): the Python package (python/resque) is not installed"; fi

clean:
	rm -rf build build-asan build-fuzz
