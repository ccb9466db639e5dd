"""fixgate: FIX gateway and order management server. This package wires the parts together."""
