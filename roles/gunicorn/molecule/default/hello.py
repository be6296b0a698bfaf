"""A tiny WSGI application for the gunicorn role's scenario (installed by prepare.yml).

GET /            {"pid": <worker pid>, "body": "hello from gunicorn"}
GET /slow        the same, after 0.5 s (a request that is in flight during a restart)
GET /env         the KIT_* environment variables the worker sees
GET /write?dir=  tries to create and remove a file in dir: {"written": true} or the error
"""

import json
import os
import time
from pathlib import Path
from urllib.parse import parse_qs

BODY = "hello from gunicorn"


def _answer(environ):
    path = environ.get("PATH_INFO", "/")
    if path == "/slow":
        time.sleep(0.5)
    if path in ("/", "/slow"):
        return "200 OK", {"pid": os.getpid(), "body": BODY}
    if path == "/env":
        return "200 OK", {k: v for k, v in os.environ.items() if k.startswith("KIT_")}
    if path == "/write":
        directory = parse_qs(environ.get("QUERY_STRING", "")).get("dir", [""])[0]
        probe = Path(directory) / f"probe-{os.getpid()}"
        try:
            probe.write_text("probe\n")
            probe.unlink()
        except OSError as error:
            return "200 OK", {"written": False, "errno": error.errno, "error": error.strerror}
        return "200 OK", {"written": True}
    return "404 Not Found", {"error": "not found"}


def application(environ, start_response):
    status, answer = _answer(environ)
    body = json.dumps(answer).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
