#!/usr/bin/env python3
"""Training throughput, ghostnet against PyTorch, on the same networks in one run.

For each network (Fashion-MNIST shapes: 1 x 28 x 28 images, 10 classes, batch 128, SGD with
momentum and weight decay) the two trainers run alternately, --rounds times each, on the same
number of threads; the table gives median images/s, the ratio ghostnet / PyTorch of the
medians, and the ratio within each round (each round runs the two back to back).

    /usr/bin/python3 bench/train_throughput.py [--build build/release] [--threads 2]
        [--rounds 3] [--seconds 15] [--nets small,resnet56,ghost-resnet56]

ghostnet's side is build/.../gn_bench_train (bench/train_throughput.c); PyTorch's is the
reference models in tools/. Both time steady-state steps after warm-up. The machine is noisy:
compare the medians and the ratio of one run, not numbers across runs.
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
sys.path.insert(0, os.path.join(ROOT, "tools"))

import torch  # noqa: E402

import ghostnet_ref as R  # noqa: E402

# name: (ghostnet arguments, PyTorch model factory, input size)
NETS = {
    "small": (["--arch", "ghostnet", "--width", "0.5", "--small-input", "1"],
              lambda: R.GhostNet(width=0.5, num_classes=10, in_chans=1, small_input=1), 28,
              "GhostNet 0.5x, stride-1 stem (the demo's network)"),
    "small-1.0": (["--arch", "ghostnet", "--width", "1.0", "--small-input", "1"],
                  lambda: R.GhostNet(width=1.0, num_classes=10, in_chans=1, small_input=1), 28,
                  "GhostNet 1.0x, stride-1 stem"),
}


def cifar_nets():
    try:
        import cifar_ref as C
    except ImportError:
        return
    NETS["resnet56"] = (["--arch", "resnet", "--depth", "56"],
                        lambda: C.build("resnet56", num_classes=10, in_chans=1), 28, "ResNet-56")
    NETS["ghost-resnet56"] = (["--arch", "resnet", "--depth", "56", "--ghost", "2,3"],
                              lambda: C.build("resnet56", num_classes=10, in_chans=1,
                                              ghost=(2, 3)),
                              28, "Ghost-ResNet-56 (s=2, d=3)")


def torch_rate(factory, size, batch, threads, seconds):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = factory()
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, 1, size, size)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    start, steps = time.time(), 0
    while time.time() - start < seconds:
        step()
        steps += 1
    return steps * batch / (time.time() - start)


def ghostnet_rate(binary, args, size, batch, threads, seconds, probe_rate):
    steps = max(5, int(probe_rate * seconds / batch))
    out = subprocess.run([binary] + args + ["--size", str(size), "--batch", str(batch),
                                            "--threads", str(threads), "--steps", str(steps)],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)["images_per_second"]


def main():
    cifar_nets()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--nets", default=",".join(NETS))
    a = p.parse_args()
    binary = os.path.join(a.build, "gn_bench_train")
    if not os.access(binary, os.X_OK):
        sys.exit("%s not found: build first (cmake --build %s --target gn_bench_train)"
                 % (binary, a.build))
    print("threads %d, batch %d, %d rounds of ~%.0f s each, interleaved; images/s (median)"
          % (a.threads, a.batch, a.rounds, a.seconds))
    print("| network | ghostnet img/s | PyTorch img/s | ghostnet / PyTorch | ratio of each round |")
    print("|---|---|---|---|---|")
    for name in a.nets.split(","):
        if name not in NETS:
            sys.exit("unknown network %s (known: %s)" % (name, ", ".join(NETS)))
        args, factory, size, title = NETS[name]
        ours, theirs = [], []
        rate = 200.0
        for _ in range(a.rounds):
            ours.append(ghostnet_rate(binary, args, size, a.batch, a.threads, a.seconds, rate))
            rate = ours[-1]
            theirs.append(torch_rate(factory, size, a.batch, a.threads, a.seconds))
        mo, mt = statistics.median(ours), statistics.median(theirs)
        rounds = " ".join("%.2f" % (o / t) for o, t in zip(ours, theirs))
        print("| %s | %.0f | %.0f | %.2fx | %s |" % (title, mo, mt, mo / mt, rounds), flush=True)


if __name__ == "__main__":
    main()
