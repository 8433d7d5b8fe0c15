# SPDX-License-Identifier: GPL-2.0
# What the C++ sub-makes on libkaio++ (examples/, tools/, tests/) share.
# The including Makefile sets, before `include ../mk/cxx.mk`:
#   PROGRAMS      what it installs to $(BUILD)/guest/$(GUEST_SUBDIR)/
#   GUEST_SUBDIR  bin (tools) or tests (test programs)
#   SRCS          only if it links its programs itself (tests/); without
#                 it, each program is built from the one source of its name
# Objects go under $(BUILD)/<directory>/obj/, programs under
# $(BUILD)/<directory>/, as for every userspace sub-make (README.md).

BUILD ?= $(abspath ../build)
UAPI_INC ?= $(abspath ../uapi)
OUT := $(BUILD)/$(notdir $(CURDIR))
GUEST_DIR := $(BUILD)/guest/$(GUEST_SUBDIR)

LIBKAIO := $(BUILD)/userlib/libkaio++.a

CXX ?= g++
CXXFLAGS ?= -O2 -g
# common/include: what the programs share that is not libkaio++'s API
# (kaio_cli/options.hpp, the option parser).
KAIO_CXXFLAGS := -std=c++20 -Wall -Wextra -Werror \
	-I../userlib/include -I../common/include -I$(UAPI_INC) -MMD -MP
# Static, so that the guest needs no C++ runtime.
KAIO_LDFLAGS := -static -pthread

.PHONY: all clean FORCE
all: $(PROGRAMS:%=$(GUEST_DIR)/%)

# Recursing keeps a standalone `make -C <directory>` correct after a
# library change; a no-op when the library is up to date.
$(LIBKAIO): FORCE
	$(MAKE) -C ../userlib BUILD=$(BUILD) UAPI_INC=$(UAPI_INC)

$(OUT)/obj/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(KAIO_CXXFLAGS) $(CPPFLAGS) $(CXXFLAGS) -c -o $@ $<

$(GUEST_DIR)/%: $(OUT)/%
	@mkdir -p $(@D)
	install -m 0755 $< $@

clean:
	rm -rf $(OUT) $(PROGRAMS:%=$(GUEST_DIR)/%)

ifndef SRCS
$(OUT)/%: $(OUT)/obj/%.o $(LIBKAIO)
	$(CXX) $(CXXFLAGS) $(KAIO_LDFLAGS) $(LDFLAGS) -o $@ $< $(LIBKAIO)

.SECONDARY:
-include $(PROGRAMS:%=$(OUT)/obj/%.d)
endif
