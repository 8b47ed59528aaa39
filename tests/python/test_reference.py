#!/usr/bin/python3
"""PyTorch-only checks of the reference tools (no ghostnet CLI needed):

  * tools/ghostnet_ref.py: state_dict names/shapes/dtypes for width 1.0 equal the official
    listing (ghostnet_100_state_dict.txt), forward semantics of the pieces (make_divisible,
    Ghost module slicing, hard-sigmoid SE, shortcut), randomised models give O(1) logits;
  * the safetensors writer/reader: layout (header length, 8-aligned data, contiguous offsets,
    metadata), round trip of F32/F16/BF16/I64, scalars;
  * tools/count_ops.py reproduces GHOSTNET.md's params/MACs table;
  * tools/pth_to_safetensors.py and tools/make_case.py produce files whose logits equal the
    source model's.
"""

import json
import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gn_testlib as T  # noqa: E402  (fails hard when torch is missing)
from gn_testlib import np, torch  # noqa: E402

R = T.R
C = T.count_ops
TMP = T.scratch("reference")
LISTING = os.environ.get("GN_STATE_DICT_LISTING") or R._default_listing_path()


class Layout(unittest.TestCase):
    def test_official_listing(self):
        self.assertIsNotNone(LISTING, "ghostnet_100_state_dict.txt not found (set "
                                      "GN_STATE_DICT_LISTING)")
        self.assertEqual(R.check_state_dict_layout(LISTING), [])
        self.assertEqual(len(R.read_state_dict_listing(LISTING)), 512)

    def test_make_divisible(self):
        self.assertEqual([R.make_divisible(v, 4) for v in (8, 10, 16 * 0.5, 72 * 1.3, 960 * 1.3, 18 * 0.25, 1)],
                         [8, 12, 8, 92, 1248, 8, 4])
        self.assertEqual(R.make_divisible(72 * 0.25, 4), 20)  # blocks.3.0.se reduce at w 1.0
        # never more than 10% below
        for v in np.linspace(1, 2000, 4001):
            self.assertGreaterEqual(R.make_divisible(v, 4), 0.9 * v)

    def test_ghost_module_keeps_first_out_channels(self):
        gm = R.GhostModule(8, 16, ratio=3, relu=False)  # init 6, new 12 -> 18 cut to 16
        self.assertEqual(gm.primary_conv[0].out_channels, 6)
        self.assertEqual(gm.cheap_operation[0].out_channels, 12)
        self.assertEqual(gm.cheap_operation[0].groups, 6)
        gm.eval()
        x = torch.randn(2, 8, 5, 5)
        y = gm(x)
        self.assertEqual(tuple(y.shape), (2, 16, 5, 5))
        with torch.no_grad():
            a = gm.primary_conv(x)
            b = gm.cheap_operation(a)
        self.assertTrue(torch.equal(y, torch.cat([a, b], 1)[:, :16]))

    def test_se_hard_sigmoid(self):
        se = R.SqueezeExcite(72, 0.25)
        self.assertEqual(se.conv_reduce.out_channels, 20)
        x = torch.randn(1, 72, 4, 4)
        with torch.no_grad():
            s = se.conv_expand(torch.relu(se.conv_reduce(x.mean((2, 3), keepdim=True))))
            want = x * torch.clamp(s + 3, 0, 6) / 6
            self.assertTrue(torch.allclose(se(x), want))

    def test_bottleneck_structure(self):
        m = R.ghostnet(1.0)
        b = m.blocks[1][0]
        self.assertEqual((b.conv_dw.stride, b.conv_dw.groups), ((2, 2), 48))
        self.assertEqual(len(m.blocks[0][0].shortcut), 0)  # identity
        self.assertEqual(len(m.blocks), 10)
        self.assertEqual(m.blocks[9][0].conv.out_channels, 960)
        self.assertEqual(m.conv_head.out_channels, 1280)
        self.assertIsNotNone(m.conv_head.bias)
        # dropout acts in training only
        m = R.randomize_(R.ghostnet(0.5, num_classes=10), seed=0)
        x = torch.randn(2, 3, 64, 64)
        m.eval()
        with torch.no_grad():
            self.assertTrue(torch.equal(m(x), m(x)))

    def test_random_logit_scale(self):
        for w in (0.5, 1.0, 1.3):
            m = R.randomize_(R.ghostnet(w), seed=1).eval()
            with torch.no_grad():
                y = m(R.random_input(3, 3, 224, 224, seed=1))
            std = float(y.std())
            spread = float((y - y.mean(0, keepdim=True)).std())
            print("width %.1f random logits: std %.3f max|.| %.3f std across inputs %.3f" %
                  (w, std, float(y.abs().max()), spread), flush=True)
            self.assertTrue(0.3 < std < 10.0, std)
            self.assertGreater(spread, 0.02 * std)

    def test_randomize_deterministic(self):
        a = R.randomize_(R.ghostnet(0.5), seed=4).state_dict()
        b = R.randomize_(R.ghostnet(0.5), seed=4).state_dict()
        for k in a:
            self.assertTrue(torch.equal(a[k], b[k]), k)


class Safetensors(unittest.TestCase):
    def test_layout_and_round_trip(self):
        p = os.path.join(TMP, "rt.safetensors")
        g = torch.Generator().manual_seed(0)
        tensors = {
            "a": torch.randn(3, 4, generator=g),
            "h": torch.randn(5, generator=g).half(),
            "b": torch.randn(2, 3, generator=g).bfloat16(),
            "n": torch.tensor(12345678901, dtype=torch.int64),
            "e": torch.zeros(0, 3),
            "d": torch.randn(2, generator=g).double(),
        }
        meta = {"format": "x", "k": "v \u00e9"}
        R.save_safetensors(p, tensors, meta)
        raw = T.read_bytes(p)
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual((8 + n) % 8, 0)
        hdr = json.loads(raw[8:8 + n].decode("utf-8"))
        self.assertEqual(hdr["__metadata__"], meta)
        self.assertEqual(hdr["n"], {"dtype": "I64", "shape": [], "data_offsets": [hdr["n"]["data_offsets"][0], hdr["n"]["data_offsets"][0] + 8]})
        self.assertEqual(hdr["b"]["dtype"], "BF16")
        self.assertEqual(hdr["h"]["dtype"], "F16")
        ends = sorted(tuple(v["data_offsets"]) for k, v in hdr.items() if k != "__metadata__")
        self.assertEqual(ends[0][0], 0)
        for (b0, e0), (b1, e1) in zip(ends, ends[1:]):
            self.assertEqual(e0, b1)  # contiguous, no gaps
        self.assertEqual(ends[-1][1], len(raw) - 8 - n)
        # raw bytes are little-endian
        off = 8 + n + hdr["a"]["data_offsets"][0]
        self.assertEqual(struct.unpack("<f", raw[off:off + 4])[0], float(tensors["a"][0, 0]))
        off = 8 + n + hdr["b"]["data_offsets"][0]
        bits = struct.unpack("<H", raw[off:off + 2])[0]
        self.assertEqual(struct.unpack("<f", struct.pack("<I", bits << 16))[0], float(tensors["b"][0, 0]))
        back, meta2 = R.load_safetensors(p)
        self.assertEqual(meta2, meta)
        for k, v in tensors.items():
            self.assertEqual(back[k].dtype, v.dtype, k)
            self.assertEqual(tuple(back[k].shape), tuple(v.shape), k)
            self.assertTrue(torch.equal(back[k], v), k)

    def test_model_file(self):
        p = os.path.join(TMP, "m.safetensors")
        m = R.randomize_(R.ghostnet(1.0, num_classes=10, in_chans=1), seed=2).eval()
        meta = R.save_model(p, m, input_size=(160, 192))
        self.assertEqual(meta, {"format": "ghostnet-model-1", "arch": "ghostnet", "width": "1.0",
                                "num_classes": "10", "in_channels": "1", "input_size": "160x192",
                                "mean": "0.5", "std": "0.5", "dropout": "0.2"})
        self.assertEqual(R.model_metadata(1.3)["mean"], "0.485,0.456,0.406")
        self.assertEqual(R.model_metadata(1.3)["std"], "0.229,0.224,0.225")
        self.assertEqual(R.model_metadata(1.3)["width"], "1.3")
        hdr = R.read_safetensors_header(p)[0]
        self.assertEqual(list(hdr), list(m.state_dict()))
        self.assertEqual(hdr["bn1.num_batches_tracked"]["shape"], [])
        m2, meta2 = R.load_model(p)
        x = R.random_input(2, 1, 64, 64)
        with torch.no_grad():
            self.assertTrue(torch.equal(m(x), m2(x)))
        for dt in ("f16", "bf16"):
            R.save_model(p, m, dtype=dt)
            m3, _ = R.load_model(p)
            with torch.no_grad():
                e = T.rel_err(m3(x).numpy(), m(x).numpy())
            print("%s rounding changes the logits by rel %.2e" % (dt, e), flush=True)
            self.assertLess(e, 0.1)


class Counts(unittest.TestCase):
    def test_table(self):
        self.assertEqual(C.check_table(), [])

    def test_cli_json(self):
        res = T.run_tool("count_ops.py", "--width", "1.3", "--input", "224", "--json")
        self.assertEqual(res.returncode, 0, res.describe())
        doc = json.loads(res.stdout)
        self.assertEqual((doc["total"]["params"], doc["total"]["macs"]), C.EXPECTED_224[1.3])
        self.assertEqual(sum(b["macs"] for b in doc["blocks"]), doc["total"]["macs"])
        self.assertEqual(sum(b["params"] for b in doc["blocks"]), doc["total"]["params"])

    def test_macs_formula_by_hand(self):
        # conv_stem at 224: 16 x 112 x 112 x 3 x 3 x 3; classifier 1280 x 1000
        r = C.count_config(1.0)
        layers = {l["name"]: l for l in r["layers"]}
        self.assertEqual(layers["conv_stem"]["macs"], 16 * 112 * 112 * 27)
        self.assertEqual(layers["classifier"]["macs"], 1280 * 1000)
        self.assertEqual(layers["conv_head"]["macs"], 960 * 1280)
        self.assertEqual(layers["blocks.3.0.se.conv_reduce"]["macs"], 72 * 20)
        self.assertEqual(layers["blocks.1.0.conv_dw"]["macs"], 48 * 56 * 56 * 9)


class Tools(unittest.TestCase):
    def test_converter(self):
        m = R.randomize_(R.ghostnet(0.5, num_classes=100), seed=9).eval()
        pth = os.path.join(TMP, "ck.pth")
        torch.save({"state_dict": {"module." + k: v for k, v in m.state_dict().items()}}, pth)
        out = os.path.join(TMP, "ck.safetensors")
        res = T.run_tool("pth_to_safetensors.py", pth, out, "--arch", "ghostnet", "--width",
                         "0.5", "--input", "192x160")
        self.assertEqual(res.returncode, 0, res.describe())
        m2, meta = R.load_model(out)
        self.assertEqual(meta["num_classes"], "100")
        self.assertEqual(meta["input_size"], "192x160")
        x = R.random_input(1, 3, 64, 64)
        with torch.no_grad():
            self.assertTrue(torch.equal(m(x), m2(x)))
        # without num_batches_tracked (old checkpoints): accepted, written as 0
        sd = {k: v for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
        torch.save(sd, pth)
        res = T.run_tool("pth_to_safetensors.py", pth, out, "--width", "0.5")
        self.assertEqual(res.returncode, 0, res.describe())
        t, _ = R.load_safetensors(out)
        self.assertEqual(int(t["bn1.num_batches_tracked"]), 0)

    def test_make_case(self):
        d = os.path.join(TMP, "case")
        res = T.run_tool("make_case.py", "--width", "1.0", "--classes", "10", "--in-chans", "1",
                         "--batch", "3", "--size", "160x192", "--seed", "5", "--dtype", "f16",
                         "--out", d)
        self.assertEqual(res.returncode, 0, res.describe())
        x = np.load(os.path.join(d, "input.npy"))
        y = np.load(os.path.join(d, "expected.npy"))
        self.assertEqual((x.shape, x.dtype.str), ((3, 1, 160, 192), "<f4"))
        self.assertEqual((y.shape, y.dtype.str), ((3, 10), "<f4"))
        m, meta = R.load_model(os.path.join(d, "model.safetensors"))
        self.assertEqual(meta["input_size"], "160x192")
        self.assertEqual(R.read_safetensors_header(os.path.join(d, "model.safetensors"))[0]
                         ["conv_stem.weight"]["dtype"], "F16")
        self.assertLess(T.rel_err(T.torch_logits(m, x), y), 1e-6)


if __name__ == "__main__":
    T.main(need_cli=False)
