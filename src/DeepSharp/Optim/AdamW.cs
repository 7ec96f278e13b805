namespace DeepSharp.Optim;

/// <summary>Hyper-parameters of <see cref="AdamW"/>, with PyTorch's defaults (weight decay 1e-2).</summary>
public sealed record AdamWOptions(double Lr = 1e-3, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8,
    double WeightDecay = 1e-2, bool Amsgrad = false, bool Maximize = false) : OptimizerOptions(Lr)
{
    /// <inheritdoc/>
    public override IEnumerable<(string Name, double Value)> HyperParameters() => AdamShared.HyperParameters(this, Beta1, Beta2, Eps, WeightDecay, Amsgrad, Maximize);

    /// <inheritdoc/>
    public override OptimizerOptions FromHyperParameters(Func<string, double> value) =>
        new AdamWOptions(value("lr"), value("beta1"), value("beta2"), value("eps"), value("weight_decay"), value("amsgrad") != 0, value("maximize") != 0);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        AdamShared.Validate(this, Beta1, Beta2, Eps, WeightDecay);
    }

    /// <inheritdoc/>
    public override double? CycledMomentum => Beta1;

    /// <inheritdoc/>
    public override OptimizerOptions WithCycledMomentum(double momentum) => this with { Beta1 = momentum };
}

/// <summary>
/// AdamW (Loshchilov and Hutter): Adam with decoupled weight decay, p ← p·(1 − lr·wd) before the
/// Adam step, instead of adding wd·p to the gradient.
/// </summary>
public sealed class AdamW : Optimizer<AdamWOptions>
{
    /// <summary>One parameter group with <paramref name="options"/>, PyTorch's defaults when null (<c>torch.optim.AdamW(params)</c>).</summary>
    /// <exception cref="ArgumentException">The options are invalid or the parameter list is empty.</exception>
    public AdamW(IEnumerable<Tensor> parameters, AdamWOptions? options = null) : this([new ParamGroup(parameters, options ?? new AdamWOptions())]) { }

    /// <summary>Several parameter groups, each with its own options (PyTorch's list of param-group dicts).</summary>
    /// <exception cref="ArgumentException">A group's options are not AdamWOptions, a parameter appears twice, or there are no parameters.</exception>
    public AdamW(IEnumerable<ParamGroup> groups) : base("AdamW", groups, AdamShared.BufferNames, hasStepCount: true) { }

    /// <summary>
    /// nanoGPT's two parameter groups: weight decay <see cref="AdamWOptions.WeightDecay"/> for every parameter with two or
    /// more dims (linear and embedding weights), none for the rest (biases, norm weights); groups that would be empty are left out.
    /// </summary>
    public static IReadOnlyList<ParamGroup> WeightDecayGroups(IEnumerable<Tensor> parameters, AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        var all = parameters.ToList();
        var decay = all.Where(p => p.Rank >= 2).ToList();
        var noDecay = all.Where(p => p.Rank < 2).ToList();
        var groups = new List<ParamGroup>(2);
        if (decay.Count > 0) groups.Add(new ParamGroup(decay, options));
        if (noDecay.Count > 0) groups.Add(new ParamGroup(noDecay, options with { WeightDecay = 0 }));
        return groups;
    }

    /// <inheritdoc/>
    protected override void Update(ParamState state, Tensor param, Tensor grad, AdamWOptions o) =>
        AdamShared.Update(state, param, grad, Buffer(state, 0, param), Buffer(state, 1, param), o.Amsgrad ? Buffer(state, 2, param) : null,
            o.Lr, o.Beta1, o.Beta2, o.Eps, o.WeightDecay, decoupled: true, o.Amsgrad, o.Maximize);
}
