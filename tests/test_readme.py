"""The README's Python examples run as written (those that need no GPU and no MPI)."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    runnable = [block for block in blocks if "set_device" not in block and "MPIStrategy" not in block]
    assert len(runnable) >= 3, "the API, data and engine examples"
    monkeypatch.chdir(tmp_path)  # the first example saves a model file
    namespace = {}
    for block in runnable:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["grads"].d_kernel.shape == (3, 64)
