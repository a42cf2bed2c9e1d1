"""Every Prometheus metric name stacklab exposes, in one place.

The exporter, the live collectors (LB and fabric code implement them) and the
Grafana dashboards all import these constants, so a dashboard cannot drift
away from what is exported. Names follow Prometheus conventions (base units,
`_total` on counters; promtool-checked by the tests).

Check metric conventions (CheckResult.metrics keys) that reports and
dashboards understand:
  iops, iops_target      storage checks: measured IOPS samples; the disk's cap
  <m>_target             any metric with a sibling <m>_target is judged by its
                         distance from that target (see lab.report.regress)
  backend_flows:<name>   LB distribution check: flows that landed on backend <name>
  failover_s, rtt_ms, latency_us, loss_ratio, throughput_bps, pps
"""

from __future__ import annotations

PREFIX = "stacklab"

# Verify results and history (lab.report.exporter)
CHECK_VERDICT = f"{PREFIX}_check_verdict"          # gauge, 1 on the current verdict (state set)
CHECK_PASSED = f"{PREFIX}_check_passed"            # gauge 1/0 (skipped counts as passed)
CHECK_DURATION = f"{PREFIX}_check_duration_seconds"
CHECK_METRIC = f"{PREFIX}_check_metric"            # gauge, median of a check metric's samples
CHECK_CONSECUTIVE_FAILURES = f"{PREFIX}_check_consecutive_failures"  # gauge, runs in a row failing
VERIFY_RUNS = f"{PREFIX}_verify_runs"              # counter -> _total
VERIFY_PASSED_RUNS = f"{PREFIX}_verify_passed_runs"  # counter -> _total
VERIFY_PASS_RATIO = f"{PREFIX}_verify_pass_ratio"
VERIFY_LAST_RUN_TIMESTAMP = f"{PREFIX}_verify_last_run_timestamp_seconds"
VERIFY_LAST_RUN_ID = f"{PREFIX}_verify_last_run_id"  # gauge, history id (names the HTML run page)
VERIFY_LAST_RUN_PASSED = f"{PREFIX}_verify_last_run_passed"
VERIFY_LAST_RUN_DURATION = f"{PREFIX}_verify_last_run_duration_seconds"
VERIFY_LAST_RUN_CHECKS = f"{PREFIX}_verify_last_run_checks"  # gauge by verdict
REGRESS_RUNS = f"{PREFIX}_regress_runs"            # counter -> _total
REGRESS_LAST_REGRESSIONS = f"{PREFIX}_regress_last_regressions"
REGRESS_LAST_TIMESTAMP = f"{PREFIX}_regress_last_run_timestamp_seconds"
COLLECTOR_UP = f"{PREFIX}_collector_up"            # gauge per live collector

# Load balancer (per VIP frontend and backend), read from the BPF maps
LB_PACKETS = f"{PREFIX}_lb_packets"                # counter -> _total
LB_BYTES = f"{PREFIX}_lb_bytes"                    # counter -> _total
LB_SYNS = f"{PREFIX}_lb_syns"                      # counter -> _total
LB_DROPPED = f"{PREFIX}_lb_dropped_packets"        # counter -> _total, by reason
LB_BACKEND_HEALTHY = f"{PREFIX}_lb_backend_healthy"  # gauge 1/0 (probe status)
# The MUX pool's BGP (per MUX, from its FRR and the ToR's)
LB_BGP_SESSION_UP = f"{PREFIX}_lb_bgp_session_up"          # gauge 1/0: Established, the MUX's view
LB_BGP_BFD_UP = f"{PREFIX}_lb_bgp_bfd_up"                  # gauge 1/0: BFD session up, the MUX's view
LB_BGP_ADVERTISED = f"{PREFIX}_lb_bgp_advertised_routes"   # gauge: VIPs the MUX announces
LB_BGP_ROUTE = f"{PREFIX}_lb_bgp_route_advertised"         # gauge 1 per (MUX, VIP) announced
LB_BGP_ACCEPTED = f"{PREFIX}_lb_bgp_accepted_routes"       # gauge: the MUX's routes the ToR accepted

# Fabric (per server namespace and interface)
FABRIC_RX_PACKETS = f"{PREFIX}_fabric_receive_packets"    # counter -> _total
FABRIC_TX_PACKETS = f"{PREFIX}_fabric_transmit_packets"   # counter -> _total
FABRIC_RX_BYTES = f"{PREFIX}_fabric_receive_bytes"        # counter -> _total
FABRIC_TX_BYTES = f"{PREFIX}_fabric_transmit_bytes"       # counter -> _total
FABRIC_DROPPED = f"{PREFIX}_fabric_dropped_packets"       # counter -> _total, by direction
FABRIC_LINK_UP = f"{PREFIX}_fabric_link_up"               # gauge 1/0
FABRIC_FDB_ENTRIES = f"{PREFIX}_fabric_vxlan_fdb_entries"  # gauge per VNI

# Site-to-site VPN (per VPN gateway and gateway instance), read from the daemons
# (wireguard-go's UAPI, charon's VICI) at each scrape
VPN_TUNNEL_UP = f"{PREFIX}_vpn_tunnel_up"                  # gauge 1/0: the site has the tunnel
VPN_INSTANCE_SERVING = f"{PREFIX}_vpn_instance_serving"    # gauge 1 on the instance carrying it now
VPN_INSTANCE_UP = f"{PREFIX}_vpn_instance_up"              # gauge 1/0: the instance's daemon answers
VPN_INSTANCE_TUNNEL_UP = f"{PREFIX}_vpn_instance_tunnel_up"  # gauge 1/0: the instance's own tunnel
VPN_RX_BYTES = f"{PREFIX}_vpn_receive_bytes"               # counter -> _total (restarts on a re-key)
VPN_TX_BYTES = f"{PREFIX}_vpn_transmit_bytes"              # counter -> _total
VPN_LAST_HANDSHAKE = f"{PREFIX}_vpn_last_handshake_timestamp_seconds"  # WireGuard only

CHECK_LABELS = ("lab", "group", "check")
LB_LABELS = ("lab", "lb", "vip", "port", "protocol", "backend")
LB_BGP_LABELS = ("lab", "mux", "peer")
FABRIC_LABELS = ("lab", "server", "interface")
VPN_LABELS = ("lab", "vpn", "protocol")
VPN_INSTANCE_LABELS = ("lab", "vpn", "instance", "role")
