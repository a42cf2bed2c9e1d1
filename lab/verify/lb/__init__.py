"""Load-balancer verification: per-frontend and per-MUX checks, the client
traffic and echo backends they use, and the faults each check must catch."""
