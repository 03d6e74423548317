"""Annotation Lambdas: pre-annotation and consolidation (post-annotation)."""
