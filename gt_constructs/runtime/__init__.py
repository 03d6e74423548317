"""The labeling runtime's wing: run a job without Ground Truth, on this machine.

``server`` (the portal and task origins, Starlette + uvicorn), ``auth`` (local
accounts, sign-in, sessions, CSRF), ``task_page`` (the template rendered per task),
``serve`` (the ``gt-constructs serve`` command), ``local_app`` (a CDK app's job, run
locally). The engine they drive is ``gt_constructs.lambda_src.gt_runtime``.
"""
