"""The README: its Python examples run as written, and its Layout table matches the tree."""

import pathlib
import re
import shutil
import subprocess

import numpy as np
import pytest

import numlstm

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 3, "the Sequential, the functional and the forecasting examples"
    monkeypatch.chdir(tmp_path)  # the first example saves a model file
    namespace = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    # It learnt (a sum over 60 steps; the targets' variance is 1), the model it saved loaded, and the
    # gradients of the loaded model align with its weights.
    history = namespace["history"].history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert min(history["val_loss"]) < 0.1
    assert (tmp_path / "sum.numlstm").is_file()
    assert np.isfinite(namespace["loss"])
    assert [g.shape for g in namespace["grads"]] == [w.shape for w in namespace["model"].get_weights()]
    exec(compile(blocks[1], str(README), "exec"), namespace)
    # A functional model of two inputs, fitted: window (60, 1) through LSTM(16), then Dense(1) on 16 + 3.
    model = namespace["model"]
    assert isinstance(model, numlstm.Model) and len(model.inputs) == 2
    assert model.predict({"window": namespace["x"][:4], "static": np.zeros((4, 3))}, verbose=0).shape == (4, 1)
    exec(compile(blocks[2], str(README), "exec"), namespace)
    forecast = namespace["forecast"]
    assert str(forecast.time[0]) == "2011-01" and forecast.quantile_values.shape == (12, 3)


@pytest.mark.slow
def test_readme_forecasting_commands_run_as_written(tmp_path):
    section = README.read_text().split("## Forecasting\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.S).group(1)
    numlstm_command = shutil.which("numlstm")
    if numlstm_command is None:
        pytest.skip("the numlstm command is not on PATH (pip install the package)")
    completed = subprocess.run(["bash", "-euo", "pipefail", "-c", block], cwd=tmp_path, capture_output=True,
                               text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    assert "the LSTM beats every baseline" in completed.stdout
    forecast = (tmp_path / "elnino-forecast.csv").read_text().splitlines()
    assert forecast[0] == "step,time,forecast,q0.1,q0.5,q0.9" and forecast[1].startswith("1,2011-01,")
    assert forecast[12].startswith("12,2011-12,")
    scores = (tmp_path / "elnino-scores.csv").read_text().splitlines()
    assert scores[0] == "method,RMSE,MAE,MASE,sMAPE,coverage,pinball,CRPS"
    assert [line.split(",")[0] for line in scores[1:]] == ["LSTM", "naive", "seasonal naive"]


def layout_rows():
    """[(paths in the first column, paths in the second)] of the README's Layout table, as written."""
    section = README.read_text().split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "the README has a Layout table"
    result = []
    for row in rows:
        first, what = row.strip("|").split(" | ", 1)
        result.append((re.findall(r"`([^`]+)`", first),
                       [name for name in re.findall(r"`([^`\s]+)`", what) if name.endswith(("/", ".py"))]))
    return result


def repository_folders():
    """The folders that hold the repository's files, tracked or new (git's list, its ignored files left out)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    files = [pathlib.PurePosixPath(name) for name in listed if (ROOT / name).exists()]
    return {parent.as_posix() + "/" for name in files for parent in name.parents if parent.as_posix() != "."}


# The table describes the repository; an sdist carries the tests but not asv_bench/, .ci/ or examples/.
needs_checkout = pytest.mark.skipif(not (ROOT / ".git").exists() or shutil.which("git") is None,
                                    reason="the Layout table describes a git checkout of the repository")


@needs_checkout
def test_layout_names_only_what_exists():
    missing = []
    for paths, mentioned in layout_rows():
        for path in paths:
            if not (ROOT / path).exists() or path.endswith("/") != (ROOT / path).is_dir():
                missing.append(path)
        folders = [path for path in paths if path.endswith("/")]
        for name in mentioned:  # from the root, or inside the row's folder
            if not any((ROOT / base / name).exists() for base in ["", *folders]):
                missing.append(f"{name} (row {paths[0]})")
    assert not missing, f"the README's Layout table names what is not in the tree: {missing}"


@needs_checkout
def test_layout_names_every_folder():
    folders = repository_folders()
    named = {path for paths, _ in layout_rows() for path in paths}
    wanted = {folder for folder in folders if folder.count("/") == 1}  # every top-level folder
    wanted |= {folder for folder in folders if folder.startswith(("numlstm/", "kernels/"))
               and "__pycache__" not in folder}  # every subpackage of numlstm/ and kernels/
    assert not sorted(wanted - named), f"the README's Layout table leaves out: {sorted(wanted - named)}"


@needs_checkout
def test_layout_names_every_top_level_module():
    """The rows of numlstm/ and kernels/ name each module directly inside them (subpackages have rows)."""
    mentioned = {path: names for paths, names in layout_rows() for path in paths}
    missing = [f"{package}{module.name}" for package in ("numlstm/", "kernels/")
               for module in sorted((ROOT / package).glob("*.py"))
               if module.name not in ("__init__.py", "__main__.py") and module.name not in mentioned.get(package, [])]
    assert not missing, f"the README's Layout table leaves out: {missing}"
