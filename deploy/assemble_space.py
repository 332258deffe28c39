"""Assemble the Hugging Face Space's files into a folder ready to push.

    python -m deploy.assemble_space build/space      # or: make space DIR=build/space

The folder gets the Dockerfile (Dockerfile.hf), the Space card as README.md, the code, the model
artifacts and a .gitattributes that stores the model through Git LFS. No tests, benchmarks, data,
training code, .env or local databases. A git clone of the Space may be the target: its .git is
left alone and the files assembled here replace the previous ones.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent

# Space path -> source path, relative to the repository.
FILES = {
    "Dockerfile": "Dockerfile.hf",
    "README.md": "deploy/space_card.md",
    "requirements.lock": "requirements.lock",
    "wsgi.py": "wsgi.py",
    "gunicorn.conf.py": "gunicorn.conf.py",
}
FOLDERS = ("webapp", "templates", "static", "deploy", "model")
IGNORED_PATTERNS = ("__pycache__", "*.pyc", ".env", ".env.*", "*.csv", "*.sqlite3*", "instance", ".DS_Store")
#: model/ ships its artifacts only: training and the reference builder are offline code.
IGNORED_IN = {"model": ("*.py",)}
GITATTRIBUTES = "*.joblib filter=lfs diff=lfs merge=lfs -text\n"


def assemble(target: Path, source: Path = ROOT) -> list[str]:
    """Write the Space into `target`; returns the files written, relative to it."""
    target.mkdir(parents=True, exist_ok=True)
    for name in (*FILES, *FOLDERS):
        old = target / name
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    for name, origin in FILES.items():
        shutil.copy2(source / origin, target / name)
    for folder in FOLDERS:
        ignored = shutil.ignore_patterns(*IGNORED_PATTERNS, *IGNORED_IN.get(folder, ()))
        shutil.copytree(source / folder, target / folder, ignore=ignored)
    (target / "deploy" / "start.sh").chmod(0o755)
    if not (target / ".gitattributes").exists():
        (target / ".gitattributes").write_text(GITATTRIBUTES)
    return sorted(
        str(path.relative_to(target))
        for path in target.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(target).parts[:1]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", type=Path, help="folder to fill (created if missing)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    written = assemble(args.target)
    logger.info("Assembled %d files into %s", len(written), args.target)
    logger.info("Push it: cd %s && git add -A && git commit -m 'Update the Space' && git push", args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
