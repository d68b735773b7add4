"""The production shape: docker-compose.yaml's topology, the image, the lock, and no secrets in the repo.

No container engine is needed: the compose file is parsed as compose would (anchors, merge keys,
${VAR} interpolation through scripts/compose_env.py, which `make e2e` also uses to start the same
services natively), and every Airflow command in it is parsed by Airflow 3's own CLI parser.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import REPO

COMPOSE_FILE = REPO / "docker-compose.yaml"
AIRFLOW_SERVICES = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
    "airflow-init": None,  # a bash script that runs `airflow db migrate`
}
LOCAL_SERVICES = {"sftp", "mailpit"}
DATA_ROOT = "/opt/airflow/roster-data"
SECRET_VARS = {
    "POSTGRES_PASSWORD": "pg-sentinel",
    "AIRFLOW_FERNET_KEY": "fernet-sentinel",
    "AIRFLOW_JWT_SECRET": "jwt-sentinel",
    "AIRFLOW_API_SECRET_KEY": "api-secret-sentinel",
}


def _e2e_scripts() -> str:
    """make e2e's script and the topology library it sources (make fleet's too)."""
    e2e = (REPO / "scripts" / "e2e.sh").read_text()
    assert "source scripts/topology.sh" in e2e
    return e2e + (REPO / "scripts" / "topology.sh").read_text()


def _load_helper():
    spec = importlib.util.spec_from_file_location("compose_env", REPO / "scripts" / "compose_env.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


compose_env = _load_helper()


@pytest.fixture(scope="module")
def compose() -> dict:
    return compose_env.load(COMPOSE_FILE)


# Only airflow-init needs it (it creates the FAB admin).
INIT_VARS = {"AIRFLOW_ADMIN_PASSWORD": "admin-sentinel"}
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def _env(compose: dict, service: str, **extra: str) -> dict[str, str]:
    return compose_env.service_environment(compose, service, {**SECRET_VARS, **INIT_VARS, **extra})


def _volume_targets(service: dict) -> dict[str, str]:
    """mount target -> source, for the short `source:target[:mode]` form."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        mounts[target] = source
    return mounts


# --------------------------------------------------------------------------------------- topology


def test_services_are_the_airflow_3_topology(compose: dict) -> None:
    services = set(compose["services"])
    assert {"postgres", "redis", *AIRFLOW_SERVICES, *LOCAL_SERVICES} <= services
    for name, command in AIRFLOW_SERVICES.items():
        if command is not None:
            assert compose_env.service_command(compose, name) == command, name
    init = " ".join(compose_env.service_command(compose, "airflow-init"))
    assert "airflow db migrate" in init
    # The districts' pools exist before the scheduler could queue a task in one, and only once checked.
    assert init.index("roster check-config") < init.index("roster pools")
    assert compose["services"]["airflow-init"]["entrypoint"] == "/bin/bash"
    # Every long-running Airflow service waits for a migrated database.
    for name in AIRFLOW_SERVICES.keys() - {"airflow-init"}:
        depends = compose["services"][name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
    # The local stand-ins never start in production unless asked for.
    for name in LOCAL_SERVICES:
        assert compose["services"][name]["profiles"] == ["local"], name


def test_every_airflow_service_runs_the_project_image_on_celery(compose: dict) -> None:
    images = {compose["services"][name]["image"] for name in AIRFLOW_SERVICES}
    assert len(images) == 1, images
    assert compose["services"]["airflow-init"]["build"] == "."
    port = compose["services"]["airflow-apiserver"]["ports"][0].split(":")[-1]
    for name in AIRFLOW_SERVICES:
        env = _env(compose, name)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis", name
        db = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert db.scheme == "postgresql+psycopg2" and db.hostname == "postgres", name
        assert db.password == SECRET_VARS["POSTGRES_PASSWORD"], name
        backend = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
        assert backend.scheme == "db+postgresql" and backend.hostname == "postgres", name
        # Tasks on the workers report to the api-server's Execution API.
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://airflow-apiserver:{port}/execution/", name
        # One JWT secret and one Fernet key for every component, from the environment.
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == SECRET_VARS["AIRFLOW_JWT_SECRET"], name
        assert env["AIRFLOW__CORE__FERNET_KEY"] == SECRET_VARS["AIRFLOW_FERNET_KEY"], name
        assert env["ROSTER_INCLUDE_DIR"] == "/opt/airflow/include", name


def test_roster_data_root_is_one_volume_on_every_airflow_service(compose: dict) -> None:
    assert "roster-data" in compose["volumes"]
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        assert _volume_targets(service).get(DATA_ROOT) == "roster-data", name
        assert _env(compose, name)["ROSTER_DATA_ROOT"] == DATA_ROOT, name
    # ... and it can point at object storage instead, from the environment.
    url = "s3://aws_default@roster-bucket/prod"
    assert _env(compose, "airflow-worker", ROSTER_DATA_ROOT=url)["ROSTER_DATA_ROOT"] == url


def test_secrets_have_no_defaults(compose: dict) -> None:
    """POSTGRES_PASSWORD, the Fernet key and the JWT secret must come from .env or the shell."""
    for missing in SECRET_VARS:
        env = {k: v for k, v in SECRET_VARS.items() if k != missing}
        with pytest.raises(compose_env.ComposeError, match=missing):
            compose_env.service_environment(compose, "airflow-worker", env)
    with pytest.raises(compose_env.ComposeError, match="POSTGRES_PASSWORD"):
        compose_env.service_environment(compose, "postgres", {})


def test_every_service_uses_the_fab_auth_manager(compose: dict) -> None:
    """FAB in every process (the api-server checks, the others agree); the dev-only simple one nowhere."""
    for name in AIRFLOW_SERVICES:
        env = _env(compose, name)
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER, name
        assert env["AIRFLOW__API__SECRET_KEY"] == SECRET_VARS["AIRFLOW_API_SECRET_KEY"], name
        assert not any("SIMPLE_AUTH" in key for key in env), name
    assert "SimpleAuthManager" not in COMPOSE_FILE.read_text()


def test_admin_password_reaches_airflow_init_only_and_never_argv(compose: dict) -> None:
    with pytest.raises(compose_env.ComposeError, match="AIRFLOW_ADMIN_PASSWORD"):
        compose_env.service_environment(compose, "airflow-init", SECRET_VARS)
    assert _env(compose, "airflow-init")["AIRFLOW_ADMIN_PASSWORD"] == INIT_VARS["AIRFLOW_ADMIN_PASSWORD"]
    for name in AIRFLOW_SERVICES.keys() - {"airflow-init"}:
        assert "AIRFLOW_ADMIN_PASSWORD" not in _env(compose, name), name
    init = compose_env.service_command(compose, "airflow-init")[-1]
    assert "PASSWORD" not in init and "users create" not in init
    # FAB's tables come with `airflow db migrate`; the admin and the role right after, before anything starts.
    assert init.index("airflow db migrate") < init.index("/opt/roster/scripts/fab_roles.py")
    assert (
        "COPY --chown=airflow:0 scripts/fab_roles.py /opt/roster/scripts/fab_roles.py"
        in (REPO / "Dockerfile").read_text()
    )
    e2e = _e2e_scripts()
    assert e2e.index('"$AIRFLOW" db migrate') < e2e.index('"$PY" scripts/fab_roles.py')
    assert "export AIRFLOW_ADMIN_PASSWORD" not in e2e  # not in every service's environment
    compose_env_sh = (REPO / "scripts" / "compose-env.sh").read_text()
    assert '"AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe' in compose_env_sh
    assert '"AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe' in compose_env_sh


def test_connections_come_from_the_environment(compose: dict) -> None:
    for name in AIRFLOW_SERVICES:
        raw = compose["services"][name]["environment"]
        conns = {key: value for key, value in raw.items() if key.startswith("AIRFLOW_CONN_")}
        assert {"AIRFLOW_CONN_RETHINK_SFTP", "AIRFLOW_CONN_SMTP_DEFAULT"} <= conns.keys(), name
        for key, value in conns.items():
            # A pure pass-through of the same variable: never a literal connection in the repo.
            assert value == "${" + key + ":-}", (name, key, value)
    sftp = {"conn_type": "sftp", "host": "sftp", "extra": {"host_key": "ssh-ed25519 AAAA"}}
    env = _env(compose, "airflow-worker", AIRFLOW_CONN_RETHINK_SFTP=json.dumps(sftp))
    assert json.loads(env["AIRFLOW_CONN_RETHINK_SFTP"]) == sftp
    assert _env(compose, "airflow-worker")["AIRFLOW_CONN_RETHINK_SFTP"] == ""


def test_local_sftp_pins_a_host_key_generated_outside_the_repo(compose: dict) -> None:
    sftp = _volume_targets(compose["services"]["sftp"])
    host_key = sftp["/etc/ssh/ssh_host_ed25519_key"]
    assert host_key.startswith("./var/compose/")  # var/ is git- and docker-ignored
    script = (REPO / "scripts" / "compose-env.sh").read_text()
    assert "ssh_host_ed25519_key" in script and "host_key" in script
    assert (REPO / "Makefile").read_text().count("compose-env") >= 2


# ----------------------------------------------------------------------------- commands and CLI


def test_every_airflow_command_parses_with_airflow_3_cli(compose: dict, tmp_path: Path) -> None:
    """The compose commands (and make e2e's worker flags) are valid for the installed Airflow."""
    commands = [compose_env.service_command(compose, name) for name, cmd in AIRFLOW_SERVICES.items() if cmd]
    commands += [
        ["db", "migrate"],
        ["celery", "worker", "--celery-hostname", "worker1@%h", "--concurrency", "1"],
        ["jobs", "check", "--job-type", "DagProcessorJob", "--hostname", "h"],
        ["jobs", "check", "--job-type", "TriggererJob", "--hostname", "h"],
    ]
    for name, job in (("airflow-dag-processor", "DagProcessorJob"), ("airflow-triggerer", "TriggererJob")):
        test = compose["services"][name]["healthcheck"]["test"]
        assert shlex.split(test[1].replace("$${HOSTNAME}", "h")) == [
            "airflow",
            "jobs",
            "check",
            "--job-type",
            job,
            "--hostname",
            "h",
        ]
    script = (
        "import json, sys\n"
        "from airflow.cli import cli_parser\n"
        "parser = cli_parser.get_parser()\n"
        "for words in json.loads(sys.argv[1]):\n"
        "    args = parser.parse_args(words)\n"
        "    assert callable(getattr(args, 'func', None)), words\n"
        "print('ok')\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(commands)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_e2e_starts_each_service_from_the_compose_file(compose: dict) -> None:
    """make e2e derives every Airflow process's environment and command from docker-compose.yaml."""
    e2e = _e2e_scripts()
    for name in AIRFLOW_SERVICES:
        assert name in e2e, name
    assert "compose_env.py env" in e2e and "compose_env.py command" in e2e
    assert "topology_workers 2" in e2e and '--celery-hostname "worker$n@%h"' in e2e
    maps = [("postgres:5432", "127.0.0.1:5999"), ("/opt/airflow/roster-data", "/srv/shared")]
    env = compose_env.apply_maps(_env(compose, "airflow-worker"), maps)
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@127.0.0.1:5999/airflow")
    assert env["ROSTER_DATA_ROOT"] == "/srv/shared"
    ci = (REPO / ".ci" / "run").read_text()
    assert ci.index("make test") < ci.index("make e2e")


def test_compose_interpolation_rules() -> None:
    interpolate = compose_env.interpolate
    assert interpolate("a${X:-d}b", {}) == "adb"
    assert interpolate("${X:-d}", {"X": ""}) == "d"
    assert interpolate("${X-d}", {"X": ""}) == ""
    assert interpolate("$$HOME ${X}", {"X": "1"}) == "$HOME 1"
    with pytest.raises(compose_env.ComposeError, match="X"):
        interpolate("${X:?need X}", {"X": ""})


# ------------------------------------------------------------------------------ image and lock


def _pins(lock: str = "requirements.txt") -> dict[str, str]:
    pins = {}
    for line in (REPO / lock).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_the_image_lock_holds_no_test_tooling_and_the_dev_lock_agrees_with_it() -> None:
    """The image installs requirements.txt alone: no test runner or loopback servers in production.
    The demo and the tests add requirements-dev.txt, pinned to the same versions where they share."""
    runtime, dev = _pins(), _pins("requirements-dev.txt")
    for tool in ("pytest", "hypothesis", "aiosmtpd"):
        assert tool not in runtime, tool
        assert tool in dev, tool
    shared = set(runtime) & set(dev)
    assert shared and {name: dev[name] for name in shared} == {name: runtime[name] for name in shared}


def test_dockerfile_builds_from_the_locked_airflow() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert len(froms) == 1
    m = re.fullmatch(r"apache/airflow:(?P<airflow>[0-9.]+)-python(?P<python>[0-9.]+)", froms[0])
    assert m, froms[0]
    assert m.group("airflow") == _pins()["apache-airflow"]
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f">={m.group('python')}" in requires
    assert "-r /opt/roster/requirements.txt" in dockerfile and "--no-deps -e /opt/roster" in dockerfile
    for folder in ("dags", "plugins", "include"):
        assert re.search(rf"^COPY .*\b{folder}/ /opt/airflow/{folder}/", dockerfile, re.MULTILINE), folder
    assert "ROSTER_INCLUDE_DIR=/opt/airflow/include" in dockerfile
    assert f"ROSTER_DATA_ROOT={DATA_ROOT}" in dockerfile


def test_lock_has_the_celery_stack() -> None:
    pins = _pins()
    for package in (
        "apache-airflow",
        "apache-airflow-providers-celery",
        "apache-airflow-providers-postgres",
        "celery",
        "redis",
        "psycopg2-binary",
        "asyncpg",
    ):
        assert package in pins, package
    assert pins["apache-airflow-core"] == pins["apache-airflow"]


def test_build_context_and_git_keep_data_and_secrets_out() -> None:
    dockerignore = (REPO / ".dockerignore").read_text().split()
    for pattern in (".venv/", "var/", ".env", ".git/"):
        assert pattern in dockerignore, pattern
    gitignore = (REPO / ".gitignore").read_text().split()
    assert ".env" in gitignore and any(p in gitignore for p in ("var/", "/var/"))


# A real PEM private key: the armour line followed by base64, not a mention of one in a test.
_PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\s*[A-Za-z0-9+/=]{40}")


def _repo_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [REPO / name for name in out.decode().split("\0") if name]


def test_no_private_keys_or_env_files_in_the_repository() -> None:
    offenders = []
    for path in _repo_files():
        if not path.is_file():
            continue
        if path.name == ".env" or path.name.startswith(".env."):
            offenders.append(f"{path}: compose .env file")
            continue
        try:
            text = path.read_text(errors="ignore")
        except OSError:
            continue
        if _PRIVATE_KEY.search(text):
            offenders.append(f"{path}: private key")
    assert not offenders, offenders


def test_devtools_stay_out_of_the_package_and_the_image() -> None:
    """The loopback servers and the sample generator are development tools: not installed, not copied."""
    assert "devtools/" in (REPO / ".dockerignore").read_text().split()
    copies = [line for line in (REPO / "Dockerfile").read_text().splitlines() if line.startswith("COPY")]
    assert copies and not any("devtools" in line or "bench" in line for line in copies)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == ["roster*"]


def test_make_up_prints_the_rosters_url_next_to_the_ui() -> None:
    echoed = [line for line in (REPO / "scripts" / "up.sh").read_text().splitlines() if line.startswith("echo ")]
    ui = next(i for i, line in enumerate(echoed) if "UI on http://localhost:8080" in line)
    assert "http://localhost:8080/rosters/" in echoed[ui + 1]
