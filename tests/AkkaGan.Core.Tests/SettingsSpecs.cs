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

    [Fact]
    public void A_member_should_train_with_its_overrides_and_the_runs_other_values()
    {
        var settings = new TrainingSettings
        {
            Discriminators = 3, LrD = 1e-3, R1Gamma = 0.5,
            Members = [new() { Loss = LossKind.Hinge, LrD = 5e-4 }, new() { R1Gamma = 2 }],
        }.Validate();
        Assert.Equal((LossKind.Hinge, 5e-4, 0.5), (settings.ForMember(0).Loss, settings.ForMember(0).LrD, settings.ForMember(0).R1Gamma));
        Assert.Equal((LossKind.NonSaturating, 1e-3, 2.0), (settings.ForMember(1).Loss, settings.ForMember(1).LrD, settings.ForMember(1).R1Gamma));
        Assert.Equal(settings, settings.ForMember(2)); // no entry: the run's values
        Assert.Empty(settings.ForMember(0).Members);
    }

    [Fact]
    public void Member_overrides_should_be_validated_per_member_and_against_the_population_size()
    {
        var e = Assert.Throws<SettingsException>(() => new TrainingSettings
        {
            Discriminators = 2, Members = [new(), new() { Loss = LossKind.Wasserstein }],
        }.Validate());
        Assert.Contains("population.members[1] (d-1): loss=wasserstein needs a Lipschitz constraint", e.Message);

        e = Assert.Throws<SettingsException>(() => new TrainingSettings { Discriminators = 1, Members = [new(), new()] }.Validate());
        Assert.Contains("population.members has 2 entries but discriminators = 1", e.Message);

        e = Assert.Throws<SettingsException>(() => new TrainingSettings { Discriminators = 1, Members = [new() { LrD = -1 }] }.Validate());
        Assert.Contains("population.members[0] (d-0): lr-d must be a positive number", e.Message);
    }
}
