"""PyTorch's time for critdamp's training step, on the same machine (bench/gpu.sh runs it on a lent
GPU): torchvision's ResNet-18 (the cifar stem: conv1 3×3/1 and no max pool, as critdamp's), random
inputs already on the device, forward, cross-entropy, backward, SGD (momentum 0.6, weight decay
5e-4), float32. critdamp's step also builds its batch on the GPU (gather, crop, flip: about 1% of
its step), which this leaves out.

Two settings: "fp32" computes in float32 as critdamp does (TF32 off for matmuls and cuDNN
convolutions, cudnn.benchmark on so cuDNN picks its fastest algorithms), and "defaults" is what a
user gets without setting anything (on Ampere and later, cuDNN convolutions in TF32).
Prints one JSON object a line.
Usage: python3 bench/torch_step.py [--stem cifar|imagenet] [--batch 128] [--size 32] [--steps 20] [--device cuda]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torchvision


def model_for(stem: str) -> nn.Module:
    m = torchvision.models.resnet18(num_classes=10)
    if stem == "cifar":
        m.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        m.maxpool = nn.Identity()
    return m


def time_steps(args: argparse.Namespace, setting: str) -> dict:
    strict = setting == "fp32"
    torch.backends.cuda.matmul.allow_tf32 = False if strict else torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = False if strict else True
    torch.backends.cudnn.benchmark = strict
    torch.manual_seed(0)
    dev = torch.device(args.device)
    model = model_for(args.stem).to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.6, weight_decay=5e-4)
    x = torch.randn(args.batch, 3, args.size, args.size, device=dev)
    y = torch.randint(0, 10, (args.batch,), device=dev)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        step()
    sync()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "framework": "pytorch", "torch": torch.__version__, "setting": setting, "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "stem": args.stem, "batch": args.batch, "size": args.size, "steps": args.steps,
        "median_ms": times[len(times) // 2], "min_ms": times[0],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stem", default="cifar", choices=["cifar", "imagenet"])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--device", default="cuda")
    args = p.parse_args()
    for setting in ("fp32", "defaults"):
        print(json.dumps(time_steps(args, setting)), flush=True)


if __name__ == "__main__":
    main()
