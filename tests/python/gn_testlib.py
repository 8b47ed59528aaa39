"""Shared helpers for the tests that compare the ghostnet CLI with live PyTorch.

Environment (set by tests/python/CMakeLists.txt):
  GHOSTNET     path of the ghostnet CLI binary
  GN_TEST_TMP  scratch directory
  GN_KEEP_TMP  set to 1 to keep the scratch files (by default each test's files are deleted
               when it ends, and the script's scratch directory when the script ends: the
               suite writes gigabytes of checkpoints otherwise, and a full disk makes
               torch.save abort the interpreter)

A missing torch, a missing GHOSTNET or a binary that does not exist is a FAILURE, never a skip:
a check that did not run must not be reported as passing.
"""

import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TOOLS = os.path.join(ROOT, "tools")


def _fatal(msg):
    sys.stderr.write("FAIL: %s\n" % msg)
    sys.stderr.flush()
    sys.exit(2)


try:
    import numpy as np  # noqa: F401
    import torch  # noqa: F401
except Exception as e:  # noqa: BLE001
    _fatal("%s cannot import numpy/torch (%s: %s). These tests need the Debian PyTorch packages "
           "(python3-torch, python3-numpy) under /usr/bin/python3; they refuse to skip."
           % (sys.executable, type(e).__name__, e))

sys.path.insert(0, TOOLS)
import ghostnet_ref as R  # noqa: E402
import count_ops  # noqa: E402,F401

SUBPROCESS_TIMEOUT = 900


def cli_path():
    p = os.environ.get("GHOSTNET", "")
    if not p:
        raise AssertionError("GHOSTNET is not set (it must point to the ghostnet CLI binary; "
                             "run these tests through ctest)")
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        raise AssertionError("GHOSTNET=%s is not an executable file" % p)
    return p


_SCRATCH = []


def keep_tmp():
    return os.environ.get("GN_KEEP_TMP", "") not in ("", "0")


def scratch(name):
    """A per-script scratch directory under GN_TEST_TMP (or the system temp dir), emptied the
    first time a process asks for it (stale files of an earlier run cannot satisfy a test)."""
    base = os.environ.get("GN_TEST_TMP") or os.path.join(
        os.environ.get("TMPDIR", "/tmp"), "ghostnet-pytests-%d" % os.getuid())
    d = os.path.join(base, name)
    if d not in _SCRATCH:
        shutil.rmtree(d, ignore_errors=True)
        _SCRATCH.append(d)
    os.makedirs(d, exist_ok=True)
    return d


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _scratch_files():
    found = set()
    for d in _SCRATCH:
        for top, _, files in os.walk(d):
            found.update(os.path.join(top, f) for f in files)
    return found


class Result(object):
    def __init__(self, args, returncode, stdout, stderr):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def describe(self):
        return ("command: %s\nexit: %s\nstdout: %s\nstderr: %s" %
                (" ".join(self.args), self.returncode, self.stdout[-2000:], self.stderr[-2000:]))


def run(args, timeout=SUBPROCESS_TIMEOUT):
    args = [str(a) for a in args]
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("timed out after %ss: %s" % (timeout, " ".join(args))) from e
    return Result(args, p.returncode, p.stdout.decode("utf-8", "replace"),
                  p.stderr.decode("utf-8", "replace"))


def run_cli(*args, **kw):
    return run([cli_path()] + list(args), **kw)


def run_tool(script, *args, **kw):
    return run([sys.executable, os.path.join(TOOLS, script)] + list(args), **kw)


def rel_err(c, t):
    """max|c - t| / max|t| (the parity criterion)."""
    c = np.asarray(c, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    denom = float(np.max(np.abs(t)))
    if denom == 0.0:
        return float(np.max(np.abs(c - t)))
    return float(np.max(np.abs(c - t))) / denom


def torch_logits(model, x):
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()


def write_model(path, width=1.0, classes=1000, in_chans=3, seed=0, dtype="f32",
                input_size=(224, 224)):
    """Random reference model saved as our model file; returns the model as PyTorch sees the
    file (rounded for f16/bf16)."""
    m = R.randomize_(R.ghostnet(width, num_classes=classes, in_chans=in_chans), seed=seed)
    R.save_model(path, m.eval(), dtype=dtype, input_size=input_size)
    ref, _ = R.load_model(path)
    return ref


def forward_cli(tc, model_path, x, tag):
    """Logits of `ghostnet forward` on the batch x, its .npy files beside the model (in the
    calling script's own scratch directory: a script must not touch another's, which ctest may
    be running at the same time)."""
    d = os.path.dirname(model_path)
    xin = os.path.join(d, tag + "_input.npy")
    out = os.path.join(d, tag + "_out.npy")
    np.save(xin, x.astype("<f4"))
    if os.path.exists(out):
        os.remove(out)
    res = run_cli("forward", "--weights", model_path, "--input", xin, "--output", out)
    tc.assertSucceeded(res)
    tc.assertTrue(os.path.exists(out), "forward exited 0 but wrote no %s" % out)
    y = np.load(out)
    tc.assertEqual(y.dtype, np.dtype("<f4"), "logits dtype %s, expected float32" % y.dtype)
    return y


def random_input(batch, in_chans, h, w, seed=0):
    return R.random_input(batch, in_chans, h, w, seed=seed).numpy()


class CliTestCase(unittest.TestCase):
    """Assertions on CLI runs. The files a test writes into the scratch directories are deleted
    when it ends (files made by setUpClass stay for the class's other tests)."""

    def run(self, result=None):
        before = _scratch_files()
        try:
            return super().run(result)
        finally:
            if not keep_tmp():
                for f in _scratch_files() - before:
                    try:
                        os.remove(f)
                    except OSError:
                        pass

    def assertSucceeded(self, res):
        if res.returncode != 0:
            self.fail("expected success\n" + res.describe())

    def assertCleanFailure(self, res, mentions=(), output=None):
        """Non-zero exit (not a signal), a one-line message on stderr naming one of `mentions`
        (case-insensitive), no sanitizer report, and no output file left behind."""
        d = res.describe()
        self.assertNotEqual(res.returncode, 0, "expected a failure\n" + d)
        self.assertGreater(res.returncode, 0, "killed by signal %d (crash)\n%s" % (-res.returncode, d)
                           if res.returncode < 0 else d)
        self.assertLess(res.returncode, 128, "exit status looks like a crash\n" + d)
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "Segmentation",
                    "Assertion", "core dumped"):
            self.assertNotIn(bad, res.stderr, "crash / sanitizer report\n" + d)
        lines = [l for l in res.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "expected exactly one line on stderr\n" + d)
        if mentions:
            low = res.stderr.lower()
            self.assertTrue(any(m.lower() in low for m in mentions),
                            "stderr should mention one of %r\n%s" % (list(mentions), d))
        if output is not None:
            self.assertFalse(os.path.exists(output),
                             "output file %s was left behind after a failure\n%s" % (output, d))
            d = os.path.dirname(output) or "."
            if os.path.isdir(d):
                leftovers = [f for f in os.listdir(d) if f.startswith(os.path.basename(output))
                             and f != os.path.basename(output)]
                self.assertEqual(leftovers, [], "temporary output files left behind: %r" % leftovers)


def main(need_cli=True):
    # Check the binary once up front so a missing build is one clear failure.
    if need_cli:
        try:
            cli_path()
        except AssertionError as e:
            _fatal(str(e))
    prog = unittest.main(verbosity=2, exit=False)
    ok = prog.result.wasSuccessful()
    if not keep_tmp():
        for d in _SCRATCH:
            shutil.rmtree(d, ignore_errors=True)
    sys.exit(0 if ok else 1)
