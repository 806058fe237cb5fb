#!/usr/bin/python3
"""Slide-ready charts from concbench reports (and hyperfine --export-json).

    scripts/plot.py REPORT.json [MORE.json ...] [-o DIR]

Writes PNG and SVG (16:9) into DIR, and legend.json listing the series each
chart shows:

  headline     speedup over sequential against tasks: CPU-bound (primes)
               beside I/O-bound (sleep, http), 95% intervals, ideal dashed
  walltime     wall time per series at the largest task count, CI whiskers
  scaling-W    time and memory per task against tasks (log-log); memory is
               every process of a run together (total_rss_kib), so that
               fork's children count
  latency-W    when each task's result was ready, from the run's start
               (done_ns), beside each task's own time or its operations'
               latency (the title of each panel says which)
  openloop-W   open-loop cells (a "rate" option): request latency p50, p99
               and p99.9 against the offered rate, one line per model (the
               hockey stick), beside the achieved rate; each model's
               highest rate within a latency goal (--goal, default p99 <=
               10x the server's delay) is named on the chart and on stderr
  hyperfine    whole-process times from hyperfine files

Speedups are the report's own "speedup" objects (concbench sweep): the
median of the ratios sequential / model over runs paired nearest in time,
with its bootstrap 95% interval as error bars. A report without them (an
older one) falls back to median(sequential) / median(model) over the passed
runs of the two cells with the same workload, options and task count, with
the 2.5-97.5 percentile of that ratio over 2000 bootstrap resamples of each
cell's runs. A CPU-bound speedup (primes) whose interval lies wholly above
min(tasks, usable CPUs), 5% tolerance, cannot be real (the baseline was
disturbed): it is drawn hatched, marked ✗, named on stderr and in the
footnote, whether the report flagged it or only its numbers show it.
Bars are median-based. Skipped and failed cells are not drawn; each chart's
footnote counts them. Noisy cells (stddev over 10% of the mean, or runs
disturbed by other work: the report's "warnings") are drawn hollow or
hatched and marked ~. A chart the data cannot support (one model, one task
count, no sequential baseline) is not drawn, and stderr says why. Exit 2 on
input that is not a concbench/2 or concbench/1 report or a hyperfine
export.
"""
import argparse
import json
import math
import os
import re
import sys
from collections import OrderedDict, defaultdict

# concbench/2 names a duration option "<key>_ns"; concbench/1 wrote the
# same nanoseconds under "<key>" (docs/report.md).
SCHEMAS = ("concbench/2", "concbench/1")
V1_DURATIONS = ("ms", "jitter", "delay", "interval", "timeout", "duration",
                "late", "slice", "burst", "hold")
CPU_WORKLOADS = ("primes",)
# A run's memory within this of a 1-task run's is noise (KiB): what the
# allocator, the kernel and the cells run before add in page-sized steps
# (a sweep's sequential cells drift by a few hundred KiB with no task
# memory at all), not what tasks cost.
MEM_FLOOR_KIB = 1024
IO_WORKLOADS = ("sleep", "http")

# Okabe & Ito's colourblind-safe palette; one colour per model everywhere.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9",
    "green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
    "vermillion": "#D55E00", "purple": "#CC79A7",
}
MODEL_COLOURS = OrderedDict([
    ("sequential", OKABE_ITO["black"]),
    ("fork", OKABE_ITO["vermillion"]),
    ("threads", OKABE_ITO["blue"]),
    ("green", OKABE_ITO["green"]),
    ("eventloop", OKABE_ITO["orange"]),
    ("uring", OKABE_ITO["purple"]),
    ("python", "#8C564B"),
])
SPARE_COLOURS = [OKABE_ITO["sky"], "#999999", OKABE_ITO["yellow"]]
# A legend's box: lines and marks never run through its text on a slide.
LEGEND_BOX = {"frameon": True, "framealpha": 0.92, "facecolor": "white",
              "edgecolor": "#BBBBBB"}
NOISY = "~"
FOOTNOTE_CHARS = 125
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
LINESTYLES = {"sleep": "-", "http": (0, (6, 2, 1, 2))}

BOOTSTRAP = 2000
# How far above min(tasks, usable CPUs) a CPU-bound speedup's interval must
# lie to be impossible (cmd/paired.h's CONC_LIMIT_TOLERANCE).
LIMIT_TOLERANCE = 0.05
IMPOSSIBLE = "\u2717"


NOISY_NOTE = ("%s noisy: stddev over 10%% of the mean, or runs disturbed by "
              "other work (the report's warnings)" % NOISY)


class InputError(Exception):
    """Bad input: one line on stderr, exit 2."""


def skipped(chart, why):
    """Says on stderr that a chart is not drawn, and why."""
    sys.stderr.write("plot.py: no %s chart: %s\n" % (chart, why))


def die(msg, code=2):
    sys.stderr.write("plot.py: %s\n" % msg)
    sys.exit(code)


# ---------------------------------------------------------------- loading

class Cell:
    """One result of a report: a (model, workload, options, tasks) cell."""

    def __init__(self, r, host, source, schema=SCHEMAS[0]):
        self.model = r.get("model")
        self.workload = r.get("workload")
        # Options by the names people type ("ms"), durations kept apart.
        self.mopts, mdur = norm_opts(r.get("model_options"), schema)
        self.wopts, wdur = norm_opts(r.get("workload_options"), schema)
        self.durations = mdur | wdur
        self.tasks = r.get("tasks")
        self.skipped = r.get("skipped")
        self.failed = bool(r.get("failed"))
        self.host = r.get("host") or host
        self.source = source
        sp = r.get("speedup")
        self.speedup = sp if isinstance(sp, dict) and is_num(sp.get(
            "value")) and isinstance(sp.get("ci95"), list) and len(
            sp["ci95"]) == 2 and all(is_num(v) for v in sp["ci95"]) else None
        self.runs = [x for x in (r.get("runs") or [])
                     if isinstance(x, dict) and not x.get("failed")]
        self.walls = [float(x["wall_ns"]) for x in self.runs
                      if isinstance(x.get("wall_ns"), (int, float))]
        warns = r.get("warnings")
        if isinstance(warns, list):
            kinds = {w.get("kind") for w in warns if isinstance(w, dict)}
            self.noisy = bool(kinds & {"noisy", "disturbed"})
        else:
            # An older report: the same test as concbench's, on its runs.
            self.noisy = len(self.walls) >= 2 and cv(self.walls) > 0.10
        if not isinstance(self.model, str) or not isinstance(
                self.workload, str) or not isinstance(self.tasks, int) \
                or isinstance(self.tasks, bool) or self.tasks < 1:
            raise InputError("'%s' has a result without model, workload or "
                             "tasks" % source)

    @property
    def plottable(self):
        return not self.skipped and not self.failed and self.walls

    def opt_text(self, key, workload=True):
        opts = self.wopts if workload else self.mopts
        return fmt_opt(key, opts[key], key in self.durations)

    def memory(self):
        """(median KiB of every process of a run, True) from total_rss_kib,
        or (peak RSS of the largest process, False) from an older report."""
        total = self.metric("total_rss_kib")
        if total is not None:
            return total, True
        return self.metric("max_rss_kib"), False

    def metric(self, path):
        """The median over passed runs of a dotted run field, or None."""
        vals = []
        for run in self.runs:
            v = run
            for part in path.split("."):
                v = v.get(part) if isinstance(v, dict) else None
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                vals.append(float(v))
        return median(vals) if vals else None


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def cv(xs):
    """The sample stddev over the mean."""
    m = sum(xs) / len(xs)
    if m <= 0:
        return 0.0
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) / m


def norm_opts(opts, schema):
    """({name: value}, {names that are durations in ns}) of a report's
    options: concbench/2 writes a duration as "<name>_ns", concbench/1 as
    "<name>" (known by V1_DURATIONS)."""
    out, durations = {}, set()
    if not isinstance(opts, dict):
        return out, durations
    for k, v in opts.items():
        if schema != "concbench/1" and k.endswith("_ns") and len(k) > 3:
            k = k[:-3]
            durations.add(k)
        elif schema == "concbench/1" and k in V1_DURATIONS:
            durations.add(k)
        out[k] = v
    return out, durations


def usable_cpus(host):
    """What the process could use: the report's usable_cpus, or (older
    reports) its allowed CPUs capped by the cgroup quota; None if unknown."""
    if not isinstance(host, dict):
        return None
    u = host.get("usable_cpus")
    if is_num(u) and u > 0:
        return u
    n = host.get("cpus_allowed") or host.get("cpus")
    if not is_num(n) or n <= 0:
        return None
    q = host.get("cgroup_cpu_quota")
    return min(n, q) if is_num(q) and q > 0 else n


def host_key(host):
    if not isinstance(host, dict):
        return "unknown host"
    return "%s, %s CPUs" % (host.get("cpu_model") or "unknown CPU",
                            host.get("cpus_allowed") or host.get("cpus")
                            or "?")


def load(paths):
    """Returns (reports, hyperfine runs); raises InputError on bad input."""
    reports, hyper = [], []
    for path in paths:
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError as e:
            raise InputError("cannot read '%s': %s" % (path, e.strerror))
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise InputError("'%s' is not JSON: %s" % (path, e))
        if not isinstance(doc, dict):
            raise InputError("'%s' is not a concbench report or a hyperfine "
                             "export" % path)
        if "schema" in doc:
            if doc["schema"] not in SCHEMAS:
                raise InputError("'%s' has schema '%s'; this plot.py reads "
                                 "%s" % (path, doc["schema"], " and ".join(
                                     "'%s'" % v for v in SCHEMAS)))
            if not isinstance(doc.get("results"), list):
                raise InputError("'%s' has no results list" % path)
            cells = []
            for r in doc["results"]:
                if not isinstance(r, dict):
                    raise InputError("'%s' has a result that is not an "
                                     "object" % path)
                cells.append(Cell(r, doc.get("host"), path, doc["schema"]))
            reports.append((path, doc, cells))
        elif isinstance(doc.get("results"), list) and doc["results"] and all(
                isinstance(r, dict) and "command" in r and "times" in r
                for r in doc["results"]):
            for r in doc["results"]:
                hyper.append((path, r))
        else:
            raise InputError("'%s' is not a concbench report (no \"schema\") "
                             "or a hyperfine --export-json file" % path)
    return reports, hyper


# ------------------------------------------------------------- statistics

def median(xs):
    s = sorted(xs)
    n = len(s)
    if not n:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def boot_medians(rng, xs):
    import numpy as np
    a = np.asarray(xs, dtype=float)
    idx = rng.integers(0, len(a), size=(BOOTSTRAP, len(a)))
    return np.median(a[idx], axis=1)


def ratio_ci(rng, num, den):
    """95% percentile-bootstrap interval of median(num)/median(den)."""
    import numpy as np
    if len(num) < 2 or len(den) < 2:
        return None
    r = boot_medians(rng, num) / boot_medians(rng, den)
    return float(np.percentile(r, 2.5)), float(np.percentile(r, 97.5))


def median_ci(rng, xs):
    import numpy as np
    if len(xs) < 2:
        return None
    m = boot_medians(rng, xs)
    return float(np.percentile(m, 2.5)), float(np.percentile(m, 97.5))


# ---------------------------------------------------------------- series

def fmt_val(v):
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, int) and v >= 10000 and v % 1000 == 0:
        # 1e9, 3e9, 2.5e10: the form people type with -o n=...
        e = len(str(v).rstrip("0"))
        e = len(str(v)) - e
        mant = v // 10 ** e
        digits = str(mant)
        if len(digits) <= 3:
            lead = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
            return "%se%d" % (lead, e + len(digits) - 1)
    return str(v)


def fmt_opt(key, v, duration=False):
    """key=value as people type it: a duration (ns in the report) in its
    largest whole unit, as concbench prints it (20ms, 1500us)."""
    if duration and is_num(v):
        return "%s=%s" % (key, fmt_dur(v))
    return "%s=%s" % (key, fmt_val(v))


def fmt_dur(ns):
    ns = int(ns)
    if not ns:
        return "0"
    for unit, k in (("s", 10 ** 9), ("ms", 10 ** 6), ("us", 10 ** 3)):
        if ns % k == 0:
            return "%d%s" % (ns // k, unit)
    return "%dns" % ns


def shade(colour, k):
    """The k-th variant of a model's colour (k >= 1): alternately lighter
    (mixed with white) and darker (with black), so that gil=on and gil=off
    differ by colour, not only by marker."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    if k % 2:
        f = 0.5 if k == 1 else 0.7
        r, g, b = (round(x + (255 - x) * f) for x in (r, g, b))
    else:
        f = 0.45
        r, g, b = (round(x * (1 - f)) for x in (r, g, b))
    return "#%02X%02X%02X" % (r, g, b)


class Data:
    """Every plottable cell, grouped into series with stable identities."""

    def __init__(self, reports):
        self.cells = [c for _, _, cs in reports for c in cs]
        self.reports = reports
        self.hosts = sorted({host_key(c.host) for c in self.cells})
        # Option keys whose value varies make distinct series; options that
        # are the same everywhere are the setting, shown in the title.
        mvals, wvals = defaultdict(set), defaultdict(set)
        for c in self.cells:
            for k, v in c.mopts.items():
                mvals[(c.model, k)].add(json.dumps(v, sort_keys=True))
            for k, v in c.wopts.items():
                wvals[(c.workload, k)].add(json.dumps(v, sort_keys=True))
        self.mvary = {mk for mk, s in mvals.items() if len(s) > 1}
        self.wvary = {wk for wk, s in wvals.items() if len(s) > 1}
        self.models = []
        for c in self.cells:
            if c.model not in self.models:
                self.models.append(c.model)
        order = list(MODEL_COLOURS)
        self.models.sort(key=lambda m: (order.index(m) if m in order
                                        else len(order), m))
        self.colour = {}
        spare = iter(SPARE_COLOURS * 8)
        for m in self.models:
            self.colour[m] = MODEL_COLOURS.get(m) or next(spare)
        # Every variant of each model, in one order for every chart: the
        # same variant has the same colour and marker everywhere.
        self.variants = defaultdict(list)  # model -> [variant label]
        # A variant that never ran gets no shade before one that did.
        for c in sorted(self.cells, key=lambda c: (not c.plottable,
                                                   self.variant(c))):
            if self.variant(c) not in self.variants[c.model]:
                self.variants[c.model].append(self.variant(c))

    def variant(self, c):
        """The distinguishing model options of c: "gil=on workers=2"."""
        return " ".join(c.opt_text(k, False) for k in sorted(c.mopts)
                        if (c.model, k) in self.mvary)

    def wvariant(self, c):
        return " ".join(c.opt_text(k) for k in sorted(c.wopts)
                        if (c.workload, k) in self.wvary)

    def label(self, c, with_workload=False):
        parts = [c.model]
        v = self.variant(c)
        if v:
            parts.append(v)
        if with_workload:
            parts.append("\u00b7 " + c.workload)
        wv = self.wvariant(c)
        if wv:
            parts.append(wv)
        if len(self.hosts) > 1:
            parts.append("[%s]" % host_key(c.host))
        return " ".join(parts)

    def style(self, c):
        """Colour by model, a shade of it and a marker by its variant."""
        k = self.variants[c.model].index(self.variant(c))
        base = self.colour[c.model]
        return {"color": shade(base, k) if k else base,
                "marker": MARKERS[k % len(MARKERS)]}

    def series(self, workloads, with_workload=False):
        """OrderedDict label -> (style cell, {tasks: cell}), plottable only."""
        out = OrderedDict()
        cells = [c for c in self.cells if c.workload in workloads and
                 c.plottable]
        cells.sort(key=lambda c: (workloads.index(c.workload),
                                  self.models.index(c.model),
                                  self.variant(c), self.wvariant(c), c.tasks))
        for c in cells:
            lab = self.label(c, with_workload)
            if lab not in out:
                out[lab] = (c, {})
            out[lab][1].setdefault(c.tasks, c)
        return out

    @staticmethod
    def baseline_model(b, c):
        """Whether b's model is the baseline of c's: sequential for the C
        models; for python, CPython's own plain loop (api=sequential) in
        the same interpreter, as concbench sweep takes it."""
        if c.model != "python":
            return b.model == "sequential"
        skip = ("api", "workers")
        return b.model == "python" and b.mopts.get("api") == "sequential" \
            and {k: v for k, v in b.mopts.items() if k not in skip} == \
            {k: v for k, v in c.mopts.items() if k not in skip}

    def baseline(self, c):
        """The baseline cell matching c (workload, its options, tasks)."""
        for b in self.cells:
            if self.baseline_model(b, c) and b.plottable and \
                    b.workload == c.workload and b.tasks == c.tasks and \
                    b.wopts == c.wopts and host_key(b.host) == host_key(c.host):
                return b
        return None

    def cpus(self):
        for c in self.cells:
            n = usable_cpus(c.host)
            if n:
                return n
        return None

    def speedup(self, rng, c, b):
        """(value, lo, hi, paired, limit or None, impossible) of cell c over
        its baseline b: the report's paired speedup when it has one, else
        the ratio of the two medians with a bootstrap band."""
        if c is b:
            return 1.0, 1.0, 1.0, False, None, False
        sp = c.speedup
        if sp:
            y, (lo, hi) = float(sp["value"]), map(float, sp["ci95"])
        else:
            y = median(b.walls) / median(c.walls)
            lo, hi = ratio_ci(rng, b.walls, c.walls) or (y, y)
        # The report's own verdict stands; its numbers are checked too.
        limit, impossible = None, False
        if sp and sp.get("impossible") is True:
            impossible = True
            limit = sp.get("limit") if is_num(sp.get("limit")) else None
        cpus = usable_cpus(c.host)
        if c.workload in CPU_WORKLOADS and cpus:
            limit = limit or min(c.tasks, cpus)
            impossible = impossible or lo > min(c.tasks, cpus) * (
                1 + LIMIT_TOLERANCE)
        return y, lo, hi, sp is not None, limit, impossible


# ---------------------------------------------------------------- drawing

class Charts:
    def __init__(self, outdir, data, hyper):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
        self.plt = plt
        self.rng = np.random.default_rng(20240601)
        self.outdir = outdir
        self.data = data
        self.hyper = hyper
        self.legends = OrderedDict()
        self.written = []
        plt.rcParams.update({
            "font.size": 17, "axes.titlesize": 21, "axes.labelsize": 18,
            "legend.fontsize": 14, "xtick.labelsize": 15,
            "ytick.labelsize": 15, "figure.titlesize": 25,
            "axes.spines.top": False, "axes.spines.right": False,
            "axes.grid": True, "grid.alpha": 0.3,
            # Text stays text in the SVG: searchable, editable on a slide.
            "svg.fonttype": "none", "figure.dpi": 120, "savefig.dpi": 120,
        })

    # The footnote every chart carries: where, what, when, what is missing.
    def footnote(self, fig, extra=""):
        d = self.data
        parts = []
        if d and d.reports:
            docs = [doc for _, doc, _ in d.reports]
            versions = sorted({str((doc.get("concbench") or {}).get(
                "version", "?")) for doc in docs})
            dates = sorted({str(doc.get("started_at", "?"))[:10]
                            for doc in docs})
            parts.append("host: " + "; ".join(d.hosts))
            parts.append("concbench " + ", ".join(versions))
            parts.append(", ".join(dates))
            nruns = sorted({len(c.runs) for c in d.cells if c.runs})
            if nruns:
                order = {str(doc.get("order")) for doc in docs
                         if doc.get("order")}
                seeds = sorted({str(doc["seed"]) for doc in docs
                                if "seed" in doc})
                runs = str(nruns[0]) if nruns[0] == nruns[-1] else \
                    "%d-%d" % (nruns[0], nruns[-1])
                parts.append("%s passed runs per cell%s%s" % (
                    runs, ", " + "/".join(sorted(order)) if order else "",
                    ", seed " + "/".join(seeds) if seeds else ""))
            skipped = [c for c in d.cells if c.skipped]
            failed = [c for c in d.cells if not c.skipped and
                      (c.failed or not c.walls)]
            if skipped or failed:
                why = sorted({"%s: %s" % (c.model, shorten(c.skipped, 70))
                              for c in skipped})
                note = "not plotted: %d skipped, %d failed" % (
                    len(skipped), len(failed))
                if why:
                    note += " (" + "; ".join(why[:3]) + \
                        ("; ..." if len(why) > 3 else "") + ")"
                parts.append(note)
        elif self.hyper:
            parts.append("hyperfine: " + ", ".join(sorted(
                {os.path.basename(p) for p, _ in self.hyper})))
        if extra:
            # Each fact of extra ("a  ·  b") is a part of its own.
            parts += extra.split("  \u00b7  ")
        # Readable from the back of the room: 14 pt on a 16-inch figure,
        # about 140 characters a line. A line breaks between the facts, not
        # inside one (a fact longer than a line still wraps).
        lines, cur = [], ""
        for p in parts:
            cand = cur + "  \u00b7  " + p if cur else p
            if cur and len(cand) > FOOTNOTE_CHARS:
                lines.append(cur)
                cand = p
            cur = cand
        lines.append(cur)
        self.foot_lines = len(lines) + sum(len(x) // FOOTNOTE_CHARS
                                           for x in lines)
        fig.text(0.01, 0.012, "\n".join(lines), fontsize=14,
                 color="#333333", ha="left", va="bottom", wrap=True)

    def save(self, fig, name, labels, top=0.95, legend=None):
        """Writes fig as PNG and SVG. legend: a figure legend to keep right
        of the panels, as wide as its longest label."""
        # Room at the bottom for the footnote's lines.
        bottom = 0.015 + 0.03 * getattr(self, "foot_lines", 2)
        right = 1
        if legend is not None:
            fig.canvas.draw()
            right = 0.985 - legend.get_window_extent().width / \
                fig.bbox.width
            legend.set_bbox_to_anchor((right + 0.005, 0.5),
                                      transform=fig.transFigure)
        fig.tight_layout(rect=(0, bottom, right, top))
        self.foot_lines = 2
        for ext in ("png", "svg"):
            path = os.path.join(self.outdir, "%s.%s" % (name, ext))
            fig.savefig(path)
            self.written.append(path)
        self.legends[name] = labels
        self.plt.close(fig)

    def tasks_axis(self, ax, tasks):
        ax.set_xscale("log", base=2)
        ts = sorted(tasks)
        if ts:
            ax.set_xticks(ts)
            ax.set_xticklabels([("%d" % t if t < 10000 else "%gk" % (t / 1e3))
                                for t in ts])
            ax.minorticks_off()
        pow2 = all(t & (t - 1) == 0 for t in ts)
        ax.set_xlabel("tasks (log%s scale)" % ("\u2082" if pow2 else ""))

    @staticmethod
    def setting(data, workloads):
        """The options that hold for every cell of these workloads, those
        given on the command line (-o) first, three at most."""
        typed = set()
        for _, doc, _ in data.reports:
            argv = doc.get("argv") or []
            for a, b in zip(argv, argv[1:]):
                if a == "-o" and isinstance(b, str) and "=" in b:
                    typed.add(b.split("=", 1)[0])
        fixed = OrderedDict()
        for w in workloads:
            cs = [c for c in data.cells if c.workload == w]
            if not cs:
                continue
            keys = sorted(cs[0].wopts, key=lambda k: (k not in typed, k))
            if typed:
                keys = [k for k in keys if k in typed] or keys
            for k in keys:
                if (w, k) in data.wvary or k in ("seed", "jitter"):
                    continue
                if all(c.wopts.get(k) == cs[0].wopts[k] for c in cs):
                    fixed.setdefault(w, []).append(cs[0].opt_text(k))
        return "\n".join("%s: %s" % (w, " ".join(v[:3]))
                          for w, v in fixed.items())

    # ------------------------------------------------------------ headline
    def headline(self):
        d = self.data

        def compared(w):
            return any(c.workload == w and c.model != "sequential" and
                       c.plottable and d.baseline(c) for c in d.cells)
        if not any(c.model == "sequential" and c.plottable
                   for c in d.cells):
            return skipped("headline", "no sequential cell ran, and a "
                           "speedup is over sequential (sweep -m with "
                           "sequential)")
        # A panel a kind of workload, titled by the workloads it draws.
        panels = []
        for wls, kind, io in ((CPU_WORKLOADS, "CPU-bound", False),
                              (IO_WORKLOADS, "I/O-bound", True)):
            present = [w for w in wls if compared(w)]
            if present:
                panels.append((present, "%s: %s" % (kind, " and ".join(
                    present)), io))
            else:
                sys.stderr.write("plot.py: headline: no %s panel: no %s "
                                 "cell beside a sequential one of the same "
                                 "options and tasks\n" % (
                                     kind, " or ".join(wls)))
        if not panels:
            return skipped("headline", "no other model ran a primes, sleep "
                           "or http cell beside a sequential one")
        fig, axes = self.plt.subplots(1, len(panels), figsize=(16, 9),
                                      squeeze=False)
        labels = []
        cpus = d.cpus()
        methods, impossible, noisy = set(), [], False
        # One legend for the figure, right of the panels: the models once
        # (in the panels' order), then what the marks and lines mean.
        models, extras = OrderedDict(), OrderedDict()
        panels = [(ax, wls, title, io) for ax, (wls, title, io) in
                  zip(axes[0], panels)]
        for ax, wls, title, io in panels:
            present = wls
            several = len(present) > 1
            series = d.series(list(wls), with_workload=several)
            tasks = set()
            pnoisy = False
            # With several workloads in a panel, the legend names each model
            # once (its colour and marker) and each workload once (its line
            # style), rather than every pair.
            handles = OrderedDict()
            top = 0
            for i, (lab, (c0, by_t)) in enumerate(series.items()):
                # Series side by side at each task count (a few hundredths
                # of a doubling), so that their intervals do not hide
                # each other; the baseline, at 1 without one, stays put.
                dodge = 1 if c0.model == "sequential" else \
                    2 ** (0.025 * (i - (len(series) - 1) / 2))
                xs, ys, lo, hi, shaky = [], [], [], [], []
                for t in sorted(by_t):
                    c = by_t[t]
                    b = d.baseline(c)
                    if not b:
                        if c.model == "python":
                            sys.stderr.write(
                                "plot.py: headline: %s with %d task%s not "
                                "drawn: no python api=sequential cell of the "
                                "same options and tasks to be its baseline "
                                "(sweep -o api=sequential,...)\n" % (
                                    d.label(c), t, "" if t == 1 else "s"))
                        continue
                    y, l, h, was_paired, limit, bad = d.speedup(self.rng, c, b)
                    xs.append(t * dodge)
                    ys.append(y)
                    lo.append(l)
                    hi.append(h)
                    if c.noisy or b.noisy:
                        shaky.append((xs[-1], y))
                    if c is not b:
                        methods.add("paired" if was_paired else "medians")
                    if bad:
                        impossible.append((ax, xs[-1], y, limit))
                        sys.stderr.write(
                            "plot.py: %s, %s with %d task%s: speedup %.2fx "
                            "(95%% CI %.2f-%.2f) is above min(tasks, usable "
                            "CPUs)%s: the baseline was disturbed\n" % (
                                c.workload, d.label(c), t,
                                "" if t == 1 else "s", y, l, h,
                                "" if limit is None else " = %g" % limit))
                if not xs:
                    continue
                tasks.update(t for t in by_t if d.baseline(by_t[t]))
                top = max([top] + hi)
                st = d.style(c0)
                ls = LINESTYLES.get(c0.workload, "-") if io else "-"
                line, = ax.plot(xs, ys, label=lab, linestyle=ls, linewidth=2.6,
                                markersize=8, **st)
                # The interval of each speedup, not a band between them:
                # each task count was measured on its own.
                ax.errorbar(xs, ys, yerr=[[max(y - l, 0) for y, l in
                                           zip(ys, lo)],
                                          [max(h - y, 0) for y, h in
                                           zip(ys, hi)]],
                            fmt="none", ecolor=st["color"], elinewidth=1.8,
                            capsize=5, alpha=0.8)
                if shaky:
                    noisy = pnoisy = True
                    self.noisy_marks(ax, shaky, st)
                short = d.label(c0) if several else lab
                key = (d.models.index(c0.model),
                       d.variants[c0.model].index(d.variant(c0)), short)
                if key not in models:
                    models[key] = self.plt.Line2D(
                        [], [], linewidth=2.6, markersize=8, label=short,
                        **st) if several else line
                if short not in labels:
                    labels.append(short)
            if tasks:
                ts = sorted(tasks)
                ideal = [min(t, cpus) if (cpus and not io) else t for t in ts]
                if several:
                    for w in present:
                        extras[w] = self.plt.Line2D(
                            [], [], color="#444444", linewidth=2.2,
                            linestyle=LINESTYLES.get(w, "-"), label=w)
                extras["ideal"], = ax.plot(
                    ts, ideal, linestyle="--", color="#777777", linewidth=1.8,
                    label="ideal")
                # Which ideal, beside its line: each panel has its own.
                ax.annotate("ideal = min(tasks, %g usable CPUs)" % cpus
                            if cpus and not io else "ideal = tasks",
                            (ts[-1], ideal[-1]), xytext=(-6, 8),
                            textcoords="offset points", ha="right",
                            va="bottom", fontsize=14, color="#555555")
                if any(a is ax for a, _, _, _ in impossible):
                    extras["impossible"] = self.impossible_marks(
                        ax, [(t, y) for a, t, y, _ in impossible if a is ax])
                if pnoisy:
                    extras["noisy"] = self.plt.Line2D(
                        [], [], marker="o", markersize=10, linestyle="none",
                        markerfacecolor="white", color="#444444",
                        label="%s hollow: noisy" % NOISY)
                self.tasks_axis(ax, ts)
                if io:
                    ax.set_yscale("log", base=2)
                    plain_log(ax, base=2)
                else:
                    ax.set_ylim(0, max(top, max(ideal)) * 1.1)
            else:
                ax.text(0.5, 0.5, "no %s cells with a sequential baseline" %
                        "/".join(wls), transform=ax.transAxes, ha="center",
                        va="center", color="#777777")
                ax.set_xlabel("tasks (log\u2082 scale)")
            setting = self.setting(d, wls)
            ax.set_title(title + ("\n" + setting if setting else ""),
                         fontsize=19)
        for ax, _, _, _ in panels:
            ax.set_ylabel("speedup over sequential (\u00d7, 95% CI)")
        rank = {"ideal": 1, "impossible": 2, "noisy": 3}
        leg = fig.legend(handles=[models[k] for k in sorted(models)] +
                   [extras[k] for k in sorted(
                       extras, key=lambda k: rank.get(k, 0))],
                   loc="center left",
                   bbox_to_anchor=(0.79, 0.5), **LEGEND_BOX)
        fig.suptitle("Which concurrency model wins? Speedup over sequential "
                     "(higher is better)")
        notes = []
        if "paired" in methods:
            notes.append("speedup: median of ratios of runs paired in time")
        if "medians" in methods:
            notes.append("speedup%s: ratio of medians" % (
                " without pairs" if "paired" in methods else ""))
        if any(c.model == "python" for c in d.cells):
            notes.append("python: over python api=sequential (CPython's own "
                         "loop)")
        if impossible:
            limits = sorted({lim for _, _, _, lim in impossible
                             if lim is not None})
            at = " = " + ", ".join("%g" % v for v in limits) if limits \
                else ""
            notes.append("%s impossible: above min(tasks, CPUs)%s, the "
                         "baseline was disturbed" % (IMPOSSIBLE, at))
        if noisy:
            notes.append(NOISY_NOTE)
        self.footnote(fig, "  \u00b7  ".join(notes))
        self.save(fig, "headline", labels, legend=leg)

    def noisy_marks(self, ax, points, st):
        """Hollow marks over the points of noisy cells (or of their
        baseline): white inside, the series' colour around."""
        ax.plot([p[0] for p in points], [p[1] for p in points],
                linestyle="none", marker=st["marker"], markersize=12,
                markerfacecolor="white", markeredgecolor=st["color"],
                markeredgewidth=2.4, zorder=4)

    def impossible_marks(self, ax, points):
        """Hatched rings and a \u2717 over speedups that cannot be real;
        returns their legend handle."""
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        ax.scatter(xs, ys, s=620, marker="o", facecolors="none",
                   edgecolors="#222222", hatch="////", linewidths=1.6,
                   zorder=5)
        for x, y in points:
            ax.annotate(IMPOSSIBLE, (x, y), xytext=(15, 6),
                        textcoords="offset points", ha="left",
                        va="bottom", fontsize=20, fontweight="bold",
                        color="#222222", zorder=6)
        from matplotlib.patches import Patch
        return Patch(facecolor="none", edgecolor="#222222", hatch="////",
                     label="%s impossible: above min(tasks, CPUs)" %
                     IMPOSSIBLE)

    # ------------------------------------------------------------ walltime
    def walltime(self):
        d = self.data
        wls = [w for w in list(CPU_WORKLOADS) + list(IO_WORKLOADS) +
               sorted({c.workload for c in d.cells}) if any(
                   c.workload == w and c.plottable for c in d.cells)]
        wls = list(OrderedDict.fromkeys(wls))
        if not wls:
            return
        fig, axes = self.plt.subplots(1, len(wls), figsize=(16, 9),
                                      squeeze=False)
        labels = []
        prev_names = None
        any_noisy = False
        for ax, w in zip(axes[0], wls):
            series = d.series([w])
            t = largest_tasks(series)
            names, meds, errs, colours, shaky = [], [], [[], []], [], []
            missing = []
            for lab, (c0, by_t) in series.items():
                c = by_t.get(t)
                if not c:
                    missing.append(lab)
                    continue
                m = median(c.walls)
                ci = median_ci(self.rng, c.walls) or (m, m)
                names.append(lab)
                meds.append(m)
                errs[0].append(max(m - ci[0], 0))
                errs[1].append(max(ci[1] - m, 0))
                colours.append(d.style(c)["color"])
                shaky.append(c.noisy)
                if lab not in labels:
                    labels.append(lab)
            scale, unit = time_unit(max(meds))
            ys = range(len(names))
            bars = ax.barh(list(ys), [m / scale for m in meds],
                           xerr=[[e / scale for e in errs[0]],
                                 [e / scale for e in errs[1]]],
                           color=colours, capsize=6,
                           error_kw={"elinewidth": 2})
            # A noisy cell's bar is hatched, its value marked ~.
            for bar, bad in zip(bars, shaky):
                if bad:
                    bar.set_hatch("//")
                    bar.set_edgecolor("white")
                    any_noisy = True
            ax.set_yticks(list(ys))
            # Panels listing the same series in the same order name them
            # once, on the left.
            ax.set_yticklabels(names if names != prev_names else [])
            prev_names = names
            ax.invert_yaxis()
            # Each bar's value at its end: bars of 1 s beside bars of 20 ms
            # are unreadable by length alone.
            top = max(m + e for m, e in zip(meds, errs[1])) / scale
            for y, m, e, bad in zip(ys, meds, errs[1], shaky):
                ax.text((m + e) / scale + top * 0.02, y,
                        fmt_time(m) + (" " + NOISY if bad else ""),
                        va="center", fontsize=15)
            ax.set_xlim(0, top * 1.3)
            ax.set_xlabel("wall time (%s, median; 95%% CI)" % unit)
            ax.set_title("%s, %d tasks" % (w, t))
            ax.grid(axis="y", alpha=0)
            if missing:
                ax.text(0.98, 0.02, "not run or failed at %d tasks:\n%s" % (
                    t, "\n".join(missing)), transform=ax.transAxes,
                    ha="right", va="bottom", fontsize=12, color="#555555")
        fig.suptitle("Wall time per model at the largest task count "
                     "(shorter is better)")
        self.footnote(fig, NOISY_NOTE.replace(" noisy", " hatched, noisy")
                      if any_noisy else "")
        self.save(fig, "walltime", labels)

    # ------------------------------------------------------------- scaling
    def scaling(self):
        d = self.data
        for w in sorted({c.workload for c in d.cells if c.plottable}):
            series = d.series([w])
            if not any(len(by_t) > 1 for _, by_t in series.values()):
                skipped("scaling-%s" % w, "every %s cell that ran has one "
                        "task count (sweep -t 1,2,4,...)" % w)
                continue
            fig, (a1, a2) = self.plt.subplots(1, 2, figsize=(16, 9))
            labels, tasks = [], set()
            peak_only = False
            marginal = whole = any_noisy = under_floor = False
            for lab, (c0, by_t) in series.items():
                ts = sorted(by_t)
                st = d.style(c0)
                per_t = [median(by_t[t].walls) / t for t in ts]
                mem = {t: by_t[t].memory() for t in ts}
                rss = [mem[t][0] for t in ts]
                peak_only |= not all(m[1] for m in mem.values())
                a1.plot(ts, [v / 1e3 for v in per_t], label=lab, linewidth=2.6,
                        markersize=8, **st)
                shaky = [(t, v / 1e3) for t, v in zip(ts, per_t)
                         if by_t[t].noisy]
                if shaky:
                    self.noisy_marks(a1, shaky, st)
                    any_noisy = True
                # What each task adds: the memory of all the run's processes
                # over the same model's with 1 task (the process itself),
                # divided by the tasks. Without a 1-task cell, the whole
                # over the tasks.
                base = mem[1][0] if 1 in by_t else None
                if base is not None:
                    marginal = True
                    # A total within MEM_FLOOR_KIB of one task's is the
                    # allocator's and the kernel's page-sized steps, not
                    # the tasks': divided by a few tasks it would read as
                    # a cost (or a saving) that is not there.
                    pts = [(t, (r - base) / t) for t, r in zip(ts, rss)
                           if r and t > 1 and r - base >= MEM_FLOOR_KIB]
                    under_floor |= any(r and t > 1 and r - base <
                                       MEM_FLOOR_KIB
                                       for t, r in zip(ts, rss))
                else:
                    whole = True
                    pts = [(t, r / t) for t, r in zip(ts, rss) if r]
                if pts:
                    a2.plot([p[0] for p in pts], [p[1] for p in pts],
                            label=lab, linewidth=2.6, markersize=8, **st)
                tasks.update(ts)
                labels.append(lab)
            for ax in (a1, a2):
                self.tasks_axis(ax, tasks)
                if ax.get_lines():
                    ax.set_yscale("log")
                    plain_log(ax)
                    ax.legend(loc="best", **LEGEND_BOX)
            if not a2.get_lines():
                a2.text(0.5, 0.5, "no run's memory rose %d MiB over the "
                        "1-task run's:\ntoo few tasks to measure what one "
                        "costs" % (MEM_FLOOR_KIB // 1024),
                        transform=a2.transAxes, ha="center", va="center",
                        fontsize=16, color="#444444")
            a1.set_ylabel("wall time per task (\u00b5s, median / tasks)")
            a1.set_title("time per task")
            what = "peak RSS" if peak_only else "all processes"
            if marginal and not whole:
                a2.set_ylabel("KiB per task (%s over 1 task's, / tasks)" %
                              what)
            elif marginal:
                a2.set_ylabel("KiB per task (%s [over 1 task's] / tasks)" %
                              what)
            else:
                a2.set_ylabel("KiB per task (%s / tasks)" % what)
            a2.set_title("memory per task, every process of a run"
                         if not peak_only else "memory per task (peak RSS)")
            fig.suptitle("Scaling: %s, what each task costs as tasks grow "
                         "(log-log)" % w)
            self.footnote(fig, ("memory: this process's peak RSS plus each "
                          "child process's own pages and page tables "
                          "(total_rss_kib)"
                          if not peak_only else "memory: peak RSS of the "
                          "largest process, not the sum (a report without "
                          "total_rss_kib): fork's children are not counted")
                          + ("\nmemory points under %d MiB over the 1-task "
                             "run's are left out: the process's own drift, "
                             "not the tasks'" % (MEM_FLOOR_KIB // 1024)
                             if under_floor else "")
                          + ("\n" + NOISY_NOTE.replace(" noisy", " hollow, noisy")
                             if any_noisy else ""))
            self.save(fig, "scaling-%s" % w, labels)

    # ------------------------------------------------------------- latency
    def latency(self):
        d = self.data
        for w in sorted({c.workload for c in d.cells if c.plottable}):
            series = d.series([w])
            t = largest_tasks(series)
            if t is None:
                continue
            cells = [(lab, c0, by_t[t]) for lab, (c0, by_t) in series.items()
                     if t in by_t]
            op = None
            for _, _, c in cells:
                for k in ("lateness_ns", "request_ns"):
                    if c.runs and isinstance(c.runs[0].get(k), dict) and \
                            c.runs[0].get("op_count"):
                        op = op or k
            # What each panel measures is its title: a task's own time
            # favours sequential, whose tasks never wait to start, so the
            # time to each result from the run's start comes first.
            done = any(c.runs and isinstance(c.runs[0].get("done_ns"), dict)
                       for _, _, c in cells)
            panels = []
            if done:
                panels.append(("done_ns", "time to each task's result",
                               "from the run's start: what a caller waits"))
            if op:
                panels.append((op, {"lateness_ns": "wake-up lateness",
                                    "request_ns": "per-request latency"}
                               .get(op, op), {
                                   "lateness_ns": "how late each wait ended",
                                   "request_ns": "each request, send to "
                                   "answer"}.get(op, "per operation")))
            if not done or not op:
                panels.append(("task_ns", "each task's own time",
                               "from its own start: a task that waited to "
                               "start looks fast"))
            fig, axes = self.plt.subplots(1, len(panels), figsize=(16, 9),
                                          squeeze=False)
            labels = []
            lat_noisy = False
            pcts = [("p50", "o"), ("p90", "s"), ("p99", "^"), ("max", "x")]
            for ax, (field, title, what) in zip(axes[0], panels):
                allv = [c.metric(field + ".max") or 1 for _, _, c in cells]
                scale, unit = time_unit(median(allv))
                for i, (lab, c0, c) in enumerate(cells):
                    vals = [c.metric("%s.%s" % (field, p)) for p, _ in pcts]
                    col = d.style(c)["color"]
                    xs = [i + (j - 1.5) * 0.12 for j in range(len(pcts))]
                    ax.plot([x for x, v in zip(xs, vals) if v],
                            [v / scale for v in vals if v], color=col,
                            linewidth=1.2, alpha=0.6)
                    for x, v, (p, mk) in zip(xs, vals, pcts):
                        if v:
                            ax.plot([x], [v / scale], marker=mk, color=col,
                                    markersize=11, linestyle="none",
                                    markerfacecolor="white" if c.noisy
                                    else col, markeredgewidth=2.2)
                    lat_noisy |= c.noisy
                    if lab not in labels:
                        labels.append(lab)
                ax.set_xticks(range(len(cells)))
                ax.set_xticklabels([lab for lab, _, _ in cells], rotation=25,
                                   ha="right")
                ax.set_yscale("log")
                plain_log(ax)
                ax.set_ylabel("%s (%s, log scale)" % (title, unit))
                ax.set_title("%s\n(%s)" % (title, what), fontsize=18)
                ax.grid(axis="x", alpha=0)
            handles = [self.plt.Line2D([], [], marker=mk, color="#444444",
                                       linestyle="none", markersize=10,
                                       label=p) for p, mk in pcts]
            fig.legend(handles=handles, loc="upper right", ncol=4,
                       title="percentile (median over runs)", **LEGEND_BOX,
                       bbox_to_anchor=(0.99, 0.99))
            fig.suptitle("Latency percentiles: %s, %d task%s" % (
                w, t, "" if t == 1 else "s"), x=0.3)
            self.footnote(fig, NOISY_NOTE.replace(" noisy", " hollow, noisy")
                          if lat_noisy else "")
            # The percentiles' legend sits beside the title, above the
            # panels' own titles.
            self.save(fig, "latency-%s" % w, labels, top=0.9)

    # ----------------------------------------------------------- open loop
    # The hockey stick of open-loop cells (a "rate" workload option), drawn
    # only when a report holds them. Apart from the charts above on purpose:
    # its x axis is the offered load, not tasks.
    def openloop(self, goal_ns=None):
        d = self.data
        for w in sorted({c.workload for c in d.cells if is_num(
                c.wopts.get("rate"))}):
            cells = [c for c in d.cells if c.workload == w and not c.skipped
                     and is_num(c.wopts.get("rate"))]
            several_t = len({c.tasks for c in cells}) > 1
            series = OrderedDict()
            cells.sort(key=lambda c: (d.models.index(c.model), d.variant(c),
                                      c.tasks, c.wopts["rate"]))
            for c in cells:
                lab = openloop_label(d, c, several_t)
                series.setdefault(lab, (c, OrderedDict()))[1].setdefault(
                    c.wopts["rate"], c)
            fig, (a1, a2) = self.plt.subplots(1, 2, figsize=(16, 9),
                                              gridspec_kw={
                                                  "width_ratios": [3, 2]})
            labels, handles, rates = [], [], set()
            goals, notes = OrderedDict(), []
            pcts = [("p50", ":"), ("p99", "-"), ("p999", "--")]
            for lab, (c0, by_r) in series.items():
                st = d.style(c0)
                goal, why = openloop_goal(c0, goal_ns)
                rs = sorted(by_r)
                rates.update(rs)
                held, first_miss = openloop_held(by_r, goal)
                for p, ls in pcts:
                    pts = [(r, by_r[r].metric("request_ns." + p)) for r in rs
                           if by_r[r].plottable]
                    pts = [(r, v) for r, v in pts if v]
                    if pts:
                        a1.plot([r for r, _ in pts],
                                [v / 1e6 for _, v in pts], linestyle=ls,
                                linewidth=2.6 if p == "p99" else 1.8,
                                markersize=8 if p == "p99" else 5,
                                color=st["color"], marker=st["marker"])
                failed = [r for r in rs if not by_r[r].plottable]
                if failed:
                    notes.append("%s failed at %s/s" % (lab, ", ".join(
                        "%g" % r for r in failed)))
                ach = [(r, by_r[r].metric("achieved_rps")) for r in rs
                       if by_r[r].plottable]
                ach = [(r, v) for r, v in ach if v is not None]
                if ach:
                    a2.plot([r for r, _ in ach], [v for _, v in ach],
                            linewidth=2.6, markersize=8, **st)
                if goal:
                    goals.setdefault(goal, why)
                    verdict = ("holds %g requests/s" % held) if held else \
                        "holds none of the rates swept"
                    miss = ""
                    if first_miss is not None:
                        v = by_r[first_miss].metric("request_ns.p99")
                        miss = "; at %g requests/s %s" % (
                            first_miss, "p99 %s" % fmt_time(v) if v
                            else "the cell failed")
                    sys.stderr.write("plot.py: %s, %s: %s with p99 <= %s "
                                     "(%s)%s\n" % (w, lab, verdict,
                                                   fmt_time(goal), why, miss))
                    name = "%s: %s" % (lab, ("holds %g/s" % held) if held
                                       else "holds none")
                else:
                    sys.stderr.write("plot.py: %s, %s: no latency goal (%s; "
                                     "give --goal)\n" % (w, lab, why))
                    name = lab
                handles.append(self.plt.Line2D([], [], linewidth=2.6,
                                               markersize=8, label=name,
                                               **st))
                labels.append(lab)
            for goal, why in goals.items():
                handles.append(a1.axhline(
                    goal / 1e6, color="#777777", linestyle="-.",
                    linewidth=1.8, label="goal: p99 \u2264 %s (%s)" % (
                        fmt_time(goal), why)))
            rs = sorted(rates)
            if rs:
                a2.plot(rs, rs, linestyle="--", color="#777777",
                        linewidth=1.8, label="offered")
            for ax in (a1, a2):
                if rs and rs[-1] >= 8 * rs[0]:
                    ax.set_xscale("log", base=2)
                    ax.minorticks_off()
                # The swept rates are the ticks.
                if rs and len(rs) <= 12:
                    ax.set_xticks(rs)
                    ax.set_xticklabels(["%g" % r if r < 10000 else
                                        "%gk" % (r / 1e3) for r in rs])
                ax.set_xlabel("offered load (requests/s)")
            a1.set_yscale("log")
            plain_log(a1)
            a1.set_ylabel("latency from the intended send time (ms, log)")
            a1.set_title("request latency: p50, p99, p99.9")
            a2.set_ylabel("achieved (requests/s)")
            a2.set_title("throughput: achieved against offered")
            handles += [self.plt.Line2D([], [], color="#444444",
                                        linestyle=ls, linewidth=2,
                                        label=p.replace("p999", "p99.9"))
                        for p, ls in pcts]
            # Framed: the goal's line runs under it.
            a1.legend(handles=handles, loc="upper left", fontsize=13,
                      **LEGEND_BOX)
            a2.legend(loc="upper left", fontsize=13, **LEGEND_BOX)
            setting = self.setting(d, [w])
            fig.suptitle("Open loop: %s latency against offered load, "
                         "per model%s" % (w, "\n" + setting if setting
                                          else ""), fontsize=21)
            self.footnote(fig, "  \u00b7  ".join(
                ["latency counts from when each request was meant to leave "
                 "(median over runs)"] + notes))
            self.save(fig, "openloop-%s" % w, labels)

    # ----------------------------------------------------------- hyperfine
    def hyperfine(self):
        if not self.hyper:
            return
        fig, ax = self.plt.subplots(figsize=(16, 9))
        names = [r["command"] for _, r in self.hyper]
        means = [float(r.get("mean") or median(r["times"]))
                 for _, r in self.hyper]
        sds = [float(r.get("stddev") or 0) for _, r in self.hyper]
        scale, unit = time_unit(max(means) * 1e9)
        scale /= 1e9
        # A model's colour, a shade of it for each of its variants.
        colours, seen = [], defaultdict(list)
        common, short = split_common(names)
        for n, lab in zip(names, short):
            col, model = "#777777", None
            for m, c in MODEL_COLOURS.items():
                if m in n.split():
                    col, model = c, m
            if model:
                if lab not in seen[model]:
                    seen[model].append(lab)
                k = seen[model].index(lab)
                col = shade(col, k) if k else col
            colours.append(col)
        ys = list(range(len(names)))
        ax.barh(ys, [m / scale for m in means], xerr=[s / scale for s in sds],
                color=colours, capsize=6)
        # What tells the commands apart is often their last flag: the words
        # they all share go to the title, and a label still too long loses
        # its middle, never its end.
        short = [n if len(n) <= 60 else n[:20] + "\u2026" + n[-39:]
                 for n in short]
        ax.set_yticks(ys)
        ax.set_yticklabels(short, fontsize=15)
        ax.invert_yaxis()
        ax.set_xlabel("whole-process time (%s, mean \u00b1 \u03c3)" % unit)
        ax.set_title("hyperfine: whole-process time" + (
            "\n" + shorten(common, 90) if common else ""))
        ax.grid(axis="y", alpha=0)
        self.footnote(fig)
        self.save(fig, "hyperfine", short)


# The open loop's helpers (Charts.openloop).
OPENLOOP_GOAL_X = 10


def openloop_label(d, c, with_tasks):
    """A series of the open-loop chart: model, its variant, the varying
    workload options but the rate, and the tasks when they vary."""
    parts = [c.model]
    v = d.variant(c)
    if v:
        parts.append(v)
    parts += [c.opt_text(k) for k in sorted(c.wopts)
              if (c.workload, k) in d.wvary and k != "rate"]
    if with_tasks:
        parts.append("%d task%s" % (c.tasks, "" if c.tasks == 1 else "s"))
    return " ".join(parts)


def openloop_goal(c, goal_ns):
    """(p99 goal in ns or None, what it is)."""
    if goal_ns:
        return goal_ns, "--goal"
    delay = c.wopts.get("delay")
    if "url" in c.wopts or not is_num(delay) or delay <= 0:
        return None, "the server's delay is unknown or 0"
    return OPENLOOP_GOAL_X * delay, "%dx the server's delay" % \
        OPENLOOP_GOAL_X


def openloop_held(by_rate, goal):
    """(highest rate whose p99, and every lower rate's, is within goal, or
    None; the first rate that is not, or None)."""
    held = None
    for r in sorted(by_rate):
        c = by_rate[r]
        v = c.metric("request_ns.p99") if c.plottable else None
        if not goal or v is None or v > goal:
            return held, r
        held = r
    return held, None


def parse_goal(text):
    """A duration as concbench takes it ("100ms", "1s", "250us"; a bare
    number is ms) in ns."""
    units = (("ns", 1), ("us", 1e3), ("\u00b5s", 1e3), ("ms", 1e6),
             ("s", 1e9))
    t = text.strip()
    scale = 1e6
    # "ms" before "s": the first unit the text ends with.
    for u, k in units:
        if t.endswith(u):
            t, scale = t[:-len(u)], k
            break
    try:
        v = float(t) * scale
    except ValueError:
        raise InputError("bad --goal '%s': expected a duration such as "
                         "100ms or 1s" % text)
    if not v > 0 or v != v or v == float("inf"):
        raise InputError("bad --goal '%s': must be above 0" % text)
    return v


def split_common(commands):
    """(the words every command shares, each command without them). A flag
    and its value ("-o gil=on") are one word, so that a label keeps both."""
    def words(c):
        out, ws = [], c.split()
        i = 0
        while i < len(ws):
            if ws[i].startswith("-") and i + 1 < len(ws) and \
                    not ws[i + 1].startswith("-"):
                out.append(ws[i] + " " + ws[i + 1])
                i += 2
            else:
                out.append(ws[i])
                i += 1
        return out
    split = [words(c) for c in commands]
    if len(split) < 2:
        return "", list(commands)
    shared = set(split[0]).intersection(*map(set, split[1:]))
    rest = [" ".join(w for w in ws if w not in shared) or c
            for ws, c in zip(split, commands)]
    return " ".join(w for w in split[0] if w in shared), rest


def shorten(text, n):
    """text cut at a word boundary to at most n characters, with an ellipsis."""
    text = str(text)
    if len(text) <= n:
        return text
    cut = text[:n - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "\u2026"


def plain_log(ax, axis="y", base=10):
    """A log axis with plain tick labels (1, 2, 5, 10...), not 10^k."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    a = ax.yaxis if axis == "y" else ax.xaxis
    if base == 2:
        a.set_major_locator(LogLocator(base=2))
    else:
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    a.set_major_formatter(FuncFormatter(lambda v, _: "%g" % v))
    a.set_minor_formatter(NullFormatter())


def largest_tasks(series):
    """The largest task count any series reached."""
    ts = [t for _, by_t in series.values() for t in by_t]
    return max(ts) if ts else None


def fmt_time(ns):
    """"1.29 s", "52.1 ms", "830 \u00b5s": 3 significant digits."""
    scale, unit = time_unit(ns)
    return "%.3g %s" % (ns / scale, unit)


def time_unit(ns):
    """(scale, unit) so that ns / scale reads well."""
    if not ns or ns != ns or ns < 1e3:
        return 1.0, "ns"
    if ns < 1e6:
        return 1e3, "\u00b5s"
    if ns < 1e9:
        return 1e6, "ms"
    return 1e9, "s"


def main(argv):
    ap = argparse.ArgumentParser(
        prog="plot.py", description="Charts from concbench reports and "
        "hyperfine --export-json files, as PNG and SVG.")
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("-o", "--out", metavar="DIR",
                    help="folder for the charts (made if missing; default: "
                    "beside the first file)")
    ap.add_argument("--goal", metavar="DURATION",
                    help="the open-loop chart's latency goal for p99 "
                    "(100ms, 1s; default: 10x the server's delay)")
    args = ap.parse_args(argv)
    try:
        reports, hyper = load(args.files)
        goal = parse_goal(args.goal) if args.goal else None
    except InputError as e:
        die(str(e))
    out = args.out or os.path.dirname(os.path.abspath(args.files[0]))
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        die("cannot make '%s': %s" % (out, e.strerror))
    data = Data(reports) if reports else None
    ch = Charts(out, data, hyper)
    if data:
        if not any(c.plottable for c in data.cells):
            die("no cell in %s has a passed run to plot" % ", ".join(
                "'%s'" % p for p, _, _ in reports), 1)
        ch.headline()
        ch.walltime()
        ch.scaling()
        ch.latency()
        coord(ch)
        if any(is_num(c.wopts.get("rate")) for c in data.cells):
            ch.openloop(goal)
        convoy(ch)
        contention(ch)
        race(ch)
    ch.hyperfine()
    with open(os.path.join(out, "legend.json"), "w") as f:
        json.dump(ch.legends, f, indent=2)
        f.write("\n")
    for p in ch.written:
        print(p)
    return 0


# ---------------------------------------------------------------- convoy
# (bench/convoy.sh) The sleeps' lateness per model with 0, 1 and 2 CPU-bound
# tasks beside them: plain sleep cells and mixed cells "sleep:N+primes:K".

def convoy_cpu_tasks(workload, io_tasks):
    """(I/O tasks, CPU tasks) of a sleep or sleep+primes cell, else None."""
    if workload == "sleep":
        return io_tasks, 0
    parts = {}
    for part in workload.split("+"):
        name, _, count = part.partition(":")
        parts[name] = int(count) if count.isdigit() else None
    if set(parts) != {"sleep", "primes"}:
        return None
    io, cpu = parts["sleep"], parts["primes"]
    if io is None and cpu is not None:
        io = io_tasks - cpu
    elif cpu is None and io is not None:
        cpu = io_tasks - io
    return (io, cpu) if io and cpu else None


def convoy(ch):
    """The convoy chart: lateness p50 (bars) and p99 (whiskers) of the
    sleeps per model and variant, for 0, 1 and 2 CPU-bound tasks beside
    them; drawn only when a report has a mixed sleep+primes cell."""
    d = ch.data
    if not d:
        return
    by = OrderedDict()  # (model, variant) -> {cpu tasks: cell}
    io_counts, mixed = set(), False
    cells = sorted((c for c in d.cells if c.plottable),
                   key=lambda c: (d.models.index(c.model), d.variant(c)))
    for c in cells:
        kinds = convoy_cpu_tasks(c.workload, c.tasks)
        if not kinds or kinds[1] > 2:
            continue
        mixed |= kinds[1] > 0
        io_counts.add(kinds[0])
        by.setdefault((c.model, d.variant(c)), {})[kinds[1]] = c
    if not mixed or len(io_counts) != 1:
        return
    fig, ax = ch.plt.subplots(figsize=(16, 9))
    shades = {0: 1.0, 1: 0.62, 2: 0.32}
    hatches = {0: "", 1: "//", 2: "xx"}
    width = 0.26
    labels, names, top, bottom = [], [], 0.0, float("inf")
    for g, ((model, variant), ks) in enumerate(by.items()):
        name = model + ("\n" + variant if variant else "")
        names.append(name)
        labels.append(name.replace("\n", " "))
        for k in (0, 1, 2):
            c = ks.get(k)
            if not c:
                continue
            p50 = c.metric("lateness_ns.p50")
            p99 = c.metric("lateness_ns.p99")
            if p50 is None or p99 is None:
                continue
            x = g + (k - 1) * width
            y50, y99 = max(p50, 1e3) / 1e6, max(p99, 1e3) / 1e6
            ax.bar(x, y50, width * 0.92, color=d.colour[model],
                   alpha=shades[k], hatch=hatches[k], edgecolor="#333333",
                   linewidth=0.8)
            ax.plot([x, x], [y50, y99], color="#222222", linewidth=2)
            ax.plot([x - width * 0.3, x + width * 0.3], [y99, y99],
                    color="#222222", linewidth=2.4)
            ax.text(x, y99 * 1.12, "%.3g" % y99, ha="center",
                    va="bottom", fontsize=11, color="#333333")
            top, bottom = max(top, y99), min(bottom, y50)
    if not names:
        ch.plt.close(fig)
        return
    ax.set_yscale("log")
    ax.set_ylim(max(bottom / 3, 1e-3), top * 4)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.grid(axis="x", alpha=0)
    ax.set_ylabel("sleep lateness (ms, log scale): bar p50, whisker p99")
    handles = [ch.plt.Rectangle((0, 0), 1, 1, facecolor="#777777",
                                alpha=shades[k], hatch=hatches[k],
                                edgecolor="#333333",
                                label="%d CPU-bound task%s" % (
                                    k, "" if k == 1 else "s"))
               for k in (0, 1, 2)]
    ax.legend(handles=handles, loc="upper right", frameon=False)
    io = io_counts.pop()
    mix = next(c for ks in by.values() for k, c in ks.items() if k)
    setting = []
    for key, v in sorted(mix.wopts.items()):
        key = key.split(".")[-1]
        key = key[:-3] if key.endswith("_ns") else key  # concbench/2
        if key not in ("ms", "count", "jitter", "burst") or not is_num(v):
            continue
        # Durations are ns; "never" is stored as -1 (UINT64_MAX).
        setting.append("%s=%s" % (key, v if key == "count" else "never"
                                  if v < 0 else "%gms" % (v / 1e6)))
    gil = [fmt_opt("interval", c.mopts["interval"],
                   "interval" in c.durations) for ks in by.values()
           for c in ks.values() if c.mopts.get("gil") in ("on", True) and
           "interval" in c.mopts][:1]
    fig.suptitle("The convoy: %d sleep task%s beside CPU-bound tasks in "
                 "one run" % (io, "" if io == 1 else "s"))
    ax.set_title(" ".join(setting + gil), fontsize=15, color="#444444")
    ch.footnote(fig, "each value: the median over passed runs")
    ch.save(fig, "convoy", labels)


# ----------------------------------------------------------- coordination
# (the counter workload) The contention picture: updates per second against
# tasks, a line per model and lock kind; and the race picture: the share of
# updates lost with lock=none, per model, with yield_inside off and on.

def counter_opt(c, key):
    """A counter option of c, whatever unit suffix the report gave it."""
    for k in (key, key + "_ns"):
        if k in c.wopts:
            return c.wopts[k]
    return None


def counter_onoff(v):
    return "on" if v in ("on", True, 1) else "off"


def contention(ch):
    """Updates per second against tasks for every counter cell with a lock;
    drawn when some line has two task counts or more."""
    d = ch.data
    lines = OrderedDict()  # (model, variant, lock, rest) -> {tasks: cell}
    for c in sorted((c for c in d.cells if c.plottable and
                     c.workload == "counter"),
                    key=lambda c: (d.models.index(c.model), d.variant(c),
                                   str(counter_opt(c, "lock")), c.tasks)):
        lock = counter_opt(c, "lock")
        if lock in (None, "none") or not is_num(
                counter_opt(c, "increments")):
            continue
        rest = tuple("%s=%s" % (k, counter_onoff(v) if k == "yield_inside"
                                else fmt_opt(k, v).split("=", 1)[-1])
                     for k, v in sorted(c.wopts.items())
                     if k not in ("lock", "increments", "fail_at"))
        lines.setdefault((c.model, d.variant(c), lock, rest), {})[
            c.tasks] = c
    lines = OrderedDict((k, v) for k, v in lines.items() if len(v) >= 2)
    if not lines:
        return
    rests = {k[3] for k in lines}
    fig, ax = ch.plt.subplots(figsize=(16, 9))
    styles = ["-", "--", ":", "-."]
    locks = sorted({k[2] for k in lines})
    labels = []
    for (model, variant, lock, rest), by in lines.items():
        xs = sorted(by)
        ys = [t * counter_opt(by[t], "increments") / (
            median(by[t].walls) / 1e9) for t in xs]
        label = " ".join(x for x in (model, variant, "lock=" + lock) if x)
        if len(rests) > 1:
            label += " " + " ".join(rest)
        labels.append(label)
        ax.plot(xs, ys, styles[locks.index(lock) % len(styles)],
                marker="o", color=d.colour[model], linewidth=2.6,
                markersize=8, label=label)
    ax.set_xscale("log", base=2)
    plain_log(ax, "x", 2)
    ax.set_yscale("log")
    plain_log(ax)
    ax.set_xlabel("tasks (each applies the same number of updates)")
    ax.set_ylabel("updates per second, all tasks (log scale)")
    # Outside the axes: the lines of a contention chart cross everywhere.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=13,
              framealpha=0.92)
    fig.subplots_adjust(right=0.76)
    fig.suptitle("Contention: what one shared counter sustains, per model "
                 "and lock")
    only = sorted(rests)[0] if len(rests) == 1 else ()
    ax.set_title(" ".join(only) or "several settings: in each label",
                 fontsize=15, color="#444444")
    ch.footnote(fig, "each point: tasks x increments / the median wall "
                "time of the passed runs")
    ch.save(fig, "contention", labels)


def race(ch):
    """Lost updates with lock=none per model, yield_inside off and on, at
    each model's largest task count; drawn when such cells exist."""
    d = ch.data
    by = OrderedDict()  # (model, variant) -> {yield: cell}
    for c in sorted((c for c in d.cells if c.plottable and
                     c.workload == "counter" and
                     counter_opt(c, "lock") == "none"),
                    key=lambda c: (d.models.index(c.model), d.variant(c),
                                   c.tasks)):
        if c.metric("expected") is None or c.tasks < 2:
            continue
        y = counter_onoff(counter_opt(c, "yield_inside"))
        by.setdefault((c.model, d.variant(c)), {})[y] = c
    if not by:
        return
    fig, ax = ch.plt.subplots(figsize=(16, 9))
    width, names, labels = 0.38, [], []
    shades = {"off": 1.0, "on": 0.45}
    for g, ((model, variant), ys) in enumerate(by.items()):
        name = model + ("\n" + variant if variant else "")
        names.append(name)
        labels.append(name.replace("\n", " "))
        for k, y in enumerate(("off", "on")):
            c = ys.get(y)
            if not c:
                continue
            pct = 100.0 * (c.metric("lost_updates") or 0) / \
                c.metric("expected")
            x = g + (k - 0.5) * width
            ax.bar(x, pct, width * 0.92, color=d.colour[model],
                   alpha=shades[y], hatch="" if y == "off" else "//",
                   edgecolor="#333333", linewidth=0.8)
            ax.text(x, pct + 1, "%.3g%%\n%d tasks" % (pct, c.tasks),
                    ha="center", va="bottom", fontsize=11, color="#333333")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names)
    ax.set_ylim(0, 115)
    ax.set_ylabel("updates lost (% of all updates)")
    handles = [ch.plt.Rectangle((0, 0), 1, 1, facecolor="#777777",
                                alpha=shades[y], hatch="" if y == "off"
                                else "//", edgecolor="#333333",
                                label="yield_inside=%s" % y)
               for y in ("off", "on")]
    ax.legend(handles=handles, loc="upper right", framealpha=0.92)
    fig.suptitle("The race: count += 1 without a lock loses updates")
    ax.set_title("lock=none; yield_inside=on gives up the CPU between the "
                 "read and the write", fontsize=15, color="#444444")
    ch.footnote(fig, "each bar: median over passed runs of lost_updates / "
                "expected; the lost updates are the measurement")
    ch.save(fig, "race", labels)


def coord(ch):
    """The coordination charts, for the reports that hold them:
    coord-queue (items per second against producers x consumers per model,
    beside each item's put-to-get latency p50), coord-event (the wake p50
    against the number of waiters per model) and coord-philosophers (Jain's
    fairness and meals per second per model and strategy)."""
    d = ch.data
    plt = ch.plt

    def by_model(workload, axis=None):
        """Cells of workload a line per label; axis: the option the x axis
        shows, left out of the labels."""
        out = OrderedDict()
        for c in sorted((c for c in d.cells if c.workload == workload and
                         c.plottable),
                        key=lambda c: (d.models.index(c.model),
                                       d.variant(c), c.tasks)):
            lab = d.label(c)
            if axis:
                lab = re.sub(r" %s=\S+" % axis, "", lab)
            out.setdefault(lab, (c, []))[1].append(c)
        return out

    queue = by_model("queue", "producers")
    if queue:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(16, 9))
        shapes = sorted({(int(c.wopts.get("producers", 1)), c.tasks -
                          int(c.wopts.get("producers", 1)))
                         for _, cs in queue.values() for c in cs})
        xs = {sh: i for i, sh in enumerate(shapes)}
        labels = []
        for lab, (c0, cs) in queue.items():
            pts = sorted((xs[(int(c.wopts.get("producers", 1)), c.tasks -
                              int(c.wopts.get("producers", 1)))],
                          c.metric("items_per_s"),
                          c.metric("item_ns.p50")) for c in cs)
            pts = [p for p in pts if p[1] is not None]
            if not pts:
                continue
            st = d.style(c0)
            a1.plot([p[0] for p in pts], [p[1] for p in pts], label=lab,
                    linewidth=2.5, markersize=9, **st)
            lat = [p for p in pts if p[2]]
            a2.plot([p[0] for p in lat], [p[2] / 1e3 for p in lat],
                    label=lab, linewidth=2.5, markersize=9, **st)
            labels.append(lab)
        for ax in (a1, a2):
            ax.set_xticks(range(len(shapes)))
            ax.set_xticklabels(["%d\u00d7%d" % sh for sh in shapes])
            ax.set_xlabel("producers \u00d7 consumers")
        a1.set_yscale("log")
        a1.set_ylabel("items per second (median, log)")
        a1.set_title("Throughput")
        a2.set_yscale("log")
        plain_log(a2)
        a2.set_ylabel("put to get, p50 (\u00b5s, log)")
        a2.set_title("Item latency")
        a1.legend(loc="best")
        fig.suptitle("Producers and consumers through one bounded queue")
        ch.footnote(fig)
        ch.save(fig, "coord-queue", labels)

    event = by_model("event")
    if event:
        fig, ax = plt.subplots(figsize=(16, 9))
        labels = []
        waiters = set()
        for lab, (c0, cs) in event.items():
            pts = sorted((c.tasks - 1, c.metric("wake_ns.p50"))
                         for c in cs)
            pts = [p for p in pts if p[1]]
            if not pts:
                continue
            waiters.update(p[0] for p in pts)
            ax.plot([p[0] for p in pts], [p[1] / 1e3 for p in pts],
                    label=lab, linewidth=2.5, markersize=9, **d.style(c0))
            labels.append(lab)
        ch.tasks_axis(ax, waiters)
        ax.set_xlabel("waiters")
        ax.set_yscale("log")
        plain_log(ax)
        ax.set_ylabel("wake after the set, p50 (\u00b5s, log)")
        ax.legend(loc="best")
        fig.suptitle("What a broadcast wake costs (threading.Event and kin)")
        ch.footnote(fig)
        ch.save(fig, "coord-event", labels)

    phil = [c for c in d.cells if c.workload == "philosophers" and
            c.plottable]
    if phil:
        phil.sort(key=lambda c: (str(c.wopts.get("strategy")),
                                 d.models.index(c.model), d.variant(c),
                                 c.tasks))
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(16, 9))
        many = len({c.tasks for c in phil}) > 1
        names = [d.label(c) + (" \u00b7 %d" % c.tasks if many else "")
                 for c in phil]
        ys = list(range(len(phil)))
        cols = [d.colour[c.model] for c in phil]
        a1.barh(ys, [c.metric("fairness_jain") or 0 for c in phil],
                color=cols)
        a1.set_xlim(0, 1.05)
        a1.set_xlabel("fairness (Jain's index; 1: every philosopher alike)")
        a1.set_yticks(ys)
        a1.set_yticklabels(names)
        a1.invert_yaxis()
        a2.barh(ys, [c.metric("meals_per_s") or 0 for c in phil],
                color=cols)
        a2.set_yticks(ys)
        a2.set_yticklabels([])
        a2.invert_yaxis()
        a2.set_xlabel("meals per second (median)")
        for ax in (a1, a2):
            ax.grid(axis="y", alpha=0)
        fig.suptitle("The dining philosophers: fairness and meals")
        ch.footnote(fig, "a deadlocked table (naive) is a failed cell, "
                    "not drawn")
        ch.save(fig, "coord-philosophers", names)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
