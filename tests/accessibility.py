"""axe-core in the browser tests: inject it into a Playwright page and keep what matters.

axe-core is the npm package pinned in package.json (`npm ci` in `.ci/run`); AXE_CORE_PATH
overrides where its `axe.min.js` is. It is evaluated through the DevTools protocol, so pages
keep their production Content-Security-Policy (no inline script is added to them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from tests.helpers import REPO_ROOT, require

AXE_PATH = Path(os.environ.get("AXE_CORE_PATH", REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"))
BLOCKING = ("critical", "serious")


@dataclass(frozen=True)
class KnownViolation:
    """A violation caused by Gradio's own component markup that the app cannot change."""

    rule: str
    selector: str  # a fragment of the node's CSS target or HTML
    reason: str

    def covers(self, rule: str, node: dict) -> bool:
        where = " ".join(map(str, node.get("target", []))) + " " + node.get("html", "")
        return rule == self.rule and self.selector in where


@lru_cache(maxsize=1)
def axe_source() -> str:
    require(AXE_PATH.is_file(), f"axe-core not found at {AXE_PATH} (run `npm ci` at the repository root)")
    return AXE_PATH.read_text(encoding="utf-8")


def violations(page, known: tuple[KnownViolation, ...] = (), context: str = "document") -> list[str]:
    """The critical and serious violations on the page, one readable line per node, minus `known`."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source())
    result = page.evaluate(f"axe.run({context}, {{resultTypes: ['violations']}})")
    found = []
    for violation in result["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            if any(k.covers(violation["id"], node) for k in known):
                continue
            found.append(
                f"{violation['impact']} {violation['id']}: {node['target']} "
                f"{node.get('failureSummary', '').splitlines()[-1:]} {node['html'][:160]}"
            )
    return found
