#!/usr/bin/python3
"""`ghostnet forward` on bad inputs: every case must exit non-zero (not by a signal), print one
line on stderr naming the file / tensor / argument at fault, and leave no --output file.

Also: a float64 ('<f8') input is accepted and converted (logits equal PyTorch's); inputs that
are legal .npy but unusual (Fortran order, big-endian float32) must either be refused cleanly
or give the right logits.
"""

import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gn_testlib as T  # noqa: E402  (fails hard when torch is missing)
from gn_testlib import np  # noqa: E402

TOL = 1e-4
TMP = T.scratch("cli_errors")
R = T.R


def fresh(name):
    p = os.path.join(TMP, name)
    if os.path.exists(p):
        os.remove(p)
    return p


class CliErrors(T.CliTestCase):
    @classmethod
    def setUpClass(cls):
        cls.model_path = os.path.join(TMP, "model.safetensors")
        cls.ref = T.write_model(cls.model_path, width=0.5, classes=10, seed=31, input_size=(64, 64))
        cls.x = T.random_input(2, 3, 64, 64, seed=31)
        cls.t = T.torch_logits(cls.ref, cls.x)
        cls.good_input = os.path.join(TMP, "good.npy")
        np.save(cls.good_input, cls.x)
        cls.model_bytes = T.read_bytes(cls.model_path)

    def forward(self, weights, inp, tag):
        out = fresh(tag + "_out.npy")
        return T.run_cli("forward", "--weights", weights, "--input", inp, "--output", out), out

    def refused(self, weights, inp, tag, mentions):
        res, out = self.forward(weights, inp, tag)
        self.assertCleanFailure(res, mentions=mentions, output=out)
        print("%-22s exit %d: %s" % (tag, res.returncode, res.stderr.strip()), flush=True)

    def write_input(self, name, arr, **kw):
        p = fresh(name)
        np.save(p, arr, **kw)
        return p

    def input_mentions(self, path):
        return (os.path.basename(path), "--input")

    # -- the baseline works -------------------------------------------------------------------

    def test_good(self):
        res, out = self.forward(self.model_path, self.good_input, "good")
        self.assertSucceeded(res)
        self.assertLessEqual(T.rel_err(np.load(out), self.t), TOL)

    def test_float64_accepted(self):
        p = self.write_input("f64.npy", self.x.astype("<f8"))
        res, out = self.forward(self.model_path, p, "f64")
        self.assertSucceeded(res)
        c = np.load(out)
        self.assertEqual(c.dtype, np.dtype("<f4"))
        err = T.rel_err(c, self.t)
        print("float64 input accepted, rel err %.3e" % err, flush=True)
        self.assertLessEqual(err, TOL)

    def test_unusual_but_legal_npy(self):
        for tag, arr in (("fortran", np.asfortranarray(self.x)),
                         ("bigendian", self.x.astype(">f4"))):
            with self.subTest(tag):
                p = self.write_input(tag + ".npy", arr)
                if tag == "fortran":
                    with open(p, "rb") as f:
                        self.assertIn(b"'fortran_order': True", f.read(128))
                res, out = self.forward(self.model_path, p, tag)
                if res.returncode == 0:
                    err = T.rel_err(np.load(out), self.t)
                    print("%s input accepted, rel err %.3e" % (tag, err), flush=True)
                    self.assertLessEqual(err, TOL, "%s input accepted but misread" % tag)
                else:
                    self.assertCleanFailure(res, mentions=self.input_mentions(p), output=out)
                    print("%-22s exit %d: %s" % (tag, res.returncode, res.stderr.strip()), flush=True)

    # -- bad inputs ---------------------------------------------------------------------------

    def test_int32_input(self):
        p = self.write_input("int32.npy", (self.x * 10).astype("<i4"))
        self.refused(self.model_path, p, "int32_input", self.input_mentions(p))

    def test_rank3_input(self):
        p = self.write_input("rank3.npy", self.x[0])
        self.refused(self.model_path, p, "rank3_input", self.input_mentions(p))

    def test_wrong_channels(self):
        p = self.write_input("chans4.npy", T.random_input(1, 4, 64, 64))
        self.refused(self.model_path, p, "4ch_input", self.input_mentions(p))
        p = self.write_input("chans1.npy", T.random_input(1, 1, 64, 64))
        self.refused(self.model_path, p, "1ch_input", self.input_mentions(p))

    def test_truncated_npy(self):
        p = self.write_input("trunc.npy", self.x)
        data = T.read_bytes(p)
        T.write_bytes(p, data[:len(data) // 2])
        self.refused(self.model_path, p, "truncated_npy", self.input_mentions(p))

    def test_not_npy(self):
        p = fresh("garbage.npy")
        T.write_bytes(p, b"this is not a numpy file\n" * 10)
        self.refused(self.model_path, p, "garbage_npy", self.input_mentions(p))

    def test_missing_input(self):
        p = os.path.join(TMP, "does_not_exist.npy")
        self.refused(self.model_path, p, "missing_input", self.input_mentions(p))

    # -- bad model files ----------------------------------------------------------------------

    def write_model_bytes(self, name, data):
        p = fresh(name)
        T.write_bytes(p, data)
        return p

    def model_mentions(self, path):
        return (os.path.basename(path), "--weights")

    def test_truncated_model(self):
        p = self.write_model_bytes("half.safetensors", self.model_bytes[:len(self.model_bytes) // 2])
        self.refused(p, self.good_input, "truncated_model", self.model_mentions(p))

    def test_truncated_in_header(self):
        (n,) = struct.unpack("<Q", self.model_bytes[:8])
        p = self.write_model_bytes("cut_header.safetensors", self.model_bytes[:8 + n // 2])
        self.refused(p, self.good_input, "cut_in_header", self.model_mentions(p))

    def test_header_length_past_end(self):
        data = struct.pack("<Q", len(self.model_bytes) * 2) + self.model_bytes[8:]
        p = self.write_model_bytes("hdrlen.safetensors", data)
        self.refused(p, self.good_input, "header_len_past_end", self.model_mentions(p))
        data = struct.pack("<Q", 2 ** 64 - 1) + self.model_bytes[8:]
        p = self.write_model_bytes("hdrlen_max.safetensors", data)
        self.refused(p, self.good_input, "header_len_u64_max", self.model_mentions(p))

    def test_garbage_json(self):
        (n,) = struct.unpack("<Q", self.model_bytes[:8])
        junk = (b"{\"conv_stem.weight\": {\"dtype\": [}}}garbage" + b" " * n)[:n]
        p = self.write_model_bytes("badjson.safetensors", self.model_bytes[:8] + junk +
                                   self.model_bytes[8 + n:])
        self.refused(p, self.good_input, "garbage_json", self.model_mentions(p))

    def test_offsets_past_end(self):
        hdr, meta, start, size = R.read_safetensors_header(self.model_path)
        hdr["classifier.bias"]["data_offsets"] = [size, size + 40]
        doc = dict(hdr)
        doc["__metadata__"] = meta
        hj = json.dumps(doc).encode()
        hj += b" " * ((-(8 + len(hj))) % 8)
        p = self.write_model_bytes("offsets.safetensors",
                                   struct.pack("<Q", len(hj)) + hj + self.model_bytes[start:])
        self.refused(p, self.good_input, "offsets_past_end",
                     self.model_mentions(p) + ("classifier.bias",))

    def test_tiny_and_empty_model(self):
        for tag, data in (("empty", b""), ("five_bytes", b"\x01\x02\x03\x04\x05")):
            with self.subTest(tag):
                p = self.write_model_bytes(tag + ".safetensors", data)
                self.refused(p, self.good_input, tag + "_model", self.model_mentions(p))

    def test_missing_model(self):
        p = os.path.join(TMP, "no_such_model.safetensors")
        self.refused(p, self.good_input, "missing_model", self.model_mentions(p))

    def test_missing_metadata(self):
        tensors, _ = R.load_safetensors(self.model_path)
        p = fresh("nometa.safetensors")
        R.save_safetensors(p, tensors, None)
        # Without metadata the architecture is unknown: refusing is right; inferring the
        # configuration from the tensor shapes is acceptable only if the logits are then right.
        res, out = self.forward(p, self.good_input, "no_metadata")
        if res.returncode == 0:
            err = T.rel_err(np.load(out), self.t)
            print("file without metadata accepted, rel err %.3e" % err, flush=True)
            self.assertLessEqual(err, TOL)
        else:
            self.assertCleanFailure(res, mentions=self.model_mentions(p) + ("metadata",),
                                    output=out)
            print("%-22s exit %d: %s" % ("no_metadata", res.returncode, res.stderr.strip()),
                  flush=True)

    # -- bad arguments ------------------------------------------------------------------------

    def test_missing_arguments(self):
        out = fresh("noarg_out.npy")
        cases = [
            ("no --weights", ["--input", self.good_input, "--output", out], ("--weights", "weights")),
            ("no --input", ["--weights", self.model_path, "--output", out], ("--input", "input")),
            ("unknown flag", ["--weights", self.model_path, "--input", self.good_input,
                              "--bogus-flag", "1", "--output", out], ("--bogus-flag",)),
        ]
        for tag, args, mentions in cases:
            with self.subTest(tag):
                res = T.run_cli("forward", *args)
                self.assertCleanFailure(res, mentions=mentions, output=out)

    def test_threads_past_the_cpus(self):
        # more threads than the CPUs this process may use: a warning, and still the right logits;
        # as many threads as CPUs: no warning
        cpus = len(os.sched_getaffinity(0))
        for threads, warned in ((cpus + 1, True), (cpus, False)):
            with self.subTest(threads=threads):
                out = fresh("threads%d_out.npy" % threads)
                res = T.run_cli("forward", "--weights", self.model_path, "--input",
                                self.good_input, "--output", out, "--threads", str(threads))
                self.assertSucceeded(res)
                self.assertLessEqual(T.rel_err(np.load(out), self.t), TOL)
                said = "warning: --threads %d is more than the %d CPU" % (threads, cpus)
                self.assertEqual(said in res.stderr, warned, res.stderr)
                print("--threads %d on %d CPUs: %s" % (threads, cpus, res.stderr.strip() or
                                                       "no warning"), flush=True)

    def test_unwritable_output(self):
        out = os.path.join(TMP, "no_such_dir", "out.npy")
        res = T.run_cli("forward", "--weights", self.model_path, "--input", self.good_input,
                        "--output", out)
        self.assertCleanFailure(res, mentions=("out.npy", "no_such_dir", "--output"), output=out)


if __name__ == "__main__":
    T.main()
