using System.Globalization;
using AkkaGan.Core.Tensors;
using static TorchSharp.torch;

namespace AkkaGan.Core.Data;

/// <summary>
/// A user's points of any dimension d from a <c>.csv</c> (one point per line, comma-, semicolon- or tab-separated,
/// an optional header line) or <c>.npy</c> file (a 2-D float32 or float64 array): <c>--dataset points --data-file
/// FILE</c>. A fixed tenth of the rows (at most <see cref="MaxHeldOut"/>, chosen by a permutation that depends only on
/// the row count) is held out of training for the distribution metrics, so they compare the generator with points the
/// discriminators never saw.
/// </summary>
public sealed class PointCloud : IShardable, IHeldOutData
{
    /// <summary>The fewest rows a points file may have (a held-out tenth of at least 2 points).</summary>
    public const int MinRows = 20;
    /// <summary>The most rows held out for the metrics.</summary>
    public const int MaxHeldOut = 2500;
    private readonly Tensor _train;   // (N - H, d) float32
    private readonly Tensor _heldOut; // (H, d) float32

    private PointCloud(string name, Tensor train, Tensor heldOut, double extent, int shard = -1)
    {
        Name = name;
        ShardIndex = shard;
        _train = train.DetachFromDisposeScope();
        _heldOut = heldOut.DetachFromDisposeScope();
        Extent = extent;
    }

    /// <summary>The file's name, for titles.</summary>
    public string Name { get; }
    /// <summary>The largest absolute coordinate in the file (the discriminator's inputs are divided by it).</summary>
    public double Extent { get; }
    /// <summary>The dimension d of a point.</summary>
    public int Dimension => (int)_train.shape[1];
    /// <summary>One point, [d].</summary>
    public long[] SampleShape => [_train.shape[1]];
    /// <summary>Rows the discriminators train on.</summary>
    public long TrainCount => _train.shape[0];
    /// <summary>The shard held (-1: the whole file).</summary>
    public int ShardIndex { get; }

    /// <inheritdoc/>
    public IRealData Shard(int shard, int shards)
    {
        using var scope = NewDisposeScope();
        var rows = _train.index_select(0, Shards.Rows(TrainCount, shard, shards));
        return new PointCloud(Name, rows.MoveToOuterDisposeScope(), _heldOut.clone().MoveToOuterDisposeScope(), Extent, shard);
    }

    /// <summary>The held-out rows, (H, d) float32 (a new tensor).</summary>
    public Tensor HeldOut => _heldOut.clone();

    /// <summary>The dimension of the points in <paramref name="path"/>, reading only the header (npy) or first data line (csv).</summary>
    public static int ReadDimension(string path)
    {
        Check(path);
        if (IsNpy(path)) return (int)Shape2D(path, NpyFile.ReadShape(path))[1];
        var (rows, _) = ParseCsv(path, firstRowOnly: true);
        return rows[0].Length;
    }

    /// <summary>Loads <paramref name="path"/>; every problem is a <see cref="DatasetException"/> naming the file (and the line of a csv).</summary>
    public static PointCloud Load(string path)
    {
        Check(path);
        float[] values;
        long rows, columns;
        if (IsNpy(path))
        {
            var (data, shape) = NpyFile.Read(path);
            (rows, columns) = (Shape2D(path, shape)[0], shape[1]);
            values = data;
            for (var i = 0; i < values.Length; i++)
                if (!float.IsFinite(values[i]))
                    throw new DatasetException($"{path}: row {i / columns}, column {i % columns} is {values[i]}; every coordinate must be a finite number");
        }
        else
        {
            var (parsed, _) = ParseCsv(path, firstRowOnly: false);
            (rows, columns) = (parsed.Count, parsed[0].Length);
            values = [.. parsed.SelectMany(r => r)];
        }
        if (rows < MinRows) throw new DatasetException($"{path}: {rows} points; a points file needs at least {MinRows} (a tenth is held out for the metrics)");
        var extent = values.Length == 0 ? 1.0 : values.Max(v => Math.Abs((double)v));
        if (extent == 0) throw new DatasetException($"{path}: every coordinate is 0; there is no distribution to learn");
        var heldOut = (int)Math.Min(MaxHeldOut, rows / 10);
        using var scope = NewDisposeScope();
        var all = tensor(values, [rows, columns]);
        // The split depends only on the row count, so every node (and every run on the file) holds out the same rows.
        using var split = new Generator(0x901A_7C10UL + (ulong)rows, CPU);
        var order = randperm(rows, generator: split);
        var train = all.index_select(0, order.narrow(0, heldOut, rows - heldOut)).contiguous();
        var held = all.index_select(0, order.narrow(0, 0, heldOut)).contiguous();
        return new PointCloud(Path.GetFileName(path), train.MoveToOuterDisposeScope(), held.MoveToOuterDisposeScope(), extent);
    }

    /// <summary><paramref name="count"/> training points drawn uniformly with replacement, (count, d) float32.</summary>
    public Tensor Sample(int count, Generator generator)
    {
        using var scope = NewDisposeScope();
        var index = randint(0, TrainCount, [count], generator: generator);
        return _train.index_select(0, index).MoveToOuterDisposeScope();
    }

    private static bool IsNpy(string path) => path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase);

    private static void Check(string path)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new DatasetException("dataset=points needs data-file (--data-file FILE.csv or FILE.npy)");
        if (!File.Exists(path)) throw new DatasetException($"{path}: points file not found");
        if (!IsNpy(path) && !path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
            throw new DatasetException($"{path}: a points file is .csv or .npy (got '{Path.GetExtension(path)}')");
    }

    private static long[] Shape2D(string path, long[] shape)
    {
        if (shape.Length != 2) throw new DatasetException($"{path}: a points file holds a 2-D array (points x dimensions), got shape ({string.Join(", ", shape)})");
        if (shape[1] < 1) throw new DatasetException($"{path}: the points have no coordinates (shape ({string.Join(", ", shape)}))");
        return shape;
    }

    private static (List<float[]> Rows, bool Header) ParseCsv(string path, bool firstRowOnly)
    {
        var rows = new List<float[]>();
        var header = false;
        var lineNumber = 0;
        char? separator = null;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            separator ??= line.Contains('\t', StringComparison.Ordinal) ? '\t' : line.Contains(';', StringComparison.Ordinal) ? ';' : ',';
            var fields = line.Split(separator.Value);
            var values = new float[fields.Length];
            var numeric = true;
            for (var i = 0; i < fields.Length && numeric; i++)
                numeric = float.TryParse(fields[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]);
            if (!numeric)
            {
                if (rows.Count == 0 && !header)
                {
                    header = true; // a first line that is not numbers names the columns
                    continue;
                }
                var bad = fields.First(f => !float.TryParse(f.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _));
                throw new DatasetException($"{path}:{lineNumber}: '{bad.Trim()}' is not a number");
            }
            if (values.Any(v => !float.IsFinite(v)))
                throw new DatasetException($"{path}:{lineNumber}: every coordinate must be a finite number (got '{line}')");
            if (rows.Count > 0 && values.Length != rows[0].Length)
                throw new DatasetException($"{path}:{lineNumber}: {values.Length} columns, but the first point has {rows[0].Length}");
            rows.Add(values);
            if (firstRowOnly) break;
        }
        if (rows.Count == 0) throw new DatasetException($"{path}: no points (every line is empty, a comment or the header)");
        return (rows, header);
    }
}

/// <summary>Data that keeps rows out of training for the metrics (<see cref="PointCloud"/>, <see cref="ImageFolder"/>).</summary>
public interface IHeldOutData
{
    /// <summary>The held-out samples, (H, ...sample shape) float32: a new tensor the caller disposes.</summary>
    Tensor HeldOut { get; }
}
