using AkkaGan.Ctl;

// The console shell only: every decision lives in CtlApp so the tests drive it without a console.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true; // let the request unwind and the exit code be reported
    cancel.Cancel();
};
return await new CtlApp().RunAsync(args, Console.In, Console.Out, Console.Error, cancel.Token).ConfigureAwait(false);
