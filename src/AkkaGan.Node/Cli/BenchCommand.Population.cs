using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using AkkaGan.Core.Settings;
using Spectre.Console;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan bench population</c>: how the rounds/s of a discriminator population scale with its size N, on the
/// reference engine, the one-node cluster and a cluster of one process per member (N discriminator processes and a
/// coordinator+generator process on loopback), side by side as <c>bench engines</c> measures them: fresh processes,
/// engines alternating within each repetition, medians of the steady rate and their ratios to the reference engine.
/// Image datasets run far fewer rounds (<c>--image-rounds</c>), evaluating at the end of the warm-up and every as many
/// rounds after it on 500 samples, so the steady rate has two evaluations to be measured between and they stay cheap.
/// </summary>
public static partial class BenchCommand
{
    private static readonly string[] PopulationEngines = ["reference", "cluster_1node", "cluster_procs"];

    /// <summary>The datasets <c>bench population</c> takes, by name: whether each is an image dataset.</summary>
    private static readonly Dictionary<string, bool> PopulationDatasets = Enum.GetValues<DatasetKind>()
        .Where(kind => kind is not (DatasetKind.Points or DatasetKind.Images))   // built-in data only: no files to name
        .Select(kind => (Name: SettingValues.Kebab(kind), Image: !new TrainingSettings { Dataset = kind }.IsToyData))
        .Where(d => d.Name == "ring8" || d.Image)
        .ToDictionary(d => d.Name, d => d.Image);

    /// <summary>Generated samples per evaluation on image datasets, unless the flags after `--` say otherwise.</summary>
    private const int ImageEvalSamples = 500;

    private static Command CreatePopulation()
    {
        var population = new Command("population",
            "Rounds/s of a discriminator population of each size N in --members, on each dataset in --datasets, with three engines: the " +
            "reference engine (`train --engine reference --discriminators N`), the one-node cluster engine (`train --engine cluster " +
            "--discriminators N`) and a cluster of one process per member on loopback (N discriminator processes and a coordinator+generator " +
            "process with --discriminator-nodes N). Every measurement is a fresh process; each repetition measures every dataset and N, the " +
            "engines alternating. Prints per dataset the medians of the steady rate (after the warm-up), their ratios to the reference " +
            "engine, and the process cluster's ratio relative to the smallest N's. Image datasets run --image-rounds rounds and evaluate " +
            $"every --image-warmup rounds on {ImageEvalSamples} samples (unless --eval-every or --eval-samples follow `--`). " +
            "Extra training flags may follow `--`.");
        var members = new Option<string>("--members")
        {
            Description = "Population sizes N to measure (comma-separated positive integers)", HelpName = "N,N,...", DefaultValueFactory = _ => "1,2,3,4",
        };
        var datasets = new Option<string>("--datasets")
        {
            Description = $"Datasets to measure on (comma-separated: {string.Join(", ", PopulationDatasets.Keys)})", HelpName = "NAME,...",
            DefaultValueFactory = _ => "ring8",
        };
        population.Options.Add(members);
        population.Options.Add(datasets);
        var plan = PlanOptions.AddTo(population, rounds: 800, warmup: 200,
            "Training flags for every run (default: the dataset's defaults in cluster.hocon)");
        plan.Rounds.Description = "Rounds per measurement on ring8";
        plan.Warmup.Description = "Rounds on ring8 before the steady rate is counted (from the first evaluation at or after them, " +
                                  "every 250 rounds by default; 0: the whole run)";
        plan.Repetitions.Description = "Measurements per engine, dataset and N";
        var imageRounds = new Option<int>("--image-rounds") { Description = "Rounds per measurement on an image dataset", HelpName = "N", DefaultValueFactory = _ => 60 };
        var imageWarmup = new Option<int>("--image-warmup")
        {
            Description = "Rounds on an image dataset before the steady rate is counted; also its evaluation interval (0: the whole run)",
            HelpName = "N", DefaultValueFactory = _ => 20,
        };
        population.Options.Insert(population.Options.IndexOf(plan.Warmup) + 1, imageRounds);
        population.Options.Insert(population.Options.IndexOf(imageRounds) + 1, imageWarmup);
        population.SetAction(parse =>
        {
            var ring8 = plan.Read(parse);
            var image = ring8 with { Rounds = parse.GetValue(imageRounds), Warmup = parse.GetValue(imageWarmup) };
            return RunPopulation(ParseMembers(parse.GetValue(members)!), ParseDatasets(parse.GetValue(datasets)!), ring8, image,
                parse.GetValue(plan.Json), parse.GetValue(plan.Keep));
        });
        return population;
    }

    /// <summary>The population sizes of <c>--members</c>, ascending, each once.</summary>
    private static int[] ParseMembers(string text)
    {
        var sizes = text.Split(',', StringSplitOptions.TrimEntries)
            .Select(s => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 0)
            .ToArray();
        return sizes.Contains(0)
            ? throw new SettingsException($"--members: \"{text}\" (positive integers, comma-separated)")
            : [.. sizes.Distinct().Order()];
    }

    /// <summary>The datasets of <c>--datasets</c>, in the order given, each once.</summary>
    private static string[] ParseDatasets(string text) => ParseList(text, "--datasets", PopulationDatasets.Keys);

    /// <summary>The names of a comma-separated <paramref name="flag"/>, in the order given, each once; each one of <paramref name="known"/>.</summary>
    private static string[] ParseList(string text, string flag, IReadOnlyCollection<string> known)
    {
        var names = text.Split(',', StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).ToArray();
        return names.All(known.Contains)
            ? [.. names.Distinct()]
            : throw new SettingsException($"{flag}: \"{text}\" (comma-separated: {string.Join(", ", known)})");
    }

    /// <param name="ring8">Rounds and warm-up for ring8, with the repetitions and the training flags after `--`.</param>
    /// <param name="image">The same for the image datasets (<c>--image-rounds</c>, <c>--image-warmup</c>).</param>
    private static int RunPopulation(int[] sizes, string[] datasets, Plan ring8, Plan image, string? jsonFile, string? keep)
    {
        ring8.Validate(["--rounds", "--out", "--engine", "--resume", "--discriminators", "--dataset", "--discriminator-nodes"],
            flag => $"bench population: {flag} after `--` is the benchmark's own: give --rounds (--image-rounds for image datasets), " +
                    "--members and --datasets before `--`; --out, --engine, --resume and --discriminator-nodes are set per measurement");
        CheckRounds(image.Rounds, image.Warmup, "--image-rounds", "--image-warmup");
        Plan PlanOf(string dataset) => PopulationDatasets[dataset] ? image : ring8;
        var results = (from dataset in datasets from n in sizes from engine in PopulationEngines select (dataset, n, engine))
            .ToDictionary(k => k, _ => new List<Measurement>());
        var code = InWorkFolder(keep, work =>
        {
            Console.WriteLine($"akkagan bench population: N = {string.Join(", ", sizes)} on " +
                              string.Join(", ", datasets.Select(d => $"{d} ({PlanOf(d).Rounds} rounds, steady after {PlanOf(d).Warmup})")) +
                              $"; {ring8.Repetitions} repetitions, engines alternating" +
                              (ring8.Flags.Length > 0 ? $", flags {string.Join(' ', ring8.Flags)}" : ", default settings"));
            var width = datasets.Max(d => d.Length);
            for (var rep = 1; rep <= ring8.Repetitions; rep++)
            {
                foreach (var dataset in datasets)
                {
                    foreach (var n in sizes)
                    {
                        foreach (var engine in PopulationEngines)
                        {
                            var output = Path.Combine(work, $"{dataset}-n{n}-{engine}-{rep}");
                            var label = $"repetition {rep}/{ring8.Repetitions} {dataset.PadRight(width)} N={n,-2} {engine,-14}";
                            try
                            {
                                results[(dataset, n, engine)].Add(RunMeasurement(engine, n, PopulationFlags(dataset, n, PlanOf(dataset)), output, PlanOf(dataset).Warmup, label));
                            }
                            catch (InvalidOperationException e)
                            {
                                Console.Error.WriteLine($"akkagan: error: bench population, {dataset}, N={n}, {engine}: {e.Message}");
                                return 1;
                            }
                        }
                    }
                }
            }
            return 0;
        });
        if (code != 0) return code;

        var byDataset = new JsonObject();
        foreach (var dataset in datasets)
        {
            var plan = PlanOf(dataset);
            var steady = sizes.ToDictionary(n => n,
                n => PopulationEngines.ToDictionary(e => e, e => Median([.. results[(dataset, n, e)].Select(m => m.Steady)])));
            PrintPopulationTable(dataset, plan, sizes, steady);
            byDataset[dataset] = new JsonObject
            {
                ["rounds"] = plan.Rounds,
                ["warmup"] = plan.Warmup,
                ["members"] = new JsonArray([.. sizes.Select(n =>
                {
                    var member = AddRates(new JsonObject { ["n"] = n }, PopulationEngines, steady[n]);
                    member["samples"] = Samples(PopulationEngines.Select(e => (e, results[(dataset, n, e)].Select(m => m.Steady))), 3);
                    return (JsonNode)member;
                })]),
            };
        }
        if (jsonFile is not null)
        {
            WriteReport(jsonFile, new JsonObject
            {
                ["schema"] = "akkagan.bench.population/1",
                ["rounds"] = ring8.Rounds,
                ["warmup"] = ring8.Warmup,
                ["repetitions"] = ring8.Repetitions,
                ["flags"] = new JsonArray([.. ring8.Flags.Select(f => (JsonNode)f)]),
                ["datasets"] = byDataset,
                ["warnings"] = results.Values.Sum(r => r.Sum(m => m.Warnings.Count)),
            });
        }
        return 0;
    }

    /// <summary>
    /// The training flags of one measurement: rounds, dataset and population size, then on image datasets an
    /// evaluation at the end of the warm-up and every as many rounds after it on <see cref="ImageEvalSamples"/>
    /// samples (unless the flags after `--` set them), then the flags after `--`.
    /// </summary>
    private static string[] PopulationFlags(string dataset, int n, Plan plan)
    {
        static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
        var flags = new List<string> { "--rounds", I(plan.Rounds), "--dataset", dataset, "--discriminators", I(n) };
        if (PopulationDatasets[dataset] && !plan.Sets("--eval-every")) flags.AddRange(["--eval-every", I(plan.Warmup > 0 ? plan.Warmup : plan.Rounds)]);
        if (PopulationDatasets[dataset] && !plan.Sets("--eval-samples")) flags.AddRange(["--eval-samples", I(ImageEvalSamples)]);
        return [.. flags, .. plan.Flags];
    }

    /// <summary>One row per N: each engine's median steady rate, the ratios to the reference, and the process cluster's ratio relative to the smallest N's.</summary>
    private static void PrintPopulationTable(string dataset, Plan plan, int[] sizes, Dictionary<int, Dictionary<string, double>> steady)
    {
        double Ratio(int n, string engine) => steady[n][engine] / steady[n]["reference"];
        var table = new Table()
            .Title($"[bold]{dataset}: steady rounds/s, medians of {plan.Repetitions} (after {plan.Warmup} of {plan.Rounds} rounds)[/]")
            .AddColumn("N", c => c.RightAligned());
        foreach (var column in new[] { "reference", "1node", "procs", "1node/ref", "procs/ref", $"procs/ref vs N={sizes[0]}" })
            table.AddColumn(column, c => c.RightAligned());
        foreach (var n in sizes)
        {
            table.AddRow(n.ToString(CultureInfo.InvariantCulture), F(steady[n]["reference"]), F(steady[n]["cluster_1node"]), F(steady[n]["cluster_procs"]),
                F(Ratio(n, "cluster_1node"), "F3"), F(Ratio(n, "cluster_procs"), "F3"), F(Ratio(n, "cluster_procs") / Ratio(sizes[0], "cluster_procs"), "F3"));
        }
        AnsiConsole.Write(table);
    }
}
