"""The local workbench: ``gt-constructs validate|preview|consolidate|simulate``.

One module per command, ``cli`` parses the arguments and dispatches; the
stand-in for Crowd HTML Elements (``crowd-stand-in.css``/``.js``) sits beside them.
"""
