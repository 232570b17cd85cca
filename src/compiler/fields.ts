/**
 * Field numbering and action values of bpf/xdpfw.h (enum xdpfw_field,
 * XDPFW_ACTION_*), as the compiler needs them. tests/unit/compiler checks
 * them against the header.
 */
export const FIELD = {
  PROTO: 0,
  SRC: 1,
  DST: 2,
  SPORT: 3,
  DPORT: 4,
  TCPFLAGS: 5,
  ICMPTYPE: 6,
} as const;

export const NFIELDS = 7;

export const ACTION = { drop: 1, allow: 2 } as const;

/** XDPFW_MAX_RULES */
export const MAX_RULES = 4096;
