"""peer_common.py: what the torchvision peers (peer_augment.py,
peer_loader.py) share, so both time exactly the same per-image work.

Why it exists: convkit's augmentation and loader benchmarks are only
meaningful next to torchvision doing the same job at its best, so the
policies, the decode and the environment report live in one place.

Choices (see bench/README.md for the reasons):
- Keras's flow_from_directory resizes at load time and augments the
  target-size image, so the peer resizes to SIZE x SIZE first and applies
  RandomHorizontalFlip + RandomAffine on the small image (also torchvision's
  fastest order). --order augment-first is there for comparison.
- Interpolation is bilinear (Keras uses bilinear for both the legacy
  generator and the preprocessing layers); torchvision's PIL affine can only
  fill with a constant, so the fill mode differs from Keras (cost is equal).
- chollet-1st's shear_range=0.2 is read as Keras 2.0/2.1 did when the
  book's first edition was written: radians (0.2 rad = 11.46 deg). Later
  Keras versions read it as degrees; --shear-unit degrees selects that.
- Output is ToTensor(): float32 CHW scaled by 1/255, the counterpart of
  convkit's float32 HWC with Rescaling(1/255).
"""

import io
import json
import math
import os
import platform
import random
import sys

import numpy as np
import PIL
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T

POLICIES = ("none", "chollet-1st", "chollet-2nd")
INTERP = {
    "nearest": T.InterpolationMode.NEAREST,
    "bilinear": T.InterpolationMode.BILINEAR,
    "bicubic": T.InterpolationMode.BICUBIC,
}


def augment_steps(policy, interp, shear_unit):
    """The random geometric steps of a named convkit policy, in torchvision."""
    mode = INTERP[interp]
    if policy == "none":
        return []
    if policy == "chollet-1st":
        # ImageDataGenerator(rotation_range=40, width_shift_range=0.2,
        # height_shift_range=0.2, shear_range=0.2, zoom_range=0.2,
        # horizontal_flip=True). Keras draws x and y zoom independently in
        # [0.8, 1.2]; RandomAffine has one isotropic scale in the same range.
        shear = math.degrees(0.2) if shear_unit == "radians" else 0.2
        return [
            T.RandomHorizontalFlip(),
            T.RandomAffine(degrees=40, translate=(0.2, 0.2), scale=(0.8, 1.2),
                           shear=shear, interpolation=mode),
        ]
    if policy == "chollet-2nd":
        # RandomFlip("horizontal"), RandomRotation(0.1) = +-36 deg,
        # RandomZoom(0.2) = scale in about [0.8, 1.2].
        return [
            T.RandomHorizontalFlip(),
            T.RandomAffine(degrees=36, scale=(0.8, 1.2), interpolation=mode),
        ]
    raise ValueError("unknown policy: " + policy)


def build_transform(policy, size, interp="bilinear", shear_unit="radians",
                    order="resize-first"):
    """PIL image -> float32 CHW tensor in [0, 1] of size x size."""
    resize = T.Resize((size, size), interpolation=INTERP[interp])
    aug = augment_steps(policy, interp, shear_unit)
    steps = [resize] + aug if order == "resize-first" else aug + [resize]
    return T.Compose(steps + [T.ToTensor()])


def load_rgb(src, size, draft):
    """Decode a JPEG (path or bytes) to an RGB PIL image.

    With draft, PIL's JPEG draft mode lets libjpeg scale by 1/2, 1/4 or 1/8
    during decode, keeping the result at least size x size."""
    if isinstance(src, (bytes, bytearray)):
        src = io.BytesIO(src)
    with Image.open(src) as im:
        if draft:
            im.draft("RGB", (size, size))
        return im.convert("RGB")


def add_policy_args(parser):
    parser.add_argument("--size", type=int, default=150,
                        help="output side in pixels (default 150)")
    parser.add_argument("--interp", choices=sorted(INTERP), default="bilinear",
                        help="interpolation for resize and affine")
    parser.add_argument("--shear-unit", choices=("radians", "degrees"),
                        default="radians",
                        help="how chollet-1st's shear_range=0.2 is read")
    parser.add_argument("--order", choices=("resize-first", "augment-first"),
                        default="resize-first",
                        help="resize before or after the random affine")
    parser.add_argument("--draft", nargs="+", choices=("off", "on"),
                        default=["off", "on"],
                        help="PIL JPEG draft mode settings to run")
    parser.add_argument("--seed", type=int, default=1234)


def list_images(paths):
    """JPEG files named by paths (files, or directories searched
    recursively), sorted for a stable order."""
    out = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                out += [os.path.join(root, f) for f in files
                        if f.lower().endswith((".jpg", ".jpeg"))]
        else:
            out.append(p)
    if not out:
        sys.exit("no JPEG files found in " + " ".join(paths))
    return sorted(out)


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def allocator():
    """'tcmalloc' when libtcmalloc is mapped into this process (LD_PRELOAD),
    else 'glibc'."""
    with open("/proc/self/maps") as f:
        return "tcmalloc" if "tcmalloc" in f.read() else "glibc"


def environment():
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pillow": PIL.__version__,
        "allocator": allocator(),
        "cpus": len(os.sched_getaffinity(0)),
    }


def emit(record):
    """One JSON object per configuration, one per line, on stdout."""
    print(json.dumps(record, sort_keys=False), flush=True)


class EpochSampler(torch.utils.data.Sampler):
    """A seeded per-epoch shuffle whose length can be changed between
    epochs (limit), so a short warm-up epoch can run to completion on the
    same persistent DataLoader workers before the timed epoch starts with
    nothing prefetched."""

    def __init__(self, n, seed, shuffle=True):
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.epoch, self.limit = 0, n

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed * 1000003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        self.epoch += 1
        reps = -(-self.limit // self.n)
        return iter((order * reps)[:self.limit])

    def __len__(self):
        return self.limit


def worker_seed(worker_id):
    """DataLoader worker_init_fn: one intra-op thread per worker process and
    numpy/random seeded from torch's per-worker seed."""
    torch.set_num_threads(1)
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


def time_loader(dataset, batch, workers, images, warmup_batches, seed):
    """Images/s of a torch DataLoader over dataset, as a trainer consumes it.

    A warm-up epoch of warmup_batches batches runs to completion first on
    the same (persistent) workers; the clock then covers one epoch of
    `images` samples, from creating the epoch iterator to the last batch.
    Returns (images, batches, seconds)."""
    import time

    sampler = EpochSampler(len(dataset), seed)
    g = torch.Generator()
    g.manual_seed(seed)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=batch, sampler=sampler, num_workers=workers,
        persistent_workers=workers > 0, worker_init_fn=worker_seed,
        generator=g, drop_last=False)
    sampler.limit = warmup_batches * batch
    for _ in loader:
        pass
    sampler.limit = images
    n = nb = 0
    t0 = time.perf_counter()
    for x, _ in loader:
        n += x.shape[0]
        nb += 1
    seconds = time.perf_counter() - t0
    del loader
    return n, nb, seconds
