using System.Reflection;
using AkkaGan.Core.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>
/// TorchSharp 0.107 may finalize an implicitly made <see cref="Scalar"/> while the native call that reads it runs
/// (<see cref="ScalarOps"/>): AkkaGan's own tensor code makes every Scalar through ScalarOps, which keeps it alive, and
/// steps with its own optimizer rather than TorchSharp's.
/// </summary>
public sealed class ScalarLifetimeSpecs
{
    private static readonly Type[] Numbers = [typeof(double), typeof(float), typeof(int), typeof(long)];

    /// <summary>Calls that make a Scalar the caller does not hold: conversions, tensor-number operators, and the methods that convert inside.</summary>
    private static bool MakesAnUnheldScalar(MethodBase target)
    {
        if (target.DeclaringType?.Assembly != typeof(Scalar).Assembly) return false;
        if (target.DeclaringType == typeof(Scalar) && target.Name == "op_Implicit") return true;
        if (target.DeclaringType == typeof(Tensor) && target.Name.StartsWith("op_", StringComparison.Ordinal)
            && target.GetParameters().Any(p => Numbers.Contains(p.ParameterType))) return true;
        // TorchSharp's optimizers make Scalars of their rates and moments inside every step (a grid25 rejection-sampling
        // fit crashed in Adam.step); the project's ExplicitOptimizer does the same steps through ScalarOps.
        if (target.DeclaringType == typeof(torch.optim) || typeof(torch.optim.Optimizer).IsAssignableFrom(target.DeclaringType)) return true;
        // TorchSharp's BatchNorm.forward counts its batches with num_batches_tracked.add_(1) (a stacked-fashion-mnist run
        // failed in it with "Unknown scalar type"); Models.BatchNorm computes the same.
        if (target is ConstructorInfo && typeof(TorchSharp.Modules.NormBase).IsAssignableFrom(target.DeclaringType)) return true;
        if (target.DeclaringType == typeof(torch.nn) && target.Name.StartsWith("BatchNorm", StringComparison.Ordinal)) return true;
        // Methods that convert inside, however deep: a + b on tensors is add(b) is add(b, alpha: 1).
        if (ConvertsInside(target, 3)) return true;
        return target.Name is "square" or "softplus"
               || (target.Name is "leaky_relu" && target.GetParameters().Any(p => p.ParameterType == typeof(double)));
    }

    private static readonly Dictionary<MethodBase, bool> Inside = [];

    /// <summary>Whether TorchSharp's <paramref name="method"/>, or a TorchSharp method it calls within <paramref name="depth"/> calls, converts a number to a Scalar.</summary>
    private static bool ConvertsInside(MethodBase method, int depth)
    {
        if (method.DeclaringType?.Assembly != typeof(Scalar).Assembly) return false;
        if (Inside.TryGetValue(method, out var known)) return known;
        Inside[method] = false; // a cycle adds nothing
        var result = false;
        foreach (var target in Calls(method))
        {
            if (target.DeclaringType?.Assembly != typeof(Scalar).Assembly) continue;
            if ((target.DeclaringType == typeof(Scalar) && target.Name == "op_Implicit") || target.Name == "ToScalar"
                || (depth > 0 && ConvertsInside(target, depth - 1)))
            {
                result = true;
                break;
            }
        }
        Inside[method] = result;
        return result;
    }

    /// <summary>The methods <paramref name="method"/>'s IL calls (call, callvirt, newobj).</summary>
    private static IEnumerable<MethodBase> Calls(MethodBase method)
    {
        byte[]? il;
        try
        {
            il = method.GetMethodBody()?.GetILAsByteArray();
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or BadImageFormatException)
        {
            yield break;
        }
        if (il is null) yield break;
        for (var i = 0; i + 4 < il.Length; i++)
        {
            if (il[i] is not (0x28 or 0x6F or 0x73)) continue;
            var token = BitConverter.ToInt32(il, i + 1);
            if (token >> 24 is not (0x0A or 0x06 or 0x2B)) continue;
            MethodBase? target;
            try
            {
                target = method.Module.ResolveMethod(token, method.DeclaringType?.GetGenericArguments(), method.IsGenericMethod ? method.GetGenericArguments() : null);
            }
            catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException)
            {
                continue; // the bytes were an operand, not an opcode
            }
            if (target is not null) yield return target;
        }
    }

    [Fact]
    public void Core_should_make_scalars_only_through_ScalarOps()
    {
        var assembly = typeof(ScalarOps).Assembly;
        var module = assembly.ManifestModule;
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var offenders = new List<string>();
        foreach (var type in assembly.GetTypes())
        {
            foreach (var method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
            {
                var il = method.GetMethodBody()?.GetILAsByteArray();
                if (il is null) continue;
                // call, callvirt and newobj take a 4-byte token; member references (0x0A) are the calls into TorchSharp.
                for (var i = 0; i + 4 < il.Length; i++)
                {
                    if (il[i] is not (0x28 or 0x6F or 0x73)) continue;
                    var token = BitConverter.ToInt32(il, i + 1);
                    if (token >> 24 != 0x0A) continue;
                    MethodBase? target;
                    try
                    {
                        target = module.ResolveMethod(token);
                    }
                    catch (ArgumentException)
                    {
                        continue; // the bytes were an operand, not an opcode
                    }
                    if (target is not null && MakesAnUnheldScalar(target))
                        offenders.Add($"{type.FullName}.{method.Name} calls {target.DeclaringType!.Name}.{target.Name}({string.Join(", ", target.GetParameters().Select(p => p.ParameterType.Name))})");
                }
            }
        }
        Assert.True(offenders.Count == 0, "use ScalarOps (ExplicitOptimizer for an optimizer) instead:\n" + string.Join("\n", offenders.Distinct()));
    }

    /// <summary>Bit for bit the same values.</summary>
    private static void Same(Tensor actual, Tensor expected)
        => Assert.Equal(expected.to_type(ScalarType.Float32).data<float>().ToArray(), actual.to_type(ScalarType.Float32).data<float>().ToArray());

    [Fact]
    public void ScalarOps_should_compute_what_the_operators_compute()
    {
        using var scope = NewDisposeScope();
        var t = tensor(new[] { -1.5f, 0f, 2.25f, 7f });
        Same(t.Mul(0.5), t * 0.5);
        Same(t.Mul(3), t * 3);
        Same(t.Add(1.0), t + 1.0);
        Same(t.Plus(t.flip(0)), t + t.flip(0));
        var count = tensor(41L);
        count.AddInPlace(1L);
        Assert.Equal(42L, count.item<long>());
        Same(t.SubtractedFrom(1), 1 - t);
        Same(t.Sub(1), t - 1);
        Same(t.Div(2.0), t / 2.0);
        Same(t.Square(), t.square());
        Same(t.ClampMin(0.0), t.clamp_min(0.0));
        Same(t.Clamp(-1.0, 1.0), t.clamp(-1.0, 1.0));
        Same(t.LeakyRelu(0.2), nn.functional.leaky_relu(t, 0.2));
        Same(t.Greater(0), t.gt(0));
        // Softplus as -logsigmoid(-t): the same function, to float round-off.
        Assert.True(t.Softplus().allclose(nn.functional.softplus(t), rtol: 1e-6, atol: 1e-6));
        var big = tensor(new[] { 80f, -80f });
        var far = big.Softplus().data<float>().ToArray();
        Assert.Equal(80f, far[0]);                // no overflow in exp
        Assert.InRange(far[1], 0f, 1e-30f);       // log(1 + e^-80)
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void BatchNorm_should_compute_what_TorchSharps_computes(int dimensions)
    {
        using var scope = NewDisposeScope();
        var ours = new Models.BatchNorm(3, dimensions);
        using var theirs = dimensions == 2 ? (nn.Module<Tensor, Tensor>)nn.BatchNorm1d(3) : nn.BatchNorm2d(3);
        Assert.Equal(theirs.named_parameters().Select(p => p.name), ours.named_parameters().Select(p => p.name));
        Assert.Equal(theirs.named_buffers().Select(b => b.name), ours.named_buffers().Select(b => b.name));
        var generator = new Generator(7);
        long[] shape = dimensions == 2 ? [5, 3] : [5, 3, 2, 2];
        for (var step = 0; step < 3; step++)
        {
            var x = randn(shape, generator: generator);
            Same(ours.forward(x), theirs.forward(x));
        }
        foreach (var ((_, a), (_, b)) in ours.named_buffers().Zip(theirs.named_buffers()))
            Assert.Equal(b.to_type(ScalarType.Float64).data<double>().ToArray(), a.to_type(ScalarType.Float64).data<double>().ToArray());
        ours.eval();
        theirs.eval();
        var y = randn(shape, generator: generator);
        Same(ours.forward(y), theirs.forward(y));
        Assert.Throws<ArgumentException>(() => ours.forward(randn(3)));
    }
}
