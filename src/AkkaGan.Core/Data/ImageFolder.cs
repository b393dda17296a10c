using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AkkaGan.Core.Tensors;
using SkiaSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Data;

/// <summary>
/// A user's images: every PNG and JPEG under a folder (recursively, in ordinal path order), decoded with SkiaSharp,
/// center-cropped to a square and scaled to <c>image-size</c> (up by at most 2x), as uint8 (N, C, S, S) in memory and
/// scaled to [-1, 1] per drawn batch. Decoding happens once: the result is cached as a <c>.npy</c> file named by a hash
/// of the size and every file's path and content (<see cref="CacheDirectory"/>), so a later run (or another node with
/// the same files) loads it in seconds. As for points, a fixed tenth of the images (at most
/// <see cref="PointCloud.MaxHeldOut"/>) is held out of training for the metrics.
/// </summary>
public sealed class ImageFolder : IShardable, IHeldOutData, IDisposable
{
    /// <summary>The extensions read (case-insensitive).</summary>
    public static readonly IReadOnlyList<string> Extensions = [".png", ".jpg", ".jpeg"];
    /// <summary>Environment variable that moves the decoded-image cache.</summary>
    public const string CacheVariable = "AKKAGAN_DATA_CACHE";
    /// <summary>The fewest images a folder may have (a held-out tenth of at least 2).</summary>
    public const int MinImages = 20;
    private const string CacheFormat = "akkagan-images-v1";
    private static readonly float[] Luma = [0.299f, 0.587f, 0.114f];
    private readonly Tensor _train;   // (N - H, C, S, S) uint8
    private readonly Tensor _heldOut; // (H, C, S, S) uint8

    private ImageFolder(string directory, Tensor train, Tensor heldOut, int shard)
    {
        Directory = directory;
        ShardIndex = shard;
        _train = train.DetachFromDisposeScope();
        _heldOut = heldOut.DetachFromDisposeScope();
    }

    /// <summary>The folder the images came from.</summary>
    public string Directory { get; }
    /// <summary>The shard held (-1: every training image).</summary>
    public int ShardIndex { get; }

    /// <inheritdoc/>
    public IRealData Shard(int shard, int shards)
    {
        using var scope = NewDisposeScope();
        var rows = _train.index_select(0, Shards.Rows(TrainCount, shard, shards));
        return new ImageFolder(Directory, rows.MoveToOuterDisposeScope(), _heldOut.clone().MoveToOuterDisposeScope(), shard);
    }

    /// <summary>One image, [C, S, S].</summary>
    public long[] SampleShape => [.. _train.shape.Skip(1)];
    /// <summary>Images the discriminators train on.</summary>
    public long TrainCount => _train.shape[0];
    /// <summary>The held-out images, (H, C, S, S) float32 in [-1, 1] (a new tensor).</summary>
    public Tensor HeldOut => ToFloat(_heldOut);

    /// <summary>The default cache folder (the <c>data-cache-dir</c> setting wins over it): <c>$AKKAGAN_DATA_CACHE</c>, else <c>$XDG_CACHE_HOME</c> or <c>~/.cache</c> + <c>akkagan/images</c>.</summary>
    public static string CacheDirectory()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable(CacheVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) return fromEnvironment;
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrWhiteSpace(cache)) cache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "akkagan", "images");
    }

    /// <summary>The image files under <paramref name="directory"/>, recursively, in ordinal order of their relative paths.</summary>
    public static string[] Files(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory)) throw new DatasetException("dataset=images needs data-dir, the folder of the PNG or JPEG images");
        if (!System.IO.Directory.Exists(directory)) throw new DatasetException($"{directory}: image folder not found");
        var files = System.IO.Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .OrderBy(f => Path.GetRelativePath(directory, f), StringComparer.Ordinal)
            .ToArray();
        if (files.Length == 0) throw new DatasetException($"{directory}: no images (.png, .jpg or .jpeg) in the folder or below it");
        return files;
    }

    /// <summary>
    /// Loads the folder at <paramref name="size"/> with <paramref name="channels"/> channels (0: 3 if any image has colour,
    /// else 1), from the cache when it holds these files, else decoding them (in parallel) and writing the cache.
    /// Every bad file is a <see cref="DatasetException"/> naming it.
    /// </summary>
    /// <param name="directory">The folder.</param>
    /// <param name="size">The side of the images.</param>
    /// <param name="channels">1 or 3, or 0 for the data's.</param>
    /// <param name="log">Hears about the decoding.</param>
    /// <param name="cacheDirectory">The cache folder (null: <see cref="CacheDirectory"/>).</param>
    /// <param name="shard">Loads only this shard's training images (of <paramref name="shards"/>), reading only their rows of the cache file; -1: all.</param>
    /// <param name="shards">The number of shards.</param>
    public static ImageFolder Load(string directory, int size, int channels = 0, Action<string>? log = null, string? cacheDirectory = null, int shard = -1, int shards = 1)
    {
        if (channels is not (0 or 1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "channels must be 0, 1 or 3");
        log ??= _ => { };
        var files = Files(directory);
        if (files.Length < MinImages) throw new DatasetException($"{directory}: {files.Length} images; an image folder needs at least {MinImages} (a tenth is held out for the metrics)");
        cacheDirectory ??= CacheDirectory();
        var key = CacheKey(directory, files, size);
        var cached = Path.Combine(cacheDirectory, key + ".npy");
        if (File.Exists(cached) && CacheHolds(cached, files.Length, size))
            log($"images: {files.Length} from {directory} at {size}x{size}, decoded before ({cached})");
        else
        {
            var (decoded, decodedShape) = Decode(directory, files, size, log);
            if (!WriteCache(cacheDirectory, cached, decoded, decodedShape, log))
                return Split(directory, tensor(decoded, decodedShape), channels, shard, shards);
        }
        // Only the rows this process holds are read: a shard's node never has the other shards in memory.
        var rows = files.Length;
        var (heldRows, trainRows) = SplitRows(rows, shard, shards);
        using var scope = NewDisposeScope();
        var held = WithChannels(ReadRows(cached, heldRows), channels).contiguous();
        var train = WithChannels(ReadRows(cached, trainRows), channels).contiguous();
        if (shard >= 0)
            log($"images: shard {shard} of {shards}: {trainRows.Length} of the {rows - heldRows.Length} training images in memory " +
                $"({train.NumberOfElements / 1048576.0:F1} MB), {heldRows.Length} held out");
        return new ImageFolder(directory, train.MoveToOuterDisposeScope(), held.MoveToOuterDisposeScope(), shard);
    }

    /// <summary>Rows of the cache file read straight into a uint8 tensor's memory (no managed copy of the images).</summary>
    private static Tensor ReadRows(string path, long[] rows)
    {
        var shape = NpyFile.ReadShape(path);
        var rowsTensor = empty([rows.Length, .. shape.Skip(1)], ScalarType.Byte);
        NpyFile.ReadByteRows(path, rows, rowsTensor.bytes);
        return rowsTensor;
    }

    /// <summary>
    /// The held-out rows and the training rows (of <paramref name="shard"/>, or all) among <paramref name="rows"/>, from a
    /// permutation that depends only on the count, so every node (and every run on the folder) holds out the same images.
    /// </summary>
    private static (long[] HeldOut, long[] Train) SplitRows(long rows, int shard, int shards)
    {
        var heldOut = (int)Math.Min(PointCloud.MaxHeldOut, rows / 10);
        using var scope = NewDisposeScope();
        using var split = new Generator(0x1A6E_F01DUL + (ulong)rows, CPU);
        var order = randperm(rows, generator: split);
        var train = order.narrow(0, heldOut, rows - heldOut);
        if (shard >= 0) train = train.index_select(0, Shards.Rows(rows - heldOut, shard, shards));
        return (order.narrow(0, 0, heldOut).data<long>().ToArray(), train.data<long>().ToArray());
    }

    /// <summary>The same split from decoded images in memory (when the cache cannot be written).</summary>
    private static ImageFolder Split(string directory, Tensor all, int channels, int shard, int shards)
    {
        using var scope = NewDisposeScope();
        var (heldRows, trainRows) = SplitRows(all.shape[0], shard, shards);
        all = WithChannels(all, channels);
        var train = all.index_select(0, tensor(trainRows)).contiguous();
        var held = all.index_select(0, tensor(heldRows)).contiguous();
        return new ImageFolder(directory, train.MoveToOuterDisposeScope(), held.MoveToOuterDisposeScope(), shard);
    }

    /// <summary>
    /// The channels the folder's images have at <paramref name="size"/>: 3 if any has colour, else 1 (decodes the folder,
    /// or reads the cache, as <see cref="Load"/> does).
    /// </summary>
    public static int DetectChannels(string directory, int size, Action<string>? log = null, string? cacheDirectory = null)
    {
        using var folder = Load(directory, size, 0, log, cacheDirectory);
        return (int)folder.SampleShape[0];
    }

    /// <summary><paramref name="count"/> training images drawn uniformly with replacement, (count, C, S, S) float32 in [-1, 1].</summary>
    public Tensor Sample(int count, Generator generator)
    {
        using var scope = NewDisposeScope();
        var index = randint(0, TrainCount, [count], generator: generator);
        return ToFloat(_train.index_select(0, index)).MoveToOuterDisposeScope();
    }

    /// <summary>Frees the images.</summary>
    public void Dispose()
    {
        _train.Dispose();
        _heldOut.Dispose();
    }

    private static Tensor ToFloat(Tensor bytes) => bytes.to_type(ScalarType.Float32).DivInPlace(127.5f).SubInPlace(1f);

    /// <summary>The cached pixels (1 or 3 channels, as the data has them) with <paramref name="channels"/> channels.</summary>
    private static Tensor WithChannels(Tensor images, int channels)
    {
        var have = images.shape[1];
        if (channels == 0 || channels == have) return images;
        if (channels == 3) return images.expand(-1, 3, -1, -1).contiguous();
        // ITU-R BT.601 luma, rounded.
        var weights = tensor(Luma, [1, 3, 1, 1]);
        return (images.to_type(ScalarType.Float32) * weights).sum(1, keepdim: true).round().Clamp(0, 255).to_type(ScalarType.Byte);
    }

    private static string CacheKey(string directory, string[] files, int size)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{CacheFormat}\n{size}\n"));
        foreach (var file in files)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(directory, file).Replace('\\', '/') + "\n"));
            try
            {
                using var stream = File.OpenRead(file);
                sha.AppendData(SHA256.HashData(stream));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new DatasetException($"{file}: cannot be read ({e.Message})");
            }
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..24];
    }

    /// <summary>Whether the cache file is a uint8 array of these images (its header and length); a damaged one is decoded again and replaced.</summary>
    private static bool CacheHolds(string path, int count, int size)
    {
        try
        {
            return NpyFile.ReadShape(path) is [var n, 1 or 3, var h, var w] && n == count && h == size && w == size
                   && NpyFile.ReadByteRows(path, [0]).Values.Length > 0;
        }
        catch (DatasetException)
        {
            return false;
        }
    }

    /// <summary>Writes the cache atomically; false when it cannot be written (the run goes on from memory).</summary>
    private static bool WriteCache(string cacheDirectory, string path, byte[] pixels, long[] shape, Action<string> log)
    {
        try
        {
            System.IO.Directory.CreateDirectory(cacheDirectory);
            var temporary = path + $".{Environment.ProcessId}.tmp";
            NpyFile.WriteBytes(temporary, pixels, shape);
            File.Move(temporary, path, overwrite: true);
            log($"images: cached as {path}");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only cache costs the next run the decoding again, not this run.
            log($"images: cannot write the cache {path} ({e.Message}); the next run decodes the images again");
            return false;
        }
    }

    private static (byte[] Pixels, long[] Shape) Decode(string directory, string[] files, int size, Action<string> log)
    {
        log($"images: decoding {files.Length} from {directory} at {size}x{size} (once; later runs read the cache)");
        var clock = Stopwatch.StartNew();
        var plane = size * size;
        var rgb = new byte[files.Length * 3L * plane];
        var colour = new bool[files.Length];
        var sizes = new (int Width, int Height)[files.Length];
        var done = 0;
        var reported = 0;
        var failures = new DatasetException?[files.Length];
        Parallel.For(0, files.Length, (i, loop) =>
        {
            try
            {
                (colour[i], sizes[i]) = DecodeOne(files[i], size, rgb.AsSpan((int)(i * 3L * plane), 3 * plane));
            }
            catch (DatasetException e)
            {
                failures[i] = e;
                loop.Stop();
                return;
            }
            var finished = Interlocked.Increment(ref done);
            var tenth = finished * 10 / files.Length;
            if (tenth > Volatile.Read(ref reported) && tenth < 10 && Interlocked.Exchange(ref reported, tenth) < tenth)
                log($"images: {tenth * 10}% decoded ({finished}/{files.Length})");
        });
        // The first bad file in path order (others may have been decoded meanwhile, or not reached).
        if (failures.FirstOrDefault(f => f is not null) is { } failure) throw failure;
        var distinct = sizes.Distinct().ToArray();
        if (distinct.Length > 1 || distinct[0] != (size, size))
        {
            var shown = string.Join(", ", sizes.GroupBy(s => s).OrderByDescending(g => g.Count()).Take(3)
                .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key.Width}x{g.Key.Height} ({g.Count()})")));
            var smaller = sizes.Count(s => Math.Min(s.Width, s.Height) < size);
            log($"images: {distinct.Length} different size(s) ({shown}{(distinct.Length > 3 ? ", ..." : "")}); each is center-cropped to a square and scaled to {size}x{size}" +
                (smaller > 0 ? $" ({smaller} scaled up)" : ""));
        }
        var channels = colour.Any(c => c) ? 3 : 1;
        byte[] pixels;
        if (channels == 3) pixels = rgb;
        else
        {
            pixels = new byte[files.Length * (long)plane];
            for (long i = 0; i < files.Length; i++) Array.Copy(rgb, i * 3 * plane, pixels, i * plane, plane);
        }
        log(string.Create(CultureInfo.InvariantCulture, $"images: {files.Length} decoded in {clock.Elapsed.TotalSeconds:F1} s, {(channels == 3 ? "RGB" : "grayscale")}"));
        return (pixels, [files.Length, channels, size, size]);
    }

    /// <summary>Decodes one file into planar RGB <paramref name="target"/> (3 x size x size); whether it has colour and its size.</summary>
    private static (bool Colour, (int, int) Size) DecodeOne(string file, int size, Span<byte> target)
    {
        using var codec = OpenCodec(file);
        var (width, height) = (codec.Info.Width, codec.Info.Height);
        if (2 * Math.Min(width, height) < size)
            throw new DatasetException($"{file}: {width}x{height} is too small for image-size {size} (an image is scaled up at most 2x, which " +
                                       "would invent the rest; choose a smaller --image-size or leave the file out)");
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var decoded = new SKBitmap(info);
        var result = codec.GetPixels(info, decoded.GetPixels());
        if (result != SKCodecResult.Success)
            throw new DatasetException($"{file}: {(result == SKCodecResult.IncompleteInput ? "truncated" : "corrupt")} image ({result})");
        using var scaled = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
        if (width != size || height != size)
        {
            var side = Math.Min(width, height);
            using var canvas = new SKCanvas(scaled);
            using var image = SKImage.FromBitmap(decoded);
            var crop = SKRect.Create((width - side) / 2, (height - side) / 2, side, side);
            canvas.Clear(SKColors.Black);
            canvas.DrawImage(image, crop, SKRect.Create(0, 0, size, size), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        }
        var rgba = (width == size && height == size ? decoded : scaled).GetPixelSpan();
        var plane = size * size;
        var colour = false;
        for (var p = 0; p < plane; p++)
        {
            byte r = rgba[4 * p], g = rgba[4 * p + 1], b = rgba[4 * p + 2];
            target[p] = r;
            target[plane + p] = g;
            target[2 * plane + p] = b;
            colour |= r != g || g != b;
        }
        return (colour, (width, height));
    }

    private static SKCodec OpenCodec(string file)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DatasetException($"{file}: cannot be read ({e.Message})");
        }
        using var data = SKData.CreateCopy(bytes);
        return SKCodec.Create(data)
               ?? throw new DatasetException($"{file}: not a readable PNG or JPEG image ({(bytes.Length == 0 ? "the file is empty" : "unknown format or a damaged header")})");
    }
}
