"""Train and export the shipped multi-branch example: scikit-learn's digits, Brevitas, QONNX.

    python3 examples/train_digits_mb.py        # ~1 minute on 2 cores

The network mixes precisions the way multi-branch binary networks do: a
4-bit input, a first convolution with 2-bit weights (2 x 4 = 8 branch
pairs), two fully binary middle convolutions (1-bit weights and activations,
one xnor-popcount each), and a 2-bit classifier on 2-bit activations.

Writes into bitops/model/data/ (package data, so `bitops demo` finds it after
`pip install .`):
  digits_mb.onnx      the QONNX export (TorchScript exporter, one file)
  digits_test.npz     the held-out split: x_u8 (N,1,8,8) raw pixels 0..16, y (N,),
                      mean/std used for normalisation, and the trainer's own
                      logits on it (brevitas_logits) and its accuracy
Needs torch==2.13.0, brevitas, scikit-learn, onnx, onnxoptimizer.
"""
import os

import numpy as np
import torch
from torch import nn

import brevitas.nn as qnn
from brevitas.export import export_qonnx
from brevitas.quant import (Int8ActPerTensorFloat, Int8WeightPerTensorFloat, SignedBinaryActPerTensorConst,
                            SignedBinaryWeightPerTensorConst, Uint8ActPerTensorFloat)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bitops", "model", "data")


class DigitsMB(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = qnn.QuantIdentity(act_quant=Int8ActPerTensorFloat, bit_width=4, return_quant_tensor=True)
        self.conv1 = qnn.QuantConv2d(1, 32, 3, padding=1, bias=False, weight_quant=Int8WeightPerTensorFloat,
                                     weight_bit_width=2)
        self.bn1 = nn.BatchNorm2d(32)
        self.bin1 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
        self.conv2 = qnn.QuantConv2d(32, 64, 3, padding=1, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
        self.bn2 = nn.BatchNorm2d(64)
        self.pool2 = nn.MaxPool2d(2)
        self.bin2 = qnn.QuantIdentity(act_quant=SignedBinaryActPerTensorConst, return_quant_tensor=True)
        self.conv3 = qnn.QuantConv2d(64, 64, 3, padding=1, bias=False, weight_quant=SignedBinaryWeightPerTensorConst)
        self.bn3 = nn.BatchNorm2d(64)
        self.pool3 = nn.MaxPool2d(2)
        self.act3 = qnn.QuantReLU(act_quant=Uint8ActPerTensorFloat, bit_width=2, return_quant_tensor=True)
        self.fc = qnn.QuantLinear(64 * 2 * 2, 10, bias=True, weight_quant=Int8WeightPerTensorFloat,
                                  weight_bit_width=2)

    def forward(self, x):
        x = self.inp(x)
        x = self.bin1(self.bn1(self.conv1(x)))
        x = self.bin2(self.pool2(self.bn2(self.conv2(x))))
        x = self.act3(self.pool3(self.bn3(self.conv3(x))))
        return self.fc(torch.flatten(x, 1))


def main(epochs=60, seed=0):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    torch.manual_seed(seed)
    d = load_digits()
    x_u8 = d.images.astype(np.uint8)[:, None]            # (N, 1, 8, 8), values 0..16
    x_tr, x_te, y_tr, y_te = train_test_split(x_u8, d.target, test_size=0.25, random_state=seed,
                                              stratify=d.target)
    mean, std = float(x_tr.mean()), float(x_tr.std())
    norm = lambda a: torch.from_numpy(((a.astype(np.float32) - mean) / std).astype(np.float32))  # noqa: E731
    xt, yt = norm(x_tr), torch.from_numpy(y_tr.astype(np.int64))
    net = DigitsMB()
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    g = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            loss = nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    with torch.no_grad():
        logits = net(norm(x_te)).numpy()
    acc = float((logits.argmax(1) == y_te).mean())
    print(f"Brevitas test accuracy: {acc:.4f} on {len(y_te)} digits")
    os.makedirs(OUT, exist_ok=True)
    export_qonnx(net, torch.zeros(1, 1, 8, 8), os.path.join(OUT, "digits_mb.onnx"), dynamo=False)
    np.savez_compressed(os.path.join(OUT, "digits_test.npz"), x_u8=x_te, y=y_te.astype(np.int64),
                        mean=np.float32(mean), std=np.float32(std), brevitas_logits=logits.astype(np.float32),
                        brevitas_accuracy=np.float64(acc))


if __name__ == "__main__":
    main()
