using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Training;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

public sealed class CheckpointSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-ckpt-").FullName;

    private static TrainingSettings Tiny => new() { Rounds = 10, Batch = 16, HiddenUnits = 8, LatentDim = 4, Unroll = 1, Discriminators = 2, EvalSamples = 50 };

    private static Checkpoint Trained(int rounds)
    {
        using var trainer = new ReferenceTrainer(Tiny, RunData.Create(Tiny), CPU);
        for (var i = 0; i < rounds; i++) trainer.RunRound();
        return trainer.CreateCheckpoint();
    }

    [Fact]
    public void Checkpoints_should_round_trip_every_entity_and_tensor()
    {
        var checkpoint = Trained(2);
        var decoded = CheckpointCodec.Decode(CheckpointCodec.Encode(checkpoint), "memory");
        Assert.Equal(checkpoint.Metadata.Round, decoded.Metadata.Round);
        Assert.Equal(checkpoint.Metadata.SettingsJson, decoded.Metadata.SettingsJson);
        Assert.Equal(["g-0", "d-0", "d-1"], decoded.Entities.Select(e => e.EntityId));
        foreach (var (a, b) in checkpoint.Entities.Zip(decoded.Entities))
        {
            Assert.Equal(a.LearningRate, b.LearningRate);
            Assert.Equal(a.OptimizerSteps, b.OptimizerSteps);
            Assert.Equal(a.Tensors.Select(t => t.Name), b.Tensors.Select(t => t.Name));
            Assert.All(a.Tensors.Zip(b.Tensors), p => Assert.Equal(p.First.Payload.Data, p.Second.Payload.Data));
        }
    }

    [Fact]
    public void Each_entitys_own_round_should_round_trip_and_a_version_1_file_should_still_read()
    {
        var checkpoint = Trained(3);
        var kept = checkpoint with { Metadata = checkpoint.Metadata with { EntityRounds = new Dictionary<string, long> { ["g-0"] = 3, ["d-0"] = 1, ["d-1"] = 3 } } };
        var decoded = CheckpointCodec.Decode(CheckpointCodec.Encode(kept), "memory");
        Assert.Equal(1, decoded.Metadata.RoundOf("d-0"));
        Assert.Equal(3, decoded.Metadata.RoundOf("d-1"));
        Assert.Equal(3, CheckpointCodec.Decode(CheckpointCodec.Encode(checkpoint), "memory").Metadata.RoundOf("d-0"));

        // A state newer than the checkpoint is refused.
        var future = checkpoint with { Metadata = checkpoint.Metadata with { EntityRounds = new Dictionary<string, long> { ["d-0"] = 4 } } };
        Assert.Contains("d-0's state is of round 4", Assert.Throws<CheckpointException>(() => CheckpointCodec.Decode(CheckpointCodec.Encode(future), "x.akgc")).Message);

        // Version 1: the same body without the per-entity rounds (their count is the int32 after the metadata).
        var v1 = Version1(CheckpointCodec.Encode(checkpoint), checkpoint.Metadata);
        var old = CheckpointCodec.Decode(v1, "v1.akgc");
        Assert.Null(old.Metadata.EntityRounds);
        Assert.Equal(3, old.Metadata.RoundOf("d-0"));
        Assert.Equal(checkpoint.Entities.Select(e => e.EntityId), old.Entities.Select(e => e.EntityId));
    }

    /// <summary>Rewrites a version-2 file with no per-entity rounds as the version-1 layout.</summary>
    private static byte[] Version1(byte[] v2, CheckpointMetadata m)
    {
        const int header = 8 + 4 + 8;
        var body = v2.AsSpan(header, v2.Length - header - 32).ToArray();
        // Metadata: round, seed, settings (length-prefixed UTF-8), engine, created: measure it by writing it again.
        using var prefix = new MemoryStream();
        using (var w = new BinaryWriter(prefix, global::System.Text.Encoding.UTF8, leaveOpen: true))
        {
            w.Write(m.Round);
            w.Write(m.Seed);
            w.Write(m.SettingsJson);
            w.Write(m.Engine);
            w.Write(m.CreatedUtc.ToUnixTimeMilliseconds());
        }
        var at = (int)prefix.Length;
        Assert.Equal(0, BitConverter.ToInt32(body, at));
        byte[] oldBody = [.. body[..at], .. body[(at + 4)..]];
        using var file = new MemoryStream();
        using (var w = new BinaryWriter(file))
        {
            w.Write(v2.AsSpan(0, 8));
            w.Write(1);
            w.Write(oldBody.LongLength);
            w.Write(oldBody);
            w.Write(global::System.Security.Cryptography.SHA256.HashData(oldBody));
        }
        return file.ToArray();
    }

    [Fact]
    public void A_flipped_bit_or_truncation_should_be_rejected_naming_the_source()
    {
        var bytes = CheckpointCodec.Encode(Trained(1));
        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x10;
        Assert.Contains("SHA-256 mismatch", Assert.Throws<CheckpointException>(() => CheckpointCodec.Decode(flipped, "x.akgc")).Message);
        Assert.Contains("x.akgc", Assert.Throws<CheckpointException>(() => CheckpointCodec.Decode(bytes[..^100], "x.akgc")).Message);
        Assert.Contains("wrong magic", Assert.Throws<CheckpointException>(() => CheckpointCodec.Decode(new byte[100], "x.akgc")).Message);
    }

    [Fact]
    public void Store_should_write_atomically_and_keep_the_newest()
    {
        var store = new CheckpointStore(_dir, keep: 2);
        var checkpoint = Trained(1);
        foreach (var round in new long[] { 1, 2, 3 })
            store.Save(checkpoint with { Metadata = checkpoint.Metadata with { Round = round } });
        Assert.Equal([CheckpointStore.FileName(2), CheckpointStore.FileName(3)], CheckpointStore.List(_dir).Select(Path.GetFileName));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
        Assert.Equal(3, CheckpointStore.Resolve(_dir).Checkpoint.Metadata.Round);
    }

    [Fact]
    public void A_streamed_checkpoint_file_should_equal_the_encoded_bytes_and_a_failed_write_should_leave_the_old_file()
    {
        var store = new CheckpointStore(_dir, keep: 2);
        var checkpoint = Trained(1);
        var path = store.Save(checkpoint);
        Assert.Equal(CheckpointCodec.Encode(checkpoint), File.ReadAllBytes(path));

        var before = File.ReadAllBytes(path);
        var failure = Assert.Throws<IOException>(() => CheckpointStore.WriteAtomically(path, stream =>
        {
            CheckpointCodec.Write(stream, checkpoint);
            throw new IOException("disk full (simulated)");
        }));
        Assert.Contains("simulated", failure.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp-*"));
    }

    [Fact]
    public void Resolving_a_corrupt_newest_checkpoint_should_fail_naming_older_ones_and_change_nothing()
    {
        var store = new CheckpointStore(_dir, keep: 3);
        var checkpoint = Trained(1);
        store.Save(checkpoint with { Metadata = checkpoint.Metadata with { Round = 1 } });
        var newest = store.Save(checkpoint with { Metadata = checkpoint.Metadata with { Round = 2 } });
        var good = File.ReadAllBytes(Path.Combine(_dir, CheckpointStore.FileName(1)));
        File.WriteAllBytes(newest, File.ReadAllBytes(newest)[..^7]);
        var before = Directory.GetFiles(_dir).Select(f => (f, File.ReadAllBytes(f).Length)).ToArray();

        var e = Assert.Throws<CheckpointException>(() => CheckpointStore.Resolve(_dir));
        Assert.Contains(newest, e.Message);
        Assert.Contains(CheckpointStore.FileName(1), e.Message);
        Assert.Equal(before, Directory.GetFiles(_dir).Select(f => (f, File.ReadAllBytes(f).Length)).ToArray());
        Assert.Equal(good, File.ReadAllBytes(Path.Combine(_dir, CheckpointStore.FileName(1))));
    }

    [Fact]
    public void Restoring_a_snapshot_of_another_architecture_should_fail_and_leave_the_entity_unchanged()
    {
        var checkpoint = Trained(1);
        using var other = new ReferenceTrainer(Tiny with { HiddenUnits = 16 }, RunData.Create(Tiny), CPU);
        var before = other.Generator.Model.parameters().Select(p => p.detach().clone()).ToArray();
        var e = Assert.Throws<CheckpointException>(() => other.Restore(checkpoint));
        Assert.Contains("shape", e.Message);
        Assert.All(other.Generator.Model.parameters().Zip(before), p => Assert.True(p.First.equal(p.Second).all().item<bool>()));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
