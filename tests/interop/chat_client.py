#!/usr/bin/env python3
"""A fernchat client in Python, written only from PROTOCOL.md.

It shows students that the protocol is all a client needs, and CI runs it against the real
server (tests/python_client.rs). Needs Python's `cryptography` package.

    python3 tests/interop/chat_client.py --nick pybot --say "hello from Python"

prints every event it receives as one JSON line, sends the --say lines, and with --expect TEXT
waits (at most --timeout seconds) until a room message with that text has arrived.
"""
import argparse
import json
import socket
import sys
import time

from cryptography.fernet import Fernet, InvalidToken

MAX_LINE = 1024 * 1024  # what a client accepts from the server (PROTOCOL.md, section 1)


def read_key(path):
    """A keyfile is '#' comment lines and one key line (PROTOCOL.md, section 2)."""
    with open(path) as keyfile:
        for line in keyfile:
            line = line.strip()
            if line and not line.startswith("#"):
                return line.encode()
    sys.exit(f"{path}: no key in this file")


class Connection:
    def __init__(self, host, port, key, timeout):
        self.fernet = Fernet(key)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def send(self, event):
        # A fresh token for every frame: the server refuses a token it has already seen.
        self.sock.sendall(self.fernet.encrypt(json.dumps(event).encode()) + b"\n")

    def receive(self):
        """The next event, or None when the server closed the connection."""
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
            if len(self.buffer) > MAX_LINE:
                sys.exit("the server sent a line longer than 1 MiB")
        line, self.buffer = self.buffer.split(b"\n", 1)
        line = line.rstrip(b"\r")
        if line.startswith(b"!fernchat wrong-key"):
            sys.exit("wrong key: " + line.decode(errors="replace"))
        try:
            return json.loads(self.fernet.decrypt(line, ttl=60))
        except InvalidToken:
            sys.exit("a reply was not made with this key: ask your instructor for the class keyfile")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7474)
    parser.add_argument("--key", default="keys/class.key")
    parser.add_argument("--nick", required=True)
    parser.add_argument("--say", action="append", default=[])
    parser.add_argument("--expect", help="wait for a room message with this text")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    conn = Connection(args.host, args.port, read_key(args.key), args.timeout)
    conn.send({"type": "hello", "nick": args.nick, "version": 1, "kex": "psk"})
    welcome = conn.receive()
    print(json.dumps(welcome), flush=True)
    if welcome is None or welcome["type"] != "welcome":
        sys.exit(f"not welcomed: {welcome}")
    for text in args.say:
        conn.send({"type": "say", "text": text})
    waiting = args.expect is not None
    while waiting and time.monotonic() < deadline:
        event = conn.receive()
        if event is None:
            sys.exit("the server closed the connection")
        print(json.dumps(event), flush=True)
        if event["type"] == "ping":
            conn.send({"type": "pong", "id": event["id"]})
        waiting = not (event["type"] == "message" and event["text"] == args.expect)
    conn.send({"type": "bye", "reason": "python client done"})
    if waiting:
        sys.exit(f"no message {args.expect!r} within {args.timeout} s")


if __name__ == "__main__":
    main()
