using AkkaGan.Core.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AkkaGan.Core.Models;

/// <summary>
/// A discriminator whose forward pass is a pure function of an explicit weight list, so the unrolled lookahead can
/// evaluate it on differentiable copies of its weights (TorchSharp has no functional_call). The module's own
/// <c>forward</c> is that same function applied to <see cref="OrderedParameters"/>, so the two cannot drift apart.
/// </summary>
public abstract class DiscriminatorNetwork : nn.Module<Tensor, Tensor>
{
    /// <summary>A module named <paramref name="name"/>.</summary>
    protected DiscriminatorNetwork(string name) : base(name) { }

    /// <summary>The parameters in the order <see cref="Functional"/> expects them.</summary>
    public abstract IReadOnlyList<Parameter> OrderedParameters { get; }

    /// <summary>Logits (N) of the inputs under the given weights (same order and shapes as <see cref="OrderedParameters"/>).</summary>
    public abstract Tensor Functional(Tensor input, IReadOnlyList<Tensor> weights);

    /// <summary>Logits (N) of <paramref name="input"/> under the module's own weights.</summary>
    public override Tensor forward(Tensor input) => Functional(input, OrderedParameters);
}

/// <summary>MLP generator for 2-D data (Unrolled-GAN toy setup): z -> [hidden ReLU] x layers -> 2.</summary>
public sealed class MlpGenerator : nn.Module<Tensor, Tensor>
{
    private readonly Sequential layers;

    /// <summary>
    /// An MLP from <paramref name="latentDim"/> noise to <paramref name="outputDim"/> outputs with <paramref name="hiddenLayers"/> ReLU
    /// layers of <paramref name="hidden"/> units.
    /// </summary>
    public MlpGenerator(int latentDim, int hidden, int hiddenLayers, int outputDim) : base(nameof(MlpGenerator))
    {
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        var width = latentDim;
        for (var i = 0; i < hiddenLayers; i++)
        {
            modules.Add(($"fc{i}", nn.Linear(width, hidden)));   // (N, hidden)
            modules.Add(($"relu{i}", nn.ReLU()));
            width = hidden;
        }
        modules.Add(("out", nn.Linear(width, outputDim)));      // (N, 2)
        layers = nn.Sequential(modules);
        RegisterComponents();
    }

    /// <summary>Samples (N, outputDim) of noise <paramref name="z"/> (N, latentDim).</summary>
    public override Tensor forward(Tensor z) => layers.forward(z);
}

/// <summary>MLP discriminator for 2-D data: x / extent -> [hidden ReLU] x layers -> 1 logit.</summary>
public sealed class MlpDiscriminator : DiscriminatorNetwork
{
    private readonly ModuleList<Linear> layers;
    private readonly float _inputScale;

    /// <param name="inputScale">Inputs are multiplied by this (1 / data extent) so all datasets reach D at unit scale.</param>
    public MlpDiscriminator(int inputDim, int hidden, int hiddenLayers, double inputScale) : base(nameof(MlpDiscriminator))
    {
        var list = new List<Linear>();
        var width = inputDim;
        for (var i = 0; i < hiddenLayers; i++)
        {
            list.Add(nn.Linear(width, hidden));
            width = hidden;
        }
        list.Add(nn.Linear(width, 1));
        layers = nn.ModuleList(list.ToArray());
        _inputScale = (float)inputScale;
        RegisterComponents();
    }

    // Read from the layers on every access: Module.to(device/dtype) replaces the parameter objects.
    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> OrderedParameters => [.. layers.SelectMany(l => new[] { l.weight!, l.bias! })];

    /// <inheritdoc/>
    public override Tensor Functional(Tensor input, IReadOnlyList<Tensor> weights)
    {
        var h = input.Mul(_inputScale);                                     // (N, 2)
        var last = weights.Count / 2 - 1;
        for (var i = 0; i < last; i++)
            h = nn.functional.relu(nn.functional.linear(h, weights[2 * i], weights[2 * i + 1]));   // (N, hidden)
        return nn.functional.linear(h, weights[2 * last], weights[2 * last + 1]).squeeze(-1);     // (N)
    }
}

/// <summary>
/// DCGAN-style generator for 28x28 images with C channels, sized for CPU training:
/// z -> 128x7x7 -> 64x14x14 -> Cx28x28 (tanh). Each doubling is a nearest-neighbour upsampling followed by a 3x3
/// convolution rather than a stride-2 transposed convolution, whose uneven kernel overlap printed stripe and
/// checkerboard artefacts into every sample (Odena et al., "Deconvolution and Checkerboard Artifacts", 2016).
/// </summary>
public sealed class DcganGenerator : nn.Module<Tensor, Tensor>
{
    private readonly Linear project;
    private readonly BatchNorm1d bn0;
    private readonly Conv2d up1;
    private readonly BatchNorm2d bn1;
    private readonly Conv2d up2;

    /// <summary>
    /// The DCGAN generator: a projection of <paramref name="latentDim"/> noise to 7x7 maps, two upsampling stages to 28x28,
    /// <paramref name="channels"/> tanh outputs; <paramref name="width"/> channels in the last hidden stage.
    /// </summary>
    public DcganGenerator(int latentDim, int channels, int width = 64) : base(nameof(DcganGenerator))
    {
        Width = width;
        project = nn.Linear(latentDim, 2 * width * 7 * 7);
        bn0 = nn.BatchNorm1d(2 * width * 7 * 7);
        up1 = nn.Conv2d(2 * width, width, 3, padding: 1);
        bn1 = nn.BatchNorm2d(width);
        up2 = nn.Conv2d(width, channels, 3, padding: 1);
        RegisterComponents();
    }

    /// <summary>Channels of the last hidden stage (the projection has twice as many).</summary>
    public int Width { get; }

    /// <summary>Images (N, channels, 28, 28) in [-1, 1] of noise <paramref name="z"/> (N, latentDim).</summary>
    public override Tensor forward(Tensor z)
    {
        var h = nn.functional.relu(bn0.forward(project.forward(z)));     // (N, 2w*7*7)
        h = h.view(-1, 2 * Width, 7, 7);                                 // (N, 2w, 7, 7)
        h = nn.functional.relu(bn1.forward(up1.forward(Double(h))));    // (N, w, 14, 14)
        return AsTransposed(up2, Double(h)).tanh();                      // (N, C, 28, 28)
    }

    /// <summary>
    /// <paramref name="conv"/> (3x3, padding 1) as the transposed convolution it equals: the kernel flipped and its
    /// channel axes swapped. libtorch 2.10's CPU conv2d backward left part of the input gradient unwritten for this
    /// layer's few output channels: the generator's gradient was NaN in about 1 of 300 identical steps (whenever the
    /// memory it reused held a NaN pattern), which the divergence guard then rolled back. conv_transpose2d's input
    /// gradient is a conv2d forward, which writes all of it: no NaN in 3,000 steps of each shape (batch 8 and 64; 1 and
    /// 3 channels). The weights keep conv2d's layout and names (checkpoints, <c>akkagan export</c>); the outputs equal
    /// conv2d's to float round-off.
    /// </summary>
    private static Tensor AsTransposed(Conv2d conv, Tensor input)
        => nn.functional.conv_transpose2d(input, conv.weight!.transpose(0, 1).flip(2, 3), conv.bias, padding: [1, 1]);

    private static Tensor Double(Tensor h) => nn.functional.interpolate(h, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
}

/// <summary>
/// DCGAN-style discriminator for 28x28 images: Cx28x28 -> 64x14x14 -> 128x7x7 -> 1 logit, LeakyReLU(0.2), no batch
/// norm (gradient penalties and the functional lookahead want a per-sample critic).
/// </summary>
public sealed class DcganDiscriminator : DiscriminatorNetwork
{
    private readonly Conv2d conv1;
    private readonly Conv2d conv2;
    private readonly Linear head;

    /// <summary>
    /// The DCGAN discriminator of <paramref name="channels"/>-channel 28x28 images: two strided 4x4 convolutions (<paramref name="width"/>
    /// and twice as many channels) and a linear head.
    /// </summary>
    public DcganDiscriminator(int channels, int width = 64) : base(nameof(DcganDiscriminator))
    {
        conv1 = nn.Conv2d(channels, width, 4, stride: 2, padding: 1);
        conv2 = nn.Conv2d(width, 2 * width, 4, stride: 2, padding: 1);
        head = nn.Linear(2 * width * 7 * 7, 1);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> OrderedParameters => [conv1.weight!, conv1.bias!, conv2.weight!, conv2.bias!, head.weight!, head.bias!];

    /// <inheritdoc/>
    public override Tensor Functional(Tensor input, IReadOnlyList<Tensor> weights)
    {
        var h = nn.functional.conv2d(input, weights[0], weights[1], strides: [2, 2], padding: [1, 1]).LeakyRelu(0.2);   // (N, w, 14, 14)
        h = nn.functional.conv2d(h, weights[2], weights[3], strides: [2, 2], padding: [1, 1]).LeakyRelu(0.2);          // (N, 2w, 7, 7)
        return nn.functional.linear(h.flatten(1), weights[4], weights[5]).squeeze(-1);                                                  // (N)
    }
}
