"""Writes the built-in workload files of this folder (run: python -m simulator.workloads.generate).

Shapes follow the published architectures; bits follow the usual binary-network
practice: first and last layers 8-bit weights and activations, the rest 1-bit.
"""
from pathlib import Path

import yaml

FOLDER = Path(__file__).parent


def conv(name, hw, cin, cout, k, s=1, p=None, groups=1):
    p = k // 2 if p is None else p
    return {"name": name, "op": "conv", "in": [hw, hw, cin], "out_channels": cout,
            "kernel": k, "stride": s, "padding": p, **({"groups": groups} if groups > 1 else {})}


def out_size(hw, k, s, p):
    return (hw + 2 * p - k) // s + 1


def resnet(blocks, bottleneck):
    """torchvision ResNet (v1.5: the stride sits on the 3x3 conv)."""
    layers = [conv("conv1", 224, 3, 64, 7, 2, 3)]
    hw, cin = 56, 64           # after the 3x3/2 max pool
    for stage, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512)), start=1):
        cout = width * 4 if bottleneck else width
        for b in range(n):
            s = 2 if (b == 0 and stage > 1) else 1
            pre = f"layer{stage}.{b}"
            if bottleneck:
                layers.append(conv(f"{pre}.conv1", hw, cin, width, 1, 1, 0))
                layers.append(conv(f"{pre}.conv2", hw, width, width, 3, s, 1))
                layers.append(conv(f"{pre}.conv3", out_size(hw, 3, s, 1), width, cout, 1, 1, 0))
            else:
                layers.append(conv(f"{pre}.conv1", hw, cin, width, 3, s, 1))
                layers.append(conv(f"{pre}.conv2", out_size(hw, 3, s, 1), width, width, 3, 1, 1))
            if s != 1 or cin != cout:
                layers.append(conv(f"{pre}.downsample", hw, cin, cout, 1, s, 0))
            hw, cin = out_size(hw, 3, s, 1), cout
    layers.append({"name": "fc", "op": "fc", "in_features": cin, "out_features": 1000})
    return layers


def cnv():
    """The VGG-style CIFAR-10 network of FINN/BNN-PYNQ (CNV): unpadded 3x3 convs, 2x2 pools."""
    spec = [(32, 3, 64), (30, 64, 64), (14, 64, 128), (12, 128, 128), (5, 128, 256), (3, 256, 256)]
    layers = [conv(f"conv{i}", hw, cin, cout, 3, 1, 0) for i, (hw, cin, cout) in enumerate(spec)]
    for i, (fin, fout) in enumerate([(256, 512), (512, 512), (512, 10)]):
        layers.append({"name": f"fc{i}", "op": "fc", "in_features": fin, "out_features": fout})
    return layers


def mobilenet_v2():
    """MobileNet-V2 (Sandler et al. 2018, width 1.0, 224x224)."""
    layers = [conv("conv0", 224, 3, 32, 3, 2, 1)]
    hw, cin = 112, 32
    table = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]
    index = 0
    for t, c, n, s in table:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            pre = f"block{index}"
            if t != 1:
                layers.append(conv(f"{pre}.expand", hw, cin, hidden, 1, 1, 0))
            layers.append(conv(f"{pre}.dw", hw, hidden, hidden, 3, stride, 1, groups=hidden))
            hw = out_size(hw, 3, stride, 1)
            layers.append(conv(f"{pre}.project", hw, hidden, c, 1, 1, 0))
            cin = c
            index += 1
    layers.append(conv("conv_last", hw, cin, 1280, 1, 1, 0))
    layers.append({"name": "fc", "op": "fc", "in_features": 1280, "out_features": 1000})
    return layers


NETS = {
    "resnet18": ("ResNet-18, ImageNet 224x224 (He et al. 2016)", lambda: resnet((2, 2, 2, 2), False)),
    "resnet50": ("ResNet-50, ImageNet 224x224 (He et al. 2016, torchvision v1.5)", lambda: resnet((3, 4, 6, 3), True)),
    "cnv-cifar10": ("VGG-style CNV for CIFAR-10 (FINN, Umuroglu et al. 2017)", cnv),
    "mobilenet-v2": ("MobileNet-V2, ImageNet 224x224 (Sandler et al. 2018), depthwise as groups", mobilenet_v2),
}


def main():
    for name, (title, build) in NETS.items():
        layers = build()
        for i, layer in enumerate(layers):
            edge = i in (0, len(layers) - 1)
            layer["w_bits"] = layer["a_bits"] = 8 if edge else 1
        text = yaml.safe_dump({"name": name, "description": title, "batch": 1, "layers": layers},
                              sort_keys=False, default_flow_style=None, width=200)
        (FOLDER / f"{name}.yaml").write_text(f"# {title}\n# Written by simulator/workloads/generate.py; "
                                            "first and last layers 8-bit, the rest binary.\n" + text)


if __name__ == "__main__":
    main()
