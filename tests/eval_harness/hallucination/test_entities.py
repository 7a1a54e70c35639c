"""The unsupported-entity / number heuristic on hand-made outputs."""

from __future__ import annotations

import pytest

from variformer.eval_harness.hallucination.entities import (
    aggregate,
    canonical_number,
    check_output,
    check_outputs,
    extract_entities,
    extract_numbers,
    normalize_word,
)

SOURCE = (
    "Christopher Huxtable, 34, from Swansea, had been missing since the collapse in February. "
    "Ken Cresswell and John Shaw remain missing, and two other families are still waiting."
)


def test_invented_number_is_flagged():
    report = check_output("Christopher Huxtable, 35, from Swansea was found.", SOURCE)
    assert report.unsupported == ["35"]
    assert report.counts("number") == (1, 1) and report.counts("entity") == (2, 0)
    assert report.rate() == pytest.approx(1 / 3)


def test_faithful_summary_has_no_unsupported_items():
    report = check_output("The body of Christopher Huxtable, 34, was found in Swansea; two families wait.", SOURCE)
    assert report.unsupported == [] and report.rate() == 0.0


def test_invented_entity_is_flagged_and_known_names_are_not():
    report = check_output("Officials said John Shaw and Mary Poppins were found near Cardiff.", SOURCE)
    assert report.unsupported == ["Mary Poppins", "Cardiff"]
    assert report.rate("entity") == pytest.approx(2 / 3)


def test_sentence_initial_words_and_function_words_are_not_entities():
    assert extract_entities("Police said the man left. The BBC reported it. He met Anna in Rome.") == [
        "BBC",
        "Anna",
        "Rome",
    ]
    assert extract_entities("Barack Obama spoke. In Paris, Mr Macron replied: Yes.") == ["Obama", "Paris", "Macron"]


def test_german_output_counts_numbers_only():
    assert extract_entities("Ein Mann mit einem Hund steht auf der Straße.", language="de") == []
    report = check_output("Zwei Männer und 3 Hunde.", "Two men and three dogs.", language="de")
    assert report.counts("entity") == (0, 0) and report.counts("number") == (2, 0)


def test_number_canonicalization():
    assert [canonical_number(t) for t in ["1,000", "3,6", "£5m", "17th", "3.0", "10%", "1990s"]] == [
        "1000",
        "3.6",
        "5",
        "17",
        "3",
        "10",
        "1990",
    ]
    assert extract_numbers("twenty-five people, seven dogs, a million cats") == [("twenty-five", "25"), ("seven", "7")]


def test_number_words_match_digits_and_german_source():
    assert check_output("Two men ride horses.", "Zwei Männer reiten Pferde.").unsupported == []
    assert check_output("One man rides.", "Ein Mann reitet.").unsupported == []
    assert check_output("Five men.", "There were 5 men.").unsupported == []
    assert check_output("Six men.", "There were 5 men.").unsupported == ["Six"]


def test_normalization_of_words():
    assert normalize_word("Sydney's") == "sydney" and normalize_word("Kōbō") == "kobo"
    assert check_output("He visited Sydney's harbour.", "the harbour of Sydney").unsupported == []


def test_duplicates_count_once():
    report = check_output("Paris, Paris and Paris again. It had 7, 7 and 7.", "nothing here")
    assert report.counts() == (2, 2)


def test_aggregate_pooled_and_per_sample():
    reports = check_outputs(
        ["John Shaw was 35.", "Nothing at all.", "Anna met Ken Cresswell."], [SOURCE, SOURCE, SOURCE]
    )
    metrics = aggregate(reports)
    # sample 1: John Shaw ok, 35 bad -> 1/2; sample 2: no items; sample 3: Ken Cresswell ok (Anna is sentence-initial)
    assert metrics["unsupported_rate"] == pytest.approx(1 / 3)
    assert metrics["unsupported_rate_per_sample"] == pytest.approx((0.5 + 0.0) / 2)
    assert metrics["samples_with_unsupported"] == pytest.approx(1 / 3)
    assert metrics["unsupported_number_rate"] == 1.0 and metrics["unsupported_entity_rate"] == 0.0
    assert aggregate(check_outputs(["nothing"], ["x"]))["unsupported_rate"] is None


def test_misaligned_inputs_raise():
    with pytest.raises(ValueError, match="2 outputs for 1 sources"):
        check_outputs(["a", "b"], ["a"])
