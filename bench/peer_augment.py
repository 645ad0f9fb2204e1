#!/usr/bin/python3
"""peer_augment.py: torchvision's per-sample augmentation rate, the peer of
`convkit bench augment` (issue 3).

Per sample: PIL decode of an in-memory JPEG (optionally in draft mode),
Resize(size x size), then for a policy RandomHorizontalFlip + RandomAffine
of the policy's ranges, then ToTensor (float32, /255). See peer_common.py
for how the Keras policies map onto torchvision.

Threads are worker processes (Python's GIL leaves no other way to use two
cores with PIL + torchvision):
- pool: T forked processes, each transforming every T-th sample with no
  result sent back; the parent only times them (start barrier to last
  result). This is torchvision's best per-thread figure: no IPC, no
  collation.
- dataloader: torch DataLoader(num_workers=T, batch 32): what a training
  script gets, including collation and shared-memory transfer.

Files are read into memory before timing, so the figure is decode +
transform, not disk. Prints one JSON object per configuration.
"""

import argparse
import multiprocessing as mp
import os
import sys
import time

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import peer_common as pc  # noqa: E402


def pool_worker(w, threads, blobs, args, policy, draft, barrier, results):
    torch.set_num_threads(1)
    pc.seed_all(args.seed * 1000 + w + 1)
    tf = pc.build_transform(policy, args.size, args.interp, args.shear_unit,
                            args.order)
    mine = range(w, args.images, threads)
    for i in list(mine)[:args.warmup]:
        tf(pc.load_rgb(blobs[i % len(blobs)], args.size, draft))
    barrier.wait()
    for i in mine:
        x = tf(pc.load_rgb(blobs[i % len(blobs)], args.size, draft))
    assert x.shape == (3, args.size, args.size) and x.dtype == torch.float32
    results.put((w, len(mine)))


def run_pool(blobs, args, policy, draft, threads):
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(threads + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=pool_worker,
                         args=(w, threads, blobs, args, policy, draft,
                               barrier, results))
             for w in range(threads)]
    for p in procs:
        p.start()
    barrier.wait(timeout=600)
    t0 = time.perf_counter()
    done = sum(results.get(timeout=3600)[1] for _ in procs)
    seconds = time.perf_counter() - t0
    for p in procs:
        p.join()
        if p.exitcode != 0:
            sys.exit("a worker failed (exit %d)" % p.exitcode)
    return done, seconds


class BlobDataset(torch.utils.data.Dataset):
    def __init__(self, blobs, transform, size, draft):
        self.blobs, self.tf, self.size, self.draft = blobs, transform, size, draft

    def __len__(self):
        return len(self.blobs)

    def __getitem__(self, i):
        return self.tf(pc.load_rgb(self.blobs[i], self.size, self.draft)), 0


def run_dataloader(blobs, args, policy, draft, threads):
    pc.seed_all(args.seed)
    tf = pc.build_transform(policy, args.size, args.interp, args.shear_unit,
                            args.order)
    ds = BlobDataset(blobs, tf, args.size, draft)
    warm = max(1, args.warmup * threads // args.batch)
    n, _, seconds = pc.time_loader(ds, args.batch, threads, args.images, warm,
                                   args.seed)
    return n, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="+", help="JPEG files or directories")
    ap.add_argument("--images", type=int, default=2000,
                    help="samples timed per configuration (files are cycled)")
    ap.add_argument("--warmup", type=int, default=32,
                    help="untimed samples per thread before timing")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--policies", nargs="+", choices=pc.POLICIES,
                    default=list(pc.POLICIES))
    ap.add_argument("--modes", nargs="+", choices=("pool", "dataloader"),
                    default=["pool"])
    ap.add_argument("--batch", type=int, default=32,
                    help="batch size in dataloader mode")
    pc.add_policy_args(ap)
    args = ap.parse_args()

    torch.set_num_threads(1)
    files = pc.list_images(args.paths)
    blobs = []
    for f in files:
        with open(f, "rb") as fh:
            blobs.append(fh.read())
    env = pc.environment()
    for mode in args.modes:
        for policy in args.policies:
            for draft in args.draft:
                for threads in args.threads:
                    run = run_pool if mode == "pool" else run_dataloader
                    n, seconds = run(blobs, args, policy, draft == "on",
                                     threads)
                    pc.emit({
                        "peer": "torchvision-augment",
                        "mode": mode,
                        "policy": policy,
                        "threads": threads,
                        "draft": draft == "on",
                        "size": args.size,
                        "order": args.order,
                        "interp": args.interp,
                        "shear_unit": args.shear_unit,
                        "files": len(files),
                        "images": n,
                        "seconds": round(seconds, 4),
                        "images_per_s": round(n / seconds, 2),
                        "images_per_s_per_thread":
                            round(n / seconds / threads, 2),
                        **env,
                    })


if __name__ == "__main__":
    main()
