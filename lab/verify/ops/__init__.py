"""Operator verification (the seed's lifecycle host): the BMCs answer and
secrets are younger than the spec; the faults that break them."""
