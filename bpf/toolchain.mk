# The BPF toolchain, defined once: bpf/Makefile and bench/bpf/Makefile
# include this file, and scripts/clang-bpf.ts (test fixtures, bench probe
# builds) asks `make -s -C bpf print-toolchain` for the same compiler.
#
# clang is pinned to one major version because its version decides the
# instructions of the object (and so what the verifier accepts and what
# the benchmarks time). Debian 12 ships clang 14 as the package clang-14,
# which scripts/install-deps.sh installs.
# CLANG=… picks another binary; it must still be clang $(CLANG_VERSION).

CLANG_VERSION := 14

# The major version of clang binary $(1); empty when it is not a clang.
clang_major = $(shell $(1) --version 2>/dev/null | sed -n '1s/.*clang version \([0-9][0-9]*\).*/\1/p')

ifndef CLANG
CLANG := $(if $(shell command -v clang-$(CLANG_VERSION) 2>/dev/null),clang-$(CLANG_VERSION),clang)
endif

# Checked unless the goal is only `clean`, which needs no compiler.
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),all)),)
CLANG_MAJOR := $(call clang_major,$(CLANG))
ifneq ($(CLANG_MAJOR),$(CLANG_VERSION))
$(error xdpfw's BPF objects are built with clang $(CLANG_VERSION), and "$(CLANG)" is \
$(if $(CLANG_MAJOR),clang $(CLANG_MAJOR),not a clang on PATH): \
install clang-$(CLANG_VERSION) (scripts/install-deps.sh does), or name it with CLANG=)
endif
endif

# Debian keeps <asm/…> under the multiarch include directory, which clang's
# BPF target does not search: without it <linux/bpf.h> fails on a machine
# lacking /usr/include/asm.
MULTIARCH := $(shell gcc -dumpmachine 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
ARCH_INCLUDES := $(if $(wildcard /usr/include/$(MULTIARCH)/asm),-I/usr/include/$(MULTIARCH))

# EXTRA_CFLAGS adds flags (e.g. -DXDPFW_MAX_RULES=…) without editing a Makefile.
BPF_CFLAGS := -O2 -g -target bpf -mcpu=v3 -Wall -Werror $(ARCH_INCLUDES) $(EXTRA_CFLAGS)

# For scripts/clang-bpf.ts: the compiler, then the include flags, a line each.
print-toolchain:
	@printf '%s\n' '$(CLANG)' '$(ARCH_INCLUDES)'

.PHONY: print-toolchain
