"""``gt-constructs serve``: run one labeling job on this machine, in the browser.

From flags (a manifest, a template, a task type, labels) or from a CDK app
(``--app "python3 app.py"``: the ``CustomLabelingJob``'s synthesized request, with its
template, local dataset and Lambda settings). Everything lives under ``--data DIR``:

- ``DIR/input/``: the job's inputs as the local bucket ``s3://input/`` (manifest,
  template, label categories, the data objects copied from the manifest's paths);
- ``DIR/output/<job name>/``: Ground Truth's output layout (``s3://output/``);
- ``DIR/state/``: the job store, the accounts and sessions, the worker-skill store, the
  signing key (SQLite files and a 0600 key file);
- ``DIR/requester-token`` (0600): the requester's API token (``Authorization: Bearer``);
- ``DIR/serve.json``: the portal's and the task origin's URLs, the job and its team (what
  ``gt-constructs simulate --against URL --data DIR`` reads).

Run it again with the same ``DIR`` and the job resumes where it was.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..lambda_src.gt_runtime.blobs import LocalBlobs
from ..lambda_src.gt_runtime.engine import Engine
from ..lambda_src.gt_runtime.invoke import InProcessInvoker
from ..lambda_src.gt_runtime.model import JobStatus, RuntimeApiError
from ..lambda_src.gt_runtime.signing import Signer
from ..lambda_src.gt_runtime.sqlite_store import SqliteSkillStore, SqliteStore
from ..template import CROWD_ELEMENTS_SCRIPT
from ..workbench.common import WorkbenchError, parse_labels, parse_task_type, say
from .auth import Accounts, AuthError, requester_token
from .local_job import ACCOUNT, REGION, LocalJob, LocalJobError, from_flags
from .report import report_html
from .server import Host, identity_of, new_secret_key

SERVE_FILE = "serve.json"


@dataclass
class Runtime:
    """A job's engine, accounts and host, opened on a serve folder."""

    host: Host
    engine: Engine
    accounts: Accounts
    job: LocalJob
    data_dir: Path
    requester_token: str

    def close(self) -> None:
        self.engine.store.close()
        self.accounts.close()


def _write_inputs(blobs: LocalBlobs, files: dict[str, bytes]) -> None:
    for uri, data in files.items():
        path = blobs.path(uri)
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            continue
        blobs.write(uri, data)


def team_members(accounts: Accounts, team: str) -> list[str]:
    """Worker ids of the team's members (ends an object every member declined)."""
    return [identity_of(a).worker_id(REGION) for a in accounts.workers() if team in a.teams]


def open_runtime(
    job: LocalJob,
    data_dir: Path,
    *,
    portal_origin: str,
    task_origin: str,
    elements_url: str | None = CROWD_ELEMENTS_SCRIPT,
    clock: Callable[[], float] = time.time,
    **engine_options: Any,
) -> Runtime:
    """Open (or resume) ``job`` under ``data_dir``: inputs written, workers added, the job
    created (idempotent by name). ``RuntimeApiError`` (e.g. ``JobConfigError``) when the
    job cannot run; nothing of the job is stored then."""
    data_dir.mkdir(parents=True, exist_ok=True)
    state = data_dir / "state"
    state.mkdir(exist_ok=True)
    blobs = LocalBlobs(data_dir)
    _write_inputs(blobs, job.files)
    store = SqliteStore(state / "runtime.sqlite3")
    skills = state / "worker-skill.sqlite3"
    invoker = InProcessInvoker(
        job.functions,
        blobs,
        skill_store=lambda table: SqliteSkillStore(skills, table),
        log_path=state / "functions.log",  # the Lambdas' log lines and metrics
    )
    engine = Engine(
        store, blobs, invoker, region=REGION, account=ACCOUNT, clock=clock, **engine_options
    )
    accounts = Accounts(state / "auth.sqlite3", clock=clock)
    try:
        token = requester_token(accounts, data_dir)
        for email in job.worker_emails:
            accounts.add_worker(email, [job.team])
        engine.create_job(job.request, team_members=team_members(accounts, job.team))
        engine.set_team_members(job.name, team_members(accounts, job.team))
    except BaseException:
        store.close()
        accounts.close()
        raise
    signer = Signer(new_secret_key(state / "signing-key"))
    host = Host(
        engine=engine,
        accounts=accounts,
        signer=signer,
        portal_origin=portal_origin,
        task_origin=task_origin,
        elements_url=elements_url,
        default_teams=(job.team,),
        read_blob=lambda uri: _read_data(blobs, uri),
        report=lambda name: report_html(engine, name, job.functions),
        on_workers_added=lambda: _refresh_teams(engine, accounts),
        clock=clock,
    )
    return Runtime(host, engine, accounts, job, data_dir, token)


def _read_data(blobs: LocalBlobs, uri: str) -> bytes:
    if not uri.startswith("s3://") or "/" not in uri[5:].strip("/"):
        raise FileNotFoundError(uri)
    return blobs.read(uri)


def _refresh_teams(engine: Engine, accounts: Accounts) -> None:
    for summary in engine.list_jobs():
        if summary["LabelingJobStatus"] in JobStatus.FINAL:
            continue
        team = str(summary["WorkteamArn"]).rsplit("/", 1)[-1]
        engine.set_team_members(summary["LabelingJobName"], team_members(accounts, team))


# -- the command -------------------------------------------------------------------------------
def load_job(args: argparse.Namespace) -> LocalJob:
    """The job the arguments describe; ``WorkbenchError`` with every problem."""
    if args.manifest and args.app:
        raise WorkbenchError("give either --manifest (a job from flags) or --app (a CDK app)")
    if not args.manifest:
        from .local_app import from_app

        command = args.app or _cdk_json_app()
        if command is None:
            raise WorkbenchError(
                "no job given: pass --manifest FILE --task-type T --labels ..., or --app "
                '"python3 app.py" (or run in a folder whose cdk.json names the app)'
            )
        try:
            return from_app(command, job=args.job, context=args.context, worker_emails=args.workers)
        except LocalJobError as error:
            raise WorkbenchError(_problems("the CDK app's job cannot run here", error)) from None
    if not args.task_type:
        raise WorkbenchError("--manifest needs --task-type")
    task_type = parse_task_type(args.task_type)
    try:
        return from_flags(
            manifest=Path(args.manifest),
            template=Path(args.template) if args.template else None,
            task_type=task_type,
            labels=parse_labels(args.labels) or [],
            workers_per_object=args.workers_per_object,
            label_attribute=args.label_attribute,
            worker_emails=args.workers,
            time_limit_seconds=args.task_time_limit,
        )
    except LocalJobError as error:
        raise WorkbenchError(_problems("the job cannot run", error)) from None


def _problems(head: str, error: LocalJobError) -> str:
    return head + ":\n" + "\n".join(f"  {p}" for p in error.problems)


def _cdk_json_app() -> str | None:
    path = Path("cdk.json")
    if not path.is_file():
        return None
    try:
        app = json.loads(path.read_text(encoding="utf-8")).get("app")
    except ValueError:
        return None
    return app if isinstance(app, str) else None


def run(args: argparse.Namespace) -> int:
    task_port = args.task_port or args.port + 1
    portal_origin = (args.portal_url or f"http://localhost:{args.port}").rstrip("/")
    task_origin = (args.task_url or f"http://127.0.0.1:{task_port}").rstrip("/")
    if portal_origin == task_origin:
        raise WorkbenchError(
            "--portal-url and --task-url must differ: task pages need their own origin"
        )
    job = load_job(args)
    data_dir = Path(args.data).resolve()
    from ..workbench.preview import default_elements_url

    try:
        runtime = open_runtime(
            job,
            data_dir,
            portal_origin=portal_origin,
            task_origin=task_origin,
            elements_url=None if args.offline else default_elements_url(),
        )
    except RuntimeApiError as error:
        problems = getattr(error, "problems", None) or [error.message]
        raise WorkbenchError(
            "the job cannot run:\n" + "\n".join(f"  {p}" for p in problems)
        ) from None
    except AuthError as error:
        raise WorkbenchError(str(error)) from None
    try:
        _write_serve_file(runtime, portal_origin, task_origin)
        _print_links(runtime, portal_origin)
        if args.check:
            return 0
        from .server import serve_forever

        addresses = [args.host] + (["::1"] if args.host == "127.0.0.1" else [])
        say(
            f"serving the portal on {portal_origin} and task pages on {task_origin} "
            "(Ctrl+C stops; run again with the same --data to resume)"
        )
        serve_forever(runtime.host, addresses=addresses, port=args.port, task_port=task_port)
        return 0
    finally:
        runtime.close()


def output_folder(runtime: Runtime) -> Path:
    """Where the job's output (Ground Truth's layout) is written."""
    base = str(runtime.job.request["OutputConfig"]["S3OutputPath"]).rstrip("/")
    return Path(runtime.engine.blobs.path(f"{base}/{runtime.job.name}"))


def _write_serve_file(runtime: Runtime, portal: str, task: str) -> None:
    info = {
        "portal": portal,
        "taskOrigin": task,
        "job": runtime.job.name,
        "team": runtime.job.team,
        "requesterTokenFile": str(runtime.data_dir / "requester-token"),
        "output": str(output_folder(runtime)),
        "pid": os.getpid(),
    }
    (runtime.data_dir / SERVE_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _print_links(runtime: Runtime, portal: str) -> None:
    described = runtime.engine.describe_job(runtime.job.name)
    human = described["HumanTaskConfig"]
    print(
        f"Labeling job {runtime.job.name} ({described['LabelingJobStatus']}): "
        f"{described['RuntimeDetails']['Objects']} data objects, "
        f"{human['NumberOfHumanWorkersPerDataObject']} worker(s) per object, "
        f"team {runtime.job.team}"
    )
    print(f"Portal:    {portal}/")
    link = runtime.accounts.new_link_token(runtime.accounts.ensure_requester().email)
    print(f"Requester: {portal}/auth/link/{link}")
    workers = [a for a in runtime.accounts.workers() if runtime.job.team in a.teams]
    for account in workers:
        token = runtime.accounts.new_link_token(account.email)
        print(f"Worker {account.email}: {portal}/auth/link/{token}")
    if not workers:
        print("No workers yet: add them with --workers EMAIL ... or on the requester's page.")
    print(f"Requester API token: {runtime.data_dir / 'requester-token'} (Authorization: Bearer)")
    print(f"Output:    {output_folder(runtime)}/")
    sys.stdout.flush()
