using System.Globalization;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Data;
using AkkaGan.Core.Losses;
using AkkaGan.Core.Models;
using AkkaGan.Core.Optim;
using AkkaGan.Core.Population;
using AkkaGan.Core.Regularization;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Unrolling;
using static TorchSharp.torch;

namespace AkkaGan.Core.Training;

/// <summary>What a discriminator reports after one optimizer step.</summary>
/// <param name="Loss">The GAN loss of the step (without penalties).</param>
/// <param name="Penalty">The sum of the active penalties (0 when none).</param>
/// <param name="RealScore">Mean logit on the real batch.</param>
/// <param name="FakeScore">Mean logit on the fake batch.</param>
/// <param name="GradientNorm">L2 norm of the parameter gradient before the step.</param>
/// <param name="Accuracy">Share of the real and fake inputs this member classified right (real logit &gt; 0, fake logit &lt; 0).</param>
public sealed record DiscriminatorStepResult(int Member, long Round, int CriticStep, double Loss, double Penalty,
    double RealScore, double FakeScore, double GradientNorm, double Accuracy = double.NaN);

/// <summary>
/// One discriminator's computations, the unit a <c>DiscriminatorActor</c> wraps: an optimizer step on a fake batch
/// against a locally drawn real batch, the generator feedback dL/dx_fake under the unrolled lookahead, fitness,
/// D -> D transfer and snapshots. Each member may have its own loss and learning rate (heterogeneous populations).
/// </summary>
public sealed class DiscriminatorCore : IEntityCore
{
    private TrainingSettings _settings;
    private readonly IRealData _data;

    /// <param name="settings">The run's settings; the member's overrides (<see cref="TrainingSettings.ForMember"/>) are applied here.</param>
    /// <param name="loss">Overrides the member's loss (null: from the settings).</param>
    /// <param name="learningRate">Overrides the member's learning rate (null: from the settings).</param>
    public DiscriminatorCore(TrainingSettings settings, int member, IRealData data, Device device, LossKind? loss = null, double? learningRate = null)
    {
        settings = settings.ForMember(member);
        _settings = settings;
        _data = data;
        Member = member;
        Device = device;
        LossKind = loss ?? settings.Loss;
        Loss = GanLoss.Create(LossKind);
        Regularization = DiscriminatorRegularization.From(settings);
        Model = ModelFactory.CreateDiscriminator(settings, data.SampleShape, ModelFactory.InputScale(data), member, device);
        Optimizer = new ExplicitOptimizer(Model.OrderedParameters, settings.Optimizer, learningRate ?? settings.LrD, settings.Beta1, settings.Beta2);
    }

    /// <summary>The member index i of entity <c>d-i</c>.</summary>
    public int Member { get; }
    /// <summary>The entity id, <c>d-i</c>.</summary>
    public string EntityId => EntityIdOf(Member);
    /// <summary>Where its tensors live.</summary>
    public Device Device { get; }
    /// <summary>The member's loss pair (its override, else the run's).</summary>
    public LossKind LossKind { get; private set; }
    /// <summary>The loss pair it trains with and gives the generator feedback under.</summary>
    public IGanLoss Loss { get; private set; }
    /// <summary>Its clipping, penalties and instance noise.</summary>
    public DiscriminatorRegularization Regularization { get; private set; }
    /// <summary>The network: an MLP for 2-D data, a DCGAN discriminator for images.</summary>
    public DiscriminatorNetwork Model { get; }
    /// <summary>The optimizer whose state (moments, step count, learning rate) checkpoints carry.</summary>
    public ExplicitOptimizer Optimizer { get; }

    /// <summary>
    /// A live change (<see cref="RunChanges"/>): this member's settings are taken from the run's new ones (unroll,
    /// regularizers, ...); the optimizer's learning rate only when <paramref name="resetLearningRate"/> (an lr-d change),
    /// so an evolved member keeps its own rate otherwise.
    /// </summary>
    public void Update(TrainingSettings settings, bool resetLearningRate)
    {
        _settings = settings.ForMember(Member);
        Regularization = DiscriminatorRegularization.From(_settings);
        if (_settings.Loss != LossKind)
        {
            LossKind = _settings.Loss;
            Loss = GanLoss.Create(LossKind);
        }
        if (resetLearningRate) Optimizer.LearningRate = _settings.LrD;
    }

    /// <summary>The entity id of member <paramref name="member"/>, <c>d-member</c>.</summary>
    public static string EntityIdOf(int member) => new DiscriminatorId(member).EntityId;

    /// <summary>A real batch from this member's seeded stream.</summary>
    public Tensor RealBatch(long round, SeedPurpose purpose, int step, int count, int? member = null)
    {
        using var generator = Seeds.Generator(_settings.Seed, round, SeedRole.Discriminator, member ?? Member, purpose, step);
        return _data.Sample(count, generator).to(Device);
    }

    /// <summary>One optimizer step on (local real batch, given fake batch), with noise, penalties and clipping.</summary>
    public DiscriminatorStepResult TrainStep(long round, int criticStep, Tensor fake)
    {
        using var scope = NewDisposeScope();
        Optimizer.Scale = _settings.LrScale(round);
        var real = RealBatch(round, SeedPurpose.RealBatch, criticStep, (int)fake.shape[0]);
        using var noise = Seeds.Generator(_settings.Seed, round, SeedRole.Discriminator, Member, SeedPurpose.InstanceNoise, criticStep);
        var realInput = Regularization.AddNoise(real, round, noise);
        var fakeInput = Regularization.AddNoise(fake.detach().to(Device), round, noise);
        Model.UpdateEstimates();
        var realLogits = Model.forward(realInput);                                      // (B)
        var fakeLogits = Model.forward(fakeInput);                                      // (B)
        var loss = Loss.DiscriminatorLoss(realLogits, fakeLogits);
        using var penaltyGenerator = Seeds.Generator(_settings.Seed, round, SeedRole.Discriminator, Member, SeedPurpose.Penalty, criticStep);
        var penalty = Regularization.Penalty(Model.forward, Model.OrderedParameters, realInput, fakeInput, penaltyGenerator, Model.Pack);
        var total = penalty is null ? loss : loss.Plus(penalty);
        Optimizer.ZeroGrad();
        total.backward();
        var norm = GeneratorCore.GradientNorm(Model.OrderedParameters);
        Optimizer.Step();
        Regularization.Clip(Model.OrderedParameters);
        var accuracy = (realLogits.detach().Greater(0).sum().AsDouble() + fakeLogits.detach().Less(0).sum().AsDouble()) / (realLogits.shape[0] + fakeLogits.shape[0]);
        return new DiscriminatorStepResult(Member, round, criticStep, loss.AsDouble(), penalty?.AsDouble() ?? 0,
            realLogits.mean().AsDouble(), fakeLogits.mean().AsDouble(), norm, accuracy);
    }

    /// <summary>
    /// The generator-step answer: this member's generator loss on x_fake under its K-step lookahead and
    /// dL/dx_fake, on the device of x_fake. The real weights are unchanged.
    /// </summary>
    public GeneratorFeedback Feedback(long round, Tensor fake, int? unrollSteps = null)
    {
        using var scope = NewDisposeScope();
        Optimizer.Scale = _settings.LrScale(round); // the lookahead steps with the round's learning rate
        var leaf = fake.detach().to(Device).requires_grad_(true);
        var batch = (int)fake.shape[0];
        using var noise = Seeds.Generator(_settings.Seed, round, SeedRole.Discriminator, Member, SeedPurpose.FeedbackNoise);
        var (loss, gradient) = UnrolledLookahead.Run(Model, Optimizer, Loss, leaf,
            k => RealBatch(round, SeedPurpose.UnrollReal, k, batch),
            unrollSteps ?? _settings.Unroll, _settings.UnrollOrder, Regularization.L2Penalty, Regularization.ClipValue,
            x => Regularization.AddNoise(x, round, noise));
        return new GeneratorFeedback(Member, loss, gradient.to(fake.device).MoveToOuterDisposeScope());
    }

    /// <summary>Fitness (AUC of real over fake) on a real batch that every member draws identically for the round.</summary>
    public double Fitness(long round, Tensor fake)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var real = RealBatch(round, SeedPurpose.Fitness, 0, (int)fake.shape[0], member: 0);
        return Evolution.Auc(Model.forward(real), Model.forward(fake.to(Device)));
    }

    /// <summary>D -> D transfer: this member takes the other's weights and optimizer state, and a new learning rate.</summary>
    public void CopyFrom(EntitySnapshot other, double learningRate)
    {
        ModuleState.Restore(other with { EntityId = EntityId }, Model, Optimizer);
        Optimizer.LearningRate = learningRate;
    }

    /// <summary>Its state: parameters, optimizer moments, step count and learning rate.</summary>
    public EntitySnapshot Snapshot() => ModuleState.Snapshot(EntityId, Model, Optimizer);

    /// <summary>
    /// Replaces its state; throws <see cref="CheckpointException"/> (and changes nothing) when the snapshot does not fit.
    /// </summary>
    public void Restore(EntitySnapshot snapshot) => ModuleState.Restore(snapshot, Model, Optimizer);

    /// <summary>Disposes the network and the optimizer state.</summary>
    public void Dispose()
    {
        Optimizer.Dispose();
        Model.Dispose();
    }
}
