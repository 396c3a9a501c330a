"""The README's Integrations commands, run verbatim on a real sweep of the quickstart example (SWEEP replaced
by its id), and what they produced read back with MLflow's client and the tensorboard package."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def integration_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Integrations", 1)[1].split("\n## ", 1)[0]
    bash = re.findall(r"```bash\n(.*?)```", section, flags=re.S)[0]
    return [re.sub(r"\s+#\s.*$", "", line).strip() for line in bash.splitlines() if line.strip()]


@pytest.mark.slow
@pytest.mark.ray
def test_the_integrations_commands_run_verbatim_on_a_real_sweep(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="needs the mlflow extra")
    pytest.importorskip("tensorboard", reason="needs the tensorboard package")
    shutil.copytree(REPO / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("runs", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_", "MLFLOW_"))}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    sweep = subprocess.run(["tune", "examples/quickstart/train.py", "--flags", "examples/quickstart/grid.yml",
                            "--yes", "--quiet"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    sweep_id = re.search(r"sweep (\d{8}-\d{6}-[0-9a-f]{4}):", sweep.stdout).group(1)
    commands = integration_commands()
    assert [c.split()[:2] for c in commands] == [["tune", "export"], ["tune", "tensorboard"]]
    outputs = []
    for command in commands:
        done = subprocess.run([a.replace("SWEEP", sweep_id) for a in shlex.split(command)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        outputs.append(done.stdout)

    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    parents = [r for r in runs if r.data.tags.get("tuner.kind") == "sweep"]
    from tuner.yamlfile import load

    grid = load((tmp_path / "examples" / "quickstart" / "grid.yml").read_text())
    trials = len(grid["learning_rate"]) * len(grid["l2"])
    assert len(parents) == 1 and len(runs) == 1 + trials
    assert all(r.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for r in runs if r is not parents[0])
    assert outputs[1].startswith("tensorboard --logdir_spec hparams:")
    logdir = Path(shlex.split(outputs[1])[2].split(",")[0].split(":", 1)[1])
    assert len([p for p in logdir.iterdir() if p.is_dir()]) == trials
