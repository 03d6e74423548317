"""The label-quality report: one self-contained HTML page with inline SVG plots.

``ReportCollector`` watches the consolidated objects go by (constant memory:
counters, a histogram and the few lowest-confidence objects), and ``render``
turns that and the workers' skill into the page. No plotting library needed.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from ..lambda_src.gt_annotation.model import WorkerSkill
from .common import LocalFiles
from .consolidate import ConsolidatedObject, RunSummary

HISTOGRAM_BINS = 20
LOWEST_SHOWN = 25
MATRICES_SHOWN = 24
THUMBNAIL_BYTES = 3 * 1024 * 1024


def _content(annotation: Mapping[str, Any], answer_name: str | None) -> Any:
    data = annotation.get("annotationData")
    content = data.get("content") if isinstance(data, Mapping) else None
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            return content
    if answer_name and isinstance(content, Mapping) and answer_name in content:
        return content[answer_name]
    return content


def _short(value: Any, limit: int = 90) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _names(items: Any, key: str = "label") -> list[str]:
    if not isinstance(items, list):
        return []
    return [str(i.get(key)) for i in items if isinstance(i, Mapping) and i.get(key) is not None]


def summarize_answer(value: Any) -> str:
    """A worker's answer in a few words."""
    if isinstance(value, Mapping):
        if "label" in value:
            return str(value["label"])
        if isinstance(value.get("labels"), list):
            return ", ".join(map(str, value["labels"])) or "(none)"
        if isinstance(value.get("boundingBoxes"), list):
            boxes = _names(value["boundingBoxes"])
            return (
                f"{len(value['boundingBoxes'])} box(es): {', '.join(boxes)}" if boxes else "no box"
            )
        if isinstance(value.get("instances"), list):
            found = _names(value["instances"])
            return f"{len(found)} instance(s): {', '.join(found)}" if found else "no instance"
        if isinstance(value.get("entities"), list):
            found = _names(value["entities"])
            return f"{len(found)} entit(ies): {', '.join(found)}" if found else "no entity"
        if isinstance(value.get("labelMappings"), Mapping):
            return "classes: " + (", ".join(map(str, value["labelMappings"])) or "none")
    return _short(value)


def label_names(label: Mapping[str, Any]) -> list[str]:
    """The class names a consolidated label assigns (for the distribution)."""
    if "consolidation-error" in label:
        return []
    if "class-name" in label:
        return [str(label["class-name"])]
    class_map = label.get("class-map")
    if isinstance(class_map, Mapping):
        if isinstance(label.get("annotations"), list):  # boxes
            return [
                str(class_map.get(str(a.get("class_id")), a.get("class_id")))
                for a in label["annotations"]
                if isinstance(a, Mapping)
            ]
        ids = label.get("class-ids")
        if isinstance(ids, list):
            return [str(class_map.get(str(i), i)) for i in ids]
    if isinstance(label.get("instances"), list):
        return _names(label["instances"])
    color_map = label.get("internal-color-map")
    if isinstance(color_map, Mapping):
        return [
            str(entry.get("class-name"))
            for entry in color_map.values()
            if isinstance(entry, Mapping)
            and str(entry.get("class-name", "")).upper() != "BACKGROUND"
        ]
    annotations = label.get("annotations")
    if isinstance(annotations, Mapping):
        return _names(annotations.get("entities"))
    if "text" in label:
        return ["(free text)"]
    return []


def summarize_label(label: Mapping[str, Any]) -> str:
    if "consolidation-error" in label:
        return f"error: {label['consolidation-error']}"
    names = label_names(label)
    if "class-name" in label:
        return names[0]
    if "text" in label:
        return _short(label["text"])
    if not names:
        return "(nothing)" if "workers" in label and len(label) > 2 else _short(label)
    counts = Counter(names)
    return ", ".join(f"{n}×{c}" if c > 1 else n for n, c in sorted(counts.items()))


@dataclass(order=True)
class _Low:
    negative_confidence: float
    order: int
    item: dict[str, Any] = field(compare=False)


@dataclass
class ReportCollector:
    """Aggregates of a consolidation run, kept in constant memory."""

    answer_name: str | None = None
    distribution: Counter[str] = field(default_factory=Counter)
    histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_BINS)
    confidence_sum: float = 0.0
    confidence_count: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    _lowest: list[_Low] = field(default_factory=list)
    _seen: int = 0

    def add(self, item: ConsolidatedObject) -> None:
        label = item.label
        self._seen += 1
        for annotation in item.record.entry["annotations"]:
            worker = annotation.get("workerId")
            if isinstance(worker, str):
                self.answers[worker] += 1
        if "consolidation-error" in label:
            self.errors[str(label["consolidation-error"])] += 1
            confidence = -1.0
        else:
            self.distribution.update(label_names(label))
            value = label.get("confidence")
            confidence = float(value) if isinstance(value, int | float) else 0.0
            self.histogram[min(int(confidence * HISTOGRAM_BINS), HISTOGRAM_BINS - 1)] += 1
            self.confidence_sum += confidence
            self.confidence_count += 1
        entry = _Low(-confidence, -self._seen, {})
        if len(self._lowest) < LOWEST_SHOWN or entry > self._lowest[0]:
            entry.item = self._describe(item, confidence)
            if len(self._lowest) < LOWEST_SHOWN:
                heapq.heappush(self._lowest, entry)
            else:
                heapq.heapreplace(self._lowest, entry)

    def _describe(self, item: ConsolidatedObject, confidence: float) -> dict[str, Any]:
        data = item.record.entry["dataObject"]
        answers = [
            (str(a.get("workerId")), summarize_answer(_content(a, self.answer_name)))
            for a in item.record.entry["annotations"]
        ]
        return {
            "where": item.record.where,
            "id": item.record.object_id,
            "image": data.get("s3Uri"),
            "text": data.get("content"),
            "label": summarize_label(item.label),
            "confidence": confidence,
            "answers": answers,
        }

    def lowest(self) -> list[dict[str, Any]]:
        return [entry.item for entry in sorted(self._lowest, reverse=True)]


# -- SVG -------------------------------------------------------------------------------


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, value_format: str = "{:g}") -> str:
    """Horizontal bars, one per (name, value)."""
    if not items:
        return '<p class="empty">nothing to plot</p>'
    label_width, bar_width, row = 190, 420, 22
    top = max(v for _, v in items) or 1.0
    parts = []
    for index, (name, value) in enumerate(items):
        y = 8 + index * row
        length = bar_width * value / top
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{escape(_short(name, 28))}</text>"
            f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row - 6}" fill="#1f77b4"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + 14}" font-size="12">'
            f"{escape(value_format.format(value))}</text>"
        )
    return _svg(label_width + bar_width + 90, 16 + row * len(items), "".join(parts), title)


def histogram(bins: Sequence[int], *, title: str) -> str:
    """Vertical bars over [0, 1] with axis ticks every 0.1."""
    width, height, left, bottom = 620, 240, 46, 30
    plot_w, plot_h = width - left - 12, height - bottom - 12
    top = max(bins) or 1
    step = plot_w / len(bins)
    parts = [
        f'<line x1="{left}" y1="{12 + plot_h}" x2="{left + plot_w}" y2="{12 + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="12" x2="{left}" y2="{12 + plot_h}" stroke="#333"/>',
        f'<text x="{left - 6}" y="18" text-anchor="end" font-size="11">{top}</text>',
        f'<text x="{left - 6}" y="{12 + plot_h}" text-anchor="end" font-size="11">0</text>',
    ]
    for index, count in enumerate(bins):
        h = plot_h * count / top
        parts.append(
            f'<rect x="{left + index * step + 1:.1f}" y="{12 + plot_h - h:.1f}" '
            f'width="{step - 2:.1f}" height="{h:.1f}" fill="#2ca02c"><title>'
            f"{index / len(bins):.2f}–{(index + 1) / len(bins):.2f}: {count}</title></rect>"
        )
    for tick in range(11):
        x = left + plot_w * tick / 10
        parts.append(
            f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" font-size="11">{tick / 10:.1f}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 1}" text-anchor="middle" font-size="11">confidence</text>'
    )
    return _svg(width, height, "".join(parts), title)


def heatmap(matrix: Sequence[Sequence[float]], labels: Sequence[str], *, title: str) -> str:
    """A row-normalised confusion matrix (rows: consensus, columns: the worker's answer).

    The title (a worker id, often 20-60 characters) is an HTML caption above the
    plot, which wraps when it is long: drawn inside the SVG it was clipped.
    """
    k = len(labels)
    cell, left, top = 34 if k <= 8 else 22, 96, 26
    width, height = left + cell * k + 8, top + cell * k + 8
    parts: list[str] = []
    for j, name in enumerate(labels):
        parts.append(
            f'<text x="{left + j * cell + cell / 2:.1f}" y="{top - 5}" text-anchor="middle" '
            f'font-size="9">{escape(_short(name, 5 if cell >= 30 else 3))}</text>'
        )
    for i, row in enumerate(matrix):
        total = sum(row) or 1.0
        parts.append(
            f'<text x="{left - 4}" y="{top + i * cell + cell / 2 + 4:.1f}" text-anchor="end" '
            f'font-size="10">{escape(_short(labels[i], 14))}</text>'
        )
        for j, value in enumerate(row):
            share = value / total
            shade = int(255 - 200 * share)
            color = f"rgb({shade},{shade},255)" if i != j else f"rgb({shade},255,{shade})"
            parts.append(
                f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell - 1}" '
                f'height="{cell - 1}" fill="{color}"><title>consensus {escape(labels[i])}, '
                f"answered {escape(labels[j])}: {count_text(value)} ({share:.0%})</title></rect>"
            )
            if cell >= 30:
                parts.append(
                    f'<text x="{left + j * cell + cell / 2:.1f}" y="{top + i * cell + cell / 2 + 4:.1f}" '
                    f'text-anchor="middle" font-size="10">{share:.0%}</text>'
                )
    return (
        f'<figure class="matrix"><figcaption>{escape(title)}</figcaption>'
        f"{_svg(width, height, ''.join(parts), title)}</figure>"
    )


# -- page ------------------------------------------------------------------------------

_CSS = """
body { font-family: "Helvetica Neue", Arial, sans-serif; margin: 24px 32px; color: #16191f; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 32px; border-bottom: 1px solid #d5dbdb; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #d5dbdb; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f2f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.flag { color: #b7410e; font-weight: bold; } .matrices { display: flex; flex-wrap: wrap; gap: 12px; }
.thumb { max-width: 220px; max-height: 160px; border: 1px solid #aab7b8; }
.snippet { max-width: 320px; font-size: 12px; } .empty { color: #687078; }
.matrix { margin: 0; } .matrix figcaption { font-size: 12px; font-weight: bold; max-width: 300px; overflow-wrap: anywhere; }
.bar { display: inline-block; height: 10px; background: #1f77b4; vertical-align: middle; }
"""


def count_text(value: float) -> str:
    """A count as people read it: ``28`` for a whole number, ``27.6`` for a soft count."""
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def worker_rows(
    skills: Mapping[str, WorkerSkill], answers: Mapping[str, int]
) -> list[dict[str, Any]]:
    """Per worker: answers, agreement with the consensus (or estimated accuracy), reliability."""
    rows = []
    for worker in sorted(set(skills) | set(answers)):
        skill = skills.get(worker, WorkerSkill(worker))
        if skill.confusion:
            total = sum(skill.confusion.values())
            right = sum(v for (t, g), v in skill.confusion.items() if t == g)
            agreement: float | None = right / total if total else None
        else:
            agreement = skill.agreements / skill.scored if skill.scored else None
        rows.append(
            {
                "worker": worker,
                "answers": answers.get(worker, 0),
                "scored": round(skill.scored, 1),
                "agreement": agreement,
                "reliability": skill.reliability(),
            }
        )
    rows.sort(key=lambda r: (-r["answers"], r["worker"]))
    return rows


def confusion_matrix(skill: WorkerSkill, k: int) -> list[list[float]]:
    matrix = [[0.0] * k for _ in range(k)]
    for (truth, given), value in skill.confusion.items():
        if truth < k and given < k:
            matrix[truth][given] += value
    return matrix


def render(
    collector: ReportCollector,
    summary: RunSummary,
    *,
    source: str,
    task_type: str,
    files: LocalFiles,
    flag_below: float = 0.5,
) -> str:
    """The report page (HTML with inline SVG; images inlined when local)."""
    rows = worker_rows(summary.skills, collector.answers)
    mean = (
        collector.confidence_sum / collector.confidence_count
        if collector.confidence_count
        else None
    )
    facts = [
        ("input", source),
        ("task type", task_type),
        ("consolidation", summary.method),
        ("answer element", summary.answer_name or "(whole answer)"),
        ("labels", ", ".join(summary.labels) or "(none)"),
        ("objects", summary.objects),
        ("consolidated", summary.consolidated),
        ("consolidation errors", summary.errors),
        ("worker answers left out", summary.rejected),
        ("input lines skipped", len(summary.bad_inputs)),
        ("workers", len(rows)),
        ("mean confidence", f"{mean:.3f}" if mean is not None else "–"),
    ]
    out = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f"<title>Label quality: {escape(source)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Label quality report</h1><p>{escape(source)}</p>",
        '<table id="summary">'
        + "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
        + "</table>",
    ]
    out.append('<h2 id="distribution">Label distribution</h2>')
    items = sorted(collector.distribution.items(), key=lambda kv: (-kv[1], kv[0]))[:40]
    out.append(
        bar_chart(
            [(k, float(v)) for k, v in items], title="consolidated labels", value_format="{:.0f}"
        )
    )
    out.append('<h2 id="confidence">Confidence</h2>')
    out.append(histogram(collector.histogram, title="confidence of consolidated objects"))
    if collector.errors:
        out.append(
            "<p>Objects without a label: "
            + "; ".join(f"{escape(k)} ({v})" for k, v in collector.errors.most_common())
            + "</p>"
        )
    out.append('<h2 id="workers">Workers</h2>')
    out.append(
        "<p>Agreement: the share of a worker's scored answers that agree with the consensus "
        "(classification: the diagonal of the worker's confusion matrix). Reliability: the same "
        "with a prior of 2 in 3, as the consolidation weighs the worker. "
        f'<span class="flag">Flagged</span>: agreement below {flag_below:.0%}.</p>'
    )
    out.append(
        '<table id="worker-table"><tr><th>worker</th><th>answers</th><th>scored</th>'
        "<th>agreement</th><th>reliability</th><th></th></tr>"
    )
    for row in rows[:500]:
        agreement = row["agreement"]
        flagged = agreement is not None and agreement < flag_below
        shown = f"{agreement:.2f}" if agreement is not None else "–"
        bar = f'<span class="bar" style="width:{int(100 * (agreement or 0))}px"></span>'
        out.append(
            f"<tr><td>{escape(row['worker'])}</td><td class=num>{row['answers']}</td>"
            f"<td class=num>{count_text(row['scored'])}</td><td class=num>{shown} {bar}</td>"
            f"<td class=num>{row['reliability']:.2f}</td>"
            f"<td>{'<span class=flag>flagged</span>' if flagged else ''}</td></tr>"
        )
    out.append("</table>")
    with_matrix = [r for r in rows if summary.skills.get(r["worker"], WorkerSkill("")).confusion]
    if with_matrix and summary.labels:
        out.append('<h2 id="confusion">Confusion matrices</h2>')
        out.append(
            "<p>Rows: the consensus class; columns: what the worker answered (soft counts, "
            "row shares shown).</p><div class=matrices>"
        )
        for row in with_matrix[:MATRICES_SHOWN]:
            matrix = confusion_matrix(summary.skills[row["worker"]], len(summary.labels))
            out.append(heatmap(matrix, summary.labels, title=row["worker"]))
        out.append("</div>")
    out.append('<h2 id="review">Review first: the lowest confidence</h2>')
    out.append(
        '<table id="review-table"><tr><th>object</th><th>data</th><th>consensus</th>'
        "<th>confidence</th><th>answers</th></tr>"
    )
    for item in collector.lowest():
        out.append(_review_row(item, files))
    out.append("</table></body></html>\n")
    return "\n".join(out)


def _review_row(item: Mapping[str, Any], files: LocalFiles) -> str:
    data = ""
    if item.get("image"):
        path = files.find(str(item["image"]))
        if path is not None and path.stat().st_size <= THUMBNAIL_BYTES:
            from .common import data_url

            data = (
                f'<img class="thumb" alt="{escape(str(item["image"]))}" src="{data_url(path)}"><br>'
            )
        data += f"<code>{escape(str(item['image']))}</code>"
    elif item.get("text") is not None:
        data = f'<div class="snippet">{escape(_short(str(item["text"]), 300))}</div>'
    confidence = item["confidence"]
    shown = "error" if confidence < 0 else f"{confidence:.3f}"
    answers = "<br>".join(f"{escape(w)}: {escape(a)}" for w, a in item["answers"])
    return (
        f"<tr><td>{escape(item['where'])}</td><td>{data}</td><td>{escape(item['label'])}</td>"
        f"<td class=num>{shown}</td><td>{answers}</td></tr>"
    )


def write_report(path: Path, html: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
