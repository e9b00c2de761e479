"""The MobileNetV2 "IDW fixfc" search space of ZenNAS, AZ-NAS and VKDNW (Table 2).

A structure is a chain of super-blocks written as the reference writes it, e.g. the search's
initial net::

    SuperConvK3BNRELU(3,8,2,1)SuperResIDWE6K3(8,32,2,8,1)...SuperConvK1BNRELU(128,2048,1,1)

* ``SuperConvK{k}BNRELU(in,out,stride,sub_layers)``: conv k x k, BN, ReLU (the stem; the
  fixed 1x1 head to 2048 channels).
* ``SuperResIDWE{e}K{k}(in,out,stride,bottleneck,sub_layers)``: each sub-layer is two
  inverted-residual units, ReLU after each residual add:
  1. 1x1 to ``smart_round(bottleneck*e)``, depthwise k x k with the block's stride (first
     sub-layer only), 1x1 to ``bottleneck``; a projection shortcut (1x1 conv with bias + BN)
     on the first sub-layer, and wherever the shape changes;
  2. 1x1 to ``smart_round(out*e)``, depthwise k x k, 1x1 to ``out``.
* The net ends with global average pooling and a linear classifier. BN eps is 1e-3.

The canonical string is the structure string itself, so rows key on it and a reference
``best_structure.txt`` parses unchanged.

Why not timm's ``ir_`` blocks: timm's InvertedResidual expands the *input* width
(mid = in * e), has no projection shortcut and no ReLU after the add. This space expands the
bottleneck (unit 1) or output (unit 2) width, projects its first shortcut, and applies ReLU
after every add, so :class:`IDWUnit` is a small module of our own; it uses plain
``nn.Conv2d``/``nn.BatchNorm2d`` so VKDNW's fast Jacobian can read every parameter off.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace

import torch
from torch import nn

INIT_STRUCTURE = (
    "SuperConvK3BNRELU(3,8,2,1)SuperResIDWE6K3(8,32,2,8,1)SuperResIDWE6K3(32,48,2,32,1)"
    "SuperResIDWE6K3(48,96,2,48,1)SuperResIDWE6K3(96,128,2,96,1)SuperConvK1BNRELU(128,2048,1,1)"
)
EXPANSIONS = (1, 2, 4, 6)
KERNELS = (3, 5, 7)
CHANNEL_SCALES = (2.5, 2.0, 1.5, 1.25, 1.0, 1 / 1.25, 1 / 1.5, 1 / 2, 1 / 2.5)
SPLIT_THRESHOLD = 6
BN_EPS = 1e-3

_CONV_RE = re.compile(r"SuperConvK(\d+)BNRELU\((\d+),(\d+),(\d+),(\d+)\)")
_IDW_RE = re.compile(r"SuperResIDWE(\d+)K(\d+)\((\d+),(\d+),(\d+),(\d+),(\d+)\)")


def smart_round(x: float, base: int | None = None) -> int:
    """The reference's channel rounding: to a multiple of ``base`` (8/16/32 by size), >= base.
    Python's round() (half to even) is kept on purpose: it decides ties as the reference does."""
    if base is None:
        base = 32 if x > 32 * 8 else 16 if x > 16 * 8 else 8
    return int(max(base, round(x / float(base)) * base))


@dataclass(frozen=True)
class Block:
    """One super-block. ``expansion`` is None for a plain conv-BN-ReLU block."""

    kernel: int
    in_ch: int
    out_ch: int
    stride: int
    sub_layers: int
    expansion: int | None = None
    bottleneck: int | None = None

    @property
    def is_conv(self) -> bool:
        return self.expansion is None

    def __str__(self) -> str:
        if self.is_conv:
            return f"SuperConvK{self.kernel}BNRELU({self.in_ch},{self.out_ch},{self.stride},{self.sub_layers})"
        return (f"SuperResIDWE{self.expansion}K{self.kernel}({self.in_ch},{self.out_ch},{self.stride},"
                f"{self.bottleneck},{self.sub_layers})")


Structure = tuple[Block, ...]


def parse(s: str) -> Structure:
    """Parse a structure string; a malformed one is a ValueError that says where."""
    s = s.strip()
    blocks: list[Block] = []
    pos = 0
    while pos < len(s):
        m = _CONV_RE.match(s, pos)
        if m:
            k, i, o, st, n = map(int, m.groups())
            blocks.append(Block(k, i, o, st, n))
        else:
            m = _IDW_RE.match(s, pos)
            if not m:
                raise ValueError(f"bad MBV2 structure at char {pos}: {s[pos:pos + 40]!r}")
            e, k, i, o, st, b, n = map(int, m.groups())
            if e not in EXPANSIONS or k not in KERNELS:
                raise ValueError(f"bad MBV2 block {m.group(0)!r}: expansion must be in {EXPANSIONS}, "
                                 f"kernel in {KERNELS}")
            blocks.append(Block(k, i, o, st, n, e, b))
        pos = m.end()
    validate(tuple(blocks))
    return tuple(blocks)


def validate(struct: Structure) -> None:
    if len(struct) < 2 or not struct[0].is_conv or not struct[-1].is_conv:
        raise ValueError("an MBV2 structure starts with a conv stem and ends with a conv head")
    if struct[0].in_ch != 3:
        raise ValueError(f"the stem takes 3 input channels, got {struct[0].in_ch}")
    for a, b in zip(struct[:-1], struct[1:]):
        if a.out_ch != b.in_ch:
            raise ValueError(f"channel mismatch: {a} outputs {a.out_ch}, {b} takes {b.in_ch}")
    for b in struct:
        if min(b.in_ch, b.out_ch, b.stride, b.sub_layers, b.bottleneck or 1) < 1:
            raise ValueError(f"non-positive size in {b}")


def to_str(struct: Structure) -> str:
    return "".join(str(b) for b in struct)


def canonical(s: str) -> str:
    return to_str(parse(s))


def num_layers(struct: Structure) -> int:
    """The reference's layer count (MasterNet.get_num_layers): the sum of sub-layers."""
    return sum(b.sub_layers for b in struct)


# ----------------------------------------------------------------------------- units


def _units(b: Block) -> list[tuple[int, int, int, int, bool]]:
    """(in, mid, out, stride, force_projection) of every inverted-residual unit of ``b``."""
    units = []
    last, stride = b.in_ch, b.stride
    for i in range(b.sub_layers):
        assert b.expansion is not None and b.bottleneck is not None
        units.append((last, smart_round(b.bottleneck * b.expansion, 8), b.bottleneck, stride, i == 0))
        units.append((b.bottleneck, smart_round(b.out_ch * b.expansion, 8), b.out_ch, 1, False))
        last, stride = b.out_ch, 1
    return units


def flops_reference(struct: Structure, resolution: int = 224, num_classes: int = 1000) -> float:
    """Multiply-adds as the reference counts them (PlainNet ``get_FLOPs``): convs, BN as one
    op per output element, the classifier. Its projection shortcut is counted at the output
    resolution divided by the stride once more (a quirk we keep so budgets mean the same)."""
    res, total = resolution, 0.0
    for b in struct:
        if b.is_conv:
            for i in range(b.sub_layers):
                cin = b.in_ch if i == 0 else b.out_ch
                st = b.stride if i == 0 else 1
                total += cin * b.out_ch * b.kernel ** 2 * res ** 2 // st ** 2 + (res // st) ** 2 * b.out_ch
                res //= st
            continue
        for cin, mid, cout, st, force in _units(b):
            total += cin * mid * res ** 2 + res ** 2 * mid  # 1x1 + BN
            total += mid * b.kernel ** 2 * res ** 2 // st ** 2 + (res // st) ** 2 * mid  # dw + BN
            out_res = res // st
            total += mid * cout * out_res ** 2 + out_res ** 2 * cout  # 1x1 + BN
            if force or st > 1 or cin != cout:
                total += cin * cout * (out_res / st) ** 2 + (out_res / st) ** 2 * cout
            res = out_res
    return float(total + struct[-1].out_ch * num_classes)


# ----------------------------------------------------------------------------- modules


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS)


class SqueezeExcite(nn.Module):
    """The reference's SE (ZenNAS ``SE``, used when training with ``--use_se``): pool, 1x1 to
    C/4, BN, ReLU, 1x1 back, BN, sigmoid gate. timm's SqueezeExcite has biases and no BN."""

    def __init__(self, c: int):
        super().__init__()
        r = max(1, int(round(c * 0.25)))
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, r, 1, bias=False), _bn(r), nn.ReLU(),
                                  nn.Conv2d(r, c, 1, bias=False), _bn(c), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class IDWUnit(nn.Module):
    """1x1 expand, depthwise k x k, 1x1 project, residual add, ReLU (see module docstring)."""

    def __init__(self, cin: int, mid: int, cout: int, kernel: int, stride: int, force_proj: bool,
                 use_se: bool = False):
        super().__init__()
        pad = (kernel - 1) // 2
        # Registration order = named_parameters() order = the reference's (VKDNW samples
        # tensors by position).
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), _bn(mid), nn.ReLU(),
            nn.Conv2d(mid, mid, kernel, stride, pad, groups=mid, bias=False), _bn(mid), nn.ReLU(),
            *([SqueezeExcite(mid)] if use_se else []),
            nn.Conv2d(mid, cout, 1, bias=False), _bn(cout),
        )
        self.proj = None
        if force_proj or stride > 1 or cin != cout:
            self.proj = nn.Sequential(nn.Conv2d(cin, cout, 1, stride), _bn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = x if self.proj is None else self.proj(x)
        return torch.relu(self.body(x) + short)


class ConvBNReLU(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__(nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, bias=False), _bn(cout), nn.ReLU())


def _layers(b: Block, use_se: bool = False) -> list[nn.Module]:
    if b.is_conv:
        return [ConvBNReLU(b.in_ch if i == 0 else b.out_ch, b.out_ch, b.kernel, b.stride if i == 0 else 1)
                for i in range(b.sub_layers)]
    return [IDWUnit(cin, mid, cout, b.kernel, st, force, use_se) for cin, mid, cout, st, force in _units(b)]


class MBV2Net(nn.Module):
    """The network of a structure. ``layers`` are the units whose outputs AZ-NAS reads (each
    ends in a ReLU); ``features`` pools them; ``classifier`` is the linear head."""

    def __init__(self, struct: Structure, num_classes: int = 1000, use_se: bool = False):
        super().__init__()
        self.structure = to_str(struct)
        self.layers = nn.ModuleList(m for b in struct for m in _layers(b, use_se))
        self.classifier = nn.Linear(struct[-1].out_ch, num_classes)

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for m in self.layers:
            x = m(x)
            out.append(x)
        return out

    @staticmethod
    def pool(h: torch.Tensor) -> torch.Tensor:
        """Global average pooling of the last layer's map into the classifier's input."""
        return torch.flatten(nn.functional.adaptive_avg_pool2d(h, 1), 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.layers:
            x = m(x)
        return self.pool(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_network(structure: str | Structure, num_classes: int = 1000, use_se: bool = False) -> MBV2Net:
    """The net of a structure; ``use_se`` adds the reference's SE after each depthwise conv
    (its final training uses them; the search and its FLOPs budget do not)."""
    struct = parse(structure) if isinstance(structure, str) else structure
    return MBV2Net(struct, num_classes, use_se)


def count_macs(model: nn.Module, resolution: int, include_bn: bool = True) -> float:
    """Multiply-adds of one forward pass at ``resolution``, counted by torch's FlopCounterMode
    (convolutions and matmuls; it reports 2 FLOPs per multiply-add). ``include_bn`` adds one
    op per BN output element, which the reference counts and FlopCounterMode does not."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    bn_ops: list[int] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: bn_ops.append(out[0].numel()))
             for m in model.modules() if include_bn and isinstance(m, nn.BatchNorm2d)]
    x = torch.zeros(1, 3, resolution, resolution, device=next(model.parameters()).device)
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return counter.get_total_flops() / 2.0 + sum(bn_ops)


# ----------------------------------------------------------------------------- mutation


def channel_choices(c: int) -> list[int]:
    return sorted({smart_round(max(8.0, c * s), 8) for s in CHANNEL_SCALES}, reverse=True)


def sub_layer_choices(n: int) -> list[int]:
    return sorted({max(0, n + d) for d in (0, 1, 2, -1, -2)} - {0}, reverse=True)


def block_choices(struct: Structure, i: int) -> list[Block]:
    """Every block the reference's ``gen_search_space`` may put at position ``i``, sorted by
    its string (the reference sorts them too, for reproducibility). The 1x1 head never
    changes; the stem changes width only."""
    b = struct[i]
    if b.is_conv:
        outs = [b.out_ch] if b.kernel == 1 else channel_choices(b.out_ch)
        cands = {replace(b, out_ch=o, sub_layers=1) for o in outs}
    else:
        assert b.bottleneck is not None
        cands = {Block(k, b.in_ch, o, b.stride, n, e, bt)
                 for e in EXPANSIONS for k in KERNELS
                 for o in channel_choices(b.out_ch)
                 for n in sub_layer_choices(b.sub_layers)
                 for bt in channel_choices(b.bottleneck)}
    return sorted(cands, key=str)


def rechain(blocks: list[Block]) -> Structure:
    """Reset every block's input width to its predecessor's output, as the reference does
    after a replacement."""
    out = [blocks[0]]
    for b in blocks[1:]:
        out.append(replace(b, in_ch=out[-1].out_ch))
    return tuple(out)


def split(struct: Structure, threshold: int = SPLIT_THRESHOLD) -> Structure:
    """The reference's ``split``: an IDW block with >= threshold sub-layers becomes two blocks of
    threshold//2 and threshold - threshold//2 sub-layers (so 7 sub-layers become 3 + 3)."""
    out: list[Block] = []
    for b in struct:
        if b.is_conv or b.sub_layers < threshold:
            out.append(b)
            continue
        out.append(replace(b, sub_layers=threshold // 2))
        out.append(replace(b, in_ch=b.out_ch, stride=1, sub_layers=threshold - threshold // 2))
    return tuple(out)


def mutate(struct: Structure, rng: random.Random, n_replaces: int) -> Structure:
    """Replace up to ``n_replaces`` randomly chosen blocks by random choices from the space
    (a repeated position is skipped, as in the reference), re-chain and split."""
    blocks = list(struct)
    chosen: set[int] = set()
    for _ in range(n_replaces):
        i = rng.randint(0, len(blocks) - 1)
        if i in chosen:
            continue
        chosen.add(i)
        new = rng.choice(block_choices(tuple(blocks), i))
        if i > 0:
            new = replace(new, in_ch=blocks[i - 1].out_ch)
        blocks[i] = new
    return split(rechain(blocks))
