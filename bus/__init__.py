"""fixgate's event bus: the embedded NATS server, the journal's publisher, and `fixgate events tail`."""
