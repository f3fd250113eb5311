#!/usr/bin/env python3
"""Train, quantize and export gcnn's LeNet for MNIST.

One command does everything for one bit-width configuration:

  1. trains the float LeNet (or loads a cached float checkpoint),
  2. converts it to the integer semantics of models/README.md (power-of-two
     requantization shifts, odd or two's-complement weights) and fine-tunes it
     quantization-aware with straight-through estimators,
  3. exports models/lenet/ (one .npy per tensor plus model.json),
  4. evaluates the EXPORTED files with a pure-numpy integer implementation and
     prints its accuracy on the 10k test set (the Rust reference must agree).

`--sweep` runs step 2-4 for a list of configurations from one float model and
writes a markdown table (bit widths, float acc, integer acc, estimated bytes).

The quantization-aware forward pass computes exactly the integer semantics: the
quantized weights, biases and activations are integer-valued float32 tensors
(every partial sum stays far below 2^24, so float32 is exact), the shift is a
floor of a division by a power of two, and the clamp is ReLU plus saturation.
Gradients pass through the rounding with the straight-through estimator.
"""

import argparse
import gzip
import json
import math
import os
import sys
import time
from dataclasses import dataclass

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Multiply-accumulates per layer of the fixed LeNet (cost model).
MACS = {"conv1": 230_400, "conv2": 409_600, "fc1": 25_600, "fc2": 1_000}
# Garbled bytes per MAC per (input bit x weight bit).
BYTES_PER_BIT_PRODUCT = {"odd": 32, "twos": 48}
PARAM_LAYERS = ["conv1", "conv2", "fc1", "fc2"]
# Bias width of every layer unless --bias-bits says otherwise (see LayerBits.bias_bits).
DEFAULT_BIAS_BITS = "6"


# ----------------------------------------------------------------------------
# Data


def read_idx(path):
    """Reads an idx file (gzipped or not) into a numpy array."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(dims):
        raise ValueError(f"{path}: header says {dims}, file has {data.size} bytes of data")
    return data.reshape(dims)


def find_idx(data_dir, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(data_dir, candidate)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{data_dir}: neither {name} nor {name}.gz exists")


def load_split(data_dir, prefix):
    images = read_idx(find_idx(data_dir, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find_idx(data_dir, f"{prefix}-labels-idx1-ubyte"))
    if images.shape[1:] != (28, 28) or images.shape[0] != labels.shape[0]:
        raise ValueError(f"{data_dir}: {prefix} images {images.shape} / labels {labels.shape}")
    return images, labels


def augment(images_u8, generator, max_shift):
    """Random translation by up to max_shift pixels (zero fill), per sample."""
    if max_shift == 0:
        return images_u8
    n = images_u8.shape[0]
    padded = F.pad(images_u8, (max_shift, max_shift, max_shift, max_shift))
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    ar = torch.arange(28)
    rows = (dy[:, None] + ar[None, :])[:, :, None]
    cols = (dx[:, None] + ar[None, :])[:, None, :]
    return padded[torch.arange(n)[:, None, None], rows, cols]


def batches(images, labels, batch_size, generator, max_shift):
    order = torch.randperm(images.shape[0], generator=generator)
    for start in range(0, images.shape[0], batch_size):
        idx = order[start : start + batch_size]
        yield augment(images[idx], generator, max_shift), labels[idx]


# ----------------------------------------------------------------------------
# Float model


class LeNet(torch.nn.Module):
    """The fixed architecture; flatten is HWC so fc1's columns match the export."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 16, 5)
        self.conv2 = torch.nn.Conv2d(16, 16, 5)
        self.fc1 = torch.nn.Linear(256, 100)
        self.fc2 = torch.nn.Linear(100, 10)

    def features(self, x):
        """Returns the post-ReLU activations of conv1, conv2, fc1 and the logits."""
        a1 = F.relu(self.conv1(x))
        a2 = F.relu(self.conv2(F.max_pool2d(a1, 2)))
        flat = F.max_pool2d(a2, 2).permute(0, 2, 3, 1).flatten(1)
        a3 = F.relu(self.fc1(flat))
        return [a1, a2, a3, self.fc2(a3)]

    def forward(self, pixels_u8):
        return self.features(pixels_u8.float().unsqueeze(1) / 255.0)[-1]


def evaluate(model, images, labels, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, images.shape[0], batch):
            out = model(images[start : start + batch])
            correct += (out.argmax(1) == labels[start : start + batch]).sum().item()
    model.train()
    return correct / images.shape[0]


def train_loop(model, params, train, test, epochs, lr, seed, max_shift, label, after_step=None):
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(params, lr=lr)
    steps = epochs * math.ceil(train[0].shape[0] / 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=steps, pct_start=0.1, anneal_strategy="cos"
    )
    for epoch in range(epochs):
        t0 = time.time()
        total, count = 0.0, 0
        for x, y in batches(train[0], train[1], 128, generator, max_shift):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if after_step is not None:
                after_step()
            total += loss.item() * y.shape[0]
            count += y.shape[0]
        acc = evaluate(model, *test)
        print(
            f"[{label}] epoch {epoch + 1}/{epochs} loss {total / count:.4f} "
            f"test {acc:.4f} ({time.time() - t0:.0f}s)",
            flush=True,
        )


# ----------------------------------------------------------------------------
# Quantization


@dataclass
class LayerBits:
    """Bit widths of one weighted layer."""

    weight_bits: int
    encoding: str  # "odd" or "twos"
    out_bits: int | None  # None for the last layer
    # Two's-complement width of the integer biases. Public (it goes into model.json), so
    # it is configuration fixed before training, never derived from the trained biases:
    # a width computed from them would tell the client each layer's bias range.
    bias_bits: int
    # Two's-complement width of the accumulator shares (public, in model.json), or None for
    # the worst case the weight and input widths allow. Configuration like bias_bits: the
    # quantization-aware phase keeps every output's reachable accumulators inside it
    # (QuantLeNet.fit_accumulators), the export checks it, the loader checks it again.
    acc_bits: int | None = None


@dataclass
class Config:
    input_bits: int
    layers: list  # four LayerBits, conv1 conv2 fc1 fc2

    def name(self):
        parts = [f"in{self.input_bits}"]
        for lname, lb in zip(PARAM_LAYERS, self.layers):
            enc = "o" if lb.encoding == "odd" else "t"
            out = f"a{lb.out_bits}" if lb.out_bits is not None else ""
            parts.append(f"{lname}:w{lb.weight_bits}{enc}{out}")
        return " ".join(parts)

    def estimated_bytes(self):
        total = 0
        a_in = self.input_bits
        for lname, lb in zip(PARAM_LAYERS, self.layers):
            total += MACS[lname] * a_in * lb.weight_bits * BYTES_PER_BIT_PRODUCT[lb.encoding]
            a_in = lb.out_bits
        return total


def parse_config(spec, bias_spec=DEFAULT_BIAS_BITS, acc_spec=None):
    """Parses 'B0/W1e/A1/W2e/A2/W3e/A3/W4e[:ACC]', e.g. '1/2o/2/1o/2/2o/4/4o', the bias
    widths: one for every layer ('6') or one per layer ('6,6,8,8'), and the accumulator
    widths ACC, after a colon in the spec or as `acc_spec` (which wins): four, '-' for
    the worst case ('8,12,-,-'); none for the worst case everywhere."""
    spec, _, in_spec = spec.partition(":")
    acc_spec = acc_spec or in_spec or None
    bias_bits = [int(b) for b in bias_spec.split(",")]
    if len(bias_bits) == 1:
        bias_bits *= 4
    if len(bias_bits) != 4 or not all(2 <= b <= 24 for b in bias_bits):
        raise ValueError(f"bias bits {bias_spec!r}: expected one or four widths in 2..=24")
    acc_bits = [None] * 4
    if acc_spec is not None:
        acc_bits = [None if a == "-" else int(a) for a in acc_spec.split(",")]
        if len(acc_bits) != 4 or not all(a is None or 2 <= a <= 62 for a in acc_bits):
            raise ValueError(f"accumulator bits {acc_spec!r}: expected four widths in 2..=62 or -")
    parts = spec.split("/")
    if len(parts) != 8:
        raise ValueError(f"config {spec!r}: expected 8 '/'-separated fields")
    layers = []
    for i in range(4):
        w = parts[1 + 2 * i]
        enc = {"o": "odd", "t": "twos"}[w[-1]]
        out_bits = int(parts[2 + 2 * i]) if i < 3 else None
        layers.append(LayerBits(int(w[:-1]), enc, out_bits, bias_bits[i], acc_bits[i]))
    cfg = Config(int(parts[0]), layers)
    if not 1 <= cfg.input_bits <= 8:
        raise ValueError("input bits must be in 1..=8")
    for lb in layers:
        if not 1 <= lb.weight_bits <= 8 or (lb.out_bits is not None and not 1 <= lb.out_bits <= 8):
            raise ValueError(f"config {spec!r}: bit widths must be in 1..=8")
    return cfg


def weight_levels(encoding, bits):
    """(lowest, highest) integer weight of an encoding."""
    if encoding == "odd":
        return -(2**bits - 1), 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def quantize_weight(v, encoding, bits):
    """Nearest representable integer weight, straight-through gradient inside the range."""
    lo, hi = weight_levels(encoding, bits)
    if encoding == "odd":
        q = torch.clamp(2 * torch.floor(v / 2) + 1, lo, hi)
        inside = (v >= lo - 1) & (v <= hi + 1)
    else:
        q = torch.clamp(torch.round(v), lo, hi)
        inside = (v >= lo - 0.5) & (v <= hi + 0.5)
    ste = torch.where(inside, v, v.detach())
    return ste + (q - ste).detach()


def accumulator_extremes(q, b, xmax, theta):
    """Per output row of the integer weights `q` (outputs x terms) with biases `b`, inputs
    in 0..=xmax: the lowest accumulator minus `theta` and the highest accumulator. With
    theta = 2^shift for a one-bit layer, whose shares add up to acc - 2^shift (see
    src/compiler/stages.rs), both the accumulator and that must fit the ring."""
    neg = q.clip(max=0).sum(1)
    pos = q.clip(min=0).sum(1)
    return b - theta + xmax * neg, b + xmax * pos


def ste_round(v):
    return v + (torch.round(v) - v).detach()


def ste_floor(v):
    return v + (torch.floor(v) - v).detach()


def best_weight_step(w, encoding, bits):
    """The quantization step minimizing the weights' squared error."""
    lo, hi = weight_levels(encoding, bits)
    wmax = w.abs().max().item()
    best = (float("inf"), wmax / hi)
    for k in np.linspace(0.02, 1.2, 119):
        step = k * wmax / max(hi, 1)
        err = ((quantize_weight(w / step, encoding, bits) * step - w) ** 2).sum().item()
        if err < best[0]:
            best = (err, step)
    return best[1]


def best_clip(act, bits):
    """The clip value minimizing squared error of an unsigned `bits`-bit round-to-nearest grid."""
    act = act.flatten()
    if act.numel() > 2_000_000:
        act = act[torch.randperm(act.numel(), generator=torch.Generator().manual_seed(0))[:2_000_000]]
    top = act.max().item()
    levels = 2**bits - 1
    best = (float("inf"), top)
    for k in np.linspace(0.02, 1.0, 99):
        clip = k * top
        delta = clip / levels
        q = torch.clamp(torch.floor(act / delta + 0.5), 0, levels) * delta
        err = ((q - act) ** 2).sum().item()
        if err < best[0]:
            best = (err, clip)
    return best[1]


class QuantLeNet(torch.nn.Module):
    """LeNet computing the exact integer semantics, trainable through STEs.

    Trainable: the float weights W and biases b of each layer. Fixed per layer: the
    weight step `sw` (integer weight = quantize(W / sw)), the accumulator unit
    `unit` = sw * (input activation step) (integer bias = round(b / unit)), and the
    requantization shift. Activations are the integers of the semantics.
    """

    def __init__(self, float_model, cfg):
        super().__init__()
        self.cfg = cfg
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for lname in PARAM_LAYERS:
            layer = getattr(float_model, lname)
            self.weights.append(torch.nn.Parameter(layer.weight.detach().clone()))
            self.biases.append(torch.nn.Parameter(layer.bias.detach().clone()))
        self.steps = [1.0] * 4
        self.units = [1.0] * 4
        self.shifts = [0] * 3

    def int_weight(self, i):
        lb = self.cfg.layers[i]
        return quantize_weight(self.weights[i] / self.steps[i], lb.encoding, lb.weight_bits)

    def int_bias(self, i):
        """The integer bias, clipped to the layer's configured width (no gradient
        beyond the clip, so training learns to live within it)."""
        k = self.cfg.layers[i].bias_bits
        return torch.clamp(ste_round(self.biases[i] / self.units[i]), -(2 ** (k - 1)), 2 ** (k - 1) - 1)

    def in_max(self, i):
        """Largest input value of layer i."""
        bits = self.cfg.input_bits if i == 0 else self.cfg.layers[i - 1].out_bits
        return 2**bits - 1

    def theta(self, i):
        """What a one-bit layer's shares subtract from the accumulator: 2^shift."""
        return 2 ** self.shifts[i] if self.cfg.layers[i].out_bits == 1 else 0

    def fit_accumulators(self):
        """Keeps every output's reachable accumulators inside the configured width: where an
        extreme leaves it, that output's weights of the offending sign shrink by 3 % until
        their integers fit (odd weights stop at magnitude 1, so a width too narrow for even
        those is an error)."""
        with torch.no_grad():
            for i, lb in enumerate(self.cfg.layers):
                if lb.acc_bits is None:
                    continue
                half = 2 ** (lb.acc_bits - 1)
                w = self.weights[i].view(self.weights[i].shape[0], -1)
                for _ in range(200):
                    q = self.int_weight(i).flatten(1)
                    lo, hi = accumulator_extremes(q, self.int_bias(i), self.in_max(i), self.theta(i))
                    low, high = (lo < -half)[:, None], (hi > half - 1)[:, None]
                    if not (low.any() or high.any()):
                        break
                    shrink = (low & (w < 0)) | (high & (w > 0))
                    w.mul_(torch.where(shrink, 0.97, 1.0))
                else:
                    raise ValueError(f"{PARAM_LAYERS[i]}: no weights of this configuration keep "
                                     f"its accumulators within {lb.acc_bits} bits")

    def input_ints(self, pixels_u8):
        return (pixels_u8.to(torch.int32) >> (8 - self.cfg.input_bits)).float().unsqueeze(1)

    def requant(self, acc, i):
        y = ste_floor(acc / 2 ** self.shifts[i])
        return torch.clamp(y, 0, 2 ** self.cfg.layers[i].out_bits - 1)

    def int_forward(self, pixels_u8):
        """Integer logits (as float32) of the exact integer semantics."""
        x = self.input_ints(pixels_u8)
        x = self.requant(F.conv2d(x, self.int_weight(0), self.int_bias(0)), 0)
        x = F.max_pool2d(x, 2)
        x = self.requant(F.conv2d(x, self.int_weight(1), self.int_bias(1)), 1)
        x = F.max_pool2d(x, 2).permute(0, 2, 3, 1).flatten(1)
        x = self.requant(F.linear(x, self.int_weight(2), self.int_bias(2)), 2)
        return F.linear(x, self.int_weight(3), self.int_bias(3))

    def forward(self, pixels_u8):
        # Real-valued logits for the loss: the last accumulator unit is the temperature.
        return self.int_forward(pixels_u8) * self.units[3]

    def calibrate(self, float_model, calib_u8, calib_labels):
        """Picks weight steps, shifts and initial biases from the float model."""
        with torch.no_grad():
            acts = float_model.features(calib_u8.float().unsqueeze(1) / 255.0)
        clips = [best_clip(a, lb.out_bits) for a, lb in zip(acts[:3], self.cfg.layers[:3])]
        for i, lb in enumerate(self.cfg.layers):
            self.steps[i] = best_weight_step(self.weights[i].detach(), lb.encoding, lb.weight_bits)
        natural = self.derive_shifts(clips, [None] * 3, float_model)
        # Greedy: try each requant shift one off the natural choice, keep the best loss.
        fixed = list(natural)
        for i in range(3):
            best = None
            for s in (natural[i] - 1, natural[i], natural[i] + 1):
                if s < 0:
                    continue
                trial = fixed[:i] + [s] + [None] * (2 - i)
                self.derive_shifts(clips, trial, float_model)
                with torch.no_grad():
                    loss = F.cross_entropy(self(calib_u8), calib_labels).item()
                if best is None or loss < best[0]:
                    best = (loss, s)
            fixed[i] = best[1]
        self.derive_shifts(clips, fixed, float_model)

    def derive_shifts(self, clips, forced, float_model):
        """Sets units, shifts and biases (round-to-nearest folded into the bias)."""
        in_step = 1.0 / (2**self.cfg.input_bits - 1)
        for i in range(4):
            self.units[i] = self.steps[i] * in_step
            if i == 3:
                break
            levels = 2 ** self.cfg.layers[i].out_bits - 1
            s = forced[i]
            if s is None:
                s = max(0, round(math.log2(clips[i] / (levels * self.units[i]))))
            self.shifts[i] = s
            in_step = self.units[i] * 2**s
        self.fold_rounding(float_model)
        return list(self.shifts)

    def fold_rounding(self, float_model):
        """Initial biases: float bias in accumulator units plus 2^(s-1) (round to nearest)."""
        with torch.no_grad():
            for i, lname in enumerate(PARAM_LAYERS):
                b = getattr(float_model, lname).bias.detach() / self.units[i]
                if i < 3 and self.shifts[i] > 0:
                    b = b + 2 ** (self.shifts[i] - 1)
                self.biases[i].copy_(b * self.units[i])


# ----------------------------------------------------------------------------
# Export and the numpy integer reference


def signed_bits_needed(values):
    """Smallest two's-complement width holding every value."""
    lo, hi = int(values.min()), int(values.max())
    bits = 1
    while not (-(2 ** (bits - 1)) <= lo and hi <= 2 ** (bits - 1) - 1):
        bits += 1
    return bits


def export(qmodel, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    cfg = qmodel.cfg
    layers = []
    with torch.no_grad():
        for i, lname in enumerate(PARAM_LAYERS):
            lb = cfg.layers[i]
            w = qmodel.int_weight(i).round().to(torch.int64).numpy()
            b = qmodel.int_bias(i).round().to(torch.int64).numpy()
            if lname.startswith("conv"):
                w = w.transpose(0, 2, 3, 1)  # (out, in, kh, kw) -> (out, kh, kw, in)
            lo, hi = weight_levels(lb.encoding, lb.weight_bits)
            wdtype = np.int8 if -128 <= lo and hi <= 127 else np.int16
            # The configured width, not the one the trained values need (int_bias clips).
            bias_bits = lb.bias_bits
            assert signed_bits_needed(b) <= bias_bits, f"{lname}: bias outside its clip"
            if lb.acc_bits is not None:
                lo_acc, hi_acc = accumulator_extremes(
                    w.reshape(w.shape[0], -1), b, qmodel.in_max(i), qmodel.theta(i))
                half = 2 ** (lb.acc_bits - 1)
                assert -half <= lo_acc.min() and hi_acc.max() < half, \
                    f"{lname}: accumulators outside acc_bits {lb.acc_bits}"
            np.save(os.path.join(out_dir, f"{lname}_w.npy"), np.ascontiguousarray(w.astype(wdtype)))
            np.save(os.path.join(out_dir, f"{lname}_b.npy"), np.ascontiguousarray(b.astype(np.int32)))
            entry = {"type": "conv2d" if lname.startswith("conv") else "dense", "name": lname}
            if lname.startswith("conv"):
                entry.update(kernel=5, in_channels=w.shape[3], out_channels=w.shape[0])
            else:
                entry.update(in_features=w.shape[1], out_features=w.shape[0])
            entry.update(
                weight_bits=lb.weight_bits,
                weight_encoding=lb.encoding,
                bias_bits=bias_bits,
                **({} if lb.acc_bits is None else {"acc_bits": lb.acc_bits}),
                shift=qmodel.shifts[i] if i < 3 else None,
                out_bits=lb.out_bits,
                weights=f"{lname}_w.npy",
                bias=f"{lname}_b.npy",
            )
            layers.append(entry)
            if lname == "conv1":
                layers.append({"type": "maxpool2d", "name": "pool1", "size": 2})
            elif lname == "conv2":
                layers.append({"type": "maxpool2d", "name": "pool2", "size": 2})
                layers.append({"type": "flatten", "name": "flatten"})
    doc = {
        "format": "gcnn-lenet",
        "version": 1,
        "input": {"height": 28, "width": 28, "channels": 1, "bits": cfg.input_bits},
        "layers": layers,
    }
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def numpy_integer_predict(model_dir, images_u8, batch=500):
    """The integer semantics in pure numpy (int64), reading the exported files."""
    with open(os.path.join(model_dir, "model.json")) as f:
        doc = json.load(f)
    tensors = {}
    for layer in doc["layers"]:
        if layer["type"] in ("conv2d", "dense"):
            tensors[layer["name"]] = (
                np.load(os.path.join(model_dir, layer["weights"])).astype(np.int64),
                np.load(os.path.join(model_dir, layer["bias"])).astype(np.int64),
            )
    b0 = doc["input"]["bits"]
    preds = []
    for start in range(0, images_u8.shape[0], batch):
        x = images_u8[start : start + batch].astype(np.int64)[..., None] >> (8 - b0)  # N,H,W,C
        for layer in doc["layers"]:
            kind = layer["type"]
            if kind == "conv2d":
                w, b = tensors[layer["name"]]
                k = layer["kernel"]
                win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))
                win = win.transpose(0, 1, 2, 4, 5, 3)  # N, H', W', kh, kw, C
                n, h, wd = win.shape[:3]
                acc = win.reshape(n, h, wd, -1) @ w.reshape(w.shape[0], -1).T + b
            elif kind == "dense":
                w, b = tensors[layer["name"]]
                acc = x @ w.T + b
            elif kind == "maxpool2d":
                n, h, wd, c = x.shape
                x = x.reshape(n, h // 2, 2, wd // 2, 2, c).max(axis=(2, 4))
                continue
            elif kind == "flatten":
                x = x.reshape(x.shape[0], -1)
                continue
            if layer["shift"] is None:
                x = acc
            else:
                x = np.clip(acc >> layer["shift"], 0, 2 ** layer["out_bits"] - 1)
        preds.append(np.argmax(x, axis=1))  # first maximum: ties go to the lowest index
    return np.concatenate(preds)


# ----------------------------------------------------------------------------
# Driver


def float_model_for(args, train, test):
    torch.manual_seed(args.seed)
    model = LeNet()
    if args.float_checkpoint and os.path.exists(args.float_checkpoint):
        model.load_state_dict(torch.load(args.float_checkpoint))
        print(f"loaded float model from {args.float_checkpoint}", flush=True)
    else:
        t0 = time.time()
        train_loop(model, model.parameters(), train, test, args.float_epochs, args.float_lr,
                   args.seed, args.shift_aug, "float")
        print(f"float training took {time.time() - t0:.0f}s", flush=True)
        if args.float_checkpoint:
            os.makedirs(os.path.dirname(os.path.abspath(args.float_checkpoint)), exist_ok=True)
            torch.save(model.state_dict(), args.float_checkpoint)
    return model


def quantize_and_export(args, cfg, float_model, train, test, out_dir):
    torch.manual_seed(args.seed)
    qmodel = QuantLeNet(float_model, cfg)
    calib = torch.Generator().manual_seed(args.seed)
    idx = torch.randperm(train[0].shape[0], generator=calib)[:4096]
    qmodel.calibrate(float_model, train[0][idx], train[1][idx])
    qmodel.fit_accumulators()
    print(f"[{cfg.name()}] shifts {qmodel.shifts}, after calibration test "
          f"{evaluate(qmodel, *test):.4f}", flush=True)
    t0 = time.time()
    train_loop(qmodel, qmodel.parameters(), train, test, args.qat_epochs, args.qat_lr,
               args.seed + 1, args.shift_aug, "qat", after_step=qmodel.fit_accumulators)
    print(f"quantization-aware training took {time.time() - t0:.0f}s", flush=True)
    fake_quant_acc = evaluate(qmodel, *test)
    export(qmodel, out_dir)
    preds = numpy_integer_predict(out_dir, test[0].numpy())
    int_acc = float((preds == test[1].numpy()).mean())
    return fake_quant_acc, int_acc


DEFAULT_CONFIG = "2/3o/1/4o/5/4o/6/8o:8,12,17,20"
SWEEP_CONFIGS = [
    "1/1o/1/2o/2/2o/4/4o",
    "1/2o/1/2o/2/2o/4/4o",
    "1/2o/2/1o/2/2o/4/4o",
    "1/3o/1/2o/3/3o/4/4o",
    "1/2o/3/1o/3/2o/4/4o",
    "1/2o/1/3o/3/3o/4/4o",
    "1/1o/2/2o/2/2o/4/4o",
    "1/2o/2/2o/2/2o/4/4o",
    "1/3o/2/2o/3/3o/4/4o",
    "1/2t/2/2t/2/2t/4/4t",
    "8/2o/2/2o/2/2o/4/4o",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(REPO), "shared", "mnist"),
                    help="directory with the four MNIST idx(.gz) files")
    ap.add_argument("--out", default=os.path.join(REPO, "models", "lenet"))
    ap.add_argument("--config", default=DEFAULT_CONFIG,
                    help="bit widths B0/W1e/A1/W2e/A2/W3e/A3/W4e: B0 input bits, Wk weight bits "
                         "with encoding o(dd) or t(wos), Ak out bits; optionally :ACC, the "
                         "accumulator widths as --acc-bits takes them (default %(default)s)")
    ap.add_argument("--bias-bits", default=DEFAULT_BIAS_BITS,
                    help="two's-complement width of the biases, one for all layers or four "
                         "comma-separated; public, fixed before training, biases clipped to it "
                         "(default %(default)s)")
    ap.add_argument("--acc-bits", default=None,
                    help="two's-complement width of each layer's accumulator shares, four "
                         "comma-separated, '-' for the worst case its widths allow; public, "
                         "fixed before training, the weights kept within it (default: the "
                         "config's :ACC, else the worst case for every layer)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--float-epochs", type=int, default=20)
    ap.add_argument("--float-lr", type=float, default=2e-3)
    ap.add_argument("--qat-epochs", type=int, default=12)
    ap.add_argument("--qat-lr", type=float, default=1e-3)
    ap.add_argument("--shift-aug", type=int, default=2, help="max random translation (pixels)")
    ap.add_argument("--float-checkpoint", default=None,
                    help="reuse (or save) the float model here instead of retraining")
    ap.add_argument("--sweep", nargs="?", const=os.path.join(REPO, "models", "sweep.md"),
                    help="run every sweep configuration and write the markdown table here")
    ap.add_argument("--sweep-configs", nargs="*", default=None)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    train_np = load_split(args.data, "train")
    test_np = load_split(args.data, "t10k")
    train = (torch.from_numpy(train_np[0].copy()), torch.from_numpy(train_np[1].astype(np.int64)))
    test = (torch.from_numpy(test_np[0].copy()), torch.from_numpy(test_np[1].astype(np.int64)))
    print(f"torch {torch.__version__}, numpy {np.__version__}, {args.threads} thread(s)", flush=True)

    t_start = time.time()
    float_model = float_model_for(args, train, test)
    float_acc = evaluate(float_model, *test)
    print(f"float accuracy: {float_acc:.4f}", flush=True)

    if args.sweep:
        rows = []
        for spec in args.sweep_configs or SWEEP_CONFIGS:
            cfg = parse_config(spec, args.bias_bits, args.acc_bits)
            out_dir = os.path.join(os.path.dirname(args.sweep), "sweep-out", spec.replace("/", "_"))
            fq, ia = quantize_and_export(args, cfg, float_model, train, test, out_dir)
            mb = cfg.estimated_bytes() / 1e6
            rows.append((spec, float_acc, fq, ia, mb))
            print(f"SWEEP {spec}: float {float_acc:.4f} qat {fq:.4f} integer {ia:.4f} "
                  f"bytes {mb:.1f} MB", flush=True)
            with open(args.sweep, "w") as f:
                f.write("| config (B0/W1/A1/W2/A2/W3/A3/W4) | float acc | integer acc | est. MB |\n")
                f.write("|---|---|---|---|\n")
                for r in rows:
                    f.write(f"| `{r[0]}` | {r[1]:.4f} | {r[3]:.4f} | {r[4]:.1f} |\n")
        return

    cfg = parse_config(args.config, args.bias_bits, args.acc_bits)
    fq, ia = quantize_and_export(args, cfg, float_model, train, test, args.out)
    print(f"config {args.config} ({cfg.name()})")
    print(f"pure-circuit cost model: {cfg.estimated_bytes() / 1e6:.1f} MB (the mixed protocol's "
          "exact bytes: gcnn compile --model OUT, then gcnn inspect)")
    print(f"fake-quantized accuracy: {fq:.4f}")
    print(f"total time: {time.time() - t_start:.0f}s")
    correct = int(round(ia * test[1].shape[0]))
    print(f"integer accuracy (numpy, exported model): {ia:.4f} ({correct}/{test[1].shape[0]})")
    if abs(fq - ia) > 0:
        print("WARNING: fake-quantized and exported integer accuracies differ", file=sys.stderr)


if __name__ == "__main__":
    main()
