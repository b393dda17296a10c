using System.Buffers.Binary;
using System.Text;
using AkkaGan.Core.Data;

namespace AkkaGan.Core.Tests;

/// <summary>NumPy's .npy files as <c>akkagan sample</c> writes them and <c>--latent</c> reads them.</summary>
public sealed class NpySpecs : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-npy-").FullName;

    private string PathOf(string name) => Path.Combine(_dir, name);

    [Fact]
    public void A_written_array_should_read_back_with_its_shape_and_a_header_numpy_accepts()
    {
        float[] values = [1.5f, -2f, 3.25f, float.MaxValue, 0f, -0f];
        NpyFile.Write(PathOf("a.npy"), values, [3, 2]);
        var (read, shape) = NpyFile.Read(PathOf("a.npy"));
        Assert.Equal([3L, 2], shape);
        Assert.Equal(values, read);
        // numpy's layout: magic, version 1.0, a header padded with spaces to a multiple of 64 bytes ending in a newline.
        var bytes = File.ReadAllBytes(PathOf("a.npy"));
        var headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        Assert.Equal(0, (10 + headerLength) % 64);
        var header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", header, StringComparison.Ordinal);
        Assert.EndsWith("\n", header, StringComparison.Ordinal);
        NpyFile.Write(PathOf("v.npy"), values, [6]);
        Assert.Equal([6L], NpyFile.Read(PathOf("v.npy")).Shape);   // a 1-tuple keeps its comma: (6,)
    }

    [Fact]
    public void Float64_arrays_should_be_read_as_float32()
    {
        var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }".PadRight(117) + "\n";
        var data = new byte[16];
        BinaryPrimitives.WriteDoubleLittleEndian(data, 0.25);
        BinaryPrimitives.WriteDoubleLittleEndian(data.AsSpan(8), -1e10);
        File.WriteAllBytes(PathOf("d.npy"), [0x93, .. "NUMPY"u8, 1, 0, (byte)header.Length, 0, .. Encoding.ASCII.GetBytes(header), .. data]);
        Assert.Equal([0.25f, -1e10f], NpyFile.Read(PathOf("d.npy")).Values);
    }

    [Theory]
    [InlineData("'<i4'", "False", "(2,)", 8, "dtype '<i4' is not supported")]
    [InlineData("'<f4'", "True", "(2,)", 8, "Fortran-order")]
    [InlineData("'<f4'", "False", "(3,)", 8, "needs 12 bytes of data, the file has 8")]
    public void Arrays_it_cannot_read_should_be_refused_naming_the_file_and_the_problem(string descr, string fortran, string shape, int dataBytes, string message)
    {
        var header = $"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}\n";
        File.WriteAllBytes(PathOf("bad.npy"), [0x93, .. "NUMPY"u8, 1, 0, (byte)header.Length, 0, .. Encoding.ASCII.GetBytes(header), .. new byte[dataBytes]]);
        var error = Assert.Throws<DatasetException>(() => NpyFile.Read(PathOf("bad.npy")));
        Assert.Contains(PathOf("bad.npy"), error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void A_file_that_is_not_npy_should_be_refused()
    {
        File.WriteAllText(PathOf("x.npy"), "x,y\n1,2\n");
        Assert.Contains("not a .npy file", Assert.Throws<DatasetException>(() => NpyFile.Read(PathOf("x.npy"))).Message);
        Assert.Contains("cannot be read", Assert.Throws<DatasetException>(() => NpyFile.Read(PathOf("missing.npy"))).Message);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
