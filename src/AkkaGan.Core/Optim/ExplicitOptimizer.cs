using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Optim;

/// <summary>
/// Adam or SGD with explicit, inspectable state. We own the optimizer (instead of torch.optim) so that: the unrolled
/// lookahead can take the very same update functionally (differentiably) starting from the real moments; the state is
/// plain tensors that the checkpoint codec writes and the population copies D -> D; the learning rate can change live.
/// The in-place step reproduces torch.optim.Adam (bias-corrected, eps outside the sqrt) exactly.
/// </summary>
public sealed class ExplicitOptimizer : IDisposable
{
    private readonly IReadOnlyList<Tensor> _parameters;
    private readonly Tensor[] _m;
    private readonly Tensor[] _v;

    /// <summary>An optimizer of <paramref name="parameters"/> with zeroed moments and step count 0.</summary>
    public ExplicitOptimizer(IReadOnlyList<Tensor> parameters, OptimizerKind kind, double learningRate, double beta1, double beta2, double eps = 1e-8)
    {
        _parameters = parameters;
        Kind = kind;
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        _m = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
        _v = parameters.Select(p => zeros_like(p).DetachFromDisposeScope()).ToArray();
    }

    /// <summary>Adam or SGD.</summary>
    public OptimizerKind Kind { get; }
    /// <summary>The base learning rate (what evolution perturbs and checkpoints keep).</summary>
    public double LearningRate { get; set; }
    /// <summary>Schedule multiplier applied on top of <see cref="LearningRate"/> (set each round by the trainer; 1 = none).</summary>
    public double Scale { get; set; } = 1.0;
    /// <summary>The learning rate a step uses: <see cref="LearningRate"/> x <see cref="Scale"/>.</summary>
    public double EffectiveLearningRate => LearningRate * Scale;
    /// <summary>Adam's beta1.</summary>
    public double Beta1 { get; }
    /// <summary>Adam's beta2.</summary>
    public double Beta2 { get; }
    /// <summary>Adam's epsilon.</summary>
    public double Eps { get; }
    /// <summary>Number of steps taken (Adam's t).</summary>
    public long Steps { get; set; }
    /// <summary>Adam's first moments, one per parameter (checkpointed).</summary>
    public IReadOnlyList<Tensor> FirstMoments => _m;
    /// <summary>Adam's second moments, one per parameter (checkpointed).</summary>
    public IReadOnlyList<Tensor> SecondMoments => _v;

    /// <summary>One in-place step on the parameters' .grad (parameters without a gradient are skipped).</summary>
    public void Step()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Steps++;
        var (bc1, bc2) = (1 - Math.Pow(Beta1, Steps), 1 - Math.Pow(Beta2, Steps));
        for (var i = 0; i < _parameters.Count; i++)
        {
            var p = _parameters[i];
            var g = p.grad;
            if (g is null) continue;
            if (Kind == OptimizerKind.Sgd)
            {
                p.AddInPlace(g, -EffectiveLearningRate);
                continue;
            }
            _m[i].MulInPlace(Beta1).AddInPlace(g, 1 - Beta1);
            _v[i].MulInPlace(Beta2).AddcmulInPlace(g, g, 1 - Beta2);
            var denom = _v[i].sqrt().Div(Math.Sqrt(bc2)).AddInPlace(Eps);
            p.AddcdivInPlace(_m[i], denom, -EffectiveLearningRate / bc1);
        }
    }

    /// <summary>Clears the parameters' gradients.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            var g = p.grad;
            if (g is not null) { g.detach_(); g.zero_(); }
        }
    }

    /// <summary>The optimizer's state at the start of a functional (lookahead) trajectory.</summary>
    public FunctionalState StartFunctional() => new([.. _m], [.. _v], Steps);

    /// <summary>
    /// The same update as <see cref="Step"/>, out of place: new weights and state as tensors that keep the autograd
    /// graph (for second-order unrolling) when the inputs do.
    /// </summary>
    public (Tensor[] Weights, FunctionalState State) FunctionalStep(IReadOnlyList<Tensor> weights, IReadOnlyList<Tensor> gradients, FunctionalState state)
    {
        var next = new Tensor[weights.Count];
        if (Kind == OptimizerKind.Sgd)
        {
            for (var i = 0; i < weights.Count; i++) next[i] = weights[i] - gradients[i].Mul(EffectiveLearningRate);
            return (next, state with { Steps = state.Steps + 1 });
        }
        var steps = state.Steps + 1;
        var (bc1, bc2) = (1 - Math.Pow(Beta1, steps), 1 - Math.Pow(Beta2, steps));
        var m = new Tensor[weights.Count];
        var v = new Tensor[weights.Count];
        for (var i = 0; i < weights.Count; i++)
        {
            m[i] = state.M[i].Mul(Beta1).AddInPlace(gradients[i], 1 - Beta1);                // b1 m + (1 - b1) g
            v[i] = state.V[i].Mul(Beta2).AddcmulInPlace(gradients[i], gradients[i], 1 - Beta2);  // b2 v + (1 - b2) g^2
            // clamp_min keeps sqrt differentiable where a gradient entry is exactly 0 (dead ReLU units): d sqrt(v)/dv
            // is infinite at 0 and would turn the second-order gradient into NaN. Below 1e-30 the value differs from
            // the in-place step by less than 1e-15, far under eps.
            var denom = v[i].ClampMin(1e-30).Mul(1 / bc2).sqrt().Add(Eps);  // no in-place op after sqrt: its output is saved for backward
            next[i] = weights[i].Addcdiv(m[i], denom, -EffectiveLearningRate / bc1);
        }
        return (next, new FunctionalState(m, v, steps));
    }

    /// <summary>Copies moments and step count from another optimizer over parameters of the same shapes.</summary>
    public void CopyStateFrom(ExplicitOptimizer other)
    {
        using var noGrad = no_grad();
        for (var i = 0; i < _m.Length; i++)
        {
            _m[i].copy_(other._m[i]);
            _v[i].copy_(other._v[i]);
        }
        Steps = other.Steps;
    }

    /// <summary>Disposes the moment tensors.</summary>
    public void Dispose()
    {
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }

    /// <summary>Optimizer state along a functional trajectory.</summary>
    public sealed record FunctionalState(IReadOnlyList<Tensor> M, IReadOnlyList<Tensor> V, long Steps);
}
