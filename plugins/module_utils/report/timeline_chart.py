# -*- coding: utf-8 -*-
# Copyright: fournines.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PNG timeline every runbook report draws (matplotlib, Agg backend).

One picture, in seconds on the x axis: a lane per bar (a step, a phase of a drill), then
optional lanes of tick marks (failed probe requests), dotted markers for moments, and an
optional up/down panel below (what the prober saw). The reports choose what goes in it;
this file only draws.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fournines.runbooks.plugins.module_utils.common.errors import RunbookError

try:
    import matplotlib
    HAS_MATPLOTLIB = True
    MATPLOTLIB_IMPORT_ERROR = None
except ImportError as _err:  # pragma: no cover - reported by the modules with missing_required_lib
    HAS_MATPLOTLIB = False
    MATPLOTLIB_IMPORT_ERROR = _err

FAILED = "#c44e52"
MIN_WIDTH = 0.2  # a bar shorter than this is drawn this wide so it stays visible


def lane(label, start, seconds, colour, note=None):
    """One lane: ``label`` on the axis, from ``start`` for ``seconds``; ``note`` is written after it."""
    return {"label": label, "start": start, "seconds": seconds, "colour": colour, "note": note}


def render(path, title, bars, xlabel, tick_lanes=(), markers=(), availability=None, xlim=None, zero_line=False,
           fontsize=8, dpi=100):
    """Draw the timeline to ``path`` and return ``path``.

    ``bars``: dicts from :func:`lane`. ``tick_lanes``: (label, [x, ...]) lanes of tick marks
    under the bars. ``markers``: (x, label) dotted vertical lines. ``availability``:
    (label, [x, ...], [0 or 1, ...]) drawn as an up/down step panel below. ``xlim``:
    (left, right) of the x axis; ``zero_line``: a solid line at x = 0 (the fault).
    """
    if not HAS_MATPLOTLIB:
        raise RunbookError("the Python library matplotlib is needed to draw %s: %s" % (path, MATPLOTLIB_IMPORT_ERROR))
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    if availability is None:
        fig, top = plt.subplots(figsize=(11, min(1.2 + 0.28 * (len(bars) + len(tick_lanes)), 40)))
        bottom = None
    else:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 5.5), sharex=True,
                                          gridspec_kw={"height_ratios": [3, 1]})
    ends = [b["start"] + b["seconds"] for b in bars] + [x for dummy, xs in tick_lanes for x in xs]
    span = (xlim[1] - xlim[0]) if xlim else max(ends + [1.0])
    labels = []
    for index, item in enumerate(bars):
        width = max(item["seconds"], MIN_WIDTH)
        top.barh(index, width, left=item["start"], height=0.8, color=item["colour"], edgecolor="black", linewidth=0.4)
        if item.get("note"):
            top.text(item["start"] + width + span * 0.005, index, item["note"], va="center", fontsize=fontsize)
        labels.append(item["label"])
    for offset, (label, xs) in enumerate(tick_lanes):
        lane = len(bars) + offset
        top.axhline(lane, color="#dddddd", linewidth=0.5)
        top.plot(xs, [lane] * len(xs), "|", color=FAILED, markersize=10)
        labels.append(label)
    top.set_yticks(range(len(labels)))
    top.set_yticklabels(labels, fontsize=fontsize)
    top.invert_yaxis()
    for at, label in markers:
        top.axvline(at, color="#455a64", linestyle=":", linewidth=0.8)
        top.text(at, -0.55, label, rotation=30, fontsize=7, va="bottom", ha="left")
    axes = [top] if bottom is None else [top, bottom]
    if zero_line:
        for axis in axes:
            axis.axvline(0, color="black", linewidth=1)
    if bottom is None:
        top.set_title(title)
        top.grid(axis="x", alpha=0.3)
    else:
        fig.suptitle(title, fontsize=10)
        label, xs, ys = availability
        if xs:
            bottom.step(xs, ys, where="post", color="#1b5e20", linewidth=1.2)
            bottom.fill_between(xs, ys, step="post", alpha=0.2, color="#1b5e20")
        bottom.set_yticks([0, 1])
        bottom.set_yticklabels(["down", "up"], fontsize=fontsize)
        bottom.set_ylim(-0.2, 1.2)
        bottom.set_ylabel(label, fontsize=fontsize)
    axes[-1].set_xlabel(xlabel)
    if xlim:
        axes[-1].set_xlim(*xlim)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
