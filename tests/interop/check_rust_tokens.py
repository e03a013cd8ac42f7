#!/usr/bin/env python3
"""Checks with Python's `cryptography` that fernchat's Rust side speaks real Fernet.

    python3 tests/interop/check_rust_tokens.py RUST_JSON

RUST_JSON is written by the Rust test `rust_tokens_for_python` (tests/interop.rs): a key, its
fingerprint as Rust computed it, Rust-made tokens with their plaintexts and timestamps, and a
sealed keyfile with its (test-only) passphrase. This script checks that

- Python computes the same key fingerprint;
- every token decrypts to its plaintext at its own timestamp, and carries that timestamp;
- Python's own clock rules agree: each token is expired 61 s later, and from the future if
  judged more than 60 s before it was made;
- the sealed keyfile opens with the Python snippet documented in src/keyfile.rs, run as
  written except that `getpass.getpass()` reads FERNCHAT_PASSPHRASE (so it needs no terminal)
  and the path is the fixture's.

It exits with status 1 on any mismatch, naming it, and never prints a key.
"""

import base64
import getpass
import hashlib
import json
import os
import re
import sys

from cryptography.fernet import Fernet, InvalidToken

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
KEYFILE_RS = os.path.join(REPO, "src", "keyfile.rs")
PASSPHRASE_ENV = "FERNCHAT_PASSPHRASE"


def fingerprint(key: bytes | str) -> str:
    """fernchat's key fingerprint: SHA-256 of a label and the raw 32-byte key, first 8 bytes
    as upper-case hex in groups of four (src/crypto.rs, `Fingerprint`)."""
    h = hashlib.sha256(b"fernchat-fingerprint-v1\x00" + base64.urlsafe_b64decode(key)).hexdigest()[:16].upper()
    return "-".join(h[i : i + 4] for i in range(0, 16, 4))


def documented_snippet() -> str:
    """The ```python block from the module documentation of src/keyfile.rs."""
    with open(KEYFILE_RS, encoding="utf-8") as fh:
        doc = [line[4:] if line.startswith("//! ") else line[3:] for line in fh if line.startswith("//!")]
    text = "\n".join(doc)
    match = re.search(r"```python\n(.*?)\n```", text, re.S)
    if not match:
        raise SystemExit(f"check_rust_tokens: no ```python block in {KEYFILE_RS}")
    return match.group(1)


def open_sealed_with_snippet(path: str, passphrase: str) -> bytes:
    """Runs the documented snippet on `path` with the passphrase supplied through the
    environment, and returns the `key` it computes."""
    snippet = documented_snippet()
    if snippet.count('"keys/class.key"') != 1:
        raise SystemExit("check_rust_tokens: the snippet no longer opens \"keys/class.key\"; update this checker")
    snippet = snippet.replace('"keys/class.key"', repr(path))
    os.environ[PASSPHRASE_ENV] = passphrase
    real_getpass = getpass.getpass
    getpass.getpass = lambda *args, **kwargs: os.environ[PASSPHRASE_ENV]
    try:
        scope: dict = {}
        exec(compile(snippet, "src/keyfile.rs (python snippet)", "exec"), scope)
    finally:
        getpass.getpass = real_getpass
    return scope["key"]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    json_path = sys.argv[1]
    with open(json_path, encoding="utf-8") as fh:
        data = json.load(fh)

    passed = 0
    failures = []

    def check(ok: bool, what: str) -> None:
        nonlocal passed
        if ok:
            passed += 1
        else:
            failures.append(what)

    key = data["key"].encode()
    f = Fernet(key)
    check(fingerprint(key) == data["fingerprint"], f"fingerprint: Python {fingerprint(key)}, Rust {data['fingerprint']}")

    tokens = data["tokens"]
    if not tokens:
        failures.append("the file holds no tokens")
    for i, t in enumerate(tokens):
        token, ts, plain = t["token"], t["timestamp"], t["plaintext"].encode()
        label = f"token {i} (timestamp {ts}, {len(plain)} bytes)"
        try:
            check(f.extract_timestamp(token) == ts, f"{label}: extract_timestamp differs")
            check(f.decrypt_at_time(token, 60, ts) == plain, f"{label}: plaintext differs")
            check(f.decrypt_at_time(token, 60, ts + 60) == plain, f"{label}: refused at exactly the TTL")
        except InvalidToken:
            failures.append(f"{label}: Python refused it")
            continue
        for judged_at, rule in [(ts + 61, "expired 61 s later"), (ts - 61, "from the future 61 s before")]:
            if judged_at < 0:
                continue
            try:
                f.decrypt_at_time(token, 60, judged_at)
                failures.append(f"{label}: not {rule}")
            except InvalidToken:
                passed += 1
        # The checker must be able to fail: another key must not open the token.
        try:
            Fernet(Fernet.generate_key()).decrypt_at_time(token, 60, ts)
            failures.append(f"{label}: opened with a random key")
        except InvalidToken:
            passed += 1

    sealed = data.get("sealed")
    if sealed is None:
        failures.append("the file has no sealed keyfile to check")
    else:
        path = os.path.join(os.path.dirname(os.path.abspath(json_path)), sealed["keyfile"])
        try:
            opened = open_sealed_with_snippet(path, sealed["passphrase"])
            check(fingerprint(opened) == sealed["fingerprint"], "sealed keyfile: opened to a different key")
        except InvalidToken:
            failures.append("sealed keyfile: the documented snippet could not open it")
        try:
            open_sealed_with_snippet(path, sealed["passphrase"] + "x")
            failures.append("sealed keyfile: opened with a wrong passphrase")
        except InvalidToken:
            passed += 1

    for failure in failures:
        print(f"check_rust_tokens: MISMATCH: {failure}", file=sys.stderr)
    print(f"interop: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
