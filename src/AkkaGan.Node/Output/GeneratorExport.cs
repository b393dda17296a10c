using System.Globalization;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Models;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using TorchSharp.PyBridge;

namespace AkkaGan.Node.Output;

/// <summary>
/// A trained generator for PyTorch: its weights as a state dict (<c>.safetensors</c> or a <c>torch.save</c>-style
/// <c>.pt</c>, written by TorchSharp.PyBridge under the module's own parameter and buffer names) and, beside them, a
/// Python module with the same architecture and a <c>sample(n)</c>, so that
/// <code>
/// import generator
/// g = generator.load()
/// x = generator.sample(g, 16)
/// </code>
/// gives samples like <c>akkagan sample</c>'s.
/// </summary>
public static class GeneratorExport
{
    /// <summary>The weight formats by file extension.</summary>
    public static readonly IReadOnlyList<string> Formats = [".safetensors", ".pt"];

    /// <summary>Writes the weights to <paramref name="weightsPath"/> and the module to the same name with <c>.py</c>; returns the module's path.</summary>
    public static string Write(GeneratorCore generator, TrainingSettings settings, CheckpointMetadata metadata, string weightsPath)
    {
        var extension = Path.GetExtension(weightsPath).ToLowerInvariant();
        if (!Formats.Contains(extension))
            throw new SettingsException($"--out: {weightsPath} must end in {string.Join(" or ", Formats)} (the weights' format)");
        var folder = Path.GetDirectoryName(Path.GetFullPath(weightsPath))!;
        Directory.CreateDirectory(folder);
        // The weights samples come from: the moving average when the run keeps one.
        if (extension == ".pt") generator.SamplingModel.save_py(weightsPath);
        else generator.SamplingModel.save_safetensors(weightsPath);
        var module = Path.Combine(folder, Path.GetFileNameWithoutExtension(weightsPath) + ".py");
        File.WriteAllText(module, PythonModule(settings, generator.SampleShape, metadata, Path.GetFileName(weightsPath)));
        return module;
    }

    /// <summary>The Python module for the generator of <paramref name="settings"/>: the network, <c>load</c> and <c>sample</c>.</summary>
    public static string PythonModule(TrainingSettings settings, long[] sampleShape, CheckpointMetadata metadata, string weightsFile)
    {
        var latent = settings.LatentDim.ToString(CultureInfo.InvariantCulture);
        var network = sampleShape.Length == 1 ? Mlp(settings, (int)sampleShape[0]) : Dcgan((int)sampleShape[0], (int)sampleShape[^1]);
        var shape = string.Join(", ", sampleShape);
        var kind = sampleShape.Length == 1 ? $"points of dimension {sampleShape[0]}, in the data's units" : $"images ({shape}) in [-1, 1]";
        return $$"""
            # The generator of an AkkaGan run, for PyTorch: written by `akkagan export` from the checkpoint of round {{metadata.Round}}
            # (dataset {{SettingValues.Kebab(settings.Dataset)}}, seed {{metadata.Seed}}). Its samples are {{kind}}.
            #   import {{Path.GetFileNameWithoutExtension(weightsFile)}} as g
            #   model = g.load()               # the weights beside this file ({{weightsFile}})
            #   x = g.sample(model, 16)        # 16 samples; g.sample(model, z=z) for your own noise (N, {{latent}})
            import os
            from collections import OrderedDict

            import torch
            import torch.nn as nn
            import torch.nn.functional as F

            LATENT_DIM = {{latent}}
            SAMPLE_SHAPE = ({{shape}},)
            WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "{{weightsFile}}")


            {{network}}

            def load(path=WEIGHTS, device="cpu"):
                "The generator with the exported weights (.safetensors needs the safetensors package; .pt only torch)."
                if path.endswith(".safetensors"):
                    from safetensors.torch import load_file
                    state = load_file(path, device=str(device))
                else:
                    state = torch.load(path, map_location=device)
                model = Generator()
                model.load_state_dict(state)
                return model.to(device)


            @torch.no_grad()
            def sample(model, n=None, z=None, seed=None):
                "n samples from standard normal noise (seeded by seed), or the samples of the given noise z (N, LATENT_DIM)."
                if z is None:
                    g = torch.Generator().manual_seed(seed) if seed is not None else None
                    z = torch.randn(n, LATENT_DIM, generator=g)
                device = next(model.parameters()).device
                # Batch norm takes each batch's own statistics, as AkkaGan does when it samples (model.eval() would use
                # the running averages instead).
                model.train()
                return model(z.to(device=device, dtype=torch.float32))

            """;
    }

    private static string Mlp(TrainingSettings settings, int outputDim)
    {
        var layers = new List<string>();
        var width = settings.LatentDim;
        for (var i = 0; i < settings.HiddenLayers; i++)
        {
            layers.Add($"(\"fc{i}\", nn.Linear({width}, {settings.HiddenUnits})), (\"relu{i}\", nn.ReLU())");
            width = settings.HiddenUnits;
        }
        layers.Add($"(\"out\", nn.Linear({width}, {outputDim}))");
        return $$"""
            class Generator(nn.Module):
                "MLP: z -> [Linear, ReLU] x {{settings.HiddenLayers}} -> Linear -> {{outputDim}}."

                def __init__(self):
                    super().__init__()
                    self.layers = nn.Sequential(OrderedDict([
                        {{string.Join(",\n            ", layers)}},
                    ]))

                def forward(self, z):
                    return self.layers(z)

            """;
    }

    private static string Dcgan(int channels, int size)
    {
        var (b, stages) = DcganShape.Of(size);
        var sides = Enumerable.Range(0, stages + 1).Select(i => b << i).ToArray();
        var path = string.Join(" -> ", sides.Select((side, i) => i == stages ? $"{channels}x{side}x{side}" : $"{64 << (stages - 1 - i)}x{side}x{side}"));
        return $$"""
            class Generator(nn.Module):
                "DCGAN-style: z -> {{path}} (each step: nearest x2, 3x3 conv), tanh."

                def __init__(self, width=64, channels={{channels}}, base={{b}}, stages={{stages}}):
                    super().__init__()
                    self.width, self.base, self.stages = width, base, stages
                    c0 = width << (stages - 1)
                    self.project = nn.Linear(LATENT_DIM, c0 * base * base)
                    self.bn0 = nn.BatchNorm1d(c0 * base * base)
                    for i in range(1, stages + 1):
                        c_in = width << (stages - i)
                        c_out = channels if i == stages else width << (stages - 1 - i)
                        setattr(self, f"up{i}", nn.Conv2d(c_in, c_out, 3, padding=1))
                        if i < stages:
                            setattr(self, f"bn{i}", nn.BatchNorm2d(c_out))

                def forward(self, z):
                    h = F.relu(self.bn0(self.project(z)))
                    h = h.view(-1, self.width << (self.stages - 1), self.base, self.base)
                    for i in range(1, self.stages):
                        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
                        h = F.relu(getattr(self, f"bn{i}")(getattr(self, f"up{i}")(h)))
                    h = F.interpolate(h, scale_factor=2.0, mode="nearest")
                    return torch.tanh(getattr(self, f"up{self.stages}")(h))

            """;
    }
}
