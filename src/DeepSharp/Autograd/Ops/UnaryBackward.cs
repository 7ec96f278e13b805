namespace DeepSharp;

/// <summary>
/// Backward node for single-input elementwise functions whose derivative is a formula in the
/// input x and/or the output y. The op file states the formula right next to its forward.
/// </summary>
internal sealed class UnaryBackward : Node
{
    internal delegate Tensor Formula(Tensor g, Tensor? x, Tensor? y);

    private readonly string _name;
    private readonly Formula _formula;
    private readonly Saves _saves;

    public UnaryBackward(string name, Tensor x, Tensor y, Saves saves, Formula formula) : base(x)
    {
        _name = name;
        _formula = formula;
        _saves = saves;
        SaveForBackward((saves & Saves.Input) != 0 ? x : null, (saves & Saves.Output) != 0 ? y : null);
    }

    public override string Name => _name;

    protected internal override Tensor?[] Backward(Tensor g) =>
        [_formula(g, (_saves & Saves.Input) != 0 ? Saved(0) : null, (_saves & Saves.Output) != 0 ? Saved(1) : null)];
}

/// <summary>Which tensors a unary op's derivative formula reads: its input x, its output y, both or neither.</summary>
[Flags]
internal enum Saves
{
    None = 0,
    Input = 1,
    Output = 2,
}

public sealed partial class Tensor
{
    /// <summary>Attaches a <see cref="UnaryBackward"/> with the derivative <paramref name="formula"/> to <paramref name="result"/> when recording.</summary>
    private Tensor Record(Tensor result, string name, Saves saves, UnaryBackward.Formula formula)
    {
        if (Autograd.ShouldRecord(this))
            result.GradFn = new UnaryBackward(name, this, result, saves, formula);
        return result;
    }
}
