#!/usr/bin/python3
"""Convert a PyTorch GhostNet checkpoint (torch.save'd state_dict of the official layout) into a
ghostnet model file (safetensors with our metadata).

    /usr/bin/python3 tools/pth_to_safetensors.py ghostnet_1x.pth model.safetensors \
        [--arch ghostnet] [--width 1.0] [--classes N] [--in-chans C] [--input 224x224] \
        [--mean 0.485,0.456,0.406] [--std 0.229,0.224,0.225] [--dropout 0.2] [--dtype f32]

Accepted inputs: a plain state_dict, or a dict wrapping it under "state_dict", "model",
"model_state_dict" or "state_dict_ema"; keys may carry a "module." prefix (DataParallel).
--classes and --in-chans default to what classifier.weight and conv_stem.weight say.

Before writing, the tensors are checked against the layout of the reference model built with
the given width / classes / in-chans: every expected tensor must be present with the expected
shape, and there must be no unexpected tensor; the first problem is reported by name and nothing
is written. num_batches_tracked is optional in the input (old checkpoints lack it); missing ones
are written as 0.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghostnet_ref as R  # noqa: E402

WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "state_dict_ema", "model_ema")


class ConvertError(Exception):
    pass


def unwrap(obj):
    """Finds the tensor dict inside a loaded checkpoint and strips 'module.' prefixes."""
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    for _ in range(3):
        if not isinstance(obj, dict):
            raise ConvertError("checkpoint is a %s, not a dict of tensors" % type(obj).__name__)
        if obj and all(torch.is_tensor(v) for v in obj.values()):
            break
        for k in WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], (dict, torch.nn.Module)):
                obj = obj[k]
                if isinstance(obj, torch.nn.Module):
                    obj = obj.state_dict()
                break
        else:
            raise ConvertError("no state_dict found in the checkpoint (top-level keys: %s)" %
                               ", ".join(sorted(map(str, obj.keys()))[:10]))
    sd = {}
    for k, v in obj.items():
        if not torch.is_tensor(v):
            raise ConvertError("entry %r is not a tensor" % k)
        while k.startswith("module."):
            k = k[len("module."):]
        sd[k] = v
    return sd


def validate(sd, model):
    """Returns the state_dict in the reference model's key order, or raises ConvertError naming
    the first missing / unexpected / misshapen tensor."""
    want = model.state_dict()
    out = {}
    for k, ref in want.items():
        if k not in sd:
            if k.endswith("num_batches_tracked"):
                out[k] = torch.zeros((), dtype=torch.int64)
                continue
            raise ConvertError("missing tensor %s (expected shape %s)" % (k, list(ref.shape)))
        v = sd[k]
        if tuple(v.shape) != tuple(ref.shape):
            if k.endswith("num_batches_tracked") and v.numel() == 1:
                v = v.reshape(())
            else:
                raise ConvertError("tensor %s has shape %s, expected %s" %
                                   (k, list(v.shape), list(ref.shape)))
        if k.endswith("num_batches_tracked"):
            v = v.to(torch.int64)
        elif not v.is_floating_point():
            raise ConvertError("tensor %s has dtype %s, expected a floating type" % (k, v.dtype))
        out[k] = v
    extra = [k for k in sd if k not in want]
    if extra:
        raise ConvertError("unexpected tensor %s (not part of the ghostnet layout)" % extra[0])
    return out


def convert(src, dst, arch="ghostnet", width=1.0, classes=None, in_chans=None, input_hw=(224, 224),
            mean=None, std=None, dropout=0.2, dtype="f32"):
    if arch != "ghostnet":
        raise ConvertError("unsupported --arch %r (only 'ghostnet')" % arch)
    try:
        obj = torch.load(src, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - report any load failure as one line
        raise ConvertError("cannot read %s: %s" % (src, e))
    sd = unwrap(obj)
    if classes is None:
        w = sd.get("classifier.weight")
        if w is None or w.dim() != 2:
            raise ConvertError("missing tensor classifier.weight (needed to infer --classes)")
        classes = int(w.shape[0])
    if in_chans is None:
        w = sd.get("conv_stem.weight")
        if w is None or w.dim() != 4:
            raise ConvertError("missing tensor conv_stem.weight (needed to infer --in-chans)")
        in_chans = int(w.shape[1])
    model = R.ghostnet(width, num_classes=classes, in_chans=in_chans, dropout=dropout)
    sd = validate(sd, model)
    meta = R.model_metadata(width, classes, in_chans, input_hw, mean, std, dropout, arch=arch)
    R.save_safetensors(dst, R.state_dict_for_file(sd, dtype), meta)
    return meta


def _floats(text):
    return None if text is None else tuple(float(t) for t in text.split(","))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Convert a GhostNet .pth state_dict to a ghostnet "
                                             "model file (.safetensors)")
    ap.add_argument("input", help="checkpoint written by torch.save")
    ap.add_argument("output", help="model file to write (.safetensors)")
    ap.add_argument("--arch", default="ghostnet")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--classes", type=int, default=None)
    ap.add_argument("--in-chans", type=int, default=None)
    ap.add_argument("--input", dest="input_size", default="224x224", help="H or HxW")
    ap.add_argument("--mean", default=None, help="comma-separated, one per input channel")
    ap.add_argument("--std", default=None, help="comma-separated, one per input channel")
    ap.add_argument("--dropout", type=float, default=0.2)
    ap.add_argument("--dtype", choices=("f32", "f16", "bf16"), default="f32")
    args = ap.parse_args(argv)
    try:
        meta = convert(args.input, args.output, args.arch, args.width, args.classes,
                       args.in_chans, R.parse_hw(args.input_size), _floats(args.mean),
                       _floats(args.std), args.dropout, args.dtype)
    except (ConvertError, ValueError, OSError) as e:
        print("pth_to_safetensors: %s" % e, file=sys.stderr)
        return 1
    print("wrote %s (%s, width %s, %s classes, %s input channels)" % (
        args.output, meta["arch"], meta["width"], meta["num_classes"], meta["in_channels"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
