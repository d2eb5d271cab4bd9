"""The nbcore command line (installed console script), against the bundled emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import KEY


def run_cli(args, env_extra, **kw):
    env = dict(os.environ)
    env.pop("GOOGLE_API_KEY", None)
    env.update(env_extra)
    return subprocess.run([sys.executable, "-m", "nbcore", *args], capture_output=True, text=True,
                          env=env, timeout=60, **kw)


def env_for(emu):
    return {"GEMINI_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": emu.url}


def test_generate_writes_the_file_and_reports_attempts(emulator, tmp_path):
    emulator.script([{"fault": "rpm_429", "retry_delay": "0.2s"}])
    out = tmp_path / "a.jpg"
    p = run_cli(["generate", "a lighthouse", "-o", str(out)], env_for(emulator))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:2] == b"\xff\xd8"
    assert "RATE_LIMITED" in p.stderr and "server asked to wait 0.2 s" in p.stderr
    assert "wrote" in p.stdout


def test_generate_json_output(emulator, tmp_path):
    out = tmp_path / "b.png"
    p = run_cli(["generate", "a bicycle", "--model", "gemini-2.5-flash-image", "-o", str(out), "--json"],
                env_for(emulator))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["ok"] and doc["files"] == [str(out)] and doc["images"][0]["width"] == 1024


def test_failure_prints_class_and_advice_without_traceback(emulator, tmp_path):
    emulator.script(["invalid_key"])
    p = run_cli(["generate", "x", "-o", str(tmp_path / "c.png"), "--retry", "none"], env_for(emulator))
    assert p.returncode == 10 + 8   # AUTH
    assert "error: AUTH" in p.stderr and "advice:" in p.stderr
    assert "Traceback" not in p.stderr
    assert KEY not in p.stderr + p.stdout


def test_failure_json(emulator, tmp_path):
    emulator.script(["image_safety"])
    p = run_cli(["generate", "x", "-o", str(tmp_path / "d.png"), "--json"], env_for(emulator))
    assert p.returncode == 10 + 13   # BLOCKED_POLICY
    doc = json.loads(p.stdout)
    assert doc["code"] == "BLOCKED_POLICY" and doc["safety_layer"] == 2 and doc["advice"]


def test_check_command(tmp_path):
    from test_api import _png
    good = tmp_path / "good.png"
    good.write_bytes(_png(16, 16, lambda x, y: (x * 16, y * 16, 0)))
    blank = tmp_path / "blank.png"
    blank.write_bytes(_png(16, 16, lambda x, y: (0, 0, 0)))
    p = run_cli(["check", str(good)], {})
    assert p.returncode == 0 and "ok" in p.stdout
    p = run_cli(["check", str(good), str(blank)], {})
    assert p.returncode == 10 + 15 and "BLANK" in p.stdout


def test_lint_command():
    p = run_cli(["lint", "a cat, a dog, a parrot and a goldfish in a garden", "--size", "4K"], {})
    assert p.returncode == 0
    assert p.stdout.startswith("risk: high")
    assert "4 distinct subjects (more than 3 raises the risk of a blank output)" in p.stdout
    assert "4K with 4 subjects" in p.stdout and "advice:" in p.stdout
    p = run_cli(["lint", "a cat, a dog, a parrot and a goldfish", "--strict", "--json"], {})
    assert p.returncode == 3
    doc = json.loads(p.stdout)
    assert doc["risk"] == "high" and doc["distinct_subjects"] == 4
    assert [r["head"] for r in doc["requirements"] if r["kind"] == "subject"] == ["cat", "dog", "parrot", "goldfish"]
    p = run_cli(["lint", "a lighthouse at dawn", "--strict"], {})
    assert p.returncode == 0 and p.stdout.startswith("risk: low")


def test_bad_usage_exits_2():
    p = run_cli(["generate"], {})
    assert p.returncode == 2
    p = run_cli(["generate", "x", "--aspect", "7:5"], {})
    assert p.returncode == 2


def test_emulator_subcommand_runs_the_bundled_binary():
    p = run_cli(["emulator", "--help"], {})
    assert p.returncode == 0
    assert "--port" in p.stdout + p.stderr


REPO = os.path.join(os.path.dirname(__file__), "..", "..")


def test_generate_n_writes_numbered_files_with_successive_seeds(emulator, tmp_path):
    out = tmp_path / "many.png"
    p = run_cli(["generate", "a kite", "-n", "3", "--seed", "7", "--model", "gemini-2.5-flash-image",
                 "-o", str(out), "--json"], env_for(emulator))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    files = [str(out), str(tmp_path / "many-2.png"), str(tmp_path / "many-3.png")]
    assert doc["ok"] and doc["exit_code"] == 0 and sorted(doc["files"]) == sorted(files)
    assert len(doc["results"]) == 3 and all(r["ok"] for r in doc["results"])
    assert all(os.path.exists(f) for f in files)
    seeds = sorted(r["body"]["generationConfig"]["seed"] for r in emulator.requests())
    assert seeds == [7, 8, 9]


def test_generate_n_reports_a_failure_among_successes(emulator, tmp_path):
    emulator.script(["image_safety"])
    p = run_cli(["generate", "a kite", "-n", "2", "-o", str(tmp_path / "x.jpg"), "--retry", "none"],
                env_for(emulator))
    assert p.returncode == 10 + 13, p.stderr
    assert "error: BLOCKED_POLICY (BlockedPolicyError)" in p.stderr and "wrote" in p.stdout


def test_edit_sends_the_image_as_an_edit_request(emulator, tmp_path):
    from test_api import _png
    src = tmp_path / "in.png"
    src.write_bytes(_png(32, 32, lambda x, y: (x * 8, y * 8, 90)))
    out = tmp_path / "edited.png"
    p = run_cli(["edit", str(src), "make it night", "-o", str(out), "--model", "gemini-2.5-flash-image", "--json"],
                env_for(emulator))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["ok"] and doc["files"] == [str(out)] and out.exists()
    parts = emulator.requests()[0]["body"]["contents"][-1]["parts"]
    assert parts[0]["text"] == "make it night" and parts[1]["inlineData"]["mimeType"] == "image/png"


FLASH = "gemini-2.5-flash-image"


def _gradient_and_mask(tmp_path):
    from PIL import Image as PILImage
    src = tmp_path / "in.png"
    mask = tmp_path / "mask.png"
    img = PILImage.new("RGB", (160, 120))
    img.putdata([(x * 255 // 160, y * 255 // 120, (x + y) & 0xFF) for y in range(120) for x in range(160)])
    img.save(src)
    m = PILImage.new("L", (160, 120), 0)
    m.paste(255, (60, 40, 100, 80))
    m.save(mask)
    return src, mask, img


def test_edit_with_a_mask_inpaints_and_keeps_far_pixels(emulator, tmp_path):
    from PIL import Image as PILImage
    src, mask, img = _gradient_and_mask(tmp_path)
    out = tmp_path / "o.png"
    p = run_cli(["edit", str(src), "a hat", "--mask", str(mask), "--model", FLASH, "-o", str(out), "--json"],
                env_for(emulator))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["ok"] and doc["files"] == [str(out)] and len(doc["attempts"]) == 1
    got = PILImage.open(out).convert("RGB")
    assert got.size == (160, 120)
    assert got.getpixel((5, 5)) == img.getpixel((5, 5))
    assert got.getpixel((155, 115)) == img.getpixel((155, 115))
    assert got.getpixel((80, 60)) != img.getpixel((80, 60))
    assert len(emulator.requests()) == 1


def test_edit_with_an_empty_mask_is_a_typed_error(emulator, tmp_path):
    from PIL import Image as PILImage
    src, mask, _ = _gradient_and_mask(tmp_path)
    PILImage.new("L", (160, 120), 0).save(mask)
    p = run_cli(["edit", str(src), "a hat", "--mask", str(mask), "-o", str(tmp_path / "o.png")], env_for(emulator))
    assert p.returncode == 10 + 20   # INVALID_ARG
    assert "error: INVALID_ARG" in p.stderr and "mask" in p.stderr and "Traceback" not in p.stderr
    assert emulator.requests() == []


def test_scene_writes_the_image_and_each_stage(emulator, tmp_path):
    out = tmp_path / "scene.png"
    stages = tmp_path / "stages"
    p = run_cli(["scene", "a meadow", "--element", "a red barn@0.1,0.4,0.35,0.4",
                 "--element", "a white horse@0.55,0.5,0.3,0.35:cutout", "--model", FLASH,
                 "-o", str(out), "--stages", str(stages)], env_for(emulator))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert sorted(os.listdir(stages)) == ["stage-00-background.png", "stage-01-edit.png", "stage-02-cutout.png"]
    assert "3 of 3 stages" in p.stdout


def test_scene_failure_names_the_stage_writes_what_was_done_and_exits_with_its_code(emulator, tmp_path):
    emulator.script(["pass", "pass", "image_safety"])
    out = tmp_path / "scene.png"
    p = run_cli(["scene", "a meadow", "--element", "a red barn@0.1,0.4,0.35,0.4",
                 "--element", "a white horse@0.55,0.5,0.3,0.35:cutout", "--model", FLASH,
                 "-o", str(out), "--json"], env_for(emulator))
    assert p.returncode == 10 + 13   # BLOCKED_POLICY
    doc = json.loads(p.stdout)
    assert doc["ok"] is False and doc["failed_stage"] == 2 and doc["code"] == "BLOCKED_POLICY"
    assert [s["status"] for s in doc["stages"]] == ["OK", "OK", "BLOCKED_POLICY"]
    assert doc["stages"][2]["error"]["reason"] == "IMAGE_SAFETY"
    assert doc["file"] == str(out) and out.exists()
    emulator.script(["pass", "image_safety"])
    p = run_cli(["scene", "a meadow", "--element", "a red barn@0.1,0.4,0.35,0.4", "--model", FLASH,
                 "-o", str(tmp_path / "s2.png")], env_for(emulator))
    assert p.returncode == 10 + 13
    assert "stage 1 (edit) of 2 failed; stages 0-0 were kept" in p.stderr and "advice:" in p.stderr


def test_scene_plan_and_bad_elements(emulator, tmp_path):
    p = run_cli(["scene", "--plan", "a cat, a dog and a parrot in a sunny kitchen", "--model", FLASH,
                 "-o", str(tmp_path / "p.png"), "--json"], env_for(emulator))
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["complete"] and doc["total_stages"] >= 3 and doc["stages"][0]["kind"] == "background"
    p = run_cli(["scene", "a meadow", "--element", "a barn at 0.1", "-o", str(tmp_path / "x.png")], env_for(emulator))
    assert p.returncode == 10 + 20 and "PROMPT@x,y,w,h" in p.stderr


def test_diagnose_reads_stdin_and_prints_json():
    body = '{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}'
    p = run_cli(["diagnose", "--status", "503", "-", "--json"], {}, input=body)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["code"] == "UNAVAILABLE" and doc["retryable"] and doc["advice"]
    p = run_cli(["diagnose", "--status", "503", "-"], {}, input=body)
    assert "class:      UNAVAILABLE" in p.stdout and "advice:" in p.stdout


def test_check_and_usage_json(tmp_path):
    from test_api import _png
    good = tmp_path / "good.png"
    good.write_bytes(_png(16, 16, lambda x, y: (x * 16, y * 16, 0)))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    p = run_cli(["check", str(good), str(bad), "--json"], {})
    rows = json.loads(p.stdout)
    assert p.returncode == 10 + 16   # BAD_RESPONSE
    assert [r["ok"] for r in rows] == [True, False] and rows[1]["reason"]
    # The default state file before anything ran: nothing recorded, not an error.
    fresh = {"NBCORE_STATE_FILE": str(tmp_path / "fresh" / "state.db")}
    p = run_cli(["usage", "--json"], fresh)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["keys"] == [] and doc["exists"] is False
    p = run_cli(["usage"], fresh)
    assert p.returncode == 0 and "no quota or spend recorded yet" in p.stdout
    # A --state path that does not exist is a mistake worth an exit code.
    p = run_cli(["usage", "--json", "--state", str(tmp_path / "typo.db")], {})
    doc = json.loads(p.stdout)
    assert p.returncode == 30 and doc["code"] == "INVALID_ARG" and "--state" in doc["advice"]


def test_usage_after_a_generate(emulator, tmp_path):
    state = str(tmp_path / "state.db")
    p = run_cli(["generate", "x", "-q", "--state", state, "--budget-daily", "5", "-o", str(tmp_path / "g.jpg")],
                env_for(emulator))
    assert p.returncode == 0, p.stderr
    p = run_cli(["usage", "--json", "--state", state], {})
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert len(doc["keys"]) == 1 and any(c["period"] == "daily" for c in doc["caps"])
    assert KEY not in p.stdout
    p = run_cli(["usage", "--state", state], {})
    assert p.returncode == 0 and p.stdout.strip()


def test_missing_file_is_exit_1_with_or_without_json(tmp_path):
    p = run_cli(["check", str(tmp_path / "nope.png")], {})
    assert p.returncode == 1 and "error: OS_ERROR" in p.stderr and "Traceback" not in p.stderr
    p = run_cli(["check", str(tmp_path / "nope.png"), "--json"], {})
    doc = json.loads(p.stdout)
    assert p.returncode == 1 and doc["code"] == "OS_ERROR" and doc["exit_code"] == 1


def test_both_keys_warning_is_one_plain_line(emulator, tmp_path):
    env = env_for(emulator)
    env["GOOGLE_API_KEY"] = KEY
    p = run_cli(["generate", "x", "-o", str(tmp_path / "w.jpg"), "-q"], env)
    assert p.returncode == 0, p.stderr
    assert "warning: GOOGLE_API_KEY and GEMINI_API_KEY are both set" in p.stderr
    assert "UserWarning" not in p.stderr


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "nbcore")
    p = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    for command in ("generate", "edit", "diagnose", "check", "usage", "batch", "emulator"):
        assert command in p.stdout
    assert "Exit codes" in p.stdout


def test_documented_exit_codes_are_the_real_ones():
    """docs/python.md's exit-code table lists every class, and each code is what the CLI returns."""
    import nbcore
    from nbcore.cli import exit_code_for

    rows = {}
    with open(os.path.join(REPO, "docs", "python.md"), encoding="utf-8") as f:
        for line in f:
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and cells[0].isdigit() and cells[2].endswith("Error"):
                rows[cells[2]] = (int(cells[0]), cells[1])
    classes = [getattr(nbcore, n) for n in nbcore.__all__
               if isinstance(getattr(nbcore, n), type) and issubclass(getattr(nbcore, n), nbcore.NbcoreError)
               and getattr(nbcore, n) not in (nbcore.NbcoreError, nbcore.SafetyBlockedError)]
    assert {c.__name__ for c in classes} == set(rows)
    for cls in classes:
        code, name = rows[cls.__name__]
        assert name == cls.code and exit_code_for(cls("x")) == code, cls


def test_live_line_on_a_terminal_and_plain_lines_otherwise(emulator, tmp_path):
    import pty
    import select

    emulator.script([{"fault": "rpm_429", "retry_delay": "1.5s"}])
    master, slave = pty.openpty()
    env = dict(os.environ)
    env.pop("GOOGLE_API_KEY", None)
    env.update(env_for(emulator))
    env["COLUMNS"] = "120"
    proc = subprocess.Popen([sys.executable, "-m", "nbcore", "generate", "x", "-o", str(tmp_path / "t.jpg")],
                            stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while True:
        r, _, _ = select.select([master], [], [], 10)
        if not r:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=30)
    os.close(master)
    text = seen.decode(errors="replace")
    assert proc.returncode == 0
    assert "\r" in text, "the live line is rewritten in place on a terminal"
    assert "RATE_LIMITED" in text and "s left)" in text, text   # the retry's reason and countdown
    # Not a terminal (the earlier tests): plain lines, no carriage returns.
    emulator.script([{"fault": "rpm_429", "retry_delay": "0.3s"}])
    p = run_cli(["generate", "x", "-o", str(tmp_path / "u.jpg")], env_for(emulator))
    assert p.returncode == 0 and "\r" not in p.stderr and "waiting" in p.stderr


def test_state_fallback_share_option(emulator, tmp_path):
    # Redis at a loopback port nothing listens on: the state event names the share in force.
    base = ["generate", "x", "--rpm", "40", "--state", "redis://127.0.0.1:1/0", "-o", str(tmp_path / "s.png")]
    env = {**env_for(emulator), "NBCORE_STATE_FALLBACK_SHARE": "1/8"}
    p = run_cli(base + ["--state-fallback-share", "1/2"], env)
    assert p.returncode == 0, p.stderr
    assert "holding 1/2 of each limit" in p.stderr          # the option wins over the environment
    p = run_cli(base, env)
    assert p.returncode == 0 and "holding 1/8 of each limit" in p.stderr
    p = run_cli(base + ["--state-fallback-share", "2", "--json"], env)
    doc = json.loads(p.stdout)
    assert p.returncode == 30 and doc["code"] == "INVALID_ARG" and "(0, 1]" in doc["message"]
    p = run_cli(base + ["--state-fallback-share", "half"], env)
    assert p.returncode == 2 and "0.25 or 1/4" in p.stderr
