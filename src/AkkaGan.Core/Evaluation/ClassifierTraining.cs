using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AkkaGan.Core.Data;
using AkkaGan.Core.Optim;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Evaluation;

/// <summary>
/// Everything that determines the evaluation classifier's weights besides the training data: architecture, schedule,
/// seed and torch threads (a different thread count may change the order of floating-point sums). Its JSON is part
/// of the cache key (<see cref="ClassifierCache.Key"/>), so a changed recipe never loads an old classifier.
/// </summary>
public sealed record ClassifierRecipe
{
    /// <summary>Bumped whenever the architecture or the training loop changes in a way the fields do not show.</summary>
    public int Version { get; init; } = 1;
    /// <summary>Passes over the 60,000 training images.</summary>
    public int Epochs { get; init; } = 6;
    /// <summary>Images per optimizer step.</summary>
    public int Batch { get; init; } = 128;
    /// <summary>Adam's learning rate.</summary>
    public double LearningRate { get; init; } = 2e-3;
    /// <summary>Seed of the initial weights and the batch order.</summary>
    public long Seed { get; init; } = 1;
    /// <summary>Torch threads while training (part of the recipe: another count may change the sums).</summary>
    public int Threads { get; init; } = 2;
    /// <summary>Channels of the first 3x3 convolution.</summary>
    public int Conv1Channels { get; init; } = 16;
    /// <summary>Channels of the second 3x3 convolution.</summary>
    public int Conv2Channels { get; init; } = 32;
    /// <summary>Units of the hidden layer whose activations are the features of the FCD.</summary>
    public int HiddenUnits { get; init; } = 128;

    /// <summary>The recipe's canonical JSON, hashed into the cache key and stored beside the weights.</summary>
    public string ToJson() => JsonSerializer.Serialize(this);

    /// <summary>A classifier with this recipe's architecture, freshly initialised.</summary>
    public FashionClassifier CreateModel() => new(Conv1Channels, Conv2Channels, HiddenUnits);
}

/// <summary>The outcome of training the classifier: the model, test accuracy (null without a test split) and the time it took.</summary>
public sealed record TrainedClassifier(FashionClassifier Model, double? TestAccuracy, int TestCount, double TrainAccuracy, double Seconds);

/// <summary>
/// Trains the evaluation classifier deterministically: seeded initialisation (PyTorch's default uniform bounds, drawn
/// from the recipe's generator, never torch's global one), a seeded shuffle per epoch, Adam with a learning rate that
/// decays linearly to 0 over the run, and the recipe's fixed number of torch threads for the duration of training.
/// </summary>
public static class ClassifierTrainer
{
    /// <param name="progress">One line per epoch (loss, accuracy, time).</param>
    public static TrainedClassifier Train(FashionMnist train, FashionMnist? test, ClassifierRecipe recipe, Action<string>? progress = null)
    {
        if (recipe.Epochs < 1) throw new ArgumentOutOfRangeException(nameof(recipe), recipe.Epochs, "epochs must be at least 1");
        var threads = get_num_threads();
        set_num_threads(recipe.Threads);
        var clock = Stopwatch.StartNew();
        var model = recipe.CreateModel();
        try
        {
            using var generator = new Generator((ulong)recipe.Seed, CPU);
            Initialise(model, generator);
            model.train();
            // The project's Adam (bit-compatible with torch.optim.Adam, tested), whose Scale carries the linear decay.
            using var optimizer = new ExplicitOptimizer([.. model.parameters()], OptimizerKind.Adam, recipe.LearningRate, 0.9, 0.999);
            var n = train.Count;
            var stepsPerEpoch = (n + recipe.Batch - 1) / recipe.Batch;
            var totalSteps = stepsPerEpoch * recipe.Epochs;
            long step = 0;
            for (var epoch = 1; epoch <= recipe.Epochs; epoch++)
            {
                double lossSum = 0;
                long batches = 0;
                using (var epochScope = NewDisposeScope())
                {
                    var order = randperm(n, generator: generator);                                  // (N)
                    for (long start = 0; start < n; start += recipe.Batch, step++)
                    {
                        using var scope = NewDisposeScope();
                        var index = order.narrow(0, start, Math.Min(recipe.Batch, n - start));
                        var images = train.Images.index_select(0, index);                            // (B, 1, 28, 28)
                        var labels = train.Labels.index_select(0, index);                            // (B)
                        optimizer.Scale = 1.0 - (double)step / totalSteps;
                        optimizer.ZeroGrad();
                        var loss = nn.functional.cross_entropy(model.forward(images), labels);
                        loss.backward();
                        optimizer.Step();
                        lossSum += loss.item<float>();
                        batches++;
                    }
                }
                var testText = test is null || epoch < recipe.Epochs ? "" : string.Create(CultureInfo.InvariantCulture, $", test accuracy {model.Accuracy(test.Images, test.Labels):P2}");
                model.train();
                progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {epoch}/{recipe.Epochs}: loss {lossSum / Math.Max(1, batches):F4}{testText}, {clock.Elapsed.TotalSeconds:F0} s"));
            }
            model.eval();
            var testAccuracy = test is null ? (double?)null : model.Accuracy(test.Images, test.Labels);
            var trainAccuracy = model.Accuracy(train.Images, train.Labels);
            return new TrainedClassifier(model, testAccuracy, (int)(test?.Count ?? 0), trainAccuracy, clock.Elapsed.TotalSeconds);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            set_num_threads(threads);
        }
    }

    /// <summary>PyTorch's default Conv/Linear initialisation, uniform within 1/sqrt(fan_in), in named_parameters order.</summary>
    private static void Initialise(FashionClassifier model, Generator generator)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var parameters = model.named_parameters().ToArray();
        foreach (var (name, p) in parameters)
        {
            var weight = name.EndsWith("bias", StringComparison.Ordinal)
                ? parameters.First(q => q.name == name[..^"bias".Length] + "weight").parameter
                : p;
            var fanIn = weight.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            p.copy_(rand(p.shape, generator: generator).Mul(2).Sub(1).Div(Math.Sqrt(fanIn)));
        }
    }
}

/// <summary>
/// The evaluation classifier's cache: <c>fashion-mnist-KEY.bin</c> (TorchSharp module weights) and
/// <c>fashion-mnist-KEY.json</c> (recipe, accuracy, training time) in the classifier folder, KEY a hash of the recipe
/// and of the training split's files, so different data or a different recipe never share a file. Loaded when
/// present; otherwise trained once (a few minutes on 2 cores) and saved atomically.
/// </summary>
public static class ClassifierCache
{
    /// <summary>Environment variable that moves the cache (the <c>classifier-dir</c> setting wins over it).</summary>
    public const string DirectoryVariable = "AKKAGAN_CLASSIFIER_DIR";
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The configured folder, else <c>$AKKAGAN_CLASSIFIER_DIR</c>, else <c>$XDG_CACHE_HOME</c> or <c>~/.cache</c> + <c>akkagan/classifier</c>.</summary>
    public static string ResolveDirectory(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured)) return configured;
        var fromEnvironment = Environment.GetEnvironmentVariable(DirectoryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) return fromEnvironment;
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrWhiteSpace(cache)) cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "akkagan", "classifier");
    }

    /// <summary>The cache key: the first 16 hex digits of SHA-256(recipe JSON, SHA-256 of the training split's files).</summary>
    public static string Key(string dataDir, ClassifierRecipe recipe)
    {
        var (images, labels) = FashionMnist.Files(dataDir, train: true);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes(recipe.ToJson()));
        foreach (var file in new[] { images, labels })
        {
            using var stream = File.OpenRead(file);
            sha.AppendData(SHA256.HashData(stream));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    /// <summary>Where the classifier of this data and recipe lives in <paramref name="directory"/>.</summary>
    public static string PathFor(string directory, string dataDir, ClassifierRecipe recipe)
        => Path.Combine(directory, $"fashion-mnist-{Key(dataDir, recipe)}.bin");

    /// <summary>
    /// The cached classifier of this data and recipe, or a freshly trained one (then saved). A cached file that
    /// cannot be read is reported through <paramref name="log"/> and replaced.
    /// </summary>
    public static FashionClassifier LoadOrTrain(string dataDir, string directory, ClassifierRecipe recipe, Action<string> log)
    {
        var path = PathFor(directory, dataDir, recipe);
        if (TryLoad(path, recipe, log) is { } cached) return cached;
        log($"evaluation classifier: none cached at {path}; training it once on {dataDir} ({recipe.Epochs} epochs, {recipe.Threads} threads; a few minutes on 2 cores)");
        var trained = Train(dataDir, recipe, log);
        Save(trained, path, dataDir, recipe);
        log(Describe(trained, path));
        return trained.Model;
    }

    /// <summary>Trains on the train split of <paramref name="dataDir"/>, testing on its test split when present.</summary>
    public static TrainedClassifier Train(string dataDir, ClassifierRecipe recipe, Action<string>? progress)
    {
        var train = FashionMnist.Load(dataDir, train: true);
        var test = FashionMnist.HasSplit(dataDir, train: false) ? FashionMnist.Load(dataDir, train: false) : null;
        if (test is null) progress?.Invoke($"note: {dataDir} has no test split (t10k-*); the accuracy reported is on the training images");
        return ClassifierTrainer.Train(train, test, recipe, progress);
    }

    /// <summary>One line on a trained classifier: accuracy, time, file.</summary>
    public static string Describe(TrainedClassifier trained, string path)
    {
        var accuracy = trained.TestAccuracy is { } test
            ? string.Create(CultureInfo.InvariantCulture, $"test accuracy {test:P2} on {trained.TestCount} images (train {trained.TrainAccuracy:P2})")
            : string.Create(CultureInfo.InvariantCulture, $"training accuracy {trained.TrainAccuracy:P2} (no test split)");
        return string.Create(CultureInfo.InvariantCulture, $"evaluation classifier: {accuracy}, trained in {trained.Seconds:F0} s -> {path}");
    }

    /// <summary>Loads a saved classifier, or null (with a note) when the file is missing or unreadable.</summary>
    public static FashionClassifier? TryLoad(string path, ClassifierRecipe recipe, Action<string>? log = null)
    {
        if (!File.Exists(path)) return null;
        var model = recipe.CreateModel();
        try
        {
            model.load(path);
            model.eval();
            return model;
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or InvalidDataException or EndOfStreamException)
        {
            model.Dispose();
            log?.Invoke($"evaluation classifier: {path} cannot be read ({e.Message}); training a new one");
            return null;
        }
    }

    /// <summary>Writes the weights (temp file, then rename) and the JSON beside them.</summary>
    public static void Save(TrainedClassifier trained, string path, string dataDir, ClassifierRecipe recipe)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var temp = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        trained.Model.save(temp);
        File.Move(temp, path, overwrite: true);
        var info = new Dictionary<string, object?>
        {
            ["recipe"] = JsonDocument.Parse(recipe.ToJson()).RootElement,
            ["data_dir"] = Path.GetFullPath(dataDir),
            ["test_accuracy"] = trained.TestAccuracy,
            ["test_images"] = trained.TestCount,
            ["train_accuracy"] = trained.TrainAccuracy,
            ["train_seconds"] = Math.Round(trained.Seconds, 1),
            ["created"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        };
        File.WriteAllText(Path.ChangeExtension(path, ".json"), JsonSerializer.Serialize(info, Indented) + "\n");
    }
}
