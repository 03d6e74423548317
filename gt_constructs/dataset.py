"""Datasets: where the data objects come from, and the input manifest that lists them."""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Token
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IDependable

from .log_groups import BUCKET_DEPLOYMENT_MEMORY, JobLogs
from .task_type import DataKind

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
TEXT_EXTENSIONS = (".txt",)
#: Ground Truth's limit for one manifest line.
MAX_MANIFEST_LINE = 100_000
MANIFEST_NAME = "dataset.manifest"


@dataclass(frozen=True)
class DatasetBinding:
    """What the job needs to know about a dataset once it is in the stack."""

    manifest_s3_uri: str
    #: (bucket, key pattern) pairs the execution role must read.
    read: list[tuple[s3.IBucket, str]]
    #: Resources that must exist before the job starts (uploads, crawlers).
    dependables: list[IDependable] = field(default_factory=list)


class Dataset(abc.ABC):
    """The data objects to label. Create with the static factories."""

    @staticmethod
    def from_local_directory(path: str | Path, *, prefix: str = "datasets") -> Dataset:
        """Upload a local folder and a manifest generated from it at deploy.

        Image tasks: one ``{"source-ref": ...}`` line per .jpg/.jpeg/.png file
        (sub-folders included, sorted). Text tasks: one ``{"source": ...}``
        line per non-empty line of the .txt files. Files go to the input
        bucket under ``prefix``; the manifest is ``<prefix>/dataset.manifest``.
        """
        return _LocalDirectory(Path(path), prefix.strip("/"))

    @staticmethod
    def from_manifest(bucket: s3.IBucket, key: str, *, data_prefix: str | None = None) -> Dataset:
        """An existing manifest in S3.

        The execution role may read the manifest and the objects under
        ``data_prefix`` of the same bucket (default: the whole bucket, since a
        manifest may point anywhere in it). Data in other buckets needs its own
        grant on the role.
        """
        return _ExistingManifest(bucket, key.lstrip("/"), data_prefix)

    @staticmethod
    def from_s3_prefix(
        bucket: s3.IBucket, prefix: str, *, extensions: Sequence[str] = IMAGE_EXTENSIONS
    ) -> Dataset:
        """Objects already in S3: a deploy-time crawler lists ``prefix`` (any number of
        objects), keeps the given extensions and writes the manifest next to the
        job's output — what the console's "Create manifest file" does."""
        return _S3Prefix(bucket, prefix.lstrip("/"), tuple(e.lower() for e in extensions))

    @abc.abstractmethod
    def bind(
        self,
        scope: Construct,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        output_prefix: str,
        data_kind: DataKind,
        log_settings: JobLogs | None = None,
    ) -> DatasetBinding:
        """Add what the dataset needs to ``scope``; called once by the job.

        ``log_settings``: the job's logs, for the log groups of uploads and crawlers.
        """


class _LocalDirectory(Dataset):
    def __init__(self, path: Path, prefix: str) -> None:
        self.path = path
        self.prefix = prefix

    def _files(self, extensions: tuple[str, ...]) -> list[Path]:
        if not self.path.is_dir():
            raise ValueError(f"Dataset.from_local_directory: {self.path} is not a directory")
        return sorted(
            p for p in self.path.rglob("*") if p.is_file() and p.suffix.lower() in extensions
        )

    def manifest_lines(self, data_kind: DataKind, bucket_name: str) -> list[str]:
        """The manifest, one JSON line per data object (``bucket_name`` may be a token)."""
        if data_kind is DataKind.IMAGE:
            files = self._files(IMAGE_EXTENSIONS)
            lines = [
                json.dumps({"source-ref": f"s3://{bucket_name}/{self._key(p)}"}) for p in files
            ]
            allowed = ", ".join(IMAGE_EXTENSIONS)
        else:
            lines = []
            for file in self._files(TEXT_EXTENSIONS):
                for text in file.read_text(encoding="utf-8").splitlines():
                    if text.strip():
                        lines.append(json.dumps({"source": text.strip()}, ensure_ascii=False))
            allowed = ", ".join(TEXT_EXTENSIONS) + " (one data object per non-empty line)"
        if not lines:
            raise ValueError(
                f"Dataset.from_local_directory: {self.path} holds no data objects for a "
                f"{data_kind.value} task; allowed: {allowed}"
            )
        too_long = [i + 1 for i, line in enumerate(lines) if len(line) > MAX_MANIFEST_LINE]
        if too_long:
            raise ValueError(
                f"Dataset.from_local_directory: manifest lines {too_long[:5]} exceed Ground "
                f"Truth's limit of {MAX_MANIFEST_LINE} characters"
            )
        return lines

    def _key(self, file: Path) -> str:
        relative = file.relative_to(self.path).as_posix()
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def bind(
        self,
        scope: Construct,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        output_prefix: str,
        data_kind: DataKind,
        log_settings: JobLogs | None = None,
    ) -> DatasetBinding:
        lines = self.manifest_lines(data_kind, input_bucket.bucket_name)
        manifest_key = f"{self.prefix}/{MANIFEST_NAME}" if self.prefix else MANIFEST_NAME
        sources = [s3deploy.Source.data(MANIFEST_NAME, "\n".join(lines) + "\n")]
        if data_kind is DataKind.IMAGE:
            sources.insert(
                0,
                s3deploy.Source.asset(str(self.path), exclude=[".*", "**/.*"]),
            )
        upload = s3deploy.BucketDeployment(
            scope,
            "DatasetUpload",
            sources=sources,
            destination_bucket=input_bucket,
            destination_key_prefix=f"{self.prefix}/" if self.prefix else None,
            memory_limit=BUCKET_DEPLOYMENT_MEMORY,
            prune=False,
            log_group=(log_settings or JobLogs()).bucket_deployment_log_group(scope),
        )
        data_pattern = f"{self.prefix}/*" if self.prefix else "*"
        return DatasetBinding(
            manifest_s3_uri=f"s3://{input_bucket.bucket_name}/{manifest_key}",
            read=[(input_bucket, data_pattern)],
            dependables=[upload],
        )


class _ExistingManifest(Dataset):
    def __init__(self, bucket: s3.IBucket, key: str, data_prefix: str | None) -> None:
        if not Token.is_unresolved(key) and not key.strip():
            raise ValueError("Dataset.from_manifest: the manifest key is empty")
        self.bucket = bucket
        self.key = key
        self.data_prefix = data_prefix

    def bind(
        self,
        scope: Construct,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        output_prefix: str,
        data_kind: DataKind,
        log_settings: JobLogs | None = None,
    ) -> DatasetBinding:
        data = f"{self.data_prefix.strip('/')}/*" if self.data_prefix else "*"
        return DatasetBinding(
            manifest_s3_uri=f"s3://{self.bucket.bucket_name}/{self.key}",
            read=[(self.bucket, self.key), (self.bucket, data)],
        )


class _S3Prefix(Dataset):
    def __init__(self, bucket: s3.IBucket, prefix: str, extensions: tuple[str, ...]) -> None:
        bad = [e for e in extensions if not e.startswith(".") or len(e) < 2]
        if bad or not extensions:
            raise ValueError(
                f"Dataset.from_s3_prefix: extensions must be a non-empty list like "
                f"['.jpg', '.png']; got {list(extensions)}"
            )
        self.bucket = bucket
        self.prefix = prefix
        self.extensions = extensions

    def bind(
        self,
        scope: Construct,
        *,
        input_bucket: s3.IBucket,
        output_bucket: s3.IBucket,
        output_prefix: str,
        data_kind: DataKind,
        log_settings: JobLogs | None = None,
    ) -> DatasetBinding:
        from .job.manifest import ManifestFromS3Prefix

        manifest_key = f"{output_prefix}manifests/input/{MANIFEST_NAME}"
        crawler = ManifestFromS3Prefix(
            scope,
            "DatasetManifest",
            source_bucket=self.bucket,
            prefix=self.prefix,
            extensions=list(self.extensions),
            manifest_bucket=output_bucket,
            manifest_key=manifest_key,
            log_settings=log_settings,
        )
        return DatasetBinding(
            manifest_s3_uri=crawler.manifest_s3_uri,
            read=[(self.bucket, f"{self.prefix}*"), (output_bucket, manifest_key)],
            dependables=[crawler],
        )
