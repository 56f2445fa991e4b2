"""Shared fixtures and the markers every test gets from where it lives.

Markers: ``pytest_collection_modifyitems`` marks tests by directory and by the fixtures they use
(``PATH_MARKERS``, ``FIXTURE_MARKERS``), so nobody has to remember a decorator: ``e2e`` (whole-system
tests on real chains and processes), ``browser`` (headless Chromium), ``slow`` (the py_ecc reference
BLS backend and other long runs). ``make test-fast`` deselects all three; ``make test`` runs everything.

Parallel runs (pytest-xdist, ``make test`` and ``make test-fast`` use ``-n <cores>``): ``FileScheduling``
sends every test file to one worker (its tests run there in order, its module-scoped chains and devnets
are set up once) unless ``SPLIT_FILES`` lists it, and hands out the ``LONG_FILES`` first.
Each worker is its own pytest session, so session fixtures (the anvil + deployment, ``db_engine``'s
schema) exist once per worker; ports are always picked free and temp dirs come from ``tmp_path``.

Database: tests that need one use ``db_engine``. With ``EXORELAY_TEST_DATABASE_URL`` set (CI sets
the local PostgreSQL) they run there, each session in its own throw-away schema; otherwise they fall
back to a SQLite file and say so loudly in the header and the summary. CI additionally sets
``EXORELAY_TEST_REQUIRE_POSTGRES=1`` so a broken PostgreSQL fails the run instead of falling back.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

from tests.support.database import DATABASE_URL_ENV, REQUIRE_POSTGRES_ENV

TESTS_ROOT = Path(__file__).resolve().parent
PATH_MARKERS: tuple[tuple[str, str], ...] = (
    ("e2e/", "e2e"),  # whole system: devnet + anvil + `exorelay run` processes, minutes each
    ("indexer/api/explorer/test_explorer_browser.py", "browser"),
    ("relayer/pipeline/", "slow"),  # a fresh devnet + anvil + relayer per test (~10 s each)
    ("devnet/test_devnet_cli.py", "slow"),  # starts, stops and resumes the devnet daemon and anvil
    ("devnet/test_client_chain_fees.py", "slow"),  # a devnet stack on two anvils
    ("avs/aggregator/test_crash_recovery.py", "slow"),  # three `exorelay aggregator` processes
    ("protocol/test_bls_properties.py", "slow"),  # the py_ecc reference backend against the fast one
    ("protocol/test_merkle.py::test_matches_openzeppelin_merkle_tree", "slow"),  # node, 1025 leaves
    # Tests that start `exorelay` processes, servers or floods (~5-40 s each on a busy machine):
    # what the fast lane leaves out, `make test` runs.
    ("avs/operator/test_cli.py::test_run_", "slow"),
    ("avs/operator/test_protection.py::test_concurrent_processes_sign_exactly_one_digest_per_slot", "slow"),
    ("avs/aggregator/test_aggregator.py::test_a_flood_of_garbage_is_refused", "slow"),
    ("avs/aggregator/test_cli.py::test_serving_without_an_account_keystore_exits_2", "slow"),
    ("relayer/l1/test_txmanager.py::test_sigkill_mid_flight_then_restart", "slow"),
    ("indexer/test_api_settings.py::test_exorelay_api_uses_the_configured_workers_and_readiness", "slow"),
    ("indexer/test_cli.py::test_api_command_serves_health_and_openapi", "slow"),
    ("relayer/test_recursion_limit.py::test_deeply_nested_json_raises_instead_of_crashing", "slow"),
    # py_ecc next to the fast backend on every example
    ("protocol/test_signature_batch.py::test_backends_give_identical_verdicts_and_counts", "slow"),
    # a devnet and an `exorelay aggregator` process for one `open` through the CLI
    ("avs/aggregator/test_cli.py::test_open_with_evidence_over_exocores_limit", "slow"),
)
"""(node id prefix relative to tests/, marker): every test collected under the prefix gets the marker."""
FIXTURE_MARKERS: tuple[tuple[str, str], ...] = (("browser", "browser"),)
"""(fixture name, marker): a test that uses the fixture gets the marker wherever it lives."""
SLOW_PARAMETERS: frozenset[str] = frozenset({"reference", "py_ecc"})
"""A test parametrized with one of these values (the py_ecc BLS backend, ~1000x slower) is slow."""

SPLIT_FILES: frozenset[str] = frozenset(
    {
        "storage/test_migrations.py",  # every test migrates a database of its own
    }
)
"""Test files (relative to tests/) whose tests pytest-xdist may spread over workers: long files of
independent tests without module-scoped processes. Every other file runs in one worker, so its
module-scoped chains, devnets and servers are set up once and its tests never run concurrently."""

LONG_FILES: tuple[str, ...] = (
    "indexer/test_api_schemathesis.py",
    "contracts/test_payout_invariants.py",
    "protocol/test_signature_batch.py",
    "indexer/test_exocore_feed.py",
    "contracts/test_bls_onchain.py",
    "indexer/test_api_collections.py",
    "indexer/test_l1_ingest.py",
    "relayer/l1/test_txmanager.py",
    "test_structure.py",
    "relayer/exocore/test_rpc.py",
    "relayer/test_health.py",
    "protocol/test_bls_vectors.py",
    "indexer/test_api_hot_property.py",
    "indexer/api/explorer/test_pages.py",
    "relayer/test_cli_packaging.py",
)
"""Test files (relative to tests/) that took longest in the fast lane (``make test-fast
FAST_ARGS=--durations=0``), longest first. ``FileScheduling`` hands them out before every other
file, so that none of them starts last and leaves one worker running alone at the end; the rest keep
pytest-xdist's order (files with more tests first, then the ``SPLIT_FILES`` tests one by one, which
fill the gaps). A stale or missing entry only costs balance, never a test."""

pytest_plugins = ("tests.support.l1_fixtures", "tests.support.store_fixtures")
"""One anvil + contract deployment per session, shared by every directory that needs L1 contracts."""


def _configured_url() -> str | None:
    return os.environ.get(DATABASE_URL_ENV) or None


def _backend_notice() -> str:
    url = _configured_url()
    if url is None:
        return (
            f"database: SQLite (fallback; set {DATABASE_URL_ENV}=postgresql+psycopg://... "
            "to run the database tests on PostgreSQL)"
        )
    return f"database: {url.split('://', 1)[0]} ({DATABASE_URL_ENV})"


def pytest_report_header(config: pytest.Config) -> str:
    return _backend_notice()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(_backend_notice(), yellow=_configured_url() is None)


@pytest.fixture(scope="session")
def db_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = _configured_url()
    if url is None:
        if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
            pytest.fail(f"{REQUIRE_POSTGRES_ENV}=1 but {DATABASE_URL_ENV} is not set")
        path: Path = tmp_path_factory.mktemp("db") / "exorelay-test.sqlite"
        engine = create_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    schema = f"exorelay_test_{secrets.token_hex(6)}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        pytest.fail(f"cannot use {DATABASE_URL_ENV}={url}: {exc}")
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


class FileScheduling(LoadScopeScheduling):  # type: ignore[misc]  # pytest-xdist ships no types
    """pytest-xdist scheduling by test file (like ``--dist loadfile``), except that the tests of a
    ``SPLIT_FILES`` file are scheduled one by one. (``--dist loadgroup`` cannot do this on pytest 9:
    the node id suffix it relies on is ignored, so its groups silently fall apart.)"""

    _long_first = False

    def _split_scope(self, nodeid: str) -> str:
        path = nodeid.split("::", 1)[0]
        return nodeid if path.removeprefix(f"{TESTS_ROOT.name}/") in SPLIT_FILES else path

    def _assign_work_unit(self, node: object) -> None:
        # The work queue is complete before the first unit is handed out: order it once, LONG_FILES
        # first (a stable sort keeps pytest-xdist's order among the rest).
        if not self._long_first:
            self._long_first = True
            for scope in sorted(self.workqueue, key=_long_file_rank):
                self.workqueue.move_to_end(scope)
        super()._assign_work_unit(node)


def _long_file_rank(scope: str) -> int:
    relative = scope.removeprefix(f"{TESTS_ROOT.name}/")
    return LONG_FILES.index(relative) if relative in LONG_FILES else len(LONG_FILES)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> FileScheduling:
    return FileScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            relative = item.path.resolve().relative_to(TESTS_ROOT).as_posix()
        except ValueError:
            continue
        node = relative + item.nodeid.partition("::")[1] + item.nodeid.partition("::")[2]
        for prefix, marker in PATH_MARKERS:
            if node.startswith(prefix):
                item.add_marker(marker)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and any(
            isinstance(value, str) and value in SLOW_PARAMETERS for value in callspec.params.values()
        ):
            item.add_marker("slow")
        fixtures = getattr(item, "fixturenames", ())
        for fixture, marker in FIXTURE_MARKERS:
            if fixture in fixtures:
                item.add_marker(marker)
