#!/usr/bin/env python3
"""Classify an error reply obtained anywhere (a log, another SDK) the way nbcore would, with the
advice a person can act on. Reads the body from a file, or standard input with "-".

    diagnose.py 429 body.json [--header "Retry-After: 30"] [--lib PATH]
"""
import argparse
import sys

import nbcore_ctypes as nbc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("status", type=int, help="the HTTP status of the reply")
    p.add_argument("body", help='file holding the reply body, or "-" for standard input')
    p.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'",
                   help="a response header (Retry-After, Content-Type); repeatable")
    p.add_argument("--lib", help="path to libnbcore.so.0")
    args = p.parse_args()

    try:
        lib = nbc.load(args.lib)
    except (OSError, AttributeError) as e:
        print(f"diagnose: cannot load libnbcore: {e}", file=sys.stderr)
        return 2
    if args.body == "-":
        body = sys.stdin.buffer.read()
    else:
        with open(args.body, "rb") as f:
            body = f.read()
    try:
        d = nbc.diagnose(lib, args.status, body, "\n".join(args.header) or None)
    except nbc.NbcoreError as e:
        print(f"diagnose: {e.name}: {e.message}\nadvice: {e.advice}", file=sys.stderr)
        return 2
    print(f"class:     {d.name}")
    print(f"message:   {d.message}")
    if d.reason:
        print(f"reason:    {d.reason}")
    if d.retry_after is not None:
        print(f"retry in:  {d.retry_after:.1f} s")
    print(f"retryable: {'yes' if d.retryable else 'no'}")
    print(f"advice:    {d.advice}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
