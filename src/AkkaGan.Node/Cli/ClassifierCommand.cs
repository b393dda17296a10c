using System.CommandLine;
using AkkaGan.Core.Data;
using AkkaGan.Core.Evaluation;
using AkkaGan.Core.Settings;

namespace AkkaGan.Node.Cli;

/// <summary>
/// <c>akkagan classifier train</c>: trains the evaluation classifier of the image metrics (<see cref="FashionClassifier"/>)
/// and saves it where evaluations look for it. Evaluations of image runs train it on demand too; this command does it
/// ahead of time, with progress, or with another recipe.
/// </summary>
public static class ClassifierCommand
{
    public static Command Create()
    {
        var command = new Command("classifier", "The evaluation classifier behind the image metrics (class histogram, modes, FCD).");
        var train = new Command("train", "Train the evaluation classifier on Fashion-MNIST, report its test accuracy and cache it.");
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "Folder with the Fashion-MNIST IDX files (train-* to train on, t10k-* to test on)",
            HelpName = "DIR",
            DefaultValueFactory = _ => FashionMnist.DefaultDirectory,
        };
        var defaults = new ClassifierRecipe();
        var epochs = new Option<int>("--epochs") { Description = $"Passes over the 60,000 training images (default {defaults.Epochs})", HelpName = "N", DefaultValueFactory = _ => defaults.Epochs };
        var output = new Option<string?>("--out") { Description = "Weights file to write (default: the cache file evaluations load, in --classifier-dir)", HelpName = "FILE" };
        var cache = new Option<string?>("--classifier-dir")
        {
            Description = $"Cache folder (default: ${ClassifierCache.DirectoryVariable}, else ~/.cache/akkagan/classifier)",
            HelpName = "DIR",
        };
        train.Options.Add(dataDir);
        train.Options.Add(epochs);
        train.Options.Add(output);
        train.Options.Add(cache);
        train.SetAction(parse => Train(parse.GetValue(dataDir)!, parse.GetValue(epochs), parse.GetValue(output), parse.GetValue(cache)));
        command.Subcommands.Add(train);
        return command;
    }

    private static int Train(string dataDir, int epochs, string? output, string? cacheDir)
    {
        if (epochs < 1) throw new SettingsException($"--epochs must be at least 1 (got {epochs})");
        var recipe = new ClassifierRecipe { Epochs = epochs };
        var path = output ?? ClassifierCache.PathFor(ClassifierCache.ResolveDirectory(cacheDir), dataDir, recipe);
        Console.WriteLine($"akkagan classifier train: {dataDir}, {recipe.Epochs} epochs, batch {recipe.Batch}, {recipe.Threads} torch threads -> {path}");
        var trained = ClassifierCache.Train(dataDir, recipe, line => Console.WriteLine(line));
        using var model = trained.Model;
        ClassifierCache.Save(trained, path, dataDir, recipe);
        Console.WriteLine(ClassifierCache.Describe(trained, path));
        return 0;
    }
}
