"""A fork server per run: TensorFlow imported once, workers forked from it.

:mod:`harness.forkserver.server` is the server's process; :mod:`harness.forkserver.client`
starts it and forks the isolated backend's workers and the converters from it.
"""
