"""The Space's files: the image (Dockerfile.hf, read: no Docker engine here), the card, the assembly."""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path

import pytest
import yaml

from deploy.assemble_space import assemble
from tests.processes import ROOT


def dockerfile() -> list[str]:
    """Dockerfile.hf's instructions, one string each (continuation lines joined, comments gone)."""
    text = (ROOT / "Dockerfile.hf").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [
        " ".join(part.strip() for part in step.split("\\\n"))
        for step in re.split(r"(?<!\\)\n", "\n".join(lines))
        if step.strip()
    ]


def instruction(name: str) -> list[str]:
    return [step for step in dockerfile() if step.split()[0].upper() == name]


def test_the_image_starts_from_python_311_slim():
    assert instruction("FROM") == ["FROM python:3.11-slim"]


def test_the_image_installs_nginx_and_redis_without_recommends():
    [apt] = [step for step in instruction("RUN") if "apt-get install" in step]
    assert {"--no-install-recommends", "nginx", "redis-server"} <= set(apt.split())


def test_dependencies_are_installed_before_the_code_is_copied():
    steps = dockerfile()
    requirements = next(i for i, s in enumerate(steps) if s.startswith("COPY") and "requirements.lock" in s)
    install = next(i for i, s in enumerate(steps) if "--require-hashes -r requirements.lock" in s)
    code = next(i for i, s in enumerate(steps) if s.startswith("COPY") and "webapp/" in s)
    assert requirements < install < code


@pytest.mark.parametrize(
    "source", ["model/", "webapp/", "templates/", "static/", "deploy/", "wsgi.py", "gunicorn.conf.py"]
)
def test_the_image_copies(source):
    assert any(source in step.split() for step in instruction("COPY"))


def test_the_image_runs_as_uid_1000():
    assert any("useradd" in step and "-u 1000" in step for step in instruction("RUN"))
    assert instruction("USER")[-1] in ("USER 1000", "USER user")


def test_the_image_exposes_7860_and_runs_the_start_script():
    assert instruction("EXPOSE") == ["EXPOSE 7860"]
    assert instruction("CMD") == ['CMD ["bash", "deploy/start.sh"]']


def test_the_healthcheck_asks_readiness_through_nginx_and_checks_the_answer():
    [check] = instruction("HEALTHCHECK")
    assert "http://127.0.0.1:7860/health/ready" in check and "'ready'" in check


def test_the_image_bakes_in_no_secret():
    env = " ".join(instruction("ENV") + instruction("ARG"))
    assert "ADMIN_TOKEN" not in env and "SECRET_KEY" not in env and "REDIS_URL" not in env


def test_the_space_card_declares_a_docker_space_on_port_7860():
    text = (ROOT / "deploy" / "space_card.md").read_text()
    card = yaml.safe_load(text.split("---")[1])
    assert card["sdk"] == "docker" and card["app_port"] == 7860
    assert card["license"] == "cc-by-nc-sa-4.0" and card["pinned"] is False
    assert {"title", "emoji", "colorFrom", "colorTo"} <= set(card)
    assert "not a diagnosis" in text and "kaggle.com/datasets/mysarahmadbhat/lung-cancer" in text


@pytest.fixture(scope="module")
def assembled(tmp_path_factory):
    target = tmp_path_factory.mktemp("space")
    (target / ".git").mkdir()
    (target / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (target / "webapp").mkdir()
    (target / "webapp" / "stale.py").write_text("left over from an older push\n")
    return target, assemble(target)


@pytest.mark.parametrize(
    "path",
    [
        "Dockerfile",
        "README.md",
        "requirements.lock",
        "wsgi.py",
        "gunicorn.conf.py",
        "webapp/__init__.py",
        "webapp/ui/__main__.py",
        "templates/base.html",
        "static/css/app.css",
        "deploy/start.sh",
        "deploy/nginx.conf.template",
        "model/model.joblib",
        "model/model_card.json",
        "model/serving.json",
        ".gitattributes",
    ],
)
def test_the_assembled_space_has(assembled, path):
    _, written = assembled
    assert path in written


def test_the_assembled_space_uses_the_space_dockerfile_and_card(assembled):
    target, _ = assembled
    assert (target / "Dockerfile").read_text() == (ROOT / "Dockerfile.hf").read_text()
    assert (target / "README.md").read_text() == (ROOT / "deploy" / "space_card.md").read_text()
    assert os.access(target / "deploy" / "start.sh", os.X_OK)
    assert "*.joblib filter=lfs" in (target / ".gitattributes").read_text()


@pytest.mark.parametrize(
    "pattern",
    [
        "tests/*",
        "bench/*",
        ".env",
        "**/.env",
        "*.csv",
        "**/*.csv",
        "**/*.sqlite3",
        "**/__pycache__/*",
        "instance/*",
        ".ci/*",
        "Dockerfile.hf",
        "Makefile",
        "Procfile",
        "model/*.py",
    ],
)
def test_the_assembled_space_leaves_out(assembled, pattern):
    _, written = assembled
    assert not [path for path in written if Path(path).match(pattern)]


def test_assembling_into_a_clone_keeps_its_git_folder_and_drops_stale_files(assembled):
    target, written = assembled
    assert (target / ".git" / "HEAD").exists() and not any(path.startswith(".git/") for path in written)
    assert not (target / "webapp" / "stale.py").exists()


def test_the_image_lock_pins_every_runtime_dependency_of_setup_cfg_with_hashes():
    import configparser
    import re

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    declared = [
        re.split(r"[<>=!~ \[;]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
        for line in config["options"]["install_requires"].splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    lock = (ROOT / "requirements.lock").read_text()
    pinned = {match.lower().replace("_", "-") for match in re.findall(r"^([A-Za-z0-9_.\-]+)==", lock, re.M)}
    assert declared and set(declared) <= pinned, set(declared) - pinned
    blocks = re.findall(
        r"^[A-Za-z0-9_.\-]+==[^\n]*\\\n((?:\s+--hash=sha256:[0-9a-f]{64}[ \\]*\n)+)", lock, re.M
    )
    assert len(blocks) == len(pinned)


def dockerignored(path: str) -> bool:
    """Whether a build from the repository root leaves `path` out: .dockerignore's last matching
    line wins, and a line matching a folder covers what is inside it (`**/` matches any depth)."""
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    ignored = False
    for rule in rules:
        pattern = rule.lstrip("!").rstrip("/")
        candidates = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(prefix, candidate) for prefix in prefixes for candidate in candidates):
            ignored = not rule.startswith("!")
    return ignored


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        "instance/predictions.sqlite3",
        "test-output/space.png",
        "tests/test_space.py",
        "bench/bench_predict.py",
        ".env",
        "webapp/.env",
        "webapp/__pycache__/app.cpython-311.pyc",
        "data/survey_lung_cancer.csv",
        "build/space/Dockerfile",
        "Makefile",
    ],
)
def test_a_build_from_the_repository_root_does_not_send(path):
    assert dockerignored(path)


def test_a_build_from_the_repository_root_sends_what_the_image_copies():
    sources = [
        source for step in instruction("COPY") for source in step.split()[1:-1] if not source.startswith("--")
    ]
    assert sources and not [
        source for source in sources if dockerignored(source + "x" if source.endswith("/") else source)
    ]
    assert not dockerignored("webapp/ui/__main__.py") and not dockerignored("model/model.joblib")
