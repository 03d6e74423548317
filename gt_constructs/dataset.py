"""Datasets: where the data objects come from, and the input manifest that lists them."""

from __future__ import annotations

import abc
import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import Token
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct, IDependable

from .log_groups import BUCKET_DEPLOYMENT_MEMORY, JobLogs
from .task_type import DataKind
from .validation import ConfigurationError, has_attribute

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
    """The data objects to label. Create with the static factories.

    The factories never raise: what is wrong with their arguments (a missing or
    empty folder, a bad prefix or extension, an empty manifest key) is found by
    ``problems(data_kind)``. ``CustomLabelingJob`` reports those with every other
    problem of its props in one ``ConfigurationError``, so a user fixes them all in
    one go; ``bind`` raises the same error for any other caller.
    """

    @staticmethod
    def from_local_directory(path: str | Path, *, prefix: str = "datasets") -> Dataset:
        """Upload a local folder and a manifest generated from it at deploy.

        Image tasks: one ``{"source-ref": ...}`` line per .jpg/.jpeg/.png file
        (sub-folders included, sorted). Text tasks: one ``{"source": ...}``
        line per non-empty line of the .txt files. Files go to the input
        bucket under ``prefix``; the manifest is ``<prefix>/dataset.manifest``.
        """
        return _LocalDirectory(path, prefix)

    @staticmethod
    def from_manifest(bucket: s3.IBucket, key: str, *, data_prefix: str | None = None) -> Dataset:
        """An existing manifest in S3.

        The execution role may read the manifest and the objects under
        ``data_prefix`` of the same bucket (default: the whole bucket, since a
        manifest may point anywhere in it). Data in other buckets needs its own
        grant on the role.
        """
        return _ExistingManifest(bucket, key, data_prefix)

    @staticmethod
    def from_s3_prefix(
        bucket: s3.IBucket, prefix: str, *, extensions: Sequence[str] = IMAGE_EXTENSIONS
    ) -> Dataset:
        """Objects already in S3: a deploy-time crawler lists ``prefix`` (any number of
        objects), keeps the given extensions and writes the manifest next to the
        job's output — what the console's "Create manifest file" does."""
        return _S3Prefix(bucket, prefix, extensions)

    def problems(self, data_kind: DataKind | None = None) -> list[str]:
        """Every problem of this dataset for a task of ``data_kind``, each naming the
        factory's argument and what is allowed (``None``: the kind is not known, only
        what is wrong for any kind)."""
        return list(self._argument_problems)

    def manifest_attributes(self, data_kind: DataKind) -> Collection[str] | None:
        """The attributes of every manifest line, when the library writes the manifest
        (``None``: an existing manifest, whose lines may hold anything)."""
        return ("source-ref",) if data_kind is DataKind.IMAGE else ("source",)

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
        Raises ``ConfigurationError`` listing ``problems(data_kind)`` if there are any
        (the job has reported them already, with its other problems)."""

    _argument_problems: tuple[str, ...] = ()

    def _raise_if_problems(self, data_kind: DataKind) -> None:
        found = self.problems(data_kind)
        if found:
            raise ConfigurationError(type(self).factory, found)

    factory = "Dataset"


def _bucket_problem(factory: str, bucket: object) -> list[str]:
    """The problem of a ``bucket`` argument that is not an ``s3.IBucket``, if it is not."""
    if has_attribute(bucket, "bucket_name"):
        return []
    return [
        f"dataset: {factory} bucket is a {type(bucket).__name__}; allowed: an "
        "s3.IBucket, e.g. s3.Bucket.from_bucket_name(scope, 'Data', 'my-bucket')"
    ]


def _are_extensions(value: object) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(isinstance(e, str) and e.startswith(".") and len(e) >= 2 for e in value)
    )


def _uri_problem(factory: str, argument: str, value: str) -> str | None:
    if value.startswith("s3://"):
        return (
            f"dataset: {factory} {argument} {value!r} is an S3 URI; allowed: the key within "
            f"the bucket given, e.g. {value[5:].partition('/')[2]!r}"
        )
    return None


class _LocalDirectory(Dataset):
    factory = "Dataset.from_local_directory"

    def __init__(self, path: str | Path, prefix: str) -> None:
        problems: list[str] = []
        if not isinstance(path, str | os.PathLike):
            problems.append(
                f"dataset: {self.factory} path is {type(path).__name__} {path!r:.60}; "
                "allowed: a folder, as a str or pathlib.Path"
            )
            path = ""
        if not isinstance(prefix, str):
            problems.append(
                f"dataset: {self.factory} prefix is {type(prefix).__name__} {prefix!r:.60}; "
                "allowed: a str, the key prefix in the input bucket (e.g. 'datasets')"
            )
            prefix = "datasets"
        self.path = Path(path)
        self.prefix = prefix.strip("/")
        self._argument_problems = tuple(problems)
        #: The folder's data objects and unreadable files, by data kind: read once, as
        #: synth asks for its problems and then for its manifest.
        self._read: dict[DataKind, tuple[list[tuple[str, str]], list[str]]] = {}

    def problems(self, data_kind: DataKind | None = None) -> list[str]:
        problems = super().problems(data_kind)
        if problems:
            return problems
        if not self.path.exists():
            what = "a folder of the data objects"
            if data_kind is not None:
                what = f"a folder of {_allowed_files(data_kind)}"
            return [f"dataset: {self.factory} path {self.path} does not exist; allowed: {what}"]
        if not self.path.is_dir():
            return [f"dataset: {self.factory} path {self.path} is a file; allowed: a folder"]
        if data_kind is not None:
            # The longest bucket name (63 characters) stands in for the input bucket's.
            problems += self._manifest(data_kind, "b" * 63)[1]
        return problems

    def _files(self, extensions: tuple[str, ...]) -> list[Path]:
        return sorted(
            p for p in self.path.rglob("*") if p.is_file() and p.suffix.lower() in extensions
        )

    def manifest_lines(self, data_kind: DataKind, bucket_name: str) -> list[str]:
        """The manifest, one JSON line per data object (``bucket_name`` may be a token);
        ``ConfigurationError`` listing every problem when it cannot be written."""
        self._raise_if_problems(data_kind)
        return self._manifest(data_kind, bucket_name)[0]

    def _objects(self, data_kind: DataKind) -> tuple[list[tuple[str, str]], list[str]]:
        """The data objects as ``(attribute, value)``: ``source-ref`` with the object's
        key, or ``source`` with one line of text; and the files that could not be read."""
        if data_kind not in self._read:
            objects: list[tuple[str, str]] = []
            unreadable: list[str] = []
            if data_kind is DataKind.IMAGE:
                objects = [("source-ref", self._key(f)) for f in self._files(IMAGE_EXTENSIONS)]
            else:
                for file in self._files(TEXT_EXTENSIONS):
                    try:
                        text = file.read_text(encoding="utf-8")
                    except (OSError, UnicodeDecodeError) as error:
                        unreadable.append(
                            f"dataset: {self.factory} cannot read {file} as UTF-8 text ({error})"
                        )
                        continue
                    objects += [
                        ("source", line.strip()) for line in text.splitlines() if line.strip()
                    ]
            self._read[data_kind] = (objects, unreadable)
        return self._read[data_kind]

    def _manifest(self, data_kind: DataKind, bucket_name: str) -> tuple[list[str], list[str]]:
        """The manifest's lines and what is wrong with them."""
        objects, unreadable = self._objects(data_kind)
        problems = list(unreadable)
        lines = [
            json.dumps({"source-ref": f"s3://{bucket_name}/{value}"})
            if attribute == "source-ref"
            else json.dumps({"source": value}, ensure_ascii=False)
            for attribute, value in objects
        ]
        if not lines and not problems:
            problems.append(
                f"dataset: {self.factory} folder {self.path} holds no data objects for "
                f"{'an image' if data_kind is DataKind.IMAGE else 'a text'} task; allowed: "
                f"{_allowed_files(data_kind)}"
            )
        too_long = [i + 1 for i, line in enumerate(lines) if len(line) > MAX_MANIFEST_LINE]
        if too_long:
            problems.append(
                f"dataset: {self.factory} manifest lines {too_long[:5]} exceed Ground "
                f"Truth's limit of {MAX_MANIFEST_LINE} characters"
            )
        return lines, problems

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


def _allowed_files(data_kind: DataKind) -> str:
    if data_kind is DataKind.IMAGE:
        return f"{', '.join(IMAGE_EXTENSIONS)} files (sub-folders included)"
    return f"{', '.join(TEXT_EXTENSIONS)} files, one data object per non-empty line"


class _ExistingManifest(Dataset):
    factory = "Dataset.from_manifest"

    def __init__(self, bucket: s3.IBucket, key: str, data_prefix: str | None) -> None:
        problems = _bucket_problem(self.factory, bucket)
        if not isinstance(key, str):
            problems.append(
                f"dataset: {self.factory} key is {type(key).__name__} {key!r:.60}; allowed: "
                "the manifest's S3 key, e.g. 'manifests/input.manifest'"
            )
            key = ""
        elif not Token.is_unresolved(key) and not key.strip("/ "):
            problems.append(
                f"dataset: {self.factory} key is empty; allowed: the manifest's S3 key, "
                "e.g. 'manifests/input.manifest'"
            )
        elif problem := _uri_problem(self.factory, "key", key):
            problems.append(problem)
        if data_prefix is not None and not isinstance(data_prefix, str):
            problems.append(
                f"dataset: {self.factory} data_prefix is {type(data_prefix).__name__}; "
                "allowed: a key prefix (str) or None"
            )
            data_prefix = None
        self.bucket = bucket
        self.key = key.lstrip("/")
        self.data_prefix = data_prefix
        self._argument_problems = tuple(problems)

    def manifest_attributes(self, data_kind: DataKind) -> Collection[str] | None:
        return None

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
        self._raise_if_problems(data_kind)
        data = f"{self.data_prefix.strip('/')}/*" if self.data_prefix else "*"
        return DatasetBinding(
            manifest_s3_uri=f"s3://{self.bucket.bucket_name}/{self.key}",
            read=[(self.bucket, self.key), (self.bucket, data)],
        )


class _S3Prefix(Dataset):
    factory = "Dataset.from_s3_prefix"

    def __init__(self, bucket: s3.IBucket, prefix: str, extensions: Sequence[str]) -> None:
        problems = _bucket_problem(self.factory, bucket)
        if not isinstance(prefix, str):
            problems.append(
                f"dataset: {self.factory} prefix is {type(prefix).__name__} {prefix!r:.60}; "
                "allowed: a key prefix (str), e.g. 'images/'"
            )
            prefix = ""
        elif problem := _uri_problem(self.factory, "prefix", prefix):
            problems.append(problem)
        elif any(c in prefix for c in "*?[") and not Token.is_unresolved(prefix):
            problems.append(
                f"dataset: {self.factory} prefix {prefix!r} holds a wildcard; allowed: the "
                "literal start of the keys (S3 prefixes match no patterns), e.g. 'images/'"
            )
        if not _are_extensions(extensions):
            problems.append(
                f"dataset: {self.factory} extensions is {extensions!r:.80}; allowed: a "
                "non-empty list of file extensions like ['.jpg', '.png']"
            )
            extensions = ()
        self.bucket = bucket
        self.prefix = prefix.lstrip("/")
        self.extensions = tuple(e.lower() for e in extensions)
        self._argument_problems = tuple(problems)

    def manifest_attributes(self, data_kind: DataKind) -> Collection[str] | None:
        return ("source-ref",)

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

        self._raise_if_problems(data_kind)
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
