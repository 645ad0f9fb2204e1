#!/usr/bin/python3
"""peer_train.py: PyTorch training and inference images/s on synthetic
batches, the peer of `convkit bench train` (issue 5) and of the VGG16 conv
base inference benchmark (issue 7).

Models, layer for layer as convkit builds them (parameter counts asserted):
  mnist         28x28x1, Conv 32 5x5 relu, pool 2, Conv 64 5x5 relu, pool 2,
                Flatten, Dense 64 relu, Dense 10 (softmax)      118,346
  catsdogs-1st  150x150x3, Conv 32/64/128/128 3x3 relu each + pool 2,
                Flatten, Dense 512 relu, Dense 1 sigmoid        3,453,121
  catsdogs-2nd  180x180x3, Rescaling 1/255, Conv 32/64/128/256/256 3x3 relu,
                pool 2 after the first four, Flatten, Dense 1   991,041
  vgg16         torchvision vgg16(weights=None).features at 150x150,
                inference only                                  14,714,688
Training: RMSprop (lr 1e-4, rho 0.9, eps 1e-7 as Keras), loss fused with
the last activation (CrossEntropyLoss, BCEWithLogitsLoss), zero_grad()
as a user calls it. Inference: eval mode, torch.inference_mode(), final
activation applied.

Each (model, threads, memory format, phase) runs in a fresh child process,
so peak RSS (getrusage ru_maxrss) is that configuration's alone and
torch.set_num_threads is set once before any work. Both memory formats
(contiguous NCHW and channels_last) are run and the faster is reported, with
both figures. GFLOP/s counts forward conv and dense multiply-adds x2 (bias,
activations and pooling not counted); training = 3x forward.

--allocator both runs every configuration with glibc malloc (as users run
it by default) and with tcmalloc preloaded (its best); inherit (default)
keeps this process's LD_PRELOAD. Prints one JSON object per (allocator,
model, threads, phase).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"

# name: (input CHW, batch, parameter count, timed iterations by default)
MODELS = {
    "mnist": ((1, 28, 28), 64, 118346, 100),
    "catsdogs-1st": ((3, 150, 150), 32, 3453121, 12),
    "catsdogs-2nd": ((3, 180, 180), 32, 991041, 12),
    "vgg16": ((3, 150, 150), 32, 14714688, 4),
}
PHASES = ("train", "inference")


def build(name):
    import torch.nn as nn

    def conv_stack(channels, pool_after):
        layers, cin = [], channels[0]
        for i, c in enumerate(channels[1:]):
            layers += [nn.Conv2d(cin, c, 3), nn.ReLU(inplace=True)]
            if i < pool_after:
                layers.append(nn.MaxPool2d(2))
            cin = c
        return layers

    class Rescaling(nn.Module):
        def forward(self, x):
            return x * (1.0 / 255.0)

    if name == "mnist":
        model = nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(4 * 4 * 64, 64), nn.ReLU(inplace=True),
            nn.Linear(64, 10))
    elif name == "catsdogs-1st":
        model = nn.Sequential(
            *conv_stack([3, 32, 64, 128, 128], 4), nn.Flatten(),
            nn.Linear(7 * 7 * 128, 512), nn.ReLU(inplace=True),
            nn.Linear(512, 1))
    elif name == "catsdogs-2nd":
        model = nn.Sequential(
            Rescaling(), *conv_stack([3, 32, 64, 128, 256, 256], 4),
            nn.Flatten(), nn.Linear(7 * 7 * 256, 1))
    elif name == "vgg16":
        import torchvision
        return torchvision.models.vgg16(weights=None).features
    else:
        raise ValueError(name)
    # Keras's initialisation: Glorot-uniform kernels, zero biases.
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def forward_flops(model, x):
    """Forward FLOPs per image: 2 x the multiply-adds of conv and dense."""
    import torch
    import torch.nn as nn

    macs = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
            macs[0] += out[0].numel() * k
        else:
            macs[0] += m.in_features * m.out_features

    hs = [m.register_forward_hook(hook) for m in model.modules()
          if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.inference_mode():
        model(x[:1])
    for h in hs:
        h.remove()
    return 2 * macs[0]


def child(model_name, threads, fmt, phase, iterations, warmup, seed, size):
    """Measure one configuration in this process; return a dict."""
    import torch
    import torch.nn as nn

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    shape, batch, params, default_iters = MODELS[model_name]
    if size:  # another input size (a conv base takes any)
        shape = (shape[0], size, size)
    iterations = iterations or default_iters
    model = build(model_name)
    n_params = sum(p.numel() for p in model.parameters())
    if n_params != params:  # the layer-for-layer check, even under -O
        raise SystemExit("%s: %d parameters, expected %d" % (
            model_name, n_params, params))
    mf = torch.channels_last if fmt == "channels_last" else \
        torch.contiguous_format
    model = model.to(memory_format=mf)
    x = torch.rand(batch, *shape)
    if model_name == "catsdogs-2nd":
        x = x * 255.0  # Rescaling is the model's first layer
    x = x.contiguous(memory_format=mf)
    flops = forward_flops(model, x)

    if model_name == "mnist":
        y = torch.randint(0, 10, (batch,))
        loss_fn, final = nn.CrossEntropyLoss(), lambda z: z.softmax(1)
    else:
        y = torch.randint(0, 2, (batch, 1)).float()
        loss_fn, final = nn.BCEWithLogitsLoss(), torch.sigmoid

    if phase == "train":
        model.train()
        opt = torch.optim.RMSprop(model.parameters(), lr=1e-4, alpha=0.9,
                                  eps=1e-7)

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()
        flops *= 3
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                return float(final(model(x)).sum())

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(iterations):
        step()
    seconds = time.perf_counter() - t0
    ips = batch * iterations / seconds
    return {
        "images_per_s": ips,
        "step_seconds": seconds / iterations,
        "gflop_per_image": flops / 1e9,
        "gflops": ips * flops / 1e9,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        / 1024.0,
        "params": n_params,
        "batch": batch,
        "iterations": iterations,
        "warmup": warmup,
    }


def child_environment():
    import torch
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import peer_common as pc

    env = pc.environment()
    env.pop("pillow")
    env["mkldnn"] = bool(torch._C._get_mkldnn_enabled())
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            env["cpu_capability"] = line.split(":")[1].strip()
    return env


def run_child(args, model, threads, fmt, phase, allocator):
    env = dict(os.environ)
    if allocator == "glibc":
        env.pop("LD_PRELOAD", None)
    elif allocator == "tcmalloc":
        env["LD_PRELOAD"] = TCMALLOC
    cmd = [sys.executable, os.path.abspath(__file__), "--child",
           "%s,%d,%s,%s" % (model, threads, fmt, phase),
           "--iterations", str(args.iterations), "--warmup", str(args.warmup),
           "--seed", str(args.seed), "--size", str(args.size)]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit("peer_train: %s %d threads %s %s (%s) failed, exit %d" % (
            model, threads, fmt, phase, allocator, proc.returncode))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", choices=sorted(MODELS),
                    default=list(MODELS))
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--phases", nargs="+", choices=PHASES,
                    default=list(PHASES),
                    help="vgg16 is measured for inference only")
    ap.add_argument("--formats", nargs="+",
                    choices=("contiguous", "channels_last"),
                    default=["contiguous", "channels_last"])
    ap.add_argument("--allocator",
                    choices=("inherit", "glibc", "tcmalloc", "both"),
                    default="inherit")
    ap.add_argument("--iterations", type=int, default=0,
                    help="timed steps (default: per model, see MODELS)")
    ap.add_argument("--warmup", type=int, default=3,
                    help="untimed steps first")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--size", type=int, default=0,
                    help="input height and width (default: per model)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        model, threads, fmt, phase = args.child.split(",")
        r = child(model, int(threads), fmt, phase, args.iterations,
                  args.warmup, args.seed, args.size)
        r.update(child_environment())
        print(json.dumps(r), flush=True)
        return

    if args.allocator == "tcmalloc" or args.allocator == "both":
        if not os.path.exists(TCMALLOC):
            sys.exit("tcmalloc not installed: " + TCMALLOC +
                     " (apt-get install libtcmalloc-minimal4)")
    allocators = {"both": ["glibc", "tcmalloc"]}.get(args.allocator,
                                                     [args.allocator])
    for alloc in allocators:
        for model in args.models:
            for phase in args.phases:
                if model == "vgg16" and phase == "train":
                    continue
                for threads in args.threads:
                    runs = {f: run_child(args, model, threads, f, phase, alloc)
                            for f in args.formats}
                    best = max(runs, key=lambda f: runs[f]["images_per_s"])
                    r = runs[best]
                    rec = {"peer": "pytorch-train", "model": model,
                           "phase": phase, "threads": threads,
                           "size": args.size or MODELS[model][0][1],
                           "batch": r["batch"], "params": r["params"],
                           "memory_format": best}
                    for k in ("images_per_s", "step_seconds", "gflops"):
                        rec[k] = round(r[k], 4)
                    rec["gflop_per_image"] = round(r["gflop_per_image"], 6)
                    rec["peak_rss_mib"] = round(r["peak_rss_mib"], 1)
                    for f in args.formats:
                        rec["images_per_s_" + f] = round(
                            runs[f]["images_per_s"], 3)
                    rec["iterations"] = r["iterations"]
                    rec["warmup"] = r["warmup"]
                    for k in ("python", "torch", "torchvision", "allocator",
                              "cpus", "mkldnn", "cpu_capability"):
                        rec[k] = r.get(k)
                    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
