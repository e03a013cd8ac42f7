#!/usr/bin/env python3
"""Makes Fernet tokens with Python's `cryptography` for fernchat's Rust side to decrypt.

    python3 tests/interop/make_fixtures.py [OUT]     (default: tests/fixtures/interop/python.json)

The committed python.json lets plain `cargo test` check interoperability offline; `.ci/run`
also writes a fresh file with the real library and points the Rust test at it through
FERNCHAT_INTEROP_PY. The key in the file is a throwaway test key, made here for this purpose.
"""

import json
import os
import platform
import sys
import time

import cryptography
from cryptography.fernet import Fernet

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_rust_tokens import fingerprint  # noqa: E402  (one definition for both scripts)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "fixtures", "interop", "python.json")

# Every length class that matters to AES-CBC with PKCS#7 (empty, one short of a block, a
# whole block, one over), text in 2-, 3- and 4-byte UTF-8, a real chat event, and a long text.
PLAINTEXTS = [
    "",
    "hello",
    "fifteen bytes!!",
    "sixteen bytes!!!",
    "seventeen bytes!!",
    "héllo wörld — naïve café",
    "你好，世界",
    "crab 🦀 and rocket 🚀",
    '{"type":"say","text":"hi all"}',
    "long line " * 400,
]

# Timestamps from the epoch to the largest one fernchat accepts (u64::MAX - 60).
FIXED_TIME = 1_763_800_000
TIMESTAMPS = [0, 1, 499_162_800, FIXED_TIME, 2**32, 2**64 - 61]


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUT
    key = Fernet.generate_key()
    f = Fernet(key)
    tokens = [
        {"plaintext": text, "timestamp": FIXED_TIME, "token": f.encrypt_at_time(text.encode(), FIXED_TIME).decode()}
        for text in PLAINTEXTS
    ]
    now = int(time.time())
    tokens += [
        {"plaintext": f"at {ts}", "timestamp": ts, "token": f.encrypt_at_time(f"at {ts}".encode(), ts).decode()}
        for ts in TIMESTAMPS + [now]
    ]
    # Tokens Python makes but fernchat refuses on purpose, and the class of refusal.
    other = Fernet(Fernet.generate_key())
    refused = [
        {
            "why": "timestamp u64::MAX: fernchat refuses timestamps above u64::MAX - 60 as malformed",
            "error": "BadLength",
            "token": f.encrypt_at_time(b"too late", 2**64 - 1).decode(),
        },
        {
            "why": "timestamp u64::MAX - 59, the first one fernchat refuses",
            "error": "BadLength",
            "token": f.encrypt_at_time(b"too late", 2**64 - 59).decode(),
        },
        {
            "why": "made with another key",
            "error": "WrongKeyOrTampered",
            "token": other.encrypt_at_time(b"not for you", FIXED_TIME).decode(),
        },
    ]
    fixture = {
        "note": "made by tests/interop/make_fixtures.py; the key is a throwaway test key",
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
        "key": key.decode(),
        "fingerprint": fingerprint(key),
        "tokens": tokens,
        "refused": refused,
    }
    # Sanity check before anything is written: Python opens its own tokens.
    for t in tokens:
        assert f.decrypt_at_time(t["token"], 60, t["timestamp"]) == t["plaintext"].encode()
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        json.dump(fixture, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    print(f"make_fixtures: wrote {len(tokens)} tokens (+{len(refused)} refused) "
          f"for key {fixture['fingerprint']} to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
