"""What each CUDA kernel of the LSTM (``kernels/cuda/``) costs a multiprocessor, measured without a GPU.

    python asv_bench/tools/kernel_resources.py [--sass] [--dtype float32] [--cc 90] [name=value ...]

Compiles every kernel as the PTX tests do (``tests/helpers/ptx.py``: NVVM from
numba-cuda[cu13]), links it for the target with nvJitLink (as the driver
would, libcudadevrt and numba-cuda's reshape helpers included) and prints
its registers a thread, spill bytes and stack frame: what decides how many
blocks fit on an SM (``persistent_blocks_per_sm``). With ``--sass`` it
also disassembles the cubin (``nvdisasm``: ``pip install
nvidia-cuda-nvdisasm``) and prints every loop (a backward branch) with its
instruction count and its multiply-adds, shared, global, generic and local
(spill) loads: how many instructions a step of an inner loop takes, and
whether spills land in one. ``name=value`` pairs override
``GpuKernelOptions`` (integers), e.g. ``rows=1 persistent_blocks_per_sm=0``.
"""

import argparse
import dataclasses
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests"))  # tests/, for helpers

from numba import types  # noqa: E402

from numlstm.kernels.options import DEVICE_PRESET  # noqa: E402
from helpers.ptx import compile_for, kernel_signatures, link, resources  # noqa: E402
from numlstm.kernels.cuda.lstm import kernels_for  # noqa: E402


_COUNTED = {"FFMA": r"\bFFMA\b|\bDFMA\b", "LDS": r"\bLDS\b", "LDG": r"\bLDG\b", "LD": r"^(@!?P\d )?LD\b",
            "LDL": r"\bLDL\b", "STL": r"\bSTL\b"}


def loops(sass, kernel_name):
    """Each loop of a kernel's disassembly, by first address (a loop inside another after it): (first address,
    last address, instructions, {counted kind: how many})."""
    lines = sass.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f".text.{kernel_name}:"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith(".section")), len(lines))
    instructions, labels, pending = [], {}, []
    for line in lines[start:end]:
        label = re.match(r"^\s*(\.L_x_\d+):", line)
        if label:
            pending.append(label.group(1))
            continue
        found = re.search(r"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", line)
        if found:
            address = int(found.group(1), 16)
            labels.update((name, address) for name in pending)
            pending = []
            instructions.append((address, found.group(2)))
    found_loops = []
    for address, text in instructions:
        target = re.search(r"BRA\s+(?:`\()?(\.L_x_\d+)", text)
        if target and labels.get(target.group(1), address) < address:
            first = labels[target.group(1)]
            body = [text for at, text in instructions if first <= at <= address]
            counts = {kind: sum(bool(re.search(pattern, text)) for text in body) for kind, pattern in _COUNTED.items()}
            found_loops.append((first, address, len(body), counts))
    return sorted(found_loops)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sass", action="store_true", help="also list each kernel's loops (needs nvdisasm)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--cc", default="90", help="compute capability, e.g. 80 or 90")
    parser.add_argument("options", nargs="*", metavar="name=value", help="GpuKernelOptions overrides")
    args = parser.parse_args(argv)
    overrides = {}
    for pair in args.options:
        name, _, value = pair.partition("=")
        if not hasattr(DEVICE_PRESET.kernels, name):
            parser.error(f"{name} is not an option of GpuKernelOptions")
        overrides[name] = int(value)
    options = dataclasses.replace(DEVICE_PRESET.kernels, **overrides)
    nvdisasm = shutil.which("nvdisasm")
    if args.sass and nvdisasm is None:
        parser.error("--sass needs nvdisasm on PATH: pip install nvidia-cuda-nvdisasm (it lands in "
                     "site-packages/nvidia/cu13/bin)")
    cc = (int(args.cc[:-1]), int(args.cc[-1]))
    kernels = kernels_for(args.dtype, options)
    print(f"sm_{args.cc}, {args.dtype}, options: {' '.join(args.options) or 'the defaults'}")
    print(f"{'kernel':28} registers  spill stores  spill loads  stack")
    for name, signature in kernel_signatures(getattr(types, args.dtype)).items():
        kernel = getattr(kernels, name)
        ptx = compile_for(kernel.py_func, signature, cc, options.fastmath,
                       kernel.targetoptions.get("launch_bounds"))
        mangled = re.search(r"\.visible \.entry (\S+)\(", ptx).group(1)
        cubin, log = link(ptx, args.cc)
        registers, stores, loads, stack = resources(log, mangled)
        print(f"{name:28} {registers:9}  {stores:12}  {loads:11}  {stack:5}")
        if args.sass:
            with tempfile.NamedTemporaryFile(suffix=".cubin") as file:
                file.write(cubin)
                file.flush()
                sass = subprocess.run([nvdisasm, "-c", file.name], capture_output=True, text=True,
                                      check=True).stdout
            for first, last, count, counts in loops(sass, mangled):
                kinds = ", ".join(f"{kind} {n}" for kind, n in counts.items() if n)
                print(f"    loop {first:#07x}-{last:#07x}: {count} instructions ({kinds or 'no loads'})")


if __name__ == "__main__":
    main()
