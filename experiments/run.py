#!/usr/bin/env python3
"""The paper's plug-and-play study (Tables 2-4), rerun with ghostnet: train a list of
(model, s, d) on a data set with one recipe and seed(s), then write a Markdown table with
params, MACs, test top-1 (mean +- std over seeds), training time, inference latency and the
paper's CIFAR-10 figure beside ours, and a PNG of accuracy against MACs.

    python3 experiments/run.py --plan table4 [--data fashion-mnist] [--epochs 3] [--seeds 1]
    python3 experiments/run.py --plan ablation-d --model resnet20 ...
    python3 experiments/run.py --plan ablation-s --model resnet20 ...

It resumes where it stopped: a finished run (its results JSON exists) is skipped, an
interrupted one continues from its checkpoint. Everything goes under --out (default
experiments/out/<plan>); the Markdown table goes there as results-<plan>.md and the plot as
accuracy_vs_macs-<plan>.png. Runs ghostnet from --build (default build/release).

    python3 experiments/run.py --plan table4 --report-only [--remeasure-latency]
    python3 experiments/run.py --plot-all docs/accuracy_vs_macs.png experiments/out/*

--report-only rebuilds the table from the finished runs without training; with
--remeasure-latency it first measures every finished model's latency again (batch 1, 1 thread,
200 runs): latencies taken while other trainings share the cores are not comparable.
--plot-all draws every finished run found in the given directories into one PNG.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The paper's CIFAR-10 numbers (GHOSTNET.md): (params, MACs, top-1 %)
PAPER = {
    ("vgg16", None): ("15.0M", "313M", 93.6),
    ("vgg16", (2, 3)): ("7.7M", "158M", 93.7),
    ("resnet56", None): ("0.85M", "125M", 93.0),
    ("resnet56", (2, 3)): ("0.43M", "63M", 92.7),
    # Ghost-VGG-16 ablations (paper Tables 2-3)
    ("vgg16", (2, 1)): ("", "", 92.5),
    ("vgg16", (2, 5)): ("", "", 93.4),
    ("vgg16", (2, 7)): ("", "", 93.1),
    ("vgg16", (3, 3)): ("", "~107M", 93.4),
    ("vgg16", (4, 3)): ("", "~80M", 93.0),
    ("vgg16", (5, 3)): ("", "~65M", 92.9),
}


def plan_runs(plan, model):
    if plan == "table4":
        return [("resnet56", None), ("resnet56", (2, 3)), ("vgg16", None), ("vgg16", (2, 3))]
    # The ablations carry their baseline (the unghosted model) so each table stands alone;
    # give both plans the same --out to train the shared runs (baseline, s=2 d=3) once.
    if plan == "ablation-d":
        return [(model, None)] + [(model, (2, d)) for d in (1, 3, 5, 7)]
    if plan == "ablation-s":
        return [(model, None)] + [(model, (s, 3)) for s in (2, 3, 4, 5)]
    raise SystemExit("unknown plan %s (table4, ablation-d, ablation-s)" % plan)


def label(arch, ghost):
    name = {"resnet56": "ResNet-56", "resnet20": "ResNet-20", "vgg16": "VGG-16"}.get(arch, arch)
    return name if ghost is None else "Ghost-%s (s=%d, d=%d)" % (name, ghost[0], ghost[1])


def model_args(arch, ghost):
    args = ["--arch", arch]
    if ghost:
        args += ["--ghost", "%d,%d" % ghost]
    return args


def run_name(arch, ghost, seed):
    g = "" if ghost is None else "-s%dd%d" % ghost
    return "%s%s-seed%d" % (arch, g, seed)


def sh(args, **kw):
    return subprocess.run([str(a) for a in args], check=True, text=True,
                          stdout=subprocess.PIPE, **kw).stdout


def train_one(a, gn, arch, ghost, seed):
    """Trains (or resumes, or skips) one run; returns its results dict."""
    name = run_name(arch, ghost, seed)
    result_path = os.path.join(a.out, name + ".json")
    if os.path.exists(result_path):
        with open(result_path) as f:
            return json.load(f)
    model = os.path.join(a.out, name + ".safetensors")
    ckpt = model + ".ckpt"
    start = time.time()
    if os.path.exists(ckpt):
        print("resuming %s" % name, flush=True)
        subprocess.run([gn, "train", "--resume", ckpt], check=True)
    else:
        print("training %s" % name, flush=True)
        subprocess.run([str(x) for x in [gn, "train"] + model_args(arch, ghost) + [
            "--data", a.data, "--input", a.input, "--epochs", a.epochs, "--batch", a.batch,
            "--lr", a.lr, "--wd", a.wd, "--schedule", "cosine", "--warmup-epochs", a.warmup,
            "--crop-padding", 4, "--seed", seed, "--threads", a.threads, "-o", model]],
            check=True)
    info = json.loads(sh([gn, "info", "--weights", model, "--json"]))
    ev = json.loads(sh([gn, "eval", "--weights", model, "--data", a.data, "--json",
                        "--threads", a.threads]))
    with open(model + ".csv") as f:
        rows = [line.strip().split(",") for line in f.read().strip().splitlines()[1:]]
    seconds = sum(float(r[6]) for r in rows)
    latency = bench_latency(gn, model, 50)
    result = {"arch": arch, "ghost": ghost, "seed": seed, "params": info["total"]["params"],
              "macs": info["total"]["macs"], "accuracy": ev["accuracy"],
              "train_seconds": seconds, "epochs": len(rows), "latency_ms": latency,
              "wall_seconds_this_session": time.time() - start}
    with open(result_path, "w") as f:
        json.dump(result, f, indent=1)
    return result


def bench_latency(gn, model, runs):
    """Median latency (ms) of `ghostnet bench` at batch 1, 1 thread, or None if it fails."""
    try:
        bench = json.loads(sh([gn, "bench", "--weights", model, "--threads", 1, "--batch", 1,
                               "--runs", runs, "--json"]))
        return bench["median_ms"]
    except (subprocess.CalledProcessError, KeyError, ValueError):
        return None


def remeasure(gn, result_path):
    with open(result_path) as f:
        result = json.load(f)
    model = result_path[:-len(".json")] + ".safetensors"
    if "latency_ms_while_training" not in result:
        result["latency_ms_while_training"] = result["latency_ms"]
    result["latency_ms"] = bench_latency(gn, model, 200)
    result["latency_measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with open(result_path, "w") as f:
        json.dump(result, f, indent=1)
    print("%s: %.3f ms" % (os.path.basename(model), result["latency_ms"] or float("nan")))
    return result


def report(a, runs, results):
    lines = ["| model | params | MACs | test top-1 (%s) | train time | latency (batch 1, 1 thread)"
             " | paper (CIFAR-10): params / MACs / top-1 |" % a.data,
             "|---|---|---|---|---|---|---|"]
    points = []
    for arch, ghost in runs:
        rs = [r for r in results if r["arch"] == arch and
              (tuple(r["ghost"]) if r["ghost"] else None) == ghost]
        if not rs:
            continue
        accs = [100 * r["accuracy"] for r in rs]
        acc = "%.2f%%" % accs[0] if len(accs) == 1 else "%.2f +- %.2f%% (%d seeds)" % (
            statistics.mean(accs), statistics.stdev(accs), len(accs))
        secs = statistics.mean(r["train_seconds"] for r in rs)
        lat = rs[0]["latency_ms"]
        paper = PAPER.get((arch, ghost))
        lines.append("| %s | %s | %s | %s | %.0f min | %s | %s |" % (
            label(arch, ghost), format(rs[0]["params"], ","), format(rs[0]["macs"], ","), acc,
            secs / 60, "%.2f ms" % lat if lat else "-",
            "%s / %s / %.1f%%" % paper if paper else "-"))
        points.append((rs[0]["macs"], statistics.mean(accs), label(arch, ghost)))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(a.out, "results-%s.md" % a.plan), "w") as f:
        f.write(text)
    print(text)
    return points


def plot(points, path, title):
    """Scatter of top-1 against MACs (log axis); one colour per model family, baselines as
    squares, Ghost variants as circles; a legend instead of labels, which would overlap."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.8))
    families = sorted({name.replace("Ghost-", "").split(" ")[0] for _, _, name in points})
    colours = {f: "C%d" % i for i, f in enumerate(families)}
    ghost_seen = {}
    for macs, acc, name in sorted(points, key=lambda t: (t[2].replace("Ghost-", ""), t[0])):
        fam = name.replace("Ghost-", "").split(" ")[0]
        is_ghost = name.startswith("Ghost-")
        k = ghost_seen.setdefault(fam, 0)
        if is_ghost:
            ghost_seen[fam] = k + 1
        marker = ("o", "^", "v", "D", "P", "X", "*")[k % 7] if is_ghost else "s"
        ax.scatter(macs / 1e6, acc, color=colours[fam], marker=marker, s=50, label=name,
                   edgecolors="black", linewidths=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("MACs per image (millions, log scale)")
    ax.set_ylabel("test top-1 (%)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def plot_all(png, dirs):
    """One PNG of accuracy against MACs for every finished run (*.json) in dirs."""
    points, seen = [], set()
    for d in dirs:
        for name in sorted(os.listdir(d)):
            if not name.endswith(".json") or name in seen:
                continue
            seen.add(name)
            with open(os.path.join(d, name)) as f:
                r = json.load(f)
            ghost = tuple(r["ghost"]) if r["ghost"] else None
            points.append((r["macs"], 100 * r["accuracy"], label(r["arch"], ghost)))
    if not points:
        raise SystemExit("--plot-all: no finished runs (*.json) in %s" % " ".join(dirs))
    plot(points, png, "all runs, test top-1 against MACs")
    print("wrote %s (%d runs)" % (png, len(points)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plan")
    p.add_argument("--model", default="resnet20", help="model of the ablation plans")
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--input", default=32, type=int, help="canvas size (28 -> 32 padding)")
    p.add_argument("--epochs", default=3, type=int)
    p.add_argument("--batch", default=128, type=int)
    p.add_argument("--lr", default=0.1, type=float)
    p.add_argument("--wd", default=5e-4, type=float)
    p.add_argument("--warmup", default=0.2, type=float)
    p.add_argument("--seeds", default=1, type=int)
    p.add_argument("--threads", default=2, type=int)
    p.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    p.add_argument("--out")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--remeasure-latency", action="store_true",
                   help="with --report-only: measure the finished models' latency again")
    p.add_argument("--plot-all", nargs="+", metavar=("PNG", "DIR"),
                   help="plot every finished run in the DIRs into PNG and exit")
    a = p.parse_args()
    if a.plot_all:
        if len(a.plot_all) < 2:
            p.error("--plot-all needs the PNG path and at least one directory")
        return plot_all(a.plot_all[0], a.plot_all[1:])
    if not a.plan:
        p.error("--plan is required (table4, ablation-d, ablation-s)")
    a.out = a.out or os.path.join(HERE, "out", a.plan if a.plan == "table4"
                                   else "%s-%s" % (a.plan, a.model))
    os.makedirs(a.out, exist_ok=True)
    gn = os.path.join(a.build, "ghostnet")
    runs = plan_runs(a.plan, a.model)
    results = []
    for arch, ghost in runs:
        for seed in range(1, a.seeds + 1):
            if a.report_only:
                path = os.path.join(a.out, run_name(arch, ghost, seed) + ".json")
                if os.path.exists(path):
                    if a.remeasure_latency:
                        results.append(remeasure(gn, path))
                    else:
                        with open(path) as f:
                            results.append(json.load(f))
                continue
            results.append(train_one(a, gn, arch, ghost, seed))
    points = report(a, runs, results)
    if points:
        plot(points, os.path.join(a.out, "accuracy_vs_macs-%s.png" % a.plan),
             "%s, %s, %d epochs" % (a.plan, a.data, a.epochs))


if __name__ == "__main__":
    main()
