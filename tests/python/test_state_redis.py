"""Client(state="redis://...") shares quota and spend through a redis-server started here on a
free loopback port; skipped when redis-server is not installed."""
import contextlib
import os
import shutil
import socket
import subprocess
import time

import pytest

import nbcore


@contextlib.contextmanager
def _redis_server(port_args, cwd=None):
    """A redis-server bound to loopback on a free port, nothing persisted; yields the port once it
    accepts connections. port_args(port) gives the port options (plain or TLS)."""
    binary = shutil.which("redis-server")
    if not binary:
        pytest.skip("redis-server not found (install Debian's redis-server, as scripts/install-deps does)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, *port_args(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.01)
        yield port
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def redis_url():
    with _redis_server(lambda port: ["--port", str(port)]) as port:
        yield f"redis://127.0.0.1:{port}/0"


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


def test_passwords_never_show_and_bad_tls_options_are_refused_with_advice(tmp_path):
    with pytest.raises(nbcore.InvalidArgumentError) as e:
        nbcore.Client(state="rediss://user:hunter2@127.0.0.1:1/0?sslmode=require")
    assert "hunter2" not in str(e.value) and "cacert, cert and key" in str(e.value)
    assert e.value.advice
    missing = tmp_path / "missing.pem"
    with pytest.raises(nbcore.InvalidArgumentError) as e:
        nbcore.Client(state=f"rediss://user:hunter2@127.0.0.1:1/0?cacert={missing}")
    assert "hunter2" not in str(e.value) and f"cacert={missing} cannot be read" in str(e.value)
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


def _openssl(cwd, *args):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def tls_redis(tmp_path):
    """A TLS-only redis-server on loopback with a throwaway CA, server and client certificate;
    yields (port, directory of the PEM files)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not found (scripts/install-deps installs it)")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl(tmp_path, "req", "-x509", *ec, "-days", "2", "-keyout", "ca.key", "-out", "ca.pem",
             "-subj", "/CN=test CA", "-addext", "basicConstraints=critical,CA:TRUE")
    (tmp_path / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for who in ("server", "client"):
        _openssl(tmp_path, "req", "-new", *ec, "-keyout", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/CN={who}")
        extra = ["-extfile", "server.ext"] if who == "server" else []
        _openssl(tmp_path, "x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-out", f"{who}.pem", *extra)
    tls = ["--tls-cert-file", "server.pem", "--tls-key-file", "server.key", "--tls-ca-cert-file", "ca.pem"]
    with _redis_server(lambda port: ["--port", "0", "--tls-port", str(port), *tls], cwd=tmp_path) as port:
        yield port, tmp_path


def test_a_client_shares_state_over_tls_and_a_wrong_ca_is_a_network_error(client_env, tls_redis):
    port, d = tls_redis
    client_cert = f"&cert={d}/client.pem&key={d}/client.key"
    url = f"rediss://127.0.0.1:{port}/0?cacert={d}/ca.pem{client_cert}"
    nbcore.Client(tier={"rpm": 300}, state=url).generate("a square", image_size="1K")
    rpm = next(x for x in nbcore.state_usage(url)["keys"][0]["dimensions"] if x["dimension"] == "RPM")
    assert rpm["used"] == 1
    # The server's own certificate as the CA: it signed nothing, so verification fails.
    wrong = f"rediss://user:hunter2@127.0.0.1:{port}/0?cacert={d}/server.pem{client_cert}"
    with pytest.raises(nbcore.NetworkError) as e:
        nbcore.state_usage(wrong)
    assert "hunter2" not in str(e.value) and "not trusted" in str(e.value)
    assert "pass the CA that signed it" in e.value.advice
