"""The TLS context the process's HTTPS clients verify with.

Apart from `http.py` so that the simulated estate, whose load balancers forward through
HTTP clients, takes the context without the poller's HTTP and DNS machinery (dnspython's
resolvers among it).
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (the CA bundle, SSL_CERT_FILE and SSL_CERT_DIR honoured),
    made once a process: loading the CA bundle costs 50 ms of CPU and 0.9 MB each time."""
    return httpx.create_ssl_context()
