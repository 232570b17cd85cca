# shellcheck shell=bash
# Helpers for xdpfw's traffic tests, sourced by scripts/netns-test.sh and
# scripts/sandbox.sh. Hygiene as in xdp-tools' lib/testing/test_runner.sh:
#
# - Every namespace is named xdpfw-<role>-<suffix>; the suffix defaults to
#   the pid, so parallel runs never collide.
# - Nothing is created in the host's network namespace: veth ends are created
#   directly inside the test namespaces.
# - netns_private_mounts re-executes the caller in a private mount namespace
#   with its own tmpfs on /run/xdpfw and bpffs on /run/xdpfw/bpffs, so the
#   firewall's pins and state are the test's alone and vanish with it, even
#   if the test is killed with SIGKILL.
# - IPv6 duplicate address detection is off and neighbours are static, so
#   no probe waits for DAD or loses its first packet to ARP/ND.
# - One trap removes every namespace and ends every process the script
#   started (by pid), on EXIT, INT and TERM, also after a failure. After a
#   SIGKILL, background processes die with the script (parent-death signal)
#   and the private mounts vanish with it, so the namespaces are freed; only
#   their empty names may remain in /run/netns.

XDPFW_NS_SUFFIX=${XDPFW_NS_SUFFIX:-$$}
XDPFW_RUN_DIR=/run/xdpfw

NETNS_CREATED=()   # namespaces this script added, deleted by netns_cleanup
NETNS_PIDS=()      # background processes this script started
NETNS_LAST_PID=    # pid of the most recent netns_bg
NETNS_CLEANUP_FILES=() # temporary files and directories, removed last

# netns_name ROLE: the namespace name for ROLE in this run.
netns_name() { printf 'xdpfw-%s-%s' "$1" "$XDPFW_NS_SUFFIX"; }

# netns_private_mounts "$@": call first, before creating anything. Re-runs
# the calling script in a private mount namespace (once) and mounts a
# private tmpfs on /run/xdpfw and a private bpffs on /run/xdpfw/bpffs there.
# `ip netns exec` makes each command's mount namespace a slave of ours, so
# every xdpfw invocation of this run sees the same pins.
netns_private_mounts() {
	if [ "${XDPFW_PRIVATE_MOUNTS:-}" != "$$" ]; then
		export XDPFW_PRIVATE_MOUNTS=$$
		exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
	fi
	mkdir -p "$XDPFW_RUN_DIR"
	mount -t tmpfs -o mode=0700 xdpfw-test "$XDPFW_RUN_DIR"
	mkdir -p "$XDPFW_RUN_DIR/bpffs"
	mount -t bpf -o mode=0700 bpffs "$XDPFW_RUN_DIR/bpffs"
	# xdpfw refuses a bpffs that only this mount namespace sees unless told it is meant to be so.
	export XDPFW_PRIVATE_BPFFS=1
}

# netns_scratch_dir: sets NETNS_SCRATCH to a new directory for logs and
# received payloads, removed at cleanup; inside the private tmpfs when there
# is one (so gone even after a SIGKILL), else under /tmp.
netns_scratch_dir() {
	if [ "${XDPFW_PRIVATE_MOUNTS:-}" = "$$" ]; then
		NETNS_SCRATCH=$(mktemp -d "$XDPFW_RUN_DIR/scratch.XXXXXX") || return 1
	else
		NETNS_SCRATCH=$(mktemp -d /tmp/xdpfw-scratch.XXXXXX) || return 1
	fi
	NETNS_CLEANUP_FILES+=("$NETNS_SCRATCH")
}

# netns_ensure_bpffs: for runs that keep their namespaces (sandbox --keep),
# the firewall's pins must outlive this script, so its bpffs must be mounted
# in the host's mount namespace, where the product itself puts it.
netns_ensure_bpffs() {
	local fs
	fs=$(stat -f -c %T "$XDPFW_RUN_DIR/bpffs" 2>/dev/null || true)
	if [ "$fs" != "bpf_fs" ]; then
		mkdir -p "$XDPFW_RUN_DIR/bpffs"
		mount -t bpf -o mode=0700 bpffs "$XDPFW_RUN_DIR/bpffs"
	fi
}

# netns_add NAME: a fresh network namespace with loopback up, IPv6 DAD and
# router solicitations off (set on "default" before any veth exists, so new
# interfaces inherit them).
netns_add() {
	local ns=$1
	case $ns in xdpfw-*) ;; *) echo "netns_add: refusing '$ns': names start with xdpfw-" >&2; return 1 ;; esac
	if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
		echo "netns_add: namespace $ns already exists" >&2
		return 1
	fi
	ip netns add "$ns" || return 1
	NETNS_CREATED+=("$ns")
	ip -n "$ns" link set dev lo up
	ip netns exec "$ns" sysctl -qw \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
}

# netns_veth NS_A IF_A MAC_A NS_B IF_B MAC_B: a veth pair whose ends are born
# inside NS_A and NS_B (never in the host namespace), both up.
netns_veth() {
	local ns_a=$1 if_a=$2 mac_a=$3 ns_b=$4 if_b=$5 mac_b=$6
	ip -n "$ns_a" link add name "$if_a" address "$mac_a" type veth \
		peer name "$if_b" address "$mac_b" netns "$ns_b" || return 1
	ip netns exec "$ns_a" sysctl -qw "net.ipv6.conf.$if_a.accept_dad=0"
	ip netns exec "$ns_b" sysctl -qw "net.ipv6.conf.$if_b.accept_dad=0"
	ip -n "$ns_a" link set dev "$if_a" up
	ip -n "$ns_b" link set dev "$if_b" up
}

# netns_addr NS IF ADDR/PLEN...: IPv4 and IPv6 addresses (IPv6 with nodad).
netns_addr() {
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		case $a in
		*:*) ip -n "$ns" -6 addr add "$a" dev "$dev" nodad || return 1 ;;
		*) ip -n "$ns" addr add "$a" dev "$dev" || return 1 ;;
		esac
	done
}

# netns_route NS IF PREFIX...: on-link routes (peers outside the IF's subnets).
netns_route() {
	local ns=$1 dev=$2 p
	shift 2
	for p in "$@"; do ip -n "$ns" route add "$p" dev "$dev" || return 1; done
}

# netns_neigh NS IF MAC ADDR...: permanent neighbour entries.
netns_neigh() {
	local ns=$1 dev=$2 mac=$3 a
	shift 3
	for a in "$@"; do
		ip -n "$ns" neigh replace "$a" lladdr "$mac" dev "$dev" nud permanent || return 1
	done
}

# netns_bg NS LOG CMD...: run CMD inside NS in the background, stdout and
# stderr to LOG; its pid goes to NETNS_LAST_PID and to the cleanup list.
# `ip netns exec` and setpriv exec CMD directly, so the pid is CMD's own.
# The parent-death signal ends CMD even if this script is killed with
# SIGKILL, when no trap can run.
netns_bg() {
	local ns=$1 log=$2 guard=()
	shift 2
	command -v setpriv >/dev/null && guard=(setpriv --pdeathsig KILL --)
	ip netns exec "$ns" "${guard[@]}" "$@" >"$log" 2>&1 </dev/null &
	NETNS_LAST_PID=$!
	NETNS_PIDS+=("$NETNS_LAST_PID")
}

# netns_stop PID...: end processes this script started, by pid.
netns_stop() {
	local pid
	for pid in "$@"; do
		kill "$pid" 2>/dev/null || continue
		wait_for 2 _netns_gone "$pid" || kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 0
}
_netns_gone() { ! kill -0 "$1" 2>/dev/null; }

# wait_for SECONDS CMD...: retry CMD every 0.1 s until it succeeds (0) or
# SECONDS pass (1).
wait_for() {
	local deadline=$(( $(date +%s%N) + ${1%.*} * 1000000000 ))
	shift
	while :; do
		"$@" && return 0
		[ "$(date +%s%N)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# netns_cleanup: end our processes (and any process still inside
# a namespace we created, which can only be one of ours), delete our
# namespaces. Safe to call twice.
netns_cleanup() {
	local ns pid
	[ ${#NETNS_PIDS[@]} -gt 0 ] && netns_stop "${NETNS_PIDS[@]}"
	NETNS_PIDS=()
	for ns in "${NETNS_CREATED[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	NETNS_CREATED=()
	[ ${#NETNS_CLEANUP_FILES[@]} -gt 0 ] && rm -rf -- "${NETNS_CLEANUP_FILES[@]}"
	NETNS_CLEANUP_FILES=()
}

# netns_trap: install the cleanup trap. The exit status of the script is
# kept; INT and TERM exit (130/143) through the EXIT trap.
netns_trap() {
	trap '_netns_on_exit' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}
_netns_on_exit() {
	local rc=$?
	trap - EXIT INT TERM HUP
	netns_cleanup
	exit "$rc"
}

# ---- traffic ------------------------------------------------------------------
# Listeners append what they receive to a file, one line per connection or
# datagram; senders send one uniquely tagged line, so a probe knows whether
# its own payload arrived. NETNS_OUT holds the sender's output for diagnostics.

_netns_is6() { [[ $1 == *:* ]]; }
_netns_fam() { if _netns_is6 "$1"; then echo 6; else echo 4; fi; }
_netns_hp() { if _netns_is6 "$1"; then echo "[$1]:$2"; else echo "$1:$2"; fi; }

# netns_tcp_listen NS PORT FILE: a dual-stack TCP listener (one process, forks per connection).
netns_tcp_listen() {
	netns_bg "$1" "$3.err" socat -u "TCP6-LISTEN:$2,ipv6only=0,reuseaddr,fork" "OPEN:$3,creat,append"
}
# netns_udp_listen NS PORT FILE: UDP receivers for IPv4 and IPv6 on PORT.
netns_udp_listen() {
	netns_bg "$1" "$3.err4" socat -u "UDP4-RECV:$2" "OPEN:$3,creat,append"
	netns_bg "$1" "$3.err6" socat -u "UDP6-RECV:$2,ipv6only=1" "OPEN:$3,creat,append"
}
# netns_listening NS tcp|udp PORT...: every PORT has its listening sockets
# in NS (TCP: one dual-stack socket; UDP: one per family).
netns_listening() {
	local ns=$1 proto=$2 socks port per=1
	shift 2
	[ "$proto" = udp ] && per=2
	socks=$(ip netns exec "$ns" ss -Hln --"$proto")
	for port in "$@"; do [ "$(grep -c ":$port " <<<"$socks")" -ge $per ] || return 1; done
}

# netns_tcp_send NS SRC DST PORT PAYLOAD TIMEOUT: connect from SRC and send
# PAYLOAD; socat's exit status (non-zero when the connect fails or times out).
netns_tcp_send() {
	local ns=$1 src=$2 dst=$3 port=$4 payload=$5 timeout=$6
	NETNS_OUT=$(printf '%s\n' "$payload" | ip netns exec "$ns" timeout $((timeout + 5)) socat -u STDIN \
		"TCP$(_netns_fam "$dst"):$(_netns_hp "$dst" "$port"),bind=$(_netns_hp "$src" 0),connect-timeout=$timeout" 2>&1)
}
# netns_udp_send NS SRC DST PORT PAYLOAD: one datagram.
netns_udp_send() {
	local ns=$1 src=$2 dst=$3 port=$4 payload=$5
	printf '%s\n' "$payload" | ip netns exec "$ns" timeout 5 socat -u STDIN \
		"UDP$(_netns_fam "$dst")-SENDTO:$(_netns_hp "$dst" "$port"),bind=$(_netns_hp "$src" 0)"
}
# netns_count FILE TAG: how many lines of FILE start with TAG (0 if none or no file).
netns_count() {
	local n
	n=$(grep -c -F -- "$2" "$1" 2>/dev/null)
	echo "${n:-0}"
}
# netns_ping NS SRC DST COUNT: send COUNT echo requests (0.2 s apart, 1 s to
# answer) and print how many replies came back.
netns_ping() {
	local n
	NETNS_OUT=$(ip netns exec "$1" ping -n -q -c "$4" -i 0.2 -W 1 -I "$2" "$3" 2>&1)
	n=$(sed -n 's/.* \([0-9]\+\) received.*/\1/p' <<<"$NETNS_OUT")
	echo "${n:-0}"
}

# netns_xdp_attached NS IF: an XDP program is attached to IF (ip -d link).
netns_xdp_attached() {
	ip -n "$1" -d link show dev "$2" | grep -Eq 'prog/xdp|xdp(generic|drv|offload)?/id:'
}
