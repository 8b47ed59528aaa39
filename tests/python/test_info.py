#!/usr/bin/python3
"""`ghostnet info --json` params / MACs vs PyTorch (tools/count_ops.py) and GHOSTNET.md.

For widths 0.5 / 1.0 / 1.3 at 224 and at 160x192 (and one 1-channel, 10-class config), the CLI's
{"total": {"params", "macs"}} must equal count_ops.py's counts of the reference model to the
unit; at 224 they must also equal GHOSTNET.md's table. `info --weights FILE` must agree with the
config the file describes.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gn_testlib as T  # noqa: E402  (fails hard when torch is missing)

TMP = T.scratch("info")
C = T.count_ops


class Info(T.CliTestCase):
    def info_json(self, *args):
        res = T.run_cli("info", *(list(args) + ["--json"]))
        self.assertSucceeded(res)
        try:
            doc = json.loads(res.stdout)
        except ValueError as e:
            self.fail("info --json printed invalid JSON (%s)\n%s" % (e, res.describe()))
        self.assertIsInstance(doc, dict)
        self.assertIn("total", doc, res.stdout[:500])
        tot = doc["total"]
        for k in ("params", "macs"):
            self.assertIn(k, tot)
            self.assertIsInstance(tot[k], int, "total.%s is not an integer: %r" % (k, tot[k]))
        self.assertIsInstance(doc.get("blocks"), list, "info JSON lacks a 'blocks' list")
        self.assertGreater(len(doc["blocks"]), 0, "info JSON has an empty 'blocks' list")
        return doc

    def test_table_at_224(self):
        self.assertEqual(C.check_table(), [], "count_ops.py disagrees with GHOSTNET.md")
        for width, (params, macs) in sorted(C.EXPECTED_224.items()):
            with self.subTest(width=width):
                doc = self.info_json("--arch", "ghostnet", "--width", str(width),
                                     "--input", "224", "--classes", "1000")
                got = (doc["total"]["params"], doc["total"]["macs"])
                ref = C.count_config(width, (224, 224))["total"]
                print("width %.1f @224: C params %d macs %d | PyTorch %d %d | table %d %d" % (
                    width, got[0], got[1], ref["params"], ref["macs"], params, macs), flush=True)
                self.assertEqual(got, (ref["params"], ref["macs"]))
                self.assertEqual(got, (params, macs))

    def test_default_input_is_224(self):
        doc = self.info_json("--arch", "ghostnet", "--width", "1.0")
        self.assertEqual((doc["total"]["params"], doc["total"]["macs"]), C.EXPECTED_224[1.0])

    def test_other_sizes_and_configs(self):
        cases = [(w, (160, 192), 1000, 3) for w in (0.5, 1.0, 1.3)]
        cases += [(1.0, (96, 128), 10, 1), (0.5, (32, 32), 100, 3)]
        for width, (h, w), classes, chans in cases:
            tag = "w%.1f %dx%d c%d in%d" % (width, h, w, classes, chans)
            with self.subTest(tag):
                args = ["--arch", "ghostnet", "--width", str(width), "--input", "%dx%d" % (h, w),
                        "--classes", str(classes)]
                if chans != 3:
                    args += ["--in-chans", str(chans)]
                doc = self.info_json(*args)
                got = (doc["total"]["params"], doc["total"]["macs"])
                ref = C.count_config(width, (h, w), classes, chans)["total"]
                print("%-24s C params %d macs %d | PyTorch %d %d" % (
                    tag, got[0], got[1], ref["params"], ref["macs"]), flush=True)
                self.assertEqual(got, (ref["params"], ref["macs"]))

    def test_info_from_weights_file(self):
        path = os.path.join(TMP, "w1.3_c10.safetensors")
        m = T.R.ghostnet(1.3, num_classes=10, in_chans=3)
        T.R.save_model(path, m, input_size=(224, 224))
        doc = self.info_json("--weights", path)
        ref = C.count_config(1.3, (224, 224), 10, 3)["total"]
        got = (doc["total"]["params"], doc["total"]["macs"])
        print("--weights w1.3 c10: C %s | PyTorch %s" % (got, (ref["params"], ref["macs"])), flush=True)
        self.assertEqual(got, (ref["params"], ref["macs"]))


if __name__ == "__main__":
    T.main()
