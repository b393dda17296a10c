using AkkaGan.Core.Health;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;

namespace AkkaGan.Core.Tests;

/// <summary>The one key table: every row parses what it reads back, and the views (flags, members, live keys) come from it.</summary>
public sealed class SettingKeysSpecs
{
    /// <summary>Settings away from the defaults, so a getter that reads the wrong property shows.</summary>
    private static TrainingSettings Varied => new()
    {
        Dataset = DatasetKind.Grid25, MixtureScale = 3, LatentDim = 17, Loss = LossKind.Hinge, LrG = 0.0123, LrD = 0.0456, Beta1 = 0.3,
        ClipValue = 0.01, R1Gamma = 2, InstanceNoise = 0.05, Unroll = 3, UnrollOrder = UnrollOrder.Second, Discriminators = 3,
        Members = [new MemberOverrides { Loss = LossKind.Wasserstein, LrD = 5e-4 }, new MemberOverrides(), new MemberOverrides { R1Gamma = 1, Clip = 0.02 }],
        Aggregate = AggregationKind.Softmax, SoftmaxLambda = 2.5, EvolveEvery = 7, NCritic = 4, Rounds = 99, Seed = 1234567890123, EvalEvery = 11,
        Health = new HealthSettings { AutoRemedy = true, Every = 13, CollapseRemedies = [Remedy.AddDiscriminator], VanishingAccuracy = 0.9 },
    };

    public static TheoryData<string> Paths() => [.. SettingKeys.All.Select(k => k.Path)];

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_key_should_parse_what_it_reads_back(string path)
    {
        var key = SettingKeys.At(path);
        foreach (var settings in new[] { new TrainingSettings(), Varied })
            Assert.Equal(SettingsJson.Serialize(settings), SettingsJson.Serialize(key.Apply(settings, key.Get(settings))));
    }

    [Fact]
    public void Keys_flags_and_member_keys_should_be_unique_and_live_keys_a_view_of_the_table()
    {
        Assert.Equal(SettingKeys.All.Count, SettingKeys.All.Select(k => k.Path).Distinct().Count());
        var flags = SettingKeys.All.Where(k => k.HasFlag).Select(k => k.Flag).ToArray();
        Assert.Equal(flags.Length, flags.Distinct().Count());
        Assert.Equal(["loss", "lr-d", "clip", "gradient-penalty", "r1-gamma", "instance-noise", "l2-penalty"], SettingKeys.MemberKeys.Keys);
        Assert.All(LiveSettings.Keys, k => Assert.Contains(k, SettingKeys.All));
        Assert.All(LiveSettings.Keys, k => Assert.True(k.HasFlag, k.Name));
    }

    [Fact]
    public void Members_should_read_back_as_the_spec_they_were_parsed_from()
    {
        const string spec = "loss=hinge,lr-d=0.0005;;r1-gamma=1,clip=0.02";
        var members = SettingKeys.ParseMembers(spec);
        Assert.Equal(3, members.Count);
        Assert.Equal("loss=hinge,lr-d=0.0005;;clip=0.02,r1-gamma=1", SettingKeys.FormatMembers(members));
        Assert.Equal(members, SettingKeys.ParseMembers(SettingKeys.FormatMembers(members)));
    }

    [Fact]
    public void A_live_change_should_read_back_through_the_same_row()
    {
        var changed = LiveSettings.Apply(Varied, "r1-gamma", "0.5");
        var key = LiveSettings.Find("r1-gamma");
        Assert.Equal("0.5", key.Get(changed));
        Assert.All(changed.Members, m => Assert.Null(key.Member!.Get(m))); // a run-wide change replaces every member's override
        var one = LiveSettings.Apply(Varied, "loss", "least-squares", member: 1);
        Assert.Equal("least-squares", LiveSettings.Find("loss").Member!.Get(one.Members[1]));
        Assert.Equal("hinge", LiveSettings.Find("loss").Get(one));
    }
}
