"""Where the arrays of a pass start: on a cache line.

The packed GEMM and the gate loops load whole vectors; when the arrays of a
pass start 16 or 48 bytes past a 64-byte line, loads straddle lines and a
tiny model's forward pass ran 20% slower (35 us instead of 29, on Zen 3).
numpy aligns its buffers to 16 bytes only, and large ones, which the C
library maps with a 16-byte header, always land there.
"""

CACHE_LINE_BYTES = 64


def elements_to_alignment(array, alignment):
    """How many elements past the start of the 1-D ``array`` the next ``alignment``-byte boundary lies."""
    return (-array.ctypes.data % alignment) // array.itemsize
