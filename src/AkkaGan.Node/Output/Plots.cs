using AkkaGan.Core.Data;
using AkkaGan.Core.Metrics;
using ScottPlot;
using SkiaSharp;

namespace AkkaGan.Node.Output;

/// <summary>Pictures of a run: 2-D samples over the true modes (ScottPlot) and image grids (SkiaSharp).</summary>
public static class Plots
{
    /// <summary>Scatter of samples (blue) over the mixture's centres (red) with their 3-std quality circles.</summary>
    public static void Scatter(string path, float[] samples, int count, GaussianMixture mixture, string title)
    {
        var xs = new double[count];
        var ys = new double[count];
        for (var i = 0; i < count; i++)
        {
            xs[i] = samples[2 * i];
            ys[i] = samples[2 * i + 1];
        }
        var plot = new Plot();
        foreach (var (x, y) in mixture.Centres)
        {
            var circle = plot.Add.Circle(x, y, Math.Max(3 * mixture.Std, mixture.Extent / 150));
            circle.LineColor = Colors.Red.WithAlpha(0.6);
            circle.FillColor = Colors.Red.WithAlpha(0.08);
        }
        var points = plot.Add.Markers(xs, ys, MarkerShape.FilledCircle, 2.5f, Colors.SteelBlue.WithAlpha(0.45));
        points.LegendText = $"generated ({count})";
        var centres = plot.Add.Markers(mixture.Centres.Select(c => c.X).ToArray(), mixture.Centres.Select(c => c.Y).ToArray(),
            MarkerShape.Cross, 9, Colors.Red);
        centres.LegendText = "true modes (circle: 3 std)";
        var limit = mixture.Extent * 1.35;
        plot.Axes.SetLimits(-limit, limit, -limit, limit);
        plot.Axes.SquareUnits();
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 640, 640);
    }

    /// <summary>
    /// Scatter of 2-D samples (blue) over real points (grey, when given: the held-out points of a points file), with
    /// limits that hold both.
    /// </summary>
    public static void ScatterOverData(string path, float[] samples, int count, float[]? real, string title)
    {
        var plot = new Plot();
        var extent = 1e-6;
        if (real is { Length: >= 2 })
        {
            var realCount = real.Length / 2;
            var dots = plot.Add.Markers(Enumerable.Range(0, realCount).Select(i => (double)real[2 * i]).ToArray(),
                Enumerable.Range(0, realCount).Select(i => (double)real[2 * i + 1]).ToArray(), MarkerShape.FilledCircle, 2.5f, Colors.Gray.WithAlpha(0.5));
            dots.LegendText = $"real, held out ({realCount})";
            extent = real.Max(v => Math.Abs((double)v));
        }
        var xs = Enumerable.Range(0, count).Select(i => (double)samples[2 * i]).ToArray();
        var ys = Enumerable.Range(0, count).Select(i => (double)samples[2 * i + 1]).ToArray();
        var points = plot.Add.Markers(xs, ys, MarkerShape.FilledCircle, 2.5f, Colors.SteelBlue.WithAlpha(0.45));
        points.LegendText = $"generated ({count})";
        // The real data's extent when there is some (a diverged generator's far-away points do not shrink the data to a dot).
        if (real is not { Length: >= 2 }) extent = Math.Max(extent, xs.Concat(ys).Select(Math.Abs).DefaultIfEmpty(1).Max());
        var limit = extent * 1.25;
        plot.Axes.SetLimits(-limit, limit, -limit, limit);
        plot.Axes.SquareUnits();
        plot.Title(title);
        plot.ShowLegend(Alignment.UpperRight);
        plot.SavePng(path, 640, 640);
    }

    /// <summary>
    /// The picture of generated samples of <paramref name="shape"/>: a scatter over the mixture's modes, a scatter over
    /// <paramref name="real"/> points for other 2-D points, an image grid for images; throws
    /// <see cref="ArgumentException"/> for points of another dimension (no picture: write .csv or .npy).
    /// </summary>
    public static void Samples(string path, float[] samples, int count, long[] shape, GaussianMixture? mixture, float[]? real, string title, int gridColumns = 0)
    {
        if (mixture is not null && shape is [2]) Scatter(path, samples, count, mixture, title);
        else if (shape is [2]) ScatterOverData(path, samples, count, real, title);
        else if (shape.Length == 3) ImageGrid(path, samples, shape, Math.Min(count, gridColumns > 0 ? 256 : 64), columns: gridColumns > 0 ? gridColumns : 8);
        else throw new ArgumentException($"a PNG shows 2-D points or images; these samples have shape [{string.Join(", ", shape)}] (write .csv or .npy instead)");
    }

    /// <summary>Whether <see cref="Samples"/> can draw samples of <paramref name="shape"/>.</summary>
    public static bool CanDraw(long[] shape) => shape is [2] || shape.Length == 3;

    /// <summary>
    /// Resident set (MB) over the rounds, a line per process (<c>akkagan bench soak</c>), with the baseline round marked
    /// by a dashed line.
    /// </summary>
    public static void MemoryCurves(string path, string title, IReadOnlyList<(string Label, double[] Rounds, double[] Megabytes)> curves, double baselineRound)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (var i = 0; i < curves.Count; i++)
        {
            var (label, rounds, megabytes) = curves[i];
            if (rounds.Length == 0) continue;
            var line = plot.Add.ScatterLine(rounds, megabytes, palette.GetColor(i));
            line.LegendText = label;
            line.LineWidth = 1.5f;
        }
        var baseline = plot.Add.VerticalLine(baselineRound);
        baseline.LinePattern = LinePattern.Dashed;
        baseline.Color = Colors.Gray;
        plot.XLabel("round");
        plot.YLabel("resident set, MB");
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.ShowLegend(Alignment.LowerRight);
        plot.SavePng(path, 900, 500);
    }

    /// <summary>Fashion-MNIST's class names, in label order.</summary>
    public static readonly IReadOnlyList<string> FashionClasses = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"];

    /// <summary>
    /// Bars of samples per mode (the classifier's histogram): one bar per class for Fashion-MNIST, one per class
    /// triplet for stacked images; the dashed line is what a generator that covers every mode uniformly would reach.
    /// </summary>
    public static void ModeHistogram(string path, ImageMetrics metrics, string title)
    {
        var plot = new Plot();
        var bars = plot.Add.Bars(metrics.ModeCounts.Select(c => (double)c).ToArray());
        bars.Color = Colors.SteelBlue;
        var uniform = plot.Add.HorizontalLine((double)metrics.Samples / metrics.Modes);
        uniform.LinePattern = LinePattern.Dashed;
        uniform.Color = Colors.Red;
        if (metrics.Modes == FashionClasses.Count)
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. FashionClasses.Select((name, i) => new Tick(i, name))]);
        else
            plot.XLabel("mode (100 c0 + 10 c1 + c2)");
        plot.YLabel("samples");
        plot.Axes.Margins(bottom: 0);
        plot.Axes.SetLimitsX(-0.6, metrics.Modes - 0.4);
        plot.Title(title);
        plot.SavePng(path, metrics.Modes == FashionClasses.Count ? 720 : 1000, 400);
    }

    /// <summary>A grid of images (N, C, H, W) in [-1, 1], C = 1 (grey) or 3 (RGB), with 2-pixel gaps.</summary>
    public static void ImageGrid(string path, float[] samples, long[] sampleShape, int count, int columns = 8, int scale = 2)
    {
        var (c, h, w) = ((int)sampleShape[0], (int)sampleShape[1], (int)sampleShape[2]);
        var rows = (count + columns - 1) / columns;
        const int gap = 2;
        using var bitmap = new SKBitmap(columns * (w * scale + gap) + gap, rows * (h * scale + gap) + gap);
        bitmap.Erase(SKColors.White);
        for (var n = 0; n < count; n++)
        {
            var (ox, oy) = (gap + n % columns * (w * scale + gap), gap + n / columns * (h * scale + gap));
            for (var y = 0; y < h; y++)
                for (var x = 0; x < w; x++)
                {
                    byte Channel(int ch) => (byte)Math.Clamp((samples[((n * c + ch) * h + y) * w + x] + 1f) * 127.5f, 0, 255);
                    var colour = c == 1 ? new SKColor(Channel(0), Channel(0), Channel(0)) : new SKColor(Channel(0), Channel(1), Channel(2));
                    for (var dy = 0; dy < scale; dy++)
                        for (var dx = 0; dx < scale; dx++)
                            bitmap.SetPixel(ox + x * scale + dx, oy + y * scale + dy, colour);
                }
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        using var file = File.Create(path);
        data.SaveTo(file);
    }
}
