#!/usr/bin/python3
"""peer_vgg16_layers.py: PyTorch's time per layer of torchvision's VGG16
conv base (random weights, eval mode, inference_mode, channels_last, batch
32, SIZE x SIZE), the best of REPEATS passes after one warm-up, to set
beside `convkit bench train vgg16-base`'s per-layer table.

    /usr/bin/python3 bench/peer_vgg16_layers.py [--threads 1] [--size 150] [--repeats 3]
"""

import argparse
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch
    import torchvision

    torch.set_num_threads(args.threads)
    model = torchvision.models.vgg16(weights=None).features.eval()
    model = model.to(memory_format=torch.channels_last)
    x = torch.rand(32, 3, args.size, args.size)
    x = x.contiguous(memory_format=torch.channels_last)
    best = {}
    with torch.inference_mode():
        for rep in range(args.repeats + 1):
            h = x
            for i, layer in enumerate(model):
                t0 = time.perf_counter()
                h = layer(h)
                t = time.perf_counter() - t0
                if rep > 0:
                    best[i] = min(best.get(i, t), t)
    print("| layer | ms | GFLOP/s |")
    print("| --- | ---: | ---: |")
    h = x
    with torch.inference_mode():
        for i, layer in enumerate(model):
            out = layer(h)
            gflop = 0.0
            if isinstance(layer, torch.nn.Conv2d):
                k = layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
                gflop = 2 * out.numel() * k / 1e9
            if not isinstance(layer, torch.nn.ReLU):
                print("| %d %s | %.1f | %.0f |" % (i, type(layer).__name__,
                                                  best[i] * 1e3, gflop / best[i]))
            h = out
    print("total (ReLU included): %.1f ms" % (sum(best.values()) * 1e3))


if __name__ == "__main__":
    main()
