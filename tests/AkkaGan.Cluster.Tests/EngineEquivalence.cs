using Akka.Actor;
using Akka.TestKit;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Tests;

/// <summary>What every engine-equivalence spec does: follow a run to its end, then compare it with the reference engine.</summary>
internal static class EngineEquivalence
{
    /// <summary>Collects the coordinator's events until <see cref="C.TrainingFinished"/>; asserts it completed all rounds.</summary>
    public static (Checkpoint? Final, List<object> Events) FollowToCompletion(TestKitBase observer, TrainingSettings settings, TimeSpan perEvent)
    {
        var events = new List<object>();
        Checkpoint? last = null;
        while (true)
        {
            var message = observer.ExpectMsg<object>(perEvent);
            events.Add(message);
            if (message is C.CheckpointTaken taken) last = taken.Checkpoint;
            if (message is not C.TrainingFinished finished) continue;
            Assert.True(finished.Completed, finished.Reason);
            Assert.Equal(settings.Rounds, finished.Round);
            return (last, events);
        }
    }

    /// <summary>
    /// Rounds for a run that only the test ends (with <see cref="FollowUntilStopped"/>): a test waits for the events it
    /// checks, never for "enough rounds", so it passes however fast the machine trains. Such runs use
    /// <see cref="LrDecay.None"/>, so that the reference engine run to the round of the stop computes the same rounds.
    /// </summary>
    public const int Endless = 1_000_000_000;

    /// <summary>
    /// Collects the coordinator's events; once <paramref name="stopWhen"/> holds for an event (given the events so far),
    /// stops the run, and returns at <see cref="C.TrainingFinished"/> with the last checkpoint (a stop checkpoints the
    /// round it stops at). <paramref name="stopWhen"/> may also act on the cluster (take a node away) at an event.
    /// </summary>
    public static (Checkpoint? Final, List<object> Events, long StoppedAt) FollowUntilStopped(TestKitBase observer, IActorRef coordinator,
        Func<object, IReadOnlyList<object>, bool> stopWhen, TimeSpan perEvent)
    {
        var events = new List<object>();
        Checkpoint? last = null;
        var stopping = false;
        while (true)
        {
            var message = observer.ExpectMsg<object>(perEvent);
            events.Add(message);
            if (message is C.CheckpointTaken taken) last = taken.Checkpoint;
            if (message is C.TrainingFinished finished)
            {
                Assert.True(stopping, $"the run ended before the test stopped it: {finished.Reason}");
                Assert.False(finished.Completed, "a stopped run reported completion");
                Assert.Equal(finished.Round, last?.Metadata.Round);
                return (last, events, finished.Round);
            }
            if (stopping || !stopWhen(message, events)) continue;
            coordinator.Tell(new C.StopTraining());
            stopping = true;
        }
    }

    /// <summary>An entity's state with its first tensor all NaN: its next losses are NaN, and the divergence guard fires.</summary>
    public static EntitySnapshot WithNaN(EntitySnapshot snapshot)
    {
        var first = snapshot.Tensors[0];
        var nan = Enumerable.Range(0, (int)first.Payload.ElementCount).SelectMany(_ => BitConverter.GetBytes(float.NaN)).ToArray();
        return snapshot with { Tensors = [first with { Payload = first.Payload with { Data = nan } }, .. snapshot.Tensors.Skip(1)] };
    }

    /// <summary>Asserts that <paramref name="actual"/> holds, byte for byte, the state ReferenceTrainer reaches with the same settings.</summary>
    /// <param name="prepare">Applied to the reference trainer before its first round (e.g. the same live changes).</param>
    /// <param name="actualEvents">What the engine under test did besides rounds (its faults), for a failed comparison's message.</param>
    public static void AssertSameAsReference(TrainingSettings settings, Checkpoint? actual, Action<ReferenceTrainer>? prepare = null, IEnumerable<object>? actualEvents = null)
    {
        Assert.NotNull(actual);
        var reference = new EventRecorder();
        using var trainer = new ReferenceTrainer(settings, RunData.Create(settings), CPU, reference);
        prepare?.Invoke(trainer);
        trainer.Run(checkpoints: null);
        var faults = (actualEvents ?? []).OfType<C.Faulted>().Select(f => $"round {f.Report.Round} fault {f.Report.Entity} {f.Report.Event}: {f.Report.Detail}").ToArray();
        AssertSameCheckpoint(trainer.CreateCheckpoint(), actual,
            (reference.Events.Count == 0 ? "" : "; the reference engine: " + string.Join("; ", reference.Events)) +
            (faults.Length == 0 ? "" : "; the engine under test: " + string.Join("; ", faults)));
    }

    /// <summary>What an engine did besides rounds (faults, changes, evolutions), for a failed comparison's message.</summary>
    private sealed class EventRecorder : ITrainingObserver
    {
        public List<string> Events { get; } = [];
        public void OnFault(FaultReport report) => Events.Add($"round {report.Round} fault {report.Entity} {report.Event}: {report.Detail}");
        public void OnChange(ChangeReport report) => Events.Add($"change {report}");
        public void OnEvolution(EvolutionReport report) => Events.Add($"evolution {report}");
    }

    /// <summary>Asserts that two checkpoints hold the same round and entities, every tensor byte for byte.</summary>
    public static void AssertSameCheckpoint(Checkpoint expected, Checkpoint? actual, string context = "")
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Metadata.Round, actual!.Metadata.Round);
        Assert.Equal(expected.Entities.Select(e => e.EntityId), actual.Entities.Select(e => e.EntityId));
        foreach (var (e, a) in expected.Entities.Zip(actual.Entities))
        {
            Assert.True(e.LearningRate == a.LearningRate, $"{e.EntityId} learning rate {a.LearningRate}, the reference engine's {e.LearningRate}{context}");
            Assert.True(e.OptimizerSteps == a.OptimizerSteps, $"{e.EntityId} optimizer steps {a.OptimizerSteps}, the reference engine's {e.OptimizerSteps}{context}");
            Assert.Equal(e.Tensors.Select(t => t.Name), a.Tensors.Select(t => t.Name));
            foreach (var (te, ta) in e.Tensors.Zip(a.Tensors))
                Assert.True(te.Payload.Data.AsSpan().SequenceEqual(ta.Payload.Data), $"{e.EntityId} {te.Name} differs from the reference engine{context}");
        }
    }
}
