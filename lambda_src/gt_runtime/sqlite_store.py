"""``SqliteStore``: the embedded ``Store`` (standard library ``sqlite3``), one file.

Safe with many threads and processes on one file: write-ahead logging (readers
never wait for the writer), one connection per thread, and every step that
must be atomic (claim, submit, decline, release, batches) is one ``BEGIN
IMMEDIATE`` transaction, which SQLite serializes across processes. The rules
the ``Store`` protocol states are enforced by the schema as well as by the
code: a partial unique index allows one active, submitted or declined task
per (job, object, worker), and every counter update is conditional.

Claims never scan: a partial index holds exactly the open objects with a free
slot, in input order, and the "not yet had by this worker" test is an index
probe. Objects are written in batches at job creation. ``synchronous=NORMAL``
(the default here) survives a killed process without losing a committed
answer; pass ``synchronous="FULL"`` to survive a power cut too.

``SqliteSkillStore`` keeps worker skill (the post-annotation function's
``GT_SKILL_TABLE``) in the same kind of file, so it survives a restart.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar

from ._annotation import skill as skill_module
from .model import (
    BatchRecord,
    BatchStatus,
    Conflict,
    JobRecord,
    ObjectCounts,
    ObjectRecord,
    ObjectResult,
    ObjectStatus,
    TaskRecord,
    TaskStatus,
)
from .store import own_active_task

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    job TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    needed INTEGER NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    submitted INTEGER NOT NULL DEFAULT 0,
    declined INTEGER NOT NULL DEFAULT 0,
    -- needed - active - submitted: the slots a worker can claim (kept by every update)
    free INTEGER NOT NULL,
    released_at REAL,
    available_until REAL,
    ended_at REAL,
    batch INTEGER,
    data_object TEXT NOT NULL,
    task_input TEXT,
    content TEXT,
    failure_reason TEXT,
    worker_response_uri TEXT,
    PRIMARY KEY (job, seq)
);
CREATE INDEX IF NOT EXISTS objects_by_status ON objects (job, status, seq);
CREATE INDEX IF NOT EXISTS objects_free ON objects (job, seq)
    WHERE status = 'open' AND free > 0;
CREATE INDEX IF NOT EXISTS objects_lifetime ON objects (job, available_until)
    WHERE status = 'open';
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    seq INTEGER NOT NULL,
    worker_id TEXT NOT NULL,
    worker TEXT NOT NULL,
    status TEXT NOT NULL,
    accepted_at REAL NOT NULL,
    deadline REAL NOT NULL,
    submitted_at REAL,
    answer TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_one_per_worker ON tasks (job, seq, worker_id)
    WHERE status IN ('active', 'submitted', 'declined');
CREATE INDEX IF NOT EXISTS tasks_by_worker ON tasks (job, worker_id, status);
CREATE INDEX IF NOT EXISTS tasks_by_object ON tasks (job, seq, status);
CREATE INDEX IF NOT EXISTS tasks_leases ON tasks (job, deadline) WHERE status = 'active';
CREATE TABLE IF NOT EXISTS batches (
    job TEXT NOT NULL,
    number INTEGER NOT NULL,
    status TEXT NOT NULL,
    stamp REAL NOT NULL,
    seqs TEXT NOT NULL,
    PRIMARY KEY (job, number)
);
CREATE INDEX IF NOT EXISTS batches_open ON batches (job) WHERE status = 'open';
"""

_BLOCKING = "('active', 'submitted', 'declined')"
_OBJECT_COLUMNS = (
    "job, seq, status, needed, active, submitted, declined, released_at, available_until, "
    "ended_at, batch, data_object, task_input, content, failure_reason, worker_response_uri"
)
_TASK_COLUMNS = (
    "task_id, job, seq, worker_id, worker, status, accepted_at, deadline, submitted_at, answer"
)
#: SQLite's default limit on host parameters is 999 on old builds: stay below it.
_CHUNK = 500


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class _Connections:
    """One connection per thread (and per process: a forked child opens its own)."""

    def __init__(self, path: str, synchronous: str, timeout: float) -> None:
        self.path = path
        self.synchronous = synchronous
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None or getattr(self._local, "pid", None) != os.getpid():
            connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA synchronous = {self.synchronous}")
            connection.execute("PRAGMA foreign_keys = OFF")
            self._local.connection = connection
            self._local.pid = os.getpid()
            with self._lock:
                self._all.append(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            for connection in self._all:
                with suppress(sqlite3.Error):
                    connection.close()
            self._all.clear()
        self._local = threading.local()


class SqliteStore:
    """The ``Store`` protocol on one SQLite file (see the module docstring)."""

    def __init__(
        self, path: str | os.PathLike[str], *, synchronous: str = "NORMAL", timeout: float = 30.0
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(
                f"synchronous {synchronous!r} is unknown; allowed: OFF, NORMAL, FULL, EXTRA"
            )
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connections = _Connections(str(self.path), synchronous.upper(), timeout)
        self.db.executescript(_SCHEMA)
        self.db.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
        )

    # ------------------------------------------------------------------ plumbing
    @property
    def db(self) -> sqlite3.Connection:
        return self._connections.get()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; SQLite serializes them across threads and processes."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        self._connections.close()

    # ------------------------------------------------------------------ jobs
    @staticmethod
    def _job(row: tuple[Any, ...] | None) -> JobRecord | None:
        if row is None:
            return None
        return JobRecord(**json.loads(row[0]))

    def put_job(self, job: JobRecord) -> bool:
        with self._write() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO jobs (name, status, created_at, data) VALUES (?, ?, ?, ?)",
                (job.name, job.status, job.created_at, _dumps(job.to_dict())),
            )
            return cursor.rowcount == 1

    def get_job(self, name: str) -> JobRecord | None:
        return self._job(
            self.db.execute("SELECT data FROM jobs WHERE name = ?", (name,)).fetchone()
        )

    def list_jobs(self) -> list[JobRecord]:
        rows = self.db.execute("SELECT data FROM jobs ORDER BY created_at, name").fetchall()
        return [job for job in map(self._job, rows) if job is not None]

    def update_job(
        self, name: str, *, expect_status: Sequence[str] | None = None, **changes: Any
    ) -> bool:
        with self._write() as db:
            return self._update_job(db, name, expect_status, changes)

    def _update_job(
        self,
        db: sqlite3.Connection,
        name: str,
        expect_status: Sequence[str] | None,
        changes: Mapping[str, Any],
    ) -> bool:
        job = self._job(db.execute("SELECT data FROM jobs WHERE name = ?", (name,)).fetchone())
        if job is None or (expect_status is not None and job.status not in expect_status):
            return False
        for key, value in changes.items():
            if not hasattr(job, key):
                raise AttributeError(f"a job has no field {key!r}")
            setattr(job, key, value)
        db.execute(
            "UPDATE jobs SET status = ?, data = ? WHERE name = ?",
            (job.status, _dumps(job.to_dict()), name),
        )
        return True

    # ------------------------------------------------------------------ objects
    @staticmethod
    def _object(row: Sequence[Any]) -> ObjectRecord:
        return ObjectRecord(
            job_name=row[0],
            seq=row[1],
            status=row[2],
            needed=row[3],
            active=row[4],
            submitted=row[5],
            declined=row[6],
            released_at=row[7],
            available_until=row[8],
            ended_at=row[9],
            batch=row[10],
            data_object=json.loads(row[11]),
            task_input=_loads(row[12]),
            content=_loads(row[13]),
            failure_reason=row[14],
            worker_response_uri=row[15],
        )

    def add_objects(self, job_name: str, objects: Sequence[ObjectRecord]) -> None:
        rows = [
            (
                job_name,
                o.seq,
                o.status,
                o.needed,
                o.active,
                o.submitted,
                o.declined,
                o.released_at,
                o.available_until,
                o.ended_at,
                o.batch,
                _dumps(o.data_object),
                _dumps(o.task_input),
                None if o.content is None else _dumps(o.content),
                o.failure_reason,
                o.worker_response_uri,
                o.free,
            )
            for o in objects
        ]
        with self._write() as db:
            db.executemany(
                f"INSERT OR IGNORE INTO objects ({_OBJECT_COLUMNS}, free) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def get_object(self, job_name: str, seq: int) -> ObjectRecord | None:
        row = self.db.execute(
            f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE job = ? AND seq = ?", (job_name, seq)
        ).fetchone()
        return None if row is None else self._object(row)

    def objects(
        self,
        job_name: str,
        *,
        start: int = 0,
        limit: int | None = None,
        statuses: Sequence[str] | None = None,
    ) -> list[ObjectRecord]:
        query = f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE job = ? AND seq >= ?"
        params: list[Any] = [job_name, start]
        if statuses is not None:
            query += f" AND status IN ({','.join('?' * len(statuses))})"
            params += list(statuses)
        query += " ORDER BY seq"
        if limit is not None:
            query += " LIMIT ?"
            params.append(int(limit))
        return [self._object(row) for row in self.db.execute(query, params)]

    def count_objects(self, job_name: str) -> ObjectCounts:
        rows = self.db.execute(
            "SELECT status, count(*) FROM objects WHERE job = ? GROUP BY status", (job_name,)
        ).fetchall()
        return ObjectCounts({status: count for status, count in rows})

    def release(
        self,
        job_name: str,
        *,
        now: float,
        lifetime_seconds: float,
        max_open: int,
        max_released: int,
    ) -> list[int]:
        with self._write() as db:
            job = self._job(
                db.execute("SELECT data FROM jobs WHERE name = ?", (job_name,)).fetchone()
            )
            if job is None:
                return []
            (open_now,) = db.execute(
                "SELECT count(*) FROM objects WHERE job = ? AND status = 'open'", (job_name,)
            ).fetchone()
            room = min(max_open - open_now, max_released - job.released)
            if room <= 0:
                return []
            seqs = [
                seq
                for (seq,) in db.execute(
                    "SELECT seq FROM objects WHERE job = ? AND status = 'pending' "
                    "ORDER BY seq LIMIT ?",
                    (job_name, room),
                )
            ]
            if not seqs:
                return []
            db.executemany(
                "UPDATE objects SET status = 'open', released_at = ?, available_until = ? "
                "WHERE job = ? AND seq = ? AND status = 'pending'",
                [(now, now + lifetime_seconds, job_name, seq) for seq in seqs],
            )
            self._update_job(db, job_name, None, {"released": job.released + len(seqs)})
            return seqs

    # ------------------------------------------------------------------ tasks
    @staticmethod
    def _task(row: Sequence[Any]) -> TaskRecord:
        return TaskRecord(
            task_id=row[0],
            job_name=row[1],
            seq=row[2],
            worker_id=row[3],
            worker=json.loads(row[4]),
            status=row[5],
            accepted_at=row[6],
            deadline=row[7],
            submitted_at=row[8],
            answer=_loads(row[9]),
        )

    def claim(
        self,
        job_name: str,
        *,
        worker_id: str,
        worker: dict[str, Any],
        task_id: str,
        now: float,
        deadline: float,
    ) -> TaskRecord | None:
        with self._write() as db:
            # The partial index objects_free holds exactly the candidates, in input order;
            # the worker's own tasks are an index probe per candidate.
            row = db.execute(
                "SELECT o.seq FROM objects AS o INDEXED BY objects_free "
                "WHERE o.job = ? AND o.status = 'open' AND o.free > 0 "
                "AND NOT EXISTS (SELECT 1 FROM tasks AS t WHERE t.job = o.job AND t.seq = o.seq "
                f"AND t.worker_id = ? AND t.status IN {_BLOCKING}) "
                "ORDER BY o.seq LIMIT 1",
                (job_name, worker_id),
            ).fetchone()
            if row is None:
                return None
            (seq,) = row
            taken = db.execute(
                "UPDATE objects SET active = active + 1, free = free - 1 WHERE job = ? "
                "AND seq = ? AND status = 'open' AND free > 0 AND active + submitted < needed",
                (job_name, seq),
            )
            if taken.rowcount != 1:  # cannot happen inside the transaction; never over-assign
                raise Conflict(f"object {seq} of {job_name!r} has no free slot")
            db.execute(
                f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (
                    task_id,
                    job_name,
                    seq,
                    worker_id,
                    _dumps(worker),
                    TaskStatus.ACTIVE,
                    now,
                    deadline,
                ),
            )
        return TaskRecord(
            task_id, job_name, seq, worker_id, dict(worker), TaskStatus.ACTIVE, now, deadline
        )

    def active_task(self, job_name: str, worker_id: str, now: float) -> TaskRecord | None:
        row = self.db.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE job = ? AND worker_id = ? "
            "AND status = 'active' AND deadline > ? ORDER BY accepted_at DESC LIMIT 1",
            (job_name, worker_id, now),
        ).fetchone()
        return None if row is None else self._task(row)

    def get_task(self, task_id: str) -> TaskRecord | None:
        row = self.db.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)
        ).fetchone()
        return None if row is None else self._task(row)

    def _active_own_task(
        self, db: sqlite3.Connection, task_id: str, worker_id: str, now: float, verb: str
    ) -> TaskRecord:
        row = db.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)
        ).fetchone()
        task = None if row is None else self._task(row)
        return own_active_task(task, task_id, worker_id, now, verb)

    @staticmethod
    def _end_if_done(
        db: sqlite3.Connection, job_name: str, seq: int, now: float, team_size: int | None
    ) -> None:
        """The object ends when it has all its answers, or when every team member has
        answered or declined it and nothing is out."""
        condition = "submitted >= needed"
        params: list[Any] = [now, job_name, seq]
        if team_size is not None:
            condition += " OR (active = 0 AND submitted + declined >= ?)"
            params.append(team_size)
        db.execute(
            "UPDATE objects SET status = 'ready', ended_at = ? "
            f"WHERE job = ? AND seq = ? AND status = 'open' AND ({condition})",
            params,
        )

    def submit(
        self,
        task_id: str,
        *,
        worker_id: str,
        answer: dict[str, Any],
        now: float,
        team_size: int | None,
    ) -> TaskRecord:
        with self._write() as db:
            task = self._active_own_task(db, task_id, worker_id, now, "submit")
            db.execute(
                "UPDATE tasks SET status = 'submitted', submitted_at = ?, answer = ? "
                "WHERE task_id = ? AND status = 'active'",
                (now, _dumps(answer), task_id),
            )
            db.execute(
                "UPDATE objects SET active = active - 1, submitted = submitted + 1 "
                "WHERE job = ? AND seq = ?",
                (task.job_name, task.seq),
            )
            self._end_if_done(db, task.job_name, task.seq, now, team_size)
        task.status, task.submitted_at, task.answer = TaskStatus.SUBMITTED, now, answer
        return task

    def decline(
        self, task_id: str, *, worker_id: str, now: float, team_size: int | None
    ) -> TaskRecord:
        with self._write() as db:
            task = self._active_own_task(db, task_id, worker_id, now, "decline")
            db.execute(
                "UPDATE tasks SET status = 'declined' WHERE task_id = ? AND status = 'active'",
                (task_id,),
            )
            db.execute(
                "UPDATE objects SET active = active - 1, declined = declined + 1, free = free + 1 "
                "WHERE job = ? AND seq = ?",
                (task.job_name, task.seq),
            )
            self._end_if_done(db, task.job_name, task.seq, now, team_size)
        task.status = TaskStatus.DECLINED
        return task

    def expire_leases(self, job_name: str, *, now: float, limit: int) -> int:
        with self._write() as db:
            rows = db.execute(
                "SELECT task_id, seq FROM tasks INDEXED BY tasks_leases "
                "WHERE job = ? AND status = 'active' AND deadline <= ? ORDER BY deadline LIMIT ?",
                (job_name, now, limit),
            ).fetchall()
            for task_id, seq in rows:
                db.execute(
                    "UPDATE tasks SET status = 'expired' WHERE task_id = ? AND status = 'active'",
                    (task_id,),
                )
                db.execute(
                    "UPDATE objects SET active = active - 1, free = free + 1 WHERE job = ? AND seq = ?",
                    (job_name, seq),
                )
            return len(rows)

    def end_objects(self, job_name: str, *, now: float, limit: int) -> int:
        with self._write() as db:
            seqs = [
                seq
                for (seq,) in db.execute(
                    "SELECT seq FROM objects INDEXED BY objects_lifetime WHERE job = ? "
                    "AND status = 'open' AND available_until <= ? ORDER BY available_until LIMIT ?",
                    (job_name, now, limit),
                )
            ]
            for seq in seqs:
                db.execute(
                    "UPDATE tasks SET status = 'cancelled' WHERE job = ? AND seq = ? "
                    "AND status = 'active'",
                    (job_name, seq),
                )
                db.execute(
                    "UPDATE objects SET status = 'ready', ended_at = ?, active = 0, free = 0 "
                    "WHERE job = ? AND seq = ?",
                    (now, job_name, seq),
                )
            return len(seqs)

    def cancel_active(self, job_name: str, *, now: float) -> int:
        with self._write() as db:
            rows = db.execute(
                "SELECT task_id, seq FROM tasks INDEXED BY tasks_leases "
                "WHERE job = ? AND status = 'active'",
                (job_name,),
            ).fetchall()
            for task_id, seq in rows:
                db.execute("UPDATE tasks SET status = 'cancelled' WHERE task_id = ?", (task_id,))
                db.execute(
                    "UPDATE objects SET active = active - 1, free = free + 1 WHERE job = ? AND seq = ?",
                    (job_name, seq),
                )
            return len(rows)

    def submitted_tasks(
        self, job_name: str, seqs: Iterable[int] | None = None
    ) -> dict[int, list[TaskRecord]]:
        found: dict[int, list[TaskRecord]] = {}
        base = f"SELECT {_TASK_COLUMNS} FROM tasks WHERE job = ? AND status = 'submitted'"
        order = " ORDER BY seq, submitted_at, task_id"
        queries: list[tuple[str, list[Any]]]
        if seqs is None:
            queries = [(base + order, [job_name])]
        else:
            wanted = sorted(set(seqs))
            queries = [
                (
                    base + f" AND seq IN ({','.join('?' * len(chunk))})" + order,
                    [job_name, *chunk],
                )
                for chunk in (wanted[i : i + _CHUNK] for i in range(0, len(wanted), _CHUNK))
            ]
        for query, params in queries:
            for row in self.db.execute(query, params):
                task = self._task(row)
                found.setdefault(task.seq, []).append(task)
        return found

    def count_submitted_by(self, job_name: str, worker_id: str) -> int:
        (count,) = self.db.execute(
            "SELECT count(*) FROM tasks WHERE job = ? AND worker_id = ? AND status = 'submitted'",
            (job_name, worker_id),
        ).fetchone()
        return int(count)

    # ------------------------------------------------------------------ batches
    @staticmethod
    def _batch(row: Sequence[Any] | None) -> BatchRecord | None:
        if row is None:
            return None
        job, number, status, stamp, seqs = row
        return BatchRecord(job, number, json.loads(seqs), stamp, status)

    def open_batch(self, job_name: str) -> BatchRecord | None:
        return self._batch(
            self.db.execute(
                "SELECT job, number, status, stamp, seqs FROM batches "
                "WHERE job = ? AND status = 'open' ORDER BY number LIMIT 1",
                (job_name,),
            ).fetchone()
        )

    def start_batch(self, job_name: str, *, now: float, limit: int) -> BatchRecord | None:
        with self._write() as db:
            existing = self._batch(
                db.execute(
                    "SELECT job, number, status, stamp, seqs FROM batches "
                    "WHERE job = ? AND status = 'open' ORDER BY number LIMIT 1",
                    (job_name,),
                ).fetchone()
            )
            if existing is not None:
                return existing
            job = self._job(
                db.execute("SELECT data FROM jobs WHERE name = ?", (job_name,)).fetchone()
            )
            if job is None:
                return None
            seqs = [
                seq
                for (seq,) in db.execute(
                    "SELECT seq FROM objects WHERE job = ? AND status = 'ready' ORDER BY seq LIMIT ?",
                    (job_name, limit),
                )
            ]
            if not seqs:
                return None
            number = job.batches
            stamp = float(max(int(now), int(job.last_batch_at) + 1))
            db.execute(
                "INSERT INTO batches (job, number, status, stamp, seqs) VALUES (?, ?, ?, ?, ?)",
                (job_name, number, BatchStatus.OPEN, stamp, _dumps(seqs)),
            )
            db.executemany(
                "UPDATE objects SET status = 'batched', batch = ? "
                "WHERE job = ? AND seq = ? AND status = 'ready'",
                [(number, job_name, seq) for seq in seqs],
            )
            self._update_job(db, job_name, None, {"batches": number + 1, "last_batch_at": stamp})
            return BatchRecord(job_name, number, seqs, stamp)

    def finish_batch(self, job_name: str, number: int, results: Sequence[ObjectResult]) -> bool:
        with self._write() as db:
            row = db.execute(
                "SELECT status FROM batches WHERE job = ? AND number = ?", (job_name, number)
            ).fetchone()
            if row is None or row[0] != BatchStatus.OPEN:
                return False
            for result in results:
                if result.status not in (ObjectStatus.LABELED, ObjectStatus.FAILED):
                    raise ValueError(f"a batch result must be labeled or failed: {result.status}")
            db.executemany(
                "UPDATE objects SET status = ?, content = ?, failure_reason = ?, "
                "worker_response_uri = ? WHERE job = ? AND seq = ? AND batch = ? "
                "AND status = 'batched'",
                [
                    (
                        r.status,
                        None if r.content is None else _dumps(r.content),
                        r.failure_reason,
                        r.worker_response_uri,
                        job_name,
                        r.seq,
                        number,
                    )
                    for r in results
                ],
            )
            db.execute(
                "UPDATE batches SET status = 'done' WHERE job = ? AND number = ?",
                (job_name, number),
            )
            return True


# ====================================================================== worker skill


class SqliteSkillStore:
    """Worker skill that survives a restart (``gt_annotation.skill.SkillStore``).

    The post-annotation function's ``GT_SKILL_TABLE`` names a DynamoDB table;
    here each table name is a partition of one SQLite file. Evidence is
    *added* (an upsert that sums), as DynamoDB's ``ADD`` does; a batch given
    with its key (``batch``, ``skill.batch_key``) is counted once: its record
    and its evidence are written in one transaction, and a retry finds the record.
    """

    #: Connections by file, shared by every store of this process on that file: a store made
    #: per invocation (one per batch) opens no new connection.
    _shared: ClassVar[dict[str, _Connections]] = {}
    _shared_lock = threading.Lock()

    def __init__(self, path: str | os.PathLike[str], table_name: str = "skill") -> None:
        self.path = Path(path).resolve()
        self.table_name = table_name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with SqliteSkillStore._shared_lock:
            connections = SqliteSkillStore._shared.get(str(self.path))
            if connections is None:
                connections = _Connections(str(self.path), "NORMAL", 30.0)
                SqliteSkillStore._shared[str(self.path)] = connections
        self._connections = connections
        db = self._connections.get()
        db.execute(
            "CREATE TABLE IF NOT EXISTS worker_skill (tbl TEXT NOT NULL, scope TEXT NOT NULL, "
            "worker TEXT NOT NULL, field TEXT NOT NULL, value REAL NOT NULL, "
            "PRIMARY KEY (tbl, scope, worker, field))"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS counted_batch (tbl TEXT NOT NULL, scope TEXT NOT NULL, "
            "batch TEXT NOT NULL, PRIMARY KEY (tbl, scope, batch))"
        )

    def for_table(self, table_name: str) -> SqliteSkillStore:
        """The same file, another table name (what ``route_skill_store_to`` is given)."""
        store = SqliteSkillStore.__new__(SqliteSkillStore)
        store.path, store.table_name, store._connections = self.path, table_name, self._connections
        return store

    def load(self, scope: str, workers: Iterable[str]) -> dict[str, Any]:
        names = sorted(set(workers))
        fields: dict[str, dict[str, float]] = {}
        db = self._connections.get()
        for start in range(0, len(names), _CHUNK):
            chunk = names[start : start + _CHUNK]
            rows = db.execute(
                "SELECT worker, field, value FROM worker_skill WHERE tbl = ? AND scope = ? "
                f"AND worker IN ({','.join('?' * len(chunk))})",
                [self.table_name, scope, *chunk],
            )
            for worker, name, value in rows:
                fields.setdefault(worker, {})[name] = value
        return {
            worker: skill_module.skill_from_fields(worker, values)
            for worker, values in fields.items()
        }

    def add(self, scope: str, updates: Mapping[str, Any], *, batch: str | None = None) -> bool:
        rows = [
            (self.table_name, scope, worker, name, value)
            for worker, delta in updates.items()
            for name, value in skill_module.update_fields(delta)
        ]
        if not rows:
            return True  # no evidence: nothing to count
        db = self._connections.get()
        db.execute("BEGIN IMMEDIATE")
        try:
            if batch is not None:
                new = db.execute(
                    "INSERT OR IGNORE INTO counted_batch (tbl, scope, batch) VALUES (?, ?, ?)",
                    (self.table_name, scope, batch),
                ).rowcount
                if not new:  # a retry of a batch already counted
                    db.execute("ROLLBACK")
                    return False
            db.executemany(
                "INSERT INTO worker_skill (tbl, scope, worker, field, value) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tbl, scope, worker, field) "
                "DO UPDATE SET value = value + excluded.value",
                rows,
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return True

    def close(self) -> None:
        with SqliteSkillStore._shared_lock:
            SqliteSkillStore._shared.pop(str(self.path), None)
        self._connections.close()


__all__ = ["SCHEMA_VERSION", "SqliteSkillStore", "SqliteStore"]
