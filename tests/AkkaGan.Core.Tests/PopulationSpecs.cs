using AkkaGan.Core.Population;
using AkkaGan.Core.Settings;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class PopulationSpecs
{
    private static readonly double[] Losses = [0.2, 1.0, 0.5];

    [Fact]
    public void Mean_should_weigh_every_member_equally()
        => Assert.Equal([1 / 3.0, 1 / 3.0, 1 / 3.0], Aggregation.Weights(AggregationKind.Mean, Losses, 0));

    [Fact]
    public void Softmax_should_be_the_mean_at_lambda_zero_and_approach_max_for_large_lambda()
    {
        Assert.Equal(Aggregation.Weights(AggregationKind.Mean, Losses, 0), Aggregation.Weights(AggregationKind.Softmax, Losses, 0));
        var sharp = Aggregation.Weights(AggregationKind.Softmax, Losses, 200);
        Assert.True(sharp[1] > 0.999);
        var soft = Aggregation.Weights(AggregationKind.Softmax, Losses, 1);
        var expected = Losses.Select(Math.Exp).ToArray();
        for (var i = 0; i < 3; i++) Assert.Equal(expected[i] / expected.Sum(), soft[i], 12);
    }

    [Fact]
    public void Max_should_take_only_the_harshest_critic()
        => Assert.Equal([0.0, 1.0, 0.0], Aggregation.Weights(AggregationKind.Max, Losses, 0));

    [Fact]
    public void Combine_should_reduce_in_member_order_regardless_of_arrival()
    {
        GeneratorFeedback F(int member, double loss, float value) => new(member, loss, full(2, value));
        var arrived = new[] { F(2, 0.5, 3f), F(0, 0.2, 1f), F(1, 1.0, 2f) };
        var (gradient, loss) = Aggregation.Combine(AggregationKind.Mean, arrived, 0);
        Assert.Equal(2f, gradient[0].item<float>(), 6);
        Assert.Equal(Losses.Average(), loss, 12);
        var (maxGradient, maxLoss) = Aggregation.Combine(AggregationKind.Max, arrived, 0);
        Assert.Equal(2f, maxGradient[1].item<float>());
        Assert.Equal(1.0, maxLoss);
    }

    [Fact]
    public void Subset_should_draw_k_distinct_members_deterministically_per_round()
    {
        var settings = new TrainingSettings { Discriminators = 6, Aggregate = AggregationKind.Subset, SubsetSize = 3, Seed = 5 };
        int[] members = [0, 1, 2, 3, 4, 5];
        var first = Aggregation.SelectMembers(settings, members, 10);
        Assert.Equal(3, first.Distinct().Count());
        Assert.Equal(first, Aggregation.SelectMembers(settings, members, 10));
        var rounds = Enumerable.Range(1, 30).Select(r => string.Join(",", Aggregation.SelectMembers(settings, members, r))).Distinct().Count();
        Assert.True(rounds > 5, "the subset should change from round to round");
        Assert.Equal(members, Aggregation.SelectMembers(settings with { Aggregate = AggregationKind.Mean }, members, 10));
    }

    [Fact]
    public void Auc_should_be_one_for_separated_half_for_identical_and_zero_for_reversed_scores()
    {
        using var low = tensor(new[] { -2f, -1f, 0f });
        using var high = tensor(new[] { 1f, 2f, 3f });
        Assert.Equal(1.0, Evolution.Auc(high, low));
        Assert.Equal(0.0, Evolution.Auc(low, high));
        Assert.Equal(0.5, Evolution.Auc(low, low));
        using var mixed = tensor(new[] { 0.5f, -3f });
        Assert.Equal((3 + 0) / 6.0, Evolution.Auc(mixed, low), 12); // 0.5 beats all three, -3 beats none
    }

    [Fact]
    public void Rank_and_perturbation_should_pick_best_worst_and_scale_the_rate()
    {
        var (best, worst) = Evolution.Rank(new Dictionary<int, double> { [0] = 0.7, [1] = 0.9, [2] = 0.55 });
        Assert.Equal((1, 2), (best, worst));
        Assert.Equal(0.8e-3, Evolution.PerturbLearningRate(1e-3, 0.2, 0.1), 15);
        Assert.Equal(1.2e-3, Evolution.PerturbLearningRate(1e-3, 0.2, 0.9), 15);
    }
}
