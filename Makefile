# flashd: one non-recursive Makefile.  Objects go to build/<variant>/ mirroring
# the tree; SANITIZE=1 builds build/asan with ASan+UBSan, TSAN=1 build/tsan
# with ThreadSanitizer (make check-tsan).  Folders are found
# by wildcard, so adding a .c file needs no edit here.
#
#   make deps      install every build/test dependency (Debian 12, as root)
#   make           build flashd, flashctl, flashsim and the tests
#   make check     build and run every test; ends with "N passed, N failed"
#   make check-tsan  the thread tests (TSAN_TESTS) under ThreadSanitizer
#   make demo      the main job: flashd serving simulated boards
#   make install   PREFIX=/usr DESTDIR=...

PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
DESTDIR ?=

V ?= 0
Q := $(if $(filter 1,$(V)),,@)

VARIANT := $(if $(SANITIZE),asan,default)
B := build/$(VARIANT)

PKGS := libusb-1.0 libudev libsystemd sqlite3 libcjson zlib nettle
SIM_PKGS := umockdev-1.0 glib-2.0 gobject-2.0 gio-2.0 libcjson

WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
BASE_CFLAGS := -std=gnu11 -O2 -g $(WARN) -MMD -MP -D_GNU_SOURCE -I.
# The preload shim goes into unmodified clients: the base flags, no sanitizer.
SHIM_CFLAGS := $(BASE_CFLAGS)
comma := ,
SAN_FLAGS := $(if $(SANITIZE),-fsanitize=address$(comma)undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
# TSAN=1 builds build/tsan with ThreadSanitizer; only TSAN_TESTS are built
# there (make check-tsan), since TSan and ASan cannot share a program.
ifdef TSAN
VARIANT := tsan
B := build/tsan
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif

PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
SIM_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(SIM_PKGS) 2>/dev/null)
SIM_LIBS = $(shell $(PKG_CONFIG) --libs $(SIM_PKGS) 2>/dev/null)

CFLAGS ?=
LDFLAGS ?=
ALL_CFLAGS = $(BASE_CFLAGS) $(SAN_FLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS) -lm -lpthread

# filter-out takes one %: name the folder so test-*.c files stay out of libraries.
srcs = $(filter-out $(1)/test-%.c,$(wildcard $(1)/*.c))
objs = $(patsubst %.c,$(B)/%.o,$(1))

COMMON_SRCS := $(call srcs,common)
PROTO_SRCS := $(call srcs,protocols)
DB_SRCS := $(call srcs,db)
JOBS_SRCS := $(call srcs,jobs)
DAEMON_MAINS := daemon/flashd.c daemon/flashctl.c
DAEMON_SRCS := $(filter-out $(DAEMON_MAINS),$(call srcs,daemon))
# flashctl fleet (issue 20): libpq, linked into flashctl only (never flashd).
FLEET_SRCS := daemon/flashctl-fleet.c
FLEET_SRCS += daemon/flashctl-fleet-pool.c
DAEMON_SRCS := $(filter-out $(FLEET_SRCS),$(DAEMON_SRCS))
BOARD_SRCS := $(call srcs,tests/sim/boards)
SIM_SRCS := $(call srcs,tests/sim)
USBIP_SRCS := $(call srcs,tests/sim/usbip)
SHIM_SRCS := $(wildcard tests/sim/shim/*.c)
TOOL_SRCS := $(wildcard tests/tools/*.c)

LIB_COMMON := $(B)/libcommon.a
LIB_PROTO := $(B)/libprotocols.a
LIB_DB := $(B)/libdb.a
LIB_JOBS := $(B)/libjobs.a
LIB_DAEMON := $(B)/libdaemon.a
LIB_BOARDS := $(B)/libsimboards.a
PRODUCT_LIBS := $(LIB_DAEMON) $(LIB_JOBS) $(LIB_PROTO) $(LIB_DB) $(LIB_COMMON)

FLASHD := $(if $(wildcard daemon/flashd.c),$(B)/flashd)
FLASHCTL := $(if $(wildcard daemon/flashctl.c),$(B)/flashctl)
FLASHSIM := $(if $(SIM_SRCS),$(B)/flashsim)
SHIM := $(if $(SHIM_SRCS),$(B)/libflashsim-shim.so)
USBIP_SIM := $(if $(USBIP_SRCS),$(B)/usbip-sim)
TOOLS := $(patsubst tests/tools/%.c,$(B)/tests/tools/%,$(TOOL_SRCS))

# C tests: tests/<folder>/test-*.c.  Board tests link the board library only
# (it may include libc only); every other test links the product libraries.
BOARD_TEST_SRCS := $(wildcard tests/sim/boards/test-*.c)
PRODUCT_TEST_SRCS := $(filter-out tests/sim/%,$(wildcard tests/*/test-*.c tests/*/*/test-*.c))
BOARD_TESTS := $(patsubst %.c,$(B)/%,$(BOARD_TEST_SRCS))
PRODUCT_TESTS := $(patsubst %.c,$(B)/%,$(PRODUCT_TEST_SRCS))

ALL_TARGETS := $(FLASHD) $(FLASHCTL) $(FLASHSIM) $(SHIM) $(USBIP_SIM) $(TOOLS) $(BOARD_TESTS) $(PRODUCT_TESTS)
# The rig's own unit tests (tests/sim/test-*.c, e.g. the hub bandwidth model).
SIM_TESTS := $(patsubst %.c,$(B)/%,$(wildcard tests/sim/test-*.c))
ALL_TARGETS += $(SIM_TESTS)

.PHONY: all check check-system deps demo install clean format check-format check-includes bench check-valgrind
# Keep objects of programs built by pattern rules (test tools) between runs.
.SECONDARY:
all: $(ALL_TARGETS)

# Rebuild everything when the flags change (git's GIT-CFLAGS idea).
$(B)/flags.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(ALL_CFLAGS) $(ALL_LDFLAGS)' | cmp -s - $@ || echo '$(ALL_CFLAGS) $(ALL_LDFLAGS)' > $@
FORCE:

# Product code: pkg-config flags of the product packages.
$(B)/common/%.o $(B)/protocols/%.o $(B)/db/%.o $(B)/jobs/%.o $(B)/daemon/%.o $(B)/tests/tools/%.o: EXTRA = $(PKG_CFLAGS)
$(B)/tests/%.o: EXTRA = $(PKG_CFLAGS)
# Board models: libc only, on purpose (no pkg-config include paths).
$(B)/tests/sim/boards/%.o: EXTRA =
$(B)/tests/sim/%.o: EXTRA = $(SIM_CFLAGS)

$(B)/gen/%.o: $(B)/gen/%.c $(B)/flags.stamp
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/%.o: %.c $(B)/flags.stamp
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(EXTRA) -c $< -o $@

$(B)/lib%.a:
	@mkdir -p $(@D)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIB_COMMON): $(call objs,$(COMMON_SRCS))
$(LIB_PROTO): $(call objs,$(PROTO_SRCS))
# db/schema.sql is the schema of record; it is compiled in as a C string.
DB_SCHEMA_C := $(B)/gen/db_schema.c
$(DB_SCHEMA_C): db/schema.sql
	@mkdir -p $(@D)
	$(Q){ echo '/* Generated from db/schema.sql by the Makefile. */'; \
	  echo 'const char db_schema_sql[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@
$(B)/gen/%.o: EXTRA =
$(LIB_DB): $(call objs,$(DB_SRCS)) $(if $(wildcard db/schema.sql),$(B)/gen/db_schema.o)
$(LIB_JOBS): $(call objs,$(JOBS_SRCS))
$(LIB_DAEMON): $(call objs,$(DAEMON_SRCS))
$(LIB_BOARDS): $(call objs,$(BOARD_SRCS))

$(B)/flashd $(B)/flashctl: $(B)/%: $(B)/daemon/%.o $(PRODUCT_LIBS)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(ALL_LDFLAGS)

# Board models are only weakly referenced (board.c), and a weak reference
# pulls no member out of an archive: link the whole board library.
$(FLASHSIM): $(call objs,$(SIM_SRCS)) $(LIB_BOARDS)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $(filter %.o,$^) -Wl,--whole-archive $(LIB_BOARDS) -Wl,--no-whole-archive \
		$(SIM_LIBS) $(ALL_LDFLAGS)

# The USB/IP front-end runs inside the system-test VM (tests/vm/): the same
# board models as flashsim, plus the scenario parser and timer thread, with
# no umockdev or GLib (libc, pthread, cJSON and nettle's SHA-256 only).
$(B)/tests/sim/usbip/%.o: EXTRA = $(shell $(PKG_CONFIG) --cflags nettle 2>/dev/null)
$(USBIP_SIM): $(call objs,$(USBIP_SRCS)) $(B)/tests/sim/scenario.o $(B)/tests/sim/sched.o $(LIB_BOARDS)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $(filter %.o,$^) -Wl,--whole-archive $(LIB_BOARDS) -Wl,--no-whole-archive \
		$(shell $(PKG_CONFIG) --libs libcjson nettle) $(ALL_LDFLAGS)

# The shim is preloaded into unmodified clients (dfu-util, uuu ...), which are
# not sanitizer builds: never instrument it.
# One source, so -MMD writes one dependency file: header edits rebuild it.
$(SHIM): $(SHIM_SRCS) $(B)/flags.stamp
	@mkdir -p $(@D)
	@echo "  CCLD    $@"
	$(Q)$(CC) $(SHIM_CFLAGS) -MF $@.d -MT $@ -fPIC -shared -o $@ $(SHIM_SRCS) -ldl
-include $(SHIM).d

$(B)/tests/tools/%: $(B)/tests/tools/%.o $(PRODUCT_LIBS)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(ALL_LDFLAGS)

# ingenic-raw is an independent client of the Ingenic protocol (libusb, zlib
# and libc only, tests/sim/test-ingenic.sh): it links no product library, so it
# cannot share a bug with the engine it is checked against.
$(B)/tests/tools/ingenic-raw: $(B)/tests/tools/ingenic-raw.o
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(shell $(PKG_CONFIG) --libs libusb-1.0 zlib) $(ALL_LDFLAGS)

# usbfs-hog, another program holding usbfs memory (tests/sim/test-usbfs-memory.sh):
# libusb and libc only.
$(B)/tests/tools/usbfs-hog: $(B)/tests/tools/usbfs-hog.o
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(shell $(PKG_CONFIG) --libs libusb-1.0) $(ALL_LDFLAGS)

# tests/sim/test-hubbw.c: hubbw.c and the board models (libc, pthread, cJSON).
$(SIM_TESTS): $(B)/%: $(B)/%.o $(B)/tests/sim/hubbw.o $(LIB_BOARDS)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $(filter %.o,$^) -Wl,--whole-archive $(LIB_BOARDS) -Wl,--no-whole-archive \
		$(shell $(PKG_CONFIG) --libs libcjson) -lpthread $(ALL_LDFLAGS)

$(BOARD_TESTS): $(B)/%: $(B)/%.o $(LIB_BOARDS)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $< -Wl,--whole-archive $(LIB_BOARDS) -Wl,--no-whole-archive $(ALL_LDFLAGS)

# Each test links only its own layer and the layers below it (as iwd gives
# each unit test its own list): a tests/protocols/ test that reaches into db/
# or jobs/ does not link.  Folders not listed link the whole product.
TEST_LIBS_common := $(LIB_COMMON)
TEST_LIBS_protocols := $(LIB_PROTO) $(LIB_COMMON)
TEST_LIBS_db := $(LIB_DB) $(LIB_COMMON)
TEST_LIBS_jobs := $(LIB_JOBS) $(LIB_PROTO) $(LIB_DB) $(LIB_COMMON)
# The job and station state machines are tested together (a fake engine).
TEST_LIBS_tests/jobs/test-job-states := $(PRODUCT_LIBS)
test_libs = $(or $(TEST_LIBS_$(1)),$(TEST_LIBS_$(word 2,$(subst /, ,$(1)))),$(PRODUCT_LIBS))
.SECONDEXPANSION:
$(PRODUCT_TESTS): $(B)/%: $(B)/%.o $$(call test_libs,$$*)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(ALL_LDFLAGS)

# flashd-web (web/, web/flashd-web.8): the line page, read-only API and
# metrics over libmicrohttpd.  web/hooks*.c belong to flashd-hooks.
WEB_SRCS := $(filter-out web/hooks% web/test-%,$(wildcard web/*.c))
FLASHD_WEB := $(if $(WEB_SRCS),$(B)/flashd-web)
WEB_CFLAGS = $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
WEB_LIBS = $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null)
$(B)/web/%.o: EXTRA = $(PKG_CFLAGS) $(WEB_CFLAGS)
# The page is compiled in as a C string, as db/schema.sql is.
WEB_PAGE_C := $(B)/gen/web_page.c
$(WEB_PAGE_C): web/page.html
	@mkdir -p $(@D)
	$(Q){ echo '/* Generated from web/page.html by the Makefile. */'; \
	  echo 'const char web_page_html[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@
$(FLASHD_WEB): $(call objs,$(WEB_SRCS)) $(B)/gen/web_page.o $(PRODUCT_LIBS)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(WEB_LIBS) $(ALL_LDFLAGS)
all: $(FLASHD_WEB)

check: all
	$(Q)tests/run-tests.sh $(B)

# The tests whose threads matter, built with ThreadSanitizer into build/tsan
# and run by tests/jobs/test-job-states-tsan.sh (one more suite of make check;
# it finds no race or it fails).
TSAN_TEST_SRCS := tests/jobs/test-job-states.c
TSAN_TESTS := $(patsubst %.c,build/tsan/%,$(TSAN_TEST_SRCS))
.PHONY: tsan-tests check-tsan
tsan-tests:
	$(Q)$(MAKE) -s --no-print-directory TSAN=1 $(TSAN_TESTS)
check: tsan-tests
check-tsan: tsan-tests
	$(Q)SUITES=-tsan.sh tests/run-tests.sh $(B)

# The system tier: flashd installed into a Debian 12 VM (qemu TCG, real
# kernel, systemd, udevd), boards attached over USB/IP (tests/vm/README.md).
# VM_CASES=reload,norule runs only those cases.
check-system: all
	$(Q)tests/vm/run-vm.sh $(B)

# The C unit tests under valgrind (memcheck, leaks).  The programs that run
# under flashsim's LD_PRELOAD are covered by SANITIZE=1 instead.
check-valgrind: all
	$(Q)fail=0; for t in $(BOARD_TESTS) $(PRODUCT_TESTS); do \
		echo "== valgrind $$t"; \
		valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
			$$t > $$t.valgrind.log 2>&1 || { fail=1; tail -30 $$t.valgrind.log; }; \
	done; exit $$fail

demo: all
	$(Q)tests/demo/run-demo.sh $(B)

# Every build and test dependency, from Debian 12 packages.  Idempotent.
DEB_PKGS := build-essential pkg-config libusb-1.0-0-dev libudev-dev libsystemd-dev \
	libsqlite3-dev sqlite3 libcjson-dev umockdev libumockdev-dev libglib2.0-dev \
	dfu-util valgrind python3 systemd imx-usb-loader uuu fastboot \
	qemu-system-x86 mmdebstrap gpg busybox-static e2fsprogs zlib1g-dev nettle-dev \
	libmicrohttpd-dev chromium prometheus postgresql libpq-dev clang-format
deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing:" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "All dependencies are installed."; fi

# Installation: binaries, unit, sysusers/tmpfiles, udev rules, man pages and
# an example configuration (never overwriting one that exists).
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
UNITDIR ?= $(or $(shell $(PKG_CONFIG) --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
UDEVDIR ?= $(or $(shell $(PKG_CONFIG) --variable=udevdir udev 2>/dev/null),/lib/udev)
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
install: $(FLASHD) $(FLASHCTL)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(UDEVDIR)/rules.d \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)/etc/flashd/recipes
	install -m 0755 $(FLASHD) $(FLASHCTL) $(DESTDIR)$(BINDIR)/
	sed 's|/usr/bin/flashd|$(BINDIR)/flashd|' systemd/flashd.service > $(DESTDIR)$(UNITDIR)/flashd.service
	install -m 0644 systemd/flashd.sysusers $(DESTDIR)$(SYSUSERSDIR)/flashd.conf
	install -m 0644 systemd/flashd.tmpfiles $(DESTDIR)$(TMPFILESDIR)/flashd.conf
	install -m 0644 udev/70-flashd.rules $(DESTDIR)$(UDEVDIR)/rules.d/
	install -m 0644 daemon/flashctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 jobs/flashd.recipe.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 daemon/flashd.8 $(DESTDIR)$(MANDIR)/man8/
	[ -e $(DESTDIR)/etc/flashd/flashd.conf ] || install -m 0644 daemon/flashd.conf $(DESTDIR)/etc/flashd/flashd.conf

# flashd-hooks (web/hooks*.c): the result hooks, a program of its own that
# reads flashd's event stream (flashd-hooks(8)).  Only web/hooks*.c: the
# rest of web/ is flashd-web's.
HOOKS_SRCS := $(wildcard web/hooks*.c)
HOOKS := $(if $(HOOKS_SRCS),$(B)/flashd-hooks)
all: $(HOOKS)
$(HOOKS): $(call objs,$(HOOKS_SRCS)) $(LIB_COMMON)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(ALL_LDFLAGS)
-include $(patsubst %.o,%.d,$(call objs,$(HOOKS_SRCS)))
.PHONY: install-hooks
install: install-hooks
install-hooks: $(HOOKS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)/etc/flashd
	install -m 0755 $(HOOKS) $(DESTDIR)$(BINDIR)/
	sed 's|/usr/bin/flashd-hooks|$(BINDIR)/flashd-hooks|' systemd/flashd-hooks.service > $(DESTDIR)$(UNITDIR)/flashd-hooks.service
	install -m 0644 web/flashd-hooks.8 $(DESTDIR)$(MANDIR)/man8/
	[ -e $(DESTDIR)/etc/flashd/hooks.conf ] || install -m 0644 web/hooks.conf $(DESTDIR)/etc/flashd/hooks.conf

# flashd-web: binary, hardened unit, its user (sysusers), man page and an
# example web.conf (never overwriting one that exists).
.PHONY: install-web
install: install-web
install-web: $(FLASHD_WEB)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)/etc/flashd
	install -m 0755 $(FLASHD_WEB) $(DESTDIR)$(BINDIR)/
	sed 's|/usr/bin/flashd-web|$(BINDIR)/flashd-web|' systemd/flashd-web.service > $(DESTDIR)$(UNITDIR)/flashd-web.service
	install -m 0644 systemd/flashd-web.sysusers $(DESTDIR)$(SYSUSERSDIR)/flashd-web.conf
	install -m 0644 web/flashd-web.8 $(DESTDIR)$(MANDIR)/man8/
	[ -e $(DESTDIR)/etc/flashd/web.conf ] || install -m 0644 web/web.conf $(DESTDIR)/etc/flashd/web.conf

# flashd-sync (sync/, issue 20): ships the station outbox to the fleet's
# PostgreSQL with libpq.  Its SQL migrations (sync/schema/NNN-*.sql) are
# compiled in as sync_migrations[], in version order.
SYNC_SRCS := $(call srcs,sync)
SYNC_SQL := $(sort $(wildcard sync/schema/*.sql))
FLASHD_SYNC := $(if $(SYNC_SRCS),$(B)/flashd-sync)
PQ_CFLAGS = $(shell $(PKG_CONFIG) --cflags libpq 2>/dev/null)
PQ_LIBS = $(shell $(PKG_CONFIG) --libs libpq 2>/dev/null)
$(B)/sync/%.o: EXTRA = $(PKG_CFLAGS) $(PQ_CFLAGS)
SYNC_SCHEMA_C := $(B)/gen/sync_schema.c
$(SYNC_SCHEMA_C): $(SYNC_SQL)
	@mkdir -p $(@D)
	$(Q){ echo '/* Generated from sync/schema/ by the Makefile. */'; \
	  echo '#include "sync/schema.h"'; \
	  echo 'const struct sync_migration sync_migrations[] = {'; \
	  for f in $(SYNC_SQL); do \
	    b=$$(basename $$f); \
	    echo "{ $$(echo $$b | sed 's/^0*\([0-9][0-9]*\).*/\1/'), \"$$b\","; \
	    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $$f; \
	    echo '},'; \
	  done; \
	  echo '};'; \
	  echo 'const size_t sync_n_migrations = ARRAY_SIZE(sync_migrations);'; } > $@
$(FLASHD_SYNC): $(call objs,$(SYNC_SRCS)) $(B)/gen/sync_schema.o $(LIB_DB) $(LIB_COMMON)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(PQ_LIBS) $(ALL_LDFLAGS)
all: $(FLASHD_SYNC)
$(B)/daemon/flashctl-fleet.o: EXTRA = $(PKG_CFLAGS) $(PQ_CFLAGS)
$(B)/daemon/flashctl-fleet-pool.o: EXTRA = $(PKG_CFLAGS) $(PQ_CFLAGS)
$(B)/flashctl: $(call objs,$(FLEET_SRCS))
# The link line has this object after the libraries: name them again after it.
$(B)/flashctl: PKG_LIBS += $(PRODUCT_LIBS) $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) $(PQ_LIBS)
-include $(patsubst %.o,%.d,$(call objs,$(FLEET_SRCS)))
-include $(patsubst %.o,%.d,$(call objs,$(SYNC_SRCS)))

.PHONY: install-sync
install: install-sync
install-sync: $(FLASHD_SYNC)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)/etc/flashd $(DESTDIR)$(PREFIX)/share/flashd/sync-schema
	install -m 0755 $(FLASHD_SYNC) $(DESTDIR)$(BINDIR)/
	sed 's|/usr/bin/flashd-sync|$(BINDIR)/flashd-sync|' systemd/flashd-sync.service \
		> $(DESTDIR)$(UNITDIR)/flashd-sync.service
	install -m 0644 systemd/flashd-sync.sysusers $(DESTDIR)$(SYSUSERSDIR)/flashd-sync.conf
	install -m 0644 sync/flashd-sync.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(SYNC_SQL) $(DESTDIR)$(PREFIX)/share/flashd/sync-schema/
	[ -e $(DESTDIR)/etc/flashd/sync.conf ] || install -m 0640 sync/sync.conf $(DESTDIR)/etc/flashd/sync.conf

check-includes:
	$(Q)bash tests/test-includes.sh

CLANG_FORMAT ?= clang-format
FORMAT_FILES = $(shell git ls-files '*.c' '*.h')
format:
	$(Q)$(CLANG_FORMAT) -i $(FORMAT_FILES)
# Fails on any difference (CI runs it): `make format` fixes the tree.
check-format:
	$(Q)$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

ALL_OBJS := $(call objs,$(COMMON_SRCS) $(PROTO_SRCS) $(DB_SRCS) $(JOBS_SRCS) $(DAEMON_SRCS) \
	$(DAEMON_MAINS) $(BOARD_SRCS) $(SIM_SRCS) $(USBIP_SRCS) $(TOOL_SRCS) $(BOARD_TEST_SRCS) $(PRODUCT_TEST_SRCS))
-include $(ALL_OBJS:.o=.d)
