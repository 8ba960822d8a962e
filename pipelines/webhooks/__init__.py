"""Zoom webhooks: a signature-checking receiver (ASGI app) and the durable queue it writes."""
