#!/usr/bin/env python3
"""An independent check of `akkagan export` (Python standard library only: no TorchSharp, PyTorch or NumPy).

Reads the exported MLP generator from its .safetensors file, runs its forward pass on the noise in Z.npy in plain
Python, and compares the result with the samples `akkagan sample --latent Z.npy` wrote to X.npy.

usage: check_export.py WEIGHTS.safetensors Z.npy X.npy TOLERANCE
Prints the largest absolute difference; exits 1 when it is above TOLERANCE or the files do not fit together.
"""
import ast
import json
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        values = struct.unpack(f"<{(end - start) // 4}f", data[start:end])
        tensors[name] = (info["shape"], values)
    return tensors


def read_npy(path):
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise SystemExit(f"{path}: not a .npy file")
        major, _ = f.read(2)
        (length,) = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))
        header = ast.literal_eval(f.read(length).decode("latin1"))
        data = f.read()
    if header["fortran_order"] or header["descr"] not in ("<f4", "<f8"):
        raise SystemExit(f"{path}: unexpected header {header}")
    code, size = ("f", 4) if header["descr"] == "<f4" else ("d", 8)
    return list(header["shape"]), struct.unpack(f"<{len(data) // size}{code}", data)


def linear(x, weight, bias):
    (rows, cols), w = weight
    _, b = bias
    return [sum(w[r * cols + c] * x[c] for c in range(cols)) + b[r] for r in range(rows)]


def main(weights_path, z_path, x_path, tolerance):
    tensors = read_safetensors(weights_path)
    hidden = sorted((k for k in tensors if k.startswith("layers.fc") and k.endswith(".weight")), key=lambda k: int(k.split(".")[1][2:]))
    layers = [k[: -len(".weight")] for k in hidden] + ["layers.out"]
    missing = [f"{layer}.{p}" for layer in layers for p in ("weight", "bias") if f"{layer}.{p}" not in tensors]
    if missing:
        raise SystemExit(f"{weights_path}: no {', '.join(missing)} (has {', '.join(sorted(tensors))})")
    z_shape, z = read_npy(z_path)
    x_shape, x = read_npy(x_path)
    n, latent = z_shape
    out_dim = tensors["layers.out.weight"][0][0]
    if tensors[layers[0] + ".weight"][0][1] != latent or x_shape != [n, out_dim]:
        raise SystemExit(f"shapes do not fit: z {z_shape}, samples {x_shape}, first layer {tensors[layers[0] + '.weight'][0]}")
    worst = 0.0
    for i in range(n):
        h = list(z[i * latent:(i + 1) * latent])
        for j, layer in enumerate(layers):
            h = linear(h, tensors[layer + ".weight"], tensors[layer + ".bias"])
            if j < len(layers) - 1:
                h = [max(0.0, v) for v in h]
        worst = max(worst, max(abs(a - b) for a, b in zip(h, x[i * out_dim:(i + 1) * out_dim])))
    print(f"{n} samples, {len(layers)} layers, largest difference {worst:.3g}")
    return 0 if worst <= tolerance else 1


if __name__ == "__main__":
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))
