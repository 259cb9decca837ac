"""The command line: output formats and clean errors (no tracebacks)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tpmeta.cli import main


@pytest.fixture()
def bcg_csv(tmp_path, metafor_reference):
    case = next(c for c in metafor_reference["pooling"] if c["dataset"] == "dat.bcg" and c["method"] == "REML" and c["test"] == "knha")
    lines = ["study_id,yi,vi"] + [f"s{i},{y!r},{v!r}" for i, (y, v) in enumerate(zip(case["yi"], case["vi"]))]
    path = tmp_path / "bcg.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, case


def test_pool_json_matches_metafor(bcg_csv, capsys):
    path, case = bcg_csv
    assert main(["pool", str(path), "--method", "REML", "--test", "knha", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimate"] == pytest.approx(case["expected"]["estimate"], rel=1e-7)
    assert out["method"] == "REML" and out["test"] == "knha" and out["k"] == 13


def test_pool_table_output(bcg_csv, capsys):
    path, _ = bcg_csv
    assert main(["pool", str(path)]) == 0
    assert "prediction interval" in capsys.readouterr().out


def test_pool_bad_value_message(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("study_id,yi,vi\nA,0.1,0.1\nB,0.2,-1\n")
    assert main(["pool", str(path)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 3" in err and "'vi'" in err and "-1" in err and "Traceback" not in err


def test_pool_missing_column_and_file(tmp_path, capsys):
    path = tmp_path / "x.csv"
    path.write_text("study,effect,var\nA,0.1,0.1\n")
    assert main(["pool", str(path)]) == 1
    assert "column 'yi' is missing" in capsys.readouterr().err
    assert main(["pool", str(path), "--yi", "effect", "--vi", "var", "--label", "study"]) == 0
    assert main(["pool", str(tmp_path / "none.csv")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_effects_csv_and_json(tmp_path, capsys):
    path = tmp_path / "arms.csv"
    path.write_text("study_id,mt,sd1i,n1i,m2i,sd2i,n2i\nA,2,1,20,3,1.2,20\n")
    assert main(["effects", str(path), "--measure", "SMD", "--m1i", "mt", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["yi"] == pytest.approx(-0.8873502646, abs=1e-9)  # metafor escalc
    assert main(["effects", str(path), "--measure", "MD", "--m1i", "mt", "--csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("yi,vi")


def test_invalid_choice_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["pool", "x.csv", "--method", "reml"])
    assert exc.value.code == 2


def test_forest_exports_every_format(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "figs"
    assert main(["forest", "--outcome", "pain_intensity", "--analysis", "needling_pain_mm", "--format",
                 "pdf,svg,png,tiff", "--dpi", "600", "--out", str(out)]) == 0
    stem = out / "forest_needling_pain_mm"
    assert b"/FontFile2" in stem.with_suffix(".pdf").read_bytes()  # fonts embedded
    assert b"<text" in stem.with_suffix(".svg").read_bytes()  # text kept as text
    for ext in ("png", "tiff"):
        with Image.open(stem.with_suffix(f".{ext}")) as im:
            assert round(im.info["dpi"][0]) == 600
    assert main(["forest", "--outcome", "quality_of_life"]) == 1
    assert "no analysis of outcome" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("yi,vi\n0.1,0.01,9\n0.3,0.02,9\n", "line 2: 3 fields where the header has 2"),  # pandas would shift columns
        ("yi,yi,vi\n0.1,0.2,0.01\n0.3,0.1,0.02\n", "'yi' appear more than once"),
        ("yi,vi\n0.1,0.01\n0,3,0.02\n", "line 3: 3 fields"),  # a decimal comma
        ("", "empty"),
    ],
)
@pytest.mark.parametrize("command", ["pool", "gosh"])
def test_malformed_csv_is_refused_with_file_and_line(tmp_path, capsys, text, fragment, command):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert main([command, str(path)]) == 1
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_gosh_checks_its_input_like_pool(tmp_path, capsys):
    path = tmp_path / "neg.csv"
    path.write_text("yi,vi\n0.1,0.01\n0.3,-0.02\n0.2,0.03\n")
    assert main(["gosh", str(path)]) == 1
    assert "row 3, column 'vi'" in capsys.readouterr().err


def test_effects_without_sd_columns_names_them(tmp_path, capsys):
    path = tmp_path / "nosd.csv"
    path.write_text("m1i,n1i,m2i,n2i\n1,10,2,10\n")
    assert main(["effects", str(path), "--measure", "SMD"]) == 1
    err = capsys.readouterr().err
    assert "column 'sd1i' is missing" in err and "Traceback" not in err


def test_gosh_prints_a_summary_and_writes_a_plot(tmp_path, capsys):
    rng = np.random.default_rng(3)
    v = rng.uniform(0.01, 0.1, 8)
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    path = tmp_path / "g.csv"
    path.write_text("yi,vi\n" + "".join(f"{a},{b}\n" for a, b in zip(y, v)))
    plot = tmp_path / "gosh.png"
    assert main(["gosh", str(path), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "255 subsets of 8 studies" in out and "I²" in out and len(out.splitlines()) < 10
    assert plot.stat().st_size > 0
    assert main(["gosh", str(path), "--csv", "--plot", ""]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 256  # header + every subset


def test_forest_cli_uses_the_reports_labels(tmp_path, capsys):
    """`tpmeta forest` and the report draw the same figure: same favours labels, same effect label."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert main(["forest", "--outcome", "disability", "--format", "svg", "--studies", str(root / "studies"),
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    import re

    svg = (tmp_path / "forest_disability_post.svg").read_text()
    words = " ".join(re.findall(r">([^<>]*)</text>", svg))  # labels may wrap over several text lines
    assert "Favours trigger-point therapy" in words and "Favours intervention" not in words


def test_forest_cli_options_for_labels_and_limits(tmp_path, capsys):
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert main(["forest", "--outcome", "disability", "--format", "svg", "--studies", str(root / "studies"),
                 "--out", str(tmp_path), "--favours", "Favours TPI", "Favours sham", "--effect-label", "Hedges g",
                 "--xlim", "-3", "2"]) == 0  # fmt: skip
    words = " ".join(re.findall(r">([^<>]*)</text>", (tmp_path / "forest_disability_post.svg").read_text()))
    assert "Favours TPI" in words and "Favours sham" in words and "Hedges g" in words
    assert "\u22123" in words and "2" in words  # the axis runs from −3 to 2


def test_forest_cli_single_width_is_85_mm_and_columns_are_chosen(tmp_path, capsys):
    """--width single gives an 85 mm figure: columns that do not fit are left out with a note naming
    them; --columns chooses them, and columns that cannot fit give an error saying what to drop."""
    from pathlib import Path

    from PIL import Image

    root = Path(__file__).resolve().parents[1]
    common = ["forest", "--outcome", "pain_intensity", "--analysis", "needling_pain_mm", "--format", "png",
              "--studies", str(root / "studies"), "--out", str(tmp_path)]  # fmt: skip
    assert main([*common, "--width", "single"]) == 0
    err = capsys.readouterr().err
    assert "left out the rob column(s) to fit the single width (85 mm)" in err and "Traceback" not in err
    with Image.open(tmp_path / "forest_needling_pain_mm.png") as im:
        assert abs(im.size[0] / im.info["dpi"][0] * 25.4 - 85) < 0.5
    assert main([*common, "--width", "single", "--columns", "weight,effect"]) == 0
    assert "left out" not in capsys.readouterr().err
    assert main([*common, "--width", "single", "--columns", "rob,weight,effect"]) == 1
    err = capsys.readouterr().err
    assert "does not fit the single width (85 mm)" in err and "rob " in err and "Traceback" not in err
    assert main([*common, "--columns", "weights"]) == 1
    assert "choose one of 'arms', 'weight', 'effect', 'rob'" in capsys.readouterr().err
