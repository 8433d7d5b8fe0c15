# kaio top-level build. Everything built lands in build/ (userspace) or next
# to the module sources (kbuild's choice: module/kaio.ko); see README.md.
#
#   make            module userlib selftests tests tools examples fuzzers
#   make check      deps, all, boot the QEMU guest and run every test there
#                   (libaio's own harness included); last line
#                   "N passed, M failed"; non-zero exit on failure
#   make run        deps, all, boot the guest and run the demo
#   make fuzz       deps, all, the long kaio-fuzz and kaio-stress runs in the
#                   guest (make check runs them short); build/guest-fuzz.log
#   make bench      deps, all, the benchmark matrix in the guest; prints the
#                   ratios and writes build/bench/performance.md and its plot
#                   (~16 min); PUBLISH=1 also copies them to Documentation/
#   make check-debug  deps, all, make check's guest suite on a debug kernel
#                   (lockdep, KASAN, kmemleak; built once into build/debug/);
#                   not in CI: run it before closing an issue about module/
#   make check-libaio  deps, all, only libaio's own regression harness in
#                   the guest on kaio's libaio.so.1
#   make shell      all, then a shell in the guest (debugging)
#   make module C=1 kaio.ko with sparse
#   make deps | initramfs | clean

SHELL := /bin/bash
.DEFAULT_GOAL := all
MAKEFLAGS += --no-print-directory

# Deferred (=): after `make deps` installed a kernel, a sub-make sees it.
KVER ?= $(shell scripts/kver.sh)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build
KSFT := $(BUILD)/ksft
LINUX_SRC_TAR ?= /usr/src/linux-source-6.1.tar.xz

# Sub-makes build in parallel: they share the jobserver of a parallel make
# (`make -jN`, as .ci/run does); a plain `make`/`make check` gives each
# sub-make -j$(nproc) of its own (they run one at a time then). An explicit
# -j, -j1 included, is left alone. Evaluated in recipes, where make 4.3
# first shows -j in MAKEFLAGS.
NPROC := $(shell nproc 2>/dev/null || echo 1)
JOBS = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(NPROC))

# What every userspace sub-make gets: objects go under $(BUILD)/<dir>/,
# guest binaries under $(BUILD)/guest/{tests,bin}/.
SUBVARS = BUILD=$(BUILD) KSFT_INC=$(KSFT) UAPI_INC=$(CURDIR)/uapi

.PHONY: install install-module install-dkms install-udev install-lib install-tools tools-shared install-man uninstall deb all deps module userlib selftests tests tools examples fuzzers initramfs run check check-debug check-libaio fuzz bench shell clean

all: module userlib selftests tests tools examples fuzzers

deps:
	@scripts/deps.sh

# The top-level Kbuild (obj-m += module/) belongs to the module sources.
module:
	@if [ ! -f Kbuild ]; then \
		echo "make module: no Kbuild yet; kaio.ko not built" >&2; \
	elif [ ! -d "$(KDIR)" ]; then \
		echo "make module: no kernel headers at '$(KDIR)'; run make deps" >&2; exit 1; \
	else \
		$(MAKE) $(JOBS) -C $(KDIR) M=$(CURDIR) modules; \
	fi

# Recurse into a userspace directory once its Makefile exists. Recipes
# that use it start with "+": make only sees a literal $(MAKE) as recursion,
# and without it the sub-make gets no jobserver ("jobserver unavailable:
# using -j1. Add '+' to parent make rule").
define subdir
	if [ -f $(1)/Makefile ]; then \
		$(MAKE) $(JOBS) -C $(1) $(SUBVARS) $(2); \
	else \
		echo "make: $(1)/Makefile not there yet; skipped"; \
	fi
endef

userlib:
	+@$(call subdir,userlib)

selftests: $(KSFT)/kselftest_harness.h $(KSFT)/kselftest.h
	+@$(call subdir,selftests/kaio)

tests: userlib
	+@$(call subdir,tests)

tools: userlib
	+@$(call subdir,tools)

examples: userlib
	+@$(call subdir,examples)

# kaio-fuzz, kaio-stress (raw ioctls, no library) and their test wrappers.
fuzzers:
	+@$(call subdir,fuzz)

# The kselftest harness comes from the installed kernel source, never from
# the repo (it must match the kernel the tests run on).
$(KSFT)/kselftest_harness.h $(KSFT)/kselftest.h &: $(LINUX_SRC_TAR)
	@mkdir -p $(KSFT)
	tar -xJf $(LINUX_SRC_TAR) -C $(KSFT) --touch --strip-components=4 \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h

$(LINUX_SRC_TAR):
	@echo "$@ missing: run make deps (package linux-source-6.1)" >&2; exit 1

initramfs:
	scripts/mkinitramfs.sh

# ---- install ---------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=] [KAIO_DEV_MODE=0666]:
#   kaio.ko      /lib/modules/$(KVER)/updates/kaio.ko, then depmod -a $(KVER)
#   DKMS tree    /usr/src/kaio-$(VERSION)/ with dkms.conf (dkms install
#                kaio/$(VERSION) builds it for another kernel)
#   udev rule    $(UDEVRULESDIR)/60-kaio.rules: /dev/kaio's mode,
#                $(KAIO_DEV_MODE) (open to all, as io_setup(2) is)
#   libkaio++    $(LIBDIR): shared, static, pkgconfig/kaio++.pc and kaio.pc;
#                headers and <linux/kaio.h> in $(PREFIX)/include
#   libaio.so.1  $(LIBDIR)/kaio/compat/ (the drop-in, never over the
#                system's libaio: LD_LIBRARY_PATH or LD_PRELOAD picks it)
#   libkaio-posix $(LIBDIR)/libkaio-posix.so.1 (glibc's <aio.h> on kaio:
#                LD_PRELOAD or -lkaio-posix) and kaio-posix.h
#   kaio-demo    $(PREFIX)/bin (linked with the libkaio++.so above)
#   man pages    man/manN/ in $(MANDIR)/manN (uncompressed)
# LIBDIR is Debian's multiarch directory. Without DESTDIR, depmod and
# ldconfig run too. make uninstall (same variables) removes all of it. The
# Debian packages (make deb, debian/rules) use the same install-* targets,
# except install-module: their kaio.ko is built by DKMS.
VERSION := $(shell cat VERSION)
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
# Evaluated once, when first used (dpkg-architecture is slow to start).
MULTIARCH = $(eval MULTIARCH := $$(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || \
	$$(CC) -print-multiarch))$(MULTIARCH)
LIBDIR ?= $(PREFIX)/lib/$(MULTIARCH)
# udev reads /lib/udev/rules.d (Debian's udevdir, packages) and
# /etc/udev/rules.d (the administrator's), never /usr/local.
UDEVRULESDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/udev/rules.d,/etc/udev/rules.d)
KAIO_DEV_MODE ?= 0666
DKMS_SRC = $(DESTDIR)/usr/src/kaio-$(VERSION)
# What the DKMS tree holds: the module's sources (not kbuild's kaio.mod.c).
DKMS_MODULE_FILES = module/Kbuild $(filter-out module/kaio.mod.c,$(wildcard module/*.c)) \
	$(wildcard module/*.h)

install: install-module install-dkms install-udev install-lib install-tools install-man

install-module: module
	install -D -m 0644 module/kaio.ko $(DESTDIR)/lib/modules/$(KVER)/updates/kaio.ko
	$(if $(DESTDIR),,depmod -a $(KVER))

install-dkms:
	install -d $(DKMS_SRC)/module $(DKMS_SRC)/uapi/linux
	sed 's/@VERSION@/$(VERSION)/g' dkms.conf.in >$(DKMS_SRC)/dkms.conf
	chmod 0644 $(DKMS_SRC)/dkms.conf
	install -m 0644 Kbuild VERSION $(DKMS_SRC)/
	install -m 0644 $(DKMS_MODULE_FILES) $(DKMS_SRC)/module/
	install -m 0644 uapi/linux/kaio.h $(DKMS_SRC)/uapi/linux/

install-udev:
	@echo '$(KAIO_DEV_MODE)' | grep -qE '^0?[0-7]{3}$$' || \
		{ echo "KAIO_DEV_MODE=$(KAIO_DEV_MODE): not an octal mode like 0666" >&2; exit 1; }
	install -d $(DESTDIR)$(UDEVRULESDIR)
	sed 's/@KAIO_DEV_MODE@/$(KAIO_DEV_MODE)/g' udev/60-kaio.rules.in >$(DESTDIR)$(UDEVRULESDIR)/60-kaio.rules
	chmod 0644 $(DESTDIR)$(UDEVRULESDIR)/60-kaio.rules
	$(if $(DESTDIR),,-[ ! -S /run/udev/control ] || udevadm control --reload-rules)

install-lib: userlib
	$(MAKE) -C userlib $(SUBVARS) PREFIX=$(PREFIX) LIBDIR=$(LIBDIR) INCLUDEDIR=$(INCLUDEDIR) \
		DESTDIR=$(DESTDIR) install install-compat install-posix
	ln -sf kaio++.pc $(DESTDIR)$(LIBDIR)/pkgconfig/kaio.pc
	$(if $(DESTDIR),,ldconfig)

# kaio-demo linked with libkaio++.so (the guest's build/guest/bin copy is
# static and stays so).
tools-shared: userlib
	+$(MAKE) -C tools $(SUBVARS) $(BUILD)/tools/shared/kaio-demo

install-tools: tools-shared
	install -D -m 0755 $(BUILD)/tools/shared/kaio-demo $(DESTDIR)$(BINDIR)/kaio-demo

install-man:
	for s in 1 3 4 7; do install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 0644 man/man$$s/*.$$s $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done

uninstall:
	rm -f $(DESTDIR)/lib/modules/$(KVER)/updates/kaio.ko
	rm -rf $(DESTDIR)/usr/src/kaio-$(VERSION)
	rm -f $(DESTDIR)$(UDEVRULESDIR)/60-kaio.rules
	rm -f $(addprefix $(DESTDIR)$(LIBDIR)/,libkaio++.a libkaio++.so libkaio++.so.0 \
		libkaio++.so.$(VERSION) pkgconfig/kaio++.pc pkgconfig/kaio.pc \
		libkaio-posix.so.1 libkaio-posix.so)
	rm -rf $(DESTDIR)$(LIBDIR)/kaio $(DESTDIR)$(INCLUDEDIR)/kaio
	rm -f $(DESTDIR)$(INCLUDEDIR)/linux/kaio.h $(DESTDIR)$(INCLUDEDIR)/kaio-posix.h $(DESTDIR)$(BINDIR)/kaio-demo
	rm -f $(foreach p,$(wildcard man/man*/*.[0-9]),$(DESTDIR)$(MANDIR)/$(patsubst man/%,%,$(p)))
	$(if $(DESTDIR),,depmod -a $(KVER))
	$(if $(DESTDIR),,ldconfig)

# Debian packages (debian/, built from a copy of the tracked files) in
# build/deb/: kaio-dkms, libkaio++0, libkaio++-dev, libkaio-libaio1,
# libkaio-posix1, libkaio-posix-dev, kaio-tools; then lintian.
deb:
	@scripts/mkdeb.sh

# deps first, then a fresh make (so KVER is found even on a machine where
# deps just installed the kernel), then the guest.
# The static checks (sparse, checkpatch), the staged install, the manual
# pages (lint, and every call, ioctl and parameter named) and the packages
# (scripts/deb-check.sh: make deb, lintian, dpkg -i here, dkms build for the
# guest kernel, a guest booted with that kaio.ko and nothing loading it; log
# in build/deb/check.log) run on the host first; their results join the
# guest's in the summary line.
check: deps
	@scripts/deps.sh --deb-src
	@$(MAKE) $(JOBS) all
	@$(MAKE) -C tests libaio-harness BUILD=$(abspath build)
	@scripts/static-checks.sh || true
	@scripts/install-check.sh >>build/static-checks.results || true
	@scripts/man-check.sh >>build/static-checks.results || true
	@userlib/posix/tests/host-check.sh $(abspath build) >>build/static-checks.results || true
	@scripts/deb-check.sh | tee -a build/static-checks.results || true
	@KAIO_STATIC_RESULTS=build/static-checks.results scripts/run-guest.sh check

# The debug kernel and kaio.ko built against it live in build/debug/
# (scripts/debug-kernel.sh, scripts/check-debug.sh); console in
# build/debug/guest-check.log.
# A second pass with the request cache on (the req_cache parameter is off
# under KASAN), over the programs that churn requests, for lockdep and
# debugobjects; console in build/debug/req-cache/.
check-debug: deps
	@$(MAKE) $(JOBS) all
	@scripts/check-debug.sh check
	@KAIO_GUEST_LOGDIR=build/debug/req-cache scripts/check-debug.sh check \
		kaio.insmod=req_cache=1 'kaio.filter=kaio_[cdefrst][!o]*'

run: deps
	@$(MAKE) $(JOBS) all
	@scripts/run-guest.sh run

fuzz: deps
	@$(MAKE) $(JOBS) all
	@scripts/run-guest.sh fuzz

# libaio's own regression harness (tests/libaio-harness), unmodified, on
# kaio's libaio.so.1: every case on ext4 and on xfs, and the quick ones on
# the native AIO fallback. make check runs it after the project's tests;
# this runs it alone.
check-libaio: deps
	@scripts/deps.sh --deb-src
	@$(MAKE) $(JOBS) all
	@$(MAKE) -C tests libaio-harness BUILD=$(abspath build)
	@scripts/run-guest.sh check kaio.testdir=libaio-tests

bench: deps
	@$(MAKE) $(JOBS) all
	@KAIO_BENCH_PUBLISH=$(PUBLISH) scripts/bench.sh

shell: all
	@scripts/run-guest.sh shell

clean:
	@for d in userlib selftests/kaio tests tools examples fuzz; do \
		if [ -f $$d/Makefile ]; then $(MAKE) -C $$d $(SUBVARS) clean || exit 1; fi; \
	done
	@if [ -f Kbuild ] && [ -d "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	rm -rf $(BUILD)
