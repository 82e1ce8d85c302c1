"""Coordination between replicas: event leases, per-scope locks, the polling leader."""
