"""Outbound HTTP: seller-supplied image URLs fetched under SSRF rules (fetch.py), signed job webhooks (webhooks.py)."""
