"""The Space's image, built as the Space builds it and smoke-tested through its one public port.

No Docker engine here: podman (Debian) builds `deploy.assemble_space`'s folder with its Dockerfile
unchanged, from `python:3.11-slim` when a registry answers, else from a local stand-in for it
(Debian bookworm minbase from debootstrap, this interpreter's CPython 3.11 in /usr/local, pip).
The stand-in and the build's layers stay in podman storage under LUNGRISK_PODMAN_DIR
(/var/tmp/lungrisk-podman), so a rerun only rebuilds what changed.

This machine kind's quirks: runc (crun 1.x refuses its hybrid cgroups), explicit nofile/nproc
ulimits (no CAP_SYS_RESOURCE to raise them), `--format docker` (OCI images drop HEALTHCHECK), and
the host's CA bundle mounted for the build's RUN steps only, so pip in the build trusts what the
host trusts without the bundle ending up in the image.

The figures (build time, image size, time to ready, restart windows) are printed and written to
test-output/space-image.json; the README's Space section quotes them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
import requests

from tests.helpers import (
    HEALTHY_YOUNG_WOMAN,
    SYMPTOMATIC_OLDER_SMOKER,
    require,
    require_binary,
)
from tests.processes import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(1800)]

STORE = Path(os.environ.get("LUNGRISK_PODMAN_DIR", "/var/tmp/lungrisk-podman"))
OUTPUT = ROOT / "test-output"
BASE = "docker.io/library/python:3.11-slim"
STAND_IN = "localhost/lungrisk-python-stand-in:3.11-slim"
IMAGE = "localhost/lungrisk-space:test"
DEBIAN = "http://deb.debian.org/debian"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
TOKEN = "image-admin-token"
RUN_LIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"]
# What the stand-in adds to Debian minbase: the shared libraries python:3.11-slim's CPython uses.
STAND_IN_PACKAGES = [
    "ca-certificates",
    "netbase",
    "tzdata",
    "libssl3",
    "libsqlite3-0",
    "zlib1g",
    "libffi8",
    "libbz2-1.0",
    "liblzma5",
    "libreadline8",
    "libncursesw6",
    "libuuid1",
    "libgdbm6",
]

# Every process's uid and command line, read inside the container (the image has no ps).
PROCESSES = """
import pathlib
for proc in pathlib.Path("/proc").iterdir():
    try:
        uid = (proc / "status").read_text().split("\\nUid:")[1].split()[0]
        command = (proc / "cmdline").read_bytes().replace(b"\\0", b" ").decode().replace("\\n", " ").strip()
    except (OSError, IndexError):
        continue
    print(uid, command)
"""
# Kills the API each time the supervisor starts a new one, as a crash loop would.
CRASH_LOOP = """
last=
while :; do
  pid=$(cat /tmp/lungrisk-space/api.pid 2>/dev/null)
  if [ -n "$pid" ] && [ "$pid" != "$last" ]; then kill -9 "$pid" && last=$pid; fi
  sleep 0.1
done
"""

FIGURES: dict[str, float | int | str] = {}


class Podman:
    """podman on its own storage, logging every command's output to one file."""

    def __init__(self, runtime: str, log: Path):
        self.command = [
            "podman",
            "--root",
            str(STORE / "storage"),
            "--runroot",
            str(STORE / "run"),
            "--storage-driver",
            "overlay",
            "--runtime",
            runtime,
        ]
        self.log = log

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 120, stdin: bytes | None = None
    ) -> str:
        """podman's output; its errors (and a build's progress) go to the log as they come."""
        with open(self.log, "ab") as log:
            log.write(f"\n$ podman {' '.join(args)}\n".encode())
            log.flush()
            done = subprocess.run(
                [*self.command, *args],
                input=stdin,
                stdout=subprocess.PIPE,
                stderr=log,
                timeout=timeout,
                check=False,
            )
            log.write(done.stdout)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {args[0]} exited {done.returncode}; see {self.log}")
        return done.stdout.decode().strip()

    def exists(self, image: str) -> bool:
        return (
            subprocess.run(
                [*self.command, "image", "exists", image], capture_output=True, check=False
            ).returncode
            == 0
        )


def run_logged(command: list[str], log: Path, timeout: float = 900) -> None:
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(command)}\n".encode())
        out.flush()
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{command[:3]} exited {done.returncode}; see {log}")


def registry_answers() -> bool:
    try:
        requests.get("https://registry-1.docker.io/v2/", timeout=5)
        return True
    except requests.RequestException:
        return False


def build_stand_in(podman: Podman, log: Path) -> None:
    """python:3.11-slim's layout from Debian minbase and this interpreter's CPython 3.11."""
    require(
        sys.version_info[:2] == (3, 11),
        "the stand-in copies this interpreter: run the tests with Python 3.11",
    )
    debootstrap = require_binary("debootstrap", "/usr/sbin/debootstrap")
    rootfs = STORE / "stand-in-rootfs"
    run_logged(["rm", "-rf", str(rootfs)], log)
    run_logged([debootstrap, "--variant=minbase", "bookworm", str(rootfs), DEBIAN], log)
    prefix, local = Path(sys.base_prefix), rootfs / "usr" / "local"
    for folder in ("bin", "lib", "include"):
        (local / folder).mkdir(parents=True, exist_ok=True)
    run_logged(["cp", "-a", str(prefix / "bin" / "python3.11"), str(local / "bin")], log)
    run_logged(["sh", "-c", f"cp -a {prefix}/lib/libpython3* {local}/lib/"], log)
    run_logged(["cp", "-a", str(prefix / "include" / "python3.11"), str(local / "include")], log)
    # The standard library only: none of the host's site-packages, tests or bytecode.
    with tarfile.open(STORE / "stdlib.tar", "w") as archive:
        archive.add(
            prefix / "lib" / "python3.11",
            "python3.11",
            filter=lambda member: (
                None
                if (
                    "/site-packages/" in member.name
                    or "__pycache__" in member.name
                    or member.name.startswith("python3.11/test/")
                )
                else member
            ),
        )
    with tarfile.open(STORE / "stdlib.tar") as archive:
        archive.extractall(local / "lib")
    (STORE / "stdlib.tar").unlink()
    (local / "bin" / "python3").symlink_to("python3.11")
    (local / "bin" / "python").symlink_to("python3")
    (rootfs / "etc" / "apt" / "sources.list").unlink(missing_ok=True)
    (rootfs / "etc" / "apt" / "sources.list.d" / "debian.sources").write_text(
        f"Types: deb\nURIs: {DEBIAN}\nSuites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
        "Types: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    in_root = [
        "chroot",
        str(rootfs),
        "/usr/bin/env",
        "-i",
        "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "DEBIAN_FRONTEND=noninteractive",
    ]
    run_logged([*in_root, "apt-get", "update", "-qq"], log)
    run_logged(
        [*in_root, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *STAND_IN_PACKAGES], log
    )
    run_logged([*in_root, "ldconfig"], log)
    run_logged([*in_root, "python3", "-m", "ensurepip", "--default-pip"], log)
    run_logged([*in_root, "python3", "-c", "import ssl, sqlite3, json, zlib, bz2, lzma, ctypes, uuid"], log)
    run_logged([*in_root, "apt-get", "clean"], log)
    run_logged(["sh", "-c", f"rm -rf {rootfs}/var/lib/apt/lists/* {rootfs}/root/.cache {rootfs}/tmp/*"], log)
    archive = subprocess.run(["tar", "-C", str(rootfs), "-c", "."], capture_output=True, check=True).stdout
    podman(
        "import",
        "--change",
        "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        'CMD ["python3"]',
        "-",
        STAND_IN,
        stdin=archive,
        timeout=300,
    )
    run_logged(["rm", "-rf", str(rootfs)], log)


def base_image(podman: Podman, log: Path) -> str:
    if registry_answers():
        podman("pull", "--quiet", BASE, timeout=600)
        return BASE
    if not podman.exists(STAND_IN):
        started = time.monotonic()
        build_stand_in(podman, log)
        FIGURES["stand_in_build_seconds"] = round(time.monotonic() - started, 1)
    return STAND_IN


def build(podman: Podman, workdir: Path, base: str, tag: str, context: Path, *options: str) -> None:
    mounts = []
    if HOST_CA.exists():
        pip_conf = workdir / "pip.conf"
        pip_conf.write_text("[global]\ncert = /etc/ssl/certs/host-ca-bundle.crt\n")
        mounts = [
            "-v",
            f"{pip_conf}:/etc/pip.conf:ro",
            "-v",
            f"{HOST_CA}:/etc/ssl/certs/host-ca-bundle.crt:ro",
        ]
    run_logged(
        [
            *podman.command,
            "build",
            "--isolation",
            "chroot",
            "--pull=never",
            "--format",
            "docker",
            "--from",
            base,
            *mounts,
            *options,
            "-t",
            tag,
            str(context),
        ],
        podman.log,
        timeout=1200,
    )


def build_image(podman: Podman, workdir: Path, log: Path) -> str:
    """The Space's folder from the project's own assembly command, built with its Dockerfile."""
    base = base_image(podman, log)
    context = workdir / "space"
    run_logged([sys.executable, "-m", "deploy.assemble_space", str(context)], log)
    started = time.monotonic()
    build(podman, workdir, base, IMAGE, context)
    FIGURES["base"] = base
    FIGURES["build_seconds"] = round(time.monotonic() - started, 1)
    FIGURES["image_megabytes"] = round(int(podman("image", "inspect", IMAGE, "--format", "{{.Size}}")) / 1e6)
    FIGURES["base_megabytes"] = round(int(podman("image", "inspect", base, "--format", "{{.Size}}")) / 1e6)
    # Earlier builds' layers, no longer under a tag: the store keeps this build's cache and the base.
    podman("image", "prune", "--force", check=False, timeout=300)
    return IMAGE


def wait_for(condition, timeout: float, interval: float = 0.2) -> float | None:
    """Seconds until `condition()` held, or None after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if condition():
                return time.monotonic() - started
        except requests.RequestException:
            pass
        time.sleep(interval)
    return None


class Container:
    def __init__(self, podman: Podman, name: str, port: int):
        self.podman, self.name, self.url = podman, name, f"http://127.0.0.1:{port}"

    def answers(self, path: str) -> bool:
        return requests.get(self.url + path, timeout=2).status_code == 200

    def ready(self) -> bool:
        return self.answers("/health/ready") and self.answers("/")

    def pid(self, program: str) -> int:
        return int(self.podman("exec", self.name, "cat", f"/tmp/lungrisk-space/{program}.pid"))

    def kill(self, program: str) -> int:
        """SIGKILL a program's process (a shell builtin: the image has no procps); its pid."""
        pid = self.pid(program)
        self.podman("exec", self.name, "bash", "-c", f"kill -9 {pid}")
        return pid

    def logs(self, tail: int = 80) -> str:
        """The container's output and errors (podman logs splits them like the container did)."""
        return subprocess.run(
            [*self.podman.command, "logs", "--tail", str(tail), self.name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        ).stdout.decode(errors="replace")


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    require(os.geteuid() == 0, "building the image needs root (rootful podman, debootstrap)")
    require_binary("podman")
    runtime = require_binary("runc", "/usr/sbin/runc")
    for folder in ("storage", "run"):
        (STORE / folder).mkdir(parents=True, exist_ok=True)
    OUTPUT.mkdir(exist_ok=True)
    log = OUTPUT / "space-image.log"
    log.write_text("")
    return Podman(runtime, log)


@pytest.fixture(scope="module")
def container(podman, tmp_path_factory):
    image = build_image(podman, tmp_path_factory.mktemp("space-image"), podman.log)
    name, port = f"lungrisk-space-test-{os.getpid()}", free_port()
    podman("rm", "-f", name, check=False)
    started = time.monotonic()
    podman(
        "run",
        "-d",
        "--name",
        name,
        *RUN_LIMITS,
        "-p",
        f"127.0.0.1:{port}:7860",
        "-e",
        "SPACE_ID=tests/space-image",
        "-e",
        f"ADMIN_TOKEN={TOKEN}",
        "-e",
        "SECRET_KEY=image-secret",
        image,
    )
    space = Container(podman, name, port)
    ready = wait_for(space.ready, timeout=180)
    assert ready is not None, space.logs()
    FIGURES["ready_seconds"] = round(time.monotonic() - started, 1)
    yield space
    podman("rm", "-f", "-t", "10", name, check=False)
    FIGURES["load_average_1min"] = round(os.getloadavg()[0], 1)  # the figures' conditions: 2 shared cores
    (OUTPUT / "space-image.json").write_text(json.dumps(FIGURES, indent=2) + "\n")
    print(f"\nSpace image figures: {json.dumps(FIGURES)}")


def test_a_build_from_the_repository_root_is_the_same_image(container, tmp_path):
    """.dockerignore sends what the assembly copies: every layer comes from the Space build's cache."""
    tag = "localhost/lungrisk-space:from-root"
    build(container.podman, tmp_path, FIGURES["base"], tag, ROOT, "-f", str(ROOT / "Dockerfile.hf"))
    try:
        same = container.podman("image", "inspect", tag, IMAGE, "--format", "{{.Id}}").split()
    finally:
        container.podman("rmi", tag, check=False)
    assert len(same) == 2 and same[0] == same[1]


def test_the_gradio_page_answers_on_the_public_port(container):
    page = requests.get(container.url + "/", timeout=10)
    assert page.status_code == 200 and "gradio" in page.text.lower()


def test_a_prediction_through_the_public_port(container):
    answer = requests.post(container.url + "/api/predict", json=SYMPTOMATIC_OLDER_SMOKER, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["risk_level"] in ("low", "moderate", "high")


def test_the_gradio_api_through_the_public_port(container):
    from gradio_client import Client

    body = Client(container.url, verbose=False).predict(HEALTHY_YOUNG_WOMAN, api_name="/predict_api")
    assert body["prediction"] in (0, 1) and body["risk_level"] in ("low", "moderate", "high")


def test_health_reports_the_model_and_redis(container):
    health = requests.get(container.url + "/api/health", timeout=5).json()
    assert health["status"] == "healthy" and health["redis_connected"] is True


@pytest.mark.parametrize("path", ["/api/logs", "/logs"])
@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": f"Bearer {TOKEN}"}, 200)])
def test_the_admin_paths_need_the_token(container, path, headers, status):
    answer = requests.get(container.url + path, headers=headers, timeout=5, allow_redirects=False)
    assert answer.status_code == status


def test_the_healthcheck_passes(container):
    assert container.podman("healthcheck", "run", container.name, check=False, timeout=30) in ("", "healthy")
    assert container.podman("inspect", container.name, "--format", "{{.State.Health.Status}}") == "healthy"


def test_every_process_runs_as_uid_1000(container):
    rows = [
        row.split(" ", 1)
        for row in container.podman("exec", container.name, "python", "-c", PROCESSES).splitlines()
    ]
    commands = " ".join(command for _, command in rows)
    for program in (
        "deploy.space",
        "redis-server",
        "gunicorn",
        "webapp.ui",
        "nginx: master",
        "nginx: worker",
    ):
        assert program in commands, rows
    assert {uid for uid, _ in rows} == {"1000"}, rows


def test_a_killed_gunicorn_master_is_restarted_by_the_supervisor(container):
    killed = container.kill("api")

    window = wait_for(lambda: container.answers("/api/health") and container.pid("api") != killed, timeout=60)
    assert window is not None, container.logs()
    FIGURES["api_restart_seconds"] = round(window, 1)
    answer = requests.post(container.url + "/api/predict", json=HEALTHY_YOUNG_WOMAN, timeout=10)
    assert answer.status_code == 200


def test_a_killed_gradio_is_restarted_by_the_supervisor(container):
    killed = container.kill("ui")

    window = wait_for(lambda: container.pid("ui") != killed and container.answers("/"), timeout=120)
    assert window is not None, container.logs()
    FIGURES["ui_restart_seconds"] = round(window, 1)


def test_the_container_stops_cleanly_with_exit_0(container):
    container.podman("stop", "-t", "30", container.name, timeout=60)

    assert container.podman("inspect", container.name, "--format", "{{.State.ExitCode}}") == "0", (
        container.logs()
    )


def test_a_crash_looping_api_stops_the_container_with_exit_1(container):
    """Restarted after the clean stop, then its API killed at every start: the supervisor gives up."""
    container.podman("start", container.name)
    assert wait_for(container.ready, timeout=180) is not None, container.logs()
    started = time.monotonic()

    container.podman("exec", "-d", container.name, "bash", "-c", CRASH_LOOP)

    code = container.podman("wait", container.name, timeout=120)
    FIGURES["crash_loop_exit_seconds"] = round(time.monotonic() - started, 1)
    assert code == "1", container.logs()
    assert "giving up: api died" in container.logs(tail=-1)
