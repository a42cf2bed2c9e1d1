"""RDMA verification: perftest on the NICs the topology claims RDMA-capable."""
