"""The model code of a Hub export, written by transformers' own custom-code mechanism.

For a class registered with `register_for_auto_class`, `save_pretrained` runs `custom_object_save`: it copies the
class's module and, recursively, the same-folder modules it imports (`from .module import name`), and records the
class in the config's `auto_map`. That mechanism reads one folder; Variformer's code spans two packages
(`configuration/`, `modeling/`, with unique file names), so their current sources are first laid flat into one
staging folder (a package's `__init__.py` becomes `<package>.py`) with the one kind of cross-folder import
rewritten: `from ..configuration import X` -> `from .configuration import X`, `from ..configuration.config import X`
-> `from .config import X`. The staged folder is imported as a throwaway package (private to the call, so
concurrent exports share nothing), its classes are registered for the Auto classes the checkpoint serves, and
`custom_object_save` writes the export's code files and `auto_map`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from transformers.dynamic_module_utils import custom_object_save

PACKAGE_DIR = Path(__file__).resolve().parents[1]
REMOTE_PACKAGES = ("configuration", "modeling")
# `from ..package import` / `from ..package.module import` at the start of a line (also indented, for lazy imports)
_CROSS_FOLDER = re.compile(r"^(\s*from\s+)\.\.(\w+)((?:\.\w+)*)(\s+import\b)", re.MULTILINE)


class RemoteCodeError(RuntimeError):
    """The package source has an import the flat export cannot ship; the message names the file and line."""


def flat_source(text: str) -> str:
    """`text` with each `from ..package[.module] import` made an import of the flat sibling file."""
    return _CROSS_FOLDER.sub(lambda m: f"{m[1]}.{m[3].rpartition('.')[2] or m[2]}{m[4]}", text)


def stage_flat_source(folder: Path, package_dir: Path = PACKAGE_DIR) -> list[str]:
    """Write the modules of `REMOTE_PACKAGES` flat into `folder`, cross-folder imports rewritten; their names."""
    written = []
    for package in REMOTE_PACKAGES:
        for source in sorted((package_dir / package).glob("*.py")):
            name = f"{package}.py" if source.name == "__init__.py" else source.name
            if name in written:
                raise RemoteCodeError(
                    f"{source}: a second module named {name} in {', '.join(REMOTE_PACKAGES)}; "
                    "the Hub export lays them into one folder, so rename one of them."
                )
            text = flat_source(source.read_text(encoding="utf-8"))
            _check_flat(source, text)
            (folder / name).write_text(text, encoding="utf-8")
            written.append(name)
    return written


def _check_flat(source: Path, text: str) -> None:
    """No import left that the flat folder cannot resolve: `from .. import`, `from ...`, or variformer itself."""
    for node in ast.walk(ast.parse(text, str(source))):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""] if node.level == 0 else []
        if (isinstance(node, ast.ImportFrom) and node.level > 1) or any(n.split(".")[0] == "variformer" for n in names):
            raise RemoteCodeError(
                f"{source}:{node.lineno}: `{ast.unparse(node)}` cannot be shipped as Hub remote "
                "code; import a sibling module (`from .module import name`) or a module of "
                f"another model-code package ({', '.join(REMOTE_PACKAGES)}: `from ..package.module "
                "import name`)."
            )


def save_remote_code(config, served: dict[str, type], folder: Path) -> dict[str, str]:
    """Copy the code of the `served` classes (Auto class name -> Variformer class) into `folder` and enter each in
    `config.auto_map` (transformers' `custom_object_save`); returns the auto_map."""
    with tempfile.TemporaryDirectory() as staging, _staged_package(Path(staging)) as package:
        remote = {auto_name: _remote_class(package, cls) for auto_name, cls in served.items()}
        remote_config = remote["AutoConfig"].from_dict(config.to_dict())
        for auto_name, remote_class in remote.items():
            remote_class.register_for_auto_class(auto_name)
            with torch.device("meta"):
                instance = remote_config if auto_name == "AutoConfig" else remote_class(remote_config)
            custom_object_save(instance, folder, config=config)
    return dict(config.auto_map)


@contextmanager
def _staged_package(folder: Path) -> Iterator[str]:
    """The flat sources staged in `folder`, imported as a package of a unique name (dropped from sys.modules
    afterwards)."""
    stage_flat_source(folder)
    name = f"_variformer_export_{secrets.token_hex(4)}"
    (folder / "__init__.py").touch()
    spec = importlib.util.spec_from_file_location(
        name, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    sys.modules[name] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(sys.modules[name])
        yield name
    finally:
        for module in [module for module in sys.modules if module.partition(".")[0] == name]:
            del sys.modules[module]


def _remote_class(package: str, cls: type) -> type:
    module, _, name = class_reference(cls).partition(".")
    return getattr(importlib.import_module(f"{package}.{module}"), name)


def class_reference(cls: type) -> str:
    """The reference of a Variformer class in the flat folder, "module.Class" (as `auto_map` writes it)."""
    return f"{cls.__module__.rpartition('.')[2]}.{cls.__name__}"


__all__ = [
    "REMOTE_PACKAGES",
    "RemoteCodeError",
    "class_reference",
    "flat_source",
    "save_remote_code",
    "stage_flat_source",
]
