"""Every code block of the README runs: the Python blocks in order in one namespace (warnings are
errors, as everywhere in the suite), and every ``tpmeta`` command line names a real subcommand with
real options; the Quick start's make targets exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tpmeta.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, flags=re.S)


def test_python_blocks_run(tmp_path, monkeypatch):
    python = [code for lang, code in BLOCKS if lang == "python"]
    assert len(python) >= 2
    (tmp_path / "studies").symlink_to(ROOT / "studies")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for code in python:
        exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README is ours
    assert namespace["batch"].estimate.shape == (10_000,)
    assert (tmp_path / "forest.pdf").stat().st_size > 0


def _subcommands() -> dict[str, set[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {name: {o for a in p._actions for o in a.option_strings} for name, p in sub.choices.items()}


def test_command_lines_name_real_options():
    known = _subcommands()
    lines = [line.split("#")[0].strip() for lang, code in BLOCKS if lang == "sh" for line in code.splitlines()]
    commands = [line for line in lines if line.startswith("tpmeta ")]
    assert commands
    for line in commands:
        words = shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))
        assert words[1] in known, f"README: unknown subcommand in {line!r}"
        for word in words[2:]:
            if word.startswith("--"):
                assert word.split("=")[0] in known[words[1]], f"README: {word} is not an option of {words[1]}"


def test_quick_start_targets_exist():
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    targets = re.findall(r"^make (\w+)", quick, flags=re.M)
    assert targets == ["report", "test"]
    makefile = (ROOT / "Makefile").read_text()
    for target in targets:
        assert re.search(rf"^{target}:", makefile, flags=re.M), target




def test_the_add_study_example_adds_a_trial(tmp_path, capsys):
    import shutil

    from tpmeta.dataset.studies import load_studies

    yaml_blocks = [code for lang, code in BLOCKS if lang == "yaml"]
    assert len(yaml_blocks) == 1
    studies = tmp_path / "studies"
    shutil.copytree(ROOT / "tests" / "data" / "mini_studies", studies)
    example = tmp_path / "smith2021.yaml"
    example.write_text(yaml_blocks[0])
    assert main(["add-study", str(example), "--studies", str(studies), "--dry-run"]) == 0, capsys.readouterr().err
    assert main(["add-study", str(example), "--studies", str(studies)]) == 0, capsys.readouterr().err
    data = load_studies(studies)
    assert "smith2021" in set(data.trials["study_id"]) and (data.outcomes["study_id"] == "smith2021").sum() == 2
    assert "smith2021" in set(data.rob2["study_id"]) and "smith2021" in set(data.registrations["study_id"])


def test_the_readme_figures_about_the_data_are_the_datas():
    import warnings

    import tpmeta
    from tpmeta.review.build import build_review
    from tpmeta.review.tables import register_counts

    data = tpmeta.load_studies(ROOT / "studies")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tpmeta.SingleStudyWarning)
        counts = register_counts(data, build_review(data).analyses)
    status = data.trials["inclusion_status"].value_counts()
    section = README.split("## What the shipped data show", 1)[1].split("##", 1)[0]
    rob = build_review(data).rob
    expected = (f"holds {counts['trials']} trials", f"({counts['included']} included, {status['awaiting']} awaiting",
                f"{status['excluded']} excluded", f"{counts['pooled']} trials enter at least one analysis",
                f"{int(rob['beyond_abstract'].sum())} of the {len(rob)} risk-of-bias (RoB 2) assessments rest on more "
                "than an abstract")  # fmt: skip
    text = " ".join(section.split())
    for fragment in expected:
        assert fragment in text, fragment


def test_the_egger_disagreement_quoted_in_the_readme_is_metafors():
    """'p = 0.090 against 0.71 on dat.crede2010': regtest(model="lm") and model="rma", from the JSON."""
    import json

    ref = json.loads((ROOT / "tests" / "reference" / "metafor_regtest.json").read_text())
    crede = [c for c in ref["regtest"] if "crede" in str(c.get("dataset", ""))]
    by_model = {c["model"]: c["expected"]["pvalue"] for c in crede if c.get("predictor", "sei") == "sei"}
    assert f"p = {by_model['lm']:.3f} against {by_model['rma']:.2f}" in README.replace("\n", " ")
