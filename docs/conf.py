"""Sphinx configuration: numpydoc docstrings, Markdown pages (MyST), an API reference autosummary generates.

Build: ``python -m sphinx -W --keep-going -b html docs /tmp/numlstm-docs`` (warnings are errors), after
``pip install -e ".[docs]"``. The API pages (``api/generated/``) are written by autosummary at every build
from the docstrings and are not committed: they cannot go stale.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")  # nothing here imports Keras; harmless where something does

import numlstm  # noqa: E402

project = "numlstm"
author = "the numlstm authors"
copyright = "the numlstm authors, BSD-3-Clause"
release = numlstm.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# The API reference: autosummary writes one page per public module, class and function.
autosummary_generate = True
autosummary_imported_members = False   # a module's members: its __all__, else what it defines itself
autosummary_ignore_module_all = False  # ... and __all__ where it has one, as tests/test_docstrings.py walks
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"             # the numpydoc sections say the types
autodoc_inherit_docstrings = True

numpydoc_show_class_members = False    # the class template lists the members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3


html_theme = "pydata_sphinx_theme"
html_title = "numlstm"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []

# numlstm's top-level names that a public submodule also exports (``numlstm.Model`` is
# ``numlstm.models.Model``) get one page, in that submodule; the top-level page links to it.
PUBLIC_MODULES = ["layers", "models", "losses", "metrics", "callbacks", "optimizers", "initializers", "utils",
                  "preprocessing", "datasets", "streaming", "distributed", "interop", "config", "dispatch",
                  "threads", "plotting", "saving"]


def _public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [name for name, obj in vars(module).items()
                 if not name.startswith("_") and getattr(obj, "__module__", None) == module.__name__]
    return names


def _reexports():
    import importlib
    import inspect

    found = {}
    for name in numlstm.__all__:
        obj = getattr(numlstm, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        for module_name in PUBLIC_MODULES:
            module = importlib.import_module(f"numlstm.{module_name}")
            if name in _public_names(module) and getattr(module, name, None) is obj:
                found[name] = f"{module_name}.{name}"
                break
    return found


autosummary_context = {"reexports": _reexports()}

# Nitpicky: every cross-reference must resolve. Private bases (``_Merge``) and the bases of the model core
# in numlstm.models' own modules (``trainer.Trainer``, ``weight_buffer.WeightBuffer``: the public names are
# numlstm.models'), and the recurrent layers' shared bases (``Recurrent``, ``ConvLSTM``), appear in "Bases:" lines but have no pages of their own.
nitpicky = True
nitpick_ignore_regex = [
    ("py:class", r"numlstm\..*\._\w+"),
    ("py:class", r"numlstm\.models\.\w+\.\w+"),
    ("py:class", r"numlstm\.layers\.(recurrent\.Recurrent|conv_lstm\.ConvLSTM)"),
]


def _resolve_reexport(app, env, node, contnode):
    """``numlstm.Input`` and the other top-level names resolve to the page of the module that exports them."""
    target = node.get("reftarget", "")
    name = target.removeprefix("numlstm.")
    if node.get("refdomain") != "py" or not target.startswith("numlstm.") or name not in autosummary_context["reexports"]:
        return None
    canonical = "numlstm." + autosummary_context["reexports"][name]
    return env.get_domain("py").resolve_xref(env, node["refdoc"], app.builder, node["reftype"], canonical, node,
                                             contnode)


def setup(app):
    app.connect("missing-reference", _resolve_reexport)
