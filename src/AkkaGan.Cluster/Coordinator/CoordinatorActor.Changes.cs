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
    /// <param name="applied">Told whether the change took effect (a remedy's bookkeeping), before <paramref name="next"/>.</param>
    private void ApplyChange(RunChange change, IActorRef requester, Action next, Action<bool>? applied = null)
    {
        ChangePlan plan;
        try
        {
            plan = RunChanges.Plan(_settings, change);
        }
        catch (SettingsException e)
        {
            requester.Tell(new C.ChangeRefused(string.Join("; ", e.Problems)));
            applied?.Invoke(false);
            next();
            return;
        }
        var json = SettingsJson.Serialize(plan.Settings);
        if (plan.Added is { } added)
        {
            var member = plan.Settings.ForMember(added);
            _discriminators.Tell(new D.Configure(new DiscriminatorId(added), json, member.Loss, member.LrD, Self, _runId));
            Expect($"configure d-{added}", 1, accept: a => a is D.Configured c && c.Discriminator.Member == added || a is D.CommandRejected r && r.Discriminator.Member == added, then: answers =>
            {
                if (answers.OfType<D.Configured>().FirstOrDefault() is not { } configured)
                {
                    requester.Tell(new C.ChangeRefused($"{new DiscriminatorId(added)} could not be created: no confirmation within {_stepTimeout}"));
                    applied?.Invoke(false);
                    next();
                    return;
                }
                _observer.Tell(new C.Placed(new Dictionary<string, string> { [configured.Discriminator.EntityId] = configured.Node }));
                Commit(plan, json, requester, next, applied);
            });
            return;
        }
        Commit(plan, json, requester, next, applied);
    }

    private void Commit(ChangePlan plan, string json, IActorRef requester, Action next, Action<bool>? applied)
    {
        var keeping = _members.Where(i => i != plan.Removed).ToArray();
        _generator.Tell(new G.ApplySettings(GeneratorId.Default, json, _round, Self));
        foreach (var i in keeping)
            _discriminators.Tell(new D.ApplySettings(new DiscriminatorId(i), json, plan.ResetLearningRate.Contains(i), _round, Self));
        Expect($"change '{plan.Description}'", 1 + keeping.Length, answers =>
        {
            if (answers.Count < 1 + keeping.Length)
                _log.Warning("change '{0}': {1} of {2} entities confirmed it", plan.Description, answers.Count, 1 + keeping.Length);
            if (plan.Removed is { } removed)
            {
                _discriminators.Tell(new D.Retire(new DiscriminatorId(removed), _round));
                _learningRates.Remove(removed);
                _stored.Remove(DiscriminatorCore.EntityIdOf(removed)); // the next stored position no longer names it
            }
            _settings = plan.Settings;
            _members = _settings.ActiveMembers;
            foreach (var i in _members.Where(i => i == plan.Added || plan.ResetLearningRate.Contains(i)))
                _learningRates[i] = _settings.ForMember(i).LrD;
            var report = new C.RunChanged(new ChangeReport(_round, plan.Description, _settings));
            requester.Tell(report);
            _observer.Tell(report);
            applied?.Invoke(true);
            next();
        });
    }
}
