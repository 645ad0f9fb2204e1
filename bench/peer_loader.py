#!/usr/bin/python3
"""peer_loader.py: torchvision's DataLoader images/s, the peer of
`convkit bench loader` (issue 4).

torchvision.datasets.ImageFolder over the JPEGs (from disk, page cache warm
after the warm-up), a custom PIL loader (optionally in JPEG draft mode),
the policy's transforms as in peer_augment.py, ToTensor, batch 32,
num_workers 0 (inline), 1 and 2, a seeded shuffle per epoch. tcmalloc is
not loaded by this script: run it under
LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 for the
preloaded figure; the "allocator" field says which one was in use.

--data is either a class-per-folder tree, or a flat Kaggle-style folder
(cat.0.jpg, dog.1.jpg, ...) for which a temporary class-per-folder view of
symlinks is made (and removed) outside the data folder. Prints one JSON
object per configuration.
"""

import argparse
import functools
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # keep bench/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
import torchvision  # noqa: E402

import peer_common as pc  # noqa: E402


def imagefolder_view(data, tmp):
    """data itself if it holds class folders, else a tmp tree of symlinks
    grouped by the file name's prefix before the first dot."""
    entries = os.listdir(data)
    if any(os.path.isdir(os.path.join(data, e)) for e in entries):
        return data
    n = 0
    for name in sorted(entries):
        if not name.lower().endswith((".jpg", ".jpeg")):
            continue
        cls = name.split(".")[0]
        os.makedirs(os.path.join(tmp, cls), exist_ok=True)
        os.symlink(os.path.abspath(os.path.join(data, name)),
                   os.path.join(tmp, cls, name))
        n += 1
    if n == 0:
        sys.exit("no JPEG files in " + data)
    return tmp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True,
                    help="class-per-folder tree or flat cat.N.jpg folder")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--policies", nargs="+", choices=pc.POLICIES,
                    default=["none", "chollet-2nd"])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--images", type=int, default=0,
                    help="samples in the timed epoch (default: all)")
    ap.add_argument("--warmup-batches", type=int, default=4,
                    help="batches of the untimed warm-up epoch")
    pc.add_policy_args(ap)
    args = ap.parse_args()

    torch.set_num_threads(1)
    pc.seed_all(args.seed)
    env = pc.environment()
    with tempfile.TemporaryDirectory(prefix="peer-loader-") as tmp:
        root = imagefolder_view(args.data, tmp)
        for policy in args.policies:
            for draft in args.draft:
                tf = pc.build_transform(policy, args.size, args.interp,
                                        args.shear_unit, args.order)
                loader = functools.partial(pc.load_rgb, size=args.size,
                                           draft=draft == "on")
                ds = torchvision.datasets.ImageFolder(root, transform=tf,
                                                      loader=loader)
                images = args.images or len(ds)
                for workers in args.workers:
                    n, nb, seconds = pc.time_loader(
                        ds, args.batch, workers, images, args.warmup_batches,
                        args.seed)
                    pc.emit({
                        "peer": "torchvision-loader",
                        "policy": policy,
                        "workers": workers,
                        "draft": draft == "on",
                        "batch": args.batch,
                        "size": args.size,
                        "order": args.order,
                        "interp": args.interp,
                        "classes": len(ds.classes),
                        "dataset": len(ds),
                        "images": n,
                        "batches": nb,
                        "seconds": round(seconds, 4),
                        "images_per_s": round(n / seconds, 2),
                        "batches_per_s": round(nb / seconds, 3),
                        **env,
                    })


if __name__ == "__main__":
    main()
