"""Fleets: every model of an organisation checked in one run.

``describe`` reads a fleet (a TF Serving ``model_config_list`` with a contracts folder, or a
manifest), ``plan`` turns it into the cases the engine will run, ``shard`` splits it for CI,
``result`` keeps what the run's events said as one fleet result (JSON, merge), ``render``
prints the table and writes the HTML pages.
"""
