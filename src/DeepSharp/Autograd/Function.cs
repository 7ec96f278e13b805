namespace DeepSharp;

/// <summary>
/// A differentiable function written by the user (PyTorch's <c>torch.autograd.Function</c>): the forward
/// computation and its local chain rule side by side. <see cref="Apply"/> runs <see cref="Forward"/> without
/// recording the ops inside it and, when grad mode is on and an input requires grad, attaches the
/// <see cref="FunctionContext"/> to the output as its <see cref="Tensor.GradFn"/>, so Backward() calls
/// <see cref="Backward"/>. Library ops use the same machinery (<see cref="Node"/>: saved tensors declared with
/// SaveForBackward, checked against in-place changes and released after backward).
/// </summary>
/// <example>
/// <code>
/// // y = x * exp(x); dy/dx = exp(x) * (x + 1)
/// sealed class XExpX : Function
/// {
///     protected override Tensor Forward(FunctionContext ctx, ReadOnlySpan&lt;Tensor&gt; inputs)
///     {
///         var x = inputs[0];
///         var e = x.Exp();
///         ctx.SaveForBackward(x, e);
///         return x * e;
///     }
///
///     protected override Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput)
///     {
///         var x = ctx.Saved(0);
///         var e = ctx.Saved(1);
///         return [gradOutput * e * (x + 1)];
///     }
/// }
///
/// var y = new XExpX().Apply(x);
/// </code>
/// </example>
/// <remarks>
/// Values other than tensors that Backward needs (a bound, a dimension) belong in the function's own fields:
/// create one instance per call (<c>new Clamp(lo, hi).Apply(x)</c>); the context keeps the instance alive.
/// </remarks>
public abstract class Function
{
    /// <summary>The name of the recorded node, e.g. in <c>y.GradFn.Name</c>; defaults to the class name followed by "Backward".</summary>
    public virtual string Name => GetType().Name + "Backward";

    /// <summary>
    /// Computes the output from <paramref name="inputs"/> (grad mode is off inside, so the ops used here are not
    /// recorded). Save what Backward needs with <see cref="FunctionContext.SaveForBackward"/>.
    /// </summary>
    /// <param name="ctx">The context that becomes the output's GradFn.</param>
    /// <param name="inputs">The tensors passed to <see cref="Apply"/>, in order.</param>
    /// <returns>A new tensor (returning an input gives a view of it with its own history).</returns>
    protected abstract Tensor Forward(FunctionContext ctx, ReadOnlySpan<Tensor> inputs);

    /// <summary>
    /// Gradients with respect to each input given the gradient of the output: one entry per input, in order, each
    /// of the input's shape and dtype, or null for an input that needs no gradient (see
    /// <see cref="FunctionContext.NeedsInputGrad"/>).
    /// </summary>
    /// <param name="ctx">The context Forward saved its tensors in.</param>
    /// <param name="gradOutput">dL/d(output), of the output's shape.</param>
    protected abstract Tensor?[] Backward(FunctionContext ctx, Tensor gradOutput);

    /// <summary>
    /// Runs the function on <paramref name="inputs"/> and records it for backward when grad mode is on and
    /// any input requires grad.
    /// </summary>
    /// <param name="inputs">The input tensors (at least one).</param>
    /// <returns>The output of <see cref="Forward"/>, with this function as its GradFn when recorded.</returns>
    /// <exception cref="ArgumentException">No input, or a null input.</exception>
    /// <exception cref="InvalidOperationException">Forward returned null, or returned a tensor that is not
    /// floating point while a gradient is needed.</exception>
    public Tensor Apply(params ReadOnlySpan<Tensor> inputs)
    {
        if (inputs.Length == 0) throw new ArgumentException($"{Name}: Apply needs at least one input tensor");
        for (int i = 0; i < inputs.Length; i++)
            if (inputs[i] is null) throw new ArgumentException($"{Name}: input {i} is null");
        bool record = Autograd.ShouldRecord(inputs);
        var ctx = new FunctionContext(this, inputs, record);
        Tensor? output;
        using (Autograd.NoGrad()) output = Forward(ctx, inputs);
        if (output is null) throw new InvalidOperationException($"{Name}: Forward returned null; return the output tensor");
        if (!record) return output;
        if (!output.IsFloatingPoint)
            throw new InvalidOperationException($"{Name}: Forward returned a {output.DType.Name()} tensor, but only floating-point outputs can carry a gradient");
        // An output that already has an identity (an input, or a tensor with history) gets a view of its own.
        if (output.GradFn is not null || output.RequiresGrad || IsInput(output, inputs)) output = output.Detach();
        output.GradFn = ctx;
        return output;

        static bool IsInput(Tensor t, ReadOnlySpan<Tensor> inputs)
        {
            foreach (var x in inputs) if (ReferenceEquals(x, t)) return true;
            return false;
        }
    }

    internal Tensor?[] RunBackward(FunctionContext ctx, Tensor gradOutput) => Backward(ctx, gradOutput);
}

/// <summary>
/// What a <see cref="Function"/> keeps between its forward and backward: the tensors it saved and which inputs
/// need a gradient. It is the recorded <see cref="Node"/> itself (the output's GradFn).
/// </summary>
public sealed class FunctionContext : Node
{
    private readonly Function _function;
    private readonly int[][] _inputShapes;
    private readonly DType[] _inputTypes;

    internal FunctionContext(Function function, ReadOnlySpan<Tensor> inputs, bool record) : base(inputs.Length)
    {
        _function = function;
        _inputShapes = new int[inputs.Length][];
        _inputTypes = new DType[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            _inputShapes[i] = inputs[i].ShapeArray;
            _inputTypes[i] = inputs[i].DType;
            if (record) Next[i] = inputs[i].GradEdge();
        }
    }

    /// <summary>The function's <see cref="Function.Name"/>.</summary>
    public override string Name => _function.Name;

    /// <summary>How many inputs the function was applied to.</summary>
    public int InputCount => Next.Length;

    /// <summary>True when input <paramref name="index"/> needs a gradient; Backward may return null for the others.</summary>
    /// <param name="index">The input's position in the <see cref="Function.Apply"/> call.</param>
    public bool NeedsInputGrad(int index) => NeedsGrad(index);

    /// <summary>
    /// Saves tensors for Backward, read back with <see cref="Saved"/> in the same order. They are checked against
    /// in-place changes when read and released after backward unless retain-graph is set.
    /// </summary>
    /// <param name="tensors">The tensors to save (null leaves a slot empty).</param>
    public new void SaveForBackward(params ReadOnlySpan<Tensor?> tensors) => base.SaveForBackward(tensors);

    /// <summary>The tensor saved in slot <paramref name="index"/> (the order of <see cref="SaveForBackward"/>).</summary>
    /// <param name="index">The slot.</param>
    /// <exception cref="InvalidOperationException">The graph was already backwarded without retain-graph, the slot is
    /// empty, or the tensor was modified in place after it was saved.</exception>
    public new Tensor Saved(int index) => base.Saved(index);

    /// <summary>How many slots were saved.</summary>
    public int SavedTensorCount => SavedCount;

    /// <inheritdoc/>
    protected internal override Tensor?[] Backward(Tensor grad)
    {
        var grads = _function.RunBackward(this, grad)
            ?? throw new InvalidOperationException($"{Name}: Backward returned null; return an array with one gradient (or null) per input");
        if (grads.Length != Next.Length)
            throw new InvalidOperationException(
                $"{Name}: Backward returned {grads.Length} gradient(s) but the function was applied to {Next.Length} input(s); return one entry per input, null for inputs that need no gradient");
        for (int i = 0; i < grads.Length; i++)
        {
            if (grads[i] is not { } g) continue;
            if (!NeedsGrad(i)) { grads[i] = null; continue; }
            if (!g.ShapeArray.AsSpan().SequenceEqual(_inputShapes[i]) || g.DType != _inputTypes[i])
                throw new InvalidOperationException(
                    $"{Name}: Backward returned a gradient [{g.Describe()}] for input {i}, which has shape {Shapes.Format(_inputShapes[i])} and dtype {_inputTypes[i].Name()}; the gradient must match the input");
        }
        return grads;
    }
}
