# mira_ops.py: the few IR ops whose torch spelling needs more than one call, with the semantics of
# mira's float64 reference (compiler/ops/*.ts), and the parameter tree of an exported module.
# Copied verbatim by `mira export --format torch`; works on torch >= 1.13.
import torch
from torch import nn

# Score of a masked-out key: finite, so a fully masked row averages every value (compiler/ops/composite.ts).
MASKED_SCORE = -1e30


def register(root, path, shape, dtype):
    """A parameter at a dotted path of nested modules, so state_dict() keys are the path."""
    *scopes, leaf = path.split(".")
    module = root
    for s in scopes:
        if s not in module._modules:
            module.add_module(s, nn.Module())
        module = module._modules[s]
    module.register_parameter(leaf, nn.Parameter(torch.zeros(shape, dtype=dtype)))


def lookup(root, path):
    """The tensor at a dotted path, by attribute access: FSDP swaps parameters for views during the
    forward pass, so named_parameters() would not see them there."""
    *scopes, leaf = path.split(".")
    module = root
    for s in scopes:
        module = module._modules[s]
    return getattr(module, leaf)


def iota(shape, axis, dtype, device):
    """The coordinate along `axis` at every position of `shape`."""
    view = [1] * len(shape)
    view[axis] = shape[axis]
    return torch.arange(shape[axis], device=device).to(dtype).reshape(view).expand(*shape)


def gather(table, idx, axis):
    """table.shape[:axis] + idx.shape + table.shape[axis+1:]; out-of-range indices read 0."""
    size = table.shape[axis]
    flat = idx.reshape(-1).long()
    valid = (flat >= 0) & (flat < size)
    out = torch.index_select(table, axis, torch.where(valid, flat, torch.zeros_like(flat)))
    mask_shape = [1] * table.dim()
    mask_shape[axis] = flat.shape[0]
    out = torch.where(valid.reshape(mask_shape), out, torch.zeros((), dtype=out.dtype, device=out.device))
    return out.reshape(*table.shape[:axis], *idx.shape, *table.shape[axis + 1:])


def scatter_add(idx, upd, axis, size):
    """gather's transpose: out[..., idx[c], ...] += upd[..., c, ...]; out-of-range indices dropped."""
    flat = idx.reshape(-1).long()
    upd = upd.reshape(*upd.shape[:axis], flat.shape[0], *upd.shape[axis + idx.dim():])
    valid = (flat >= 0) & (flat < size)
    out = torch.zeros(*upd.shape[:axis], size, *upd.shape[axis + 1:], dtype=upd.dtype, device=upd.device)
    return out.index_add(axis, flat[valid], upd.index_select(axis, torch.nonzero(valid).reshape(-1)))


def write_rows(cache, rows, offset, axis):
    """cache with rows [offset, offset + R) along axis replaced by rows; rows outside dropped."""
    at = int(offset.reshape(-1)[0])
    count = rows.shape[axis]
    lo, hi = max(at, 0), min(at + count, cache.shape[axis])
    if lo >= hi:
        return cache
    return torch.cat([cache.narrow(axis, 0, lo), rows.narrow(axis, lo - at, hi - lo), cache.narrow(axis, hi, cache.shape[axis] - hi)], dim=axis)


def attention(q, k, v, lengths=None, mask="none", block=1, scale=None):
    """softmax(q·kᵀ·scale, masked)·v over the last two axes. Masks align the ends of queries and keys
    (query i sits at key position i + tk − tq); padding masks keys at or past lengths[b]."""
    tq, tk = q.shape[-2], k.shape[-2]
    if scale is None:
        scale = 1.0 / (q.shape[-1] ** 0.5)
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    pos = torch.arange(tq, device=q.device).reshape(tq, 1) + (tk - tq)
    col = torch.arange(tk, device=q.device).reshape(1, tk)
    allowed = None
    if mask == "causal":
        allowed = col <= pos
    elif mask == "block_causal":
        allowed = torch.div(col, block, rounding_mode="floor") <= torch.div(pos, block, rounding_mode="floor")
    elif mask == "padding":
        limit = lengths.reshape(lengths.shape[0], *([1] * (q.dim() - 1))).long()
        allowed = col < limit
    if allowed is not None:
        scores = torch.where(allowed, scores, torch.full((), MASKED_SCORE, dtype=scores.dtype, device=scores.device))
    return torch.matmul(torch.softmax(scores, dim=-1), v)
