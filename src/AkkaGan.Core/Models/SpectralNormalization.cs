using AkkaGan.Core.Tensors;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AkkaGan.Core.Models;

/// <summary>
/// Spectral normalization (Miyato et al., "Spectral Normalization for Generative Adversarial Networks", 2018): every
/// weight matrix W of the inner discriminator (a linear layer's, or a convolution's reshaped to out x rest) is used as
/// W / sigma(W), its largest singular value, so each layer is at most 1-Lipschitz. sigma comes from one power
/// iteration per training step: u (a buffer per weight, <c>u0</c>, <c>u1</c>, ...) estimates the top left singular
/// vector; v = W^T u / |W^T u|, sigma = u^T W v, differentiated through W with u and v held fixed, as in PyTorch's
/// <c>spectral_norm</c>. <see cref="UpdateEstimates"/> advances u once per optimizer step and nothing else does, so
/// the lookahead's copies, the penalties, the feedback and the fitness all see the same sigma estimate, and the
/// buffers travel in snapshots (both engines stay equal). Parameters are the inner network's, under <c>net.</c>,
/// initialised as without normalization.
/// </summary>
public sealed class SpectralNormDiscriminator : DiscriminatorNetwork
{
    private const double Epsilon = 1e-12;
    private readonly DiscriminatorNetwork net;
    private readonly int[] _normalized;

    /// <summary>Normalizes every weight of <paramref name="inner"/> with at least two dimensions; u starts as ones / sqrt(rows).</summary>
    public SpectralNormDiscriminator(DiscriminatorNetwork inner) : base(nameof(SpectralNormDiscriminator))
    {
        net = inner;
        RegisterComponents();
        var weights = inner.OrderedParameters;
        _normalized = [.. Enumerable.Range(0, weights.Count).Where(i => weights[i].dim() >= 2)];
        foreach (var i in _normalized)
        {
            var rows = weights[i].shape[0];
            register_buffer(BufferName(i), ones(rows).Div(Math.Sqrt(rows)).DetachFromDisposeScope());
        }
    }

    /// <inheritdoc/>
    public override int Pack => net.Pack;

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> OrderedParameters => net.OrderedParameters;

    /// <summary>Draws each u from <paramref name="generator"/> (normal, normalized), in weight order.</summary>
    public void InitialiseEstimates(Generator generator)
    {
        using var noGrad = no_grad();
        foreach (var i in _normalized)
        {
            var u = Estimate(i);
            using var draw = randn(u.shape, generator: generator);
            u.copy_(Normalize(draw.to(u.device)));
        }
    }

    /// <summary>One power iteration per normalized weight: u &lt;- W v / |W v| with v = W^T u / |W^T u|. Call once per optimizer step, before its forward passes.</summary>
    public override void UpdateEstimates()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weights = net.OrderedParameters;
        foreach (var i in _normalized)
        {
            var u = Estimate(i);
            var matrix = weights[i].reshape(weights[i].shape[0], -1);                    // (out, rest)
            var v = Normalize(matrix.t().mv(u));                                          // (rest)
            u.copy_(Normalize(matrix.mv(v)));                                             // (out)
        }
    }

    /// <summary>The current estimate of each normalized weight's largest singular value (weight order).</summary>
    public double[] SingularValues()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var weights = net.OrderedParameters;
        return [.. _normalized.Select(i => Sigma(weights[i], Estimate(i)).AsDouble())];
    }

    /// <inheritdoc/>
    public override Tensor Functional(Tensor input, IReadOnlyList<Tensor> weights)
    {
        var scaled = weights.ToArray();
        foreach (var i in _normalized) scaled[i] = weights[i].div(Sigma(weights[i], Estimate(i)));
        return net.Functional(input, scaled);
    }

    private static Tensor Sigma(Tensor weight, Tensor u)
    {
        var matrix = weight.reshape(weight.shape[0], -1);                                 // (out, rest)
        Tensor v;
        using (no_grad()) v = Normalize(matrix.t().mv(u));                                // (rest), held fixed
        return u.dot(matrix.mv(v));                                                       // scalar, differentiable in W
    }

    private static Tensor Normalize(Tensor x) => x.div(x.norm().Add(Epsilon));

    private Tensor Estimate(int weight) => get_buffer(BufferName(weight))!;

    private static string BufferName(int weight) => $"u{weight}";
}
