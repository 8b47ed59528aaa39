#!/usr/bin/python3
"""PyTorch reference of the CIFAR models of GhostNet's plug-and-play experiments (Han et al.,
CVPR 2020, Sec. 4.1 and Tables 2-4): CIFAR ResNet-20/32/44/56/110, VGG-16, and `ghostify`, which
turns either into its Ghost version.

Layer conventions (they reproduce the sizes GHOSTNET.md and issue #5 give, see `--check`):
  * every conv is bias-free and followed by a BatchNorm (eps 1e-5, momentum 0.1);
  * ResNet (He et al., CVPR 2016, Sec. 4.2): conv1 3x3 to 16 channels, bn1, ReLU; three stages
    layer1..layer3 of n = (depth - 2) / 6 basic blocks at 16/32/64 channels, the first block of
    layer2 and layer3 at stride 2; a basic block is conv1 3x3 (stride) -> bn1 -> ReLU -> conv2
    3x3 -> bn2, plus the shortcut, then ReLU. The shortcut is the identity, or where the shape
    changes a 1x1 conv (stride) + BN projection `shortcut.0` / `shortcut.1` (He et al.'s option
    B). Then global average pooling and `linear` (with bias). ResNet-56: 855,770 parameters
    (option A's zero-padded identity would give 853,018).
  * VGG-16: `features` = 13 x (conv 3x3 -> BN -> ReLU) in the layout 64, 64, M, 128, 128, M,
    256 x 3, M, 512 x 3, M, 512 x 3, M (M = 2x2 max pooling, stride 2), so a 32x32 image ends at
    512 x 1 x 1; `classifier` = Linear(512, 512) -> ReLU -> Linear(512, classes), both with bias,
    no BN. 14,986,698 parameters for 10 classes.
  * dropout (default 0): both drop the classifier's input while training (F.dropout, no module,
    so tensor names do not depend on it).
  * ghostify(model, s, d): every 3x3 conv except the network's first becomes a Ghost module
    (GhostModule of ghostnet_ref, relu=False) with the conv's in/out channels, kernel and
    stride; the BN that followed the conv becomes nn.Identity, because the Ghost module already
    normalises both of its halves. The network's own ReLUs stay where they were. Module paths do
    not move: `layer1.0.conv1.primary_conv.0.weight`, `features.3.cheap_operation.1.bias`.
    Ghost-VGG-16 (s=2, d=3): 7,651,050 parameters and 158,699,520 MACs at 32x32 (keeping the
    replaced BN as well would add 8,320 parameters).

MACs: multiply-accumulates of every Conv2d and Linear run in one forward of one image, measured
with forward hooks on the actual output sizes (as tools/count_ops.py counts GhostNet).

Runs under /usr/bin/python3 (the Debian interpreter with torch).
    /usr/bin/python3 tools/cifar_ref.py --arch resnet56 [--ghost 2,3] [--input 32] [--check]
"""

import argparse
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghostnet_ref as R  # noqa: E402

RESNET_WIDTHS = (16, 32, 64)
VGG16_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")
VGG_HIDDEN = 512

# Issue #5 / GHOSTNET.md: (arch, ghost) -> (params, MACs) for 3 x 32 x 32 input, 10 classes.
EXPECTED_32 = {
    ("resnet56", None): (855770, 125747840),
    ("vgg16", None): (14986698, 313463808),
    ("vgg16", (2, 3)): (7651050, 158699520),
}


def conv3x3(in_chs, out_chs, stride=1):
    return nn.Conv2d(in_chs, out_chs, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, in_chs, out_chs, stride):
        super().__init__()
        self.conv1 = conv3x3(in_chs, out_chs, stride)
        self.bn1 = nn.BatchNorm2d(out_chs)
        self.relu = nn.ReLU(inplace=False)
        self.conv2 = conv3x3(out_chs, out_chs)
        self.bn2 = nn.BatchNorm2d(out_chs)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_chs != out_chs:
            self.shortcut = nn.Sequential(nn.Conv2d(in_chs, out_chs, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_chs))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth=56, num_classes=10, in_chans=3, dropout=0.0):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError("CIFAR ResNet depth must be 6n + 2 with n >= 1, got %d" % depth)
        self.arch, self.depth = "resnet", depth
        self.num_classes, self.in_chans, self.ghost = num_classes, in_chans, None
        self.dropout = float(dropout)
        blocks = (depth - 2) // 6
        self.conv1 = conv3x3(in_chans, RESNET_WIDTHS[0])
        self.bn1 = nn.BatchNorm2d(RESNET_WIDTHS[0])
        self.relu = nn.ReLU(inplace=False)
        in_chs = RESNET_WIDTHS[0]
        for stage, width in enumerate(RESNET_WIDTHS):
            layers = []
            for i in range(blocks):
                layers.append(BasicBlock(in_chs, width, 2 if stage > 0 and i == 0 else 1))
                in_chs = width
            setattr(self, "layer%d" % (stage + 1), nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(in_chs, num_classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.dropout(self.avgpool(x).flatten(1), self.dropout, self.training)
        return self.linear(x)


class CifarVGG(nn.Module):
    def __init__(self, num_classes=10, in_chans=3, dropout=0.0, layout=VGG16_LAYOUT):
        super().__init__()
        self.arch, self.depth = "vgg", 16
        self.num_classes, self.in_chans, self.ghost = num_classes, in_chans, None
        self.dropout = float(dropout)
        layers, in_chs = [], in_chans
        for item in layout:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [conv3x3(in_chs, item), nn.BatchNorm2d(item), nn.ReLU(inplace=False)]
                in_chs = item
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(in_chs, VGG_HIDDEN), nn.ReLU(inplace=False),
                                        nn.Linear(VGG_HIDDEN, num_classes))

    def forward(self, x):
        x = F.dropout(self.features(x).flatten(1), self.dropout, self.training)
        return self.classifier(x)


def ghostify(model, ratio=2, dw_size=3):
    """The paper's plug-and-play transform, in place (see the module docstring); returns model."""
    if ratio < 2 or dw_size < 1 or dw_size % 2 == 0:
        raise ValueError("ghostify needs s >= 2 and an odd d, got s=%d d=%d" % (ratio, dw_size))
    modules = list(model.modules())  # before any replacement: Ghost modules are not revisited
    first = next(m for m in modules if isinstance(m, nn.Conv2d))
    for parent in modules:
        names = list(parent._modules)
        for name, following in zip(names, names[1:] + [None]):
            conv = parent._modules[name]
            if not isinstance(conv, nn.Conv2d) or conv.kernel_size != (3, 3) or conv is first:
                continue
            if following is None or not isinstance(parent._modules[following], nn.BatchNorm2d):
                raise ValueError("conv %s is not followed by a BatchNorm2d" % name)
            setattr(parent, name, R.GhostModule(conv.in_channels, conv.out_channels, 3, ratio,
                                                dw_size, conv.stride[0], relu=False))
            setattr(parent, following, nn.Identity())
    model.ghost = (ratio, dw_size)
    return model


def parse_arch(name):
    """'resnet56' -> ('resnet', 56); 'vgg16' -> ('vgg', 16); 'resnet' / 'vgg' take defaults."""
    for family, default in (("resnet", 56), ("vgg", 16)):
        if name.startswith(family):
            return family, int(name[len(family):] or default)
    raise ValueError("unknown CIFAR architecture %r" % name)


def build(arch, num_classes=10, in_chans=3, ghost=None, dropout=0.0):
    """arch: 'resnet20' ... 'resnet110', 'vgg16' (or ('resnet', depth)); ghost: None or (s, d)."""
    family, depth = parse_arch(arch) if isinstance(arch, str) else arch
    if family == "vgg":
        if depth != 16:
            raise ValueError("only VGG-16 is defined, got depth %d" % depth)
        model = CifarVGG(num_classes, in_chans, dropout)
    else:
        model = CifarResNet(depth, num_classes, in_chans, dropout)
    return ghostify(model, *ghost) if ghost else model


def parse_ghost(text):
    """'2,3' -> (2, 3)."""
    s, d = text.split(",")
    return int(s), int(d)


# ---------------------------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------------------------

def count(model, input_hw=(32, 32)):
    """(params, MACs) of one forward of one image (conventions in the module docstring)."""
    macs = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            macs.append(out[0].numel() * mod.in_channels // mod.groups * kh * kw)
        else:
            macs.append(mod.in_features * mod.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, model.in_chans, *input_hw))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return sum(p.numel() for p in model.parameters()), sum(macs)


# ---------------------------------------------------------------------------------------------
# Model files (our format, see src/io/model_file.c) and random weights for parity tests
# ---------------------------------------------------------------------------------------------

def model_metadata(model, input_size=(32, 32), mean=None, std=None):
    meta = R.model_metadata(num_classes=model.num_classes, in_chans=model.in_chans,
                            input_size=input_size, mean=mean, std=std, dropout=model.dropout,
                            arch=model.arch)
    del meta["width"]  # GhostNet only
    meta["depth"] = str(model.depth)
    if model.ghost:
        meta["ghost"] = "%d,%d" % model.ghost
    return meta


def save_model(path, model, dtype="f32", input_size=(32, 32)):
    meta = model_metadata(model, input_size)
    R.save_safetensors(path, R.state_dict_for_file(model.state_dict(), dtype), meta)
    return meta


def load_model(path, strict=True):
    """The model a file's metadata describes, with the file's tensors (strict by default).
    Returns (model in eval mode, metadata)."""
    tensors, meta = R.load_safetensors(path)
    if meta.get("format") != R.MODEL_FORMAT or meta.get("arch") not in ("resnet", "vgg"):
        raise R.SafetensorsError("%s: not a CIFAR ResNet / VGG model file (%r)" % (path, meta))
    ghost = parse_ghost(meta["ghost"]) if "ghost" in meta else None
    model = build((meta["arch"], int(meta["depth"])), int(meta["num_classes"]),
                  int(meta["in_channels"]), ghost, float(meta.get("dropout", "0")))
    model.load_state_dict({k: (v.float() if v.is_floating_point() else v)
                           for k, v in tensors.items()}, strict=strict)
    return model.eval(), meta


def random_model(arch, num_classes=10, in_chans=3, ghost=None, seed=0, size=(32, 32),
                 dropout=0.0):
    """A model with ghostnet_ref.randomize_'s random, calibrated weights and BN statistics."""
    torch.manual_seed(seed)
    return R.randomize_(build(arch, num_classes, in_chans, ghost, dropout), seed=seed,
                        probe_size=size)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Params and MACs of the CIFAR reference models")
    ap.add_argument("--arch", default="resnet56", help="resnet20 ... resnet110, vgg16")
    ap.add_argument("--ghost", default=None, help="s,d: ghostify with ratio s, cheap kernel d")
    ap.add_argument("--input", default="32", help="H or HxW (default 32)")
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--in-chans", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="verify the sizes of issue #5")
    args = ap.parse_args(argv)
    if args.check:
        bad = 0
        for (arch, ghost), want in EXPECTED_32.items():
            got = count(build(arch, ghost=ghost))
            bad += got != want
            print("%-8s ghost %-6s params %10d MACs %12d  %s" % (
                arch, ghost, got[0], got[1], "ok" if got == want else "EXPECTED %r" % (want,)))
        return 1 if bad else 0
    ghost = parse_ghost(args.ghost) if args.ghost else None
    model = build(args.arch, args.classes, args.in_chans, ghost)
    params, macs = count(model, R.parse_hw(args.input))
    print("%s%s: params %d MACs %d" % (args.arch, " ghost %d,%d" % ghost if ghost else "",
                                       params, macs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
