"""Custom-resource handlers: labeling job lifecycle, manifest crawler, workforce."""
