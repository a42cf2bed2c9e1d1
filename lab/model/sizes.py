"""Azure VM sizes and disk tiers that Azure Stack offers (A, D, Dv2 series).

The seed gives Standard_DS1_v2 = 1 core, 3.5 GB (3584 MB), max 2 data disks,
500 IOPS per standard disk, max disk 1023 GB. The rest of the table follows the
same published series.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VmSize:
    name: str
    cores: int
    memory_mb: int
    max_data_disks: int


def _sizes(*rows: tuple[str, int, int, int]) -> dict[str, VmSize]:
    return {name: VmSize(name, cores, mem, disks) for name, cores, mem, disks in rows}


VM_SIZES: dict[str, VmSize] = _sizes(
    ("Basic_A0", 1, 768, 1),
    ("Basic_A1", 1, 1792, 2),
    ("Basic_A2", 2, 3584, 4),
    ("Standard_A0", 1, 768, 1),
    ("Standard_A1", 1, 1792, 2),
    ("Standard_A2", 2, 3584, 4),
    ("Standard_A3", 4, 7168, 8),
    ("Standard_D1", 1, 3584, 2),
    ("Standard_D2", 2, 7168, 4),
    ("Standard_D3", 4, 14336, 8),
    ("Standard_D1_v2", 1, 3584, 2),
    ("Standard_D2_v2", 2, 7168, 4),
    ("Standard_D3_v2", 4, 14336, 8),
    ("Standard_D4_v2", 8, 28672, 16),
    ("Standard_DS1_v2", 1, 3584, 2),
    ("Standard_DS2_v2", 2, 7168, 4),
    ("Standard_DS3_v2", 4, 14336, 8),
    ("Standard_DS4_v2", 8, 28672, 16),
)

# IOPS cap the hypervisor applies per data disk of each tier; None = uncapped.
# Azure Stack cannot guarantee premium performance, so premium is modelled as
# uncapped (the control disk in IOPS checks).
DISK_TIERS: dict[str, int | None] = {"standard": 500, "premium": None}

MAX_DISK_GB = 1023
MAX_CLUSTER_NODES = 12
VXLAN_OVERHEAD = 50
