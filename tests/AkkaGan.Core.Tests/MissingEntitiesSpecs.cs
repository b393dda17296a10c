using AkkaGan.Core.Training;

namespace AkkaGan.Core.Tests;

public sealed class MissingEntitiesSpecs
{
    private static FaultReport Fault(long round, string entity, string kind, string detail = "why") => new(round, entity, kind, detail);

    [Fact]
    public void An_unreachable_member_should_be_missing_until_left_out_and_then_until_it_is_recovered()
    {
        var missing = new MissingEntities();
        missing.OnFault(Fault(230, "d-0", "unreachable", "its node N is unreachable since 10:00:00 UTC; the round in flight waits for it up to 10 s"));
        Assert.Equal(["d-0"], missing.Ids);
        Assert.Equal(["d-0: its node N is unreachable since 10:00:00 UTC; the round in flight waits for it up to 10 s"], missing.Describe(1));

        missing.OnFault(Fault(230, "d-0", "suspended"));
        Assert.StartsWith("d-0 left out since round 231", Assert.Single(missing.Describe(1)));
        // Neither its node being unreachable again nor reachable, nor a new placement, brings a left-out member back: only its recovery does.
        missing.OnFault(Fault(240, "d-0", "unreachable"));
        missing.OnFault(Fault(241, "d-0", "reachable"));
        missing.OnPlaced(new Dictionary<string, string> { ["d-0"] = "other" });
        Assert.StartsWith("d-0 left out since round 231", Assert.Single(missing.Describe(1)));
        missing.OnFault(Fault(260, "d-0", "recovered"));
        Assert.Empty(missing.Ids);
    }

    [Fact]
    public void An_unreachable_entity_should_be_back_when_reachable_again_or_placed_anew()
    {
        var missing = new MissingEntities();
        missing.OnFault(Fault(5, "d-1", "unreachable"));
        missing.OnFault(Fault(5, "g-0", "unreachable"));
        Assert.Equal(["d-1", "g-0"], missing.Ids);
        missing.OnFault(Fault(5, "d-1", "reachable"));
        Assert.Equal(["g-0"], missing.Ids);
        // The generator rolled back onto another node (or the same one, configured again).
        missing.OnPlaced(new Dictionary<string, string> { ["g-0"] = "other", ["d-0"] = "this" });
        Assert.Empty(missing.Ids);
        // Faults that say nothing about presence leave it alone.
        missing.OnFault(Fault(6, "g-0", "rolled-back"));
        Assert.Empty(missing.Ids);
    }
}
