"""Fabric verification: underlay, tenant reachability, MTU and isolation, VNI
on the wire, no flooding; the captures and port counters they use; faults."""
