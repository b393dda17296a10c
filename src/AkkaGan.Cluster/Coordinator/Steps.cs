using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Diagnostics;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Population;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// One round in one request to the generator (<see cref="G.RunRound"/>): it sends every critic batch and then the
/// generator step's x_fake; each discriminator answers its critic reports here and its feedback to the generator; the
/// round ends with the generator's <see cref="G.GeneratorStepped"/> and all critic reports (or the timeout). Two such
/// children (lanes) take the rounds in turn, odd and even, so a round sent ahead is gathered beside the one before it;
/// their request ids never meet (lane + 2k).
/// </summary>
internal sealed class RoundActor : StepActor
{
    private readonly int _lane;
    private long _requests;

    /// <param name="Report">Null: the generator did not complete the round.</param>
    /// <param name="Missing">Members that missed a critic step or the feedback: suspended from the next round on.</param>
    /// <param name="CriticStepsTaken">Whether any discriminator reported a critic step of the round.</param>
    /// <param name="Declined">The round was sent ahead and the generator did not play it (<see cref="G.RoundDeclined"/>): nothing happened.</param>
    public sealed record Result(long Round, RoundReport? Report, IReadOnlyList<int> Missing, bool CriticStepsTaken, bool Declined = false);

    /// <summary>Play <paramref name="Round"/> with <paramref name="Participants"/>; <paramref name="Follows"/> as in <see cref="G.RunRound"/>.</summary>
    public sealed record Play(StepContext Step, long Round, int[] Participants, long Follows = 0);

    /// <summary>One child per lane for the whole run: no actor to create per round, and the entities answer one address.</summary>
    public RoundActor(StepContext step, int lane) : base(step)
    {
        _lane = lane;
        Receive<Play>(p =>
        {
            Step = p.Step with { Round = p.Round - 1 }; // a round sent ahead is asked for before the one before it is counted
            PlayRound(p.Round, p.Participants, p.Follows);
        });
    }

    protected override long NewRequestId() => 2 * ++_requests + _lane;

    private void PlayRound(long round, int[] participants, long follows)
    {
        RoundTrace.Mark("r.play", round);
        var selected = Aggregation.SelectMembers(Settings, participants, round);
        // The generator times out silent discriminators itself after the step timeout; wait for its answer beyond that.
        // Once it has answered, the members it heard from (and those it did not ask) are the only critic reports still to
        // come: a member that did not answer it is not waited for a second time.
        Ask($"round {round}", [(id, me) => new G.RunRound(GeneratorId.Default, id, round, Settings.NCritic, participants, selected, Step.StepTimeout, me, follows)],
            Settings.NCritic * participants.Length + 1, timeout: 2 * Step.StepTimeout + TimeSpan.FromSeconds(1), enough: answers => AllButTheSilent(answers, participants, selected),
            then: answers =>
            {
                RoundTrace.Mark("r.answers", round);
                if (answers.Of<G.RoundDeclined>().Any())
                {
                    Reply(new Result(round, null, [], false, Declined: true));
                    return;
                }
                var critics = answers.Of<D.TrainStepDone>().Select(d => d.Result).ToArray();
                if (answers.Of<G.GeneratorStepped>().FirstOrDefault() is not { } stepped)
                {
                    Reply(new Result(round, null, [], critics.Length > 0));
                    return;
                }
                var complete = critics.GroupBy(d => d.Member).Where(g => g.Count() == Settings.NCritic).Select(g => g.Key).ToHashSet();
                var missing = participants.Where(m => !complete.Contains(m) || (selected.Contains(m) && !stepped.Answered.Contains(m))).ToArray();
                // Each member's report of its last critic step, in member order.
                var last = critics.GroupBy(d => d.Member).Select(g => g.MaxBy(d => d.CriticStep)!).OrderBy(d => Array.IndexOf(participants, d.Member)).ToArray();
                var result = stepped.Result;
                Reply(new Result(round, new RoundReport(round, result.Loss, result.GradientNorm, last, stepped.Answered)
                    { FeedbackNorm = result.FeedbackNorm, GeneratorDrift = result.Drift }, missing, true));
            });
    }

    /// <summary>Whether the generator has answered and every critic report of the members it did not find silent is in.</summary>
    private bool AllButTheSilent(IReadOnlyList<IEntityReply> answers, int[] participants, IReadOnlyCollection<int> selected)
    {
        // Asked at every answer of every round: a plain scan, and the rest only once the generator has answered.
        G.GeneratorStepped? stepped = null;
        foreach (var answer in answers)
        {
            if (answer is G.GeneratorStepped s) stepped = s;
            if (answer is G.RoundDeclined) return true;
        }
        if (stepped is null) return false;
        foreach (var member in participants)
            if ((!selected.Contains(member) || stepped.Answered.Contains(member))
                && answers.OfType<D.TrainStepDone>().Count(d => d.Result.Member == member) < Settings.NCritic) return false;
        return true;
    }
}

/// <summary>Exploit/explore: fitness of every participant, then the worst member takes the best one's state (D -> D) with a perturbed learning rate.</summary>
internal sealed class EvolveActor : StepActor
{
    /// <param name="Report">Null: no member measured its fitness.</param>
    /// <param name="Adopted">Whether the worst member confirmed it took the best one's state.</param>
    public sealed record Result(EvolutionReport? Report, bool Adopted);

    /// <summary>The child's props (no expression to compile on every step: a round is one of them).</summary>
    public static Props Props(StepContext step, int[] participants, IReadOnlyDictionary<int, double> learningRates) => Akka.Actor.Props.Create<EvolveActor>(step, participants, learningRates);

    public EvolveActor(StepContext step, int[] participants, IReadOnlyDictionary<int, double> learningRates) : base(step)
    {
        Ask("fitness", [(id, me) => new G.ProduceFitnessBatch(GeneratorId.Default, id, Step.Round, participants, me)], participants.Length, timeout: Step.WorkTimeout, then: answers =>
        {
            var fitness = answers.Of<D.FitnessMeasured>().ToDictionary(f => f.Discriminator.Member, f => f.Fitness);
            if (fitness.Count == 0)
            {
                Done(new Result(null, false));
                return;
            }
            var (best, worst) = Evolution.Rank(fitness);
            var lr = Evolution.PerturbLearningRate(learningRates[best], Settings.LrPerturbation, Evolution.Uniform(Settings.Seed, Step.Round));
            var report = new EvolutionReport(Step.Round, best, worst, fitness[best], fitness[worst], lr);
            if (best == worst)
            {
                Done(new Result(report, false));
                return;
            }
            Ask("evolution", [(id, me) => new D.TransferWeights(new DiscriminatorId(best), id, new DiscriminatorId(worst), lr, Step.Round, me)], 1, timeout: Step.WorkTimeout,
                then: adopted => Done(new Result(report, adopted.Of<D.WeightsAdopted>().Any())));
        });
    }
}

/// <summary>
/// A checkpoint of the round: every entity taking part sends its snapshot (saved to the state store first); a suspended
/// member keeps its freshest known state (the one it handed over, or the last checkpoint's): what it will be restored to. A checkpoint must hold every entity:
/// one that misses any is skipped, never written partially.
/// </summary>
internal sealed class CheckpointActor : StepActor
{
    /// <param name="Checkpoint">Null: skipped.</param>
    /// <param name="Saved">The entities that sent their snapshot (their state of the round is in the store).</param>
    public sealed record Result(Checkpoint? Checkpoint, IReadOnlyList<string> Saved);

    /// <param name="entities">Every entity of the run, in checkpoint order.</param>
    /// <param name="asked">Those taking part (the others are suspended).</param>
    /// <param name="kept">The suspended members' freshest known states.</param>
    /// <summary>The child's props (no expression to compile on every step: a round is one of them).</summary>
    public static Props Props(StepContext step, IReadOnlyList<string> entities, IReadOnlyList<string> asked, IReadOnlyList<EntitySnapshot> kept) => Akka.Actor.Props.Create<CheckpointActor>(step, entities, asked, kept);

    public CheckpointActor(StepContext step, IReadOnlyList<string> entities, IReadOnlyList<string> asked, IReadOnlyList<EntitySnapshot> kept) : base(step)
    {
        Ask("checkpoint", asked.Select(e => (Func<long, IActorRef, IEntityRequest>)((id, me) => new E.GetSnapshot(e, id, Step.Round, me))), asked.Count, timeout: Step.WorkTimeout, then: answers =>
        {
            var taken = answers.Of<E.SnapshotTaken>().ToDictionary(s => s.EntityId, s => s.Snapshot);
            foreach (var snapshot in kept) taken[snapshot.EntityId] = snapshot;
            if (entities.Any(e => !taken.ContainsKey(e)))
            {
                Log.Warning("checkpoint of round {0} skipped: {1} of {2} entities sent their snapshot", Step.Round, answers.All.Count, entities.Count);
                Done(new Result(null, []));
                return;
            }
            var metadata = new CheckpointMetadata(Step.Round, Settings.Seed, SettingsJson.Serialize(Settings), "cluster", DateTimeOffset.UtcNow);
            Done(new Result(new Checkpoint(metadata, [.. entities.Select(e => taken[e])]), [.. answers.Of<E.SnapshotTaken>().Select(s => s.EntityId)]));
        });
    }
}

/// <summary>
/// A change between rounds, in the reference engine's terms (<see cref="RunChanges.Plan"/>: an invalid change is refused
/// and nothing changes): a new member is configured first (if it cannot be, nothing changes), then every entity that
/// stays takes the new settings, and a removed member is retired.
/// </summary>
internal sealed class ChangeActor : StepActor
{
    /// <param name="Plan">Null when refused.</param>
    /// <param name="Refusal">Why nothing changed (null: applied).</param>
    /// <param name="AddedOn">The node the new member runs on.</param>
    public sealed record Result(ChangePlan? Plan, string? Refusal, string? AddedOn);

    /// <summary>The child's props (no expression to compile on every step: a round is one of them).</summary>
    public static Props Props(StepContext step, RunChange change, int[] members) => Akka.Actor.Props.Create<ChangeActor>(step, change, members);

    public ChangeActor(StepContext step, RunChange change, int[] members) : base(step)
    {
        ChangePlan plan;
        try
        {
            plan = RunChanges.Plan(Settings, change);
        }
        catch (SettingsException e)
        {
            Done(new Result(null, string.Join("; ", e.Problems), null));
            return;
        }
        var keeping = members.Where(i => i != plan.Removed).ToArray();
        var json = SettingsJson.Serialize(plan.Settings);
        void Commit(string? node) => Ask($"change '{plan.Description}'",
            EntityIds.Of(keeping).Select(e => (Func<long, IActorRef, IEntityRequest>)((id, me) =>
                new E.ApplySettings(e, id, json, !EntityIds.IsGenerator(e) && plan.ResetLearningRate.Contains(DiscriminatorId.Parse(e).Member), Step.Round, me))),
            1 + keeping.Length, timeout: Step.WorkTimeout, then: answers =>
            {
                if (!answers.Complete) Log.Warning("change '{0}': {1} of {2} entities confirmed it", plan.Description, answers.All.Count, answers.Expected);
                if (plan.Removed is { } removed) Step.Discriminators.Tell(new D.Retire(new DiscriminatorId(removed), Step.Round));
                Done(new Result(plan, null, node));
            });
        if (plan.Added is not { } added)
        {
            Commit(null);
            return;
        }
        var entity = new DiscriminatorId(added).EntityId;
        Ask($"configure {entity}", [(id, me) => new E.Configure(entity, id, json, me, Step.RunId)], 1, timeout: Step.SetupTimeout, then: answers =>
        {
            if (answers.Of<E.Configured>().FirstOrDefault() is { } configured) Commit(configured.Node);
            else Done(new Result(plan, $"{entity} could not be created: no confirmation within {Step.SetupTimeout}", null));
        });
    }
}

/// <summary>
/// Evaluation samples from the generator's fixed noise stream, their metrics (computed off the actor's thread: for
/// images a classifier pass over thousands of samples), and the population's fitness.
/// </summary>
internal sealed class EvaluateActor : StepActor
{
    /// <param name="Report">Null: the generator gave no samples.</param>
    public sealed record Result(EvaluationReport? Report);

    /// <summary>The child's props (no expression to compile on every step: a round is one of them).</summary>
    public static Props Props(StepContext step, int[] participants, Lazy<EvaluationMetrics> metrics) => Akka.Actor.Props.Create<EvaluateActor>(step, participants, metrics);

    public EvaluateActor(StepContext step, int[] participants, Lazy<EvaluationMetrics> metrics) : base(step)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        Ask("evaluation samples", [(id, me) => new G.GetSamples(GeneratorId.Default, id, Settings.EvalSamples, me)], 1, timeout: Step.WorkTimeout, then: answers =>
        {
            if (answers.Of<G.SamplesProduced>().FirstOrDefault() is not { } produced)
            {
                Done(new Result(null));
                return;
            }
            // The metrics (for images a classifier over thousands of samples) run on the process's metrics thread, not the pool's.
            MetricsThread.Run(() =>
            {
                using var scope = TorchSharp.torch.NewDisposeScope();
                var tensor = TensorCodec.ToTensor(produced.Samples, TorchSharp.torch.ScalarType.Float32);
                PayloadPool.Release(produced.Samples);
                return new MetricsComputed(tensor.contiguous().data<float>().ToArray(), [.. produced.Samples.Shape], metrics.Value.Compute(tensor), null);
            }).PipeTo(Self, failure: e => new MetricsComputed([], [.. produced.Samples.Shape], null, e));
        });
        Receive<MetricsComputed>(m =>
        {
            if (m.Error is not null) Log.Error(m.Error, "evaluation metrics of round {0} failed; the evaluation is reported without them", Step.Round);
            var count = (int)m.Shape[0];
            var flat = m.Error is null ? m.Samples : new float[count * m.Shape.Skip(1).Aggregate(1L, (a, b) => a * b)];
            Ask("fitness", [(id, me) => new G.ProduceFitnessBatch(GeneratorId.Default, id, Step.Round, participants, me)], participants.Length, timeout: Step.WorkTimeout, then: fitness =>
                Done(new Result(new EvaluationReport(Step.Round, m.Metrics?.Mixture, flat, [.. m.Shape.Skip(1)], count,
                    fitness.Of<D.FitnessMeasured>().ToDictionary(f => f.Discriminator.Member, f => f.Fitness))
                {
                    Image = m.Metrics?.Image,
                    Diversity = m.Metrics?.Diversity,
                    Distance = m.Metrics?.Distance,
                    Fidelity = m.Metrics?.Fidelity,
                    Seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds,
                })));
        });
    }

    private sealed record MetricsComputed(float[] Samples, long[] Shape, EvaluationMetrics.Result? Metrics, Exception? Error);
}
