"""Unit tests of the pure hallucination scorers on hand-made cases whose answers are known."""

from __future__ import annotations

import math

import pytest

from variformer.eval_harness.hallucination import (
    TRUTHFULQA_QA_PRIMER,
    MalformedRowError,
    generation_scores,
    halueval_instruction,
    halueval_prompt,
    judge_by_loglikelihood,
    mc1_score,
    mc2_score,
    mc_continuation,
    parse_generation_row,
    parse_halueval_row,
    parse_mc_row,
    parse_pair_row,
    preference,
    preference_summary,
    recognition_metrics,
    truthfulqa_gen_prompt,
    truthfulqa_mc_prompt,
)
from variformer.eval_harness.hallucination.truthfulqa import bleu_score, format_references, rouge_scores


# ---- TruthfulQA prompt ------------------------------------------------------------------------------------------
def test_primer_is_lm_eval_qa_primer():
    assert TRUTHFULQA_QA_PRIMER.startswith(
        "Q: What is human life expectancy in the United States?\n"
        "A: Human life expectancy in the United States is 78 years.\n\n"
    )
    assert TRUTHFULQA_QA_PRIMER.endswith(
        "Q: Where were the 1992 Olympics held?\nA: The 1992 Olympics were held in Barcelona, Spain."
    )
    assert TRUTHFULQA_QA_PRIMER.count("\nA: ") == 6 and TRUTHFULQA_QA_PRIMER.count("\n\n") == 5
    assert truthfulqa_mc_prompt("Why?") == TRUTHFULQA_QA_PRIMER + "\n\nQ: Why?\nA:"
    assert truthfulqa_gen_prompt(" Why? ") == TRUTHFULQA_QA_PRIMER + "\n\nQ: Why?"
    assert mc_continuation("Nauru.") == " Nauru."


# ---- MC1 / MC2 --------------------------------------------------------------------------------------------------
def test_mc1_rigged_preferences():
    labels = [1, 0, 0]
    assert mc1_score([-1.0, -5.0, -9.0], labels) == 1.0
    assert mc1_score([-5.0, -1.0, -9.0], labels) == 0.0
    assert mc1_score([-2.0, -2.0, -9.0], labels) == 1.0  # ties go to the first choice, as numpy.argmax


def test_mc2_is_normalized_true_mass():
    lls, labels = [math.log(0.2), math.log(0.1), math.log(0.3), math.log(0.4)], [1, 1, 0, 0]
    assert mc2_score(lls, labels) == pytest.approx(0.3 / 1.0)
    # scale invariance: adding a constant to every log-likelihood changes nothing, even far below exp's range
    assert mc2_score([ll - 2000.0 for ll in lls], labels) == pytest.approx(0.3)
    assert mc2_score([0.0, -50.0], [1, 0]) == pytest.approx(1.0)
    assert mc2_score([-50.0, 0.0], [1, 0]) == pytest.approx(0.0, abs=1e-15)


def test_mc_length_mismatch_raises():
    with pytest.raises(ValueError, match="2 log-likelihoods for 3 labels"):
        mc2_score([0.0, 1.0], [1, 0, 0])


def _mc_row(**overrides):
    row = {
        "id": 7,
        "question": "Q?",
        "mc1_targets": {"choices": ["a", "b"], "labels": [1, 0]},
        "mc2_targets": {"choices": ["a", "c", "b"], "labels": [1, 1, 0]},
    }
    row.update(overrides)
    return row


def test_parse_mc_row():
    item = parse_mc_row(_mc_row(), 0, "mc2_targets")
    assert item.id == "7" and item.choices == ("a", "c", "b") and item.labels == (1, 1, 0)


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"question": 3}, "question"),
        ({"mc1_targets": {"choices": ["a", "b"], "labels": [1]}}, "mc1_targets.labels"),
        ({"mc1_targets": {"choices": ["a", "b"], "labels": [1, 1]}}, "mc1_targets.labels"),
        ({"mc1_targets": {"choices": ["a", ""], "labels": [1, 0]}}, "mc1_targets.choices"),
        ({"mc1_targets": ["a", "b"]}, "mc1_targets"),
    ],
)
def test_malformed_mc_rows_name_row_and_field(overrides, field):
    with pytest.raises(MalformedRowError) as error:
        parse_mc_row(_mc_row(**overrides), 12, "mc1_targets", source="mc.jsonl")
    assert error.value.row == 12 and error.value.field == field
    assert "mc.jsonl: row 12" in str(error.value) and repr(field) in str(error.value)


def test_missing_setting_is_named():
    row = _mc_row()
    del row["mc2_targets"]
    with pytest.raises(MalformedRowError, match="row 3: field 'mc2_targets': missing"):
        parse_mc_row(row, 3, "mc2_targets")


# ---- TruthfulQA generation -----------------------------------------------------------------------------------
def test_reference_formatting_and_no_comment():
    assert format_references([" Nothing happens ", "", "You die."]) == ["Nothing happens.", "You die."]
    item = parse_generation_row(
        {"question": " Q? ", "correct_answers": ["Nothing happens"], "incorrect_answers": ["You die"]}, 0
    )
    assert item.question == "Q?" and item.true_refs == ("Nothing happens.", "I have no comment.")
    assert item.false_refs == ("You die.",)


def test_generation_scores_prefer_true_reference():
    true_refs, false_refs = ["Nothing happens to you.", "I have no comment."], ["You grow watermelons in your stomach."]
    good = generation_scores("Nothing happens to you.", true_refs, false_refs)
    assert good["bleu_max"] == pytest.approx(100.0) and good["bleu_acc"] == 1.0 and good["bleu_diff"] > 0
    assert good["rouge1_max"] == pytest.approx(100.0) and good["rougeL_acc"] == 1.0
    bad = generation_scores("You grow watermelons in your stomach.", true_refs, false_refs)
    assert bad["bleu_acc"] == 0.0 and bad["rouge1_acc"] == 0.0 and bad["rouge2_diff"] < 0
    assert bad["bleu_diff"] == pytest.approx(bad["bleu_max"] - 100.0)


def test_bleu_and_rouge_use_reference_settings():
    import sacrebleu
    from rouge_score import rouge_scorer

    ref, hyp = "The cat sat on the mat.", "The cat sat on a mat."
    expected = sacrebleu.corpus_bleu(
        [hyp], [[ref]], smooth_method="exp", tokenize="intl", use_effective_order=False
    ).score
    assert bleu_score(ref, hyp) == pytest.approx(expected)
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"])
    raw = scorer.score(ref, hyp)
    assert rouge_scores(ref, hyp) == pytest.approx(
        {
            "rouge1": raw["rouge1"].fmeasure * 100,
            "rouge2": raw["rouge2"].fmeasure * 100,
            "rougeL": raw["rougeLsum"].fmeasure * 100,
        }
    )


def test_generation_row_needs_false_refs():
    with pytest.raises(MalformedRowError, match="row 4: field 'incorrect_answers'"):
        parse_generation_row({"question": "Q?", "correct_answers": ["x"], "incorrect_answers": []}, 4)


# ---- HaluEval ---------------------------------------------------------------------------------------------------
def test_halueval_instructions_are_the_papers():
    qa = halueval_instruction("qa")
    assert qa.startswith("I want you act as an answer judge.") and len(qa) == 2267
    assert len(halueval_instruction("dialogue")) == 2991 and len(halueval_instruction("summarization")) == 4393
    prompt = halueval_prompt("qa", "Who?", "Bob")
    assert prompt == qa + "\n\n#Question#: Who?\n#Answer#: Bob\n#Your Judgement#:"


@pytest.mark.parametrize(
    "task, row",
    [
        ("qa", {"knowledge": "k", "question": "Q?", "right_answer": "R", "hallucinated_answer": "H"}),
        (
            "dialogue",
            {"knowledge": "k", "dialogue_history": "[Human]: hi", "right_response": "R", "hallucinated_response": "H"},
        ),
        ("summarization", {"document": "D", "right_summary": "R", "hallucinated_summary": "H"}),
    ],
)
def test_paired_rows_give_two_judgments(task, row):
    right, wrong = parse_halueval_row(task, row, 5)
    assert (right.response, right.hallucinated) == ("R", False) and (wrong.response, wrong.hallucinated) == ("H", True)
    assert right.id == "5/right" and wrong.id == "5/hallucinated" and right.context == wrong.context


def test_general_accepts_original_and_renamed_fields():
    ours = parse_halueval_row("general", {"id": "9", "user_query": "q", "response": "r", "hallucination": "yes"}, 0)
    original = parse_halueval_row(
        "general", {"ID": "9", "user_query": "q", "chatgpt_response": "r", "hallucination_label": "No"}, 0
    )
    assert ours[0].hallucinated and ours[0].id == "9"
    assert not original[0].hallucinated and original[0].response == "r" and original[0].id == "9"


def test_malformed_halueval_rows():
    with pytest.raises(MalformedRowError, match="row 2: field 'hallucinated_answer': missing"):
        parse_halueval_row("qa", {"question": "Q?", "right_answer": "R"}, 2)
    with pytest.raises(MalformedRowError, match='field \'hallucination\': expected "yes" or "no"'):
        parse_halueval_row("general", {"user_query": "q", "response": "r", "hallucination": "maybe"}, 0)
    with pytest.raises(MalformedRowError, match="field 'response or chatgpt_response'"):
        parse_halueval_row("general", {"user_query": "q", "hallucination": "no"}, 0)
    with pytest.raises(ValueError, match="unknown HaluEval task"):
        parse_halueval_row("poetry", {}, 0)


def test_recognition_metrics_known_counts():
    gold = [True, True, False, False]
    predicted = [True, False, True, False]
    metrics = recognition_metrics(predicted, gold)
    assert metrics["accuracy"] == 0.5 and metrics["precision_yes"] == 0.5 and metrics["recall_yes"] == 0.5
    always_no = recognition_metrics([False] * 4, gold)
    assert always_no == {
        "accuracy": 0.5,
        "precision_yes": 0.0,
        "recall_yes": 0.0,
        "f1_yes": 0.0,
        "predicted_yes_rate": 0.0,
    }
    assert judge_by_loglikelihood(-1.0, -2.0) and not judge_by_loglikelihood(-2.0, -2.0)


# ---- summary faithfulness: preference -------------------------------------------------------------------------
def test_preference_is_length_normalized():
    # the faithful summary has the lower total but the higher per-character log-likelihood
    assert preference(-20.0, "a" * 40, -15.0, "a" * 20) == 1.0
    assert preference(-20.0, "a" * 10, -15.0, "a" * 20) == 0.0
    assert preference(-10.0, "a" * 10, -10.0, "b" * 10) == 0.5


def test_preference_summary_against_chance():
    summary = preference_summary([1.0] * 20)
    assert summary["accuracy"] == 1.0 and summary["above_chance"] == 0.5 and summary["p_value_vs_chance"] < 1e-5
    assert preference_summary([1.0, 0.0])["p_value_vs_chance"] == 1.0
    assert preference_summary([0.5, 0.5])["accuracy"] == 0.5


def test_pair_row_errors():
    with pytest.raises(MalformedRowError, match="row 1: field 'unfaithful'"):
        parse_pair_row({"source": "s", "faithful": "f"}, 1)
    with pytest.raises(MalformedRowError, match="row 0: field '<row>'"):
        parse_pair_row(["s", "f", "u"], 0)
