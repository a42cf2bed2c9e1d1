"""Lifecycle-host features: what an operator of the rack does beside running
it (the seed's hardware lifecycle host): collect logs by role and time window,
rotate the lab's own secrets, power servers through their BMCs."""
