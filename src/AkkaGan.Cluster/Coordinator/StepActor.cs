using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Wire;
using AkkaGan.Core.Settings;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// What a step child needs of the run: where the entities are, how long to wait, the settings of the round, and the
/// coordinator, the sender of every request (a configured entity hands its state over to it).
/// </summary>
internal sealed record StepContext(IActorRef Generator, IActorRef Discriminators, TimeSpan StepTimeout, TrainingSettings Settings, long Round, string RunId,
    IActorRef Coordinator)
{
    /// <summary>Configuring and restoring (first touches of remote nodes, data loading) may take longer than a step.</summary>
    public TimeSpan SetupTimeout => StepTimeout > TimeSpan.FromMinutes(1) ? StepTimeout : TimeSpan.FromMinutes(1);

    /// <summary>
    /// Work between rounds that grows with the model and the sample count (evaluation samples and fitness, snapshots for a
    /// checkpoint, evolution's weight transfer): three step timeouts (30 s with the default), so the step timeout chosen
    /// for fast fault detection in rounds does not cut an evaluation of thousands of images short.
    /// </summary>
    public TimeSpan WorkTimeout => 3 * StepTimeout;
}

/// <summary>The answers of one request, as they came (refusals included).</summary>
internal sealed record Answers(IReadOnlyList<IEntityReply> All, int Expected)
{
    public IEnumerable<T> Of<T>() => All.OfType<T>();

    public IReadOnlyList<E.Rejected> Rejected => [.. All.OfType<E.Rejected>()];

    /// <summary>Whether every entity answered and none refused.</summary>
    public bool Complete => All.Count >= Expected && Rejected.Count == 0;
}

/// <summary>
/// A child of the coordinator that carries out one step of the run against the entities (a short-lived one per step,
/// or, for the rounds, one for the whole run, so the entities answer one address): it sends the
/// step's requests (this actor is their reply address, the coordinator their sender, so a configured entity hands its
/// state over to the coordinator), gathers the answers to each request by its id until all are in, the timeout
/// passes, or the generator refuses, reassembles chunked answers, and tells its parent (the coordinator, or a step
/// made of steps) the step's result.
/// </summary>
internal abstract class StepActor : ReceiveActor, IWithTimers
{
    private readonly LargeMessages _wire = new(Context.System);
    private readonly WireInbox _inbox;
    private readonly IActorRef _parent = Context.Parent;
    private long _lastRequest;
    private (long RequestId, string Name, int Expected, List<IEntityReply> Answers, Action<Answers> Then, Func<IReadOnlyList<IEntityReply>, bool>? Enough)? _pending;

    protected StepActor(StepContext step)
    {
        Step = step;
        _inbox = new WireInbox(Context.System, Log);
        Receive<IWirePart>(p => _inbox.Receive(p, Self, Sender, Answer));
        Receive<TimedOut>(t =>
        {
            if (_pending is not { } p || p.RequestId != t.RequestId) return;
            Log.Warning("{0} of round {1}: {2} of {3} answers in time, carrying on", p.Name, Step.Round + 1, p.Answers.Count, p.Expected);
            Complete();
        });
        Receive<IEntityReply>(Answer);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The run as the step sees it (a long-lived step child takes it with each request).</summary>
    protected StepContext Step { get; set; }

    protected TrainingSettings Settings => Step.Settings;

    protected ILoggingAdapter Log { get; } = Context.GetLogger();

    /// <summary>
    /// Sends one request per entity (made from the new request id and this actor's reference) and calls
    /// <paramref name="then"/> with the answers once <paramref name="expected"/> have come (or <paramref name="enough"/>
    /// says the answers in are all that will come), at the timeout, or at once when the generator refuses.
    /// </summary>
    protected void Ask(string name, IEnumerable<Func<long, IActorRef, IEntityRequest>> requests, int expected, Action<Answers> then, TimeSpan? timeout = null,
        Func<IReadOnlyList<IEntityReply>, bool>? enough = null)
    {
        var id = NewRequestId();
        _pending = (id, name, expected, [], then, enough);
        foreach (var request in requests.Select(r => r(id, Self)).ToArray())
            _wire.Tell(EntityIds.IsGenerator(request.EntityId) ? Step.Generator : Step.Discriminators, request, Step.Coordinator);
        Timers.StartSingleTimer(nameof(TimedOut), new TimedOut(id), timeout ?? Step.StepTimeout);
    }

    /// <summary>The next request's id: 1, 2, 3, ... for this child.</summary>
    protected virtual long NewRequestId() => ++_lastRequest;

    /// <summary>Tells the parent the step's result and stops.</summary>
    protected void Done(object result)
    {
        _parent.Tell(result);
        Context.Stop(Self);
    }

    /// <summary>Tells the parent the step's result and waits for the next request (a long-lived step child).</summary>
    protected void Reply(object result) => _parent.Tell(result);

    private void Answer(object message)
    {
        if (message is not IEntityReply reply || _pending is not { } p || p.RequestId != reply.RequestId) return;
        if (reply is E.Rejected) Log.Warning("{0}: {1}", p.Name, reply);
        p.Answers.Add(reply);
        if (p.Answers.Count >= p.Expected || reply is E.Rejected rejected && EntityIds.IsGenerator(rejected.EntityId) || p.Enough?.Invoke(p.Answers) == true) Complete();
    }

    private void Complete()
    {
        var p = _pending!.Value;
        _pending = null;
        Timers.Cancel(nameof(TimedOut));
        p.Then(new Answers(p.Answers, p.Expected));
    }

    private sealed record TimedOut(long RequestId);
}
