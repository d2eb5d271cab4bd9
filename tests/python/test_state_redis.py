"""Client(state="redis://...") shares quota and spend through a redis-server started here on a
free loopback port; skipped when redis-server is not installed."""
import os
import shutil
import socket
import subprocess
import time

import pytest

import nbcore


@pytest.fixture
def redis_url():
    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server not found (install Debian's redis-server, as scripts/install-deps does)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


def test_two_clients_share_quota_and_spend_through_redis(client_env, redis_url):
    a = nbcore.Client(tier={"rpm": 300}, state=redis_url)
    b = nbcore.Client(tier={"rpm": 300}, state_path=redis_url)
    spent = a.generate("one", image_size="1K").cost_usd + b.generate("two", image_size="1K").cost_usd
    u = nbcore.state_usage(redis_url)
    rpm = next(d for d in u["keys"][0]["dimensions"] if d["dimension"] == "RPM")
    assert rpm["used"] == 2 and rpm["limit"] == 300
    daily = next(c for c in u["caps"] if c["period"] == "daily")
    assert daily["spent_usd"] == pytest.approx(spent, abs=1e-6)


def test_state_environment_variable_names_redis(client_env, redis_url, monkeypatch):
    monkeypatch.setenv("NBCORE_STATE", redis_url)
    nbcore.Client(state_path=nbcore.DEFAULT_STATE).generate("a square", image_size="1K")
    assert nbcore.state_usage(redis_url)["keys"]


def test_passwords_never_show_and_tls_is_refused_with_advice():
    with pytest.raises(nbcore.InvalidArgumentError) as e:
        nbcore.Client(state="rediss://user:hunter2@127.0.0.1:1/0")
    assert "hunter2" not in str(e.value) and "TLS" in str(e.value)
    assert e.value.advice
    with pytest.raises(nbcore.InvalidArgumentError):
        nbcore.Client(state="redis://a/0", state_path="redis://b/0")
