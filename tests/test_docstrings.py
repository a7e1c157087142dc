"""The public API's docstrings: numpydoc, their parameters matching the signatures, their examples running.

The walk: ``numlstm.__all__`` and the public submodules' ``__all__`` (or, for a module without one, the
classes and functions it defines itself). What it asks:

- every module, class and function has a docstring that starts with a one-line summary;
- a class's own docstring lists its constructor's arguments under ``Parameters`` (a NamedTuple's or a
  dataclass's fields may be under ``Attributes`` instead), a function's its arguments;
- every public method and property has a summary, its own or the one of the method it overrides (as
  ``help()`` shows it); methods a class inherits from a base the walk does not reach (``_Merge``,
  ``Trainer``) count as its own;
- a documented parameter exists in the signature.

Not required in a list: ``*args``/``**kwargs`` (their keys are the callee's), and a class's ``name`` and
``dtype``, which mean the same on every layer, loss and metric and are documented on ``Layer``.
"""

import dataclasses
import doctest
import importlib
import inspect
import re

import numpy as np
import pytest

import numlstm

# The public submodules walked besides numlstm.__all__ itself; None: all of their public names.
SUBMODULES = {name: None for name in (
    "layers", "models", "losses", "metrics", "callbacks", "optimizers", "initializers", "utils", "preprocessing",
    "datasets", "decoding", "forecasting", "streaming", "distributed", "interop", "config", "dispatch", "threads",
    "host_buffers", "plotting")}
SUBMODULES["saving"] = ("load_model", "save_model", "FileFormatError")

CLASS_ARGUMENTS_DOCUMENTED_ON_LAYER = {"name", "dtype"}

# Names (module.qualname) whose docstrings are still to be written or fixed, in files others were editing
# when this test was written. The lead empties this set; a name here that has become compliant fails the
# test, so that the set cannot go stale.
KNOWN_MISSING = set()

# Modules whose examples fail, likewise theirs to fix and the lead's to empty (a module here whose examples
# pass fails the test).
KNOWN_FAILING_EXAMPLES = set()

# Examples that need an optional dependency run only where it is installed.
NEEDS = {"numlstm.interop": "torch", "numlstm.plotting": "matplotlib"}

SECTION = re.compile(r"^(\w[\w ]*)\n-{3,}\s*$", re.MULTILINE)


def sections(doc):
    """{heading: body} of a cleaned docstring's numpydoc sections."""
    headings = list(SECTION.finditer(doc))
    return {m.group(1): doc[m.end():(headings[i + 1].start() if i + 1 < len(headings) else len(doc))]
            for i, m in enumerate(headings)}


def documented_names(body):
    """The names a Parameters-style section lists: its unindented lines, ``a, b : type`` giving a and b."""
    names = []
    for line in body.splitlines():
        if line.strip() and not line[0].isspace():
            names += [n.strip().lstrip("*") for n in line.split(" : ")[0].split(",")]
    return names


def parameter_problems(doc, signature, kind="function"):
    """What is wrong with how ``doc`` documents the parameters of ``signature`` (a list of strings).

    ``kind``: "function"; "class" (which need not list ``name`` and ``dtype``); or "record" (a NamedTuple or
    dataclass, which may list its fields under ``Attributes``).
    """
    parts = sections(doc)
    listed = documented_names(parts.get("Parameters", "") + parts.get("Other Parameters", ""))
    if kind == "record":
        listed += documented_names(parts.get("Attributes", ""))
    exempt = {"self"} | (CLASS_ARGUMENTS_DOCUMENTED_ON_LAYER if kind != "function" else set())
    real = {p.name for p in signature.parameters.values()}
    required = [p.name for p in signature.parameters.values()
                if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in exempt]
    problems = [f"documents {n!r}, which is not a parameter" for n in listed if n not in real]
    missing = [n for n in required if n not in listed]
    if missing and not {"Parameters", "Attributes"} & parts.keys():
        problems.append("no Parameters section")
    elif missing:
        problems.append(f"does not document {', '.join(missing)}")
    return problems


def summary_problems(doc):
    if not doc or not doc.strip():
        return ["no docstring"]
    lines = doc.splitlines()
    if not lines[0].strip():
        return ["the docstring does not start with a summary line"]
    if len(lines) > 1 and lines[1].strip():
        return ["the summary takes more than one line"]
    return []


def signature_of(obj):
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):  # a builtin's constructor, e.g. an exception's
        return inspect.Signature()


def public_objects():
    """{qualified name: object} of every public module, class and function the walk reaches."""
    found = {}

    def add(obj):
        if inspect.ismodule(obj):
            found.setdefault(obj.__name__, obj)
        elif inspect.isclass(obj) or inspect.isfunction(inspect.unwrap(obj)):  # unwrap: functools.cache's
            found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)

    for name in numlstm.__all__:
        add(getattr(numlstm, name))
    for module_name, names in SUBMODULES.items():
        module = importlib.import_module(f"numlstm.{module_name}")
        add(module)
        if names is None:
            names = getattr(module, "__all__", None)
        if names is None:
            names = [name for name, obj in vars(module).items() if not name.startswith("_")
                     and getattr(obj, "__module__", None) == module.__name__]
        for name in names:
            add(getattr(module, name))
    return found


def member_problems(cls, walked):
    """{qualified name: problems} of the public methods and properties ``cls`` defines or takes from a base
    that is not itself in ``walked``."""
    owners = [cls] + [base for base in cls.__mro__[1:]
                      if base not in walked and base.__module__.startswith("numlstm")]
    result = {}
    for owner in owners:
        for name, raw in vars(owner).items():
            if name.startswith("_") or not (inspect.isfunction(raw)
                                            or isinstance(raw, (property, classmethod, staticmethod))):
                continue
            member = getattr(cls, name)
            doc = inspect.getdoc(raw if isinstance(raw, property) else member)
            problems = summary_problems(doc)
            if not problems and not isinstance(raw, property):
                problems = [p for p in parameter_problems(doc, signature_of(member)) if "not a parameter" in p]
            result.setdefault(f"{owner.__module__}.{owner.__qualname__}.{name}", problems)
    return result


def all_problems():
    """{qualified name: problems} of everything walked, compliant names included (with no problems)."""
    objects = public_objects()
    walked = {obj for obj in objects.values() if inspect.isclass(obj)}
    result = {}
    for qualname, obj in objects.items():
        if inspect.ismodule(obj):
            result[qualname] = summary_problems(inspect.getdoc(obj))
        elif inspect.isclass(obj):
            doc = inspect.cleandoc(obj.__doc__) if obj.__doc__ else None  # its own, not a base class's
            problems = summary_problems(doc)
            if not problems:
                record = hasattr(obj, "_fields") or dataclasses.is_dataclass(obj)
                problems = parameter_problems(doc, signature_of(obj), "record" if record else "class")
            result[qualname] = problems
            result.update(member_problems(obj, walked))
        else:
            doc = inspect.getdoc(obj)
            result[qualname] = summary_problems(doc) or parameter_problems(doc, signature_of(obj))
    return result


def test_public_api_is_documented():
    problems = all_problems()
    message = [f"{name}: {'; '.join(p)}" for name, p in sorted(problems.items()) if p and name not in KNOWN_MISSING]
    message += [f"{name}: in KNOWN_MISSING but compliant (or no longer public): remove it"
                for name in sorted(KNOWN_MISSING) if not problems.get(name)]
    assert not message, "\n".join(["docstrings to fix:"] + message)


def test_the_walk_reaches_the_api():
    # A walk that found nothing would pass the test above.
    problems = all_problems()
    for name in ("numlstm.layers.lstm.LSTM", "numlstm.layers.recurrent.Recurrent.reset_state", "numlstm.losses.regression.Huber",
                 "numlstm.saving.load_model", "numlstm.functional.lstm_forward", "numlstm.models.model.Model",
                 "numlstm.models.trainer.Trainer.fit", "numlstm.preprocessing.scalers._Scaler.fit",
                 "numlstm.threads.available_cores", "numlstm.callbacks"):
        assert name in problems


def test_the_checks():
    doc = inspect.cleandoc("""Summary.

    Parameters
    ----------
    a, b : int
        Two.
    c
        Untyped.
    **kwargs : dict
    ghost : float

    Returns
    -------
    x : float
    """)
    assert documented_names(sections(doc)["Parameters"]) == ["a", "b", "c", "kwargs", "ghost"]

    def f(a, b, c, d, name=None, **kwargs):
        pass

    signature = inspect.signature(f)
    assert parameter_problems(doc, signature, "class") == ["documents 'ghost', which is not a parameter",
                                                           "does not document d"]
    assert parameter_problems(doc, signature)[1] == "does not document d, name"
    assert parameter_problems("Summary.", signature) == ["no Parameters section"]
    assert summary_problems("Two\nlines.") == ["the summary takes more than one line"]
    assert summary_problems(None) == ["no docstring"]


def example_modules():
    """The modules that define the walked objects, whose examples run."""
    return sorted({getattr(obj, "__module__", None) or obj.__name__ for obj in public_objects().values()})


@pytest.mark.parametrize("module_name", example_modules())
def test_examples_run(module_name):
    if module_name in NEEDS:
        pytest.importorskip(NEEDS[module_name])
    module = importlib.import_module(module_name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    # As numpy's examples take np as imported, these may take np and numlstm.
    for test in doctest.DocTestFinder().find(module, extraglobs={"np": np, "numlstm": numlstm}):
        runner.run(test)
    if module_name in KNOWN_FAILING_EXAMPLES:
        assert runner.failures, f"{module_name}'s examples pass now: remove it from KNOWN_FAILING_EXAMPLES"
    else:
        assert runner.failures == 0, f"{runner.failures} example(s) of {module_name} fail: see the captured output"
