using AkkaGan.Cluster.Configuration;
using AkkaGan.Core.Settings;

namespace AkkaGan.Cluster.Tests;

/// <summary>
/// docs/configuration.md's table is generated from the key table and cluster.hocon: the page in the repository must be
/// what <see cref="ConfigurationReference"/> renders today. <c>./build.sh docs</c> (AKKAGAN_UPDATE_DOCS=1) rewrites it.
/// </summary>
public sealed class ConfigurationReferenceSpecs
{
    private static string Page()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AkkaGan.sln"))) dir = dir.Parent;
        return Path.Combine(dir?.FullName ?? throw new DirectoryNotFoundException("AkkaGan.sln not found above the test folder"),
            "docs", "configuration.md");
    }

    [Fact]
    public void The_configuration_page_should_be_the_reference_rendered_from_the_key_table()
    {
        var path = Page();
        var page = File.ReadAllText(path);
        var expected = ConfigurationReference.Rewrite(page);
        if (Environment.GetEnvironmentVariable("AKKAGAN_UPDATE_DOCS") == "1" && expected != page) File.WriteAllText(path, expected);
        else Assert.True(expected == page, $"{path} is out of date with SettingKeys or cluster.hocon: run ./build.sh docs");
    }

    [Fact]
    public void The_reference_should_name_every_key_with_its_flag_and_built_in_default()
    {
        var text = ConfigurationReference.Markdown();
        foreach (var key in SettingKeys.All)
            Assert.Contains($"`akkagan.{key.Path}`", text);
        Assert.Contains("| `--rounds N` | `akkagan.train.rounds` | `3000` |", text);
        // Keys without a flag say so; live and per-member keys say so.
        Assert.Contains("| (HOCON only) | `akkagan.health.every` |", text);
        Assert.Matches(@"\| `--lr-d X` \| `akkagan\.train\.lr-d` \| `0\.001` \| live, per member \|", text);
        // ring8's, grid25's and the image datasets' own defaults, from akkagan.dataset-defaults.
        Assert.Matches(@"\| key \| `ring8` \| `grid25` \|", text);
        Assert.Matches(@"\| `batch` \| `512` \| `512` \| `64` \| `64` \|", text);
        Assert.Matches(@"\| `rejection-sampling` \| `on` \| `on` \| `off` \|", text);
    }
}
