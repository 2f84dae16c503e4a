"""The training tasks, one per module of the method (see :mod:`keras_hdl.training.tasks.base`).

``TASKS`` maps each module's name (as in run folders, ``--module`` and models folders) to its task, in
the order a run trains them.
"""

from keras_hdl.training.tasks.base import DEFAULT_VARIANT, ModuleRun, Task
from keras_hdl.training.tasks.interpolation import InterpolationTask
from keras_hdl.training.tasks.phase import PhaseTask

TASKS: dict[str, Task] = {task.name: task for task in (InterpolationTask(), PhaseTask())}

__all__ = ["DEFAULT_VARIANT", "TASKS", "ModuleRun", "Task"]
