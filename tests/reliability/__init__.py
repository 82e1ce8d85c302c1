"""Reliability checks: crashes, graceful shutdown and load, against the fakes on 127.0.0.1."""
