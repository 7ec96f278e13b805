using System.Text;

namespace DeepSharp.NN;

/// <summary>What <see cref="Module.LoadStateDict"/> did not match: model keys absent from the state, and state keys the model does not have.</summary>
public sealed record LoadStateDictResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);

public abstract partial class Module
{
    /// <summary>
    /// The module's state with PyTorch's key names, in PyTorch's order: own parameters, then own
    /// persistent buffers, then each child's state under its name, recursively. Values share storage
    /// with the live tensors (detached), so copy them if the model keeps training.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var (key, tensor) in StateEntries()) state[key] = tensor.Detach();
        return state;
    }

    /// <summary>The live tensors behind the state dict (not detached), in state-dict order.</summary>
    private List<(string Key, Tensor Tensor)> StateEntries()
    {
        var entries = new List<(string, Tensor)>();
        Collect(this, "", entries);
        return entries;

        static void Collect(Module m, string prefix, List<(string, Tensor)> entries)
        {
            foreach (var (name, p) in m._parameters) entries.Add((prefix + name, p));
            foreach (var (name, b) in m._buffers)
                if (b.Persistent && b.Value is not null) entries.Add((prefix + name, b.Value));
            foreach (var (name, child) in m._modules) Collect(child, prefix + name + ".", entries);
        }
    }

    /// <summary>
    /// Copies <paramref name="state"/> into this module's parameters and buffers in place (the tensor
    /// objects stay the same, so optimizers keep working; values are converted to each tensor's dtype).
    /// Everything is checked before anything is copied: a shape mismatch, or with
    /// <paramref name="strict"/> a missing or unexpected key, throws and leaves the module unchanged.
    /// </summary>
    public LoadStateDictResult LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var commit = PrepareLoadStateDict(state, strict, out var result);
        commit();
        return result;
    }

    /// <summary>
    /// The checking half of <see cref="LoadStateDict"/>: throws on an invalid state and changes nothing;
    /// otherwise returns the action that copies it in (values already converted to each tensor's dtype,
    /// so the action cannot fail). Lets a checkpoint validate model, optimizer and scheduler before applying any.
    /// </summary>
    internal Action PrepareLoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict, out LoadStateDictResult result)
    {
        ArgumentNullException.ThrowIfNull(state);
        var entries = StateEntries();
        var expected = new HashSet<string>(entries.Select(e => e.Key), StringComparer.Ordinal);
        var missing = entries.Where(e => !state.ContainsKey(e.Key)).Select(e => e.Key).ToList();
        var unexpected = state.Keys.Where(k => !expected.Contains(k)).ToList();
        var errors = new List<string>();
        foreach (var (key, tensor) in entries)
        {
            if (!state.TryGetValue(key, out var value)) continue;
            if (value is null) errors.Add($"value for '{key}' is null");
            else if (value.Shape != tensor.Shape)
                errors.Add($"size mismatch for {key}: copying a tensor with shape {Shapes.Format(value.ShapeArray)} from the state dict, the shape in the current model is {Shapes.Format(tensor.ShapeArray)}");
        }
        if (strict && unexpected.Count > 0) errors.Insert(0, "Unexpected key(s) in state_dict: " + string.Join(", ", unexpected.Select(k => $"\"{k}\"")) + ".");
        if (strict && missing.Count > 0) errors.Insert(0, "Missing key(s) in state_dict: " + string.Join(", ", missing.Select(k => $"\"{k}\"")) + ".");
        if (errors.Count > 0)
        {
            var sb = new StringBuilder($"LoadStateDict: error(s) in loading state_dict for {TypeName}:");
            foreach (var e in errors) sb.Append("\n\t").Append(e);
            throw new ArgumentException(sb.ToString());
        }
        var copies = new List<(Tensor Target, Tensor Value)>(entries.Count);
        using (Autograd.NoGrad())
        {
            foreach (var (key, tensor) in entries)
                if (state.TryGetValue(key, out var value)) copies.Add((tensor, value.DType == tensor.DType ? value : value.Detach().To(tensor.DType)));
        }
        result = new LoadStateDictResult(missing, unexpected);
        return () =>
        {
            using (Autograd.NoGrad())
            {
                foreach (var (target, value) in copies) target.CopyFrom(value);
            }
        };
    }

    /// <summary>
    /// Converts every floating-point parameter and buffer to <paramref name="dtype"/> in place
    /// (Tensor.SetData), keeping the tensor objects, so references held by optimizers stay valid.
    /// Integer buffers (counters) are left alone, as PyTorch's module.to(dtype).
    /// </summary>
    public Module To(DType dtype)
    {
        if (!dtype.IsFloatingPoint()) throw new ArgumentException($"Module.To: only floating-point dtypes are allowed, got {dtype.Name()}");
        foreach (var p in Parameters().Concat(Buffers()))
        {
            if (!p.IsFloatingPoint || p.DType == dtype) continue;
            Tensor converted;
            using (Autograd.NoGrad()) converted = p.Detach().To(dtype);
            p.SetData(converted);
        }
        return this;
    }
}
