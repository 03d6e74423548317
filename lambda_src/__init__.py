"""Lambda code of gt-constructs (standard library + boto3 only).

This folder is the Lambda asset itself: no bundling. It is also shipped inside
the Python package as ``gt_constructs.lambda_src`` so the construct finds it
wherever it is installed, and so the local workbench runs the very same code.
Code in the sub-packages uses relative imports only, so that it works both as
top-level packages (in Lambda) and inside ``gt_constructs.lambda_src``.
"""
