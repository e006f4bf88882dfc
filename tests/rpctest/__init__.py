"""Shared test support: real processes on loopback (caddy, redis-server, backends)."""
