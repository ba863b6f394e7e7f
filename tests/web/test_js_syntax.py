"""Every page script parses as an ES module (checked with the Node.js that Playwright
ships): a script with a syntax error, such as a name imported and also declared, stops
the whole page, which only a browser test of that page would otherwise notice."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from playwright._impl._driver import compute_driver_executable

from web.app import STATIC_DIR

SCRIPTS = sorted((Path(STATIC_DIR) / "js").rglob("*.js"))
NODE = Path(compute_driver_executable()[0])


def test_there_are_scripts_to_check() -> None:
    assert len(SCRIPTS) > 20 and NODE.exists()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(STATIC_DIR)))
def test_the_script_parses_as_a_module(script: Path) -> None:
    checked = subprocess.run(
        [str(NODE), "--input-type=module", "--check"],
        input=script.read_bytes(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr.decode(errors="replace")[-800:]
