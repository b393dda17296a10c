using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>The moving average of the generator's weights (<c>g-ema</c>): its update, what samples use, and checkpoints.</summary>
public sealed class GeneratorAverageSpecs
{
    private static readonly TrainingSettings Settings = new() { Batch = 16, HiddenUnits = 8, LatentDim = 4, GeneratorEma = 0.5 };

    private static void Step(GeneratorCore generator, long round)
    {
        using var scope = NewDisposeScope();
        using var fake = generator.BeginStep(round);
        generator.CompleteStep(round, ones_like(fake), 1.0);
    }

    private static float[] Flat(nn.Module module) => [.. module.parameters().SelectMany(p => p.detach().cpu().contiguous().data<float>().ToArray())];

    [Fact]
    public void The_average_should_follow_the_weights_by_its_decay_and_feed_the_samples()
    {
        using var generator = new GeneratorCore(Settings, [2], CPU);
        Assert.NotNull(generator.Average);
        Assert.Equal(Flat(generator.Model), Flat(generator.Average!));   // it starts at the initial weights
        var before = Flat(generator.Model);
        Step(generator, 1);
        var after = Flat(generator.Model);
        // The first update's decay is the warm-up's, min(0.5, 2 / 11): the initial weights fade at once.
        var d = (float)GeneratorCore.AverageDecay(0.5, 1);
        Assert.Equal(2.0 / 11, d, 6);
        Assert.Equal(0.5, GeneratorCore.AverageDecay(0.5, 1000));
        var expected = before.Zip(after, (a, w) => d * a + (1 - d) * w).ToArray();
        var average = Flat(generator.Average!);
        Assert.NotEqual(after, average);
        for (var i = 0; i < expected.Length; i++) Assert.Equal(expected[i], average[i], 1e-5);

        // Samples come from the average, training from the weights.
        Assert.Same(generator.Average, generator.SamplingModel);
        using var z = randn(5, 4);
        using var fromAverage = generator.Average!.forward(z);
        using var sampled = generator.Generate(z);
        Assert.Equal(fromAverage.data<float>().ToArray(), sampled.data<float>().ToArray());
        using var off = new GeneratorCore(Settings with { GeneratorEma = 0 }, [2], CPU);
        Assert.Null(off.Average);
        Assert.Same(off.Model, off.SamplingModel);
    }

    [Fact]
    public void A_checkpoint_should_carry_the_average_and_an_older_one_should_start_it_at_its_weights()
    {
        using var generator = new GeneratorCore(Settings, [2], CPU);
        for (var round = 1; round <= 3; round++) Step(generator, round);
        var snapshot = generator.Snapshot();
        Assert.Contains(snapshot.Tensors, t => t.Name == GeneratorCore.AveragePrefix + "layers.out.weight" || t.Name.StartsWith(GeneratorCore.AveragePrefix, StringComparison.Ordinal));

        using var restored = new GeneratorCore(Settings, [2], CPU);
        restored.Restore(snapshot);
        Assert.Equal(Flat(generator.Average!), Flat(restored.Average!));
        Assert.Equal(Flat(generator.Model), Flat(restored.Model));

        // A checkpoint of a run without the average, resumed with g-ema on: the average starts at its weights.
        var plain = snapshot with { Tensors = [.. snapshot.Tensors.Where(t => !t.Name.StartsWith(GeneratorCore.AveragePrefix, StringComparison.Ordinal))] };
        using var resumed = new GeneratorCore(Settings, [2], CPU);
        resumed.Restore(plain);
        Assert.Equal(Flat(resumed.Model), Flat(resumed.Average!));
        Assert.Throws<SettingsException>(() => (Settings with { GeneratorEma = 1 }).Validate());
    }
}
