"""The labeling runtime: runs Ground Truth labeling jobs without Ground Truth.

``engine.Engine`` holds the logic (assignment, leases, expiry, batching,
output) once; ``store.Store`` keeps its records (``sqlite_store.SqliteStore``
on one machine, DynamoDB on AWS); ``blobs.Blobs`` reads inputs and writes
Ground Truth's output layout (a folder, or S3); ``invoke`` calls the pre- and
post-annotation Lambdas as Ground Truth does. Standard library + boto3 only:
the same code runs on one machine and on Lambda. Modules are imported by name
(``from gt_constructs.lambda_src.gt_runtime.engine import Engine``); this file
re-exports nothing so importing one part never imports the others.
"""
