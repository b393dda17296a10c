using AkkaGan.Core.Settings;

namespace AkkaGan.Core.Tests;

public sealed class SettingsSpecs
{
    [Fact]
    public void Defaults_should_be_valid()
        => new TrainingSettings().Validate();

    [Theory]
    [InlineData("rounds")]
    [InlineData("batch")]
    [InlineData("n-critic")]
    [InlineData("discriminators")]
    [InlineData("lr-g")]
    public void Non_positive_sizes_should_be_rejected_naming_the_key(string key)
    {
        var settings = key switch
        {
            "rounds" => new TrainingSettings { Rounds = 0 },
            "batch" => new TrainingSettings { Batch = -1 },
            "n-critic" => new TrainingSettings { NCritic = 0 },
            "discriminators" => new TrainingSettings { Discriminators = 0 },
            _ => new TrainingSettings { LrG = double.NaN },
        };
        var e = Assert.Throws<SettingsException>(() => settings.Validate());
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void A_Wasserstein_critic_without_a_Lipschitz_constraint_should_be_rejected()
    {
        var e = Assert.Throws<SettingsException>(() => new TrainingSettings { Loss = LossKind.Wasserstein }.Validate());
        Assert.Contains("clip", e.Message);
        Assert.Contains("gradient-penalty", e.Message);
        new TrainingSettings { Loss = LossKind.Wasserstein, GradientPenalty = 10 }.Validate();
        new TrainingSettings { Loss = LossKind.Wasserstein, ClipValue = 0.01 }.Validate();
    }

    [Fact]
    public void Invalid_combinations_should_each_be_named()
    {
        var e = Assert.Throws<SettingsException>(() => new TrainingSettings
        {
            Aggregate = AggregationKind.Subset, SubsetSize = 4, Discriminators = 2, EvolveEvery = 0, ClipValue = 0.01, GradientPenalty = 1,
        }.Validate());
        Assert.Contains("subset-size", e.Message);
        Assert.Contains("set only one", e.Message);
        Assert.Equal(2, e.Problems.Count);
        Assert.Contains("evolve-every", Assert.Throws<SettingsException>(() => new TrainingSettings { EvolveEvery = 10 }.Validate()).Message);
    }
}
