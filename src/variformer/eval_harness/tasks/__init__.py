"""Tasks of the evaluation harness: one frozen `Task` dataclass per task, registered by name.

How to add a task
=================
1. Write a module with a function that builds the `Task` and registers it, e.g.
   `variformer/eval_harness/tasks/<family>.py` (built-in families: classification, translation, summarization)
   or `variformer/eval_harness/hallucination/tasks.py` (imported automatically when it exists)::

       from variformer.eval_harness.metrics import mean_of
       from variformer.eval_harness.records import Outcome
       from variformer.eval_harness.tasks import DataSource, FieldText, FieldValue, Task, packaged, register_task

       def _mc2(row, responses):            # responses: one LoglikelihoodResult per choice, in choice order
           ...
           return Outcome(prediction=best_index, scores={"mc2": p_true}, output=[r.logprob for r in responses])

       register_task(Task(
           name="truthfulqa_mc2", version="1.0",
           data=DataSource(path=packaged("truthfulqa/mc_task.jsonl")),   # or DataSource(hub_id=..., split=...)
           fields=("question", "mc2_targets"),
           prompt=lambda row: PRIMER + "\\n\\nQ: " + row["question"] + "\\nA:",
           target=FieldValue("mc2_targets.labels"),
           choices=lambda row: row["mc2_targets"]["choices"],   # one continuation per choice
           scoring=("multiple_choice",),                        # -> one LoglikelihoodRequest per choice
           process_results=_mc2,                                # your own per-sample score
           metrics=(mean_of("mc2"),),                           # averaged, with bootstrap stderr
           group="hallucination",                               # its own section in the report
       ))

   `Task` fields: name, version, data, fields, prompt, target, scoring, metrics, and optionally choices,
   seq2seq_prompt, classifier_input, target_delimiter (" "), description, few_shot (`FewShot`), generation
   (`GenerationSettings`), process_results, id_field, group. See `Task`'s docstring for each.
2. Scoring modes (`scoring.py`): "classifier_head" (a `ClassificationRequest`; label log-probs),
   "multiple_choice" (a `LoglikelihoodRequest(context, target_delimiter + choice)` per choice) and "generation"
   (a `GenerationRequest`). List several in order of preference; the runner takes the first the model serves.
   Without `process_results` the mode predicts a label index (compared with `target` by accuracy / macro_f1 /
   mcc) or a text (compared by bleu / chrf / rouge*). With `process_results(row, responses) -> Outcome` the task
   computes its own prediction and per-sample `scores`; average them with `mean_of(name)`.
3. Add the module name to `TASK_MODULES` below (or put it at `variformer/eval_harness/hallucination/tasks.py`).
   A user task can also be a YAML file with the same keys (see `yaml_loader.py`), or a `Task` passed directly to
   `evaluate(...)`. A YAML file names functions only from the registry ("<task>.<field>" of every registered
   task, or `register_function`) or from a .py file beside it with `allow_code=True` (see `functions.py`).

Validation happens at construction (unknown metric or mode, missing choices, metric/mode mismatch) and before the
model runs (each row: missing or null fields, bad targets), with errors naming the task, row and field.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from pathlib import Path

from ..errors import UnknownTaskError
from .data import DataSource, Row, packaged
from .formatting import FieldChoices, FieldPair, FieldText, FieldValue, FixedChoices
from .functions import list_functions, register_function
from .scoring import ClassifierHead, Generation, MultipleChoice, ScoringMode
from .task import FewShot, PromptFormat, Sample, Task
from .yaml_loader import load_task_yaml, task_from_dict

TASK_MODULES = (
    "variformer.eval_harness.tasks.classification",
    "variformer.eval_harness.tasks.translation",
    "variformer.eval_harness.tasks.summarization",
)
OPTIONAL_TASK_MODULES = ("variformer.eval_harness.hallucination.tasks",)
FUNCTION_FIELDS = ("prompt", "seq2seq_prompt", "classifier_input", "target", "choices", "process_results")

_REGISTRY: dict[str, Task] = {}
_loaded = False


def register_task(task: Task, *, replace: bool = False) -> Task:
    """Add `task` to the registry under `task.name` (an existing name needs replace=True), and its row and result
    functions to the functions task files may name, as "<task>.<field>". Returns the task."""
    if not isinstance(task, Task):
        raise TypeError(f"register_task expects a Task, got {type(task).__name__}")
    if task.name in _REGISTRY and not replace and _REGISTRY[task.name] is not task:
        raise ValueError(f"task {task.name!r} is already registered; pass replace=True to override it")
    _REGISTRY[task.name] = task
    for field in FUNCTION_FIELDS:
        if getattr(task, field) is not None:
            register_function(f"{task.name}.{field}", getattr(task, field), replace=True)
    return task


def _load_builtin_tasks() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in TASK_MODULES:
        importlib.import_module(module)
    for module in OPTIONAL_TASK_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def list_tasks() -> list[str]:
    """Names of all registered tasks, sorted."""
    _load_builtin_tasks()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """The registered task `name`; UnknownTaskError with the known names (and close matches) otherwise."""
    _load_builtin_tasks()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownTaskError(
            f"unknown task {name!r}.{hint} Registered tasks: {', '.join(sorted(_REGISTRY))}; "
            "a YAML task file path also works."
        )
    return _REGISTRY[name]


def resolve_tasks(specs: Iterable[str | Path | Task], *, allow_code: bool = False) -> list[Task]:
    """Tasks from names, YAML file paths or Task objects (duplicates keep the first). `allow_code`: let YAML
    files use functions from .py files beside them (see `functions.py`)."""
    tasks: dict[str, Task] = {}
    for spec in specs:
        if isinstance(spec, Task):
            task = spec
        elif isinstance(spec, Path) or str(spec).endswith((".yaml", ".yml")):
            task = load_task_yaml(spec, allow_code=allow_code)
        else:
            task = get_task(str(spec))
        tasks.setdefault(task.name, task)
    return list(tasks.values())


__all__ = [
    "Task",
    "FewShot",
    "PromptFormat",
    "Sample",
    "DataSource",
    "Row",
    "packaged",
    "FieldText",
    "FieldValue",
    "FixedChoices",
    "FieldChoices",
    "FieldPair",
    "ScoringMode",
    "ClassifierHead",
    "MultipleChoice",
    "Generation",
    "register_task",
    "get_task",
    "list_tasks",
    "register_function",
    "list_functions",
    "resolve_tasks",
    "load_task_yaml",
    "task_from_dict",
    "TASK_MODULES",
    "OPTIONAL_TASK_MODULES",
]
