"""Benchmarks behind ``modist bench``; each prints figures."""
