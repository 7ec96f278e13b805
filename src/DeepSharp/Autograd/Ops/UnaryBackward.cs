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
    private SavedTensor _x, _y;

    public UnaryBackward(string name, Tensor x, Tensor? y, bool saveInput, Formula formula) : base(x)
    {
        _name = name;
        _formula = formula;
        if (saveInput) _x = new SavedTensor(x);
        if (y is not null) _y = new SavedTensor(y);
    }

    public override string Name => _name;

    protected internal override Tensor?[] Backward(Tensor g) =>
        [_formula(g, _x.IsSet ? _x.Unpack(this) : null, _y.IsSet ? _y.Unpack(this) : null)];

    protected internal override void ReleaseSaved()
    {
        _x.Release();
        _y.Release();
    }
}

public sealed partial class Tensor
{
    /// <summary>Attaches a <see cref="UnaryBackward"/> to <paramref name="result"/> when recording.</summary>
    private Tensor Record(Tensor result, string name, bool saveInput, bool saveOutput, UnaryBackward.Formula formula)
    {
        if (Autograd.ShouldRecord(this))
            result.GradFn = new UnaryBackward(name, this, saveOutput ? result : null, saveInput, formula);
        return result;
    }
}
