#!/usr/bin/env python3
# train.py: trains the exported module (model.py) with torch.distributed, on mira's data formats, with
# mira's optimizer and schedule, writing checkpoints that `mira generate`, `mira eval` and
# `mira train --resume` read unchanged (and resuming from theirs). Written by `mira export --format torch`.
#
#   torchrun --nproc_per_node 2 train.py --data data/prose --steps 200 --run prose-ddp
#   (Debian 12's torch 1.13 on Python 3.11 cannot parse torchrun's default --redirects 0 --tee 0:
#    add `--redirects 1 --tee 1`, which logs stdout to a file and tees it to the console)
#   torchrun --nnodes N --node_rank R --nproc_per_node G --rdzv_backend c10d --rdzv_endpoint HOST:29500 \
#       train.py --data … --run …                                   (docs/scale-out.md)
#
# Each step takes mira's global batch for (seed, step) and gives every rank an equal share of its rows;
# DDP averages the gradients, so the ranks keep identical parameters (checked at the end). AdamW as mira
# runs it: β = (0.9, 0.95), ε = 1e-8, weight decay 0.1 on matrices only, global-norm clipping at 1.0, a
# step with a non-finite gradient norm stops the run keeping the last good checkpoint; linear warm-up and
# cosine decay to 10 % of --lr. Checkpoints hold the parameters, both moments (opt.m.*, opt.v.*) and
# mira's metadata; runs/<run>/metrics.jsonl has mira's metric lines (`mira plot` draws them).
import argparse
import gc
import hashlib
import json
import math
import os
import sys
import time

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mira_data  # noqa: E402
import safetensors_io  # noqa: E402
from model import MODEL, PARAMS, Model  # noqa: E402

ADAMW = {"betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.1, "clip_norm": 1.0}
CHECKPOINT_FILE = "checkpoint.safetensors"


def parse_args():
    p = argparse.ArgumentParser(description=f"train {MODEL['name']} ({MODEL['model']}) with torch.distributed")
    p.add_argument("--data", required=True, help="a text file or directory of .txt files, or an audio-video QA directory (mira data synth)")
    p.add_argument("--steps", type=int, help="total steps (default: the checkpoint's when resuming, else 1000)")
    p.add_argument("--batch", type=int, help="global batch rows, split evenly over the ranks (default 16)")
    p.add_argument("--window", type=int, help="text context window (default: min(128, max_len))")
    p.add_argument("--lr", type=float)
    p.add_argument("--warmup", type=int)
    p.add_argument("--seed", type=int, help="data order seed (default: the one init.safetensors was made with)")
    p.add_argument("--run", default="default", help="files go to RUNS_DIR/RUN/")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--resume", action="store_true", help="continue from RUNS_DIR/RUN/checkpoint.safetensors (mira's or ours)")
    p.add_argument("--init", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "init.safetensors"),
                   help="initial parameters of a new run (written by mira export with mira's initialisers)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-batches", type=int, default=8)
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--strategy", choices=["ddp", "fsdp"], default="ddp", help="FSDP shards parameters and moments (where this torch has it)")
    p.add_argument("--backend", help="gloo (CPU, default without CUDA) or nccl")
    p.add_argument("--threads", type=int, help="torch threads per process (default: cores / local processes)")
    return p.parse_args()


class Dist:
    """Rank, world size and collectives; a plain process (no torchrun) is a world of one."""

    def __init__(self, backend):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        self.device = torch.device("cpu")
        if self.world > 1:
            backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
            if backend == "nccl":
                self.device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(self.device)
            dist.init_process_group(backend)

    @property
    def main(self):
        return self.rank == 0

    def mean(self, value):
        if self.world == 1:
            return float(value)
        t = torch.tensor([float(value)], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t[0]) / self.world

    def log(self, msg):
        if self.main:
            print(msg, flush=True)


def wrap(model, d, strategy):
    if d.world == 1:
        return model
    if strategy == "fsdp":
        try:
            from torch.distributed.fsdp import FullyShardedDataParallel
        except Exception as e:  # Debian's torch 1.13 on Python 3.11 cannot import it (a dataclass error)
            raise SystemExit(f"--strategy fsdp: this torch ({torch.__version__}) cannot import FSDP ({type(e).__name__}: {e}); use --strategy ddp")
        # use_orig_params keeps mira's parameters as they are, so the decay groups below still apply
        # (torch >= 2.0; this path is untested on Debian's torch 1.13, which cannot import FSDP).
        return FullyShardedDataParallel(model, use_orig_params=True)
    from torch.nn.parallel import DistributedDataParallel
    return DistributedDataParallel(model, device_ids=[d.device] if d.device.type == "cuda" else None)


def initial_params(seed):
    """Parameters drawn by torch from each one's initialiser (compiler/lower/init.ts): the same
    distributions as mira's, not the same values — for exports too large to ship mira's (--no-init)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for name, _, shape, dtype, init in PARAMS:
        kind = (init or {"kind": "zeros"})["kind"]
        t = torch.zeros(shape, dtype=torch.float32)
        if kind == "ones":
            t.fill_(1.0)
        elif kind == "constant":
            t.fill_(init["value"])
        elif kind == "uniform":
            t.uniform_(init["lo"], init["hi"], generator=gen)
        elif kind == "normal":
            t.normal_(0.0, init["std"], generator=gen)
        elif kind == "xavier":
            receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
            fan_in, fan_out = ((1, 1) if not shape else (shape[0], shape[0]) if len(shape) == 1 else (shape[-2] * receptive, shape[-1] * receptive))
            limit = math.sqrt(6 / (fan_in + fan_out))
            t.uniform_(-limit, limit, generator=gen)
        out[name] = t.to({"f32": torch.float32, "f16": torch.float16}.get(dtype, torch.float32))
    return out


def full_state(model, optimizer, d, strategy):
    """(parameters, exp_avg, exp_avg_sq, names) on the CPU on rank 0; None elsewhere (FSDP gathers)."""
    names = {key: name for name, key, *_ in PARAMS}
    if strategy == "fsdp" and d.world > 1:
        from torch.distributed.fsdp import FullStateDictConfig, FullyShardedDataParallel, StateDictType
        with FullyShardedDataParallel.state_dict_type(model, StateDictType.FULL_STATE_DICT, FullStateDictConfig(offload_to_cpu=True, rank0_only=True)):
            sd = model.state_dict()
        osd = FullyShardedDataParallel.full_optim_state_dict(model, optimizer)
        if not d.main:
            return None
        moments = {k: osd["state"].get(k, {}) for k in sd}
    else:
        if not d.main:
            return None
        module = model.module if d.world > 1 else model
        sd = module.state_dict()
        by_param = {id(p): k for k, p in module.named_parameters()}
        moments = {by_param[id(p)]: optimizer.state.get(p, {}) for g in optimizer.param_groups for p in g["params"]}
    params = {names[k]: v.detach().cpu() for k, v in sd.items()}
    m = {names[k]: s["exp_avg"].detach().cpu() if "exp_avg" in s else torch.zeros_like(sd[k]) for k, s in moments.items()}
    v = {names[k]: s["exp_avg_sq"].detach().cpu() if "exp_avg_sq" in s else torch.zeros_like(sd[k]) for k, s in moments.items()}
    return params, m, v


def save_checkpoint(path, model, optimizer, d, strategy, meta, step, seed):
    state = full_state(model, optimizer, d, strategy)
    if state is None:
        return
    params, m, v = state
    tensors = dict(params)
    tensors.update({f"opt.m.{k}": t for k, t in m.items()})
    tensors.update({f"opt.v.{k}": t for k, t in v.items()})
    safetensors_io.save(path, tensors, {**meta, "step": str(step), "seed": str(seed)})


def param_digest(module):
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def truncate_metrics(path, step):
    """Keeps metric lines up to `step` (a resumed run rewrites what came after its checkpoint)."""
    if not os.path.exists(path):
        return
    kept = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line if line.endswith("\n") else line + "\n")
            except (ValueError, KeyError):
                pass
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(kept)


def text_task(args, meta):
    """Inputs for a text model: one i32 token input [B, T]."""
    inputs = MODEL["inputs"]
    token_input = (MODEL.get("generate") or {}).get("input") or inputs[0]["name"]
    if len(inputs) != 1:
        raise SystemExit(f"a text model takes exactly one input (its tokens); {MODEL['name']} takes {', '.join(i['name'] for i in inputs)}")
    text = mira_data.read_text(args.data)
    vocab = int(MODEL["config"]["vocab"])
    tok = mira_data.CharTokenizer.from_json(meta["tokenizer"]) if meta.get("tokenizer") else mira_data.CharTokenizer.from_text(text, vocab)
    max_len = int(MODEL["config"].get("max_len", 128))
    window = int(meta["window"]) if meta.get("window") else min(args.window or 128, max_len)
    train, val = mira_data.split_text(tok.encode(text), window)
    return {
        "meta": {"tokenizer": tok.to_json(), "window": str(window)},
        "train": lambda step, rows, seed, first, count: {token_input: mira_data.train_batch(train, step, rows, window, seed, first, count)},
        "val": lambda rows, n: [{token_input: b} for b in mira_data.val_batches(val, rows, window, n)],
        "default_lr": 3e-3,
        "describe": f"{len(train):,} training characters, window {window}, vocabulary {tok.vocab_size}",
    }


def av_task(args, meta):
    ds = mira_data.AvDataset(meta.get("data") or args.data)
    names = sorted(i["name"] for i in MODEL["inputs"])
    if names != ["loss_mask", "spectrogram", "text", "video"]:
        raise SystemExit(f"an audio-video QA model takes inputs video, spectrogram, text, loss_mask; {MODEL['name']} takes {', '.join(names)}")
    return {
        "meta": {"kind": "av-qa", "data": ds.dir},
        "train": lambda step, rows, seed, first, count: ds.train_batch(step, rows, seed, first, count),
        "val": lambda rows, n: ds.val_batches(rows, n),
        "default_lr": 2e-3,
        "describe": f"{ds.clips} clips, {ds.questions('train')[1] - ds.questions('train')[0]} training questions",
    }


def main():
    args = parse_args()
    d = Dist(args.backend)
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // d.local_world))
    run_dir = os.path.join(args.runs_dir, args.run)
    ckpt_path = os.path.join(run_dir, CHECKPOINT_FILE)
    metrics_path = os.path.join(run_dir, "metrics.jsonl")

    resumed = safetensors_io.load(ckpt_path) if args.resume else None
    meta = resumed[1] if resumed else {}
    if resumed and meta.get("source_sha256") != MODEL["source_sha256"]:
        raise SystemExit(f"{ckpt_path} was saved from another version of {MODEL['model']}; re-export the model it was trained from")
    if resumed and args.strategy == "fsdp":
        raise SystemExit("--resume with --strategy fsdp is not supported yet (moments would need sharding); resume with --strategy ddp")
    init = None if resumed or not os.path.exists(args.init) else safetensors_io.load(args.init)
    av = meta.get("kind") == "av-qa" if resumed else mira_data.is_av_dataset(args.data)
    # a new run takes the tokenizer of init.safetensors when it was exported from a trained checkpoint
    task = av_task(args, meta) if av else text_task(args, meta if resumed else (init[1] if init else {}))

    batch = int(meta["batch"]) if meta.get("batch") else (args.batch or 16)
    seed = int(meta["seed"]) if meta.get("seed") else (args.seed if args.seed is not None else int(init[1].get("seed", "1")) if init else 1)
    stored = json.loads(meta["schedule"]) if meta.get("schedule") else {}
    steps = args.steps or stored.get("steps") or 1000
    lr = args.lr or stored.get("lr") or task["default_lr"]
    warmup = args.warmup if args.warmup is not None else stored.get("warmup", min(100, steps // 10))
    start = int(meta["step"]) if resumed else 0
    if batch % d.world:
        raise SystemExit(f"--batch {batch} does not split evenly over {d.world} ranks")
    share = batch // d.world

    model = Model().to(d.device)
    tensors = resumed[0] if resumed else (init[0] if init else None)
    if tensors is None:
        tensors = initial_params(seed)
        d.log(f"{args.init} is absent (exported with --no-init): parameters drawn by torch from mira's initialisers' distributions, seed {seed}")
    model.load_state_dict({key: tensors[name] for name, key, *_ in PARAMS})
    decay_keys = {key for _, key, shape, *_ in PARAMS if len(shape) >= 2}
    wrapped = wrap(model, d, args.strategy)
    # Wrappers prefix names (module., _fsdp_wrapped_module.); mira's decay rule is by the original name.
    named = {k.replace("_fsdp_wrapped_module.", "").removeprefix("module."): p for k, p in wrapped.named_parameters()}
    groups = [
        {"params": [p for k, p in named.items() if k in decay_keys], "weight_decay": ADAMW["weight_decay"]},
        {"params": [p for k, p in named.items() if k not in decay_keys], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=ADAMW["betas"], eps=ADAMW["eps"])
    if resumed:
        for name, key, *_ in PARAMS:
            optimizer.state[named[key]] = {"step": torch.tensor(float(start)), "exp_avg": tensors[f"opt.m.{name}"].to(d.device), "exp_avg_sq": tensors[f"opt.v.{name}"].to(d.device)}

    ckpt_meta = {
        "format": "mira-checkpoint-1", "model": MODEL["model"], "preset": MODEL["preset"],
        "overrides": json.dumps(MODEL["overrides"], separators=(",", ":"), ensure_ascii=False),
        "source_sha256": MODEL["source_sha256"], "batch": str(batch),
        "schedule": json.dumps({"steps": steps, "lr": lr, "warmup": warmup}, separators=(",", ":")),
        **task["meta"],
    }
    objective = MODEL["objective"]
    args_of = {i["name"]: i["arg"] for i in MODEL["inputs"]}

    def run(batch_):
        """The forward pass on a batch keyed by mira's input names."""
        return wrapped(**{args_of[k]: v.to(d.device) for k, v in batch_.items()})

    # Sizes the export could not make symbolic are numbers in MODEL: say so before torch fails deep inside.
    first = task["train"](start + 1, batch, seed, d.rank * share, share)
    for i in MODEL["inputs"]:
        got = list(first[i["name"]].shape)
        if len(got) != len(i["shape"]) or any(str(e).isdigit() and int(e) != g for e, g in zip(i["shape"], got)):
            raise SystemExit(f"model.py takes {i['name']} of shape [{', '.join(map(str, i['shape']))}] but this run feeds {got} "
                             f"({share} rows per rank); re-export with --batch sizes that match, or change --batch/--window")
    val = task["val"](batch, args.eval_batches)

    def evaluate():
        wrapped.eval()
        with torch.no_grad():
            total = sum(float(run(b)[objective]) for b in val)
        wrapped.train()
        return total / max(1, len(val))

    if d.main:
        os.makedirs(run_dir, exist_ok=True)
        truncate_metrics(metrics_path, start)
    d.log(f"{MODEL['name']}: {sum(p.numel() for p in model.parameters()):,} parameters; {task['describe']}; "
          f"{d.world} rank(s) × {share} rows ({args.strategy}); steps {start + 1}…{steps}, lr {lr}, warm-up {warmup}, seed {seed}")
    started = time.time()
    last_saved = start
    step = start
    while step < steps:
        t = step + 1
        rate = mira_data.lr_at(lr, warmup, steps, t)
        for g in optimizer.param_groups:
            g["lr"] = rate
        b = task["train"](t, batch, seed, d.rank * share, share)
        loss = run(b)[objective]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = wrapped.clip_grad_norm_ if args.strategy == "fsdp" and d.world > 1 else (lambda c: torch.nn.utils.clip_grad_norm_(wrapped.parameters(), c))
        norm = float(clip(ADAMW["clip_norm"]))
        if not math.isfinite(norm):
            d.log(f"training diverged at step {t} (gradient norm {norm}); the last good checkpoint (step {last_saved}) is kept in {ckpt_path}; try a lower --lr")
            sys.exit(1)
        optimizer.step()
        step = t
        mean_loss = d.mean(loss.detach())
        entry = None
        if t % args.log_every == 0 or t == steps:
            entry = {"step": t, "lr": rate, "time_s": round(time.time() - started, 2), "loss": mean_loss, "grad_norm": norm}
            d.log(f"step {t}/{steps}  loss {mean_loss:.4f}  grad norm {norm:.3f}  lr {rate:.2e}")
        if t % args.eval_every == 0 or t == steps:
            entry = entry or {"step": t, "lr": rate, "time_s": round(time.time() - started, 2)}
            entry["val_loss"] = evaluate()
            d.log(f"step {t}/{steps}  validation loss {entry['val_loss']:.4f}")
        if entry and d.main:
            with open(metrics_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, separators=(",", ":")) + "\n")
        if t % args.checkpoint_every == 0 or t == steps:
            save_checkpoint(ckpt_path, wrapped, optimizer, d, args.strategy, ckpt_meta, t, seed)
            last_saved = t

    if d.world > 1 and args.strategy == "ddp":
        digests = [None] * d.world
        dist.all_gather_object(digests, param_digest(model))
        if len(set(digests)) != 1:
            d.log(f"replicas differ: parameter digests {digests}")
            sys.exit(1)
        d.log(f"replicas: parameters identical on all {d.world} ranks (sha256 {digests[0][:16]}…)")
    d.log(f"checkpoint: {ckpt_path} (step {step})")
    if d.world > 1:
        # The DDP reducer must go before its process group: left to interpreter exit, a worker started
        # by torchrun (1.13, gloo) hung there after its last line.
        del wrapped, optimizer
        gc.collect()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
