"""`tune --address` against clusters started as users start them: `ray start --head` in one clean shell,
`tune` in another, token authentication on (Ray's default once a token exists) and off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workers_tests.clusters import Cluster, generate_token, run_tune_clean

pytestmark = [pytest.mark.slow, pytest.mark.ray]

SCRIPT = "import sys\nprint('x is', sys.argv[1:])\n"


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir(parents=True)
    (project / "train.py").write_text(SCRIPT)
    (project / "grid.yml").write_text("x: [1, 2]\n")
    return project


def _statuses(project: Path) -> list[str]:
    return sorted(json.loads(p.read_text())["status"] for p in (project / "runs").glob("*/tuner.d/run.json"))


@pytest.fixture(scope="module")
def token_cluster(tmp_path_factory):
    home = tmp_path_factory.mktemp("head-home")
    token = generate_token(home)
    cluster = Cluster(home)
    yield cluster, token
    cluster.stop()


@pytest.fixture(scope="module")
def open_cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("open-home"))  # no token anywhere: Ray starts it without auth
    yield cluster
    cluster.stop()


@pytest.mark.parametrize("form", ["host:port", "auto", "ray://"])
def test_address_joins_a_token_cluster_with_the_token_where_ray_keeps_it(token_cluster, tmp_path, form):
    cluster, _token = token_cluster
    if form == "ray://":
        pytest.importorskip("grpc", reason="ray:// needs the cluster extra (ray[default])")
    address = {"host:port": cluster.address, "auto": "auto", "ray://": f"ray://127.0.0.1:{cluster.client_port}"}[form]
    project = _project(tmp_path)
    done = run_tune_clean("train.py", "--flags", "grid.yml", "--address", address, cwd=project, home=cluster.home)
    assert done.returncode == 0, done.stderr
    assert _statuses(project) == ["finished", "finished"]
    assert "InvalidAuthToken" not in done.stderr


def test_token_given_by_environment_is_used(token_cluster, tmp_path):
    cluster, token = token_cluster
    project = _project(tmp_path)
    home = tmp_path / "laptop"  # another machine: no ~/.ray/auth_token, the token pasted into RAY_AUTH_TOKEN
    home.mkdir()
    done = run_tune_clean("train.py", "--flags", "grid.yml", "--address", cluster.address, cwd=project, home=home,
                          RAY_AUTH_TOKEN=token)
    assert done.returncode == 0, done.stderr
    assert _statuses(project) == ["finished", "finished"]


@pytest.mark.parametrize("form", ["host:port", "ray://"])
@pytest.mark.parametrize("token, says", [(None, "none was found"), ("not-the-token", "rejected")])
def test_missing_or_wrong_token_is_one_line_with_the_fix_and_exit_2(token_cluster, tmp_path, form, token, says):
    cluster, _token = token_cluster
    if form == "ray://":
        pytest.importorskip("grpc", reason="ray:// needs the cluster extra (ray[default])")
    address = cluster.address if form == "host:port" else f"ray://127.0.0.1:{cluster.client_port}"
    project = _project(tmp_path)
    home = tmp_path / "laptop"
    home.mkdir()
    env = {"RAY_AUTH_TOKEN": token} if token else {}
    done = run_tune_clean("train.py", "--flags", "grid.yml", "--address", address, cwd=project, home=home,
                          timeout=60, **env)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, done.stderr
    assert says in errors[0] and "~/.ray/auth_token" in errors[0] and "RAY_AUTH_TOKEN" in errors[0]
    assert not list((project / "runs").glob("*/tuner.d/run.json"))


def test_cluster_without_authentication_is_joined_with_or_without_a_local_token(open_cluster, tmp_path):
    for name, token in (("bare", None), ("with-token", "a-token-the-cluster-does-not-ask-for")):
        project = _project(tmp_path / name)
        env = {"RAY_AUTH_TOKEN": token} if token else {}
        done = run_tune_clean("train.py", "--flags", "grid.yml", "--address", open_cluster.address, cwd=project,
                              home=open_cluster.home, **env)
        assert done.returncode == 0, done.stderr
        assert _statuses(project) == ["finished", "finished"]
