"""Secrets stay out of runs: the source snapshot and the artifact scan skip files that look like secrets (by name,
and configuration files by a password-like key), configurable in tuner.yml; pages never show them; MLflow never
receives them; a tracking URI's password is never stored or printed; the live view answers only requests made
to it by name (DNS rebinding); the Ray token a new local cluster makes is 0600."""

from __future__ import annotations

import http.client
import json
import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fabricate_runs import make_run

from tests.conftest import run_tune
from tuner.capture.secrets import DEFAULT_RULE, SecretRule, redact_uri
from tuner.report import save_run_view
from tuner.report.live import LiveRunServer

TRAIN = """import argparse, pathlib
p = argparse.ArgumentParser(); p.add_argument("--lr", type=float, default=0.1); args = p.parse_args()
out = pathlib.Path("out"); out.mkdir(exist_ok=True)
(out / "model.txt").write_text("weights")
(out / ".env").write_text("WANDB_API_KEY=wandb-key-" + "written-by-the-script")
(out / "gcp_credentials.json").write_text('{"private_key": "made-by-' + 'the-script"}')
print(f"loss: {args.lr}")
"""
#: a project folder as people have them: code, configs, and secrets beside them
PROJECT = {
    "train.py": TRAIN,
    "grid.yml": "lr: [0.1, 0.01]\n",
    "settings.ini": "[train]\nepochs = 3\nbatch_size = 32\n",
    "tokenizer_config.json": '{"pad_token": "<pad>", "eos_token": "</s>", "model_max_length": 512}\n',
    "config.ini": "[database]\nhost = db.internal\nuser = ml\npassword = hunter2-in-config-ini\n",
    "conf/db.yml": "db:\n  host: db.internal\n  db_password: hunter2-in-db-yml\n",
    ".secrets.json": '{"token": "hunter2-in-secrets-json"}\n',
    ".env": "AWS_SECRET_ACCESS_KEY=hunter2-in-dotenv\n",
    "service.key": "-----BEGIN PRIVATE KEY-----\nhunter2-in-key\n",
    "aws_credentials.txt": "[default]\naws_secret_access_key = hunter2-in-credentials\n",
}
KEPT = {"train.py", "grid.yml", "settings.ini", "tokenizer_config.json"}


@pytest.fixture
def project(workdir: Path) -> Path:
    for rel, text in PROJECT.items():
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (workdir / rel).write_text(text)
    return workdir


def _snapshot(run: Path) -> set[str]:
    source = run / "tuner.d" / "source"
    return {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()}


def _only_run(workdir: Path) -> Path:
    (run,) = [p for p in (workdir / "runs").iterdir() if p.name.startswith("20")]
    return run


def test_the_rule_takes_secret_names_and_config_files_with_password_keys_only(tmp_path: Path) -> None:
    secret = [".env", ".env.production", "prod.env", ".envrc", "id_rsa", "id_ed25519", "id_ecdsa.pub", "tls.pem",
              "server.key", "cert.p12", ".secrets.json", "client_secret.json", "AWS_Credentials", ".netrc", ".pgpass",
              ".pypirc", "deploy/Secret.yaml"]
    plain = ["train.py", "id_utils.py", "keyboard.py", "monkey.key.py", "grid.yml", "README.md", "environment.yml",
             "requirements.txt", "envs/cpu.yml"]
    assert [n for n in secret if not DEFAULT_RULE.is_secret(n)] == []
    assert [n for n in plain if DEFAULT_RULE.is_secret(n)] == []
    has_key = ["[db]\npassword = x\n", '{"password": "x"}', 'db:\n  db_password: "x"\n', "export API_KEY=abc\n",
               '  "client_secret": "abc",\n', "aws_secret_access_key=AKIA\n", "[auth]\naccess_token: t0k3n\n"]
    no_key = ['{"pad_token": "<pad>", "eos_token": "</s>"}', "password_length: 12\n", 'password: ""\n',
              "password: null\n", "secret_sauce: 1\n", "lr: 0.1\nbatch_size: 32\n", "password =\n"]
    assert [t for t in has_key if not DEFAULT_RULE.text_has_key(t)] == []
    assert [t for t in no_key if DEFAULT_RULE.text_has_key(t)] == []
    (tmp_path / "app.cfg").write_text("[smtp]\npasswd = x\n")
    (tmp_path / "app.py").write_text("password = 'not read: source is never searched for keys'\n")
    assert DEFAULT_RULE.is_secret("app.cfg", str(tmp_path / "app.cfg"))
    assert not DEFAULT_RULE.is_secret("app.py", str(tmp_path / "app.py"))
    off = SecretRule(files=(), keys=())
    assert not off.is_secret(".env") and not off.is_secret("app.cfg", str(tmp_path / "app.cfg"))


def test_credentials_in_uris_are_redacted_and_nothing_else_changes() -> None:
    cases = {
        "http://alice:s3cret@mlflow.internal:5000": "http://alice:***@mlflow.internal:5000",
        "https://alice:p%40ss@host/path?x=1": "https://alice:***@host/path?x=1",
        "postgresql://ml:pw@db:5432/mlflow": "postgresql://ml:***@db:5432/mlflow",
        "https://host/api?token=abc&run=7": "https://host/api?token=***&run=7",
        "http://h:5000/?api_key=k&sig=s": "http://h:5000/?api_key=***&sig=***",
        "sqlite:///mlflow.db": "sqlite:///mlflow.db",
        "http://127.0.0.1:5000": "http://127.0.0.1:5000",
        "databricks://profile": "databricks://profile",
        "file:///tmp/mlruns": "file:///tmp/mlruns",
    }
    assert {uri: redact_uri(uri) for uri in cases} == cases


def test_a_run_snapshots_the_code_and_configs_but_not_the_secrets(project: Path) -> None:
    done = run_tune("train.py", "--flag", "lr=0.1", "--artifacts-dir", "out", cwd=project)
    assert done.returncode == 0, done.stderr
    run = _only_run(project)
    assert _snapshot(run) == KEPT
    # the artifact scan of out/: the model, not the .env or the credentials the script wrote
    assert sorted(p.name for p in run.iterdir() if p.name != "tuner.d") == ["model.txt"]
    page = Path(save_run_view(str(run), filename=str(project / "view.html"))).read_text()
    for leaked in ("hunter2", "made-by-the-script", "wandb-key-written-by-the-script"):
        assert leaked not in page, leaked
    assert "settings.ini" in page and "batch_size" in page


def test_the_lists_are_settings_a_project_can_narrow(project: Path) -> None:
    (project / "tuner.yml").write_text('secret_files: [".env", "*.key"]\nsecret_keys: []\n')
    done = run_tune("train.py", "--flag", "lr=0.1", cwd=project)
    assert done.returncode == 0, done.stderr
    assert _snapshot(_only_run(project)) == KEPT | {"tuner.yml", "config.ini", "conf/db.yml", ".secrets.json",
                                                     "aws_credentials.txt"}


def test_pages_and_the_live_view_never_show_secrets_a_run_already_holds(workdir: Path) -> None:
    """A run snapshotted before secrets were left out (or pulled, or copied in) still holds them: not shown."""
    run = make_run("runs", 1, {"lr": 0.1}, {"loss": [0.5]},
                   sources={"train.py": "print(1)\n", ".secrets.json": '{"token": "hunter2-old-snapshot"}',
                            "config.ini": "[db]\npassword = hunter2-old-ini\n"},
                   artifacts={"model.txt": b"weights", ".env": b"KEY=hunter2-artifact"})
    page = Path(save_run_view(run, filename="view.html")).read_text()
    assert "hunter2" not in page and ".secrets.json" not in page and '"path":".env"' not in page
    assert "model.txt" in page and "train.py" in page
    with LiveRunServer(run) as server:
        assert "hunter2" not in server.page()
        done = server.update(0, 0)
        assert [a["path"] for a in done["artifacts"]] == ["model.txt"]


def _get(port: int, host: str | None, path: str = "/") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_host=True)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_the_live_view_answers_only_requests_addressed_to_it(workdir: Path) -> None:
    run = make_run("runs", 1, {"lr": 0.1}, {"loss": [0.5]}, output="private console output")
    with LiveRunServer(run) as server:
        port = int(server.url.rsplit(":", 1)[1].strip("/"))
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
            code, body = _get(port, host)
            assert code == 200 and b"private console output" in body, host
            assert _get(port, host, "/api/metrics?since=0&gen=0")[0] == 200
        # a page of another site whose name was pointed at 127.0.0.1 (DNS rebinding), and odd headers
        for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1:{port + 1}", "127.0.0.1",
                     f"127.0.0.1.attacker.example:{port}", None, ""):
            for path in ("/", "/api/metrics?since=0&gen=0"):
                code, body = _get(port, host, path)
                assert code == 403 and b"private" not in body, (host, path, code)


# ---------------------------------------------------------------------------------------------------
# MLflow: a real tracking server reached with a password in its URI

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_an_mlflow_password_is_never_stored_or_printed_and_secret_artifacts_are_not_sent(workdir: Path) -> None:
    mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra")
    port = _free_port()
    store = workdir / "mlflow-server"
    store.mkdir()
    server = subprocess.Popen([str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1",
                               "--port", str(port), "--workers", "1", "--backend-store-uri",
                               f"sqlite:///{store / 'mlflow.db'}", "--default-artifact-root",
                               (store / "artifacts").as_uri(), "--no-serve-artifacts"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if _get(port, f"127.0.0.1:{port}", "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "mlflow server did not start"
            time.sleep(0.5)
        run = make_run("runs", 1, {"lr": 0.1}, {"loss": [0.5, 0.4]},
                       artifacts={"model.txt": b"weights", ".env": b"KEY=hunter2-artifact",
                                  "db.ini": b"[db]\npassword = hunter2-db-ini\n"})
        uri = f"http://alice:s3cret-pw@127.0.0.1:{port}"
        done = run_tune("export", "mlflow", "--tracking-uri", uri, "--experiment", "secrets")
        assert done.returncode == 0, done.stderr
        assert "s3cret-pw" not in done.stdout + done.stderr and f"alice:***@127.0.0.1:{port}" in done.stdout
        stored = (Path(run) / "tuner.d" / "mlflow.json").read_text()
        assert "s3cret-pw" not in stored and json.loads(stored)["exports"][0]["tracking_uri"] == \
            f"http://alice:***@127.0.0.1:{port}"
        client = mlflow.MlflowClient(uri)
        (found,) = client.search_runs([client.get_experiment_by_name("secrets").experiment_id])
        assert sorted(a.path for a in client.list_artifacts(found.info.run_id) if not a.is_dir) == ["model.txt"]
        again = run_tune("export", "mlflow", "--tracking-uri", uri, "--experiment", "secrets")
        assert again.returncode == 0 and "unchanged" in again.stdout, again.stdout + again.stderr  # found again
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_an_unreachable_tracking_server_error_hides_the_password(workdir: Path) -> None:
    pytest.importorskip("mlflow", reason="needs the mlflow extra")
    make_run("runs", 1, {"lr": 0.1}, {"loss": [0.5]})
    done = run_tune("export", "mlflow", "--tracking-uri", f"http://alice:s3cret-pw@127.0.0.1:{_free_port()}")
    assert done.returncode == 2 and "s3cret-pw" not in done.stderr and "alice:***@" in done.stderr, done.stderr


# ---------------------------------------------------------------------------------------------------
# Ray's authentication token, when a sweep's new local cluster makes it

@pytest.mark.slow
@pytest.mark.ray
def test_the_token_a_new_local_cluster_makes_is_private(tmp_path: Path) -> None:
    from tests.workers_tests.clusters import run_tune_clean

    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    (project / "train.py").write_text("import argparse\np = argparse.ArgumentParser(); p.add_argument('--x')\n"
                                      "print('loss:', p.parse_args().x)\n")
    old = os.umask(0o022)  # the usual umask, under which a plain open() makes 0644
    try:
        done = run_tune_clean("train.py", "--flag", "x=1,2", "--yes", cwd=project, home=home)
    finally:
        os.umask(old)
    assert done.returncode == 0, done.stdout + done.stderr
    token = home / ".ray" / "auth_token"
    assert token.is_file() and len(token.read_text().strip()) == 64
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and stat.S_IMODE(token.parent.stat().st_mode) == 0o700
