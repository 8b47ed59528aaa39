#!/usr/bin/python3
"""Training steps of CIFAR ResNet-20, Ghost-ResNet-20 (s=2 and s=3), VGG-16 and Ghost-VGG-16
(s=2, d=3) against float64 PyTorch (tools/cifar_ref.py), with test_training.py's method: the C
side runs gn_train_steps, which saves a checkpoint after every step; PyTorch's step k starts from
our checkpoint k-1 and must give our checkpoint k within 1e-4 (relative, per tensor) for
weights, BN statistics and momentum buffers, and the same loss. Activation inputs within rounding
of a ReLU's kink take our side (kinks.py), and so do max-pooling windows whose two largest inputs
are within rounding of each other (PoolChoices below). Two steps, so the second checks the
momentum path.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gn_testlib as T  # noqa: E402  (fails hard when torch is missing)
import cifar_ref as C  # noqa: E402
import kinks  # noqa: E402
import test_training  # noqa: E402  (the per-step machinery)
from gn_testlib import np, torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MOMENTUM_PREFIX = test_training.MOMENTUM_PREFIX


class PoolChoices(object):
    """Max pooling has kinks too: where two inputs of a window are within float32 rounding of
    each other, float32 may pick either, and the gradient goes to the pick (we measured one such
    window in VGG-16's second step move features.0.weight's update by 3e-4). Patches the model's
    MaxPool2d modules to pick the element our forward picked, after checking that wherever that
    is not float64's maximum the two are within kinks.RELATIVE (of the input's largest
    magnitude). Our pool input is the output of the ReLU just before it: the relu of the input
    `branches` (a kinks.OurBranches) holds for that ReLU."""

    def __init__(self, model, branches):
        self.branches = branches
        self.flipped = 0
        for module in model.modules():
            if isinstance(module, torch.nn.MaxPool2d):
                module.forward = self._pool(module)

    def _pool(self, pool):
        def forward(x):
            ours = torch.relu(torch.from_numpy(self.branches.ours[self.branches.calls - 1]))
            if tuple(ours.shape) != tuple(x.shape):
                raise AssertionError("max pooling input: ours %s, PyTorch %s"
                                     % (tuple(ours.shape), tuple(x.shape)))
            _, pick = F.max_pool2d(ours, pool.kernel_size, pool.stride, return_indices=True)
            y = x.flatten(2).gather(2, pick.flatten(2)).view(pick.shape)
            gap = F.max_pool2d(x.detach(), pool.kernel_size, pool.stride) - y.detach()
            scale = float(x.detach().abs().max()) or 1.0
            if bool((gap > kinks.RELATIVE * scale).any()):
                raise AssertionError("max pooling: our pick is %.3g (relative) below the "
                                     "window's maximum" % (float(gap.max()) / scale))
            self.flipped += int((gap > 0).sum())
            return y
        return forward


class CifarTraining(T.CliTestCase):
    # test_training.Training's helpers (not the class itself: unittest would run its tests too)
    run_c = test_training.Training.run_c
    torch_step = test_training.Training.torch_step
    compare = test_training.Training.compare

    def setUp(self):
        self.dir = T.scratch("cifar_training")

    def make_case(self, name, arch, ghost, seed, batch=4, in_chans=3, classes=10):
        """A random reference model saved for the C side, a batch and labels."""
        model = C.random_model(arch, classes, in_chans, ghost, seed=seed)
        path = os.path.join(self.dir, name + "_model.safetensors")
        C.save_model(path, model)
        g = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(batch, in_chans, 32, 32, generator=g)
        y = torch.randint(0, classes, (batch,), generator=g)
        np.save(os.path.join(self.dir, name + "_x.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(self.dir, name + "_y.npy"), y.numpy().astype(np.float32))
        return model, path, x, y

    def check_steps(self, name, arch, ghost, seed, steps=2, lr=0.1, momentum=0.9, wd=5e-4,
                    smoothing=0.1, **kw):
        model, path, x, y = self.make_case(name, arch, ghost, seed, **kw)
        losses, checkpoints, inputs = self.run_c(name, path, steps, lr, momentum, wd, False,
                                                 False, smoothing)
        self.assertEqual(len(losses), steps)
        if arch.startswith("vgg"):
            for step in inputs:  # our activations are NCHW; PyTorch's classifier ReLU sees N x C
                step[-1] = step[-1].reshape(step[-1].shape[:2])
        state = {k: v.double() for k, v in model.state_dict().items()}
        buffers = None
        for k in range(steps):
            label = "%s step %d" % (name, k + 1)
            m = test_training.Training.float64_model(model, state)
            branches = kinks.OurBranches(m, inputs[k])
            pools = PoolChoices(m, branches)
            loss, after, after_buffers = self.torch_step(m, buffers, x, y, lr, momentum, wd,
                                                         False, False, smoothing)
            branches.finish()
            if branches.flipped or pools.flipped:
                print("%s: %d activation inputs on the other side of a kink, %d pooling windows "
                      "picking another element (within rounding)"
                      % (label, branches.flipped, pools.flipped))
            print("%s: loss %.7f, PyTorch %.7f" % (label, losses[k], loss))
            self.assertLessEqual(abs(losses[k] - loss), 1e-4 * max(1.0, abs(loss)), label)
            self.compare(label, checkpoints[k], after, after_buffers)
            state = {key: checkpoints[k][key].double() for key in after}
            buffers = {key: checkpoints[k][MOMENTUM_PREFIX + key].double()
                       for key in after_buffers}

    def test_resnet20(self):
        self.check_steps("resnet20", "resnet20", None, 41)

    def test_ghost_resnet20_s2(self):
        self.check_steps("ghost_resnet20_s2", "resnet20", (2, 3), 42)

    def test_ghost_resnet20_s3(self):
        """s=3 on 16 channels: 6 intrinsic + 12 ghost maps sliced to 16."""
        self.check_steps("ghost_resnet20_s3", "resnet20", (3, 3), 43, in_chans=1)

    def test_vgg16(self):
        self.check_steps("vgg16", "vgg16", None, 44, batch=3)

    def test_ghost_vgg16(self):
        self.check_steps("ghost_vgg16", "vgg16", (2, 3), 45, batch=3)


if __name__ == "__main__":
    T.main(need_cli=False)
