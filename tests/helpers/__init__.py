"""What the tests share: oracles, argument makers, finite-difference checks and stand-ins for GPU parts.

pyproject.toml puts ``tests/`` on sys.path (``pythonpath``), so test modules,
in tests/ and tests/gpu/ alike, import these as ``from helpers.cases import
random_lstm_args``. No test module imports another test module.

- ``reference``: the plain-numpy LSTM, forward and BPTT (the oracle).
- ``convlstm_reference``: the plain-numpy ConvLSTM1D/2D forward pass in Keras 3's layout (issue 25's oracle).
- ``cases``: random LSTM arguments, and checks of the kernels against the reference.
- ``finite_differences``: central differences for the kernels' and the layers' gradients.
- ``torch_cases``: torch.nn.LSTM runs and the golden files of tests/golden/
  (``python tests/helpers/torch_cases.py`` rewrites them).
- ``gpu``: the active GPU options, a forced time loop, and the models the GPU suites run.
- ``serialised_launch``, ``simulated_cublas``: stand-ins for the CUDA simulator.
- ``ptx``: compile_ptx and nvJitLink without a GPU (also used by asv_bench/tools/kernel_resources.py).
"""
