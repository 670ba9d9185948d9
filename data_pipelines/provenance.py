"""What data a model saw, per source and split, and how it differs from another model's.

:func:`data_provenance` records, for every source of a set of manifest rows and for each of its splits,
the number of rows (images) and patients and the sha256 of their canonical CSV
(:func:`data_pipelines.manifest.manifest_hash` of just those rows): same hash, same images (by
content), labels, patients, folds and answers. A training run stores it in its contract's provenance
(``data_by_source``, beside the overall ``manifest_hash``), so a later run or ``dermatriage data build``
can say which source and which split changed, and by how much (:func:`compare_provenance`).

Contracts written before per-source records hold only the overall ``manifest_hash`` (and, for the
urgency model, ``train_rows_by_source``): the comparison then says so, whether the overall hash
matches, and what counts the older model recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from data_pipelines.manifest import KNOWN_SOURCES, SPLITS, ManifestRow, manifest_hash

#: the contract provenance keys: the overall hash, the per-source record, the comparison with the
#: champion made when the model was trained
OVERALL = "manifest_hash"
BY_SOURCE = "data_by_source"
COMPARED = "data_vs_champion"
#: characters of a sha256 shown in sentences
SHORT = 12


def _short(digest: str | None) -> str:
    return f"`{digest[:SHORT]}…`" if digest else "none"


def _counts(rows: list[ManifestRow]) -> dict[str, Any]:
    return {
        "rows": len(rows),
        "patients": len({r.patient_id for r in rows}),
        "sha256": manifest_hash(rows),
    }


def data_provenance(rows: Iterable[ManifestRow]) -> dict[str, dict[str, Any]]:
    """``{source: {rows, patients, sha256, splits: {split: {rows, patients, sha256}}}}`` of ``rows``
    (sources in manifest order, then any other; splits in manifest order)."""
    rows = list(rows)
    present = {r.source for r in rows}
    order = [s for s in KNOWN_SOURCES if s in present] + sorted(present - set(KNOWN_SOURCES))
    out: dict[str, dict[str, Any]] = {}
    for source in order:
        of_source = [r for r in rows if r.source == source]
        splits = {
            split: _counts([r for r in of_source if r.split == split])
            for split in SPLITS
            if any(r.split == split for r in of_source)
        }
        out[source] = {**_counts(of_source), "splits": splits}
    return out


def hash_tags(by_source: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """``manifest_hash_<source>`` and ``manifest_hash_<source>_<split>``: tags to search runs by."""
    tags = {}
    for source, record in by_source.items():
        tags[f"manifest_hash_{source}"] = record["sha256"]
        for split, part in record.get("splits", {}).items():
            tags[f"manifest_hash_{source}_{split}"] = part["sha256"]
    return tags


def _n(count: int) -> str:
    return f"{count:,} image" + ("" if count == 1 else "s")


def _split_change(split: str, mine: Mapping[str, Any] | None, theirs: Mapping[str, Any] | None) -> str:
    if mine is None:
        return f"{split} none (the champion's: {_n(theirs['rows'])})"
    if theirs is None:
        return f"{split} {_n(mine['rows'])} (the champion had none)"
    if mine["sha256"] == theirs["sha256"]:
        return f"{split} {_n(mine['rows'])} (same)"
    parts = []
    if mine["rows"] != theirs["rows"]:
        parts.append(f"{_n(mine['rows'])} (champion {theirs['rows']:,})")
    if mine["patients"] != theirs["patients"]:
        parts.append(f"{mine['patients']:,} patients (champion {theirs['patients']:,})")
    if not parts:
        return (
            f"{split} {_n(mine['rows'])} of {mine['patients']:,} patients, as many as the champion's "
            "but not the same (images, labels, folds or answers changed)"
        )
    return f"{split} " + ", ".join(parts)


def _source_line(source: str, mine: Mapping[str, Any] | None, theirs: Mapping[str, Any] | None) -> str:
    if mine is None:
        splits = ", ".join(f"{s} {_n(p['rows'])}" for s, p in theirs.get("splits", {}).items())
        return f"{source}: only the champion had it ({splits}); this data has none"
    if theirs is None:
        splits = ", ".join(f"{s} {_n(p['rows'])}" for s, p in mine.get("splits", {}).items())
        return f"{source}: new, the champion had none ({splits})"
    if mine["sha256"] == theirs["sha256"]:
        return f"{source}: same as the champion's ({_n(mine['rows'])}, sha256 {_short(mine['sha256'])})"
    mine_splits, their_splits = mine.get("splits", {}), theirs.get("splits", {})
    names = [s for s in SPLITS if s in mine_splits or s in their_splits]
    names += sorted((set(mine_splits) | set(their_splits)) - set(names))
    changes = ", ".join(_split_change(s, mine_splits.get(s), their_splits.get(s)) for s in names)
    return f"{source}: differs from the champion's: {changes}"


def compare_provenance(
    mine: Mapping[str, Any], champion: Mapping[str, Any], counts: Mapping[str, float] | None = None
) -> list[str]:
    """How the data of ``mine`` differ from the ``champion``'s, as sentences; both are contract
    provenance (``manifest_hash``, and ``data_by_source`` where recorded). Identical data: one line
    saying so. A champion without a per-source record (a contract older than it): what it did record —
    its overall hash, whether it matches, its ``train_rows_by_source`` and ``counts`` (words -> number,
    e.g. ``{"trained on": 1711, "test": 187}`` from its card)."""
    my_hash, their_hash = mine.get(OVERALL), champion.get(OVERALL)
    if my_hash and my_hash == their_hash:
        return [f"the same data as the champion's (manifest sha256 {_short(my_hash)})"]
    theirs = champion.get(BY_SOURCE)
    if not theirs:
        if not their_hash:
            lines = ["the champion recorded no manifest hash: what data it saw is unknown"]
        else:
            lines = [
                f"the champion recorded only an overall manifest sha256 ({_short(their_hash)}), no "
                f"per-source hashes: it differs from this data's ({_short(my_hash)}); which source or "
                "split changed cannot be told from it"
            ]
        trained = champion.get("train_rows_by_source")
        if trained:
            listed = ", ".join(f"{source} {_n(n)}" for source, n in trained.items())
            lines.append(f"the champion was trained on {listed}")
        if counts:
            listed = ", ".join(f"{words} {_n(int(n))}" for words, n in counts.items())
            lines.append(f"the champion's counts: {listed}")
        return lines
    lines = [
        f"the data differ from the champion's (manifest sha256 {_short(my_hash)}, "
        f"champion {_short(their_hash)})"
    ]
    mine_by = mine.get(BY_SOURCE) or {}
    sources = list(mine_by) + [s for s in theirs if s not in mine_by]
    lines += [_source_line(s, mine_by.get(s), theirs.get(s)) for s in sources]
    return lines


def data_section(provenance: Mapping[str, Any]) -> list[str]:
    """Markdown of a model's data from its contract provenance: the overall hash, one table row per
    source and split (images, patients, sha256) and, where recorded, how the data differed from the
    champion's when it was trained. What the model cards and the run page show."""
    lines = [f"- manifest sha256 `{provenance.get(OVERALL, '')}` (every row the run read)."]
    by_source = provenance.get(BY_SOURCE)
    if by_source:
        lines += [
            "",
            "| source | split | images | patients | sha256 |",
            "| --- | --- | --- | --- | --- |",
        ]
        for source, record in by_source.items():
            parts = {"all": record, **record.get("splits", {})}
            lines += [
                f"| {source} | {split} | {part['rows']:,} | {part['patients']:,} | `{part['sha256'][:16]}…` |"
                for split, part in parts.items()
            ]
    compared = provenance.get(COMPARED)
    if compared:
        lines += ["", f"Compared with the champion ({compared['champion']}) when trained:"]
        lines += [f"- {line}" for line in compared["lines"]]
    return lines
