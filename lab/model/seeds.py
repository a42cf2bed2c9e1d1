"""The seed concept each topology field comes from, as docs/topology.md and
the JSON Schema (`x-seed`) name it. Seeds: "Azure Stack – in-depth
architecture" (ARCH) and "Azure Virtual Machine Internals" (VM); RIG marks
what stacklab adds to run the seeds' concepts on one machine."""

from __future__ import annotations

ARCH = "Azure Stack architecture"
VM = "Azure VM internals"

HCI = f"{ARCH}: hyper-converged Hyper-V + Storage Spaces Direct nodes, at most 12 per cluster"
RDMA = f"{ARCH}: RDMA (RoCE) is required for storage traffic"
VXLAN = f"{ARCH}: VXLAN for cross-host tenant traffic, host tables programmed by the network controller"
FABRIC = f"{ARCH}: ToR and network fabric; the MUX advertises VIPs to the ToR"
SLB = f"{ARCH}: software load balancer (MUX), a public IP and port against a backend pool on a port"
DSR = f"{ARCH}: the SLB load-balances with direct server return"
STANDARD_LB = f"{ARCH}: Azure Standard LB (HA ports, several frontends, probe status, flows kept)"
PROBES = f"{ARCH}: Azure LB health probes (interval 5 s, failures before down)"
NO_IPV6 = f"{ARCH}: limitations (no IPv6)"
SIZES = f"{ARCH} + {VM}: instance types A, D, Dv2 (Standard_DS1_v2: 1 core, 3.5 GB, 2 data disks)"
DISKS = f"{ARCH} + {VM}: data disks (max 1 TB; a standard disk is capped at 500 IOPS by the hypervisor)"
MIRROR = (f"{ARCH}: Storage Spaces Direct three-way mirror (each volume on three servers of its cluster, "
          "survives two server failures)")
CUSTOM_SCRIPT = f"{VM}: CustomScript extension, its exit code fails provisioning"
DIP = f"{VM}: the VM's address (DIP) is handed out by the host"
TENANT = f"{ARCH}: tenant virtual networks, isolated from each other"
SECRETS = f"{ARCH}: internal secrets are rotated (every 24 h)"
VPN = (f"{ARCH}: the gateway's site-to-site VPN connects a tenant's virtual network to an on-premises "
       "site (IKEv2; gateways in an active/standby pair)")
RIG = "stacklab: what the rig needs to run the seeds' concepts on one machine"
