"""Per-photo model outputs and ground truth of the urgency model, and their CSV.

:class:`Predictions` holds, per photo, the true class, the six-class probabilities, the malignancy
probability, the patient and optional subgroup attributes. It is saved as a deterministic CSV
(:meth:`Predictions.to_csv`, :meth:`Predictions.from_csv`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: The six classes of the model, in output order (mirrors ``data_pipelines.manifest.DIAGNOSES``).
LABELS: tuple[str, ...] = ("ACK", "BCC", "MEL", "NEV", "SCC", "SEK")
#: Malignant classes: ``malignant = diagnosis in MALIGNANT_LABELS``.
MALIGNANT_LABELS: tuple[str, ...] = ("BCC", "MEL", "SCC")
#: Value a missing subgroup attribute gets.
MISSING_GROUP = "unknown"
#: Probabilities up to this far outside [0, 1] (float32 rounding) are clipped, not rejected.
_PROB_TOLERANCE = 1e-5

# CSV column names.
_COL_IMAGE = "image_id"
_COL_PATIENT = "patient_id"
_COL_DIAGNOSIS = "diagnosis"
_COL_MALIGNANT = "malignant"
_COL_MALIGNANCY = "malignancy"
_PROB_PREFIX = "p_"
_GROUP_PREFIX = "group_"


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Predictions:
    """Per-photo model outputs and ground truth.

    ``y_true`` is the index of the true class in ``labels`` (label strings are accepted and
    converted). ``probs`` is ``N x len(labels)``; ``malignancy`` is ``P(BCC|SCC|MEL)`` from the
    model (a separate head or the sum of the class probabilities -- not checked); values within
    1e-5 outside [0, 1] (float32 rounding) are clipped, further out rejected. ``groups``
    maps an attribute name (``"fitzpatrick"``, ``"body_site"``) to one string per photo; ``None``
    or ``""`` becomes :data:`MISSING_GROUP`. Arrays are stored as read-only copies. Equality
    compares contents.
    """

    image_ids: tuple[str, ...]
    patient_ids: tuple[str, ...]
    y_true: np.ndarray
    probs: np.ndarray
    malignancy: np.ndarray
    labels: tuple[str, ...] = LABELS
    malignant_labels: tuple[str, ...] = MALIGNANT_LABELS
    groups: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        image_ids = tuple(str(i) for i in self.image_ids)
        patient_ids = tuple(str(p) for p in self.patient_ids)
        labels = tuple(str(v) for v in self.labels)
        n = len(image_ids)
        if len(set(labels)) != len(labels) or not labels:
            raise ValueError(f"labels must be non-empty and unique: {labels}")
        malignant_labels = tuple(str(v) for v in self.malignant_labels)
        if not set(malignant_labels) <= set(labels):
            raise ValueError(f"malignant_labels {malignant_labels} not all in labels {labels}")
        if len(set(image_ids)) != n:
            raise ValueError("image_ids must be unique")
        if len(patient_ids) != n:
            raise ValueError(f"{len(patient_ids)} patient_ids for {n} images")

        y = np.asarray(self.y_true)
        if y.dtype.kind in "USO":
            index = {lab: i for i, lab in enumerate(labels)}
            unknown = sorted({str(v) for v in y.tolist()} - set(index))
            if unknown:
                raise ValueError(f"y_true has labels outside {labels}: {unknown}")
            y = np.array([index[str(v)] for v in y.tolist()], dtype=np.int64)
        elif y.dtype.kind == "f" and y.size and not np.all(y == np.round(y)):
            raise ValueError("y_true must hold class indices")
        y = y.astype(np.int64).reshape(-1)
        if y.shape != (n,):
            raise ValueError(f"y_true has {y.shape[0]} entries for {n} images")
        if n and (y.min() < 0 or y.max() >= len(labels)):
            raise ValueError(f"y_true indices must lie in [0, {len(labels)})")

        probs = np.asarray(self.probs, dtype=np.float64)
        if probs.size == 0:
            probs = probs.reshape(n, len(labels))
        if probs.shape != (n, len(labels)):
            raise ValueError(f"probs has shape {probs.shape}, expected {(n, len(labels))}")
        mal = np.asarray(self.malignancy, dtype=np.float64).reshape(-1)
        if mal.shape != (n,):
            raise ValueError(f"malignancy has {mal.shape[0]} entries for {n} images")
        if not (np.all(np.isfinite(probs)) and np.all(np.isfinite(mal))):
            raise ValueError("probs and malignancy must be finite")
        tol = _PROB_TOLERANCE
        if np.any(mal < -tol) or np.any(mal > 1 + tol) or np.any(probs < -tol) or np.any(probs > 1 + tol):
            raise ValueError("probabilities must lie in [0, 1]")
        # float32 rounding (a sum of softmax outputs may be 1.0000001): clip into [0, 1]
        probs, mal = np.clip(probs, 0.0, 1.0), np.clip(mal, 0.0, 1.0)

        groups: dict[str, np.ndarray] = {}
        for key, values in dict(self.groups).items():
            key = str(key)
            if not key:
                raise ValueError("group names must be non-empty")
            vals = [MISSING_GROUP if v is None or str(v) == "" else str(v) for v in list(values)]
            if len(vals) != n:
                raise ValueError(f"group {key!r} has {len(vals)} values for {n} images")
            groups[key] = _readonly(np.array(vals, dtype=str) if vals else np.array([], dtype=str))

        set_ = object.__setattr__
        set_(self, "image_ids", image_ids)
        set_(self, "patient_ids", patient_ids)
        set_(self, "labels", labels)
        set_(self, "malignant_labels", malignant_labels)
        set_(self, "y_true", _readonly(y))
        set_(self, "probs", _readonly(probs))
        set_(self, "malignancy", _readonly(mal))
        set_(self, "groups", groups)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Predictions):
            return NotImplemented
        return (
            self.image_ids == other.image_ids
            and self.patient_ids == other.patient_ids
            and self.labels == other.labels
            and self.malignant_labels == other.malignant_labels
            and np.array_equal(self.y_true, other.y_true)
            and np.array_equal(self.probs, other.probs)
            and np.array_equal(self.malignancy, other.malignancy)
            and self.groups.keys() == other.groups.keys()
            and all(np.array_equal(self.groups[k], other.groups[k]) for k in self.groups)
        )

    def __len__(self) -> int:
        return len(self.image_ids)

    @property
    def y_malignant(self) -> np.ndarray:
        """Boolean per photo: the true class is one of ``malignant_labels``."""
        mal_idx = [self.labels.index(m) for m in self.malignant_labels]
        return np.isin(self.y_true, mal_idx)

    @property
    def y_pred(self) -> np.ndarray:
        """Predicted class index per photo: ``argmax(probs)`` (ties: the first label)."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.argmax(self.probs, axis=1)

    @property
    def n_patients(self) -> int:
        return len(set(self.patient_ids))

    def take(
        self, indices: Sequence[int] | np.ndarray, *, copies: Sequence[int] | np.ndarray | None = None
    ) -> Predictions:
        """The photos at ``indices`` (distinct indices; a boolean mask is accepted too).

        With ``copies`` (one number per index) an index may repeat: each photo's id and its patient's
        id get ``#<copy>`` appended, so a photo drawn twice is two photos of two patients.
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)

        def ids(values: tuple[str, ...]) -> tuple[str, ...]:
            if copies is None:
                return tuple(values[i] for i in idx)
            return tuple(f"{values[i]}#{c}" for i, c in zip(idx, copies, strict=True))

        return Predictions(
            image_ids=ids(self.image_ids),
            patient_ids=ids(self.patient_ids),
            y_true=self.y_true[idx],
            probs=self.probs[idx],
            malignancy=self.malignancy[idx],
            labels=self.labels,
            malignant_labels=self.malignant_labels,
            groups={k: v[idx] for k, v in self.groups.items()},
        )

    # ---- CSV ------------------------------------------------------------------------------

    def to_csv_text(self) -> str:
        """The canonical CSV: one row per photo in stored order, ``\\n`` line endings.

        Columns: ``image_id, patient_id, diagnosis, malignant, p_<label>... , malignancy,
        group_<key>...`` (groups in sorted key order). Floats are written with ``repr`` (shortest
        exact round trip), booleans as ``true`` / ``false``. Same predictions -> same bytes.
        """
        keys = sorted(self.groups)
        header = [_COL_IMAGE, _COL_PATIENT, _COL_DIAGNOSIS, _COL_MALIGNANT]
        header += [_PROB_PREFIX + lab for lab in self.labels]
        header += [_COL_MALIGNANCY] + [_GROUP_PREFIX + k for k in keys]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        y_mal = self.y_malignant
        for i in range(len(self)):
            row = [self.image_ids[i], self.patient_ids[i], self.labels[self.y_true[i]]]
            row.append("true" if y_mal[i] else "false")
            row += [repr(float(p)) for p in self.probs[i]]
            row.append(repr(float(self.malignancy[i])))
            row += [str(self.groups[k][i]) for k in keys]
            w.writerow(row)
        return buf.getvalue()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_csv_text` to ``path`` (atomically: temp file + rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                f.write(self.to_csv_text())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def from_csv(
        cls, path: str | os.PathLike[str], *, malignant_labels: Sequence[str] | None = None
    ) -> Predictions:
        """Read a CSV written by :meth:`to_csv`.

        ``labels`` come from the ``p_<label>`` columns in order. ``malignant_labels`` defaults to
        :data:`MALIGNANT_LABELS` (those among ``labels``); the ``malignant`` column must agree
        with it, else ``ValueError``.
        """
        with open(path, encoding="utf-8", newline="") as f:
            return cls.from_csv_text(f.read(), malignant_labels=malignant_labels)

    @classmethod
    def from_csv_text(cls, text: str, *, malignant_labels: Sequence[str] | None = None) -> Predictions:
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError("empty predictions CSV") from None
        fixed = [_COL_IMAGE, _COL_PATIENT, _COL_DIAGNOSIS, _COL_MALIGNANT]
        if header[:4] != fixed or _COL_MALIGNANCY not in header:
            raise ValueError(f"not a predictions CSV: header {header}")
        m = header.index(_COL_MALIGNANCY)
        prob_cols = header[4:m]
        if not prob_cols or not all(c.startswith(_PROB_PREFIX) for c in prob_cols):
            raise ValueError(f"expected p_<label> columns between malignant and malignancy: {header}")
        labels = tuple(c[len(_PROB_PREFIX) :] for c in prob_cols)
        group_cols = header[m + 1 :]
        if not all(c.startswith(_GROUP_PREFIX) for c in group_cols):
            raise ValueError(f"unexpected columns after malignancy: {group_cols}")
        if malignant_labels is None:
            malignant_labels = tuple(lab for lab in MALIGNANT_LABELS if lab in labels)
        rows = list(reader)
        for r in rows:
            if len(r) != len(header):
                raise ValueError(f"row has {len(r)} cells, header {len(header)}: {r}")
        n, k = len(rows), len(labels)
        preds = cls(
            image_ids=tuple(r[0] for r in rows),
            patient_ids=tuple(r[1] for r in rows),
            y_true=np.array([r[2] for r in rows], dtype=str),
            probs=np.array([[float(c) for c in r[4:m]] for r in rows], dtype=np.float64).reshape(n, k),
            malignancy=np.array([float(r[m]) for r in rows], dtype=np.float64),
            labels=labels,
            malignant_labels=tuple(malignant_labels),
            groups={c[len(_GROUP_PREFIX) :]: [r[j] for r in rows] for j, c in enumerate(header) if j > m},
        )
        flags = [r[3] for r in rows]
        if any(f not in ("true", "false") for f in flags):
            raise ValueError("malignant column must be true/false")
        if not np.array_equal(np.array([f == "true" for f in flags], dtype=bool), preds.y_malignant):
            raise ValueError(f"malignant column contradicts malignant_labels {preds.malignant_labels}")
        return preds

    def fingerprint(self) -> str:
        """sha256 of the sorted ``(image_id, patient_id, true label)`` triples: "same data"."""
        h = hashlib.sha256()
        for img, pat, y in sorted(zip(self.image_ids, self.patient_ids, self.y_true.tolist(), strict=True)):
            h.update(f"{img}\t{pat}\t{self.labels[y]}\n".encode())
        return h.hexdigest()
