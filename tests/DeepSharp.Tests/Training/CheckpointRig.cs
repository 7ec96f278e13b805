using System.Globalization;
using System.Text;
using DeepSharp.Data;
using DeepSharp.NN;
using DeepSharp.Optim;
using DeepSharp.Serialization;
using DeepSharp.Training;

namespace DeepSharp.Tests.Training;

/// <summary>
/// A small model, an Adam optimizer with state, a step scheduler and two generators, trained a few
/// steps: everything a checkpoint restores, with a fingerprint of all of it to prove a failed load
/// changed nothing.
/// </summary>
internal sealed class CheckpointRig
{
    public CheckpointRig(ulong seed, int steps = 3)
    {
        var g = new Generator(seed);
        Model = new Sequential(new Linear(3, 4, generator: g), new Linear(4, 2, generator: g));
        Optimizer = new Adam(Model.Parameters(), new AdamOptions(Lr: 0.01));
        Scheduler = new StepLR(Optimizer, stepSize: 2, gamma: 0.5);
        Generators = [new Generator(seed + 1), new Generator(seed + 2)];
        for (int i = 0; i < steps; i++)
        {
            Optimizer.ZeroGrad();
            var x = Tensor.Randn([5, 3], g);
            Functional.MseLoss(Model.Forward(x), Tensor.Zeros([5, 2])).Backward();
            Optimizer.Step();
            Scheduler.Step();
        }
        _ = Tensor.Rand([steps + 1], Generators[0]);
    }

    public Sequential Model { get; }

    public Adam Optimizer { get; }

    public StepLR Scheduler { get; }

    public Generator[] Generators { get; }

    /// <summary>The bytes of a checkpoint of this rig (through <see cref="Checkpoint.Save"/>).</summary>
    public byte[] Save(int epoch = 2, long step = 7, DataLoaderState? loader = null)
    {
        string path = Path.Combine(Path.GetTempPath(), $"deepsharp-rig-{Guid.NewGuid():N}.safetensors");
        try
        {
            Checkpoint.Save(path, Model, Optimizer, Scheduler, Generators, new CheckpointProgress(epoch, step, loader ?? new DataLoaderState(1, 42, 3, 2)));
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Loads checkpoint bytes into this rig the way <see cref="Checkpoint.Load(string, Module, Optimizer?, LRScheduler?, IReadOnlyList{Generator})"/> does.</summary>
    public CheckpointProgress Load(byte[] file) =>
        Checkpoint.Load(SafeTensors.Load(file), "checkpoint rig", Model, Optimizer, Scheduler, Generators);

    /// <summary>Every value a checkpoint load may change, as text.</summary>
    public string Fingerprint()
    {
        var sb = new StringBuilder();
        void Add(string part, IReadOnlyDictionary<string, Tensor> state)
        {
            foreach (var key in state.Keys.Order(StringComparer.Ordinal))
            {
                var t = state[key];
                sb.Append(part).Append('.').Append(key).Append(' ').Append(t.DType).Append(Shapes.Format(t.Shape)).Append('=');
                foreach (double v in t.ToDoubleArray()) sb.Append(BitConverter.DoubleToInt64Bits(v).ToString("X", CultureInfo.InvariantCulture)).Append(',');
                sb.Append('\n');
            }
        }
        Add("model", Model.StateDict());
        Add("optimizer", Optimizer.StateDict());
        Add("scheduler", Scheduler.StateDict());
        foreach (var g in Generators) sb.Append(CultureInfo.InvariantCulture, $"generator {g.Seed}:{g.Offset}\n");
        foreach (var group in Optimizer.ParamGroups) sb.Append(CultureInfo.InvariantCulture, $"lr {group.Lr:R} {group.InitialLr:R}\n");
        return sb.ToString();
    }
}
