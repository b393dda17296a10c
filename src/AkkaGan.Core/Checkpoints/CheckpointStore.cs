using System.Globalization;
using System.Text.RegularExpressions;

namespace AkkaGan.Core.Checkpoints;

/// <summary>
/// A run's checkpoint folder: files <c>ckpt-r00001000.akgc</c>, written atomically (temp file, fsync, rename) so a
/// crash mid-write never leaves a half checkpoint under the real name; the newest <c>keep</c> are kept.
/// </summary>
public sealed partial class CheckpointStore
{
    /// <summary>The checkpoints of <paramref name="directory"/>, keeping the newest <paramref name="keep"/>.</summary>
    public CheckpointStore(string directory, int keep)
    {
        Directory = directory;
        Keep = keep;
    }

    /// <summary>The folder the checkpoint files are in.</summary>
    public string Directory { get; }
    /// <summary>How many of the newest checkpoints a write leaves on disk.</summary>
    public int Keep { get; }

    /// <summary>The file name of round <paramref name="round"/>'s checkpoint, <c>ckpt-r00001000.akgc</c>.</summary>
    public static string FileName(long round) => $"ckpt-r{round.ToString("D8", CultureInfo.InvariantCulture)}.akgc";

    /// <summary>Writes the checkpoint atomically and prunes old ones; returns its path.</summary>
    public string Save(Checkpoint checkpoint)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, FileName(checkpoint.Metadata.Round));
        WriteAtomically(path, stream => CheckpointCodec.Write(stream, checkpoint));
        foreach (var old in List(Directory).SkipLast(Keep)) File.Delete(old);
        return path;
    }

    /// <summary>Writes bytes to a temp file beside the target, flushes to disk, then renames over the target.</summary>
    public static void WriteAtomically(string path, byte[] bytes) => WriteAtomically(path, stream => stream.Write(bytes));

    /// <summary>
    /// Lets <paramref name="write"/> fill a temp file beside the target, flushes it to disk, then renames it over the
    /// target; a failure deletes the temp file and leaves the target as it was.
    /// </summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        var temp = path + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Checkpoint files of a folder, oldest first.</summary>
    public static IReadOnlyList<string> List(string directory)
        => !System.IO.Directory.Exists(directory)
            ? []
            : System.IO.Directory.GetFiles(directory, "ckpt-r*.akgc").Where(f => NamePattern().IsMatch(Path.GetFileName(f))).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Loads and verifies one checkpoint file.</summary>
    public static Checkpoint Load(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: checkpoint not found");
        return CheckpointCodec.Decode(File.ReadAllBytes(path), path);
    }

    /// <summary>
    /// The checkpoint a <c>--resume</c> argument names: a file, a checkpoint folder, or a run folder (its
    /// <c>checkpoints/</c>). In a folder the newest is used; if it is corrupt the error says so and names the older
    /// good ones to pass explicitly. Nothing is written or deleted.
    /// </summary>
    public static (string Path, Checkpoint Checkpoint) Resolve(string fileOrDirectory)
    {
        if (File.Exists(fileOrDirectory)) return (fileOrDirectory, Load(fileOrDirectory));
        var directory = System.IO.Directory.Exists(Path.Combine(fileOrDirectory, "checkpoints"))
            ? Path.Combine(fileOrDirectory, "checkpoints")
            : fileOrDirectory;
        if (!System.IO.Directory.Exists(directory)) throw new CheckpointException($"{fileOrDirectory}: no such checkpoint file or run folder");
        var files = List(directory);
        if (files.Count == 0) throw new CheckpointException($"{directory}: no checkpoints (ckpt-r*.akgc) in this folder");
        var newest = files[^1];
        try
        {
            return (newest, Load(newest));
        }
        catch (CheckpointException e)
        {
            var older = files.Count > 1 ? $"; older checkpoints to resume from explicitly: {string.Join(", ", files.SkipLast(1).Select(Path.GetFileName))}" : "";
            throw new CheckpointException(e.Message + older, e);
        }
    }

    [GeneratedRegex(@"^ckpt-r\d{8}\.akgc$")]
    private static partial Regex NamePattern();
}
