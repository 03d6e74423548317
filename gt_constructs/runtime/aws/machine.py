"""The job's life as a Step Functions state machine (one execution per job).

    Resume? ─no─> Initialize ─> PreAnnotate (Distributed Map over manifest chunks)
       │                          └─> PreAnnotateChunk (pre-annotation Lambda per line)
       │          ─> Start (InProgress, first release window)
       └─yes─────────────┐
                         v
      ┌──> Wait (the seconds the last step asked for) ─> Tick ─> Next? ─done──> Finished
      │                                                           │ │
      └───────────────────────── more rounds ─────────────────────┘ └─ MAX_ROUNDS ─>
                                           ContinueAsNew (a new execution resumes the job)

Each step is one short call of the engine (``gt_runtime.aws_tasks``): no Lambda loops
or waits. ``Tick`` returns leases that ran out to the pool, ends objects whose
availability lifetime passed, releases up to ``MaxConcurrentTaskCount``, runs the
consolidation batches (post-annotation Lambda), applies the stopping conditions and,
at the end, writes the final manifest; it says when it wants to run next (soon while
workers are busy, less often while nothing is out). A Standard execution holds at most
25,000 history events, so after ``MAX_ROUNDS`` rounds the execution hands the job to a
new one of the same machine (``$$.StateMachine.Id``) and ends. Any failure marks the
job Failed with the error (``MarkFailed``) before the execution fails.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

#: Wait/Tick rounds per execution: about 8 history events each, under the 25,000 limit.
MAX_ROUNDS = 2500
#: Concurrent pre-annotation chunks (each invokes the job's pre-annotation Lambda per line).
PRE_ANNOTATION_CONCURRENCY = 20


def _step(
    scope: Construct,
    construct_id: str,
    function: lambda_.IFunction,
    payload: dict[str, object],
    *,
    result_path: str | None,
) -> tasks.LambdaInvoke:
    step = tasks.LambdaInvoke(
        scope,
        construct_id,
        lambda_function=function,
        payload=sfn.TaskInput.from_object(payload),
        payload_response_only=True,
        result_path=result_path,
        retry_on_service_exceptions=True,
    )
    return step


def job_definition(scope: Construct, steps: lambda_.IFunction) -> sfn.IChainable:
    """The definition; ``steps`` is the function that runs each step (``aws_tasks.handler``)."""
    failed = _step(
        scope,
        "MarkFailed",
        steps,
        {"action": "fail", "state.$": "$"},
        result_path=sfn.JsonPath.DISCARD,
    ).next(sfn.Fail(scope, "JobFailed", error="LabelingJobFailed", cause="See MarkFailed"))

    initialize = _step(
        scope,
        "Initialize",
        steps,
        {"action": "initialize", "request.$": "$.request"},
        result_path="$.job",
    )
    chunk = _step(
        scope,
        "PreAnnotateChunk",
        steps,
        {"action": "pre_annotate", "jobName.$": "$.jobName", "chunk.$": "$.chunk"},
        result_path=sfn.JsonPath.DISCARD,
    )
    chunk.add_retry(
        errors=["Lambda.TooManyRequestsException", "Lambda.ServiceException"],
        interval=Duration.seconds(2),
        max_attempts=3,
        backoff_rate=2,
    )
    pre_annotate = sfn.DistributedMap(
        scope,
        "PreAnnotate",
        items_path="$.job.chunks",
        item_selector={"jobName.$": "$.job.jobName", "chunk.$": "$$.Map.Item.Value"},
        max_concurrency=PRE_ANNOTATION_CONCURRENCY,
        result_path=sfn.JsonPath.DISCARD,
    )
    pre_annotate.item_processor(chunk)
    start = _step(
        scope,
        "Start",
        steps,
        {"action": "start", "jobName.$": "$.job.jobName"},
        result_path="$.tick",
    )
    wait = sfn.Wait(scope, "Wait", time=sfn.WaitTime.seconds_path("$.tick.wait"))
    tick = _step(
        scope,
        "Tick",
        steps,
        {
            "action": "tick",
            "jobName.$": "$.job.jobName",
            "round.$": "$.tick.round",
            "wait.$": "$.tick.wait",
        },
        result_path="$.tick",
    )
    tick.add_retry(
        errors=["States.TaskFailed"], interval=Duration.seconds(5), max_attempts=5, backoff_rate=2
    )
    # The machine starts a new execution of itself: ``$$.StateMachine.Id`` (an ARN in the
    # definition would make the machine depend on itself).
    continue_as_new = sfn.CustomState(
        scope,
        "ContinueAsNew",
        state_json={
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution",
            "Parameters": {
                "StateMachineArn.$": "$$.StateMachine.Id",
                "Input": {
                    "resume": True,
                    "job.$": "$.job",
                    "tick": {"done": False, "wait": 1, "round": 0},
                    "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                },
            },
            "ResultPath": None,
        },
    )
    finished = sfn.Succeed(scope, "Finished")
    for step in (initialize, pre_annotate, start, tick, continue_as_new):
        step.add_catch(failed, errors=["States.ALL"], result_path="$.error")

    loop = _loop(scope, wait, tick, continue_as_new, finished)
    begin = (
        initialize.next(pre_annotate)
        .next(start)
        .next(
            sfn.Choice(scope, "Started?")
            .when(sfn.Condition.boolean_equals("$.tick.done", True), finished)
            .otherwise(loop)
        )
    )
    return (
        sfn.Choice(scope, "Resume?")
        .when(sfn.Condition.is_present("$.resume"), loop)
        .otherwise(begin)
    )


def _loop(
    scope: Construct,
    wait: sfn.Wait,
    tick: tasks.LambdaInvoke,
    continue_as_new: sfn.CustomState,
    finished: sfn.Succeed,
) -> sfn.IChainable:
    """Wait, Tick, then finished, handed over (``MAX_ROUNDS``) or another round."""
    return wait.next(tick).next(
        sfn.Choice(scope, "Next?")
        .when(sfn.Condition.boolean_equals("$.tick.done", True), finished)
        .when(
            sfn.Condition.number_greater_than_equals("$.tick.round", MAX_ROUNDS),
            continue_as_new.next(sfn.Succeed(scope, "HandedOver")),
        )
        .otherwise(wait)
    )
