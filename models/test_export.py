#!/usr/bin/env python3
"""The export keeps every public width the configuration's, whatever the trained values.

Trains nothing: a float LeNet with random weights and deliberately huge biases goes
through calibration on random pictures and `export`, then the files are read back. The
biases must be clipped to the configured `bias_bits` (and reach its edge, so the clip did
something), `model.json` must carry the configured widths and no other field derived from
the trained values than the power-of-two shifts, and the numpy integer reference must run
on the export.

    venv/bin/python models/test_export.py        # from the repository root

`cargo test` runs it through tests/train_export.rs when a Python with torch is found.
"""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import train  # noqa: E402

# The fields model.json may hold per weighted layer: architecture and configured widths,
# the tensors' file names, and the requantization shift (public architecture).
ALLOWED = {
    "type", "name", "kernel", "in_channels", "out_channels", "in_features", "out_features",
    "weight_bits", "weight_encoding", "bias_bits", "acc_bits", "shift", "out_bits", "weights",
    "bias",
}


class ExportClipsBiases(unittest.TestCase):
    def export(self, spec, bias_spec, bias_scale, acc_spec=None):
        torch.manual_seed(7)
        float_model = train.LeNet()
        with torch.no_grad():
            for name in train.PARAM_LAYERS:
                layer = getattr(float_model, name)
                signs = torch.where(torch.arange(layer.bias.numel()) % 2 == 0, 1.0, -1.0)
                layer.bias.copy_(signs * bias_scale)
        cfg = train.parse_config(spec, bias_spec, acc_spec)
        qmodel = train.QuantLeNet(float_model, cfg)
        generator = torch.Generator().manual_seed(3)
        pictures = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8, generator=generator)
        labels = torch.randint(0, 10, (64,), generator=generator)
        qmodel.calibrate(float_model, pictures, labels)
        qmodel.fit_accumulators()
        out = tempfile.mkdtemp(prefix="gcnn-export-test-")
        train.export(qmodel, out)
        with open(os.path.join(out, "model.json")) as f:
            doc = json.load(f)
        return cfg, out, doc, pictures

    def check(self, spec, bias_spec):
        cfg, out, doc, pictures = self.export(spec, bias_spec, bias_scale=1e4)
        weighted = [layer for layer in doc["layers"] if layer["type"] in ("conv2d", "dense")]
        self.assertEqual(len(weighted), 4)
        self.assertEqual(doc["input"]["bits"], cfg.input_bits)
        for layer, bits in zip(weighted, cfg.layers):
            self.assertLessEqual(set(layer), ALLOWED, layer["name"])
            self.assertEqual(layer["bias_bits"], bits.bias_bits, layer["name"])
            self.assertEqual(layer["weight_bits"], bits.weight_bits, layer["name"])
            self.assertEqual(layer["out_bits"], bits.out_bits, layer["name"])
            b = np.load(os.path.join(out, layer["bias"]))
            lo, hi = -(2 ** (bits.bias_bits - 1)), 2 ** (bits.bias_bits - 1) - 1
            self.assertGreaterEqual(int(b.min()), lo, layer["name"])
            self.assertLessEqual(int(b.max()), hi, layer["name"])
            # Biases of 1e4 are far outside any width: the clip must have bitten on both sides.
            self.assertEqual(int(b.max()), hi, layer["name"])
            self.assertEqual(int(b.min()), lo, layer["name"])
            w = np.load(os.path.join(out, layer["weights"]))
            wlo, whi = train.weight_levels(bits.encoding, bits.weight_bits)
            self.assertGreaterEqual(int(w.min()), wlo, layer["name"])
            self.assertLessEqual(int(w.max()), whi, layer["name"])
        preds = train.numpy_integer_predict(out, pictures.numpy())
        self.assertEqual(preds.shape, (pictures.shape[0],))

    def reach_bits(self, out, doc):
        """Per weighted layer, the narrowest two's-complement width holding every
        accumulator (and, for a one-bit layer, accumulator - 2^shift) it can reach."""
        bits, widths = doc["input"]["bits"], []
        for layer in doc["layers"]:
            if layer["type"] not in ("conv2d", "dense"):
                continue
            w = np.load(os.path.join(out, layer["weights"])).astype(np.int64)
            b = np.load(os.path.join(out, layer["bias"])).astype(np.int64)
            theta = 2 ** layer["shift"] if layer["out_bits"] == 1 else 0
            lo, hi = train.accumulator_extremes(w.reshape(w.shape[0], -1), b, 2**bits - 1, theta)
            widths.append(max(train.signed_bits_needed(lo), train.signed_bits_needed(hi)))
            bits = layer["out_bits"]
        return widths

    def test_accumulators_kept_within_the_configured_width(self):
        # Random weights at full scale reach past these widths (checked on the export
        # without them), so the fit must have shrunk them; model.json says the widths.
        spec, acc = "1/4o/1/4o/4/4o/4/6o", "8,11,13,14"
        _, out, doc, _ = self.export(spec, "6", bias_scale=0.0)
        free = self.reach_bits(out, doc)
        cfg, out, doc, pictures = self.export(spec, "6", bias_scale=0.0, acc_spec=acc)
        configured = [int(a) for a in acc.split(",")]
        self.assertTrue(any(f > c for f, c in zip(free, configured)), free)
        weighted = [layer for layer in doc["layers"] if layer["type"] in ("conv2d", "dense")]
        self.assertEqual([layer["acc_bits"] for layer in weighted], configured)
        for reached, width in zip(self.reach_bits(out, doc), configured):
            self.assertLessEqual(reached, width)
        self.assertEqual(train.numpy_integer_predict(out, pictures.numpy()).shape, (64,))

    def test_one_width_for_every_layer(self):
        self.check("1/2o/1/3o/3/3o/4/4o", "6")

    def test_a_width_per_layer(self):
        self.check("2/2o/1/4o/4/4o/4/6o", "5,6,7,8")

    def test_twos_complement_weights(self):
        self.check("1/2t/2/2t/2/2t/4/4t", "4")


if __name__ == "__main__":
    unittest.main()
