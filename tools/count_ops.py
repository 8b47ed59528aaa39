#!/usr/bin/python3
"""Count parameters and MACs of the PyTorch reference GhostNet (tools/ghostnet_ref.py).

Conventions (these reproduce GHOSTNET.md's table exactly, see --check):
  * params = every learnable parameter (conv weights and biases, BN weight and bias, linear
    weight and bias); BN running statistics and num_batches_tracked are buffers, not counted.
  * MACs = multiply-accumulates of every Conv2d and Linear executed in one forward pass of a
    batch of 1, measured with forward hooks on the actual output sizes:
        conv:   Cout * Hout * Wout * (Cin / groups) * kh * kw
        linear: in_features * out_features
    This includes the squeeze-excite 1x1 convs (conv_reduce, conv_expand, which run on a 1x1
    map), conv_head (1x1 on the pooled 1x1 map) and the classifier, every shortcut conv, and
    the depthwise "cheap" convs of the Ghost modules over all their output channels.
  * Not counted: biases (no MAC), BatchNorm, ReLU, hard-sigmoid, the SE multiply, the residual
    adds, the channel concat/slice, global average pooling, dropout.

With these conventions the counts at 224x224 are, exactly:
    width 0.5: params 2,587,292  MACs  42,328,152
    width 1.0: params 5,182,508  MACs 141,150,512
    width 1.3: params 7,358,820  MACs 227,003,256
No special convention is needed beyond the above; in particular the SE convs ARE counted
(they are 374,880 / 1,498,944 / 2,536,448 MACs at widths 0.5 / 1.0 / 1.3; excluding them, or
counting biases as MACs, or omitting the classifier, would not reproduce the table).

Usage:
    /usr/bin/python3 tools/count_ops.py --width 1.0 [--input 224 | --input 160x192]
        [--classes 1000] [--in-chans 3] [--json] [--per-layer] [--check]
"""

import argparse
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghostnet_ref as R  # noqa: E402

# GHOSTNET.md, batch 1, 224 x 224, 1000 classes, 3 input channels.
EXPECTED_224 = {
    0.5: (2587292, 42328152),
    1.0: (5182508, 141150512),
    1.3: (7358820, 227003256),
}


def count_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _module_params(m):
    return sum(p.numel() for p in m.parameters(recurse=False))


def count(model, input_hw=(224, 224)):
    """Returns {"total": {"params", "macs"}, "layers": [...], "blocks": [...]} for one forward of a
    batch of 1 at input_hw. Each layer: name, type, in/out shape, params, macs. Each block
    (stem, blocks.i.j, head): params and macs summed over the layers inside it."""
    model = model.eval()
    layers = []
    hooks = []

    def make_hook(name):
        def hook(mod, inp, out):
            x = inp[0]
            if isinstance(mod, nn.Conv2d):
                cout, hout, wout = out.shape[1], out.shape[2], out.shape[3]
                cin_g = mod.in_channels // mod.groups
                kh, kw = mod.kernel_size
                macs = cout * hout * wout * cin_g * kh * kw
                kind = "conv%dx%d%s" % (kh, kw, "/dw" if mod.groups > 1 else "")
            else:
                macs = mod.in_features * mod.out_features
                kind = "linear"
            layers.append({
                "name": name,
                "type": kind,
                "input": list(x.shape[1:]),
                "output": list(out.shape[1:]),
                "params": _module_params(mod),
                "macs": int(macs),
            })
        return hook

    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(make_hook(name)))
    try:
        with torch.no_grad():
            model(torch.zeros((1, model.conv_stem.in_channels, input_hw[0], input_hw[1])))
    finally:
        for h in hooks:
            h.remove()

    # Params of modules without MACs (BN) are attributed per block below via named_parameters.
    def block_of(pname):
        parts = pname.split(".")
        if parts[0] == "blocks":
            return "blocks.%s.%s" % (parts[1], parts[2])
        if parts[0] in ("conv_stem", "bn1"):
            return "stem"
        return "head"

    order = []
    blocks = {}
    for pname, p in model.named_parameters():
        b = block_of(pname)
        if b not in blocks:
            blocks[b] = {"name": b, "params": 0, "macs": 0}
            order.append(b)
        blocks[b]["params"] += p.numel()
    for l in layers:
        b = block_of(l["name"] + ".weight")
        blocks[b]["macs"] += l["macs"]
        blocks[b]["output"] = l["output"]  # last conv/linear run in the block
    total_params = count_params(model)
    total_macs = sum(l["macs"] for l in layers)
    assert total_params == sum(b["params"] for b in blocks.values())
    se_macs = sum(l["macs"] for l in layers if ".se." in l["name"])
    return {
        "arch": "ghostnet",
        "width": model.width,
        "num_classes": model.num_classes,
        "in_channels": model.in_chans,
        "input_size": [int(input_hw[0]), int(input_hw[1])],
        "total": {"params": int(total_params), "macs": int(total_macs)},
        "se_macs": int(se_macs),
        "blocks": [blocks[b] for b in order],
        "layers": layers,
    }


def count_config(width, input_hw=(224, 224), num_classes=1000, in_chans=3):
    return count(R.ghostnet(width, num_classes=num_classes, in_chans=in_chans), input_hw)


def check_table():
    """Compares the counts with GHOSTNET.md's table; returns a list of mismatches."""
    bad = []
    for w, (p, m) in EXPECTED_224.items():
        r = count_config(w)["total"]
        if (r["params"], r["macs"]) != (p, m):
            bad.append("width %.1f: got params %d macs %d, table %d / %d" %
                       (w, r["params"], r["macs"], p, m))
    return bad


def main(argv=None):
    ap = argparse.ArgumentParser(description="Params and MACs of the reference GhostNet")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--input", default="224", help="H or HxW (default 224)")
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--in-chans", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print JSON")
    ap.add_argument("--per-layer", action="store_true", help="list every conv/linear layer")
    ap.add_argument("--check", action="store_true",
                    help="verify widths 0.5/1.0/1.3 at 224 against GHOSTNET.md's table")
    args = ap.parse_args(argv)

    if args.check:
        bad = check_table()
        for b in bad:
            print("MISMATCH " + b)
        if bad:
            return 1
        for w, (p, m) in EXPECTED_224.items():
            print("width %.1f: params %s MACs %s  (matches GHOSTNET.md)" % (w, format(p, ","), format(m, ",")))
        return 0

    r = count_config(args.width, R.parse_hw(args.input), args.classes, args.in_chans)
    if args.json:
        if not args.per_layer:
            r = dict(r)
            r.pop("layers")
        print(json.dumps(r, indent=1))
        return 0
    if args.per_layer:
        print("%-45s %-12s %-16s %-16s %10s %14s" % ("layer", "type", "input", "output", "params", "MACs"))
        for l in r["layers"]:
            print("%-45s %-12s %-16s %-16s %10d %14d" % (
                l["name"], l["type"], "x".join(map(str, l["input"])),
                "x".join(map(str, l["output"])), l["params"], l["macs"]))
        print()
    print("%-14s %12s %14s" % ("block", "params", "MACs"))
    for b in r["blocks"]:
        print("%-14s %12d %14d" % (b["name"], b["params"], b["macs"]))
    t = r["total"]
    print("%-14s %12d %14d" % ("total", t["params"], t["macs"]))
    print("(of which squeeze-excite convs: %d MACs)" % r["se_macs"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
