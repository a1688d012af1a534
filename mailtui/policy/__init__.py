"""The stack's policy as data, each fact once, read by every step and check: the ports (ports.py), the TLS
profile (tls.py) and Postfix's lookup maps (maps.py)."""
