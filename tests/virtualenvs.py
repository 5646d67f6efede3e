"""Virtualenvs of the tests: uv, the plugin's cache moved, a virtualenv over this one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

UV = shutil.which("uv") or str(Path(sys.executable).parent / "uv")


def plugin_cache_in(path: Path) -> dict[str, str]:
    """The environment that moves the plugin's cache (``$XDG_CACHE_HOME``) to ``path`` and
    leaves uv's download cache where it is: the fresh environments are built anew, their
    packages not downloaded again."""
    uv_cache = subprocess.run([UV, "cache", "dir"], capture_output=True, text=True, check=True)
    return {"XDG_CACHE_HOME": str(path), "UV_CACHE_DIR": uv_cache.stdout.strip()}


def overlay_python(directory: Path) -> Path:
    """A virtualenv over this one: its own installs first, then every package of the test
    virtualenv (its editable installs included). Made in a second, nothing downloaded."""
    import site

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", directory], check=True)
    (next(directory.glob("lib/python*/site-packages")) / "test_venv.pth").write_text(
        "".join(f"import site; site.addsitedir({path!r})\n" for path in site.getsitepackages())
    )
    return directory / "bin" / "python"


def uv_install(python: Path, *requirements: str | Path) -> None:
    """``uv pip install --no-deps`` into the virtualenv of ``python``."""
    subprocess.run(
        [UV, "pip", "install", "-q", "--python", python, "--no-deps", *requirements], check=True
    )
