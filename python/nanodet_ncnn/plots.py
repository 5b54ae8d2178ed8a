"""PNG plots of evaluation and benchmark reports (matplotlib, imported only here: the `plots`
extra). Each function draws from the report dict alone and returns the numbers it plotted, so
what is drawn can be checked against the JSON report."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _figure(w: float, h: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'nanodet-ncnn[plots]'") from exc
    fig = Figure(figsize=(w, h), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # no pyplot: no global state, no display needed
    return fig


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def plot_pr_curves(result: dict, path: str | os.PathLike) -> dict:
    """Precision-recall at IoU 0.5, one curve per class and their mean (as ultralytics' val
    draws it). Needs ``result["pr_curve"]`` (``evaluate(..., curves=True)``). Returns
    {"recall", "per_class": {name: precision}, "mean"}."""
    pr = result.get("pr_curve")
    if not pr:
        raise ValueError("the result has no precision-recall data: evaluate with curves=True")
    recall = np.asarray(pr["recall"], float)
    fig = _figure(9, 6)
    ax = fig.add_subplot()
    many = len(pr["per_class"]) > 20
    plotted = {}
    for name, prec in pr["per_class"].items():
        prec = np.asarray(prec, float)
        ap = float(np.mean(prec))
        ax.plot(recall, prec, lw=1, color="grey" if many else None, alpha=0.5 if many else 1,
                label=None if many else f"{name} {ap:.3f}")
        plotted[name] = prec.tolist()
    mean = np.asarray(pr["mean"], float)
    ax.plot(recall, mean, lw=3, color="blue", label=f"all classes {result['map50']:.3f} mAP@0.5")
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(0, 1), ylim=(0, 1.01),
           title="Precision-recall (IoU 0.5)")
    ax.legend(loc="lower left", fontsize="small")
    _save(fig, path)
    return {"recall": recall.tolist(), "per_class": plotted, "mean": mean.tolist()}


def plot_confusion_matrix(result: dict, path: str | os.PathLike) -> np.ndarray:
    """Counts of predicted (rows) vs true (columns) classes, with a background row/column for
    missed objects and false detections; cells shaded per true class. Needs
    ``result["confusion"]``. Returns the plotted count matrix."""
    cm = result.get("confusion")
    if not cm:
        raise ValueError("the result has no confusion matrix: evaluate with curves=True")
    counts = np.asarray(cm["matrix"], float)
    names = list(cm["names"])
    shade = counts / np.maximum(counts.sum(0, keepdims=True), 1)
    n = len(names)
    fig = _figure(max(6, 0.25 * n + 3), max(5, 0.25 * n + 2))
    ax = fig.add_subplot()
    im = ax.imshow(shade, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    ticks = range(n)
    font = 7 if n <= 30 else 5
    ax.set_xticks(ticks, names, rotation=90, fontsize=font)
    ax.set_yticks(ticks, names, fontsize=font)
    if n <= 12:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=8,
                            color="white" if shade[i, j] > 0.5 else "black")
    ax.set(xlabel="True", ylabel="Predicted",
           title=f"Confusion matrix (conf {cm['conf']:g}, IoU {cm['iou']:g})")
    _save(fig, path)
    return counts


def save_eval_plots(result: dict, folder: str | os.PathLike) -> dict[str, Path]:
    """PR_curve.png and confusion_matrix.png in `folder`."""
    folder = Path(folder)
    out = {"pr_curve": folder / "PR_curve.png", "confusion_matrix": folder / "confusion_matrix.png"}
    plot_pr_curves(result, out["pr_curve"])
    plot_confusion_matrix(result, out["confusion_matrix"])
    return out


def plot_latency(reports: list[dict], path: str | os.PathLike, stages=None) -> dict:
    """Median milliseconds per stage as bars, one group per stage and one bar per report
    (side by side for several threads / precisions). Returns {label: {stage: median ms}}."""
    if not reports:
        raise ValueError("no benchmark reports to plot")
    stages = list(stages or reports[0]["stages_ms"])
    data = {}
    for r in reports:
        label = f"{r.get('threads')} thr, {r.get('precision')}"
        data[label] = {s: float(r["stages_ms"][s]["median"]) for s in stages if s in r["stages_ms"]}
    fig = _figure(max(6, 1.2 * len(stages) * max(1, len(data)) / 2 + 3), 4.5)
    ax = fig.add_subplot()
    width = 0.8 / len(data)
    x = np.arange(len(stages))
    for k, (label, vals) in enumerate(data.items()):
        ys = [vals.get(s, 0.0) for s in stages]
        bars = ax.bar(x + (k - (len(data) - 1) / 2) * width, ys, width, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, stages)
    model = reports[0].get("model", "")
    ax.set(ylabel="median ms", title=f"Per-stage latency {Path(str(model)).name}")
    ax.legend(fontsize="small")
    _save(fig, path)
    return data
