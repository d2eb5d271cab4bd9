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


# Nothing listens on loopback port 1: the state is "unreachable" at once, without a redis-server.
UNREACHABLE = "redis://127.0.0.1:1/0"


def _share_in_force(share, monkeypatch, env=None):
    """The fallback share a client reports (state event and usage) after one request."""
    if env is None:
        monkeypatch.delenv("NBCORE_STATE_FALLBACK_SHARE", raising=False)
    else:
        monkeypatch.setenv("NBCORE_STATE_FALLBACK_SHARE", env)
    events = []
    c = nbcore.Client(tier={"rpm": 40}, state=UNREACHABLE, state_fallback_share=share, on_event=events.append)
    c.generate("a square", image_size="1K")
    notices = [e["message"] for e in events if e["kind"] == "state" and e["reason"] == "unreachable"]
    assert len(notices) == 1
    return notices[0], c.usage()["location"]


@pytest.mark.parametrize("share, env, shown", [
    (None, None, "1/4"),     # neither: the default
    (None, "1/8", "1/8"),    # the environment fills in
    (0.5, "1/8", "1/2"),     # an explicit share wins over it
    (1, None, "1/1"),
])
def test_fallback_share_reaches_the_redis_backend(client_env, monkeypatch, share, env, shown):
    notice, location = _share_in_force(share, monkeypatch, env)
    assert f"holding {shown} of each limit" in notice
    assert f"local share {shown}" in location


@pytest.mark.parametrize("share", [-0.25, 1.5, float("nan"), 0, "0.5", True])
def test_fallback_share_out_of_range_is_a_value_error(share):
    with pytest.raises(nbcore.InvalidArgumentError) as e:
        nbcore.Client(state=UNREACHABLE, state_fallback_share=share)
    assert isinstance(e.value, ValueError)
    assert "state_fallback_share" in str(e.value) and e.value.advice
    if isinstance(share, float):
        assert "(0, 1]" in str(e.value)
