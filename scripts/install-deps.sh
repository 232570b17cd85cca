#!/usr/bin/env bash
# Bare-machine set-up, idempotent: installs the Debian packages that the
# build and the tests need when any is missing, runs `npm ci` when
# node_modules is missing or older than package-lock.json, then `npm run
# build`. Prints nothing on success; on failure, says what failed and shows
# the failing step's output.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." && [ -f package.json ] || {
	echo "install-deps: cannot find the repository root from $0" >&2
	exit 1
}

fail() {
	echo "install-deps: $*" >&2
	exit 1
}

# The clang major version the BPF objects are built with: bpf/toolchain.mk's.
clang_version=$(sed -n 's/^CLANG_VERSION := *//p' bpf/toolchain.mk)
[ -n "$clang_version" ] || fail "cannot read CLANG_VERSION from bpf/toolchain.mk"

# Commands the build and tests run, each with the Debian package providing it.
declare -A CMD_PKG=(
	[clang-$clang_version]=clang-$clang_version [llvm-strip]=llvm [bpftool]=bpftool [make]=make [gcc]=gcc
	[ip]=iproute2 [ss]=iproute2 [ethtool]=ethtool [ping]=iputils-ping
	[socat]=socat [nc]=netcat-openbsd [python3]=python3
	[unshare]=util-linux [setpriv]=util-linux [timeout]=coreutils
	[systemd-analyze]=systemd [systemd-escape]=systemd
	[git]=git [openssl]=openssl [ssh-keygen]=openssh-client [gpg]=gnupg [curl]=curl [tcpdump]=tcpdump
	[iptables-legacy]=iptables [iptables-legacy-restore]=iptables [iptables-legacy-save]=iptables [nft]=nftables
	[kubectl]=kubernetes-client
	[dpkg-deb]=dpkg [dpkg-shlibdeps]=dpkg-dev [strip]=binutils
)
# Libraries and headers, checked by package (or by file without dpkg).
declare -A PKG_FILE=(
	[libbpf-dev]=/usr/include/bpf/bpf_helpers.h
	[libbpf1]=libbpf.so.1
	[linux-libc-dev]=/usr/include/linux/bpf.h
	[libc6-dev]=/usr/include/stdio.h
	# libseccomp's bindings for the system python3: the sandboxed-daemon test's seccomp filter.
	[python3-seccomp]=/usr/lib/python3/dist-packages/seccomp.cpython-311-x86_64-linux-gnu.so
)

# run_quiet WHAT CMD...: run CMD with its output kept aside, shown only on failure.
run_quiet() {
	local what=$1 log
	shift
	log=$(mktemp)
	if ! "$@" >"$log" 2>&1; then
		echo "install-deps: $what failed: $*" >&2
		tail -n 60 "$log" >&2
		rm -f "$log"
		exit 1
	fi
	rm -f "$log"
}

have_pkg() {
	if command -v dpkg-query >/dev/null; then
		[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
	else
		case ${PKG_FILE[$1]} in
		/*) [ -e "${PKG_FILE[$1]}" ] ;;
		*) ldconfig -p 2>/dev/null | grep -q "${PKG_FILE[$1]}" ;;
		esac
	fi
}

missing=()
for cmd in "${!CMD_PKG[@]}"; do
	command -v "$cmd" >/dev/null || missing+=("${CMD_PKG[$cmd]}")
done
for pkg in "${!PKG_FILE[@]}"; do
	have_pkg "$pkg" || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	command -v apt-get >/dev/null ||
		fail "missing ${missing[*]}, and there is no apt-get to install them: install them by hand"
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || fail "missing ${missing[*]}; installing them needs root (or sudo)"
		sudo=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	run_quiet "apt-get update" "${sudo[@]}" apt-get update
	run_quiet "installing ${missing[*]}" "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Node.js is not taken from apt: Debian 12 ships Node 18 and xdpfw needs >= 20.
command -v node >/dev/null && command -v npm >/dev/null ||
	fail "Node.js >= 20 with npm is not installed (e.g. actions/setup-node, or https://nodejs.org)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $(node --version) is too old: xdpfw needs >= 20"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	run_quiet "npm ci" npm ci --no-audit --no-fund --loglevel=error
fi

run_quiet "npm run build" npm run build
