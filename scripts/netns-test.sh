#!/usr/bin/env bash
# End-to-end proof of xdpfw with real traffic: a client namespace and a
# firewall namespace joined by a veth pair, policies/netns-test.xdpfw applied
# in native mode on the firewall's end (xdpfw0), then TCP, UDP, ICMP and
# ICMPv6 over IPv4 and IPv6, each expected allow and drop observed, per-rule
# counters compared with what was sent, a policy on the linear path (TCP and
# UDP through its fast path, ICMP through its C rules), policy
# reloads under traffic losing nothing, and after `detach` everything passes
# again.
#
# Output is TAP ("ok N - …" / "not ok N - …"), then "N passed, M failed";
# the exit status is non-zero on any failure.
#
# Environment:
#   XDPFW_SKIP_APPLY=1  test the namespaces and probes alone, without xdpfw
#                       (every probe must then pass)
#   XDPFW_MODE=generic  attach mode (default native)
#   XDPFW_CLI=CMD       the xdpfw command to test (default: bin/xdpfw)
#   CI=true             never skip: a missing privilege or tool is a failure
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
. "$ROOT/scripts/netns-lib.sh"

POLICY=$ROOT/policies/netns-test.xdpfw
IFACE=xdpfw0 # the interface named in $POLICY
MODE=${XDPFW_MODE:-native}
SKIP_APPLY=${XDPFW_SKIP_APPLY:-0}
CONNECT_TIMEOUT=2 # seconds a blocked TCP connect is given before it counts as dropped

FW4=10.200.0.1 TRUST4=10.200.0.2 BLOCK4=10.200.0.3 OTHER4=10.200.0.4
FW6=fd00:200::1 TRUST6=fd00:200::2 BLOCK6=fd00:200::3 OTHER6=fd00:200::4
MAC_FW=02:58:44:50:00:01 MAC_CL=02:58:44:50:00:02

# ---- TAP ---------------------------------------------------------------------

T_N=0 T_FAIL=0
tap() { # tap RESULT(0=ok) DESCRIPTION [DIAGNOSTIC...]
	local rc=$1 desc=$2 line
	shift 2
	T_N=$((T_N + 1))
	if [ "$rc" -eq 0 ]; then
		echo "ok $T_N - $desc"
	else
		T_FAIL=$((T_FAIL + 1))
		echo "not ok $T_N - $desc"
		for line in "$@"; do printf '%s\n' "$line" | sed 's/^/#   /'; done
	fi
}
tap_skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }
finish() {
	echo "1..$T_N"
	echo "$((T_N - T_FAIL)) passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
	exit $?
}
# Without root or a needed tool the test cannot run: skip loudly, or fail in CI.
cannot_run() {
	if [ "${CI:-}" = true ]; then
		echo "not ok 1 - netns test can run: $1"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "1..0 # SKIP netns test cannot run: $1"
	exit 0
}

# ---- preflight -----------------------------------------------------------------

[ "$SKIP_APPLY" = 1 ] && [ "${CI:-}" = true ] && cannot_run "XDPFW_SKIP_APPLY=1 leaves xdpfw untested"
[ "$(id -u)" -eq 0 ] || cannot_run "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF)"
for tool in ip unshare socat ping python3 timeout ss; do
	command -v "$tool" >/dev/null || cannot_run "'$tool' is not installed (run scripts/install-deps.sh)"
done
if [ "$SKIP_APPLY" != 1 ] && [ -z "${XDPFW_CLI:-}" ]; then
	command -v node >/dev/null || cannot_run "node is not installed"
	[ -f "$ROOT/dist/bundle/xdpfw.js" ] || {
		echo "not ok 1 - xdpfw is built (dist/bundle/xdpfw.js is missing: run npm run build)"
		echo "0 passed, 1 failed"
		exit 1
	}
fi

netns_private_mounts "$@" # re-runs this script in a private mount namespace
netns_trap
netns_scratch_dir || exit 1
TMP=$NETNS_SCRATCH
CL=$(netns_name client)
FW=$(netns_name fw)

xdpfw() { # xdpfw ARGS...: the CLI, inside the firewall namespace
	# shellcheck disable=SC2086 # XDPFW_CLI is a command line
	ip netns exec "$FW" timeout 120 ${XDPFW_CLI:-"$ROOT/bin/xdpfw"} "$@"
}

# ---- topology and listeners ------------------------------------------------------

setup() {
	netns_add "$CL" && netns_add "$FW" &&
		netns_veth "$CL" cl0 "$MAC_CL" "$FW" "$IFACE" "$MAC_FW" &&
		netns_addr "$FW" "$IFACE" "$FW4/24" "$FW6/64" &&
		netns_addr "$CL" cl0 "$TRUST4/24" "$BLOCK4/24" "$OTHER4/24" \
			"$TRUST6/64" "$BLOCK6/64" "$OTHER6/64" &&
		netns_neigh "$CL" cl0 "$MAC_FW" "$FW4" "$FW6" &&
		netns_neigh "$FW" "$IFACE" "$MAC_CL" "$TRUST4" "$BLOCK4" "$OTHER4" \
			"$TRUST6" "$BLOCK6" "$OTHER6" || return 1
	local port
	for port in 8080 8081; do netns_tcp_listen "$FW" "$port" "$TMP/tcp-$port"; done
	for port in 5000 5001; do netns_udp_listen "$FW" "$port" "$TMP/udp-$port"; done
	wait_for 5 netns_listening "$FW" tcp 8080 8081 && wait_for 5 netns_listening "$FW" udp 5000 5001
}

# ---- probes: each sends real traffic and reports ok when the outcome is the expected one

# want POLICY_VERDICT: the outcome to expect; without a firewall everything passes.
want() { if [ "$SKIP_APPLY" = 1 ]; then echo allow; else echo "$1"; fi; }
# describe POLICY_VERDICT DESC: DESC, marked when XDPFW_SKIP_APPLY turns a drop into a pass.
describe() { if [ "$(want "$1")" != "$1" ]; then echo "$2 [no firewall: passes]"; else echo "$2"; fi; }

# probe_tcp allow|drop SRC DST PORT DESC: connect, send a payload, look for it at the listener.
probe_tcp() {
	local want src=$2 dst=$3 port=$4 desc payload rc
	want=$(want "$1") desc=$(describe "$1" "$5")
	payload="tcp-$src-$port-$RANDOM$RANDOM"
	netns_tcp_send "$CL" "$src" "$dst" "$port" "$payload" "$CONNECT_TIMEOUT"
	rc=$?
	if [ "$want" = allow ]; then
		wait_for 3 grep -qsxF "$payload" "$TMP/tcp-$port"
		tap $? "$desc" "socat exit $rc: $NETNS_OUT" "payload did not reach the listener on port $port"
	else
		sleep 0.2
		[ "$rc" -ne 0 ] && ! grep -qsxF "$payload" "$TMP/tcp-$port"
		tap $? "$desc" "socat exit $rc: $NETNS_OUT" "expected the connection to time out with no payload delivered"
	fi
}

# probe_udp allow|drop SRC DST PORT COUNT DESC: COUNT datagrams, count those received.
probe_udp() {
	local want src=$2 dst=$3 port=$4 count=$5 desc tag i expected
	want=$(want "$1") desc=$(describe "$1" "$6")
	tag="udp-$src-$port-$RANDOM$RANDOM-"
	for ((i = 1; i <= count; i++)); do netns_udp_send "$CL" "$src" "$dst" "$port" "$tag$i"; done
	if [ "$want" = allow ]; then
		expected=$count
		wait_for 3 _udp_received "$TMP/udp-$port" "$tag" "$expected"
	else
		expected=0
		sleep 0.3
	fi
	_udp_received "$TMP/udp-$port" "$tag" "$expected"
	tap $? "$desc" "sent $count datagrams, expected $expected, received $(netns_count "$TMP/udp-$port" "$tag")"
}
_udp_received() { [ "$(netns_count "$1" "$2")" -eq "$3" ]; }

# probe_ping allow|drop SRC DST COUNT DESC: echo requests, count the replies.
probe_ping() {
	local want src=$2 dst=$3 count=$4 desc got expected=$4
	want=$(want "$1") desc=$(describe "$1" "$5")
	[ "$want" = drop ] && expected=0
	got=$(netns_ping "$CL" "$src" "$dst" "$count")
	[ "$got" -eq "$expected" ]
	tap $? "$desc" "sent $count echo requests, expected $expected replies, got $got" "$NETNS_OUT"
}

# ---- counters ------------------------------------------------------------------

# snapshot FILE: `xdpfw stats --json` inside the firewall namespace.
snapshot() {
	xdpfw stats --json >"$1" 2>"$1.err"
	tap $? "xdpfw stats --json succeeds" "$(cat "$1.err")"
}
# counter FILE KEY [packets|bytes]: KEY is a rule name or "default"; prints the number.
counter() {
	python3 - "$1" "$IFACE" "$2" "${3:-packets}" <<'EOF'
import json, sys
path, iface, key, field = sys.argv[1:5]
try:
    doc = json.load(open(path))
    ifs = [i for i in doc["interfaces"] if i["name"] == iface]
    if key == "default":
        print(ifs[0]["default"][field])
    else:
        print(sum(r[field] for r in ifs[0]["rules"] if r.get("name") == key)
              if any(r.get("name") == key for r in ifs[0]["rules"]) else "missing")
except Exception as e:
    print(f"unreadable ({type(e).__name__}: {e})")
EOF
}
# expect_counter OP WANT SNAPSHOT KEY [FIELD] [BASE_SNAPSHOT]: compare a counter
# (or its increase since BASE_SNAPSHOT) with WANT; OP is eq or ge.
expect_counter() {
	local op=$1 want=$2 snap=$3 key=$4 field=${5:-packets} base=${6:-} got was=0 desc
	got=$(counter "$snap" "$key" "$field")
	[ -n "$base" ] && was=$(counter "$base" "$key" "$field")
	desc="counter $key $field"
	[ -n "$base" ] && desc="$desc grew by" || desc="$desc is"
	[ "$op" = eq ] && desc="$desc $want" || desc="$desc at least $want"
	if [[ $got =~ ^[0-9]+$ && $was =~ ^[0-9]+$ ]]; then
		if [ "$op" = eq ]; then [ $((got - was)) -eq "$want" ]; else [ $((got - was)) -ge "$want" ]; fi
		tap $? "$desc" "got $((got - was)) (now $got, before $was)"
	else
		tap 1 "$desc" "counter not found: now '$got', before '$was'" "$(head -c 2000 "$snap")"
	fi
}

# ---- the test ----------------------------------------------------------------------

echo "# netns test: client $CL, firewall $FW ($IFACE), mode $MODE$([ "$SKIP_APPLY" = 1 ] && echo ', XDPFW_SKIP_APPLY: no firewall')"
setup
tap $? "namespaces, veth pair, addresses, static neighbours and listeners are set up" \
	"$(cat "$TMP"/*.err* 2>/dev/null)"
[ "$T_FAIL" -eq 0 ] || finish

probe_tcp allow "$TRUST4" "$FW4" 8081 "before apply: TCP to port 8081 connects (the listener is there)"
probe_ping allow "$OTHER4" "$FW4" 1 "before apply: ping from $OTHER4 gets its reply"

if [ "$SKIP_APPLY" = 1 ]; then
	tap_skip "xdpfw apply" "XDPFW_SKIP_APPLY=1"
else
	t0=$(date +%s%N)
	out=$(xdpfw apply "$POLICY" --iface "$IFACE" --mode "$MODE" 2>&1)
	rc=$?
	APPLY_MS=$((($(date +%s%N) - t0) / 1000000))
	tap $rc "xdpfw apply $(basename "$POLICY") --iface $IFACE --mode $MODE succeeds (${APPLY_MS} ms)" "$out"
	[ $rc -eq 0 ] || finish
	netns_xdp_attached "$FW" "$IFACE"
	tap $? "ip -d link shows an XDP program on $IFACE" "$(ip -n "$FW" -d link show dev "$IFACE")"
fi

# Phase A: ICMP and UDP, whose counters must match exactly what was sent.
probe_ping allow "$TRUST4" "$FW4" 5 "ICMP echo from trusted $TRUST4 is allowed (5/5 replies)"
probe_ping allow "$TRUST6" "$FW6" 5 "ICMPv6 echo from trusted $TRUST6 is allowed (5/5 replies)"
probe_ping drop "$OTHER4" "$FW4" 3 "ICMP echo from untrusted $OTHER4 falls to default drop"
probe_ping drop "$OTHER6" "$FW6" 3 "ICMPv6 echo from untrusted $OTHER6 falls to default drop"
probe_ping drop "$BLOCK4" "$FW4" 4 "ICMP echo from blocked host $BLOCK4 is dropped"
probe_ping drop "$BLOCK6" "$FW6" 2 "ICMPv6 echo from blocked host $BLOCK6 is dropped"
probe_udp allow "$TRUST4" "$FW4" 5000 4 "UDP/IPv4 to allowed port 5000 arrives (4 datagrams)"
probe_udp allow "$TRUST6" "$FW6" 5000 3 "UDP/IPv6 to allowed port 5000 arrives (3 datagrams)"
probe_udp drop "$TRUST4" "$FW4" 5001 3 "UDP/IPv4 to blocked port 5001 is dropped (3 datagrams)"
probe_udp drop "$TRUST6" "$FW6" 5001 2 "UDP/IPv6 to blocked port 5001 is dropped (2 datagrams)"
probe_udp drop "$BLOCK4" "$FW4" 5000 2 "UDP from blocked host $BLOCK4 to allowed port 5000 is dropped"

if [ "$SKIP_APPLY" != 1 ]; then
	snapshot "$TMP/stats-a.json"
	expect_counter eq 5 "$TMP/stats-a.json" ping-trusted
	expect_counter eq 490 "$TMP/stats-a.json" ping-trusted bytes # 5 x (14 + 20 + 8 + 56)
	expect_counter eq 5 "$TMP/stats-a.json" ping6-trusted
	expect_counter eq 590 "$TMP/stats-a.json" ping6-trusted bytes # 5 x (14 + 40 + 8 + 56)
	expect_counter eq 7 "$TMP/stats-a.json" udp-allowed
	expect_counter eq 5 "$TMP/stats-a.json" udp-blocked
	expect_counter eq 8 "$TMP/stats-a.json" blocked-host # 4 + 2 pings, 2 datagrams
	expect_counter eq 0 "$TMP/stats-a.json" tcp-allowed
	expect_counter eq 0 "$TMP/stats-a.json" tcp-blocked
	expect_counter ge 6 "$TMP/stats-a.json" default # 3 + 3 pings from the untrusted host
fi

# Phase B: TCP, whose counters may include retransmissions.
probe_tcp allow "$TRUST4" "$FW4" 8080 "TCP/IPv4 to allowed port 8080 connects and delivers its payload"
probe_tcp allow "$TRUST6" "$FW6" 8080 "TCP/IPv6 to allowed port 8080 connects and delivers its payload"
probe_tcp drop "$TRUST4" "$FW4" 8081 "TCP/IPv4 to blocked port 8081 times out"
probe_tcp drop "$TRUST6" "$FW6" 8081 "TCP/IPv6 to blocked port 8081 times out"
probe_tcp drop "$BLOCK4" "$FW4" 8080 "TCP from blocked host $BLOCK4 to allowed port 8080 times out"

if [ "$SKIP_APPLY" != 1 ]; then
	snapshot "$TMP/stats-b.json"
	expect_counter ge 6 "$TMP/stats-b.json" tcp-allowed packets "$TMP/stats-a.json" # SYN, ACK, data x 2
	expect_counter ge 2 "$TMP/stats-b.json" tcp-blocked packets "$TMP/stats-a.json" # >= 1 SYN x 2
	expect_counter ge 1 "$TMP/stats-b.json" blocked-host packets "$TMP/stats-a.json"
	expect_counter eq 0 "$TMP/stats-b.json" ping-trusted packets "$TMP/stats-a.json"
	expect_counter eq 0 "$TMP/stats-b.json" udp-allowed packets "$TMP/stats-a.json"

	# Phase D: a policy on the linear path, so TCP and UDP over IPv4 and IPv6
	# go through its fast path (src/xdp/fast-path.ts) and ICMP through the C
	# rules of the same program.
	cat >"$TMP/linear.xdpfw" <<-EOF
		interface $IFACE {
		  default allow
		  drop udp dport 5001                     name "fast-udp-blocked"
		  drop tcp dport 8081 src 10.200.0.0/24   name "fast-tcp-blocked"
		  drop src $BLOCK4                        name "fast-blocked-host"
		  drop icmp type echo-request src $OTHER4 name "slow-ping-blocked"
		}
	EOF
	out=$(xdpfw compile "$TMP/linear.xdpfw" 2>&1)
	grep -q "classification: linear, 4 rules" <<<"$out" &&
		grep -q "fast path: .*IPv4 without options: rules 0, 1, 2; IPv6 without extension headers: rule 0$" <<<"$out"
	tap $? "xdpfw compile puts the linear policy on the linear path, its TCP and UDP rules on the fast path" "$out"
	out=$(xdpfw apply "$TMP/linear.xdpfw" --iface "$IFACE" --mode "$MODE" 2>&1)
	tap $? "xdpfw apply of the linear policy succeeds" "$out"
	snapshot "$TMP/stats-d0.json"
	probe_udp drop "$TRUST4" "$FW4" 5001 3 "linear policy: UDP/IPv4 to port 5001 is dropped (3 datagrams)"
	probe_udp drop "$TRUST6" "$FW6" 5001 2 "linear policy: UDP/IPv6 to port 5001 is dropped (2 datagrams)"
	probe_udp allow "$TRUST4" "$FW4" 5000 2 "linear policy: UDP/IPv4 to port 5000 falls to default allow"
	probe_udp drop "$BLOCK4" "$FW4" 5000 2 "linear policy: UDP from $BLOCK4 is dropped by its address"
	probe_tcp drop "$TRUST4" "$FW4" 8081 "linear policy: TCP/IPv4 to port 8081 times out"
	probe_tcp allow "$TRUST4" "$FW4" 8080 "linear policy: TCP/IPv4 to port 8080 connects"
	probe_tcp allow "$TRUST6" "$FW6" 8081 "linear policy: TCP/IPv6 to port 8081 connects (the rule is IPv4 only)"
	probe_ping drop "$OTHER4" "$FW4" 3 "linear policy: ICMP echo from $OTHER4 is dropped by the C rules"
	probe_ping allow "$TRUST4" "$FW4" 2 "linear policy: ICMP echo from $TRUST4 falls to default allow"
	snapshot "$TMP/stats-d.json"
	expect_counter eq 5 "$TMP/stats-d.json" fast-udp-blocked packets "$TMP/stats-d0.json"
	expect_counter ge 250 "$TMP/stats-d.json" fast-udp-blocked bytes "$TMP/stats-d0.json" # 3 x (14 + 20 + 8) + 2 x (14 + 40 + 8), and payloads
	expect_counter eq 2 "$TMP/stats-d.json" fast-blocked-host packets "$TMP/stats-d0.json"
	expect_counter ge 1 "$TMP/stats-d.json" fast-tcp-blocked packets "$TMP/stats-d0.json"
	expect_counter eq 3 "$TMP/stats-d.json" slow-ping-blocked packets "$TMP/stats-d0.json"
	expect_counter eq 294 "$TMP/stats-d.json" slow-ping-blocked bytes "$TMP/stats-d0.json" # 3 x (14 + 20 + 8 + 56)
	expect_counter ge 10 "$TMP/stats-d.json" default packets "$TMP/stats-d0.json" # 2 datagrams, 2 TCP exchanges, 2 pings

	# Phase C: atomic replacement under a 100 packets/s ping loses nothing.
	# The ping is sized from the first apply's duration to outlast 4 reloads.
	sed 's/^}/  drop udp dport 5999 name "reload-marker"\n}/' "$POLICY" >"$TMP/reload.xdpfw"
	count=$(((4 * APPLY_MS + 3000) / 10))
	netns_bg "$CL" "$TMP/reload-ping.log" ping -n -q -i 0.01 -c "$count" -I "$TRUST4" "$FW4"
	ping_pid=$NETNS_LAST_PID
	sleep 0.5
	reload_out="" reload_rc=0
	for policy in "$TMP/reload.xdpfw" "$POLICY" "$TMP/reload.xdpfw" "$POLICY"; do
		reload_out+=$(xdpfw apply "$policy" --iface "$IFACE" --mode "$MODE" 2>&1)$'\n' || reload_rc=1
	done
	kill -0 "$ping_pid" 2>/dev/null
	outlasted=$?
	tap $reload_rc "4 reloads (apply of a changed policy, then the original) succeed" "$reload_out"
	tap $outlasted "the ping was still running when the last reload finished" \
		"count $count at 10 ms was too short for 4 reloads (first apply took $APPLY_MS ms)"
	wait "$ping_pid"
	got=$(sed -n 's/\([0-9]\+\) packets transmitted, \([0-9]\+\) received.*/\1 \2/p' "$TMP/reload-ping.log")
	[ "$got" = "$count $count" ]
	tap $? "no packet lost during the reloads ($count pings at 10 ms)" "$(cat "$TMP/reload-ping.log")"
	snapshot "$TMP/stats-c.json"
	[ "$(counter "$TMP/stats-c.json" reload-marker)" = missing ] && [[ $(counter "$TMP/stats-c.json" tcp-blocked) =~ ^[0-9]+$ ]]
	tap $? "after the reloads the original policy's rules are in force" "$(head -c 2000 "$TMP/stats-c.json")"
	probe_tcp drop "$TRUST4" "$FW4" 8081 "after the reloads, TCP to blocked port 8081 still times out"

	# Detach: the interface is left bare, and what was dropped passes.
	out=$(xdpfw detach --iface "$IFACE" 2>&1)
	tap $? "xdpfw detach --iface $IFACE succeeds" "$out"
	! netns_xdp_attached "$FW" "$IFACE"
	tap $? "ip -d link shows no XDP program on $IFACE after detach" "$(ip -n "$FW" -d link show dev "$IFACE")"
	probe_tcp allow "$TRUST4" "$FW4" 8081 "after detach, TCP/IPv4 to port 8081 connects"
	probe_tcp allow "$TRUST6" "$FW6" 8081 "after detach, TCP/IPv6 to port 8081 connects"
	probe_tcp allow "$BLOCK4" "$FW4" 8080 "after detach, TCP from $BLOCK4 connects"
	probe_udp allow "$TRUST4" "$FW4" 5001 2 "after detach, UDP to port 5001 arrives"
	probe_ping allow "$OTHER4" "$FW4" 2 "after detach, ICMP echo from $OTHER4 is answered"
	probe_ping allow "$BLOCK6" "$FW6" 2 "after detach, ICMPv6 echo from $BLOCK6 is answered"
fi

finish
