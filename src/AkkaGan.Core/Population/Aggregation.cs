using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Population;

/// <summary>One discriminator's answer in the generator step: its generator loss L_i and dL_i/dx_fake.</summary>
public sealed record GeneratorFeedback(int Member, double Loss, Tensor Gradient);

/// <summary>
/// Combines the feedback of several discriminators into the gradient the generator back-propagates
/// (GMAN, Durugkar et al. 2017): the mean, a softmax over the losses with temperature lambda (lambda = 0 is the mean,
/// lambda -> infinity the max), the harshest critic only, or the mean of a seeded random subset of k.
/// </summary>
public static class Aggregation
{
    /// <summary>
    /// Which members take part in the generator step of a round: all of them, except for <c>subset</c> where k are
    /// drawn without replacement from a seed of (base seed, round). Sorted by member id.
    /// </summary>
    public static int[] SelectMembers(TrainingSettings settings, IReadOnlyList<int> members, long round)
    {
        if (settings.Aggregate != AggregationKind.Subset || settings.SubsetSize >= members.Count)
            return [.. members.Order()];
        using var scope = NewDisposeScope();
        using var generator = Seeds.Generator(settings.Seed, round, SeedRole.Coordinator, 0, SeedPurpose.Subset);
        var permutation = randperm(members.Count, generator: generator).data<long>().ToArray();
        return [.. permutation.Take(settings.SubsetSize).Select(i => members[(int)i]).Order()];
    }

    /// <summary>The weights w_i (summing to 1) the aggregate gives each feedback, in the given order.</summary>
    public static double[] Weights(AggregationKind kind, IReadOnlyList<double> losses, double lambda)
    {
        var n = losses.Count;
        if (n == 0) throw new ArgumentException("no feedback to aggregate", nameof(losses));
        var weights = new double[n];
        switch (kind)
        {
            case AggregationKind.Mean:
            case AggregationKind.Subset:
                Array.Fill(weights, 1.0 / n);
                break;
            case AggregationKind.Max:
                var best = 0;
                for (var i = 1; i < n; i++) if (losses[i] > losses[best]) best = i;
                weights[best] = 1;
                break;
            case AggregationKind.Softmax:
                var max = losses.Max();
                var sum = 0.0;
                for (var i = 0; i < n; i++) sum += weights[i] = Math.Exp(lambda * (losses[i] - max));
                for (var i = 0; i < n; i++) weights[i] /= sum;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown aggregation");
        }
        return weights;
    }

    /// <summary>
    /// sum_i w_i dL_i/dx over feedback sorted by member id (a fixed reduction order keeps results independent of
    /// arrival order). Returns the aggregated gradient and the equally weighted generator loss.
    /// </summary>
    public static (Tensor Gradient, double Loss) Combine(AggregationKind kind, IReadOnlyList<GeneratorFeedback> feedback, double lambda)
    {
        var ordered = feedback.OrderBy(f => f.Member).ToArray();
        var weights = Weights(kind, ordered.Select(f => f.Loss).ToArray(), lambda);
        Tensor? total = null;
        var loss = 0.0;
        for (var i = 0; i < ordered.Length; i++)
        {
            loss += weights[i] * ordered[i].Loss;
            if (weights[i] == 0) continue;
            var term = ordered[i].Gradient.Mul(weights[i]);
            total = total is null ? term : total.Plus(term);
        }
        return (total!, loss);
    }
}
