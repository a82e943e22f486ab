# -*- coding: utf-8 -*-
"""A tiny exporter of Istio-shaped request metrics for the canary tests.

Serves ``istio_requests_total`` and ``istio_request_duration_milliseconds`` for a
service's stable and canary versions. Counters grow with time at a fixed request
rate; the share of 5xx answers and the latency follow the canary's current mode
(``healthy`` or ``degraded``), read from a JSON file the test writes.

    python fake_istio_exporter.py PORT MODE_FILE SERVICE STABLE CANARY
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Tuple

RATE = 50.0  # requests per second per version
BUCKETS = (25, 50, 100, 250, 500, 1000, 2500, 5000)
MODES = {"healthy": (0.0, 40.0), "degraded": (0.5, 2000.0)}  # (share of 5xx, latency in ms)


class Traffic:
    def __init__(self, mode_file: str, service: str, versions: Tuple[str, str]) -> None:
        self.mode_file = mode_file
        self.service = service
        self.versions = versions
        self.lock = threading.Lock()
        self.last = time.monotonic()
        self.ok: Dict[str, float] = {v: 0.0 for v in versions}
        self.errors: Dict[str, float] = {v: 0.0 for v in versions}
        self.buckets: Dict[str, Dict[int, float]] = {v: {b: 0.0 for b in BUCKETS} for v in versions}
        self.latency_sum: Dict[str, float] = {v: 0.0 for v in versions}

    def _mode(self, version: str) -> Tuple[float, float]:
        if version == self.versions[0]:
            return MODES["healthy"]
        try:
            with open(self.mode_file, encoding="utf-8") as handle:
                return MODES[json.load(handle)["canary"]]
        except (OSError, ValueError, KeyError):
            return MODES["healthy"]

    def advance(self) -> None:
        with self.lock:
            now = time.monotonic()
            requests, self.last = RATE * (now - self.last), now
            for version in self.versions:
                error_share, latency = self._mode(version)
                self.errors[version] += requests * error_share
                self.ok[version] += requests * (1 - error_share)
                self.latency_sum[version] += requests * latency
                for bucket in BUCKETS:
                    if latency <= bucket:
                        self.buckets[version][bucket] += requests

    def metrics(self) -> str:
        self.advance()
        lines = ["# TYPE istio_requests_total counter", "# TYPE istio_request_duration_milliseconds histogram"]
        for version in self.versions:
            labels = 'destination_service_name="%s",destination_version="%s"' % (self.service, version)
            lines.append('istio_requests_total{%s,response_code="200"} %f' % (labels, self.ok[version]))
            lines.append('istio_requests_total{%s,response_code="503"} %f' % (labels, self.errors[version]))
            total = self.ok[version] + self.errors[version]
            for bucket in BUCKETS:
                lines.append('istio_request_duration_milliseconds_bucket{%s,le="%d"} %f'
                             % (labels, bucket, self.buckets[version][bucket]))
            lines.append('istio_request_duration_milliseconds_bucket{%s,le="+Inf"} %f' % (labels, total))
            lines.append('istio_request_duration_milliseconds_sum{%s} %f' % (labels, self.latency_sum[version]))
            lines.append('istio_request_duration_milliseconds_count{%s} %f' % (labels, total))
        return "\n".join(lines) + "\n"


def main() -> None:
    port, mode_file, service, stable, canary = sys.argv[1:6]
    traffic = Traffic(mode_file, service, (stable, canary))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = traffic.metrics().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


if __name__ == "__main__":
    main()
