"""Export a Variformer checkpoint as a self-contained Hub folder.

The folder holds safetensors weights, `config.json` with an `auto_map` entry for AutoConfig and every Auto model
class that can build the checkpoint's architecture, the generation config, the tokenizer files of the checkpoint,
the model code as transformers' `custom_object_save` writes it (`remote_code.py`), and a model card. It loads with
`variformer` installed (the registered classes) and without it (`trust_remote_code=True`).

The folder is written into a hidden sibling folder and renamed into place (`replacing_folder`), so a failed export
never leaves a half-written folder behind. Every export folder holds a marker file, `.variformer-export` (hidden,
so never uploaded); `overwrite=True` replaces only a folder holding it, and the output folder may neither be,
contain nor lie inside the checkpoint, nor be the current directory or one above it. Nothing outside the output
folder is ever removed.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .._auto_classes import AUTO_CLASSES
from .._files import copy_tokenizer_files, replacing_folder
from ..configuration import VariformerConfig
from .model_card import CardOptions, build_model_card
from .remote_code import save_remote_code

logger = logging.getLogger(__name__)

# Written into every export folder; `overwrite=True` replaces only folders that hold it.
EXPORT_MARKER = ".variformer-export"


class ExportError(ValueError):
    """The checkpoint or the output folder cannot be exported; the message says what to change."""


@dataclass(frozen=True)
class ExportedModel:
    """What `export_model` wrote: the folder, its files (relative POSIX paths) and the Auto classes it serves."""

    folder: Path
    files: tuple[str, ...]
    auto_map: dict[str, str]
    model_class: str


# ---------------------------------------------------------------------------------------------- checkpoint
def read_checkpoint_config(checkpoint: str | os.PathLike) -> tuple[Path, dict]:
    """The checkpoint folder and its raw config.json, after checking it is a saved Variformer model."""
    path = Path(checkpoint)
    if not path.is_dir():
        raise ExportError(
            f"checkpoint {str(path)!r} is not a folder; pass the folder written by save_pretrained or "
            "the Trainer (it holds config.json and the weights)."
        )
    config_file = path / "config.json"
    if not config_file.is_file() and (path / "adapter_config.json").is_file():
        raise ExportError(
            f"{path} holds a LoRA adapter, not a full model; push the merged model instead (the "
            "`final-merged` folder of the training run, or the output of merge_and_unload())."
        )
    if not config_file.is_file():
        raise ExportError(
            f"{path} has no config.json, so it is not a saved transformers model; pass the folder "
            "written by save_pretrained or a Trainer checkpoint-* folder."
        )
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ExportError(f"{config_file} is not valid JSON ({err}).") from err
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    if model_type != VariformerConfig.model_type:
        raise ExportError(
            f"{path} is not a Variformer checkpoint: config.json has model_type={model_type!r}, "
            f"expected {VariformerConfig.model_type!r}. Convert GPT-2 / BERT / T5 folders first with "
            "`variformer convert`."
        )
    return path, raw


def model_class_for(raw_config: dict, config: VariformerConfig) -> type:
    """The Variformer class named by config.json's `architectures`, else the language-model head of the variant."""
    by_name = {model_class.__name__: model_class for model_class in AUTO_CLASSES.values()}
    names = raw_config.get("architectures") or []
    if names:
        if names[0] not in by_name:
            raise ExportError(
                f"config.json names architectures={names!r}, which is not a Variformer class; "
                f"expected one of {sorted(by_name)}."
            )
        return by_name[names[0]]
    default = {
        "decoder": "VariformerForCausalLM",
        "encoder": "VariformerForMaskedLM",
        "encoder-decoder": "VariformerForConditionalGeneration",
    }
    return by_name[default[config.architecture]]


def load_checkpoint(checkpoint: str | os.PathLike):
    """The model saved in `checkpoint` (a Variformer save_pretrained / Trainer folder), in its saved dtype."""
    path, raw = read_checkpoint_config(checkpoint)
    try:
        config = VariformerConfig.from_pretrained(path)
    except (ValueError, TypeError) as err:
        raise ExportError(f"{path}/config.json is not a valid VariformerConfig: {err}") from err
    model_class = model_class_for(raw, config)
    try:
        return model_class.from_pretrained(path, dtype="auto")
    except OSError as err:
        raise ExportError(f"cannot load the weights of {path}: {err}") from err


def served_auto_classes(config: VariformerConfig) -> dict[str, type]:
    """Auto class name -> Variformer class, for every registered Auto class able to build `config`'s architecture.

    Each head validates the architecture when it is built, so each is built once on the meta device (no memory, no
    initialization cost); a head that refuses the config with ValueError does not serve it.
    """
    served: dict[str, type] = {"AutoConfig": type(config)}
    for auto_class, model_class in AUTO_CLASSES.items():
        try:
            with torch.device("meta"):
                model_class(copy.deepcopy(config))
        except ValueError:
            continue
        served[auto_class.__name__] = model_class
    return served


# ---------------------------------------------------------------------------------------------- export
def export_model(
    checkpoint: str | os.PathLike,
    output_dir: str | os.PathLike,
    *,
    card: CardOptions | None = None,
    overwrite: bool = False,
) -> ExportedModel:
    """Write the Hub folder of `checkpoint` to `output_dir` (atomically; see the module docstring).

    `output_dir` must not exist or be empty, unless it holds an earlier export (EXPORT_MARKER) and `overwrite`
    replaces it; it must lie outside the checkpoint and must not be the current directory or one above it.
    """
    checkpoint = Path(checkpoint)
    output_dir = Path(output_dir).resolve()  # `.` and `..` get a real name
    _check_output_dir(output_dir, checkpoint, overwrite)
    model = load_checkpoint(checkpoint)
    served = served_auto_classes(model.config)
    with replacing_folder(output_dir) as staging:
        auto_map = _write_folder(model, served, checkpoint, staging, card or CardOptions())
    files = tuple(sorted(p.relative_to(output_dir).as_posix() for p in output_dir.rglob("*") if p.is_file()))
    logger.info("exported %s (%s) to %s: %d files", checkpoint, type(model).__name__, output_dir, len(files))
    return ExportedModel(folder=output_dir, files=files, auto_map=auto_map, model_class=type(model).__name__)


def _check_output_dir(output_dir: Path, checkpoint: Path, overwrite: bool) -> None:
    """Refuse an output folder whose replacement could remove the checkpoint or anything not made by an export."""
    if output_dir.exists() and not output_dir.is_dir():
        raise ExportError(f"output {output_dir} exists and is not a folder; name a new folder.")
    source = checkpoint.resolve()
    if output_dir == source or source in output_dir.parents or output_dir in source.parents:
        raise ExportError(
            f"output folder {output_dir} is, contains or lies inside the checkpoint folder {source}; "
            "name a new folder outside it, e.g. --dry-run hub-export."
        )
    cwd = Path.cwd().resolve()
    if output_dir == cwd or output_dir in cwd.parents:
        raise ExportError(
            f"output folder {output_dir} is the current directory or one above it; name a new "
            "folder for the export, e.g. --dry-run hub-export."
        )
    if not output_dir.is_dir() or not any(output_dir.iterdir()):
        return
    if not (output_dir / EXPORT_MARKER).is_file():
        raise ExportError(
            f"output folder {output_dir} is not empty and was not written by an export (it has no "
            f"{EXPORT_MARKER} marker), so it is never replaced, not even with --overwrite; name a "
            "new or empty folder."
        )
    if not overwrite:
        raise ExportError(
            f"output folder {output_dir} holds an earlier export; replace it with "
            "`variformer push --overwrite` (`export_model(..., overwrite=True)`) or name another "
            "folder."
        )


def _write_folder(model, served: dict[str, type], checkpoint: Path, folder: Path, card: CardOptions) -> dict:
    """Remote code, weights, configs, tokenizer files and model card into `folder`; returns the auto_map."""
    auto_map = save_remote_code(model.config, served, folder)  # fills model.config.auto_map, saved just below
    model.save_pretrained(folder)
    (folder / EXPORT_MARKER).write_text(
        "written by variformer's Hub export; `variformer push --overwrite` may replace this folder\n", encoding="utf-8"
    )
    copy_tokenizer_files(checkpoint, folder)
    readme = build_model_card(
        model.config,
        checkpoint=checkpoint,
        options=card,
        served=served,
        model_class=type(model),
        num_parameters=model.num_parameters(),
        has_tokenizer=(folder / "tokenizer_config.json").is_file(),
    )
    (folder / "README.md").write_text(readme, encoding="utf-8")
    return auto_map


__all__ = ["EXPORT_MARKER", "ExportError", "ExportedModel", "export_model", "load_checkpoint", "served_auto_classes"]
