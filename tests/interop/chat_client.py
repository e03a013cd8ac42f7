#!/usr/bin/env python3
"""A fernchat client in Python, written only from PROTOCOL.md (protocol version 2, `psk`).

It shows students that the protocol is all a client needs, and CI runs it against the real
server (tests/python_client.rs). Needs Python's `cryptography` package.

    python3 tests/interop/chat_client.py --nick pybot --say "hello from Python"

prints every event it receives as one JSON line, sends the --say lines, and with --expect TEXT
waits (at most --timeout seconds) until a room message with that text has arrived.
"""
import argparse, base64, json, os, socket, sys, time

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ROOM_EVENTS = {"message", "action", "joined", "left", "renamed", "notice", "bye"}


def read_key(path):
    """A keyfile is '#' comment lines and one key line (PROTOCOL.md, section 2)."""
    lines = [l.strip() for l in open(path) if l.strip() and not l.startswith("#")]
    return lines[0].encode() if lines else sys.exit(f"{path}: no key in this file")


def session_key(key, nonces, direction):
    """c2s / s2c = HKDF-SHA256(K, salt = Nc || Ns, info = "fernchat psk v2 " + direction)."""
    hkdf = HKDF(hashes.SHA256(), 32, salt=nonces, info=b"fernchat psk v2 " + direction)
    return Fernet(base64.urlsafe_b64encode(hkdf.derive(base64.urlsafe_b64decode(key))))


class Connection:
    def __init__(self, host, port, key, timeout):
        self.room = self.mine = self.out = Fernet(key)  # until the handshake: the class key K
        self.sock = socket.create_connection((host, port), timeout)
        self.buffer, self.seen = b"", set()  # seen: this connection's replay memory

    def send(self, event):
        self.sock.sendall(self.out.encrypt(json.dumps(event).encode()) + b"\n")

    def receive(self):
        """The next event: ours under s2c, room broadcasts also under K (PROTOCOL.md section 2)."""
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                sys.exit("the server closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        if line.startswith(b"!fernchat wrong-key") or line in self.seen:
            sys.exit("wrong key, or a replayed frame: " + line[:80].decode(errors="replace"))
        self.seen.add(line)
        try:
            return json.loads(self.mine.decrypt(line, ttl=60))
        except InvalidToken:
            event = json.loads(self.room.decrypt(line, ttl=60))  # InvalidToken: not ours at all
            return event if event["type"] in ROOM_EVENTS else sys.exit(f"refused: {event}")

    def join(self, nick, key):
        nonce = os.urandom(16)
        self.send({"type": "hello", "nick": nick, "version": 2, "kex": "psk",
                   "nonce": base64.urlsafe_b64encode(nonce).decode()})
        shake = self.receive()
        if shake["type"] != "handshake" or base64.urlsafe_b64decode(shake["nonce"]) != nonce:
            sys.exit(f"not a handshake for this connection: {shake}")
        nonces = nonce + base64.urlsafe_b64decode(shake["server_nonce"])
        self.out = session_key(key, nonces, b"client->server")
        self.mine = session_key(key, nonces, b"server->client")
        self.send({"type": "confirm"})
        welcome = self.receive()  # under s2c only, and for the nick we asked for
        if welcome["type"] != "welcome" or welcome["nick"].lower() != nick.lower():
            sys.exit(f"not welcomed: {welcome}")
        return welcome


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

    deadline, key = time.monotonic() + args.timeout, read_key(args.key)
    conn = Connection(args.host, args.port, key, args.timeout)
    print(json.dumps(conn.join(args.nick, key)), flush=True)
    for text in args.say:
        conn.send({"type": "say", "text": text})
    waiting = args.expect is not None
    while waiting and time.monotonic() < deadline:
        event = conn.receive()
        print(json.dumps(event), flush=True)
        if event["type"] == "ping":
            conn.send({"type": "pong", "id": event["id"]})
        waiting = not (event["type"] == "message" and event["text"] == args.expect)
    conn.send({"type": "bye", "reason": "python client done"})
    if waiting:
        sys.exit(f"no message {args.expect!r} within {args.timeout} s")


if __name__ == "__main__":
    main()
