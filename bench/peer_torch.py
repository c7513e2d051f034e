"""PyTorch's CPU training step, the peer bench/peer.ts times critdamp against on the same machine.

The same ResNet-18 step as critdamp's (torchvision's BasicBlock layout, channels 64/128/256/512
times the width, the cifar stem or the imagenet stem with its max pool; synthetic data, forward +
cross-entropy + backward + SGD with momentum 0.9 and weight decay 5e-4), on all the machine's
cores with denormals flushed. Prints one line: RESULT {"ms": [...], "adapter": "..."}.

Usage: /usr/bin/python3 bench/peer_torch.py WIDTH BATCH SIZE CHANNELS STEM STEPS
"""
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class ResNet18(nn.Module):
    def __init__(self, width, channels, stem, classes=10):
        super().__init__()
        c = [max(1, round(k * width)) for k in (64, 128, 256, 512)]
        self.stem = stem
        self.conv1 = nn.Conv2d(channels, c[0], 3 if stem == 'cifar' else 7, 1 if stem == 'cifar' else 2, 1 if stem == 'cifar' else 3, bias=False)
        self.bn1 = nn.BatchNorm2d(c[0])
        blocks, cin = [], c[0]
        for s, cout in enumerate(c):
            for b in range(2):
                blocks.append(Block(cin, cout, 2 if s > 0 and b == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c[3], classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.stem == 'imagenet':
            x = F.max_pool2d(x, 3, 2, 1)
        x = self.blocks(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    width, batch, size, channels, stem, steps = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(0)
    model = ResNet18(width, channels, stem)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(batch, channels, size, size)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    step()  # the first step allocates and picks kernels
    ms = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1000)
    print('RESULT ' + json.dumps({'ms': ms, 'adapter': f'PyTorch {torch.__version__} CPU ({threads} threads)'}))


main()
