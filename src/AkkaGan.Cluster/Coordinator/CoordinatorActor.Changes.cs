using Akka.Actor;
using Akka.Event;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using C = AkkaGan.Cluster.Protocol.CoordinatorProtocol;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;

namespace AkkaGan.Cluster.Coordinator;

/// <summary>Operator changes between rounds (<c>gan set</c>, <c>gan population</c>; see <see cref="RunChanges"/>).</summary>
public sealed partial class CoordinatorActor
{
    /// <summary>
    /// An operator's change between rounds, in the reference engine's terms (<see cref="RunChanges.Plan"/>): a new
    /// member is configured first (if it cannot be, nothing changes), then every entity takes the new settings, a
    /// removed member is retired, and the schedule uses the new settings from the next round.
    /// </summary>
    private void ApplyChange(RunChange change, IActorRef requester)
    {
        ChangePlan plan;
        try
        {
            plan = RunChanges.Plan(Settings, change);
        }
        catch (SettingsException e)
        {
            Refused(requester, string.Join("; ", e.Problems));
            return;
        }
        var json = SettingsJson.Serialize(plan.Settings);
        if (plan.Added is { } added)
        {
            var member = plan.Settings.ForMember(added);
            _discriminators.Tell(new D.Configure(new DiscriminatorId(added), json, member.Loss, member.LrD, Self, _positions.RunId));
            Expect($"configure d-{added}", 1, accept: a => a is D.Configured c && c.Discriminator.Member == added || a is D.CommandRejected r && r.Discriminator.Member == added, then: answers =>
            {
                if (answers.OfType<D.Configured>().FirstOrDefault() is not { } configured)
                {
                    Refused(requester, $"{new DiscriminatorId(added)} could not be created: no confirmation within {_stepTimeout}");
                    return;
                }
                _observer.Tell(new C.Placed(new Dictionary<string, string> { [configured.Discriminator.EntityId] = configured.Node }));
                Commit(plan, json, requester);
            });
            return;
        }
        Commit(plan, json, requester);
    }

    private void Refused(IActorRef requester, string reason)
    {
        requester.Tell(new C.ChangeRefused(reason));
        _schedule.ChangeApplied(null, reason);
        Drive();
    }

    private void Commit(ChangePlan plan, string json, IActorRef requester)
    {
        var keeping = _members.Where(i => i != plan.Removed).ToArray();
        _generator.Tell(new G.ApplySettings(GeneratorId.Default, json, Round, Self));
        foreach (var i in keeping)
            _discriminators.Tell(new D.ApplySettings(new DiscriminatorId(i), json, plan.ResetLearningRate.Contains(i), Round, Self));
        Expect($"change '{plan.Description}'", 1 + keeping.Length, answers =>
        {
            if (answers.Count < 1 + keeping.Length)
                _log.Warning("change '{0}': {1} of {2} entities confirmed it", plan.Description, answers.Count, 1 + keeping.Length);
            if (plan.Removed is { } removed)
            {
                _discriminators.Tell(new D.Retire(new DiscriminatorId(removed), Round));
                _learningRates.Remove(removed);
                _positions.Forget(DiscriminatorCore.EntityIdOf(removed)); // the next stored position no longer names it
            }
            _members = plan.Settings.ActiveMembers;
            foreach (var i in _members.Where(i => i == plan.Added || plan.ResetLearningRate.Contains(i)))
                _learningRates[i] = plan.Settings.ForMember(i).LrD;
            var report = new C.RunChanged(new ChangeReport(Round, plan.Description, plan.Settings));
            requester.Tell(report);
            _observer.Tell(report);
            _schedule.ChangeApplied(plan.Settings);
            Drive();
        });
    }
}
