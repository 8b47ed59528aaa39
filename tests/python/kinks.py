"""Float64 reference gradients that take our branches at activation kinks.

A ReLU's derivative jumps at 0, the hard-sigmoid's at -3 and 3. Where an activation input lies
within float32 rounding of a kink, a float32 implementation may land on either side, and both
are right to float32 precision; but the gradient then differs in a whole channel (we measured
20% in one BN's bias gradient from a single input of -3.3e-7 versus +4.2e-7). The test tool
writes the inputs of every ReLU and hard-sigmoid of our forward pass (gn_train_steps ACT_DIR),
and this module's float64 backward uses our side of the kink for each element -- after checking
that wherever our side differs from float64's, the float64 input is within RELATIVE of the kink
(relative to the tensor's largest magnitude). A disagreement farther from a kink is a bug and
fails the test.
"""

import numpy as np
import torch

from gn_testlib import R

RELATIVE = 1e-5


class _Kink(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, mask, hard):
        ctx.save_for_backward(mask)
        ctx.hard = hard
        return torch.clamp(x + 3.0, 0.0, 6.0) / 6.0 if hard else torch.clamp(x, min=0.0)

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask * (1.0 / 6.0 if ctx.hard else 1.0), None, None


def _active(x, hard):
    return ((x + 3.0 > 0) & (x + 3.0 < 6.0)) if hard else (x > 0)


class OurBranches(object):
    """Patches model's ReLUs and SE gates to back-propagate through our_inputs' sides of each
    kink (our_inputs: arrays in forward order). After a pass, `flipped` counts the elements
    where that differs from float64's own side."""

    def __init__(self, model, our_inputs):
        self.ours = our_inputs
        self.flipped = 0
        self.calls = 0
        for module in model.modules():
            if isinstance(module, torch.nn.ReLU):
                module.forward = self._activation(hard=False)
            if isinstance(module, R.SqueezeExcite):
                module.forward = self._se(module)

    def _activation(self, hard):
        return lambda x: self.apply(x, hard)

    def _se(self, se):
        def forward(x):
            s = se.conv_expand(se.act1(se.conv_reduce(x.mean((2, 3), keepdim=True))))
            return x * self.apply(s, True)
        return forward

    def apply(self, x, hard):
        if self.calls >= len(self.ours):
            raise AssertionError("PyTorch runs more activations (%d) than ours wrote"
                                 % (self.calls + 1))
        ours = torch.from_numpy(np.asarray(self.ours[self.calls], dtype=np.float64))
        self.calls += 1
        if tuple(ours.shape) != tuple(x.shape):
            raise AssertionError("activation %d: ours has shape %s, PyTorch %s"
                                 % (self.calls, tuple(ours.shape), tuple(x.shape)))
        exact = x.detach()
        mask = _active(ours, hard)
        differ = mask != _active(exact, hard)
        if bool(differ.any()):
            scale = float(exact.abs().max()) or 1.0
            kinks = (-3.0, 3.0) if hard else (0.0,)
            distance = torch.stack([(exact - k).abs() for k in kinks]).min(0).values
            far = differ & (distance > RELATIVE * scale)
            if bool(far.any()):
                i = int(far.flatten().nonzero()[0])
                raise AssertionError(
                    "activation %d: our input %.9g and PyTorch's %.9g fall on different sides "
                    "of a kink although PyTorch's is %.3g (relative) away from it"
                    % (self.calls, float(ours.flatten()[i]), float(exact.flatten()[i]),
                       float(distance.flatten()[i]) / scale))
            self.flipped += int(differ.sum())
        return _Kink.apply(x, mask.to(x.dtype), hard)

    def finish(self):
        if self.calls != len(self.ours):
            raise AssertionError("ours wrote %d activation inputs, PyTorch ran %d"
                                 % (len(self.ours), self.calls))
