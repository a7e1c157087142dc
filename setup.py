"""Package discovery, which pyproject.toml cannot express: ``kernels/`` lives at the top of the repository
but installs as ``numlstm.kernels``, so that nothing but ``numlstm`` lands in site-packages. Every folder
under ``numlstm/`` and ``kernels/`` is found here (``numlstm/datasets/data`` too, as a package of data
files), none listed by hand; everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

KERNELS = "kernels"
NOT_PACKAGES = ["*__pycache__*"]

packages = find_namespace_packages(include=["numlstm", "numlstm.*"], exclude=NOT_PACKAGES)
packages += [f"numlstm.{name}" for name in find_namespace_packages(include=[KERNELS, f"{KERNELS}.*"],
                                                                   exclude=NOT_PACKAGES)]

setup(packages=packages, package_dir={"numlstm": "numlstm", "numlstm.kernels": KERNELS})
