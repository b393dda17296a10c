using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Models;
using AkkaGan.Core.Optim;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Training;

/// <summary>What the generator reports after its step.</summary>
/// <param name="GradientNorm">L2 norm of the generator's parameter gradient before the step.</param>
/// <param name="FeedbackNorm">L2 norm of the aggregated dL/dx_fake the discriminators sent (what the generator learns from).</param>
/// <param name="Drift">How far the step moved the parameters: ||theta_after - theta_before|| / ||theta_after|| (every <see cref="GeneratorCore.DriftEvery"/>-th round; NaN on the others).</param>
public sealed record GeneratorStepResult(long Round, double Loss, double GradientNorm, double FeedbackNorm = double.NaN, double Drift = double.NaN);

/// <summary>
/// The generator's computations, the unit a <c>GeneratorActor</c> wraps: fake batches for the discriminator phase,
/// the two halves of the generator step (forward keeping the graph; backward of the aggregated dL/dx_fake and the
/// optimizer step), evaluation samples and snapshots. The generator stays in train mode throughout, so batch-norm
/// statistics come from each batch and the order of requests cannot change any output.
/// </summary>
public sealed class GeneratorCore : IEntityCore
{
    /// <summary>The generator's entity id, <c>g-0</c>.</summary>
    public static string EntityId => GeneratorId.Default.EntityId;

    /// <summary>Rounds between two measurements of <see cref="GeneratorStepResult.Drift"/> (NaN on the others).</summary>
    public const int DriftEvery = 10;
    private TrainingSettings _settings;
    private Tensor? _pending;          // x_fake with its graph, between BeginStep and CompleteStep
    private long _pendingRound = -1;

    /// <summary>
    /// A generator for samples of <paramref name="sampleShape"/>, initialised from the run's seed, on <paramref name="device"/>.
    /// </summary>
    public GeneratorCore(TrainingSettings settings, long[] sampleShape, Device device)
    {
        _settings = settings;
        SampleShape = sampleShape;
        Device = device;
        Model = ModelFactory.CreateGenerator(settings, sampleShape, device);
        Model.train();
        Optimizer = new ExplicitOptimizer([.. Model.parameters()], settings.Optimizer, settings.LrG, settings.Beta1, settings.Beta2);
        if (settings.GeneratorEma > 0)
        {
            // The average starts at the initial weights; batch norm runs on batch statistics in both (train mode).
            Average = ModelFactory.CreateGenerator(settings, sampleShape, device);
            Average.train();
            CopyWeights(Model, Average);
        }
    }

    /// <summary>
    /// The exponential moving average of the generator's weights (<c>g-ema</c> &gt; 0; Yazici et al., "The Unusual
    /// Effectiveness of Averaging in GAN Training", 2019): after every step avg = d_t avg + (1 - d_t) w, d_t =
    /// <see cref="AverageDecay"/>. Evaluations,
    /// samples and exports use it; training uses <see cref="Model"/>. Null when off.
    /// </summary>
    public nn.Module<Tensor, Tensor>? Average { get; }

    /// <summary>
    /// The decay of the average's update after optimizer step <paramref name="steps"/>: min(d, (1 + t) / (10 + t)), the
    /// warm-up of TensorFlow's ExponentialMovingAverage. Without it the initial random weights keep d^t of the average
    /// (37 % after 1000 steps at d = 0.999), which measurably blurred every run's samples here.
    /// </summary>
    public static double AverageDecay(double decay, long steps) => Math.Min(decay, (1.0 + steps) / (10.0 + steps));

    /// <summary>The network samples come from: <see cref="Average"/> when the run keeps one, else <see cref="Model"/>.</summary>
    public nn.Module<Tensor, Tensor> SamplingModel => Average ?? Model;

    private static void CopyWeights(nn.Module from, nn.Module to)
    {
        using var noGrad = no_grad();
        foreach (var ((_, source), (_, target)) in from.named_parameters().Zip(to.named_parameters())) target.copy_(source);
    }

    /// <summary>A live change (<see cref="RunChanges"/>): the new settings hold from the next step; the learning rate is set from them.</summary>
    public void Update(TrainingSettings settings)
    {
        _settings = settings;
        Optimizer.LearningRate = settings.LrG;
    }

    /// <summary>The network: an MLP for 2-D data, a DCGAN generator for images.</summary>
    public nn.Module<Tensor, Tensor> Model { get; }
    /// <summary>The optimizer whose state (moments, step count, learning rate) checkpoints carry.</summary>
    public ExplicitOptimizer Optimizer { get; }
    /// <summary>The shape of one sample, e.g. [2] or [1, 28, 28].</summary>
    public long[] SampleShape { get; }

    /// <summary>The dimension of the noise z.</summary>
    public int LatentDim => _settings.LatentDim;

    /// <summary>Where its tensors live.</summary>
    public Device Device { get; }

    /// <summary>A detached fake batch for discriminator <paramref name="member"/> in critic step <paramref name="criticStep"/> of a round.</summary>
    public Tensor GenerateFakes(long round, int criticStep, int member, int count)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = Seeds.Generator(_settings.Seed, round, SeedRole.Generator, member, SeedPurpose.FakeForCritic, criticStep);
        var z = randn([count, _settings.LatentDim], generator: generator).to(Device);   // (B, z)
        return Model.forward(z).MoveToOuterDisposeScope();                                // (B, ...)
    }

    /// <summary>First half of the generator step: x_fake = G(z) with the graph kept; returns a detached copy to send.</summary>
    public Tensor BeginStep(long round)
    {
        _pending?.Dispose();
        using var scope = NewDisposeScope();
        using var generator = Seeds.Generator(_settings.Seed, round, SeedRole.Generator, 0, SeedPurpose.GeneratorStep);
        var z = randn([_settings.Batch, _settings.LatentDim], generator: generator).to(Device);
        var fake = Model.forward(z);
        _pending = fake.DetachFromDisposeScope();
        _pendingRound = round;
        return fake.detach().clone().MoveToOuterDisposeScope();
    }

    /// <summary>Second half: back-propagates the aggregated dL/dx_fake through the kept graph and steps.</summary>
    public GeneratorStepResult CompleteStep(long round, Tensor aggregatedGradient, double loss)
    {
        if (_pending is null || _pendingRound != round)
            throw new InvalidOperationException($"no generator step pending for round {round} (pending: {_pendingRound})");
        using var scope = NewDisposeScope();
        Optimizer.Scale = _settings.LrScale(round);
        Optimizer.ZeroGrad();
        _pending.backward([aggregatedGradient.to_type(_pending.dtype).to(_pending.device)]);
        var norm = GradientNorm(Model.parameters());
        var feedbackNorm = aggregatedGradient.detach().to_type(ScalarType.Float64).norm().AsDouble();
        // The drift needs a copy of every weight (20 MiB for the DCGAN generator), so it is measured on every
        // DriftEvery-th round only; the health monitor averages it over its window and skips the others (NaN).
        var parameters = round % DriftEvery == 0 ? Model.parameters().ToArray() : [];
        Tensor[] before;
        using (no_grad()) before = [.. parameters.Select(p => p.detach().clone())];
        Optimizer.Step();
        if (Average is not null)
        {
            using var noGrad = no_grad();
            var decay = AverageDecay(_settings.GeneratorEma, Optimizer.Steps);
            foreach (var ((_, w), (_, avg)) in Model.named_parameters().Zip(Average.named_parameters()))
                avg.MulInPlace(decay).AddInPlace(w, 1 - decay);
        }
        double moved = 0, size = 0;
        using (no_grad())
        {
            for (var i = 0; i < parameters.Length; i++)
            {
                moved += (parameters[i] - before[i]).Square().sum().AsDouble();
                size += parameters[i].Square().sum().AsDouble();
            }
        }
        _pending.Dispose();
        _pending = null;
        _pendingRound = -1;
        var drift = parameters.Length == 0 ? double.NaN : size > 0 ? Math.Sqrt(moved / size) : 0;
        return new GeneratorStepResult(round, loss, norm, feedbackNorm, drift);
    }

    /// <summary>Drops a pending step (no discriminator answered): the kept graph is released, nothing is stepped.</summary>
    public void AbortStep()
    {
        _pending?.Dispose();
        _pending = null;
        _pendingRound = -1;
    }

    /// <summary>Largest forward pass of <see cref="Sample"/>: bounds its memory (26,000 DCGAN samples at once need ~2 GB).</summary>
    public const int SampleChunk = 2500;

    /// <summary>
    /// Evaluation samples from a fixed noise stream (the same z at every evaluation, so plots are comparable),
    /// generated in forward passes of at most <see cref="SampleChunk"/> (batch-norm statistics come from each pass).
    /// </summary>
    public Tensor Sample(int count, int stream = 0)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = Seeds.Generator(_settings.Seed, 0, SeedRole.Generator, stream, SeedPurpose.Evaluation);
        var z = randn([count, _settings.LatentDim], generator: generator);                 // (count, z)
        return Generate(z).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Samples (N, ...) on the CPU of the given noise <paramref name="z"/> (N, latent dim), in forward passes of at most
    /// <see cref="SampleChunk"/> as <see cref="Sample"/> makes them.
    /// </summary>
    public Tensor Generate(Tensor z)
    {
        if (z.dim() != 2 || z.shape[1] != _settings.LatentDim)
            throw new ArgumentException($"the noise must be (N, {_settings.LatentDim}), got ({string.Join(", ", z.shape)})");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var count = (int)z.shape[0];
        var onDevice = z.to(float32).to(Device);
        var model = SamplingModel;
        if (count <= SampleChunk) return model.forward(onDevice).cpu().MoveToOuterDisposeScope();
        var parts = new List<Tensor>();
        for (var start = 0; start < count; start += SampleChunk)
        {
            using var part = NewDisposeScope();
            parts.Add(model.forward(onDevice.narrow(0, start, Math.Min(SampleChunk, count - start))).cpu().MoveToOuterDisposeScope());
        }
        return cat(parts, 0).MoveToOuterDisposeScope();                                   // (count, ...)
    }

    /// <summary>Its state: parameters, optimizer moments, step count and learning rate, and the weight average (<c>ema/</c>) when kept.</summary>
    public EntitySnapshot Snapshot()
    {
        var snapshot = ModuleState.Snapshot(EntityId, Model, Optimizer);
        if (Average is null) return snapshot;
        var average = Average.named_parameters().Select(p => new NamedPayload(AveragePrefix + p.name, TensorCodec.ToPayload(p.parameter)));
        return snapshot with { Tensors = [.. snapshot.Tensors, .. average] };
    }

    /// <summary>
    /// Replaces its state; throws <see cref="CheckpointException"/> (and changes nothing) when the snapshot does not fit.
    /// A snapshot without a weight average (written before <c>g-ema</c> was turned on) starts the average at its weights.
    /// </summary>
    public void Restore(EntitySnapshot snapshot)
    {
        var averages = snapshot.Tensors.Where(t => t.Name.StartsWith(AveragePrefix, StringComparison.Ordinal)).ToDictionary(t => t.Name[AveragePrefix.Length..], t => t.Payload);
        if (Average is not null && averages.Count > 0)
        {
            foreach (var (name, p) in Average.named_parameters())
                if (!averages.TryGetValue(name, out var payload) || !payload.Shape.SequenceEqual(p.shape))
                    throw new CheckpointException($"snapshot of '{snapshot.EntityId}': its weight average lacks or misshapes '{name}'");
        }
        ModuleState.Restore(snapshot, Model, Optimizer);
        if (Average is null) return;
        if (averages.Count == 0)
        {
            CopyWeights(Model, Average);
            return;
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var (name, p) in Average.named_parameters()) p.copy_(TensorCodec.ToTensor(averages[name], p.dtype).to(p.device));
    }

    /// <summary>The snapshot names of the weight average's tensors: <c>ema/</c> + the parameter's name.</summary>
    public const string AveragePrefix = "ema/";

    internal static double GradientNorm(IEnumerable<Tensor> parameters)
    {
        using var scope = NewDisposeScope();
        var total = 0.0;
        foreach (var p in parameters)
        {
            var g = p.grad;
            if (g is not null) total += g.Square().sum().AsDouble();
        }
        return Math.Sqrt(total);
    }

    /// <summary>Disposes the network and the optimizer state.</summary>
    public void Dispose()
    {
        _pending?.Dispose();
        Optimizer.Dispose();
        Model.Dispose();
        Average?.Dispose();
    }
}

/// <summary>Module + optimizer &lt;-&gt; <see cref="EntitySnapshot"/> (names: model/&lt;param or buffer&gt;, optim/m/i, optim/v/i).</summary>
internal static class ModuleState
{
    public static EntitySnapshot Snapshot(string id, nn.Module module, ExplicitOptimizer optimizer)
    {
        var tensors = new List<NamedPayload>();
        foreach (var (name, p) in module.named_parameters()) tensors.Add(new("model/" + name, TensorCodec.ToPayload(p)));
        foreach (var (name, b) in module.named_buffers()) tensors.Add(new("model/" + name, TensorCodec.ToPayload(b)));
        for (var i = 0; i < optimizer.FirstMoments.Count; i++)
        {
            tensors.Add(new($"optim/m/{i}", TensorCodec.ToPayload(optimizer.FirstMoments[i])));
            tensors.Add(new($"optim/v/{i}", TensorCodec.ToPayload(optimizer.SecondMoments[i])));
        }
        return new EntitySnapshot(id, optimizer.LearningRate, optimizer.Steps, tensors);
    }

    public static void Restore(EntitySnapshot snapshot, nn.Module module, ExplicitOptimizer optimizer)
    {
        var byName = snapshot.Tensors.ToDictionary(t => t.Name, t => t.Payload);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var targets = module.named_parameters().Select(n => (n.name, (Tensor)n.parameter))
            .Concat(module.named_buffers().Select(n => (n.name, n.buffer)))
            .Select(t => ("model/" + t.Item1, t.Item2))
            .Concat(optimizer.FirstMoments.Select((m, i) => ($"optim/m/{i}", m)))
            .Concat(optimizer.SecondMoments.Select((v, i) => ($"optim/v/{i}", v)))
            .ToArray();
        // Validate everything before changing anything, so a mismatched snapshot leaves the entity as it was.
        foreach (var (name, target) in targets)
        {
            if (!byName.TryGetValue(name, out var payload))
                throw new CheckpointException($"snapshot of '{snapshot.EntityId}' lacks tensor '{name}' (was it written by a different model?)");
            if (!payload.Shape.SequenceEqual(target.shape))
                throw new CheckpointException(
                    $"snapshot of '{snapshot.EntityId}': tensor '{name}' has shape [{string.Join(", ", payload.Shape)}], the model expects [{string.Join(", ", target.shape)}]");
        }
        foreach (var (name, target) in targets)
            target.copy_(TensorCodec.ToTensor(byName[name], target.dtype).to(target.device));
        optimizer.Steps = snapshot.OptimizerSteps;
        optimizer.LearningRate = snapshot.LearningRate;
    }
}
