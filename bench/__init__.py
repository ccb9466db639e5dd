"""Benchmark harness: latency of the gateway against a direct connection and a byte relay, throughput."""
