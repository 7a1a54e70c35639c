"""The probes as harness tasks: rigged fake models with known answers, every model type, malformed rows."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from variformer.eval_harness import evaluate
from variformer.eval_harness.adapters import FakeAdapter
from variformer.eval_harness.errors import DataError
from variformer.eval_harness.hallucination.tasks import GROUP, derived_metrics, with_unsupported_entities
from variformer.eval_harness.records import GenerationSettings, LoglikelihoodResult
from variformer.eval_harness.tasks import get_task, list_tasks

from .drive import run_task

PROBES = (
    "truthfulqa_mc1",
    "truthfulqa_mc2",
    "truthfulqa_gen",
    "halueval_qa",
    "halueval_dialogue",
    "halueval_summarization",
    "halueval_general",
    "summary_faithfulness",
    "xsum_unsupported",
    "multi30k_de_en_unsupported",
)


def test_probes_are_registered_in_their_report_group():
    assert set(PROBES) <= set(list_tasks())
    for name in PROBES:
        task = get_task(name)
        assert task.group == GROUP and task.data.load(), name
        json.dumps(task.to_json())


def _ll(prefer):
    """A fake LM whose log-likelihood is 0 for continuations `prefer` accepts and -50 per word otherwise."""

    def loglikelihood(request):
        words = max(1, len(request.continuation.split()))
        return LoglikelihoodResult(0.0 if prefer(request) else -50.0 * words, False, words)

    return loglikelihood


# ---- TruthfulQA ---------------------------------------------------------------------------------------------
def test_truthfulqa_mc_with_a_model_rigged_to_the_truth():
    rows = get_task("truthfulqa_mc2").data.load()[:5]
    true_answers = {
        " " + c
        for row in rows
        for c, true in zip(row.data["mc2_targets"]["choices"], row.data["mc2_targets"]["labels"])
        if true
    }
    truthful = FakeAdapter(loglikelihood_fn=_ll(lambda r: r.continuation in true_answers))
    assert run_task(get_task("truthfulqa_mc1"), truthful, limit=5).mean("mc1") == 1.0
    assert run_task(get_task("truthfulqa_mc2"), truthful, limit=5).mean("mc2") == pytest.approx(1.0)
    liar = FakeAdapter(loglikelihood_fn=_ll(lambda r: r.continuation not in true_answers))
    assert run_task(get_task("truthfulqa_mc1"), liar, limit=5).mean("mc1") == 0.0
    assert run_task(get_task("truthfulqa_mc2"), liar, limit=5).mean("mc2") < 1e-3


def test_truthfulqa_mc2_known_value():
    # every choice equally likely: MC2 = share of true choices
    rows = get_task("truthfulqa_mc2").data.load()[:3]
    run = run_task(get_task("truthfulqa_mc2"), FakeAdapter(loglikelihood_fn=_ll(lambda r: True)), limit=3)
    expected = [sum(r.data["mc2_targets"]["labels"]) / len(r.data["mc2_targets"]["labels"]) for r in rows]
    assert [o.scores["mc2"] for o in run.outcomes] == pytest.approx(expected)


def test_truthfulqa_gen_rigged_answers():
    rows = get_task("truthfulqa_gen").data.load()[:3]
    answers = {"Q: " + r.data["question"].strip(): r.data["best_answer"] for r in rows}

    def answer(request, wrong=False):
        question = request.context.rsplit("\n\n", 1)[-1]
        row = next(r for r in rows if "Q: " + r.data["question"].strip() == question)
        text = row.data["incorrect_answers"][0] if wrong else answers[question]
        return "\nA: " + text + ".\n\nQ: next question"

    good = run_task(get_task("truthfulqa_gen"), FakeAdapter(generate_fn=answer), limit=3)
    assert good.mean("bleu_acc") == 1.0 and good.mean("rouge1_acc") == 1.0 and good.mean("rougeL_diff") > 0
    assert all("next question" not in o.prediction for o in good.outcomes)  # cut at the blank line
    bad = run_task(get_task("truthfulqa_gen"), FakeAdapter(generate_fn=lambda r: answer(r, wrong=True)), limit=3)
    assert bad.mean("bleu_acc") == 0.0 and bad.mean("rouge1_diff") < 0


# ---- HaluEval ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("split", ["qa", "dialogue", "summarization", "general"])
def test_halueval_always_yes_fake(split):
    task = get_task(f"halueval_{split}")
    run = run_task(
        task,
        FakeAdapter(capabilities={"loglikelihood"}, loglikelihood_fn=_ll(lambda r: r.continuation == " Yes")),
        limit=6,
    )
    assert run.mode == "multiple_choice"
    assert run.samples[0].choices == ("No", "Yes")
    gold = [s.row["hallucinated"] for s in run.samples]
    metrics = {name: run.mean(name) for name in ("accuracy", "predicted_yes", "gold_yes", "true_yes")}
    assert metrics["predicted_yes"] == 1.0 and metrics["accuracy"] == pytest.approx(sum(gold) / len(gold))
    derived = derived_metrics(task.name, metrics)
    assert derived["recall_yes"] == 1.0 and derived["precision_yes"] == pytest.approx(sum(gold) / len(gold))
    if split != "general":
        assert gold == [False, True] * 3 and run.samples[0].row["context"] == run.samples[1].row["context"]


def test_halueval_prompt_and_judgments():
    run = run_task(get_task("halueval_qa"), FakeAdapter(capabilities={"loglikelihood"}), limit=2)
    first = run.samples[0]
    assert first.context.startswith("I want you act as an answer judge.")
    assert first.context.endswith(
        "\n\n#Question#: Which magazine was started first Arthur's Magazine or First for "
        "Women?\n#Answer#: Arthur's Magazine\n#Your Judgement#:"
    )
    assert [s.id for s in run.samples] == ["0/right", "0/hallucinated"]


def test_halueval_classifier_head_from_a_fake():
    # a rigged 2-label classifier that flags responses containing "first" as hallucinated
    def classify(request):
        flagged = "first" in request.text_pair.lower()
        return [math.log(0.1), math.log(0.9)] if flagged else [math.log(0.9), math.log(0.1)]

    fake = FakeAdapter(
        architecture="classifier", capabilities={"classify"}, labels=("LABEL_0", "LABEL_1"), classify_fn=classify
    )
    run = run_task(get_task("halueval_qa"), fake, limit=2)
    assert run.mode == "classifier_head"
    assert run.samples[0].classifier_input == (run.samples[0].row["context"], "Arthur's Magazine")
    assert [o.prediction for o in run.outcomes] == [0, 1] and run.mean("accuracy") == 1.0


def test_halueval_with_a_real_sequence_classifier(tokenizer):
    import torch

    from variformer import VariformerConfig, VariformerForSequenceClassification

    config = VariformerConfig.from_preset(
        "tiny-encoder",
        vocab_size=len(tokenizer),
        num_labels=2,
        max_position_embeddings=512,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = VariformerForSequenceClassification(config).eval()
    run = run_task(get_task("halueval_qa"), model, tokenizer, limit=4)
    assert run.mode == "classifier_head" and len(run.outcomes) == 4
    assert all(set(o.output) == {"logprob_no", "logprob_yes"} for o in run.outcomes)


@pytest.mark.parametrize("model_name", ["gpt2", "variformer-decoder", "variformer-encoder-decoder"])
def test_every_loglikelihood_probe_runs_on_every_lm(lm_models, tokenizer, model_name):
    model = lm_models[model_name]
    probes = (
        ("halueval_qa", 2),
        ("halueval_dialogue", 2),
        ("halueval_summarization", 2),
        ("halueval_general", 1),
        ("summary_faithfulness", 3),
    )
    for name, limit in probes:
        run = run_task(get_task(name), model, tokenizer, limit=limit)
        assert run.mode == "multiple_choice" and len(run.outcomes) == limit
        for outcome in run.outcomes:
            assert all(math.isfinite(v) for v in outcome.scores.values())


@pytest.mark.parametrize("model_name", ["gpt2", "variformer-decoder", "variformer-encoder-decoder"])
def test_generation_probes_run_on_lms(lm_models, tokenizer, model_name):
    short = GenerationSettings(max_new_tokens=4, stop=("\n\n",))
    model = lm_models[model_name]
    run = run_task(replace(get_task("truthfulqa_gen"), generation=short), model, tokenizer, limit=2)
    assert run.mode == "generation" and set(run.outcomes[0].scores) >= {"bleu_max", "rougeL_acc"}
    quick_xsum = replace(get_task("xsum_unsupported"), generation=GenerationSettings(max_new_tokens=4, stop=("\n",)))
    run = run_task(quick_xsum, model, tokenizer, limit=2)
    assert all(o.scores["items"] >= o.scores["unsupported_items"] >= 0 for o in run.outcomes)


# ---- summary faithfulness -----------------------------------------------------------------------------------
def test_faithfulness_preference_with_rigged_models():
    rows = get_task("summary_faithfulness").data.load()[:4]
    faithful = {" " + r.data["faithful"] for r in rows}
    fan = FakeAdapter(loglikelihood_fn=_ll(lambda r: r.continuation in faithful))
    assert run_task(get_task("summary_faithfulness"), fan, limit=4).mean("faithful_preference") == 1.0
    skeptic = FakeAdapter(loglikelihood_fn=_ll(lambda r: r.continuation not in faithful))
    assert run_task(get_task("summary_faithfulness"), skeptic, limit=4).mean("faithful_preference") == 0.0
    indifferent = FakeAdapter(loglikelihood_fn=lambda r: LoglikelihoodResult(-1.0 * len(r.continuation), False, 1))
    # per-character log-likelihood -1 (plus the leading space) for both: a tie only when lengths match
    run = run_task(get_task("summary_faithfulness"), indifferent, limit=4)
    assert all(o.scores["faithful_preference"] in (0.0, 0.5, 1.0) for o in run.outcomes)


# ---- unsupported entities on generation tasks ------------------------------------------------------------------
def test_xsum_summary_with_an_invented_number():
    row = get_task("xsum_unsupported").data.load()[0].data
    invented = "In 1875 the " + " ".join(row["summary"].split()[:6])

    run = run_task(get_task("xsum_unsupported"), FakeAdapter(generate_fn=lambda r: " " + invented + "\nmore"), limit=1)
    scores = run.outcomes[0].scores
    assert scores["unsupported_numbers"] == 1.0 and scores["has_unsupported"] == 1.0
    assert run.outcomes[0].prediction == invented
    assert derived_metrics("xsum_unsupported", scores)["unsupported_number_rate"] == 1.0


def test_translation_entity_scores():
    task = get_task("multi30k_de_en_unsupported")
    run = run_task(task, FakeAdapter(generate_fn=lambda r: " Two men in Paris.\n"), limit=2)
    assert task.metrics[0].name == "bleu" and any(m.name == "unsupported_items" for m in task.metrics)
    german = [s.row["de"] for s in run.samples]
    for outcome, source in zip(run.outcomes, german):
        assert outcome.scores["entities"] == 1.0  # "Paris"
        assert outcome.scores["unsupported_entities"] == float("Paris" not in source)


def test_with_unsupported_entities_needs_text_predictions():
    task = with_unsupported_entities(get_task("truthfulqa_mc1"), "question", name="mc1_entities")
    with pytest.raises(DataError, match="need a generated text"):
        run_task(task, FakeAdapter(), limit=1)


# ---- malformed rows -----------------------------------------------------------------------------------------
def _write(tmp_path, rows):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return str(path)


def test_malformed_halueval_row_names_line_and_field(tmp_path):
    path = _write(
        tmp_path,
        [{"question": "Q?", "right_answer": "R", "hallucinated_answer": "H"}, {"question": "Q?", "right_answer": "R"}],
    )
    task = get_task("halueval_qa").with_data(path)
    with pytest.raises(DataError, match=r"line 2 of .*rows.jsonl: row 1: field 'hallucinated_answer': missing"):
        run_task(task, FakeAdapter(), limit=None)


def test_original_halueval_general_format(tmp_path):
    path = _write(tmp_path, [{"ID": "7", "user_query": "q", "chatgpt_response": "r", "hallucination_label": "Yes"}])
    run = run_task(get_task("halueval_general").with_data(path), FakeAdapter(capabilities={"loglikelihood"}))
    assert run.samples[0].id == "7" and run.samples[0].row["hallucinated"] is True


def test_malformed_truthfulqa_row_names_row_and_field(tmp_path):
    good = get_task("truthfulqa_mc1").data.load()[0].data
    bad = {**good, "mc1_targets": {"choices": good["mc1_targets"]["choices"], "labels": [0] * 4}}
    task = get_task("truthfulqa_mc1").with_data(_write(tmp_path, [good, bad]))
    with pytest.raises(DataError, match=r"line 2 of .*\(row 1\).*field 'mc1_targets.labels'"):
        run_task(task, FakeAdapter())


def test_malformed_faithfulness_row(tmp_path):
    task = get_task("summary_faithfulness").with_data(
        _write(tmp_path, [{"source": "s", "faithful": "f", "unfaithful": ""}])
    )
    with pytest.raises(DataError, match=r"line 1 .*field 'unfaithful': is empty"):
        run_task(task, FakeAdapter())


# ---- through evaluate(): results, per-sample records and the report's hallucination section ----------------------
def test_evaluate_writes_the_hallucination_section(tmp_path):
    fake = FakeAdapter(seed=3)
    result = evaluate(
        fake,
        tasks=["halueval_qa", "summary_faithfulness", "truthfulqa_mc2", "xsum_unsupported"],
        limit=4,
        output_dir=tmp_path,
        bootstrap_iters=50,
        progress=False,
    )
    assert result.tasks["halueval_qa"].num_samples == 4 and result.tasks["halueval_qa"].group == GROUP
    assert set(result.tasks["halueval_qa"].metrics) == {"accuracy", "predicted_yes", "gold_yes", "true_yes"}
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "## Hallucination" in report and "### Headline numbers" in report
    assert "precision_yes" in report and "unsupported_rate" in report
    assert (tmp_path / "plots" / "group_hallucination.png").stat().st_size > 0
    records = [json.loads(line) for line in (tmp_path / "samples" / "halueval_qa.jsonl").read_text().splitlines()]
    assert [r["id"] for r in records] == ["0/right", "0/hallucinated", "1/right", "1/hallucinated"]
    assert [r["target"] for r in records] == [0, 1, 0, 1]
