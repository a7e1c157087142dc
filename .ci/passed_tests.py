"""A pytest plugin for CI: record the tests that passed in one run, and leave them out of a later one.

CI runs the suite twice on the same checkout: the README's command on a bare install, then with every
extra installed. The second run needs only what the first could not run (the tests that skipped for a
missing extra); a test that passed on the bare install would pass again. So the bare run writes the ids
of its passed tests (``--record-passed PATH``) and the full run deselects them (``--skip-passed PATH``),
which pytest reports as "deselected". A test that failed, erred or skipped in the first run is not
recorded and runs again. Load it with ``-p passed_tests`` and this folder on ``PYTHONPATH`` (PYTEST_ADDOPTS
reaches a command run as the README writes it).
"""

import functools
import pathlib


def pytest_addoption(parser):
    group = parser.getgroup("passed_tests", "CI: record passed tests, or deselect them")
    group.addoption("--record-passed", metavar="PATH", help="write the ids of the tests that pass here, a line each")
    group.addoption("--skip-passed", metavar="PATH", help="deselect the tests whose ids this file lists")


class _Recorder:
    """Collects each test whose every phase passed; writes the ids when the session ends (pytest-xdist sends
    every worker's reports to the controller, which alone writes)."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.passed, self.not_passed = set(), set()

    def pytest_runtest_logreport(self, report):
        if report.passed and report.when == "call":
            self.passed.add(report.nodeid)
        elif not report.passed:  # failed or skipped, in setup, call or teardown
            self.not_passed.add(report.nodeid)

    def pytest_sessionfinish(self, session):
        if hasattr(session.config, "workerinput"):
            return
        ids = sorted(self.passed - self.not_passed)
        self.path.write_text("".join(f"{nodeid}\n" for nodeid in ids))


def pytest_configure(config):
    record = config.getoption("record_passed")
    if record:
        config.pluginmanager.register(_Recorder(record), "passed_tests_recorder")


def _passed(config):
    """The ids ``--skip-passed`` lists, or None without it."""
    skip = config.getoption("skip_passed")
    return None if not skip else _listed_ids(skip)


@functools.cache
def _listed_ids(path):
    """The ids in the file ``path``, read once (the report header and the collection both ask)."""
    passed = frozenset(pathlib.Path(path).read_text().splitlines())
    if not passed:
        raise ValueError(f"--skip-passed {path}: the file lists no tests")
    return passed


def pytest_report_header(config):
    passed = _passed(config)
    if passed is not None:  # said here: under pytest-xdist the workers deselect, and the summary counts none
        return f"leaving out the {len(passed)} tests that passed in the run recorded in {config.getoption('skip_passed')}"
    return None


def pytest_collection_modifyitems(config, items):
    passed = _passed(config)
    if passed is None:
        return
    kept = [item for item in items if item.nodeid not in passed]
    deselected = [item for item in items if item.nodeid in passed]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
