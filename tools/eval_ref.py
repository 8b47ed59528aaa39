#!/usr/bin/env python3
"""Evaluates a ghostnet model file in PyTorch (tools/ghostnet_ref.py for GhostNets,
tools/cifar_ref.py for CIFAR ResNets / VGGs and their Ghost versions) on an IDX data set, with
the preprocessing ghostnet uses: pixels / 255, centred on the model's input canvas (zero
padding), normalised with the mean/std from the file's metadata. Prints accuracy as JSON.
Proves that a file trained by ghostnet is real and complete: PyTorch gets the same accuracy.

    /usr/bin/python3 tools/eval_ref.py MODEL.safetensors [--data DIR] [--split test|train]
"""

import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghostnet_ref as R  # noqa: E402
import cifar_ref  # noqa: E402

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file of unsigned bytes (gzipped or not) as a numpy array."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    if magic >> 8 != 0x08:
        raise ValueError("%s: not an IDX file of unsigned bytes" % path)
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(directory, split):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(directory, prefix + "-images-idx3-ubyte"))
    labels = read_idx(os.path.join(directory, prefix + "-labels-idx1-ubyte"))
    return images, labels


def preprocess(images, meta):
    h, w = (int(v) for v in meta["input_size"].split("x"))
    n, ih, iw = images.shape
    canvas = np.zeros((n, 1, max(h, ih), max(w, iw)), dtype=np.float32)
    top, left = (canvas.shape[2] - ih) // 2, (canvas.shape[3] - iw) // 2
    canvas[:, 0, top:top + ih, left:left + iw] = images.astype(np.float32) / 255.0
    mean = float(meta["mean"].split(",")[0])
    std = float(meta["std"].split(",")[0])
    return (canvas - mean) / std


def evaluate(model_path, directory=FASHION_MNIST, split="test", batch=500):
    _, meta = R.load_safetensors(model_path)
    loader = cifar_ref.load_model if meta.get("arch") in ("resnet", "vgg") else R.load_model
    model, meta = loader(model_path)
    images, labels = load_split(directory, split)
    x = preprocess(images, meta)
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = model(torch.from_numpy(x[i:i + batch]))
            correct += int((logits.argmax(1).numpy() == labels[i:i + batch]).sum())
    return {"images": int(len(x)), "correct": correct, "accuracy": correct / len(x)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model")
    p.add_argument("--data", default=FASHION_MNIST)
    p.add_argument("--split", default="test", choices=("test", "train"))
    a = p.parse_args()
    print(json.dumps(evaluate(a.model, a.data, a.split)))


if __name__ == "__main__":
    main()
