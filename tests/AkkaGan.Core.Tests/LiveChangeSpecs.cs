using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>Live changes (<c>gan set</c>, <c>gan population add/remove</c>): what they are allowed to change, and what they change.</summary>
public sealed class LiveChangeSpecs
{
    private static TrainingSettings Tiny => new()
    {
        Rounds = 8, Batch = 32, HiddenUnits = 16, LatentDim = 8, Unroll = 2, Discriminators = 2, EvalSamples = 200, EvalEvery = 4,
    };

    [Fact]
    public void Unknown_keys_bad_values_and_invalid_combinations_should_be_refused_naming_the_problem()
    {
        var unknown = Assert.Throws<SettingsException>(() => LiveSettings.Apply(Tiny, "batch", "64"));
        Assert.Contains("'batch' cannot be changed while training", unknown.Message);
        Assert.Contains("lr-d", unknown.Message);
        Assert.Contains("expected a number, got 'fast'", Assert.Throws<SettingsException>(() => LiveSettings.Apply(Tiny, "lr-g", "fast")).Message);
        Assert.Contains("lr-g must be a positive number", Assert.Throws<SettingsException>(() => LiveSettings.Apply(Tiny, "lr-g", "-1")).Message);
        Assert.Contains("unknown value 'median'", Assert.Throws<SettingsException>(() => LiveSettings.Apply(Tiny, "aggregate", "median")).Message);
        // aggregate=subset with the default subset-size 1 is fine; subset-size 3 of 2 members is not.
        var subset = LiveSettings.Apply(Tiny, "aggregate", "subset");
        Assert.Contains("subset-size must be between 1 and the population size (2)", Assert.Throws<SettingsException>(() => LiveSettings.Apply(subset, "subset-size", "3")).Message);
        Assert.Contains("applies to the whole run", Assert.Throws<SettingsException>(() => LiveSettings.Apply(Tiny, "unroll", "3", member: 0)).Message);
        Assert.Contains("d-7 is not in the population (members: d-0, d-1)", Assert.Throws<SettingsException>(() => LiveSettings.Apply(Tiny, "lr-d", "1e-4", member: 7)).Message);
    }

    [Fact]
    public void A_per_member_key_should_set_one_member_or_replace_every_members_override()
    {
        var settings = Tiny with { Members = [new() { LrD = 5e-4 }] };
        var one = LiveSettings.Apply(settings, "lr-d", "2e-4", member: 1);
        Assert.Equal(5e-4, one.ForMember(0).LrD);
        Assert.Equal(2e-4, one.ForMember(1).LrD);
        var all = LiveSettings.Apply(one, "lr-d", "1e-4");
        Assert.Equal(1e-4, all.ForMember(0).LrD);
        Assert.Equal(1e-4, all.ForMember(1).LrD);
    }

    [Fact]
    public void Population_changes_should_never_reuse_an_id_nor_leave_an_invalid_population()
    {
        var (grown, id) = LiveSettings.AddMember(Tiny, new MemberOverrides { Loss = LossKind.Hinge });
        Assert.Equal(2, id);
        Assert.Equal([0, 1, 2], grown.ActiveMembers);
        Assert.Equal(LossKind.Hinge, grown.ForMember(2).Loss);
        Assert.Equal(LossKind.NonSaturating, grown.ForMember(1).Loss);

        var shrunk = LiveSettings.RemoveMember(grown, 1);
        Assert.Equal([0, 2], shrunk.ActiveMembers);
        Assert.Equal(3, LiveSettings.AddMember(shrunk, new MemberOverrides()).Member);
        Assert.Contains("d-1 is not in the population", Assert.Throws<SettingsException>(() => LiveSettings.RemoveMember(shrunk, 1)).Message);
        var last = LiveSettings.RemoveMember(shrunk, 0);
        Assert.Contains("d-2 is the last discriminator", Assert.Throws<SettingsException>(() => LiveSettings.RemoveMember(last, 2)).Message);
        var evolving = Tiny with { EvolveEvery = 10 };
        Assert.Contains("evolve-every needs a population", Assert.Throws<SettingsException>(() => LiveSettings.RemoveMember(evolving, 0)).Message);
        var wasserstein = new MemberOverrides { Loss = LossKind.Wasserstein };
        Assert.Contains("needs a Lipschitz constraint", Assert.Throws<SettingsException>(() => LiveSettings.AddMember(Tiny, wasserstein)).Message);
    }

    [Fact]
    public void The_reference_engine_should_apply_a_change_to_exactly_what_it_names()
    {
        using var trainer = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU);
        trainer.RunRound();
        var report = trainer.Apply(new SetSetting("lr-d", "2e-4", Member: 1));
        Assert.Equal("lr-d = 2e-4 (d-1) from round 2", $"{report.Description} from round {report.Round + 1}");
        Assert.Equal(Tiny.LrD, trainer.Discriminators[0].Optimizer.LearningRate);
        Assert.Equal(2e-4, trainer.Discriminators[1].Optimizer.LearningRate);

        trainer.Apply(new SetSetting("lr-g", "5e-4"));
        Assert.Equal(5e-4, trainer.Generator.Optimizer.LearningRate);
        trainer.Apply(new SetSetting("instance-noise", "0.3"));
        Assert.All(trainer.Discriminators, d => Assert.Equal(0.3, d.Regularization.InstanceNoise));
        Assert.Equal(2e-4, trainer.Discriminators[1].Optimizer.LearningRate); // other keys leave (evolved) rates alone

        trainer.Apply(new AddDiscriminator(new MemberOverrides { Loss = LossKind.Hinge, LrD = 3e-4 }));
        Assert.Equal(["d-0", "d-1", "d-2"], trainer.Discriminators.Select(d => d.EntityId));
        Assert.Equal(LossKind.Hinge, trainer.Discriminators[2].LossKind);
        Assert.Equal(3, trainer.RunRound().Discriminators.Count);
        trainer.Apply(new RemoveDiscriminator(0));
        var round = trainer.RunRound();
        Assert.Equal([1, 2], round.Discriminators.Select(d => d.Member));
        Assert.Equal([1, 2], round.FeedbackMembers);

        // A refused change changes nothing.
        var before = trainer.Settings;
        Assert.Throws<SettingsException>(() => trainer.Apply(new SetSetting("n-critic", "0")));
        Assert.Same(before, trainer.Settings);
    }

    [Fact]
    public void A_run_with_changes_should_resume_from_its_checkpoint_with_the_changed_population()
    {
        Checkpoint checkpoint;
        Tensor[] straight;
        using (var first = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU))
        {
            first.RunRound();
            first.Apply(new AddDiscriminator(new MemberOverrides()));
            first.Apply(new RemoveDiscriminator(0));
            first.Apply(new SetSetting("unroll", "1"));
            first.RunRound();
            checkpoint = CheckpointCodec.Decode(CheckpointCodec.Encode(first.CreateCheckpoint()), "memory");
            first.RunRound();
            straight = [.. first.Discriminators.SelectMany(d => d.Model.parameters().Select(p => p.detach().clone()))];
        }
        // Resuming takes the settings the checkpoint was written with, as `akkagan train --resume` does.
        var settings = SettingsJson.Deserialize(checkpoint.Metadata.SettingsJson);
        Assert.Equal([1, 2], settings.ActiveMembers);
        Assert.Equal(1, settings.Unroll);
        using var resumed = new ReferenceTrainer(settings, RunData.Create(settings), CPU);
        resumed.Restore(checkpoint);
        resumed.RunRound();
        var after = resumed.Discriminators.SelectMany(d => d.Model.parameters().Select(p => p.detach().clone())).ToArray();
        Assert.Equal(straight.Length, after.Length);
        for (var i = 0; i < after.Length; i++) Assert.True(straight[i].equal(after[i]).all().item<bool>(), $"parameter {i} differs");
    }

    [Fact]
    public async Task Changes_should_be_served_in_order_and_a_refusal_should_fault_only_its_request()
    {
        var control = new RunControl();
        var first = control.RequestChange(new SetSetting("unroll", "1"));
        var bad = control.RequestChange(new SetSetting("unroll", "-1"));
        var third = control.RequestChange(new SetSetting("n-critic", "2"));
        using var trainer = new ReferenceTrainer(Tiny with { Rounds = 1 }, RunData.Create(Tiny), CPU);
        trainer.Run(null, control, cancellation: TestContext.Current.CancellationToken); // the changes are taken before the first round
        Assert.Equal("unroll = 1", (await first).Description);
        Assert.Contains("unroll must be zero or positive", (await Assert.ThrowsAsync<SettingsException>(() => bad)).Message);
        Assert.Equal(2, (await third).Settings.NCritic);
        Assert.Equal(1, trainer.Settings.Unroll);
        Assert.Empty(control.TakeChangeRequests());
    }
}

/// <summary>The divergence guard: what counts as divergence, and what a roll-back does.</summary>
public sealed class DivergenceGuardSpecs
{
    private static RoundReport Report(long round, double gNorm, double dLoss = 0.7)
        => new(round, 0.7, gNorm, [new DiscriminatorStepResult(0, round, 0, dLoss, 0, 0.5, -0.5, 1.0)], [0]);

    [Fact]
    public void Non_finite_values_and_gradient_explosions_should_be_named_and_steady_rounds_not()
    {
        var guard = new DivergenceGuard(gradNormLimit: 100);
        for (var r = 1; r <= 30; r++) Assert.Null(guard.Check(Report(r, 1.0 + r % 3)));
        Assert.Equal("d-0 loss is NaN in round 31", guard.Check(Report(31, 1.0, double.NaN)));
        Assert.Null(guard.Check(Report(32, 50.0))); // 25x the median: a large step, not an explosion
        Assert.Contains("g-0 gradient norm 1000 in round 33 is 500 x its median 2", guard.Check(Report(33, 1000)));
        guard.Reset();
        Assert.Null(guard.Check(Report(34, 1000))); // after a reset the window starts over
        Assert.Null(new DivergenceGuard(0).Check(Report(1, 1e12))); // limit 0: only non-finite values count
    }

    private static TrainingSettings Tiny => new()
    {
        Rounds = 30, Batch = 32, HiddenUnits = 16, LatentDim = 8, Unroll = 1, EvalSamples = 200, EvalEvery = 30, CheckpointEvery = 10,
    };

    private sealed class Faults : ITrainingObserver
    {
        public List<FaultReport> Reports { get; } = [];
        public Action<RoundReport>? AfterRound { get; set; }
        public void OnFault(FaultReport report) => Reports.Add(report);
        public void OnRound(RoundReport report) => AfterRound?.Invoke(report);
    }

    [Fact]
    public void Nan_weights_should_roll_back_to_the_last_checkpoint_lower_the_learning_rates_and_complete()
    {
        var faults = new Faults();
        using var trainer = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU, faults);
        var injected = false;
        faults.AfterRound = report =>
        {
            if (report.Round != 14 || injected) return;
            injected = true; // once: the redone round 14 does not poison again
            using var noGrad = TorchSharp.torch.no_grad();
            trainer.Discriminators[0].Model.parameters().First().fill_(double.NaN);
        };
        trainer.Run(checkpoints: null, cancellation: TestContext.Current.CancellationToken);
        Assert.Equal(30, trainer.Round);
        Assert.Equal(["diverged", "rolled-back"], faults.Reports.Select(f => f.Event));
        Assert.Contains("loss is NaN in round 15", faults.Reports[0].Detail);
        Assert.Contains("every entity goes back to round 10, 5 round(s) are redone", faults.Reports[1].Detail);
        Assert.Equal(Tiny.LrG * 0.5, trainer.Generator.Optimizer.LearningRate);
        Assert.Equal(Tiny.LrD * 0.5, trainer.Discriminators[0].Optimizer.LearningRate);
        Assert.True(trainer.Discriminators[0].Model.parameters().All(p => p.isfinite().all().item<bool>()));
    }

    [Fact]
    public void A_run_that_keeps_diverging_should_stop_naming_the_last_good_checkpoint()
    {
        // A learning rate far too high for SGD: every roll-back halves it, not enough within one roll-back.
        var settings = Tiny with { Optimizer = OptimizerKind.Sgd, LrD = 1e12, LrG = 1e12, MaxRollbacks = 1, CheckpointEvery = 5 };
        var faults = new Faults();
        using var trainer = new ReferenceTrainer(settings, RunData.Create(settings), CPU, faults);
        var error = Assert.Throws<TrainingDivergedException>(() => trainer.Run(checkpoints: null, cancellation: TestContext.Current.CancellationToken));
        Assert.Contains("1 roll-back(s) with lower learning rates did not help", error.Message);
        Assert.Contains(error.LastGoodRound > 0 ? $"checkpoints up to round {error.LastGoodRound} are intact" : "diverged before its first checkpoint", error.Message);
        Assert.Single(faults.Reports, f => f.Event == "rolled-back");
    }
}
