using System.Buffers;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Akka.Serialization;
using AkkaGan.Cluster.Protocol;
using AkkaGan.Core.Checkpoints;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using D = AkkaGan.Cluster.Protocol.DiscriminatorProtocol;
using E = AkkaGan.Cluster.Protocol.EntityProtocol;
using G = AkkaGan.Cluster.Protocol.GeneratorProtocol;
using S = AkkaGan.Cluster.Protocol.StateProtocol;
using Ctl = AkkaGan.Cluster.Protocol.ControlProtocol;
using Disc = AkkaGan.Cluster.Protocol.DiscoveryProtocol;

namespace AkkaGan.Cluster.Serialization;

/// <summary>
/// The one serializer of every <see cref="IAkkaGanWireMessage"/> (bound in cluster.hocon): a compact binary layout
/// per message, a short string manifest per type, tensors only as <see cref="TensorPayload"/> through
/// <see cref="TensorCodec"/>, actor refs as serialized paths. Decoding validates lengths, enum values and tensor
/// payloads and reports any problem as a <see cref="SerializationException"/> naming the manifest, so a corrupt
/// message is dropped by the transport and never crashes the receiving node.
/// </summary>
public sealed class AkkaGanSerializer : SerializerWithStringManifest
{
    /// <summary>Serializer id (Akka reserves 0..100).</summary>
    public const int SerializerId = 4710;
    private const int MaxArray = 1 << 16;
    private const int MaxBytes = 64 << 20;

    private static readonly Entry[] Entries =
    [
        // What every entity does (one row per message, whatever the role).
        Entry.Of<E.Configure>("e.configure", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Text(m.SettingsJson); w.Ref(m.ReplyTo); w.Text(m.RunId); },
            r => new(r.Entity(), r.Long(), r.Text(), r.Ref(), r.Text())),
        Entry.Of<E.GetSnapshot>("e.get-snapshot", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Long(m.Round); w.Ref(m.ReplyTo); },
            r => new(r.Entity(), r.Long(), r.Long(), r.Ref())),
        Entry.Of<E.RestoreSnapshot>("e.restore", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Snapshot(m.Snapshot); w.Ref(m.ReplyTo); },
            r => new(r.Entity(), r.Long(), r.Snapshot(), r.Ref())),
        Entry.Of<E.RecoverFromStore>("e.recover-from-store", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Long(m.Round); w.Ref(m.ReplyTo); },
            r => new(r.Entity(), r.Long(), r.Long(), r.Ref())),
        Entry.Of<E.ApplySettings>("e.apply-settings", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Text(m.SettingsJson); w.Bool(m.ResetLearningRate); w.Long(m.Round); w.Ref(m.ReplyTo); },
            r => new(r.Entity(), r.Long(), r.Text(), r.Bool(), r.Long(), r.Ref())),
        Entry.Of<E.Configured>("e.configured", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Text(m.Node); }, r => new(r.Entity(), r.Long(), r.Text())),
        Entry.Of<E.SnapshotTaken>("e.snapshot", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Long(m.Round); w.Snapshot(m.Snapshot); },
            r => new(r.Entity(), r.Long(), r.Long(), r.Snapshot())),
        Entry.Of<E.Restored>("e.restored", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Text(m.Node); }, r => new(r.Entity(), r.Long(), r.Text())),
        Entry.Of<E.SettingsApplied>("e.settings-applied", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Long(m.Round); }, r => new(r.Entity(), r.Long(), r.Long())),
        Entry.Of<E.Rejected>("e.rejected", (w, m) => { w.Entity(m.EntityId); w.Long(m.RequestId); w.Long(m.Round); w.Text(m.Command); w.Text(m.Reason); },
            r => new(r.Entity(), r.Long(), r.Long(), r.Text(), r.Text())),
        Entry.Of<E.HandedOff>("e.handed-off", (w, m) => { w.Entity(m.EntityId); w.Long(m.Round); w.Text(m.Node); w.Snapshot(m.Snapshot); },
            r => new(r.Entity(), r.Long(), r.Text(), r.Snapshot())),

        // The discriminators' role work.
        Entry.Of<D.TrainStep>("d.train", (w, m) => { w.Discriminator(m.Discriminator); w.Long(m.RequestId); w.Long(m.Round); w.Int(m.CriticStep); w.Payload(m.Fake); w.Ref(m.ReplyTo); },
            r => new(r.Discriminator(), r.Long(), r.Long(), r.Int(), r.Payload(), r.Ref())),
        Entry.Of<D.ComputeFeedback>("d.feedback", (w, m) => { w.Discriminator(m.Discriminator); w.Long(m.RequestId); w.Long(m.Round); w.Payload(m.Fake); w.Ref(m.ReplyTo); },
            r => new(r.Discriminator(), r.Long(), r.Long(), r.Payload(), r.Ref())),
        Entry.Of<D.MeasureFitness>("d.fitness", (w, m) => { w.Discriminator(m.Discriminator); w.Long(m.RequestId); w.Long(m.Round); w.Payload(m.Fake); w.Ref(m.ReplyTo); },
            r => new(r.Discriminator(), r.Long(), r.Long(), r.Payload(), r.Ref())),
        Entry.Of<D.TransferWeights>("d.transfer", (w, m) =>
            {
                w.Discriminator(m.Discriminator); w.Long(m.RequestId); w.Discriminator(m.Target); w.Double(m.LearningRate); w.Long(m.Round); w.Ref(m.ReplyTo);
            },
            r => new(r.Discriminator(), r.Long(), r.Discriminator(), r.Double(), r.Long(), r.Ref())),
        Entry.Of<D.AdoptWeights>("d.adopt", (w, m) =>
            {
                w.Discriminator(m.Discriminator); w.Long(m.RequestId); w.Snapshot(m.Snapshot); w.Double(m.LearningRate); w.Long(m.Round); w.Ref(m.ReplyTo);
            },
            r => new(r.Discriminator(), r.Long(), r.Snapshot(), r.Double(), r.Long(), r.Ref())),
        Entry.Of<D.Retire>("d.retire", (w, m) => { w.Discriminator(m.Discriminator); w.Long(m.Round); }, r => new(r.Discriminator(), r.Long())),
        Entry.Of<D.TrainStepDone>("d.trained", (w, m) =>
            {
                var s = m.Result;
                w.Long(m.RequestId); w.Discriminator(m.Discriminator); w.Long(s.Round); w.Int(s.CriticStep); w.Double(s.Loss); w.Double(s.Penalty);
                w.Double(s.RealScore); w.Double(s.FakeScore); w.Double(s.GradientNorm); w.Double(s.Accuracy);
            },
            r => new(r.Long(), new DiscriminatorStepResult(r.Discriminator().Member, r.Long(), r.Int(), r.Double(), r.Double(), r.Double(), r.Double(), r.Double(), r.Double()))),
        Entry.Of<D.FeedbackComputed>("d.feedback-computed", (w, m) => { w.Discriminator(m.Discriminator); w.Long(m.RequestId); w.Long(m.Round); w.Double(m.Loss); w.Payload(m.Gradient); },
            r => new(r.Discriminator(), r.Long(), r.Long(), r.Double(), r.Payload())),
        Entry.Of<D.FitnessMeasured>("d.fitness-measured", (w, m) => { w.Discriminator(m.Discriminator); w.Long(m.RequestId); w.Long(m.Round); w.Double(m.Fitness); },
            r => new(r.Discriminator(), r.Long(), r.Long(), r.Double())),
        Entry.Of<D.WeightsAdopted>("d.adopted", (w, m) => { w.Discriminator(m.Discriminator); w.Long(m.RequestId); w.Long(m.Round); w.Double(m.LearningRate); },
            r => new(r.Discriminator(), r.Long(), r.Long(), r.Double())),

        // The generator's role work.
        Entry.Of<G.RunRound>("g.round", (w, m) =>
            {
                w.Generator(m.Generator); w.Long(m.RequestId); w.Long(m.Round); w.Int(m.CriticSteps); w.Ints(m.Critics); w.Ints(m.Members); w.Long(m.Timeout.Ticks); w.Ref(m.ReplyTo); w.Long(m.Follows);
            },
            r => new(r.Generator(), r.Long(), r.Long(), r.Int(), r.Ints(), r.Ints(), r.Duration(), r.Ref(), r.Long())),
        Entry.Of<G.RoundDeclined>("g.declined", (w, m) => { w.Generator(m.Generator); w.Long(m.RequestId); w.Long(m.Round); w.Text(m.Reason); },
            r => new(r.Generator(), r.Long(), r.Long(), r.Text())),
        Entry.Of<G.ProduceFitnessBatch>("g.fitness", (w, m) => { w.Generator(m.Generator); w.Long(m.RequestId); w.Long(m.Round); w.Ints(m.Members); w.Ref(m.ReplyTo); },
            r => new(r.Generator(), r.Long(), r.Long(), r.Ints(), r.Ref())),
        Entry.Of<G.GetSamples>("g.get-samples", (w, m) => { w.Generator(m.Generator); w.Long(m.RequestId); w.Int(m.Count); w.Ref(m.ReplyTo); },
            r => new(r.Generator(), r.Long(), r.Int(), r.Ref())),
        Entry.Of<G.GeneratorStepped>("g.stepped", (w, m) =>
            {
                var s = m.Result;
                w.Generator(m.Generator); w.Long(m.RequestId); w.Long(s.Round); w.Double(s.Loss); w.Double(s.GradientNorm); w.Double(s.FeedbackNorm); w.Double(s.Drift); w.Ints(m.Answered);
            },
            r => new(r.Generator(), r.Long(), new GeneratorStepResult(r.Long(), r.Double(), r.Double(), r.Double(), r.Double()), r.Ints())),
        Entry.Of<G.SamplesProduced>("g.samples", (w, m) => { w.Generator(m.Generator); w.Long(m.RequestId); w.Payload(m.Samples); },
            r => new(r.Generator(), r.Long(), r.Payload())),
        Entry.Of<Chunk>("chunk", (w, m) => { w.Text(m.Entity); w.Guid(m.Transfer); w.Int(m.Index); w.Int(m.Count); w.Text(m.Manifest); w.Bytes(m.Bytes); },
            r => new(r.Text(), r.Guid(), r.Int(), r.Int(), r.Text(), r.Bytes())),
        Entry.Of<BulkRef>("bulk", (w, m) => { w.Text(m.Entity); w.Guid(m.Transfer); w.Text(m.Endpoint); w.Long(m.Length); w.Text(m.Manifest); },
            r => new(r.Text(), r.Guid(), r.Text(), r.Long(), r.Text())),
        Entry.Of<S.EntityState>("state.entity", (w, m) => { w.Text(m.EntityId); w.Long(m.Round); w.Snapshot(m.Snapshot); },
            r => new(r.Text(), r.Long(), r.Snapshot())),
        Entry.Of<S.RunPosition>("state.position", (w, m) =>
            {
                w.Text(m.RunId); w.Long(m.Round); w.Text(m.SettingsJson); w.Long(m.Seed);
                w.Int(m.Stored.Count);
                foreach (var s in m.Stored) { w.Text(s.EntityId); w.Long(s.Round); }
            },
            r => new(r.Text(), r.Long(), r.Text(), r.Long(), [.. Enumerable.Range(0, r.Count()).Select(_ => new S.StoredRound(r.Text(), r.Long()))])),
        Entry.Of<Ctl.RunRelayed>("ctl.run", (w, m) => { w.Text(m.Palette); w.Text(m.Command); w.Texts(m.Args); w.Text(m.Caller); w.Ref(m.ReplyTo); },
            r => new(r.Text(), r.Text(), r.Texts(), r.Text(), r.Ref())),
        Entry.Of<Ctl.RelayLine>("ctl.line", (w, m) => w.Text(m.Text), r => new(r.Text())),
        Entry.Of<Ctl.RelayDone>("ctl.done", (w, m) => { w.Bool(m.Ok); w.Text(m.Error); }, r => new(r.Bool(), r.Text())),
        Entry.Of<Ctl.GetRunServed>("ctl.get-run", (_, _) => { }, _ => new()),
        Entry.Of<Ctl.RunServed>("ctl.run-served", (w, m) => w.Text(m.RunId), r => new(r.Text())),
        Entry.Of<Disc.GetSeedNodes>("disc.get-seeds", (w, m) => w.Text(m.From), r => new(r.Text())),
        Entry.Of<Disc.SeedNodesOf>("disc.seeds", (w, m) => { w.Text(m.Node); w.Texts(m.Members); }, r => new(r.Text(), r.Texts())),
    ];

    private static readonly Dictionary<Type, Entry> ByType = Entries.ToDictionary(e => e.Type);
    private static readonly Dictionary<string, Entry> ByManifest = Entries.ToDictionary(e => e.Manifest);

    /// <summary>The serializer Akka creates for <paramref name="system"/> (bound in cluster.hocon).</summary>
    public AkkaGanSerializer(ExtendedActorSystem system) : base(system) { }

    /// <inheritdoc/>
    public override int Identifier => SerializerId;

    /// <summary>Every message type this serializer knows, with its manifest (the reflection spec checks coverage).</summary>
    public static IReadOnlyDictionary<Type, string> Manifests => Entries.ToDictionary(e => e.Type, e => e.Manifest);

    /// <summary>
    /// Bytes of tensor data (payloads and snapshots) in a message: what decides whether it is sent whole or in
    /// chunks, without serializing it first. The rest of a message is a few hundred bytes at most.
    /// </summary>
    public static long TensorBytes(object message) => message switch
    {
        D.TrainStep m => m.Fake.Data.LongLength,
        D.ComputeFeedback m => m.Fake.Data.LongLength,
        D.MeasureFitness m => m.Fake.Data.LongLength,
        D.FeedbackComputed m => m.Gradient.Data.LongLength,
        D.AdoptWeights m => SnapshotBytes(m.Snapshot),
        G.SamplesProduced m => m.Samples.Data.LongLength,
        E.SnapshotTaken m => SnapshotBytes(m.Snapshot),
        E.HandedOff m => SnapshotBytes(m.Snapshot),
        E.RestoreSnapshot m => SnapshotBytes(m.Snapshot),
        _ => 0,
    };

    private static long SnapshotBytes(EntitySnapshot snapshot) => snapshot.Tensors.Sum(t => t.Payload.Data.LongLength);

    /// <summary>The actor system's instance (the one Akka.Remote uses for AkkaGan's wire messages).</summary>
    public static AkkaGanSerializer Of(ActorSystem system) => (AkkaGanSerializer)system.Serialization.FindSerializerForType(typeof(IAkkaGanWireMessage));

    /// <inheritdoc/>
    public override string Manifest(object o)
        => ByType.TryGetValue(o.GetType(), out var entry)
            ? entry.Manifest
            : throw new SerializationException($"AkkaGanSerializer: {o.GetType().FullName} has no manifest (add it to the serializer's table)");

    /// <inheritdoc/>
    public override byte[] ToBinary(object obj)
    {
        var entry = EntryOf(obj);
        // A message with tensors is sized for them up front, so it is written without the stream growing (and copying) as it goes.
        var tensors = TensorBytes(obj);
        using var buffer = tensors > 0 ? new MemoryStream((int)Math.Min(Array.MaxLength, tensors + 4096)) : new MemoryStream();
        using (var writer = new WireWriter(buffer)) entry.Write(writer, obj);
        WireMetrics.Out(entry.Manifest, buffer.Length);
        return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
    }

    /// <summary>
    /// Serializes a large message into a buffer of <paramref name="pool"/> (the bulk channel's, reused, so a transfer
    /// does not fault in fresh pages for every message); the caller returns it. Null when the message does not fit the
    /// size its tensors announce plus 64 KiB for the rest (then <see cref="ToBinary"/>).
    /// </summary>
    public (byte[] Buffer, int Length)? ToPooledBinary(object obj, ArrayPool<byte> pool)
    {
        var entry = EntryOf(obj);
        var size = TensorBytes(obj) + (64 << 10);
        if (size > Array.MaxLength) return null;
        var buffer = pool.Rent((int)size);
        try
        {
            using var stream = new MemoryStream(buffer, 0, buffer.Length, writable: true);
            using (var writer = new WireWriter(stream)) entry.Write(writer, obj);
            WireMetrics.Out(entry.Manifest, stream.Position);
            return (buffer, (int)stream.Position);
        }
        catch (NotSupportedException)
        {
            pool.Return(buffer);
            return null;
        }
    }

    private static Entry EntryOf(object obj) => ByType.TryGetValue(obj.GetType(), out var e)
        ? e
        : throw new SerializationException($"AkkaGanSerializer: cannot serialize {obj.GetType().FullName}");

    /// <inheritdoc/>
    public override object FromBinary(byte[] bytes, string manifest) => FromBinary(bytes, bytes.Length, manifest);

    /// <summary>The message in the first <paramref name="length"/> bytes of <paramref name="bytes"/> (a pooled buffer of the bulk channel).</summary>
    public object FromBinary(byte[] bytes, int length, string manifest)
    {
        if (!ByManifest.TryGetValue(manifest, out var entry))
            throw new SerializationException($"AkkaGanSerializer: unknown manifest '{manifest}'");
        WireMetrics.In(manifest, length);
        try
        {
            using var reader = new WireReader(new MemoryStream(bytes, 0, length, writable: false), system);
            var message = entry.Read(reader);
            if (reader.Remaining != 0) throw new SerializationException($"{reader.Remaining} trailing bytes");
            return message;
        }
        catch (Exception ex) when (ex is EndOfStreamException or SerializationException or FormatException or ArgumentException or DecoderFallbackException)
        {
            throw new SerializationException($"AkkaGanSerializer: corrupt '{manifest}' message ({ex.Message})", ex);
        }
    }

    private sealed record Entry(Type Type, string Manifest, Action<WireWriter, object> Write, Func<WireReader, object> Read)
    {
        public static Entry Of<T>(string manifest, Action<WireWriter, T> write, Func<WireReader, T> read) where T : IAkkaGanWireMessage
            => new(typeof(T), manifest, (w, o) => write(w, (T)o), r => read(r)!);
    }

    /// <summary>Binary writer with the domain's building blocks.</summary>
    private sealed class WireWriter(Stream stream) : IDisposable
    {
        private readonly BinaryWriter _writer = new(stream, Encoding.UTF8, leaveOpen: true);

        public void Int(int value) => _writer.Write(value);
        public void Long(long value) => _writer.Write(value);
        public void Bool(bool value) => _writer.Write(value ? (byte)1 : (byte)0);
        public void Double(double value) => _writer.Write(value);
        public void Text(string value) => _writer.Write(value);
        public void Enum<T>(T value) where T : struct, System.Enum => _writer.Write(Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture));
        public void Discriminator(DiscriminatorId id) => _writer.Write(id.Member);
        public void Generator(GeneratorId id) => _writer.Write(id.Index);
        public void Entity(string entityId) => _writer.Write(entityId);
        public void Payload(TensorPayload payload) => TensorCodec.Write(_writer, payload);
        public void Snapshot(EntitySnapshot snapshot) => CheckpointCodec.WriteEntity(_writer, snapshot);

        public void Guid(Guid value) => _writer.Write(value.ToByteArray());

        public void Bytes(byte[] value)
        {
            _writer.Write(value.Length);
            _writer.Write(value);
        }

        public void Ints(IReadOnlyList<int> values)
        {
            _writer.Write(values.Count);
            foreach (var v in values) _writer.Write(v);
        }

        public void Texts(IReadOnlyList<string> values)
        {
            _writer.Write(values.Count);
            foreach (var v in values) _writer.Write(v);
        }

        public void Ref(IActorRef actor)
            => _writer.Write(actor.IsNobody() ? "" : Akka.Serialization.Serialization.SerializedActorPath(actor));

        public void Dispose() => _writer.Dispose();
    }

    /// <summary>Binary reader mirroring <see cref="WireWriter"/>, validating as it goes.</summary>
    private sealed class WireReader(Stream stream, ExtendedActorSystem system) : IDisposable
    {
        private readonly BinaryReader _reader = new(stream, new UTF8Encoding(false, throwOnInvalidBytes: true), leaveOpen: false);

        public long Remaining => _reader.BaseStream.Length - _reader.BaseStream.Position;
        public int Int() => _reader.ReadInt32();
        public long Long() => _reader.ReadInt64();

        public bool Bool() => _reader.ReadByte() switch
        {
            0 => false,
            1 => true,
            var b => throw new SerializationException($"boolean byte {b} is neither 0 nor 1"),
        };
        public double Double() => _reader.ReadDouble();
        public string Text() => _reader.ReadString();
        public TimeSpan Duration() => TimeSpan.FromTicks(NonNegative(_reader.ReadInt64(), "duration"));
        public DiscriminatorId Discriminator() => new((int)NonNegative(_reader.ReadInt32(), "discriminator index"));
        public GeneratorId Generator() => new((int)NonNegative(_reader.ReadInt32(), "generator index"));
        public string Entity() => EntityIds.Check(_reader.ReadString());
        public TensorPayload Payload() => TensorCodec.Read(_reader);
        public EntitySnapshot Snapshot() => CheckpointCodec.ReadEntity(_reader);

        public T Enum<T>() where T : struct, System.Enum
        {
            var raw = _reader.ReadInt32();
            var value = (T)(object)raw;
            return System.Enum.IsDefined(value) ? value : throw new SerializationException($"{typeof(T).Name} value {raw} is not defined");
        }

        public Guid Guid() => new(_reader.ReadBytes(16) is { Length: 16 } b ? b : throw new EndOfStreamException("truncated guid"));

        public byte[] Bytes()
        {
            var count = _reader.ReadInt32();
            if (count < 0 || count > MaxBytes) throw new SerializationException($"byte array length {count} outside 0..{MaxBytes}");
            var bytes = _reader.ReadBytes(count);
            return bytes.Length == count ? bytes : throw new EndOfStreamException($"byte array truncated at {bytes.Length} of {count}");
        }

        /// <summary>An element count, checked against the array limit.</summary>
        public int Count()
        {
            var count = _reader.ReadInt32();
            return count is >= 0 and <= MaxArray ? count : throw new SerializationException($"array length {count} outside 0..{MaxArray}");
        }

        public int[] Ints()
        {
            var count = _reader.ReadInt32();
            if (count < 0 || count > MaxArray) throw new SerializationException($"array length {count} outside 0..{MaxArray}");
            var values = new int[count];
            for (var i = 0; i < count; i++) values[i] = _reader.ReadInt32();
            return values;
        }

        public string[] Texts() => [.. Enumerable.Range(0, Count()).Select(_ => Text())];

        public IActorRef Ref()
        {
            var path = _reader.ReadString();
            return path.Length == 0 ? ActorRefs.Nobody : system.Provider.ResolveActorRef(path);
        }

        public void Dispose() => _reader.Dispose();

        private static long NonNegative(long value, string what)
            => value >= 0 ? value : throw new SerializationException($"{what} is negative ({value})");
    }
}
