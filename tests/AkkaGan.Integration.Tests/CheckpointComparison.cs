using System.Globalization;
using System.Text;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Tensors;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// Compares the newest checkpoints of two runs byte for byte, entity by entity: the entity ids in order, then each
/// one's learning rate, optimizer step count and every named tensor (name, dtype, shape, bytes: weights, buffers and
/// optimizer moments). Of the metadata only the round and the seed must agree; time, engine name and the settings
/// text legitimately differ between engines. Decoding is managed code only: the test process never loads libtorch.
/// </summary>
internal static class CheckpointComparison
{
    /// <summary>Asserts the newest checkpoints under two run folders are equal as above; returns the first's.</summary>
    public static Checkpoint AssertEntitiesEqual(string expectedRun, string expectedName, string actualRun, string actualName)
    {
        var (expectedPath, expected) = CheckpointStore.Resolve(expectedRun);
        var (actualPath, actual) = CheckpointStore.Resolve(actualRun);
        var files = $"{expectedName}: {expectedPath}, {actualName}: {actualPath}";
        Assert.True(expected.Metadata.Round == actual.Metadata.Round,
            $"the newest checkpoints are of rounds {expected.Metadata.Round} and {actual.Metadata.Round} ({files})");
        Assert.True(expected.Metadata.Seed == actual.Metadata.Seed, $"seeds {expected.Metadata.Seed} and {actual.Metadata.Seed} ({files})");
        var difference = FirstDifference(expected, actual, expectedName, actualName);
        Assert.True(difference is null, $"the checkpoints of round {expected.Metadata.Round} differ: {difference} ({files})");
        // Whatever an entity section holds, compared as its encoded bytes (a field added later is covered too).
        foreach (var (a, b) in expected.Entities.Zip(actual.Entities))
            Assert.True(Encode(a).AsSpan().SequenceEqual(Encode(b)), $"{a.EntityId}: encoded entity sections differ ({files})");
        return expected;
    }

    /// <summary>The first difference between the entity sections of two checkpoints, in words; null when there is none.</summary>
    public static string? FirstDifference(Checkpoint expected, Checkpoint actual, string expectedName, string actualName)
    {
        string Ids(Checkpoint c) => string.Join(", ", c.Entities.Select(e => e.EntityId));
        if (Ids(expected) != Ids(actual)) return $"entities [{Ids(expected)}] ({expectedName}) vs [{Ids(actual)}] ({actualName})";
        foreach (var (a, b) in expected.Entities.Zip(actual.Entities))
        {
            var id = a.EntityId;
            if (BitConverter.DoubleToInt64Bits(a.LearningRate) != BitConverter.DoubleToInt64Bits(b.LearningRate))
                return $"{id}: learning rate {Number(a.LearningRate)} ({expectedName}) vs {Number(b.LearningRate)} ({actualName})";
            if (a.OptimizerSteps != b.OptimizerSteps)
                return $"{id}: optimizer steps {a.OptimizerSteps} ({expectedName}) vs {b.OptimizerSteps} ({actualName})";
            for (var i = 0; i < Math.Max(a.Tensors.Count, b.Tensors.Count); i++)
            {
                var x = i < a.Tensors.Count ? a.Tensors[i] : null;
                var y = i < b.Tensors.Count ? b.Tensors[i] : null;
                if (x?.Name != y?.Name)
                    return $"{id}: tensor {i} is '{x?.Name ?? "(none)"}' ({expectedName}) vs '{y?.Name ?? "(none)"}' ({actualName})";
                if (TensorDifference(x!.Payload, y!.Payload, expectedName, actualName) is { } tensor) return $"{id}: tensor '{x.Name}': {tensor}";
            }
        }
        return null;
    }

    private static string? TensorDifference(TensorPayload a, TensorPayload b, string expectedName, string actualName)
    {
        string Shape(TensorPayload p) => $"{p.DType} [{string.Join(", ", p.Shape)}]";
        if (a.DType != b.DType || !a.Shape.SequenceEqual(b.Shape)) return $"{Shape(a)} ({expectedName}) vs {Shape(b)} ({actualName})";
        var first = a.Data.AsSpan().CommonPrefixLength(b.Data);
        if (first == a.Data.Length) return null; // same shape and dtype, so same length
        var size = TensorCodec.ElementSize(a.DType);
        var differing = Enumerable.Range(0, a.Data.Length / size).Count(e => !a.Data.AsSpan(e * size, size).SequenceEqual(b.Data.AsSpan(e * size, size)));
        var element = first / size;
        return $"{differing} of {a.ElementCount} elements of {Shape(a)} differ, the first at flat index {element}: " +
               $"{Element(a, element)} ({expectedName}) vs {Element(b, element)} ({actualName})";
    }

    private static string Element(TensorPayload p, int index) => p.DType switch
    {
        WireDType.Float32 => Number(BitConverter.ToSingle(p.Data, index * 4)),
        WireDType.Float64 => Number(BitConverter.ToDouble(p.Data, index * 8)),
        WireDType.Int64 => BitConverter.ToInt64(p.Data, index * 8).ToString(CultureInfo.InvariantCulture),
        _ => "0x" + Convert.ToHexString(p.Data, index * TensorCodec.ElementSize(p.DType), TensorCodec.ElementSize(p.DType)),
    };

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static byte[] Encode(EntitySnapshot entity)
    {
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true)) CheckpointCodec.WriteEntity(writer, entity);
        return buffer.ToArray();
    }
}
