/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The maps of `xdpfw trace` (xdpfw.h), apart so that the loader's test stand-in declares the same. */
#ifndef XDPFW_LIB_TRACE_MAPS_H
#define XDPFW_LIB_TRACE_MAPS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../xdpfw.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_trace_config);
} xdpfw_trace_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPFW_TRACE_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} xdpfw_trace_stats SEC(".maps");

/* The event being built, per CPU: 280 bytes would not fit the stack beside the program's own. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_trace_event);
} xdpfw_trace_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPFW_TRACE_RING_BYTES);
} xdpfw_trace_ring SEC(".maps");

/* `log`'s events, read by the controller; the loader shrinks it to a page when no rule logs. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPFW_LOG_RING_BYTES);
} xdpfw_log_ring SEC(".maps");

#endif /* XDPFW_LIB_TRACE_MAPS_H */
