"""Say so when ``fit`` stops to compile kernels: a pause of seconds with no output looks like a hang.

``fit`` says before its first step that the LSTM kernels compile when none
are compiled or cached yet (``Trainer._say_if_compiling``). Later steps can
compile more: the multi-threaded entry points the first time a batch holds
several rows, a second dtype, another layer variant; each a few seconds on
two cores. :class:`CompileNotice` listens to Numba's compile events while
``fit`` runs and prints one line when a compile of numlstm's kernels has run
for :data:`NOTICE_AFTER_SECONDS` (a load from Numba's cache is over well
before that, so a warm run prints nothing).

The calls outside ``fit`` (``model(x)``, ``predict``, ``evaluate``,
``train_on_batch``, ``test_on_batch``, ``compute_gradients``) have no
``verbose`` that could say so; :func:`announces_compiles` makes each of them
listen the same way, on stderr, until one such call in the process runs
without compiling any of numlstm's kernels. From then on it costs them an
attribute read.
"""

import functools
import sys
import threading

from numba.core import event

# Seconds a compile runs before the notice appears: loads from Numba's cache take tens of milliseconds.
NOTICE_AFTER_SECONDS = 1.0

# Which kernels a compiling function belongs to, by its module (the first match names them).
_KERNEL_FAMILIES = (("numlstm.kernels.cpu.convlstm", "ConvLSTM"), ("numlstm.kernels.cpu.ctc", "CTC"),
                    ("numlstm.kernels.cpu", "LSTM"), ("numlstm.", "numlstm"))


def kernel_family(dispatcher):
    """The kernels a Numba dispatcher compiles (``"LSTM"``, ``"ConvLSTM"``, ...), or None outside numlstm."""
    module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
    for prefix, family in _KERNEL_FAMILIES:
        if module.startswith(prefix):
            return family
    return None


class CompileNotice(event.Listener):
    """A context manager: within it, one line on stdout the first time a compile of numlstm's kernels runs longer
    than ``after`` seconds.

    Parameters
    ----------
    after : float
        Seconds a compile runs before the line is printed.
    enabled : bool
        False: listen to nothing (``verbose=0``, or the first step's compile already announced).

    Examples
    --------
    >>> with CompileNotice():
    ...     pass  # compiles inside are announced once, if slow
    """

    def __init__(self, after=NOTICE_AFTER_SECONDS, enabled=True, file=None):
        self.after, self.enabled, self.file = after, enabled, file
        self._depth = 0
        self._timer = None
        self._said = False
        #: Whether a compile of numlstm's kernels (or a load of one from the cache) began inside.
        self.compiled = False

    def __enter__(self):
        global _listening
        if self.enabled:
            event.register("numba:compile", self)
            _listening += 1
        return self

    def __exit__(self, *exc_info):
        global _listening
        if self.enabled:
            event.unregister("numba:compile", self)
            _listening -= 1
            self._cancel()
        return False

    def on_start(self, ev):
        self._depth += 1
        family = kernel_family(ev.data.get("dispatcher"))
        self.compiled = self.compiled or family is not None
        if self._depth == 1 and family is not None and not self._said and self._timer is None:
            self._timer = threading.Timer(self.after, self._say, args=(family,))
            self._timer.daemon = True
            self._timer.start()

    def on_end(self, ev):
        self._depth -= 1
        if self._depth == 0:
            self._cancel()

    def _cancel(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _say(self, family):
        self._said = True
        line = (f"numlstm: compiling the {family} kernels this call needs for this machine (a first run, a new "
                "batch layout, dtype or layer variant: seconds, once; later runs load them from Numba's cache)")
        bars = sys.modules.get("tqdm.auto")  # loaded by fit for its progress bar: then a bar may be on screen
        if bars is not None:
            bars.tqdm.write(line, file=self.file or sys.stdout)  # clears the bar and draws it again below
        else:  # nothing to redraw, and no import from this timer thread
            print(line, file=self.file or sys.stdout, flush=True)


_listening = 0  # how many CompileNotice blocks are open (fit's, or a model call's)
_model_calls_settled = False  # True once a model call ran without compiling: later calls skip the notice


def announces_compiles(method):
    """Decorator for a model call outside ``fit``: until one such call in this process runs without compiling
    numlstm's kernels, the call announces a slow compile on stderr (:class:`CompileNotice`), unless a notice
    (``fit``'s) is listening already."""

    @functools.wraps(method)
    def run(*args, **kwargs):
        global _model_calls_settled
        if _model_calls_settled or _listening:
            return method(*args, **kwargs)
        notice = CompileNotice(after=NOTICE_AFTER_SECONDS, file=sys.stderr)
        with notice:
            result = method(*args, **kwargs)
        if not notice.compiled:
            _model_calls_settled = True
        return result

    return run
