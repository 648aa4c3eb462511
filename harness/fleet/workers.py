"""pytest-xdist scheduling for a fleet: one model's cases on one worker.

A fleet item's node id is ``FLEET::MODEL@VERSION::...``; the scope is the model (its
base path's name, without the version), so every version and check of a model goes to the
same worker and the model is read, scanned, exported and served once. Imported only when
xdist asks for a scheduler (so only when pytest-xdist is installed and ``-n`` is given).

A worker that dies mid-run: xdist reports the case it was running as failed ("worker ...
crashed while running ..."); the rest of its model's cases go to another worker. Two faults of
xdist 3.8's scope scheduling on that path are avoided here (pytest-xdist issues 1323, 1327
and pull request 1371): the crashed case is not run again (a case that kills its worker would
kill every replacement), completed work is not queued again (an empty unit leaves a worker
waiting forever), and a worker given the last unit is told to shut down so that it runs it.
"""

from __future__ import annotations

from typing import Any

from xdist.scheduler import LoadScopeScheduling


def model_of(nodeid: str) -> str:
    """The model part of a fleet node id: ``f.config::scale-000@2::sig::check`` -> ``scale-000``."""
    parts = nodeid.split("::")
    label = parts[1] if len(parts) > 1 else parts[0]
    return label.rsplit("@", 1)[0]


class ModelScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return model_of(nodeid)

    def remove_node(self, node: Any) -> str | None:
        workload: dict[str, dict[str, bool]] = self.assigned_work.pop(node, {})
        crashitem = next((nodeid for unit in workload.values()
                          for nodeid, done in unit.items() if not done), None)
        if crashitem is None:
            return None
        # reported as crashed by xdist: never run again
        workload[self._split_scope(crashitem)][crashitem] = True
        for scope, unit in workload.items():
            if not all(unit.values()):
                self.workqueue[scope] = unit
        for other in self.assigned_work:
            self._reschedule(other)
        return crashitem

    def _reschedule(self, node: Any) -> None:
        super()._reschedule(node)
        if not self.workqueue and not node.shutting_down and node in self.assigned_work:
            node.shutdown()  # the last unit is assigned: let the worker run its last item
