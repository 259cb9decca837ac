"""Malformed input never gives a traceback or a silent number (hypothesis).

Each command gets generated CSV or YAML: ragged rows, stray commas and quotes, decimal commas, text,
empty cells, inf/nan, huge and negative numbers, nested YAML. The command must either succeed on input
that is really valid, or exit 1 with a message; an exception escaping ``main`` fails the test.
``TPMETA_FUZZ_EXAMPLES=300`` runs a longer search than the suite's 40 examples per test.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tpmeta.cli import main

MINI = Path(__file__).resolve().parent / "data" / "mini_studies"
SETTINGS = settings(max_examples=int(os.environ.get("TPMETA_FUZZ_EXAMPLES", 40)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["", "NA", "abc", "0,5", "1e400", "-0.0", '"', '""', " 0.1 ", "1.2.3", "∞", "\t", "0x10"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8),
)
rows = st.lists(st.lists(cells, min_size=0, max_size=4), min_size=0, max_size=8)
headers = st.sampled_from([["yi", "vi"], ["vi", "yi"], ["yi", "vi", "study_id"], ["yi"], ["yi", "yi", "vi"], ["y", "v"], []])


def _csv(header: list[str], body: list[list[str]]) -> str:
    return "\n".join([",".join(header)] + [",".join(r) for r in body]) + "\n"


def _really_valid(header: list[str], body: list[list[str]]) -> bool:
    """The strict reading: the header has yi and vi once, every row as many fields, finite yi, vi > 0."""
    if header.count("yi") != 1 or header.count("vi") != 1:
        return False
    data = [r for r in body if any(c.strip() for c in r)]
    if not data or any(len(r) != len(header) for r in data):
        return False
    for r in data:
        try:
            y, v = float(r[header.index("yi")]), float(r[header.index("vi")])
        except ValueError:
            return False
        if not (math.isfinite(y) and math.isfinite(v) and v > 0 and abs(y) <= 1e100 and v <= 1e100):
            return False
    return True


@SETTINGS
@given(header=headers, body=rows, command=st.sampled_from(["pool", "gosh"]))
def test_pool_and_gosh_on_malformed_csv(tmp_path, capsys, header, body, command):
    path = tmp_path / "in.csv"
    path.write_text(_csv(header, body), encoding="utf-8")
    code = main([command, str(path)])
    err = capsys.readouterr().err
    assert code in (0, 1) and "Traceback" not in err
    if code == 0:  # success only on input that is valid read strictly: no silent number
        assert _really_valid(header, body), (header, body)
        if command == "gosh":
            assert sum(1 for r in body if any(c.strip() for c in r)) >= 2


@SETTINGS
@given(body=st.lists(st.lists(cells, min_size=6, max_size=7), min_size=1, max_size=5),
       measure=st.sampled_from(["SMD", "MD", "OR", "RR", "RD", "GENERIC"]))  # fmt: skip
def test_effects_on_malformed_csv(tmp_path, capsys, body, measure):
    header = {"SMD": "m1i,sd1i,n1i,m2i,sd2i,n2i", "MD": "m1i,sd1i,n1i,m2i,sd2i,n2i", "OR": "ai,bi,ci,di,x,y",
              "RR": "ai,bi,ci,di,x,y", "RD": "ai,n1i,ci,n2i,x,y", "GENERIC": "estimate,ci_low,ci_high,sei,x,y"}[measure]
    path = tmp_path / "in.csv"
    path.write_text(header + "\n" + "\n".join(",".join(r) for r in body) + "\n", encoding="utf-8")
    code = main(["effects", str(path), "--measure", measure, "--json"])
    captured = capsys.readouterr()
    assert code in (0, 1) and "Traceback" not in captured.err


yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12)),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@SETTINGS
@given(trial=st.dictionaries(st.sampled_from(["study_id", "year", "title", "n_randomised", "doi", "design", "x"]),
                             yaml_values, max_size=5),
       outcomes=yaml_values)  # fmt: skip
def test_add_study_on_malformed_yaml(tmp_path, capsys, trial, outcomes):
    import yaml

    studies = tmp_path / "studies"
    if not studies.exists():
        shutil.copytree(MINI, studies)
    path = tmp_path / "in.yaml"
    path.write_text(yaml.safe_dump({"trial": trial, "outcomes": outcomes}), encoding="utf-8")
    code = main(["add-study", str(path), "--studies", str(studies), "--dry-run"])
    err = capsys.readouterr().err
    assert code in (0, 1) and "Traceback" not in err


@SETTINGS
@given(table=st.sampled_from(["trials.csv", "outcomes.csv", "rob2.csv", "pedro.csv", "registrations.csv"]),
       line=st.integers(0, 5), text=st.sampled_from([",,,", '"unclosed', "a,b", "", "\ufeff", "x" * 300, ",\n,", "0,5"]))  # fmt: skip
def test_validate_on_damaged_tables(tmp_path, capsys, table, line, text):
    studies = tmp_path / "studies"
    if studies.exists():
        shutil.rmtree(studies)
    shutil.copytree(MINI, studies)
    lines = (studies / table).read_text(encoding="utf-8").split("\n")
    lines.insert(min(line, len(lines)), text)
    (studies / table).write_text("\n".join(lines), encoding="utf-8")
    code = main(["validate", str(studies)])
    captured = capsys.readouterr()
    assert code in (0, 1) and "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize("header", [["yi", "vi"]])
def test_the_strict_reading_accepts_clean_input(tmp_path, capsys, header):
    body = [["0.1", "0.01"], ["0.3", "0.02"], ["0.2", "0.03"]]
    assert _really_valid(header, body)
    path = tmp_path / "in.csv"
    path.write_text(_csv(header, body))
    assert main(["pool", str(path)]) == 0
