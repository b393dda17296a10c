#!/usr/bin/env python3
"""An independent check that the module `akkagan export` writes builds the network its weights belong to.

PyTorch is not installed here, so the module is run against a stand-in `torch` (this file) that records the
parameters and buffers each layer would have. The Generator's state dict (names, in order of registration, and
shapes) must be exactly the tensors in the .safetensors file that `load()` hands to `load_state_dict`.

usage: check_module.py MODULE.py WEIGHTS.safetensors
Prints the tensors compared; exits 1 on any difference.
"""
import importlib.util
import json
import struct
import sys
import types


class Module:
    def __init__(self):
        object.__setattr__(self, "_children", {})
        object.__setattr__(self, "_tensors", {})

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self._children[name] = value
        object.__setattr__(self, name, value)

    def state(self, prefix=""):
        items = [(prefix + n, s) for n, s in self._tensors.items()]
        for name, child in self._children.items():
            items += child.state(prefix + name + ".")
        return items


class Linear(Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self._tensors.update(weight=[n_out, n_in], bias=[n_out])


class Conv2d(Module):
    def __init__(self, c_in, c_out, k, padding=0, stride=1):
        super().__init__()
        self._tensors.update(weight=[c_out, c_in, k, k], bias=[c_out])


class BatchNorm(Module):
    def __init__(self, n):
        super().__init__()
        self._tensors.update(weight=[n], bias=[n], running_mean=[n], running_var=[n], num_batches_tracked=[])


class ReLU(Module):
    pass


class Sequential(Module):
    def __init__(self, layers):
        super().__init__()
        for name, layer in layers.items():
            setattr(self, name, layer)


def stand_in_torch():
    torch = types.ModuleType("torch")
    nn = types.ModuleType("torch.nn")
    functional = types.ModuleType("torch.nn.functional")
    nn.Module, nn.Linear, nn.Conv2d, nn.ReLU, nn.Sequential = Module, Linear, Conv2d, ReLU, Sequential
    nn.BatchNorm1d = nn.BatchNorm2d = BatchNorm
    torch.nn, torch.no_grad = nn, (lambda: (lambda f: f))
    sys.modules.update({"torch": torch, "torch.nn": nn, "torch.nn.functional": functional})


def main(module_path, weights):
    stand_in_torch()
    spec = importlib.util.spec_from_file_location("exported", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.Generator().state(prefix="")
    with open(weights, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    stored = [(n, i["shape"]) for n, i in header.items() if n != "__metadata__"]
    for name, shape in built:
        print(f"{name} {shape}")
    if sorted(built) != sorted(stored):
        missing = sorted(set(map(repr, stored)) - set(map(repr, built)))
        extra = sorted(set(map(repr, built)) - set(map(repr, stored)))
        raise SystemExit(f"the module's Generator does not fit {weights}: not built {missing}, not stored {extra}")
    print(f"{len(built)} tensors fit")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2])
