using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using AkkaGan.Core.Data;
using AkkaGan.Core.Models;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Tensors;
using AkkaGan.Core.Training;
using SkiaSharp;
using static TorchSharp.torch;

namespace AkkaGan.Core.Tests;

/// <summary>A user's data: points files (<c>--dataset points</c>) and image folders (<c>--dataset images</c>), their bad inputs, and the networks sized for them.</summary>
public sealed class UserDataSpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-userdata-").FullName;
    private readonly List<string> _log = [];

    private string PathOf(string name) => Path.Combine(_dir, name);

    private string Folder(string name) => Directory.CreateDirectory(PathOf(name)).FullName;

    private string Cache => Path.Combine(_dir, "cache");

    // ---------------------------------------------------------------- points

    [Fact]
    public void A_csv_with_a_header_should_load_every_point_holding_a_tenth_out()
    {
        var rows = Enumerable.Range(0, 50).Select(i => new[] { i * 1f, -i * 0.5f, i % 7 }).ToArray();
        File.WriteAllLines(PathOf("p.csv"), ["x,y,z", .. rows.Select(r => string.Join(",", r.Select(v => v.ToString("R", CultureInfo.InvariantCulture))))]);

        var data = PointCloud.Load(PathOf("p.csv"));
        Assert.Equal([3L], data.SampleShape);
        Assert.Equal(3, PointCloud.ReadDimension(PathOf("p.csv")));
        Assert.Equal(45, data.TrainCount);
        using var held = data.HeldOut;
        Assert.Equal([5L, 3], held.shape);
        Assert.Equal(49, data.Extent);
        // Every row is either trained on or held out, none lost, none twice.
        using var generator = new TorchSharp.torch.Generator(3, CPU);
        using var drawn = data.Sample(2000, generator);
        var seen = Rows(drawn).ToHashSet();
        var heldRows = Rows(held).ToHashSet();
        Assert.Equal(45, seen.Count);   // 2000 draws with replacement from 45 rows reach them all
        Assert.Empty(seen.Intersect(heldRows));
        Assert.Equal(rows.Select(r => string.Join(",", r)).ToHashSet(), seen.Union(heldRows).ToHashSet());
        // The split depends on the file alone: a second load holds out the same rows.
        using var again = PointCloud.Load(PathOf("p.csv")).HeldOut;
        Assert.Equal(Rows(held), Rows(again));
    }

    [Fact]
    public void An_npy_file_of_float64_should_load_as_points_without_a_header_line()
    {
        const int n = 30, d = 5;
        var header = $"{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {d}), }}".PadRight(117) + "\n";
        var data = new byte[n * d * 8];
        for (var i = 0; i < n * d; i++) BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(i * 8), i * 0.01);
        File.WriteAllBytes(PathOf("p.npy"), [0x93, .. "NUMPY"u8, 1, 0, (byte)header.Length, 0, .. Encoding.ASCII.GetBytes(header), .. data]);

        Assert.Equal(d, PointCloud.ReadDimension(PathOf("p.npy")));
        var cloud = PointCloud.Load(PathOf("p.npy"));
        Assert.Equal([(long)d], cloud.SampleShape);
        Assert.Equal(27, cloud.TrainCount);
        Assert.Equal((n * d - 1) * 0.01, cloud.Extent, 5);
    }

    [Theory]
    [InlineData("x,y\n1,2\n3,oops\n", ":3: 'oops' is not a number")]
    [InlineData("1,2\n3,4,5\n", ":2: 3 columns, but the first point has 2")]
    [InlineData("1,2\nNaN,4\n", ":2: every coordinate must be a finite number")]
    [InlineData("x,y\n\n# nothing\n", "no points")]
    [InlineData("1,2\n3,4\n", "2 points; a points file needs at least 20")]
    [InlineData("0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n0,0\n", "every coordinate is 0")]
    public void A_bad_csv_should_be_refused_naming_the_file_and_the_line(string text, string expected)
    {
        File.WriteAllText(PathOf("bad.csv"), text);
        var error = Assert.Throws<DatasetException>(() => PointCloud.Load(PathOf("bad.csv")));
        Assert.Contains(PathOf("bad.csv"), error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_a_wrong_extension_and_a_3d_array_should_be_refused()
    {
        Assert.Contains("points file not found", Assert.Throws<DatasetException>(() => PointCloud.Load(PathOf("none.csv"))).Message);
        File.WriteAllText(PathOf("p.txt"), "1,2\n");
        Assert.Contains("is .csv or .npy", Assert.Throws<DatasetException>(() => PointCloud.Load(PathOf("p.txt"))).Message);
        NpyFile.Write(PathOf("cube.npy"), new float[8], [2, 2, 2]);
        Assert.Contains("holds a 2-D array", Assert.Throws<DatasetException>(() => PointCloud.Load(PathOf("cube.npy"))).Message);
        Assert.Contains("needs data-file", Assert.Throws<DatasetException>(() => PointCloud.Load("")).Message);
    }

    // ---------------------------------------------------------------- images

    [Fact]
    public void An_image_folder_should_be_read_recursively_at_its_size_with_exact_pixels()
    {
        var root = Folder("gray");
        var expected = new Dictionary<string, byte[]>();
        for (var i = 0; i < 24; i++)
        {
            var sub = Directory.CreateDirectory(Path.Combine(root, i % 2 == 0 ? "a" : "b/c")).FullName;
            var pixels = Pattern(i, 28 * 28);
            WritePng(Path.Combine(sub, $"{i:D2}.png"), pixels, 28, 28, rgb: false);
            expected[string.Join(",", pixels)] = pixels;
        }
        using var data = ImageFolder.Load(root, 28, 0, _log.Add, Cache);
        Assert.Equal([1L, 28, 28], data.SampleShape);
        Assert.Equal(22, data.TrainCount);   // 24 - 24/10 held out
        using var generator = new TorchSharp.torch.Generator(1, CPU);
        using var batch = data.Sample(200, generator);
        Assert.Equal([200L, 1, 28, 28], batch.shape);
        // Each drawn image is one of the files, pixel for pixel ([-1, 1] back to bytes).
        using var bytes = batch.Add(1).Mul(127.5).round().to_type(ScalarType.Byte).reshape(200, 28 * 28).contiguous();
        var flat = bytes.data<byte>().ToArray();
        for (var i = 0; i < 200; i++)
            Assert.True(expected.ContainsKey(string.Join(",", flat.AsSpan(i * 784, 784).ToArray())), $"drawn image {i} is none of the files");
        Assert.Contains(_log, l => l.Contains("decoding 24", StringComparison.Ordinal));
    }

    [Fact]
    public void A_second_load_should_read_the_cache_and_a_changed_file_should_be_decoded_again()
    {
        var root = Folder("cached");
        for (var i = 0; i < 20; i++) WritePng(Path.Combine(root, $"{i:D2}.png"), Pattern(i, 32 * 32), 32, 32, rgb: false);
        using (ImageFolder.Load(root, 16, 0, _log.Add, Cache)) { }
        Assert.Single(Directory.GetFiles(Cache, "*.npy"));
        _log.Clear();
        using (var again = ImageFolder.Load(root, 16, 0, _log.Add, Cache)) Assert.Equal([1L, 16, 16], again.SampleShape);
        Assert.Contains(_log, l => l.Contains("decoded before", StringComparison.Ordinal));
        Assert.DoesNotContain(_log, l => l.Contains("decoding", StringComparison.Ordinal));

        // Same names, one file's content changed: a new key, decoded again.
        WritePng(Path.Combine(root, "05.png"), Pattern(99, 32 * 32), 32, 32, rgb: false);
        _log.Clear();
        using (ImageFolder.Load(root, 16, 0, _log.Add, Cache)) { }
        Assert.Contains(_log, l => l.Contains("decoding 20", StringComparison.Ordinal));
        Assert.Equal(2, Directory.GetFiles(Cache, "*.npy").Length);
    }

    [Fact]
    public void Colour_should_be_detected_and_either_channel_count_given()
    {
        var root = Folder("mixed");
        for (var i = 0; i < 19; i++) WritePng(Path.Combine(root, $"{i:D2}.png"), Pattern(i, 40 * 30), 40, 30, rgb: false);
        WritePng(Path.Combine(root, "colour.png"), Pattern(7, 3 * 64 * 64), 64, 64, rgb: true);
        using (var auto = ImageFolder.Load(root, 16, 0, _log.Add, Cache)) Assert.Equal([3L, 16, 16], auto.SampleShape);
        Assert.Contains(_log, l => l.Contains("2 different size(s)", StringComparison.Ordinal) && l.Contains("center-cropped", StringComparison.Ordinal));
        using (var gray = ImageFolder.Load(root, 16, 1, _log.Add, Cache)) Assert.Equal([1L, 16, 16], gray.SampleShape);
        using (var rgb = ImageFolder.Load(root, 16, 3, _log.Add, Cache)) Assert.Equal([3L, 16, 16], rgb.SampleShape);
        Assert.Equal(3, ImageFolder.DetectChannels(root, 16, null, Cache));
    }

    [Fact]
    public void Bad_image_folders_should_be_refused_naming_the_file()
    {
        Assert.Contains("image folder not found", Assert.Throws<DatasetException>(() => ImageFolder.Load(PathOf("absent"), 28, 0, null, Cache)).Message);
        var empty = Folder("empty");
        File.WriteAllText(Path.Combine(empty, "notes.txt"), "no images here");
        Assert.Contains("no images (.png, .jpg or .jpeg)", Assert.Throws<DatasetException>(() => ImageFolder.Load(empty, 28, 0, null, Cache)).Message);

        var few = Folder("few");
        for (var i = 0; i < 3; i++) WritePng(Path.Combine(few, $"{i}.png"), Pattern(i, 28 * 28), 28, 28, rgb: false);
        Assert.Contains("3 images; an image folder needs at least 20", Assert.Throws<DatasetException>(() => ImageFolder.Load(few, 28, 0, null, Cache)).Message);

        string Bad(string name, Action<string> write)
        {
            var root = Folder(name);
            for (var i = 0; i < 20; i++) WritePng(Path.Combine(root, $"{i:D2}.png"), Pattern(i, 28 * 28), 28, 28, rgb: false);
            var file = Path.Combine(root, "10.png");
            write(file);
            var error = Assert.Throws<DatasetException>(() => ImageFolder.Load(root, 28, 0, null, Cache));
            Assert.StartsWith(file + ":", error.Message, StringComparison.Ordinal);
            return error.Message;
        }
        Assert.Contains("truncated", Bad("truncated", f => File.WriteAllBytes(f, File.ReadAllBytes(f)[..^60])));
        Assert.Contains("not a readable PNG or JPEG", Bad("garbage", f => File.WriteAllText(f, "this is text, not a picture")));
        Assert.Contains("the file is empty", Bad("zero", f => File.WriteAllBytes(f, [])));
        Assert.Contains("10x10 is too small for image-size 28", Bad("small", f => WritePng(f, Pattern(1, 100), 10, 10, rgb: false)));
    }

    // ---------------------------------------------------------------- settings and networks

    [Fact]
    public void Settings_should_name_what_a_users_dataset_is_missing()
    {
        string Problems(TrainingSettings s) => Assert.Throws<SettingsException>(() => s.Validate()).Message;
        Assert.Contains("dataset=points needs data-file", Problems(new TrainingSettings { Dataset = DatasetKind.Points }));
        Assert.Contains("image-size must be one of 16, 28, 32, 56, 64, 112, 128 (got 30)", Problems(new TrainingSettings { Dataset = DatasetKind.Images, ImageSize = 30 }));
        Assert.Contains("channels must be 1 (grayscale), 3 (RGB) or 0", Problems(new TrainingSettings { Dataset = DatasetKind.Images, Channels = 2 }));
        Assert.Contains("dataset=images needs data-dir", Problems(new TrainingSettings { Dataset = DatasetKind.Images, DataDir = " " }));
        // The generator's node builds its network from the resolved settings alone.
        Assert.Throws<SettingsException>(() => RunData.SampleShape(new TrainingSettings { Dataset = DatasetKind.Points, DataFile = "x.csv" }));
        Assert.Equal([3L, 64, 64], RunData.SampleShape(new TrainingSettings { Dataset = DatasetKind.Images, ImageSize = 64, Channels = 3 }));
        Assert.Equal([7L], RunData.SampleShape(new TrainingSettings { Dataset = DatasetKind.Points, Dimension = 7 }));
    }

    [Theory]
    [InlineData(16)]
    [InlineData(28)]
    [InlineData(32)]
    [InlineData(56)]
    [InlineData(64)]
    public void The_dcgans_should_be_built_for_every_image_size(int size)
    {
        using var scope = NewDisposeScope();
        var settings = new TrainingSettings { Dataset = DatasetKind.Images, ImageSize = size, Channels = 3, LatentDim = 8 };
        var shape = RunData.SampleShape(settings);
        using var generator = ModelFactory.CreateGenerator(settings, shape, CPU);
        using var discriminator = ModelFactory.CreateDiscriminator(settings, shape, 1.0, 0, CPU);
        generator.eval();
        var images = generator.forward(randn(2, 8));
        Assert.Equal([2L, 3, size, size], images.shape);
        Assert.Equal([2L], discriminator.forward(images).shape);
        var (_, stages) = DcganShape.Of(size);
        Assert.Equal(2 * stages + 2, discriminator.OrderedParameters.Count);
    }

    [Fact]
    public void The_28_pixel_dcgans_should_keep_their_parameter_names()
    {
        // Checkpoints and exported state dicts of 28x28 runs name their tensors so; a generalised network must not rename them.
        using var generator = new DcganGenerator(16, 1);
        using var discriminator = new DcganDiscriminator(1);
        Assert.Equal(["project.weight", "project.bias", "bn0.weight", "bn0.bias", "up1.weight", "up1.bias", "bn1.weight", "bn1.bias", "up2.weight", "up2.bias"],
            generator.named_parameters().Select(p => p.name));
        Assert.Equal(["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "head.weight", "head.bias"], discriminator.named_parameters().Select(p => p.name));
        long[] Shape(string name) => generator.named_parameters().Single(p => p.name == name).parameter.shape;
        Assert.Equal([128L * 7 * 7, 16], Shape("project.weight"));
        Assert.Equal([64L, 128, 3, 3], Shape("up1.weight"));
        Assert.Equal([1L, 64, 3, 3], Shape("up2.weight"));
    }

    // ---------------------------------------------------------------- helpers

    private static IEnumerable<string> Rows(Tensor points)
    {
        var d = (int)points.shape[1];
        var flat = points.contiguous().data<float>().ToArray();
        for (var i = 0; i < flat.Length / d; i++) yield return string.Join(",", flat.AsSpan(i * d, d).ToArray());
    }

    /// <summary>Deterministic, distinct bytes for image <paramref name="seed"/>.</summary>
    private static byte[] Pattern(int seed, int length)
        => [.. Enumerable.Range(0, length).Select(p => (byte)((p * 31 + seed * 97 + (p / 7) * seed) % 256))];

    /// <summary>Writes planar bytes (1 or 3 planes of width x height) as a PNG.</summary>
    internal static void WritePng(string path, byte[] planar, int width, int height, bool rgb)
    {
        var plane = width * height;
        var info = new SKImageInfo(width, height, rgb ? SKColorType.Rgba8888 : SKColorType.Gray8, SKAlphaType.Opaque);
        var buffer = new byte[rgb ? 4 * plane : plane];
        for (var p = 0; p < plane; p++)
        {
            if (!rgb)
            {
                buffer[p] = planar[p];
                continue;
            }
            (buffer[4 * p], buffer[4 * p + 1], buffer[4 * p + 2], buffer[4 * p + 3]) = (planar[p], planar[plane + p], planar[2 * plane + p], 255);
        }
        using var bitmap = new SKBitmap(info);
        System.Runtime.InteropServices.Marshal.Copy(buffer, 0, bitmap.GetPixels(), buffer.Length);
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(path, data.ToArray());
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
