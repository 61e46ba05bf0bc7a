namespace InferServer.LoadGen.Soak;

/// <summary>
/// Adapters unloaded, reloaded and loaded while traffic uses them. Each interval one operation, rotating over the churned
/// adapters: unload then load again from its root; load with reload=true; load a copy under another name from the same
/// directory; unload that copy. A reloaded adapter and a copy answer exactly as the original (same files), so the greedy
/// check still holds for them; a request racing an unload may end NOT_FOUND, which is clean.
/// </summary>
public sealed class AdapterChurn(SoakAdmin admin, IReadOnlyList<string> churned, IReadOnlyDictionary<string, string> directories,
    TimeSpan interval, SoakLedger ledger)
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (churned.Count == 0) return;
        for (var cycle = 0; ; cycle++)
        {
            try { await Task.Delay(interval, cancellationToken); }
            catch (OperationCanceledException) { return; }
            var adapter = churned[cycle / 4 % churned.Count];
            var copy = SoakPlanner.CopyName(adapter);
            switch (cycle % 4)
            {
                case 0:
                    await ExpectOkAsync($"unload {adapter}", admin.UnloadAsync(adapter), unload: true);
                    await ExpectOkAsync($"load {adapter}", admin.LoadAsync(adapter));
                    break;
                case 1:
                    await ExpectOkAsync($"reload {adapter}", admin.LoadAsync(adapter, reload: true));
                    break;
                case 2:
                    await ExpectOkAsync($"load {copy}", admin.LoadAsync(copy, directories[adapter]));
                    break;
                default:
                    await ExpectOkAsync($"unload {copy}", admin.UnloadAsync(copy), unload: true);
                    break;
            }
        }
    }

    /// <summary>After the traffic: every churned adapter registered again, every copy gone.</summary>
    public async Task RestoreAsync()
    {
        foreach (var adapter in churned)
        {
            await ExpectOkAsync($"restore {adapter}", admin.LoadAsync(adapter));
            var status = await admin.UnloadAsync(SoakPlanner.CopyName(adapter));
            if (status is not (SoakOutcome.Ok or "NotFound")) ledger.Violation($"unload of {SoakPlanner.CopyName(adapter)} after the traffic ended {status}");
        }
    }

    private async Task ExpectOkAsync(string operation, Task<string> call, bool unload = false)
    {
        var status = await call;
        if (status != SoakOutcome.Ok) ledger.Violation($"admin {operation} ended {status}");
        else if (unload) ledger.CountUnload();
    }
}
