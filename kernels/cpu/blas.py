"""The BLAS matrix product for the LSTM's large GEMMs, called straight from compiled code.

``np.dot(a, b, out)`` in Numba compiles a function of its own for every
combination of argument types, with its shape checks (which format their
error messages in compiled code): four such functions took 0.5-0.6 s of the
first training step of a small model. :func:`gemm` emits the same BLAS calls
as Numba's ``np.dot`` (through the same wrappers of SciPy's BLAS) into its
caller, and leaves the shapes to the caller, which owns them.
"""

import importlib
import importlib.machinery
import importlib.util
import os
import sys

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_C_INT_MAX = 2**31 - 1
_SCIPY_BLAS = "scipy.linalg.cython_blas"


def load_scipy_blas():
    """Load SciPy's ``cython_blas``, through which Numba's compiled code calls BLAS, without importing
    ``scipy.linalg``.

    Numba imports ``scipy.linalg.cython_blas`` by name (when it compiles a BLAS call, and at the first one a
    process runs), and Python imports the package ``scipy.linalg`` first: 0.22 s, a fifth of a warm start
    (``import numlstm`` and a first training step from the cache). The extension module alone loads in a few
    milliseconds; here it goes into ``sys.modules`` under its own name, where Numba, SciPy's other extensions
    and ``import`` statements find it. It is then not an attribute of ``scipy.linalg`` (``from scipy.linalg
    import cython_blas`` still works). Where ``scipy.linalg`` is imported already, or SciPy is laid out
    otherwise, the plain import.
    """
    if _SCIPY_BLAS in sys.modules:
        return
    if "scipy.linalg" in sys.modules:  # paid for already: the plain import sets the package's attribute too
        importlib.import_module(_SCIPY_BLAS)
        return
    try:
        scipy = importlib.util.find_spec("scipy")
        folder = os.path.join(scipy.submodule_search_locations[0], "linalg")
        paths = [os.path.join(folder, "cython_blas" + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES]
        path = next(path for path in paths if os.path.exists(path))
        loader = importlib.machinery.ExtensionFileLoader(_SCIPY_BLAS, path)
        module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(_SCIPY_BLAS, path,
                                                                                        loader=loader))
        sys.modules[_SCIPY_BLAS] = module
        loader.exec_module(module)
    except Exception:  # any layout or loading problem: the ordinary import below, which reports its own
        sys.modules.pop(_SCIPY_BLAS, None)
        importlib.import_module(_SCIPY_BLAS)


@intrinsic
def gemm(typingctx, a, b, out):
    """``out = a @ b`` for 2-D arrays of one float dtype (njit only); ``a`` and ``b`` C or F contiguous, ``out``
    C contiguous.

    The caller guarantees the shapes: ``a`` (m, k), ``b`` (k, n), ``out`` (m, n). Raises OverflowError when a
    size does not fit BLAS's C int. With k = 0 (or nothing to compute) ``out`` is zeroed; a product with one
    row or one column goes to gemv, and one of both to dot, as in Numba's ``np.dot``.
    """
    arrays = (a, b, out)
    if not all(isinstance(array, types.Array) and array.ndim == 2 for array in arrays):
        return None
    if a.dtype not in (types.float32, types.float64) or b.dtype != a.dtype or out.dtype != a.dtype:
        return None
    if a.layout not in "CF" or b.layout not in "CF" or out.layout != "C":
        return None

    def codegen(context, builder, signature, args):
        # Imported here, as Numba imports it: at import time it would import all of Numba's array functions.
        from numba.np.linalg import call_xxdot, call_xxgemm, call_xxgemv, ensure_blas

        load_scipy_blas()
        ensure_blas()
        a_type, b_type, out_type = signature.args
        a_array, b_array, out_array = (context.make_array(array_type)(context, builder, value)
                                       for array_type, value in zip(signature.args, args))
        a_shapes = cgutils.unpack_tuple(builder, a_array.shape)
        b_shapes = cgutils.unpack_tuple(builder, b_array.shape)
        m, k = a_shapes
        n = b_shapes[1]
        too_large = cgutils.false_bit
        for size in (m, k, n):
            too_large = builder.or_(too_large, builder.icmp_signed(">", size, size.type(_C_INT_MAX)))
        with builder.if_then(too_large, likely=False):
            context.call_conv.return_user_exc(builder, OverflowError, ("array size too large to fit in C int",))
        zero, one = context.get_constant(types.intp, 0), context.get_constant(types.intp, 1)
        empty = builder.or_(builder.icmp_signed("==", k, zero),
                            builder.or_(builder.icmp_signed("==", m, zero), builder.icmp_signed("==", n, zero)))
        with builder.if_else(empty, likely=False) as (nothing, products):
            with nothing:
                cgutils.memset(builder, out_array.data, builder.mul(out_array.itemsize, out_array.nitems), 0)
            with products:
                one_row, one_column = builder.icmp_signed("==", m, one), builder.icmp_signed("==", n, one)
                with builder.if_else(one_column) as (column, columns):
                    with column:
                        with builder.if_else(one_row) as (vectors, matrix_vector):
                            with vectors:
                                call_xxdot(context, builder, False, a_type.dtype, k, a_array.data, b_array.data,
                                           out_array.data)
                            with matrix_vector:
                                call_xxgemv(context, builder, a_type.layout == "C", a_type, a_shapes,
                                            a_array.data, b_array.data, out_array.data)
                    with columns:
                        with builder.if_else(one_row) as (vector_matrix, matrices):
                            with vector_matrix:
                                call_xxgemv(context, builder, b_type.layout != "C", b_type, b_shapes,
                                            b_array.data, a_array.data, out_array.data)
                            with matrices:
                                call_xxgemm(context, builder, a_type, a_shapes, a_array.data, b_type, b_shapes,
                                            b_array.data, out_type, cgutils.unpack_tuple(builder, out_array.shape),
                                            out_array.data)
        return context.get_dummy_value()

    return types.none(a, b, out), codegen
