#!/usr/bin/env python3
"""Generate one image and save it; print every attempt and the cost. On failure, print the class,
the server's message and the advice, and exit with 10 + the status code.

    generate.py "a lighthouse at dawn" out.png [--size 1K] [--model gemini-2.5-flash-image]

The key comes from GOOGLE_API_KEY or GEMINI_API_KEY; GOOGLE_GEMINI_BASE_URL points it at another
endpoint (the bundled emulator: `nbcore-emulator --port 8080`). The library: --lib PATH, else
$NBCORE_LIBRARY, else libnbcore.so.0 wherever the dynamic loader finds it.
"""
import argparse
import os
import sys

import nbcore_ctypes as nbc

# The file name extension for each image type the API sends.
EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def output_path(path: str, mime: str) -> str:
    """`path`, with its extension changed when it names another image type than `mime`
    (Nano Banana Pro answers JPEG: out.png becomes out.jpg rather than a JPEG called .png)."""
    stem, ext = os.path.splitext(path)
    want = EXTENSIONS.get(mime)
    if want and ext.lower() in (".png", ".jpg", ".jpeg", ".webp") and ext.lower() != want \
            and not (want == ".jpg" and ext.lower() == ".jpeg"):
        return stem + want
    return path


def on_event(ev: nbc.Event) -> None:
    if ev.kind == nbc.NBC_EVENT_ATTEMPT_START:
        print(f"[{ev.elapsed:6.1f} s] attempt {ev.attempt}: sending", file=sys.stderr)
    elif ev.kind in (nbc.NBC_EVENT_RETRY_SCHEDULED, nbc.NBC_EVENT_QUOTA_WAIT):
        print(f"[{ev.elapsed:6.1f} s] waiting {ev.delay:.1f} s: {ev.message}", file=sys.stderr)


def print_attempts(attempts) -> None:
    for a in attempts:
        line = f"attempt {a.number}: {a.outcome}"
        if a.http_status:
            line += f" (HTTP {a.http_status}{', ' + a.reason if a.reason else ''})"
        line += f" in {a.duration:.2f} s"
        if a.server_delay is not None:
            line += f"; server asked to wait {a.server_delay:.1f} s"
        if a.chosen_delay > 0:
            line += f"; waited {a.chosen_delay:.2f} s"
        print(line)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("prompt")
    p.add_argument("out", help="where to write the image (its extension follows the type sent)")
    p.add_argument("--size", choices=["1K", "2K", "4K"], help="image size (default: the model's)")
    p.add_argument("--aspect", help='aspect ratio, such as "16:9"')
    p.add_argument("--model", help="model id (default: gemini-3-pro-image-preview)")
    p.add_argument("--lib", help="path to libnbcore.so.0")
    args = p.parse_args()

    try:
        lib = nbc.load(args.lib)
    except (OSError, AttributeError) as e:
        print(f"generate: cannot load libnbcore: {e}", file=sys.stderr)
        return 2
    try:
        with nbc.Client(lib, model=args.model, on_event=on_event) as client:
            result = client.generate(args.prompt, image_size=args.size, aspect_ratio=args.aspect)
    except nbc.NbcoreError as e:
        print_attempts(e.attempts)
        print(f"generate: {e.name}: {e.message}", file=sys.stderr)
        if e.retry_after is not None:
            print(f"retry in: {e.retry_after:.1f} s", file=sys.stderr)
        print(f"advice: {e.advice}", file=sys.stderr)
        return 10 + e.code

    print_attempts(result.attempts)
    image = result.images[0]
    path = output_path(args.out, image.mime)
    with open(path, "wb") as f:
        f.write(image.data)
    print(f"wrote {path}: {image.width}x{image.height} {image.mime}, {len(image.data)} bytes, "
          f"${result.cost_usd:.3f} after {len(result.attempts)} attempt(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
