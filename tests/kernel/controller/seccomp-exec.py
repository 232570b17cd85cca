"""
Installs the seccomp filter a systemd unit's settings describe, then execs a
command under it: what systemd does between fork and exec for the service,
for a test whose PID 1 is not systemd. Usage:
  seccomp-exec.py SPEC_JSON -- COMMAND ARGS...
SPEC_JSON: {"allow": [syscall names], "errno": N, "families": [AF numbers],
"namespaces": [CLONE_NEW* flags allowed], "lockPersonality": bool,
"restrictRealtime": bool}. Needs no_new_privs (setpriv --no-new-privs) or
CAP_SYS_ADMIN, as seccomp(2) does.
"""

import errno
import json
import os
import sys

import seccomp

CLONE_NEW_ALL = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080
SCHED_FIFO, SCHED_RR, SCHED_DEADLINE = 1, 2, 6
PERSONALITY_QUERY, PER_LINUX = 0xFFFFFFFF, 0
AF_MAX = 46

spec = json.loads(sys.argv[1])
command = sys.argv[sys.argv.index("--") + 1 :]
f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(spec["errno"]))
conditional = {"socket", "unshare", "clone", "clone3", "setns", "personality", "sched_setscheduler", "sched_setattr"}


def allow(name, *args):
    try:
        f.add_rule(seccomp.ALLOW, name, *args)
    except (RuntimeError, ValueError):
        pass  # a name systemd lists for another architecture


for name in spec["allow"]:
    if name not in conditional:
        allow(name)
allowed = set(spec["allow"])

# RestrictAddressFamilies=: the listed families; systemd answers EAFNOSUPPORT for the rest.
if "socket" in allowed:
    for family in range(AF_MAX):
        action = seccomp.ALLOW if family in spec["families"] else seccomp.ERRNO(errno.EAFNOSUPPORT)
        f.add_rule(action, "socket", seccomp.Arg(0, seccomp.EQ, family))

# RestrictNamespaces=: no flag of another namespace kind; clone3's flags sit in memory a filter
# cannot read, so systemd answers ENOSYS and the C library falls back to clone.
forbidden = CLONE_NEW_ALL & ~sum(spec["namespaces"])
for name, arg in (("unshare", 0), ("clone", 0)):
    if name in allowed:
        allow(name, seccomp.Arg(arg, seccomp.MASKED_EQ, forbidden, 0))
if "clone3" in allowed:
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
if "setns" in allowed:
    for flag in spec["namespaces"]:
        allow("setns", seccomp.Arg(1, seccomp.EQ, flag))

# LockPersonality=: the personality in force (Linux) can be read, never changed.
if "personality" in allowed:
    kept = (PERSONALITY_QUERY, PER_LINUX) if spec["lockPersonality"] else None
    if kept is None:
        allow("personality")
    else:
        for value in kept:
            allow("personality", seccomp.Arg(0, seccomp.EQ, value))

# RestrictRealtime=: no real-time scheduling policy.
if "sched_setscheduler" in allowed:
    if spec["restrictRealtime"]:
        for policy in (0, 3, 5):  # SCHED_OTHER, SCHED_BATCH, SCHED_IDLE
            allow("sched_setscheduler", seccomp.Arg(1, seccomp.EQ, policy))
    else:
        allow("sched_setscheduler")
if "sched_setattr" in allowed and not spec["restrictRealtime"]:
    allow("sched_setattr")

f.load()
os.execvp(command[0], command)
