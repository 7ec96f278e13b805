namespace DeepSharp.Bench.Workloads;

/// <summary>
/// One named benchmark figure. Higher is better, except names ending in <c>_us</c> (microseconds).
/// Names match the keys printed by ../shared/bench/peer_torch.py so results compare one to one.
/// </summary>
internal interface IWorkload
{
    string Name { get; }

    double Measure();
}

/// <summary>A workload given by a name and a measuring function.</summary>
internal sealed class Workload(string name, Func<double> measure) : IWorkload
{
    public string Name { get; } = name;

    public double Measure() => measure();
}
