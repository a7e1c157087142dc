"""Calls from one compiled kernel to another through the callee's native address.

A Numba function that calls another links the callee's code into its own and
LLVM optimises it again there: a time-loop entry point that called the
per-block loop directly spent 1 s (serial) to 3.5 s (``parallel=True``: the
code is linked twice, into the gufunc and the function) re-optimising the
block's code, on top of the block's own compile. Called through its address,
the block's code is compiled once per process (and cached on disk apart from
its callers), and each entry point compiles in a fraction of a second.

A callee's compiled versions live in a :class:`NativeEntries` table, an int64
array of ``(check, address)`` rows that the caller receives as an ordinary
argument; ``check`` is a checksum of the argument types a version was
compiled for. The caller looks up the row whose check is that of the
arguments it is about to pass (:func:`argument_check`, a constant of its
compiled code, and :func:`find_entry`) and calls the address with
:func:`call_native`. When there is none yet it raises
:class:`NativeEntryMissing` before doing any work; :func:`call_with_entries`
then compiles the version, adds it, and calls again. A version compiled for
other types than the caller passes is thus never called. Inputs a block only
reads go through :func:`read_only`, so that one version of the block serves
writable and read-only arrays alike.
"""

import zlib

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic

from ..options import JIT_KWARGS


class NativeEntryMissing(LookupError):
    """Raised by a compiled caller whose entries table holds no version for its argument types."""


def signature_check(argument_types):
    """A checksum of Numba argument types, the same in every process and never 0."""
    return zlib.crc32(", ".join(str(t) for t in argument_types).encode()) | 1


@intrinsic
def argument_check(typingctx, arguments):
    """The :func:`signature_check` of the types of the ``arguments`` tuple, a compile-time constant (njit only)."""
    if not isinstance(arguments, types.BaseTuple):
        return None

    def codegen(context, builder, signature, args):
        return context.get_constant(types.int64, signature_check(signature.args[0].types))

    return types.int64(arguments), codegen


@intrinsic
def call_native(typingctx, address, arguments):
    """Call the compiled function at ``address`` with the ``arguments`` tuple (njit only).

    The callee must return nothing; an exception it raises propagates.
    """
    if not isinstance(address, types.Integer) or not isinstance(arguments, types.BaseTuple):
        return None

    def codegen(context, builder, signature, args):
        argument_types = list(signature.args[1].types)
        values = [builder.extract_value(args[1], i) for i in range(len(argument_types))]
        function_type = context.call_conv.get_function_type(types.none, argument_types)
        pointer = builder.inttoptr(args[0], function_type.as_pointer())
        status, _ = context.call_conv.call_function(builder, pointer, types.none, argument_types, values)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return context.get_dummy_value()

    return types.none(address, arguments), codegen


@intrinsic
def read_only(typingctx, array):
    """``array`` typed as read-only (njit only): the same array, for a callee that only reads it.

    An entry point passes its inputs to a block this way, so that a block compiled once serves a writable
    array and a read-only one alike (numpy's read-only zeros stand in for an omitted initial state or mask):
    the types differ only in Numba's typing, not in the native arguments.
    """
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        return impl_ret_borrowed(context, builder, signature.return_type, args[0])

    return array.copy(readonly=True)(array), codegen


@njit(inline="always", **JIT_KWARGS)
def find_entry(table, check):
    """The address in ``table`` compiled for the types whose checksum is ``check``, or 0."""
    for row in range(table.shape[0]):
        if table[row, 0] == check:
            return table[row, 1]
    return 0


class NativeEntries:
    """The compiled versions of one ``@njit`` function, as the table its compiled callers look up.

    Parameters
    ----------
    function : numba dispatcher
        Compiled without a fixed signature; returns nothing.

    Attributes
    ----------
    table : int64 array (versions, 2)
        ``(check, address)`` of each version added; pass it to the callers.
    """

    def __init__(self, function):
        self.function = function
        self.table = np.zeros((0, 2), np.int64)

    def add(self, argument_types):
        """Compile the function for a tuple of Numba types (or load it from Numba's cache) and add it."""
        argument_types = tuple(argument_types)
        self.function.compile(argument_types)
        result = self.function.overloads[argument_types]
        address = result.library.get_pointer_to_function(result.fndesc.llvm_func_name)
        row = np.array([[signature_check(argument_types), address]], np.int64)
        self.table = np.concatenate([self.table, row])


def call_with_entries(caller, entries, argument_types, *arguments):
    """``caller(entries.table, *arguments)``; the first time it finds no version for its arguments, add the one
    for ``argument_types()`` (a tuple of Numba types) and call again."""
    try:
        return caller(entries.table, *arguments)
    except NativeEntryMissing:
        entries.add(argument_types())
        return caller(entries.table, *arguments)

