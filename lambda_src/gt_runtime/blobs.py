"""The ``Blobs`` protocol (bytes by ``s3://`` URI) and ``LocalBlobs`` (a folder).

The engine reads the manifest, the worker template and the label-category
file, and writes Ground Truth's output layout, through a ``Blobs``: S3 on AWS
(``s3_blobs.py``), a folder on one machine. ``LocalBlobs(root)`` keeps
``s3://bucket/key`` at ``root/bucket/key``, so the folder is laid out like
the bucket and any tool that reads Ground Truth's output from a synced copy of
the bucket reads it from there. Writes are atomic (a temporary file renamed
into place): a reader never sees half a file, and a crash never leaves one.
"""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote


class BlobNotFound(FileNotFoundError):
    """No object at that URI; the message names it."""


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key); ``ValueError`` naming the URI otherwise."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {str(uri)[:120]!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise ValueError(f"an s3:// URI needs a bucket: {uri[:120]!r}")
    return bucket, unquote(key)


def join_uri(base: str, *parts: str) -> str:
    """``base`` (``s3://bucket/prefix``) joined with path parts by single slashes."""
    tail = "/".join(part.strip("/") for part in parts if part.strip("/"))
    return f"{base.rstrip('/')}/{tail}" if tail else base.rstrip("/")


@runtime_checkable
class Blobs(Protocol):
    """Bytes by ``s3://`` URI."""

    def read(self, uri: str) -> bytes:
        """The object's bytes; ``BlobNotFound`` when there is none."""
        ...

    def write(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        """Put the object (replacing one of the same URI), atomically."""
        ...

    def exists(self, uri: str) -> bool:
        """Whether an object is at ``uri``."""
        ...

    def list(self, prefix: str) -> list[str]:
        """URIs of the objects under ``prefix`` (an ``s3://bucket/prefix``), sorted."""
        ...


class LocalBlobs:
    """A folder laid out like S3: ``s3://bucket/key`` is ``root/bucket/key``.

    A key that would leave the folder (``..`` segments, absolute parts) is
    refused with ``ValueError``. Writes are atomic: a file is written under
    ``root/.partial/`` (no bucket name starts with a dot) and renamed into place,
    so a process killed mid-write leaves nothing in the bucket folders (a tool
    reading the output as it reads S3 sees whole objects only); what such a kill
    leaves in ``.partial`` is removed when the folder is opened again.
    """

    #: Partial writes older than this are a killed process's, removed on opening.
    STALE_PARTIAL_SECONDS = 600

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.partial = self.root / ".partial"
        self.partial.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - self.STALE_PARTIAL_SECONDS
        for leftover in self.partial.iterdir():
            with suppress(OSError):  # another process's, just renamed or removed
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    def path(self, uri: str) -> Path:
        """The file that holds ``uri`` (inside ``root``, always)."""
        bucket, key = split_uri(uri)
        parts = [bucket, *key.split("/")]
        if any(part in ("..", ".") or "\\" in part or "\x00" in part for part in parts):
            raise ValueError(f"the URI {uri[:120]!r} may not contain '.', '..' or '\\' segments")
        path = self.root.joinpath(*[p for p in parts if p])
        if self.root not in path.parents:
            raise ValueError(f"the URI {uri[:120]!r} leaves the blob folder")
        return path

    def uri(self, path: str | os.PathLike[str]) -> str:
        """The ``s3://`` URI of a file inside ``root``."""
        relative = Path(path).resolve().relative_to(self.root)
        bucket, *key = relative.parts
        return f"s3://{bucket}/{'/'.join(key)}"

    def read(self, uri: str) -> bytes:
        path = self.path(uri)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise BlobNotFound(f"no object at {uri}") from None

    def write(self, uri: str, data: bytes, content_type: str | None = None) -> None:
        path = self.path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.partial, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def exists(self, uri: str) -> bool:
        return self.path(uri).is_file()

    def list(self, prefix: str) -> list[str]:
        bucket, key = split_uri(prefix)
        base = self.root / bucket
        if not base.is_dir():
            return []
        found = []
        for directory, _, files in os.walk(base):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                uri = self.uri(Path(directory) / name)
                if split_uri(uri)[1].startswith(key):
                    found.append(uri)
        return sorted(found)


__all__ = ["BlobNotFound", "Blobs", "LocalBlobs", "join_uri", "split_uri"]
