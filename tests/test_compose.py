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
    assert scrapyd["profiles"] == ["scrapyd"] and scrapyd["command"] == ["scrapyd"]
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
