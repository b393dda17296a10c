using Akka.Actor;
using AkkaGan.Cluster.Hosting;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;

namespace AkkaGan.Cluster.Tests;

// The one-node cluster's specs, continued: where the two engines' schedules used to drift apart. An operator's
// checkpoint as the divergence guard's roll-back target (the reference engine only moved it at the interval), and an
// evolution on a round that diverges (the reference engine evolved, and reported it, before the guard rolled the round
// back). Both engines now roll back to the operator's round, report the same events and end with the same bytes.
public sealed partial class OneNodeClusterSpecs
{
    /// <summary>The events both engines report, in words, in order: evolutions and faults.</summary>
    private static string Describe(EvolutionReport e) => $"round {e.Round}: evolution d-{e.Best} -> d-{e.Worst}, lr {e.NewLearningRate:R}";

    private static string Describe(FaultReport f) => $"round {f.Round}: {f.Entity} {f.Event}: {f.Detail}";

    /// <summary>The reference engine's observer: acts at rounds and checkpoints, records events once <see cref="Recording"/>.</summary>
    private sealed class Recorder(Action<long> onRound, Action<long> onCheckpoint) : ITrainingObserver
    {
        public bool Recording { get; set; }
        public List<string> Events { get; } = [];
        public void OnRound(RoundReport report) => onRound(report.Round);
        public void OnCheckpoint(long round, string path) => onCheckpoint(round);
        public void OnEvolution(EvolutionReport report) => Record(Describe(report));
        public void OnFault(FaultReport report) => Record(Describe(report));

        private void Record(string line)
        {
            if (Recording) Events.Add(line);
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void An_operator_checkpoint_then_a_diverging_evolution_round_should_roll_both_engines_back_alike()
    {
        // Every round evolves (a population of two), so the round that diverges is an evolution round; no interval
        // checkpoint comes within the test, so the operator's is the only one after the start.
        var settings = new TrainingSettings
        {
            Batch = 32, HiddenUnits = 16, LatentDim = 8, Rounds = EngineEquivalence.Endless, LrDecay = LrDecay.None, EvalEvery = 1000,
            CheckpointEvery = 1000, EvalSamples = 200, Unroll = 1, Discriminators = 2, EvolveEvery = 1,
        };
        var probe = CreateTestProbe();
        var injector = CreateTestProbe();
        var coordinator = ActorRegistry.Get<CoordinatorSingleton>();
        coordinator.Tell(new C.StartTraining(SettingsJson.Serialize(settings), null, probe.Ref));

        // Cluster: paused a few rounds in, an operator checkpoint where it parked, d-0 poisoned from it, resumed; the
        // events followed from there (rounds after the parked one).
        probe.FishForMessage<C.RoundCompleted>(r => r.Report.Round >= 3, TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken);
        coordinator.Tell(new C.PauseTraining());
        coordinator.Tell(new C.CheckpointNow());
        var operatorCheckpoint = probe.FishForMessage<C.CheckpointTaken>(_ => true, TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken).Checkpoint;
        var parked = operatorCheckpoint.Metadata.Round;
        ActorRegistry.Get<DiscriminatorRegion>().Tell(new Protocol.EntityProtocol.RestoreSnapshot("d-0", 1, EngineEquivalence.WithNaN(operatorCheckpoint.Entity("d-0")), injector.Ref));
        injector.ExpectMsg<Protocol.EntityProtocol.Restored>(TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
        coordinator.Tell(new C.ResumeTraining());
        long? lowered = null;
        var (final, events, stoppedAt) = EngineEquivalence.FollowUntilStopped(probe, coordinator, (message, seen) =>
        {
            if (message is C.RunChanged) lowered = seen.OfType<C.RoundCompleted>().LastOrDefault()?.Report.Round ?? parked;
            return message is C.RoundCompleted { Report.Round: var round } && round > lowered + 1;
        }, TimeSpan.FromSeconds(60));
        var clusterEvents = events.Select(e => e switch
        {
            C.Evolved evolved => Describe(evolved.Report),
            C.Faulted faulted => Describe(faulted.Report),
            _ => null,
        }).OfType<string>().ToList();
        Assert.Contains($"every entity goes back to round {parked}", string.Join("\n", clusterEvents), StringComparison.Ordinal);

        // Reference engine, to the round of the stop: the operator's checkpoint after round `parked`, d-0 poisoned once
        // it is written (before the next round), the same as above.
        var reference = settings with { Rounds = (int)stoppedAt };
        var control = new RunControl();
        ReferenceTrainer? trainer = null;
        var poisoned = false;
        Recorder? recorder = null;
        recorder = new Recorder(
            onRound: round => { if (round == parked && !poisoned) control.RequestCheckpoint(); },
            onCheckpoint: round =>
            {
                if (round != parked || poisoned) return;
                poisoned = true;
                var d0 = trainer!.Discriminators[0];
                d0.Restore(EngineEquivalence.WithNaN(d0.Snapshot()));
                recorder!.Recording = true;   // from round parked + 1 on, as the cluster's events above
            });
        var folder = Directory.CreateTempSubdirectory("akkagan-drift-").FullName;
        using (trainer = new ReferenceTrainer(reference, RunData.Create(reference), CPU, recorder))
        {
            trainer.Run(new CheckpointStore(folder, 100), control, cancellation: TestContext.Current.CancellationToken);
            Assert.True(poisoned, "the reference run never reached the operator's checkpoint");
            Assert.Equal(clusterEvents, recorder.Events);
            EngineEquivalence.AssertSameCheckpoint(trainer.CreateCheckpoint(), final);
        }
        Directory.Delete(folder, recursive: true);
    }
}
