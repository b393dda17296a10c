using AkkaGan.Core.Optim;
using AkkaGan.Core.Settings;
using TorchSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class OptimizerSpecs
{
    [Fact]
    public void Adam_should_match_torch_optim_Adam_step_for_step()
    {
        using var ours = tensor(new[] { 0.5, -1.0, 2.0 }, float64).requires_grad_(true);
        using var theirs = new TorchSharp.Modules.Parameter(tensor(new[] { 0.5, -1.0, 2.0 }, float64), true);
        using var explicitAdam = new ExplicitOptimizer([ours], OptimizerKind.Adam, 0.01, 0.5, 0.999);
        var torchAdam = optim.Adam([theirs], lr: 0.01, beta1: 0.5, beta2: 0.999);
        for (var step = 0; step < 7; step++)
        {
            foreach (var (p, update) in new[] { (ours, (Action)explicitAdam.Step), ((Tensor)theirs, (Action)(() => torchAdam.step())) })
            {
                if (p.grad is { } g) g.zero_();
                (p * p * p + p * step).sum().backward();
                update();
            }
        }
        Assert.True(ours.allclose(theirs, rtol: 1e-12, atol: 1e-14), "explicit Adam drifted from torch.optim.Adam");
        Assert.Equal(7, explicitAdam.Steps);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    public void FunctionalStep_should_equal_the_in_place_step(OptimizerKind kind)
    {
        using var p = tensor(new[] { 0.3, -0.7 }, float64).requires_grad_(true);
        using var optimizer = new ExplicitOptimizer([p], kind, 0.05, 0.9, 0.99);
        for (var step = 0; step < 3; step++)
        {
            if (p.grad is { } g) g.zero_();
            (p.square() * (step + 1)).sum().backward();
            var (functional, _) = optimizer.FunctionalStep([p.detach()], [p.grad!.clone()], optimizer.StartFunctional());
            optimizer.Step();
            Assert.True(functional[0].allclose(p.detach(), rtol: 1e-13, atol: 1e-15));
        }
    }
}
