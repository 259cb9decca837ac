"""Studies, reports, identifiers and searches: the cross-checks of ``reports.csv``, ``identifiers.csv`` and
``searches.csv`` that the schema cannot express, and which trials of the register are reports of one study.

* **Reports** (Cochrane Handbook 5.2: the unit of a review is the study, not the report). ``trials.csv``
  describes each study by its main report; ``reports.csv`` lists a study's publications, each linked to
  exactly one study. Refused: a DOI or PMID on two reports; a secondary report whose DOI, PMID or
  report_id is another row of ``trials.csv`` (the publication would count as a study of its own); a main
  report whose DOI/PMID differs from its study's row; two main reports of one study.
* **Identifiers**: each row of ``identifiers.csv`` gives the page that prints a DOI or PMID of
  ``trials.csv`` (or of a report) and a verbatim quote containing it. Refused: a value not in its quote, a
  value the dataset does not hold. An identifier without a provenance row is a warning, counted once.
* **Searches** (PRISMA-S): ``hits`` and ``new_trials`` are numbers or 'not logged'; a logged search's
  ``new_trials`` must equal the trials of ``trials.csv`` whose ``identified_via`` names its search_id, so
  that the flow diagram's arithmetic (identified - removed = screened) holds exactly.

Imports nothing from :mod:`tpmeta.dataset.studies` (which calls it); it sees the dataset's tables only.
"""

from __future__ import annotations

import re
from typing import Any, Callable

import pandas as pd

__all__ = ["OPTIONAL_FIELDS", "check_provenance", "identifier_in_text", "logged_searches", "study_groups"]

#: Resources a dataset may lack (older copies, test fixtures): their columns, so that a missing file or
#: an undeclared resource loads as an empty table.
OPTIONAL_FIELDS: dict[str, list[dict[str, Any]]] = {
    "reports": [{"name": n, "type": t} for n, t in (
        ("report_id", "string"), ("study_id", "string"), ("role", "string"), ("doi", "string"), ("pmid", "integer"),
        ("year", "integer"), ("citation", "string"), ("results", "string"), ("source_url", "string"),
        ("source_quote", "string"), ("link_evidence", "string"))],
    "identifiers": [{"name": n, "type": "string"} for n in (
        "study_id", "report_id", "kind", "value", "source_url", "source_quote", "note")],
    "searches": [{"name": n, "type": "string"} for n in (
        "search_id", "date", "source", "query", "hits", "new_trials", "notes")],
}  # fmt: skip

Add = Callable[[str, str, "int | None", "str | None", object, str, str], None]


def _text(value: object) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def _key(kind: str, value: object) -> str:
    """Comparable form of an identifier: DOIs are case-insensitive, PMIDs are numbers."""
    text = _text(value)
    if kind == "pmid":
        return str(int(float(text))) if re.fullmatch(r"\d+(\.0+)?", text) else text
    return text.lower()


def identifier_in_text(kind: str, value: object, text: object) -> bool:
    """Whether ``text`` prints the identifier as a whole token: a DOI case-insensitively and not as the start
    of a longer DOI (``10.1/x.1`` does not print ``10.1/x``), a PMID or registry number not as part of a
    longer number (``25329141`` is not printed by ``253291410``).

    >>> identifier_in_text("pmid", 12237186, "- PMID: 12237186 - DOI: 10.1016/s0304-3959(02)00062-3")
    True
    >>> identifier_in_text("doi", "10.1016/S0304-3959(02)00062-3", "DOI: 10.1016/s0304-3959(02)00062-3")
    True
    >>> identifier_in_text("pmid", 1223718, "PMID: 12237186")
    False
    """
    key, body = _key(kind, value), _text(text).lower()
    if not key or not body:
        return False
    if kind == "doi":
        return re.search(rf"(?<![\w.]){re.escape(key)}(?![\w/-]|\.\w)", body) is not None
    return re.search(rf"(?<![0-9a-z]){re.escape(key)}(?![0-9a-z])", body) is not None


def logged_searches(searches: pd.DataFrame) -> pd.DataFrame:
    """The searches with numbers (hits and new_trials given, not 'not logged'), as integers."""
    if searches is None or not len(searches) or "hits" not in searches:
        return pd.DataFrame(columns=["search_id", "source", "hits", "new_trials"])
    hits = pd.to_numeric(searches["hits"], errors="coerce")
    new = pd.to_numeric(searches["new_trials"], errors="coerce")
    keep = hits.notna() & new.notna()
    out = searches.loc[keep, ["search_id", "source"]].copy()
    out["hits"], out["new_trials"] = hits[keep].astype(int), new[keep].astype(int)
    return out


# ---- which trials are one study ----------------------------------------------------------------


def study_groups(trials: pd.DataFrame, reports: pd.DataFrame | None, registrations: pd.DataFrame | None) -> dict[str, str]:
    """Map each trial of ``trials.csv`` to the study it belongs to: itself, unless it is a secondary report
    of another study in ``reports.csv`` (same report_id, DOI or PMID) or shares a registry number with
    another trial. Trials in one group are reports of one study and must not enter an analysis together."""
    ids = [str(s) for s in trials["study_id"].dropna()]
    parent = {s: s for s in ids}

    def find(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    def union(a: str, b: str) -> None:
        if a in parent and b in parent and a != b:
            parent[find(b)] = find(a)

    if reports is not None and len(reports):
        by_key: dict[tuple[str, str], str] = {}
        for _, t in trials.iterrows():
            for kind in ("doi", "pmid"):
                if _key(kind, t.get(kind)):
                    by_key[(kind, _key(kind, t.get(kind)))] = str(t["study_id"])
        for _, r in reports.iterrows():
            study = _text(r.get("study_id"))
            if _text(r.get("role")) == "main":
                continue
            matches = {_text(r.get("report_id"))} if _text(r.get("report_id")) in parent else set()
            for kind in ("doi", "pmid"):
                hit = by_key.get((kind, _key(kind, r.get(kind))))
                if _key(kind, r.get(kind)) and hit:
                    matches.add(hit)
            for other in matches:
                union(study, other)
    if registrations is not None and len(registrations):
        for _, rows in registrations.dropna(subset=["registration"]).groupby(
                registrations["registration"].astype(str).str.strip().str.upper()):  # fmt: skip
            members = [str(s) for s in rows["study_id"].dropna() if str(s) in parent]
            for other in members[1:]:
                union(members[0], other)
    return {s: find(s) for s in ids}


# ---- checks -------------------------------------------------------------------------------------


def check_provenance(tables: dict[str, pd.DataFrame], add: Add) -> None:
    """Run the cross-checks of reports, identifiers and searches; ``add(severity, table, row, column,
    value, message, fix)`` records each problem (rows are CSV line numbers)."""
    _check_reports(tables, add)
    _check_identifiers(tables, add)
    _check_searches(tables, add)


def _check_reports(tables: dict[str, pd.DataFrame], add: Add) -> None:
    trials, reports = tables["trials"], tables.get("reports")
    if reports is None or not len(reports):
        return
    known = set(trials["study_id"].dropna().astype(str))
    trial_ids = {(kind, _key(kind, v)): str(s) for kind in ("doi", "pmid")
                 for s, v in zip(trials["study_id"], trials[kind]) if _key(kind, v)}  # fmt: skip
    own = {str(s): {kind: _key(kind, t) for kind, t in (("doi", d), ("pmid", p))}
           for s, d, p in zip(trials["study_id"], trials["doi"], trials["pmid"])}  # fmt: skip
    for kind in ("doi", "pmid"):
        keys = reports[kind].map(lambda v, k=kind: _key(k, v) or None)
        seen: dict[str, int] = {}
        for row, key in keys.dropna().items():
            if key in seen:
                add("error", "reports", int(row), kind, reports.at[row, kind],
                    f"the same {kind.upper()} is on two reports ({reports.at[seen[key], 'report_id']}, "
                    f"{reports.at[row, 'report_id']})", "one row per publication: delete the duplicate or correct the identifier")  # fmt: skip
            else:
                seen[key] = int(row)
    mains: dict[str, int] = {}
    for row, r in reports.iterrows():
        study, report, role = _text(r.get("study_id")), _text(r.get("report_id")), _text(r.get("role"))
        if study not in known:
            continue  # the schema's foreign key reports the unknown study
        if role == "main":
            if study in mains:
                add("error", "reports", int(row), "role", role,
                    f"study {study!r} has two main reports (lines {mains[study]} and {row})",
                    "one main report per study: the one trials.csv describes; mark the other 'secondary'")  # fmt: skip
            mains[study] = int(row)
            for kind in ("doi", "pmid"):
                mine, theirs = _key(kind, r.get(kind)), own[study][kind]
                if mine and theirs and mine != theirs:
                    add("error", "reports", int(row), kind, r.get(kind),
                        f"the main report of {study!r} has {kind.upper()} {mine}, but trials.csv gives {theirs}",
                        "the main report is the publication trials.csv describes: make the identifiers agree, or "
                        "mark this report 'secondary'")  # fmt: skip
            continue
        if report in known and report != study:
            add("error", "reports", int(row), "report_id", report,
                f"{report!r} is listed as a report of {study!r} but is still a trial of its own in trials.csv",
                f"keep one study_id for the study: delete the trials.csv row {report!r} (its results rows point at "
                f"{study!r}) or correct the link")  # fmt: skip
        for kind in ("doi", "pmid"):
            key = _key(kind, r.get(kind))
            other = trial_ids.get((kind, key)) if key else None
            if other == study:
                add("error", "reports", int(row), kind, r.get(kind),
                    f"this {kind.upper()} is the one trials.csv gives for {study!r}: the report is its main report",
                    "set role to 'main'")  # fmt: skip
            elif other is not None and other != report:
                add("error", "reports", int(row), kind, r.get(kind),
                    f"this {kind.upper()} is trial {other!r} in trials.csv, yet the report is linked to {study!r}",
                    "a publication reports one study: merge the two trials (keep one study_id) or correct the link")  # fmt: skip
    for study in sorted(set(reports.loc[reports["role"] == "secondary", "study_id"].dropna().astype(str)) - set(mains)):
        if study in known:
            first = int(reports.index[reports["study_id"] == study][0])
            add("warning", "reports", first, "study_id", study,
                f"study {study!r} has secondary reports but its main report is not listed",
                "add a 'main' row for the publication trials.csv describes, so the study's reports are all listed")  # fmt: skip


def _check_identifiers(tables: dict[str, pd.DataFrame], add: Add) -> None:
    trials, reports, ids = tables["trials"], tables.get("reports"), tables.get("identifiers")
    regs = tables.get("registrations")
    reports = reports if reports is not None else pd.DataFrame(columns=[f["name"] for f in OPTIONAL_FIELDS["reports"]])
    held: dict[tuple[str, str], set[str]] = {}  # (study, report_id or "") -> identifiers held
    for _, t in trials.iterrows():
        held[(str(t["study_id"]), "")] = {f"{k}:{_key(k, t.get(k))}" for k in ("doi", "pmid") if _key(k, t.get(k))}
    for _, r in reports[reports["role"] != "main"].iterrows():  # a main report's identifiers are its trial's
        held[(_text(r.get("study_id")), _text(r.get("report_id")))] = {
            f"{k}:{_key(k, r.get(k))}" for k in ("doi", "pmid") if _key(k, r.get(k))}
    registry = {(str(s), _key("registry", v)) for s, v in zip(regs["study_id"], regs["registration"])} if regs is not None else set()
    covered: set[str] = set()
    if ids is not None and len(ids):
        for row, r in ids.iterrows():
            study, report, kind, value = (_text(r.get(c)) for c in ("study_id", "report_id", "kind", "value"))
            if not (study and kind and value):
                continue  # required values: the schema reports them
            if not identifier_in_text(kind, value, r.get("source_quote")):
                add("error", "identifiers", int(row), "value", value,
                    f"the {kind} is not printed in the row's source_quote",
                    "copy the fragment of the page that prints the identifier into source_quote, or correct the value")  # fmt: skip
            key = f"{kind}:{_key(kind, value)}"
            if kind == "registry":
                if (study, _key("registry", value)) not in registry and (study, report) not in held:
                    add("error", "identifiers", int(row), "value", value,
                        f"registry number not recorded for {study!r} in registrations.csv",
                        "add it to registrations.csv, or correct study_id/value")  # fmt: skip
                continue
            if (study, report) not in held:
                add("error", "identifiers", int(row), "report_id" if report else "study_id", report or study,
                    f"no {'report ' + repr(report) + ' of ' if report else 'trial '}{study!r} to hold this identifier",
                    "give the study_id (and report_id) of the row in trials.csv / reports.csv that holds it")  # fmt: skip
            elif key not in held[(study, report)]:
                where = f"reports.csv {report!r}" if report else f"trials.csv {study!r}"
                add("error", "identifiers", int(row), "value", value,
                    f"{where} does not hold this {kind} (it has {', '.join(sorted(held[(study, report)])) or 'none'})",
                    "correct the identifier here or there: provenance is for an identifier the dataset holds")  # fmt: skip
            covered.add(f"{key}@{study}/{report}")
    missing = [f"{s}{'/' + r if r else ''} {k.split(':')[0]}" for (s, r), keys in held.items() for k in sorted(keys)
               if f"{k}@{s}/{r}" not in covered]  # fmt: skip
    total = sum(len(k) for k in held.values())
    if missing:
        add("warning", "identifiers", None, "value", None,
            f"{len(missing)} of {total} DOIs/PMIDs in trials.csv and reports.csv have no provenance row "
            f"(e.g. {', '.join(missing[:6])})",
            "add a row to identifiers.csv with the page that prints each identifier and a quote containing it")  # fmt: skip


def _check_searches(tables: dict[str, pd.DataFrame], add: Add) -> None:
    searches, trials = tables.get("searches"), tables["trials"]
    if searches is None or not len(searches):
        return
    via = trials["identified_via"].fillna("").astype(str)
    for row, r in searches.iterrows():
        hits, new = pd.to_numeric(r.get("hits"), errors="coerce"), pd.to_numeric(r.get("new_trials"), errors="coerce")
        if pd.notna(hits) and pd.notna(new) and new > hits:
            add("error", "searches", int(row), "new_trials", r.get("new_trials"),
                "more new trials than records returned", "check hits and new_trials")  # fmt: skip
        search_id = _text(r.get("search_id"))
        if pd.notna(new) and search_id:
            pattern = re.compile(rf"(?<![\w-]){re.escape(search_id)}(?![\w-])")
            named = int(via.map(lambda v, p=pattern: p.search(v) is not None).sum())
            if named != int(new):
                add("error", "searches", int(row), "new_trials", r.get("new_trials"),
                    f"{int(new)} new trial(s) logged, but {named} row(s) of trials.csv name {search_id} in identified_via",
                    f"write {search_id} into identified_via of each trial the search added, or correct new_trials")  # fmt: skip
