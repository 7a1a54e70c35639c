"""Read a YAML file (a training recipe, an eval task) with errors that name the file and the line at fault.

`load_yaml_file` raises `YamlFileError` for a file that cannot be read, is not UTF-8 (naming the line, column and
value of the first bad byte) or is not valid YAML; callers turn it into their own error type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlFileError(ValueError):
    """A YAML file that cannot be read or parsed; the message starts with the file and says how to fix it."""


def read_utf8(path: str | Path) -> str:
    """The text of `path`, which must be UTF-8 (a leading byte-order mark is dropped)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise YamlFileError(f"{path}: cannot read the file ({error.strerror or error})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise YamlFileError(
            f"{path}: not UTF-8 text: byte 0x{data[error.start]:02x} at line {line}, column "
            f"{column} is not valid UTF-8 (a Latin-1 or binary file?); save the file as UTF-8"
        ) from None


def load_yaml_file(path: str | Path) -> Any:
    """`yaml.safe_load` of the UTF-8 file `path`."""
    try:
        return yaml.safe_load(read_utf8(path))
    except yaml.YAMLError as error:
        raise YamlFileError(f"{path}: not valid YAML: {error}") from None


__all__ = ["YamlFileError", "load_yaml_file", "read_utf8"]
