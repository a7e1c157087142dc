"""Calls from one compiled kernel to another through the callee's native address.

A Numba function that calls another links the callee's code into its own and
LLVM optimises it again there: a time-loop entry point that called the
per-block loop directly spent 1 s (serial) to 3.5 s (``parallel=True``: the
code is linked twice, into the gufunc and the function) re-optimising the
block's code, on top of the block's own compile. Called through its address,
the block's code is compiled once per process (and cached on disk apart from
its callers), and each entry point compiles in a fraction of a second.

A block is ``block(chunk, chunks, arguments)``: it does share ``chunk`` of
``chunks`` of a call's work, and ``arguments`` is an :class:`ArgumentsAddress`,
the address of the call's tuple of arguments, which the block reads with
:func:`load_arguments`. Every block thus has the same native signature, so
that one small ``parallel=True`` loop over the chunks runs any block on
Numba's threads, and no entry point needs a parallel twin (a ``parallel=True``
entry point cost 0.5-1 s more to compile than a serial one, each).

A block's compiled versions live in a :class:`NativeEntries` table, an int64
array of ``(check, address)`` rows that the entry point receives as an
ordinary argument; ``check`` is a checksum of the argument types a version
was compiled for. An entry point runs its blocks with :func:`run_blocks`,
which looks up the row whose check is that of the arguments it passes (a
constant of its compiled code). When there is none yet it raises
:class:`NativeEntryMissing` before doing any work; :func:`call_with_entries`
then compiles the version, adds it, and calls again. A version compiled for
other types than the caller passes is thus never called. Inputs a block only
reads go through :func:`read_only`, so that one version of the block serves
writable and read-only arrays alike.
"""

import zlib

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.core import cgutils
from numba.core.datamodel import models
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic, register_model

from ..disk_cache import njit
from ..options import CALLEE_JIT_KWARGS, JIT_KWARGS


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
    array and a read-only one (a user's memory-mapped data, ``np.broadcast_to``) alike: the types differ
    only in Numba's typing, not in the native arguments.
    """
    if not isinstance(array, types.Array):
        return None

    def codegen(context, builder, signature, args):
        return impl_ret_borrowed(context, builder, signature.return_type, args[0])

    return array.copy(readonly=True)(array), codegen


class ArgumentsAddress(types.Type):
    """The Numba type of a block's third argument: the address of a tuple of type ``arguments`` (an int64 to
    the machine, so that every block has the same native signature)."""

    def __init__(self, arguments):
        self.arguments = arguments
        super().__init__(name=f"ArgumentsAddress({arguments})")


@register_model(ArgumentsAddress)
class _ArgumentsAddressModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, ir.IntType(64))


@intrinsic
def arguments_address(typingctx, arguments):
    """A copy of the ``arguments`` tuple on the caller's stack, and its address as an int64 (njit only).

    Valid until the calling function returns: blocks called before then read it with :func:`load_arguments`.
    """
    if not isinstance(arguments, types.BaseTuple):
        return None

    def codegen(context, builder, signature, args):
        value = args[0]
        for i, item_type in enumerate(signature.args[0]):
            if isinstance(item_type, types.Array):
                array = context.make_array(item_type)(context, builder, value=builder.extract_value(value, i))
                array.meminfo = cgutils.get_null_value(array.meminfo.type)
                value = builder.insert_value(value, array._getvalue(), i)
        slot = cgutils.alloca_once(builder, value.type)
        builder.store(value, slot)
        return builder.ptrtoint(slot, ir.IntType(64))

    return types.int64(arguments), codegen


@intrinsic
def load_arguments(typingctx, address):
    """The tuple an :class:`ArgumentsAddress` points to (njit only; its arrays borrowed from the caller)."""
    if not isinstance(address, ArgumentsAddress):
        return None

    def codegen(context, builder, signature, args):
        tuple_type = signature.return_type
        pointer = builder.inttoptr(args[0], context.get_value_type(tuple_type).as_pointer())
        return impl_ret_borrowed(context, builder, tuple_type, builder.load(pointer))

    return address.arguments(address), codegen


@njit(inline="always", **JIT_KWARGS)
def find_entry(table, check):
    """The address in ``table`` compiled for the types whose checksum is ``check``, or 0."""
    for row in range(table.shape[0]):
        if table[row, 0] == check:
            return table[row, 1]
    return 0


# Linked into every entry point, not called through its address: called so, the parallel forward pass of a
# (16, 100, 8, 64) LSTM took 0.71 ms instead of 0.53 (cause not found); linked, it compiles in 0.3 s.
@njit(parallel=True, **CALLEE_JIT_KWARGS)
def _run_in_parallel(block, arguments, chunks):
    for chunk in prange(chunks):
        call_native(block, (np.int64(chunk), chunks, arguments))


@njit(inline="always", **JIT_KWARGS)
def run_blocks(table, arguments, chunks):
    """Run the block of ``table`` compiled for the types of the ``arguments`` tuple on each of ``chunks``
    shares: one share on the caller's thread, several on Numba's threads.

    Raises :class:`NativeEntryMissing` when ``table`` holds no version for these types, before any share runs.
    """
    block = find_entry(table, argument_check(arguments))
    if block == 0:
        raise NativeEntryMissing("the block is not compiled for these argument types yet")
    address = arguments_address(arguments)
    if chunks > 1:
        _run_in_parallel(block, address, np.int64(chunks))
    else:
        call_native(block, (np.int64(0), np.int64(1), address))


class NativeEntries:
    """The compiled versions of one block, as the table its entry points look up.

    Parameters
    ----------
    function : numba dispatcher
        ``function(chunk, chunks, arguments)``, compiled without a fixed signature; returns nothing.

    Attributes
    ----------
    table : int64 array (versions, 2)
        ``(check, address)`` of each version added; pass it to the entry points.
    """

    def __init__(self, function):
        self.function = function
        self.table = np.zeros((0, 2), np.int64)

    def add(self, argument_types):
        """Compile the block for arguments tuples of these Numba types (or load it from Numba's cache) and add
        it."""
        argument_types = tuple(argument_types)
        signature = (types.int64, types.int64, ArgumentsAddress(types.Tuple(argument_types)))
        self.function.compile(signature)
        result = self.function.overloads[signature]
        address = result.library.get_pointer_to_function(result.fndesc.llvm_func_name)
        row = np.array([[signature_check(argument_types), address]], np.int64)
        self.table = np.concatenate([self.table, row])


_threading_layer_started = False


def _start_threading_layer():
    """Start Numba's threading layer, once per process.

    Every entry point links the parallel loop (``_run_in_parallel``), whose code calls into the threading layer.
    A parallel function Numba loads from its cache starts the layer first, but an entry point compiled in a
    process that had loaded that loop from the cache is cached without the start. Loaded in a process that has
    not started the layer, its calls into the layer are not linked: its first call jumped to address 0 and
    crashed the process (a float32 pass, then float64 in a second process, then float64 in a third).
    """
    global _threading_layer_started
    numba.get_num_threads()  # starts the layer, as every public thread-count function does
    _threading_layer_started = True


def call_with_entries(caller, entries, argument_types, *arguments):
    """``caller(entries.table, *arguments)``; the first time it finds no version for its arguments, add the one
    for ``argument_types()`` (a tuple of Numba types) and call again."""
    if not _threading_layer_started:
        _start_threading_layer()
    try:
        return caller(entries.table, *arguments)
    except NativeEntryMissing:
        entries.add(argument_types())
        return caller(entries.table, *arguments)
