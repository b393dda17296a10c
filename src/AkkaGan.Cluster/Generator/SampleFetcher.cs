using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Cluster.Wire;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Generator;

/// <summary>
/// Fetches samples from the generator entity for a caller outside the actor system (the control plane's
/// <c>gan sample</c>): a short-lived actor that sends <see cref="G.GetSamples"/>, reassembles a chunked answer (large
/// image samples are chunked like any large message, which a plain Ask could not take), and completes a task.
/// </summary>
public sealed class SampleFetcher : ReceiveActor
{
    private readonly WireInbox _inbox;

    /// <summary>Sends the request at once and stops after the answer, a refusal or the timeout, whichever comes first.</summary>
    /// <param name="generators">The generator's shard region or proxy.</param>
    /// <param name="count">How many samples (at least 1, or the generator refuses).</param>
    /// <param name="timeout">How long to wait for the answer.</param>
    /// <param name="done">Completed with the samples; faulted with <see cref="InvalidOperationException"/> when the generator refuses
    /// (e.g. not configured yet) or <see cref="TimeoutException"/> when it does not answer in time.</param>
    public SampleFetcher(IActorRef generators, int count, TimeSpan timeout, TaskCompletionSource<SampleBatch> done)
    {
        _inbox = new WireInbox(Context.System, Context.GetLogger());
        Receive<IWirePart>(p => _inbox.Receive(p, Self, Sender, OnReceive));
        Receive<G.SamplesProduced>(m =>
        {
            using var tensor = TensorCodec.ToTensor(m.Samples, TorchSharp.torch.ScalarType.Float32);
            done.TrySetResult(new SampleBatch(tensor.contiguous().data<float>().ToArray(), [.. m.Samples.Shape.Skip(1)], (int)m.Samples.Shape[0]));
            Context.Stop(Self);
        });
        Receive<EntityProtocol.Rejected>(m =>
        {
            done.TrySetException(new InvalidOperationException($"the generator refused: {m.Reason}"));
            Context.Stop(Self);
        });
        Receive<ReceiveTimeout>(_ =>
        {
            done.TrySetException(new TimeoutException($"the generator did not answer within {timeout.TotalSeconds:F0} s"));
            Context.Stop(Self);
        });
        Context.SetReceiveTimeout(timeout);
        generators.Tell(new G.GetSamples(GeneratorId.Default, 1, count, Self));
    }
}

/// <summary>Starts a <see cref="SampleFetcher"/> from outside the actor system.</summary>
public static class GeneratorSamples
{
    /// <summary>Samples from the generator entity behind <paramref name="generators"/> (its shard region or proxy).</summary>
    /// <param name="system">The actor system the fetcher runs in.</param>
    /// <param name="generators">The generator's shard region or proxy.</param>
    /// <param name="count">How many samples (at least 1).</param>
    /// <param name="timeout">How long to wait for the answer.</param>
    /// <returns>The samples, flattened; the task faults with <see cref="InvalidOperationException"/> when the generator refuses
    /// and with <see cref="TimeoutException"/> when it does not answer within <paramref name="timeout"/>.</returns>
    public static Task<SampleBatch> FetchAsync(ActorSystem system, IActorRef generators, int count, TimeSpan timeout)
    {
        var done = new TaskCompletionSource<SampleBatch>(TaskCreationOptions.RunContinuationsAsynchronously);
        system.ActorOf(Props.Create(() => new SampleFetcher(generators, count, timeout, done)));
        return done.Task;
    }
}
