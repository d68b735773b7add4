"""Shared test setup: an isolated Airflow home on SQLite, and real SFTP/SMTP servers on loopback.

Airflow reads its configuration when first imported, so the environment is set here, before any
test module imports it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
INCLUDE = REPO / "include"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="roster-test-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "ROSTER_RETRY_DELAY_SECONDS": "1",
        "ROSTER_TRANSFER_RETRIES": "1",
    }
)
os.environ.pop("ROSTER_INCLUDE_DIR", None)
os.environ.pop("ROSTER_DATA_ROOT", None)


def pytest_configure(config: pytest.Config) -> None:
    """No silent skips in CI (``skip_guard``: ``tests/allowed_skips.txt`` lists the allowed ones)."""
    from skip_guard import SkipGuard

    config.pluginmanager.register(SkipGuard.from_environment(), "roster-skip-guard")


def configure_district(include: Path, district_id: str = "sample_isd", **changes: object) -> None:
    """Edit a district file of an include copy; ``qa__max_reject_rate=0.01`` sets ``qa.max_reject_rate``."""
    import yaml

    path = include / "districts" / f"{district_id}.yaml"
    config = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        node = config
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(config))


def asset_events(run) -> list[dict]:
    """The extras of the asset events this run emitted, from Airflow's database."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        extras = session.scalars(
            select(AssetEvent.extra).where(
                AssetEvent.source_run_id == run.run_id, AssetEvent.source_dag_id == run.dag_id
            )
        ).all()
    return [dict(extra) for extra in extras]


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's own metadata database (SQLite), migrated once per test session."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return _AIRFLOW_HOME


@pytest.fixture
def include_copy(tmp_path: Path) -> Path:
    """A private copy of include/ that a test may edit."""
    target = tmp_path / "include"
    shutil.copytree(INCLUDE, target)
    return target


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A real SFTP server (sshd, or asyncssh where sshd is absent) and an SMTP sink, session-wide."""
    from devtools.servers import airflow_connection, airflow_smtp_connection, start_sftp, start_smtp

    base = tmp_path_factory.mktemp("servers")
    sftp = start_sftp(base / "sftp", base / "keys")
    smtp = start_smtp(base / "mail")
    try:
        yield {
            "sftp": sftp,
            "smtp": smtp,
            "sftp_conn": airflow_connection(sftp),
            "smtp_conn": airflow_smtp_connection(smtp),
        }
    finally:
        sftp.stop()
        smtp.stop()


@pytest.fixture(scope="session")
def read_only_sftp(servers: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A second SFTP server over the same folder that refuses every write with "permission denied"
    (``internal-sftp -R``, or its asyncssh twin): a folder the login may not write into, real on
    any machine, as root in a container too. ``conn`` is its Airflow connection."""
    from devtools.servers import airflow_connection, start_sftp

    main = servers["sftp"]
    server = start_sftp(main.root, tmp_path_factory.mktemp("read-only-keys"), main.backend, read_only=True)
    try:
        yield {"sftp": server, "conn": airflow_connection(server)}
    finally:
        server.stop()


@pytest.fixture
def night_env(servers: dict, airflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Connections to the real servers, a fresh data root, and empty server folders and mailbox."""
    sftp_root: Path = servers["sftp"].root
    for child in sftp_root.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
    for message in Path(servers["smtp"].maildir).glob("*.eml"):
        message.unlink()
    data_root = tmp_path / "data"
    monkeypatch.setenv("ROSTER_DATA_ROOT", str(data_root))
    monkeypatch.setenv("AIRFLOW_CONN_RETHINK_SFTP", json.dumps(servers["sftp_conn"]))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(servers["smtp_conn"]))
    return {"data_root": data_root, "sftp_root": sftp_root, "smtp": servers["smtp"], "sftp": servers["sftp"]}


#: The instant every test runs at (the sample night's day, 06:00 in Chicago), unless it is marked
#: ``real_clock``: a test that reads the clock for a date it asserts on gives the same answer on any
#: day CI runs it. Chosen outside the sample district's summer blackout.
PINNED_NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def pinned_clock(request: pytest.FixtureRequest) -> Iterator[object]:
    """Wall-clock time starts at ``PINNED_NOW`` and ticks on from there, so timeouts, servers and
    Airflow's token lifetimes still see time pass; ``time.monotonic`` (asyncio, waits) is untouched.
    ``@pytest.mark.real_clock("why")`` opts a test out, with its reason."""
    marker = request.node.get_closest_marker("real_clock")
    if marker is not None:
        if not (marker.args and str(marker.args[0]).strip()):
            pytest.fail(f"{request.node.nodeid}: @pytest.mark.real_clock needs a reason", pytrace=False)
        yield None
        return
    import time_machine

    with time_machine.travel(PINNED_NOW, tick=True) as traveller:
        yield traveller


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 API server on a free loopback port, with dummy credentials in the
    environment (``AWS_ENDPOINT_URL`` sends boto3 and s3fs there); yields the endpoint URL.

    ``s3://`` is attached to Airflow's object storage as an s3fs filesystem on that endpoint, as
    ``apache-airflow-providers-amazon[s3fs]`` would attach it in production (README: "Run artifacts
    on object storage"), so ``roster.io.store``'s ``ObjectStoragePath`` reaches it unchanged."""
    import logging

    import s3fs
    from airflow.sdk.io import attach
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "roster-test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "roster-test-secret")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="roster-test", secret="roster-test-secret")
        store = attach(protocol="s3", fs=fs)
        assert store.fs is fs, "s3:// was attached to another filesystem before this fixture"
        try:
            yield endpoint
        finally:
            server.stop()


@dataclasses.dataclass(frozen=True)
class ObjectStore:
    """A fresh, empty object-store data root: ``root`` for ``ROSTER_DATA_ROOT``, ``fs`` to look inside."""

    root: str
    fs: Any

    def path(self, key: str) -> str:
        """``key`` under the root, as ``fs`` names it (``/name/data/<key>``, ``bucket/data/<key>``)."""
        return f"{self.fs._strip_protocol(self.root)}/{key}"


@pytest.fixture(params=["memory", "s3"])
def object_store(request: pytest.FixtureRequest) -> Iterator[ObjectStore]:
    """An object-store data root on fsspec's in-process ``memory://`` and on a real S3 API (moto's
    server, ``s3_endpoint``), each test with its own root. Tasks reach it through ``ObjectStoragePath``:
    ``dag.test()`` runs every task in this process."""
    import uuid

    import fsspec
    from airflow.sdk.io import attach

    name = f"roster-test-{uuid.uuid4().hex[:12]}"
    if request.param == "memory":
        fs = fsspec.filesystem("memory")
        attach(protocol="memory", fs=fs)
    else:
        request.getfixturevalue("s3_endpoint")
        fs = attach(protocol="s3").fs
        fs.mkdir(name)  # the bucket
    store = ObjectStore(root=f"{request.param}://{name}/data", fs=fs)
    try:
        yield store
    finally:
        top = fs._strip_protocol(f"{request.param}://{name}")
        if fs.exists(top):
            fs.rm(top, recursive=True)
