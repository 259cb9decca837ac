"""Clear errors from :func:`tpmeta.network_meta` for the mistakes people make with network data: a
disconnected network (each sub-network named, with its treatments and trials), a trial with one arm
(the trial named), and a misspelt treatment (the closest name suggested: "did you mean …?")."""

from __future__ import annotations

import pandas as pd
import pytest

from tpmeta import StudyDataError, network_meta


def _arms(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"study": [s for s, _ in rows], "treatment": [t for _, t in rows],
                         "mean": [1.0 + 0.1 * i for i in range(len(rows))], "sd": 1.0, "n": 30})  # fmt: skip


CONNECTED = [("s1", "sham"), ("s1", "dry needling"), ("s2", "sham"), ("s2", "ischemic compression"),
             ("s3", "dry needling"), ("s3", "ischemic compression")]  # fmt: skip


def test_disconnected_network_names_every_sub_network_with_its_treatments_and_trials():
    arms = _arms([("s1", "sham"), ("s1", "dry needling"), ("s2", "sham"), ("s2", "dry needling"),
                  ("s3", "massage"), ("s3", "ibuprofen"), ("s4", "usual care"), ("s4", "self-massage")])  # fmt: skip
    with pytest.raises(StudyDataError) as err:
        network_meta(arms, measure="SMD", reference="sham", source="arms.csv")
    problems = err.value.problems
    assert len(problems) == 3  # one problem per sub-network
    text = str(err.value)
    assert "disconnected" in text and "sub-network 1 of 3" in text and "sub-network 3 of 3" in text
    assert "['sham', 'dry needling']" in text and "['s1', 's2']" in text
    assert "['ibuprofen', 'massage']" in text and "['s3']" in text
    assert "['self-massage', 'usual care']" in text and "['s4']" in text
    assert all(p.file == "arms.csv" and p.column == "treatment" and "add a trial that links them" in p.fix
               for p in problems)  # fmt: skip
    assert "did you mean" not in text  # no name here looks like another: no false hint


def test_a_misspelt_treatment_that_splits_the_network_is_named_with_the_likely_intended_name():
    arms = _arms([*CONNECTED, ("s4", "ischemic compresion"), ("s4", "massage")])
    with pytest.raises(StudyDataError) as err:
        network_meta(arms, measure="SMD", reference="sham")
    text = str(err.value)
    assert "disconnected" in text and "'ischemic compresion' looks like 'ischemic compression'" in text
    assert "did you mean 'ischemic compression'?" in text
    # a label that differs only in case or spacing is suggested too
    arms = _arms([*CONNECTED, ("s4", "Sham"), ("s4", "massage")])
    with pytest.raises(StudyDataError, match="'Sham' looks like 'sham'.*did you mean 'sham'"):
        network_meta(arms, measure="SMD", reference="sham")


def test_a_trial_with_one_arm_is_named():
    arms = _arms([*CONNECTED, ("lonely2020", "sham")])
    with pytest.raises(StudyDataError) as err:
        network_meta(arms, measure="SMD", reference="sham", source="arms.csv")
    (p,) = err.value.problems
    assert "study 'lonely2020' has a single arm: it compares nothing" in p.message
    assert (p.file, p.row, p.column, p.value) == ("arms.csv", 6, "study", "lonely2020")
    assert "leave it out of the network" in p.fix


def test_a_trial_whose_two_arms_carry_one_treatment_is_named():
    arms = _arms([*CONNECTED, ("twice2021", "sham"), ("twice2021", "sham")])
    with pytest.raises(StudyDataError, match="treatment 'sham' appears twice in study 'twice2021'.*combine_arms"):
        network_meta(arms, measure="SMD", reference="sham")


@pytest.mark.parametrize(("reference", "suggestion"), [
    ("dry neddling", "dry needling"),  # a typo
    ("Sham", "sham"),  # another case
    ("ischaemic compression", "ischemic compression"),  # British spelling
])  # fmt: skip
def test_a_reference_not_in_the_data_suggests_the_closest_treatment(reference, suggestion):
    with pytest.raises(StudyDataError) as err:
        network_meta(_arms(CONNECTED), measure="SMD", reference=reference)
    (p,) = err.value.problems
    assert f"the reference treatment {reference!r} is not in the data: did you mean {suggestion!r}?" in p.message
    assert p.value == reference and p.column == "treatment"
    assert p.fix == "choose one of ['dry needling', 'ischemic compression', 'sham']"


def test_a_reference_like_no_treatment_lists_the_choices_without_a_guess():
    with pytest.raises(StudyDataError) as err:
        network_meta(_arms(CONNECTED), measure="SMD", reference="placebo")
    (p,) = err.value.problems
    assert "did you mean" not in p.message and "'dry needling', 'ischemic compression', 'sham'" in p.fix


def test_contrast_level_input_gets_the_same_suggestion():
    c = pd.DataFrame({"study": ["s1", "s2"], "treatment": ["dry needling", "ischemic compression"],
                      "comparator": ["sham", "sham"], "yi": [0.1, 0.2], "vi": [0.04, 0.05]})  # fmt: skip
    with pytest.raises(StudyDataError, match="did you mean 'sham'"):
        network_meta(c, measure="SMD", reference="shma", comparator="comparator")
