#!/usr/bin/env python3
"""Training against live PyTorch: gradients of a backward pass, and every SGD step (momentum,
weight decay with the BN/bias exclusion, Nesterov, label smoothing), against torch.autograd and
torch.optim.SGD on the same model, batch and labels.

The C side runs through the gn_train_steps test tool (public training API), which writes a
checkpoint (weights, BN running statistics, momentum buffers) after every step. PyTorch runs in
float64, the exact value of the computation.

Why each step is checked from the C run's own previous state: training a ReLU network is badly
conditioned. We measured (float64 PyTorch) that perturbing the initial weights by 1e-7 moves the
weights after 3 SGD steps by up to 1.5e-2, because some activation input crosses its kink;
PyTorch's own float32 run differs from its float64 run by as much. A float32 implementation can
therefore not track a 3-step float64 trajectory to 1e-4 in general. What can be checked exactly
is each step: step k of PyTorch, started from the state our checkpoint k-1 holds, must give our
checkpoint k within 1e-4 (relative, per tensor) for weights, BN statistics and momentum buffers.
Within a step, an activation input within rounding of its kink may land on either side in
float32; the float64 backward takes the side ours took there (tests/python/kinks.py, which
fails if the two disagree anywhere farther from a kink).
The end-to-end 3-step deviations of ours and of PyTorch float32 are printed for information.
"""

import copy
import os

import numpy as np
import torch

import gn_testlib as T
import kinks
from gn_testlib import R

TOL = 1e-4
MOMENTUM_PREFIX = "optimizer.momentum."


def train_steps_tool():
    p = os.environ.get("GN_TRAIN_STEPS", "")
    if not (p and os.path.isfile(p) and os.access(p, os.X_OK)):
        raise AssertionError("GN_TRAIN_STEPS=%r is not an executable (run through ctest)" % p)
    return p


def param_groups(model, weight_decay, decay_all):
    """torch.optim.SGD groups matching gn_train_config.decay_norm_and_bias."""
    if decay_all:
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    decay, no_decay = [], []
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            is_weight = name == "weight" and isinstance(module, (torch.nn.Conv2d, torch.nn.Linear))
            (decay if is_weight else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def rel(a, b):
    return T.rel_err(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


class Training(T.CliTestCase):
    def setUp(self):
        self.dir = T.scratch("training")

    def make_case(self, name, seed, width=0.5, batch=6, size=(28, 28), in_chans=1, classes=10,
                  small_input=2):
        """A random model (saved for the C side) and batch; returns (model, path, x, y)."""
        torch.manual_seed(seed)
        model = R.GhostNet(width=width, num_classes=classes, in_chans=in_chans, dropout=0.0,
                           small_input=small_input)
        R.randomize_(model, seed=seed, probe_size=size)
        path = os.path.join(self.dir, name + "_model.safetensors")
        R.save_model(path, model, input_size=size)
        g = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(batch, in_chans, size[0], size[1], generator=g)
        y = torch.randint(0, classes, (batch,), generator=g)
        np.save(os.path.join(self.dir, name + "_x.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(self.dir, name + "_y.npy"), y.numpy().astype(np.float32))
        return model, path, x, y

    def run_c(self, name, path, steps, lr, momentum, wd, nesterov, decay_all, smoothing):
        """Runs the C trainer; returns (losses, [checkpoint tensors after step 1..steps],
        [activation-function inputs of step 1..steps, each a list in forward order])."""
        out = os.path.join(self.dir, name + "_out.safetensors")
        acts = os.path.join(self.dir, name + "_acts")
        os.makedirs(acts, exist_ok=True)
        for f in os.listdir(acts):
            os.remove(os.path.join(acts, f))
        res = T.run([train_steps_tool(), path, os.path.join(self.dir, name + "_x.npy"),
                     os.path.join(self.dir, name + "_y.npy"), steps, out, lr, momentum, wd,
                     int(nesterov), int(decay_all), smoothing, acts])
        self.assertSucceeded(res)
        losses = [float(line.split()[3]) for line in res.stdout.splitlines()
                  if line.startswith("step")]
        checkpoints = [R.load_safetensors("%s.step%d.safetensors" % (out, k))[0]
                       for k in range(1, steps + 1)]
        inputs = []
        for k in range(1, steps + 1):
            step = []
            while os.path.exists(os.path.join(acts, "step%d_act%d.npy" % (k, len(step)))):
                step.append(np.load(os.path.join(acts, "step%d_act%d.npy" % (k, len(step)))))
            self.assertGreater(len(step), 0, "no activation inputs written for step %d" % k)
            inputs.append(step)
        return losses, checkpoints, inputs

    def test_sgd_steps(self):
        cases = [
            # name, seed, steps, lr, momentum, wd, nesterov, decay_all, smoothing, model kwargs
            ("momentum_wd", 1, 3, 0.1, 0.9, 5e-4, False, False, 0.1, {}),
            ("nesterov_decay_all", 2, 3, 0.05, 0.9, 1e-3, True, True, 0.0, {}),
            ("plain_w1.0_rgb32", 3, 3, 0.1, 0.0, 0.0, False, False, 0.0,
             dict(width=1.0, in_chans=3, size=(32, 32), batch=4, small_input=1)),
            ("imagenet_layout_64", 4, 3, 0.05, 0.9, 1e-4, False, False, 0.1,
             dict(width=0.5, in_chans=3, size=(64, 64), batch=3, small_input=0,
                  classes=7)),
        ]
        for name, seed, steps, lr, mom, wd, nest, decay_all, ls, kw in cases:
            with self.subTest(name):
                model, path, x, y = self.make_case(name, seed, **kw)
                c_losses, checkpoints, c_inputs = self.run_c(name, path, steps, lr, mom, wd,
                                                             nest, decay_all, ls)
                self.assertEqual(len(c_losses), steps)
                state = {k: v.double() for k, v in model.state_dict().items()}
                buffers = None
                for k in range(steps):
                    label = "%s step %d" % (name, k + 1)
                    m = self.float64_model(model, state)
                    branches = kinks.OurBranches(m, c_inputs[k])
                    loss, after, after_buffers = self.torch_step(m, buffers, x, y, lr, mom, wd,
                                                                 nest, decay_all, ls)
                    branches.finish()
                    if branches.flipped:
                        print("%s: %d activation inputs landed on the other side of a kink "
                              "(within rounding)" % (label, branches.flipped))
                    self.assertLessEqual(abs(c_losses[k] - loss), 1e-4 * max(1.0, abs(loss)),
                                         "%s: loss %.7f vs PyTorch %.7f" % (label, c_losses[k],
                                                                           loss))
                    self.compare(label, checkpoints[k], after, after_buffers)
                    state = {key: checkpoints[k][key].double() for key in after}
                    buffers = {key: checkpoints[k][MOMENTUM_PREFIX + key].double()
                               for key in after_buffers}
                self.report_trajectory(name, model, checkpoints[-1], x, y, steps, lr, mom, wd,
                                       nest, decay_all, ls)

    @staticmethod
    def float64_model(model, state):
        m = copy.deepcopy(model).double()
        m.load_state_dict(state)
        return m

    def torch_step(self, m, buffers, x, y, lr, mom, wd, nest, decay_all, ls):
        """One float64 PyTorch step of model m from momentum buffers (None for the first
        step). Returns (loss, state after, momentum buffers after by parameter name)."""
        m.train()
        opt = torch.optim.SGD(param_groups(m, wd, decay_all), lr=lr, momentum=mom, nesterov=nest)
        named = dict(m.named_parameters())
        if buffers is not None:
            for key, buf in buffers.items():
                opt.state[named[key]]["momentum_buffer"] = buf.clone()
        opt.zero_grad()
        loss = torch.nn.CrossEntropyLoss(label_smoothing=ls)(m(x.double()), y)
        loss.backward()
        opt.step()
        after_buffers = {}
        if mom > 0:
            after_buffers = {key: opt.state[p]["momentum_buffer"].detach().clone()
                             for key, p in named.items()}
        return float(loss), {k: v.detach().clone() for k, v in m.state_dict().items()}, \
            after_buffers

    def compare(self, label, c_tensors, exact, exact_buffers):
        worst = (0.0, "")
        for key, t in exact.items():
            self.assertIn(key, c_tensors, "%s: C checkpoint lacks %s" % (label, key))
            if key.endswith("num_batches_tracked"):
                self.assertEqual(int(c_tensors[key]), int(t), "%s: %s" % (label, key))
                continue
            err = rel(c_tensors[key].double().numpy(), t.numpy())
            worst = max(worst, (err, key))
            self.assertLessEqual(err, TOL, "%s: %s differs from PyTorch by %.3g (relative)"
                                 % (label, key, err))
        # A momentum buffer is a running gradient. Some exact gradients are zero (a BN bias that
        # the next training-mode BN cancels) and come out of any float32 backward as rounding
        # noise (we see up to 1e-6 of the largest gradient), so buffers are compared relative
        # to at least 1e-2 of the largest buffer.
        floor = 1e-2 * max([float(t.abs().max()) for t in exact_buffers.values()] + [0.0])
        for key, t in exact_buffers.items():
            c = c_tensors.get(MOMENTUM_PREFIX + key)
            self.assertIsNotNone(c, "%s: C checkpoint lacks the momentum of %s" % (label, key))
            scale = max(float(t.abs().max()), floor)
            err = float((c.double() - t).abs().max()) / scale
            worst = max(worst, (err, "momentum of " + key))
            self.assertLessEqual(err, TOL, "%s: momentum of %s differs from PyTorch by %.3g"
                                 % (label, key, err))
        print("%-28s worst %-56s rel %.2g" % (label, worst[1], worst[0]))

    def report_trajectory(self, name, model, c_final, x, y, steps, lr, mom, wd, nest, decay_all,
                          ls):
        """Prints how far 3 uninterrupted steps of ours and of PyTorch float32 end from
        PyTorch float64 (information: this is where rounding meets kinks)."""
        finals = {}
        for dtype in (torch.float64, torch.float32):
            m = copy.deepcopy(model).to(dtype)
            m.train()
            opt = torch.optim.SGD(param_groups(m, wd, decay_all), lr=lr, momentum=mom,
                                  nesterov=nest)
            for _ in range(steps):
                opt.zero_grad()
                torch.nn.CrossEntropyLoss(label_smoothing=ls)(m(x.to(dtype)), y).backward()
                opt.step()
            finals[dtype] = {k: v.double() for k, v in m.state_dict().items()
                             if not k.endswith("num_batches_tracked")}
        exact = finals[torch.float64]
        ours = max(rel(c_final[k].double().numpy(), v.numpy()) for k, v in exact.items())
        theirs = max(rel(finals[torch.float32][k].numpy(), v.numpy()) for k, v in exact.items())
        print("%-28s %d uninterrupted steps vs float64: ours %.2g, PyTorch float32 %.2g"
              % (name, steps, ours, theirs))

    def test_gradients(self):
        """One step of plain SGD with lr 1: w0 - w1 is the gradient, compared with float64
        autograd relative to each gradient tensor's scale. Tensors whose exact gradient is zero
        (a BN bias that the next training-mode BN cancels) must come out negligible instead."""
        model, path, x, y = self.make_case("grad", 7, width=1.0, batch=4, size=(20, 20))
        before = {k: v.double() for k, v in model.state_dict().items()}
        _, checkpoints, c_inputs = self.run_c("grad", path, 1, 1.0, 0.0, 0.0, False, False, 0.0)
        c_tensors = checkpoints[0]
        m = self.float64_model(model, before)
        branches = kinks.OurBranches(m, c_inputs[0])
        m.train()
        torch.nn.CrossEntropyLoss()(m(x.double()), y).backward()
        branches.finish()
        grads = {name: p.grad.numpy() for name, p in m.named_parameters()}
        if branches.flipped:
            print("gradients: %d activation inputs landed on the other side of a kink (within "
                  "rounding)" % branches.flipped)
        global_scale = max(float(np.max(np.abs(g))) for g in grads.values())
        worst, checked = (0.0, ""), 0
        for name, t_grad in grads.items():
            c_grad = (before[name] - c_tensors[name].double()).numpy()
            scale = float(np.max(np.abs(t_grad)))
            # w0 - w1 in float32 resolves the gradient only to the weights' rounding
            rounding = float(np.max(np.abs(before[name].numpy()))) * 2.0 ** -23 * 2
            if scale < 1e-6 * global_scale:
                self.assertLessEqual(float(np.max(np.abs(c_grad))), 1e-5 * global_scale + rounding,
                                     "%s should have a zero gradient" % name)
                continue
            err = float(np.max(np.abs(c_grad - t_grad))) / scale
            worst = max(worst, (err, name))
            checked += 1
            self.assertLessEqual(err, TOL + rounding / scale,
                                 "gradient of %s differs from autograd by %.3g" % (name, err))
        self.assertGreater(checked, 100)
        print("gradients of %d tensors vs autograd (float64): worst %s rel %.3g"
              % (checked, worst[1], worst[0]))


if __name__ == "__main__":
    T.main(need_cli=False)
