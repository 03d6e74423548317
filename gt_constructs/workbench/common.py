"""Helpers shared by the workbench commands: task types, local files, progress, Chromium."""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import TextIO

from ..task_type import TaskType


class WorkbenchError(Exception):
    """A problem the user can fix; the message says what was given and what is allowed."""


def parse_task_type(value: str) -> TaskType:
    """``IMAGE_CLASSIFICATION``, ``image-classification`` or ``image_classification``."""
    key = value.strip().upper().replace("-", "_")
    try:
        return TaskType(key)
    except ValueError:
        allowed = ", ".join(t.value for t in TaskType)
        raise WorkbenchError(f"unknown task type {value!r}; allowed: {allowed}") from None


def say(message: str) -> None:
    print(message, file=sys.stderr)


def parse_labels(values: Sequence[str] | None) -> list[str] | None:
    """``--labels a b c``, or ``--labels categories.json`` (a Ground Truth label category file)."""
    if not values:
        return None
    if len(values) == 1 and values[0].lower().endswith(".json"):
        path = Path(values[0])
        if not path.is_file():
            raise WorkbenchError(
                f"--labels {values[0]}: no such label category file (to give labels, "
                "list them: --labels Cat Dog)"
            )
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            labels = [str(entry["label"]) for entry in document["labels"]]
        except OSError as error:
            raise WorkbenchError(f"cannot read {path}: {error.strerror}") from None
        except (ValueError, KeyError, TypeError):
            raise WorkbenchError(
                f"{values[0]} is not a label category file "
                '({"document-version": "2018-11-28", "labels": [{"label": "..."}]})'
            ) from None
        return labels
    if len(set(values)) != len(values):
        raise WorkbenchError(f"--labels has duplicates: {list(values)}")
    return list(values)


# -- local files and data URLs ---------------------------------------------------------

#: Images bigger than this are not inlined into pages (the page would get huge).
MAX_INLINE_BYTES = 8 * 1024 * 1024


def data_url(path: Path) -> str:
    """The file as a ``data:`` URL (the page stays self-contained)."""
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def placeholder_svg(text: str, width: int = 640, height: int = 420) -> str:
    """An inline SVG data URL standing in for an image that is not available locally."""
    shown = text if len(text) <= 70 else "…" + text[-69:]
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="#e8eef3"/>'
        f'<path d="M0 0L{width} {height}M{width} 0L0 {height}" stroke="#c5d1dc" stroke-width="2"/>'
        f'<rect x="20" y="{height // 2 - 40}" width="{width - 40}" height="80" fill="#ffffff" '
        'stroke="#8aa1b5" rx="6"/>'
        f'<text x="{width // 2}" y="{height // 2 - 8}" font-family="sans-serif" font-size="18" '
        'text-anchor="middle" fill="#33475b">image not available locally</text>'
        f'<text x="{width // 2}" y="{height // 2 + 20}" font-family="monospace" font-size="13" '
        f'text-anchor="middle" fill="#33475b">{escape(shown)}</text></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


@dataclass(frozen=True)
class LocalFiles:
    """Finds the local copy of an ``s3://`` object or a local path, below some base folders.

    ``s3://bucket/a/b/c.jpg`` is looked up as ``<base>/bucket/a/b/c.jpg``,
    ``<base>/a/b/c.jpg``, ``<base>/b/c.jpg`` and ``<base>/c.jpg`` in each base.
    """

    bases: tuple[Path, ...]

    @staticmethod
    def around(*paths: Path | None) -> LocalFiles:
        bases: list[Path] = []
        for path in (*paths, Path.cwd()):
            if path is None:
                continue
            folder = path if path.is_dir() else path.parent
            if folder not in bases:
                bases.append(folder)
        return LocalFiles(tuple(bases))

    def find(self, reference: str) -> Path | None:
        if reference.startswith("s3://"):
            parts = [p for p in reference[len("s3://") :].split("/") if p]
            candidates = [Path(*parts[i:]) for i in range(len(parts))]
        elif "://" in reference or reference.startswith("data:"):
            return None
        else:
            candidates = [Path(reference)]
        for candidate in candidates:
            if candidate.is_absolute():
                if candidate.is_file():
                    return candidate
                continue
            for base in self.bases:
                path = base / candidate
                if path.is_file():
                    return path
        return None

    def url(self, reference: str) -> str:
        """What ``grant_read_access`` returns locally: a data URL, a placeholder, or as given."""
        reference = str(reference)
        path = self.find(reference)
        if path is not None and path.stat().st_size <= MAX_INLINE_BYTES:
            return data_url(path)
        if reference.startswith("s3://") or path is not None:
            return placeholder_svg(reference)
        return reference


# -- progress --------------------------------------------------------------------------


class Progress:
    """A one-line progress bar on stderr (only when asked or stderr is a terminal)."""

    def __init__(
        self,
        total: int | None,
        *,
        label: str,
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.label = label
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.done = 0
        self._last = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.2 and (self.total is None or self.done < self.total):
            return
        self._last = now
        if self.total:
            share = min(self.done / self.total, 1.0)
            bar = "#" * int(share * 30)
            self.stream.write(f"\r{self.label} [{bar:<30}] {self.done}/{self.total} ({share:.0%})")
        else:
            self.stream.write(f"\r{self.label} {self.done}")
        self.stream.flush()

    def note(self, message: str) -> None:
        """A message on its own line, the bar redrawn below it."""
        if self.enabled and self.done:
            self.stream.write("\r\033[K")
        self.stream.write(message + "\n")
        self.stream.flush()
        self._last = 0.0

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


# -- headless Chromium -----------------------------------------------------------------

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def find_chromium() -> str | None:
    """The Chromium executable on PATH (``GT_CHROMIUM`` overrides), or ``None``."""
    override = os.environ.get("GT_CHROMIUM")
    if override:
        return shutil.which(override) or (override if Path(override).is_file() else None)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_missing_message() -> str:
    return (
        "Chromium is not installed (looked for "
        + " and ".join(CHROMIUM_NAMES)
        + " on PATH): install it (Debian/Ubuntu: apt-get install chromium) or open the "
        "HTML file in any browser"
    )


def run_chromium(
    page: Path, extra: Sequence[str], *, timeout: float = 90.0
) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a local page with a throw-away profile, under a timeout."""
    executable = find_chromium()
    if executable is None:
        raise WorkbenchError(chromium_missing_message())
    with tempfile.TemporaryDirectory(prefix="gt-chromium-") as profile:
        command = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *extra,
            page.resolve().as_uri(),
        ]
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise WorkbenchError(
                f"Chromium did not finish within {timeout:.0f} s on {page}"
            ) from None


#: Chromium stops loading after this long (``--timeout``) and takes the screenshot or the
#: DOM as it is: a script that never arrives (a hanging proxy) would otherwise hold the
#: page's load event. More than the preview's wait for the real Crowd HTML Elements
#: (10 s), after which the stand-in has drawn the page.
PAGE_LOAD_LIMIT_MS = 15_000


def screenshot(page: Path, out: Path, *, width: int = 1280, height: int = 900) -> None:
    """A PNG screenshot of a local HTML page by headless Chromium."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    result = run_chromium(
        page,
        [
            f"--screenshot={out.resolve()}",
            f"--window-size={width},{height}",
            f"--timeout={PAGE_LOAD_LIMIT_MS}",
        ],
    )
    if not out.is_file():
        detail = (result.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise WorkbenchError(
            f"Chromium wrote no screenshot (exit {result.returncode}): {detail[0]}"
        )


def dump_dom(page: Path, *, timeout: float = 90.0) -> str:
    """The page's DOM after its scripts ran, as headless Chromium serialises it."""
    result = run_chromium(
        page,
        ["--dump-dom", "--virtual-time-budget=3000", f"--timeout={PAGE_LOAD_LIMIT_MS}"],
        timeout=timeout,
    )
    if result.returncode != 0 and not result.stdout:
        raise WorkbenchError(f"Chromium failed (exit {result.returncode}): {result.stderr[-300:]}")
    return result.stdout
