"""gt-constructs: Amazon SageMaker Ground Truth custom labeling jobs as AWS CDK constructs."""
