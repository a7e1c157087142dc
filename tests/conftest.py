import os

import numpy as np
import pytest


def pytest_configure(config):
    """With NUMLSTM_REQUIRE_KERAS=1 (set in CI) a missing Keras oracle fails the run instead of skipping its
    parity tests: the ports and the differential suite must run there."""
    if os.environ.get("NUMLSTM_REQUIRE_KERAS") != "1":
        return
    os.environ.setdefault("KERAS_BACKEND", "jax")
    try:
        import keras
    except ImportError as exc:
        raise pytest.UsageError(f"NUMLSTM_REQUIRE_KERAS=1 but Keras cannot be imported ({exc}); "
                                'pip install -e ".[keras]"') from None
    if keras.backend.backend() != "jax":
        raise pytest.UsageError(f"NUMLSTM_REQUIRE_KERAS=1 but Keras runs on {keras.backend.backend()}, not jax")


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)
