# mira_data.py: mira's data formats and data order in Python, so a torchrun job sees the batches that
# `mira train` would at the same (seed, step) and a checkpoint moves between the two unchanged:
#   text (datasets/text.ts): a file or a directory of .txt files; CharTokenizer; train/val split;
#     training windows at counter-based offsets (PCG hash of seed, step, row);
#   audio-video QA (datasets/av-format.ts, apps/mirasol/av.ts): index.json and raw little-endian tensors;
#     questions drawn the same way, spectrograms normalised by the training split's statistics;
#   the learning-rate schedule (runtime/train-loop.ts): linear warm-up, cosine decay to 10 %.
import json
import math
import os
import zlib

import torch

MASK32 = 0xFFFFFFFF


def pcg_hash(v):
    """compiler/ops/scalar-math.ts pcgHash, bit for bit."""
    state = ((v & MASK32) * 747796405 + 2891336453) & MASK32
    word = ((((state >> ((state >> 28) + 4)) ^ state) & MASK32) * 277803737) & MASK32
    return ((word >> 22) ^ word) & MASK32


def random_bits(seed, stream, index):
    return pcg_hash((index ^ pcg_hash((seed ^ pcg_hash(stream & MASK32)) & MASK32)) & MASK32)


def lr_at(lr, warmup, steps, t, min_fraction=0.1):
    if t <= warmup:
        return lr * t / max(1, warmup)
    progress = min(1.0, (t - warmup) / max(1, steps - warmup))
    low = lr * min_fraction
    return low + (lr - low) * 0.5 * (1 + math.cos(math.pi * progress))


# ---- text ------------------------------------------------------------------------------------------

def read_text(path):
    """A text file, or every .txt file of a directory in name order, joined by blank lines."""
    if not os.path.isdir(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    files = sorted(f for f in os.listdir(path) if f.endswith(".txt"))
    if not files:
        raise SystemExit(f"{path}: the directory holds no .txt files")
    parts = []
    for name in files:
        with open(os.path.join(path, name), encoding="utf-8") as f:
            parts.append(f.read().strip())
    return "\n\n".join(parts) + "\n"


def _utf16(c):
    # JavaScript sorts strings by UTF-16 code units; so must we, for one tokenizer on both sides.
    return c.encode("utf-16-be")


class CharTokenizer:
    """Id 0 is any character outside the vocabulary; chars[i] is the character of id i + 1."""

    def __init__(self, chars):
        self.chars = list(chars)
        self.index = {c: i + 1 for i, c in enumerate(self.chars)}

    @staticmethod
    def from_text(text, vocab):
        counts = {}
        for c in text:
            counts[c] = counts.get(c, 0) + 1
        by_freq = sorted(counts.items(), key=lambda kv: (-kv[1], _utf16(kv[0])))[: vocab - 1]
        return CharTokenizer(sorted((c for c, _ in by_freq), key=_utf16))

    @staticmethod
    def from_json(text):
        return CharTokenizer(json.loads(text))

    def to_json(self):
        return json.dumps("".join(self.chars), ensure_ascii=False)

    @property
    def vocab_size(self):
        return len(self.chars) + 1

    def encode(self, text):
        return torch.tensor([self.index.get(c, 0) for c in text], dtype=torch.int32)


def split_text(ids, window, val_fraction=0.1):
    val_len = max(window + 1, int(len(ids) * val_fraction))
    if len(ids) < val_len + window + 1:
        raise SystemExit(f"the text has {len(ids)} characters; training with windows of {window} needs at least {val_len + window + 1}")
    return ids[: len(ids) - val_len], ids[len(ids) - val_len:]


def train_batch(train, step, rows, window, seed, first_row=0, count=None):
    """Rows first_row … first_row + count of step's batch (a rank's share of the global batch)."""
    count = rows if count is None else count
    span = len(train) - window + 1
    out = torch.empty((count, window), dtype=torch.int32)
    for i, r in enumerate(range(first_row, first_row + count)):
        start = random_bits(seed, step, r) % span
        out[i] = train[start:start + window]
    return out


def val_batches(val, rows, window, max_batches):
    count = max(1, min(max_batches * rows, len(val) // window))
    stride = (len(val) - window) / max(1, count - 1)
    # JavaScript's Math.round rounds halves up; Python's round() would round them to even.
    starts = [math.floor(i * stride + 0.5) for i in range(count)]
    batches = []
    for i in range(0, len(starts) - rows + 1, rows):
        batches.append(torch.stack([val[s:s + window] for s in starts[i:i + rows]]))
    return batches


# ---- audio-video QA -------------------------------------------------------------------------------

AV_FORMAT = "mira-av-qa"
AV_TENSORS = {"video": torch.float32, "spectrogram": torch.float32, "text": torch.int32, "loss_mask": torch.float32,
              "question_clip": torch.int32, "question_type": torch.int32, "answer": torch.int32, "prompt_length": torch.int32}


def is_av_dataset(path):
    try:
        with open(os.path.join(path, "index.json"), encoding="utf-8") as f:
            return json.load(f).get("format") == AV_FORMAT
    except (OSError, ValueError):
        return False


class AvDataset:
    def __init__(self, directory):
        self.dir = directory
        with open(os.path.join(directory, "index.json"), encoding="utf-8") as f:
            self.index = json.load(f)
        if self.index.get("format") != AV_FORMAT or self.index.get("version") != 1:
            raise SystemExit(f"{directory}/index.json is not a version-1 '{AV_FORMAT}' index")
        self.t = {}
        for name, dtype in AV_TENSORS.items():
            e = self.index["tensors"][name]
            path = os.path.join(directory, e["file"])
            with open(path, "rb") as f:
                raw = f.read()
            if len(raw) != e["bytes"] or zlib.crc32(raw) != e["crc32"]:
                raise SystemExit(f"{path} does not match its index (size or CRC-32); regenerate it with 'mira data synth --out DIR'")
            self.t[name] = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(e["shape"])
        self.clips = self.index["clips"]
        stats = self.index["audio"]["stats"]
        self.mean, self.std = stats["mean"], stats["std"]

    @property
    def length(self):
        return self.index["text"]["length"]

    def questions(self, split):
        return self.index["splits"][split]["questions"]

    def batch(self, qs):
        t = self.t
        clips = t["question_clip"][qs].long()
        # float64, rounded once, as apps/mirasol/av.ts computes it
        spec = (t["spectrogram"][clips].double() - self.mean) / self.std
        return {"video": t["video"][clips].contiguous(), "spectrogram": spec.to(torch.float32).contiguous(),
                "text": t["text"][qs].contiguous(), "loss_mask": t["loss_mask"][qs].contiguous()}

    def train_batch(self, step, rows, seed, first_row=0, count=None):
        count = rows if count is None else count
        t0, t1 = self.questions("train")
        return self.batch(torch.tensor([t0 + random_bits(seed, step, r) % (t1 - t0) for r in range(first_row, first_row + count)]))

    def val_batches(self, rows, max_batches):
        v0, v1 = self.questions("val")
        out = []
        s = v0
        while s + rows <= v1 and len(out) < max_batches:
            out.append(self.batch(torch.arange(s, s + rows)))
            s += rows
        return out
