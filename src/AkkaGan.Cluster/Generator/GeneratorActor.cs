using Akka.Cluster.Sharding;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using AkkaGan.Cluster.Hosting;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Diagnostics;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Population;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using static TorchSharp.torch;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Generator;

/// <summary>
/// Entity <c>g-0</c>: owns the <see cref="GeneratorCore"/>. What every entity does is <see cref="EntityActor{TCore}"/>'s;
/// this adds the role work: each discriminator gets its fake batch directly, the generator step sends x_fake to the
/// selected members and aggregates their dL/dx_fake in member order, and it gives fitness batches and evaluation
/// samples. The step's graph lives only between <c>RunRound</c> and the last answer or the step's timeout; members that
/// do not answer in time (or reject) are left out of the aggregate. Every answer echoes the request's id.
/// </summary>
public sealed class GeneratorActor : EntityActor<GeneratorCore>, IWithTimers
{
    private readonly GeneratorId _id;
    private readonly IActorRef _discriminators;
    private readonly Queue<G.RunRound> _waiting = new();
    private PendingStep? _pending;
    // The round of the last step that every member it asked answered (0: none since the last configure or restore).
    private long _completed;

    /// <summary>An unconfigured generator entity: it refuses role work until an <see cref="EntityProtocol.Configure"/>.</summary>
    /// <param name="id">The generator this entity is (<see cref="GeneratorId.Default"/>, <c>g-0</c>).</param>
    /// <param name="discriminators">The discriminator shard region (or any router of <see cref="IWithEntityId"/> messages).</param>
    /// <param name="store">Whether this node has a state store: checkpoint rounds are saved to it.</param>
    public GeneratorActor(GeneratorId id, IActorRef discriminators, bool store = false) : base(id.EntityId, store)
    {
        _id = id;
        _discriminators = discriminators;
        // A round sent ahead arrives while the step of the round before it is pending: it waits for that step.
        Receive<G.RunRound>(m =>
        {
            if (_pending is not null) _waiting.Enqueue(m);
            else Play(m);
        });
        Receive<D.FeedbackComputed>(m =>
        {
            RoundTrace.Mark("g.feedback", m.Round);
            if (_pending is not { } p || p.Request.RequestId != m.RequestId || !p.Waiting.Remove(m.Discriminator.Member)) return; // late or unknown
            p.Answers[m.Discriminator.Member] = m;
            if (p.Waiting.Count == 0) CompleteStep();
        });
        Receive<EntityProtocol.Rejected>(m =>
        {
            if (_pending is not { } p || p.Request.RequestId != m.RequestId || !p.Waiting.Remove(DiscriminatorId.Parse(m.EntityId).Member)) return;
            Log.Warning("{0} left out of round {1}: {2}", m.EntityId, m.Round, m.Reason);
            if (p.Waiting.Count == 0) CompleteStep();
        });
        Receive<StepTimedOut>(m =>
        {
            if (_pending is not { } p || p.Request.RequestId != m.RequestId) return;
            Log.Warning("generator step of round {0}: no answer from {1} within {2}", p.Request.Round,
                string.Join(", ", p.Waiting.Order().Select(i => new DiscriminatorId(i))), p.Request.Timeout);
            CompleteStep();
        });
        Receive<G.ProduceFitnessBatch>(m => Guarded(m, m.Round, m.ReplyTo, core =>
        {
            using var fake = core.GenerateFakes(m.Round, 0, -1, Settings!.Batch);
            var payload = RoundPayload(fake);
            foreach (var member in m.Members)
                Wire.Tell(_discriminators, new D.MeasureFitness(new DiscriminatorId(member), m.RequestId, m.Round, payload, m.ReplyTo), Self);
        }));
        Receive<G.GetSamples>(m => Guarded(m, 0, m.ReplyTo, core =>
        {
            if (m.Count < 1) throw new ArgumentException($"sample count must be positive (got {m.Count})");
            using var samples = core.Sample(m.Count);
            Wire.Tell(m.ReplyTo, new G.SamplesProduced(_id, m.RequestId, TensorCodec.ToPayload(samples)), Self);
        }));
    }

    /// <inheritdoc/>
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The entity's props; the parameters are the constructor's.</summary>
    /// <param name="id">The generator this entity is (<c>g-0</c>).</param>
    /// <param name="discriminators">The discriminator shard region (or any router of <see cref="IWithEntityId"/> messages).</param>
    /// <param name="store">Whether this node has a state store: checkpoint rounds are saved to it.</param>
    public static Props Props(GeneratorId id, IActorRef discriminators, bool store = false)
        => Akka.Actor.Props.Create(() => new GeneratorActor(id, discriminators, store));

    /// <summary>The generator's core for the dataset's sample shape (no data is loaded) on the settings' device.</summary>
    protected override GeneratorCore Create(TrainingSettings settings) => new(settings, RunData.SampleShape(settings), RunData.ResolveDevice(settings.Device));

    /// <summary>The new settings hold from the next step, and the optimizer always takes their <c>lr-g</c>
    /// (<paramref name="resetLearningRate"/> is for members).</summary>
    protected override void Update(GeneratorCore core, TrainingSettings settings, bool resetLearningRate) => core.Update(settings);

    private void Play(G.RunRound m) => Guarded(m, m.Round, m.ReplyTo, core =>
    {
        RoundTrace.Mark("g.round", m.Round);
        if (m.Members.Count == 0) throw new ArgumentException("a generator step needs at least one discriminator");
        if (m.Follows > 0 && m.Follows != _completed)
        {
            m.ReplyTo.Tell(new G.RoundDeclined(_id, m.RequestId, m.Round, $"round {m.Follows} did not complete with every member"));
            return;
        }
        // The generator's weights do not change during the critic phase, so every critic batch can go out now; each
        // discriminator steps on them in order and then answers the generator step's feedback request.
        for (var step = 0; step < m.CriticSteps; step++) SendCriticFakes(core, m, step);
        RoundTrace.Mark("g.critics-sent", m.Round);
        BeginStep(core, m);
        RoundTrace.Mark("g.x-fake-sent", m.Round);
    });

    /// <summary>Plays the rounds that waited for the step just completed, until one is pending again.</summary>
    private void PlayWaiting()
    {
        while (_pending is null && _waiting.TryDequeue(out var next)) Play(next);
    }

    private void SendCriticFakes(GeneratorCore core, G.RunRound m, int criticStep)
    {
        foreach (var member in m.Critics)
        {
            using var fake = core.GenerateFakes(m.Round, criticStep, member, Settings!.Batch);
            Wire.Tell(_discriminators, new D.TrainStep(new DiscriminatorId(member), m.RequestId, m.Round, criticStep, RoundPayload(fake), m.ReplyTo), Self);
        }
    }

    /// <summary>The generator step of <paramref name="m"/>: x_fake out to its members, their answers awaited until its timeout.</summary>
    private void BeginStep(GeneratorCore core, G.RunRound m)
    {
        DropPending();
        using var fake = core.BeginStep(m.Round);
        var payload = RoundPayload(fake);
        _pending = new PendingStep(m, [.. m.Members], new SortedDictionary<int, D.FeedbackComputed>());
        foreach (var member in m.Members)
            Wire.Tell(_discriminators, new D.ComputeFeedback(new DiscriminatorId(member), m.RequestId, m.Round, payload, Self), Self);
        Timers.StartSingleTimer(nameof(StepTimedOut), new StepTimedOut(m.RequestId), m.Timeout);
    }

    /// <summary>Aggregates the answers received (in member order) and steps; with none, drops the step and says so.</summary>
    private void CompleteStep()
    {
        var p = _pending!;
        var m = p.Request;
        _pending = null;
        Timers.Cancel(nameof(StepTimedOut));
        _completed = 0;
        if (p.Answers.Count == 0)
        {
            Core!.AbortStep();
            Reject(m, m.Round, m.ReplyTo, $"no discriminator answered within {m.Timeout}");
            PlayWaiting();
            return;
        }
        try
        {
            using var scope = NewDisposeScope();
            var feedback = p.Answers.Values
                .Select(a => new GeneratorFeedback(a.Discriminator.Member, a.Loss, TensorCodec.ToTensor(a.Gradient, ScalarType.Float32)))
                .ToArray();
            // The tensors hold copies; gradients read off the wire give their arrays back for the next round's.
            foreach (var answer in p.Answers.Values) PayloadPool.Release(answer.Gradient);
            var (gradient, loss) = Aggregation.Combine(Settings!.Aggregate, feedback, Settings.SoftmaxLambda);
            var result = Core!.CompleteStep(m.Round, gradient, loss);
            Round = m.Round;
            if (p.Answers.Count == m.Members.Count) _completed = m.Round;
            RoundTrace.Mark("g.stepped", m.Round);
            m.ReplyTo.Tell(new G.GeneratorStepped(_id, m.RequestId, result, [.. p.Answers.Keys]));
        }
        catch (Exception e) when (e is SerializationException or ArgumentException or InvalidOperationException)
        {
            Core!.AbortStep();
            Reject(m, m.Round, m.ReplyTo, e.Message);
        }
        PlayWaiting();
    }

    /// <summary>
    /// Before the state changes (configure, restore, hand-over): a pending generator step is dropped (its graph released)
    /// and the rounds waiting for it are refused.
    /// </summary>
    protected override void Abandon()
    {
        DropPending();
        _completed = 0;
        while (_waiting.TryDequeue(out var m)) Reject(m, m.Round, m.ReplyTo, "abandoned for a new command before it started");
    }

    private void DropPending()
    {
        if (_pending is null) return;
        Log.Warning("generator step of round {0} abandoned for a new command", _pending.Request.Round);
        Core?.AbortStep();
        _pending = null;
        Timers.Cancel(nameof(StepTimedOut));
    }

    private sealed record PendingStep(G.RunRound Request, HashSet<int> Waiting, SortedDictionary<int, D.FeedbackComputed> Answers);

    private sealed record StepTimedOut(long RequestId);
}

/// <summary>Hosting: the generator entity type on nodes with the <c>generator</c> role, a proxy elsewhere.</summary>
public static class GeneratorHosting
{
    /// <summary>
    /// Starts the <c>generator</c> shard region; needs the discriminator region (or proxy) registered first. With
    /// <paramref name="store"/> the generator saves checkpoint rounds to the node's state store and recovers from it.
    /// </summary>
    /// <param name="builder">The node's Akka configuration.</param>
    /// <param name="store">Whether the node has a state store.</param>
    public static AkkaConfigurationBuilder AddGenerator(this AkkaConfigurationBuilder builder, bool store = false)
        => builder.WithShardRegion<GeneratorRegion>(Roles.Generator,
            (_, registry, _) => _ => GeneratorActor.Props(GeneratorId.Default, registry.Get<DiscriminatorRegion>(), store).WithDispatcher(Roles.ComputeDispatcher),
            new GeneratorMessageExtractor(),
            new ShardOptions { Role = Roles.Generator, RememberEntities = true, StateStoreMode = StateStoreMode.DData, HandOffStopMessage = EntityProtocol.HandOff.Instance });

    /// <summary>A proxy to the generator region, for nodes without the role.</summary>
    /// <param name="builder">The node's Akka configuration.</param>
    public static AkkaConfigurationBuilder AddGeneratorProxy(this AkkaConfigurationBuilder builder)
        => builder.WithShardRegionProxy<GeneratorRegion>(Roles.Generator, Roles.Generator, new GeneratorMessageExtractor());
}
