#!/usr/bin/env python3
"""`ghostnet train` and `ghostnet eval` end to end, on a small slice of Fashion-MNIST (written
as IDX files by the test) and on a tiny CIFAR-format data set:

- training writes the model, a CSV line per epoch and a checkpoint; the model file, loaded by
  the PyTorch reference (tools/eval_ref.py), gets the same test accuracy as `ghostnet eval`;
- a run killed with SIGKILL in the middle of an epoch leaves a checkpoint that loads, and
  resuming it ends with a model identical, byte for byte, to an uninterrupted run's;
- Ctrl-C (SIGINT) saves a checkpoint in the middle of an epoch and exits with 130; resuming
  it also ends identical;
- the confusion matrix adds up and agrees with the accuracy.
"""

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import time

import numpy as np

import gn_testlib as T

sys.path.insert(0, T.TOOLS)
import eval_ref  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def write_idx(path, array):
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape)
    with gzip.open(path + ".gz", "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


class TrainCli(T.CliTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = T.scratch("train_cli")
        cls.data = os.path.join(cls.dir, "fashion_slice")
        os.makedirs(cls.data, exist_ok=True)
        if not os.path.isdir(FASHION):
            raise AssertionError("%s is missing (install dataset-fashion-mnist)" % FASHION)
        for split, count in (("train", 1536), ("t10k", 512)):
            images, labels = eval_ref.load_split(FASHION, "train" if split == "train" else "test")
            write_idx(os.path.join(cls.data, split + "-images-idx3-ubyte"), images[:count])
            write_idx(os.path.join(cls.data, split + "-labels-idx1-ubyte"), labels[:count])

    def train_args(self, out, epochs=3, extra=()):
        return ["train", "--arch", "ghostnet", "--width", "0.5", "--small-input",
                "--data", self.data, "--epochs", epochs, "--batch", 64, "--lr", 0.1,
                "--threads", 2, "--seed", 7, "--crop-padding", 2, "-o", out] + list(extra)

    def run_train(self, out, **kw):
        res = T.run_cli(*self.train_args(out, **kw))
        self.assertSucceeded(res)
        return res

    def uninterrupted(self):
        if not hasattr(TrainCli, "_reference"):
            out = os.path.join(self.dir, "straight.safetensors")
            self.run_train(out)
            TrainCli._reference = T.read_bytes(out)
        return TrainCli._reference

    def test_outputs_and_pytorch_accuracy(self):
        out = os.path.join(self.dir, "basic.safetensors")
        self.run_train(out, epochs=2)
        with open(out + ".csv") as f:
            lines = f.read().strip().splitlines()
        self.assertEqual(lines[0], "epoch,lr,train_loss,train_acc,val_loss,val_acc,seconds")
        self.assertEqual([l.split(",")[0] for l in lines[1:]], ["1", "2"])
        self.assertTrue(os.path.exists(out + ".ckpt"))
        res = T.run_cli("eval", "--weights", out, "--data", self.data, "--json")
        self.assertSucceeded(res)
        ours = json.loads(res.stdout)
        theirs = eval_ref.evaluate(out, self.data, "test")
        print("accuracy on 512 test images: ghostnet %.4f, PyTorch on the same file %.4f"
              % (ours["accuracy"], theirs["accuracy"]))
        self.assertEqual(ours["images"], 512)
        self.assertAlmostEqual(ours["accuracy"], theirs["accuracy"], delta=1.5 / 512)
        self.assertGreater(ours["accuracy"], 0.5)  # it learned (10 classes: chance is 0.1)
        confusion = np.array(ours["confusion"])
        self.assertEqual(int(confusion.sum()), 512)
        self.assertAlmostEqual(np.trace(confusion) / 512, ours["accuracy"], places=6)
        # the last CSV line's val accuracy is the same evaluation
        self.assertAlmostEqual(float(lines[-1].split(",")[5]), ours["accuracy"], places=5)

    def wait_for_epoch(self, proc, csv, epochs_done):
        deadline = time.time() + 600
        while time.time() < deadline:
            if proc.poll() is not None:
                self.fail("training ended early (exit %s)" % proc.returncode)
            if os.path.exists(csv):
                with open(csv) as f:
                    if len(f.read().strip().splitlines()) > epochs_done:
                        return
            time.sleep(0.05)
        self.fail("training made no progress")

    def interrupt_and_resume(self, name, sig, expect_exit):
        out = os.path.join(self.dir, name + ".safetensors")
        for suffix in ("", ".csv", ".ckpt"):
            if os.path.exists(out + suffix):
                os.remove(out + suffix)
        proc = subprocess.Popen([T.cli_path()] + [str(a) for a in self.train_args(out)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.wait_for_epoch(proc, out + ".csv", 1)
        time.sleep(0.8)  # into the second epoch
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
        self.assertEqual(proc.returncode, expect_exit, err.decode())
        ckpt = out + ".ckpt"
        res = T.run_cli("info", "--weights", ckpt)  # the checkpoint is whole and loads
        self.assertSucceeded(res)
        res = T.run_cli("train", "--resume", ckpt)
        self.assertSucceeded(res)
        resumed = T.read_bytes(out)
        self.assertEqual(resumed, self.uninterrupted(),
                         "%s: the resumed run's model differs from the uninterrupted one" % name)
        with open(out + ".csv") as f:
            self.assertEqual(len(f.read().strip().splitlines()), 4)  # header + 3 epochs

    def test_sigkill_mid_epoch_then_resume(self):
        self.interrupt_and_resume("killed", signal.SIGKILL, -signal.SIGKILL)

    def test_ctrl_c_mid_epoch_then_resume(self):
        self.interrupt_and_resume("interrupted", signal.SIGINT, 130)

    def test_cifar_format(self):
        """A tiny CIFAR-10 binary set: 5 training batches and a test batch of 3x32x32 records."""
        d = os.path.join(self.dir, "cifar_tiny")
        os.makedirs(d, exist_ok=True)
        rng = np.random.default_rng(3)
        names = ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]
        for name in names:
            labels = rng.integers(0, 10, size=20, dtype=np.uint8)
            # images brighter with the label, so there is something to learn
            pixels = (rng.integers(0, 64, size=(20, 3072)) + labels[:, None] * 19).astype(np.uint8)
            records = np.concatenate([labels[:, None], pixels], axis=1)
            T.write_bytes(os.path.join(d, name), records.tobytes())
        with open(os.path.join(d, "batches.meta.txt"), "w") as f:
            f.write("\n".join(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                               "horse", "ship", "truck"]) + "\n")
        out = os.path.join(self.dir, "cifar.safetensors")
        res = T.run_cli("train", "--arch", "ghostnet", "--width", "0.5", "--small-input=2",
                        "--data", d, "--epochs", 1, "--batch", 20, "--threads", 1, "-o", out)
        self.assertSucceeded(res)
        res = T.run_cli("eval", "--weights", out, "--data", d)
        self.assertSucceeded(res)
        self.assertIn("images 20", res.stdout)
        self.assertIn("airplane", res.stdout)
        info = T.run_cli("info", "--weights", out, "--json")
        self.assertSucceeded(info)
        model = json.loads(info.stdout)["model"]
        self.assertEqual((model["in_channels"], model["num_classes"]), (3, 10))

    def test_image_folder(self):
        """A folder of PNG images, one sub-folder per class, with --val held out (no test
        folder), then eval on the training split."""
        from PIL import Image
        d = os.path.join(self.dir, "image_folder")
        rng = np.random.default_rng(5)
        for label, name in enumerate(["circle", "square"]):
            os.makedirs(os.path.join(d, name), exist_ok=True)
            for i in range(24):
                img = np.full((20, 24, 3), 40, dtype=np.uint8) + rng.integers(0, 30, (20, 24, 3),
                                                                               dtype=np.uint8)
                if label:
                    img[5:15, 7:17] = 220
                else:
                    yy, xx = np.mgrid[:20, :24]
                    img[(yy - 10) ** 2 + (xx - 12) ** 2 < 25] = 220
                Image.fromarray(img).save(os.path.join(d, name, "%02d.png" % i))
        out = os.path.join(self.dir, "folder.safetensors")
        res = T.run_cli("train", "--arch", "ghostnet", "--width", "0.5", "--small-input=2",
                        "--data", d, "--val", 8, "--epochs", 2, "--batch", 8, "--threads", 1,
                        "--crop-padding", 0, "-o", out)
        self.assertSucceeded(res)
        info = json.loads(T.run_cli("info", "--weights", out, "--json").stdout)["model"]
        self.assertEqual((info["in_channels"], info["num_classes"], info["input"]),
                         (3, 2, [20, 24]))
        res = T.run_cli("eval", "--weights", out, "--data", d, "--split", "train", "--json")
        self.assertSucceeded(res)
        result = json.loads(res.stdout)
        self.assertEqual(result["images"], 48)
        self.assertEqual([c["name"] for c in result["classes"]], ["circle", "square"])

    def test_bad_arguments(self):
        cases = [
            (["train", "--arch", "ghostnet", "--data", self.data], "-o"),
            (["train", "--arch", "ghostnet", "--data", "/nonexistent", "-o",
              os.path.join(self.dir, "x.safetensors")], "/nonexistent"),
            (["train", "--resume", "/nonexistent.ckpt"], "/nonexistent.ckpt"),
            (self.train_args(os.path.join(self.dir, "y.safetensors"), extra=["--val", 99999]),
             "--val"),
            (["eval", "--weights", os.path.join(self.dir, "missing.safetensors"), "--data",
              self.data], "missing.safetensors"),
        ]
        for args, mention in cases:
            with self.subTest(" ".join(str(a) for a in args)):
                res = T.run_cli(*args)
                self.assertCleanFailure(res, mentions=(mention,))


if __name__ == "__main__":
    T.main()
