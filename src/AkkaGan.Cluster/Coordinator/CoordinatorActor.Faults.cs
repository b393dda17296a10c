using Akka.Actor;
using AkkaGan.Cluster.Persistence;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>
/// Faults: members that miss a round are suspended and restored (<see cref="MemberRecovery"/>), a generator that fails
/// a round is restored from its handed-over state or the run rolls back, roll-backs (<see cref="RollBackActor"/>) restore every
/// entity from its own snapshot in the state store or from the last checkpoint, and a coordinator started again under the same run id
/// continues from the store's position. Every fault is published as a <see cref="FaultReport"/>.
/// </summary>
public sealed partial class CoordinatorActor
{
    /// <summary>
    /// A suspended member is back (told by <see cref="MemberRecovery"/>): it takes part from the next round. Records its node
    /// and learning rate, publishes a <c>recovered</c> fault, and wakes the schedule if it was idle (waiting below the quorum).
    /// </summary>
    /// <param name="member">The member's index.</param>
    /// <param name="node">The address of the node it runs on now.</param>
    /// <param name="detail">What it was restored from and what it lost, for the fault report.</param>
    /// <param name="snapshot">The state it was restored to, with the learning rate it has now (null: re-initialised).</param>
    public void Readmitted(int member, string node, string detail, EntitySnapshot? snapshot)
    {
        if (snapshot is not null) _learningRates[member] = snapshot.LearningRate;
        Place(new Dictionary<string, string> { [new DiscriminatorId(member).EntityId] = node });
        Fault(new DiscriminatorId(member).EntityId, "recovered", $"{detail}, taking part from round {Round + 1}");
        WakeIfIdle(null);
    }

    /// <summary>The last full checkpoint, taken or resumed from (null: none yet): roll-backs and recoveries go back to it.</summary>
    public Checkpoint? LastCheckpoint => _lastCheckpoint;

    /// <summary>
    /// The round of the state the last checkpoint holds for <paramref name="entityId"/>: the checkpoint's round, or an older
    /// one for a member left out of it (null: no checkpoint yet).
    /// </summary>
    public long? StateRound(string entityId) => _lastCheckpoint?.Metadata.RoundOf(entityId);

    /// <summary>The population's member indices, suspended members included.</summary>
    public IReadOnlyList<int> Members => _members;

    /// <summary>
    /// The round of <paramref name="entityId"/>'s own snapshot in the state store that the last checkpoint holds (null: none,
    /// or the run has no store or no run id).
    /// </summary>
    public long? InStore(string entityId) => _positions.RoundOf(entityId);

    /// <summary>
    /// The generator did not complete a round. When it moved gracefully (its node left) and handed over its state of the
    /// last completed round, and no discriminator stepped on the unfinished round, it is restored on its new node and
    /// nothing is redone; otherwise the schedule rolls every entity back.
    /// </summary>
    private void RecoverGenerator(string reason, bool criticStepsTaken)
    {
        var entity = GeneratorId.Default.EntityId;
        if (criticStepsTaken || _recovery.TakeHandedOff(entity) is not { } handed || handed.Round != Round)
        {
            _schedule.RoundFailed(reason);
            Drive();
            return;
        }
        Setup([new SetupActor.Target(entity, handed.Snapshot)], Step.SetupTimeout, r =>
        {
            if (!r.Restored.Contains(entity))
            {
                _schedule.RoundFailed(reason);
                Drive();
                return;
            }
            Place(new Dictionary<string, string> { [entity] = r.Configured[entity] });
            Fault(entity, "recovered", $"{reason}: restored from the state it handed over at round {handed.Round} on {r.Configured[entity]}; nothing redone");
            _schedule.RoundNotPlayed();
            Drive();
        });
    }

    /// <summary>
    /// A start without a checkpoint under a run id the store already knows (a coordinator started again): read the
    /// stored position and every entity's snapshot it names, and start as if resuming from that checkpoint. Runs on a
    /// task; control requests wait in the stash meanwhile.
    /// </summary>
    private void ReadPosition(C.StartTraining start)
    {
        Become(() =>
        {
            Receive<PositionRead>(read =>
            {
                Stash.UnstashAll();
                if (read.Error is not null)
                {
                    Become(Running);
                    Fail(read.Error);
                }
                else if (read.Checkpoint is not { } stored) Begin(start, null);
                else if (stored.Metadata.Round >= SettingsJson.Deserialize(stored.Metadata.SettingsJson).Rounds)
                {
                    // The run ended normally where it was trained (a standby takes the singleton over as that node
                    // leaves): there is nothing to take over, and nothing is trained again.
                    Finish(new RunStep.Finish(stored.Metadata.Round, RunOutcome.Completed,
                        $"run {RunId} already completed at round {stored.Metadata.Round} (the state store's position); nothing to take over"), nothingTrained: true);
                }
                else Begin(start with { SettingsJson = stored.Metadata.SettingsJson, Resume = stored }, read.Stored);
            });
            ReceiveAny(_ => Stash.Stash());
        });
        var runId = RunId;
        _positions.ReadAsync().PipeTo(Self, failure: e => new PositionRead(null, new Dictionary<string, long>(), $"reading run {runId} from the state store failed: {e.Message}"));
    }
}
