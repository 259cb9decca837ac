"""The notebook-built report: every section, self-contained HTML, deterministic tables, provenance,
clean failure (named notebook cell, previous report untouched), and a headless-Chromium check that the
page loads without console errors and every figure renders."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tpmeta.review.report import ReportError, build_report

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = [
    "Key findings", "Flow of trials", "Characteristics of the included trials", "Risk of bias", "Pooled analyses",
    "Certainty of the evidence", "What published systematic reviews found", "The article's claims",
    "Data quality", "Methods",
]  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "reports"
    messages.clear()
    index = build_report(ROOT / "studies", out, ROOT / "notebooks", progress=messages.append)
    return out, index


messages: list[str] = []  # the build's progress lines, collected by the fixture


def test_build_progress_names_sections_and_no_path_twice(built):
    """Each step says what it is doing (section names, seconds) and the output path is printed once, by
    the caller (the CLI prints it on stdout), not again in the progress lines."""
    _, index = built
    assert messages[0].startswith("[1/3] validating") and messages[-1].startswith("done in")
    cells = [m for m in messages if m.startswith("  review.py: ")]
    assert cells and all(m.endswith(" s)") for m in cells)
    assert any("Pooled analyses" in m for m in cells)
    assert not any(str(index) in m for m in messages)


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.csv"))}


def test_report_has_every_section_and_is_self_contained(built):
    out, index = built
    html = index.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in html, section
    assert "claim" in html.lower() and "Summary of Findings" in html
    assert html.count("data:image/png;base64,") >= 4  # figures embedded
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?://", html)  # nothing fetched
    for name in ("flow.csv", "effect_sizes.csv", "pooled_results.csv", "risk_of_bias.csv", "claims.csv",
                 "summary_of_findings.csv", "summary_of_findings.md"):  # fmt: skip
        assert (out / "tables" / name).is_file(), name
    for stem in ("flow", "rob_traffic_light", "rob_summary"):
        for ext in ("pdf", "svg", "png"):
            assert (out / "figures" / f"{stem}.{ext}").is_file()
    prov = json.loads((out / "provenance.json").read_text())
    assert {"data_sha256", "git_commit", "versions", "generated_utc", "parameters"} <= set(prov)
    assert len(prov["data_sha256"]) == 64


def test_rebuild_gives_byte_identical_tables(built, tmp_path):
    out, _ = built
    again = tmp_path / "reports"
    build_report(ROOT / "studies", again, ROOT / "notebooks", progress=lambda _: None)
    assert _digest(out / "tables") == _digest(again / "tables")


def test_failing_cell_is_named_and_old_report_kept(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "broken.py").write_text('# %% tags=["parameters"]\nSTUDIES_DIR = ""\nOUT_DIR = ""\n\n# %%\nx = 1\n\n# %%\n1 / 0\n')
    out = tmp_path / "reports"
    out.mkdir()
    (out / "index.html").write_text("previous report")
    with pytest.raises(ReportError, match=r"broken.py: code cell 3 failed: ZeroDivisionError"):
        build_report(ROOT / "studies", out, notebooks, progress=lambda _: None)
    assert (out / "index.html").read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_report_opens_in_headless_chromium(built):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    webdriver = pytest.importorskip("selenium.webdriver")
    if not (chromium and driver_path):
        pytest.skip("Debian chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"):  # fmt: skip
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        _, index = built
        driver.get(index.as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight]);")
        assert len(images) >= 4
        assert all(c and w > 0 and h > 0 for c, w, h in images), images
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        assert "Trigger-point therapy" in driver.title
        # phone width: the page itself never scrolls sideways; figures keep a legible size and scroll in
        # their own box; tables scroll in theirs
        driver.set_window_size(390, 900)
        width = driver.execute_script("return document.documentElement.clientWidth;")
        assert driver.execute_script("return document.documentElement.scrollWidth;") <= width
        shown = driver.execute_script("return Array.from(document.images).map(i => i.getBoundingClientRect().width);")
        assert min(shown) >= 250 and max(shown) >= 500, shown  # single-column figures at their print width
    finally:
        driver.quit()


def _event_handlers(page: str) -> list[str]:
    """Attribute names starting with 'on' on any element, as a browser parses them."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            found.extend(f"{tag}.{name}" for name, _ in attrs if name.lower().startswith("on"))

    Parser().feed(page)
    return found


HOSTILE = "Evil [x](javascript:alert(1)) ![t](https://evil.example/t.png) <script>alert(1)</script> <img src=x onerror=alert(1)>"


def test_hostile_strings_in_the_data_are_shown_not_run(tmp_path):
    """Dataset text (titles, authors, claims) is escaped before Markdown or HTML: the page gets no script,
    no javascript: URL, no event handler and nothing fetched from elsewhere."""
    import pandas as pd

    studies = tmp_path / "studies"
    shutil.copytree(ROOT / "studies", studies)
    analyses = pd.read_csv(studies / "analyses.csv", dtype=str, keep_default_na=False)
    analyses.loc[0, "title"] = "Pain intensity after treatment: " + HOSTILE
    analyses.to_csv(studies / "analyses.csv", index=False)
    trials = pd.read_csv(studies / "trials.csv", dtype=str, keep_default_na=False)
    trials["authors"] = HOSTILE + " " + trials["authors"]
    trials.to_csv(studies / "trials.csv", index=False)
    claims = pd.read_csv(studies / "claims.csv", dtype=str, keep_default_na=False)
    claims.loc[0, "claim"] = HOSTILE
    claims.to_csv(studies / "claims.csv", index=False)
    index = build_report(studies, tmp_path / "reports", ROOT / "notebooks", progress=lambda _: None)
    page = index.read_text(encoding="utf-8")
    assert "evil.example" in page  # the text is there, shown as text
    assert not re.search(r"<script", page, flags=re.I)
    assert not re.search(r"(href|src)\s*=\s*[\"']?\s*javascript:", page, flags=re.I)
    assert not _event_handlers(page)  # no on...= attribute on any element (text inside values is inert)
    assert not re.search(r"<(img|script|link|iframe|video|audio|source)[^>]+(src|href)=[\"']?https?://", page, flags=re.I)


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_a_stopped_build_says_so_once_and_keeps_the_previous_report(built, tmp_path, sig):
    import os
    import signal
    import subprocess
    import sys
    import time

    out, index = built
    reports = tmp_path / "reports"
    shutil.copytree(out, reports)
    before = (reports / "index.html").read_bytes()
    cli = Path(sys.executable).with_name("tpmeta")
    with subprocess.Popen([str(cli), "report", "--studies", str(ROOT / "studies"), "--out", str(reports),
                           "--notebooks", str(ROOT / "notebooks")], stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"}) as proc:  # fmt: skip
        seen = ""
        deadline = time.monotonic() + 120
        while ": 3/" not in seen and time.monotonic() < deadline:  # stop it in the middle of the notebook
            seen += proc.stderr.readline()
        proc.send_signal(getattr(signal, sig))
        rest = proc.stderr.read()
        assert proc.wait(60) == 130
    assert "Traceback" not in seen + rest and rest.strip().endswith("interrupted; nothing was changed")
    assert (reports / "index.html").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".reports")]


def test_answer_first_contents_and_methods_before_results(built):
    from urllib.parse import unquote

    _, index = built
    html = index.read_text(encoding="utf-8")
    order = [html.index(h) for h in ('id="Key-findings"', 'id="1.-Methods"', 'id="2.-Flow-of-trials"', 'id="5.-Pooled-analyses"')]
    assert order == sorted(order)  # the answer first, then how it was found, then the results
    ids = set(re.findall(r'<h[1-6] id="([^"]+)"', html))  # any heading a link may point to
    links = [unquote(h) for h in re.findall(r'href="#([^"]+)"', html)]
    assert len(links) >= 9 and all(link in {unquote(i) for i in ids} for link in links), set(links) - ids
    box = html[html.index('id="Key-findings"'):html.index('id="1.-Methods"')]
    assert "Trigger-point massage relieves pain" in box and "certainty" in box


def test_figures_are_numbered_with_captions_and_alt_text(built):
    _, index = built
    html = index.read_text(encoding="utf-8")
    alts = re.findall(r'<img[^>]*\salt="([^"]*)"', html)
    imgs = re.findall(r"<img\b", html)
    assert len(alts) == len(imgs) >= 4
    numbers = [int(re.match(r"Figure (\d+)\. \S", a).group(1)) for a in alts]
    assert numbers == list(range(1, len(alts) + 1))
    assert html.count("<figcaption>") == len(imgs)


def test_identifiers_are_links(built):
    _, index = built
    html = index.read_text(encoding="utf-8")
    assert re.search(r'<a href="https://doi\.org/10\.\d{4,9}/[^"]+">doi:10\.', html)
    assert re.search(r'<a href="https://pubmed\.ncbi\.nlm\.nih\.gov/\d+/">PMID \d+</a>', html) or "PMID" not in html


@pytest.fixture(scope="module")
def shipped_results():
    """The declared analyses of the shipped data, run once for the tests that compare the report to them."""
    import tpmeta

    return tpmeta.run_all(tpmeta.load_studies(ROOT / "studies"))


def test_diagnostic_figures_appear_where_they_apply(built, shipped_results):
    """Baujat for every pooled analysis of 3 or more trials, GOSH from 5 (or a sentence saying none
    qualifies and why), the PRISMA 2020 flow, the RoB summary by trial, and the specification curve."""

    _, index = built
    html = index.read_text(encoding="utf-8")
    results = shipped_results
    for aid, res in results.items():
        has_baujat = f"figures/baujat_{aid}." in html
        assert has_baujat == (res.pooled is not None and res.k >= 3), aid
        assert (f"figures/gosh_{aid}." in html) == (res.pooled is not None and res.k >= 5), aid
    if max(r.k for r in results.values()) < 5:
        assert "GOSH</strong> (every subset of trials) is drawn for analyses with at least 5 trials" in html
    assert "PRISMA 2020 flow of trials" in html and "Reports sought for retrieval" in html
    assert "each trial counts once" in html.replace("\n", " ") or "counts once" in html
    assert "figures/multiverse_pain_intensity." in html
    net = html[html.index("Network of all comparisons"):html.index('id="6.-Certainty')]
    assert ("figures/network_pain_network." in net and "direct only" in net) or "No network can be formed" in net


def test_worklist_section_lists_the_top_15_with_links(built):
    out, index = built
    html = index.read_text(encoding="utf-8")
    section = html[html.index('id="10.-Full-texts-to-extract-first"'):]
    rows = re.findall(r"<tr\b", section[:section.index("</table>")])
    assert len(rows) == 1 + 15  # header + the top 15
    assert re.search(r'<a href="https://doi\.org/10\.', section)
    work = pd.read_csv(out / "tables" / "full_text_worklist.csv")
    assert len(work) >= 15 and work["rank"].tolist() == list(range(1, len(work) + 1))


def test_small_k_analyses_show_the_bayesian_result_and_which_to_read(built, shipped_results):
    """k = 2 … 4: the Bayesian result (half-normal(0.5) on τ) beside REML + HKSJ, with the sentence saying
    which to read, the shrinkage forest and the prior-sensitivity curve; on a raw (mm) scale, why not."""

    _, index = built
    html = index.read_text(encoding="utf-8")
    results = shipped_results
    small = {a: r for a, r in results.items() if r.pooled is not None and 2 <= r.k <= 4}
    assert small  # the shipped data have such analyses
    for aid, res in small.items():
        shown = res.spec.measure.value in ("SMD", "RR", "OR")
        assert (f"figures/bayes_{aid}." in html) == shown, aid
        assert (f"figures/bayes_sensitivity_{aid}." in html) == shown, aid
    if any(r.spec.measure.value in ("SMD", "RR", "OR") for r in small.values()):
        assert "τ ~ half-normal(0.5), μ ~ uniform" in html and "is the one to read here" in html
    if any(r.spec.measure.value == "MD" for r in small.values()):
        assert "Bayesian result not shown for MD" in html
    for aid, res in results.items():  # never for one trial or for larger analyses
        if res.pooled is None or not 2 <= res.k <= 4:
            assert f"figures/bayes_{aid}." not in html
