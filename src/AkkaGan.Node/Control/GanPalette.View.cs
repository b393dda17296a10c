using System.Globalization;
using AkkaGan.Core.Settings;
using AkkaGan.Core.Health;
using AkkaGan.Core.Training;

namespace AkkaGan.Node.Control;

// The gan palette, continued: what it knows of the run and shows (live keys, population, health, status lines), and
// the run's events it observes to know it (ITrainingObserver), apart from the commands in GanPalette.cs.
internal sealed partial class GanPalette
{
    private List<string> LiveKeys()
    {
        lock (_gate)
        {
            var lines = new List<string> { $"{"key",-18} {"now",-12} description" };
            foreach (var key in LiveSettings.Keys)
                lines.Add($"{key.Name,-18} {key.Get(_settings),-12} {key.Description}{(key.PerMember ? " (per member: --member d-N)" : "")}");
            return lines;
        }
    }

    private List<string> Population()
    {
        lock (_gate)
        {
            var lines = new List<string> { $"{"member",-8} {"loss",-15} {"lr-d",10} {"D loss",9} {"fitness",8}  node" };
            foreach (var i in _settings.ActiveMembers)
            {
                var id = DiscriminatorCore.EntityIdOf(i);
                var member = _settings.ForMember(i);
                var last = _round?.Discriminators.FirstOrDefault(d => d.Member == i);
                var fitness = _evaluation is not null && _evaluation.Fitness.TryGetValue(i, out var f) ? f.ToString("F3", CultureInfo.InvariantCulture) : "-";
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{id,-8} {SettingValues.Kebab(member.Loss),-15} {_learningRates.GetValueOrDefault(i, member.LrD),10:G4} {(last is null ? "-" : last.Loss.ToString("F4", CultureInfo.InvariantCulture)),9} {fitness,8}  {NodeOf(id)}"));
            }
            lines.Add($"{_settings.ActiveMembers.Length} discriminator(s), aggregate {SettingValues.Kebab(_settings.Aggregate)}{(_settings.EvolveEvery > 0 ? $", evolving every {_settings.EvolveEvery} rounds" : "")}");
            return lines;
        }
    }

    /// <summary>
    /// The raw signals of training health: for the generator and each member, the mean loss, score margin
    /// D(real) - D(fake) and gradient norm over the last rounds, and the generator's gradient norm against its early level
    /// (a collapse towards 0 is the sign of vanishing gradients), plus any non-finite value seen.
    /// </summary>
    private List<string> Health()
    {
        lock (_gate)
        {
            if (_recent.Count == 0) return ["no round completed yet"];
            var recent = _recent.ToArray();
            var diagnosis = new List<string>();
            if (_health is { } h)
            {
                diagnosis.Add($"diagnosis after round {h.Round}: {h.StatusName}: {h.Evidence}");
                foreach (var finding in h.Findings.Where(f => f.Status != h.Status))
                    diagnosis.Add($"  also {SettingValues.Kebab(finding.Status)}: {finding.Evidence}");
                var sig = h.Signals;
                diagnosis.Add(string.Create(CultureInfo.InvariantCulture,
                    $"signals over {sig.Rounds} rounds: D accuracy {sig.DAccuracy:F3}, logits real {sig.RealLogit:G3} / fake {sig.FakeLogit:G3}, " +
                    $"feedback |dL/dx_fake| {sig.FeedbackNorm:G3} (x{sig.FeedbackRatio:G3} its early level), G loss std {sig.GeneratorLossStd:G3}, " +
                    $"margin crossings {sig.MarginSignChanges:P0}, G drift {sig.Drift:P2}/round"));
                if (sig.EvalRound is { } evalRound)
                    diagnosis.Add($"evaluation of round {evalRound}: " + string.Join(", ", new[]
                        {
                            sig.ModesCaptured is { } mc ? $"modes {mc}/{sig.Modes}" : null,
                            sig.HighQuality is { } hq ? string.Create(CultureInfo.InvariantCulture, $"HQ {hq:P0}") : null,
                            sig.ClassEntropy is { } ce ? string.Create(CultureInfo.InvariantCulture, $"class entropy {ce:P0} of max") : null,
                            sig.PairwiseRatio is { } pr ? string.Create(CultureInfo.InvariantCulture, $"pairwise distance x{pr:F2} of real") : null,
                            sig.DuplicateShare is { } ds ? string.Create(CultureInfo.InvariantCulture, $"near-duplicates {ds:P1}") : null,
                        }.Where(x => x is not null)));
                diagnosis.Add(_settings.Health.AutoRemedy
                    ? $"auto-remedy on; applied: {(_remedies.Count == 0 ? "none yet" : string.Join("; ", _remedies))}"
                    : "auto-remedy off (train --auto-remedy, or akkagan.health.auto-remedy = on)");
            }
            else diagnosis.Add($"diagnosis: none yet (every {_settings.Health.Every} rounds)");
            string Stat(IEnumerable<double> values)
            {
                var v = values.ToArray();
                var mean = v.Average();
                var std = Math.Sqrt(v.Select(x => (x - mean) * (x - mean)).Average());
                return string.Create(CultureInfo.InvariantCulture, $"{mean,9:F4} ±{std,-8:F4}");
            }
            var lines = new List<string>(diagnosis)
            {
                $"rounds {recent[0].Round}-{recent[^1].Round} ({recent.Length}); non-finite values so far: {_nonFinite}",
                $"{"",-10} {"loss (mean ± std)",-19} {"D(real)-D(fake)",-19} {"grad norm",-19}",
                $"{"generator",-10} {Stat(recent.Select(r => r.GeneratorLoss))} {"",-19} {Stat(recent.Select(r => r.GeneratorGradientNorm))}",
            };
            foreach (var member in recent[^1].Discriminators.Select(d => d.Member))
            {
                var steps = recent.SelectMany(r => r.Discriminators.Where(d => d.Member == member)).ToArray();
                lines.Add($"{DiscriminatorCore.EntityIdOf(member),-10} {Stat(steps.Select(d => d.Loss))} {Stat(steps.Select(d => d.RealScore - d.FakeScore))} {Stat(steps.Select(d => d.GradientNorm))}");
            }
            var early = _early.Average(r => r.GeneratorGradientNorm);
            var now = recent.Average(r => r.GeneratorGradientNorm);
            if (early > 0 && recent[0].Round > _early[^1].Round)
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"generator gradient norm: {now:G3} now vs {early:G3} over rounds {_early[0].Round}-{_early[^1].Round} (x{now / early:F2})"));
            return lines;
        }
    }

    public void OnFault(FaultReport report)
    {
        lock (_gate)
        {
            _faults.Add(report);
            _missing.OnFault(report);
            var line = $"round {report.Round}: {report.Entity} {report.Event}: {report.Detail}";
            foreach (var watcher in _watchers) watcher.Writer.TryWrite(line);
        }
    }

    public void OnHealth(HealthReport report)
    {
        lock (_gate)
        {
            _health = report;
            if (report.Action is { } action) _remedies.Add($"round {report.Round}: {action.RemedyName} ({SettingValues.Kebab(action.Against)})");
        }
    }

    private string NodeOf(string entity) => _placement.GetValueOrDefault(entity, _engine == ReferenceTrainer.EngineName ? "this process" : "-");

    public void OnChange(ChangeReport report)
    {
        lock (_gate)
        {
            var before = _settings;
            _settings = report.Settings;
            foreach (var i in _settings.ActiveMembers)
                if (!_learningRates.ContainsKey(i) || before.ForMember(i).LrD != _settings.ForMember(i).LrD) _learningRates[i] = _settings.ForMember(i).LrD;
            foreach (var gone in _learningRates.Keys.Except(_settings.ActiveMembers).ToArray()) _learningRates.Remove(gone);
        }
    }

    public void OnPlaced(IReadOnlyDictionary<string, string> nodes)
    {
        lock (_gate)
        {
            foreach (var (entity, node) in nodes) _placement[entity] = node;
            _missing.OnPlaced(nodes);
        }
    }

    /// <summary>The training ended: watchers get a last line and their stream ends.</summary>
    public void Finished(long round, bool completed)
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryWrite($"training {(completed ? "completed" : "stopped")} at round {round}");
                watcher.Writer.TryComplete();
            }
        }
    }

    public void OnRound(RoundReport report)
    {
        lock (_gate)
        {
            _round = report;
            _recent.Enqueue(report);
            if (_recent.Count > HealthWindow) _recent.Dequeue();
            if (_early.Count < HealthWindow) _early.Add(report);
            if (!double.IsFinite(report.GeneratorLoss) || !double.IsFinite(report.GeneratorGradientNorm)
                || report.Discriminators.Any(d => !double.IsFinite(d.Loss) || !double.IsFinite(d.GradientNorm))) _nonFinite++;
        }
    }

    public void OnEvaluation(EvaluationReport report)
    {
        lock (_gate)
        {
            _evaluation = report;
            var line = Line();
            foreach (var watcher in _watchers) watcher.Writer.TryWrite(line);
        }
    }

    public void OnEvolution(EvolutionReport report)
    {
        lock (_gate)
        {
            _evolutions++;
            if (report.Best != report.Worst) _learningRates[report.Worst] = report.NewLearningRate;
        }
    }

    public void OnCheckpoint(long round, string path)
    {
        TaskCompletionSource<(long, string)>? waiting;
        lock (_gate)
        {
            _lastCheckpoint = path;
            waiting = _nextCheckpoint;
            _nextCheckpoint = null;
        }
        waiting?.TrySetResult((round, path));
    }

    private string Line()
    {
        var m = _evaluation?.Mixture;
        var metrics = m is null ? "" : $" | modes {m.ModesCaptured}/{m.Modes} HQ {m.HighQualityFraction:F3} KL {m.ReverseKl:F3}";
        var losses = _round is null ? "" : $" | G {_round.GeneratorLoss:F3} D {_round.MeanDiscriminatorLoss:F3}";
        return string.Create(CultureInfo.InvariantCulture, $"round {_round?.Round ?? 0}/{_settings.Rounds}{losses}{metrics} | {_roundsPerSecond():F1} rounds/s");
    }

    private List<string> Status()
    {
        lock (_gate)
        {
            var phase = _stopping ? "stopping" : _steering.IsPaused ? "paused" : _round is null ? "starting" : "training";
            var lines = new List<string>
            {
                string.Create(CultureInfo.InvariantCulture, $"phase      {phase} (engine {_engine}, dataset {SettingValues.Kebab(_settings.Dataset)}, loss {SettingValues.Kebab(_settings.Loss)}, unroll {_settings.Unroll})"),
                Line(),
                string.Create(CultureInfo.InvariantCulture, $"evaluated  {(_evaluation is null ? "not yet" : $"at round {_evaluation.Round}")}; checkpoint {_lastCheckpoint ?? "none yet"}; evolutions {_evolutions}"),
                $"faults     {_faults.Count}{(_faults.Count > 0 ? $", last: round {_faults[^1].Round} {_faults[^1].Entity} {_faults[^1].Event}" : "")}",
            };
            lines.AddRange(_missing.Describe(_settings.Quorum).Select(m => $"missing    {m}"));
            lines.Add($"{"member",-8} {"loss",10} {"penalty",10} {"D(real)",10} {"D(fake)",10} {"fitness",8}  node");
            foreach (var d in _round?.Discriminators ?? [])
            {
                var fitness = _evaluation is not null && _evaluation.Fitness.TryGetValue(d.Member, out var f) ? f.ToString("F3", CultureInfo.InvariantCulture) : "-";
                lines.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{DiscriminatorCore.EntityIdOf(d.Member),-8} {d.Loss,10:F4} {d.Penalty,10:F4} {d.RealScore,10:F3} {d.FakeScore,10:F3} {fitness,8}  {NodeOf(DiscriminatorCore.EntityIdOf(d.Member))}"));
            }
            return lines;
        }
    }

}
