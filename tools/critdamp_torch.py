"""critdamp weights in PyTorch, and PyTorch weights for critdamp.

A critdamp weights file (model.safetensors from a checkpoint, or the page's download) holds the
state_dict under torchvision's names and, in its metadata under the key "critdamp", a JSON card:
the model's registry name and config, the input channels and size, the normalisation and the class
names. `build(card)` makes the PyTorch module that state_dict loads into with
load_state_dict(strict=True):

  resnet18/34/50, width 1, imagenet stem, 3 channels  torchvision.models.resnet18/34/50(num_classes=K), unchanged
  resnet18/34/50, width 1, cifar stem or C channels  the same torchvision model, conv1 replaced (3x3/1 or C inputs)
                                                      and maxpool = Identity for the cifar stem
  resnet18/34/50, other widths                        ScaledResNet: a torchvision.models.ResNet with stage
                                                      channels 64/128/256/512 x width, torchvision's own
                                                      BasicBlock / Bottleneck
  vgg11_bn/vgg16_bn, width 1, 3 channels              torchvision.models.vgg11_bn/vgg16_bn(num_classes=K) with
                                                      the small-input head: features[-1] (the last max pool)
                                                      = Identity, avgpool = AdaptiveAvgPool2d(1), classifier
                                                      Linear(512, 512)-ReLU-Dropout-Linear(512, 512)-ReLU-Dropout-Linear(512, K)
  vgg11_bn/vgg16_bn, other widths or channels         SmallVGG: a torchvision.models.VGG with that head and
                                                      the features built by torchvision's rules, scaled
  mlp                                                 MLP below (fc1, fc2, ...: flatten, Linear+ReLU, Linear)

Dropout in the VGG head is p = 0 (critdamp trains without dropout); eval() makes it the identity
anyway. Needs only torch and torchvision (PyTorch >= 1.13); it reads and writes safetensors
itself, so the `safetensors` package is optional.

  import critdamp_torch as ct
  model, card = ct.load('runs/x/checkpoints/epoch-0003/model.safetensors')    # eval mode
  logits = model(ct.preprocess(images_uint8_nchw, card))
  ct.export(model, 'from-pytorch.safetensors', card)    # back to critdamp: critdamp eval --checkpoint ...

As a command: python3 tools/critdamp_torch.py describe FILE   prints the card and the module built.
"""
import json
import math
import struct
import sys
from collections import OrderedDict

import torch
import torch.nn as nn
import torchvision

CARD_KEY = 'critdamp'
_DTYPES = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'I64': torch.int64,
           'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8, 'U8': torch.uint8, 'BOOL': torch.bool}
_NAMES = {v: k for k, v in _DTYPES.items()}


# ---- safetensors, read and written here ------------------------------------------------------------

def load_safetensors(path):
    """(state_dict, metadata) of a .safetensors file."""
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    metadata = header.pop('__metadata__', {}) or {}
    base = 8 + n
    tensors = OrderedDict()
    for name, info in header.items():
        start, end = info['data_offsets']
        dtype = _DTYPES[info['dtype']]
        raw = bytearray(data[base + start:base + end])
        t = torch.frombuffer(raw, dtype=dtype) if len(raw) else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info['shape']).clone()
    return tensors, metadata


def save_safetensors(path, tensors, metadata=None):
    """Writes a state_dict (and string metadata) as safetensors, little-endian, offsets in key order."""
    header, chunks, at = OrderedDict(), [], 0
    if metadata:
        header['__metadata__'] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {'dtype': _NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def read_card(metadata):
    """The card in a file's metadata, or None for a file without one."""
    raw = metadata.get(CARD_KEY)
    return json.loads(raw) if raw is not None else None


# ---- the modules --------------------------------------------------------------------------------

def _scaled(c, width):
    # critdamp rounds half up (Math.round); Python's round() rounds half to even.
    return max(1, int(math.floor(c * width + 0.5)))


_RESNETS = {'resnet18': ('basic', [2, 2, 2, 2]), 'resnet34': ('basic', [3, 4, 6, 3]), 'resnet50': ('bottleneck', [3, 4, 6, 3])}


class ScaledResNet(torchvision.models.ResNet):
    """torchvision's ResNet with stage channels 64/128/256/512 x width, its own blocks and _make_layer."""

    def __init__(self, block, layers, width, num_classes, in_channels, stem):
        nn.Module.__init__(self)
        ch = [_scaled(c, width) for c in (64, 128, 256, 512)]
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = ch[0], 1, 1, 64
        k, s, p = (3, 1, 1) if stem == 'cifar' else (7, 2, 3)
        self.conv1 = nn.Conv2d(in_channels, ch[0], kernel_size=k, stride=s, padding=p, bias=False)
        self.bn1 = nn.BatchNorm2d(ch[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if stem == 'cifar' else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, ch[0], layers[0])
        self.layer2 = self._make_layer(block, ch[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, ch[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, ch[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(ch[3] * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')


def _resnet(cfg):
    name = cfg['name']
    block_kind, layers = _RESNETS[name]
    width, stem, k, c = cfg.get('width', 1), cfg.get('stem', 'cifar'), cfg['numClasses'], cfg['inChannels']
    if width != 1:
        block = torchvision.models.resnet.Bottleneck if block_kind == 'bottleneck' else torchvision.models.resnet.BasicBlock
        return ScaledResNet(block, layers, width, k, c, stem)
    model = getattr(torchvision.models, name)(num_classes=k)
    if stem == 'cifar':
        model.conv1 = nn.Conv2d(c, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif c != 3:
        model.conv1 = nn.Conv2d(c, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return model


_VGG_CFGS = {'vgg11_bn': [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
             'vgg16_bn': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']}


def _small_head(channels, hidden, num_classes):
    return nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(True), nn.Dropout(p=0.0), nn.Linear(hidden, hidden), nn.ReLU(True),
                         nn.Dropout(p=0.0), nn.Linear(hidden, num_classes))


class SmallVGG(torchvision.models.VGG):
    """torchvision's VGG (its forward) with the features given and critdamp's small-input head."""

    def __init__(self, features, channels, hidden, num_classes):
        nn.Module.__init__(self)
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = _small_head(channels, hidden, num_classes)


def _vgg(cfg):
    name, width, k, c = cfg['name'], cfg.get('width', 1), cfg['numClasses'], cfg['inChannels']
    hidden = _scaled(512, width)
    if width == 1 and c == 3:
        # torchvision's own model, head swapped (the pool left out keeps every index: it has no parameters).
        model = getattr(torchvision.models, name)(num_classes=k, init_weights=False)
        model.features[len(model.features) - 1] = nn.Identity()
        model.avgpool = nn.AdaptiveAvgPool2d(1)
        model.classifier = _small_head(512, hidden, k)
        return model
    layers, cin = [], c
    for v in _VGG_CFGS[name]:
        if v == 'M':
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            o = _scaled(v, width)
            layers += [nn.Conv2d(cin, o, kernel_size=3, padding=1), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]
            cin = o
    layers[-1] = nn.Identity()
    return SmallVGG(nn.Sequential(*layers), cin, hidden, k)


class MLP(nn.Module):
    """critdamp's mlp: flatten, then fc1..fcN (Linear+ReLU for each hidden layer), then the last Linear."""

    def __init__(self, in_features, hidden, num_classes):
        super().__init__()
        self.depth = len(hidden) + 1
        widths = [in_features] + list(hidden) + [num_classes]
        for i in range(self.depth):
            setattr(self, f'fc{i + 1}', nn.Linear(widths[i], widths[i + 1]))

    def forward(self, x):
        x = torch.flatten(x, 1)
        for i in range(1, self.depth):
            x = torch.relu(getattr(self, f'fc{i}')(x))
        return getattr(self, f'fc{self.depth}')(x)


def build(card_or_config):
    """The PyTorch module for a card (or a card's `model` config), freshly initialised."""
    cfg = card_or_config.get('model', card_or_config)
    name = cfg.get('name', 'resnet18')
    cfg = dict(cfg, name=name)
    if name in _RESNETS:
        return _resnet(cfg)
    if name in _VGG_CFGS:
        return _vgg(cfg)
    if name == 'mlp':
        h, w = cfg['inputSize']
        return MLP(cfg['inChannels'] * h * w, cfg['hidden'], cfg['numClasses'])
    raise ValueError(f"no PyTorch module for critdamp model '{name}' (resnet18, resnet34, resnet50, vgg11_bn, vgg16_bn, mlp)")


def load(path, card=None):
    """(module in eval mode, card) for a critdamp weights file, loaded with strict=True."""
    state, metadata = load_safetensors(path)
    card = card or read_card(metadata)
    if card is None:
        raise ValueError(f'{path} has no critdamp card; pass card= (its model config at least)')
    model = build(card)
    model.load_state_dict(state, strict=True)
    return model.eval(), card


def export(model, path, card):
    """Writes a module's state_dict with the card, as critdamp reads it (critdamp eval --checkpoint FILE --data ...)."""
    save_safetensors(path, model.state_dict(), {'format': 'pt', CARD_KEY: json.dumps(card)})


def preprocess(images, card):
    """uint8 images [N, C, H, W] (or floats in 0..255) to the normalised float32 input critdamp trained on."""
    x = torch.as_tensor(images).to(torch.float32) / 255.0
    mean = torch.tensor(card['mean'], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(card['std'], dtype=torch.float32).view(1, -1, 1, 1)
    return (x - mean) / std


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] != 'describe':
        sys.exit('usage: critdamp_torch.py describe FILE.safetensors')
    m, c = load(sys.argv[2])
    print(json.dumps(c, indent=1))
    print(f'{type(m).__module__}.{type(m).__name__}: {sum(p.numel() for p in m.parameters()):,} parameters')
