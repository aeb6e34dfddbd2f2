#!/usr/bin/python3
# dtrain-plot: pictures of a training log (dtrain train --log) and of a
# cross-validated search (dtrain cv --out).
#
#   dtrain-plot LOG.jsonl|LOG.csv --out curves.png
#   dtrain-plot --cv RESULTS.csv --out grid.png
#
# The shebang names Debian's interpreter on purpose: matplotlib comes from the
# python3-matplotlib package (scripts/install-deps.sh), which only
# /usr/bin/python3 sees; "env python3" would find whatever python3 is first on
# PATH (a virtualenv, pyenv), usually one without matplotlib.
#
# Exit status: 0 written; 2 bad input (a missing or malformed file, an output
# that cannot be written), with one message naming the file.  The image is
# written under a temporary name beside --out and renamed into place, and
# --out is refused if it exists and is not a regular file (a symbolic link
# included), or is the input itself: the rules dtrain's own outputs follow.
import argparse
import csv
import json
import math
import os
import re
import stat
import sys

# (dtrain plot runs this script, and names itself so through the environment)
PROG = os.environ.get("DTRAIN_PLOT_PROG") or os.path.basename(sys.argv[0]) or "dtrain-plot"
FORMATS = ("png", "svg", "pdf")
PANEL_INCHES = (6.0, 4.0)  # one panel; the figure is a grid of them
DPI = 100
SETS = ("train", "valid", "test")
# One colour per set, the same in every panel (matplotlib's first three), so
# that valid is valid in the loss and in each metric panel alike.
SET_COLOURS = {"train": "#1f77b4", "valid": "#ff7f0e", "test": "#2ca02c"}
PROFILE = ("time_data", "time_compute", "time_comm", "time_update", "time_eval")


class BadInput(Exception):
    """One message for the user; exit status 2."""


# --- reading a training log --------------------------------------------------


def number(path, where, key, v):
    """A log value as a float: NaN for null / an empty CSV field (not
    available) and for a non-finite value, which a plot cannot place."""
    if v is None or v == "":
        return math.nan
    shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:37] + "..."
    if isinstance(v, bool):
        raise BadInput(f"{path}: {where}: '{key}' is {shown}, not a number")
    try:
        x = float(v)
    except (TypeError, ValueError, OverflowError):  # text, a list, an integer beyond float
        raise BadInput(f"{path}: {where}: '{key}' is {shown}, not a number") from None
    return x if math.isfinite(x) else math.nan


def read_text(path):
    try:
        st = os.stat(path)
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            binary = b"\0" in f.read(4096)  # an HDF5 model, an image: not read whole
        if not binary:  # utf-8-sig: a byte order mark (some editors write one) is read past
            with open(path, encoding="utf-8-sig", newline="") as f:
                return f.read()
    except UnicodeDecodeError:
        pass
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e.strerror}") from None
    raise BadInput(f"{path}: not a text file (expected JSON Lines or CSV)")


def truncated_last(path, text, lines, n):
    """Whether line n (1-based) of lines is a last line that ends without its
    newline: what a write cut short (a full disk) leaves.  It is skipped with
    a warning; the epochs before it are whole."""
    if n != len(lines) or text.endswith(("\n", "\r")):
        return False
    print(f"{PROG}: warning: {path}: line {n} is incomplete (no newline at the end of the "
          "file, as a write cut short leaves it): skipped", file=sys.stderr)
    return True


def json_records(path, text):
    """(line number, dict) for each non-blank line."""
    out = []
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except RecursionError:
            raise BadInput(f"{path}: line {n} is nested too deeply: not a dtrain log") from None
        except ValueError:
            if truncated_last(path, text, lines, n):
                break
            raise BadInput(f"{path}: line {n} is not JSON: not a dtrain log "
                           "(expected one JSON object per line, or a .csv file)") from None
        if not isinstance(rec, dict):
            raise BadInput(f"{path}: line {n} is not a JSON object: not a dtrain log")
        out.append((n, rec))
    return out


def csv_records(path, text):
    """The header's names and (line number, {name: field}) for each row
    that is not blank."""
    lines = text.splitlines()
    try:
        rows = list(csv.reader(lines))
    except csv.Error as e:
        raise BadInput(f"{path}: not CSV: {e}") from None
    head = [h.strip() for h in rows[0]] if rows else []
    out = []
    for n, row in enumerate(rows[1:], 2):
        if not "".join(row).strip():
            continue
        if len(row) != len(head):
            if len(row) < len(head) and truncated_last(path, text, lines, n):
                break
            raise BadInput(f"{path}: line {n} has {len(row)} fields, the header {len(head)}")
        out.append((n, dict(zip(head, row))))
    return head, out


def read_log(path):
    """The log as {key: [value per epoch]}, epochs ascending, and the keys in
    the order the file gives them.  A repeated epoch: the later record wins
    (a resumed run that wrote an epoch again)."""
    text = read_text(path)
    if path.lower().endswith(".csv"):
        head, recs = csv_records(path, text)
        if head and "epoch" not in head:
            raise BadInput(f"{path}: the header has no 'epoch' column: not a dtrain log")
    else:
        recs = json_records(path, text)
    by_epoch, keys = {}, []
    for n, rec in recs:
        if "epoch" not in rec:
            raise BadInput(f"{path}: line {n} has no 'epoch': not a dtrain log")
        e = number(path, f"line {n}", "epoch", rec["epoch"])
        if not (e >= 1 and e == int(e)):
            raise BadInput(f"{path}: line {n}: epoch {rec['epoch']!r} is not a positive integer")
        by_epoch[int(e)] = {k: number(path, f"line {n}", k, v) for k, v in rec.items()}
        keys += [k for k in rec if k not in keys]
    if not by_epoch:
        raise BadInput(f"{path}: no epochs (an empty log)")
    epochs = sorted(by_epoch)
    return {k: [by_epoch[e].get(k, math.nan) for e in epochs] for k in keys}, keys


def has_values(col):
    return col is not None and any(not math.isnan(v) for v in col)


def log_panels(log, keys):
    """[(title, ylabel, [(label, values)])]: the losses, then one panel per
    metric (each set that has it), then the profile's phases if recorded."""
    panels = [("loss", "loss", [(s, log.get(f"{s}_loss")) for s in SETS])]
    metrics = []
    for k in keys:
        s, _, m = k.partition("_")
        if s in SETS and m and m != "loss" and m not in metrics:
            metrics.append(m)
    for m in metrics:
        panels.append((m, m, [(s, log.get(f"{s}_{m}")) for s in SETS]))
    panels.append(("time per epoch", "seconds",
                   [(k, log.get(k)) for k in ("epoch_time",) + PROFILE]))
    panels = [(t, y, [(lab, v) for lab, v in ser if has_values(v)]) for t, y, ser in panels]
    # the time panel only with --profile's phases: epoch_time alone says little
    return [p for p in panels if p[2] and (p[0] != "time per epoch" or len(p[2]) > 1)]


# --- reading dtrain cv's CSV --------------------------------------------------


def read_cv(path):
    """dtrain cv --out: rank, the grid's options, fold1..foldK, mean, std,
    metric, status.  Returns (option names, rows as dicts, metric, k)."""
    head, recs = csv_records(path, read_text(path))
    need = ("rank", "fold1", "mean", "std", "status")
    if any(c not in head for c in need) or head[0] != "rank":
        raise BadInput(f"{path}: the header lacks {', '.join(need)}: "
                       "not a dtrain cv results file (dtrain cv --out)")
    axes = head[1:head.index("fold1")]
    k = sum(1 for h in head if h.startswith("fold") and h[4:].isdigit())
    out = []
    for n, r in recs:
        for c in ("rank", "mean", "std"):
            r[c] = number(path, f"line {n}", c, r[c])
        out.append(r)
    if not any(not math.isnan(r["mean"]) for r in out):
        raise BadInput(f"{path}: no configuration with a mean (none, or every one failed)")
    metric = out[0].get("metric") or "metric"
    return axes, out, metric, k


def axis_order(values):
    """An option's values in numeric order when they are all numbers, else in
    text order with digit runs compared as numbers ("8:relu" before
    "16:relu"); the CSV is sorted by rank, which is no order for an axis."""
    try:
        return sorted(set(values), key=float)
    except ValueError:
        return sorted(set(values), key=lambda v: [(0, int(t), "") if t.isdigit() else (1, 0, t)
                                                  for t in re.split(r"(\d+)", v)])


def cv_panels(axes, rows, metric, k):
    """One panel per option of the grid: the metric against its values, one
    series per combination of the other options (mean, std as error bars)."""
    ylabel = f"validation {metric}, mean ± std over {k} folds"
    panels = []
    for a in axes:
        xs = axis_order([r[a] for r in rows])
        others = [o for o in axes if o != a]
        series = {}
        for r in rows:
            label = " ".join(f"{o}={r[o]}" for o in others) or "mean"
            series.setdefault(label, {})[r[a]] = (r["mean"], r["std"], r["rank"])
        panels.append((a, xs, ylabel, series))
    return panels


# --- drawing -----------------------------------------------------------------


def figure(n):
    """A figure for n panels, 2 to a row (1 if there is only one), each
    PANEL_INCHES at DPI: a log with 3 panels is 1200 x 800 pixels."""
    from matplotlib.figure import Figure

    cols = 1 if n == 1 else 2
    rows = (n + cols - 1) // cols
    fig = Figure(figsize=(PANEL_INCHES[0] * cols, PANEL_INCHES[1] * rows), dpi=DPI,
                 layout="constrained")
    axs = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axs[n:]:
        ax.remove()
    return fig, axs[:n]


def kept_epoch(path, log):
    """The epoch whose weights an early-stopped run kept (the last record's
    best_epoch, written with --early-stopping), or None."""
    best = [v for v in log.get("best_epoch", []) if not math.isnan(v)]
    if not best:
        return None
    k = best[-1]
    if not (k >= 1 and k == int(k) and k <= max(log["epoch"])):
        raise BadInput(f"{path}: best_epoch {k:g} is not one of the log's epochs")
    return int(k)


def draw_log(path, log, keys):
    from matplotlib.ticker import MaxNLocator

    panels = log_panels(log, keys)
    if not panels:
        raise BadInput(f"{path}: no values to plot (every loss and metric is null)")
    fig, axs = figure(len(panels))
    x = log["epoch"]
    kept = kept_epoch(path, log)
    for ax, (title, ylabel, series) in zip(axs, panels):
        for label, y in series:
            ax.plot(x, y, marker="o" if len(x) <= 30 else None, markersize=3, label=label,
                    color=SET_COLOURS.get(label))
        if kept is not None:
            line = ax.axvline(kept, color="black", linestyle="--", linewidth=1,
                              label=f"kept: epoch {kept}")
            line.dtrain_mark = "kept epoch"
        vals = [v for _, y in series for v in y if not math.isnan(v)]
        if title == "loss" and min(vals) > 0 and max(vals) > 100 * min(vals):
            ax.set_yscale("log")  # losses spanning decades
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(os.path.basename(path))
    return fig


def draw_cv(path, axes, rows, metric, k):
    panels = cv_panels(axes, rows, metric, k)
    fig, axs = figure(len(panels))
    failed = sum(1 for r in rows if math.isnan(r["mean"]))
    for ax, (a, xs, ylabel, series) in zip(axs, panels):
        pos = {v: i for i, v in enumerate(xs)}
        width = 0.2 / (len(series) - 1) if len(series) > 1 else 0
        for j, (label, pts) in enumerate(series.items()):
            ok = [(v, m, s) for v, (m, s, _) in pts.items() if not math.isnan(m)]
            ok.sort(key=lambda p: pos[p[0]])
            # side by side, so that the error bars of one x do not overlap
            dx = (j - (len(series) - 1) / 2) * width
            ax.errorbar([pos[v] + dx for v, _, _ in ok], [m for _, m, _ in ok],
                        yerr=[s for _, _, s in ok], marker="o", capsize=3, label=label)
            for v, (m, _, rank) in pts.items():
                if rank == 1 and not math.isnan(m):
                    star, = ax.plot([pos[v] + dx], [m], marker="*", markersize=14,
                                    color="black", linestyle="none", label="_best")
                    star.dtrain_mark = "best"
        ax.set_xticks(range(len(xs)), xs)
        ax.dtrain_categories = xs  # for describe(): positions back to values
        ax.set_title(a)
        ax.set_xlabel(a)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if len(series) > 1:
            ax.legend(fontsize="small")
    best = " ".join(f"{a}={r[a]}" for r in rows if r["rank"] == 1 for a in axes)
    note = f"; {failed} failed configuration{'s' * (failed != 1)} not shown" if failed else ""
    fig.suptitle(f"{os.path.basename(path)} (★ best: {best}{note})")
    return fig


def describe(fig):
    """What was drawn, read back from the figure: a line per panel, then one
    per series with its points x,y (x,y+-std with error bars) that are
    numbers, and its colour; then the marks (the epoch early stopping kept, the
    best configuration of a search)."""
    from matplotlib.colors import to_hex

    lines = [f"figure {int(fig.get_figwidth() * DPI)}x{int(fig.get_figheight() * DPI)} "
             f"{len(fig.axes)} panel{'s' * (len(fig.axes) != 1)}",
             f"title '{' '.join(t.get_text() for t in fig.texts)}'"]
    for ax in fig.axes:
        lines.append(f"panel '{ax.get_title()}' x '{ax.get_xlabel()}' y '{ax.get_ylabel()}'")
        handles, labels = ax.get_legend_handles_labels()
        if not labels:  # a single series, no legend
            handles, labels = [c for c in ax.containers] or ax.lines[:1], ["(unlabelled)"]
        for h, lab in zip(handles, labels):
            if getattr(h, "dtrain_mark", None):
                continue  # below
            line = h.lines[0] if hasattr(h, "lines") else h
            cats = getattr(ax, "dtrain_categories", None)
            pts = [(cats[round(x)] if cats else f"{x:g}", f"{y:g}")
                   for x, y in zip(line.get_xdata(), line.get_ydata()) if not math.isnan(y)]
            if getattr(h, "has_yerr", False):  # half the length of each error bar
                segs = h.lines[2][0].get_segments()
                pts = [(x, f"{y}+-{(s[1][1] - s[0][1]) / 2:g}") for (x, y), s in zip(pts, segs)]
            lines.append(f"  series '{lab}' {len(pts)} point{'s' * (len(pts) != 1)}: "
                         + " ".join(f"{x},{y}" for x, y in pts)
                         + f" colour {to_hex(line.get_color())}")
        for m in ax.lines:  # the marks: an epoch (a vertical line), or a point
            name = getattr(m, "dtrain_mark", None)
            if name == "kept epoch":
                lines.append(f"  mark '{name}' at {m.get_xdata()[0]:g}")
            elif name:
                cats = getattr(ax, "dtrain_categories", None)
                x, y = m.get_xdata()[0], m.get_ydata()[0]
                lines.append(f"  mark '{name}' at {cats[round(x)] if cats else f'{x:g}'},{y:g}")
    return "\n".join(lines)


# --- writing -----------------------------------------------------------------


def check_out(out, inputs):
    """The image format from the extension; --out must not exist or be a
    regular file other than the inputs."""
    fmt = os.path.splitext(out)[1][1:].lower()
    if fmt not in FORMATS:
        raise BadInput(f"--out {out}: unknown image type '{os.path.splitext(out)[1]}' "
                       f"(expected {', '.join('.' + f for f in FORMATS)})")
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        return fmt
    except OSError as e:
        raise BadInput(f"--out {out}: cannot create: {e.strerror}") from None
    if stat.S_ISLNK(st.st_mode):
        raise BadInput(f"--out {out}: a symbolic link (name the file it points to), "
                       "left as it is")
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise BadInput(f"--out {out}: {kind}, left as it is")
    for i in inputs:
        try:
            si = os.stat(i)
        except OSError:
            continue
        if (si.st_dev, si.st_ino) == (st.st_dev, st.st_ino):
            raise BadInput(f"--out {out}: the same file as the input {i}")
    return fmt


def create_temp(out):
    """<out>.tmp.<pid> beside out, created exclusively (as dtrain names its
    temporaries); the descriptor, open for writing."""
    tmp = f"{out}.tmp.{os.getpid()}"
    try:
        return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as e:
        raise BadInput(f"--out {out}: cannot create {tmp}: {e.strerror}") from None


def commit(fig, fmt, out, tmp, fd):
    """Write, fsync, rename into place, fsync the directory: a crash leaves
    the old image or the new one, never half of one."""
    try:
        with os.fdopen(fd, "wb") as f:
            fig.savefig(f, format=fmt, dpi=DPI)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
        d = os.open(os.path.dirname(out) or ".", os.O_RDONLY)
        try:
            os.fsync(d)
        finally:
            os.close(d)
    except OSError as e:
        raise BadInput(f"--out {out}: write failed: {e.strerror}") from None


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2
        raise BadInput(f"{message} (see {PROG} --help)")


def parse(argv):
    p = Parser(prog=PROG, description="Plot a dtrain training log (train --log) as loss and "
               "metric curves per epoch, or a dtrain cv results CSV (cv --out) as the "
               "metric against each option of the grid.")
    p.add_argument("log", nargs="?", metavar="LOG.jsonl|LOG.csv",
                   help="training log: JSON Lines, or CSV if the name ends in .csv")
    p.add_argument("--cv", metavar="RESULTS.csv", help="plot dtrain cv's results table instead")
    p.add_argument("--out", required=True, metavar="IMAGE",
                   help="image to write: .png, .svg or .pdf (replaced atomically)")
    p.add_argument("--describe", action="store_true",
                   help="also print what was drawn: the panels and each series' points")
    a = p.parse_args(argv)
    if (a.log is None) == (a.cv is None):
        p.error("give either a training log or --cv RESULTS.csv")
    return a


def main(argv):
    tmp = None
    try:
        a = parse(argv)
        try:
            import matplotlib
        except ImportError:
            print(f"{PROG}: error: matplotlib is missing (Debian: apt-get install "
                  "python3-matplotlib; scripts/install-deps.sh installs it)", file=sys.stderr)
            return 1
        matplotlib.use("Agg")  # no display
        src = a.cv or a.log
        fmt = check_out(a.out, [src])
        data = read_cv(src) if a.cv else read_log(src)
        fig = draw_cv(src, *data) if a.cv else draw_log(src, *data)
        tmp, fd = create_temp(a.out)
        commit(fig, fmt, a.out, tmp, fd)
        tmp = None
        if a.describe:
            print(describe(fig))
        return 0
    except BadInput as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    finally:
        if tmp:
            try:
                os.remove(tmp)
            except OSError:
                pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
