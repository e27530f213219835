#!/usr/bin/env python3
"""A stand-in for the discovery endpoints of a Kubernetes API server, on 127.0.0.1.

`helm install --dry-run=client` renders a chart without touching the cluster, but Helm 3.17
still checks first that a cluster answers (`GET /version`) and reads its capabilities
(`/api`, `/apis`). This server answers exactly those, with Kubernetes v1.31.0 and only the core
`v1` group, so the real helm binary can render NOTES.txt offline. It serves nothing else.

Usage: fake-kube-discovery.py PORT_FILE
Binds a free port, writes it to PORT_FILE, serves until killed.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWERS = {
    "/version": {
        "major": "1",
        "minor": "31",
        "gitVersion": "v1.31.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-08-13T00:00:00Z",
        "goVersion": "go1.22.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    },
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": []},
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        body = ANSWERS.get(path)
        if body is None:
            self.send_response(404)
            data = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "reason": "NotFound", "code": 404}).encode()
        else:
            self.send_response(200)
            data = json.dumps(body).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
