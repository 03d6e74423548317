"""The task-page renderer's Lambda layer: python-liquid and the library's one renderer.

Task pages on AWS are rendered by ``gt_constructs/template.py`` (the renderer the
workbench and the one-machine runtime use), which needs python-liquid. The layer
is assembled at synth, without Docker and without the network, from what this
Python environment already has installed: the pure-Python files of python-liquid
and its dependencies (compiled extensions are left out; MarkupSafe falls back to
its pure-Python implementation, so the layer runs on any Lambda architecture),
plus the library modules the renderer imports. The folder is built once per set
of versions under the system's temporary directory and reused by later synths.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import tempfile
from functools import cache
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

from ..._assets import LAMBDA_ARCHITECTURE, LAMBDA_RUNTIME

#: The renderer's distributions (python-liquid and what it requires at run time).
DISTRIBUTIONS = (
    "python-liquid",
    "babel",
    "markupsafe",
    "python-dateutil",
    "six",
    "pytz",
    "importlib-resources",
)
#: The library's modules the task page imports (no aws_cdk among them), and the assets
#: of the workbench's stand-in elements it inlines.
LIBRARY_FILES = (
    "__init__.py",
    "template.py",
    "consolidation.py",
    "task_type.py",
    "runtime/__init__.py",
    "runtime/task_page.py",
    "workbench/__init__.py",
    "workbench/preview.py",
    "workbench/common.py",
    "workbench/crowd-stand-in.css",
    "workbench/crowd-stand-in.js",
    "workbench/crowd-loader.js",
    "workbench/preview.css",
)
_COMPILED = (".so", ".pyd", ".dylib", ".c", ".pyc")
_PACKAGE = Path(__file__).resolve().parents[2]  # gt_constructs/


class RendererLayerError(RuntimeError):
    """A distribution the task-page renderer needs is not installed here."""


def _distribution_files(name: str) -> list[tuple[Path, str]]:
    """(source path, path inside site-packages) of one installed distribution's files."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError as error:
        raise RendererLayerError(
            f"the self-hosted runtime's task-page layer needs {name!r}, which is not installed "
            "in this Python environment; install gt-constructs with its dependencies "
            "(pip install gt-constructs)"
        ) from error
    files = []
    for file in dist.files or []:
        relative = str(file)
        if relative.startswith("..") or ".dist-info" in relative or "__pycache__" in relative:
            continue
        if relative.endswith(_COMPILED) or relative.startswith("bin/"):
            continue
        files.append((Path(str(dist.locate_file(file))), relative))
    return files


def _library_files() -> list[tuple[Path, str]]:
    files = [(_PACKAGE / name, f"gt_constructs/{name}") for name in LIBRARY_FILES]
    lambda_src = _PACKAGE.parent / "lambda_src"
    if not (lambda_src / "gt_annotation").is_dir():  # installed: gt_constructs/lambda_src
        lambda_src = _PACKAGE / "lambda_src"
    files.append((lambda_src / "__init__.py", "gt_constructs/lambda_src/__init__.py"))
    for path in sorted((lambda_src / "gt_annotation").rglob("*.py")):
        relative = path.relative_to(lambda_src).as_posix()
        files.append((path, f"gt_constructs/lambda_src/{relative}"))
    return files


@cache
def renderer_layer_folder() -> Path:
    """The layer's folder (``python/...``), built once per content digest."""
    sources = [f for name in DISTRIBUTIONS for f in _distribution_files(name)]
    sources += _library_files()
    digest = hashlib.sha256()
    for path, relative in sorted(sources, key=lambda item: item[1]):
        digest.update(relative.encode())
        digest.update(path.read_bytes())
    folder = Path(tempfile.gettempdir()) / f"gt-constructs-renderer-{digest.hexdigest()[:16]}"
    if (folder / ".complete").is_file():
        return folder
    staging = Path(tempfile.mkdtemp(prefix="gt-constructs-renderer-"))
    for path, relative in sources:
        target = staging / "python" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (staging / ".complete").write_text("")
    try:
        staging.rename(folder)
    except OSError:  # another synth built it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def renderer_layer(scope: object, construct_id: str) -> lambda_.LayerVersion:
    """The layer: python-liquid and the library's task-page renderer (``gt_constructs``)."""
    return lambda_.LayerVersion(
        scope,  # type: ignore[arg-type]
        construct_id,
        code=lambda_.Code.from_asset(str(renderer_layer_folder()), exclude=[".complete"]),
        compatible_runtimes=[LAMBDA_RUNTIME],
        compatible_architectures=[LAMBDA_ARCHITECTURE],
        description="python-liquid and gt-constructs' worker-template renderer (task pages)",
    )
