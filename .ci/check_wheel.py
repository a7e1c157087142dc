"""Check that a built wheel holds every module and data file of the source tree, where it belongs:
``numlstm/**`` as itself and ``kernels/**`` as ``numlstm/kernels/**``. Usage: check_wheel.py WHEEL."""

import pathlib
import sys
import zipfile

root = pathlib.Path(__file__).resolve().parent.parent
wheel = zipfile.ZipFile(sys.argv[1])
in_wheel = {name for name in wheel.namelist() if not name.split("/")[0].endswith(".dist-info")}


def source_files(folder, installed_as):
    for path in (root / folder).rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in {".py", ".csv", ".txt", ".npz"}:
            yield f"{installed_as}/{path.relative_to(root / folder).as_posix()}"


expected = set(source_files("numlstm", "numlstm")) | set(source_files("kernels", "numlstm/kernels"))
missing, extra = sorted(expected - in_wheel), sorted(in_wheel - expected)
if missing or extra:
    sys.exit(f"{sys.argv[1]}: missing {missing or 'nothing'}; not in the source tree {extra or 'nothing'}")
if not any(name.endswith("dist-info/licenses/LICENSE") for name in wheel.namelist()):
    sys.exit(f"{sys.argv[1]}: no LICENSE in its dist-info")
print(f"wheel holds all {len(expected)} source files of numlstm/ and kernels/, and the LICENSE")
