using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace AkkaGan.Integration.Tests;

/// <summary>
/// README.md is the first thing a user runs: it fits on a few screens, and every command in its ```bash blocks works as
/// written. The cheap ones run (<c>--help</c>, <c>--version</c>, trainings of at most 300 rounds, the steering session
/// against a real training); the others (long trainings, cluster nodes, build.sh) are checked against what they name:
/// the command and each flag in its <c>--help</c>, the build.sh verb in its usage, the script on disk.
/// </summary>
public sealed partial class ReadmeSpecs(ITestOutputHelper log) : IDisposable
{
    private const int CheapRounds = 300;
    private readonly string _dir = Directory.CreateTempSubdirectory("akkagan-readme-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>One command line of a ```bash block: its words (shell quoting removed) and whether it ends in <c>&amp;</c>.</summary>
    private sealed record Command(int Block, string Text, string[] Words, bool Background)
    {
        public string Program => Words[0];

        public bool Runs(string program) => Program == program;
    }

    private static readonly string Readme = File.ReadAllText(Path.Combine(Akkagan.RepositoryRoot, "README.md"));

    private static List<Command> Commands()
    {
        var commands = new List<Command>();
        var block = -1;
        var inBash = false;
        foreach (var raw in Readme.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inBash = !inBash && line is "```bash" or "```sh";
                if (inBash) block++;
                continue;
            }
            if (!inBash) continue;
            var text = Comment().Replace(line, "").Trim();
            if (text.Length == 0) continue;
            var background = text.EndsWith('&');
            if (background) text = text[..^1].TrimEnd();
            commands.Add(new Command(block, text, Split(text), background));
        }
        return commands;
    }

    /// <summary>Splits a command line as a POSIX shell would for plain words and '...' or "..." quoting.</summary>
    private static string[] Split(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in text)
        {
            if (quote is { } q)
            {
                if (c == q) quote = null;
                else word.Append(c);
            }
            else if (c is '"' or '\'') { quote = c; inWord = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else { word.Append(c); inWord = true; }
        }
        Assert.True(quote is null, $"unclosed quote in README command: {text}");
        if (inWord) words.Add(word.ToString());
        return [.. words];
    }

    private static bool Cheap(Command command)
    {
        if (command.Words.Contains("--help") || command.Words.Contains("--version")) return true;
        if (!command.Runs("akkagan") || command.Words.Length < 2 || command.Words[1] != "train" || command.Background) return false;
        var rounds = Array.IndexOf(command.Words, "--rounds");
        return rounds > 0 && rounds + 1 < command.Words.Length && int.TryParse(command.Words[rounds + 1], out var n) && n <= CheapRounds;
    }

    /// <summary>The subcommand path of an akkagan command line: its words before the first flag.</summary>
    private static string[] Subcommand(Command command) => [.. command.Words.Skip(1).TakeWhile(w => !w.StartsWith('-'))];

    [Fact]
    public void Readme_should_fit_on_a_few_screens_and_link_only_to_files_that_exist()
    {
        var lines = Readme.Split('\n').Length;
        Assert.True(lines <= 250, $"README.md has {lines} lines; the long material belongs in docs/");
        foreach (Match link in Regex.Matches(Readme, @"\]\(([^)#:]+)(#[^)]*)?\)"))
        {
            var target = Path.Combine(Akkagan.RepositoryRoot, link.Groups[1].Value);
            Assert.True(File.Exists(target) || Directory.Exists(target), $"README.md links to {link.Groups[1].Value}, which does not exist");
        }
    }

    [Fact]
    public void Every_page_of_the_documentation_should_be_in_the_sites_table_of_contents()
    {
        var docs = Path.Combine(Akkagan.RepositoryRoot, "docs");
        var toc = File.ReadAllText(Path.Combine(docs, "toc.yml"));
        var linked = Regex.Matches(toc, @"href:\s*(\S+)").Select(m => m.Groups[1].Value).ToHashSet();
        foreach (var page in Directory.GetFiles(docs, "*.md"))
            Assert.True(linked.Contains(Path.GetFileName(page)), $"docs/{Path.GetFileName(page)} is not in docs/toc.yml");
        foreach (var href in linked.Where(h => !h.EndsWith('/')))
            Assert.True(File.Exists(Path.Combine(docs, href)), $"docs/toc.yml links to {href}, which does not exist");
    }

    [Fact]
    public void Every_readme_command_should_name_a_real_command_and_real_flags()
    {
        var commands = Commands();
        Assert.Contains(commands, c => c.Runs("akkagan"));
        Assert.Contains(commands, c => c.Runs("akkagan-ctl"));
        var buildUsage = File.ReadAllLines(Path.Combine(Akkagan.RepositoryRoot, "build.sh")).TakeWhile(l => l.StartsWith('#')).ToArray();
        var helps = new Dictionary<string, string>();
        foreach (var command in commands)
        {
            if (command.Runs("./build.sh"))
            {
                var verb = command.Words.Length > 1 ? command.Words[1] : "";
                Assert.True(buildUsage.Any(l => l.StartsWith($"#   ./build.sh {verb}", StringComparison.Ordinal)),
                    $"README runs `{command.Text}`, but build.sh's usage has no `./build.sh {verb}`");
            }
            else if (command.Program.StartsWith("deploy/", StringComparison.Ordinal))
            {
                var script = Path.Combine(Akkagan.RepositoryRoot, command.Program);
                Assert.True(File.Exists(script), $"README runs {command.Program}, which does not exist");
                if (!OperatingSystem.IsWindows())
                    Assert.True(File.GetUnixFileMode(script).HasFlag(UnixFileMode.UserExecute), $"{command.Program} is not executable");
            }
            else if (command.Runs("akkagan") && !command.Words.Contains("--version"))
            {
                var path = Subcommand(command);
                var key = string.Join(' ', path);
                if (!helps.TryGetValue(key, out var help))
                {
                    var result = Akkagan.Run([.. path, "--help"]);
                    Assert.True(result.ExitCode == 0, $"README runs `{command.Text}`, but `akkagan {key} --help` fails:\n{result.All}");
                    helps[key] = help = result.Stdout;
                }
                foreach (var flag in command.Words.Where(w => w.StartsWith("--", StringComparison.Ordinal)))
                    Assert.True(Regex.IsMatch(help, $@"(^|[\s,]){Regex.Escape(flag)}(?![a-z0-9-])", RegexOptions.Multiline),
                        $"README runs `{command.Text}`, but `akkagan {key} --help` has no {flag}");
            }
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void The_cheap_readme_commands_should_run_as_written()
    {
        var cheap = Commands().Where(c => (c.Runs("akkagan") || c.Runs("akkagan-ctl")) && Cheap(c)).ToArray();
        Assert.Contains(cheap, c => c.Words.Contains("train") && !c.Words.Contains("--help"));
        foreach (var command in cheap)
        {
            var folder = Directory.CreateDirectory(Path.Combine(_dir, $"cheap-{Array.IndexOf(cheap, command)}")).FullName;
            var clock = Stopwatch.StartNew();
            var result = Run(command, folder, TimeSpan.FromMinutes(5));
            log.WriteLine($"{command.Text}: exit {result.ExitCode}, {clock.Elapsed.TotalSeconds:F1} s");
            Assert.True(result.ExitCode == 0, $"`{command.Text}` exited with {result.ExitCode}:\n{result.All}");
            if (command.Words.Contains("train") && !command.Words.Contains("--help"))
            {
                // As the README says: a run folder under runs/ with its summary.
                var summaries = Directory.GetFiles(Path.Combine(folder, "runs"), "summary.json", SearchOption.AllDirectories);
                Assert.True(summaries.Length == 1, $"`{command.Text}` left {summaries.Length} summary.json under runs/");
            }
        }
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void The_readme_steering_session_should_run_as_written_against_a_real_training()
    {
        var commands = Commands();
        var train = Assert.Single(commands, c => c.Runs("akkagan") && c.Background && c.Words.Contains("train"));
        var session = commands.Where(c => c.Block == train.Block && c.Runs("akkagan-ctl")).ToArray();
        Assert.Contains(session, c => c.Words.Contains("stop"));
        // The README's port, 9120, is the default; tests run side by side, so the session gets a free one.
        var port = Akkagan.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] Ported(Command c) => [.. c.Words.Select(w => w.Replace("9120", port, StringComparison.Ordinal))];

        var output = new StringBuilder();
        string Trained()
        {
            lock (output) return output.ToString();
        }
        using var training = Start("akkagan", Ported(train)[1..], _dir, output);
        try
        {
            var deadline = DateTime.UtcNow.AddMinutes(2);
            while (!Listening(int.Parse(port, System.Globalization.CultureInfo.InvariantCulture)))
            {
                Assert.False(training.HasExited, "the README's training exited before its control host listened:\n" + Trained());
                Assert.True(DateTime.UtcNow < deadline, "the README's training did not open its control port within 2 min:\n" + Trained());
                Thread.Sleep(100);
            }
            foreach (var command in session)
            {
                var result = Run(command with { Words = Ported(command) }, _dir, TimeSpan.FromMinutes(2));
                log.WriteLine($"$ {command.Text}\n{result.All}");
                Assert.True(result.ExitCode == 0, $"`{command.Text}` exited with {result.ExitCode}:\n{result.All}\nthe training printed:\n{Trained()}");
            }
            Assert.True(training.WaitForExit(TimeSpan.FromMinutes(3)), "the training did not end after the session's gan stop:\n" + Trained());
            // gan stop is a stop like Ctrl-C (exit 130), with its checkpoint and summary.
            Assert.True(training.ExitCode == 130, $"exit {training.ExitCode}:\n{Trained()}");
            var run = Path.GetDirectoryName(Assert.Single(Directory.GetFiles(Path.Combine(_dir, "runs"), "summary.json", SearchOption.AllDirectories)))!;
            // gan sample --out writes into the run's folder.
            foreach (var written in session.SelectMany(c => c.Words.SkipWhile(w => w != "--out").Skip(1).Take(1)))
                Assert.True(File.Exists(Path.Combine(run, written)), $"the session's {written} was not written in {run}");
        }
        finally
        {
            if (!training.HasExited) training.Kill(entireProcessTree: true);
        }
    }

    private static bool Listening(int port)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static ProcessStartInfo StartInfo(string program, IEnumerable<string> args, string folder)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
            WorkingDirectory = folder,
        };
        start.ArgumentList.Add(program == "akkagan" ? Akkagan.Dll : Akkagan.CtlDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["CI"] = "true";
        return start;
    }

    private static Akkagan.Result Run(Command command, string folder, TimeSpan timeout)
    {
        using var process = Process.Start(StartInfo(command.Program, command.Words[1..], folder))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{command.Text}` did not finish within {timeout}");
        }
        return new Akkagan.Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static Process Start(string program, string[] args, string folder, StringBuilder output)
    {
        var process = Process.Start(StartInfo(program, args, folder))!;
        process.StandardInput.Close();
        void Append(string? line)
        {
            if (line is null) return;
            lock (output) output.AppendLine(line);
        }
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    [GeneratedRegex(@"(^|\s)#\s.*$")]
    private static partial Regex Comment();
}
