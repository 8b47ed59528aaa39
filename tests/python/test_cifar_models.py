#!/usr/bin/python3
"""CIFAR ResNet / VGG-16 and their Ghost versions (issue #5) against live PyTorch
(tools/cifar_ref.py, whose `ghostify` replaces modules of an ordinary PyTorch model).

  * sizes: `ghostnet info --json` totals equal the issue's numbers (ResNet-56, VGG-16,
    Ghost-VGG-16 s=2 d=3, and Ghost-VGG-16 at s=3/4/5 within 1.5% of its ~107M/81M/67M MACs),
    and equal PyTorch's count of the reference model to the unit for every depth, several
    (s, d) including the channel slice (ceil(out/s)*s > out), 1-channel input and other sizes;
  * forward: `ghostnet forward` on a random model file written from PyTorch gives PyTorch's
    logits within max|c - t| / max|t| <= 1e-4 (and so does their input-dependent part, the
    logits minus their batch mean), for ResNet-20, Ghost-ResNet-20 (s=2, s=3),
    VGG-16, Ghost-VGG-16 (s=2, d=3) and a 1-channel Ghost-VGG-16 (s=3, d=5) with dropout in its
    metadata (identity at inference), and a 2-channel Ghost-ResNet-32 with s=4, d=1;
  * model files: a file from `ghostnet init --arch ... --ghost s,d` loads into the reference with
    strict=True, its metadata carries arch/depth/ghost, and PyTorch's logits on it equal
    `ghostnet forward`'s;
  * CLI options: --arch resnetN / resnet --depth N / vgg16 and --ghost S,D in any order, and
    clean errors for contradicting or invalid ones.
Every case prints its measured result.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gn_testlib as T  # noqa: E402  (fails hard when torch is missing)
import cifar_ref as C  # noqa: E402  (tools/, on the path through gn_testlib)
from gn_testlib import np  # noqa: E402

TOL = 1e-4
TMP = T.scratch("cifar_models")

# Issue #5 (3 x 32 x 32 input, 10 classes): params, MACs.
RESNET56 = (855770, 125747840)
VGG16 = (14986698, 313463808)
GHOST_VGG16_S2_D3 = (7651050, 158699520)
GHOST_VGG16_MACS_ABOUT = {3: 107e6, 4: 81e6, 5: 67e6}


def cli_args(arch, ghost=None, classes=10, in_chans=3, size=(32, 32)):
    args = ["--arch", arch, "--classes", classes, "--in-chans", in_chans,
            "--input", "%dx%d" % size]
    return args + (["--ghost", "%d,%d" % ghost] if ghost else [])


class CifarModels(T.CliTestCase):
    def info_totals(self, *args):
        res = T.run_cli("info", *(list(args) + ["--json"]))
        self.assertSucceeded(res)
        total = json.loads(res.stdout)["total"]
        return total["params"], total["macs"]

    def test_issue_numbers(self):
        for arch, ghost, want in (("resnet56", None, RESNET56), ("vgg16", None, VGG16),
                                  ("vgg16", (2, 3), GHOST_VGG16_S2_D3)):
            with self.subTest(arch=arch, ghost=ghost):
                got = self.info_totals(*cli_args(arch, ghost))
                ref = C.count(C.build(arch, ghost=ghost))
                print("%-8s ghost %-6s C %s | PyTorch %s | issue %s" % (arch, ghost, got, ref,
                                                                         want), flush=True)
                self.assertEqual(got, want)
                self.assertEqual(ref, want)
                res = T.run_cli("info", *cli_args(arch, ghost))
                self.assertSucceeded(res)
                total = res.stdout.splitlines()[-1].split()
                self.assertEqual(total, ["total", format(want[0], ","), format(want[1], ",")])

    def test_ghost_vgg_ratios(self):
        for s, about in sorted(GHOST_VGG16_MACS_ABOUT.items()):
            with self.subTest(s=s):
                got = self.info_totals(*cli_args("vgg16", (s, 3)))
                print("Ghost-VGG-16 s=%d d=3: %d MACs (paper: about %.0fM)" % (s, got[1],
                                                                            about / 1e6))
                self.assertEqual(got, C.count(C.build("vgg16", ghost=(s, 3))))
                self.assertLess(abs(got[1] - about) / about, 0.015)

    def test_sizes_against_pytorch(self):
        cases = [("resnet%d" % d, g, 10, 3, (32, 32)) for d in (20, 32, 44, 56, 110)
                 for g in (None, (2, 3), (3, 3))]
        cases += [("vgg16", g, 10, 3, (32, 32)) for g in ((2, 1), (2, 5), (3, 7), (6, 3))]
        cases += [("resnet20", (3, 5), 100, 1, (28, 28)), ("resnet32", None, 7, 4, (40, 24)),
                  ("vgg16", (4, 3), 100, 1, (32, 32))]
        for arch, ghost, classes, chans, size in cases:
            tag = "%s ghost %s c%d in%d %dx%d" % (arch, ghost, classes, chans, size[0], size[1])
            with self.subTest(tag):
                got = self.info_totals(*cli_args(arch, ghost, classes, chans, size))
                ref = C.count(C.build(arch, classes, chans, ghost), size)
                print("%-34s params %8d MACs %10d (PyTorch %d %d)" % (tag, got[0], got[1],
                                                                     ref[0], ref[1]), flush=True)
                self.assertEqual(got, ref)

    def test_cli_options(self):
        """--arch resnet --depth N is resnetN; options apply whatever their order; bad
        combinations are usage errors (exit 2) or library errors naming the problem."""
        same = [(["--arch", "resnet", "--depth", "32"], ["--arch", "resnet32"]),
                (["--classes", "100", "--in-chans", "1", "--arch", "vgg16", "--ghost", "3,5"],
                 ["--ghost", "3,5", "--arch", "vgg", "--in-chans", "1", "--classes", "100"]),
                (["--depth", "110", "--arch", "resnet"], ["--arch", "resnet110", "--depth", "110"])]
        for a, b in same:
            self.assertEqual(self.info_totals(*a), self.info_totals(*b), "%s vs %s" % (a, b))
        self.assertEqual(self.info_totals("--classes", "100", "--in-chans", "1", "--arch",
                                          "vgg16", "--ghost", "3,5"),
                         C.count(C.build("vgg16", 100, 1, (3, 5))))
        for args, code, mention in ((["--arch", "resnet56", "--depth", "20"], 2, "depth"),
                                    (["--arch", "resnet20", "--ghost", "2,4"], 2, "--ghost"),
                                    (["--arch", "resnet20", "--ghost", "1,3"], 2, "--ghost"),
                                    (["--arch", "resnet20", "--ghost", "2"], 2, "--ghost"),
                                    (["--arch", "vgg19"], 1, "VGG depth"),
                                    (["--arch", "resnet57"], 1, "6n + 2"),
                                    (["--arch", "alexnet"], 2, "unknown architecture"),
                                    (["--arch", "ghostnet", "--ghost", "2,3"], 1, "ghost"),
                                    (["--arch", "vgg16", "--input", "28"], 1, "1x1")):
            with self.subTest(args=args):
                res = T.run_cli("info", *args)
                self.assertCleanFailure(res, mentions=(mention,))
                self.assertEqual(res.returncode, code, res.describe())

    def test_forward_parity(self):
        cases = [("resnet20", None, 3, 10, 0.0), ("resnet20", (2, 3), 3, 10, 0.0),
                 ("resnet20", (3, 3), 3, 10, 0.0), ("vgg16", None, 3, 10, 0.0),
                 ("vgg16", (2, 3), 3, 10, 0.0), ("vgg16", (3, 5), 1, 7, 0.5),
                 ("resnet32", (4, 1), 2, 5, 0.0)]
        for i, (arch, ghost, chans, classes, dropout) in enumerate(cases):
            tag = "cifar_%s_%s_in%d" % (arch, "g%d%d" % ghost if ghost else "plain", chans)
            with self.subTest(tag):
                model = C.random_model(arch, classes, chans, ghost, seed=30 + i,
                                       dropout=dropout).eval()
                path = os.path.join(TMP, tag + ".safetensors")
                C.save_model(path, model)
                x = T.random_input(3, chans, 32, 32, seed=i)
                t = T.torch_logits(model, x)
                c = T.forward_cli(self, path, x, tag)
                err = T.rel_err(c, t)
                # the part of the logits that depends on the input, held to the same criterion
                centred = T.rel_err(c - c.mean(0), t - t.mean(0))
                print("%-28s max|t| %8.4f  max|c-t| %.3e  rel %.3e  rel (centred) %.3e" % (
                    tag, float(np.abs(t).max()), float(np.abs(c - t).max()), err, centred),
                    flush=True)
                self.assertLessEqual(err, TOL)
                self.assertLessEqual(centred, TOL)

    def test_init_files_load_strict(self):
        for arch, ghost, chans in (("resnet20", (3, 3), 3), ("resnet44", None, 1),
                                   ("vgg16", (2, 3), 3)):
            tag = "init_%s_%s" % (arch, "g%d%d" % ghost if ghost else "plain")
            with self.subTest(tag):
                path = os.path.join(TMP, tag + ".safetensors")
                self.assertSucceeded(T.run_cli("init", *cli_args(arch, ghost, 10, chans),
                                               "--seed", 5, "-o", path))
                model, meta = C.load_model(path, strict=True)
                want_meta = {"arch": C.parse_arch(arch)[0], "depth": str(C.parse_arch(arch)[1])}
                if ghost:
                    want_meta["ghost"] = "%d,%d" % ghost
                self.assertEqual({k: meta.get(k) for k in want_meta}, want_meta)
                self.assertEqual("ghost" in meta, bool(ghost))
                self.assertEqual(self.info_totals("--weights", path), C.count(model))
                x = T.random_input(2, chans, 32, 32, seed=9)
                c = T.forward_cli(self, path, x, tag)
                err = T.rel_err(c, T.torch_logits(model, x))
                print("%-28s strict load ok, metadata %s, rel %.3e" % (tag, want_meta, err))
                self.assertLessEqual(err, TOL)


if __name__ == "__main__":
    T.main()
