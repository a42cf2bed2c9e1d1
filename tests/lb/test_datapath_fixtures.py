"""Katran-tester style fixtures: each input frame goes through the real XDP
program with BPF_PROG_TEST_RUN; the action and the exact output bytes are
compared with what Scapy builds for the expected frame."""

from __future__ import annotations

import os

import numpy as np
import pytest
from lb_fixtures import (
    BACKENDS,
    CLIENT,
    MUX_IP,
    MUX_MAC,
    RING,
    VIP_HA,
    VIP_TCP,
    client_frame,
    expected_encap,
    load_datapath,
    unload_datapath,
)
from lb_support import require_root
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, IPOption_RR
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.utils import checksum

from lab.lb.bpfsys import BpfMap, GlobalTable
from lab.lb.flowhash import flow_hash, ring_slot
from lab.lb.maps import BACKEND_MASK, CFG_F_NO_AFFINITY, CONN_SET_DTYPE, BackendEntry, VipRule

XDP_DROP, XDP_PASS, XDP_TX = 1, 2, 3
pytestmark = pytest.mark.root


@pytest.fixture
def dp():
    require_root("clang", "bpftool")
    lab = f"lbfix{os.getpid()}"
    datapath = load_datapath(lab)
    try:
        yield datapath
    finally:
        unload_datapath(datapath, lab)


def assert_encapsulated(dp, vip_id, pkt, sport=0, dport=0, tos=0):
    res = dp.run(client_frame(pkt))
    assert res.retval == XDP_TX
    proto = pkt[IP].proto
    h = flow_hash(CLIENT, pkt[IP].dst, sport, dport, proto)
    backend = dp.rings[vip_id][ring_slot(h, RING)]
    assert res.data == expected_encap(bytes(pkt), BACKENDS[backend], h, tos)
    return backend


def test_tcp_syn_to_vip_is_vxlan_encapsulated_to_the_maglev_backend(dp):
    pkt = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40000, dport=80, flags="S")
    backend = assert_encapsulated(dp, 1, pkt, 40000, 80)
    assert dp.maps.vip_stats(1).new_flows == 1
    assert dp.maps.backend_stats(backend).packets == 1
    assert dp.maps.conn_backend(CLIENT, VIP_TCP, 40000, 80, 6) == {backend}


def test_established_flow_keeps_its_backend_when_the_ring_changes(dp):
    syn = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40001, dport=80, flags="S")
    first = assert_encapsulated(dp, 1, syn, 40001, 80)
    dp.set_ring(1, [b for b in range(1, 4) if b != first][:1] * RING)
    ack = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40001, dport=80, flags="A") / b"GET /"
    res = dp.run(client_frame(ack))
    h = flow_hash(CLIENT, VIP_TCP, 40001, 80, 6)
    assert res.retval == XDP_TX
    assert res.data == expected_encap(bytes(ack), BACKENDS[first], h)
    counters = dp.maps.global_counters()
    assert counters["conn_miss"] == 0 and counters["tx"] == 2  # a SYN is a fresh pick, not a miss
    assert dp.maps.vip_stats(1).new_flows == 1  # the ACK is not a new flow
    # counted under the rule its connection-table entry names
    assert dp.maps.vip_stats(1).packets == 2 and dp.maps.backend_stats(first).packets == 2


def test_affinity_off_follows_the_ring_for_established_flows(dp):
    syn = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40002, dport=80, flags="S")
    first = assert_encapsulated(dp, 1, syn, 40002, 80)
    other = next(b for b in BACKENDS if b != first)
    dp.set_ring(1, [other] * RING)
    dp.maps.set_config_flags(CFG_F_NO_AFFINITY)
    ack = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40002, dport=80, flags="A")
    assert assert_encapsulated(dp, 1, ack, 40002, 80) == other


def test_syn_takes_a_fresh_pick_even_when_the_flow_is_known(dp):
    syn = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40003, dport=80, flags="S")
    first = assert_encapsulated(dp, 1, syn, 40003, 80)
    other = next(b for b in BACKENDS if b != first)
    dp.set_ring(1, [other] * RING)
    assert assert_encapsulated(dp, 1, syn, 40003, 80) == other


# a one-byte datagram is too short for the common-frame shortcut (parse.h),
# a 32-byte one takes it: both parsers must give the same frame and counts
@pytest.mark.parametrize("payload", [b"q", b"q" * 32], ids=["full-parser", "common-frame"])
def test_udp_rule_forwards_and_counts_the_first_packet_as_new_flow(dp, payload):
    pkt = IP(src=CLIENT, dst=VIP_TCP) / UDP(sport=5353, dport=53) / payload
    assert_encapsulated(dp, 2, pkt, 5353, 53)
    assert_encapsulated(dp, 2, pkt, 5353, 53)
    assert dp.maps.vip_stats(2).new_flows == 1
    assert dp.maps.vip_stats(2).packets == 2
    assert dp.maps.global_counters()["conn_miss"] == 1  # the first packet had no entry


def test_ha_ports_forward_any_port_udp_and_icmp(dp):
    for pkt, sport, dport in [
        (IP(src=CLIENT, dst=VIP_HA) / TCP(sport=1234, dport=31337, flags="S"), 1234, 31337),
        (IP(src=CLIENT, dst=VIP_HA) / UDP(sport=999, dport=7) / b"x", 999, 7),
        (IP(src=CLIENT, dst=VIP_HA) / ICMP(type=8, id=7) / b"ping", 0, 0),
    ]:
        assert_encapsulated(dp, 3, pkt, sport, dport)
    assert dp.maps.vip_stats(3).packets == 3


def test_port_without_rule_is_dropped_and_counted(dp):
    for pkt in [IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=1, dport=81, flags="S"),
                IP(src=CLIENT, dst=VIP_TCP) / UDP(sport=1, dport=80),
                IP(src=CLIENT, dst=VIP_TCP) / ICMP()]:
        assert dp.run(client_frame(pkt)).retval == XDP_DROP
    assert dp.maps.global_counters()["no_rule_drop"] == 3


def test_non_ipv4_and_non_vip_traffic_pass_to_the_stack(dp):
    frames = [bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=MUX_MAC) / ARP(pdst=MUX_IP)),
              bytes(Ether(dst=MUX_MAC) / IPv6(dst="2001:db8::1") / UDP()),
              client_frame(IP(src=CLIENT, dst=MUX_IP) / TCP(dport=22, flags="S"))]
    for frame in frames:
        res = dp.run(frame)
        assert res.retval == XDP_PASS
        assert res.data == frame
    counters = dp.maps.global_counters()
    assert counters["non_ipv4_pass"] == 2 and counters["non_vip_pass"] == 1


def test_ip_options_are_carried_inside_the_tunnel(dp):
    pkt = (IP(src=CLIENT, dst=VIP_TCP, tos=0x28, options=[IPOption_RR(routers=["0.0.0.0"]), IPOption_NOP()])
           / TCP(sport=40004, dport=80, flags="S"))
    assert pkt[IP].ihl is None and len(bytes(pkt)) > 40
    assert_encapsulated(dp, 1, IP(bytes(pkt)), 40004, 80, tos=0x28)


def test_fragments_to_a_vip_are_dropped_elsewhere_passed(dp):
    first = IP(src=CLIENT, dst=VIP_TCP, flags="MF", id=9) / UDP(sport=5, dport=53) / (b"a" * 64)
    later = IP(src=CLIENT, dst=VIP_TCP, frag=8, id=9, proto=17) / (b"b" * 32)
    other = IP(src=CLIENT, dst=MUX_IP, frag=8, id=9, proto=17) / (b"b" * 32)
    assert dp.run(client_frame(first)).retval == XDP_DROP
    assert dp.run(client_frame(later)).retval == XDP_DROP
    assert dp.run(client_frame(other)).retval == XDP_PASS
    assert dp.maps.global_counters()["frag_drop"] == 2


def test_truncated_tcp_header_is_dropped_as_malformed(dp):
    frame = client_frame(IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=1, dport=80))[:14 + 20 + 10]
    frame = frame[:16] + (30).to_bytes(2, "big") + frame[18:]
    assert dp.run(frame).retval == XDP_DROP
    assert dp.maps.global_counters()["malformed_drop"] == 1


def test_total_length_below_the_ip_header_is_dropped_as_malformed(dp):
    # a full-sized frame, so the common-frame shortcut sees it first
    frame = client_frame(IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=1, dport=80) / (b"x" * 20))
    frame = frame[:16] + (19).to_bytes(2, "big") + frame[18:]
    assert dp.run(frame).retval == XDP_DROP
    assert dp.maps.global_counters()["malformed_drop"] == 1


def test_empty_ring_drops_as_no_backend(dp):
    dp.set_ring(1, [0] * RING)
    pkt = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40005, dport=80, flags="S")
    assert dp.run(client_frame(pkt)).retval == XDP_DROP
    assert dp.maps.global_counters()["no_backend_drop"] == 1


def test_deleted_backend_sends_its_established_flows_back_through_maglev(dp):
    syn = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40006, dport=80, flags="S")
    first = assert_encapsulated(dp, 1, syn, 40006, 80)
    other = next(b for b in BACKENDS if b != first)
    dp.set_ring(1, [other] * RING)
    e = BACKENDS[first]
    dp.maps.put_backend(first, BackendEntry(e.underlay_ip, e.vni, e.mac, e.inner_src, e.next_hop,
                                            valid=False))
    ack = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40006, dport=80, flags="A")
    assert assert_encapsulated(dp, 1, ack, 40006, 80) == other


def test_torn_connection_entry_reads_as_a_miss(dp):
    # A torn write (two CPUs filling one way at once) is simulated by changing
    # only the entry's backend: its tag no longer matches, so the ACK must take
    # the full path (a fresh Maglev pick) instead of the torn backend.
    syn = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40010, dport=80, flags="S")
    first = assert_encapsulated(dp, 1, syn, 40010, 80)
    torn, other = [b for b in BACKENDS if b != first][:2]
    dp.set_ring(1, [other] * RING)
    conn = dp.maps.m["lb_conn"]
    key = (flow_hash(CLIENT, VIP_TCP, 40010, 80, 6) & (conn.info.max_entries - 1)).to_bytes(4, "little")
    table = np.frombuffer(conn.lookup(key), dtype=CONN_SET_DTYPE).copy()
    target = table[0]["way"]["target"]
    hit = (target & BACKEND_MASK) == first
    target[hit] = (target[hit] & ~np.uint32(BACKEND_MASK)) | torn  # the backend only
    conn.update(key, table.tobytes())
    assert dp.maps.conn_backend(CLIENT, VIP_TCP, 40010, 80, 6) == {torn}
    ack = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40010, dport=80, flags="A")
    assert assert_encapsulated(dp, 1, ack, 40010, 80) == other
    assert dp.maps.global_counters()["conn_miss"] == 1


def test_frame_above_underlay_mtu_is_dropped(dp):
    dp.maps.set_max_frame(200)
    pkt = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40007, dport=80, flags="A") / (b"z" * 200)
    assert dp.run(client_frame(pkt)).retval == XDP_DROP
    assert dp.maps.global_counters()["too_big_drop"] == 1


def test_established_flow_above_underlay_mtu_is_dropped_too(dp):
    syn = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40008, dport=80, flags="S")
    assert_encapsulated(dp, 1, syn, 40008, 80)
    dp.maps.set_max_frame(200)
    big = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40008, dport=80, flags="A") / (b"z" * 200)
    assert dp.run(client_frame(big)).retval == XDP_DROP
    assert dp.maps.global_counters()["too_big_drop"] == 1
    small = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40008, dport=80, flags="A") / b"ok"
    assert dp.run(client_frame(small)).retval == XDP_TX


def test_removed_rule_closes_its_established_flows_and_leaves_the_others(dp):
    """Established packets find their rule in the connection table: closing a
    port must remove its flows' entries, or they would still be forwarded."""
    web = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40009, dport=80, flags="S")
    dns = IP(src=CLIENT, dst=VIP_TCP) / UDP(sport=40010, dport=53) / b"q"
    ha = IP(src=CLIENT, dst=VIP_HA) / TCP(sport=40011, dport=443, flags="S")
    assert_encapsulated(dp, 1, web, 40009, 80)
    assert_encapsulated(dp, 2, dns, 40010, 53)
    assert_encapsulated(dp, 3, ha, 40011, 443)
    for ring_id in (1, 2, 3):  # an empty ring: only the connection table can forward now
        dp.set_ring(ring_id, [0] * RING)
    dp.maps.set_vip_rules(VIP_TCP, [VipRule(53, 17, 2, 2 * RING, RING)])  # tcp/80 closed

    ack = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40009, dport=80, flags="A")
    assert dp.run(client_frame(ack)).retval == XDP_DROP
    assert dp.maps.global_counters()["no_rule_drop"] == 1
    assert dp.maps.conn_backend(CLIENT, VIP_TCP, 40009, 80, 6) == set()
    assert dp.run(client_frame(dns)).retval == XDP_TX
    ha_ack = IP(src=CLIENT, dst=VIP_HA) / TCP(sport=40011, dport=443, flags="A")
    assert dp.run(client_frame(ha_ack)).retval == XDP_TX


def _flows_in_one_conn_set(dp, count):
    """`count` client source ports whose flows to VIP_TCP:80 share one connection-table set."""
    sets = dp.maps.m["lb_conn"].info.max_entries
    seen: dict[int, list[int]] = {}
    for sport in range(1024, 65536):
        group = seen.setdefault(flow_hash(CLIENT, VIP_TCP, sport, 80, 6) & (sets - 1), [])
        group.append(sport)
        if len(group) == count:
            return group
    raise AssertionError(f"no {count} ports share a set")


def test_full_connection_set_replaces_its_least_recently_used_flow(dp):
    a, b, c, d, e, f = _flows_in_one_conn_set(dp, 6)

    def send(sport, flags):
        pkt = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=sport, dport=80, flags=flags)
        assert dp.run(client_frame(pkt)).retval == XDP_TX

    def kept(sport):
        return bool(dp.maps.conn_backend(CLIENT, VIP_TCP, sport, 80, 6))

    for sport in (a, b, c, d):  # the set's four ways, oldest first
        send(sport, "S")
    send(a, "A")                # a is now the most recently used: b is the oldest
    send(e, "S")
    assert [kept(s) for s in (a, b, c, d, e)] == [True, False, True, True, True]
    send(e, "A")                # already the newest: nothing changes
    send(e, "A")
    send(c, "A")                # order, oldest first: d, a, e, c
    send(f, "S")
    assert [kept(s) for s in (a, c, d, e, f)] == [True, True, False, True, True]


def test_a_repeated_syn_rewrites_its_own_way_and_evicts_nothing(dp):
    # The write looks for the flow's own way before it picks one to replace:
    # with a full set, a second SYN of a known flow must not evict another flow.
    a, b, c, d = _flows_in_one_conn_set(dp, 4)
    for sport in (a, b, c, d):
        pkt = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=sport, dport=80, flags="S")
        assert dp.run(client_frame(pkt)).retval == XDP_TX
    ack = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=a, dport=80, flags="A")
    assert dp.run(client_frame(ack)).retval == XDP_TX  # a is now the newest, b the oldest
    first = dp.maps.conn_backend(CLIENT, VIP_TCP, a, 80, 6).pop()
    other = next(x for x in BACKENDS if x != first)
    dp.set_ring(1, [other] * RING)
    again = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=a, dport=80, flags="S")
    assert assert_encapsulated(dp, 1, again, a, 80) == other
    assert dp.maps.conn_backend(CLIENT, VIP_TCP, a, 80, 6) == {other}
    assert all(dp.maps.conn_backend(CLIENT, VIP_TCP, s, 80, 6) for s in (b, c, d))


def test_tables_are_the_kernels_memory_and_refuse_bad_records(dp):
    """The control plane writes the datapath's globals through a shared
    mapping: the kernel's own view of the map (a syscall read) is the same."""
    table = dp.maps.m["lb_backends"]
    record = BACKENDS[2].pack(MUX_IP, MUX_MAC)
    table.update((7).to_bytes(4, "little"), record)
    with BpfMap.pinned(str(dp.pinned.maps / "_data_backends")) as whole:
        raw = whole.lookup(bytes(4))
    assert raw[7 * len(record):8 * len(record)] == record
    table.update_batch(np.array([9, 5], dtype="=u4").tobytes(), record + bytes(len(record)), 2)
    assert table.lookup((9).to_bytes(4, "little")) == record
    assert not any(table.lookup((5).to_bytes(4, "little")))
    beyond = table.info.max_entries.to_bytes(4, "little")
    with pytest.raises(OSError):
        table.update(beyond, record)
    with pytest.raises(OSError):
        table.update_batch(beyond, record, 1)
    with pytest.raises(ValueError, match="not a global"):
        GlobalTable.pinned(str(dp.pinned.maps / "lb_global"), 8)


def test_counters_are_kept_per_rule_and_backend_pair_and_summed_both_ways(dp):
    # one backend behind two rules: the datapath counts each packet once, in
    # its (rule, backend) pair; VIP, backend and TX counts are sums of pairs
    web = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40020, dport=80, flags="S")
    b = assert_encapsulated(dp, 1, web, 40020, 80)
    dp.set_ring(3, [b] * RING)
    ha = IP(src=CLIENT, dst=VIP_HA) / UDP(sport=40021, dport=5000) / b"x"
    assert assert_encapsulated(dp, 3, ha, 40021, 5000) == b
    pairs = dp.maps.pair_stats()
    assert (pairs[(1, b)].packets, pairs[(1, b)].new_flows) == (1, 1)
    assert (pairs[(3, b)].packets, pairs[(3, b)].bytes) == (1, 14 + len(ha))
    assert dp.maps.backend_stats(b).packets == 2
    assert (dp.maps.vip_stats(1).packets, dp.maps.vip_stats(3).packets) == (1, 1)
    assert dp.maps.global_counters()["tx"] == 2


def test_running_out_of_counter_pairs_is_a_clear_error_and_allocates_nothing(dp):
    capacity = dp.maps.m["lb_pairs"].info.max_entries - 1  # pair id 0 means none
    left = capacity - len(dp.maps.pair_stats())
    rule = 100
    while left:  # fill the table exactly, up to 4095 backends per rule
        take = min(left, BACKEND_MASK)
        assert len(dp.maps.pair_ids(rule, set(range(1, take + 1)))) == take
        left, rule = left - take, rule + 1
    with pytest.raises(ValueError, match="reload the load balancer"):
        dp.maps.pair_ids(rule, {1})
    assert len(dp.maps.pair_stats()) == capacity
    assert dp.maps.pair_ids(100, {1, 2}) == dp.maps.pair_ids(100, {1, 2})  # known pairs still resolve
    with pytest.raises(ValueError, match="outside 1..4095"):
        dp.maps.pair_ids(100, {BACKEND_MASK + 1})


def test_new_outer_source_rewrites_every_backend_header(dp):
    dp.maps.set_config("198.18.0.99", "02:00:00:00:00:99", "192.0.2.0/24")
    pkt = IP(src=CLIENT, dst=VIP_TCP) / TCP(sport=40008, dport=80, flags="S")
    res = dp.run(client_frame(pkt))
    assert res.retval == XDP_TX
    out = Ether(res.data)
    assert (out[Ether].src, out[IP].src) == ("02:00:00:00:00:99", "198.18.0.99")
    assert checksum(bytes(out[IP])[:20]) == 0  # the header with its checksum sums to zero
