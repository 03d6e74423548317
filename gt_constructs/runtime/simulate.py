"""``gt-constructs simulate --against URL --data DIR --workers K``: simulated workers over HTTP.

Drives a running ``gt-constructs serve`` as K workers until its job completes,
through the same doors a person uses: the requester adds the workers (the
requester's token in ``DIR/requester-token``), each worker signs in with their
one-time link, claims a task (``POST /api/jobs/<job>/claim``), opens the task
page on the task origin (the rendered template), and submits through the
Mechanical Turk contract a ``<crowd-form>`` uses: ``POST
<turkSubmitTo>/mturk/externalSubmit`` with ``assignmentId`` and
``taskAnswers`` (a JSON array holding one object keyed by element name).

Answers are shaped like each element's real output, from the workbench's
answer families (classification, multi-label, boxes, entities): the element
and its labels are read from the rendered page. Each object gets one hidden
true label; each worker is right with probability ``--accuracy``.

``--think SECONDS``: each worker spends that long on a task (uniformly 0.5 to 1.5
times it) between opening the page and submitting, as a person does; the
latency figures (claim + render + submit) leave that time out. Default 0: the
workers submit at once, and the server is driven as hard as they can drive it.

Exits 0 when the job completed, 1 with a message otherwise (an HTTP answer
that is not what the contract says, a job that fails or stops, a time-out).
"""

from __future__ import annotations

import html
import json
import random
import re
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..task_type import TaskType
from ..workbench.common import WorkbenchError
from ..workbench.simulate import SimWorker, _family

SERVE_FILE = "serve.json"
_ELEMENT = re.compile(r"<(crowd-[a-z-]+)\b([^>]*)>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"""([a-zA-Z-]+)\s*=\s*("([^"]*)"|'([^']*)')""")
#: Answer elements and the task type whose answer family shapes their output.
ELEMENT_TASK_TYPES = {
    "crowd-image-classifier": TaskType.IMAGE_CLASSIFICATION,
    "crowd-classifier": TaskType.TEXT_CLASSIFICATION,
    "crowd-image-classifier-multi-select": TaskType.IMAGE_MULTI_LABEL,
    "crowd-classifier-multi-select": TaskType.TEXT_MULTI_LABEL,
    "crowd-bounding-box": TaskType.BOUNDING_BOX,
    "crowd-entity-annotation": TaskType.NAMED_ENTITY,
}


class SimulationError(WorkbenchError):
    """Something is wrong with the server or the run; the message says what."""


@dataclass(frozen=True)
class AnswerShape:
    """What the task page asks for: the answer element, its ``name`` and its labels."""

    element: str
    name: str
    labels: tuple[str, ...]

    @staticmethod
    def of_page(page: str) -> AnswerShape:
        """The first answer element of a rendered task page."""
        for match in _ELEMENT.finditer(page):
            tag = match.group(1).lower()
            if tag not in ELEMENT_TASK_TYPES:
                continue
            attributes = {
                m.group(1).lower(): html.unescape(
                    m.group(3) if m.group(3) is not None else m.group(4)
                )
                for m in _ATTRIBUTE.finditer(match.group(2))
            }
            raw = attributes.get("categories") or attributes.get("labels") or "[]"
            try:
                values = json.loads(raw)
            except ValueError:
                values = []
            labels = tuple(
                str(v.get("label")) if isinstance(v, dict) else str(v)
                for v in values
                if (v.get("label") if isinstance(v, dict) else v) is not None
            )
            if len(labels) < 2:
                labels = labels or ("A", "B")
            return AnswerShape(tag, attributes.get("name") or "annotatedResult", labels)
        supported = ", ".join(ELEMENT_TASK_TYPES)
        raise SimulationError(
            f"the task page has no answer element simulate knows; supported: {supported}"
        )


@dataclass
class Figures:
    """What the run measured."""

    latencies: list[float] = field(default_factory=list)
    claims: int = 0
    submits: int = 0
    empty_claims: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.submits += 1

    def percentile(self, share: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        return {
            "submits": self.submits,
            "emptyClaims": self.empty_claims,
            "p50Ms": _ms(self.percentile(0.50)),
            "p99Ms": _ms(self.percentile(0.99)),
            "meanMs": _ms(statistics.fmean(self.latencies)) if self.latencies else None,
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _transport() -> Any:
    """Requests go out at once (TCP_NODELAY): without it a small POST can wait for a
    delayed ACK (tens of milliseconds) and the figures measure the network stack."""
    import socket

    import httpx

    return httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])


def _client(base: str = "", **headers: str) -> Any:
    import httpx

    return httpx.Client(
        base_url=base,
        headers=headers,
        timeout=30.0,
        follow_redirects=False,
        transport=_transport(),
    )


def _expect(response: Any, statuses: Sequence[int], what: str) -> Any:
    if response.status_code not in statuses:
        try:
            detail = response.json().get("message")
        except ValueError:
            detail = response.text[:200]
        raise SimulationError(f"{what}: HTTP {response.status_code} ({detail})")
    return response


class Simulation:
    """K simulated workers against a running server (see the module docstring)."""

    def __init__(
        self,
        portal: str,
        data: Path,
        *,
        workers: int,
        accuracy: float = 0.85,
        seed: int = 1,
        timeout: float = 600.0,
        job: str | None = None,
        log: Callable[[str], None] = print,
        think: float = 0.0,
    ) -> None:
        if workers < 1:
            raise SimulationError(f"--workers must be 1 or more, got {workers}")
        if not 0.0 <= think <= 3600.0:
            raise SimulationError(f"--think must be 0 to 3600 seconds, got {think}")
        self.think = think
        if not 0.0 <= accuracy <= 1.0:
            raise SimulationError(f"--accuracy must be in [0, 1], got {accuracy}")
        self.portal = portal.rstrip("/")
        self.data = data
        self.workers = workers
        self.accuracy = accuracy
        self.seed = seed
        self.timeout = timeout
        self.log = log
        token_file = data / "requester-token"
        if not token_file.is_file():
            raise SimulationError(
                f"{token_file} not found: --data must be the folder `gt-constructs serve --data` "
                "keeps its state in"
            )
        self.token_file = token_file
        self.requester = self._requester_client()
        self.job = job or self._running_job()
        self.figures = Figures()
        self._shape: AnswerShape | None = None
        self._shape_lock = threading.Lock()
        self._stop = threading.Event()
        self._errors: list[str] = []

    # -- requester side ----------------------------------------------------------------------
    def _requester_client(self, wait: float = 60.0) -> Any:
        """A client with the requester's token; waits while the server is still starting
        (no answer yet, or the token file being written)."""
        deadline = time.monotonic() + wait
        while True:
            token = self.token_file.read_text().strip()
            client = _client(self.portal, authorization="Bearer " + token)
            try:
                if token and client.get("/api/requester/jobs").status_code == 200:
                    return client
            except Exception as error:  # not listening yet
                if time.monotonic() > deadline:
                    raise SimulationError(f"no server at {self.portal} ({error})") from None
            if time.monotonic() > deadline:
                raise SimulationError(
                    f"the requester's token in {self.token_file} is refused by {self.portal}: "
                    "is --data the folder of the server at --against?"
                )
            client.close()
            time.sleep(0.5)

    def _running_job(self) -> str:
        jobs = _expect(self.requester.get("/api/requester/jobs"), [200], "listing jobs").json()
        running = [j for j in jobs.get("jobs", []) if j.get("LabelingJobStatus") == "InProgress"]
        if not running:
            raise SimulationError(f"no job in progress at {self.portal}")
        return str(running[0]["LabelingJobName"])

    def describe(self) -> dict[str, Any]:
        response = self.requester.get(f"/api/requester/jobs/{self.job}")
        return dict(_expect(response, [200], f"describing job {self.job}").json())

    def _add_workers(self, team: str) -> list[str]:
        emails = [f"sim-{self.seed}-{i}@simulated.invalid" for i in range(self.workers)]
        response = self.requester.post(
            "/api/requester/workers", json={"emails": emails, "teams": [team]}
        )
        added = _expect(response, [200], "adding the simulated workers").json()["workers"]
        return [str(w["signInLink"]) for w in added]

    # -- worker side ---------------------------------------------------------------------------
    def _sign_in(self, link: str) -> tuple[Any, str]:
        client = _client(self.portal)
        path = urlsplit(link).path
        _expect(client.post(path), [303], "signing in with the one-time link")
        me = _expect(client.get("/api/me"), [200], "reading /api/me").json()
        return client, str(me.get("csrfToken") or "")

    def _answer(self, rng: random.Random, worker: SimWorker, object_id: str) -> dict[str, Any]:
        assert self._shape is not None
        family = _family(ELEMENT_TASK_TYPES[self._shape.element], len(self._shape.labels))
        truth_rng = random.Random(f"{self.seed}/{object_id}")
        truth = family.truth(
            truth_rng, self._shape.labels, int(object_id) if object_id.isdigit() else 0
        )
        return {self._shape.name: family.answer(rng, worker, truth, self._shape.labels)}

    def _work(self, index: int, link: str) -> None:
        rng = random.Random(self.seed * 7919 + index)
        worker = SimWorker(f"sim-{index}", self.accuracy, spammer=False)
        try:
            client, csrf = self._sign_in(link)
            headers = {"x-csrf-token": csrf, "origin": self.portal}
            pages = _client()
            while not self._stop.is_set():
                started = time.perf_counter()
                response = client.post(f"/api/jobs/{self.job}/claim", headers=headers)
                if response.status_code in (204, 404) and "task" not in _json(response):
                    with self.figures.lock:
                        self.figures.empty_claims += 1
                    time.sleep(0.05 + rng.random() * 0.1)
                    continue
                if response.status_code == 409:  # the job stopped or completed
                    return
                task = _expect(response, [200], "claiming a task").json()["task"]
                page = _expect(pages.get(task["taskUrl"]), [200], "opening the task page").text
                opened = time.perf_counter()
                with self._shape_lock:
                    if self._shape is None:
                        self._shape = AnswerShape.of_page(page)
                query = parse_qs(urlsplit(task["taskUrl"]).query)
                submit_to = query["turkSubmitTo"][0].rstrip("/") + "/mturk/externalSubmit"
                answer = self._answer(rng, worker, str(task["dataset_object_id"]))
                form = {
                    "assignmentId": query.get("assignmentId", [task["task_id"]])[0],
                    "taskAnswers": json.dumps([answer]),
                }
                if self.think:  # the worker at work on the page: not the server's time
                    self._stop.wait(self.think * rng.uniform(0.5, 1.5))
                sent = time.perf_counter()
                result = pages.post(submit_to, data=form)
                if result.status_code == 409:  # lease ran out or the job ended meanwhile
                    continue
                _expect(result, [200], "submitting through /mturk/externalSubmit")
                # the server's part: claim and page, then the submit (not the worker's work)
                self.figures.add(opened - started + time.perf_counter() - sent)
        except SimulationError as error:
            self._errors.append(f"worker {index}: {error}")
            self._stop.set()
        except Exception as error:  # a transport failure: report it, stop the run
            self._errors.append(f"worker {index}: {type(error).__name__}: {error}")
            self._stop.set()

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Work until the job completes; the figures. ``SimulationError`` otherwise."""
        description = self.describe()
        team = str(description["HumanTaskConfig"]["WorkteamArn"]).rsplit("/", 1)[-1]
        links = self._add_workers(team)
        self.log(f"{len(links)} simulated worker(s) on job {self.job} at {self.portal}")
        started = time.perf_counter()
        threads = [
            threading.Thread(target=self._work, args=(i, link), daemon=True)
            for i, link in enumerate(links)
        ]
        for thread in threads:
            thread.start()
        status = description["LabelingJobStatus"]
        while time.perf_counter() - started < self.timeout and not self._errors:
            status = self.describe()["LabelingJobStatus"]
            if status in ("Completed", "Failed", "Stopped"):
                break
            time.sleep(0.5)
        self._stop.set()
        for thread in threads:
            thread.join(timeout=30)
        if self._errors:
            raise SimulationError("; ".join(self._errors[:5]))
        elapsed = time.perf_counter() - started
        final = self.describe()
        if final["LabelingJobStatus"] != "Completed":
            raise SimulationError(
                f"job {self.job} is {final['LabelingJobStatus']} after {elapsed:.0f} s "
                f"(expected Completed){': ' + final['FailureReason'] if final.get('FailureReason') else ''}"
            )
        return {
            "job": self.job,
            "workers": self.workers,
            "seconds": round(elapsed, 2),
            "labelCounters": final["LabelCounters"],
            **self.figures.summary(),
        }


def _json(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def portal_of(against: str, data: Path) -> str:
    """The portal URL: ``--against``, checked against ``DIR/serve.json`` when present."""
    if against:
        return against
    info = data / SERVE_FILE
    if info.is_file():
        return str(json.loads(info.read_text())["portal"])
    raise SimulationError("give --against URL (the portal URL serve printed)")


def run(args: Any) -> int:
    """The ``simulate --against`` command."""
    data = Path(args.data).resolve()
    simulation = Simulation(
        portal_of(args.against, data),
        data,
        workers=args.workers,
        accuracy=getattr(args, "accuracy", 0.85),
        seed=args.seed,
        timeout=getattr(args, "timeout", 600.0),
        think=getattr(args, "think", 0.0),
    )
    figures = simulation.run()
    print(json.dumps(figures, indent=2))
    return 0


__all__ = ["AnswerShape", "Simulation", "SimulationError", "run"]
