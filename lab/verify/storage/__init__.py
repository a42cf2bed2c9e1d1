"""Storage verification: fio inside each VM against its tier's hypervisor
IOPS cap (uncapped disks as controls), and the faults that break caps."""
