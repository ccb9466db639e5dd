"""The FIX edge: client acceptor and venue initiator sessions, and FIX <-> domain translation."""
