"""asv_bench/tools/gpu_ab.py: versions assembled from git and the working tree; the driver's turns and its table
(with stand-in workers: the real ones need a GPU, and run in the simulator in test_gpu_session.py)."""

import json
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "asv_bench" / "tools"))
import gpu_ab  # noqa: E402


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_prepare_assembles_a_revision_the_working_tree_and_a_revision_under_options(tmp_path):
    manifest = gpu_ab.prepare(["HEAD", "work", 'HEAD{"rows": 2}'], ROOT, tmp_path / "versions")

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    assert manifest == [{"label": "HEAD", "revision": "HEAD", "commit": head, "options": {}},
                        {"label": "work", "revision": "work", "commit": f"working tree on {head}", "options": {}},
                        {"label": "HEAD+1", "revision": "HEAD", "commit": head, "options": {"rows": 2}}]
    assert json.loads((tmp_path / "versions" / "manifest.json").read_text()) == manifest
    committed = subprocess.run(["git", "show", "HEAD:kernels/cuda/lstm.py"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout
    assert (tmp_path / "versions" / "HEAD" / "numlstm" / "kernels" / "cuda" / "lstm.py").read_text() == committed
    assert (tmp_path / "versions" / "work" / "numlstm" / "kernels" / "cuda" / "lstm.py").read_text() == \
        (ROOT / "kernels" / "cuda" / "lstm.py").read_text()
    assert (tmp_path / "versions" / "HEAD+1" / "numlstm" / "kernels" / "cuda" / "lstm.py").read_text() == committed
    assert (tmp_path / "versions" / "HEAD" / "numlstm" / "__init__.py").exists()
    assert not list((tmp_path / "versions").rglob("__pycache__"))
    with pytest.raises(SystemExit, match=r"HEAD\{rows: 2\}: the options after a revision must be a JSON object"):
        gpu_ab.prepare(["HEAD{rows: 2}"], ROOT, tmp_path / "versions")


STAND_IN = textwrap.dedent("""
    import json, sys
    label, cases = sys.argv[1], sys.argv[2].split(",")
    if label == "broken":
        sys.exit(3)
    per_call = {"slow": 0.002, "fast": 0.001}[label]
    print(json.dumps({"ready": label}), flush=True)
    round = 0
    for line in sys.stdin:
        if line.strip() == "time":
            round += 1
            print(json.dumps({case: per_call * (1 + round % 2) * (i + 1) for i, case in enumerate(cases)}),
                  flush=True)
        elif line.strip() == "profile":
            print(json.dumps({cases[0]: [[12.5, 25.0, label + "_kernel"]]}), flush=True)
""")


def test_the_driver_takes_turns_and_the_table_gives_medians_and_ratios_to_the_first_version():
    cases = ["infer:1x1x1", "train:2x2x2"]

    given = {}

    def stand_in(label, cases, options, seconds):
        given[label] = options
        return [sys.executable, "-c", STAND_IN, label, ",".join(cases)]

    results, failed = gpu_ab.drive(["slow", "broken", "fast"], cases, 3, 0, {"fast": {"rows": 2}}, True, stand_in)

    assert given == {"slow": {}, "broken": {}, "fast": {"rows": 2}}
    assert list(results) == ["slow", "fast"] and list(failed) == ["broken"]
    assert results["slow"]["times"]["train:2x2x2"] == pytest.approx([0.008, 0.004, 0.008])
    table = gpu_ab.table(results, failed, cases, [{"label": "slow", "commit": "abc"},
                                                  {"label": "fast", "commit": "def", "options": {"rows": 2}}])
    # medians over the rounds: 4 and 8 ms slow, 2 and 4 fast
    assert "| infer:1x1x1 | 4.000 | 2.000 | 0.50 |" in table
    assert "| train:2x2x2 | 8.000 | 4.000 | 0.50 |" in table
    assert 'Versions: slow = abc; fast = def with {"rows": 2}' in table
    assert "Kernels of fast, infer:1x1x1" in table and "fast_kernel" in table
    assert "Failed: broken: exit status 3" in table
