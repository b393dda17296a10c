using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace AkkaGan.Core.Tensors;

/// <summary>
/// Reuses the data arrays of large payloads that were read off the wire. A payload of at least
/// <see cref="MinLength"/> bytes that <see cref="TensorCodec.Read"/> makes takes its array from here; its receiver,
/// once it has copied the data into a tensor, gives the array back with <see cref="Release"/>, and the next payload
/// of that length is read into it. Without this, every image-sized message a process receives is a fresh array on
/// the large object heap: every few of them start a full collection, which held a 4 MiB transfer up for 10-25 ms
/// (<c>akkagan bench wire</c>; docs/architecture.md, Hosting, "Large messages").
/// </summary>
/// <remarks>
/// Only arrays this pool handed out come back (a payload made by <see cref="TensorCodec.ToPayload"/>, or one that was
/// passed by reference inside a process, is left alone), each once. Releasing is an optimization: a payload never
/// released is garbage as before. The pool keeps at most <see cref="PerLength"/> arrays of a length and
/// <see cref="MaxPooledBytes"/> in all.
/// </remarks>
public static class PayloadPool
{
    /// <summary>Payloads smaller than this are allocated as before (they do not reach the large object heap's cost).</summary>
    public const int MinLength = 1 << 20;

    /// <summary>Arrays kept per length: a round moves a few tensors of one shape at a time.</summary>
    public const int PerLength = 4;

    /// <summary>Bytes kept in all.</summary>
    public const long MaxPooledBytes = 64L << 20;

    private static readonly ConcurrentDictionary<int, ConcurrentBag<byte[]>> Free = new();
    // Arrays handed out and not yet released; weak, so an array never released is collected as usual.
    private static readonly ConditionalWeakTable<byte[], object> Rented = new();
    private static readonly object Mark = new();
    private static long _pooled;

    /// <summary>Bytes kept for reuse now.</summary>
    public static long PooledBytes => Interlocked.Read(ref _pooled);

    /// <summary>An array of exactly <paramref name="length"/> bytes, not zeroed: a kept one when there is one.</summary>
    internal static byte[] Rent(int length)
    {
        if (length < MinLength) return GC.AllocateUninitializedArray<byte>(length);
        byte[] array;
        if (Free.TryGetValue(length, out var kept) && kept.TryTake(out var reused))
        {
            Interlocked.Add(ref _pooled, -length);
            array = reused;
        }
        else array = GC.AllocateUninitializedArray<byte>(length);
        Rented.AddOrUpdate(array, Mark);
        return array;
    }

    /// <summary>
    /// Gives <paramref name="payload"/>'s array back for the next payload of its length, if this pool handed it out and
    /// it was not released before. Call it only on a payload received for this actor alone (read off the wire) that
    /// nothing reads any more: its data is overwritten by the next one.
    /// </summary>
    public static void Release(TensorPayload payload)
    {
        var data = payload.Data;
        if (data.Length < MinLength || !Rented.Remove(data)) return;
        var kept = Free.GetOrAdd(data.Length, _ => []);
        if (kept.Count >= PerLength) return;
        if (Interlocked.Add(ref _pooled, data.Length) > MaxPooledBytes)
        {
            Interlocked.Add(ref _pooled, -data.Length);
            return;
        }
        kept.Add(data);
    }
}
