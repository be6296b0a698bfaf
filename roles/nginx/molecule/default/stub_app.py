#!/usr/bin/python3
"""Stub upstream for the nginx scenario: answers every request with JSON that echoes
what nginx sent (headers, method, path, how many requests this connection carried).

    kit-stub-app /run/kitapp/gunicorn.sock   (unix socket, mode 0660)
    kit-stub-app 127.0.0.1:8001              (TCP)
    kit-stub-app --unresponsive 127.0.0.1:8003
                                             (a host that does not answer: its listen queue
                                              is kept full, so the kernel drops every new SYN
                                              and a connect() hangs until the client gives up)
"""

import json
import os
import socketserver
import sys
from http.server import BaseHTTPRequestHandler


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keepalive: nginx may reuse the connection

    def setup(self):
        super().setup()
        self.requests_on_connection = 0

    def address_string(self):
        return str(self.client_address or "unix")

    def answer(self):
        self.requests_on_connection += 1
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = json.dumps(
            {
                "listen": self.server.listen,
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "requests_on_connection": self.requests_on_connection,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Frame-Options", "SAMEORIGIN")  # nginx must hide it
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer


def unresponsive(listen):
    import signal
    import socket

    host, port = listen.rsplit(":", 1)
    with socket.create_server((host, int(port)), backlog=0):
        # One connection that is never accepted fills the queue (backlog 0 holds one).
        with socket.create_connection((host, int(port)), timeout=5):
            signal.pause()


def main(listen):
    if listen.startswith("/"):
        if os.path.exists(listen):
            os.unlink(listen)
        server = socketserver.ThreadingUnixStreamServer(listen, Handler)
        os.chmod(listen, 0o660)
    else:
        host, port = listen.rsplit(":", 1)
        server = socketserver.ThreadingTCPServer((host, int(port)), Handler)
    server.daemon_threads = True
    server.listen = listen
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "--unresponsive":
        unresponsive(sys.argv[2])
    else:
        main(sys.argv[1])
