"""docker-compose.yml is validated (no Docker engine here): the services, health checks,
volume, auth from the env file, the scheduler waiting for a healthy mongo."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.helpers import REPO


def test_compose_file_has_the_three_services():
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = data["services"]
    assert set(services) == {"mongo", "scheduler", "mongo-express", "prometheus", "scrapyd"}
    mongo = services["mongo"]
    assert mongo["image"].startswith("mongo:") and "--replSet" in mongo["command"]
    assert "healthcheck" in mongo and any(
        "rs.initiate" in part for part in mongo["healthcheck"]["test"]
    )
    assert any(v.startswith("mongo-data:") for v in mongo["volumes"])
    assert "MONGO_INITDB_ROOT_PASSWORD" in mongo["environment"]
    scheduler = services["scheduler"]
    assert scheduler["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert "scheduler.py" in scheduler["command"]
    # monitoring: the scheduler serves metrics and health; Prometheus scrapes it on request
    assert "--metrics-port" in scheduler["command"] and "healthz" in str(scheduler["healthcheck"])
    prometheus = services["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    scrape = yaml.safe_load((REPO / "config" / "prometheus.yml").read_text())
    port = scheduler["command"][scheduler["command"].index("--metrics-port") + 1]
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == [f"scheduler:{port}"]


def test_compose_runs_crawls_on_scalable_scrapyd_nodes_when_asked():
    import configparser

    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    scrapyd, command = services["scrapyd"], services["scheduler"]["command"]
    assert scrapyd["profiles"] == ["scrapyd"] and scrapyd["command"][-1].endswith("exec scrapyd")
    assert "ports" not in scrapyd and "container_name" not in scrapyd  # --scale needs both off
    assert "MONGODB_URI" in scrapyd["environment"]
    # the scheduler dispatches to every replica of the service when NEWSCRAWL_DISPATCHER=scrapyd
    assert command[command.index("--dispatcher") + 1] == "${NEWSCRAWL_DISPATCHER:-local}"
    assert "--scrapyd-discover" in command
    node = command[command.index("--scrapyd-node") + 1]
    conf = configparser.ConfigParser()
    conf.read(REPO / "config" / "scrapyd.conf")
    assert node == f"http://scrapyd:{conf['scrapyd']['http_port']}"
    assert conf["settings"]["newscrawl"] == "crawler.settings"  # runs without an egg too
    assert conf["scrapyd"]["runner"] == "crawler.run.scrapyd_runner"  # installed package, checks


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_scrapyd_nodes_ask_for_credentials_and_listen_only_inside():
    data = _compose()
    services = data["services"]
    scrapyd = services["scrapyd"]
    for name in ("scrapyd", "scheduler"):  # Scrapyd and the dispatcher read the same two
        env = services[name]["environment"]
        assert env["SCRAPYD_USERNAME"] == "${SCRAPYD_USERNAME:-}", name
        assert env["SCRAPYD_PASSWORD"] == "${SCRAPYD_PASSWORD:-}", name
    assert "SCRAPYD_PASSWORD" in str(scrapyd["healthcheck"])  # the health check logs in too
    # no published port; only the internal backend network and the way out to the sites
    assert "ports" not in scrapyd and set(scrapyd["networks"]) == {"backend", "egress"}
    assert data["networks"]["backend"]["internal"] is True
    for name, service in services.items():
        if name not in ("mongo", "scheduler", "scrapyd"):
            assert "backend" not in service.get("networks", ["default"]), name
            assert "egress" not in service.get("networks", ["default"]), name
    assert scrapyd["environment"]["NEWSCRAWL_ALLOW_PRIVATE_ADDRESSES"].endswith(":-0}")


def test_a_node_without_credentials_refuses_to_start():
    script = _compose()["services"]["scrapyd"]["command"][-1].replace("$$", "$")
    result = subprocess.run(
        ["sh", "-c", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert result.returncode == 1 and "SCRAPYD_PASSWORD" in result.stderr


def test_the_application_uses_its_own_mongodb_user_with_any_characters():
    services = _compose()["services"]
    mongo = services["mongo"]
    init = "./config/mongo-init.js:/docker-entrypoint-initdb.d/"
    assert any(v.startswith(init) for v in mongo["volumes"])
    assert {"MONGO_APP_USER", "MONGO_APP_PASSWORD", "NEWSCRAWL_DB"} <= set(mongo["environment"])
    script = (REPO / "config" / "mongo-init.js").read_text()
    # readWrite on the crawler's database, and no other role
    assert 'roles: [{ role: "readWrite", db: dbName }]' in script
    assert 'process.env.NEWSCRAWL_DB || process.env.CRAWLER_DB || "news"' in script
    for name in ("mongo", "scheduler", "scrapyd"):  # an older .env's CRAWLER_DB still counts
        env = services[name]["environment"]
        assert env["NEWSCRAWL_DB"] == "${NEWSCRAWL_DB:-}" and env["CRAWLER_DB"] == "${CRAWLER_DB:-}"
    for name in ("scheduler", "scrapyd"):
        env = services[name]["environment"]
        assert "@" not in env["MONGODB_URI"] and "ROOT" not in str(env), name  # no root, no URI
        assert env["MONGODB_USERNAME"] == "${MONGO_APP_USER}", name
        assert env["MONGODB_PASSWORD"] == "${MONGO_APP_PASSWORD}", name


def test_mongo_express_browses_as_a_read_only_user_of_the_crawlers_database():
    """The debug profile's mongo-express never connects as root: its own user, `read` on
    the crawler's database only, and no admin view of the other databases."""
    services = _compose()["services"]
    express = services["mongo-express"]["environment"]
    url = express["ME_CONFIG_MONGODB_URL"]
    assert "ROOT" not in str(express), url
    assert url.startswith("mongodb://${MONGO_EXPRESS_USER:-newscrawl-express}:")
    assert "@mongo:27017/${NEWSCRAWL_DB:-news}?" in url
    assert express["ME_CONFIG_MONGODB_ENABLE_ADMIN"] == "false"
    assert express["ME_CONFIG_OPTIONS_READONLY"] == "true"
    assert {"MONGO_EXPRESS_USER", "MONGO_EXPRESS_PASSWORD"} <= set(services["mongo"]["environment"])
    script = (REPO / "config" / "mongo-init.js").read_text()
    assert 'roles: [{ role: "read", db: dbName }]' in script
    example = (REPO / ".env.example").read_text()
    assert "MONGO_EXPRESS_PASSWORD=" in example


def test_credentials_with_any_characters_reach_pymongo_unescaped(monkeypatch):
    from crawler.store.connection import connect

    monkeypatch.setenv("MONGODB_USERNAME", "newscrawl-app")
    monkeypatch.setenv("MONGODB_PASSWORD", "a/b+c=:@%?#")
    database = connect("mongodb://127.0.0.1:1/?authSource=admin", "news", timeout_ms=100)
    try:
        credentials = database.client.options.pool_options._credentials
        assert (credentials.username, credentials.password) == ("newscrawl-app", "a/b+c=:@%?#")
    finally:
        database.client.close()


def test_scrapyd_replica_journals_outlive_the_replica():
    data = _compose()
    scrapyd = data["services"]["scrapyd"]
    journal = scrapyd["environment"]["NEWSCRAWL_JOURNAL"]
    volume = next(v for v in scrapyd["volumes"] if v.endswith(":" + journal))
    assert volume.split(":")[0] in data["volumes"]  # a named volume, not the container's disk
    assert f"mkdir -p {journal}" in (REPO / "Dockerfile").read_text()  # owned by the crawler


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_config_accepts_the_file(tmp_path):
    env = (REPO / ".env.example").read_text()
    (tmp_path / ".env").write_text(env)
    result = subprocess.run(
        [
            "docker-compose",
            "--project-directory",
            str(REPO),
            "--env-file",
            str(tmp_path / ".env"),
            "-f",
            str(REPO / "docker-compose.yml"),
            "config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "mongo-express" in result.stdout
