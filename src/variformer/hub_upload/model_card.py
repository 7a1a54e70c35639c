"""The model card (README.md) of an exported Variformer: YAML front matter and a readable body.

Front matter: license, library_name, tags, pipeline_tag, base_model / datasets when known, and a `model-index`
block built from a harness results JSON (`load_eval_results`). Body: architecture table, training recipe and data
(from the checkpoint's `trainer_state.json` and a recipe file when present), evaluation table, hallucination-probe
results, limitations, and how to load the model with and without `variformer` installed.

Results JSON accepted by `load_eval_results` (one run of the evaluation harness):

    {"tasks": {"<task>": {"metrics": {"<metric>": 0.42 | {"value": 0.42, "stderr": 0.01, "higher_is_better": true}},
                          "dataset": "<hub id or name>" | {"id": ..., "name": ..., "config": ..., "split": ...},
                          "task_type": "translation", "num_samples": 500, "version": "1",
                          "kind": "hallucination_probe"}}}

This is the shape `variformer.eval_harness.results.RunResult.to_dict()` writes (there the data set is the task
spec's "data": {"hub_id", "hub_config", "split", "revision"} or {"path", "sha256"}, and probes have
group "hallucination"). "tasks" may also be a list of entries with a "name"; a task is a hallucination probe when
its group, kind, category, type or tags mention "hallucination" (or it sits under a top-level
"hallucination_probes" mapping). Metric stderr may also come as a sibling mapping `"stderr": {"<metric>": 0.01}`;
a metric of null or NaN (undefined, e.g. no sample) is shown as n/a and left out of model-index. Anything else in
the file is ignored; what is read is validated, and errors name the file and the key path.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCardData

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
_SECRET_KEY = re.compile(r"token|secret|password|passwd|api_?key|credential|auth", re.IGNORECASE)
_PROBE_WORD = "hallucination"


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
@dataclass(frozen=True)
class MetricValue:
    name: str
    value: float | None  # None: undefined in the results (null or NaN)
    stderr: float | None = None
    higher_is_better: bool | None = None


@dataclass(frozen=True)
class DatasetRef:
    id: str  # Hub id or the best identifier available
    name: str  # readable name
    config: str | None = None
    split: str | None = None
    revision: str | None = None


@dataclass(frozen=True)
class TaskResult:
    name: str
    metrics: tuple[MetricValue, ...]
    dataset: DatasetRef
    task_type: str | None = None
    num_samples: int | None = None
    version: str | None = None
    is_hallucination_probe: bool = False


@dataclass(frozen=True)
class EvalResults:
    tasks: tuple[TaskResult, ...]
    source: Path
    meta: dict[str, Any] = field(default_factory=dict)


def eval_results_file(path: str | Path) -> Path:
    """The results JSON of `path`: the file itself, or a run folder's results.json."""
    path = Path(path)
    if path.is_dir():
        if not (path / "results.json").is_file():
            raise ModelCardError(f"{path} is a folder without results.json; give a run folder written by "
                                 "`variformer eval` or its results.json.")
        return path / "results.json"
    return path


def eval_report_file(path: str | Path) -> Path | None:
    """The run's report.html beside the results JSON of `path` (a run folder or its results.json), if any."""
    report = eval_results_file(path).parent / "report.html"
    return report if report.is_file() else None


def load_eval_results(path: str | Path) -> EvalResults:
    """Read and validate a harness results JSON, given as the file or its run folder (schema in the module
    docstring)."""
    path = eval_results_file(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ModelCardError(f"results file {path} does not exist.") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelCardError(f"results file {path} is not readable JSON: {err}") from err
    if not isinstance(raw, dict):
        raise ModelCardError(f"{path}: expected a JSON object with a 'tasks' mapping, got {type(raw).__name__}.")
    sections = [(key, raw[key], False) for key in ("tasks", "results") if key in raw][:1]
    if "hallucination_probes" in raw:
        sections.append(("hallucination_probes", raw["hallucination_probes"], True))
    if not sections:
        raise ModelCardError(f"{path}: no 'tasks' mapping (task name -> {{'metrics': {{...}}, 'dataset': ...}}); "
                             f"top-level keys are {sorted(raw)}.")
    tasks = []
    for key, entries, probes in sections:
        for name, entry in _task_entries(path, key, entries):
            tasks.append(_parse_task(path, f"{key}.{name}", name, entry, probes))
    return EvalResults(tasks=tuple(tasks), source=path, meta=_provenance(raw))


def _provenance(raw: dict) -> dict[str, Any]:
    git = raw.get("git") if isinstance(raw.get("git"), dict) else {}
    found = {"schema_version": raw.get("schema_version"), "run_id": raw.get("run_id"),
             "created": raw.get("created_at", raw.get("created", raw.get("date"))),
             "git commit": git.get("commit", raw.get("git_commit"))}
    return {key: value for key, value in found.items() if isinstance(value, (str, int, float))}


def _task_entries(path: Path, key: str, entries: Any):
    if isinstance(entries, dict):
        return list(entries.items())
    if isinstance(entries, list):
        named = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ModelCardError(f"{path}: {key}[{index}] must be an object with a string 'name'.")
            named.append((entry["name"], entry))
        return named
    raise ModelCardError(f"{path}: '{key}' must map task names to results, got {type(entries).__name__}.")


def _parse_task(path: Path, where: str, name: str, entry: Any, probe_section: bool) -> TaskResult:
    if not isinstance(entry, dict):
        raise ModelCardError(f"{path}: {where} must be an object with 'metrics', got {type(entry).__name__}.")
    spec = entry.get("spec") if isinstance(entry.get("spec"), dict) else {}
    metrics = entry.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise ModelCardError(f"{path}: {where}.metrics must be a non-empty mapping of metric name -> value.")
    stderr = entry.get("stderr") if isinstance(entry.get("stderr"), dict) else {}
    directions = entry.get("higher_is_better") if isinstance(entry.get("higher_is_better"), dict) else {}
    parsed = tuple(_parse_metric(path, f"{where}.metrics.{metric}", metric, value, stderr.get(metric),
                                 directions.get(metric)) for metric, value in metrics.items())
    task_type = _first_str(entry, spec, "task_type", "pipeline_tag") or _task_type_from_metrics(parsed)
    labels = [_first_str(entry, spec, key) or "" for key in ("group", "kind", "category", "type", "task_type")]
    labels += [str(tag) for tag in (entry.get("tags") or spec.get("tags") or [])]
    probe = probe_section or bool(entry.get("hallucination_probe")) or any(_PROBE_WORD in s.lower() for s in labels)
    return TaskResult(
        name=str(name), metrics=parsed, dataset=_parse_dataset(path, where, name, entry, spec),
        task_type=task_type, num_samples=_num_samples(path, where, entry),
        version=_optional_text(entry.get("version", spec.get("version"))),
        is_hallucination_probe=probe,
    )


def _parse_metric(path: Path, where: str, name: str, value: Any, stderr: Any, direction: Any) -> MetricValue:
    if isinstance(value, dict):
        if "value" not in value:
            raise ModelCardError(f"{path}: {where} is an object without 'value'; use {{'value': number, "
                                 "'stderr': number}} or a plain number.")
        stderr = value.get("stderr", stderr)
        direction = value.get("higher_is_better", value.get("direction", direction))
        value = value["value"]
    number = _number_or_undefined(path, where, value)
    stderr = None if stderr is None else _number_or_undefined(path, f"{where}.stderr", stderr)
    if isinstance(direction, str):
        direction = {"higher": True, "max": True, "lower": False, "min": False}.get(direction.lower())
    return MetricValue(str(name), number, stderr, direction if isinstance(direction, bool) else None)


def _number_or_undefined(path: Path, where: str, value: Any) -> float | None:
    """A number; None for null / NaN (undefined, as the harness writes it); an error for anything else."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isinf(value):
        raise ModelCardError(f"{path}: {where} must be a number (or null / NaN when undefined), got {value!r}.")
    return value


# Hub task type (model-index `task.type`) of results that do not name one, by their metrics.
_METRIC_TASK_TYPES = (("bleu", "translation"), ("chrf", "translation"), ("ter", "translation"),
                      ("rouge", "summarization"))


def _task_type_from_metrics(metrics: tuple[MetricValue, ...]) -> str | None:
    for metric in metrics:
        for prefix, task_type in _METRIC_TASK_TYPES:
            if metric.name.lower().startswith(prefix):
                return task_type
    return None


def _parse_dataset(path: Path, where: str, task: str, entry: dict, spec: dict) -> DatasetRef:
    data = next((source[key] for source in (entry, spec) for key in ("dataset", "data") if key in source), None)
    if data is None:
        return DatasetRef(id=str(task), name=str(task))
    if isinstance(data, str) and data.strip():
        return DatasetRef(id=data, name=data)
    if isinstance(data, dict):
        identifier = next((data[k] for k in ("id", "hub_id", "hub", "name") if isinstance(data.get(k), str)), None)
        if identifier is None and isinstance(data.get("path"), str):  # a local file: "<folder>/<file stem>"
            file = Path(data["path"])
            identifier = f"{file.parent.name}/{file.name.split('.')[0]}" if file.parent.name else file.stem
        if identifier:
            text = {k: _optional_text(data.get(k)) for k in ("config", "subset", "hub_config", "split", "revision")}
            return DatasetRef(id=identifier, name=str(data.get("name") or data.get("pretty_name") or identifier),
                              config=text["config"] or text["subset"] or text["hub_config"], split=text["split"],
                              revision=text["revision"])
    raise ModelCardError(f"{path}: {where}.dataset must be a name or an object with 'id' / 'hub_id' / 'path' / "
                         f"'name' (plus optional 'config', 'split', 'revision'), got {data!r}.")


def _num_samples(path: Path, where: str, entry: dict) -> int | None:
    value = next((entry[k] for k in ("num_samples", "n_samples", "samples") if k in entry), None)
    if isinstance(value, dict):
        value = value.get("effective", value.get("original"))
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ModelCardError(f"{path}: {where}.num_samples must be a non-negative integer, got {value!r}.")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _first_str(entry: dict, spec: dict, *keys: str) -> str | None:
    for key in keys:
        for source in (entry, spec):
            if isinstance(source.get(key), str) and source[key].strip():
                return source[key]
    return None


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
        runs = sorted(checkpoint.parent.glob("checkpoint-*/trainer_state.json"),
                      key=lambda p: int(p.parent.name.rpartition("-")[2]) if p.parent.name[11:].isdigit() else -1)
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
        return {k: "<redacted>" if _SECRET_KEY.search(str(k)) and v is not None else _redact(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------- the card
def build_model_card(config, *, checkpoint: Path | None, options: CardOptions, served: dict[str, type],
                     model_class: type, num_parameters: int | None = None, has_tokenizer: bool = False) -> str:
    """README.md text: YAML front matter and body (see the module docstring)."""
    results = load_eval_results(options.eval_results) if options.eval_results else None
    record = read_training_record(checkpoint, options.recipe)
    auto_name = next((name for name, cls in served.items() if cls is model_class and name != "AutoConfig"),
                     "AutoModel")
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
    body = [
        f"# {name}", "",
        _summary(config, model_class, num_parameters, record),
        "", "## Architecture", "", _architecture_table(config, model_class, num_parameters),
        "", "## Training", "", _training_section(record, options),
        "", "## Evaluation", "", _evaluation_section(results, probes=False), *_report_link(options),
        "", "## Hallucination probes", "", _evaluation_section(results, probes=True),
        "", "## Limitations", "", _limitations(config, results),
        "", "## How to load", "", _how_to_load(options.repo_id, auto_name, config, has_tokenizer),
    ]
    return f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(body).rstrip() + "\n"


def _model_index_results(results: EvalResults | None, pipeline_tag: str | None) -> list[EvalResult]:
    if results is None:
        return []
    entries = []
    for task in results.tasks:
        for metric in (m for m in task.metrics if m.value is not None):
            entries.append(EvalResult(
                task_type=task.task_type or pipeline_tag or "text-generation", task_name=task.name,
                dataset_type=task.dataset.id, dataset_name=task.dataset.name, dataset_config=task.dataset.config,
                dataset_split=task.dataset.split, dataset_revision=task.dataset.revision,
                metric_type=metric.name, metric_name=metric.name, metric_value=metric.value,
            ))
    return entries


def _recipe_hub_datasets(recipe: dict | None) -> list[str]:
    data = (recipe or {}).get("data")
    sources = [s for split in ("train", "validation", "test") for s in (data or {}).get(split) or []] \
        if isinstance(data, dict) else []
    return [s["hub"] for s in sources if isinstance(s, dict) and isinstance(s.get("hub"), str)]


def _cell(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _summary(config, model_class: type, num_parameters: int | None, record: TrainingRecord) -> str:
    size = f"{_count(num_parameters)}-parameter " if num_parameters else ""
    text = (f"A {size}Variformer **{config.architecture}** Transformer (`{model_class.__name__}`), exported with "
            "its configuration and modeling code so that it loads with plain `transformers` "
            "(`trust_remote_code=True`) as well as with `variformer` installed.")
    description = (record.recipe or {}).get("description")
    return text + (f"\n\n{description}" if isinstance(description, str) else "")


def _count(number: int) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if number >= scale:
            return f"{number / scale:.1f}{suffix}"
    return str(number)


def _architecture_table(config, model_class: type, num_parameters: int | None) -> str:
    fields = ("architecture", "vocab_size", "hidden_size", "num_hidden_layers", "decoder_layers",
              "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size", "hidden_act",
              "position_embedding_type", "norm_type", "norm_position", "max_position_embeddings",
              "tie_word_embeddings", "dtype")
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
        return ("No training record was found with the checkpoint (no recipe file, no `trainer_state.json`); "
                "ask the publisher how it was trained.")
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
    rows += [(key, value) for key, value in training.items()
             if not isinstance(value, (dict, list)) and not _SECRET_KEY.search(str(key))]
    recipe_yaml = yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True).rstrip()
    return "\n".join([
        f"Training recipe (`{recipe_file or 'recipe'}`):", "", _table(("setting", "value"), rows), "",
        "<details><summary>Full recipe</summary>", "", "```yaml", recipe_yaml, "```", "", "</details>",
    ])


def _source_label(source: dict) -> str:
    if source.get("hub"):
        return f"{source['hub']}" + (f" ({source['hub_config']})" if source.get("hub_config") else "") \
            + f" [{source.get('split', 'train')}]"
    path = Path(str(source.get("path", "?")))
    label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    return label + (f" (max {source['max_samples']})" if source.get("max_samples") else "")


def _state_summary(state: dict) -> str:
    history = [entry for entry in state.get("log_history") or [] if isinstance(entry, dict)]
    train_losses = [entry["loss"] for entry in history if isinstance(entry.get("loss"), (int, float))]
    eval_losses = [entry["eval_loss"] for entry in history if isinstance(entry.get("eval_loss"), (int, float))]
    learning_rates = [entry["learning_rate"] for entry in history if isinstance(entry.get("learning_rate"),
                                                                                (int, float))]
    rows = [(key, state[key]) for key in ("global_step", "epoch", "max_steps", "num_train_epochs",
                                          "train_batch_size", "num_input_tokens_seen") if state.get(key)]
    rows += [("peak learning rate (logged)", max(learning_rates))] if learning_rates else []
    rows += [("last logged training loss", round(train_losses[-1], 4))] if train_losses else []
    rows += [("last evaluation loss", round(eval_losses[-1], 4))] if eval_losses else []
    if state.get("best_metric") is not None:
        rows.append(("best metric (model selection)", state["best_metric"]))
    return "Trainer state (`trainer_state.json`):\n\n" + _table(("quantity", "value"), rows)


def _evaluation_section(results: EvalResults | None, probes: bool) -> str:
    if results is None:
        return "No evaluation results were provided with this export."
    tasks = [task for task in results.tasks if task.is_hallucination_probe == probes]
    if not tasks:
        return ("No hallucination probe was run on this model." if probes
                else "The results file holds only hallucination probes (below).")
    rows = []
    for task in tasks:
        dataset = task.dataset.name + (f" ({task.dataset.config})" if task.dataset.config else "") \
            + (f" [{task.dataset.split}]" if task.dataset.split else "")
        for metric in task.metrics:
            arrow = {True: " ↑", False: " ↓"}.get(metric.higher_is_better, "")
            rows.append((task.name, dataset, metric.name + arrow, _number(metric.value),
                         "" if metric.stderr is None else f"± {_number(metric.stderr)}",
                         "" if task.num_samples is None else task.num_samples))
    intro = ("Probes of made-up or unfaithful output, as reported in the results file; mind each metric's "
             "direction (↑ higher is better, ↓ lower is better, none: see the task).\n\n" if probes else "")
    provenance = ", ".join(f"{k}: {v}" for k, v in results.meta.items() if isinstance(v, (str, int, float)))
    return intro + _table(("task", "dataset", "metric", "value", "stderr", "samples"), rows) \
        + (f"\n\nResults file metadata: {provenance}." if provenance and not probes else "")


def _report_link(options: CardOptions) -> list[str]:
    if options.eval_report is None:
        return []
    return ["", f"Every number above with its evidence (the run's settings, plots and each sample's prompt, output "
                f"and score): [`{EVAL_REPORT_PATH}`]({EVAL_REPORT_PATH}), one self-contained page; download it "
                "and open it in a browser, no server or network needed."]


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def _limitations(config, results: EvalResults | None) -> str:
    lines = [
        "- A research model of the Variformer family: check it on your own data before relying on it.",
        "- Generated text can be fluent and wrong: language models make up facts, names and numbers "
        "(see the hallucination probes above), and inherit the biases of their training data.",
        f"- Configured for sequences of up to {config.max_position_embeddings} tokens (`max_position_embeddings`); "
        + ("longer inputs do not fit its absolute position table." if config.position_embedding_type in
           ("learned", "sinusoidal") else "longer inputs are untested."),
        "- Loading without `variformer` runs the Python files of this repository (`trust_remote_code=True`); "
        "read them first, and pin a `revision` in production.",
    ]
    if results is None:
        lines.append("- No evaluation results were published with this model.")
    return "\n".join(lines)


def _how_to_load(repo_id: str | None, auto_name: str, config, has_tokenizer: bool) -> str:
    repo = repo_id or "path/to/this/folder"
    tokenizer_import = ", AutoTokenizer" if has_tokenizer else ""
    tokenizer_line = f'tokenizer = AutoTokenizer.from_pretrained("{repo}")\n' if has_tokenizer else ""
    example = ""
    if has_tokenizer and auto_name in ("AutoModelForCausalLM", "AutoModelForSeq2SeqLM"):
        example = ('inputs = tokenizer("Hello", return_tensors="pt")\n'
                   "output_ids = model.generate(**inputs, max_new_tokens=20)\n"
                   "print(tokenizer.decode(output_ids[0], skip_special_tokens=True))\n")
    import transformers

    from .._version import __version__

    return "\n".join([
        f"Exported with variformer {__version__} and transformers {transformers.__version__}; the remote code needs "
        f"transformers {transformers.__version__.split('.')[0]}.x.", "",
        "Without `variformer` (the configuration and modeling code in this repository are used):", "",
        "```python", f"from transformers import {auto_name}{tokenizer_import}", "",
        f'model = {auto_name}.from_pretrained("{repo}", trust_remote_code=True)',
        tokenizer_line + example + "```", "",
        "With `variformer` installed, its registered classes are used and no remote code runs:", "",
        "```python", "import variformer  # registers model_type \"variformer\" with the Auto classes",
        f"from transformers import {auto_name}", "", f'model = {auto_name}.from_pretrained("{repo}")', "```",
    ])


__all__ = ["CardOptions", "EVAL_REPORT_PATH", "EvalResults", "ModelCardError", "TaskResult", "build_model_card",
           "eval_report_file", "eval_results_file", "load_eval_results", "read_training_record"]
