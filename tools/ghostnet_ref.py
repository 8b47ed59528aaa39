#!/usr/bin/python3
"""PyTorch reference implementation of GhostNet (Han et al., CVPR 2020) for the ghostnet project.

The module layout and parameter names follow the official PyTorch release (and timm's
``ghostnet_100``), as written down in docs/shared GHOSTNET.md, so that a state_dict of this model
has exactly the official tensor names and shapes (see ``check_state_dict_layout``).

Besides the model this module provides:
  * ``save_safetensors`` / ``load_safetensors``: a small self-contained safetensors reader/writer
    (F32/F16/BF16/F64/I64/I32/I16/I8/U8/BOOL), including ``__metadata__``;
  * ``model_metadata``: the metadata of our model file format ("ghostnet-model-1");
  * ``save_model`` / ``load_model``: a GhostNet <-> our model file;
  * ``randomize_``: random weights with a healthy activation/logit scale for parity testing.

Runs only under /usr/bin/python3 (the Debian interpreter that has torch); uses only the
standard library, numpy and torch.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MODEL_FORMAT = "ghostnet-model-1"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# (kernel, expansion, out, se_ratio, stride) per block, one list per stage (blocks.0 .. blocks.8).
GHOSTNET_CFGS = [
    [(3, 16, 16, 0, 1)],
    [(3, 48, 24, 0, 2)],
    [(3, 72, 24, 0, 1)],
    [(5, 72, 40, 0.25, 2)],
    [(5, 120, 40, 0.25, 1)],
    [(3, 240, 80, 0, 2)],
    [(3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1),
     (3, 480, 112, 0.25, 1), (3, 672, 112, 0.25, 1)],
    [(5, 672, 160, 0.25, 2)],
    [(5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1), (5, 960, 160, 0, 1),
     (5, 960, 160, 0.25, 1)],
]
HEAD_CHANNELS = 1280


def make_divisible(v, divisor=4, min_value=None):
    """Round v to a multiple of divisor (nearest, ties up), at least min_value (default divisor),
    and never more than 10% below v."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


_make_divisible = make_divisible  # the official name


def hard_sigmoid(x):
    return F.relu6(x + 3.0) / 6.0


class SqueezeExcite(nn.Module):
    def __init__(self, in_chs, se_ratio=0.25, divisor=4):
        super().__init__()
        reduced = make_divisible(in_chs * se_ratio, divisor)
        self.conv_reduce = nn.Conv2d(in_chs, reduced, 1, bias=True)
        self.act1 = nn.ReLU(inplace=False)
        self.conv_expand = nn.Conv2d(reduced, in_chs, 1, bias=True)

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        s = self.conv_reduce(s)
        s = self.act1(s)
        s = self.conv_expand(s)
        return x * hard_sigmoid(s)


class ConvBnAct(nn.Module):
    def __init__(self, in_chs, out_chs, kernel_size, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride, kernel_size // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(out_chs)
        self.act1 = nn.ReLU(inplace=False)

    def forward(self, x):
        return self.act1(self.bn1(self.conv(x)))


class GhostModule(nn.Module):
    def __init__(self, inp, oup, kernel_size=1, ratio=2, dw_size=3, stride=1, relu=True):
        super().__init__()
        self.oup = oup
        init_channels = math.ceil(oup / ratio)
        new_channels = init_channels * (ratio - 1)
        self.primary_conv = nn.Sequential(
            nn.Conv2d(inp, init_channels, kernel_size, stride, kernel_size // 2, bias=False),
            nn.BatchNorm2d(init_channels),
            nn.ReLU(inplace=False) if relu else nn.Identity(),
        )
        self.cheap_operation = nn.Sequential(
            nn.Conv2d(init_channels, new_channels, dw_size, 1, dw_size // 2,
                      groups=init_channels, bias=False),
            nn.BatchNorm2d(new_channels),
            nn.ReLU(inplace=False) if relu else nn.Identity(),
        )

    def forward(self, x):
        x1 = self.primary_conv(x)
        x2 = self.cheap_operation(x1)
        out = torch.cat([x1, x2], dim=1)
        return out[:, :self.oup, :, :]


class GhostBottleneck(nn.Module):
    def __init__(self, in_chs, mid_chs, out_chs, dw_kernel_size=3, stride=1, se_ratio=0.0):
        super().__init__()
        self.stride = stride
        self.ghost1 = GhostModule(in_chs, mid_chs, relu=True)
        if stride > 1:
            self.conv_dw = nn.Conv2d(mid_chs, mid_chs, dw_kernel_size, stride,
                                     (dw_kernel_size - 1) // 2, groups=mid_chs, bias=False)
            self.bn_dw = nn.BatchNorm2d(mid_chs)
        if se_ratio is not None and se_ratio > 0.0:
            self.se = SqueezeExcite(mid_chs, se_ratio=se_ratio)
        else:
            self.se = None
        self.ghost2 = GhostModule(mid_chs, out_chs, relu=False)
        if in_chs == out_chs and stride == 1:
            self.shortcut = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_chs, in_chs, dw_kernel_size, stride, (dw_kernel_size - 1) // 2,
                          groups=in_chs, bias=False),
                nn.BatchNorm2d(in_chs),
                nn.Conv2d(in_chs, out_chs, 1, 1, 0, bias=False),
                nn.BatchNorm2d(out_chs),
            )

    def forward(self, x):
        residual = x
        x = self.ghost1(x)
        if self.stride > 1:
            x = self.bn_dw(self.conv_dw(x))
        if self.se is not None:
            x = self.se(x)
        x = self.ghost2(x)
        return x + self.shortcut(residual)


class GhostNet(nn.Module):
    def __init__(self, width=1.0, num_classes=1000, in_chans=3, dropout=0.2, cfgs=None,
                 small_input=False):
        """small_input: the variants for 28-32 px images -- 1: the stem runs at stride 1;
        2: the blocks.1 stage too (so blocks.1.0 has no conv_dw / bn_dw). Every other tensor is
        as official."""
        super().__init__()
        self.small_input = int(small_input)
        self.width = float(width)
        self.num_classes = int(num_classes)
        self.in_chans = int(in_chans)
        self.dropout = float(dropout)
        cfgs = GHOSTNET_CFGS if cfgs is None else cfgs

        stem_chs = make_divisible(16 * width, 4)
        self.conv_stem = nn.Conv2d(in_chans, stem_chs, 3, 1 if small_input else 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_chs)
        self.act1 = nn.ReLU(inplace=False)

        stages = []
        in_chs = stem_chs
        exp_size = None
        for stage, cfg in enumerate(cfgs):
            layers = []
            for k, exp_size, c, se_ratio, s in cfg:
                if small_input >= 2 and stage == 1:
                    s = 1
                out_chs = make_divisible(c * width, 4)
                mid_chs = make_divisible(exp_size * width, 4)
                layers.append(GhostBottleneck(in_chs, mid_chs, out_chs, k, s, se_ratio=se_ratio))
                in_chs = out_chs
            stages.append(nn.Sequential(*layers))
        out_chs = make_divisible(exp_size * width, 4)
        stages.append(nn.Sequential(ConvBnAct(in_chs, out_chs, 1)))
        self.blocks = nn.Sequential(*stages)

        self.global_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.conv_head = nn.Conv2d(out_chs, HEAD_CHANNELS, 1, 1, 0, bias=True)
        self.act2 = nn.ReLU(inplace=False)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward_features(self, x):
        x = self.act1(self.bn1(self.conv_stem(x)))
        return self.blocks(x)

    def forward(self, x):
        x = self.forward_features(x)
        x = self.global_pool(x)
        x = self.act2(self.conv_head(x))
        x = x.flatten(1)
        if self.dropout > 0.0:
            x = F.dropout(x, p=self.dropout, training=self.training)
        return self.classifier(x)


def ghostnet(width=1.0, num_classes=1000, in_chans=3, dropout=0.2, small_input=False):
    return GhostNet(width=width, num_classes=num_classes, in_chans=in_chans, dropout=dropout,
                    small_input=small_input)


# ---------------------------------------------------------------------------------------------
# Layout check against the official state_dict listing
# ---------------------------------------------------------------------------------------------

def _default_listing_path():
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [
        os.environ.get("GN_STATE_DICT_LISTING", ""),
        "/work/shared/reference/ghostnet_100_state_dict.txt",
        os.path.join(here, "..", "docs", "ghostnet_100_state_dict.txt"),
    ]
    for c in candidates:
        if c and os.path.isfile(c):
            return c
    return None


def read_state_dict_listing(path):
    """Parses lines 'name 16x3x3x3 float32' / 'name scalar int64' into [(name, shape, dtype)]."""
    out = []
    with open(path, "r", encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            name, shape_s, dtype = line.split()
            shape = () if shape_s == "scalar" else tuple(int(d) for d in shape_s.split("x"))
            out.append((name, shape, dtype))
    return out


def state_dict_listing(model):
    out = []
    for name, t in model.state_dict().items():
        out.append((name, tuple(t.shape), str(t.dtype).replace("torch.", "")))
    return out


def check_state_dict_layout(listing_path=None, model=None):
    """Returns a list of differences between ghostnet(1.0)'s state_dict and the official listing
    (empty list = identical names, order, shapes and dtypes)."""
    listing_path = listing_path or _default_listing_path()
    if listing_path is None:
        raise FileNotFoundError("ghostnet_100_state_dict.txt not found")
    want = read_state_dict_listing(listing_path)
    got = state_dict_listing(model if model is not None else ghostnet(1.0))
    diffs = []
    wn = {n: (s, d) for n, s, d in want}
    gn = {n: (s, d) for n, s, d in got}
    for n in wn:
        if n not in gn:
            diffs.append("missing in reference: %s" % n)
        elif gn[n] != wn[n]:
            diffs.append("mismatch %s: reference %s, official %s" % (n, gn[n], wn[n]))
    for n in gn:
        if n not in wn:
            diffs.append("extra in reference: %s" % n)
    if not diffs and [n for n, _, _ in want] != [n for n, _, _ in got]:
        diffs.append("same names but different order")
    return diffs


# ---------------------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------------------

# dtype name -> (numpy dtype used for the raw bytes, torch dtype, element size)
_ST_DTYPES = {
    "F64": ("<f8", torch.float64, 8),
    "F32": ("<f4", torch.float32, 4),
    "F16": ("<f2", torch.float16, 2),
    "BF16": ("<u2", torch.bfloat16, 2),  # raw 16-bit patterns
    "I64": ("<i8", torch.int64, 8),
    "I32": ("<i4", torch.int32, 4),
    "I16": ("<i2", torch.int16, 2),
    "I8": ("i1", torch.int8, 1),
    "U8": ("u1", torch.uint8, 1),
    "BOOL": ("u1", torch.bool, 1),
}
_TORCH_TO_ST = {v[1]: k for k, v in _ST_DTYPES.items()}


class SafetensorsError(ValueError):
    pass


def _tensor_bytes(t):
    """Raw little-endian bytes of a torch tensor and its safetensors dtype name."""
    t = t.detach().cpu().contiguous()
    if t.dtype not in _TORCH_TO_ST:
        raise SafetensorsError("unsupported dtype %s" % t.dtype)
    st = _TORCH_TO_ST[t.dtype]
    if t.dtype == torch.bfloat16:
        arr = t.view(torch.int16).numpy().view(np.uint16)
    elif t.dtype == torch.bool:
        arr = t.numpy().astype(np.uint8)
    else:
        arr = t.numpy()
    arr = np.ascontiguousarray(arr.astype(np.dtype(_ST_DTYPES[st][0]), copy=False))
    return st, arr.tobytes()


def save_safetensors(path, tensors, metadata=None, alignment=8):
    """Writes {name: torch.Tensor or np.ndarray} (in the dict's order) and string metadata.

    The header is padded with spaces so the data section starts at a multiple of `alignment`
    (counted from the start of the file). Written to a temporary file and renamed into place."""
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError("metadata keys and values must be strings (%r: %r)" % (k, v))
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, t in tensors.items():
        if name == "__metadata__":
            raise SafetensorsError("'__metadata__' is not a valid tensor name")
        if isinstance(t, np.ndarray):
            t = torch.from_numpy(np.ascontiguousarray(t))
        st, b = _tensor_bytes(t)
        header[name] = {"dtype": st, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    pad = (-(8 + len(hjson))) % alignment
    hjson += b" " * pad
    tmp = "%s.tmp%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors_header(path):
    """Returns (header dict without __metadata__, metadata dict, data start offset, file size)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise SafetensorsError("%s: file shorter than the 8-byte header length" % path)
        (n,) = struct.unpack("<Q", raw)
        if n > size - 8:
            raise SafetensorsError("%s: header length %d past the end of the file" % (path, n))
        hbytes = f.read(n)
    try:
        header = json.loads(hbytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError("%s: header is not valid JSON: %s" % (path, e))
    if not isinstance(header, dict):
        raise SafetensorsError("%s: header is not a JSON object" % path)
    meta = header.pop("__metadata__", None) or {}
    return header, meta, 8 + n, size


def load_safetensors(path, to_torch=True):
    """Reads a safetensors file: returns (OrderedDict name -> tensor, metadata dict).

    Tensors come back in file order of their data offsets, as torch tensors (BF16 as
    torch.bfloat16) or, with to_torch=False, numpy arrays (BF16 as raw uint16)."""
    header, meta, start, size = read_safetensors_header(path)
    data_len = size - start
    entries = sorted(header.items(), key=lambda kv: tuple(kv[1].get("data_offsets", [0, 0])))
    out = {}
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    for name, info in entries:
        dt = info.get("dtype")
        if dt not in _ST_DTYPES:
            raise SafetensorsError("%s: tensor %s has unknown dtype %r" % (path, name, dt))
        npdt, tdt, esz = _ST_DTYPES[dt]
        shape = [int(d) for d in info.get("shape", [])]
        b, e = [int(x) for x in info.get("data_offsets", [-1, -1])]
        numel = 1
        for d in shape:
            numel *= d
        if not (0 <= b <= e <= data_len) or e - b != numel * esz:
            raise SafetensorsError("%s: tensor %s has bad data_offsets %r for shape %r" %
                                   (path, name, [b, e], shape))
        arr = np.frombuffer(data, dtype=np.dtype(npdt), count=numel, offset=b).reshape(shape).copy()
        if to_torch:
            if dt == "BF16":
                t = torch.from_numpy(arr.view(np.int16)).view(torch.bfloat16)
            elif dt == "BOOL":
                t = torch.from_numpy(arr.astype(np.bool_))
            else:
                t = torch.from_numpy(arr.astype(arr.dtype.newbyteorder("=")))
            out[name] = t
        else:
            out[name] = arr
    return out, meta


# ---------------------------------------------------------------------------------------------
# Our model file
# ---------------------------------------------------------------------------------------------

def _fmt_float(v):
    return repr(float(v))


def model_metadata(width=1.0, num_classes=1000, in_chans=3, input_size=(224, 224), mean=None,
                   std=None, dropout=0.2, arch="ghostnet", small_input=False):
    """The __metadata__ of our model file format (all values strings)."""
    if isinstance(input_size, int):
        input_size = (input_size, input_size)
    if mean is None or std is None:
        if in_chans == 3:
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        else:
            mean, std = (0.5,) * in_chans, (0.5,) * in_chans
    if len(mean) != in_chans or len(std) != in_chans:
        raise ValueError("mean/std need one value per input channel (%d)" % in_chans)
    return {
        "format": MODEL_FORMAT,
        "arch": arch,
        "width": _fmt_float(width),
        "num_classes": str(int(num_classes)),
        "in_channels": str(int(in_chans)),
        "input_size": "%dx%d" % (int(input_size[0]), int(input_size[1])),
        "mean": ",".join(_fmt_float(m) for m in mean),
        "std": ",".join(_fmt_float(s) for s in std),
        "dropout": _fmt_float(dropout),
        **({"small_input": str(int(small_input))} if small_input else {}),
    }


_DTYPE_ARG = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16,
              "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def state_dict_for_file(state_dict, dtype="f32"):
    """Floating tensors cast to dtype (f32/f16/bf16); integer tensors kept (num_batches_tracked
    as I64 scalars)."""
    tdt = _DTYPE_ARG[dtype]
    out = {}
    for k, v in state_dict.items():
        v = v.detach().cpu()
        if v.is_floating_point():
            v = v.to(tdt)
        elif k.endswith("num_batches_tracked"):
            v = v.to(torch.int64).reshape(())
        out[k] = v.contiguous()
    return out


def save_model(path, model, dtype="f32", input_size=(224, 224), mean=None, std=None):
    """Writes a GhostNet as our model file (every state_dict key, metadata from the model)."""
    meta = model_metadata(model.width, model.num_classes, model.in_chans, input_size, mean, std,
                          model.dropout, small_input=model.small_input)
    save_safetensors(path, state_dict_for_file(model.state_dict(), dtype), meta)
    return meta


def parse_hw(text):
    """'224' -> (224, 224); '160x192' -> (160, 192)."""
    text = str(text).lower()
    if "x" in text:
        h, w = text.split("x", 1)
        return int(h), int(w)
    return int(text), int(text)


def load_model(path, strict=True):
    """Builds a GhostNet from our model file (metadata) and loads its tensors (floats converted
    to float32). Returns (model in eval mode, metadata)."""
    tensors, meta = load_safetensors(path)
    if meta.get("format") != MODEL_FORMAT:
        raise SafetensorsError("%s: not a %s file (format=%r)" % (path, MODEL_FORMAT, meta.get("format")))
    model = GhostNet(width=float(meta["width"]), num_classes=int(meta["num_classes"]),
                     in_chans=int(meta["in_channels"]), dropout=float(meta.get("dropout", "0.2")),
                     small_input=int(meta.get("small_input", "0")))
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    model.load_state_dict(sd, strict=strict)
    model.eval()
    return model, meta


# ---------------------------------------------------------------------------------------------
# Random weights for parity tests
# ---------------------------------------------------------------------------------------------

@torch.no_grad()
def randomize_(model, seed=0, calibrate=True, probe_size=(96, 96), probe_batch=4):
    """Fills every parameter and BN buffer with random values for parity testing, then
    (calibrate=True) rescales the weights so activations and logits are O(1).

    Distributions (deterministic for a given seed, CPU generator):
      * conv weights: kaiming-normal, std = 1/sqrt(fan_in) with fan_in = Cin/groups * k * k;
      * conv / linear biases ~ N(0, 0.1); linear weights ~ N(0, 1/in);
      * BN weight ~ U(0.5, 1.5), bias ~ N(0, 0.1), running_mean ~ N(0, 0.1),
        running_var ~ U(0.5, 1.5), num_batches_tracked = a random integer in [0, 100000).

    Why calibrate: BN in eval mode uses these random running statistics, so nothing normalises
    the signal. Kaiming fan_out (as PyTorch's resnet init) blows the logits up to ~1e6-1e9
    here because every GhostModule's primary conv narrows the channels (fan_out << fan_in) and
    the 16 residual adds accumulate; fan_in gives logits ~10 but with ~90% of their value
    independent of the input. Calibration (LSUV-like): one eval-mode forward of a random probe
    batch in which each conv / linear, in execution order, divides its weight by the standard
    deviation of its bias-free output, so every conv output has std ~1 before its BN. Biases and
    BN parameters / statistics keep the distributions above. Result: logits with std ~1 that
    vary strongly with the input (see `main`)."""
    g = torch.Generator().manual_seed(int(seed))

    def normal(shape, std):
        return torch.randn(shape, generator=g) * std

    def uniform(shape, lo, hi):
        return torch.rand(shape, generator=g) * (hi - lo) + lo

    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            cout, cin_g, kh, kw = m.weight.shape
            m.weight.copy_(normal(m.weight.shape, 1.0 / math.sqrt(cin_g * kh * kw)))
            if m.bias is not None:
                m.bias.copy_(normal(m.bias.shape, 0.1))
        elif isinstance(m, nn.Linear):
            m.weight.copy_(normal(m.weight.shape, 1.0 / math.sqrt(m.in_features)))
            if m.bias is not None:
                m.bias.copy_(normal(m.bias.shape, 0.1))
        elif isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.copy_(uniform((c,), 0.5, 1.5))
            m.bias.copy_(normal((c,), 0.1))
            m.running_mean.copy_(normal((c,), 0.1))
            m.running_var.copy_(uniform((c,), 0.5, 1.5))
            m.num_batches_tracked.fill_(int(torch.randint(0, 100000, (1,), generator=g)))

    if calibrate:
        def hook(mod, inp, out):
            if mod.bias is not None:
                shape = (1, -1, 1, 1) if out.dim() == 4 else (1, -1)
                b = mod.bias.view(shape)
                core = out - b
            else:
                b, core = None, out
            s = float(core.std())
            if not math.isfinite(s) or s <= 0.0:
                return out
            mod.weight.div_(s)
            core = core / s
            return core if b is None else core + b

        was_training = model.training
        model.eval()
        handles = [m.register_forward_hook(hook) for m in model.modules()
                   if isinstance(m, (nn.Conv2d, nn.Linear))]
        try:
            h, w = probe_size
            x = torch.randn((probe_batch, model.in_chans, h, w), generator=g)
            model(x)
        finally:
            for hd in handles:
                hd.remove()
        model.train(was_training)
    return model


def random_input(batch, in_chans, h, w, seed=0):
    g = torch.Generator().manual_seed(int(seed) + 7919)
    return torch.randn((batch, in_chans, h, w), generator=g, dtype=torch.float32)


def main(argv=None):
    """Self-check: layout vs the official listing, and the logit scale of a random model."""
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listing", default=None, help="ghostnet_100_state_dict.txt")
    args = ap.parse_args(argv)
    diffs = check_state_dict_layout(args.listing)
    if diffs:
        print("state_dict layout differs from the official listing:")
        for d in diffs:
            print("  " + d)
        return 1
    print("state_dict layout: identical to the official listing (%d tensors)" %
          len(ghostnet(1.0).state_dict()))
    for w in (0.5, 1.0, 1.3):
        m = randomize_(ghostnet(w), seed=1).eval()
        with torch.no_grad():
            y = m(random_input(4, 3, 224, 224, seed=1))
        spread = (y - y.mean(0, keepdim=True)).std().item()
        print("width %.1f: logits std %.3f, max|logit| %.3f, std across inputs %.3f" %
              (w, y.std().item(), y.abs().max().item(), spread))
    return 0


if __name__ == "__main__":
    sys.exit(main())
