"""Benchmarks: tasks and their ground truth, keyed by canonical architecture.

May know the pinned data files (`data`) and the search spaces (`spaces`); knows
nothing of networks, saliencies or runs. `tasks` holds the registry of tasks and
the bundled ground truth; `user_truth` checks a user's uploaded accuracies.
"""

from ssnr_core.benchmarks.tasks import (
    OFFICIAL,
    SOURCE_LABELS,
    TASKS,
    Task,
    get_task,
    naslib_entries,
    naslib_scores,
    source_label,
    sources,
    tasks_of,
    truth,
)

__all__ = [
    "OFFICIAL",
    "SOURCE_LABELS",
    "TASKS",
    "Task",
    "get_task",
    "naslib_entries",
    "naslib_scores",
    "source_label",
    "sources",
    "tasks_of",
    "truth",
]
