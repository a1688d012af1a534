"""The stack's policy as data, each fact once, read by every step and check: the ports (ports.py), the TLS
profile (tls.py), Postfix's lookup maps (maps.py)
and how mailtui's own probes identify themselves (probe.py)."""
