"""Functions a task YAML file may name, and the rule that keeps a task file from running code nobody asked for.

A YAML value naming a function (`prompt`, `target`, `choices`, `classifier_input`, `seq2seq_prompt`,
`process_results`) is one of:

- a registered name, e.g. "truthfulqa_mc2.process_results": the functions the package ships (every built-in
  task's row and result functions, registered as "<task>.<field>" by `register_task`) and those Python code
  registered with `register_function`;
- "FILE:FUNCTION", e.g. "utils:doc_to_text": FUNCTION from FILE.py in the same folder as the YAML file (like
  lm-eval's `!function utils.doc_to_text`). Loading it runs that file, so it needs `allow_code=True`
  (`variformer eval --allow-task-code`), as lm-eval needs `--confirm_run_unsafe_code`.

Nothing else: not the standard library or site-packages ("subprocess:run", "os:system"), not dotted module
paths, not a .py file anywhere but beside the YAML file. A downloaded task file is data; it runs nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from ..errors import TaskDefinitionError

FILE_STEM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RULE = (
    "a task file may name a registered function (variformer.eval_harness.tasks.list_functions()) or "
    "'FILE:FUNCTION' for FUNCTION in FILE.py beside the task file (run only with --allow-task-code / "
    "allow_code=True)"
)

_FUNCTIONS: dict[str, Callable] = {}
_MODULES: dict[Path, ModuleType] = {}


def register_function(name: str, function: Callable, *, replace: bool = False) -> Callable:
    """Make `function` available to task files as `name` (an existing name needs replace=True)."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(f"function name must be a non-empty string without ':', got {name!r}")
    if not callable(function):
        raise TypeError(f"register_function({name!r}, ...) expects a callable, got {type(function).__name__}")
    if name in _FUNCTIONS and not replace and _FUNCTIONS[name] is not function:
        raise ValueError(f"function {name!r} is already registered; pass replace=True to override it")
    _FUNCTIONS[name] = function
    return function


def list_functions() -> list[str]:
    """Names of the functions task files may use, sorted."""
    from . import _load_builtin_tasks

    _load_builtin_tasks()
    return sorted(_FUNCTIONS)


def task_function(spec: str, where: str, base_dir: Path | None = None, allow_code: bool = False) -> Callable:
    """The function a task file names with `spec` (see the module docstring); TaskDefinitionError naming the key
    (`where`) and the rule otherwise."""
    if ":" not in spec:
        return _registered(spec, where)
    return _file_function(spec, where, base_dir, allow_code)


def _registered(name: str, where: str) -> Callable:
    known = list_functions()
    if name not in _FUNCTIONS:
        raise TaskDefinitionError(
            f"{where}: {name!r} is not a registered function; registered: {', '.join(known)}. Rule: {RULE}"
        )
    return _FUNCTIONS[name]


def _file_function(spec: str, where: str, base_dir: Path | None, allow_code: bool) -> Callable:
    stem, _, name = spec.partition(":")
    if not FILE_STEM.match(stem) or not name.isidentifier():
        raise TaskDefinitionError(f"{where}: {spec!r} {_shape_problem(stem)}. Rule: {RULE}")
    if base_dir is None:
        raise TaskDefinitionError(
            f"{where}: {spec!r} names a file, but this task spec was not loaded from a file. Rule: {RULE}"
        )
    path = (Path(base_dir) / f"{stem}.py").resolve()
    if not path.is_file():
        raise TaskDefinitionError(
            f"{where}: {spec!r}: there is no {stem}.py beside the task file (in {base_dir}); a "
            "task file cannot import installed or standard-library modules. "
            f"Rule: {RULE}"
        )
    if not allow_code:
        raise TaskDefinitionError(
            f"{where}: {spec!r} would run the code in {path}; pass --allow-task-code to "
            "`variformer eval` (allow_code=True in Python) if you trust that file"
        )
    function = getattr(_load_file(path, where), name, None)
    if not callable(function):
        raise TaskDefinitionError(f"{where}: {path} has no function {name!r}")
    return function


def _shape_problem(stem: str) -> str:
    if stem.endswith(".py"):
        return f"names the file with its suffix; write {stem[:-3]!r}:FUNCTION"
    if "/" in stem or "\\" in stem:
        return "names a file outside the task file's folder"
    if "." in stem:
        return "is a dotted module path; task files cannot import modules"
    return "is not 'FILE:FUNCTION' with FILE a Python file name and FUNCTION an identifier"


def _load_file(path: Path, where: str) -> ModuleType:
    if path not in _MODULES:
        digest = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]
        module_name = f"_variformer_task_code_{digest}_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            del sys.modules[module_name]
            raise TaskDefinitionError(f"{where}: running {path} failed: {type(error).__name__}: {error}") from error
        _MODULES[path] = module
    return _MODULES[path]


__all__ = ["register_function", "list_functions", "task_function", "RULE"]
