#!/usr/bin/python3
"""ghostnet forward vs the PyTorch reference (tools/ghostnet_ref.py) on random models.

Criterion: max|c - t| / max|t| <= 1e-4 (c: C logits, t: PyTorch logits), for
  * widths 0.5 / 1.0 / 1.3, batch 1 and 3, inputs 224x224 and 160x192 (one model per width,
    metadata input_size 224x224: the input size of `forward` comes from the .npy);
  * a 1-channel model (width 1.0, 10 classes);
  * F16 and BF16 model files (PyTorch runs the same rounded weights, read back from the file);
  * a case written by tools/make_case.py (exercises that tool end to end).
Every case prints its measured error.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gn_testlib as T  # noqa: E402  (fails hard when torch is missing)
from gn_testlib import np  # noqa: E402

TOL = 1e-4
TMP = T.scratch("parity")
RESULTS = []


class Parity(T.CliTestCase):
    def check(self, model_path, ref, x, tag):
        t = T.torch_logits(ref, x)
        c = T.forward_cli(self, model_path, x, tag)
        self.assertEqual(c.shape, t.shape, "%s: logits shape %s, expected %s" % (tag, c.shape, t.shape))
        self.assertTrue(np.all(np.isfinite(c)), "%s: non-finite logits" % tag)
        err = T.rel_err(c, t)
        line = "%-34s max|t| %8.4f  max|c-t| %.3e  rel %.3e" % (
            tag, float(np.abs(t).max()), float(np.abs(c - t).max()), err)
        print(line, flush=True)
        RESULTS.append(line)
        self.assertLessEqual(err, TOL, "%s: relative error %.3e > %.0e" % (tag, err, TOL))

    def test_widths_batches_sizes(self):
        for wi, width in enumerate((0.5, 1.0, 1.3)):
            path = os.path.join(TMP, "w%s.safetensors" % width)
            ref = T.write_model(path, width=width, classes=1000, seed=100 + wi)
            for batch in (1, 3):
                for (h, w) in ((224, 224), (160, 192)):
                    tag = "w%.1f_b%d_%dx%d" % (width, batch, h, w)
                    with self.subTest(tag):
                        x = T.random_input(batch, 3, h, w, seed=10 * wi + 2 * batch + (h == 224))
                        self.check(path, ref, x, tag)

    def test_one_channel(self):
        path = os.path.join(TMP, "gray.safetensors")
        ref = T.write_model(path, width=1.0, classes=10, in_chans=1, seed=7, input_size=(64, 64))
        meta = T.R.read_safetensors_header(path)[1]
        self.assertEqual((meta["in_channels"], meta["mean"], meta["std"]), ("1", "0.5", "0.5"))
        for batch, (h, w) in ((1, (64, 64)), (3, (96, 80))):
            tag = "gray_w1.0_c10_b%d_%dx%d" % (batch, h, w)
            with self.subTest(tag):
                self.check(path, ref, T.random_input(batch, 1, h, w, seed=batch), tag)

    def test_half_precision_files(self):
        for dtype, width in (("f16", 1.0), ("bf16", 1.0), ("f16", 0.5), ("bf16", 1.3)):
            tag = "%s_w%.1f_b2_224x224" % (dtype, width)
            with self.subTest(tag):
                path = os.path.join(TMP, "%s_w%s.safetensors" % (dtype, width))
                ref = T.write_model(path, width=width, classes=1000, seed=11, dtype=dtype)
                hdr = T.R.read_safetensors_header(path)[0]
                self.assertEqual(hdr["conv_stem.weight"]["dtype"], dtype.upper())
                self.assertEqual(hdr["bn1.num_batches_tracked"]["dtype"], "I64")
                self.check(path, ref, T.random_input(2, 3, 224, 224, seed=5), tag)

    def test_make_case_tool(self):
        d = os.path.join(TMP, "make_case_bf16")
        res = T.run_tool("make_case.py", "--width", "0.5", "--classes", "100", "--in-chans", "3",
                         "--batch", "2", "--size", "128x96", "--seed", "3", "--dtype", "bf16",
                         "--out", d)
        self.assertSucceeded(res)
        x = np.load(os.path.join(d, "input.npy"))
        t = np.load(os.path.join(d, "expected.npy"))
        self.assertEqual(x.shape, (2, 3, 128, 96))
        self.assertEqual(t.shape, (2, 100))
        c = T.forward_cli(self, os.path.join(d, "model.safetensors"), x, "make_case_bf16")
        err = T.rel_err(c, t)
        line = "%-34s max|t| %8.4f  max|c-t| %.3e  rel %.3e" % (
            "make_case_bf16_w0.5_b2_128x96", float(np.abs(t).max()), float(np.abs(c - t).max()), err)
        print(line, flush=True)
        RESULTS.append(line)
        self.assertLessEqual(err, TOL)


if __name__ == "__main__":
    T.main()
