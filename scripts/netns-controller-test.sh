#!/usr/bin/env bash
# The controller (`xdpfw run`) with real traffic: a client namespace and a
# firewall namespace joined by a veth pair, the firewall's xdpfw0 kept under a
# policy held in a real local git repository. tests/netns/controller/
# scenarios.ts drives it: reloads under traffic (>= 50 swaps, 0 allowed packets
# lost, 0 packets judged by anything but the old or the new policy), a bad
# commit refused with the old policy verified by traffic, a restart that
# adopts without a gap, and metrics scraped over HTTP equal to what was sent.
#
# Output is TAP ("ok N - …" / "not ok N - …"), then "N passed, M failed".
#
# Environment:
#   XDPFW_MODE=generic  attach mode (default native)
#   XDPFW_RELOADS=N     swaps under traffic (default 50)
#   CI=true             never skip: a missing privilege or tool is a failure
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/netns-lib.sh
. "$ROOT/scripts/netns-lib.sh"

cannot_run() {
	if [ "${CI:-}" = true ]; then
		echo "not ok 1 - controller netns test can run: $1"
		echo "0 passed, 1 failed"
		exit 1
	fi
	echo "1..0 # SKIP controller netns test cannot run: $1"
	exit 0
}

[ "$(id -u)" -eq 0 ] || cannot_run "needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF)"
for tool in ip unshare git node timeout setpriv; do
	command -v "$tool" >/dev/null || cannot_run "'$tool' is not installed (run scripts/install-deps.sh)"
done
[ -f "$ROOT/dist/bundle/xdpfw.js" ] || {
	echo "not ok 1 - xdpfw is built (dist/bundle/xdpfw.js is missing: run npm run build)"
	echo "0 passed, 1 failed"
	exit 1
}

XDPFW_NS_SUFFIX=ctl$$
netns_private_mounts "$@" # re-runs this script in a private mount namespace (own /run/xdpfw and bpffs)
netns_trap
TMP=$(mktemp -d /tmp/xdpfw-netns-controller.XXXXXX)
NETNS_CLEANUP_FILES+=("$TMP")
CL=$(netns_name client)
FW=$(netns_name fw)
MAC_FW=02:58:44:50:01:01 MAC_CL=02:58:44:50:01:02
FW4=10.201.0.1 CL4=10.201.0.2

netns_add "$CL" && netns_add "$FW" &&
	netns_veth "$CL" cl0 "$MAC_CL" "$FW" xdpfw0 "$MAC_FW" &&
	netns_addr "$FW" xdpfw0 "$FW4/24" && netns_addr "$CL" cl0 "$CL4/24" &&
	netns_neigh "$CL" cl0 "$MAC_FW" "$FW4" && netns_neigh "$FW" xdpfw0 "$MAC_CL" "$CL4"
if [ $? -ne 0 ]; then
	echo "not ok 1 - namespaces $CL and $FW with a veth pair are set up"
	echo "0 passed, 1 failed"
	exit 1
fi

# The driver ends every process it starts (by pid); the trap ends anything left in our namespaces.
XDPFW_NETNS_FW=$FW XDPFW_NETNS_CL=$CL XDPFW_FW4=$FW4 XDPFW_CL4=$CL4 XDPFW_TMP=$TMP \
	timeout 600 setpriv --pdeathsig KILL -- \
	node --import "$ROOT/tests/kernel/xdp/helpers/ts-loader.mjs" "$ROOT/tests/netns/controller/scenarios.ts"
