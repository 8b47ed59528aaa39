#!/usr/bin/python3
"""Checkpoints between PyTorch and the ghostnet CLI.

  * a torch.save'd state_dict of the reference model (plain, and wrapped {"state_dict": ...} with
    "module." prefixes) converted by tools/pth_to_safetensors.py runs in `ghostnet forward` with
    PyTorch's logits;
  * a model file with one tensor renamed is refused, naming the missing tensor;
  * a model file with a tensor of the wrong shape is refused, naming that tensor;
  * the converter itself refuses the same defects;
  * a file from `ghostnet init` loads into the PyTorch reference with strict=True (every
    num_batches_tracked included) and gives the same logits as `ghostnet forward`.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gn_testlib as T  # noqa: E402  (fails hard when torch is missing)
from gn_testlib import np, torch  # noqa: E402

TOL = 1e-4
TMP = T.scratch("checkpoint")
R = T.R


def fresh(name):
    p = os.path.join(TMP, name)
    if os.path.exists(p):
        os.remove(p)
    return p


class Checkpoint(T.CliTestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = R.randomize_(R.ghostnet(1.0), seed=21).eval()
        cls.x = T.random_input(2, 3, 224, 224, seed=21)
        cls.t = T.torch_logits(cls.model, cls.x)
        cls.xpath = os.path.join(TMP, "input.npy")
        np.save(cls.xpath, cls.x)
        cls.good = os.path.join(TMP, "converted.safetensors")
        pth = os.path.join(TMP, "plain.pth")
        torch.save(cls.model.state_dict(), pth)
        res = T.run_tool("pth_to_safetensors.py", pth, cls.good, "--arch", "ghostnet",
                         "--width", "1.0", "--classes", "1000", "--in-chans", "3",
                         "--input", "224x224")
        if res.returncode != 0:
            raise AssertionError("converter failed\n" + res.describe())

    def forward(self, weights, tag):
        out = fresh(tag + "_out.npy")
        return T.run_cli("forward", "--weights", weights, "--input", self.xpath,
                         "--output", out), out

    def check_logits(self, weights, tag, ref_logits=None):
        res, out = self.forward(weights, tag)
        self.assertSucceeded(res)
        c = np.load(out)
        t = self.t if ref_logits is None else ref_logits
        self.assertEqual(c.shape, t.shape)
        err = T.rel_err(c, t)
        print("%-28s max|t| %8.4f  rel err %.3e" % (tag, float(np.abs(t).max()), err), flush=True)
        self.assertLessEqual(err, TOL)

    def write_variant(self, name, edit):
        tensors, meta = R.load_safetensors(self.good)
        edit(tensors)
        path = fresh(name)
        R.save_safetensors(path, tensors, meta)
        return path

    # -- conversion ---------------------------------------------------------------------------

    def test_converted_plain(self):
        meta = R.read_safetensors_header(self.good)[1]
        self.assertEqual(meta, R.model_metadata(1.0, 1000, 3, (224, 224)))
        tensors, _ = R.load_safetensors(self.good)
        self.assertEqual(list(tensors), list(self.model.state_dict()))
        self.check_logits(self.good, "converted_plain")

    def test_converted_wrapped_module_prefix(self):
        pth = os.path.join(TMP, "wrapped.pth")
        sd = {"module." + k: v for k, v in self.model.state_dict().items()}
        torch.save({"epoch": 3, "state_dict": sd, "optimizer": {}}, pth)
        dst = fresh("wrapped.safetensors")
        res = T.run_tool("pth_to_safetensors.py", pth, dst, "--width", "1.0")
        self.assertSucceeded(res)
        self.check_logits(dst, "converted_wrapped")
        pth2 = os.path.join(TMP, "model_key.pth")
        torch.save({"model": self.model.state_dict()}, pth2)
        dst2 = fresh("model_key.safetensors")
        self.assertSucceeded(T.run_tool("pth_to_safetensors.py", pth2, dst2, "--width", "1.0",
                                        "--dtype", "f16"))
        ref16, _ = R.load_model(dst2)
        self.check_logits(dst2, "converted_model_key_f16", T.torch_logits(ref16, self.x))

    def test_converter_refuses_bad_checkpoints(self):
        sd = self.model.state_dict()
        bad = dict(sd)
        bad["blocks.3.0.se.conv_reduce.weights"] = bad.pop("blocks.3.0.se.conv_reduce.weight")
        pth = os.path.join(TMP, "renamed.pth")
        torch.save(bad, pth)
        dst = fresh("renamed_conv.safetensors")
        res = T.run_tool("pth_to_safetensors.py", pth, dst, "--width", "1.0")
        self.assertNotEqual(res.returncode, 0, res.describe())
        self.assertIn("blocks.3.0.se.conv_reduce.weight", res.stderr)
        self.assertFalse(os.path.exists(dst))
        bad = dict(sd)
        bad["classifier.weight"] = bad["classifier.weight"].t().contiguous()
        torch.save(bad, pth)
        res = T.run_tool("pth_to_safetensors.py", pth, dst, "--width", "1.0", "--classes", "1000")
        self.assertNotEqual(res.returncode, 0, res.describe())
        self.assertIn("classifier.weight", res.stderr)
        self.assertFalse(os.path.exists(dst))
        # the wrong width is a shape error too
        torch.save(sd, pth)
        res = T.run_tool("pth_to_safetensors.py", pth, dst, "--width", "1.3")
        self.assertNotEqual(res.returncode, 0, res.describe())
        self.assertIn("conv_stem.weight", res.stderr)

    # -- refusal by the C loader --------------------------------------------------------------

    def test_renamed_tensor_refused(self):
        name = "blocks.3.0.se.conv_reduce.weight"

        def edit(t):
            t[name + "s"] = t.pop(name)
        path = self.write_variant("renamed.safetensors", edit)
        res, out = self.forward(path, "renamed")
        self.assertCleanFailure(res, mentions=(name,), output=out)
        print("renamed tensor -> %s" % res.stderr.strip(), flush=True)

    def test_extra_tensor(self):
        # An extra, unknown tensor: the C side may accept (ignore) or refuse it, but if it refuses
        # it must name it, and if it accepts it the logits must be right.
        def edit(t):
            t["blocks.3.0.se.extra_thing"] = torch.zeros(3)
        path = self.write_variant("extra.safetensors", edit)
        res, out = self.forward(path, "extra")
        if res.returncode == 0:
            c = np.load(out)
            self.assertLessEqual(T.rel_err(c, self.t), TOL)
            print("extra tensor -> accepted", flush=True)
        else:
            self.assertCleanFailure(res, mentions=("blocks.3.0.se.extra_thing",), output=out)
            print("extra tensor -> %s" % res.stderr.strip(), flush=True)

    def test_transposed_classifier_refused(self):
        def edit(t):
            t["classifier.weight"] = t["classifier.weight"].t().contiguous()
        path = self.write_variant("transposed.safetensors", edit)
        res, out = self.forward(path, "transposed")
        self.assertCleanFailure(res, mentions=("classifier.weight",), output=out)
        print("transposed classifier -> %s" % res.stderr.strip(), flush=True)

    def test_padded_stem_refused(self):
        def edit(t):
            w = t["conv_stem.weight"]
            t["conv_stem.weight"] = torch.nn.functional.pad(w, (1, 1, 1, 1)).contiguous()
        path = self.write_variant("stem5x5.safetensors", edit)
        self.assertEqual(R.read_safetensors_header(path)[0]["conv_stem.weight"]["shape"],
                         [16, 3, 5, 5])
        res, out = self.forward(path, "stem5x5")
        self.assertCleanFailure(res, mentions=("conv_stem.weight",), output=out)
        print("padded stem -> %s" % res.stderr.strip(), flush=True)

    def test_int_dtype_for_float_tensor_refused(self):
        def edit(t):
            t["bn1.running_var"] = t["bn1.running_var"].to(torch.int64)
        path = self.write_variant("intvar.safetensors", edit)
        res, out = self.forward(path, "intvar")
        self.assertCleanFailure(res, mentions=("bn1.running_var",), output=out)
        print("I64 running_var -> %s" % res.stderr.strip(), flush=True)

    # -- ghostnet init -> PyTorch -------------------------------------------------------------

    def test_init_loads_strict_in_pytorch(self):
        cases = [("1.0", "1000", "3", "224", 5, (224, 224)),
                 ("0.5", "10", "1", "160x192", 6, (160, 192))]
        for width, classes, chans, size, seed, hw in cases:
            tag = "init_w%s_c%s_in%s" % (width, classes, chans)
            with self.subTest(tag):
                path = fresh(tag + ".safetensors")
                res = T.run_cli("init", "--arch", "ghostnet", "--width", width, "--classes",
                                classes, "--in-chans", chans, "--input", size, "--seed",
                                str(seed), "-o", path)
                self.assertSucceeded(res)
                hdr, meta, start, _ = R.read_safetensors_header(path)
                self.assertEqual(meta.get("format"), "ghostnet-model-1", meta)
                self.assertEqual(meta.get("arch"), "ghostnet", meta)
                self.assertEqual(float(meta.get("width", "nan")), float(width), meta)
                self.assertEqual(meta.get("num_classes"), classes, meta)
                self.assertEqual(meta.get("in_channels"), chans, meta)
                self.assertEqual(meta.get("input_size"), "%dx%d" % hw, meta)
                self.assertEqual(len(meta.get("mean", "").split(",")), int(chans), meta)
                self.assertEqual(len(meta.get("std", "").split(",")), int(chans), meta)
                self.assertIn("dropout", meta)
                ref = R.ghostnet(float(width), num_classes=int(classes), in_chans=int(chans))
                self.assertEqual(sorted(hdr), sorted(ref.state_dict()),
                                 "init file keys differ from the PyTorch state_dict")
                for k, info in hdr.items():
                    if k.endswith("num_batches_tracked"):
                        self.assertEqual((info["dtype"], info["shape"]), ("I64", []), k)
                    else:
                        self.assertEqual(info["dtype"], "F32", k)
                tensors, _ = R.load_safetensors(path)
                ref.load_state_dict(tensors, strict=True)
                ref.eval()
                x = T.random_input(2, int(chans), hw[0], hw[1], seed=seed)
                t = T.torch_logits(ref, x)
                self.assertTrue(np.all(np.isfinite(t)))
                self.assertGreater(float(np.ptp(t)), 0.0, "init model gives constant logits")
                xin = os.path.join(TMP, tag + "_x.npy")
                np.save(xin, x)
                out = fresh(tag + "_out.npy")
                res = T.run_cli("forward", "--weights", path, "--input", xin, "--output", out)
                self.assertSucceeded(res)
                c = np.load(out)
                err = T.rel_err(c, t)
                print("%-28s max|t| %.3e  rel err %.3e" % (tag, float(np.abs(t).max()), err),
                      flush=True)
                self.assertLessEqual(err, TOL)


if __name__ == "__main__":
    T.main()
