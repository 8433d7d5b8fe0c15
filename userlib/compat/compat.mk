# SPDX-License-Identifier: LGPL-2.1-or-later
# libaio.so.1 on kaio (userlib/compat/, Documentation/compat.md), included by
# userlib/Makefile: its OUT, BUILD, UAPI_INC, CXX, CXXFLAGS apply.
#
#   $(OUT)/compat/libaio.so.1        the library (soname libaio.so.1)
#   $(OUT)/compat/libaio.so          link for -laio against it
#   $(BUILD)/guest/lib/compat/       the guest's copy (/kaio/lib/compat/)
#
# The exports are compared with the system's libaio.so.1 after each link
# (check-exports.sh); a difference fails the build.

COMPAT_OUT := $(OUT)/compat
COMPAT_SONAME := libaio.so.1
COMPAT_LIB := $(COMPAT_OUT)/$(COMPAT_SONAME)
COMPAT_GUEST := $(BUILD)/guest/lib/compat/$(COMPAT_SONAME)
COMPAT_SRCS := compat/abi.cpp compat/backend.cpp compat/native.cpp
COMPAT_OBJS := $(COMPAT_SRCS:compat/%.cpp=$(COMPAT_OUT)/obj/%.o)
COMPAT_REF ?= $(shell $(CC) -print-file-name=$(COMPAT_SONAME))

# No exceptions, RTTI or libstdc++ (linked by the C driver): the library
# needs libc only, like the libaio it stands in for, and loads into C
# programs such as fio without a C++ runtime.
COMPAT_CXXFLAGS := -std=c++20 -Wall -Wextra -Werror -fPIC \
	-fvisibility=hidden -fno-exceptions -fno-rtti \
	-I$(UAPI_INC) -MMD -MP
COMPAT_LDFLAGS := -shared -Wl,-soname,$(COMPAT_SONAME) -Wl,-z,defs \
	-Wl,--version-script=compat/libaio.map

.PHONY: compat install-compat clean-compat
all: compat
compat: $(COMPAT_LIB) $(COMPAT_OUT)/libaio.so $(COMPAT_GUEST)

$(COMPAT_OUT)/obj/%.o: compat/%.cpp
	@mkdir -p $(@D)
	$(CXX) $(COMPAT_CXXFLAGS) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

$(COMPAT_LIB): $(COMPAT_OBJS) compat/libaio.map compat/check-exports.sh
	@mkdir -p $(@D)
	$(CC) $(CXXFLAGS) $(COMPAT_LDFLAGS) $(LDFLAGS) -o $@.tmp $(COMPAT_OBJS)
	compat/check-exports.sh $@.tmp $(COMPAT_REF)
	mv $@.tmp $@

$(COMPAT_OUT)/libaio.so: $(COMPAT_LIB)
	ln -sf $(COMPAT_SONAME) $@

$(COMPAT_GUEST): $(COMPAT_LIB)
	@mkdir -p $(@D)
	install -m 0755 $< $@

# Beside, never over, the system's libaio: a directory for LD_LIBRARY_PATH.
#   make -C userlib install-compat DESTDIR=/tmp/stage PREFIX=/usr
install-compat: compat
	install -d $(DESTDIR)$(LIBDIR)/kaio/compat
	install -m 0755 $(COMPAT_LIB) $(DESTDIR)$(LIBDIR)/kaio/compat/
	ln -sf $(COMPAT_SONAME) $(DESTDIR)$(LIBDIR)/kaio/compat/libaio.so

clean: clean-compat
clean-compat:
	rm -rf $(COMPAT_OUT) $(dir $(COMPAT_GUEST))

-include $(COMPAT_OBJS:.o=.d)
