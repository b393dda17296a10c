using AkkaGan.Core.Checkpoints;

namespace AkkaGan.Cluster.Protocol;

/// <summary>
/// What the state store (Akka.Persistence's snapshot store) holds: written as bytes by <see cref="Serialization.AkkaGanSerializer"/>
/// like any wire message (tensors as <c>TensorPayload</c>), so a snapshot in the database is the bytes a checkpoint holds.
/// </summary>
public static class StateProtocol
{
    /// <summary>
    /// An entity's state at the end of round <paramref name="Round"/> (weights, optimizer moments, step, learning rate),
    /// stored under <c>&lt;run-id&gt;/&lt;entity&gt;</c> with the round as sequence number.
    /// </summary>
    /// <param name="EntityId">The entity (<c>g-0</c>, <c>d-i</c>).</param>
    /// <param name="Round">The checkpoint round the state belongs to.</param>
    /// <param name="Snapshot">The entity's snapshot, as a checkpoint holds it.</param>
    public sealed record EntityState(string EntityId, long Round, EntitySnapshot Snapshot) : IAkkaGanWireMessage;

    /// <summary>
    /// The coordinator's schedule position: the last completed checkpoint round and the run's settings at that round
    /// (live changes included, so the population and learning rates are those in force), stored under
    /// <c>&lt;run-id&gt;/coordinator</c> with the round as sequence number.
    /// </summary>
    /// <param name="RunId">The run's id.</param>
    /// <param name="Round">The last completed checkpoint's round.</param>
    /// <param name="SettingsJson">The run's training settings in force at that round, as JSON.</param>
    /// <param name="Seed">The run's base seed (the settings' <c>seed</c>), for the checkpoint rebuilt from the position.</param>
    /// <param name="Stored">For each entity the round of its snapshot in the store that the checkpoint holds (a member
    /// suspended at the checkpoint keeps its state of an earlier one).</param>
    public sealed record RunPosition(string RunId, long Round, string SettingsJson, long Seed, IReadOnlyList<StoredRound> Stored) : IAkkaGanWireMessage;

    /// <summary>An entity and the round of its snapshot in the store.</summary>
    /// <param name="EntityId">The entity (<c>g-0</c>, <c>d-i</c>).</param>
    /// <param name="Round">The round its snapshot is stored under.</param>
    public sealed record StoredRound(string EntityId, long Round);
}
