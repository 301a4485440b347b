#!/usr/bin/env python3
"""The mail relay and SMS gateway of fault 5 (tests/faults/05-mail-sms-down.sh), in each state it tests.

    fake_relay.py MODE PORT [DIR]

MODE:
    smtp-ok     aiosmtpd on 127.0.0.1:PORT; each message saved as DIR/<n>.eml (tests/clients/smtp_sink.py)
    smtp-fail   aiosmtpd answering every message with "554 5.3.0 relay failure"
    http-ok     an HTTP server answering every request "200 OK" (body "OK"); each request counted in DIR
    http-fail   an HTTP server answering every request "500 Internal Server Error"
    silent      a TCP listener that accepts connections and never sends a byte (a hung relay or gateway)

Loopback only; runs until stopped (SIGTERM). Prints "ready" once listening.
"""

import asyncio
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def smtp(port, directory, fail):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients"))
    from aiosmtpd.controller import Controller
    from smtp_sink import Sink

    class Failing:
        async def handle_DATA(self, server, session, envelope):
            return "554 5.3.0 relay failure"

    handler = Failing() if fail else Sink(directory)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


def http(port, directory, fail):
    counter = iter(range(1, 1 << 62))

    class Handler(BaseHTTPRequestHandler):
        def answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if fail:
                body, status = b"gateway failure", 500
            else:
                body, status = b"OK", 200
                open(os.path.join(directory, "%d.sms" % next(counter)), "wb").close()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


def silent(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    print("ready", flush=True)
    held = []
    while True:
        conn, _ = listener.accept()
        held.append(conn)  # never read, never answered, never closed


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    directory = sys.argv[3] if len(sys.argv) > 3 else "."
    if mode in ("smtp-ok", "smtp-fail"):
        smtp(port, directory, mode == "smtp-fail")
    elif mode in ("http-ok", "http-fail"):
        http(port, directory, mode == "http-fail")
    elif mode == "silent":
        silent(port)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
