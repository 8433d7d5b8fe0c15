# SPDX-License-Identifier: LGPL-2.1-or-later
# libkaio-posix: glibc's <aio.h> on kaio (userlib/posix/,
# Documentation/posix-aio.md), included by userlib/Makefile: its OUT, BUILD,
# UAPI_INC, CC, CFLAGS apply.
#
#   $(OUT)/libkaio-posix.so.1      the library (soname libkaio-posix.so.1)
#   $(OUT)/libkaio-posix.so        link for -lkaio-posix
#   $(BUILD)/guest/lib/posix/      the guest's copy (/kaio/lib/posix/), with
#                                  the library's own tests, run on kaio by
#                                  /kaio/tests/kaio_posix_lib.sh
#
# No static archive: its aio_* would clash with static libc's own, which
# is also what it falls back to. The exports are compared with the
# system's libc.so.6 after each link (check-exports.sh).

POSIX_SONAME := libkaio-posix.so.1
POSIX_LIB := $(OUT)/$(POSIX_SONAME)
POSIX_GUEST := $(BUILD)/guest/lib/posix/$(POSIX_SONAME)
POSIX_OBJS := $(OUT)/obj/posix/posix.o
POSIX_GUEST_TESTS := $(BUILD)/guest/lib/posix/posix_lib_test \
	$(BUILD)/guest/tests/kaio_posix_lib.sh
POSIX_REF ?= $(shell $(CC) -print-file-name=libc.so.6)

POSIX_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -fPIC -fvisibility=hidden \
	-I$(UAPI_INC) -MMD -MP
POSIX_LDFLAGS := -shared -Wl,-soname,$(POSIX_SONAME) -Wl,-z,defs \
	-Wl,--version-script=posix/libkaio-posix.map
CFLAGS ?= -O2 -g

.PHONY: posix install-posix clean-posix
all: posix
posix: $(POSIX_LIB) $(OUT)/libkaio-posix.so $(POSIX_GUEST) $(POSIX_GUEST_TESTS)

$(OUT)/obj/posix/%.o: posix/%.c
	@mkdir -p $(@D)
	$(CC) $(POSIX_CFLAGS) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(POSIX_LIB): $(POSIX_OBJS) posix/libkaio-posix.map posix/check-exports.sh
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(POSIX_LDFLAGS) $(LDFLAGS) -o $@.tmp $(POSIX_OBJS)
	posix/check-exports.sh $@.tmp $(POSIX_REF)
	mv $@.tmp $@

$(OUT)/libkaio-posix.so: $(POSIX_LIB)
	ln -sf $(POSIX_SONAME) $@

$(POSIX_GUEST): $(POSIX_LIB)
	@mkdir -p $(@D)
	install -m 0755 $< $@

# The library's own tests (tests/host-check.sh runs them on the host, on
# the glibc fallback): in the guest under LD_PRELOAD, on kaio.
$(BUILD)/guest/lib/posix/posix_lib_test: posix/tests/posix_lib_test.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wall -Wextra -Werror -pthread -o $@ $<

$(BUILD)/guest/tests/kaio_posix_lib.sh: posix/tests/kaio_posix_lib.sh
	@mkdir -p $(@D)
	install -m 0755 $< $@

#   make -C userlib install-posix DESTDIR=/tmp/stage PREFIX=/usr
install-posix: posix
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(POSIX_LIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(POSIX_SONAME) $(DESTDIR)$(LIBDIR)/libkaio-posix.so
	install -m 0644 posix/kaio-posix.h $(DESTDIR)$(INCLUDEDIR)/

clean: clean-posix
clean-posix:
	rm -rf $(POSIX_LIB) $(OUT)/libkaio-posix.so $(OUT)/obj/posix \
		$(dir $(POSIX_GUEST)) $(BUILD)/guest/tests/kaio_posix_lib.sh

-include $(POSIX_OBJS:.o=.d)
