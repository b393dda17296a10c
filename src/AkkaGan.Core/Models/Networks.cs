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

    /// <summary>Samples judged jointly per logit (PacGAN's packing degree; 1: each sample alone). N samples give N / Pack logits.</summary>
    public virtual int Pack => 1;

    /// <summary>Advances whatever estimates the forward pass normalizes with (spectral normalization's power iteration); once per optimizer step.</summary>
    public virtual void UpdateEstimates() { }
}

/// <summary>
/// PacGAN (Lin et al., "PacGAN: The power of two samples in generative adversarial networks", 2018): the inner
/// discriminator judges <see cref="Pack"/> samples at once, concatenated (points: their coordinates, images: their
/// channels), so a generator that repeats itself is told apart from data at the level of the pack. Consecutive rows
/// form a pack: (N, ...) -> (N / m, m x ...). Its parameters are the inner network's, under <c>net.</c>.
/// </summary>
public sealed class PackedDiscriminator : DiscriminatorNetwork
{
    private readonly DiscriminatorNetwork net;
    private readonly int _pack;

    /// <summary>Packs of <paramref name="pack"/> samples into <paramref name="inner"/>, built for packed inputs (m x d coordinates, or m x C channels).</summary>
    public PackedDiscriminator(DiscriminatorNetwork inner, int pack) : base(nameof(PackedDiscriminator))
    {
        if (pack < 2) throw new ArgumentOutOfRangeException(nameof(pack), pack, "packing needs at least 2 samples per pack");
        net = inner;
        _pack = pack;
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override int Pack => _pack;

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> OrderedParameters => net.OrderedParameters;

    /// <inheritdoc/>
    public override void UpdateEstimates() => net.UpdateEstimates();

    /// <inheritdoc/>
    public override Tensor Functional(Tensor input, IReadOnlyList<Tensor> weights)
    {
        if (input.shape[0] % _pack != 0) throw new ArgumentException($"{input.shape[0]} samples do not make packs of {_pack}", nameof(input));
        var packs = input.shape[0] / _pack;
        var packed = input.dim() == 2
            ? input.reshape(packs, _pack * input.shape[1])                                          // (N/m, m*d)
            : input.reshape([packs, _pack * input.shape[1], .. input.shape.Skip(2)]);               // (N/m, m*C, H, W)
        return net.Functional(packed, weights);                                                     // (N/m)
    }
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
/// DCGAN-style generator for SxS images with C channels, sized for CPU training. For 28x28:
/// z -> 128x7x7 -> 64x14x14 -> Cx28x28 (tanh); a larger size starts from 4x4 (or 7x7) maps with twice the channels per
/// extra doubling (32x32: 256x4x4 -> 128x8x8 -> 64x16x16 -> Cx32x32). Each doubling is a nearest-neighbour
/// upsampling followed by a 3x3 convolution rather than a stride-2 transposed convolution, whose uneven kernel overlap
/// printed stripe and checkerboard artefacts into every sample (Odena et al., "Deconvolution and Checkerboard
/// Artifacts", 2016). Modules: <c>project</c>, <c>bn0</c>, then <c>up1</c>, <c>bn1</c>, ..., <c>upK</c>.
/// </summary>
public sealed class DcganGenerator : nn.Module<Tensor, Tensor>
{
    private readonly Linear project;
    private readonly BatchNorm bn0;
    private readonly Conv2d[] ups;
    private readonly BatchNorm[] bns;

    /// <summary>
    /// The DCGAN generator: a projection of <paramref name="latentDim"/> noise to the base maps, one upsampling stage per
    /// doubling to <paramref name="size"/>, <paramref name="channels"/> tanh outputs; <paramref name="width"/> channels in the
    /// last hidden stage.
    /// </summary>
    public DcganGenerator(int latentDim, int channels, int width = 64, int size = 28) : base(nameof(DcganGenerator))
    {
        (Base, Stages) = DcganShape.Of(size);
        Width = width;
        Size = size;
        project = nn.Linear(latentDim, StageChannels(0) * Base * Base);
        bn0 = new BatchNorm(StageChannels(0) * Base * Base, dimensions: 2);
        register_module("project", project);
        register_module("bn0", bn0);
        ups = new Conv2d[Stages];
        bns = new BatchNorm[Stages - 1];
        for (var i = 1; i <= Stages; i++)
        {
            ups[i - 1] = nn.Conv2d(StageChannels(i - 1), i == Stages ? channels : StageChannels(i), 3, padding: 1);
            register_module($"up{i}", ups[i - 1]);
            if (i == Stages) continue;
            bns[i - 1] = new BatchNorm(StageChannels(i), dimensions: 4);
            register_module($"bn{i}", bns[i - 1]);
        }
    }

    /// <summary>Channels of the last hidden stage (each earlier stage has twice as many).</summary>
    public int Width { get; }
    /// <summary>The side of the images.</summary>
    public int Size { get; }
    /// <summary>The side of the projected maps (4 or 7).</summary>
    public int Base { get; }
    /// <summary>The upsampling stages (doublings from the base to the size).</summary>
    public int Stages { get; }

    /// <summary>Channels entering stage <paramref name="stage"/> + 1 (0: the projection's maps).</summary>
    private int StageChannels(int stage) => Width << (Stages - 1 - stage);

    /// <summary>Images (N, channels, S, S) in [-1, 1] of noise <paramref name="z"/> (N, latentDim).</summary>
    public override Tensor forward(Tensor z)
    {
        var h = nn.functional.relu(bn0.forward(project.forward(z)));                 // (N, c0*b*b)
        h = h.view(-1, StageChannels(0), Base, Base);                                 // (N, c0, b, b)
        for (var i = 0; i < Stages - 1; i++)
            h = nn.functional.relu(bns[i].forward(ups[i].forward(Double(h))));      // (N, c_i+1, 2x, 2x)
        return AsTransposed(ups[^1], Double(h)).tanh();                               // (N, C, S, S)
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
/// DCGAN-style discriminator for SxS images: one strided 4x4 convolution per halving down to 4x4 (or 7x7) maps, with
/// twice the channels each time, then a linear head. For 28x28: Cx28x28 -> 64x14x14 -> 128x7x7 -> 1 logit.
/// LeakyReLU(0.2), no batch norm (gradient penalties and the functional lookahead want a per-sample critic). Modules:
/// <c>conv1</c>, ..., <c>convK</c>, <c>head</c>.
/// </summary>
public sealed class DcganDiscriminator : DiscriminatorNetwork
{
    private readonly Conv2d[] convs;
    private readonly Linear head;

    /// <summary>
    /// The DCGAN discriminator of <paramref name="channels"/>-channel <paramref name="size"/>x<paramref name="size"/> images:
    /// strided 4x4 convolutions (<paramref name="width"/> channels, then twice as many per halving) and a linear head.
    /// </summary>
    public DcganDiscriminator(int channels, int width = 64, int size = 28) : base(nameof(DcganDiscriminator))
    {
        var (b, stages) = DcganShape.Of(size);
        convs = new Conv2d[stages];
        for (var i = 0; i < stages; i++)
        {
            convs[i] = nn.Conv2d(i == 0 ? channels : width << (i - 1), width << i, 4, stride: 2, padding: 1);
            register_module($"conv{i + 1}", convs[i]);
        }
        head = nn.Linear((width << (stages - 1)) * b * b, 1);
        register_module("head", head);
    }

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> OrderedParameters => [.. convs.SelectMany(c => new[] { c.weight!, c.bias! }), head.weight!, head.bias!];

    /// <inheritdoc/>
    public override Tensor Functional(Tensor input, IReadOnlyList<Tensor> weights)
    {
        var h = input;
        for (var i = 0; i < convs.Length; i++)
            h = nn.functional.conv2d(h, weights[2 * i], weights[2 * i + 1], strides: [2, 2], padding: [1, 1]).LeakyRelu(0.2);   // (N, w*2^i, S/2^(i+1), ...)
        return nn.functional.linear(h.flatten(1), weights[^2], weights[^1]).squeeze(-1);                                       // (N)
    }
}

/// <summary>How the DCGANs reach an image size: base maps of 4x4 or 7x7 doubled some number of times.</summary>
public static class DcganShape
{
    /// <summary>The base side and the doublings of <paramref name="size"/> (one of <c>TrainingSettings.ImageSizes</c>).</summary>
    public static (int Base, int Stages) Of(int size)
    {
        foreach (var b in new[] { 7, 4 })
        {
            var stages = 0;
            var side = size;
            while (side > b && side % 2 == 0)
            {
                side /= 2;
                stages++;
            }
            if (side == b && stages >= 2) return (b, stages);
        }
        throw new ArgumentOutOfRangeException(nameof(size), size, "an image side must be 4 or 7 doubled at least twice (16, 28, 32, 56, 64, 112, 128, ...)");
    }
}
