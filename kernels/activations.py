"""Gate activations: tanh and sigmoid that vectorise and never overflow.

Numba lowers ``math.tanh``/``math.exp`` to scalar libm calls, which stop LLVM
from vectorising the gate loop. For float32 we use the clamped rational
approximation of tanh that Eigen and XLA use (odd degree-13 numerator over an
even degree-6 denominator), evaluated in float32 as they do: within 2.7e-7
of the true tanh over the whole real line where the CPU has FMA, 3.9e-7
without (under 7 float32 ulps of 1), and twice as fast as the same formula
evaluated in float64 and rounded once (within 6e-8, but 0.72 against 0.31 ns
an element on a Zen 3, AVX2), which the gate loops of every step paid for. The clamp sits at Eigen's 7.90531, the end of
the range the coefficients were fitted on, so no input, however large,
overflows.

float64 kernels are the precision path (gradient checks, reference runs): the
scalar ones use libm's tanh (within an ulp); the CPU's SIMD gate kernels
(``cpu/gate_vectors.py``) evaluate Cephes' tanh (S. L. Moshier's rational
approximation below 0.625, ``(e^2x - 1) / (e^2x + 1)`` with his exp above) on
whole registers, within 3 ulps of libm's. Either way the derivatives computed
from the stored activations match finite differences to 1e-10.

sigmoid(x) = 0.5 * tanh(x / 2) + 0.5 inherits both properties.
"""

import math

import numpy as np
from numba import types
from numba.extending import overload

from .disk_cache import njit
from .options import CALLEE_JIT_KWARGS, JIT_KWARGS

#: Where the float32 tanh saturates: Eigen's clamp, the end of the range its coefficients were fitted on.
TANH_CLAMP = 7.90531110763549805
#: Coefficients of x, x**3, ..., x**13 in the numerator of the float32 rational tanh.
TANH_NUMERATOR = (
    4.89352455891786e-03,
    6.37261928875436e-04,
    1.48572235717979e-05,
    5.12229709037114e-08,
    -8.60467152213735e-11,
    2.00018790482477e-13,
    -2.76076847742355e-16,
)
#: Coefficients of 1, x**2, x**4, x**6 in its denominator.
TANH_DENOMINATOR = (
    4.89352518554385e-03,
    2.26843463243900e-03,
    1.18534705686654e-04,
    1.19825839466702e-06,
)
#: Where the float64 tanh switches from its rational approximation to exponentials (Cephes' tanh).
TANH64_RATIONAL_BELOW = 0.625
#: Coefficients of z**2, z, 1 (z = x**2) in the numerator P(z) of the float64 tanh x + x z P(z) / Q(z).
TANH64_NUMERATOR = (-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3)
#: Coefficients of z**2, z, 1 in its monic cubic denominator Q(z) (z**3 + ...).
TANH64_DENOMINATOR = (1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3)
#: Where the float64 tanh's 2|x| is clamped before its exponential: tanh(20) rounds to 1.
TANH64_EXP_LIMIT = 40.0
#: Cephes' exp: e^r = 1 + 2 r P(r**2) / (Q(r**2) - r P(r**2)) for |r| <= ln(2) / 2; coefficients of r**4, r**2, 1.
EXP64_NUMERATOR = (1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1)
#: Coefficients of r**6, r**4, r**2, 1 in its denominator.
EXP64_DENOMINATOR = (3.00198505138664455042e-6, 2.52448340349684104192e-3, 2.27265548208155028766e-1,
                     2.00000000000000000009e0)
#: ln(2) in two parts, the first exact in few bits, so that n ln(2) is subtracted without rounding.
LN2_HIGH, LN2_LOW = 6.93145751953125e-1, 1.42860682030941723212e-6

# float32 constants: a Python float would promote the whole evaluation to float64.
_A1, _A3, _A5, _A7, _A9, _A11, _A13 = (np.float32(a) for a in TANH_NUMERATOR)
_B0, _B2, _B4, _B6 = (np.float32(b) for b in TANH_DENOMINATOR)
_CLAMP32, _HALF32 = np.float32(TANH_CLAMP), np.float32(0.5)


@njit(**CALLEE_JIT_KWARGS)
def rational_tanh(x):
    """Branch-free float32 rational tanh, absolute error < 4e-7."""
    x = min(max(x, -_CLAMP32), _CLAMP32)
    x2 = x * x
    p = _A13
    p = p * x2 + _A11
    p = p * x2 + _A9
    p = p * x2 + _A7
    p = p * x2 + _A5
    p = p * x2 + _A3
    p = p * x2 + _A1
    q = _B6
    q = q * x2 + _B4
    q = q * x2 + _B2
    q = q * x2 + _B0
    return x * p / q


def tanh(x):
    """tanh of a float32 or float64 scalar, in the same type (njit only)."""
    raise NotImplementedError("numlstm.kernels.activations.tanh runs inside njit code only")


def sigmoid(x):
    """Logistic sigmoid of a float32 or float64 scalar, in the same type (njit only)."""
    raise NotImplementedError("numlstm.kernels.activations.sigmoid runs inside njit code only")


@overload(tanh, jit_options=CALLEE_JIT_KWARGS)
def _tanh_overload(x):
    if x == types.float32:
        return lambda x: rational_tanh(x)
    if x == types.float64:
        return lambda x: math.tanh(x)
    return None


@overload(sigmoid, jit_options=CALLEE_JIT_KWARGS)
def _sigmoid_overload(x):
    if x == types.float32:
        return lambda x: _HALF32 * rational_tanh(_HALF32 * x) + _HALF32
    if x == types.float64:
        return lambda x: 0.5 * math.tanh(0.5 * x) + 0.5
    return None


@njit(**JIT_KWARGS)
def tanh_array(x, out):
    """Elementwise tanh of a 1-D array into ``out`` (for tests and benchmarks)."""
    for i in range(x.shape[0]):
        out[i] = tanh(x[i])


@njit(**JIT_KWARGS)
def sigmoid_array(x, out):
    """Elementwise sigmoid of a 1-D array into ``out`` (for tests and benchmarks)."""
    for i in range(x.shape[0]):
        out[i] = sigmoid(x[i])
