"""The user guide's Python examples (docs/guide/*.md) run as written.

Each page's ```python blocks run in order in one namespace, as a reader would type them, in a temporary
folder. A block that needs something this machine may lack is skipped, with the extra that brings it:
the GPU (a block that names ``"cuda"``), MPI (``MPIStrategy``), matplotlib (``plotting``).
"""

import importlib.util
import pathlib
import re

import pytest

GUIDE = pathlib.Path(__file__).resolve().parent.parent / "docs" / "guide"
PAGES = sorted(GUIDE.glob("*.md"))


def _have(module):
    return importlib.util.find_spec(module) is not None


def _gpu():
    from numlstm import dispatch

    return dispatch.gpu_available()


# (what a block names, whether it can run here, why it is skipped otherwise)
NEEDS = [
    ('"cuda"', _gpu, "needs a CUDA GPU (the cuda extra: pip install -e '.[cuda]')"),
    ("MPIStrategy", lambda: False, "needs mpiexec and several ranks (the mpi extra: pip install -e '.[mpi]')"),
    ("plotting", lambda: _have("matplotlib"), "needs matplotlib (the plot extra: pip install -e '.[plot]')"),
]


def python_blocks(page):
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), flags=re.S | re.M)


def test_the_guide_has_examples():
    # A walk that found nothing would pass the tests below.
    assert {page.stem for page in PAGES} >= {"getting-started", "models", "training", "saving", "forecasting",
                                             "gpu", "mpi", "reliability", "performance"}
    assert sum(len(python_blocks(page)) for page in PAGES) >= 12


@pytest.mark.parametrize("page", [page for page in PAGES if python_blocks(page)], ids=lambda page: page.stem)
def test_guide_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the saving page writes a model file
    namespace = {}
    skipped = []
    for block in python_blocks(page):
        unmet = [why for names, available, why in NEEDS if names in block and not available()]
        if unmet:
            skipped.append(unmet[0])
            continue
        exec(compile(block, str(page), "exec"), namespace)
    if skipped and len(skipped) == len(python_blocks(page)):
        pytest.skip("; ".join(sorted(set(skipped))))
