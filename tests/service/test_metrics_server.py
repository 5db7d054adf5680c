"""The service's metrics/health server closes connections that send nothing, so idle
connections (each a thread) cannot pile up (crawler.service.metrics.MetricsServer)."""

from __future__ import annotations

import socket
import urllib.request

from crawler.clock import utcnow
from crawler.service.metrics import MetricsServer, ServiceMetrics


def test_an_idle_connection_is_closed_after_the_timeout(db):
    server = MetricsServer(ServiceMetrics(db, list, clock=utcnow), 0, idle_timeout_s=0.5).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as idle:
            # nothing sent: the server ends the connection (recv returns b""), long before
            # our own 20 s would raise
            assert idle.recv(1024) == b""
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as slow:
            slow.sendall(b"GET /healthz HTTP/1.1\r\n")  # a request left unfinished
            assert slow.recv(1024) == b""
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=20) as answer:  # requests are still served
            assert answer.status == 200
    finally:
        server.stop()
