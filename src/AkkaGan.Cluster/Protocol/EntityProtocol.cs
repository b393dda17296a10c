using Akka.Actor;
using AkkaGan.Core.Checkpoints;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// What every entity does, whatever its role (<c>g-i</c> or <c>d-i</c>): configure from the run's settings, give its
/// state for a checkpoint, take a state pushed to it or its own from the state store, apply a live change, hand its
/// state over when its shard moves. Each request carries the requester's id and every answer (or refusal) echoes it.
/// The role protocols (<see cref="GeneratorProtocol"/>, <see cref="DiscriminatorProtocol"/>) hold only role work.
/// </summary>
public static class EntityProtocol
{
    /// <summary>
    /// Creates (or re-creates) the entity's computation from the run's settings (a member takes its own loss and learning
    /// rate from them). Answered with <see cref="Configured"/> to <paramref name="ReplyTo"/>; the message's sender (the
    /// coordinator) is where the entity hands its state over when its shard moves. With a <paramref name="RunId"/> (and a
    /// state store on its node) it saves its state at checkpoint rounds under <c>&lt;run-id&gt;/&lt;entity&gt;</c>.
    /// </summary>
    /// <param name="EntityId">The entity (<c>g-0</c>, <c>d-i</c>).</param>
    /// <param name="RequestId">The requester's id, echoed in the answer.</param>
    /// <param name="SettingsJson">The run's training settings as JSON; invalid settings or data that cannot load are refused with
    /// <see cref="Rejected"/>.</param>
    /// <param name="ReplyTo">Where the answer goes.</param>
    /// <param name="RunId">The run's id in the state store (empty: the entity saves nothing).</param>
    public sealed record Configure(string EntityId, long RequestId, string SettingsJson, IActorRef ReplyTo, string RunId = "") : IEntityRequest;

    /// <summary>The entity's state for a checkpoint. Answered with <see cref="SnapshotTaken"/>, after the state store has it (with a run id and a store).</summary>
    /// <param name="EntityId">The entity (<c>g-0</c>, <c>d-i</c>).</param>
    /// <param name="RequestId">The requester's id, echoed in the answer.</param>
    /// <param name="Round">The checkpoint's round: the state is stored under it.</param>
    /// <param name="ReplyTo">Where the answer goes.</param>
    public sealed record GetSnapshot(string EntityId, long RequestId, long Round, IActorRef ReplyTo) : IEntityRequest;

    /// <summary>Replace the entity's state (resume, recovery). Answered with <see cref="Restored"/>.</summary>
    /// <param name="EntityId">The entity (<c>g-0</c>, <c>d-i</c>).</param>
    /// <param name="RequestId">The requester's id, echoed in the answer.</param>
    /// <param name="Snapshot">The state to take: weights, optimizer moments, step and learning rate.</param>
    /// <param name="ReplyTo">Where the answer goes.</param>
    public sealed record RestoreSnapshot(string EntityId, long RequestId, EntitySnapshot Snapshot, IActorRef ReplyTo) : IEntityRequest;

    /// <summary>
    /// Replace the entity's state with its own snapshot of round <paramref name="Round"/> from the state store (recovery
    /// without the state crossing the wire). Answered with <see cref="Restored"/>, or <see cref="Rejected"/> when the store
    /// has no such snapshot (or the node has no store): the requester then sends <see cref="RestoreSnapshot"/>.
    /// </summary>
    /// <param name="EntityId">The entity (<c>g-0</c>, <c>d-i</c>).</param>
    /// <param name="RequestId">The requester's id, echoed in the answer.</param>
    /// <param name="Round">The round of the stored snapshot to load.</param>
    /// <param name="ReplyTo">Where the answer goes.</param>
    public sealed record RecoverFromStore(string EntityId, long RequestId, long Round, IActorRef ReplyTo) : IEntityRequest;

    /// <summary>
    /// A live change: the entity's settings from the run's new ones (<see cref="Core.Training.RunChanges"/>); a member's
    /// optimizer learning rate too when <paramref name="ResetLearningRate"/>. Answered with <see cref="SettingsApplied"/>.
    /// </summary>
    /// <param name="EntityId">The entity (<c>g-0</c>, <c>d-i</c>).</param>
    /// <param name="RequestId">The requester's id, echoed in the answer.</param>
    /// <param name="SettingsJson">The run's new training settings as JSON; invalid ones are refused with <see cref="Rejected"/>.</param>
    /// <param name="ResetLearningRate">Whether a member's optimizer takes its learning rate from the new settings (an lr-d change);
    /// otherwise an evolved member keeps its own. The generator always takes its rate from the settings.</param>
    /// <param name="Round">The rounds completed when the change applies; a discriminator past it refuses it as stale.</param>
    /// <param name="ReplyTo">Where the answer goes.</param>
    public sealed record ApplySettings(string EntityId, long RequestId, string SettingsJson, bool ResetLearningRate, long Round, IActorRef ReplyTo) : IEntityRequest;

    /// <summary>
    /// The shard's stop message when the entity's shard moves (its node leaves): it sends its state to the coordinator
    /// (<see cref="HandedOff"/>) and stops, so it resumes on its new node from where it was. Local only.
    /// </summary>
    public sealed record HandOff
    {
        /// <summary>The one instance, set as the shard regions' hand-off stop message.</summary>
        public static readonly HandOff Instance = new();
    }

    /// <summary>The entity is configured from the settings (its state freshly initialised, round 0).</summary>
    /// <param name="EntityId">The entity.</param>
    /// <param name="RequestId">The <see cref="Configure"/>'s request id.</param>
    /// <param name="Node">The address of the node the entity runs on (placement, shown to users).</param>
    public sealed record Configured(string EntityId, long RequestId, string Node) : IEntityReply;

    /// <summary>The entity's state for a checkpoint; stored first when the entity has a run id and a store.</summary>
    /// <param name="EntityId">The entity.</param>
    /// <param name="RequestId">The <see cref="GetSnapshot"/>'s request id.</param>
    /// <param name="Round">The checkpoint's round, as requested.</param>
    /// <param name="Snapshot">Its weights, optimizer moments, step and learning rate.</param>
    public sealed record SnapshotTaken(string EntityId, long RequestId, long Round, EntitySnapshot Snapshot) : IEntityReply;

    /// <summary>The state of a <see cref="RestoreSnapshot"/> or <see cref="RecoverFromStore"/> is in place.</summary>
    /// <param name="EntityId">The entity.</param>
    /// <param name="RequestId">The request's id.</param>
    /// <param name="Node">The address of the node the entity runs on.</param>
    public sealed record Restored(string EntityId, long RequestId, string Node) : IEntityReply;

    /// <summary>The entity runs with the new settings of an <see cref="ApplySettings"/>.</summary>
    /// <param name="EntityId">The entity.</param>
    /// <param name="RequestId">The <see cref="ApplySettings"/>' request id.</param>
    /// <param name="Round">The request's round.</param>
    public sealed record SettingsApplied(string EntityId, long RequestId, long Round) : IEntityReply;

    /// <summary>
    /// A request the entity refused (not configured, stale round, a tensor of the wrong shape, no such snapshot, ...): the
    /// reason names the problem; the entity keeps running with its state unchanged. One refusal for every request of every role.
    /// </summary>
    /// <param name="EntityId">The entity that refused.</param>
    /// <param name="RequestId">The refused request's id.</param>
    /// <param name="Round">The request's round where the entity checks one; 0 otherwise (configure, restore, samples).</param>
    /// <param name="Command">The refused request's type name (<c>TrainStep</c>, <c>Configure</c>, ...).</param>
    /// <param name="Reason">What was wrong, readable by an operator.</param>
    public sealed record Rejected(string EntityId, long RequestId, long Round, string Command, string Reason) : IEntityReply;

    /// <summary>The entity's state as it stopped for a hand-off (after round <paramref name="Round"/>), for the coordinator to restore it on its new node.</summary>
    /// <param name="EntityId">The entity that moves.</param>
    /// <param name="Round">The last round it stepped in (0 when it was configured or restored since).</param>
    /// <param name="Node">The address of the node it left.</param>
    /// <param name="Snapshot">Its weights, optimizer moments, step and learning rate.</param>
    public sealed record HandedOff(string EntityId, long Round, string Node, EntitySnapshot Snapshot) : IAkkaGanWireMessage;
}
