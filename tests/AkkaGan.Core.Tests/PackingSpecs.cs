using AkkaGan.Core.Models;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>PacGAN packing (<c>pack</c>): the discriminator judges consecutive samples jointly, and a step trains with it.</summary>
public sealed class PackingSpecs
{
    [Fact]
    public void A_packed_discriminator_should_judge_consecutive_points_as_one_concatenated_input()
    {
        using var scope = NewDisposeScope();
        var settings = new TrainingSettings { HiddenUnits = 8, Pack = 3 };
        using var packed = ModelFactory.CreateDiscriminator(settings, [2], 1.0, 0, CPU);
        Assert.Equal(3, packed.Pack);
        var x = randn(6, 2);
        var logits = packed.forward(x);
        Assert.Equal([2L], logits.shape);
        // The inner network sees (x0, x1, x2) and (x3, x4, x5) as 6-coordinate inputs.
        var manual = packed.Functional(x, packed.OrderedParameters);
        Assert.Equal(logits.data<float>().ToArray(), manual.data<float>().ToArray());
        Assert.Equal(6L, packed.OrderedParameters[0].shape[1]);
        Assert.Throws<ArgumentException>(() => packed.forward(randn(5, 2)));
        Assert.Contains("batch (10) must be a multiple of pack (3)", Assert.Throws<SettingsException>(() => (settings with { Batch = 10 }).Validate()).Message);
    }

    [Fact]
    public void Packed_images_should_stack_their_channels()
    {
        using var scope = NewDisposeScope();
        var settings = new TrainingSettings { Dataset = DatasetKind.FashionMnist, Pack = 2 };
        using var packed = ModelFactory.CreateDiscriminator(settings, [1, 28, 28], 1.0, 0, CPU);
        Assert.Equal(2L, packed.OrderedParameters[0].shape[1]);   // conv1 takes 2 x 1 channels
        Assert.Equal([3L], packed.forward(randn(6, 1, 28, 28)).shape);
    }

    [Fact]
    public void A_packed_member_should_train_and_give_the_generator_a_gradient_per_sample()
    {
        using var scope = NewDisposeScope();
        var settings = new TrainingSettings { Batch = 16, HiddenUnits = 8, LatentDim = 4, Pack = 4, Unroll = 2, R1Gamma = 1 }.Validate();
        using var member = new DiscriminatorCore(settings, 0, RunData.Create(settings), CPU);
        var fake = randn(16, 2);
        var step = member.TrainStep(1, 0, fake);
        Assert.True(double.IsFinite(step.Loss) && step.Penalty > 0, step.ToString());
        var feedback = member.Feedback(1, fake);
        Assert.Equal([16L, 2], feedback.Gradient.shape);
        Assert.True(feedback.Gradient.abs().sum().item<float>() > 0);
    }
}
