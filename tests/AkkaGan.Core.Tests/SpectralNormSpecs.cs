using AkkaGan.Core.Models;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>Spectral normalization (<c>spectral-norm</c>): the estimates converge to the largest singular values, the layers become 1-Lipschitz, and the estimates travel in snapshots.</summary>
public sealed class SpectralNormSpecs
{
    private static readonly TrainingSettings Settings = new() { Batch = 16, HiddenUnits = 32, LatentDim = 4, Unroll = 2, SpectralNorm = true };

    [Fact]
    public void Its_estimates_should_converge_to_each_weights_largest_singular_value()
    {
        using var scope = NewDisposeScope();
        using var network = (SpectralNormDiscriminator)ModelFactory.CreateDiscriminator(Settings, [2], 1.0, 0, CPU);
        for (var i = 0; i < 200; i++) network.UpdateEstimates();
        var exact = network.OrderedParameters.Where(p => p.dim() >= 2)
            .Select(p => linalg.matrix_norm(p.detach().reshape(p.shape[0], -1), ord: 2).item<float>()).ToArray();
        var estimated = network.SingularValues();
        Assert.Equal(exact.Length, estimated.Length);
        for (var i = 0; i < exact.Length; i++) Assert.InRange(estimated[i] / exact[i], 0.999, 1.001);
    }

    [Fact]
    public void A_normalized_mlp_should_change_its_logit_by_at_most_the_distance_of_its_inputs()
    {
        using var scope = NewDisposeScope();
        using var network = (SpectralNormDiscriminator)ModelFactory.CreateDiscriminator(Settings, [2], 1.0, 0, CPU);
        for (var i = 0; i < 200; i++) network.UpdateEstimates();
        using var noGrad = no_grad();
        var a = randn(500, 2) * 3;
        var b = randn(500, 2) * 3;
        var ratio = (network.forward(a) - network.forward(b)).abs().div((a - b).norm(1)).max().item<float>();   // ReLU layers of norm 1: 1-Lipschitz
        Assert.InRange(ratio, 0f, 1.001f);
        using var plain = ModelFactory.CreateDiscriminator(Settings with { SpectralNorm = false }, [2], 1.0, 0, CPU);
        Assert.Equal(plain.OrderedParameters[0].data<float>().ToArray(), network.OrderedParameters[0].data<float>().ToArray());   // same initial weights
    }

    [Fact]
    public void A_step_should_advance_the_estimates_that_the_snapshot_carries_and_the_lookahead_leave_them()
    {
        using var scope = NewDisposeScope();
        var data = RunData.Create(Settings);
        using var member = new DiscriminatorCore(Settings, 0, data, CPU);
        var before = member.Snapshot().Tensors.Single(t => t.Name == "model/u0").Payload.Data;
        var fake = randn(16, 2);
        member.Feedback(1, fake);
        Assert.Equal(before, member.Snapshot().Tensors.Single(t => t.Name == "model/u0").Payload.Data);   // the lookahead does not advance them
        var step = member.TrainStep(1, 0, fake);
        Assert.True(double.IsFinite(step.Loss), step.ToString());
        var after = member.Snapshot();
        Assert.NotEqual(before, after.Tensors.Single(t => t.Name == "model/u0").Payload.Data);

        using var other = new DiscriminatorCore(Settings, 0, data, CPU);
        other.Restore(after);
        Assert.Equal(member.Feedback(2, fake).Gradient.data<float>().ToArray(), other.Feedback(2, fake).Gradient.data<float>().ToArray());
        using var plain = new DiscriminatorCore(Settings with { SpectralNorm = false }, 0, data, CPU);
        Assert.Throws<Checkpoints.CheckpointException>(() => plain.Restore(after));   // its tensors are named net.*, with u0, u1, ...
    }
}
