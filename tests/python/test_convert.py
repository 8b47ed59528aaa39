#!/usr/bin/python3
"""`ghostnet convert` reads PyTorch checkpoints natively (issue #3), checked against live PyTorch.

Every checkpoint is written here with torch.save from the reference model (official layout,
random weights calibrated so logits vary with the input):
  * zip format and legacy format (_use_new_zipfile_serialization=False), pickle protocols 2 and 4;
  * wrapped as {"state_dict": ...} / {"model": ...} next to other entries, keys with "module.";
  * float16 and bfloat16 weights, tensors that are strided views or offset slices of storages;
  * a width-0.5, 10-class model (classes read from classifier.weight);
  * a timm-style safetensors file without metadata (converted, and used directly by classify).
The converted model's logits must match PyTorch's on the same input within 1e-4 of the logits'
scale (max|ours - torch| / max|torch|; measured values are printed).

Hostile files must fail with exit status 1, a one-line message naming the problem, no sanitizer
report and no output file: a pickle naming os.system (the command must not run), builtins.eval,
a zip whose storage entry claims more bytes than the archive has, a legacy storage whose element
count is larger than the file, a tensor view reaching outside its storage, a tensor claiming
2^62 elements of a one-element storage, truncations of both formats at many points, files that
are no checkpoint at all, and a model whose classifier does not match --classes.
"""

import copy
import io
import os
import pickle
import struct
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gn_testlib as T  # noqa: E402  (fails hard when torch is missing)
from gn_testlib import np, torch  # noqa: E402

TOL = 1e-4
TMP = T.scratch("convert")
R = T.R


def path(name):
    p = os.path.join(TMP, name)
    if os.path.exists(p):
        os.remove(p)
    return p


def prefixed(sd, prefix="module."):
    return {prefix + k: v for k, v in sd.items()}


class Evil(object):
    """Unpickling this runs a shell command in Python; our reader must refuse it unrun."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch " + self.marker,))


class Eval(object):
    def __reduce__(self):
        return (eval, ("1 + 1",))


def pickle_bytes(ops):
    """A hand-written protocol-2 pickle (bytes opcodes) ending with STOP."""
    return b"\x80\x02" + ops + b"."


def unicode_op(text):
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def tensor_op(key, numel, offset, size, stride, storage="FloatStorage"):
    """torch._utils._rebuild_tensor_v2((storage pid), offset, size, stride, False, {})."""
    def tup(values):
        return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"
    pid = (b"(" + unicode_op("storage") + b"ctorch\n" + storage.encode() + b"\n" +
           unicode_op(key) + unicode_op("cpu") + b"J" + struct.pack("<i", numel) + b"tQ")
    return (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"J" + struct.pack("<i", offset) +
            tup(size) + tup(stride) + b"\x89}tR")


def zip_checkpoint(dest, pkl, storages):
    """A zip checkpoint as torch writes it (stored entries under "archive/")."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        for key, data in storages.items():
            z.writestr("archive/data/" + key, data)
        z.writestr("archive/version", "3\n")


class Convert(T.CliTestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = R.randomize_(R.ghostnet(1.0), seed=33).eval()
        cls.sd = cls.model.state_dict()
        cls.x = T.random_input(2, 3, 224, 224, seed=33)
        cls.t = T.torch_logits(cls.model, cls.x)
        cls.xpath = os.path.join(TMP, "input.npy")
        np.save(cls.xpath, cls.x)

    # -- helpers ------------------------------------------------------------------------------

    def convert(self, src, tag, *extra):
        out = path(tag + ".safetensors")
        return T.run_cli("convert", src, "-o", out, *extra), out

    def logits_of(self, weights, tag):
        out = path(tag + "_logits.npy")
        res = T.run_cli("forward", "--weights", weights, "--input", self.xpath, "--output", out)
        self.assertSucceeded(res)
        return np.load(out)

    def check(self, src, tag, ref=None, extra=()):
        res, out = self.convert(src, tag, *extra)
        self.assertSucceeded(res)
        got = self.logits_of(out, tag)
        ref = self.t if ref is None else ref
        err = T.rel_err(got, ref)
        print("%-30s max|t| %8.4f  rel err %.3e" % (tag, float(np.abs(ref).max()), err), flush=True)
        self.assertLessEqual(err, TOL)
        return out

    def save(self, obj, name, **kw):
        p = path(name)
        torch.save(obj, p, **kw)
        return p

    def refuse(self, src, tag, mentions, extra=()):
        res, out = self.convert(src, tag, *extra)
        self.assertCleanFailure(res, mentions=mentions, output=out)
        self.assertEqual(res.returncode, 1, res.describe())
        return res

    # -- both formats, plain --------------------------------------------------------------------

    def test_zip_format(self):
        out = self.check(self.save(self.sd, "zip.pth"), "zip")
        meta = R.read_safetensors_header(out)[1]
        want = R.model_metadata(1.0, 1000, 3, (224, 224))
        self.assertEqual(float(meta.pop("width")), float(want.pop("width")))
        self.assertEqual(meta, want)
        tensors, _ = R.load_safetensors(out)
        for k, v in self.sd.items():  # the weights themselves, not just the logits
            self.assertTrue(torch.equal(tensors[k].to(v.dtype).reshape(v.shape), v), k)

    def test_legacy_format(self):
        self.check(self.save(self.sd, "legacy.pth", _use_new_zipfile_serialization=False),
                   "legacy")

    def test_pickle_protocol_4(self):
        self.check(self.save(self.sd, "proto4.pth", pickle_protocol=4), "zip_protocol4")
        self.check(self.save(self.sd, "proto4_legacy.pth", pickle_protocol=4,
                             _use_new_zipfile_serialization=False), "legacy_protocol4")

    # -- wrapped, prefixed ----------------------------------------------------------------------

    def test_wrapped_state_dict_with_module_prefix(self):
        ckpt = {"epoch": 120, "best_acc1": 73.98, "arch": "ghostnet",
                "state_dict": prefixed(self.sd)}
        self.check(self.save(ckpt, "wrapped.pth"), "wrapped_zip")
        self.check(self.save(ckpt, "wrapped_legacy.pth", _use_new_zipfile_serialization=False),
                   "wrapped_legacy")

    def test_model_key_and_nested_prefix(self):
        ckpt = {"model": prefixed(prefixed(self.sd)), "optimizer_name": "sgd"}
        self.check(self.save(ckpt, "model_key.pth"), "model_key")

    # -- dtypes and layouts ---------------------------------------------------------------------

    def reduced(self, dtype):
        m = copy.deepcopy(self.model).to(dtype)
        sd = m.state_dict()
        ref_model = copy.deepcopy(self.model)
        ref_model.load_state_dict({k: v.float() if v.is_floating_point() else v
                                   for k, v in sd.items()})
        return sd, T.torch_logits(ref_model, self.x)

    def test_float16(self):
        sd, ref = self.reduced(torch.float16)
        self.check(self.save(sd, "f16.pth"), "float16_zip", ref)
        self.check(self.save({"state_dict": prefixed(sd)}, "f16_legacy.pth",
                             _use_new_zipfile_serialization=False), "float16_wrapped_legacy", ref)

    def test_bfloat16(self):
        sd, ref = self.reduced(torch.bfloat16)
        self.check(self.save(sd, "bf16.pth"), "bfloat16_zip", ref)

    def test_strided_views_and_offsets(self):
        """Tensors that are transposed views or slices at an offset of a larger storage."""
        sd = dict(self.sd)
        w = sd["classifier.weight"]
        sd["classifier.weight"] = w.t().contiguous().t()  # strides (1, 1000)
        big = torch.cat([torch.full((7,), 5.0), sd["classifier.bias"], torch.zeros(3)])
        sd["classifier.bias"] = big[7:7 + w.shape[0]]  # storage offset 7
        self.assertNotEqual(sd["classifier.weight"].stride(), w.stride())
        self.check(self.save(sd, "views.pth"), "views_zip")
        self.check(self.save(sd, "views_legacy.pth", _use_new_zipfile_serialization=False),
                   "views_legacy")

    def test_other_width_and_classes_inferred(self):
        m = R.randomize_(R.ghostnet(0.5, num_classes=10), seed=5).eval()
        ref = T.torch_logits(m, self.x)
        out = self.check(self.save(m.state_dict(), "w05.pth"), "width0.5_10classes", ref,
                         extra=("--width", "0.5"))
        meta = R.read_safetensors_header(out)[1]
        self.assertEqual(meta["num_classes"], "10")
        self.assertEqual(float(meta["width"]), 0.5)

    def test_timm_style_safetensors(self):
        src = path("timm.safetensors")
        R.save_safetensors(src, R.state_dict_for_file(self.sd), {"format": "pt"})
        self.check(src, "safetensors_without_metadata")

    def test_written_file_loads_in_pytorch(self):
        _, out = self.convert(self.save(self.sd, "roundtrip.pth"), "roundtrip")
        model, _ = R.load_model(out)  # strict=True: every name and shape as PyTorch's
        np.testing.assert_array_equal(T.torch_logits(model, self.x), self.t)

    # -- hostile and broken files ---------------------------------------------------------------

    def test_refuses_os_system_without_running_it(self):
        marker = path("pwned")
        for fmt, kw in (("zip", {}), ("legacy", {"_use_new_zipfile_serialization": False})):
            src = self.save({"state_dict": self.sd, "hook": Evil(marker)}, "evil_%s.pth" % fmt,
                            **kw)
            self.refuse(src, "evil_" + fmt, ("refusing global", "system"))
            self.assertFalse(os.path.exists(marker), "the pickled command ran")

    def test_refuses_builtins_eval(self):
        self.refuse(self.save({"x": Eval()}, "eval.pth"), "eval", ("builtin__.eval",))

    def test_refuses_storage_larger_than_archive(self):
        src = self.save({"w": torch.ones(16)}, "big_storage.pth")
        data = bytearray(T.read_bytes(src))
        name = b"data/0"
        at = data.find(b"PK\x01\x02")
        while at >= 0:
            name_len = struct.unpack_from("<H", data, at + 28)[0]
            if data[at + 46:at + 46 + name_len].endswith(name):
                struct.pack_into("<II", data, at + 20, 1 << 30, 1 << 30)  # sizes
                break
            at = data.find(b"PK\x01\x02", at + 4)
        self.assertGreaterEqual(at, 0)
        T.write_bytes(src, bytes(data))
        self.refuse(src, "big_storage", ("past the end",))

    def test_refuses_legacy_storage_larger_than_file(self):
        src = self.save({"w": torch.ones(16)}, "legacy_big.pth", _use_new_zipfile_serialization=False)
        data = bytearray(T.read_bytes(src))
        count_at = len(data) - 16 * 4 - 8  # the single storage: 8-byte count, then 16 floats
        self.assertEqual(struct.unpack_from("<q", data, count_at)[0], 16)
        struct.pack_into("<q", data, count_at, 1 << 40)
        T.write_bytes(src, bytes(data))
        self.refuse(src, "legacy_big", ("claims",))

    def test_refuses_view_outside_storage(self):
        src = path("outside.pth")
        pkl = pickle_bytes(b"}(" + unicode_op("w") + tensor_op("0", 4, 0, [100], [1]) + b"u")
        zip_checkpoint(src, pkl, {"0": b"\0" * 16})
        self.refuse(src, "outside", ("outside its storage",))

    def test_refuses_broadcast_bomb(self):
        src = path("bomb.pth")
        pkl = pickle_bytes(b"}(" + unicode_op("w") +
                           tensor_op("0", 1, 0, [(1 << 31) - 1, (1 << 31) - 1], [0, 0]) + b"u")
        zip_checkpoint(src, pkl, {"0": b"\0" * 4})
        self.refuse(src, "bomb", ("outside its storage",))

    def test_refuses_missing_storage(self):
        src = path("missing_storage.pth")
        pkl = pickle_bytes(b"}(" + unicode_op("w") + tensor_op("7", 4, 0, [4], [1]) + b"u")
        zip_checkpoint(src, pkl, {"0": b"\0" * 16})
        self.refuse(src, "missing_storage", ("'7'",))

    def test_truncated_files(self):
        for fmt, kw in (("zip", {}), ("legacy", {"_use_new_zipfile_serialization": False})):
            full = T.read_bytes(self.save(self.sd, "whole_%s.pth" % fmt, **kw))
            cuts = sorted(set([0, 1, 2, 10, 100, 1000] +
                              [len(full) * i // 17 for i in range(1, 17)] + [len(full) - 1]))
            for cut in cuts:
                src = path("cut_%s_%d.pth" % (fmt, cut))
                T.write_bytes(src, full[:cut])
                self.refuse(src, "cut_%s_%d" % (fmt, cut), ())
                os.remove(src)

    def test_not_a_checkpoint(self):
        for name, data in (("text.pth", b"hello, world\n" * 10), ("empty.pth", b""),
                           ("plain_pickle.pth", pickle.dumps({"a": 1}, protocol=2)),
                           ("list.pth", None)):
            src = path(name)
            if data is None:
                torch.save([torch.ones(2)], src)
            else:
                T.write_bytes(src, data)
            self.refuse(src, name, ())

    def test_wrong_architecture_names_the_tensor(self):
        src = self.save(self.sd, "arch.pth")
        self.refuse(src, "wrong_classes", ("classifier.weight",), extra=("--classes", "10"))
        self.refuse(src, "wrong_width", ("conv_stem.weight", "bn1"), extra=("--width", "0.5"))

    def test_usage_errors(self):
        res = T.run_cli("convert")
        self.assertEqual(res.returncode, 2, res.describe())
        res = T.run_cli("convert", "a.pth")
        self.assertEqual(res.returncode, 2, res.describe())
        res = T.run_cli("convert", "--help")
        self.assertSucceeded(res)
        self.assertIn("usage: ghostnet convert", res.stdout)


if __name__ == "__main__":
    T.main()
