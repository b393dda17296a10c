using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class ReferenceTrainerSpecs
{
    private static TrainingSettings Tiny => new()
    {
        Rounds = 8, Batch = 32, HiddenUnits = 16, LatentDim = 8, Unroll = 2, Discriminators = 3, NCritic = 2,
        Aggregate = AggregationKind.Softmax, EvalSamples = 200, EvalEvery = 4, InstanceNoise = 0.1, InstanceNoiseAnneal = 6, GradientPenalty = 1,
    };

    private static Tensor[] Parameters(ReferenceTrainer trainer)
        => [.. trainer.Generator.Model.parameters().Select(p => p.detach().clone()),
            .. trainer.Discriminators.SelectMany(d => d.Model.parameters().Select(p => p.detach().clone()))];

    private static void AssertIdentical(Tensor[] a, Tensor[] b)
    {
        Assert.Equal(a.Length, b.Length);
        for (var i = 0; i < a.Length; i++) Assert.True(a[i].equal(b[i]).all().item<bool>(), $"parameter {i} differs");
    }

    private static Tensor[] Train(TrainingSettings settings, int rounds)
    {
        using var trainer = new ReferenceTrainer(settings, RunData.Create(settings), CPU);
        for (var i = 0; i < rounds; i++) trainer.RunRound();
        return Parameters(trainer);
    }

    [Fact]
    public void Same_seed_should_give_bitwise_identical_parameters()
    {
        AssertIdentical(Train(Tiny, 4), Train(Tiny, 4));
        var other = Train(Tiny with { Seed = 2 }, 4);
        Assert.False(other[0].equal(Train(Tiny, 4)[0]).all().item<bool>());
    }

    [Fact]
    public void Resuming_from_a_checkpoint_should_continue_exactly_as_an_uninterrupted_run()
    {
        var straight = Train(Tiny, 6);
        Checkpoint checkpoint;
        using (var first = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU))
        {
            for (var i = 0; i < 3; i++) first.RunRound();
            checkpoint = CheckpointCodec.Decode(CheckpointCodec.Encode(first.CreateCheckpoint()), "memory");
        }
        using var resumed = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU);
        resumed.Restore(checkpoint);
        Assert.Equal(3, resumed.Round);
        for (var i = 0; i < 3; i++) resumed.RunRound();
        AssertIdentical(straight, Parameters(resumed));
    }

    [Fact]
    public void Training_should_change_every_network_and_report_finite_losses()
    {
        using var trainer = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU);
        var before = Parameters(trainer);
        var report = trainer.RunRound();
        var after = Parameters(trainer);
        Assert.Equal(1, report.Round);
        Assert.Equal(3, report.Discriminators.Count);
        Assert.Equal([0, 1, 2], report.FeedbackMembers);
        Assert.True(double.IsFinite(report.GeneratorLoss) && double.IsFinite(report.MeanDiscriminatorLoss));
        Assert.All(report.Discriminators, d => Assert.True(d.Penalty > 0, "gradient penalty is on"));
        Assert.All(before.Zip(after), p => Assert.False(p.First.equal(p.Second).all().item<bool>()));
    }

    [Fact]
    public void Evolution_should_copy_the_fittest_discriminator_into_the_weakest()
    {
        using var trainer = new ReferenceTrainer(Tiny with { EvolveEvery = 2 }, RunData.Create(Tiny), CPU);
        trainer.RunRound();
        trainer.RunRound();
        // Evolve again explicitly so the check sees the fitness the decision used.
        var report = trainer.Evolve(3);
        Assert.NotEqual(report.Best, report.Worst);
        Assert.True(report.BestFitness >= report.WorstFitness);
        var best = trainer.Discriminators[report.Best];
        var worst = trainer.Discriminators[report.Worst];
        Assert.All(best.Model.parameters().Zip(worst.Model.parameters()), p => Assert.True(p.First.equal(p.Second).all().item<bool>()));
        Assert.Equal(report.NewLearningRate, worst.Optimizer.LearningRate);
        Assert.NotEqual(best.Optimizer.LearningRate, worst.Optimizer.LearningRate);
    }

    [Fact]
    public void Evaluation_should_report_mixture_metrics_and_fitness_for_every_member()
    {
        using var trainer = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU);
        trainer.RunRound();
        var report = trainer.Evaluate();
        Assert.NotNull(report.Mixture);
        Assert.Equal(8, report.Mixture!.Modes);
        Assert.Equal(200 * 2, report.Samples.Length);
        Assert.Equal(3, report.Fitness.Count);
        Assert.All(report.Fitness.Values, f => Assert.InRange(f, 0, 1));
    }

    [Fact]
    public void Rounds_evaluations_and_checkpoints_should_not_leak_tensors()
    {
        // Flat native memory over long runs: every tensor a round creates is disposed by its scope.
        using var trainer = new ReferenceTrainer(Tiny with { EvolveEvery = 2, Rounds = 100 }, RunData.Create(Tiny), CPU);
        void Work(int rounds)
        {
            for (var i = 0; i < rounds; i++) trainer.RunRound();
            trainer.Evaluate();
            trainer.Restore(trainer.CreateCheckpoint());
        }
        Work(3);
        var live = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Work(12);
        Assert.Equal(live, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Subset_aggregation_should_ask_only_the_drawn_members()
    {
        using var trainer = new ReferenceTrainer(Tiny with { Aggregate = AggregationKind.Subset, SubsetSize = 2 }, RunData.Create(Tiny), CPU);
        var report = trainer.RunRound();
        Assert.Equal(2, report.FeedbackMembers.Count);
    }
}
