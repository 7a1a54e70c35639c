"""The model card (README.md) of an exported Variformer, rendered by `huggingface_hub.ModelCard` from the template
`variformer/data/model_card.md`.

Front matter (`ModelCardData`): license, library_name, tags, pipeline_tag, base_model / datasets when known, and a
`model-index` of `EvalResult`s from a harness run. Body: architecture table, training recipe and data (from the
checkpoint's `trainer_state.json` and a recipe file when present), evaluation table, hallucination-probe results,
limitations, and how to load the model with and without `variformer` installed.

Evaluation results are the results.json of a `variformer eval` run (or its folder), read with
`eval_harness.results.read_results`: tasks of group "hallucination" are the probes; a metric of NaN (undefined, e.g.
no sample) is shown as n/a and left out of model-index.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..eval_harness.results import SCHEMA_VERSION, RunResult, read_results

TEMPLATE = Path(__file__).resolve().parents[1] / "data" / "model_card.md"
# Hub pipeline tag of the Auto class a checkpoint's head belongs to.
PIPELINE_TAGS = {
    "AutoModelForCausalLM": "text-generation",
    "AutoModelForMaskedLM": "fill-mask",
    "AutoModelForSeq2SeqLM": "text2text-generation",
    "AutoModelForSequenceClassification": "text-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering",
    "AutoModel": "feature-extraction",
}
RECIPE_FILES = ("recipe.yaml", "recipe.yml", "recipe.json")
EVAL_REPORT_PATH = "evaluation/report.html"  # where a push puts the run's report.html in the repo
PROBE_GROUP = "hallucination"  # the harness group of hallucination probes
_SECRET_KEY = re.compile(r"token|secret|password|passwd|api_?key|credential|auth", re.IGNORECASE)
# Hub task type (model-index `task.type`) of a harness task, by its metrics (else the pipeline tag).
_METRIC_TASK_TYPES = (
    ("bleu", "translation"),
    ("chrf", "translation"),
    ("ter", "translation"),
    ("rouge", "summarization"),
)


class ModelCardError(ValueError):
    """An input of the model card (results JSON, recipe, trainer state) is malformed; the message names it."""


@dataclass(frozen=True)
class CardOptions:
    """What the card cannot read from the checkpoint. Empty fields are left out of the card."""

    repo_id: str | None = None
    license: str = "apache-2.0"
    base_model: str | None = None  # Hub id of the model this one was fine-tuned or converted from
    datasets: tuple[str, ...] = ()  # Hub ids of the training data sets
    language: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    eval_results: Path | None = None  # harness results JSON, or the run folder holding it
    eval_report: Path | None = None  # the run's report.html, uploaded as EVAL_REPORT_PATH (set by push_checkpoint)
    recipe: Path | None = None  # training recipe; default: recipe.yaml beside or above the checkpoint


# ---------------------------------------------------------------------------------------------- results JSON
def eval_results_file(path: str | Path) -> Path:
    """The results JSON of `path`: the file itself, or a run folder's results.json."""
    path = Path(path)
    if path.is_dir():
        if not (path / "results.json").is_file():
            raise ModelCardError(
                f"{path} is a folder without results.json; give a run folder written by "
                "`variformer eval` or its results.json."
            )
        return path / "results.json"
    return path


def eval_report_file(path: str | Path) -> Path | None:
    """The run's report.html beside the results JSON of `path` (a run folder or its results.json), if any."""
    report = eval_results_file(path).parent / "report.html"
    return report if report.is_file() else None


def load_eval_results(path: str | Path) -> RunResult:
    """The harness run of `path` (a run folder or its results.json); ModelCardError naming the file otherwise."""
    path = eval_results_file(path)
    try:
        return read_results(path)
    except FileNotFoundError as err:
        raise ModelCardError(f"results file {path} does not exist.") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelCardError(f"results file {path} is not readable JSON: {err}") from err
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        raise ModelCardError(
            f"results file {path} is not a results.json of `variformer eval` (schema "
            f"{SCHEMA_VERSION}): {err!r}; give the run folder or results.json an evaluation wrote."
        ) from err


def _defined(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _dataset(task) -> dict[str, str | None]:
    """model-index dataset fields of a harness task: its Hub data set, or "<folder>/<file stem>" of a local file."""
    data = task.spec.get("data") or {}
    if data.get("hub_id"):
        return {
            "type": data["hub_id"],
            "name": data["hub_id"],
            "config": data.get("hub_config"),
            "split": data.get("split"),
            "revision": data.get("revision"),
        }
    file = Path(data.get("path") or task.name)
    name = f"{file.parent.name}/{file.name.split('.')[0]}" if file.parent.name else file.stem
    return {"type": name, "name": name, "config": None, "split": None, "revision": None}


def _task_type(task, pipeline_tag: str | None) -> str:
    return next(
        (
            task_type
            for metric in task.metrics
            for prefix, task_type in _METRIC_TASK_TYPES
            if metric.lower().startswith(prefix)
        ),
        pipeline_tag or "text-generation",
    )


# ---------------------------------------------------------------------------------------------- training record
@dataclass(frozen=True)
class TrainingRecord:
    """What the checkpoint says about its training: recipe (secrets redacted) and Trainer state, each optional."""

    recipe: dict[str, Any] | None = None
    recipe_file: str | None = None
    state: dict[str, Any] | None = None


def read_training_record(checkpoint: Path | None, recipe: Path | None = None) -> TrainingRecord:
    """Recipe and trainer_state.json of `checkpoint` (or of its run folder: the parent and its checkpoint-*)."""
    if checkpoint is None:
        return TrainingRecord()
    folders = [checkpoint, checkpoint.parent]
    recipe_path = recipe or next((f / n for f in folders for n in RECIPE_FILES if (f / n).is_file()), None)
    state_path = next((f / "trainer_state.json" for f in folders if (f / "trainer_state.json").is_file()), None)
    if state_path is None:
        runs = sorted(
            checkpoint.parent.glob("checkpoint-*/trainer_state.json"),
            key=lambda p: int(p.parent.name.rpartition("-")[2]) if p.parent.name[11:].isdigit() else -1,
        )
        state_path = runs[-1] if runs else None
    return TrainingRecord(
        recipe=_redact(_read_mapping(recipe_path)) if recipe_path else None,
        recipe_file=recipe_path.name if recipe_path else None,
        state=_read_mapping(state_path) if state_path else None,
    )


def _read_mapping(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as err:
        raise ModelCardError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise ModelCardError(f"{path} must hold a mapping, got {type(data).__name__}.")
    return data


def _redact(value: Any) -> Any:
    """A copy of a recipe with the values of secret-looking keys (tokens, passwords, API keys) replaced."""
    if isinstance(value, dict):
        return {
            k: "<redacted>" if _SECRET_KEY.search(str(k)) and v is not None else _redact(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------- the card
def build_model_card(
    config,
    *,
    checkpoint: Path | None,
    options: CardOptions,
    served: dict[str, type],
    model_class: type,
    num_parameters: int | None = None,
    has_tokenizer: bool = False,
) -> str:
    """README.md text: YAML front matter and body (see the module docstring)."""
    import transformers

    from .._version import __version__

    results = load_eval_results(options.eval_results) if options.eval_results else None
    record = read_training_record(checkpoint, options.recipe)
    auto_name = next((name for name, cls in served.items() if cls is model_class and name != "AutoConfig"), "AutoModel")
    pipeline_tag = PIPELINE_TAGS.get(auto_name)
    name = options.repo_id.rpartition("/")[2] if options.repo_id else f"variformer-{config.architecture}"
    datasets = list(dict.fromkeys([*options.datasets, *_recipe_hub_datasets(record.recipe)]))
    eval_results = _model_index_results(results, pipeline_tag)
    model_index = {"model_name": name, "eval_results": eval_results} if eval_results else {}  # -> `model-index`
    card_data = ModelCardData(
        language=list(options.language) or None,
        license=options.license or None,
        library_name="transformers",
        tags=list(dict.fromkeys(["variformer", f"variformer-{config.architecture}", "custom_code", *options.tags])),
        pipeline_tag=pipeline_tag,
        base_model=options.base_model,
        datasets=datasets or None,
        **model_index,
    )
    description = (record.recipe or {}).get("description")
    card = ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE),
        name=name,
        config=config,
        model_class=model_class.__name__,
        size=f"{_count(num_parameters)}-parameter " if num_parameters else "",
        description=description if isinstance(description, str) else None,
        architecture_table=_architecture_table(config, model_class, num_parameters),
        training=_training_section(record, options),
        evaluation=_evaluation_section(results, probes=False),
        probes=_evaluation_section(results, probes=True),
        has_results=results is not None,
        report=EVAL_REPORT_PATH if options.eval_report is not None else None,
        auto_name=auto_name,
        repo=options.repo_id or "path/to/this/folder",
        has_tokenizer=has_tokenizer,
        variformer_version=__version__,
        transformers_version=transformers.__version__,
    )
    return card.content.rstrip() + "\n"


def _model_index_results(results: RunResult | None, pipeline_tag: str | None) -> list[EvalResult]:
    entries = []
    for task in results.tasks.values() if results else ():
        dataset = _dataset(task)
        for metric, result in task.metrics.items():
            if _defined(result.value):
                entries.append(
                    EvalResult(
                        task_type=_task_type(task, pipeline_tag),
                        task_name=task.name,
                        dataset_type=dataset["type"],
                        dataset_name=dataset["name"],
                        dataset_config=dataset["config"],
                        dataset_split=dataset["split"],
                        dataset_revision=dataset["revision"],
                        metric_type=metric,
                        metric_name=metric,
                        metric_value=result.value,
                    )
                )
    return entries


def _recipe_hub_datasets(recipe: dict | None) -> list[str]:
    data = (recipe or {}).get("data")
    sources = (
        [s for split in ("train", "validation", "test") for s in (data or {}).get(split) or []]
        if isinstance(data, dict)
        else []
    )
    return [s["hub"] for s in sources if isinstance(s, dict) and isinstance(s.get("hub"), str)]


def _cell(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _count(number: int) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if number >= scale:
            return f"{number / scale:.1f}{suffix}"
    return str(number)


def _architecture_table(config, model_class: type, num_parameters: int | None) -> str:
    fields = (
        "architecture",
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "decoder_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "intermediate_size",
        "hidden_act",
        "position_embedding_type",
        "norm_type",
        "norm_position",
        "max_position_embeddings",
        "tie_word_embeddings",
        "dtype",
    )
    rows = [("model class", model_class.__name__)]
    if num_parameters:
        rows.append(("parameters", f"{num_parameters:,}"))
    for name in fields:
        value = getattr(config, name, None)
        if value is not None:
            rows.append((name, str(value).replace("torch.", "")))
    return _table(("setting", "value"), rows)


def _training_section(record: TrainingRecord, options: CardOptions) -> str:
    parts = []
    if options.base_model:
        parts.append(f"Initialized from [`{options.base_model}`](https://huggingface.co/{options.base_model}).")
    if record.recipe is not None:
        parts.append(_recipe_summary(record.recipe, record.recipe_file))
    if record.state is not None:
        parts.append(_state_summary(record.state))
    if not parts:
        return (
            "No training record was found with the checkpoint (no recipe file, no `trainer_state.json`); "
            "ask the publisher how it was trained."
        )
    return "\n\n".join(parts)


def _recipe_summary(recipe: dict, recipe_file: str | None) -> str:
    model = recipe.get("model") if isinstance(recipe.get("model"), dict) else {}
    source = next((f"{k}: {model[k]}" for k in ("preset", "checkpoint", "convert_from") if model.get(k)), None)
    rows = [(key, recipe[key]) for key in ("name", "objective", "seed") if key in recipe]
    rows += [("model", source)] if source else []
    data = recipe.get("data") if isinstance(recipe.get("data"), dict) else {}
    for split in ("train", "validation", "test"):
        sources = [_source_label(s) for s in data.get(split) or [] if isinstance(s, dict)]
        if sources:
            rows.append((f"{split} data", ", ".join(sources)))
    training = recipe.get("training") if isinstance(recipe.get("training"), dict) else {}
    rows += [
        (key, value)
        for key, value in training.items()
        if not isinstance(value, (dict, list)) and not _SECRET_KEY.search(str(key))
    ]
    recipe_yaml = yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True).rstrip()
    return "\n".join(
        [
            f"Training recipe (`{recipe_file or 'recipe'}`):",
            "",
            _table(("setting", "value"), rows),
            "",
            "<details><summary>Full recipe</summary>",
            "",
            "```yaml",
            recipe_yaml,
            "```",
            "",
            "</details>",
        ]
    )


def _source_label(source: dict) -> str:
    if source.get("hub"):
        return (
            f"{source['hub']}"
            + (f" ({source['hub_config']})" if source.get("hub_config") else "")
            + f" [{source.get('split', 'train')}]"
        )
    path = Path(str(source.get("path", "?")))
    label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    return label + (f" (max {source['max_samples']})" if source.get("max_samples") else "")


def _state_summary(state: dict) -> str:
    history = [entry for entry in state.get("log_history") or [] if isinstance(entry, dict)]
    train_losses = [entry["loss"] for entry in history if isinstance(entry.get("loss"), (int, float))]
    eval_losses = [entry["eval_loss"] for entry in history if isinstance(entry.get("eval_loss"), (int, float))]
    learning_rates = [
        entry["learning_rate"] for entry in history if isinstance(entry.get("learning_rate"), (int, float))
    ]
    rows = [
        (key, state[key])
        for key in (
            "global_step",
            "epoch",
            "max_steps",
            "num_train_epochs",
            "train_batch_size",
            "num_input_tokens_seen",
        )
        if state.get(key)
    ]
    rows += [("peak learning rate (logged)", max(learning_rates))] if learning_rates else []
    rows += [("last logged training loss", round(train_losses[-1], 4))] if train_losses else []
    rows += [("last evaluation loss", round(eval_losses[-1], 4))] if eval_losses else []
    if state.get("best_metric") is not None:
        rows.append(("best metric (model selection)", state["best_metric"]))
    return "Trainer state (`trainer_state.json`):\n\n" + _table(("quantity", "value"), rows)


def _evaluation_section(results: RunResult | None, probes: bool) -> str:
    if results is None:
        return "No evaluation results were provided with this export."
    tasks = [task for task in results.tasks.values() if (task.group == PROBE_GROUP) == probes]
    if not tasks:
        return (
            "No hallucination probe was run on this model."
            if probes
            else "The results file holds only hallucination probes (below)."
        )
    rows = []
    for task in tasks:
        dataset = _dataset(task)
        label = (
            dataset["name"]
            + (f" ({dataset['config']})" if dataset["config"] else "")
            + (f" [{dataset['split']}]" if dataset["split"] else "")
        )
        for name, metric in task.metrics.items():
            arrow = {True: " ↑", False: " ↓"}.get(metric.higher_is_better, "")
            rows.append(
                (
                    task.name,
                    label,
                    name + arrow,
                    _number(metric.value),
                    "" if metric.stderr is None else f"± {_number(metric.stderr)}",
                    task.num_samples,
                )
            )
    intro = (
        "Probes of made-up or unfaithful output, as reported in the results file; mind each metric's "
        "direction (↑ higher is better, ↓ lower is better).\n\n"
        if probes
        else ""
    )
    meta = {
        "schema_version": results.schema_version,
        "run_id": results.run_id,
        "created": results.created_at,
        "git commit": results.git.get("commit"),
    }
    provenance = ", ".join(f"{k}: {v}" for k, v in meta.items() if isinstance(v, (str, int, float)))
    return (
        intro
        + _table(("task", "dataset", "metric", "value", "stderr", "samples"), rows)
        + (f"\n\nResults file metadata: {provenance}." if provenance and not probes else "")
    )


def _number(value: float | None) -> str:
    if not _defined(value):
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.4g}"


__all__ = [
    "CardOptions",
    "EVAL_REPORT_PATH",
    "ModelCardError",
    "build_model_card",
    "eval_report_file",
    "eval_results_file",
    "load_eval_results",
    "read_training_record",
]
