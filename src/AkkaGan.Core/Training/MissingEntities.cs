using System.Globalization;

namespace AkkaGan.Core.Training;

/// <summary>
/// Who is missing from the run now, followed from its fault and placement events (for <c>gan status</c> and the
/// progress line): an entity whose node is unreachable, until the node is reachable again or the entity lives on
/// another node; a member left out of rounds, until it is recovered. Not thread-safe: its owner serializes the calls.
/// </summary>
public sealed class MissingEntities
{
    private readonly Dictionary<string, Missing> _missing = new(StringComparer.Ordinal);

    /// <summary>The missing entities' ids, in order.</summary>
    public IReadOnlyList<string> Ids => [.. _missing.Keys.Order(StringComparer.Ordinal)];

    /// <summary>
    /// Takes a fault into account: <c>unreachable</c> and <c>suspended</c> mark the entity missing, <c>reachable</c> and <c>recovered</c>
    /// clear it.
    /// </summary>
    public void OnFault(FaultReport report)
    {
        switch (report.Event)
        {
            case "unreachable" when !_missing.TryGetValue(report.Entity, out var known) || known.Event != "suspended":
                _missing[report.Entity] = new Missing(report.Event, report.Round, report.Detail);
                break;
            case "suspended":
                _missing[report.Entity] = new Missing(report.Event, report.Round, report.Detail);
                break;
            case "reachable" when _missing.TryGetValue(report.Entity, out var known) && known.Event == "unreachable":
            case "recovered":
                _missing.Remove(report.Entity);
                break;
        }
    }

    /// <summary>An entity configured on a node (again): one that was only unreachable is back, or lives elsewhere now.</summary>
    public void OnPlaced(IReadOnlyDictionary<string, string> nodes)
    {
        foreach (var entity in nodes.Keys)
            if (_missing.TryGetValue(entity, out var known) && known.Event == "unreachable") _missing.Remove(entity);
    }

    /// <summary>A line per missing entity: who, since when, and what the run waits for.</summary>
    public IEnumerable<string> Describe(int quorum)
        => _missing.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => m.Value.Event == "suspended"
            ? string.Create(CultureInfo.InvariantCulture, $"{m.Key} left out since round {m.Value.Round + 1} (the others train on; it is restored once its node is back or its shard moved; quorum {quorum})")
            : $"{m.Key}: {m.Value.Detail}");

    private sealed record Missing(string Event, long Round, string Detail);
}
