#!/usr/bin/env python3
"""nbcore-gimp inside a real, headless GIMP 2.10, against the emulator.

    gimp_tests.py --plugins DIR --emulator EXE SCENARIO      (one ctest entry per scenario)
    gimp_tests.py --list

Each scenario gets its own HOME, GIMP profile and TMPDIR, a fresh emulator (with a script of
replies when the scenario needs one), and one gimp-console-2.10 run driven by Script-Fu. GIMP 2.10
exits 0 even when a batch command fails, so the verdict comes from stderr (Script-Fu's "NBTEST"
lines and error lines), the PNGs the batch saved and the emulator's request log.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngread import read_png  # noqa: E402

FLASH = "gemini-2.5-flash-image"
KEY = "gimp-test-key-0001"

# Script-Fu used by every scenario: report values as "NBTEST name=value" lines on stderr.
PRELUDE = r"""
(define (nbtest name value)
  (gimp-message (string-append "NBTEST " name "="
                  (cond ((number? value) (number->string value))
                        ((string? value) value)
                        (else "?")))))
(define (make-canvas w h)
  (let* ((img (car (gimp-image-new w h RGB)))
         (bg (car (gimp-layer-new img w h RGB-IMAGE "Background" 100 LAYER-MODE-NORMAL))))
    (gimp-image-insert-layer img bg 0 0)
    (gimp-context-set-foreground '(40 90 160))
    (gimp-context-set-background '(230 200 120))
    (gimp-drawable-edit-gradient-fill bg GRADIENT-LINEAR 0 FALSE 1 0 TRUE 0 0 w h)
    img))
(define (save-flat img path)
  (let* ((dup (car (gimp-image-duplicate img)))
         (flat (car (gimp-image-flatten dup))))
    (file-png-save2 RUN-NONINTERACTIVE dup flat path path 0 9 0 0 0 0 0 0 0)
    (gimp-image-delete dup)))
(define (report-layers img)
  (let* ((layers (gimp-image-get-layers img))
         (top (vector-ref (cadr layers) 0)))
    (nbtest "layers" (car layers))
    (nbtest "top-name" (car (gimp-item-get-name top)))
    (nbtest "top-width" (car (gimp-drawable-width top)))
    (nbtest "top-height" (car (gimp-drawable-height top)))
    (nbtest "top-x" (car (gimp-drawable-offsets top)))
    (nbtest "top-y" (cadr (gimp-drawable-offsets top)))
    (nbtest "top-mask" (if (= (car (gimp-layer-get-mask top)) -1) "none" "yes"))
    (nbtest "top-group" (if (= (car (gimp-item-is-group top)) 1) "yes" "no"))))
"""


def scm_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------------------------
# Scenarios: the emulator's script, the Script-Fu batches, and the checks.
# ---------------------------------------------------------------------------------------------

# The second batch of most scenarios: the image the first one made or changed, reported and saved.
REPORT_AFTER = """(let* ((img (vector-ref (cadr (gimp-image-list)) 0)))
                      (report-layers img)
                      (save-flat img "after.png"))"""


def generate_batches(prompt="a lighthouse at dawn", size=(640, 480), aspect="", seed=7):
    w, h = size
    return [
        f"""(let* ((img (make-canvas {w} {h})))
              (save-flat img "before.png")
              (plug-in-nbcore-generate RUN-NONINTERACTIVE img (car (gimp-image-get-active-drawable img))
                                       {scm_string(prompt)} "{FLASH}" "{aspect}" "" {seed}))""",
        REPORT_AFTER,
    ]


def check_generate_adds_canvas_layer(r):
    r.expect_no_batch_error()
    r.expect_value("layers", "2")
    r.expect_value("top-width", "640")
    r.expect_value("top-height", "480")
    r.expect_value("top-x", "0")
    r.expect_value("top-y", "0")
    r.expect(r.value("top-name").startswith("Nano Banana: a lighthouse at dawn"), "the layer is named from the prompt")
    reqs = r.requests()
    r.expect(len(reqs) == 1, f"one request (got {len(reqs)})")
    config = reqs[0]["body"]["generationConfig"]
    r.expect(config.get("imageConfig", {}).get("aspectRatio") == "4:3",
             f"the aspect ratio nearest to 640x480 (4:3) was asked: {config}")
    r.expect(config.get("seed") == 7, f"the seed went out: {config}")
    before, after = r.png("before.png"), r.png("after.png")
    changed = sum(1 for y in range(0, 480, 8) for x in range(0, 640, 8) if before.px(x, y) != after.px(x, y))
    r.expect(changed > 0.5 * 80 * 60, f"the new layer covers the canvas ({changed} of 4800 samples changed)")


def check_rate_limit_then_success(r):
    r.expect_no_batch_error()
    r.expect_value("layers", "2")
    statuses = [q["status"] for q in r.requests()]
    r.expect(statuses == [429, 200], f"a 429, then a success (statuses {statuses})")


def check_blocked_leaves_image(r):
    r.expect_batch_error("BLOCKED_SAFETY")
    r.expect("What to do:" in r.stderr, "the failure says what to do next")
    r.expect_value("layers", "1")
    r.expect(r.png("before.png").rows == r.png("after.png").rows, "the image is unchanged")


def inpaint_batches(select=True):
    selection = "(gimp-image-select-ellipse img CHANNEL-OP-REPLACE 64 64 128 96)" if select else ""
    return [
        f"""(let* ((img (make-canvas 256 256)))
              {selection}
              (save-flat img "before.png")
              (plug-in-nbcore-inpaint RUN-NONINTERACTIVE img (car (gimp-image-get-active-drawable img))
                                      "a blue balloon" "{FLASH}" ""))""",
        REPORT_AFTER,
    ]


def check_inpaint_changes_only_selection(r):
    r.expect_no_batch_error()
    r.expect_value("layers", "2")
    r.expect_value("top-mask", "yes")
    r.expect(r.value("top-name").startswith("Inpaint: a blue balloon"), "the layer is named from the prompt")
    before, after = r.png("before.png"), r.png("after.png")
    # The ellipse (64, 64, 128, 96): centre (128, 112), semi-axes 64 and 48. nbcore grows the
    # selection by 4 px and feathers it by 10 % of its box's diagonal (16 px): the band where
    # blending may happen reaches 20 px outside; 24 px of margin (r > 1.5, since 0.5 * 48 = 24)
    # must be bit-identical.
    outside = inside = inside_changed = 0
    for y in range(256):
        for x in range(256):
            rr = math.hypot((x + 0.5 - 128) / 64, (y + 0.5 - 112) / 48)
            if rr > 1.5:
                outside += 1
                if before.px(x, y) != after.px(x, y):
                    r.fail(f"pixel ({x}, {y}) outside the feather band changed: {before.px(x, y)} -> {after.px(x, y)}")
                    return
            elif rr < 0.95:
                inside += 1
                if sum(abs(a - b) for a, b in zip(before.px(x, y), after.px(x, y))) > 30:
                    inside_changed += 1
    r.expect(outside > 40000, "the check covered the area outside the band")
    r.expect(inside_changed > 0.95 * inside, f"the selection was repainted ({inside_changed} of {inside} pixels)")


def check_inpaint_without_selection(r):
    r.expect_batch_error("nothing is selected")
    r.expect_value("layers", "1")
    r.expect(r.png("before.png").rows == r.png("after.png").rows, "the image is unchanged")
    r.expect(not r.requests(), "nothing was sent")


SCENE_ELEMENTS = json.dumps([
    {"prompt": "a red beach umbrella", "box": [40, 180, 160, 150]},
    {"prompt": "a seagull", "box": [300, 40, 120, 90], "mode": "cutout"},
])


def scene_batches():
    return [
        f"""(let* ((img (make-canvas 512 384)))
              (save-flat img "before.png")
              (plug-in-nbcore-scene RUN-NONINTERACTIVE img (car (gimp-image-get-active-drawable img))
                                    "a quiet beach at noon" {scm_string(SCENE_ELEMENTS)} "{FLASH}" ""))""",
        """(let* ((img (vector-ref (cadr (gimp-image-list)) 0))
                  (group (vector-ref (cadr (gimp-image-get-layers img)) 0))
                  (children (gimp-item-get-children group))
                  (composite (vector-ref (cadr children) 0)))
              (report-layers img)
              (nbtest "children" (car children))
              (nbtest "composite-name" (car (gimp-item-get-name composite)))
              (nbtest "composite-width" (car (gimp-drawable-width composite)))
              (nbtest "composite-height" (car (gimp-drawable-height composite)))
              (nbtest "bottom-name" (car (gimp-item-get-name (vector-ref (cadr children) (- (car children) 1)))))
              (save-flat img "after.png"))""",
    ]


def check_scene_layer_group(r):
    r.expect_no_batch_error()
    r.expect_value("layers", "2")
    r.expect_value("top-group", "yes")
    r.expect(r.value("top-name").startswith("Scene: a quiet beach"), "the group is named from the background")
    r.expect_value("children", "4")
    r.expect_value("composite-name", "Composite")
    r.expect_value("composite-width", "512")
    r.expect_value("composite-height", "384")
    r.expect(r.value("bottom-name").startswith("Stage 1, background"), "the background stage is at the bottom")
    r.expect(len(r.requests()) == 3, "one request per stage")


def check_scene_keeps_stages_before_a_failure(r):
    r.expect_batch_error("BLOCKED_SAFETY")
    r.expect_value("layers", "2")
    r.expect_value("top-group", "yes")
    r.expect("stage 2 failed: BLOCKED_SAFETY" in r.value("top-name"), f"the group says which stage failed: {r.value('top-name')!r}")
    r.expect_value("children", "2")
    r.expect_value("composite-name", "Composite (so far)")
    r.expect_value("bottom-name", "Stage 1, background: a quiet beach at noon")


def documented_batch():
    """The Script-Fu example in docs/gimp.md, as users would paste it."""
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "gimp.md")
    text = open(doc, encoding="utf-8").read()
    block = text.split("```scheme\n", 1)[1].split("```", 1)[0]
    return [block]


def check_documented_batch(r):
    r.expect_no_batch_error()
    reqs = r.requests()
    r.expect(len(reqs) == 3, f"three requests (got {len(reqs)})")
    for q in reqs:
        config = q["body"]["generationConfig"].get("imageConfig", {})
        r.expect(config == {"aspectRatio": "16:9", "imageSize": "2K"}, f"16:9 at 2K asked: {config}")
    for name in ("lighthouse.png", "fox.png", "harbour.png"):
        png = r.png(name)
        r.expect(png.width > png.height > 1000, f"{name} is {png.width}x{png.height}")


def check_bad_argument(r):
    r.expect_batch_error("aspect-ratio")
    r.expect_value("layers", "1")
    r.expect(not r.requests(), "nothing was sent")


def generate_image_batches():
    return [
        f"""(let* ((img (car (plug-in-nbcore-generate-image RUN-NONINTERACTIVE "a lighthouse at dawn" "{FLASH}"
                                                             "16:9" "" -1))))
              (nbtest "width" (car (gimp-image-width img)))
              (nbtest "height" (car (gimp-image-height img)))
              (report-layers img))""",
    ]


def check_generate_image(r):
    r.expect_no_batch_error()
    r.expect_value("width", "1344")
    r.expect_value("height", "768")
    r.expect_value("layers", "1")


def check_dialog_cancel(r):
    # The answer would take 60 s; GIMP's start and exit take a few seconds, more on a busy machine.
    r.expect(r.elapsed < 45.0, f"the cancelled run did not wait for the answer ({r.elapsed:.1f} s; it takes 60 s)")
    r.expect(len(r.requests()) == 1, "the request was out when the run was cancelled")
    r.expect_value("layers", "1")
    r.expect(r.png("before.png").rows == r.png("after.png").rows, "the image is unchanged")
    shot = r.png("dialog.png")
    r.expect(shot.width > 200 and shot.height > 150, "the dialog was on screen")
    r.expect("CANCELLED" not in r.stderr or "What to do" not in r.stderr, "a cancel is not reported as a failure")


def check_key_file_used_not_copied(r):
    r.expect_no_batch_error()
    r.expect_value("layers", "2")
    r.expect(len(r.requests()) == 1, "the request went out with the key file's key")
    leaks = r.files_containing(KEY.encode(), exclude=r.key_file)
    r.expect(not leaks, f"the key was written to {leaks}")


def check_open_key_file_refused(r):
    r.expect_batch_error("chmod 600")
    r.expect_value("layers", "1")
    r.expect(not r.requests(), "nothing was sent")


SCENARIOS = {
    "generate adds a canvas-sized layer": dict(batches=generate_batches(), check=check_generate_adds_canvas_layer),
    "a 429 then a success still succeeds": dict(script={"replies": [{"fault": "rpm_429:1"}], "then": "pass"},
                                                batches=generate_batches(), check=check_rate_limit_then_success),
    "a blocked reply leaves the image unchanged": dict(script={"replies": ["prompt_blocked_safety"], "then": "pass"},
                                                       batches=generate_batches(), check=check_blocked_leaves_image),
    "a failed stage keeps the stages before it": dict(
        script={"replies": ["pass", "prompt_blocked_safety"], "then": "pass"},
        batches=scene_batches(), check=check_scene_keeps_stages_before_a_failure),
    "the documented batch example runs": dict(batches=documented_batch(), check=check_documented_batch),
    "a bad argument is refused unsent": dict(batches=generate_batches(aspect="7:5"), check=check_bad_argument),
    "generate without an image makes one": dict(batches=generate_image_batches(), check=check_generate_image),
    "inpaint changes only the selection": dict(batches=inpaint_batches(), check=check_inpaint_changes_only_selection),
    "inpaint without a selection changes nothing": dict(batches=inpaint_batches(select=False),
                                                        check=check_inpaint_without_selection),
    "a scene becomes a layer group": dict(batches=scene_batches(), check=check_scene_layer_group),
    "the key file is used and never copied": dict(key_file=0o600, batches=generate_batches(),
                                                  check=check_key_file_used_not_copied),
    "a key file others can read is refused": dict(key_file=0o644, batches=generate_batches(),
                                                  check=check_open_key_file_refused),
    "the dialog's Cancel stops a run": dict(display=True, emulator_args=["--latency-ms", "60000"],
                                           interactive={"NBCORE_GIMP_SCREENSHOT": "dialog.png",
                                                        "NBCORE_GIMP_SCREENSHOT_RUN": "1"},
                                           batches=[b.replace("RUN-NONINTERACTIVE img", "RUN-INTERACTIVE img")
                                                    for b in generate_batches()],
                                           check=check_dialog_cancel),
}


# Screenshots for docs/gimp.md: each dialog, opened by Script-Fu with its arguments filled in,
# saved by the plug-in itself under Xvfb (NBCORE_GIMP_SCREENSHOT), then closed.
def dialog_batch(call):
    return [f"""(let* ((img (make-canvas 1024 768)))
                   (gimp-image-select-ellipse img CHANNEL-OP-REPLACE 380 260 300 220)
                   ({call}))"""]


SHOTS = {
    "gimp-generate.png": dict(batches=dialog_batch(
        'plug-in-nbcore-generate RUN-INTERACTIVE img (car (gimp-image-get-active-drawable img)) '
        '"A lighthouse on a rocky coast at dawn, warm light, light mist over the sea" "" "" "2K" -1')),
    "gimp-generate-waiting.png": dict(
        script={"replies": [{"fault": "rpm_429:30"}], "then": "pass"}, running=True,
        batches=dialog_batch(
            'plug-in-nbcore-generate RUN-INTERACTIVE img (car (gimp-image-get-active-drawable img)) '
            '"A lighthouse on a rocky coast at dawn, warm light, light mist over the sea" "" "" "2K" -1')),
    "gimp-inpaint.png": dict(batches=dialog_batch(
        'plug-in-nbcore-inpaint RUN-INTERACTIVE img (car (gimp-image-get-active-drawable img)) '
        '"a small red rowing boat" "" "1K"')),
    "gimp-scene.png": dict(batches=dialog_batch(
        'plug-in-nbcore-scene RUN-INTERACTIVE img (car (gimp-image-get-active-drawable img)) '
        '"a quiet beach at noon, watercolour" '
        + scm_string('[\n  {"prompt": "a red beach umbrella", "box": [80, 380, 300, 280]},\n'
                     '  {"prompt": "a seagull", "box": [620, 80, 220, 160], "mode": "cutout"}\n]')
        + ' "" "1K"')),
}


# ---------------------------------------------------------------------------------------------
# The harness
# ---------------------------------------------------------------------------------------------

class Png:
    def __init__(self, path):
        self.width, self.height, self.channels, self.rows = read_png(path)

    def px(self, x, y):
        c = self.channels
        return tuple(self.rows[y][x * c:(x + 1) * c])


class Run:
    def __init__(self, workdir, stderr, url, elapsed):
        self.workdir, self.stderr, self.url, self.elapsed = workdir, stderr, url, elapsed
        self.failures = []
        self.values = {}
        for line in stderr.splitlines():
            if "NBTEST " in line:
                name, _, value = line.split("NBTEST ", 1)[1].partition("=")
                self.values[name] = value.strip()

    def fail(self, why):
        self.failures.append(why)

    def expect(self, cond, why):
        if not cond:
            self.fail(why)

    def value(self, name):
        return self.values.get(name, "")

    def expect_value(self, name, want):
        self.expect(self.value(name) == want, f"{name} is {self.value(name)!r}, expected {want!r}")

    def batch_errors(self):
        return [line for line in self.stderr.splitlines()
                if "batch command experienced an execution error" in line or line.startswith("Error:")
                or "Procedure execution of" in line or "Plug-in crashed" in line or "nbcore-gimp:" in line]

    def expect_no_batch_error(self):
        errors = self.batch_errors()
        self.expect(not errors, f"GIMP reported errors: {errors}")

    def expect_batch_error(self, text):
        self.expect(any(text in line for line in self.stderr.splitlines()),
                    f"stderr does not mention {text!r}")
        self.expect("Plug-in crashed" not in self.stderr, "the plug-in crashed")

    def files_containing(self, needle, exclude=None):
        found = []
        for folder, _, files in os.walk(self.workdir):
            for f in files:
                path = os.path.join(folder, f)
                if path == exclude or os.path.islink(path):
                    continue
                try:
                    with open(path, "rb") as fh:
                        if needle in fh.read():
                            found.append(os.path.relpath(path, self.workdir))
                except OSError:
                    pass
        return found

    def png(self, name):
        path = os.path.join(self.workdir, name)
        if not os.path.exists(path):
            self.fail(f"{name} was not written")
            raise SystemExit(self.report())
        return Png(path)

    def requests(self):
        with urllib.request.urlopen(self.url + "/_emulator/requests", timeout=10) as f:
            return [q for q in json.load(f) if ":generateContent" in q["path"]]

    def report(self):
        if not self.failures:
            return 0
        print("GIMP stderr:\n" + self.stderr, file=sys.stderr)
        for why in self.failures:
            print("FAIL: " + why, file=sys.stderr)
        return 1


def start_emulator(exe, workdir, script, extra):
    cmd = [exe, "--port", "0", "--key", KEY, "--mime", "png"] + list(extra)
    if script is not None:
        path = os.path.join(workdir, "script.json")
        with open(path, "w") as f:
            json.dump(script, f)
        cmd += ["--script", path]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit("the emulator did not start")
    return proc, url


def isolated_env(workdir, plugins, url):
    home = os.path.join(workdir, "home")
    profile = os.path.join(home, "gimp-profile")
    for sub in ("brushes", "dynamics", "gradients", "palettes", "patterns", "tool-presets", "mypaint-brushes",
                "plug-ins", "tmp"):
        os.makedirs(os.path.join(profile, sub), exist_ok=True)
    os.makedirs(os.path.join(workdir, "tmp"), exist_ok=True)
    with open(os.path.join(profile, "gimprc"), "w") as f:
        # Our build tree holds plug-ins/nbcore-gimp/nbcore-gimp; the system folder keeps Script-Fu.
        f.write(f'(plug-in-path "${{gimp_dir}}/plug-ins:${{gimp_plug_in_dir}}/plug-ins:{plugins}")\n')
    env = {k: v for k, v in os.environ.items()
           if k not in ("GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "DISPLAY", "XDG_CONFIG_HOME")}
    env.update(HOME=home, GIMP2_DIRECTORY=profile, TMPDIR=os.path.join(workdir, "tmp"),
               GOOGLE_API_KEY=KEY, GOOGLE_GEMINI_BASE_URL=url, NBCORE_STATE_FILE=os.path.join(workdir, "state.db"))
    return env


def take_screenshots(out_dir, plugins, emulator):
    if not shutil.which("xvfb-run"):
        print("xvfb-run is not installed (apt install xvfb)", file=sys.stderr)
        return 1
    os.makedirs(out_dir, exist_ok=True)
    status = 0
    for name, shot in SHOTS.items():
        target = os.path.abspath(os.path.join(out_dir, name))
        if os.path.exists(target):
            os.unlink(target)
        interactive = {"NBCORE_GIMP_SCREENSHOT": target}
        if shot.get("running"):
            interactive["NBCORE_GIMP_SCREENSHOT_RUN"] = "1"
        spec = dict(shot, display=True, interactive=interactive, check=lambda r: None)
        run_spec(name, spec, plugins, emulator)
        if os.path.exists(target):
            print(f"wrote {target}")
        else:
            print(f"FAIL: {name} was not written", file=sys.stderr)
            status = 1
    return status


def run_scenario(name, plugins, emulator):
    return run_spec(name, SCENARIOS[name], plugins, emulator)


def run_spec(name, spec, plugins, emulator):
    workdir = tempfile.mkdtemp(prefix="nbcore-gimp-")
    try:
        emu, url = start_emulator(emulator, workdir, spec.get("script"), spec.get("emulator_args", []))
        try:
            env = isolated_env(workdir, plugins, url)
            key_file = None
            if spec.get("key_file") is not None:
                # The key only in the key file, never in the environment.
                del env["GOOGLE_API_KEY"]
                key_file = os.path.join(env["HOME"], ".config", "nbcore", "api-key")
                os.makedirs(os.path.dirname(key_file), mode=0o700)
                with open(key_file, "w") as f:
                    f.write(KEY + "\n")
                os.chmod(key_file, spec["key_file"])
            cmd = ["gimp-console-2.10", "-i", "-d", "-f"]
            # Each -b runs in a fresh Script-Fu, so every batch carries the prelude.
            for batch in spec["batches"]:
                cmd += ["-b", "(begin " + PRELUDE + batch + ")"]
            cmd += ["-b", "(gimp-quit 0)"]
            if spec.get("display"):
                if not shutil.which("xvfb-run"):
                    print("SKIP: xvfb-run is not installed (apt install xvfb)")
                    return 0
                env.update(spec.get("interactive", {}))
                cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24"] + cmd
            start = time.monotonic()
            proc = subprocess.run(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=180)
            elapsed = time.monotonic() - start
            run = Run(workdir, proc.stdout, url, elapsed)
            run.key_file = key_file
            try:
                spec["check"](run)
            except (KeyError, IndexError, ValueError, TypeError) as e:
                run.fail(f"the check could not read what it needed: {e!r}")
            status = run.report()
            if status == 0:
                print(f"ok: {name} ({elapsed:.1f} s)")
            return status
        finally:
            emu.terminate()
            emu.wait(timeout=10)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plugins", help="the folder holding nbcore-gimp/nbcore-gimp")
    ap.add_argument("--emulator", help="nbcore-emulator")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--screenshots", metavar="DIR", help="save each dialog as a PNG into DIR (needs xvfb-run)")
    ap.add_argument("scenario", nargs="?")
    args = ap.parse_args()
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    if args.screenshots:
        return take_screenshots(args.screenshots, os.path.abspath(args.plugins), os.path.abspath(args.emulator))
    if args.scenario not in SCENARIOS:
        print(f"unknown scenario {args.scenario!r}; --list shows them", file=sys.stderr)
        return 2
    return run_scenario(args.scenario, os.path.abspath(args.plugins), os.path.abspath(args.emulator))


if __name__ == "__main__":
    sys.exit(main())
