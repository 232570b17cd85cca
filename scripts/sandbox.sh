#!/usr/bin/env bash
# xdpfw's main job on a sandbox: policies/edge.xdpfw (the SPEC §1 example)
# enforced on a firewall namespace's eth0, with allowed and blocked traffic
# sent from a client namespace and the outcome of each probe printed next to
# what the policy says, then `xdpfw stats`. Nothing touches the host's
# interfaces; everything is removed at the end unless --keep.
#
#   scripts/sandbox.sh [--keep] [--clean] [--no-install] [--mode native|generic]
#
#   --keep        leave the namespaces and the firewall in place to explore:
#                   ip netns exec xdpfw-sbx-fw bin/xdpfw stats
#                   ip netns exec xdpfw-sbx-client ping 192.0.2.1
#                 and remove them later with --clean
#   --clean       detach and delete what a --keep run left, then exit
#   --no-install  skip scripts/install-deps.sh (already built)
#
# Exit status: 0 when every probe saw what the policy says, 1 otherwise.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
. "$ROOT/scripts/netns-lib.sh"

POLICY=${XDPFW_SANDBOX_POLICY:-$ROOT/policies/edge.xdpfw} # the probes expect this policy
CL=xdpfw-sbx-client
FW=xdpfw-sbx-fw
IFACE=eth0 # the interface named in policies/edge.xdpfw
MODE=native KEEP=0 CLEAN=0 INSTALL=1

# Addresses, from the documentation ranges the policy talks about.
FW4=192.0.2.1 FW6=2001:db8:1::1           # the firewall
ADMIN4=192.0.2.2 ADMIN6=2001:db8:1::2     # in ssh-admins (192.0.2.0/28, 2001:db8:1::/64)
USER4=192.0.2.100                         # same subnet, not an ssh admin
BAD4=203.0.113.9 BAD6=2001:db8:bad::9     # in the blocklist
BOGON4=10.1.2.3                           # in lists/bogons.txt
MAC_FW=02:58:44:50:0f:01 MAC_CL=02:58:44:50:0f:02

ARGS=("$@")
usage() { sed -n '/^#   scripts/,/^# Exit/p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--keep) KEEP=1 ;;
	--clean) CLEAN=1 ;;
	--no-install) INSTALL=0 ;;
	--mode) MODE=${2:?--mode needs native, generic or auto}; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "sandbox: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" -eq 0 ] || { echo "sandbox: needs root (network namespaces, XDP)" >&2; exit 1; }

xdpfw() { # the CLI inside the firewall namespace (XDPFW_CLI overrides the command)
	# shellcheck disable=SC2086 # XDPFW_CLI is a command line
	ip netns exec "$FW" timeout 120 ${XDPFW_CLI:-"$ROOT/bin/xdpfw"} "$@"
}
ns_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$1"; }

if [ "$CLEAN" = 1 ]; then
	ns_exists "$FW" && xdpfw detach --iface "$IFACE" >/dev/null 2>&1
	for ns in "$CL" "$FW"; do
		ns_exists "$ns" || continue
		left=$(ip netns pids "$ns" | tr '\n' ' ')
		[ -n "$left" ] && echo "sandbox: processes still inside $ns (not ended): $left" >&2
		ip netns del "$ns" && echo "removed $ns"
	done
	exit 0
fi
for ns in "$CL" "$FW"; do
	ns_exists "$ns" && { echo "sandbox: $ns exists (a --keep run?): remove it with scripts/sandbox.sh --clean" >&2; exit 1; }
done
[ -f "$POLICY" ] || { echo "sandbox: $POLICY is missing" >&2; exit 1; }

if [ "$INSTALL" = 1 ]; then
	bash "$ROOT/scripts/install-deps.sh" || exit 1
fi

if [ "$KEEP" = 1 ]; then
	netns_ensure_bpffs # pins must outlive this script
else
	netns_private_mounts "${ARGS[@]}" --no-install # pins and state vanish with this run
fi
netns_trap
netns_scratch_dir || exit 1
TMP=$NETNS_SCRATCH

echo "== sandbox: $CL ($USER4 $ADMIN4 $BAD4 $BOGON4 $ADMIN6 $BAD6) -> $FW $IFACE ($FW4 $FW6)"
netns_add "$CL" && netns_add "$FW" &&
	netns_veth "$CL" eth0 "$MAC_CL" "$FW" "$IFACE" "$MAC_FW" &&
	netns_addr "$FW" "$IFACE" "$FW4/24" "$FW6/64" &&
	netns_route "$FW" "$IFACE" "$BAD4/32" "$BOGON4/32" "$BAD6/128" &&
	netns_addr "$CL" eth0 "$ADMIN4/24" "$USER4/24" "$BAD4/32" "$BOGON4/32" "$ADMIN6/64" "$BAD6/128" &&
	netns_neigh "$CL" eth0 "$MAC_FW" "$FW4" "$FW6" &&
	netns_neigh "$FW" "$IFACE" "$MAC_CL" "$ADMIN4" "$USER4" "$BAD4" "$BOGON4" "$ADMIN6" "$BAD6" ||
	{ echo "sandbox: setting up the namespaces failed" >&2; exit 1; }
for port in 22 80 443 8080; do netns_tcp_listen "$FW" "$port" "$TMP/tcp-$port"; done
for port in 53 123; do netns_udp_listen "$FW" "$port" "$TMP/udp-$port"; done
wait_for 5 netns_listening "$FW" tcp 22 80 443 8080 && wait_for 5 netns_listening "$FW" udp 53 123 ||
	{ echo "sandbox: the listeners did not start: $(cat "$TMP"/*.err*)" >&2; exit 1; }

echo "== xdpfw apply ${POLICY#"$ROOT"/} --iface $IFACE --mode $MODE"
xdpfw apply "$POLICY" --iface "$IFACE" --mode "$MODE" || { echo "sandbox: apply failed" >&2; exit 1; }

MISMATCHES=0 PROBES=0
report() { # report EXPECTED OBSERVED WHAT WHY
	local mark=ok
	PROBES=$((PROBES + 1))
	[ "$1" = "$2" ] || { mark=MISMATCH; MISMATCHES=$((MISMATCHES + 1)); }
	printf '  %-50s %-26s expected %-8s observed %-8s %s\n' "$3" "($4)" "$1" "$2" "$mark"
}
verdict() { if [ "$1" = 0 ]; then echo ALLOWED; else echo BLOCKED; fi; }
hp() { if [[ $1 == *:* ]]; then echo "[$1]:$2"; else echo "$1:$2"; fi; }
tcp() { # tcp EXPECTED SRC DST PORT WHY
	local payload="sbx-$2-$4-$RANDOM"
	# a dropped SYN leaves the connect to time out (2 s); a delivered payload
	# reaches the listener's file shortly after the connect succeeds
	netns_tcp_send "$CL" "$2" "$3" "$4" "$payload" 2 && wait_for 2 grep -qsxF "$payload" "$TMP/tcp-$4"
	report "$1" "$(verdict $?)" "tcp  $2 > $(hp "$3" "$4")" "$5"
}
udp() { # udp EXPECTED SRC DST PORT WHY
	local tag="sbx-$2-$4-$RANDOM"
	netns_udp_send "$CL" "$2" "$3" "$4" "$tag"
	wait_for 1 grep -qsxF "$tag" "$TMP/udp-$4"
	report "$1" "$(verdict $?)" "udp  $2 > $(hp "$3" "$4")" "$5"
}
ping_() { # ping_ EXPECTED SRC DST WHY
	local got
	got=$(netns_ping "$CL" "$2" "$3" 3)
	report "$1" "$(verdict $((got == 0)))" "ping $2 > $3 ($got/3 replies)" "$4"
}

echo "== probes"
tcp ALLOWED "$USER4" "$FW4" 80 web
tcp ALLOWED "$USER4" "$FW4" 443 web
tcp ALLOWED "$ADMIN6" "$FW6" 443 web
tcp ALLOWED "$ADMIN4" "$FW4" 22 ssh-admins
tcp ALLOWED "$ADMIN6" "$FW6" 22 ssh-admins
tcp BLOCKED "$USER4" "$FW4" 22 'default drop'
tcp BLOCKED "$USER4" "$FW4" 8080 'default drop'
tcp BLOCKED "$BAD4" "$FW4" 80 blocklist
tcp BLOCKED "$BAD6" "$FW6" 443 blocklist
tcp BLOCKED "$BOGON4" "$FW4" 443 bogons
udp ALLOWED "$USER4" "$FW4" 53 'udp dport 53'
udp ALLOWED "$ADMIN6" "$FW6" 53 'udp dport 53'
udp BLOCKED "$USER4" "$FW4" 123 'default drop'
udp BLOCKED "$BAD4" "$FW4" 53 blocklist
ping_ ALLOWED "$USER4" "$FW4" 'icmp type echo-request'
ping_ ALLOWED "$ADMIN6" "$FW6" 'allow icmpv6'
ping_ BLOCKED "$BAD4" "$FW4" blocklist
ping_ BLOCKED "$BAD6" "$FW6" blocklist
ping_ BLOCKED "$BOGON4" "$FW4" bogons
echo "== $((PROBES - MISMATCHES)) of $PROBES probes as the policy says"

echo "== xdpfw stats"
xdpfw stats --iface "$IFACE"

if [ "$KEEP" = 1 ]; then
	NETNS_CREATED=() # keep the namespaces; the listeners still end with this script
	echo "== kept $CL and $FW; explore with 'ip netns exec $FW bin/xdpfw stats',"
	echo "   remove with 'scripts/sandbox.sh --clean'"
fi
[ "$MISMATCHES" -eq 0 ]
