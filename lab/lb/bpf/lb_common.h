/* Shared definitions of the stacklab XDP load balancer (the SLB MUX).
 *
 * The control plane (lab/lb/maps.py) mirrors every struct here byte for byte;
 * change both together. Sizes can be overridden with -D at build time so the
 * control plane can size the Maglev ring area from the topology.
 */
#ifndef LB_COMMON_H
#define LB_COMMON_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef LB_VIP_SLOTS
#define LB_VIP_SLOTS 256         /* addresses in the VIP pool (the ToR routes only the pool here) */
#endif
#define LB_RULES_PER_VIP 8
#ifndef LB_MAX_BACKENDS
#define LB_MAX_BACKENDS 4096
#endif
#ifndef LB_RING_SLOTS
#define LB_RING_SLOTS (16 * 65537)
#endif
#ifndef LB_CONN_SETS
#define LB_CONN_SETS 16384       /* power of two; x LB_CONN_WAYS flows in all */
#endif
#define LB_CONN_WAYS 4           /* power of two */
#ifndef LB_MAX_PAIRS
#define LB_MAX_PAIRS 8192        /* (rule, backend) pairs: the counters' keys */
#endif

/* A ring slot and a connection-table entry hold a target: the backend id in
 * the low PAIR_SHIFT bits, the id of the (rule, backend) pair above them. The
 * pair keys the counters, so a packet updates one counter; the control plane
 * sums the pairs per VIP rule and per backend (maps.py). */
#define PAIR_SHIFT 12
#define BACKEND_MASK ((1u << PAIR_SHIFT) - 1)
_Static_assert(LB_MAX_BACKENDS <= (1u << PAIR_SHIFT), "backend ids fit below PAIR_SHIFT");
_Static_assert(LB_MAX_PAIRS <= (1u << (32 - PAIR_SHIFT)), "pair ids fit above PAIR_SHIFT");

#define VXLAN_PORT 4789
#define VXLAN_FLAG_VNI 0x08
/* outer Ethernet + IPv4 + UDP + VXLAN; the original Ethernet header becomes the inner one */
#define ENCAP_LEN (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr) + 8)

#define VIP_F_HA_PORTS 1u          /* port 0, every protocol */
#define BACKEND_F_VALID 1u         /* cleared when a backend is deleted: stale conn entries re-hash */
#define CFG_F_NO_AFFINITY 1u       /* skip the connection table (fault injection / pure hashing) */

enum lb_global_counter {
	G_NON_IPV4_PASS = 0,    /* ARP, IPv6, VLAN...: left to the MUX's stack */
	G_NON_VIP_PASS,     /* IPv4 not addressed to a VIP: left to the stack */
	G_NO_RULE_DROP,     /* VIP address, but no rule for this port/protocol: secure by default */
	G_FRAG_DROP,        /* IPv4 fragment to a VIP: no L4 ports to hash on */
	G_MALFORMED_DROP,   /* truncated or bad IPv4/L4 header */
	G_NO_BACKEND_DROP,  /* rule without a healthy backend (empty ring slot) */
	G_ENCAP_ERR,        /* bpf_xdp_adjust_head failed or bounds check after it */
	G_TOO_BIG_DROP,     /* encapsulated frame above the underlay MTU */
	G_CONN_MISS,        /* no connection-table entry: first packet of a UDP/ICMP flow, or an
	                     * evicted/stale entry (a TCP SYN always takes a fresh pick: not counted) */
	G_TX,               /* encapsulated and sent back out (XDP_TX): not counted per packet,
	                     * it is the sum of the pair counters' packets (read by maps.py) */
	G_NUM,
};

/* A rule's match fields, also readable as one word (lookup.h: find_rule). */
union rule_head {
	struct {
		__be16 port;
		__u8 proto;
		__u8 flags;
	};
	__u32 word;
};

/* One rule of a VIP address: port 0 + proto 0 is HA ports (every port, every protocol). */
struct vip_rule {
	union rule_head head;
	__u32 vip_id;     /* the rule's id (pairs name it); never reused while loaded */
	__u32 ring_off;   /* first slot of this rule's Maglev ring in lb_rings */
	__u32 ring_size;  /* prime */
};

/* Everything about one VIP address, found by array index (address - pool
 * base): no hash lookup, which costs a function call per packet. */
struct vip_slot {
	__u32 n_rules;    /* 0: the address is not a VIP */
	__u32 pad;
	struct vip_rule rules[LB_RULES_PER_VIP];
};

/* Outer Ethernet + IPv4 + UDP + VXLAN, the inner MACs and the inner
 * EtherType (always IPv4 here): the first bytes of every encapsulated frame. */
#define ENCAP_HDR_LEN (ENCAP_LEN + 14)

/* One backend, kept as the bytes its packets start with: the control plane
 * (maps.py) lays out the outer headers toward the backend's server and the
 * inner MACs once, and the datapath copies them with eight word stores, then
 * fills in what varies per packet (TOS, lengths, checksum, UDP source port). */
struct backend {
	__u16 flags;
	__u16 pad;
	__u32 csum_base;      /* one's-complement sum of the outer IPv4 header's fixed
	                       * words (all but the first), folded to 16 bits */
	__u8 hdr[ENCAP_HDR_LEN];
};
_Static_assert(ENCAP_HDR_LEN == 64, "encap.h copies the header as eight 64-bit words");

struct lb_config {
	__be32 src_ip;        /* the MUX's underlay address (outer source) and */
	__u8 src_mac[6];      /* NIC MAC: read by the control plane, which writes
	                       * them into every backend's header */
	__u16 flags;
	__u32 max_frame;      /* largest frame the underlay carries (MTU + 14); 0 = no check */
	__u32 pool_base;      /* first address of the VIP pool, host order */
	__u32 pool_size;      /* addresses in the pool (<= LB_VIP_SLOTS) */
};

/* The 5-tuple in packet byte order. The addresses and the ports sit side by
 * side in the IPv4 and L4 headers, so each pair is read with one load. */
struct flow_key {
	union {
		struct {
			__be32 src;
			__be32 dst;
		};
		__u64 addrs;
	};
	union {
		struct {
			__be16 sport;
			__be16 dport;
		};
		__u32 ports;
	};
	__u8 proto;
	__u8 pad[3];
};

/* Connection table: set-associative (LB_CONN_WAYS ways per set), the least
 * recently used way replaced; a table indexed by the flow hash. Shared by all
 * CPUs, not per-CPU: veth has no RSS, a flow's packets are processed on
 * whichever CPU its sender runs, and per-CPU tables lost affinity for about
 * a fifth of the flows in the live test. Entries are written without a lock;
 * `tag` binds the target (backend and pair) to the key so a torn entry reads
 * as a miss. */
struct conn_entry {
	struct flow_key key;
	__u32 target;     /* backend | pair << PAIR_SHIFT, as the ring gave it; 0 = free */
	__u32 tag;        /* conn_tag(): flow hash and target */
	__u32 last_used;  /* the set's clock when last used (lookup.h: touch) */
	__u32 pad;
};

struct conn_set {
	__u32 clock;
	__u32 pad;
	struct conn_entry way[LB_CONN_WAYS];
};

/* What a pair id stands for: written and read by the control plane only,
 * which allocates pairs as rings are written (maps.py) and sums them. */
struct pair {
	__u32 vip_id;
	__u32 backend;    /* 0 = a free pair id */
};

struct lb_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;  /* TCP SYNs, and first packets of non-TCP flows */
};

#endif
