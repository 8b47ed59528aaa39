#!/usr/bin/python3
"""Write one parity test case for the ghostnet CLI: a random model, an input batch and PyTorch's
logits for it.

    /usr/bin/python3 tools/make_case.py --width 1.0 --classes 1000 --in-chans 3 --batch 2 \
        --size 224x224 --seed 0 --dtype f32 --out DIR

DIR/model.safetensors   random weights (ghostnet_ref.randomize_), our metadata, floats stored as
                        F32 / F16 / BF16 (--dtype), num_batches_tracked as I64 scalars
DIR/input.npy           float32 NCHW batch, ~N(0, 1)
DIR/expected.npy        float32 logits (batch x classes) of the eval-mode PyTorch reference

The expected logits are computed from the model *as read back from model.safetensors* (weights
widened to float32), so for F16 / BF16 files PyTorch sees exactly the rounded weights the C side
reads.
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghostnet_ref as R  # noqa: E402


def make_case(out_dir, width=1.0, classes=1000, in_chans=3, batch=1, size=(224, 224), seed=0,
              dtype="f32", input_size=None):
    """Writes the three files; returns a dict with paths and the logit statistics."""
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(int(seed))
    model = R.ghostnet(width, num_classes=classes, in_chans=in_chans)
    R.randomize_(model, seed=seed)
    model.eval()
    model_path = os.path.join(out_dir, "model.safetensors")
    R.save_model(model_path, model, dtype=dtype, input_size=input_size or size)

    ref, _ = R.load_model(model_path)  # the weights exactly as stored (rounded for f16/bf16)
    x = R.random_input(batch, in_chans, size[0], size[1], seed=seed)
    with torch.no_grad():
        y = ref(x).float()
    input_path = os.path.join(out_dir, "input.npy")
    expected_path = os.path.join(out_dir, "expected.npy")
    np.save(input_path, x.numpy().astype("<f4"))
    np.save(expected_path, y.numpy().astype("<f4"))
    return {
        "model": model_path,
        "input": input_path,
        "expected": expected_path,
        "logits_std": float(y.std()) if y.numel() > 1 else 0.0,
        "logits_max_abs": float(y.abs().max()),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description="Write a random-model parity case for ghostnet")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--classes", type=int, default=1000)
    ap.add_argument("--in-chans", type=int, default=3)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--size", default="224x224", help="input H or HxW")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32")
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args(argv)
    info = make_case(args.out, args.width, args.classes, args.in_chans, args.batch,
                     R.parse_hw(args.size), args.seed, args.dtype)
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
